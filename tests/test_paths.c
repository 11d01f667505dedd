/* broker/util/ew_paths.c: the user's folders, execward's files, PATH. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_paths.h"

static char tmpdir[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ew_paths_test.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_STATE_HOME");
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "/bin/rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(paths, .init = setup, .fini = teardown);

Test(paths, xdg_first_then_home)
{
	char out[PATH_MAX];

	setenv("HOME", "/h", 1);
	cr_assert_eq(
	    ew_paths_home(EW_PATHS_CONFIG, "rules", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/h/.config/execward/rules");
	cr_assert_eq(ew_paths_default_audit(out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/h/.local/state/execward/audit.jsonl");
	setenv("XDG_CONFIG_HOME", "/c", 1);
	setenv("XDG_STATE_HOME", "/s", 1);
	cr_expect_str_eq(
	    ew_paths_rules_folder(out, sizeof(out)), "/c/execward/rules");
	cr_assert_eq(ew_paths_default_audit(out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/s/execward/audit.jsonl");
	/* A relative XDG variable does not count (the spec says so). */
	setenv("XDG_STATE_HOME", "rel", 1);
	cr_assert_eq(ew_paths_home(EW_PATHS_STATE, "run", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/h/.local/state/execward/run");
	/* Too long for out: refused, not cut. */
	cr_expect_eq(
	    ew_paths_home(EW_PATHS_STATE, "run", out, 8), -ENAMETOOLONG);
}

/* Without an absolute HOME, the passwd entry's home. */
Test(paths, passwd_home_without_home)
{
	struct passwd *pw = getpwuid(geteuid());
	char out[PATH_MAX], want[PATH_MAX];

	if (pw == NULL || pw->pw_dir == NULL || pw->pw_dir[0] != '/')
		cr_skip_test("no passwd home for this uid");
	snprintf(want, sizeof(want), "%s/.config/execward/rules", pw->pw_dir);
	unsetenv("HOME");
	cr_expect_str_eq(ew_paths_rules_folder(out, sizeof(out)), want);
	setenv("HOME", "relative", 1);
	cr_expect_str_eq(ew_paths_rules_folder(out, sizeof(out)), want);
}

/* The search the shim makes: what it runs is found, made absolute. */
Test(paths, which_searches_path)
{
	char bin[128], path[300], out[PATH_MAX], prog[160];
	FILE *f;

	snprintf(bin, sizeof(bin), "%s/bin", tmpdir);
	cr_assert_eq(mkdir(bin, 0700), 0);
	snprintf(prog, sizeof(prog), "%s/prog", bin);
	cr_assert_not_null(f = fopen(prog, "w"));
	fclose(f);
	snprintf(path, sizeof(path), "/nonexistent:%s", bin);
	setenv("PATH", path, 1);
	cr_expect_eq(ew_paths_which("prog", out, sizeof(out)), -EACCES);
	cr_assert_eq(chmod(prog, 0700), 0);
	cr_assert_eq(ew_paths_which("prog", out, sizeof(out)), 0);
	cr_expect_str_eq(out, prog);
	cr_expect_eq(ew_paths_which("nope", out, sizeof(out)), -ENOENT);
	cr_expect_eq(ew_paths_which("", out, sizeof(out)), -ENOENT);
	/* A name with a slash is taken as it is. */
	cr_assert_eq(ew_paths_which(prog, out, sizeof(out)), 0);
	cr_expect_str_eq(out, prog);
	/* A relative PATH element is made absolute against the cwd. */
	cr_assert_eq(chdir(tmpdir), 0);
	setenv("PATH", "bin", 1);
	cr_assert_eq(ew_paths_which("prog", out, sizeof(out)), 0);
	cr_expect_str_eq(out, prog);
}
