/*
 * Unit tests of broker/ew_escalate_check.c and the escalated program's
 * environment: what the broker resolves, and what it refuses to let out
 * of the sandbox, tried the way a confined command would plant it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_escalate.h"
#include "ew_sandbox.h"

/* A folder only root and we may write (the build tree), and one in /tmp. */
static char safe[512], tmp[64], why[1024];

/* Is path and every folder above it ours or root's, writable by no other? */
static bool
safe_chain(const char *path)
{
	char p[PATH_MAX], *s;
	struct stat st;

	if (realpath(path, p) == NULL)
		return false;
	for (;;) {
		if (stat(p, &st) != 0 ||
		    (st.st_uid != 0 && st.st_uid != getuid()) ||
		    (st.st_mode & 022) != 0)
			return false;
		if (strcmp(p, "/") == 0)
			return true;
		s = strrchr(p, '/');
		if (s == p)
			s[1] = '\0';
		else
			*s = '\0';
	}
}

/*
 * ~/.cache/execward-tests (made 0700) when the build tree is no safe
 * place (a checkout under /tmp), or NULL.
 */
static const char *
private_base(char *buf, size_t len)
{
	const char *home = getenv("HOME");

	if (home == NULL || !safe_chain(home) ||
	    (size_t)snprintf(buf, len, "%s/.cache", home) >= len)
		return NULL;
	(void)mkdir(buf, 0700);
	if ((size_t)snprintf(buf, len, "%s/.cache/execward-tests", home) >= len)
		return NULL;
	(void)mkdir(buf, 0700);
	return buf;
}

static void
setup(void)
{
	char exe[PATH_MAX], *s;
	const char *base = getenv("EW_TEST_SAFE_DIR");
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "/tmp/ew-check-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	if (base == NULL) {
		cr_assert_gt(
		    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1), 0);
		exe[n] = '\0';
		s = strrchr(exe, '/');
		*s = '\0';
		base = exe;
	}
	safe[0] = '\0';
	if (!safe_chain(base))
		base = private_base(exe, sizeof(exe));
	if (base != NULL && strlen(base) + 20 < sizeof(safe) &&
	    safe_chain(base)) {
		strcpy(safe, base);
		strcat(safe, "/ew-check-XXXXXX");
		if (mkdtemp(safe) == NULL)
			safe[0] = '\0';
	}
}

static void
teardown(void)
{
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", tmp, safe);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(escalate_check, .init = setup, .fini = teardown);

static void
need_safe(void)
{
	if (safe[0] == '\0')
		cr_skip_test("no folder outside /tmp that only root and uid %u "
			     "may write (set EW_TEST_SAFE_DIR)",
		    (unsigned)getuid());
}

/* dir/name, in one of a few rotating buffers. */
static const char *
at(const char *dir, const char *name)
{
	static char buf[4][1024];
	static int i;
	size_t d = strlen(dir), n = strlen(name);

	i = (i + 1) % 4;
	cr_assert_lt(d + n + 2, sizeof(buf[i]));
	memmove(buf[i], dir, d);
	buf[i][d] = '/';
	memcpy(buf[i] + d + 1, name, n + 1);
	return buf[i];
}

static void
put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

/* Resolve path as our own question. */
static struct ew_escalate_exe
resolve(const char *file, const char *resolved, uint32_t via)
{
	char *argv[] = { "x", NULL };
	struct ew_msg_ask ask = {
		.via = via,
		.pid = getpid(),
		.ppid = getppid(),
		.cwd = safe,
		.file = (char *)file,
		.resolved = (char *)resolved,
		.argc = 1,
		.argv = argv,
	};
	struct ew_escalate_exe exe;

	(void)ew_escalate_resolve(getpid(), &ask, &exe);
	return exe;
}

static int
check(const struct ew_sandbox *sb, const struct ew_escalate_exe *exe, int *fd)
{
	why[0] = '\0';
	return ew_escalate_check(
	    sb, getuid(), exe, false, fd, why, sizeof(why));
}

Test(escalate_check, symlinks_are_followed_to_the_real_file)
{
	struct ew_escalate_exe exe;
	char cwd[PATH_MAX];

	need_safe();
	put(at(safe, "prog"), "#!/bin/sh\nexit 0\n", 0755);
	cr_assert_eq(symlink(at(safe, "prog"), at(tmp, "ls")), 0);
	/* Absolute, through the asker's root. */
	exe = resolve(at(tmp, "ls"), at(tmp, "ls"), EW_VIA_EXECVE);
	cr_assert_eq(exe.err, 0, "%s", strerror(-exe.err));
	cr_assert_str_eq(exe.path, at(safe, "prog"));
	/* Relative with a slash: from the asker's real cwd. */
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(tmp), 0);
	exe = resolve("./ls", "/nonexistent/claim", EW_VIA_EXECVE);
	cr_assert_eq(chdir(cwd), 0);
	cr_assert_eq(exe.err, 0);
	cr_assert_str_eq(exe.path, at(safe, "prog"));
	/* /proc/self would be the broker's: not resolved. */
	exe = resolve("/proc/self/exe", "/proc/self/exe", EW_VIA_EXECVE);
	cr_assert_eq(exe.err, -EXDEV);
	cr_assert_eq(check(NULL, &exe, NULL), -EXDEV);
	cr_assert_not_null(strstr(why, "could not be resolved"));
	exe = resolve("/nonexistent", "/nonexistent", EW_VIA_EXECVE);
	cr_assert_eq(exe.err, -ENOENT);
}

Test(escalate_check, a_safe_program_passes_and_an_elf_comes_as_an_fd)
{
	struct ew_escalate_exe exe;
	int fd = -1;

	exe = resolve("/bin/sh", "/bin/sh", EW_VIA_EXECVE);
	cr_assert_eq(exe.err, 0);
	cr_assert_eq(check(NULL, &exe, &fd), 0, "%s", why);
	cr_assert_geq(fd, 0, "an ELF program is run by its fd");
	close(fd);
	need_safe();
	put(at(safe, "script"), "#!/bin/sh\nexit 0\n", 0755);
	exe = resolve(at(safe, "script"), at(safe, "script"), EW_VIA_EXECVE);
	cr_assert_eq(check(NULL, &exe, &fd), 0, "%s", why);
	cr_assert_eq(fd, -1, "a script is run by path, its identity checked");
}

Test(escalate_check, planted_where_others_may_write)
{
	struct ew_escalate_exe exe;

	/* /tmp's sticky bit does not make what is in it safe. */
	put(at(tmp, "ls"), "#!/bin/sh\nexit 0\n", 0755);
	exe = resolve(at(tmp, "ls"), at(tmp, "ls"), EW_VIA_EXECVE);
	cr_assert_eq(check(NULL, &exe, NULL), -EPERM);
	cr_assert_not_null(
	    strstr(why, "/tmp is writable by others (mode 1777)"), "%s", why);
	need_safe();
	/* A group-writable folder on the way. */
	cr_assert_eq(mkdir(at(safe, "g"), 0775), 0);
	cr_assert_eq(chmod(at(safe, "g"), 0775), 0);
	put(at(at(safe, "g"), "p"), "#!/bin/sh\n", 0755);
	exe = resolve(
	    at(at(safe, "g"), "p"), at(at(safe, "g"), "p"), EW_VIA_EXECVE);
	cr_assert_eq(check(NULL, &exe, NULL), -EPERM);
	cr_assert_not_null(
	    strstr(why, "is writable by others (mode 0775)"), "%s", why);
	/* The program itself writable by others. */
	put(at(safe, "w"), "#!/bin/sh\n", 0757);
	exe = resolve(at(safe, "w"), at(safe, "w"), EW_VIA_EXECVE);
	cr_assert_eq(check(NULL, &exe, NULL), -EPERM);
	cr_assert_not_null(strstr(why, "the program"), "%s", why);
}

Test(escalate_check, another_users_file_or_a_hard_link_is_refused)
{
	struct ew_escalate_exe exe;

	need_safe();
	put(at(safe, "p"), "#!/bin/sh\n", 0755);
	if (getuid() == 0) {
		cr_assert_eq(chown(at(safe, "p"), 65534, 65534), 0);
		exe = resolve(at(safe, "p"), at(safe, "p"), EW_VIA_EXECVE);
		cr_assert_eq(check(NULL, &exe, NULL), -EPERM);
		cr_assert_not_null(
		    strstr(why, "belongs to uid 65534, not to root"), "%s",
		    why);
		/* Another name for a file not root's: it may lie anywhere. */
		cr_assert_eq(chown(at(safe, "p"), 0, 0), 0);
		cr_assert_eq(link(at(safe, "p"), at(safe, "q")), 0);
		exe = resolve(at(safe, "p"), at(safe, "p"), EW_VIA_EXECVE);
		cr_assert_eq(check(NULL, &exe, NULL), 0, "root's: %s", why);
	} else {
		cr_assert_eq(link(at(safe, "p"), at(safe, "q")), 0);
		exe = resolve(at(safe, "p"), at(safe, "p"), EW_VIA_EXECVE);
		cr_assert_eq(check(NULL, &exe, NULL), -EPERM);
		cr_assert_not_null(strstr(why, "has 2 hard links"), "%s", why);
	}
}

Test(escalate_check, replaced_since_it_was_resolved)
{
	struct ew_escalate_exe exe;

	need_safe();
	put(at(safe, "p"), "#!/bin/sh\n", 0755);
	exe = resolve(at(safe, "p"), at(safe, "p"), EW_VIA_EXECVE);
	/* Kept, so that its inode number cannot come back for the new one. */
	cr_assert_eq(rename(at(safe, "p"), at(safe, "p.old")), 0);
	put(at(safe, "other"), "#!/bin/sh\necho evil\n", 0755);
	cr_assert_eq(rename(at(safe, "other"), at(safe, "p")), 0);
	cr_assert_eq(check(NULL, &exe, NULL), -ESTALE);
	cr_assert_not_null(strstr(why, "is no longer the file"), "%s", why);
	/* A folder on the way became a symlink. */
	cr_assert_eq(mkdir(at(safe, "d"), 0755), 0);
	put(at(at(safe, "d"), "p"), "#!/bin/sh\n", 0755);
	exe = resolve(
	    at(at(safe, "d"), "p"), at(at(safe, "d"), "p"), EW_VIA_EXECVE);
	cr_assert_eq(rename(at(safe, "d"), at(safe, "e")), 0);
	cr_assert_eq(symlink(at(safe, "e"), at(safe, "d")), 0);
	cr_assert_neq(check(NULL, &exe, NULL), 0);
	cr_assert_not_null(
	    strstr(why, "changed since it was resolved"), "%s", why);
}

Test(escalate_check, interpreters_are_checked_too)
{
	struct ew_escalate_exe exe;
	char text[PATH_MAX + 32];

	need_safe();
	put(at(tmp, "interp"), "#!/bin/sh\n", 0755);
	snprintf(text, sizeof(text), "#! %s -x\nexit 0\n", at(tmp, "interp"));
	put(at(safe, "s"), text, 0755);
	exe = resolve(at(safe, "s"), at(safe, "s"), EW_VIA_EXECVE);
	cr_assert_eq(check(NULL, &exe, NULL), -EPERM);
	cr_assert_not_null(strstr(why, "the interpreter of"), "%s", why);
	cr_assert_not_null(strstr(why, "writable by others"), "%s", why);
	/* Relative interpreters are found from the caller's cwd. */
	put(at(safe, "r"), "#!sh\n", 0755);
	exe = resolve(at(safe, "r"), at(safe, "r"), EW_VIA_EXECVE);
	cr_assert_eq(check(NULL, &exe, NULL), -EPERM);
	cr_assert_not_null(strstr(why, "relative path"), "%s", why);
	/* Scripts of scripts: the chain is checked, and bounded. */
	snprintf(text, sizeof(text), "#!%s\n", at(safe, "s2"));
	put(at(safe, "s1"), text, 0755);
	snprintf(text, sizeof(text), "#!%s\n", at(safe, "s1"));
	put(at(safe, "s2"), text, 0755);
	exe = resolve(at(safe, "s1"), at(safe, "s1"), EW_VIA_EXECVE);
	cr_assert_eq(check(NULL, &exe, NULL), -ELOOP);
}

Test(escalate_check, the_sandbox_roots_and_its_workspace)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb = NULL;
	struct ew_escalate_exe exe;
	char err[512];

	need_safe();
	if (ew_sandbox_check(EW_SANDBOX_READ_ONLY, err, sizeof(err)) != 0)
		cr_skip_test("%s", err);
	cr_assert_eq(mkdir(at(safe, "ws"), 0755), 0);
	put(at(at(safe, "ws"), "p"), "#!/bin/sh\n", 0755);
	exe = resolve(
	    at(at(safe, "ws"), "p"), at(at(safe, "ws"), "p"), EW_VIA_EXECVE);
	cr_assert_eq(check(NULL, &exe, NULL), 0, "%s", why);
	/* Its workspace is the agent's, even read-only. */
	ew_sandbox_policy_init(&p, EW_SANDBOX_READ_ONLY);
	cr_assert_eq(ew_sandbox_new(
			 &p, at(safe, "ws"), NULL, NULL, &sb, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(check(sb, &exe, NULL), -EPERM);
	cr_assert_not_null(
	    strstr(why, "lies in the sandbox's workspace"), "%s", why);
	ew_sandbox_free(sb);
	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	cr_assert_eq(ew_sandbox_policy_add_root(&p, safe), 0);
	cr_assert_eq(ew_sandbox_new(&p, tmp, NULL, NULL, &sb, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(check(sb, &exe, NULL), -EPERM);
	cr_assert_not_null(
	    strstr(why, "lies in the sandbox's writable root"), "%s", why);
	cr_assert_not_null(strstr(why, safe), "%s", why);
	/* The walk to a path, and a folder: the same checks. */
	cr_assert_eq(
	    ew_escalate_check_path(sb, getuid(), "/bin/sh", why, sizeof(why)),
	    0, "%s", why);
	cr_assert_eq(ew_escalate_check_folder(
			 sb, getuid(), "/usr/bin", why, sizeof(why)),
	    0, "%s", why);
	cr_assert_eq(ew_escalate_check_folder(
			 sb, getuid(), at(safe, "ws"), why, sizeof(why)),
	    -EPERM);
	ew_sandbox_free(sb);
	ew_sandbox_policy_fini(&p);
}

Test(escalate_check, a_symlink_on_the_way_to_a_safe_file)
{
	need_safe();
	/* The target is safe, but the link lies where others may write. */
	cr_assert_eq(symlink("/bin/sh", at(tmp, "sh")), 0);
	cr_assert_eq(ew_escalate_check_path(
			 NULL, getuid(), at(tmp, "sh"), why, sizeof(why)),
	    -EPERM);
	cr_assert_not_null(strstr(why, "writable by others"), "%s", why);
	/* A link in a safe folder to another safe folder's file is fine. */
	cr_assert_eq(
	    symlink("../../../../../../../../../../bin/sh", at(safe, "sh")), 0);
	cr_assert_eq(ew_escalate_check_path(
			 NULL, getuid(), at(safe, "sh"), why, sizeof(why)),
	    0, "%s", why);
	/* ... but not one that leads through /tmp. */
	cr_assert_eq(symlink(at(tmp, "sh"), at(safe, "via-tmp")), 0);
	cr_assert_eq(ew_escalate_check_path(
			 NULL, getuid(), at(safe, "via-tmp"), why, sizeof(why)),
	    -EPERM);
	/* Loops end. */
	cr_assert_eq(symlink(at(safe, "loop"), at(safe, "loop")), 0);
	cr_assert_eq(ew_escalate_check_path(
			 NULL, getuid(), at(safe, "loop"), why, sizeof(why)),
	    -ELOOP);
}

/* The value of name in env, or NULL. */
static const char *
get(char **env, const char *name)
{
	size_t n = strlen(name);

	for (; *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

Test(escalate_check, the_environment_is_rebuilt_as_env_reset_does)
{
	char *caller[] = { "TERM=xterm", "LANG=C.UTF-8", "LC_ALL=/tmp/x",
		"LANGUAGE=fr%n", "TZ=Europe/Paris", "COLORTERM=truecolor",
		"NO_COLOR=1", "HOME=/tmp/evil", "PATH=/tmp/evil:/usr/bin",
		"BASH_ENV=/tmp/evil", "LD_PRELOAD=/tmp/evil.so",
		"EXECWARD_SOCKET=/tmp/evil", "EXECWARD_QUIET=1", "FOO=bar",
		"KEEP_ME=1", "KEEP_X_1=2", "TERM=second", NULL };
	char *broker[] = { "HOME=/home/me", "USER=me",
		"PATH=/tmp:/usr/bin:/bin:rel", NULL };
	const char *keep[] = { "KEEP_ME", "KEEP_X_*" };
	char **env;
	size_t i;

	env = ew_escalate_env(caller, broker, keep, 2, NULL, getuid(),
	    "/lib/libexecward.so", "/run/s/o", "closed");
	cr_assert_not_null(env);
	cr_assert_str_eq(get(env, "TERM"), "xterm");
	cr_assert_str_eq(get(env, "LANG"), "C.UTF-8");
	cr_assert_null(get(env, "LC_ALL"), "a path in a locale name");
	cr_assert_null(get(env, "LANGUAGE"), "a %% in a locale name");
	cr_assert_str_eq(get(env, "TZ"), "Europe/Paris");
	cr_assert_str_eq(get(env, "COLORTERM"), "truecolor");
	cr_assert_str_eq(get(env, "NO_COLOR"), "1");
	cr_assert_str_eq(get(env, "HOME"), "/home/me");
	cr_assert_str_eq(get(env, "USER"), "me");
	cr_assert_null(get(env, "LOGNAME"));
	/* /tmp is writable by others; "rel" is relative. */
	cr_assert_str_eq(get(env, "PATH"), "/usr/bin:/bin");
	cr_assert_null(get(env, "BASH_ENV"));
	cr_assert_null(get(env, "FOO"));
	cr_assert_str_eq(get(env, "KEEP_ME"), "1");
	cr_assert_str_eq(get(env, "KEEP_X_1"), "2");
	cr_assert_str_eq(get(env, "LD_PRELOAD"), "/lib/libexecward.so");
	cr_assert_str_eq(get(env, "EXECWARD_SOCKET"), "/run/s/o");
	cr_assert_str_eq(get(env, "EXECWARD_FAIL"), "closed");
	cr_assert_str_eq(get(env, "EXECWARD_QUIET"), "1");
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
	/* TZ naming a file outside the zoneinfo, or climbing out of it. */
	caller[4] = "TZ=/tmp/zone";
	env = ew_escalate_env(
	    caller, broker, NULL, 0, NULL, getuid(), "/l", "/s", "open");
	cr_assert_null(get(env, "TZ"));
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
	caller[4] = "TZ=:/usr/share/zoneinfo/../../../tmp/zone";
	env = ew_escalate_env(
	    caller, broker, NULL, 0, NULL, getuid(), "/l", "/s", "open");
	cr_assert_null(get(env, "TZ"));
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}
