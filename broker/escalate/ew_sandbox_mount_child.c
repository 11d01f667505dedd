/*
 * ASYNC-SIGNAL-SAFE: runs in a forked child between fork and exec.
 * System calls and the stack only; no allocation, no stdio, no locks.
 *
 * The read-only carve-outs, carried out: a mount namespace of the
 * command's own, each pin and carve-out cloned from the path onto itself
 * (the new mount API: open_tree, mount_setattr, move_mount, all on one
 * file descriptor opened without following symbolic links, so a path
 * swapped halfway cannot redirect a mount), then every path checked
 * again. The kernel refusing the namespace or a mount is reported on the
 * note pipe and the command goes on without the carve-outs (the caller
 * says so); a path that is a symbolic link, or that no longer leads to
 * its mount afterwards, fails the start.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_sandbox_int.h"
#include "ew_sandbox_mount.h"

/* Older headers (Debian 12's glibc 2.36 has the calls, not every flag). */
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif
#ifndef ST_RDONLY
#define ST_RDONLY 1
#endif

/* struct mount_attr as mount_setattr(2) takes it (Linux 5.12). */
struct ew_mount_attr {
	__u64 attr_set;
	__u64 attr_clr;
	__u64 propagation;
	__u64 userns_fd;
};

/* Tell the parent what the kernel refused; the command goes on. */
static void
note(const struct ew_sandbox_mount *m, int step, int err, int index)
{
	struct ew_sandbox_mount_note n = { step, err, index };
	ssize_t w;

	do
		w = write(m->note_wr, &n, sizeof(n));
	while (w < 0 && errno == EINTR);
}

/* Write text to a /proc/self file; 0 or -errno. */
static int
proc_write(const char *path, const char *text)
{
	size_t len = 0;
	ssize_t w;
	int fd, r = 0;

	while (text[len] != '\0')
		len++;
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	w = write(fd, text, len);
	if (w != (ssize_t)len)
		r = w < 0 ? -errno : -EIO;
	close(fd);
	return r;
}

/* path opened without following any symbolic link on the way. */
static int
open_nofollow(const char *path)
{
	struct open_how how;
	unsigned char *p = (unsigned char *)&how;
	size_t i;
	long fd;

	for (i = 0; i < sizeof(how); i++)
		p[i] = 0;
	how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
	how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* Is the mount (or pin) at e in place: a read-only mount, or a root? */
static int
verify(const struct ew_sandbox_mount_ent *e)
{
	struct statx stx;
	struct statfs sf;
	int fd, r = 0;

	if ((fd = open_nofollow(e->path)) < 0)
		return e->skip_missing && fd == -ENOENT ? 0 : fd;
	if (e->readonly) {
		if (fstatfs(fd, &sf) != 0)
			r = -errno;
		else if (!(sf.f_flags & ST_RDONLY))
			r = -EAGAIN;
	} else if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) != 0) {
		r = -errno;
	} else if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
		r = -EAGAIN;
	}
	close(fd);
	return r;
}

/*
 * Bind e onto itself (read-only for a carve-out). 1: done; 0: skipped
 * (missing, allowed); -errno. *refused: the kernel said no (EPERM and
 * the like), as opposed to a path that is wrong.
 */
static int
bind(const struct ew_sandbox_mount_ent *e, bool *refused)
{
	struct ew_mount_attr attr;
	unsigned char *p = (unsigned char *)&attr;
	size_t i;
	int fd, tree = -1, r = 1;

	*refused = false;
	if ((fd = open_nofollow(e->path)) < 0)
		return e->skip_missing && fd == -ENOENT ? 0 : fd;
	tree = (int)syscall(SYS_open_tree, fd, "",
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (tree < 0) {
		r = -errno;
		*refused = true;
		goto out;
	}
	if (e->readonly) {
		for (i = 0; i < sizeof(attr); i++)
			p[i] = 0;
		attr.attr_set = MOUNT_ATTR_RDONLY;
		if (syscall(SYS_mount_setattr, tree, "",
			AT_EMPTY_PATH | AT_RECURSIVE, &attr,
			sizeof(attr)) != 0) {
			r = -errno;
			*refused = true;
			goto out;
		}
	}
	if (syscall(SYS_move_mount, tree, "", fd, "",
		MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
		r = -errno;
		*refused = true;
	}
out:
	if (tree >= 0)
		close(tree);
	close(fd);
	return r;
}

/* Into a mount namespace of our own; 0, or the step that failed. */
static int
unshare_ns(const struct ew_sandbox_mount *m, int *err)
{
	bool userns = m->userns;

	if (!userns && unshare(CLONE_NEWNS) != 0) {
		/* Root without CAP_SYS_ADMIN (a container): as Codex does. */
		if (errno != EPERM) {
			*err = errno;
			return EW_SANDBOX_MOUNT_UNSHARE;
		}
		userns = true;
	}
	if (userns) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
			*err = errno;
			return EW_SANDBOX_MOUNT_UNSHARE;
		}
		if ((*err = -proc_write("/proc/self/setgroups", "deny\n")) !=
			0 ||
		    (*err = -proc_write("/proc/self/uid_map",
			 m->userns ? m->uid_map : m->root_uid_map)) != 0 ||
		    (*err = -proc_write("/proc/self/gid_map",
			 m->userns ? m->gid_map : m->root_gid_map)) != 0)
			return EW_SANDBOX_MOUNT_MAPS;
	}
	/* Nothing we mount may reach the namespace we came from. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		*err = errno;
		return EW_SANDBOX_MOUNT_PRIVATE;
	}
	return 0;
}

int
ew_sandbox_mount_child(const struct ew_sandbox_mount *m)
{
	bool refused;
	size_t i;
	int step, err = 0, r;

	if (m == NULL || m->n == 0)
		return 0;
	if ((step = unshare_ns(m, &err)) != 0) {
		/*
		 * Unmapped ids in a user namespace would run the command as
		 * nobody: that is no sandbox we were asked for. Fail.
		 */
		if (step == EW_SANDBOX_MOUNT_MAPS)
			return -err;
		note(m, step, err, -1);
		return 0;
	}
	for (i = 0; i < m->n; i++) {
		if ((r = bind(&m->ents[i], &refused)) >= 0)
			continue;
		if (!refused)
			return r; /* a link, or a path that vanished */
		note(m, EW_SANDBOX_MOUNT_BIND, -r, (int)i);
		return 0;
	}
	for (i = 0; i < m->n; i++)
		if ((r = verify(&m->ents[i])) != 0)
			return r;
	/*
	 * Root could join PID 1's mount namespace, where the carve-outs are
	 * writable; a filter is allowed here (CAP_SYS_ADMIN in this
	 * namespace), and no_new_privs comes next anyway.
	 */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &m->prog, 0, 0) != 0)
		return -errno;
	return 0;
}

int
ew_sandbox_mount_apply(const struct ew_sandbox *sb)
{
	return sb != NULL ? ew_sandbox_mount_child(sb->mnt) : 0;
}
