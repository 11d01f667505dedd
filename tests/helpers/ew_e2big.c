/*
 * Find where the kernel's argument limit lies, then start a program just
 * within it and just past it through the shim: the shim must start the
 * first (asking about it) and refuse the second with E2BIG as the kernel
 * would (asking nothing).
 *
 * usage: ew_e2big STACK COUNT MODE PROGRAM MARKER
 *
 * STACK: RLIMIT_STACK to set first, in bytes (the limit is a quarter of
 * it, at least 32 pages, at most 6 MiB). COUNT: how many 1000-byte
 * arguments come before the padding. MODE: execve or posix_spawn.
 * argv is PROGRAM MARKER <COUNT x 1000 bytes> PAD; the environment is
 * ours. The limit is found with the raw execve system call (the shim does
 * not see it) in forked children: the longest PAD that still starts. Then
 * MARKER is removed and MODE starts PROGRAM with that PAD ("at") and with
 * one byte more ("over"). Output, one line each:
 *   pad=N
 *   at rc=N errno=N exit=N
 *   over rc=N errno=N exit=N
 * (exit is -1 when nothing started.)
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Each filler argument's length, and the longest PAD (MAX_ARG_STRLEN-1). */
#define FILLER 1000
#define PAD_MAX (32 * 4096 - 1)

static char **argv_buf;
static size_t nfixed;
static char *pad;

/* argv with a PAD of len bytes. */
static char **
with_pad(size_t len)
{
	memset(pad, 'p', len);
	pad[len] = '\0';
	argv_buf[nfixed] = pad;
	argv_buf[nfixed + 1] = NULL;
	return argv_buf;
}

/* Does the kernel start it (raw system call, in a child)? */
static int
starts(const char *prog, size_t len)
{
	char **a = with_pad(len);
	int status;
	pid_t pid;

	if ((pid = fork()) == 0) {
		syscall(SYS_execve, prog, a, environ);
		_exit(errno == E2BIG ? 99 : 98);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		perror("fork/waitpid");
		exit(2);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 98) {
		fprintf(stderr, "ew_e2big: exec failed, not with E2BIG\n");
		exit(2);
	}
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 99);
}

/* Start it through the shim; print what happened. */
static void
run(const char *what, const char *mode, const char *prog, size_t len)
{
	char **a = with_pad(len);
	int rc, err, status, code = -1;
	pid_t pid;

	fflush(stdout);
	if (strcmp(mode, "posix_spawn") == 0) {
		errno = EDOM;
		rc = posix_spawn(&pid, prog, NULL, NULL, a, environ);
		err = errno;
		if (rc == 0 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status))
			code = WEXITSTATUS(status);
	} else {
		int p[2];

		/* The exec's result comes back through a close-on-exec pipe. */
		if (pipe2(p, O_CLOEXEC) != 0)
			exit(2);
		if ((pid = fork()) == 0) {
			errno = EDOM;
			rc = execve(prog, a, environ);
			err = errno;
			(void)!write(p[1], &rc, sizeof(rc));
			(void)!write(p[1], &err, sizeof(err));
			_exit(120);
		}
		close(p[1]);
		rc = 0;
		err = 0;
		if (read(p[0], &rc, sizeof(rc)) == sizeof(rc))
			(void)!read(p[0], &err, sizeof(err));
		close(p[0]);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) != 120)
			code = WEXITSTATUS(status);
	}
	printf("%s rc=%d errno=%d exit=%d\n", what, rc, err, code);
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	size_t count, lo = 0, hi = PAD_MAX, mid, i;
	const char *mode, *prog, *marker;

	if (argc != 6) {
		fprintf(stderr,
		    "usage: ew_e2big STACK COUNT MODE PROGRAM MARKER\n");
		return 2;
	}
	if (getrlimit(RLIMIT_STACK, &rl) != 0)
		return 2;
	rl.rlim_cur = strtoul(argv[1], NULL, 10);
	if (setrlimit(RLIMIT_STACK, &rl) != 0) {
		perror("setrlimit");
		return 2;
	}
	count = strtoul(argv[2], NULL, 10);
	mode = argv[3];
	prog = argv[4];
	marker = argv[5];
	if ((argv_buf = calloc(count + 4, sizeof(char *))) == NULL ||
	    (pad = malloc(PAD_MAX + 2)) == NULL)
		return 2;
	argv_buf[0] = (char *)prog;
	argv_buf[1] = (char *)marker;
	for (i = 0; i < count; i++) {
		if ((argv_buf[2 + i] = malloc(FILLER + 1)) == NULL)
			return 2;
		memset(argv_buf[2 + i], 'f', FILLER);
		argv_buf[2 + i][FILLER] = '\0';
	}
	nfixed = 2 + count;
	/* The longest PAD that starts: starts(lo) holds, starts(hi+1) not. */
	if (!starts(prog, 0) || starts(prog, PAD_MAX)) {
		fprintf(stderr, "ew_e2big: the limit is not within one PAD\n");
		return 2;
	}
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (starts(prog, mid))
			lo = mid;
		else
			hi = mid - 1;
	}
	printf("pad=%zu\n", lo);
	(void)unlink(marker);
	run("at", mode, prog, lo);
	run("over", mode, prog, lo + 1);
	return 0;
}
