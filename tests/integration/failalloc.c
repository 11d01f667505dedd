/*
 * A preload library that makes every allocation of EW_FAILALLOC_BYTES or
 * more fail with ENOMEM (test_load.py: how execward reports running out
 * of memory). glibc's own __libc_* allocators do the rest: calling them
 * needs no dlsym, which itself allocates.
 */
#include <errno.h>
#include <stdlib.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static int
too_big(size_t n)
{
	static size_t limit;
	const char *s;

	if (limit == 0) {
		s = getenv("EW_FAILALLOC_BYTES");
		limit = s != NULL && atol(s) > 0 ? (size_t)atol(s) : (size_t)-1;
	}
	if (n < limit)
		return 0;
	errno = ENOMEM;
	return 1;
}

void *
malloc(size_t n)
{
	return too_big(n) ? NULL : __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	if (size != 0 && n > (size_t)-1 / size)
		return __libc_calloc(n, size); /* its own overflow error */
	return too_big(n * size) ? NULL : __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	return too_big(n) ? NULL : __libc_realloc(p, n);
}
