/*
 * Where a session's sockets live, and what a sandboxed session must not
 * be able to reach: its socket folder, the rules, the shim and helper.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_log.h"
#include "ew_paths.h"
#include "ew_sandbox.h"
#include "ew_sock.h"

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
	return 0;
}
