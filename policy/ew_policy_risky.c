/*
 * Allow rules that let out more than they name: programs that take code
 * from their arguments, their environment or the workspace. In a sandbox
 * an allow rule runs its program outside, so a rule for bash lets out any
 * script the confined command hands to bash.
 */
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

/* Warnings for one policy at most (each names its rule's file:line). */
#define EW_RISKY_WARNINGS_MAX 256

#define SHELL                                                                \
	"a shell runs any script it is given, as an argument, a file or on " \
	"stdin"
#define INTERP                                                           \
	"it runs any code it is given (in its arguments, a file of the " \
	"workspace or stdin)"
#define RUNNER "it runs any program its arguments name"
#define BUILD                                                              \
	"it runs the commands of build files in the workspace, which the " \
	"command can write"
#define PKG                                                                \
	"it runs the scripts of the workspace's package files and of the " \
	"packages it fetches"

static const struct risk {
	const char *name; /* a prefix when it ends in '*' */
	const char *what;
} risks[] = {
	{ "sh", SHELL },
	{ "bash", SHELL },
	{ "dash", SHELL },
	{ "zsh", SHELL },
	{ "ksh*", SHELL },
	{ "mksh", SHELL },
	{ "fish", SHELL },
	{ "csh", SHELL },
	{ "tcsh", SHELL },
	{ "busybox", "it runs any of its applets, a shell among them" },
	{ "python*", INTERP ", and imports modules from the current folder" },
	{ "pypy*", INTERP },
	{ "perl*", INTERP },
	{ "node", INTERP },
	{ "nodejs", INTERP },
	{ "deno", INTERP },
	{ "bun", INTERP },
	{ "ruby*", INTERP },
	{ "irb", INTERP },
	{ "php*", INTERP },
	{ "lua*", INTERP },
	{ "tclsh*", INTERP },
	{ "Rscript", INTERP },
	{ "julia", INTERP },
	{ "awk", INTERP ", and its system() runs any command" },
	{ "gawk", INTERP ", and its system() runs any command" },
	{ "mawk", INTERP ", and its system() runs any command" },
	{ "nawk", INTERP ", and its system() runs any command" },
	{ "sed", "GNU sed's e command runs any command" },
	{ "env", RUNNER ", with any environment" },
	{ "xargs", RUNNER ", on arguments it reads from its input" },
	{ "find", "it runs any program -exec, -execdir, -ok or -okdir name" },
	{ "nohup", RUNNER },
	{ "timeout", RUNNER },
	{ "nice", RUNNER },
	{ "ionice", RUNNER },
	{ "stdbuf", RUNNER },
	{ "setsid", RUNNER },
	{ "chroot", RUNNER },
	{ "flock", RUNNER },
	{ "time", RUNNER },
	{ "watch", RUNNER },
	{ "strace", RUNNER },
	{ "ltrace", RUNNER },
	{ "gdb", RUNNER },
	{ "unshare", RUNNER },
	{ "nsenter", RUNNER },
	{ "sudo", RUNNER },
	{ "doas", RUNNER },
	{ "su", RUNNER },
	{ "runuser", RUNNER },
	{ "systemd-run", RUNNER },
	{ "parallel", RUNNER },
	{ "script", RUNNER },
	{ "expect", RUNNER },
	{ "make", BUILD },
	{ "gmake", BUILD },
	{ "bmake", BUILD },
	{ "ninja", BUILD },
	{ "cmake", BUILD },
	{ "meson", BUILD },
	{ "scons", BUILD },
	{ "rake", BUILD },
	{ "just", BUILD },
	{ "npm", PKG },
	{ "npx", PKG },
	{ "yarn", PKG },
	{ "pnpm", PKG },
	{ "pip*", PKG },
	{ "cargo", PKG },
	{ "go", PKG },
	{ "mvn", PKG },
	{ "gradle*", PKG },
	{ "ssh",
	    "it runs the commands its arguments and its configuration "
	    "(ProxyCommand, LocalCommand) name" },
	{ "vi", "it runs shell commands it is told to (:!)" },
	{ "vim", "it runs shell commands it is told to (:!)" },
	{ "nvim", "it runs shell commands it is told to (:!)" },
	{ "emacs", "it runs any code it is given" },
	{ "less", "it runs what LESSOPEN and its ! command name" },
};

/* The risk of program name, or NULL. */
static const char *
risk_of(const char *name)
{
	size_t i, n;

	for (i = 0; i < sizeof(risks) / sizeof(risks[0]); i++) {
		n = strlen(risks[i].name);
		if (risks[i].name[n - 1] == '*'
			? strncmp(name, risks[i].name, n - 1) == 0
			: strcmp(name, risks[i].name) == 0)
			return risks[i].what;
	}
	return NULL;
}

/*
 * git: with its global options (-c, -C, --exec-path, --config-env ...) in
 * reach, configuration and aliases run any program; a rule that names its
 * subcommand does not reach them. (Configuration the workspace holds still
 * steers it: the README says so.)
 */
static const char *
git_risk(const struct ew_policy_rule *r)
{
	uint32_t i;

	if (r->nrest == 0)
		return "any git command: git -c, -C and --config-env set "
		       "configuration that runs programs (core.pager, "
		       "core.sshCommand, aliases)";
	for (i = 0; i < r->rest[0].nalts; i++)
		if (r->rest[0].alts[i][0] == '-')
			return "git's global options set configuration that "
			       "runs programs (core.pager, core.sshCommand, "
			       "aliases)";
	return NULL;
}

struct warning {
	const char *file;
	unsigned line;
	const struct ew_policy_rule *r;
	const char *what;
};

static int
by_place(const void *a, const void *b)
{
	const struct warning *x = a, *y = b;
	int c = strcmp(
	    x->file != NULL ? x->file : "", y->file != NULL ? y->file : "");

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

int
ew_policy_risky(const struct ew_policy *p, char **out)
{
	struct warning *w = NULL;
	const struct ew_policy_rule *rule;
	struct ew_policy_sb b;
	const char *name, *what;
	size_t n = 0, i, len;
	uint32_t k;
	int r;

	*out = NULL;
	if ((w = calloc(EW_RISKY_WARNINGS_MAX, sizeof(*w))) == NULL)
		return -EW_E_NOMEM;
	for (i = 0; i < p->nslots; i++)
		for (rule = p->slots[i].key != NULL ? p->slots[i].head : NULL;
		     rule != NULL && n < EW_RISKY_WARNINGS_MAX;
		     rule = rule->next) {
			if (rule->decision != EW_POLICY_ALLOW)
				continue;
			name = ew_policy_basename(rule->first, &len);
			what = len == 3 && strncmp(name, "git", 3) == 0
			    ? git_risk(rule)
			    : risk_of(name);
			if (what == NULL)
				continue;
			w[n].file = rule->file;
			w[n].line = rule->line;
			w[n].r = rule;
			w[n].what = what;
			n++;
		}
	if (n == 0) {
		free(w);
		return 0;
	}
	qsort(w, n, sizeof(*w), by_place);
	ew_policy_sb_init(&b, EW_POLICY_FILE_MAX);
	for (i = 0; i < n; i++) {
		ew_policy_sb_printf(&b,
		    "%s:%u: warning: allow rule for [\"%s\"",
		    w[i].file != NULL ? w[i].file : "(rules)", w[i].line,
		    w[i].r->first);
		for (k = 0; k < w[i].r->nrest; k++)
			ew_policy_sb_printf(&b, ", \"%s\"%s",
			    w[i].r->rest[k].alts[0],
			    w[i].r->rest[k].nalts > 1 ? "|..." : "");
		ew_policy_sb_printf(&b,
		    "]: %s; in a sandbox the rule runs it outside, so it "
		    "lets out whatever the sandboxed command gets it to run\n",
		    w[i].what);
	}
	free(w);
	if ((r = b.err) != 0) {
		ew_policy_sb_fini(&b);
		return r;
	}
	*out = ew_policy_sb_steal(&b);
	return *out != NULL ? 0 : -EW_E_NOMEM;
}
