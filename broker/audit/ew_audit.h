/* The audit log: one JSON object per decision, one line per write. */
#ifndef EW_AUDIT_H
#define EW_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ev_loop;
struct ew_policy_result;

/*
 * Return convention: 0 on success, -errno on failure (-E2BIG for a record
 * that cannot be formatted).
 */

enum ew_audit_sync {
	EW_AUDIT_SYNC_NONE, /* leave it to the kernel */
	EW_AUDIT_SYNC_BATCH, /* fdatasync at least every 100 ms when dirty */
	EW_AUDIT_SYNC_ALWAYS, /* fdatasync after every record */
};

/* Parse "none", "batch" or "always"; -EINVAL otherwise. */
int ew_audit_sync_parse(const char *s, enum ew_audit_sync *out);

/*
 * What a log that reached --audit-max-bytes with every rotated file kept
 * does (auditd's max_log_file_action).
 */
enum ew_audit_full {
	/*
	 * Rotate, deleting the oldest file; the new file starts with a
	 * "dropped" record saying what went (records, first and last seq).
	 */
	EW_AUDIT_FULL_ROTATE,
	/* Delete nothing: every write fails, so every start is denied. */
	EW_AUDIT_FULL_DENY,
};

/*
 * A write refused because the log is full (EW_AUDIT_FULL_DENY): above
 * every errno and -EW_E_* value. ew_audit_strerror says which file.
 */
#define EW_AUDIT_E_FULL 20001

/* Room for a one-line reason. */
#define EW_AUDIT_WHY_MAX 512

/*
 * How a subcommand's audit options configure the log. ew_audit_conf_init
 * sets the defaults (batch sync, no rotation, no syslog, path NULL: the
 * default path).
 */
struct ew_audit_conf {
	const char *path; /* the file; NULL: ew_paths_default_audit */
	enum ew_audit_sync sync;
	uint64_t max_bytes; /* rotate before a file would pass this; 0: never */
	unsigned keep; /* rotated files kept (FILE.1 .. FILE.keep) */
	enum ew_audit_full full; /* what a full log does */
	bool syslog; /* also send each record to syslog(3) */
	char why[EW_AUDIT_WHY_MAX]; /* set by ew_audit_open_conf on failure */
};

void ew_audit_conf_init(struct ew_audit_conf *c);

/*
 * Apply one audit option: name is "audit" (FILE, or the word syslog),
 * "audit-sync", "audit-max-bytes" (a byte count, with K, M or G),
 * "audit-keep" or "audit-full" (rotate or deny). 0, -ENOENT for a name
 * that is not an audit option, or -EINVAL with a one-line reason in err.
 */
int ew_audit_conf_option(struct ew_audit_conf *c, const char *name,
    const char *arg, char *err, size_t errlen);

/*
 * When c has no path yet, make it the default audit log
 * (ew_paths_default_audit), kept in buf[0..len). 0, or -ENOENT when there is
 * neither HOME nor XDG_STATE_HOME to put it in.
 */
int ew_audit_conf_default_path(struct ew_audit_conf *c, char *buf, size_t len);

/*
 * What a record says was decided: its "decision" (ALLOW, DENY, ESCALATE),
 * or the "type" of a record that follows one (EXIT, FAILED) or counts
 * what never came to one (REFUSED, DROPPED). A reader's filter is a set
 * of these (1u << d).
 */
enum ew_audit_decision {
	EW_AUDIT_ALLOW,
	EW_AUDIT_DENY,
	EW_AUDIT_ESCALATE,
	EW_AUDIT_EXIT,
	EW_AUDIT_FAILED,
	EW_AUDIT_REFUSED,
	EW_AUDIT_DROPPED,
	EW_AUDIT_NDECISIONS,
};

/* Its name in the log ("allow", ..., "dropped"). */
const char *ew_audit_decision_name(enum ew_audit_decision d);

/* The decision named s, or -EINVAL. */
int ew_audit_decision_parse(const char *s);

/* Maximum rotated files kept. */
#define EW_AUDIT_KEEP_MAX 1000u
/* Default rotated files kept once --audit-max-bytes is given. */
#define EW_AUDIT_KEEP_DEFAULT 5u

/* One record. Pointers are borrowed for the duration of the write. */
struct ew_audit_rec {
	const char *session; /* the broker session that decided */
	pid_t pid;
	pid_t ppid;
	uid_t uid;
	const char *cwd;
	/* Why cwd is "" (it could not be known); NULL: field left out. */
	const char *cwd_error;
	const char *via;
	const char *file; /* the resolved program */
	const char *called; /* the program as the caller named it */
	/* The real file the broker resolved, when not file; NULL: left out. */
	const char *real;
	char *const *argv;
	size_t argc;
	enum ew_audit_decision decision; /* ALLOW, DENY or ESCALATE */
	const char *source; /* rule | heuristics | user | fallback */
	const struct ew_policy_result *res; /* the matches; may be NULL */
	const char *justification; /* NULL when none */
	const char *reason; /* why a deny, NULL otherwise */
	bool asked;
	const char *answer; /* the prompt's answer when asked */
	uint64_t wait_ms;
	uint64_t latency_us;
	const char *token; /* an escalation's token; NULL: field left out */
	const char *sandbox; /* the sandbox it runs in; NULL: left out */
	/* "refused: WHY": a rule let it out, but it runs in the sandbox. */
	const char *escalation;
	/* Why a program asked about from outside runs confined. */
	const char *confined;
	/*
	 * The session has no kernel backstop of its own: "off", "outer",
	 * "unavailable: WHY" (broker/backstop/); NULL: left out.
	 */
	const char *backstop;
	/*
	 * The shim started it on the policy snapshot's word without waiting
	 * (a TOLD, proto/ew_snap.h): recorded after it ran, as "told":true.
	 */
	bool told;
	/*
	 * A TOLD whose evaluation was not an allow in place: what the broker
	 * would have said. NULL: field left out.
	 */
	const char *mismatch;
};

/* What an escalated command did, recorded when it ends. */
struct ew_audit_exit {
	const char *session;
	pid_t pid; /* the escalated command */
	uid_t uid;
	const char *cwd;
	const char *file;
	char *const *argv;
	size_t argc;
	int status; /* a wait status */
	uint64_t duration_us;
	const char *token; /* the escalation's token; NULL: left out */
};

/*
 * An allowed start whose real call then failed (the shim's FAILED):
 * nothing ran. Recorded after the allow record it follows (of).
 */
struct ew_audit_failed {
	const char *session;
	pid_t pid;
	uid_t uid;
	const char *cwd;
	const char *via;
	const char *file; /* the resolved program */
	const char *called;
	char *const *argv;
	size_t argc;
	uint64_t of; /* the seq of the allow record */
	int err; /* the errno the start failed with */
};

struct ew_audit;

/* A refusal before any question was read, counted (a rate-limited record). */
struct ew_audit_refused {
	const char *session;
	uid_t uid; /* whose connections were refused */
	pid_t pid; /* the last one's process */
	uint64_t count; /* connections refused since */
	const char *since; /* the first one's time (ew_audit_timestamp) */
	const char *reason;
};

/*
 * Open (creating, mode 0600, and its folder, 0700) path for appending.
 * loop is used for batch syncing. *out is freed with ew_audit_close.
 * A symbolic link is not followed; a file of another uid, one others may
 * write or with other hard links, or a folder on the way that others
 * may write without the sticky bit, is refused (ew_audit_open_conf).
 */
int ew_audit_open(const char *path, enum ew_audit_sync sync,
    struct ev_loop *loop, struct ew_audit **out);

/*
 * Open the log c describes (c->path must be set). The same as
 * ew_audit_open plus rotation, what a full log does and syslog. 0, or
 * -errno with a one-line reason (naming the file) in c->why.
 */
int ew_audit_open_conf(
    struct ew_audit_conf *c, struct ev_loop *loop, struct ew_audit **out);

/*
 * Describe r, an error of a's: the full log's reason for -EW_AUDIT_E_FULL,
 * ew_err_str for -EW_E_*, strerror otherwise (borrowed; a may be NULL).
 */
const char *ew_audit_strerror(const struct ew_audit *a, int r);

/* Sync what is pending and close. NULL is a no-op. */
void ew_audit_close(struct ew_audit *a);

/*
 * Write one record as one line with one append (the seq and ts fields are
 * added here), rotating first when the line would take the file past its
 * size limit. Never leaves half a line behind: a short write is cut back.
 * 0, or -errno when the record could not be written whole.
 */
int ew_audit_write(struct ew_audit *a, const struct ew_audit_rec *r);

/* Write an exit record ("type":"exit") the same way. */
int ew_audit_write_exit(struct ew_audit *a, const struct ew_audit_exit *x);

/* Write a failed-start record ("type":"failed") the same way. */
int ew_audit_write_failed(struct ew_audit *a, const struct ew_audit_failed *f);

/* The seq of the last record written (0: none yet). */
uint64_t ew_audit_seq(const struct ew_audit *a);
/* Write a refused record ("type":"refused") the same way. */
int
ew_audit_write_refused(struct ew_audit *a, const struct ew_audit_refused *x);

/* Now, as the records' ts: RFC 3339 UTC with microseconds. */
void ew_audit_timestamp(char out[32]);

/* The log's path (borrowed). */
const char *ew_audit_path(const struct ew_audit *a);
/* The log's sync mode (EW_AUDIT_SYNC_ALWAYS: every record on disk first). */
enum ew_audit_sync ew_audit_sync_mode(const struct ew_audit *a);

/* What a full log of a does (--audit-full). */
enum ew_audit_full ew_audit_full_mode(const struct ew_audit *a);

/* The name of rotated file i (1..keep) of path: "path.i". 0 or -E2BIG. */
int ew_audit_rotated_name(const char *path, unsigned i, char *out, size_t n);

#endif /* EW_AUDIT_H */
