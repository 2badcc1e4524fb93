#!/usr/bin/env bash
# Makes editors/screenshot.png: a stdlib module highlighted by the TextMate grammar, as VS Code
# shows it. Needs Node.js and Debian's chromium, a CJK font for the stdlib's Chinese comments, and
# pngquant to keep the picture small (apt-get install chromium fonts-wqy-zenhei pngquant);
# shiki is pinned by editors/screenshot/package-lock.json. CI does not run this.
#   editors/screenshot.sh [FILE.ports]
set -euo pipefail
cd "$(dirname "$0")/.."

file="${1:-stdlib/kubernetes.ports}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd editors/screenshot && npm ci --no-audit --no-fund --loglevel=error)
node editors/screenshot/render.mjs "$file" > "$work/page.html"

# The height follows the file: 18px a line, the title bar, and room for wrapped lines.
lines="$(wc -l < "$file")"
height=$((lines * 18 + 200))
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --hide-scrollbars --window-size="1100,$height" \
    --screenshot="$work/shot.png" "file://$work/page.html" 2>/dev/null
# 256 colours are plenty for text on one background, at a third of the size.
pngquant --quality=70-95 --speed 1 --force --output editors/screenshot.png "$work/shot.png"
echo "editors/screenshot.png: $file, $(wc -c < editors/screenshot.png) bytes"
