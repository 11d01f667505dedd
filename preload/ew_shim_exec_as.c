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
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ew_env.h"
#include "ew_path.h"
#include "ew_shim.h"

extern char **environ;

/* The /bin/sh fallback's argv lives on the stack up to this many entries. */
#define EW_SHIM_SH_ARGV_STACK 64

/* Run the escalation helper in our place; returns its exec's errno. */
static int
exec_helper(const struct ew_shim_config *c, char *token, char *const *env)
{
	char *helper[3];

	ew_shim_helper_argv(helper, token);
	(void)ew_shim_real_execve()(c->helper, helper, env);
	return errno;
}

/*
 * execve(path) for an exec-family call whose broker connection is fd,
 * then tell the broker how it went. Returns the errno (only on failure).
 */
static int
exec_path(const struct ew_shim_config *c, const char *path, char *const *argv,
    char *const *env, int fd)
{
	int err;

	if (ew_shim_real_execve() == NULL) {
		ew_shim_done(fd, ENOSYS);
		return ENOSYS;
	}
	(void)ew_shim_real_execve()(path, argv, env);
	err = errno;
	ew_shim_done(fd, err);
	return err;
}

/*
 * glibc's execvp family runs a file the kernel refuses with ENOEXEC (a
 * script without "#!") as `/bin/sh path ARG...`: that is a start of
 * /bin/sh, asked about as such (the file itself was asked about, and its
 * failure told, first). Returns the errno of the last attempt.
 */
static int
exec_sh_fallback(const struct ew_shim_config *c, uint32_t via, const char *path,
    char *const *argv, char *const *env)
{
	char *stack[EW_SHIM_SH_ARGV_STACK], **sh = stack;
	char token[EW_SHIM_TOKEN_SIZE];
	size_t argc = 0, len = 0;
	void *map = NULL;
	int fd = -1, err, r;

	while (argv != NULL && argv[argc] != NULL)
		argc++;
	/* As glibc: /bin/sh, the file, then argv[1..]. */
	if (argc + 2 > EW_SHIM_SH_ARGV_STACK) {
		/*
		 * XXX In a vfork child whose exec then succeeds, this mapping
		 * stays in the parent: only calls with hundreds of arguments
		 * get here.
		 */
		len = (argc + 2) * sizeof(char *);
		map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED)
			return ENOMEM;
		sh = map;
	}
	sh[0] = (char *)EW_SHIM_SHELL;
	sh[1] = (char *)(uintptr_t)path;
	if (argc > 1)
		memcpy(sh + 2, argv + 1, argc * sizeof(char *));
	else
		sh[2] = NULL;
	/* /bin/sh missing or not executable: the exec fails on its own. */
	if (ew_path_probe(AT_FDCWD, EW_SHIM_SHELL, 0) != 0)
		r = EW_SHIM_UNASKED;
	else
		r = ew_shim_ask_path(
		    via, EW_SHIM_SHELL, EW_SHIM_SHELL, sh, env, token, &fd);
	if (r < 0)
		err = -r;
	else if (r == EW_SHIM_ESCALATE)
		err = exec_helper(c, token, env);
	else
		err = exec_path(c, EW_SHIM_SHELL, sh, env, fd);
	if (map != NULL)
		(void)munmap(map, len);
	return err;
}

/*
 * One allowed candidate of the exec family: its exec, and for the
 * searching variants the /bin/sh fallback. Returns the errno.
 */
static int
exec_candidate(const struct ew_shim_config *c, uint32_t via, const char *path,
    char *const *argv, char *const *env, int fd, int search)
{
	int err = exec_path(c, path, argv, env, fd);

	if (err == ENOEXEC && search)
		err = exec_sh_fallback(c, via, path, argv, env);
	return err;
}

/*
 * The searching variants (execvp, execvpe, execlp), as glibc's execvpe:
 * each PATH candidate that may be executed is asked about and tried in
 * turn, with the /bin/sh fallback, until one starts or an error stops the
 * search. Unlike libc, a candidate that may not be executed is not tried
 * (its exec would fail on its own), and a refused one ends the search.
 * When nothing may be executed at all, libc's own execvpe fails with its
 * own errno. Returns the errno.
 */
static int __attribute__((noinline)) exec_search(const struct ew_shim_config *c,
    uint32_t via, const char *file, char *const *argv, char *const *env)
{
	struct ew_path_search s;
	char cand[EW_SHIM_CAND_MAX], token[EW_SHIM_TOKEN_SIZE];
	int tried = 0, fd = -1, err, r;

	if (strchr(file, '/') != NULL) {
		if (ew_path_probe(AT_FDCWD, file, 0) != 0)
			goto libc;
		r = ew_shim_ask_path(via, file, file, argv, env, token, &fd);
		if (r < 0)
			return -r;
		if (r == EW_SHIM_ESCALATE)
			return exec_helper(c, token, env);
		return exec_candidate(c, via, file, argv, env, fd, 1);
	}
	/* libc searches the caller's PATH, whatever envp says. */
	if (ew_path_search_init(&s, file, ew_env_get(environ, "PATH")) != 0)
		goto libc;
	for (;;) {
		r = ew_path_search_next(&s, cand, sizeof(cand));
		if (r == -ENOENT)
			break;
		if (r < 0) {
			if (!tried)
				goto libc;
			return -r;
		}
		r = ew_shim_ask_path(via, file, cand, argv, env, token, &fd);
		if (r < 0)
			return -r;
		if (r == EW_SHIM_ESCALATE)
			return exec_helper(c, token, env);
		tried = 1;
		err = exec_candidate(c, via, cand, argv, env, fd, 1);
		if (!ew_path_search_tried(&s, err))
			return err;
	}
	if (tried)
		return s.eacces ? EACCES : s.last;
libc:
	/* Nothing to ask: libc fails on its own, with its own errno. */
	if (ew_shim_real_execvpe() == NULL)
		return ENOSYS;
	(void)ew_shim_real_execvpe()(file, argv, env);
	return errno;
}

int
ew_shim_exec(uint32_t via, const char *file, char *const *argv,
    char *const *envp, int search)
{
	const struct ew_shim_config *c = ew_shim_config();
	struct ew_shim_envbuf eb;
	char *const *env = NULL;
	char token[EW_SHIM_TOKEN_SIZE];
	int saved = errno, fd = -1, err, r;

	if ((r = ew_shim_env_prepare(&c->session, &eb, envp, &env)) != 0) {
		errno = -r;
		return -1;
	}
	errno = saved;
	if (search && file == NULL) {
		/* As libc does with it, whatever that is. */
		(void)ew_shim_real_execvpe()(file, argv, env);
		err = errno;
	} else if (search)
		err = exec_search(c, via, file, argv, env);
	else if ((r = ew_shim_check(via, file, 0, argv, env, token, &fd)) < 0)
		err = -r;
	else if (r == EW_SHIM_ESCALATE)
		err = exec_helper(c, token, env);
	else
		err = exec_path(c, file, argv, env, fd);
	ew_shim_envbuf_release(&eb);
	errno = err;
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
