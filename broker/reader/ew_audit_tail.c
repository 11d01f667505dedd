/* Reading the audit log back for people: parse, filter, format, follow. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <yajl/yajl_tree.h>

#include "ew_audit.h"
#include "ew_audit_tail.h"
#include "ew_text.h"

/* Column widths of a line for people (the command takes the rest). */
#define EW_TAIL_COL_TS 19
#define EW_TAIL_COL_DECISION 8
#define EW_TAIL_COL_PID 7
#define EW_TAIL_COL_CWD 20
#define EW_TAIL_COL_WHY 22
/* The command's column: padded to this when nothing is cut. */
#define EW_TAIL_COL_CMD 40
/* Narrow terminals (no room for a command this wide): no cwd. */
#define EW_TAIL_COL_CMD_CWD 30
#define EW_TAIL_COL_WHY_NARROW 16
/* The command keeps at least this many columns. */
#define EW_TAIL_COL_CMD_MIN 12
#define EW_TAIL_GAP "  "

#define C_RESET "\033[0m"
#define C_DIM "\033[2m"
#define C_ALLOW "\033[32m"
#define C_DENY "\033[1;31m"
#define C_ESCALATE "\033[1;33m"
#define C_EXIT "\033[36m"
#define C_BAD "\033[35m"

/* --- records ---------------------------------------------------------- */

static const char *
get_str(yajl_val obj, const char *key)
{
	const char *p[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, p, yajl_t_string);

	return v != NULL ? YAJL_GET_STRING(v) : NULL;
}

static long long
get_int(yajl_val obj, const char *key, long long dflt)
{
	const char *p[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, p, yajl_t_number);

	return v != NULL && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : dflt;
}

/* "2025-01-31T10:00:00.123456Z" -> microseconds; -1 if not that form. */
/*
 * ".ddd..." at p, if there, as microseconds into *frac (digits past the
 * sixth ignored): where the text goes on.
 */
static const char *
fraction_us(const char *p, long *frac)
{
	int digits = 0;

	*frac = 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 6)
				*frac = *frac * 10 + (*p - '0');
	for (; digits < 6; digits++)
		*frac *= 10;
	return p;
}

static int64_t
ts_us(const char *ts)
{
	struct tm tm;
	const char *p;
	long frac = 0;

	if (ts == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	p = fraction_us(p, &frac);
	if (*p != 'Z' || p[1] != '\0')
		return -1;
	return (int64_t)timegm(&tm) * 1000000 + frac;
}

/* The match that decided: the first rule whose decision led here. */
static const char *
decisive_rule(yajl_val rules, const char *decision, const char *source)
{
	const char *want, *first = NULL, *at, *d;
	size_t i;

	if (rules == NULL || !YAJL_IS_ARRAY(rules))
		return NULL;
	want = strcmp(source, "user") == 0  ? "prompt"
	    : strcmp(decision, "deny") == 0 ? "forbidden"
					    : "allow";
	for (i = 0; i < YAJL_GET_ARRAY(rules)->len; i++) {
		yajl_val m = YAJL_GET_ARRAY(rules)->values[i];

		if ((at = get_str(m, "rule")) == NULL)
			continue;
		if (first == NULL)
			first = at;
		if ((d = get_str(m, "decision")) != NULL &&
		    strcmp(d, want) == 0)
			return at;
	}
	return first;
}

int
ew_audit_view_parse(
    const char *line, size_t len, struct ew_audit_view **out, const char **why)
{
	const char *pargv[] = { "argv", NULL };
	const char *prules[] = { "rules", NULL };
	const char *pprompt[] = { "prompt", NULL };
	const char *pstatus[] = { "status", NULL };
	struct ew_audit_view *v = NULL;
	yajl_val tree = NULL, arr, pr, st;
	char *text = NULL, err[64];
	const char *type;
	size_t i;
	int r = -EINVAL;

	*out = NULL;
	*why = NULL;
	if (memchr(line, '\0', len) != NULL) {
		*why = "not a record (a NUL byte)";
		goto out;
	}
	if ((text = malloc(len + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(text, line, len);
	text[len] = '\0';
	if ((tree = yajl_tree_parse(text, err, sizeof(err))) == NULL ||
	    !YAJL_IS_OBJECT(tree)) {
		*why = "corrupt line (not JSON)";
		goto out;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	v->tree = tree;
	type = get_str(tree, "type");
	v->exit = type != NULL && strcmp(type, "exit") == 0;
	v->failed = type != NULL && strcmp(type, "failed") == 0;
	v->refused = type != NULL && strcmp(type, "refused") == 0;
	v->dropped = type != NULL && strcmp(type, "dropped") == 0;
	v->ts = get_str(tree, "ts");
	v->decision = v->exit ? "exit"
	    : v->failed       ? "failed"
	    : v->refused      ? "refused"
	    : v->dropped      ? "dropped"
			      : get_str(tree, "decision");
	if (v->ts == NULL || v->decision == NULL ||
	    (type != NULL && !v->exit && !v->failed && !v->refused &&
		!v->dropped)) {
		*why = "not an audit record (no ts or decision)";
		goto out;
	}
	/* Refusals counted before any question; deletions by rotation. */
	v->count = get_int(tree, v->dropped ? "records" : "count", -1);
	v->since = get_str(tree, "since");
	v->gone_file = get_str(tree, "file");
	v->first_seq = get_int(tree, "first_seq", -1);
	v->last_seq = get_int(tree, "last_seq", -1);
	v->total = get_int(tree, "total", -1);
	v->ts_us = ts_us(v->ts);
	v->seq = get_int(tree, "seq", -1);
	v->pid = get_int(tree, "pid", -1);
	v->ppid = get_int(tree, "ppid", -1);
	v->uid = get_int(tree, "uid", -1);
	v->session = get_str(tree, "session");
	v->cwd = get_str(tree, "cwd");
	v->via = get_str(tree, "via");
	v->file = v->dropped ? NULL : get_str(tree, "file");
	v->source = get_str(tree, "source");
	v->justification = get_str(tree, "justification");
	v->reason = get_str(tree, "reason");
	v->latency_us = get_int(tree, "latency_us", -1);
	if ((arr = yajl_tree_get(tree, pargv, yajl_t_array)) != NULL) {
		v->argv = calloc(YAJL_GET_ARRAY(arr)->len + 1, sizeof(char *));
		if (v->argv == NULL) {
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < YAJL_GET_ARRAY(arr)->len; i++)
			if (YAJL_IS_STRING(YAJL_GET_ARRAY(arr)->values[i]))
				v->argv[v->argc++] = YAJL_GET_STRING(
				    YAJL_GET_ARRAY(arr)->values[i]);
	}
	if ((pr = yajl_tree_get(tree, pprompt, yajl_t_object)) != NULL) {
		const char *pa[] = { "asked", NULL };

		v->asked = YAJL_IS_TRUE(yajl_tree_get(pr, pa, yajl_t_any));
		v->answer = get_str(pr, "answer");
		v->wait_ms = get_int(pr, "wait_ms", 0);
	}
	if (v->failed)
		v->error = get_str(tree, "error");
	if (v->source != NULL && !v->exit && !v->refused && !v->dropped)
		v->rule =
		    decisive_rule(yajl_tree_get(tree, prules, yajl_t_array),
			v->decision, v->source);
	if (v->exit) {
		v->duration_us = get_int(tree, "duration_us", -1);
		if ((st = yajl_tree_get(tree, pstatus, yajl_t_object)) !=
		    NULL) {
			v->signaled = get_int(st, "signal", -1) >= 0;
			v->status = v->signaled ? get_int(st, "signal", -1)
						: get_int(st, "code", -1);
		}
	}
	*out = v;
	v = NULL;
	tree = NULL;
	r = 0;
out:
	if (v != NULL) {
		free(v->argv);
		free(v);
	}
	if (tree != NULL)
		yajl_tree_free(tree);
	free(text);
	return r;
}

void
ew_audit_view_free(struct ew_audit_view *v)
{
	if (v == NULL)
		return;
	yajl_tree_free(v->tree);
	free(v->argv);
	free(v);
}

/* --- filters ---------------------------------------------------------- */

int
ew_audit_decision_bit(const char *name)
{
	int d = ew_audit_decision_parse(name);

	return d < 0 ? d : 1 << d;
}

/* "+02:00", "-0530", "Z" at s: seconds east of UTC; -1 on bad input. */
static int
zone_offset(const char *s, long *off)
{
	int h, m, n = 0;

	if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0) {
		*off = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') ||
	    (sscanf(s + 1, "%2d:%2d%n", &h, &m, &n) != 2 &&
		sscanf(s + 1, "%2d%2d%n", &h, &m, &n) != 2) ||
	    s[1 + n] != '\0' || h > 23 || m > 59)
		return -1;
	*off = (s[0] == '-' ? -1 : 1) * (h * 3600L + m * 60L);
	return 0;
}

int
ew_audit_time_parse(const char *s, int64_t now_us, int64_t *out)
{
	static const char *const forms[] = { "%Y-%m-%dT%H:%M:%S",
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
		"%Y-%m-%d", NULL };
	struct tm tm;
	const char *p = NULL;
	char *end;
	unsigned long long n;
	long off, frac = 0;
	int i;
	time_t t;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		n = strtoull(s, &end, 10);
		if (errno == 0 && end != s && end[0] != '\0' &&
		    end[1] == '\0' && strchr("smhd", end[0]) != NULL) {
			n *= end[0] == 's'  ? 1
			    : end[0] == 'm' ? 60
			    : end[0] == 'h' ? 3600
					    : 86400;
			if (n > (unsigned long long)now_us / 1000000)
				return -EINVAL;
			*out = now_us - (int64_t)n * 1000000;
			return 0;
		}
	}
	for (i = 0; forms[i] != NULL && p == NULL; i++) {
		memset(&tm, 0, sizeof(tm));
		p = strptime(s, forms[i], &tm);
	}
	if (p == NULL)
		return -EINVAL;
	p = fraction_us(p, &frac);
	if (*p == '\0') {
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) == (time_t)-1)
			return -EINVAL;
	} else if (zone_offset(p, &off) == 0)
		t = timegm(&tm) - off;
	else
		return -EINVAL;
	*out = (int64_t)t * 1000000 + frac;
	return 0;
}

void
ew_audit_filter_init(struct ew_audit_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->pid = -1;
}

static const char *
base_name(const char *p)
{
	const char *b = strrchr(p, '/');

	return b != NULL ? b + 1 : p;
}

bool
ew_audit_filter_match(
    const struct ew_audit_filter *f, const struct ew_audit_view *v)
{
	int bit;

	if (f->decisions != 0) {
		bit = ew_audit_decision_bit(v->decision);
		/* Refused connections were denied too. */
		if (v->refused)
			bit |= 1 << EW_AUDIT_DENY;
		if (bit < 0 || (f->decisions & (unsigned)bit) == 0)
			return false;
	}
	if (f->since_us != 0 && (v->ts_us < 0 || v->ts_us < f->since_us))
		return false;
	if (f->pid >= 0 && v->pid != f->pid)
		return false;
	if (f->program != NULL) {
		if (v->file == NULL)
			return false;
		if (strchr(f->program, '/') != NULL
			? strcmp(v->file, f->program) != 0
			: strcmp(base_name(v->file), f->program) != 0)
			return false;
	}
	return true;
}

/* --- lines for people ------------------------------------------------- */

/* Columns that s[0..n) takes (UTF-8: one per character). */
static size_t
cols(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* Bytes of the first c characters of s[0..n). */
static size_t
first_cols(const char *s, size_t n, size_t c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && c-- == 0)
			break;
	return i;
}

/*
 * Append s[0..n) in exactly width columns: padded with spaces, or cut with
 * an ellipsis (on the left when keep_end: the end of a path says more).
 * width 0: as it is.
 */
static void
put_fit(struct ew_buf *b, const char *s, size_t n, size_t width, bool keep_end,
    bool pad)
{
	size_t c = cols(s, n), skip;

	if (width == 0 || c <= width) {
		(void)ew_buf_put(b, s, n);
		for (; pad && c < width; c++)
			(void)ew_buf_put(b, " ", 1);
		return;
	}
	if (keep_end) {
		skip = first_cols(s, n, c - (width - 1));
		(void)ew_buf_put(b, "\xe2\x80\xa6", 3);
		(void)ew_buf_put(b, s + skip, n - skip);
	} else {
		(void)ew_buf_put(b, s, first_cols(s, n, width - 1));
		(void)ew_buf_put(b, "\xe2\x80\xa6", 3);
	}
}

/* A program in a usual folder is shown by name, anywhere else in full. */
static const char *
program_name(const char *file)
{
	static const char *const usual[] = { "/usr/bin/", "/bin/", "/usr/sbin/",
		"/sbin/", "/usr/local/bin/", NULL };
	size_t i, n;

	for (i = 0; usual[i] != NULL; i++) {
		n = strlen(usual[i]);
		if (strncmp(file, usual[i], n) == 0 &&
		    strchr(file + n, '/') == NULL)
			return file + n;
	}
	return file;
}

static void
command_text(struct ew_buf *b, const struct ew_audit_view *v)
{
	char tmp[160];
	size_t i;

	if (v->refused) {
		snprintf(tmp, sizeof(tmp), "(uid %lld: %lld connection%s)",
		    v->uid, v->count, v->count == 1 ? "" : "s");
		(void)ew_buf_put(b, tmp, strlen(tmp));
		return;
	}
	if (v->dropped) {
		if (v->count >= 0)
			snprintf(tmp, sizeof(tmp),
			    "(deleted %.64s: %lld records, seq %lld-%lld)",
			    v->gone_file != NULL ? v->gone_file : "?", v->count,
			    v->first_seq, v->last_seq);
		else
			snprintf(tmp, sizeof(tmp),
			    "(deleted %.64s: records not counted)",
			    v->gone_file != NULL ? v->gone_file : "?");
		ew_text_put_clean(b, tmp, strlen(tmp));
		return;
	}

	if (v->file != NULL)
		ew_text_put_word(b, program_name(v->file), EW_TEXT_ESCAPE);
	else if (v->argc > 0)
		ew_text_put_word(b, v->argv[0], EW_TEXT_ESCAPE);
	else
		(void)ew_buf_put(b, "?", 1);
	for (i = 1; i < v->argc; i++) {
		(void)ew_buf_put(b, " ", 1);
		ew_text_put_word(b, v->argv[i], EW_TEXT_ESCAPE);
	}
}

/* What decided: the rule, the answer, the heuristics, or why not. */
static void
why_text(struct ew_buf *b, const struct ew_audit_view *v)
{
	char tmp[96];
	const char *src = v->source != NULL ? v->source : "?";
	const char *at;

	if (v->failed) {
		(void)ew_buf_put(b, "did not start: ", 15);
		src = v->error != NULL ? v->error : "?";
		ew_text_put_clean(b, src, strlen(src));
		return;
	}
	if (v->exit) {
		snprintf(tmp, sizeof(tmp), "%s %lld after %.1fs",
		    v->signaled ? "signal" : "exit", v->status,
		    v->duration_us >= 0 ? (double)v->duration_us / 1e6 : 0.);
		(void)ew_buf_put(b, tmp, strlen(tmp));
		return;
	}
	if ((v->refused || v->dropped) && v->reason != NULL) {
		ew_text_put_clean(b, v->reason, strlen(v->reason));
		return;
	}
	if (v->asked) {
		snprintf(tmp, sizeof(tmp), "asked: %.16s %.1fs",
		    v->answer != NULL ? v->answer : "?",
		    (double)v->wait_ms / 1000.);
		ew_text_put_clean(b, tmp, strlen(tmp));
		return;
	}
	if (strcmp(src, "rule") == 0 && v->rule != NULL) {
		/* FILE:LINE shortened to the file's name. */
		at = base_name(v->rule);
		(void)ew_buf_put(b, "rule ", 5);
		ew_text_put_clean(b, at, strlen(at));
		return;
	}
	if (strcmp(src, "user") == 0) {
		(void)ew_buf_put(b, "approved earlier", 16);
		return;
	}
	if (strcmp(src, "fallback") == 0 && v->reason != NULL) {
		ew_text_put_clean(b, v->reason, strlen(v->reason));
		return;
	}
	ew_text_put_clean(b, src, strlen(src));
}

static const char *
decision_color(const char *name)
{
	static const char *const colors[EW_AUDIT_NDECISIONS] = {
		[EW_AUDIT_ALLOW] = C_ALLOW,
		[EW_AUDIT_DENY] = C_DENY,
		[EW_AUDIT_ESCALATE] = C_ESCALATE,
		[EW_AUDIT_EXIT] = C_EXIT,
		[EW_AUDIT_FAILED] = C_EXIT,
		[EW_AUDIT_REFUSED] = C_DENY,
		[EW_AUDIT_DROPPED] = C_BAD,
	};
	int d = ew_audit_decision_parse(name);

	return d < 0 ? C_BAD : colors[d];
}

/* Append a padded, or cut, column from tmp, then the gap. */
static void
column(struct ew_buf *out, struct ew_buf *tmp, size_t width, bool cut,
    bool keep_end, const char *color)
{
	if (color != NULL)
		(void)ew_buf_put(out, color, strlen(color));
	put_fit(out, (const char *)ew_buf_ptr(tmp), ew_buf_len(tmp),
	    cut ? width : 0, keep_end, false);
	if (color != NULL)
		(void)ew_buf_put(out, C_RESET, strlen(C_RESET));
	/* Pad to the width: a column longer than it (uncut) pushes on. */
	if (cols((const char *)ew_buf_ptr(tmp), ew_buf_len(tmp)) < width)
		for (width -=
		     cols((const char *)ew_buf_ptr(tmp), ew_buf_len(tmp));
		     width > 0; width--)
			(void)ew_buf_put(out, " ", 1);
	(void)ew_buf_put(out, EW_TAIL_GAP, strlen(EW_TAIL_GAP));
	ew_buf_reset(tmp);
}

int
ew_audit_format(const struct ew_audit_view *v, const struct ew_audit_fmt *f,
    struct ew_buf *out)
{
	struct ew_buf *tmp;
	size_t cwdw = EW_TAIL_COL_CWD, whyw = EW_TAIL_COL_WHY;
	size_t cmdw = EW_TAIL_COL_CMD, gap = strlen(EW_TAIL_GAP), fixed;
	bool cut = f->width != 0;
	char ts[32];
	int r;

	if ((tmp = ew_buf_new(EW_BUF_SIZE_MAX)) == NULL)
		return -ENOMEM;
	fixed =
	    EW_TAIL_COL_TS + EW_TAIL_COL_DECISION + EW_TAIL_COL_PID + 3 * gap;
	if (cut) {
		/* Narrow: the cwd goes, and what decided is cut shorter. */
		if (f->width <
		    fixed + cwdw + whyw + 2 * gap + EW_TAIL_COL_CMD_CWD) {
			cwdw = 0;
			whyw = EW_TAIL_COL_WHY_NARROW;
		}
		fixed += (cwdw > 0 ? cwdw + gap : 0) + whyw;
		cmdw = f->width > fixed + EW_TAIL_COL_CMD_MIN
		    ? f->width - fixed - gap
		    : EW_TAIL_COL_CMD_MIN;
	}
	/* The time to the second, as recorded (UTC). */
	snprintf(ts, sizeof(ts), "%.10s %.8s", v->ts,
	    strlen(v->ts) > 11 ? v->ts + 11 : "");
	ew_text_put_clean(tmp, ts, strlen(ts));
	column(out, tmp, EW_TAIL_COL_TS, true, false, f->color ? C_DIM : NULL);

	ew_text_put_clean(tmp, v->decision, strlen(v->decision));
	column(out, tmp, EW_TAIL_COL_DECISION, true, false,
	    f->color ? decision_color(v->decision) : NULL);

	snprintf(ts, sizeof(ts), "%*lld", EW_TAIL_COL_PID, v->pid);
	(void)ew_buf_put(tmp, ts, strlen(ts));
	column(out, tmp, EW_TAIL_COL_PID, true, false, NULL);

	command_text(tmp, v);
	column(out, tmp, cmdw, cut, false, NULL);

	if (cwdw > 0) {
		if (v->cwd != NULL)
			ew_text_put_clean(tmp, v->cwd, strlen(v->cwd));
		column(out, tmp, cwdw, cut, true, NULL);
	}

	/* The last column: cut to fit, never padded. */
	why_text(tmp, v);
	put_fit(out, (const char *)ew_buf_ptr(tmp), ew_buf_len(tmp),
	    cut ? whyw : 0, false, false);
	r = ew_buf_put(out, "\n", 1);
	ew_buf_free(tmp);
	return r;
}

int
ew_audit_format_bad(const char *where, unsigned long lineno, const char *why,
    const char *text, size_t len, const struct ew_audit_fmt *f,
    struct ew_buf *out)
{
	struct ew_buf *tmp;
	char head[PATH_MAX + 128];
	size_t w;
	int r;

	if ((tmp = ew_buf_new(EW_BUF_SIZE_MAX)) == NULL)
		return -ENOMEM;
	snprintf(head, sizeof(head), "-- %s:%lu: %s: ", base_name(where),
	    lineno, why);
	ew_text_put_clean(tmp, head, strlen(head));
	/* Enough of the text to recognise it, never megabytes of it. */
	ew_text_put_clean(
	    tmp, text, len > 4096 ? first_cols(text, 4096, 4096) : len);
	w = f->width != 0 ? f->width : cols(head, strlen(head)) + 200;
	if (f->color)
		(void)ew_buf_put(out, C_BAD, strlen(C_BAD));
	put_fit(out, (const char *)ew_buf_ptr(tmp), ew_buf_len(tmp), w, false,
	    false);
	if (f->color)
		(void)ew_buf_put(out, C_RESET, strlen(C_RESET));
	r = ew_buf_put(out, "\n", 1);
	ew_buf_free(tmp);
	return r;
}
