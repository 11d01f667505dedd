/* Tests for proto/ew_buf.c: bounds, getters that fail cleanly, storage. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ew_buf.h"
#include "ew_err.h"

/* A getter failed: the buffer must be exactly as it was. */
#define assert_untouched(b, saved)                                           \
	do {                                                                 \
		cr_assert_eq((b)->off, (saved).off, "off moved on failure"); \
		cr_assert_eq(                                                \
		    (b)->size, (saved).size, "size moved on failure");       \
		cr_assert_eq((b)->d, (saved).d);                             \
	} while (0)

/* Set up a read-only buffer over a copy of data in an exactly-sized block,
 * so that ASan catches a read past its end. */
static unsigned char *
ro_copy(struct ew_buf *b, const void *data, size_t len)
{
	unsigned char *p = malloc(len == 0 ? 1 : len);

	cr_assert_not_null(p);
	if (len > 0)
		memcpy(p, data, len);
	ew_buf_init_ro(b, p, len);
	return p;
}

Test(buf, fixed_init)
{
	unsigned char mem[16];
	struct ew_buf b;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_len(&b), 0);
	cr_assert_eq(ew_buf_avail(&b), sizeof(mem));
	cr_assert_eq(b.flags, 0);
	cr_assert_eq(b.max, sizeof(mem));
}

Test(buf, ints_big_endian_round_trip)
{
	static const unsigned char want[] = { 0xab, 0x12, 0x34, 0xde, 0xad,
		0xbe, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	unsigned char mem[sizeof(want)];
	struct ew_buf b;
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put_u8(&b, 0xab), 0);
	cr_assert_eq(ew_buf_put_u16(&b, 0x1234), 0);
	cr_assert_eq(ew_buf_put_u32(&b, 0xdeadbeef), 0);
	cr_assert_eq(ew_buf_put_u64(&b, 0x0123456789abcdefULL), 0);
	cr_assert_eq(ew_buf_len(&b), sizeof(want));
	cr_assert_eq(ew_buf_avail(&b), 0);
	cr_assert_arr_eq(ew_buf_ptr(&b), want, sizeof(want));

	cr_assert_eq(ew_buf_get_u8(&b, &v8), 0);
	cr_assert_eq(v8, 0xab);
	cr_assert_eq(ew_buf_get_u16(&b, &v16), 0);
	cr_assert_eq(v16, 0x1234);
	cr_assert_eq(ew_buf_get_u32(&b, &v32), 0);
	cr_assert_eq(v32, 0xdeadbeef);
	cr_assert_eq(ew_buf_get_u64(&b, &v64), 0);
	cr_assert_eq(v64, 0x0123456789abcdefULL);
	cr_assert_eq(ew_buf_len(&b), 0);
}

Test(buf, ints_extremes)
{
	unsigned char mem[64];
	struct ew_buf b;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put_u16(&b, UINT16_MAX), 0);
	cr_assert_eq(ew_buf_put_u32(&b, UINT32_MAX), 0);
	cr_assert_eq(ew_buf_put_u64(&b, UINT64_MAX), 0);
	cr_assert_eq(ew_buf_put_u32(&b, 0), 0);
	cr_assert_eq(ew_buf_get_u16(&b, &v16), 0);
	cr_assert_eq(v16, UINT16_MAX);
	cr_assert_eq(ew_buf_get_u32(&b, &v32), 0);
	cr_assert_eq(v32, UINT32_MAX);
	cr_assert_eq(ew_buf_get_u64(&b, &v64), 0);
	cr_assert_eq(v64, UINT64_MAX);
	cr_assert_eq(ew_buf_get_u32(&b, &v32), 0);
	cr_assert_eq(v32, 0);
}

Test(buf, getters_skip_with_null)
{
	unsigned char mem[32];
	struct ew_buf b;
	uint8_t v8;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put_u64(&b, 1), 0);
	cr_assert_eq(ew_buf_put_u32(&b, 2), 0);
	cr_assert_eq(ew_buf_put_u16(&b, 3), 0);
	cr_assert_eq(ew_buf_put_u8(&b, 4), 0);
	cr_assert_eq(ew_buf_put(&b, "abc", 3), 0);
	cr_assert_eq(ew_buf_put_u8(&b, 5), 0);
	cr_assert_eq(ew_buf_get_u64(&b, NULL), 0);
	cr_assert_eq(ew_buf_get_u32(&b, NULL), 0);
	cr_assert_eq(ew_buf_get_u16(&b, NULL), 0);
	cr_assert_eq(ew_buf_get_u8(&b, NULL), 0);
	cr_assert_eq(ew_buf_get(&b, NULL, 3), 0);
	cr_assert_eq(ew_buf_get_u8(&b, &v8), 0);
	cr_assert_eq(v8, 5);
	cr_assert_eq(ew_buf_len(&b), 0);
}

/* Every fixed-width getter on every too-short input. */
Test(buf, getters_truncated_leave_buffer_untouched)
{
	static const unsigned char data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct ew_buf b, saved;
	unsigned char *p, out[8];
	uint8_t v8 = 0x5a;
	uint16_t v16 = 0x5a5a;
	uint32_t v32 = 0x5a5a5a5a;
	uint64_t v64 = 0x5a5a5a5a5a5a5a5aULL;
	size_t len;

	for (len = 0; len < 8; len++) {
		p = ro_copy(&b, data, len);
		saved = b;
		if (len < 1) {
			cr_assert_eq(ew_buf_get_u8(&b, &v8), -EW_E_TRUNCATED);
			assert_untouched(&b, saved);
			cr_assert_eq(v8, 0x5a);
		}
		if (len < 2) {
			cr_assert_eq(ew_buf_get_u16(&b, &v16), -EW_E_TRUNCATED);
			assert_untouched(&b, saved);
			cr_assert_eq(v16, 0x5a5a);
		}
		if (len < 4) {
			cr_assert_eq(ew_buf_get_u32(&b, &v32), -EW_E_TRUNCATED);
			assert_untouched(&b, saved);
			cr_assert_eq(
			    ew_buf_peek_u32(&b, &v32), -EW_E_TRUNCATED);
			assert_untouched(&b, saved);
			cr_assert_eq(v32, 0x5a5a5a5a);
		}
		cr_assert_eq(ew_buf_get_u64(&b, &v64), -EW_E_TRUNCATED);
		assert_untouched(&b, saved);
		cr_assert_eq(v64, 0x5a5a5a5a5a5a5a5aULL);
		cr_assert_eq(ew_buf_get(&b, out, len + 1), -EW_E_TRUNCATED);
		assert_untouched(&b, saved);
		cr_assert_eq(ew_buf_consume(&b, len + 1), -EW_E_TRUNCATED);
		assert_untouched(&b, saved);
		free(p);
	}
}

Test(buf, get_and_consume)
{
	static const unsigned char data[] = "0123456789";
	struct ew_buf b, saved;
	unsigned char out[4];
	unsigned char *p;

	p = ro_copy(&b, data, 10);
	cr_assert_eq(ew_buf_get(&b, out, 4), 0);
	cr_assert_arr_eq(out, "0123", 4);
	cr_assert_eq(ew_buf_consume(&b, 2), 0);
	cr_assert_eq(ew_buf_len(&b), 4);
	cr_assert_arr_eq(ew_buf_ptr(&b), "6789", 4);
	saved = b;
	cr_assert_eq(ew_buf_consume(&b, SIZE_MAX), -EW_E_TRUNCATED);
	assert_untouched(&b, saved);
	cr_assert_eq(ew_buf_get(&b, out, SIZE_MAX), -EW_E_TRUNCATED);
	assert_untouched(&b, saved);
	cr_assert_eq(ew_buf_get(&b, out, 0), 0);
	cr_assert_eq(ew_buf_consume(&b, 4), 0);
	cr_assert_eq(ew_buf_len(&b), 0);
	cr_assert_eq(ew_buf_consume(&b, 0), 0);
	free(p);
}

Test(buf, peek_does_not_consume)
{
	unsigned char mem[8];
	struct ew_buf b;
	uint32_t v = 0;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put_u32(&b, 0x01020304), 0);
	cr_assert_eq(ew_buf_peek_u32(&b, &v), 0);
	cr_assert_eq(v, 0x01020304);
	cr_assert_eq(ew_buf_len(&b), 4);
	cr_assert_eq(ew_buf_peek_u32(&b, NULL), 0);
	cr_assert_eq(ew_buf_get_u32(&b, &v), 0);
	cr_assert_eq(ew_buf_len(&b), 0);
}

/* Build "u32 declared length, then body[0..bodylen)" in a heap block. */
static unsigned char *
raw_string(uint32_t declared, const void *body, size_t bodylen, size_t *lenp)
{
	unsigned char *p = malloc(4 + bodylen);

	cr_assert_not_null(p);
	p[0] = (unsigned char)(declared >> 24);
	p[1] = (unsigned char)(declared >> 16);
	p[2] = (unsigned char)(declared >> 8);
	p[3] = (unsigned char)declared;
	if (bodylen > 0)
		memcpy(p + 4, body, bodylen);
	*lenp = 4 + bodylen;
	return p;
}

Test(buf, string_round_trip)
{
	unsigned char mem[64];
	const unsigned char *v;
	struct ew_buf b;
	size_t n;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put_string(&b, "hello", 5), 0);
	cr_assert_eq(ew_buf_put_string(&b, "a\0b", 3), 0);
	cr_assert_eq(ew_buf_put_string(&b, NULL, 0), 0);
	cr_assert_eq(ew_buf_put_cstring(&b, "xyz"), 0);
	cr_assert_eq(ew_buf_put_cstring(&b, NULL), 0);
	cr_assert_eq(ew_buf_len(&b), 9 + 7 + 4 + 7 + 4);
	cr_assert_arr_eq(ew_buf_ptr(&b), "\0\0\0\5hello", 9);

	cr_assert_eq(ew_buf_get_string_direct(&b, &v, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_arr_eq(v, "hello", 5);
	/* Raw strings may hold a NUL: only the C-string getters refuse. */
	cr_assert_eq(ew_buf_get_string_direct(&b, &v, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_arr_eq(v, "a\0b", 3);
	cr_assert_eq(ew_buf_get_string_direct(&b, NULL, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(ew_buf_get_string_direct(&b, &v, NULL), 0);
	cr_assert_arr_eq(v, "xyz", 3);
	cr_assert_eq(ew_buf_get_string_direct(&b, NULL, NULL), 0);
	cr_assert_eq(ew_buf_len(&b), 0);
}

/* Truncated, over-long and giant length fields for every string getter. */
Test(buf, string_getters_reject_bad_lengths)
{
	static const struct {
		uint32_t declared;
		size_t present;
	} cases[] = {
		{ 5, 4 },
		{ 5, 0 },
		{ 1, 0 },
		{ 0xffffffffu, 16 },
		{ 0x80000000u, 16 },
		{ 0xfffffffcu, 3 },
	};
	static const char body[16] = "abcdefghijklmnop";
	const unsigned char *v;
	struct ew_buf b, saved;
	unsigned char *p;
	char dst[64], *dup;
	size_t i, len, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = raw_string(cases[i].declared, body, cases[i].present, &len);
		ew_buf_init_ro(&b, p, len);
		saved = b;
		n = 77;
		v = (const unsigned char *)"x";
		cr_assert_eq(ew_buf_get_string_direct(&b, &v, &n),
		    -EW_E_TRUNCATED, "case %zu", i);
		cr_assert_null(v);
		cr_assert_eq(n, 0);
		assert_untouched(&b, saved);
		cr_assert_eq(ew_buf_get_cstring(&b, dst, sizeof(dst), &n),
		    -EW_E_TRUNCATED, "case %zu", i);
		assert_untouched(&b, saved);
		dup = (char *)1;
		cr_assert_eq(ew_buf_get_cstring_dup(&b, SIZE_MAX, &dup, &n),
		    -EW_E_TRUNCATED, "case %zu", i);
		cr_assert_null(dup);
		assert_untouched(&b, saved);
		free(p);
	}
	/* Fewer than four bytes of length prefix. */
	for (len = 0; len < 4; len++) {
		p = ro_copy(&b, "\0\0\0\0", len);
		saved = b;
		cr_assert_eq(
		    ew_buf_get_string_direct(&b, &v, &n), -EW_E_TRUNCATED);
		cr_assert_eq(ew_buf_get_cstring(&b, dst, sizeof(dst), &n),
		    -EW_E_TRUNCATED);
		cr_assert_eq(
		    ew_buf_get_cstring_dup(&b, 10, &dup, &n), -EW_E_TRUNCATED);
		assert_untouched(&b, saved);
		free(p);
	}
}

Test(buf, cstring_ok_and_exact_fit)
{
	struct ew_buf b;
	unsigned char *p;
	char dst[6];
	size_t len, n = 0;

	p = raw_string(5, "hello", 5, &len);
	ew_buf_init_ro(&b, p, len);
	/* Five bytes plus the terminator fill dst exactly. */
	cr_assert_eq(ew_buf_get_cstring(&b, dst, sizeof(dst), &n), 0);
	cr_assert_str_eq(dst, "hello");
	cr_assert_eq(n, 5);
	cr_assert_eq(ew_buf_len(&b), 0);
	free(p);

	p = raw_string(0, NULL, 0, &len);
	ew_buf_init_ro(&b, p, len);
	memset(dst, 'x', sizeof(dst));
	cr_assert_eq(ew_buf_get_cstring(&b, dst, 1, NULL), 0);
	cr_assert_eq(dst[0], '\0');
	free(p);
}

Test(buf, cstring_over_limit)
{
	struct ew_buf b, saved;
	unsigned char *p;
	char dst[8], *dup = NULL;
	size_t len, n = 9;

	p = raw_string(6, "hello!", 6, &len);
	ew_buf_init_ro(&b, p, len);
	saved = b;
	/* Six bytes do not fit in 6 with the terminator. */
	cr_assert_eq(ew_buf_get_cstring(&b, dst, 6, &n), -EW_E_LIMIT);
	cr_assert_eq(n, 0);
	assert_untouched(&b, saved);
	cr_assert_eq(ew_buf_get_cstring(&b, dst, 0, &n), -EW_E_LIMIT);
	assert_untouched(&b, saved);
	cr_assert_eq(ew_buf_get_cstring_dup(&b, 5, &dup, &n), -EW_E_LIMIT);
	cr_assert_null(dup);
	assert_untouched(&b, saved);
	cr_assert_eq(ew_buf_get_cstring_dup(&b, 0, &dup, &n), -EW_E_LIMIT);
	assert_untouched(&b, saved);
	/* At the limit exactly it is accepted. */
	cr_assert_eq(ew_buf_get_cstring_dup(&b, 6, &dup, &n), 0);
	cr_assert_str_eq(dup, "hello!");
	cr_assert_eq(n, 6);
	free(dup);
	free(p);
}

Test(buf, cstring_embedded_nul)
{
	static const char *const bodies[] = { "\0abc", "ab\0c", "abc\0" };
	struct ew_buf b, saved;
	unsigned char *p;
	char dst[16], *dup;
	size_t i, len, n;

	for (i = 0; i < 3; i++) {
		p = raw_string(4, bodies[i], 4, &len);
		ew_buf_init_ro(&b, p, len);
		saved = b;
		cr_assert_eq(
		    ew_buf_get_cstring(&b, dst, sizeof(dst), &n), -EW_E_NUL);
		assert_untouched(&b, saved);
		cr_assert_eq(
		    ew_buf_get_cstring_dup(&b, 100, &dup, &n), -EW_E_NUL);
		cr_assert_null(dup);
		assert_untouched(&b, saved);
		/* The raw getter takes it. */
		cr_assert_eq(ew_buf_get_string_direct(&b, NULL, &n), 0);
		cr_assert_eq(n, 4);
		free(p);
	}
}

Test(buf, cstring_dup_ok)
{
	unsigned char mem[32];
	struct ew_buf b;
	char *s = NULL;
	size_t n = 0;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put_cstring(&b, "dup me"), 0);
	cr_assert_eq(ew_buf_put_cstring(&b, ""), 0);
	cr_assert_eq(ew_buf_get_cstring_dup(&b, 100, &s, &n), 0);
	cr_assert_str_eq(s, "dup me");
	cr_assert_eq(n, 6);
	free(s);
	cr_assert_eq(ew_buf_get_cstring_dup(&b, 0, &s, NULL), 0);
	cr_assert_str_eq(s, "");
	free(s);
	cr_assert_eq(ew_buf_len(&b), 0);
}

/* Fill fixed storage to the byte, then every put must fail and append
 * nothing, leaving the storage past the end alone. */
Test(buf, fixed_storage_cap)
{
	unsigned char mem[32];
	struct ew_buf b, saved;
	size_t used, i;

	for (used = 0; used <= 16; used++) {
		memset(mem, 0xee, sizeof(mem));
		ew_buf_init(&b, mem, 16);
		for (i = 0; i < used; i++)
			cr_assert_eq(ew_buf_put_u8(&b, (uint8_t)i), 0);
		saved = b;
		cr_assert_eq(ew_buf_avail(&b), 16 - used);
		if (used > 15)
			cr_assert_eq(ew_buf_put_u8(&b, 1), -EW_E_LIMIT);
		if (used > 14)
			cr_assert_eq(ew_buf_put_u16(&b, 1), -EW_E_LIMIT);
		if (used > 12)
			cr_assert_eq(ew_buf_put_u32(&b, 1), -EW_E_LIMIT);
		if (used > 8)
			cr_assert_eq(ew_buf_put_u64(&b, 1), -EW_E_LIMIT);
		cr_assert_eq(ew_buf_put(&b, "0123456789abcdefg", 17 - used),
		    -EW_E_LIMIT);
		/* One byte too many for the whole field (prefix included). */
		cr_assert_eq(ew_buf_put_string(&b, "abcdefghijklmnop",
				 16 - used >= 4 ? 16 - used - 3 : 0),
		    -EW_E_LIMIT);
		/* 4 + 13 bytes never fit in 16. */
		cr_assert_eq(
		    ew_buf_put_cstring(&b, "0123456789abc"), -EW_E_LIMIT);
		assert_untouched(&b, saved);
		for (i = used; i < sizeof(mem); i++)
			cr_assert_eq(mem[i], 0xee, "byte %zu written", i);
	}
}

/* A string whose prefix fits but whose body does not appends nothing. */
Test(buf, put_string_is_atomic)
{
	unsigned char mem[16];
	struct ew_buf b, saved;
	size_t n;

	for (n = 0; n <= 16; n++) {
		memset(mem, 0xee, sizeof(mem));
		ew_buf_init(&b, mem, 10);
		cr_assert_eq(ew_buf_put_u16(&b, 7), 0);
		saved = b;
		/* 8 bytes left: a string of up to 4 bytes fits. */
		if (n <= 4) {
			cr_assert_eq(
			    ew_buf_put_string(&b, "abcdefghijklmnop", n), 0);
			cr_assert_eq(ew_buf_len(&b), 2 + 4 + n);
			continue;
		}
		cr_assert_eq(ew_buf_put_string(&b, "abcdefghijklmnop", n),
		    -EW_E_LIMIT, "n %zu", n);
		assert_untouched(&b, saved);
		cr_assert_eq(mem[2], 0xee, "length prefix written");
	}
}

Test(buf, reserve_overflow_safe)
{
	unsigned char mem[16], *dp;
	struct ew_buf b, saved, *h;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put_u32(&b, 1), 0);
	saved = b;
	dp = mem;
	cr_assert_eq(ew_buf_reserve(&b, SIZE_MAX, &dp), -EW_E_LIMIT);
	cr_assert_null(dp);
	cr_assert_eq(ew_buf_reserve(&b, SIZE_MAX - 3, &dp), -EW_E_LIMIT);
	cr_assert_eq(
	    ew_buf_reserve(&b, SIZE_MAX - b.size + 1, &dp), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_reserve(&b, 13, &dp), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_put(&b, mem, SIZE_MAX), -EW_E_LIMIT);
	assert_untouched(&b, saved);
	/* Never read v: the length is refused first. */
	cr_assert_eq(ew_buf_put_string(&b, mem, SIZE_MAX), -EW_E_LIMIT);
	cr_assert_eq(
	    ew_buf_put_string(&b, mem, (size_t)UINT32_MAX + 1), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_put_string(&b, mem, SIZE_MAX - 3), -EW_E_LIMIT);
	assert_untouched(&b, saved);
	cr_assert_eq(ew_buf_reserve(&b, 12, &dp), 0);
	cr_assert_eq(dp, mem + 4);
	cr_assert_eq(ew_buf_reserve(&b, 0, &dp), 0);
	cr_assert_eq(ew_buf_reserve(&b, 1, NULL), -EW_E_LIMIT);

	h = ew_buf_new(1024);
	cr_assert_not_null(h);
	cr_assert_eq(ew_buf_put_u8(h, 1), 0);
	cr_assert_eq(ew_buf_reserve(h, SIZE_MAX, &dp), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_reserve(h, SIZE_MAX - 1023, &dp), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_put_string(h, mem, SIZE_MAX), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_len(h), 1);
	cr_assert_leq(h->alloc, 1024);
	ew_buf_free(h);
}

Test(buf, readonly_refuses_writes)
{
	static const unsigned char data[] = { 0, 0, 0, 2, 'h', 'i', 9 };
	unsigned char *dp = (unsigned char *)data;
	const unsigned char *v;
	struct ew_buf b, saved;
	size_t n;

	ew_buf_init_ro(&b, data, sizeof(data));
	cr_assert(b.flags & EW_BUF_F_READONLY);
	cr_assert_eq(ew_buf_avail(&b), 0);
	cr_assert_eq(ew_buf_len(&b), sizeof(data));
	saved = b;
	cr_assert_eq(ew_buf_reserve(&b, 0, &dp), -EW_E_READONLY);
	cr_assert_null(dp);
	cr_assert_eq(ew_buf_reserve(&b, 1, NULL), -EW_E_READONLY);
	cr_assert_eq(ew_buf_put(&b, "x", 1), -EW_E_READONLY);
	cr_assert_eq(ew_buf_put_u8(&b, 1), -EW_E_READONLY);
	cr_assert_eq(ew_buf_put_u16(&b, 1), -EW_E_READONLY);
	cr_assert_eq(ew_buf_put_u32(&b, 1), -EW_E_READONLY);
	cr_assert_eq(ew_buf_put_u64(&b, 1), -EW_E_READONLY);
	cr_assert_eq(ew_buf_put_string(&b, "x", 1), -EW_E_READONLY);
	cr_assert_eq(ew_buf_put_string(&b, NULL, 0), -EW_E_READONLY);
	cr_assert_eq(ew_buf_put_cstring(&b, "abc"), -EW_E_READONLY);
	assert_untouched(&b, saved);
	/* Reads still work; reset only forgets them (nothing is wiped). */
	cr_assert_eq(ew_buf_get_string_direct(&b, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_arr_eq(v, "hi", 2);
	ew_buf_reset(&b);
	cr_assert_eq(ew_buf_len(&b), 0);
	cr_assert_eq(data[6], 9);
}

Test(buf, heap_grows_to_max_and_no_further)
{
	static const size_t maxes[] = { 1, 100, 256, 257, 1000, 4096, 70000 };
	struct ew_buf *b;
	unsigned char chunk[97];
	unsigned char *dp;
	size_t i, m, left, k;
	uint8_t v;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (unsigned char)(i * 7);
	for (m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		b = ew_buf_new(maxes[m]);
		cr_assert_not_null(b);
		cr_assert(b->flags & EW_BUF_F_OWNED);
		cr_assert_eq(ew_buf_len(b), 0);
		cr_assert_eq(ew_buf_avail(b), maxes[m]);
		/* Appending in odd-sized chunks forces several grows. */
		while ((left = ew_buf_avail(b)) > 0) {
			k = left < sizeof(chunk) ? left : sizeof(chunk);
			cr_assert_eq(ew_buf_put(b, chunk, k), 0);
			cr_assert_geq(b->alloc, b->size);
		}
		cr_assert_eq(ew_buf_len(b), maxes[m]);
		cr_assert_eq(ew_buf_put_u8(b, 1), -EW_E_LIMIT);
		cr_assert_eq(ew_buf_reserve(b, 1, &dp), -EW_E_LIMIT);
		cr_assert_eq(ew_buf_put_string(b, NULL, 0), -EW_E_LIMIT);
		cr_assert_eq(ew_buf_len(b), maxes[m]);
		/* Everything written survived each reallocation. */
		for (i = 0; i < maxes[m]; i++) {
			cr_assert_eq(ew_buf_get_u8(b, &v), 0);
			cr_assert_eq(v, chunk[i % sizeof(chunk)],
			    "max %zu byte %zu", maxes[m], i);
		}
		ew_buf_free(b);
	}
}

Test(buf, heap_one_big_reserve)
{
	struct ew_buf *b = ew_buf_new(3 * 1024 * 1024);
	unsigned char *dp;

	cr_assert_not_null(b);
	cr_assert_eq(ew_buf_reserve(b, 3 * 1024 * 1024 + 1, &dp), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_len(b), 0);
	cr_assert_eq(ew_buf_reserve(b, 3 * 1024 * 1024, &dp), 0);
	cr_assert_not_null(dp);
	memset(dp, 0x11, 3 * 1024 * 1024);
	cr_assert_eq(ew_buf_avail(b), 0);
	ew_buf_free(b);
}

Test(buf, heap_limits)
{
	struct ew_buf *b;
	unsigned char *dp = (unsigned char *)"";

	cr_assert_null(ew_buf_new(EW_BUF_SIZE_MAX + (size_t)1));
	cr_assert_null(ew_buf_new(SIZE_MAX));
	b = ew_buf_new(0);
	cr_assert_not_null(b);
	cr_assert_eq(ew_buf_put_u8(b, 1), -EW_E_LIMIT);
	/* No storage yet: an empty reservation, and no NULL + 0 (UBSan). */
	cr_assert_eq(ew_buf_reserve(b, 0, &dp), 0);
	cr_assert_null(dp);
	cr_assert_eq(ew_buf_put(b, "", 0), 0);
	cr_assert_eq(ew_buf_len(b), 0);
	cr_assert_not_null(ew_buf_ptr(b));
	ew_buf_free(b);
	ew_buf_free(NULL);
	b = ew_buf_new(EW_BUF_SIZE_MAX);
	cr_assert_not_null(b);
	/* Getters on a heap buffer with no storage yet. */
	cr_assert_eq(ew_buf_get_u32(b, NULL), -EW_E_TRUNCATED);
	cr_assert_eq(ew_buf_get(b, NULL, 0), 0);
	cr_assert_eq(ew_buf_get_string_direct(b, NULL, NULL), -EW_E_TRUNCATED);
	ew_buf_free(b);
}

Test(buf, reset_wipes_and_reuses)
{
	unsigned char mem[16];
	struct ew_buf b, *h;
	size_t i;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put(&b, "secretsecret", 12), 0);
	cr_assert_eq(ew_buf_get_u32(&b, NULL), 0);
	ew_buf_reset(&b);
	cr_assert_eq(ew_buf_len(&b), 0);
	cr_assert_eq(b.off, 0);
	cr_assert_eq(ew_buf_avail(&b), sizeof(mem));
	for (i = 0; i < 12; i++)
		cr_assert_eq(mem[i], 0, "byte %zu not wiped", i);
	cr_assert_eq(ew_buf_put_u64(&b, 5), 0);
	cr_assert_eq(ew_buf_len(&b), 8);

	h = ew_buf_new(64);
	cr_assert_not_null(h);
	cr_assert_eq(ew_buf_put_cstring(h, "abc"), 0);
	ew_buf_reset(h);
	cr_assert_eq(ew_buf_len(h), 0);
	cr_assert_eq(ew_buf_avail(h), 64);
	cr_assert_eq(ew_buf_put_cstring(h, "de"), 0);
	cr_assert_arr_eq(ew_buf_ptr(h), "\0\0\0\2de", 6);
	ew_buf_free(h);
}

/* Reading consumes from the front but appending is bounded by max over the
 * whole storage (consumed bytes are not reclaimed). */
Test(buf, consumed_space_is_not_reclaimed)
{
	unsigned char mem[8];
	struct ew_buf b;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_buf_put_u64(&b, 1), 0);
	cr_assert_eq(ew_buf_get_u32(&b, NULL), 0);
	cr_assert_eq(ew_buf_len(&b), 4);
	cr_assert_eq(ew_buf_avail(&b), 0);
	cr_assert_eq(ew_buf_put_u8(&b, 1), -EW_E_LIMIT);
}
