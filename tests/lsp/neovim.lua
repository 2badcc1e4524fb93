-- Neovim's own LSP client (0.7 and later: start_client and buf_attach_client) against
-- `portc lsp`: open a site file, wait for its diagnostics, then ask for hover, definition,
-- completion and rename the way the editor's commands do, and apply what comes back.
-- tests/lsp_neovim.rs runs it headless and checks the JSON it writes to $PORTC_OUT.
local portc = os.getenv('PORTC_BIN')
local site = os.getenv('PORTC_SITE')
local stdlib = os.getenv('PORTC_STDLIB')
local out = os.getenv('PORTC_OUT')
local report = { log = {} }

local function log(line)
  table.insert(report.log, line)
end

local function finish()
  local file = io.open(out, 'w')
  file:write(vim.fn.json_encode(report))
  file:close()
  vim.cmd('qall!')
end

-- The position of the first match of a pattern, as the protocol counts (0-based).
local function at(pattern)
  vim.fn.cursor(1, 1)
  local pos = vim.fn.searchpos(pattern, 'cW')
  assert(pos[1] > 0, 'no ' .. pattern .. ' in the site')
  return { line = pos[1] - 1, character = pos[2] - 1 }
end

local function main()
  vim.cmd('edit ' .. vim.fn.fnameescape(site))
  local buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({
    name = 'portc',
    cmd = { portc, 'lsp', '--stdlib-dir', stdlib },
    root_dir = vim.fn.fnamemodify(site, ':h'),
    handlers = {
      ['textDocument/publishDiagnostics'] = function(err, result, ctx, config)
        if result.uri == vim.uri_from_bufnr(buf) then
          report.diagnostics = result.diagnostics
        end
        vim.lsp.diagnostic.on_publish_diagnostics(err, result, ctx, config)
      end,
    },
  })
  assert(id, 'the client did not start')
  assert(vim.lsp.buf_attach_client(buf, id), 'the client did not attach')
  assert(vim.wait(30000, function() return report.diagnostics ~= nil end, 10), 'no diagnostics within 30 s')
  for _, d in ipairs(report.diagnostics) do
    log(string.format('diagnostic %d:%d %s %s', d.range.start.line + 1, d.range.start.character + 1, d.code, d.message))
  end
  local client = vim.lsp.get_client_by_id(id)
  local uri = vim.uri_from_bufnr(buf)
  local function ask(method, pattern, extra)
    local params = vim.tbl_extend('force', { textDocument = { uri = uri }, position = at(pattern) }, extra or {})
    local answer = client.request_sync(method, params, 10000, buf)
    assert(answer, method .. ' timed out')
    assert(not answer.err, method .. ' failed: ' .. vim.inspect(answer.err))
    return answer.result
  end

  report.hover = ask('textDocument/hover', 'etcd_client_port')
  log('hover on etcd_client_port:')
  for _, line in ipairs(vim.split(report.hover.contents.value, '\n')) do
    log('  ' .. line)
  end

  -- Go to definition, as `vim.lsp.buf.definition()` does: jump into the stdlib module.
  report.definition = ask('textDocument/definition', 'controlplane')
  local location = report.definition.uri and report.definition or report.definition[1]
  vim.lsp.util.jump_to_location(location, client.offset_encoding)
  report.jumped = {
    file = vim.api.nvim_buf_get_name(0),
    line = vim.api.nvim_get_current_line(),
    permissions = vim.fn.getfperm(vim.api.nvim_buf_get_name(0)),
  }
  log(string.format('definition of controlplane: jumped to %s:%d: %s', report.jumped.file, vim.fn.line('.'), report.jumped.line))
  vim.cmd('buffer ' .. buf)

  local completion = ask('textDocument/completion', 'tcp 22', {})
  local items = completion.items or completion
  report.completion = {}
  for _, item in ipairs(items) do
    table.insert(report.completion, item.label)
  end
  log('completion at `tcp 22`: ' .. table.concat(report.completion, ' '))

  -- Rename, as `vim.lsp.buf.rename('operators')` does: apply the edit to the buffer.
  local edit = ask('textDocument/rename', 'admins', { newName = 'operators' })
  vim.lsp.util.apply_workspace_edit(edit, client.offset_encoding)
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  report.renamed = {}
  for _, line in ipairs(lines) do
    if line:find('operators', 1, true) then
      table.insert(report.renamed, line)
    end
  end
  log('rename admins -> operators, lines now:')
  for _, line in ipairs(report.renamed) do
    log('  ' .. line)
  end
  client.stop()
end

local ok, err = pcall(main)
if not ok then
  report.error = tostring(err)
end
finish()
