/*
 * Recursive-descent parser for rules files: a sequence of top-level calls
 * with positional and keyword arguments whose values are literals (strings,
 * lists, None, True, False, numbers). Every syntax error is reported with
 * its position; the parser then skips to the next statement and goes on,
 * so one run reports all of a file's errors.
 */
#include <stdio.h>
#include <string.h>

#include "ew_policy_int.h"

/* Arguments per call: the builtins take at most five. */
#define ARGS_MAX 32

struct parser {
	struct ew_policy_load_state *st;
	struct ew_policy_lexer lx;
	struct ew_policy_arena tmp; /* one statement's values and strings */
	struct ew_policy_tok tok;
	struct ew_policy_tok ahead;
	bool have_ahead;
	unsigned stmt_line; /* where the current statement starts */
	unsigned soft; /* value errors in this statement (no sync needed) */
};

static void
next(struct parser *ps)
{
	if (ps->have_ahead) {
		ps->tok = ps->ahead;
		ps->have_ahead = false;
	} else {
		ew_policy_lex_next(&ps->lx, &ps->tok);
	}
}

static const struct ew_policy_tok *
lookahead(struct parser *ps)
{
	if (!ps->have_ahead) {
		ew_policy_lex_next(&ps->lx, &ps->ahead);
		ps->have_ahead = true;
	}
	return &ps->ahead;
}

/* Describe the current token for "found X" messages. */
static void
describe(const struct ew_policy_tok *t, char *buf, size_t n)
{
	size_t len;

	switch (t->type) {
	case EW_PT_IDENT:
	case EW_PT_OP:
	case EW_PT_INT:
	case EW_PT_FLOAT:
		len = t->len < 32 ? t->len : 32;
		snprintf(buf, n, "`%.*s`", (int)len, t->text);
		break;
	default:
		snprintf(buf, n, "%s", ew_policy_tok_name(t->type));
	}
}

/* Report a syntax error at the current token. */
static void
syntax_error(struct parser *ps, const char *what)
{
	char found[48];

	if (ps->tok.type == EW_PT_ERROR) {
		ew_policy_diag(
		    ps->st, ps->tok.line, ps->tok.col, "%s", ps->tok.msg);
		return;
	}
	describe(&ps->tok, found, sizeof(found));
	ew_policy_diag(
	    ps->st, ps->tok.line, ps->tok.col, "%s, found %s", what, found);
}

/* Report an error at the current token, without "found". */
static void
plain_error(struct parser *ps, const char *what)
{
	ew_policy_diag(ps->st, ps->tok.line, ps->tok.col, "%s",
	    ps->tok.type == EW_PT_ERROR ? ps->tok.msg : what);
}

/*
 * Skip the rest of a broken statement: up to the end of its line, or to a
 * name at column 1 followed by `(` on a later line (a new call, even when
 * a bracket was left open).
 */
static void
sync(struct parser *ps)
{
	while (ps->tok.type != EW_PT_NEWLINE && ps->tok.type != EW_PT_EOF) {
		if (ps->tok.type == EW_PT_IDENT && ps->tok.col == 1 &&
		    ps->tok.line > ps->stmt_line &&
		    lookahead(ps)->type == EW_PT_LPAREN) {
			ps->lx.depth = 1;
			return;
		}
		next(ps);
	}
}

static bool
tok_is(const struct ew_policy_tok *t, const char *word)
{
	return t->type == EW_PT_IDENT && t->len == strlen(word) &&
	    memcmp(t->text, word, t->len) == 0;
}

static struct ew_policy_val *
new_val(struct parser *ps, enum ew_policy_vtype type)
{
	struct ew_policy_val *v;

	if ((v = ew_policy_arena_alloc(&ps->tmp, sizeof(*v))) == NULL) {
		ew_policy_diag(
		    ps->st, ps->tok.line, ps->tok.col, "out of memory");
		ps->st->stop = true;
		return NULL;
	}
	memset(v, 0, sizeof(*v));
	v->type = type;
	v->line = ps->tok.line;
	v->col = ps->tok.col;
	return v;
}

static struct ew_policy_val *parse_value(struct parser *ps, unsigned depth);

static struct ew_policy_val *
parse_list(struct parser *ps, unsigned depth)
{
	struct ew_policy_val *v, *item, *items = NULL, *grown;
	size_t cap = 0;

	if (depth >= EW_POLICY_DEPTH_MAX) {
		ew_policy_diag(ps->st, ps->tok.line, ps->tok.col,
		    "lists nested deeper than %d", EW_POLICY_DEPTH_MAX);
		return NULL;
	}
	if ((v = new_val(ps, EW_PV_LIST)) == NULL)
		return NULL;
	next(ps);
	while (ps->tok.type != EW_PT_RBRACK) {
		if ((item = parse_value(ps, depth + 1)) == NULL)
			return NULL;
		if (v->n == EW_POLICY_LIST_MAX) {
			ew_policy_diag(ps->st, item->line, item->col,
			    "list longer than %d elements", EW_POLICY_LIST_MAX);
			return NULL;
		}
		if (v->n == cap) {
			cap = cap != 0 ? cap * 2 : 4;
			grown = ew_policy_arena_alloc(
			    &ps->tmp, cap * sizeof(*grown));
			if (grown == NULL) {
				ew_policy_diag(ps->st, item->line, item->col,
				    "out of memory");
				ps->st->stop = true;
				return NULL;
			}
			if (v->n != 0)
				memcpy(grown, items, v->n * sizeof(*grown));
			items = grown;
		}
		items[v->n++] = *item;
		if (ps->tok.type == EW_PT_COMMA) {
			next(ps);
			continue;
		}
		if (ps->tok.type != EW_PT_RBRACK) {
			syntax_error(ps, "expected `,` or `]` in list");
			return NULL;
		}
	}
	v->items = items;
	next(ps);
	return v;
}

static struct ew_policy_val *
parse_value(struct parser *ps, unsigned depth)
{
	struct ew_policy_val *v = NULL;
	char found[48];

	switch (ps->tok.type) {
	case EW_PT_STRING:
		if ((v = new_val(ps, EW_PV_STRING)) == NULL)
			return NULL;
		v->s = ps->tok.str;
		v->slen = ps->tok.slen;
		next(ps);
		break;
	case EW_PT_LBRACK:
		if ((v = parse_list(ps, depth)) == NULL)
			return NULL;
		break;
	case EW_PT_INT:
	case EW_PT_FLOAT:
		v = new_val(
		    ps, ps->tok.type == EW_PT_INT ? EW_PV_INT : EW_PV_FLOAT);
		if (v == NULL)
			return NULL;
		next(ps);
		break;
	case EW_PT_IDENT:
		if (lookahead(ps)->type == EW_PT_LPAREN) {
			plain_error(ps,
			    "calls are only allowed at the top "
			    "level of a rules file");
			return NULL;
		}
		if (tok_is(&ps->tok, "None")) {
			v = new_val(ps, EW_PV_NONE);
		} else if (tok_is(&ps->tok, "True") ||
		    tok_is(&ps->tok, "False")) {
			v = new_val(ps, EW_PV_BOOL);
		} else {
			describe(&ps->tok, found, sizeof(found));
			ew_policy_diag(ps->st, ps->tok.line, ps->tok.col,
			    "name %s is not defined (strings need quotes)",
			    found);
			ps->soft++;
			v = new_val(ps, EW_PV_ERROR);
		}
		if (v == NULL)
			return NULL;
		next(ps);
		break;
	case EW_PT_LPAREN:
		plain_error(ps,
		    "tuples and parenthesised expressions are "
		    "not supported; use a list");
		return NULL;
	case EW_PT_LBRACE:
		plain_error(ps, "dicts are not supported");
		return NULL;
	default:
		syntax_error(ps, "expected a value (a string or a list)");
		return NULL;
	}
	switch (ps->tok.type) {
	case EW_PT_OP:
	case EW_PT_ASSIGN:
		plain_error(ps,
		    "operators are not supported (only literal "
		    "values)");
		return NULL;
	case EW_PT_LBRACK:
	case EW_PT_LPAREN:
		plain_error(ps,
		    "indexing and calls on values are not "
		    "supported");
		return NULL;
	default:
		break;
	}
	return v;
}

/* name( args ) with the current token on name. */
static void
parse_call(struct parser *ps)
{
	struct ew_policy_arg args[ARGS_MAX];
	struct ew_policy_val *v;
	unsigned line = ps->tok.line, col = ps->tok.col;
	char *name;
	size_t nargs = 0;
	bool keywords = false;

	name = ew_policy_arena_strndup(&ps->tmp, ps->tok.text, ps->tok.len);
	if (name == NULL) {
		ps->st->stop = true;
		return;
	}
	next(ps); /* name */
	next(ps); /* ( */
	while (ps->tok.type != EW_PT_RPAREN) {
		struct ew_policy_arg a = { NULL, ps->tok.line, ps->tok.col,
			NULL };

		if (ps->tok.type == EW_PT_IDENT &&
		    lookahead(ps)->type == EW_PT_ASSIGN) {
			a.name = ew_policy_arena_strndup(
			    &ps->tmp, ps->tok.text, ps->tok.len);
			if (a.name == NULL) {
				ps->st->stop = true;
				return;
			}
			keywords = true;
			next(ps);
			next(ps);
		} else if (keywords) {
			plain_error(ps,
			    "positional argument after keyword "
			    "argument");
			sync(ps);
			return;
		}
		if ((v = parse_value(ps, 0)) == NULL) {
			sync(ps);
			return;
		}
		a.v = v;
		if (nargs == ARGS_MAX) {
			ew_policy_diag(ps->st, a.line, a.col,
			    "more than %d arguments", ARGS_MAX);
			sync(ps);
			return;
		}
		args[nargs++] = a;
		if (ps->tok.type == EW_PT_COMMA) {
			next(ps);
			continue;
		}
		if (ps->tok.type != EW_PT_RPAREN) {
			syntax_error(ps, "expected `,` or `)` after argument");
			sync(ps);
			return;
		}
	}
	next(ps); /* ) */
	if (ps->tok.type != EW_PT_NEWLINE && ps->tok.type != EW_PT_SEMI &&
	    ps->tok.type != EW_PT_EOF) {
		syntax_error(ps, "expected end of line after call");
		sync(ps);
		return;
	}
	if (ps->soft == 0)
		ew_policy_builtin_call(ps->st, name, line, col, args, nargs);
}

static void
parse_statement(struct parser *ps)
{
	static const char *const unsupported[] = { "def", "if", "for", "while",
		"return", "lambda", "pass", "break", "continue", "else", "elif",
		"and", "or", "not", "in", NULL };
	const struct ew_policy_tok *a;
	size_t i;

	ps->soft = 0;
	ps->stmt_line = ps->tok.line;
	if (ps->tok.type != EW_PT_IDENT) {
		syntax_error(ps,
		    "expected a call to prefix_rule, "
		    "host_executable or network_rule");
		sync(ps);
		return;
	}
	if (tok_is(&ps->tok, "load")) {
		plain_error(ps,
		    "load statements are not supported in rules "
		    "files");
		sync(ps);
		return;
	}
	for (i = 0; unsupported[i] != NULL; i++) {
		if (tok_is(&ps->tok, unsupported[i])) {
			ew_policy_diag(ps->st, ps->tok.line, ps->tok.col,
			    "`%s` statements are not supported in rules "
			    "files",
			    unsupported[i]);
			sync(ps);
			return;
		}
	}
	a = lookahead(ps);
	if (a->type == EW_PT_ASSIGN ||
	    (a->type == EW_PT_OP && a->text[a->len - 1] == '=' && a->len == 2 &&
		a->text[0] != '=' && a->text[0] != '!' && a->text[0] != '<' &&
		a->text[0] != '>')) {
		ew_policy_diag(ps->st, ps->tok.line, ps->tok.col,
		    "assignments are not supported in rules files");
		sync(ps);
		return;
	}
	if (a->type != EW_PT_LPAREN) {
		next(ps);
		syntax_error(
		    ps, "expected `(` (a rules file holds only calls)");
		sync(ps);
		return;
	}
	parse_call(ps);
}

void
ew_policy_parse(struct ew_policy_load_state *st, const char *text, size_t len)
{
	struct parser ps;

	memset(&ps, 0, sizeof(ps));
	ps.st = st;
	ew_policy_lex_init(&ps.lx, text, len, &ps.tmp);
	next(&ps);
	while (ps.tok.type != EW_PT_EOF && !st->stop) {
		if (ps.tok.type == EW_PT_NEWLINE || ps.tok.type == EW_PT_SEMI) {
			if (!ps.have_ahead)
				ew_policy_arena_fini(&ps.tmp);
			next(&ps);
			continue;
		}
		if (ps.tok.type == EW_PT_ERROR) {
			ps.stmt_line = ps.tok.line;
			plain_error(&ps, "");
			sync(&ps);
			continue;
		}
		parse_statement(&ps);
	}
	ew_policy_lex_fini(&ps.lx);
	ew_policy_arena_fini(&ps.tmp);
}
