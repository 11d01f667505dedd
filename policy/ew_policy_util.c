/* Policy internals: string builder, arena, UTF-8 and path helpers. */
#include <assert.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

void
ew_policy_sb_init(struct ew_policy_sb *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
ew_policy_sb_fini(struct ew_policy_sb *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

static int
sb_grow(struct ew_policy_sb *b, size_t extra)
{
	size_t need, ncap;
	char *ns;

	if (b->err != 0)
		return b->err;
	if (extra > b->max || b->len > b->max - extra) {
		b->err = -EW_E_LIMIT;
		return b->err;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap != 0 ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	if ((ns = realloc(b->s, ncap)) == NULL) {
		b->err = -EW_E_NOMEM;
		return b->err;
	}
	b->s = ns;
	b->cap = ncap;
	return 0;
}

void
ew_policy_sb_putn(struct ew_policy_sb *b, const char *s, size_t n)
{
	if (sb_grow(b, n) != 0)
		return;
	if (n != 0)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
ew_policy_sb_puts(struct ew_policy_sb *b, const char *s)
{
	ew_policy_sb_putn(b, s, strlen(s));
}

void
ew_policy_sb_putc(struct ew_policy_sb *b, char c)
{
	ew_policy_sb_putn(b, &c, 1);
}

void
ew_policy_sb_printf(struct ew_policy_sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = -EW_E_INVALID;
		return;
	}
	if (sb_grow(b, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *
ew_policy_sb_steal(struct ew_policy_sb *b)
{
	char *s = NULL;

	if (b->err == 0 && b->len != 0) {
		s = b->s;
		b->s = NULL;
	}
	ew_policy_sb_fini(b);
	return s;
}

/* Chunks are at least this big; larger requests get a chunk of their own. */
#define ARENA_CHUNK (16u * 1024)

struct ew_policy_arena_chunk {
	struct ew_policy_arena_chunk *next;
	size_t size, used;
	alignas(max_align_t) unsigned char data[];
};

void *
ew_policy_arena_alloc(struct ew_policy_arena *a, size_t n)
{
	struct ew_policy_arena_chunk *c = a->head;
	const size_t al = alignof(max_align_t);
	size_t size;
	void *r;

	n = (n + al - 1) & ~(al - 1);
	if (n == 0)
		n = al;
	if (c == NULL || c->size - c->used < n) {
		size = n > ARENA_CHUNK / 2 ? n : ARENA_CHUNK;
		if (size > SIZE_MAX - sizeof(*c))
			return NULL;
		if ((c = malloc(sizeof(*c) + size)) == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		if (n > ARENA_CHUNK / 2 && a->head != NULL) {
			/* A big block: keep the current chunk's free space. */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	r = c->data + c->used;
	c->used += n;
	return r;
}

char *
ew_policy_arena_strndup(struct ew_policy_arena *a, const char *s, size_t n)
{
	char *r;

	if (n == SIZE_MAX || (r = ew_policy_arena_alloc(a, n + 1)) == NULL)
		return NULL;
	if (n != 0)
		memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

void
ew_policy_arena_splice(struct ew_policy_arena *dst, struct ew_policy_arena *src)
{
	struct ew_policy_arena_chunk *c = src->head;

	if (c == NULL)
		return;
	while (c->next != NULL)
		c = c->next;
	/* src's chunks go after dst's head so dst keeps filling its own. */
	if (dst->head == NULL) {
		dst->head = src->head;
	} else {
		c->next = dst->head->next;
		dst->head->next = src->head;
	}
	src->head = NULL;
}

void
ew_policy_arena_fini(struct ew_policy_arena *a)
{
	struct ew_policy_arena_chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

size_t
ew_policy_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k, len;
	uint32_t cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else {
			return i;
		}
		if (len > n - i)
			return i;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return i;
}

const char *
ew_policy_basename(const char *s, size_t *lenp)
{
	size_t end = strlen(s), start;

	while (end > 1 && s[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && s[start - 1] != '/')
		start--;
	if (start == end) {
		/* "/" or "": no name; the whole string stands for itself. */
		*lenp = strlen(s);
		return s;
	}
	*lenp = end - start;
	return s + start;
}

char *
ew_policy_path_normalize(const char *s)
{
	size_t n = strlen(s), o = 0, i = 0, seg, j;
	char *out;

	if (n == 0 || s[0] != '/' || (out = malloc(n + 2)) == NULL)
		return NULL;
	out[o++] = '/';
	while (i < n) {
		while (i < n && s[i] == '/')
			i++;
		seg = i;
		while (i < n && s[i] != '/')
			i++;
		if (i == seg || (i - seg == 1 && s[seg] == '.'))
			continue;
		if (i - seg == 2 && s[seg] == '.' && s[seg + 1] == '.') {
			/* Drop the last component (never above "/"). */
			if (o > 1) {
				j = o - 1;
				while (j > 0 && out[j - 1] != '/')
					j--;
				o = j;
			}
			continue;
		}
		if (o > 1 && out[o - 1] != '/')
			out[o++] = '/';
		memcpy(out + o, s + seg, i - seg);
		o += i - seg;
	}
	if (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
	return out;
}

uint64_t
ew_policy_hash(const char *s)
{
	/* FNV-1a: short keys (program names), no adversarial pressure. */
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/*
 * s quoted, as serde_json writes a string (json) or as Rust's {:?} prints
 * one: the two agree on \" \\ \n \r \t and differ on other controls.
 */
static void
quote(struct ew_policy_sb *b, const char *s, bool json)
{
	const unsigned char *p = (const unsigned char *)s;

	ew_policy_sb_putc(b, '"');
	for (; *p != '\0'; p++) {
		if (*p == '"')
			ew_policy_sb_puts(b, "\\\"");
		else if (*p == '\\')
			ew_policy_sb_puts(b, "\\\\");
		else if (*p == '\n')
			ew_policy_sb_puts(b, "\\n");
		else if (*p == '\r')
			ew_policy_sb_puts(b, "\\r");
		else if (*p == '\t')
			ew_policy_sb_puts(b, "\\t");
		else if (json && *p == '\b')
			ew_policy_sb_puts(b, "\\b");
		else if (json && *p == '\f')
			ew_policy_sb_puts(b, "\\f");
		else if (json && *p < 0x20)
			ew_policy_sb_printf(b, "\\u%04x", *p);
		else if (!json && (*p < 0x20 || *p == 0x7f))
			ew_policy_sb_printf(b, "\\u{%x}", *p);
		else
			ew_policy_sb_putc(b, (char)*p);
	}
	ew_policy_sb_putc(b, '"');
}

void
ew_policy_rust_debug_str(struct ew_policy_sb *b, const char *s)
{
	quote(b, s, false);
}

void
ew_policy_json_str(struct ew_policy_sb *b, const char *s)
{
	quote(b, s, true);
}
