/*
 * A trapped call as the kernel will see it: its path and argv, read from
 * the caller's memory, and its program, found from the caller's root,
 * working directory or execveat's dirfd.
 *
 * Everything read here is read while the caller waits in the kernel; the
 * caller (ew_backstop_handle) then checks that its call is still
 * waiting, so that nothing here came from a recycled pid. What another
 * thread of the caller writes in the meantime is the race that
 * seccomp_unotify(2) describes (ew_backstop.h, "What it promises").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/audit.h>

#include "ew_backstop_int.h"

/* Memory is read a page at a time at most: a page is mapped or not. */
#define EW_BACKSTOP_PAGE 4096u
/* Pointers of argv read per call (a page of them). */
#define EW_BACKSTOP_PTRS (EW_BACKSTOP_PAGE / sizeof(uint32_t))
/* /proc/PID/status is read whole up to this. */
#define EW_BACKSTOP_STATUS_MAX 8192
/* The bytes that tell a format the kernel runs (ELF, "#!"). */
#define EW_BACKSTOP_MAGIC 4
#define EW_BACKSTOP_X32_BIT 0x40000000u

/* len bytes at addr in pid (within one page). 0, -EFAULT or -errno. */
static int
read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n;

	if (len == 0)
		return 0;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0 || errno == EFAULT)
		return -EFAULT;
	/* ESRCH, EPERM: we cannot read this task, so we cannot decide. */
	return -EACCES;
}

/*
 * The string at addr into buf[0..cap), NUL included, page by page: 0 with
 * its length in *lenp, -E2BIG when it does not end within cap, or as
 * read_mem.
 */
static int
read_str(pid_t pid, uint64_t addr, char *buf, size_t cap, size_t *lenp)
{
	size_t n = 0, chunk;
	char *nul;
	int r;

	while (n < cap) {
		chunk =
		    EW_BACKSTOP_PAGE - (size_t)((addr + n) % EW_BACKSTOP_PAGE);
		if (chunk > cap - n)
			chunk = cap - n;
		if ((r = read_mem(pid, addr + n, buf + n, chunk)) != 0)
			return r;
		if ((nul = memchr(buf + n, '\0', chunk)) != NULL) {
			*lenp = (size_t)(nul - buf);
			return 0;
		}
		n += chunk;
	}
	return -E2BIG;
}

/* A growing block of NUL-terminated strings. */
struct strs {
	char *data;
	size_t len, cap;
};

static int
strs_put(struct strs *s, const char *p, size_t n)
{
	size_t cap;
	char *d;

	if (s->len + n + 1 > s->cap) {
		cap = s->cap != 0 ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		if ((d = realloc(s->data, cap)) == NULL)
			return -ENOMEM;
		s->data = d;
		s->cap = cap;
	}
	memcpy(s->data + s->len, p, n);
	s->data[s->len + n] = '\0';
	s->len += n + 1;
	return 0;
}

/*
 * argv at addr (pointers of psize bytes) into t->argv: one allocation, the
 * pointers then the strings. The kernel's and the protocol's caps hold:
 * E2BIG past them (the kernel refuses such a call too).
 */
static int
read_argv(pid_t pid, uint64_t addr, size_t psize, struct ew_backstop_trap *t)
{
	unsigned char raw[EW_BACKSTOP_PAGE];
	struct strs s = { NULL, 0, 0 };
	uint64_t *ptrs = NULL, *np, p;
	size_t argc = 0, cap = 0, i, k, chunk, len;
	char *buf = NULL, **argv, *w;
	bool end = addr == 0; /* a NULL argv is an empty one */
	int r = 0;

	while (!end) {
		chunk = (EW_BACKSTOP_PAGE - (size_t)(addr % EW_BACKSTOP_PAGE)) /
		    psize;
		if (chunk == 0)
			chunk = 1;
		if ((r = read_mem(pid, addr, raw, chunk * psize)) != 0)
			goto out;
		for (k = 0; k < chunk && !end; k++) {
			if (psize == 4) {
				uint32_t v;

				memcpy(&v, raw + k * 4, 4);
				p = v;
			} else
				memcpy(&p, raw + k * 8, 8);
			if (p == 0) {
				end = true;
				break;
			}
			if (argc >= EW_PROTO_ARGC_MAX) {
				r = -E2BIG;
				goto out;
			}
			if (argc == cap) {
				cap = cap != 0 ? cap * 2 : 64;
				if ((np = realloc(ptrs, cap * sizeof(*ptrs))) ==
				    NULL) {
					r = -ENOMEM;
					goto out;
				}
				ptrs = np;
			}
			ptrs[argc++] = p;
		}
		addr += chunk * psize;
	}
	if (argc > 0 && (buf = malloc(EW_PROTO_STRING_MAX)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < argc; i++) {
		if ((r = read_str(
			 pid, ptrs[i], buf, EW_PROTO_STRING_MAX, &len)) != 0 ||
		    (s.len + len > EW_PROTO_ARG_BYTES_MAX && (r = -E2BIG)) ||
		    (r = strs_put(&s, buf, len)) != 0)
			goto out;
	}
	if ((argv = malloc((argc + 1) * sizeof(char *) + s.len)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	w = (char *)(argv + argc + 1);
	if (s.len > 0)
		memcpy(w, s.data, s.len);
	for (i = 0; i < argc; i++) {
		argv[i] = w;
		w += strlen(w) + 1;
	}
	argv[argc] = NULL;
	t->argv = argv;
	t->argc = argc;
out:
	free(ptrs);
	free(buf);
	free(s.data);
	return r;
}

int
ew_backstop_read(const struct seccomp_notif *n, struct ew_backstop_trap *t)
{
	const struct seccomp_data *d = &n->data;
	uint32_t nr = (uint32_t)d->nr;
	size_t psize = 8, len;
	uint64_t path, argv;
	int r;

	/* Which call, and how wide its pointers are. */
	if (d->arch == AUDIT_ARCH_X86_64 && !(nr & EW_BACKSTOP_X32_BIT))
		t->at = nr == 322;
	else if (d->arch == AUDIT_ARCH_X86_64) {
		psize = 4;
		t->at = nr == (EW_BACKSTOP_X32_BIT | 545u);
	} else if (d->arch == AUDIT_ARCH_I386) {
		psize = 4;
		t->at = nr == 358;
	} else
		return -ENOSYS;
	if (t->at) {
		t->dirfd = (int)(uint32_t)d->args[0];
		path = d->args[1];
		argv = d->args[2];
		t->flags = (int)(uint32_t)d->args[4];
	} else {
		t->dirfd = AT_FDCWD;
		path = d->args[0];
		argv = d->args[1];
	}
	if (psize == 4) {
		path &= 0xffffffffu;
		argv &= 0xffffffffu;
	}
	if ((r = read_str(n->pid, path, t->path, sizeof(t->path), &len)) != 0)
		return r == -E2BIG ? -ENAMETOOLONG : r;
	return read_argv(n->pid, argv, psize, t);
}

void
ew_backstop_trap_fini(struct ew_backstop_trap *t)
{
	free(t->argv);
	t->argv = NULL;
	t->argc = 0;
}

/* ---- where the caller is ------------------------------------------------ */

/* Tgid, PPid and the real uid from /proc/TID/status. */
static int
read_status(struct ew_backstop_trap *t)
{
	char path[64], buf[EW_BACKSTOP_STATUS_MAX], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)t->tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	t->tgid = t->tid;
	if ((p = strstr(buf, "\nTgid:")) != NULL)
		t->tgid = (pid_t)strtol(p + 6, NULL, 10);
	if ((p = strstr(buf, "\nPPid:")) != NULL)
		t->ppid = (pid_t)strtol(p + 6, NULL, 10);
	if ((p = strstr(buf, "\nUid:")) != NULL)
		t->uid = (uid_t)strtoul(p + 5, NULL, 10);
	return 0;
}

/* readlink into out (NUL-terminated); -errno, or -ENAMETOOLONG. */
static int
link_text(const char *path, char *out, size_t len)
{
	ssize_t n = readlink(path, out, len - 1);

	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

/* Does the task see the same root as we do? */
static bool
same_root(pid_t tid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)tid);
	return stat(path, &a) == 0 && stat("/", &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * base + "/" + rel (rel alone when absolute) into out, "." and empty
 * components dropped and ".." kept, as the shim's resolved paths are.
 */
static int
clean_join(const char *base, const char *rel, char *out, size_t len)
{
	const char *parts[2] = { rel[0] == '/' ? "" : base, rel }, *p, *e;
	size_t n = 0, k;
	int i;

	for (i = 0; i < 2; i++)
		for (p = parts[i]; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
			e = strchrnul(p, '/');
			k = (size_t)(e - p);
			if (k == 0 || (k == 1 && p[0] == '.'))
				continue;
			if (n + 1 + k + 1 > len)
				return -ENAMETOOLONG;
			out[n++] = '/';
			memcpy(out + n, p, k);
			n += k;
		}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

/* Is there a binfmt_misc format that may run what the kernel does not? */
static bool
binfmt_misc(void)
{
	struct dirent *e;
	bool any = false;
	DIR *d;

	if ((d = opendir("/proc/sys/fs/binfmt_misc")) == NULL)
		return false;
	while (!any && (e = readdir(d)) != NULL)
		any = e->d_name[0] != '.' &&
		    strcmp(e->d_name, "register") != 0 &&
		    strcmp(e->d_name, "status") != 0;
	closedir(d);
	return any;
}

/*
 * Would the kernel refuse to run the file of fd (an O_PATH fd)? -errno
 * when it surely would, else 0: not a regular file or no execute bit
 * (EACCES), a noexec mount (EACCES), neither ELF nor "#!" with no
 * binfmt_misc format to take it (ENOEXEC). A file we cannot read is
 * left to the kernel.
 */
static int
runnable(int fd, const struct stat *st)
{
	unsigned char magic[EW_BACKSTOP_MAGIC];
	struct statvfs vfs;
	char self[64];
	ssize_t n;
	int rfd;

	if (!S_ISREG(st->st_mode) || (st->st_mode & 0111) == 0)
		return -EACCES;
	if (fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_NOEXEC))
		return -EACCES;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if ((rfd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return 0;
	n = read(rfd, magic, sizeof(magic));
	close(rfd);
	if (n == EW_BACKSTOP_MAGIC && memcmp(magic, "\177ELF", 4) == 0)
		return 0;
	if (n >= 2 && magic[0] == '#' && magic[1] == '!')
		return 0;
	return n >= 0 && !binfmt_misc() ? -ENOEXEC : 0;
}

int
ew_backstop_resolve(struct ew_backstop_trap *t)
{
	char proc[64], base[PATH_MAX];
	int oflags = O_PATH | O_CLOEXEC, basefd = -1, rootfd = -1, fd = -1;
	bool empty = t->at && t->path[0] == '\0';
	struct stat st;
	int r;

	memset(&t->exe, 0, sizeof(t->exe));
	if ((r = read_status(t)) != 0)
		return -EACCES;
	snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)t->tid);
	if (link_text(proc, t->cwd, sizeof(t->cwd)) != 0)
		t->cwd[0] = '\0';
	t->same_root = same_root(t->tid);
	if (t->at && (t->flags & AT_SYMLINK_NOFOLLOW))
		oflags |= O_NOFOLLOW;
	if (empty && !(t->flags & AT_EMPTY_PATH))
		return -ENOENT;
	if (empty || (t->path[0] != '/' && t->at && t->dirfd != AT_FDCWD)) {
		/* The program, or the folder it is looked up in, is an fd. */
		snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", (int)t->tid,
		    t->dirfd);
		if ((r = link_text(proc, base, sizeof(base))) != 0) {
			r = r == -ENOENT ? -EBADF : r;
			goto out;
		}
		if (empty) {
			fd = open(proc, O_PATH | O_CLOEXEC);
			r = snprintf(t->resolved, sizeof(t->resolved), "%s",
				base) >= (int)sizeof(t->resolved)
			    ? -ENAMETOOLONG
			    : 0;
		} else {
			basefd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
			r = clean_join(
			    base, t->path, t->resolved, sizeof(t->resolved));
			if (basefd >= 0)
				fd = openat(basefd, t->path, oflags);
		}
	} else if (t->path[0] == '/') {
		r = clean_join("/", t->path, t->resolved, sizeof(t->resolved));
		if (t->same_root)
			fd = open(t->path, oflags);
		else {
			snprintf(
			    proc, sizeof(proc), "/proc/%d/root", (int)t->tid);
			if ((rootfd = open(
				 proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0)
				fd = ew_escalate_open_in_root(
				    rootfd, t->path, oflags);
		}
	} else {
		/*
		 * Relative to the cwd, a bare name too (the kernel searches
		 * no PATH). XXX From another root, an absolute symlink
		 * inside the path is followed from ours.
		 */
		snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)t->tid);
		r = clean_join(t->cwd[0] == '/' ? t->cwd : "/", t->path,
		    t->resolved, sizeof(t->resolved));
		if ((basefd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) >=
		    0)
			fd = openat(basefd, t->path, oflags);
	}
	if (r != 0)
		goto out;
	/* errno is the failed open's, or fstat's. */
	if (fd < 0 || fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (link_text(proc, t->exe.path, sizeof(t->exe.path)) != 0)
		snprintf(t->exe.path, sizeof(t->exe.path), "%s", t->resolved);
	t->exe.dev = st.st_dev;
	t->exe.ino = st.st_ino;
	r = runnable(fd, &st);
out:
	if (r != 0) {
		t->exe.err = r;
		t->exe.path[0] = '\0';
	}
	if (t->resolved[0] != '/')
		(void)clean_join("/", t->path[0] != '\0' ? t->path : "/",
		    t->resolved, sizeof(t->resolved));
	if (fd >= 0)
		close(fd);
	if (basefd >= 0)
		close(basefd);
	if (rootfd >= 0)
		close(rootfd);
	/*
	 * From another root our view of its paths may be wrong: only a
	 * refusal we are sure of is given without asking.
	 */
	if (r != 0 && !t->same_root && r != -EACCES && r != -ENOEXEC)
		return 0;
	return r;
}
