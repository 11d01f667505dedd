/* Rule loading shared by every broker subcommand. */
#ifndef EW_RULES_H
#define EW_RULES_H

#include <stdbool.h>
#include <stddef.h>

struct ew_policy;

struct ew_rules {
	struct ew_policy *policy;
	char **paths; /* files and folders, in load order */
	size_t npaths;
	char *amend_file; /* where "always allow" appends */
	bool
	    default_first; /* paths[0] is the default folder (may be missing) */
};

/*
 * Load files and folders in order (a folder: its *.rules and *.codexpolicy
 * files, sorted). With npaths == 0: the default folder def (the broker's
 * ~/.config/execward/rules; NULL: none; a missing default folder is an
 * empty policy), then the paths in EXECWARD_RULES (colon-separated).
 * amend_file: amend_override, else default.rules in the first folder in
 * use (the default folder when no path is given), else the first file
 * given. Prints every diagnostic to stderr. 0, or -1 after printing (r is
 * then empty).
 */
int ew_rules_load(struct ew_rules *r, char *const *paths, size_t npaths,
    const char *def, const char *amend_override);

/* Load again from the same paths; on failure keep the old policy, print why
 * and return -1. */
int ew_rules_reload(struct ew_rules *r);

/* Free everything r holds. */
void ew_rules_fini(struct ew_rules *r);

#endif /* EW_RULES_H */
