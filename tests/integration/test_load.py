#!/usr/bin/env python3
"""Load and fault tests for the broker and the shim (bounded in time; each
checks that nothing was lost). Environment as for test_run.py, plus
EW_HOSTILE (tests/integration/hostile.c)."""
import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_run import EXECWARD, RunCase  # noqa: E402

HOSTILE = os.environ.get("EW_HOSTILE", "")
FAILALLOC = os.environ.get("EW_FAILALLOC", "")
HERE = os.path.dirname(os.path.abspath(__file__))
# Under tests/valgrind/execward-vg, every broker runs under memcheck.
UNDER_VALGRIND = bool(os.environ.get("EW_VG_EXECWARD"))

WORKLOAD = ("for p in $(seq 64); do "
            "(for i in $(seq 100); do /bin/true; done) & done; wait; "
            ": > done")
# The same, each start named (P-I) and saying whether it ran (R) or
# failed (F), with nothing but the 6,400 starts of /bin/true (loops and
# echo are builtins; a failed `seq` would skip a whole loop unsaid).
COUNTED = ("for p in {1..64}; do "
           "(for ((i = 1; i <= 100; i++)); do if /bin/true $p-$i; "
           "then echo R $p-$i; else echo F $p-$i; fi; done) & done; wait")


class TestLoad(RunCase):

    def test_64_processes_100_programs_each(self):
        """Every one of 6,400 starts either ran, with its record, or was
        refused with a reason the shim gave. A broker held up past the
        shim's EXECWARD_TIMEOUT (valgrind's, on a loaded machine) makes
        its starts fail closed: counted and explained, never lost, and
        recorded as denied (or, when the shim gave up just as it was
        answered, as the allow it came too late for)."""
        rc, out, err = self.run_ew(["bash", "-c", COUNTED], timeout=900)
        self.assertEqual(rc, 0, err)
        ran = set(re.findall(r"^R (\d+-\d+)$", out, re.M))
        failed = set(re.findall(r"^F (\d+-\d+)$", out, re.M))
        self.assertEqual(len(ran) + len(failed), 6400, out[-300:])
        self.assertFalse(ran & failed)
        denied = dict(re.findall(
            r"^execward: denied: /bin/true (\d+-\d+): (.*)$", err, re.M))
        reasons = collections.Counter(denied.values())
        recs = self.records()
        true = collections.defaultdict(list)
        for r in recs:
            if r.get("file") in ("/bin/true", "/usr/bin/true"):
                true[r["argv"][1]].append(r)
        # Anything else the log says (a connection dropped unasked).
        other = [r for r in recs if "type" in r]
        if other:
            sys.stderr.write("\n  other records: %r\n" % other)
        late = [i for i in failed if [r["decision"] for r in true[i]] ==
                ["allow"]]
        sys.stderr.write("\n  6400 starts: %d ran, %d refused %s, %d of "
                         "them allowed too late\n" %
                         (len(ran), len(failed), dict(reasons), len(late)))
        # Each start that ran has its one allow record: none lost.
        for i in ran:
            self.assertEqual([r["decision"] for r in true[i]], ["allow"],
                             i)
        # Each refusal is said, and is the broker not answering (in time,
        # or at all), never a decision; the log has it as a deny, or as
        # the allow the shim no longer waited for.
        self.assertEqual(set(denied), failed, err[-2000:])
        for why in reasons:
            self.assertRegex(why, "broker|timed out|EXECWARD_TIMEOUT", why)
        for i in failed:
            self.assertLessEqual(len(true[i]), 1, true[i])
            if true[i] and true[i][0]["decision"] == "deny":
                self.assertIn("gave up waiting", true[i][0]["reason"])
        if not UNDER_VALGRIND:
            self.assertEqual(len(failed), 0, reasons)
        seqs = [r["seq"] for r in recs]
        self.assertEqual(sorted(seqs), list(range(1, len(recs) + 1)))
        self.assertEqual(len({r["pid"] for i in ran for r in true[i]}),
                         len(ran))

    def test_running_out_of_memory_is_said_as_such(self):
        """An allocation that fails while the command is asked about is
        "out of memory" (ew_err_str), not strerror's "Invalid argument"
        for an execward error code."""
        if not FAILALLOC or UNDER_VALGRIND:
            self.skipTest("needs EW_FAILALLOC, and no valgrind")
        env = dict(self.env, LD_PRELOAD=FAILALLOC,
                   EW_FAILALLOC_BYTES=str(1 << 20))
        args = ["x" * 100000] * 15  # 1.5 MB: past the allocation limit
        rc, out, err = self.run_ew(["/bin/true"] + args, env=env)
        self.assertNotEqual(rc, 0)
        self.assertIn("execward run: /bin/true: out of memory", err)
        self.assertNotIn("Invalid argument", err)

    def test_broker_killed_in_the_middle(self):
        p = subprocess.Popen(
            [EXECWARD, "run", "--rules", self.rules, "--audit", self.audit,
             "--", "bash", "-c", WORKLOAD + " 2>/dev/null"],
            env=dict(self.env, EXECWARD_QUIET="1"), cwd=self.dir,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            self.assertLess(time.monotonic(), deadline, "no progress")
            if os.path.exists(self.audit) and \
                    os.path.getsize(self.audit) > 200 * 400:
                break
            time.sleep(0.05)
        p.kill()
        p.wait()
        killed = time.monotonic()
        # Every later start fails closed at once (nobody listens): the
        # whole workload ends soon, none hangs.
        done = os.path.join(self.dir, "done")
        while not os.path.exists(done):
            self.assertLess(time.monotonic() - killed, 120, "a start hung")
            time.sleep(0.05)
        recs = self.records()  # asserts every line is whole JSON
        self.assertGreater(len(recs), 100)
        self.assertLess(len(recs), 6466)
        # A new broker picks up.
        rc, out, err = self.run_ew(["bash", "-c", "/bin/true && echo ok"])
        self.assertEqual((rc, out), (0, "ok\n"), err)

    def test_misbehaving_clients_do_not_stop_the_broker(self):
        rc, out, err = self.run_ew(
            ["python3", os.path.join(HERE, "badclients.py"), "all"],
            timeout=300)
        self.assertEqual(rc, 0, err)
        res = json.loads(out.strip().splitlines()[-1])
        # Every start ran: none waited past the shim's EXECWARD_TIMEOUT
        # (a timing bound of our own would only make this flaky).
        self.assertEqual(res["ran"], 50)
        self.assertGreaterEqual(res["held"], 1002)
        sys.stderr.write("\n  slowest start beside the bad clients: "
                         "%.3f s\n" % res["slowest"])
        true = [r for r in self.records() if r["file"] in (
            "/bin/true", "/usr/bin/true")]
        self.assertEqual(len(true), 50)


class TestHostilePrograms(RunCase):

    def check(self, mode, timeout=60):
        if not HOSTILE:
            self.skipTest("EW_HOSTILE not set")
        marker = os.path.join(self.dir, "marker-" + mode)
        rc, out, err = self.run_ew([HOSTILE, mode, marker], timeout=timeout)
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(marker), err)
        touch = [r for r in self.records()
                 if r["file"] == "/usr/bin/touch"]
        self.assertEqual(len(touch), 1, self.records())
        self.assertEqual(touch[0]["argv"], ["touch", marker])
        return err

    def test_closes_all_fds(self):
        self.check("closefds")

    def test_hostile_preload_is_repaired(self):
        self.check("preload")

    def test_exec_from_a_signal_handler(self):
        self.check("signal")

    def test_a_thousand_forks_without_exec(self):
        start = time.monotonic()
        self.check("forks")
        self.assertEqual(len(self.records()), 2)  # hostile itself, touch
        self.assertLess(time.monotonic() - start, 60)


if __name__ == "__main__":
    if not EXECWARD:
        sys.exit("EXECWARD is not set: run through meson test")
    unittest.main(verbosity=2)
