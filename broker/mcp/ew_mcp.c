/* The MCP server: stdio framing, JSON-RPC 2.0 messages, batches, replies. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "ew_err.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_mcp_int.h"

/* Read this much of the input at a time. */
#define EW_MCP_READ_CHUNK (64u * 1024)
/* Ping the client this often while it owes us an answer (default). */
#define EW_MCP_PING_S 30.0

/* The output queue. */

/* Write what the queue holds; false when the client is gone. */
static bool
queue_flush(struct ew_mcp *m)
{
	ssize_t w;

	while (m->qlen > m->qoff) {
		w = write(m->cfg.out_fd, m->q + m->qoff, m->qlen - m->qoff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			ew_log(EW_LOG_INFO, "MCP output closed (%s): stopping",
			    w < 0 ? strerror(errno) : "end of file");
			m->out_dead = true;
			m->qoff = m->qlen = 0;
			ev_io_stop(m->loop, &m->out_w);
			return false;
		}
		m->qoff += (size_t)w;
	}
	if (m->qoff == m->qlen) {
		m->qoff = m->qlen = 0;
		ev_io_stop(m->loop, &m->out_w);
	} else {
		if (m->qoff > m->qalloc / 2) {
			memmove(m->q, m->q + m->qoff, m->qlen - m->qoff);
			m->qlen -= m->qoff;
			m->qoff = 0;
		}
		ev_io_start(m->loop, &m->out_w);
	}
	return true;
}

static void
ew_broker_on_mcp_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_mcp *m = w->data;

	if (!queue_flush(m))
		ew_mcp_close(m);
	else
		ew_mcp_check_finished(m);
}

/* Queue text[0..n) and a newline as one line, and start writing it. */
static void
send_line(struct ew_mcp *m, const char *text, size_t n)
{
	size_t need, na;
	char *nq;

	if (m->out_dead || m->freeing)
		return;
	need = m->qlen + n + 1;
	if (need - m->qoff > EW_MCP_QUEUE_MAX) {
		ew_log(EW_LOG_ERROR,
		    "MCP client reads nothing (%zu bytes waiting): stopping",
		    m->qlen - m->qoff);
		m->out_dead = true;
		ew_mcp_close(m);
		return;
	}
	if (need > m->qalloc) {
		na = m->qalloc < 4096 ? 4096 : m->qalloc;
		while (na < need)
			na *= 2;
		if ((nq = realloc(m->q, na)) == NULL) {
			ew_log(
			    EW_LOG_ERROR, "out of memory: a message is lost");
			return;
		}
		m->q = nq;
		m->qalloc = na;
	}
	memcpy(m->q + m->qlen, text, n);
	m->q[m->qlen + n] = '\n';
	m->qlen += n + 1;
	if (!queue_flush(m))
		ew_mcp_close(m);
}

/* Batches. */

static struct ew_mcp_batch *
batch_new(size_t n)
{
	struct ew_mcp_batch *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->slots = calloc(n, sizeof(*b->slots))) == NULL ||
	    (b->lens = calloc(n, sizeof(*b->lens))) == NULL) {
		free(b->slots);
		free(b);
		return NULL;
	}
	b->n = n;
	b->outstanding = 1; /* held while its elements are read */
	return b;
}

/* One answer fewer to wait for; the last one sends the whole batch. */
static void
batch_release(struct ew_mcp *m, struct ew_mcp_batch *b)
{
	char *line, *p;
	size_t i, total = 2, filled = 0;

	assert(b->outstanding > 0);
	if (--b->outstanding > 0)
		return;
	for (i = 0; i < b->n; i++)
		if (b->slots[i] != NULL) {
			total += b->lens[i] + 1;
			filled++;
		}
	/* Only notifications and answers: nothing is written at all. */
	if (filled > 0 && (line = malloc(total)) != NULL) {
		p = line;
		*p++ = '[';
		for (i = 0; i < b->n; i++) {
			if (b->slots[i] == NULL)
				continue;
			if (p > line + 1)
				*p++ = ',';
			memcpy(p, b->slots[i], b->lens[i]);
			p += b->lens[i];
		}
		*p++ = ']';
		send_line(m, line, (size_t)(p - line));
		free(line);
	}
	for (i = 0; i < b->n; i++)
		free(b->slots[i]);
	free(b->slots);
	free(b->lens);
	free(b);
}

/* Deliver one finished message: to its batch slot, or as a line. */
static void
deliver(struct ew_mcp *m, struct ew_mcp_batch *b, size_t slot, const char *text,
    size_t n)
{
	if (b == NULL) {
		send_line(m, text, n);
		return;
	}
	if ((b->slots[slot] = malloc(n)) != NULL) {
		memcpy(b->slots[slot], text, n);
		b->lens[slot] = n;
	}
}

/* Building messages: one at a time, in m->mb. */

static struct ew_json *
msg_begin(struct ew_mcp *m)
{
	assert(!m->building);
	m->building = true;
	ew_buf_reset(m->mb);
	ew_json_init(&m->mj, m->mb);
	ew_json_obj_begin(&m->mj);
	ew_json_key(&m->mj, "jsonrpc");
	ew_json_str(&m->mj, "2.0");
	return &m->mj;
}

/* Close the message; 0 with its text in m->mb, or the writer's error. */
static int
msg_end(struct ew_mcp *m)
{
	assert(m->building);
	m->building = false;
	ew_json_obj_end(&m->mj);
	return ew_json_error(&m->mj);
}

static void
put_id(struct ew_json *j, const char *id)
{
	ew_json_key(j, "id");
	if (id != NULL)
		ew_json_raw(j, id, strlen(id));
	else
		ew_json_null(j);
}

/* An error response (id NULL: unknown), delivered to b or as a line. */
void
ew_mcp_send_error(struct ew_mcp *m, struct ew_mcp_batch *b, size_t slot,
    const char *id, int code, const char *msg,
    const struct ew_mcp_error_data *data)
{
	struct ew_json *j = msg_begin(m);
	size_t i;

	put_id(j, id);
	ew_json_key(j, "error");
	ew_json_obj_begin(j);
	ew_json_key(j, "code");
	ew_json_int(j, code);
	ew_json_key(j, "message");
	ew_json_str(j, msg);
	if (data != NULL) {
		ew_json_key(j, "data");
		ew_json_obj_begin(j);
		ew_json_key(j, "supported");
		ew_json_arr_begin(j);
		for (i = EW_MCP_REV_LATEST; i > EW_MCP_REV_NONE; i--)
			ew_json_str(j, ew_mcp_rev_name((enum ew_mcp_rev)i));
		ew_json_arr_end(j);
		if (data->requested != NULL) {
			ew_json_key(j, "requested");
			ew_mcp_val_put(j, data->requested);
		}
		ew_json_obj_end(j);
	}
	ew_json_obj_end(j);
	if (msg_end(m) != 0) {
		ew_log(EW_LOG_ERROR, "cannot encode an error reply");
		return;
	}
	deliver(m, b, slot, (const char *)ew_buf_ptr(m->mb), ew_buf_len(m->mb));
}

/* Requests. */

struct ew_mcp *
ew_mcp_req_server(const struct ew_mcp_req *r)
{
	return r->m;
}

const struct ew_mcp_val *
ew_mcp_req_progress_token(const struct ew_mcp_req *r)
{
	return r->token;
}

struct ew_mcp_req *
ew_mcp_req_find(struct ew_mcp *m, const char *id)
{
	struct ew_mcp_req *r;

	for (r = m->inflight; r != NULL; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

/* Forget r: off the in-flight list, its batch slot left empty. */
void
ew_mcp_req_drop(struct ew_mcp_req *r)
{
	struct ew_mcp *m = r->m;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		m->inflight = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	if (r->batch != NULL)
		batch_release(m, r->batch);
	if (r->sbx != NULL)
		ew_sandbox_policy_fini(r->sbx);
	free(r->sbx);
	ew_mcp_val_free(r->token);
	free(r->id);
	free(r->method);
	free(r);
	ew_mcp_check_finished(m);
}

struct ew_json *
ew_mcp_result_begin(struct ew_mcp_req *r)
{
	struct ew_json *j = msg_begin(r->m);

	put_id(j, r->id);
	ew_json_key(j, "result");
	return j;
}

void
ew_mcp_result_end(struct ew_mcp_req *r)
{
	struct ew_mcp *m = r->m;
	int e;

	if ((e = msg_end(m)) != 0) {
		ew_log(EW_LOG_ERROR, "%s reply: %s", r->method, ew_err_str(e));
		ew_mcp_send_error(m, r->batch, r->slot, r->id,
		    EW_MCP_E_INTERNAL,
		    "Internal error: the result could not be encoded", NULL);
	} else
		deliver(m, r->batch, r->slot, (const char *)ew_buf_ptr(m->mb),
		    ew_buf_len(m->mb));
	ew_mcp_req_drop(r);
}

void
ew_mcp_error(struct ew_mcp_req *r, int code, const char *msg)
{
	ew_mcp_send_error(r->m, r->batch, r->slot, r->id, code, msg, NULL);
	ew_mcp_req_drop(r);
}

/* Notifications and requests to the client. */

struct ew_json *
ew_mcp_notify_begin(struct ew_mcp *m, const char *method)
{
	struct ew_json *j = msg_begin(m);

	ew_json_key(j, "method");
	ew_json_str(j, method);
	ew_json_key(j, "params");
	return j;
}

void
ew_mcp_notify_end(struct ew_mcp *m)
{
	int e;

	if ((e = msg_end(m)) != 0) {
		ew_log(EW_LOG_ERROR, "notification: %s", ew_err_str(e));
		return;
	}
	send_line(m, (const char *)ew_buf_ptr(m->mb), ew_buf_len(m->mb));
}

struct ew_json *
ew_mcp_request_begin(
    struct ew_mcp *m, const char *method, char *id, size_t idlen)
{
	struct ew_json *j = msg_begin(m);

	snprintf(m->req_id, sizeof(m->req_id), "ew-%llu",
	    (unsigned long long)++m->next_id);
	snprintf(id, idlen, "%s", m->req_id);
	ew_json_key(j, "id");
	ew_json_str(j, m->req_id);
	ew_json_key(j, "method");
	ew_json_str(j, method);
	ew_json_key(j, "params");
	return j;
}

int
ew_mcp_request_end(struct ew_mcp *m, ew_mcp_reply_fn fn, void *arg)
{
	struct ew_mcp_pending *p;
	int e;

	if ((e = msg_end(m)) != 0)
		return e;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	snprintf(p->id, sizeof(p->id), "%s", m->req_id);
	p->fn = fn;
	p->arg = arg;
	p->is_ping = fn == NULL;
	p->next = m->pending;
	m->pending = p;
	send_line(m, (const char *)ew_buf_ptr(m->mb), ew_buf_len(m->mb));
	ew_mcp_ping_arm(m);
	return 0;
}

/* Take the pending request id off the list; NULL when unknown. */
static struct ew_mcp_pending *
pending_take(struct ew_mcp *m, const char *id)
{
	struct ew_mcp_pending **pp, *p;

	for (pp = &m->pending; (p = *pp) != NULL; pp = &p->next)
		if (strcmp(p->id, id) == 0) {
			*pp = p->next;
			return p;
		}
	return NULL;
}

void
ew_mcp_request_forget(struct ew_mcp *m, const char *id, const char *reason)
{
	struct ew_mcp_pending *p = pending_take(m, id);
	struct ew_json *j;

	if (p == NULL)
		return;
	free(p);
	if (reason != NULL && !m->out_dead) {
		j = ew_mcp_notify_begin(m, "notifications/cancelled");
		ew_json_obj_begin(j);
		ew_json_key(j, "requestId");
		ew_json_str(j, id);
		ew_json_key(j, "reason");
		ew_json_str(j, reason);
		ew_json_obj_end(j);
		ew_mcp_notify_end(m);
	}
	ew_mcp_ping_arm(m);
}

/* The client answered one of our requests. */
void
ew_mcp_on_response(struct ew_mcp *m, const struct ew_mcp_val *msg)
{
	const struct ew_mcp_val *id = ew_mcp_val_get(msg, "id");
	const struct ew_mcp_val *err = ew_mcp_val_get(msg, "error");
	const struct ew_mcp_val *res = ew_mcp_val_get(msg, "result");
	struct ew_mcp_pending *p;
	const char *s = ew_mcp_val_str(id);

	if (s == NULL || (p = pending_take(m, s)) == NULL) {
		/* Late (cancelled, timed out) or not ours: nothing to do. */
		ew_log(EW_LOG_DEBUG, "MCP: an answer to no pending request");
		return;
	}
	if (p->is_ping)
		m->ping_out = false;
	else if (err != NULL && err->type == EW_MCP_T_OBJECT)
		p->fn(m, p->arg, NULL, err);
	else if (res != NULL && err == NULL)
		p->fn(m, p->arg, res, NULL);
	else
		p->fn(m, p->arg, NULL, m->bad_reply);
	free(p);
	ew_mcp_ping_arm(m);
}

int
ew_mcp_ping(struct ew_mcp *m, ew_mcp_reply_fn fn, void *arg)
{
	char id[32];
	struct ew_json *j = ew_mcp_request_begin(m, "ping", id, sizeof(id));

	ew_json_obj_begin(j);
	ew_json_obj_end(j);
	return ew_mcp_request_end(m, fn, arg);
}

/*
 * While the client owes us answers (a person is being asked), make sure
 * it is still there: a client that cannot answer a ping within one period
 * will not answer the rest either, and they fail (closed).
 */
static void
ew_broker_on_mcp_ping(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_mcp *m = w->data;
	struct ew_mcp_pending *p, *list;

	if (m->ping_out) {
		ew_log(EW_LOG_WARN,
		    "MCP client did not answer a ping in %g s: its "
		    "pending requests fail",
		    m->ping_s);
		m->ping_out = false;
		/* Only those sent so far: a callback may ask again. */
		list = m->pending;
		m->pending = NULL;
		while ((p = list) != NULL) {
			list = p->next;
			if (!p->is_ping)
				p->fn(m, p->arg, NULL, m->no_answer);
			free(p);
		}
		ew_mcp_ping_arm(m);
		return;
	}
	m->ping_out = true;
	(void)ew_mcp_ping(m, NULL, NULL);
}

void
ew_mcp_ping_arm(struct ew_mcp *m)
{
	struct ew_mcp_pending *p;
	bool waiting = false;

	for (p = m->pending; p != NULL; p = p->next)
		waiting |= !p->is_ping;
	if (waiting && !m->closing && !ev_is_active(&m->ping_w)) {
		ev_timer_set(&m->ping_w, m->ping_s, m->ping_s);
		ev_timer_start(m->loop, &m->ping_w);
	} else if (!waiting && ev_is_active(&m->ping_w)) {
		ev_timer_stop(m->loop, &m->ping_w);
	}
}

/* Lines in, messages out. */

static void
handle_line(struct ew_mcp *m, char *line, size_t len)
{
	struct ew_mcp_val *v = NULL;
	struct ew_mcp_batch *b;
	char err[256], msg[320];
	size_t i;
	int r;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len && strchr(" \t\r", line[i]) != NULL; i++)
		;
	if (i == len)
		return; /* a blank line is no message */
	if ((r = ew_mcp_parse(line, len, &v, err, sizeof(err))) != 0) {
		snprintf(msg, sizeof(msg), "%s: %s",
		    r == -EW_E_LIMIT ? "Invalid Request" : "Parse error", err);
		ew_mcp_send_error(m, NULL, 0, NULL,
		    r == -EW_E_LIMIT ? EW_MCP_E_INVALID_REQUEST
				     : EW_MCP_E_PARSE,
		    msg, NULL);
		return;
	}
	if (v->type != EW_MCP_T_ARRAY) {
		ew_mcp_handle_message(m, v, NULL, 0);
		goto out;
	}
	/* A batch: JSON-RPC 2.0 semantics, where the revision has them. */
	if (m->rev == EW_MCP_REV_NONE || m->rev >= EW_MCP_REV_2025_06_18) {
		snprintf(msg, sizeof(msg),
		    "Invalid Request: JSON-RPC batches are not supported %s%s",
		    m->rev == EW_MCP_REV_NONE ? "before initialize"
					      : "in protocol version ",
		    m->rev == EW_MCP_REV_NONE ? "" : ew_mcp_rev_name(m->rev));
		ew_mcp_send_error(
		    m, NULL, 0, NULL, EW_MCP_E_INVALID_REQUEST, msg, NULL);
		goto out;
	}
	if (v->n == 0) {
		ew_mcp_send_error(m, NULL, 0, NULL, EW_MCP_E_INVALID_REQUEST,
		    "Invalid Request: empty batch", NULL);
		goto out;
	}
	if ((b = batch_new(v->n)) == NULL) {
		ew_mcp_send_error(m, NULL, 0, NULL, EW_MCP_E_INTERNAL,
		    "Internal error: out of memory", NULL);
		goto out;
	}
	for (i = 0; i < v->n; i++)
		ew_mcp_handle_message(m, v->vals[i], b, i);
	batch_release(m, b);
out:
	ew_mcp_val_free(v);
}

/* Append n input bytes to the current line (or drop them, past the cap). */
static void
line_add(struct ew_mcp *m, const char *p, size_t n)
{
	size_t na;
	char *nl;

	if (n == 0)
		return; /* an empty read adds nothing (and m->line may be NULL)
			 */
	if (m->discarding) {
		m->discarded += n;
		return;
	}
	if (n > EW_MCP_LINE_MAX - m->llen) {
		/* Too long: forget it, keep reading to its end, then say so. */
		m->discarding = true;
		m->discarded = m->llen + n;
		free(m->line);
		m->line = NULL;
		m->llen = m->lalloc = 0;
		return;
	}
	if (m->llen + n > m->lalloc) {
		na = m->lalloc < 4096 ? 4096 : m->lalloc;
		while (na < m->llen + n)
			na *= 2;
		if ((nl = realloc(m->line, na)) == NULL) {
			m->discarding = true;
			m->discarded = m->llen + n;
			return;
		}
		m->line = nl;
		m->lalloc = na;
	}
	memcpy(m->line + m->llen, p, n);
	m->llen += n;
}

/* A newline (or the end of input) closes the current line. */
static void
line_end(struct ew_mcp *m)
{
	char msg[160];

	if (m->discarding) {
		snprintf(msg, sizeof(msg),
		    "Invalid Request: message of %zu bytes exceeds the "
		    "limit of %u bytes",
		    m->discarded, EW_MCP_LINE_MAX);
		ew_log(EW_LOG_WARN, "MCP: %s", msg);
		ew_mcp_send_error(
		    m, NULL, 0, NULL, EW_MCP_E_INVALID_REQUEST, msg, NULL);
		m->discarding = false;
		m->discarded = 0;
	} else if (m->llen > 0) {
		handle_line(m, m->line, m->llen);
	}
	m->llen = 0;
	/* A huge line's storage is not kept for the next small one. */
	if (m->lalloc > 1024u * 1024) {
		free(m->line);
		m->line = NULL;
		m->lalloc = 0;
	}
}

static void
ew_broker_on_mcp_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_mcp *m = w->data;
	char *buf = m->rbuf, *p, *nl;
	ssize_t n;
	size_t left;

	n = read(m->cfg.in_fd, buf, EW_MCP_READ_CHUNK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (n < 0)
			ew_log(
			    EW_LOG_WARN, "read MCP input: %s", strerror(errno));
		if (m->llen > 0 || m->discarding)
			line_end(m);
		ew_log(EW_LOG_DEBUG, "MCP input closed");
		ew_mcp_close(m);
		return;
	}
	p = buf;
	left = (size_t)n;
	while (left > 0 && !m->closing) {
		if ((nl = memchr(p, '\n', left)) == NULL) {
			line_add(m, p, left);
			break;
		}
		line_add(m, p, (size_t)(nl - p));
		line_end(m);
		left -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
}

/* Lifecycle. */

static void
finish(struct ew_mcp *m)
{
	if (m->finished)
		return;
	m->finished = true;
	ev_timer_stop(m->loop, &m->close_w);
	ev_break(m->loop, EVBREAK_ALL);
}

void
ew_mcp_check_finished(struct ew_mcp *m)
{
	if (m->closing && m->inflight == NULL &&
	    (m->out_dead || m->qlen == m->qoff))
		finish(m);
}

static void
ew_broker_on_mcp_close_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_mcp *m = w->data;

	ew_log(EW_LOG_DEBUG, "MCP: closing without waiting any longer");
	finish(m);
}

void
ew_mcp_close(struct ew_mcp *m)
{
	size_t i;

	if (m->closing)
		return;
	m->closing = true;
	ev_io_stop(m->loop, &m->in_w);
	ev_timer_stop(m->loop, &m->ping_w);
	ev_timer_set(&m->close_w, m->cfg.close_grace_s, 0.);
	ev_timer_start(m->loop, &m->close_w);
	for (i = 0; i < m->cfg.ntools; i++)
		if (m->cfg.tools[i].shutdown != NULL)
			m->cfg.tools[i].shutdown(m->cfg.tools[i].ctx);
	ew_mcp_check_finished(m);
}

bool
ew_mcp_finished(const struct ew_mcp *m)
{
	return m->finished;
}

struct ev_loop *
ew_mcp_loop(const struct ew_mcp *m)
{
	return m->loop;
}

int
ew_mcp_new(
    struct ev_loop *loop, const struct ew_mcp_config *cfg, struct ew_mcp **out)
{
	static const char no_answer[] =
	    "{\"code\":-32001,\"message\":\"the client did not answer a "
	    "ping\"}";
	static const char bad_reply[] = "{\"code\":-32600,\"message\":\"the "
					"client's answer had neither result "
					"nor error\"}";
	struct ew_mcp *m;
	char err[64];
	int r = -ENOMEM;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->loop = loop;
	m->cfg = *cfg;
	if (m->cfg.close_grace_s <= 0)
		m->cfg.close_grace_s = 1.5;
	m->ping_s = cfg->ping_s > 0 ? cfg->ping_s : EW_MCP_PING_S;
	m->sandbox = cfg->sandbox != NULL ? strdup(cfg->sandbox) : NULL;
	(void)ew_sandbox_mode_parse(cfg->sandbox, &m->sbx.mode);
	if ((cfg->sandbox != NULL && m->sandbox == NULL) ||
	    (m->rbuf = malloc(EW_MCP_READ_CHUNK)) == NULL ||
	    (m->mb = ew_buf_new(EW_MCP_MSG_OUT_MAX)) == NULL)
		goto fail;
	if ((r = ew_mcp_parse(no_answer, sizeof(no_answer) - 1, &m->no_answer,
		 err, sizeof(err))) != 0 ||
	    (r = ew_mcp_parse(bad_reply, sizeof(bad_reply) - 1, &m->bad_reply,
		 err, sizeof(err))) != 0)
		goto fail;
	/*
	 * A terminal is shared with the shell that started us: leave it
	 * blocking. Anything else is ours, and a client that reads slowly
	 * must not stop the loop (commands keep running, prompts keep
	 * waiting).
	 */
	if (!isatty(cfg->out_fd) && (r = ew_fd_nonblock(cfg->out_fd, 1)) != 0)
		goto fail;
	ev_io_init(&m->in_w, ew_broker_on_mcp_stdin, cfg->in_fd, EV_READ);
	m->in_w.data = m;
	ev_io_init(&m->out_w, ew_broker_on_mcp_writable, cfg->out_fd, EV_WRITE);
	m->out_w.data = m;
	ev_timer_init(&m->close_w, ew_broker_on_mcp_close_timer, 1., 0.);
	m->close_w.data = m;
	ev_timer_init(&m->ping_w, ew_broker_on_mcp_ping, m->ping_s, m->ping_s);
	m->ping_w.data = m;
	ev_io_start(loop, &m->in_w);
	*out = m;
	return 0;
fail:
	ew_mcp_val_free(m->no_answer);
	ew_mcp_val_free(m->bad_reply);
	ew_buf_free(m->mb);
	free(m->rbuf);
	free(m->sandbox);
	ew_sandbox_policy_fini(&m->sbx);
	free(m);
	return r;
}

void
ew_mcp_free(struct ew_mcp *m)
{
	struct ew_mcp_pending *p;

	if (m == NULL)
		return;
	m->freeing = true;
	ev_io_stop(m->loop, &m->in_w);
	ev_io_stop(m->loop, &m->out_w);
	ev_timer_stop(m->loop, &m->close_w);
	ev_timer_stop(m->loop, &m->ping_w);
	while (m->inflight != NULL)
		ew_mcp_req_drop(m->inflight);
	while ((p = m->pending) != NULL) {
		m->pending = p->next;
		free(p);
	}
	ew_mcp_val_free(m->no_answer);
	ew_mcp_val_free(m->bad_reply);
	ew_buf_free(m->mb);
	free(m->rbuf);
	free(m->line);
	free(m->q);
	free(m->sandbox);
	ew_sandbox_policy_fini(&m->sbx);
	free(m);
}
