#!/usr/bin/env python3
"""Knock helper for the tests, in a test namespace's loopback only.
  knock_sniff.py capture LO-HI COUNT SECONDS
      print each TCP/UDP packet arriving on lo for a destination port in LO-HI,
      as "frame milliseconds" (frame as nfq-knock prints it: udp:7000,
      tcp:9000:fa), until COUNT were seen or SECONDS passed. Prints "ready" to
      stderr once listening. An AF_PACKET socket: no tcpdump needed.
  knock_sniff.py derive KEYFILE t|c NAME N LO HI FRAMES udp|tcp
      the frames of derived sequence N, computed here from the construction in
      docs/knock.md (Python's hmac, independent of the C code).
  knock_sniff.py step SECONDS
      the current time step for a step of SECONDS."""
import hashlib
import hmac
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
LETTERS = "fsrpau"


def flags_str(flags):
    flags &= 0x3F
    if flags == 0x3F:
        return "x"
    if flags == 0:
        return "n"
    return "".join(LETTERS[i] for i in range(6) if flags & (1 << i))


def transport(frame):
    """(proto, dport, tcp flags) of an Ethernet frame on lo, or None."""
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800:
        proto, off = ip[9], (ip[0] & 0x0F) * 4
    elif ethertype == 0x86DD:
        proto, off = ip[6], 40  # the client sends no extension headers
    else:
        return None
    l4 = ip[off:]
    if proto == socket.IPPROTO_UDP and len(l4) >= 8:
        return "udp", struct.unpack("!H", l4[2:4])[0], 0
    if proto == socket.IPPROTO_TCP and len(l4) >= 14:
        return "tcp", struct.unpack("!H", l4[2:4])[0], l4[13]
    return None


def capture(ports, count, seconds):
    lo, hi = (int(x) for x in ports.split("-"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind(("lo", 0))
    print("ready", file=sys.stderr, flush=True)
    start = None
    deadline = time.monotonic() + seconds
    seen = 0
    while seen < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            break
        if addr[2] == PACKET_OUTGOING:  # lo shows each packet twice
            continue
        t = transport(data)
        if t is None or not lo <= t[1] <= hi:
            continue
        now = time.monotonic()
        start = start if start is not None else now
        frame = "%s:%d" % (t[0], t[1])
        if t[0] == "tcp":
            frame += ":" + flags_str(t[2])
        print("%s %d" % (frame, round((now - start) * 1000)), flush=True)
        seen += 1


def derive(keyfile, mode, name, n, lo, hi, frames, proto):
    with open(keyfile) as f:
        key = bytes.fromhex(f.read().strip())
    msg = b"nfq-trigger knock v1\0" + mode.encode() + name.encode() + b"\0"
    msg += struct.pack(">Q", n)
    out = b"".join(hmac.new(key, msg + bytes([j]), hashlib.sha256).digest()
                   for j in range(2))
    ports = [lo + struct.unpack(">I", out[4 * i:4 * i + 4])[0] % (hi - lo + 1)
             for i in range(frames)]
    suffix = ":s" if proto == "tcp" else ""
    print(" ".join("%s:%d%s" % (proto, p, suffix) for p in ports))


def main(argv):
    if len(argv) == 5 and argv[1] == "capture":
        capture(argv[2], int(argv[3]), float(argv[4]))
    elif len(argv) == 10 and argv[1] == "derive":
        derive(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]),
               int(argv[7]), int(argv[8]), argv[9])
    elif len(argv) == 3 and argv[1] == "step":
        print(int(time.time()) // int(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
