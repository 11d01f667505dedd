/*
 * The daemon's kernel backstop. The daemon starts no command, so a tree
 * that wants one begins with `execward launch -- COMMAND`: it installs the
 * filter on itself, hands the listener to the broker on EXECWARD_SOCKET
 * (a BACKSTOP message, the fd attached; the broker knows who by
 * SO_PEERCRED, as for every question, and serves only the uids it
 * serves), sets EXECWARD_RANGE and execs COMMAND. That exec is asked
 * about by the shim, when one is loaded, and caught by the filter, which
 * the shim's range (of no session yet) does not pass: the broker matches
 * it to the shim's question (ew_backstop_match.c), or decides it as a
 * start the kernel saw.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_backstop_int.h"
#include "ew_broker.h"
#include "ew_buf.h"
#include "ew_err.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_sock.h"

/* How long to wait for a full backlog, and for the broker's answer. */
#define EW_LAUNCH_CONNECT_MS 2000
#define EW_LAUNCH_ANSWER_MS 10000
/* What the kernel calls a listener's file (readlink of its fd). */
#define EW_BACKSTOP_LISTENER_LINK "anon_inode:seccomp notify"
/* Exit statuses, as a shell's: not run, not found. */
#define EW_LAUNCH_EXIT_REFUSED 126
#define EW_LAUNCH_EXIT_NOT_FOUND 127

/* Is fd a seccomp listener? */
static bool
is_listener(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return strcmp(link, EW_BACKSTOP_LISTENER_LINK) == 0;
}

static void
answer(struct ew_client *c, uint32_t verdict, const char *reason)
{
	unsigned char mem[EW_PROTO_REASON_MAX + 128];
	struct ew_buf b;

	ew_buf_init(&b, mem, sizeof(mem));
	if (ew_proto_put_answer(&b, verdict, reason, NULL) == 0)
		(void)ew_proto_send(c->fd, &b, NULL, 0);
}

enum ew_client_state
ew_backstop_on_handover(void *arg, struct ew_client *c, int *fds, size_t nfds)
{
	struct ew_backstop *b = arg;
	struct ew_backstop_listener *l;
	const char *why = NULL;

	if (b->state != EW_BACKSTOP_HANDOVER)
		why = "this broker takes no kernel backstop (execward daemon "
		      "does; execward run and mcp install their own)";
	else if (nfds != 1 || !is_listener(fds[0]))
		why = "what came is not a seccomp listener";
	if (why != NULL) {
		ew_fd_close_all(fds, nfds);
		answer(c, EW_VERDICT_DENY, why);
		return EW_CLIENT_CLOSED;
	}
	if ((l = ew_backstop_listener_add(b, c->sess, false, fds[0])) == NULL) {
		answer(c, EW_VERDICT_DENY, "out of memory");
		return EW_CLIENT_CLOSED;
	}
	fds[0] = -1;
	ew_backstop_listen(l);
	ew_log(EW_LOG_DEBUG, "backstop: the tree of pid %d (uid %u) is watched",
	    (int)c->peer_pid, (unsigned)c->peer_uid);
	answer(c, EW_VERDICT_ALLOW, NULL);
	return EW_CLIENT_CLOSED;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: execward launch [--socket SOCKET] -- COMMAND [ARG]...\n"
	    "\n"
	    "Installs the kernel backstop (a seccomp filter on execve and\n"
	    "execveat) on itself, hands its listener to the broker on\n"
	    "SOCKET (default: $EXECWARD_SOCKET; an execward daemon), then\n"
	    "execs COMMAND: the programs below it that the shim does not\n"
	    "see (static binaries, Go, raw system calls) are decided by\n"
	    "that broker too. Set-user-ID programs then run without their\n"
	    "privileges (no_new_privs).\n");
}

/* Hand fd to the broker at path; 0, or -errno with why in err. */
static int
handover(const char *path, int fd, char *err, size_t errlen)
{
	unsigned char mem[EW_PROTO_REASON_MAX + 256];
	struct ew_msg_answer a;
	struct ew_buf b;
	uint32_t type;
	int s, r;

	if ((s = ew_sock_connect(path, EW_LAUNCH_CONNECT_MS)) < 0) {
		snprintf(err, errlen, "connect %s: %s", path, ew_err_str(s));
		return s;
	}
	ew_buf_init(&b, mem, sizeof(mem));
	if ((r = ew_proto_put_header(&b, EW_MSG_BACKSTOP)) != 0 ||
	    (r = ew_proto_send(s, &b, &fd, 1)) != 0) {
		snprintf(err, errlen, "send to %s: %s", path, ew_err_str(r));
		goto out;
	}
	if ((r = ew_sock_wait(s, POLLIN, EW_LAUNCH_ANSWER_MS)) < 0) {
		snprintf(err, errlen, "%s did not answer", path);
		goto out;
	}
	ew_buf_init(&b, mem, sizeof(mem));
	if ((r = ew_proto_recv(s, &b, NULL, 0, NULL)) != 0 ||
	    (r = ew_proto_get_header(&b, &type)) != 0 ||
	    (type != EW_MSG_ANSWER && (r = -EW_E_TYPE) != 0) ||
	    (r = ew_proto_get_answer(&b, &a)) != 0) {
		snprintf(
		    err, errlen, "answer from %s: %s", path, ew_err_str(r));
		goto out;
	}
	if (a.verdict != EW_VERDICT_ALLOW) {
		snprintf(err, errlen, "%s refused it: %s", path,
		    a.reason[0] != '\0' ? a.reason : "refused");
		r = -EPERM;
	}
out:
	close(s);
	return r;
}

int
ew_cmd_launch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ew_backstop b;
	char err[EW_PROTO_REASON_MAX + 512], text[EW_RANGE_TEXT_MAX];
	const char *sock = getenv("EXECWARD_SOCKET");
	uintptr_t lo;
	int ch, fd, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "execward launch: no COMMAND given\n");
		usage(stderr);
		return 2;
	}
	if (sock == NULL || *sock == '\0') {
		fprintf(stderr,
		    "execward launch: no broker: give --socket or set "
		    "EXECWARD_SOCKET\n");
		return 2;
	}
	memset(&b, 0, sizeof(b));
	if ((r = ew_backstop_pick_range(&lo)) != 0 ||
	    (r = ew_backstop_filter(&b, lo)) != 0) {
		fprintf(stderr, "execward launch: the kernel backstop: %s\n",
		    r == -EOPNOTSUPP ? "not built for this architecture"
				     : "no free address range");
		return EW_LAUNCH_EXIT_REFUSED;
	}
	if ((fd = ew_backstop_install(&b)) == -EBUSY) {
		/* Another listener's tree: it covers ours. */
		fprintf(stderr,
		    "execward launch: note: another seccomp listener (an "
		    "outer session's backstop) already watches this process, "
		    "and the kernel allows one: %s runs under it\n",
		    argv[optind]);
	} else if (fd < 0) {
		fprintf(stderr,
		    "execward launch: the kernel backstop: seccomp user "
		    "notification: %s\n",
		    strerror(-fd));
		return EW_LAUNCH_EXIT_REFUSED;
	} else {
		r = handover(sock, fd, err, sizeof(err));
		close(fd);
		/* Nobody holds the listener: every trapped start would fail. */
		if (r != 0) {
			fprintf(stderr, "execward launch: %s\n", err);
			return EW_LAUNCH_EXIT_REFUSED;
		}
		ew_range_format(lo, text);
		if (setenv(EW_RANGE_ENV, text, 1) != 0) {
			fprintf(stderr, "execward launch: setenv: %s\n",
			    strerror(errno));
			return EW_LAUNCH_EXIT_REFUSED;
		}
	}
	execvp(argv[optind], argv + optind);
	r = errno;
	fprintf(stderr, "execward launch: %s: %s\n", argv[optind], strerror(r));
	return r == ENOENT ? EW_LAUNCH_EXIT_NOT_FOUND : EW_LAUNCH_EXIT_REFUSED;
}
