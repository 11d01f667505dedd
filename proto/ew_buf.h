/* Bounded byte buffer for the wire format (modelled on OpenSSH's sshbuf). */
#ifndef EW_BUF_H
#define EW_BUF_H

#include <stddef.h>
#include <stdint.h>

/*
 * A buffer holds the bytes [off, size) of storage d. Writers append at size,
 * readers consume from off. Every operation checks the max size without
 * overflow. Getters leave the buffer untouched when they fail.
 *
 * Storage is either the caller's (ew_buf_init: no allocation ever, usable
 * in async-signal context), read-only (ew_buf_init_ro) or the heap
 * (ew_buf_new: grows up to max).
 *
 * Integers are big-endian. Strings are a u32 length followed by that many
 * bytes, with no terminating NUL on the wire.
 *
 * Return convention: 0 on success, -EW_E_* on failure (ew_err.h).
 */
struct ew_buf {
	unsigned char *d; /* storage */
	size_t alloc; /* bytes of storage */
	size_t off; /* first unread byte */
	size_t size; /* end of the data */
	size_t max; /* cap on size */
	unsigned flags; /* EW_BUF_F_* */
};

#define EW_BUF_F_OWNED 0x1 /* d was allocated by ew_buf_new */
#define EW_BUF_F_READONLY 0x2 /* puts fail */

/* Hard ceiling for any heap buffer: 256 MiB. */
#define EW_BUF_SIZE_MAX (256u * 1024 * 1024)

/* Use mem[0..len) as fixed storage; never allocates. */
void ew_buf_init(struct ew_buf *b, void *mem, size_t len);

/* A read-only view of data[0..len); data must outlive b. */
void ew_buf_init_ro(struct ew_buf *b, const void *data, size_t len);

/* A heap buffer that grows up to max bytes. NULL on failure; caller frees. */
struct ew_buf *ew_buf_new(size_t max);

/* Wipe and free a heap buffer (and its storage). NULL is a no-op. */
void ew_buf_free(struct ew_buf *b);

/* Forget the contents (storage is wiped and kept). */
void ew_buf_reset(struct ew_buf *b);

/* Unread bytes, and a borrowed pointer to them (valid until b changes). */
size_t ew_buf_len(const struct ew_buf *b);
const unsigned char *ew_buf_ptr(const struct ew_buf *b);

/* Bytes that can still be appended before max is reached. */
size_t ew_buf_avail(const struct ew_buf *b);

/*
 * Append n bytes of space; *dp points at it (borrowed; NULL only when n is
 * 0 and a heap buffer has no storage yet).
 */
int ew_buf_reserve(struct ew_buf *b, size_t n, unsigned char **dp);

/* Drop n unread bytes from the front. */
int ew_buf_consume(struct ew_buf *b, size_t n);

int ew_buf_put(struct ew_buf *b, const void *v, size_t n);
int ew_buf_put_u8(struct ew_buf *b, uint8_t v);
int ew_buf_put_u16(struct ew_buf *b, uint16_t v);
int ew_buf_put_u32(struct ew_buf *b, uint32_t v);
int ew_buf_put_u64(struct ew_buf *b, uint64_t v);
/* u32 length, then n bytes of v. */
int ew_buf_put_string(struct ew_buf *b, const void *v, size_t n);
/* A C string as a string (without its NUL); NULL encodes as "". */
int ew_buf_put_cstring(struct ew_buf *b, const char *s);

/* Copy n bytes out (v may be NULL to skip them). */
int ew_buf_get(struct ew_buf *b, void *v, size_t n);
/* Fixed-width getters; v may be NULL to skip the field. */
int ew_buf_get_u8(struct ew_buf *b, uint8_t *v);
int ew_buf_get_u16(struct ew_buf *b, uint16_t *v);
int ew_buf_get_u32(struct ew_buf *b, uint32_t *v);
int ew_buf_get_u64(struct ew_buf *b, uint64_t *v);

/* Look at the next u32 without consuming it. */
int ew_buf_peek_u32(const struct ew_buf *b, uint32_t *v);

/*
 * Consume a string; *vp borrows its bytes (not NUL-terminated, valid until
 * b changes), *lenp gets its length. Either may be NULL.
 */
int ew_buf_get_string_direct(
    struct ew_buf *b, const unsigned char **vp, size_t *lenp);

/*
 * Consume a string into dst[0..dstlen) as a C string. Fails with
 * -EW_E_NUL on an embedded NUL and -EW_E_LIMIT when it does not fit with
 * its terminator. No allocation.
 */
int
ew_buf_get_cstring(struct ew_buf *b, char *dst, size_t dstlen, size_t *lenp);

/*
 * Consume a string as a newly allocated C string (caller frees). Rejects
 * an embedded NUL and strings longer than maxlen.
 */
int ew_buf_get_cstring_dup(
    struct ew_buf *b, size_t maxlen, char **out, size_t *lenp);

#endif /* EW_BUF_H */
