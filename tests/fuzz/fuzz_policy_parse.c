/*
 * libFuzzer target: the rules parser and loader on arbitrary bytes, then
 * a few evaluations on whatever loaded. Must never crash, leak or read
 * out of bounds; a file with errors must add nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ew_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
eval(const struct ew_policy *p, const char *program, char **argv)
{
	static const struct ew_policy_opts opts[] = {
		{ 0 },
		{ .heuristics = true, .split_shell = true },
		{ .preserve_program_paths = true,
		    .heuristics = true,
		    .split_shell = true,
		    .resolve_host_executables = true,
		    .programs_asked = true },
	};
	struct ew_policy_result *r;
	size_t i, k;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (ew_policy_eval(p, program, argv, &opts[i], &r) != 0)
			continue;
		for (k = 0; k < r->nmatches; k++)
			if (r->matches[k].nprefix == 0)
				abort();
		ew_policy_result_free(r);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *git[] = { "git", "push", "origin", "main", NULL };
	char *sh[] = { "sh", "-c", "ls -l && git status; rm -rf x", NULL };
	char *one[] = { "a", "b", "c", NULL };
	struct ew_policy *p = ew_policy_new();
	char *diag = NULL;
	size_t before;
	int r;

	if (p == NULL)
		return 0;
	r = ew_policy_load_buffer(
	    p, "fuzz.rules", (const char *)data, size, &diag);
	/* Errors come with diagnostics, and then nothing was added. */
	if (r != 0 &&
	    (diag == NULL || ew_policy_rule_count(p) != 0 ||
		ew_policy_network_rule_count(p) != 0))
		abort();
	before = ew_policy_rule_count(p);
	/* Loading the same text again doubles the rules or fails again. */
	if (r == 0 &&
	    ew_policy_load_buffer(
		p, "again.rules", (const char *)data, size, NULL) == 0 &&
	    ew_policy_rule_count(p) != 2 * before)
		abort();
	eval(p, "/usr/bin/git", git);
	eval(p, "/bin/sh", sh);
	eval(p, "/opt/a", one);
	free(diag);
	ew_policy_free(p);
	return 0;
}
