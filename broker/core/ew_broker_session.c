/*
 * A session: its sockets (private ones in a folder of their own, or one
 * that outlives it), where they live, what a sandboxed session must not
 * be able to reach (its socket folder, the rules, the shim and helper),
 * and the environment its programs start with.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_range.h"
#include "ew_env.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_paths.h"
#include "ew_sandbox.h"
#include "ew_sock.h"
#include "ew_time.h"

/* A session's folder in its base folder, and its two sockets in it. */
#define EW_BROKER_SESSION_DIR "/execward.XXXXXX"
#define EW_BROKER_SOCK_IN "/s"
#define EW_BROKER_SOCK_OUT "/o"
/* Where the state folder keeps session folders. */
#define EW_BROKER_STATE_RUN "run"

/*
 * Is path a folder of ours that nobody else may even enter? (A runtime
 * folder as the XDG Base Directory spec describes it.)
 */
static bool
private_folder(const char *path)
{
	struct stat st;

	return path != NULL && path[0] == '/' && lstat(path, &st) == 0 &&
	    S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	    (st.st_mode & 077) == 0;
}

/* mkdir -p path, each folder made 0700. 0 or -errno. */
static int
make_folders(const char *path)
{
	char buf[PATH_MAX], c;
	size_t i, n;

	if ((n = (size_t)snprintf(buf, sizeof(buf), "%s", path)) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	return 0;
}

/*
 * $XDG_STATE_HOME/execward/run, else ~/.local/state/execward/run, made
 * private if missing. 0 with it in out, or -errno.
 */
static int
state_run_folder(char *out, size_t len)
{
	int r;

	if ((r = ew_paths_home(
		 EW_PATHS_STATE, EW_BROKER_STATE_RUN, out, len)) != 0)
		return r;
	if (!private_folder(out)) {
		if ((r = make_folders(out)) != 0)
			return r;
		/* Made just now, or loosened since: ours alone, or not used. */
		(void)chmod(out, 0700);
		if (!private_folder(out))
			return -EPERM;
	}
	return 0;
}

int
ew_session_folder(char *tmpl, size_t len)
{
	char run[32], state[PATH_MAX];
	const char *bases[5];
	size_t i, n = 0, room = sizeof(((struct sockaddr_un *)0)->sun_path);
	int last = -ENOENT;

	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)geteuid());
	if (private_folder(getenv("XDG_RUNTIME_DIR")))
		bases[n++] = getenv("XDG_RUNTIME_DIR");
	if (private_folder(run))
		bases[n++] = run;
	if ((last = state_run_folder(state, sizeof(state))) == 0)
		bases[n++] = state;
	else
		ew_log(EW_LOG_DEBUG, "state folder for sockets: %s",
		    strerror(-last));
	/* The old places, for a user with neither: /tmp's sticky bit keeps
	 * others from replacing our private folder. */
	if (getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] == '/' &&
	    access(getenv("TMPDIR"), W_OK) == 0)
		bases[n++] = getenv("TMPDIR");
	bases[n++] = "/tmp";
	for (i = 0; i < n; i++) {
		if (strlen(bases[i]) + strlen(EW_BROKER_SESSION_DIR) +
			strlen(EW_BROKER_SOCK_IN) >=
		    room) {
			last = -ENAMETOOLONG;
			continue;
		}
		snprintf(tmpl, len, "%s" EW_BROKER_SESSION_DIR, bases[i]);
		/* mkdtemp makes it 0700: only our uid can reach the socket. */
		if (mkdtemp(tmpl) != NULL)
			return 0;
		last = -errno;
	}
	return last;
}

/*
 * The rules files, their folders and the amend file must lie outside the
 * sandbox's writable roots: a confined command could otherwise write an
 * allow rule that the next load (an "always" answer's, or the next
 * session's) puts in force. What does not exist yet is judged by the
 * nearest folder that does, where it could be made.
 */
static int
rules_out_of_reach(const struct ew_session *s, const struct ew_sandbox *sb,
    char *err, size_t errlen)
{
	const struct ew_rules *rules = &s->br->rules;
	char path[PATH_MAX], *slash;
	const char *root = NULL, *p;
	struct stat st;
	size_t i;
	int r;

	for (i = 0; i <= rules->npaths; i++) {
		p = i < rules->npaths ? rules->paths[i] : rules->amend_file;
		if (p == NULL ||
		    snprintf(path, sizeof(path), "%s", p) >= (int)sizeof(path))
			continue;
		while (stat(path, &st) != 0 &&
		    (slash = strrchr(path, '/')) != NULL && slash != path)
			*slash = '\0';
		if ((r = ew_sandbox_contains(sb, path, true, &root)) == 0)
			continue;
		if (r > 0)
			snprintf(err, errlen,
			    "the rules %s lie in the sandbox's writable root "
			    "%s, where a sandboxed command could write its own "
			    "allow rules: keep them out of the workspace",
			    p, root);
		else
			snprintf(err, errlen,
			    "cannot check where the rules %s lie: %s", p,
			    strerror(-r));
		return -EPERM;
	}
	return 0;
}

int
ew_session_confine(struct ew_session *s, const struct ew_sandbox *sb,
    const char *mode, char *err, size_t errlen)
{
	const char *root = NULL;
	int r;

	s->sb = NULL;
	s->sandbox = NULL;
	if (sb == NULL)
		return 0;
	if ((r = rules_out_of_reach(s, sb, err, errlen)) != 0 ||
	    (s->br->esc != NULL &&
		(r = ew_escalate_check_tools(s->br->esc, sb, err, errlen)) !=
		    0))
		return r;
	r = ew_sandbox_contains(sb, s->sockdir, true, &root);
	if (r != 0) {
		if (r > 0)
			snprintf(err, errlen,
			    "the session's socket folder %s lies in the "
			    "sandbox's writable root %s, where a sandboxed "
			    "command could put its own socket in its place: "
			    "set XDG_RUNTIME_DIR to a private folder outside "
			    "it",
			    s->sockdir, root);
		else
			snprintf(err, errlen,
			    "cannot check where the session's socket folder "
			    "%s lies: %s",
			    s->sockdir, strerror(-r));
		return -EPERM;
	}
	if (s->lfd_out < 0) {
		snprintf(s->sockpath_out, sizeof(s->sockpath_out),
		    "%.*s" EW_BROKER_SOCK_OUT, (int)sizeof(s->sockpath_out) - 3,
		    s->sockdir);
		if ((s->lfd_out = ew_sock_listen(
			 s->sockpath_out, EW_BROKER_BACKLOG)) < 0) {
			r = s->lfd_out;
			s->lfd_out = -1;
			s->sockpath_out[0] = '\0';
			snprintf(err, errlen, "listen %s/o: %s", s->sockdir,
			    ew_err_str(r));
			return r;
		}
		ev_io_set(&s->accept_out_io, s->lfd_out, EV_READ);
		ev_io_start(s->br->loop, &s->accept_out_io);
	}
	s->sb = sb;
	s->sandbox = mode;
	/* Every start of a sandboxed session is asked about: nothing told. */
	ew_broker_tell_stop(s);
	if (s->snap_path[0] != '\0')
		(void)ew_broker_snap_publish(s);
	return 0;
}

/* s follows the rules' reloads with its snapshot, published now. */
static void
snap_start(struct ew_session *s)
{
	s->snap_next = s->br->snap_sessions;
	s->br->snap_sessions = s;
	ew_broker_snap_beat_start(s->br);
	(void)ew_broker_snap_publish(s);
}

/* s's snapshot goes, and s stops following the reloads. */
static void
snap_stop(struct ew_session *s)
{
	struct ew_session **pp;

	ew_broker_snap_withdraw(s);
	for (pp = &s->br->snap_sessions; *pp != NULL; pp = &(*pp)->snap_next)
		if (*pp == s) {
			*pp = s->snap_next;
			break;
		}
}

static void
new_id(char id[33])
{
	unsigned char rnd[16];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* Uniqueness, not secrecy: time and pid will do. */
		uint64_t t = ew_time_mono_us() ^ ((uint64_t)getpid() << 40);
		memcpy(rnd, &t, sizeof(t));
		memcpy(rnd + 8, &t, sizeof(t));
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
}

/* A session of br's, with no socket yet and a new id. */
static void
session_init(
    struct ew_session *s, struct ew_broker *br, enum ew_on_prompt on_prompt)
{
	memset(s, 0, sizeof(*s));
	s->br = br;
	s->lfd = -1;
	s->lfd_out = -1;
	s->lfd_tell = -1;
	s->snap_fd = -1;
	s->on_prompt = on_prompt;
	new_id(s->id);
}

int
ew_session_open(
    struct ew_session *s, struct ew_broker *br, enum ew_on_prompt on_prompt)
{
	char tmpl[PATH_MAX];
	int r;

	session_init(s, br, on_prompt);
	if ((r = ew_session_folder(tmpl, sizeof(tmpl))) != 0)
		return r;
	snprintf(s->sockdir, sizeof(s->sockdir), "%s", tmpl);
	snprintf(s->sockpath, sizeof(s->sockpath), "%.*s" EW_BROKER_SOCK_IN,
	    (int)sizeof(s->sockpath) - 3, tmpl);
	if ((s->lfd = ew_sock_listen(s->sockpath, EW_BROKER_BACKLOG)) < 0) {
		r = s->lfd;
		s->lfd = -1;
		rmdir(s->sockdir);
		s->sockdir[0] = s->sockpath[0] = '\0';
		return r;
	}
	ew_broker_accept_start(s);
	ew_broker_tell_listen(s);
	snap_start(s);
	return 0;
}

void
ew_session_close(struct ew_session *s)
{
	if (s->br == NULL)
		return;
	/*
	 * What the shims told us before the session ended is recorded: the
	 * connections queued are taken (and read), and the messages of
	 * those taken before theirs came are read too.
	 */
	s->closing = true;
	ew_session_stop_listening(s);
	ew_broker_read_pending(s);
	if (s->lfd >= 0) {
		ev_io_stop(s->br->loop, &s->accept_io);
		ev_timer_stop(s->br->loop, &s->accept_pause);
		s->lfd = ew_fd_close(s->lfd);
	}
	if (s->lfd_out >= 0) {
		ev_io_stop(s->br->loop, &s->accept_out_io);
		s->lfd_out = ew_fd_close(s->lfd_out);
	}
	ew_broker_tell_stop(s);
	if (s->br->esc != NULL)
		ew_escalate_session_closed(s->br->esc, s);
	/* Its trees' trapped starts fail (ENOSYS) once nobody listens. */
	if (s->br->backstop != NULL)
		s->br->backstop->session_closed(s->br->backstop->arg, s);
	/* Refusals still only counted go to the log before the session. */
	ew_broker_conn_flush(s);
	while (s->clients != NULL)
		ew_broker_client_free(s->clients);
	while (s->approvals != NULL) {
		struct ew_approval *a = s->approvals;

		s->approvals = a->next;
		free(a);
	}
	s->napprovals = 0;
	snap_stop(s);
	if (s->sockpath[0] != '\0' && !s->inherited)
		unlink(s->sockpath);
	if (s->sockpath_out[0] != '\0')
		unlink(s->sockpath_out);
	if (s->sockdir[0] != '\0')
		rmdir(s->sockdir);
	s->sockpath[0] = s->sockpath_out[0] = s->sockdir[0] = '\0';
}

/*
 * The folder of a socket that others may find: made 0700 (0711 when other
 * uids are let in) when missing; else it must be ours and writable by
 * nobody else, or someone could put their own socket in its place.
 */
static int
socket_folder(struct ew_session *s, const char *path, bool others, char *err,
    size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL || slash == path)
		snprintf(dir, sizeof(dir), "%s", slash == path ? "/" : ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, others ? 0711 : 0700) != 0) {
			snprintf(
			    err, errlen, "mkdir %s: %s", dir, strerror(errno));
			return -errno;
		}
		/* mkdir's mode passed through the umask: say it exactly. */
		if (chmod(dir, others ? 0711 : 0700) != 0) {
			snprintf(
			    err, errlen, "chmod %s: %s", dir, strerror(errno));
			return -errno;
		}
		snprintf(s->sockdir, sizeof(s->sockdir), "%s", dir);
		return 0;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0) {
		snprintf(err, errlen,
		    "%s: the socket's folder must be a folder of uid %u that "
		    "nobody else can write (it is %s, uid %u, mode %04o)",
		    dir, (unsigned)geteuid(),
		    S_ISDIR(st.st_mode) ? "a folder" : "not a folder",
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (others && (st.st_mode & 01) == 0)
		ew_log(EW_LOG_WARN,
		    "%s has no search permission for others: the allowed "
		    "uids cannot reach the socket",
		    dir);
	return 0;
}

/* A socket file left by a broker that is gone is removed; a live one not. */
static int
clear_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	if ((fd = ew_sock_connect(path, 0)) >= 0) {
		close(fd);
		snprintf(
		    err, errlen, "%s: another broker is listening there", path);
		return -EADDRINUSE;
	}
	if (unlink(path) != 0) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* An inherited fd must be a listening AF_UNIX SEQPACKET socket. */
static int
check_inherited(int fd, char *err, size_t errlen)
{
	int type = 0, domain = 0, listening = 0;
	socklen_t n = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) != 0 ||
	    (n = sizeof(int),
		getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &n)) != 0 ||
	    (n = sizeof(int),
		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n)) !=
		0) {
		snprintf(
		    err, errlen, "inherited fd %d: %s", fd, strerror(errno));
		return -errno;
	}
	if (domain != AF_UNIX || type != SOCK_SEQPACKET || !listening) {
		snprintf(err, errlen,
		    "inherited fd %d is not a listening AF_UNIX SEQPACKET "
		    "socket (ListenSequentialPacket= in the socket unit)",
		    fd);
		return -EINVAL;
	}
	if (ew_fd_cloexec(fd, 1) != 0 || ew_fd_nonblock(fd, 1) != 0) {
		snprintf(err, errlen, "inherited fd %d: fcntl: %s", fd,
		    strerror(errno));
		return -EBADF;
	}
	return 0;
}

int
ew_session_listen(struct ew_session *s, struct ew_broker *br,
    enum ew_on_prompt on_prompt, const char *path, int fd, char *err,
    size_t errlen)
{
	bool others = br->nallow_uids > 0;
	mode_t old;
	int r;

	session_init(s, br, on_prompt);
	if (path != NULL && strlen(path) >= sizeof(s->sockpath)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (fd >= 0) {
		if ((r = check_inherited(fd, err, errlen)) != 0)
			return r;
		s->lfd = fd;
		s->inherited = true;
		snprintf(s->sockpath, sizeof(s->sockpath), "%s",
		    path != NULL ? path : "");
	} else {
		if ((r = socket_folder(s, path, others, err, errlen)) != 0 ||
		    (r = clear_stale(path, err, errlen)) != 0)
			goto fail;
		/* Born 0600: no moment when others could connect. */
		old = umask(0177);
		s->lfd = ew_sock_listen(path, EW_BROKER_BACKLOG);
		umask(old);
		if (s->lfd < 0) {
			r = s->lfd;
			s->lfd = -1;
			snprintf(
			    err, errlen, "listen %s: %s", path, ew_err_str(r));
			goto fail;
		}
		snprintf(s->sockpath, sizeof(s->sockpath), "%s", path);
		/* Other uids need write permission to connect. */
		if (others && chmod(path, 0666) != 0) {
			r = -errno;
			snprintf(
			    err, errlen, "chmod %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	ew_broker_accept_start(s);
	/* An inherited socket's folder is not ours to add to. */
	if (!s->inherited)
		ew_broker_tell_listen(s);
	snap_start(s);
	return 0;
fail:
	s->lfd = ew_fd_close(s->lfd);
	if (s->sockpath[0] != '\0')
		unlink(s->sockpath);
	if (s->sockdir[0] != '\0')
		rmdir(s->sockdir);
	s->sockpath[0] = s->sockdir[0] = '\0';
	return r;
}

void
ew_session_stop_listening(struct ew_session *s)
{
	if (s->br == NULL || s->lfd < 0)
		return;
	/*
	 * The name goes first, and shutdown refuses a connect already past
	 * the name (the kernel checks it as it queues a connection); then
	 * the connections already queued are taken, to be answered.
	 */
	if (s->sockpath[0] != '\0' && !s->inherited)
		unlink(s->sockpath);
	s->sockpath[0] = '\0';
	ew_broker_snap_withdraw(s);
	/* An inherited socket is systemd's: it queues for our next start. */
	if (!s->inherited)
		(void)shutdown(s->lfd, SHUT_RD);
	ew_broker_accept(s, false, LONG_MAX);
	ev_io_stop(s->br->loop, &s->accept_io);
	ev_timer_stop(s->br->loop, &s->accept_pause);
	s->lfd = ew_fd_close(s->lfd);
	ew_broker_tell_stop(s);
	if (s->lfd_out >= 0) {
		if (s->sockpath_out[0] != '\0')
			unlink(s->sockpath_out);
		s->sockpath_out[0] = '\0';
		(void)shutdown(s->lfd_out, SHUT_RD);
		ew_broker_accept(s, true, LONG_MAX);
		ev_io_stop(s->br->loop, &s->accept_out_io);
		s->lfd_out = ew_fd_close(s->lfd_out);
	}
}

char **
ew_session_env(const struct ew_session *s, const char *lib, const char *fail,
    char *const *env)
{
	return ew_session_env_at(s, s->sockpath, lib, fail, env);
}

/* "NAME=value" at *w, and w past its NUL; the entry's start. */
static char *
put_entry(char **w, const char *name, const char *value)
{
	char *entry = *w;

	*w += sprintf(*w, "%s=%s", name, value) + 1;
	return entry;
}

/*
 * The session's variables, and LD_PRELOAD and ASAN_OPTIONS as the shim
 * would repair them (proto/ew_env.h): every other entry of env is kept.
 */
char **
ew_session_env_at(const struct ew_session *s, const char *sockpath,
    const char *lib, const char *fail, char *const *env)
{
	static const char *const ours[] = { EW_ENV_PRELOAD, EW_ENV_SOCKET,
		EW_ENV_FAIL, EW_ENV_ASAN };
	const char *old = NULL, *asan = NULL, *v;
	/* The kernel backstop's envp range; NULL: the environment's own. */
	const char *range = s->br->backstop != NULL
	    ? s->br->backstop->env(s->br->backstop->arg)
	    : NULL;
	size_t n = 0, i, k = 0, j, extra, npre, nasan;
	char **out, *w, *end;

	for (i = 0; env[i] != NULL; i++) {
		if ((v = ew_env_value(env[i], EW_ENV_PRELOAD)) != NULL)
			old = v; /* ld.so takes the last one */
		if ((v = ew_env_value(env[i], EW_ENV_ASAN)) != NULL &&
		    asan == NULL)
			asan = v; /* ASan, like getenv, the first */
		n++;
	}
	npre = ew_env_preload_size(lib, old);
	nasan = ew_env_asan_size(asan);
	extra = npre + nasan + sizeof(EW_ENV_SOCKET) + strlen(sockpath) + 1 +
	    sizeof(EW_ENV_FAIL) + strlen(fail) + 1;
	if ((out = malloc((n + 6) * sizeof(*out) + extra)) == NULL)
		return NULL;
	w = (char *)(out + n + 6);
	end = w + extra;
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(ours) / sizeof(ours[0]); j++)
			if (ew_env_value(env[i], ours[j]) != NULL)
				break;
		if (j == sizeof(ours) / sizeof(ours[0]) &&
		    (range == NULL ||
			ew_env_value(env[i], EW_RANGE_ENV) == NULL))
			out[k++] = env[i];
	}
	if (range != NULL)
		out[k++] = (char *)(uintptr_t)range;
	out[k++] = w;
	(void)ew_env_put_preload(w, npre, lib, old);
	w += strlen(w) + 1;
	out[k++] = put_entry(&w, EW_ENV_SOCKET, sockpath);
	out[k++] = put_entry(&w, EW_ENV_FAIL, fail);
	out[k++] = w;
	(void)ew_env_put_asan(w, (size_t)(end - w), asan);
	out[k] = NULL;
	return out;
}
