#!/usr/bin/env python3
"""Attacks on the sandbox's one door, through `execward run --sandbox MODE`
with the shipped rules (policy/rules) and a few of the test's own: each way
out issue 11 found (by name, by environment and configuration, by the
socket, by the terminal), tried in read-only and in workspace-write, the
way a hostile command would. Each test checks that nothing was written
outside, no TCP connection left the machine's sandbox, no forbidden
program ran, and that the audit log says why an escalation was refused.

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY.
Skipped where the kernel cannot enforce the sandbox.
"""
import errno
import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from sandbox_helper import safe_copy, safe_dir, use_safe_library

use_safe_library()

EXECWARD = os.environ.get("EXECWARD", "")
HELPER = os.environ.get("EW_ESCALATE", "")
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHIPPED_RULES = safe_copy(os.path.join(TOP, "policy", "rules"))
PY = "/usr/bin/python3"
MODES = ("read-only", "workspace-write")

# The test's own rules, besides the shipped ones (which allow ls, cat,
# git status, ...).
RULES = """
prefix_rule(pattern=["id"], decision="forbidden", justification="tests")
prefix_rule(pattern=["ewbash"], decision="allow")
prefix_rule(pattern=["ewok"], decision="allow")
"""

# Programs an allow rule covers, in a folder no sandbox can write.
SCRIPTS = {
    "ewbash": "#!/bin/bash\necho ewbash ran\n",
    "ewok": "#!/bin/sh\necho ewok ran\n",
}


def sandbox_missing():
    p = subprocess.run([EXECWARD, "run", "--sandbox", "read-only",
                        "--audit", "/dev/null", "--", "/bin/true"],
                       capture_output=True,
                       env={"PATH": "/usr/bin:/bin",
                            "XDG_CONFIG_HOME": "/nonexistent",
                            "HOME": os.environ.get("HOME", "/")})
    if p.returncode == 126 and b"Landlock" in p.stderr:
        return p.stderr.decode().strip()
    return None


class Listener:
    """A TCP server on 127.0.0.1 that counts who connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.got = 0
        self.stop = False
        self.t = threading.Thread(target=self.serve)
        self.t.start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.got += 1
                c.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join(10)
        self.sock.close()


class EscapeCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        why = sandbox_missing()
        if why:
            raise unittest.SkipTest(why)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ew-esc-")
        self.outside = tempfile.mkdtemp(prefix="ew-esc-out-", dir="/var/tmp")
        os.chmod(self.outside, 0o777)
        self.bin = safe_dir(EXECWARD, "ew-esc-bin-")
        for name, text in SCRIPTS.items():
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        self.rules = os.path.join(self.bin, "test.rules")
        with open(self.rules, "w") as f:
            f.write(RULES)
        self.audit = os.path.join(self.dir, "audit.jsonl")
        self.env = dict(os.environ)
        self.env["PATH"] = self.bin + ":/usr/bin:/bin"
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        for k in ("EXECWARD_RULES", "LD_PRELOAD", "EXECWARD_SOCKET",
                  "TMPDIR", "EXECWARD_QUIET", "XDG_RUNTIME_DIR"):
            self.env.pop(k, None)
        self.net = Listener()

    def tearDown(self):
        self.net.close()
        for d in (self.dir, self.outside, self.bin):
            shutil.rmtree(d, ignore_errors=True)

    def argv(self, cmd, mode, extra=()):
        return [EXECWARD, "run", "--rules", SHIPPED_RULES, "--rules",
                self.rules, "--audit", self.audit, "--on-prompt", "deny",
                "--sandbox", mode] + list(extra) + ["--"] + list(cmd)

    def run_ew(self, script, mode, env=None, extra=()):
        p = subprocess.run(self.argv(["bash", "-c", script], mode, extra),
                           env=env or self.env, cwd=self.dir,
                           capture_output=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def records(self):
        if not os.path.exists(self.audit):
            return []
        with open(self.audit) as f:
            return [json.loads(line) for line in f]

    def nothing_escaped(self):
        """Nothing written outside, no TCP connection made."""
        self.assertEqual(os.listdir(self.outside), [])
        time.sleep(0.3)
        self.assertEqual(self.net.got, 0, "a TCP connection was made")

    def plant(self, path, text, mode=0o755):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def evil(self, tag):
        """A script that writes outside and connects out."""
        return ("#!/bin/bash\necho %s > %s/%s\n"
                "exec 3<>/dev/tcp/127.0.0.1/%d\n"
                % (tag, self.outside, tag, self.net.port))

    def refused(self, pred):
        """The records of what pred picks; each ran inside, and says why
        its escalation was refused."""
        recs = [r for r in self.records() if pred(r)]
        self.assertTrue(recs, self.records())
        for r in recs:
            self.assertIn(r["decision"], ("allow", "deny"), r)
            if r["decision"] == "allow":
                self.assertIn("sandbox", r, r)
                self.assertTrue(r.get("escalation", "").startswith(
                    "refused: "), r)
            self.assertNotIn("token", r, r)
        return recs


class SafeWorkspace(EscapeCase):

    def setUp(self):
        super().setUp()
        # A workspace outside /tmp, so that what is refused is refused
        # for being the workspace's, not for /tmp's mode.
        shutil.rmtree(self.dir)
        self.dir = safe_dir(EXECWARD, "ew-esc-ws-")
        self.audit = os.path.join(self.dir, "audit.jsonl")


class TestByName(SafeWorkspace):
    """Repro 1: a script or symlink named after an allowed program."""

    def test_a_script_named_ls_runs_inside(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                tag = "ls-" + mode
                script = self.evil(tag)
                if mode == "workspace-write":
                    # The attacker writes it itself.
                    cmd = ("mkdir -p .x && printf '%%s' %s > .x/ls && "
                           "chmod +x .x/ls; ./.x/ls; echo rc=$?"
                           % shlex_quote(script))
                else:
                    # Read-only: an earlier workspace-write session did.
                    self.plant(os.path.join(self.dir, ".x", "ls"), script)
                    cmd = "./.x/ls; echo rc=$?"
                rc, out, err = self.run_ew(cmd, mode)
                self.assertEqual(rc, 0, err)
                self.assertIn("rc=1", out, err)
                self.nothing_escaped()
                recs = self.refused(
                    lambda r: r.get("file", "").endswith("/.x/ls"))
                why = recs[-1]["escalation"]
                self.assertEqual(why, "refused: %s/.x/ls lies in the "
                                 "sandbox's %s %s" % (
                                     self.dir, "workspace" if mode ==
                                     "read-only" else "writable root",
                                     self.dir))
                shutil.rmtree(os.path.join(self.dir, ".x"))
                os.unlink(self.audit)

    def test_a_program_planted_in_a_shared_folder_runs_inside(self):
        # /var/tmp is no writable root, but anyone may write it: an
        # earlier session (or another user) may have put it there.
        shared = tempfile.mkdtemp(prefix="ew-esc-plant-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, shared, True)
        os.chmod(shared, 0o1777)
        self.plant(os.path.join(shared, "ls"), self.evil("shared"))
        for mode in MODES:
            with self.subTest(mode=mode):
                rc, out, err = self.run_ew("%s/ls; echo rc=$?" % shared,
                                           mode)
                self.assertIn("rc=1", out, err)
                self.nothing_escaped()
                recs = self.refused(
                    lambda r: r.get("file") == shared + "/ls")
                self.assertIn("is writable by others (mode 1777)",
                              recs[-1]["escalation"])
                os.unlink(self.audit)

    def test_a_symlink_to_a_forbidden_program_is_denied(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                if mode == "workspace-write":
                    cmd = "ln -s /usr/bin/id cat && ./cat; echo rc=$?"
                else:
                    os.symlink("/usr/bin/id", os.path.join(self.dir, "cat"))
                    cmd = "./cat; echo rc=$?"
                rc, out, err = self.run_ew(cmd, mode)
                self.assertIn("rc=126", out, err)
                self.assertIn("execward: denied: ./cat: forbidden by "
                              "policy: tests", err)
                self.assertNotIn("uid=", out)
                recs = [r for r in self.records()
                        if r.get("called") == "./cat"]
                self.assertEqual([(r["decision"], r.get("real"))
                                  for r in recs],
                                 [("deny", "/usr/bin/id")], recs)
                os.unlink(os.path.join(self.dir, "cat"))
                os.unlink(self.audit)

    def test_a_symlink_to_a_program_no_rule_allows_runs_inside(self):
        # whoami has no rule: named cat, it would have left as cat.
        for mode in MODES:
            with self.subTest(mode=mode):
                link = os.path.join(self.dir, "cat")
                os.symlink("/usr/bin/touch", link)
                target = os.path.join(self.outside, "t-" + mode)
                rc, out, err = self.run_ew("./cat %s; echo rc=$?" % target,
                                           mode)
                self.assertIn("rc=1", out, err)
                self.nothing_escaped()
                recs = self.refused(lambda r: r.get("called") == "./cat")
                self.assertEqual(recs[-1]["escalation"],
                                 "refused: the real file /usr/bin/touch is "
                                 "not covered by allow rules")
                os.unlink(link)
                os.unlink(self.audit)

    # Asks the broker as a shim would, for argv[1] (an absolute path),
    # says so, waits for a line on stdin (the test replaces the program
    # meanwhile), then runs execward-escalate with the token.
    ASK_THEN_REDEEM = r"""
import os, socket, struct, sys
def s(x):
    b = x.encode(); return struct.pack('>I', len(b)) + b
prog, helper = sys.argv[1:3]
argv = [os.path.basename(prog)]
msg = (struct.pack('>IIIII', 1, 1, 1, os.getpid(), os.getppid())
       + s(os.getcwd()) + s(prog) + s(prog)
       + struct.pack('>I', len(argv)) + b''.join(map(s, argv)))
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.connect(os.environ['EXECWARD_SOCKET'])
c.send(msg)
a = c.recv(4096)
verdict, = struct.unpack('>I', a[8:12])
n, = struct.unpack('>I', a[12:16])
m, = struct.unpack('>I', a[16 + n:20 + n])
token = a[20 + n:20 + n + m].decode()
print('verdict', verdict, flush=True)
sys.stdin.readline()
os.execv(helper, ['execward-escalate', token])
"""

    def test_replaced_between_the_answer_and_the_redemption(self):
        if not HELPER:
            self.skipTest("EW_ESCALATE is not set")
        prog = os.path.join(self.bin, "ewok")
        script = os.path.join(self.dir, "ask.py")
        with open(script, "w") as f:
            f.write(self.ASK_THEN_REDEEM)
        for mode in MODES:
            with self.subTest(mode=mode):
                self.plant(prog, SCRIPTS["ewok"])
                p = subprocess.Popen(
                    self.argv([PY, script, prog, HELPER], mode),
                    env=self.env, cwd=self.dir, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                line = p.stdout.readline()
                self.assertEqual(line, b"verdict 3\n")
                # Replaced (its old inode kept, so the new one differs).
                os.rename(prog, prog + ".old")
                self.plant(prog, self.evil("replaced-" + mode))
                out, err = p.communicate(b"go\n", timeout=60)
                self.nothing_escaped()
                recs = [r for r in self.records()
                        if r.get("via") == "execward-escalate"]
                self.assertEqual(len(recs), 1, self.records())
                self.assertEqual((recs[0]["decision"], recs[0]["sandbox"]),
                                 ("allow", mode))
                self.assertEqual(recs[0]["escalation"],
                                 "refused: %s is no longer the file that "
                                 "was resolved" % prog)
                self.assertFalse([r for r in self.records()
                                  if r.get("type") == "exit"])
                for f in (self.audit, prog + ".old"):
                    os.unlink(f)

    def test_an_allowed_program_still_escalates(self):
        # The control: the same door, for what it is for.
        for mode in MODES:
            with self.subTest(mode=mode):
                rc, out, err = self.run_ew(
                    "ewok > /dev/null; cat /etc/passwd > /dev/null; "
                    "ls %s; echo rc=$?" % self.outside, mode)
                self.assertIn("rc=0", out, err)
                esc = [r for r in self.records()
                       if r.get("decision") == "escalate"]
                self.assertEqual(sorted(os.path.basename(r["file"])
                                        for r in esc),
                                 ["cat", "ewok", "ls"], self.records())
                os.unlink(self.audit)


class TestByEnvironment(EscapeCase):
    """Repro 2: what the caller's environment and configuration make an
    escalated program run."""

    def git_repo(self, config=""):
        repo = os.path.join(self.dir, "repo")
        subprocess.run(["git", "init", "-q", repo], check=True)
        if config:
            with open(os.path.join(repo, ".git", "config"), "a") as f:
                f.write(config)
        return repo

    def test_git_config_from_the_environment_does_not_cross(self):
        if shutil.which("git") is None:
            self.skipTest("git is not installed")
        self.git_repo()
        for mode in MODES:
            with self.subTest(mode=mode):
                hook = "echo x > %s/env-%s; false" % (self.outside, mode)
                rc, out, err = self.run_ew(
                    "cd repo && GIT_CONFIG_COUNT=1 "
                    "GIT_CONFIG_KEY_0=core.fsmonitor "
                    "GIT_CONFIG_VALUE_0=%s git status >/dev/null; "
                    "echo rc=$?" % shlex_quote(hook), mode)
                self.assertIn("rc=0", out, err)
                self.nothing_escaped()
                git = [r for r in self.records() if "decision" in r and
                       r["argv"][:2] == ["git", "status"]]
                self.assertEqual([r["decision"] for r in git], ["escalate"])
                os.unlink(self.audit)

    def test_bash_env_does_not_reach_an_escalated_bash(self):
        evil = os.path.join(self.dir, "evil.sh")
        self.plant(evil, "echo x > %s/bash-env\n" % self.outside)
        for mode in MODES:
            with self.subTest(mode=mode):
                rc, out, err = self.run_ew(
                    "BASH_ENV=%s ENV=%s ewbash </dev/null" % (evil, evil),
                    mode)
                self.assertEqual(out, "ewbash ran\n", err)
                self.nothing_escaped()
                esc = [r for r in self.records()
                       if r.get("decision") == "escalate"]
                self.assertEqual(len(esc), 1, self.records())
                os.unlink(self.audit)

    def test_git_hooks_of_an_escalated_git_run_confined(self):
        """The workspace's .git/config sets core.fsmonitor and core.pager
        to commands that write outside; git status, allowed by the
        shipped rules, is escalated; the hooks run confined. On a real
        terminal, so that git starts its pager."""
        if shutil.which("git") is None:
            self.skipTest("git is not installed")
        # (Quoted: ";" starts a comment in git's config files.)
        config = ("[core]\n\tfsmonitor = \"echo fsm > %(o)s/fsm; false\"\n"
                  "\tpager = \"echo pager > %(o)s/pager; cat\"\n"
                  "[pager]\n\tstatus = true\n" % {"o": self.outside})
        self.git_repo(config)
        for mode in MODES:
            with self.subTest(mode=mode):
                rc, buf = self.on_pty(
                    ["bash", "-c", "cd repo && git status; echo rc=$?"],
                    mode)
                self.assertIn(b"rc=0", buf, self.records())
                self.assertIn(b"No commits yet", buf)
                self.nothing_escaped()
                recs = self.records()
                git = [r for r in recs if "decision" in r and
                       r["argv"][:2] == ["git", "status"]]
                self.assertEqual([r["decision"] for r in git], ["escalate"])
                hooks = [r for r in recs if r.get("via") == "execve" and
                         "/bin/sh" in r.get("file", "") and
                         any("fsm" in a or "pager" in a
                             for a in r["argv"])]
                kinds = set()
                for r in hooks:
                    self.assertEqual(r["decision"], "allow", r)
                    self.assertEqual(r["sandbox"], mode, r)
                    self.assertIn("asked for by a program outside the "
                                  "sandbox", r["confined"])
                    kinds.add("pager" if "pager" in " ".join(r["argv"])
                              else "fsmonitor")
                self.assertEqual(kinds, {"pager", "fsmonitor"}, recs)
                os.unlink(self.audit)

    def on_pty(self, cmd, mode):
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.dir)
            os.execve(EXECWARD, self.argv(cmd, mode), self.env)
        buf = b""
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if select.select([fd], [], [], 1)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
            elif os.waitpid(pid, os.WNOHANG)[0]:
                pid = 0
                break
        if pid:
            _, st = os.waitpid(pid, 0)
        else:
            st = 0
        os.close(fd)
        return st, buf


class TestBySocket(EscapeCase):
    """Repro 3: the session socket, where the sandbox cannot touch it."""

    ATTACK = r"""
import os, socket, sys
path = os.environ["EXECWARD_SOCKET"]
d = os.path.dirname(path)
results = []
for what, fn in (
        ("rename", lambda: os.rename(path, path + ".x")),
        ("unlink", lambda: os.unlink(path)),
        ("bind", lambda: socket.socket(socket.AF_UNIX,
                                       socket.SOCK_SEQPACKET).bind(d + "/evil")),
        ("outside", lambda: os.rename(path, os.environ["OUT"] + "/s")),
        ("rmdir", lambda: os.rmdir(d))):
    try:
        fn()
        results.append(what + "=done")
    except OSError as e:
        results.append(what + "=" + str(e.errno))
print(" ".join(results))
"""

    def test_the_socket_cannot_be_renamed_or_replaced(self):
        attack = os.path.join(self.dir, "attack.py")
        with open(attack, "w") as f:
            f.write(self.ATTACK)
        env = dict(self.env)
        env["OUT"] = self.outside
        for mode in MODES:
            with self.subTest(mode=mode):
                rc, out, err = self.run_ew(
                    "%s %s; ewok </dev/null; echo rc=$?" % (PY, attack),
                    mode, env=env)
                eacces = str(errno.EACCES)
                self.assertEqual(out.splitlines()[0], " ".join(
                    "%s=%s" % (w, eacces) for w in
                    ("rename", "unlink", "bind", "outside", "rmdir")), err)
                # The session went on: the broker answered, escalated
                # ewok and recorded it.
                self.assertIn("ewok ran\nrc=0", out, err)
                esc = [r for r in self.records()
                       if r.get("decision") == "escalate"]
                self.assertEqual([os.path.basename(r["file"]) for r in esc],
                                 ["ewok"])
                self.nothing_escaped()
                os.unlink(self.audit)

    def test_a_writable_root_that_holds_the_socket_is_refused(self):
        # The attacker's version of the set-up: XDG_RUNTIME_DIR in the
        # workspace, or under /tmp, where workspace-write may write.
        for where in (os.path.join(self.dir, "run"),
                      tempfile.mkdtemp(prefix="ew-esc-run-")):
            os.makedirs(where, mode=0o700, exist_ok=True)
            os.chmod(where, 0o700)
            env = dict(self.env)
            env["XDG_RUNTIME_DIR"] = where
            rc, out, err = self.run_ew("ewok; echo ran", "workspace-write",
                                       env=env)
            self.assertEqual(rc, 126, err)
            self.assertEqual(out, "")
            self.assertIn("the session's socket folder %s/execward." % where,
                          err)
            self.assertIn("lies in the sandbox's writable root", err)
            self.assertIn("set XDG_RUNTIME_DIR", err)
            # Read-only writes nowhere: there it is fine.
            rc, out, err = self.run_ew("ewok </dev/null", "read-only",
                                       env=env)
            self.assertEqual((rc, out), (0, "ewok ran\n"), err)
            shutil.rmtree(where, ignore_errors=True)
        self.assertFalse(os.path.exists(os.path.join(self.outside, "x")))

    def test_a_confined_process_gains_nothing_from_the_outside_socket(self):
        # It can find the outside socket (the same folder) and ask there:
        # what no rule lets out is confined again, and anything else runs
        # in place, which for it is inside.
        for mode in MODES:
            with self.subTest(mode=mode):
                target = os.path.join(self.outside, "o-" + mode)
                rc, out, err = self.run_ew(
                    "EXECWARD_SOCKET=$(dirname $EXECWARD_SOCKET)/o "
                    "%s -c 'import os; os.execv(\"/usr/bin/touch\", "
                    "[\"touch\", \"%s\"])'; echo rc=$?; ls -d %s; "
                    "echo rc2=$?" % (PY, target, target), mode)
                self.assertIn("rc=1", out, err)
                self.nothing_escaped()
                os.unlink(self.audit)


class TestOutOfReach(SafeWorkspace):
    """What escalation trusts besides the socket: the rules, the shim every
    escalated program loads, the helper its shim runs. A sandbox that
    could rewrite them is refused before anything runs."""

    def refused_at_start(self, cmd, mode, env, *expect):
        p = subprocess.run(self.argv(cmd, mode), env=env, cwd=self.dir,
                           capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 126, err)
        self.assertEqual(p.stdout, b"")
        for e in expect:
            self.assertIn(e, err)
        self.assertFalse(os.path.exists(self.audit) and any(
            r.get("via") == "run" for r in self.records()))

    def test_rules_the_sandbox_could_rewrite(self):
        rules = os.path.join(self.dir, "mine.rules")
        with open(rules, "w") as f:
            f.write('prefix_rule(pattern=["ewok"], decision="allow")\n')
        argv = [EXECWARD, "run", "--rules", rules, "--audit", self.audit,
                "--sandbox", "workspace-write", "--", "ewok"]
        p = subprocess.run(argv, env=self.env, cwd=self.dir,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 126, p.stderr)
        self.assertIn("the rules %s lie in the sandbox's writable root %s"
                      % (rules, self.dir), p.stderr.decode())
        # The default folder, not there yet, but where it could be made.
        env = dict(self.env)
        env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        argv = [EXECWARD, "run", "--audit", self.audit, "--sandbox",
                "workspace-write", "--", "ewok"]
        p = subprocess.run(argv, env=env, cwd=self.dir,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 126, p.stderr)
        self.assertIn("config/execward/rules lie in the sandbox's "
                      "writable root", p.stderr.decode())
        # Read-only writes nowhere: the same rules are fine there.
        argv = [EXECWARD, "run", "--rules", rules, "--audit", self.audit,
                "--sandbox", "read-only", "--", "ewok"]
        p = subprocess.run(argv, env=self.env, cwd=self.dir,
                           capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout), (0, b"ewok ran\n"),
                         p.stderr)

    def test_a_shim_or_helper_the_sandbox_could_replace(self):
        lib = os.environ.get("EXECWARD_LIBRARY", "")
        if not lib:
            self.skipTest("EXECWARD_LIBRARY is not set")
        # execward from a tree inside the workspace: what every escalated
        # program would load, a sandboxed command could rewrite.
        tree = os.path.join(self.dir, "tree")
        os.mkdir(tree)
        for f in (lib, os.path.join(os.path.dirname(lib),
                                    "execward-escalate")):
            shutil.copy2(f, tree)
        env = dict(self.env)
        env["EXECWARD_LIBRARY"] = os.path.join(tree, "libexecward.so")
        for mode in MODES:
            with self.subTest(mode=mode):
                self.refused_at_start(
                    ["ewok"], mode, env,
                    "%s/libexecward.so runs outside the sandbox for every "
                    "escalated program, but a sandboxed command could "
                    "replace it" % tree,
                    "lies in the sandbox's %s %s" % (
                        "workspace" if mode == "read-only"
                        else "writable root", self.dir))


class TestByTerminal(EscapeCase):
    """Repro 4: typing into the user's terminal."""

    PROBE = r"""
import ctypes, os, termios
libc = ctypes.CDLL(None, use_errno=True)
libc.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
TIOCLINUX = 0x541C
out = []
# The high variant sets bits the kernel ignores in ioctl's request.
for name, req in (("sti", termios.TIOCSTI), ("sti-high",
                  termios.TIOCSTI | (1 << 32)), ("linux", TIOCLINUX)):
    arg = ctypes.c_char(b"x")
    r = libc.ioctl(0, req, ctypes.addressof(arg))
    out.append("%s=%d" % (name, 0 if r == 0 else ctypes.get_errno()))
os.write(1, (" ".join(out) + "\n").encode())
"""

    def probe_on_pty(self, cmd):
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.dir)
            os.execve(cmd[0], cmd, self.env)
        buf = b""
        end = time.monotonic() + 60
        while b"linux=" not in buf and time.monotonic() < end:
            if select.select([fd], [], [], 1)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
        os.waitpid(pid, 0)
        os.close(fd)
        line = [l for l in buf.decode(errors="replace").splitlines()
                if "linux=" in l]
        self.assertTrue(line, buf)
        return dict(kv.split("=") for kv in line[-1].split())

    def test_tiocsti_and_tioclinux_are_refused_inside(self):
        # Unconfined, on the same pty: not refused with EPERM (TIOCLINUX
        # is not a pty's; TIOCSTI may work or be off by sysctl).
        got = self.probe_on_pty([PY, "-c", self.PROBE])
        self.assertNotEqual(got["linux"], str(errno.EPERM), got)
        for mode in MODES:
            with self.subTest(mode=mode):
                got = self.probe_on_pty(
                    self.argv([PY, "-c", self.PROBE], mode))
                self.assertEqual(got, {"sti": str(errno.EPERM),
                                       "sti-high": str(errno.EPERM),
                                       "linux": str(errno.EPERM)})


def shlex_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    if not EXECWARD:
        sys.exit("EXECWARD is not set: run through meson test")
    unittest.main(verbosity=2)
