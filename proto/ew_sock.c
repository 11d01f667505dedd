/*
 * AF_UNIX SEQPACKET helpers. ew_sock_connect and ew_sock_wait run in the
 * shim's ask path and are async-signal-safe: syscalls and stack only.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ew_err.h"
#include "ew_fd.h"
#include "ew_sock.h"

/* While a listener's backlog is full, retry connect this often. */
#define EW_SOCK_RETRY_NS (1000 * 1000)

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == EW_SOCK_PATH_MAX,
    "EW_SOCK_PATH_MAX is sun_path's size");

static int
fill_addr(struct sockaddr_un *sun, const char *path)
{
	size_t n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = strnlen(path, sizeof(sun->sun_path));
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, n);
	return 0;
}

int
ew_sock_listen(const char *path, int backlog)
{
	struct sockaddr_un sun;
	int fd = -1, r;

	if ((r = fill_addr(&sun, path)) != 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, backlog) < 0) {
		r = -errno;
		ew_fd_close(fd);
		return r;
	}
	return fd;
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
ew_sock_connect(const char *path, int timeout_ms)
{
	int fd, r;

	if ((fd = ew_sock_connect_nb(path, timeout_ms)) < 0)
		return fd;
	if ((r = ew_fd_nonblock(fd, 0)) != 0) {
		ew_fd_close(fd);
		return r;
	}
	return fd;
}

int
ew_sock_connect_nb(const char *path, int timeout_ms)
{
	struct sockaddr_un sun;
	struct timespec pause = { 0, EW_SOCK_RETRY_NS };
	long long deadline;
	int fd = -1, r, nfd;

	if ((r = fill_addr(&sun, path)) != 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if ((nfd = ew_fd_move_above_stdio(fd)) < 0) {
		ew_fd_close(fd);
		return nfd;
	}
	fd = nfd;
	/*
	 * A non-blocking AF_UNIX connect fails with EAGAIN when the backlog is
	 * full instead of sleeping without bound; retry until the deadline.
	 */
	deadline = now_ns() + (long long)timeout_ms * 1000000LL;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		r = -errno;
		if (r == -EINTR)
			continue;
		if (r != -EAGAIN || now_ns() >= deadline)
			goto fail;
		nanosleep(&pause, NULL);
	}
	return fd;
fail:
	ew_fd_close(fd);
	return r == -EAGAIN ? -EW_E_TIMEOUT : r;
}

int
ew_sock_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	return 0;
}

int
ew_sock_peercred(int fd, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (pid != NULL)
		*pid = -1;
	if (uid != NULL)
		*uid = (uid_t)-1;
	if (gid != NULL)
		*gid = (gid_t)-1;
	memset(&uc, 0, sizeof(uc));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (len != sizeof(uc))
		return -EW_E_INVALID;
	/* A pid of 0 means the peer is in another pid namespace or gone. */
	if (uc.pid <= 0)
		return -EW_E_INVALID;
	if (pid != NULL)
		*pid = uc.pid;
	if (uid != NULL)
		*uid = uc.uid;
	if (gid != NULL)
		*gid = uc.gid;
	return 0;
}

int
ew_sock_wait(int fd, short events, int timeout_ms)
{
	struct pollfd pfd;
	long long deadline = 0, left;
	int n, t = timeout_ms;

	if (timeout_ms >= 0)
		deadline = now_ns() + (long long)timeout_ms * 1000000LL;
	for (;;) {
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, t);
		if (n > 0)
			return pfd.revents;
		if (n == 0)
			return -EW_E_TIMEOUT;
		if (errno != EINTR)
			return -errno;
		if (timeout_ms >= 0) {
			left = deadline - now_ns();
			if (left <= 0)
				return -EW_E_TIMEOUT;
			t = (int)((left + 999999) / 1000000);
		}
	}
}
