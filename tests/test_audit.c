/* Tests for broker/ew_audit.c: whole JSON lines, fields, failures. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
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

/* Every line of file f, parsed: the seqs in order into seqs[*n...]. */
static void
read_seqs(const char *f, long long *seqs, size_t *n, size_t max)
{
	FILE *fp = fopen(f, "r");
	char *line = NULL, err[128];
	size_t cap = 0;
	ssize_t len;
	yajl_val v;

	if (fp == NULL)
		return;
	while ((len = getline(&line, &cap, fp)) > 0) {
		cr_assert_eq(line[len - 1], '\n', "torn line in %s", f);
		v = yajl_tree_parse(line, err, sizeof(err));
		cr_assert_not_null(v, "%s: %s", f, err);
		cr_assert_lt(*n, max);
		seqs[(*n)++] = int_at(v, "seq");
		yajl_tree_free(v);
	}
	free(line);
	fclose(fp);
}

static off_t
size_of(const char *f)
{
	struct stat st;

	return stat(f, &st) == 0 ? st.st_size : -1;
}

Test(audit, rotation_keeps_whole_lines_and_the_newest_files)
{
	char *argv[] = { "make", "-j4", "all", NULL };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec r;
	char name[300];
	long long seqs[400];
	size_t n = 0, i;
	unsigned k;

	ew_audit_conf_init(&c);
	c.path = path;
	c.sync = EW_AUDIT_SYNC_NONE;
	c.max_bytes = 4096;
	c.keep = 3;
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), 0);
	fill(&r, argv, 3);
	for (i = 0; i < 200; i++)
		cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);

	/* Oldest first: FILE.3, FILE.2, FILE.1, FILE. */
	for (k = 3; k >= 1; k--) {
		cr_assert_eq(
		    ew_audit_rotated_name(path, k, name, sizeof(name)), 0);
		cr_assert_gt(size_of(name), 0, "%s", name);
		cr_assert_leq(size_of(name), 4096, "%s", name);
		read_seqs(name, seqs, &n, 400);
	}
	cr_assert_leq(size_of(path), 4096);
	read_seqs(path, seqs, &n, 400);
	cr_assert_eq(ew_audit_rotated_name(path, 4, name, sizeof(name)), 0);
	cr_assert_eq(size_of(name), -1, "only 3 rotated files are kept");
	/* The newest records, every one, in order, none twice. */
	cr_assert_gt(n, 20);
	cr_assert_eq(seqs[n - 1], 200);
	for (i = 1; i < n; i++)
		cr_assert_eq(seqs[i], seqs[i - 1] + 1, "seq %lld then %lld",
		    seqs[i - 1], seqs[i]);
}

Test(audit, rotation_with_keep_0_starts_over)
{
	char *argv[] = { "ls", NULL };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec r;
	char name[300];
	long long seqs[100];
	size_t n = 0, i;

	ew_audit_conf_init(&c);
	c.path = path;
	c.sync = EW_AUDIT_SYNC_ALWAYS;
	c.max_bytes = 2000;
	c.keep = 0;
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), 0);
	fill(&r, argv, 1);
	for (i = 0; i < 30; i++)
		cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	cr_assert_eq(ew_audit_rotated_name(path, 1, name, sizeof(name)), 0);
	cr_assert_eq(size_of(name), -1);
	read_seqs(path, seqs, &n, 100);
	cr_assert_gt(n, 0);
	cr_assert_eq(seqs[n - 1], 30);
}

Test(audit, two_writers_rotating_one_log_lose_nothing)
{
	char *argv[] = { "cc", "-c", "x.c", NULL };
	struct ew_audit_conf c;
	struct ew_audit *a, *b;
	struct ew_audit_rec r;
	char name[300];
	long long seqs[1000];
	size_t n = 0, i;
	unsigned k;

	ew_audit_conf_init(&c);
	c.path = path;
	c.sync = EW_AUDIT_SYNC_NONE;
	c.max_bytes = 3000;
	c.keep = 100;
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), 0);
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &b), 0);
	fill(&r, argv, 3);
	for (i = 0; i < 150; i++) {
		cr_assert_eq(ew_audit_write(a, &r), 0);
		cr_assert_eq(ew_audit_write(b, &r), 0);
	}
	ew_audit_close(a);
	ew_audit_close(b);
	for (k = 100; k >= 1; k--) {
		cr_assert_eq(
		    ew_audit_rotated_name(path, k, name, sizeof(name)), 0);
		read_seqs(name, seqs, &n, 1000);
	}
	read_seqs(path, seqs, &n, 1000);
	cr_assert_eq(n, 300, "every record of both writers is somewhere");
}

Test(audit, conf_options)
{
	struct ew_audit_conf c;
	char err[200];

	ew_audit_conf_init(&c);
	cr_assert_eq(c.sync, EW_AUDIT_SYNC_BATCH);
	cr_assert_null(c.path);
	cr_assert_eq(ew_audit_conf_option(&c, "audit", "syslog", err, 200), 0);
	cr_assert(c.syslog);
	cr_assert_null(c.path, "syslog is a destination, not a file");
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit", "/x/a.jsonl", err, 200), 0);
	cr_assert_str_eq(c.path, "/x/a.jsonl");
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-max-bytes", "10M", err, 200), 0);
	cr_assert_eq(c.max_bytes, 10u << 20);
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-max-bytes", "4096", err, 200), 0);
	cr_assert_eq(c.max_bytes, 4096);
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-max-bytes", "64KiB", err, 200), 0);
	cr_assert_eq(c.max_bytes, 65536);
	cr_assert_eq(ew_audit_conf_option(&c, "audit-max-bytes", "0", err, 200),
	    -EINVAL);
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-max-bytes", "5X", err, 200),
	    -EINVAL);
	cr_assert(strstr(err, "--audit-max-bytes") != NULL, "%s", err);
	cr_assert_eq(ew_audit_conf_option(&c, "audit-keep", "0", err, 200), 0);
	cr_assert_eq(c.keep, 0);
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-keep", "1001", err, 200), -EINVAL);
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-keep", "-1", err, 200), -EINVAL);
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-sync", "always", err, 200), 0);
	cr_assert_eq(c.sync, EW_AUDIT_SYNC_ALWAYS);
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-sync", "often", err, 200), -EINVAL);
	cr_assert_eq(ew_audit_conf_option(&c, "rules", "x", err, 200), -ENOENT);
}

Test(audit, every_field_even_when_not_asked)
{
	char *argv[] = { "true", NULL };
	static const char *const keys[] = { "ts", "seq", "session", "pid",
		"ppid", "uid", "cwd", "via", "file", "argv", "decision",
		"source", "rules", "justification", "prompt", "latency_us",
		NULL };
	const char *pa[] = { "prompt", "asked", NULL };
	const char *pans[] = { "prompt", "answer", NULL };
	const char *pw[] = { "prompt", "wait_ms", NULL };
	struct ew_audit *a;
	struct ew_audit_rec r;
	char *text, err[128];
	size_t len, i;
	yajl_val v;

	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	fill(&r, argv, 1);
	r.asked = false;
	r.justification = NULL;
	r.reason = NULL;
	r.decision = "allow";
	cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	text = slurp(&len);
	v = yajl_tree_parse(text, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	for (i = 0; keys[i] != NULL; i++) {
		const char *p[] = { keys[i], NULL };

		cr_assert_not_null(
		    yajl_tree_get(v, p, yajl_t_any), "no %s", keys[i]);
	}
	cr_assert(YAJL_IS_FALSE(yajl_tree_get(v, pa, yajl_t_any)));
	cr_assert(YAJL_IS_NULL(yajl_tree_get(v, pans, yajl_t_any)));
	cr_assert_eq(YAJL_GET_INTEGER(yajl_tree_get(v, pw, yajl_t_number)), 0);
	yajl_tree_free(v);
	free(text);
}

Test(audit, exit_record)
{
	char *argv[] = { "make", "install", NULL };
	const char *pcode[] = { "status", "code", NULL };
	const char *psig[] = { "status", "signal", NULL };
	struct ew_audit_exit x;
	struct ew_audit *a;
	char *text, *nl, err[128];
	size_t len;
	yajl_val v;

	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	memset(&x, 0, sizeof(x));
	x.session = "s1";
	x.pid = 77;
	x.uid = 1000;
	x.cwd = "/src";
	x.file = "/usr/bin/make";
	x.argv = argv;
	x.argc = 2;
	x.status = 3 << 8; /* exited 3 */
	x.duration_us = 1234567;
	cr_assert_eq(ew_audit_write_exit(a, &x), 0);
	x.status = SIGKILL;
	cr_assert_eq(ew_audit_write_exit(a, &x), 0);
	ew_audit_close(a);
	text = slurp(&len);
	nl = strchr(text, '\n');
	*nl = '\0';
	v = yajl_tree_parse(text, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_str_eq(str_at(v, "type"), "exit");
	cr_assert_str_eq(str_at(v, "file"), "/usr/bin/make");
	cr_assert_eq(int_at(v, "pid"), 77);
	cr_assert_eq(int_at(v, "duration_us"), 1234567);
	cr_assert_eq(
	    YAJL_GET_INTEGER(yajl_tree_get(v, pcode, yajl_t_number)), 3);
	yajl_tree_free(v);
	v = yajl_tree_parse(nl + 1, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_eq(int_at(v, "seq"), 2);
	cr_assert_eq(
	    YAJL_GET_INTEGER(yajl_tree_get(v, psig, yajl_t_number)), SIGKILL);
	yajl_tree_free(v);
	free(text);
}

Test(audit, failed_record_and_the_seq_it_follows)
{
	char *argv[] = { "plain", "arg", NULL };
	struct ew_audit_failed f;
	struct ew_audit_rec r;
	struct ew_audit *a;
	char *text, *nl, err[128];
	size_t len;
	yajl_val v;

	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	cr_assert_eq(ew_audit_seq(a), 0);
	fill(&r, argv, 2);
	r.decision = "allow";
	r.cwd = "";
	r.cwd_error = "readlink /proc/42/cwd: File name too long";
	cr_assert_eq(ew_audit_write(a, &r), 0);
	cr_assert_eq(ew_audit_seq(a), 1);
	memset(&f, 0, sizeof(f));
	f.session = "s1";
	f.pid = 42;
	f.uid = 1000;
	f.cwd = "/src";
	f.via = "execvp";
	f.file = "/src/plain";
	f.called = "./plain";
	f.argv = argv;
	f.argc = 2;
	f.of = ew_audit_seq(a);
	f.err = ENOEXEC;
	cr_assert_eq(ew_audit_write_failed(a, &f), 0);
	cr_assert_eq(ew_audit_seq(a), 2);
	ew_audit_close(a);
	text = slurp(&len);
	nl = strchr(text, '\n');
	*nl = '\0';
	v = yajl_tree_parse(text, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_str_eq(str_at(v, "cwd"), "");
	cr_assert_str_eq(str_at(v, "cwd_error"),
	    "readlink /proc/42/cwd: File name too long");
	yajl_tree_free(v);
	v = yajl_tree_parse(nl + 1, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_str_eq(str_at(v, "type"), "failed");
	cr_assert_eq(int_at(v, "seq"), 2);
	cr_assert_eq(int_at(v, "of"), 1);
	cr_assert_eq(int_at(v, "errno"), ENOEXEC);
	cr_assert_str_eq(str_at(v, "error"), strerror(ENOEXEC));
	cr_assert_str_eq(str_at(v, "file"), "/src/plain");
	cr_assert_str_eq(str_at(v, "called"), "./plain");
	cr_assert_str_eq(str_at(v, "via"), "execvp");
	cr_assert_eq(int_at(v, "pid"), 42);
	cr_assert_null(str_at(v, "decision"), "not a decision");
	yajl_tree_free(v);
	free(text);
}

Test(audit, a_known_cwd_has_no_cwd_error)
{
	char *argv[] = { "ls", NULL };
	struct ew_audit_rec r;
	struct ew_audit *a;
	size_t len;
	char *text;

	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	fill(&r, argv, 1);
	cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	text = slurp(&len);
	cr_assert_null(strstr(text, "cwd_error"), "%s", text);
	free(text);
}

Test(audit, writes_resume_when_space_returns)
{
	static char big[16 * 1024];
	char *argv[] = { "echo", big, NULL };
	struct ew_audit *a;
	struct ew_audit_rec r;
	struct rlimit rl;
	struct stat st;
	long long seqs[10];
	size_t n = 0;

	memset(big, 'y', sizeof(big) - 1);
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	fill(&r, argv, 2);
	cr_assert_eq(ew_audit_write(a, &r), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = (rlim_t)st.st_size + 100;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	cr_assert_neq(ew_audit_write(a, &r), 0);
	cr_assert_neq(ew_audit_write(a, &r), 0);
	rl.rlim_cur = rl.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	read_seqs(path, seqs, &n, 10);
	cr_assert_eq(n, 2, "the two failed records left nothing behind");
	cr_assert_eq(seqs[0], 1);
	cr_assert_eq(seqs[1], 4);
}

/*
 * In a private mount namespace with its own /dev: a datagram socket at
 * /dev/log stands in for the syslog daemon. 0 when both records arrived
 * as expected, 77 when the namespace cannot be had, else the failing step.
 */
static int
syslog_child(void)
{
	static char big[20000];
	char *argv[] = { "rm", "-rf", "/", NULL };
	char *bargv[] = { "echo", big, NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec r;
	char msg[65536];
	ssize_t n;
	int s;

	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") != 0)
		return 77;
	strcpy(sun.sun_path, "/dev/log");
	if ((s = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 ||
	    bind(s, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		return 1;
	ew_audit_conf_init(&c);
	c.path = path;
	c.syslog = true;
	c.sync = EW_AUDIT_SYNC_NONE;
	if (ew_audit_open_conf(&c, NULL, &a) != 0)
		return 2;
	fill(&r, argv, 3);
	if (ew_audit_write(a, &r) != 0)
		return 3;
	if ((n = recv(s, msg, sizeof(msg) - 1, 0)) <= 0)
		return 4;
	msg[n] = '\0';
	/* authpriv.warning for a deny, tagged execward[PID]. */
	if (strncmp(msg, "<84>", 4) != 0 || strstr(msg, "execward[") == NULL ||
	    strstr(msg, "\"seq\":1,") == NULL ||
	    strstr(msg, "\"argv\":[\"rm\",\"-rf\",\"/\"]") == NULL)
		return 5;
	memset(big, 'z', sizeof(big) - 1);
	fill(&r, bargv, 2);
	r.decision = "allow";
	if (ew_audit_write(a, &r) != 0)
		return 6;
	if ((n = recv(s, msg, sizeof(msg) - 1, 0)) <= 0)
		return 7;
	msg[n] = '\0';
	if (strncmp(msg, "<86>", 4) != 0 || n > 9000 ||
	    strstr(msg, "\"argv_cut\":true") == NULL ||
	    strstr(msg, "\"seq\":2,") == NULL)
		return 8;
	ew_audit_close(a);
	return 0;
}

Test(audit, syslog_gets_each_record)
{
	char *text;
	size_t len;
	pid_t pid;
	int st;

	if (geteuid() != 0)
		cr_skip_test("a private /dev/log needs root");
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0)
		_exit(syslog_child());
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		cr_skip_test("no private mount namespace here");
	cr_assert_eq(WEXITSTATUS(st), 0, "failed at step %d", WEXITSTATUS(st));
	/* The file has the records whole all the same. */
	text = slurp(&len);
	cr_assert_gt(len, 20000);
	free(text);
}

Test(audit, a_half_line_left_by_a_crash_is_ended_first)
{
	char *argv[] = { "true", NULL };
	struct ew_audit *a;
	struct ew_audit_rec r;
	char *text, *nl, err[128];
	size_t len;
	yajl_val v;
	FILE *f;

	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	ew_audit_close(a);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("{\"ts\":\"2025-01-01T00:00:00.000000Z\",\"se", f);
	fclose(f);
	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	fill(&r, argv, 1);
	cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	text = slurp(&len);
	cr_assert_not_null(nl = strchr(text, '\n'));
	cr_assert_str_eq(nl + 1 + strcspn(nl + 1, "\n"), "\n");
	v = yajl_tree_parse(nl + 1, err, sizeof(err));
	cr_assert_not_null(v, "the record after the half line: %s", err);
	yajl_tree_free(v);
	free(text);
}
