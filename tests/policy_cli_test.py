#!/usr/bin/env python3
"""`execward policy check` against rule files: its JSON is compared, as
JSON, with what `codex execpolicy check` prints (its tests/basic.rs),
and its exit status and diagnostics are checked.

usage: policy_cli_test.py EXECWARD
"""
import json
import os
import subprocess
import sys
import tempfile

EXECWARD = sys.argv[1]
failures = []
passes = []


def run(*args, env=None):
    p = subprocess.run([EXECWARD, *args], capture_output=True, env=env)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def check(name, cond, detail=""):
    if not cond:
        failures.append("%s: %s" % (name, detail))
        print("FAIL %s %s" % (name, detail))
    else:
        passes.append(name)
        print("ok   %s" % name)


def expect_json(name, args, want, env=None):
    rc, out, err = run("policy", "check", *args, env=env)
    check(name + " (exit 0)", rc == 0, "exit %d, stderr %r" % (rc, err))
    try:
        got = json.loads(out)
    except ValueError as e:
        check(name + " (JSON)", False, "%s: %r" % (e, out))
        return
    check(name, got == want, "got %s, want %s" % (json.dumps(got),
                                                  json.dumps(want)))
    check(name + " (one line)", out.count("\n") == 1 or "--pretty" in args,
          repr(out))
    return out


def expect_fail(name, args, stderr_has, env=None):
    rc, out, err = run(*args, env=env)
    check(name + " (exit 2)", rc == 2, "exit %d, stderr %r" % (rc, err))
    check(name + " (no stdout)", out == "", repr(out))
    for s in stderr_has:
        check(name + " (stderr)", s in err, "%r not in %r" % (s, err))
    return err


def write(path, text, mode=0o644):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def prefix(words, decision, **extra):
    m = {"matchedPrefix": words, "decision": decision}
    m.update(extra)
    return {"prefixRuleMatch": m}


def heur(words, decision):
    return {"heuristicsRuleMatch": {"command": words, "decision": decision}}


def main():
    tmp = tempfile.mkdtemp(prefix="ew_policy_cli.")
    os.chmod(tmp, 0o700)
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = os.path.join(tmp, "config")
    env.pop("EXECWARD_RULES", None)

    # The two CLI goldens of Codex's execpolicy tests/basic.rs.
    push = write(os.path.join(tmp, "push.rules"),
                 'prefix_rule(pattern=["git","push"], decision="forbidden")\n')
    expect_json("golden 1", ["--rules", push, "--", "git", "push", "origin",
                             "main"],
                json.loads('{"decision":"forbidden","matchedRules":[{'
                           '"prefixRuleMatch":{"matchedPrefix":["git","push"],'
                           '"decision":"forbidden"}}]}'), env=env)
    just = write(os.path.join(tmp, "just.rules"),
                 'prefix_rule(pattern=["git","push"], decision="forbidden", '
                 'justification="pushing is blocked in this repo")\n')
    out = expect_json(
        "golden 2", ["--rules", just, "--", "git", "push", "origin", "main"],
        json.loads('{"decision":"forbidden","matchedRules":[{'
                   '"prefixRuleMatch":{"matchedPrefix":["git","push"],'
                   '"decision":"forbidden","justification":'
                   '"pushing is blocked in this repo"}}]}'), env=env)
    check("matchedRules before decision",
          out is not None and out.index("matchedRules") < out.index(
              '"decision":"forbidden"}'), repr(out))

    # Nothing matched: no decision at all.
    expect_json("no match", ["--rules", push, "--", "ls", "-l"],
                {"matchedRules": []}, env=env)
    # Pretty output is the same value, indented.
    out = expect_json("pretty", ["--pretty", "-r", push, "--", "git", "push"],
                      {"matchedRules": [prefix(["git", "push"], "forbidden")],
                       "decision": "forbidden"}, env=env)
    check("pretty is indented", out is not None and "\n  " in out, repr(out))

    # Several files and a folder, in order; strictest wins.
    d = os.path.join(tmp, "dir")
    os.mkdir(d, 0o700)
    write(os.path.join(d, "b.rules"),
          'prefix_rule(pattern=["git"], decision="prompt")\n')
    write(os.path.join(d, "a.codexpolicy"),
          'prefix_rule(pattern=["git", ["push", "pull"]])\n')
    write(os.path.join(d, "c.txt"), "not rules\n")
    expect_json("folder and files", ["--rules=" + d, "-r", push, "--", "git",
                                     "push", "-f"],
                {"matchedRules": [prefix(["git", "push"], "allow"),
                                  prefix(["git"], "prompt"),
                                  prefix(["git", "push"], "forbidden")],
                 "decision": "forbidden"}, env=env)

    # The program is matched by its basename unless asked otherwise.
    expect_json("basename", ["-r", push, "--", "/usr/bin/git", "push"],
                {"matchedRules": [prefix(["git", "push"], "forbidden")],
                 "decision": "forbidden"}, env=env)
    expect_json("preserve program paths",
                ["-r", push, "--preserve-program-paths", "--",
                 "/usr/bin/git", "push"], {"matchedRules": []}, env=env)
    hosts = write(os.path.join(tmp, "hosts.rules"),
                  'prefix_rule(pattern=["git"], decision="prompt")\n'
                  'host_executable(name="git", paths=["/usr/bin/git"])\n')
    expect_json("resolved program",
                ["-r", hosts, "--resolve-host-executables", "--",
                 "/usr/bin/git", "status"],
                {"matchedRules": [prefix(["git"], "prompt",
                                         resolvedProgram="/usr/bin/git")],
                 "decision": "prompt"}, env=env)
    expect_json("host executable not listed",
                ["-r", hosts, "--resolve-host-executables", "--",
                 "/opt/git/bin/git", "status"], {"matchedRules": []}, env=env)

    # Heuristics and shell splitting (the broker's view).
    expect_json("heuristics", ["-r", push, "--heuristics", "--", "rm", "-rf",
                               "/"],
                {"matchedRules": [heur(["rm", "-rf", "/"], "prompt")],
                 "decision": "prompt"}, env=env)
    expect_json("split", ["-r", push, "--heuristics", "--", "bash", "-lc",
                          "ls -l && git push origin"],
                {"matchedRules": [heur(["ls", "-l"], "allow"),
                                  prefix(["git", "push"], "forbidden")],
                 "decision": "forbidden"}, env=env)
    expect_json("no split without --heuristics",
                ["-r", push, "--", "bash", "-lc", "git push"],
                {"matchedRules": []}, env=env)

    # Command words are taken verbatim, options included; no -- needed.
    opts = write(os.path.join(tmp, "opts.rules"),
                 'prefix_rule(pattern=["ls", "--pretty"])\n')
    expect_json("verbatim words", ["-r", opts, "--", "ls", "--pretty", "-r"],
                {"matchedRules": [prefix(["ls", "--pretty"], "allow")],
                 "decision": "allow"}, env=env)
    expect_json("command without --", ["-r", opts, "ls", "--pretty"],
                {"matchedRules": [prefix(["ls", "--pretty"], "allow")],
                 "decision": "allow"}, env=env)

    # Not UTF-8: still valid JSON.
    rc = subprocess.run([EXECWARD.encode(), b"policy", b"check", b"-r",
                         push.encode(), b"--heuristics", b"--", b"echo",
                         b"\xff"], capture_output=True, env=env)
    check("invalid UTF-8 argument", rc.returncode == 0 and json.loads(
        rc.stdout.decode("utf-8")) == {
            "matchedRules": [heur(["echo", "\ufffd"], "allow")],
            "decision": "allow"}, repr(rc.stdout))

    # Default rules: the XDG folder (missing = empty), then EXECWARD_RULES.
    expect_json("default folder missing", ["--", "git", "push"],
                {"matchedRules": []}, env=env)
    e2 = dict(env)
    e2["EXECWARD_RULES"] = push
    expect_json("EXECWARD_RULES", ["--", "git", "push"],
                {"matchedRules": [prefix(["git", "push"], "forbidden")],
                 "decision": "forbidden"}, env=e2)

    # Bad rules: exit 2 and FILE:LINE:COL diagnostics, nothing on stdout.
    bad = write(os.path.join(tmp, "bad.rules"),
                'prefix_rule(pattern=["ok"])\n'
                'prefix_rule(pattern=["git"], decision="maybe")\n'
                'foo(1)\n')
    expect_fail("bad rules", ["policy", "check", "-r", bad, "--", "git"],
                [bad + ":2:39: invalid decision: maybe\n",
                 bad + ":3:1: unknown function `foo`"], env=env)
    loose = write(os.path.join(tmp, "loose.rules"),
                  'prefix_rule(pattern=["git"])\n', 0o666)
    expect_fail("writable rules file", ["policy", "check", "-r", loose, "--",
                                        "git"],
                [loose + ": refusing rules file: writable by group or "
                 "others (mode 0666)"], env=env)
    expect_fail("missing rules file", ["policy", "check", "-r",
                                       os.path.join(tmp, "none.rules"),
                                       "--", "git"],
                ["none.rules: No such file or directory"], env=env)

    # An allow rule for a program that runs what it is told: a warning on
    # stderr, the JSON as ever on stdout.
    risky = write(os.path.join(tmp, "risky.rules"),
                  'prefix_rule(pattern=["ls"])\n'
                  'prefix_rule(pattern=["bash"], decision="allow")\n')
    rc, out, err = run("policy", "check", "-r", risky, "--", "ls", env=env)
    check("risky rule (exit 0)", rc == 0, err)
    check("risky rule (JSON)", json.loads(out)["decision"] == "allow", out)
    check("risky rule (warning)",
          err.startswith(risky + ':2: warning: allow rule for ["bash"]: a '
                         "shell runs any script") and
          err.count("\n") == 1, repr(err))

    # Bad arguments: one line, exit 2.
    err = expect_fail("unknown option", ["policy", "check", "--nope", "--",
                                         "ls"], ["unknown option --nope"])
    check("one line", err.count("\n") == 1, repr(err))
    expect_fail("no command", ["policy", "check", "-r", push], ["no command"])
    expect_fail("no command after --", ["policy", "check", "--"],
                ["no command"])
    expect_fail("--rules without a path", ["policy", "check", "--rules"],
                ["--rules needs a path"])
    expect_fail("unknown subcommand", ["policy", "frobnicate"],
                ["unknown subcommand frobnicate"])
    rc, out, _ = run("policy", "check", "--help")
    check("help", rc == 0 and "usage: execward policy check" in out, out)

    subprocess.run(["rm", "-rf", tmp], check=False)
    # The counts, as scripts/test-count reads them.
    print("# pass %d\n# fail %d\n# skipped 0" % (len(passes),
                                                  len(failures)))
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)


main()
