#!/usr/bin/env python3
"""Integration tests for `execward daemon`: real shims and the daemon_load
client against a daemon on its own socket, from many processes at once.

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY, EW_DAEMON_LOAD.
"""
import collections
import json
import os
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helper import (DAEMON_LOAD, EXECWARD, FIELDS,  # noqa: E402
                           Daemon, as_user, fd_count, remove_user,
                           test_user)

FLOOD_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "flood_client.py")
# Clients run as other uids: a python3 they can run (not one in root's
# home, as pyenv's is).
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) \
    else sys.executable

FALSE_FORBIDDEN = ('prefix_rule(pattern=["false"], decision="forbidden", '
                   'justification="false is refused here")\n'
                   'prefix_rule(pattern=["rm"], decision="forbidden", '
                   'justification="no rm")\n')


class DaemonCase(unittest.TestCase):
    rules_text = FALSE_FORBIDDEN
    opts = ()

    def setUp(self):
        self.d = Daemon(self.rules_text, opts=self.opts)

    def tearDown(self):
        self.d.close()


class TestSocket(DaemonCase):

    def test_socket_0600_in_a_folder_of_its_own_removed_on_stop(self):
        st = os.stat(self.d.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        folder = os.path.dirname(self.d.sock)
        self.assertEqual(os.stat(folder).st_mode & 0o777, 0o700)
        self.assertEqual(self.d.stop(), 0)
        self.assertFalse(os.path.exists(self.d.sock))
        self.assertFalse(os.path.exists(folder))

    def test_a_folder_others_can_write_is_refused(self):
        p = subprocess.run([EXECWARD, "daemon", "--listen",
                            "/tmp/ew-test-%d.sock" % os.getpid(),
                            "--rules", self.d.rules, "--audit",
                            self.d.audit], capture_output=True,
                           env=self.d.env, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"nobody else can write", p.stderr)
        self.assertEqual(p.stderr.count(b"\n"), 1, p.stderr)

    def test_a_live_socket_is_kept_a_stale_one_replaced(self):
        p = subprocess.run(self.d.argv(), capture_output=True,
                           env=self.d.env, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"another broker is listening", p.stderr)
        # Killed outright, the daemon leaves its socket file behind.
        self.d.stop(signal.SIGKILL)
        self.assertTrue(os.path.exists(self.d.sock))
        self.d.start()
        r = self.d.sh("/bin/true")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_usage_errors(self):
        for args in (["--on-prompt", "ask"], ["--allow-uid", "nobody-x"],
                     ["--audit-sync", "often"], ["--audit-keep", "x"],
                     []):
            p = subprocess.run([EXECWARD, "daemon"] + args,
                               capture_output=True, timeout=30,
                               env=self.d.env)
            self.assertEqual(p.returncode, 2, args)


class TestDecisions(DaemonCase):

    def test_many_commands_one_record_each(self):
        script = ("for i in $(seq 1 40); do /bin/true t$i; done; "
                  "for i in $(seq 1 20); do /bin/echo e$i >/dev/null; done; "
                  "for i in $(seq 1 10); do /bin/rm -f r$i 2>/dev/null; "
                  "done; exit 0")
        r = self.d.sh(script)
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = self.d.records()
        # seq (once a loop), 40 true, 20 echo, 10 rm (denied).
        self.assertEqual(len(recs), 73, [x["argv"] for x in recs])
        for rec in recs:
            for key in FIELDS:
                self.assertIn(key, rec)
            for key in ("asked", "answer", "wait_ms"):
                self.assertIn(key, rec["prompt"])
        seen = collections.Counter(tuple(x["argv"]) for x in recs)
        for i in range(1, 41):
            self.assertEqual(seen[("/bin/true", "t%d" % i)], 1)
        for i in range(1, 11):
            self.assertEqual(seen[("/bin/rm", "-f", "r%d" % i)], 1)
        denied = [x for x in recs if x["decision"] == "deny"]
        self.assertEqual(len(denied), 10)
        self.assertTrue(all(x["justification"] == "no rm" for x in denied))
        self.assertEqual(len({x["seq"] for x in recs}), 73)
        # Who asked is what the kernel says: the shell's children.
        shell_pids = {x["ppid"] for x in recs if x["argv"][0] != "seq"}
        self.assertEqual(len(shell_pids), 1)

    def test_32_concurrent_clients_from_several_processes(self):
        procs = [subprocess.Popen([DAEMON_LOAD, self.d.sock, "8", "40", "3",
                                   "p%d" % i], stdout=subprocess.PIPE)
                 for i in range(4)]
        # Real shims at the same time: 4 shells, 25 programs each.
        shells = [subprocess.Popen(
            ["/bin/sh", "-c", "for i in $(seq 1 25); do /bin/true s%d-$i; "
             "done" % i], env=self.d.shim_env()) for i in range(4)]
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, out)
            results.append(json.loads(out))
        for s in shells:
            self.assertEqual(s.wait(timeout=300), 0)
        for res in results:
            self.assertEqual(res["wrong"], 0)
            self.assertEqual(res["lost"], 0)
            self.assertEqual(res["refused"], 0)
            self.assertEqual(res["allowed"] + res["denied"], 320)
        recs = self.d.records(until=lambda rs: len(
            [x for x in rs if x["argv"][0] == "/bin/true"]) >= 100)
        ids = collections.Counter(
            x["argv"][1] for x in recs if x["argv"][0] in ("true", "false"))
        self.assertEqual(len(ids), 4 * 8 * 40)
        self.assertEqual(set(ids.values()), {1})
        for x in recs:
            if x["argv"][0] == "false":
                self.assertEqual(x["decision"], "deny")
            elif x["argv"][0] == "true":
                self.assertEqual(x["decision"], "allow")
        shims = [x for x in recs if x["argv"][0] == "/bin/true"]
        self.assertEqual(len(shims), 100)

    def test_sighup_reloads_and_a_broken_file_keeps_the_old_rules(self):
        self.assertEqual(self.d.sh("/bin/true x").returncode, 0)
        self.d.write_rules('prefix_rule(pattern=["true"], '
                           'decision="forbidden")\n', "more.rules")
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "rules reloaded" in self.d.stderr())
        self.assertEqual(self.d.sh("/bin/true x").returncode, 126)
        # Broken: the old rules (true forbidden, rm forbidden) stay.
        self.d.write_rules('prefix_rule(pattern=["true"], decision=\n',
                           "more.rules")
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "previous rules stay" in self.d.stderr())
        self.assertIn("more.rules:", self.d.stderr())
        r = self.d.sh("/bin/true x; echo $?")
        self.assertEqual(r.stdout, b"126\n", r.stderr)
        self.assertIn(b"execward: denied: /bin/true x", r.stderr)
        self.assertEqual(self.d.proc.poll(), None)

    def wait_for(self, cond, timeout=10):
        end = time.monotonic() + timeout
        while not cond():
            self.assertLess(time.monotonic(), end, self.d.stderr())
            time.sleep(0.02)

    def test_sigterm_answers_what_is_pending(self):
        load = subprocess.Popen([DAEMON_LOAD, self.d.sock, "16", "400", "5",
                                 "term"], stdout=subprocess.PIPE)
        # Stop it while the clients are asking.
        self.wait_for(lambda: os.path.getsize(self.d.audit) > 20000)
        self.assertEqual(self.d.stop(), 0)
        out, _ = load.communicate(timeout=300)
        res = json.loads(out)
        # Every ask either got its answer or found no socket: none was
        # cut off, and every answer is in the log.
        self.assertEqual(res["lost"], 0, res)
        self.assertEqual(res["wrong"], 0, res)
        self.assertGreater(res["refused"], 0, res)
        answered = res["allowed"] + res["denied"]
        recs = [x for x in self.d.records() if x["argv"][0] in
                ("true", "false")]
        self.assertEqual(len(recs), answered)
        self.assertIn("stopping", self.d.stderr())


class TestPeers(DaemonCase):
    opts = ("--allow-uid", "65534")

    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to connect as other uids")
        super().setUp()
        # The allowed uid must reach the socket through the folders.
        os.chmod(self.d.dir, 0o711)

    def as_uid(self, uid, script):
        def drop():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(uid)
        return subprocess.run(["/bin/sh", "-c", script],
                              env=self.d.shim_env(), capture_output=True,
                              timeout=60, preexec_fn=drop, cwd="/")

    def test_only_allowed_uids_and_a_refusal_is_recorded(self):
        st = os.stat(self.d.sock)
        self.assertEqual(st.st_mode & 0o777, 0o666)
        # The tell socket stays ours alone: other uids' shims ask (the
        # snapshot is not theirs), so none of theirs may reach it.
        st = os.stat(self.d.sock + ".tell")
        self.assertEqual(st.st_mode & 0o777, 0o600)
        r = self.as_uid(65534, "python3 -c 'import socket, sys; "
                        "socket.socket(socket.AF_UNIX, "
                        "socket.SOCK_SEQPACKET).connect(sys.argv[1])' "
                        "%s.tell" % self.d.sock)
        self.assertIn(b"PermissionError", r.stderr, r.stderr)
        r = self.as_uid(65534, "/bin/true allowed-uid")
        if b"cannot open shared object" in r.stderr:
            raise unittest.SkipTest("the build is not readable by uid "
                                    "65534")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.as_uid(65533, "/bin/true other-uid")
        self.assertEqual(r.returncode, 126, r.stderr)
        # Answered deny and closed at once, unread: the shim shows the
        # answer when it came before the shim's own send, else says the
        # broker hung up. Either way nothing ran.
        self.assertTrue(b"uid 65533 may not use this broker" in r.stderr or
                        b"broker unreachable" in r.stderr or
                        b"broker closed the connection" in r.stderr,
                        r.stderr)
        self.assertEqual(self.d.stop(), 0)
        recs = self.d.records()
        ok = [x for x in recs if x.get("argv") == ["/bin/true",
                                                   "allowed-uid"]]
        bad = [x for x in recs if x["uid"] == 65533]
        self.assertEqual(len(ok), 1)
        self.assertEqual(ok[0]["uid"], 65534)
        self.assertEqual(ok[0]["decision"], "allow")
        # One refused record, counted; what it sent was never read.
        self.assertEqual(len(bad), 1, bad)
        self.assertEqual(bad[0]["type"], "refused")
        self.assertEqual(bad[0]["decision"], "deny")
        self.assertEqual(bad[0]["count"], 1)
        self.assertNotIn("argv", bad[0])
        self.assertIn("may not use", bad[0]["reason"])
        self.assertIn("refused pid", self.d.stderr())


def wait_line(pipe, want, timeout=120):
    """Wait for a line holding want on a child's pipe (bytes)."""
    end = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < end:
        ready, _, _ = select.select([pipe], [], [], 1)
        if ready:
            line = pipe.readline()
            if not line:
                break
            seen += line
            if want in line:
                return
    raise AssertionError("no %r within %d s: %r" % (want, timeout, seen))


class FdWatch:
    """The most fds a process held, sampled from /proc until stopped."""

    def __init__(self, pid):
        import threading
        self.pid, self.most = pid, fd_count(pid)
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        while not self.stop_ev.wait(0.002):
            self.most = max(self.most, fd_count(self.pid))

    def stop(self):
        self.stop_ev.set()
        self.t.join()
        return self.most


class TestStarvation(unittest.TestCase):
    """A uid the daemon refuses cannot starve a uid it serves: 20,000
    connections of the refused uid, held open, while the served uid asks
    1,000 times (and 1,000 more once they are all made). Every refused
    connection is answered deny and closed at once, unread; the daemon's
    fds stay bounded; the audit log counts the refusals exactly, in a few
    records."""

    FLOOD = 20000
    # The refused uid's connections come from this many processes (one
    # process may not have fds for 20,000).
    FLOODERS = 4
    THREADS, ASKS = 4, 250
    # broker/ew_broker_loop.c: connections taken per wake-up.
    ACCEPT_BATCH = 64

    def setUp(self):
        self.allowed, self.allowed_uid = test_user("a")
        self.addCleanup(remove_user, self.allowed)
        self.refused, self.refused_uid = test_user("r")
        self.addCleanup(remove_user, self.refused)
        self.d = Daemon(FALSE_FORBIDDEN, start=False,
                        opts=("--allow-uid", self.allowed))
        self.addCleanup(self.d.close)
        # The served uid must reach the socket through the folders.
        os.chmod(self.d.dir, 0o711)
        self.d.start()

    def asks(self, prefix):
        """THREADS x ASKS asks as the served uid: daemon_load's result."""
        env = dict(os.environ, EW_LOAD_CONNECT_MS="60000")
        p = subprocess.run([DAEMON_LOAD, self.d.sock, str(self.THREADS),
                            str(self.ASKS), "0", prefix],
                           preexec_fn=as_user(self.allowed_uid), env=env,
                           capture_output=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)

    def test_a_refused_flood_does_not_starve_a_served_uid(self):
        warm = self.d.sh("/bin/true warm-up")
        self.assertEqual(warm.returncode, 0, warm.stderr)
        pid = self.d.proc.pid
        base = fd_count(pid)
        t0 = time.monotonic()
        watch = FdWatch(pid)
        try:
            # Every 10th connection sends an ASK: it must not be read.
            per = self.FLOOD // self.FLOODERS
            floods = [subprocess.Popen(
                [PYTHON, FLOOD_CLIENT, self.d.sock, str(per), "10", "500",
                 "300"], preexec_fn=as_user(self.refused_uid, per + 200),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(self.FLOODERS)]
            for f in floods:
                wait_line(f.stderr, b"started")
            during = self.asks("during")
            res = collections.Counter()
            reasons = set()
            for f in floods:
                out, err = f.communicate(timeout=900)
                self.assertEqual(f.returncode, 0, err)
                one = json.loads(out)
                reasons |= set(one.pop("reasons"))
                res.update(one)
            after = self.asks("after")
        finally:
            most = watch.stop()
        self.assertEqual(self.d.stop(), 0, self.d.stderr())
        elapsed = time.monotonic() - t0
        sys.stderr.write(
            "\n  %d refused connections, %d answered deny, in %.1f s; "
            "served asks during: median %d us, p99 %d us, max %d us; "
            "daemon fds %d at rest, %d at most\n" % (
                res["connected"], res["answered"], elapsed,
                during["p50_us"], during["p99_us"], during["max_us"], base,
                most))

        for r in (during, after):
            self.assertEqual((r["allowed"], r["denied"], r["wrong"],
                              r["lost"], r["refused"]),
                             (self.THREADS * self.ASKS, 0, 0, 0, 0), r)
        # Each refused connection was made, then ended by the daemon at
        # once: answered deny (or closed) without a byte of it read.
        self.assertEqual(res["connected"], self.FLOOD, res)
        self.assertEqual(res["failed"], 0, res)
        self.assertEqual(res["open"], 0, res)
        self.assertEqual(res["answered"] + res["closed"], self.FLOOD, res)
        for why in reasons:
            self.assertIn("may not use this broker", why)
        # The daemon's fds: its own, the served uid's asks in flight and
        # the one refused connection being answered, never the flood's.
        # An allowed ask's connection stays open after its answer until
        # the start's hang-up (or FAILED) is read, and while the flood
        # keeps the listener busy a served thread may finish several asks
        # within one accept batch (EW_BROKER_ACCEPT_BATCH, 64) before the
        # loop reads their hang-ups: at most a batch of those.
        self.assertLessEqual(most, base + self.ACCEPT_BATCH + self.THREADS + 8,
                             "fds went from %d to %d" % (base, most))
        recs = self.d.records()
        refused = [x for x in recs if x["uid"] == self.refused_uid]
        for x in refused:
            self.assertEqual(x["type"], "refused", x)
        self.assertEqual(sum(x["count"] for x in refused), self.FLOOD)
        # Rate-limited: one at once, then one per 10 s, and the last
        # count when the daemon stops.
        self.assertLessEqual(len(refused), 3 + int(elapsed / 10), refused)
        served = [x for x in recs if x["uid"] == self.allowed_uid]
        self.assertEqual(len(served), 2 * self.THREADS * self.ASKS)
        self.assertEqual({x["decision"] for x in served}, {"allow"})


class TestConnectionCaps(unittest.TestCase):
    """A served uid that holds connections it asks nothing on is held to
    its share of the fds, and each is dropped after the deadline; the
    other uid served keeps its own share."""

    def setUp(self):
        import resource
        self.user, self.uid = test_user("c")
        self.addCleanup(remove_user, self.user)
        # 128 fds: 64 for connections, 32 for each of the two uids.
        self.d = Daemon(FALSE_FORBIDDEN, start=False,
                        opts=("--allow-uid", self.user),
                        preexec_fn=lambda: resource.setrlimit(
                            resource.RLIMIT_NOFILE, (128, 128)))
        self.addCleanup(self.d.close)
        os.chmod(self.d.dir, 0o711)
        self.d.start()

    def test_a_uid_at_its_share_does_not_block_another(self):
        # The user keeps 100 silent connections open for 8 s, making a
        # new one for each the daemon ends.
        hold = subprocess.Popen(
            [PYTHON, FLOOD_CLIENT, self.d.sock, "100", "0", "100",
             "60", "8"], preexec_fn=as_user(self.uid),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_line(hold.stderr, b"started")
        env = dict(os.environ, EW_LOAD_CONNECT_MS="60000")
        p = subprocess.run([DAEMON_LOAD, self.d.sock, "2", "100", "0",
                            "own"], env=env, capture_output=True,
                           timeout=300)
        out, err = hold.communicate(timeout=300)
        self.assertEqual(hold.returncode, 0, err)
        res = json.loads(out)
        ours = json.loads(p.stdout)
        self.assertEqual((ours["allowed"], ours["denied"], ours["lost"],
                          ours["refused"]), (200, 0, 0, 0), ours)
        # Over its share: answered at once; within it: dropped silent.
        self.assertGreater(res["answered"], 0, res)
        self.assertGreater(res["closed"], 0, res)
        self.assertEqual(res["open"], 0, res)
        self.assertEqual(res["answered"] + res["closed"], res["connected"])
        for why in res["reasons"]:
            self.assertIn("has too many connections open", why)
        self.assertEqual(self.d.stop(), 0, self.d.stderr())
        recs = [x for x in self.d.records() if x["uid"] == self.uid]
        cap = [x for x in recs if "too many" in x["reason"]]
        silent = [x for x in recs if "no question" in x["reason"]]
        self.assertEqual(len(cap) + len(silent), len(recs), recs)
        self.assertEqual(sum(x["count"] for x in cap), res["answered"])
        self.assertEqual(sum(x["count"] for x in silent), res["closed"])


class TestDeadline(DaemonCase):
    """A connection that sends no question is closed after the deadline
    and counted; one whose question came while the daemon was held up
    (stopped here, as valgrind or a loaded machine would) is answered."""

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(60)
        s.connect(self.d.sock)
        return s

    def wait_fds(self, want):
        end = time.monotonic() + 60
        while fd_count(self.d.proc.pid) != want:
            self.assertLess(time.monotonic(), end, "the daemon did not "
                            "accept")
            time.sleep(0.01)

    def test_silent_dropped_late_question_answered(self):
        from flood_client import ask, answer_reason
        base = fd_count(self.d.proc.pid)
        silent = self.connect()
        late = self.connect()
        # Both accepted (their deadlines run) before the daemon stops.
        self.wait_fds(base + 2)
        self.d.proc.send_signal(signal.SIGSTOP)
        try:
            late.send(ask(1))
            time.sleep(4)  # past the 3 s deadline: both timers are due
        finally:
            self.d.proc.send_signal(signal.SIGCONT)
        msg = late.recv(65536)
        self.assertIsNone(answer_reason(msg), "denied: %r" % msg)
        self.assertEqual(struct.unpack(">III", msg[:12]), (1, 2, 1),
                         "not an allow ANSWER: %r" % msg)
        self.assertEqual(silent.recv(65536), b"", "still open")
        self.assertEqual(self.d.stop(), 0)
        recs = self.d.records()
        self.assertEqual([x["argv"] for x in recs if "argv" in x],
                         [["true", "flood-1"]])
        gone = [x for x in recs if x.get("type") == "refused"]
        self.assertEqual(len(gone), 1, recs)
        self.assertEqual(gone[0]["count"], 1)
        self.assertIn("sent no question in time", gone[0]["reason"])


class TestClientStates(DaemonCase):
    """The broker's client state machine (broker/core/ew_broker_loop.c):
    each state permits a few messages, and anything else, or anything at
    all where nothing is permitted, closes the connection."""

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(60)
        s.connect(self.d.sock)
        return s

    @staticmethod
    def small(kind, value):
        # FAILED (9) or SIGNAL (5): the header and one u32.
        return struct.pack(">III", 1, kind, value)

    def closed(self, s):
        """Read until the broker closes s; the messages it sent first."""
        got = []
        while True:
            m = s.recv(65536)
            if m == b"":
                return got
            got.append(m)

    def test_first_message_must_be_a_question(self):
        from flood_client import answer_reason
        for kind in (9, 5, 3, 6):  # FAILED, SIGNAL, HEARTBEAT, EXIT
            s = self.connect()
            s.send(self.small(kind, 1))
            got = self.closed(s)
            self.assertEqual(len(got), 1, "kind %d: %r" % (kind, got))
            self.assertEqual(answer_reason(got[0]),
                             "protocol error (parse): unexpected message "
                             "type", "kind %d" % kind)
            s.close()
        self.assertEqual(self.d.stop(), 0)
        self.assertEqual(self.d.records(), [])

    def test_after_an_allow_only_a_failed_is_taken(self):
        from flood_client import ask, answer_reason
        # A second question, or a SIGNAL, where the broker waits for how
        # the start went: closed, nothing recorded beyond the allow.
        for extra in (ask(2), self.small(5, 15)):
            s = self.connect()
            s.send(ask(1))
            msg = s.recv(65536)
            self.assertIsNone(answer_reason(msg), "denied: %r" % msg)
            s.send(extra)
            self.assertEqual(self.closed(s), [])
            s.close()
        # The one message it permits: recorded as the failed start.
        s = self.connect()
        s.send(ask(3))
        s.recv(65536)
        s.send(self.small(9, 8))  # ENOEXEC
        self.assertEqual(self.closed(s), [])
        s.close()
        self.assertEqual(self.d.stop(), 0)
        recs = self.d.records()
        self.assertEqual([x.get("type", x.get("decision")) for x in recs],
                         ["allow", "allow", "allow", "failed"], recs)
        self.assertEqual(recs[3]["errno"], 8)
        self.assertEqual(recs[3]["of"], recs[2]["seq"])

    def test_a_helper_without_escalation_is_refused_and_recorded(self):
        from flood_client import answer_reason, cstring
        s = self.connect()
        token = "0" * 32
        # ESCALATE (4): the token and an environment, no fds with it.
        s.send(struct.pack(">II", 1, 4) + cstring(token) +
               struct.pack(">I", 1) + cstring("A=1"))
        got = self.closed(s)
        self.assertEqual(len(got), 1, got)
        self.assertIn("escalat", answer_reason(got[0]) or "")
        s.close()
        self.assertEqual(self.d.stop(), 0)
        recs = self.d.records()
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["decision"], "deny")
        self.assertEqual(recs[0]["via"], "execward-escalate")


class TestSocketActivation(unittest.TestCase):

    def test_listen_fds(self):
        d = Daemon(FALSE_FORBIDDEN, start=False)
        try:
            os.mkdir(os.path.dirname(d.sock), 0o700)
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ls.bind(d.sock)
            ls.listen(16)

            def to_fd3():
                os.dup2(ls.fileno(), 3)
                os.set_inheritable(3, True)
            d.wrap = ["/bin/sh", "-c",
                      'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh"]
            d.preexec_fn = to_fd3
            d.pass_fds = (3,)
            d.start(wait=False)
            ls.close()
            time.sleep(0.3)
            r = d.sh("/bin/true activated; /bin/false; echo $?")
            self.assertEqual(r.stdout, b"126\n", r.stderr.decode() + d.stderr())
            self.assertIn("socket activation", d.stderr())
            self.assertEqual(d.stop(), 0)
            # systemd's socket is not ours to remove.
            self.assertTrue(os.path.exists(d.sock))
            recs = d.records()
            self.assertEqual([x["decision"] for x in recs],
                             ["allow", "deny"])
        finally:
            d.close()


class TestMcpListen(unittest.TestCase):
    """execward mcp --listen: outside shims, prompts through MCP."""

    def test_outside_shims_and_an_elicitation(self):
        d = Daemon('prefix_rule(pattern=["false"], decision="forbidden")\n',
                   start=False)
        mcp = subprocess.Popen(
            [EXECWARD, "mcp", "--rules", d.rules, "--audit", d.audit,
             "--sandbox", "none", "--listen", d.sock],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(d.errpath, "wb"), env=d.env)

        def send(obj):
            mcp.stdin.write((json.dumps(obj) + "\n").encode())
            mcp.stdin.flush()

        def receive():
            ready, _, _ = select.select([mcp.stdout], [], [], 30)
            self.assertTrue(ready, "no message from execward mcp: " +
                            d.stderr())
            return json.loads(mcp.stdout.readline())
        try:
            send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18",
                             "capabilities": {"elicitation": {}},
                             "clientInfo": {"name": "t", "version": "1"}}})
            self.assertEqual(receive()["id"], 1)
            send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            end = time.monotonic() + 10
            while not os.path.exists(d.sock):
                self.assertLess(time.monotonic(), end, d.stderr())
                time.sleep(0.02)
            self.assertEqual(os.stat(d.sock).st_mode & 0o777, 0o600)
            # rm -rf asks (heuristics): the question goes to the client.
            sh = subprocess.Popen(
                ["/bin/sh", "-c", "/bin/false; /bin/rm -rf %s/gone; "
                 "echo rm=$?" % d.dir], env=d.shim_env(),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            while True:
                msg = receive()
                if msg.get("method") == "elicitation/create":
                    break
            self.assertIn("rm -rf", msg["params"]["message"])
            send({"jsonrpc": "2.0", "id": msg["id"],
                  "result": {"action": "accept", "content": {}}})
            out, err = sh.communicate(timeout=60)
            self.assertEqual(out, b"rm=0\n", err)
            self.assertIn(b"execward: denied: /bin/false", err)
        finally:
            mcp.stdin.close()
            rc = mcp.wait(30)
            mcp.stdout.close()
            self.addCleanup(d.close)
        self.assertEqual(rc, 0, d.stderr())
        recs = d.records()
        self.assertEqual([(x["argv"][0], x["decision"], x["source"])
                          for x in recs],
                         [("/bin/false", "deny", "rule"),
                          ("/bin/rm", "allow", "user")])
        self.assertTrue(recs[1]["prompt"]["asked"])
        self.assertFalse(os.path.exists(d.sock))


class TestBubblewrap(DaemonCase):
    """The README's agent sandbox: bwrap with the socket bound in."""

    def test_sandbox_against_the_daemon(self):
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise unittest.SkipTest("bubblewrap is not installed")
        run = os.path.dirname(self.d.sock)
        lib = os.environ["EXECWARD_LIBRARY"]
        # /run as a tmpfs, so the socket's folder can be bound into it.
        argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev",
                "--proc", "/proc", "--tmpfs", "/run",
                "--bind", run, "/run/execward",
                "--unshare-pid", "--unshare-net", "--die-with-parent",
                "--setenv", "LD_PRELOAD", lib,
                "--setenv", "EXECWARD_SOCKET", "/run/execward/sock",
                "/bin/sh", "-c",
                "/bin/true in-sandbox; /bin/rm -f /nothing; echo rm=$?"]
        p = subprocess.run(argv, capture_output=True, timeout=60,
                           env=self.d.env)
        if p.returncode != 0 and b"bwrap:" in p.stderr:
            raise unittest.SkipTest("bwrap cannot run here: %s" %
                                    p.stderr.decode(errors="replace"))
        self.assertEqual(p.stdout, b"rm=126\n", p.stderr)
        recs = self.d.records()
        self.assertEqual([x["decision"] for x in recs], ["allow", "deny"])
        # The pids are the daemon's view (SO_PEERCRED), not the
        # sandbox's own pid namespace (where the shell is pid 1 or 2).
        self.assertEqual(recs[0]["ppid"], recs[1]["ppid"])
        for x in recs:
            self.assertGreater(x["ppid"], 2, x)
            self.assertNotEqual(x["pid"], x["ppid"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
