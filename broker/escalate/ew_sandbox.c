/*
 * Sandbox policies, and their preparation in the parent: the Landlock
 * ruleset (opened paths, rules added) and the seccomp filter (built by
 * libseccomp, exported as BPF). The child only has to apply them
 * (ew_sandbox_child.c), which takes three system calls and no allocation.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <seccomp.h>

#include "ew_fd.h"
#include "ew_sandbox.h"
#include "ew_sandbox_int.h"
#include "ew_sandbox_mount.h"

/* Debian 12's headers describe Landlock ABI 2; the rest is stable ABI. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#define EW_LL_ACCESS_NET_BIND_TCP (1ULL << 0)
#define EW_LL_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#define EW_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define EW_LL_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; older kernels take a prefix. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped; /* ABI 6 */
};

/* Every right that changes the file system (ABI 1). */
#define LL_WRITE_ABI1                                                       \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |    \
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |     \
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |   \
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)
/* The rights that apply to a file that is not a folder. */
#define LL_FILE_RIGHTS \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

/* Paths in a description, before it is cut. */
#define EW_SANDBOX_DESC_MAX 4096
/*
 * ioctl(2)'s request is an unsigned int in the kernel, whatever the
 * upper half of the 64-bit register holds: compare the lower 32 bits
 * only, or TIOCSTI | 1 << 32 would pass (bubblewrap's CVE-2017-5226).
 */
#define EW_SANDBOX_IOCTL_MASK 0xffffffffull

static const char *const mode_names[] = {
	[EW_SANDBOX_NONE] = "none",
	[EW_SANDBOX_READ_ONLY] = "read-only",
	[EW_SANDBOX_WORKSPACE_WRITE] = "workspace-write",
};

int
ew_sandbox_mode_parse(const char *s, enum ew_sandbox_mode *out)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(mode_names) / sizeof(*mode_names);
	     i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum ew_sandbox_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *
ew_sandbox_mode_name(enum ew_sandbox_mode mode)
{
	if ((size_t)mode >= sizeof(mode_names) / sizeof(*mode_names))
		return "unknown";
	return mode_names[mode];
}

void
ew_sandbox_policy_init(struct ew_sandbox_policy *p, enum ew_sandbox_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
}

int
ew_sandbox_policy_add_root(struct ew_sandbox_policy *p, const char *path)
{
	char **roots, *copy;

	if (path == NULL || path[0] != '/')
		return -EINVAL;
	if (p->nroots >= EW_SANDBOX_ROOTS_MAX)
		return -E2BIG;
	if ((copy = strdup(path)) == NULL)
		return -ENOMEM;
	roots = realloc(p->roots, (p->nroots + 1) * sizeof(*roots));
	if (roots == NULL) {
		free(copy);
		return -ENOMEM;
	}
	roots[p->nroots++] = copy;
	p->roots = roots;
	return 0;
}

int
ew_sandbox_policy_set_workspace(struct ew_sandbox_policy *p, const char *path)
{
	char *copy = NULL;

	if (path != NULL && path[0] != '/')
		return -EINVAL;
	if (path != NULL && (copy = strdup(path)) == NULL)
		return -ENOMEM;
	free(p->workspace);
	p->workspace = copy;
	return 0;
}

int
ew_sandbox_policy_copy(
    struct ew_sandbox_policy *dst, const struct ew_sandbox_policy *src)
{
	size_t i;
	int r;

	ew_sandbox_policy_init(dst, src->mode);
	dst->network = src->network;
	dst->no_tmpdir = src->no_tmpdir;
	dst->no_slash_tmp = src->no_slash_tmp;
	dst->no_workspace = src->no_workspace;
	if ((r = ew_sandbox_policy_set_workspace(dst, src->workspace)) != 0 ||
	    (r = ew_sandbox_mount_policy_copy(dst, src)) != 0)
		goto fail;
	for (i = 0; i < src->nroots; i++)
		if ((r = ew_sandbox_policy_add_root(dst, src->roots[i])) != 0)
			goto fail;
	return 0;
fail:
	ew_sandbox_policy_fini(dst);
	return r;
}

void
ew_sandbox_policy_fini(struct ew_sandbox_policy *p)
{
	size_t i;

	for (i = 0; i < p->nroots; i++)
		free(p->roots[i]);
	free(p->roots);
	free(p->workspace);
	ew_sandbox_mount_policy_fini(p);
	ew_sandbox_policy_init(p, EW_SANDBOX_NONE);
}

int
ew_sandbox_landlock_abi(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, (size_t)0,
	    LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? -errno : (int)v;
}

int
ew_sandbox_check(enum ew_sandbox_mode mode, char *err, size_t errlen)
{
	int abi;

	if (mode == EW_SANDBOX_NONE)
		return 0;
	abi = ew_sandbox_landlock_abi();
	if (abi == -ENOSYS) {
		snprintf(err, errlen,
		    "sandbox %s: this kernel has no Landlock (Linux 5.13 or "
		    "later with CONFIG_SECURITY_LANDLOCK): the command cannot "
		    "be confined",
		    ew_sandbox_mode_name(mode));
		return -EOPNOTSUPP;
	}
	if (abi < 0) {
		snprintf(err, errlen,
		    "sandbox %s: Landlock is not enabled (add landlock to the "
		    "kernel's lsm= boot parameter): %s",
		    ew_sandbox_mode_name(mode), strerror(-abi));
		return -EOPNOTSUPP;
	}
	if (abi < EW_SANDBOX_LANDLOCK_ABI_MIN) {
		snprintf(err, errlen,
		    "sandbox %s: Landlock ABI %d cannot stop truncate(2) "
		    "outside the workspace (ABI %d, Linux 6.2, needed)",
		    ew_sandbox_mode_name(mode), abi,
		    EW_SANDBOX_LANDLOCK_ABI_MIN);
		return -EOPNOTSUPP;
	}
	/* PR_GET_SECCOMP fails with EINVAL without CONFIG_SECCOMP. */
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) {
		snprintf(err, errlen,
		    "sandbox %s: this kernel has no seccomp filters, so "
		    "network access cannot be refused: %s",
		    ew_sandbox_mode_name(mode), strerror(errno));
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The value of name in env, or NULL. */
static const char *
env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* A growing description; errors only cut it. */
struct desc {
	char *p;
	size_t len, cap;
	unsigned npaths;
};

static void
desc_put(struct desc *d, const char *s)
{
	size_t n = strlen(s);
	char *p;

	if (d->len + n + 1 > d->cap) {
		if (d->len + n + 1 > EW_SANDBOX_DESC_MAX)
			return;
		if ((p = realloc(d->p, d->len + n + 64)) == NULL)
			return;
		d->p = p;
		d->cap = d->len + n + 64;
	}
	memcpy(d->p + d->len, s, n + 1);
	d->len += n;
}

/* Remember what path named, for ew_sandbox_root_match. 0 or -ENOMEM. */
static int
add_root(struct ew_sandbox *sb, const struct stat *st, const char *path,
    bool writable)
{
	struct ew_sandbox_root *r;
	char *copy;

	if ((copy = strdup(path)) == NULL)
		return -ENOMEM;
	r = reallocarray(sb->roots, sb->nroots + 1, sizeof(*r));
	if (r == NULL) {
		free(copy);
		return -ENOMEM;
	}
	sb->roots = r;
	r += sb->nroots++;
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	r->writable = writable;
	r->path = copy;
	return 0;
}

/*
 * Let the sandbox change path: everything beneath a folder, or a file
 * itself. A path that does not exist is skipped (0) unless required.
 */
static int
allow_path(struct ew_sandbox *sb, const char *path, uint64_t handled,
    bool required, struct desc *d, char *err, size_t errlen)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, r = 0;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0) {
		r = -errno;
		if (required)
			snprintf(err, errlen, "sandbox: open %s: %s", path,
			    strerror(errno));
		return required ? r : 0;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		snprintf(err, errlen, "sandbox: fstat %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (required && !S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		snprintf(err, errlen, "sandbox: %s is not a folder", path);
		goto out;
	}
	memset(&pb, 0, sizeof(pb));
	pb.parent_fd = fd;
	pb.allowed_access =
	    S_ISDIR(st.st_mode) ? handled : (handled & LL_FILE_RIGHTS);
	if (syscall(__NR_landlock_add_rule, sb->ruleset,
		LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0) {
		r = -errno;
		snprintf(err, errlen, "sandbox: landlock_add_rule %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((r = add_root(sb, &st, path, true)) != 0) {
		snprintf(err, errlen, "sandbox: out of memory");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		desc_put(d, d->npaths++ == 0 ? "" : ", ");
		desc_put(d, path);
	}
out:
	close(fd);
	return r;
}

/*
 * A read-only sandbox's workspace is not writable, but it is where the
 * agent works, and a workspace-write call of the same agent (an earlier
 * MCP call, an earlier run) may have written it: a program there is the
 * agent's, never escalated (ew_escalate_check). Missing: nothing to add.
 */
static int
workspace_root(struct ew_sandbox *sb, const char *path)
{
	struct stat st;

	if (path == NULL || stat(path, &st) != 0)
		return 0;
	return add_root(sb, &st, path, false);
}

/* The Landlock ruleset: what may be written. */
static int
landlock_rules(struct ew_sandbox *sb, const struct ew_sandbox_policy *p,
    const char *cwd, char *const *env, const int std[3], struct desc *d,
    char *err, size_t errlen)
{
	struct ll_ruleset_attr attr;
	char tty[256];
	const char *tmpdir;
	uint64_t handled = LL_WRITE_ABI1;
	size_t size = sizeof(uint64_t), i;
	int abi = ew_sandbox_landlock_abi(), r;

	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	if (abi >= 4 && !p->network) {
		/* No TCP either, should a socket be handed in. */
		attr.handled_access_net =
		    EW_LL_ACCESS_NET_BIND_TCP | EW_LL_ACCESS_NET_CONNECT_TCP;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		/*
		 * Signals only within the sandbox: a confined command cannot
		 * kill the broker or the user's other programs. Abstract
		 * AF_UNIX sockets (X11, some D-Bus buses) are IPC outside
		 * the file system, cut off along with the network.
		 */
		attr.scoped = EW_LL_SCOPE_SIGNAL;
		if (!p->network)
			attr.scoped |= EW_LL_SCOPE_ABSTRACT_UNIX_SOCKET;
		size = sizeof(attr);
	}
	sb->ruleset =
	    (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (sb->ruleset < 0) {
		r = -errno;
		sb->ruleset = -1;
		snprintf(err, errlen, "sandbox: landlock_create_ruleset: %s",
		    strerror(-r));
		return r;
	}
	if (p->mode == EW_SANDBOX_READ_ONLY &&
	    (r = workspace_root(
		 sb, p->workspace != NULL ? p->workspace : cwd)) != 0) {
		snprintf(err, errlen, "sandbox: out of memory");
		return r;
	}
	if (p->mode == EW_SANDBOX_WORKSPACE_WRITE) {
		if (!p->no_workspace &&
		    (r = allow_path(sb,
			 p->workspace != NULL ? p->workspace : cwd, handled,
			 true, d, err, errlen)) != 0)
			return r;
		for (i = 0; i < p->nroots; i++)
			if ((r = allow_path(sb, p->roots[i], handled, false, d,
				 err, errlen)) != 0)
				return r;
		if (!p->no_slash_tmp &&
		    ((r = allow_path(
			  sb, "/tmp", handled, false, d, err, errlen)) != 0 ||
			(r = allow_path(sb, "/dev/shm", handled, false, d, err,
			     errlen)) != 0))
			return r;
		tmpdir = env_get(env, "TMPDIR");
		if (!p->no_tmpdir && tmpdir != NULL && tmpdir[0] == '/' &&
		    (r = allow_path(
			 sb, tmpdir, handled, false, d, err, errlen)) != 0)
			return r;
	}
	/* Both modes: the bit buckets, and the terminal the command has. */
	if ((r = allow_path(sb, "/dev/null", handled, false, d, err, errlen)) !=
		0 ||
	    (r = allow_path(sb, "/dev/zero", handled, false, d, err, errlen)) !=
		0 ||
	    (r = allow_path(sb, "/dev/tty", handled, false, d, err, errlen)) !=
		0)
		return r;
	for (i = 0; std != NULL && i < 3; i++)
		if (std[i] >= 0 && isatty(std[i]) &&
		    ttyname_r(std[i], tty, sizeof(tty)) == 0 &&
		    (r = allow_path(sb, tty, handled, false, d, err, errlen)) !=
			0)
			return r;
	return 0;
}

int
ew_sandbox_bpf(void *ctx, const char *name, struct sock_fprog *prog, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, r;

	/* libseccomp exports to an fd only: a memory file, read back. */
	if ((fd = memfd_create(name, MFD_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(
		    err, errlen, "sandbox: memfd_create: %s", strerror(errno));
		return r;
	}
	if ((r = seccomp_export_bpf(ctx, fd)) != 0 || fstat(fd, &st) != 0 ||
	    st.st_size <= 0 ||
	    st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		r = r != 0 ? r : -EINVAL;
		snprintf(err, errlen, "sandbox: seccomp_export_bpf: %s",
		    strerror(-r));
		goto out;
	}
	if ((prog->filter = malloc((size_t)st.st_size)) == NULL) {
		r = -ENOMEM;
		snprintf(err, errlen, "sandbox: out of memory");
		goto out;
	}
	n = pread(fd, prog->filter, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		r = n < 0 ? -errno : -EIO;
		snprintf(err, errlen, "sandbox: read the seccomp filter: %s",
		    strerror(-r));
		goto out;
	}
	prog->len =
	    (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	r = 0;
out:
	ew_fd_close(fd);
	return r;
}

/*
 * The seccomp filter, as BPF: no ioctl that types into the terminal, and
 * without network no sockets but AF_UNIX and no io_uring.
 */
static int
seccomp_filter(struct ew_sandbox *sb, bool network, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int r;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		snprintf(err, errlen, "sandbox: seccomp_init failed");
		return -ENOMEM;
	}
	/*
	 * TIOCSTI pushes bytes into a terminal's input queue, and TIOCLINUX
	 * (TIOCL_PASTESEL) pastes a console selection into it: either way the
	 * user's own shell, outside any sandbox, reads and runs them once the
	 * command ends. Refused as bubblewrap refuses them, with EPERM.
	 */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl),
		 1,
		 SCMP_A1(SCMP_CMP_MASKED_EQ, EW_SANDBOX_IOCTL_MASK,
		     (scmp_datum_t)TIOCSTI))) != 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl),
		 1,
		 SCMP_A1(SCMP_CMP_MASKED_EQ, EW_SANDBOX_IOCTL_MASK,
		     (scmp_datum_t)TIOCLINUX))) != 0) {
		snprintf(
		    err, errlen, "sandbox: seccomp_rule_add: %s", strerror(-r));
		goto out;
	}
	/*
	 * The whole 64-bit argument is compared: only exactly AF_UNIX
	 * passes. io_uring can create sockets (IORING_OP_SOCKET) by a path
	 * seccomp never sees, so it goes too. Other architectures' system
	 * calls (int 0x80, x32) kill the process: libseccomp's default.
	 */
	if (!network &&
	    ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		  SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX))) != 0 ||
		(r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		     SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX))) !=
		    0 ||
		(r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		     SCMP_SYS(io_uring_setup), 0)) != 0)) {
		snprintf(
		    err, errlen, "sandbox: seccomp_rule_add: %s", strerror(-r));
		goto out;
	}
	r = ew_sandbox_bpf(ctx, "execward-seccomp", &sb->prog, err, errlen);
out:
	seccomp_release(ctx);
	return r;
}

int
ew_sandbox_new(const struct ew_sandbox_policy *p, const char *cwd,
    char *const *env, const int std[3], struct ew_sandbox **out, char *err,
    size_t errlen)
{
	struct ew_sandbox *sb = NULL;
	struct desc d;
	int r;

	*out = NULL;
	memset(&d, 0, sizeof(d));
	if (p->mode == EW_SANDBOX_NONE)
		return 0;
	if ((r = ew_sandbox_check(p->mode, err, errlen)) != 0)
		return r;
	if ((sb = calloc(1, sizeof(*sb))) == NULL) {
		snprintf(err, errlen, "sandbox: out of memory");
		return -ENOMEM;
	}
	sb->mode = p->mode;
	sb->ruleset = -1;
	desc_put(&d, ew_sandbox_mode_name(p->mode));
	desc_put(&d, " (writable: ");
	if ((r = landlock_rules(sb, p, cwd, env, std, &d, err, errlen)) != 0)
		goto fail;
	if (d.npaths == 0)
		desc_put(&d, "nothing");
	if ((r = ew_sandbox_mount_new(
		 p, cwd, env_get(env, "TMPDIR"), &sb->mnt, err, errlen)) != 0)
		goto fail;
	if (sb->mnt != NULL) {
		desc_put(&d, "; read-only: ");
		desc_put(&d, sb->mnt->list);
	}
	desc_put(&d, p->network ? "; network on)" : "; no network)");
	if ((r = seccomp_filter(sb, p->network, err, errlen)) != 0)
		goto fail;
	sb->desc = d.p;
	*out = sb;
	return 0;
fail:
	free(d.p);
	ew_sandbox_free(sb);
	return r;
}

void
ew_sandbox_free(struct ew_sandbox *sb)
{
	size_t i;

	if (sb == NULL)
		return;
	ew_fd_close(sb->ruleset);
	ew_sandbox_mount_free(sb->mnt);
	free(sb->prog.filter);
	free(sb->desc);
	for (i = 0; i < sb->nroots; i++)
		free(sb->roots[i].path);
	free(sb->roots);
	free(sb);
}

const char *
ew_sandbox_root_match(
    const struct ew_sandbox *sb, const struct stat *st, bool writable_only)
{
	size_t i;

	for (i = 0; sb != NULL && i < sb->nroots; i++)
		if (sb->roots[i].dev == st->st_dev &&
		    sb->roots[i].ino == st->st_ino &&
		    (sb->roots[i].writable || !writable_only))
			return sb->roots[i].path;
	return NULL;
}

int
ew_sandbox_contains(const struct ew_sandbox *sb, const char *path,
    bool writable_only, const char **rootp)
{
	char real[PATH_MAX], *p, *next;
	const char *root;
	struct stat st;
	int dir = -1, fd, r = 0;

	*rootp = NULL;
	if (sb == NULL)
		return 0;
	if (realpath(path, real) == NULL)
		return -errno;
	/*
	 * From / down, each folder by the one before it and never through a
	 * symlink: what is compared is what the kernel walks through.
	 */
	if ((dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	for (p = real;;) {
		if (fstat(dir, &st) != 0) {
			r = -errno;
			break;
		}
		if ((root = ew_sandbox_root_match(sb, &st, writable_only)) !=
		    NULL) {
			*rootp = root;
			r = 1;
			break;
		}
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		if ((next = strchr(p, '/')) != NULL)
			*next = '\0';
		fd = openat(dir, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		close(dir);
		dir = fd;
		if (next == NULL) {
			/* The last one, file or folder, is checked too. */
			p += strlen(p);
			continue;
		}
		p = next + 1;
	}
	close(dir);
	return r;
}

int
ew_sandbox_ruleset_fd(const struct ew_sandbox *sb)
{
	return sb != NULL ? sb->ruleset : -1;
}

const void *
ew_sandbox_filter(const struct ew_sandbox *sb, size_t *lenp)
{
	*lenp = sb != NULL ? sb->prog.len * sizeof(struct sock_filter) : 0;
	return sb != NULL ? (const void *)sb->prog.filter : NULL;
}

const char *
ew_sandbox_describe(const struct ew_sandbox *sb)
{
	if (sb == NULL)
		return "none";
	return sb->desc != NULL ? sb->desc : ew_sandbox_mode_name(sb->mode);
}
