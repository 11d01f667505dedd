/*
 * system(). glibc's system() spawns /bin/sh through internal functions
 * that no hook sees, with the global environ: the shim asks about
 * `/bin/sh -c CMD` here. When environ still carries the session the real
 * system() runs; when it does not (the program unset LD_PRELOAD), the
 * shell is spawned here, on the real posix_spawn, with a repaired
 * environment, following glibc's signal handling. Runs in the caller,
 * never in a vfork child.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "ew_shim.h"

extern char **environ;

/*
 * Run argv (/bin/sh -c CMD) with env and wait, as glibc does: SIGINT and
 * SIGQUIT ignored and SIGCHLD blocked in the caller meanwhile; the child
 * gets the caller's mask and default handlers.
 *
 * XXX glibc counts concurrent system() calls before restoring SIGINT and
 * SIGQUIT, and handles thread cancellation; this does neither.
 */
static int
run_shell(const struct ew_shim_config *c, const char *path, char *const *argv,
    char *const *env, int fd)
{
	struct sigaction sa, intr, quit;
	sigset_t block, omask, reset;
	posix_spawnattr_t attr;
	pid_t pid;
	int status = -1, r, err = 0;

	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, &intr);
	(void)sigaction(SIGQUIT, &sa, &quit);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &block, &omask);

	sigemptyset(&reset);
	if (intr.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGINT);
	if (quit.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGQUIT);
	(void)posix_spawnattr_init(&attr);
	(void)posix_spawnattr_setsigmask(&attr, &omask);
	(void)posix_spawnattr_setsigdefault(&attr, &reset);
	(void)posix_spawnattr_setflags(
	    &attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	r = ew_shim_real_posix_spawn()(&pid, path, NULL, &attr, argv, env);
	/* Whether the shell started, told now: not when it has finished. */
	ew_shim_done(fd, r);
	(void)posix_spawnattr_destroy(&attr);
	if (r == 0) {
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				err = errno;
				status = -1;
				break;
			}
		}
	} else {
		/* As glibc: a shell that could not start "exited" 127. */
		status = W_EXITCODE(127, 0);
		err = r;
	}

	(void)sigaction(SIGINT, &intr, NULL);
	(void)sigaction(SIGQUIT, &quit, NULL);
	(void)sigprocmask(SIG_SETMASK, &omask, NULL);
	if (err != 0)
		errno = err;
	return status;
}

EW_SHIM_EXPORT int
system(const char *cmd)
{
	const struct ew_shim_config *c = ew_shim_config();
	char *argv[] = { "sh", "-c", (char *)(uintptr_t)cmd, NULL };
	struct ew_shim_envbuf eb;
	char *const *env = NULL;
	char token[EW_SHIM_TOKEN_SIZE], *helper[3];
	int saved = errno, fd = -1, r;

	if (ew_shim_real_system() == NULL ||
	    ew_shim_real_posix_spawn() == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* system(NULL) asks whether a shell exists: no program starts. */
	if (cmd == NULL)
		return ew_shim_real_system()(NULL);
	if ((r = ew_shim_env_prepare(&c->session, &eb, environ, &env)) != 0) {
		errno = -r;
		return -1;
	}
	if ((r = ew_shim_check(EW_VIA_SYSTEM, EW_SHIM_SHELL, EW_SHIM_F_KEEP,
		 argv, env, token, &fd)) < 0) {
		ew_shim_envbuf_release(&eb);
		/*
		 * A shell that could not start "exited" 127; glibc's errno
		 * then is the spawn's (E2BIG for a command the kernel
		 * refuses), and a refusal leaves errno alone.
		 */
		errno = r == -E2BIG ? E2BIG : saved;
		return W_EXITCODE(127, 0);
	}
	errno = saved;
	if (r == EW_SHIM_ESCALATE) {
		/* The helper in the shell's place; its status is the shell's.
		 */
		ew_shim_helper_argv(helper, token);
		r = run_shell(c, c->helper, helper, env, -1);
	} else if (env == environ && c->session.range == 0) {
		/*
		 * XXX glibc's system() cannot tell a shell that did not
		 * start from one that exited 127: the broker is told
		 * nothing more (/bin/sh was found executable just now).
		 * With the kernel backstop the shell is always ours: its
		 * environment must lie in the envp range, or be matched to
		 * this question while the connection is still open.
		 */
		ew_shim_done(fd, 0);
		r = ew_shim_real_system()(cmd);
	} else
		r = run_shell(c, EW_SHIM_SHELL, argv, env, fd);
	ew_shim_envbuf_release(&eb);
	return r;
}
