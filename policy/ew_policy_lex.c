/*
 * Lexer for the Starlark subset of rules files: identifiers, strings (both
 * quote styles, triple quotes, r"" raw strings, escapes), numbers,
 * brackets and a few operators; comments, line joining inside brackets and
 * after a backslash. Problems come back as EW_PT_ERROR tokens so the
 * parser can report them with their position and go on.
 */
#include <stdio.h>
#include <string.h>

#include "ew_policy_int.h"

void
ew_policy_lex_init(struct ew_policy_lexer *lx, const char *src, size_t len,
    struct ew_policy_arena *strings)
{
	memset(lx, 0, sizeof(*lx));
	lx->src = src;
	lx->len = len;
	lx->line = 1;
	lx->col = 1;
	lx->line_start = true;
	lx->strings = strings;
	ew_policy_sb_init(&lx->buf, EW_POLICY_STRING_MAX);
}

void
ew_policy_lex_fini(struct ew_policy_lexer *lx)
{
	ew_policy_sb_fini(&lx->buf);
}

static int
peek(const struct ew_policy_lexer *lx, size_t k)
{
	if (k >= lx->len - lx->pos)
		return -1;
	return (unsigned char)lx->src[lx->pos + k];
}

static void
advance(struct ew_policy_lexer *lx)
{
	unsigned char c;

	if (lx->pos >= lx->len)
		return;
	c = (unsigned char)lx->src[lx->pos++];
	if (c == '\n') {
		lx->line++;
		lx->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		lx->col++;
	}
}

/* An error token at line:col with a formatted message. */
static void
error_at(struct ew_policy_lexer *lx, struct ew_policy_tok *t, unsigned line,
    unsigned col, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
error_at(struct ew_policy_lexer *lx, struct ew_policy_tok *t, unsigned line,
    unsigned col, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	vsnprintf(lx->msgbuf, sizeof(lx->msgbuf), fmt, ap);
	va_end(ap);
	m = ew_policy_arena_strndup(
	    lx->strings, lx->msgbuf, strlen(lx->msgbuf));
	t->type = EW_PT_ERROR;
	t->line = line;
	t->col = col;
	t->msg = m != NULL ? m : "out of memory";
}

static bool
is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_ident(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
put_utf8(struct ew_policy_sb *b, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		ew_policy_sb_putn(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		ew_policy_sb_putn(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		ew_policy_sb_putn(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		ew_policy_sb_putn(b, u, 4);
	}
}

/*
 * One escape sequence after the backslash (already consumed). Returns NULL,
 * or a message for a bad escape (the bad characters are consumed).
 */
static const char *
lex_escape(struct ew_policy_lexer *lx)
{
	struct ew_policy_sb *b = &lx->buf;
	int e = peek(lx, 0), d, i, ndig;
	uint32_t v = 0;

	switch (e) {
	case '\n':
		advance(lx);
		return NULL;
	case '\\':
	case '\'':
	case '"':
		ew_policy_sb_putc(b, (char)e);
		advance(lx);
		return NULL;
	case 'a':
		v = 7;
		break;
	case 'b':
		v = 8;
		break;
	case 'f':
		v = 12;
		break;
	case 'n':
		v = 10;
		break;
	case 'r':
		v = 13;
		break;
	case 't':
		v = 9;
		break;
	case 'v':
		v = 11;
		break;
	case 'x':
	case 'u':
	case 'U':
		advance(lx);
		ndig = e == 'x' ? 2 : e == 'u' ? 4 : 8;
		for (i = 0; i < ndig; i++) {
			if ((d = hexval(peek(lx, 0))) < 0)
				return e == 'x' ? "invalid \\x escape: "
						  "expected 2 hex digits"
						: "invalid Unicode escape";
			v = v * 16 + (uint32_t)d;
			advance(lx);
		}
		if (v == 0)
			return "string contains a NUL character";
		if (e == 'x' && v > 0x7f)
			return "\\x escape above \\x7f (use \\u for non-ASCII)";
		if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return "invalid Unicode escape";
		put_utf8(b, v);
		return NULL;
	default:
		if (e >= '0' && e <= '7') {
			for (i = 0;
			     i < 3 && peek(lx, 0) >= '0' && peek(lx, 0) <= '7';
			     i++) {
				v = v * 8 + (uint32_t)(peek(lx, 0) - '0');
				advance(lx);
			}
			if (v == 0)
				return "string contains a NUL character";
			if (v > 0x7f)
				return "octal escape above \\177 (use \\u for "
				       "non-ASCII)";
			ew_policy_sb_putc(b, (char)v);
			return NULL;
		}
		if (e == -1)
			return NULL; /* the caller reports the open string */
		advance(lx);
		return "invalid escape sequence";
	}
	ew_policy_sb_putc(b, (char)v);
	advance(lx);
	return NULL;
}

static void
lex_string(struct ew_policy_lexer *lx, struct ew_policy_tok *t, bool raw,
    const char *prefix_err)
{
	unsigned sline = t->line, scol = t->col, eline = 0, ecol = 0;
	const char *err = prefix_err;
	int q = peek(lx, 0), c;
	bool triple = peek(lx, 1) == q && peek(lx, 2) == q;

	if (err != NULL) {
		eline = sline;
		ecol = scol;
	}
	advance(lx);
	if (triple) {
		advance(lx);
		advance(lx);
	}
	lx->buf.len = 0;
	lx->buf.err = 0;
	ew_policy_sb_putn(&lx->buf, "", 0);
	for (;;) {
		c = peek(lx, 0);
		if (c == -1 || (c == '\n' && !triple)) {
			error_at(lx, t, sline, scol, "unterminated string");
			return;
		}
		if (c == q) {
			if (!triple) {
				advance(lx);
				break;
			}
			if (peek(lx, 1) == q && peek(lx, 2) == q) {
				advance(lx);
				advance(lx);
				advance(lx);
				break;
			}
		}
		if (c == '\0' && err == NULL) {
			err = "string contains a NUL character";
			eline = lx->line;
			ecol = lx->col;
		}
		if (c == '\\') {
			unsigned bl = lx->line, bc = lx->col;
			const char *m;

			advance(lx);
			if (raw) {
				ew_policy_sb_putc(&lx->buf, '\\');
				if (peek(lx, 0) == -1)
					continue;
				ew_policy_sb_putc(&lx->buf, lx->src[lx->pos]);
				advance(lx);
				continue;
			}
			if ((m = lex_escape(lx)) != NULL && err == NULL) {
				err = m;
				eline = bl;
				ecol = bc;
			}
			continue;
		}
		ew_policy_sb_putc(&lx->buf, (char)c);
		advance(lx);
	}
	if (err == NULL && lx->buf.err != 0) {
		error_at(lx, t, sline, scol, "string longer than %u bytes",
		    EW_POLICY_STRING_MAX);
		return;
	}
	if (err != NULL) {
		error_at(lx, t, eline, ecol, "%s", err);
		return;
	}
	t->type = EW_PT_STRING;
	t->slen = lx->buf.len;
	t->str = ew_policy_arena_strndup(lx->strings, lx->buf.s, lx->buf.len);
	if (t->str == NULL)
		error_at(lx, t, sline, scol, "out of memory");
}

static const char prefix_raw[] = "raw";
static const char prefix_ident[] = "ident";

/*
 * What a name of n <= 2 characters right before a quote means: prefix_raw
 * (r""), prefix_ident (a name, then a string), or an error message.
 */
static const char *
string_prefix(const char *s, size_t n)
{
	bool r = false, b = false, f = false;
	size_t i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case 'r':
		case 'R':
			if (r)
				return prefix_ident;
			r = true;
			break;
		case 'b':
		case 'B':
			if (b)
				return prefix_ident;
			b = true;
			break;
		case 'f':
		case 'F':
			if (f)
				return prefix_ident;
			f = true;
			break;
		default:
			return prefix_ident;
		}
	}
	if (b && f)
		return prefix_ident;
	if (b)
		return "bytes literals are not supported";
	if (f)
		return "f-strings are not supported";
	return prefix_raw;
}

void
ew_policy_lex_next(struct ew_policy_lexer *lx, struct ew_policy_tok *t)
{
	size_t start, n;
	int c;

	memset(t, 0, sizeof(*t));
	for (;;) {
		c = peek(lx, 0);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
			advance(lx);
		} else if (c == '#') {
			while (peek(lx, 0) != -1 && peek(lx, 0) != '\n')
				advance(lx);
		} else if (c == '\\' && peek(lx, 1) == '\n') {
			advance(lx);
			advance(lx);
		} else if (c == '\\' && peek(lx, 1) == '\r' &&
		    peek(lx, 2) == '\n') {
			advance(lx);
			advance(lx);
			advance(lx);
		} else if (c == '\n') {
			t->line = lx->line;
			t->col = lx->col;
			t->text = lx->src + lx->pos;
			advance(lx);
			lx->line_start = true;
			if (lx->depth > 0 || !lx->need_newline)
				continue;
			lx->need_newline = false;
			t->type = EW_PT_NEWLINE;
			t->len = 1;
			return;
		} else {
			break;
		}
	}
	t->line = lx->line;
	t->col = lx->col;
	t->text = lx->src + lx->pos;
	start = lx->pos;
	if (c == -1) {
		if (lx->need_newline) {
			lx->need_newline = false;
			t->type = EW_PT_NEWLINE;
		} else {
			t->type = EW_PT_EOF;
		}
		return;
	}
	lx->need_newline = true;
	if (lx->line_start && lx->depth == 0 && lx->col > 1) {
		lx->line_start = false;
		error_at(lx, t, t->line, t->col, "unexpected indentation");
		return;
	}
	lx->line_start = false;

	if (is_ident_start(c)) {
		while (is_ident(peek(lx, 0)))
			advance(lx);
		n = lx->pos - start;
		c = peek(lx, 0);
		if ((c == '"' || c == '\'') && n <= 2) {
			const char *m = string_prefix(t->text, n);

			if (m != prefix_ident) {
				lex_string(lx, t, m == prefix_raw,
				    m == prefix_raw ? NULL : m);
				t->len = lx->pos - start;
				return;
			}
		}
		t->type = EW_PT_IDENT;
		t->len = n;
		return;
	}
	if (c >= '0' && c <= '9') {
		bool flt = false,
		     hex =
			 c == '0' && (peek(lx, 1) == 'x' || peek(lx, 1) == 'X');

		while ((c = peek(lx, 0)) != -1 &&
		    (is_ident(c) || c == '.' ||
			((c == '+' || c == '-') && !hex &&
			    (lx->src[lx->pos - 1] == 'e' ||
				lx->src[lx->pos - 1] == 'E')))) {
			if (c == '.' || ((c == 'e' || c == 'E') && !hex))
				flt = true;
			advance(lx);
		}
		t->type = flt ? EW_PT_FLOAT : EW_PT_INT;
		t->len = lx->pos - start;
		return;
	}
	if (c == '"' || c == '\'') {
		lex_string(lx, t, false, NULL);
		t->len = lx->pos - start;
		return;
	}
	advance(lx);
	t->len = 1;
	switch (c) {
	case '(':
		lx->depth++;
		t->type = EW_PT_LPAREN;
		return;
	case '[':
		lx->depth++;
		t->type = EW_PT_LBRACK;
		return;
	case '{':
		lx->depth++;
		t->type = EW_PT_LBRACE;
		return;
	case ')':
	case ']':
	case '}':
		if (lx->depth > 0)
			lx->depth--;
		t->type = c == ')' ? EW_PT_RPAREN
		    : c == ']'     ? EW_PT_RBRACK
				   : EW_PT_RBRACE;
		return;
	case ',':
		t->type = EW_PT_COMMA;
		return;
	case ';':
		t->type = EW_PT_SEMI;
		return;
	case ':':
		t->type = EW_PT_COLON;
		return;
	case '=':
		if (peek(lx, 0) == '=') {
			advance(lx);
			t->len = 2;
			t->type = EW_PT_OP;
			return;
		}
		t->type = EW_PT_ASSIGN;
		return;
	default:
		break;
	}
	if (c < 0x80 && strchr("+-*/%<>!&|^~@.", c) != NULL) {
		if (peek(lx, 0) == '=' ||
		    (peek(lx, 0) == c && strchr("*/<>", c) != NULL)) {
			advance(lx);
			t->len = 2;
		}
		t->type = EW_PT_OP;
		return;
	}
	if (c >= 0x80) {
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2, k;
		uint32_t cp;

		/* The whole UTF-8 sequence, named by its code point. */
		if (need > lx->len - start ||
		    ew_policy_utf8_valid(t->text, need) != need) {
			error_at(lx, t, t->line, t->col,
			    "unexpected byte 0x%02x", c);
			return;
		}
		cp = (uint32_t)c & (need == 2 ? 0x1f : need == 3 ? 0x0f : 0x07);
		for (k = 1; k < need; k++) {
			cp = (cp << 6) | ((uint32_t)peek(lx, 0) & 0x3f);
			advance(lx);
		}
		error_at(lx, t, t->line, t->col, "unexpected character U+%04X",
		    (unsigned)cp);
		return;
	}
	if (c < 0x20 || c == 0x7f)
		error_at(lx, t, t->line, t->col,
		    "unexpected control character 0x%02x", c);
	else
		error_at(
		    lx, t, t->line, t->col, "unexpected character `%c`", c);
}

const char *
ew_policy_tok_name(enum ew_policy_tok_type t)
{
	switch (t) {
	case EW_PT_EOF:
		return "end of file";
	case EW_PT_NEWLINE:
		return "end of line";
	case EW_PT_IDENT:
		return "name";
	case EW_PT_STRING:
		return "string";
	case EW_PT_INT:
	case EW_PT_FLOAT:
		return "number";
	case EW_PT_LPAREN:
		return "`(`";
	case EW_PT_RPAREN:
		return "`)`";
	case EW_PT_LBRACK:
		return "`[`";
	case EW_PT_RBRACK:
		return "`]`";
	case EW_PT_LBRACE:
		return "`{`";
	case EW_PT_RBRACE:
		return "`}`";
	case EW_PT_COMMA:
		return "`,`";
	case EW_PT_ASSIGN:
		return "`=`";
	case EW_PT_SEMI:
		return "`;`";
	case EW_PT_COLON:
		return "`:`";
	case EW_PT_OP:
		return "operator";
	case EW_PT_ERROR:
		return "error";
	}
	return "token";
}
