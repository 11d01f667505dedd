/*
 * Shell scripts of `bash -lc SCRIPT` and friends. The strict splitter
 * accepts what Codex's tree-sitter walk accepts (plain words, quotes,
 * && || ; | and newlines) and refuses everything else, so a script it
 * splits runs exactly those commands. The lenient scan is for the
 * "might be dangerous" heuristic only: it finds literal commands anywhere.
 */
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

/* Nesting of $( ), ( ) and backquotes the scan follows. */
#define SCAN_DEPTH_MAX 64
/* Here-documents waiting for their bodies on one line. */
#define SCAN_HEREDOC_MAX 16

/* Words of all commands, NUL-separated, then packed into one block. */
struct builder {
	struct ew_policy_sb words;
	size_t *counts;
	size_t ncmds, cap, nwords, cur;
	int err;
};

static void
bld_init(struct builder *b)
{
	memset(b, 0, sizeof(*b));
	ew_policy_sb_init(&b->words, EW_POLICY_SPLIT_SCRIPT_MAX * 2);
}

static void
bld_fini(struct builder *b)
{
	ew_policy_sb_fini(&b->words);
	free(b->counts);
}

static void
bld_word(struct builder *b, const char *s, size_t n)
{
	if (b->err != 0)
		return;
	if (b->nwords == EW_POLICY_SPLIT_WORDS_MAX) {
		b->err = -EW_E_LIMIT;
		return;
	}
	ew_policy_sb_putn(&b->words, s, n);
	ew_policy_sb_putc(&b->words, '\0');
	if (b->words.err != 0) {
		b->err = b->words.err;
		return;
	}
	b->nwords++;
	b->cur++;
}

static void
bld_end_cmd(struct builder *b)
{
	size_t *nc, ncap;

	if (b->err != 0 || b->cur == 0)
		return;
	if (b->ncmds == b->cap) {
		ncap = b->cap != 0 ? b->cap * 2 : 8;
		if ((nc = reallocarray(b->counts, ncap, sizeof(*nc))) == NULL) {
			b->err = -EW_E_NOMEM;
			return;
		}
		b->counts = nc;
		b->cap = ncap;
	}
	b->counts[b->ncmds++] = b->cur;
	b->cur = 0;
}

static int
bld_pack(struct builder *b, struct ew_policy_split **out)
{
	struct ew_policy_split *s;
	struct ew_policy_split_cmd *cmds;
	char **ptrs, *chars;
	size_t i, k, size;
	const char *w = b->words.s;

	if (b->err != 0)
		return b->err;
	size = sizeof(*s) + b->ncmds * sizeof(*cmds) +
	    (b->nwords + b->ncmds) * sizeof(char *) + b->words.len;
	if ((s = calloc(1, size)) == NULL)
		return -EW_E_NOMEM;
	cmds = (struct ew_policy_split_cmd *)(s + 1);
	ptrs = (char **)(cmds + b->ncmds);
	chars = (char *)(ptrs + b->nwords + b->ncmds);
	if (b->words.len != 0)
		memcpy(chars, w, b->words.len);
	s->ncmds = b->ncmds;
	s->cmds = b->ncmds != 0 ? cmds : NULL;
	for (i = 0; i < b->ncmds; i++) {
		cmds[i].argc = b->counts[i];
		cmds[i].argv = ptrs;
		for (k = 0; k < b->counts[i]; k++) {
			*ptrs++ = chars;
			chars += strlen(chars) + 1;
		}
		*ptrs++ = NULL;
	}
	*out = s;
	return 0;
}

void
ew_policy_split_free(struct ew_policy_split *s)
{
	free(s);
}

static bool
in_list(const char *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(w, *list) == 0)
			return true;
	return false;
}

/* Words that make a command something other than a plain command. */
static const char *const reserved[] = { "if", "then", "else", "elif", "fi",
	"do", "done", "case", "esac", "while", "until", "for", "in", "function",
	"select", "time", "coproc", "[[", "]]", "{", "}", "!", "declare",
	"typeset", "export", "readonly", "local", "unset", NULL };

/* NAME= or NAME+= at the start of w: a variable assignment. */
static bool
is_assignment(const char *w, size_t n)
{
	size_t i = 0;

	if (n == 0 ||
	    !((w[0] >= 'a' && w[0] <= 'z') || (w[0] >= 'A' && w[0] <= 'Z') ||
		w[0] == '_'))
		return false;
	while (i < n &&
	    ((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= 'A' && w[i] <= 'Z') ||
		(w[i] >= '0' && w[i] <= '9') || w[i] == '_'))
		i++;
	if (i < n && w[i] == '+')
		i++;
	return i < n && w[i] == '=';
}

/*
 * One word of the strict splitter starting at s[*ip]; appended to b.
 * -EW_E_INVALID when the word holds anything but literal text and quotes.
 */
static int
split_word(const char *s, size_t len, size_t *ip, struct builder *b)
{
	struct ew_policy_sb w;
	size_t i = *ip, j, parts = 0, unquoted_len = 0;
	bool first = b->cur == 0, quoted = false, in_unquoted = false;
	int r = 0;

	if (s[i] == '!' || s[i] == '#')
		return -EW_E_INVALID; /* negation, history, comment */
	ew_policy_sb_init(&w, EW_POLICY_SPLIT_SCRIPT_MAX);
	ew_policy_sb_putn(&w, "", 0);
	while (i < len) {
		char c = s[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == ';' ||
		    c == '&' || c == '|')
			break;
		if (strchr("<>()`$\\{}[]\r", c) != NULL) {
			r = -EW_E_INVALID;
			goto out;
		}
		if (c == '\'' || c == '"') {
			for (j = i + 1; j < len && s[j] != c; j++)
				if (c == '"' && strchr("$`\\", s[j]) != NULL) {
					r = -EW_E_INVALID;
					goto out;
				}
			if (j == len) {
				r = -EW_E_INVALID;
				goto out;
			}
			ew_policy_sb_putn(&w, s + i + 1, j - i - 1);
			i = j + 1;
			quoted = true;
			in_unquoted = false;
			parts++;
			continue;
		}
		if (!in_unquoted) {
			parts++;
			in_unquoted = true;
		}
		if (!quoted)
			unquoted_len++;
		ew_policy_sb_putc(&w, c);
		i++;
	}
	if (w.err != 0) {
		r = w.err;
		goto out;
	}
	/* The command name must be a plain word (tree-sitter's word). */
	if (first &&
	    (quoted || is_assignment(w.s, w.len) || in_list(w.s, reserved))) {
		r = -EW_E_INVALID;
		goto out;
	}
	/* An assignment-looking prefix that is only partly quoted. */
	if (first && unquoted_len != w.len &&
	    is_assignment(w.s, unquoted_len)) {
		r = -EW_E_INVALID;
		goto out;
	}
	if (w.len == 0 && parts > 1) {
		r = -EW_E_INVALID;
		goto out;
	}
	bld_word(b, w.s, w.len);
	r = b->err;
	*ip = i;
out:
	ew_policy_sb_fini(&w);
	return r;
}

int
ew_policy_split_script(const char *s, size_t len, struct ew_policy_split **out)
{
	struct builder b;
	bool pending = false; /* after && || |: a command must follow */
	size_t i = 0;
	int r;

	*out = NULL;
	if (len > EW_POLICY_SPLIT_SCRIPT_MAX)
		return -EW_E_LIMIT;
	if (memchr(s, '\0', len) != NULL)
		return -EW_E_INVALID;
	bld_init(&b);
	while (i < len) {
		char c = s[i], d = i + 1 < len ? s[i + 1] : '\0';

		if (c == ' ' || c == '\t') {
			i++;
			continue;
		}
		if (c == '\n') {
			bld_end_cmd(&b);
			i++;
			continue;
		}
		if (c == ';') {
			if (d == ';' || d == '&' || b.cur == 0) {
				r = -EW_E_INVALID;
				goto out;
			}
			bld_end_cmd(&b);
			i++;
			continue;
		}
		if (c == '&' || c == '|') {
			/* && || | need a command before them. */
			if (b.cur == 0 || (c == '&' && d != '&') ||
			    (c == '|' && d == '&')) {
				r = -EW_E_INVALID;
				goto out;
			}
			bld_end_cmd(&b);
			i += d == c ? 2 : 1;
			pending = true;
			continue;
		}
		if ((r = split_word(s, len, &i, &b)) != 0)
			goto out;
		pending = false;
	}
	if (pending) {
		r = -EW_E_INVALID;
		goto out;
	}
	bld_end_cmd(&b);
	r = bld_pack(&b, out);
out:
	bld_fini(&b);
	return r;
}

/* The lenient scan. */

enum { W_LIT = 1, W_ASSIGN = 2 };

/* The words of the command being read at one nesting level. */
struct cur {
	struct ew_policy_sb text;
	size_t *off;
	unsigned char *flags;
	size_t n, cap;
};

struct scan {
	const char *s;
	size_t len, i;
	struct builder b;
	int err;
	struct {
		char *delim;
		bool strip_tabs;
	} hd[SCAN_HEREDOC_MAX];
	size_t nhd;
};

static const char *const keywords[] = { "if", "then", "else", "elif", "fi",
	"do", "done", "while", "until", "!", "{", "}", "time", "[[", NULL };
static const char *const not_commands[] = { "for", "case", "select", "function",
	"in", "esac", NULL };

static void scan_list(struct scan *sc, int term, unsigned depth);

static void
cur_fini(struct cur *c)
{
	ew_policy_sb_fini(&c->text);
	free(c->off);
	free(c->flags);
	memset(c, 0, sizeof(*c));
}

static void
cur_add(struct scan *sc, struct cur *c, size_t off, unsigned char flags)
{
	size_t ncap, *no;
	unsigned char *nf;

	if (c->n == c->cap) {
		ncap = c->cap != 0 ? c->cap * 2 : 8;
		no = reallocarray(c->off, ncap, sizeof(*no));
		if (no != NULL)
			c->off = no;
		nf = no != NULL ? realloc(c->flags, ncap) : NULL;
		if (nf == NULL) {
			sc->err = -EW_E_NOMEM;
			return;
		}
		c->flags = nf;
		c->cap = ncap;
	}
	c->off[c->n] = off;
	c->flags[c->n] = flags;
	c->n++;
}

/* The command read so far is complete: keep it if its name is literal. */
static void
flush(struct scan *sc, struct cur *c)
{
	size_t k = 0;
	const char *w;

	while (k < c->n) {
		w = c->text.s + c->off[k];
		if ((c->flags[k] & W_ASSIGN) != 0 ||
		    ((c->flags[k] & W_LIT) != 0 && in_list(w, keywords))) {
			k++;
			continue;
		}
		if ((c->flags[k] & W_LIT) != 0 && in_list(w, not_commands))
			k = c->n;
		break;
	}
	if (k < c->n && (c->flags[k] & W_LIT) != 0) {
		for (; k < c->n; k++) {
			w = c->text.s + c->off[k];
			if ((c->flags[k] & W_LIT) != 0)
				bld_word(&sc->b, w, strlen(w));
		}
		bld_end_cmd(&sc->b);
		if (sc->b.err != 0)
			sc->err = sc->b.err;
	}
	c->n = 0;
	c->text.len = 0;
}

/* After `$`: skip a parameter expansion, scanning $( ) inside ${ }. */
static void
skip_param(struct scan *sc, unsigned depth)
{
	const char *s = sc->s;
	int braces;

	if (sc->i >= sc->len)
		return;
	if (s[sc->i] == '{') {
		braces = 1;
		sc->i++;
		while (sc->i < sc->len && braces > 0 && sc->err == 0) {
			if (s[sc->i] == '$' && sc->i + 1 < sc->len &&
			    s[sc->i + 1] == '(') {
				sc->i += 2;
				scan_list(sc, ')', depth + 1);
				continue;
			}
			if (s[sc->i] == '{')
				braces++;
			else if (s[sc->i] == '}')
				braces--;
			sc->i++;
		}
		return;
	}
	if ((s[sc->i] >= 'a' && s[sc->i] <= 'z') ||
	    (s[sc->i] >= 'A' && s[sc->i] <= 'Z') || s[sc->i] == '_') {
		while (sc->i < sc->len &&
		    ((s[sc->i] >= 'a' && s[sc->i] <= 'z') ||
			(s[sc->i] >= 'A' && s[sc->i] <= 'Z') ||
			(s[sc->i] >= '0' && s[sc->i] <= '9') ||
			s[sc->i] == '_'))
			sc->i++;
		return;
	}
	if (strchr("0123456789@*#?$!-", s[sc->i]) != NULL)
		sc->i++;
}

/* One word at sc->i into c; `$( )` and backquotes inside are scanned. */
static void
scan_word(struct scan *sc, struct cur *c, int term, unsigned depth, bool keep)
{
	const char *s = sc->s;
	size_t start = c->text.len, ident = 0;
	unsigned char flags = W_LIT;
	bool ident_ok = true;
	char ch, d;

	while (sc->i < sc->len && sc->err == 0) {
		ch = s[sc->i];
		if (strchr(" \t\r\n;&|()<>", ch) != NULL ||
		    (term == '`' && ch == '`'))
			break;
		if (ident_ok && ch == '=' && ident > 0)
			flags |= W_ASSIGN;
		if (!(ident_ok &&
			((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    ch == '_' ||
			    (ident > 0 && ch >= '0' && ch <= '9') ||
			    (ident > 0 && ch == '+' && sc->i + 1 < sc->len &&
				s[sc->i + 1] == '='))))
			ident_ok = false;
		else
			ident++;
		switch (ch) {
		case '\\':
			sc->i++;
			if (sc->i < sc->len) {
				if (s[sc->i] != '\n')
					ew_policy_sb_putc(&c->text, s[sc->i]);
				sc->i++;
			}
			break;
		case '\'':
			sc->i++;
			while (sc->i < sc->len && s[sc->i] != '\'')
				ew_policy_sb_putc(&c->text, s[sc->i++]);
			sc->i++;
			break;
		case '"':
			sc->i++;
			while (sc->i < sc->len && sc->err == 0) {
				d = s[sc->i];
				if (d == '"') {
					sc->i++;
					break;
				}
				if (d == '\\' && sc->i + 1 < sc->len &&
				    strchr("$`\"\\\n", s[sc->i + 1]) != NULL) {
					if (s[sc->i + 1] != '\n')
						ew_policy_sb_putc(
						    &c->text, s[sc->i + 1]);
					sc->i += 2;
				} else if (d == '$' && sc->i + 1 < sc->len &&
				    s[sc->i + 1] == '(') {
					flags &= (unsigned char)~W_LIT;
					sc->i += 2;
					scan_list(sc, ')', depth + 1);
				} else if (d == '$') {
					flags &= (unsigned char)~W_LIT;
					sc->i++;
					skip_param(sc, depth);
				} else if (d == '`') {
					flags &= (unsigned char)~W_LIT;
					sc->i++;
					scan_list(sc, '`', depth + 1);
				} else {
					ew_policy_sb_putc(&c->text, d);
					sc->i++;
				}
			}
			break;
		case '$':
			sc->i++;
			d = sc->i < sc->len ? s[sc->i] : '\0';
			if (d == '"')
				break; /* $"..." is a plain string here */
			flags &= (unsigned char)~W_LIT;
			if (d == '(') {
				sc->i++;
				scan_list(sc, ')', depth + 1);
			} else if (d == '\'') {
				sc->i++;
				while (sc->i < sc->len && s[sc->i] != '\'')
					sc->i += s[sc->i] == '\\' ? 2 : 1;
				sc->i++;
			} else {
				skip_param(sc, depth);
			}
			break;
		case '`':
			flags &= (unsigned char)~W_LIT;
			sc->i++;
			scan_list(sc, '`', depth + 1);
			break;
		default:
			ew_policy_sb_putc(&c->text, ch);
			sc->i++;
		}
	}
	if (sc->i > sc->len)
		sc->i = sc->len;
	ew_policy_sb_putc(&c->text, '\0');
	if (c->text.err != 0) {
		sc->err = c->text.err;
		return;
	}
	/* 2>file: the digits belong to the redirection. */
	if (sc->i < sc->len && (s[sc->i] == '<' || s[sc->i] == '>') &&
	    start + 1 < c->text.len &&
	    strspn(c->text.s + start, "0123456789") == c->text.len - start - 1)
		keep = false;
	if (!keep) {
		c->text.len = start;
		return;
	}
	cur_add(sc, c, start, flags);
}

/* At `<` or `>`: the operator, then its target word (dropped). */
static void
scan_redirect(struct scan *sc, struct cur *c, int term, unsigned depth)
{
	const char *s = sc->s;
	size_t op = sc->i, n, start;
	bool heredoc;

	while (sc->i < sc->len && strchr("<>&|-", s[sc->i]) != NULL &&
	    sc->i - op < 3)
		sc->i++;
	n = sc->i - op;
	heredoc = (n == 2 && s[op] == '<' && s[op + 1] == '<') ||
	    (n == 3 && memcmp(s + op, "<<-", 3) == 0);
	while (sc->i < sc->len && (s[sc->i] == ' ' || s[sc->i] == '\t'))
		sc->i++;
	if (sc->i >= sc->len || strchr("\n;&|()<>", s[sc->i]) != NULL)
		return;
	start = c->text.len;
	scan_word(sc, c, term, depth, true);
	if (c->n == 0 || c->off[c->n - 1] != start)
		return;
	if (heredoc && sc->nhd < SCAN_HEREDOC_MAX && sc->err == 0) {
		sc->hd[sc->nhd].delim = strdup(c->text.s + start);
		sc->hd[sc->nhd].strip_tabs = n == 3;
		if (sc->hd[sc->nhd].delim == NULL)
			sc->err = -EW_E_NOMEM;
		else
			sc->nhd++;
	}
	c->n--;
	c->text.len = start;
}

/* After a newline: skip the bodies of pending here-documents. */
static void
skip_heredocs(struct scan *sc)
{
	const char *s = sc->s, *line;
	size_t k, end, n;

	for (k = 0; k < sc->nhd; k++) {
		while (sc->i < sc->len) {
			end = sc->i;
			while (end < sc->len && s[end] != '\n')
				end++;
			line = s + sc->i;
			n = end - sc->i;
			while (sc->hd[k].strip_tabs && n > 0 && *line == '\t') {
				line++;
				n--;
			}
			sc->i = end < sc->len ? end + 1 : end;
			if (n == strlen(sc->hd[k].delim) &&
			    memcmp(line, sc->hd[k].delim, n) == 0)
				break;
		}
		free(sc->hd[k].delim);
	}
	sc->nhd = 0;
}

static void
scan_list(struct scan *sc, int term, unsigned depth)
{
	struct cur c;
	char ch;

	memset(&c, 0, sizeof(c));
	ew_policy_sb_init(&c.text, EW_POLICY_SPLIT_SCRIPT_MAX);
	if (depth > SCAN_DEPTH_MAX) {
		sc->err = -EW_E_LIMIT;
		goto out;
	}
	while (sc->i < sc->len && sc->err == 0) {
		ch = sc->s[sc->i];
		if (ch == ' ' || ch == '\t' || ch == '\r') {
			sc->i++;
			continue;
		}
		if (term != 0 && ch == term) {
			sc->i++;
			break;
		}
		switch (ch) {
		case '\n':
			sc->i++;
			flush(sc, &c);
			skip_heredocs(sc);
			break;
		case ';':
		case '&':
		case '|':
		case ')':
			sc->i++;
			flush(sc, &c);
			break;
		case '(':
			sc->i++;
			flush(sc, &c);
			scan_list(sc, ')', depth + 1);
			break;
		case '#':
			while (sc->i < sc->len && sc->s[sc->i] != '\n')
				sc->i++;
			break;
		case '<':
		case '>':
			scan_redirect(sc, &c, term, depth);
			break;
		default:
			scan_word(sc, &c, term, depth, true);
		}
	}
	if (sc->err == 0)
		flush(sc, &c);
out:
	cur_fini(&c);
}

int
ew_policy_scan_script(
    const char *script, size_t len, struct ew_policy_split **out)
{
	struct scan sc;
	size_t k;
	int r;

	*out = NULL;
	if (len > EW_POLICY_SPLIT_SCRIPT_MAX)
		return -EW_E_LIMIT;
	if (memchr(script, '\0', len) != NULL)
		return -EW_E_INVALID;
	memset(&sc, 0, sizeof(sc));
	sc.s = script;
	sc.len = len;
	bld_init(&sc.b);
	scan_list(&sc, 0, 0);
	for (k = 0; k < sc.nhd; k++)
		free(sc.hd[k].delim);
	r = sc.err != 0 ? sc.err : bld_pack(&sc.b, out);
	bld_fini(&sc.b);
	return r;
}
