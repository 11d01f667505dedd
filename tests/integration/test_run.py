#!/usr/bin/env python3
"""Integration tests for `execward run` with the preload shim: real
programs run under a private broker, and each test checks what they
observably did and what the audit log recorded.

Environment (set by meson): EXECWARD (the built program), EW_SPAWN_THREADS
(tests/integration/spawn_threads), EW_ENTRY_POINTS (tests/helpers program
calling one libc entry point per mode), EW_BUILD_ROOT.
"""
import collections
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

EXECWARD = os.environ.get("EXECWARD", "")
SPAWN_THREADS = os.environ.get("EW_SPAWN_THREADS", "")
ENTRY_POINTS = os.environ.get("EW_ENTRY_POINTS", "")


def which(name):
    path = shutil.which(name)
    if path is None:
        raise unittest.SkipTest("%s is not installed" % name)
    return path


class RunCase(unittest.TestCase):
    """A temp folder with a rules file and an audit log per test."""

    rules_text = ""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ew-run-")
        self.audit = os.path.join(self.dir, "audit.jsonl")
        self.rules = os.path.join(self.dir, "rules")
        os.mkdir(self.rules, 0o755)
        with open(os.path.join(self.rules, "test.rules"), "w") as f:
            f.write(self.rules_text)
        self.env = dict(os.environ)
        # A private, empty rules default so the user's own rules do not
        # leak into the tests.
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        self.env.pop("EXECWARD_RULES", None)
        self.env.pop("LD_PRELOAD", None)
        self.env.pop("EXECWARD_SOCKET", None)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_ew(self, cmd, opts=(), env=None, timeout=120, input=None,
               cwd=None):
        full = [EXECWARD, "run", "--rules", self.rules, "--audit",
                self.audit, "--on-prompt", "deny"] + list(opts) + ["--"] + \
            list(cmd)
        p = subprocess.run(full, env=env or self.env, cwd=cwd or self.dir,
                           input=input, capture_output=True,
                           timeout=timeout, stdin=None if input else
                           subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")

    def records(self):
        out = []
        if not os.path.exists(self.audit):
            return out
        with open(self.audit, "rb") as f:
            for line in f:
                self.assertTrue(line.endswith(b"\n"), "torn line %r" % line)
                out.append(json.loads(line))
        return out

    def allowed(self):
        """The allow records of starts that happened: those no "failed"
        record (a start that failed after its allow) points back to."""
        recs = self.records()
        failed = {r["of"] for r in recs if r.get("type") == "failed"}
        return [r for r in recs if r.get("decision") == "allow" and
                r["seq"] not in failed]

    def find(self, base, via=None, records=None):
        """The decision records (not exit or failed ones) of a program."""
        recs = records if records is not None else self.records()
        return [r for r in recs
                if "type" not in r and os.path.basename(r["file"]) == base
                and (via is None or r["via"] == via)]


class TestBasics(RunCase):

    def test_command_itself_is_decided_and_recorded(self):
        rc, out, err = self.run_ew(["echo", "hello"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "hello\n")
        recs = self.records()
        self.assertEqual(len(recs), 1)
        r = recs[0]
        self.assertEqual(r["via"], "run")
        self.assertEqual(r["argv"], ["echo", "hello"])
        self.assertEqual(r["called"], "echo")
        self.assertTrue(os.path.isabs(r["file"]))
        self.assertEqual(r["decision"], "allow")
        self.assertEqual(r["cwd"], self.dir)
        for key in ("ts", "seq", "session", "pid", "ppid", "uid", "source",
                    "rules", "justification", "prompt", "latency_us"):
            self.assertIn(key, r)

    def test_exit_status_and_signal_death_propagate(self):
        rc, _, _ = self.run_ew(["sh", "-c", "exit 7"])
        self.assertEqual(rc, 7)
        rc, _, _ = self.run_ew(["sh", "-c", "kill -TERM $$"])
        self.assertEqual(rc, 128 + signal.SIGTERM)
        rc, _, _ = self.run_ew(["bash", "-c", "kill -KILL $$"])
        self.assertEqual(rc, 128 + signal.SIGKILL)

    def test_audit_rotation_keeps_every_record(self):
        rc, out, err = self.run_ew(
            ["bash", "-c", "for i in $(seq 20); do /bin/true; done"],
            opts=["--audit-max-bytes", "2000", "--audit-keep", "50"])
        self.assertEqual(rc, 0, err)
        recs = []
        for name in sorted(os.listdir(self.dir)):
            if name.startswith("audit.jsonl"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    data = f.read()
                self.assertLessEqual(len(data), 2000, name)
                self.assertTrue(data.endswith(b"\n"), name)
                recs += [json.loads(l) for l in data.splitlines()]
        self.assertGreater(len([n for n in os.listdir(self.dir)
                                if n.startswith("audit.jsonl.")]), 3)
        self.assertEqual(sorted(r["seq"] for r in recs),
                         list(range(1, len(recs) + 1)))
        self.assertEqual(len([r for r in recs
                              if r["argv"] == ["/bin/true"]]), 20)

    def test_missing_command(self):
        rc, _, err = self.run_ew(["no-such-command-ew"])
        self.assertEqual(rc, 127)
        self.assertIn("command not found", err)
        self.assertEqual(self.records(), [])

    def test_bad_option_is_a_usage_error(self):
        p = subprocess.run([EXECWARD, "run", "--on-prompt", "maybe", "--",
                            "true"], capture_output=True, env=self.env)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--on-prompt", p.stderr)
        self.assertEqual(p.stderr.count(b"\n"), 1 + p.stderr.count(b"usage")
                         * 0, p.stderr)

    def test_shebangless_script_runs_through_sh_fallback(self):
        script = os.path.join(self.dir, "plain")
        with open(script, "w") as f:
            f.write("echo plain-ran $1\n")
        os.chmod(script, 0o755)
        # env uses execvp, whose ENOEXEC fallback runs /bin/sh plain:
        # asked about as that, after the failed exec of plain is recorded.
        rc, out, err = self.run_ew(["env", "./plain", "arg"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "plain-ran arg\n")
        recs = self.find("plain", via="execvp")
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["file"], script)
        failed = [r for r in self.records() if r.get("type") == "failed"]
        self.assertEqual([(r["of"], r["errno"], r["file"]) for r in failed],
                         [(recs[0]["seq"], errno.ENOEXEC, script)])
        sh = [r for r in self.allowed() if r["via"] == "execvp"]
        self.assertEqual([r["argv"] for r in sh],
                         [["/bin/sh", "./plain", "arg"]])

    def test_no_execward_fd_reaches_the_program(self):
        code = ("import os\n"
                "for fd in sorted(os.listdir('/proc/self/fd')):\n"
                "    try: print(fd, os.readlink('/proc/self/fd/' + fd))\n"
                "    except OSError: pass\n")
        rc, out, err = self.run_ew(
            ["bash", "-c", "python3 -c \"$0\"", code])
        self.assertEqual(rc, 0, err)
        lines = out.strip().splitlines()
        self.assertGreaterEqual(len(lines), 3)
        for line in lines:
            fd, target = line.split(" ", 1)
            self.assertNotIn("socket:", target, out)
            self.assertNotIn("memfd:", target, out)
            self.assertNotIn("execward", target, out)
        # 0, 1, 2 and the one listdir opened: nothing else.
        self.assertLessEqual(len(lines), 4, out)


class TestRealPrograms(RunCase):

    def check_ran(self, base, via=None, count=1):
        got = self.find(base, via=via)
        self.assertEqual(len(got), count,
                         "%s via %s: %r" % (base, via, self.records()))
        return got

    def test_bash_pipelines_subshells_exec_substitution(self):
        which("bash")
        rc, out, err = self.run_ew(["bash", "-c",
                                    "echo a | tr a b; (cd / && ls -d usr); "
                                    "x=$(uname -s); echo $x; "
                                    "exec printf 'done\\n'"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "b\nusr\nLinux\ndone\n")
        self.check_ran("tr")
        self.check_ran("ls")
        self.check_ran("uname")
        r = self.check_ran("printf")[0]
        self.assertEqual(r["argv"], ["printf", "done\\n"])

    def test_dash_vfork_path(self):
        which("dash")
        rc, out, err = self.run_ew(["dash", "-c",
                                    "ls -d / ; uname -s; id -u >/dev/null"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "/\nLinux\n")
        for base in ("ls", "uname", "id"):
            self.check_ran(base, via="execve")

    def test_python_entry_points(self):
        which("python3")
        code = """
import os, subprocess
subprocess.run(["echo", "sp"], check=True)
pid = os.posix_spawn("/bin/echo", ["echo", "ps"], os.environ)
os.waitpid(pid, 0)
os.system("/bin/echo sys")
print(os.popen("/bin/echo po").read(), end="", flush=True)
os.execvp("echo", ["echo", "ex"])
"""
        rc, out, err = self.run_ew(["python3", "-c", code])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "sp\nps\nsys\npo\nex\n")
        recs = self.records()
        echo = [r for r in recs if os.path.basename(r["file"]) == "echo"]
        self.assertEqual(sorted(r["argv"][1] for r in echo),
                         ["ex", "po", "ps", "sp", "sys"])
        self.assertEqual(len(self.find("sh", via="system")), 1)
        # os.popen is subprocess with shell=True, not libc's popen.
        self.assertEqual(
            len([r for r in self.find("sh") if r["argv"][1:2] == ["-c"]
                 and r["via"] != "system"]), 1)
        self.assertEqual(
            [r["via"] for r in echo if r["argv"][1] == "ps"],
            ["posix_spawn"])
        # os.execvp tries execv on each PATH entry in turn: the misses
        # leave no record, the hit leaves one.
        self.assertEqual(
            [r["via"] for r in echo if r["argv"][1] == "ex"], ["execv"])

    def test_perl_system_backticks_exec(self):
        which("perl")
        code = ('system("echo", "ps"); print `echo bt`; '
                '$| = 1; exec("echo", "pe");')
        rc, out, err = self.run_ew(["perl", "-e", code])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "ps\nbt\npe\n")
        echo = self.find("echo")
        self.assertEqual(sorted(r["argv"][1] for r in echo),
                         ["bt", "pe", "ps"])

    def test_make_recipes(self):
        which("make")
        with open(os.path.join(self.dir, "Makefile"), "w") as f:
            f.write("all: out\n\tcat out\n"
                    "out:\n\techo made > out\n\ttouch stamp\n")
        rc, out, err = self.run_ew(["make", "-s"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "made\n")
        self.assertTrue(os.path.exists(os.path.join(self.dir, "stamp")))
        self.check_ran("make", via="run")
        self.check_ran("touch")
        self.check_ran("cat")

    def test_xargs_find_env_nohup_timeout(self):
        for name in ("a.txt", "b.txt"):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(name + "\n")
        script = ("printf 'x\\ny\\n' | xargs -n1 echo; "
                  "find . -name '*.txt' -exec cat {} \\; | sort; "
                  "env -i /usr/bin/printf 'envi\\n'; "
                  "nohup echo nohup-ran 2>/dev/null; "
                  "timeout 10 echo timeout-ran")
        rc, out, err = self.run_ew(["bash", "-c", script])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "x\ny\na.txt\nb.txt\nenvi\nnohup-ran\n"
                         "timeout-ran\n")
        self.assertEqual(
            sorted(r["argv"][-1] for r in self.find("echo")),
            ["nohup-ran", "timeout-ran", "x", "y"])
        self.check_ran("cat", count=2)
        # env -i cleared the environment, yet printf was still asked.
        self.check_ran("printf", via="execvp")

    def test_audit_matches_what_the_kernel_executed(self):
        if os.environ.get("EW_VG_EXECWARD"):
            self.skipTest("strace does not follow a broker under valgrind")
        strace = which("strace")
        trace = os.path.join(self.dir, "trace")
        with open(os.path.join(self.dir, "Makefile"), "w") as f:
            f.write("all:\n\t@echo mk | tr m M\n")
        script = ("ls / >/dev/null; echo a | tr a b >/dev/null; "
                  "printf '1\\n2\\n' | xargs -n1 true; "
                  "python3 -c 'import subprocess; "
                  "subprocess.run([\"true\"]); subprocess.run(\"true\", "
                  "shell=True)'; make -s >/dev/null; "
                  "env -i /usr/bin/true; sh -c 'uname; id' >/dev/null; "
                  "find . -maxdepth 0 -exec true {} \\;")
        cmd = [strace, "-f", "-qq", "-s", "256", "-e",
               "trace=execve,execveat", "-o", trace, EXECWARD, "run",
               "--rules", self.rules, "--audit", self.audit,
               "--on-prompt", "deny", "--", "bash", "-c", script]
        p = subprocess.run(cmd, env=self.env, cwd=self.dir,
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        executed = kernel_execs(trace)
        # The first exec is strace starting execward itself.
        first = executed.pop(0)
        self.assertTrue(first.endswith("execward"), first)
        got = collections.Counter(os.path.realpath(f) for f in executed)
        audited = collections.Counter(os.path.realpath(r["file"])
                                      for r in self.allowed())
        self.assertEqual(got, audited)
        self.assertGreater(sum(got.values()), 12)


def kernel_execs(path):
    """The programs whose execve/execveat returned 0, in order, from an
    `strace -f` log, joining the <unfinished ...> / <... resumed> halves."""
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


class TestDeny(RunCase):
    rules_text = ('prefix_rule(pattern=["rm"], decision="forbidden", '
                  'justification="never delete files here")\n')

    def test_forbidden_rm_fails_and_file_survives(self):
        keep = os.path.join(self.dir, "keep")
        open(keep, "w").close()
        rc, out, err = self.run_ew(["bash", "-c", "rm -f keep; echo rc=$?"])
        self.assertEqual(rc, 0, err)
        m = re.match(r"rc=(\d+)\n", out)
        self.assertIsNotNone(m, out)
        self.assertNotEqual(m.group(1), "0")
        self.assertTrue(os.path.exists(keep))
        line = [l for l in err.splitlines() if "execward: denied:" in l]
        self.assertEqual(len(line), 1, err)
        self.assertIn("rm -f keep", line[0])
        self.assertIn("never delete files here", line[0])
        recs = self.find("rm")
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["decision"], "deny")
        self.assertEqual(recs[0]["source"], "rule")
        self.assertEqual(recs[0]["justification"],
                         "never delete files here")

    def test_quiet_silences_the_line(self):
        env = dict(self.env, EXECWARD_QUIET="1")
        rc, out, err = self.run_ew(["bash", "-c", "rm -f x; echo rc=$?"],
                                   env=env)
        self.assertNotIn("execward: denied", err)

    def test_denied_command_itself(self):
        rc, out, err = self.run_ew(["rm", "-f", "nothing"])
        self.assertEqual(rc, 126)
        self.assertIn("execward: denied: rm -f nothing", err)
        self.assertEqual(self.records()[0]["via"], "run")


class TestPrompt(RunCase):
    rules_text = ('prefix_rule(pattern=["git", "push"], decision="prompt", '
                  'justification="pushing needs a person")\n')

    def test_no_terminal_means_deny(self):
        rc, out, err = self.run_ew(["bash", "-c",
                                    "git push 2>/dev/null; echo rc=$?"])
        self.assertIn("rc=126", out)
        r = self.find("git")[0]
        self.assertEqual(r["decision"], "deny")
        self.assertIn("approval required", r["reason"])

    def test_on_prompt_allow(self):
        rc, out, err = self.run_ew(
            ["bash", "-c", "git push --dry-run 2>/dev/null; true"],
            opts=["--on-prompt", "allow"])
        r = self.find("git")[0]
        self.assertEqual(r["decision"], "allow")
        self.assertEqual(r["source"], "fallback")


class TestTerminalPrompt(RunCase):
    rules_text = ('prefix_rule(pattern=["touch"], decision="prompt", '
                  'justification="touching needs a person")\n')

    def run_pty(self, cmd, answers):
        """Run under a pseudo-terminal, typing each answer after each
        prompt; returns (status, everything the terminal showed)."""
        import pty
        import select
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.dir)
            os.execve(EXECWARD, [EXECWARD, "run", "--rules", self.rules,
                                 "--audit", self.audit, "--"] + cmd,
                      self.env)
        shown = b""
        answers = list(answers)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                shown += data
                if answers and (shown.rstrip().endswith(b"[y/N]") or
                                shown.rstrip().endswith(b"[y/N/a(lways)]")):
                    os.write(fd, answers.pop(0).encode() + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return status, shown.decode(errors="replace")

    def test_yes_runs_no_denies(self):
        # $0 makes the script one the splitter refuses: bash itself is
        # not prompted, each touch is.
        status, shown = self.run_pty(
            ["bash", "-c", "touch yes-file; touch no-file; echo $0"],
            ["y", "n"])
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, shown)
        self.assertIn("Allow `touch yes-file` in ", shown)
        self.assertIn("touching needs a person", shown)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "yes-file")))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "no-file")))
        recs = self.find("touch")
        self.assertEqual([(r["decision"], r["source"], r["prompt"]["answer"])
                          for r in recs],
                         [("allow", "user", "yes"), ("deny", "user", "no")])
        self.assertTrue(all(r["prompt"]["asked"] for r in recs))

    def test_always_remembers_the_answer(self):
        # rm -rf is a heuristics prompt: "always" adds an allow rule.
        os.mkdir(os.path.join(self.dir, "d1"))
        status, shown = self.run_pty(
            ["bash", "-c", "rm -rf d1; rm -rf d1; echo $0"], ["a"])
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, shown)
        self.assertEqual(shown.count("[y/N/a(lways)]"), 1, shown)
        self.assertIn("might be dangerous", shown)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "d1")))
        with open(os.path.join(self.rules, "default.rules")) as f:
            self.assertEqual(
                f.read(),
                'prefix_rule(pattern=["rm", "-rf", "d1"], decision="allow")'
                '\n')
        recs = self.find("rm")
        self.assertEqual([(r["decision"], r["source"]) for r in recs],
                         [("allow", "user"), ("allow", "rule")])
        self.assertEqual(recs[0]["prompt"]["answer"], "always")

    def test_a_prompt_rule_offers_no_always(self):
        status, shown = self.run_pty(
            ["bash", "-c", "touch t1; touch t1; echo $0"], ["a", "y"])
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, shown)
        self.assertEqual(shown.count("[y/N]"), 2, shown)
        self.assertNotIn("a(lways)", shown)
        self.assertFalse(os.path.exists(os.path.join(self.rules,
                                                     "default.rules")))

    def test_an_approved_script_is_asked_once(self):
        status, shown = self.run_pty(
            ["bash", "-c", "touch s1 && touch s2"], ["y"])
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, shown)
        self.assertEqual(shown.count("[y/N]"), 1, shown)
        self.assertIn("Allow `bash -c 'touch s1 && touch s2'`", shown)
        for name in ("s1", "s2"):
            self.assertTrue(os.path.exists(os.path.join(self.dir, name)))
        recs = self.find("touch")
        self.assertEqual([(r["decision"], r["source"], r["prompt"]["asked"])
                          for r in recs],
                         [("allow", "user", False)] * 2)

    def test_a_declined_script_does_not_run(self):
        status, shown = self.run_pty(
            ["bash", "-c", "touch s1 && touch s2"], ["n"])
        self.assertEqual(os.waitstatus_to_exitcode(status), 126, shown)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "s1")))
        self.assertIn("execward: denied: bash -c 'touch s1 && touch s2': "
                      "declined by the user", shown)


class TestScale(RunCase):

    def test_big_argv_is_audited_whole(self):
        args = ["%04d" % i + "x" * 996 for i in range(1500)]
        rc, out, err = self.run_ew(["env", "/bin/true"] + args,
                                   timeout=120)
        self.assertEqual(rc, 0, err)
        recs = self.find("true", via="execvp")
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["argv"][1:], args)
        self.assertEqual(sum(len(a) for a in recs[0]["argv"][1:]),
                         1500 * 1000)

    def test_eight_threads_two_hundred_spawns_each(self):
        if not SPAWN_THREADS:
            self.skipTest("EW_SPAWN_THREADS not set")
        start = time.monotonic()
        rc, out, err = self.run_ew([SPAWN_THREADS, "8", "200", "/bin/true"],
                                   timeout=300)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "spawned 1600 failed 0\n")
        recs = self.find("true", via="posix_spawn")
        self.assertEqual(len(recs), 1600)
        self.assertEqual(len({r["seq"] for r in self.records()}),
                         len(self.records()))
        self.assertLess(time.monotonic() - start, 300)


class TestBrokerFailure(RunCase):
    """The broker dies or stops while the command runs. The script uses
    only shell builtins until the one exec under test, and writes what it
    saw to files: a stopped broker keeps our pipes open."""

    ONCE = "ls -d / >out; echo rc=$? >>out"
    # Starts `ls -d /` every 0.1 s until one fails (at most 200), each
    # rc on a line of its own: a stopped broker's snapshot goes stale.
    UNTIL_REFUSED = ("for ((i = 0; i < 200; i++)); do ls -d / >/dev/null; "
                     "r=$?; echo rc=$r >>out; [ $r -ne 0 ] && break; "
                     "read -t 0.1 -u 9; done")

    def start(self, opts=(), env=None, body=ONCE):
        os.mkfifo(os.path.join(self.dir, "fifo"))
        script = ("exec 9<>fifo; : > ready; "
                  "while [ ! -e go ]; do read -t 0.05 -u 9; done; "
                  "exec 2>err; " + body + "; : > done")
        full = [EXECWARD, "run", "--rules", self.rules, "--audit",
                self.audit] + list(opts) + ["--", "bash", "-c", script]
        p = subprocess.Popen(full, env=env or self.env, cwd=self.dir,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
        self.wait_for("ready", 30)
        return p

    def wait_records(self, done, limit):
        """Wait until done(the complete records so far) holds."""
        deadline = time.monotonic() + limit
        while True:
            recs = []
            if os.path.exists(self.audit):
                with open(self.audit, "rb") as f:
                    recs = [json.loads(line) for line in f
                            if line.endswith(b"\n")]
            if done(recs):
                return
            self.assertLess(time.monotonic(), deadline, "no records")
            time.sleep(0.05)

    def wait_for(self, name, limit):
        deadline = time.monotonic() + limit
        while not os.path.exists(os.path.join(self.dir, name)):
            self.assertLess(time.monotonic(), deadline, "no " + name)
            time.sleep(0.02)

    def finish(self, p, sig, cont=False):
        os.kill(p.pid, sig)
        if sig == signal.SIGKILL:
            # The starts after its death: a dying broker (slow under
            # valgrind) still holds its socket, and a told start sent
            # to it then is what a crash can lose (README, Performance).
            p.wait()
        start = time.monotonic()
        open(os.path.join(self.dir, "go"), "w").close()
        try:
            self.wait_for("done", 30)
            took = time.monotonic() - start
            if cont:
                # Let it read what queued up, then stop it for good.
                os.kill(p.pid, signal.SIGCONT)
                self.wait_records(lambda rs: any(
                    r.get("decision") == "deny" for r in rs), 30)
        finally:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait()
        with open(os.path.join(self.dir, "out")) as f:
            out = f.read()
        with open(os.path.join(self.dir, "err")) as f:
            err = f.read()
        return out, err, took

    def test_killed_broker_fails_closed(self):
        p = self.start()
        out, err, took = self.finish(p, signal.SIGKILL)
        self.assertEqual(out, "rc=126\n")
        self.assertIn("execward: denied: ls -d /: ", err)
        self.assertIn("broker", err)
        self.assertLess(took, 10)

    def test_stopped_broker_times_out_closed(self):
        # ls is allowed whatever its arguments: the shim tells the broker
        # and starts it without waiting, as long as the broker's stamp on
        # the policy snapshot is fresh (EW_SNAP_ALIVE_MS, 3 s). A stopped
        # broker stops stamping: within that, and EXECWARD_TIMEOUT (2 s)
        # more, a start is asked about, times out and fails closed.
        env = dict(self.env, EXECWARD_TIMEOUT="2")
        p = self.start(env=env, body=self.UNTIL_REFUSED)
        out, err, took = self.finish(p, signal.SIGSTOP, cont=True)
        lines = out.splitlines()
        self.assertEqual(lines[-1], "rc=126", out)
        self.assertEqual(set(lines[:-1]) - {"rc=0"}, set(), out)
        self.assertIn("execward: denied: ls -d /: ", err)
        self.assertIn("did not answer within 2 s", err)
        self.assertGreaterEqual(took, 1.5)
        # 3 s of stamps, one beat late, the 2 s timeout, and a slow loop.
        self.assertLess(took, 15)
        # Resumed, the broker records every start that ran (each told
        # while it was stopped) and the one that gave up waiting.
        told = len(lines) - 1
        recs = self.find("ls")
        self.assertEqual(len([r for r in recs
                              if r["decision"] == "allow"]), told, recs)
        self.assertTrue(all(r.get("told") for r in recs
                            if r["decision"] == "allow"), recs)
        self.assertEqual(recs[-1]["decision"], "deny", recs)
        self.assertIn("gave up", recs[-1]["reason"])

    def test_fail_open_runs(self):
        p = self.start(opts=["--fail", "open"])
        out, err, took = self.finish(p, signal.SIGKILL)
        self.assertEqual(out, "/\nrc=0\n")


class TestEntryPoints(RunCase):
    rules_text = ('prefix_rule(pattern=["touch", "denied"], '
                  'decision="forbidden", justification="no")\n')

    MODES = ["execve", "execv", "execvp", "execvpe", "execl", "execle",
             "execlp", "execveat", "fexecve", "posix_spawn", "posix_spawnp",
             "system", "popen"]

    def test_each_entry_point(self):
        if not ENTRY_POINTS:
            self.skipTest("EW_ENTRY_POINTS not set")
        for mode in self.MODES:
            with self.subTest(mode=mode):
                self.check_mode(mode)

    def check_mode(self, mode):
        searching = mode in ("execvp", "execvpe", "execlp", "posix_spawnp",
                             "system", "popen")
        prog = "touch" if searching else "/usr/bin/touch"
        for target, ok in (("allowed", True), ("denied", False)):
            marker = os.path.join(self.dir, target)
            if os.path.exists(marker):
                os.unlink(marker)
            if os.path.exists(self.audit):
                os.unlink(self.audit)
            rc, out, err = self.run_ew([ENTRY_POINTS, mode, prog, target])
            self.assertEqual(rc, 0, err)
            self.assertEqual(os.path.exists(marker), ok,
                             "%s %s: %s %s" % (mode, target, out, err))
            recs = [r for r in self.records() if r["via"] == mode]
            self.assertEqual(len(recs), 1, self.records())
            rec = recs[0]
            if mode in ("system", "popen"):
                # The shell is asked as sh -c; its script is checked command
                # by command, and the shell's own exec of touch is asked in
                # turn when it runs.
                self.assertEqual(rec["argv"], ["sh", "-c", "touch " + target])
                self.assertEqual(rec["file"], "/bin/sh")
                inner = self.find("touch", via="execve")
                self.assertEqual(len(inner), 1 if ok else 0, self.records())
                if ok:
                    self.assertEqual(inner[0]["argv"], ["touch", target])
            else:
                self.assertEqual(rec["file"], "/usr/bin/touch")
                if mode not in ("execveat", "fexecve"):
                    self.assertEqual(rec["called"], prog)
                self.assertEqual(rec["argv"], [prog, target])
            self.assertEqual(rec["decision"], "allow" if ok else "deny")
            if ok:
                continue
            self.assertIn("execward: denied: ", err)
            self.assertIn("touch denied", err)
            if mode == "system":
                self.assertIn("exit=127", out)
            elif mode == "popen":
                self.assertIn("call=popen rc=-1 errno=%d" % errno.EACCES, out)
            elif mode.startswith("posix_spawn"):
                self.assertIn("rc=%d" % errno.EACCES, out)
            else:
                self.assertIn("rc=-1 errno=%d" % errno.EACCES, out)


if __name__ == "__main__":
    if not EXECWARD:
        sys.exit("EXECWARD is not set: run through meson test")
    unittest.main(verbosity=2)
