/*
 * Text for people: one escaper for the words of a command (the prompt,
 * the MCP form, `audit tail`) and for what must not reach a terminal.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ew_text.h"

/* Characters a shell word may hold unquoted. */
#define SAFE_ALNUM                                             \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"0123456789"
#define SAFE_SHELL SAFE_ALNUM "-_./=:,+@%^"
/* Python's shlex (re.ASCII [\w@%+=:,./-]). */
#define SAFE_SHLEX SAFE_ALNUM "@%+=:,./-_"

/*
 * Length of a character at s that must not reach a terminal as it is
 * (a C0 or C1 control, DEL, a bidirectional override), or 0.
 */
static size_t
unsafe_char(const unsigned char *s, size_t n, unsigned *cp)
{
	if (s[0] < 0x20 || s[0] == 0x7f) {
		*cp = s[0];
		return 1;
	}
	if (n >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
		*cp = s[1];
		return 2;
	}
	/* U+202A..U+202E, U+2066..U+2069: text direction overrides. */
	if (n >= 3 && s[0] == 0xe2 &&
	    ((s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae) ||
		(s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9))) {
		*cp = 0x2000u + ((s[1] & 0x3fu) << 6) + (s[2] & 0x3fu);
		return 3;
	}
	return 0;
}

void
ew_text_put_clean(struct ew_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[12];
	size_t i = 0, k, run;
	unsigned cp;

	while (i < n) {
		for (run = i;
		     run < n && unsafe_char(p + run, n - run, &cp) == 0; run++)
			;
		(void)ew_buf_put(b, s + i, run - i);
		if ((i = run) >= n)
			break;
		k = unsafe_char(p + i, n - i, &cp);
		if (cp == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (cp == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (cp == '\r')
			snprintf(esc, sizeof(esc), "\\r");
		else if (cp == 0x1b)
			snprintf(esc, sizeof(esc), "\\e");
		else if (cp < 0x100)
			snprintf(esc, sizeof(esc), "\\x%02x", cp);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
		(void)ew_buf_put(b, esc, strlen(esc));
		i += k;
	}
}

static bool
has_unsafe(const char *s)
{
	size_t n = strlen(s), i;
	unsigned cp;

	for (i = 0; i < n; i++)
		if (unsafe_char((const unsigned char *)s + i, n - i, &cp) != 0)
			return true;
	return false;
}

/* w as $'...': controls escaped, quotes and backslashes backslashed. */
static void
put_ansi_c(struct ew_buf *b, const char *w)
{
	const unsigned char *u = (const unsigned char *)w;
	size_t n = strlen(w), i, k;
	unsigned cp;

	(void)ew_buf_put(b, "$'", 2);
	for (i = 0; i < n; i += k) {
		if ((k = unsafe_char(u + i, n - i, &cp)) != 0) {
			ew_text_put_clean(b, w + i, k);
			continue;
		}
		k = 1;
		if (w[i] == '\'' || w[i] == '\\')
			(void)ew_buf_put(b, "\\", 1);
		(void)ew_buf_put(b, w + i, 1);
	}
	(void)ew_buf_put(b, "'", 1);
}

void
ew_text_put_word(struct ew_buf *b, const char *w, unsigned flags)
{
	const char *safe = flags & EW_TEXT_SHLEX ? SAFE_SHLEX : SAFE_SHELL;
	const char *quote = flags & EW_TEXT_SHLEX ? "'\"'\"'" : "'\\''";
	const char *p;

	if (*w != '\0' && strspn(w, safe) == strlen(w)) {
		(void)ew_buf_put(b, w, strlen(w));
		return;
	}
	if ((flags & EW_TEXT_ESCAPE) && has_unsafe(w)) {
		put_ansi_c(b, w);
		return;
	}
	(void)ew_buf_put(b, "'", 1);
	for (p = w; *p != '\0'; p++) {
		if (*p == '\'')
			(void)ew_buf_put(b, quote, strlen(quote));
		else if ((unsigned char)*p < 0x20 &&
		    !(flags & (EW_TEXT_SHLEX | EW_TEXT_ESCAPE)))
			(void)ew_buf_put(b, "?", 1); /* keep it on one line */
		else
			(void)ew_buf_put(b, p, 1);
	}
	(void)ew_buf_put(b, "'", 1);
}
