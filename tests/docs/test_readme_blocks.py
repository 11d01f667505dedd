#!/usr/bin/env python3
"""The README's command blocks run as written.

The convention, in README.md: every ```sh block has, on the line right
above it, an HTML comment (invisible on the rendered page) that says what
this test does with it:

    <!-- readme-test: run NAME -->     run by the handler NAME below, which
                                       runs the block's text unchanged and
                                       checks what the README says it shows
    <!-- readme-test: skip REASON -->  not run, for REASON (a real agent
                                       host, a person, an install as root);
                                       the reason names what tests it instead

A ```sh block without such a line fails this test, and so does a handler
whose block is gone, so a new block needs a decision and a removed one
is noticed. Blocks run with bash in a scratch home (HOME, XDG_* unset),
with the built execward first on PATH, and nothing of the caller's
environment but PATH and LANG.

- try-it runs from a scratch copy of the tree's top (scripts/execward,
  policy/rules) whose build/ holds the built execward: scripts/execward
  then runs ninja there (nothing to do) and the built execward, as it does
  on a machine where everything is built. Its scripts/test is a stub that
  says it was called: the real one is what CI runs, this test among it.
  The fresh build itself is tests/integration/test_install.py's.
- bwrap skips where bubblewrap cannot make its namespaces.

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY, EW_SOURCE_ROOT.
"""
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

sys.dont_write_bytecode = True  # no __pycache__ in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
EXECWARD = os.environ.get("EXECWARD", "")
LIBRARY = os.environ.get("EXECWARD_LIBRARY", "")
SOURCE_ROOT = os.environ.get("EW_SOURCE_ROOT",
                             os.path.join(HERE, "..", ".."))
MARKER = re.compile(r"^<!-- readme-test: (run|skip) (.+?) -->$")
# What a block may take, at most (a loaded 2-core machine).
BLOCK_TIMEOUT = 300
DENIED_RESET = ("execward: denied: git reset --hard: forbidden by policy: "
                "destructive operation: discards uncommitted work")


def readme_blocks():
    """[(marker or None, line number, text)] of every ```sh block."""
    with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        if lines[i] == "```sh":
            start = i
            j = i + 1
            while lines[j] != "```":
                j += 1
            m = MARKER.match(lines[start - 1]) if start > 0 else None
            out.append((m.groups() if m else None, start + 1,
                        "\n".join(lines[start + 1:j]) + "\n"))
            i = j
        i += 1
    return out


class World:
    """A scratch home and workspace, with the built execward on PATH."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ew-readme-")
        self.home = os.path.join(self.dir, "home")
        self.bin = os.path.join(self.dir, "bin")
        self.ws = os.path.join(self.dir, "ws")
        for d in (self.home, self.bin, self.ws):
            os.makedirs(d)
        os.symlink(EXECWARD, os.path.join(self.bin, "execward"))
        self.env = {
            "HOME": self.home,
            "PATH": self.bin + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            # The build tree's layout finds it too; said for a tree
            # whose layout has moved.
            "EXECWARD_LIBRARY": LIBRARY,
        }

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def audit(self, path=None):
        path = path or os.path.join(self.home, ".local", "state",
                                    "execward", "audit.jsonl")
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def bash(self, text, cwd=None, env=None, timeout=BLOCK_TIMEOUT):
        return subprocess.run(["bash", "-c", text], cwd=cwd or self.ws,
                              env=env or self.env, capture_output=True,
                              text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


class ReadmeBlocks(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not EXECWARD:
            raise unittest.SkipTest("EXECWARD is not set")
        cls.blocks = readme_blocks()
        cls.by_name = {m[1]: (line, text) for m, line, text in cls.blocks
                       if m is not None and m[0] == "run"}
        cls.world = World()

    @classmethod
    def tearDownClass(cls):
        cls.world.close()

    def block(self, name):
        self.assertIn(name, self.by_name,
                      "README has no block marked 'readme-test: run %s'"
                      % name)
        return self.by_name[name][1]

    def test_every_block_is_marked(self):
        for m, line, text in self.blocks:
            with self.subTest(line=line):
                self.assertIsNotNone(m, "README.md:%d: a ```sh block "
                                     "without a readme-test line above it"
                                     % line)
                if m[0] == "run":
                    self.assertTrue(hasattr(self, "check_" +
                                            m[1].replace("-", "_")),
                                    "README.md:%d: no handler for %s"
                                    % (line, m[1]))

    def test_skipped_blocks(self):
        for m, line, text in self.blocks:
            if m is not None and m[0] == "skip":
                with self.subTest(line=line):
                    self.skipTest("README.md:%d (%s): %s"
                                  % (line, text.split("\n")[0], m[1]))

    def test_a_block_without_a_marker_is_caught(self):
        # The check above, on a README with one unmarked block.
        d = tempfile.mkdtemp(prefix="ew-readme-marker-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "README.md"), "w") as f:
            f.write("x\n\n```sh\necho hi\n```\n")
        global SOURCE_ROOT
        saved, SOURCE_ROOT = SOURCE_ROOT, d
        try:
            self.assertEqual(readme_blocks(), [(None, 3, "echo hi\n")])
        finally:
            SOURCE_ROOT = saved

    # The blocks, in the order the README has them; each test_* runs one.

    def test_1_try_it(self):
        self.check_try_it()

    def check_try_it(self):
        w = self.world
        top = os.path.join(w.dir, "top")
        os.makedirs(os.path.join(top, "scripts"))
        shutil.copy2(os.path.join(SOURCE_ROOT, "scripts", "execward"),
                     os.path.join(top, "scripts", "execward"))
        with open(os.path.join(top, "scripts", "test"), "w") as f:
            f.write("#!/bin/sh\necho 'scripts/test: called (it is what "
                    "runs this test)'\n")
        os.chmod(os.path.join(top, "scripts", "test"), 0o755)
        shutil.copytree(os.path.join(SOURCE_ROOT, "policy", "rules"),
                        os.path.join(top, "policy", "rules"))
        # A built tree: ninja finds nothing to do.
        os.makedirs(os.path.join(top, "build", "broker"))
        with open(os.path.join(top, "build", "build.ninja"), "w") as f:
            f.write("build all: phony\ndefault all\n")
        os.symlink(EXECWARD, os.path.join(top, "build", "broker",
                                          "execward"))
        p = w.bash(self.block("try-it"), cwd=top)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = p.stdout.split("\n")
        self.assertRegex(out[0], r"^\d+$", "ls / | wc -l")
        self.assertIn("git was stopped: 126", out)
        self.assertIn("scripts/test: called", p.stdout)
        self.assertIn(DENIED_RESET, p.stderr)
        log = os.path.join(w.home, ".local", "state", "execward",
                           "audit.jsonl")
        self.assertIn("execward: audit log: " + log, p.stderr)
        recs = w.audit()
        by = {(r["argv"][0], r["decision"]) for r in recs}
        for want in (("bash", "allow"), ("ls", "allow"), ("wc", "allow"),
                     ("git", "deny")):
            self.assertIn(want, by, recs)

    def test_2_bwrap(self):
        self.check_bwrap()

    def check_bwrap(self):
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            self.skipTest("bwrap is not installed (scripts/setup)")
        w = World()
        self.addCleanup(w.close)
        p = subprocess.run([bwrap, "--ro-bind", "/", "/", "--dev", "/dev",
                            "--proc", "/proc", "--tmpfs", "/run",
                            "--unshare-pid", "--unshare-net", "true"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            self.skipTest("bwrap cannot run here: " + p.stderr.strip())
        with open(os.path.join(w.home, "agent.rules"), "w") as f:
            f.write('prefix_rule(pattern=["git", "push"], '
                    'decision="forbidden", justification="agents do '
                    'not push")\n')
        # Rules that others may write are refused, whatever the umask.
        os.chmod(os.path.join(w.home, "agent.rules"), 0o644)
        with open(os.path.join(w.ws, "Makefile"), "w") as f:
            f.write("test:\n\techo the tests pass\n")
        with open(os.path.join(w.ws, "agent.sh"), "w") as f:
            f.write("make test; git push\n")
        env = dict(w.env, LIB=LIBRARY)
        out = open(os.path.join(w.dir, "out"), "w+")
        # Its own process group: the daemon the block leaves running in
        # the background is stopped with it.
        sh = subprocess.Popen(["bash", "-c", self.block("bwrap")],
                              cwd=w.ws, env=env, stdout=out, stderr=out,
                              stdin=subprocess.DEVNULL,
                              start_new_session=True)
        try:
            rc = sh.wait(BLOCK_TIMEOUT)
        finally:
            try:
                os.killpg(sh.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            sh.wait()
        out.seek(0)
        text = out.read()
        out.close()
        log = os.path.join(w.home, ".execward", "audit.jsonl")
        # SIGTERM: the daemon answers what is pending, then exits.
        end = time.monotonic() + 60
        while True:
            try:
                os.killpg(sh.pid, 0)
            except ProcessLookupError:
                break
            self.assertLess(time.monotonic(), end, "the daemon lingers")
            time.sleep(0.05)
        # bash's status is git's: 126, refused.
        self.assertEqual(rc, 126, text)
        self.assertIn("the tests pass", text)
        self.assertIn("execward: denied: git push: forbidden by policy: "
                      "agents do not push", text)
        recs = w.audit(log)
        by = {(r["argv"][0], r["decision"]) for r in recs}
        self.assertIn(("make", "allow"), by, recs)
        self.assertIn(("git", "deny"), by, recs)
        git = [r for r in recs if r["argv"][0] == "git"][0]
        self.assertEqual(git["reason"],
                         "forbidden by policy: agents do not push")

    def test_3_audit(self):
        self.check_audit()

    def check_audit(self):
        """After try-it's records: each line as its own command, the
        follower stopped once it showed a refusal that came after it
        started."""
        w = self.world
        if not os.path.exists(os.path.join(w.home, ".local")):
            self.check_try_it()
        lines = [ln for ln in self.block("audit").split("\n") if ln]
        self.assertEqual(len(lines), 5, lines)
        n = len(w.audit())

        p = w.bash(lines[0])
        self.assertEqual(p.returncode, 0, p.stderr)
        shown = p.stdout.strip().split("\n")
        self.assertEqual(len(shown), n, p.stdout)
        self.assertTrue(any(" deny " in s and "git reset --hard" in s
                            for s in shown), p.stdout)

        out = open(os.path.join(w.dir, "follow"), "w+")
        f = subprocess.Popen(["bash", "-c", lines[1]], cwd=w.ws, env=w.env,
                             stdout=out, stderr=out,
                             stdin=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            self.wait_for(out, 1)
            # A new refusal shows up while it follows.
            p = w.bash("execward run --rules %s -- git reset --hard" %
                       os.path.join(SOURCE_ROOT, "policy", "rules"))
            self.assertEqual(p.returncode, 126, p.stderr)
            self.wait_for(out, 2)
            self.assertIsNone(f.poll(), "audit tail -f stopped")
        finally:
            os.killpg(f.pid, signal.SIGTERM)
            f.wait(60)
            out.close()

        p = w.bash(lines[2])
        self.assertEqual(p.returncode, 0, p.stderr)
        counts = dict(reversed(c.split()) for c in
                      p.stdout.strip().split("\n"))
        self.assertEqual(counts.get("git"), "2", p.stdout)
        self.assertIn("bash", counts, p.stdout)

        p = w.bash(lines[3])
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "", ""))

        p = w.bash(lines[4])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"records +%d in 1 file" % (n + 1))
        self.assertRegex(p.stdout, r"\n +2 +deny\n")

    def wait_for(self, out, denials, timeout=60):
        end = time.monotonic() + timeout
        while True:
            out.seek(0)
            text = out.read()
            if text.count("git reset --hard") >= denials:
                self.assertEqual(text.count(" deny "), denials, text)
                return
            self.assertLess(time.monotonic(), end,
                            "audit tail -f showed: %r" % text)
            time.sleep(0.05)


if __name__ == "__main__":
    unittest.main(verbosity=2)
