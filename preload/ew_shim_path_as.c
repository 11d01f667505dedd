/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; stack only;
 * errno is preserved.
 *
 * The shim's paths: the cwd as the system call gives it, paths made
 * absolute, fds named, files that would need a shell. (The PATH search
 * itself is proto/ew_path_as.c, shared with the broker.)
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_path.h"
#include "ew_shim.h"
#include "ew_str.h"

/* How a file the kernel runs directly starts: a script, or ELF. */
#define EW_SHIM_MAGIC_SCRIPT "#!"
#define EW_SHIM_MAGIC_ELF "\177ELF"

int
ew_shim_path_needs_shell(const char *path)
{
	char head[4];
	ssize_t n;
	int saved = errno, fd, r = 0;

	/* Unreadable (execute-only): no shell could read it either. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		goto out;
	n = pread(fd, head, sizeof(head), 0);
	(void)close(fd);
	if (n < 0)
		goto out;
	r = !(n >= 2 && memcmp(head, EW_SHIM_MAGIC_SCRIPT, 2) == 0) &&
	    !(n >= 4 && memcmp(head, EW_SHIM_MAGIC_ELF, 4) == 0);
out:
	errno = saved;
	return r;
}

int
ew_shim_path_has_relative(const char *path)
{
	const char *p, *z;

	if (path == NULL)
		path = EW_PATH_DEFAULT;
	for (p = path;; p = z + 1) {
		z = strchrnul(p, ':');
		if (z == p || *p != '/')
			return 1;
		if (*z == '\0')
			return 0;
	}
}

/*
 * Append the components of path to out[*lenp..), dropping "." and "//".
 * Without libc's string functions: the constructor makes its relative
 * paths absolute with this (ew_str.h says why).
 */
static int
put_components(const char *path, char *out, size_t outlen, size_t *lenp)
{
	const char *p = path, *e;
	size_t n;

	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return 0;
		e = ew_str_chrnul(p, '/');
		n = (size_t)(e - p);
		if (!(n == 1 && p[0] == '.')) {
			if (*lenp + 1 + n + 1 > outlen)
				return -ENAMETOOLONG;
			out[(*lenp)++] = '/';
			ew_str_copy(out + *lenp, p, n);
			*lenp += n;
			out[*lenp] = '\0';
		}
		p = e;
	}
}

int
ew_shim_path_absolute(
    const char *cwd, const char *path, char *out, size_t outlen)
{
	size_t len = 0;
	int r;

	if (outlen < 2)
		return -ENAMETOOLONG;
	out[0] = '\0';
	if (path[0] != '/') {
		if (cwd == NULL || cwd[0] != '/')
			return -EINVAL;
		if ((r = put_components(cwd, out, outlen, &len)) != 0)
			goto fail;
	}
	if ((r = put_components(path, out, outlen, &len)) != 0)
		goto fail;
	if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	return 0;
fail:
	out[0] = '\0';
	return r;
}

void
ew_shim_path_cwd(char *buf, size_t len)
{
	int saved = errno;

	/*
	 * The system call, not glibc's getcwd: when the kernel's answer does
	 * not fit a page (ENAMETOOLONG), glibc falls back to walking ".."
	 * with opendir and malloc, which a vfork child must not do. A
	 * removed directory is ENOENT, one outside our root starts with
	 * "(unreachable)": both are unknown here, and the broker reads
	 * /proc/PID/cwd instead.
	 */
	if (len == 0)
		return;
	if (syscall(SYS_getcwd, buf, len) < 0 || buf[0] != '/')
		buf[0] = '\0';
	errno = saved;
}

/* Append the decimal v to s at *off (s has room). */
static void
put_int(char *s, size_t *off, unsigned long v)
{
	char tmp[24];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		s[(*off)++] = tmp[--n];
	s[*off] = '\0';
}

int
ew_shim_path_fd(int fd, char *out, size_t outlen)
{
	char proc[64];
	size_t off;
	ssize_t n;
	int saved = errno, r = 0;

	out[0] = '\0';
	if (fd < 0 || outlen < sizeof(proc))
		return -EBADF;
	memcpy(proc, "/proc/self/fd/", 15);
	off = 14;
	put_int(proc, &off, (unsigned long)fd);
	n = readlink(proc, out, outlen - 1);
	if (n < 0) {
		/* No such entry in /proc/self/fd: the fd is not open. */
		r = errno == ENOENT ? -EBADF : -errno;
		goto out;
	}
	out[n] = '\0';
	/* Not a path ("anon_inode:...") or cut short: name the fd instead. */
	if (out[0] != '/' || (size_t)n == outlen - 1) {
		memcpy(out, "/proc/", 7);
		off = 6;
		put_int(out, &off, (unsigned long)getpid());
		memcpy(out + off, "/fd/", 5);
		off += 4;
		put_int(out, &off, (unsigned long)fd);
	}
out:
	errno = saved;
	return r;
}
