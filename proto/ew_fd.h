/* File descriptor helpers: CLOEXEC, stdio safety, SCM_RIGHTS passing. */
#ifndef EW_FD_H
#define EW_FD_H

#include <stddef.h>

/* Most fds one message may carry (a memfd plus stdin, stdout, stderr...). */
#define EW_FD_PASS_MAX 8

/*
 * Everything here is async-signal-safe: plain syscalls, no allocation.
 * Return convention: 0 (or an fd) on success, -errno or -EW_E_* on failure.
 */

/* Close fd if it is >= 0, keeping errno. Always returns -1, so
 * fd = ew_fd_close(fd) closes and invalidates in one step. */
int ew_fd_close(int fd);

/* Set or clear FD_CLOEXEC / O_NONBLOCK. */
int ew_fd_cloexec(int fd, int on);
int ew_fd_nonblock(int fd, int on);

/*
 * If fd is 0, 1 or 2, duplicate it (CLOEXEC) to the lowest fd >= 3 and close
 * the original. Returns the fd to use (possibly fd itself).
 */
int ew_fd_move_above_stdio(int fd);

/*
 * Send one record of len bytes on a SEQPACKET socket with nfds fds attached
 * (SCM_RIGHTS; nfds <= EW_FD_PASS_MAX). MSG_NOSIGNAL; retries EINTR. A
 * partial send is -EMSGSIZE.
 */
int
ew_fd_send(int sock, const void *data, size_t len, const int *fds, size_t nfds);

/*
 * Receive one record into data[0..cap), *lenp its length. Received fds
 * (CLOEXEC) go to fds[0..maxfds), *nfdsp their count; the caller owns
 * them. Every control message is checked (level, type, length); on any
 * failure all received fds are closed and none is returned. A record that
 * did not fit is -EW_E_LIMIT, a truncated control message -EW_E_CMSG and
 * an orderly shutdown by the peer -EW_E_CLOSED. fds may be NULL when no
 * fds are expected (any that arrive are closed, -EW_E_CMSG).
 */
int ew_fd_recv(int sock, void *data, size_t cap, size_t *lenp, int *fds,
    size_t maxfds, size_t *nfdsp);

/* Close fds[0..n) and set each to -1. */
void ew_fd_close_all(int *fds, size_t n);

#endif /* EW_FD_H */
