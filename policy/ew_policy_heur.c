/*
 * Command-safety heuristics (Codex's core/src/command_safety): its "known safe"
 * list and its "might be dangerous" test, with the later, stricter rm
 * detection (any short-flag cluster with f, --force, before --).
 */
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

static bool
name_is(const char *s, const char *name)
{
	size_t len;
	const char *b = ew_policy_basename(s, &len);

	return len == strlen(name) && memcmp(b, name, len) == 0;
}

static bool
one_of(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool
is_shell(const char *s)
{
	return name_is(s, "bash") || name_is(s, "sh") || name_is(s, "zsh") ||
	    name_is(s, "dash");
}

/* git's global options that take the next word (--exec-path alone does
 * not: it prints the path and exits). */
static bool
git_value_option(const char *a)
{
	static const char *const opts[] = { "-C", "-c", "--config-env",
		"--git-dir", "--namespace", "--super-prefix", "--work-tree",
		"--shallow-file", "--attr-source", NULL };

	return one_of(a, opts);
}

static bool
git_inline_value_option(const char *a)
{
	static const char *const prefixes[] = { "--config-env=", "--exec-path=",
		"--git-dir=", "--namespace=", "--super-prefix=", "--work-tree=",
		"--shallow-file=", "--attr-source=", NULL };
	size_t i;

	for (i = 0; prefixes[i] != NULL; i++)
		if (starts(a, prefixes[i]))
			return true;
	return (starts(a, "-C") || starts(a, "-c")) && strlen(a) > 2;
}

/*
 * git's subcommand, skipping global options (-C DIR, -c K=V, --git-dir=..):
 * its index when it is one of subs, else 0. The first non-option is the
 * subcommand; a later one is an argument.
 */
static size_t
git_subcommand(char *const *argv, size_t argc, const char *const *subs)
{
	size_t i;

	if (argc == 0 || !name_is(argv[0], "git"))
		return 0;
	for (i = 1; i < argc; i++) {
		if (git_inline_value_option(argv[i]))
			continue;
		if (git_value_option(argv[i])) {
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		return one_of(argv[i], subs) ? i : 0;
	}
	return 0;
}

static bool
short_cluster_has(const char *a, char flag)
{
	return a[0] == '-' && a[1] != '-' && strchr(a + 1, flag) != NULL;
}

static bool
git_config_override(char *const *argv, size_t argc)
{
	size_t i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config-env") == 0 ||
		    (starts(argv[i], "-c") && strlen(argv[i]) > 2) ||
		    starts(argv[i], "--config-env="))
			return true;
	return false;
}

static bool
git_args_read_only(char *const *args, size_t n)
{
	static const char *const unsafe[] = { "--output", "--ext-diff",
		"--textconv", "--exec", "--paginate", NULL };
	size_t i;

	for (i = 0; i < n; i++)
		if (one_of(args[i], unsafe) || starts(args[i], "--output=") ||
		    starts(args[i], "--exec="))
			return false;
	return true;
}

static bool
git_branch_read_only(char *const *args, size_t n)
{
	static const char *const ro[] = { "--list", "-l", "--show-current",
		"-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose",
		NULL };
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
		if (!one_of(args[i], ro) && !starts(args[i], "--format="))
			return false;
	return true;
}

/* sed -n's argument: N p or M,N p. */
static bool
sed_n_arg_ok(const char *a)
{
	size_t n = strlen(a), i, digits = 0;
	bool comma = false;

	if (n < 2 || a[n - 1] != 'p')
		return false;
	for (i = 0; i + 1 < n; i++) {
		if (a[i] >= '0' && a[i] <= '9') {
			digits++;
		} else if (a[i] == ',' && !comma && digits > 0) {
			comma = true;
			digits = 0;
		} else {
			return false;
		}
	}
	return digits > 0;
}

static bool
safe_exec(char *const *argv, size_t argc)
{
	static const char *const always[] = { "cat", "cd", "cut", "echo",
		"expr", "false", "grep", "head", "id", "ls", "nl", "paste",
		"pwd", "rev", "seq", "stat", "tail", "tr", "true", "uname",
		"uniq", "wc", "which", "whoami",
#ifdef __linux__
		"numfmt", "tac",
#endif
		NULL };
	static const char *const find_unsafe[] = { "-exec", "-execdir", "-ok",
		"-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf",
		NULL };
	static const char *const git_ro[] = { "status", "log", "diff", "show",
		"branch", NULL };
	const char *b;
	size_t i, len, sub;
	char name[16];

	if (argc == 0)
		return false;
	b = ew_policy_basename(argv[0], &len);
	if (len >= sizeof(name))
		return false;
	memcpy(name, b, len);
	name[len] = '\0';
	if (one_of(name, always))
		return true;
	if (strcmp(name, "base64") == 0) {
		for (i = 1; i < argc; i++)
			if (strcmp(argv[i], "--output") == 0 ||
			    starts(argv[i], "--output=") ||
			    starts(argv[i], "-o"))
				return false;
		return true;
	}
	if (strcmp(name, "find") == 0) {
		for (i = 1; i < argc; i++)
			if (one_of(argv[i], find_unsafe))
				return false;
		return true;
	}
	if (strcmp(name, "rg") == 0) {
		for (i = 1; i < argc; i++)
			if (strcmp(argv[i], "--search-zip") == 0 ||
			    strcmp(argv[i], "-z") == 0 ||
			    strcmp(argv[i], "--pre") == 0 ||
			    strcmp(argv[i], "--hostname-bin") == 0 ||
			    starts(argv[i], "--pre=") ||
			    starts(argv[i], "--hostname-bin="))
				return false;
		return true;
	}
	if (strcmp(name, "git") == 0) {
		if (git_config_override(argv, argc) ||
		    (sub = git_subcommand(argv, argc, git_ro)) == 0)
			return false;
		if (!git_args_read_only(argv + sub + 1, argc - sub - 1))
			return false;
		return strcmp(argv[sub], "branch") != 0 ||
		    git_branch_read_only(argv + sub + 1, argc - sub - 1);
	}
	if (strcmp(name, "sed") == 0)
		return argc >= 3 && argc <= 4 && strcmp(argv[1], "-n") == 0 &&
		    sed_n_arg_ok(argv[2]);
	return false;
}

bool
ew_policy_is_known_safe(char *const *argv, size_t argc)
{
	struct ew_policy_split *s = NULL;
	size_t i;
	bool safe;

	if (safe_exec(argv, argc))
		return true;
	if (ew_policy_split_shell(argv, argc, &s) != 0)
		return false;
	safe = true;
	for (i = 0; i < s->ncmds && safe; i++)
		safe = safe_exec(s->cmds[i].argv, s->cmds[i].argc);
	ew_policy_split_free(s);
	return safe;
}

static bool
rm_forced(char *const *args, size_t n)
{
	size_t i;

	for (i = 0; i < n && strcmp(args[i], "--") != 0; i++)
		if (strcmp(args[i], "--force") == 0 ||
		    short_cluster_has(args[i], 'f'))
			return true;
	return false;
}

static bool
git_push_dangerous(char *const *args, size_t n)
{
	static const char *const flags[] = { "--force", "--force-with-lease",
		"--force-if-includes", "--delete", "-f", "-d", NULL };
	size_t i;

	for (i = 0; i < n; i++)
		if (one_of(args[i], flags) ||
		    starts(args[i], "--force-with-lease=") ||
		    starts(args[i], "--force-if-includes=") ||
		    starts(args[i], "--delete=") ||
		    short_cluster_has(args[i], 'f') ||
		    short_cluster_has(args[i], 'd') ||
		    ((args[i][0] == '+' || args[i][0] == ':') &&
			args[i][1] != '\0'))
			return true;
	return false;
}

/* sudo's options that take a value (skipped to find the command). */
static bool
sudo_value_option(const char *a)
{
	static const char *const opts[] = { "-u", "-g", "-h", "-p", "-C", "-D",
		"-r", "-t", "-U", "-T", "-R", "--user", "--group", "--host",
		"--prompt", "--close-from", "--chdir", "--role", "--type",
		"--other-user", "--command-timeout", "--chroot", NULL };

	return one_of(a, opts);
}

static bool
dangerous_exec(char *const *argv, size_t argc)
{
	static const char *const git_subs[] = { "reset", "rm", "branch", "push",
		"clean", NULL };
	size_t i, sub;

	if (argc == 0)
		return false;
	if (name_is(argv[0], "rm"))
		return rm_forced(argv + 1, argc - 1);
	if (name_is(argv[0], "sudo") || name_is(argv[0], "doas")) {
		for (i = 1; i < argc && argv[i][0] == '-'; i++) {
			if (strcmp(argv[i], "--") == 0) {
				i++;
				break;
			}
			if (sudo_value_option(argv[i]))
				i++;
		}
		return i < argc && dangerous_exec(argv + i, argc - i);
	}
	if ((sub = git_subcommand(argv, argc, git_subs)) == 0)
		return false;
	if (strcmp(argv[sub], "reset") == 0 || strcmp(argv[sub], "rm") == 0)
		return true;
	if (strcmp(argv[sub], "branch") == 0) {
		for (i = sub + 1; i < argc; i++)
			if (strcmp(argv[i], "--delete") == 0 ||
			    starts(argv[i], "--delete=") ||
			    short_cluster_has(argv[i], 'd') ||
			    short_cluster_has(argv[i], 'D'))
				return true;
		return false;
	}
	if (strcmp(argv[sub], "push") == 0)
		return git_push_dangerous(argv + sub + 1, argc - sub - 1);
	for (i = sub + 1; i < argc; i++) /* clean */
		if (strcmp(argv[i], "--force") == 0 ||
		    starts(argv[i], "--force=") ||
		    short_cluster_has(argv[i], 'f'))
			return true;
	return false;
}

bool
ew_policy_might_be_dangerous(char *const *argv, size_t argc)
{
	struct ew_policy_split *s = NULL;
	bool danger = false;
	size_t i;
	int r;

	if (dangerous_exec(argv, argc))
		return true;
	if (argc != 3 || !is_shell(argv[0]) ||
	    (strcmp(argv[1], "-c") != 0 && strcmp(argv[1], "-lc") != 0))
		return false;
	if (ew_policy_split_shell(argv, argc, &s) != 0) {
		/* Not plain: look for literal commands anywhere in it. */
		r = ew_policy_scan_script(argv[2], strlen(argv[2]), &s);
		if (r == -EW_E_LIMIT || r == -EW_E_NOMEM)
			return true; /* too big to tell: ask */
		if (r != 0)
			return false;
	}
	for (i = 0; i < s->ncmds && !danger; i++)
		danger = dangerous_exec(s->cmds[i].argv, s->cmds[i].argc);
	ew_policy_split_free(s);
	return danger;
}
