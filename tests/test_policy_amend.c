/* Appending an allow rule (Codex's execpolicy amend.rs goldens). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_policy.h"

#include "ew_err.h"

static char tmpdir[64];
static char rules[128];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ew_amend_test.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(rules, sizeof(rules), "%s/rules/default.rules", tmpdir);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(policy_amend, .init = setup, .fini = teardown);

static char *
contents(void)
{
	static char buf[65536];
	FILE *f = fopen(rules, "rb");
	size_t n;

	cr_assert_not_null(f, "open %s: %s", rules, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
seed(const char *text)
{
	char dir[128];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/rules", tmpdir);
	mkdir(dir, 0700);
	cr_assert_not_null(f = fopen(rules, "wb"));
	fputs(text, f);
	fclose(f);
	chmod(rules, 0644);
}

static int
append(char **err, size_t n, ...)
{
	char *tok[16];
	size_t i;
	va_list ap;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		tok[i] = va_arg(ap, char *);
	va_end(ap);
	tok[n] = NULL;
	return ew_policy_append_allow(rules, tok, n, err);
}

Test(policy_amend, creates_folder_and_file)
{
	char *err = NULL;

	cr_assert_eq(append(&err, 2, "echo", "Hello, world!"), 0, "%s", err);
	cr_expect_null(err);
	cr_expect_str_eq(contents(),
	    "prefix_rule(pattern=[\"echo\", \"Hello, "
	    "world!\"], decision=\"allow\")\n");
}

Test(policy_amend, never_twice)
{
	cr_assert_eq(append(NULL, 1, "python3"), 0);
	cr_assert_eq(append(NULL, 1, "python3"), 0);
	cr_expect_str_eq(contents(),
	    "prefix_rule(pattern=[\"python3\"], decision=\"allow\")\n");
}

Test(policy_amend, no_duplicate_newline)
{
	seed("prefix_rule(pattern=[\"ls\"], decision=\"allow\")\n");
	cr_assert_eq(append(NULL, 2, "echo", "Hello, world!"), 0);
	cr_expect_str_eq(contents(),
	    "prefix_rule(pattern=[\"ls\"], decision=\"allow\")\n"
	    "prefix_rule(pattern=[\"echo\", \"Hello, world!\"], "
	    "decision=\"allow\")\n");
}

Test(policy_amend, newline_when_missing)
{
	seed("prefix_rule(pattern=[\"ls\"], decision=\"allow\")");
	cr_assert_eq(append(NULL, 2, "echo", "Hello, world!"), 0);
	cr_expect_str_eq(contents(),
	    "prefix_rule(pattern=[\"ls\"], decision=\"allow\")\n"
	    "prefix_rule(pattern=[\"echo\", \"Hello, world!\"], "
	    "decision=\"allow\")\n");
}

Test(policy_amend, existing_line_with_crlf_counts)
{
	seed("prefix_rule(pattern=[\"ls\"], decision=\"allow\")\r\n");
	cr_assert_eq(append(NULL, 1, "ls"), 0);
	cr_expect_str_eq(contents(),
	    "prefix_rule(pattern=[\"ls\"], decision=\"allow\")\r\n");
}

/* What is appended loads back and matches exactly those tokens. */
Test(policy_amend, round_trip)
{
	static const struct ew_policy_opts o = { 0 };
	struct ew_policy *p = ew_policy_new();
	struct ew_policy_result *r;
	char *diag = NULL;

	cr_assert_eq(append(NULL, 4, "printf", "a\"b\\c\n\t\x01", "$HOME",
			 "\xc3\xa9t\xc3\xa9"),
	    0);
	cr_expect_str_eq(contents(),
	    "prefix_rule(pattern=[\"printf\", \"a\\\"b\\\\c\\n\\t\\u0001\", "
	    "\"$HOME\", \"\xc3\xa9t\xc3\xa9\"], decision=\"allow\")\n");
	cr_assert_eq(
	    ew_policy_load(p, rules, &diag), 0, "%s", diag ? diag : "");
	r = tp_check(p, &o, "printf", "a\"b\\c\n\t\x01", "$HOME",
	    "\xc3\xa9t\xc3\xa9", "more", NULL);
	cr_expect_eq(r->decision, EW_POLICY_ALLOW);
	cr_expect_eq(r->nmatches, 1);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

Test(policy_amend, refusals)
{
	char *err = NULL, *bad[] = { "ls", "\xff", NULL };
	static char big[EW_POLICY_STRING_MAX + 2];

	cr_expect_eq(
	    ew_policy_append_allow(rules, bad, 0, &err), -EW_E_INVALID);
	cr_expect_str_eq(err, "prefix rule requires at least one token");
	free(err);
	cr_expect_eq(
	    ew_policy_append_allow(rules, bad, 2, &err), -EW_E_INVALID);
	cr_expect_str_eq(err, "token 2 is not valid UTF-8");
	free(err);
	memset(big, 'a', sizeof(big) - 1);
	bad[1] = big;
	cr_expect_eq(ew_policy_append_allow(rules, bad, 2, &err), -EW_E_LIMIT);
	free(err);
	/* Nothing was created. */
	cr_expect_neq(access(rules, F_OK), 0);
	/* A file the loader would refuse is not written to either. */
	seed("");
	chmod(rules, 0666);
	bad[1] = "x";
	cr_expect_eq(ew_policy_append_allow(rules, bad, 2, &err), -EACCES);
	cr_expect(strstr(err, "refusing to append") != NULL, "%s", err);
	free(err);
	/* A folder that cannot be made. */
	snprintf(
	    rules, sizeof(rules), "%s/rules/default.rules/x/c.rules", tmpdir);
	cr_expect_eq(ew_policy_append_allow(rules, bad, 2, &err), -ENOTDIR);
	cr_expect(strncmp(err, "mkdir ", 6) == 0, "%s", err);
	free(err);
}

/* Missing folders on the way are made (the default rules folder). */
Test(policy_amend, creates_missing_folders)
{
	char *tok[] = { "make", NULL };

	snprintf(rules, sizeof(rules), "%s/config/execward/rules/default.rules",
	    tmpdir);
	cr_assert_eq(ew_policy_append_allow(rules, tok, 1, NULL), 0);
	cr_expect_str_eq(contents(),
	    "prefix_rule(pattern=[\"make\"], decision=\"allow\")\n");
}

/* Writers racing on the lock still write each rule exactly once. */
Test(policy_amend, concurrent_writers)
{
	char name[32], *tok[2], *p;
	pid_t pids[8];
	int i, k, st, count;

	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0) {
			for (k = 0; k < 20; k++) {
				snprintf(name, sizeof(name), "cmd%d", k);
				tok[0] = name;
				if (ew_policy_append_allow(
					rules, tok, 1, NULL) != 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 8; i++) {
		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	count = 0;
	for (p = contents(); (p = strchr(p, '\n')) != NULL; p++)
		count++;
	cr_expect_eq(count, 20);
}
