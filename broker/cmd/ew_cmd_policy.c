/*
 * `execward policy check`: evaluate a command against the rules and print
 * the same JSON as `codex execpolicy check` (doas -C style, for people and
 * for tests).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_cmd.h"
#include "ew_err.h"
#include "ew_json.h"
#include "ew_paths.h"
#include "ew_policy.h"
#include "ew_rules.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: execward policy check [--rules PATH]... [--pretty] "
	    "[--heuristics]\n"
	    "           [--preserve-program-paths] "
	    "[--resolve-host-executables] -- COMMAND...\n"
	    "\n"
	    "Print, as JSON, the rules that match COMMAND and the decision\n"
	    "(the output of `codex execpolicy check`). Exit status 0 whatever\n"
	    "the decision; 2 for a bad argument or a bad rules file.\n"
	    "\n"
	    "  -r, --rules PATH   a rules file, or a folder of *.rules and\n"
	    "                     *.codexpolicy files (repeatable; default:\n"
	    "                     ~/.config/execward/rules, then "
	    "EXECWARD_RULES)\n"
	    "  --pretty           indent the JSON\n"
	    "  --heuristics       decide as the broker does: split sh -c "
	    "scripts\n"
	    "                     into their commands, and judge commands no "
	    "rule\n"
	    "                     matches with the safety heuristics\n"
	    "  --preserve-program-paths\n"
	    "                     match COMMAND[0] as given (default: its "
	    "basename)\n"
	    "  --resolve-host-executables\n"
	    "                     match COMMAND[0] as given, then its basename "
	    "as\n"
	    "                     host_executable() allows\n");
}

/* Codex's JSON for res (invalid UTF-8 becomes U+FFFD, as ew_json does). */
static void
put_result(struct ew_json *j, const struct ew_policy_result *res)
{
	const struct ew_policy_match *m;
	size_t i;

	ew_json_obj_begin(j);
	ew_json_key(j, "matchedRules");
	ew_json_arr_begin(j);
	for (i = 0; i < res->nmatches; i++) {
		m = &res->matches[i];
		ew_json_obj_begin(j);
		ew_json_key(j,
		    m->heuristics ? "heuristicsRuleMatch" : "prefixRuleMatch");
		ew_json_obj_begin(j);
		ew_json_key(j, m->heuristics ? "command" : "matchedPrefix");
		ew_json_str_array(j, m->prefix, m->nprefix);
		ew_json_kv_str(
		    j, "decision", ew_policy_decision_str(m->decision));
		ew_json_kv_opt(j, "resolvedProgram", m->resolved_program);
		ew_json_kv_opt(j, "justification", m->justification);
		ew_json_obj_end(j);
		ew_json_obj_end(j);
	}
	ew_json_arr_end(j);
	if (res->decision != EW_POLICY_NONE) {
		ew_json_key(j, "decision");
		ew_json_str(j, ew_policy_decision_str(res->decision));
	}
	ew_json_obj_end(j);
}

static int
check(int argc, char **argv)
{
	struct ew_policy_opts o;
	struct ew_policy_result *res = NULL;
	struct ew_rules rules;
	char dflt[PATH_MAX];
	char **paths = NULL, **cmd;
	struct ew_buf *b = NULL;
	struct ew_json j;
	size_t npaths = 0;
	bool pretty = false, loaded = false;
	int i, ncmd, status = 2, r;

	memset(&o, 0, sizeof(o));
	memset(&rules, 0, sizeof(rules));
	if ((paths = calloc((size_t)argc, sizeof(*paths))) == NULL) {
		fprintf(stderr, "execward policy check: out of memory\n");
		goto out;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break; /* the command starts here */
		if (strcmp(a, "--rules") == 0 || strcmp(a, "-r") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr,
				    "execward policy check: %s needs a path\n",
				    a);
				goto out;
			}
			paths[npaths++] = argv[++i];
		} else if (strncmp(a, "--rules=", 8) == 0) {
			paths[npaths++] = argv[i] + 8;
		} else if (strcmp(a, "--pretty") == 0) {
			pretty = true;
		} else if (strcmp(a, "--heuristics") == 0) {
			o.heuristics = true;
			o.split_shell = true;
		} else if (strcmp(a, "--preserve-program-paths") == 0) {
			o.preserve_program_paths = true;
		} else if (strcmp(a, "--resolve-host-executables") == 0) {
			o.resolve_host_executables = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			status = 0;
			goto out;
		} else {
			fprintf(stderr,
			    "execward policy check: unknown option %s "
			    "(execward policy check --help)\n",
			    a);
			goto out;
		}
	}
	cmd = argv + i;
	ncmd = argc - i;
	if (ncmd <= 0 || cmd[0][0] == '\0') {
		fprintf(stderr,
		    "execward policy check: no command given "
		    "(execward policy check --help)\n");
		goto out;
	}
	if (ew_rules_load(&rules, paths, npaths,
		ew_paths_rules_folder(dflt, sizeof(dflt)), NULL) != 0)
		goto out;
	loaded = true;
	r = ew_policy_eval(rules.policy, cmd[0], cmd, &o, &res);
	if (r != 0) {
		fprintf(stderr, "execward policy check: evaluate: %s\n",
		    ew_err_str(r));
		goto out;
	}
	if ((b = ew_buf_new(EW_BUF_SIZE_MAX)) == NULL) {
		fprintf(stderr, "execward policy check: out of memory\n");
		goto out;
	}
	if (pretty)
		ew_json_init_pretty(&j, b, "  ");
	else
		ew_json_init(&j, b);
	put_result(&j, res);
	if (ew_json_error(&j) != 0) {
		fprintf(
		    stderr, "execward policy check: generate JSON failed\n");
		goto out;
	}
	/* One line, as `codex execpolicy check` prints it (println!). */
	if (fwrite(ew_buf_ptr(b), 1, ew_buf_len(b), stdout) != ew_buf_len(b) ||
	    putchar('\n') == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "execward policy check: write stdout failed\n");
		goto out;
	}
	status = 0;
out:
	ew_buf_free(b);
	ew_policy_result_free(res);
	if (loaded)
		ew_rules_fini(&rules);
	free(paths);
	return status;
}

int
ew_cmd_policy(int argc, char **argv)
{
	int code;

	if ((code = ew_cmd_usage_or_help(argc, argv, usage)) >= 0)
		return code;
	if (strcmp(argv[1], "check") == 0)
		return check(argc - 1, argv + 1);
	fprintf(stderr,
	    "execward policy: unknown subcommand %s (expected check)\n",
	    argv[1]);
	return 2;
}
