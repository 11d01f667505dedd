/*
 * Evaluation: the golden cases of Codex's execpolicy tests/basic.rs and
 * its examples/example.codexpolicy, plus the
 * broker's program-name, splitting and result rules.
 */
#include "test_policy.h"

#include "ew_err.h"

static const struct ew_policy_opts plain = { 0 };
static const struct ew_policy_opts heur = { .heuristics = true };
static const struct ew_policy_opts resolve = { .heuristics = true,
	.resolve_host_executables = true };

/* 2.8 #1 */
Test(policy_eval, basic_match)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(\n    pattern = [\"git\", \"status\"],\n)\n");
	struct ew_policy_result *r = tp_check(p, &heur, "git", "status", NULL);

	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_expect_eq(r->source, EW_POLICY_SOURCE_RULE);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "git status", NULL, NULL);
	cr_expect_str_eq(r->matches[0].file, "test.rules");
	cr_expect_eq(r->matches[0].line, 1);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #2 */
Test(policy_eval, justification_on_forbidden)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(\n    pattern = [\"rm\"],\n    decision = "
	    "\"forbidden\",\n    justification = \"destructive "
	    "command\",\n)\n");
	struct ew_policy_result *r =
	    tp_check(p, &plain, "rm", "-rf", "/some/important/folder", NULL);

	cr_expect_eq(r->decision, EW_POLICY_FORBIDDEN);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_FORBIDDEN, "rm", "destructive command",
	    NULL);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #3: a rule beats the fallback, even a fallback that would ask. */
Test(policy_eval, rule_beats_fallback)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern = [\"ls\"], decision = \"allow\", "
	    "justification = \"safe and commonly used\")\n"
	    "prefix_rule(pattern = [\"rm\"])\n");
	struct ew_policy_result *r = tp_check(p, &heur, "ls", "-l", NULL);

	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(
	    r, 0, false, EW_POLICY_ALLOW, "ls", "safe and commonly used", NULL);
	ew_policy_result_free(r);
	/* The heuristics would say "prompt" for this one. */
	r = tp_check(p, &heur, "rm", "-rf", "/", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_expect_eq(r->source, EW_POLICY_SOURCE_RULE);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "rm", NULL, NULL);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #4 */
Test(policy_eval, justification_cannot_be_empty)
{
	char *d = tp_load_err("prefix_rule(\n    pattern = [\"ls\"],\n    "
			      "decision = \"prompt\",\n    justification = "
			      "\"   \",\n)\n");

	cr_expect_str_eq(d,
	    "test.rules:4:21: invalid rule: justification "
	    "cannot be empty\n");
	free(d);
}

/* 2.8 #5 and #6 */
Test(policy_eval, add_prefix_rule)
{
	struct ew_policy *p = ew_policy_new();
	char *ls[] = { "ls", "-l", NULL };
	struct ew_policy_result *r;

	cr_assert_eq(ew_policy_add_prefix_rule(p, ls, 2, EW_POLICY_PROMPT), 0);
	cr_expect_eq(ew_policy_rule_count(p), 1);
	r = tp_check(p, &heur, "ls", "-l", "/some/important/folder", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_PROMPT, "ls -l", NULL, NULL);
	cr_expect_null(r->matches[0].file);
	ew_policy_result_free(r);
	cr_expect_eq(ew_policy_add_prefix_rule(p, ls, 0, EW_POLICY_ALLOW),
	    -EW_E_INVALID);
	cr_expect_eq(ew_policy_rule_count(p), 1);
	ew_policy_free(p);
}

static struct ew_policy *
two_files(void)
{
	struct ew_policy *p = tp_load(NULL, "first.rules",
	    "prefix_rule(\n    pattern = [\"git\"],\n    decision = "
	    "\"prompt\",\n)\n");

	return tp_load(p, "second.rules",
	    "prefix_rule(\n    pattern = [\"git\", \"commit\"],\n    "
	    "decision = \"forbidden\",\n)\n");
}

/* 2.8 #7 and #8 */
Test(policy_eval, multiple_files)
{
	struct ew_policy *p = two_files();
	struct ew_policy_result *r;

	r = tp_check(p, &heur, "git", "status", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_PROMPT, "git", NULL, NULL);
	ew_policy_result_free(r);

	r = tp_check(p, &heur, "git", "commit", "-m", "hi", NULL);
	cr_expect_eq(r->decision, EW_POLICY_FORBIDDEN);
	cr_assert_eq(r->nmatches, 2);
	tp_expect(r, 0, false, EW_POLICY_PROMPT, "git", NULL, NULL);
	tp_expect(r, 1, false, EW_POLICY_FORBIDDEN, "git commit", NULL, NULL);
	cr_expect_str_eq(r->matches[0].file, "first.rules");
	cr_expect_str_eq(r->matches[1].file, "second.rules");
	cr_expect_eq(r->matches[1].line, 1);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #9 and #10: first-token alternatives become separate rules. */
Test(policy_eval, first_token_alternatives)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(\n    pattern = [[\"bash\", \"sh\"], [\"-c\", "
	    "\"-l\"]],\n)\n");
	struct ew_policy_result *r;

	cr_expect_eq(ew_policy_rule_count(p), 2);
	r = tp_check(p, &plain, "bash", "-c", "echo", "hi", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "bash -c", NULL, NULL);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "sh", "-l", "echo", "hi", NULL);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "sh -l", NULL, NULL);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "zsh", "-l", NULL);
	cr_expect_eq(r->nmatches, 0);
	cr_expect_eq(r->decision, EW_POLICY_NONE);
	cr_expect_eq(r->source, EW_POLICY_SOURCE_NONE);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #11 and #12: later alternatives are not expanded. */
Test(policy_eval, tail_alternatives)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(\n    pattern = [\"npm\", [\"i\", \"install\"], "
	    "[\"--legacy-peer-deps\", \"--no-save\"]],\n)\n");
	struct ew_policy_result *r;

	cr_expect_eq(ew_policy_rule_count(p), 1);
	r = tp_check(p, &plain, "npm", "i", "--legacy-peer-deps", NULL);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "npm i --legacy-peer-deps",
	    NULL, NULL);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "npm", "install", "--no-save", "leftpad", NULL);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(
	    r, 0, false, EW_POLICY_ALLOW, "npm install --no-save", NULL, NULL);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "npm", "install", NULL);
	cr_expect_eq(r->nmatches, 0, "a prefix longer than the command");
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #13 and #14 */
Test(policy_eval, match_and_not_match_enforced)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(\n    pattern = [\"git\", \"status\"],\n    match = "
	    "[[\"git\", \"status\"], \"git status\"],\n    not_match = [\n"
	    "        [\"git\", \"--config\", \"color.status=always\", "
	    "\"status\"],\n        \"git --config color.status=always "
	    "status\",\n    ],\n)\n");
	struct ew_policy_result *r;

	r = tp_check(p, &heur, "git", "status", NULL);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "git status", NULL, NULL);
	ew_policy_result_free(r);
	r = tp_check(
	    p, &heur, "git", "--config", "color.status=always", "status", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_expect_eq(r->source, EW_POLICY_SOURCE_HEURISTICS);
	cr_expect_not(r->all_rule_allowed);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, true, EW_POLICY_ALLOW,
	    "git --config color.status=always status", NULL, NULL);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #15: check_multiple, through the sh -c splitter. */
Test(policy_eval, check_multiple)
{
	struct ew_policy *p = two_files();
	struct ew_policy_opts o = { .heuristics = true, .split_shell = true };
	struct ew_policy_result *r;

	r = tp_eval(p, &o, "/bin/bash", "bash", "-lc",
	    "git status && git commit -m hi", NULL);
	cr_expect_eq(r->decision, EW_POLICY_FORBIDDEN);
	cr_assert_eq(r->nmatches, 3);
	tp_expect(r, 0, false, EW_POLICY_PROMPT, "git", NULL, NULL);
	tp_expect(r, 1, false, EW_POLICY_PROMPT, "git", NULL, NULL);
	tp_expect(r, 2, false, EW_POLICY_FORBIDDEN, "git commit", NULL, NULL);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #16: nothing matches; the heuristics decide. */
Test(policy_eval, heuristics_fallback)
{
	struct ew_policy *p = ew_policy_new();
	struct ew_policy_result *r;

	r = tp_check(p, &heur, "python", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_expect_eq(r->source, EW_POLICY_SOURCE_HEURISTICS);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, true, EW_POLICY_ALLOW, "python", NULL, NULL);
	ew_policy_result_free(r);
	r = tp_check(p, &heur, "rm", "-rf", "/", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, true, EW_POLICY_PROMPT, "rm -rf /", NULL, NULL);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "rm", "-rf", "/", NULL);
	cr_expect_eq(r->decision, EW_POLICY_NONE);
	cr_expect_eq(r->nmatches, 0);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

static void
expect_paths(const struct ew_policy *p, const char *name, size_t n, ...)
{
	const char *const *paths;
	size_t i, got;
	va_list ap;

	cr_assert_eq(
	    ew_policy_host_executable_direct(p, name, &paths, &got), 0);
	cr_assert_eq(got, n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		cr_expect_str_eq(paths[i], va_arg(ap, const char *));
	va_end(ap);
}

/* 2.8 #17 */
Test(policy_eval, host_executable_dedup)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "host_executable(name = \"git\", paths = [\n"
	    "    \"/opt/homebrew/bin/git\", \"/usr/bin/git\", "
	    "\"/usr/bin/git\",\n])\n");

	expect_paths(p, "git", 2, "/opt/homebrew/bin/git", "/usr/bin/git");
	ew_policy_free(p);
}

/* 2.8 #18, #19, #20 */
Test(policy_eval, host_executable_errors)
{
	char *d;

	d = tp_load_err("host_executable(name = \"git\", paths = [\"git\"])\n");
	cr_expect(strstr(d, "host_executable paths must be absolute") != NULL,
	    "%s", d);
	cr_expect_str_eq(d,
	    "test.rules:1:40: invalid rule: host_executable "
	    "paths must be absolute or use `~/...` "
	    "home-relative syntax (got git)\n");
	free(d);
	d = tp_load_err("host_executable(name = \"/usr/bin/git\", paths = "
			"[\"/usr/bin/git\"])\n");
	cr_expect_str_eq(d,
	    "test.rules:1:24: invalid rule: host_executable "
	    "name must be a bare executable name (got "
	    "/usr/bin/git)\n");
	free(d);
	d = tp_load_err("host_executable(name = \"git\", paths = "
			"[\"/usr/bin/rg\"])\n");
	cr_expect(strstr(d, "must have basename `git`") != NULL, "%s", d);
	free(d);
}

/* 2.8 #21: the last definition wins, across files. */
Test(policy_eval, host_executable_last_wins)
{
	struct ew_policy *p = tp_load(NULL, "shared.rules",
	    "host_executable(name = \"git\", paths = [\"/usr/bin/git\"])\n");

	tp_load(p, "user.rules",
	    "host_executable(name = \"git\", paths = "
	    "[\"/opt/homebrew/bin/git\"])\n");
	expect_paths(p, "git", 1, "/opt/homebrew/bin/git");
	ew_policy_free(p);
}

/* 2.8 #22 to #26: the basename fallback for absolute program paths. */
Test(policy_eval, host_executable_resolution)
{
	struct ew_policy *p;
	struct ew_policy_result *r;

	p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern = [\"git\", \"status\"], decision = "
	    "\"prompt\")\nhost_executable(name = \"git\", paths = "
	    "[\"/usr/bin/git\"])\n");
	r = tp_check(p, &resolve, "/usr/bin/git", "status", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(
	    r, 0, false, EW_POLICY_PROMPT, "git status", NULL, "/usr/bin/git");
	ew_policy_result_free(r);
	/* Without the option, an absolute path is just another token. */
	r = tp_check(p, &heur, "/usr/bin/git", "status", NULL);
	cr_assert_eq(r->nmatches, 1);
	cr_expect(r->matches[0].heuristics);
	ew_policy_result_free(r);
	ew_policy_free(p);

	/* #23: an empty allow-list blocks the fallback. */
	p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern = [\"git\"], decision = \"prompt\")\n"
	    "host_executable(name = \"git\", paths = [])\n");
	r = tp_check(p, &resolve, "/usr/bin/git", "status", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(
	    r, 0, true, EW_POLICY_ALLOW, "/usr/bin/git status", NULL, NULL);
	ew_policy_result_free(r);
	ew_policy_free(p);

	/* #24: a path that is not listed. */
	p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern = [\"git\"], decision = \"prompt\")\n"
	    "host_executable(name = \"git\", paths = [\"/usr/bin/git\"])\n");
	r = tp_check(p, &resolve, "/opt/homebrew/bin/git", "status", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_assert_eq(r->nmatches, 1);
	cr_expect(r->matches[0].heuristics);
	ew_policy_result_free(r);
	ew_policy_free(p);

	/* #25: no host_executable: any path of that name. */
	p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern = [\"git\"], decision = \"prompt\")\n");
	r = tp_check(p, &resolve, "/usr/bin/git", "status", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_PROMPT, "git", NULL, "/usr/bin/git");
	ew_policy_result_free(r);
	ew_policy_free(p);

	/* #26: an exact rule wins; no fallback then. */
	p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern = [\"/usr/bin/git\"], decision = \"allow\")\n"
	    "prefix_rule(pattern = [\"git\"], decision = \"prompt\")\n"
	    "host_executable(name = \"git\", paths = [\"/usr/bin/git\"])\n");
	r = tp_check(p, &resolve, "/usr/bin/git", "status", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "/usr/bin/git", NULL, NULL);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* 2.8 #27 */
Test(policy_eval, network_rules)
{
	struct ew_policy *p = tp_load(NULL, "network.rules",
	    "\nnetwork_rule(host = \"google.com\", protocol = \"http\", "
	    "decision = \"allow\")\n"
	    "network_rule(host = \"api.github.com\", protocol = \"https\", "
	    "decision = \"allow\")\n"
	    "network_rule(host = \"blocked.example.com\", protocol = "
	    "\"https\", decision = \"deny\")\n"
	    "network_rule(host = \"prompt-only.example.com\", protocol = "
	    "\"https\", decision = \"prompt\")\n    ");
	const char **allowed, **denied;

	cr_assert_eq(ew_policy_network_rule_count(p), 4);
	cr_expect_str_eq(
	    ew_policy_network_rule_direct(p, 1)->protocol, "https");
	cr_expect_eq(
	    ew_policy_network_rule_direct(p, 2)->decision, EW_POLICY_FORBIDDEN);
	cr_expect_null(ew_policy_network_rule_direct(p, 4));
	cr_assert_eq(ew_policy_network_domains(p, &allowed, &denied), 0);
	cr_expect_str_eq(allowed[0], "google.com");
	cr_expect_str_eq(allowed[1], "api.github.com");
	cr_expect_null(allowed[2]);
	cr_expect_str_eq(denied[0], "blocked.example.com");
	cr_expect_null(denied[1]);
	free(allowed);
	free(denied);
	ew_policy_free(p);
}

/* 2.8 #28 */
Test(policy_eval, network_rule_wildcard)
{
	char *d = tp_load_err("network_rule(host=\"*\", protocol=\"http\", "
			      "decision=\"allow\")");

	cr_expect(strstr(d, "wildcards are not allowed") != NULL, "%s", d);
	free(d);
}

/* Codex's example policy (and the README's), self-validating. */
static const char example[] =
    "prefix_rule(\n"
    "    pattern = [\"git\", \"reset\", \"--hard\"],\n"
    "    decision = \"forbidden\",\n"
    "    justification = \"destructive operation\",\n"
    "    match = [[\"git\", \"reset\", \"--hard\"]],\n"
    "    not_match = [[\"git\", \"reset\", \"--keep\"], "
    "\"git reset --merge\"],\n"
    ")\n"
    "prefix_rule(pattern = [\"ls\"], match = [\"ls\", \"ls -l\", "
    "\"ls -a .\"])\n"
    "prefix_rule(pattern = [\"cat\"], match = [\"cat file.txt\", "
    "\"cat -n README.md\"])\n"
    "prefix_rule(pattern = [\"cp\"], decision = \"prompt\", match = "
    "[\"cp foo bar\", \"cp -r src dest\"])\n"
    "prefix_rule(pattern = [\"head\"], match = [\"head README.md\", "
    "\"head -n 5 CHANGELOG.md\"], not_match = "
    "[\"hea -n 1,5p CHANGELOG.md\"])\n"
    "prefix_rule(pattern = [\"printenv\"], match = [\"printenv\", "
    "\"printenv PATH\"], not_match = [\"print -0\"])\n"
    "prefix_rule(pattern = [\"pwd\"], match = [\"pwd\"])\n"
    "prefix_rule(pattern = [\"which\"], match = [\"which python3\", "
    "\"which -a python3\"])\n"
    "prefix_rule(pattern = [\"git\", [\"push\", \"fetch\"]], decision = "
    "\"prompt\", match = [[\"git\", \"push\", \"origin\", \"main\"]], "
    "not_match = [[\"git\", \"status\"]])\n"
    "prefix_rule(pattern = [[\"bash\", \"sh\"], \"-c\"], match = "
    "[\"sh -c true\"])\n";

Test(policy_eval, example_policy)
{
	struct ew_policy *p = tp_load(NULL, "example.codexpolicy", example);
	struct ew_policy_result *r;

	cr_expect_eq(ew_policy_rule_count(p), 11);
	r = tp_check(p, &plain, "git", "reset", "--hard", "HEAD~1", NULL);
	cr_expect_eq(r->decision, EW_POLICY_FORBIDDEN);
	tp_expect(r, 0, false, EW_POLICY_FORBIDDEN, "git reset --hard",
	    "destructive operation", NULL);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "git", "reset", "--keep", NULL);
	cr_expect_eq(r->nmatches, 0);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "cp", "-r", "src", "dest", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "git", "fetch", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	ew_policy_result_free(r);
	r = tp_check(p, &plain, "hea", "-n", "1,5p", NULL);
	cr_expect_eq(r->nmatches, 0);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* Strictest wins whatever the order; every match in definition order. */
Test(policy_eval, strictest_wins)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern=[\"git\", \"push\"], decision=\"forbidden\")\n"
	    "prefix_rule(pattern=[\"git\"], decision=\"prompt\")\n"
	    "prefix_rule(pattern=[\"git\", \"push\", \"origin\"])\n");
	struct ew_policy_result *r;

	r = tp_check(p, &plain, "git", "push", "origin", "main", NULL);
	cr_expect_eq(r->decision, EW_POLICY_FORBIDDEN);
	cr_assert_eq(r->nmatches, 3);
	tp_expect(r, 0, false, EW_POLICY_FORBIDDEN, "git push", NULL, NULL);
	tp_expect(r, 1, false, EW_POLICY_PROMPT, "git", NULL, NULL);
	tp_expect(r, 2, false, EW_POLICY_ALLOW, "git push origin", NULL, NULL);
	cr_expect_eq(r->matches[2].line, 3);
	cr_expect_not(r->all_rule_allowed);
	ew_policy_result_free(r);
	/* Case matters; no option reordering. */
	r = tp_check(p, &plain, "Git", "push", NULL);
	cr_expect_eq(r->nmatches, 0);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* The broker's view: basename of the program, argv[0] ignored. */
Test(policy_eval, program_name)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern=[\"rm\"], decision=\"forbidden\")\n"
	    "prefix_rule(pattern=[\"/usr/local/bin/custom-cmd\", "
	    "\"--flag\"])\n");
	struct ew_policy_opts keep = { .preserve_program_paths = true,
		.heuristics = true };
	struct ew_policy_result *r;

	r = tp_eval(p, &heur, "/bin/rm", "not-rm", "-rf", "/", NULL);
	cr_expect_eq(r->decision, EW_POLICY_FORBIDDEN);
	tp_expect(r, 0, false, EW_POLICY_FORBIDDEN, "rm", NULL, NULL);
	ew_policy_result_free(r);
	/* An argv[0] that names a rule does not make it apply. */
	r = tp_eval(p, &heur, "/usr/bin/echo", "rm", "-rf", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	tp_expect(r, 0, true, EW_POLICY_ALLOW, "echo -rf", NULL, NULL);
	ew_policy_result_free(r);
	/* Codex's --preserve-program-paths: the rule names the full path. */
	r = tp_eval(p, &keep, "/usr/local/bin/custom-cmd", "custom-cmd",
	    "--flag", "value", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_expect_eq(r->source, EW_POLICY_SOURCE_RULE);
	cr_expect(r->all_rule_allowed);
	tp_expect(r, 0, false, EW_POLICY_ALLOW,
	    "/usr/local/bin/custom-cmd --flag", NULL, NULL);
	ew_policy_result_free(r);
	/* Codex's fallback: an empty policy, /bin/rm -rf / asks. */
	ew_policy_free(p);
	p = ew_policy_new();
	r = tp_eval(p, &heur, "/bin/rm", "rm", "-rf", "/", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_expect_eq(r->source, EW_POLICY_SOURCE_HEURISTICS);
	ew_policy_result_free(r);
	/* A program with no argv at all. */
	cr_assert_eq(ew_policy_eval(p, "/bin/true", NULL, &heur, &r), 0);
	tp_expect(r, 0, true, EW_POLICY_ALLOW, "true", NULL, NULL);
	ew_policy_result_free(r);
	cr_expect_eq(ew_policy_eval(p, "", NULL, &heur, &r), -EW_E_INVALID);
	cr_expect_null(r);
	ew_policy_free(p);
}

/* sh -c splitting: each command checked; all_rule_allowed. */
Test(policy_eval, split_shell)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern=[\"ls\"])\nprefix_rule(pattern=[\"pwd\"])\n"
	    "prefix_rule(pattern=[\"bash\"], decision=\"prompt\")\n");
	struct ew_policy_opts o = { .heuristics = true, .split_shell = true };
	struct ew_policy_result *r;

	r = tp_eval(p, &o, "/bin/bash", "bash", "-lc", "ls && /bin/pwd", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_expect(r->all_rule_allowed);
	cr_assert_eq(r->nmatches, 2);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "ls", NULL, NULL);
	tp_expect(r, 1, false, EW_POLICY_ALLOW, "pwd", NULL, NULL);
	ew_policy_result_free(r);
	/* One command without a rule: allowed by the heuristics only. */
	r = tp_eval(p, &o, "/bin/sh", "sh", "-c", "ls; echo hi", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_expect_not(r->all_rule_allowed);
	cr_expect_eq(r->source, EW_POLICY_SOURCE_RULE);
	cr_assert_eq(r->nmatches, 2);
	tp_expect(r, 1, true, EW_POLICY_ALLOW, "echo hi", NULL, NULL);
	ew_policy_result_free(r);
	/* Not splittable: the whole command is judged. */
	r = tp_eval(p, &o, "/bin/bash", "bash", "-c", "ls > out", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_PROMPT, "bash", NULL, NULL);
	ew_policy_result_free(r);
	/* Without split_shell, neither. */
	r = tp_eval(p, &heur, "/bin/bash", "bash", "-lc", "ls", NULL);
	tp_expect(r, 0, false, EW_POLICY_PROMPT, "bash", NULL, NULL);
	ew_policy_result_free(r);
	/* The heuristics see into unsplittable scripts. */
	ew_policy_free(p);
	p = ew_policy_new();
	r = tp_eval(p, &o, "/bin/bash", "bash", "-c",
	    "rm -rf \"$HOME/x\" 2>/dev/null", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_assert_eq(r->nmatches, 1);
	cr_expect_eq(r->matches[0].nprefix, 3);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* The result is self-contained: it outlives the policy and argv. */
Test(policy_eval, result_self_contained)
{
	struct ew_policy *p = tp_load(NULL, "x.rules",
	    "prefix_rule(pattern=[\"git\", [\"a\", \"b\"]], "
	    "justification=\"j\")\n");
	struct ew_policy_result *r;
	char a0[] = "git", a1[] = "b", a2[] = "c";
	char *argv[] = { a0, a1, a2, NULL };

	cr_assert_eq(ew_policy_eval(p, "/usr/bin/git", argv, &plain, &r), 0);
	ew_policy_free(p);
	memset(a1, 'x', 1);
	cr_assert_eq(r->nmatches, 1);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "git b", "j", NULL);
	cr_expect_str_eq(r->matches[0].file, "x.rules");
	ew_policy_result_free(r);
}

/* Many matches for one command, and long commands. */
Test(policy_eval, many_matches)
{
	struct ew_policy *p = ew_policy_new();
	struct ew_policy_result *r;
	char *words[100];
	char buf[100][8];
	size_t i;

	for (i = 0; i < 100; i++) {
		snprintf(buf[i], sizeof(buf[i]), "w%zu", i);
		words[i] = buf[i];
	}
	words[0] = "tool";
	for (i = 1; i <= 60; i++)
		cr_assert_eq(ew_policy_add_prefix_rule(p, words, i,
				 i == 60 ? EW_POLICY_PROMPT : EW_POLICY_ALLOW),
		    0);
	cr_assert_eq(ew_policy_check(p, words, 100, &plain, &r), 0);
	cr_expect_eq(r->nmatches, 60);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	cr_expect_eq(r->matches[59].nprefix, 60);
	cr_expect_str_eq(r->matches[59].prefix[59], "w59");
	ew_policy_result_free(r);
	ew_policy_free(p);
}
