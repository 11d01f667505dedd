/* The execward program's subcommands. */
#ifndef EW_CMD_H
#define EW_CMD_H

#include <stdio.h>

/*
 * Each takes its own argv (argv[0] is the subcommand name) and returns the
 * process exit status: 2 for a usage or configuration error.
 */
int ew_cmd_run(int argc, char **argv);
int ew_cmd_policy(int argc, char **argv);
int ew_cmd_mcp(int argc, char **argv);
int ew_cmd_daemon(int argc, char **argv);
int ew_cmd_audit(int argc, char **argv);
/* The daemon's kernel backstop for one tree (broker/backstop/). */
int ew_cmd_launch(int argc, char **argv);

/*
 * How a command with subcommands starts: with none given, usage on
 * stderr and 2; asked for help (--help, -h, help), usage on stdout and 0.
 * -1: go on to argv[1].
 */
int ew_cmd_usage_or_help(int argc, char **argv, void (*usage)(FILE *));

#endif /* EW_CMD_H */
