/* The audit log writer: JSON Lines, written before the answer is sent. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "ew_audit.h"
#include "ew_buf.h"
#include "ew_err.h"
#include "ew_json.h"
#include "ew_policy.h"

/* A record holds argv whole: room for the largest legal request. */
#define EW_AUDIT_LINE_MAX (64u * 1024 * 1024)
/* Batch mode syncs at least this often while records are pending. */
#define EW_AUDIT_BATCH_S 0.1

struct ew_audit {
	int fd;
	char *path;
	uint64_t seq;
	enum ew_audit_sync sync;
	struct ev_loop *loop;
	ev_timer sync_w;
	bool dirty;
	struct ew_buf *line;
};

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

static void
ew_audit_on_sync(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_audit *a = w->data;

	if (a->dirty) {
		(void)fdatasync(a->fd);
		a->dirty = false;
	}
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

int
ew_audit_open(const char *path, enum ew_audit_sync sync, struct ev_loop *loop,
    struct ew_audit **out)
{
	struct ew_audit *a = NULL;
	int r;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->fd = -1;
	a->sync = sync;
	a->loop = loop;
	if ((a->path = strdup(path)) == NULL ||
	    (a->line = ew_buf_new(EW_AUDIT_LINE_MAX)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = make_parents(path)) != 0)
		goto fail;
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (sync == EW_AUDIT_SYNC_BATCH && loop != NULL) {
		ev_timer_init(&a->sync_w, ew_audit_on_sync, EW_AUDIT_BATCH_S,
		    EW_AUDIT_BATCH_S);
		a->sync_w.data = a;
		ev_timer_start(loop, &a->sync_w);
		ev_unref(loop); /* the sync timer alone keeps nothing alive */
	}
	*out = a;
	return 0;
fail:
	ew_audit_close(a);
	return r;
}

void
ew_audit_close(struct ew_audit *a)
{
	if (a == NULL)
		return;
	if (a->sync == EW_AUDIT_SYNC_BATCH && a->loop != NULL &&
	    ev_is_active(&a->sync_w)) {
		ev_ref(a->loop);
		ev_timer_stop(a->loop, &a->sync_w);
	}
	if (a->fd >= 0 && a->dirty)
		(void)fdatasync(a->fd);
	if (a->fd >= 0)
		close(a->fd);
	ew_buf_free(a->line);
	free(a->path);
	free(a);
}

const char *
ew_audit_path(const struct ew_audit *a)
{
	return a->path;
}

static void
put_ts(struct ew_json *j)
{
	struct timespec ts;
	struct tm tm;
	char buf[32], out[48];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, sizeof(out), "%.20s.%06dZ", buf,
	    (int)(ts.tv_nsec / 1000 % 1000000));
	ew_json_str(j, out);
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

static int
format_record(struct ew_audit *a, const struct ew_audit_rec *r)
{
	struct ew_json j;
	size_t i;

	ew_buf_reset(a->line);
	ew_json_init(&j, a->line);
	ew_json_obj_begin(&j);
	ew_json_key(&j, "ts");
	put_ts(&j);
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
	ew_json_key(&j, "via");
	ew_json_str(&j, r->via);
	ew_json_key(&j, "file");
	ew_json_str(&j, r->file);
	ew_json_key(&j, "called");
	ew_json_str(&j, r->called);
	ew_json_key(&j, "argv");
	ew_json_arr_begin(&j);
	for (i = 0; i < r->argc; i++)
		ew_json_str(&j, r->argv[i]);
	ew_json_arr_end(&j);
	ew_json_key(&j, "decision");
	ew_json_str(&j, r->decision);
	ew_json_key(&j, "source");
	ew_json_str(&j, r->source);
	ew_json_key(&j, "rules");
	put_matches(&j, r->res);
	ew_json_key(&j, "justification");
	ew_json_str(&j, r->justification);
	if (r->reason != NULL) {
		ew_json_key(&j, "reason");
		ew_json_str(&j, r->reason);
	}
	ew_json_key(&j, "prompt");
	ew_json_obj_begin(&j);
	ew_json_key(&j, "asked");
	ew_json_bool(&j, r->asked);
	if (r->asked) {
		ew_json_key(&j, "answer");
		ew_json_str(&j, r->answer);
		ew_json_key(&j, "wait_ms");
		ew_json_uint(&j, r->wait_ms);
	}
	ew_json_obj_end(&j);
	ew_json_key(&j, "latency_us");
	ew_json_uint(&j, r->latency_us);
	ew_json_obj_end(&j);
	if (ew_json_error(&j) == 0)
		(void)ew_buf_put(a->line, "\n", 1);
	return ew_json_error(&j);
}

int
ew_audit_write(struct ew_audit *a, const struct ew_audit_rec *r)
{
	const unsigned char *p;
	size_t len;
	ssize_t n;
	off_t end;

	a->seq++;
	if (format_record(a, r) != 0)
		return -E2BIG;
	p = ew_buf_ptr(a->line);
	len = ew_buf_len(a->line);
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
		if ((end = lseek(a->fd, 0, SEEK_CUR)) >= n)
			(void)ftruncate(a->fd, end - n);
		return -ENOSPC;
	}
	if (a->sync == EW_AUDIT_SYNC_ALWAYS) {
		if (fdatasync(a->fd) < 0)
			return -errno;
	} else
		a->dirty = true;
	return 0;
}
