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

#include "ew_broker.h"
#include "ew_cmd.h"
#include "ew_cmd_setup.h"
#include "ew_env.h"
#include "ew_err.h"
#include "ew_escalate.h"
#include "ew_fd.h"
#include "ew_log.h"
#include "ew_paths.h"
#include "ew_sandbox.h"
#include "ew_spawn.h"
#include "ew_time.h"

extern char **environ;

struct run {
	struct ew_cmd cmd; /* the broker */
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
	uint64_t t_start_us; /* when COMMAND started */
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
backstop_note(const struct ew_backstop *b)
{
	if (ew_env_quiet(getenv(EW_ENV_QUIET)))
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

/*
 * COMMAND escalated itself has ended: its exit record, as every escalated
 * program's (with no token: none was needed to start it).
 */
static void
record_exit(struct run *run, int status)
{
	struct ew_audit_exit rec;
	char cwd[PATH_MAX];
	size_t argc = 0;
	int r;

	/* Unknown (removed, too long): the escalation's record has it. */
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		cwd[0] = '\0';
	while (run->argv[argc] != NULL)
		argc++;
	memset(&rec, 0, sizeof(rec));
	rec.session = run->sess.id;
	rec.pid = run->child;
	rec.uid = run->cmd.br.uid;
	rec.cwd = cwd;
	rec.file = run->exe.path;
	rec.argv = run->argv;
	rec.argc = argc;
	rec.status = status;
	rec.duration_us = ew_time_mono_us() - run->t_start_us;
	if ((r = ew_audit_write_exit(run->cmd.br.audit, &rec)) != 0)
		ew_log(EW_LOG_ERROR, "audit log %s: %s",
		    ew_audit_path(run->cmd.br.audit), strerror(-r));
}

static void
ew_broker_on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct run *run = w->data;
	int st = w->rstatus;

	if (WIFSTOPPED(st) || WIFCONTINUED(st))
		return;
	run->status = st;
	if (run->escalated)
		record_exit(run, st);
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
	/*
	 * The kernel backstop's filter, in the command's tree (outside the
	 * sandbox when COMMAND was escalated).
	 */
	sp.hook =
	    run->cmd.br.backstop != NULL ? run->cmd.br.backstop->spawn : NULL;
	sp.hook_sess = &run->sess;
	sp.hook_outside = run->escalated;
	run->t_start_us = ew_time_mono_us();
	r = ew_spawn_start(&sp, &run->child, err, sizeof(err));
	free(env);
	if (r != 0)
		fprintf(stderr, "execward: %s: %s\n", run->argv[0], err);
	return -r;
}

/* COMMAND itself was decided: start it, or say why not. */
static enum ew_client_state
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
		ev_break(run->cmd.br.loop, EVBREAK_ALL);
		return EW_CLIENT_CLOSED;
	}
	/*
	 * A rule allows COMMAND itself: it starts outside the sandbox, if
	 * the file still passes the checks it passed a moment ago.
	 */
	run->escalated = verdict == EW_VERDICT_ESCALATE;
	if (run->escalated) {
		char why[EW_PROTO_REASON_MAX + 1];

		run->exe = c->exe;
		if (ew_escalate_check(run->sb, run->cmd.br.uid, &run->exe,
			false, &run->exec_fd, why, sizeof(why)) != 0) {
			fprintf(stderr,
			    "execward: %s runs in the sandbox: escalation "
			    "refused: %s\n",
			    run->argv[0], why);
			run->escalated = false;
		}
	}
	r = spawn_child(run);
	/* Allowed, yet not started: the audit says so after the allow. */
	if (r != 0) {
		ew_broker_record_failed(c, r);
		run->exit_code = r == ENOENT ? 127 : 126;
		run->done = true;
		ev_break(run->cmd.br.loop, EVBREAK_ALL);
		return EW_CLIENT_CLOSED;
	}
	ev_child_init(&run->child_w, ew_broker_on_child, run->child, 0);
	run->child_w.data = run;
	ev_child_start(run->cmd.br.loop, &run->child_w);
	return EW_CLIENT_CLOSED;
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
	ew_broker_client_enter(c, ew_broker_answer_ask(c));
	return 0;
}

/* What our caller ignores (nohup), the command ignores too. */
static void
ignored_signals(sigset_t *set)
{
	struct sigaction sa;
	int sig;

	sigemptyset(set);
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(set, sig);
}

/*
 * The options, into run: -1 to go on, or the exit status (a bad option,
 * --help).
 */
static int
parse_options(struct run *run, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, EW_CMD_OPT_RULES },
		EW_CMD_AUDIT_OPTIONS,
		{ "on-prompt", required_argument, NULL, EW_CMD_OPT_ON_PROMPT },
		{ "fail", required_argument, NULL, 'F' },
		{ "amend", required_argument, NULL, EW_CMD_OPT_AMEND },
		{ "preserve-program-paths", no_argument, NULL,
		    EW_CMD_OPT_PRESERVE },
		{ "sandbox", required_argument, NULL, EW_CMD_OPT_SANDBOX },
		{ "keep-env", required_argument, NULL, EW_CMD_OPT_KEEP_ENV },
		{ "backstop", required_argument, NULL, EW_CMD_OPT_BACKSTOP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, idx = 0, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		if ((r = ew_cmd_option(&run->cmd, ch, &opts[idx], optarg)) !=
		    0) {
			if (r < 0)
				return 2;
			continue;
		}
		if (ch == 'F' &&
		    (strcmp(optarg, "closed") == 0 ||
			strcmp(optarg, "open") == 0)) {
			run->fail = optarg;
			continue;
		}
		if (ch == 'F') {
			fprintf(stderr,
			    "execward run: --fail: expected closed or open, "
			    "not %s\n",
			    optarg);
			return 2;
		}
		usage(ch == 'h' ? stdout : stderr);
		return ch == 'h' ? 0 : 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "execward run: no COMMAND given\n");
		usage(stderr);
		return 2;
	}
	run->argv = argv + optind;
	return -1;
}

/*
 * The session COMMAND asks on, confined as --sandbox says (the workspace
 * is where we are), and its prompter: -1 to go on, or the exit status.
 */
static int
open_session(struct run *run)
{
	struct ew_sandbox_policy pol;
	char err[1024], cwd[PATH_MAX];
	int std[3] = { 0, 1, 2 }, r;

	if ((r = ew_session_open(
		 &run->sess, &run->cmd.br, run->cmd.on_prompt)) != 0) {
		fprintf(stderr, "execward run: listen: %s\n", strerror(-r));
		return 2;
	}
	ew_sandbox_policy_init(&pol, run->cmd.mode);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), ".");
	r = ew_sandbox_new(&pol, cwd, environ, std, &run->sb, err, sizeof(err));
	ew_sandbox_policy_fini(&pol);
	if (r != 0) {
		fprintf(stderr, "execward run: %s\n", err);
		return 126;
	}
	if (run->sb != NULL &&
	    ew_cmd_escalate(&run->cmd, run->lib, run->fail) != 0)
		return 2;
	/* Refused when the sandbox could reach the socket, rules or shim. */
	if (ew_session_confine(&run->sess, run->sb,
		ew_sandbox_mode_name(run->cmd.mode), err, sizeof(err)) != 0) {
		fprintf(stderr, "execward run: %s\n", err);
		return 126;
	}
	if (run->cmd.on_prompt == EW_ON_PROMPT_ASK &&
	    (run->tty = ew_prompt_tty_open(run->cmd.br.loop)) != NULL) {
		run->sess.prompt = &ew_prompt_tty_ops;
		run->sess.prompt_ctx = run->tty;
	}
	return -1;
}

/* SIGTERM and SIGHUP go to COMMAND; ^C and ^\ reach it from the tty. */
static void
watch_signals(struct run *run)
{
	struct ev_loop *loop = run->cmd.br.loop;

	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&run->sig_w[0], ew_broker_on_signal, SIGTERM);
	ev_signal_init(&run->sig_w[1], ew_broker_on_signal, SIGHUP);
	run->sig_w[0].data = run->sig_w[1].data = run;
	ev_signal_start(loop, &run->sig_w[0]);
	ev_signal_start(loop, &run->sig_w[1]);
	/* They keep nothing running: the loop ends with the command. */
	ev_unref(loop);
	ev_unref(loop);
}

/* Everything up to the question about COMMAND: -1, or the exit status. */
static int
start(struct run *run)
{
	int r;

	if (ew_cmd_library(&run->cmd, run->lib, sizeof(run->lib)) != 0)
		return 2;
	if ((r = ew_paths_which(
		 run->argv[0], run->resolved, sizeof(run->resolved))) != 0) {
		fprintf(stderr, "execward: %s: %s\n", run->argv[0],
		    r == -ENOENT ? "command not found" : strerror(-r));
		return r == -ENOENT ? 127 : 126;
	}
	if (ew_cmd_load_rules(&run->cmd) != 0)
		return 2;
	/* Inside another session: its broker decides with us. */
	if (ew_cmd_chain(&run->cmd, NULL) != 0)
		return 126;
	if (ew_cmd_open(&run->cmd) != 0)
		return 2;
	/* The kernel backstop: what the shim cannot see (ew_backstop.h). */
	ew_cmd_backstop(&run->cmd, false);
	backstop_note(run->cmd.bs);
	ew_log(EW_LOG_INFO, "audit log: %s%s", run->cmd.ac.path,
	    run->cmd.ac.syslog ? " (and syslog)" : "");
	if ((r = open_session(run)) >= 0)
		return r;
	watch_signals(run);
	if ((r = ask_for_command(run)) != 0) {
		fprintf(stderr, "execward run: %s: %s\n", run->argv[0],
		    ew_err_str(r));
		return 2;
	}
	return -1;
}

int
ew_cmd_run(int argc, char **argv)
{
	struct run run;
	int code;

	memset(&run, 0, sizeof(run));
	run.exec_fd = -1;
	run.fail = "closed";
	ignored_signals(&run.ignored);
	ew_cmd_init(
	    &run.cmd, "run", argc, EW_ON_PROMPT_ASK, true, EW_SANDBOX_NONE);
	if ((code = parse_options(&run, argc, argv)) >= 0 ||
	    (code = start(&run)) >= 0)
		goto out;
	while (!run.done)
		ev_run(run.cmd.br.loop, 0);
	code = run.exit_code;
	/* A confined command that failed may have failed for the sandbox. */
	if (run.sb != NULL && !run.escalated && run.child > 0 && code != 0 &&
	    !ew_env_quiet(getenv(EW_ENV_QUIET)))
		fprintf(stderr,
		    "execward: note: %s exited %d in the sandbox, %s: a "
		    "permission error may come from it (programs an allow rule "
		    "covers run outside it)\n",
		    run.argv[0], code, ew_sandbox_describe(run.sb));
out:
	if (run.cmd.br.loop != NULL) {
		ew_session_close(&run.sess);
		ew_prompt_tty_close(run.tty);
	}
	/* Programs escalated for the command end with it, recorded. */
	ew_cmd_fini(&run.cmd);
	ew_fd_close(run.exec_fd);
	ew_sandbox_free(run.sb);
	return code;
}
