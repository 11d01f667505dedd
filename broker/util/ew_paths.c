/* Locating execward's files and programs named on the command line. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
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
ew_paths_home(
    enum ew_paths_base base, const char *sub, char *out, size_t outlen)
{
	static const struct {
		const char *var; /* the XDG variable */
		const char *dflt; /* the folder under the home without it */
	} bases[] = {
		[EW_PATHS_CONFIG] = { "XDG_CONFIG_HOME", "/.config" },
		[EW_PATHS_STATE] = { "XDG_STATE_HOME", "/.local/state" },
	};
	const char *xdg = getenv(bases[base].var), *home = getenv("HOME");
	struct passwd *pw;
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, outlen, "%s/execward/%s", xdg, sub);
	else {
		if (home == NULL || home[0] != '/') {
			pw = getpwuid(geteuid());
			home = pw != NULL ? pw->pw_dir : NULL;
		}
		if (home == NULL || home[0] != '/')
			return -ENOENT;
		n = snprintf(out, outlen, "%s%s/execward/%s", home,
		    bases[base].dflt, sub);
	}
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int
ew_paths_default_audit(char *out, size_t outlen)
{
	return ew_paths_home(EW_PATHS_STATE, "audit.jsonl", out, outlen);
}

const char *
ew_paths_rules_folder(char *buf, size_t len)
{
	return ew_paths_home(EW_PATHS_CONFIG, "rules", buf, len) == 0 ? buf
								      : NULL;
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
