/* Unit tests of preload/ew_shim_path_as.c: probe, PATH search, paths. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_path.h"
#include "ew_shim.h"

static char top[PATH_MAX];

/* top/<rel> as a string in a static rotating buffer. */
static const char *
at(const char *rel)
{
	static char bufs[8][PATH_MAX + 64];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, PATH_MAX + 64, "%s/%s", top, rel);
	return b;
}

static void
mkfile(const char *rel, mode_t mode)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert(fd >= 0, "create %s: %s", rel, strerror(errno));
	cr_assert(write(fd, "#!/bin/sh\n", 10) == 10);
	close(fd);
	cr_assert(chmod(at(rel), mode) == 0);
}

static void
setup(void)
{
	snprintf(top, sizeof(top), "/tmp/ew-shim-path-XXXXXX");
	cr_assert(mkdtemp(top) != NULL);
	cr_assert(mkdir(at("empty"), 0755) == 0);
	cr_assert(mkdir(at("noexec"), 0755) == 0);
	cr_assert(mkdir(at("bin"), 0755) == 0);
	cr_assert(mkdir(at("dirs"), 0755) == 0);
	cr_assert(mkdir(at("dirs/prog"), 0755) == 0);
	cr_assert(mkdir(at("loop"), 0755) == 0);
	cr_assert(symlink("prog", at("loop/prog")) == 0);
	mkfile("noexec/prog", 0644);
	mkfile("bin/prog", 0755);
	mkfile("plain", 0644);
}

static void
teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	cr_assert(system(cmd) == 0);
}

TestSuite(shim_path, .init = setup, .fini = teardown);

Test(shim_path, probe_executable_file)
{
	cr_assert_eq(ew_path_probe(AT_FDCWD, at("bin/prog"), 0), 0);
}

Test(shim_path, probe_missing_is_enoent)
{
	cr_assert_eq(ew_path_probe(AT_FDCWD, at("bin/nope"), 0), -ENOENT);
}

Test(shim_path, probe_not_executable_is_eacces)
{
	/* The kernel refuses a file with no x bit at all, even to root. */
	cr_assert_eq(ew_path_probe(AT_FDCWD, at("plain"), 0), -EACCES);
	cr_assert_eq(ew_path_probe(AT_FDCWD, at("noexec/prog"), 0), -EACCES);
}

Test(shim_path, probe_directory_is_eacces)
{
	cr_assert_eq(ew_path_probe(AT_FDCWD, at("dirs/prog"), 0), -EACCES);
}

Test(shim_path, probe_below_a_file_is_enotdir)
{
	cr_assert_eq(ew_path_probe(AT_FDCWD, at("plain/x"), 0), -ENOTDIR);
}

Test(shim_path, probe_relative_to_dirfd)
{
	int fd = open(at("bin"), O_PATH | O_DIRECTORY);

	cr_assert(fd >= 0);
	cr_assert_eq(ew_path_probe(fd, "prog", 0), 0);
	cr_assert_eq(ew_path_probe(fd, "nope", 0), -ENOENT);
	close(fd);
}

Test(shim_path, probe_nofollow_refuses_a_symlink)
{
	cr_assert(symlink(at("bin/prog"), at("link")) == 0);
	cr_assert_eq(ew_path_probe(AT_FDCWD, at("link"), 0), 0);
	cr_assert_eq(
	    ew_path_probe(AT_FDCWD, at("link"), AT_SYMLINK_NOFOLLOW), -EACCES);
}

Test(shim_path, probe_keeps_errno)
{
	errno = EDOM;
	(void)ew_path_probe(AT_FDCWD, at("bin/nope"), 0);
	cr_assert_eq(errno, EDOM);
}

Test(shim_path, search_finds_first_executable)
{
	char path[3 * PATH_MAX], out[EW_SHIM_CAND_MAX];

	snprintf(path, sizeof(path), "%s:%s:%s", at("empty"), at("noexec"),
	    at("bin"));
	cr_assert_eq(ew_path_search("prog", path, out, sizeof(out)), 0);
	cr_assert_str_eq(out, at("bin/prog"));
}

Test(shim_path, search_skips_directories_and_remembers_eacces)
{
	char path[3 * PATH_MAX], out[EW_SHIM_CAND_MAX];

	snprintf(path, sizeof(path), "%s:%s", at("dirs"), at("bin"));
	cr_assert_eq(ew_path_search("prog", path, out, sizeof(out)), 0);
	cr_assert_str_eq(out, at("bin/prog"));
	snprintf(path, sizeof(path), "%s:%s", at("dirs"), at("empty"));
	cr_assert_eq(ew_path_search("prog", path, out, sizeof(out)), -EACCES);
	cr_assert_str_eq(out, "");
}

Test(shim_path, search_missing_is_enoent)
{
	char path[3 * PATH_MAX], out[EW_SHIM_CAND_MAX];

	snprintf(path, sizeof(path), "%s:/nonexistent/dir:%s/plain",
	    at("empty"), top);
	cr_assert_eq(ew_path_search("prog", path, out, sizeof(out)), -ENOENT);
}

Test(shim_path, search_stops_on_other_errors)
{
	char path[3 * PATH_MAX], out[EW_SHIM_CAND_MAX];

	/* glibc stops at an error other than ENOENT-like ones or EACCES. */
	snprintf(path, sizeof(path), "%s:%s", at("loop"), at("bin"));
	cr_assert_eq(ew_path_search("prog", path, out, sizeof(out)), -ELOOP);
}

Test(shim_path, search_empty_element_is_cwd)
{
	char out[EW_SHIM_CAND_MAX];

	cr_assert(chdir(at("bin")) == 0);
	cr_assert_eq(
	    ew_path_search("prog", "/nonexistent::/x", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "prog");
	cr_assert_eq(ew_path_search("prog", "", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "prog");
	cr_assert_eq(
	    ew_path_search("prog", "/nonexistent:", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "prog");
}

Test(shim_path, search_relative_element)
{
	char out[EW_SHIM_CAND_MAX];

	cr_assert(chdir(top) == 0);
	cr_assert_eq(ew_path_search("prog", "empty:bin", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "bin/prog");
}

Test(shim_path, search_default_path_is_confstr)
{
	char cs[256], out[EW_SHIM_CAND_MAX];

	cr_assert(confstr(_CS_PATH, cs, sizeof(cs)) > 0);
	cr_assert_str_eq(cs, EW_PATH_DEFAULT);
	cr_assert_eq(ew_path_search("sh", NULL, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/bin/sh");
}

Test(shim_path, search_skips_overlong_elements)
{
	static char path[PATH_MAX * 2 + 64];
	char out[EW_SHIM_CAND_MAX];
	size_t n = PATH_MAX + 10;

	memset(path, 'x', n);
	path[0] = '/';
	snprintf(path + n, sizeof(path) - n, ":%s", at("bin"));
	cr_assert_eq(ew_path_search("prog", path, out, sizeof(out)), 0);
	cr_assert_str_eq(out, at("bin/prog"));
}

Test(shim_path, search_name_too_long)
{
	char name[NAME_MAX + 2], out[EW_SHIM_CAND_MAX];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_assert_eq(
	    ew_path_search(name, "/bin", out, sizeof(out)), -ENAMETOOLONG);
	name[NAME_MAX] = '\0'; /* NAME_MAX bytes is allowed: not found */
	cr_assert_eq(ew_path_search(name, "/bin", out, sizeof(out)), -ENOENT);
}

Test(shim_path, search_empty_name)
{
	char out[EW_SHIM_CAND_MAX];

	cr_assert_eq(ew_path_search("", "/bin", out, sizeof(out)), -ENOENT);
}

Test(shim_path, has_relative)
{
	cr_assert_eq(ew_shim_path_has_relative("/bin:/usr/bin"), 0);
	cr_assert_eq(ew_shim_path_has_relative(NULL), 0);
	cr_assert_eq(ew_shim_path_has_relative("/bin::/usr/bin"), 1);
	cr_assert_eq(ew_shim_path_has_relative("/bin:"), 1);
	cr_assert_eq(ew_shim_path_has_relative(""), 1);
	cr_assert_eq(ew_shim_path_has_relative("/bin:bin"), 1);
}

Test(shim_path, absolute_joins_and_cleans)
{
	char out[PATH_MAX];

	cr_assert_eq(
	    ew_shim_path_absolute("/home/u", "bin/ls", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/home/u/bin/ls");
	cr_assert_eq(
	    ew_shim_path_absolute("/home/u/", "./x", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/home/u/x");
	cr_assert_eq(ew_shim_path_absolute("/", "x", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/x");
	cr_assert_eq(
	    ew_shim_path_absolute("/cwd", "//usr/./bin//ls", out, sizeof(out)),
	    0);
	cr_assert_str_eq(out, "/usr/bin/ls");
	cr_assert_eq(
	    ew_shim_path_absolute("/a/b", "../c", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/a/b/../c");
	cr_assert_eq(ew_shim_path_absolute(NULL, "/", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/");
	cr_assert_eq(ew_shim_path_absolute("/a", ".", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/a");
}

Test(shim_path, absolute_errors)
{
	char out[16];

	cr_assert_eq(ew_shim_path_absolute("", "x", out, sizeof(out)), -EINVAL);
	cr_assert_eq(
	    ew_shim_path_absolute("relative", "x", out, sizeof(out)), -EINVAL);
	cr_assert_eq(
	    ew_shim_path_absolute("/0123456789", "abcdef", out, sizeof(out)),
	    -ENAMETOOLONG);
	cr_assert_str_eq(out, "");
	/* Exactly filling the buffer is fine: 15 bytes and the NUL. */
	cr_assert_eq(
	    ew_shim_path_absolute("/0123456789", "abc", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/0123456789/abc");
}

Test(shim_path, cwd)
{
	char buf[PATH_MAX], real[PATH_MAX];

	cr_assert(chdir(top) == 0);
	cr_assert(realpath(top, real) != NULL);
	ew_shim_path_cwd(buf, sizeof(buf));
	cr_assert_str_eq(buf, real);
	ew_shim_path_cwd(buf, 4); /* too small: unknown */
	cr_assert_str_eq(buf, "");
}

Test(shim_path, fd_names_the_file)
{
	char out[PATH_MAX], real[PATH_MAX], want[64];
	int fd = open(at("bin/prog"), O_RDONLY), p[2];

	cr_assert(fd >= 0);
	cr_assert(realpath(at("bin/prog"), real) != NULL);
	cr_assert_eq(ew_shim_path_fd(fd, out, sizeof(out)), 0);
	cr_assert_str_eq(out, real);
	close(fd);
	cr_assert_eq(ew_shim_path_fd(fd, out, sizeof(out)), -EBADF);
	cr_assert_eq(ew_shim_path_fd(-1, out, sizeof(out)), -EBADF);

	/* A pipe has no path: the fd is named through /proc. */
	cr_assert(pipe(p) == 0);
	cr_assert_eq(ew_shim_path_fd(p[0], out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "/proc/%d/fd/%d", (int)getpid(), p[0]);
	cr_assert_str_eq(out, want);
	close(p[0]);
	close(p[1]);
}
