/*
 * Async-signal-safe. The system call wrappers the shim's own code calls,
 * defined here (hidden, never exported) so that libexecward.so does not
 * import them from libc: with -z now every imported symbol is one more
 * lookup through the whole global scope at every program's start, paid
 * by processes that never start anything. Each goes through libc's
 * syscall(), which the library imports anyway: errno as libc sets it, no
 * locks, no allocation.
 *
 * Linked into libexecward.so only (ew_shim_sys, meson.build), never into
 * ew_shim_core: the unit tests and the broker keep libc's. Only 64-bit
 * Linux is served (the off_t and stat arguments are the kernel's own
 * there); elsewhere the library imports libc's, as before.
 *
 * Same semantics as glibc's wrappers, with one difference: none is a
 * pthread cancellation point. The shim calls them inside execve and
 * posix_spawn, which are not cancellation points, so a thread cancelled
 * there can no longer be torn down in the middle of an ask (its
 * connection leaked). The shim's system() and pclose() still wait with
 * libc's waitpid, which is one, as POSIX wants of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * The names are the headers' own: glibc's redirections (open to open64
 * and so on) give them the symbols the other objects call.
 */

int
close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

ssize_t
read(int fd, void *buf, size_t len)
{
	return syscall(SYS_read, fd, buf, len);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	return syscall(SYS_write, fd, buf, len);
}

ssize_t
pread(int fd, void *buf, size_t len, off_t off)
{
	return syscall(SYS_pread64, fd, buf, len, off);
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	/* As glibc: the mode is read only when the flags say there is one. */
	if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

ssize_t
readlink(const char *restrict path, char *restrict buf, size_t len)
{
	return syscall(SYS_readlinkat, AT_FDCWD, path, buf, len);
}

int
fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}

int
fstatat(
    int dirfd, const char *restrict path, struct stat *restrict st, int flags)
{
	return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}

/*
 * The commands the shim uses take an int or nothing (F_GETFD, F_SETFD,
 * F_GETFL, F_SETFL, F_DUPFD_CLOEXEC); glibc reads the argument the same
 * way, as a word that may be unused.
 */
int
fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

int
pipe2(int fds[2], int flags)
{
	return (int)syscall(SYS_pipe2, fds, flags);
}

int
memfd_create(const char *name, unsigned int flags)
{
	return (int)syscall(SYS_memfd_create, name, flags);
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int
munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

int
socket(int domain, int type, int protocol)
{
	return (int)syscall(SYS_socket, domain, type, protocol);
}

/* glibc declares the address a transparent union under _GNU_SOURCE. */
int
connect(int fd, __CONST_SOCKADDR_ARG sa, socklen_t len)
{
	return (int)syscall(SYS_connect, fd, sa.__sockaddr__, len);
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return syscall(SYS_sendmsg, fd, msg, flags);
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	return syscall(SYS_recvmsg, fd, msg, flags);
}

int
poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;

	/* ppoll, which every architecture has; a negative timeout waits. */
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	return (int)syscall(SYS_ppoll, fds, n, tsp, NULL, 0);
}

int
nanosleep(const struct timespec *req, struct timespec *rem)
{
	return (int)syscall(SYS_nanosleep, req, rem);
}

int
kill(pid_t pid, int sig)
{
	return (int)syscall(SYS_kill, pid, sig);
}

pid_t
getpid(void)
{
	return (pid_t)syscall(SYS_getpid);
}

pid_t
getppid(void)
{
	return (pid_t)syscall(SYS_getppid);
}

uid_t
geteuid(void)
{
	return (uid_t)syscall(SYS_geteuid);
}

int
getrlimit(__rlimit_resource_t res, struct rlimit *rl)
{
	return (int)syscall(SYS_prlimit64, 0, res, NULL, rl);
}
