/*
 * What a command really runs, when its first word is not the program that
 * matters: the dynamic loader run as a program (ld.so [OPTION]... PROGRAM
 * [ARG]...) runs PROGRAM, and git's global options (git -C DIR -c K=V
 * --no-pager reset --hard) come before the subcommand that prefix rules
 * name. The evaluator checks such a command in both forms.
 */
#include <string.h>

#include "ew_policy_int.h"

static bool
is_one_of(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Does s start with one of list, each ending in '='? */
static bool
has_prefix_of(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strncmp(s, *list, strlen(*list)) == 0)
			return true;
	return false;
}

/*
 * Names the loader is installed under: glibc's ld-linux-x86-64.so.2,
 * ld-linux-aarch64.so.1, ld-linux.so.2, ld64.so.2 and the older
 * ld-2.31.so, musl's ld-musl-x86_64.so.1, and plain ld.so. A program
 * that merely starts with "ld" (the linker ld, ld.bfd, ldd) is not one.
 */
static bool
is_loader(const char *name, size_t len)
{
	char b[256];

	if (len == 0 || len >= sizeof(b))
		return false;
	memcpy(b, name, len);
	b[len] = '\0';
	if (strncmp(b, "ld.so", 5) == 0)
		return b[5] == '\0' || b[5] == '.';
	if (strncmp(b, "ld-", 3) != 0 && strncmp(b, "ld64", 4) != 0)
		return false;
	return strstr(b, ".so") != NULL;
}

/*
 * The loader's own options, glibc's (elf/rtld.c, 2.36) and musl's
 * (ldso/dynlink.c) together. glibc refuses `--`, `--opt=VALUE` and every
 * option it does not know (nothing runs); musl takes `--` as the end of
 * its options and `--opt=VALUE`. Taking both readings can only find more
 * programs to check, never fewer.
 */
static const char *const loader_flags[] = { "--list", "--verify",
	"--inhibit-cache", "--list-tunables", "--list-diagnostics", "--help",
	NULL };
static const char *const loader_valued[] = { "--library-path",
	"--inhibit-rpath", "--audit", "--preload", "--argv0",
	"--glibc-hwcaps-prepend", "--glibc-hwcaps-mask", NULL };
static const char *const loader_inline[] = { "--library-path=",
	"--inhibit-rpath=", "--audit=", "--preload=", "--argv0=",
	"--glibc-hwcaps-prepend=", "--glibc-hwcaps-mask=", NULL };

static enum ew_policy_form
loader_form(const char *const *cmd, size_t n, size_t *start)
{
	size_t i;

	for (i = 1; i < n; i++) {
		const char *w = cmd[i];

		if (w[0] != '-' || w[1] != '-') {
			/* glibc and musl: the first other word is PROGRAM. */
			*start = i;
			return EW_POLICY_FORM_LOADER;
		}
		if (strcmp(w, "--") == 0) {
			if (i + 1 >= n)
				return EW_POLICY_FORM_NONE;
			*start = i + 1;
			return EW_POLICY_FORM_LOADER;
		}
		if (is_one_of(w, loader_flags) ||
		    has_prefix_of(w, loader_inline))
			continue;
		if (is_one_of(w, loader_valued)) {
			/* Without its value, both loaders print usage. */
			if (i + 1 >= n)
				return EW_POLICY_FORM_NONE;
			i++;
			continue;
		}
		/* glibc prints its version and exits at once. */
		if (strcmp(w, "--version") == 0)
			return EW_POLICY_FORM_NONE;
		/*
		 * An option neither loader knows today: both refuse it, but a
		 * later one might take a value, and then PROGRAM is not where
		 * we would look. Ask rather than guess.
		 */
		return EW_POLICY_FORM_UNKNOWN;
	}
	return EW_POLICY_FORM_NONE;
}

/*
 * git's global options (git(1); git.c handle_options, up to git 2.46):
 * those that take the next word, those written with '=', and flags. The
 * ones that print something and exit (--exec-path alone, --html-path,
 * --list-cmds=...) are skipped like flags: checking what would follow
 * them is only stricter.
 */
static const char *const git_valued[] = { "-C", "-c", "--git-dir",
	"--work-tree", "--namespace", "--super-prefix", "--config-env",
	"--shallow-file", "--attr-source", NULL };
static const char *const git_inline[] = { "--git-dir=", "--work-tree=",
	"--namespace=", "--super-prefix=", "--config-env=", "--exec-path=",
	"--list-cmds=", "--attr-source=", "--shallow-file=", NULL };
static const char *const git_flags[] = { "-p", "--paginate", "-P", "--no-pager",
	"--no-replace-objects", "--bare", "--literal-pathspecs",
	"--no-literal-pathspecs", "--glob-pathspecs", "--noglob-pathspecs",
	"--icase-pathspecs", "--no-optional-locks", "--no-lazy-fetch",
	"--no-advice", "--exec-path", "--html-path", "--man-path",
	"--info-path", NULL };
/* git turns these into the commands help and version, and stops there. */
static const char *const git_commands[] = { "--help", "-h", "--version", "-v",
	NULL };

static enum ew_policy_form
git_form(const char *const *cmd, size_t n, size_t *start)
{
	size_t i;

	for (i = 1; i < n; i++) {
		const char *w = cmd[i];

		if (w[0] != '-' || is_one_of(w, git_commands)) {
			if (i == 1)
				return EW_POLICY_FORM_NONE; /* no global option
							     */
			*start = i;
			return EW_POLICY_FORM_GIT;
		}
		if (is_one_of(w, git_flags) || has_prefix_of(w, git_inline))
			continue;
		if (is_one_of(w, git_valued)) {
			/* git: "no directory given", usage, nothing runs. */
			if (i + 1 >= n)
				return EW_POLICY_FORM_NONE;
			i++;
			continue;
		}
		/* git refuses it today ("unknown option"); a later git may not.
		 */
		return EW_POLICY_FORM_UNKNOWN;
	}
	return EW_POLICY_FORM_NONE;
}

enum ew_policy_form
ew_policy_form_of(const char *const *cmd, size_t n, size_t *start)
{
	const char *b;
	size_t len;

	*start = 0;
	if (n == 0)
		return EW_POLICY_FORM_NONE;
	b = ew_policy_basename(cmd[0], &len);
	if (len == 3 && memcmp(b, "git", 3) == 0)
		return git_form(cmd, n, start);
	if (is_loader(b, len))
		return loader_form(cmd, n, start);
	return EW_POLICY_FORM_NONE;
}
