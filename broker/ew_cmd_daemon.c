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

#include "backstop/ew_backstop.h"
#include "ew_broker.h"
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

struct daemon {
	struct ew_broker br;
	struct ew_session sess;
	bool listening;
	bool stopping;
	ev_signal sig_w[4];
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
		if (ew_rules_reload(&d->br.rules) == 0)
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

int
ew_cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "rules", required_argument, NULL, 'r' },
		{ "audit", required_argument, NULL, 'A' },
		{ "audit-sync", required_argument, NULL, 'A' },
		{ "audit-max-bytes", required_argument, NULL, 'A' },
		{ "audit-keep", required_argument, NULL, 'A' },
		{ "audit-full", required_argument, NULL, 'A' },
		{ "on-prompt", required_argument, NULL, 'P' },
		{ "allow-uid", required_argument, NULL, 'u' },
		{ "preserve-program-paths", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGQUIT };
	struct daemon d;
	struct ew_audit_conf ac;
	char **rules = NULL, audit_path[PATH_MAX], err[PATH_MAX + 256];
	const char *listen_path = NULL;
	enum ew_on_prompt on_prompt = EW_ON_PROMPT_DENY;
	uid_t *uids = NULL;
	size_t nrules = 0, nuids = 0, i;
	bool loaded = false;
	int ch, idx, r, fd, code = 2;

	memset(&d, 0, sizeof(d));
	ew_audit_conf_init(&ac);
	if ((rules = calloc((size_t)argc + 1, sizeof(*rules))) == NULL ||
	    (uids = calloc((size_t)argc + 1, sizeof(*uids))) == NULL)
		ew_fatal("out of memory");
	d.br.popts.heuristics = true;
	d.br.popts.split_shell = true;
	d.br.popts.resolve_host_executables = true;
	d.br.popts.programs_asked = true;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		switch (ch) {
		case 'l':
			listen_path = optarg;
			break;
		case 'r':
			rules[nrules++] = optarg;
			break;
		case 'A':
			if (ew_audit_conf_option(&ac, opts[idx].name, optarg,
				err, sizeof(err)) != 0) {
				fprintf(stderr, "execward daemon: %s\n", err);
				goto out;
			}
			break;
		case 'P':
			if (strcmp(optarg, "deny") == 0)
				on_prompt = EW_ON_PROMPT_DENY;
			else if (strcmp(optarg, "allow") == 0)
				on_prompt = EW_ON_PROMPT_ALLOW;
			else {
				fprintf(stderr,
				    "execward daemon: --on-prompt: expected "
				    "deny or allow (nobody is there to ask), "
				    "not %s\n",
				    optarg);
				goto out;
			}
			break;
		case 'u':
			if (nuids >= EW_BROKER_ALLOW_UIDS_MAX) {
				fprintf(stderr,
				    "execward daemon: --allow-uid: at most %d "
				    "uids\n",
				    EW_BROKER_ALLOW_UIDS_MAX);
				goto out;
			}
			if (parse_uid(optarg, &uids[nuids]) != 0) {
				fprintf(stderr,
				    "execward daemon: --allow-uid: not a uid "
				    "or user name: %s\n",
				    optarg);
				goto out;
			}
			nuids++;
			break;
		case 'k':
			d.br.popts.preserve_program_paths = true;
			break;
		case 'h':
			usage(stdout);
			code = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "execward daemon: unexpected argument: %s\n",
		    argv[optind]);
		usage(stderr);
		goto out;
	}
	fd = inherited_fd();
	if (listen_path == NULL && fd < 0) {
		fprintf(stderr,
		    "execward daemon: --listen SOCKET is required (or "
		    "systemd socket activation)\n");
		usage(stderr);
		goto out;
	}
	if (ew_audit_conf_default_path(&ac, audit_path, sizeof(audit_path)) !=
	    0) {
		fprintf(stderr,
		    "execward daemon: no HOME or XDG_STATE_HOME: give "
		    "--audit FILE\n");
		goto out;
	}
	if (ew_rules_load(&d.br.rules, rules, nrules, NULL) != 0)
		goto out;
	loaded = true;
	d.br.uid = getuid();
	d.br.allow_uids = uids;
	d.br.nallow_uids = nuids;
	raise_nofile();
	if ((d.br.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		ew_fatal("cannot start the event loop (libev)");
	if ((r = ew_audit_open_conf(&ac, d.br.loop, &d.br.audit)) != 0) {
		fprintf(stderr, "execward daemon: open audit log %s: %s\n",
		    ac.path, ac.why[0] != '\0' ? ac.why : strerror(-r));
		goto out;
	}
	/* Trees started by `execward launch` hand us their backstop. */
	if (ew_backstop_new_handover(&d.br, &d.br.backstop) != 0)
		ew_fatal("out of memory");
	if ((r = ew_session_listen(&d.sess, &d.br, on_prompt, listen_path, fd,
		 err, sizeof(err))) != 0) {
		fprintf(stderr, "execward daemon: %s\n", err);
		goto out;
	}
	d.listening = true;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev_signal_init(
		    &d.sig_w[i], ew_broker_on_daemon_signal, sigs[i]);
		d.sig_w[i].data = &d;
		ev_signal_start(d.br.loop, &d.sig_w[i]);
	}
	ev_prepare_init(&d.idle_w, ew_broker_on_idle);
	d.idle_w.data = &d;
	ev_timer_init(&d.grace_w, ew_broker_on_grace, EW_DAEMON_GRACE_S, 0.);
	d.grace_w.data = &d;
	ew_log(EW_LOG_INFO, "daemon: listening on %s%s; audit log %s%s",
	    d.sess.sockpath[0] != '\0' ? d.sess.sockpath
				       : "an inherited socket",
	    fd >= 0 ? " (socket activation)" : "", ac.path,
	    ac.syslog ? " and syslog" : "");
	ev_run(d.br.loop, 0);
	code = 0;
out:
	if (d.br.loop != NULL) {
		for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			ev_signal_stop(d.br.loop, &d.sig_w[i]);
		ev_prepare_stop(d.br.loop, &d.idle_w);
		ev_timer_stop(d.br.loop, &d.grace_w);
	}
	if (d.listening)
		ew_session_close(&d.sess);
	ew_backstop_free(d.br.backstop);
	ew_audit_close(d.br.audit);
	ew_buf_free(d.br.rbuf);
	if (loaded)
		ew_rules_fini(&d.br.rules);
	free(uids);
	free(rules);
	return code;
}
