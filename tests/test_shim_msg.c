/* Unit tests of preload/ew_shim_msg_as.c: the one-line stderr messages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_shim.h"

Test(shim_msg, line_put_and_uint)
{
	char buf[64];
	struct ew_shim_line l;

	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put(&l, "pid ");
	ew_shim_line_put_uint(&l, 0);
	ew_shim_line_put(&l, " ");
	ew_shim_line_put_uint(&l, 18446744073709551615ULL);
	cr_assert_str_eq(ew_shim_line_str(&l), "pid 0 18446744073709551615");
	cr_assert_eq(l.truncated, 0);
}

Test(shim_msg, line_control_characters_replaced)
{
	char buf[64];
	struct ew_shim_line l;

	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put(&l, "a\nb\tc\x1b[31md\x7f");
	cr_assert_str_eq(ew_shim_line_str(&l), "a?b?c?[31md?");
}

Test(shim_msg, line_truncated_with_dots)
{
	char buf[8];
	struct ew_shim_line l;

	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put(&l, "0123456789");
	cr_assert_eq(l.truncated, 1);
	cr_assert_str_eq(ew_shim_line_str(&l), "0123...");
	ew_shim_line_put(&l, "more");
	cr_assert_str_eq(ew_shim_line_str(&l), "0123...");
}

Test(shim_msg, line_exactly_full_is_not_truncated)
{
	char buf[5];
	struct ew_shim_line l;

	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put(&l, "abcd");
	cr_assert_eq(l.truncated, 0);
	cr_assert_str_eq(ew_shim_line_str(&l), "abcd");
}

Test(shim_msg, argv_joined)
{
	char buf[256];
	struct ew_shim_line l;
	char *argv[] = { "rm", "-rf", "keep", NULL };

	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put_argv(&l, "/bin/rm", argv, 200);
	cr_assert_str_eq(ew_shim_line_str(&l), "rm -rf keep");
}

Test(shim_msg, argv_cut_at_max)
{
	char buf[256];
	struct ew_shim_line l;
	char *argv[] = { "echo", "0123456789", "tail", NULL };

	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put_argv(&l, "echo", argv, 10);
	cr_assert_str_eq(ew_shim_line_str(&l), "echo 01234...");
	/* Cut exactly at the end of an argument, with more to come. */
	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put_argv(&l, "echo", argv, 15);
	cr_assert_str_eq(ew_shim_line_str(&l), "echo 0123456789...");
	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put_argv(&l, "echo", argv, 20);
	cr_assert_str_eq(ew_shim_line_str(&l), "echo 0123456789 tail");
}

Test(shim_msg, argv_empty_shows_file)
{
	char buf[64];
	struct ew_shim_line l;
	char *argv[] = { NULL };

	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put_argv(&l, "/bin/true", argv, 200);
	cr_assert_str_eq(ew_shim_line_str(&l), "/bin/true");
	ew_shim_line_init(&l, buf, sizeof(buf));
	ew_shim_line_put_argv(&l, "/bin/true", NULL, 200);
	cr_assert_str_eq(ew_shim_line_str(&l), "/bin/true");
}

/* Run ew_shim_msg_say with stderr captured; returns what it wrote. */
static char *
capture(int quiet, const char *what, char *const *argv, const char *why,
    const char *tail)
{
	char path[] = "/tmp/ew-shim-msg-XXXXXX";
	static char out[8192];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	cr_assert(fd >= 0 && saved >= 0);
	unlink(path);
	cr_assert(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	errno = EDOM;
	ew_shim_msg_say(quiet, what, "file", argv, why, tail);
	cr_assert_eq(errno, EDOM, "errno kept");
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	cr_assert(n >= 0);
	out[n] = '\0';
	close(fd);
	return out;
}

Test(shim_msg, say_denied)
{
	char *argv[] = { "rm", "-f", "keep", NULL };

	cr_assert_str_eq(
	    capture(0, "denied", argv, "forbidden by policy: no", NULL),
	    "execward: denied: rm -f keep: forbidden by policy: no\n");
	cr_assert_str_eq(
	    capture(0, "warning", argv, "broker gone", "; running it anyway"),
	    "execward: warning: rm -f keep: broker gone; running it anyway\n");
}

Test(shim_msg, say_quiet_writes_nothing)
{
	char *argv[] = { "rm", NULL };

	cr_assert_str_eq(capture(1, "denied", argv, "why", NULL), "");
}

Test(shim_msg, say_is_one_line_even_when_long)
{
	static char reason[4000], arg[3000];
	char *argv[] = { "cmd", arg, NULL };
	char *out, *nl;

	memset(reason, 'r', sizeof(reason) - 1);
	memset(arg, 'a', sizeof(arg) - 1);
	reason[10] = '\n';
	out = capture(0, "denied", argv, reason, NULL);
	nl = strchr(out, '\n');
	cr_assert_not_null(nl);
	cr_assert_eq(nl[1], '\0', "exactly one line");
	cr_assert(strlen(out) < 2048);
	cr_assert(strstr(out, "execward: denied: cmd aaaa") == out);
	cr_assert(strstr(out, "...: rrrrrrrrrr?rrr") != NULL);
	cr_assert(strstr(out, "...\n") != NULL);
}
