#!/usr/bin/env python3
"""Answer times on the wire: from a request's first packet to its answer's first packet, per connection, read from a
loopback capture. Set against wrk's latency (which adds the client's own delays) and oscred's /metrics histogram
(which leaves out the wait for a worker), it tells where a tail is spent.

    tcpdump -i lo -s 120 -B 65536 -w cap.pcap 'tcp and (tcp[tcpflags] & tcp-push != 0)' &
    bench/run --quick --only show,aws-list      # note the port in "oscred (release build) serving on ..."
    kill %1; bench/wire_latency.py cap.pcap PORT

Requests are told apart by method (GET, POST ...); one request at a time per connection, as wrk sends them."""
import collections
import struct
import sys


def packets(path):
    """(time, source port, destination port, first payload bytes) of the IPv4 TCP packets of a pcap file."""
    with open(path, "rb") as f:
        if struct.unpack("<I", f.read(24)[:4])[0] != 0xA1B2C3D4:
            raise SystemExit("%s: not a little-endian microsecond pcap file" % path)
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, usec, incl, _ = struct.unpack("<IIII", h)
            d = f.read(incl)
            if len(d) < 34 or d[12:14] != b"\x08\x00":
                continue
            tcp = 14 + (d[14] & 15) * 4
            sport, dport = struct.unpack(">HH", d[tcp:tcp + 4])
            payload = tcp + (d[tcp + 12] >> 4) * 4
            yield sec + usec / 1e6, sport, dport, d[payload:payload + 8]


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: wire_latency.py CAPTURE.pcap SERVER_PORT")
    port = int(sys.argv[2])
    pending = {}
    times = collections.defaultdict(list)
    for t, sport, dport, head in packets(sys.argv[1]):
        if dport == port and head[:1].isalpha() and not head.startswith(b"HTTP/"):
            pending[sport] = (t, head.split(b" ", 1)[0].decode(errors="replace"))
        elif sport == port and head.startswith(b"HTTP/1.1") and dport in pending:
            t0, method = pending.pop(dport)
            times[method].append((t - t0) * 1000)
    for method, v in sorted(times.items()):
        v.sort()
        print("%-6s %8d answers  p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.1f ms" % (
            method, len(v), v[len(v) // 2], v[int(len(v) * 0.99)], v[int(len(v) * 0.999)], v[-1]))


if __name__ == "__main__":
    main()
