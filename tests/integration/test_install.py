#!/usr/bin/env python3
"""`meson install`, then execward from PATH: a fresh build of this tree
(its own build folder, -Dtests=disabled) installed into a prefix this
test owns, as `meson install` as root installs into /usr/local.

- The installed execward finds the installed libexecward.so and
  execward-escalate (no EXECWARD_LIBRARY: the path compiled in), runs the
  README's first command with the installed example rules, and escalates
  a program through the installed helper (where the kernel has Landlock).
- The manual pages are installed and render with man(1), naming the
  installed paths; the example rules, README, LICENSE and the systemd
  units are installed, the units naming the installed execward.
- `meson install --destdir` puts the same files under DESTDIR.

The prefix lies where no sandbox can write (sandbox_helper.safe_dir: not
under /tmp), so the escalation check holds from a checkout under /tmp too.

Environment (set by meson): EXECWARD (for safe_dir), EW_SOURCE_ROOT,
EW_VERSION.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sandbox_helper  # noqa: E402

EXECWARD = os.environ.get("EXECWARD", "")
SOURCE_ROOT = os.environ.get(
    "EW_SOURCE_ROOT",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VERSION = os.environ.get("EW_VERSION", "")
# A whole build on a loaded 2-core machine.
BUILD_TIMEOUT = 1500
DENIED_RESET = ("execward: denied: git reset --hard: forbidden by policy: "
                "destructive operation: discards uncommitted work")


def build_env():
    """The caller's environment without what meson test adds for its
    tests (it would reach the compilers)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("MESON", "MALLOC_PERTURB_", "EXECWARD",
                                 "LD_PRELOAD"))}


def files_under(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


class Install(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for tool in ("meson", "ninja"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("%s is not installed" % tool)
        if not EXECWARD:
            raise unittest.SkipTest("EXECWARD is not set")
        os.umask(0o022)
        cls.dir = sandbox_helper.safe_dir(EXECWARD, "ew-install-")
        os.chmod(cls.dir, 0o755)
        cls.prefix = os.path.join(cls.dir, "prefix")
        cls.build = os.path.join(cls.dir, "build")
        cls.log = os.path.join(cls.dir, "build.log")

        def step(*argv):
            with open(cls.log, "a") as log:
                p = subprocess.run(argv, stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL,
                                   env=build_env(), timeout=BUILD_TIMEOUT)
            if p.returncode != 0:
                with open(cls.log) as f:
                    raise AssertionError("%s failed:\n%s" % (
                        " ".join(argv), f.read()[-8000:]))

        try:
            step("meson", "setup", cls.build, SOURCE_ROOT,
                 "--prefix", cls.prefix, "-Dtests=disabled",
                 "-Dfuzz=disabled")
            step("ninja", "-C", cls.build, "-j", "2")
            step("meson", "install", "-C", cls.build, "--no-rebuild",
                 "--quiet")
        except BaseException:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise
        libs = [os.path.join(d, "libexecward.so")
                for d, _, names in os.walk(cls.prefix)
                if "libexecward.so" in names]
        cls.libdir = os.path.dirname(libs[0]) if len(libs) == 1 else None
        cls.home = os.path.join(cls.dir, "home")
        cls.ws = os.path.join(cls.dir, "ws")
        cls.run_dir = os.path.join(cls.dir, "run")
        for d in (cls.home, cls.ws):
            os.makedirs(d)
        os.makedirs(cls.run_dir, mode=0o700)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def env(self):
        """PATH with the installed execward first, and nothing that
        points at the build tree."""
        return {"PATH": os.path.join(self.prefix, "bin") + ":/usr/bin:/bin",
                "HOME": self.home, "LANG": "C.UTF-8",
                "XDG_RUNTIME_DIR": self.run_dir}

    def execward(self, *args, cwd=None):
        return subprocess.run(["execward"] + list(args), env=self.env(),
                              cwd=cwd or self.ws, capture_output=True,
                              text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    def test_programs(self):
        self.assertIsNotNone(self.libdir, "one libexecward.so installed")
        self.assertEqual(os.path.basename(self.libdir), "execward")
        for f in (os.path.join(self.prefix, "bin", "execward"),
                  os.path.join(self.libdir, "libexecward.so"),
                  os.path.join(self.libdir, "execward-escalate")):
            self.assertTrue(os.access(f, os.X_OK), f)
        p = self.execward("--version")
        self.assertEqual((p.returncode, p.stdout.strip()),
                         (0, "execward %s" % VERSION))

    def test_run_from_path_with_the_installed_rules(self):
        rules = os.path.join(self.prefix, "share", "execward", "rules")
        p = self.execward("run", "--rules", rules, "--", "bash", "-c",
                          'ls / | wc -l; git reset --hard || '
                          'echo "git was stopped: $?"')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("git was stopped: 126", p.stdout)
        self.assertIn(DENIED_RESET, p.stderr)
        # The installed library, found from the path compiled in.
        p = self.execward("run", "--rules", rules, "--", "sh", "-c",
                          'echo "$LD_PRELOAD"')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip().split(":")[0],
                         os.path.join(self.libdir, "libexecward.so"))

    def test_escalation_through_the_installed_helper(self):
        rules = os.path.join(self.dir, "allow-true.rules")
        with open(rules, "w") as f:
            f.write('prefix_rule(pattern=["true"])\n')
        log = os.path.join(self.dir, "escalate.jsonl")
        # sh runs confined (no rule for env); the true env starts leaves
        # the sandbox through execward-escalate.
        p = self.execward("run", "--sandbox", "workspace-write", "--rules",
                          rules, "--audit", log, "--", "sh", "-c",
                          "env true")
        if p.returncode == 126 and "Landlock" in p.stderr:
            self.skipTest(p.stderr.strip())
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(log) as f:
            recs = [json.loads(line) for line in f]
        esc = [r for r in recs if r.get("decision") == "escalate"]
        self.assertEqual([r["argv"] for r in esc], [["true"]], recs)
        exits = [r for r in recs if r.get("type") == "exit"]
        self.assertEqual([(r["token"], r["status"]) for r in exits],
                         [(esc[0]["token"], {"code": 0})], recs)

    def test_manual_pages(self):
        man = os.path.join(self.prefix, "share", "man")
        for sec, page in (("1", "execward"), ("5", "execward-rules"),
                          ("5", "execward-audit")):
            path = os.path.join(man, "man" + sec, page + "." + sec)
            self.assertTrue(os.path.isfile(path), path)
            with open(path) as f:
                text = f.read()
            self.assertNotRegex(text, r"@[A-Z]+@")
            if shutil.which("man") is None:
                continue
            p = subprocess.run(["man", "-M", man, sec, page],
                               capture_output=True, text=True, timeout=60,
                               env={"PATH": "/usr/bin:/bin",
                                    "MANPAGER": "cat", "PAGER": "cat",
                                    "MANWIDTH": "80", "LANG": "C.UTF-8"})
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(page.upper(), p.stdout)
        with open(os.path.join(man, "man1", "execward.1")) as f:
            page = f.read()
        # The pages name where this install put things.
        self.assertIn(os.path.join(self.libdir, "libexecward.so"), page)
        self.assertIn(os.path.join(self.prefix, "share", "execward",
                                   "rules"), page)

    def test_rules_docs_and_units(self):
        rules = os.path.join(self.prefix, "share", "execward", "rules",
                             "default.rules")
        self.assertEqual(os.stat(rules).st_mode & 0o777, 0o644)
        doc = os.path.join(self.prefix, "share", "doc", "execward")
        for f in ("README.md", "LICENSE"):
            self.assertTrue(os.path.isfile(os.path.join(doc, f)), f)
        units = os.path.join(self.prefix, "lib", "systemd", "system")
        with open(os.path.join(units, "execward.service")) as f:
            service = f.read()
        self.assertIn("ExecStart=%s daemon" % os.path.join(
            self.prefix, "bin", "execward"), service)
        self.assertIn("Documentation=man:execward(1)", service)
        self.assertIn("file://%s/README.md" % doc, service)
        self.assertNotIn("/usr/local", service)
        with open(os.path.join(units, "execward.socket")) as f:
            self.assertIn("ListenSequentialPacket=/run/execward/"
                          "execward.sock", f.read())

    def test_destdir(self):
        dest = os.path.join(self.dir, "dest")
        p = subprocess.run(["meson", "install", "-C", self.build,
                            "--no-rebuild", "--quiet", "--destdir", dest],
                           capture_output=True, text=True,
                           env=build_env(), timeout=BUILD_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        staged = os.path.join(dest, os.path.relpath(self.prefix, "/"))
        self.assertEqual(files_under(staged), files_under(self.prefix))


if __name__ == "__main__":
    unittest.main(verbosity=2)
