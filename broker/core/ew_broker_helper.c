/*
 * The escalation helper's connection (execward-escalate): its ESCALATE is
 * redeemed by the escalation layer, which runs the program; this side
 * keeps the connection for the helper's SIGNALs until the program ends or
 * the helper hangs up.
 */
#include <errno.h>
#include <stdio.h>

#include "ew_broker.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_fd.h"
#include "ew_log.h"

/* The largest message on an escalation's connection (a SIGNAL). */
#define EW_BROKER_HELPER_MSG_MAX 64

/* The program ended and its EXIT went to the helper: the client is done. */
static void
helper_gone(void *ctx)
{
	struct ew_client *c = ctx;

	c->esc = NULL;
	ew_broker_client_free(c);
}

void
ew_broker_answer_escalate(
    struct ew_client *c, struct ew_msg_escalate *m, int *fds, size_t nfds)
{
	struct ew_session *s = c->sess;
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

	if (s->br->esc == NULL) {
		ew_escalate_refuse(s->br->audit, &p, NULL, m->token,
		    "this broker does not escalate");
		ew_fd_close_all(fds, nfds);
		ew_msg_escalate_free(m);
		ew_broker_client_free(c);
		return;
	}
	if (ew_escalate_redeem(s->br->esc, &p, m, fds, nfds, helper_gone, c,
		&x) != EW_ESCALATE_RUNNING) {
		ew_broker_client_free(c);
		return;
	}
	c->esc = x;
}

void
ew_broker_on_helper_read(struct ew_client *c)
{
	unsigned char mem[EW_BROKER_HELPER_MSG_MAX];
	struct ew_buf b;
	uint32_t type;
	int r, sig;

	ew_buf_init(&b, mem, sizeof(mem));
	r = ew_proto_recv(c->fd, &b, NULL, 0, NULL);
	if (r == -EAGAIN)
		return;
	if (r == 0 && (r = ew_proto_get_header(&b, &type)) == 0 &&
	    (type != EW_MSG_SIGNAL
		    ? (r = -EW_E_TYPE)
		    : (r = ew_proto_get_signal(&b, &sig))) == 0) {
		ew_escalate_forward(c->esc, sig);
		return;
	}
	/* Hung up (or spoke nonsense): the program loses its helper. */
	if (r != -EW_E_CLOSED && r != -ECONNRESET)
		ew_log(EW_LOG_WARN, "pid %d: escalation: %s", (int)c->peer_pid,
		    ew_err_str(r));
	ew_broker_client_free(c);
}
