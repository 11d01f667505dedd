/*
 * execward-escalate TOKEN: the only door out of the sandbox.
 *
 * libexecward.so runs this in place of a program the broker escalated (the
 * exec family execs it in the caller's process; posix_spawn, system and
 * popen spawn it), so the caller keeps the pid, fds and wait status it
 * expects. It hands the token, its environment and fds 0, 1 and 2 to the
 * broker (EXECWARD_SOCKET), which starts the approved program outside the
 * sandbox on those fds; then it forwards SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT, and ends as the program ended: the same exit status, or death
 * by the same signal.
 *
 * The broker may instead answer CONFINE: the program is not to leave the
 * sandbox (no allow rule lets it out, or it failed the checks of
 * ew_escalate_check), yet it was asked about by an escalated program,
 * which runs outside. Then the helper is the mirror of the above: it
 * applies the session's sandbox to itself (the Landlock ruleset arrives
 * as an fd, the seccomp filter as bytes), points its environment at the
 * session's inside socket, and execs the program in its own place.
 *
 * Exit status 126 (as a shell's "cannot execute") when the broker refuses
 * or cannot be reached, with one line on stderr saying why; 127 when a
 * program to confine does not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ew_buf.h"
#include "ew_env.h"
#include "ew_err.h"
#include "ew_fd.h"
#include "ew_proto.h"
#include "ew_range.h"
#include "ew_sandbox_int.h"
#include "ew_sock.h"

extern char **environ;

/* Refused, or the broker could not be asked. */
#define EXIT_REFUSED 126
/* A program to confine that does not exist (a shell's "not found"). */
#define EXIT_NOT_FOUND 127
/* Connecting to a full backlog waits at most this long. */
#define CONNECT_MS 2000
/* The broker answers a hand-over at once; this bounds a broken one. */
#define ANSWER_MS_DEFAULT 10000

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NFORWARDED (sizeof(forwarded) / sizeof(*forwarded))

static int quiet;

/* Room for one line said on stderr; a longer one is cut. */
#define EW_HELPER_SAY_MAX 1024

/*
 * "execward: <what>\n" on stderr in one write(2): stderr is unbuffered,
 * and the broker or another program writing there at the same moment
 * must not land in the middle of the line.
 */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	char line[EW_HELPER_SAY_MAX];
	va_list ap;
	int n;

	if (quiet)
		return;
	n = snprintf(line, sizeof(line), "execward: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/*
 * Open /dev/null on any of 0, 1, 2 that is closed: all three travel.
 * filled[fd] says which, so that a program confined in place gets them
 * closed again, as its caller left them.
 */
static void
fill_stdio(int filled[3])
{
	int fd;

	filled[0] = filled[1] = filled[2] = 0;
	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			if (open("/dev/null", O_RDWR) < 0)
				return;
			filled[fd] = 1;
		}
	}
}

/*
 * Are we in the foreground of a terminal on our stdio? Then the broker put
 * the program in our process group (ew_escalate_run.c), and what the
 * terminal sends (^C, ^\, hang-up: si_code SI_KERNEL) reaches it directly.
 */
static int
tty_foreground(void)
{
	pid_t pg = getpgrp();
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (isatty(fd) && tcgetpgrp(fd) == pg)
			return 1;
	return 0;
}

/*
 * Wait for one message on fd into b; 0 or -errno / -EW_E_*. With rfd, one
 * fd may come with it (CLOEXEC), else -1.
 */
static int
recv_msg(int fd, struct ew_buf *b, int ms, uint32_t *typep, int *rfd)
{
	size_t n = 0;
	int r;

	if (rfd != NULL)
		*rfd = -1;
	if ((r = ew_sock_wait(fd, POLLIN, ms)) < 0)
		return r;
	ew_buf_reset(b);
	if ((r = ew_proto_recv(fd, b, rfd, rfd != NULL ? 1 : 0, &n)) != 0)
		return r;
	if (rfd != NULL && n == 0)
		*rfd = -1;
	return ew_proto_get_header(b, typep);
}

/* envp with EXECWARD_SOCKET=socket in place of its own; NULL: no memory. */
static char **
env_with_socket(const char *socket)
{
	static const char name[] = EW_ENV_SOCKET "=";
	size_t n = 0, k = 0, i;
	char **env, *entry;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL ||
	    (entry = malloc(sizeof(name) + strlen(socket))) == NULL) {
		free(env);
		return NULL;
	}
	strcpy(entry, name);
	strcat(entry, socket);
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], name, sizeof(name) - 1) != 0)
			env[k++] = environ[i];
	env[k++] = entry;
	env[k] = NULL;
	return env;
}

/*
 * CONFINE: apply the session's sandbox to ourselves and become the
 * program. The exec is the raw system call: a libexecward.so loaded into
 * this helper (a build that is not static) must not ask about it again.
 * Its shim asks on the inside socket from then on, as every confined
 * process does, so a tree of confinements never stacks up sandboxes.
 */
static void __attribute__((noreturn)) confine(
    struct ew_buf *b, int ruleset, const sigset_t *mask, const int filled[3])
{
	struct ew_msg_confine *m = NULL;
	struct ew_sandbox sb;
	char **env, **shv;
	char *const *renv;
	uintptr_t range;
	size_t i;
	int r, e;

	if (ruleset < 0 || (r = ew_proto_get_confine(b, &m)) != 0) {
		say("denied: confinement: %s",
		    ruleset < 0 ? "no sandbox came with it" : ew_err_str(r));
		exit(EXIT_REFUSED);
	}
	if ((env = env_with_socket(m->socket)) == NULL) {
		say("denied: confinement: out of memory");
		exit(EXIT_REFUSED);
	}
	memset(&sb, 0, sizeof(sb));
	sb.mode = EW_SANDBOX_WORKSPACE_WRITE; /* not used by apply */
	sb.ruleset = ruleset;
	sb.prog.len = (unsigned short)(m->bpf_len / sizeof(struct sock_filter));
	sb.prog.filter = m->bpf;
	if ((r = ew_sandbox_apply(&sb)) != 0) {
		say("denied: confinement: apply the sandbox: %s", strerror(-r));
		exit(EXIT_REFUSED);
	}
	close(ruleset);
	for (i = 0; i < 3; i++)
		if (filled[i])
			close((int)i);
	(void)sigprocmask(SIG_SETMASK, mask, NULL);
	/*
	 * The confinement was decided and recorded: its exec passes the
	 * kernel backstop's filter with its envp in the range.
	 */
	if (ew_range_parse(getenv(EW_RANGE_ENV), &range) == 0 &&
	    ew_range_use(range) == 0 && ew_range_put(range, env, &renv) >= 0)
		env = (char **)(uintptr_t)renv;
	(void)syscall(SYS_execve, m->path, m->argv, env);
	e = errno;
	if (e == ENOEXEC && (m->flags & EW_PROTO_CONFINE_SH_FALLBACK) &&
	    (shv = calloc(m->argc + 2, sizeof(*shv))) != NULL) {
		/* As execvp runs a file without "#!". */
		shv[0] = (char *)"sh";
		shv[1] = m->path;
		for (i = 1; i < m->argc; i++)
			shv[i + 1] = m->argv[i];
		(void)syscall(SYS_execve, "/bin/sh", shv, env);
		e = errno;
	}
	say("%s: %s", m->path, strerror(e));
	exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_REFUSED);
}

/* Die as the program died, or exit with its status. */
static void __attribute__((noreturn)) end_like(int status)
{
	struct rlimit none = { 0, 0 };
	sigset_t set;
	int sig;

	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	if (!WIFSIGNALED(status))
		exit(EXIT_REFUSED);
	sig = WTERMSIG(status);
	/* The program's core is the program's; none of ours besides it. */
	(void)setrlimit(RLIMIT_CORE, &none);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
	exit(128 + sig);
}

/*
 * Block the signals to forward into a signalfd from now on, so none is
 * lost before the program exists; mask gets the mask as it was. One our
 * caller ignores is not passed on (skip): the program ignores it too (the
 * broker copies SigIgn). The signalfd, or -1 (said).
 */
static int
catch_forwarded(char skip[NSIG], sigset_t *mask)
{
	struct sigaction old;
	sigset_t fwd;
	size_t i;
	int sfd;

	memset(skip, 0, NSIG);
	sigemptyset(&fwd);
	for (i = 0; i < NFORWARDED; i++) {
		if (sigaction(forwarded[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			skip[forwarded[i]] = 1;
		sigaddset(&fwd, forwarded[i]);
	}
	if (sigprocmask(SIG_BLOCK, &fwd, mask) != 0 ||
	    (sfd = signalfd(-1, &fwd, SFD_CLOEXEC)) < 0) {
		say("denied: escalation: signalfd: %s", strerror(errno));
		return -1;
	}
	return sfd;
}

/*
 * Hand the token, our environment and fds 0, 1 and 2 to the broker on
 * sock, and read its answer into b. The connection once the program runs
 * outside, or -1 when refused (said). A CONFINE answer does not return:
 * we become the program, confined (mask and filled as confine wants).
 */
static int
hand_over(const char *sock, const char *token, struct ew_buf *b,
    const sigset_t *mask, const int filled[3])
{
	struct ew_msg_answer ans;
	int fds[3] = { 0, 1, 2 }, fd, r, rfd = -1;
	uint32_t type;

	if ((r = ew_proto_put_escalate(b, token, environ)) != 0) {
		say("denied: escalation: token or environment: %s",
		    ew_err_str(r));
		return -1;
	}
	if ((fd = ew_sock_connect(sock, CONNECT_MS)) < 0) {
		say("denied: escalation: broker unreachable: %s: %s", sock,
		    ew_err_str(fd));
		return -1;
	}
	if ((r = ew_proto_send(fd, b, fds, 3)) != 0) {
		say("denied: escalation: send to %s: %s", sock, ew_err_str(r));
		return -1;
	}
	ew_buf_reset(b);
	r = recv_msg(fd, b, ANSWER_MS_DEFAULT, &type, &rfd);
	if (r == 0 && type == EW_MSG_CONFINE)
		confine(b, rfd, mask, filled);
	if (rfd >= 0)
		rfd = ew_fd_close(rfd);
	if (r == 0 && type != EW_MSG_ANSWER)
		r = -EW_E_TYPE;
	if (r == 0)
		r = ew_proto_get_answer(b, &ans);
	if (r != 0) {
		say("denied: escalation: %s: %s",
		    r == -EW_E_CLOSED ? "the broker closed the connection"
				      : "no answer from the broker",
		    ew_err_str(r));
		return -1;
	}
	if (ans.verdict != EW_VERDICT_ALLOW) {
		say("denied: escalation refused: %s",
		    ans.reason[0] != '\0' ? ans.reason : "by the broker");
		return -1;
	}
	return fd;
}

/*
 * The program has our stdin and stdout now; let go of them, so a reader
 * sees EOF and a writer EPIPE when the program, not we, lets go. stderr
 * stays, for a broker that vanishes.
 */
static void
let_go_of_stdio(void)
{
	int i, null;

	for (i = 0; i < 2; i++) {
		if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
			(void)dup2(null, i);
			close(null);
		}
	}
}

/*
 * Until the program exits: signals from sfd go to the broker on fd (not
 * those in skip, nor, in the terminal's foreground fg, the terminal's
 * own), and its exit status comes back into *status. 0, or -1 (said).
 */
static int
relay(int fd, int sfd, struct ew_buf *b, const char skip[NSIG], int fg,
    int *status)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	uint32_t type;
	int r, sig;

	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			say("escalation: poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				continue;
			sig = (int)si.ssi_signo;
			if (sig <= 0 || sig >= NSIG || skip[sig] ||
			    (fg && si.ssi_code == SI_KERNEL))
				continue;
			ew_buf_reset(b);
			if (ew_proto_put_signal(b, sig) == 0)
				(void)ew_proto_send(fd, b, NULL, 0);
			continue;
		}
		if (pfd[0].revents == 0)
			continue;
		r = recv_msg(fd, b, 0, &type, NULL);
		if (r == 0 && type == EW_MSG_EXIT &&
		    ew_proto_get_exit(b, status) == 0)
			return 0;
		if (r == 0 && type == EW_MSG_HEARTBEAT)
			continue;
		say("escalation: %s: %s",
		    r == -EW_E_CLOSED ? "the broker closed the connection"
				      : "bad message from the broker",
		    ew_err_str(r != 0 ? r : -EW_E_TYPE));
		return -1;
	}
}

int
main(int argc, char **argv)
{
	struct ew_buf *b = NULL;
	sigset_t mask;
	const char *sock = getenv(EW_ENV_SOCKET);
	char skip[NSIG];
	int fd, sfd, fg, status, filled[3];

	quiet = ew_env_quiet(getenv(EW_ENV_QUIET));
	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr,
		    "usage: execward-escalate TOKEN\n(libexecward.so runs it "
		    "for a program the execward broker escalates)\n");
		return 2;
	}
	if (sock == NULL || *sock == '\0') {
		say("denied: escalation: EXECWARD_SOCKET is not set");
		return EXIT_REFUSED;
	}
	if ((sfd = catch_forwarded(skip, &mask)) < 0)
		return EXIT_REFUSED;
	fill_stdio(filled);
	fg = tty_foreground();
	if ((b = ew_buf_new(EW_PROTO_MSG_MAX)) == NULL) {
		say("denied: escalation: out of memory");
		return EXIT_REFUSED;
	}
	if ((fd = hand_over(sock, argv[1], b, &mask, filled)) < 0)
		return EXIT_REFUSED;
	let_go_of_stdio();
	if (relay(fd, sfd, b, skip, fg, &status) != 0)
		return EXIT_REFUSED;
	ew_fd_close(fd);
	ew_buf_free(b);
	end_like(status);
}
