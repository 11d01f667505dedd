#!/usr/bin/env python3
"""Integration tests of the sandbox and escalation with `execward run
--sandbox MODE`: real programs, confined by the kernel, and the programs an
allow rule covers run by the broker outside the sandbox through
execward-escalate. Each test checks what the programs observably did and
what the audit log says.

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY, EW_ESCALATE (the
helper), EW_ENTRY_POINTS (tests/helpers: one libc entry point per mode).
Skipped where the kernel cannot enforce the sandbox.
"""
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from sandbox_helper import safe_dir, use_safe_library

use_safe_library()

EXECWARD = os.environ.get("EXECWARD", "")
HELPER = os.environ.get("EW_ESCALATE", "")
ENTRY_POINTS = os.environ.get("EW_ENTRY_POINTS", "")
PY = "/usr/bin/python3"

# Small programs the rules name. Each is a script, so the policy sees its
# own name (the basename of the resolved file).
SCRIPTS = {
    "ewexit": "#!/bin/sh\nexit \"$1\"\n",
    "ewecho": "#!/bin/sh\necho \"$@\"\n",
    "ewsig": "#!/bin/sh\nkill -\"$1\" $$\nsleep 5\nexit 99\n",
    "ewwrite": "#!/bin/sh\nprintf '%s\\n' \"$2\" > \"$1\"\n",
    # Waits (up to 10 s) for SIGINT, and says whether it came.
    "ewtrap": "#!/bin/sh\n"
              "trap 'echo INT > \"$1\"; exit 0' INT\n"
              "echo ready > \"$1.ready\"\n"
              "i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n"
              "echo none > \"$1\"\n",
    "ewnet": "#!%s\nimport socket, sys\n"
             "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
             "s.sendall(b'hello')\nprint('connected')\n" % PY,
    # Its own environment (env(1) would be a program of its own, which
    # an escalated program's shim confines).
    "ewenv": "#!%s\nimport os\n"
             "for k, v in os.environ.items(): print('%%s=%%s' %% (k, v))\n"
             % PY,
    "ewumask": "#!/bin/sh\numask\nsed -n 's/^SigIgn:\\t//p' /proc/$$/status\n",
    # On a terminal: reads a line from it, then counts SIGINTs until
    # told to stop (a file).
    "ewtty": "#!/bin/sh\n"
             "trap 'echo INT >> \"$1\"' INT\n"
             "read line; echo \"read=$line\"\n"
             "echo ready > \"$1.ready\"\n"
             "while [ ! -e \"$1.stop\" ]; do sleep 0.1; done\n",
    "ewshred": "#!/bin/sh\nshred --help >/dev/null\necho shred=$?\n",
    # Escalated, it starts programs no rule covers: they run confined, in
    # the helper's place (its status, its fds as the caller left them).
    "ewparent": "#!/bin/sh\n"
                "/bin/sh -c 'exit 7'; echo status=$?\n"
                "/bin/sh -c 'echo x > \"$1\"' 2>/dev/null; echo write=$?\n"
                "exec 0<&-\n"
                "exec %s -c 'import os; "
                "print(\"fd0\", os.path.exists(\"/proc/self/fd/0\"))'\n"
                % PY,
    # Asks the broker, as the shim would, about PROGRAM ARGS; prints the
    # verdict and the token of an ESCALATE answer.
    "ewask": "#!%s\nimport os, socket, struct, sys\n"
             "def s(x):\n    b = x.encode(); return struct.pack('>I', len(b)) + b\n"
             "prog = sys.argv[1]\n"
             "argv = [os.path.basename(prog)] + sys.argv[2:]\n"
             "msg = (struct.pack('>IIIII', 1, 1, 1, os.getpid(), os.getppid())\n"
             "       + s(os.getcwd()) + s(prog) + s(prog)\n"
             "       + struct.pack('>I', len(argv)) + b''.join(map(s, argv)))\n"
             "c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
             "c.connect(os.environ['EXECWARD_SOCKET'])\n"
             "c.send(msg)\n"
             "a = c.recv(4096)\n"
             "verdict, = struct.unpack('>I', a[8:12])\n"
             "n, = struct.unpack('>I', a[12:16])\n"
             "m, = struct.unpack('>I', a[16 + n:20 + n])\n"
             "print(verdict, a[20 + n:20 + n + m].decode())\n" % PY,
}

STATIC_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) { printf("errno=%d\n", errno); return 1; }
	(void)write(fd, "x", 1);
	close(fd);
	printf("ok\n");
	return 0;
}
"""


def sandbox_missing():
    """Why the sandbox cannot be used here, or None."""
    p = subprocess.run([EXECWARD, "run", "--sandbox", "read-only",
                        "--audit", "/dev/null", "--", "/bin/true"],
                       capture_output=True, env={"PATH": "/usr/bin:/bin",
                                                 "XDG_CONFIG_HOME": "/nonexistent"})
    if p.returncode == 126 and b"Landlock" in p.stderr:
        return p.stderr.decode().strip()
    return None


class SandboxCase(unittest.TestCase):
    """A workspace (the cwd) under /tmp, a folder outside it, scripts in a
    folder no sandbox can write (sandbox_helper: escalation refuses the
    rest)."""

    @classmethod
    def setUpClass(cls):
        why = sandbox_missing()
        if why:
            raise unittest.SkipTest(why)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ew-sbx-")
        self.outside = tempfile.mkdtemp(prefix="ew-sbx-out-", dir="/var/tmp")
        self.bin = safe_dir(EXECWARD, "ew-sbx-bin-")
        for name, text in SCRIPTS.items():
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        self.audit = os.path.join(self.dir, "audit.jsonl")
        # Out of the sandbox's reach, or execward refuses the session.
        self.rules = os.path.join(self.bin, "rules")
        os.mkdir(self.rules)
        with open(os.path.join(self.rules, "test.rules"), "w") as f:
            for name in ("ewexit", "ewecho", "ewsig", "ewwrite", "ewtrap",
                         "ewnet", "ewenv", "ewshred", "ewtty", "ewumask",
                         "ewparent", "cat"):
                f.write('prefix_rule(pattern=["%s"], decision="allow")\n'
                        % name)
            f.write('prefix_rule(pattern=["shred"], decision="forbidden")\n')
        self.env = dict(os.environ)
        self.env["PATH"] = self.bin + ":/usr/bin:/bin"
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        for k in ("EXECWARD_RULES", "LD_PRELOAD", "EXECWARD_SOCKET",
                  "TMPDIR", "EXECWARD_QUIET"):
            self.env.pop(k, None)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.outside, ignore_errors=True)
        shutil.rmtree(self.bin, ignore_errors=True)

    def argv(self, cmd, sandbox="workspace-write", extra=()):
        return [EXECWARD, "run", "--rules", self.rules, "--audit",
                self.audit, "--on-prompt", "deny", "--sandbox", sandbox
                ] + list(extra) + ["--"] + list(cmd)

    def run_ew(self, cmd, sandbox="workspace-write", input=None, env=None,
               timeout=60, extra=()):
        p = subprocess.run(self.argv(cmd, sandbox, extra),
                           env=env or self.env,
                           cwd=self.dir, input=input, capture_output=True,
                           timeout=timeout,
                           stdin=None if input else subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def records(self):
        with open(self.audit) as f:
            return [json.loads(line) for line in f]

    def named(self, base, records=None):
        return [r for r in (records or self.records())
                if os.path.basename(r.get("file", "")) == base]

    def escalated_all(self, base):
        return [r for r in self.named(base) if r.get("decision") ==
                "escalate"]

    def escalated(self, base):
        """The escalate record of base, and its exit record."""
        recs = self.records()
        esc = [r for r in self.named(base, recs)
               if r.get("decision") == "escalate"]
        self.assertEqual(len(esc), 1, recs)
        tok = esc[0].get("token")
        exits = [r for r in recs if r.get("type") == "exit" and
                 r.get("token") == tok]
        return esc[0], exits


class TestConfinement(SandboxCase):

    def test_workspace_write_confines_and_an_allow_rule_escalates(self):
        target = os.path.join(self.outside, "f")
        rc, out, err = self.run_ew([
            "bash", "-c", "echo in > inside.txt && echo inside-ok; "
            "echo out > %s; echo rc=$?" % target])
        self.assertEqual(rc, 0, err)
        self.assertIn("inside-ok\n", out)
        self.assertIn("rc=1\n", out)
        self.assertIn("Permission denied", err)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "inside.txt")))
        self.assertFalse(os.path.exists(target))
        bash = [r for r in self.records() if r["via"] == "run"][0]
        self.assertEqual(bash["decision"], "allow")
        self.assertEqual(bash["sandbox"], "workspace-write")
        self.assertNotIn("token", bash)

        # The same write by a program an allow rule covers: escalated.
        rc, out, err = self.run_ew([
            "bash", "-c", "ewwrite %s hello; echo rc=$?" % target])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "rc=0\n")
        with open(target) as f:
            self.assertEqual(f.read(), "hello\n")
        esc, exits = self.escalated("ewwrite")
        self.assertEqual(esc["source"], "rule")
        self.assertRegex(esc["token"], "^[0-9a-f]{32}$")
        self.assertNotIn("sandbox", esc)
        self.assertEqual(len(exits), 1)
        self.assertEqual(exits[0]["status"], {"code": 0})
        self.assertEqual(exits[0]["argv"], ["ewwrite", target, "hello"])
        self.assertGreater(exits[0]["duration_us"], 0)

    def test_a_failed_confined_command_names_the_sandbox(self):
        rc, _, err = self.run_ew(
            ["sh", "-c", "echo x > %s/g" % self.outside])
        self.assertNotEqual(rc, 0)
        self.assertIn("execward: note: sh exited %d in the sandbox, "
                      "workspace-write (writable: %s" % (rc, self.dir), err)
        self.assertIn("no network", err)

    def test_read_only_confines_the_workspace_too(self):
        rc, out, err = self.run_ew(
            ["bash", "-c", "echo x > ro.txt; echo rc=$?; "
             "echo fine > /dev/null && echo null-ok"], sandbox="read-only")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "rc=1\nnull-ok\n")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "ro.txt")))

    def test_none_runs_in_place_and_allow_is_not_escalation(self):
        target = os.path.join(self.outside, "n")
        rc, out, err = self.run_ew(
            ["bash", "-c", "echo x > %s && ewexit 3; echo st=$?" % target],
            sandbox="none")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "st=3\n")
        self.assertTrue(os.path.exists(target))
        recs = self.records()
        self.assertEqual([r["decision"] for r in self.named("ewexit", recs)],
                         ["allow"])
        self.assertFalse([r for r in recs if "token" in r or
                          r.get("type") == "exit"])

    def test_a_static_binary_is_confined_without_asking(self):
        src = os.path.join(self.dir, "staticw.c")
        exe = os.path.join(self.dir, "staticw")
        with open(src, "w") as f:
            f.write(STATIC_C)
        cc = subprocess.run(["cc", "-static", "-O2", "-o", exe, src],
                            capture_output=True)
        if cc.returncode != 0:
            self.skipTest("cc -static failed: %s" % cc.stderr.decode())
        target = os.path.join(self.outside, "s")
        rc, out, err = self.run_ew(
            ["bash", "-c", "%s inside.bin; %s %s; echo rc=$?"
             % (exe, exe, target)])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "ok\nerrno=13\nrc=1\n")
        self.assertFalse(os.path.exists(target))
        self.assertTrue(os.path.exists(os.path.join(self.dir, "inside.bin")))

    def test_tcp_is_refused_in_the_sandbox_and_allowed_escalated(self):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        got = []

        def serve():
            srv.settimeout(30)
            try:
                c, _ = srv.accept()
                got.append(c.recv(100))
                c.close()
            except OSError:
                pass
        t = threading.Thread(target=serve)
        t.start()
        try:
            rc, out, err = self.run_ew(
                ["bash", "-c", "%s -c 'import socket; "
                 "socket.create_connection((\"127.0.0.1\", %d))'; "
                 "echo rc=$?; exec 3<>/dev/tcp/127.0.0.1/%d; echo dev=$?"
                 % (PY, port, port)])
            self.assertEqual(rc, 0, err)
            self.assertIn("rc=1\n", out)
            self.assertIn("PermissionError", err)
            self.assertIn("dev=1\n", out)
            self.assertEqual(got, [])
            # A redirection keeps bash from being escalated as a whole
            # (its script would split into ewnet alone): ewnet itself
            # goes through the door.
            rc, out, err = self.run_ew(
                ["bash", "-c", "ewnet %d </dev/null" % port])
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, "connected\n")
        finally:
            t.join(35)
            srv.close()
        self.assertEqual(got, [b"hello"])
        esc, exits = self.escalated("ewnet")
        self.assertEqual(exits[0]["status"], {"code": 0})


class TestTheDoor(SandboxCase):

    def test_pipelines_and_stdin_cross_the_door(self):
        rc, out, err = self.run_ew(
            ["bash", "-c", "printf 'a\\nb\\n' | cat | wc -l"])
        self.assertEqual((rc, out), (0, "2\n"), err)
        esc, exits = self.escalated("cat")
        self.assertEqual(exits[0]["status"], {"code": 0})
        # stdin from outside execward, through the door.
        rc, out, err = self.run_ew(["bash", "-c", "cat | wc -l"],
                                   input=b"x\ny\nz\n")
        self.assertEqual((rc, out), (0, "3\n"), err)

    def test_exit_status_and_signal_death_come_back(self):
        rc, out, err = self.run_ew(["bash", "-c", "ewexit 42; echo st=$?"])
        self.assertEqual(out, "st=42\n", err)
        # A signal death is a signal death: Python sees -15, not 143.
        rc, out, err = self.run_ew(
            [PY, "-c", "import subprocess; "
             "print(subprocess.run(['ewsig', 'TERM']).returncode)"])
        self.assertEqual(out, "-15\n", err)
        esc, exits = self.escalated("ewsig")
        self.assertEqual(exits[0]["status"], {"signal": 15})
        # COMMAND itself, when a rule allows it, starts outside.
        rc, _, err = self.run_ew(["ewexit", "42"])
        self.assertEqual(rc, 42, err)
        recs = self.records()
        rec = [r for r in self.named("ewexit", recs)
               if r.get("via") == "run"][-1]
        self.assertEqual((rec["via"], rec["decision"]), ("run", "escalate"))
        # ... and its end is recorded, as every escalated program's is: the
        # last record, in the same session, with no token (none was used).
        end = recs[-1]
        self.assertEqual((end.get("type"), end["status"], end["session"]),
                         ("exit", {"code": 42}, rec["session"]), recs)
        self.assertEqual(end["argv"], ["ewexit", "42"])
        self.assertEqual(os.path.basename(end["file"]), "ewexit")
        self.assertNotIn("token", end)
        self.assertGreater(end["pid"], 0)
        # A signal death too.
        rc, _, err = self.run_ew(["ewsig", "TERM"])
        self.assertEqual(rc, 128 + 15, err)
        self.assertEqual(self.records()[-1]["status"], {"signal": 15})

    def test_every_entry_point_escalates(self):
        if not ENTRY_POINTS:
            self.skipTest("EW_ENTRY_POINTS is not set")
        ewexit = os.path.join(self.bin, "ewexit")
        for mode, prog in (("execve", ewexit), ("execvp", "ewexit"),
                           ("execl", ewexit), ("posix_spawn", ewexit),
                           ("posix_spawnp", "ewexit"), ("system", "ewexit"),
                           ("fexecve", ewexit)):
            rc, out, err = self.run_ew([ENTRY_POINTS, mode, prog, "42"])
            self.assertEqual(rc, 0, "%s: %s" % (mode, err))
            self.assertIn("exit=42\n", out, "%s: %s %s" % (mode, out, err))
        rc, out, err = self.run_ew([ENTRY_POINTS, "popen", "ewecho", "hi"])
        self.assertIn("out=hi\n", out, err)
        self.assertIn("exit=0\n", out, err)
        # Every start of ewexit was escalated and ended with 42, but for
        # system's: its sh -c ewexit 42 is escalated as a whole (its one
        # command is allowed by a rule), and ewexit then runs in place,
        # outside, asked about on the outside socket.
        recs = self.records()
        esc = [r["token"] for r in self.named("ewexit", recs)
               if r.get("decision") == "escalate"]
        self.assertEqual(len(esc), 6, recs)
        shell = [r for r in recs if r.get("via") == "system"]
        self.assertEqual([r["decision"] for r in shell], ["escalate"])
        esc.append(shell[0]["token"])
        exits = {r["token"]: r["status"] for r in recs
                 if r.get("type") == "exit"}
        self.assertEqual([exits.get(t) for t in esc], [{"code": 42}] * 7)
        inner = [r for r in self.named("ewexit", recs)
                 if r.get("via") == "execve" and r["argv"] == ["ewexit",
                                                               "42"]]
        self.assertEqual([(r["decision"], r.get("sandbox")) for r in inner],
                         [("allow", None)], recs)

    def test_sigint_to_the_process_group_reaches_the_program(self):
        marker = os.path.join(self.dir, "got")
        p = subprocess.Popen(
            self.argv(["bash", "-c", "ewtrap %s; echo after=$?" % marker]),
            env=self.env, cwd=self.dir, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(marker + ".ready"):
                self.assertLess(time.monotonic(), deadline, "never ready")
                time.sleep(0.05)
            os.killpg(p.pid, signal.SIGINT)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        with open(marker) as f:
            self.assertEqual(f.read(), "INT\n", err)
        self.assertEqual(out.decode(), "after=0\n", err.decode())

    def test_on_a_terminal_the_program_is_in_the_foreground(self):
        """The program joins the helper's foreground process group: it
        reads the terminal (in a group of its own it would be stopped by
        SIGTTIN), and ^C reaches it from the terminal."""
        marker = os.path.join(self.dir, "tty")
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.dir)
            os.execve(EXECWARD, self.argv(
                ["bash", "-c", "ewtty %s; echo after=$?" % marker]),
                self.env)
        buf = b""

        def read_until(what, secs=20):
            nonlocal buf
            end = time.monotonic() + secs
            while what not in buf:
                left = end - time.monotonic()
                self.assertGreater(left, 0, "waited for %r: %r" % (what, buf))
                if select.select([fd], [], [], left)[0]:
                    try:
                        buf += os.read(fd, 4096)
                    except OSError:
                        break
        try:
            time.sleep(0.5)
            os.write(fd, b"hello\n")
            read_until(b"read=hello")
            while not os.path.exists(marker + ".ready"):
                time.sleep(0.05)
            os.write(fd, b"\x03")
            deadline = time.monotonic() + 10
            while not os.path.exists(marker):
                self.assertLess(time.monotonic(), deadline, buf)
                time.sleep(0.05)
            time.sleep(0.5)
            with open(marker + ".stop", "w"):
                pass
            read_until(b"after=0")
        finally:
            end = time.monotonic() + 10
            while True:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done or time.monotonic() > end:
                    break
                time.sleep(0.05)
            if not done:
                # The session ends: its stopped jobs get SIGHUP.
                os.kill(pid, signal.SIGKILL)
                _, st = os.waitpid(pid, 0)
            os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(st), 0, buf)
        with open(marker) as f:
            self.assertEqual(f.read(), "INT\n")
        self.escalated("ewtty")

    def test_umask_and_ignored_signals_cross_the_door(self):
        rc, out, err = self.run_ew(
            ["bash", "-c", "umask 027; ewumask; umask 0; trap '' HUP; "
             "ewumask"])
        lines = out.splitlines()
        self.assertEqual(len(lines), 4, out + err)
        self.assertEqual((lines[0], lines[2]), ("0027", "0000"))
        # SIGHUP (bit 0): not ignored, then ignored as bash's trap says.
        self.assertEqual(int(lines[1], 16) & 1, 0, out)
        self.assertEqual(int(lines[3], 16) & 1, 1, out)
        self.assertEqual(len(self.escalated_all("ewumask")), 2)

    def test_a_big_environment_crosses_the_door(self):
        # Over one 64 KiB record: the hand-over travels in a memfd. The
        # variables cross because --keep-env names them.
        env = dict(self.env)
        for i in range(4):
            env["EW_BIG%d" % i] = str(i) * 60000
        rc, out, err = self.run_ew(["bash", "-c", "ewenv </dev/null"],
                                   env=env, extra=["--keep-env", "EW_BIG*"])
        self.assertEqual(rc, 0, err)
        for i in range(4):
            self.assertIn("EW_BIG%d=%s\n" % (i, str(i) * 60000), out)
        self.escalated("ewenv")

    def test_what_an_escalated_program_starts_runs_confined_in_place(self):
        target = os.path.join(self.outside, "p")
        rc, out, err = self.run_ew(
            ["bash", "-c", "ewparent %s </dev/null" % target])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "status=7\nwrite=2\nfd0 False\n", err)
        self.assertFalse(os.path.exists(target))
        recs = self.records()
        self.assertEqual(len(self.escalated_all("ewparent")), 1, recs)
        confined = [r for r in recs if r.get("confined")]
        self.assertEqual(len(confined), 3, recs)
        for r in confined:
            self.assertEqual((r["decision"], r["sandbox"]),
                             ("allow", "workspace-write"))
            self.assertRegex(r["token"], "^[0-9a-f]{32}$")
        # No exit record: nothing of theirs ran outside.
        exits = [r for r in recs if r.get("type") == "exit"]
        self.assertEqual([os.path.basename(r["file"]) for r in exits],
                         ["ewparent"])

    def test_escalated_programs_keep_the_shim(self):
        rc, out, err = self.run_ew(["bash", "-c", "ewshred </dev/null"])
        self.assertEqual(out, "shred=126\n", err)
        self.assertIn("execward: denied: shred --help: forbidden by policy",
                      err)
        self.escalated("ewshred")

    def test_only_the_keep_list_crosses(self):
        """The caller's environment is the sandbox's: only sudo's keep-list
        crosses (values that name files refused as sudo refuses them),
        HOME, USER, LOGNAME and PATH are the broker's, and --keep-env
        names more."""
        hostile = {
            "LD_LIBRARY_PATH": self.dir, "GCONV_PATH": "/x",
            "BASH_ENV": self.dir + "/evil", "ENV": self.dir + "/evil",
            "PERL5OPT": "-Mevil", "PERL5LIB": self.dir,
            "PYTHONPATH": self.dir, "PYTHONSTARTUP": self.dir + "/e.py",
            "NODE_OPTIONS": "--require=/x", "GIT_SSH_COMMAND": "evil",
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.pager",
            "GIT_CONFIG_VALUE_0": "evil", "GLIBC_TUNABLES": "glibc.x=1",
            "TMPDIR": self.dir, "FOO": "bar",
            "LANGUAGE": "../../tmp/x", "LC_ALL": "/tmp/locale",
            "TZ": "/tmp/zone", "COLORTERM": "truecolor", "NO_COLOR": "1",
            "LC_TIME": "C.UTF-8", "TERM": "xterm-ewtest",
        }
        assign = " ".join("%s='%s'" % kv for kv in hostile.items())
        script = ("%s HOME=%s PATH=%s:$PATH ewenv" % (assign, self.dir,
                                                     self.dir))
        rc, out, err = self.run_ew(["bash", "-c", script])
        self.assertEqual(rc, 0, err)
        env = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        for k in ("LD_LIBRARY_PATH", "GCONV_PATH", "BASH_ENV", "ENV",
                  "PERL5OPT", "PERL5LIB", "PYTHONPATH", "PYTHONSTARTUP",
                  "NODE_OPTIONS", "GIT_SSH_COMMAND", "GIT_CONFIG_COUNT",
                  "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GLIBC_TUNABLES",
                  "TMPDIR", "FOO", "LANGUAGE", "LC_ALL", "TZ"):
            self.assertNotIn(k, env, out)
        for k in ("COLORTERM", "NO_COLOR", "LC_TIME", "TERM"):
            self.assertEqual(env.get(k), hostile[k], out)
        # The broker's HOME and PATH; PATH without a folder of the sandbox.
        self.assertEqual(env["HOME"], self.env.get("HOME", env["HOME"]))
        self.assertNotEqual(env["HOME"], self.dir)
        self.assertNotIn(self.dir, env["PATH"].split(":"))
        self.assertIn(self.bin, env["PATH"].split(":"))
        self.assertEqual(env["LD_PRELOAD"],
                         os.environ.get("EXECWARD_LIBRARY",
                                        env["LD_PRELOAD"]))
        self.assertIn("EXECWARD_SOCKET", env)
        # The outside socket: not the one the sandbox was given.
        self.assertTrue(env["EXECWARD_SOCKET"].endswith("/o"), out)
        # --keep-env FOO: it crosses; loader variables never do.
        rc, out, err = self.run_ew(
            ["bash", "-c", "FOO=bar LD_AUDIT=/x ewenv"],
            extra=["--keep-env", "FOO", "--keep-env", "LD_*"])
        env = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        self.assertEqual(env.get("FOO"), "bar", out + err)
        self.assertNotIn("LD_AUDIT", env)


class TestTokens(SandboxCase):

    def test_a_token_is_refused_when_reused_foreign_expired_or_forged(self):
        if not HELPER:
            self.skipTest("EW_ESCALATE is not set")
        ewexit = os.path.join(self.bin, "ewexit")
        sock_dir = "$(dirname \"$EXECWARD_SOCKET\")"
        # The session's folder in a runtime folder the other uid may
        # traverse once we let it (the default, under ~, is closed).
        runtime = tempfile.mkdtemp(prefix="ew-sbx-run-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, runtime, True)
        # The other uid gets the helper run by a raw execve (a shim in
        # the setuid'd process would itself be refused before it).
        as_nobody = (
            "%s -c 'import ctypes, os, sys\n"
            "os.setgroups([]); os.setresgid(65534, 65534, 65534)\n"
            "os.setresuid(65534, 65534, 65534)\n"
            "argv = [b\"execward-escalate\", sys.argv[2].encode()]\n"
            "a = (ctypes.c_char_p * 3)(*argv, None)\n"
            "e = [(k + \"=\" + v).encode() for k, v in os.environ.items()]\n"
            "ev = (ctypes.c_char_p * (len(e) + 1))(*e, None)\n"
            "ctypes.CDLL(None).syscall(59, sys.argv[1].encode(), a, ev)\n"
            "sys.exit(99)' "
            % PY)
        # The other uid must be able to run the helper: a copy in the
        # runtime folder it may traverse (ours may be under a 0700 home).
        nobody_helper = os.path.join(runtime, "execward-escalate")
        shutil.copy2(HELPER, nobody_helper)
        os.chmod(nobody_helper, 0o755)
        script = (
            "set -u\n"
            "set -- $(ewask %(p)s 7); echo verdict=$1; TOK=$2\n"
            "chmod 711 %(r)s %(d)s; chmod 666 \"$EXECWARD_SOCKET\"\n"
            "%(nobody)s %(nh)s $TOK; echo nobody=$?\n"
            "%(h)s $TOK; echo first=$?\n"
            "%(h)s $TOK; echo second=$?\n"
            "%(h)s 0123456789abcdef0123456789abcdef; echo forged=$?\n"
            "set -- $(ewask %(p)s 8); TOK2=$2\n"
            "sleep 1.5; %(h)s $TOK2; echo expired=$?\n"
            % {"p": ewexit, "d": sock_dir, "h": HELPER,
               "nh": nobody_helper, "nobody": as_nobody, "r": runtime})
        env = dict(self.env)
        env["XDG_RUNTIME_DIR"] = runtime
        env["EXECWARD_TOKEN_TTL_MS"] = "1000"
        rc, out, err = self.run_ew(["bash", "-c", script], env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "verdict=3\nnobody=126\nfirst=7\nsecond=126\n"
                         "forged=126\nexpired=126\n", err)
        # Another uid is answered deny and closed at accept, unread (its
        # helper sees the answer, or the closed socket if it was quick).
        self.assertTrue("execward: denied: escalation refused: uid 65534 "
                        "may not use this broker" in err or
                        "execward: denied: escalation: " in err, err)
        self.assertIn("escalation refused: escalation token already used",
                      err)
        self.assertIn("escalation refused: unknown escalation token", err)
        self.assertIn("escalation refused: escalation token expired", err)
        recs = self.records()
        foreign = [r for r in recs if r.get("type") == "refused"]
        self.assertEqual([(r["uid"], r["count"]) for r in foreign],
                         [(65534, 1)])
        self.assertIn("may not use this broker", foreign[0]["reason"])
        refused = [None] + [r for r in recs
                            if r.get("via") == "execward-escalate"]
        self.assertEqual([(r["decision"], r["reason"])
                          for r in refused[1:]], [
            ("deny", "escalation token already used"),
            ("deny", "unknown escalation token"),
            ("deny", "escalation token expired")])
        # Each refusal names the token it was shown; a known one, the
        # program it was for.
        issued = [r["token"] for r in recs if r.get("decision") ==
                  "escalate"]
        self.assertEqual(len(issued), 2)
        self.assertEqual(refused[1]["token"], issued[0])
        self.assertEqual(refused[1]["argv"], ["ewexit", "7"])
        self.assertEqual(refused[2]["token"],
                         "0123456789abcdef0123456789abcdef")
        self.assertEqual(refused[3]["token"], issued[1])
        exits = [r for r in recs if r.get("type") == "exit"]
        self.assertEqual([(x["token"], x["status"]) for x in exits],
                         [(issued[0], {"code": 7})])


if __name__ == "__main__":
    if not EXECWARD:
        sys.exit("EXECWARD is not set: run through meson test")
    unittest.main(verbosity=2)
