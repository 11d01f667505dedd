/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; errno is
 * preserved.
 *
 * Would the kernel refuse an exec with E2BIG? Such a start is not asked
 * about (nothing would run, and a flood of refused giant requests would
 * only fill the audit log); the shim fails it with E2BIG as the kernel
 * would. The limits are fs/exec.c's (bprm_stack_limits, copy_strings):
 *
 * - the strings (the file name as passed, then every envp and argv
 *   string, each with its NUL) and one pointer per argv and envp entry
 *   (at least one argv slot: an empty argv gets "" added) must fit in a
 *   quarter of the stack rlimit, at most 3/4 of _STK_LIM (6 MiB) and at
 *   least ARG_MAX (32 pages);
 * - each string, with its NUL, must fit in MAX_ARG_STRLEN (32 pages).
 *
 * Where this errs, it errs towards E2BIG by a few bytes (older kernels
 * did not count the added "" slot): a start it refuses runs unasked never.
 */
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>

#include "ew_shim.h"

/* The kernel's _STK_LIM (include/uapi/linux/resource.h). */
#define EW_SHIM_STK_LIM (8UL * 1024 * 1024)
/* ARG_MAX and MAX_ARG_STRLEN are both 32 pages. */
#define EW_SHIM_ARG_PAGES 32UL
/* The page size when the auxiliary vector does not say. */
#define EW_SHIM_PAGE_DEFAULT 4096UL

/*
 * Add the strings of v (each with its NUL) to *bytes and their number to
 * *count. 1 when a string is longer than strmax or the sum passes cap.
 */
static int
add_strings(
    char *const *v, size_t strmax, size_t cap, size_t *bytes, size_t *count)
{
	size_t n;

	for (; v != NULL && *v != NULL; v++, (*count)++) {
		n = strnlen(*v, strmax) + 1;
		if (n > strmax || n > cap - *bytes)
			return 1;
		*bytes += n;
	}
	return 0;
}

/* Do bytes of strings and ptrs of pointers fit in limit (bprm_stack_limits)? */
static int
fits(size_t bytes, size_t ptrs, size_t limit)
{
	return limit > ptrs && bytes <= limit - ptrs;
}

int
ew_shim_args_e2big(const char *filename, char *const *argv, char *const *envp)
{
	unsigned long page = getauxval(AT_PAGESZ);
	struct rlimit rl;
	size_t limit, strmax, ptrs, bytes = 0, argc = 0, envc = 0;
	int saved = errno, r = 0;

	if (page == 0)
		page = EW_SHIM_PAGE_DEFAULT;
	strmax = EW_SHIM_ARG_PAGES * page;
	/* The most the kernel takes, whatever the rlimit. */
	limit = EW_SHIM_STK_LIM / 4 * 3;
	/* Strings past limit fail anyway: count no further. */
	if (add_strings((char *const[]){ (char *)(uintptr_t)filename, NULL },
		strmax, limit, &bytes, &(size_t){ 0 }) ||
	    add_strings(envp, strmax, limit, &bytes, &envc) ||
	    add_strings(argv, strmax, limit, &bytes, &argc)) {
		r = 1;
		goto out;
	}
	if (argc == 0)
		bytes++; /* the "" the kernel adds */
	ptrs = ((argc > 0 ? argc : 1) + envc) * sizeof(void *);
	/*
	 * The kernel takes at least ARG_MAX whatever the stack rlimit: only
	 * a start past that needs the rlimit (a system call every exec).
	 */
	if (fits(bytes, ptrs, strmax))
		goto out;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur / 4 < limit)
		limit = rl.rlim_cur / 4 > strmax ? rl.rlim_cur / 4 : strmax;
	r = !fits(bytes, ptrs, limit);
out:
	errno = saved;
	return r;
}
