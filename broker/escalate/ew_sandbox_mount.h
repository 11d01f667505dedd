/* Read-only carve-outs of the sandbox: its parent and child halves. */
#ifndef EW_SANDBOX_MOUNT_H
#define EW_SANDBOX_MOUNT_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ew_sandbox.h"

/*
 * Landlock cannot make a folder read-only inside a writable one (a rule
 * only ever adds rights), so a carve-out is a read-only bind mount of the
 * folder onto itself, in a mount namespace of the command's own, as
 * bubblewrap and Codex's Linux sandbox do. Its ancestors that a confined
 * command could rename (those whose parent is writable) are bound onto
 * themselves too, as "pins": a mount point cannot be renamed or removed,
 * so the carve-out cannot be moved aside and a fresh, writable folder of
 * the same name made in its place.
 *
 * The parent (ew_sandbox_mount.c) resolves the paths and prepares a plan;
 * the child (ew_sandbox_mount_child.c) carries it out with system calls
 * only. Return convention: 0, or -errno with a one-line reason in err.
 */

/* Mounts one plan may make: carve-outs and pins together. */
#define EW_SANDBOX_MOUNT_MAX 256
/* "UID UID 1\n" for /proc/self/uid_map. */
#define EW_SANDBOX_MAP_LEN 48

/* What the child reports when the kernel refuses it something. */
enum ew_sandbox_mount_step {
	EW_SANDBOX_MOUNT_UNSHARE = 1,
	EW_SANDBOX_MOUNT_MAPS,
	EW_SANDBOX_MOUNT_PRIVATE,
	EW_SANDBOX_MOUNT_BIND,
	EW_SANDBOX_MOUNT_FILTER,
};

/* One report on the note pipe (written by the child before it execs). */
struct ew_sandbox_mount_note {
	int step; /* enum ew_sandbox_mount_step */
	int err; /* errno */
	int index; /* the mount, or -1 */
};

struct ew_sandbox_mount_ent {
	char *path; /* absolute, with no symbolic link in it when planned */
	bool readonly; /* false: a pin (an ancestor bound onto itself) */
	bool skip_missing;
};

struct ew_sandbox_mount {
	struct ew_sandbox_mount_ent *ents; /* pins first, outermost first */
	size_t n;
	bool userns; /* not root: a user namespace first */
	char uid_map[EW_SANDBOX_MAP_LEN], gid_map[EW_SANDBOX_MAP_LEN];
	char root_uid_map[EW_SANDBOX_MAP_LEN], root_gid_map[EW_SANDBOX_MAP_LEN];
	struct sock_fprog prog; /* refuses setns(2) */
	int note_rd, note_wr; /* the note pipe (both close-on-exec) */
	char *list; /* the carve-outs, for ew_sandbox_describe */
	char *unprotected; /* ew_sandbox_unprotected, once read */
	bool read;
};

/*
 * The plan for policy p, for a command starting in cwd with $TMPDIR
 * tmpdir (NULL: none). *out is NULL when there is nothing to mount (no
 * carve-out lies inside anything writable). Free with
 * ew_sandbox_mount_free.
 */
int ew_sandbox_mount_new(const struct ew_sandbox_policy *p, const char *cwd,
    const char *tmpdir, struct ew_sandbox_mount **out, char *err,
    size_t errlen);
/* NULL is a no-op. */
void ew_sandbox_mount_free(struct ew_sandbox_mount *m);

/* The carve-out half of ew_sandbox_policy_copy and _fini. */
int ew_sandbox_mount_policy_copy(
    struct ew_sandbox_policy *dst, const struct ew_sandbox_policy *src);
void ew_sandbox_mount_policy_fini(struct ew_sandbox_policy *p);

/* The child's half, given the plan (NULL: nothing). Async-signal-safe. */
int ew_sandbox_mount_child(const struct ew_sandbox_mount *m);

/* What the child reported (NULL: all enforced). Borrowed. */
const char *ew_sandbox_mount_unprotected(struct ew_sandbox_mount *m);

#endif /* EW_SANDBOX_MOUNT_H */
