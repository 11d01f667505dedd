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

#include "backstop/ew_backstop.h"
#include "ew_broker.h"
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

int
ew_cmd_mcp(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "audit", required_argument, NULL, 'A' },
		{ "audit-sync", required_argument, NULL, 'A' },
		{ "audit-max-bytes", required_argument, NULL, 'A' },
		{ "audit-keep", required_argument, NULL, 'A' },
		{ "audit-full", required_argument, NULL, 'A' },
		{ "amend", required_argument, NULL, 'M' },
		{ "bash", required_argument, NULL, 'b' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "prompt-timeout-ms", required_argument, NULL, 'p' },
		{ "output-max", required_argument, NULL, 'o' },
		{ "sandbox", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'L' },
		{ "keep-env", required_argument, NULL, 'K' },
		{ "login", required_argument, NULL, 'l' },
		{ "backstop", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ew_broker br;
	struct ew_mcp_shell_opts so;
	struct ew_mcp_config cfg;
	struct ew_mcp_tool tool;
	struct ew_mcp_shell *sh = NULL;
	struct ew_mcp *m = NULL;
	ev_signal sig_w[3];
	/* --listen: shims outside our tool calls, asked about through MCP. */
	struct ew_session outside;
	struct ew_mcp_asker outside_asker;
	const char *listen_path = NULL;
	bool outside_open = false;
	char lerr[PATH_MAX + 256];
	char **rules = NULL, lib[PATH_MAX], bash[PATH_MAX];
	const char **keep = NULL;
	size_t nkeep = 0;
	char audit_path[PATH_MAX];
	const char *amend = NULL, *bash_arg = "bash";
	struct ew_audit_conf ac;
	char aerr[PATH_MAX + 256];
	int idx = 0;
	/* Codex's default for its shell tool: writes in the workspace only. */
	const char *sandbox = "workspace-write";
	enum ew_sandbox_mode mode = EW_SANDBOX_WORKSPACE_WRITE;
	char sberr[512];
	uint64_t timeout_ms = EW_MCP_TIMEOUT_MS_DEFAULT;
	uint64_t prompt_ms = EW_MCP_PROMPT_TIMEOUT_MS_DEFAULT;
	uint64_t output_max = EW_MCP_OUTPUT_MAX_DEFAULT;
	size_t nrules = 0, i;
	/* Codex's default: bash -lc, the login profile read every call. */
	bool login = true;
	bool loaded = false;
	bool backstop = true;
	int ch, r, code = 2;

	memset(&br, 0, sizeof(br));
	memset(sig_w, 0, sizeof(sig_w));
	memset(&outside_asker, 0, sizeof(outside_asker));
	if ((rules = calloc((size_t)argc + 1, sizeof(*rules))) == NULL ||
	    (keep = calloc((size_t)argc + 1, sizeof(*keep))) == NULL)
		ew_fatal("out of memory");
	ew_audit_conf_init(&ac);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		switch (ch) {
		case 'r':
			rules[nrules++] = optarg;
			break;
		case 'A':
			if (ew_audit_conf_option(&ac, opts[idx].name, optarg,
				aerr, sizeof(aerr)) != 0) {
				fprintf(stderr, "execward mcp: %s\n", aerr);
				goto out;
			}
			break;
		case 'M':
			amend = optarg;
			break;
		case 'b':
			bash_arg = optarg;
			break;
		case 't':
		case 'p':
			/* At most a day: beyond that is surely a typo. */
			if (parse_count(optarg, 86400000u,
				ch == 't' ? &timeout_ms : &prompt_ms) != 0) {
				fprintf(stderr,
				    "execward mcp: --%s: expected "
				    "milliseconds (1 to 86400000), not %s\n",
				    ch == 't' ? "timeout-ms"
					      : "prompt-timeout-ms",
				    optarg);
				goto out;
			}
			break;
		case 'o':
			if (parse_count(
				optarg, 4u * 1024 * 1024, &output_max) != 0 ||
			    output_max < 1024) {
				fprintf(stderr,
				    "execward mcp: --output-max: expected "
				    "bytes (1024 to 4194304), not %s\n",
				    optarg);
				goto out;
			}
			break;
		case 's':
			if (ew_sandbox_mode_parse(optarg, &mode) != 0) {
				fprintf(stderr,
				    "execward mcp: --sandbox: expected none, "
				    "read-only or workspace-write, not %s\n",
				    optarg);
				goto out;
			}
			sandbox = optarg;
			break;
		case 'L':
			listen_path = optarg;
			break;
		case 'K':
			keep[nkeep++] = optarg;
			break;
		case 'l':
			if (strcmp(optarg, "true") != 0 &&
			    strcmp(optarg, "false") != 0) {
				fprintf(stderr,
				    "execward mcp: --login: expected true or "
				    "false, not %s\n",
				    optarg);
				goto out;
			}
			login = optarg[0] == 't';
			break;
		case 'B':
			if (strcmp(optarg, "on") != 0 &&
			    strcmp(optarg, "off") != 0) {
				fprintf(stderr,
				    "execward mcp: --backstop: expected on or "
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
	if (optind < argc) {
		fprintf(stderr, "execward mcp: unexpected argument: %s\n",
		    argv[optind]);
		usage(stderr);
		goto out;
	}
	hold_stdio();
	if (ew_paths_find(
		"libexecward.so", "EXECWARD_LIBRARY", lib, sizeof(lib)) != 0) {
		fprintf(stderr,
		    "execward mcp: libexecward.so not found "
		    "(set EXECWARD_LIBRARY, or build it)\n");
		goto out;
	}
	if ((r = ew_paths_which(bash_arg, bash, sizeof(bash))) != 0) {
		fprintf(stderr, "execward mcp: --bash %s: %s\n", bash_arg,
		    r == -ENOENT ? "not found" : strerror(-r));
		goto out;
	}
	if (ew_rules_load(&br.rules, rules, nrules, amend) != 0)
		goto out;
	loaded = true;
	br.popts.heuristics = true;
	br.popts.split_shell = true;
	br.popts.resolve_host_executables = true;
	/* The shim asks about each program a script starts, as in run. */
	br.popts.programs_asked = true;
	br.uid = getuid();
	if (ew_escalate_new(&br, lib, "closed", &br.esc) != 0)
		ew_fatal("out of memory");
	if (ew_escalate_keep(br.esc, keep, nkeep) != 0) {
		fprintf(stderr,
		    "execward mcp: --keep-env: expected a variable "
		    "name, or a prefix ending in *\n");
		goto out;
	}
	/* Calls then fail, each saying why, until the client says none. */
	if (ew_sandbox_check(mode, sberr, sizeof(sberr)) != 0)
		ew_log(EW_LOG_WARN,
		    "%s: every shell call will fail until the client sets "
		    "danger-full-access (or start with --sandbox none)",
		    sberr);
	if ((br.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		ew_fatal("cannot start the event loop (libev)");
	/* The kernel backstop: what the shim cannot see (ew_backstop.h). */
	if (ew_backstop_new(&br, backstop, &br.backstop) != 0)
		ew_fatal("out of memory");
	if (ew_backstop_state(br.backstop) == EW_BACKSTOP_OUTER ||
	    ew_backstop_state(br.backstop) == EW_BACKSTOP_UNAVAILABLE)
		ew_log(EW_LOG_WARN, "no kernel backstop of our own: %s",
		    ew_backstop_why(br.backstop));
	if (ew_audit_conf_default_path(&ac, audit_path, sizeof(audit_path)) !=
	    0) {
		fprintf(stderr,
		    "execward mcp: no HOME or XDG_STATE_HOME: give "
		    "--audit FILE\n");
		goto out;
	}
	if ((r = ew_audit_open_conf(&ac, br.loop, &br.audit)) != 0) {
		fprintf(stderr, "execward mcp: open audit log %s: %s\n",
		    ac.path, ac.why[0] != '\0' ? ac.why : strerror(-r));
		goto out;
	}

	memset(&so, 0, sizeof(so));
	so.br = &br;
	so.lib = lib;
	so.bash = bash;
	so.timeout_ms = timeout_ms;
	so.output_max = (size_t)output_max;
	so.prompt_timeout_s = (double)prompt_ms / 1000.;
	so.login = login;
	if (ew_mcp_shell_new(&so, &sh) != 0)
		ew_fatal("out of memory");
	ew_mcp_shell_tool(sh, &tool);

	memset(&cfg, 0, sizeof(cfg));
	cfg.in_fd = STDIN_FILENO;
	cfg.out_fd = STDOUT_FILENO;
	cfg.name = "execward";
	cfg.title = "execward";
	cfg.version = EW_VERSION;
	cfg.instructions = instructions;
	cfg.tools = &tool;
	cfg.ntools = 1;
	cfg.sandbox = sandbox;
	cfg.close_grace_s = EW_MCP_CLOSE_GRACE_S;
	/* A client that stopped reading must not kill us: we see EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if ((r = ew_mcp_new(br.loop, &cfg, &m)) != 0) {
		fprintf(stderr, "execward mcp: %s\n", strerror(-r));
		goto out;
	}
	br.notify = ew_broker_on_mcp_notify;
	br.notify_ctx = m;
	if (listen_path != NULL) {
		if (ew_session_listen(&outside, &br, EW_ON_PROMPT_ASK,
			listen_path, -1, lerr, sizeof(lerr)) != 0) {
			fprintf(stderr, "execward mcp: --listen: %s\n", lerr);
			goto out;
		}
		outside_open = true;
		outside_asker.m = m;
		outside_asker.timeout_s = (double)prompt_ms / 1000.;
		outside.prompt = &ew_mcp_elicit_ops;
		outside.prompt_ctx = &outside_asker;
		ew_log(EW_LOG_INFO, "serving shims on %s", listen_path);
	}
	ev_signal_init(&sig_w[0], ew_broker_on_mcp_signal, SIGTERM);
	ev_signal_init(&sig_w[1], ew_broker_on_mcp_signal, SIGINT);
	ev_signal_init(&sig_w[2], ew_broker_on_mcp_signal, SIGHUP);
	for (i = 0; i < 3; i++) {
		sig_w[i].data = m;
		ev_signal_start(br.loop, &sig_w[i]);
	}
	ew_log(EW_LOG_INFO, "MCP server on stdio; audit log %s%s; bash %s",
	    ac.path, ac.syslog ? " (and syslog)" : "", bash);
	while (!ew_mcp_finished(m))
		ev_run(br.loop, 0);
	code = 0;
out:
	/* The tool first: its calls still talk to the server as they end. */
	ew_mcp_shell_free(sh);
	/* Outside shims next, while the server and escalations still are. */
	if (outside_open) {
		ew_mcp_asker_stop(
		    &outside_asker, EW_ANSWER_CANCEL, "execward is stopping");
		ew_session_close(&outside);
	}
	/* What they escalated goes with them (and its exit is recorded). */
	ew_escalate_free(br.esc);
	ew_backstop_free(br.backstop);
	if (br.loop != NULL)
		for (i = 0; i < 3; i++)
			ev_signal_stop(br.loop, &sig_w[i]);
	ew_mcp_free(m);
	ew_buf_free(br.rbuf);
	ew_audit_close(br.audit);
	if (loaded)
		ew_rules_fini(&br.rules);
	free(rules);
	free(keep);
	return code;
}
