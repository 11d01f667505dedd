/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; stack only;
 * errno is preserved.
 *
 * Which program will libc run? A probe that mirrors execve's checks and a
 * PATH search that mirrors glibc's execvpe (and musl's execvp): strnlen
 * against NAME_MAX and PATH_MAX, over-long elements skipped, ENOENT-like
 * errors move on, EACCES is remembered, anything else stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_shim.h"

int
ew_shim_path_probe(int dirfd, const char *path, int flags)
{
	struct stat st;
	int saved = errno, r = 0;

	if (fstatat(dirfd, path, &st, flags & AT_SYMLINK_NOFOLLOW) != 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EACCES; /* what execve says of a directory or a fifo */
	else if (faccessat(dirfd, path, X_OK, AT_EACCESS) != 0)
		r = -errno;
	errno = saved;
	return r;
}

/* Errors after which glibc's execvpe tries the next PATH element. */
static int
search_goes_on(int err)
{
	switch (err) {
	case EACCES:
	case ENOENT:
	case ESTALE:
	case ENOTDIR:
	case ENODEV:
	case ETIMEDOUT:
		return 1;
	default:
		return 0;
	}
}

int
ew_shim_search_init(
    struct ew_shim_search *s, const char *file, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->file = file;
	s->last = ENOENT;
	if (*file == '\0')
		return -ENOENT;
	s->k = strnlen(file, NAME_MAX + 1);
	if (s->k > NAME_MAX)
		return -ENAMETOOLONG;
	if (path == NULL)
		path = EW_SHIM_DEFAULT_PATH;
	s->l = strnlen(path, PATH_MAX - 1) + 1;
	s->next = path;
	return 0;
}

int
ew_shim_search_tried(struct ew_shim_search *s, int err)
{
	s->last = err;
	if (err == EACCES)
		s->eacces = 1;
	return search_goes_on(err);
}

int
ew_shim_search_next(struct ew_shim_search *s, char *out, size_t outlen)
{
	const char *p, *z;
	size_t n;
	int r;

	out[0] = '\0';
	while ((p = s->next) != NULL) {
		z = strchrnul(p, ':');
		s->next = *z == '\0' ? NULL : z + 1;
		n = (size_t)(z - p);
		/* An element too long for the buffer is skipped, as libc does.
		 */
		if (n >= s->l || n + 1 + s->k + 1 > outlen)
			continue;
		memcpy(out, p, n);
		out[n] = '/';
		/* An empty element means the current directory. */
		memcpy(out + n + (n > 0), s->file, s->k + 1);
		if ((r = ew_shim_path_probe(AT_FDCWD, out, 0)) == 0)
			return 0;
		if (!ew_shim_search_tried(s, -r)) {
			out[0] = '\0';
			return r;
		}
	}
	out[0] = '\0';
	return -ENOENT;
}

int
ew_shim_path_search(
    const char *file, const char *path, char *out, size_t outlen)
{
	struct ew_shim_search s;
	int r;

	out[0] = '\0';
	if ((r = ew_shim_search_init(&s, file, path)) != 0)
		return r;
	r = ew_shim_search_next(&s, out, outlen);
	return r == -ENOENT && s.eacces ? -EACCES : r;
}

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
		path = EW_SHIM_DEFAULT_PATH;
	for (p = path;; p = z + 1) {
		z = strchrnul(p, ':');
		if (z == p || *p != '/')
			return 1;
		if (*z == '\0')
			return 0;
	}
}

/* Append the components of path to out[*lenp..), dropping "." and "//". */
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
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (!(n == 1 && p[0] == '.')) {
			if (*lenp + 1 + n + 1 > outlen)
				return -ENAMETOOLONG;
			out[(*lenp)++] = '/';
			memcpy(out + *lenp, p, n);
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
