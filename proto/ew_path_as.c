/*
 * ASYNC-SIGNAL-SAFE: the shim runs this in vfork children (dash, CPython).
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
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_path.h"

int
ew_path_probe(int dirfd, const char *path, int flags)
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
ew_path_search_init(
    struct ew_path_search *s, const char *file, const char *path)
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
		path = EW_PATH_DEFAULT;
	s->l = strnlen(path, PATH_MAX - 1) + 1;
	s->next = path;
	return 0;
}

int
ew_path_search_tried(struct ew_path_search *s, int err)
{
	s->last = err;
	if (err == EACCES)
		s->eacces = 1;
	return search_goes_on(err);
}

int
ew_path_search_next(struct ew_path_search *s, char *out, size_t outlen)
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
		if ((r = ew_path_probe(AT_FDCWD, out, 0)) == 0)
			return 0;
		if (!ew_path_search_tried(s, -r)) {
			out[0] = '\0';
			return r;
		}
	}
	out[0] = '\0';
	return -ENOENT;
}

int
ew_path_search(const char *file, const char *path, char *out, size_t outlen)
{
	struct ew_path_search s;
	int r;

	out[0] = '\0';
	if ((r = ew_path_search_init(&s, file, path)) != 0)
		return r;
	r = ew_path_search_next(&s, out, outlen);
	return r == -ENOENT && s.eacces ? -EACCES : r;
}
