/*
 * Unit tests of broker/ew_spawn*.c: the broker's fork-and-exec, its stdio,
 * process group, signals and directory, and failures reported by step.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_spawn.h"

extern char **environ;

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ew-spawn-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(spawn, .init = setup, .fini = teardown);

/* /bin/sh -c script, fds as given; returns the pid. */
static pid_t
sh(const char *script, int in, int out, int err, pid_t pgid,
    const sigset_t *ign)
{
	char *argv[] = { "sh", "-c", (char *)script, NULL };
	struct ew_spawn s;
	char why[256] = "";
	pid_t pid = -1;

	memset(&s, 0, sizeof(s));
	s.path = "/bin/sh";
	s.argv = argv;
	s.envp = environ;
	s.cwd = dir;
	s.fds[0] = in;
	s.fds[1] = out;
	s.fds[2] = err;
	s.pgid = pgid;
	s.ignore = ign;
	s.set_umask = true;
	s.umask = 027;
	cr_assert_eq(ew_spawn_start(&s, &pid, why, sizeof(why)), 0, "%s", why);
	cr_assert_gt(pid, 0);
	return pid;
}

static int
reap(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/* All that can be read from fd (NUL-terminated, static). */
static const char *
slurp(int fd)
{
	static char buf[4096];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(buf) - 1 &&
	    (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
	return buf;
}

Test(spawn, stdio_cwd_and_nothing_else)
{
	int in[2], out[2], err[2];
	char expect[256];
	pid_t pid;

	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
	/* A non-CLOEXEC fd of ours must not reach the program either. */
	cr_assert_eq(fcntl(out[0], F_SETFD, 0), 0);
	pid = sh("read x; echo \"got $x in $(pwd)\"; echo oops >&2; "
		 "umask; ls /proc/self/fd | wc -l",
	    in[0], out[1], err[1], EW_SPAWN_PGID_KEEP, NULL);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	cr_assert_eq(write(in[1], "it\n", 3), 3);
	close(in[1]);
	/* 0, 1, 2 and the one ls opens for /proc/self/fd. */
	snprintf(expect, sizeof(expect), "got it in %s\n0027\n4\n", dir);
	cr_assert_str_eq(slurp(out[0]), expect);
	cr_assert_str_eq(slurp(err[0]), "oops\n");
	cr_assert_eq(reap(pid), 0);
}

Test(spawn, dev_null_for_minus_one)
{
	int out[2];
	pid_t pid;

	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	pid = sh("cat; readlink /proc/self/fd/0", -1, out[1], out[1],
	    EW_SPAWN_PGID_KEEP, NULL);
	close(out[1]);
	cr_assert_str_eq(slurp(out[0]), "/dev/null\n");
	cr_assert_eq(reap(pid), 0);
}

Test(spawn, process_group_and_ignored_signals)
{
	sigset_t ign;
	char path[64], line[256];
	unsigned long long mask = 0;
	FILE *f;
	pid_t pid;

	sigemptyset(&ign);
	sigaddset(&ign, SIGHUP);
	pid = sh("sleep 30", -1, -1, -1, 0, &ign);
	cr_assert_eq(getpgid(pid), pid);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	/* sh may not have exec'd sleep yet: both keep SigIgn. */
	cr_assert_not_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		(void)sscanf(line, "SigIgn: %llx", &mask);
	fclose(f);
	cr_assert(mask & (1ULL << (SIGHUP - 1)), "SigIgn %llx", mask);
	cr_assert_not(mask & (1ULL << (SIGINT - 1)), "SigIgn %llx", mask);
	kill(pid, SIGKILL);
	cr_assert(WIFSIGNALED(reap(pid)));

	pid = sh("sleep 30", -1, -1, -1, EW_SPAWN_PGID_KEEP, NULL);
	cr_assert_eq(getpgid(pid), getpgrp());
	kill(pid, SIGKILL);
	reap(pid);
	/* A group that cannot be joined: a group of its own instead. */
	pid = sh("sleep 30", -1, -1, -1, 999999, NULL);
	cr_assert_eq(getpgid(pid), pid);
	kill(pid, SIGKILL);
	reap(pid);
}

Test(spawn, failures_name_the_step)
{
	char *argv[] = { "x", NULL }, why[256];
	struct ew_spawn s;
	pid_t pid = 123;

	memset(&s, 0, sizeof(s));
	s.path = "/bin/true";
	s.argv = argv;
	s.envp = environ;
	s.fds[0] = s.fds[1] = s.fds[2] = -1;
	s.pgid = EW_SPAWN_PGID_KEEP;
	s.cwd = "/nonexistent/dir";
	cr_assert_eq(ew_spawn_start(&s, &pid, why, sizeof(why)), -ENOENT);
	cr_assert_eq(pid, -1);
	cr_assert_str_eq(
	    why, "chdir /nonexistent/dir: No such file or directory");
	s.cwd = NULL;
	s.path = "/nonexistent/prog";
	cr_assert_eq(ew_spawn_start(&s, &pid, why, sizeof(why)), -ENOENT);
	cr_assert_str_eq(
	    why, "execve /nonexistent/prog: No such file or directory");
	/* No child is left behind. */
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
	cr_assert_eq(errno, ECHILD);
}

Test(spawn, a_script_without_shebang_runs_with_sh_when_asked)
{
	char script[128], *argv[] = { "script", "one", NULL }, why[256];
	char expect[256];
	struct ew_spawn s;
	int out[2], fd;
	pid_t pid;

	snprintf(script, sizeof(script), "%s/script", dir);
	cr_assert_geq(fd = open(script, O_WRONLY | O_CREAT, 0755), 0);
	cr_assert_eq(write(fd, "echo \"sh ran $1\"\n", 17), 17);
	close(fd);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	memset(&s, 0, sizeof(s));
	s.path = script;
	s.argv = argv;
	s.envp = environ;
	s.fds[0] = -1;
	s.fds[1] = s.fds[2] = out[1];
	s.pgid = EW_SPAWN_PGID_KEEP;
	cr_assert_eq(ew_spawn_start(&s, &pid, why, sizeof(why)), -ENOEXEC);
	snprintf(
	    expect, sizeof(expect), "execve %s: Exec format error", script);
	cr_assert_str_eq(why, expect);
	s.sh_fallback = true;
	cr_assert_eq(ew_spawn_start(&s, &pid, why, sizeof(why)), 0, "%s", why);
	close(out[1]);
	cr_assert_str_eq(slurp(out[0]), "sh ran one\n");
	cr_assert_eq(reap(pid), 0);
}

/*
 * The broker's fd 0 was closed: /dev/null, opened O_CLOEXEC, lands on 0
 * itself, where dup2 does not clear the flag. The program must still
 * find it open.
 */
Test(spawn, dev_null_on_a_closed_stdio_fd_stays_open)
{
	int out[2];
	pid_t pid;

	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	cr_assert_gt(out[0], 2);
	close(0);
	pid = sh("readlink /proc/self/fd/0 || echo closed", -1, out[1], out[1],
	    EW_SPAWN_PGID_KEEP, NULL);
	close(out[1]);
	cr_assert_str_eq(slurp(out[0]), "/dev/null\n");
	cr_assert_eq(reap(pid), 0);
}

Test(spawn, by_fd_runs_the_file_opened_whatever_path_says)
{
	char *argv[] = { "sh", "-c", "echo by-fd", NULL }, why[256];
	struct ew_spawn s;
	int out[2];
	pid_t pid;

	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	memset(&s, 0, sizeof(s));
	s.path = "/nonexistent/name";
	s.argv = argv;
	s.envp = environ;
	s.fds[0] = -1;
	s.fds[1] = s.fds[2] = out[1];
	s.pgid = EW_SPAWN_PGID_KEEP;
	s.by_fd = true;
	cr_assert_geq(s.exec_fd = open("/bin/sh", O_RDONLY | O_CLOEXEC), 0);
	cr_assert_eq(ew_spawn_start(&s, &pid, why, sizeof(why)), 0, "%s", why);
	close(out[1]);
	close(s.exec_fd);
	cr_assert_str_eq(slurp(out[0]), "by-fd\n");
	cr_assert_eq(reap(pid), 0);
}

Test(spawn, a_path_that_names_another_file_is_not_run)
{
	char script[128], other[128], *argv[] = { "script", NULL }, why[256];
	char expect[256];
	struct ew_spawn s;
	struct stat st;
	int fd;
	pid_t pid;

	snprintf(script, sizeof(script), "%s/script", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	cr_assert_geq(fd = open(script, O_WRONLY | O_CREAT, 0755), 0);
	cr_assert_eq(write(fd, "#!/bin/sh\nexit 3\n", 17), 17);
	close(fd);
	cr_assert_geq(fd = open(other, O_WRONLY | O_CREAT, 0755), 0);
	close(fd);
	memset(&s, 0, sizeof(s));
	s.path = script;
	s.argv = argv;
	s.envp = environ;
	s.fds[0] = s.fds[1] = s.fds[2] = -1;
	s.pgid = EW_SPAWN_PGID_KEEP;
	s.check_id = true;
	cr_assert_eq(stat(other, &st), 0);
	s.dev = st.st_dev;
	s.ino = st.st_ino;
	cr_assert_eq(ew_spawn_start(&s, &pid, why, sizeof(why)), -ESTALE);
	snprintf(
	    expect, sizeof(expect), "execve %s: %s", script, strerror(ESTALE));
	cr_assert_str_eq(why, expect);
	cr_assert_eq(stat(script, &st), 0);
	s.dev = st.st_dev;
	s.ino = st.st_ino;
	cr_assert_eq(ew_spawn_start(&s, &pid, why, sizeof(why)), 0, "%s", why);
	cr_assert(WIFEXITED(fd = reap(pid)) && WEXITSTATUS(fd) == 3);
}
