/* The rules-file lexer: tokens, positions, string decoding, errors. */
#include <criterion/criterion.h>
#include <string.h>

#include "ew_policy_int.h"

struct lexed {
	struct ew_policy_arena a;
	struct ew_policy_lexer lx;
};

static void
lex_start(struct lexed *l, const char *src)
{
	memset(l, 0, sizeof(*l));
	ew_policy_lex_init(&l->lx, src, strlen(src), &l->a);
}

static void
lex_end(struct lexed *l)
{
	ew_policy_lex_fini(&l->lx);
	ew_policy_arena_fini(&l->a);
}

/* The next token must be type at line:col. */
static struct ew_policy_tok
expect_tok(
    struct lexed *l, enum ew_policy_tok_type type, unsigned line, unsigned col)
{
	struct ew_policy_tok t;

	ew_policy_lex_next(&l->lx, &t);
	cr_assert_eq(t.type, type, "token %s at %u:%u, want %s at %u:%u",
	    ew_policy_tok_name(t.type), t.line, t.col, ew_policy_tok_name(type),
	    line, col);
	cr_expect_eq(t.line, line, "line %u, want %u", t.line, line);
	cr_expect_eq(t.col, col, "col %u, want %u", t.col, col);
	return t;
}

/* The single string token of src decodes to want (wlen bytes). */
static void
expect_string(const char *src, const char *want, size_t wlen)
{
	struct lexed l;
	struct ew_policy_tok t;

	lex_start(&l, src);
	ew_policy_lex_next(&l.lx, &t);
	cr_assert_eq(t.type, EW_PT_STRING, "%s: %s", src,
	    t.type == EW_PT_ERROR ? t.msg : ew_policy_tok_name(t.type));
	cr_expect_eq(t.slen, wlen, "%s: length %zu", src, t.slen);
	cr_expect(memcmp(t.str, want, wlen) == 0, "%s: got %s", src, t.str);
	cr_expect_eq(t.str[t.slen], '\0');
	lex_end(&l);
}

/* The first error token of src is at line:col with message msg. */
static void
expect_error(const char *src, unsigned line, unsigned col, const char *msg)
{
	struct lexed l;
	struct ew_policy_tok t;

	lex_start(&l, src);
	do
		ew_policy_lex_next(&l.lx, &t);
	while (t.type != EW_PT_ERROR && t.type != EW_PT_EOF);
	cr_assert_eq(t.type, EW_PT_ERROR, "%s: no error", src);
	cr_expect_str_eq(t.msg, msg, "%s", src);
	cr_expect_eq(t.line, line, "%s: line %u", src, t.line);
	cr_expect_eq(t.col, col, "%s: col %u", src, t.col);
	lex_end(&l);
}

Test(policy_lex, call)
{
	struct lexed l;
	struct ew_policy_tok t;

	lex_start(&l, "prefix_rule(pattern = [\"a\", 'b'],)  # c\n");
	t = expect_tok(&l, EW_PT_IDENT, 1, 1);
	cr_expect_eq(t.len, 11);
	expect_tok(&l, EW_PT_LPAREN, 1, 12);
	expect_tok(&l, EW_PT_IDENT, 1, 13);
	expect_tok(&l, EW_PT_ASSIGN, 1, 21);
	expect_tok(&l, EW_PT_LBRACK, 1, 23);
	t = expect_tok(&l, EW_PT_STRING, 1, 24);
	cr_expect_str_eq(t.str, "a");
	expect_tok(&l, EW_PT_COMMA, 1, 27);
	t = expect_tok(&l, EW_PT_STRING, 1, 29);
	cr_expect_str_eq(t.str, "b");
	expect_tok(&l, EW_PT_RBRACK, 1, 32);
	expect_tok(&l, EW_PT_COMMA, 1, 33);
	expect_tok(&l, EW_PT_RPAREN, 1, 34);
	expect_tok(&l, EW_PT_NEWLINE, 1, 40);
	expect_tok(&l, EW_PT_EOF, 2, 1);
	expect_tok(&l, EW_PT_EOF, 2, 1);
	lex_end(&l);
}

Test(policy_lex, newlines_inside_brackets_are_ignored)
{
	struct lexed l;

	lex_start(&l, "f(\n  [\n 'x',\n  ]\n)\n\n\ng()");
	expect_tok(&l, EW_PT_IDENT, 1, 1);
	expect_tok(&l, EW_PT_LPAREN, 1, 2);
	expect_tok(&l, EW_PT_LBRACK, 2, 3);
	expect_tok(&l, EW_PT_STRING, 3, 2);
	expect_tok(&l, EW_PT_COMMA, 3, 5);
	expect_tok(&l, EW_PT_RBRACK, 4, 3);
	expect_tok(&l, EW_PT_RPAREN, 5, 1);
	expect_tok(&l, EW_PT_NEWLINE, 5, 2);
	expect_tok(&l, EW_PT_IDENT, 8, 1);
	expect_tok(&l, EW_PT_LPAREN, 8, 2);
	expect_tok(&l, EW_PT_RPAREN, 8, 3);
	/* A NEWLINE ends the last statement even without a newline. */
	expect_tok(&l, EW_PT_NEWLINE, 8, 4);
	expect_tok(&l, EW_PT_EOF, 8, 4);
	lex_end(&l);
}

Test(policy_lex, backslash_joins_lines)
{
	struct lexed l;

	lex_start(&l, "f(a) \\\n  ;\n");
	expect_tok(&l, EW_PT_IDENT, 1, 1);
	expect_tok(&l, EW_PT_LPAREN, 1, 2);
	expect_tok(&l, EW_PT_IDENT, 1, 3);
	expect_tok(&l, EW_PT_RPAREN, 1, 4);
	expect_tok(&l, EW_PT_SEMI, 2, 3);
	expect_tok(&l, EW_PT_NEWLINE, 2, 4);
	lex_end(&l);
}

Test(policy_lex, columns_count_characters)
{
	struct lexed l;

	lex_start(&l, "f(\"\xc3\xa9t\xc3\xa9\", x)");
	expect_tok(&l, EW_PT_IDENT, 1, 1);
	expect_tok(&l, EW_PT_LPAREN, 1, 2);
	expect_tok(&l, EW_PT_STRING, 1, 3);
	expect_tok(&l, EW_PT_COMMA, 1, 8);
	expect_tok(&l, EW_PT_IDENT, 1, 10);
	lex_end(&l);
}

Test(policy_lex, numbers_and_operators)
{
	struct lexed l;
	struct ew_policy_tok t;

	lex_start(&l, "12 0x1f 1.5 3e+2 + == ** : {}");
	expect_tok(&l, EW_PT_INT, 1, 1);
	t = expect_tok(&l, EW_PT_INT, 1, 4);
	cr_expect_eq(t.len, 4);
	expect_tok(&l, EW_PT_FLOAT, 1, 9);
	t = expect_tok(&l, EW_PT_FLOAT, 1, 13);
	cr_expect_eq(t.len, 4);
	expect_tok(&l, EW_PT_OP, 1, 18);
	t = expect_tok(&l, EW_PT_OP, 1, 20);
	cr_expect_eq(t.len, 2);
	t = expect_tok(&l, EW_PT_OP, 1, 23);
	cr_expect_eq(t.len, 2);
	expect_tok(&l, EW_PT_COLON, 1, 26);
	expect_tok(&l, EW_PT_LBRACE, 1, 28);
	expect_tok(&l, EW_PT_RBRACE, 1, 29);
	lex_end(&l);
}

Test(policy_lex, string_escapes)
{
	expect_string("\"a\\tb\\nc\\\\d\\\"e\\'f\"", "a\tb\nc\\d\"e'f", 11);
	expect_string("'x\\a\\b\\f\\v\\r'", "x\a\b\f\v\r", 6);
	expect_string("\"\\x41\\101\\7\"", "AA\a", 3);
	expect_string("\"\\u00e9\\U0001F600\"", "\xc3\xa9\xf0\x9f\x98\x80", 6);
	expect_string("\"a\\\nb\"", "ab", 2);
	expect_string("\"it's\"", "it's", 4);
	expect_string("'say \"hi\"'", "say \"hi\"", 8);
	expect_string("\"\"", "", 0);
}

Test(policy_lex, raw_and_triple_strings)
{
	expect_string("r\"a\\nb\"", "a\\nb", 4);
	expect_string("R'\\d+'", "\\d+", 3);
	expect_string("r\"\\\"\"", "\\\"", 2);
	expect_string(
	    "\"\"\"one\ntwo \"quoted\" \"\"\"", "one\ntwo \"quoted\" ", 17);
	expect_string("'''a''b'''", "a''b", 4);
	expect_string("r'''\\\n'''", "\\\n", 2);
}

Test(policy_lex, string_errors)
{
	expect_error("\"abc", 1, 1, "unterminated string");
	expect_error("f('abc\n')", 1, 3, "unterminated string");
	expect_error("  'abc'", 1, 3, "unexpected indentation");
	expect_error("\"\"\"abc\n", 1, 1, "unterminated string");
	expect_error("\"a\\qb\"", 1, 3, "invalid escape sequence");
	expect_error("\"\\x4g\"", 1, 2,
	    "invalid \\x escape: expected 2 hex "
	    "digits");
	expect_error("\"\\x80\"", 1, 2,
	    "\\x escape above \\x7f (use \\u for non-ASCII)");
	expect_error("\"\\200\"", 1, 2,
	    "octal escape above \\177 (use \\u for non-ASCII)");
	expect_error("\"\\ud800\"", 1, 2, "invalid Unicode escape");
	expect_error("\"\\U00110000\"", 1, 2, "invalid Unicode escape");
	expect_error("\"\\u12\"", 1, 2, "invalid Unicode escape");
	expect_error("\"a\\0\"", 1, 3, "string contains a NUL character");
	expect_error("\"\\x00\"", 1, 2, "string contains a NUL character");
	expect_error("f\"x\"", 1, 1, "f-strings are not supported");
	expect_error("B'x'", 1, 1, "bytes literals are not supported");
	expect_error("bR'x'", 1, 1, "bytes literals are not supported");
	expect_error("rf'x'", 1, 1, "f-strings are not supported");
}

Test(policy_lex, nul_byte_in_string)
{
	static const char src[] = "\"a\0b\"";
	struct lexed l;
	struct ew_policy_tok t;

	memset(&l, 0, sizeof(l));
	ew_policy_lex_init(&l.lx, src, sizeof(src) - 1, &l.a);
	ew_policy_lex_next(&l.lx, &t);
	cr_assert_eq(t.type, EW_PT_ERROR);
	cr_expect_str_eq(t.msg, "string contains a NUL character");
	cr_expect_eq(t.col, 3);
	lex_end(&l);
}

Test(policy_lex, string_too_long)
{
	size_t n = EW_POLICY_STRING_MAX;
	char *src = malloc(n + 4);
	struct lexed l;
	struct ew_policy_tok t;

	/* Exactly the cap: fine. */
	src[0] = '"';
	memset(src + 1, 'a', n);
	src[n + 1] = '"';
	src[n + 2] = '\0';
	lex_start(&l, src);
	ew_policy_lex_next(&l.lx, &t);
	cr_expect_eq(t.type, EW_PT_STRING);
	cr_expect_eq(t.slen, n);
	lex_end(&l);
	/* One more byte: an error, and the lexer resyncs after the string. */
	src = realloc(src, n + 8);
	src[0] = '"';
	memset(src + 1, 'a', n + 1);
	memcpy(src + n + 2, "\" x", 4);
	lex_start(&l, src);
	ew_policy_lex_next(&l.lx, &t);
	cr_expect_eq(t.type, EW_PT_ERROR);
	cr_expect_str_eq(t.msg, "string longer than 65536 bytes");
	expect_tok(&l, EW_PT_IDENT, 1, (unsigned)n + 5);
	lex_end(&l);
	free(src);
}

Test(policy_lex, unexpected_characters)
{
	expect_error("$x", 1, 1, "unexpected character `$`");
	expect_error("\x01", 1, 1, "unexpected control character 0x01");
	expect_error("\xe2\x86\x92", 1, 1, "unexpected character U+2192");
	expect_error("\xff", 1, 1, "unexpected byte 0xff");
	expect_error("\xe2\x86", 1, 1, "unexpected byte 0xe2");
	expect_error("x\n  y", 2, 3, "unexpected indentation");
}

Test(policy_lex, indentation_inside_brackets_is_fine)
{
	struct lexed l;

	lex_start(&l, "f(\n    x)\n\n   # comment\n\t\ng()");
	expect_tok(&l, EW_PT_IDENT, 1, 1);
	expect_tok(&l, EW_PT_LPAREN, 1, 2);
	expect_tok(&l, EW_PT_IDENT, 2, 5);
	expect_tok(&l, EW_PT_RPAREN, 2, 6);
	expect_tok(&l, EW_PT_NEWLINE, 2, 7);
	expect_tok(&l, EW_PT_IDENT, 6, 1);
	lex_end(&l);
}
