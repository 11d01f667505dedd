#!/usr/bin/env python3
"""Integration tests for the audit log: `execward audit tail` and
`summary` against a committed log and its expected output, following a log
that the daemon rotates and someone truncates, and what happens when the
log cannot be written (a file size limit, a full file system).

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY, EW_DAEMON_LOAD,
EW_AUDIT_DATA (tests/data/audit).
"""
import fcntl
import json
import os
import pty
import re
import resource
import shutil
import subprocess
import struct
import sys
import termios
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helper import EXECWARD, FIELDS, Daemon  # noqa: E402


def told_unrecorded(stderr):
    """How many told starts ran without a record, by the broker's word."""
    return len(re.findall(r"started \S+ unrecorded \(told\)", stderr))

DATA = os.environ.get("EW_AUDIT_DATA", "")
SAMPLE = os.path.join(DATA, "sample.jsonl")


def audit(*args, env=None, timeout=60):
    e = dict(env or os.environ)
    if env is None:
        e.pop("COLUMNS", None)
    e["TZ"] = "UTC"
    p = subprocess.run([EXECWARD, "audit"] + list(args),
                       capture_output=True, timeout=timeout, env=e,
                       cwd=DATA, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def expected(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


class TestTailFixedLog(unittest.TestCase):

    def test_lines_for_people_match_the_committed_output(self):
        rc, out, err = audit("tail", "sample.jsonl")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, expected("sample.tail"))
        env = dict(os.environ, COLUMNS="80")
        rc, out, err = audit("tail", "sample.jsonl", env=env)
        self.assertEqual(out, expected("sample.tail-80"))
        for line in out.decode().splitlines():
            self.assertLessEqual(len(line), 80, line)
        rc, out, err = audit("tail", "--decision", "deny", "--decision",
                             "escalate", "--since", "2025-03-01T10:00:01Z",
                             "sample.jsonl")
        self.assertEqual(out, expected("sample.tail-filtered"))

    def test_colour_and_width_on_a_terminal_only(self):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", 24, 70, 0, 0))
        env = dict(os.environ, TERM="xterm")
        env.pop("NO_COLOR", None)
        env.pop("COLUMNS", None)
        p = subprocess.Popen([EXECWARD, "audit", "tail", "sample.jsonl"],
                             stdout=slave, stderr=slave, cwd=DATA, env=env)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(p.wait(30), 0)
        self.assertIn(b"\033[1;31mdeny", out)
        self.assertIn(b"\033[32mallow", out)
        plain = re.sub(rb"\033\[[0-9;]*m", b"", out).decode()
        lines = plain.replace("\r", "").splitlines()
        self.assertEqual(len(lines), 12)
        for line in lines:
            self.assertLessEqual(len(line), 70, line)
        # Piped, the same command has no colour at all.
        rc, out, _ = audit("tail", "sample.jsonl")
        self.assertNotIn(b"\033", out)

    def test_summary_matches_the_committed_output(self):
        rc, out, err = audit("summary", "sample.jsonl")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, expected("sample.summary"))

    def test_json_is_the_records_byte_for_byte(self):
        with open(SAMPLE, "rb") as f:
            raw = f.read().split(b"\n")
        good = []
        for line in raw:
            try:
                json.loads(line)
                good.append(line + b"\n")
            except ValueError:
                pass
        rc, out, err = audit("tail", "--json", "sample.jsonl")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"".join(good))
        # The three bad lines are said on stderr, not mixed into the JSON.
        self.assertEqual(err.count(b"\n"), 3, err)
        for where in (b"sample.jsonl:7: corrupt line",
                      b"sample.jsonl:8: corrupt line",
                      b"sample.jsonl:12: half-written line"):
            self.assertIn(where, err)
        rc, out, _ = audit("tail", "--json", "--decision", "deny",
                           "sample.jsonl")
        self.assertEqual(out, b"".join(
            x for x in good if json.loads(x).get("decision") == "deny"))

    def test_filters_by_pid_program_and_count(self):
        rc, out, _ = audit("tail", "--json", "--pid", "2011",
                           "sample.jsonl")
        self.assertEqual([json.loads(x)["argv"] for x in out.splitlines()],
                         [["rm", "-rf", "out"]])
        rc, out, _ = audit("tail", "--json", "--program", "sudo",
                           "sample.jsonl")
        self.assertEqual(len(out.splitlines()), 2)  # escalate and exit
        rc, out, _ = audit("tail", "--json", "--program", "/tmp/x/ls",
                           "sample.jsonl")
        self.assertEqual(len(out.splitlines()), 1)
        rc, out, _ = audit("tail", "--json", "-n", "2", "sample.jsonl")
        self.assertEqual([json.loads(x)["seq"] for x in out.splitlines()],
                         [2, 3])
        rc, out, _ = audit("tail", "--json", "--since", "2025-03-01 10:05",
                           "sample.jsonl")
        self.assertEqual(len(out.splitlines()), 3)

    def test_bad_arguments(self):
        for args in (["--decision", "maybe"], ["--since", "soon"],
                     ["--pid", "x"], ["-n", "-1"], ["--nope"]):
            rc, _, err = audit("tail", *args, "sample.jsonl")
            self.assertEqual(rc, 2, args)
        rc, _, err = audit("tail", "/nonexistent/audit.jsonl")
        self.assertEqual(rc, 1)
        self.assertIn(b"No such file", err)
        rc, _, _ = audit("frobnicate")
        self.assertEqual(rc, 2)


class TestFollow(unittest.TestCase):
    """tail -f while the daemon writes, rotates and someone truncates."""

    def test_follow_through_rotation_and_truncation_misses_nothing(self):
        d = Daemon('prefix_rule(pattern=["false"], decision="forbidden")\n',
                   opts=("--audit-max-bytes", "4096", "--audit-keep", "200",
                         "--audit-sync", "none"))
        tail = subprocess.Popen([EXECWARD, "audit", "tail", "-f", "--json",
                                 d.audit], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        got = []
        notes = []

        def reader():
            for line in tail.stdout:
                got.append(json.loads(line))

        def note_reader():
            for line in tail.stderr:
                notes.append(line)
        threads = [threading.Thread(target=reader),
                   threading.Thread(target=note_reader)]
        for t in threads:
            t.start()
        try:
            # tail -f shows what comes after it started: wait for that.
            self.assertEqual(d.sh("/bin/true ready").returncode, 0)
            self.wait_for(lambda: len(got) >= 1, got)
            res, rc = d.load(8, 60, 4, "first")
            self.assertEqual(rc, 0, res)
            self.wait_for(lambda: len(got) >= 481, got)
            # Someone empties the live log: tail starts it over.
            os.truncate(d.audit, 0)
            res, rc = d.load(8, 60, 4, "second")
            self.assertEqual(rc, 0, res)
            self.wait_for(lambda: len(got) >= 961, got)
            time.sleep(0.3)
        finally:
            tail.terminate()
            tail.wait(10)
            for t in threads:
                t.join(10)
            d.close()
        rotated = [n for n in notes if b"rotated" in n]
        self.assertGreater(len(rotated), 0, notes)
        self.assertFalse([n for n in notes if b"corrupt" in n], notes)
        self.assertTrue(any(b"truncated" in n for n in notes), notes)
        # Every record once, in the order written (one writer: seq).
        self.assertEqual([x["seq"] for x in got], list(range(1, 962)))
        ids = {x["argv"][1] for x in got}
        self.assertEqual(len(ids), 961)

    def wait_for(self, cond, got, timeout=60):
        end = time.monotonic() + timeout
        while not cond():
            self.assertLess(time.monotonic(), end, "tail saw %d" % len(got))
            time.sleep(0.05)


class TestWriteFailures(unittest.TestCase):
    """A record that cannot be written means deny; nothing is torn."""

    def check_log(self, d, path=None):
        recs = d.records(path)
        for r in recs:
            for key in FIELDS:
                self.assertIn(key, r)
        return recs

    def test_file_size_limit(self):
        limit = 4000

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (limit, resource.RLIM_INFINITY))
        d = Daemon(opts=("--audit-sync", "always"), preexec_fn=small_files)
        try:
            ran = 0
            for i in range(40):
                r = d.sh("/bin/true n%d" % i)
                if r.returncode != 0:
                    break
                ran += 1
            self.assertGreater(ran, 2)
            self.assertLess(ran, 40, "the limit never hit")
            self.assertEqual(r.returncode, 126)
            self.assertIn(b"audit log", r.stderr)
            self.assertIn(b"File too large", r.stderr)
            self.assertIn("audit log", d.stderr())
            # Denied again, and the log holds whole lines only.
            self.assertEqual(d.sh("/bin/true again").returncode, 126)
            self.assertLessEqual(os.path.getsize(d.audit), limit)
            recs = self.check_log(d)
            self.assertEqual(len(recs), ran)
            # Space returns: records resume.
            resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY,
                              resource.RLIM_INFINITY))
            r = d.sh("/bin/true after")
            self.assertEqual(r.returncode, 0, r.stderr)
            recs = self.check_log(d)
            self.assertEqual(recs[-1]["argv"], ["/bin/true", "after"])
            self.assertEqual(len(recs), ran + 1)
        finally:
            d.close()

    def test_full_file_system(self):
        if os.geteuid() != 0 or shutil.which("unshare") is None or \
                subprocess.run(["unshare", "-m", "true"]).returncode != 0:
            raise unittest.SkipTest("needs root and unshare -m for a "
                                    "private tmpfs")
        d = Daemon(start=False)
        logdir = os.path.join(d.dir, "logs")
        os.mkdir(logdir)
        d.audit = os.path.join(logdir, "audit.jsonl")
        # The daemon in its own mount namespace, its log on a 64 KiB
        # tmpfs; we see that file system through /proc/PID/root.
        d.wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                  'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"',
                  logdir]
        try:
            d.start()
            view = "/proc/%d/root%s" % (d.proc.pid, logdir)
            self.assertTrue(os.path.exists(os.path.join(view,
                                                        "audit.jsonl")))
            self.assertEqual(d.sh("/bin/true first").returncode, 0)
            # Its record is written at the broker's next poll of the tell
            # socket: there before the file system fills.
            d.records(os.path.join(view, "audit.jsonl"),
                      until=lambda rs: any(r.get("argv") == [
                          "/bin/true", "first"] for r in rs))
            # Fill the file system but for a few records' room.
            filler = os.path.join(view, "filler")
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:
                    os.write(fd, b"x" * 1024)
            except OSError:
                pass
            os.close(fd)
            os.truncate(filler, os.path.getsize(filler) - 1500)
            results = [d.sh("/bin/true fill%d" % i) for i in range(12)]
            codes = [r.returncode for r in results]
            self.assertIn(126, codes)
            self.assertEqual(codes[0], 0)
            denied = results[codes.index(126)]
            self.assertIn(b"No space left on device", denied.stderr)
            path = os.path.join(view, "audit.jsonl")
            recs = self.check_log(d, path)
            # Told starts (the policy snapshot) before the broker found
            # the file system full ran unrecorded, each said so: those
            # its poll of the tell socket read with the first failed
            # write. From then on nothing is told: every later start is
            # asked, and refused while the log cannot take its record.
            unrecorded = told_unrecorded(d.stderr())
            first = codes.index(126)
            self.assertEqual(set(codes[first:]), {126}, codes)
            self.assertLessEqual(unrecorded, first)
            self.assertEqual(len(recs) + unrecorded, 1 + codes.count(0))
            os.unlink(filler)
            r = d.sh("/bin/true after")
            self.assertEqual(r.returncode, 0, r.stderr)
            recs = self.check_log(d, path)
            self.assertEqual(recs[-1]["argv"], ["/bin/true", "after"])
        finally:
            d.close()


class TestOpenChecks(unittest.TestCase):
    """The log's path as an attacker would prepare it: a symbolic link in
    /tmp, a file another uid made writable for all."""

    def run_ew(self, audit, env):
        return subprocess.run([EXECWARD, "run", "--audit", audit, "--",
                               "/bin/true"], capture_output=True, env=env,
                              timeout=60, stdin=subprocess.DEVNULL)

    def setUp(self):
        self.d = Daemon(start=False)
        self.addCleanup(self.d.close)

    def test_a_symbolic_link_in_tmp_is_not_followed(self):
        victim = os.path.join(self.d.dir, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        # /tmp is sticky and everyone's: anyone may plant this link.
        link = "/tmp/ew-audit-link-%d.jsonl" % os.getpid()
        os.symlink(victim, link)
        self.addCleanup(os.unlink, link)
        p = self.run_ew(link, self.d.env)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"symbolic link", p.stderr)
        self.assertEqual(p.stderr.count(b"\n"), 1, p.stderr)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_a_file_of_another_uid_is_not_used(self):
        from daemon_helper import remove_user, test_user
        name, uid = test_user("o")
        self.addCleanup(remove_user, name)
        planted = "/tmp/ew-audit-planted-%d.jsonl" % os.getpid()
        with open(planted, "w") as f:
            f.write("")
        self.addCleanup(os.unlink, planted)
        os.chown(planted, uid, uid)
        os.chmod(planted, 0o666)
        p = self.run_ew(planted, self.d.env)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"belongs to uid %d" % uid, p.stderr)
        self.assertEqual(os.path.getsize(planted), 0)


class TestFlood(unittest.TestCase):
    """The log filled from inside, by huge records and by many: rotation
    deletes the oldest file but never unsaid; --audit-full deny stops
    every start instead, and says so."""

    def all_records(self, d, keep):
        """FILE.keep .. FILE.1, then FILE: every record, oldest first."""
        recs = []
        for k in range(keep, 0, -1):
            p = "%s.%d" % (d.audit, k)
            if os.path.exists(p):
                recs += d.records(p)
        return recs + d.records()

    def test_no_record_disappears_unsaid(self):
        d = Daemon(opts=("--audit-max-bytes", "64K", "--audit-keep", "2",
                         "--audit-sync", "none"))
        try:
            # Starts whose argv is bigger than a whole file (100 KB),
            # then 2,000 small ones from 4 clients at once.
            big = " ".join(["x" * 1000] * 100)
            r = d.sh("for i in 1 2 3 4 5 6; do /bin/true %s $i; done" % big)
            self.assertEqual(r.returncode, 0, r.stderr)
            res, rc = d.load(4, 500, 0, "flood")
            self.assertEqual(rc, 0, res)
            self.assertEqual(d.stop(), 0, d.stderr())
            recs = self.all_records(d, 2)
        finally:
            d.close()
        self.assertFalse(os.path.exists(d.audit + ".3"))
        seqs = [x["seq"] for x in recs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        dropped = [x for x in recs if x.get("type") == "dropped"]
        self.assertGreater(len(dropped), 0)
        # Each deletion follows the one before: no gap between them.
        for a, b in zip(dropped, dropped[1:]):
            self.assertEqual(a["last_seq"] + 1, b["first_seq"], (a, b))
            self.assertEqual(b["total"], a["total"] + b["records"])
        for x in dropped:
            self.assertEqual(x["records"],
                             x["last_seq"] - x["first_seq"] + 1, x)
            self.assertIn("rotation", x["reason"])
        # What is here starts right after what was said deleted, and the
        # two make every record ever written.
        newest = dropped[-1]
        self.assertEqual(newest["last_seq"] + 1, seqs[0])
        self.assertEqual(newest["total"] + len(recs), seqs[-1])
        # Each file starts with the record of what its making deleted.
        for k in (2, 1):
            first = d.records("%s.%d" % (d.audit, k))[0] \
                if os.path.exists("%s.%d" % (d.audit, k)) else None
            if first is not None and first["seq"] > dropped[0]["seq"]:
                self.assertEqual(first.get("type"), "dropped", first)
        # The small starts that are still here are all whole records.
        ids = [x["argv"][1] for x in recs if x.get("argv", [""])[0] ==
               "true"]
        self.assertEqual(len(ids), len(set(ids)))

    def test_a_full_log_fails_closed(self):
        d = Daemon(opts=("--audit-max-bytes", "16K", "--audit-keep", "1",
                         "--audit-full", "deny", "--audit-sync", "none"))
        try:
            r = d.sh("for i in $(seq 1 200); do /bin/true n$i; echo $?; "
                     "done")
            codes = [int(x) for x in r.stdout.split()]
            self.assertEqual(len(codes), 200, r.stderr)
            self.assertIn(126, codes, "the log never filled")
            first = codes.index(126)
            self.assertGreater(first, 10)
            # Once full, every start is denied.
            self.assertEqual(codes[first:], [126] * (200 - first))
            self.assertIn(b"the log is full", r.stderr)
            self.assertIn("--audit-full is deny", d.stderr())
            # Nothing is told (the policy snapshot) under --audit-full
            # deny: a told start runs before its record is written, so
            # one could run unrecorded once the log is full.
            unrecorded = told_unrecorded(d.stderr())
            self.assertEqual(unrecorded, 0, d.stderr())
            self.assertEqual(d.stop(), 0)
            recs = self.all_records(d, 1)
            sizes = [os.path.getsize(f) for f in (d.audit, d.audit + ".1")]
        finally:
            d.close()
        for size in sizes:
            self.assertLessEqual(size, 16 * 1024)
        # Nothing was deleted: the first record is still there.
        self.assertEqual(recs[0]["seq"], 1)
        self.assertFalse([x for x in recs if x.get("type") == "dropped"])
        ran = [x for x in recs if x["argv"][0] == "/bin/true"]
        self.assertEqual(len(ran) + unrecorded, first)
        self.assertFalse([x for x in recs if x.get("told")], recs[:3])
        self.assertEqual({x["decision"] for x in ran}, {"allow"})

    def test_a_full_log_is_told_to_the_mcp_client(self):
        d = Daemon(start=False)
        mcp = subprocess.Popen(
            [EXECWARD, "mcp", "--audit", d.audit, "--rules", d.rules,
             "--sandbox", "none", "--audit-max-bytes", "4K",
             "--audit-keep", "0", "--audit-full", "deny"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=d.env)

        def send(obj):
            mcp.stdin.write((json.dumps(obj) + "\n").encode())
            mcp.stdin.flush()

        import queue
        lines = queue.Queue()

        def reader():
            for line in mcp.stdout:
                lines.put(line)
            lines.put(None)
        t = threading.Thread(target=reader)
        t.start()

        def until(pred, timeout=120):
            seen = []
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                try:
                    line = lines.get(timeout=1)
                except queue.Empty:
                    continue
                self.assertIsNotNone(line, "execward mcp closed")
                msg = json.loads(line)
                seen.append(msg)
                if pred(msg):
                    return seen
            self.fail("no answer from execward mcp: %r" % seen)
        try:
            send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18",
                             "capabilities": {},
                             "clientInfo": {"name": "t", "version": "1"}}})
            until(lambda m: m.get("id") == 1)
            send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            send({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel",
                  "params": {"level": "info"}})
            until(lambda m: m.get("id") == 2)
            send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                  "params": {"name": "shell", "arguments": {
                      "command": "for i in $(seq 1 30); do /bin/true $i; "
                                 "done; echo done", "workdir": d.dir}}})
            seen = until(lambda m: m.get("id") == 3)
        finally:
            mcp.stdin.close()
            mcp.wait(60)
            t.join(60)
            mcp.stdout.close()
            d.close()
        told = [m["params"]["data"] for m in seen
                if m.get("method") == "notifications/message"]
        self.assertTrue([t for t in told if "the log is full" in t], seen)


if __name__ == "__main__":
    unittest.main(verbosity=2)
