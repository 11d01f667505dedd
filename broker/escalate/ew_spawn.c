/* ew_spawn_start: fork, then learn from the child whether exec worked. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_fd.h"
#include "ew_spawn.h"

bool ew_spawn_bypass_shim;

static const char *
step_name(int step)
{
	switch (step) {
	case EW_SPAWN_STEP_FDS:
		return "set up stdin, stdout and stderr";
	case EW_SPAWN_STEP_CHDIR:
		return "chdir";
	case EW_SPAWN_STEP_SANDBOX:
		return "apply the sandbox";
	case EW_SPAWN_STEP_BACKSTOP:
		return "install the kernel backstop (--backstop off to run "
		       "without)";
	default:
		return "execve";
	}
}

int
ew_spawn_start(const struct ew_spawn *s, pid_t *pidp, char *err, size_t errlen)
{
	int sv[2] = { -1, -1 };
	struct ew_spawn sc;
	sigset_t all, old;
	int p[2] = { -1, -1 }, rep[2], r = 0;
	ssize_t n;
	pid_t pid;

	*pidp = -1;
	if (s->hook != NULL && (r = s->hook->open(s, sv, err, errlen)) != 0)
		return r;
	if (pipe2(p, O_CLOEXEC) != 0) {
		r = -errno;
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		ew_fd_close(sv[0]);
		ew_fd_close(sv[1]);
		return r;
	}
	sc = *s;
	sc.hook_sock = sv[1];
	/*
	 * No handler of ours may run in the child before it has reset them
	 * all: block everything across fork, and let the child unblock.
	 */
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		ew_spawn_child(&sc, p[1]);
	}
	r = pid < 0 ? -errno : 0;
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	p[1] = ew_fd_close(p[1]);
	if (r != 0) {
		snprintf(err, errlen, "fork: %s", strerror(-r));
		goto out;
	}
	/* The tree's backstop listener, before the child's report. */
	if (s->hook != NULL)
		s->hook->wait(s, sv, pid, p[0]);
	/* EOF: the exec closed the pipe. Two ints: a step failed. */
	do
		n = read(p[0], rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(rep)) {
		r = rep[1] > 0 ? -rep[1] : -EIO;
		snprintf(err, errlen, "%s %s: %s", step_name(rep[0]),
		    rep[0] == EW_SPAWN_STEP_CHDIR ? s->cwd : s->path,
		    strerror(-r));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	*pidp = pid;
out:
	ew_fd_close(sv[0]);
	ew_fd_close(sv[1]);
	ew_fd_close(p[0]);
	return r;
}
