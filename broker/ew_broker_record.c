/*
 * What the audit says beyond a decision: the working directory when the
 * shim could not know it, and an allowed start that then did not happen.
 *
 * The allowed records must match the programs the kernel started, one for
 * one. After an ALLOW the shim keeps its connection through the real call
 * (proto/ew_proto.h, FAILED): an exec that works closes it (it is
 * close-on-exec), a spawn that works closes it right after, and a call
 * that fails first sends FAILED with its errno. So the broker keeps the
 * client for a while after answering, and a FAILED becomes a "failed"
 * record naming the allow record it follows.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_err.h"
#include "ew_log.h"

/*
 * How long an answered client may take to start its program and say how
 * it went. A start that takes longer (a process stopped between answer
 * and exec) is taken as started: the connection is dropped, and a FAILED
 * after that is lost.
 */
#define EW_BROKER_LINGER_S 60.0
/* A FAILED is 12 bytes; anything larger is not one. */
#define EW_BROKER_LINGER_MSG_MAX 64

const char *
ew_broker_record_cwd(const struct ew_client *c, char *buf, size_t buflen,
    char *why, size_t whylen, const char **whyp)
{
	char proc[64];
	/* A trapped start's peer_pid is its task (broker/backstop/). */
	pid_t pid = c->fd >= 0 || c->backstop ? c->peer_pid : getpid();
	ssize_t n;

	*whyp = NULL;
	if (c->ask->cwd[0] != '\0')
		return c->ask->cwd;
	/*
	 * The shim sends "" when getcwd fails: a removed directory (the
	 * kernel then says "... (deleted)" here, which is the marker), one
	 * outside its root, or one past PATH_MAX (too long here too). The
	 * pid is the kernel's (SO_PEERCRED), and the asker is waiting for
	 * our answer, so it is still the process that asked.
	 */
	snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)pid);
	n = readlink(proc, buf, buflen - 1);
	if (n > 0 && (size_t)n < buflen - 1) {
		buf[n] = '\0';
		return buf;
	}
	snprintf(why, whylen, "readlink %s: %s%s", proc,
	    n < 0 ? strerror(errno) : "too long",
	    n < 0 && errno == ENAMETOOLONG
		? " (the working directory is longer than PATH_MAX)"
		: "");
	*whyp = why;
	return "";
}

void
ew_broker_record_failed(struct ew_client *c, int err)
{
	struct ew_broker *br = c->sess->br;
	struct ew_audit_failed f;
	char cwd[PATH_MAX], why[256];
	const char *whyp;
	int r;

	ew_chain_failed(c, err);
	if (br->audit == NULL || c->ask == NULL)
		return;
	memset(&f, 0, sizeof(f));
	f.session = c->sess->id;
	f.pid = c->fd >= 0 ? c->peer_pid : c->ask->pid;
	f.uid = c->peer_uid;
	f.cwd =
	    ew_broker_record_cwd(c, cwd, sizeof(cwd), why, sizeof(why), &whyp);
	f.via = ew_proto_via_name(c->ask->via);
	f.file = c->ask->resolved;
	f.called = c->ask->file;
	f.argv = c->ask->argv;
	f.argc = c->ask->argc;
	f.of = c->audit_seq;
	f.err = err;
	if ((r = ew_audit_write_failed(br->audit, &f)) != 0)
		ew_log(EW_LOG_ERROR,
		    "audit log %s: %s: the failed start of pid %d (seq %llu) "
		    "is not recorded",
		    ew_audit_path(br->audit), strerror(-r), (int)f.pid,
		    (unsigned long long)f.of);
}

bool
ew_broker_linger(struct ew_client *c)
{
	struct ev_loop *loop = c->sess->br->loop;

	if (c->fd < 0)
		return false;
	c->lingering = true;
	/* The decision is recorded: only the ask is needed from now on. */
	ew_policy_result_free(c->res);
	c->res = NULL;
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, EW_BROKER_LINGER_S, 0.);
	ev_timer_start(loop, &c->timer);
	return true;
}

void
ew_broker_on_linger_read(struct ew_client *c)
{
	unsigned char mem[EW_BROKER_LINGER_MSG_MAX];
	struct ew_buf b;
	uint32_t type;
	int err, r;

	ew_buf_init(&b, mem, sizeof(mem));
	r = ew_proto_recv(c->fd, &b, NULL, 0, NULL);
	if (r == -EAGAIN)
		return;
	/* A hang-up is a start that worked; anything else ends it too. */
	if (r == 0 && (r = ew_proto_get_header(&b, &type)) == 0) {
		if (type == EW_MSG_FAILED &&
		    (r = ew_proto_get_failed(&b, &err)) == 0)
			ew_broker_record_failed(c, err);
		else if (r == 0)
			r = -EW_E_TYPE;
	}
	if (r != 0 && r != -EW_E_CLOSED && r != -ECONNRESET)
		ew_log(EW_LOG_DEBUG, "pid %d after its answer: %s",
		    (int)c->peer_pid, ew_err_str(r));
	ew_broker_client_free(c);
}
