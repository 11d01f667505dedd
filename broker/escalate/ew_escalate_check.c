/*
 * What escalation may run: the broker's own resolution of the program a
 * process asks about, and the checks a program must pass before it leaves
 * the sandbox (the broker decides on what will run, never on what the
 * shim says).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_escalate.h"
#include "ew_sandbox.h"

/*
 * The kernel reads this much of a file to choose how to run it
 * (BINPRM_BUF_SIZE): the "#!" line must fit.
 */
#define EW_CHECK_HEAD_MAX 256
/* ELF program headers read at most (a real program has a dozen). */
#define EW_CHECK_PHNUM_MAX 256

/* The path of an open fd, as the broker sees it. 0 or -errno. */
static int
fd_path(int fd, char *out, size_t len)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((n = readlink(proc, out, len - 1)) < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	/* A file removed since it was opened: there is no name to check. */
	if (out[0] != '/' || strstr(out, " (deleted)") != NULL)
		return -ENOENT;
	return 0;
}

/* Is the folder fd the same as our own root (which never changes)? */
static bool
is_our_root(int fd)
{
	static struct stat root;
	static bool known;
	struct stat a;

	if (!known && stat("/", &root) == 0)
		known = true;
	return known && fstat(fd, &a) == 0 && a.st_dev == root.st_dev &&
	    a.st_ino == root.st_ino;
}

int
ew_escalate_open_in_root(int rootfd, const char *path, int oflags)
{
	/* Known missing: not asked again (valgrind, for one, lacks it). */
	static bool no_openat2;
	struct open_how how;
	long fd = -1;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)oflags;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	if (!no_openat2) {
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd < 0 && errno == ENOSYS)
			no_openat2 = true;
	}
	if (no_openat2) {
		/* Followed from our root, which only ours may be. */
		if (!is_our_root(rootfd)) {
			errno = ENOSYS;
			return -ENOSYS;
		}
		fd = open(path, oflags);
	}
	return fd < 0 ? -errno : (int)fd;
}

int
ew_escalate_resolve(
    pid_t pid, const struct ew_msg_ask *ask, struct ew_escalate_exe *out)
{
	char proc[64], joined[PATH_MAX];
	const char *path;
	struct stat st;
	int rootfd = -1, cwdfd = -1, fd = -1, r;
	bool rel, same;

	memset(out, 0, sizeof(*out));
	/*
	 * A relative path with a slash is looked up from the cwd by the
	 * kernel: take the asker's real cwd, not what it says it is. A bare
	 * name was searched for in PATH by the shim, and execveat's and
	 * fexecve's paths are relative to an fd: their absolute form is
	 * the claim, checked below like any path.
	 */
	rel = ask->file[0] != '/' && strchr(ask->file, '/') != NULL &&
	    ask->via != EW_VIA_EXECVEAT && ask->via != EW_VIA_FEXECVE;
	path = rel ? ask->file : ask->resolved;
	/* /proc/self and /proc/PID/exe would be ours, or magic. */
	if (strncmp(ask->resolved, "/proc/", 6) == 0 ||
	    strncmp(path, "/proc/", 6) == 0) {
		r = -EXDEV;
		goto out;
	}
	if (pid <= 0) {
		fd = open(path, O_PATH | O_CLOEXEC);
	} else {
		snprintf(proc, sizeof(proc), "/proc/%d/root", (int)pid);
		if ((rootfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) <
		    0) {
			r = -errno;
			goto out;
		}
		/* Only a relative path needs to know (it costs a stat). */
		same = rel && is_our_root(rootfd);
		if (rel && same) {
			snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)pid);
			if ((cwdfd = open(
				 proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
				r = -errno;
				goto out;
			}
			fd = openat(cwdfd, path, O_PATH | O_CLOEXEC);
		} else {
			/* Another root: its cwd's path is the shim's. */
			if (rel &&
			    snprintf(joined, sizeof(joined), "%s/%s", ask->cwd,
				path) >= (int)sizeof(joined)) {
				r = -ENAMETOOLONG;
				goto out;
			}
			fd = ew_escalate_open_in_root(
			    rootfd, rel ? joined : path, O_PATH | O_CLOEXEC);
			if (fd < 0) {
				r = fd;
				fd = -1;
				goto out;
			}
		}
	}
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	if ((r = fd_path(fd, out->path, sizeof(out->path))) != 0)
		goto out;
	out->dev = st.st_dev;
	out->ino = st.st_ino;
out:
	out->err = r;
	if (r != 0)
		out->path[0] = '\0';
	if (fd >= 0)
		close(fd);
	if (cwdfd >= 0)
		close(cwdfd);
	if (rootfd >= 0)
		close(rootfd);
	return r;
}

/* Owned by root or uid, and writable by nobody else (OpenSSH safe_path). */
static bool
owner_only(const struct stat *st, uid_t uid, const char *what, const char *path,
    char *why, size_t len)
{
	if (st->st_uid != 0 && st->st_uid != uid) {
		snprintf(why, len, "%s %s belongs to uid %u, not to root or %u",
		    what, path, (unsigned)st->st_uid, (unsigned)uid);
		return false;
	}
	/* The sticky bit does not stop a program planted there earlier. */
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, len, "%s %s is writable by others (mode %04o)",
		    what, path, (unsigned)(st->st_mode & 07777));
		return false;
	}
	return true;
}

/*
 * Not one of the session's roots (writable, or its workspace): st is
 * target or a folder above it.
 */
static bool
no_root(const struct ew_sandbox *sb, const struct stat *st, const char *target,
    char *why, size_t len)
{
	const char *root = ew_sandbox_root_match(sb, st, false);

	if (root == NULL)
		return true;
	snprintf(why, len, "%s lies in the sandbox's %s %s", target,
	    ew_sandbox_root_match(sb, st, true) != NULL ? "writable root"
							: "workspace",
	    root);
	return false;
}

/* The interpreter a "#!" line names, into out; false when there is none. */
static bool
shebang(const char *head, size_t n, char *out, size_t len)
{
	size_t i = 2, k = 0;

	if (n < 2 || head[0] != '#' || head[1] != '!')
		return false;
	while (i < n && (head[i] == ' ' || head[i] == '\t'))
		i++;
	while (i < n && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' &&
	    head[i] != '\0' && k + 1 < len)
		out[k++] = head[i++];
	out[k] = '\0';
	return true;
}

/*
 * An ELF file's PT_INTERP (its dynamic loader) into out: 1 found, 0 none
 * (static), -errno or -ENOEXEC for a file too odd to say.
 */
static int
elf_interp(int fd, const unsigned char *head, size_t n, char *out, size_t len)
{
	Elf64_Ehdr e;
	Elf64_Phdr ph;
	Elf32_Ehdr e32;
	Elf32_Phdr ph32;
	uint64_t off, phoff, ioff, isize;
	unsigned i, phnum, phsize;
	bool is64;

	if (n < EI_NIDENT || memcmp(head, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	is64 = head[EI_CLASS] == ELFCLASS64;
	if (is64 ? n < sizeof(e) : n < sizeof(e32))
		return -ENOEXEC;
	if (is64) {
		memcpy(&e, head, sizeof(e));
		phoff = e.e_phoff;
		phnum = e.e_phnum;
		phsize = e.e_phentsize;
	} else {
		memcpy(&e32, head, sizeof(e32));
		phoff = e32.e_phoff;
		phnum = e32.e_phnum;
		phsize = e32.e_phentsize;
	}
	if (phnum > EW_CHECK_PHNUM_MAX ||
	    phsize < (is64 ? sizeof(ph) : sizeof(ph32)))
		return -ENOEXEC;
	for (i = 0; i < phnum; i++) {
		off = phoff + (uint64_t)i * phsize;
		if (is64) {
			if (pread(fd, &ph, sizeof(ph), (off_t)off) !=
			    (ssize_t)sizeof(ph))
				return -ENOEXEC;
			if (ph.p_type != PT_INTERP)
				continue;
			ioff = ph.p_offset;
			isize = ph.p_filesz;
		} else {
			if (pread(fd, &ph32, sizeof(ph32), (off_t)off) !=
			    (ssize_t)sizeof(ph32))
				return -ENOEXEC;
			if (ph32.p_type != PT_INTERP)
				continue;
			ioff = ph32.p_offset;
			isize = ph32.p_filesz;
		}
		if (isize < 2 || isize > len)
			return -ENOEXEC;
		if (pread(fd, out, (size_t)isize, (off_t)ioff) !=
		    (ssize_t)isize)
			return -ENOEXEC;
		out[isize - 1] = '\0';
		return 1;
	}
	return 0;
}

static int check(const struct ew_sandbox *sb, uid_t uid, const char *path,
    dev_t dev, ino_t ino, unsigned depth, bool sh_fallback, int *fdp, char *why,
    size_t len);

/* Check the interpreter named at path (absolute; symlinks followed). */
static int
check_interp(const struct ew_sandbox *sb, uid_t uid, const char *of,
    const char *path, unsigned depth, char *why, size_t len)
{
	char real[PATH_MAX], sub[EW_PROTO_REASON_MAX];
	struct stat st;
	int fd, r;

	if (path[0] != '/') {
		snprintf(why, len,
		    "%s names an interpreter by a relative path (%.200s)", of,
		    path);
		return -EPERM;
	}
	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
	    (r = fd_path(fd, real, sizeof(real))) != 0) {
		r = -errno;
		snprintf(why, len, "the interpreter %.200s of %s: %s", path, of,
		    strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	r = check(sb, uid, real, st.st_dev, st.st_ino, depth + 1, false, NULL,
	    sub, sizeof(sub));
	if (r != 0)
		snprintf(why, len, "the interpreter of %s: %s", of, sub);
	return r;
}

/*
 * Open the folders of buf (absolute, symlinks resolved) from / down, never
 * through a symlink, checking each (no_root about path, owner_only about
 * buf's prefix so far): all of them, or (!all) all but the last part.
 * The last folder opened (O_PATH) in *dirp, and where buf's next part
 * starts in *restp. Opening fails as "NAME WHAT: error". 0 or -errno with
 * why; then *dirp is -1.
 */
static int
open_folders(const struct ew_sandbox *sb, uid_t uid, char *buf,
    const char *path, bool all, const char *name, const char *what, int *dirp,
    char **restp, char *why, size_t len)
{
	struct stat st;
	char *p, *next = NULL;
	int dir, fd, r = 0;

	if ((dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(dir, &st) != 0) {
		r = -errno;
		snprintf(why, len, "stat /: %s", strerror(-r));
		goto out;
	}
	if (!no_root(sb, &st, path, why, len) ||
	    !owner_only(&st, uid, "the folder", "/", why, len)) {
		r = -EPERM;
		goto out;
	}
	for (p = buf + 1; *p != '\0'; p = next + 1) {
		if ((next = strchr(p, '/')) == NULL && !all)
			break;
		/* buf ends at this folder while it is checked. */
		if (next != NULL)
			*next = '\0';
		fd = openat(
		    dir, p, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			r = -errno;
			snprintf(
			    why, len, "%s%s: %s", name, what, strerror(-r));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(dir);
		dir = fd;
		if (!no_root(sb, &st, path, why, len) ||
		    !owner_only(&st, uid, "the folder", buf, why, len)) {
			r = -EPERM;
			goto out;
		}
		if (next == NULL) {
			p += strlen(p);
			break;
		}
		*next = '/';
	}
	*restp = p;
out:
	if (r != 0 && dir >= 0) {
		close(dir);
		dir = -1;
	}
	*dirp = dir;
	return r;
}

/*
 * Open each folder of path from / down, never through a symlink, checking
 * each; then its last part, which must be the regular file dev/ino. The
 * file, opened for reading, in *fdp. 0 or -errno with why.
 */
static int
walk(const struct ew_sandbox *sb, uid_t uid, const char *path, dev_t dev,
    ino_t ino, int *fdp, char *why, size_t len)
{
	char buf[PATH_MAX], *p;
	struct stat st;
	int dir = -1, fd, r = 0;

	*fdp = -1;
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	if ((r = open_folders(sb, uid, buf, path, false, path,
		 " changed since it was resolved", &dir, &p, why, len)) != 0)
		goto out;
	/*
	 * The file itself, opened for reading but never through a symlink
	 * and never blocking (a FIFO put there would): the fd is what runs.
	 */
	fd = openat(
	    dir, p, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		r = -errno;
		snprintf(why, len, "%s changed since it was resolved: %s", path,
		    strerror(-r));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	*fdp = fd;
	if (!S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino) {
		snprintf(why, len, "%s is no longer the file that was resolved",
		    path);
		r = -ESTALE;
	} else if (!no_root(sb, &st, path, why, len) ||
	    !owner_only(&st, uid, "the program", path, why, len)) {
		r = -EPERM;
	} else if (st.st_nlink > 1 && st.st_uid != 0) {
		/*
		 * Another name for it may lie in a writable root, through
		 * which the sandbox could rewrite it.
		 */
		snprintf(why, len,
		    "the program %s has %lu hard links and does not belong "
		    "to root",
		    path, (unsigned long)st.st_nlink);
		r = -EPERM;
	} else if ((st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0) {
		snprintf(why, len, "the program %s is not executable", path);
		r = -EACCES;
	}
out:
	if (r != 0 && *fdp >= 0) {
		close(*fdp);
		*fdp = -1;
	}
	if (dir >= 0)
		close(dir);
	return r;
}

static int
check(const struct ew_sandbox *sb, uid_t uid, const char *path, dev_t dev,
    ino_t ino, unsigned depth, bool sh_fallback, int *fdp, char *why,
    size_t len)
{
	unsigned char head[EW_CHECK_HEAD_MAX];
	char interp[PATH_MAX];
	ssize_t n;
	int fd = -1, r;

	if (fdp != NULL)
		*fdp = -1;
	if (depth > EW_ESCALATE_INTERP_DEPTH_MAX) {
		snprintf(why, len, "%s: too many interpreters deep", path);
		return -ELOOP;
	}
	if (path[0] != '/') {
		snprintf(why, len, "%s is not an absolute path", path);
		return -EINVAL;
	}
	if ((r = walk(sb, uid, path, dev, ino, &fd, why, len)) != 0)
		return r;
	if ((n = pread(fd, head, sizeof(head), 0)) < 0) {
		r = -errno;
		snprintf(why, len, "read %s: %s", path, strerror(-r));
		goto out;
	}
	/*
	 * What the kernel starts besides the file is checked the same way:
	 * an ELF program's loader, a script's interpreter (the kernel finds
	 * them by path at exec time: they must be as safe as the file).
	 */
	if ((r = elf_interp(fd, head, (size_t)n, interp, sizeof(interp))) >=
	    0) {
		if (r == 1 &&
		    (r = check_interp(
			 sb, uid, path, interp, depth, why, len)) != 0)
			goto out;
		r = 0;
		if (fdp != NULL) {
			*fdp = fd;
			fd = -1;
		}
		goto out;
	}
	r = 0;
	if (shebang((const char *)head, (size_t)n, interp, sizeof(interp)))
		r = check_interp(sb, uid, path, interp, depth, why, len);
	else if (sh_fallback)
		r = check_interp(sb, uid, path, "/bin/sh", depth, why, len);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int
ew_escalate_check_tool(const struct ew_sandbox *sb, uid_t uid, const char *path,
    char *why, size_t len)
{
	struct ew_escalate_exe exe;
	struct stat st;
	int fd, r;

	memset(&exe, 0, sizeof(exe));
	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
	    (r = fd_path(fd, exe.path, sizeof(exe.path))) != 0) {
		r = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	exe.dev = st.st_dev;
	exe.ino = st.st_ino;
	if ((r = ew_escalate_check_path(sb, uid, path, why, len)) != 0)
		return r;
	return check(
	    sb, uid, exe.path, exe.dev, exe.ino, 0, false, NULL, why, len);
}

int
ew_escalate_check(const struct ew_sandbox *sb, uid_t uid,
    const struct ew_escalate_exe *exe, bool sh_fallback, int *fdp, char *why,
    size_t len)
{
	if (fdp != NULL)
		*fdp = -1;
	if (exe->err != 0 || exe->path[0] == '\0') {
		snprintf(why, len, "the program could not be resolved: %s",
		    exe->err == -EXDEV
			? "a path under /proc"
			: strerror(exe->err < 0 ? -exe->err : ENOENT));
		return exe->err != 0 ? exe->err : -ENOENT;
	}
	return check(sb, uid, exe->path, exe->dev, exe->ino, 0, sh_fallback,
	    fdp, why, len);
}

int
ew_escalate_check_folder(const struct ew_sandbox *sb, uid_t uid,
    const char *path, char *why, size_t len)
{
	char real[PATH_MAX], *rest;
	int dir = -1, r;

	if (realpath(path, real) == NULL) {
		r = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-r));
		return r;
	}
	r = open_folders(
	    sb, uid, real, path, true, real, "", &dir, &rest, why, len);
	if (dir >= 0)
		close(dir);
	return r;
}

int
ew_escalate_check_path(const struct ew_sandbox *sb, uid_t uid, const char *path,
    char *why, size_t len)
{
	char rest[2 * PATH_MAX], next[2 * PATH_MAX], link[PATH_MAX];
	char name[NAME_MAX + 1];
	struct stat st;
	const char *p;
	size_t n;
	ssize_t k;
	int dir = -1, fd = -1, links = 0, r = 0;

	if (path[0] != '/' ||
	    snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest)) {
		snprintf(why, len, "%s is not an absolute path", path);
		return -EINVAL;
	}
	/*
	 * The walk the kernel makes, by hand: every folder a name is looked
	 * up in, through every symlink, must be one no sandboxed command and
	 * no other user can change, or the name could be made to lead
	 * elsewhere between this check and the exec.
	 */
	for (p = rest;;) {
		if (*p == '/') {
			if (dir >= 0)
				close(dir);
			if ((dir = open(
				 "/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
				r = -errno;
				goto out;
			}
			while (*p == '/')
				p++;
		}
		if (fstat(dir, &st) != 0) {
			r = -errno;
			goto out;
		}
		if (!no_root(sb, &st, path, why, len) ||
		    !owner_only(
			&st, uid, "a folder on the way to", path, why, len)) {
			r = -EPERM;
			goto out;
		}
		n = strcspn(p, "/");
		if (n == 0 || n > NAME_MAX) {
			snprintf(why, len, "%s does not name a file", path);
			r = -EINVAL;
			goto out;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		while (*p == '/')
			p++;
		fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			r = -errno;
			snprintf(why, len, "%s: %s", path, strerror(-r));
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			if (++links > EW_ESCALATE_LINKS_MAX ||
			    (k = readlinkat(fd, "", link, sizeof(link) - 1)) <=
				0) {
				r = links > EW_ESCALATE_LINKS_MAX ? -ELOOP
								  : -errno;
				snprintf(
				    why, len, "%s: %s", path, strerror(-r));
				goto out;
			}
			link[k] = '\0';
			/* The rest of the walk goes on from the link's target.
			 */
			if (snprintf(next, sizeof(next), "%s%s%s", link,
				*p != '\0' ? "/" : "",
				p) >= (int)sizeof(next)) {
				r = -ENAMETOOLONG;
				snprintf(
				    why, len, "%s: %s", path, strerror(-r));
				goto out;
			}
			memcpy(rest, next, sizeof(rest));
			p = rest;
			close(fd);
			fd = -1;
			continue;
		}
		if (*p == '\0')
			break; /* the file itself: ew_escalate_check's */
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, len, "%s: %s", path, strerror(ENOTDIR));
			r = -ENOTDIR;
			goto out;
		}
		close(dir);
		dir = fd;
		fd = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	if (dir >= 0)
		close(dir);
	return r;
}
