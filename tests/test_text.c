/* broker/util/ew_text.c: command words for people, terminal-safe text. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ew_buf.h"
#include "ew_text.h"

static const char *
word(const char *w, unsigned flags)
{
	static char out[256];
	struct ew_buf *b = ew_buf_new(1024);

	cr_assert_not_null(b);
	ew_text_put_word(b, w, flags);
	snprintf(out, sizeof(out), "%.*s", (int)ew_buf_len(b),
	    (const char *)ew_buf_ptr(b));
	ew_buf_free(b);
	return out;
}

Test(text, words_quoted_as_a_shell_reads_them)
{
	cr_expect_str_eq(word("a-b_c./=:,+@%^", 0), "a-b_c./=:,+@%^");
	cr_expect_str_eq(word("", 0), "''");
	cr_expect_str_eq(word("it's", 0), "'it'\\''s'");
	cr_expect_str_eq(word("a\nb", 0), "'a?b'");
	/* Python's shlex.quote, as Codex's prompts quote. */
	cr_expect_str_eq(word("it's", EW_TEXT_SHLEX), "'it'\"'\"'s'");
	cr_expect_str_eq(word("a^b", EW_TEXT_SHLEX), "'a^b'");
	cr_expect_str_eq(word("a\nb", EW_TEXT_SHLEX), "'a\nb'");
	/* For a terminal: controls and overrides escaped, $'...'. */
	cr_expect_str_eq(
	    word("a\x1b[2J'\\", EW_TEXT_ESCAPE), "$'a\\e[2J\\'\\\\'");
	cr_expect_str_eq(word("\xe2\x80\xae"
			      "evil",
			     EW_TEXT_ESCAPE),
	    "$'\\u202eevil'");
	cr_expect_str_eq(word("a b", EW_TEXT_ESCAPE), "'a b'");
}

Test(text, clean_escapes_what_a_terminal_would_act_on)
{
	struct ew_buf *b = ew_buf_new(1024);
	const char in[] = "ok\t\r\n\x7f\xc2\x9b\xe2\x81\xa6é";

	cr_assert_not_null(b);
	ew_text_put_clean(b, in, sizeof(in) - 1);
	cr_expect_eq(ew_buf_len(b), strlen("ok\\t\\r\\n\\x7f\\x9b\\u2066é"));
	cr_expect(memcmp(ew_buf_ptr(b), "ok\\t\\r\\n\\x7f\\x9b\\u2066é",
		      ew_buf_len(b)) == 0);
	ew_buf_free(b);
}
