/*
 * shlex-compatible word splitting and quoting, as the Rust shlex crate that
 * Codex uses does it: string examples in rules files are split this way,
 * and examples in messages are quoted this way.
 */
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

/* Append one word to a growing array in the arena. */
static int
push_word(struct ew_policy_arena *a, char ***words, size_t *n, size_t *cap,
    const char *s, size_t len)
{
	char **nw;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap != 0 ? *cap * 2 : 8;
		if ((nw = ew_policy_arena_alloc(a, (ncap + 1) * sizeof(*nw))) ==
		    NULL)
			return -EW_E_NOMEM;
		if (*n != 0)
			memcpy(nw, *words, *n * sizeof(*nw));
		*words = nw;
		*cap = ncap;
	}
	if (((*words)[*n] = ew_policy_arena_strndup(a, s, len)) == NULL)
		return -EW_E_NOMEM;
	(*n)++;
	(*words)[*n] = NULL;
	return 0;
}

int
ew_policy_shlex_split(
    const char *s, struct ew_policy_arena *a, char ***wordsp, size_t *np)
{
	struct ew_policy_sb w;
	char **words = NULL;
	size_t n = 0, cap = 0, i = 0, len = strlen(s);
	int r = 0;
	char c, d;

	*wordsp = NULL;
	*np = 0;
	ew_policy_sb_init(&w, EW_POLICY_STRING_MAX);
	while (i < len) {
		c = s[i++];
		if (c == ' ' || c == '\t' || c == '\n')
			continue;
		if (c == '#') {
			while (i < len && s[i++] != '\n')
				;
			continue;
		}
		w.len = 0;
		ew_policy_sb_putn(&w, "", 0);
		for (;;) {
			if (c == '"') {
				for (;;) {
					if (i >= len) {
						r = -EW_E_INVALID;
						goto out;
					}
					d = s[i++];
					if (d == '"')
						break;
					if (d != '\\') {
						ew_policy_sb_putc(&w, d);
						continue;
					}
					if (i >= len) {
						r = -EW_E_INVALID;
						goto out;
					}
					d = s[i++];
					if (d == '$' || d == '`' || d == '"' ||
					    d == '\\') {
						ew_policy_sb_putc(&w, d);
					} else if (d != '\n') {
						ew_policy_sb_putc(&w, '\\');
						ew_policy_sb_putc(&w, d);
					}
				}
			} else if (c == '\'') {
				for (;;) {
					if (i >= len) {
						r = -EW_E_INVALID;
						goto out;
					}
					d = s[i++];
					if (d == '\'')
						break;
					ew_policy_sb_putc(&w, d);
				}
			} else if (c == '\\') {
				if (i >= len) {
					r = -EW_E_INVALID;
					goto out;
				}
				d = s[i++];
				if (d != '\n')
					ew_policy_sb_putc(&w, d);
			} else if (c == ' ' || c == '\t' || c == '\n') {
				break;
			} else {
				ew_policy_sb_putc(&w, c);
			}
			if (i >= len)
				break;
			c = s[i++];
		}
		if (w.err != 0) {
			r = w.err;
			goto out;
		}
		if ((r = push_word(a, &words, &n, &cap, w.s, w.len)) != 0)
			goto out;
	}
	if (n == 0) {
		/* An empty list still gets its NULL terminator. */
		if ((words = ew_policy_arena_alloc(a, sizeof(*words))) ==
		    NULL) {
			r = -EW_E_NOMEM;
			goto out;
		}
		words[0] = NULL;
	}
	*wordsp = words;
	*np = n;
out:
	ew_policy_sb_fini(&w);
	return r;
}

enum { Q_UNQUOTED = 1, Q_SINGLE = 2, Q_DOUBLE = 4 };

static bool
unquoted_ok(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || strchr("+-./:@]_", c) != NULL;
}

static void
quote_word(struct ew_policy_sb *b, const char *word)
{
	const unsigned char *s = (const unsigned char *)word;
	size_t n = strlen(word), i, k, start = 0;
	unsigned ok, cur;

	if (n == 0) {
		ew_policy_sb_puts(b, "''");
		return;
	}
	while (start < n) {
		/* The longest chunk one strategy covers (shlex's rules). */
		ok = Q_UNQUOTED | Q_SINGLE | Q_DOUBLE;
		i = start;
		if (s[i] == '^') {
			ok = Q_SINGLE;
			i++;
		}
		for (; i < n; i++) {
			cur = ok;
			if (s[i] >= 0x80) {
				cur &= ~(unsigned)Q_UNQUOTED;
			} else {
				if (s[i] == '\0' || !unquoted_ok(s[i]))
					cur &= ~(unsigned)Q_UNQUOTED;
				if (s[i] == '\'' || s[i] == '^' || s[i] == '\\')
					cur &= ~(unsigned)Q_SINGLE;
				if (s[i] == '`' || s[i] == '$' || s[i] == '!' ||
				    s[i] == '^')
					cur &= ~(unsigned)Q_DOUBLE;
			}
			if (cur == 0)
				break;
			ok = cur;
		}
		if (ok & Q_UNQUOTED) {
			ew_policy_sb_putn(b, word + start, i - start);
		} else if (ok & Q_SINGLE) {
			ew_policy_sb_putc(b, '\'');
			ew_policy_sb_putn(b, word + start, i - start);
			ew_policy_sb_putc(b, '\'');
		} else {
			ew_policy_sb_putc(b, '"');
			for (k = start; k < i; k++) {
				if (s[k] == '$' || s[k] == '`' || s[k] == '"' ||
				    s[k] == '\\')
					ew_policy_sb_putc(b, '\\');
				ew_policy_sb_putc(b, (char)s[k]);
			}
			ew_policy_sb_putc(b, '"');
		}
		start = i;
	}
}

void
ew_policy_shlex_join(struct ew_policy_sb *b, char *const *words, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i != 0)
			ew_policy_sb_putc(b, ' ');
		quote_word(b, words[i]);
	}
}
