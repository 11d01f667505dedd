#!/usr/bin/env python3
"""Run under `execward run`: misbehaving clients on the broker's socket
while well-behaved programs keep starting. Prints one JSON line: how many
programs ran and the slowest start, in seconds."""
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

path = os.environ["EXECWARD_SOCKET"]
held = []


def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


def silent():
    held.append(conn())


def half():
    # A header and the start of an ASK, then nothing more.
    s = conn()
    s.send(struct.pack(">III", 1, 1, 1))
    held.append(s)


def garbage():
    s = conn()
    sent = 0
    for i in range(10000):
        try:
            s.send(os.urandom(64))
            sent += 1
        except OSError:
            # The broker closed us after the first bad record: reconnect.
            s.close()
            s = conn()
    s.close()


def hold():
    for _ in range(1000):
        held.append(conn())


mode = sys.argv[1]
workers = []
for f in {"all": (silent, half, garbage, hold)}[mode]:
    t = threading.Thread(target=f)
    t.start()
    workers.append(t)

ran = 0
slowest = 0.0
for i in range(50):
    t0 = time.monotonic()
    p = subprocess.run(["/bin/true"])
    slowest = max(slowest, time.monotonic() - t0)
    ran += p.returncode == 0
for t in workers:
    t.join()
print(json.dumps({"ran": ran, "slowest": slowest, "held": len(held)}))
