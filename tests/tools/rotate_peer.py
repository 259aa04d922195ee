#!/usr/bin/env python3
"""Connections that say who they are, for the rotate tests (test namespaces only).
  rotate_peer.py serve tcp|udp ADDR PORT SECONDS FILE
        append "ID PEER" to FILE for each message: a line "ID" on a TCP
        connection, or a datagram "ID"
  rotate_peer.py open tcp|udp DST PORT COUNT MSGS
        open COUNT connections (or UDP sockets: a conntrack flow each) at
        once, then send MSGS messages on each, round after round
  rotate_peer.py check FILE
        "messages M flows F addresses A switched S" and one line per peer
        address with its flow count; S counts flows seen from more than one
        address"""
import collections
import selectors
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve_tcp(addr, port, seconds, out):
    ls = socket.socket(family(addr))
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(256)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            if key.data is None:
                c, peer = ls.accept()
                sel.register(c, selectors.EVENT_READ, [peer[0], b""])
                continue
            c, state = key.fileobj, key.data
            data = c.recv(4096)
            if not data:
                sel.unregister(c)
                c.close()
                continue
            state[1] += data
            *lines, state[1] = state[1].split(b"\n")
            for line in lines:
                out.write("%s %s\n" % (line.decode(), state[0]))
            out.flush()


def serve_udp(addr, port, seconds, out):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            break
        out.write("%s %s\n" % (data.decode(), peer[0]))
        out.flush()


def open_many(proto, dst, port, count, msgs):
    socks = []
    for i in range(count):
        if proto == "tcp":
            s = socket.create_connection((dst, port), timeout=3)
        else:
            s = socket.socket(family(dst), socket.SOCK_DGRAM)
            s.connect((dst, port))
        socks.append(s)
    tag = "%s-%d" % (proto, time.monotonic_ns())
    for m in range(msgs):
        for i, s in enumerate(socks):
            s.send(("%s-%d" % (tag, i)).encode() + (b"\n" if proto == "tcp" else b""))
        time.sleep(0.02)
    time.sleep(0.2)
    for s in socks:
        s.close()


def check(path):
    peers = collections.defaultdict(set)
    messages = 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 2:
                continue
            messages += 1
            peers[parts[0]].add(parts[1])
    switched = sum(1 for p in peers.values() if len(p) > 1)
    per_addr = collections.Counter(a for p in peers.values() for a in p)
    print("messages %d flows %d addresses %d switched %d" %
          (messages, len(peers), len(per_addr), switched))
    for addr in sorted(per_addr):
        print("%s %d" % (addr, per_addr[addr]))


if __name__ == "__main__":
    a = sys.argv
    if len(a) == 7 and a[1] == "serve" and a[2] in ("tcp", "udp"):
        with open(a[6], "a") as out:
            (serve_tcp if a[2] == "tcp" else serve_udp)(a[3], int(a[4]), float(a[5]), out)
    elif len(a) == 7 and a[1] == "open" and a[2] in ("tcp", "udp"):
        open_many(a[2], a[3], int(a[4]), int(a[5]), int(a[6]))
    elif len(a) == 3 and a[1] == "check":
        check(a[2])
    else:
        sys.exit(__doc__)
