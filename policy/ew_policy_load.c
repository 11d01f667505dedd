/*
 * Loading rules: files and folders, the ownership and mode checks, and the
 * all-or-nothing commit of one file's rules into the policy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_policy_int.h"

/* errno values by strerror (any of them), EW_E_* by ew_err_str. */
static const char *
errstr(int r)
{
	return r <= -EW_E_BASE ? ew_err_str(r) : strerror(-r);
}

/* Cap on the diagnostics text of one load call. */
#define DIAG_MAX (1024u * 1024)

void
ew_policy_diag(struct ew_policy_load_state *st, unsigned line, unsigned col,
    const char *fmt, ...)
{
	char msg[8192];
	va_list ap;
	int n;

	if (st->stop)
		return;
	if (st->nerrors == EW_POLICY_ERRORS_MAX) {
		ew_policy_sb_printf(st->diag,
		    "%s: more than %d errors, giving up\n", st->file,
		    EW_POLICY_ERRORS_MAX);
		st->stop = true;
		return;
	}
	st->nerrors++;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg)) /* say so rather than cut silently */
		memcpy(msg + sizeof(msg) - 5, "...", 4);
	if (line != 0)
		ew_policy_sb_printf(
		    st->diag, "%s:%u:%u: %s\n", st->file, line, col, msg);
	else
		ew_policy_sb_printf(st->diag, "%s: %s\n", st->file, msg);
}

/* Line and column (1-based, in characters) of byte off of text. */
static void
position(const char *text, size_t off, unsigned *line, unsigned *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int
commit(struct ew_policy_load_state *st)
{
	struct ew_policy *p = st->p;
	struct ew_policy_network_rule *nn;
	size_t i, ncap;
	int r;

	if (p->nnet + st->nnet > p->net_cap) {
		ncap = p->nnet + st->nnet;
		if ((nn = reallocarray(p->net, ncap, sizeof(*nn))) == NULL)
			return -EW_E_NOMEM;
		p->net = nn;
		p->net_cap = ncap;
	}
	/* The strings and rules now belong to the policy. */
	ew_policy_arena_splice(&p->arena, &st->arena);
	for (i = 0; i < st->nrules; i++)
		if ((r = ew_policy_insert(p, st->rules[i])) != 0)
			return r;
	for (i = 0; i < st->nhosts; i++)
		if ((r = ew_policy_set_host(p, &st->hosts[i])) != 0)
			return r;
	for (i = 0; i < st->nnet; i++)
		p->net[p->nnet++] = st->net[i];
	return 0;
}

/* Parse text as the rules file name and add it to p if it has no error. */
static int
load_text(struct ew_policy *p, const char *name, const char *text, size_t len,
    struct ew_policy_sb *diag)
{
	struct ew_policy_load_state st;
	unsigned line, col;
	size_t valid;
	int r = 0;

	memset(&st, 0, sizeof(st));
	st.p = p;
	st.diag = diag;
	if ((st.file = ew_policy_arena_strndup(
		 &st.arena, name, strlen(name))) == NULL) {
		r = -EW_E_NOMEM;
		goto out;
	}
	if ((valid = ew_policy_utf8_valid(text, len)) < len) {
		position(text, valid, &line, &col);
		ew_policy_diag(&st, line, col, "invalid UTF-8");
	}
	ew_policy_parse(&st, text, len);
	/* Examples of the calls that parsed, even if others did not. */
	ew_policy_validate_examples(&st);
	if (st.nerrors != 0 || st.stop) {
		r = -EW_E_INVALID;
		goto out;
	}
	if ((r = commit(&st)) != 0)
		ew_policy_sb_printf(diag, "%s: %s\n", name, errstr(r));
out:
	ew_policy_arena_fini(&st.arena);
	ew_policy_arena_fini(&st.tmp);
	free(st.rules);
	free(st.hosts);
	free(st.net);
	free(st.pend);
	return r;
}

/*
 * Refuse what someone else could have written: rules decide what runs as
 * the user, so whoever could edit them could run anything (doas and sudo
 * refuse such files too). The owner must be the effective user or root;
 * no write bit for group or others.
 */
static int
check_owner_mode(const char *path, const struct stat *sb, const char *what,
    struct ew_policy_sb *diag)
{
	uid_t me = geteuid();

	if (sb->st_uid != me && sb->st_uid != 0) {
		ew_policy_sb_printf(diag,
		    "%s: refusing rules %s: owned by uid %u, not by uid %u "
		    "or root\n",
		    path, what, (unsigned)sb->st_uid, (unsigned)me);
		return -EACCES;
	}
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		ew_policy_sb_printf(diag,
		    "%s: refusing rules %s: writable by group or others "
		    "(mode %04o)\n",
		    path, what, (unsigned)(sb->st_mode & 07777));
		return -EACCES;
	}
	return 0;
}

/* Read and load the regular file open on fd. */
static int
load_fd(struct ew_policy *p, const char *path, int fd, const struct stat *sb,
    struct ew_policy_sb *diag)
{
	size_t len = 0, cap;
	char *text = NULL, *nt;
	ssize_t n;
	int r;

	if ((r = check_owner_mode(path, sb, "file", diag)) != 0)
		goto out;
	if ((uint64_t)sb->st_size > EW_POLICY_FILE_MAX) {
		ew_policy_sb_printf(diag, "%s: larger than %u bytes\n", path,
		    EW_POLICY_FILE_MAX);
		r = -EW_E_LIMIT;
		goto out;
	}
	cap = (size_t)sb->st_size + 1;
	if ((text = malloc(cap)) == NULL) {
		r = -EW_E_NOMEM;
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			/* The file grew since fstat. */
			if (cap > EW_POLICY_FILE_MAX) {
				ew_policy_sb_printf(diag,
				    "%s: larger than %u bytes\n", path,
				    EW_POLICY_FILE_MAX);
				r = -EW_E_LIMIT;
				goto out;
			}
			cap *= 2;
			if ((nt = realloc(text, cap)) == NULL) {
				r = -EW_E_NOMEM;
				goto fail;
			}
			text = nt;
		}
		n = read(fd, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > EW_POLICY_FILE_MAX) {
		ew_policy_sb_printf(diag, "%s: larger than %u bytes\n", path,
		    EW_POLICY_FILE_MAX);
		r = -EW_E_LIMIT;
		goto out;
	}
	r = load_text(p, path, text, len, diag);
	goto out;
fail:
	ew_policy_sb_printf(diag, "read %s: %s\n", path, errstr(r));
out:
	free(text);
	return r;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
rules_name(const char *name)
{
	static const char *const ext[] = { ".rules", ".codexpolicy" };
	size_t n = strlen(name), i, e;

	for (i = 0; i < 2; i++) {
		e = strlen(ext[i]);
		/* ".rules" alone has no extension (a hidden file). */
		if (n > e && strcmp(name + n - e, ext[i]) == 0)
			return true;
	}
	return false;
}

static int open_path(struct ew_policy *p, int dirfd, const char *name,
    const char *shown, bool in_dir, struct ew_policy_sb *diag);

/* Load a folder's rules files in name order; fd is consumed. */
static int
load_dir(struct ew_policy *p, const char *path, int fd, const struct stat *sb,
    struct ew_policy_sb *diag)
{
	struct dirent *de;
	char **names = NULL, **nn, *shown;
	size_t n = 0, cap = 0, i;
	DIR *d = NULL;
	int r, r2;

	if ((r = check_owner_mode(path, sb, "folder", diag)) != 0) {
		close(fd);
		return r;
	}
	if ((d = fdopendir(fd)) == NULL) {
		r = -errno;
		close(fd);
		ew_policy_sb_printf(diag, "opendir %s: %s\n", path, errstr(r));
		return r;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				r = -errno;
				ew_policy_sb_printf(
				    diag, "readdir %s: %s\n", path, errstr(r));
				goto out;
			}
			break;
		}
		if (!rules_name(de->d_name))
			continue;
		if (n == EW_POLICY_DIR_FILES_MAX) {
			ew_policy_sb_printf(diag,
			    "%s: more than %d rules files\n", path,
			    EW_POLICY_DIR_FILES_MAX);
			r = -EW_E_LIMIT;
			goto out;
		}
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			if ((nn = reallocarray(names, cap, sizeof(*nn))) ==
			    NULL) {
				r = -EW_E_NOMEM;
				goto out;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			r = -EW_E_NOMEM;
			goto out;
		}
		n++;
	}
	if (n != 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		size_t pl = strlen(path);

		if (asprintf(&shown, "%s%s%s", path,
			pl != 0 && path[pl - 1] == '/' ? "" : "/",
			names[i]) < 0) {
			r = -EW_E_NOMEM;
			goto out;
		}
		r2 = open_path(p, dirfd(d), names[i], shown, true, diag);
		free(shown);
		if (r2 != 0 && r == 0)
			r = r2;
	}
out:
	if (r == -EW_E_NOMEM)
		ew_policy_sb_printf(diag, "%s: %s\n", path, errstr(r));
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return r;
}

/* Open name (relative to dirfd) and load it as a file or folder. */
static int
open_path(struct ew_policy *p, int dirfd, const char *name, const char *shown,
    bool in_dir, struct ew_policy_sb *diag)
{
	struct stat sb;
	int fd, r;

	/* O_NONBLOCK: a FIFO must not stall the broker. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		ew_policy_sb_printf(diag, "open %s: %s\n", shown, errstr(r));
		return r;
	}
	if (fstat(fd, &sb) != 0) {
		r = -errno;
		ew_policy_sb_printf(diag, "fstat %s: %s\n", shown, errstr(r));
		close(fd);
		return r;
	}
	if (S_ISDIR(sb.st_mode)) {
		if (in_dir) {
			/* Folders are not searched recursively. */
			close(fd);
			return 0;
		}
		return load_dir(p, shown, fd, &sb, diag);
	}
	if (!S_ISREG(sb.st_mode)) {
		ew_policy_sb_printf(
		    diag, "%s: not a regular file or a folder\n", shown);
		close(fd);
		return -EW_E_INVALID;
	}
	r = load_fd(p, shown, fd, &sb, diag);
	close(fd);
	return r;
}

/* Take over *diag (NULL or an earlier diag string) as a string builder. */
static void
diag_begin(struct ew_policy_sb *b, char **diag)
{
	ew_policy_sb_init(b, DIAG_MAX);
	if (diag != NULL && *diag != NULL) {
		b->s = *diag;
		b->len = strlen(*diag);
		b->cap = b->len + 1;
		*diag = NULL;
	}
}

static void
diag_end(struct ew_policy_sb *b, char **diag)
{
	if (b->err == -EW_E_LIMIT && b->s != NULL) {
		/* Keep what fitted rather than nothing. */
		b->err = 0;
	}
	if (diag != NULL)
		*diag = ew_policy_sb_steal(b);
	else
		ew_policy_sb_fini(b);
}

int
ew_policy_load(struct ew_policy *p, const char *path, char **diag)
{
	struct ew_policy_sb b;
	int r;

	diag_begin(&b, diag);
	r = open_path(p, AT_FDCWD, path, path, false, &b);
	diag_end(&b, diag);
	return r;
}

int
ew_policy_load_buffer(struct ew_policy *p, const char *name, const char *text,
    size_t len, char **diag)
{
	struct ew_policy_sb b;
	int r;

	diag_begin(&b, diag);
	if (len > EW_POLICY_FILE_MAX) {
		ew_policy_sb_printf(
		    &b, "%s: larger than %u bytes\n", name, EW_POLICY_FILE_MAX);
		r = -EW_E_LIMIT;
	} else {
		r = load_text(p, name, text, len, &b);
	}
	diag_end(&b, diag);
	return r;
}
