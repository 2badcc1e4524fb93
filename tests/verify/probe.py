"""Probe helper for tests/verify.rs, run inside a network namespace.

listen tcp|udp PORT SECONDS          prints "ready", then "got" if a connection or datagram
                                     arrives within SECONDS (IPv4 or IPv6), else "none"
send tcp|udp SRC SPORT DST DPORT SECONDS
                                     from SRC:SPORT, connects (tcp) or sends three datagrams (udp)
"""
import socket
import sys
import time


def listen(proto, port, seconds):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
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


def send(proto, src, sport, dst, dport, seconds):
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    if proto == "tcp":
        s.settimeout(seconds)
        try:
            s.connect((dst, dport))
        except OSError:
            sys.exit(1)
        s.close()
    else:
        for _ in range(3):
            s.sendto(b"portc verify probe", (dst, dport))
            time.sleep(0.05)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "listen":
        listen(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "send":
        a = sys.argv
        send(a[2], a[3], int(a[4]), a[5], int(a[6]), float(a[7]))
    else:
        sys.exit("unknown mode " + mode)
