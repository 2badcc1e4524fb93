"""Probe helper for tests/netns.rs, run inside a network namespace.

listen tcp|udp PORT SECONDS        prints "ready", then "got" if a connection or datagram
                                   arrives within SECONDS (IPv4 or IPv6), else "none"
send tcp|udp ADDR PORT SECONDS     connects (tcp) or sends three datagrams (udp); exit 0 on
                                   a completed TCP handshake or a sent datagram
mld-query IFACE                    sends an MLD general query to ff02::1 on IFACE
join IFACE GROUP SECONDS           joins the IPv6 multicast GROUP on IFACE (the kernel sends an
                                   MLD report), holds it for SECONDS
"""
import socket
import struct
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


def send(proto, addr, port, seconds):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family, kind)
    if proto == "tcp":
        s.settimeout(seconds)
        try:
            s.connect((addr, port))
        except OSError:
            sys.exit(1)
        s.close()
    else:
        for _ in range(3):
            s.sendto(b"portc probe", (addr, port))
            time.sleep(0.05)


def mld_query(iface):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    index = socket.if_nametoindex(iface)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    # Type 130 (listener query), code 0, checksum (the kernel fills it in), max response delay
    # 1000 ms, reserved, the unspecified group: a general query.
    query = struct.pack("!BBHHH16s", 130, 0, 0, 1000, 0, bytes(16))
    for _ in range(3):
        s.sendto(query, ("ff02::1", 0, 0, index))
        time.sleep(0.05)


def join(iface, group, seconds):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    index = socket.if_nametoindex(iface)
    request = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, request)
    time.sleep(seconds)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "listen":
        listen(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "send":
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "mld-query":
        mld_query(sys.argv[2])
    elif mode == "join":
        join(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        sys.exit("unknown mode " + mode)
