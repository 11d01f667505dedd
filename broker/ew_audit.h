/* The audit log: one JSON object per decision, one line per write. */
#ifndef EW_AUDIT_H
#define EW_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ev_loop;
struct ew_policy_result;

enum ew_audit_sync {
	EW_AUDIT_SYNC_NONE, /* leave it to the kernel */
	EW_AUDIT_SYNC_BATCH, /* fdatasync at least every 100 ms when dirty */
	EW_AUDIT_SYNC_ALWAYS, /* fdatasync after every record */
};

/* Parse "none", "batch" or "always"; -EINVAL otherwise. */
int ew_audit_sync_parse(const char *s, enum ew_audit_sync *out);

/* One record. Pointers are borrowed for the duration of the write. */
struct ew_audit_rec {
	const char *session; /* the broker session that decided */
	pid_t pid;
	pid_t ppid;
	uid_t uid;
	const char *cwd;
	const char *via;
	const char *file; /* the resolved program */
	const char *called; /* the program as the caller named it */
	char *const *argv;
	size_t argc;
	const char *decision; /* allow | deny | escalate */
	const char *source; /* rule | heuristics | user | fallback */
	const struct ew_policy_result *res; /* the matches; may be NULL */
	const char *justification; /* NULL when none */
	const char *reason; /* why a deny, NULL otherwise */
	bool asked;
	const char *answer; /* the prompt's answer when asked */
	uint64_t wait_ms;
	uint64_t latency_us;
};

struct ew_audit;

/*
 * Open (creating, mode 0600, and its folder, 0700) path for appending.
 * loop is used for batch syncing. *out is freed with ew_audit_close.
 */
int ew_audit_open(const char *path, enum ew_audit_sync sync,
    struct ev_loop *loop, struct ew_audit **out);

/* Sync what is pending and close. NULL is a no-op. */
void ew_audit_close(struct ew_audit *a);

/*
 * Write one record as one line with one append (the seq and ts fields are
 * added here). Never leaves half a line behind: a short write is cut back.
 * 0, or -errno when the record could not be written whole.
 */
int ew_audit_write(struct ew_audit *a, const struct ew_audit_rec *r);

/* The log's path (borrowed). */
const char *ew_audit_path(const struct ew_audit *a);

#endif /* EW_AUDIT_H */
