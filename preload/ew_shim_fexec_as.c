/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; stack or mmap'd
 * storage only; errno is preserved until the real function sets it.
 *
 * The exec family on file descriptors: execveat and fexecve. The program
 * is reported by what the descriptor names (/proc/self/fd/N's target).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_path.h"
#include "ew_shim.h"

/* Fill out with "/proc/self/fd/<fd>". */
static const char *
fd_path(int fd, char *out, size_t len)
{
	struct ew_shim_line l;

	ew_shim_line_init(&l, out, len);
	ew_shim_line_put(&l, "/proc/self/fd/");
	ew_shim_line_put_uint(&l, (unsigned long long)fd);
	return ew_shim_line_str(&l);
}

/*
 * The name the kernel gives the program (bprm->filename), which counts
 * against the argument limit: the path itself, or "/dev/fd/N[/path]" when
 * it is found through a descriptor.
 */
static const char *
kernel_name(int dirfd, const char *path, char *out, size_t len)
{
	struct ew_shim_line l;

	if (path[0] == '/' || dirfd == AT_FDCWD)
		return path;
	ew_shim_line_init(&l, out, len);
	ew_shim_line_put(&l, "/dev/fd/");
	ew_shim_line_put_uint(&l, (unsigned long long)dirfd);
	if (path[0] != '\0') {
		ew_shim_line_put(&l, "/");
		ew_shim_line_put(&l, path);
	}
	return ew_shim_line_str(&l);
}

/*
 * Resolve and ask about the program (dirfd, path, flags) names, to start
 * with argv and envp. 0: go ahead (*fdp as ew_shim_gate's);
 * EW_SHIM_UNASKED: libc will fail on its own; -EACCES: refused; -E2BIG:
 * the kernel would refuse it; EW_SHIM_ESCALATE: run the helper.
 */
static int
check_at(uint32_t via, int dirfd, const char *path, char *const *argv,
    char *const *envp, int flags, char *token, int *fdp)
{
	char cwd[PATH_MAX], base[PATH_MAX + 32], resolved[EW_PROTO_PATH_MAX];
	char proc[64];
	struct ew_shim_ask q;
	const char *file = path;
	int nofollow = flags & AT_SYMLINK_NOFOLLOW;

	*fdp = -1;
	if (path == NULL)
		return EW_SHIM_UNASKED;
	memset(&q, 0, sizeof(q));
	ew_shim_path_cwd(cwd, sizeof(cwd));
	if (path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
		/* The descriptor itself is the program. */
		file = fd_path(dirfd, proc, sizeof(proc));
		if (ew_path_probe(AT_FDCWD, file, 0) != 0 ||
		    ew_shim_path_fd(dirfd, resolved, sizeof(resolved)) != 0)
			return EW_SHIM_UNASKED;
		q.resolved = resolved;
	} else {
		if (ew_path_probe(dirfd, path, nofollow) != 0)
			return EW_SHIM_UNASKED;
		if (path[0] == '/' || dirfd == AT_FDCWD)
			strcpy(base, cwd);
		else if (ew_shim_path_fd(dirfd, base, sizeof(base)) != 0)
			return EW_SHIM_UNASKED;
		if (ew_shim_path_absolute(
			base, path, resolved, sizeof(resolved)) == 0)
			q.resolved = resolved;
	}
	/* base is free again: it holds the kernel's name of the program. */
	if (ew_shim_args_e2big(
		kernel_name(dirfd, path, base, sizeof(base)), argv, envp))
		return -E2BIG;
	q.via = via;
	q.file = file;
	q.cwd = cwd;
	q.argv = argv;
	return ew_shim_gate(&q, token, fdp);
}

/*
 * execveat and fexecve once their arguments pass: asked about (via says
 * which), then the program, its escalation helper, or nothing. -1 with
 * errno, as they fail.
 */
static int
exec_at(uint32_t via, int dirfd, const char *path, char *const argv[],
    char *const envp[], int flags)
{
	const struct ew_shim_config *c = ew_shim_config();
	struct ew_shim_envbuf eb;
	char *const *env = NULL;
	char token[EW_SHIM_TOKEN_SIZE], *helper[3];
	int saved = errno, fd = -1, err, r;

	if ((r = ew_shim_env_prepare(&c->session, &eb, envp, &env)) != 0) {
		errno = -r;
		return -1;
	}
	if ((r = check_at(via, dirfd, path, argv, env, flags, token, &fd)) <
	    0) {
		ew_shim_envbuf_release(&eb);
		errno = -r;
		return -1;
	}
	errno = saved;
	if (r == EW_SHIM_ESCALATE) {
		ew_shim_helper_argv(helper, token);
		(void)ew_shim_real_execve()(c->helper, helper, env);
	} else if (via == EW_VIA_FEXECVE) {
		if (ew_shim_real_fexecve() != NULL)
			(void)ew_shim_real_fexecve()(dirfd, argv, env);
		else
			errno = ENOSYS;
	} else if (ew_shim_real_execveat() != NULL)
		(void)ew_shim_real_execveat()(dirfd, path, argv, env, flags);
	else
		(void)syscall(SYS_execveat, dirfd, path, argv, env, flags);
	err = errno;
	ew_shim_done(fd, err);
	ew_shim_envbuf_release(&eb);
	errno = err;
	return -1;
}

EW_SHIM_EXPORT int
execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
    int flags)
{
	return exec_at(EW_VIA_EXECVEAT, dirfd, path, argv, envp, flags);
}

EW_SHIM_EXPORT int
fexecve(int pfd, char *const argv[], char *const envp[])
{
	/* glibc refuses these with EINVAL before any exec. */
	if (pfd < 0 || ew_shim_launder(argv) == NULL ||
	    ew_shim_launder(envp) == NULL)
		return ew_shim_real_fexecve() != NULL
		    ? ew_shim_real_fexecve()(pfd, argv, envp)
		    : (errno = EINVAL, -1);
	return exec_at(EW_VIA_FEXECVE, pfd, "", argv, envp, AT_EMPTY_PATH);
}
