/*
 * libFuzzer target for the wire decoders: the header, then the decoder for
 * the type it names, on a read-only view of the input. A decoded message
 * must re-encode to exactly the input (the encoding is canonical), and a
 * failed decode must leave the buffer where it was.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ew_buf.h"
#include "ew_err.h"
#include "ew_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a finding) unless re-encoding gave back the input body. */
static void
check_same(struct ew_buf *re, const uint8_t *data, size_t size)
{
	if (ew_buf_len(re) != size || memcmp(ew_buf_ptr(re), data, size) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ew_msg_escalate *esc = NULL;
	struct ew_msg_confine *conf = NULL;
	struct ew_confine c;
	struct ew_msg_answer ans;
	struct ew_msg_ask *ask = NULL;
	struct ew_buf b, saved, *re = NULL;
	struct ew_ask a;
	uint32_t type;
	int r, v;

	ew_buf_init_ro(&b, data, size);
	if (ew_proto_get_header(&b, &type) != 0)
		return 0;
	if ((re = ew_buf_new(EW_PROTO_MSG_MAX)) == NULL)
		abort();
	saved = b;
	switch (type) {
	case EW_MSG_ASK:
		if ((r = ew_proto_get_ask(&b, &ask)) != 0)
			break;
		a.via = ask->via;
		a.pid = ask->pid;
		a.ppid = ask->ppid;
		a.cwd = ask->cwd;
		a.file = ask->file;
		a.resolved = ask->resolved;
		a.argv = ask->argv;
		if (ew_proto_put_ask(re, &a) != 0)
			abort();
		ew_msg_ask_free(ask);
		break;
	case EW_MSG_ANSWER:
		if ((r = ew_proto_get_answer(&b, &ans)) != 0)
			break;
		if (ew_proto_put_answer(
			re, ans.verdict, ans.reason, ans.token) != 0)
			abort();
		break;
	case EW_MSG_ESCALATE:
		if ((r = ew_proto_get_escalate(&b, &esc)) != 0)
			break;
		if (ew_proto_put_escalate(re, esc->token, esc->envp) != 0)
			abort();
		ew_msg_escalate_free(esc);
		break;
	case EW_MSG_CONFINE:
		if ((r = ew_proto_get_confine(&b, &conf)) != 0)
			break;
		c.path = conf->path;
		c.argv = conf->argv;
		c.socket = conf->socket;
		c.flags = conf->flags;
		c.bpf = conf->bpf;
		c.bpf_len = conf->bpf_len;
		if (ew_proto_put_confine(re, &c) != 0)
			abort();
		ew_msg_confine_free(conf);
		break;
	case EW_MSG_SIGNAL:
		if ((r = ew_proto_get_signal(&b, &v)) != 0)
			break;
		if (ew_proto_put_signal(re, v) != 0)
			abort();
		break;
	case EW_MSG_EXIT:
		if ((r = ew_proto_get_exit(&b, &v)) != 0)
			break;
		if (ew_proto_put_exit(re, v) != 0)
			abort();
		break;
	case EW_MSG_FAILED:
		if ((r = ew_proto_get_failed(&b, &v)) != 0)
			break;
		if (ew_proto_put_failed(re, v) != 0)
			abort();
		break;
	default:
		/* HEARTBEAT has no body; LARGE is transport framing. */
		r = -EW_E_TYPE;
		break;
	}
	if (r != 0) {
		if (b.off != saved.off || b.size != saved.size)
			abort();
	} else {
		if (ew_buf_len(&b) != 0)
			abort();
		check_same(re, data, size);
	}
	ew_buf_free(re);
	return 0;
}
