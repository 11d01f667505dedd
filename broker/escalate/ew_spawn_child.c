/*
 * ASYNC-SIGNAL-SAFE: runs in a forked child between fork and exec.
 * System calls and the stack only; no allocation, stdio or locks (the
 * broker's libev state is a copy nobody may touch here).
 *
 * The child's set-up for ew_spawn_start. Signals arrive blocked (the
 * parent blocked them all around fork, so no libev handler can run in
 * the child) and are unblocked only once every handler is reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_sandbox.h"
#include "ew_spawn.h"

/* close_range(2) flag (Linux 5.11); glibc 2.36's header may lack it. */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
/* argv of the /bin/sh fallback on the stack up to this many entries. */
#define EW_SPAWN_SH_ARGV_STACK 512

static void __attribute__((noreturn)) fail(int errfd, int step, int err)
{
	int rep[2] = { step, err };
	ssize_t n;

	do
		n = write(errfd, rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

/* Every signal to its default, or ignored when s->ignore says so. */
static void
reset_signals(const struct ew_spawn *s)
{
	struct sigaction sa;
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sa.sa_handler =
		    s->ignore != NULL && sigismember(s->ignore, sig) == 1
		    ? SIG_IGN
		    : SIG_DFL;
		sa.sa_flags = 0;
		sigemptyset(&sa.sa_mask);
		/* glibc's own signals (32, 33) refuse: that is fine. */
		(void)sigaction(sig, &sa, NULL);
	}
}

/* fds 0, 1, 2 from s->fds; 0 or -errno. */
static int
stdio(const struct ew_spawn *s)
{
	int tmp[3] = { -1, -1, -1 }, i, fd;

	/* Out of the way first: a source may be another target's number. */
	for (i = 0; i < 3; i++) {
		if (s->fds[i] >= 0)
			fd = fcntl(s->fds[i], F_DUPFD_CLOEXEC, 10);
		else
			fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		tmp[i] = fd;
	}
	for (i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0)
			return -errno;
	/*
	 * dup2 clears close-on-exec on its target, except when source and
	 * target are the same fd: /dev/null opened O_CLOEXEC onto a closed
	 * 0, 1 or 2 stays where it landed, and would close at the exec.
	 */
	for (i = 0; i < 3; i++)
		if (fcntl(i, F_SETFD, 0) != 0)
			return -errno;
	return 0;
}

/* Does s->path still name the file of s->dev and s->ino? */
static int
same_file(const struct ew_spawn *s)
{
	struct stat st;

	if (stat(s->path, &st) != 0)
		return -errno;
	return st.st_dev == s->dev && st.st_ino == s->ino ? 0 : -ESTALE;
}

/* exec path with /bin/sh, as execvp does for a file without "#!". */
static void exec_it(const char *path, char *const *argv, char *const *envp);

static void
exec_sh(const struct ew_spawn *s)
{
	char *stack[EW_SPAWN_SH_ARGV_STACK], **argv = stack;
	size_t argc = 0, i, len;
	void *map = NULL;

	while (s->argv[argc] != NULL)
		argc++;
	if (argc + 2 > EW_SPAWN_SH_ARGV_STACK) {
		len = (argc + 2) * sizeof(char *);
		map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED)
			return;
		argv = map;
	}
	argv[0] = (char *)"sh";
	argv[1] = (char *)s->path;
	for (i = 1; i < argc; i++)
		argv[i + 1] = s->argv[i];
	argv[argc > 0 ? argc + 1 : 2] = NULL;
	exec_it("/bin/sh", argv, s->envp);
	errno = ENOEXEC;
}

/* execve, or the raw system call when ew_spawn_bypass_shim (ew_spawn.h). */
static void
exec_it(const char *path, char *const *argv, char *const *envp)
{
	if (ew_spawn_bypass_shim)
		(void)syscall(SYS_execve, path, argv, envp);
	else
		(void)execve(path, argv, envp);
}

void
ew_spawn_child(const struct ew_spawn *s, int errfd)
{
	struct ew_spawn local;
	char *const *envp;
	sigset_t none;
	int r;

	reset_signals(s);
	if (s->pgid != EW_SPAWN_PGID_KEEP && setpgid(0, s->pgid) != 0 &&
	    s->pgid != 0)
		(void)setpgid(0, 0);
	if ((r = stdio(s)) != 0)
		fail(errfd, EW_SPAWN_STEP_FDS, -r);
	/* Nothing of the broker's but stdio reaches the program. */
	(void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	if (s->set_umask)
		(void)umask(s->umask);
	/* Before chdir: a cwd inside a carve-out must be inside its mount. */
	if ((r = ew_sandbox_mount_apply(s->sandbox)) != 0)
		fail(errfd, EW_SPAWN_STEP_SANDBOX, -r);
	if (s->cwd != NULL && chdir(s->cwd) != 0)
		fail(errfd, EW_SPAWN_STEP_CHDIR, errno);
	if ((r = ew_sandbox_apply(s->sandbox)) != 0)
		fail(errfd, EW_SPAWN_STEP_SANDBOX, -r);
	/* Last: the filter (and the exec's envp in its range). */
	if (s->hook != NULL) {
		envp = s->envp;
		if ((r = s->hook->child(s, s->hook_sock, &envp)) != 0)
			fail(errfd, EW_SPAWN_STEP_BACKSTOP, -r);
		local = *s;
		local.envp = envp;
		s = &local;
	}
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (s->by_fd) {
		/* The raw call: the file checked, whoever is preloaded. */
		(void)syscall(SYS_execveat, s->exec_fd, "", s->argv, s->envp,
		    AT_EMPTY_PATH);
		fail(errfd, EW_SPAWN_STEP_EXEC, errno);
	}
	if (s->check_id && (r = same_file(s)) != 0)
		fail(errfd, EW_SPAWN_STEP_EXEC, -r);
	exec_it(s->path, s->argv, s->envp);
	if (errno == ENOEXEC && s->sh_fallback)
		exec_sh(s);
	fail(errfd, EW_SPAWN_STEP_EXEC, errno);
}
