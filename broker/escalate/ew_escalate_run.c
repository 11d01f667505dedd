/*
 * The broker's side of an escalation: redeem the helper's token, start the
 * approved program outside the sandbox on the helper's stdio, forward the
 * helper's signals, report the exit, and kill what the session leaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "ew_audit.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_proc.h"
#include "ew_sandbox.h"
#include "ew_spawn.h"
#include "ew_time.h"

extern char **environ;

/* The largest message on an escalation's connection (a SIGNAL). */
#define EW_ESCALATE_MSG_MAX 64
/* At exit, wait this long for killed programs to be reaped. */
#define EW_ESCALATE_REAP_MS 2000
/* EXECWARD_TOKEN_TTL_MS may ask for at most a day. */
#define EW_ESCALATE_TTL_MS_MAX 86400000u

/* One program started for a helper. */
struct ew_escalation {
	struct ew_escalate *e;
	int fd; /* the helper's connection; -1 once it has gone */
	pid_t helper; /* its pid */
	/* Told once the program has ended (the connection is done). */
	void (*gone)(void *ctx);
	void *ctx;
	const void *owner; /* the session; NULL once it has closed */
	char session[EW_ESCALATE_SESSION_MAX];
	struct ew_escalate_grant *g;
	uid_t uid;
	pid_t pid;
	bool own_group; /* leads its own process group */
	bool reaped;
	uint64_t t_start_us;
	ev_child child_w;
	struct ew_escalation *prev, *next;
};

struct ew_escalate {
	struct ev_loop *loop;
	struct ew_audit *audit;
	uid_t uid; /* the broker's */
	const char *lib;
	const char *fail;
	struct ew_escalate_tokens *tokens;
	struct ew_escalation *running;
	const char *const *keep; /* ew_escalate_keep */
	size_t nkeep;
	const struct ew_spawn_hook *hook; /* ew_escalate_set_hook */
};

/* The signals a helper forwards (and the only ones passed on). */
static bool
forwarded(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP ||
	    sig == SIGQUIT;
}

int
ew_escalate_new(struct ev_loop *loop, struct ew_audit *audit, uid_t uid,
    const char *lib, const char *fail, struct ew_escalate **out)
{
	struct ew_escalate *e;
	const char *v = getenv("EXECWARD_TOKEN_TTL_MS");
	uint64_t ttl_ms = EW_ESCALATE_TTL_MS;
	char *end;
	int r;

	*out = NULL;
	if (v != NULL && *v != '\0') {
		errno = 0;
		ttl_ms = strtoull(v, &end, 10);
		if (errno != 0 || *end != '\0' || ttl_ms == 0 ||
		    ttl_ms > EW_ESCALATE_TTL_MS_MAX) {
			ew_log(EW_LOG_WARN,
			    "EXECWARD_TOKEN_TTL_MS=%s: expected 1 to %u "
			    "milliseconds; using %u",
			    v, EW_ESCALATE_TTL_MS_MAX, EW_ESCALATE_TTL_MS);
			ttl_ms = EW_ESCALATE_TTL_MS;
		}
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -ENOMEM;
	if ((r = ew_escalate_tokens_new(ttl_ms * 1000u, &e->tokens)) != 0) {
		free(e);
		return r;
	}
	e->loop = loop;
	e->audit = audit;
	e->uid = uid;
	e->lib = lib;
	e->fail = fail;
	*out = e;
	return 0;
}

int
ew_escalate_keep_check(const char *const *names, size_t n)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = strlen(names[i]);
		if (len == 0 || strchr(names[i], '=') != NULL ||
		    (strchr(names[i], '*') != NULL &&
			strchr(names[i], '*') != names[i] + len - 1))
			return -EINVAL;
	}
	return 0;
}

int
ew_escalate_keep(struct ew_escalate *e, const char *const *names, size_t n)
{
	int r;

	if ((r = ew_escalate_keep_check(names, n)) != 0)
		return r;
	e->keep = names;
	e->nkeep = n;
	return 0;
}

void
ew_escalate_set_hook(struct ew_escalate *e, const struct ew_spawn_hook *hook)
{
	e->hook = hook;
}

int
ew_escalate_check_tools(const struct ew_escalate *e,
    const struct ew_sandbox *sb, char *err, size_t errlen)
{
	char helper[PATH_MAX], why[EW_PROTO_REASON_MAX];
	const char *paths[2], *slash = strrchr(e->lib, '/');
	size_t i;

	/* The shim finds the helper beside itself (preload/ew_shim.c). */
	if (slash == NULL ||
	    snprintf(helper, sizeof(helper), "%.*s/execward-escalate",
		(int)(slash - e->lib), e->lib) >= (int)sizeof(helper)) {
		snprintf(err, errlen, "%s: not an absolute path", e->lib);
		return -EINVAL;
	}
	paths[0] = e->lib;
	paths[1] = helper;
	for (i = 0; i < 2; i++)
		if (ew_escalate_check_tool(
			sb, e->uid, paths[i], why, sizeof(why)) != 0) {
			snprintf(err, errlen,
			    "%s runs outside the sandbox for every escalated "
			    "program, but a sandboxed command could replace "
			    "it: %s",
			    paths[i], why);
			return -EPERM;
		}
	return 0;
}

int
ew_escalate_issue(struct ew_escalate *e, const void *owner, uid_t uid,
    const struct ew_msg_ask *ask, const struct ew_escalate_exe *exe,
    char token[EW_ESCALATE_TOKEN_LEN + 1])
{
	return ew_escalate_token_issue_exe(
	    e->tokens, owner, uid, ask, exe, ew_time_mono_us(), token);
}

/* An ANSWER on the helper's connection (best effort). */
static void
answer(const struct ew_escalate_peer *p, uint32_t verdict, const char *reason)
{
	unsigned char mem[EW_PROTO_REASON_MAX + 128];
	struct ew_buf b;
	int r;

	ew_buf_init(&b, mem, sizeof(mem));
	if ((r = ew_proto_put_answer(&b, verdict, reason, NULL)) != 0 ||
	    (r = ew_proto_send(p->fd, &b, NULL, 0)) != 0)
		ew_log(EW_LOG_DEBUG, "escalation answer to pid %d: %s",
		    (int)p->pid, ew_err_str(r));
}

void
ew_escalate_refuse(struct ew_audit *audit, const struct ew_escalate_peer *p,
    const struct ew_escalate_grant *g, const char *token, const char *reason)
{
	struct ew_audit_rec rec;
	int r;

	memset(&rec, 0, sizeof(rec));
	rec.session = p->session;
	rec.pid = p->pid;
	rec.ppid = ew_proc_ppid(p->pid);
	rec.uid = p->uid;
	rec.cwd = g != NULL ? g->cwd : "";
	rec.via = "execward-escalate";
	rec.file = g != NULL ? g->resolved : "";
	rec.called = g != NULL ? g->file : "";
	rec.argv = g != NULL ? g->argv : NULL;
	rec.argc = g != NULL ? g->argc : 0;
	rec.decision = EW_AUDIT_DENY;
	rec.source = "fallback";
	rec.reason = reason;
	rec.answer = "none";
	rec.token = token;
	ew_log(EW_LOG_WARN, "pid %d (uid %u): escalation refused: %s",
	    (int)p->pid, (unsigned)p->uid, reason);
	if (audit != NULL && (r = ew_audit_write(audit, &rec)) != 0)
		ew_log(EW_LOG_ERROR, "audit log %s: %s", ew_audit_path(audit),
		    strerror(-r));
	answer(p, EW_VERDICT_DENY, reason);
}

/*
 * Where the program goes: into the helper's process group when that group
 * is in the foreground of a terminal among its stdio (so it may read the
 * terminal, and ^C, ^\ and ^Z reach it as they would have), else a group
 * of its own that nothing but the helper's forwarding and the session's
 * end signals. The helper applies the same test to what it forwards.
 */
static pid_t
program_pgid(pid_t helper, const int *fds)
{
	pid_t pg = getpgid(helper), fg;
	int i;

	if (pg <= 0)
		return 0;
	for (i = 0; i < 3; i++)
		if (isatty(fds[i]) && (fg = tcgetpgrp(fds[i])) > 0 && fg == pg)
			return pg;
	return 0;
}

static void
ew_broker_on_escalated_exit(struct ev_loop *loop, ev_child *w, int revents);

/* Start g's program on fds: *xp. 0 or -errno with why in err. */
static int
start(struct ew_escalate *e, const struct ew_escalate_peer *p,
    struct ew_escalate_grant *g, char *const *envp, const int *fds, int exec_fd,
    struct ew_escalation **xp, char *err, size_t errlen)
{
	struct ew_escalation *x = NULL;
	struct ew_proc_status st;
	struct ew_spawn sp;
	char **env = NULL;
	pid_t pid = -1;
	int r, i;

	if (g->cwd[0] != '/') {
		snprintf(err, errlen,
		    "the folder %s was asked from is not known", g->resolved);
		return -ENOENT;
	}
	/* Its own shim asks on the outside socket (ew_session_confine). */
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (env = ew_escalate_env(envp, environ, e->keep, e->nkeep, p->sb,
		 e->uid, e->lib,
		 p->sock_out[0] != '\0' ? p->sock_out : p->sock_in, e->fail)) ==
		NULL ||
	    (e->hook != NULL && e->hook->env_add(e->hook->arg, &env) != 0)) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	/*
	 * The program ignores what the helper's caller ignored (nohup) and
	 * creates files as it would have.
	 */
	(void)ew_proc_status(p->pid, &st);
	memset(&sp, 0, sizeof(sp));
	/* Exactly the file checked: by its fd, or by path and identity. */
	sp.path = g->real;
	if (exec_fd >= 0) {
		sp.by_fd = true;
		sp.exec_fd = exec_fd;
	} else {
		sp.check_id = true;
		sp.dev = g->dev;
		sp.ino = g->ino;
	}
	sp.argv = g->argv;
	sp.envp = env;
	sp.cwd = g->cwd;
	for (i = 0; i < 3; i++)
		sp.fds[i] = fds[i];
	sp.pgid = program_pgid(p->pid, fds);
	sp.ignore = &st.ignored;
	sp.set_umask = st.umask >= 0;
	sp.umask = (mode_t)(st.umask >= 0 ? st.umask : 0);
	/* The searching entry points fall back to /bin/sh on ENOEXEC. */
	sp.sh_fallback = ew_escalate_via_sh_fallback(g->via);
	/* Its tree's starts the shim does not see come from outside. */
	sp.hook = e->hook;
	sp.hook_sess = (void *)(uintptr_t)p->owner;
	sp.hook_outside = true;
	if ((r = ew_spawn_start(&sp, &pid, err, errlen)) != 0)
		goto out;
	x->e = e;
	x->fd = p->fd;
	x->helper = p->pid;
	x->owner = p->owner;
	snprintf(x->session, sizeof(x->session), "%s", p->session);
	x->g = g;
	x->uid = p->uid;
	x->pid = pid;
	x->own_group = getpgid(pid) == pid;
	x->t_start_us = ew_time_mono_us();
	ev_child_init(&x->child_w, ew_broker_on_escalated_exit, pid, 0);
	x->child_w.data = x;
	ev_child_start(e->loop, &x->child_w);
	x->next = e->running;
	if (e->running != NULL)
		e->running->prev = x;
	e->running = x;
	*xp = x;
	x = NULL;
out:
	free(x);
	ew_escalate_env_free(env);
	return r;
}

/*
 * The program of g runs in the helper's place, confined (CONFINE), and the
 * connection ends. 0, or -errno with why in err.
 */
static int
send_confine(const struct ew_escalate_peer *p,
    const struct ew_escalate_grant *g, char *err, size_t errlen)
{
	struct ew_confine m;
	struct ew_buf *b = NULL;
	int fd = ew_sandbox_ruleset_fd(p->sb), r;

	if (p->sb == NULL || fd < 0) {
		snprintf(
		    err, errlen, "this session has no sandbox to run it in");
		return -EINVAL;
	}
	memset(&m, 0, sizeof(m));
	m.path = g->resolved;
	m.argv = g->argv;
	/* From now on it asks as any confined process does. */
	m.socket = p->sock_in;
	m.flags = ew_escalate_via_sh_fallback(g->via)
	    ? EW_PROTO_CONFINE_SH_FALLBACK
	    : 0;
	m.bpf = ew_sandbox_filter(p->sb, &m.bpf_len);
	if ((b = ew_buf_new(EW_PROTO_MSG_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((r = ew_proto_put_confine(b, &m)) != 0 ||
	    (r = ew_proto_send(p->fd, b, &fd, 1)) != 0)
		snprintf(err, errlen, "send CONFINE: %s", ew_err_str(r));
	ew_buf_free(b);
	return r;
}

/*
 * The check failed at redemption: the program runs in the helper's place,
 * confined, and the audit log says why it was not escalated.
 */
static void
confine_instead(struct ew_escalate *e, const struct ew_escalate_peer *p,
    const struct ew_escalate_grant *g, const char *why)
{
	struct ew_audit_rec rec;
	char note[EW_PROTO_REASON_MAX + 16], err[EW_PROTO_REASON_MAX];
	int r;

	snprintf(note, sizeof(note), "refused: %s", why);
	memset(&rec, 0, sizeof(rec));
	rec.session = p->session;
	rec.pid = p->pid;
	rec.ppid = ew_proc_ppid(p->pid);
	rec.uid = p->uid;
	rec.cwd = g->cwd;
	rec.via = "execward-escalate";
	rec.file = g->resolved;
	rec.called = g->file;
	rec.real = g->real != NULL && strcmp(g->real, g->resolved) != 0
	    ? g->real
	    : NULL;
	rec.argv = g->argv;
	rec.argc = g->argc;
	rec.decision = EW_AUDIT_ALLOW;
	rec.source = "fallback";
	rec.answer = "none";
	rec.token = g->token;
	rec.sandbox = p->sandbox;
	rec.escalation = note;
	ew_log(EW_LOG_WARN, "pid %d: escalation of %s %s; it runs confined",
	    (int)p->pid, g->resolved, note);
	/* Nothing runs unrecorded: without the record, nothing at all. */
	if (e->audit != NULL && (r = ew_audit_write(e->audit, &rec)) != 0) {
		ew_log(EW_LOG_ERROR, "audit log %s: %s",
		    ew_audit_path(e->audit), strerror(-r));
		answer(p, EW_VERDICT_DENY, "the audit log cannot be written");
	} else if (send_confine(p, g, err, sizeof(err)) != 0)
		ew_log(EW_LOG_WARN, "pid %d: %s", (int)p->pid, err);
}

enum ew_escalate_next
ew_escalate_redeem(struct ew_escalate *e, const struct ew_escalate_peer *p,
    struct ew_msg_escalate *m, int *fds, size_t nfds, void (*gone)(void *ctx),
    void *ctx, struct ew_escalation **xp)
{
	const struct ew_escalate_grant *seen = NULL;
	struct ew_escalate_grant *g = NULL;
	struct ew_escalate_exe exe;
	enum ew_escalate_next next = EW_ESCALATE_CLOSE;
	char reason[EW_PROTO_REASON_MAX + 1];
	int r, xfd = -1;

	*xp = NULL;
	if (nfds != 3) {
		snprintf(reason, sizeof(reason),
		    "an escalation must hand over fds 0, 1 and 2 (%zu came)",
		    nfds);
		ew_escalate_refuse(e->audit, p, NULL, m->token, reason);
		goto out;
	}
	r = ew_escalate_token_take(e->tokens, p->owner, m->token, p->uid,
	    ew_time_mono_us(), &g, &seen);
	if (r != 0) {
		ew_escalate_refuse(
		    e->audit, p, seen, m->token, ew_escalate_refusal(r));
		goto out;
	}
	if (g->confine) {
		/* Decided and recorded when the token was issued. */
		if (send_confine(p, g, reason, sizeof(reason)) != 0)
			ew_escalate_refuse(e->audit, p, g, m->token, reason);
		ew_escalate_grant_free(g);
		goto out;
	}
	/*
	 * Checked again: the file may have been replaced since the answer,
	 * and what runs is exactly what passes now (its fd, or its path
	 * with its identity checked at the exec).
	 */
	memset(&exe, 0, sizeof(exe));
	exe.err = -ENOENT;
	if (g->real != NULL) {
		snprintf(exe.path, sizeof(exe.path), "%s", g->real);
		exe.dev = g->dev;
		exe.ino = g->ino;
		exe.err = 0;
	}
	if (ew_escalate_check(p->sb, e->uid, &exe,
		ew_escalate_via_sh_fallback(g->via), &xfd, reason,
		sizeof(reason)) != 0) {
		confine_instead(e, p, g, reason);
		ew_escalate_grant_free(g);
		goto out;
	}
	r = start(e, p, g, m->envp, fds, xfd, xp, reason, sizeof(reason));
	xfd = ew_fd_close(xfd);
	if (r != 0) {
		char why[EW_PROTO_REASON_MAX + 1];

		snprintf(why, sizeof(why), "cannot start %.512s: %.400s",
		    g->real, reason);
		ew_escalate_refuse(e->audit, p, g, m->token, why);
		ew_escalate_grant_free(g);
		goto out;
	}
	(*xp)->gone = gone;
	(*xp)->ctx = ctx;
	ew_log(EW_LOG_DEBUG, "escalated %s for pid %d: pid %d", g->real,
	    (int)p->pid, (int)(*xp)->pid);
	answer(p, EW_VERDICT_ALLOW, NULL);
	next = EW_ESCALATE_RUNNING;
out:
	ew_fd_close_all(fds, nfds);
	ew_msg_escalate_free(m);
	return next;
}

/*
 * Send sig to x's program; with group, to the group it leads too (when
 * the session ends it, nothing it started may stay behind).
 */
static void
signal_program(struct ew_escalation *x, int sig, bool group)
{
	if (x->reaped)
		return;
	if (kill(x->pid, sig) != 0 && errno != ESRCH)
		ew_log(EW_LOG_WARN, "kill %d %d: %s", sig, (int)x->pid,
		    strerror(errno));
	if (group && x->own_group && kill(-x->pid, sig) != 0 && errno != ESRCH)
		ew_log(EW_LOG_WARN, "kill %d -%d: %s", sig, (int)x->pid,
		    strerror(errno));
}

/* Record x's end and forget it; its helper gets EXIT first. */
static void
finish(struct ew_escalation *x, int status)
{
	struct ew_escalate *e = x->e;
	struct ew_audit_exit rec;
	unsigned char mem[32];
	struct ew_buf b;
	int r;

	x->reaped = true;
	ev_child_stop(e->loop, &x->child_w);
	memset(&rec, 0, sizeof(rec));
	rec.session = x->session;
	rec.pid = x->pid;
	rec.uid = x->uid;
	rec.cwd = x->g->cwd;
	rec.file = x->g->resolved;
	rec.argv = x->g->argv;
	rec.argc = x->g->argc;
	rec.status = status;
	rec.duration_us = ew_time_mono_us() - x->t_start_us;
	rec.token = x->g->token;
	if (e->audit != NULL && (r = ew_audit_write_exit(e->audit, &rec)) != 0)
		ew_log(EW_LOG_ERROR, "audit log %s: %s",
		    ew_audit_path(e->audit), strerror(-r));
	if (x->fd >= 0) {
		ew_buf_init(&b, mem, sizeof(mem));
		if ((r = ew_proto_put_exit(&b, status)) != 0 ||
		    (r = ew_proto_send(x->fd, &b, NULL, 0)) != 0)
			ew_log(EW_LOG_DEBUG, "exit to pid %d: %s",
			    (int)x->helper, ew_err_str(r));
		x->fd = -1;
		/* The helper's connection has nothing left to carry. */
		x->gone(x->ctx);
	}
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		e->running = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	ew_escalate_grant_free(x->g);
	free(x);
}

static void
ew_broker_on_escalated_exit(struct ev_loop *loop, ev_child *w, int revents)
{
	struct ew_escalation *x = w->data;

	if (WIFSTOPPED(w->rstatus) || WIFCONTINUED(w->rstatus))
		return;
	finish(x, w->rstatus);
}

void
ew_escalate_forward(struct ew_escalation *x, int sig)
{
	if (forwarded(sig))
		signal_program(x, sig, false);
	else
		ew_log(EW_LOG_WARN, "pid %d asked for signal %d: not forwarded",
		    (int)x->helper, sig);
}

void
ew_escalate_detach(struct ew_escalation *x)
{
	x->fd = -1;
	/* Nobody is left to report to: the program goes as its helper did. */
	signal_program(x, SIGKILL, true);
}

void
ew_escalate_signal_session(struct ew_escalate *e, const void *owner, int sig)
{
	struct ew_escalation *x;

	for (x = e->running; x != NULL; x = x->next)
		if (x->owner == owner)
			signal_program(x, sig, true);
}

void
ew_escalate_session_closed(struct ew_escalate *e, const void *owner)
{
	struct ew_escalation *x;

	ew_escalate_tokens_drop_owner(e->tokens, owner);
	for (x = e->running; x != NULL; x = x->next)
		if (x->owner == owner) {
			signal_program(x, SIGKILL, true);
			x->owner = NULL;
		}
}

size_t
ew_escalate_running(const struct ew_escalate *e, const void *owner)
{
	const struct ew_escalation *x;
	size_t n = 0;

	for (x = e->running; x != NULL; x = x->next)
		n += owner == NULL || x->owner == owner;
	return n;
}

void
ew_escalate_free(struct ew_escalate *e)
{
	struct ew_escalation *x;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int st, waited = 0;
	pid_t r;

	if (e == NULL)
		return;
	for (x = e->running; x != NULL; x = x->next)
		signal_program(x, SIGKILL, true);
	/*
	 * Reap them here, with the loop stopped. A program stuck in the
	 * kernel (D state) is left after EW_ESCALATE_REAP_MS, unrecorded.
	 */
	while (e->running != NULL) {
		x = e->running;
		r = waitpid(x->pid, &st, WNOHANG);
		if (r == x->pid || (r < 0 && errno == ECHILD)) {
			finish(x, r == x->pid ? st : W_EXITCODE(0, SIGKILL));
			continue;
		}
		if (waited >= EW_ESCALATE_REAP_MS) {
			ew_log(EW_LOG_WARN,
			    "escalated pid %d did not die: left behind",
			    (int)x->pid);
			x->reaped = true;
			finish(x, W_EXITCODE(0, SIGKILL));
			continue;
		}
		nanosleep(&ts, NULL);
		waited += 10;
	}
	ew_escalate_tokens_free(e->tokens);
	free(e);
}
