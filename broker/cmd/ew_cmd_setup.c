/*
 * The options, setup and teardown that run, mcp and daemon share, and the
 * start of a command with subcommands.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_buf.h"
#include "ew_cmd.h"
#include "ew_cmd_setup.h"
#include "ew_env.h"
#include "ew_escalate.h"
#include "ew_log.h"
#include "ew_paths.h"

int
ew_cmd_usage_or_help(int argc, char **argv, void (*usage)(FILE *))
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	return -1;
}

void
ew_cmd_init(struct ew_cmd *c, const char *name, int argc,
    enum ew_on_prompt on_prompt, bool can_ask, enum ew_sandbox_mode mode)
{
	memset(c, 0, sizeof(*c));
	if ((c->rules = calloc((size_t)argc + 1, sizeof(*c->rules))) == NULL ||
	    (c->keep = calloc((size_t)argc + 1, sizeof(*c->keep))) == NULL)
		ew_fatal("out of memory");
	c->name = name;
	c->on_prompt = on_prompt;
	c->can_ask = can_ask;
	c->mode = mode;
	c->backstop = true;
	c->br.popts.heuristics = true;
	c->br.popts.split_shell = true;
	c->br.popts.resolve_host_executables = true;
	/* The shim asks about each program a script starts. */
	c->br.popts.programs_asked = true;
	c->br.uid = getuid();
	ew_audit_conf_init(&c->ac);
}

static int
on_prompt_option(struct ew_cmd *c, const char *arg)
{
	if (c->can_ask && strcmp(arg, "ask") == 0)
		c->on_prompt = EW_ON_PROMPT_ASK;
	else if (strcmp(arg, "deny") == 0)
		c->on_prompt = EW_ON_PROMPT_DENY;
	else if (strcmp(arg, "allow") == 0)
		c->on_prompt = EW_ON_PROMPT_ALLOW;
	else {
		fprintf(stderr,
		    c->can_ask ? "execward %s: --on-prompt: expected ask, deny "
				 "or allow, not %s\n"
			       : "execward %s: --on-prompt: expected deny or "
				 "allow (nobody is there to ask), not %s\n",
		    c->name, arg);
		return -1;
	}
	return 1;
}

int
ew_cmd_option(struct ew_cmd *c, int ch, const struct option *o, const char *arg)
{
	char err[PATH_MAX + 256];

	switch (ch) {
	case EW_CMD_OPT_RULES:
		c->rules[c->nrules++] = (char *)(uintptr_t)arg;
		return 1;
	case EW_CMD_OPT_AUDIT:
		if (ew_audit_conf_option(
			&c->ac, o->name, arg, err, sizeof(err)) != 0) {
			fprintf(stderr, "execward %s: %s\n", c->name, err);
			return -1;
		}
		return 1;
	case EW_CMD_OPT_AMEND:
		c->amend = arg;
		return 1;
	case EW_CMD_OPT_ON_PROMPT:
		return on_prompt_option(c, arg);
	case EW_CMD_OPT_PRESERVE:
		c->br.popts.preserve_program_paths = true;
		return 1;
	case EW_CMD_OPT_SANDBOX:
		if (ew_sandbox_mode_parse(arg, &c->mode) != 0) {
			fprintf(stderr,
			    "execward %s: --sandbox: expected none, read-only "
			    "or workspace-write, not %s\n",
			    c->name, arg);
			return -1;
		}
		c->sandbox = arg;
		return 1;
	case EW_CMD_OPT_KEEP_ENV:
		c->keep[c->nkeep++] = arg;
		return 1;
	case EW_CMD_OPT_BACKSTOP:
		if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
			fprintf(stderr,
			    "execward %s: --backstop: expected on or off, not "
			    "%s\n",
			    c->name, arg);
			return -1;
		}
		c->backstop = arg[1] == 'n';
		return 1;
	default:
		return 0;
	}
}

void
ew_cmd_unexpected(const struct ew_cmd *c, const char *arg)
{
	fprintf(stderr, "execward %s: unexpected argument: %s\n", c->name, arg);
}

int
ew_cmd_library(const struct ew_cmd *c, char *lib, size_t len)
{
	if (ew_paths_find("libexecward.so", "EXECWARD_LIBRARY", lib, len) == 0)
		return 0;
	fprintf(stderr,
	    "execward %s: libexecward.so not found (set EXECWARD_LIBRARY, or "
	    "build it)\n",
	    c->name);
	return -1;
}

int
ew_cmd_load_rules(struct ew_cmd *c)
{
	if (ew_rules_load(&c->br.rules, c->rules, c->nrules,
		ew_paths_rules_folder(c->rules_folder, sizeof(c->rules_folder)),
		c->amend) != 0)
		return -1;
	c->loaded = true;
	return 0;
}

/* path made absolute (relative to where we are) into out; false: too long. */
static bool
absolute(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		n = snprintf(out, len, "%s", path);
	else
		n = snprintf(out, len, "%s/%s", cwd, path);
	return n >= 0 && (size_t)n < len;
}

int
ew_cmd_chain(struct ew_cmd *c, const char *own)
{
	const char *sock = getenv(EW_ENV_SOCKET);
	char a[PATH_MAX], b[PATH_MAX], err[PATH_MAX + 256];

	/* A daemon told its own socket is no session it runs inside. */
	if (own != NULL && sock != NULL && absolute(own, a, sizeof(a)) &&
	    absolute(sock, b, sizeof(b)) && strcmp(a, b) == 0)
		return 0;
	if (ew_chain_open(&c->br, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "execward %s: %s\n", c->name, err);
	return -1;
}

int
ew_cmd_audit_path(struct ew_cmd *c)
{
	if (ew_audit_conf_default_path(
		&c->ac, c->audit_path, sizeof(c->audit_path)) == 0)
		return 0;
	fprintf(stderr,
	    "execward %s: no HOME or XDG_STATE_HOME: give --audit FILE\n",
	    c->name);
	return -1;
}

int
ew_cmd_open(struct ew_cmd *c)
{
	int r;

	if (c->br.loop == NULL &&
	    (c->br.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		ew_fatal("cannot start the event loop (libev)");
	if (ew_cmd_audit_path(c) != 0)
		return -1;
	if ((r = ew_audit_open_conf(&c->ac, c->br.loop, &c->br.audit)) != 0) {
		fprintf(stderr, "execward %s: open audit log %s: %s\n", c->name,
		    c->ac.path,
		    c->ac.why[0] != '\0' ? c->ac.why : strerror(-r));
		return -1;
	}
	return 0;
}

int
ew_cmd_keep_check(const struct ew_cmd *c)
{
	if (ew_escalate_keep_check(c->keep, c->nkeep) == 0)
		return 0;
	fprintf(stderr,
	    "execward %s: --keep-env: expected a variable name, or a prefix "
	    "ending in *\n",
	    c->name);
	return -1;
}

int
ew_cmd_escalate(struct ew_cmd *c, const char *lib, const char *fail)
{
	if (ew_cmd_keep_check(c) != 0)
		return -1;
	if (ew_escalate_new(c->br.loop, c->br.audit, c->br.uid, lib, fail,
		&c->br.esc) != 0 ||
	    ew_escalate_keep(c->br.esc, c->keep, c->nkeep) != 0)
		ew_fatal("out of memory");
	/* Escalated programs' trees get the kernel backstop too. */
	if (c->br.backstop != NULL)
		ew_escalate_set_hook(c->br.esc, c->br.backstop->spawn);
	return 0;
}

void
ew_cmd_backstop(struct ew_cmd *c, bool handover)
{
	if ((handover ? ew_backstop_new_handover(&c->br, &c->bs)
		      : ew_backstop_new(&c->br, c->backstop, &c->bs)) != 0)
		ew_fatal("out of memory");
	c->br.backstop = ew_backstop_ops(c->bs);
	if (c->br.esc != NULL)
		ew_escalate_set_hook(c->br.esc, c->br.backstop->spawn);
}

void
ew_cmd_fini(struct ew_cmd *c)
{
	/* Nobody listens for the trees any more: trapped starts fail. */
	c->br.backstop = NULL;
	if (c->br.esc != NULL)
		ew_escalate_set_hook(c->br.esc, NULL);
	ew_backstop_free(c->bs);
	c->bs = NULL;
	/* Programs escalated end with the broker, recorded. */
	ew_escalate_free(c->br.esc);
	c->br.esc = NULL;
	ew_audit_close(c->br.audit);
	c->br.audit = NULL;
	ew_chain_close(&c->br);
	ew_buf_free(c->br.rbuf);
	c->br.rbuf = NULL;
	if (c->loaded)
		ew_rules_fini(&c->br.rules);
	c->loaded = false;
	free(c->rules);
	free(c->keep);
	c->rules = NULL;
	c->keep = NULL;
}
