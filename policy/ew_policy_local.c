/*
 * Which program names the policy allows in place whatever their
 * arguments: the complement of ew_policy_ask_names' list, for the policy
 * snapshot the shim decides the common case by (proto/ew_snap.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

/*
 * Names the evaluator or the heuristics look past, or into the arguments
 * of: shells (their scripts are split, or scanned), git (its global
 * options, its dangerous subcommands), rm (forced), sudo and doas (what
 * they run). Kept in step with ew_policy_heur.c and ew_policy_forms.c:
 * a name missing here would be told, not asked (the broker still flags
 * the record), so a test (test_policy_local) checks each entry point of
 * the heuristics against it.
 */
static const char *const special[] = { "bash", "sh", "zsh", "dash", "git", "rm",
	"sudo", "doas", NULL };

/* The dynamic loader's names (ew_policy_forms.c is_loader), and more. */
const char *const ew_policy_ask_prefixes[] = { "ld-", "ld64", "ld.so", NULL };

/* Does any rule under this first token decide other than allow? */
static bool
strict_rules(const struct ew_policy_rule *r)
{
	for (; r != NULL; r = r->next)
		if (r->decision != EW_POLICY_ALLOW)
			return true;
	return false;
}

int
ew_policy_ask_names(const struct ew_policy *p, const struct ew_policy_opts *o,
    char ***out, size_t *np)
{
	char **v;
	const char *b;
	size_t i, n = 0, cap, len;

	*out = NULL;
	*np = 0;
	/* The program's path is the policy command's first word. */
	if (o != NULL && o->preserve_program_paths)
		return -EW_E_INVALID;
	cap = sizeof(special) / sizeof(special[0]) + p->nused;
	if ((v = calloc(cap, sizeof(*v))) == NULL)
		return -EW_E_NOMEM;
	for (i = 0; special[i] != NULL; i++)
		if ((v[n++] = strdup(special[i])) == NULL)
			goto nomem;
	for (i = 0; i < p->nslots; i++) {
		if (p->slots[i].key == NULL || !strict_rules(p->slots[i].head))
			continue;
		/*
		 * A rule for a path (host executables) asks about every
		 * program of that name, wherever it lies.
		 */
		b = ew_policy_basename(p->slots[i].key, &len);
		if ((v[n++] = strndup(b, len)) == NULL)
			goto nomem;
	}
	*out = v;
	*np = n;
	return 0;
nomem:
	ew_policy_ask_names_free(v, n);
	return -EW_E_NOMEM;
}

void
ew_policy_ask_names_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}
