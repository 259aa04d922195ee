#!/usr/bin/env python3
"""UDP from chosen sources, for the count tests (test namespaces only).
  count_udp.py listen ADDR PORT SECONDS FILE  append each datagram's source
                                              address to FILE, a line each
  count_udp.py send SRC DST PORT COUNT        send COUNT datagrams from SRC
  count_udp.py got FILE SRC                   how many lines of FILE are SRC"""
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listen(addr, port, seconds, path):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    deadline = time.monotonic() + seconds
    with open(path, "a") as out:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                _, peer = s.recvfrom(2048)
            except socket.timeout:
                break
            out.write(peer[0] + "\n")
            out.flush()


def send(src, dst, port, count):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    s.bind((src, 0))
    for i in range(count):
        s.sendto(b"nfqt %d" % i, (dst, port))
    # Let the last ones land before the caller counts.
    time.sleep(0.3)


def got(path, src):
    try:
        with open(path) as f:
            print(sum(1 for line in f if line.strip() == src))
    except FileNotFoundError:
        print(0)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "listen" and len(sys.argv) == 6:
        listen(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif cmd == "send" and len(sys.argv) == 6:
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "got" and len(sys.argv) == 4:
        got(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
