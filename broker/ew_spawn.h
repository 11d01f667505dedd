/* Starting a program from the broker: fork, set the child up, exec. */
#ifndef EW_SPAWN_H
#define EW_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct ew_backstop;
struct ew_sandbox;
struct ew_session;

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
	 * The kernel backstop (backstop/ew_backstop.h): the child installs
	 * its filter and the listener is kept for backstop_sess, whose
	 * trapped starts come from outside the sandbox with
	 * backstop_outside (an escalated program's tree). NULL: none.
	 */
	struct ew_backstop *backstop;
	struct ew_session *backstop_sess;
	bool backstop_outside;
	int backstop_sock; /* ew_spawn_start's: the child's way back */
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
