/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; stack or mmap'd
 * storage only; errno is preserved.
 *
 * Environment repair: make sure the environment a new program gets still
 * loads libexecward.so first and still names the session's broker, so
 * `env -i`, unsetenv() and hand-built envps do not escape it by accident.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "ew_shim.h"

#define PRELOAD_NAME "LD_PRELOAD"
#define PRELOAD_PREFIX "LD_PRELOAD="
#define PRELOAD_PREFIX_LEN (sizeof(PRELOAD_PREFIX) - 1)
/* ld.so splits LD_PRELOAD at spaces and colons. */
#define PRELOAD_SEPS " :"
#define OUR_BASENAME "libexecward.so"
#define ASAN_NAME "ASAN_OPTIONS"
#define ASAN_PREFIX "ASAN_OPTIONS="
#define ASAN_PREFIX_LEN (sizeof(ASAN_PREFIX) - 1)
/* ASan's flag parser splits options at these. */
#define ASAN_SEPS " \t\n\r,:"

/* If entry is "name=...", the value after '=', else NULL. */
static const char *
match(const char *entry, const char *name, size_t namelen)
{
	if (strncmp(entry, name, namelen) != 0 || entry[namelen] != '=')
		return NULL;
	return entry + namelen + 1;
}

const char *
ew_shim_env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	const char *v;

	for (; envp != NULL && *envp != NULL; envp++)
		if ((v = match(*envp, name, n)) != NULL)
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

/* Is s[0..n) another copy of execward (ours or one of the same name)? */
static int
is_execward(const struct ew_shim_session *s, const char *e, size_t n)
{
	size_t blen = sizeof(OUR_BASENAME) - 1, liblen = strlen(s->lib);
	const char *base;

	if (n == liblen && memcmp(e, s->lib, n) == 0)
		return 1;
	if (n < blen)
		return 0;
	base = e + n - blen;
	return memcmp(base, OUR_BASENAME, blen) == 0 &&
	    (base == e || base[-1] == '/');
}

/* Does the preload value start with our library? */
static int
ours_first(const struct ew_shim_session *s, const char *value)
{
	const char *e;
	size_t n;

	e = next_elem(&value, &n);
	return e != NULL && n == strlen(s->lib) && memcmp(e, s->lib, n) == 0;
}

/* The ASAN_OPTIONS value of entry when the session checks it, or NULL. */
static const char *
asan_value(const struct ew_shim_session *s, const char *entry)
{
	if (s->asan == NULL)
		return NULL;
	return match(entry, ASAN_NAME, ASAN_PREFIX_LEN - 1);
}

/* Is s->asan the last option of the ASAN_OPTIONS value v? */
static int
asan_last(const struct ew_shim_session *s, const char *v)
{
	size_t n = strlen(v), k = strlen(s->asan);

	while (n > 0 && strchr(ASAN_SEPS, v[n - 1]) != NULL)
		n--;
	return n >= k && memcmp(v + n - k, s->asan, k) == 0 &&
	    (n == k || strchr(ASAN_SEPS, v[n - k - 1]) != NULL);
}

/* Is entry one the repair replaces (LD_PRELOAD or a managed variable)? */
static int
replaced(const struct ew_shim_session *s, const char *entry)
{
	const struct ew_shim_envvar *v;
	size_t i;

	if (s->lib != NULL &&
	    match(entry, PRELOAD_NAME, PRELOAD_PREFIX_LEN - 1) != NULL)
		return 1;
	if (asan_value(s, entry) != NULL)
		return 1;
	for (i = 0; i < EW_SHIM_NVARS; i++) {
		v = &s->vars[i];
		if (v->name == NULL || (v->entry == NULL && !v->strict))
			continue;
		if (match(entry, v->name, strlen(v->name)) != NULL)
			return 1;
	}
	return 0;
}

int
ew_shim_env_check(const struct ew_shim_session *s, char *const *envp,
    size_t *nptrsp, size_t *nbytesp)
{
	size_t count[EW_SHIM_NVARS] = { 0 }, same[EW_SHIM_NVARS] = { 0 };
	size_t npreload = 0, nasan = 0, kept = 0, added = 0, i;
	const char *preload = NULL, *asan = NULL, *v;
	char *const *e;
	int need = 0;

	*nptrsp = 0;
	*nbytesp = 0;
	for (e = envp; e != NULL && *e != NULL; e++) {
		if (replaced(s, *e)) {
			if (s->lib != NULL &&
			    (v = match(*e, PRELOAD_NAME,
				 PRELOAD_PREFIX_LEN - 1)) != NULL) {
				npreload++;
				preload = v; /* ld.so takes the last one */
			}
			if ((v = asan_value(s, *e)) != NULL && nasan++ == 0)
				asan = v; /* ASan, like getenv, the first */
			for (i = 0; i < EW_SHIM_NVARS; i++) {
				if (s->vars[i].name == NULL ||
				    match(*e, s->vars[i].name,
					strlen(s->vars[i].name)) == NULL)
					continue;
				count[i]++;
				if (s->vars[i].entry != NULL &&
				    strcmp(*e, s->vars[i].entry) == 0)
					same[i]++;
			}
		} else
			kept++;
	}
	if (s->lib != NULL && (npreload != 1 || !ours_first(s, preload)))
		need = 1;
	if (s->asan != NULL && (nasan != 1 || !asan_last(s, asan)))
		need = 1;
	for (i = 0; i < EW_SHIM_NVARS; i++) {
		if (s->vars[i].name == NULL)
			continue;
		if (s->vars[i].entry != NULL) {
			added++;
			if (count[i] != 1 || same[i] != 1)
				need = 1;
		} else if (s->vars[i].strict && count[i] != 0)
			need = 1;
	}
	if (!need)
		return 0;
	*nptrsp = kept + added + 1;
	if (s->lib != NULL) {
		(*nptrsp)++;
		*nbytesp = PRELOAD_PREFIX_LEN + strlen(s->lib) + 1 +
		    (preload != NULL ? strlen(preload) + 1 : 0);
	}
	if (s->asan != NULL) {
		(*nptrsp)++;
		*nbytesp += ASAN_PREFIX_LEN + strlen(s->asan) + 1 +
		    (asan != NULL ? strlen(asan) + 1 : 0);
	}
	return 1;
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

/* "LD_PRELOAD=<lib>[:<other entries of value>]" into str[0..cap). */
static int
build_preload(
    const struct ew_shim_session *s, const char *value, char *str, size_t cap)
{
	size_t off = 0, n;
	const char *e;
	int r;

	if ((r = put(str, cap, &off, PRELOAD_PREFIX, PRELOAD_PREFIX_LEN)) !=
		0 ||
	    (r = put(str, cap, &off, s->lib, strlen(s->lib))) != 0)
		return r;
	while (value != NULL && (e = next_elem(&value, &n)) != NULL) {
		if (is_execward(s, e, n))
			continue;
		if ((r = put(str, cap, &off, ":", 1)) != 0 ||
		    (r = put(str, cap, &off, e, n)) != 0)
			return r;
	}
	return put(str, cap, &off, "", 1);
}

/*
 * "ASAN_OPTIONS=[<value>:]<s->asan>" into str[0..cap): the caller's own
 * options kept, ours last so that it wins.
 */
static int
build_asan(
    const struct ew_shim_session *s, const char *value, char *str, size_t cap)
{
	size_t off = 0;
	int r;

	if ((r = put(str, cap, &off, ASAN_PREFIX, ASAN_PREFIX_LEN)) != 0)
		return r;
	if (value != NULL && *value != '\0' &&
	    ((r = put(str, cap, &off, value, strlen(value))) != 0 ||
		(r = put(str, cap, &off, ":", 1)) != 0))
		return r;
	if ((r = put(str, cap, &off, s->asan, strlen(s->asan))) != 0)
		return r;
	return put(str, cap, &off, "", 1);
}

int
ew_shim_env_repair(const struct ew_shim_session *s, char *const *envp,
    char **ptrs, size_t nptrs, char *str, size_t nbytes)
{
	const char *preload = NULL, *asan = NULL, *v;
	char *const *e;
	size_t k = 0, i, used = 0;
	int r;

	for (e = envp; e != NULL && *e != NULL; e++) {
		if (replaced(s, *e)) {
			if (s->lib != NULL &&
			    (v = match(*e, PRELOAD_NAME,
				 PRELOAD_PREFIX_LEN - 1)) != NULL)
				preload = v;
			if ((v = asan_value(s, *e)) != NULL && asan == NULL)
				asan = v;
			continue;
		}
		if (k + 1 >= nptrs)
			return -ENOMEM;
		ptrs[k++] = *e;
	}
	for (i = 0; i < EW_SHIM_NVARS; i++) {
		if (s->vars[i].name == NULL || s->vars[i].entry == NULL)
			continue;
		if (k + 1 >= nptrs)
			return -ENOMEM;
		/* The strings are the session's; envp's type is char *const *.
		 */
		ptrs[k++] = (char *)(uintptr_t)s->vars[i].entry;
	}
	if (s->asan != NULL) {
		if (k + 1 >= nptrs)
			return -ENOMEM;
		if ((r = build_asan(s, asan, str, nbytes)) != 0)
			return r;
		ptrs[k++] = str;
		used = strlen(str) + 1;
	}
	if (s->lib != NULL) {
		if (k + 1 >= nptrs)
			return -ENOMEM;
		if ((r = build_preload(
			 s, preload, str + used, nbytes - used)) != 0)
			return r;
		ptrs[k++] = str + used;
	}
	ptrs[k] = NULL;
	return 0;
}

int
ew_shim_env_prepare(const struct ew_shim_session *s, struct ew_shim_envbuf *eb,
    char *const *envp, char *const **outp)
{
	size_t nptrs, nbytes, need;
	void *mem;
	char **ptrs;
	int saved = errno, r;

	*outp = NULL;
	eb->map = NULL;
	eb->maplen = 0;
	eb->slot = -1;
	eb->range = 0;
	if (ew_shim_env_check(s, envp, &nptrs, &nbytes) == 0) {
		*outp = envp;
		ew_shim_range_put(s, eb, outp);
		return 0;
	}
	if (nptrs > (SIZE_MAX - nbytes) / sizeof(char *))
		return -ENOMEM;
	need = nptrs * sizeof(char *) + nbytes;
	if (need <= sizeof(eb->stack.bytes))
		mem = eb->stack.bytes;
	else {
		/*
		 * XXX In a vfork child whose exec then succeeds, this mapping
		 * stays in the parent: only environments of about a thousand
		 * entries that also need repair get here.
		 */
		mem = mmap(NULL, need, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			errno = saved;
			return -ENOMEM;
		}
		eb->map = mem;
		eb->maplen = need;
	}
	ptrs = mem;
	r = ew_shim_env_repair(
	    s, envp, ptrs, nptrs, (char *)mem + nptrs * sizeof(char *), nbytes);
	if (r != 0) {
		ew_shim_envbuf_release(eb);
		return r;
	}
	*outp = ptrs;
	ew_shim_range_put(s, eb, outp);
	return 0;
}

void
ew_shim_envbuf_release(struct ew_shim_envbuf *eb)
{
	int saved = errno;

	ew_shim_range_release(eb);
	if (eb->map != NULL)
		(void)munmap(eb->map, eb->maplen);
	eb->map = NULL;
	eb->maplen = 0;
	errno = saved;
}
