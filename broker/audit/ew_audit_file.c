/*
 * The audit log's files: opened only when nobody else could have planted
 * or could change them, and rotated without losing a record unsaid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_audit_int.h"
#include "ew_log.h"

/* A file about to be deleted is read in pieces of this size. */
#define EW_AUDIT_SCAN_CHUNK (64u * 1024)
/* The start of a line that holds its ts, seq, type and total. */
#define EW_AUDIT_HEAD_MAX 256u

/* The one file taken as it is: writing there is asking for no log. */
#define EW_AUDIT_NULL "/dev/null"

static bool
owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/*
 * Every folder from path's up to /: owned by root or us, and not writable
 * by others unless sticky (/tmp). Anyone who may rename entries of a
 * folder on the way could put their own file, or a link, in the log's
 * place between our checks and our writes.
 */
static int
check_folders(const char *path, char *why, size_t len)
{
	char dir[PATH_MAX], real[PATH_MAX], *slash;
	struct stat st;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		snprintf(why, len, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (realpath(dir, real) == NULL) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	for (;;) {
		if (stat(real, &st) != 0) {
			snprintf(why, len, "%s: %s", real, strerror(errno));
			return -errno;
		}
		if (!owner_ok(st.st_uid)) {
			snprintf(why, len,
			    "refused: its folder %s belongs to uid %u (it must "
			    "be root's or ours, uid %u)",
			    real, (unsigned)st.st_uid, (unsigned)geteuid());
			return -EPERM;
		}
		if ((st.st_mode & S_IWOTH) != 0 &&
		    (st.st_mode & S_ISVTX) == 0) {
			snprintf(why, len,
			    "refused: its folder %s is writable by others "
			    "(mode %04o, no sticky bit)",
			    real, (unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		if (strcmp(real, "/") == 0)
			return 0;
		slash = strrchr(real, '/');
		if (slash == real)
			real[1] = '\0';
		else
			*slash = '\0';
	}
}

/* What fd (just opened as path) is must be ours alone. */
static int
check_file(int fd, const char *path, char *why, size_t len)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(why, len, "fstat %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "refused: %s is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, len,
		    "refused: %s belongs to uid %u, not to us (uid %u)", path,
		    (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, len,
		    "refused: %s is writable by its group or others (mode "
		    "%04o)",
		    path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	/* A hard link made elsewhere would have us append to that file. */
	if (st.st_nlink != 1) {
		snprintf(why, len, "refused: %s has %lu hard links", path,
		    (unsigned long)st.st_nlink);
		return -EPERM;
	}
	return 0;
}

int
ew_audit_file_open(const char *path, char *why, size_t len)
{
	int fd, r;

	why[0] = '\0';
	if (strcmp(path, EW_AUDIT_NULL) == 0) {
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
			snprintf(why, len, "%s: %s", path, strerror(errno));
		return fd < 0 ? -errno : fd;
	}
	if ((r = check_folders(path, why, len)) != 0)
		return r;
	/*
	 * O_NOFOLLOW: a symbolic link planted in the log's place (in /tmp,
	 * say) is refused, never followed, root or not.
	 */
	fd = open(path,
	    O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    0600);
	if (fd < 0) {
		r = -errno;
		if (errno == ELOOP)
			snprintf(why, len,
			    "refused: %s is a symbolic link (not followed)",
			    path);
		else
			snprintf(why, len, "%s: %s", path, strerror(errno));
		return r;
	}
	if ((r = check_file(fd, path, why, len)) != 0) {
		close(fd);
		return r;
	}
	return fd;
}

/*
 * The head of one line: its ts and seq, and for a dropped record the
 * records deleted before it (our own records start
 * {"ts":"...","seq":N,"type":"dropped","total":N,...).
 */
static void
parse_head(const char *h, size_t n, char *ts, size_t tslen, uint64_t *seq,
    uint64_t *total)
{
	static const char ts_key[] = "{\"ts\":\"", seq_key[] = "\",\"seq\":",
			  drop_key[] = ",\"type\":\"dropped\",\"total\":";
	char buf[EW_AUDIT_HEAD_MAX + 1], *p, *q, *end;

	ts[0] = '\0';
	*seq = 0;
	*total = 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	if (strncmp(buf, ts_key, sizeof(ts_key) - 1) != 0)
		return;
	p = buf + sizeof(ts_key) - 1;
	if ((q = strchr(p, '"')) == NULL)
		return;
	snprintf(ts, tslen, "%.*s", (int)(q - p), p);
	if (strncmp(q, seq_key, sizeof(seq_key) - 1) != 0)
		return;
	*seq = strtoull(q + sizeof(seq_key) - 1, &end, 10);
	if (strncmp(end, drop_key, sizeof(drop_key) - 1) == 0)
		*total = strtoull(end + sizeof(drop_key) - 1, NULL, 10);
}

/* One whole line of the file being counted. */
static void
count_line(struct ew_audit_gone *g, const char *head, size_t n)
{
	char ts[40];
	uint64_t seq, total;

	parse_head(head, n, ts, sizeof(ts), &seq, &total);
	if (g->records == 0) {
		g->first_seq = seq;
		snprintf(g->first_ts, sizeof(g->first_ts), "%s", ts);
	}
	g->last_seq = seq;
	snprintf(g->last_ts, sizeof(g->last_ts), "%s", ts);
	if (total > g->before)
		g->before = total;
	g->records++;
}

/*
 * Count what path holds before it is deleted: its lines, the seq and ts
 * of the first and the last, and the largest total of the dropped records
 * in it. A file that cannot be read is said so in g->error.
 */
static void
count_file(const char *path, struct ew_audit_gone *g)
{
	char *chunk = NULL, head[EW_AUDIT_HEAD_MAX];
	const char *base = strrchr(path, '/');
	size_t hlen = 0, i, take;
	ssize_t n;
	int fd;

	memset(g, 0, sizeof(*g));
	g->deleted = true;
	snprintf(g->name, sizeof(g->name), "%.*s", NAME_MAX,
	    base != NULL ? base + 1 : path);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (chunk = malloc(EW_AUDIT_SCAN_CHUNK)) == NULL) {
		snprintf(g->error, sizeof(g->error), "open: %s",
		    strerror(fd < 0 ? errno : ENOMEM));
		goto out;
	}
	while ((n = read(fd, chunk, EW_AUDIT_SCAN_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(g->error, sizeof(g->error), "read: %s",
			    strerror(errno));
			goto out;
		}
		g->bytes += (uint64_t)n;
		for (i = 0; i < (size_t)n; i += take) {
			const char *nl = memchr(chunk + i, '\n', (size_t)n - i);

			take = nl != NULL ? (size_t)(nl - (chunk + i)) + 1
					  : (size_t)n - i;
			if (hlen < sizeof(head)) {
				size_t room = sizeof(head) - hlen;
				size_t k = take < room ? take : room;

				memcpy(head + hlen, chunk + i, k);
				hlen += k;
			}
			if (nl != NULL) {
				count_line(g, head, hlen);
				hlen = 0;
			}
		}
	}
	if (hlen > 0)
		count_line(g, head, hlen); /* a last line never ended */
	g->read = true;
out:
	free(chunk);
	if (fd >= 0)
		close(fd);
}

/*
 * How many records the log has lost before this rotation: the newest
 * dropped record says. A rotation writes one as the first line of the
 * new file, so the first lines of the files still here hold them all;
 * totals only grow, so the largest is the newest.
 */
static uint64_t
deleted_before(const struct ew_audit *a)
{
	char name[PATH_MAX], head[EW_AUDIT_HEAD_MAX], ts[40];
	uint64_t seq, total, most = 0;
	const char *nl;
	unsigned i;
	ssize_t n;
	int fd;

	for (i = 0; i <= a->keep; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%s", a->path);
		else if (ew_audit_rotated_name(a->path, i, name, sizeof(name)))
			break;
		if ((fd = open(name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			continue;
		n = pread(fd, head, sizeof(head), 0);
		close(fd);
		if (n <= 0)
			continue;
		if ((nl = memchr(head, '\n', (size_t)n)) != NULL)
			n = nl - head;
		parse_head(head, (size_t)n, ts, sizeof(ts), &seq, &total);
		if (total > most)
			most = total;
	}
	return most;
}

/*
 * The seq of the last whole line of the file open as fd (0 when there is
 * none): found by reading backwards for the line's start, however long
 * the line.
 */
static uint64_t
last_seq_of(int fd)
{
	char buf[EW_AUDIT_SCAN_CHUNK], head[EW_AUDIT_HEAD_MAX], ts[40];
	uint64_t seq, total;
	struct stat st;
	off_t end, pos, start = 0;
	ssize_t n, i;
	bool found = false;

	if (fstat(fd, &st) != 0 || st.st_size == 0)
		return 0;
	/* The last newline ends the last whole line (a torn tail is not). */
	for (end = st.st_size; end > 0 && !found;) {
		pos = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		if ((n = pread(fd, buf, (size_t)(end - pos), pos)) <= 0)
			return 0;
		for (i = n - 1; i >= 0; i--)
			if (buf[i] == '\n') {
				end = pos + i;
				found = true;
				break;
			}
		if (!found)
			end = pos;
	}
	if (!found)
		return 0;
	/* Then the newline before it (or the file's start) starts it. */
	for (pos = end, found = false; pos > 0 && !found;) {
		off_t from =
		    pos > (off_t)sizeof(buf) ? pos - (off_t)sizeof(buf) : 0;

		if ((n = pread(fd, buf, (size_t)(pos - from), from)) <= 0)
			return 0;
		for (i = n - 1; i >= 0; i--)
			if (buf[i] == '\n') {
				start = from + i + 1;
				found = true;
				break;
			}
		pos = from;
	}
	if ((n = pread(fd, head, sizeof(head), start)) <= 0)
		return 0;
	parse_head(head, (size_t)n, ts, sizeof(ts), &seq, &total);
	return seq;
}

uint64_t
ew_audit_file_last_seq(const struct ew_audit *a)
{
	char name[PATH_MAX];
	uint64_t seq;
	int fd;

	if (a->null)
		return 0;
	if ((seq = last_seq_of(a->fd)) != 0 || a->keep == 0 ||
	    ew_audit_rotated_name(a->path, 1, name, sizeof(name)) != 0 ||
	    (fd = open(name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return seq;
	seq = last_seq_of(fd);
	close(fd);
	return seq;
}

/* Make renames in the log's folder durable. */
static void
sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/*
 * Every line stays whole in exactly one file: a rename moves a whole
 * file, and the line about to be written goes to the new file only.
 * Another writer of the same log may have rotated it already: then FILE
 * is not our file any more, and we only reopen.
 */
int
ew_audit_file_rotate(struct ew_audit *a, struct ew_audit_gone *gone)
{
	struct stat ours, named, st;
	char from[PATH_MAX], to[PATH_MAX];
	uint64_t before;
	unsigned i;
	int fd;

	memset(gone, 0, sizeof(*gone));
	if (fstat(a->fd, &ours) < 0)
		return -errno;
	if (stat(a->path, &named) == 0 && named.st_dev == ours.st_dev &&
	    named.st_ino == ours.st_ino) {
		/* The file that goes: FILE.keep, or FILE itself. */
		if (a->keep == 0)
			snprintf(to, sizeof(to), "%s", a->path);
		else if (ew_audit_rotated_name(
			     a->path, a->keep, to, sizeof(to)))
			return -ENAMETOOLONG;
		if (lstat(to, &st) == 0) {
			if (a->full == EW_AUDIT_FULL_DENY) {
				snprintf(a->why, sizeof(a->why),
				    "the log is full: rotating would delete "
				    "%.300s, and --audit-full is deny (move "
				    "the rotated files away to go on)",
				    to);
				return -EW_AUDIT_E_FULL;
			}
			count_file(to, gone);
			before = deleted_before(a);
			if (before > gone->before)
				gone->before = before;
		}
		/* What the rotated file holds is on disk before it goes. */
		if (a->sync != EW_AUDIT_SYNC_NONE && fdatasync(a->fd) < 0)
			return -errno;
		if (a->keep == 0) {
			if (unlink(a->path) < 0 && errno != ENOENT)
				return -errno;
		} else {
			for (i = a->keep; i > 1; i--) {
				if (ew_audit_rotated_name(
					a->path, i - 1, from, sizeof(from)) ||
				    ew_audit_rotated_name(
					a->path, i, to, sizeof(to)))
					return -ENAMETOOLONG;
				if (rename(from, to) < 0 && errno != ENOENT)
					return -errno;
			}
			if (ew_audit_rotated_name(a->path, 1, to, sizeof(to)))
				return -ENAMETOOLONG;
			if (rename(a->path, to) < 0)
				return -errno;
		}
	}
	if ((fd = ew_audit_file_open(a->path, a->why, sizeof(a->why))) < 0)
		return fd;
	close(a->fd);
	a->fd = fd;
	a->dirty = false;
	if (a->sync != EW_AUDIT_SYNC_NONE)
		sync_dir(a->path);
	return 0;
}
