/*
 * Read-only carve-outs inside the sandbox's writable set: the policy's
 * list, and the plan the child carries out (ew_sandbox_mount_child.c):
 * which paths, resolved here, which ancestors to pin, the user namespace's
 * maps, the seccomp filter that refuses setns(2), and the pipe on which
 * the child says what the kernel refused it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>

#include "ew_fd.h"
#include "ew_sandbox.h"
#include "ew_sandbox_int.h"
#include "ew_sandbox_mount.h"

/* The writable folders a carve-out may lie in, resolved. */
#define EW_SANDBOX_WRITABLE_MAX (EW_SANDBOX_ROOTS_MAX + 4)
/* Bytes of a .git pointer file read ("gitdir: PATH"). */
#define EW_SANDBOX_GITFILE_MAX (PATH_MAX + 16)
/* Bytes of the text ew_sandbox_unprotected gives. */
#define EW_SANDBOX_UNPROTECTED_MAX 2048

int
ew_sandbox_policy_add_readonly(
    struct ew_sandbox_policy *p, const char *path, bool skip_missing)
{
	struct ew_sandbox_readonly *ro;
	char *copy;

	if (path == NULL || path[0] != '/')
		return -EINVAL;
	if (p->nreadonly >= EW_SANDBOX_READONLY_MAX)
		return -E2BIG;
	if ((copy = strdup(path)) == NULL)
		return -ENOMEM;
	ro = realloc(p->readonly, (p->nreadonly + 1) * sizeof(*ro));
	if (ro == NULL) {
		free(copy);
		return -ENOMEM;
	}
	ro[p->nreadonly].path = copy;
	ro[p->nreadonly].skip_missing = skip_missing;
	p->nreadonly++;
	p->readonly = ro;
	return 0;
}

int
ew_sandbox_mount_policy_copy(
    struct ew_sandbox_policy *dst, const struct ew_sandbox_policy *src)
{
	size_t i;
	int r;

	for (i = 0; i < src->nreadonly; i++)
		if ((r = ew_sandbox_policy_add_readonly(dst,
			 src->readonly[i].path,
			 src->readonly[i].skip_missing)) != 0)
			return r;
	return 0;
}

void
ew_sandbox_mount_policy_fini(struct ew_sandbox_policy *p)
{
	size_t i;

	for (i = 0; i < p->nreadonly; i++)
		free(p->readonly[i].path);
	free(p->readonly);
	p->readonly = NULL;
	p->nreadonly = 0;
}

/* Is path inside dir (or dir itself)? Both resolved, dir not "/"-ended. */
static bool
path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

struct plan {
	char *writable[EW_SANDBOX_WRITABLE_MAX];
	size_t nw;
	struct ew_sandbox_mount *m;
};

/* Add a writable folder, resolved; one that does not exist is no root. */
static void
add_writable(struct plan *pl, const char *path)
{
	char *real;

	if (path == NULL || path[0] != '/' || pl->nw >= EW_SANDBOX_WRITABLE_MAX)
		return;
	if ((real = realpath(path, NULL)) != NULL)
		pl->writable[pl->nw++] = real;
}

static bool
in_writable(const struct plan *pl, const char *path)
{
	size_t i;

	for (i = 0; i < pl->nw; i++)
		if (path_within(path, pl->writable[i]))
			return true;
	return false;
}

/* Add a mount to the plan (path copied) unless it is there already. */
static int
add_ent(struct plan *pl, const char *path, bool readonly, bool skip)
{
	struct ew_sandbox_mount *m = pl->m;
	struct ew_sandbox_mount_ent *e;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->ents[i].path, path) == 0) {
			/* A carve-out that is also a pin is read-only. */
			m->ents[i].readonly |= readonly;
			m->ents[i].skip_missing &= skip;
			return 0;
		}
	if (m->n >= EW_SANDBOX_MOUNT_MAX)
		return -E2BIG;
	if ((e = realloc(m->ents, (m->n + 1) * sizeof(*e))) == NULL)
		return -ENOMEM;
	m->ents = e;
	e = &m->ents[m->n];
	if ((e->path = strdup(path)) == NULL)
		return -ENOMEM;
	e->readonly = readonly;
	e->skip_missing = skip;
	m->n++;
	return 0;
}

/* dir := the folder of dir ("/" stays "/"). */
static void
up(char *dir)
{
	char *slash = strrchr(dir, '/');

	if (slash == NULL || slash == dir)
		snprintf(dir, 2, "/");
	else
		*slash = '\0';
}

/*
 * Pin every ancestor of path that a confined command could rename: those
 * whose parent lies in the writable set.
 */
static int
add_pins(struct plan *pl, const char *path)
{
	char a[PATH_MAX], parent[PATH_MAX];
	int r;

	snprintf(a, sizeof(a), "%s", path);
	for (up(a); strcmp(a, "/") != 0; snprintf(a, sizeof(a), "%s", parent)) {
		snprintf(parent, sizeof(parent), "%s", a);
		up(parent);
		if (in_writable(pl, parent) &&
		    (r = add_ent(pl, a, false, false)) != 0)
			return r;
	}
	return 0;
}

/*
 * path with its folder resolved (its last part kept as it is, so that a
 * symbolic link there is refused by the child, not followed here) into
 * out. 0, -ENOENT when the folder does not exist, -EINVAL otherwise.
 */
static int
resolve_parent(const char *path, char *out, size_t outlen)
{
	char dir[PATH_MAX], *real, *slash;
	const char *base;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	while ((slash = strrchr(dir, '/')) != NULL && slash[1] == '\0' &&
	    slash != dir)
		*slash = '\0'; /* trailing slashes */
	if ((slash = strrchr(dir, '/')) == NULL)
		return -EINVAL;
	base = path + (slash - dir) + 1;
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || *base == '\0')
		return -EINVAL;
	if (slash == dir)
		snprintf(dir, sizeof(dir), "/");
	else
		*slash = '\0';
	if ((real = realpath(dir, NULL)) == NULL)
		return -errno;
	snprintf(out, outlen, "%s%s%.*s", real, strcmp(real, "/") ? "/" : "",
	    (int)strcspn(base, "/"), base);
	free(real);
	return 0;
}

/*
 * A worktree's or submodule's .git is a file naming the real git folder
 * ("gitdir: PATH", relative to the file's folder): that folder is
 * protected too, as Codex does. Its resolved path into out, or -errno.
 */
static int
gitdir_of(const char *dotgit, char *out, size_t outlen)
{
	char text[EW_SANDBOX_GITFILE_MAX + 1], full[PATH_MAX * 2], *p, *e,
	    *real;
	ssize_t n;
	int fd;

	if ((fd = open(dotgit, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -errno;
	n = read(fd, text, EW_SANDBOX_GITFILE_MAX);
	close(fd);
	if (n < 0)
		return -EIO;
	text[n] = '\0';
	if (strncmp(text, "gitdir:", 7) != 0)
		return -EINVAL;
	for (p = text + 7; *p == ' ' || *p == '\t'; p++)
		;
	for (e = p + strcspn(p, "\r\n"); e > p && (e[-1] == ' '); e--)
		;
	*e = '\0';
	if (*p == '\0')
		return -EINVAL;
	if (*p == '/')
		snprintf(full, sizeof(full), "%s", p);
	else
		snprintf(full, sizeof(full), "%.*s/%s",
		    (int)(strrchr(dotgit, '/') - dotgit), dotgit, p);
	if ((real = realpath(full, NULL)) == NULL)
		return -errno;
	snprintf(out, outlen, "%s", real);
	free(real);
	return 0;
}

/* One carve-out into the plan: itself, its pins, a worktree's gitdir. */
static int
plan_readonly(struct plan *pl, const struct ew_sandbox_readonly *ro, char *err,
    size_t errlen)
{
	char path[PATH_MAX], gitdir[PATH_MAX];
	struct stat st;
	const char *base;
	int r;

	if ((r = resolve_parent(ro->path, path, sizeof(path))) != 0) {
		/* Nowhere near anything writable: read-only already. */
		if ((r == -ENOENT && ro->skip_missing) ||
		    !in_writable(pl, ro->path))
			return 0;
		snprintf(err, errlen,
		    "sandbox: cannot keep %s read-only: %s (the folder it "
		    "is in cannot be resolved)",
		    ro->path, strerror(-r));
		return r;
	}
	/* Outside everything writable: read-only already. */
	if (!in_writable(pl, path))
		return 0;
	if (lstat(path, &st) != 0) {
		r = -errno;
		if (r == -ENOENT && ro->skip_missing)
			return 0;
		snprintf(err, errlen, "sandbox: cannot keep %s read-only: %s",
		    ro->path, strerror(-r));
		return r;
	}
	if (S_ISLNK(st.st_mode)) {
		/* In a writable folder, a link can be pointed elsewhere. */
		snprintf(err, errlen,
		    "sandbox: cannot keep %s read-only: it is a symbolic "
		    "link in a writable folder, which the command could "
		    "point elsewhere (replace it with what it points to)",
		    ro->path);
		return -ELOOP;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
		    "sandbox: cannot keep %s read-only: not a folder or a "
		    "regular file",
		    ro->path);
		return -EINVAL;
	}
	if ((r = add_pins(pl, path)) != 0 ||
	    (r = add_ent(pl, path, true, ro->skip_missing)) != 0)
		goto toomany;
	base = strrchr(path, '/') + 1;
	if (S_ISREG(st.st_mode) && strcmp(base, ".git") == 0 &&
	    gitdir_of(path, gitdir, sizeof(gitdir)) == 0 &&
	    in_writable(pl, gitdir) &&
	    ((r = add_pins(pl, gitdir)) != 0 ||
		(r = add_ent(pl, gitdir, true, false)) != 0))
		goto toomany;
	return 0;
toomany:
	snprintf(err, errlen, "sandbox: read-only paths: %s", strerror(-r));
	return r;
}

/* Outermost first, so that a pin never covers a carve-out below it. */
static int
by_depth(const void *a, const void *b)
{
	const struct ew_sandbox_mount_ent *x = a, *y = b;
	size_t i, dx = 0, dy = 0;

	for (i = 0; x->path[i] != '\0'; i++)
		dx += x->path[i] == '/';
	for (i = 0; y->path[i] != '\0'; i++)
		dy += y->path[i] == '/';
	if (dx != dy)
		return dx < dy ? -1 : 1;
	return strcmp(x->path, y->path);
}

/*
 * The filter that refuses setns(2): root, whose mount namespace this is,
 * could otherwise join its parent's (say PID 1's) and find the carve-outs
 * writable there.
 */
static int
setns_filter(struct ew_sandbox_mount *m, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int r;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		snprintf(err, errlen, "sandbox: seccomp_init failed");
		return -ENOMEM;
	}
	if ((r = seccomp_rule_add(
		 ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 0)) != 0) {
		snprintf(
		    err, errlen, "sandbox: seccomp_rule_add: %s", strerror(-r));
		goto out;
	}
	r = ew_sandbox_bpf(ctx, "execward-setns", &m->prog, err, errlen);
out:
	seccomp_release(ctx);
	return r;
}

int
ew_sandbox_mount_new(const struct ew_sandbox_policy *p, const char *cwd,
    const char *tmpdir, struct ew_sandbox_mount **out, char *err, size_t errlen)
{
	struct plan pl;
	struct ew_sandbox_mount *m = NULL;
	size_t i, len = 0;
	int fds[2], r = -ENOMEM;

	*out = NULL;
	memset(&pl, 0, sizeof(pl));
	if (p->nreadonly == 0 || p->mode != EW_SANDBOX_WORKSPACE_WRITE)
		return 0;
	if (!p->no_workspace)
		add_writable(&pl, p->workspace != NULL ? p->workspace : cwd);
	for (i = 0; i < p->nroots; i++)
		add_writable(&pl, p->roots[i]);
	if (!p->no_slash_tmp) {
		add_writable(&pl, "/tmp");
		add_writable(&pl, "/dev/shm");
	}
	if (!p->no_tmpdir)
		add_writable(&pl, tmpdir);
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "sandbox: out of memory");
		goto fail;
	}
	m->note_rd = m->note_wr = -1;
	pl.m = m;
	for (i = 0; i < p->nreadonly; i++)
		if ((r = plan_readonly(&pl, &p->readonly[i], err, errlen)) != 0)
			goto fail;
	if (m->n == 0) {
		r = 0;
		goto fail; /* nothing to mount */
	}
	for (i = 0; i < m->n; i++)
		len += m->ents[i].readonly ? strlen(m->ents[i].path) + 2 : 0;
	if ((m->list = calloc(1, len + 1)) == NULL) {
		r = -ENOMEM;
		snprintf(err, errlen, "sandbox: out of memory");
		goto fail;
	}
	for (i = 0; i < m->n; i++)
		if (m->ents[i].readonly) {
			if (m->list[0] != '\0')
				strcat(m->list, ", ");
			strcat(m->list, m->ents[i].path);
		}
	/* The list in the policy's order, the mounts outermost first. */
	qsort(m->ents, m->n, sizeof(*m->ents), by_depth);
	/*
	 * Not root: a user namespace grants the mount rights, with our own
	 * uid and gid mapped to themselves (files keep their owners). Root
	 * unshares the mount namespace alone, or, where even root may not
	 * (a container without CAP_SYS_ADMIN), maps 0 to itself.
	 */
	m->userns = geteuid() != 0;
	snprintf(m->uid_map, sizeof(m->uid_map), "%u %u 1\n",
	    (unsigned)geteuid(), (unsigned)geteuid());
	snprintf(m->gid_map, sizeof(m->gid_map), "%u %u 1\n",
	    (unsigned)getegid(), (unsigned)getegid());
	snprintf(m->root_uid_map, sizeof(m->root_uid_map), "0 0 1\n");
	snprintf(m->root_gid_map, sizeof(m->root_gid_map), "%u %u 1\n",
	    (unsigned)getegid(), (unsigned)getegid());
	if ((r = setns_filter(m, err, errlen)) != 0)
		goto fail;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		r = -errno;
		snprintf(err, errlen, "sandbox: pipe2: %s", strerror(errno));
		goto fail;
	}
	m->note_rd = fds[0];
	m->note_wr = fds[1];
	for (i = 0; i < pl.nw; i++)
		free(pl.writable[i]);
	*out = m;
	return 0;
fail:
	for (i = 0; i < pl.nw; i++)
		free(pl.writable[i]);
	ew_sandbox_mount_free(m);
	return r;
}

void
ew_sandbox_mount_free(struct ew_sandbox_mount *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->ents[i].path);
	free(m->ents);
	free(m->prog.filter);
	ew_fd_close(m->note_rd);
	ew_fd_close(m->note_wr);
	free(m->list);
	free(m->unprotected);
	free(m);
}

static const char *
step_name(int step)
{
	switch (step) {
	case EW_SANDBOX_MOUNT_UNSHARE:
		return "unshare (a mount namespace)";
	case EW_SANDBOX_MOUNT_MAPS:
		return "the user namespace's uid_map";
	case EW_SANDBOX_MOUNT_PRIVATE:
		return "mount --make-rprivate /";
	case EW_SANDBOX_MOUNT_BIND:
		return "a read-only bind mount";
	default:
		return "the setns filter";
	}
}

const char *
ew_sandbox_mount_unprotected(struct ew_sandbox_mount *m)
{
	struct ew_sandbox_mount_note note;
	char text[EW_SANDBOX_UNPROTECTED_MAX];
	ssize_t n;

	if (m == NULL)
		return NULL;
	if (m->read)
		return m->unprotected;
	m->read = true;
	/* The child wrote before it exec'd: the note is there or never. */
	n = read(m->note_rd, &note, sizeof(note));
	if (n != (ssize_t)sizeof(note))
		return NULL;
	snprintf(text, sizeof(text), "%s%s%s: %s", step_name(note.step),
	    note.index >= 0 && (size_t)note.index < m->n ? " of " : "",
	    note.index >= 0 && (size_t)note.index < m->n
		? m->ents[note.index].path
		: "",
	    strerror(note.err));
	m->unprotected = strdup(text);
	return m->unprotected;
}

const char *
ew_sandbox_unprotected(struct ew_sandbox *sb)
{
	return sb != NULL ? ew_sandbox_mount_unprotected(sb->mnt) : NULL;
}

const char *
ew_sandbox_mount_list(const struct ew_sandbox *sb)
{
	return sb != NULL && sb->mnt != NULL ? sb->mnt->list : "";
}
