/*
 * Start one program through exactly one libc entry point, wait for it and
 * report what the caller observed, for the shim's tests.
 *
 * usage: ew_entry_points [-u NAME]... [-i] [-E K=V]... [-B BYTES]
 *            [-P DIRS] [-W DIR] [-C DIR] MODE PROGRAM [ARG]...
 *
 *   -u NAME   unsetenv(NAME) first (repeatable)
 *   -i        hand the envp-taking entry points an empty environment
 *   -E K=V    hand them a hand-built environment holding K=V (repeatable)
 *   -B BYTES  append arguments of 1000 bytes each, about BYTES in all
 *   -P DIRS   for MODE probe: execv(DIR/PROGRAM) for each DIR in the
 *             colon-separated DIRS in turn, as CPython does
 *   -W DIR    chdir(DIR) first
 *   -C DIR    posix_spawn(p): a chdir(DIR) file action for the child
 *
 * MODE: execve execv execvp execvpe execl execle execlp execveat
 *   (AT_FDCWD) execveat-dirfd (a directory fd and the name in it)
 *   execveat-empty (AT_EMPTY_PATH) fexecve posix_spawn posix_spawnp system
 *   popen (mode "r") popen-w (mode "w": writes one line) probe;
 *   versioned lookups: dlvsym-execve (dlvsym(RTLD_DEFAULT, "execve",
 *   libc's version)), posix_spawn-dlvsym and posix_spawnp-dlvsym (the
 *   default version), posix_spawn-compat and posix_spawnp-compat (linked
 *   against libc's compat version, GLIBC_2.2.5 on x86_64, by .symver).
 *   system and popen run PROGRAM and ARGs joined by spaces as the command.
 *
 * Output on stdout, one line each:
 *   call=MODE rc=N errno=N     the entry point's result (exec family: only
 *                              when it returned; errno is preset to EDOM,
 *                              33, so an untouched errno reads 33)
 *   out=TEXT                   popen: each line the command printed
 *   exit=N | signal=N          how the child ended
 * Exit status 0, or 2 on a usage error. Fds above 2 are closed first, so
 * any the child finds open came from execward.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_shim_versions.h"

#define MAX_ENV 64
#define MAX_ARGS (4096 + 64)
#define BIG_ARG 1000

extern char **environ;

typedef int (*spawn_fn)(pid_t *, const char *,
    const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
    char *const[], char *const[]);
typedef int (*execve_fn)(const char *, char *const[], char *const[]);

/*
 * References to libc's compat posix_spawn(p): a program linked against an
 * older libc calls these versions.
 */
#ifdef EW_SHIM_V_POSIX_SPAWN_COMPAT
int
compat_posix_spawn(pid_t *, const char *, const posix_spawn_file_actions_t *,
    const posix_spawnattr_t *, char *const[], char *const[]);
int
compat_posix_spawnp(pid_t *, const char *, const posix_spawn_file_actions_t *,
    const posix_spawnattr_t *, char *const[], char *const[]);
__asm__(".symver compat_posix_spawn,posix_spawn@" EW_SHIM_V_POSIX_SPAWN_COMPAT);
__asm__(
    ".symver compat_posix_spawnp,posix_spawnp@" EW_SHIM_V_POSIX_SPAWNP_COMPAT);
#endif

static char *envbuf[MAX_ENV + 1];
static size_t nenv;
static int use_envbuf;
static char *args[MAX_ARGS + 1];
static const char *spawn_dir;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ew_entry_points [-u NAME]... [-i] [-E K=V]... "
	    "[-B BYTES] [-P DIRS] MODE PROGRAM [ARG]...\n");
	exit(2);
}

static void
report_call(const char *mode, int rc, int err)
{
	printf("call=%s rc=%d errno=%d\n", mode, rc, err);
	fflush(stdout);
}

static void
report_status(int status)
{
	if (WIFEXITED(status))
		printf("exit=%d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("signal=%d\n", WTERMSIG(status));
	else
		printf("status=%d\n", status);
	fflush(stdout);
}

static char **
envp(void)
{
	return use_envbuf ? envbuf : environ;
}

/*
 * Call an execl-family function with up to 8 arguments. glibc marks arg
 * nonnull, but an empty argument list is legal for the kernel and callers
 * do pass one: the calls are meant.
 */
#pragma GCC diagnostic ignored "-Wnonnull"
#pragma GCC diagnostic ignored "-Wformat"
static int
call_execl(const char *mode, const char *prog, char **a)
{
	size_t n;
	char **e = envp();

	for (n = 0; a[n] != NULL; n++)
		;
	if (n > 8)
		usage();
#define A(i) (i < n ? a[i] : NULL)
	if (strcmp(mode, "execl") == 0)
		return execl(
		    prog, A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), NULL);
	if (strcmp(mode, "execlp") == 0)
		return execlp(
		    prog, A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), NULL);
	/* execle: the environment follows the NULL ending the arguments. */
	switch (n) {
	case 0:
		return execle(prog, NULL, e);
	case 1:
		return execle(prog, a[0], NULL, e);
	case 2:
		return execle(prog, a[0], a[1], NULL, e);
	case 3:
		return execle(prog, a[0], a[1], a[2], NULL, e);
	case 4:
		return execle(prog, a[0], a[1], a[2], a[3], NULL, e);
	default:
		return execle(prog, a[0], a[1], a[2], a[3], a[4], NULL, e);
	}
#undef A
}

/* The exec family, in a forked child: report if the exec returns. */
static int
do_exec(const char *mode, const char *prog, char **a, const char *dirs)
{
	char path[4096], *copy, *dir, *save = NULL;
	int rc = 0, fd, err;

	errno = EDOM;
	if (strcmp(mode, "execve") == 0)
		rc = execve(prog, a, envp());
	else if (strcmp(mode, "dlvsym-execve") == 0) {
		execve_fn f = NULL;
#ifdef EW_SHIM_V_EXECVE
		void *p = dlvsym(RTLD_DEFAULT, "execve", EW_SHIM_V_EXECVE);

		memcpy(&f, &p, sizeof(p));
#endif
		if (f == NULL) {
			printf("dlvsym=none\n");
			return 121;
		}
		errno = EDOM;
		rc = f(prog, a, envp());
	} else if (strcmp(mode, "execv") == 0)
		rc = execv(prog, a);
	else if (strcmp(mode, "execvp") == 0)
		rc = execvp(prog, a);
	else if (strcmp(mode, "execvpe") == 0)
		rc = execvpe(prog, a, envp());
	else if (strncmp(mode, "execl", 5) == 0)
		rc = call_execl(mode, prog, a);
	else if (strcmp(mode, "execveat") == 0)
		rc = execveat(AT_FDCWD, prog, a, envp(), 0);
	else if (strcmp(mode, "execveat-dirfd") == 0) {
		/* A directory fd and the file's name in it. */
		snprintf(path, sizeof(path), "%s", prog);
		fd = open(dirname(path), O_PATH | O_DIRECTORY | O_CLOEXEC);
		snprintf(path, sizeof(path), "%s", prog);
		errno = EDOM;
		rc = execveat(fd, basename(path), a, envp(), 0);
	} else if (strcmp(mode, "execveat-empty") == 0) {
		fd = open(prog, O_PATH | O_CLOEXEC);
		errno = EDOM;
		rc = execveat(fd, "", a, envp(), AT_EMPTY_PATH);
	} else if (strcmp(mode, "fexecve") == 0) {
		fd = open(prog, O_RDONLY | O_CLOEXEC);
		errno = EDOM;
		rc = fexecve(fd, a, envp());
	} else if (strcmp(mode, "probe") == 0) {
		if (dirs == NULL)
			usage();
		copy = strdup(dirs);
		for (dir = strtok_r(copy, ":", &save); dir != NULL;
		     dir = strtok_r(NULL, ":", &save)) {
			snprintf(path, sizeof(path), "%s/%s", dir, prog);
			errno = EDOM;
			rc = execv(path, a);
			err = errno;
			printf("probe=%s errno=%d\n", path, err);
			errno = err;
		}
	} else
		usage();
	err = errno;
	report_call(mode, rc, err);
	return 120;
}

static int
run_exec(const char *mode, const char *prog, char **a, const char *dirs)
{
	int status;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) < 0)
		return 1;
	if (pid == 0)
		_exit(do_exec(mode, prog, a, dirs));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	report_status(status);
	return 0;
}

/* The posix_spawn(p) that MODE names, or NULL. */
static spawn_fn
spawn_function(const char *mode)
{
	int p = strncmp(mode, "posix_spawnp", 12) == 0;
	const char *v = NULL;
	spawn_fn f = NULL;
	void *sym;

	if (strchr(mode, '-') == NULL)
		return p ? posix_spawnp : posix_spawn;
	if (strstr(mode, "-compat") != NULL) {
#ifdef EW_SHIM_V_POSIX_SPAWN_COMPAT
		f = p ? compat_posix_spawnp : compat_posix_spawn;
#endif
		return f;
	}
#ifdef EW_SHIM_V_POSIX_SPAWN
	v = p ? EW_SHIM_V_POSIX_SPAWNP : EW_SHIM_V_POSIX_SPAWN;
#endif
	if (v == NULL ||
	    (sym = dlvsym(
		 RTLD_DEFAULT, p ? "posix_spawnp" : "posix_spawn", v)) == NULL)
		return NULL;
	memcpy(&f, &sym, sizeof(sym));
	return f;
}

static int
run_spawn(const char *mode, const char *prog, char **a)
{
	posix_spawn_file_actions_t fa, *fap = NULL;
	spawn_fn f = spawn_function(mode);
	int rc, err, status;
	pid_t pid;

	if (f == NULL) {
		printf("call=%s none\n", mode);
		return 0;
	}
	if (spawn_dir != NULL) {
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addchdir_np(&fa, spawn_dir);
		fap = &fa;
	}
	errno = EDOM;
	rc = f(&pid, prog, fap, NULL, a, envp());
	err = errno;
	report_call(mode, rc, err);
	if (rc != 0)
		return 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	report_status(status);
	return 0;
}

/* PROGRAM and ARGs joined by spaces. */
static char *
command(char **a)
{
	size_t len = 1, i;
	char *s;

	for (i = 0; a[i] != NULL; i++)
		len += strlen(a[i]) + 1;
	if ((s = calloc(1, len)) == NULL)
		exit(1);
	for (i = 0; a[i] != NULL; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, a[i]);
	}
	return s;
}

static int
run_shell(const char *mode, char **a)
{
	char *cmd = command(a), line[4096];
	int rc, err, status, writing;
	FILE *fp;

	errno = EDOM;
	if (strcmp(mode, "system") == 0) {
		rc = system(cmd);
		err = errno;
		report_call(mode, rc, err);
		if (rc != -1)
			report_status(rc);
		free(cmd);
		return 0;
	}
	writing = strcmp(mode, "popen-w") == 0;
	fp = popen(cmd, writing ? "w" : "r");
	err = errno;
	report_call(mode, fp == NULL ? -1 : 0, fp == NULL ? err : 0);
	free(cmd);
	if (fp == NULL)
		return 0;
	if (writing)
		fputs("to the command\n", fp);
	else
		while (fgets(line, sizeof(line), fp) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			printf("out=%s\n", line);
		}
	status = pclose(fp);
	if (status == -1)
		printf("pclose=-1 errno=%d\n", errno);
	else
		report_status(status);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *mode, *prog, *dirs = NULL;
	long big = 0, i;
	size_t n = 0;
	int c;

	/* What the child finds open beyond stdio must come from execward. */
	(void)syscall(SYS_close_range, 3U, ~0U, 0);
	while ((c = getopt(argc, argv, "+u:iE:B:P:W:C:")) != -1) {
		switch (c) {
		case 'u':
			unsetenv(optarg);
			break;
		case 'i':
			use_envbuf = 1;
			break;
		case 'E':
			if (nenv == MAX_ENV)
				usage();
			envbuf[nenv++] = optarg;
			use_envbuf = 1;
			break;
		case 'B':
			big = strtol(optarg, NULL, 10);
			break;
		case 'P':
			dirs = optarg;
			break;
		case 'W':
			if (chdir(optarg) != 0) {
				perror(optarg);
				return 2;
			}
			break;
		case 'C':
			spawn_dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	mode = argv[optind];
	prog = argv[optind + 1];
	for (c = optind + 2; c < argc && n < MAX_ARGS - 64; c++)
		args[n++] = argv[c];
	/* argv[0] is the program's name as the caller gives it. */
	memmove(args + 1, args, n * sizeof(char *));
	args[0] = (char *)prog;
	n++;
	for (i = 0; i < big / BIG_ARG && n < MAX_ARGS; i++) {
		if ((args[n] = malloc(BIG_ARG + 1)) == NULL)
			return 1;
		memset(args[n], 'a' + (int)(i % 26), BIG_ARG);
		args[n][BIG_ARG] = '\0';
		n++;
	}
	args[n] = NULL;

	if (strcmp(mode, "system") == 0 || strncmp(mode, "popen", 5) == 0)
		return run_shell(mode, args);
	if (strncmp(mode, "posix_spawn", 11) == 0)
		return run_spawn(mode, prog, args);
	return run_exec(mode, prog, args, dirs);
}
