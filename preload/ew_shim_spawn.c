/*
 * posix_spawn and posix_spawnp. glibc's posix_spawn runs its child through
 * internal functions that never reach the exported execve, so these are
 * interposed on their own. They run in the caller (never in a vfork
 * child), but use only the async-signal-safe ask path and stack storage.
 * Return convention as libc: an error number, errno left alone.
 */
#include <errno.h>
#include <spawn.h>
#include <string.h>

#include "ew_shim.h"

extern char **environ;

/*
 * May the child look the program up from another directory? A chdir file
 * action (posix_spawn_file_actions_addchdir_np) runs before the exec, so a
 * relative program, or a PATH with relative elements, may then name a
 * file that does not exist from here: ask even when it is not found.
 */
static int
may_move(const posix_spawn_file_actions_t *fa, const char *file, int search)
{
#ifdef __GLIBC__
	if (fa == NULL || fa->__used <= 0)
		return 0;
#else
	if (fa == NULL)
		return 0;
#endif
	if (file == NULL || file[0] == '/')
		return 0;
	if (search && strchr(file, '/') == NULL)
		return ew_shim_path_has_relative(
		    ew_shim_env_get(environ, "PATH"));
	return 1;
}

static int
spawn(uint32_t via, pid_t *pid, const char *file,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[], int search)
{
	const struct ew_shim_config *c = ew_shim_config();
	int (*real)(pid_t *, const char *, const posix_spawn_file_actions_t *,
	    const posix_spawnattr_t *, char *const[], char *const[]);
	struct ew_shim_envbuf eb;
	char *const *env = NULL;
	char token[EW_SHIM_TOKEN_SIZE], *helper[3];
	unsigned flags = 0;
	int saved = errno, r;

	real = search ? c->real.posix_spawnp : c->real.posix_spawn;
	if (real == NULL)
		return ENOSYS;
	if ((r = ew_shim_env_prepare(&c->session, &eb, envp, &env)) != 0) {
		errno = saved;
		return -r;
	}
	if (search)
		flags |= EW_SHIM_F_SEARCH;
	/*
	 * XXX After a chdir file action the program is still reported as
	 * resolved from the caller's directory.
	 */
	if (may_move(fa, file, search))
		flags |= EW_SHIM_F_MOVED;
	if ((r = ew_shim_check(via, file, flags, argv, token)) < 0) {
		ew_shim_envbuf_release(&eb);
		errno = saved;
		return -r;
	}
	if (r == EW_SHIM_ESCALATE) {
		/*
		 * The caller's pid is the helper's, and so are the file
		 * actions and attributes: the program gets the fds and
		 * ignored signals they give the helper.
		 */
		ew_shim_helper_argv(helper, token);
		r = c->real.posix_spawn(pid, c->helper, fa, attr, helper, env);
	} else
		r = real(pid, file, fa, attr, argv, env);
	ew_shim_envbuf_release(&eb);
	return r;
}

EW_SHIM_EXPORT int
posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(EW_VIA_POSIX_SPAWN, pid, path, fa, attr, argv, envp, 0);
}

EW_SHIM_EXPORT int
posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(EW_VIA_POSIX_SPAWNP, pid, file, fa, attr, argv, envp, 1);
}
