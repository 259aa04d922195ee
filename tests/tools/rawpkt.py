#!/usr/bin/env python3
"""Hand-made IPv4 packets for the gateway tests (test namespaces only).
  rawpkt.py badudp SRC DST PORT        one UDP datagram whose length field
                                       claims more than the IP packet holds
  rawpkt.py sniff ADDR PORT SECONDS    count UDP packets to ADDR:PORT as IP
                                       receives them (malformed ones too)
  rawpkt.py burst DST N FRAMES...      N sources 10.72.128.1 and up, each
                                       sending FRAMES (udp:P, tcp:P as a SYN)
                                       back to back, no pause anywhere"""
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip_header(src, dst, proto, payload_len):
    # The kernel fills in the checksum of an IP_HDRINCL packet.
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000,
                       64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))


def udp(src, dst, sport, dport, data, claimed=None):
    length = claimed if claimed is not None else 8 + len(data)
    return ip_header(src, dst, socket.IPPROTO_UDP, 8 + len(data)) + \
        struct.pack("!HHHH", sport, dport, length, 0) + data


def tcp_syn(src, dst, sport, dport):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
    return ip_header(src, dst, socket.IPPROTO_TCP, len(hdr)) + hdr


def raw_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s


def badudp(src, dst, port):
    raw_socket().sendto(udp(src, dst, 40000, int(port), b"nfqt", 4000), (dst, 0))


def sniff(addr, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    deadline = time.monotonic() + float(seconds)
    want = socket.inet_aton(addr)
    count = 0
    print("listening", flush=True, file=sys.stderr)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            pkt = s.recv(65535)
        except socket.timeout:
            break
        ihl = (pkt[0] & 0x0f) * 4
        if pkt[16:20] == want and struct.unpack("!H", pkt[ihl + 2:ihl + 4])[0] == int(port):
            count += 1
            print(count, flush=True)


def burst(dst, n, *frames):
    s = raw_socket()
    out = []
    for i in range(int(n)):
        src = "10.72.%d.%d" % (128 + (i + 1) // 256, (i + 1) % 256)
        for f in frames:
            proto, port = f.split(":")
            if proto == "udp":
                out.append(udp(src, dst, 40000 + i % 20000, int(port), b"knock"))
            else:
                out.append(tcp_syn(src, dst, 40000 + i % 20000, int(port)))
    for p in out:
        s.sendto(p, (dst, 0))


if __name__ == "__main__":
    commands = {"badudp": (badudp, 3), "sniff": (sniff, 3), "burst": (burst, 3)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or \
            len(sys.argv) - 2 < commands[sys.argv[1]][1]:
        sys.exit(__doc__)
    commands[sys.argv[1]][0](*sys.argv[2:])
