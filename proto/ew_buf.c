/* Bounded byte buffer: big-endian fields and length-prefixed strings. */
#include <stdlib.h>
#include <string.h>

#include "ew_buf.h"
#include "ew_err.h"

#define EW_BUF_GROW_MIN 256

void
ew_buf_init(struct ew_buf *b, void *mem, size_t len)
{
	b->d = mem;
	b->alloc = len;
	b->off = 0;
	b->size = 0;
	b->max = len;
	b->flags = 0;
}

void
ew_buf_init_ro(struct ew_buf *b, const void *data, size_t len)
{
	/* The cast is safe: EW_BUF_F_READONLY stops every write. */
	b->d = (unsigned char *)(uintptr_t)data;
	b->alloc = len;
	b->off = 0;
	b->size = len;
	b->max = len;
	b->flags = EW_BUF_F_READONLY;
}

struct ew_buf *
ew_buf_new(size_t max)
{
	struct ew_buf *b;

	if (max > EW_BUF_SIZE_MAX)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->max = max;
	b->flags = EW_BUF_F_OWNED;
	return b;
}

void
ew_buf_free(struct ew_buf *b)
{
	if (b == NULL)
		return;
	if (b->flags & EW_BUF_F_OWNED) {
		if (b->d != NULL) {
			explicit_bzero(b->d, b->alloc);
			free(b->d);
		}
		explicit_bzero(b, sizeof(*b));
		free(b);
	}
}

void
ew_buf_reset(struct ew_buf *b)
{
	if (b->flags & EW_BUF_F_READONLY) {
		b->off = b->size;
		return;
	}
	if (b->d != NULL && b->size > 0)
		explicit_bzero(b->d, b->size);
	b->off = 0;
	b->size = 0;
}

size_t
ew_buf_len(const struct ew_buf *b)
{
	return b->size - b->off;
}

const unsigned char *
ew_buf_ptr(const struct ew_buf *b)
{
	return b->d == NULL ? (const unsigned char *)"" : b->d + b->off;
}

size_t
ew_buf_avail(const struct ew_buf *b)
{
	if (b->flags & EW_BUF_F_READONLY)
		return 0;
	return b->max - b->size;
}

/* Grow heap storage so that need bytes fit; need <= max is checked. */
static int
grow(struct ew_buf *b, size_t need)
{
	size_t nalloc;
	unsigned char *nd;

	if (need <= b->alloc)
		return 0;
	if (!(b->flags & EW_BUF_F_OWNED))
		return -EW_E_LIMIT;
	nalloc = b->alloc < EW_BUF_GROW_MIN ? EW_BUF_GROW_MIN : b->alloc;
	while (nalloc < need)
		nalloc = nalloc > b->max / 2 ? b->max : nalloc * 2;
	if ((nd = malloc(nalloc)) == NULL)
		return -EW_E_NOMEM;
	if (b->d != NULL) {
		memcpy(nd, b->d, b->size);
		explicit_bzero(b->d, b->alloc);
		free(b->d);
	}
	b->d = nd;
	b->alloc = nalloc;
	return 0;
}

int
ew_buf_reserve(struct ew_buf *b, size_t n, unsigned char **dp)
{
	int r;

	if (dp != NULL)
		*dp = NULL;
	if (b->flags & EW_BUF_F_READONLY)
		return -EW_E_READONLY;
	/* Written as a subtraction so that a huge n cannot wrap around. */
	if (n > b->max - b->size)
		return -EW_E_LIMIT;
	if ((r = grow(b, b->size + n)) != 0)
		return r;
	/* A heap buffer has no storage until the first byte: NULL + 0 is
	 * undefined, so hand back NULL for that empty reservation. */
	if (dp != NULL && b->d != NULL)
		*dp = b->d + b->size;
	b->size += n;
	return 0;
}

int
ew_buf_consume(struct ew_buf *b, size_t n)
{
	if (n > ew_buf_len(b))
		return -EW_E_TRUNCATED;
	b->off += n;
	return 0;
}

int
ew_buf_put(struct ew_buf *b, const void *v, size_t n)
{
	unsigned char *p;
	int r;

	if ((r = ew_buf_reserve(b, n, &p)) != 0)
		return r;
	if (n > 0)
		memcpy(p, v, n);
	return 0;
}

int
ew_buf_put_u8(struct ew_buf *b, uint8_t v)
{
	return ew_buf_put(b, &v, 1);
}

int
ew_buf_put_u16(struct ew_buf *b, uint16_t v)
{
	unsigned char p[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	return ew_buf_put(b, p, sizeof(p));
}

int
ew_buf_put_u32(struct ew_buf *b, uint32_t v)
{
	unsigned char p[4];
	int i;

	for (i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
	return ew_buf_put(b, p, sizeof(p));
}

int
ew_buf_put_u64(struct ew_buf *b, uint64_t v)
{
	unsigned char p[8];
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
	return ew_buf_put(b, p, sizeof(p));
}

int
ew_buf_put_string(struct ew_buf *b, const void *v, size_t n)
{
	unsigned char *p;
	int r;

	if (n > UINT32_MAX)
		return -EW_E_LIMIT;
	/* Reserve the whole field first so a failure appends nothing. */
	if (n > b->max - b->size || 4 > b->max - b->size - n)
		return (b->flags & EW_BUF_F_READONLY) ? -EW_E_READONLY
						      : -EW_E_LIMIT;
	if ((r = ew_buf_reserve(b, 4 + n, &p)) != 0)
		return r;
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	if (n > 0)
		memcpy(p + 4, v, n);
	return 0;
}

int
ew_buf_put_cstring(struct ew_buf *b, const char *s)
{
	return ew_buf_put_string(b, s, s == NULL ? 0 : strlen(s));
}

int
ew_buf_get(struct ew_buf *b, void *v, size_t n)
{
	if (n > ew_buf_len(b))
		return -EW_E_TRUNCATED;
	if (v != NULL && n > 0)
		memcpy(v, b->d + b->off, n);
	b->off += n;
	return 0;
}

static uint64_t
peek_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int
ew_buf_get_u8(struct ew_buf *b, uint8_t *v)
{
	if (ew_buf_len(b) < 1)
		return -EW_E_TRUNCATED;
	if (v != NULL)
		*v = b->d[b->off];
	b->off += 1;
	return 0;
}

int
ew_buf_get_u16(struct ew_buf *b, uint16_t *v)
{
	if (ew_buf_len(b) < 2)
		return -EW_E_TRUNCATED;
	if (v != NULL)
		*v = (uint16_t)peek_be(b->d + b->off, 2);
	b->off += 2;
	return 0;
}

int
ew_buf_get_u32(struct ew_buf *b, uint32_t *v)
{
	if (ew_buf_len(b) < 4)
		return -EW_E_TRUNCATED;
	if (v != NULL)
		*v = (uint32_t)peek_be(b->d + b->off, 4);
	b->off += 4;
	return 0;
}

int
ew_buf_get_u64(struct ew_buf *b, uint64_t *v)
{
	if (ew_buf_len(b) < 8)
		return -EW_E_TRUNCATED;
	if (v != NULL)
		*v = peek_be(b->d + b->off, 8);
	b->off += 8;
	return 0;
}

int
ew_buf_peek_u32(const struct ew_buf *b, uint32_t *v)
{
	if (ew_buf_len(b) < 4)
		return -EW_E_TRUNCATED;
	if (v != NULL)
		*v = (uint32_t)peek_be(b->d + b->off, 4);
	return 0;
}

int
ew_buf_get_string_direct(
    struct ew_buf *b, const unsigned char **vp, size_t *lenp)
{
	size_t n;

	if (vp != NULL)
		*vp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if (ew_buf_len(b) < 4)
		return -EW_E_TRUNCATED;
	n = (size_t)peek_be(b->d + b->off, 4);
	if (n > ew_buf_len(b) - 4)
		return -EW_E_TRUNCATED;
	if (vp != NULL)
		*vp = b->d + b->off + 4;
	if (lenp != NULL)
		*lenp = n;
	b->off += 4 + n;
	return 0;
}

/* Validate the next string as a C string of at most maxlen bytes. */
static int
peek_cstring(const struct ew_buf *b, size_t maxlen, const unsigned char **vp,
    size_t *lenp)
{
	struct ew_buf tmp = *b;
	int r;

	if ((r = ew_buf_get_string_direct(&tmp, vp, lenp)) != 0)
		return r;
	if (*lenp > 0 && memchr(*vp, '\0', *lenp) != NULL)
		return -EW_E_NUL;
	if (*lenp > maxlen)
		return -EW_E_LIMIT;
	return 0;
}

int
ew_buf_get_cstring(struct ew_buf *b, char *dst, size_t dstlen, size_t *lenp)
{
	const unsigned char *v;
	size_t n;
	int r;

	if (lenp != NULL)
		*lenp = 0;
	if (dstlen == 0)
		return -EW_E_LIMIT;
	if ((r = peek_cstring(b, dstlen - 1, &v, &n)) != 0)
		return r;
	memcpy(dst, v, n);
	dst[n] = '\0';
	b->off += 4 + n;
	if (lenp != NULL)
		*lenp = n;
	return 0;
}

int
ew_buf_get_cstring_dup(
    struct ew_buf *b, size_t maxlen, char **out, size_t *lenp)
{
	const unsigned char *v;
	size_t n;
	char *s;
	int r;

	*out = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((r = peek_cstring(b, maxlen, &v, &n)) != 0)
		return r;
	if ((s = malloc(n + 1)) == NULL)
		return -EW_E_NOMEM;
	memcpy(s, v, n);
	s[n] = '\0';
	b->off += 4 + n;
	*out = s;
	if (lenp != NULL)
		*lenp = n;
	return 0;
}
