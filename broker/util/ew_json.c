/* Streaming JSON writer with UTF-8 sanitising. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ew_err.h"
#include "ew_json.h"

void
ew_json_init(struct ew_json *j, struct ew_buf *b)
{
	memset(j, 0, sizeof(*j));
	j->b = b;
	j->first[0] = true;
}

void
ew_json_init_pretty(struct ew_json *j, struct ew_buf *b, const char *indent)
{
	ew_json_init(j, b);
	j->indent = indent;
}

static void
put(struct ew_json *j, const void *p, size_t n)
{
	int r;

	if (j->err == 0 && (r = ew_buf_put(j->b, p, n)) != 0)
		j->err = r;
}

/* For people: the indentation of a line at depth. */
static void
indent_to(struct ew_json *j, unsigned depth)
{
	unsigned i;

	for (i = 0; i < depth; i++)
		put(j, j->indent, strlen(j->indent));
}

/* Separate a new value from the previous sibling. */
static void
value_prefix(struct ew_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		put(j, ",", 1);
	if (j->indent != NULL && j->depth > 0) {
		/* The opening bracket ended its line already. */
		if (!j->first[j->depth])
			put(j, "\n", 1);
		indent_to(j, j->depth);
	}
	j->first[j->depth] = false;
}

static void
open_nest(struct ew_json *j, char c)
{
	value_prefix(j);
	if (j->depth + 1 >= EW_JSON_DEPTH_MAX) {
		if (j->err == 0)
			j->err = -EW_E_LIMIT;
		return;
	}
	put(j, &c, 1);
	j->depth++;
	j->first[j->depth] = true;
	if (j->indent != NULL)
		put(j, "\n", 1);
}

static void
close_nest(struct ew_json *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	if (j->indent != NULL) {
		put(j, "\n", 1);
		indent_to(j, j->depth);
	}
	put(j, &c, 1);
}

void
ew_json_obj_begin(struct ew_json *j)
{
	open_nest(j, '{');
}

void
ew_json_obj_end(struct ew_json *j)
{
	close_nest(j, '}');
}

void
ew_json_arr_begin(struct ew_json *j)
{
	open_nest(j, '[');
}

void
ew_json_arr_end(struct ew_json *j)
{
	close_nest(j, ']');
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

size_t
ew_json_utf8_prefix(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n) {
		if ((l = utf8_seq(u + i, n - i)) == 0) {
			/* A sequence cut by the end is not an error here. */
			if (n - i < 4 && u[i] >= 0xc2 && u[i] <= 0xf4)
				return i;
			i++;
			continue;
		}
		i += l;
	}
	return n;
}

static void
put_escaped(struct ew_json *j, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, l;
	char esc[8];

	put(j, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++;
			i++;
			continue;
		}
		if (c >= 0x80 && (l = utf8_seq(u + i, n - i)) != 0) {
			run += l;
			i += l;
			continue;
		}
		put(j, u + i - run, run);
		run = 0;
		switch (c) {
		case '"':
			put(j, "\\\"", 2);
			break;
		case '\\':
			put(j, "\\\\", 2);
			break;
		case '\n':
			put(j, "\\n", 2);
			break;
		case '\r':
			put(j, "\\r", 2);
			break;
		case '\t':
			put(j, "\\t", 2);
			break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				put(j, esc, 6);
			} else
				put(j, "\\ufffd", 6); /* invalid UTF-8 */
			break;
		}
		i++;
	}
	put(j, u + i - run, run);
	put(j, "\"", 1);
}

void
ew_json_key(struct ew_json *j, const char *key)
{
	value_prefix(j);
	put_escaped(j, key, strlen(key));
	put(j, j->indent != NULL ? ": " : ":", j->indent != NULL ? 2 : 1);
	j->after_key = true;
}

void
ew_json_strn(struct ew_json *j, const char *s, size_t n)
{
	value_prefix(j);
	put_escaped(j, s, n);
}

void
ew_json_str(struct ew_json *j, const char *s)
{
	if (s == NULL)
		ew_json_null(j);
	else
		ew_json_strn(j, s, strlen(s));
}

void
ew_json_int(struct ew_json *j, int64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	value_prefix(j);
	put(j, num, (size_t)n);
}

void
ew_json_uint(struct ew_json *j, uint64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	value_prefix(j);
	put(j, num, (size_t)n);
}

void
ew_json_bool(struct ew_json *j, bool v)
{
	value_prefix(j);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void
ew_json_null(struct ew_json *j)
{
	value_prefix(j);
	put(j, "null", 4);
}

void
ew_json_raw(struct ew_json *j, const char *text, size_t n)
{
	value_prefix(j);
	put(j, text, n);
}

void
ew_json_kv_str(struct ew_json *j, const char *key, const char *s)
{
	ew_json_key(j, key);
	ew_json_str(j, s);
}

void
ew_json_kv_opt(struct ew_json *j, const char *key, const char *s)
{
	if (s != NULL)
		ew_json_kv_str(j, key, s);
}

void
ew_json_kv_int(struct ew_json *j, const char *key, int64_t v)
{
	ew_json_key(j, key);
	ew_json_int(j, v);
}

void
ew_json_kv_uint(struct ew_json *j, const char *key, uint64_t v)
{
	ew_json_key(j, key);
	ew_json_uint(j, v);
}

void
ew_json_kv_bool(struct ew_json *j, const char *key, bool v)
{
	ew_json_key(j, key);
	ew_json_bool(j, v);
}

void
ew_json_str_array(struct ew_json *j, char *const *v, size_t n)
{
	size_t i;

	ew_json_arr_begin(j);
	for (i = 0; i < n; i++)
		ew_json_str(j, v[i]);
	ew_json_arr_end(j);
}

int
ew_json_error(const struct ew_json *j)
{
	return j->err;
}
