// The client side of the extension: starts `portc lsp` (over standard input and output) for
// `.ports` files, so that VS Code shows portc's diagnostics, hover, definitions, references,
// rename, completion, outline, formatting and quick fixes. Highlighting needs none of this.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

async function activate(context) {
  const config = vscode.workspace.getConfiguration('ports.server');
  if (!config.get('enable', true)) {
    return;
  }
  const command = config.get('path', 'portc') || 'portc';
  const server = { command, args: ['lsp'] };
  client = new LanguageClient(
    'ports',
    'portc',
    { run: server, debug: server },
    { documentSelector: [{ scheme: 'file', language: 'ports' }, { scheme: 'untitled', language: 'ports' }] },
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('ports.server')) {
        vscode.window.showInformationMessage('Reload the window to restart portc lsp with the new settings.');
      }
    }),
  );
  try {
    await client.start();
  } catch (error) {
    // Highlighting still works; say why the rest does not.
    vscode.window.showWarningMessage(
      `portc lsp did not start (${error}): install portc or set "ports.server.path".`,
    );
    client = undefined;
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
