/* Locating execward's files and programs named on the command line. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_path.h"
#include "ew_paths.h"

#ifndef EW_PKGLIBDIR
#define EW_PKGLIBDIR "/usr/local/lib/execward"
#endif

static int
is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
ew_paths_find(
    const char *name, const char *env_override, char *out, size_t outlen)
{
	char exe[PATH_MAX], *slash;
	const char *v;
	ssize_t n;

	if (env_override != NULL && (v = getenv(env_override)) != NULL &&
	    v[0] == '/') {
		if ((size_t)snprintf(out, outlen, "%s", v) >= outlen)
			return -ENAMETOOLONG;
		return is_file(out) ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			/* The build tree: build/broker/execward. */
			if ((size_t)snprintf(out, outlen, "%s/../preload/%s",
				exe, name) < outlen &&
			    is_file(out))
				return realpath(out, exe) != NULL &&
					(size_t)snprintf(
					    out, outlen, "%s", exe) < outlen
				    ? 0
				    : -ENAMETOOLONG;
		}
	}
	if ((size_t)snprintf(out, outlen, "%s/%s", EW_PKGLIBDIR, name) <
		outlen &&
	    is_file(out))
		return 0;
	return -ENOENT;
}

int
ew_paths_default_audit(char *out, size_t outlen)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (state != NULL && state[0] == '/')
		n = snprintf(out, outlen, "%s/execward/audit.jsonl", state);
	else if (home != NULL && home[0] == '/')
		n = snprintf(
		    out, outlen, "%s/.local/state/execward/audit.jsonl", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Make path absolute against the cwd. */
static int
absolute(const char *path, char *out, size_t outlen)
{
	char cwd[PATH_MAX];

	if (path[0] == '/') {
		if ((size_t)snprintf(out, outlen, "%s", path) >= outlen)
			return -ENAMETOOLONG;
		return 0;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -errno;
	if ((size_t)snprintf(out, outlen, "%s/%s", cwd, path) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int
ew_paths_which(const char *file, char *out, size_t outlen)
{
	char cand[PATH_MAX];
	int r;

	if (file[0] == '\0')
		return -ENOENT;
	if (strchr(file, '/') != NULL) {
		if ((r = absolute(file, out, outlen)) != 0)
			return r;
		if (access(out, X_OK) != 0)
			return -errno;
		return 0;
	}
	/* What the shim would find for the same name (glibc's execvpe). */
	if ((r = ew_path_search(file, getenv("PATH"), cand, sizeof(cand))) != 0)
		return r;
	return absolute(cand, out, outlen);
}
