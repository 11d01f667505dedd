/* The execward program: subcommands and shared broker declarations. */
#ifndef EW_BROKER_H
#define EW_BROKER_H

/*
 * Subcommands: each takes its own argv (argv[0] is the subcommand name)
 * and returns the process exit status.
 */
int ew_cmd_run(int argc, char **argv);
int ew_cmd_policy(int argc, char **argv);

#endif /* EW_BROKER_H */
