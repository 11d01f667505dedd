/*
 * Benchmark helper: interleave several paced spawners (bench_spawn -p)
 * one start at a time, so that every configuration sees the machine in
 * the same state. On a VM whose bare spawn time drifts by tens of percent
 * within minutes, configurations run one after another in rounds compare
 * different machines; interleaved per start, the drift cancels.
 *
 * usage: bench_pace COUNT GO ACK [GO ACK]...
 *   Each GO and ACK pair names the FIFOs of one spawner, started by the
 *   caller as `bench_spawn -p ... <GO >ACK`, in the background, in the
 *   order given here (each FIFO is opened as the spawner opens it, so
 *   another order would wait forever). For each of COUNT steps, each
 *   spawner in turn is sent a byte and its answer awaited; the order
 *   rotates by one each step, so that each follows every other equally.
 *   Then each GO is closed and each ACK read to its end (the spawner's
 *   summary line). Exit status 1 if a spawner went away early.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_SPAWNERS 16

static int
usage(void)
{
	fprintf(stderr, "usage: bench_pace COUNT GO ACK [GO ACK]...\n");
	return 2;
}

/* Read fd to its end, discarding. */
static void
drain(int fd)
{
	char buf[512];
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) != 0)
		if (r < 0 && errno != EINTR)
			break;
}

int
main(int argc, char **argv)
{
	int go[MAX_SPAWNERS], ack[MAX_SPAWNERS];
	int n, k, i, j0, j;
	char c;

	if (argc < 4 || (argc - 2) % 2 != 0 || (argc - 2) / 2 > MAX_SPAWNERS ||
	    (n = atoi(argv[1])) < 1)
		return usage();
	k = (argc - 2) / 2;
	/* A spawner gone: its write fails with EPIPE, and is reported. */
	signal(SIGPIPE, SIG_IGN);
	for (j = 0; j < k; j++) {
		if ((go[j] = open(argv[2 + 2 * j], O_WRONLY | O_CLOEXEC)) < 0 ||
		    (ack[j] = open(argv[3 + 2 * j], O_RDONLY | O_CLOEXEC)) <
			0) {
			perror("bench_pace: open");
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		for (j0 = 0; j0 < k; j0++) {
			j = (j0 + i) % k;
			if (write(go[j], "g", 1) != 1 ||
			    read(ack[j], &c, 1) != 1) {
				fprintf(stderr,
				    "bench_pace: spawner %d (%s) went away "
				    "at step %d\n",
				    j + 1, argv[2 + 2 * j], i + 1);
				return 1;
			}
		}
	for (j = 0; j < k; j++) {
		close(go[j]);
		drain(ack[j]);
		close(ack[j]);
	}
	return 0;
}
