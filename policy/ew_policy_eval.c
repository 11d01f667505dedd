/*
 * Evaluation: the policy command, exact prefix matches (then the
 * host-executable basename fallback), the heuristics fallback, sh -c
 * splitting, the other form of a loader's or git's command, and the
 * self-contained result.
 */
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

/* Commands up to this many words are built on the stack. */
#define STACK_WORDS 32
/*
 * Other forms nest (a loader running git with global options, a loader
 * running a loader): checked this deep, and asked about beyond.
 */
#define EW_POLICY_FORMS_DEPTH 4

/* A match before the result is built; strings are borrowed. */
struct raw {
	const struct ew_policy_rule *r; /* NULL: heuristics */
	const char *const *cmd;
	size_t len; /* prefix length, or command length */
	const char *first; /* replaces cmd[0] in the prefix (basename) */
	const char *resolved; /* owned by the accumulator */
	enum ew_policy_decision d;
};

/* Something the matches point into, freed when the evaluation ends. */
struct owned {
	void *p;
	void (*free)(void *p);
};

struct acc {
	struct raw *v;
	size_t n, cap;
	struct raw stack[16];
	struct owned *owned;
	size_t nowned, owned_cap;
	bool every_cmd_ruled;
	int err;
};

/*
 * The heuristics' verdict. With o->programs_asked, a shell's script is not
 * scanned: every program the script starts is asked about on its own.
 */
static bool
dangerous(const struct ew_policy_opts *o, char *const *cmd, size_t n)
{
	if (o->programs_asked && n == 3 &&
	    (strcmp(cmd[1], "-c") == 0 || strcmp(cmd[1], "-lc") == 0)) {
		const char *b = strrchr(cmd[0], '/');

		b = b != NULL ? b + 1 : cmd[0];
		if (strcmp(b, "bash") == 0 || strcmp(b, "sh") == 0 ||
		    strcmp(b, "zsh") == 0 || strcmp(b, "dash") == 0)
			return false;
	}
	return ew_policy_might_be_dangerous(cmd, n);
}

static void
acc_init(struct acc *a)
{
	memset(a, 0, sizeof(*a));
	a->v = a->stack;
	a->cap = sizeof(a->stack) / sizeof(a->stack[0]);
	a->every_cmd_ruled = true;
}

static void
acc_fini(struct acc *a)
{
	size_t i;

	for (i = 0; i < a->nowned; i++)
		a->owned[i].free(a->owned[i].p);
	free(a->owned);
	if (a->v != a->stack)
		free(a->v);
}

static struct raw *
acc_add(struct acc *a)
{
	struct raw *nv;
	size_t ncap;

	if (a->err != 0)
		return NULL;
	if (a->n == a->cap) {
		ncap = a->cap * 2;
		if (a->v == a->stack) {
			if ((nv = malloc(ncap * sizeof(*nv))) != NULL)
				memcpy(nv, a->stack, sizeof(a->stack));
		} else {
			nv = reallocarray(a->v, ncap, sizeof(*nv));
		}
		if (nv == NULL) {
			a->err = -EW_E_NOMEM;
			return NULL;
		}
		a->v = nv;
		a->cap = ncap;
	}
	memset(&a->v[a->n], 0, sizeof(a->v[0]));
	return &a->v[a->n++];
}

/*
 * Keep p until the accumulator ends, then fn(p); on failure fn(p) at once.
 * p NULL (a failed allocation) is an error. false on failure.
 */
static bool
acc_keep(struct acc *a, void *p, void (*fn)(void *))
{
	struct owned *no;
	size_t ncap;

	if (p == NULL || a->err != 0) {
		if (p != NULL)
			fn(p);
		if (a->err == 0)
			a->err = -EW_E_NOMEM;
		return false;
	}
	if (a->nowned == a->owned_cap) {
		ncap = a->owned_cap != 0 ? a->owned_cap * 2 : 4;
		if ((no = reallocarray(a->owned, ncap, sizeof(*no))) == NULL) {
			fn(p);
			a->err = -EW_E_NOMEM;
			return false;
		}
		a->owned = no;
		a->owned_cap = ncap;
	}
	a->owned[a->nowned].p = p;
	a->owned[a->nowned].free = fn;
	a->nowned++;
	return true;
}

/* Keep s (malloc'd) until the accumulator ends; NULL on failure. */
static char *
acc_own(struct acc *a, char *s)
{
	return acc_keep(a, s, free) ? s : NULL;
}

static void
split_free(void *s)
{
	ew_policy_split_free(s);
}

/* Codex's matches_for_command for one command, plus the fallback. */
static void
match_command(const struct ew_policy *p, const char *const *cmd, size_t n,
    const struct ew_policy_opts *o, struct acc *a)
{
	const struct ew_policy_rule *r;
	const struct ew_policy_host *h;
	const char *stackcmd[STACK_WORDS], **bcmd = stackcmd, *base;
	char *norm = NULL, *name = NULL;
	size_t before = a->n, plen, blen, k;
	struct raw *m;

	if (n == 0)
		return;
	for (r = ew_policy_lookup(p, cmd[0]); r != NULL; r = r->next) {
		if ((plen = ew_policy_rule_match(r, cmd, n)) == 0)
			continue;
		if ((m = acc_add(a)) == NULL)
			return;
		m->r = r;
		m->cmd = cmd;
		m->len = plen;
		m->d = r->decision;
	}
	if (a->n == before && o->resolve_host_executables && cmd[0][0] == '/' &&
	    (norm = ew_policy_path_normalize(cmd[0])) != NULL) {
		base = ew_policy_basename(norm, &blen);
		if ((name = strndup(base, blen)) == NULL) {
			a->err = -EW_E_NOMEM;
			goto out;
		}
		if ((r = ew_policy_lookup(p, name)) == NULL)
			goto out;
		if ((h = ew_policy_find_host(p, name)) != NULL) {
			for (k = 0; k < h->npaths; k++)
				if (strcmp(h->paths[k], norm) == 0)
					break;
			if (k == h->npaths)
				goto out;
		}
		if (n > STACK_WORDS &&
		    (bcmd = malloc(n * sizeof(*bcmd))) == NULL) {
			a->err = -EW_E_NOMEM;
			goto out;
		}
		bcmd[0] = name;
		for (k = 1; k < n; k++)
			bcmd[k] = cmd[k];
		if (acc_own(a, norm) == NULL) {
			norm = NULL;
			goto out;
		}
		for (; r != NULL; r = r->next) {
			if ((plen = ew_policy_rule_match(r, bcmd, n)) == 0)
				continue;
			if ((m = acc_add(a)) == NULL)
				break;
			m->r = r;
			m->cmd = cmd;
			m->len = plen;
			m->first = r->first;
			m->resolved = norm;
			m->d = r->decision;
		}
		norm = NULL;
	}
out:
	if (a->n == before) {
		a->every_cmd_ruled = false;
		if (o->heuristics && (m = acc_add(a)) != NULL) {
			m->cmd = cmd;
			m->len = n;
			m->d = dangerous(o, (char *const *)cmd, n)
			    ? EW_POLICY_PROMPT
			    : EW_POLICY_ALLOW;
		}
	}
	if (bcmd != stackcmd)
		free(bcmd);
	free(name);
	free(norm);
}

static size_t
str_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static char *
put_str(char **pos, const char *s)
{
	size_t n;
	char *r;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	r = memcpy(*pos, s, n);
	*pos += n;
	return r;
}

/* One allocation holding the result, its matches and every string. */
static int
build(const struct acc *a, struct ew_policy_result **out)
{
	struct ew_policy_result *res;
	struct ew_policy_match *mt;
	size_t i, k, size, nptr = 0, nchar = 0;
	char **ptrs, *chars;
	bool ruled = false;

	for (i = 0; i < a->n; i++) {
		const struct raw *m = &a->v[i];

		nptr += m->len;
		for (k = 0; k < m->len; k++)
			nchar +=
			    strlen(k == 0 && m->first != NULL ? m->first
							      : m->cmd[k]) +
			    1;
		if (m->r != NULL)
			nchar += str_size(m->r->file) +
			    str_size(m->r->justification);
		nchar += str_size(m->resolved);
	}
	size =
	    sizeof(*res) + a->n * sizeof(*mt) + nptr * sizeof(char *) + nchar;
	if ((res = calloc(1, size)) == NULL)
		return -EW_E_NOMEM;
	mt = (struct ew_policy_match *)(res + 1);
	ptrs = (char **)(mt + a->n);
	chars = (char *)(ptrs + nptr);
	res->nmatches = a->n;
	res->matches = a->n != 0 ? mt : NULL;
	for (i = 0; i < a->n; i++) {
		const struct raw *m = &a->v[i];

		mt[i].heuristics = m->r == NULL;
		mt[i].decision = m->d;
		mt[i].prefix = ptrs;
		mt[i].nprefix = m->len;
		for (k = 0; k < m->len; k++)
			*ptrs++ = put_str(&chars,
			    k == 0 && m->first != NULL ? m->first : m->cmd[k]);
		if (m->r != NULL) {
			mt[i].file = put_str(&chars, m->r->file);
			mt[i].line = m->r->line;
			mt[i].justification =
			    put_str(&chars, m->r->justification);
		}
		mt[i].resolved_program = put_str(&chars, m->resolved);
		if (m->d > res->decision)
			res->decision = m->d;
	}
	for (i = 0; i < a->n; i++)
		if (a->v[i].r != NULL && a->v[i].d == res->decision)
			ruled = true;
	res->source = a->n == 0 ? EW_POLICY_SOURCE_NONE
	    : ruled             ? EW_POLICY_SOURCE_RULE
				: EW_POLICY_SOURCE_HEURISTICS;
	res->all_rule_allowed =
	    a->n != 0 && a->every_cmd_ruled && res->decision == EW_POLICY_ALLOW;
	*out = res;
	return 0;
}

static const struct ew_policy_opts no_opts;

int
ew_policy_check(const struct ew_policy *p, char *const *cmd, size_t n,
    const struct ew_policy_opts *o, struct ew_policy_result **out)
{
	struct acc a;
	int r;

	*out = NULL;
	acc_init(&a);
	match_command(
	    p, (const char *const *)cmd, n, o != NULL ? o : &no_opts, &a);
	r = a.err != 0 ? a.err : build(&a, out);
	acc_fini(&a);
	return r;
}

/*
 * The program name a command starts with: the path as given with
 * preserve_program_paths or resolve_host_executables, else its basename.
 */
static const char *
program_name(const char *s, const struct ew_policy_opts *o, struct acc *a)
{
	const char *b;
	size_t len;

	if (o->preserve_program_paths || o->resolve_host_executables)
		return s;
	b = ew_policy_basename(s, &len);
	if (b[len] == '\0')
		return b;
	return acc_own(a, strndup(b, len)); /* trailing slashes */
}

static bool
is_shell(const char *s)
{
	static const char *const shells[] = { "bash", "sh", "zsh", "dash" };
	const char *b;
	size_t i, len;

	b = ew_policy_basename(s, &len);
	for (i = 0; i < sizeof(shells) / sizeof(shells[0]); i++)
		if (len == strlen(shells[i]) && memcmp(b, shells[i], len) == 0)
			return true;
	return false;
}

int
ew_policy_split_shell(
    char *const *argv, size_t argc, struct ew_policy_split **out)
{
	struct ew_policy_split *s = NULL;
	int r;

	*out = NULL;
	if (argc != 3 || !is_shell(argv[0]) ||
	    (strcmp(argv[1], "-c") != 0 && strcmp(argv[1], "-lc") != 0))
		return -EW_E_INVALID;
	if ((r = ew_policy_split_script(argv[2], strlen(argv[2]), &s)) != 0)
		return r;
	if (s->ncmds == 0) {
		ew_policy_split_free(s);
		return -EW_E_INVALID;
	}
	*out = s;
	return 0;
}

/*
 * The program of another form: an absolute path is named as the program
 * itself is (program_name); a relative one (the loader looks it up in the
 * cwd, or in its library path when it has no slash) by its basename.
 */
static const char *
form_program_name(const char *s, const struct ew_policy_opts *o, struct acc *a)
{
	const char *b;
	size_t len;

	if (s[0] == '/')
		return program_name(s, o, a);
	b = ew_policy_basename(s, &len);
	if (b[len] == '\0')
		return b;
	return acc_own(a, strndup(b, len));
}

/* A command whose other form we cannot tell: the heuristics ask. */
static void
doubt(const char *const *cmd, size_t n, const struct ew_policy_opts *o,
    struct acc *a)
{
	struct raw *m;
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->v[i].r == NULL && a->v[i].cmd == cmd &&
		    a->v[i].d >= EW_POLICY_PROMPT)
			return; /* the heuristics ask already */
	if (o->heuristics && (m = acc_add(a)) != NULL) {
		m->cmd = cmd;
		m->len = n;
		m->d = EW_POLICY_PROMPT;
	}
}

/* Forget the matches from index from on that are not stricter than allow. */
static void
keep_strict(struct acc *a, size_t from)
{
	size_t i, k = from;

	for (i = from; i < a->n; i++)
		if (a->v[i].d > EW_POLICY_ALLOW)
			a->v[k++] = a->v[i];
	a->n = k;
}

static void eval_command(const struct ew_policy *p, const char *const *cmd,
    size_t n, const struct ew_policy_opts *o, struct acc *a, unsigned depth,
    bool may_split);

/*
 * Check cmd's other form too (ew_policy_form_of), strictest of both. The
 * other form may only make the decision stricter: its allow matches are
 * dropped, so an allow rule applies to a command as it is written (an
 * allow rule can take a program out of the sandbox, and `git -c
 * core.pager=... status` is not the `git status` it allowed).
 */
static void
other_form(const struct ew_policy *p, const char *const *cmd, size_t n,
    const struct ew_policy_opts *o, struct acc *a, unsigned depth)
{
	enum ew_policy_form form;
	const char **alt;
	size_t start, altn, k, before;
	bool ruled;

	form = ew_policy_form_of(cmd, n, &start);
	if (form == EW_POLICY_FORM_NONE)
		return;
	if (form == EW_POLICY_FORM_UNKNOWN || depth >= EW_POLICY_FORMS_DEPTH) {
		doubt(cmd, n, o, a);
		return;
	}
	altn = form == EW_POLICY_FORM_GIT ? n - start + 1 : n - start;
	/* The matches point into alt until the result is built. */
	if (!acc_keep(a, calloc(altn + 1, sizeof(*alt)), free))
		return;
	alt = a->owned[a->nowned - 1].p;
	if (form == EW_POLICY_FORM_GIT) {
		alt[0] = cmd[0];
		for (k = 1; k < altn; k++)
			alt[k] = cmd[start + k - 1];
	} else {
		for (k = 0; k < altn; k++)
			alt[k] = cmd[start + k];
		if ((alt[0] = form_program_name(alt[0], o, a)) == NULL)
			return;
	}
	before = a->n;
	ruled = a->every_cmd_ruled;
	eval_command(p, alt, altn, o, a, depth + 1, true);
	a->every_cmd_ruled = ruled;
	keep_strict(a, before);
}

/*
 * One command: split when it is a shell's script (may_split), else matched
 * as it is written; then its other form, if it has one.
 */
static void
eval_command(const struct ew_policy *p, const char *const *cmd, size_t n,
    const struct ew_policy_opts *o, struct acc *a, unsigned depth,
    bool may_split)
{
	struct ew_policy_split *split = NULL;
	size_t i;

	if (a->err != 0 || n == 0)
		return;
	if (may_split && o->split_shell &&
	    ew_policy_split_shell((char *const *)cmd, n, &split) == 0) {
		/* The words stay the matches' until the result is built. */
		if (!acc_keep(a, split, split_free))
			return;
		for (i = 0; i < split->ncmds && a->err == 0; i++) {
			char **w = split->cmds[i].argv;

			w[0] = (char *)program_name(w[0], o, a);
			if (w[0] != NULL)
				eval_command(p, (const char *const *)w,
				    split->cmds[i].argc, o, a, depth, false);
		}
		return;
	}
	match_command(p, cmd, n, o, a);
	other_form(p, cmd, n, o, a, depth);
}

int
ew_policy_eval(const struct ew_policy *p, const char *program,
    char *const *argv, const struct ew_policy_opts *o,
    struct ew_policy_result **out)
{
	const char *stackcmd[STACK_WORDS], **cmd = stackcmd;
	size_t n = 0, i;
	struct acc a;
	int r;

	*out = NULL;
	if (program == NULL || program[0] == '\0')
		return -EW_E_INVALID;
	if (o == NULL)
		o = &no_opts;
	acc_init(&a);
	if (argv != NULL && argv[0] != NULL)
		while (argv[n + 1] != NULL)
			n++;
	n++; /* the program replaces argv[0] */
	if (n > STACK_WORDS && (cmd = malloc(n * sizeof(*cmd))) == NULL) {
		r = -EW_E_NOMEM;
		goto out;
	}
	for (i = 1; i < n; i++)
		cmd[i] = argv[i];
	if ((cmd[0] = program_name(program, o, &a)) == NULL) {
		r = a.err;
		goto out;
	}
	eval_command(p, cmd, n, o, &a, 0, true);
	r = a.err != 0 ? a.err : build(&a, out);
out:
	if (cmd != stackcmd)
		free(cmd);
	acc_fini(&a);
	return r;
}

void
ew_policy_result_free(struct ew_policy_result *r)
{
	free(r);
}
