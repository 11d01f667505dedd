#!/usr/bin/env python3
"""The manual pages (doc/) stay true to the program.

- Every option a command's --help prints is in that command's SYNOPSIS in
  execward(1), every option of a SYNOPSIS is described in an .It entry,
  and every option named there is one the command accepts (probed: it
  must not be reported unknown). A new option in --help without its
  page fails here.
- The README's synopses (``` blocks starting "execward run" and
  "execward daemon") list exactly the options of --help.
- The pages pass mandoc -T lint (or groff's warnings without mandoc).
- The example rules of execward-rules(5) load and decide as the page says.
- Every field and record type of real audit records (a decision, a failed
  start, rotation's dropped record, an escalation's exit, a daemon's
  refusal) is described in execward-audit(5).

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY, EW_MAN_DIR (the
configured pages), EW_SOURCE_ROOT, EW_VERSION.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import sandbox_helper  # noqa: E402

EXECWARD = os.environ.get("EXECWARD", "")
MAN_DIR = os.environ.get("EW_MAN_DIR", "")
SOURCE_ROOT = os.environ.get("EW_SOURCE_ROOT",
                             os.path.join(HERE, "..", ".."))
VERSION = os.environ.get("EW_VERSION", "")
PAGES = ("execward.1", "execward-rules.5", "execward-audit.5")

# The commands, as execward(1)'s SYNOPSIS names them ("" is execward alone).
COMMANDS = ("run", "mcp", "daemon", "launch", "policy check",
            "audit tail", "audit summary")
# Given to a probed option after it: reported unknown, so the probe
# never runs anything.
SENTINEL = "--execward-test-no-such-option"
# mdoc's macros that end an Fl's words.
MDOC_MACRO = re.compile(r"^[A-Z][a-z][a-z]?$")
DELIMITERS = {"|", ",", ";", ".", ":", "(", ")", "[", "]"}


def page_path(name):
    return os.path.join(MAN_DIR, name)


def read_page(name):
    with open(page_path(name)) as f:
        return f.read()


def fl_options(line):
    """The options an mdoc line names with Fl: [(option, takes_arg)]."""
    words = line.lstrip(".").split()
    out = []
    i = 0
    while i < len(words):
        if words[i] != "Fl":
            i += 1
            continue
        i += 1
        names = []
        while i < len(words) and not MDOC_MACRO.match(words[i]):
            if words[i] not in DELIMITERS:
                names.append("-" + words[i])
            i += 1
        takes = i < len(words) and words[i] in ("Ar", "Cm")
        out += [(n, takes) for n in names if n != "--"]
    return out


def synopsis(text):
    """{command: {option: takes_arg}} from execward(1)'s SYNOPSIS: each
    .Nm starts a command, named by the .Cm right after it ("" when none)."""
    body = text.split(".Sh SYNOPSIS", 1)[1].split("\n.Sh ", 1)[0]
    cmds = {}
    cur = None
    pending = False
    for line in body.splitlines():
        if line.startswith(".Nm"):
            pending = True
            continue
        if pending:
            pending = False
            cur = line[4:].strip() if line.startswith(".Cm ") else ""
            cmds.setdefault(cur, {})
            if line.startswith(".Cm "):
                continue
        if cur is not None:
            for opt, takes in fl_options(line):
                cmds[cur][opt] = takes
    return cmds


def described(text):
    """Every option an .It entry describes."""
    return {o for line in text.splitlines() if line.startswith(".It ")
            for o, _ in fl_options(line)}


OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][a-z0-9-]*)")


def usage_options(help_text, command):
    """The options --help shows for command: those of its usage lines
    (from "execward COMMAND" to the next "execward ..." line or the first
    blank line) and of an option list (indented lines that start with a
    dash, up to their description). Prose is not read: mcp's names
    bash's options (bash -c)."""
    opts = set()
    segment = None  # in a usage block: is it command's?
    for line in help_text.splitlines():
        if not line.strip():
            segment = None
            continue
        m = re.match(r"^(?:usage:)?\s*execward ((?:[a-z]+ ?)+)", line)
        if m:
            segment = m.group(1).strip() == command
            line = line[m.end():]
        if segment:
            opts |= set(OPTION.findall(line))
        elif segment is None and re.match(r"^\s+-", line):
            opts |= set(OPTION.findall(line.strip().split("  ")[0]))
    return opts


def run_help(command):
    p = subprocess.run([EXECWARD] + command.split() + ["--help"],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return p


def scratch_env(home):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "LANG": "C.UTF-8", "XDG_CONFIG_HOME": os.path.join(home, "cfg"),
           "XDG_STATE_HOME": os.path.join(home, "state")}
    return env


def unknown_options(stderr):
    """The options an error message says are unknown (getopt_long's and
    the hand-written parsers' words)."""
    out = set(re.findall(r"unrecognized option '(-[^'=]+)", stderr))
    out |= {"-" + c for c in re.findall(r"invalid option -- '(.)'",
                                        stderr)}
    out |= set(re.findall(r"unknown option (-\S+)", stderr))
    return out


def probe(command, option, takes_arg, home):
    """Give command the option (and a value), then SENTINEL: the
    process exits at an error before it does anything. Returns
    (the options reported unknown, stderr, exit status)."""
    args = [option]
    if takes_arg:
        args = [option + "=x"] if option.startswith("--") else [option, "x"]
    p = subprocess.run([EXECWARD] + command.split() + args + [SENTINEL],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, env=scratch_env(home),
                       cwd=home)
    return unknown_options(p.stderr), p.stderr, p.returncode


class Pages(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not EXECWARD or not MAN_DIR:
            raise unittest.SkipTest("EXECWARD and EW_MAN_DIR are not set")
        cls.text = read_page("execward.1")
        cls.syn = synopsis(cls.text)
        cls.home = tempfile.mkdtemp(prefix="ew-man-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.home, ignore_errors=True)

    def missing_from_page(self, command, help_text):
        return usage_options(help_text, command) - \
            set(self.syn.get(command, {})) - {"-h", "--help"}

    def test_every_command_has_a_synopsis(self):
        for c in COMMANDS:
            self.assertIn(c, self.syn, "no SYNOPSIS for execward %s" % c)

    def test_help_options_are_in_the_synopsis(self):
        for c in COMMANDS:
            with self.subTest(command=c):
                p = run_help(c)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(self.missing_from_page(c, p.stdout), set(),
                                 "execward %s --help shows options that "
                                 "doc/execward.1.in's SYNOPSIS lacks" % c)

    def test_a_new_option_in_help_is_caught(self):
        # What the test above does when an option is added to --help
        # only.
        for c in ("run", "mcp", "daemon"):
            text = run_help(c).stdout.replace(
                "[--rules PATH]...", "[--rules PATH]... [--not-yet MODE]",
                1)
            self.assertIn("--not-yet", text)
            self.assertEqual(self.missing_from_page(c, text),
                             {"--not-yet"})

    def test_help_prose_is_not_read_as_options(self):
        # mcp's help says "bash -c, not bash -lc": not options of mcp.
        self.assertNotIn("-c", usage_options(run_help("mcp").stdout, "mcp"))

    def test_synopsis_options_are_described(self):
        desc = described(self.text)
        for c, opts in self.syn.items():
            for o in opts:
                self.assertIn(o, desc, "execward %s %s: in the SYNOPSIS "
                              "but described by no .It entry" % (c, o))

    def test_described_options_are_in_a_synopsis(self):
        known = {o for opts in self.syn.values() for o in opts}
        for o in described(self.text) - {"-h", "--help"}:
            self.assertIn(o, known, "%s is described but in no SYNOPSIS"
                          % o)

    def test_every_option_in_the_page_exists(self):
        for c in COMMANDS:
            for o, takes in sorted(self.syn[c].items()):
                with self.subTest(command=c, option=o):
                    unknown, err, rc = probe(c, o, takes, self.home)
                    self.assertNotIn(o, unknown, "execward %s does not "
                                     "know %s: %s" % (c, o, err))
                    self.assertNotEqual(rc, 0, err)
                    # It was read: the next word was, or its value was
                    # refused.
                    self.assertTrue(SENTINEL in unknown or
                                    re.search(r"expected|not a", err), err)

    def test_an_option_that_does_not_exist_is_caught(self):
        for c in COMMANDS:
            with self.subTest(command=c):
                unknown, err, _ = probe(c, "--not-yet-an-option", False,
                                        self.home)
                self.assertIn("--not-yet-an-option", unknown, err)
        unknown, err, _ = probe("audit tail", "-Z", False, self.home)
        self.assertIn("-Z", unknown, err)

    def test_help_and_version(self):
        for c in COMMANDS:
            for h in ("-h", "--help"):
                p = subprocess.run([EXECWARD] + c.split() + [h],
                                   capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(p.returncode, 0, (c, h, p.stderr))
                self.assertIn("usage:", p.stdout)
        self.assertIn("--version", self.syn.get("", {}))
        p = subprocess.run([EXECWARD, "--version"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.strip(), "execward %s" % VERSION)

    def test_readme_synopses_match_help(self):
        with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
            readme = f.read()
        blocks = re.findall(r"^```\n(execward .*?)^```", readme,
                            re.M | re.S)
        seen = set()
        for b in blocks:
            cmd = re.match(r"execward ((?:[a-z]+ ?)+)", b).group(1).strip()
            seen.add(cmd)
            with self.subTest(command=cmd):
                want = usage_options(run_help(cmd).stdout, cmd)
                have = usage_options(b, cmd)
                self.assertEqual(have, want, "README's synopsis of "
                                 "execward %s and --help differ" % cmd)
        self.assertTrue({"run", "daemon", "launch"} <= seen, seen)


class Lint(unittest.TestCase):

    def test_pages_lint_clean(self):
        if not MAN_DIR:
            self.skipTest("EW_MAN_DIR is not set")
        mandoc = shutil.which("mandoc")
        groff = shutil.which("groff")
        if mandoc is None and groff is None:
            self.skipTest("neither mandoc nor groff is installed")
        for page in PAGES:
            with self.subTest(page=page):
                if mandoc:
                    argv = [mandoc, "-T", "lint", "-W", "warning",
                            page_path(page)]
                else:
                    argv = [groff, "-mdoc", "-ww", "-z", page_path(page)]
                p = subprocess.run(argv, capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual((p.returncode, p.stdout + p.stderr),
                                 (0, ""))

    def test_no_placeholder_left(self):
        for page in PAGES:
            self.assertNotRegex(read_page(page), r"@[A-Z]+@")


class RulesExample(unittest.TestCase):
    """execward-rules(5)'s EXAMPLES load and decide as the page says."""

    def test_example_rules(self):
        if not EXECWARD or not MAN_DIR:
            self.skipTest("EXECWARD and EW_MAN_DIR are not set")
        text = read_page("execward-rules.5")
        ex = text.split(".Sh EXAMPLES", 1)[1]
        block = ex.split(".Bd -literal -offset indent\n", 1)[1] \
            .split("\n.Ed", 1)[0]
        self.assertIn("prefix_rule(", block)
        d = tempfile.mkdtemp(prefix="ew-man-rules-")
        self.addCleanup(shutil.rmtree, d, True)
        rules = os.path.join(d, "example.rules")
        with open(rules, "w") as f:
            f.write(block.replace("\\e", "\\") + "\n")
        os.chmod(rules, 0o644)

        def check(*cmd, opts=()):
            p = subprocess.run([EXECWARD, "policy", "check", "--rules",
                                rules] + list(opts) + ["--"] + list(cmd),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout).get("decision")

        self.assertEqual(check("git", "reset", "--hard"), "forbidden")
        self.assertEqual(check("git", "push", "origin"), "prompt")
        self.assertEqual(check("ls", "-l"), "allow")
        self.assertEqual(check("/usr/bin/git", "status",
                               opts=["--resolve-host-executables"]),
                         "allow")
        # host_executable: git elsewhere is not the git the rules name.
        self.assertIsNone(check("/opt/git/bin/git", "status",
                                opts=["--resolve-host-executables"]))
        # The page's policy check line: git's global options are cut.
        self.assertEqual(check("git", "-C", "/src", "push", "--force",
                               opts=["--heuristics"]), "prompt")


def keys(v, out):
    """Every object key in v, nested too."""
    if isinstance(v, dict):
        for k, x in v.items():
            out.add(k)
            keys(x, out)
    elif isinstance(v, list):
        for x in v:
            keys(x, out)
    return out


class AuditFields(unittest.TestCase):
    """Real records, of every kind the broker writes, against
    execward-audit(5)."""

    @classmethod
    def setUpClass(cls):
        if not EXECWARD or not MAN_DIR:
            raise unittest.SkipTest("EXECWARD and EW_MAN_DIR are not set")
        sandbox_helper.use_safe_library()
        # Outside /tmp: the sandboxed run refuses rules, sockets and
        # tools that its writable roots (the cwd, /tmp) hold.
        cls.dir = sandbox_helper.safe_dir(EXECWARD, "ew-man-audit-")
        os.chmod(cls.dir, 0o700)
        cls.home = os.path.join(cls.dir, "home")
        cls.ws = os.path.join(cls.dir, "ws")
        cls.run_dir = os.path.join(cls.dir, "run")
        for d in (cls.home, cls.ws, cls.run_dir):
            os.makedirs(d, mode=0o700)
        cls.rules = os.path.join(cls.dir, "r.rules")
        with open(cls.rules, "w") as f:
            f.write('prefix_rule(pattern=["false"], decision="forbidden", '
                    'justification="no false here")\n'
                    'prefix_rule(pattern=["true"])\n')
        os.chmod(cls.rules, 0o644)
        cls.text = read_page("execward-audit.5")
        cls.records = []
        cls.notes = []

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def env(self):
        e = scratch_env(self.home)
        e["XDG_RUNTIME_DIR"] = self.run_dir
        e["EXECWARD_LIBRARY"] = os.environ.get("EXECWARD_LIBRARY", "")
        e["EXECWARD_QUIET"] = "1"
        return e

    def read(self, path):
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def run_sh(self, log, *args, cmd):
        p = subprocess.run(
            [EXECWARD, "run", "--rules", self.rules, "--audit", log,
             "--on-prompt", "deny"] + list(args) + ["--", "sh", "-c", cmd],
            capture_output=True, text=True, timeout=120, cwd=self.ws,
            env=self.env(), stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)

    def run_records(self):
        """A decision of each source and a failed start; then a rotation
        that deletes a file (its own log, so that the rest stays)."""
        log = os.path.join(self.dir, "run.jsonl")
        script = os.path.join(self.ws, "noshebang")
        with open(script, "w") as f:
            f.write("exit 0\n")
        os.chmod(script, 0o755)
        # The loop keeps the script whole: each program is asked alone.
        self.run_sh(log, cmd="env false; env ./noshebang; rm -f nothing; "
                 "for i in 1 2; do env true; done")
        recs = self.read(log)
        rotated = os.path.join(self.dir, "rotated.jsonl")
        self.run_sh(rotated, "--audit-max-bytes", "2K", "--audit-keep", "1",
                 cmd="for i in 1 2 3 4 5 6 7 8; do env true; done")
        return recs + self.read(rotated)

    def exit_records(self):
        """An escalation and its exit record (needs the sandbox)."""
        log = os.path.join(self.dir, "sandbox.jsonl")
        # sh runs inside (no rule for env); the true env starts leaves
        # it with a token, and its end is recorded.
        p = subprocess.run(
            [EXECWARD, "run", "--sandbox", "workspace-write", "--rules",
             self.rules, "--audit", log, "--", "sh", "-c", "env true"],
            capture_output=True, text=True, timeout=120, cwd=self.ws,
            env=self.env(), stdin=subprocess.DEVNULL)
        if p.returncode == 126 and "Landlock" in p.stderr:
            self.notes.append("no exit record: " + p.stderr.strip())
            return []
        self.assertEqual(p.returncode, 0, p.stderr)
        return self.read(log)

    def refused_records(self):
        """A connection that asks nothing in time: the daemon refuses it
        (counted after its 3 s deadline)."""
        log = os.path.join(self.dir, "daemon.jsonl")
        sock = os.path.join(self.dir, "d", "sock")
        err = open(os.path.join(self.dir, "daemon.err"), "w+")
        d = subprocess.Popen([EXECWARD, "daemon", "--listen", sock,
                              "--rules", self.rules, "--audit", log],
                             env=self.env(), stdin=subprocess.DEVNULL,
                             stdout=err, stderr=err)
        try:
            end = time.monotonic() + 60
            while not os.path.exists(sock):
                self.assertIsNone(d.poll(), "the daemon exited")
                self.assertLess(time.monotonic(), end, "no socket")
                time.sleep(0.05)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(sock)
            s.settimeout(60)
            # The daemon closes it after its deadline: EOF here.
            self.assertEqual(s.recv(4096), b"")
            s.close()
            while not any(r.get("type") == "refused"
                          for r in (self.read(log)
                                    if os.path.exists(log) else [])):
                self.assertLess(time.monotonic(), end, "no refused record")
                time.sleep(0.05)
        finally:
            d.terminate()
            d.wait(60)
            err.close()
        return self.read(log)

    def test_every_field_is_described(self):
        recs = self.run_records() + self.exit_records() + \
            self.refused_records()
        types = {r.get("type") for r in recs}
        want = {None, "failed", "dropped", "refused"}
        if not self.notes:
            want.add("exit")
        self.assertTrue(want <= types, "records of every kind: %s" % types)
        sources = {r.get("source") for r in recs if "type" not in r}
        self.assertTrue({"rule", "heuristics", "fallback"} <= sources,
                        sources)
        fields = set()
        for r in recs:
            keys(r, fields)
        page = self.text
        for k in sorted(fields):
            with self.subTest(field=k):
                self.assertTrue(re.search(r"\bVa %s\b" % re.escape(k),
                                          page) or
                                "\\(dq%s\\(dq" % k in page,
                                "execward-audit(5) does not describe "
                                "the field %s" % k)
        for t in types - {None}:
            self.assertIn("\\(dqtype\\(dq:\\(dq%s\\(dq" % t, page)
        for n in self.notes:
            print("note:", n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
