/*
 * Start a program past the shim, the ways the kernel backstop must catch
 * (tests/integration/test_backstop.py):
 *
 *   ew_rawexec MODE PROG [ARG]...
 *
 * syscall   syscall(SYS_execve)
 * execveat  the execveat system call, by path
 * fd        execveat(fd, "", AT_EMPTY_PATH) on the file opened O_PATH
 * dlmopen   execve of a second libc, dlmopen()ed in LM_ID_NEWLM
 * int80     the i386 execve, int 0x80, with 32-bit pointers (x86_64)
 * occupied  something else mapped where EXECWARD_RANGE points, then
 *           execve through libc (the shim asks; its start is trapped
 *           and must be matched to its question)
 * spawn     posix_spawn through libc with the range occupied too, and
 *           wait: the spawn's child is trapped and matched
 * forge-in  a hostile static program's forgery: map the envp range where
 *           EXECWARD_RANGE says (or find it mapped), copy environ into a
 *           slot and make the raw execve system call with that envp (the
 *           backstop's known hole: it passes unasked)
 * forge-below, forge-past, forge-4g
 *           the same with the envp array just below the range's start,
 *           at its end, or 4 GiB above the slot (the same low half: the
 *           filter's bounds and its high-half compare: trapped)
 *
 * When the start fails: "errno=N" on stdout, exit 1.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_range.h"

extern char **environ;

typedef int (*execve_fn)(const char *, char *const[], char *const[]);

static int
fail(int err)
{
	printf("errno=%d\n", err);
	fflush(stdout);
	return 1;
}

#if defined(__x86_64__)
/* A copy of s below 4 GiB. */
static char *
low_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, s, n);
	return p;
}

/* execve by the i386 system call: every pointer below 4 GiB. */
static int
int80(char **argv)
{
	uint32_t *av, *ev;
	size_t argc = 0, envc = 0, i;
	char *path, *s;
	long r;

	while (argv[argc] != NULL)
		argc++;
	while (environ[envc] != NULL)
		envc++;
	av = mmap(NULL, (argc + envc + 2) * 4, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (av == MAP_FAILED || (path = low_str(argv[0])) == NULL)
		return ENOMEM;
	for (i = 0; i < argc; i++) {
		if ((s = low_str(argv[i])) == NULL)
			return ENOMEM;
		av[i] = (uint32_t)(uintptr_t)s;
	}
	av[argc] = 0;
	ev = av + argc + 1;
	for (i = 0; i < envc; i++) {
		if ((s = low_str(environ[i])) == NULL)
			return ENOMEM;
		ev[i] = (uint32_t)(uintptr_t)s;
	}
	ev[envc] = 0;
	__asm__ volatile(
	    "int $0x80"
	    : "=a"(r)
	    : "a"(11L), "b"((long)(uintptr_t)path), "c"((long)(uintptr_t)av),
	    "d"((long)(uintptr_t)ev)
	    /* The compat entry clears r8-r15. */
	    : "memory", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15");
	return (int)-r;
}
#endif

/* Map one page where EXECWARD_RANGE points: the shim cannot use it. */
static int
occupy(void)
{
	const char *v = getenv("EXECWARD_RANGE");
	void *want, *p;

	if (v == NULL)
		return ENOENT;
	want = (void *)(uintptr_t)strtoull(v, NULL, 16);
	p = mmap(want, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	return p == want ? 0 : errno;
}

/* The page size assumed by the forgery's mapping (x86_64, arm64's 4K). */
#define PAGE 4096u

/*
 * Forge an envp at offset off from EXECWARD_RANGE's start (mapping what is
 * needed there, whatever the shim did) and execve raw with it.
 */
static int
forge(char **argv, long off)
{
	const char *v = getenv("EXECWARD_RANGE");
	uintptr_t lo, at, page;
	size_t n = 0, len;
	char **envp;
	void *p;

	if (v == NULL)
		return ENOENT;
	lo = (uintptr_t)strtoull(v, NULL, 16);
	at = lo + (uintptr_t)off;
	while (environ[n] != NULL)
		n++;
	/* The page(s) holding the copy; mapped here unless already. */
	page = at & ~(uintptr_t)(PAGE - 1);
	len = ((at + (n + 1) * sizeof(char *) + PAGE - 1) &
		  ~(uintptr_t)(PAGE - 1)) -
	    page;
	p = mmap((void *)page, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED && errno != EEXIST)
		return errno;
	envp = (char **)at;
	memcpy(envp, environ, (n + 1) * sizeof(char *));
	syscall(SYS_execve, argv[0], argv, envp);
	return errno;
}

/* Within the range: in its sixth slot, past the slot's word. */
#define FORGE_IN (5L * (long)EW_RANGE_SLOT_SIZE + (long)EW_RANGE_WORD_SIZE)

int
main(int argc, char **argv)
{
	const char *mode;
	execve_fn fn;
	int *(*errno_at)(void);
	void *h;
	pid_t pid;
	int fd, st, r;

	if (argc < 3) {
		fprintf(stderr, "usage: ew_rawexec MODE PROG [ARG]...\n");
		return 2;
	}
	mode = argv[1];
	argv += 2;
	if (strcmp(mode, "syscall") == 0) {
		syscall(SYS_execve, argv[0], argv, environ);
		return fail(errno);
	}
	if (strcmp(mode, "execveat") == 0) {
		syscall(SYS_execveat, AT_FDCWD, argv[0], argv, environ, 0);
		return fail(errno);
	}
	if (strcmp(mode, "fd") == 0) {
		if ((fd = open(argv[0], O_PATH | O_CLOEXEC)) < 0)
			return fail(errno);
		syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
		return fail(errno);
	}
	if (strcmp(mode, "dlmopen") == 0) {
		if ((h = dlmopen(LM_ID_NEWLM, "libc.so.6", RTLD_NOW)) == NULL) {
			fprintf(stderr, "dlmopen: %s\n", dlerror());
			return 2;
		}
		*(void **)&fn = dlsym(h, "execve");
		*(void **)&errno_at = dlsym(h, "__errno_location");
		if (fn == NULL || errno_at == NULL)
			return 2;
		fn(argv[0], argv, environ);
		/* That libc's errno, not ours. */
		return fail(*errno_at());
	}
#if defined(__x86_64__)
	if (strcmp(mode, "int80") == 0)
		return fail(int80(argv));
#endif
	if (strcmp(mode, "occupied") == 0) {
		if ((r = occupy()) != 0)
			return fail(r);
		execve(argv[0], argv, environ);
		return fail(errno);
	}
	if (strcmp(mode, "spawn") == 0) {
		if ((r = occupy()) != 0)
			return fail(r);
		if ((r = posix_spawn(
			 &pid, argv[0], NULL, NULL, argv, environ)) != 0)
			return fail(r);
		while (waitpid(pid, &st, 0) < 0)
			;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	if (strcmp(mode, "forge-in") == 0)
		return fail(forge(argv, FORGE_IN));
	if (strcmp(mode, "forge-below") == 0)
		return fail(forge(argv, -(long)sizeof(char *)));
	if (strcmp(mode, "forge-past") == 0)
		return fail(forge(argv, (long)EW_RANGE_SIZE));
	if (strcmp(mode, "forge-4g") == 0)
		return fail(forge(argv, FORGE_IN + (1L << 32)));
	fprintf(stderr, "ew_rawexec: unknown mode %s\n", mode);
	return 2;
}
