/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locale or locks; stack buffers and write(2) only;
 * errno is preserved.
 *
 * The one-line messages the shim writes on stderr when it refuses a
 * program or lets one run without the broker.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ew_shim.h"

/* Size of the stderr line buffer: a reason, a command, the framing. */
#define EW_SHIM_MSG_MAX (EW_PROTO_REASON_MAX + EW_SHIM_CMD_SHOWN + 512)

void
ew_shim_line_init(struct ew_shim_line *l, char *buf, size_t cap)
{
	l->p = buf;
	l->len = 0;
	l->cap = cap > 0 ? cap - 1 : 0; /* room for the NUL */
	l->truncated = 0;
	if (cap > 0)
		buf[0] = '\0';
}

static void
put_char(struct ew_shim_line *l, char ch)
{
	if (l->len >= l->cap) {
		l->truncated = 1;
		return;
	}
	/* One line: no newline, escape or other control byte gets through. */
	if ((unsigned char)ch < 0x20 || ch == 0x7f)
		ch = '?';
	l->p[l->len++] = ch;
}

void
ew_shim_line_put(struct ew_shim_line *l, const char *s)
{
	if (s == NULL)
		s = "(null)";
	for (; *s != '\0' && !l->truncated; s++)
		put_char(l, *s);
}

void
ew_shim_line_put_uint(struct ew_shim_line *l, unsigned long long v)
{
	char tmp[24];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		put_char(l, tmp[--n]);
}

void
ew_shim_line_put_argv(
    struct ew_shim_line *l, const char *file, char *const *argv, size_t max)
{
	size_t shown = 0, i;
	const char *s;

	if (argv == NULL || argv[0] == NULL) {
		ew_shim_line_put(l, file);
		return;
	}
	for (i = 0; argv[i] != NULL; i++) {
		for (s = i == 0 ? "" : " "; *s != '\0'; s++, shown++)
			put_char(l, *s);
		for (s = argv[i]; *s != '\0' && shown < max; s++, shown++)
			put_char(l, *s);
		if (*s != '\0' || (shown >= max && argv[i + 1] != NULL)) {
			ew_shim_line_put(l, "...");
			return;
		}
	}
}

const char *
ew_shim_line_str(struct ew_shim_line *l)
{
	size_t n;

	if (l->truncated) {
		/* Show the cut: replace the tail with "...". */
		n = l->len < 3 ? l->len : 3;
		memcpy(l->p + l->len - n, "...", n);
	}
	if (l->cap > 0 || l->len > 0)
		l->p[l->len] = '\0';
	return l->p;
}

void
ew_shim_msg_say(int quiet, const char *what, const char *file,
    char *const *argv, const char *why, const char *tail)
{
	char buf[EW_SHIM_MSG_MAX];
	struct ew_shim_line l;
	const char *s;
	size_t len, off = 0;
	ssize_t n;
	int saved = errno;

	if (quiet)
		return;
	/* Keep one byte back for the newline. */
	ew_shim_line_init(&l, buf, sizeof(buf) - 1);
	ew_shim_line_put(&l, "execward: ");
	ew_shim_line_put(&l, what);
	ew_shim_line_put(&l, ": ");
	ew_shim_line_put_argv(&l, file, argv, EW_SHIM_CMD_SHOWN);
	ew_shim_line_put(&l, ": ");
	ew_shim_line_put(&l, why);
	if (tail != NULL)
		ew_shim_line_put(&l, tail);
	s = ew_shim_line_str(&l);
	len = l.len;
	buf[len++] = '\n';
	while (off < len) {
		n = write(STDERR_FILENO, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	errno = saved;
}
