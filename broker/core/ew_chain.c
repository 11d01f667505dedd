/*
 * A broker inside another execward session (an agent runs `execward run`
 * with the shim loaded): every program this broker would let start is
 * first put to the outer broker, as the outer shim would have put it, so
 * it passes both policies and is recorded in both audit logs.
 *
 * Without this the outer shim, loaded in this process, repairs the
 * environment of our COMMAND back to the outer session: our tree would
 * ask the outer broker only and our own log would hold nothing but the
 * run record. So our own starts bypass the outer shim (the raw execve,
 * ew_spawn_bypass_shim) and we ask the outer broker ourselves, here.
 *
 * An outer DENY is a deny, recorded here with the outer reason. An outer
 * ESCALATE (the outer session is sandboxed, and a rule allows the
 * program) runs it in place, inside the outer sandbox: we cannot hand its
 * token on, and running it confined is the stricter of the two. An outer
 * broker that cannot be reached or does not answer denies, unless the
 * outer session is EXECWARD_FAIL=open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_env.h"
#include "ew_err.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_sock.h"
#include "ew_spawn.h"

/* Connecting waits at most this long for a full backlog. */
#define EW_CHAIN_CONNECT_MS 2000
/* Room for the outer ANSWER. */
#define EW_CHAIN_ANSWER_MAX (64 + EW_PROTO_REASON_MAX + EW_PROTO_TOKEN_MAX)

struct ew_chain {
	char socket[EW_PROTO_PATH_MAX];
	int timeout_s;
	bool fail_open;
};

/* One decision waiting for the outer broker's (c->chain). */
struct ew_chain_ask {
	struct ew_client *c;
	struct ew_chain *ch;
	int fd; /* to the outer broker; kept after its ALLOW for a FAILED */
	ev_io io;
	ev_timer deadline;
	/* Our decision, to be finished once the outer one is known. */
	uint32_t verdict;
	const char *source;
	char *reason;
	enum ew_answer answer;
	bool asked;
};

int
ew_chain_open(struct ew_broker *br, char *err, size_t errlen)
{
	const char *sock = getenv(EW_ENV_SOCKET);
	struct ew_chain *ch;
	char cwd[PATH_MAX];
	int fd, n;

	br->chain = NULL;
	if (sock == NULL || *sock == '\0')
		return 0;
	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Relative to where we started, as the shim takes it. */
	if (sock[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		n = snprintf(ch->socket, sizeof(ch->socket), "%s", sock);
	else
		n = snprintf(
		    ch->socket, sizeof(ch->socket), "%s/%s", cwd, sock);
	if (n < 0 || (size_t)n >= sizeof(ch->socket)) {
		snprintf(err, errlen, "EXECWARD_SOCKET is too long");
		free(ch);
		return -ENAMETOOLONG;
	}
	/* The outer broker is waited for as the outer shim would wait. */
	ch->fail_open = ew_env_fail_open(getenv(EW_ENV_FAIL));
	ch->timeout_s = ew_env_timeout_s(getenv(EW_ENV_TIMEOUT));
	/* An outer session nobody answers for: say so now, not per start. */
	if ((fd = ew_sock_connect(ch->socket, EW_CHAIN_CONNECT_MS)) < 0) {
		if (!ch->fail_open) {
			snprintf(err, errlen,
			    "this runs inside another execward session "
			    "(EXECWARD_SOCKET=%s), whose broker does not "
			    "answer "
			    "(%s): every program would be refused; unset "
			    "EXECWARD_SOCKET to run on its own",
			    ch->socket, ew_err_str(fd));
			free(ch);
			return fd;
		}
		ew_log(EW_LOG_WARN,
		    "the outer execward session (EXECWARD_SOCKET=%s) does not "
		    "answer (%s); running on our own (EXECWARD_FAIL=open)",
		    ch->socket, ew_err_str(fd));
		free(ch);
		return 0;
	}
	close(fd);
	br->chain = ch;
	/* Our starts must not pass through the outer shim (see above). */
	ew_spawn_bypass_shim = true;
	ew_log(EW_LOG_INFO,
	    "inside another execward session: each program is also put to "
	    "its broker (%s)",
	    ch->socket);
	return 0;
}

void
ew_chain_close(struct ew_broker *br)
{
	free(br->chain);
	br->chain = NULL;
}

static void
stop_watchers(struct ew_chain_ask *q)
{
	struct ev_loop *loop = q->c->sess->br->loop;

	ev_io_stop(loop, &q->io);
	ev_timer_stop(loop, &q->deadline);
}

void
ew_chain_client_gone(struct ew_client *c)
{
	struct ew_chain_ask *q = c->chain;

	if (q == NULL)
		return;
	stop_watchers(q);
	/* A start that worked, or one we refused: the outer sees a hang-up. */
	q->fd = ew_fd_close(q->fd);
	free(q->reason);
	free(q);
	c->chain = NULL;
}

void
ew_chain_failed(struct ew_client *c, int err)
{
	unsigned char mem[16];
	struct ew_buf b;

	if (c->chain == NULL || c->chain->fd < 0)
		return;
	ew_buf_init(&b, mem, sizeof(mem));
	if (ew_proto_put_failed(&b, err) == 0)
		(void)ew_proto_send(c->chain->fd, &b, NULL, 0);
}

/*
 * Finish c with its own decision, or with the outer broker's deny: the
 * state c is to enter.
 */
static enum ew_client_state
resume(struct ew_chain_ask *q, const char *deny)
{
	struct ew_client *c = q->c;
	char reason[EW_PROTO_REASON_MAX + 1];

	stop_watchers(q);
	c->chain_done = true;
	/* The outer broker has had its say: no more heartbeats for it. */
	ew_broker_client_enter(c, EW_CLIENT_ASKED);
	if (deny != NULL) {
		q->fd = ew_fd_close(q->fd);
		/* Cut to what an ANSWER carries. */
		snprintf(
		    reason, sizeof(reason), "%.*s", EW_PROTO_REASON_MAX, deny);
		return ew_broker_finish(
		    c, EW_VERDICT_DENY, "outer", reason, q->answer, q->asked);
	}
	return ew_broker_finish(
	    c, q->verdict, q->source, q->reason, q->answer, q->asked);
}

/*
 * The outer broker failed us: deny, or (fail open) go on with a warning.
 * The state c is to enter.
 */
static enum ew_client_state
outer_failed(struct ew_chain_ask *q, const char *what, int r)
{
	char why[EW_PROTO_PATH_MAX + EW_PROTO_REASON_MAX];

	snprintf(why, sizeof(why), "the outer execward session (%s): %s%s%s",
	    q->ch->socket, what, r != 0 ? ": " : "",
	    r != 0 ? ew_err_str(r) : "");
	if (q->ch->fail_open) {
		ew_log(EW_LOG_WARN, "%s; allowing pid %d (EXECWARD_FAIL=open)",
		    why, (int)q->c->peer_pid);
		q->fd = ew_fd_close(q->fd);
		return resume(q, NULL);
	}
	ew_log(EW_LOG_WARN, "%s: denying pid %d", why, (int)q->c->peer_pid);
	return resume(q, why);
}

/* The outer broker's say, read from its connection: the state c enters. */
static enum ew_client_state
outer_said(struct ew_chain_ask *q)
{
	unsigned char mem[EW_CHAIN_ANSWER_MAX];
	struct ew_msg_answer ans;
	char why[EW_PROTO_REASON_MAX + 64];
	struct ew_buf b;
	uint32_t type;
	int r;

	ew_buf_init(&b, mem, sizeof(mem));
	r = ew_proto_recv(q->fd, &b, NULL, 0, NULL);
	if (r == -EAGAIN)
		return EW_CLIENT_OUTER;
	if (r == -EW_E_CLOSED || r == -ECONNRESET)
		return outer_failed(q, "closed the connection", 0);
	if (r == 0 && (r = ew_proto_get_header(&b, &type)) == 0 &&
	    type == EW_MSG_HEARTBEAT && ew_buf_len(&b) == 0) {
		/* A person is being asked there: wait on. */
		ev_timer_again(q->c->sess->br->loop, &q->deadline);
		return EW_CLIENT_OUTER;
	}
	if (r == 0 && type != EW_MSG_ANSWER)
		r = -EW_E_TYPE;
	if (r == 0)
		r = ew_proto_get_answer(&b, &ans);
	if (r != 0)
		return outer_failed(q, "bad answer", r);
	if (ans.verdict == EW_VERDICT_DENY) {
		snprintf(why, sizeof(why),
		    "denied by the outer execward "
		    "session: %s",
		    ans.reason[0] != '\0' ? ans.reason : "denied by policy");
		why[EW_PROTO_REASON_MAX] = '\0';
		return resume(q, why);
	}
	/*
	 * ALLOW, or ESCALATE: then it runs here, inside the outer sandbox
	 * (its token unused). The connection stays for a FAILED.
	 */
	return resume(q, NULL);
}

static void
ew_broker_on_chain_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_chain_ask *q = w->data;
	enum ew_client_state next = outer_said(q);

	if (next != EW_CLIENT_OUTER)
		ew_broker_client_enter(q->c, next);
}

static void
ew_broker_on_chain_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_chain_ask *q = w->data;
	char what[64];

	snprintf(what, sizeof(what), "no answer within %d s (EXECWARD_TIMEOUT)",
	    q->ch->timeout_s);
	ew_broker_client_enter(q->c, outer_failed(q, what, 0));
}

/* Send c's question to the outer broker. 0, or an error with why. */
static int
send_ask(struct ew_chain_ask *q, const char **whatp)
{
	struct ew_client *c = q->c;
	char cwd[PATH_MAX], cwd_why[256];
	const char *cwd_err;
	struct ew_ask a;
	struct ew_buf *b;
	size_t size;
	int r;

	memset(&a, 0, sizeof(a));
	a.via = c->ask->via;
	a.pid = c->role != EW_CLIENT_LOCAL ? c->peer_pid : getpid();
	a.ppid = c->ask->ppid;
	/* Ours, as we know it: the outer one would read our own cwd. */
	a.cwd = ew_broker_record_cwd(
	    c, cwd, sizeof(cwd), cwd_why, sizeof(cwd_why), &cwd_err);
	a.file = c->ask->file;
	a.resolved = c->ask->resolved;
	a.argv = c->ask->argv;
	*whatp = "encode";
	if ((r = ew_proto_ask_size(&a, &size)) != 0)
		return r;
	if ((b = ew_buf_new(size)) == NULL)
		return -ENOMEM;
	if ((r = ew_proto_put_ask(b, &a)) == 0) {
		*whatp = "connect";
		q->fd = ew_sock_connect(q->ch->socket, EW_CHAIN_CONNECT_MS);
		if (q->fd < 0) {
			r = q->fd;
			q->fd = -1;
		} else {
			*whatp = "send";
			r = ew_proto_send(q->fd, b, NULL, 0);
		}
	}
	ew_buf_free(b);
	if (r == 0 && ew_fd_nonblock(q->fd, 1) != 0) {
		*whatp = "fcntl";
		r = -errno;
	}
	return r;
}

bool
ew_chain_intercept(struct ew_client *c, uint32_t verdict, const char *source,
    const char *reason, enum ew_answer answer, bool asked,
    enum ew_client_state *next)
{
	struct ew_broker *br = c->sess->br;
	struct ew_chain_ask *q;
	const char *what = "";
	int r;

	if (br->chain == NULL || c->chain_done || verdict == EW_VERDICT_DENY)
		return false;
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (reason != NULL && (q->reason = strdup(reason)) == NULL)) {
		free(q);
		/* Never an allow the outer broker did not see. */
		c->chain_done = true;
		*next = ew_broker_finish(c, EW_VERDICT_DENY, "outer",
		    "the outer execward session: out of memory", answer, asked);
		return true;
	}
	q->c = c;
	q->ch = br->chain;
	q->fd = -1;
	q->verdict = verdict;
	q->source = source;
	q->answer = answer;
	q->asked = asked;
	c->chain = q;
	ev_init(&q->io, ew_broker_on_chain_read);
	q->io.data = q;
	ev_init(&q->deadline, ew_broker_on_chain_deadline);
	q->deadline.repeat = q->ch->timeout_s;
	q->deadline.data = q;
	if ((r = send_ask(q, &what)) != 0) {
		*next = outer_failed(q, what, r);
		return true;
	}
	ev_io_set(&q->io, q->fd, EV_READ);
	ev_io_start(br->loop, &q->io);
	ev_timer_again(br->loop, &q->deadline);
	/* Our own shim hears heartbeats meanwhile (OUTER's timer). */
	*next = EW_CLIENT_OUTER;
	return true;
}
