/* `execward run`: a private broker for one command tree. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backstop/ew_backstop.h"
#include "ew_broker.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_paths.h"
#include "ew_sandbox.h"
#include "ew_spawn.h"

extern char **environ;

struct run {
	struct ew_broker br;
	struct ew_session sess;
	struct ew_prompter *tty;
	char lib[PATH_MAX];
	char resolved[PATH_MAX];
	char **argv; /* COMMAND [ARG]... */
	const char *fail;
	struct ew_sandbox *sb; /* NULL: --sandbox none */
	bool escalated; /* COMMAND itself runs outside the sandbox */
	int exec_fd; /* the escalated COMMAND's file, checked; or -1 */
	struct ew_escalate_exe exe; /* and its path and identity */
	sigset_t ignored; /* ignored when we started: the command's too */
	pid_t child;
	int status;
	int exit_code;
	bool done;
	ev_child child_w;
	ev_signal sig_w[2];
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: execward run [--rules PATH]... [--audit FILE|syslog]...\n"
	    "                    [--audit-sync none|batch|always]\n"
	    "                    [--audit-max-bytes SIZE] [--audit-keep N]\n"
	    "                    [--audit-full rotate|deny]\n"
	    "                    [--on-prompt ask|deny|allow] "
	    "[--fail closed|open]\n"
	    "                    [--amend FILE] [--preserve-program-paths]\n"
	    "                    [--sandbox none|read-only|workspace-write]\n"
	    "                    [--keep-env NAME]... [--backstop on|off]\n"
	    "                    -- COMMAND [ARG]...\n"
	    "\n"
	    "--backstop on (the default) also decides the programs the shim\n"
	    "cannot see (static binaries, Go, raw execve system calls) with\n"
	    "a seccomp filter; the command then runs with no_new_privs, so\n"
	    "set-user-ID programs (sudo) run without their privileges:\n"
	    "--backstop off for a command that needs them.\n");
}

/* Say once why the command has no kernel backstop of our own. */
static void
backstop_note(const struct ew_backstop *b, const char *quiet)
{
	if (quiet != NULL && *quiet != '\0' && strcmp(quiet, "0") != 0)
		return;
	if (ew_backstop_state(b) == EW_BACKSTOP_OUTER)
		fprintf(stderr,
		    "execward: note: no kernel backstop of this session's "
		    "own: %s\n",
		    ew_backstop_why(b));
	else if (ew_backstop_state(b) == EW_BACKSTOP_UNAVAILABLE)
		fprintf(stderr,
		    "execward: warning: the kernel backstop is off: %s: "
		    "static binaries and raw execve calls are not asked "
		    "about\n",
		    ew_backstop_why(b));
}

static void
ew_broker_on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct run *run = w->data;
	int st = w->rstatus;

	if (WIFSTOPPED(st) || WIFCONTINUED(st))
		return;
	run->status = st;
	run->exit_code = WIFEXITED(st) ? WEXITSTATUS(st)
	    : WIFSIGNALED(st)          ? 128 + WTERMSIG(st)
				       : 1;
	run->done = true;
	ev_child_stop(loop, w);
	ev_break(loop, EVBREAK_ALL);
}

static void
ew_broker_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct run *run = w->data;

	/* SIGTERM and SIGHUP are meant for the command: pass them on. */
	if (run->child > 0)
		kill(run->child, w->signum);
}

/*
 * Start COMMAND on our stdio, in our process group, confined unless it was
 * escalated. Returns an errno (0 on success) and says why on stderr.
 */
static int
spawn_child(struct run *run)
{
	struct ew_spawn sp;
	char **env, err[1024];
	int r;

	/*
	 * Escalated, COMMAND's shim asks on the outside socket, so that what
	 * it starts without an allow rule is confined (ew_session_confine).
	 * Its environment is the user's own: nothing confined chose it.
	 */
	env = ew_session_env_at(&run->sess,
	    run->escalated && run->sess.sockpath_out[0] != '\0'
		? run->sess.sockpath_out
		: run->sess.sockpath,
	    run->lib, run->fail, environ);
	if (env == NULL)
		return ENOMEM;
	memset(&sp, 0, sizeof(sp));
	sp.path = run->resolved;
	if (run->escalated) {
		/* Exactly the file checked. */
		sp.path = run->exe.path;
		if (run->exec_fd >= 0) {
			sp.by_fd = true;
			sp.exec_fd = run->exec_fd;
		} else {
			sp.check_id = true;
			sp.dev = run->exe.dev;
			sp.ino = run->exe.ino;
		}
	}
	sp.argv = run->argv;
	sp.envp = env;
	sp.fds[0] = 0;
	sp.fds[1] = 1;
	sp.fds[2] = 2;
	sp.pgid = EW_SPAWN_PGID_KEEP;
	sp.ignore = &run->ignored;
	sp.sandbox = run->escalated ? NULL : run->sb;
	/* An escalated COMMAND's tree runs outside the sandbox. */
	sp.backstop = run->br.backstop;
	sp.backstop_sess = &run->sess;
	sp.backstop_outside = run->escalated;
	r = ew_spawn_start(&sp, &run->child, err, sizeof(err));
	free(env);
	if (r != 0)
		fprintf(stderr, "execward: %s: %s\n", run->argv[0], err);
	return -r;
}

/* COMMAND itself was decided: start it, or say why not. */
static void
command_decided(struct ew_client *c, uint32_t verdict, const char *reason)
{
	struct run *run = c->data;
	char *cmd;
	int r;

	if (verdict != EW_VERDICT_ALLOW && verdict != EW_VERDICT_ESCALATE) {
		cmd = ew_broker_command_text(c->ask, 200);
		fprintf(stderr, "execward: denied: %s: %s\n",
		    cmd != NULL ? cmd : run->argv[0],
		    reason != NULL ? reason : "denied");
		free(cmd);
		run->exit_code = 126;
		run->done = true;
		ew_broker_client_free(c);
		ev_break(run->br.loop, EVBREAK_ALL);
		return;
	}
	/*
	 * A rule allows COMMAND itself: it starts outside the sandbox, if
	 * the file still passes the checks it passed a moment ago.
	 */
	run->escalated = verdict == EW_VERDICT_ESCALATE;
	if (run->escalated) {
		char why[EW_PROTO_REASON_MAX + 1];

		run->exe = c->exe;
		if (ew_escalate_check(run->sb, run->br.uid, &run->exe, false,
			&run->exec_fd, why, sizeof(why)) != 0) {
			fprintf(stderr,
			    "execward: %s runs in the sandbox: escalation "
			    "refused: %s\n",
			    run->argv[0], why);
			run->escalated = false;
		}
	}
	r = spawn_child(run);
	/* Allowed, yet not started: the audit says so after the allow. */
	if (r != 0)
		ew_broker_record_failed(c, r);
	ew_broker_client_free(c);
	if (r != 0) {
		run->exit_code = r == ENOENT ? 127 : 126;
		run->done = true;
		ev_break(run->br.loop, EVBREAK_ALL);
		return;
	}
	ev_child_init(&run->child_w, ew_broker_on_child, run->child, 0);
	run->child_w.data = run;
	ev_child_start(run->br.loop, &run->child_w);
}

/* Put COMMAND to the policy like any other program (via "run"). */
static int
ask_for_command(struct run *run)
{
	struct ew_ask a;
	struct ew_buf *b;
	struct ew_msg_ask *m = NULL;
	struct ew_client *c;
	char cwd[PATH_MAX];
	uint32_t type;
	int r;

	/* Unknown (removed, too long): the record reads /proc or says why. */
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		cwd[0] = '\0';
	memset(&a, 0, sizeof(a));
	a.via = EW_VIA_RUN;
	a.pid = getpid();
	a.ppid = getppid();
	a.cwd = cwd;
	a.file = run->argv[0];
	a.resolved = run->resolved;
	a.argv = run->argv;
	/* Through the wire format, so the same caps and checks apply. */
	if ((b = ew_buf_new(EW_PROTO_MSG_MAX)) == NULL)
		return -ENOMEM;
	if ((r = ew_proto_put_ask(b, &a)) != 0 ||
	    (r = ew_proto_get_header(b, &type)) != 0 ||
	    (r = ew_proto_get_ask(b, &m)) != 0) {
		ew_buf_free(b);
		return r;
	}
	ew_buf_free(b);
	if ((c = ew_session_client_local(
		 &run->sess, m, command_decided, run)) == NULL) {
		ew_msg_ask_free(m);
		return -ENOMEM;
	}
	ew_broker_answer_ask(c);
	return 0;
}

int
ew_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "audit", required_argument, NULL, 'A' },
		{ "audit-sync", required_argument, NULL, 'A' },
		{ "audit-max-bytes", required_argument, NULL, 'A' },
		{ "audit-keep", required_argument, NULL, 'A' },
		{ "audit-full", required_argument, NULL, 'A' },
		{ "on-prompt", required_argument, NULL, 'P' },
		{ "fail", required_argument, NULL, 'F' },
		{ "amend", required_argument, NULL, 'M' },
		{ "preserve-program-paths", no_argument, NULL, 'k' },
		{ "sandbox", required_argument, NULL, 'x' },
		{ "keep-env", required_argument, NULL, 'K' },
		{ "backstop", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run run;
	struct ew_sandbox_policy pol;
	struct sigaction sa;
	enum ew_sandbox_mode mode = EW_SANDBOX_NONE;
	const char *quiet = getenv("EXECWARD_QUIET");
	char **rules = NULL, audit_path[PATH_MAX], sberr[1024], cwd[PATH_MAX];
	const char **keep = NULL;
	size_t nkeep = 0;
	int std[3] = { 0, 1, 2 }, sig;
	const char *amend_file = NULL;
	struct ew_audit_conf ac;
	char aerr[PATH_MAX + 256];
	int idx = 0;
	size_t nrules = 0;
	int ch, r, code = 2;
	bool backstop = true;

	enum ew_on_prompt on_prompt = EW_ON_PROMPT_ASK;

	memset(&run, 0, sizeof(run));
	run.exec_fd = -1;
	run.br.popts.heuristics = true;
	run.br.popts.split_shell = true;
	run.br.popts.resolve_host_executables = true;
	run.br.popts.programs_asked = true;
	run.fail = "closed";
	/* What our caller ignores (nohup), the command ignores too. */
	sigemptyset(&run.ignored);
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(&run.ignored, sig);
	if ((rules = calloc((size_t)argc + 1, sizeof(*rules))) == NULL ||
	    (keep = calloc((size_t)argc + 1, sizeof(*keep))) == NULL)
		ew_fatal("out of memory");
	optind = 1;
	ew_audit_conf_init(&ac);
	while ((ch = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		switch (ch) {
		case 'r':
			rules[nrules++] = optarg;
			break;
		case 'A':
			if (ew_audit_conf_option(&ac, opts[idx].name, optarg,
				aerr, sizeof(aerr)) != 0) {
				fprintf(stderr, "execward run: %s\n", aerr);
				goto out;
			}
			break;
		case 'P':
			if (strcmp(optarg, "ask") == 0)
				on_prompt = EW_ON_PROMPT_ASK;
			else if (strcmp(optarg, "deny") == 0)
				on_prompt = EW_ON_PROMPT_DENY;
			else if (strcmp(optarg, "allow") == 0)
				on_prompt = EW_ON_PROMPT_ALLOW;
			else {
				fprintf(stderr,
				    "execward run: --on-prompt: "
				    "expected ask, deny or allow, "
				    "not %s\n",
				    optarg);
				goto out;
			}
			break;
		case 'F':
			if (strcmp(optarg, "closed") != 0 &&
			    strcmp(optarg, "open") != 0) {
				fprintf(stderr,
				    "execward run: --fail: "
				    "expected closed or open, not "
				    "%s\n",
				    optarg);
				goto out;
			}
			run.fail = optarg;
			break;
		case 'M':
			amend_file = optarg;
			break;
		case 'k':
			run.br.popts.preserve_program_paths = true;
			break;
		case 'x':
			if (ew_sandbox_mode_parse(optarg, &mode) != 0) {
				fprintf(stderr,
				    "execward run: --sandbox: expected none, "
				    "read-only or workspace-write, not %s\n",
				    optarg);
				goto out;
			}
			break;
		case 'K':
			keep[nkeep++] = optarg;
			break;
		case 'B':
			if (strcmp(optarg, "on") != 0 &&
			    strcmp(optarg, "off") != 0) {
				fprintf(stderr,
				    "execward run: --backstop: expected on or "
				    "off, not %s\n",
				    optarg);
				goto out;
			}
			backstop = optarg[1] == 'n';
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
	if (optind >= argc) {
		fprintf(stderr, "execward run: no COMMAND given\n");
		usage(stderr);
		goto out;
	}
	run.argv = argv + optind;

	if ((r = ew_paths_find("libexecward.so", "EXECWARD_LIBRARY", run.lib,
		 sizeof(run.lib))) != 0) {
		fprintf(stderr,
		    "execward run: libexecward.so not found "
		    "(set EXECWARD_LIBRARY, or build it)\n");
		goto out;
	}
	if ((r = ew_paths_which(
		 run.argv[0], run.resolved, sizeof(run.resolved))) != 0) {
		fprintf(stderr, "execward: %s: %s\n", run.argv[0],
		    r == -ENOENT ? "command not found" : strerror(-r));
		code = r == -ENOENT ? 127 : 126;
		goto out;
	}
	if (ew_rules_load(&run.br.rules, rules, nrules, amend_file) != 0)
		goto out;
	/* Inside another session: its broker decides with us (ew_chain.c). */
	if (ew_chain_open(&run.br, sberr, sizeof(sberr)) != 0) {
		fprintf(stderr, "execward run: %s\n", sberr);
		code = 126;
		goto out;
	}

	run.br.loop = ev_default_loop(EVFLAG_AUTO);
	if (run.br.loop == NULL)
		ew_fatal("cannot start the event loop (libev)");
	run.br.uid = getuid();
	/* The kernel backstop: what the shim cannot see (ew_backstop.h). */
	if (ew_backstop_new(&run.br, backstop, &run.br.backstop) != 0)
		ew_fatal("out of memory");
	backstop_note(run.br.backstop, quiet);
	if (ew_audit_conf_default_path(&ac, audit_path, sizeof(audit_path)) !=
	    0) {
		fprintf(stderr,
		    "execward run: no HOME or XDG_STATE_HOME: give "
		    "--audit FILE\n");
		goto out;
	}
	if ((r = ew_audit_open_conf(&ac, run.br.loop, &run.br.audit)) != 0) {
		fprintf(stderr, "execward run: open audit log %s: %s\n",
		    ac.path, ac.why[0] != '\0' ? ac.why : strerror(-r));
		goto out;
	}
	ew_log(EW_LOG_INFO, "audit log: %s%s", ac.path,
	    ac.syslog ? " (and syslog)" : "");
	if ((r = ew_session_open(&run.sess, &run.br, on_prompt)) != 0) {
		fprintf(stderr, "execward run: listen: %s\n", strerror(-r));
		goto out;
	}
	/* The workspace is where we are; nothing runs unconfined by mistake. */
	ew_sandbox_policy_init(&pol, mode);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), ".");
	r = ew_sandbox_new(
	    &pol, cwd, environ, std, &run.sb, sberr, sizeof(sberr));
	ew_sandbox_policy_fini(&pol);
	if (r != 0) {
		fprintf(stderr, "execward run: %s\n", sberr);
		code = 126;
		goto out;
	}
	if (run.sb != NULL) {
		if (ew_escalate_new(&run.br, run.lib, run.fail, &run.br.esc) !=
		    0)
			ew_fatal("out of memory");
		if (ew_escalate_keep(run.br.esc, keep, nkeep) != 0) {
			fprintf(stderr,
			    "execward run: --keep-env: expected a variable "
			    "name, or a prefix ending in *\n");
			goto out;
		}
	}
	/* Refused when the sandbox could reach the socket, rules or shim. */
	if (ew_session_confine(&run.sess, run.sb, ew_sandbox_mode_name(mode),
		sberr, sizeof(sberr)) != 0) {
		fprintf(stderr, "execward run: %s\n", sberr);
		code = 126;
		goto out;
	}
	if (on_prompt == EW_ON_PROMPT_ASK &&
	    (run.tty = ew_prompt_tty_open(run.br.loop)) != NULL) {
		run.sess.prompt = &ew_prompt_tty_ops;
		run.sess.prompt_ctx = run.tty;
	}

	/* The command shares our terminal: ^C and ^\ reach it directly. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&run.sig_w[0], ew_broker_on_signal, SIGTERM);
	ev_signal_init(&run.sig_w[1], ew_broker_on_signal, SIGHUP);
	run.sig_w[0].data = run.sig_w[1].data = &run;
	ev_signal_start(run.br.loop, &run.sig_w[0]);
	ev_signal_start(run.br.loop, &run.sig_w[1]);
	ev_unref(run.br.loop);
	ev_unref(run.br.loop);

	if ((r = ask_for_command(&run)) != 0) {
		fprintf(stderr, "execward run: %s: %s\n", run.argv[0],
		    ew_err_str(r));
		goto out;
	}
	while (!run.done)
		ev_run(run.br.loop, 0);
	code = run.exit_code;
	/* A confined command that failed may have failed for the sandbox. */
	if (run.sb != NULL && !run.escalated && run.child > 0 && code != 0 &&
	    (quiet == NULL || *quiet == '\0' || strcmp(quiet, "0") == 0))
		fprintf(stderr,
		    "execward: note: %s exited %d in the sandbox, %s: a "
		    "permission error may come from it (programs an allow rule "
		    "covers run outside it)\n",
		    run.argv[0], code, ew_sandbox_describe(run.sb));
out:
	if (run.br.loop != NULL) {
		ew_session_close(&run.sess);
		ew_prompt_tty_close(run.tty);
	}
	ew_backstop_free(run.br.backstop);
	/* Programs escalated for the command end with it, recorded. */
	ew_escalate_free(run.br.esc);
	ew_fd_close(run.exec_fd);
	ew_sandbox_free(run.sb);
	ew_audit_close(run.br.audit);
	ew_chain_close(&run.br);
	ew_buf_free(run.br.rbuf);
	if (run.br.rules.policy != NULL)
		ew_rules_fini(&run.br.rules);
	free(rules);
	free(keep);
	return code;
}
