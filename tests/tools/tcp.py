#!/usr/bin/env python3
"""TCP helper for the tests, loopback and test namespaces only.
  tcp.py serve ADDR PORT SECONDS       accept and close connections for SECONDS
  tcp.py probe ADDR PORT [SRC]         print "open" if a connect succeeds within 1 s,
                                       else "closed" (SRC: source address to bind)
  tcp.py syn ADDR PORT                 send one SYN by a non-blocking connect() and
                                       give up at once (a knock frame from a plain socket)"""
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(addr, port, seconds):
    s = socket.socket(family(addr))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(128)
    s.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            c, _ = s.accept()
            c.close()
        except socket.timeout:
            pass


def probe(addr, port, src=None):
    s = socket.socket(family(addr))
    s.settimeout(1.0)
    try:
        if src:
            s.bind((src, 0))
        s.connect((addr, port))
        print("open")
    except OSError:
        print("closed")


def syn(addr, port):
    s = socket.socket(family(addr))
    s.setblocking(False)
    try:
        s.connect((addr, port))
    except BlockingIOError:
        pass
    time.sleep(0.01)


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in ("serve", "probe", "syn"):
        sys.exit(__doc__)
    cmd, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "serve":
        serve(addr, port, float(sys.argv[4]))
    elif cmd == "probe":
        probe(addr, port, sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        syn(addr, port)
