"""Probe helper for tests/netns.rs: listen for, or send, one TCP connection or UDP datagram.

listen tcp|udp PORT SECONDS   prints "ready", then "got" if a connection or datagram arrives
                              within SECONDS, else "none"
send tcp|udp ADDR PORT SECONDS  connects (tcp) or sends three datagrams (udp); exit 0 on
                              a completed TCP handshake or a sent datagram
"""
import socket
import sys
import time


def listen(proto, port, seconds):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    if proto == "tcp":
        s.listen(4)
    s.settimeout(seconds)
    print("ready", flush=True)
    try:
        if proto == "tcp":
            conn, _ = s.accept()
            conn.close()
        else:
            s.recvfrom(64)
        print("got", flush=True)
    except socket.timeout:
        print("none", flush=True)


def send(proto, addr, port, seconds):
    if proto == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(seconds)
        try:
            s.connect((addr, port))
        except OSError:
            sys.exit(1)
        s.close()
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(3):
            s.sendto(b"portc probe", (addr, port))
            time.sleep(0.05)


if __name__ == "__main__":
    mode, proto = sys.argv[1], sys.argv[2]
    if mode == "listen":
        listen(proto, int(sys.argv[3]), float(sys.argv[4]))
    else:
        send(proto, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
