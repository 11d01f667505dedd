#!/usr/bin/env python3
"""A client that floods a broker's socket: N connections, each held open,
every K-th one with an ASK sent on it (0: none). Run as a uid the broker
refuses (test_daemon.py) it shows that the broker closes each one unread.

Writes "started" on stderr after its first START connections, then, when
all N are made, one JSON line on stdout: connected, failed (connect
errors), and for the held connections how each ended within WAIT seconds:
answered (a deny ANSWER came first; its reasons counted), closed (end of
file, nothing sent), open (still open: the broker holds it).

With SUSTAIN seconds, it keeps N connections open that long, making a
new one for each that ends (so the broker sees a uid always at its
limit); "made" counts them all.

usage: flood_client.py SOCKET N [K] [START] [WAIT] [SUSTAIN]
"""
import collections
import json
import os
import select
import socket
import struct
import sys
import time

ASK, ANSWER, VERSION = 1, 2, 1


def cstring(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b


def ask(i):
    """An ASK as the shim sends it (proto/ew_proto.c): true ID."""
    argv = ["true", "flood-%d" % i]
    return (struct.pack(">II", VERSION, ASK) +
            struct.pack(">III", 1, os.getpid(), os.getppid()) +
            cstring("/") + cstring("/bin/true") + cstring("/bin/true") +
            struct.pack(">I", len(argv)) + b"".join(map(cstring, argv)))


def answer_reason(msg):
    """The reason of a deny ANSWER, or None if msg is not one."""
    if len(msg) < 16:
        return None
    version, kind, verdict, n = struct.unpack(">IIII", msg[:16])
    if version != VERSION or kind != ANSWER or verdict != 2:
        return None
    return msg[16:16 + n].decode(errors="replace")


class Flood:
    def __init__(self, path, every):
        self.path, self.every = path, every
        self.made = self.failed = 0
        self.pending = {}
        self.poller = select.poll()
        self.ended = collections.Counter()
        self.reasons = collections.Counter()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # A blocking connect waits while the backlog is full (Python's
        # own timeouts would make it non-blocking: EAGAIN at once);
        # SO_SNDTIMEO bounds the wait, generously for a loaded machine.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                     struct.pack("ll", 120, 0))
        try:
            s.connect(self.path)
        except OSError:
            self.failed += 1
            s.close()
            return
        if self.every and self.made % self.every == 0:
            try:
                s.send(ask(self.made))
            except OSError:
                pass  # closed already: that is the point
        self.made += 1
        self.pending[s.fileno()] = s
        self.poller.register(s.fileno(), select.POLLIN | select.POLLHUP)

    def reap(self, timeout_ms):
        """Classify the connections that ended; how many did."""
        n = 0
        for fd, _ in self.poller.poll(timeout_ms):
            s = self.pending.pop(fd)
            self.poller.unregister(fd)
            try:
                msg = s.recv(65536)
            except OSError:
                msg = b""
            why = answer_reason(msg)
            if why is not None:
                self.ended["answered"] += 1
                self.reasons[why] += 1
            else:
                self.ended["closed"] += 1
            s.close()
            n += 1
        return n


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    every = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    start = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    wait = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    sustain = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    f = Flood(path, every)
    said = False
    for i in range(n):
        f.connect()
        if not said and f.made >= start:
            sys.stderr.write("started\n")
            sys.stderr.flush()
            said = True
    if not said:
        sys.stderr.write("started\n")
        sys.stderr.flush()
    end = time.monotonic() + sustain
    while time.monotonic() < end:
        for _ in range(f.reap(100)):
            f.connect()
    # How did each end? Read what came (never more than one message).
    end = time.monotonic() + wait
    while f.pending and time.monotonic() < end:
        f.reap(1000)
    print(json.dumps({"connected": f.made, "failed": f.failed,
                      "answered": f.ended["answered"],
                      "closed": f.ended["closed"],
                      "open": len(f.pending),
                      "reasons": dict(f.reasons)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
