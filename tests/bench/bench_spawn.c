/*
 * Benchmark: the time to start and reap a program, by posix_spawn or by
 * fork+execve, N times. Prints one line of JSON: the mode, the count, and
 * the minimum, median and 99th percentile in microseconds. scripts/bench
 * runs it bare and under each preload to compare, in the same run.
 *
 * usage: bench_spawn [-p] [-e NAME=VALUE]... [-s FILE] [-w WARM]
 *                    posix_spawn|fork_execve COUNT PROGRAM
 *   -e  add NAME=VALUE to the child's environment only (replacing NAME),
 *       so a bare spawner can measure what a preload costs the child
 *   -p  paced: each timed start waits for a byte on stdin and is answered
 *       by one on stdout, so that bench_pace can interleave several
 *       spawners one start at a time (the warm starts are not paced)
 *   -s  append each timing (us, one a line) to FILE, for pooling rounds
 *   -w  untimed starts first (default 20)
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_EXTRA 16

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
once(const char *mode, char *const argv[], char *const envp[])
{
	pid_t pid;
	int st;

	if (strcmp(mode, "posix_spawn") == 0) {
		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, envp) != 0)
			return -1;
	} else {
		if ((pid = fork()) < 0)
			return -1;
		if (pid == 0) {
			execve(argv[0], argv, envp);
			_exit(127);
		}
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

/* environ without the names in extra, then extra: the child's envp. */
static char **
child_env(char **extra, int nextra)
{
	char **env;
	size_t n = 0, k = 0, len;
	int i, skip;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + (size_t)nextra + 1, sizeof(*env))) == NULL)
		return NULL;
	for (n = 0; environ[n] != NULL; n++) {
		skip = 0;
		for (i = 0; i < nextra; i++) {
			len = (size_t)(strchr(extra[i], '=') - extra[i]) + 1;
			if (strncmp(environ[n], extra[i], len) == 0)
				skip = 1;
		}
		if (!skip)
			env[k++] = environ[n];
	}
	for (i = 0; i < nextra; i++)
		env[k++] = extra[i];
	env[k] = NULL;
	return env;
}

/* Paced: wait for bench_pace's byte, or tell it a start is done. */
static int
pace_wait(void)
{
	char c;

	return read(STDIN_FILENO, &c, 1) == 1 ? 0 : -1;
}

static int
pace_done(void)
{
	return write(STDOUT_FILENO, "d", 1) == 1 ? 0 : -1;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: bench_spawn [-p] [-e NAME=VALUE]... [-s FILE] [-w WARM] "
	    "posix_spawn|fork_execve COUNT PROGRAM\n");
	return 2;
}

int
main(int argc, char **argv)
{
	char *targv[] = { NULL, NULL }, *extra[MAX_EXTRA], **envp;
	const char *samples = NULL, *mode;
	FILE *sf;
	double *t, t0;
	int n, i, c, nextra = 0, warm = 20, paced = 0;

	while ((c = getopt(argc, argv, "+e:ps:w:")) != -1) {
		switch (c) {
		case 'p':
			paced = 1;
			break;
		case 'e':
			if (nextra == MAX_EXTRA || strchr(optarg, '=') == NULL)
				return usage();
			extra[nextra++] = optarg;
			break;
		case 's':
			samples = optarg;
			break;
		case 'w':
			warm = atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3 ||
	    (strcmp(argv[0], "posix_spawn") != 0 &&
		strcmp(argv[0], "fork_execve") != 0))
		return usage();
	mode = argv[0];
	n = atoi(argv[1]);
	targv[0] = argv[2];
	if (n < 1 || warm < 0 || (t = calloc((size_t)n, sizeof(*t))) == NULL)
		return 2;
	if ((envp = child_env(extra, nextra)) == NULL)
		return 2;
	for (i = 0; i < warm; i++)
		if (once(mode, targv, envp) != 0) {
			fprintf(stderr, "bench_spawn: %s failed\n", targv[0]);
			return 1;
		}
	for (i = 0; i < n; i++) {
		if (paced && pace_wait() != 0) {
			fprintf(stderr, "bench_spawn: bench_pace went away\n");
			return 1;
		}
		t0 = now_us();
		if (once(mode, targv, envp) != 0) {
			fprintf(stderr, "bench_spawn: %s failed\n", targv[0]);
			return 1;
		}
		t[i] = now_us() - t0;
		if (paced && pace_done() != 0) {
			fprintf(stderr, "bench_spawn: bench_pace went away\n");
			return 1;
		}
	}
	if (samples != NULL) {
		if ((sf = fopen(samples, "a")) == NULL) {
			perror(samples);
			return 1;
		}
		for (i = 0; i < n; i++)
			fprintf(sf, "%.1f\n", t[i]);
		if (fclose(sf) != 0) {
			perror(samples);
			return 1;
		}
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("{\"mode\":\"%s\",\"count\":%d,\"min_us\":%.1f,"
	       "\"median_us\":%.1f,\"p99_us\":%.1f}\n",
	    mode, n, t[0], t[n / 2], t[(size_t)((n - 1) * 0.99)]);
	free(envp);
	free(t);
	return 0;
}
