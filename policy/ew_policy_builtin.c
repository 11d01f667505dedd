/*
 * The builtins of rules files, with Codex's semantics and messages:
 * prefix_rule(), host_executable() and network_rule().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

enum { F_PREFIX, F_HOST, F_NETWORK };

static const struct builtin {
	const char *name;
	const char *params[5];
	unsigned nparams, nrequired;
} builtins[] = {
	/* Parameter order as Codex declares them (positional binding). */
	{ "prefix_rule",
	    { "pattern", "decision", "match", "not_match", "justification" }, 5,
	    1 },
	{ "host_executable", { "name", "paths" }, 2, 2 },
	{ "network_rule", { "host", "protocol", "decision", "justification" },
	    4, 3 },
};

const char *
ew_policy_val_type(const struct ew_policy_val *v)
{
	switch (v->type) {
	case EW_PV_STRING:
		return "string";
	case EW_PV_LIST:
		return "list";
	case EW_PV_NONE:
		return "NoneType";
	case EW_PV_BOOL:
		return "bool";
	case EW_PV_INT:
		return "int";
	case EW_PV_FLOAT:
		return "float";
	case EW_PV_ERROR:
		break;
	}
	return "error";
}

/* Rust's str::trim().is_empty(): only Unicode White_Space characters. */
static bool
blank(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		if (*p == ' ' || (*p >= 0x09 && *p <= 0x0d)) {
			p++;
		} else if (p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0)) {
			p += 2;
		} else if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) {
			p += 3;
		} else if (p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 ||
			p[2] == 0xaf)) {
			p += 3;
		} else if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) {
			p += 3;
		} else if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) {
			p += 3;
		} else {
			return false;
		}
	}
	return true;
}

static int
parse_decision(const char *s, bool network, enum ew_policy_decision *d)
{
	if (strcmp(s, "allow") == 0)
		*d = EW_POLICY_ALLOW;
	else if (strcmp(s, "prompt") == 0)
		*d = EW_POLICY_PROMPT;
	else if (strcmp(s, "forbidden") == 0 ||
	    (network && strcmp(s, "deny") == 0))
		*d = EW_POLICY_FORBIDDEN;
	else
		return -EW_E_INVALID;
	return 0;
}

/* A string argument, or NULL (reported) when v has another type. */
static const char *
want_string(struct ew_policy_load_state *st, const char *fn, const char *param,
    const struct ew_policy_val *v)
{
	if (v->type == EW_PV_STRING)
		return v->s;
	ew_policy_diag(st, v->line, v->col,
	    "%s: `%s` must be a string (got %s)", fn, param,
	    ew_policy_val_type(v));
	return NULL;
}

static bool
want_list(struct ew_policy_load_state *st, const char *fn, const char *param,
    const struct ew_policy_val *v)
{
	if (v->type == EW_PV_LIST)
		return true;
	ew_policy_diag(st, v->line, v->col, "%s: `%s` must be a list (got %s)",
	    fn, param, ew_policy_val_type(v));
	return false;
}

static char *
keep(struct ew_policy_load_state *st, const char *s)
{
	char *r = ew_policy_arena_strndup(&st->arena, s, strlen(s));

	if (r == NULL)
		st->stop = true;
	return r;
}

/* Grow an array of elements of size sz to hold one more. */
static int
grow(void **v, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap != 0 ? *cap * 2 : 8;
	if ((nv = reallocarray(*v, ncap, sz)) == NULL)
		return -EW_E_NOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/*
 * Is v a string or a list of strings? False when not, said as "invalid
 * KIND: KIND must be a string or list of strings", or for an item that is
 * no string "invalid KIND: ITEM" (Codex's words for each).
 */
static bool
string_or_strings(struct ew_policy_load_state *st,
    const struct ew_policy_val *v, const char *kind, const char *item)
{
	size_t i;

	if (v->type == EW_PV_STRING)
		return true;
	if (v->type != EW_PV_LIST) {
		ew_policy_diag(st, v->line, v->col,
		    "invalid %s: %s must be a string or list of strings (got "
		    "%s)",
		    kind, kind, ew_policy_val_type(v));
		return false;
	}
	for (i = 0; i < v->n; i++) {
		if (v->items[i].type == EW_PV_STRING)
			continue;
		ew_policy_diag(st, v->items[i].line, v->items[i].col,
		    "invalid %s: %s (got %s)", kind, item,
		    ew_policy_val_type(&v->items[i]));
		return false;
	}
	return true;
}

/* One match / not_match example; false (reported) when it is invalid. */
static bool
parse_example(struct ew_policy_load_state *st, const struct ew_policy_val *v,
    struct ew_policy_example *ex)
{
	size_t i;

	if (v->type == EW_PV_STRING) {
		if (ew_policy_shlex_split(v->s, &st->tmp, &ex->tok, &ex->n) !=
		    0) {
			ew_policy_diag(st, v->line, v->col,
			    "invalid example: example string has invalid "
			    "shell syntax");
			return false;
		}
		if (ex->n == 0) {
			ew_policy_diag(st, v->line, v->col,
			    "invalid example: example cannot be an empty "
			    "string");
			return false;
		}
		return true;
	}
	if (!string_or_strings(
		st, v, "example", "example tokens must be strings"))
		return false;
	if (v->n == 0) {
		ew_policy_diag(st, v->line, v->col,
		    "invalid example: example cannot be an empty list");
		return false;
	}
	ex->n = v->n;
	ex->tok = ew_policy_arena_alloc(&st->tmp, (v->n + 1) * sizeof(char *));
	if (ex->tok == NULL) {
		st->stop = true;
		return false;
	}
	ex->tok[v->n] = NULL;
	/* The values die with the statement: copy the strings. */
	for (i = 0; i < v->n; i++) {
		ex->tok[i] = ew_policy_arena_strndup(
		    &st->tmp, v->items[i].s, v->items[i].slen);
		if (ex->tok[i] == NULL) {
			st->stop = true;
			return false;
		}
	}
	return true;
}

static bool
parse_examples(struct ew_policy_load_state *st, const char *param,
    const struct ew_policy_val *v, struct ew_policy_example **out, size_t *n)
{
	size_t i;
	bool ok = true;

	*out = NULL;
	*n = 0;
	if (v == NULL)
		return true;
	if (!want_list(st, "prefix_rule", param, v))
		return false;
	if (v->n == 0)
		return true;
	*out = ew_policy_arena_alloc(&st->tmp, v->n * sizeof(**out));
	if (*out == NULL) {
		st->stop = true;
		return false;
	}
	for (i = 0; i < v->n; i++)
		ok = parse_example(st, &v->items[i], &(*out)[i]) && ok;
	*n = v->n;
	return ok;
}

/* prefix_rule's decision and justification, checked: false when bad. */
static bool
rule_options(struct ew_policy_load_state *st, struct ew_policy_val *decision,
    struct ew_policy_val *just, enum ew_policy_decision *d,
    const char **justification)
{
	const char *s;
	bool ok = true;

	if (decision != NULL) {
		if ((s = want_string(
			 st, "prefix_rule", "decision", decision)) == NULL) {
			ok = false;
		} else if (parse_decision(s, false, d) != 0) {
			ew_policy_diag(st, decision->line, decision->col,
			    "invalid decision: %s", s);
			ok = false;
		}
	}
	if (just != NULL) {
		if ((s = want_string(
			 st, "prefix_rule", "justification", just)) == NULL) {
			ok = false;
		} else if (blank(s)) {
			ew_policy_diag(st, just->line, just->col,
			    "invalid rule: justification cannot be empty");
			ok = false;
		} else {
			*justification = s;
		}
	}
	return ok;
}

/*
 * One element of a pattern: a string, or a non-empty list of strings
 * (the alternatives). False when it is neither (said).
 */
static bool
pattern_element(struct ew_policy_load_state *st, struct ew_policy_val *e)
{
	if (!string_or_strings(st, e, "pattern element",
		"pattern alternative must be a string"))
		return false;
	if (e->type == EW_PV_LIST && e->n == 0) {
		ew_policy_diag(st, e->line, e->col,
		    "invalid pattern element: pattern alternatives cannot be "
		    "empty");
		return false;
	}
	return true;
}

/* prefix_rule's pattern, checked: false when bad (each fault said). */
static bool
pattern_ok(struct ew_policy_load_state *st, struct ew_policy_val *pattern)
{
	size_t i;
	bool ok = true;

	if (!want_list(st, "prefix_rule", "pattern", pattern))
		return false;
	if (pattern->n == 0) {
		ew_policy_diag(st, pattern->line, pattern->col,
		    "invalid pattern element: pattern cannot be empty");
		return false;
	}
	for (i = 0; i < pattern->n; i++)
		ok = pattern_element(st, &pattern->items[i]) && ok;
	return ok;
}

/*
 * The pattern after its first element, into the arena: shared by the
 * rules of every head. False when out of memory.
 */
static bool
pattern_rest(struct ew_policy_load_state *st,
    const struct ew_policy_val *pattern, struct ew_policy_ptok **out)
{
	struct ew_policy_ptok *rest = NULL;
	const struct ew_policy_val *e;
	const char *s;
	size_t i, k;

	if (pattern->n > 1) {
		rest = ew_policy_arena_alloc(
		    &st->arena, (pattern->n - 1) * sizeof(*rest));
		if (rest == NULL)
			return false;
	}
	for (i = 1; i < pattern->n; i++) {
		e = &pattern->items[i];
		k = e->type == EW_PV_STRING ? 1 : e->n;
		rest[i - 1].nalts = (uint32_t)k;
		rest[i - 1].alts =
		    ew_policy_arena_alloc(&st->arena, k * sizeof(char *));
		if (rest[i - 1].alts == NULL)
			return false;
		for (k = 0; k < rest[i - 1].nalts; k++) {
			s = e->type == EW_PV_STRING ? e->s : e->items[k].s;
			if ((rest[i - 1].alts[k] = keep(st, s)) == NULL)
				return false;
		}
	}
	*out = rest;
	return true;
}

static void
prefix_rule(struct ew_policy_load_state *st, unsigned line, unsigned col,
    struct ew_policy_val **a)
{
	struct ew_policy_val *pattern = a[0], *e, *heads;
	enum ew_policy_decision d = EW_POLICY_ALLOW;
	struct ew_policy_ptok *rest = NULL;
	struct ew_policy_pending pend;
	struct ew_policy_rule *r;
	const char *justification = NULL;
	size_t i, nheads = 0;
	bool ok;

	memset(&pend, 0, sizeof(pend));
	ok = rule_options(st, a[1], a[4], &d, &justification);
	ok = pattern_ok(st, pattern) && ok;
	if (!parse_examples(st, "match", a[2], &pend.match, &pend.nmatch))
		ok = false;
	if (!parse_examples(
		st, "not_match", a[3], &pend.not_match, &pend.nnot_match))
		ok = false;
	if (!ok || st->stop)
		return;
	if (!pattern_rest(st, pattern, &rest))
		goto oom;
	if (justification != NULL &&
	    (justification = keep(st, justification)) == NULL)
		goto oom;

	e = &pattern->items[0];
	heads = e->type == EW_PV_STRING ? e : e->items;
	nheads = e->type == EW_PV_STRING ? 1 : e->n;
	if (st->p->nrules + st->nrules + nheads > EW_POLICY_RULES_MAX) {
		ew_policy_diag(
		    st, line, col, "more than %u rules", EW_POLICY_RULES_MAX);
		st->stop = true;
		return;
	}
	pend.first_rule = st->nrules;
	pend.nrules = nheads;
	pend.line = line;
	pend.col = col;
	for (i = 0; i < nheads; i++) {
		if ((r = ew_policy_arena_alloc(&st->arena, sizeof(*r))) == NULL)
			goto oom;
		memset(r, 0, sizeof(*r));
		if ((r->first = keep(st, heads[i].s)) == NULL)
			goto oom;
		r->rest = rest;
		r->nrest = (uint32_t)(pattern->n - 1);
		r->decision = d;
		r->justification = justification;
		r->file = st->file;
		r->line = line;
		if (grow((void **)&st->rules, &st->rules_cap, st->nrules,
			sizeof(*st->rules)) != 0)
			goto oom;
		st->rules[st->nrules++] = r;
	}
	if (pend.nmatch + pend.nnot_match != 0) {
		if (grow((void **)&st->pend, &st->pend_cap, st->npend,
			sizeof(*st->pend)) != 0)
			goto oom;
		st->pend[st->npend++] = pend;
	}
	return;
oom:
	ew_policy_diag(st, line, col, "out of memory");
	st->stop = true;
}

static void
host_executable(struct ew_policy_load_state *st, unsigned line, unsigned col,
    struct ew_policy_val **a)
{
	struct ew_policy_host h = { NULL, NULL, 0 };
	const char *name, *raw, *home, *base;
	char *path = NULL, *norm = NULL;
	size_t i, k, blen;
	bool ok = true;

	if ((name = want_string(st, "host_executable", "name", a[0])) == NULL) {
		ok = false;
	} else if (name[0] == '\0') {
		ew_policy_diag(st, a[0]->line, a[0]->col,
		    "invalid rule: host_executable name cannot be empty");
		ok = false;
	} else if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		ew_policy_diag(st, a[0]->line, a[0]->col,
		    "invalid rule: host_executable name must be a bare "
		    "executable name (got %s)",
		    name);
		ok = false;
	}
	if (!want_list(st, "host_executable", "paths", a[1]) || !ok)
		return;
	h.paths =
	    ew_policy_arena_alloc(&st->arena, (a[1]->n + 1) * sizeof(char *));
	if (h.paths == NULL || (h.name = keep(st, name)) == NULL)
		goto oom;
	for (i = 0; i < a[1]->n; i++) {
		const struct ew_policy_val *v = &a[1]->items[i];

		if (v->type != EW_PV_STRING) {
			ew_policy_diag(st, v->line, v->col,
			    "invalid rule: host_executable paths must be "
			    "strings (got %s)",
			    ew_policy_val_type(v));
			ok = false;
			continue;
		}
		raw = v->s;
		home = getenv("HOME");
		if (strncmp(raw, "~/", 2) == 0 && home != NULL &&
		    home[0] == '/') {
			if (asprintf(&path, "%s/%s", home, raw + 2) < 0) {
				path = NULL;
				goto oom;
			}
		} else if (raw[0] == '/') {
			if ((path = strdup(raw)) == NULL)
				goto oom;
		} else {
			ew_policy_diag(st, v->line, v->col,
			    "invalid rule: host_executable paths must be "
			    "absolute or use `~/...` home-relative syntax "
			    "(got %s)",
			    raw);
			ok = false;
			continue;
		}
		if ((norm = ew_policy_path_normalize(path)) == NULL)
			goto oom;
		free(path);
		path = NULL;
		base = ew_policy_basename(norm, &blen);
		if (blen != strlen(name) || memcmp(base, name, blen) != 0 ||
		    strcmp(norm, "/") == 0) {
			ew_policy_diag(st, v->line, v->col,
			    "invalid rule: host_executable path `%s` must "
			    "have basename `%s`",
			    raw, name);
			ok = false;
		} else {
			for (k = 0; k < h.npaths; k++)
				if (strcmp(h.paths[k], norm) == 0)
					break;
			if (k == h.npaths &&
			    (h.paths[h.npaths++] = keep(st, norm)) == NULL)
				goto oom;
		}
		free(norm);
		norm = NULL;
	}
	if (!ok)
		return;
	h.paths[h.npaths] = NULL;
	if (grow((void **)&st->hosts, &st->hosts_cap, st->nhosts,
		sizeof(*st->hosts)) != 0)
		goto oom;
	st->hosts[st->nhosts++] = h;
	return;
oom:
	free(path);
	free(norm);
	ew_policy_diag(st, line, col, "out of memory");
	st->stop = true;
}

static bool
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n != 0;
}

static bool
is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* [*h, *end) without white space at either end: its length. */
static size_t
trim_space(const char **h, const char **end)
{
	while (*h < *end && is_space(**h))
		(*h)++;
	while (*end > *h && is_space((*end)[-1]))
		(*end)--;
	return (size_t)(*end - *h);
}

/*
 * Codex's normalize_network_rule_host: lower case, port and trailing dots
 * stripped, no scheme, path or wildcard. NULL (reported) when invalid.
 */
static char *
network_host(struct ew_policy_load_state *st, const struct ew_policy_val *v)
{
	const char *raw = v->s, *h = raw, *end, *close, *colon;
	size_t n, i;
	char *out;

	end = raw + strlen(raw);
	if ((n = trim_space(&h, &end)) == 0) {
		ew_policy_diag(st, v->line, v->col,
		    "invalid rule: network_rule host cannot be empty");
		return NULL;
	}
	if (memmem(h, n, "://", 3) != NULL || memchr(h, '/', n) != NULL ||
	    memchr(h, '?', n) != NULL || memchr(h, '#', n) != NULL) {
		ew_policy_diag(st, v->line, v->col,
		    "invalid rule: network_rule host must be a hostname or IP "
		    "literal (without scheme or path)");
		return NULL;
	}
	if (h[0] == '[') {
		if ((close = memchr(h, ']', n)) == NULL) {
			ew_policy_diag(st, v->line, v->col,
			    "invalid rule: network_rule host has an invalid "
			    "bracketed IPv6 literal");
			return NULL;
		}
		if (close + 1 != end &&
		    (close[1] != ':' ||
			!all_digits(close + 2, (size_t)(end - close - 2)))) {
			ew_policy_diag(st, v->line, v->col,
			    "invalid rule: network_rule host contains an "
			    "unsupported suffix: %s",
			    raw);
			return NULL;
		}
		h++;
		end = close;
	} else if ((colon = memchr(h, ':', n)) != NULL &&
	    memchr(colon + 1, ':', (size_t)(end - colon - 1)) == NULL &&
	    colon != h && all_digits(colon + 1, (size_t)(end - colon - 1))) {
		end = colon;
	}
	while (end > h && end[-1] == '.')
		end--;
	if ((n = trim_space(&h, &end)) == 0) {
		ew_policy_diag(st, v->line, v->col,
		    "invalid rule: network_rule host cannot be empty");
		return NULL;
	}
	if (memchr(h, '*', n) != NULL) {
		ew_policy_diag(st, v->line, v->col,
		    "invalid rule: network_rule host must be a specific host; "
		    "wildcards are not allowed");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (is_space(h[i])) {
			ew_policy_diag(st, v->line, v->col,
			    "invalid rule: network_rule host cannot contain "
			    "whitespace");
			return NULL;
		}
	}
	if ((out = ew_policy_arena_strndup(&st->arena, h, n)) == NULL) {
		st->stop = true;
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return out;
}

static void
network_rule(struct ew_policy_load_state *st, unsigned line, unsigned col,
    struct ew_policy_val **a)
{
	struct ew_policy_network_rule nr;
	const char *proto = NULL, *s;
	bool ok = true;

	memset(&nr, 0, sizeof(nr));
	if ((s = want_string(st, "network_rule", "protocol", a[1])) == NULL) {
		ok = false;
	} else if (strcmp(s, "http") == 0) {
		proto = "http";
	} else if (strcmp(s, "https") == 0 || strcmp(s, "https_connect") == 0 ||
	    strcmp(s, "http-connect") == 0) {
		proto = "https";
	} else if (strcmp(s, "socks5_tcp") == 0) {
		proto = "socks5_tcp";
	} else if (strcmp(s, "socks5_udp") == 0) {
		proto = "socks5_udp";
	} else {
		ew_policy_diag(st, a[1]->line, a[1]->col,
		    "invalid rule: network_rule protocol must be one of http, "
		    "https, socks5_tcp, socks5_udp (got %s)",
		    s);
		ok = false;
	}
	if ((s = want_string(st, "network_rule", "decision", a[2])) == NULL) {
		ok = false;
	} else if (parse_decision(s, true, &nr.decision) != 0) {
		ew_policy_diag(
		    st, a[2]->line, a[2]->col, "invalid decision: %s", s);
		ok = false;
	}
	if (a[3] != NULL) {
		if ((s = want_string(
			 st, "network_rule", "justification", a[3])) == NULL) {
			ok = false;
		} else if (blank(s)) {
			ew_policy_diag(st, a[3]->line, a[3]->col,
			    "invalid rule: justification cannot be empty");
			ok = false;
		} else if ((nr.justification = keep(st, s)) == NULL) {
			return;
		}
	}
	if (want_string(st, "network_rule", "host", a[0]) == NULL)
		ok = false;
	else if ((nr.host = network_host(st, a[0])) == NULL)
		ok = false;
	if (!ok || st->stop)
		return;
	nr.protocol = proto;
	nr.file = st->file;
	nr.line = line;
	if (grow((void **)&st->net, &st->net_cap, st->nnet, sizeof(*st->net)) !=
	    0) {
		ew_policy_diag(st, line, col, "out of memory");
		st->stop = true;
		return;
	}
	st->net[st->nnet++] = nr;
}

void
ew_policy_builtin_call(struct ew_policy_load_state *st, const char *fn,
    unsigned line, unsigned col, struct ew_policy_arg *args, size_t nargs)
{
	struct ew_policy_val *a[5] = { NULL, NULL, NULL, NULL, NULL };
	const struct builtin *b = NULL;
	size_t i, k, npos = 0;
	bool ok = true;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i].name, fn) == 0)
			b = &builtins[i];
	if (b == NULL) {
		ew_policy_diag(st, line, col,
		    "unknown function `%s` (rules files call prefix_rule, "
		    "host_executable and network_rule)",
		    fn);
		return;
	}
	for (i = 0; i < nargs; i++) {
		if (args[i].name == NULL) {
			if (npos >= b->nparams) {
				ew_policy_diag(st, args[i].line, args[i].col,
				    "%s() takes at most %u positional "
				    "arguments",
				    fn, b->nparams);
				ok = false;
				continue;
			}
			k = npos++;
		} else {
			for (k = 0; k < b->nparams; k++)
				if (strcmp(b->params[k], args[i].name) == 0)
					break;
			if (k == b->nparams) {
				ew_policy_diag(st, args[i].line, args[i].col,
				    "%s() got an unexpected keyword argument "
				    "`%s`",
				    fn, args[i].name);
				ok = false;
				continue;
			}
		}
		if (a[k] != NULL) {
			ew_policy_diag(st, args[i].line, args[i].col,
			    "%s() got multiple values for argument `%s`", fn,
			    b->params[k]);
			ok = false;
			continue;
		}
		a[k] = args[i].v;
	}
	for (k = 0; k < b->nparams; k++) {
		/* None stands for an absent optional argument. */
		if (a[k] != NULL && a[k]->type == EW_PV_NONE &&
		    k >= b->nrequired)
			a[k] = NULL;
		if (a[k] == NULL && k < b->nrequired) {
			ew_policy_diag(st, line, col,
			    "%s() missing required argument `%s`", fn,
			    b->params[k]);
			ok = false;
		}
	}
	if (!ok)
		return;
	switch (b - builtins) {
	case F_PREFIX:
		prefix_rule(st, line, col, a);
		break;
	case F_HOST:
		host_executable(st, line, col, a);
		break;
	case F_NETWORK:
		network_rule(st, line, col, a);
		break;
	}
}
