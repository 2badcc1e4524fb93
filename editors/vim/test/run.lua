-- Headless test of the Vim syntax, run from the repository's root:
--   nvim --headless -u NONE -i NONE -n --cmd 'set rtp^=editors/vim' -c 'luafile editors/vim/test/run.lua'
--
-- 1. editors/vim/test/*.ports carry assertions under the lines they test, as comments:
--      role etcd
--      # <--- portsDeclaration       the first 4 columns
--      #    ^^^^ portsDeclName       the columns of the carets
--    Each assertion is one case; every column it covers must have that syntax group.
-- 2. Every file of stdlib/ and examples/ is one case: no text outside white space without a
--    syntax group, and no group named *Error or portsIllegal.
-- 3. The filetype is detected and the ftplugin sets the comment options.
-- Prints every failure, then `N passed, N failed`; exits 1 on any failure.

local passed, failed = 0, 0

local function check(ok, message)
  if ok then
    passed = passed + 1
  else
    failed = failed + 1
    io.write('FAIL ', message, '\n')
  end
end

local function group_at(lnum, byte_col)
  return vim.fn.synIDattr(vim.fn.synID(lnum, byte_col, 1), 'name')
end

local function open(path)
  vim.cmd('silent edit! ' .. vim.fn.fnameescape(path))
  vim.cmd('syntax sync fromstart')
end

-- The byte columns (1-based) of the characters from `first` to `last` (0-based character indices).
local function byte_cols(line, first, last)
  local cols = {}
  for i = first, last do
    cols[#cols + 1] = vim.str_byteindex(line, i) + 1
  end
  return cols
end

local function run_assertions(path)
  open(path)
  check(vim.bo.filetype == 'ports', path .. ': filetype is `' .. vim.bo.filetype .. '`, not `ports`')
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local target = nil -- the last line that is not an assertion
  for i, line in ipairs(lines) do
    local dashes, dash_group = line:match('^#%s*<(%-+)%s+(%S+)%s*$')
    local lead, carets, caret_group = line:match('^(#%s*)(%^+)%s+(%S+)%s*$')
    if dashes or carets then
      local first, last, group
      if dashes then
        first, last, group = 0, #dashes - 1, dash_group
      else
        first, last, group = #lead, #lead + #carets - 1, caret_group
      end
      local source = lines[target]
      local wrong = nil
      for _, col in ipairs(byte_cols(source, first, last)) do
        local actual = group_at(target, col)
        if actual ~= group then
          wrong = string.format('column %d is `%s`', col, actual)
          break
        end
      end
      check(wrong == nil, string.format('%s:%d: want %s: %s\n  %s', path, target, group, wrong or '', source))
    else
      target = i
    end
  end
end

local function run_whole_file(path)
  open(path)
  local problem = nil
  for lnum, line in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do
    for col = 1, #line do
      local byte = line:byte(col)
      -- The first byte of each character that is not white space (UTF-8 continuation bytes are 0x80-0xBF).
      if (byte < 0x80 or byte >= 0xC0) and not line:sub(col, col):match('^%s$') then
        local group = group_at(lnum, col)
        if group == '' or group:match('Error$') or group == 'portsIllegal' then
          problem = string.format('%s:%d:%d: group `%s` at `%s`', path, lnum, col, group, line:sub(col))
          break
        end
      end
    end
    if problem then
      break
    end
  end
  check(problem == nil, problem)
end

local function run_options()
  open('editors/vim/test/options.ports')
  check(vim.bo.commentstring == '# %s', 'commentstring is `' .. vim.bo.commentstring .. '`')
  check(vim.bo.comments == ':#', 'comments is `' .. vim.bo.comments .. '`')
end

local ok, err = pcall(function()
  vim.cmd('filetype plugin on')
  vim.cmd('syntax on')
  run_options()
  for _, path in ipairs(vim.fn.glob('editors/vim/test/*.ports', false, true)) do
    run_assertions(path)
  end
  local files = vim.fn.glob('stdlib/**/*.ports', false, true)
  vim.list_extend(files, vim.fn.glob('examples/*.ports', false, true))
  check(#files > 0, 'no stdlib or example files found: run from the repository root')
  for _, path in ipairs(files) do
    run_whole_file(path)
  end
end)
check(ok, 'the test script failed: ' .. tostring(err))

io.write(string.format('%d passed, %d failed\n', passed, failed))
io.flush()
vim.cmd(failed == 0 and 'qall!' or 'cquit! 1')
