#!/usr/bin/env python3
"""Keystroke-to-diagnostics round trips of `portc lsp`, the way an editor sees them.

Starts the release `portc lsp` over standard input and output, opens each example, then types:
each keystroke is one `textDocument/didChange` with the whole new text (the server asks for full
sync), and the round trip is the time until the `textDocument/publishDiagnostics` of that version
arrives. Every keystroke waits for its diagnostics, so the server never merges two changes.
Prints a Markdown table (median, 90th percentile, fastest) that docs/performance.md quotes.

    scripts/lsp-bench.py                      # builds portc in release first; 300 keystrokes
    PORTC_LSP_BENCH_KEYS=1000 scripts/lsp-bench.py examples/dce5-cilium-site.ports
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = int(os.environ.get("PORTC_LSP_BENCH_KEYS", "300"))
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


class Server:
    def __init__(self, portc, stdlib):
        self.process = subprocess.Popen(
            [portc, "lsp", "--stdlib-dir", stdlib], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.next_id = 0

    def send(self, message):
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def receive(self):
        length = None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit("portc lsp closed its output")
            line = line.strip()
            if not line:
                break
            name, value = line.split(b":", 1)
            if name.lower() == b"content-length":
                length = int(value)
        return json.loads(self.process.stdout.read(length))

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id:
                return message

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def diagnostics(self, uri, version):
        while True:
            message = self.receive()
            params = message.get("params") or {}
            if (
                message.get("method") == "textDocument/publishDiagnostics"
                and params.get("uri") == uri
                and params.get("version") == version
            ):
                return params["diagnostics"]

    def stop(self):
        self.request("shutdown", None)
        self.notify("exit", None)
        self.process.wait(10)


def keystrokes(text):
    """Typing a flow at the end of the file and deleting it again, a letter a time: most texts on
    the way have a syntax error or an unknown name, as while typing."""
    word = "\nnodes -> nodes : tcp 8443 \"typed\""
    texts = []
    while len(texts) < KEYS:
        for n in list(range(1, len(word) + 1)) + list(range(len(word) - 1, -1, -1)):
            texts.append(text + word[:n])
    return texts[:KEYS]


def bench(server, path):
    uri = "file://" + os.path.abspath(path)
    with open(path, encoding="utf-8") as file:
        text = file.read()
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "ports", "version": 1, "text": text}},
    )
    opened = server.diagnostics(uri, 1)
    times = []
    seen = set()
    for version, typed in enumerate(keystrokes(text), start=2):
        start = time.perf_counter()
        server.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": typed}]},
        )
        seen.update(d.get("code") for d in server.diagnostics(uri, version))
        times.append((time.perf_counter() - start) * 1000)
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    times.sort()
    return len(opened), sorted(c for c in seen if c), times


def main():
    paths = sys.argv[1:] or sorted(
        os.path.join("examples", name) for name in os.listdir(os.path.join(ROOT, "examples")) if name.endswith(".ports")
    )
    os.chdir(ROOT)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "portc"], check=True)
    portc = os.path.join(TARGET_DIR, "release", "portc")
    with tempfile.TemporaryDirectory() as stdlib:
        server = Server(portc, stdlib)
        server.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        server.notify("initialized", {})
        print(f"{KEYS} keystrokes per file, each a full-text didChange answered by publishDiagnostics.\n")
        print("| file | bytes | diagnostics on open | codes while typing | median ms | p90 ms | fastest ms |")
        print("|---|---:|---:|---|---:|---:|---:|")
        for path in paths:
            n_diagnostics, codes, times = bench(server, path)
            p90 = times[int(len(times) * 0.9)]
            size = os.path.getsize(path)
            print(
                f"| `{path}` | {size} | {n_diagnostics} | {' '.join(codes)} | {statistics.median(times):.2f} | {p90:.2f} | {times[0]:.2f} |"
            )
        server.stop()


if __name__ == "__main__":
    main()
