/* AF_UNIX SEQPACKET sockets: listen, bounded connect, peer credentials. */
#ifndef EW_SOCK_H
#define EW_SOCK_H

#include <sys/types.h>

/* A socket's path with its NUL: sun_path's size on Linux. */
#define EW_SOCK_PATH_MAX 108

/*
 * Return convention: an fd or 0 on success, -errno or -EW_E_* on failure.
 * Every fd is created CLOEXEC. ew_sock_connect and ew_sock_wait are
 * async-signal-safe.
 */

/* Bind and listen on path (non-blocking, CLOEXEC). Returns the fd. */
int ew_sock_listen(const char *path, int backlog);

/*
 * Connect to the SEQPACKET socket at path, waiting at most timeout_ms while
 * the listener's backlog is full. Returns a blocking, CLOEXEC fd above
 * stdio. A missing socket fails at once (-ENOENT, -ECONNREFUSED).
 */
int ew_sock_connect(const char *path, int timeout_ms);

/*
 * The same, the fd left non-blocking: for a connection that sends a
 * message or two and reads nothing (the shim's TOLD), two fcntl calls
 * fewer. Async-signal-safe.
 */
int ew_sock_connect_nb(const char *path, int timeout_ms);

/* Both ends of a connected SEQPACKET socketpair, CLOEXEC. */
int ew_sock_pair(int sv[2]);

/*
 * The peer's pid, uid and gid from SO_PEERCRED (any pointer may be NULL).
 * The kernel's answer is checked: its size, and pid > 0.
 */
int ew_sock_peercred(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/*
 * poll() fd for events for at most timeout_ms (-1: forever), retrying EINTR
 * against a monotonic deadline. Returns the revents, or -EW_E_TIMEOUT.
 */
int ew_sock_wait(int fd, short events, int timeout_ms);

#endif /* EW_SOCK_H */
