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
	/* The log refuses files others may write: no umask surprises. */
	umask(022);
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
	r->decision = EW_AUDIT_DENY;
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
	r.decision = EW_AUDIT_ALLOW;
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

/*
 * Read FILE.keep .. FILE.1, then FILE (oldest first), every line whole
 * and seqs consecutive. The newest "dropped" record says how many
 * records went (its total), and the last of them came right before the
 * oldest line still here: with the lines present they make every seq
 * ever written. Returns how many dropped records are present; *last gets
 * the last seq, *present the lines present.
 */
static size_t
nothing_unsaid(unsigned keep, long long *last, size_t *present)
{
	char name[300], *line = NULL, err[128];
	long long first = -1, prev = -1, total = 0, gone_last = -1;
	size_t cap = 0, ndropped = 0, n = 0;
	unsigned k;
	ssize_t len;
	yajl_val v;
	FILE *fp;

	for (k = keep + 1; k-- > 0;) {
		if (k > 0)
			cr_assert_eq(
			    ew_audit_rotated_name(path, k, name, sizeof(name)),
			    0);
		else
			snprintf(name, sizeof(name), "%s", path);
		if ((fp = fopen(name, "r")) == NULL)
			continue;
		while ((len = getline(&line, &cap, fp)) > 0) {
			cr_assert_eq(
			    line[len - 1], '\n', "torn line in %s", name);
			v = yajl_tree_parse(line, err, sizeof(err));
			cr_assert_not_null(v, "%s: %s", name, err);
			if (prev >= 0)
				cr_assert_eq(int_at(v, "seq"), prev + 1,
				    "%s: seq %lld after %lld", name,
				    int_at(v, "seq"), prev);
			prev = int_at(v, "seq");
			if (first < 0)
				first = prev;
			if (str_at(v, "type") != NULL &&
			    strcmp(str_at(v, "type"), "dropped") == 0) {
				cr_assert_geq(int_at(v, "total"), total);
				total = int_at(v, "total");
				gone_last = int_at(v, "last_seq");
				cr_assert_eq(int_at(v, "records"),
				    int_at(v, "last_seq") -
					int_at(v, "first_seq") + 1);
				ndropped++;
			}
			n++;
			yajl_tree_free(v);
		}
		fclose(fp);
	}
	free(line);
	cr_assert_gt(n, 0);
	if (ndropped > 0)
		cr_assert_eq(gone_last + 1, first,
		    "the records deleted last end at %lld, the log starts at "
		    "%lld",
		    gone_last, first);
	else
		cr_assert_eq(first, 1, "records went with nothing said");
	cr_assert_eq((long long)n + total, prev,
	    "%zu lines here and %lld said deleted, but %lld written", n, total,
	    prev);
	*last = prev;
	*present = n;
	return ndropped;
}

Test(audit, rotation_keeps_whole_lines_and_the_newest_files)
{
	char *argv[] = { "make", "-j4", "all", NULL };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec r;
	char name[300];
	long long seqs[400], last;
	size_t n = 0, i, ndropped, present;
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
	for (i = 1; i < n; i++)
		cr_assert_eq(seqs[i], seqs[i - 1] + 1, "seq %lld then %lld",
		    seqs[i - 1], seqs[i]);
	/* 200 records, and one dropped record per file deleted. */
	ndropped = nothing_unsaid(3, &last, &present);
	cr_assert_gt(ndropped, 0);
	cr_assert_gt(last, 200);
}

Test(audit, rotation_with_keep_0_starts_over)
{
	char *argv[] = { "ls", NULL };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec r;
	char name[300];
	long long seqs[100], last;
	size_t n = 0, i, present;

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
	/* Each start over deleted the file, and says so first. */
	cr_assert_gt(nothing_unsaid(0, &last, &present), 0);
	cr_assert_eq(present, n);
	cr_assert_gt(last, 30);
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
	r.decision = EW_AUDIT_ALLOW;
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
	r.decision = EW_AUDIT_ALLOW;
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
	r.decision = EW_AUDIT_ALLOW;
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

/*
 * --audit-full deny: once rotating would delete a file, every write fails
 * (every start is denied) and nothing is deleted; moving the rotated
 * files away lets records resume.
 */
Test(audit, a_full_log_fails_closed_and_deletes_nothing)
{
	char *argv[] = { "make", "all", NULL };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec r;
	char name[300], away[300];
	long long seqs[200], last;
	size_t n = 0, i, written = 0, present;
	int rc = 0;

	ew_audit_conf_init(&c);
	c.path = path;
	c.sync = EW_AUDIT_SYNC_NONE;
	c.max_bytes = 3000;
	c.keep = 1;
	c.full = EW_AUDIT_FULL_DENY;
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), 0, "%s", c.why);
	fill(&r, argv, 2);
	for (i = 0; i < 100 && (rc = ew_audit_write(a, &r)) == 0; i++)
		written++;
	cr_assert_eq(rc, -EW_AUDIT_E_FULL, "rc %d after %zu", rc, written);
	cr_assert_gt(written, 5);
	cr_assert(strstr(ew_audit_strerror(a, rc), "--audit-full is deny"),
	    "%s", ew_audit_strerror(a, rc));
	cr_assert(strstr(ew_audit_strerror(a, rc), ".1"), "names the file");
	/* Every later write fails too: the log stays full. */
	for (i = 0; i < 50; i++)
		cr_assert_eq(ew_audit_write(a, &r), -EW_AUDIT_E_FULL);
	/* Nothing was deleted: FILE.1 starts at seq 1, no dropped record. */
	cr_assert_eq(ew_audit_rotated_name(path, 1, name, sizeof(name)), 0);
	read_seqs(name, seqs, &n, 200);
	read_seqs(path, seqs, &n, 200);
	cr_assert_eq(n, written);
	cr_assert_eq(seqs[0], 1);
	cr_assert_eq(nothing_unsaid(1, &last, &present), 0);
	cr_assert_leq(size_of(name), 3000);
	cr_assert_leq(size_of(path), 3000);
	/* Room again (the oldest file moved away): records resume. */
	snprintf(away, sizeof(away), "%s/kept.jsonl", dir);
	cr_assert_eq(rename(name, away), 0);
	cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	cr_assert_gt(size_of(name), 0);
}

Test(audit, full_deny_needs_a_size_limit)
{
	struct ew_audit_conf c;
	struct ew_audit *a;
	char err[256];

	ew_audit_conf_init(&c);
	c.path = path;
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-full", "deny", err, sizeof(err)),
	    0);
	cr_assert_eq(c.full, EW_AUDIT_FULL_DENY);
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), -EINVAL);
	cr_assert(strstr(c.why, "--audit-max-bytes") != NULL, "%s", c.why);
	cr_assert_eq(ew_audit_conf_option(
			 &c, "audit-full", "sometimes", err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "rotate or deny") != NULL, "%s", err);
	cr_assert_eq(
	    ew_audit_conf_option(&c, "audit-full", "rotate", err, sizeof(err)),
	    0);
	cr_assert_eq(c.full, EW_AUDIT_FULL_ROTATE);
}

/* Open path through the conf; the reason when refused. */
static int
open_why(const char *p, char *why, size_t len)
{
	struct ew_audit_conf c;
	struct ew_audit *a = NULL;
	int r;

	ew_audit_conf_init(&c);
	c.path = p;
	c.sync = EW_AUDIT_SYNC_NONE;
	r = ew_audit_open_conf(&c, NULL, &a);
	snprintf(why, len, "%s", c.why);
	if (r == 0) {
		cr_assert_not_null(a);
		ew_audit_close(a);
	} else
		cr_assert_null(a);
	return r;
}

/* A symbolic link in the log's place (planted in /tmp) is not followed. */
Test(audit, a_symbolic_link_is_refused_not_followed)
{
	char target[300], link[300], dangling[300], why[EW_AUDIT_WHY_MAX];
	struct stat st;
	FILE *f;

	snprintf(target, sizeof(target), "%s/victim", dir);
	snprintf(link, sizeof(link), "%s/audit.jsonl", dir);
	snprintf(dangling, sizeof(dangling), "%s/dangling.jsonl", dir);
	cr_assert_not_null(f = fopen(target, "w"));
	fputs("precious\n", f);
	fclose(f);
	cr_assert_eq(symlink(target, link), 0);
	cr_assert_eq(open_why(link, why, sizeof(why)), -ELOOP);
	cr_assert(strstr(why, "symbolic link") != NULL, "%s", why);
	cr_assert_eq(stat(target, &st), 0);
	cr_assert_eq(st.st_size, 9, "the link's target was written");
	/* A dangling one: the file it names is not created either. */
	snprintf(target, sizeof(target), "%s/created", dir);
	cr_assert_eq(symlink(target, dangling), 0);
	cr_assert_eq(open_why(dangling, why, sizeof(why)), -ELOOP);
	cr_assert_neq(stat(target, &st), 0, "the link was followed");
	/* And rotation never follows one either: FILE.1 a link is moved. */
}

/* What another uid owns, or others can write, is not our log. */
Test(audit, a_file_of_another_uid_or_writable_by_others_is_refused)
{
	char p[300], other[300], why[EW_AUDIT_WHY_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/audit.jsonl", dir);
	cr_assert_not_null(f = fopen(p, "w"));
	fclose(f);
	cr_assert_eq(chmod(p, 0666), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), -EPERM);
	cr_assert(
	    strstr(why, "writable by its group or others") != NULL, "%s", why);
	cr_assert_eq(chmod(p, 0620), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), -EPERM);
	cr_assert_eq(chmod(p, 0640), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), 0, "%s", why);
	/* A second hard link would have us write to that file too. */
	snprintf(other, sizeof(other), "%s/other-name", dir);
	cr_assert_eq(link(p, other), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "hard links") != NULL, "%s", why);
	cr_assert_eq(unlink(other), 0);
	if (geteuid() != 0)
		cr_skip_test("needs root to give a file to another uid");
	/* A 0600 file of uid 65534, as root: still not ours. */
	cr_assert_eq(chown(p, 65534, 65534), 0);
	cr_assert_eq(chmod(p, 0600), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "belongs to uid 65534") != NULL, "%s", why);
	/* A 0666 file of another uid (the case). */
	cr_assert_eq(chmod(p, 0666), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), -EPERM);
}

/* sshd's StrictModes for the folders on the way. */
Test(audit, folders_others_can_write_are_refused_unless_sticky)
{
	char sub[300], p[300], why[EW_AUDIT_WHY_MAX];

	snprintf(sub, sizeof(sub), "%s/open", dir);
	snprintf(p, sizeof(p), "%s/open/audit.jsonl", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(chmod(sub, 0777), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "writable by others") != NULL, "%s", why);
	cr_assert_eq(access(p, F_OK), -1, "created all the same");
	/* Sticky, like /tmp: others cannot rename our file. */
	cr_assert_eq(chmod(sub, 01777), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(unlink(p), 0);
	/* A folder further up counts as well. */
	snprintf(p, sizeof(p), "%s/open/deeper/audit.jsonl", dir);
	cr_assert_eq(chmod(sub, 0777), 0);
	cr_assert_eq(open_why(p, why, sizeof(why)), -EPERM);
	cr_assert_eq(chmod(sub, 0700), 0);
	if (geteuid() != 0)
		cr_skip_test("needs root to give a folder to another uid");
	cr_assert_eq(chown(sub, 65534, 65534), 0);
	snprintf(p, sizeof(p), "%s/open/audit.jsonl", dir);
	cr_assert_eq(open_why(p, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "belongs to uid 65534") != NULL, "%s", why);
}

/* /dev/null is taken as it is (a log nobody keeps), and never rotated. */
Test(audit, dev_null_is_no_log)
{
	char *argv[] = { "true", NULL };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec r;
	int i;

	ew_audit_conf_init(&c);
	c.path = "/dev/null";
	c.max_bytes = 10;
	c.keep = 0;
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), 0, "%s", c.why);
	fill(&r, argv, 1);
	for (i = 0; i < 5; i++)
		cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
}

Test(audit, refused_record)
{
	struct ew_audit_refused x = { .session = "s1",
		.uid = 65533,
		.pid = 4242,
		.count = 19000,
		.since = "2026-01-01T00:00:00.000000Z",
		.reason = "uid 65533 may not use this broker" };
	struct ew_audit *a;
	char *text, err[128];
	size_t len;
	yajl_val v;

	cr_assert_eq(ew_audit_open(path, EW_AUDIT_SYNC_NONE, NULL, &a), 0);
	cr_assert_eq(ew_audit_write_refused(a, &x), 0);
	ew_audit_close(a);
	text = slurp(&len);
	cr_assert_not_null(
	    v = yajl_tree_parse(text, err, sizeof(err)), "%s", err);
	cr_assert_str_eq(str_at(v, "type"), "refused");
	cr_assert_str_eq(str_at(v, "decision"), "deny");
	cr_assert_eq(int_at(v, "uid"), 65533);
	cr_assert_eq(int_at(v, "pid"), 4242);
	cr_assert_eq(int_at(v, "count"), 19000);
	cr_assert_eq(int_at(v, "seq"), 1);
	cr_assert_str_eq(str_at(v, "since"), x.since);
	yajl_tree_free(v);
	free(text);
}

/* A flood: every rotation deletes, and says what it deleted. */
Test(audit, a_flood_loses_nothing_unsaid)
{
	static char big[3000];
	char *argv[] = { "echo", big, NULL };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec r;
	long long last;
	size_t i, present;

	memset(big, 'q', sizeof(big) - 1);
	ew_audit_conf_init(&c);
	c.path = path;
	c.sync = EW_AUDIT_SYNC_NONE;
	c.max_bytes = 20000;
	c.keep = 2;
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), 0);
	fill(&r, argv, 2);
	for (i = 0; i < 2000; i++)
		cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	/* Reopened, the next writer goes on counting what went. */
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), 0);
	for (i = 0; i < 50; i++)
		cr_assert_eq(ew_audit_write(a, &r), 0);
	ew_audit_close(a);
	cr_assert_gt(nothing_unsaid(2, &last, &present), 0);
	cr_assert_lt(present, 100);
}
