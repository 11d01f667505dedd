/* Tests for broker/ew_audit_tail.c and ew_audit_follow.c: reading back. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ew_audit.h"
#include "ew_audit_tail.h"

static char dir[] = "/tmp/ew-test-tail.XXXXXX";
static char path[256];

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	setenv("TZ", "UTC", 1);
	tzset();
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(tail, .init = setup, .fini = teardown);

#define REC(extra)                                                           \
	"{\"ts\":\"2025-03-01T10:20:30.123456Z\",\"seq\":7,\"session\":"     \
	"\"s1\",\"pid\":4321,\"ppid\":1,\"uid\":1000,\"cwd\":\"/home/u/p\"," \
	"\"via\":\"execve\",\"file\":\"/usr/bin/git\",\"called\":\"git\","   \
	"\"argv\":[\"git\",\"push\",\"origin\"],\"decision\":\"deny\","      \
	"\"source\":\"rule\",\"rules\":[{\"rule\":\"/etc/x/git.rules:12\","  \
	"\"pattern\":[\"git\",\"push\"],\"decision\":\"forbidden\"}],"       \
	"\"justification\":\"no pushing\",\"reason\":\"forbidden\","         \
	"\"prompt\":{\"asked\":false,\"answer\":null,\"wait_ms\":0},"        \
	"\"latency_us\":9" extra "}"

static struct ew_audit_view *
parse(const char *line)
{
	struct ew_audit_view *v = NULL;
	const char *why;

	cr_assert_eq(
	    ew_audit_view_parse(line, strlen(line), &v, &why), 0, "%s", why);
	return v;
}

static char *
fmt(const struct ew_audit_view *v, unsigned width, bool color)
{
	struct ew_audit_fmt f = { width, color };
	struct ew_buf *b = ew_buf_new(1 << 20);
	char *s;

	cr_assert_eq(ew_audit_format(v, &f, b), 0);
	s = strndup((const char *)ew_buf_ptr(b), ew_buf_len(b));
	ew_buf_free(b);
	return s;
}

Test(tail, parse_a_record)
{
	struct ew_audit_view *v = parse(REC(""));

	cr_assert_str_eq(v->decision, "deny");
	cr_assert_eq(v->pid, 4321);
	cr_assert_eq(v->seq, 7);
	cr_assert_eq(v->argc, 3);
	cr_assert_str_eq(v->argv[1], "push");
	cr_assert_str_eq(v->rule, "/etc/x/git.rules:12");
	cr_assert_eq(v->ts_us, 1740824430123456LL);
	cr_assert(!v->exit);
	ew_audit_view_free(v);
}

Test(tail, what_is_not_a_record)
{
	static const char *const bad[] = { "", "{", "[1,2]", "{\"ts\":1}",
		"{\"decision\":\"allow\"}",
		"{\"ts\":\"x\",\"decision\":\"allow\"", "garbage",
		"{\"ts\":\"x\",\"type\":\"other\",\"decision\":\"a\"}", NULL };
	struct ew_audit_view *v;
	const char *why;
	char nul[] = "{\"ts\":\"x\",\0\"decision\":\"allow\"}";
	size_t i;

	for (i = 0; bad[i] != NULL; i++) {
		cr_assert_eq(
		    ew_audit_view_parse(bad[i], strlen(bad[i]), &v, &why),
		    -EINVAL, "%s", bad[i]);
		cr_assert_null(v);
		cr_assert_not_null(why);
	}
	cr_assert_eq(
	    ew_audit_view_parse(nul, sizeof(nul) - 1, &v, &why), -EINVAL);
}

Test(tail, filters)
{
	struct ew_audit_view *v = parse(REC(""));
	struct ew_audit_filter f;

	ew_audit_filter_init(&f);
	cr_assert(ew_audit_filter_match(&f, v));
	f.decisions = (1u << EW_AUDIT_ALLOW);
	cr_assert(!ew_audit_filter_match(&f, v));
	f.decisions |= (unsigned)ew_audit_decision_bit("deny");
	cr_assert(ew_audit_filter_match(&f, v));
	f.pid = 4320;
	cr_assert(!ew_audit_filter_match(&f, v));
	f.pid = 4321;
	cr_assert(ew_audit_filter_match(&f, v));
	f.program = "git";
	cr_assert(ew_audit_filter_match(&f, v));
	f.program = "/usr/bin/git";
	cr_assert(ew_audit_filter_match(&f, v));
	f.program = "/bin/git";
	cr_assert(!ew_audit_filter_match(&f, v));
	f.program = "gi";
	cr_assert(!ew_audit_filter_match(&f, v));
	f.program = NULL;
	f.since_us = 1740824430123456LL;
	cr_assert(ew_audit_filter_match(&f, v));
	f.since_us++;
	cr_assert(!ew_audit_filter_match(&f, v));
	cr_assert_eq(ew_audit_decision_bit("maybe"), -EINVAL);
	ew_audit_view_free(v);
}

Test(tail, times)
{
	int64_t t, now = 1740824430000000LL;

	cr_assert_eq(ew_audit_time_parse("2025-03-01T10:20:30Z", now, &t), 0);
	cr_assert_eq(t, 1740824430000000LL);
	cr_assert_eq(ew_audit_time_parse("2025-03-01T10:20:30.5Z", now, &t), 0);
	cr_assert_eq(t, 1740824430500000LL);
	cr_assert_eq(
	    ew_audit_time_parse("2025-03-01T12:20:30+02:00", now, &t), 0);
	cr_assert_eq(t, 1740824430000000LL);
	/* No zone: local time (TZ=UTC here). */
	cr_assert_eq(ew_audit_time_parse("2025-03-01 10:20", now, &t), 0);
	cr_assert_eq(t, 1740824400000000LL);
	cr_assert_eq(ew_audit_time_parse("2025-03-01", now, &t), 0);
	cr_assert_eq(t, 1740787200000000LL);
	cr_assert_eq(ew_audit_time_parse("10m", now, &t), 0);
	cr_assert_eq(t, now - 600000000LL);
	cr_assert_eq(ew_audit_time_parse("2d", now, &t), 0);
	cr_assert_eq(t, now - 2 * 86400000000LL);
	cr_assert_eq(ew_audit_time_parse("yesterday", now, &t), -EINVAL);
	cr_assert_eq(ew_audit_time_parse("10x", now, &t), -EINVAL);
	cr_assert_eq(
	    ew_audit_time_parse("2025-03-01T10:20:30+2", now, &t), -EINVAL);
}

Test(tail, a_line_for_people)
{
	struct ew_audit_view *v = parse(REC(""));
	char *s;

	s = fmt(v, 0, false);
	cr_assert_str_eq(s,
	    "2025-03-01 10:20:30  deny         4321  git push origin        "
	    "                   /home/u/p             rule git.rules:12\n");
	free(s);
	/* Colour only when asked (a terminal): the decision in bold red. */
	s = fmt(v, 0, true);
	cr_assert_not_null(strstr(s, "\033[1;31mdeny"));
	free(s);
	ew_audit_view_free(v);
}

Test(tail, cut_to_the_width)
{
	struct ew_audit_view *v;
	char line[4096], *s, *nl;
	size_t cols = 0, i;

	snprintf(line, sizeof(line), "%s",
	    REC(",\"x\":1")); /* unknown fields are fine */
	v = parse(line);
	ew_audit_view_free(v);
	v = parse("{\"ts\":\"2025-03-01T10:20:30.1Z\",\"decision\":\"allow\","
		  "\"source\":\"fallback\",\"pid\":5,\"cwd\":\"/a/very/long/"
		  "folder/name/that/goes/on\",\"file\":\"/opt/tools/bin/"
		  "build\",\"argv\":[\"build\",\"--target=everything-at-once\","
		  "\"--jobs=64\",\"--verbose\",\"--and-more\"]}");
	for (i = 0; i < 2; i++) {
		s = fmt(v, i == 0 ? 80 : 130, false);
		nl = strchr(s, '\n');
		cr_assert_not_null(nl);
		cols = 0;
		for (char *p = s; p < nl; p++)
			if (((unsigned char)*p & 0xc0) != 0x80)
				cols++;
		cr_assert_leq(
		    cols, i == 0 ? 80 : 130, "%zu columns: %s", cols, s);
		cr_assert_not_null(strstr(s, "\xe2\x80\xa6"), "cut: %s", s);
		/* A program outside the usual folders is shown in full. */
		cr_assert_not_null(strstr(s, "/opt/tools/bin/build"));
		if (i == 1)
			cr_assert_not_null(strstr(s, "/that/goes/on  "),
			    "the end of the cwd is kept: %s", s);
		free(s);
	}
	ew_audit_view_free(v);
}

Test(tail, nothing_reaches_the_terminal_raw)
{
	struct ew_audit_view *v;
	char *s;

	/* ESC, a newline, a C1 CSI and a right-to-left override. */
	v = parse("{\"ts\":\"2025-03-01T10:20:30.1Z\",\"decision\":\"allow\","
		  "\"source\":\"fallback\",\"pid\":5,\"cwd\":\"/x\\u001b[2J\","
		  "\"file\":\"/usr/bin/echo\",\"argv\":[\"echo\",\"a\\nb\","
		  "\"\\u009b1m\",\"\\u202eevil\",\"it's\"]}");
	s = fmt(v, 0, false);
	cr_assert_null(strchr(s, '\033'), "%s", s);
	cr_assert_null(strstr(s, "\xc2\x9b"), "%s", s);
	cr_assert_null(strstr(s, "\xe2\x80\xae"), "%s", s);
	cr_assert_eq(strchr(s, '\n'), s + strlen(s) - 1);
	cr_assert_not_null(strstr(s, "$'a\\nb'"), "%s", s);
	cr_assert_not_null(strstr(s, "$'\\x9b1m'"), "%s", s);
	cr_assert_not_null(strstr(s, "$'\\u202eevil'"), "%s", s);
	cr_assert_not_null(strstr(s, "'it'\\''s'"), "%s", s);
	cr_assert_not_null(strstr(s, "/x\\e[2J"), "%s", s);
	free(s);
	ew_audit_view_free(v);
}

Test(tail, exit_and_prompt_records)
{
	struct ew_audit_view *v;
	char *s;

	v = parse("{\"ts\":\"2025-03-01T10:20:30.1Z\",\"seq\":2,\"type\":"
		  "\"exit\",\"pid\":9,\"file\":\"/usr/bin/make\",\"argv\":"
		  "[\"make\"],\"status\":{\"signal\":9},\"duration_us\":"
		  "2500000}");
	cr_assert(v->exit);
	s = fmt(v, 0, false);
	cr_assert_not_null(strstr(s, "  exit  "), "%s", s);
	cr_assert_not_null(strstr(s, "signal 9 after 2.5s"), "%s", s);
	free(s);
	ew_audit_view_free(v);
	v = parse("{\"ts\":\"2025-03-01T10:20:30.1Z\",\"decision\":\"allow\","
		  "\"source\":\"user\",\"pid\":5,\"file\":\"/usr/bin/rm\","
		  "\"argv\":[\"rm\",\"x\"],\"prompt\":{\"asked\":true,"
		  "\"answer\":\"yes\",\"wait_ms\":2100}}");
	s = fmt(v, 0, false);
	cr_assert_not_null(strstr(s, "asked: yes 2.1s"), "%s", s);
	free(s);
	ew_audit_view_free(v);
}

Test(tail, failed_records)
{
	struct ew_audit_view *v;
	char *s;

	v = parse("{\"ts\":\"2025-03-01T10:20:30.1Z\",\"seq\":3,\"type\":"
		  "\"failed\",\"pid\":9,\"file\":\"/src/plain\",\"argv\":"
		  "[\"plain\"],\"of\":2,\"errno\":8,\"error\":\"Exec "
		  "format error\"}");
	cr_assert(v->failed);
	cr_assert(!v->exit);
	cr_assert_str_eq(v->decision, "failed");
	s = fmt(v, 0, false);
	cr_assert_not_null(strstr(s, "  failed  "), "%s", s);
	cr_assert_not_null(
	    strstr(s, "did not start: Exec format error"), "%s", s);
	free(s);
	ew_audit_view_free(v);
	cr_assert_eq(ew_audit_decision_bit("failed"), (1u << EW_AUDIT_FAILED));
}

static void
append(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The next thing the reader hands out, as "L:text", "P:text", "N", "E". */
static char *
next(struct ew_audit_reader *r)
{
	enum ew_audit_read kind;
	const char *line;
	size_t len;
	char *out;

	cr_assert_eq(ew_audit_reader_next(r, 1, &kind, &line, &len), 0);
	switch (kind) {
	case EW_AUDIT_READ_LINE:
	case EW_AUDIT_READ_PARTIAL:
		cr_assert_geq(
		    asprintf(&out, "%c:%.*s",
			kind == EW_AUDIT_READ_LINE ? 'L' : 'P', (int)len, line),
		    0);
		return out;
	case EW_AUDIT_READ_NOTE:
		return strdup("N");
	default:
		return strdup("E");
	}
}

#define NEXT_IS(r, want)                      \
	do {                                  \
		char *got_ = next(r);         \
		cr_assert_str_eq(got_, want); \
		free(got_);                   \
	} while (0)

Test(tail, reader_whole_and_half_lines)
{
	struct ew_audit_reader *r;
	unsigned long n;

	append(path, "one\ntwo\nhalf");
	cr_assert_eq(ew_audit_reader_open(path, false, &r), 0);
	NEXT_IS(r, "L:one");
	NEXT_IS(r, "L:two");
	cr_assert_str_eq(ew_audit_reader_where(r, &n), path);
	cr_assert_eq(n, 2);
	NEXT_IS(r, "P:half");
	NEXT_IS(r, "E");
	ew_audit_reader_close(r);
	cr_assert_eq(
	    ew_audit_reader_open("/nonexistent/x", false, &r), -ENOENT);
}

Test(tail, follow_waits_grows_and_is_truncated)
{
	struct ew_audit_reader *r;

	/* A log not there yet is waited for. */
	cr_assert_eq(ew_audit_reader_open(path, true, &r), 0);
	NEXT_IS(r, "E");
	append(path, "a\n");
	NEXT_IS(r, "N");
	NEXT_IS(r, "L:a");
	NEXT_IS(r, "E");
	append(path, "b\nc");
	NEXT_IS(r, "L:b");
	NEXT_IS(r, "E"); /* "c" may still be being written */
	append(path, "\n");
	NEXT_IS(r, "L:c");
	append(path, "half");
	NEXT_IS(r, "E");
	cr_assert_eq(truncate(path, 0), 0);
	append(path, "x\n");
	/* The half line from before is shown, then what happened. */
	NEXT_IS(r, "P:half");
	NEXT_IS(r, "N");
	NEXT_IS(r, "L:x");
	NEXT_IS(r, "E");
	ew_audit_reader_close(r);
}

Test(tail, follow_across_rotations_between_looks)
{
	struct ew_audit_reader *r;
	char p1[300], p2[300], p3[300];

	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	snprintf(p3, sizeof(p3), "%s.3", path);
	append(path, "1\n");
	cr_assert_eq(ew_audit_reader_open(path, true, &r), 0);
	NEXT_IS(r, "L:1");
	NEXT_IS(r, "E");
	/* Three rotations before the reader looks again. */
	append(path, "2\n");
	cr_assert_eq(rename(path, p1), 0);
	append(path, "3\n");
	cr_assert_eq(rename(p1, p2), 0);
	cr_assert_eq(rename(path, p1), 0);
	append(path, "4\n");
	cr_assert_eq(rename(p2, p3), 0);
	cr_assert_eq(rename(p1, p2), 0);
	cr_assert_eq(rename(path, p1), 0);
	append(path, "5\n");
	NEXT_IS(r, "L:2");
	NEXT_IS(r, "N");
	NEXT_IS(r, "L:3");
	NEXT_IS(r, "L:4");
	NEXT_IS(r, "L:5");
	NEXT_IS(r, "E");
	/* Once more, simply. */
	cr_assert_eq(rename(p2, p3), 0);
	cr_assert_eq(rename(p1, p2), 0);
	cr_assert_eq(rename(path, p1), 0);
	append(path, "6\n");
	NEXT_IS(r, "N");
	NEXT_IS(r, "L:6");
	ew_audit_reader_close(r);
}

Test(tail, follow_the_real_writer_rotating)
{
	char *argv[] = { "true", NULL };
	struct ew_audit_conf c;
	struct ew_audit *a;
	struct ew_audit_rec rec;
	struct ew_audit_reader *r;
	struct ew_audit_view *v;
	enum ew_audit_read kind;
	const char *line, *why;
	size_t len;
	long long want = 1;
	int i;

	ew_audit_conf_init(&c);
	c.path = path;
	c.sync = EW_AUDIT_SYNC_NONE;
	c.max_bytes = 1500;
	c.keep = 20;
	cr_assert_eq(ew_audit_open_conf(&c, NULL, &a), 0);
	cr_assert_eq(ew_audit_reader_open(path, true, &r), 0);
	memset(&rec, 0, sizeof(rec));
	rec.session = "s";
	rec.cwd = "/";
	rec.via = "execve";
	rec.file = "/bin/true";
	rec.argv = argv;
	rec.argc = 1;
	rec.decision = EW_AUDIT_ALLOW;
	rec.source = "fallback";
	for (i = 0; i < 40; i++) {
		/* Write a burst (several rotations), then read it all. */
		for (int k = 0; k < 1 + i % 9; k++)
			cr_assert_eq(ew_audit_write(a, &rec), 0);
		for (;;) {
			cr_assert_eq(
			    ew_audit_reader_next(r, 1, &kind, &line, &len), 0);
			if (kind == EW_AUDIT_READ_END)
				break;
			if (kind == EW_AUDIT_READ_NOTE)
				continue;
			cr_assert_eq(kind, EW_AUDIT_READ_LINE);
			cr_assert_eq(
			    ew_audit_view_parse(line, len, &v, &why), 0);
			cr_assert_eq(v->seq, want, "seq %lld, wanted %lld",
			    v->seq, want);
			want++;
			ew_audit_view_free(v);
		}
	}
	ew_audit_reader_close(r);
	ew_audit_close(a);
	cr_assert_gt(want, 150);
}

/* Refusals before a question, and what a rotation deleted. */
Test(tail, refused_and_dropped_records)
{
	const char *refused =
	    "{\"ts\":\"2025-03-01T10:20:30.123456Z\",\"seq\":8,\"type\":"
	    "\"refused\",\"session\":\"s1\",\"uid\":65533,\"pid\":4242,"
	    "\"count\":19000,\"since\":\"2025-03-01T10:20:20.000000Z\","
	    "\"decision\":\"deny\",\"reason\":\"uid 65533 may not use this "
	    "broker\"}";
	const char *dropped =
	    "{\"ts\":\"2025-03-01T10:20:31.000000Z\",\"seq\":9,\"type\":"
	    "\"dropped\",\"total\":300,\"file\":\"audit.jsonl.3\",\"records\":"
	    "120,\"first_seq\":181,\"last_seq\":300,\"first_ts\":\"x\","
	    "\"last_ts\":\"y\",\"bytes\":4000,\"reason\":\"rotation: the "
	    "oldest file kept (--audit-keep) was deleted\",\"max_bytes\":4096,"
	    "\"keep\":3}";
	struct ew_audit_filter flt;
	struct ew_audit_view *v;
	char *line;

	v = parse(refused);
	cr_assert(v->refused);
	cr_assert_str_eq(v->decision, "refused");
	cr_assert_eq(v->count, 19000);
	cr_assert_eq(v->uid, 65533);
	line = fmt(v, 0, false);
	cr_assert(strstr(line, "refused") != NULL, "%s", line);
	cr_assert(
	    strstr(line, "(uid 65533: 19000 connections)") != NULL, "%s", line);
	cr_assert(strstr(line, "may not use this broker") != NULL, "%s", line);
	free(line);
	/* --decision deny shows refusals too; allow does not. */
	ew_audit_filter_init(&flt);
	flt.decisions = (1u << EW_AUDIT_DENY);
	cr_assert(ew_audit_filter_match(&flt, v));
	flt.decisions = (1u << EW_AUDIT_ALLOW);
	cr_assert_not(ew_audit_filter_match(&flt, v));
	ew_audit_view_free(v);

	v = parse(dropped);
	cr_assert(v->dropped);
	cr_assert_str_eq(v->decision, "dropped");
	cr_assert_eq(v->count, 120);
	cr_assert_eq(v->total, 300);
	cr_assert_null(v->file, "the deleted file is not a program");
	line = fmt(v, 0, false);
	cr_assert(
	    strstr(line, "(deleted audit.jsonl.3: 120 records, seq 181-300)") !=
		NULL,
	    "%s", line);
	free(line);
	flt.decisions = (unsigned)ew_audit_decision_bit("dropped");
	cr_assert(ew_audit_filter_match(&flt, v));
	ew_audit_view_free(v);
	cr_assert_eq(
	    ew_audit_decision_bit("refused"), (1u << EW_AUDIT_REFUSED));
}
