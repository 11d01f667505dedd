/* `execward mcp`: the MCP server on stdio, with the shell tool. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_cmd.h"
#include "ew_cmd_setup.h"
#include "ew_escalate.h"
#include "ew_log.h"
#include "ew_mcp_int.h"
#include "ew_paths.h"
#include "ew_sandbox.h"

#ifndef EW_VERSION
#define EW_VERSION "unknown"
#endif

/* Defaults: Codex's shell timeout, and what a result may carry. */
#define EW_MCP_TIMEOUT_MS_DEFAULT 10000
#define EW_MCP_OUTPUT_MAX_DEFAULT (1024u * 1024)
/* A prompt nobody answers is denied after this long. */
#define EW_MCP_PROMPT_TIMEOUT_MS_DEFAULT (10u * 60 * 1000)
/* Once stdin closes, running calls get this long to end (exit < 2 s). */
#define EW_MCP_CLOSE_GRACE_S 1.5

static const char instructions[] =
    "The shell tool runs commands with bash. execward checks every "
    "program a command starts against the user's rules, writes each "
    "decision to an audit log, and asks the user (through elicitation) "
    "when a rule says so. A program that is denied fails with "
    "`execward: denied: ...` in the output: report it to the user "
    "rather than working around it.";

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: execward mcp [--rules PATH]... [--audit FILE|syslog]...\n"
	    "                    [--audit-sync none|batch|always] "
	    "[--amend FILE]\n"
	    "                    [--audit-max-bytes SIZE] [--audit-keep N]\n"
	    "                    [--audit-full rotate|deny]\n"
	    "                    [--bash PATH] [--timeout-ms N] "
	    "[--prompt-timeout-ms N]\n"
	    "                    [--output-max BYTES] "
	    "[--sandbox none|read-only|workspace-write]\n"
	    "                    [--listen SOCKET] [--keep-env NAME]...\n"
	    "                    [--login true|false] [--backstop on|off]\n"
	    "\n"
	    "Serves MCP on stdin and stdout (one JSON-RPC message per "
	    "line)\nwith one tool, shell. Logs go to stderr. Commands run "
	    "in the\nworkspace-write sandbox unless --sandbox (or the "
	    "client) says\notherwise. --login false runs bash -c, not bash "
	    "-lc, when a call\ndoes not say (no login profile: faster, "
	    "quieter). --backstop off\nleaves the programs the shim cannot "
	    "see (static binaries, Go,\nraw execve) undecided, and lets "
	    "set-user-ID programs (sudo) keep\ntheir privileges.\n");
}

/* A positive decimal number no larger than max; -EINVAL otherwise. */
static int
parse_count(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * Keep fds 0, 1 and 2 taken: a pipe or socket of ours that landed there
 * would be mistaken for the protocol or handed to a command as stdio.
 */
static void
hold_stdio(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			ew_fatal("open /dev/null: %s", strerror(errno));
}

static void
ew_broker_on_mcp_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	ew_log(EW_LOG_INFO, "signal %d: stopping", w->signum);
	ew_mcp_close(w->data);
}

/* An audit failure, told to the client too (notifications/message). */
static void
ew_broker_on_mcp_notify(void *ctx, const char *msg)
{
	ew_mcp_log(ctx, EW_MCP_LOG_ERROR, "execward", "%s", msg);
}

/* One execward mcp: its broker, the server and its one tool. */
struct mcp {
	struct ew_cmd cmd;
	const char *bash_arg;
	char bash[PATH_MAX];
	char lib[PATH_MAX];
	uint64_t timeout_ms;
	uint64_t prompt_ms;
	uint64_t output_max;
	/* Codex's default: bash -lc, the login profile read every call. */
	bool login;
	struct ew_mcp *m;
	struct ew_mcp_shell *sh;
	struct ew_mcp_tool tool;
	/* --listen: shims outside our tool calls, asked about through MCP. */
	const char *listen_path;
	struct ew_session outside;
	struct ew_mcp_asker outside_asker;
	bool outside_open;
	ev_signal sig_w[3];
};

/* mcp's own options: 1 taken, -1 bad (said), 0 not one of them. */
static int
mcp_option(struct mcp *mc, int ch, const char *arg)
{
	switch (ch) {
	case 'b':
		mc->bash_arg = arg;
		return 1;
	case 't':
	case 'p':
		/* At most a day: beyond that is surely a typo. */
		if (parse_count(arg, 86400000u,
			ch == 't' ? &mc->timeout_ms : &mc->prompt_ms) == 0)
			return 1;
		fprintf(stderr,
		    "execward mcp: --%s: expected milliseconds (1 to "
		    "86400000), not %s\n",
		    ch == 't' ? "timeout-ms" : "prompt-timeout-ms", arg);
		return -1;
	case 'o':
		if (parse_count(arg, 4u * 1024 * 1024, &mc->output_max) == 0 &&
		    mc->output_max >= 1024)
			return 1;
		fprintf(stderr,
		    "execward mcp: --output-max: expected bytes (1024 to "
		    "4194304), not %s\n",
		    arg);
		return -1;
	case 'L':
		mc->listen_path = arg;
		return 1;
	case 'l':
		if (strcmp(arg, "true") == 0 || strcmp(arg, "false") == 0) {
			mc->login = arg[0] == 't';
			return 1;
		}
		fprintf(stderr,
		    "execward mcp: --login: expected true or false, not %s\n",
		    arg);
		return -1;
	default:
		return 0;
	}
}

/* The options: -1 to go on, or the exit status (bad option, --help). */
static int
parse_options(struct mcp *mc, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, EW_CMD_OPT_RULES },
		EW_CMD_AUDIT_OPTIONS,
		{ "amend", required_argument, NULL, EW_CMD_OPT_AMEND },
		{ "bash", required_argument, NULL, 'b' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "prompt-timeout-ms", required_argument, NULL, 'p' },
		{ "output-max", required_argument, NULL, 'o' },
		{ "sandbox", required_argument, NULL, EW_CMD_OPT_SANDBOX },
		{ "listen", required_argument, NULL, 'L' },
		{ "keep-env", required_argument, NULL, EW_CMD_OPT_KEEP_ENV },
		{ "backstop", required_argument, NULL, EW_CMD_OPT_BACKSTOP },
		{ "login", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, idx = 0, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		if ((r = ew_cmd_option(&mc->cmd, ch, &opts[idx], optarg)) ==
			0 &&
		    (r = mcp_option(mc, ch, optarg)) == 0) {
			usage(ch == 'h' ? stdout : stderr);
			return ch == 'h' ? 0 : 2;
		}
		if (r < 0)
			return 2;
	}
	if (optind < argc) {
		ew_cmd_unexpected(&mc->cmd, argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/*
 * The broker: stdio held, the shim and bash found, the rules, the event
 * loop and the audit log, escalation. -1 to go on, or the exit status.
 */
static int
prepare(struct mcp *mc)
{
	char err[512];
	int r;

	hold_stdio();
	if (ew_cmd_library(&mc->cmd, mc->lib, sizeof(mc->lib)) != 0)
		return 2;
	if ((r = ew_paths_which(mc->bash_arg, mc->bash, sizeof(mc->bash))) !=
	    0) {
		fprintf(stderr, "execward mcp: --bash %s: %s\n", mc->bash_arg,
		    r == -ENOENT ? "not found" : strerror(-r));
		return 2;
	}
	/* Inside another session: its broker decides with us. */
	if (ew_cmd_load_rules(&mc->cmd) != 0 ||
	    ew_cmd_keep_check(&mc->cmd) != 0 ||
	    ew_cmd_chain(&mc->cmd, mc->listen_path) != 0)
		return 2;
	/* Calls then fail, each saying why, until the client says none. */
	if (ew_sandbox_check(mc->cmd.mode, err, sizeof(err)) != 0)
		ew_log(EW_LOG_WARN,
		    "%s: every shell call will fail until the client sets "
		    "danger-full-access (or start with --sandbox none)",
		    err);
	if (ew_cmd_open(&mc->cmd) != 0)
		return 2;
	/* The kernel backstop: what the shim cannot see (ew_backstop.h). */
	ew_cmd_backstop(&mc->cmd, false);
	if (ew_backstop_state(mc->cmd.bs) == EW_BACKSTOP_OUTER ||
	    ew_backstop_state(mc->cmd.bs) == EW_BACKSTOP_UNAVAILABLE)
		ew_log(EW_LOG_WARN, "no kernel backstop of our own: %s",
		    ew_backstop_why(mc->cmd.bs));
	if (ew_cmd_escalate(&mc->cmd, mc->lib, "closed") != 0)
		return 2;
	return -1;
}

/* The MCP server on stdio, with the shell tool. 0, or -1 (said). */
static int
start_server(struct mcp *mc)
{
	struct ew_mcp_shell_opts so;
	struct ew_mcp_config cfg;
	int r;

	memset(&so, 0, sizeof(so));
	so.br = &mc->cmd.br;
	so.lib = mc->lib;
	so.bash = mc->bash;
	so.timeout_ms = mc->timeout_ms;
	so.output_max = (size_t)mc->output_max;
	so.prompt_timeout_s = (double)mc->prompt_ms / 1000.;
	so.login = mc->login;
	if (ew_mcp_shell_new(&so, &mc->sh) != 0)
		ew_fatal("out of memory");
	ew_mcp_shell_tool(mc->sh, &mc->tool);
	memset(&cfg, 0, sizeof(cfg));
	cfg.in_fd = STDIN_FILENO;
	cfg.out_fd = STDOUT_FILENO;
	cfg.name = "execward";
	cfg.title = "execward";
	cfg.version = EW_VERSION;
	cfg.instructions = instructions;
	cfg.tools = &mc->tool;
	cfg.ntools = 1;
	cfg.sandbox = mc->cmd.sandbox;
	cfg.close_grace_s = EW_MCP_CLOSE_GRACE_S;
	/* A client that stopped reading must not kill us: we see EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if ((r = ew_mcp_new(mc->cmd.br.loop, &cfg, &mc->m)) != 0) {
		fprintf(stderr, "execward mcp: %s\n", strerror(-r));
		return -1;
	}
	mc->cmd.br.notify = ew_broker_on_mcp_notify;
	mc->cmd.br.notify_ctx = mc->m;
	return 0;
}

/* --listen: shims outside our calls, asked about through MCP. 0 or -1. */
static int
listen_outside(struct mcp *mc)
{
	char err[PATH_MAX + 256];

	if (mc->listen_path == NULL)
		return 0;
	if (ew_session_listen(&mc->outside, &mc->cmd.br, EW_ON_PROMPT_ASK,
		mc->listen_path, -1, err, sizeof(err)) != 0) {
		fprintf(stderr, "execward mcp: --listen: %s\n", err);
		return -1;
	}
	mc->outside_open = true;
	mc->outside_asker.m = mc->m;
	mc->outside_asker.timeout_s = (double)mc->prompt_ms / 1000.;
	mc->outside.prompt = &ew_mcp_elicit_ops;
	mc->outside.prompt_ctx = &mc->outside_asker;
	ew_log(EW_LOG_INFO, "serving shims on %s", mc->listen_path);
	return 0;
}

int
ew_cmd_mcp(int argc, char **argv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct mcp mc;
	size_t i;
	int code;

	memset(&mc, 0, sizeof(mc));
	mc.bash_arg = "bash";
	mc.timeout_ms = EW_MCP_TIMEOUT_MS_DEFAULT;
	mc.prompt_ms = EW_MCP_PROMPT_TIMEOUT_MS_DEFAULT;
	mc.output_max = EW_MCP_OUTPUT_MAX_DEFAULT;
	mc.login = true;
	/* Codex's default for its shell tool: writes in the workspace only. */
	ew_cmd_init(&mc.cmd, "mcp", argc, EW_ON_PROMPT_ASK, true,
	    EW_SANDBOX_WORKSPACE_WRITE);
	mc.cmd.sandbox = "workspace-write";
	if ((code = parse_options(&mc, argc, argv)) >= 0 ||
	    (code = prepare(&mc)) >= 0)
		goto out;
	code = 2;
	if (start_server(&mc) != 0 || listen_outside(&mc) != 0)
		goto out;
	for (i = 0; i < 3; i++) {
		ev_signal_init(&mc.sig_w[i], ew_broker_on_mcp_signal, sigs[i]);
		mc.sig_w[i].data = mc.m;
		ev_signal_start(mc.cmd.br.loop, &mc.sig_w[i]);
	}
	ew_log(EW_LOG_INFO, "MCP server on stdio; audit log %s%s; bash %s",
	    mc.cmd.ac.path, mc.cmd.ac.syslog ? " (and syslog)" : "", mc.bash);
	while (!ew_mcp_finished(mc.m))
		ev_run(mc.cmd.br.loop, 0);
	code = 0;
out:
	/* The tool first: its calls still talk to the server as they end. */
	ew_mcp_shell_free(mc.sh);
	/* Outside shims next, while the server and escalations still are. */
	if (mc.outside_open) {
		ew_mcp_asker_stop(&mc.outside_asker, EW_ANSWER_CANCEL,
		    "execward is stopping");
		ew_session_close(&mc.outside);
	}
	if (mc.cmd.br.loop != NULL)
		for (i = 0; i < 3; i++)
			ev_signal_stop(mc.cmd.br.loop, &mc.sig_w[i]);
	/* What they escalated goes with them (and its exit is recorded). */
	ew_cmd_fini(&mc.cmd);
	ew_mcp_free(mc.m);
	return code;
}
