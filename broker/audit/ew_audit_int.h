/* The audit log writer's internals, shared by ew_audit.c and ew_audit_file.c.
 */
#ifndef EW_AUDIT_INT_H
#define EW_AUDIT_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "ew_audit.h"
#include "ew_buf.h"

struct ew_audit {
	int fd;
	char *path;
	uint64_t seq;
	enum ew_audit_sync sync;
	struct ev_loop *loop;
	ev_timer sync_w;
	bool dirty;
	bool sync_failed; /* said once until a sync works again */
	bool rotate_failed; /* said once until a rotation works again */
	uint64_t max_bytes;
	unsigned keep;
	enum ew_audit_full full;
	bool is_full; /* EW_AUDIT_FULL_DENY: the last write found it full */
	bool syslog;
	bool torn; /* the file ends inside a line: end it before the next */
	bool null; /* the log is /dev/null: no checks, no rotation */
	struct ew_buf *line;
	char why[EW_AUDIT_WHY_MAX]; /* the last failure, for people */
};

/* What a rotation deleted (FILE.keep, or FILE when keep is 0). */
struct ew_audit_gone {
	bool deleted; /* nothing was deleted when false */
	char name[NAME_MAX + 1]; /* the file's name, without its folder */
	bool read; /* it could be read before it went: the counts hold */
	char error[128]; /* when not read: why */
	uint64_t records; /* lines, a last unended one included */
	uint64_t bytes;
	uint64_t first_seq, last_seq; /* of its first and last line */
	char first_ts[40], last_ts[40];
	uint64_t
	    before; /* records deleted earlier, by its own dropped record */
};

/*
 * Open path for appending (created 0600) after checking what it is: not a
 * symbolic link (O_NOFOLLOW), a regular file of our euid with one link,
 * writable by nobody else, in folders (to /) that root or our euid own
 * and that others cannot write unless sticky (sshd's StrictModes). The
 * path /dev/null is taken as it is. An fd, or -errno with why[0..len).
 */
int ew_audit_file_open(const char *path, char *why, size_t len);

/*
 * The seq of the log's last record (in FILE, else FILE.1), so that a new
 * writer goes on from it: 0 when there is none.
 */
uint64_t ew_audit_file_last_seq(const struct ew_audit *a);

/*
 * Rotate a's file: FILE.(keep-1) -> FILE.keep, ..., FILE -> FILE.1, a new
 * FILE (keep 0: FILE is deleted and made anew). What that deletes is
 * counted first into *gone. With EW_AUDIT_FULL_DENY nothing is deleted:
 * -EW_AUDIT_E_FULL instead, and a->why says so. 0 or -errno.
 */
int ew_audit_file_rotate(struct ew_audit *a, struct ew_audit_gone *gone);

#endif /* EW_AUDIT_INT_H */
