#!/usr/bin/env python3
"""The policy's view of a command as it really runs, through `execward
run`: the dynamic loader run as a program is decided as the program it
runs, and git's global options do not hide the subcommand. Both as
COMMAND itself and as programs a shell starts under the shim.

Environment (set by meson): EXECWARD, EXECWARD_LIBRARY.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

EXECWARD = os.environ.get("EXECWARD", "")

RULES = """
prefix_rule(pattern=["id"], decision="forbidden",
            justification="no id here")
prefix_rule(pattern=["git", "reset", "--hard"], decision="forbidden",
            justification="discards uncommitted work")
"""


def loader():
    """The loader named in /bin/true's PT_INTERP, as a path that exists."""
    out = subprocess.run(["readelf", "-l", "/bin/true"],
                         capture_output=True).stdout.decode()
    for line in out.splitlines():
        if "program interpreter:" in line:
            path = line.split(":", 1)[1].strip().rstrip("]").strip()
            if os.path.exists(path):
                return path
    raise unittest.SkipTest("no dynamic loader found for /bin/true")


class PolicyRun(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ew-policy-")
        self.audit = os.path.join(self.dir, "audit.jsonl")
        self.rules = os.path.join(self.dir, "test.rules")
        with open(self.rules, "w") as f:
            f.write(RULES)
        self.env = dict(os.environ)
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        for k in ("EXECWARD_RULES", "LD_PRELOAD", "EXECWARD_SOCKET"):
            self.env.pop(k, None)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_ew(self, *cmd, cwd=None):
        p = subprocess.run([EXECWARD, "run", "--rules", self.rules,
                            "--audit", self.audit, "--on-prompt", "deny",
                            "--"] + list(cmd), env=self.env,
                           cwd=cwd or self.dir, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=120)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def records(self):
        with open(self.audit, "rb") as f:
            return [json.loads(line) for line in f]

    def test_the_loader_as_command_is_decided_as_its_program(self):
        ld = loader()
        rc, out, err = self.run_ew(ld, "/usr/bin/id", "-u")
        self.assertEqual(rc, 126, err)
        self.assertEqual(out, "")
        self.assertIn("forbidden by policy: no id here", err)
        rec = self.records()[-1]
        self.assertEqual(rec["decision"], "deny")
        self.assertEqual(rec["argv"], [ld, "/usr/bin/id", "-u"])
        self.assertIn(["id"], [m["pattern"] for m in rec["rules"]
                               if "pattern" in m])
        # The same loader running a program nothing forbids runs it.
        rc, out, err = self.run_ew(ld, "--inhibit-cache", "/bin/echo",
                                   "loaded")
        self.assertEqual((rc, out), (0, "loaded\n"), err)

    def test_the_loader_started_under_the_shim(self):
        ld = loader()
        script = ('%s --library-path /nowhere --argv0 x /usr/bin/id; '
                  'echo "id=$?"; %s /bin/echo ran' % (ld, ld))
        rc, out, err = self.run_ew("/bin/sh", "-c", script)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "id=126\nran\n", err)
        self.assertIn("execward: denied: ", err)
        denied = [r for r in self.records() if r["decision"] == "deny"]
        self.assertEqual(len(denied), 1, denied)
        self.assertEqual(denied[0]["argv"][-1], "/usr/bin/id")
        self.assertNotEqual(denied[0]["via"], "run")

    def test_git_global_options_do_not_hide_reset_hard(self):
        git = shutil.which("git")
        if git is None:
            raise unittest.SkipTest("git is not installed")
        repo = os.path.join(self.dir, "repo")
        os.mkdir(repo)
        genv = dict(self.env, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                    GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
                    HOME=self.dir)
        for args in (["init", "-q"], ["config", "user.name", "t"]):
            subprocess.run([git] + args, cwd=repo, env=genv, check=True)
        with open(os.path.join(repo, "f"), "w") as f:
            f.write("committed\n")
        subprocess.run([git, "add", "f"], cwd=repo, env=genv, check=True)
        subprocess.run([git, "commit", "-qm", "c"], cwd=repo, env=genv,
                       check=True)
        with open(os.path.join(repo, "f"), "w") as f:
            f.write("uncommitted work\n")
        # By its path: a shell searching PATH itself asks once for each
        # folder that holds git (/bin and /usr/bin may be the same).
        spellings = [git + s for s in (
            " -C . reset --hard",
            " -c k=v reset --hard",
            " --git-dir=.git --work-tree=. reset --hard",
            " --no-pager reset --hard",
            " -P -c a=b --git-dir .git reset --hard HEAD")]
        script = "; ".join('%s; echo "$?"' % s for s in spellings)
        rc, out, err = self.run_ew("/bin/sh", "-c", script, cwd=repo)
        self.assertEqual(out, "126\n" * len(spellings), err)
        with open(os.path.join(repo, "f")) as f:
            self.assertEqual(f.read(), "uncommitted work\n")
        denied = [r for r in self.records() if r["decision"] == "deny"]
        self.assertEqual(len(denied), len(spellings))
        for r in denied:
            self.assertEqual(r["source"], "rule", r)
            self.assertEqual(r["justification"],
                             "discards uncommitted work", r)


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    unittest.main(verbosity=2)
