#!/usr/bin/env python3
"""spoof_knock.py DST COUNT PORT...: COUNT spoofed sources (10.77.x.y) each
send one UDP datagram to DST on each PORT in turn, a whole sequence per
source, through a raw socket (the kernel fills in the IPv4 header checksum;
UDP without a checksum). SPOOF_FIRST=n in the environment starts at the
n-th source (default 0). Prints the sources, one a line."""
import os
import socket
import struct
import sys


def udp_packet(src, dst, dport):
    payload = b"k"
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src),
                     socket.inet_aton(dst))
    return ip + udp


def main():
    dst, count, ports = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    first = int(os.environ.get("SPOOF_FIRST", "0"))
    for i in range(first, first + count):
        src = "10.77.%d.%d" % (i // 250, i % 250 + 1)
        for port in ports:
            s.sendto(udp_packet(src, dst, port), (dst, 0))
        print(src)


main()
