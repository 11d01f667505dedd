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

#include "ew_audit.h"
#include "ew_buf.h"
#include "ew_err.h"
#include "ew_json.h"
#include "ew_paths.h"
#include "ew_log.h"
#include "ew_policy.h"

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

struct ew_audit {
	int fd;
	char *path;
	uint64_t seq;
	enum ew_audit_sync sync;
	struct ev_loop *loop;
	ev_timer sync_w;
	bool dirty;
	bool sync_failed; /* said once until a sync works again */
	bool rotate_failed; /* said once until a rotation works again */
	uint64_t max_bytes;
	unsigned keep;
	bool syslog;
	bool torn; /* the file ends inside a line: end it before the next */
	struct ew_buf *line;
};

void
ew_audit_conf_init(struct ew_audit_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->sync = EW_AUDIT_SYNC_BATCH;
	c->keep = EW_AUDIT_KEEP_DEFAULT;
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

static int
open_log(const char *path)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
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
    const struct ew_audit_conf *c, struct ev_loop *loop, struct ew_audit **out)
{
	struct ew_audit *a = NULL;
	int r;

	*out = NULL;
	if (c->path == NULL)
		return -EINVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->fd = -1;
	a->sync = c->sync;
	a->loop = loop;
	a->max_bytes = c->max_bytes;
	a->keep = c->keep;
	ev_timer_init(
	    &a->sync_w, ew_audit_on_sync, EW_AUDIT_BATCH_S, EW_AUDIT_BATCH_S);
	a->sync_w.data = a;
	if ((a->path = strdup(c->path)) == NULL ||
	    (a->line = ew_buf_new(EW_AUDIT_LINE_MAX)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = make_parents(c->path)) != 0)
		goto fail;
	if ((r = a->fd = open_log(c->path)) < 0) {
		a->fd = -1;
		goto fail;
	}
	a->torn = ends_torn(a->fd);
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

/* Make renames in the log's folder durable. */
static void
sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/*
 * FILE.(keep-1) -> FILE.keep, ..., FILE -> FILE.1, then a new FILE. Every
 * line stays whole in exactly one file: a rename moves a whole file, and
 * the line about to be written goes to the new file only. Another writer
 * of the same log may have rotated it already: then FILE is not our file
 * any more, and we only reopen.
 */
static int
rotate(struct ew_audit *a)
{
	struct stat ours, named;
	char from[PATH_MAX], to[PATH_MAX];
	unsigned i;
	int fd;

	if (fstat(a->fd, &ours) < 0)
		return -errno;
	if (stat(a->path, &named) == 0 && named.st_dev == ours.st_dev &&
	    named.st_ino == ours.st_ino) {
		/* What the rotated file holds is on disk before it goes. */
		if (a->sync != EW_AUDIT_SYNC_NONE && fdatasync(a->fd) < 0)
			return -errno;
		if (a->keep == 0) {
			if (unlink(a->path) < 0 && errno != ENOENT)
				return -errno;
		} else {
			for (i = a->keep; i > 1; i--) {
				if (ew_audit_rotated_name(
					a->path, i - 1, from, sizeof(from)) ||
				    ew_audit_rotated_name(
					a->path, i, to, sizeof(to)))
					return -ENAMETOOLONG;
				if (rename(from, to) < 0 && errno != ENOENT)
					return -errno;
			}
			if (ew_audit_rotated_name(a->path, 1, to, sizeof(to)))
				return -ENAMETOOLONG;
			if (rename(a->path, to) < 0)
				return -errno;
		}
	}
	if ((fd = open_log(a->path)) < 0)
		return fd;
	close(a->fd);
	a->fd = fd;
	a->torn = ends_torn(fd);
	a->dirty = false;
	if (a->sync != EW_AUDIT_SYNC_NONE)
		sync_dir(a->path);
	return 0;
}

/* Rotate if a line of len bytes would take the file past max_bytes. */
static void
maybe_rotate(struct ew_audit *a, size_t len)
{
	struct stat st;
	int r;

	if (a->max_bytes == 0 || fstat(a->fd, &st) < 0 || st.st_size == 0 ||
	    (uint64_t)st.st_size + len <= a->max_bytes)
		return;
	/* A failed rotation loses nothing: the line goes to the old file. */
	if ((r = rotate(a)) != 0) {
		if (!a->rotate_failed)
			ew_log(EW_LOG_WARN, "audit log %s: rotate: %s", a->path,
			    strerror(-r));
		a->rotate_failed = true;
	} else
		a->rotate_failed = false;
}

static void
now_ts(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char buf[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(
	    out, 32, "%.20s.%06dZ", buf, (int)(ts.tv_nsec / 1000 % 1000000));
}

static const char *
decision_name(enum ew_policy_decision d)
{
	switch (d) {
	case EW_POLICY_ALLOW:
		return "allow";
	case EW_POLICY_PROMPT:
		return "prompt";
	case EW_POLICY_FORBIDDEN:
		return "forbidden";
	default:
		return "none";
	}
}

static void
put_matches(struct ew_json *j, const struct ew_policy_result *res)
{
	const struct ew_policy_match *m;
	char at[PATH_MAX + 32];
	size_t i, k;

	ew_json_arr_begin(j);
	for (i = 0; res != NULL && i < res->nmatches; i++) {
		m = &res->matches[i];
		ew_json_obj_begin(j);
		if (m->heuristics) {
			ew_json_key(j, "heuristics");
			ew_json_bool(j, true);
		} else {
			snprintf(at, sizeof(at), "%s:%u",
			    m->file != NULL ? m->file : "?", m->line);
			ew_json_key(j, "rule");
			ew_json_str(j, at);
		}
		ew_json_key(j, m->heuristics ? "command" : "pattern");
		ew_json_arr_begin(j);
		for (k = 0; k < m->nprefix; k++)
			ew_json_str(j, m->prefix[k]);
		ew_json_arr_end(j);
		ew_json_key(j, "decision");
		ew_json_str(j, decision_name(m->decision));
		if (m->justification != NULL) {
			ew_json_key(j, "justification");
			ew_json_str(j, m->justification);
		}
		if (m->resolved_program != NULL) {
			ew_json_key(j, "resolvedProgram");
			ew_json_str(j, m->resolved_program);
		}
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

static int
format_record(
    struct ew_audit *a, const struct ew_audit_rec *r, const char *ts, bool cut)
{
	struct ew_json j;

	ew_buf_reset(a->line);
	ew_json_init(&j, a->line);
	ew_json_obj_begin(&j);
	ew_json_key(&j, "ts");
	ew_json_str(&j, ts);
	ew_json_key(&j, "seq");
	ew_json_uint(&j, a->seq);
	ew_json_key(&j, "session");
	ew_json_str(&j, r->session);
	ew_json_key(&j, "pid");
	ew_json_int(&j, r->pid);
	ew_json_key(&j, "ppid");
	ew_json_int(&j, r->ppid);
	ew_json_key(&j, "uid");
	ew_json_uint(&j, r->uid);
	ew_json_key(&j, "cwd");
	ew_json_str(&j, r->cwd);
	if (r->cwd_error != NULL) {
		ew_json_key(&j, "cwd_error");
		ew_json_str(&j, r->cwd_error);
	}
	ew_json_key(&j, "via");
	ew_json_str(&j, r->via);
	ew_json_key(&j, "file");
	ew_json_str(&j, r->file);
	ew_json_key(&j, "called");
	ew_json_str(&j, r->called);
	if (r->real != NULL) {
		ew_json_key(&j, "real");
		ew_json_str(&j, r->real);
	}
	put_argv(&j, r->argv, r->argc, cut);
	ew_json_key(&j, "decision");
	ew_json_str(&j, r->decision);
	ew_json_key(&j, "source");
	ew_json_str(&j, r->source);
	ew_json_key(&j, "rules");
	put_matches(&j, r->res);
	ew_json_key(&j, "justification");
	ew_json_str(&j, r->justification);
	ew_json_key(&j, "reason");
	ew_json_str(&j, r->reason);
	ew_json_key(&j, "prompt");
	ew_json_obj_begin(&j);
	ew_json_key(&j, "asked");
	ew_json_bool(&j, r->asked);
	ew_json_key(&j, "answer");
	ew_json_str(&j, r->asked ? r->answer : NULL);
	ew_json_key(&j, "wait_ms");
	ew_json_uint(&j, r->asked ? r->wait_ms : 0);
	ew_json_obj_end(&j);
	ew_json_key(&j, "latency_us");
	ew_json_uint(&j, r->latency_us);
	if (r->token != NULL) {
		ew_json_key(&j, "token");
		ew_json_str(&j, r->token);
	}
	if (r->sandbox != NULL) {
		ew_json_key(&j, "sandbox");
		ew_json_str(&j, r->sandbox);
	}
	if (r->escalation != NULL) {
		ew_json_key(&j, "escalation");
		ew_json_str(&j, r->escalation);
	}
	if (r->confined != NULL) {
		ew_json_key(&j, "confined");
		ew_json_str(&j, r->confined);
	}
	ew_json_obj_end(&j);
	if (ew_json_error(&j) == 0)
		(void)ew_buf_put(a->line, "\n", 1);
	return ew_json_error(&j);
}

static int
format_exit(
    struct ew_audit *a, const struct ew_audit_exit *x, const char *ts, bool cut)
{
	struct ew_json j;

	ew_buf_reset(a->line);
	ew_json_init(&j, a->line);
	ew_json_obj_begin(&j);
	ew_json_key(&j, "ts");
	ew_json_str(&j, ts);
	ew_json_key(&j, "seq");
	ew_json_uint(&j, a->seq);
	ew_json_key(&j, "type");
	ew_json_str(&j, "exit");
	ew_json_key(&j, "session");
	ew_json_str(&j, x->session);
	ew_json_key(&j, "pid");
	ew_json_int(&j, x->pid);
	ew_json_key(&j, "uid");
	ew_json_uint(&j, x->uid);
	ew_json_key(&j, "cwd");
	ew_json_str(&j, x->cwd);
	ew_json_key(&j, "file");
	ew_json_str(&j, x->file);
	put_argv(&j, x->argv, x->argc, cut);
	ew_json_key(&j, "status");
	ew_json_obj_begin(&j);
	if (WIFSIGNALED(x->status)) {
		ew_json_key(&j, "signal");
		ew_json_int(&j, WTERMSIG(x->status));
	} else {
		ew_json_key(&j, "code");
		ew_json_int(&j,
		    WIFEXITED(x->status) ? WEXITSTATUS(x->status) : x->status);
	}
	ew_json_obj_end(&j);
	ew_json_key(&j, "duration_us");
	ew_json_uint(&j, x->duration_us);
	if (x->token != NULL) {
		ew_json_key(&j, "token");
		ew_json_str(&j, x->token);
	}
	ew_json_obj_end(&j);
	if (ew_json_error(&j) == 0)
		(void)ew_buf_put(a->line, "\n", 1);
	return ew_json_error(&j);
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

/* Append a->line to the log with one write; see ew_audit_write. */
static int
append_line(struct ew_audit *a)
{
	const unsigned char *p = ew_buf_ptr(a->line);
	size_t len = ew_buf_len(a->line);
	ssize_t n;
	off_t end;

	maybe_rotate(a, len);
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
to_syslog(struct ew_audit *a, int prio,
    int (*reformat)(struct ew_audit *a, const void *r, const char *ts),
    const void *r, const char *ts)
{
	if (ew_buf_len(a->line) - 1 > EW_AUDIT_SYSLOG_MAX &&
	    reformat(a, r, ts) != 0)
		return;
	syslog(prio, "%.*s", (int)(ew_buf_len(a->line) - 1),
	    (const char *)ew_buf_ptr(a->line));
}

static int
reformat_rec(struct ew_audit *a, const void *r, const char *ts)
{
	return format_record(a, r, ts, true);
}

static int
reformat_exit(struct ew_audit *a, const void *x, const char *ts)
{
	return format_exit(a, x, ts, true);
}

int
ew_audit_write(struct ew_audit *a, const struct ew_audit_rec *r)
{
	char ts[32];
	int rc;

	a->seq++;
	now_ts(ts);
	if (format_record(a, r, ts, false) != 0)
		return -E2BIG;
	if ((rc = append_line(a)) != 0)
		return rc;
	if (a->syslog)
		to_syslog(a,
		    strcmp(r->decision, "deny") == 0           ? LOG_WARNING
			: strcmp(r->decision, "escalate") == 0 ? LOG_NOTICE
							       : LOG_INFO,
		    reformat_rec, r, ts);
	return 0;
}

int
ew_audit_write_exit(struct ew_audit *a, const struct ew_audit_exit *x)
{
	char ts[32];
	int rc;

	a->seq++;
	now_ts(ts);
	if (format_exit(a, x, ts, false) != 0)
		return -E2BIG;
	if ((rc = append_line(a)) != 0)
		return rc;
	if (a->syslog)
		to_syslog(a, LOG_INFO, reformat_exit, x, ts);
	return 0;
}

/* --- failed starts ----------------------------------------------------- */

static int
format_failed(struct ew_audit *a, const struct ew_audit_failed *f,
    const char *ts, bool cut)
{
	struct ew_json j;

	ew_buf_reset(a->line);
	ew_json_init(&j, a->line);
	ew_json_obj_begin(&j);
	ew_json_key(&j, "ts");
	ew_json_str(&j, ts);
	ew_json_key(&j, "seq");
	ew_json_uint(&j, a->seq);
	ew_json_key(&j, "type");
	ew_json_str(&j, "failed");
	ew_json_key(&j, "session");
	ew_json_str(&j, f->session);
	ew_json_key(&j, "pid");
	ew_json_int(&j, f->pid);
	ew_json_key(&j, "uid");
	ew_json_uint(&j, f->uid);
	ew_json_key(&j, "cwd");
	ew_json_str(&j, f->cwd);
	ew_json_key(&j, "via");
	ew_json_str(&j, f->via);
	ew_json_key(&j, "file");
	ew_json_str(&j, f->file);
	ew_json_key(&j, "called");
	ew_json_str(&j, f->called);
	put_argv(&j, f->argv, f->argc, cut);
	ew_json_key(&j, "of");
	ew_json_uint(&j, f->of);
	ew_json_key(&j, "errno");
	ew_json_int(&j, f->err);
	ew_json_key(&j, "error");
	ew_json_str(&j, strerror(f->err));
	ew_json_obj_end(&j);
	if (ew_json_error(&j) == 0)
		(void)ew_buf_put(a->line, "\n", 1);
	return ew_json_error(&j);
}

static int
reformat_failed(struct ew_audit *a, const void *f, const char *ts)
{
	return format_failed(a, f, ts, true);
}

int
ew_audit_write_failed(struct ew_audit *a, const struct ew_audit_failed *f)
{
	char ts[32];
	int rc;

	a->seq++;
	now_ts(ts);
	if (format_failed(a, f, ts, false) != 0)
		return -E2BIG;
	if ((rc = append_line(a)) != 0)
		return rc;
	if (a->syslog)
		to_syslog(a, LOG_NOTICE, reformat_failed, f, ts);
	return 0;
}

uint64_t
ew_audit_seq(const struct ew_audit *a)
{
	return a->seq;
}
