/*
 * Unit tests of preload/ew_shim_ask_as.c: the ask, against an in-process
 * broker thread, with the shim's configuration set by hand.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ew_err.h"
#include "ew_fd.h"
#include "ew_proto.h"
#include "ew_path.h"
#include "ew_shim.h"
#include "ew_sock.h"

enum mode {
	ALLOW,
	DENY,
	ESCALATE,
	ESCALATE_BAD,
	GARBAGE,
	CLOSE,
	SILENT,
	HEARTBEAT
};

struct broker {
	int lfd;
	enum mode mode;
	int accepted;
	struct ew_msg_ask *ask;
	/* After an ALLOW: the FAILED errno, 0 for a hang-up, -1 nothing. */
	int after;
	pthread_t th;
};

static char top[256];
/* The socket and helper paths the tests point the snapshot at. */
static char t_socket[PATH_MAX], t_helper[PATH_MAX];
static char sock[300];
static struct broker br;

/* Assertions abort the test from the broker thread too. */
#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static void
reply(int fd, uint32_t verdict, const char *reason, const char *token)
{
	unsigned char mem[2048];
	struct ew_buf b;

	ew_buf_init(&b, mem, sizeof(mem));
	CHECK(ew_proto_put_answer(&b, verdict, reason, token) == 0);
	CHECK(ew_proto_send(fd, &b, NULL, 0) == 0);
}

/* What the shim says after an ALLOW: see struct broker's after. */
static int
after_allow(int fd, struct ew_buf *msg)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint32_t type;
	int err, r;

	if (poll(&pfd, 1, 3000) != 1)
		return -1;
	ew_buf_reset(msg);
	if ((r = ew_proto_recv(fd, msg, NULL, 0, NULL)) == -EW_E_CLOSED)
		return 0;
	CHECK(r == 0 && ew_proto_get_header(msg, &type) == 0 &&
	    type == EW_MSG_FAILED && ew_proto_get_failed(msg, &err) == 0);
	return err;
}

static void *
serve(void *arg)
{
	struct broker *b = arg;
	struct ew_buf *msg = ew_buf_new(EW_PROTO_MSG_MAX);
	unsigned char mem[64];
	struct pollfd pfd = { .fd = b->lfd, .events = POLLIN };
	struct ew_buf hb;
	uint32_t type;
	char junk[8];
	int fd, i;

	if (poll(&pfd, 1, 3000) != 1)
		goto out;
	if ((fd = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		goto out;
	b->accepted = 1;
	if (ew_proto_recv(fd, msg, NULL, 0, NULL) != 0 ||
	    ew_proto_get_header(msg, &type) != 0 || type != EW_MSG_ASK ||
	    ew_proto_get_ask(msg, &b->ask) != 0) {
		close(fd);
		goto out;
	}
	switch (b->mode) {
	case ALLOW:
		reply(fd, EW_VERDICT_ALLOW, NULL, NULL);
		b->after = after_allow(fd, msg);
		break;
	case DENY:
		reply(fd, EW_VERDICT_DENY, "forbidden by policy", NULL);
		break;
	case ESCALATE:
		reply(fd, EW_VERDICT_ESCALATE, NULL, "tok");
		break;
	case ESCALATE_BAD:
		/* Not fit for argv: the shim must not pass it on. */
		reply(fd, EW_VERDICT_ESCALATE, NULL, "t k;rm");
		break;
	case GARBAGE:
		(void)ew_fd_send(fd, "\0\0\0\1\0\0\0\2xx", 10, NULL, 0);
		break;
	case CLOSE:
		break;
	case SILENT:
		while (read(fd, junk, sizeof(junk)) > 0)
			;
		break;
	case HEARTBEAT:
		/* 1.5 s of heartbeats against a 1 s timeout, then allow. */
		for (i = 0; i < 15; i++) {
			ew_buf_init(&hb, mem, sizeof(mem));
			CHECK(ew_proto_put_heartbeat(&hb) == 0);
			if (ew_proto_send(fd, &hb, NULL, 0) != 0)
				break;
			usleep(100 * 1000);
		}
		reply(fd, EW_VERDICT_ALLOW, NULL, NULL);
		break;
	}
	close(fd);
out:
	ew_buf_free(msg);
	return NULL;
}

static void
start(enum mode mode)
{
	br.mode = mode;
	cr_assert_eq(pthread_create(&br.th, NULL, serve, &br), 0);
}

static void
stop(void)
{
	pthread_join(br.th, NULL);
}

static void
setup(void)
{
	snprintf(top, sizeof(top), "/tmp/ew-shim-ask-XXXXXX");
	cr_assert(mkdtemp(top) != NULL);
	snprintf(sock, sizeof(sock), "%s/s", top);
	memset(&br, 0, sizeof(br));
	br.lfd = ew_sock_listen(sock, 16);
	cr_assert(br.lfd >= 0);
	/* The shim's snapshot, as the constructor would take it. */
	ew_shim_cfg.have_socket = 1;
	snprintf(t_socket, sizeof(t_socket), "%s", sock);
	ew_shim_cfg.socket = t_socket;
	ew_shim_cfg.timeout_s = 1;
	ew_shim_cfg.quiet = 1;
	ew_shim_cfg.fail_open = 0;
}

static void
teardown(void)
{
	char cmd[PATH_MAX + 16];

	close(br.lfd);
	ew_msg_ask_free(br.ask);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	cr_assert(system(cmd) == 0);
}

TestSuite(shim_ask, .init = setup, .fini = teardown);

static char token[EW_SHIM_TOKEN_SIZE];

static int
gate(char *const *argv)
{
	char cwd[PATH_MAX];
	struct ew_shim_ask q = { .via = EW_VIA_EXECVE,
		.file = "prog",
		.resolved = "/usr/bin/prog",
		.argv = argv };

	cr_assert(getcwd(cwd, sizeof(cwd)) != NULL);
	q.cwd = cwd;
	return ew_shim_gate(&q, token, NULL);
}

/*
 * ew_shim_gate with its stderr line captured into said[0..len): the
 * reason is how the failures tell themselves apart (all are -EACCES).
 */
static int
gate_said(char *const *argv, char *said, size_t len)
{
	char path[sizeof(top) + 16];
	int fd, saved, r;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", top);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	saved = dup(STDERR_FILENO);
	cr_assert(saved >= 0 && dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	ew_shim_cfg.quiet = 0;
	r = gate(argv);
	ew_shim_cfg.quiet = 1;
	cr_assert(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
	close(saved);
	n = pread(fd, said, len - 1, 0);
	cr_assert(n >= 0);
	said[n] = '\0';
	close(fd);
	return r;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(shim_ask, allow_and_what_is_asked)
{
	char *argv[] = { "prog", "-x", "arg two", NULL };
	char cwd[PATH_MAX];

	start(ALLOW);
	errno = EDOM;
	cr_assert_eq(gate(argv), 0);
	cr_assert_eq(errno, EDOM, "errno kept");
	stop();
	cr_assert_not_null(br.ask);
	cr_assert_eq(br.ask->via, EW_VIA_EXECVE);
	cr_assert_eq(br.ask->pid, getpid());
	cr_assert_eq(br.ask->ppid, getppid());
	cr_assert(getcwd(cwd, sizeof(cwd)) != NULL);
	cr_assert_str_eq(br.ask->cwd, cwd);
	cr_assert_str_eq(br.ask->file, "prog");
	cr_assert_str_eq(br.ask->resolved, "/usr/bin/prog");
	cr_assert_eq(br.ask->argc, 3);
	cr_assert_str_eq(br.ask->argv[2], "arg two");
}

Test(shim_ask, deny)
{
	char *argv[] = { "prog", NULL };

	start(DENY);
	errno = EDOM;
	cr_assert_eq(gate(argv), -EACCES);
	cr_assert_eq(errno, EDOM);
	stop();
}

Test(shim_ask, escalate_hands_over_the_token)
{
	char *argv[] = { "prog", NULL };

	/* Any program that may be executed stands in for the helper. */
	ew_shim_cfg.helper = t_helper;
	snprintf(t_helper, sizeof(t_helper), "/bin/true");
	memset(token, 'x', sizeof(token));
	start(ESCALATE);
	errno = EDOM;
	cr_assert_eq(gate(argv), EW_SHIM_ESCALATE);
	cr_assert_eq(errno, EDOM);
	cr_assert_str_eq(token, "tok");
	stop();
}

Test(shim_ask, escalate_without_the_helper_is_refused)
{
	char *argv[] = { "prog", NULL };

	ew_shim_cfg.helper = t_helper;
	snprintf(t_helper, sizeof(t_helper), "%s/no-execward-escalate", top);
	start(ESCALATE);
	cr_assert_eq(gate(argv), -EACCES);
	stop();
}

Test(shim_ask, escalate_with_a_malformed_token_is_refused)
{
	char *argv[] = { "prog", NULL }, said[2048];

	ew_shim_cfg.helper = t_helper;
	snprintf(t_helper, sizeof(t_helper), "/bin/true");
	memset(token, 'x', sizeof(token));
	start(ESCALATE_BAD);
	cr_assert_eq(gate_said(argv, said, sizeof(said)), -EACCES);
	stop();
	cr_assert_eq(br.accepted, 1, "the broker was reached");
	cr_assert_not_null(br.ask, "and got the question");
	cr_assert_str_eq(said,
	    "execward: denied: prog: bad answer from broker: malformed "
	    "escalation token\n");
	cr_assert_eq(token[0], 'x', "the token was not handed over");
}

Test(shim_ask, escalate_where_the_caller_cannot_is_refused)
{
	struct ew_shim_ask q = { .via = EW_VIA_EXECVE,
		.file = "prog",
		.resolved = "/usr/bin/prog",
		.cwd = "/" };
	char *argv[] = { "prog", NULL };

	ew_shim_cfg.helper = t_helper;
	snprintf(t_helper, sizeof(t_helper), "/bin/true");
	q.argv = argv;
	start(ESCALATE);
	cr_assert_eq(ew_shim_gate(&q, NULL, NULL), -EACCES);
	stop();
}

Test(shim_ask, garbage_fails_closed)
{
	char *argv[] = { "prog", NULL }, said[2048];

	/* A header that says ANSWER, then two bytes of no answer. */
	start(GARBAGE);
	cr_assert_eq(gate_said(argv, said, sizeof(said)), -EACCES);
	stop();
	cr_assert_eq(br.accepted, 1, "the broker was reached");
	cr_assert_not_null(br.ask, "and got the question");
	cr_assert_str_eq(said,
	    "execward: denied: prog: bad answer from broker: message "
	    "truncated\n");
}

Test(shim_ask, close_fails_closed)
{
	char *argv[] = { "prog", NULL }, said[2048];

	start(CLOSE);
	cr_assert_eq(gate_said(argv, said, sizeof(said)), -EACCES);
	stop();
	cr_assert_eq(br.accepted, 1, "the broker was reached");
	cr_assert_not_null(br.ask, "and got the question");
	cr_assert_str_eq(
	    said, "execward: denied: prog: broker closed the connection\n");
}

Test(shim_ask, garbage_with_fail_open_runs)
{
	char *argv[] = { "prog", NULL };

	ew_shim_cfg.fail_open = 1;
	start(GARBAGE);
	cr_assert_eq(gate(argv), 0);
	stop();
}

Test(shim_ask, silent_broker_times_out)
{
	char *argv[] = { "prog", NULL };
	double t0 = now(), dt;

	start(SILENT);
	cr_assert_eq(gate(argv), -EACCES);
	dt = now() - t0;
	stop();
	cr_assert(dt >= 0.9 && dt < 3.0, "timed out after %.2f s", dt);
}

Test(shim_ask, heartbeats_keep_the_ask_alive)
{
	char *argv[] = { "prog", NULL };
	double t0 = now(), dt;

	start(HEARTBEAT);
	cr_assert_eq(gate(argv), 0);
	dt = now() - t0;
	stop();
	cr_assert(dt >= 1.4, "answered after %.2f s", dt);
}

Test(shim_ask, no_socket_variable)
{
	char *argv[] = { "prog", NULL };

	ew_shim_cfg.have_socket = 0;
	cr_assert_eq(gate(argv), -EACCES);
	ew_shim_cfg.fail_open = 1;
	cr_assert_eq(gate(argv), 0);
}

Test(shim_ask, missing_socket_fails_at_once)
{
	char *argv[] = { "prog", NULL };
	double t0 = now();

	snprintf(t_socket, sizeof(t_socket), "%s/none", top);
	ew_shim_cfg.socket = t_socket;
	ew_shim_cfg.timeout_s = 10;
	cr_assert_eq(gate(argv), -EACCES);
	cr_assert(now() - t0 < 0.5);
}

Test(shim_ask, big_request_travels_whole)
{
	static char big[400][1001];
	char *argv[402];
	size_t i;

	argv[0] = "prog";
	for (i = 0; i < 400; i++) {
		memset(big[i], 'a' + (int)(i % 26), 1000);
		big[i][1000] = '\0';
		argv[i + 1] = big[i];
	}
	argv[401] = NULL;
	start(ALLOW);
	cr_assert_eq(gate(argv), 0);
	stop();
	cr_assert_not_null(br.ask);
	cr_assert_eq(br.ask->argc, 401);
	cr_assert_eq(br.ask->arg_bytes, 4 + 400 * 1000);
	cr_assert_str_eq(br.ask->argv[400], big[399]);
}

Test(shim_ask, check_does_not_ask_about_missing_programs)
{
	char *argv[] = { "nope", NULL };

	int fd = 7;

	start(ALLOW);
	cr_assert_eq(ew_shim_check(EW_VIA_EXECVP, "ew-no-such-program", 1, argv,
			 NULL, NULL, &fd),
	    EW_SHIM_UNASKED);
	cr_assert_eq(fd, -1);
	cr_assert_eq(ew_shim_check(EW_VIA_EXECVE, "/nonexistent/prog", 0, argv,
			 NULL, NULL, &fd),
	    EW_SHIM_UNASKED);
	cr_assert_eq(ew_shim_check(EW_VIA_EXECVE, "", 0, argv, NULL, NULL, &fd),
	    EW_SHIM_UNASKED);
	stop(); /* the broker thread gives up after 3 s */
	cr_assert_eq(br.accepted, 0, "no connection for a missing program");
}

Test(shim_ask, check_resolves_relative_paths)
{
	char *argv[] = { "./prog", NULL };
	char want[PATH_MAX + 16], real[PATH_MAX];
	int fd;

	cr_assert(realpath(top, real) != NULL);
	cr_assert(chdir(top) == 0);
	fd = open("prog", O_WRONLY | O_CREAT, 0755);
	cr_assert(fd >= 0);
	close(fd);
	start(ALLOW);
	cr_assert_eq(
	    ew_shim_check(EW_VIA_EXECV, "./prog", 0, argv, NULL, NULL, &fd), 0);
	ew_shim_done(fd, 0);
	stop();
	snprintf(want, sizeof(want), "%s/prog", real);
	cr_assert_str_eq(br.ask->file, "./prog");
	cr_assert_str_eq(br.ask->resolved, want);
	cr_assert_str_eq(br.ask->cwd, real);
}

Test(shim_ask, check_searches_path)
{
	char *argv[] = { "sh", NULL };
	char cand[EW_SHIM_CAND_MAX];

	cr_assert_eq(
	    ew_path_search("sh", getenv("PATH"), cand, sizeof(cand)), 0);
	int fd;

	start(DENY);
	cr_assert_eq(ew_shim_check(EW_VIA_EXECVP, "sh", EW_SHIM_F_SEARCH, argv,
			 NULL, NULL, &fd),
	    -EACCES);
	cr_assert_eq(fd, -1);
	stop();
	cr_assert_str_eq(br.ask->file, "sh");
	cr_assert_eq(br.ask->via, EW_VIA_EXECVP);
	cr_assert_eq(br.ask->resolved[0], '/');
	cr_assert(strstr(br.ask->resolved, "/sh") != NULL);
}

Test(shim_ask, check_moved_asks_even_when_not_found)
{
	char *argv[] = { "prog", NULL };

	int fd;

	start(ALLOW);
	cr_assert_eq(ew_shim_check(EW_VIA_POSIX_SPAWN, "ew-not-here",
			 EW_SHIM_F_MOVED, argv, NULL, NULL, &fd),
	    0);
	ew_shim_done(fd, 0);
	stop();
	cr_assert_eq(br.accepted, 1);
	cr_assert_not_null(br.ask);
}

/* ---- after an allow: the broker learns whether the start worked -------- */

static int
gate_fd(char *const *argv, int *fdp)
{
	struct ew_shim_ask q = { .via = EW_VIA_EXECVE,
		.file = "prog",
		.resolved = "/usr/bin/prog",
		.cwd = "/",
		.argv = argv };

	return ew_shim_gate(&q, token, fdp);
}

Test(shim_ask, an_allow_keeps_the_connection_for_the_outcome)
{
	char *argv[] = { "prog", NULL };
	int fd = -1, flags;

	start(ALLOW);
	errno = EDOM;
	cr_assert_eq(gate_fd(argv, &fd), 0);
	cr_assert_eq(errno, EDOM);
	cr_assert(fd > 2, "the connection, above stdio: %d", fd);
	flags = fcntl(fd, F_GETFD);
	cr_assert(flags >= 0 && (flags & FD_CLOEXEC), "close-on-exec");
	ew_shim_done(fd, ENOEXEC);
	cr_assert_eq(errno, EDOM, "errno kept");
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "closed");
	stop();
	cr_assert_eq(br.after, ENOEXEC, "FAILED with the errno");
}

Test(shim_ask, a_start_that_worked_just_closes)
{
	char *argv[] = { "prog", NULL };
	int fd = -1;

	start(ALLOW);
	cr_assert_eq(gate_fd(argv, &fd), 0);
	ew_shim_done(fd, 0);
	stop();
	cr_assert_eq(br.after, 0, "a hang-up, no FAILED");
}

Test(shim_ask, an_odd_error_number_is_still_a_failure)
{
	char *argv[] = { "prog", NULL };
	int fd = -1;

	start(ALLOW);
	cr_assert_eq(gate_fd(argv, &fd), 0);
	ew_shim_done(fd, 100000);
	stop();
	cr_assert_eq(br.after, EIO);
}

Test(shim_ask, a_deny_or_a_failure_leaves_no_connection)
{
	char *argv[] = { "prog", NULL };
	int fd = 7;

	start(DENY);
	cr_assert_eq(gate_fd(argv, &fd), -EACCES);
	cr_assert_eq(fd, -1);
	stop();
	ew_msg_ask_free(br.ask);
	br.ask = NULL;
	start(CLOSE);
	cr_assert_eq(gate_fd(argv, &fd), -EACCES);
	cr_assert_eq(fd, -1);
	stop();
	/* Fail open: no broker was asked, so none is told. */
	ew_shim_cfg.have_socket = 0;
	ew_shim_cfg.fail_open = 1;
	fd = 7;
	cr_assert_eq(gate_fd(argv, &fd), 0);
	cr_assert_eq(fd, -1);
	ew_shim_done(fd, ENOEXEC); /* a no-op */
}

/* ---- the kernel's argument limit ------------------------------------------
 */

Test(shim_ask, e2big_is_not_asked)
{
	static char big[200 * 1024];
	char *argv[] = { "sh", big, NULL };
	int fd = 7;

	/* One string past MAX_ARG_STRLEN (32 pages): the kernel refuses. */
	memset(big, 'a', sizeof(big) - 1);
	start(ALLOW);
	cr_assert_eq(
	    ew_shim_check(EW_VIA_EXECV, "/bin/sh", 0, argv, NULL, NULL, &fd),
	    -E2BIG);
	cr_assert_eq(fd, -1);
	stop();
	cr_assert_eq(br.accepted, 0, "not asked");
}
