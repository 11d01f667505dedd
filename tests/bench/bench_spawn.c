/*
 * Benchmark: the time to start and reap a program, by posix_spawn or by
 * fork+execve, N times. Prints one line of JSON: the mode, the count, and
 * the minimum, median and 99th percentile in microseconds. scripts/bench
 * runs it bare and under each preload to compare, in the same run.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
once(const char *mode, char *const argv[])
{
	pid_t pid;
	int st;

	if (strcmp(mode, "posix_spawn") == 0) {
		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
			return -1;
	} else {
		if ((pid = fork()) < 0)
			return -1;
		if (pid == 0) {
			execve(argv[0], argv, environ);
			_exit(127);
		}
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	char *targv[] = { NULL, NULL };
	double *t, t0;
	int n, i, warm = 20;

	if (argc != 4 ||
	    (strcmp(argv[1], "posix_spawn") != 0 &&
		strcmp(argv[1], "fork_execve") != 0)) {
		fprintf(stderr,
		    "usage: bench_spawn posix_spawn|fork_execve "
		    "COUNT PROGRAM\n");
		return 2;
	}
	n = atoi(argv[2]);
	targv[0] = argv[3];
	if (n < 1 || (t = calloc((size_t)n, sizeof(*t))) == NULL)
		return 2;
	for (i = 0; i < warm; i++)
		if (once(argv[1], targv) != 0) {
			fprintf(stderr, "bench_spawn: %s failed\n", argv[3]);
			return 1;
		}
	for (i = 0; i < n; i++) {
		t0 = now_us();
		if (once(argv[1], targv) != 0) {
			fprintf(stderr, "bench_spawn: %s failed\n", argv[3]);
			return 1;
		}
		t[i] = now_us() - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("{\"mode\":\"%s\",\"count\":%d,\"min_us\":%.1f,"
	       "\"median_us\":%.1f,\"p99_us\":%.1f}\n",
	    argv[1], n, t[0], t[n / 2], t[(size_t)((n - 1) * 0.99)]);
	free(t);
	return 0;
}
