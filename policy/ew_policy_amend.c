/*
 * The "always allow" answer: append prefix_rule(pattern=[...],
 * decision="allow") to a rules file, as Codex's amend.rs does it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_policy_int.h"

static int
write_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Does text hold line as one of its lines (Rust's str::lines())? */
static bool
has_line(const char *text, size_t len, const char *line, size_t n)
{
	size_t i = 0, end, l;

	while (i < len) {
		end = i;
		while (end < len && text[end] != '\n')
			end++;
		l = end - i;
		if (l > 0 && text[end - 1] == '\r')
			l--;
		if (l == n && memcmp(text + i, line, n) == 0)
			return true;
		i = end + 1;
	}
	return false;
}

/* mkdir -p dir (mode 0755 less the umask); 0 or -errno. */
static int
mkdirs(char *dir)
{
	char *s, c;
	int r = 0;

	for (s = dir + 1; r == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			r = -errno;
		*s = c;
		if (c == '\0')
			break;
	}
	return r;
}

static int fail(char **err, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char **err, int r, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		if (vasprintf(err, fmt, ap) < 0)
			*err = NULL;
		va_end(ap);
	}
	return r;
}

/* The rule allowing tokens, as one line into line: 0, or an error. */
static int
format_rule(
    struct ew_policy_sb *line, char *const *tokens, size_t ntokens, char **err)
{
	size_t i, n;

	if (ntokens == 0)
		return fail(err, -EW_E_INVALID,
		    "prefix rule requires at least one token");
	if (ntokens > EW_POLICY_LIST_MAX)
		return fail(err, -EW_E_LIMIT,
		    "prefix rule of %zu tokens exceeds %d", ntokens,
		    EW_POLICY_LIST_MAX);
	for (i = 0; i < ntokens; i++) {
		n = strlen(tokens[i]);
		/* A rule the parser would refuse would disable the file. */
		if (ew_policy_utf8_valid(tokens[i], n) != n)
			return fail(err, -EW_E_INVALID,
			    "token %zu is not valid UTF-8", i + 1);
		if (n > EW_POLICY_STRING_MAX)
			return fail(err, -EW_E_LIMIT,
			    "token %zu of %zu bytes exceeds %u", i + 1, n,
			    EW_POLICY_STRING_MAX);
	}
	ew_policy_sb_puts(line, "prefix_rule(pattern=[");
	for (i = 0; i < ntokens; i++) {
		if (i != 0)
			ew_policy_sb_puts(line, ", ");
		ew_policy_json_str(line, tokens[i]);
	}
	ew_policy_sb_puts(line, "], decision=\"allow\")");
	if (line->err != 0)
		return fail(
		    err, line->err, "format rule: %s", ew_err_str(line->err));
	return 0;
}

/*
 * file opened for appending, its folders made on the way, checked as the
 * loader checks it, locked and at its start: the descriptor, or an error.
 */
static int
open_locked(const char *file, char **err)
{
	char *dir, *slash;
	struct stat sb;
	uid_t me = geteuid();
	int fd = -1, r;

	/*
	 * The folders on the way. Codex creates one level (~/.codex exists);
	 * execward's default folder is two levels below ~/.config.
	 */
	if ((dir = strdup(file)) == NULL)
		return fail(err, -EW_E_NOMEM, "%s", ew_err_str(-EW_E_NOMEM));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if ((r = mkdirs(dir)) != 0) {
			r = fail(err, r, "mkdir %s: %s", dir, strerror(-r));
			goto out;
		}
	}
	fd = open(file,
	    O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	    0644);
	if (fd < 0) {
		r = -errno;
		r = fail(err, r, "open %s: %s", file, strerror(-r));
		goto out;
	}
	if (fstat(fd, &sb) != 0) {
		r = -errno;
		r = fail(err, r, "fstat %s: %s", file, strerror(-r));
		goto out;
	}
	/* Never write into a file the loader would refuse. */
	if (!S_ISREG(sb.st_mode) || (sb.st_uid != me && sb.st_uid != 0) ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		r = fail(err, -EACCES,
		    "refusing to append to %s: not a regular file owned by "
		    "uid %u or root and writable only by its owner",
		    file, (unsigned)me);
		goto out;
	}
	/*
	 * An exclusive advisory lock, held while reading and appending, so
	 * two brokers answering "always" at once never write the rule twice.
	 */
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			r = -errno;
			r = fail(err, r, "flock %s: %s", file, strerror(-r));
			goto out;
		}
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		r = -errno;
		r = fail(err, r, "lseek %s: %s", file, strerror(-r));
		goto out;
	}
	r = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

/* All of fd (file) into *text, *len bytes: 0, or an error. */
static int
read_all(int fd, const char *file, char **text, size_t *len, char **err)
{
	size_t cap = 0;
	ssize_t rd;
	char *nt;
	int r;

	for (;;) {
		if (*len == cap) {
			if (cap > EW_POLICY_FILE_MAX)
				return fail(err, -EW_E_LIMIT,
				    "%s: larger than %u bytes", file,
				    EW_POLICY_FILE_MAX);
			cap = cap != 0 ? cap * 2 : 4096;
			if ((nt = realloc(*text, cap)) == NULL)
				return fail(err, -EW_E_NOMEM, "%s",
				    ew_err_str(-EW_E_NOMEM));
			*text = nt;
		}
		rd = read(fd, *text + *len, cap - *len);
		if (rd < 0 && errno == EINTR)
			continue;
		if (rd < 0) {
			r = -errno;
			return fail(err, r, "read %s: %s", file, strerror(-r));
		}
		if (rd == 0)
			return 0;
		*len += (size_t)rd;
	}
}

/*
 * line at the end of fd (file, whose text is len bytes), on a line of its
 * own, and on disk: 0, or an error.
 */
static int
append_line(int fd, const char *file, const char *text, size_t len,
    struct ew_policy_sb *line, char **err)
{
	size_t n = line->len;
	int r;

	ew_policy_sb_putc(line, '\n');
	if (len != 0 && text[len - 1] != '\n') {
		/* One write: the separating newline and the rule together. */
		struct ew_policy_sb both;

		ew_policy_sb_init(&both, EW_POLICY_FILE_MAX);
		ew_policy_sb_putc(&both, '\n');
		ew_policy_sb_putn(&both, line->s, n + 1);
		r = both.err != 0 ? both.err : write_all(fd, both.s, both.len);
		ew_policy_sb_fini(&both);
	} else {
		r = write_all(fd, line->s, line->len);
	}
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (r != 0)
		r = fail(err, r, "write %s: %s", file,
		    r <= -EW_E_BASE ? ew_err_str(r) : strerror(-r));
	return r;
}

int
ew_policy_append_allow(
    const char *file, char *const *tokens, size_t ntokens, char **err)
{
	struct ew_policy_sb line;
	char *text = NULL;
	size_t len = 0;
	int fd = -1, r;

	if (err != NULL)
		*err = NULL;
	ew_policy_sb_init(&line, EW_POLICY_FILE_MAX);
	if ((r = format_rule(&line, tokens, ntokens, err)) != 0)
		goto out;
	if ((r = fd = open_locked(file, err)) < 0)
		goto out;
	if ((r = read_all(fd, file, &text, &len, err)) != 0)
		goto out;
	/* Already there (another broker's "always"): nothing to do. */
	if (!has_line(text, len, line.s, line.len))
		r = append_line(fd, file, text, len, &line, err);
out:
	if (fd >= 0)
		close(fd); /* releases the lock */
	ew_policy_sb_fini(&line);
	free(text);
	return r;
}
