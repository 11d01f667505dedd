/*
 * What `execward run`, `mcp` and `daemon` share: the options of a broker
 * (rules, audit log, prompts, sandbox, kept variables), and setting up
 * and tearing down the broker they serve with.
 */
#ifndef EW_CMD_SETUP_H
#define EW_CMD_SETUP_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>

#include "ew_audit.h"
#include "ew_backstop.h"
#include "ew_broker.h"
#include "ew_sandbox.h"

/* getopt_long's codes for the shared options (each subcommand's table). */
#define EW_CMD_OPT_RULES 'r'
#define EW_CMD_OPT_AUDIT 'A' /* every --audit* option: told apart by name */
#define EW_CMD_OPT_AMEND 'M'
#define EW_CMD_OPT_ON_PROMPT 'P'
#define EW_CMD_OPT_PRESERVE 'k'
#define EW_CMD_OPT_SANDBOX 'x'
#define EW_CMD_OPT_KEEP_ENV 'K'
#define EW_CMD_OPT_BACKSTOP 'B'

/* The audit options, as entries of a getopt_long table. */
#define EW_CMD_AUDIT_OPTIONS                                                  \
	{ "audit", required_argument, NULL, EW_CMD_OPT_AUDIT },               \
	    { "audit-sync", required_argument, NULL, EW_CMD_OPT_AUDIT },      \
	    { "audit-max-bytes", required_argument, NULL, EW_CMD_OPT_AUDIT }, \
	    { "audit-keep", required_argument, NULL, EW_CMD_OPT_AUDIT },      \
	{                                                                     \
		"audit-full", required_argument, NULL, EW_CMD_OPT_AUDIT       \
	}

/* A subcommand's broker, and what its options asked for. */
struct ew_cmd {
	const char *name; /* the subcommand: "execward NAME: ..." */
	struct ew_broker br;
	char **rules; /* --rules, in order */
	size_t nrules;
	const char *amend; /* --amend; NULL: the default */
	const char **keep; /* --keep-env */
	size_t nkeep;
	bool backstop; /* --backstop (run, mcp): on, the default */
	struct ew_backstop *bs; /* ew_cmd_backstop's; br.backstop its ops */
	enum ew_on_prompt on_prompt;
	bool can_ask; /* --on-prompt ask is offered */
	enum ew_sandbox_mode mode; /* --sandbox */
	const char *sandbox; /* its name as given; NULL: not given */
	struct ew_audit_conf ac;
	bool loaded; /* br.rules holds rules */
	char audit_path[PATH_MAX];
	char rules_folder[PATH_MAX];
};

/*
 * Start c for subcommand name, whose argv has argc entries (room for the
 * repeatable options): the broker decides as the shim's sessions need
 * (heuristics, sh -c scripts split, host executables resolved, every
 * program asked about), prompts are on_prompt (can_ask: --on-prompt ask
 * is offered), the sandbox is mode until an option says otherwise. Exits
 * (ew_fatal) when out of memory.
 */
void ew_cmd_init(struct ew_cmd *c, const char *name, int argc,
    enum ew_on_prompt on_prompt, bool can_ask, enum ew_sandbox_mode mode);

/*
 * Apply one option getopt_long returned: code ch, o its entry (for the
 * --audit* options), arg its argument. 1 when it was one of the shared
 * options, 0 when it is the subcommand's own, -1 when its argument is
 * bad (said on stderr).
 */
int ew_cmd_option(
    struct ew_cmd *c, int ch, const struct option *o, const char *arg);

/* "execward NAME: unexpected argument: ARG", for a subcommand without. */
void ew_cmd_unexpected(const struct ew_cmd *c, const char *arg);

/* libexecward.so's path into lib; 0, or -1 (said on stderr). */
int ew_cmd_library(const struct ew_cmd *c, char *lib, size_t len);

/*
 * Load the rules (--rules, else the default folder and EXECWARD_RULES;
 * the amend file). 0, or -1 after the diagnostics.
 */
int ew_cmd_load_rules(struct ew_cmd *c);

/*
 * Inside another execward session (EXECWARD_SOCKET set, and not the
 * socket own that we serve ourselves): every start this broker would let
 * through is put to the outer broker too (ew_chain.c), so a tree under
 * execward cannot leave its policy by starting a broker of its own. 0, or
 * -1 when the outer broker does not answer and fails closed (said).
 */
int ew_cmd_chain(struct ew_cmd *c, const char *own);

/* Where the audit log goes (--audit, else the default). 0, or -1 (said). */
int ew_cmd_audit_path(struct ew_cmd *c);

/*
 * The event loop, then the audit log (its path as ew_cmd_audit_path
 * says). 0, or -1 (said). Exits (ew_fatal) when libev cannot start.
 */
int ew_cmd_open(struct ew_cmd *c);

/* Are the --keep-env names well formed? 0, or -1 (said on stderr). */
int ew_cmd_keep_check(const struct ew_cmd *c);

/*
 * Escalation for c's broker: programs get LD_PRELOAD=lib and
 * EXECWARD_FAIL=fail, and keep the --keep-env variables (checked first).
 * 0, or -1 (said).
 */
int ew_cmd_escalate(struct ew_cmd *c, const char *lib, const char *fail);

/*
 * The kernel backstop of c's broker (broker/backstop/): its own, as
 * --backstop says, or (handover, the daemon's) only the listeners that
 * `execward launch` hands over. After ew_cmd_open. Exits (ew_fatal) when
 * out of memory; a kernel that cannot is no error (ew_backstop_new).
 */
void ew_cmd_backstop(struct ew_cmd *c, bool handover);

/*
 * Tear down what ew_cmd_* set up: the kernel backstop's listeners (what
 * they trapped then fails), escalated programs (killed, their exits
 * recorded), the audit log, the outer session, the rules.
 */
void ew_cmd_fini(struct ew_cmd *c);

#endif /* EW_CMD_SETUP_H */
