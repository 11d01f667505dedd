/*
 * A scripted broker for the shim's tests: listens on a SEQPACKET socket,
 * answers each ASK by command-line rules and appends one line per ASK to a
 * log file.
 *
 * usage: ew_fake_broker --socket PATH --log FILE [--deny NAME]...
 *            [--reason TEXT] [--mode MODE] [--delay-ms N]
 *            [--failed-log FILE]
 *
 *   --deny NAME   deny when the basename of argv[0] or of the resolved
 *                 path is NAME (repeatable)
 *   --mode MODE   what to do with every other ASK:
 *                 allow (default), deny, silent (never answer), garbage
 *                 (answer bytes that are no message), close (close the
 *                 connection), heartbeat (a HEARTBEAT every 100 ms for
 *                 --delay-ms, then allow), escalate (ESCALATE "tok")
 *
 * Log line (tab-separated, argv joined by 0x1f):
 *   via file resolved cwd pid argc bytes argv
 *
 * --failed-log FILE: after each ALLOW, wait for how the start went and
 * append "resolved<TAB>errno" to FILE: the errno of the shim's FAILED, or
 * 0 for its hang-up (the start worked). Nothing when neither came.
 *
 * Prints "ready" on stdout once it listens, then closes stdout. Each
 * connection is served by a child of its own, so a silent answer does not
 * hold up the others. Ends on SIGTERM, or when its parent dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ew_buf.h"
#include "ew_err.h"
#include "ew_fd.h"
#include "ew_proto.h"
#include "ew_sock.h"

#define MAX_DENY 16
#define HEARTBEAT_MS 100

enum mode {
	MODE_ALLOW,
	MODE_DENY,
	MODE_SILENT,
	MODE_GARBAGE,
	MODE_CLOSE,
	MODE_HEARTBEAT,
	MODE_ESCALATE,
};

struct opts {
	const char *socket;
	const char *log;
	const char *deny[MAX_DENY];
	size_t ndeny;
	const char *reason;
	enum mode mode;
	long delay_ms;
	const char *failed_log;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ew_fake_broker --socket PATH --log FILE [--deny NAME]...\n"
	    "    [--reason TEXT] [--mode allow|deny|silent|garbage|close|"
	    "heartbeat|escalate] [--delay-ms N]\n");
	exit(2);
}

static enum mode
parse_mode(const char *s)
{
	static const char *const names[] = { "allow", "deny", "silent",
		"garbage", "close", "heartbeat", "escalate" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum mode)i;
	usage();
	return MODE_ALLOW;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->reason = "denied by the fake broker";
	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--socket") == 0)
			o->socket = argv[++i];
		else if (strcmp(argv[i], "--log") == 0)
			o->log = argv[++i];
		else if (strcmp(argv[i], "--deny") == 0) {
			if (o->ndeny == MAX_DENY)
				usage();
			o->deny[o->ndeny++] = argv[++i];
		} else if (strcmp(argv[i], "--reason") == 0)
			o->reason = argv[++i];
		else if (strcmp(argv[i], "--mode") == 0)
			o->mode = parse_mode(argv[++i]);
		else if (strcmp(argv[i], "--delay-ms") == 0)
			o->delay_ms = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--failed-log") == 0)
			o->failed_log = argv[++i];
		else
			usage();
	}
	if (o->socket == NULL || o->log == NULL)
		usage();
}

static const char *
base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s == NULL ? p : s + 1;
}

/* Append one line for m to the log, in one write. */
static void
log_ask(const struct opts *o, const struct ew_msg_ask *m)
{
	char *line = NULL;
	size_t len = 0, i;
	FILE *f;
	int fd;

	if ((f = open_memstream(&line, &len)) == NULL)
		exit(1);
	fprintf(f, "%s\t%s\t%s\t%s\t%ld\t%zu\t%zu\t", ew_proto_via_name(m->via),
	    m->file, m->resolved, m->cwd, (long)m->pid, m->argc, m->arg_bytes);
	for (i = 0; i < m->argc; i++)
		fprintf(f, "%s%s", i > 0 ? "\x1f" : "", m->argv[i]);
	fputc('\n', f);
	if (fclose(f) != 0)
		exit(1);
	fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, len) != (ssize_t)len) {
		perror("fake_broker: log");
		exit(1);
	}
	close(fd);
	free(line);
}

/* How long to wait for a FAILED after an ALLOW. */
#define FAILED_WAIT_MS 10000

/* After an ALLOW: log the shim's FAILED, if one comes. */
static void
await_failed(const struct opts *o, int fd, const struct ew_msg_ask *m)
{
	unsigned char mem[64];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct ew_buf b;
	uint32_t type;
	char line[EW_PROTO_PATH_MAX + 32];
	int err, lfd, n;

	if (o->failed_log == NULL || poll(&pfd, 1, FAILED_WAIT_MS) != 1)
		return;
	ew_buf_init(&b, mem, sizeof(mem));
	if ((err = ew_proto_recv(fd, &b, NULL, 0, NULL)) == -EW_E_CLOSED)
		err = 0;
	else if (err != 0 || ew_proto_get_header(&b, &type) != 0 ||
	    type != EW_MSG_FAILED || ew_proto_get_failed(&b, &err) != 0)
		return;
	n = snprintf(line, sizeof(line), "%s\t%d\n", m->resolved, err);
	lfd = open(
	    o->failed_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (lfd < 0 || write(lfd, line, (size_t)n) != n) {
		perror("fake_broker: failed log");
		exit(1);
	}
	close(lfd);
}

static int
denied(const struct opts *o, const struct ew_msg_ask *m)
{
	size_t i;

	for (i = 0; i < o->ndeny; i++) {
		if (strcmp(base(m->resolved), o->deny[i]) == 0)
			return 1;
		if (m->argc > 0 && strcmp(base(m->argv[0]), o->deny[i]) == 0)
			return 1;
	}
	return 0;
}

static void
send_msg(int fd, struct ew_buf *b)
{
	int r;

	if ((r = ew_proto_send(fd, b, NULL, 0)) != 0) {
		fprintf(stderr, "fake_broker: send: %s\n", ew_err_str(r));
		exit(1);
	}
	ew_buf_reset(b);
}

static void
answer(int fd, uint32_t verdict, const char *reason, const char *token)
{
	unsigned char mem[4096];
	struct ew_buf b;

	ew_buf_init(&b, mem, sizeof(mem));
	if (ew_proto_put_answer(&b, verdict, reason, token) != 0)
		exit(1);
	send_msg(fd, &b);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Serve one connection: read the ASK, log it, answer by the rules. */
static void
serve(const struct opts *o, int fd)
{
	struct ew_buf *b = ew_buf_new(EW_PROTO_MSG_MAX);
	unsigned char mem[64];
	struct ew_msg_ask *m = NULL;
	struct ew_buf hb;
	uint32_t type;
	long waited;
	char junk[16];
	int r;

	if (b == NULL)
		exit(1);
	if ((r = ew_proto_recv(fd, b, NULL, 0, NULL)) != 0 ||
	    (r = ew_proto_get_header(b, &type)) != 0 ||
	    (r = type == EW_MSG_ASK ? 0 : -EW_E_TYPE) != 0 ||
	    (r = ew_proto_get_ask(b, &m)) != 0) {
		fprintf(stderr, "fake_broker: bad ASK: %s\n", ew_err_str(r));
		exit(1);
	}
	log_ask(o, m);
	if (denied(o, m)) {
		answer(fd, EW_VERDICT_DENY, o->reason, NULL);
		goto out;
	}
	switch (o->mode) {
	case MODE_ALLOW:
		answer(fd, EW_VERDICT_ALLOW, NULL, NULL);
		await_failed(o, fd, m);
		break;
	case MODE_DENY:
		answer(fd, EW_VERDICT_DENY, o->reason, NULL);
		break;
	case MODE_SILENT:
		/* Hold the connection until the shim gives up. */
		while (read(fd, junk, sizeof(junk)) > 0)
			;
		break;
	case MODE_GARBAGE:
		if (ew_fd_send(fd, "garbage!", 8, NULL, 0) != 0)
			exit(1);
		break;
	case MODE_CLOSE:
		break;
	case MODE_HEARTBEAT:
		ew_buf_init(&hb, mem, sizeof(mem));
		for (waited = 0; waited < o->delay_ms; waited += HEARTBEAT_MS) {
			if (ew_proto_put_heartbeat(&hb) != 0)
				exit(1);
			send_msg(fd, &hb);
			sleep_ms(HEARTBEAT_MS);
		}
		answer(fd, EW_VERDICT_ALLOW, NULL, NULL);
		await_failed(o, fd, m);
		break;
	case MODE_ESCALATE:
		answer(fd, EW_VERDICT_ESCALATE, NULL, "tok");
		break;
	}
out:
	ew_msg_ask_free(m);
	ew_buf_free(b);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct pollfd pfd;
	int lfd, fd, devnull;
	pid_t pid;

	parse(argc, argv, &o);
	/* Nothing of the test's, and no life beyond it. */
	(void)syscall(SYS_close_range, 3U, ~0U, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* Children are reaped by the kernel. */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	(void)unlink(o.socket);
	if ((lfd = ew_sock_listen(o.socket, 128)) < 0) {
		fprintf(stderr, "fake_broker: listen %s: %s\n", o.socket,
		    ew_err_str(lfd));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if ((devnull = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	for (;;) {
		pfd.fd = lfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return 1;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if ((pid = fork()) == 0) {
			close(lfd);
			serve(&o, fd);
			_exit(0);
		}
		close(fd);
	}
}
