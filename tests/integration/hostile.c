/*
 * Integration helper: programs that are hard on the shim. Each mode ends
 * by starting `touch MARKER` (the test checks the file and the audit).
 *
 *   closefds MARKER   close every fd (stdio too), then execv touch
 *   preload MARKER    set a hostile LD_PRELOAD and drop EXECWARD_SOCKET,
 *                     then execvp touch (the shim must repair both)
 *   signal MARKER     execv touch from inside a SIGALRM handler
 *   forks MARKER      fork 1,000 children that exit at once, then execv
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char *marker;

static void
touch(void)
{
	char *argv[] = { "touch", marker, NULL };

	execv("/usr/bin/touch", argv);
	_exit(126);
}

static void
on_alarm(int sig)
{
	(void)sig;
	touch();
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	int fd, i, st;
	pid_t pid;

	if (argc != 3)
		return 2;
	marker = argv[2];
	if (strcmp(argv[1], "closefds") == 0) {
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return 1;
		for (fd = 0; fd < (int)rl.rlim_cur && fd < 65536; fd++)
			close(fd);
		touch();
	} else if (strcmp(argv[1], "preload") == 0) {
		char *targv[] = { "touch", marker, NULL };

		setenv("LD_PRELOAD", "/nonexistent/libevil.so", 1);
		unsetenv("EXECWARD_SOCKET");
		execvp("touch", targv);
		return 126;
	} else if (strcmp(argv[1], "signal") == 0) {
		signal(SIGALRM, on_alarm);
		alarm(1);
		for (;;)
			pause();
	} else if (strcmp(argv[1], "forks") == 0) {
		for (i = 0; i < 1000; i++) {
			if ((pid = fork()) < 0)
				return 1;
			if (pid == 0)
				_exit(0);
			if (waitpid(pid, &st, 0) != pid || st != 0)
				return 1;
		}
		touch();
	}
	return 2;
}
