/*
 * ew_policy_ask_names: a name it leaves out must come to an allow in
 * place whatever its arguments, since the shim starts such a program on
 * its own (proto/ew_snap.h). Checked against the evaluator itself, with
 * arguments meant to trip every rule and heuristic there is.
 */
#include "test_policy.h"

#include "ew_err.h"

/* The broker's options (execward run, mcp, daemon). */
static const struct ew_policy_opts broker = { .heuristics = true,
	.split_shell = true,
	.resolve_host_executables = true,
	.programs_asked = true };

/* Is name among the listed names, or does it start with a prefix? */
static bool
asks(char **names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; ew_policy_ask_prefixes[i] != NULL; i++)
		if (strncmp(name, ew_policy_ask_prefixes[i],
			strlen(ew_policy_ask_prefixes[i])) == 0)
			return true;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Arguments that make some program's start dangerous, or prompt. */
static const char *const tails[][5] = {
	{ NULL },
	{ "-rf", "/", NULL },
	{ "-f", "x", NULL },
	{ "--force", "x", NULL },
	{ "reset", "--hard", NULL },
	{ "-C", "/tmp", "reset", "--hard", NULL },
	{ "push", "--force", NULL },
	{ "clean", "-fdx", NULL },
	{ "branch", "-D", "x", NULL },
	{ "-c", "rm -rf /", NULL },
	{ "-lc", "git reset --hard", NULL },
	{ "rm", "-rf", "/", NULL },
	{ "--list", "/bin/rm", "-rf", "/", NULL },
	{ "/bin/rm", "-rf", "/", NULL },
	{ "--unknown-option", "x", NULL },
	{ "denied", NULL },
	{ "-x", "--", "y", NULL },
};

/* Program names: the special ones, the rules', and ordinary ones. */
static const char *const programs[] = { "true", "ls", "cc", "gcc", "make",
	"env", "xargs", "find", "python3", "node", "rm", "git", "sudo", "doas",
	"sh", "bash", "zsh", "dash", "ld-linux-x86-64.so.2", "ld.so",
	"ld64.so.2", "ld-musl-x86_64.so.1", "ld-2.31.so", "ld", "ldd", "touch",
	"curl", "cat", "sed", "npm", "nice", "timeout", NULL };

static void
check_sound(struct ew_policy *p, const char *dir)
{
	struct ew_policy_result *r;
	char **names = NULL, *argv[8], path[256];
	size_t n = 0, i, k, a;

	cr_assert_eq(ew_policy_ask_names(p, &broker, &names, &n), 0);
	for (i = 0; programs[i] != NULL; i++) {
		if (asks(names, n, programs[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, programs[i]);
		for (k = 0; k < sizeof(tails) / sizeof(tails[0]); k++) {
			argv[0] = (char *)programs[i];
			for (a = 0; tails[k][a] != NULL; a++)
				argv[a + 1] = (char *)tails[k][a];
			argv[a + 1] = NULL;
			cr_assert_eq(
			    ew_policy_eval(p, path, argv, &broker, &r), 0);
			cr_expect(r->decision == EW_POLICY_ALLOW ||
				r->decision == EW_POLICY_NONE,
			    "%s %s ...: %s, but the name is not asked about",
			    path, tails[k][0] ? tails[k][0] : "",
			    ew_policy_decision_str(r->decision));
			ew_policy_result_free(r);
		}
	}
	ew_policy_ask_names_free(names, n);
}

Test(policy_local, the_heuristics_names_are_asked_about)
{
	struct ew_policy *p = ew_policy_new();
	char **names = NULL;
	size_t n = 0;

	cr_assert_eq(ew_policy_ask_names(p, &broker, &names, &n), 0);
	cr_expect(asks(names, n, "rm"));
	cr_expect(asks(names, n, "git"));
	cr_expect(asks(names, n, "sudo"));
	cr_expect(asks(names, n, "sh"));
	cr_expect(asks(names, n, "bash"));
	cr_expect(asks(names, n, "ld-linux-x86-64.so.2"));
	cr_expect(!asks(names, n, "true"));
	cr_expect(!asks(names, n, "cc"));
	cr_expect(!asks(names, n, "ld"));
	ew_policy_ask_names_free(names, n);
	check_sound(p, "/usr/bin");
	ew_policy_free(p);
}

Test(policy_local, rules_that_are_not_plain_allows_are_asked_about)
{
	struct ew_policy *p = tp_load(NULL, "test.rules",
	    "prefix_rule(pattern=[\"touch\", \"denied\"], "
	    "decision=\"forbidden\")\n"
	    "prefix_rule(pattern=[\"curl\"], decision=\"prompt\")\n"
	    "prefix_rule(pattern=[[\"npm\", \"node\"], \"x\"], "
	    "decision=\"prompt\")\n"
	    "prefix_rule(pattern=[\"cat\"], decision=\"allow\")\n"
	    "prefix_rule(pattern=[\"sed\", \"-n\"], decision=\"allow\")\n"
	    "prefix_rule(pattern=[\"/opt/bin/make\"], "
	    "decision=\"forbidden\")\n");
	char **names = NULL;
	size_t n = 0;

	cr_assert_eq(ew_policy_ask_names(p, &broker, &names, &n), 0);
	cr_expect(asks(names, n, "touch"));
	cr_expect(asks(names, n, "curl"));
	cr_expect(asks(names, n, "npm"));
	cr_expect(asks(names, n, "node"));
	/* A path's rule: every program of that name. */
	cr_expect(asks(names, n, "make"));
	/* Allow rules, short or long, allow whatever the arguments. */
	cr_expect(!asks(names, n, "cat"));
	cr_expect(!asks(names, n, "sed"));
	ew_policy_ask_names_free(names, n);
	check_sound(p, "/usr/bin");
	check_sound(p, "/opt/bin");
	ew_policy_free(p);
}

Test(policy_local, the_shipped_rules)
{
	const char *dir = getenv("EW_POLICY_RULES_DIR");
	struct ew_policy *p = ew_policy_new();
	char *diag = NULL;

	cr_assert_not_null(dir);
	cr_assert_eq(ew_policy_load(p, dir, &diag), 0, "%s", diag);
	check_sound(p, "/usr/bin");
	free(diag);
	ew_policy_free(p);
}

Test(policy_local, program_paths_kept_make_every_name_asked)
{
	struct ew_policy_opts o = broker;
	struct ew_policy *p = ew_policy_new();
	char **names = NULL;
	size_t n = 0;

	o.preserve_program_paths = true;
	cr_expect_eq(ew_policy_ask_names(p, &o, &names, &n), -EW_E_INVALID);
	cr_expect_null(names);
	ew_policy_free(p);
}
