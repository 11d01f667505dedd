/* Escalation: single-use tokens, and the programs run for them outside. */
#ifndef EW_ESCALATE_H
#define EW_ESCALATE_H

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

/* What a token was issued for: a copy of the approved request. */
struct ew_escalate_grant {
	const void *owner; /* the session that issued it */
	uid_t uid; /* who asked (SO_PEERCRED) */
	uint32_t via;
	char *file; /* as called */
	char *resolved; /* the program that runs */
	char *cwd;
	char **argv; /* argc entries, then NULL */
	size_t argc;
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

/* Why take refused: "token already used", ... for r from take. */
const char *ew_escalate_refusal(int r);

/* ---- the broker's side (ew_escalate_run.c) ---------------------------- */

struct ew_broker;
struct ew_client;
struct ew_session;
struct ew_escalate;

/*
 * Start escalating for br: programs get LD_PRELOAD=lib and
 * EXECWARD_FAIL=fail besides their session's socket. The token lifetime
 * is EW_ESCALATE_TTL_MS, or EXECWARD_TOKEN_TTL_MS from the environment
 * (for tests). *out: ew_escalate_free.
 */
int ew_escalate_new(struct ew_broker *br, const char *lib, const char *fail,
    struct ew_escalate **out);

/*
 * Kill (SIGKILL) every program still running, reap them (waiting a
 * bounded time), record their exits, free. NULL is a no-op.
 */
void ew_escalate_free(struct ew_escalate *e);

/* Issue a token for c's question into c->token. 0 or -errno. */
int ew_escalate_issue(struct ew_escalate *e, struct ew_client *c);

/*
 * The helper's ESCALATE on c: check the token (a refusal is recorded and
 * answered deny), start the program outside the sandbox on fds (taken:
 * closed here), answer allow, and from then on forward SIGNALs and send
 * EXIT when it ends. Takes ownership of m.
 */
void ew_broker_answer_escalate(
    struct ew_client *c, struct ew_msg_escalate *m, int *fds, size_t nfds);

/* A message (SIGNAL) or a hang-up on an escalation's connection. */
void ew_escalate_on_client_read(struct ew_client *c);

/*
 * c is being freed: its program, if still running, loses its helper and
 * is killed (SIGKILL); its exit is still recorded.
 */
void ew_escalate_client_gone(struct ew_client *c);

/* Send sig to every program s started (and their process groups). */
void ew_escalate_signal_session(
    struct ew_escalate *e, const struct ew_session *s, int sig);

/* s is closing: drop its tokens, kill (SIGKILL) its programs. */
void
ew_escalate_session_closed(struct ew_escalate *e, const struct ew_session *s);

/* Programs running for s (NULL: for any session). */
size_t
ew_escalate_running(const struct ew_escalate *e, const struct ew_session *s);

#endif /* EW_ESCALATE_H */
