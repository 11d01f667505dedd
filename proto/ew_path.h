/*
 * Which program a name runs: the PATH search of glibc's execvpe (and
 * musl's execvp), one for the shim and the broker, so that what the
 * broker starts for `execward run NAME` is what the shim would find.
 *
 * ASYNC-SIGNAL-SAFE (ew_path_as.c): the shim calls these in vfork
 * children. Stack only; errno is kept.
 */
#ifndef EW_PATH_H
#define EW_PATH_H

#include <stddef.h>

/* The search path libc uses when PATH is unset: confstr(_CS_PATH). */
#define EW_PATH_DEFAULT "/bin:/usr/bin"

/*
 * May path (relative to dirfd) be executed? 0 when it names a regular
 * file the caller may execute, else the -errno execve would most likely
 * fail with (-EACCES for a directory or a file without execute
 * permission). flags: AT_SYMLINK_NOFOLLOW or 0.
 */
int ew_path_probe(int dirfd, const char *path, int flags);

/*
 * Search path (a PATH value; NULL means EW_PATH_DEFAULT) for file the way
 * glibc's execvpe does: over-long elements skipped, an empty element is
 * the current directory, ENOENT-like errors move on, EACCES is
 * remembered, anything else stops. 0 with the first executable candidate
 * in out[0..outlen) (relative when the PATH element is), or -ENOENT,
 * -EACCES, -ENAMETOOLONG, or the error that would stop libc's search.
 * file must not contain a slash.
 */
int
ew_path_search(const char *file, const char *path, char *out, size_t outlen);

/*
 * The same search one candidate at a time, for a caller that tries each
 * (the exec family, whose exec of a candidate may still fail): init, then
 * next until it fails, telling tried the errno of each candidate whose
 * exec failed.
 */
struct ew_path_search {
	const char *file;
	const char *next; /* the next PATH element; NULL after the last */
	size_t k; /* strlen(file) */
	size_t l; /* longest PATH element kept, plus one */
	int eacces; /* a candidate failed with EACCES */
	int last; /* the errno of the last candidate */
};

/* Start a search; -ENOENT for an empty file, -ENAMETOOLONG (as libc). */
int ew_path_search_init(
    struct ew_path_search *s, const char *file, const char *path);

/*
 * The next candidate that may be executed into out: 0, -ENOENT when there
 * is none left, or the -errno that would stop libc's search.
 */
int ew_path_search_next(struct ew_path_search *s, char *out, size_t outlen);

/* A candidate's exec failed with err: 1 when libc would go on. */
int ew_path_search_tried(struct ew_path_search *s, int err);

#endif /* EW_PATH_H */
