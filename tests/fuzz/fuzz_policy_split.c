/*
 * libFuzzer target: the sh -c splitter, the lenient scan and the safety
 * heuristics on arbitrary scripts. Checks the splitter's contract: every
 * command has words, NULL-terminated, and a split script never holds the
 * shell syntax the splitter promises to refuse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ew_policy.h"
#include "ew_policy_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_split(const struct ew_policy_split *s)
{
	size_t i, k;

	for (i = 0; i < s->ncmds; i++) {
		if (s->cmds[i].argc == 0 ||
		    s->cmds[i].argv[s->cmds[i].argc] != NULL)
			abort();
		for (k = 0; k < s->cmds[i].argc; k++)
			if (s->cmds[i].argv[k] == NULL)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *script = (const char *)data;
	struct ew_policy_split *s = NULL;
	struct ew_policy_arena a = { NULL };
	char *copy, *argv[4], **words;
	size_t n, i;

	if (ew_policy_split_script(script, size, &s) == 0) {
		check_split(s);
		/*
		 * Outside quotes the splitter refuses expansions, subshells
		 * and redirections: a script without quotes that split holds
		 * none of them.
		 */
		if (memchr(data, '\'', size) == NULL &&
		    memchr(data, '"', size) == NULL)
			for (i = 0; i < size; i++)
				if (strchr("$`\\()<>", data[i]) != NULL &&
				    data[i] != '\0')
					abort();
		ew_policy_split_free(s);
	}
	if (ew_policy_scan_script(script, size, &s) == 0) {
		check_split(s);
		ew_policy_split_free(s);
	}
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[0] = "bash";
	argv[1] = "-lc";
	argv[2] = copy;
	argv[3] = NULL;
	(void)ew_policy_is_known_safe(argv, 3);
	(void)ew_policy_might_be_dangerous(argv, 3);
	if (ew_policy_split_shell(argv, 3, &s) == 0) {
		check_split(s);
		(void)ew_policy_is_known_safe(s->cmds[0].argv, s->cmds[0].argc);
		(void)ew_policy_might_be_dangerous(
		    s->cmds[0].argv, s->cmds[0].argc);
		ew_policy_split_free(s);
	}
	if (ew_policy_shlex_split(copy, &a, &words, &n) == 0) {
		struct ew_policy_sb b;

		ew_policy_sb_init(&b, 1 << 20);
		ew_policy_shlex_join(&b, words, n);
		ew_policy_sb_fini(&b);
	}
	ew_policy_arena_fini(&a);
	free(copy);
	return 0;
}
