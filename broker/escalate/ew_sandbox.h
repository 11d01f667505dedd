/* The command sandbox: Landlock for the file system, seccomp for sockets. */
#ifndef EW_SANDBOX_H
#define EW_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/*
 * A sandbox is applied to a command's shell in the child, between fork and
 * exec, and holds for everything that shell starts: PR_SET_NO_NEW_PRIVS, a
 * Landlock domain in which everything stays readable and executable but
 * only the writable set may be changed, and a seccomp filter that refuses
 * the terminal ioctls that type into the user's shell (TIOCSTI,
 * TIOCLINUX) and, without network access, every socket but AF_UNIX with
 * EACCES, and io_uring, whose requests seccomp cannot see. Nothing here
 * weakens: a mode the kernel cannot enforce is an error, never a silent
 * no-op.
 *
 * Return convention: 0 on success, -errno on failure with a one-line
 * reason in err where the function takes one.
 */

enum ew_sandbox_mode {
	EW_SANDBOX_NONE = 0, /* Codex's danger-full-access */
	EW_SANDBOX_READ_ONLY,
	EW_SANDBOX_WORKSPACE_WRITE,
};

/*
 * Landlock ABI a confining mode needs: 3 (Linux 6.2) is the first that
 * governs truncate(2), without which a file outside the workspace could
 * still be emptied.
 */
#define EW_SANDBOX_LANDLOCK_ABI_MIN 3
/* Extra writable folders a policy may carry. */
#define EW_SANDBOX_ROOTS_MAX 256
/* Read-only carve-outs a policy may carry (ew_sandbox_mount.c). */
#define EW_SANDBOX_READONLY_MAX 256

/* A path that stays read-only inside a writable one (Codex's .git). */
struct ew_sandbox_readonly {
	char *path; /* absolute */
	bool skip_missing; /* a path that does not exist is fine */
};

/* What a command may do: the mode and, for workspace-write, where. */
struct ew_sandbox_policy {
	enum ew_sandbox_mode mode;
	char *workspace; /* the writable workspace; NULL: the command's cwd */
	char **roots; /* extra writable folders (absolute), nroots of them */
	size_t nroots;
	bool network; /* network access (no seccomp filter) */
	bool no_tmpdir; /* $TMPDIR is not writable (exclude_tmpdir_env_var) */
	bool no_slash_tmp; /* /tmp is not writable (exclude_slash_tmp) */
	/* Only the roots (and tmp folders) are writable, not the workspace
	 * or the cwd: Codex's permission profiles list every writable path. */
	bool no_workspace;
	/*
	 * Read-only inside the writable set: enforced by read-only bind
	 * mounts in a private mount namespace (ew_sandbox_mount.c), since
	 * Landlock cannot take back what a writable folder grants.
	 */
	struct ew_sandbox_readonly *readonly;
	size_t nreadonly;
};

/* "none", "read-only" or "workspace-write" into *out; -EINVAL otherwise. */
int ew_sandbox_mode_parse(const char *s, enum ew_sandbox_mode *out);

/* The mode's name as ew_sandbox_mode_parse takes it. */
const char *ew_sandbox_mode_name(enum ew_sandbox_mode mode);

/* A policy of mode with no workspace, no roots and no network. */
void
ew_sandbox_policy_init(struct ew_sandbox_policy *p, enum ew_sandbox_mode mode);

/*
 * Add an extra writable folder (copied). -EINVAL when it is not absolute,
 * -E2BIG past EW_SANDBOX_ROOTS_MAX, -ENOMEM.
 */
int ew_sandbox_policy_add_root(struct ew_sandbox_policy *p, const char *path);

/*
 * Add a read-only carve-out (copied). -EINVAL when it is not absolute,
 * -E2BIG past EW_SANDBOX_READONLY_MAX, -ENOMEM.
 */
int ew_sandbox_policy_add_readonly(
    struct ew_sandbox_policy *p, const char *path, bool skip_missing);

/* Set the workspace (copied; NULL clears it). 0, -EINVAL or -ENOMEM. */
int
ew_sandbox_policy_set_workspace(struct ew_sandbox_policy *p, const char *path);

/* Deep copy src into dst (initialised here). 0 or -ENOMEM. */
int ew_sandbox_policy_copy(
    struct ew_sandbox_policy *dst, const struct ew_sandbox_policy *src);

/* Free what p holds; p is left as a policy of mode none. */
void ew_sandbox_policy_fini(struct ew_sandbox_policy *p);

/*
 * The running kernel's Landlock ABI version (>= 1), or -ENOSYS (no
 * Landlock in this kernel) or -EOPNOTSUPP (built in but not enabled).
 */
int ew_sandbox_landlock_abi(void);

/*
 * Can this kernel enforce mode? 0, or -EOPNOTSUPP and why in err. Mode
 * none always can.
 */
int ew_sandbox_check(enum ew_sandbox_mode mode, char *err, size_t errlen);

/* A sandbox ready to apply: an open Landlock ruleset and a filter. */
struct ew_sandbox;

/*
 * Prepare p for a command that starts in cwd with environment env (for
 * $TMPDIR) and stdio fds std[0..3) (a terminal among them stays
 * writable). *out is NULL for mode none. The workspace must exist;
 * other writable paths that do not are left out. Free with
 * ew_sandbox_free.
 */
int ew_sandbox_new(const struct ew_sandbox_policy *p, const char *cwd,
    char *const *env, const int std[3], struct ew_sandbox **out, char *err,
    size_t errlen);

/*
 * The carve-outs, in the child before it changes directory (so that a cwd
 * inside one is inside its mount): a private mount namespace (a user
 * namespace first where the caller is not root), read-only bind mounts,
 * no setns. When the kernel refuses the namespace or the mounts, the
 * command runs without them and says why (ew_sandbox_unprotected); a
 * carve-out that is a symbolic link, or that changed while it was being
 * mounted, fails the start instead. Async-signal-safe. 0 or -errno.
 */
int ew_sandbox_mount_apply(const struct ew_sandbox *sb);

/*
 * After a start: what the child could not protect, for people ("/w/.git:
 * unshare: Operation not permitted"), or NULL when everything was (or
 * nothing was asked). Borrowed, valid while sb is.
 */
const char *ew_sandbox_unprotected(struct ew_sandbox *sb);

/* The carve-outs sb mounts, "/w/.git, /w/.codex"; "" when none. */
const char *ew_sandbox_mount_list(const struct ew_sandbox *sb);

/* Close the ruleset and free. NULL is a no-op. */
void ew_sandbox_free(struct ew_sandbox *sb);

/*
 * Apply sb to the calling process, for good: no new privileges, the
 * Landlock domain, the seccomp filter. Async-signal-safe (a forked
 * child calls it just before exec). sb NULL applies nothing. 0 or -errno.
 */
int ew_sandbox_apply(const struct ew_sandbox *sb);

/*
 * What sb lets a command change, for people: "workspace-write (writable:
 * /w, /tmp; no network)". Borrowed, valid while sb is; "none" for NULL.
 */
const char *ew_sandbox_describe(const struct ew_sandbox *sb);

/*
 * Is st (a file or folder, by device and inode) one of the paths sb lets
 * its commands change, or, unless writable_only, its read-only
 * workspace? The path it was given as (borrowed), or NULL.
 */
const char *ew_sandbox_root_match(
    const struct ew_sandbox *sb, const struct stat *st, bool writable_only);

/*
 * Does path (symlinks followed) lie in one of sb's roots (as
 * ew_sandbox_root_match)? 1 with the root in *rootp, 0, or -errno when
 * path cannot be walked. sb NULL: 0.
 */
int ew_sandbox_contains(const struct ew_sandbox *sb, const char *path,
    bool writable_only, const char **rootp);

/*
 * What a process needs to apply sb to itself (execward-escalate confining
 * a program in place): the Landlock ruleset (borrowed fd), and the BPF
 * program as bytes (borrowed; length in *lenp, 0 without a filter).
 */
int ew_sandbox_ruleset_fd(const struct ew_sandbox *sb);
const void *ew_sandbox_filter(const struct ew_sandbox *sb, size_t *lenp);

#endif /* EW_SANDBOX_H */
