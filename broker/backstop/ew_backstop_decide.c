/*
 * One trapped call: read, checked, matched to a question of the shim's or
 * put to the policy like any question, and answered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ew_backstop_int.h"
#include "ew_broker.h"
#include "ew_buf.h"
#include "ew_err.h"
#include "ew_log.h"

/* The denied command in the stderr line, at most this many bytes. */
#define EW_BACKSTOP_CMD_SHOWN 200

static void
link_call(struct ew_backstop *b, struct ew_backstop_call *k)
{
	k->next = b->calls;
	if (b->calls != NULL)
		b->calls->prev = k;
	b->calls = k;
}

static void
unlink_call(struct ew_backstop *b, struct ew_backstop_call *k)
{
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		b->calls = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	k->prev = k->next = NULL;
}

void
ew_backstop_calls_drop(
    struct ew_backstop *b, const struct ew_backstop_listener *l)
{
	struct ew_backstop_call *k, *next;

	/* Their clients go with the session (ew_session_close). */
	for (k = b->calls; k != NULL; k = next) {
		next = k->next;
		if (k->l == l) {
			unlink_call(b, k);
			free(k);
		}
	}
}

/* The decision on a trapped call (the client's done callback). */
static enum ew_client_state
backstop_done(struct ew_client *c, uint32_t verdict, const char *reason)
{
	struct ew_backstop_call *k = c->data;
	struct ew_backstop *b = k->l->b;
	char *cmd;

	/*
	 * Only the shim can run the escalation helper or confine a program
	 * (ew_broker_finish denies such an allow for a trapped call): what
	 * is not an allow fails with EACCES, as the shim fails a start.
	 */
	if (verdict == EW_VERDICT_ALLOW)
		ew_backstop_respond(k->l, k->id, 0);
	else {
		ew_backstop_respond(k->l, k->id, EACCES);
		if (!b->quiet) {
			cmd = ew_broker_command_text(
			    c->ask, EW_BACKSTOP_CMD_SHOWN);
			fprintf(stderr,
			    "execward: denied: %s: %s (a start of pid %d the "
			    "shim did not see: the kernel backstop caught "
			    "it)\n",
			    cmd != NULL ? cmd : c->ask->resolved,
			    reason != NULL ? reason : "denied",
			    (int)c->ask->pid);
			free(cmd);
		}
	}
	unlink_call(b, k);
	free(k);
	c->data = NULL;
	return EW_CLIENT_CLOSED;
}

/*
 * Put t to the policy: the same question a shim would have asked, through
 * the wire format so that the same caps and checks apply, with what the
 * kernel saw as its via. 0, or -errno when it cannot be asked.
 */
static int
decide(struct ew_backstop_listener *l, uint64_t id, struct ew_backstop_trap *t)
{
	struct ew_backstop *b = l->b;
	struct ew_backstop_call *k = NULL;
	struct ew_msg_ask *m = NULL;
	struct ew_client *c;
	struct ew_buf *buf;
	struct ew_ask a;
	char fdname[64];
	uint32_t type;
	int r;

	memset(&a, 0, sizeof(a));
	a.via = t->at ? EW_VIA_EXECVEAT : EW_VIA_EXECVE;
	a.pid = t->tgid;
	a.ppid = t->ppid;
	a.cwd = t->cwd;
	/* What the kernel calls a program run from an fd. */
	snprintf(fdname, sizeof(fdname), "/dev/fd/%d", t->dirfd);
	a.file = t->path[0] != '\0' ? t->path : fdname;
	a.resolved = t->resolved;
	a.argv = t->argv;
	if ((buf = ew_buf_new(EW_PROTO_MSG_MAX)) == NULL)
		return -ENOMEM;
	r = ew_proto_put_ask(buf, &a);
	if (r == 0 && (r = ew_proto_get_header(buf, &type)) == 0)
		r = ew_proto_get_ask(buf, &m);
	ew_buf_free(buf);
	if (r != 0)
		return r == -EW_E_LIMIT ? -E2BIG
		    : r == -EW_E_NOMEM  ? -ENOMEM
					: -EINVAL;
	m->via = t->at ? EW_VIA_KERNEL_EXECVEAT : EW_VIA_KERNEL_EXECVE;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (c = ew_session_client_local(l->sess, m, backstop_done, k)) ==
		NULL) {
		free(k);
		ew_msg_ask_free(m);
		return -ENOMEM;
	}
	k->l = l;
	k->id = id;
	k->tid = t->tid;
	link_call(b, k);
	/*
	 * Who asked is the kernel's word: the calling task (its /proc is
	 * where what runs is found, ew_broker_record_cwd) and its uid.
	 */
	c->role = EW_CLIENT_KERNEL;
	c->peer_pid = t->tid;
	c->peer_uid = t->uid;
	c->outside = l->outside;
	c->exe = t->exe;
	ew_broker_client_enter(c, ew_broker_answer_ask(c));
	return 0;
}

void
ew_backstop_handle(
    struct ew_backstop_listener *l, const struct seccomp_notif *n)
{
	struct ew_backstop_trap t;
	uint64_t id = n->id;
	bool unreadable;
	int r;

	memset(&t, 0, sizeof(t));
	t.tid = (pid_t)n->pid;
	/* A task in a pid namespace we cannot see: nothing to read. */
	if (t.tid <= 0) {
		ew_log(EW_LOG_WARN,
		    "backstop: a trapped start from a process outside our pid "
		    "namespace: refused");
		ew_backstop_respond(l, id, EACCES);
		return;
	}
	r = ew_backstop_read(n, &t);
	unreadable = r == -EACCES;
	if (r == 0)
		r = ew_backstop_resolve(&t);
	/*
	 * What was read is that task's only if its call still waits (the
	 * pid may have been recycled): checked after every read.
	 */
	if (ioctl(l->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0)
		goto out;
	if (unreadable) {
		ew_log(EW_LOG_WARN,
		    "backstop: cannot read the start of pid %d: refused",
		    (int)t.tid);
		ew_backstop_respond(l, id, EACCES);
		goto out;
	}
	if (r != 0) {
		/* The kernel would refuse it too: nothing to ask, as the
		 * shim does not ask about a missing program. */
		ew_backstop_respond(l, id, -r);
		goto out;
	}
	/* A start of the shim's, already asked about and recorded. */
	if (ew_backstop_match(l->sess, &t)) {
		ew_backstop_respond(l, id, 0);
		goto out;
	}
	if ((r = decide(l, id, &t)) != 0) {
		ew_log(EW_LOG_WARN, "backstop: the start of pid %d: %s",
		    (int)t.tid, ew_err_str(r));
		ew_backstop_respond(l, id, r == -E2BIG ? E2BIG : EACCES);
	}
out:
	ew_backstop_trap_fini(&t);
}
