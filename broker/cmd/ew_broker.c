/* execward: the broker program's entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "ew_cmd.h"

static const struct ew_broker_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} ew_cmds[] = {
	{ "run", ew_cmd_run, "run COMMAND under a private broker" },
	{ "policy", ew_cmd_policy, "check a command against the rules" },
	{ "mcp", ew_cmd_mcp, "serve MCP on stdio: the shell tool" },
	{ "audit", ew_cmd_audit, "read the audit log: tail, summary" },
	{ "daemon", ew_cmd_daemon,
	    "serve shims on a socket (agent sandboxes)" },
	{ "launch", ew_cmd_launch,
	    "run COMMAND under the daemon's kernel backstop" },
	{ NULL, NULL, NULL },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: execward COMMAND [ARG]...\n\ncommands:\n");
	for (i = 0; ew_cmds[i].name != NULL; i++)
		fprintf(f, "  %-8s %s\n", ew_cmds[i].name, ew_cmds[i].summary);
	fprintf(f, "\nexecward COMMAND --help for a command's options.\n");
}

int
main(int argc, char **argv)
{
	size_t i;
	int code;

	if ((code = ew_cmd_usage_or_help(argc, argv, usage)) >= 0)
		return code;
	if (strcmp(argv[1], "--version") == 0) {
		printf("execward %s\n", EW_VERSION);
		return 0;
	}
	for (i = 0; ew_cmds[i].name != NULL; i++)
		if (strcmp(argv[1], ew_cmds[i].name) == 0)
			return ew_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "execward: unknown command: %s\n", argv[1]);
	usage(stderr);
	return 2;
}
