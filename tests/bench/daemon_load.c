/*
 * Load client for `execward daemon`: T threads, each asking N times as the
 * shim does (one connection per ask, an ASK, HEARTBEATs skipped, the
 * ANSWER). Every ask is for a distinct command, "true ID" or, every K-th,
 * "false ID", where ID names the process, thread and ask; the rules in use
 * must forbid false and let true run, so an answer meant for another
 * client shows as a wrong verdict.
 *
 * usage: daemon_load SOCKET THREADS ASKS [DENY_EVERY] [ID_PREFIX]
 *
 * Prints one JSON line: asks, allowed, denied, wrong (verdict not the one
 * expected), lost (connection closed before an answer), refused (connect
 * failed), decisions per second, and the latency of one ask (median, 99th
 * percentile, max) in microseconds. Exits 1 when an ask was wrong or lost.
 * EW_LOAD_CONNECT_MS bounds one connect (default 5000).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ew_buf.h"
#include "ew_err.h"
#include "ew_proto.h"
#include "ew_sock.h"

/* How long a connect may wait for a full backlog (EW_LOAD_CONNECT_MS). */
#define LOAD_CONNECT_MS 5000

static int connect_ms = LOAD_CONNECT_MS;

struct worker {
	pthread_t t;
	const char *sock;
	const char *prefix;
	unsigned id;
	long asks;
	long deny_every;
	double *lat_us;
	long allowed, denied, wrong, lost, refused;
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One ask; the verdict, or -1 lost, -2 refused. */
static int
ask_once(const char *sock, const char *prog, const char *id)
{
	unsigned char mem[4096];
	char resolved[64], *argv[3];
	struct ew_msg_answer ans;
	struct ew_buf b, *in = NULL;
	struct ew_ask a;
	uint32_t type;
	int fd, r, verdict = -1;

	snprintf(resolved, sizeof(resolved), "/bin/%s", prog);
	argv[0] = (char *)prog;
	argv[1] = (char *)id;
	argv[2] = NULL;
	memset(&a, 0, sizeof(a));
	a.via = EW_VIA_EXECVE;
	a.pid = getpid();
	a.ppid = getppid();
	a.cwd = "/";
	a.file = resolved;
	a.resolved = resolved;
	a.argv = argv;
	if ((fd = ew_sock_connect(sock, connect_ms)) < 0)
		return -2;
	ew_buf_init(&b, mem, sizeof(mem));
	if ((in = ew_buf_new(EW_PROTO_MSG_MAX)) == NULL ||
	    ew_proto_put_ask(&b, &a) != 0 ||
	    ew_proto_send(fd, &b, NULL, 0) != 0)
		goto out;
	for (;;) {
		ew_buf_reset(in);
		if ((r = ew_proto_recv(fd, in, NULL, 0, NULL)) != 0 ||
		    ew_proto_get_header(in, &type) != 0)
			goto out;
		if (type == EW_MSG_HEARTBEAT)
			continue;
		if (type != EW_MSG_ANSWER || ew_proto_get_answer(in, &ans) != 0)
			goto out;
		verdict = (int)ans.verdict;
		break;
	}
out:
	ew_buf_free(in);
	close(fd);
	return verdict;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	char id[128];
	double t0;
	bool deny;
	long i;
	int v;

	for (i = 0; i < w->asks; i++) {
		deny = w->deny_every > 0 && i % w->deny_every == 0;
		snprintf(id, sizeof(id), "%s-%u-%ld", w->prefix, w->id, i);
		t0 = now_us();
		v = ask_once(w->sock, deny ? "false" : "true", id);
		w->lat_us[i] = now_us() - t0;
		if (v == -2)
			w->refused++;
		else if (v == -1)
			w->lost++;
		else if (v != (deny ? EW_VERDICT_DENY : EW_VERDICT_ALLOW))
			w->wrong++;
		else if (deny)
			w->denied++;
		else
			w->allowed++;
	}
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct worker *w;
	long threads, asks, i, k, n = 0, deny_every = 0;
	long allowed = 0, denied = 0, wrong = 0, lost = 0, refused = 0;
	double t0, secs, *all;
	const char *prefix = "load";

	if (argc < 4 || (threads = atol(argv[2])) < 1 ||
	    (asks = atol(argv[3])) < 1) {
		fprintf(stderr,
		    "usage: daemon_load SOCKET THREADS ASKS [DENY_EVERY] "
		    "[ID_PREFIX]\n");
		return 2;
	}
	if (getenv("EW_LOAD_CONNECT_MS") != NULL &&
	    atoi(getenv("EW_LOAD_CONNECT_MS")) > 0)
		connect_ms = atoi(getenv("EW_LOAD_CONNECT_MS"));
	if (argc > 4)
		deny_every = atol(argv[4]);
	if (argc > 5)
		prefix = argv[5];
	if ((w = calloc((size_t)threads, sizeof(*w))) == NULL ||
	    (all = calloc((size_t)(threads * asks), sizeof(double))) == NULL)
		return 2;
	t0 = now_us();
	for (i = 0; i < threads; i++) {
		w[i].sock = argv[1];
		w[i].prefix = prefix;
		w[i].id = (unsigned)i;
		w[i].asks = asks;
		w[i].deny_every = deny_every;
		w[i].lat_us = all + i * asks;
		if (pthread_create(&w[i].t, NULL, work, &w[i]) != 0)
			return 2;
	}
	for (i = 0; i < threads; i++) {
		pthread_join(w[i].t, NULL);
		allowed += w[i].allowed;
		denied += w[i].denied;
		wrong += w[i].wrong;
		lost += w[i].lost;
		refused += w[i].refused;
	}
	secs = (now_us() - t0) / 1e6;
	n = threads * asks;
	qsort(all, (size_t)n, sizeof(double), cmp);
	k = (long)(0.99 * (double)(n - 1) + 0.5);
	printf("{\"asks\":%ld,\"threads\":%ld,\"allowed\":%ld,\"denied\":%ld,"
	       "\"wrong\":%ld,\"lost\":%ld,\"refused\":%ld,\"seconds\":%.3f,"
	       "\"per_s\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
	       "\"max_us\":%.0f}\n",
	    n, threads, allowed, denied, wrong, lost, refused, secs,
	    (double)(allowed + denied + wrong) / secs, all[n / 2], all[k],
	    all[n - 1]);
	free(all);
	free(w);
	return wrong > 0 || lost > 0 ? 1 : 0;
}
