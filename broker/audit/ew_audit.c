/* The audit log writer: JSON Lines, written before the answer is sent. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "ew_audit_int.h"
#include "ew_buf.h"
#include "ew_err.h"
#include "ew_json.h"
#include "ew_paths.h"
#include "ew_log.h"
#include "ew_policy.h"
#include "ew_time.h"

/* A record holds argv whole: room for the largest legal request. */
#define EW_AUDIT_LINE_MAX (64u * 1024 * 1024)
/* Batch mode syncs at least this often while records are pending. */
#define EW_AUDIT_BATCH_S 0.1
/*
 * A syslog message past this is shortened (argv cut): a datagram to
 * /dev/log larger than the socket's buffer is dropped whole.
 */
#define EW_AUDIT_SYSLOG_MAX (8u * 1024)
/* What a shortened syslog record keeps of argv. */
#define EW_AUDIT_SYSLOG_ARGS 32u
#define EW_AUDIT_SYSLOG_ARG_BYTES 256u

void
ew_audit_conf_init(struct ew_audit_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->sync = EW_AUDIT_SYNC_BATCH;
	c->keep = EW_AUDIT_KEEP_DEFAULT;
	c->full = EW_AUDIT_FULL_ROTATE;
}

int
ew_audit_conf_default_path(struct ew_audit_conf *c, char *buf, size_t len)
{
	int r;

	if (c->path != NULL)
		return 0;
	if ((r = ew_paths_default_audit(buf, len)) != 0)
		return r;
	c->path = buf;
	return 0;
}

int
ew_audit_sync_parse(const char *s, enum ew_audit_sync *out)
{
	if (strcmp(s, "none") == 0)
		*out = EW_AUDIT_SYNC_NONE;
	else if (strcmp(s, "batch") == 0)
		*out = EW_AUDIT_SYNC_BATCH;
	else if (strcmp(s, "always") == 0)
		*out = EW_AUDIT_SYNC_ALWAYS;
	else
		return -EINVAL;
	return 0;
}

/* "4096", "64K", "10M", "1G" (powers of 1024); -EINVAL otherwise. */
static int
parse_bytes(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	if (*end != '\0') {
		switch (*end) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		if (end[1] != '\0' && strcmp(end + 1, "iB") != 0 &&
		    strcmp(end + 1, "B") != 0)
			return -EINVAL;
	}
	if (v == 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int
ew_audit_conf_option(struct ew_audit_conf *c, const char *name, const char *arg,
    char *err, size_t errlen)
{
	unsigned long v;
	char *end;

	if (strcmp(name, "audit") == 0) {
		/* "syslog" adds a destination; the file is kept as well. */
		if (strcmp(arg, "syslog") == 0)
			c->syslog = true;
		else if (arg[0] == '\0') {
			snprintf(err, errlen, "--audit: empty file name");
			return -EINVAL;
		} else
			c->path = arg;
		return 0;
	}
	if (strcmp(name, "audit-sync") == 0) {
		if (ew_audit_sync_parse(arg, &c->sync) != 0) {
			snprintf(err, errlen,
			    "--audit-sync: expected none, batch or always, "
			    "not %s",
			    arg);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(name, "audit-max-bytes") == 0) {
		if (parse_bytes(arg, &c->max_bytes) != 0) {
			snprintf(err, errlen,
			    "--audit-max-bytes: expected a size such as "
			    "1048576, 64K or 10M, not %s",
			    arg);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(name, "audit-full") == 0) {
		if (strcmp(arg, "rotate") == 0)
			c->full = EW_AUDIT_FULL_ROTATE;
		else if (strcmp(arg, "deny") == 0)
			c->full = EW_AUDIT_FULL_DENY;
		else {
			snprintf(err, errlen,
			    "--audit-full: expected rotate or deny, not %s",
			    arg);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(name, "audit-keep") == 0) {
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (arg[0] < '0' || arg[0] > '9' || *end != '\0' ||
		    errno != 0 || v > EW_AUDIT_KEEP_MAX) {
			snprintf(err, errlen,
			    "--audit-keep: expected 0 to %u files, not %s",
			    EW_AUDIT_KEEP_MAX, arg);
			return -EINVAL;
		}
		c->keep = (unsigned)v;
		return 0;
	}
	return -ENOENT;
}

int
ew_audit_rotated_name(const char *path, unsigned i, char *out, size_t n)
{
	int k = snprintf(out, n, "%s.%u", path, i);

	return k < 0 || (size_t)k >= n ? -E2BIG : 0;
}

/* Start the batch timer (once per pending spell; it stops when idle). */
static void
batch_arm(struct ew_audit *a)
{
	if (a->loop == NULL || ev_is_active(&a->sync_w))
		return;
	ev_timer_set(&a->sync_w, EW_AUDIT_BATCH_S, EW_AUDIT_BATCH_S);
	ev_timer_start(a->loop, &a->sync_w);
	ev_unref(a->loop); /* the sync timer alone keeps nothing alive */
}

static void
batch_disarm(struct ew_audit *a)
{
	if (a->loop == NULL || !ev_is_active(&a->sync_w))
		return;
	ev_ref(a->loop);
	ev_timer_stop(a->loop, &a->sync_w);
}

static void
sync_now(struct ew_audit *a)
{
	if (fdatasync(a->fd) < 0) {
		if (!a->sync_failed)
			ew_log(EW_LOG_ERROR, "audit log %s: fdatasync: %s",
			    a->path, strerror(errno));
		a->sync_failed = true;
		return;
	}
	a->sync_failed = false;
	a->dirty = false;
}

static void
ew_audit_on_sync(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_audit *a = w->data;

	if (a->dirty)
		sync_now(a);
	else
		batch_disarm(a);
}

/* mkdir -p for the log's folder, each new level 0700. */
static int
make_parents(const char *path)
{
	char dir[PATH_MAX];
	size_t n = strlen(path), i;

	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	for (i = 1; i < n; i++) {
		if (dir[i] != '/')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		dir[i] = '/';
	}
	return 0;
}

/*
 * Does the file end inside a line (a writer died mid-write, or a cut-back
 * failed)? Our next line would be glued to it and unreadable.
 */
static bool
ends_torn(int fd)
{
	struct stat st;
	char c;

	return fstat(fd, &st) == 0 && st.st_size > 0 &&
	    pread(fd, &c, 1, st.st_size - 1) == 1 && c != '\n';
}

int
ew_audit_open_conf(
    struct ew_audit_conf *c, struct ev_loop *loop, struct ew_audit **out)
{
	struct ew_audit *a = NULL;
	int r;

	*out = NULL;
	c->why[0] = '\0';
	if (c->path == NULL) {
		snprintf(c->why, sizeof(c->why), "no audit log given");
		return -EINVAL;
	}
	if (c->full == EW_AUDIT_FULL_DENY && c->max_bytes == 0) {
		snprintf(c->why, sizeof(c->why),
		    "--audit-full deny needs --audit-max-bytes (a log without "
		    "a size limit is full only when its disk is)");
		return -EINVAL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		return -ENOMEM;
	}
	a->fd = -1;
	a->sync = c->sync;
	a->loop = loop;
	a->max_bytes = c->max_bytes;
	a->keep = c->keep;
	a->full = c->full;
	a->null = strcmp(c->path, "/dev/null") == 0;
	ev_timer_init(
	    &a->sync_w, ew_audit_on_sync, EW_AUDIT_BATCH_S, EW_AUDIT_BATCH_S);
	a->sync_w.data = a;
	if ((a->path = strdup(c->path)) == NULL ||
	    (a->line = ew_buf_new(EW_AUDIT_LINE_MAX)) == NULL) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	if (!a->null && (r = make_parents(c->path)) != 0) {
		snprintf(c->why, sizeof(c->why), "mkdir for %s: %s", c->path,
		    strerror(-r));
		goto fail;
	}
	if ((r = a->fd = ew_audit_file_open(c->path, c->why, sizeof(c->why))) <
	    0) {
		a->fd = -1;
		goto fail;
	}
	a->torn = !a->null && ends_torn(a->fd);
	/* seq goes on from the log's last record, across restarts. */
	a->seq = ew_audit_file_last_seq(a);
	/*
	 * Over RLIMIT_FSIZE a write must fail (EFBIG: deny, and say why)
	 * rather than kill the whole broker with SIGXFSZ.
	 */
	signal(SIGXFSZ, SIG_IGN);
	if (c->syslog) {
		/* Connect now, before any sandbox or chroot hides /dev/log. */
		openlog("execward", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
		a->syslog = true;
	}
	*out = a;
	return 0;
fail:
	ew_audit_close(a);
	return r;
}

int
ew_audit_open(const char *path, enum ew_audit_sync sync, struct ev_loop *loop,
    struct ew_audit **out)
{
	struct ew_audit_conf c;

	ew_audit_conf_init(&c);
	c.path = path;
	c.sync = sync;
	return ew_audit_open_conf(&c, loop, out);
}

const char *
ew_audit_strerror(const struct ew_audit *a, int r)
{
	if (r == -EW_AUDIT_E_FULL)
		return a != NULL && a->why[0] != '\0' ? a->why
						      : "the log is full";
	if (r <= -EW_E_BASE)
		return ew_err_str(r);
	return strerror(-r);
}

void
ew_audit_close(struct ew_audit *a)
{
	if (a == NULL)
		return;
	batch_disarm(a);
	if (a->fd >= 0 && a->dirty)
		(void)fdatasync(a->fd);
	if (a->fd >= 0)
		close(a->fd);
	if (a->syslog)
		closelog();
	ew_buf_free(a->line);
	free(a->path);
	free(a);
}

const char *
ew_audit_path(const struct ew_audit *a)
{
	return a->path;
}

enum ew_audit_sync
ew_audit_sync_mode(const struct ew_audit *a)
{
	return a->sync;
}

enum ew_audit_full
ew_audit_full_mode(const struct ew_audit *a)
{
	return a->full;
}

static int write_dropped(struct ew_audit *a, const struct ew_audit_gone *g);

/*
 * Rotate if a line of len bytes would take the file past max_bytes. 0; 1
 * when the new file starts with a dropped record (it took a->seq); or
 * -EW_AUDIT_E_FULL: the log is full and may not delete (the line is not
 * written).
 */
static int
maybe_rotate(struct ew_audit *a, size_t len)
{
	struct ew_audit_gone gone;
	struct stat st;
	int r;

	if (a->max_bytes == 0 || a->null || fstat(a->fd, &st) < 0 ||
	    st.st_size == 0 || (uint64_t)st.st_size + len <= a->max_bytes)
		return 0;
	if ((r = ew_audit_file_rotate(a, &gone)) == -EW_AUDIT_E_FULL) {
		if (!a->is_full)
			ew_log(
			    EW_LOG_ERROR, "audit log %s: %s", a->path, a->why);
		a->is_full = true;
		return r;
	}
	a->is_full = false;
	/* A failed rotation loses nothing: the line goes to the old file. */
	if (r != 0) {
		if (!a->rotate_failed)
			ew_log(EW_LOG_WARN, "audit log %s: rotate: %s", a->path,
			    a->why[0] != '\0' ? a->why : strerror(-r));
		a->rotate_failed = true;
		return 0;
	}
	a->rotate_failed = false;
	a->torn = ends_torn(a->fd);
	/*
	 * The new file starts by saying what the rotation deleted: no record
	 * goes without one that says so. If it cannot be written, neither
	 * can the line after it; that write reports the error.
	 */
	return gone.deleted && write_dropped(a, &gone) == 0 ? 1 : 0;
}

static const char *const decision_names[EW_AUDIT_NDECISIONS] = {
	[EW_AUDIT_ALLOW] = "allow",
	[EW_AUDIT_DENY] = "deny",
	[EW_AUDIT_ESCALATE] = "escalate",
	[EW_AUDIT_EXIT] = "exit",
	[EW_AUDIT_FAILED] = "failed",
	[EW_AUDIT_REFUSED] = "refused",
	[EW_AUDIT_DROPPED] = "dropped",
};

const char *
ew_audit_decision_name(enum ew_audit_decision d)
{
	return (unsigned)d < EW_AUDIT_NDECISIONS ? decision_names[d] : "?";
}

int
ew_audit_decision_parse(const char *s)
{
	int d;

	for (d = 0; d < EW_AUDIT_NDECISIONS; d++)
		if (strcmp(s, decision_names[d]) == 0)
			return d;
	return -EINVAL;
}

static void
put_matches(struct ew_json *j, const struct ew_policy_result *res)
{
	const struct ew_policy_match *m;
	char at[PATH_MAX + 32];
	size_t i;

	ew_json_arr_begin(j);
	for (i = 0; res != NULL && i < res->nmatches; i++) {
		m = &res->matches[i];
		ew_json_obj_begin(j);
		if (m->heuristics) {
			ew_json_kv_bool(j, "heuristics", true);
		} else {
			snprintf(at, sizeof(at), "%s:%u",
			    m->file != NULL ? m->file : "?", m->line);
			ew_json_kv_str(j, "rule", at);
		}
		ew_json_key(j, m->heuristics ? "command" : "pattern");
		ew_json_str_array(j, m->prefix, m->nprefix);
		ew_json_kv_str(
		    j, "decision", ew_policy_decision_str(m->decision));
		ew_json_kv_opt(j, "justification", m->justification);
		ew_json_kv_opt(j, "resolvedProgram", m->resolved_program);
		ew_json_obj_end(j);
	}
	ew_json_arr_end(j);
}

/*
 * argv, whole, or (cut) at most EW_AUDIT_SYSLOG_ARGS strings of at most
 * EW_AUDIT_SYSLOG_ARG_BYTES each, for syslog.
 */
static void
put_argv(struct ew_json *j, char *const *argv, size_t argc, bool cut)
{
	size_t i, n;

	ew_json_key(j, "argv");
	ew_json_arr_begin(j);
	for (i = 0; i < argc && (!cut || i < EW_AUDIT_SYSLOG_ARGS); i++) {
		n = strlen(argv[i]);
		if (cut && n > EW_AUDIT_SYSLOG_ARG_BYTES)
			n = ew_json_utf8_prefix(
			    argv[i], EW_AUDIT_SYSLOG_ARG_BYTES);
		ew_json_strn(j, argv[i], n);
	}
	ew_json_arr_end(j);
	if (cut) {
		ew_json_key(j, "argv_cut");
		ew_json_bool(j, true);
		ew_json_key(j, "argc");
		ew_json_uint(j, argc);
	}
}

/*
 * A record's first members into b (emptied): ts, seq and, for all but a
 * decision, its type (NULL: none).
 */
static void
record_begin(struct ew_audit *a, struct ew_json *j, struct ew_buf *b,
    const char *ts, const char *type)
{
	ew_buf_reset(b);
	ew_json_init(j, b);
	ew_json_obj_begin(j);
	ew_json_kv_str(j, "ts", ts);
	ew_json_kv_uint(j, "seq", a->seq);
	if (type != NULL)
		ew_json_kv_str(j, "type", type);
}

/* The record in a->line ends, with its newline: 0, or the JSON's error. */
static int
record_end(struct ew_audit *a, struct ew_json *j)
{
	ew_json_obj_end(j);
	if (ew_json_error(j) == 0)
		(void)ew_buf_put(a->line, "\n", 1);
	return ew_json_error(j);
}

/* Formats a record into a->line (cut: argv shortened, for syslog). */
typedef int (*format_fn)(
    struct ew_audit *a, const void *r, const char *ts, bool cut);

static int
format_record(struct ew_audit *a, const void *p, const char *ts, bool cut)
{
	const struct ew_audit_rec *r = p;
	struct ew_json j;

	record_begin(a, &j, a->line, ts, NULL);
	ew_json_kv_str(&j, "session", r->session);
	ew_json_kv_int(&j, "pid", r->pid);
	ew_json_kv_int(&j, "ppid", r->ppid);
	ew_json_kv_uint(&j, "uid", r->uid);
	ew_json_kv_str(&j, "cwd", r->cwd);
	ew_json_kv_opt(&j, "cwd_error", r->cwd_error);
	ew_json_kv_str(&j, "via", r->via);
	ew_json_kv_str(&j, "file", r->file);
	ew_json_kv_str(&j, "called", r->called);
	ew_json_kv_opt(&j, "real", r->real);
	put_argv(&j, r->argv, r->argc, cut);
	ew_json_kv_str(&j, "decision", ew_audit_decision_name(r->decision));
	ew_json_kv_str(&j, "source", r->source);
	ew_json_key(&j, "rules");
	put_matches(&j, r->res);
	ew_json_kv_str(&j, "justification", r->justification);
	ew_json_kv_str(&j, "reason", r->reason);
	ew_json_key(&j, "prompt");
	ew_json_obj_begin(&j);
	ew_json_kv_bool(&j, "asked", r->asked);
	ew_json_kv_str(&j, "answer", r->asked ? r->answer : NULL);
	ew_json_kv_uint(&j, "wait_ms", r->asked ? r->wait_ms : 0);
	ew_json_obj_end(&j);
	ew_json_kv_uint(&j, "latency_us", r->latency_us);
	ew_json_kv_opt(&j, "token", r->token);
	ew_json_kv_opt(&j, "sandbox", r->sandbox);
	ew_json_kv_opt(&j, "escalation", r->escalation);
	ew_json_kv_opt(&j, "backstop", r->backstop);
	ew_json_kv_opt(&j, "confined", r->confined);
	if (r->told)
		ew_json_kv_bool(&j, "told", true);
	ew_json_kv_opt(&j, "mismatch", r->mismatch);
	return record_end(a, &j);
}

static int
format_exit(struct ew_audit *a, const void *p, const char *ts, bool cut)
{
	const struct ew_audit_exit *x = p;
	struct ew_json j;

	record_begin(a, &j, a->line, ts, ew_audit_decision_name(EW_AUDIT_EXIT));
	ew_json_kv_str(&j, "session", x->session);
	ew_json_kv_int(&j, "pid", x->pid);
	ew_json_kv_uint(&j, "uid", x->uid);
	ew_json_kv_str(&j, "cwd", x->cwd);
	ew_json_kv_str(&j, "file", x->file);
	put_argv(&j, x->argv, x->argc, cut);
	ew_json_key(&j, "status");
	ew_json_obj_begin(&j);
	if (WIFSIGNALED(x->status))
		ew_json_kv_int(&j, "signal", WTERMSIG(x->status));
	else
		ew_json_kv_int(&j, "code",
		    WIFEXITED(x->status) ? WEXITSTATUS(x->status) : x->status);
	ew_json_obj_end(&j);
	ew_json_kv_uint(&j, "duration_us", x->duration_us);
	ew_json_kv_opt(&j, "token", x->token);
	return record_end(a, &j);
}

/* Why a write stopped short at offset end: the file size limit, or space. */
static int
stopped_why(off_t end)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    end >= 0 && (rlim_t)end >= rl.rlim_cur)
		return -EFBIG;
	return -ENOSPC;
}

/*
 * Append p[0..len) to the log with one write; see ew_audit_write. No
 * rotation here: the caller rotated first.
 */
static int
put_line(struct ew_audit *a, const unsigned char *p, size_t len)
{
	ssize_t n;
	off_t end;

	if (a->torn) {
		/* The half line stays, as evidence, on a line of its own. */
		if (write(a->fd, "\n", 1) != 1)
			return errno != 0 ? -errno : -ENOSPC;
		a->torn = false;
	}
	/*
	 * One write of the whole line to an O_APPEND fd: readers see whole
	 * lines. A short write (disk full, file size limit) is cut back so no
	 * torn line is left, and the record counts as not written.
	 */
	do
		n = write(a->fd, p, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len) {
		/* The kernel stopped short: out of space or over a limit. */
		if ((end = lseek(a->fd, 0, SEEK_CUR)) < n ||
		    ftruncate(a->fd, end - n) != 0)
			a->torn = true;
		return stopped_why(end);
	}
	if (a->sync == EW_AUDIT_SYNC_ALWAYS) {
		if (fdatasync(a->fd) < 0)
			return -errno;
	} else {
		a->dirty = true;
		if (a->sync == EW_AUDIT_SYNC_BATCH)
			batch_arm(a);
	}
	return 0;
}

/* The line just written, to syslog too: the same text, argv cut if big. */
static void
to_syslog(struct ew_audit *a, int prio, format_fn format, const void *r,
    const char *ts)
{
	if (ew_buf_len(a->line) - 1 > EW_AUDIT_SYSLOG_MAX &&
	    format(a, r, ts, true) != 0)
		return;
	syslog(prio, "%.*s", (int)(ew_buf_len(a->line) - 1),
	    (const char *)ew_buf_ptr(a->line));
}

/*
 * The record a rotation leaves in the new file: what it deleted. "total"
 * counts every record this log has lost so far (the deleted file's own
 * dropped record said how many went before it); it comes right after
 * "type", where ew_audit_file.c reads it back.
 */
static int
write_dropped(struct ew_audit *a, const struct ew_audit_gone *g)
{
	struct ew_buf *b;
	struct ew_json j;
	char ts[32];
	int r;

	if ((b = ew_buf_new(EW_AUDIT_SYSLOG_MAX)) == NULL)
		return -ENOMEM;
	ew_time_rfc3339(ts);
	record_begin(a, &j, b, ts, ew_audit_decision_name(EW_AUDIT_DROPPED));
	ew_json_key(&j, "total");
	if (g->read)
		ew_json_uint(&j, g->before + g->records);
	else
		ew_json_null(&j);
	ew_json_kv_str(&j, "file", g->name);
	ew_json_key(&j, "records");
	if (g->read) {
		ew_json_uint(&j, g->records);
		ew_json_kv_uint(&j, "first_seq", g->first_seq);
		ew_json_kv_uint(&j, "last_seq", g->last_seq);
		ew_json_kv_str(&j, "first_ts", g->first_ts);
		ew_json_kv_str(&j, "last_ts", g->last_ts);
		ew_json_kv_uint(&j, "bytes", g->bytes);
	} else {
		ew_json_null(&j);
		ew_json_kv_str(&j, "error", g->error);
	}
	ew_json_kv_str(&j, "reason",
	    a->keep == 0
		? "rotation: --audit-keep 0 deletes the full file"
		: "rotation: the oldest file kept (--audit-keep) was deleted");
	ew_json_kv_uint(&j, "max_bytes", a->max_bytes);
	ew_json_kv_uint(&j, "keep", a->keep);
	ew_json_obj_end(&j);
	if ((r = ew_json_error(&j)) == 0 && (r = ew_buf_put(b, "\n", 1)) == 0)
		r = put_line(a, ew_buf_ptr(b), ew_buf_len(b));
	if (r == 0 && a->syslog)
		syslog(LOG_WARNING, "%.*s", (int)(ew_buf_len(b) - 1),
		    (const char *)ew_buf_ptr(b));
	if (r != 0)
		ew_log(EW_LOG_ERROR,
		    "audit log %s: rotation deleted %s (%llu records, seq "
		    "%llu to %llu) and the record saying so could not be "
		    "written: %s",
		    a->path, g->name, (unsigned long long)g->records,
		    (unsigned long long)g->first_seq,
		    (unsigned long long)g->last_seq, ew_audit_strerror(a, r));
	ew_buf_free(b);
	return r;
}

/*
 * Format r with the next seq and append it, rotating first when the line
 * would take the file past its limit.
 */
static int
append_record(struct ew_audit *a, format_fn format, const void *r, char *ts)
{
	int rc;

	a->seq++;
	ew_time_rfc3339(ts);
	if (format(a, r, ts, false) != 0)
		return -E2BIG;
	if ((rc = maybe_rotate(a, ew_buf_len(a->line))) < 0)
		return rc;
	if (rc > 0) {
		/* The dropped record took that seq: this one follows it. */
		a->seq++;
		if (format(a, r, ts, false) != 0)
			return -E2BIG;
	}
	return put_line(a, ew_buf_ptr(a->line), ew_buf_len(a->line));
}

static int
format_refused(struct ew_audit *a, const void *p, const char *ts, bool cut)
{
	const struct ew_audit_refused *x = p;
	struct ew_json j;

	record_begin(
	    a, &j, a->line, ts, ew_audit_decision_name(EW_AUDIT_REFUSED));
	ew_json_kv_str(&j, "session", x->session);
	ew_json_kv_uint(&j, "uid", x->uid);
	ew_json_kv_int(&j, "pid", x->pid);
	ew_json_kv_uint(&j, "count", x->count);
	ew_json_kv_str(&j, "since", x->since);
	ew_json_kv_str(&j, "decision", ew_audit_decision_name(EW_AUDIT_DENY));
	ew_json_kv_str(&j, "reason", x->reason);
	return record_end(a, &j);
}

static int
format_failed(struct ew_audit *a, const void *p, const char *ts, bool cut)
{
	const struct ew_audit_failed *f = p;
	struct ew_json j;

	record_begin(
	    a, &j, a->line, ts, ew_audit_decision_name(EW_AUDIT_FAILED));
	ew_json_kv_str(&j, "session", f->session);
	ew_json_kv_int(&j, "pid", f->pid);
	ew_json_kv_uint(&j, "uid", f->uid);
	ew_json_kv_str(&j, "cwd", f->cwd);
	ew_json_kv_str(&j, "via", f->via);
	ew_json_kv_str(&j, "file", f->file);
	ew_json_kv_str(&j, "called", f->called);
	put_argv(&j, f->argv, f->argc, cut);
	ew_json_kv_uint(&j, "of", f->of);
	ew_json_kv_int(&j, "errno", f->err);
	ew_json_kv_str(&j, "error", strerror(f->err));
	return record_end(a, &j);
}

/* Append r as format formats it, and send it to syslog at prio too. */
static int
write_record(struct ew_audit *a, format_fn format, const void *r, int prio)
{
	char ts[32];
	int rc;

	if ((rc = append_record(a, format, r, ts)) != 0)
		return rc;
	if (a->syslog)
		to_syslog(a, prio, format, r, ts);
	return 0;
}

int
ew_audit_write(struct ew_audit *a, const struct ew_audit_rec *r)
{
	return write_record(a, format_record, r,
	    r->decision == EW_AUDIT_DENY           ? LOG_WARNING
		: r->decision == EW_AUDIT_ESCALATE ? LOG_NOTICE
						   : LOG_INFO);
}

int
ew_audit_write_exit(struct ew_audit *a, const struct ew_audit_exit *x)
{
	return write_record(a, format_exit, x, LOG_INFO);
}

int
ew_audit_write_failed(struct ew_audit *a, const struct ew_audit_failed *f)
{
	return write_record(a, format_failed, f, LOG_NOTICE);
}

int
ew_audit_write_refused(struct ew_audit *a, const struct ew_audit_refused *x)
{
	return write_record(a, format_refused, x, LOG_WARNING);
}

uint64_t
ew_audit_seq(const struct ew_audit *a)
{
	return a->seq;
}

void
ew_audit_timestamp(char out[32])
{
	ew_time_rfc3339(out);
}
