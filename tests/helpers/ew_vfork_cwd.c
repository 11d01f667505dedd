/*
 * A vfork child in a very long working directory starts a program, with
 * every malloc-family call counted: the shim's exec path must make none.
 * glibc's getcwd() falls back to malloc and opendir("..") when the
 * kernel's getcwd fails with ENAMETOOLONG (a cwd past one page), and in a
 * vfork child that corrupts the parent's heap.
 *
 * usage: ew_vfork_cwd DIR LENGTH PROGRAM [ARG]...
 *
 * Makes a chain of folders under DIR until the working
 * directory's path is at least LENGTH bytes long, enters it, then vforks;
 * the child calls execv(PROGRAM, [PROGRAM, ARG...]) and _exits 127 if it
 * returns. Prints one line:
 *   cwdlen=N mallocs=N exit=N
 * mallocs counts the malloc-family calls made between vfork and the
 * child's exec (the child shares our memory, so its calls land here).
 * This program exports malloc and friends (built with -rdynamic), so the
 * calls of every library, libc's own included, come here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* glibc's own allocator, under its exported internal names. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);
void *memalign(size_t, size_t);

/* Length of each folder name in the chain. */
#define COMPONENT 200

static volatile int counting;
static volatile unsigned long calls;

static void
count(void)
{
	if (counting)
		calls++;
}

void *
malloc(size_t n)
{
	count();
	return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	count();
	return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	count();
	return __libc_realloc(p, n);
}

void
free(void *p)
{
	count();
	__libc_free(p);
}

void *
memalign(size_t align, size_t n)
{
	count();
	return __libc_memalign(align, n);
}

int
posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	count();
	if ((p = __libc_memalign(align, n)) == NULL)
		return ENOMEM;
	*out = p;
	return 0;
}

void *
aligned_alloc(size_t align, size_t n)
{
	count();
	return __libc_memalign(align, n);
}

/* Go COMPONENT-byte folders deep until the path is len bytes long. */
static size_t
go_deep(size_t len)
{
	char name[COMPONENT + 1], here[4096];
	size_t have;

	memset(name, 'd', COMPONENT);
	name[COMPONENT] = '\0';
	if (getcwd(here, sizeof(here)) == NULL) {
		perror("getcwd");
		exit(2);
	}
	for (have = strlen(here); have < len; have += COMPONENT + 1) {
		if ((mkdir(name, 0755) != 0 && errno != EEXIST) ||
		    chdir(name) != 0) {
			perror("mkdir/chdir");
			exit(2);
		}
	}
	return have;
}

int
main(int argc, char **argv)
{
	unsigned long got;
	size_t len;
	int status;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr,
		    "usage: ew_vfork_cwd DIR LENGTH PROGRAM [ARG]...\n");
		return 2;
	}
	if (chdir(argv[1]) != 0) {
		perror(argv[1]);
		return 2;
	}
	len = go_deep(strtoul(argv[2], NULL, 10));
	fflush(stdout);
	calls = 0;
	counting = 1;
	pid = vfork();
	if (pid == 0) {
		execv(argv[3], argv + 3);
		_exit(127);
	}
	counting = 0;
	got = calls;
	if (pid < 0) {
		perror("vfork");
		return 2;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 2;
	printf("cwdlen=%zu mallocs=%lu exit=%d\n", len, got,
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
