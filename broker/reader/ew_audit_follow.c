/* Reading the audit log line by line, following it like tail -F. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ew_audit.h"
#include "ew_audit_tail.h"

/* A read of the log at a time. */
#define EW_FOLLOW_READ (64u * 1024)
/* Tries at a consistent picture of a log that rotates as we look. */
#define EW_FOLLOW_TRIES 100
/* Bytes at the start of a file remembered to notice its truncation. */
#define EW_FOLLOW_HEAD 64
/* A line longer than this is handed out cut, and the rest skipped. */
#define EW_FOLLOW_LINE_MAX (80u * 1024 * 1024)

/* A file to read: the live log, or a rotated one met on the way. */
struct src {
	int fd;
	char name[PATH_MAX];
	bool live; /* the log itself: follow it; else read it to its end */
	dev_t dev;
	ino_t ino;
	off_t off; /* bytes read */
	/* Its first bytes as read: changed ones mean truncated and rewritten.
	 */
	char head[EW_FOLLOW_HEAD];
	size_t headlen;
};

struct ew_audit_reader {
	char path[PATH_MAX];
	bool follow;
	struct src cur;
	/* Rotated files not read yet, oldest first, then the new live log. */
	struct src *queue;
	size_t nqueue, iqueue;
	unsigned long lineno;
	char *buf;
	size_t start, len, cap; /* unread bytes are buf[start..len) */
	bool skipping; /* dropping the rest of an over-long line */
	bool note_pending; /* note is to be handed out next */
	bool waited; /* paused once at the end with nothing new */
	char note[PATH_MAX * 2 + 128];
};

static void
src_close(struct src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int
src_open(struct src *s, const char *name, bool live)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->live = live;
	snprintf(s->name, sizeof(s->name), "%s", name);
	if ((s->fd = open(name, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(s->fd, &st) != 0) {
		src_close(s);
		return -errno;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

int
ew_audit_reader_open(
    const char *path, bool follow, struct ew_audit_reader **out)
{
	struct ew_audit_reader *r;
	int e;

	*out = NULL;
	if (strlen(path) >= sizeof(r->path) - 8)
		return -ENAMETOOLONG;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->follow = follow;
	r->cur.fd = -1;
	snprintf(r->cur.name, sizeof(r->cur.name), "%s", path);
	r->cur.live = true;
	/* Following, a log that is not there yet is waited for. */
	if ((e = src_open(&r->cur, path, true)) != 0 &&
	    (!follow || e != -ENOENT)) {
		free(r);
		return e;
	}
	*out = r;
	return 0;
}

void
ew_audit_reader_close(struct ew_audit_reader *r)
{
	size_t i;

	if (r == NULL)
		return;
	src_close(&r->cur);
	for (i = r->iqueue; i < r->nqueue; i++)
		src_close(&r->queue[i]);
	free(r->queue);
	free(r->buf);
	free(r);
}

const char *
ew_audit_reader_where(const struct ew_audit_reader *r, unsigned long *lineno)
{
	*lineno = r->lineno;
	return r->cur.name;
}

/* Read more of the current file into buf: bytes read, 0 at its end. */
static ssize_t
fill(struct ew_audit_reader *r)
{
	size_t want = EW_FOLLOW_READ;
	char *nb;
	ssize_t n;

	if (r->cur.fd < 0)
		return 0;
	if (r->start > 0 && r->start == r->len)
		r->start = r->len = 0;
	if (r->start > r->cap / 2) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	if (r->cap - r->len < want) {
		if ((nb = realloc(r->buf, r->len + want)) == NULL)
			return -ENOMEM;
		r->buf = nb;
		r->cap = r->len + want;
	}
	do
		n = read(r->cur.fd, r->buf + r->len, want);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (r->cur.headlen < EW_FOLLOW_HEAD && r->cur.off < EW_FOLLOW_HEAD) {
		size_t k = EW_FOLLOW_HEAD - (size_t)r->cur.off;

		if (k > (size_t)n)
			k = (size_t)n;
		memcpy(r->cur.head + r->cur.off, r->buf + r->len, k);
		r->cur.headlen = (size_t)r->cur.off + k;
	}
	r->len += (size_t)n;
	r->cur.off += n;
	return n;
}

/* A whole line in buf? Hand it out. */
static bool
take_line(struct ew_audit_reader *r, enum ew_audit_read *kind,
    const char **line, size_t *len)
{
	char *nl;

	for (;;) {
		if (r->start >= r->len)
			return false;
		nl = memchr(r->buf + r->start, '\n', r->len - r->start);
		if (nl == NULL && r->len - r->start > EW_FOLLOW_LINE_MAX &&
		    !r->skipping) {
			/* Hand out what we have; drop the rest of it. */
			*kind = EW_AUDIT_READ_PARTIAL;
			*line = r->buf + r->start;
			*len = r->len - r->start;
			r->lineno++;
			r->start = r->len;
			r->skipping = true;
			return true;
		}
		if (nl == NULL) {
			if (r->skipping)
				r->start = r->len;
			return false;
		}
		if (r->skipping) {
			r->skipping = false;
			r->start = (size_t)(nl - r->buf) + 1;
			continue;
		}
		*kind = EW_AUDIT_READ_LINE;
		*line = r->buf + r->start;
		*len = (size_t)(nl - (r->buf + r->start));
		r->start = (size_t)(nl - r->buf) + 1;
		r->lineno++;
		return true;
	}
}

/* Bytes left without a newline when a file ends for good: a half line. */
static bool
take_rest(struct ew_audit_reader *r, enum ew_audit_read *kind,
    const char **line, size_t *len)
{
	bool skipped = r->skipping;

	r->skipping = false;
	if (r->start >= r->len || skipped) {
		r->start = r->len = 0;
		return false;
	}
	*kind = EW_AUDIT_READ_PARTIAL;
	*line = r->buf + r->start;
	*len = r->len - r->start;
	r->lineno++;
	r->start = r->len;
	return true;
}

static int
note(struct ew_audit_reader *r, enum ew_audit_read *kind, const char **line,
    size_t *len)
{
	*kind = EW_AUDIT_READ_NOTE;
	*line = r->note;
	*len = strlen(r->note);
	return 0;
}

/* Move on to the next queued file (the current one is read to its end). */
static void
next_source(struct ew_audit_reader *r)
{
	src_close(&r->cur);
	r->cur = r->queue[r->iqueue++];
	r->lineno = 0;
	if (r->iqueue == r->nqueue) {
		free(r->queue);
		r->queue = NULL;
		r->nqueue = r->iqueue = 0;
	}
}

/*
 * The live file was renamed away and a new one is in its place. Files
 * rotated between our looks sit between ours and the new one: find ours
 * among FILE.1, FILE.2, ... and queue the newer ones, oldest first, then
 * the new log. Each is opened now, before it can move again.
 */
/* Does name (still) name the file of s? */
static bool
names(const char *name, const struct src *s)
{
	struct stat st;

	return stat(name, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino;
}

/*
 * Where our file went: k for FILE.k, 0 if not among them. A rotation in
 * progress leaves one name missing for a moment, so one gap is passed.
 */
static unsigned
find_ours(const struct ew_audit_reader *r)
{
	char name[PATH_MAX];
	unsigned k, missing = 0;

	for (k = 1; k <= EW_AUDIT_KEEP_MAX && missing < 2; k++) {
		if (ew_audit_rotated_name(r->path, k, name, sizeof(name)) != 0)
			break;
		if (access(name, F_OK) != 0) {
			missing++;
			continue;
		}
		missing = 0;
		if (names(name, &r->cur))
			return k;
	}
	return 0;
}

static void
queue_drop(struct ew_audit_reader *r)
{
	size_t i;

	for (i = 0; i < r->nqueue; i++)
		src_close(&r->queue[i]);
	free(r->queue);
	r->queue = NULL;
	r->nqueue = r->iqueue = 0;
}

/*
 * The live file was renamed away and a new one is in its place. Files
 * rotated between our looks sit between ours and the new one: find ours
 * among FILE.1, FILE.2, ... and queue the newer ones, oldest first, then
 * the new log. Names shift while the writer rotates, so the files opened
 * are checked against their names afterwards, and it is done again until
 * they agree.
 */
static int
rotated(struct ew_audit_reader *r)
{
	char name[PATH_MAX];
	unsigned k, found = 0, tries;
	size_t n;
	bool stable;

	for (tries = 0;; tries++) {
		found = find_ours(r);
		if ((r->queue = calloc(found + 1, sizeof(*r->queue))) == NULL)
			return -ENOMEM;
		stable = true;
		for (n = 0, k = found; k > 1; k--, n++) {
			(void)ew_audit_rotated_name(
			    r->path, k - 1, name, sizeof(name));
			if (src_open(&r->queue[n], name, false) != 0)
				stable = false;
		}
		if (src_open(&r->queue[n], r->path, true) != 0) {
			/*
			 * Between a rename and the new file: look again (the
			 * file that comes next must not be missed), and in
			 * the end wait for it as usual.
			 */
			stable = false;
			r->queue[n].fd = -1;
			snprintf(r->queue[n].name, sizeof(r->queue[n].name),
			    "%s", r->path);
			r->queue[n].live = true;
		}
		r->nqueue = n + 1;
		r->iqueue = 0;
		for (n = 0; stable && n < r->nqueue; n++)
			if (r->queue[n].fd >= 0 &&
			    !names(r->queue[n].name, &r->queue[n]))
				stable = false;
		/* Not found may be a moment mid-rotation: look again. */
		if (found == 0)
			stable = false;
		if (found > 0 && stable) {
			(void)ew_audit_rotated_name(
			    r->path, found, name, sizeof(name));
			stable = names(name, &r->cur);
		}
		if (stable || tries == EW_FOLLOW_TRIES)
			break;
		queue_drop(r);
	}
	if (found > 1)
		snprintf(r->note, sizeof(r->note),
		    "%s was rotated %u times: reading the %u files between "
		    "first",
		    r->path, found, found - 1);
	else
		snprintf(r->note, sizeof(r->note),
		    "%s was rotated: reading on in the new file", r->path);
	return 0;
}

/*
 * Truncated and written again past where we were, between two looks: the
 * size alone does not tell, the first bytes do (each record starts with
 * its own time).
 */
static bool
rewritten(const struct src *s)
{
	char now[EW_FOLLOW_HEAD];

	return s->headlen > 0 &&
	    (pread(s->fd, now, s->headlen, 0) != (ssize_t)s->headlen ||
		memcmp(now, s->head, s->headlen) != 0);
}

/*
 * At the end of the live file: was it truncated, renamed away or
 * replaced? 1 when something was done (a note is waiting), 0 if not.
 */
static int
check_live(struct ew_audit_reader *r)
{
	struct stat ours, named;
	int e;

	if (r->cur.fd < 0) {
		/* Not there yet, or gone for good until a new one comes. */
		if ((e = src_open(&r->cur, r->path, true)) != 0)
			return e == -ENOENT ? 0 : e;
		r->lineno = 0;
		snprintf(r->note, sizeof(r->note), "%s appeared: reading it",
		    r->path);
		return 1;
	}
	if (fstat(r->cur.fd, &ours) == 0 &&
	    (ours.st_size < r->cur.off || rewritten(&r->cur))) {
		snprintf(r->note, sizeof(r->note),
		    "%s was truncated: reading it from the start", r->path);
		if (lseek(r->cur.fd, 0, SEEK_SET) < 0)
			return -errno;
		r->cur.off = 0;
		r->cur.headlen = 0;
		r->lineno = 0;
		return 1;
	}
	if (stat(r->path, &named) != 0)
		return 0; /* between a rename and the new file */
	if (named.st_dev == r->cur.dev && named.st_ino == r->cur.ino)
		return 0;
	if ((e = rotated(r)) != 0)
		return e;
	return 1;
}

static void
pause_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
ew_audit_reader_next(struct ew_audit_reader *r, unsigned poll_ms,
    enum ew_audit_read *kind, const char **line, size_t *len)
{
	ssize_t n;
	int e;

	*kind = EW_AUDIT_READ_END;
	*line = NULL;
	*len = 0;
	for (;;) {
		if (r->note_pending && r->nqueue == 0) {
			r->note_pending = false;
			return note(r, kind, line, len);
		}
		if (take_line(r, kind, line, len))
			return 0;
		/*
		 * Truncated and written again since the last read: reading on
		 * from our offset would start inside some line. Look first.
		 */
		if (r->follow && r->cur.live && r->nqueue == 0 &&
		    rewritten(&r->cur)) {
			if ((e = check_live(r)) < 0)
				return e;
			r->note_pending = true;
			if (take_rest(r, kind, line, len))
				return 0;
			continue;
		}
		if ((n = fill(r)) < 0)
			return (int)n;
		if (n > 0) {
			r->waited = false;
			continue;
		}
		if (!r->cur.live || r->nqueue > 0) {
			/*
			 * A rotated file, or a live one that was replaced, is
			 * read to its end: it will not grow. A half line left
			 * in it is shown, then the next file is read.
			 */
			if (take_rest(r, kind, line, len))
				return 0;
			next_source(r);
			if (r->note_pending) {
				r->note_pending = false;
				return note(r, kind, line, len);
			}
			continue;
		}
		if (!r->follow) {
			take_rest(r, kind, line, len);
			return 0;
		}
		if ((e = check_live(r)) < 0)
			return e;
		if (e == 0) {
			/* Nothing new after a pause: the caller may flush. */
			if (r->waited) {
				r->waited = false;
				return 0;
			}
			pause_ms(poll_ms);
			r->waited = true;
			continue;
		}
		/*
		 * Rotated: what was written to the old file before it went
		 * is read first (the loop above), then the files queued.
		 * Truncated: a half line from before is shown, then the note.
		 */
		r->note_pending = true;
		if (r->nqueue == 0 && take_rest(r, kind, line, len))
			return 0;
	}
}
