/* MCP server internals shared by its files (never installed). */
#ifndef EW_MCP_INT_H
#define EW_MCP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ew_buf.h"
#include "ew_mcp.h"
#include "ew_sandbox.h"

/* Why a call's sandbox cannot be had, at most. */
#define EW_MCP_SANDBOX_ERR_MAX 512

/* The answers of one batch, sent together when the last one is in. */
struct ew_mcp_batch {
	size_t n;
	char **slots; /* each element's response text; NULL: none */
	size_t *lens;
	size_t outstanding; /* requests not answered yet (+1 while read) */
};

/* A request from the client that has not been answered yet. */
struct ew_mcp_req {
	struct ew_mcp *m;
	char *id; /* as JSON text: "\"abc\"" or "7" */
	char *method;
	struct ew_mcp_val *token; /* params._meta.progressToken, or NULL */
	const struct ew_mcp_tool *tool; /* tools/call: whose call */
	struct ew_mcp_batch *batch; /* NULL: answered on a line of its own */
	size_t slot;
	/* tools/call: the sandbox Codex asked for in params._meta, or why
	 * it cannot be had (both NULL: the session's). */
	struct ew_sandbox_policy *sbx;
	char sbx_err[EW_MCP_SANDBOX_ERR_MAX];
	struct ew_mcp_req *prev, *next; /* m->inflight */
};

/* A request we sent to the client. */
struct ew_mcp_pending {
	char id[32];
	ew_mcp_reply_fn fn;
	void *arg;
	bool is_ping; /* our keep-alive ping (fn is NULL) */
	struct ew_mcp_pending *next;
};

/* The "data" of an unsupported-protocol-version error. */
struct ew_mcp_error_data {
	const struct ew_mcp_val *requested;
};

struct ew_mcp {
	struct ev_loop *loop;
	struct ew_mcp_config cfg;
	ev_io in_w, out_w;
	ev_timer close_w, ping_w;
	double ping_s;
	bool closing, finished, freeing, out_dead, building, ping_out;

	/* Input: the line being read. */
	char *rbuf;
	char *line;
	size_t llen, lalloc;
	bool discarding; /* the line is over the cap: drop to its end */
	size_t discarded;

	/* Output: whole lines waiting for the client, q[qoff..qlen). */
	char *q;
	size_t qoff, qlen, qalloc;
	struct ew_buf *mb; /* the message being built */
	struct ew_json mj;

	/* The session. */
	enum ew_mcp_rev rev;
	bool initialized; /* notifications/initialized came */
	bool elicit; /* the client can answer form elicitations */
	bool log_set;
	enum ew_mcp_log_level log_level;
	char *sandbox;
	/* What the sandbox confines (--sandbox, then Codex's updates). */
	struct ew_sandbox_policy sbx;
	uint64_t next_id;
	char req_id[32];
	struct ew_mcp_req *inflight;
	struct ew_mcp_pending *pending;
	struct ew_mcp_val *no_answer; /* the error given when pings fail */
	struct ew_mcp_val *bad_reply;
};

/* Send an error response with id (JSON text, NULL: null) to b or a line. */
void ew_mcp_send_error(struct ew_mcp *m, struct ew_mcp_batch *b, size_t slot,
    const char *id, int code, const char *msg,
    const struct ew_mcp_error_data *data);
/* Dispatch one message (not a batch) of a line or of batch b's slot. */
void ew_mcp_handle_message(struct ew_mcp *m, const struct ew_mcp_val *msg,
    struct ew_mcp_batch *b, size_t slot);
/* The client answered one of our requests. */
void ew_mcp_on_response(struct ew_mcp *m, const struct ew_mcp_val *msg);
/* The unanswered request with id (JSON text), or NULL. */
struct ew_mcp_req *ew_mcp_req_find(struct ew_mcp *m, const char *id);
/* Forget r without answering (cancelled); frees it. */
void ew_mcp_req_drop(struct ew_mcp_req *r);
/* Start or stop the keep-alive pings as the pending requests need. */
void ew_mcp_ping_arm(struct ew_mcp *m);
/* Finish if closing and nothing is left to wait for. */
void ew_mcp_check_finished(struct ew_mcp *m);

/*
 * Asking through elicitation (ew_mcp_elicit.c): one asker per tool call,
 * the prompt_ctx of the call's broker session, with
 * ew_mcp_elicit_ops as its prompt ops.
 */
struct ew_mcp_prompt;
struct ew_prompt_ops;
struct ew_mcp_asker {
	struct ew_mcp *m;
	double timeout_s; /* a question nobody answers is denied then */
	const char *stopping; /* set: the call is ending, asking is refused */
	int stop_answer; /* then given to new questions (enum ew_answer) */
	unsigned open; /* questions being asked */
	struct ew_mcp_prompt *prompts;
	/* Called when open goes 0 -> 1 (true) and 1 -> 0 (false). */
	void (*on_pause)(struct ew_mcp_asker *a, bool paused);
	void *data;
};
extern const struct ew_prompt_ops ew_mcp_elicit_ops;

/*
 * End every open question with answer (an enum ew_answer: CANCEL, NONE...)
 * and detail as the reason, telling the client its prompts are withdrawn.
 */
void ew_mcp_asker_stop(struct ew_mcp_asker *a, int answer, const char *detail);

/* The elicitation message: "Execution Permission Request: Allow agent to
 * run `FILE ARGS` in `CWD`?" */
char *ew_mcp_elicit_message(
    const char *file, char *const *argv, size_t argc, const char *cwd);

/* What a call printed: the first and the last bytes, the count between. */
struct ew_mcp_capture {
	size_t max; /* bytes kept at most: half head, half tail */
	char *head;
	size_t hlen;
	char *tail; /* a ring of max - max / 2 bytes */
	size_t tpos, tlen;
	uint64_t total; /* bytes seen */
};

int ew_mcp_capture_init(struct ew_mcp_capture *c, size_t max);
void ew_mcp_capture_fini(struct ew_mcp_capture *c);
void ew_mcp_capture_put(struct ew_mcp_capture *c, const void *p, size_t n);
/*
 * The output as one text keeping at most keep (<= max) bytes: all of it
 * when it fits, else its head, a line saying how much was cut, and its
 * tail, each cut on a UTF-8 character boundary. Caller frees *out.
 */
int ew_mcp_capture_text(
    const struct ew_mcp_capture *c, size_t keep, char **out, size_t *lenp);
/* The last non-empty line seen (up to outlen - 1 bytes of its end). */
void ew_mcp_capture_last_line(
    const struct ew_mcp_capture *c, char *out, size_t outlen);

/* The sandbox policy for the next calls (borrowed, valid until changed). */
const struct ew_sandbox_policy *ew_mcp_sandbox_policy(const struct ew_mcp *m);

/*
 * The sandbox of call r: the one its params._meta asked for, else the
 * session's. NULL, with why in *err, when the client asked for one that
 * cannot be enforced. Borrowed, valid while r is.
 */
const struct ew_sandbox_policy *
ew_mcp_req_sandbox(const struct ew_mcp_req *r, const char **err);

/*
 * Codex's sandbox state (ew_mcp_profile.c) into p: a permissionProfile
 * (Codex 0.171, per call) or a sandboxPolicy (codex/sandbox-state/update),
 * with sandboxCwd. A profile execward cannot enforce exactly is refused:
 * -EINVAL with why in err. p is initialised here; on failure it is empty.
 */
int ew_mcp_profile_parse(const struct ew_mcp_val *state,
    struct ew_sandbox_policy *p, char *err, size_t errlen);

/* A file:// URI (percent-decoded) or an absolute path, into out. */
int ew_mcp_path_from_uri(const char *s, char *out, size_t outlen);

/* The shell tool (ew_mcp_shell.c). */
struct ew_broker;
struct ew_mcp_shell_opts {
	struct ew_broker *br;
	const char *lib; /* libexecward.so, absolute */
	const char *bash; /* absolute */
	uint64_t timeout_ms; /* when the call gives none */
	size_t output_max;
	double prompt_timeout_s;
	bool login; /* bash -lc when a call does not say (else bash -c) */
};
struct ew_mcp_shell;

/* The tool's state, copied from o (whose strings must outlive it). */
int
ew_mcp_shell_new(const struct ew_mcp_shell_opts *o, struct ew_mcp_shell **out);
/* Kill what still runs and free. NULL is a no-op. */
void ew_mcp_shell_free(struct ew_mcp_shell *sh);
/* Fill t with the shell tool of sh. */
void ew_mcp_shell_tool(struct ew_mcp_shell *sh, struct ew_mcp_tool *t);

#endif /* EW_MCP_INT_H */
