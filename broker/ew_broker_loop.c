/* The broker's event loop side: listener, client connections, answers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backstop/ew_backstop.h"
#include "ew_broker.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_range.h"
#include "ew_sock.h"

/*
 * A client must send its question within this time after it is accepted:
 * the shim sends it in the same breath as it connects, so only a client
 * holding a connection for nothing waits this long (and is then closed,
 * counted as refused).
 */
#define EW_BROKER_ASK_DEADLINE_S 3.0
/*
 * Connections taken per wake-up of the listener: the rest wait for the
 * next round of the loop, so a flood of connections cannot keep the
 * clients already connected (and timers, signals) from being served.
 */
#define EW_BROKER_ACCEPT_BATCH 64
/* While a person is being asked, tell the shim we are alive this often. */
#define EW_BROKER_HEARTBEAT_S 0.5
/* After accept fails for lack of fds, wait this long before trying again. */
#define EW_BROKER_ACCEPT_PAUSE_S 0.1
/* A receive buffer grown past this is freed after use. */
#define EW_BROKER_RBUF_KEEP (256 * 1024)
/* A session's socket in its folder (ew_session_folder). */
#define EW_BROKER_SOCK_IN "/s"

uint64_t
ew_broker_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
new_id(char id[33])
{
	unsigned char rnd[16];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* Uniqueness, not secrecy: time and pid will do. */
		uint64_t t = ew_broker_now_us() ^ ((uint64_t)getpid() << 40);
		memcpy(rnd, &t, sizeof(t));
		memcpy(rnd + 8, &t, sizeof(t));
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
}

static void
client_link(struct ew_session *s, struct ew_client *c)
{
	c->next = s->clients;
	if (s->clients != NULL)
		s->clients->prev = c;
	s->clients = c;
	s->nclients++;
}

void
ew_broker_client_free(struct ew_client *c)
{
	struct ew_session *s;
	struct ev_loop *loop;

	if (c == NULL)
		return;
	s = c->sess;
	loop = s->br->loop;
	if (c->prompting && s->prompt != NULL)
		s->prompt->cancel(s->prompt_ctx, c);
	if (c->esc != NULL)
		ew_escalate_client_gone(c);
	if (c->chain != NULL)
		ew_chain_client_gone(c);
	if (c->fd >= 0) {
		ev_io_stop(loop, &c->io);
		c->fd = ew_fd_close(c->fd);
	}
	ev_timer_stop(loop, &c->timer);
	if (c->counted)
		ew_broker_conn_release(s->br, c->slot);
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
 * The default done callback: answer the shim and forget the client, or,
 * after an ALLOW, wait for how the start went (ew_broker_linger).
 */
static void
client_done_send(struct ew_client *c, uint32_t verdict, const char *reason)
{
	send_answer(c, verdict, reason);
	if (verdict == EW_VERDICT_ALLOW && ew_broker_linger(c))
		return;
	ew_broker_client_free(c);
}

static void
ew_broker_on_client_read(struct ev_loop *loop, ev_io *w, int revents);

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
	unsigned char mem[16];
	struct ew_buf b;

	if (c->lingering) {
		/* Taken as started: no FAILED came in time. */
		ew_broker_client_free(c);
		return;
	}
	if (c->prompting) {
		ew_buf_init(&b, mem, sizeof(mem));
		if (ew_proto_put_heartbeat(&b) == 0)
			(void)ew_proto_send(c->fd, &b, NULL, 0);
		return;
	}
	/*
	 * A loop held up past the deadline (valgrind, a loaded machine) finds
	 * the timer and the question due together, and libev runs the timer
	 * first: a question that did come is read, not dropped.
	 */
	if (c->ask == NULL && c->esc == NULL && has_input(c->fd)) {
		ew_broker_on_client_read(loop, &c->io, EV_READ);
		return;
	}
	ew_log(EW_LOG_DEBUG, "pid %d sent no question in %.0f s",
	    (int)c->peer_pid, EW_BROKER_ASK_DEADLINE_S);
	ew_broker_conn_note(
	    c->sess, c->peer_uid, c->peer_pid, EW_REFUSED_SILENT);
	ew_broker_client_free(c);
}

/* A protocol error: answer deny if we can, then close (never crash). */
static void
client_protocol_error(struct ew_client *c, const char *stage, int r)
{
	char reason[256];

	snprintf(reason, sizeof(reason), "protocol error (%s): %s", stage,
	    ew_err_str(r));
	ew_log(EW_LOG_WARN, "pid %d: %s", (int)c->peer_pid, reason);
	send_answer(c, EW_VERDICT_DENY, reason);
	ew_broker_client_free(c);
}

/* Has the peer of fd closed its end (nothing more to read, ever)? */
static bool
peer_gone(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void
ew_broker_on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_client *c = w->data;
	struct ew_msg_escalate *esc = NULL;
	struct ew_buf *b;
	int fds[3];
	size_t nfds = 0;
	uint32_t type;
	int r;

	if (c->esc != NULL) {
		/* An escalated program's helper: SIGNALs, or its hang-up. */
		ew_escalate_on_client_read(c);
		return;
	}
	if (c->lingering) {
		/* After an ALLOW: a FAILED, or the hang-up of a start. */
		ew_broker_on_linger_read(c);
		return;
	}
	if (c->ask != NULL) {
		/* Anything after the question, or a hang-up, ends it. */
		ew_broker_client_free(c);
		return;
	}
	/*
	 * One receive buffer serves every client: allocating (and wiping)
	 * a fresh 64 KiB record buffer per question showed in the per-exec
	 * cost. A buffer grown by a giant request is not kept.
	 */
	b = c->sess->br->rbuf;
	if (b != NULL && b->alloc > EW_BROKER_RBUF_KEEP) {
		ew_buf_free(b);
		b = c->sess->br->rbuf = NULL;
	}
	if (b == NULL &&
	    (b = c->sess->br->rbuf = ew_buf_new(EW_PROTO_MSG_MAX)) == NULL) {
		ew_broker_client_free(c);
		return;
	}
	ew_buf_reset(b);
	/* Only an ESCALATE carries fds (the helper's 0, 1 and 2). */
	if ((r = ew_proto_recv(c->fd, b, fds, 3, &nfds)) != 0) {
		if (r == -EAGAIN)
			goto out;
		if (r == -EW_E_CLOSED || r == -ECONNRESET)
			ew_broker_client_free(c);
		else
			client_protocol_error(c, "receive", r);
		goto out;
	}
	if ((r = ew_proto_get_header(b, &type)) == 0 &&
	    type == EW_MSG_ESCALATE) {
		if ((r = ew_proto_get_escalate(b, &esc)) != 0) {
			ew_fd_close_all(fds, nfds);
			client_protocol_error(c, "parse", r);
			goto out;
		}
		ev_timer_stop(loop, &c->timer);
		ew_broker_answer_escalate(c, esc, fds, nfds);
		goto out;
	}
	/* `execward launch` hands over its tree's backstop (the daemon). */
	if (r == 0 && type == EW_MSG_BACKSTOP) {
		ew_backstop_on_handover(c, fds, nfds);
		goto out;
	}
	if (nfds > 0) {
		ew_fd_close_all(fds, nfds);
		r = r != 0 ? r : -EW_E_CMSG;
	}
	if (r != 0 || (type != EW_MSG_ASK && (r = -EW_E_TYPE) != 0) ||
	    (r = ew_proto_get_ask(b, &c->ask)) != 0) {
		client_protocol_error(c, "parse", r);
		goto out;
	}
	c->t_start_us = ew_broker_now_us();
	ev_timer_stop(loop, &c->timer);
	/*
	 * The asker hung up after asking: it gave up waiting (we were held
	 * up past its EXECWARD_TIMEOUT) and failed closed. Its question is
	 * recorded as the deny it was, not decided into an allow that
	 * nothing ran on.
	 */
	if (peer_gone(c->fd)) {
		ew_broker_finish(c, EW_VERDICT_DENY, "fallback",
		    "the asker gave up waiting for the answer "
		    "(EXECWARD_TIMEOUT)",
		    EW_ANSWER_NONE, false);
		goto out;
	}
	/* Keep watching: a hang-up while a person is asked cancels it. */
	ew_broker_answer_ask(c);
out:
	ew_buf_reset(b);
}

/*
 * Take up to max connections waiting on s's listener (outside: the one
 * only escalated programs are given).
 */
static void
accept_some(struct ev_loop *loop, struct ew_session *s, bool outside, long max)
{
	struct ew_client *c;
	pid_t pid;
	uid_t uid;
	int fd, r, slot;
	long n;

	for (n = 0; n < max; n++) {
		/*
		 * Every served uid at its share (or the one uid of a private
		 * session at all of it): let the rest wait in the backlog, as
		 * if we were out of fds, until connections close.
		 */
		if (s->br->conns >= s->br->conn_max) {
			ev_io_stop(loop, &s->accept_io);
			ev_io_stop(loop, &s->accept_out_io);
			ev_timer_start(loop, &s->accept_pause);
			return;
		}
		fd = accept4(outside ? s->lfd_out : s->lfd, NULL, NULL,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return;
			ew_log(EW_LOG_WARN, "accept %s: %s",
			    outside ? s->sockpath_out : s->sockpath,
			    strerror(errno));
			/*
			 * Out of fds (or another persistent error): the
			 * listener stays readable, so a level-triggered
			 * watcher would spin. Pause accepting briefly; the
			 * shims wait in the backlog meanwhile.
			 */
			ev_io_stop(loop, &s->accept_io);
			ev_io_stop(loop, &s->accept_out_io);
			ev_timer_start(loop, &s->accept_pause);
			return;
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
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			ew_broker_conn_release(s->br, slot);
			close(fd);
			continue;
		}
		c->sess = s;
		c->fd = fd;
		c->peer_pid = pid;
		c->peer_uid = uid;
		c->outside = outside;
		c->counted = true;
		c->slot = slot;
		c->done = client_done_send;
		ev_io_init(&c->io, ew_broker_on_client_read, fd, EV_READ);
		c->io.data = c;
		ev_io_start(loop, &c->io);
		ev_timer_init(&c->timer, ew_broker_on_client_timer,
		    EW_BROKER_ASK_DEADLINE_S, EW_BROKER_HEARTBEAT_S);
		c->timer.data = c;
		ev_timer_start(loop, &c->timer);
		client_link(s, c);
		/*
		 * The shim sends its question right after connecting: it is
		 * usually queued already, and reading it now saves a trip
		 * round the loop on every exec. (c may be gone after this.)
		 */
		ew_broker_on_client_read(loop, &c->io, EV_READ);
	}
}

static void
ew_broker_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_session *s = w->data;

	accept_some(loop, s, w == &s->accept_out_io, EW_BROKER_ACCEPT_BATCH);
}

static void
ew_broker_on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_session *s = w->data;

	if (s->lfd >= 0)
		ev_io_start(loop, &s->accept_io);
	if (s->lfd_out >= 0)
		ev_io_start(loop, &s->accept_out_io);
}

/* Watch s->lfd for connections. */
static void
start_accepting(struct ew_session *s)
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
}

struct ew_client *
ew_session_client_local(struct ew_session *s, struct ew_msg_ask *ask,
    ew_client_done_fn done, void *data)
{
	struct ew_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->sess = s;
	c->fd = -1;
	c->peer_pid = getpid();
	c->peer_uid = getuid();
	c->ask = ask;
	c->done = done;
	c->data = data;
	c->t_start_us = ew_broker_now_us();
	ev_timer_init(
	    &c->timer, ew_broker_on_client_timer, 0., EW_BROKER_HEARTBEAT_S);
	c->timer.data = c;
	client_link(s, c);
	return c;
}

int
ew_session_open(
    struct ew_session *s, struct ew_broker *br, enum ew_on_prompt on_prompt)
{
	char tmpl[PATH_MAX];
	int r;

	memset(s, 0, sizeof(*s));
	s->br = br;
	s->lfd = -1;
	s->lfd_out = -1;
	s->on_prompt = on_prompt;
	new_id(s->id);
	if ((r = ew_session_folder(tmpl, sizeof(tmpl))) != 0)
		return r;
	snprintf(s->sockdir, sizeof(s->sockdir), "%s", tmpl);
	snprintf(s->sockpath, sizeof(s->sockpath), "%.*s" EW_BROKER_SOCK_IN,
	    (int)sizeof(s->sockpath) - 3, tmpl);
	if ((s->lfd = ew_sock_listen(s->sockpath, EW_BROKER_BACKLOG)) < 0) {
		r = s->lfd;
		s->lfd = -1;
		rmdir(s->sockdir);
		s->sockdir[0] = s->sockpath[0] = '\0';
		return r;
	}
	start_accepting(s);
	return 0;
}

void
ew_session_close(struct ew_session *s)
{
	if (s->br == NULL)
		return;
	if (s->lfd >= 0) {
		ev_io_stop(s->br->loop, &s->accept_io);
		ev_timer_stop(s->br->loop, &s->accept_pause);
		s->lfd = ew_fd_close(s->lfd);
	}
	if (s->lfd_out >= 0) {
		ev_io_stop(s->br->loop, &s->accept_out_io);
		s->lfd_out = ew_fd_close(s->lfd_out);
	}
	if (s->br->esc != NULL)
		ew_escalate_session_closed(s->br->esc, s);
	/* Its trees' trapped starts fail (ENOSYS) once nobody listens. */
	ew_backstop_session_closed(s->br->backstop, s);
	/* Refusals still only counted go to the log before the session. */
	ew_broker_conn_flush(s);
	while (s->clients != NULL)
		ew_broker_client_free(s->clients);
	while (s->approvals != NULL) {
		struct ew_approval *a = s->approvals;

		s->approvals = a->next;
		free(a);
	}
	s->napprovals = 0;
	if (s->sockpath[0] != '\0' && !s->inherited)
		unlink(s->sockpath);
	if (s->sockpath_out[0] != '\0')
		unlink(s->sockpath_out);
	if (s->sockdir[0] != '\0')
		rmdir(s->sockdir);
	s->sockpath[0] = s->sockpath_out[0] = s->sockdir[0] = '\0';
}

/*
 * The folder of a socket that others may find: made 0700 (0711 when other
 * uids are let in) when missing; else it must be ours and writable by
 * nobody else, or someone could put their own socket in its place.
 */
static int
socket_folder(struct ew_session *s, const char *path, bool others, char *err,
    size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL || slash == path)
		snprintf(dir, sizeof(dir), "%s", slash == path ? "/" : ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, others ? 0711 : 0700) != 0) {
			snprintf(
			    err, errlen, "mkdir %s: %s", dir, strerror(errno));
			return -errno;
		}
		/* mkdir's mode passed through the umask: say it exactly. */
		if (chmod(dir, others ? 0711 : 0700) != 0) {
			snprintf(
			    err, errlen, "chmod %s: %s", dir, strerror(errno));
			return -errno;
		}
		snprintf(s->sockdir, sizeof(s->sockdir), "%s", dir);
		return 0;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0) {
		snprintf(err, errlen,
		    "%s: the socket's folder must be a folder of uid %u that "
		    "nobody else can write (it is %s, uid %u, mode %04o)",
		    dir, (unsigned)geteuid(),
		    S_ISDIR(st.st_mode) ? "a folder" : "not a folder",
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (others && (st.st_mode & 01) == 0)
		ew_log(EW_LOG_WARN,
		    "%s has no search permission for others: the allowed "
		    "uids cannot reach the socket",
		    dir);
	return 0;
}

/* A socket file left by a broker that is gone is removed; a live one not. */
static int
clear_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	if ((fd = ew_sock_connect(path, 0)) >= 0) {
		close(fd);
		snprintf(
		    err, errlen, "%s: another broker is listening there", path);
		return -EADDRINUSE;
	}
	if (unlink(path) != 0) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* An inherited fd must be a listening AF_UNIX SEQPACKET socket. */
static int
check_inherited(int fd, char *err, size_t errlen)
{
	int type = 0, domain = 0, listening = 0;
	socklen_t n = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) != 0 ||
	    (n = sizeof(int),
		getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &n)) != 0 ||
	    (n = sizeof(int),
		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n)) !=
		0) {
		snprintf(
		    err, errlen, "inherited fd %d: %s", fd, strerror(errno));
		return -errno;
	}
	if (domain != AF_UNIX || type != SOCK_SEQPACKET || !listening) {
		snprintf(err, errlen,
		    "inherited fd %d is not a listening AF_UNIX SEQPACKET "
		    "socket (ListenSequentialPacket= in the socket unit)",
		    fd);
		return -EINVAL;
	}
	if (ew_fd_cloexec(fd, 1) != 0 || ew_fd_nonblock(fd, 1) != 0) {
		snprintf(err, errlen, "inherited fd %d: fcntl: %s", fd,
		    strerror(errno));
		return -EBADF;
	}
	return 0;
}

int
ew_session_listen(struct ew_session *s, struct ew_broker *br,
    enum ew_on_prompt on_prompt, const char *path, int fd, char *err,
    size_t errlen)
{
	bool others = br->nallow_uids > 0;
	mode_t old;
	int r;

	memset(s, 0, sizeof(*s));
	s->br = br;
	s->lfd = -1;
	s->lfd_out = -1;
	s->on_prompt = on_prompt;
	new_id(s->id);
	if (path != NULL && strlen(path) >= sizeof(s->sockpath)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (fd >= 0) {
		if ((r = check_inherited(fd, err, errlen)) != 0)
			return r;
		s->lfd = fd;
		s->inherited = true;
		snprintf(s->sockpath, sizeof(s->sockpath), "%s",
		    path != NULL ? path : "");
	} else {
		if ((r = socket_folder(s, path, others, err, errlen)) != 0 ||
		    (r = clear_stale(path, err, errlen)) != 0)
			goto fail;
		/* Born 0600: no moment when others could connect. */
		old = umask(0177);
		s->lfd = ew_sock_listen(path, EW_BROKER_BACKLOG);
		umask(old);
		if (s->lfd < 0) {
			r = s->lfd;
			s->lfd = -1;
			snprintf(
			    err, errlen, "listen %s: %s", path, ew_err_str(r));
			goto fail;
		}
		snprintf(s->sockpath, sizeof(s->sockpath), "%s", path);
		/* Other uids need write permission to connect. */
		if (others && chmod(path, 0666) != 0) {
			r = -errno;
			snprintf(
			    err, errlen, "chmod %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	start_accepting(s);
	return 0;
fail:
	s->lfd = ew_fd_close(s->lfd);
	if (s->sockpath[0] != '\0')
		unlink(s->sockpath);
	if (s->sockdir[0] != '\0')
		rmdir(s->sockdir);
	s->sockpath[0] = s->sockdir[0] = '\0';
	return r;
}

void
ew_session_stop_listening(struct ew_session *s)
{
	if (s->br == NULL || s->lfd < 0)
		return;
	/*
	 * The name goes first, and shutdown refuses a connect already past
	 * the name (the kernel checks it as it queues a connection); then
	 * the connections already queued are taken, to be answered.
	 */
	if (s->sockpath[0] != '\0' && !s->inherited)
		unlink(s->sockpath);
	s->sockpath[0] = '\0';
	/* An inherited socket is systemd's: it queues for our next start. */
	if (!s->inherited)
		(void)shutdown(s->lfd, SHUT_RD);
	accept_some(s->br->loop, s, false, LONG_MAX);
	ev_io_stop(s->br->loop, &s->accept_io);
	ev_timer_stop(s->br->loop, &s->accept_pause);
	s->lfd = ew_fd_close(s->lfd);
	if (s->lfd_out >= 0) {
		if (s->sockpath_out[0] != '\0')
			unlink(s->sockpath_out);
		s->sockpath_out[0] = '\0';
		(void)shutdown(s->lfd_out, SHUT_RD);
		accept_some(s->br->loop, s, true, LONG_MAX);
		ev_io_stop(s->br->loop, &s->accept_out_io);
		s->lfd_out = ew_fd_close(s->lfd_out);
	}
}

/*
 * What every program of a session gets in ASAN_OPTIONS, last (the shim's
 * EW_SHIM_ASAN_OPTION; preload/README.md, "Sanitizers"): a program built
 * with a shared ASan runtime would otherwise refuse to start with our
 * library preloaded before it.
 */
#define EW_SESSION_ASAN_OPTION "verify_asan_link_order=0"

char **
ew_session_env(const struct ew_session *s, const char *lib, const char *fail,
    char *const *env)
{
	return ew_session_env_at(s, s->sockpath, lib, fail, env);
}

char **
ew_session_env_at(const struct ew_session *s, const char *sockpath,
    const char *lib, const char *fail, char *const *env)
{
	const char *old = NULL, *asan = NULL, *p, *e;
	/* The kernel backstop's envp range; NULL: the environment's own. */
	const char *range = ew_backstop_env(s->br->backstop);
	size_t n = 0, i, k = 0, extra, liblen = strlen(lib);
	char **out, *pre, *sock, *fl, *as, *w;

	for (i = 0; env[i] != NULL; i++) {
		if (strncmp(env[i], "LD_PRELOAD=", 11) == 0)
			old = env[i] + 11;
		if (strncmp(env[i], "ASAN_OPTIONS=", 13) == 0 && asan == NULL)
			asan = env[i] + 13;
		n++;
	}
	extra = liblen + (old != NULL ? strlen(old) : 0) + strlen(sockpath) +
	    strlen(fail) + (asan != NULL ? strlen(asan) : 0) +
	    sizeof(EW_SESSION_ASAN_OPTION) + 96;
	if ((out = malloc((n + 6) * sizeof(*out) + extra)) == NULL)
		return NULL;
	w = (char *)(out + n + 6);
	pre = w;
	w += sprintf(w, "LD_PRELOAD=%s", lib);
	/* Keep other preloads (space or colon separated), after ours. */
	for (p = old; p != NULL && *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		e = p + strcspn(p, ": ");
		if (e == p ||
		    ((size_t)(e - p) == liblen && strncmp(p, lib, liblen) == 0))
			continue;
		w += sprintf(w, ":%.*s", (int)(e - p), p);
	}
	w++;
	sock = w;
	w += sprintf(w, "EXECWARD_SOCKET=%s", sockpath) + 1;
	fl = w;
	w += sprintf(w, "EXECWARD_FAIL=%s", fail) + 1;
	/* The caller's ASan options (the first, as ASan reads), then ours. */
	as = w;
	sprintf(w, "ASAN_OPTIONS=%s%s" EW_SESSION_ASAN_OPTION,
	    asan != NULL ? asan : "", asan != NULL && *asan != '\0' ? ":" : "");
	for (i = 0; i < n; i++)
		if (strncmp(env[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(env[i], "EXECWARD_SOCKET=", 16) != 0 &&
		    strncmp(env[i], "EXECWARD_FAIL=", 14) != 0 &&
		    strncmp(env[i], "ASAN_OPTIONS=", 13) != 0 &&
		    (range == NULL ||
			strncmp(env[i], EW_RANGE_ENV "=",
			    sizeof(EW_RANGE_ENV)) != 0))
			out[k++] = env[i];
	if (range != NULL)
		out[k++] = (char *)(uintptr_t)range;
	out[k++] = pre;
	out[k++] = sock;
	out[k++] = fl;
	out[k++] = as;
	out[k] = NULL;
	return out;
}
