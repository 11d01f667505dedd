/*
 * ASYNC-SIGNAL-SAFE: the shim runs this in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; errno is kept.
 *
 * The session's environment, read and written the same way by the shim
 * and the broker.
 */
#include <errno.h>
#include <string.h>

#include "ew_env.h"

#define PRELOAD_PREFIX EW_ENV_PRELOAD "="
#define PRELOAD_PREFIX_LEN (sizeof(PRELOAD_PREFIX) - 1)
/* ld.so splits LD_PRELOAD at spaces and colons. */
#define PRELOAD_SEPS " :"
#define ASAN_PREFIX EW_ENV_ASAN "="
#define ASAN_PREFIX_LEN (sizeof(ASAN_PREFIX) - 1)
/* ASan's flag parser splits options at these. */
#define ASAN_SEPS " \t\n\r,:"

const char *
ew_env_get(char *const *envp, const char *name)
{
	const char *v;

	for (; envp != NULL && *envp != NULL; envp++)
		if ((v = ew_env_value(*envp, name)) != NULL)
			return v;
	return NULL;
}

/* The next element of a preload list at *pp: *lenp bytes, or NULL. */
static const char *
next_elem(const char **pp, size_t *lenp)
{
	const char *p = *pp + strspn(*pp, PRELOAD_SEPS);
	size_t n = strcspn(p, PRELOAD_SEPS);

	*lenp = n;
	*pp = p + n;
	return n == 0 ? NULL : p;
}

/* Is e[0..n) a copy of execward (lib, or a file of the same name)? */
static int
is_execward(const char *lib, const char *e, size_t n)
{
	size_t blen = sizeof(EW_ENV_LIBRARY) - 1, liblen = strlen(lib);
	const char *base;

	if (n == liblen && memcmp(e, lib, n) == 0)
		return 1;
	if (n < blen)
		return 0;
	base = e + n - blen;
	return memcmp(base, EW_ENV_LIBRARY, blen) == 0 &&
	    (base == e || base[-1] == '/');
}

int
ew_env_preload_first(const char *v, const char *lib)
{
	const char *e;
	size_t n;

	e = next_elem(&v, &n);
	return e != NULL && n == strlen(lib) && memcmp(e, lib, n) == 0;
}

/* Append n bytes of src at str[*off], within cap. */
static int
put(char *str, size_t cap, size_t *off, const char *src, size_t n)
{
	if (n > cap - *off)
		return -ENOMEM;
	memcpy(str + *off, src, n);
	*off += n;
	return 0;
}

size_t
ew_env_preload_size(const char *lib, const char *old)
{
	return PRELOAD_PREFIX_LEN + strlen(lib) + 1 +
	    (old != NULL ? strlen(old) + 1 : 0);
}

int
ew_env_put_preload(char *str, size_t cap, const char *lib, const char *old)
{
	size_t off = 0, n;
	const char *e;
	int r;

	if ((r = put(str, cap, &off, PRELOAD_PREFIX, PRELOAD_PREFIX_LEN)) !=
		0 ||
	    (r = put(str, cap, &off, lib, strlen(lib))) != 0)
		return r;
	while (old != NULL && (e = next_elem(&old, &n)) != NULL) {
		if (is_execward(lib, e, n))
			continue;
		if ((r = put(str, cap, &off, ":", 1)) != 0 ||
		    (r = put(str, cap, &off, e, n)) != 0)
			return r;
	}
	return put(str, cap, &off, "", 1);
}

size_t
ew_env_asan_size(const char *old)
{
	return ASAN_PREFIX_LEN + sizeof(EW_ENV_ASAN_OPTION) +
	    (old != NULL ? strlen(old) + 1 : 0);
}

int
ew_env_put_asan(char *str, size_t cap, const char *old)
{
	size_t off = 0;
	int r;

	if ((r = put(str, cap, &off, ASAN_PREFIX, ASAN_PREFIX_LEN)) != 0)
		return r;
	if (old != NULL && *old != '\0' &&
	    ((r = put(str, cap, &off, old, strlen(old))) != 0 ||
		(r = put(str, cap, &off, ":", 1)) != 0))
		return r;
	return put(
	    str, cap, &off, EW_ENV_ASAN_OPTION, sizeof(EW_ENV_ASAN_OPTION));
}

int
ew_env_asan_last(const char *v)
{
	size_t n = strlen(v), k = sizeof(EW_ENV_ASAN_OPTION) - 1;

	while (n > 0 && strchr(ASAN_SEPS, v[n - 1]) != NULL)
		n--;
	return n >= k && memcmp(v + n - k, EW_ENV_ASAN_OPTION, k) == 0 &&
	    (n == k || strchr(ASAN_SEPS, v[n - k - 1]) != NULL);
}
