/* Tests for broker/util/ew_json.c: the JSON writer and its UTF-8 sanitising. */
#include <criterion/criterion.h>
#include <string.h>

#include "ew_buf.h"
#include "ew_err.h"
#include "ew_json.h"

static struct ew_buf *b;

static void
setup(void)
{
	b = ew_buf_new(1 << 20);
	cr_assert_not_null(b);
}

static void
teardown(void)
{
	ew_buf_free(b);
}

static void
expect(const char *want)
{
	size_t n = ew_buf_len(b);

	cr_assert_eq(n, strlen(want), "got %.*s, want %s", (int)n,
	    (const char *)ew_buf_ptr(b), want);
	cr_assert(memcmp(ew_buf_ptr(b), want, n) == 0, "got %.*s, want %s",
	    (int)n, (const char *)ew_buf_ptr(b), want);
}

TestSuite(json, .init = setup, .fini = teardown);

Test(json, nested_values_get_commas)
{
	struct ew_json j;

	ew_json_init(&j, b);
	ew_json_obj_begin(&j);
	ew_json_key(&j, "a");
	ew_json_int(&j, -3);
	ew_json_key(&j, "b");
	ew_json_arr_begin(&j);
	ew_json_str(&j, "x");
	ew_json_uint(&j, 18446744073709551615u);
	ew_json_bool(&j, true);
	ew_json_null(&j);
	ew_json_obj_begin(&j);
	ew_json_obj_end(&j);
	ew_json_arr_end(&j);
	ew_json_key(&j, "c");
	ew_json_raw(&j, "[1]", 3);
	ew_json_obj_end(&j);
	cr_assert_eq(ew_json_error(&j), 0);
	expect("{\"a\":-3,\"b\":[\"x\",18446744073709551615,true,null,{}],"
	       "\"c\":[1]}");
}

/* A member at once: null for a NULL string, or (kv_opt) left out. */
Test(json, members_at_once)
{
	char *argv[] = { (char *)"git", (char *)"status" };
	struct ew_json j;

	ew_json_init(&j, b);
	ew_json_obj_begin(&j);
	ew_json_kv_str(&j, "s", "x");
	ew_json_kv_str(&j, "n", NULL);
	ew_json_kv_opt(&j, "gone", NULL);
	ew_json_kv_opt(&j, "o", "y");
	ew_json_kv_int(&j, "i", -3);
	ew_json_kv_uint(&j, "u", 7);
	ew_json_kv_bool(&j, "b", false);
	ew_json_key(&j, "a");
	ew_json_str_array(&j, argv, 2);
	ew_json_key(&j, "e");
	ew_json_str_array(&j, argv, 0);
	ew_json_obj_end(&j);
	cr_assert_eq(ew_json_error(&j), 0);
	expect("{\"s\":\"x\",\"n\":null,\"o\":\"y\",\"i\":-3,\"u\":7,"
	       "\"b\":false,\"a\":[\"git\",\"status\"],\"e\":[]}");
}

Test(json, escapes_controls_and_quotes)
{
	struct ew_json j;

	ew_json_init(&j, b);
	ew_json_str(&j, "q\"b\\n\nt\tr\r\x01\x1f\x7f");
	expect("\"q\\\"b\\\\n\\nt\\tr\\r\\u0001\\u001f\x7f\"");
}

Test(json, keeps_valid_utf8)
{
	struct ew_json j;

	ew_json_init(&j, b);
	ew_json_str(&j, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	expect("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

Test(json, replaces_invalid_utf8)
{
	struct ew_json j;

	ew_json_init(&j, b);
	/* A lone continuation byte, an overlong '/', a surrogate, a cut
	 * sequence at the end. */
	ew_json_strn(&j,
	    "a\x80"
	    "b\xc0\xaf"
	    "c\xed\xa0\x80"
	    "d\xe2\x82",
	    12);
	expect("\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd"
	       "\"");
}

Test(json, embedded_nul_is_escaped)
{
	struct ew_json j;

	ew_json_init(&j, b);
	ew_json_strn(&j, "a\0b", 3);
	expect("\"a\\u0000b\"");
}

Test(json, errors_are_sticky_at_the_cap)
{
	struct ew_buf *small = ew_buf_new(8);
	struct ew_json j;

	ew_json_init(&j, small);
	ew_json_str(&j, "0123456789");
	cr_assert_eq(ew_json_error(&j), -EW_E_LIMIT);
	ew_json_int(&j, 1);
	cr_assert_eq(ew_json_error(&j), -EW_E_LIMIT);
	ew_buf_free(small);
}

Test(json, nesting_is_bounded)
{
	struct ew_json j;
	int i;

	ew_json_init(&j, b);
	for (i = 0; i < EW_JSON_DEPTH_MAX + 5; i++)
		ew_json_arr_begin(&j);
	cr_assert_eq(ew_json_error(&j), -EW_E_LIMIT);
}

Test(json, utf8_prefix_does_not_split_a_character)
{
	cr_assert_eq(ew_json_utf8_prefix("abc", 3), 3);
	cr_assert_eq(ew_json_utf8_prefix("ab\xe2\x82", 4), 2);
	cr_assert_eq(ew_json_utf8_prefix("ab\xe2\x82\xac", 5), 5);
	cr_assert_eq(ew_json_utf8_prefix("ab\xf0\x9f\x98", 5), 2);
	/* Invalid bytes in the middle are not a cut point. */
	cr_assert_eq(ew_json_utf8_prefix("a\xff"
					 "b",
			 3),
	    3);
}

/* yajl_gen_beautify's layout, which `execward policy check --pretty` keeps. */
Test(json, pretty_layout)
{
	struct ew_json j;

	ew_json_init_pretty(&j, b, "  ");
	ew_json_obj_begin(&j);
	ew_json_key(&j, "a");
	ew_json_arr_begin(&j);
	ew_json_str(&j, "x");
	ew_json_obj_begin(&j);
	ew_json_key(&j, "k");
	ew_json_int(&j, 1);
	ew_json_obj_end(&j);
	ew_json_arr_end(&j);
	ew_json_key(&j, "e");
	ew_json_arr_begin(&j);
	ew_json_arr_end(&j);
	ew_json_obj_end(&j);
	cr_assert_eq(ew_json_error(&j), 0);
	expect("{\n"
	       "  \"a\": [\n"
	       "    \"x\",\n"
	       "    {\n"
	       "      \"k\": 1\n"
	       "    }\n"
	       "  ],\n"
	       "  \"e\": [\n"
	       "\n"
	       "  ]\n"
	       "}");
}
