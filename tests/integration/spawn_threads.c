/*
 * Integration helper: THREADS threads each posix_spawn and reap PROGRAM
 * COUNT times, concurrently. Prints "spawned N failed M" and exits 0 when
 * nothing failed.
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

static const char *program;
static int count;

static void *
worker(void *arg)
{
	long failed = 0;
	char *argv[] = { (char *)program, NULL };
	pid_t pid;
	int i, st;

	for (i = 0; i < count; i++) {
		if (posix_spawn(&pid, program, NULL, NULL, argv, environ) !=
			0 ||
		    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed++;
	}
	return (void *)failed;
}

int
main(int argc, char **argv)
{
	pthread_t *t;
	long failed = 0;
	void *rv;
	int n, i;

	if (argc != 4) {
		fprintf(stderr, "usage: spawn_threads THREADS COUNT PROGRAM\n");
		return 2;
	}
	n = atoi(argv[1]);
	count = atoi(argv[2]);
	program = argv[3];
	if (n <= 0 || count <= 0 || (t = calloc((size_t)n, sizeof(*t))) == NULL)
		return 2;
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 1;
	for (i = 0; i < n; i++) {
		pthread_join(t[i], &rv);
		failed += (long)rv;
	}
	printf("spawned %d failed %ld\n", n * count, failed);
	free(t);
	return failed == 0 ? 0 : 1;
}
