/*
 * String functions as plain loops, for code that must not call libc's:
 * the shim's constructor (preload/ew_shim.c) runs in every process that
 * loads the shim, and there the first call of each libc string function
 * costs a cold page of libc's code (each is an ifunc'd variant on a page
 * of its own): a constructor calling six of them added 20-35 us per
 * process on a PVM guest. The strings it reads are short (names of
 * environment variables, one path), so a byte loop costs nothing.
 *
 * The empty asm in each loop hides the index from the optimiser, which
 * would otherwise turn the loop back into the call it replaces (gcc's
 * -ftree-loop-distribute-patterns makes memcpy and strlen of them).
 *
 * ASYNC-SIGNAL-SAFE: pure, no globals, errno untouched.
 */
#ifndef EW_STR_H
#define EW_STR_H

#include <stddef.h>
#include <stdint.h>

#define EW_STR_OPAQUE(v) __asm__("" : "+r"(v))

/* strnlen(s, max). */
static inline size_t
ew_str_nlen(const char *s, size_t max)
{
	size_t n;

	for (n = 0; n < max && s[n] != '\0'; n++)
		EW_STR_OPAQUE(n);
	return n;
}

/* strlen(s). */
static inline size_t
ew_str_len(const char *s)
{
	return ew_str_nlen(s, SIZE_MAX);
}

/* memcpy(dst, src, n) (they do not overlap). */
static inline void
ew_str_copy(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		dst[i] = src[i];
		EW_STR_OPAQUE(i);
	}
}

/* memset(p, 0, n). */
static inline void
ew_str_zero(void *p, size_t n)
{
	char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		b[i] = 0;
		EW_STR_OPAQUE(i);
	}
}

/* strcmp(a, b) == 0. */
static inline int
ew_str_eq(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* s after prefix when s starts with it, else NULL. */
static inline const char *
ew_str_after(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; prefix++, s++)
		if (*s != *prefix)
			return NULL;
	return s;
}

/* strrchr(s, c), c not NUL. */
static inline const char *
ew_str_rchr(const char *s, char c)
{
	const char *last = NULL;

	for (; *s != '\0'; s++)
		if (*s == c)
			last = s;
	return last;
}

/* strchrnul(s, c). */
static inline const char *
ew_str_chrnul(const char *s, char c)
{
	while (*s != '\0' && *s != c)
		s++;
	return s;
}

#endif /* EW_STR_H */
