/* MCP methods: message checks, the dispatch table, handlers, logging. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_log.h"
#include "ew_mcp_int.h"

/* Ids longer than this are refused (they are echoed in every answer). */
#define EW_MCP_ID_MAX 4096

/* The method may be called before initialize. */
#define M_PRE_INIT 0x1

struct method {
	const char *name;
	unsigned flags;
	void (*fn)(struct ew_mcp *m, struct ew_mcp_req *r,
	    const struct ew_mcp_val *params);
};

struct notification {
	const char *name;
	void (*fn)(struct ew_mcp *m, const struct ew_mcp_val *params);
};

static const char *const log_levels[] = { "debug", "info", "notice", "warning",
	"error", "critical", "alert", "emergency" };

static const char *const rev_names[] = {
	[EW_MCP_REV_2024_11_05] = "2024-11-05",
	[EW_MCP_REV_2025_03_26] = "2025-03-26",
	[EW_MCP_REV_2025_06_18] = "2025-06-18",
	[EW_MCP_REV_2025_11_25] = "2025-11-25",
};

const char *
ew_mcp_rev_name(enum ew_mcp_rev rev)
{
	if (rev <= EW_MCP_REV_NONE || rev > EW_MCP_REV_LATEST)
		return NULL;
	return rev_names[rev];
}

enum ew_mcp_rev
ew_mcp_rev_parse(const char *s)
{
	int i;

	for (i = EW_MCP_REV_2024_11_05; s != NULL && i <= EW_MCP_REV_LATEST;
	     i++)
		if (strcmp(s, rev_names[i]) == 0)
			return (enum ew_mcp_rev)i;
	return EW_MCP_REV_NONE;
}

enum ew_mcp_rev
ew_mcp_rev(const struct ew_mcp *m)
{
	return m->rev;
}

const char *
ew_mcp_sandbox(const struct ew_mcp *m)
{
	return m->sandbox;
}

const struct ew_sandbox_policy *
ew_mcp_sandbox_policy(const struct ew_mcp *m)
{
	return &m->sbx;
}

bool
ew_mcp_can_elicit(const struct ew_mcp *m, const char **why)
{
	const char *w = NULL;

	if (m->closing)
		w = "the MCP client has closed its input";
	else if (m->rev < EW_MCP_REV_2025_06_18)
		w = "the MCP client's protocol version has no elicitation "
		    "(it needs 2025-06-18 or later)";
	else if (!m->elicit)
		w = "the MCP client cannot show prompts (it did not declare "
		    "the elicitation capability)";
	else if (!m->initialized)
		w = "the MCP client has not sent notifications/initialized";
	if (why != NULL)
		*why = w;
	return w == NULL;
}

void
ew_mcp_log(struct ew_mcp *m, enum ew_mcp_log_level level, const char *logger,
    const char *fmt, ...)
{
	struct ew_json *j;
	char text[2048];
	va_list ap;

	if (!m->log_set || level < m->log_level || m->out_dead)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	j = ew_mcp_notify_begin(m, "notifications/message");
	ew_json_obj_begin(j);
	ew_json_key(j, "level");
	ew_json_str(j, log_levels[level]);
	ew_json_key(j, "logger");
	ew_json_str(j, logger);
	ew_json_key(j, "data");
	ew_json_str(j, text);
	ew_json_obj_end(j);
	ew_mcp_notify_end(m);
}

/* v as JSON text (caller frees); NULL when out of memory or too long. */
static char *
json_text(const struct ew_mcp_val *v, size_t max)
{
	struct ew_buf *b;
	struct ew_json j;
	char *out = NULL;

	if ((b = ew_buf_new(max)) == NULL)
		return NULL;
	ew_json_init(&j, b);
	ew_mcp_val_put(&j, v);
	if (ew_json_error(&j) == 0)
		out = strndup((const char *)ew_buf_ptr(b), ew_buf_len(b));
	ew_buf_free(b);
	return out;
}

/* A deep copy of a small value (a progress token). */
static struct ew_mcp_val *
val_copy(const struct ew_mcp_val *v)
{
	struct ew_mcp_val *out = NULL;
	char *t, err[64];

	if ((t = json_text(v, EW_MCP_ID_MAX * 6 + 16)) == NULL)
		return NULL;
	(void)ew_mcp_parse(t, strlen(t), &out, err, sizeof(err));
	free(t);
	return out;
}

static void
error_data(struct ew_mcp_req *r, int code, const char *msg,
    const struct ew_mcp_error_data *data)
{
	ew_mcp_send_error(r->m, r->batch, r->slot, r->id, code, msg, data);
	ew_mcp_req_drop(r);
}

static void
empty_result(struct ew_mcp_req *r)
{
	struct ew_json *j = ew_mcp_result_begin(r);

	ew_json_obj_begin(j);
	ew_json_obj_end(j);
	ew_mcp_result_end(r);
}

/* What a policy is, for the log. */
static void
log_policy(const char *from, const struct ew_sandbox_policy *p)
{
	ew_log(EW_LOG_INFO,
	    "sandbox %s: %s (%zu writable path(s)%s%.200s, %zu read-only "
	    "inside, network %s)",
	    from, ew_sandbox_mode_name(p->mode), p->nroots,
	    p->workspace != NULL ? ", workspace " : "",
	    p->workspace != NULL ? p->workspace : "", p->nreadonly,
	    p->network ? "on" : "off");
}

/* Codex's sandbox state (older hosts): kept for the calls that follow. */
static void
m_sandbox_state(
    struct ew_mcp *m, struct ew_mcp_req *r, const struct ew_mcp_val *params)
{
	struct ew_sandbox_policy p;
	char msg[640], why[512], *s;

	if (ew_mcp_profile_parse(params, &p, why, sizeof(why)) != 0) {
		snprintf(msg, sizeof(msg), "Invalid params: %s", why);
		ew_mcp_error(r, EW_MCP_E_PARAMS, msg);
		return;
	}
	if ((s = strdup(ew_sandbox_mode_name(p.mode))) == NULL) {
		ew_sandbox_policy_fini(&p);
		ew_mcp_error(r, EW_MCP_E_INTERNAL, "Internal error: no memory");
		return;
	}
	free(m->sandbox);
	m->sandbox = s;
	ew_sandbox_policy_fini(&m->sbx);
	m->sbx = p;
	log_policy("state from the client", &m->sbx);
	empty_result(r);
}

/*
 * Codex 0.171 sends the sandbox with every call, in params._meta (twice:
 * "codex/sandbox-state" and "codex/sandbox-state-meta"). It holds for
 * that call only. A state that cannot be mapped is kept as the reason
 * the call is refused.
 */
static void
call_sandbox(struct ew_mcp_req *r, const struct ew_mcp_val *meta)
{
	const struct ew_mcp_val *st =
	    ew_mcp_val_get(meta, "codex/sandbox-state");
	const struct ew_mcp_val *copy =
	    ew_mcp_val_get(meta, "codex/sandbox-state-meta");
	char *a = NULL, *b = NULL;

	if (st == NULL || st->type == EW_MCP_T_NULL) {
		st = copy;
	} else if (copy != NULL && copy->type != EW_MCP_T_NULL &&
	    ((a = json_text(st, EW_MCP_LINE_MAX)) == NULL ||
		(b = json_text(copy, EW_MCP_LINE_MAX)) == NULL ||
		strcmp(a, b) != 0)) {
		snprintf(r->sbx_err, sizeof(r->sbx_err),
		    "codex/sandbox-state and codex/sandbox-state-meta differ");
		goto out;
	}
	if (st == NULL || st->type == EW_MCP_T_NULL)
		goto out;
	if ((r->sbx = calloc(1, sizeof(*r->sbx))) == NULL) {
		snprintf(r->sbx_err, sizeof(r->sbx_err), "out of memory");
		goto out;
	}
	if (ew_mcp_profile_parse(st, r->sbx, r->sbx_err, sizeof(r->sbx_err)) !=
	    0) {
		free(r->sbx);
		r->sbx = NULL;
		goto out;
	}
	r->sbx_err[0] = '\0';
	log_policy("for this call", r->sbx);
out:
	free(a);
	free(b);
}

const struct ew_sandbox_policy *
ew_mcp_req_sandbox(const struct ew_mcp_req *r, const char **err)
{
	*err = r->sbx_err[0] != '\0' ? r->sbx_err : NULL;
	if (*err != NULL)
		return NULL;
	return r->sbx != NULL ? r->sbx : &r->m->sbx;
}

static void
m_initialize(
    struct ew_mcp *m, struct ew_mcp_req *r, const struct ew_mcp_val *params)
{
	const struct ew_mcp_val *pv = ew_mcp_val_get(params, "protocolVersion");
	const struct ew_mcp_val *caps = ew_mcp_val_get(params, "capabilities");
	const struct ew_mcp_val *el = ew_mcp_val_get(caps, "elicitation");
	const struct ew_mcp_val *info = ew_mcp_val_get(params, "clientInfo");
	struct ew_mcp_error_data data = { .requested = pv };
	const char *asked = ew_mcp_val_str(pv), *cname;
	struct ew_json *j;

	if (m->rev != EW_MCP_REV_NONE) {
		ew_mcp_error(r, EW_MCP_E_INVALID_REQUEST,
		    "Invalid Request: the session is already initialized");
		return;
	}
	if (asked == NULL) {
		error_data(
		    r, EW_MCP_E_PARAMS, "Unsupported protocol version", &data);
		return;
	}
	if (caps != NULL && caps->type != EW_MCP_T_OBJECT) {
		ew_mcp_error(r, EW_MCP_E_PARAMS,
		    "Invalid params: capabilities must be an object");
		return;
	}
	/* The client's version when we speak it, else our newest. */
	m->rev = ew_mcp_rev_parse(asked);
	if (m->rev == EW_MCP_REV_NONE)
		m->rev = EW_MCP_REV_LATEST;
	/* {} is form mode; so is {"form": {}}; {"url": {}} alone is not. */
	m->elicit = el != NULL && el->type == EW_MCP_T_OBJECT &&
	    (ew_mcp_val_get(el, "form") != NULL ||
		ew_mcp_val_get(el, "url") == NULL);
	cname = ew_mcp_val_str(ew_mcp_val_get(info, "name"));
	ew_log(EW_LOG_INFO, "MCP client %s asked for %.32s, speaking %s%s",
	    cname != NULL ? cname : "(unnamed)", asked, ew_mcp_rev_name(m->rev),
	    m->elicit ? ", with elicitation" : ", without elicitation");

	j = ew_mcp_result_begin(r);
	ew_json_obj_begin(j);
	ew_json_key(j, "protocolVersion");
	ew_json_str(j, ew_mcp_rev_name(m->rev));
	ew_json_key(j, "capabilities");
	ew_json_obj_begin(j);
	ew_json_key(j, "tools");
	ew_json_obj_begin(j);
	ew_json_key(j, "listChanged");
	ew_json_bool(j, false);
	ew_json_obj_end(j);
	ew_json_key(j, "logging");
	ew_json_obj_begin(j);
	ew_json_obj_end(j);
	ew_json_key(j, "experimental");
	ew_json_obj_begin(j);
	ew_json_key(j, "codex/sandbox-state");
	ew_json_obj_begin(j);
	ew_json_key(j, "version");
	ew_json_str(j, "1.0.0");
	ew_json_obj_end(j);
	ew_json_obj_end(j);
	ew_json_obj_end(j);
	ew_json_key(j, "serverInfo");
	ew_json_obj_begin(j);
	ew_json_key(j, "name");
	ew_json_str(j, m->cfg.name);
	if (m->rev >= EW_MCP_REV_2025_06_18 && m->cfg.title != NULL) {
		ew_json_key(j, "title");
		ew_json_str(j, m->cfg.title);
	}
	ew_json_key(j, "version");
	ew_json_str(j, m->cfg.version);
	ew_json_obj_end(j);
	if (m->cfg.instructions != NULL) {
		ew_json_key(j, "instructions");
		ew_json_str(j, m->cfg.instructions);
	}
	ew_json_obj_end(j);
	ew_mcp_result_end(r);
}

static void
m_ping(struct ew_mcp *m, struct ew_mcp_req *r, const struct ew_mcp_val *params)
{
	empty_result(r);
}

static void
m_tools_list(
    struct ew_mcp *m, struct ew_mcp_req *r, const struct ew_mcp_val *params)
{
	struct ew_json *j;
	size_t i;

	/* Everything fits on the first page: no cursor is ever handed out. */
	if (ew_mcp_val_get(params, "cursor") != NULL) {
		ew_mcp_error(
		    r, EW_MCP_E_PARAMS, "Invalid params: unknown cursor");
		return;
	}
	j = ew_mcp_result_begin(r);
	ew_json_obj_begin(j);
	ew_json_key(j, "tools");
	ew_json_arr_begin(j);
	for (i = 0; i < m->cfg.ntools; i++)
		m->cfg.tools[i].describe(m->cfg.tools[i].ctx, m, j);
	ew_json_arr_end(j);
	ew_json_obj_end(j);
	ew_mcp_result_end(r);
}

static void
m_tools_call(
    struct ew_mcp *m, struct ew_mcp_req *r, const struct ew_mcp_val *params)
{
	const char *name = ew_mcp_val_str(ew_mcp_val_get(params, "name"));
	const struct ew_mcp_val *args = ew_mcp_val_get(params, "arguments");
	const struct ew_mcp_val *tok =
	    ew_mcp_val_get(ew_mcp_val_get(params, "_meta"), "progressToken");
	const struct ew_mcp_tool *t = NULL;
	char msg[256];
	size_t i;

	if (name == NULL) {
		ew_mcp_error(r, EW_MCP_E_PARAMS,
		    "Invalid params: tools/call needs a tool name");
		return;
	}
	for (i = 0; i < m->cfg.ntools && t == NULL; i++)
		if (strcmp(m->cfg.tools[i].name, name) == 0)
			t = &m->cfg.tools[i];
	if (t == NULL) {
		snprintf(msg, sizeof(msg), "Unknown tool: %.200s", name);
		ew_mcp_error(r, EW_MCP_E_PARAMS, msg);
		return;
	}
	if (args != NULL && args->type != EW_MCP_T_OBJECT) {
		ew_mcp_error(r, EW_MCP_E_PARAMS,
		    "Invalid params: arguments must be an object");
		return;
	}
	if (tok != NULL &&
	    (tok->type == EW_MCP_T_STRING || tok->type == EW_MCP_T_INT))
		r->token = val_copy(tok);
	call_sandbox(r, ew_mcp_val_get(params, "_meta"));
	r->tool = t;
	t->call(t->ctx, r, args);
}

static void
m_set_level(
    struct ew_mcp *m, struct ew_mcp_req *r, const struct ew_mcp_val *params)
{
	const char *level = ew_mcp_val_str(ew_mcp_val_get(params, "level"));
	size_t i;

	for (i = 0; level != NULL && i < 8; i++)
		if (strcmp(level, log_levels[i]) == 0) {
			m->log_set = true;
			m->log_level = (enum ew_mcp_log_level)i;
			empty_result(r);
			return;
		}
	ew_mcp_error(r, EW_MCP_E_PARAMS,
	    "Invalid params: level must be one of debug, info, notice, "
	    "warning, error, critical, alert, emergency");
}

static void
n_initialized(struct ew_mcp *m, const struct ew_mcp_val *params)
{
	if (m->rev != EW_MCP_REV_NONE)
		m->initialized = true;
}

static void
n_cancelled(struct ew_mcp *m, const struct ew_mcp_val *params)
{
	const struct ew_mcp_val *id = ew_mcp_val_get(params, "requestId");
	struct ew_mcp_req *r;
	const char *why = ew_mcp_val_str(ew_mcp_val_get(params, "reason"));
	char *t;

	if (id == NULL ||
	    (id->type != EW_MCP_T_STRING && id->type != EW_MCP_T_INT) ||
	    (t = json_text(id, EW_MCP_ID_MAX * 6 + 16)) == NULL)
		return;
	/* Finished or unknown requests are fine to ignore (races happen). */
	if ((r = ew_mcp_req_find(m, t)) != NULL) {
		ew_log(EW_LOG_INFO,
		    "MCP client cancelled request %.64s%s%.200s", t,
		    why != NULL ? ": " : "", why != NULL ? why : "");
		if (r->tool != NULL && r->tool->cancel != NULL)
			r->tool->cancel(r->tool->ctx, r);
		ew_mcp_req_drop(r);
	}
	free(t);
}

static const struct method methods[] = {
	{ "initialize", M_PRE_INIT, m_initialize },
	{ "ping", M_PRE_INIT, m_ping },
	{ "tools/list", 0, m_tools_list },
	{ "tools/call", 0, m_tools_call },
	{ "logging/setLevel", 0, m_set_level },
	{ "codex/sandbox-state/update", 0, m_sandbox_state },
};

static const struct notification notifications[] = {
	{ "notifications/initialized", n_initialized },
	{ "notifications/cancelled", n_cancelled },
};

static void
request(struct ew_mcp *m, struct ew_mcp_batch *b, size_t slot, char *id,
    const char *name, const struct ew_mcp_val *params)
{
	const struct method *mt = NULL;
	struct ew_mcp_req *r;
	char msg[320];
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, name) == 0)
			mt = &methods[i];
	if (ew_mcp_req_find(m, id) != NULL) {
		snprintf(msg, sizeof(msg),
		    "Invalid Request: id %.64s is in use by a request in "
		    "progress",
		    id);
		ew_mcp_send_error(
		    m, b, slot, id, EW_MCP_E_INVALID_REQUEST, msg, NULL);
	} else if (mt == NULL) {
		snprintf(msg, sizeof(msg), "Method not found: %.200s", name);
		ew_mcp_send_error(m, b, slot, id, EW_MCP_E_METHOD, msg, NULL);
	} else if (m->rev == EW_MCP_REV_NONE && !(mt->flags & M_PRE_INIT)) {
		snprintf(msg, sizeof(msg),
		    "Invalid Request: %.200s before initialize", name);
		ew_mcp_send_error(
		    m, b, slot, id, EW_MCP_E_INVALID_REQUEST, msg, NULL);
	} else if (params != NULL && params->type != EW_MCP_T_OBJECT) {
		ew_mcp_send_error(m, b, slot, id, EW_MCP_E_PARAMS,
		    "Invalid params: params must be an object", NULL);
	} else if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->method = strdup(name)) == NULL) {
		free(r);
		ew_mcp_send_error(m, b, slot, id, EW_MCP_E_INTERNAL,
		    "Internal error: out of memory", NULL);
	} else {
		r->m = m;
		r->id = id;
		r->batch = b;
		r->slot = slot;
		if (b != NULL)
			b->outstanding++;
		r->next = m->inflight;
		if (m->inflight != NULL)
			m->inflight->prev = r;
		m->inflight = r;
		mt->fn(m, r, params);
		return; /* r owns id now */
	}
	free(id);
}

static void
notification(
    struct ew_mcp *m, const char *name, const struct ew_mcp_val *params)
{
	size_t i;

	for (i = 0; i < sizeof(notifications) / sizeof(notifications[0]); i++)
		if (strcmp(notifications[i].name, name) == 0) {
			notifications[i].fn(m, params);
			return;
		}
	ew_log(EW_LOG_DEBUG, "MCP notification %.200s ignored", name);
}

void
ew_mcp_handle_message(struct ew_mcp *m, const struct ew_mcp_val *msg,
    struct ew_mcp_batch *b, size_t slot)
{
	const struct ew_mcp_val *ver, *method, *id, *params;
	const char *name, *bad = NULL, *v;
	char *idtext = NULL, text[160];

	if (msg->type != EW_MCP_T_OBJECT) {
		ew_mcp_send_error(m, b, slot, NULL, EW_MCP_E_INVALID_REQUEST,
		    "Invalid Request: a message must be a JSON object", NULL);
		return;
	}
	ver = ew_mcp_val_get(msg, "jsonrpc");
	method = ew_mcp_val_get(msg, "method");
	id = ew_mcp_val_get(msg, "id");
	params = ew_mcp_val_get(msg, "params");
	v = ew_mcp_val_str(ver);
	if (id != NULL &&
	    (id->type == EW_MCP_T_STRING || id->type == EW_MCP_T_INT) &&
	    (idtext = json_text(id, EW_MCP_ID_MAX)) == NULL)
		bad = "Invalid Request: id is too long";
	name = ew_mcp_val_str(method);

	if (bad == NULL && method == NULL && id != NULL &&
	    (ew_mcp_val_get(msg, "result") != NULL ||
		ew_mcp_val_get(msg, "error") != NULL)) {
		/* An answer to us; it never gets an answer itself. */
		if (v != NULL && strcmp(v, "2.0") == 0)
			ew_mcp_on_response(m, msg);
		free(idtext);
		return;
	}
	if (bad != NULL)
		;
	else if (v == NULL || strcmp(v, "2.0") != 0)
		bad = "Invalid Request: jsonrpc must be \"2.0\"";
	else if (name == NULL)
		bad = "Invalid Request: method must be a string";
	else if (id != NULL && idtext == NULL)
		bad = "Invalid Request: id must be a string or an integer";
	else if (params != NULL && params->type != EW_MCP_T_OBJECT &&
	    params->type != EW_MCP_T_ARRAY)
		bad = "Invalid Request: params must be an object";
	if (bad != NULL) {
		snprintf(text, sizeof(text), "%s", bad);
		ew_mcp_send_error(
		    m, b, slot, idtext, EW_MCP_E_INVALID_REQUEST, text, NULL);
		free(idtext);
		return;
	}
	if (id == NULL)
		notification(m, name, params);
	else
		request(m, b, slot, idtext, name, params);
}
