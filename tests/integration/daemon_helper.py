"""A temporary `execward daemon` for integration tests (test_daemon.py,
test_audit.py): its own folder, rules, socket and audit log.

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY, EW_DAEMON_LOAD.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

EXECWARD = os.environ.get("EXECWARD", "")
LIBRARY = os.environ.get("EXECWARD_LIBRARY", "")
DAEMON_LOAD = os.environ.get("EW_DAEMON_LOAD", "")
# Two reads of a running daemon's log this far apart that agree: settled
# (its tell socket is polled every 0.02 s).
SETTLE_S = 0.25

# Every audit record carries these (execward-audit(5), the README's "The
# audit log"): a reader may rely on each being there.
FIELDS = ("ts", "seq", "session", "pid", "ppid", "uid", "cwd", "via",
          "file", "argv", "decision", "source", "rules", "justification",
          "prompt", "latency_us")


class Daemon:
    """execward daemon on DIR/run/sock with DIR/rules, auditing to
    DIR/audit.jsonl (or audit=PATH)."""

    def __init__(self, rules_text="", opts=(), audit=None, dir=None,
                 preexec_fn=None, wrap=(), start=True):
        self.own_dir = dir is None
        self.dir = dir or tempfile.mkdtemp(prefix="ew-daemon-")
        self.rules = os.path.join(self.dir, "rules")
        os.makedirs(self.rules, exist_ok=True)
        self.write_rules(rules_text)
        self.sock = os.path.join(self.dir, "run", "sock")
        self.audit = audit or os.path.join(self.dir, "audit.jsonl")
        self.errpath = os.path.join(self.dir, "daemon.err")
        self.opts = list(opts)
        self.preexec_fn = preexec_fn
        self.wrap = list(wrap)
        self.pass_fds = ()
        self.proc = None
        self.env = dict(os.environ)
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        for k in ("EXECWARD_RULES", "LD_PRELOAD", "EXECWARD_SOCKET"):
            self.env.pop(k, None)
        if start:
            self.start()

    def write_rules(self, text, name="test.rules"):
        with open(os.path.join(self.rules, name), "w") as f:
            f.write(text)

    def argv(self):
        return self.wrap + [EXECWARD, "daemon", "--listen", self.sock,
                            "--rules", self.rules, "--audit",
                            self.audit] + self.opts

    def start(self, wait=True):
        self.started = self.stderr().count("listening on")
        self.err = open(self.errpath, "ab")
        self.proc = subprocess.Popen(self.argv(), env=self.env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.err, stderr=self.err,
                                     preexec_fn=self.preexec_fn,
                                     pass_fds=self.pass_fds)
        if wait:
            self.wait_socket()
        return self.proc

    def wait_socket(self, timeout=10):
        end = time.monotonic() + timeout
        # Its own socket: a stale file may be there before it binds.
        while self.stderr().count("listening on") == self.started:
            if self.proc.poll() is not None:
                raise AssertionError("daemon exited %d: %s" % (
                    self.proc.returncode, self.stderr()))
            if time.monotonic() > end:
                raise AssertionError("no socket: %s" % self.stderr())
            time.sleep(0.01)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.err.close()
        self.proc = None
        return rc

    def close(self):
        self.stop(signal.SIGKILL)
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def stderr(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def shim_env(self, **extra):
        env = dict(self.env)
        env["LD_PRELOAD"] = LIBRARY
        env["EXECWARD_SOCKET"] = self.sock
        env.update(extra)
        return env

    def sh(self, script, timeout=120, **kw):
        """sh -c SCRIPT with the shim asking this daemon."""
        return subprocess.run(["/bin/sh", "-c", script],
                              env=kw.pop("env", None) or self.shim_env(),
                              capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=self.dir, **kw)

    def load(self, threads, asks, deny_every=0, prefix="load"):
        """daemon_load against this daemon: its JSON line and exit code."""
        p = subprocess.run([DAEMON_LOAD, self.sock, str(threads),
                            str(asks), str(deny_every), prefix],
                           capture_output=True, timeout=300)
        return json.loads(p.stdout), p.returncode

    def lines(self, path=None):
        with open(path or self.audit, "rb") as f:
            return f.read().split(b"\n")

    def read_records(self, path=None):
        """Every record now in the log, each line checked whole and
        valid."""
        data = b"\n".join(self.lines(path))
        if data == b"":
            return []
        assert data.endswith(b"\n"), "the log ends inside a line"
        return [json.loads(line) for line in data.split(b"\n")[:-1]]

    def records(self, path=None, until=None, timeout=60):
        """Every record, once the log has settled. A running daemon
        writes a told start's record at its next poll of the tell socket
        (every 20 ms, proto/ew_snap.h), a moment after the start: with
        until, read until until(records) holds; without, until two reads
        SETTLE_S apart agree (a stopped daemon's log is read at once).
        Either way at most timeout seconds, then what is there."""
        recs = self.read_records(path)
        if self.proc is None or self.proc.poll() is not None:
            return recs
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until is not None and until(recs):
                return recs
            time.sleep(SETTLE_S)
            prev, recs = recs, self.read_records(path)
            if until is None and recs == prev:
                return recs
        return recs


def test_user(tag):
    """A system user made for this test with useradd (root only; the
    caller skips otherwise): (name, uid). Removed by remove_user."""
    import pwd
    import unittest
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root to make test users")
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    if not os.path.exists(useradd):
        raise unittest.SkipTest("useradd is not installed")
    name = "ewt-%s%d" % (tag, os.getpid())
    for attempt in range(50):
        try:
            return name, pwd.getpwnam(name).pw_uid
        except KeyError:
            pass
        # Another test may hold /etc/passwd's lock: try again.
        p = subprocess.run([useradd, "--system", "--no-create-home",
                            "--shell", "/usr/sbin/nologin", name],
                           capture_output=True)
        if p.returncode == 0:
            return name, pwd.getpwnam(name).pw_uid
        time.sleep(0.1 + attempt * 0.05)
    raise AssertionError("useradd %s: %s" % (name, p.stderr))


def remove_user(name):
    userdel = shutil.which("userdel") or "/usr/sbin/userdel"
    for attempt in range(50):
        p = subprocess.run([userdel, name], capture_output=True)
        if p.returncode in (0, 6):  # 6: no such user
            return
        time.sleep(0.1 + attempt * 0.05)


def as_user(uid, nofile=None):
    """preexec_fn: become uid (its own group), optionally with an fd
    limit (the soft one, up to the hard one)."""
    import pwd
    import resource
    try:
        gid = pwd.getpwuid(uid).pw_gid
    except KeyError:
        gid = uid

    def drop():
        if nofile is not None:
            # Within the hard limit: root may lack CAP_SYS_RESOURCE.
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            soft = nofile if hard == resource.RLIM_INFINITY else \
                min(nofile, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return drop


def fd_count(pid):
    """How many fds pid has open now (/proc/PID/fd)."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1
