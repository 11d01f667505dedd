/* The MCP `shell` tool: bash -lc COMMAND under the shim, one session each. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_escalate.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_mcp_int.h"
#include "ew_sandbox.h"
#include "ew_spawn.h"
#include "ew_time.h"

extern char **environ;

/* After TERM, a command has this long before KILL. */
#define EW_MCP_KILL_GRACE_S 2.0
/* After bash exits, wait this long for its output pipe to close. */
#define EW_MCP_DRAIN_S 2.0
/* Progress notifications at most this often. */
#define EW_MCP_PROGRESS_S 1.0
/* A result line must stay well under the 10 MiB clients read at most. */
#define EW_MCP_RESULT_MAX (8u * 1024 * 1024)
/* The last output line in a progress message. */
#define EW_MCP_PROGRESS_LINE_MAX 200
/* Exit code of a command that timed out (as timeout(1) reports). */
#define EW_MCP_EXIT_TIMEOUT 124
/* The sandbox named in audit records, with what it did not enforce. */
#define EW_MCP_SANDBOX_LABEL_MAX 1024

/* The outputSchema: Codex's result object. */
static const char output_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"exit_code\":{\"type\":\"integer\"},"
    "\"output\":{\"type\":\"string\"},"
    "\"duration\":{\"type\":\"object\",\"properties\":{"
    "\"secs\":{\"type\":\"integer\",\"minimum\":0},"
    "\"nanos\":{\"type\":\"integer\",\"minimum\":0}},"
    "\"required\":[\"secs\",\"nanos\"]},"
    "\"timed_out\":{\"type\":\"boolean\"}},"
    "\"required\":[\"exit_code\",\"output\",\"duration\","
    "\"timed_out\"]}";

struct ew_mcp_call;

struct ew_mcp_shell {
	struct ew_mcp_shell_opts o;
	struct ew_mcp_call *calls;
};

struct ew_mcp_call {
	struct ew_mcp_shell *sh;
	struct ew_mcp *m;
	struct ew_mcp_req *req; /* NULL once answered or cancelled */
	struct ew_session sess;
	bool sess_open;
	struct ew_sandbox *sb; /* NULL: unconfined */
	/* The sandbox in audit records: its mode, and what it could not
	 * keep read-only when the kernel refused the carve-outs. */
	char sandbox_label[EW_MCP_SANDBOX_LABEL_MAX];
	const char *unprotected; /* borrowed from sb; NULL: all enforced */
	struct ew_mcp_asker asker;
	pid_t pid; /* bash, also its process group */
	int fd; /* the output pipe, -1 once closed */
	ev_io out_w;
	ev_child child_w;
	ev_timer timeout_w, kill_w, drain_w, progress_w;
	bool exited, timed_out, stopping;
	int status;
	/* The stopwatch: the timeout pauses while a prompt is open. */
	double limit_s, used_s;
	ev_tstamp since;
	struct ew_mcp_capture cap;
	uint64_t t_start_us, t_end_us;
	uint64_t progress_sent;
	struct ew_mcp_call *prev, *next;
};

/* What the model reads about the tool. */
static const char description[] =
    "Runs a shell command and returns its output. You MUST provide the "
    "workdir as an absolute path. The command runs as `bash -lc COMMAND`; "
    "every program it starts is checked against the user's execward rules. "
    "A program that is not allowed fails as if permission were denied, and "
    "the output then holds a line `execward: denied: PROGRAM: REASON`: do "
    "not retry it in another form. Some programs need the user's approval, "
    "which is asked for while the command waits. Commands run in a sandbox "
    "(by default they may write only in the workdir and temporary folders, "
    "with no network); programs an allow rule covers run outside it. The "
    "result is JSON: exit_code, output (stdout and stderr interleaved, very "
    "long output cut in the middle), duration and timed_out.";

/*
 * The inputSchema: Codex's ExecParams. The timeout's default (a number)
 * and what login defaults to (one of the two below) are filled in.
 */
#define EW_MCP_INPUT_SCHEMA                                                    \
	"{\"type\":\"object\",\"title\":\"ExecParams\",\"properties\":{"       \
	"\"command\":{\"type\":\"string\","                                    \
	"\"description\":\"The bash string to execute.\"},"                    \
	"\"workdir\":{\"type\":\"string\","                                    \
	"\"description\":\"The working directory to execute the command in. "  \
	"Must be an absolute path.\"},"                                        \
	"\"timeout_ms\":{\"type\":[\"integer\",\"null\"],\"minimum\":0,"       \
	"\"description\":\"The timeout for the command in milliseconds "       \
	"(default %" PRIu64 "). Time spent waiting for the user's approval "   \
	"does not count.\"},"                                                  \
	"\"login\":{\"type\":[\"boolean\",\"null\"],\"description\":\"%s\"}}," \
	"\"required\":[\"command\",\"workdir\"]}"
static const char login_true[] =
    "Launch Bash with -lc instead of -c: defaults to true.";
static const char login_false[] =
    "Launch Bash with -lc instead of -c: defaults to false here (the "
    "user's choice: login profiles are slow or noisy on this machine).";
/* Room for the filled-in parts: 20 digits and the longer login text. */
#define EW_MCP_INPUT_SCHEMA_MAX \
	(sizeof(EW_MCP_INPUT_SCHEMA) + 20 + sizeof(login_false))

/* The tool's annotations (revision 2025-03-26 on): what it may do. */
static const char annotations[] =
    "{\"title\":\"Shell (execward)\",\"readOnlyHint\":false,"
    "\"destructiveHint\":true,\"idempotentHint\":false,"
    "\"openWorldHint\":true}";

static void
shell_describe(void *ctx, struct ew_mcp *m, struct ew_json *j)
{
	struct ew_mcp_shell *sh = ctx;
	enum ew_mcp_rev rev = ew_mcp_rev(m);
	char schema[EW_MCP_INPUT_SCHEMA_MAX];
	int n;

	n = snprintf(schema, sizeof(schema), EW_MCP_INPUT_SCHEMA,
	    sh->o.timeout_ms, sh->o.login ? login_true : login_false);
	ew_json_obj_begin(j);
	ew_json_key(j, "name");
	ew_json_str(j, "shell");
	if (rev >= EW_MCP_REV_2025_06_18) {
		ew_json_key(j, "title");
		ew_json_str(j, "Shell (execward)");
	}
	ew_json_key(j, "description");
	ew_json_str(j, description);
	ew_json_key(j, "inputSchema");
	ew_json_raw(j, schema, (size_t)n);
	if (rev >= EW_MCP_REV_2025_06_18) {
		ew_json_key(j, "outputSchema");
		ew_json_raw(j, output_schema, sizeof(output_schema) - 1);
	}
	if (rev >= EW_MCP_REV_2025_03_26) {
		ew_json_key(j, "annotations");
		ew_json_raw(j, annotations, sizeof(annotations) - 1);
	}
	ew_json_obj_end(j);
}

/* A tool result's start: its content, the one text of n bytes. */
static void
content_begin(struct ew_json *j, const char *text, size_t n)
{
	ew_json_obj_begin(j);
	ew_json_key(j, "content");
	ew_json_arr_begin(j);
	ew_json_obj_begin(j);
	ew_json_kv_str(j, "type", "text");
	ew_json_key(j, "text");
	ew_json_strn(j, text, n);
	ew_json_obj_end(j);
	ew_json_arr_end(j);
}

/* A tool-level failure the model can act on (isError, text only). */
static void
tool_error(struct ew_mcp_req *r, const char *text)
{
	struct ew_json *j = ew_mcp_result_begin(r);

	content_begin(j, text, strlen(text));
	ew_json_key(j, "isError");
	ew_json_bool(j, true);
	ew_json_obj_end(j);
	ew_mcp_result_end(r);
}

/* The Codex result object, keeping at most keep bytes of output. */
static int
codex_json(struct ew_mcp_call *call, size_t keep, struct ew_buf *b)
{
	struct ew_json j;
	uint64_t us = call->t_end_us - call->t_start_us;
	char *out = NULL;
	size_t len;
	int code, r;

	if (call->timed_out)
		code = EW_MCP_EXIT_TIMEOUT;
	else if (WIFEXITED(call->status))
		code = WEXITSTATUS(call->status);
	else if (WIFSIGNALED(call->status))
		code = 128 + WTERMSIG(call->status);
	else
		code = 1;
	if ((r = ew_mcp_capture_text(&call->cap, keep, &out, &len)) != 0)
		return r;
	ew_buf_reset(b);
	ew_json_init(&j, b);
	ew_json_obj_begin(&j);
	ew_json_key(&j, "exit_code");
	ew_json_int(&j, code);
	ew_json_key(&j, "output");
	ew_json_strn(&j, out, len);
	ew_json_key(&j, "duration");
	ew_json_obj_begin(&j);
	ew_json_key(&j, "secs");
	ew_json_uint(&j, us / 1000000u);
	ew_json_key(&j, "nanos");
	ew_json_uint(&j, (us % 1000000u) * 1000u);
	ew_json_obj_end(&j);
	ew_json_key(&j, "timed_out");
	ew_json_bool(&j, call->timed_out);
	ew_json_obj_end(&j);
	free(out);
	return ew_json_error(&j);
}

/* Bytes the result line takes with text t[0..n) in it twice. */
static size_t
result_size(const unsigned char *t, size_t n)
{
	size_t i, size = 2 * n + 256;

	/* JSON text holds no raw control bytes: only " and \ grow. */
	for (i = 0; i < n; i++)
		size += t[i] == '"' || t[i] == '\\';
	return size;
}

static void
send_result(struct ew_mcp_call *call)
{
	struct ew_mcp_req *r = call->req;
	struct ew_buf *b;
	struct ew_json *j;
	size_t keep = call->sh->o.output_max;
	int e;

	call->req = NULL;
	if ((b = ew_buf_new(EW_MCP_MSG_OUT_MAX)) == NULL) {
		ew_mcp_error(r, EW_MCP_E_INTERNAL, "Internal error: no memory");
		return;
	}
	/* Control bytes take six in JSON: keep less until it fits. */
	while ((e = codex_json(call, keep, b)) == 0 && keep > 4096 &&
	    result_size(ew_buf_ptr(b), ew_buf_len(b)) > EW_MCP_RESULT_MAX)
		keep /= 2;
	if (e != 0) {
		ew_buf_free(b);
		ew_mcp_error(r, EW_MCP_E_INTERNAL,
		    "Internal error: the output could not be encoded");
		return;
	}
	j = ew_mcp_result_begin(r);
	content_begin(j, (const char *)ew_buf_ptr(b), ew_buf_len(b));
	if (ew_mcp_rev(call->m) >= EW_MCP_REV_2025_06_18) {
		ew_json_key(j, "structuredContent");
		ew_json_raw(j, (const char *)ew_buf_ptr(b), ew_buf_len(b));
	}
	ew_json_key(j, "isError");
	ew_json_bool(j, call->timed_out);
	ew_json_obj_end(j);
	ew_mcp_result_end(r);
	ew_buf_free(b);
}

static void
call_free(struct ew_mcp_call *call)
{
	struct ev_loop *loop = ew_mcp_loop(call->m);
	struct ew_mcp_shell *sh = call->sh;

	call->stopping = true;
	ev_io_stop(loop, &call->out_w);
	ev_child_stop(loop, &call->child_w);
	ev_timer_stop(loop, &call->timeout_w);
	ev_timer_stop(loop, &call->kill_w);
	ev_timer_stop(loop, &call->drain_w);
	ev_timer_stop(loop, &call->progress_w);
	call->fd = ew_fd_close(call->fd);
	/* Programs still asking (background jobs) are answered here. */
	if (call->sess_open)
		ew_session_close(&call->sess);
	ew_sandbox_free(call->sb);
	if (call->prev != NULL)
		call->prev->next = call->next;
	else if (sh->calls == call)
		sh->calls = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	ew_mcp_capture_fini(&call->cap);
	free(call);
}

/*
 * A confined command failed with a permission error: say that the sandbox
 * may be why, so nobody is left guessing (the model least of all).
 */
static void
sandbox_note(struct ew_mcp_call *call)
{
	static const char *const signs[] = { "Permission denied",
		"Operation not permitted", "Read-only file system", NULL };
	char note[1536], *out = NULL;
	size_t len = 0, i;
	bool found = false;

	if (call->sb == NULL || call->timed_out ||
	    (WIFEXITED(call->status) && WEXITSTATUS(call->status) == 0) ||
	    ew_mcp_capture_text(&call->cap, call->cap.max, &out, &len) != 0)
		return;
	for (i = 0; signs[i] != NULL && !found; i++)
		found = memmem(out, len, signs[i], strlen(signs[i])) != NULL;
	if (found) {
		snprintf(note, sizeof(note),
		    "%sexecward: note: the command ran in the sandbox, %s: a "
		    "permission error may come from it. Programs that an allow "
		    "rule covers run outside the sandbox.\n",
		    len > 0 && out[len - 1] != '\n' ? "\n" : "",
		    ew_sandbox_describe(call->sb));
		ew_mcp_capture_put(&call->cap, note, strlen(note));
	}
	free(out);
}

/*
 * The kernel refused the read-only carve-outs (no mount namespace for
 * us): the command ran without them. Say so where the model and the
 * person see it, never silently.
 */
static void
unprotected_note(struct ew_mcp_call *call)
{
	char note[2048];

	if (call->unprotected == NULL)
		return;
	snprintf(note, sizeof(note),
	    "%sexecward: warning: the sandbox could not keep %s read-only "
	    "(%s): they were writable for this command.\n",
	    call->cap.total > 0 ? "\n" : "", ew_sandbox_mount_list(call->sb),
	    call->unprotected);
	ew_mcp_capture_put(&call->cap, note, strlen(note));
}

/* bash has exited and its output is read (or waited for long enough). */
static void
complete(struct ew_mcp_call *call)
{
	int st = call->status;

	ew_mcp_log(call->m, EW_MCP_LOG_INFO, "execward",
	    "command %d ended: %s %d%s, %" PRIu64 " bytes of output",
	    (int)call->pid, WIFSIGNALED(st) ? "signal" : "exit",
	    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
	    call->timed_out ? " (timed out)" : "", call->cap.total);
	/* The command's told starts are recorded before its result goes. */
	if (call->sess_open)
		ew_broker_read_pending(&call->sess);
	if (call->req != NULL) {
		sandbox_note(call);
		unprotected_note(call);
		send_result(call);
	}
	call_free(call);
}

/*
 * End the call's command: withdraw its prompts (answer, detail), then
 * signal its process group. detail must be a static string.
 */
static void
stop(struct ew_mcp_call *call, enum ew_answer ans, const char *detail, int sig)
{
	struct ev_loop *loop = ew_mcp_loop(call->m);

	call->stopping = true;
	ev_timer_stop(loop, &call->timeout_w);
	ev_timer_stop(loop, &call->progress_w);
	ew_mcp_asker_stop(&call->asker, ans, detail);
	/* After bash is reaped its group may be empty: ESRCH is fine. */
	if (call->pid > 0 && kill(-call->pid, sig) != 0 && errno != ESRCH)
		ew_log(EW_LOG_WARN, "kill -%d %d: %s", sig, (int)call->pid,
		    strerror(errno));
	/* Escalated programs run outside bash's group: they go too. */
	if (call->sess_open && call->sh->o.br->esc != NULL)
		ew_escalate_signal_session(
		    call->sh->o.br->esc, &call->sess, sig);
	if (sig == SIGTERM && !ev_is_active(&call->kill_w)) {
		ev_timer_set(&call->kill_w, EW_MCP_KILL_GRACE_S, 0.);
		ev_timer_start(loop, &call->kill_w);
	}
}

static void
ew_broker_on_shell_kill(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_mcp_call *call = w->data;

	if (kill(-call->pid, SIGKILL) != 0 && errno != ESRCH)
		ew_log(EW_LOG_WARN, "kill -KILL %d: %s", (int)call->pid,
		    strerror(errno));
	if (call->sess_open && call->sh->o.br->esc != NULL)
		ew_escalate_signal_session(
		    call->sh->o.br->esc, &call->sess, SIGKILL);
}

static void
ew_broker_on_shell_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_mcp_call *call = w->data;

	call->timed_out = true;
	ew_mcp_log(call->m, EW_MCP_LOG_WARNING, "execward",
	    "command %d timed out after %.0f ms", (int)call->pid,
	    call->limit_s * 1000.);
	stop(call, EW_ANSWER_TIMEOUT, "the tool call timed out", SIGTERM);
}

/* The asker opened its first prompt (paused) or closed its last one. */
static void
on_pause(struct ew_mcp_asker *a, bool paused)
{
	struct ew_mcp_call *call = a->data;
	struct ev_loop *loop = ew_mcp_loop(call->m);
	double left;

	if (paused) {
		if (ev_is_active(&call->timeout_w)) {
			call->used_s += ev_now(loop) - call->since;
			ev_timer_stop(loop, &call->timeout_w);
		}
		return;
	}
	if (call->stopping || call->exited)
		return;
	call->since = ev_now(loop);
	left = call->limit_s - call->used_s;
	ev_timer_set(&call->timeout_w, left > 0 ? left : 0., 0.);
	ev_timer_start(loop, &call->timeout_w);
}

static void
ew_broker_on_shell_drain(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_mcp_call *call = w->data;

	/* Background jobs hold the pipe: answer with what we have. */
	complete(call);
}

static void
ew_broker_on_shell_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct ew_mcp_call *call = w->data;

	if (WIFSTOPPED(w->rstatus) || WIFCONTINUED(w->rstatus))
		return;
	ev_child_stop(loop, w);
	call->status = w->rstatus;
	call->exited = true;
	call->t_end_us = ew_time_mono_us();
	ev_timer_stop(loop, &call->timeout_w);
	ev_timer_stop(loop, &call->progress_w);
	if (call->fd < 0) {
		complete(call);
		return;
	}
	ev_timer_set(&call->drain_w, EW_MCP_DRAIN_S, 0.);
	ev_timer_start(loop, &call->drain_w);
}

static void
ew_broker_on_shell_output(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_mcp_call *call = w->data;
	char buf[64 * 1024];
	ssize_t n;

	n = read(call->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		ew_mcp_capture_put(&call->cap, buf, (size_t)n);
		return;
	}
	ev_io_stop(loop, w);
	call->fd = ew_fd_close(call->fd);
	if (call->exited)
		complete(call);
}

static void
ew_broker_on_shell_progress(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_mcp_call *call = w->data;
	const struct ew_mcp_val *tok;
	struct ew_json *j;
	char line[EW_MCP_PROGRESS_LINE_MAX + 1];

	/* progress must grow with every notification: bytes do. */
	if (call->req == NULL || call->cap.total <= call->progress_sent)
		return;
	tok = ew_mcp_req_progress_token(call->req);
	call->progress_sent = call->cap.total;
	ew_mcp_capture_last_line(&call->cap, line, sizeof(line));
	j = ew_mcp_notify_begin(call->m, "notifications/progress");
	ew_json_obj_begin(j);
	ew_json_key(j, "progressToken");
	ew_mcp_val_put(j, tok);
	ew_json_key(j, "progress");
	ew_json_uint(j, call->progress_sent);
	if (ew_mcp_rev(call->m) >= EW_MCP_REV_2025_03_26) {
		ew_json_key(j, "message");
		ew_json_str(j, line);
	}
	ew_json_obj_end(j);
	ew_mcp_notify_end(call->m);
}

/*
 * Start bash in its own process group (a timeout or cancel kills the whole
 * tree), in the sandbox the client's state asks for. Never on our stdin or
 * stdout: they carry the protocol. 0 or -errno with why in err.
 */
static int
spawn(struct ew_mcp_call *call, const struct ew_sandbox_policy *pol,
    const char *command, const char *workdir, bool login, char *err,
    size_t errlen)
{
	struct ew_mcp_shell *sh = call->sh;
	struct ew_spawn sp;
	char *argv[4], **env = NULL;
	int p[2] = { -1, -1 }, r;

	if ((env = ew_session_env(&call->sess, sh->o.lib, "closed", environ)) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		r = -errno;
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		goto out;
	}
	memset(&sp, 0, sizeof(sp));
	sp.fds[0] = -1;
	sp.fds[1] = sp.fds[2] = p[1];
	if ((r = ew_sandbox_new(
		 pol, workdir, env, sp.fds, &call->sb, err, errlen)) != 0)
		goto out;
	/*
	 * Set before bash starts: its first child may ask at once. A session
	 * whose socket the sandbox could replace is refused here.
	 */
	if ((r = ew_session_confine(&call->sess, call->sb,
		 call->sb != NULL ? ew_sandbox_mode_name(pol->mode) : NULL, err,
		 errlen)) != 0)
		goto out;
	argv[0] = (char *)"bash";
	argv[1] = (char *)(login ? "-lc" : "-c");
	argv[2] = (char *)command;
	argv[3] = NULL;
	sp.path = sh->o.bash;
	sp.argv = argv;
	sp.envp = env;
	sp.cwd = workdir;
	sp.pgid = 0;
	sp.sandbox = call->sb;
	/* The call's tree gets the kernel backstop (struct ew_broker). */
	sp.hook = sh->o.br->backstop != NULL ? sh->o.br->backstop->spawn : NULL;
	sp.hook_sess = &call->sess;
	if ((r = ew_spawn_start(&sp, &call->pid, err, errlen)) != 0)
		goto out;
	/*
	 * Set before the loop runs again, so before any program bash starts
	 * is answered (they ask through the loop).
	 */
	if (call->sb != NULL) {
		call->unprotected = ew_sandbox_unprotected(call->sb);
		if (call->unprotected != NULL)
			snprintf(call->sandbox_label,
			    sizeof(call->sandbox_label),
			    "%s (not read-only as asked: %s: %s)",
			    ew_sandbox_mode_name(pol->mode),
			    ew_sandbox_mount_list(call->sb), call->unprotected);
		else
			snprintf(call->sandbox_label,
			    sizeof(call->sandbox_label), "%s",
			    ew_sandbox_mode_name(pol->mode));
		call->sess.sandbox = call->sandbox_label;
		if (call->unprotected != NULL)
			ew_log(EW_LOG_WARN,
			    "the sandbox could not keep %s read-only: %s",
			    ew_sandbox_mount_list(call->sb), call->unprotected);
	}
	call->fd = p[0];
	p[0] = -1;
	(void)ew_fd_nonblock(call->fd, 1);
out:
	ew_fd_close(p[0]);
	ew_fd_close(p[1]);
	free(env);
	return r;
}

/* Check the arguments; NULL when fine, else what is wrong. */
static const char *
check_args(const struct ew_mcp_val *args, bool login_default,
    const char **command, const char **workdir, int64_t *timeout_ms,
    bool *login)
{
	const struct ew_mcp_val *c = ew_mcp_val_get(args, "command");
	const struct ew_mcp_val *w = ew_mcp_val_get(args, "workdir");
	const struct ew_mcp_val *t = ew_mcp_val_get(args, "timeout_ms");
	const struct ew_mcp_val *l = ew_mcp_val_get(args, "login");

	*command = ew_mcp_val_str(c);
	*workdir = ew_mcp_val_str(w);
	*timeout_ms = -1;
	*login = login_default;
	if (*command == NULL)
		return c == NULL ? "command is required"
				 : "command must be a string without NUL "
				   "characters";
	if (*workdir == NULL || (*workdir)[0] != '/')
		return "workdir must be an absolute path";
	if (t != NULL && t->type != EW_MCP_T_NULL) {
		if (t->type != EW_MCP_T_INT || t->i < 0)
			return "timeout_ms must be a non-negative integer";
		*timeout_ms = t->i;
	}
	if (l != NULL && l->type != EW_MCP_T_NULL) {
		if (l->type != EW_MCP_T_BOOL)
			return "login must be true or false";
		*login = l->b;
	}
	return NULL;
}

static void
shell_call(void *ctx, struct ew_mcp_req *r, const struct ew_mcp_val *args)
{
	struct ew_mcp_shell *sh = ctx;
	struct ew_mcp *m = ew_mcp_req_server(r);
	struct ev_loop *loop = ew_mcp_loop(m);
	struct ew_mcp_call *call = NULL;
	const struct ew_sandbox_policy *pol;
	const char *command, *workdir, *bad, *nosbx;
	char text[PATH_MAX + 128 + EW_MCP_SANDBOX_ERR_MAX], why[1024];
	struct stat st;
	int64_t timeout_ms;
	bool login;
	int e;

	if ((bad = check_args(args, sh->o.login, &command, &workdir,
		 &timeout_ms, &login)) != NULL) {
		snprintf(text, sizeof(text), "Invalid arguments: %s", bad);
		tool_error(r, text);
		return;
	}
	/* Never a looser sandbox than the one asked for: none at all. */
	if ((pol = ew_mcp_req_sandbox(r, &nosbx)) == NULL) {
		ew_log(EW_LOG_WARN, "refused a call: its sandbox: %s", nosbx);
		snprintf(text, sizeof(text),
		    "execward: the sandbox the client asked for cannot be "
		    "enforced: %s. The command was not run.",
		    nosbx);
		tool_error(r, text);
		return;
	}
	if (stat(workdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		e = errno;
		snprintf(text, sizeof(text), "workdir %.*s: %s", PATH_MAX,
		    workdir,
		    access(workdir, F_OK) == 0 ? "not a folder" : strerror(e));
		tool_error(r, text);
		return;
	}
	if ((call = calloc(1, sizeof(*call))) == NULL ||
	    ew_mcp_capture_init(&call->cap, sh->o.output_max) != 0) {
		free(call);
		tool_error(r, "execward is out of memory");
		return;
	}
	call->sh = sh;
	call->m = m;
	call->req = r;
	call->fd = -1;
	call->limit_s = (double)(timeout_ms >= 0 ? (uint64_t)timeout_ms
						 : sh->o.timeout_ms) /
	    1000.;
	call->asker.m = m;
	call->asker.timeout_s = sh->o.prompt_timeout_s;
	call->asker.on_pause = on_pause;
	call->asker.data = call;
	ev_io_init(&call->out_w, ew_broker_on_shell_output, 0, EV_READ);
	ev_child_init(&call->child_w, ew_broker_on_shell_child, 0, 0);
	ev_timer_init(&call->timeout_w, ew_broker_on_shell_timeout, 1., 0.);
	ev_timer_init(&call->kill_w, ew_broker_on_shell_kill, 1., 0.);
	ev_timer_init(&call->drain_w, ew_broker_on_shell_drain, 1., 0.);
	ev_timer_init(&call->progress_w, ew_broker_on_shell_progress,
	    EW_MCP_PROGRESS_S, EW_MCP_PROGRESS_S);
	call->out_w.data = call->child_w.data = call->timeout_w.data =
	    call->kill_w.data = call->drain_w.data = call->progress_w.data =
		call;
	call->next = sh->calls;
	if (sh->calls != NULL)
		sh->calls->prev = call;
	sh->calls = call;

	if ((e = ew_session_open(&call->sess, sh->o.br, EW_ON_PROMPT_ASK)) !=
	    0) {
		snprintf(text, sizeof(text), "execward cannot listen: %s",
		    strerror(-e));
		goto fail;
	}
	call->sess_open = true;
	call->sess.prompt = &ew_mcp_elicit_ops;
	call->sess.prompt_ctx = &call->asker;
	call->t_start_us = ew_time_mono_us();
	if ((e = spawn(call, pol, command, workdir, login, why, sizeof(why))) !=
	    0) {
		snprintf(
		    text, sizeof(text), "cannot start %s: %s", sh->o.bash, why);
		goto fail;
	}
	ev_io_set(&call->out_w, call->fd, EV_READ);
	ev_io_start(loop, &call->out_w);
	ev_child_set(&call->child_w, call->pid, 0);
	ev_child_start(loop, &call->child_w);
	call->since = ev_now(loop);
	ev_timer_set(&call->timeout_w, call->limit_s, 0.);
	ev_timer_start(loop, &call->timeout_w);
	if (ew_mcp_req_progress_token(r) != NULL)
		ev_timer_start(loop, &call->progress_w);
	ew_mcp_log(m, EW_MCP_LOG_INFO, "execward",
	    "command %d started in %.300s: %.500s", (int)call->pid, workdir,
	    command);
	return;
fail:
	call->req = NULL;
	call_free(call);
	tool_error(r, text);
}

static struct ew_mcp_call *
find_call(struct ew_mcp_shell *sh, const struct ew_mcp_req *r)
{
	struct ew_mcp_call *call;

	for (call = sh->calls; call != NULL; call = call->next)
		if (call->req == r)
			return call;
	return NULL;
}

static void
shell_cancel(void *ctx, struct ew_mcp_req *r)
{
	struct ew_mcp_call *call = find_call(ctx, r);

	if (call == NULL)
		return;
	/* Never answered now; an approval arriving later finds nothing. */
	call->req = NULL;
	stop(call, EW_ANSWER_CANCEL,
	    "the tool call was cancelled by the MCP client", SIGTERM);
}

static void
shell_shutdown(void *ctx)
{
	struct ew_mcp_shell *sh = ctx;
	struct ew_mcp_call *call;

	for (call = sh->calls; call != NULL; call = call->next)
		stop(call, EW_ANSWER_NONE, "the MCP client has gone", SIGKILL);
}

int
ew_mcp_shell_new(const struct ew_mcp_shell_opts *o, struct ew_mcp_shell **out)
{
	struct ew_mcp_shell *sh;

	*out = NULL;
	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		return -ENOMEM;
	sh->o = *o;
	*out = sh;
	return 0;
}

void
ew_mcp_shell_free(struct ew_mcp_shell *sh)
{
	if (sh == NULL)
		return;
	while (sh->calls != NULL) {
		if (!sh->calls->exited)
			(void)kill(-sh->calls->pid, SIGKILL);
		sh->calls->req = NULL;
		call_free(sh->calls);
	}
	free(sh);
}

void
ew_mcp_shell_tool(struct ew_mcp_shell *sh, struct ew_mcp_tool *t)
{
	memset(t, 0, sizeof(*t));
	t->name = "shell";
	t->describe = shell_describe;
	t->call = shell_call;
	t->cancel = shell_cancel;
	t->shutdown = shell_shutdown;
	t->ctx = sh;
}
