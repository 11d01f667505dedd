/*
 * The broker's event loop side: the listeners, and each client's
 * connection as an explicit state machine (in the manner of OpenSSH's
 * monitor): a client is in one state at a time, a table says which
 * messages each state permits and what its timer does, and a message the
 * state does not permit closes the connection. Handlers return the state
 * to enter; ew_broker_client_enter is the one place a client changes
 * state (and the only place one is freed).
 *
 *   role SHIM:    AWAITING -ASK-> ASKED [-> PROMPTING] [-> OUTER]
 *                   -> ANSWERED (allowed: a FAILED, or the hang-up of a
 *                      start that worked) -> CLOSED
 *                   -> CLOSED (denied, or told to escalate)
 *                 AWAITING -TOLD-> ASKED (recorded, nothing answered)
 *                   -> ANSWERED -> CLOSED
 *   role HELPER:  AWAITING -ESCALATE-> HANDOVER -> RUNNING (its SIGNALs,
 *                      until the program ends or the helper hangs up)
 *                      -> CLOSED
 *   role LOCAL:   the broker's own question: ASKED [-> PROMPTING]
 *                   [-> OUTER] -> CLOSED (its done callback told)
 *   role KERNEL:  a start the kernel backstop trapped (broker/backstop/),
 *                   as LOCAL
 *   a BACKSTOP:   AWAITING -BACKSTOP-> CLOSED (`execward launch` hands
 *                   over its tree's listener: br->backstop answers)
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_snap.h"
#include "ew_sock.h"
#include "ew_time.h"

/*
 * A client must send its question within this time after it is accepted:
 * the shim sends it in the same breath as it connects, so only a client
 * holding a connection for nothing waits this long (and is then closed,
 * counted as refused).
 */
#define EW_BROKER_ASK_DEADLINE_S 3.0
/*
 * How long an answered client may take to start its program and say how
 * it went. A start that takes longer (a process stopped between answer
 * and exec) is taken as started: the connection is dropped, and a FAILED
 * after that is lost.
 */
#define EW_BROKER_LINGER_S 60.0
/*
 * Connections taken per wake-up of the listener: the rest wait for the
 * next round of the loop, so a flood of connections cannot keep the
 * clients already connected (and timers, signals) from being served.
 */
#define EW_BROKER_ACCEPT_BATCH 64
/* After accept fails for lack of fds, wait this long before trying again. */
#define EW_BROKER_ACCEPT_PAUSE_S 0.1
/* A receive buffer grown past this is freed after use. */
#define EW_BROKER_RBUF_KEEP (256 * 1024)
/*
 * The largest message a client sends after its first (a FAILED is 12
 * bytes, a SIGNAL 12): anything larger is none of them.
 */
#define EW_BROKER_SMALL_MSG_MAX 64
/*
 * A connection with no first message this long after it was accepted is
 * no longer read before later ones (read_early): a shim sends in the same
 * breath as it connects, so only a slow or silent client is this late,
 * and a flood of silent ones must not make every accept read them all.
 */
#define EW_BROKER_EARLY_S 0.05
/*
 * At most this many of them, the latest: a TOLD's message follows its
 * connect within microseconds, long before the program it starts can
 * connect, so only the last few accepted can hold one not yet read.
 */
#define EW_BROKER_EARLY_MAX 16
/*
 * While TOLDs come, the tell socket is taken from this often instead of
 * watched (proto/ew_snap.h): a burst of starts costs the broker a wake-up
 * per poll, not one per start (on a VM, the wake-up of an idle vCPU was
 * most of what a told start cost), and a TOLD waits at most this long in
 * the kernel to be recorded (or to be lost with a broker killed).
 */
#define EW_BROKER_TELL_POLL_S 0.02
/*
 * A told connection still open this long after it was taken (its process
 * stopped between TOLD and exec) is watched like any other, so the polls
 * can stop.
 */
#define EW_BROKER_TELL_WATCH_S 0.5
/*
 * A kept tell connection (a process's posix_spawn, system and popen tell
 * on one connection, proto/ew_snap.h) may hold this many TOLDs by a
 * poll: its socket buffer holds a few hundred. Read at most this many of
 * one connection's at a time.
 */
#define EW_BROKER_TELL_BATCH 1024
/* The fds an ESCALATE hands over: the helper's 0, 1 and 2. */
#define EW_BROKER_ESCALATE_FDS 3

/* What a state's timer does. */
enum timer_kind {
	TIMER_NONE,
	TIMER_DEADLINE, /* no question in time: closed, counted as refused */
	TIMER_HEARTBEAT, /* tell the waiting shim we are alive */
	TIMER_LINGER, /* no FAILED in time: the start is taken as done */
};

/*
 * A message a state permits, and its handler: it returns the state to
 * enter. b holds the message after its header; fds came with it (only an
 * AWAITING client may send any).
 */
typedef enum ew_client_state (*msg_fn)(
    struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds);

static enum ew_client_state
on_ask(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds);
static enum ew_client_state
on_escalate(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds);
static enum ew_client_state
on_told(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds);
static enum ew_client_state
on_failed(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds);
static enum ew_client_state
on_signal(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds);
static enum ew_client_state
on_backstop(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds);

static const struct {
	enum ew_client_state state;
	uint32_t type;
	msg_fn fn;
} permitted[] = {
	{ EW_CLIENT_AWAITING, EW_MSG_ASK, on_ask },
	{ EW_CLIENT_AWAITING, EW_MSG_ESCALATE, on_escalate },
	{ EW_CLIENT_AWAITING, EW_MSG_BACKSTOP, on_backstop },
	{ EW_CLIENT_AWAITING, EW_MSG_TOLD, on_told },
	{ EW_CLIENT_ANSWERED, EW_MSG_FAILED, on_failed },
	/* A kept tell connection's next start (dispatch: tell only). */
	{ EW_CLIENT_ANSWERED, EW_MSG_TOLD, on_told },
	{ EW_CLIENT_IDLE, EW_MSG_TOLD, on_told },
	{ EW_CLIENT_RUNNING, EW_MSG_SIGNAL, on_signal },
};

#define NPERMITTED (sizeof(permitted) / sizeof(permitted[0]))

/*
 * Each state: its timer, and how a broken message (or one the state does
 * not permit) is logged. (An AWAITING client is answered deny besides:
 * its shim waits for an answer.)
 */
static const struct {
	enum timer_kind timer;
	enum ew_log_level level;
	const char *what; /* "pid %d<what>: <error>" */
} states[EW_CLIENT_NSTATES] = {
	[EW_CLIENT_AWAITING] = { TIMER_DEADLINE, EW_LOG_WARN, "" },
	[EW_CLIENT_ASKED] = { TIMER_NONE, EW_LOG_DEBUG, "" },
	[EW_CLIENT_OUTER] = { TIMER_HEARTBEAT, EW_LOG_DEBUG, "" },
	[EW_CLIENT_PROMPTING] = { TIMER_HEARTBEAT, EW_LOG_DEBUG, "" },
	[EW_CLIENT_ANSWERED] = { TIMER_LINGER, EW_LOG_DEBUG,
	    " after its answer" },
	[EW_CLIENT_IDLE] = { TIMER_NONE, EW_LOG_DEBUG, " between its starts" },
	[EW_CLIENT_HANDOVER] = { TIMER_NONE, EW_LOG_DEBUG, "" },
	[EW_CLIENT_RUNNING] = { TIMER_NONE, EW_LOG_WARN, ": escalation" },
	[EW_CLIENT_CLOSED] = { TIMER_NONE, EW_LOG_DEBUG, "" },
};

/* A shim's or a helper's client: not the broker's own, nor the kernel's. */
static bool
has_connection(const struct ew_client *c)
{
	return c->role == EW_CLIENT_SHIM || c->role == EW_CLIENT_HELPER;
}

/* The handler of type in state, or NULL when the state does not permit it. */
static msg_fn
permit(enum ew_client_state state, uint32_t type)
{
	size_t i;

	for (i = 0; i < NPERMITTED; i++)
		if (permitted[i].state == state && permitted[i].type == type)
			return permitted[i].fn;
	return NULL;
}

/*
 * Does state read its input at all? One that permits no message closes
 * on any input, a hang-up included, unread.
 */
static bool
reads(enum ew_client_state state)
{
	size_t i;

	for (i = 0; i < NPERMITTED; i++)
		if (permitted[i].state == state)
			return true;
	return false;
}

static void
ew_broker_on_client_read(struct ev_loop *loop, ev_io *w, int revents);
static void
ew_broker_on_client_timer(struct ev_loop *loop, ev_timer *w, int revents);

static void
client_link(struct ew_session *s, struct ew_client *c)
{
	c->next = s->clients;
	if (s->clients != NULL)
		s->clients->prev = c;
	s->clients = c;
	s->nclients++;
}

static void early_remove(struct ew_client *c);

/* c was accepted before its first message came: it is read first. */
static void
early_add(struct ew_client *c)
{
	struct ew_session *s = c->sess;

	if (s->nearly >= EW_BROKER_EARLY_MAX)
		early_remove(s->early_head);
	c->early = true;
	c->early_next = NULL;
	c->early_prev = s->early_tail;
	if (s->early_tail != NULL)
		s->early_tail->early_next = c;
	else
		s->early_head = c;
	s->early_tail = c;
	s->nearly++;
}

static void
early_remove(struct ew_client *c)
{
	struct ew_session *s = c->sess;

	if (!c->early)
		return;
	if (c->early_prev != NULL)
		c->early_prev->early_next = c->early_next;
	else
		s->early_head = c->early_next;
	if (c->early_next != NULL)
		c->early_next->early_prev = c->early_prev;
	else
		s->early_tail = c->early_prev;
	c->early = false;
	c->early_prev = c->early_next = NULL;
	s->nearly--;
}

/* Close and free c, which was in state was; what it waited for goes. */
static void
client_free(struct ew_client *c, enum ew_client_state was)
{
	struct ew_session *s = c->sess;
	struct ev_loop *loop = s->br->loop;

	if (was == EW_CLIENT_PROMPTING && s->prompt != NULL)
		s->prompt->cancel(s->prompt_ctx, c);
	if (c->esc != NULL) {
		ew_escalate_detach(c->esc);
		c->esc = NULL;
	}
	if (c->chain != NULL)
		ew_chain_client_gone(c);
	early_remove(c);
	if (has_connection(c)) {
		ev_io_stop(loop, &c->io);
		c->fd = ew_fd_close(c->fd);
		ew_broker_conn_release(s->br, c->slot);
	}
	ev_timer_stop(loop, &c->timer);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (s->clients == c)
		s->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nclients--;
	ew_msg_ask_free(c->ask);
	ew_policy_result_free(c->res);
	free(c);
}

void
ew_broker_client_free(struct ew_client *c)
{
	if (c != NULL)
		ew_broker_client_enter(c, EW_CLIENT_CLOSED);
}

/* Send an ANSWER on c's connection (best effort: the shim may be gone). */
static void
send_answer(struct ew_client *c, uint32_t verdict, const char *reason)
{
	unsigned char mem[EW_PROTO_REASON_MAX + 128];
	struct ew_buf b;
	int r;

	ew_buf_init(&b, mem, sizeof(mem));
	if ((r = ew_proto_put_answer(&b, verdict, reason,
		 verdict == EW_VERDICT_ESCALATE ? c->token : NULL)) != 0 ||
	    (r = ew_proto_send(c->fd, &b, NULL, 0)) != 0)
		ew_log(EW_LOG_DEBUG, "answer pid %d: %s", (int)c->peer_pid,
		    ew_err_str(r));
}

/*
 * A shim's question is decided: answer it, then wait for how an allowed
 * start went (a FAILED, or the hang-up of a start that worked).
 */
static enum ew_client_state
shim_decided(struct ew_client *c, uint32_t verdict, const char *reason)
{
	send_answer(c, verdict, reason);
	return verdict == EW_VERDICT_ALLOW ? EW_CLIENT_ANSWERED
					   : EW_CLIENT_CLOSED;
}

/*
 * A TOLD is recorded: nothing is sent (the shim did not wait); its
 * FAILED, or the hang-up of a start that worked, comes next.
 */
static enum ew_client_state
told_decided(struct ew_client *c, uint32_t verdict, const char *reason)
{
	return verdict == EW_VERDICT_ALLOW ? EW_CLIENT_ANSWERED
					   : EW_CLIENT_CLOSED;
}

/* Tell the shim we are alive (its EXECWARD_TIMEOUT starts again). */
static void
send_heartbeat(struct ew_client *c)
{
	unsigned char mem[16];
	struct ew_buf b;

	ew_buf_init(&b, mem, sizeof(mem));
	if (ew_proto_put_heartbeat(&b) == 0)
		(void)ew_proto_send(c->fd, &b, NULL, 0);
}

void
ew_broker_client_enter(struct ew_client *c, enum ew_client_state next)
{
	struct ew_session *s = c->sess;
	struct ev_loop *loop = s->br->loop;

	enum ew_client_state was = c->state;

	assert(next < EW_CLIENT_NSTATES);
	ev_timer_stop(loop, &c->timer);
	c->state = next;
	if (next != EW_CLIENT_AWAITING)
		early_remove(c);
	if (next == EW_CLIENT_CLOSED) {
		client_free(c, was);
		return;
	}
	if (next == EW_CLIENT_ANSWERED) {
		/* The decision is recorded: only the ask is needed from now. */
		ew_policy_result_free(c->res);
		c->res = NULL;
	}
	if (has_connection(c)) {
		switch (states[next].timer) {
		case TIMER_DEADLINE:
			ev_timer_set(&c->timer, EW_BROKER_ASK_DEADLINE_S, 0.);
			ev_timer_start(loop, &c->timer);
			break;
		case TIMER_HEARTBEAT:
			ev_timer_set(&c->timer, EW_PROTO_HEARTBEAT_S,
			    EW_PROTO_HEARTBEAT_S);
			ev_timer_start(loop, &c->timer);
			break;
		case TIMER_LINGER:
			/*
			 * Not a tell connection: one kept by a process tells
			 * again on it, and closing it here could drop a TOLD
			 * sent meanwhile. It ends with its process (or exec).
			 */
			if (c->tell)
				break;
			ev_timer_set(&c->timer, EW_BROKER_LINGER_S, 0.);
			ev_timer_start(loop, &c->timer);
			break;
		case TIMER_NONE:
			break;
		}
	}
	/*
	 * Entering PROMPTING asks the session's prompter, last: it may
	 * answer at once, and c may be gone when it returns.
	 */
	if (next == EW_CLIENT_PROMPTING) {
		c->t_prompt_us = ew_time_mono_us();
		s->prompt->ask(s->prompt_ctx, c);
	}
}

/* A broken message where a shim waits: answer deny, then close. */
static enum ew_client_state
protocol_error(struct ew_client *c, const char *stage, int r)
{
	char reason[256];

	snprintf(reason, sizeof(reason), "protocol error (%s): %s", stage,
	    ew_err_str(r));
	ew_log(EW_LOG_WARN, "pid %d: %s", (int)c->peer_pid, reason);
	send_answer(c, EW_VERDICT_DENY, reason);
	return EW_CLIENT_CLOSED;
}

/* Has the peer of fd closed its end (nothing more to read, ever)? */
static bool
peer_gone(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* AWAITING, ASK: a shim's question, to be decided. */
static enum ew_client_state
on_ask(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds)
{
	int r;

	if ((r = ew_proto_get_ask(b, &c->ask)) != 0)
		return protocol_error(c, "parse", r);
	c->t_start_us = ew_time_mono_us();
	ew_broker_client_enter(c, EW_CLIENT_ASKED);
	/*
	 * The asker hung up after asking: it gave up waiting (we were held
	 * up past its EXECWARD_TIMEOUT) and failed closed. Its question is
	 * recorded as the deny it was, not decided into an allow that
	 * nothing ran on.
	 */
	if (peer_gone(c->fd))
		return ew_broker_finish(c, EW_VERDICT_DENY, "fallback",
		    "the asker gave up waiting for the answer "
		    "(EXECWARD_TIMEOUT)",
		    EW_ANSWER_NONE, false);
	/* Keep watching: a hang-up while a person is asked cancels it. */
	return ew_broker_answer_ask(c);
}

/*
 * A kept tell connection's next TOLD: the start before it is done with
 * (it started, or its FAILED came); what was kept of it goes.
 */
static void
next_start(struct ew_client *c)
{
	if (c->chain != NULL)
		ew_chain_client_gone(c);
	c->chain_done = false;
	ew_msg_ask_free(c->ask);
	c->ask = NULL;
	ew_policy_result_free(c->res);
	c->res = NULL;
	memset(&c->exe, 0, sizeof(c->exe));
	c->ruled_called = c->ruled_real = false;
	c->audit_seq = 0;
	c->backstop_seen = false;
	c->told_gen = 0;
	c->mismatch = NULL;
	c->token[0] = '\0';
}

/*
 * AWAITING (or a kept connection's ANSWERED, IDLE), TOLD: a program the shim
 * started on the snapshot's word; evaluated and recorded as an ASK would be
 * (the asker did not wait, so its hang-up now is the exec that worked, not a
 * give-up).
 */
static enum ew_client_state
on_told(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds)
{
	int r;

	if (c->state != EW_CLIENT_AWAITING)
		next_start(c);
	if ((r = ew_proto_get_told(b, &c->ask, &c->told_gen)) != 0) {
		ew_log(EW_LOG_WARN, "pid %d: a bad TOLD: %s", (int)c->peer_pid,
		    ew_err_str(r));
		return EW_CLIENT_CLOSED;
	}
	c->told = true;
	c->done = told_decided;
	c->t_start_us = ew_time_mono_us();
	ew_broker_client_enter(c, EW_CLIENT_ASKED);
	return ew_broker_answer_told(c);
}

/* The helper's program ended and its EXIT went out: c is done with. */
static void
helper_gone(void *ctx)
{
	struct ew_client *c = ctx;

	c->esc = NULL;
	ew_broker_client_enter(c, EW_CLIENT_CLOSED);
}

/*
 * AWAITING, ESCALATE: execward-escalate hands over its token and fds
 * 0-2; the escalation layer redeems it and runs the program.
 */
static enum ew_client_state
on_escalate(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds)
{
	struct ew_session *s = c->sess;
	struct ew_msg_escalate *m = NULL;
	struct ew_escalate_peer p = {
		.fd = c->fd,
		.pid = c->peer_pid,
		.uid = c->peer_uid,
		.owner = s,
		.session = s->id,
		.sb = s->sb,
		.sandbox = s->sandbox,
		.sock_in = s->sockpath,
		.sock_out = s->sockpath_out,
	};
	struct ew_escalation *x = NULL;
	int r;

	if ((r = ew_proto_get_escalate(b, &m)) != 0) {
		ew_fd_close_all(fds, nfds);
		return protocol_error(c, "parse", r);
	}
	c->role = EW_CLIENT_HELPER;
	ew_broker_client_enter(c, EW_CLIENT_HANDOVER);
	if (s->br->esc == NULL) {
		ew_escalate_refuse(s->br->audit, &p, NULL, m->token,
		    "this broker does not escalate");
		ew_fd_close_all(fds, nfds);
		ew_msg_escalate_free(m);
		return EW_CLIENT_CLOSED;
	}
	if (ew_escalate_redeem(s->br->esc, &p, m, fds, nfds, helper_gone, c,
		&x) != EW_ESCALATE_RUNNING)
		return EW_CLIENT_CLOSED;
	c->esc = x;
	return EW_CLIENT_RUNNING;
}

/*
 * AWAITING, BACKSTOP: `execward launch` hands over its tree's kernel
 * backstop listener (fds[0]); the backstop keeps it and answers.
 */
static enum ew_client_state
on_backstop(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds)
{
	const struct ew_broker_backstop *bs = c->sess->br->backstop;
	unsigned char mem[EW_PROTO_REASON_MAX + EW_BROKER_SMALL_MSG_MAX];
	struct ew_buf ans;

	(void)b;
	if (bs != NULL)
		return bs->handover(bs->arg, c, fds, nfds);
	ew_fd_close_all(fds, nfds);
	ew_buf_init(&ans, mem, sizeof(mem));
	if (ew_proto_put_answer(&ans, EW_VERDICT_DENY,
		"this broker takes no kernel backstop", NULL) == 0)
		(void)ew_proto_send(c->fd, &ans, NULL, 0);
	return EW_CLIENT_CLOSED;
}

/* ANSWERED, FAILED: the allowed start failed after all; recorded. */
static enum ew_client_state
on_failed(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds)
{
	int err, r;

	if ((r = ew_proto_get_failed(b, &err)) != 0) {
		ew_log(EW_LOG_DEBUG, "pid %d after its answer: %s",
		    (int)c->peer_pid, ew_err_str(r));
		return EW_CLIENT_CLOSED;
	}
	ew_broker_record_failed(c, err);
	/* A kept tell connection stays for the process's next start. */
	return c->tell ? EW_CLIENT_IDLE : EW_CLIENT_CLOSED;
}

/* RUNNING, SIGNAL: one the helper's caller was sent, passed on. */
static enum ew_client_state
on_signal(struct ew_client *c, struct ew_buf *b, int *fds, size_t nfds)
{
	int r, sig;

	if ((r = ew_proto_get_signal(b, &sig)) != 0) {
		ew_log(EW_LOG_WARN, "pid %d: escalation: %s", (int)c->peer_pid,
		    ew_err_str(r));
		return EW_CLIENT_CLOSED;
	}
	ew_escalate_forward(c->esc, sig);
	return EW_CLIENT_RUNNING;
}

/*
 * The receive buffer for c's next message: the broker's one shared
 * buffer for a first message or a TOLD (allocating and wiping a fresh 64 KiB
 * record buffer per question showed in the per-exec cost; one grown by
 * a giant request is not kept), else small (in mem).
 */
static struct ew_buf *
receive_buffer(struct ew_client *c, struct ew_buf *small, void *mem)
{
	struct ew_broker *br = c->sess->br;

	/* A told connection's every message may be a TOLD (a kept one). */
	if (c->state != EW_CLIENT_AWAITING && !c->tell) {
		ew_buf_init(small, mem, EW_BROKER_SMALL_MSG_MAX);
		return small;
	}
	if (br->rbuf != NULL && br->rbuf->alloc > EW_BROKER_RBUF_KEEP) {
		ew_buf_free(br->rbuf);
		br->rbuf = NULL;
	}
	if (br->rbuf == NULL &&
	    (br->rbuf = ew_buf_new(EW_PROTO_MSG_MAX)) == NULL)
		return NULL;
	ew_buf_reset(br->rbuf);
	return br->rbuf;
}

/*
 * The next state after a receive or parse error r in c's state: a
 * hang-up ends it quietly (for ANSWERED it is the start that worked),
 * anything else is logged; a shim still waiting is answered deny.
 */
static enum ew_client_state
broken(struct ew_client *c, const char *stage, int r)
{
	if (r == -EW_E_CLOSED || r == -ECONNRESET)
		return EW_CLIENT_CLOSED;
	if (c->state == EW_CLIENT_AWAITING)
		return protocol_error(c, stage, r);
	ew_log(states[c->state].level, "pid %d%s: %s", (int)c->peer_pid,
	    states[c->state].what, ew_err_str(r));
	return EW_CLIENT_CLOSED;
}

/* Read one message of c's and hand it to its state's handler, if any. */
static enum ew_client_state
dispatch(struct ew_client *c)
{
	unsigned char mem[EW_BROKER_SMALL_MSG_MAX];
	int fds[EW_BROKER_ESCALATE_FDS];
	struct ew_buf small, *b;
	enum ew_client_state next;
	msg_fn fn = NULL;
	size_t nfds = 0;
	uint32_t type;
	int r;

	if ((b = receive_buffer(c, &small, mem)) == NULL)
		return EW_CLIENT_CLOSED;
	/* Only a first message may carry fds (an ESCALATE, the helper's). */
	r = c->state == EW_CLIENT_AWAITING
	    ? ew_proto_recv(c->fd, b, fds, EW_BROKER_ESCALATE_FDS, &nfds)
	    : ew_proto_recv(c->fd, b, NULL, 0, NULL);
	if (r == -EAGAIN) {
		next = c->state;
		goto out;
	}
	if (r != 0) {
		next = broken(c, "receive", r);
		goto out;
	}
	if ((r = ew_proto_get_header(b, &type)) == 0) {
		/* The tell socket takes TOLDs (and FAILEDs after), no more. */
		if ((fn = permit(c->state, type)) == NULL ||
		    (c->tell && type != EW_MSG_TOLD && type != EW_MSG_FAILED) ||
		    (!c->tell && type == EW_MSG_TOLD &&
			c->state != EW_CLIENT_AWAITING))
			r = -EW_E_TYPE;
		/* fds with anything but these two are an error. */
		else if (nfds > 0 && type != EW_MSG_ESCALATE &&
		    type != EW_MSG_BACKSTOP)
			r = -EW_E_CMSG;
	}
	if (r != 0) {
		ew_fd_close_all(fds, nfds);
		next = broken(c, "parse", r);
		goto out;
	}
	next = fn(c, b, fds, nfds);
out:
	/* What the message said is not kept in the shared buffer. */
	ew_buf_reset(b);
	return next;
}

static bool has_input(int fd);

/*
 * Read the first messages of the clients accepted before stop that have
 * one by now, in the order they were accepted. A process sends its TOLD
 * before it starts the program, so a program's own first message must
 * not be recorded before the TOLD of its start, whichever connection the
 * loop finds ready first.
 */
static void
read_early(struct ew_session *s, struct ew_client *stop)
{
	struct ew_client *e, *next;
	enum ew_client_state st;

	for (e = s->early_head; e != NULL && e != stop; e = next) {
		next = e->early_next;
		if (!has_input(e->fd)) {
			if (ev_time() - e->t_accept > EW_BROKER_EARLY_S)
				early_remove(e);
			continue;
		}
		if ((st = dispatch(e)) != e->state)
			ew_broker_client_enter(e, st);
	}
}

static void tell_poll_start(struct ev_loop *loop, struct ew_session *s);

/*
 * A told connection said something at now: from now it is read in the
 * polls (lazy), not watched, for as long as it keeps saying things.
 */
static void
tell_heard(struct ew_client *c, ev_tstamp now)
{
	struct ew_session *s = c->sess;

	c->t_heard = now;
	if (c->lazy)
		return;
	c->lazy = true;
	ev_io_stop(s->br->loop, &c->io);
	if (!ev_is_active(&s->tell_poll) && !ev_is_active(&s->accept_pause))
		tell_poll_start(s->br->loop, s);
}

/*
 * Read what the told connection c holds, in order (a kept one may hold
 * many TOLDs by now). False when c is gone.
 */
static bool
tell_read(struct ew_client *c, ev_tstamp now)
{
	enum ew_client_state st;
	int n;

	for (n = 0; n < EW_BROKER_TELL_BATCH && has_input(c->fd); n++) {
		tell_heard(c, now);
		st = reads(c->state) ? dispatch(c) : EW_CLIENT_CLOSED;
		if (st != c->state)
			ew_broker_client_enter(c, st);
		if (st == EW_CLIENT_CLOSED)
			return false;
	}
	return true;
}

/*
 * Read what s's told connections hold: a TOLD (a kept connection's next
 * start), the FAILED or hang-up of a start. Watched ones too, so that
 * whatever was told is read before anything that came after it. One that
 * said something is read in the polls from now (lazy); a lazy one quiet
 * for EW_BROKER_TELL_WATCH_S is watched from now, so the polls can stop.
 * True while any is lazy.
 */
static bool
read_lazy(struct ew_session *s)
{
	struct ew_client *c, *next;
	bool left = false;
	ev_tstamp now = ev_time();

	/* Oldest first: a process's next connection follows its last. */
	for (c = s->clients; c != NULL && c->next != NULL; c = c->next)
		;
	for (; c != NULL; c = next) {
		next = c->prev;
		if (!c->tell || c->role != EW_CLIENT_SHIM)
			continue;
		if (!tell_read(c, now) || !c->lazy)
			continue;
		if (now - c->t_heard > EW_BROKER_TELL_WATCH_S) {
			c->lazy = false;
			ev_io_start(s->br->loop, &c->io);
		} else
			left = true;
	}
	return left;
}

static bool tell_take(struct ew_session *s);

void
ew_broker_read_pending(struct ew_session *s)
{
	read_early(s, NULL);
	(void)tell_take(s);
}

static void
ew_broker_on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_client *c = w->data;
	enum ew_client_state next;

	if (c->early && c->early_prev != NULL)
		read_early(c->sess, c);
	/*
	 * A watched told connection speaks again (a kept one's next TOLD):
	 * what its session was told before it is read first, and from now
	 * it is polled with the rest.
	 */
	if (c->tell && !c->lazy) {
		tell_heard(c, ev_time());
		(void)read_lazy(c->sess);
		return;
	}
	/* Anything after the question, or a hang-up, ends a wait for it. */
	next = reads(c->state) ? dispatch(c) : EW_CLIENT_CLOSED;
	if (next != c->state)
		ew_broker_client_enter(c, next);
}

/* Is there something to read on fd (a message, an end of file, an error)? */
static bool
has_input(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
	    (errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
ew_broker_on_client_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_client *c = w->data;
	enum ew_client_state next;

	switch (states[c->state].timer) {
	case TIMER_HEARTBEAT:
		send_heartbeat(c);
		return;
	case TIMER_LINGER:
		/* Taken as started: no FAILED came in time. */
		ew_broker_client_enter(c, EW_CLIENT_CLOSED);
		return;
	case TIMER_DEADLINE:
		/*
		 * A loop held up past the deadline (valgrind, a loaded
		 * machine) finds the timer and the question due together,
		 * and libev runs the timer first: a question that did come
		 * is read, not dropped.
		 */
		if (has_input(c->fd) &&
		    (next = dispatch(c)) != EW_CLIENT_AWAITING) {
			ew_broker_client_enter(c, next);
			return;
		}
		ew_log(EW_LOG_DEBUG, "pid %d sent no question in %.0f s",
		    (int)c->peer_pid, EW_BROKER_ASK_DEADLINE_S);
		ew_broker_conn_note(
		    c->sess, c->peer_uid, c->peer_pid, EW_REFUSED_SILENT);
		ew_broker_client_enter(c, EW_CLIENT_CLOSED);
		return;
	case TIMER_NONE:
		return;
	}
}

/* A client for a connection just accepted (and admitted, in slot). */
static struct ew_client *
client_new(struct ew_session *s, int fd, pid_t pid, uid_t uid, bool outside,
    bool tell, int slot)
{
	struct ew_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->sess = s;
	c->role = EW_CLIENT_SHIM;
	c->fd = fd;
	c->peer_pid = pid;
	c->peer_uid = uid;
	c->outside = outside;
	c->slot = slot;
	c->done = shim_decided;
	c->tell = c->lazy = tell;
	c->t_heard = ev_time();
	ev_io_init(&c->io, ew_broker_on_client_read, fd, EV_READ);
	c->io.data = c;
	if (!c->lazy)
		ev_io_start(s->br->loop, &c->io);
	ev_init(&c->timer, ew_broker_on_client_timer);
	c->timer.data = c;
	client_link(s, c);
	c->t_accept = ev_time();
	early_add(c);
	ew_broker_client_enter(c, EW_CLIENT_AWAITING);
	return c;
}

struct ew_client *
ew_session_client_local(struct ew_session *s, struct ew_msg_ask *ask,
    ew_client_done_fn done, void *data)
{
	struct ew_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->sess = s;
	c->role = EW_CLIENT_LOCAL;
	c->state = EW_CLIENT_ASKED;
	c->fd = -1;
	c->peer_pid = getpid();
	c->peer_uid = getuid();
	c->ask = ask;
	c->done = done;
	c->data = data;
	c->t_start_us = ew_time_mono_us();
	ev_init(&c->timer, ew_broker_on_client_timer);
	c->timer.data = c;
	client_link(s, c);
	return c;
}

/* A session's listeners. */
enum listener {
	LISTENER_IN, /* the socket */
	LISTENER_OUT, /* a sandboxed session's outside socket */
	LISTENER_TELL, /* the tell socket */
};

/* Stop taking connections for a while (out of fds, or at the cap). */
static void
pause_accepting(struct ev_loop *loop, struct ew_session *s)
{
	ev_io_stop(loop, &s->accept_io);
	ev_io_stop(loop, &s->accept_out_io);
	ev_io_stop(loop, &s->tell_io);
	ev_timer_stop(loop, &s->tell_poll);
	ev_timer_start(loop, &s->accept_pause);
}

/*
 * Take up to max connections waiting on s's listener which, reading the
 * first message of each that has one. How many were taken.
 */
static long
accept_on(struct ew_session *s, enum listener which, long max)
{
	struct ev_loop *loop = s->br->loop;
	const int lfds[] = { s->lfd, s->lfd_out, s->lfd_tell };
	const char *paths[] = { s->sockpath, s->sockpath_out,
		s->sockpath_tell };
	bool outside = which == LISTENER_OUT;
	struct ew_client *c;
	pid_t pid;
	uid_t uid;
	int fd, r, slot;
	long n, taken = 0;

	for (n = 0; n < max; n++) {
		/*
		 * Every served uid at its share (or the one uid of a private
		 * session at all of it): let the rest wait in the backlog, as
		 * if we were out of fds, until connections close.
		 */
		if (s->br->conns >= s->br->conn_max) {
			pause_accepting(loop, s);
			return taken;
		}
		fd = accept4(
		    lfds[which], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return taken;
			ew_log(EW_LOG_WARN, "accept %s: %s", paths[which],
			    strerror(errno));
			/*
			 * Out of fds (or another persistent error): the
			 * listener stays readable, so a level-triggered
			 * watcher would spin. Pause accepting briefly; the
			 * shims wait in the backlog meanwhile.
			 */
			pause_accepting(loop, s);
			return taken;
		}
		/* Identity comes from the kernel, never from the message. */
		if ((r = ew_sock_peercred(fd, &pid, &uid, NULL)) != 0) {
			ew_log(EW_LOG_WARN, "SO_PEERCRED: %s", ew_err_str(r));
			close(fd);
			continue;
		}
		/*
		 * A uid not served, or over its share, is answered and closed
		 * here, before a byte of it is read: it can neither hold our
		 * fds nor make us parse (or audit) whatever it sends.
		 */
		if ((slot = ew_broker_conn_admit(s, fd, pid, uid)) < 0)
			continue;
		if ((c = client_new(s, fd, pid, uid, outside,
			 which == LISTENER_TELL, slot)) == NULL) {
			ew_broker_conn_release(s->br, slot);
			close(fd);
			continue;
		}
		taken++;
		/*
		 * The shim sends its question right after connecting: it is
		 * usually queued already, and reading it now saves a trip
		 * round the loop on every exec. A told connection is read
		 * whole: a kept one may hold more starts, which came before
		 * those of any connection taken after it. (c may be gone
		 * after this.)
		 */
		if (c->tell)
			(void)tell_read(c, ev_time());
		else
			ew_broker_on_client_read(loop, &c->io, EV_READ);
	}
	return taken;
}

/*
 * Take what s's tell socket holds and read its lazy connections: true
 * while TOLDs are coming (one was taken, or a connection is left).
 */
static bool
tell_take(struct ew_session *s)
{
	/*
	 * What the connections taken before hold was sent before what the
	 * new ones hold (a process's next connection replaces its last).
	 */
	bool left = read_lazy(s),
	     took = s->lfd_tell >= 0 &&
	    accept_on(s, LISTENER_TELL, EW_BROKER_ACCEPT_BATCH) > 0;

	return left || took;
}

void
ew_broker_accept(struct ew_session *s, bool outside, long max)
{
	/*
	 * Whatever was told before this connection came is recorded before
	 * it: a program's own first start after the TOLD of its start.
	 */
	(void)tell_take(s);
	(void)accept_on(s, outside ? LISTENER_OUT : LISTENER_IN, max);
}

static void
ew_broker_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_session *s = w->data;

	ew_broker_accept(s, w == &s->accept_out_io, EW_BROKER_ACCEPT_BATCH);
}

/* The next poll of s's tell socket (a timer is set again each time). */
static void
tell_poll_start(struct ev_loop *loop, struct ew_session *s)
{
	ev_timer_set(&s->tell_poll, EW_BROKER_TELL_POLL_S, 0.);
	ev_timer_start(loop, &s->tell_poll);
}

/* The first TOLD after a quiet spell: take it, and poll from now. */
static void
on_tell(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_session *s = w->data;

	ev_io_stop(loop, &s->tell_io);
	(void)tell_take(s);
	if (s->lfd_tell >= 0 && !ev_is_active(&s->accept_pause))
		tell_poll_start(loop, s);
}

/* A poll: while TOLDs come, poll again; once they stop, watch again. */
static void
on_tell_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_session *s = w->data;
	bool busy = tell_take(s);

	/* Lazy connections are polled even once the tell socket is gone. */
	if (ev_is_active(&s->accept_pause))
		return;
	if (busy)
		tell_poll_start(loop, s);
	else if (s->lfd_tell >= 0)
		ev_io_start(loop, &s->tell_io);
}

void
ew_broker_tell_listen(struct ew_session *s)
{
	struct stat st;
	mode_t old;
	int n;

	n = snprintf(s->sockpath_tell, sizeof(s->sockpath_tell),
	    "%s" EW_SNAP_TELL_SUFFIX, s->sockpath);
	if (n < 0 || (size_t)n >= EW_SOCK_PATH_MAX) {
		ew_log(EW_LOG_DEBUG,
		    "%s: no tell socket (the path is too long): TOLDs come on "
		    "the socket",
		    s->sockpath);
		goto none;
	}
	/*
	 * A socket left by a broker that is gone (a daemon's fixed path) is
	 * removed; anything else there is left alone, and not used.
	 */
	if (lstat(s->sockpath_tell, &st) == 0 &&
	    (!S_ISSOCK(st.st_mode) || unlink(s->sockpath_tell) != 0)) {
		ew_log(EW_LOG_WARN,
		    "%s is in the way (not a socket, or it cannot be removed): "
		    "TOLDs come on the socket",
		    s->sockpath_tell);
		goto none;
	}
	/*
	 * 0600, even where other uids may use the socket: their shims never
	 * tell (the snapshot is not theirs), so nothing of theirs comes here.
	 */
	old = umask(0177);
	s->lfd_tell = ew_sock_listen(s->sockpath_tell, EW_BROKER_BACKLOG);
	umask(old);
	if (s->lfd_tell < 0) {
		ew_log(EW_LOG_WARN, "listen %s: %s: TOLDs come on the socket",
		    s->sockpath_tell, ew_err_str(s->lfd_tell));
		s->lfd_tell = -1;
		goto none;
	}
	ev_io_set(&s->tell_io, s->lfd_tell, EV_READ);
	ev_io_start(s->br->loop, &s->tell_io);
	return;
none:
	s->sockpath_tell[0] = '\0';
}

void
ew_broker_tell_stop(struct ew_session *s)
{
	if (s->lfd_tell < 0)
		return;
	/* As ew_session_stop_listening: the name, then what is queued. */
	if (s->sockpath_tell[0] != '\0')
		unlink(s->sockpath_tell);
	s->sockpath_tell[0] = '\0';
	(void)shutdown(s->lfd_tell, SHUT_RD);
	(void)accept_on(s, LISTENER_TELL, LONG_MAX);
	ev_io_stop(s->br->loop, &s->tell_io);
	ev_timer_stop(s->br->loop, &s->tell_poll);
	s->lfd_tell = ew_fd_close(s->lfd_tell);
}

static void
ew_broker_on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_session *s = w->data;

	if (s->lfd >= 0)
		ev_io_start(loop, &s->accept_io);
	if (s->lfd_out >= 0)
		ev_io_start(loop, &s->accept_out_io);
	/* A poll first: told connections taken before may be waiting. */
	tell_poll_start(loop, s);
}

void
ew_broker_accept_start(struct ew_session *s)
{
	ew_broker_conn_init(s->br);
	ev_io_init(&s->accept_io, ew_broker_on_accept, s->lfd, EV_READ);
	s->accept_io.data = s;
	ev_io_start(s->br->loop, &s->accept_io);
	ev_timer_init(&s->accept_pause, ew_broker_on_accept_pause,
	    EW_BROKER_ACCEPT_PAUSE_S, 0.);
	s->accept_pause.data = s;
	ev_io_init(&s->accept_out_io, ew_broker_on_accept, -1, EV_READ);
	s->accept_out_io.data = s;
	ev_io_init(&s->tell_io, on_tell, -1, EV_READ);
	s->tell_io.data = s;
	ev_init(&s->tell_poll, on_tell_poll);
	s->tell_poll.data = s;
}
