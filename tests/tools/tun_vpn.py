#!/usr/bin/env python3
"""A VPN stand-in for the activity tests (test namespaces only).
  tun_vpn.py TUN OUTDEV SECONDS   attach to the tun device TUN (made by
                                  `ip tuntap add`) and send each packet read
                                  from it out of OUTDEV, as it is (raw IP,
                                  on-link), for SECONDS; replies come back
                                  by the routes of the namespace."""
import fcntl
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main(tun, outdev, seconds):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tun.encode(), IFF_TUN | IFF_NO_PI))
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    out.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    out.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, outdev.encode())
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        pkt = os.read(fd, 65535)
        if len(pkt) >= 20 and pkt[0] >> 4 == 4:
            out.sendto(pkt, (socket.inet_ntoa(pkt[16:20]), 0))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
