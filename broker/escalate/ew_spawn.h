/* Starting a program from the broker: fork, set the child up, exec. */
#ifndef EW_SPAWN_H
#define EW_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct ew_sandbox;
struct ew_spawn;

/*
 * What a spawn runs around its child besides the sandbox: the kernel
 * backstop (broker/backstop/), which lies above escalate and is reached
 * only through this; arg is its own. sv is a socket pair it may open
 * for the child's way back (-1: none), closed by ew_spawn_start.
 */
struct ew_spawn_hook {
	void *arg;
	/* Before fork. 0, or -errno with why in err. */
	int (*open)(
	    const struct ew_spawn *s, int sv[2], char *err, size_t errlen);
	/*
	 * In the child, last before its exec (async-signal-safe): may point
	 * *envpp at a copy. sock: sv[1]. 0 or -errno.
	 */
	int (*child)(const struct ew_spawn *s, int sock, char *const **envpp);
	/* After fork, before the child's report on pipefd is read. */
	void (*wait)(
	    const struct ew_spawn *s, int sv[2], pid_t pid, int pipefd);
	/*
	 * Add to an escalated program's environment (an array that
	 * ew_escalate_env built). 0 or -ENOMEM.
	 */
	int (*env_add)(const void *arg, char ***env);
};

/*
 * posix_spawn cannot run code in the child, and a sandbox must be applied
 * there, so the broker forks. The child resets every signal to its
 * default (keeping the requested ones ignored), takes its process group
 * and stdio, changes directory, applies the sandbox and execs; a failure
 * at any step is reported back through a close-on-exec pipe, so the
 * parent learns it synchronously, with the step's name.
 *
 * Return convention: 0 on success, -errno on failure with a one-line
 * reason in err.
 */

/* pgid: stay in the broker's process group. */
#define EW_SPAWN_PGID_KEEP ((pid_t)-1)

struct ew_spawn {
	const char *path; /* absolute */
	char *const *argv;
	char *const *envp;
	const char *cwd; /* NULL: the broker's */
	int fds[3]; /* the child's 0, 1, 2: an fd, or -1 for /dev/null */
	/* EW_SPAWN_PGID_KEEP, 0 for a group of its own, or a group to join
	 * (a group of its own when that fails). */
	pid_t pgid;
	const sigset_t *ignore; /* ignored in the child; NULL: none */
	bool set_umask; /* umask below, else the broker's */
	mode_t umask;
	const struct ew_sandbox *sandbox; /* NULL: none */
	bool sh_fallback; /* ENOEXEC: run it with /bin/sh, as execvp does */
	/*
	 * Exactly the file checked (ew_escalate_check): with by_fd, exec
	 * exec_fd itself (execveat AT_EMPTY_PATH; path is then only its name
	 * in messages). Else, with check_id, path must still name the file
	 * of dev and ino at the last moment before the exec, or the exec
	 * step fails with ESTALE.
	 */
	bool by_fd;
	int exec_fd;
	bool check_id;
	dev_t dev;
	ino_t ino;
	/*
	 * The kernel backstop (struct ew_spawn_hook): the child installs its
	 * filter and the listener is kept for hook_sess (the broker's
	 * session, opaque here), whose trapped starts come from outside the
	 * sandbox with hook_outside (an escalated program's tree). NULL:
	 * none.
	 */
	const struct ew_spawn_hook *hook;
	void *hook_sess;
	bool hook_outside;
	int hook_sock; /* ew_spawn_start's: the child's way back */
};

/*
 * Exec with the raw system call, past any exec interposer loaded in this
 * process: set by ew_chain_open when this execward runs inside another
 * session, whose shim must not repair our children's environment (we put
 * each of their starts to its broker ourselves).
 */
extern bool ew_spawn_bypass_shim;

/* Start s; the child's pid in *pidp (the caller reaps it). */
int
ew_spawn_start(const struct ew_spawn *s, pid_t *pidp, char *err, size_t errlen);

/*
 * The child half: never returns. Reports (step, errno) as two ints on
 * errfd, then exits 127. Async-signal-safe.
 */
void
ew_spawn_child(const struct ew_spawn *s, int errfd) __attribute__((noreturn));

/* The steps ew_spawn_child reports. */
enum ew_spawn_step {
	EW_SPAWN_STEP_FDS = 1,
	EW_SPAWN_STEP_CHDIR,
	EW_SPAWN_STEP_SANDBOX,
	EW_SPAWN_STEP_EXEC,
	EW_SPAWN_STEP_BACKSTOP,
};

#endif /* EW_SPAWN_H */
