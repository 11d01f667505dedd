/*
 * ASYNC-SIGNAL-SAFE: runs in the broker's forked child between fork and
 * exec (ew_spawn_child). System calls, the stack and mmap only.
 *
 * The kernel backstop in a command tree's first process: no new
 * privileges (an unprivileged filter needs it), the filter with its
 * listener, which goes back to the broker, and the environment of the
 * exec put in the envp range, so that the exec of the program the broker
 * has just decided passes the filter.
 */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_backstop_int.h"
#include "ew_fd.h"
#include "ew_spawn.h"

/* The one byte the listener travels with. */
#define EW_BACKSTOP_HANDOVER_BYTE 'L'

int
ew_backstop_child(const struct ew_spawn *s, int sock, char *const **envpp)
{
	const struct ew_backstop *b = s->hook->arg;
	char byte = EW_BACKSTOP_HANDOVER_BYTE;
	char *const *copy;
	long fd;
	int lfd, r;

	if (b == NULL)
		return 0;
	if (b->state == EW_BACKSTOP_ON) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			return -errno;
		fd = syscall(
		    SYS_seccomp, SECCOMP_SET_MODE_FILTER, b->flags, &b->prog);
		if (fd < 0)
			return -errno;
		lfd = (int)fd;
		r = ew_fd_send(sock, &byte, 1, &lfd, 1);
		(void)close(lfd);
		(void)close(sock);
		if (r != 0)
			return r;
	}
	/*
	 * Ours was checked free in the broker; an outer session's may be
	 * mapped by its shim in the broker already. Anything else there:
	 * the exec is trapped (and let through, ew_backstop_spawn.c; an
	 * outer session's broker decides it as a start it saw).
	 */
	if (b->range != 0 && ew_range_use(b->range) == 0 &&
	    ew_range_put(b->range, *envpp, &copy) >= 0)
		*envpp = copy;
	return 0;
}
