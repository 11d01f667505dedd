/*
 * Benchmark: broker decisions per second and their latency under
 * concurrent clients. Each client is a thread that asks as the shim does:
 * one connection per ask (ew_sock_connect), one ASK (ew_proto_put_ask,
 * ew_proto_send), HEARTBEATs skipped until the ANSWER (ew_proto_recv,
 * ew_proto_get_answer), close. The ask is for PROGRAM, which the rules in
 * use should allow.
 *
 * usage: bench_broker [-S SOCKET] [-p PID|parent] [-r ROUNDS]
 *                     [-c N[,N]...] COUNT [PROGRAM]
 *   -S  the broker's socket (default: EXECWARD_SOCKET, as under
 *       `execward run`)
 *   -p  also report the broker's memory from /proc/PID/status (parent:
 *       our parent process, which `execward run` is): VmRSS before the
 *       load, the largest VmRSS seen during it (sampled every 5 ms) and
 *       VmHWM after it
 *   -r  rounds (default 3); each round runs every client count in turn
 *   -c  concurrent clients (default 1,16,64); COUNT asks in all per round
 *
 * Prints one JSON line per client count: asks, allowed, other verdicts,
 * errors, decisions per second (median of the rounds, and the lowest),
 * latency of one ask (minimum, median, 99th percentile over every round),
 * then one line for memory when -p is given. Exits 1 when any ask failed.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ew_buf.h"
#include "ew_err.h"
#include "ew_proto.h"
#include "ew_sock.h"

#define MAX_COUNTS 8
#define MAX_ROUNDS 64
#define ANSWER_MAX (64 + EW_PROTO_REASON_MAX + EW_PROTO_TOKEN_MAX)
#define ASK_MAX 8192
#define TIMEOUT_MS 10000

struct load {
	const char *sock;
	char cwd[PATH_MAX];
	char *argv[2];
	const char *program;
	pthread_barrier_t start;
	atomic_long allowed, other, errors;
	atomic_int first_error;
};

struct client {
	struct load *l;
	pthread_t th;
	double *lat; /* this client's latencies, us */
	long n;
	double end_us;
};

struct sampler {
	pid_t pid;
	atomic_int stop;
	long max_rss_kib;
	pthread_t th;
};

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

static double
pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

/* A field of /proc/PID/status in KiB, or -1. */
static long
status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void *
sample(void *arg)
{
	struct sampler *s = arg;
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	long v;

	while (!atomic_load(&s->stop)) {
		if ((v = status_kib(s->pid, "VmRSS")) > s->max_rss_kib)
			s->max_rss_kib = v;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* One ask, as the shim makes it. 0 and the verdict, or an error. */
static int
ask_once(struct load *l, uint32_t *verdict)
{
	unsigned char out[ASK_MAX], in[ANSWER_MAX];
	struct ew_msg_answer ans;
	struct ew_ask a;
	struct ew_buf b;
	uint32_t type;
	int fd, r;

	memset(&a, 0, sizeof(a));
	a.via = EW_VIA_EXECVE;
	a.pid = getpid();
	a.ppid = getppid();
	a.cwd = l->cwd;
	a.file = l->program;
	a.resolved = l->program;
	a.argv = l->argv;
	ew_buf_init(&b, out, sizeof(out));
	if ((r = ew_proto_put_ask(&b, &a)) != 0)
		return r;
	if ((fd = ew_sock_connect(l->sock, TIMEOUT_MS)) < 0)
		return fd;
	if ((r = ew_proto_send(fd, &b, NULL, 0)) != 0)
		goto out;
	for (;;) {
		if ((r = ew_sock_wait(fd, POLLIN, TIMEOUT_MS)) < 0)
			goto out;
		ew_buf_init(&b, in, sizeof(in));
		if ((r = ew_proto_recv(fd, &b, NULL, 0, NULL)) != 0 ||
		    (r = ew_proto_get_header(&b, &type)) != 0)
			goto out;
		if (type == EW_MSG_HEARTBEAT)
			continue;
		if (type != EW_MSG_ANSWER) {
			r = -EW_E_TYPE;
			goto out;
		}
		if ((r = ew_proto_get_answer(&b, &ans)) == 0)
			*verdict = ans.verdict;
		goto out;
	}
out:
	close(fd);
	return r;
}

static void *
run_client(void *arg)
{
	struct client *c = arg;
	struct load *l = c->l;
	uint32_t verdict;
	double t0;
	long i;
	int r, none = 0;

	pthread_barrier_wait(&l->start);
	for (i = 0; i < c->n; i++) {
		t0 = now_us();
		r = ask_once(l, &verdict);
		c->lat[i] = now_us() - t0;
		if (r != 0) {
			atomic_fetch_add(&l->errors, 1);
			atomic_compare_exchange_strong(
			    &l->first_error, &none, r);
		} else if (verdict == EW_VERDICT_ALLOW)
			atomic_fetch_add(&l->allowed, 1);
		else
			atomic_fetch_add(&l->other, 1);
	}
	c->end_us = now_us();
	return NULL;
}

/*
 * One round of count asks spread over nclients threads. Latencies are
 * appended to lat (count entries); the round's decisions per second is
 * returned, or -1 when a thread could not be started.
 */
static double
round_once(struct load *l, int nclients, long count, double *lat)
{
	struct client *c;
	double t0, end = 0;
	long off = 0;
	int i, started = 0;

	if ((c = calloc((size_t)nclients, sizeof(*c))) == NULL)
		return -1;
	pthread_barrier_init(&l->start, NULL, (unsigned)nclients + 1);
	for (i = 0; i < nclients; i++) {
		c[i].l = l;
		c[i].n = count / nclients + (i < count % nclients);
		c[i].lat = lat + off;
		off += c[i].n;
		if (pthread_create(&c[i].th, NULL, run_client, &c[i]) != 0) {
			fprintf(
			    stderr, "bench_broker: pthread_create failed\n");
			exit(1);
		}
		started++;
	}
	t0 = now_us();
	pthread_barrier_wait(&l->start);
	for (i = 0; i < started; i++) {
		pthread_join(c[i].th, NULL);
		if (c[i].end_us > end)
			end = c[i].end_us;
	}
	pthread_barrier_destroy(&l->start);
	free(c);
	return (double)count / ((end - t0) / 1e6);
}

static int
parse_counts(const char *s, int *v, int *n)
{
	char *end;
	long x;

	*n = 0;
	for (;;) {
		errno = 0;
		x = strtol(s, &end, 10);
		if (errno != 0 || end == s || x < 1 || x > 1024 ||
		    *n == MAX_COUNTS)
			return -1;
		v[(*n)++] = (int)x;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: bench_broker [-S SOCKET] [-p PID|parent] [-r ROUNDS] "
	    "[-c N[,N]...] COUNT [PROGRAM]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static struct load l;
	struct sampler s;
	int counts[MAX_COUNTS] = { 1, 16, 64 }, ncounts = 3, rounds = 3;
	double *lat[MAX_COUNTS], rate[MAX_COUNTS][MAX_ROUNDS], r0;
	long count, idle = -1, base_allowed, base_other, base_errors;
	long allowed[MAX_COUNTS] = { 0 }, other[MAX_COUNTS] = { 0 };
	long errors[MAX_COUNTS] = { 0 }, nerr = 0;
	int i, k, c, code = 0, maxc = 0;
	pid_t broker = 0;

	l.sock = getenv("EXECWARD_SOCKET");
	while ((c = getopt(argc, argv, "S:p:r:c:")) != -1) {
		switch (c) {
		case 'S':
			l.sock = optarg;
			break;
		case 'p':
			broker = strcmp(optarg, "parent") == 0
			    ? getppid()
			    : (pid_t)atoi(optarg);
			if (broker <= 0)
				return usage();
			break;
		case 'r':
			rounds = atoi(optarg);
			if (rounds < 1 || rounds > MAX_ROUNDS)
				return usage();
			break;
		case 'c':
			if (parse_counts(optarg, counts, &ncounts) != 0)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc || argc - optind > 2 || l.sock == NULL ||
	    *l.sock == '\0')
		return usage();
	count = atol(argv[optind]);
	l.program = optind + 1 < argc ? argv[optind + 1] : "/usr/bin/true";
	l.argv[0] = (char *)l.program;
	if (getcwd(l.cwd, sizeof(l.cwd)) == NULL)
		snprintf(l.cwd, sizeof(l.cwd), "/");
	for (k = 0; k < ncounts; k++) {
		if (count < counts[k])
			return usage();
		if (counts[k] > counts[maxc])
			maxc = k;
		lat[k] = calloc((size_t)(count * rounds), sizeof(double));
		if (lat[k] == NULL)
			return 2;
	}

	memset(&s, 0, sizeof(s));
	s.pid = broker;
	if (broker > 0)
		idle = status_kib(broker, "VmRSS");
	for (i = 0; i < rounds; i++)
		for (k = 0; k < ncounts; k++) {
			base_allowed = atomic_load(&l.allowed);
			base_other = atomic_load(&l.other);
			base_errors = atomic_load(&l.errors);
			if (broker > 0 && k == maxc &&
			    pthread_create(&s.th, NULL, sample, &s) != 0)
				return 1;
			r0 = round_once(&l, counts[k], count,
			    lat[k] + (size_t)i * (size_t)count);
			if (broker > 0 && k == maxc) {
				atomic_store(&s.stop, 1);
				pthread_join(s.th, NULL);
				atomic_store(&s.stop, 0);
			}
			if (r0 < 0)
				return 1;
			rate[k][i] = r0;
			allowed[k] += atomic_load(&l.allowed) - base_allowed;
			other[k] += atomic_load(&l.other) - base_other;
			errors[k] += atomic_load(&l.errors) - base_errors;
		}
	for (k = 0; k < ncounts; k++) {
		size_t n = (size_t)(count * rounds);

		qsort(lat[k], n, sizeof(double), cmp);
		qsort(rate[k], (size_t)rounds, sizeof(double), cmp);
		printf("{\"clients\":%d,\"rounds\":%d,\"asks\":%zu,"
		       "\"allowed\":%ld,\"other\":%ld,\"errors\":%ld,"
		       "\"per_s\":%.0f,\"per_s_min\":%.0f,\"min_us\":%.1f,"
		       "\"median_us\":%.1f,\"p99_us\":%.1f}\n",
		    counts[k], rounds, n, allowed[k], other[k], errors[k],
		    pct(rate[k], (size_t)rounds, 0.5), rate[k][0], lat[k][0],
		    pct(lat[k], n, 0.5), pct(lat[k], n, 0.99));
		nerr += errors[k];
		free(lat[k]);
	}
	if (broker > 0)
		printf("{\"broker_pid\":%d,\"clients\":%d,\"rss_idle_kib\":%ld,"
		       "\"rss_load_max_kib\":%ld,\"hwm_kib\":%ld}\n",
		    (int)broker, counts[maxc], idle, s.max_rss_kib,
		    status_kib(broker, "VmHWM"));
	if (nerr != 0) {
		fprintf(stderr,
		    "bench_broker: %ld asks failed, the first: %s\n", nerr,
		    ew_err_str(atomic_load(&l.first_error)));
		code = 1;
	}
	return code;
}
