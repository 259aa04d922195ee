#!/usr/bin/env python3
"""UDP helper for the tests, loopback and test namespaces only.
  udp.py listen ADDR PORT SECONDS   print how many datagrams arrived within SECONDS
  udp.py send ADDR PORT COUNT       send COUNT datagrams ("nfqt N")
  udp.py roundtrip ADDR PORT COUNT  bind ADDR:PORT, send COUNT datagrams to it and
                                    print how many arrived (waits 1 s after the last)
  udp.py sendfile ADDR PORT FILE [SRC]  send FILE's bytes as one datagram, from SRC
  udp.py flood ADDR PORT COUNT      send COUNT random datagrams of 1..200 bytes"""
import os
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listen(addr, port, seconds):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    print("listening", flush=True, file=sys.stderr)
    deadline = time.monotonic() + seconds
    count = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            s.recv(2048)
            count += 1
        except socket.timeout:
            break
    print(count)


def send(addr, port, count):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    for i in range(count):
        s.sendto(b"nfqt %d" % i, (addr, port))
        time.sleep(0.002)


def roundtrip(addr, port, count):
    """One process binds before it sends: no race with a slow start-up."""
    r = socket.socket(family(addr), socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    r.bind((addr, port))
    send(addr, port, count)
    got = 0
    r.settimeout(1.0)
    while got < count:
        try:
            r.recv(2048)
            got += 1
        except socket.timeout:
            break
    print(got)


def sendfile(addr, port, path, src=None):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    if src:
        s.bind((src, 0))
    with open(path, "rb") as f:
        s.sendto(f.read(), (addr, port))


def flood(addr, port, count):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    for _ in range(count):
        n = 1 + os.urandom(1)[0] % 200
        try:
            s.sendto(os.urandom(n), (addr, port))
        except OSError:
            time.sleep(0.001)


if __name__ == "__main__":
    if len(sys.argv) in (5, 6) and sys.argv[1] == "sendfile":
        sendfile(sys.argv[2], int(sys.argv[3]), sys.argv[4],
                 sys.argv[5] if len(sys.argv) == 6 else None)
        sys.exit(0)
    if len(sys.argv) == 5 and sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    commands = {"listen": listen, "send": send, "roundtrip": roundtrip}
    if len(sys.argv) != 5 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    addr, port, n = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    commands[sys.argv[1]](addr, port, n if sys.argv[1] == "listen" else int(n))
