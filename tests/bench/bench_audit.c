/*
 * Benchmark: audit log throughput, records per second written through
 * ew_audit_write for each --audit-sync mode (none, batch, always), with
 * the event loop run between records as the broker does (so batch mode's
 * timer syncs). Prints one JSON line per mode.
 * usage: bench_audit FOLDER [--quick]
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ew_audit.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static const char *const modes[] = { "none", "batch", "always" };
	char *args[] = { "git", "commit", "-m", "a change of some length",
		NULL };
	struct ev_loop *loop = ev_default_loop(0);
	struct ew_audit_rec r;
	struct ew_audit *a;
	enum ew_audit_sync sync;
	char path[4096];
	double t0, secs, span;
	long n, bytes;
	size_t i;
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_audit FOLDER [--quick]\n");
		return 2;
	}
	span = argc > 2 && strcmp(argv[2], "--quick") == 0 ? 0.3 : 1.5;
	memset(&r, 0, sizeof(r));
	r.session = "0123456789abcdef0123456789abcdef";
	r.pid = 4242;
	r.ppid = 4241;
	r.uid = 1000;
	r.cwd = "/home/someone/src/project";
	r.via = "execve";
	r.file = "/usr/bin/git";
	r.called = "git";
	r.argv = args;
	r.argc = 4;
	r.decision = EW_AUDIT_ALLOW;
	r.source = "fallback";
	r.answer = "none";
	r.latency_us = 12;
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/bench-audit-%s.jsonl", argv[1],
		    modes[i]);
		unlink(path);
		if (ew_audit_sync_parse(modes[i], &sync) != 0 ||
		    ew_audit_open(path, sync, loop, &a) != 0) {
			fprintf(stderr, "bench_audit: open %s failed\n", path);
			return 1;
		}
		n = 0;
		t0 = now_s();
		do {
			if (ew_audit_write(a, &r) != 0) {
				fprintf(stderr, "bench_audit: write failed\n");
				return 1;
			}
			ev_run(loop, EVRUN_NOWAIT);
			n++;
		} while ((n & 63) != 0 || now_s() - t0 < span);
		ew_audit_close(a);
		secs = now_s() - t0;
		bytes = 0;
		if ((f = fopen(path, "r")) != NULL) {
			fseek(f, 0, SEEK_END);
			bytes = ftell(f);
			fclose(f);
		}
		printf("{\"bench\":\"audit\",\"sync\":\"%s\",\"records\":%ld,"
		       "\"seconds\":%.3f,\"per_s\":%.0f,\"bytes_per_record\":"
		       "%ld}\n",
		    modes[i], n, secs, (double)n / secs, bytes / n);
		unlink(path);
	}
	return 0;
}
