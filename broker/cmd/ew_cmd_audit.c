/* `execward audit tail` and `execward audit summary`: the log for people. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "ew_audit_tail.h"
#include "ew_buf.h"
#include "ew_cmd.h"
#include "ew_log.h"
#include "ew_paths.h"
#include "ew_text.h"
#include "ew_time.h"

/* How often `tail -f` looks for new lines, rotation and truncation. */
#define EW_TAIL_POLL_MS 100
/* Programs listed in each top list of the summary. */
#define EW_SUMMARY_TOP 10

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: execward audit tail [-f] [-n N] [--json] "
	    "[--decision D]...\n"
	    "                           [--since TIME] [--pid PID] "
	    "[--program NAME] [FILE]\n"
	    "       execward audit summary [FILE]...\n"
	    "\n"
	    "tail prints one line per record (colour on a terminal); -f "
	    "follows the\nlog across rotation and truncation; --json prints "
	    "the records as they\nare. D is allow, deny, escalate, exit, "
	    "failed, refused or\ndropped (deny includes refused). "
	    "TIME is 2025-01-31T10:00:00Z,\n2025-01-31 10:00 (local), or an "
	    "age such as 10m, 2h, 7d.\nFILE defaults to the default audit "
	    "log.\n");
}

static int
default_file(char *out, size_t n, const char *cmd)
{
	if (ew_paths_default_audit(out, n) != 0) {
		fprintf(stderr,
		    "execward audit %s: no HOME or XDG_STATE_HOME: give "
		    "FILE\n",
		    cmd);
		return -1;
	}
	return 0;
}

/* Columns to fit: the terminal's, else $COLUMNS, else no limit. */
static unsigned
out_width(bool tty)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");
	long v;
	char *end;

	if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (c != NULL) {
		v = strtol(c, &end, 10);
		if (*end == '\0' && v > 0 && v < 100000)
			return (unsigned)v;
	}
	return 0;
}

/* The last N outputs of the log as it was, for -n. */
struct ring {
	char **v;
	size_t n, next, count;
};

static void
ring_put(struct ring *r, const struct ew_buf *b)
{
	char *s;

	if (r->n == 0)
		return;
	if ((s = strndup((const char *)ew_buf_ptr(b), ew_buf_len(b))) == NULL)
		ew_fatal("out of memory");
	free(r->v[r->next]);
	r->v[r->next] = s;
	r->next = (r->next + 1) % r->n;
	if (r->count < r->n)
		r->count++;
}

static void
ring_flush(struct ring *r)
{
	size_t i, k;

	for (i = 0; i < r->count; i++) {
		k = (r->next + r->n - r->count + i) % r->n;
		fputs(r->v[k], stdout);
		free(r->v[k]);
		r->v[k] = NULL;
	}
	r->count = 0;
	r->n = 0;
}

struct tail {
	struct ew_audit_filter filter;
	struct ew_audit_fmt fmt;
	bool json;
	bool tty;
	struct ring ring; /* n > 0: collecting the first read */
	struct ew_buf *out;
};

/* out holds what goes to stdout: now, or into the ring. */
static void
emit(struct tail *t)
{
	if (ew_buf_len(t->out) == 0)
		return;
	if (t->ring.n > 0)
		ring_put(&t->ring, t->out);
	else
		fwrite(ew_buf_ptr(t->out), 1, ew_buf_len(t->out), stdout);
	ew_buf_reset(t->out);
}

/* A line that is no record: said on stderr with --json (stdout is jq's). */
static void
bad_line(struct tail *t, struct ew_audit_reader *rd, const char *why,
    const char *line, size_t len)
{
	struct ew_audit_fmt plain = { 0, false };
	unsigned long lineno;
	const char *where = ew_audit_reader_where(rd, &lineno);

	if (t->json) {
		(void)ew_audit_format_bad(
		    where, lineno, why, line, len, &plain, t->out);
		fputs("execward audit tail: ", stderr);
		fwrite(ew_buf_ptr(t->out), 1, ew_buf_len(t->out), stderr);
		ew_buf_reset(t->out);
		return;
	}
	(void)ew_audit_format_bad(
	    where, lineno, why, line, len, &t->fmt, t->out);
	emit(t);
}

static void
one_line(
    struct tail *t, struct ew_audit_reader *rd, const char *line, size_t len)
{
	struct ew_audit_view *v = NULL;
	const char *why;
	int r;

	if ((r = ew_audit_view_parse(line, len, &v, &why)) != 0) {
		if (r == -ENOMEM)
			ew_fatal("out of memory");
		bad_line(t, rd, why, line, len);
		return;
	}
	if (ew_audit_filter_match(&t->filter, v)) {
		if (t->json) {
			/* Byte for byte what the log holds. */
			(void)ew_buf_put(t->out, line, len);
			(void)ew_buf_put(t->out, "\n", 1);
		} else
			(void)ew_audit_format(v, &t->fmt, t->out);
		emit(t);
	}
	ew_audit_view_free(v);
}

static int
parse_num(const char *s, long long max, long long *out)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* tail's options, and the state of one run. */
struct tail_opts {
	long long n; /* -n; -1: every record */
	bool follow;
	const char *file;
	char path[PATH_MAX]; /* the default FILE */
};

/*
 * One of tail's options into o and t's filter: 0, or the exit status
 * (said on stderr, or the usage for --help).
 */
static int
tail_option(struct tail *t, struct tail_opts *o, int ch, const char *arg)
{
	int bit;

	switch (ch) {
	case 'f':
		o->follow = true;
		return 0;
	case 'n':
		if (parse_num(arg, 1000000, &o->n) == 0)
			return 0;
		fprintf(stderr,
		    "execward audit tail: -n: expected a count of records (0 "
		    "to 1000000), not %s\n",
		    arg);
		return 2;
	case 'j':
		t->json = true;
		return 0;
	case 'd':
		if ((bit = ew_audit_decision_bit(arg)) >= 0) {
			t->filter.decisions |= (unsigned)bit;
			return 0;
		}
		fprintf(stderr,
		    "execward audit tail: --decision: expected allow, deny, "
		    "escalate, exit, failed, refused or dropped, not %s\n",
		    arg);
		return 2;
	case 's':
		if (ew_audit_time_parse(
			arg, ew_time_real_us(), &t->filter.since_us) == 0)
			return 0;
		fprintf(stderr,
		    "execward audit tail: --since: expected a time "
		    "(2025-01-31T10:00:00Z, 2025-01-31 10:00) or an age (10m, "
		    "2h, 7d), not %s\n",
		    arg);
		return 2;
	case 'p':
		if (parse_num(arg, INT32_MAX, &t->filter.pid) == 0)
			return 0;
		fprintf(
		    stderr, "execward audit tail: --pid: not a pid: %s\n", arg);
		return 2;
	case 'P':
		t->filter.program = arg;
		return 0;
	default:
		usage(ch == 'h' ? stdout : stderr);
		return ch == 'h' ? 0 : 2;
	}
}

/* tail's options and FILE: -1 to go on, or the exit status. */
static int
tail_options(struct tail *t, struct tail_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "decision", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "program", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, code;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+fn:h", opts, NULL)) != -1)
		if ((code = tail_option(t, o, ch, optarg)) != 0 || ch == 'h')
			return code;
	if (argc - optind > 1) {
		fprintf(stderr, "execward audit tail: one FILE at most\n");
		return 2;
	}
	if (optind < argc)
		o->file = argv[optind];
	else if (default_file(o->path, sizeof(o->path), "tail") != 0)
		return 2;
	else
		o->file = o->path;
	return -1;
}

/* Colour and width for a terminal, and the ring that -n N fills. */
static void
tail_output(struct tail *t, long long n)
{
	const char *term = getenv("TERM");

	t->tty = isatty(STDOUT_FILENO) == 1;
	t->fmt.color = t->tty && getenv("NO_COLOR") == NULL &&
	    (term == NULL || strcmp(term, "dumb") != 0);
	t->fmt.width = out_width(t->tty);
	if (n < 0)
		return;
	t->ring.n = (size_t)n;
	if (n > 0 && (t->ring.v = calloc((size_t)n, sizeof(char *))) == NULL)
		ew_fatal("out of memory");
	/* -n 0: nothing of what is there, only what comes. */
	if (n == 0)
		t->ring.n = 1;
}

/*
 * Print rd's records until its end (with -f, for ever): 0, or 1 when
 * reading or writing failed (said on stderr).
 */
static int
tail_read(struct tail *t, const struct tail_opts *o, struct ew_audit_reader *rd)
{
	enum ew_audit_read kind;
	unsigned long lineno;
	const char *line;
	size_t len;
	int r;

	for (;;) {
		if ((r = ew_audit_reader_next(
			 rd, EW_TAIL_POLL_MS, &kind, &line, &len)) != 0) {
			fprintf(stderr, "execward audit tail: read %s: %s\n",
			    ew_audit_reader_where(rd, &lineno), strerror(-r));
			return 1;
		}
		switch (kind) {
		case EW_AUDIT_READ_LINE:
			one_line(t, rd, line, len);
			break;
		case EW_AUDIT_READ_PARTIAL:
			bad_line(t, rd, "half-written line", line, len);
			break;
		case EW_AUDIT_READ_NOTE:
			fflush(stdout);
			fprintf(stderr, "execward audit tail: %.*s\n", (int)len,
			    line);
			break;
		case EW_AUDIT_READ_END:
			if (t->ring.n > 0) {
				if (o->n == 0)
					t->ring.count = 0;
				ring_flush(&t->ring);
			}
			if (!o->follow)
				return fflush(stdout) == 0 ? 0 : 1;
			t->fmt.width = out_width(t->tty);
			fflush(stdout);
			break;
		}
	}
}

static int
cmd_tail(int argc, char **argv)
{
	struct tail t;
	struct tail_opts o;
	struct ew_audit_reader *rd = NULL;
	long long i;
	int r, code;

	memset(&t, 0, sizeof(t));
	memset(&o, 0, sizeof(o));
	o.n = -1;
	ew_audit_filter_init(&t.filter);
	if ((t.out = ew_buf_new(EW_BUF_SIZE_MAX)) == NULL)
		ew_fatal("out of memory");
	if ((code = tail_options(&t, &o, argc, argv)) >= 0)
		goto out;
	tail_output(&t, o.n);
	if ((r = ew_audit_reader_open(o.file, o.follow, &rd)) != 0) {
		fprintf(stderr, "execward audit tail: open %s: %s\n", o.file,
		    strerror(-r));
		code = 1;
		goto out;
	}
	code = tail_read(&t, &o, rd);
out:
	ew_audit_reader_close(rd);
	if (t.ring.v != NULL) {
		for (i = 0; i < o.n; i++)
			free(t.ring.v[i]);
		free(t.ring.v);
	}
	ew_buf_free(t.out);
	return code;
}

/* --- summary ---------------------------------------------------------- */

struct count {
	char *key;
	unsigned long n;
};

/* Counts by string, open addressing. */
struct table {
	struct count *v;
	size_t cap, len;
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void
table_add(struct table *t, const char *key)
{
	struct count *old = t->v;
	size_t oldcap = t->cap, i, j;

	if ((t->len + 1) * 10 >= t->cap * 7) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		if ((t->v = calloc(t->cap, sizeof(*t->v))) == NULL)
			ew_fatal("out of memory");
		t->len = 0;
		for (i = 0; i < oldcap; i++) {
			if (old[i].key == NULL)
				continue;
			for (j = hash(old[i].key) & (t->cap - 1);
			     t->v[j].key != NULL; j = (j + 1) & (t->cap - 1))
				;
			t->v[j] = old[i];
			t->len++;
		}
		free(old);
	}
	for (j = hash(key) & (t->cap - 1); t->v[j].key != NULL;
	     j = (j + 1) & (t->cap - 1))
		if (strcmp(t->v[j].key, key) == 0) {
			t->v[j].n++;
			return;
		}
	if ((t->v[j].key = strdup(key)) == NULL)
		ew_fatal("out of memory");
	t->v[j].n = 1;
	t->len++;
}

static int
by_count(const void *a, const void *b)
{
	const struct count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* The table's entries, most counted first (caller frees the array). */
static struct count *
table_sorted(const struct table *t)
{
	struct count *out;
	size_t i, k = 0;

	if ((out = calloc(t->len + 1, sizeof(*out))) == NULL)
		ew_fatal("out of memory");
	for (i = 0; i < t->cap; i++)
		if (t->v[i].key != NULL)
			out[k++] = t->v[i];
	qsort(out, k, sizeof(*out), by_count);
	return out;
}

static void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->v[i].key);
	free(t->v);
}

struct summary {
	unsigned long records, bad, files;
	struct table decisions, sources, run, refused, answers, sessions;
	unsigned long asked;
	/* Connections refused unread; records rotation deleted (so far). */
	unsigned long long refused_conns, dropped;
	long long *waits;
	size_t nwaits, capwaits;
	int64_t first_us, last_us;
	char first[40], last[40];
};

static void
print_table(const char *title, const struct table *t, size_t top)
{
	struct count *s;
	size_t i;

	if (t->len == 0)
		return;
	printf("\n%s\n", title);
	s = table_sorted(t);
	for (i = 0; i < t->len && i < top; i++)
		printf("  %8lu  %s\n", s[i].n, s[i].key);
	if (t->len > top)
		printf("  %8s  (%zu more)\n", "", t->len - top);
	free(s);
}

static int
by_value(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* A key for people: escaped as audit tail shows text. */
static void
add_key(struct table *t, const char *s)
{
	struct ew_buf *b;

	if ((b = ew_buf_new(EW_BUF_SIZE_MAX)) == NULL)
		ew_fatal("out of memory");
	ew_text_put_clean(b, s, strlen(s));
	if (ew_buf_put(b, "", 1) != 0)
		ew_fatal("out of memory");
	table_add(t, (const char *)ew_buf_ptr(b));
	ew_buf_free(b);
}

static void
summarise(struct summary *s, const struct ew_audit_view *v)
{
	s->records++;
	table_add(&s->decisions, v->decision);
	if (v->session != NULL)
		table_add(&s->sessions, v->session);
	if (v->ts_us >= 0 && (s->first_us == 0 || v->ts_us < s->first_us)) {
		s->first_us = v->ts_us;
		snprintf(s->first, sizeof(s->first), "%.32s", v->ts);
	}
	if (v->ts_us >= 0 && v->ts_us > s->last_us) {
		s->last_us = v->ts_us;
		snprintf(s->last, sizeof(s->last), "%.32s", v->ts);
	}
	if (v->refused && v->count > 0)
		s->refused_conns += (unsigned long long)v->count;
	if (v->dropped && v->total > 0 &&
	    (unsigned long long)v->total > s->dropped)
		s->dropped = (unsigned long long)v->total;
	if (v->exit || v->failed || v->refused || v->dropped)
		return;
	if (v->source != NULL)
		table_add(&s->sources, v->source);
	if (v->file != NULL && strcmp(v->decision, "deny") == 0)
		add_key(&s->refused, v->file);
	else if (v->file != NULL)
		add_key(&s->run, v->file);
	if (v->asked) {
		s->asked++;
		table_add(&s->answers, v->answer != NULL ? v->answer : "?");
		if (s->nwaits == s->capwaits) {
			s->capwaits = s->capwaits == 0 ? 64 : s->capwaits * 2;
			s->waits = reallocarray(
			    s->waits, s->capwaits, sizeof(*s->waits));
			if (s->waits == NULL)
				ew_fatal("out of memory");
		}
		s->waits[s->nwaits++] = v->wait_ms;
	}
}

static int
read_one(struct summary *s, const char *file)
{
	struct ew_audit_reader *rd = NULL;
	struct ew_audit_view *v;
	enum ew_audit_read kind;
	const char *line, *why;
	size_t len;
	int r;

	if ((r = ew_audit_reader_open(file, false, &rd)) != 0) {
		fprintf(stderr, "execward audit summary: open %s: %s\n", file,
		    strerror(-r));
		return -1;
	}
	s->files++;
	for (;;) {
		if ((r = ew_audit_reader_next(rd, 0, &kind, &line, &len)) !=
		    0) {
			fprintf(stderr, "execward audit summary: read %s: %s\n",
			    file, strerror(-r));
			ew_audit_reader_close(rd);
			return -1;
		}
		if (kind == EW_AUDIT_READ_END)
			break;
		if (kind != EW_AUDIT_READ_LINE ||
		    ew_audit_view_parse(line, len, &v, &why) != 0) {
			s->bad++;
			continue;
		}
		summarise(s, v);
		ew_audit_view_free(v);
	}
	ew_audit_reader_close(rd);
	return 0;
}

static int
cmd_summary(int argc, char **argv)
{
	static const char *const order[] = { "allow", "deny", "escalate",
		"exit", "failed", NULL };
	struct summary s;
	char path[PATH_MAX];
	struct count *c;
	size_t i, k;
	int code = 1;

	memset(&s, 0, sizeof(s));
	if (argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "--") != 0) {
		fprintf(stderr, "execward audit summary: unknown option %s\n",
		    argv[1]);
		usage(stderr);
		return 2;
	}
	i = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;
	if ((int)i >= argc) {
		if (default_file(path, sizeof(path), "summary") != 0)
			return 2;
		if (read_one(&s, path) != 0)
			goto out;
	}
	for (; (int)i < argc; i++)
		if (read_one(&s, argv[i]) != 0)
			goto out;

	printf("records   %lu in %lu file%s", s.records, s.files,
	    s.files == 1 ? "" : "s");
	if (s.bad > 0)
		printf(" (%lu unreadable line%s skipped)", s.bad,
		    s.bad == 1 ? "" : "s");
	printf("\n");
	if (s.records > 0)
		printf("from      %s\nto        %s\nsessions  %zu\n", s.first,
		    s.last, s.sessions.len);
	if (s.decisions.len > 0) {
		printf("\ndecisions\n");
		c = table_sorted(&s.decisions);
		for (i = 0; order[i] != NULL; i++)
			for (k = 0; k < s.decisions.len; k++)
				if (strcmp(c[k].key, order[i]) == 0)
					printf(
					    "  %8lu  %s\n", c[k].n, c[k].key);
		free(c);
	}
	if (s.refused_conns > 0)
		printf("\nconnections refused before a question: %llu\n",
		    s.refused_conns);
	if (s.dropped > 0)
		printf("\nrecords deleted by rotation (said in the log): "
		       "%llu\n",
		    s.dropped);
	print_table("decided by", &s.sources, EW_SUMMARY_TOP);
	print_table("most run programs", &s.run, EW_SUMMARY_TOP);
	print_table("most refused programs", &s.refused, EW_SUMMARY_TOP);
	if (s.asked > 0) {
		printf("\nprompts: %lu asked\n", s.asked);
		c = table_sorted(&s.answers);
		for (k = 0; k < s.answers.len; k++)
			printf("  %8lu  %s\n", c[k].n, c[k].key);
		free(c);
		qsort(s.waits, s.nwaits, sizeof(*s.waits), by_value);
		printf("  wait: median %.1f s, longest %.1f s\n",
		    (double)(s.waits[(s.nwaits - 1) / 2] +
			s.waits[s.nwaits / 2]) /
			2000.,
		    (double)s.waits[s.nwaits - 1] / 1000.);
	}
	code = fflush(stdout) == 0 ? 0 : 1;
out:
	table_free(&s.decisions);
	table_free(&s.sources);
	table_free(&s.run);
	table_free(&s.refused);
	table_free(&s.answers);
	table_free(&s.sessions);
	free(s.waits);
	return code;
}

int
ew_cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "tail") == 0)
		return cmd_tail(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "summary") == 0)
		return cmd_summary(argc - 1, argv + 1);
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2)
		fprintf(stderr, "execward audit: tail or summary?\n");
	else
		fprintf(
		    stderr, "execward audit: unknown command: %s\n", argv[1]);
	usage(stderr);
	return 2;
}
