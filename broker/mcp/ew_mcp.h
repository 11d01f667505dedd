/* The MCP server: JSON-RPC 2.0 over stdio, one message per line, tools. */
#ifndef EW_MCP_H
#define EW_MCP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ew_json.h"

/*
 * The server reads one JSON-RPC message (or, where the negotiated revision
 * allows it, one batch) per line from in_fd and writes one per line to
 * out_fd, which carries nothing else. Requests are dispatched through a
 * table; every request gets exactly one response, unless the client
 * cancelled it. Tools answer later if they need to (tools/call is
 * asynchronous). Everything runs on one libev loop.
 *
 * Return convention: 0 on success, -EW_E_* or -errno on failure.
 */

struct ev_loop;

/* One input line, without its newline: longer ones are refused whole. */
#define EW_MCP_LINE_MAX (16u * 1024 * 1024)
/* JSON values in one input message, and their nesting: MCP needs few. */
#define EW_MCP_VALUES_MAX 65536u
#define EW_MCP_DEPTH_MAX 64u
/* One output message (tools keep theirs far smaller: see the shell). */
#define EW_MCP_MSG_OUT_MAX (24u * 1024 * 1024)
/* Bytes waiting for the client to read: beyond this it is taken as gone. */
#define EW_MCP_QUEUE_MAX (64u * 1024 * 1024)

/* JSON-RPC error codes. */
#define EW_MCP_E_PARSE (-32700)
#define EW_MCP_E_INVALID_REQUEST (-32600)
#define EW_MCP_E_METHOD (-32601)
#define EW_MCP_E_PARAMS (-32602)
#define EW_MCP_E_INTERNAL (-32603)

/* Protocol revisions, oldest first; NONE before initialize. */
enum ew_mcp_rev {
	EW_MCP_REV_NONE = 0,
	EW_MCP_REV_2024_11_05,
	EW_MCP_REV_2025_03_26,
	EW_MCP_REV_2025_06_18,
	EW_MCP_REV_2025_11_25,
};
#define EW_MCP_REV_LATEST EW_MCP_REV_2025_11_25

/* "2025-06-18" etc.; NULL for NONE or an unknown value. */
const char *ew_mcp_rev_name(enum ew_mcp_rev rev);
/* The revision named s, or EW_MCP_REV_NONE when it is not one we speak. */
enum ew_mcp_rev ew_mcp_rev_parse(const char *s);

/* notifications/message levels (RFC 5424 order, least severe first). */
enum ew_mcp_log_level {
	EW_MCP_LOG_DEBUG = 0,
	EW_MCP_LOG_INFO,
	EW_MCP_LOG_NOTICE,
	EW_MCP_LOG_WARNING,
	EW_MCP_LOG_ERROR,
	EW_MCP_LOG_CRITICAL,
	EW_MCP_LOG_ALERT,
	EW_MCP_LOG_EMERGENCY,
};

/* A parsed input value. Strings keep their length (they may hold NUL). */
enum ew_mcp_type {
	EW_MCP_T_NULL,
	EW_MCP_T_BOOL,
	EW_MCP_T_INT, /* an integer that fits int64_t */
	EW_MCP_T_NUMBER, /* any other number */
	EW_MCP_T_STRING,
	EW_MCP_T_ARRAY,
	EW_MCP_T_OBJECT,
};

struct ew_mcp_val {
	enum ew_mcp_type type;
	bool b;
	int64_t i;
	double d;
	char *s; /* STRING: NUL-terminated copy; NUMBER: its text */
	size_t len; /* STRING: bytes, not counting the terminator */
	size_t n; /* ARRAY, OBJECT: members */
	size_t alloc;
	char **keys; /* OBJECT: n keys (NUL-terminated) */
	struct ew_mcp_val **vals; /* ARRAY, OBJECT: n values */
};

/*
 * Parse one JSON text of len bytes (yajl, UTF-8 validated; at most
 * EW_MCP_VALUES_MAX values nested EW_MCP_DEPTH_MAX deep). On failure a
 * one-line reason goes to err. *out is freed with ew_mcp_val_free.
 */
int ew_mcp_parse(const char *text, size_t len, struct ew_mcp_val **out,
    char *err, size_t errlen);
/* NULL is a no-op. */
void ew_mcp_val_free(struct ew_mcp_val *v);
/* The member key of obj (the first one), or NULL (also when obj is not an
 * object). Borrowed. */
const struct ew_mcp_val *
ew_mcp_val_get(const struct ew_mcp_val *obj, const char *key);
/* The string of v, or NULL when v is NULL or not a string without NUL. */
const char *ew_mcp_val_str(const struct ew_mcp_val *v);
/* Write v back as JSON (string bytes are sanitised as ew_json does). */
void ew_mcp_val_put(struct ew_json *j, const struct ew_mcp_val *v);

struct ew_mcp;
struct ew_mcp_req;

/*
 * A tool. describe writes its tools/list entry (one object) for the
 * negotiated revision. call starts a call: it answers r now or later
 * (ew_mcp_result_begin/_end or ew_mcp_error), or the client cancels it
 * first, when cancel is called and r must not be touched again. shutdown
 * stops everything the tool runs (the client went away).
 */
struct ew_mcp_tool {
	const char *name;
	void (*describe)(void *ctx, struct ew_mcp *m, struct ew_json *j);
	void (*call)(
	    void *ctx, struct ew_mcp_req *r, const struct ew_mcp_val *args);
	void (*cancel)(void *ctx, struct ew_mcp_req *r);
	void (*shutdown)(void *ctx);
	void *ctx;
};

struct ew_mcp_config {
	int in_fd, out_fd;
	const char *name; /* serverInfo */
	const char *title;
	const char *version;
	const char *instructions;
	const struct ew_mcp_tool *tools;
	size_t ntools;
	/* The sandbox mode before the client says otherwise (stored only). */
	const char *sandbox;
	/* Seconds to wait for running calls once the input is closed. */
	double close_grace_s;
	/* Ping period while the client owes us answers (0: 30 s). */
	double ping_s;
};

/*
 * Start serving on loop: in_fd is watched, out_fd written (nonblocking
 * unless it is a terminal). cfg's strings and tools must outlive *out.
 */
int ew_mcp_new(
    struct ev_loop *loop, const struct ew_mcp_config *cfg, struct ew_mcp **out);
/* Stop watching and free everything (pending calls are dropped). */
void ew_mcp_free(struct ew_mcp *m);
/*
 * Begin the end, as when the input closes: stop reading, shut the tools
 * down, then finish once the calls have ended and the output is written,
 * or after close_grace_s.
 */
void ew_mcp_close(struct ew_mcp *m);
/* True once the server has finished (the loop was told to break). */
bool ew_mcp_finished(const struct ew_mcp *m);

/* What was negotiated, for tools. */
struct ev_loop *ew_mcp_loop(const struct ew_mcp *m);
enum ew_mcp_rev ew_mcp_rev(const struct ew_mcp *m);
/*
 * Can the client be asked (elicitation/create, form mode)? When not, *why
 * (if why is not NULL) gets a sentence saying why. Borrowed static text.
 */
bool ew_mcp_can_elicit(const struct ew_mcp *m, const char **why);
/* The sandbox mode last set by --sandbox or codex/sandbox-state/update. */
const char *ew_mcp_sandbox(const struct ew_mcp *m);

/* The server a request belongs to, and its params._meta.progressToken
 * (NULL when none). Borrowed, valid while r is. */
struct ew_mcp *ew_mcp_req_server(const struct ew_mcp_req *r);
const struct ew_mcp_val *ew_mcp_req_progress_token(const struct ew_mcp_req *r);

/*
 * Answer r: begin returns a writer expecting exactly one value (the
 * result); end sends it (or an internal error if writing failed) and
 * frees r.
 */
struct ew_json *ew_mcp_result_begin(struct ew_mcp_req *r);
void ew_mcp_result_end(struct ew_mcp_req *r);
/* Answer r with a JSON-RPC error, and free r. */
void ew_mcp_error(struct ew_mcp_req *r, int code, const char *msg);

/* A notification: begin returns a writer expecting the params object. */
struct ew_json *ew_mcp_notify_begin(struct ew_mcp *m, const char *method);
void ew_mcp_notify_end(struct ew_mcp *m);

/*
 * The client's answer to one of our requests: exactly one of result and
 * error is set. Borrowed for the call.
 */
typedef void (*ew_mcp_reply_fn)(struct ew_mcp *m, void *arg,
    const struct ew_mcp_val *result, const struct ew_mcp_val *error);

/*
 * A request to the client: begin returns a writer expecting the params
 * object and puts our id (a string) in id[0..idlen); end sends it and
 * waits for the answer, which goes to fn exactly once, unless
 * ew_mcp_request_forget came first.
 */
struct ew_json *ew_mcp_request_begin(
    struct ew_mcp *m, const char *method, char *id, size_t idlen);
int ew_mcp_request_end(struct ew_mcp *m, ew_mcp_reply_fn fn, void *arg);
/*
 * Stop waiting for the answer to id; when reason is not NULL, tell the
 * client with notifications/cancelled. A later answer is ignored.
 */
void
ew_mcp_request_forget(struct ew_mcp *m, const char *id, const char *reason);

/* Ping the client (its answer is awaited like any request's). */
int ew_mcp_ping(struct ew_mcp *m, ew_mcp_reply_fn fn, void *arg);

/*
 * notifications/message with data {"message": text} at level from logger,
 * when the client has set a level at or below it (nothing before that).
 */
void
ew_mcp_log(struct ew_mcp *m, enum ew_mcp_log_level level, const char *logger,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* EW_MCP_H */
