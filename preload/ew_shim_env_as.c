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

#include "ew_env.h"
#include "ew_shim.h"

/* The ASAN_OPTIONS value of entry when the session checks it, or NULL. */
static const char *
asan_value(const struct ew_shim_session *s, const char *entry)
{
	if (!s->asan)
		return NULL;
	return ew_env_value(entry, EW_ENV_ASAN);
}

/* Is entry one the repair replaces (LD_PRELOAD or a managed variable)? */
static int
replaced(const struct ew_shim_session *s, const char *entry)
{
	const struct ew_shim_envvar *v;
	size_t i;

	if (s->lib != NULL && ew_env_value(entry, EW_ENV_PRELOAD) != NULL)
		return 1;
	if (asan_value(s, entry) != NULL)
		return 1;
	for (i = 0; i < EW_SHIM_NVARS; i++) {
		v = &s->vars[i];
		if (v->name == NULL || (v->entry == NULL && !v->strict))
			continue;
		if (ew_env_value(entry, v->name) != NULL)
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
			    (v = ew_env_value(*e, EW_ENV_PRELOAD)) != NULL) {
				npreload++;
				preload = v; /* ld.so takes the last one */
			}
			if ((v = asan_value(s, *e)) != NULL && nasan++ == 0)
				asan = v; /* ASan, like getenv, the first */
			for (i = 0; i < EW_SHIM_NVARS; i++) {
				if (s->vars[i].name == NULL ||
				    ew_env_value(*e, s->vars[i].name) == NULL)
					continue;
				count[i]++;
				if (s->vars[i].entry != NULL &&
				    strcmp(*e, s->vars[i].entry) == 0)
					same[i]++;
			}
		} else
			kept++;
	}
	if (s->lib != NULL &&
	    (npreload != 1 || !ew_env_preload_first(preload, s->lib)))
		need = 1;
	if (s->asan && (nasan != 1 || !ew_env_asan_last(asan)))
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
		*nbytesp = ew_env_preload_size(s->lib, preload);
	}
	if (s->asan) {
		(*nptrsp)++;
		*nbytesp += ew_env_asan_size(asan);
	}
	return 1;
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
			    (v = ew_env_value(*e, EW_ENV_PRELOAD)) != NULL)
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
	if (s->asan) {
		if (k + 1 >= nptrs)
			return -ENOMEM;
		if ((r = ew_env_put_asan(str, nbytes, asan)) != 0)
			return r;
		ptrs[k++] = str;
		used = strlen(str) + 1;
	}
	if (s->lib != NULL) {
		if (k + 1 >= nptrs)
			return -ENOMEM;
		if ((r = ew_env_put_preload(
			 str + used, nbytes - used, s->lib, preload)) != 0)
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
