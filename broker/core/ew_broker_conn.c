/*
 * Who may hold a connection: the uids the broker serves, each within its
 * share of the fds RLIMIT_NOFILE leaves after a reserve for the broker's
 * own work; everyone else is answered deny and closed at once, unread,
 * and counted in the audit log, one record per uid and reason a while.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_buf.h"
#include "ew_fd.h"
#include "ew_log.h"

/*
 * Fds kept for the broker itself, never given to connections: stdio, the
 * listeners, the event loop, the audit log and its rotation, syslog,
 * /proc reads, rules reloads, and an escalation's or an MCP call's pipes.
 */
#define EW_BROKER_FD_RESERVE 64
/*
 * Refusals of one uid for one reason make one record at once, then one
 * more (with the count) per this many seconds while they go on.
 */
#define EW_BROKER_REFUSAL_INTERVAL_S 10.0

static const char *const kind_reason[] = {
	[EW_REFUSED_UID] = "may not use this broker",
	[EW_REFUSED_CAP] = "has too many connections open",
	[EW_REFUSED_SILENT] = "connected and sent no question in time",
};

void
ew_broker_conn_init(struct ew_broker *br)
{
	struct rlimit rl;
	rlim_t n;

	if (br->conn_max != 0)
		return;
	n = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	    ? rl.rlim_cur
	    : 1024;
	/* A tiny limit still leaves some connections (and less reserve). */
	br->conn_max = n > 2 * EW_BROKER_FD_RESERVE
	    ? (size_t)n - EW_BROKER_FD_RESERVE
	    : (size_t)n / 2;
	if (br->conn_max == 0)
		br->conn_max = 1;
	/*
	 * Each served uid gets an equal share, so that no uid can take the
	 * fds another needs to get an answer.
	 */
	br->uid_conn_max = br->conn_max / (1 + br->nallow_uids);
	if (br->uid_conn_max == 0)
		br->uid_conn_max = 1;
	memset(br->uid_conns, 0, sizeof(br->uid_conns));
}

/* The slot of a uid the broker serves, or -1. */
static int
uid_slot(const struct ew_broker *br, uid_t uid)
{
	size_t i;

	if (uid == br->uid)
		return 0;
	for (i = 0; i < br->nallow_uids && i < EW_BROKER_ALLOW_UIDS_MAX; i++)
		if (br->allow_uids[i] == uid)
			return (int)i + 1;
	return -1;
}

static void
write_refusal(struct ew_broker *br, struct ew_refusal *f)
{
	struct ew_audit_refused x;
	char reason[128];
	int r;

	snprintf(reason, sizeof(reason), "uid %u %s", (unsigned)f->uid,
	    kind_reason[f->kind]);
	memset(&x, 0, sizeof(x));
	x.session = f->session;
	x.uid = f->uid;
	x.pid = f->pid;
	x.count = f->count;
	x.since = f->since;
	x.reason = reason;
	if (br->audit != NULL && (r = ew_audit_write_refused(br->audit, &x)))
		ew_log(EW_LOG_ERROR,
		    "audit log %s: %s: %llu refusals of uid "
		    "%u not recorded",
		    ew_audit_path(br->audit), ew_audit_strerror(br->audit, r),
		    (unsigned long long)f->count, (unsigned)f->uid);
	f->count = 0;
}

/* Write the counts that are due (all of them with force, or session's). */
static void
flush(struct ew_broker *br, const struct ew_session *only, bool force)
{
	ev_tstamp now = ev_now(br->loop), next = 0;
	size_t i;

	for (i = 0; i < EW_BROKER_REFUSALS_MAX; i++) {
		struct ew_refusal *f = &br->refusals[i];

		if (!f->used || (only != NULL && f->session != only->id))
			continue;
		if (f->count > 0 && (force || now >= f->window_end)) {
			write_refusal(br, f);
			f->window_end = now + EW_BROKER_REFUSAL_INTERVAL_S;
		} else if (f->count == 0 && (force || now >= f->window_end)) {
			/* A quiet window: the next refusal is recorded at once.
			 */
			f->used = false;
			continue;
		}
		if (next == 0 || f->window_end < next)
			next = f->window_end;
	}
	if (ev_is_active(&br->refusal_w)) {
		ev_ref(br->loop);
		ev_timer_stop(br->loop, &br->refusal_w);
	}
	if (next != 0) {
		ev_timer_set(&br->refusal_w, next - now + 0.001, 0.);
		ev_timer_start(br->loop, &br->refusal_w);
		/* Counting refusals alone keeps nothing running. */
		ev_unref(br->loop);
	}
}

static void
ew_broker_on_refusal_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* libev stopped it: take back the reference flush gave away. */
	ev_ref(loop);
	flush(w->data, NULL, false);
}

void
ew_broker_conn_note(
    struct ew_session *s, uid_t uid, pid_t pid, enum ew_refused kind)
{
	struct ew_broker *br = s->br;
	struct ew_refusal *f = NULL, *spare = NULL;
	size_t i;

	if (!br->refusal_init) {
		ev_timer_init(
		    &br->refusal_w, ew_broker_on_refusal_timer, 1., 0.);
		br->refusal_w.data = br;
		br->refusal_init = true;
	}
	for (i = 0; i < EW_BROKER_REFUSALS_MAX; i++) {
		struct ew_refusal *e = &br->refusals[i];

		if (e->used && e->uid == uid && e->kind == kind &&
		    e->session == s->id) {
			f = e;
			break;
		}
		if (!e->used && spare == NULL)
			spare = e;
	}
	if (f == NULL) {
		if (spare == NULL) {
			/*
			 * More uids refused at once than there are slots: the
			 * first slot's count is written now to make room.
			 */
			spare = &br->refusals[0];
			if (spare->count > 0)
				write_refusal(br, spare);
		}
		f = spare;
		memset(f, 0, sizeof(*f));
		f->used = true;
		f->uid = uid;
		f->kind = kind;
		f->session = s->id;
		ew_audit_timestamp(f->since);
		/* The first one of a window is recorded at once. */
		f->pid = pid;
		f->count = 1;
		ew_log(EW_LOG_WARN, "refused pid %d: uid %u %s", (int)pid,
		    (unsigned)uid, kind_reason[kind]);
		write_refusal(br, f);
		f->window_end = ev_now(br->loop) + EW_BROKER_REFUSAL_INTERVAL_S;
		flush(br, NULL, false);
		return;
	}
	if (f->count == 0)
		ew_audit_timestamp(f->since);
	f->count++;
	f->pid = pid;
}

/* Answer deny on fd without reading it (best effort), then close it. */
static void
refuse(int fd, const char *reason)
{
	unsigned char mem[EW_PROTO_REASON_MAX + 128];
	struct ew_buf b;

	ew_buf_init(&b, mem, sizeof(mem));
	/* fd is non-blocking: a full peer costs us nothing. */
	if (ew_proto_put_answer(&b, EW_VERDICT_DENY, reason, NULL) == 0)
		(void)ew_proto_send(fd, &b, NULL, 0);
	close(fd);
}

int
ew_broker_conn_admit(struct ew_session *s, int fd, pid_t pid, uid_t uid)
{
	struct ew_broker *br = s->br;
	char reason[EW_PROTO_REASON_MAX];
	enum ew_refused kind;
	int slot;

	ew_broker_conn_init(br);
	/*
	 * A uid over its share is refused: waiting would hold up the other
	 * uids' connections behind its own in the backlog. (All of them at
	 * their shares, accept_some leaves the backlog waiting instead.)
	 */
	if ((slot = uid_slot(br, uid)) < 0)
		kind = EW_REFUSED_UID;
	else if ((br->uid_conns[slot] >= br->uid_conn_max &&
		     br->nallow_uids > 0) ||
	    br->conns >= br->conn_max)
		kind = EW_REFUSED_CAP;
	else {
		br->uid_conns[slot]++;
		br->conns++;
		return slot;
	}
	snprintf(reason, sizeof(reason), "uid %u %s", (unsigned)uid,
	    kind_reason[kind]);
	refuse(fd, reason);
	ew_broker_conn_note(s, uid, pid, kind);
	return -1;
}

void
ew_broker_conn_release(struct ew_broker *br, int slot)
{
	if (slot < 0 || slot > (int)EW_BROKER_ALLOW_UIDS_MAX)
		return;
	if (br->uid_conns[slot] > 0)
		br->uid_conns[slot]--;
	if (br->conns > 0)
		br->conns--;
}

void
ew_broker_conn_flush(struct ew_session *s)
{
	if (s->br != NULL && s->br->refusal_init)
		flush(s->br, s, true);
}
