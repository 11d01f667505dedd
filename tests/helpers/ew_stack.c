/*
 * Every entry point of the shim on a 64 KiB thread stack: each runs in a
 * thread of its own whose stack was painted first, and the stack's high
 * water mark is measured after. The exec family runs in a vfork child,
 * which uses the thread's stack as it is.
 *
 * usage: ew_stack PROGRAM SCRIPT MARKER
 *
 * PROGRAM is started with MARKER as its argument by each entry point
 * (system and popen: "PROGRAM MARKER" as the command); SCRIPT, a name
 * found in PATH, is a file without "#!" that execvp runs through /bin/sh
 * (the deepest path through the shim). One line per entry point:
 *   MODE used=BYTES status=N
 * (N is the started program's exit status, -1 when it did not run), then
 * "max=BYTES". Exits 0 when every program ran and exited 0, else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The stack each entry point gets. */
#define STACK_SIZE (64 * 1024)
/* What a painted byte holds. */
#define PAINT 0xa5
/* Left unpainted below the painting frame (its own calls). */
#define PAINT_MARGIN 512

struct job {
	const char *mode;
	int status;
	size_t used;
};

static const char *prog, *script, *marker;

static int
wait_for(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The exec family, in a vfork child on this thread's stack. */
static int
run_exec(const char *mode)
{
	char *argv[] = { (char *)prog, (char *)marker, NULL };
	char *sargv[] = { (char *)script, (char *)marker, NULL };
	volatile int fd = -1;
	pid_t pid;

	if (strcmp(mode, "fexecve") == 0 &&
	    (fd = open(prog, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((pid = vfork()) == 0) {
		if (strcmp(mode, "execve") == 0)
			execve(prog, argv, environ);
		else if (strcmp(mode, "execv") == 0)
			execv(prog, argv);
		else if (strcmp(mode, "execvp") == 0)
			execvp(prog, argv);
		else if (strcmp(mode, "execvpe") == 0)
			execvpe(prog, argv, environ);
		else if (strcmp(mode, "execl") == 0)
			execl(prog, prog, marker, (char *)NULL);
		else if (strcmp(mode, "execle") == 0)
			execle(prog, prog, marker, (char *)NULL, environ);
		else if (strcmp(mode, "execlp") == 0)
			execlp(prog, prog, marker, (char *)NULL);
		else if (strcmp(mode, "execveat") == 0)
			execveat(AT_FDCWD, prog, argv, environ, 0);
		else if (strcmp(mode, "fexecve") == 0)
			fexecve(fd, argv, environ);
		else if (strcmp(mode, "execvp-script") == 0)
			execvp(script, sargv);
		_exit(127);
	}
	if (fd >= 0)
		close(fd);
	return pid < 0 ? -1 : wait_for(pid);
}

static int
run_other(const char *mode)
{
	char *argv[] = { (char *)prog, (char *)marker, NULL };
	char cmd[8192], buf[256];
	FILE *fp;
	pid_t pid;
	int r;

	snprintf(cmd, sizeof(cmd), "%s %s", prog, marker);
	if (strcmp(mode, "posix_spawn") == 0 ||
	    strcmp(mode, "posix_spawnp") == 0) {
		r = (mode[11] == 'p' ? posix_spawnp : posix_spawn)(
		    &pid, prog, NULL, NULL, argv, environ);
		return r != 0 ? -1 : wait_for(pid);
	}
	if (strcmp(mode, "system") == 0) {
		r = system(cmd);
		return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
	}
	if ((fp = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), fp) != NULL)
		;
	r = pclose(fp);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static void *
thread(void *arg)
{
	struct job *j = arg;
	pthread_attr_t a;
	unsigned char *lo, *p, here;
	size_t size;

	/* Paint what is below us, then find how far down the calls went. */
	if (pthread_getattr_np(pthread_self(), &a) != 0 ||
	    pthread_attr_getstack(&a, (void **)&lo, &size) != 0)
		abort();
	pthread_attr_destroy(&a);
	memset(lo, PAINT, (size_t)(&here - lo) - PAINT_MARGIN);
	if (strncmp(j->mode, "exec", 4) == 0 ||
	    strncmp(j->mode, "fexec", 5) == 0)
		j->status = run_exec(j->mode);
	else
		j->status = run_other(j->mode);
	for (p = lo; p < lo + size && *p == PAINT; p++)
		;
	j->used = (size_t)(lo + size - p);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const char *const modes[] = { "execve", "execv", "execvp",
		"execvpe", "execl", "execle", "execlp", "execveat", "fexecve",
		"execvp-script", "posix_spawn", "posix_spawnp", "system",
		"popen" };
	pthread_attr_t a;
	pthread_t t;
	struct job j;
	size_t i, max = 0;
	int bad = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: ew_stack PROGRAM SCRIPT MARKER\n");
		return 2;
	}
	prog = argv[1];
	script = argv[2];
	marker = argv[3];
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		memset(&j, 0, sizeof(j));
		j.mode = modes[i];
		if (pthread_attr_init(&a) != 0 ||
		    pthread_attr_setstacksize(&a, STACK_SIZE) != 0 ||
		    pthread_create(&t, &a, thread, &j) != 0 ||
		    pthread_join(t, NULL) != 0) {
			perror("pthread");
			return 2;
		}
		pthread_attr_destroy(&a);
		printf("%s used=%zu status=%d\n", j.mode, j.used, j.status);
		fflush(stdout);
		if (j.used > max)
			max = j.used;
		bad |= j.status != 0;
	}
	printf("max=%zu\n", max);
	return bad;
}
