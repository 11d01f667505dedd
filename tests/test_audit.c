/* Tests for broker/ew_audit.c: whole JSON lines, fields, failures. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "ew_audit.h"
#include "ew_policy.h"

static char dir[] = "/tmp/ew-test-audit.XXXXXX";
static char path[256];

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/audit.jsonl", dir);
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(audit, .init = setup, .fini = teardown);

static char *
slurp(size_t *lenp)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*lenp = (size_t)n;
	return s;
}

static void
fill(struct ew_audit_rec *r, char *const *argv, size_t argc)
{
	memset(r, 0, sizeof(*r));
	r->session = "abc123";
	r->pid = 42;
	r->ppid = 41;
	r->uid = 1000;
	r->cwd = "/home/u/proj";
	r->via = "execve";
	r->file = "/usr/bin/git";
	r->called = "git";
	r->argv = argv;
	r->argc = argc;
	r->decision = "deny";
	r->source = "rule";
	r->justification = "no pushing";
	r->reason = "forbidden by policy: no pushing";
	r->asked = true;
	r->answer = "no";
	r->wait_ms = 1500;
	r->latency_us = 99;
}

static const char *
str_at(yajl_val v, const char *key)
{
	const char *p[] = { key, NULL };
	yajl_val s = yajl_tree_get(v, p, yajl_t_string);

	return s != NULL ? YAJL_GET_STRING(s) : NULL;
}

static long long
int_at(yajl_val v, const char *key)
{
	const char *p[] = { key, NULL };
	yajl_val s = yajl_tree_get(v, p, yajl_t_number);

	cr_assert_not_null(s, "no %s", key);
	return YAJL_GET_INTEGER(s);
}

Test(audit, one_line_per_record_with_every_field)
{
	char *argv[] = { "git", "push", "origin", "main", NULL };
	struct ew_audit *a;
	struct ew_audit_rec r;
	char *text, *nl, err[128];
	size_t len;
	yajl_val v, arr;
	const char *pargv[] = { "argv", NULL };
	const char *pprompt[] = { "prompt", "wait_ms", NULL };
	struct stat st;

	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_ALWAYS, NULL, &a), 0);
	fill(&r, argv, 4);
	cr_assert_eq(ew_audit_write(a, &r), 0);
	r.decision = "allow";
	r.reason = NULL;
	cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);

	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	text = slurp(&len);
	nl = strchr(text, '\n');
	cr_assert_not_null(nl);
	cr_assert_eq(text[len - 1], '\n');
	cr_assert_eq(strchr(nl + 1, '\n'), text + len - 1, "two lines");
	*nl = '\0';
	v = yajl_tree_parse(text, err, sizeof(err));
	cr_assert_not_null(v, "%s: %s", err, text);
	cr_assert_str_eq(str_at(v, "session"), "abc123");
	cr_assert_eq(int_at(v, "seq"), 1);
	cr_assert_eq(int_at(v, "pid"), 42);
	cr_assert_eq(int_at(v, "ppid"), 41);
	cr_assert_eq(int_at(v, "uid"), 1000);
	cr_assert_str_eq(str_at(v, "cwd"), "/home/u/proj");
	cr_assert_str_eq(str_at(v, "via"), "execve");
	cr_assert_str_eq(str_at(v, "file"), "/usr/bin/git");
	cr_assert_str_eq(str_at(v, "decision"), "deny");
	cr_assert_str_eq(str_at(v, "source"), "rule");
	cr_assert_str_eq(str_at(v, "justification"), "no pushing");
	cr_assert_str_eq(
	    str_at(v, "reason"), "forbidden by policy: no pushing");
	cr_assert_eq(int_at(v, "latency_us"), 99);
	/* RFC 3339 UTC with microseconds. */
	cr_assert_eq(strlen(str_at(v, "ts")), 27);
	cr_assert_eq(str_at(v, "ts")[26], 'Z');
	arr = yajl_tree_get(v, pargv, yajl_t_array);
	cr_assert_not_null(arr);
	cr_assert_eq(YAJL_GET_ARRAY(arr)->len, 4);
	cr_assert_str_eq(
	    YAJL_GET_STRING(YAJL_GET_ARRAY(arr)->values[1]), "push");
	cr_assert_eq(
	    YAJL_GET_INTEGER(yajl_tree_get(v, pprompt, yajl_t_number)), 1500);
	yajl_tree_free(v);

	v = yajl_tree_parse(nl + 1, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_eq(int_at(v, "seq"), 2);
	cr_assert_null(str_at(v, "reason"));
	yajl_tree_free(v);
	free(text);
}

Test(audit, hostile_bytes_stay_on_one_valid_line)
{
	char *argv[] = { "echo", "a\nb", "\xff\xfe", "q\"", NULL };
	struct ew_audit *a;
	struct ew_audit_rec r;
	char *text, err[128];
	size_t len;
	yajl_val v;

	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	fill(&r, argv, 4);
	cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	text = slurp(&len);
	cr_assert_eq(strchr(text, '\n'), text + len - 1);
	v = yajl_tree_parse(text, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	yajl_tree_free(v);
	free(text);
}

Test(audit, short_write_leaves_no_torn_line)
{
	static char big[64 * 1024];
	char *argv[] = { "echo", big, NULL };
	struct ew_audit *a;
	struct ew_audit_rec r;
	struct rlimit rl;
	struct stat st;
	char *text;
	size_t len;
	int rc;

	memset(big, 'x', sizeof(big) - 1);
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	fill(&r, argv, 1);
	cr_assert_eq(ew_audit_write(a, &r), 0);
	cr_assert_eq(stat(path, &st), 0);
	/* The file may grow by 1,000 bytes: a big record is cut short. */
	rl.rlim_cur = rl.rlim_max = (rlim_t)st.st_size + 1000;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	fill(&r, argv, 2);
	rc = ew_audit_write(a, &r);
	cr_assert(rc == -ENOSPC || rc == -EFBIG, "rc %d", rc);
	ew_audit_close(a);
	text = slurp(&len);
	cr_assert_eq((off_t)len, st.st_size, "the torn line was cut back");
	cr_assert_eq(text[len - 1], '\n');
	free(text);
}

Test(audit, open_fails_cleanly)
{
	struct ew_audit *a = (struct ew_audit *)1;

	cr_assert_lt(ew_audit_open("/proc/nope/audit.jsonl", EW_AUDIT_SYNC_NONE,
			 NULL, &a),
	    0);
	cr_assert_null(a);
}

Test(audit, sync_modes_parse)
{
	enum ew_audit_sync s;

	cr_assert_eq(ew_audit_sync_parse("none", &s), 0);
	cr_assert_eq(s, EW_AUDIT_SYNC_NONE);
	cr_assert_eq(ew_audit_sync_parse("batch", &s), 0);
	cr_assert_eq(s, EW_AUDIT_SYNC_BATCH);
	cr_assert_eq(ew_audit_sync_parse("always", &s), 0);
	cr_assert_eq(s, EW_AUDIT_SYNC_ALWAYS);
	cr_assert_eq(ew_audit_sync_parse("sometimes", &s), -EINVAL);
}
