/* policy/ew_rules.c: which rules files load, reload, the amend file. */
#include <sys/stat.h>
#include <unistd.h>

#include "test_policy.h"

#include <criterion/redirect.h>

#include "ew_rules.h"

static char tmpdir[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ew_rules_test.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	unsetenv("EXECWARD_RULES");
	cr_redirect_stderr();
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(policy_rules, .init = setup, .fini = teardown);

/* Create tmpdir/rel (folders on the way) holding text, mode 0644. */
static char *
put(const char *rel, const char *text)
{
	static char path[8][512];
	static int slot;
	char *p = path[slot++ % 8], *s;
	FILE *f;

	snprintf(p, 512, "%s/%s", tmpdir, rel);
	for (s = strchr(p + strlen(tmpdir) + 1, '/'); s != NULL;
	     s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0700);
		*s = '/';
	}
	if (text != NULL) {
		cr_assert_not_null(f = fopen(p, "w"));
		fputs(text, f);
		fclose(f);
		chmod(p, 0644);
	} else {
		mkdir(p, 0700);
	}
	return p;
}

static enum ew_policy_decision
decide(const struct ew_rules *r, const char *cmd)
{
	static const struct ew_policy_opts o = { 0 };
	struct ew_policy_result *res;
	enum ew_policy_decision d;
	char *argv[] = { (char *)cmd, NULL };

	cr_assert_eq(ew_policy_check(r->policy, argv, 1, &o, &res), 0);
	d = res->decision;
	ew_policy_result_free(res);
	return d;
}

Test(policy_rules, explicit_paths)
{
	struct ew_rules r;
	char *paths[2];

	paths[0] = put("one.rules", "prefix_rule(pattern=[\"a\"])\n");
	paths[1] = put("dir/two.rules",
	    "prefix_rule(pattern=[\"b\"], "
	    "decision=\"prompt\")\n");
	paths[1][strlen(paths[1]) - strlen("/two.rules")] = '\0';
	cr_assert_eq(ew_rules_load(&r, paths, 2, NULL, NULL), 0);
	cr_expect_eq(r.npaths, 2);
	cr_expect_eq(decide(&r, "a"), EW_POLICY_ALLOW);
	cr_expect_eq(decide(&r, "b"), EW_POLICY_PROMPT);
	/* The first folder in use holds default.rules. */
	cr_expect(strstr(r.amend_file, "/dir/default.rules") != NULL, "%s",
	    r.amend_file);
	ew_rules_fini(&r);
	cr_expect_null(r.policy);
}

Test(policy_rules, files_only_amend_first_file)
{
	struct ew_rules r;
	char *paths[1];

	paths[0] = put("only.rules", "prefix_rule(pattern=[\"a\"])\n");
	cr_assert_eq(ew_rules_load(&r, paths, 1, NULL, NULL), 0);
	cr_expect_str_eq(r.amend_file, paths[0]);
	ew_rules_fini(&r);
	cr_assert_eq(ew_rules_load(&r, paths, 1, NULL, "/x/y.rules"), 0);
	cr_expect_str_eq(r.amend_file, "/x/y.rules");
	ew_rules_fini(&r);
}

Test(policy_rules, default_folder_and_env)
{
	struct ew_rules r;
	char dflt[512], env[1024];
	char *extra;

	snprintf(dflt, sizeof(dflt), "%s/config/execward/rules", tmpdir);
	/* A missing default folder is an empty policy. */
	cr_assert_eq(ew_rules_load(&r, NULL, 0, dflt, NULL), 0);
	cr_expect_eq(ew_policy_rule_count(r.policy), 0);
	cr_expect(r.default_first);
	snprintf(env, sizeof(env), "%s/default.rules", dflt);
	cr_expect_str_eq(r.amend_file, env);
	ew_rules_fini(&r);

	put("config/execward/rules/default.rules",
	    "prefix_rule(pattern=[\"a\"], decision=\"forbidden\")\n");
	extra = put("extra.rules", "prefix_rule(pattern=[\"b\"])\n");
	snprintf(env, sizeof(env), "::%s:", extra);
	setenv("EXECWARD_RULES", env, 1);
	cr_assert_eq(ew_rules_load(&r, NULL, 0, dflt, NULL), 0);
	cr_expect_eq(r.npaths, 2);
	cr_expect_str_eq(r.paths[1], extra);
	cr_expect_eq(decide(&r, "a"), EW_POLICY_FORBIDDEN);
	cr_expect_eq(decide(&r, "b"), EW_POLICY_ALLOW);
	ew_rules_fini(&r);
}

/* Without a default folder (no home): EXECWARD_RULES alone. */
Test(policy_rules, no_default_folder)
{
	struct ew_rules r;
	char env[600];
	char *one = put("one.rules", "prefix_rule(pattern=[\"h\"])\n");

	snprintf(env, sizeof(env), "%s", one);
	setenv("EXECWARD_RULES", env, 1);
	cr_assert_eq(ew_rules_load(&r, NULL, 0, NULL, NULL), 0);
	cr_expect(!r.default_first);
	cr_expect_eq(r.npaths, 1);
	cr_expect_eq(decide(&r, "h"), EW_POLICY_ALLOW);
	cr_expect_str_eq(r.amend_file, one);
	ew_rules_fini(&r);
}

Test(policy_rules, bad_file_fails_with_diagnostics)
{
	struct ew_rules r;
	char *paths[1], want[512];

	paths[0] = put("bad.rules",
	    "prefix_rule(pattern=[\"a\"])\n"
	    "prefix_rule(pattern=\"b\")\n");
	cr_expect_eq(ew_rules_load(&r, paths, 1, NULL, NULL), -1);
	cr_expect_null(r.policy);
	fflush(stderr);
	snprintf(want, sizeof(want),
	    "%s:2:21: prefix_rule: `pattern` must be a list (got string)\n",
	    paths[0]);
	cr_expect_stderr_eq_str(want);
}

Test(policy_rules, missing_explicit_path_fails)
{
	struct ew_rules r;
	char path[512], *paths[1] = { path };

	snprintf(path, sizeof(path), "%s/nope", tmpdir);
	cr_expect_eq(ew_rules_load(&r, paths, 1, NULL, NULL), -1);
	setenv("EXECWARD_RULES", path, 1);
	cr_expect_eq(ew_rules_load(&r, NULL, 0, tmpdir, NULL), -1);
}

Test(policy_rules, reload)
{
	struct ew_rules r;
	char *paths[1];
	FILE *f;

	paths[0] = put("r.rules", "prefix_rule(pattern=[\"a\"])\n");
	cr_assert_eq(ew_rules_load(&r, paths, 1, NULL, NULL), 0);
	cr_expect_eq(decide(&r, "a"), EW_POLICY_ALLOW);
	cr_assert_not_null(f = fopen(paths[0], "w"));
	fputs("prefix_rule(pattern=[\"a\"], decision=\"prompt\")\n", f);
	fclose(f);
	cr_expect_eq(ew_rules_reload(&r), 0);
	cr_expect_eq(decide(&r, "a"), EW_POLICY_PROMPT);
	/* A broken edit keeps the rules in force. */
	cr_assert_not_null(f = fopen(paths[0], "w"));
	fputs("prefix_rule(pattern=[\"a\"], decision=\"nope\")\n", f);
	fclose(f);
	cr_expect_eq(ew_rules_reload(&r), -1);
	cr_expect_eq(decide(&r, "a"), EW_POLICY_PROMPT);
	ew_rules_fini(&r);
}

/* "Always": append to the amend file, then reload. */
Test(policy_rules, amend_then_reload)
{
	struct ew_rules r;
	char dflt[512], *tok[] = { "make", "test", NULL }, *err = NULL;

	snprintf(dflt, sizeof(dflt), "%s/cfg/execward/rules", tmpdir);
	put("cfg/execward/x", NULL);
	cr_assert_eq(ew_rules_load(&r, NULL, 0, dflt, NULL), 0);
	cr_assert_eq(
	    ew_policy_append_allow(r.amend_file, tok, 2, &err), 0, "%s", err);
	cr_assert_eq(ew_rules_reload(&r), 0);
	cr_expect_eq(ew_policy_rule_count(r.policy), 1);
	ew_rules_fini(&r);
}
