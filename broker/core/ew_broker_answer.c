/* ew_broker_answer_*: a question -> policy -> maybe a person -> verdict. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_buf.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_log.h"
#include "ew_proc.h"
#include "ew_sandbox.h"
#include "ew_text.h"
#include "ew_time.h"

/* Approved script commands remembered per session. */
#define EW_ANSWER_APPROVALS_MAX 1024

char *
ew_broker_command_text(const struct ew_msg_ask *ask, size_t max)
{
	struct ew_buf *b;
	const char *base;
	char *out = NULL;
	size_t i, len;

	if ((b = ew_buf_new(EW_BUF_SIZE_MAX)) == NULL)
		return NULL;
	base = strrchr(ask->resolved, '/');
	ew_text_put_word(b, base != NULL ? base + 1 : ask->resolved, 0);
	for (i = 1; i < ask->argc && ew_buf_len(b) < max; i++) {
		(void)ew_buf_put(b, " ", 1);
		ew_text_put_word(b, ask->argv[i], 0);
	}
	len = ew_buf_len(b);
	if (len > max && max > 3)
		len = max - 3;
	if ((out = malloc(len + 4)) != NULL) {
		memcpy(out, ew_buf_ptr(b), len);
		strcpy(out + len, ew_buf_len(b) > len ? "..." : "");
	}
	ew_buf_free(b);
	return out;
}

/* The justification of the first match that carries the decision. */
static const char *
decisive_justification(const struct ew_policy_result *res)
{
	size_t i;

	for (i = 0; res != NULL && i < res->nmatches; i++)
		if (res->matches[i].decision == res->decision &&
		    res->matches[i].justification != NULL)
			return res->matches[i].justification;
	return NULL;
}

/* The first rule match that carries the decision, for "(FILE:LINE)". */
static const struct ew_policy_match *
decisive_rule(const struct ew_policy_result *res)
{
	size_t i;

	for (i = 0; res != NULL && i < res->nmatches; i++)
		if (!res->matches[i].heuristics &&
		    res->matches[i].decision == res->decision)
			return &res->matches[i];
	return NULL;
}

static const char *
answer_name(enum ew_answer a)
{
	switch (a) {
	case EW_ANSWER_YES:
		return "yes";
	case EW_ANSWER_ALWAYS:
		return "always";
	case EW_ANSWER_NO:
		return "no";
	case EW_ANSWER_CANCEL:
		return "cancel";
	case EW_ANSWER_TIMEOUT:
		return "timeout";
	default:
		return "none";
	}
}

/* What the audit calls a verdict. */
static enum ew_audit_decision
decision_of(uint32_t v)
{
	return v == EW_VERDICT_ALLOW   ? EW_AUDIT_ALLOW
	    : v == EW_VERDICT_ESCALATE ? EW_AUDIT_ESCALATE
				       : EW_AUDIT_DENY;
}

static const char *
base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b != NULL ? b + 1 : path;
}

/* Did the broker find the program under another path than the one asked? */
static bool
real_differs(const struct ew_client *c)
{
	return c->exe.err == 0 && strcmp(c->exe.path, c->ask->resolved) != 0;
}

/* Why a start the kernel backstop trapped stays in, or is refused. */
#define EW_BACKSTOP_NO_DOOR                                                   \
	"the kernel backstop caught it, not the shim, and only the shim can " \
	"run a program outside the sandbox"
#define EW_BACKSTOP_NO_CONFINE                                                \
	"the kernel backstop caught it, not the shim, and only the shim can " \
	"confine a program"

/* Why what an escalated program starts runs in the sandbox. */
#define CONFINED_NO_RULE                                                      \
	"asked for by a program outside the sandbox, and no allow rule lets " \
	"it out"
#define CONFINED_REFUSED                                                  \
	"asked for by a program outside the sandbox; its escalation was " \
	"refused"

/*
 * Is an allow meant to leave the sandbox? In a sandboxed session, when an
 * explicit rule made the decision: a rule's allow, or a person's yes to a
 * rule's question. Heuristics' approvals and fallbacks run in place,
 * confined: a rule is a person's explicit word that a program may run
 * as the user, a heuristic's guess is not (Codex's "driven by policy").
 */
static bool
wants_out(const struct ew_client *c, const char *source)
{
	return decisive_rule(c->res) != NULL &&
	    (strcmp(source, "rule") == 0 || strcmp(source, "user") == 0);
}

/*
 * Why an allow that a rule meant to leave the sandbox stays in it: every
 * name of the program must be covered by allow rules (a symlink named
 * after an allowed program must not take its target out), and the real
 * file must be one the sandbox cannot have written (ew_escalate_check).
 * NULL when it may leave.
 */
static const char *
why_not_out(const struct ew_client *c, char *buf, size_t len)
{
	struct ew_broker *br = c->sess->br;
	char why[EW_PROTO_REASON_MAX + 1];

	/*
	 * A start the kernel backstop trapped has no shim to run the
	 * escalation helper in its place: it runs where it is, confined.
	 */
	if (c->role == EW_CLIENT_KERNEL && !c->outside) {
		snprintf(buf, len, "refused: %s", EW_BACKSTOP_NO_DOOR);
		return buf;
	}
	if (!c->ruled_called) {
		snprintf(buf, len,
		    "refused: %s, the name it was called by, is not covered "
		    "by allow rules",
		    c->ask->resolved);
		return buf;
	}
	if (!c->ruled_real) {
		snprintf(buf, len,
		    "refused: the real file %s is not covered by allow rules",
		    c->exe.path);
		return buf;
	}
	if (ew_escalate_check(c->sess->sb, br->uid, &c->exe,
		ew_escalate_via_sh_fallback(c->ask->via), NULL, why,
		sizeof(why)) != 0) {
		snprintf(buf, len, "refused: %.1000s", why);
		return buf;
	}
	/*
	 * Asked from outside, it runs in place: by the path the shim execs,
	 * not by the fd the broker checked. That path must lead to the same
	 * file until the exec (a symlink in the workspace would not).
	 */
	if (c->outside &&
	    ew_escalate_check_path(c->sess->sb, br->uid, c->ask->resolved, why,
		sizeof(why)) != 0) {
		snprintf(buf, len, "refused: %.1000s", why);
		return buf;
	}
	return NULL;
}

/*
 * Who asked is what SO_PEERCRED says, never what the message says. They
 * differ for a shim in another pid namespace (a sandbox): then the parent
 * is looked up too, while the asker waits for us. (A trapped start's pid
 * and ppid are the kernel's already.)
 */
static void
record_who(const struct ew_client *c, struct ew_audit_rec *rec)
{
	rec->pid = c->ask->pid;
	rec->ppid = c->ask->ppid;
	if (c->role != EW_CLIENT_LOCAL && c->role != EW_CLIENT_KERNEL &&
	    c->peer_pid != c->ask->pid) {
		rec->pid = c->peer_pid;
		rec->ppid = ew_proc_ppid(c->peer_pid);
	}
	rec->uid = c->peer_uid;
}

/*
 * c's record could not be written (r): why[0..len) says so, for the log,
 * the MCP client and the deny. A TOLD's program has run unrecorded: from
 * now on the shims ask, and are refused while records cannot be written.
 */
static void
audit_failed(struct ew_client *c, const struct ew_audit_rec *rec, int r,
    char *why, size_t len)
{
	struct ew_broker *br = c->sess->br;

	snprintf(why, len, "audit log %s: %s", ew_audit_path(br->audit),
	    ew_audit_strerror(br->audit, r));
	if (c->told)
		ew_log(EW_LOG_ERROR, "%s: pid %d started %s unrecorded (told)",
		    why, (int)rec->pid, c->ask->resolved);
	else
		ew_log(EW_LOG_ERROR, "%s: denying pid %d", why, (int)rec->pid);
	if (br->notify != NULL)
		br->notify(br->notify_ctx, why);
	if (c->told)
		ew_broker_snap_revoke(c->sess, "an audit record failed");
}

enum ew_client_state
ew_broker_finish(struct ew_client *c, uint32_t verdict, const char *source,
    const char *reason, enum ew_answer answer, bool asked)
{
	struct ew_broker *br = c->sess->br;
	struct ew_audit_rec rec;
	char why[EW_PROTO_REASON_MAX + 1], esc[EW_PROTO_REASON_MAX + 1];
	char escbuf[EW_PROTO_REASON_MAX + 1];
	const char *refused = NULL, *confined = NULL;
	char cwd[PATH_MAX], cwd_why[256];
	uint64_t now = ew_time_mono_us();
	enum ew_client_state next;
	bool in_sandbox = false;
	int r;

	/*
	 * Inside another session, its broker has a say first (ew_chain.c);
	 * a TOLD's program has started already (and such a session's
	 * shims are told to ask: a TOLD here is recorded as a mismatch).
	 */
	if (!c->told &&
	    ew_chain_intercept(
		c, verdict, source, reason, answer, asked, &next))
		return next;
	c->token[0] = '\0';
	/*
	 * In a sandbox, an allow is one of three things: the program leaves
	 * it (escalated for a confined asker, in place for one outside),
	 * runs in place confined, or, asked from outside, is confined by
	 * execward-escalate with a token (answered ESCALATE, recorded as
	 * the allow it is, with the sandbox it runs in).
	 */
	if (verdict == EW_VERDICT_ALLOW && c->sess->sandbox != NULL &&
	    !c->told) {
		bool out = wants_out(c, source);

		if (out &&
		    (refused = why_not_out(c, escbuf, sizeof(escbuf))) != NULL)
			out = false;
		if (!out) {
			in_sandbox = true;
			if (c->outside)
				confined = refused != NULL ? CONFINED_REFUSED
							   : CONFINED_NO_RULE;
		}
		/*
		 * A token when the asker must not run it where it is: to
		 * escalate for a confined asker (run's own COMMAND needs
		 * none: the broker starts it), to confine for one outside.
		 */
		if (out != c->outside) {
			verdict = EW_VERDICT_ESCALATE;
			r = c->role == EW_CLIENT_KERNEL  ? -EPERM
			    : c->role == EW_CLIENT_LOCAL ? 0
			    : br->esc == NULL
			    ? -ENOTSUP
			    : ew_escalate_issue(br->esc, c->sess, c->peer_uid,
				  c->ask, out ? &c->exe : NULL, c->token);
			if (r != 0) {
				snprintf(esc, sizeof(esc), "%s: %s",
				    out ? "allowed outside the sandbox, but it "
					  "cannot be escalated"
					: "it must run in the sandbox, but it "
					  "cannot be confined",
				    r == -ENOTSUP
					? "this broker does not escalate"
					: c->role == EW_CLIENT_KERNEL
					? EW_BACKSTOP_NO_CONFINE
					: strerror(-r));
				verdict = EW_VERDICT_DENY;
				reason = esc;
			}
		}
	}
	memset(&rec, 0, sizeof(rec));
	rec.session = c->sess->id;
	record_who(c, &rec);
	rec.cwd = ew_broker_record_cwd(
	    c, cwd, sizeof(cwd), cwd_why, sizeof(cwd_why), &rec.cwd_error);
	rec.via = ew_proto_via_name(c->ask->via);
	rec.file = c->ask->resolved;
	rec.called = c->ask->file;
	rec.real = real_differs(c) ? c->exe.path : NULL;
	rec.argv = c->ask->argv;
	rec.argc = c->ask->argc;
	/* A confinement's token is not an escalation: it runs inside. */
	rec.decision = decision_of(in_sandbox && verdict == EW_VERDICT_ESCALATE
		? EW_VERDICT_ALLOW
		: verdict);
	rec.source = source;
	rec.res = c->res;
	rec.justification = decisive_justification(c->res);
	rec.reason = verdict == EW_VERDICT_DENY ? reason : NULL;
	rec.asked = asked;
	rec.answer = answer_name(answer);
	rec.wait_ms = asked ? (now - c->t_prompt_us) / 1000 : 0;
	rec.latency_us = now - c->t_start_us;
	rec.token = c->token[0] != '\0' ? c->token : NULL;
	rec.sandbox =
	    in_sandbox && verdict != EW_VERDICT_DENY ? c->sess->sandbox : NULL;
	rec.escalation = verdict != EW_VERDICT_DENY ? refused : NULL;
	rec.confined = verdict != EW_VERDICT_DENY ? confined : NULL;
	rec.backstop = br->backstop != NULL
	    ? br->backstop->label(br->backstop->arg)
	    : NULL;
	rec.told = c->told;
	rec.mismatch = c->mismatch;
	if (c->told) /* it runs where it was started */
		rec.sandbox = c->sess->sandbox;

	/* Nothing runs unrecorded: a record we cannot write means deny. */
	if (br->audit != NULL && (r = ew_audit_write(br->audit, &rec)) != 0) {
		audit_failed(c, &rec, r, why, sizeof(why));
		verdict = EW_VERDICT_DENY;
		reason = why;
	} else if (br->audit != NULL)
		c->audit_seq = ew_audit_seq(br->audit); /* a FAILED's "of" */
	br->decided++;
	return c->done(c, verdict, verdict == EW_VERDICT_DENY ? reason : NULL);
}

/* Was the policy command of c, by program name, part of an approved script? */
static bool
approved_as(const struct ew_client *c, const char *name)
{
	const struct ew_approval *a;
	size_t i;

	for (a = c->sess->approvals; a != NULL; a = a->next) {
		if (a->n != c->ask->argc || a->n == 0 ||
		    strcmp(a->tokens[0], name) != 0)
			continue;
		for (i = 1; i < a->n; i++)
			if (strcmp(a->tokens[i], c->ask->argv[i]) != 0)
				break;
		if (i == a->n)
			return true;
	}
	return false;
}

/*
 * An approval is of the command a person saw: a program reached through a
 * symlink is approved only when its real file's name was too.
 */
static bool
approved_before(const struct ew_client *c)
{
	return approved_as(c, base_name(c->ask->resolved)) &&
	    (!real_differs(c) || approved_as(c, base_name(c->exe.path)));
}

/* Remember one command of an approved script (one allocation). */
static void
remember(struct ew_session *s, const struct ew_policy_split_cmd *cmd)
{
	struct ew_approval *a;
	size_t i, bytes = 0;
	char *p;

	if (cmd->argc == 0 || s->napprovals >= EW_ANSWER_APPROVALS_MAX)
		return;
	for (i = 0; i < cmd->argc; i++)
		bytes += strlen(cmd->argv[i]) + 1;
	a = malloc(sizeof(*a) + cmd->argc * sizeof(char *) + bytes);
	if (a == NULL)
		return;
	a->n = cmd->argc;
	a->tokens = (char **)(a + 1);
	p = (char *)(a->tokens + a->n);
	for (i = 0; i < cmd->argc; i++) {
		a->tokens[i] = p;
		p = stpcpy(p, i == 0 ? base_name(cmd->argv[0]) : cmd->argv[i]) +
		    1;
	}
	a->next = s->approvals;
	s->approvals = a;
	s->napprovals++;
}

/*
 * A person approved a shell script: the commands it starts were part of
 * what they saw, so they are not asked about one by one again.
 */
static void
remember_script(struct ew_client *c)
{
	struct ew_policy_split *split = NULL;
	size_t i;

	if (ew_policy_split_shell(c->ask->argv, c->ask->argc, &split) != 0)
		return;
	for (i = 0; i < split->ncmds; i++)
		remember(c->sess, &split->cmds[i]);
	ew_policy_split_free(split);
}

/*
 * Does r come from allow (or prompt) rules for every command it is made
 * of? Heuristics matches stand for commands no rule covers.
 */
static bool
ruled(const struct ew_broker *br, const struct ew_policy_result *r)
{
	size_t i;

	if (r == NULL || r->source != EW_POLICY_SOURCE_RULE ||
	    (r->decision != EW_POLICY_ALLOW && r->decision != EW_POLICY_PROMPT))
		return false;
	/* Without heuristics an uncovered command leaves no match. */
	if (!br->popts.heuristics)
		return r->all_rule_allowed;
	for (i = 0; i < r->nmatches; i++)
		if (r->matches[i].heuristics)
			return false;
	return r->nmatches > 0;
}

static size_t
opt_len(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static char *
opt_put(char **pos, const char *s)
{
	char *r;

	if (s == NULL)
		return NULL;
	r = strcpy(*pos, s);
	*pos += strlen(s) + 1;
	return r;
}

/*
 * Both evaluations in one self-contained result, strictest first: the
 * decision is the stricter, and the matches of both are recorded.
 */
static struct ew_policy_result *
merge(const struct ew_policy_result *a, const struct ew_policy_result *b)
{
	const struct ew_policy_result *in[2] = { a, b };
	const struct ew_policy_match *m;
	struct ew_policy_result *res;
	struct ew_policy_match *mt;
	size_t n = 0, nptr = 0, nchar = 0, i, k, x;
	char **ptrs, *chars;
	bool ruled_decision = false;

	for (x = 0; x < 2; x++)
		for (i = 0; i < in[x]->nmatches; i++) {
			m = &in[x]->matches[i];
			n++;
			nptr += m->nprefix;
			for (k = 0; k < m->nprefix; k++)
				nchar += strlen(m->prefix[k]) + 1;
			nchar += opt_len(m->file) + opt_len(m->justification) +
			    opt_len(m->resolved_program);
		}
	res = calloc(
	    1, sizeof(*res) + n * sizeof(*mt) + nptr * sizeof(char *) + nchar);
	if (res == NULL)
		return NULL;
	mt = (struct ew_policy_match *)(res + 1);
	ptrs = (char **)(mt + n);
	chars = (char *)(ptrs + nptr);
	res->decision = a->decision > b->decision ? a->decision : b->decision;
	res->nmatches = n;
	res->matches = n != 0 ? mt : NULL;
	for (x = 0; x < 2; x++)
		for (i = 0; i < in[x]->nmatches; i++, mt++) {
			m = &in[x]->matches[i];
			*mt = *m;
			mt->prefix = ptrs;
			for (k = 0; k < m->nprefix; k++)
				*ptrs++ = opt_put(&chars, m->prefix[k]);
			mt->file = opt_put(&chars, m->file);
			mt->justification = opt_put(&chars, m->justification);
			mt->resolved_program =
			    opt_put(&chars, m->resolved_program);
			if (!m->heuristics && m->decision == res->decision)
				ruled_decision = true;
		}
	res->source = n == 0 ? EW_POLICY_SOURCE_NONE
	    : ruled_decision ? EW_POLICY_SOURCE_RULE
			     : EW_POLICY_SOURCE_HEURISTICS;
	res->all_rule_allowed = a->all_rule_allowed && b->all_rule_allowed &&
	    res->decision == EW_POLICY_ALLOW;
	return res;
}

/*
 * The policy on c's program by each of its names: the one it was called
 * by, and the real file's when a symlink led elsewhere (a link named
 * after an allowed program to a forbidden one is forbidden). Strictest
 * wins. 0 or -errno.
 */
static int
evaluate(struct ew_client *c)
{
	struct ew_broker *br = c->sess->br;
	struct ew_policy_result *a = NULL, *b = NULL;
	int r;

	r = ew_policy_eval(
	    br->rules.policy, c->ask->resolved, c->ask->argv, &br->popts, &a);
	if (r != 0)
		return r;
	c->ruled_called = c->ruled_real = ruled(br, a);
	if (!real_differs(c)) {
		c->res = a;
		return 0;
	}
	r = ew_policy_eval(
	    br->rules.policy, c->exe.path, c->ask->argv, &br->popts, &b);
	if (r == 0) {
		c->ruled_real = ruled(br, b);
		if ((c->res = merge(a, b)) == NULL)
			r = -ENOMEM;
	}
	ew_policy_result_free(a);
	ew_policy_result_free(b);
	return r;
}

/*
 * Where a TOLD's program is, for the record's "real" and the rules: found
 * as an ASK's is, in the teller's root. A teller already gone (the broker
 * reads TOLDs in polls, and a short program has ended by then) has no
 * root to look in: its program is then looked up in ours, by the
 * absolute path the shim resolved from its cwd. Told starts come only
 * from sessions without a sandbox, in our pid namespace (proto/ew_snap.h);
 * a tree that gave itself another root or mount namespace (which needs
 * privileges) would have that lookup made in the wrong one.
 */
static void
told_resolve(struct ew_client *c)
{
	struct ew_msg_ask abs;
	char proc[64];
	int fd;

	if (ew_escalate_resolve(c->peer_pid, c->ask, &c->exe) != -ENOENT)
		return;
	/* Not found in a root that is there: not a teller gone. */
	snprintf(proc, sizeof(proc), "/proc/%d/root", (int)c->peer_pid);
	if ((fd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		close(fd);
		return;
	}
	abs = *c->ask;
	abs.file = abs.resolved;
	(void)ew_escalate_resolve(0, &abs, &c->exe);
}

enum ew_client_state
ew_broker_answer_told(struct ew_client *c)
{
	struct ew_session *s = c->sess;
	const char *source = "fallback", *would = NULL;
	int r;

	told_resolve(c);
	if ((r = evaluate(c)) != 0) {
		snprintf(c->mismatch_buf, sizeof(c->mismatch_buf),
		    "policy evaluation failed: %s", ew_err_str(r));
		would = c->mismatch_buf;
	} else {
		if (c->res->source == EW_POLICY_SOURCE_RULE)
			source = "rule";
		else if (c->res->source == EW_POLICY_SOURCE_HEURISTICS)
			source = "heuristics";
		if (c->res->decision == EW_POLICY_FORBIDDEN)
			would = "forbidden by policy";
		else if (c->res->decision == EW_POLICY_PROMPT)
			would = "approval required";
		else if (!ew_broker_snap_local(s))
			would = "local decisions are off in this session";
	}
	if (would != NULL) {
		if (would != c->mismatch_buf)
			snprintf(c->mismatch_buf, sizeof(c->mismatch_buf),
			    "%s%s", would,
			    c->told_gen != s->snap_gen
				? " (by the rules since reloaded)"
				: "");
		c->mismatch = c->mismatch_buf;
		ew_log(EW_LOG_WARN,
		    "pid %d started %s on the shim's own word: %s",
		    (int)c->peer_pid, c->ask->resolved, c->mismatch);
		/*
		 * A shim that told what the broker would not have allowed
		 * (a stale snapshot aside): a forged snapshot, or a lie. Its
		 * program ran, as it could have without the shim; from now
		 * on every start of the session is asked about.
		 */
		if (c->told_gen == s->snap_gen)
			ew_broker_snap_revoke(s,
			    "a start was told that the policy does not allow "
			    "in place");
	}
	return ew_broker_finish(
	    c, EW_VERDICT_ALLOW, source, NULL, EW_ANSWER_NONE, false);
}

/* Deny or allow a prompt's question without asking anybody. */
static enum ew_client_state
no_prompt(struct ew_client *c, const char *why)
{
	char reason[EW_PROTO_REASON_MAX + 1];

	switch (c->sess->on_prompt) {
	case EW_ON_PROMPT_ALLOW:
		return ew_broker_finish(c, EW_VERDICT_ALLOW, "fallback", NULL,
		    EW_ANSWER_NONE, false);
	case EW_ON_PROMPT_DENY:
		snprintf(
		    reason, sizeof(reason), "%s, and --on-prompt is deny", why);
		break;
	default:
		snprintf(reason, sizeof(reason),
		    "%s, but there is nobody to ask", why);
		break;
	}
	return ew_broker_finish(
	    c, EW_VERDICT_DENY, "fallback", reason, EW_ANSWER_NONE, false);
}

enum ew_client_state
ew_broker_answer_ask(struct ew_client *c)
{
	struct ew_session *s = c->sess;
	const struct ew_policy_match *m;
	const char *just;
	char reason[EW_PROTO_REASON_MAX + 1];
	int r;

	/*
	 * What will run is what the broker finds, from the asker's own
	 * root and cwd (SO_PEERCRED's pid), never what the shim says.
	 */
	if (c->role != EW_CLIENT_KERNEL) /* resolved from the kernel's call */
		(void)ew_escalate_resolve(
		    c->role != EW_CLIENT_LOCAL ? c->peer_pid : 0, c->ask,
		    &c->exe);
	if ((r = evaluate(c)) != 0) {
		snprintf(reason, sizeof(reason), "policy evaluation failed: %s",
		    ew_err_str(r));
		return ew_broker_finish(c, EW_VERDICT_DENY, "fallback", reason,
		    EW_ANSWER_NONE, false);
	}
	just = decisive_justification(c->res);
	switch (c->res->decision) {
	case EW_POLICY_FORBIDDEN:
		m = decisive_rule(c->res);
		if (just != NULL)
			snprintf(reason, sizeof(reason),
			    "forbidden by policy: %s", just);
		else if (m != NULL)
			snprintf(reason, sizeof(reason),
			    "forbidden by policy (%s:%u)", m->file, m->line);
		else
			snprintf(reason, sizeof(reason), "forbidden by policy");
		return ew_broker_finish(
		    c, EW_VERDICT_DENY, "rule", reason, EW_ANSWER_NONE, false);
	case EW_POLICY_PROMPT:
		if (approved_before(c))
			return ew_broker_finish(c, EW_VERDICT_ALLOW, "user",
			    "approved with its script", EW_ANSWER_YES, false);
		if (s->on_prompt != EW_ON_PROMPT_ASK || s->prompt == NULL ||
		    s->closing)
			return no_prompt(c,
			    c->res->source == EW_POLICY_SOURCE_RULE
				? "approval required by policy"
				: "approval required: the command might be "
				  "dangerous");
		/* Entering it asks the session's prompter. */
		return EW_CLIENT_PROMPTING;
	case EW_POLICY_ALLOW:
		return ew_broker_finish(c, EW_VERDICT_ALLOW,
		    c->res->source == EW_POLICY_SOURCE_RULE ? "rule"
							    : "heuristics",
		    NULL, EW_ANSWER_NONE, false);
	default:
		/* No rule and no heuristics: nothing says no. */
		return ew_broker_finish(c, EW_VERDICT_ALLOW, "fallback", NULL,
		    EW_ANSWER_NONE, false);
	}
}

/* "Always": append an allow rule for the command, then reload. */
static void
amend(struct ew_client *c)
{
	struct ew_broker *br = c->sess->br;
	char **tokens;
	const char *base;
	char *err = NULL;
	size_t i, k;

	if (br->rules.amend_file == NULL)
		return;
	/*
	 * Strictest wins: an allow rule cannot quiet a prompt rule, so a
	 * rule's prompt is answered once and asked again next time.
	 */
	if (c->res != NULL && c->res->source == EW_POLICY_SOURCE_RULE) {
		ew_log(EW_LOG_INFO,
		    "not remembered: a prompt rule asks about this command "
		    "every time (edit the rule to change that)");
		return;
	}
	if ((tokens = calloc(c->ask->argc + 1, sizeof(*tokens))) == NULL)
		return;
	for (i = 1; i < c->ask->argc; i++)
		tokens[i] = c->ask->argv[i];
	/*
	 * A rule for each name the program has, as approvals are kept: what
	 * the person approved is the real file too, and a rule for the name
	 * alone would not cover it.
	 */
	for (k = 0; k < (real_differs(c) ? 2 : 1) && err == NULL; k++) {
		base = base_name(k == 0 ? c->ask->resolved : c->exe.path);
		tokens[0] = (char *)base;
		if (ew_policy_append_allow(br->rules.amend_file, tokens,
			c->ask->argc > 0 ? c->ask->argc : 1, &err) != 0)
			ew_log(EW_LOG_WARN,
			    "could not remember the answer in %s: %s",
			    br->rules.amend_file, err != NULL ? err : "error");
	}
	if (err == NULL && ew_broker_rules_reload(br) != 0)
		ew_log(EW_LOG_WARN, "rules not reloaded after adding to %s",
		    br->rules.amend_file);
	free(err);
	free(tokens);
}

void
ew_broker_on_prompt_answer(
    struct ew_client *c, enum ew_answer answer, const char *detail)
{
	char reason[EW_PROTO_REASON_MAX + 1];

	/* Answered: no more heartbeats, and nothing left to cancel. */
	ew_broker_client_enter(c, EW_CLIENT_ASKED);
	switch (answer) {
	case EW_ANSWER_ALWAYS:
		amend(c);
		/* FALLTHROUGH */
	case EW_ANSWER_YES:
		remember_script(c);
		ew_broker_client_enter(c,
		    ew_broker_finish(
			c, EW_VERDICT_ALLOW, "user", NULL, answer, true));
		return;
	case EW_ANSWER_TIMEOUT:
		snprintf(reason, sizeof(reason), "nobody answered the prompt");
		break;
	case EW_ANSWER_NONE:
		snprintf(reason, sizeof(reason), "nobody to ask");
		break;
	case EW_ANSWER_CANCEL:
		snprintf(reason, sizeof(reason), "the prompt was cancelled");
		break;
	default:
		snprintf(reason, sizeof(reason), "declined by the user");
		break;
	}
	if (detail != NULL)
		snprintf(reason, sizeof(reason), "%s", detail);
	ew_broker_client_enter(c,
	    ew_broker_finish(c, EW_VERDICT_DENY, "user", reason, answer, true));
}
