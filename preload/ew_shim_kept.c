/*
 * The kept tell connection. A process's posix_spawn, system and popen
 * tell the broker of the starts the policy snapshot allows (TOLD) on one
 * connection to the tell socket, made at the first and kept for the
 * next, instead of a connection per start: a connect here and an accept
 * in the broker cost about 30 us a start on a VM (issue 15). Only these
 * callers keep it: they run in the caller's own context, never in a vfork
 * child, where the exec family runs and asks on connections of its own.
 *
 * One user at a time, from the TOLD to ew_shim_done: a thread (or a
 * signal handler) that finds it taken tells on a connection of its own.
 * A child of fork finds its parent's, made by another pid: it closes its
 * copy and makes its own (one taken by another thread at the fork stays
 * taken in the child, which then never keeps one). A program may have
 * closed the fd, or made it something else (closing every fd, dup2):
 * it is used only while fstat says it is still the same socket, and the
 * fd is left alone when it is not. Put is async-signal-safe (ew_shim_done
 * calls it); take is not, and runs only in the callers above.
 */
#include <errno.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_fd.h"
#include "ew_shim.h"
#include "ew_sock.h"

static atomic_flag kept_busy = ATOMIC_FLAG_INIT;

/* The connection, valid while kept_busy is held. */
static struct {
	int fd; /* -1: none */
	pid_t pid; /* the process that made it */
	dev_t dev; /* and what it is, for a program that reused the fd */
	ino_t ino;
} kept = { .fd = -1 };

int
ew_shim_kept_take(const char *path, int timeout_ms, pid_t self, int *freshp)
{
	struct stat st;
	int fd, same;

	*freshp = 0;
	if (atomic_flag_test_and_set_explicit(&kept_busy, memory_order_acquire))
		return -EBUSY;
	if (kept.fd >= 0) {
		same = fstat(kept.fd, &st) == 0 && st.st_dev == kept.dev &&
		    st.st_ino == kept.ino;
		if (same && kept.pid == self)
			return kept.fd;
		/* A fork's copy of its parent's connection: not ours to use. */
		if (same)
			(void)close(kept.fd);
		kept.fd = -1;
	}
	if ((fd = ew_sock_connect_nb(path, timeout_ms)) < 0)
		goto fail;
	if (fstat(fd, &st) != 0) {
		fd = -errno;
		goto fail;
	}
	kept.fd = fd;
	kept.pid = self;
	kept.dev = st.st_dev;
	kept.ino = st.st_ino;
	*freshp = 1;
	return fd;
fail:
	atomic_flag_clear_explicit(&kept_busy, memory_order_release);
	return fd;
}

void
ew_shim_kept_put(int fd, int ok)
{
	if (!ok && fd == kept.fd)
		kept.fd = ew_fd_close(kept.fd);
	atomic_flag_clear_explicit(&kept_busy, memory_order_release);
}
