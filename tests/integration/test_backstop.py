#!/usr/bin/env python3
"""The kernel backstop (broker/backstop/): the starts the shim never sees
(a static busybox, Go's os/exec, raw execve and execveat system calls,
ctypes on libc's own handle, a dlmopen'd libc, the i386 system call) are
decided by the same policy and recorded, once; what the shim asked about
is not recorded again; a dead broker fails them closed.

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY, EW_RAWEXEC
(tests/helpers/ew_rawexec.c).
"""
import collections
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_helper  # noqa: E402
import sandbox_helper  # noqa: E402

EXECWARD = os.environ.get("EXECWARD", "")
RAWEXEC = os.environ.get("EW_RAWEXEC", "")
PYTHON = "/usr/bin/python3"

# A Go program that runs each argument (a command line, split on blanks)
# with os/exec: raw clone and execve system calls, never libc's.
GO_SOURCE = r'''package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

func main() {
	for _, a := range os.Args[1:] {
		f := strings.Fields(a)
		cmd := exec.Command(f[0], f[1:]...)
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Printf("%s: %v\n", f[0], err)
		} else {
			fmt.Printf("%s: ok\n", f[0])
		}
	}
}
'''

DENY_ID = ('prefix_rule(pattern=["id"], decision="forbidden", '
           'justification="no id here")\n')


def which(name):
    path = shutil.which(name)
    if path is None:
        raise unittest.SkipTest("%s is not installed" % name)
    return path


_go_program = {}


def go_program():
    """The Go program, built once (static, offline, in a temp folder)."""
    if "path" not in _go_program:
        go = which("go")
        d = tempfile.mkdtemp(prefix="ew-go-")
        import atexit
        atexit.register(shutil.rmtree, d, True)
        with open(os.path.join(d, "main.go"), "w") as f:
            f.write(GO_SOURCE)
        with open(os.path.join(d, "go.mod"), "w") as f:
            f.write("module goexec\n\ngo 1.19\n")
        env = dict(os.environ, GOCACHE=os.path.join(d, "cache"),
                   GOPATH=os.path.join(d, "gopath"), GOFLAGS="-mod=mod",
                   CGO_ENABLED="0", GOPROXY="off", GOTOOLCHAIN="local",
                   HOME=d)
        env.pop("LD_PRELOAD", None)
        out = os.path.join(d, "goexec")
        p = subprocess.run([go, "build", "-o", out, "."], cwd=d, env=env,
                           capture_output=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError("go build: %s" % p.stderr.decode())
        _go_program["path"] = out
    return _go_program["path"]


def read(path):
    with open(path) as f:
        return f.read()


def kernel_execs(path):
    """The programs whose execve/execveat returned 0, in order, from an
    `strace -f` log (as tests/integration/test_run.py reads it)."""
    pending = {}
    done = []
    call = re.compile(r'^(\d+)\s+(execve|execveat)\((?:(\w+|\d+), )?"([^"]*)"')
    resumed = re.compile(r'^(\d+)\s+<\.\.\. (execve|execveat) resumed>.*'
                         r'= (-?\d+)')
    result = re.compile(r'\) = (-?\d+)')
    with open(path) as f:
        for line in f:
            m = call.match(line)
            if m:
                pid, path_ = m.group(1), m.group(4)
                if line.rstrip().endswith("<unfinished ...>"):
                    pending[pid] = path_
                    continue
                r = result.search(line)
                if r and r.group(1) == "0":
                    done.append(path_)
                continue
            m = resumed.match(line)
            if m:
                path_ = pending.pop(m.group(1), None)
                if path_ is not None and m.group(3) == "0":
                    done.append(path_)
    return done


class Case(unittest.TestCase):
    rules_text = DENY_ID

    def setUp(self):
        if not EXECWARD or not RAWEXEC:
            self.skipTest("EXECWARD and EW_RAWEXEC not set")
        self.dir = tempfile.mkdtemp(prefix="ew-backstop-")
        self.audit = os.path.join(self.dir, "audit.jsonl")
        self.rules = os.path.join(self.dir, "rules")
        os.mkdir(self.rules, 0o755)
        with open(os.path.join(self.rules, "test.rules"), "w") as f:
            f.write(self.rules_text)
        self.env = dict(os.environ)
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        for k in ("EXECWARD_RULES", "LD_PRELOAD", "EXECWARD_SOCKET",
                  "EXECWARD_RANGE", "EXECWARD_QUIET"):
            self.env.pop(k, None)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def argv(self, cmd, opts=(), audit=None):
        return [EXECWARD, "run", "--rules", self.rules, "--audit",
                audit or self.audit, "--on-prompt", "deny"] + \
            list(opts) + ["--"] + list(cmd)

    def run_ew(self, cmd, opts=(), env=None, timeout=120):
        p = subprocess.run(self.argv(cmd, opts), env=env or self.env,
                           cwd=self.dir, capture_output=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")

    def records(self, path=None):
        out = []
        path = path or self.audit
        if not os.path.exists(path):
            return out
        with open(path, "rb") as f:
            for line in f:
                self.assertTrue(line.endswith(b"\n"), line)
                out.append(json.loads(line))
        return out

    def find(self, base, recs=None):
        recs = self.records() if recs is None else recs
        return [r for r in recs if "type" not in r and
                os.path.basename(r["file"]) == base]

    def assert_caught(self, base, decision, via="kernel:execve", recs=None):
        """Exactly one record of base, seen by the kernel, decided so."""
        got = self.find(base, recs)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["via"], via, got[0])
        self.assertEqual(got[0]["decision"], decision, got[0])
        return got[0]


class TestCaught(Case):
    """Each way past the shim is decided, recorded and obeys a deny."""

    def test_static_busybox(self):
        bb = which("busybox")
        script = ("/usr/bin/id; echo id=$?; /usr/bin/true; echo true=$?; "
                  "git --version >/dev/null; echo git=$?")
        rc, out, err = self.run_ew([bb, "sh", "-c", script])
        self.assertEqual(rc, 0, err)
        self.assertIn("id=126", out)
        self.assertIn("true=0", out)
        self.assertIn("git=0", out)
        r = self.assert_caught("id", "deny")
        self.assertEqual(r["reason"], "forbidden by policy: no id here")
        self.assertEqual(r["argv"], ["/usr/bin/id"])
        self.assert_caught("true", "allow")
        # A bare name the shell found in PATH: the path it gave the kernel.
        g = self.assert_caught("git", "allow")
        self.assertEqual(g["argv"], ["git", "--version"])
        self.assertIn("the kernel backstop caught it", err)

    def test_go_exec_command(self):
        prog = go_program()
        rc, out, err = self.run_ew([prog, "id", "true", "uname -s"])
        self.assertEqual(rc, 0, err)
        self.assertIn("id: fork/exec /usr/bin/id: permission denied", out)
        self.assertIn("true: ok", out)
        self.assertIn("uname: ok", out)
        self.assert_caught("id", "deny")
        self.assert_caught("true", "allow")
        r = self.assert_caught("uname", "allow")
        self.assertEqual(r["argv"], ["uname", "-s"])

    def check_raw(self, mode, via="kernel:execve"):
        rc, out, err = self.run_ew([RAWEXEC, mode, "/usr/bin/id"])
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "errno=13\n", err)
        self.assert_caught("id", "deny", via=via)
        rc, out, err = self.run_ew([RAWEXEC, mode, "/usr/bin/true"])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(len(self.find("true")), 1)

    def test_syscall_execve(self):
        self.check_raw("syscall")

    def test_raw_execveat(self):
        self.check_raw("execveat", via="kernel:execveat")

    def test_execveat_on_an_fd(self):
        self.check_raw("fd", via="kernel:execveat")

    def test_dlmopen_libc(self):
        self.check_raw("dlmopen")

    def test_ctypes_libc_handle(self):
        if not os.path.exists(PYTHON):
            self.skipTest("no %s" % PYTHON)
        code = ("import ctypes, sys\n"
                "libc = ctypes.CDLL('libc.so.6', use_errno=True)\n"
                "argv = (ctypes.c_char_p * 2)(sys.argv[1].encode(), None)\n"
                "libc.execve(sys.argv[1].encode(), argv, None)\n"
                "print('errno=%d' % ctypes.get_errno())\n"
                "sys.exit(1)\n")
        rc, out, err = self.run_ew([PYTHON, "-c", code, "/usr/bin/id"])
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "errno=13\n", err)
        self.assert_caught("id", "deny")
        # python itself: its run record, and nothing more.
        self.assertEqual([r["via"] for r in self.records()],
                         ["run", "kernel:execve"])

    @unittest.skipUnless(platform.machine() == "x86_64", "x86_64 only")
    def test_i386_system_call(self):
        # Without IA32 emulation int 0x80 is a fault (SIGSEGV), or ENOSYS.
        p = subprocess.run([RAWEXEC, "int80", "/usr/bin/true"],
                           capture_output=True, env=self.env)
        if p.returncode != 0:
            self.skipTest("this kernel has no i386 system calls (%d, %r)"
                          % (p.returncode, p.stdout))
        rc, out, err = self.run_ew([RAWEXEC, "int80", "/usr/bin/id"])
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "errno=13\n", err)
        self.assert_caught("id", "deny")

    def test_missing_program_is_not_asked(self):
        """As the shim does not ask about what does not exist."""
        rc, out, err = self.run_ew([RAWEXEC, "syscall", "/nonexistent/x"])
        self.assertEqual(out, "errno=2\n", err)
        rc, out, err = self.run_ew([RAWEXEC, "syscall", self.dir])
        self.assertEqual(out, "errno=13\n", err)
        with open(os.path.join(self.dir, "noexec"), "w") as f:
            f.write("data\n")
        os.chmod(os.path.join(self.dir, "noexec"), 0o755)
        rc, out, err = self.run_ew([RAWEXEC, "syscall", "./noexec"])
        self.assertEqual(out, "errno=8\n", err)
        self.assertEqual([r["via"] for r in self.records()], ["run"] * 3)


class TestForgery(Case):
    """A hostile program forges what the filter checks: an envp array in
    or near the session's envp range (proto/ew_range.h), with the raw
    system call. Near it, the filter's bounds trap it; in it, it passes
    unasked: the known hole that README's security model states."""

    def forge(self, mode, prog="/usr/bin/id"):
        return self.run_ew([RAWEXEC, mode, prog])

    def test_just_outside_the_range_is_trapped(self):
        for mode in ("forge-below", "forge-past", "forge-4g"):
            rc, out, err = self.forge(mode)
            self.assertEqual((rc, out), (1, "errno=13\n"), mode + err)
        got = self.find("id")
        self.assertEqual(len(got), 3, got)
        for r in got:
            self.assertEqual((r["via"], r["decision"]),
                             ("kernel:execve", "deny"), r)

    def test_inside_the_range_passes_unasked(self):
        """The known hole: the range's address is in every process's
        environment, and a process can write its own memory. If this
        fails, the hole is closed: update README's known holes."""
        rc, out, err = self.forge("forge-in")
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(out.startswith("uid="), out)
        self.assertEqual(self.find("id"), [])
        self.assertEqual([r["via"] for r in self.records()], ["run"])


class TestOnce(Case):
    """What the shim asked about is not asked or recorded again."""

    rules_text = ""

    def test_shim_starts_recorded_once(self):
        script = ("ls / >/dev/null; /bin/true; env -i /usr/bin/true; "
                  "python3 -c 'import subprocess; subprocess.run([\"true\"])'"
                  " 2>/dev/null; sh -c 'uname >/dev/null'")
        rc, out, err = self.run_ew(["bash", "-c", script])
        self.assertEqual(rc, 0, err)
        recs = self.records()
        self.assertEqual([r for r in recs if r["via"].startswith("kernel")],
                         [])
        self.assertEqual(len(self.find("ls")), 1)
        self.assertEqual(len(self.find("uname")), 1)

    def test_range_unusable_is_matched(self):
        """A process whose envp range is taken: its start is trapped and
        matched to the shim's question, not recorded twice."""
        for mode in ("occupied", "spawn"):
            rc, out, err = self.run_ew([RAWEXEC, mode, "/usr/bin/uname"])
            self.assertEqual(rc, 0, out + err)
        unames = self.find("uname")
        self.assertEqual(len(unames), 2, unames)
        self.assertEqual(sorted(r["via"] for r in unames),
                         ["execve", "posix_spawn"])

    def test_large_environment_is_matched(self):
        env = dict(self.env)
        for i in range(3000):
            env["EW_BIG_%d" % i] = "x"
        rc, out, err = self.run_ew(["bash", "-c", "/bin/true; uname"],
                                   env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.find("true")), 1)
        self.assertEqual(len(self.find("uname")), 1)
        self.assertEqual([r for r in self.records()
                          if r["via"].startswith("kernel")], [])


class TestStrace(Case):
    """The audit's allowed records are the kernel's completed execs, on a
    workload of dynamic programs, a static busybox shell and Go."""

    rules_text = ""

    def test_audit_matches_the_kernel(self):
        strace = which("strace")
        bb = which("busybox")
        prog = go_program()
        trace = os.path.join(self.dir, "trace")
        script = ("ls / >/dev/null; echo a | tr a b >/dev/null; "
                  "printf '1\\n2\\n' | xargs -n1 true; "
                  "%s sh -c '/usr/bin/true; git --version; uname; "
                  "/bin/sh -c true; %s true' >/dev/null; "
                  "%s true 'uname -r' 'sh -c id' >/dev/null; "
                  "%s syscall /usr/bin/true; %s execveat /usr/bin/id; "
                  "env -i /usr/bin/true; sh -c 'uname; id' >/dev/null"
                  % (bb, prog, prog, RAWEXEC, RAWEXEC))
        cmd = [strace, "-f", "-qq", "-s", "256", "-e",
               "trace=execve,execveat", "-o", trace] + \
            self.argv(["bash", "-c", script])
        p = subprocess.run(cmd, env=self.env, cwd=self.dir,
                           capture_output=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        executed = kernel_execs(trace)
        first = executed.pop(0)
        self.assertTrue(first.endswith("execward"), first)
        got = collections.Counter(os.path.realpath(f) for f in executed)
        recs = self.records()
        failed = {r["of"] for r in recs if r.get("type") == "failed"}
        allowed = [r for r in recs if r.get("decision") == "allow" and
                   r["seq"] not in failed]
        audited = collections.Counter(os.path.realpath(r["file"])
                                      for r in allowed)
        self.assertEqual(got, audited)
        kernel = [r for r in allowed if r["via"].startswith("kernel")]
        self.assertGreaterEqual(len(kernel), 8, kernel)


class TestBrokerDeath(Case):
    """A dead broker's listener closes: trapped starts fail at once
    (ENOSYS), both the one waiting for it and those after."""

    rules_text = ""

    def wait_for(self, pred, what, timeout=60):
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                self.fail("timed out waiting for %s" % what)
            time.sleep(0.05)

    def test_trapped_calls_fail_closed(self):
        bb = which("busybox")
        go = os.path.join(self.dir, "go")
        script = ("echo $$ > pid; while [ ! -e go ]; do sleep 0.05; done; "
                  "/usr/bin/true; echo first=$? > r1; "
                  "/usr/bin/true; echo second=$? > r2")
        proc = subprocess.Popen(self.argv([bb, "sh", "-c", script]),
                                env=self.env, cwd=self.dir,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            pidfile = os.path.join(self.dir, "pid")
            self.wait_for(lambda: os.path.exists(pidfile) and
                          read(pidfile).strip(), "the shell")
            shell = int(read(pidfile))
            # Stop the broker, let the shell's start be trapped and wait.
            os.kill(proc.pid, signal.SIGSTOP)
            open(go, "w").close()

            def waiting():
                """A task of the shell's in execve (59), waiting."""
                for t in os.listdir("/proc"):
                    if not t.isdigit():
                        continue
                    try:
                        with open("/proc/%s/stat" % t) as f:
                            st = f.read()
                        with open("/proc/%s/syscall" % t) as f:
                            sc = f.read().split()
                    except OSError:
                        continue
                    ppid = int(st[st.rindex(")") + 2:].split()[1])
                    if ppid == shell and sc and sc[0] == "59":
                        return True
                return False
            self.wait_for(waiting, "a start waiting for the broker")
            os.kill(proc.pid, signal.SIGKILL)
            r1 = os.path.join(self.dir, "r1")
            r2 = os.path.join(self.dir, "r2")
            self.wait_for(lambda: os.path.exists(r2) and
                          read(r2).strip(), "both starts to fail")
            with open(r1) as f:
                self.assertNotEqual(f.read().strip(), "first=0")
            with open(r2) as f:
                self.assertNotEqual(f.read().strip(), "second=0")
        finally:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=60)
            if proc.stderr:
                proc.stderr.close()
        # Nothing ran unrecorded: no allow for true.
        self.assertEqual(self.find("true"), [])


class TestOptions(Case):

    def test_off_leaves_static_starts_unasked(self):
        bb = which("busybox")
        rc, out, err = self.run_ew(
            [bb, "sh", "-c", "/usr/bin/id -u >/dev/null; echo id=$?; "
             "grep NoNewPrivs /proc/self/status"],
            opts=["--backstop", "off"])
        self.assertEqual(rc, 0, err)
        self.assertIn("id=0", out)
        self.assertIn("NoNewPrivs:\t0", out)
        recs = self.records()
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["backstop"], "off")

    def test_on_means_no_new_privileges(self):
        rc, out, err = self.run_ew(["grep", "NoNewPrivs", "/proc/self/status"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "NoNewPrivs:\t1\n")
        self.assertNotIn("backstop", self.records()[0])

    def test_help_names_the_option(self):
        p = subprocess.run([EXECWARD, "run", "--help"], capture_output=True)
        self.assertIn(b"--backstop on|off", p.stdout)
        p = subprocess.run([EXECWARD, "run", "--backstop", "maybe", "--",
                            "true"], capture_output=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--backstop: expected on or off", p.stderr)

    def test_forged_kernel_via_is_refused(self):
        """Only the broker says what the kernel saw: a shim cannot."""
        # The shim itself never sends it; the wire refuses it (unit tested
        # in test_proto); here: a run's records of shim starts say libc.
        rc, out, err = self.run_ew(["bash", "-c", "/bin/true"])
        self.assertEqual([r["via"] for r in self.records()],
                         ["run", "execve"])


class TestNested(Case):
    """An execward run inside another: the kernel allows one listener, so
    the inner one has none and says so; the outer covers the inner tree,
    and records the inner's own starts once."""

    rules_text = ""

    def test_inner_run_is_covered_by_the_outer(self):
        bb = which("busybox")
        inner_audit = os.path.join(self.dir, "inner.jsonl")
        inner = self.argv([bb, "sh", "-c", "/usr/bin/true; uname >/dev/null"],
                          audit=inner_audit)
        rc, out, err = self.run_ew(["bash", "-c",
                                    " ".join("'%s'" % a for a in inner) +
                                    "; ls >/dev/null"])
        self.assertEqual(rc, 0, err)
        self.assertIn("no kernel backstop of this session's own", err)
        outer = self.records()
        inner_recs = self.records(inner_audit)
        for r in inner_recs:
            self.assertEqual(r.get("backstop"), "outer", r)
        # The static shell's starts: seen by the outer backstop.
        self.assert_caught("true", "allow", recs=outer)
        # busybox itself: put to the outer broker by the inner one
        # (ew_chain.c), and its exec passed in the outer range: once.
        self.assertEqual(len(self.find("busybox", outer)), 1,
                         self.find("busybox", outer))
        self.assertEqual(len(self.find("busybox", inner_recs)), 1)


class TestSandbox(Case):
    """Inside a sandbox, a trapped start a rule allows cannot be
    escalated (only the shim can run the helper): it runs confined."""

    rules_text = ('prefix_rule(pattern=["touch"], decision="allow")\n' +
                  DENY_ID)

    def test_trapped_allow_runs_confined(self):
        sandbox_helper.use_safe_library()
        self.rules = sandbox_helper.safe_copy(self.rules)
        bb = which("busybox")
        outside = sandbox_helper.safe_dir(EXECWARD, "ew-bs-out-")
        self.addCleanup(shutil.rmtree, outside, True)
        target = os.path.join(outside, "made")
        env = dict(self.env,
                   EXECWARD_LIBRARY=os.environ.get("EXECWARD_LIBRARY", ""))
        rc, out, err = self.run_ew(
            [bb, "sh", "-c", "/usr/bin/touch %s; echo touch=$?; "
             "/usr/bin/id; echo id=$?" % target],
            opts=["--sandbox", "workspace-write"], env=env)
        self.assertIn("id=126", out, err)
        self.assertNotIn("touch=0", out)
        self.assertFalse(os.path.exists(target))
        r = self.assert_caught("touch", "allow")
        self.assertEqual(r["sandbox"], "workspace-write")
        self.assertIn("the kernel backstop caught it", r["escalation"])
        self.assert_caught("id", "deny")


class TestDaemon(unittest.TestCase):
    """The daemon's recipe: `execward launch` hands the tree's backstop
    to the daemon; in bubblewrap too."""

    def setUp(self):
        if not EXECWARD or not RAWEXEC:
            self.skipTest("EXECWARD and EW_RAWEXEC not set")
        self.d = daemon_helper.Daemon(rules_text=DENY_ID)
        self.addCleanup(self.d.close)

    def env(self):
        env = dict(self.d.env)
        env["LD_PRELOAD"] = os.environ["EXECWARD_LIBRARY"]
        env["EXECWARD_SOCKET"] = self.d.sock
        return env

    def test_launch(self):
        bb = which("busybox")
        p = subprocess.run([EXECWARD, "launch", "--", bb, "sh", "-c",
                            "/usr/bin/id; echo id=$?; /usr/bin/true"],
                           env=self.env(), capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"id=126", p.stdout)
        recs = self.d.records()
        vias = [(os.path.basename(r["file"]), r["via"], r["decision"])
                for r in recs]
        self.assertEqual(vias, [("busybox", "execvp", "allow"),
                                ("id", "kernel:execve", "deny"),
                                ("true", "kernel:execve", "allow")])

    def test_launch_without_a_broker_refuses(self):
        env = self.env()
        env["EXECWARD_SOCKET"] = os.path.join(self.d.dir, "nothing")
        p = subprocess.run([EXECWARD, "launch", "--", "true"], env=env,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 126)
        self.assertIn(b"connect", p.stderr)

    def test_bwrap(self):
        bwrap = which("bwrap")
        bb = which("busybox")
        run = os.path.dirname(self.d.sock)
        lib = os.environ["EXECWARD_LIBRARY"]
        argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev",
                "--proc", "/proc", "--tmpfs", "/run",
                "--bind", run, "/run/execward",
                "--unshare-pid", "--unshare-net", "--die-with-parent",
                "--setenv", "LD_PRELOAD", lib,
                "--setenv", "EXECWARD_SOCKET", "/run/execward/sock",
                EXECWARD, "launch", "--", bb, "sh", "-c",
                "/usr/bin/id; echo id=$?; /usr/bin/true; echo true=$?"]
        p = subprocess.run(argv, capture_output=True, timeout=60,
                           env=self.d.env)
        if p.returncode != 0 and b"bwrap:" in p.stderr:
            raise unittest.SkipTest("bwrap cannot run here: %s" %
                                    p.stderr.decode(errors="replace"))
        self.assertEqual(p.stdout, b"id=126\ntrue=0\n", p.stderr)
        recs = [r for r in self.d.records() if "type" not in r]
        got = [(os.path.basename(r["file"]), r["via"], r["decision"])
               for r in recs]
        self.assertEqual(got, [("busybox", "execvp", "allow"),
                               ("id", "kernel:execve", "deny"),
                               ("true", "kernel:execve", "allow")])
        # The pids are the daemon's view, not the sandbox's namespace.
        for r in recs:
            self.assertGreater(r["pid"], 2, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
