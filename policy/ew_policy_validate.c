/*
 * Load-time validation of prefix_rule's match / not_match examples, with
 * Codex's messages (which render rules as Rust's Debug output does).
 */
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

/* The host_executable for name, as the file being loaded sees it. */
const struct ew_policy_host *
ew_policy_find_host_staged(
    const struct ew_policy_load_state *st, const char *name)
{
	size_t i;

	for (i = st->nhosts; i > 0; i--)
		if (strcmp(st->hosts[i - 1].name, name) == 0)
			return &st->hosts[i - 1];
	return ew_policy_find_host(st->p, name);
}

/* A match found while validating examples. */
struct vmatch {
	const struct ew_policy_rule *r;
	size_t plen;
	const char *base; /* prefix[0] when resolved through the basename */
	char *resolved; /* normalised program path, or NULL */
};

/*
 * Match ex against the rules of one prefix_rule call, as Codex does it:
 * exact first token, else (absolute program) its basename if the
 * host_executable list allows the path. Fills m with the first match.
 */
static bool
match_rules(const struct ew_policy_load_state *st,
    struct ew_policy_rule *const *rules, size_t nrules,
    const struct ew_policy_example *ex, struct vmatch *m)
{
	const struct ew_policy_host *h;
	const char *base, **cmd = NULL;
	char *norm, *name = NULL;
	size_t i, k, blen, plen;
	bool found = false;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < nrules; i++) {
		if (strcmp(rules[i]->first, ex->tok[0]) != 0)
			continue;
		if ((plen = ew_policy_rule_match(
			 rules[i], (const char *const *)ex->tok, ex->n)) != 0) {
			m->r = rules[i];
			m->plen = plen;
			return true;
		}
	}
	if (ex->tok[0][0] != '/' ||
	    (norm = ew_policy_path_normalize(ex->tok[0])) == NULL)
		return false;
	base = ew_policy_basename(norm, &blen);
	if ((name = strndup(base, blen)) == NULL ||
	    (cmd = malloc((ex->n + 1) * sizeof(*cmd))) == NULL)
		goto out;
	if ((h = ew_policy_find_host_staged(st, name)) != NULL) {
		for (k = 0; k < h->npaths; k++)
			if (strcmp(h->paths[k], norm) == 0)
				break;
		if (k == h->npaths)
			goto out;
	}
	cmd[0] = name;
	for (k = 1; k < ex->n; k++)
		cmd[k] = ex->tok[k];
	for (i = 0; i < nrules && !found; i++) {
		if (strcmp(rules[i]->first, name) != 0)
			continue;
		if ((plen = ew_policy_rule_match(rules[i], cmd, ex->n)) != 0) {
			m->r = rules[i];
			m->plen = plen;
			m->resolved = norm;
			m->base = rules[i]->first;
			norm = NULL;
			found = true;
		}
	}
out:
	free(cmd);
	free(name);
	free(norm);
	return found;
}

static const char *
decision_debug(enum ew_policy_decision d)
{
	return d == EW_POLICY_FORBIDDEN ? "Forbidden"
	    : d == EW_POLICY_PROMPT     ? "Prompt"
					: "Allow";
}

static void
debug_opt_str(struct ew_policy_sb *b, const char *s)
{
	if (s == NULL) {
		ew_policy_sb_puts(b, "None");
		return;
	}
	ew_policy_sb_puts(b, "Some(");
	ew_policy_rust_debug_str(b, s);
	ew_policy_sb_putc(b, ')');
}

/* Rust's {:?} of a PrefixRule. */
static void
debug_rule(struct ew_policy_sb *b, const struct ew_policy_rule *r)
{
	uint32_t i, k;

	ew_policy_sb_puts(b, "PrefixRule { pattern: PrefixPattern { first: ");
	ew_policy_rust_debug_str(b, r->first);
	ew_policy_sb_puts(b, ", rest: [");
	for (i = 0; i < r->nrest; i++) {
		if (i != 0)
			ew_policy_sb_puts(b, ", ");
		if (r->rest[i].nalts == 1) {
			ew_policy_sb_puts(b, "Single(");
			ew_policy_rust_debug_str(b, r->rest[i].alts[0]);
		} else {
			ew_policy_sb_puts(b, "Alts([");
			for (k = 0; k < r->rest[i].nalts; k++) {
				if (k != 0)
					ew_policy_sb_puts(b, ", ");
				ew_policy_rust_debug_str(b, r->rest[i].alts[k]);
			}
			ew_policy_sb_putc(b, ']');
		}
		ew_policy_sb_putc(b, ')');
	}
	ew_policy_sb_printf(b,
	    "] }, decision: %s, justification: ", decision_debug(r->decision));
	debug_opt_str(b, r->justification);
	ew_policy_sb_puts(b, " }");
}

/* Rust's {:?} of a RuleMatch::PrefixRuleMatch. */
static void
debug_match(struct ew_policy_sb *b, const struct vmatch *m,
    const struct ew_policy_example *ex)
{
	size_t i;

	ew_policy_sb_puts(b, "PrefixRuleMatch { matched_prefix: [");
	for (i = 0; i < m->plen; i++) {
		if (i != 0)
			ew_policy_sb_puts(b, ", ");
		ew_policy_rust_debug_str(
		    b, i == 0 && m->base != NULL ? m->base : ex->tok[i]);
	}
	ew_policy_sb_printf(b, "], decision: %s, resolved_program: ",
	    decision_debug(m->r->decision));
	if (m->resolved != NULL) {
		ew_policy_sb_puts(b, "Some(AbsolutePathBuf(");
		ew_policy_rust_debug_str(b, m->resolved);
		ew_policy_sb_puts(b, "))");
	} else {
		ew_policy_sb_puts(b, "None");
	}
	ew_policy_sb_puts(b, ", justification: ");
	debug_opt_str(b, m->r->justification);
	ew_policy_sb_puts(b, " }");
}

static void
validate_one(
    struct ew_policy_load_state *st, const struct ew_policy_pending *pd)
{
	struct ew_policy_rule *const *rules = st->rules + pd->first_rule;
	struct ew_policy_sb msg, item;
	struct vmatch m;
	size_t i, nunmatched = 0;

	ew_policy_sb_init(&msg, 1024 * 1024);
	ew_policy_sb_init(&item, 1024 * 1024);
	/* Negative examples first, as Codex does; the first offender wins. */
	for (i = 0; i < pd->nnot_match; i++) {
		if (!match_rules(st, rules, pd->nrules, &pd->not_match[i], &m))
			continue;
		debug_match(&msg, &m, &pd->not_match[i]);
		ew_policy_sb_puts(&item, "");
		ew_policy_shlex_join(
		    &item, pd->not_match[i].tok, pd->not_match[i].n);
		ew_policy_diag(st, pd->line, pd->col,
		    "expected example to not match rule `%s`: %s",
		    msg.err == 0 ? msg.s : "?", item.err == 0 ? item.s : "?");
		free(m.resolved);
		goto out;
	}
	for (i = 0; i < pd->nmatch; i++) {
		if (match_rules(st, rules, pd->nrules, &pd->match[i], &m)) {
			free(m.resolved);
			continue;
		}
		item.len = 0;
		ew_policy_shlex_join(&item, pd->match[i].tok, pd->match[i].n);
		ew_policy_sb_puts(&msg, nunmatched++ == 0 ? "[" : ", ");
		ew_policy_rust_debug_str(&msg, item.err == 0 ? item.s : "?");
	}
	if (nunmatched == 0)
		goto out;
	ew_policy_sb_putc(&msg, ']');
	item.len = 0;
	ew_policy_sb_putc(&item, '[');
	for (i = 0; i < pd->nrules; i++) {
		struct ew_policy_sb one;

		ew_policy_sb_init(&one, 1024 * 1024);
		debug_rule(&one, rules[i]);
		if (i != 0)
			ew_policy_sb_puts(&item, ", ");
		ew_policy_rust_debug_str(&item, one.err == 0 ? one.s : "?");
		ew_policy_sb_fini(&one);
	}
	ew_policy_sb_putc(&item, ']');
	ew_policy_diag(st, pd->line, pd->col,
	    "expected every example to match at least one rule. rules: %s; "
	    "unmatched examples: %s",
	    item.err == 0 ? item.s : "?", msg.err == 0 ? msg.s : "?");
out:
	ew_policy_sb_fini(&msg);
	ew_policy_sb_fini(&item);
}

void
ew_policy_validate_examples(struct ew_policy_load_state *st)
{
	size_t i;

	for (i = 0; i < st->npend && !st->stop; i++)
		validate_one(st, &st->pend[i]);
}
