/* Escalation: single-use tokens, and the programs run for them outside. */
#ifndef EW_ESCALATE_H
#define EW_ESCALATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ew_proto.h"

/*
 * In a sandboxed session, a program that an explicit rule allows (or that
 * a person approved when a rule asked) is not run in place: the broker
 * answers ESCALATE with a token, the shim execs `execward-escalate TOKEN`,
 * and the helper hands the token, its environment and fds 0-2 to the
 * broker, which runs the approved program outside the sandbox.
 *
 * A token is 128 random bits in hex, good once, for EW_ESCALATE_TTL_MS,
 * for the session that issued it and the uid that asked, and it names
 * exactly one request: program, argv and cwd come from the grant, never
 * from the helper. Tokens spent or expired are remembered a while longer,
 * so that a second use is refused as such (and recorded).
 *
 * Return convention: 0 on success, -errno on failure.
 */

#define EW_ESCALATE_TOKEN_BYTES 16
#define EW_ESCALATE_TOKEN_LEN (2 * EW_ESCALATE_TOKEN_BYTES)
/* A token unused this long after it was issued is void. */
#define EW_ESCALATE_TTL_MS 30000u
/* Tokens held at once (live, spent or expired) per broker. */
#define EW_ESCALATE_TOKENS_MAX 4096u
/* Spent and expired tokens are remembered this long past their expiry. */
#define EW_ESCALATE_REMEMBER_MS (10u * 60 * 1000)

/*
 * Interpreters followed from a program (a script's "#!", an ELF loader):
 * the kernel's own limit (BINPRM_MAX_RECURSION) is 4.
 */
#define EW_ESCALATE_INTERP_DEPTH_MAX 4

/*
 * The program a question is about, as the broker resolved it: the real
 * file, symlinks followed, by path and identity.
 */
struct ew_escalate_exe {
	char path[PATH_MAX]; /* "" when err */
	dev_t dev;
	ino_t ino;
	int err; /* 0, or why it could not be resolved (-errno) */
};

/* What a token was issued for: a copy of the approved request. */
struct ew_escalate_grant {
	const void *owner; /* the session that issued it */
	uid_t uid; /* who asked (SO_PEERCRED) */
	uint32_t via;
	char *file; /* as called */
	char *resolved; /* the path asked about (what a confinement runs) */
	char *cwd;
	char **argv; /* argc entries, then NULL */
	size_t argc;
	/*
	 * confine: the helper runs resolved itself, in the session's
	 * sandbox. Else it is an escalation of real (the file checked, by
	 * identity dev and ino), or NULL when nothing was checked.
	 */
	bool confine;
	char *real;
	dev_t dev;
	ino_t ino;
	uint64_t issued_us, expires_us; /* monotonic */
	char token[EW_ESCALATE_TOKEN_LEN + 1];
};

/* Free a grant; the token is wiped. NULL is a no-op. */
void ew_escalate_grant_free(struct ew_escalate_grant *g);

struct ew_escalate_tokens;

/* A token table whose tokens live ttl_us. *out: ew_escalate_tokens_free. */
int ew_escalate_tokens_new(uint64_t ttl_us, struct ew_escalate_tokens **out);
/* NULL is a no-op. Every token is wiped. */
void ew_escalate_tokens_free(struct ew_escalate_tokens *t);

/*
 * Issue a token for ask, asked by uid in owner's session, at now_us
 * (monotonic microseconds). token gets the hex text. -EAGAIN when
 * EW_ESCALATE_TOKENS_MAX live tokens are already waiting, -ENOMEM.
 */
int ew_escalate_token_issue(struct ew_escalate_tokens *t, const void *owner,
    uid_t uid, const struct ew_msg_ask *ask, uint64_t now_us,
    char token[EW_ESCALATE_TOKEN_LEN + 1]);

/*
 * The same, for what the grant runs: exe, the checked file to escalate,
 * or with exe NULL a confinement (grant->confine).
 */
int ew_escalate_token_issue_exe(struct ew_escalate_tokens *t, const void *owner,
    uid_t uid, const struct ew_msg_ask *ask, const struct ew_escalate_exe *exe,
    uint64_t now_us, char token[EW_ESCALATE_TOKEN_LEN + 1]);

/*
 * Redeem token, presented by uid on owner's session at now_us. 0: *out is
 * the grant (caller frees) and the token is spent. Refusals: -ENOENT
 * never issued (forged, malformed, or forgotten), -EALREADY used before,
 * -ETIMEDOUT expired, -EPERM issued to another uid, -EXDEV issued by
 * another session (these two leave it valid for its owner). On a refusal
 * of a known token *seen, when not NULL, borrows its grant (valid until
 * the next call on t), for the record.
 */
int ew_escalate_token_take(struct ew_escalate_tokens *t, const void *owner,
    const char *token, uid_t uid, uint64_t now_us,
    struct ew_escalate_grant **out, const struct ew_escalate_grant **seen);

/* Forget every token owner issued (its session is closing). */
void
ew_escalate_tokens_drop_owner(struct ew_escalate_tokens *t, const void *owner);

/* Tokens held (live, spent and expired), and live ones at now_us. */
size_t ew_escalate_tokens_count(
    const struct ew_escalate_tokens *t, uint64_t now_us, size_t *livep);

/* Do the entry points of via run a file without "#!" with /bin/sh? */
bool ew_escalate_via_sh_fallback(uint32_t via);

/* Why take refused: "token already used", ... for r from take. */
const char *ew_escalate_refusal(int r);

/* ---- what may leave the sandbox (ew_escalate_check.c) ----------------- */

struct ew_sandbox;

/*
 * Resolve the program pid asks about, as the kernel will find it: a
 * relative path with a slash from /proc/PID/cwd, anything else (PATH was
 * searched by the shim) by its absolute form inside /proc/PID/root, with
 * symlinks followed. pid <= 0: our own process. 0, or -errno (also in
 * out->err); -EXDEV for a path under /proc, which cannot be resolved for
 * another process.
 */
int ew_escalate_resolve(
    pid_t pid, const struct ew_msg_ask *ask, struct ew_escalate_exe *out);

/*
 * open(2) path with oflags as a process whose root is the folder rootfd
 * sees it: absolute symlinks and ".." stay inside that root, and
 * /proc's magic links are not followed (openat2 RESOLVE_IN_ROOT). Where
 * openat2 is missing only our own root can be used (-ENOSYS for
 * another). An fd, or -errno.
 */
int ew_escalate_open_in_root(int rootfd, const char *path, int oflags);

/*
 * May exe leave the sandbox sb? Only a regular file that the sandbox
 * cannot have written or replaced: it and every folder above it lie
 * outside sb's roots (writable ones, and its workspace), belong to root
 * or uid and are writable by no one else (OpenSSH's safe_path: the
 * sticky bit of /tmp does not make it safe), and it is still the file
 * exe resolved (device and inode). The interpreter of a script, the
 * loader of an ELF program and, with sh_fallback, the /bin/sh of a file
 * with neither, are checked the same way. 0 with *fdp an fd of an ELF
 * file to exec (CLOEXEC; -1 for anything else, to be run by path with
 * its identity checked), or -errno with why in why.
 */
int ew_escalate_check(const struct ew_sandbox *sb, uid_t uid,
    const struct ew_escalate_exe *exe, bool sh_fallback, int *fdp, char *why,
    size_t len);

/* ---- the broker's side (ew_escalate_run.c) ---------------------------- */

struct ev_loop;
struct ew_audit;
struct ew_escalate;
struct ew_escalation;
struct ew_spawn_hook;

/* Room for a session's id in the records of what it escalated. */
#define EW_ESCALATE_SESSION_MAX 33

/*
 * The helper's connection that hands over a token, and the session it
 * came to, as far as escalation needs to know them (the broker's client
 * and session are not known down here).
 */
struct ew_escalate_peer {
	int fd; /* ANSWER, CONFINE and EXIT go here */
	pid_t pid; /* the helper, as SO_PEERCRED says */
	uid_t uid;
	const void *owner; /* the session: tokens are bound to it */
	const char *session; /* its id, for the records */
	const struct ew_sandbox *sb; /* its sandbox; NULL: none */
	const char *sandbox; /* the sandbox's mode, for the records */
	const char *sock_in; /* the inside socket, a confined program's */
	const char *sock_out; /* the outside socket; "": none */
};

/*
 * Start escalating on loop, recording to audit (NULL: nowhere), for a
 * broker of uid: programs get LD_PRELOAD=lib and EXECWARD_FAIL=fail
 * besides their session's outside socket. The token lifetime is
 * EW_ESCALATE_TTL_MS, or EXECWARD_TOKEN_TTL_MS from the environment (for
 * tests). *out: ew_escalate_free.
 */
int ew_escalate_new(struct ev_loop *loop, struct ew_audit *audit, uid_t uid,
    const char *lib, const char *fail, struct ew_escalate **out);

/*
 * Are names fit for ew_escalate_keep (names, or prefixes ending in '*')?
 * 0, or -EINVAL for an empty or malformed one.
 */
int ew_escalate_keep_check(const char *const *names, size_t n);

/*
 * The variables an escalated program keeps from its caller's environment
 * besides the defaults (ew_escalate_env). Borrowed: they must outlive e.
 * -EINVAL as ew_escalate_keep_check.
 */
int ew_escalate_keep(struct ew_escalate *e, const char *const *names, size_t n);

/*
 * The environment of an escalated program, built the way sudo's
 * env_reset builds one: from the caller's envp only TERM, COLORTERM,
 * NO_COLOR, LANG, LANGUAGE, LC_* and TZ (not those whose values name a
 * path, as sudo checks them), EXECWARD_QUIET and EXECWARD_TIMEOUT, and
 * the names in keep; HOME, USER, LOGNAME and PATH from benv, the broker's
 * own (PATH without entries that are relative, in a root of sb, or
 * writable by others); LD_PRELOAD=lib, EXECWARD_SOCKET=sock and
 * EXECWARD_FAIL=fail. NULL when out of memory; the caller frees the
 * array and, first, each string in it.
 */
char **ew_escalate_env(char *const *envp, char *const *benv,
    const char *const *keep, size_t nkeep, const struct ew_sandbox *sb,
    uid_t uid, const char *lib, const char *sock, const char *fail);

/*
 * One of execward's own files that run outside the sandbox (the shim every
 * escalated program loads, the helper its shim runs): path, by the walk
 * to it and its real file, must pass what ew_escalate_check asks of a
 * program. 0, or -errno with why.
 */
int ew_escalate_check_tool(const struct ew_sandbox *sb, uid_t uid,
    const char *path, char *why, size_t len);

/* Symlinks followed in one path at most (the kernel's MAXSYMLINKS). */
#define EW_ESCALATE_LINKS_MAX 40

/*
 * Can the walk to path (absolute) be changed? Every folder a part of it is
 * looked up in, through every symlink, must lie outside sb's roots and
 * be writable by no one but root or uid. What a process outside the
 * sandbox runs in place by this path then reaches the same file as the
 * check did. 0, or -errno with why.
 */
int ew_escalate_check_path(const struct ew_sandbox *sb, uid_t uid,
    const char *path, char *why, size_t len);

/*
 * What every spawn of e runs around its child, and adds to an escalated
 * program's environment (the kernel backstop's, ew_spawn.h); NULL: none.
 * Borrowed: it must outlive e.
 */
void
ew_escalate_set_hook(struct ew_escalate *e, const struct ew_spawn_hook *hook);

/* Free what ew_escalate_env returned. NULL is a no-op. */
void ew_escalate_env_free(char **env);

/*
 * Is the folder path (symlinks followed) one that no sandboxed command,
 * nor any other user, can change (the checks of ew_escalate_check, for a
 * folder)? 0, or -errno with why.
 */
int ew_escalate_check_folder(const struct ew_sandbox *sb, uid_t uid,
    const char *path, char *why, size_t len);

/*
 * Kill (SIGKILL) every program still running, reap them (waiting a
 * bounded time), record their exits, free. NULL is a no-op.
 */
void ew_escalate_free(struct ew_escalate *e);

/*
 * Can the session of sandbox sb escalate? execward's own files that run
 * outside it, libexecward.so and execward-escalate, must be out of the
 * sandbox's reach (ew_escalate_check_tool), or a confined command could
 * replace what every escalated program loads. 0, or -EPERM with why.
 */
int ew_escalate_check_tools(const struct ew_escalate *e,
    const struct ew_sandbox *sb, char *err, size_t errlen);

/*
 * Issue a token, now, for ask from uid in owner's session: an escalation
 * of exe (the file the broker resolved and checked) or, with exe NULL, a
 * confinement in place. 0 or -errno (ew_escalate_token_issue_exe).
 */
int ew_escalate_issue(struct ew_escalate *e, const void *owner, uid_t uid,
    const struct ew_msg_ask *ask, const struct ew_escalate_exe *exe,
    char token[EW_ESCALATE_TOKEN_LEN + 1]);

/* What a hand-over came to: what the helper's connection does next. */
enum ew_escalate_next {
	EW_ESCALATE_CLOSE, /* answered (refused, or CONFINE): close it */
	EW_ESCALATE_RUNNING, /* the program runs: keep it for SIGNALs */
};

/*
 * The helper's ESCALATE from p: check the token (a refusal is recorded
 * and answered deny), start the program outside the sandbox on fds
 * (taken: closed here), answer allow. RUNNING: *xp runs, and gone(ctx)
 * is called once it has ended and its EXIT has been sent (unless
 * ew_escalate_detach came first). Takes ownership of m.
 */
enum ew_escalate_next ew_escalate_redeem(struct ew_escalate *e,
    const struct ew_escalate_peer *p, struct ew_msg_escalate *m, int *fds,
    size_t nfds, void (*gone)(void *ctx), void *ctx, struct ew_escalation **xp);

/*
 * Record in audit (NULL: nowhere) that p's hand-over of token was refused
 * for reason (g: the grant, when the token is known), and answer deny.
 */
void
ew_escalate_refuse(struct ew_audit *audit, const struct ew_escalate_peer *p,
    const struct ew_escalate_grant *g, const char *token, const char *reason);

/* The helper sent SIGNAL sig: pass it on, if it is one helpers forward. */
void ew_escalate_forward(struct ew_escalation *x, int sig);

/*
 * The helper's connection has gone: x's program, if still running, is
 * killed (SIGKILL); its exit is still recorded, and gone is not called.
 */
void ew_escalate_detach(struct ew_escalation *x);

/* Send sig to every program owner's session started (and their groups). */
void
ew_escalate_signal_session(struct ew_escalate *e, const void *owner, int sig);

/* owner's session is closing: drop its tokens, kill (SIGKILL) its programs. */
void ew_escalate_session_closed(struct ew_escalate *e, const void *owner);

/* Programs running for owner's session (NULL: for any session). */
size_t ew_escalate_running(const struct ew_escalate *e, const void *owner);

#endif /* EW_ESCALATE_H */
