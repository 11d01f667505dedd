/*
 * `execward policy check`: evaluate a command against the rules and print
 * the same JSON as `codex execpolicy check` (doas -C style, for people and
 * for tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "ew_cmd.h"
#include "ew_err.h"
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

/* Invalid UTF-8 bytes become U+FFFD so the output is always valid JSON. */
static int
gen_str(yajl_gen g, const char *s)
{
	size_t n = strlen(s), i = 0, k, o = 0, len;
	const unsigned char *p = (const unsigned char *)s;
	unsigned char *out;
	int st;

	if ((out = malloc(n * 3 + 1)) == NULL)
		return yajl_gen_invalid_string;
	while (i < n) {
		len = p[i] < 0x80           ? 1
		    : (p[i] & 0xe0) == 0xc0 ? 2
		    : (p[i] & 0xf0) == 0xe0 ? 3
		    : (p[i] & 0xf8) == 0xf0 ? 4
					    : 0;
		for (k = 1; len != 0 && k < len; k++)
			if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
				len = 0;
		/* Overlong forms and surrogates are not worth keeping. */
		if (len == 2 && p[i] < 0xc2)
			len = 0;
		if (len == 3 &&
		    ((p[i] == 0xe0 && p[i + 1] < 0xa0) ||
			(p[i] == 0xed && p[i + 1] >= 0xa0)))
			len = 0;
		if (len == 4 &&
		    ((p[i] == 0xf0 && p[i + 1] < 0x90) || p[i] > 0xf4 ||
			(p[i] == 0xf4 && p[i + 1] >= 0x90)))
			len = 0;
		if (len == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, p + i, len);
		o += len;
		i += len;
	}
	st = yajl_gen_string(g, out, o);
	free(out);
	return st;
}

static int
gen_key(yajl_gen g, const char *k)
{
	return yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

static int
gen_result(yajl_gen g, const struct ew_policy_result *res)
{
	const struct ew_policy_match *m;
	size_t i, k;
	int st = yajl_gen_status_ok;

#define G(x)                                          \
	do {                                          \
		if ((st = (x)) != yajl_gen_status_ok) \
			return st;                    \
	} while (0)
	G(yajl_gen_map_open(g));
	G(gen_key(g, "matchedRules"));
	G(yajl_gen_array_open(g));
	for (i = 0; i < res->nmatches; i++) {
		m = &res->matches[i];
		G(yajl_gen_map_open(g));
		if (m->heuristics) {
			G(gen_key(g, "heuristicsRuleMatch"));
			G(yajl_gen_map_open(g));
			G(gen_key(g, "command"));
		} else {
			G(gen_key(g, "prefixRuleMatch"));
			G(yajl_gen_map_open(g));
			G(gen_key(g, "matchedPrefix"));
		}
		G(yajl_gen_array_open(g));
		for (k = 0; k < m->nprefix; k++)
			G(gen_str(g, m->prefix[k]));
		G(yajl_gen_array_close(g));
		G(gen_key(g, "decision"));
		G(gen_str(g, ew_policy_decision_str(m->decision)));
		if (m->resolved_program != NULL) {
			G(gen_key(g, "resolvedProgram"));
			G(gen_str(g, m->resolved_program));
		}
		if (m->justification != NULL) {
			G(gen_key(g, "justification"));
			G(gen_str(g, m->justification));
		}
		G(yajl_gen_map_close(g));
		G(yajl_gen_map_close(g));
	}
	G(yajl_gen_array_close(g));
	if (res->decision != EW_POLICY_NONE) {
		G(gen_key(g, "decision"));
		G(gen_str(g, ew_policy_decision_str(res->decision)));
	}
	G(yajl_gen_map_close(g));
#undef G
	return st;
}

static int
check(int argc, char **argv)
{
	struct ew_policy_opts o;
	struct ew_policy_result *res = NULL;
	struct ew_rules rules;
	char **paths = NULL, **cmd;
	const unsigned char *buf;
	size_t npaths = 0, len;
	bool pretty = false, loaded = false;
	yajl_gen g = NULL;
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
	if (ew_rules_load(&rules, paths, npaths, NULL) != 0)
		goto out;
	loaded = true;
	r = ew_policy_eval(rules.policy, cmd[0], cmd, &o, &res);
	if (r != 0) {
		fprintf(stderr, "execward policy check: evaluate: %s\n",
		    ew_err_str(r));
		goto out;
	}
	if ((g = yajl_gen_alloc(NULL)) == NULL ||
	    (pretty &&
		(!yajl_gen_config(g, yajl_gen_beautify, 1) ||
		    !yajl_gen_config(g, yajl_gen_indent_string, "  "))) ||
	    gen_result(g, res) != yajl_gen_status_ok ||
	    yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		fprintf(
		    stderr, "execward policy check: generate JSON failed\n");
		goto out;
	}
	/* One line, as `codex execpolicy check` prints it (println!). */
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	if (fwrite(buf, 1, len, stdout) != len || putchar('\n') == EOF ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "execward policy check: write stdout failed\n");
		goto out;
	}
	status = 0;
out:
	if (g != NULL)
		yajl_gen_free(g);
	ew_policy_result_free(res);
	if (loaded)
		ew_rules_fini(&rules);
	free(paths);
	return status;
}

int
ew_cmd_policy(int argc, char **argv)
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
	if (strcmp(argv[1], "check") == 0)
		return check(argc - 1, argv + 1);
	fprintf(stderr,
	    "execward policy: unknown subcommand %s (expected check)\n",
	    argv[1]);
	return 2;
}
