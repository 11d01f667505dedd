/* `execward daemon`: a lasting broker on a socket, for agent sandboxes. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_cmd.h"
#include "ew_cmd_setup.h"
#include "ew_log.h"
#include "ew_paths.h"

/* systemd passes sockets from fd 3 on (sd_listen_fds(3)). */
#define EW_DAEMON_LISTEN_FDS_START 3
/* After SIGTERM, connected clients get this long to be answered. */
#define EW_DAEMON_GRACE_S 5.0
/*
 * The soft RLIMIT_NOFILE is raised to the hard one, up to this: more
 * connections at once for the uids served (each gets an equal share).
 */
#define EW_DAEMON_NOFILE_MAX 65536

/* The signals the daemon handles (watch_signals). */
#define EW_DAEMON_NSIGS 4

struct daemon {
	struct ew_cmd cmd; /* the broker */
	struct ew_session sess;
	const char *listen_path;
	uid_t *uids; /* --allow-uid */
	size_t nuids;
	bool listening;
	bool stopping;
	ev_signal sig_w[EW_DAEMON_NSIGS];
	ev_prepare idle_w; /* after SIGTERM: stop once nobody waits */
	ev_timer grace_w;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: execward daemon --listen SOCKET [--rules PATH]...\n"
	    "                       [--audit FILE|syslog]... "
	    "[--audit-sync none|batch|always]\n"
	    "                       [--audit-max-bytes SIZE] "
	    "[--audit-keep N]\n"
	    "                       [--audit-full rotate|deny]\n"
	    "                       [--on-prompt deny|allow] "
	    "[--allow-uid UID]...\n"
	    "                       [--preserve-program-paths]\n"
	    "\n"
	    "Decides, for shims on SOCKET (LD_PRELOAD=libexecward.so and\n"
	    "EXECWARD_SOCKET=SOCKET), which programs may run, and audits\n"
	    "each decision. Under systemd socket activation (LISTEN_FDS)\n"
	    "the inherited socket is used and --listen only names it.\n"
	    "SIGHUP reloads the rules; SIGTERM answers what is pending and\n"
	    "exits. A tree started by `execward launch -- COMMAND` hands\n"
	    "the daemon its kernel backstop: the programs the shim does\n"
	    "not see are decided too.\n");
}

/*
 * The socket systemd passed us, or -1. Only for us (LISTEN_PID), and the
 * variables are removed so that nothing we start inherits them.
 */
static int
inherited_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long p, n;
	int fd = -1;

	if (pid == NULL || fds == NULL)
		goto out;
	errno = 0;
	p = strtol(pid, &end, 10);
	if (errno != 0 || *end != '\0' || p != (long)getpid())
		goto out;
	n = strtol(fds, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1)
		goto out;
	if (n > 1)
		ew_log(EW_LOG_WARN,
		    "systemd passed %ld sockets: serving the first (fd %d)", n,
		    EW_DAEMON_LISTEN_FDS_START);
	fd = EW_DAEMON_LISTEN_FDS_START;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fd;
}

/* A uid as a number or a user name; -EINVAL otherwise. */
static int
parse_uid(const char *s, uid_t *out)
{
	struct passwd *pw;
	unsigned long v;
	char *end;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno != 0 || *end != '\0' || v >= (uid_t)-1)
			return -EINVAL;
		*out = (uid_t)v;
		return 0;
	}
	if ((pw = getpwnam(s)) == NULL)
		return -EINVAL;
	*out = pw->pw_uid;
	return 0;
}

/*
 * Raise the soft fd limit toward the hard one: libev uses epoll, so fds
 * past 1024 are fine here (select(2) is why the soft limit is low).
 */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	want =
	    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > EW_DAEMON_NOFILE_MAX
	    ? EW_DAEMON_NOFILE_MAX
	    : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
ew_broker_on_idle(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct daemon *d = w->data;

	if (d->sess.nclients == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
ew_broker_on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;

	ew_log(EW_LOG_WARN,
	    "%zu connections still unanswered after %.0f s: closing them",
	    d->sess.nclients, EW_DAEMON_GRACE_S);
	ev_break(loop, EVBREAK_ALL);
}

static void
ew_broker_on_daemon_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;

	if (w->signum == SIGHUP) {
		if (ew_broker_rules_reload(&d->cmd.br) == 0)
			ew_log(EW_LOG_INFO, "rules reloaded");
		return;
	}
	if (d->stopping)
		return;
	d->stopping = true;
	/* Queued connections are taken first: they are answered too. */
	ew_session_stop_listening(&d->sess);
	ew_log(EW_LOG_INFO, "signal %d: stopping after %zu pending answers",
	    w->signum, d->sess.nclients);
	ev_prepare_start(loop, &d->idle_w);
	ev_timer_start(loop, &d->grace_w);
}

/* daemon's own options: 1 taken, -1 bad (said), 0 not one of them. */
static int
daemon_option(struct daemon *d, int ch, const char *arg)
{
	switch (ch) {
	case 'l':
		d->listen_path = arg;
		return 1;
	case 'u':
		if (d->nuids >= EW_BROKER_ALLOW_UIDS_MAX) {
			fprintf(stderr,
			    "execward daemon: --allow-uid: at most %d uids\n",
			    EW_BROKER_ALLOW_UIDS_MAX);
			return -1;
		}
		if (parse_uid(arg, &d->uids[d->nuids]) != 0) {
			fprintf(stderr,
			    "execward daemon: --allow-uid: not a uid or user "
			    "name: %s\n",
			    arg);
			return -1;
		}
		d->nuids++;
		return 1;
	default:
		return 0;
	}
}

/* The options: -1 to go on, or the exit status (bad option, --help). */
static int
parse_options(struct daemon *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "rules", required_argument, NULL, EW_CMD_OPT_RULES },
		EW_CMD_AUDIT_OPTIONS,
		{ "on-prompt", required_argument, NULL, EW_CMD_OPT_ON_PROMPT },
		{ "allow-uid", required_argument, NULL, 'u' },
		{ "preserve-program-paths", no_argument, NULL,
		    EW_CMD_OPT_PRESERVE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, idx = 0, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		if ((r = ew_cmd_option(&d->cmd, ch, &opts[idx], optarg)) == 0 &&
		    (r = daemon_option(d, ch, optarg)) == 0) {
			usage(ch == 'h' ? stdout : stderr);
			return ch == 'h' ? 0 : 2;
		}
		if (r < 0)
			return 2;
	}
	if (optind < argc) {
		ew_cmd_unexpected(&d->cmd, argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Stop (answering what is pending first) or reload, on a signal. */
static void
watch_signals(struct daemon *d)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGQUIT };
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < EW_DAEMON_NSIGS; i++) {
		ev_signal_init(
		    &d->sig_w[i], ew_broker_on_daemon_signal, sigs[i]);
		d->sig_w[i].data = d;
		ev_signal_start(d->cmd.br.loop, &d->sig_w[i]);
	}
	ev_prepare_init(&d->idle_w, ew_broker_on_idle);
	d->idle_w.data = d;
	ev_timer_init(&d->grace_w, ew_broker_on_grace, EW_DAEMON_GRACE_S, 0.);
	d->grace_w.data = d;
}

/*
 * The socket (inherited from systemd, or --listen), the rules, the audit
 * log. -1 to go on, or the exit status.
 */
static int
start(struct daemon *d)
{
	char err[PATH_MAX + 256];
	int fd = inherited_fd();

	if (d->listen_path == NULL && fd < 0) {
		fprintf(stderr,
		    "execward daemon: --listen SOCKET is required (or systemd "
		    "socket activation)\n");
		usage(stderr);
		return 2;
	}
	/* Inside another session: its broker decides with us. */
	if (ew_cmd_audit_path(&d->cmd) != 0 ||
	    ew_cmd_load_rules(&d->cmd) != 0 ||
	    ew_cmd_chain(&d->cmd, d->listen_path) != 0)
		return 2;
	d->cmd.br.allow_uids = d->uids;
	d->cmd.br.nallow_uids = d->nuids;
	raise_nofile();
	if (ew_cmd_open(&d->cmd) != 0)
		return 2;
	/* Trees started by `execward launch` hand us their backstop. */
	ew_cmd_backstop(&d->cmd, true);
	if (ew_session_listen(&d->sess, &d->cmd.br, d->cmd.on_prompt,
		d->listen_path, fd, err, sizeof(err)) != 0) {
		fprintf(stderr, "execward daemon: %s\n", err);
		return 2;
	}
	d->listening = true;
	watch_signals(d);
	ew_log(EW_LOG_INFO, "daemon: listening on %s%s; audit log %s%s",
	    d->sess.sockpath[0] != '\0' ? d->sess.sockpath
					: "an inherited socket",
	    fd >= 0 ? " (socket activation)" : "", d->cmd.ac.path,
	    d->cmd.ac.syslog ? " and syslog" : "");
	return -1;
}

int
ew_cmd_daemon(int argc, char **argv)
{
	struct daemon d;
	size_t i;
	int code;

	memset(&d, 0, sizeof(d));
	ew_cmd_init(
	    &d.cmd, "daemon", argc, EW_ON_PROMPT_DENY, false, EW_SANDBOX_NONE);
	if ((d.uids = calloc((size_t)argc + 1, sizeof(*d.uids))) == NULL)
		ew_fatal("out of memory");
	if ((code = parse_options(&d, argc, argv)) >= 0 ||
	    (code = start(&d)) >= 0)
		goto out;
	ev_run(d.cmd.br.loop, 0);
	code = 0;
out:
	if (d.cmd.br.loop != NULL) {
		for (i = 0; i < EW_DAEMON_NSIGS; i++)
			ev_signal_stop(d.cmd.br.loop, &d.sig_w[i]);
		ev_prepare_stop(d.cmd.br.loop, &d.idle_w);
		ev_timer_stop(d.cmd.br.loop, &d.grace_w);
	}
	if (d.listening)
		ew_session_close(&d.sess);
	ew_cmd_fini(&d.cmd);
	free(d.uids);
	return code;
}
