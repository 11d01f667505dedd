/*
 * File descriptor helpers. Async-signal-safe throughout: the shim calls
 * these in vfork children, so only syscalls and stack memory are used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ew_err.h"
#include "ew_fd.h"

int
ew_fd_close(int fd)
{
	int saved = errno;

	if (fd >= 0)
		(void)close(fd);
	errno = saved;
	return -1;
}

void
ew_fd_close_all(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fds[i] = ew_fd_close(fds[i]);
}

/* Turn flag on or off among fd's flags that get and set read and write. */
static int
set_flag(int fd, int get, int set, int flag, int on)
{
	int fl, nfl;

	if ((fl = fcntl(fd, get)) < 0)
		return -errno;
	nfl = on ? (fl | flag) : (fl & ~flag);
	if (nfl != fl && fcntl(fd, set, nfl) < 0)
		return -errno;
	return 0;
}

int
ew_fd_cloexec(int fd, int on)
{
	return set_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on);
}

int
ew_fd_nonblock(int fd, int on)
{
	return set_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, on);
}

int
ew_fd_move_above_stdio(int fd)
{
	int nfd;

	if (fd < 0)
		return -EBADF;
	if (fd > 2)
		return fd;
	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	(void)close(fd);
	return nfd;
}

/* Room for the control message of EW_FD_PASS_MAX fds, aligned for it. */
union cmsg_space {
	char buf[CMSG_SPACE(sizeof(int) * EW_FD_PASS_MAX)];
	struct cmsghdr align;
};

int
ew_fd_send(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
	union cmsg_space u;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	if (nfds > EW_FD_PASS_MAX)
		return -EW_E_LIMIT;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EMSGSIZE;
	return 0;
}

/* Take the fds of one SCM_RIGHTS message into fds[*nfdsp..maxfds). */
static int
take_rights(struct cmsghdr *cmsg, int *fds, size_t maxfds, size_t *nfdsp)
{
	size_t datalen, n, i;
	int fd, r = 0;

	datalen = cmsg->cmsg_len - CMSG_LEN(0);
	if (datalen % sizeof(int) != 0)
		r = -EW_E_CMSG;
	n = datalen / sizeof(int);
	for (i = 0; i < n; i++) {
		memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
		if (fds != NULL && *nfdsp < maxfds)
			fds[(*nfdsp)++] = fd;
		else {
			/* More fds than the caller wants: never leak one. */
			(void)close(fd);
			r = -EW_E_CMSG;
		}
	}
	return r;
}

int
ew_fd_recv(int sock, void *data, size_t cap, size_t *lenp, int *fds,
    size_t maxfds, size_t *nfdsp)
{
	union cmsg_space u;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	size_t nfds = 0;
	ssize_t n;
	int r = 0, tr;

	*lenp = 0;
	if (nfdsp != NULL)
		*nfdsp = 0;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = data;
	iov.iov_len = cap;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	/* Collect (and so own) every fd before judging the message. */
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	     cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_len < CMSG_LEN(0)) {
			r = -EW_E_CMSG;
			break;
		}
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS) {
			tr = take_rights(cmsg, fds, maxfds, &nfds);
			if (tr != 0)
				r = tr;
		} else
			r = -EW_E_CMSG;
	}
	if (r == 0 && (msg.msg_flags & MSG_CTRUNC))
		r = -EW_E_CMSG;
	if (r == 0 && (msg.msg_flags & MSG_TRUNC))
		r = -EW_E_LIMIT;
	if (r == 0 && n == 0 && nfds == 0)
		r = -EW_E_CLOSED;
	if (r != 0) {
		if (fds != NULL)
			ew_fd_close_all(fds, nfds);
		return r;
	}
	*lenp = (size_t)n;
	if (nfdsp != NULL)
		*nfdsp = nfds;
	return 0;
}
