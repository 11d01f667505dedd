/*
 * Unit tests of broker/ew_escalate.c: escalation tokens, issued for one
 * request, redeemed once, by their uid and session only, before expiry.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ew_escalate.h"
#include "ew_proto.h"

#define SEC 1000000ull
#define TTL (30 * SEC)

static struct ew_escalate_tokens *t;
static char *argv_ok[] = { "git", "init", ".", NULL };
static struct ew_msg_ask ask = {
	.via = EW_VIA_EXECVP,
	.pid = 42,
	.ppid = 41,
	.cwd = "/w",
	.file = "git",
	.resolved = "/usr/bin/git",
	.argc = 3,
	.arg_bytes = 8,
	.argv = argv_ok,
};
/* Two sessions (only their addresses matter). */
static int sess_a, sess_b;

static void
setup(void)
{
	cr_assert_eq(ew_escalate_tokens_new(TTL, &t), 0);
}

static void
teardown(void)
{
	ew_escalate_tokens_free(t);
}

TestSuite(escalate, .init = setup, .fini = teardown);

static void
issue(char tok[EW_ESCALATE_TOKEN_LEN + 1], uid_t uid, uint64_t now)
{
	cr_assert_eq(
	    ew_escalate_token_issue(t, &sess_a, uid, &ask, now, tok), 0);
}

Test(escalate, a_token_is_128_bits_of_hex)
{
	char a[EW_ESCALATE_TOKEN_LEN + 1], b[EW_ESCALATE_TOKEN_LEN + 1];
	size_t i;

	issue(a, 1000, SEC);
	issue(b, 1000, SEC);
	cr_assert_eq(strlen(a), 32);
	cr_assert_geq(EW_ESCALATE_TOKEN_BYTES * 8, 128);
	for (i = 0; i < 32; i++)
		cr_assert(strchr("0123456789abcdef", a[i]) != NULL, "%s", a);
	cr_assert_str_neq(a, b);
	cr_assert(EW_ESCALATE_TOKEN_LEN <= EW_PROTO_TOKEN_MAX);
}

Test(escalate, redeemed_once_for_exactly_the_request)
{
	char tok[EW_ESCALATE_TOKEN_LEN + 1];
	const struct ew_escalate_grant *seen = NULL;
	struct ew_escalate_grant *g = NULL;
	size_t live;

	issue(tok, 1000, SEC);
	cr_assert_eq(ew_escalate_tokens_count(t, SEC, &live), 1);
	cr_assert_eq(live, 1);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 1000, 2 * SEC, &g, &seen),
	    0);
	cr_assert_not_null(g);
	cr_assert_str_eq(g->resolved, "/usr/bin/git");
	cr_assert_str_eq(g->file, "git");
	cr_assert_str_eq(g->cwd, "/w");
	cr_assert_eq(g->argc, 3);
	cr_assert_str_eq(g->argv[0], "git");
	cr_assert_str_eq(g->argv[2], ".");
	cr_assert_null(g->argv[3]);
	cr_assert_eq(g->via, EW_VIA_EXECVP);
	cr_assert_eq(g->uid, 1000);
	cr_assert_str_eq(g->token, tok);
	cr_assert_eq(g->expires_us, SEC + TTL);
	ew_escalate_grant_free(g);

	/* Spent: refused as such, and named for the record. */
	g = NULL;
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 1000, 3 * SEC, &g, &seen),
	    -EALREADY);
	cr_assert_null(g);
	cr_assert_not_null(seen);
	cr_assert_str_eq(seen->resolved, "/usr/bin/git");
	cr_assert_eq(ew_escalate_tokens_count(t, 3 * SEC, &live), 1);
	cr_assert_eq(live, 0);
}

Test(escalate, another_uid_is_refused_and_the_token_stays_good)
{
	char tok[EW_ESCALATE_TOKEN_LEN + 1];
	struct ew_escalate_grant *g = NULL;

	issue(tok, 1000, SEC);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 65534, SEC, &g, NULL),
	    -EPERM);
	cr_assert_null(g);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 1000, SEC, &g, NULL), 0);
	ew_escalate_grant_free(g);
}

Test(escalate, another_session_is_refused)
{
	char tok[EW_ESCALATE_TOKEN_LEN + 1];
	struct ew_escalate_grant *g = NULL;

	issue(tok, 1000, SEC);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_b, tok, 1000, SEC, &g, NULL),
	    -EXDEV);
	cr_assert_null(g);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 1000, SEC, &g, NULL), 0);
	ew_escalate_grant_free(g);
}

Test(escalate, expires_after_its_lifetime)
{
	char tok[EW_ESCALATE_TOKEN_LEN + 1], tok2[EW_ESCALATE_TOKEN_LEN + 1];
	const struct ew_escalate_grant *seen = NULL;
	struct ew_escalate_grant *g = NULL;

	issue(tok, 1000, SEC);
	issue(tok2, 1000, SEC);
	/* One microsecond before: still good. */
	cr_assert_eq(ew_escalate_token_take(
			 t, &sess_a, tok2, 1000, SEC + TTL - 1, &g, NULL),
	    0);
	ew_escalate_grant_free(g);
	g = NULL;
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 1000, SEC + TTL, &g, &seen),
	    -ETIMEDOUT);
	cr_assert_null(g);
	cr_assert_not_null(seen);
	/* Remembered for a while, then forgotten: unknown. */
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 1000,
		SEC + TTL + EW_ESCALATE_REMEMBER_MS * 1000ull - 1, &g, NULL),
	    -ETIMEDOUT);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 1000,
		SEC + TTL + EW_ESCALATE_REMEMBER_MS * 1000ull, &g, NULL),
	    -ENOENT);
	cr_assert_eq(ew_escalate_tokens_count(t, 0, NULL), 0);
}

Test(escalate, forged_and_malformed_tokens_are_unknown)
{
	char tok[EW_ESCALATE_TOKEN_LEN + 1], forged[EW_ESCALATE_TOKEN_LEN + 1];
	const struct ew_escalate_grant *seen = NULL;
	struct ew_escalate_grant *g = NULL;

	issue(tok, 1000, SEC);
	/* One digit off. */
	memcpy(forged, tok, sizeof(forged));
	forged[31] = forged[31] == '0' ? '1' : '0';
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, forged, 1000, SEC, &g, &seen),
	    -ENOENT);
	cr_assert_null(seen);
	/* A prefix, a longer string, upper case, nothing. */
	forged[31] = '\0';
	memcpy(forged, tok, 31);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, forged, 1000, SEC, &g, NULL),
	    -ENOENT);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a,
		"0123456789abcdef0123456789abcdef0", 1000, SEC, &g, NULL),
	    -ENOENT);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a,
		"0123456789ABCDEF0123456789ABCDEF", 1000, SEC, &g, NULL),
	    -ENOENT);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, "", 1000, SEC, &g, NULL),
	    -ENOENT);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, NULL, 1000, SEC, &g, NULL),
	    -ENOENT);
	/* The real one is untouched by all that. */
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_a, tok, 1000, SEC, &g, NULL), 0);
	ew_escalate_grant_free(g);
}

Test(escalate, a_closing_session_drops_its_tokens)
{
	char a[EW_ESCALATE_TOKEN_LEN + 1], b[EW_ESCALATE_TOKEN_LEN + 1];
	struct ew_escalate_grant *g = NULL;

	issue(a, 1000, SEC);
	cr_assert_eq(
	    ew_escalate_token_issue(t, &sess_b, 1000, &ask, SEC, b), 0);
	ew_escalate_tokens_drop_owner(t, &sess_a);
	cr_assert_eq(ew_escalate_tokens_count(t, SEC, NULL), 1);
	cr_assert_eq(ew_escalate_token_take(t, &sess_a, a, 1000, SEC, &g, NULL),
	    -ENOENT);
	cr_assert_eq(
	    ew_escalate_token_take(t, &sess_b, b, 1000, SEC, &g, NULL), 0);
	ew_escalate_grant_free(g);
}

Test(escalate, the_table_is_bounded)
{
	char tok[EW_ESCALATE_TOKEN_LEN + 1];
	struct ew_escalate_grant *g = NULL;
	size_t i;

	for (i = 0; i < EW_ESCALATE_TOKENS_MAX; i++)
		issue(tok, 1000, SEC);
	cr_assert_eq(
	    ew_escalate_token_issue(t, &sess_a, 1000, &ask, SEC, tok), -EAGAIN);
	/* Once they expire, the oldest make room for new ones. */
	issue(tok, 1000, SEC + TTL + 1);
	cr_assert_eq(ew_escalate_token_take(
			 t, &sess_a, tok, 1000, SEC + TTL + 2, &g, NULL),
	    0);
	ew_escalate_grant_free(g);
	cr_assert_eq(
	    ew_escalate_token_issue(t, &sess_a, 1000, &ask, SEC + TTL + 3, tok),
	    0);
	cr_assert_leq(ew_escalate_tokens_count(t, SEC + TTL + 3, NULL),
	    EW_ESCALATE_TOKENS_MAX);
}

Test(escalate, refusals_are_named)
{
	cr_assert_str_eq(
	    ew_escalate_refusal(-EALREADY), "escalation token already used");
	cr_assert_str_eq(
	    ew_escalate_refusal(-ETIMEDOUT), "escalation token expired");
	cr_assert_str_eq(ew_escalate_refusal(-EPERM),
	    "escalation token issued to another user");
	cr_assert_str_eq(
	    ew_escalate_refusal(-ENOENT), "unknown escalation token");
	cr_assert_str_eq(ew_escalate_refusal(-EXDEV),
	    "escalation token issued to another session");
}
