#!/usr/bin/env python3
"""Verdict latency through a queue, loopback and test namespaces only.
  udp_latency.py ADDR PORT SECONDS INTERVAL_MS
Binds ADDR:PORT, sends a probe to it every INTERVAL_MS for SECONDS and
waits for each (1 s at most) before the next. Prints one line:
  sent N received N lost N p50_ms X p99_ms X max_ms X"""
import socket
import sys
import time


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    addr, port = sys.argv[1], int(sys.argv[2])
    seconds, interval = float(sys.argv[3]), float(sys.argv[4]) / 1000.0
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    r = socket.socket(fam, socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    r.bind((addr, port))
    s = socket.socket(fam, socket.SOCK_DGRAM)
    lat, lost, sent = [], 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        s.sendto(b"probe %d" % sent, (addr, port))
        sent += 1
        r.settimeout(1.0)
        try:
            while True:
                data = r.recv(2048)
                if data == b"probe %d" % (sent - 1):
                    break
            lat.append((time.monotonic() - t0) * 1000.0)
        except socket.timeout:
            lost += 1
        left = interval - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else -1.0

    print("sent %d received %d lost %d p50_ms %.1f p99_ms %.1f max_ms %.1f" %
          (sent, len(lat), lost, pct(0.50), pct(0.99), lat[-1] if lat else -1.0))


if __name__ == "__main__":
    main()
