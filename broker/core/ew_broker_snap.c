/*
 * A session's policy snapshot (proto/ew_snap.h): written beside its
 * socket, replaced when the rules are reloaded, turned off for good when
 * something says the shims' local decisions cannot be trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_err.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_snap.h"

/* Mode of the snapshot: the socket's readers must read it. */
#define EW_SNAP_MODE_PRIVATE 0600
#define EW_SNAP_MODE_SHARED 0644

/* May s's shims decide on their own at all? Why not, else NULL. */
static const char *
why_not_local(const struct ew_session *s)
{
	const struct ew_broker *br = s->br;

	if (s->snap_revoked != NULL)
		return s->snap_revoked;
	if (s->sandbox != NULL)
		return "sandboxed";
	if (br->chain != NULL)
		return "inside another session";
	if (br->audit != NULL &&
	    ew_audit_sync_mode(br->audit) == EW_AUDIT_SYNC_ALWAYS)
		return "--audit-sync always";
	/*
	 * A told start runs before its record is written: with a log that
	 * must stop every start once full, one could run unrecorded.
	 */
	if (br->audit != NULL &&
	    ew_audit_full_mode(br->audit) == EW_AUDIT_FULL_DENY)
		return "--audit-full deny";
	if (br->popts.preserve_program_paths)
		return "--preserve-program-paths";
	return NULL;
}

bool
ew_broker_snap_local(const struct ew_session *s)
{
	/*
	 * Withdrawn as the session stops: the TOLDs read after that were
	 * sent before (a shim finds the stale mark, and asks), when local
	 * decisions were on.
	 */
	return why_not_local(s) == NULL &&
	    (s->snap_fd >= 0 || s->snap_withdrawn);
}

/* Write all of p[0..len) to fd; 0 or -errno. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The snapshot's bytes for s as it is now. */
static int
build(struct ew_session *s, void **outp, size_t *lenp)
{
	struct ew_broker *br = s->br;
	char **names = NULL;
	size_t n = 0, np = 0;
	uint32_t flags = 0;
	int r;

	if (why_not_local(s) == NULL && br->rules.policy != NULL &&
	    ew_policy_ask_names(br->rules.policy, &br->popts, &names, &n) == 0)
		flags = EW_SNAP_F_LOCAL;
	if (s->lfd_tell >= 0)
		flags |= EW_SNAP_F_TELL_SOCKET;
	while (ew_policy_ask_prefixes[np] != NULL)
		np++;
	r = ew_snap_build(br->rules_gen, flags, (const char *const *)names, n,
	    ew_policy_ask_prefixes, np, outp, lenp);
	ew_policy_ask_names_free(names, n);
	return r;
}

/*
 * Write a header field of the file open on fd. By pwrite, not through a
 * mapping: a file someone truncates makes a mapping's access SIGBUS.
 */
static void
put_field(int fd, off_t at, const void *v, size_t len)
{
	if (fd >= 0 && pwrite(fd, v, len, at) != (ssize_t)len)
		ew_log(EW_LOG_DEBUG, "policy snapshot: %s", strerror(errno));
}

/* Mark the snapshot on fd replaced: its readers map the path again. */
static void
mark_stale(int fd)
{
	uint32_t one = 1;

	put_field(fd, offsetof(struct ew_snap_hdr, stale), &one, sizeof(one));
}

/*
 * Whatever lies at s's path now, if it is not our file (someone put
 * their own there): marked stale too, best effort, so that the shims
 * that mapped it move to ours.
 */
static void
mark_foreign_stale(struct ew_session *s)
{
	struct stat ours, there;
	int fd;

	if (s->snap_fd < 0 || fstat(s->snap_fd, &ours) != 0 ||
	    lstat(s->snap_path, &there) != 0 || !S_ISREG(there.st_mode) ||
	    (there.st_dev == ours.st_dev && there.st_ino == ours.st_ino))
		return;
	(void)chmod(s->snap_path, EW_SNAP_MODE_PRIVATE);
	if ((fd = open(s->snap_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	mark_stale(fd);
	close(fd);
}

/* Our snapshot goes: marked stale, closed. */
static void
drop_current(struct ew_session *s)
{
	mark_stale(s->snap_fd);
	s->snap_fd = ew_fd_close(s->snap_fd);
}

/* Stamp every published snapshot: its broker is alive. */
static void
on_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_broker *br = w->data;
	struct ew_session *s;
	uint64_t now = ew_snap_now_ms();

	for (s = br->snap_sessions; s != NULL; s = s->snap_next)
		put_field(s->snap_fd, offsetof(struct ew_snap_hdr, alive_ms),
		    &now, sizeof(now));
}

void
ew_broker_snap_beat_start(struct ew_broker *br)
{
	if (br->snap_beat_on)
		return;
	ev_timer_init(&br->snap_beat, on_beat, EW_SNAP_BEAT_MS / 1000.,
	    EW_SNAP_BEAT_MS / 1000.);
	br->snap_beat.data = br;
	ev_timer_start(br->loop, &br->snap_beat);
	/* The stamps alone keep nothing alive. */
	ev_unref(br->loop);
	br->snap_beat_on = true;
}

int
ew_broker_snap_publish(struct ew_session *s)
{
	char tmp[PATH_MAX + 16];
	struct ew_snap_hdr *h;
	struct stat ns;
	void *p = NULL;
	size_t len = 0;
	int fd = -1, nfd = -1, r;

	if (s->snap_path[0] == '\0') {
		if (s->sockpath[0] == '\0' ||
		    (size_t)snprintf(s->snap_path, sizeof(s->snap_path),
			"%s" EW_SNAP_SUFFIX,
			s->sockpath) >= sizeof(s->snap_path)) {
			s->snap_path[0] = '\0';
			return -ENAMETOOLONG;
		}
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", s->snap_path) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	if ((r = build(s, &p, &len)) != 0)
		goto out;
	h = p;
	h->alive_ms = ew_snap_now_ms();
	if (stat(EW_SNAP_PIDNS, &ns) == 0) {
		h->pidns_dev = (uint64_t)ns.st_dev;
		h->pidns_ino = (uint64_t)ns.st_ino;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    s->br->nallow_uids > 0 ? EW_SNAP_MODE_SHARED
				   : EW_SNAP_MODE_PRIVATE);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	/* The umask may have taken bits the other uids need. */
	if (s->br->nallow_uids > 0 && fchmod(fd, EW_SNAP_MODE_SHARED) != 0) {
		r = -errno;
		goto out;
	}
	if ((r = write_all(fd, p, len)) != 0)
		goto out;
	if ((nfd = open(tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		r = -errno;
		goto out;
	}
	mark_foreign_stale(s);
	if (rename(tmp, s->snap_path) != 0) {
		r = -errno;
		goto out;
	}
	/* The new one is in place: the old one's readers move to it. */
	drop_current(s);
	s->snap_fd = nfd;
	nfd = -1;
	s->snap_gen = s->br->rules_gen;
	r = 0;
out:
	if (r != 0) {
		ew_log(EW_LOG_WARN,
		    "policy snapshot %s: %s (every start is asked about)",
		    s->snap_path, ew_err_str(r));
		(void)unlink(tmp);
		ew_broker_snap_withdraw(s);
	}
	ew_fd_close(fd);
	ew_fd_close(nfd);
	free(p);
	return r;
}

void
ew_broker_snap_withdraw(struct ew_session *s)
{
	if (s->snap_path[0] == '\0')
		return;
	/* Gone before it is marked: a reader then finds no file, and asks. */
	(void)unlink(s->snap_path);
	s->snap_withdrawn = s->snap_fd >= 0;
	drop_current(s);
}

void
ew_broker_snap_revoke(struct ew_session *s, const char *why)
{
	if (s->snap_revoked != NULL)
		return;
	s->snap_revoked = why;
	ew_log(EW_LOG_WARN,
	    "session %s: every start is asked about from now on: %s", s->id,
	    why);
	if (s->snap_path[0] != '\0')
		(void)ew_broker_snap_publish(s);
}

int
ew_broker_rules_reload(struct ew_broker *br)
{
	struct ew_session *s;

	if (ew_rules_reload(&br->rules) != 0)
		return -1;
	br->rules_gen++;
	for (s = br->snap_sessions; s != NULL; s = s->snap_next)
		if (s->snap_path[0] != '\0')
			(void)ew_broker_snap_publish(s);
	return 0;
}
