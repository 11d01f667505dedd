/*
 * popen() and pclose(). glibc's popen() spawns /bin/sh through internal
 * functions that no hook sees, with the global environ: the shim asks
 * about `/bin/sh -c CMD` here. When environ still carries the session the
 * real popen() runs. When it does not, the shell is spawned here on the
 * real posix_spawn with a repaired environment, as glibc does it (pipe2
 * O_CLOEXEC, dup2 and close file actions, fdopen).
 *
 * pclose() is interposed because of that: glibc's pclose() only waits for
 * children of its own popen(); a stream made here would be closed with no
 * wait, leaving a zombie and losing the status. Streams made here are kept
 * in a list; pclose() of any other stream goes to the real pclose().
 * Runs in the caller, never in a vfork child.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_shim.h"

extern char **environ;

/* A stream popen() made here. */
struct stream {
	FILE *fp;
	pid_t pid;
	int fd; /* the parent's end, as it was at popen() time */
	dev_t dev; /* to tell whether fd is still that pipe */
	ino_t ino;
	struct stream *next;
};

static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stream *streams;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A fork while another thread holds the lock must not leave it held. */
static void
lock_streams(void)
{
	pthread_mutex_lock(&streams_lock);
}

static void
unlock_streams(void)
{
	pthread_mutex_unlock(&streams_lock);
}

/* Unlink and return the entry for fp, or NULL. Called with the lock held. */
static struct stream *
forget(FILE *fp)
{
	struct stream *s, **pp;

	for (pp = &streams; (s = *pp) != NULL; pp = &s->next)
		if (s->fp == fp) {
			*pp = s->next;
			return s;
		}
	return NULL;
}

static void
register_atfork(void)
{
	(void)pthread_atfork(lock_streams, unlock_streams, unlock_streams);
}

/* glibc's mode syntax: one of r or w, optionally e (close-on-exec). */
static int
parse_mode(const char *mode, int *readp, int *cloexecp)
{
	int r = 0, w = 0;

	*readp = 0;
	*cloexecp = 0;
	for (; *mode != '\0'; mode++) {
		if (*mode == 'r')
			r = 1;
		else if (*mode == 'w')
			w = 1;
		else if (*mode == 'e')
			*cloexecp = 1;
		else
			return -EINVAL;
	}
	if (r == w)
		return -EINVAL;
	*readp = r;
	return 0;
}

/*
 * Add a close action for each earlier stream still open in the parent
 * (POSIX: they are closed in the new child). Called with the lock held.
 */
static int
close_earlier(posix_spawn_file_actions_t *fa, int child_fd)
{
	struct stream *s;
	struct stat st;

	for (s = streams; s != NULL; s = s->next) {
		if (s->fd == child_fd || fstat(s->fd, &st) != 0 ||
		    st.st_dev != s->dev || st.st_ino != s->ino)
			continue;
		if (posix_spawn_file_actions_addclose(fa, s->fd) != 0)
			return -ENOMEM;
	}
	return 0;
}

/* Spawn argv (/bin/sh -c CMD) with env behind a pipe. */
static FILE *
spawn_stream(const struct ew_shim_config *c, const char *path,
    char *const *argv, char *const *env, int do_read, int do_cloexec)
{
	posix_spawn_file_actions_t fa;
	struct stream *s = NULL;
	struct stat st;
	FILE *fp = NULL;
	int fds[2] = { -1, -1 }, parent_end, child_end, child_fd, tmp, r;
	int have_fa = 0, locked = 0, err = 0;

	(void)pthread_once(&atfork_once, register_atfork);
	if (pipe2(fds, O_CLOEXEC) != 0)
		return NULL;
	parent_end = do_read ? fds[0] : fds[1];
	child_end = do_read ? fds[1] : fds[0];
	child_fd = do_read ? STDOUT_FILENO : STDIN_FILENO;
	/*
	 * The child's end must not already be the fd it becomes: dup2 onto
	 * itself would keep CLOEXEC, and the shell would lose it.
	 */
	if (child_end == child_fd) {
		if ((tmp = fcntl(child_end, F_DUPFD_CLOEXEC, 3)) < 0) {
			err = errno;
			goto fail;
		}
		(void)close(child_end);
		child_end = tmp;
		fds[do_read ? 1 : 0] = tmp;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    fstat(parent_end, &st) != 0 ||
	    (fp = fdopen(parent_end, do_read ? "r" : "w")) == NULL) {
		err = errno;
		goto fail;
	}
	(void)posix_spawn_file_actions_init(&fa);
	have_fa = 1;
	if ((r = posix_spawn_file_actions_adddup2(&fa, child_end, child_fd)) !=
	    0) {
		err = r;
		goto fail;
	}
	lock_streams();
	locked = 1;
	if ((r = close_earlier(&fa, child_fd)) != 0 ||
	    (r = ew_shim_real_posix_spawn()(
		 &s->pid, path, &fa, NULL, argv, env)) != 0) {
		err = r < 0 ? -r : r;
		goto fail;
	}
	(void)close(child_end);
	if (!do_cloexec)
		(void)fcntl(parent_end, F_SETFD, 0);
	/* A stale entry (its stream fclose()d) may carry fp's address. */
	free(forget(fp));
	s->fp = fp;
	s->fd = parent_end;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->next = streams;
	streams = s;
	unlock_streams();
	(void)posix_spawn_file_actions_destroy(&fa);
	return fp;
fail:
	if (locked)
		unlock_streams();
	if (have_fa)
		(void)posix_spawn_file_actions_destroy(&fa);
	if (fp != NULL) {
		(void)fclose(fp); /* closes parent_end */
		fds[do_read ? 0 : 1] = -1;
	}
	if (fds[0] >= 0)
		(void)close(fds[0]);
	if (fds[1] >= 0)
		(void)close(fds[1]);
	free(s);
	errno = err;
	return NULL;
}

EW_SHIM_EXPORT FILE *
popen(const char *cmd, const char *mode)
{
	const struct ew_shim_config *c = ew_shim_config();
	char *argv[] = { "sh", "-c", (char *)(uintptr_t)cmd, NULL };
	struct ew_shim_envbuf eb;
	char *const *env = NULL;
	char token[EW_SHIM_TOKEN_SIZE], *helper[3];
	FILE *fp;
	int saved = errno, fd = -1, do_read, do_cloexec, r;

	if (ew_shim_real_popen() == NULL ||
	    ew_shim_real_posix_spawn() == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	/* A bad mode fails in libc before any program starts. */
	if (mode == NULL || parse_mode(mode, &do_read, &do_cloexec) != 0)
		return ew_shim_real_popen()(cmd, mode);
	if ((r = ew_shim_env_prepare(&c->session, &eb, environ, &env)) != 0) {
		errno = -r;
		return NULL;
	}
	if ((r = ew_shim_check(EW_VIA_POPEN, EW_SHIM_SHELL, EW_SHIM_F_KEEP,
		 argv, env, token, &fd)) < 0) {
		ew_shim_envbuf_release(&eb);
		/* glibc's popen says ENOMEM for any spawn that failed. */
		errno = r == -E2BIG ? ENOMEM : EACCES;
		return NULL;
	}
	errno = saved;
	if (r == EW_SHIM_ESCALATE) {
		/* The helper behind the pipe, in the shell's place. */
		ew_shim_helper_argv(helper, token);
		fp = spawn_stream(
		    c, c->helper, helper, env, do_read, do_cloexec);
	} else if (env == environ) {
		fp = ew_shim_real_popen()(cmd, mode);
		if (fp != NULL) {
			/* Not ours: drop a stale entry at that address. */
			lock_streams();
			free(forget(fp));
			unlock_streams();
		}
	} else
		fp = spawn_stream(
		    c, EW_SHIM_SHELL, argv, env, do_read, do_cloexec);
	/* NULL: the shell did not start (popen fails before or at spawn). */
	ew_shim_done(fd, fp != NULL ? 0 : errno);
	ew_shim_envbuf_release(&eb);
	return fp;
}

EW_SHIM_EXPORT int
pclose(FILE *fp)
{
	struct stream *s;
	pid_t r;
	int status = -1;

	lock_streams();
	s = forget(fp);
	unlock_streams();
	/*
	 * XXX A stream of ours closed with fclose() instead stays listed,
	 * its shell unreaped, until popen() hands out that address again.
	 */
	if (s == NULL) {
		if (ew_shim_real_pclose() == NULL) {
			errno = ENOSYS;
			return -1;
		}
		return ew_shim_real_pclose()(fp);
	}
	(void)fclose(fp);
	do
		r = waitpid(s->pid, &status, 0);
	while (r < 0 && errno == EINTR);
	free(s);
	return r < 0 ? -1 : status;
}
