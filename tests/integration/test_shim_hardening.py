#!/usr/bin/env python3
"""The shim's promises under `execward run`, tested with real programs
(issue 13): the allowed records match the execs the kernel completed, one
for one, also for starts that fail after their allow and for scripts
without "#!" that libc runs through /bin/sh; an unknown working directory
is recorded with a marker or a reason; starts the kernel refuses with
E2BIG are not recorded at all.

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY.
"""
import collections
import errno
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_run as tr  # noqa: E402  (RunCase, kernel_execs)

EXECWARD = os.environ.get("EXECWARD", "")
UNDER_VALGRIND = bool(os.environ.get("EW_VG_EXECWARD"))


class Case(tr.RunCase):

    def failed(self):
        return [r for r in self.records() if r.get("type") == "failed"]

    def write(self, name, text, mode=0o755):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path


class TestFailedStarts(Case):
    """A start that fails after its allow is followed by a failed record;
    a file without "#!" that libc runs through /bin/sh is asked about as
    that /bin/sh."""

    def test_audit_matches_the_kernel_with_failing_starts(self):
        if UNDER_VALGRIND:
            self.skipTest("strace does not follow a broker under valgrind")
        strace = tr.which("strace")
        tr.which("python3")
        self.write("plain", "echo plain-ran \"$@\"\n")
        self.write("nointerp", "#!/nonexistent/interpreter\n")
        trace = os.path.join(self.dir, "trace")
        script = (
            # glibc's execvp falls back to /bin/sh for each of these.
            "printf 'a\\n' | xargs ./plain; "
            "find . -maxdepth 1 -name plain -exec ./plain {} \\; ; "
            "env ./plain e; "
            # bash runs it itself after ENOEXEC: no exec at all.
            "./plain b; "
            # CPython: ENOEXEC, no fallback.
            "python3 -c 'import subprocess\n"
            "try: subprocess.run([\"./plain\"])\n"
            "except OSError as e: print(\"py\", e.errno)'; "
            # A missing interpreter: ENOENT after the allow.
            "./nointerp 2>/dev/null; "
            "env ./nointerp 2>/dev/null; "
            "ls >/dev/null; true")
        cmd = [strace, "-f", "-qq", "-s", "256", "-e",
               "trace=execve,execveat", "-o", trace, EXECWARD, "run",
               "--rules", self.rules, "--audit", self.audit,
               "--on-prompt", "deny", "--", "bash", "-c", script]
        p = subprocess.run(cmd, env=self.env, cwd=self.dir,
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        self.assertEqual(out.count("plain-ran"), 4, out)
        self.assertIn("py %d\n" % errno.ENOEXEC, out)
        executed = tr.kernel_execs(trace)
        self.assertTrue(executed.pop(0).endswith("execward"))
        got = collections.Counter(
            os.path.realpath(os.path.join(self.dir, f)) for f in executed)
        audited = collections.Counter(os.path.realpath(r["file"])
                                      for r in self.allowed())
        self.assertEqual(got, audited)
        # Every failed record follows the allow of the same program.
        recs = {r["seq"]: r for r in self.records()}
        for f in self.failed():
            allow = recs[f["of"]]
            self.assertEqual(allow["decision"], "allow")
            self.assertEqual((allow["file"], allow["pid"]),
                             (f["file"], f["pid"]))
        why = collections.Counter((os.path.basename(f["file"]), f["errno"])
                                  for f in self.failed())
        # xargs, find, env, bash, python: five refused execs of plain.
        self.assertEqual(why[("plain", errno.ENOEXEC)], 5, why)
        self.assertEqual(why[("nointerp", errno.ENOENT)], 2, why)
        # The /bin/sh of each fallback was asked about as what it is.
        sh = [r for r in self.allowed()
              if r["argv"][:2] == ["/bin/sh", "./plain"]]
        self.assertEqual(len(sh), 3, sh)

    def test_python_subprocess_enoexec_is_recorded_as_failed(self):
        tr.which("python3")
        self.write("plain", "echo plain-ran\n")
        code = ("import subprocess\n"
                "try: subprocess.run(['./plain'])\n"
                "except OSError as e: print(e.errno)\n")
        rc, out, err = self.run_ew(["python3", "-c", code])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "%d\n" % errno.ENOEXEC)
        allow = self.find("plain")
        self.assertEqual(len(allow), 1)
        failed = self.failed()
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["of"], allow[0]["seq"])
        self.assertEqual(failed[0]["errno"], errno.ENOEXEC)
        self.assertEqual(failed[0]["error"], os.strerror(errno.ENOEXEC))
        self.assertNotIn("plain", [os.path.basename(r["file"])
                                   for r in self.allowed()])

    def test_audit_tail_shows_failed_records(self):
        self.write("plain", "echo plain-ran\n")
        rc, out, err = self.run_ew(["env", "./plain"])
        self.assertEqual(rc, 0, err)
        p = subprocess.run([EXECWARD, "audit", "tail", "--decision",
                            "failed", self.audit], capture_output=True,
                           env=self.env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("failed", lines[0])
        self.assertIn("did not start: " + os.strerror(errno.ENOEXEC),
                      lines[0])


class TestUnknownCwd(Case):
    """The shim cannot know a removed working directory or one longer
    than PATH_MAX; the broker reads /proc/PID/cwd, or says why not."""

    def test_deleted_cwd_is_read_from_proc(self):
        rc, out, err = self.run_ew(
            ["bash", "-c", "mkdir gone && cd gone && rmdir ../gone && "
             "/bin/true && echo ok"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "ok\n")
        true = self.find("true")
        self.assertEqual(len(true), 1, self.records())
        self.assertEqual(true[0]["cwd"],
                         os.path.join(self.dir, "gone") + " (deleted)")
        self.assertNotIn("cwd_error", true[0])
        # Asked, not told: the broker reads the cwd from /proc while the
        # start waits (a told start may be gone by then).
        self.assertNotIn("told", true[0])
        # A cwd that is known carries no marker.
        self.assertEqual(self.find("bash")[0]["cwd"], self.dir)
        self.assertNotIn("cwd_error", self.find("bash")[0])

    def test_cwd_past_path_max_says_why(self):
        tr.which("python3")
        # Deeper than PATH_MAX, then system() there: the shell and the
        # program it starts have a cwd nobody can name in PATH_MAX.
        code = ("import os\n"
                "for i in range(25):\n"
                "    os.mkdir('d' * 200); os.chdir('d' * 200)\n"
                "os.system('/bin/true')\n")
        rc, out, err = self.run_ew(["python3", "-c", code])
        self.assertEqual(rc, 0, err)
        recs = self.find("true") + self.find("sh", via="system")
        self.assertEqual(len(recs), 2, self.records())
        for r in recs:
            self.assertEqual(r["cwd"], "")
            self.assertIn("longer than PATH_MAX", r["cwd_error"])
            self.assertIn("/proc/%d/cwd" % r["pid"], r["cwd_error"])


class TestE2big(Case):
    """A start the kernel refuses with E2BIG is not asked about: it fails
    as the kernel would, and the audit log does not fill with it."""

    def test_refused_giant_starts_leave_no_record(self):
        tr.which("python3")
        code = (
            "import os, subprocess\n"
            "big = ['/bin/true'] + ['x' * 9] * 1000000\n"
            "n = 0\n"
            "for i in range(20):\n"
            "    try: subprocess.run(big)\n"
            "    except OSError as e: n += e.errno == 7\n"
            "try: os.execv('/bin/true', big)\n"
            "except OSError as e: n += e.errno == 7\n"
            "try: os.posix_spawn('/bin/true', big, os.environ)\n"
            "except OSError as e: n += e.errno == 7\n"
            "print(n)\n")
        rc, out, err = self.run_ew(["python3", "-c", code], timeout=300)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "22\n")
        self.assertNotIn("execward: denied", err)
        self.assertEqual([os.path.basename(r["file"])
                          for r in self.records()], ["python3"])
        self.assertLess(os.path.getsize(self.audit), 4096)

    def test_just_within_the_limit_is_asked_and_runs(self):
        tr.which("python3")
        # 200 KiB of arguments fit the 2 MiB limit of an 8 MiB stack.
        code = ("import subprocess\n"
                "subprocess.run(['/bin/true'] + ['y' * 1000] * 200,"
                " check=True)\n")
        rc, out, err = self.run_ew(["python3", "-c", code])
        self.assertEqual(rc, 0, err)
        true = self.find("true")
        self.assertEqual(len(true), 1)
        self.assertEqual(len(true[0]["argv"]), 201)


ASAN_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	char *p;

	if (argc > 1 && strcmp(argv[1], "overflow") == 0) {
		p = malloc(8);
		p[8] = 'x'; /* heap-buffer-overflow: ASan must stop here */
		printf("not caught %c\n", p[8]);
		free(p);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "system") == 0)
		return system("/bin/echo from-asan-child") != 0;
	printf("asan-ran\n");
	return 0;
}
"""


class TestSanitizers(Case):
    """Programs built with a sanitizer run under execward as they run
    without it, and the sanitizer still works in them."""

    def build(self, compiler, flags, name):
        cc = shutil.which(compiler)
        if cc is None:
            self.skipTest("%s is not installed" % compiler)
        src = self.write(name + ".c", ASAN_PROGRAM, 0o644)
        exe = os.path.join(self.dir, name)
        p = subprocess.run([cc] + flags + ["-g", "-o", exe, src],
                           capture_output=True, timeout=120)
        if p.returncode != 0:
            self.skipTest("%s %s cannot build: %s" %
                          (compiler, " ".join(flags), p.stderr[-300:]))
        # Without execward it runs: the test is about execward.
        bare = subprocess.run([exe], capture_output=True, timeout=60)
        self.assertEqual(bare.returncode, 0, bare.stderr)
        return exe

    def check_asan(self, exe):
        name = os.path.basename(exe)
        # As COMMAND itself, and as a program a shell starts.
        rc, out, err = self.run_ew([exe])
        self.assertEqual((rc, out), (0, "asan-ran\n"), err)
        rc, out, err = self.run_ew(["bash", "-c", exe + "; echo rc=$?"])
        self.assertEqual(out, "asan-ran\nrc=0\n", err)
        self.assertNotIn("does not come first", err)
        self.assertEqual([r["decision"] for r in self.find(name)],
                         ["allow", "allow"])
        self.assertEqual(self.find(name)[0]["via"], "run")
        # ASan still catches the bug, with the shim loaded.
        rc, out, err = self.run_ew(["bash", "-c", exe + " overflow"])
        self.assertNotEqual(rc, 0)
        self.assertIn("AddressSanitizer: heap-buffer-overflow", err)
        self.assertNotIn("not caught", out)
        # The shim still works inside it: its own start is decided.
        rc, out, err = self.run_ew([exe, "system"])
        self.assertEqual((rc, out), (0, "from-asan-child\n"), err)
        echo = [r for r in self.find("echo")
                if r["argv"] == ["/bin/echo", "from-asan-child"]]
        self.assertEqual(len(echo), 1, self.records())

    def test_gcc_asan_program_runs_and_asan_still_works(self):
        # gcc links the shared ASan runtime, which wants to come first.
        self.check_asan(self.build("gcc", ["-fsanitize=address"], "agcc"))

    def test_clang_shared_asan_program_runs_and_asan_still_works(self):
        clang = shutil.which("clang")
        if clang is None:
            self.skipTest("clang is not installed")
        rt = subprocess.run([clang, "-print-file-name="
                             "libclang_rt.asan-x86_64.so"],
                            capture_output=True, text=True).stdout.strip()
        self.check_asan(self.build(
            "clang", ["-fsanitize=address", "-shared-libasan",
                      "-Wl,-rpath," + os.path.dirname(rt)], "aclang"))

    def test_callers_asan_options_are_kept(self):
        exe = self.build("gcc", ["-fsanitize=address"], "aopts")
        env = dict(self.env, ASAN_OPTIONS="exitcode=42:"
                   "verify_asan_link_order=1")
        # exitcode=42 still applies; the link-order check does not.
        rc, out, err = self.run_ew(["bash", "-c", exe + " overflow"],
                                   env=env)
        self.assertEqual(rc, 42, err)
        self.assertIn("heap-buffer-overflow", err)

    def test_other_sanitizers_run(self):
        for flags, name in ((["-fsanitize=undefined"], "ubsan"),
                            (["-fsanitize=leak"], "lsan"),
                            (["-fsanitize=thread"], "tsan")):
            with self.subTest(name):
                exe = self.build("gcc", flags, name)
                rc, out, err = self.run_ew([exe])
                self.assertEqual((rc, out), (0, "asan-ran\n"), err)


class TestNested(Case):
    """`execward run` inside `execward run` (an agent running execward):
    every program of the inner tree passes both policies and is recorded
    in both audit logs."""

    def setUp(self):
        super().setUp()
        self.inner_audit = os.path.join(self.dir, "inner.jsonl")
        self.inner_rules = os.path.join(self.dir, "inner-rules")
        os.mkdir(self.inner_rules, 0o755)

    def nested(self, cmd, inner_rules="", outer_rules=""):
        with open(os.path.join(self.rules, "test.rules"), "w") as f:
            f.write(outer_rules)
        with open(os.path.join(self.inner_rules, "test.rules"), "w") as f:
            f.write(inner_rules)
        inner = [EXECWARD, "run", "--rules", self.inner_rules, "--audit",
                 self.inner_audit, "--on-prompt", "deny", "--"] + cmd
        return self.run_ew(inner)

    def inner_records(self):
        with open(self.inner_audit, "rb") as f:
            return [__import__("json").loads(l) for l in f]

    @staticmethod
    def names(recs):
        return [os.path.basename(r["file"]) for r in recs
                if "type" not in r]

    def test_both_logs_record_the_inner_tree(self):
        rc, out, err = self.nested(
            ["bash", "-c", "ls -d / && uname -s && echo $EXECWARD_SOCKET"])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[:2], ["/", "Linux"])
        inner = self.inner_records()
        self.assertEqual(self.names(inner), ["bash", "ls", "uname"])
        self.assertEqual(inner[0]["via"], "run")
        # The inner tree asked the inner broker: its own session socket.
        sessions = {r["session"] for r in inner}
        self.assertEqual(len(sessions), 1)
        self.assertNotIn(lines[2], [self.audit])
        outer = self.records()
        self.assertEqual(self.names(outer),
                         ["execward", "bash", "ls", "uname"])
        self.assertTrue(all(r["decision"] == "allow" for r in outer))

    def test_the_outer_policy_holds_inside(self):
        rc, out, err = self.nested(
            ["bash", "-c", "touch made; echo rc=$?"],
            outer_rules='prefix_rule(pattern=["touch"], decision='
                        '"forbidden", justification="not here")\n')
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "rc=126\n")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "made")))
        self.assertIn("denied by the outer execward session", err)
        self.assertIn("not here", err)
        touch = [r for r in self.inner_records()
                 if os.path.basename(r["file"]) == "touch"]
        self.assertEqual([(r["decision"], r["source"]) for r in touch],
                         [("deny", "outer")])
        self.assertIn("not here", touch[0]["reason"])
        self.assertEqual([(r["decision"], r["source"])
                          for r in self.find("touch")], [("deny", "rule")])

    def test_the_inner_policy_holds_too(self):
        rc, out, err = self.nested(
            ["bash", "-c", "touch made; echo rc=$?"],
            inner_rules='prefix_rule(pattern=["touch"], '
                        'decision="forbidden")\n')
        self.assertEqual(out, "rc=126\n", err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "made")))
        touch = [r for r in self.inner_records()
                 if os.path.basename(r["file"]) == "touch"]
        self.assertEqual([r["decision"] for r in touch], ["deny"])
        # A deny needs no second opinion: the outer broker never saw it.
        self.assertEqual(self.find("touch"), [])

    def test_a_failed_start_inside_is_recorded_in_both(self):
        tr.which("python3")
        self.write("plain", "echo plain-ran\n")
        code = ("import subprocess\n"
                "try: subprocess.run(['./plain'])\n"
                "except OSError as e: print(e.errno)\n")
        rc, out, err = self.nested(["python3", "-c", code])
        self.assertEqual((rc, out), (0, "%d\n" % errno.ENOEXEC), err)
        for recs in (self.inner_records(), self.records()):
            failed = [r for r in recs if r.get("type") == "failed"]
            self.assertEqual([(os.path.basename(r["file"]), r["errno"])
                              for r in failed],
                             [("plain", errno.ENOEXEC)], recs)

    FORBID_TOUCH = ('prefix_rule(pattern=["touch"], decision="forbidden", '
                    'justification="not here")\n')

    def write_inner(self, name, text):
        """A script for the inner tree, and the inner rules (empty)."""
        with open(os.path.join(self.inner_rules, "test.rules"), "w") as f:
            f.write("")
        with open(os.path.join(self.rules, "test.rules"), "w") as f:
            f.write(self.FORBID_TOUCH)
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_mcp_inside_asks_the_outer_broker_too(self):
        tr.which("python3")
        script = self.write_inner("mcp_inside.py", """\
import json, os, subprocess, sys
ew, rules, audit = sys.argv[1:4]
p = subprocess.Popen([ew, "mcp", "--rules", rules, "--audit", audit,
                      "--sandbox", "none", "--login", "false"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def send(obj):
    p.stdin.write((json.dumps(obj) + "\\n").encode()); p.stdin.flush()
send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                 "clientInfo": {"name": "nested", "version": "1"}}})
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
      "params": {"name": "shell", "arguments": {
          "command": "touch made; echo rc=$?", "workdir": os.getcwd()}}})
for line in p.stdout:
    m = json.loads(line)
    if m.get("id") == 2:
        print(m["result"]["content"][0]["text"])
        break
p.stdin.close()
sys.exit(p.wait())
""")
        rc, out, err = self.run_ew(
            ["python3", script, EXECWARD, self.inner_rules,
             self.inner_audit])
        self.assertEqual(rc, 0, err)
        self.assertIn("rc=126", out, err)
        self.assertIn("denied by the outer execward session", out)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "made")))
        # The inner broker decided too, and recorded the outer deny ...
        touch = [r for r in self.inner_records()
                 if os.path.basename(r["file"]) == "touch"]
        self.assertEqual([(r["decision"], r["source"]) for r in touch],
                         [("deny", "outer")], self.inner_records())
        # ... which the outer log holds as its rule's.
        self.assertEqual([(r["decision"], r["source"])
                          for r in self.find("touch")], [("deny", "rule")])

    def test_a_daemon_inside_asks_the_outer_broker_too(self):
        tr.which("python3")
        script = self.write_inner("daemon_inside.py", """\
import os, socket, struct, subprocess, sys, time
ew, rules, audit, sock = sys.argv[1:5]
p = subprocess.Popen([ew, "daemon", "--listen", sock, "--rules", rules,
                      "--audit", audit])
for _ in range(600):
    if os.path.exists(sock) or p.poll() is not None:
        break
    time.sleep(0.1)
def cstring(v):
    b = v.encode()
    return struct.pack(">I", len(b)) + b
argv = ["touch", "made"]
ask = (struct.pack(">II", 1, 1) +
       struct.pack(">III", 1, os.getpid(), os.getppid()) +
       cstring(os.getcwd()) + cstring("touch") + cstring("/usr/bin/touch") +
       struct.pack(">I", len(argv)) + b"".join(map(cstring, argv)))
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(60)
s.connect(sock)
s.send(ask)
m = s.recv(65536)
version, kind, verdict, n = struct.unpack(">IIII", m[:16])
print("verdict=%d" % verdict)
print(m[16:16 + n].decode(errors="replace"))
s.close()
p.terminate()
sys.exit(p.wait())
""")
        run = os.path.join(self.dir, "d")
        os.mkdir(run, 0o700)
        rc, out, err = self.run_ew(
            ["python3", script, EXECWARD, self.inner_rules,
             self.inner_audit, os.path.join(run, "sock")])
        self.assertEqual(rc, 0, err)
        # 2: deny, with the outer broker's reason.
        self.assertEqual(out.splitlines()[0], "verdict=2", err)
        self.assertIn("not here", out)
        touch = [r for r in self.inner_records()
                 if os.path.basename(r["file"]) == "touch"]
        self.assertEqual([(r["decision"], r["source"]) for r in touch],
                         [("deny", "outer")], self.inner_records())
        self.assertEqual([(r["decision"], r["source"])
                          for r in self.find("touch", via="execve")],
                         [("deny", "rule")])

    def test_a_daemon_chains_to_no_dead_session_but_its_own_socket(self):
        run = os.path.join(self.dir, "d")
        os.mkdir(run, 0o700)
        sock = os.path.join(run, "sock")
        argv = [EXECWARD, "daemon", "--listen", sock, "--rules", self.rules,
                "--audit", self.audit]
        # An outer session nobody answers: refused at start, saying why.
        env = dict(self.env, EXECWARD_SOCKET=os.path.join(self.dir, "gone"))
        p = subprocess.run(argv, env=env, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"inside another execward session", p.stderr)
        # Its own socket (a shell set up for its clients) is no session.
        env["EXECWARD_SOCKET"] = sock
        d = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE)
        try:
            for _ in range(600):
                if os.path.exists(sock) or d.poll() is not None:
                    break
                __import__("time").sleep(0.1)
            self.assertTrue(os.path.exists(sock))
        finally:
            d.terminate()
            _, err = d.communicate(timeout=60)
        self.assertEqual(d.returncode, 0, err)
        self.assertNotIn(b"another execward session", err)

    def test_an_outer_session_nobody_answers_refuses_at_start(self):
        env = dict(self.env, EXECWARD_SOCKET=os.path.join(self.dir, "gone"))
        p = subprocess.run([EXECWARD, "run", "--rules", self.rules,
                            "--audit", self.audit, "--", "true"], env=env,
                           capture_output=True, timeout=60, cwd=self.dir)
        self.assertEqual(p.returncode, 126)
        self.assertIn(b"inside another execward session", p.stderr)
        self.assertIn(b"unset EXECWARD_SOCKET", p.stderr)
        env["EXECWARD_FAIL"] = "open"
        p = subprocess.run([EXECWARD, "run", "--rules", self.rules,
                            "--audit", self.audit, "--", "true"], env=env,
                           capture_output=True, timeout=60, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"does not answer", p.stderr)


class TestFilesystemView(Case):
    """A new filesystem view that hides the session's socket (a tmpfs on
    its folder in a mount namespace, as PrivateTmp does for /tmp, or a
    chroot) leaves the
    shim without its broker: later starts fail closed, and the refusals
    cannot reach the audit log. Binding the socket's folder into the view,
    as the README's bubblewrap recipe does, keeps the broker reachable."""

    def setUp(self):
        super().setUp()
        self.bwrap = tr.which("bwrap")
        p = subprocess.run([self.bwrap, "--dev-bind", "/", "/", "--tmpfs",
                            "/tmp", "true"], capture_output=True)
        if p.returncode != 0:
            self.skipTest("bwrap cannot make a mount namespace here: %s" %
                          p.stderr.decode())

    def view(self, binds):
        # A tmpfs over the session socket's folder hides it, wherever
        # the broker put it.
        script = (self.bwrap + ' --dev-bind / / --tmpfs "${EXECWARD_SOCKET%/*}" ' +
                  binds + " /bin/true; echo rc=$?")
        return self.run_ew(["sh", "-c", script])

    def test_a_private_tmp_cuts_the_broker_off(self):
        rc, out, err = self.view("")
        # bwrap's own exit status for an exec that failed.
        self.assertEqual(out, "rc=1\n", err)
        self.assertIn("execvp /bin/true: Permission denied", err)
        self.assertIn("broker unreachable: connect ", err)
        # Refused, but the broker never heard of it.
        self.assertEqual(self.find("true"), [])
        self.assertEqual(len(self.find("bwrap")), 1)

    def test_binding_the_socket_folder_keeps_it_reachable(self):
        rc, out, err = self.view('--bind "${EXECWARD_SOCKET%/*}" '
                                 '"${EXECWARD_SOCKET%/*}"')
        self.assertEqual(out, "rc=0\n", err)
        self.assertEqual(len(self.find("true")), 1)


if __name__ == "__main__":
    if not EXECWARD:
        print("EXECWARD is not set (run through meson test)",
              file=sys.stderr)
        sys.exit(2)
    unittest.main(verbosity=2)
