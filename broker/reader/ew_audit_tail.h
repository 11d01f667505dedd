/* Reading the audit log back: records, filters, lines for people, follow. */
#ifndef EW_AUDIT_TAIL_H
#define EW_AUDIT_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ew_buf.h"

/* Return convention: 0 on success, -errno or -EW_E_* on failure. */

/* One record as read back. Strings are owned by the view. */
struct ew_audit_view {
	bool exit; /* an exit record ("type":"exit") */
	bool failed; /* an allowed start that failed ("type":"failed") */
	bool refused; /* connections refused unread ("type":"refused") */
	bool dropped; /* records a rotation deleted ("type":"dropped") */
	const char *ts;
	int64_t ts_us; /* microseconds since the epoch; -1 when ts is bad */
	long long seq, pid, ppid, uid;
	const char *session, *cwd, *via, *file, *decision, *source;
	const char *justification, *reason;
	const char **argv;
	size_t argc;
	const char *rule; /* FILE:LINE of the rule that decided, or NULL */
	bool asked;
	const char *answer;
	long long wait_ms, latency_us;
	bool signaled; /* exit records: status */
	long long status, duration_us;
	const char *error; /* failed records: why, as text */
	/*
	 * refused: count connections since; dropped: count records of
	 * gone_file, seq first_seq to last_seq, total deleted so far.
	 */
	long long count, first_seq, last_seq, total;
	const char *since, *gone_file;
	void *tree; /* the parsed JSON (yajl_val) */
};

/*
 * Parse one line (no newline) into *out (freed with ew_audit_view_free).
 * -EINVAL for anything that is not an audit record, with a few words in
 * why (static text).
 */
int ew_audit_view_parse(
    const char *line, size_t len, struct ew_audit_view **out, const char **why);
void ew_audit_view_free(struct ew_audit_view *v);

/*
 * The filter bit of a decision's name (1u << enum ew_audit_decision:
 * "allow", "deny", "escalate", "exit", "failed", "refused" or "dropped");
 * -EINVAL otherwise. A filter for deny matches refused records too.
 */
int ew_audit_decision_bit(const char *name);

/*
 * A point in time: RFC 3339 ("2025-01-31T10:00:00Z", an offset, or no
 * zone: local time; a space may stand for the T; seconds optional), a
 * date alone (local midnight), or an age before now_us ("90s", "10m",
 * "2h", "7d"). Microseconds since the epoch in *out; -EINVAL otherwise.
 */
int ew_audit_time_parse(const char *s, int64_t now_us, int64_t *out);

struct ew_audit_filter {
	unsigned decisions; /* ew_audit_decision_bit bits; 0: every record */
	int64_t since_us; /* 0: no bound */
	long long pid; /* -1: any */
	const char *program; /* a basename or a full path; NULL: any */
};

void ew_audit_filter_init(struct ew_audit_filter *f);
bool ew_audit_filter_match(
    const struct ew_audit_filter *f, const struct ew_audit_view *v);

/* How lines for people look. */
struct ew_audit_fmt {
	unsigned width; /* columns; 0: no limit (nothing is shortened) */
	bool color; /* ANSI colours (only for a terminal) */
};

/*
 * One aligned line for a record, with its newline: time, decision, pid,
 * cwd, what decided, then the command (shortened to the width). Control
 * characters and bidirectional overrides in the record are shown escaped,
 * never sent to the terminal.
 */
int ew_audit_format(const struct ew_audit_view *v, const struct ew_audit_fmt *f,
    struct ew_buf *out);

/*
 * The line for something that is not a record: "-- FILE:LINE: why: text"
 * (the text escaped and shortened to the width).
 */
int ew_audit_format_bad(const char *where, unsigned long lineno,
    const char *why, const char *text, size_t len, const struct ew_audit_fmt *f,
    struct ew_buf *out);

/* What ew_audit_reader_next found. */
enum ew_audit_read {
	EW_AUDIT_READ_END, /* end of the file (following: nothing new) */
	EW_AUDIT_READ_LINE, /* a whole line */
	EW_AUDIT_READ_PARTIAL, /* a line cut short (half-written) */
	EW_AUDIT_READ_NOTE, /* a notice for people (rotation, truncation) */
};

struct ew_audit_reader;

/*
 * Read path line by line. follow: like tail -F, keep reading as it grows,
 * across truncation and rotation (FILE -> FILE.1, a new FILE): lines
 * written to a file before it was renamed are read before the new file,
 * even when it was rotated more than once between looks. When following,
 * a missing file is waited for. *out is freed with ew_audit_reader_close.
 */
int ew_audit_reader_open(
    const char *path, bool follow, struct ew_audit_reader **out);
void ew_audit_reader_close(struct ew_audit_reader *r);

/*
 * The next line (without its newline; borrowed until the next call), in
 * *line and *len, and its kind in *kind. Following, EW_AUDIT_READ_END
 * comes after about poll_ms with nothing new, and the caller may call
 * again. 0 or -errno.
 */
int ew_audit_reader_next(struct ew_audit_reader *r, unsigned poll_ms,
    enum ew_audit_read *kind, const char **line, size_t *len);

/* The file and line number of the last line returned (borrowed). */
const char *
ew_audit_reader_where(const struct ew_audit_reader *r, unsigned long *lineno);

#endif /* EW_AUDIT_TAIL_H */
