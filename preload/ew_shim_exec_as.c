/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; stack or mmap'd
 * storage only; errno is preserved until the real function sets it.
 *
 * The exec family with an argv array: execve, execv, execvp, execvpe, and
 * the common path the execl family shares. libc does the real work: PATH
 * search, the ENOEXEC fallback to /bin/sh and errno stay exactly its own.
 */
#include <errno.h>
#include <unistd.h>

#include "ew_shim.h"

extern char **environ;

int
ew_shim_exec(uint32_t via, const char *file, char *const *argv,
    char *const *envp, int search)
{
	const struct ew_shim_config *c = ew_shim_config();
	struct ew_shim_envbuf eb;
	char *const *env = NULL;
	char token[EW_SHIM_TOKEN_SIZE], *helper[3];
	int saved = errno, r;

	if ((r = ew_shim_env_prepare(&c->session, &eb, envp, &env)) != 0) {
		errno = -r;
		return -1;
	}
	if ((r = ew_shim_check(
		 via, file, search ? EW_SHIM_F_SEARCH : 0, argv, token)) < 0) {
		ew_shim_envbuf_release(&eb);
		errno = -r;
		return -1;
	}
	errno = saved;
	if (r == EW_SHIM_ESCALATE) {
		/* The helper takes our place, pid, fds and all. */
		ew_shim_helper_argv(helper, token);
		(void)c->real.execve(c->helper, helper, env);
	} else if (search && c->real.execvpe != NULL)
		(void)c->real.execvpe(file, argv, env);
	else if (!search && c->real.execve != NULL)
		(void)c->real.execve(file, argv, env);
	else
		errno = ENOSYS;
	ew_shim_envbuf_release(&eb);
	return -1;
}

EW_SHIM_EXPORT int
execve(const char *path, char *const argv[], char *const envp[])
{
	return ew_shim_exec(EW_VIA_EXECVE, path, argv, envp, 0);
}

EW_SHIM_EXPORT int
execv(const char *path, char *const argv[])
{
	return ew_shim_exec(EW_VIA_EXECV, path, argv, environ, 0);
}

EW_SHIM_EXPORT int
execvp(const char *file, char *const argv[])
{
	return ew_shim_exec(EW_VIA_EXECVP, file, argv, environ, 1);
}

EW_SHIM_EXPORT int
execvpe(const char *file, char *const argv[], char *const envp[])
{
	return ew_shim_exec(EW_VIA_EXECVPE, file, argv, envp, 1);
}
