/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; stack or mmap'd
 * storage only; errno is preserved until the real function sets it.
 *
 * The variadic exec family: execl, execle, execlp. Each gathers its
 * arguments into an argv array (on the stack, as glibc does) and takes the
 * common exec path. The va_list is walked only in the function that owns
 * it, as some ABIs pass it by value.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ew_shim.h"

extern char **environ;

/* Argument vectors up to this many pointers live on the stack. */
#define EW_SHIM_EXECL_STACK 128

/* Storage for n + 1 argv pointers: stack or, beyond it, mmap. */
struct argv_store {
	char *stack[EW_SHIM_EXECL_STACK];
	void *map;
	size_t maplen;
};

static char **
argv_alloc(struct argv_store *st, size_t n)
{
	void *p;

	st->map = NULL;
	st->maplen = 0;
	if (n < EW_SHIM_EXECL_STACK)
		return st->stack;
	if (n >= SIZE_MAX / sizeof(char *) - 1)
		return NULL;
	/*
	 * XXX In a vfork child whose exec then succeeds, this mapping stays
	 * in the parent: only calls with hundreds of arguments get here.
	 */
	st->maplen = (n + 1) * sizeof(char *);
	p = mmap(NULL, st->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		st->maplen = 0;
		return NULL;
	}
	st->map = p;
	return p;
}

static void
argv_free(struct argv_store *st)
{
	int saved = errno;

	if (st->map != NULL)
		(void)munmap(st->map, st->maplen);
	errno = saved;
}

/* Run the common exec path on argv, then release it. */
static int
run(uint32_t via, const char *file, struct argv_store *st, char **argv,
    char *const *envp, int search)
{
	int r;

	r = ew_shim_exec(via, file, argv, envp, search);
	argv_free(st);
	return r;
}

EW_SHIM_EXPORT int
execl(const char *path, const char *arg, ...)
{
	struct argv_store st;
	va_list ap;
	size_t n = 0, i;
	char **argv;
	int saved = errno;

	va_start(ap, arg);
	if (ew_shim_launder(arg) != NULL)
		for (n = 1; va_arg(ap, char *) != NULL; n++)
			;
	va_end(ap);
	if ((argv = argv_alloc(&st, n)) == NULL) {
		errno = E2BIG;
		return -1;
	}
	errno = saved;
	va_start(ap, arg);
	argv[0] = (char *)(uintptr_t)arg;
	for (i = 1; i <= n; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[n] = NULL;
	return run(EW_VIA_EXECL, path, &st, argv, environ, 0);
}

EW_SHIM_EXPORT int
execle(const char *path, const char *arg, ...)
{
	struct argv_store st;
	char *const *envp;
	va_list ap;
	size_t n = 0, i;
	char **argv;
	int saved = errno;

	va_start(ap, arg);
	if (ew_shim_launder(arg) != NULL)
		for (n = 1; va_arg(ap, char *) != NULL; n++)
			;
	envp = va_arg(ap, char *const *);
	va_end(ap);
	if ((argv = argv_alloc(&st, n)) == NULL) {
		errno = E2BIG;
		return -1;
	}
	errno = saved;
	va_start(ap, arg);
	argv[0] = (char *)(uintptr_t)arg;
	for (i = 1; i <= n; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[n] = NULL;
	return run(EW_VIA_EXECLE, path, &st, argv, envp, 0);
}

EW_SHIM_EXPORT int
execlp(const char *file, const char *arg, ...)
{
	struct argv_store st;
	va_list ap;
	size_t n = 0, i;
	char **argv;
	int saved = errno;

	va_start(ap, arg);
	if (ew_shim_launder(arg) != NULL)
		for (n = 1; va_arg(ap, char *) != NULL; n++)
			;
	va_end(ap);
	if ((argv = argv_alloc(&st, n)) == NULL) {
		errno = E2BIG;
		return -1;
	}
	errno = saved;
	va_start(ap, arg);
	argv[0] = (char *)(uintptr_t)arg;
	for (i = 1; i <= n; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[n] = NULL;
	return run(EW_VIA_EXECLP, file, &st, argv, environ, 1);
}
