/*
 * The broker starting a command tree (ew_spawn_start) with the kernel
 * backstop: the child installs the filter and sends its listener back on
 * a socket pair; the broker keeps it for the session.
 *
 * The child's own exec is the start of a program the broker has decided
 * already (run's COMMAND, an MCP call's shell, an escalated program), and
 * its envp lies in the range, so the filter lets it pass. Should it be
 * trapped all the same (valgrind rebuilds the environment of an exec;
 * the range could not be mapped), the broker, which waits for the
 * child's report meanwhile, lets it continue: until the exec has worked
 * or failed, the child is the one task under the new filter. A
 * notification that comes once the report pipe is readable (the exec
 * closed it) is the new program's, and is decided on the loop like any.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ew_backstop_int.h"
#include "ew_broker.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_sock.h"
#include "ew_spawn.h"

int
ew_backstop_spawn_open(
    const struct ew_spawn *s, int sv[2], char *err, size_t errlen)
{
	const struct ew_backstop *b = s->hook->arg;
	int r;

	sv[0] = sv[1] = -1;
	if (b->state != EW_BACKSTOP_ON)
		return 0;
	if ((r = ew_sock_pair(sv)) != 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(-r));
		sv[0] = sv[1] = -1;
		return r;
	}
	return 0;
}

/* Is fd readable (or at its end) right now? */
static bool
ready(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };

	return poll(&pf, 1, 0) > 0 && pf.revents != 0;
}

void
ew_backstop_spawn_wait(
    const struct ew_spawn *s, int sv[2], pid_t pid, int pipefd)
{
	struct ew_backstop *b = s->hook->arg;
	struct ew_backstop_listener *l;
	struct seccomp_notif *n;
	struct pollfd pf[2];
	size_t len = 0, nfds = 0;
	char byte;
	int fd = -1, r;

	if (sv[0] < 0)
		return;
	/* The child's end: only the child's copy keeps it open now. */
	sv[1] = ew_fd_close(sv[1]);
	r = ew_fd_recv(sv[0], &byte, 1, &len, &fd, 1, &nfds);
	if (r != 0 || nfds != 1)
		return; /* it failed before: its report says why */
	if ((l = ew_backstop_listener_add(
		 b, s->hook_sess, s->hook_outside, fd)) == NULL) {
		/* Closed: its tree's trapped calls fail (ENOSYS). */
		ew_log(EW_LOG_ERROR,
		    "backstop: out of memory: the starts of pid %d that the "
		    "shim does not see will fail",
		    (int)pid);
		return;
	}
	for (;;) {
		pf[0].fd = pipefd;
		pf[0].events = POLLIN;
		pf[1].fd = l->fd;
		pf[1].events = POLLIN;
		pf[0].revents = pf[1].revents = 0;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents != 0)
			break;
		if (!(pf[1].revents & POLLIN)) {
			/* Its tree is gone already: the report will say. */
			if (ew_sock_wait(pipefd, POLLIN, -1) < 0)
				break;
			continue;
		}
		if ((n = calloc(1, b->req_size)) == NULL)
			break;
		if (ioctl(l->fd, SECCOMP_IOCTL_NOTIF_RECV, n) != 0) {
			free(n);
			continue;
		}
		if (ready(pipefd) || n->pid != (uint32_t)pid) {
			/* After the exec: the new program's, for the loop. */
			l->queued = n;
			break;
		}
		ew_backstop_respond(l, n->id, 0);
		free(n);
	}
	ew_backstop_listen(l);
}
