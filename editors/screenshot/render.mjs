// Renders a .ports file to a standalone HTML page with the TextMate grammar of editors/vscode,
// highlighted by shiki (the same grammar engine as VS Code) in VS Code's Dark+ theme.
// Usage: node render.mjs FILE.ports > page.html
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHighlighter } from 'shiki';

const here = path.dirname(fileURLToPath(import.meta.url));
const grammarPath = path.join(here, '..', 'vscode', 'syntaxes', 'ports.tmLanguage.json');
const grammar = JSON.parse(fs.readFileSync(grammarPath, 'utf8'));

const file = process.argv[2];
if (!file) {
  console.error('usage: node render.mjs FILE.ports');
  process.exit(2);
}
const code = fs.readFileSync(file, 'utf8').replace(/\n$/, '');

const highlighter = await createHighlighter({ themes: ['dark-plus'], langs: [{ ...grammar, name: 'ports' }] });
const html = highlighter.codeToHtml(code, { lang: 'ports', theme: 'dark-plus' });
const title = path.relative(path.join(here, '..', '..'), path.resolve(file));

process.stdout.write(`<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title>
<style>
  body { margin: 0; background: #1e1e1e; }
  .title { font: 13px sans-serif; color: #cccccc; background: #2d2d2d; padding: 6px 12px; }
  pre.shiki { margin: 0; padding: 10px 12px; font: 13px/18px "DejaVu Sans Mono", "WenQuanYi Zen Hei Mono", monospace; white-space: pre-wrap; }
</style></head>
<body><div class="title">${title}</div>${html}</body></html>
`);
