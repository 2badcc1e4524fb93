// Tokenizes .ports files with the TextMate grammar, the way VS Code does (vscode-textmate and
// vscode-oniguruma), and fails if any token has an `invalid` scope, or if any text other than
// white space is left with no scope but the grammar's own (so an empty grammar cannot pass).
// Usage: node no-invalid-scopes.js FILE...
// Prints one line per failing file, then `N passed, N failed`; exits 1 on any failure.
'use strict';

const fs = require('fs');
const path = require('path');
const oniguruma = require('vscode-oniguruma');
const textmate = require('vscode-textmate');

const GRAMMAR = path.join(__dirname, '..', 'vscode', 'syntaxes', 'ports.tmLanguage.json');

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async () => textmate.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR),
  });
  return registry.loadGrammar('source.ports');
}

// The `invalid` and unscoped tokens of one file, as `file:line:column: scope "text"`.
function invalidTokens(grammar, file) {
  const problems = [];
  let state = textmate.INITIAL;
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  lines.forEach((line, index) => {
    const result = grammar.tokenizeLine(line, state);
    for (const token of result.tokens) {
      const invalid = token.scopes.find((scope) => scope.startsWith('invalid'));
      const text = line.slice(token.startIndex, token.endIndex);
      if (invalid) {
        problems.push(`${file}:${index + 1}:${token.startIndex + 1}: ${invalid} ${JSON.stringify(text)}`);
      } else if (token.scopes.length === 1 && text.trim() !== '') {
        problems.push(`${file}:${index + 1}:${token.startIndex + 1}: no scope ${JSON.stringify(text)}`);
      }
    }
    state = result.ruleStack;
  });
  return problems;
}

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node no-invalid-scopes.js FILE...');
    process.exit(2);
  }
  const grammar = await loadGrammar();
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const problems = invalidTokens(grammar, file);
    if (problems.length === 0) {
      passed += 1;
    } else {
      failed += 1;
      problems.forEach((p) => console.log(p));
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
