/* Which rules files the broker reads, and loading them into a policy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_policy.h"
#include "ew_rules.h"

static int
add_path(struct ew_rules *r, const char *p, size_t len)
{
	char **np, *s;

	if ((s = strndup(p, len)) == NULL)
		return -1;
	if ((np = reallocarray(r->paths, r->npaths + 1, sizeof(*np))) == NULL) {
		free(s);
		return -1;
	}
	r->paths = np;
	r->paths[r->npaths++] = s;
	return 0;
}

static bool
is_dir(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Load r->paths into a new policy; NULL after printing the diagnostics. */
static struct ew_policy *
load_all(const struct ew_rules *r)
{
	struct ew_policy *p;
	struct stat sb;
	char *diag = NULL;
	size_t i;
	int bad = 0;

	if ((p = ew_policy_new()) == NULL) {
		fprintf(stderr, "execward: load rules: out of memory\n");
		return NULL;
	}
	for (i = 0; i < r->npaths; i++) {
		/* A missing default folder is an empty policy. */
		if (i == 0 && r->default_first && stat(r->paths[0], &sb) != 0 &&
		    errno == ENOENT)
			continue;
		if (ew_policy_load(p, r->paths[i], &diag) != 0)
			bad = 1;
	}
	if (diag != NULL)
		fputs(diag, stderr);
	free(diag);
	if (bad) {
		ew_policy_free(p);
		return NULL;
	}
	/* Rules that let out more than they name: said, not refused. */
	if (ew_policy_risky(p, &diag) == 0 && diag != NULL)
		fputs(diag, stderr);
	free(diag);
	return p;
}

int
ew_rules_load(struct ew_rules *r, char *const *paths, size_t npaths,
    const char *def, const char *amend_override)
{
	const char *env, *e;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (npaths == 0) {
		if (def != NULL) {
			if (add_path(r, def, strlen(def)) != 0)
				goto oom;
			r->default_first = true;
		}
		if ((env = getenv("EXECWARD_RULES")) != NULL) {
			while (*env != '\0') {
				e = strchrnul(env, ':');
				if (e != env &&
				    add_path(r, env, (size_t)(e - env)) != 0)
					goto oom;
				env = *e == ':' ? e + 1 : e;
			}
		}
	}
	for (i = 0; i < npaths; i++)
		if (add_path(r, paths[i], strlen(paths[i])) != 0)
			goto oom;
	if (amend_override != NULL) {
		r->amend_file = strdup(amend_override);
	} else if (r->default_first) {
		if (asprintf(&r->amend_file, "%s/default.rules", def) < 0)
			r->amend_file = NULL;
	} else {
		for (i = 0; i < r->npaths && r->amend_file == NULL; i++)
			if (is_dir(r->paths[i]) &&
			    asprintf(&r->amend_file, "%s/default.rules",
				r->paths[i]) < 0)
				goto oom;
		if (r->amend_file == NULL && r->npaths != 0)
			r->amend_file = strdup(r->paths[0]);
	}
	if (r->amend_file == NULL && (amend_override != NULL || r->npaths != 0))
		goto oom;
	if ((r->policy = load_all(r)) == NULL) {
		ew_rules_fini(r);
		return -1;
	}
	return 0;
oom:
	fprintf(stderr, "execward: load rules: out of memory\n");
	ew_rules_fini(r);
	return -1;
}

int
ew_rules_reload(struct ew_rules *r)
{
	struct ew_policy *p;

	if ((p = load_all(r)) == NULL) {
		fprintf(stderr,
		    "execward: rules not reloaded; the previous "
		    "rules stay in force\n");
		return -1;
	}
	ew_policy_free(r->policy);
	r->policy = p;
	return 0;
}

void
ew_rules_fini(struct ew_rules *r)
{
	size_t i;

	ew_policy_free(r->policy);
	for (i = 0; i < r->npaths; i++)
		free(r->paths[i]);
	free(r->paths);
	free(r->amend_file);
	memset(r, 0, sizeof(*r));
}
