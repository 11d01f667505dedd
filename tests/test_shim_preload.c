/*
 * libexecward.so loaded for real (LD_PRELOAD) into ew_entry_points, dash
 * and python3, against ew_fake_broker: every entry point, allow and deny,
 * the broker's failure modes, environment repair, fds, big requests.
 * Not a 'unit' test: LD_PRELOAD does not mix with ASan.
 *
 * Paths come from meson: EW_TEST_LIB, EW_TEST_FAKE_BROKER,
 * EW_TEST_ENTRY_POINTS, EW_TEST_CHILD, EW_TEST_VFORK_CWD, EW_TEST_E2BIG,
 * EW_TEST_STACK.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGV 32
/* proto/ew_env.h's EW_ENV_ASAN_OPTION. */
#define EW_TEST_ASAN_OPTION "verify_asan_link_order=0"
#define MAX_LINES 16
#define RUN_TIMEOUT 30.0
#define REASON "denied by the fake broker"

static const char *lib, *fake, *entry, *child, *vfork_cwd, *e2big, *stackprog;
/* Short paths under /tmp, so that every string built from them fits. */
#define SHORT 256
static char top[SHORT / 2], sock[SHORT], logpath[SHORT];
static char bin[SHORT], kid[SHORT], marker[SHORT], failed[SHORT];
static pid_t broker = -1;

struct result {
	int status;
	double secs;
	char *out;
	char *err;
};

/* One line of the fake broker's log. */
struct ask {
	char *via, *file, *resolved, *cwd, *pid, *argc, *bytes, *argv;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read a whole file (NULL if missing); caller frees. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	size_t len = 0;
	ssize_t n;

	if (f == NULL)
		return NULL;
	n = getdelim(&s, &len, '\0', f);
	fclose(f);
	if (n < 0) {
		free(s);
		return strdup("");
	}
	return s;
}

static void
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	cr_assert(in >= 0, "open %s: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static const char *
need(const char *name)
{
	const char *v = getenv(name);

	cr_assert_not_null(v, "%s is not set (run through meson test)", name);
	return v;
}

static void
setup(void)
{
	lib = need("EW_TEST_LIB");
	fake = need("EW_TEST_FAKE_BROKER");
	entry = need("EW_TEST_ENTRY_POINTS");
	child = need("EW_TEST_CHILD");
	vfork_cwd = need("EW_TEST_VFORK_CWD");
	e2big = need("EW_TEST_E2BIG");
	stackprog = need("EW_TEST_STACK");
	snprintf(top, sizeof(top), "/tmp/ew-shim-preload-XXXXXX");
	cr_assert(mkdtemp(top) != NULL);
	snprintf(sock, sizeof(sock), "%s/sock", top);
	snprintf(logpath, sizeof(logpath), "%s/log", top);
	snprintf(bin, sizeof(bin), "%s/bin", top);
	snprintf(kid, sizeof(kid), "%s/bin/ewkid", top);
	snprintf(marker, sizeof(marker), "%s/marker", top);
	snprintf(failed, sizeof(failed), "%s/failed", top);
	cr_assert(mkdir(bin, 0755) == 0);
	copy_file(child, kid, 0755);
	broker = -1;
}

static void
teardown(void)
{
	char cmd[PATH_MAX + 16];

	if (broker > 0) {
		kill(broker, SIGKILL); /* it may be stopped */
		waitpid(broker, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	(void)system(cmd);
}

TestSuite(shim_preload, .init = setup, .fini = teardown, .timeout = 120);

/* Start the fake broker with extra arguments (NULL-terminated). */
static void
start_broker(const char *arg, ...)
{
	const char *argv[MAX_ARGV] = { fake, "--socket", sock, "--log",
		logpath };
	posix_spawn_file_actions_t fa;
	struct pollfd pfd;
	char buf[16] = { 0 };
	size_t n = 5;
	va_list ap;
	int p[2];

	if (broker > 0) {
		kill(broker, SIGKILL);
		waitpid(broker, NULL, 0);
		broker = -1;
	}
	va_start(ap, arg);
	for (; arg != NULL && n < MAX_ARGV - 1; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	cr_assert_eq(posix_spawn(&broker, fake, &fa, NULL, (char **)argv,
			 (char *[]){ NULL }),
	    0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 5000), 1, "broker did not start");
	cr_assert(read(p[0], buf, sizeof(buf) - 1) > 0);
	cr_assert_str_eq(buf, "ready\n");
	close(p[0]);
}

/* Does name=... appear among the NULL-terminated extra entries? */
static int
overridden(const char *const *extra, const char *name)
{
	size_t n = strlen(name);

	for (; extra != NULL && *extra != NULL; extra++)
		if (strncmp(*extra, name, n) == 0 && (*extra)[n] == '=')
			return 1;
	return 0;
}

/*
 * Run argv with the shim loaded and the session set, plus extra (entries
 * there override the defaults); stdout and stderr are captured.
 */
static void
run_env(struct result *r, const char *const *extra, const char *const *argv)
{
	static char e_path[PATH_MAX + 64], e_pre[PATH_MAX + 64];
	static char e_sock[PATH_MAX + 64];
	const char *envp[MAX_ARGV];
	char out[PATH_MAX + 16], err[PATH_MAX + 16];
	posix_spawn_file_actions_t fa;
	double t0, deadline;
	size_t n = 0;
	pid_t pid, w;

	snprintf(e_path, sizeof(e_path), "PATH=%s:/usr/bin:/bin", bin);
	snprintf(e_pre, sizeof(e_pre), "LD_PRELOAD=%s", lib);
	snprintf(e_sock, sizeof(e_sock), "EXECWARD_SOCKET=%s", sock);
	if (!overridden(extra, "PATH"))
		envp[n++] = e_path;
	if (!overridden(extra, "LD_PRELOAD"))
		envp[n++] = e_pre;
	if (!overridden(extra, "EXECWARD_SOCKET"))
		envp[n++] = e_sock;
	/* As `execward run` gives it: nothing for the shim to repair. */
	if (!overridden(extra, "ASAN_OPTIONS"))
		envp[n++] = "ASAN_OPTIONS=" EW_TEST_ASAN_OPTION;
	for (; extra != NULL && *extra != NULL && n < MAX_ARGV - 1; extra++)
		envp[n++] = *extra;
	envp[n] = NULL;

	snprintf(out, sizeof(out), "%s/out", top);
	snprintf(err, sizeof(err), "%s/err", top);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(
	    &fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(
	    &fa, STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	t0 = now();
	cr_assert_eq(
	    posix_spawn(&pid, argv[0], &fa, NULL, (char **)argv, (char **)envp),
	    0);
	posix_spawn_file_actions_destroy(&fa);
	deadline = t0 + RUN_TIMEOUT;
	while ((w = waitpid(pid, &r->status, WNOHANG)) == 0) {
		if (now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &r->status, 0);
			cr_assert_fail("%s hung", argv[0]);
		}
		usleep(5000);
	}
	cr_assert_eq(w, pid);
	r->secs = now() - t0;
	r->out = slurp(out);
	r->err = slurp(err);
	cr_assert_not_null(r->out);
	cr_assert_not_null(r->err);
}

/* ew_entry_points with arguments (NULL-terminated), extra environment. */
static void
run_entry(struct result *r, const char *const *extra, const char *arg, ...)
{
	const char *argv[MAX_ARGV] = { entry };
	size_t n = 1;
	va_list ap;

	va_start(ap, arg);
	for (; arg != NULL && n < MAX_ARGV - 1; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	run_env(r, extra, argv);
}

static void
result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* The fake broker's log, split into asks; returns how many. */
static size_t
read_log(struct ask *asks, size_t max, char **textp)
{
	char *text = slurp(logpath), *line, *save = NULL, **f;
	size_t n = 0, i;

	*textp = text;
	if (text == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		cr_assert(n < max, "too many asks");
		f = &asks[n].via;
		for (i = 0; i < 8; i++) {
			f[i] = line;
			line = i < 7 ? strchr(line, '\t') : NULL;
			if (i < 7) {
				cr_assert_not_null(line, "short log line");
				*line++ = '\0';
			}
		}
		n++;
	}
	return n;
}

static size_t
count_asks(void)
{
	struct ask asks[MAX_LINES];
	char *text;
	size_t n = read_log(asks, MAX_LINES, &text);

	free(text);
	return n;
}

/* "a\x1fb\x1fc" from the arguments. */
static const char *
joined(const char *a, ...)
{
	static char buf[8192];
	va_list ap;

	buf[0] = '\0';
	va_start(ap, a);
	for (; a != NULL; a = va_arg(ap, const char *)) {
		if (buf[0] != '\0')
			strcat(buf, "\x1f");
		strcat(buf, a);
	}
	va_end(ap);
	return buf;
}

static int
has(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- every entry point, allowed ---------------------------------------- */

/* The exec and spawn family: PROG is the program as called. */
static void
allowed(const char *mode, const char *prog, const char *via, const char *file)
{
	struct ask asks[MAX_LINES];
	struct result r;
	char *text, *m;

	start_broker(NULL);
	run_entry(&r, NULL, mode, prog, marker, NULL);
	cr_assert(
	    has(r.out, "exit=0\n"), "%s: out: %s err: %s", mode, r.out, r.err);
	/* The exec family reports a call only when it returned. */
	if (strncmp(mode, "posix_spawn", 11) == 0)
		cr_assert(has(r.out, "rc=0 "), "%s: %s", mode, r.out);
	else
		cr_assert_not(has(r.out, "call="), "%s: %s", mode, r.out);
	m = slurp(marker);
	cr_assert_not_null(m, "%s: the child did not run", mode);
	cr_assert(has(m, "argc=2 "), "%s", m);
	free(m);
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 1, "%s", text);
	cr_assert_str_eq(asks[0].via, via);
	if (file != NULL)
		cr_assert_str_eq(asks[0].file, file);
	else
		cr_assert(strncmp(asks[0].file, "/proc/self/fd/", 14) == 0,
		    "%s", asks[0].file);
	cr_assert_str_eq(asks[0].resolved, kid);
	cr_assert_str_eq(asks[0].argc, "2");
	cr_assert_str_eq(asks[0].argv, joined(prog, marker, NULL));
	cr_assert_str_eq(r.err, "", "no message when allowed: %s", r.err);
	free(text);
	result_free(&r);
}

/* system and popen: `sh -c CMD`, then the shell's own exec of ewkid. */
static void
allowed_shell(const char *mode)
{
	struct ask asks[MAX_LINES];
	struct result r;
	char cmd[PATH_MAX + 64], *text;

	start_broker(NULL);
	run_entry(&r, NULL, mode, "ewkid", marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s: %s %s", mode, r.out, r.err);
	cr_assert(exists(marker));
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 2, "%s", text);
	snprintf(cmd, sizeof(cmd), "ewkid %s", marker);
	cr_assert_str_eq(asks[0].via, mode);
	cr_assert_str_eq(asks[0].file, "/bin/sh");
	cr_assert_str_eq(asks[0].resolved, "/bin/sh");
	cr_assert_str_eq(asks[0].argv, joined("sh", "-c", cmd, NULL));
	/* dash, loaded with the shim, asks for what it runs. */
	cr_assert_str_eq(asks[1].resolved, kid);
	cr_assert_str_eq(asks[1].argv, joined("ewkid", marker, NULL));
	free(text);
	result_free(&r);
}

Test(shim_preload, allowed_execve)
{
	allowed("execve", kid, "execve", kid);
}

Test(shim_preload, allowed_execv)
{
	allowed("execv", kid, "execv", kid);
}

Test(shim_preload, allowed_execvp)
{
	allowed("execvp", "ewkid", "execvp", "ewkid");
}

Test(shim_preload, allowed_execvpe)
{
	allowed("execvpe", "ewkid", "execvpe", "ewkid");
}

Test(shim_preload, allowed_execl)
{
	allowed("execl", kid, "execl", kid);
}

Test(shim_preload, allowed_execle)
{
	allowed("execle", kid, "execle", kid);
}

Test(shim_preload, allowed_execlp)
{
	allowed("execlp", "ewkid", "execlp", "ewkid");
}

Test(shim_preload, allowed_execveat)
{
	allowed("execveat", kid, "execveat", kid);
}

Test(shim_preload, allowed_execveat_dirfd)
{
	/* A directory fd and the name in it: "ewkid" as called. */
	allowed("execveat-dirfd", kid, "execveat", "ewkid");
}

Test(shim_preload, allowed_execveat_empty_path)
{
	allowed("execveat-empty", kid, "execveat", NULL);
}

Test(shim_preload, allowed_fexecve)
{
	allowed("fexecve", kid, "fexecve", NULL);
}

Test(shim_preload, allowed_posix_spawn)
{
	allowed("posix_spawn", kid, "posix_spawn", kid);
}

Test(shim_preload, allowed_posix_spawnp)
{
	allowed("posix_spawnp", "ewkid", "posix_spawnp", "ewkid");
}

Test(shim_preload, allowed_system)
{
	allowed_shell("system");
}

Test(shim_preload, allowed_popen)
{
	allowed_shell("popen");
}

/* ---- every entry point, denied ----------------------------------------- */

/* The exec family: -1 and EACCES, nothing ran, one line on stderr. */
static void
denied(const char *mode, const char *prog, int quiet)
{
	const char *quiet_env[] = { "EXECWARD_QUIET=1", NULL };
	struct result r;
	char want[PATH_MAX + 128];

	start_broker("--deny", "ewkid", NULL);
	run_entry(&r, quiet ? quiet_env : NULL, mode, prog, marker, NULL);
	snprintf(want, sizeof(want), "call=%s rc=-1 errno=%d\n", mode, EACCES);
	cr_assert(has(r.out, want), "%s: %s", mode, r.out);
	cr_assert(has(r.out, "exit=120\n"), "%s", r.out);
	cr_assert_not(exists(marker), "%s: the child ran", mode);
	cr_assert_eq(count_asks(), 1);
	snprintf(want, sizeof(want), "execward: denied: %s %s: " REASON "\n",
	    prog, marker);
	if (quiet)
		cr_assert_str_eq(r.err, "", "quiet: %s", r.err);
	else
		cr_assert_str_eq(r.err, want);
	result_free(&r);
}

/* posix_spawn(p): returns EACCES, errno untouched (EDOM, preset). */
static void
denied_spawn(const char *mode, const char *prog, int quiet)
{
	const char *quiet_env[] = { "EXECWARD_QUIET=1", NULL };
	struct result r;
	char want[PATH_MAX + 128];

	start_broker("--deny", "ewkid", NULL);
	run_entry(&r, quiet ? quiet_env : NULL, mode, prog, marker, NULL);
	snprintf(
	    want, sizeof(want), "call=%s rc=%d errno=%d\n", mode, EACCES, EDOM);
	cr_assert_str_eq(r.out, want);
	cr_assert_not(exists(marker));
	cr_assert_eq(count_asks(), 1);
	if (quiet)
		cr_assert_str_eq(r.err, "");
	else
		cr_assert(has(r.err, "execward: denied: "), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, denied_execve)
{
	denied("execve", kid, 0);
}

Test(shim_preload, denied_execv)
{
	denied("execv", kid, 0);
}

Test(shim_preload, denied_execvp)
{
	denied("execvp", "ewkid", 0);
}

Test(shim_preload, denied_execvpe)
{
	denied("execvpe", "ewkid", 0);
}

Test(shim_preload, denied_execl)
{
	denied("execl", kid, 0);
}

Test(shim_preload, denied_execle)
{
	denied("execle", kid, 0);
}

Test(shim_preload, denied_execlp)
{
	denied("execlp", "ewkid", 0);
}

Test(shim_preload, denied_execveat)
{
	denied("execveat", kid, 0);
}

Test(shim_preload, denied_execveat_dirfd)
{
	denied("execveat-dirfd", kid, 0);
}

Test(shim_preload, denied_fexecve)
{
	denied("fexecve", kid, 0);
}

Test(shim_preload, denied_posix_spawn)
{
	denied_spawn("posix_spawn", kid, 0);
}

Test(shim_preload, denied_posix_spawnp)
{
	denied_spawn("posix_spawnp", "ewkid", 0);
}

Test(shim_preload, denied_quietly)
{
	denied("execvp", "ewkid", 1);
}

Test(shim_preload, denied_spawn_quietly)
{
	denied_spawn("posix_spawn", kid, 1);
}

/* system: the status of a shell that exited 127; errno untouched. */
static void
denied_system(int quiet)
{
	const char *quiet_env[] = { "EXECWARD_QUIET=1", NULL };
	struct result r;
	char want[PATH_MAX + 128];

	start_broker("--deny", "sh", NULL);
	run_entry(
	    &r, quiet ? quiet_env : NULL, "system", "ewkid", marker, NULL);
	snprintf(want, sizeof(want), "call=system rc=%d errno=%d\nexit=127\n",
	    127 << 8, EDOM);
	cr_assert_str_eq(r.out, want);
	cr_assert_not(exists(marker));
	cr_assert_eq(count_asks(), 1);
	snprintf(want, sizeof(want),
	    "execward: denied: sh -c ewkid %s: " REASON "\n", marker);
	cr_assert_str_eq(r.err, quiet ? "" : want);
	result_free(&r);
}

Test(shim_preload, denied_system)
{
	denied_system(0);
}

Test(shim_preload, denied_system_quietly)
{
	denied_system(1);
}

Test(shim_preload, denied_popen)
{
	struct result r;
	char want[PATH_MAX + 128];

	start_broker("--deny", "sh", NULL);
	run_entry(&r, NULL, "popen", "ewkid", marker, NULL);
	snprintf(want, sizeof(want), "call=popen rc=-1 errno=%d\n", EACCES);
	cr_assert_str_eq(r.out, want);
	cr_assert_not(exists(marker));
	cr_assert(has(r.err, "execward: denied: sh -c ewkid"), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, denied_inside_a_shell)
{
	struct result r;

	/* system() itself is allowed; dash's exec of ewkid is not. */
	start_broker("--deny", "ewkid", NULL);
	run_entry(&r, NULL, "system", "ewkid", marker, NULL);
	cr_assert(has(r.out, "exit=126\n"), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert_eq(count_asks(), 2);
	cr_assert(has(r.err, "execward: denied: ewkid "), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, escalate_execs_the_helper_in_place)
{
	struct result r;

	/*
	 * The exec succeeds: the process becomes execward-escalate, which
	 * the fake broker cannot serve, so it says so and exits 126.
	 */
	start_broker("--mode", "escalate", NULL);
	run_entry(&r, NULL, "execve", kid, marker, NULL);
	cr_assert_not(has(r.out, "rc="), "%s", r.out);
	cr_assert(has(r.out, "exit=126\n"), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert(has(r.err, "execward: denied: escalation: "), "%s", r.err);
	cr_assert_eq(count_asks(), 1);
	result_free(&r);
}

/* ---- only programs that exist are asked about ---------------------------- */

Test(shim_preload, missing_program_is_enoent_and_not_asked)
{
	struct result r;

	start_broker(NULL);
	run_entry(&r, NULL, "execvp", "ew-no-such-program", NULL);
	cr_assert(has(r.out, "rc=-1 errno=2\n"), "%s", r.out);
	result_free(&r);
	run_entry(&r, NULL, "execve", "/nonexistent/prog", NULL);
	cr_assert(has(r.out, "rc=-1 errno=2\n"), "%s", r.out);
	result_free(&r);
	run_entry(&r, NULL, "posix_spawnp", "ew-no-such-program", NULL);
	cr_assert(has(r.out, "rc=2 errno="), "%s", r.out);
	cr_assert_str_eq(r.err, "");
	result_free(&r);
	cr_assert_eq(count_asks(), 0);
}

Test(shim_preload, not_executable_is_libc_eacces_and_not_asked)
{
	struct result r;
	char plain[PATH_MAX + 32];

	snprintf(plain, sizeof(plain), "%s/plain", bin);
	copy_file(child, plain, 0644);
	start_broker(NULL);
	run_entry(&r, NULL, "execv", plain, NULL);
	cr_assert(has(r.out, "rc=-1 errno=13\n"), "%s", r.out);
	cr_assert_str_eq(r.err, "", "libc's own error, no message");
	cr_assert_eq(count_asks(), 0);
	result_free(&r);
}

Test(shim_preload, missing_program_in_a_shell_is_not_asked)
{
	struct result r;

	start_broker(NULL);
	run_entry(&r, NULL, "system", "ew-no-such-program", NULL);
	cr_assert(has(r.out, "exit=127\n"), "%s", r.out);
	/* Only the shell itself: dash's PATH probes leave nothing. */
	cr_assert_eq(count_asks(), 1);
	result_free(&r);
}

Test(shim_preload, spawn_chdir_action_cannot_hide_a_program)
{
	struct result r;

	/* "ewkid" does not exist where the caller is, but does after the
	 * child's chdir: it is asked about all the same. */
	start_broker("--deny", "ewkid", NULL);
	run_entry(&r, NULL, "-W", top, "-C", bin, "posix_spawn", "ewkid",
	    marker, NULL);
	cr_assert(has(r.out, "rc=13 errno=33\n"), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert_eq(count_asks(), 1);
	result_free(&r);
	start_broker(NULL);
	run_entry(&r, NULL, "-W", top, "-C", bin, "posix_spawn", "ewkid",
	    marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker));
	result_free(&r);
}

Test(shim_preload, path_probing_asks_once)
{
	struct result r;
	char dirs[4 * PATH_MAX];

	snprintf(dirs, sizeof(dirs), "%s/a:%s:/usr/bin:%s", top, top, bin);
	start_broker(NULL);
	run_entry(&r, NULL, "-P", dirs, "probe", "ewkid", marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s", r.out);
	cr_assert(exists(marker));
	cr_assert_eq(count_asks(), 1);
	result_free(&r);
}

Test(shim_preload, cpython_subprocess_asks_once)
{
	const char *argv[] = { "/usr/bin/python3", "-c",
		"import subprocess, sys\n"
		"subprocess.run(['ewkid', sys.argv[1]], check=True)\n",
		marker, NULL };
	char path[3 * PATH_MAX];
	const char *extra[] = { path, NULL };
	struct ask asks[MAX_LINES];
	struct result r;
	char *text;

	if (!exists(argv[0]))
		cr_skip_test("no python3");
	/* Two directories without ewkid come first: CPython tries each. */
	snprintf(
	    path, sizeof(path), "PATH=%s/a:%s:%s:/usr/bin:/bin", top, top, bin);
	start_broker(NULL);
	run_env(&r, extra, argv);
	cr_assert(
	    WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	cr_assert(exists(marker));
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 1, "%s", text);
	cr_assert_str_eq(asks[0].resolved, kid);
	free(text);
	result_free(&r);
}

/* ---- the environment cannot be shed ---------------------------------------
 */

/* The child's marker line shows the session it got. */
static void
assert_child_has_session(void)
{
	char want[2 * PATH_MAX + 64], *m = slurp(marker);

	cr_assert_not_null(m, "the grandchild did not run");
	snprintf(want, sizeof(want), " preload=%s socket=%s\n", lib, sock);
	cr_assert(has(m, want), "%s", m);
	free(m);
}

Test(shim_preload, env_i_does_not_escape)
{
	struct result r;
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "%s %s", kid, marker);
	start_broker(NULL);
	run_entry(&r, NULL, "-i", "execve", "/bin/sh", "-c", cmd, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert_eq(count_asks(), 2, "sh, then ewkid");
	assert_child_has_session();
	result_free(&r);
}

/*
 * A session variable too long for the constructor's static arena
 * (EW_SHIM_ARENA_SMALL, 1 KiB): EXECWARD_TIMEOUT as 3000 bytes (leading
 * zeros, so 10 s). The constructor must take its snapshot again in a
 * mapped arena, so env -i's shell still gets the variable back, whole,
 * and with it the socket and the preload (the shell's start is asked).
 */
Test(shim_preload, env_i_keeps_a_session_past_the_static_arena)
{
	static char e_timeout[3100];
	const char *extra[] = { e_timeout, NULL };
	const size_t len = 3000;
	struct result r;
	size_t n;

	n = (size_t)snprintf(e_timeout, sizeof(e_timeout), "EXECWARD_TIMEOUT=");
	memset(e_timeout + n, '0', len - 2);
	memcpy(e_timeout + n + len - 2, "10", 3);
	start_broker(NULL);
	run_entry(&r, extra, "-i", "execve", "/bin/sh", "-c",
	    "echo len=${#EXECWARD_TIMEOUT} socket=${EXECWARD_SOCKET:+set} "
	    "preload=${LD_PRELOAD:+set}",
	    NULL);
	cr_assert(has(r.out, "len=3000 socket=set preload=set\n"), "%s %s",
	    r.out, r.err);
	cr_assert_eq(count_asks(), 1, "the shell's start");
	result_free(&r);
}

/*
 * LD_PRELOAD relative to the cwd: the shim finds its own file name in the
 * loader's list (as given, relative, as dladdr would), makes it absolute
 * against the cwd, and a child that lost LD_PRELOAD gets that back.
 */
Test(shim_preload, relative_preload_is_restored_absolute)
{
	static char e_pre[3 * PATH_MAX];
	const char *extra[] = { e_pre, NULL };
	char cwd[PATH_MAX], rel[2 * PATH_MAX], want[8 * PATH_MAX], *m;
	char cmd[2 * PATH_MAX];
	struct result r;
	const char *p;

	cr_assert_eq(lib[0], '/', "%s", lib);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	rel[0] = '\0';
	for (p = cwd; *p != '\0'; p++)
		if (*p == '/' && p[1] != '\0')
			strcat(rel, "../");
	strcat(rel, lib + 1);
	snprintf(e_pre, sizeof(e_pre), "LD_PRELOAD=%s", rel);
	snprintf(cmd, sizeof(cmd), "%s %s", kid, marker);
	start_broker(NULL);
	run_entry(
	    &r, extra, "-u", "LD_PRELOAD", "execv", "/bin/sh", "-c", cmd, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert_eq(count_asks(), 2, "sh, then ewkid");
	m = slurp(marker);
	cr_assert_not_null(m, "the grandchild did not run");
	snprintf(want, sizeof(want), " preload=%s%s%s socket=%s\n", cwd,
	    strcmp(cwd, "/") == 0 ? "" : "/", rel, sock);
	cr_assert(has(m, want), "%s, not %s", m, want);
	free(m);
	result_free(&r);
}

Test(shim_preload, hand_built_envp_does_not_escape)
{
	struct result r;
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "%s %s", kid, marker);
	start_broker(NULL);
	run_entry(&r, NULL, "-E", "FOO=bar", "-E", "LD_PRELOAD=", "posix_spawn",
	    "/bin/sh", "-c", cmd, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert_eq(count_asks(), 2);
	assert_child_has_session();
	result_free(&r);
}

Test(shim_preload, unsetenv_does_not_escape_exec)
{
	struct result r;
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "%s %s", kid, marker);
	start_broker(NULL);
	run_entry(&r, NULL, "-u", "LD_PRELOAD", "-u", "EXECWARD_SOCKET",
	    "execv", "/bin/sh", "-c", cmd, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert_eq(count_asks(), 2);
	assert_child_has_session();
	result_free(&r);
}

Test(shim_preload, unsetenv_does_not_escape_system)
{
	const char *extra[] = { "EW_CHILD_EXIT=3", NULL };
	struct result r;

	start_broker(NULL);
	run_entry(&r, extra, "-u", "LD_PRELOAD", "system", kid, marker, NULL);
	/* The shell's status comes back through the shim's own system(). */
	cr_assert(has(r.out, "exit=3\n"), "%s %s", r.out, r.err);
	cr_assert_eq(count_asks(), 2);
	assert_child_has_session();
	result_free(&r);
}

Test(shim_preload, unsetenv_does_not_escape_popen)
{
	const char *extra[] = { "EW_CHILD_EXIT=5", NULL };
	struct result r;
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "echo hello; %s", kid);
	start_broker(NULL);
	run_entry(&r, extra, "-u", "LD_PRELOAD", "-u", "EXECWARD_SOCKET",
	    "popen", cmd, marker, NULL);
	/* Output and status come through the shim's own popen and pclose. */
	cr_assert(has(r.out, "call=popen rc=0 errno=0\nout=hello\nexit=5\n"),
	    "%s %s", r.out, r.err);
	cr_assert_eq(count_asks(), 2);
	assert_child_has_session();
	result_free(&r);
}

Test(shim_preload, unsetenv_does_not_escape_popen_for_writing)
{
	struct result r;
	char cmd[2 * PATH_MAX], got[PATH_MAX], *text;

	snprintf(got, sizeof(got), "%s/got", top);
	snprintf(cmd, sizeof(cmd), "%s %s; cat > %s", kid, marker, got);
	start_broker(NULL);
	run_entry(&r, NULL, "-u", "LD_PRELOAD", "popen-w", cmd, NULL);
	cr_assert(has(r.out, "call=popen-w rc=0 errno=0\nexit=0\n"), "%s %s",
	    r.out, r.err);
	text = slurp(got);
	cr_assert_str_eq(text, "to the command\n");
	free(text);
	cr_assert_eq(count_asks(), 3, "sh, ewkid, cat");
	assert_child_has_session();
	result_free(&r);
}

/* ---- the broker's failures ------------------------------------------------
 */

Test(shim_preload, no_broker_fails_closed_at_once)
{
	struct result r;

	/* No broker started: the socket does not exist. */
	run_entry(&r, NULL, "execve", kid, marker, NULL);
	cr_assert(has(r.out, "rc=-1 errno=13\n"), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert(r.secs < 2.0, "took %.2f s", r.secs);
	cr_assert(has(r.err, "execward: denied: "), "%s", r.err);
	cr_assert(has(r.err, ": broker unreachable: connect "), "%s", r.err);
	cr_assert(has(r.err, "No such file or directory\n"), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, no_socket_variable_fails_closed)
{
	const char *extra[] = { "EXECWARD_SOCKET=", NULL };
	struct result r;

	run_entry(&r, extra, "posix_spawn", kid, marker, NULL);
	cr_assert(has(r.out, "rc=13 errno=33\n"), "%s", r.out);
	cr_assert(has(r.err, "EXECWARD_SOCKET is not set"), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, silent_broker_times_out)
{
	const char *extra[] = { "EXECWARD_TIMEOUT=1", NULL };
	struct result r;

	start_broker("--mode", "silent", NULL);
	run_entry(&r, extra, "execvp", "ewkid", marker, NULL);
	cr_assert(has(r.out, "rc=-1 errno=13\n"), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert(r.secs >= 0.9 && r.secs < 5.0, "took %.2f s", r.secs);
	cr_assert(has(r.err, "broker did not answer within 1 s"), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, stopped_broker_times_out)
{
	const char *extra[] = { "EXECWARD_TIMEOUT=1", NULL };
	struct result r;

	/* Connections queue in the backlog; nobody answers. */
	start_broker(NULL);
	cr_assert(kill(broker, SIGSTOP) == 0);
	run_entry(&r, extra, "posix_spawn", kid, marker, NULL);
	cr_assert(has(r.out, "rc=13 errno=33\n"), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert(r.secs >= 0.9 && r.secs < 5.0, "took %.2f s", r.secs);
	cr_assert(has(r.err, "broker did not answer within 1 s"), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, heartbeats_outlast_the_timeout)
{
	const char *extra[] = { "EXECWARD_TIMEOUT=1", NULL };
	struct result r;

	start_broker("--mode", "heartbeat", "--delay-ms", "2500", NULL);
	run_entry(&r, extra, "execvp", "ewkid", marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker));
	cr_assert(r.secs >= 2.4, "took %.2f s", r.secs);
	result_free(&r);
}

Test(shim_preload, garbage_fails_closed)
{
	struct result r;

	start_broker("--mode", "garbage", NULL);
	run_entry(&r, NULL, "execve", kid, marker, NULL);
	cr_assert(has(r.out, "rc=-1 errno=13\n"), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert(has(r.err, ": bad answer from broker: "), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, closed_connection_fails_closed)
{
	struct result r;

	start_broker("--mode", "close", NULL);
	run_entry(&r, NULL, "posix_spawnp", "ewkid", marker, NULL);
	cr_assert(has(r.out, "rc=13 errno=33\n"), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert(has(r.err, ": broker closed the connection\n"), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, fail_open_runs_with_a_warning)
{
	const char *extra[] = { "EXECWARD_FAIL=open", NULL };
	struct result r;

	run_entry(&r, extra, "execve", kid, marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker));
	cr_assert(has(r.err, "execward: warning: "), "%s", r.err);
	cr_assert(has(r.err, "EXECWARD_FAIL=open"), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, fail_open_quietly)
{
	const char *extra[] = { "EXECWARD_FAIL=open", "EXECWARD_QUIET=1",
		NULL };
	struct result r;

	run_entry(&r, extra, "system", kid, marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker));
	cr_assert_str_eq(r.err, "");
	result_free(&r);
}

/* ---- what the new program gets ---------------------------------------------
 */

static void
no_fds(const char *mode, const char *prog)
{
	struct result r;
	char *m;

	start_broker(NULL);
	run_entry(&r, NULL, mode, prog, marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	m = slurp(marker);
	cr_assert_not_null(m);
	cr_assert(has(m, " fds=0,1,2 "), "%s: %s", mode, m);
	free(m);
	result_free(&r);
}

Test(shim_preload, no_execward_fd_reaches_the_program)
{
	no_fds("execve", kid);
	unlink(marker);
	no_fds("posix_spawnp", "ewkid");
	unlink(marker);
	no_fds("system", "ewkid");
	unlink(marker);
	no_fds("popen", "ewkid");
}

Test(shim_preload, big_argv_is_asked_whole)
{
	struct ask asks[MAX_LINES];
	struct result r;
	char want[64], *text, *m;
	size_t bytes = strlen(kid) + strlen(marker) + 1500 * 1000;

	start_broker(NULL);
	run_entry(&r, NULL, "-B", "1500000", "execve", kid, marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 1);
	cr_assert_str_eq(asks[0].argc, "1502");
	snprintf(want, sizeof(want), "%zu", bytes);
	cr_assert_str_eq(asks[0].bytes, want);
	cr_assert_eq(strlen(asks[0].argv), bytes + 1501);
	m = slurp(marker);
	snprintf(want, sizeof(want), "argc=1502 bytes=%zu ", bytes);
	cr_assert(has(m, want), "%s", m);
	free(m);
	free(text);
	result_free(&r);
}

Test(shim_preload, dash_asks_for_each_command)
{
	struct ask asks[MAX_LINES];
	struct result r;
	char cmd[3 * PATH_MAX], m2[PATH_MAX + 40], *text;

	snprintf(m2, sizeof(m2), "%s2", marker);
	snprintf(cmd, sizeof(cmd), "ewkid %s; ewkid %s", marker, m2);
	start_broker(NULL);
	run_entry(&r, NULL, "execve", "/bin/sh", "-c", cmd, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker) && exists(m2));
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 3, "%s", text);
	cr_assert_str_eq(asks[0].argv, joined("/bin/sh", "-c", cmd, NULL));
	cr_assert_str_eq(asks[1].argv, joined("ewkid", marker, NULL));
	cr_assert_str_eq(asks[2].argv, joined("ewkid", m2, NULL));
	free(text);
	result_free(&r);
}

Test(shim_preload, dash_denied_command_in_the_middle)
{
	struct result r;
	char cmd[3 * PATH_MAX];

	snprintf(
	    cmd, sizeof(cmd), "ewkid %s; rm -f %s; echo rc=$?", marker, marker);
	start_broker("--deny", "rm", NULL);
	run_entry(&r, NULL, "execve", "/bin/sh", "-c", cmd, NULL);
	cr_assert(has(r.out, "rc=126\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker), "rm must not have run");
	cr_assert(has(r.err, "execward: denied: rm -f "), "%s", r.err);
	result_free(&r);
}

/* ---- the library itself
 * ------------------------------------------------------ */

Test(shim_preload, exports_only_the_interposers)
{
	static const char *const want[] = { "execl", "execle", "execlp",
		"execv", "execve", "execveat", "execvp", "execvpe", "fexecve",
		"pclose", "popen", "posix_spawn", "posix_spawnp", "system" };
	const char *argv[] = { "/bin/sh", "-c",
		"nm -D --defined-only \"$0\" | awk '$2 == \"T\" {print $3}' | "
		"sed 's/@.*//' | sort -u",
		lib, NULL };
	const char *extra[] = { "LD_PRELOAD=", "EXECWARD_SOCKET=", NULL };
	char expected[512] = "";
	struct result r;
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		strcat(expected, want[i]);
		strcat(expected, "\n");
	}
	run_env(&r, extra, argv);
	cr_assert(
	    WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	cr_assert_str_eq(r.out, expected);
	result_free(&r);
}

/*
 * Every imported symbol is a lookup at every program's start (-z now), so
 * the shim makes its own system calls (preload/ew_shim_sys_as.c, built on
 * 64-bit Linux): none of those wrappers may be imported from libc, by
 * any of the names glibc's headers give them.
 */
#if defined(__linux__) && __SIZEOF_POINTER__ == 8
Test(shim_preload, imports_none_of_its_own_system_calls)
{
	const char *argv[] = { "/bin/sh", "-c",
		"nm -D --undefined-only \"$0\" | awk '{print $2}' | "
		"sed 's/@.*//' | grep -Ex '(close|read|write|pread(64)?|"
		"open(64)?|readlink|fstat(64)?|fstatat(64)?|fcntl(64)?|pipe2|"
		"memfd_create|mmap(64)?|munmap|socket|connect|sendmsg|recvmsg|"
		"poll|nanosleep|kill|getpid|getppid|geteuid|getrlimit(64)?)'; "
		"echo n=$(nm -D --undefined-only \"$0\" | wc -l)",
		lib, NULL };
	const char *extra[] = { "LD_PRELOAD=", "EXECWARD_SOCKET=", NULL };
	struct result r;

	run_env(&r, extra, argv);
	cr_assert(WIFEXITED(r.status), "%s", r.err);
	cr_assert(strncmp(r.out, "n=", 2) == 0, "imported: %s", r.out);
	result_free(&r);
}
#endif

Test(shim_preload, exports_each_under_libcs_versions)
{
	/*
	 * Every version libc gives an entry point (execve@@GLIBC_2.2.5,
	 * posix_spawn@@GLIBC_2.15 and its compat posix_spawn@GLIBC_2.2.5),
	 * the shim gives it too, and no other: a versioned lookup finds the
	 * shim whichever version it asks for.
	 */
	const char *argv[] = { "/bin/sh", "-c",
		"set -e; libc=$(ldd \"$0\" | awk '/libc[.]so[.]6/ {print "
		"$3}'); "
		"ours=$(nm -D --defined-only \"$0\" | awk '$2 == \"T\" "
		"{print $3}' | sort); "
		"names=$(echo \"$ours\" | sed 's/@.*//' | sort -u | "
		"paste -sd'|'); "
		"theirs=$(nm -D --defined-only \"$libc\" | awk '{print $3}' | "
		"grep -E \"^($names)@\" | sort); "
		"echo \"$ours\"; echo ==; echo \"$theirs\"; "
		"[ \"$ours\" = \"$theirs\" ]",
		lib, NULL };
	const char *extra[] = { "LD_PRELOAD=", "EXECWARD_SOCKET=", NULL };
	struct result r;

	run_env(&r, extra, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s %s",
	    r.out, r.err);
	cr_assert(has(r.out, "execve@@GLIBC_"), "%s", r.out);
	cr_assert(has(r.out, "posix_spawn@@GLIBC_"), "%s", r.out);
	result_free(&r);
}

/* ---- versioned lookups ----------------------------------------------------
 */

Test(shim_preload, allowed_execve_by_dlvsym)
{
	allowed("dlvsym-execve", kid, "execve", kid);
}

Test(shim_preload, denied_execve_by_dlvsym)
{
	denied("dlvsym-execve", kid, 0);
}

Test(shim_preload, allowed_posix_spawn_by_dlvsym)
{
	allowed("posix_spawn-dlvsym", kid, "posix_spawn", kid);
}

Test(shim_preload, allowed_posix_spawnp_by_dlvsym)
{
	allowed("posix_spawnp-dlvsym", "ewkid", "posix_spawnp", "ewkid");
}

Test(shim_preload, denied_posix_spawn_by_dlvsym)
{
	denied_spawn("posix_spawn-dlvsym", kid, 0);
}

Test(shim_preload, allowed_posix_spawn_compat)
{
	allowed("posix_spawn-compat", kid, "posix_spawn", kid);
}

Test(shim_preload, allowed_posix_spawnp_compat)
{
	allowed("posix_spawnp-compat", "ewkid", "posix_spawnp", "ewkid");
}

Test(shim_preload, denied_posix_spawnp_compat)
{
	denied_spawn("posix_spawnp-compat", "ewkid", 0);
}

Test(shim_preload, a_process_that_never_execs_is_untouched)
{
	const char *argv[] = { "/bin/echo", "hi", NULL };
	const char *extra[] = { "EXECWARD_SOCKET=/nonexistent/s", NULL };
	struct result r;

	/* Loading the shim opens nothing and prints nothing. */
	run_env(&r, extra, argv);
	cr_assert_str_eq(r.out, "hi\n");
	cr_assert_str_eq(r.err, "");
	result_free(&r);
}

/* ---- async-signal safety ------------------------------------------------ */

/*
 * A vfork child whose working directory is longer than the kernel's
 * getcwd answers (one page), and longer than PATH_MAX: the shim's exec
 * path must not fall back to glibc's malloc-and-opendir getcwd.
 */
static void
vfork_in_long_cwd(const char *length)
{
	const char *argv[] = { vfork_cwd, top, length, kid, marker, NULL };
	struct ask asks[MAX_LINES];
	struct result r;
	char *text;

	start_broker(NULL);
	run_env(&r, NULL, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s %s",
	    r.out, r.err);
	cr_assert(has(r.out, " mallocs=0 exit=0\n"), "%s: %s %s", length, r.out,
	    r.err);
	cr_assert(exists(marker), "the child did not run");
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 1, "%s", text);
	/* Unknown here: the broker reads /proc/PID/cwd. */
	cr_assert_str_eq(asks[0].cwd, "");
	cr_assert_str_eq(asks[0].resolved, kid);
	free(text);
	result_free(&r);
}

Test(shim_preload, vfork_child_in_a_cwd_over_a_page_does_not_malloc)
{
	vfork_in_long_cwd("5000");
}

Test(shim_preload, vfork_child_in_a_cwd_past_path_max_does_not_malloc)
{
	vfork_in_long_cwd("9000");
}

/*
 * The fake broker's failed log: how each allowed start went, as the shim
 * told it ("resolved<TAB>errno", 0 for a start that worked), once it
 * holds n lines (the broker writes it after the caller has moved on).
 */
static char *
outcomes(size_t n)
{
	double deadline = now() + RUN_TIMEOUT;
	size_t lines = 0;
	char *f, *p;

	for (;;) {
		if ((f = slurp(failed)) == NULL)
			f = strdup("");
		for (lines = 0, p = f; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		if (lines >= n || now() > deadline)
			break;
		free(f);
		usleep(10 * 1000);
	}
	cr_assert_eq(lines, n, "outcomes: %s", f);
	return f;
}

/* ---- the kernel's argument limit ---------------------------------------- */

/*
 * ew_e2big finds the kernel's limit with the raw system call, then starts
 * ewkid through the shim with the longest argv that fits and with one
 * byte more: the first is asked about and runs, the second fails with
 * E2BIG as the kernel would, asking nothing and saying nothing.
 */
static void
e2big_at_the_limit(const char *stack, const char *count, const char *mode)
{
	const char *argv[] = { e2big, stack, count, mode, kid, marker, NULL };
	char want[128], *m;
	struct result r;

	start_broker("--failed-log", failed, NULL);
	run_env(&r, NULL, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s %s",
	    r.out, r.err);
	cr_assert(has(r.out, "\nat rc=0 "), "%s", r.out);
	cr_assert(has(r.out, " exit=0\nover "), "%s", r.out);
	if (strcmp(mode, "execve") == 0)
		snprintf(
		    want, sizeof(want), "over rc=-1 errno=%d exit=-1\n", E2BIG);
	else
		snprintf(want, sizeof(want), "over rc=%d errno=%d exit=-1\n",
		    E2BIG, EDOM);
	cr_assert(has(r.out, want), "%s", r.out);
	cr_assert_eq(count_asks(), 1, "only the start within the limit");
	m = slurp(marker);
	cr_assert_not_null(m, "the start within the limit did not run");
	cr_assert_eq(strchr(m, '\n'), m + strlen(m) - 1, "one run: %s", m);
	free(m);
	m = outcomes(1);
	cr_assert(has(m, "\t0\n"), "it started: %s", m);
	free(m);
	cr_assert_str_eq(r.err, "", "no message for E2BIG");
	result_free(&r);
}

Test(shim_preload, e2big_at_the_limit_execve_small_stack)
{
	/* A quarter of 256 KiB is below 32 pages: the limit is 128 KiB. */
	e2big_at_the_limit("262144", "0", "execve");
}

Test(shim_preload, e2big_at_the_limit_posix_spawn_small_stack)
{
	e2big_at_the_limit("262144", "0", "posix_spawn");
}

Test(shim_preload, e2big_at_the_limit_execve_1m_stack)
{
	/* 256 KiB, 200 arguments: the pointers count too. */
	e2big_at_the_limit("1048576", "200", "execve");
}

Test(shim_preload, e2big_at_the_limit_posix_spawn_8m_stack)
{
	/* 2 MiB, 2000 arguments, through a memfd to the broker. */
	e2big_at_the_limit("8388608", "2000", "posix_spawn");
}

/* ---- starts that fail after an allow ------------------------------------ */

/* Write an executable file. */
static void
write_script(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* A script without "#!" that runs ewkid beside it with its arguments. */
static void
plain_script(char *path, size_t len)
{
	snprintf(path, len, "%s/plain", bin);
	write_script(path, "exec \"${0%/*}/ewkid\" \"$@\"\n");
}

Test(shim_preload, a_failed_exec_is_told_after_the_allow)
{
	char plain[SHORT + 16], want[2 * SHORT], *f;
	struct result r;

	plain_script(plain, sizeof(plain));
	start_broker("--failed-log", failed, NULL);
	run_entry(&r, NULL, "execve", plain, marker, NULL);
	snprintf(want, sizeof(want), "call=execve rc=-1 errno=%d\n", ENOEXEC);
	cr_assert(has(r.out, want), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert_eq(count_asks(), 1);
	f = outcomes(1);
	snprintf(want, sizeof(want), "%s\t%d\n", plain, ENOEXEC);
	cr_assert_str_eq(f, want);
	free(f);
	result_free(&r);
}

Test(shim_preload, a_failed_spawn_is_told_after_the_allow)
{
	char plain[SHORT + 16], want[2 * SHORT], *f;
	struct result r;

	/* posix_spawnp (2.15) runs no /bin/sh for a file without "#!". */
	plain_script(plain, sizeof(plain));
	start_broker("--failed-log", failed, NULL);
	run_entry(&r, NULL, "posix_spawnp", "plain", marker, NULL);
	snprintf(want, sizeof(want), "call=posix_spawnp rc=%d errno=%d\n",
	    ENOEXEC, EDOM);
	cr_assert_str_eq(r.out, want);
	cr_assert_eq(count_asks(), 1);
	f = outcomes(1);
	snprintf(want, sizeof(want), "%s\t%d\n", plain, ENOEXEC);
	cr_assert_str_eq(f, want);
	free(f);
	result_free(&r);
}

Test(shim_preload, a_missing_interpreter_is_told_after_the_allow)
{
	char script[SHORT + 16], want[2 * SHORT], *f;
	struct result r;

	snprintf(script, sizeof(script), "%s/nointerp", bin);
	write_script(script, "#!/nonexistent/interpreter\n");
	start_broker("--failed-log", failed, NULL);
	run_entry(&r, NULL, "execv", script, marker, NULL);
	snprintf(want, sizeof(want), "call=execv rc=-1 errno=%d\n", ENOENT);
	cr_assert(has(r.out, want), "%s", r.out);
	f = outcomes(1);
	snprintf(want, sizeof(want), "%s\t%d\n", script, ENOENT);
	cr_assert_str_eq(f, want);
	free(f);
	result_free(&r);
}

Test(shim_preload, a_start_that_works_is_not_told_failed)
{
	static const char *const modes[] = { "execvp", "execve", "execl",
		"execveat", "fexecve", "posix_spawn", "posix_spawnp", "system",
		"popen" };
	const size_t n = sizeof(modes) / sizeof(modes[0]);
	struct result r;
	char *f, *p;
	size_t i;

	/* Each hangs up (the exec closed the connection): no FAILED. */
	start_broker("--failed-log", failed, NULL);
	for (i = 0; i < n; i++) {
		run_entry(&r, NULL, modes[i],
		    strcmp(modes[i], "execvp") == 0 ? "ewkid" : kid, marker,
		    NULL);
		cr_assert(has(r.out, "exit=0\n"), "%s: %s", modes[i], r.out);
		result_free(&r);
	}
	/* system and popen: the shell, then the shell's start of ewkid. */
	f = outcomes(n + 2);
	for (p = f; (p = strchr(p, '\t')) != NULL; p++)
		cr_assert(strncmp(p, "\t0\n", 3) == 0, "%s", f);
	free(f);
}

/*
 * glibc's execvp runs a file without "#!" as `/bin/sh FILE ARG...`. The
 * shim asks about the file, tells the broker its exec failed (ENOEXEC),
 * then asks about that /bin/sh as what it is: the allowed asks left over
 * are exactly what the kernel ran.
 */
static void
fallback_through_sh(const char *mode)
{
	char plain[SHORT + 16], want[2 * SHORT], *f, *text;
	const char *noshim[] = { "LD_PRELOAD=", "EXECWARD_SOCKET=", NULL };
	struct ask asks[MAX_LINES];
	struct result r, bare;

	plain_script(plain, sizeof(plain));
	start_broker("--failed-log", failed, NULL);
	run_entry(&r, NULL, mode, "plain", marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker), "the script ran");
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 3, "%s", text);
	cr_assert_str_eq(asks[0].resolved, plain);
	cr_assert_str_eq(asks[0].argv, joined("plain", marker, NULL));
	cr_assert_str_eq(asks[1].via, mode);
	cr_assert_str_eq(asks[1].file, "/bin/sh");
	cr_assert_str_eq(asks[1].resolved, "/bin/sh");
	cr_assert_str_eq(asks[1].argv, joined("/bin/sh", plain, marker, NULL));
	cr_assert_str_eq(asks[2].resolved, kid, "dash's own start");
	/* Only the file itself failed (the broker logs in any order). */
	f = outcomes(3);
	snprintf(want, sizeof(want), "%s\t%d\n", plain, ENOEXEC);
	cr_assert(has(f, want), "%s", f);
	cr_assert(has(f, "/bin/sh\t0\n"), "%s", f);
	snprintf(want, sizeof(want), "%s\t0\n", kid);
	cr_assert(has(f, want), "%s", f);
	free(f);
	free(text);
	/* And libc alone does the same. */
	unlink(marker);
	run_entry(&bare, noshim, mode, "plain", marker, NULL);
	cr_assert_str_eq(bare.out, r.out);
	cr_assert(exists(marker));
	result_free(&bare);
	result_free(&r);
}

Test(shim_preload, shebangless_script_execvp_asks_about_its_sh)
{
	fallback_through_sh("execvp");
}

Test(shim_preload, shebangless_script_execlp_asks_about_its_sh)
{
	fallback_through_sh("execlp");
}

Test(shim_preload, shebangless_script_compat_spawn_asks_about_its_sh)
{
	char plain[SHORT + 16], want[2 * SHORT], *f, *text;
	struct ask asks[MAX_LINES];
	struct result r;

	/* The compat posix_spawn runs it through /bin/sh, as before 2.15. */
	plain_script(plain, sizeof(plain));
	start_broker("--failed-log", failed, NULL);
	run_entry(&r, NULL, "posix_spawn-compat", plain, marker, NULL);
	cr_assert(has(r.out, "rc=0 "), "%s %s", r.out, r.err);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker), "the script ran");
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 3, "%s", text);
	cr_assert_str_eq(asks[0].resolved, plain);
	cr_assert_str_eq(asks[1].argv, joined("/bin/sh", plain, marker, NULL));
	cr_assert_str_eq(asks[2].resolved, kid);
	f = outcomes(3);
	cr_assert(has(f, "/bin/sh\t0\n"), "%s", f);
	snprintf(want, sizeof(want), "%s\t%d\n", plain, ENOEXEC);
	cr_assert(has(f, want), "%s", f);
	free(f);
	free(text);
	result_free(&r);
}

Test(shim_preload, shebangless_script_sh_denied_fails_the_exec)
{
	char plain[SHORT + 16], want[2 * SHORT];
	struct result r;

	plain_script(plain, sizeof(plain));
	start_broker("--deny", "sh", "--failed-log", failed, NULL);
	run_entry(&r, NULL, "execvp", "plain", marker, NULL);
	snprintf(want, sizeof(want), "call=execvp rc=-1 errno=%d\n", EACCES);
	cr_assert(has(r.out, want), "%s", r.out);
	cr_assert_not(exists(marker));
	cr_assert_eq(count_asks(), 2);
	cr_assert(has(r.err, "execward: denied: /bin/sh "), "%s", r.err);
	result_free(&r);
}

Test(shim_preload, execvp_goes_on_past_a_candidate_that_fails)
{
	char dir[SHORT + 8], tool[2 * SHORT], tool2[2 * SHORT];
	char path[4 * SHORT], want[3 * SHORT], *f, *text;
	const char *extra[] = { path, NULL };
	struct ask asks[MAX_LINES];
	struct result r;

	/*
	 * glibc tries the next PATH element when an exec fails with ENOENT
	 * (here: a missing interpreter), and so does the shim, telling the
	 * broker about the one that failed.
	 */
	snprintf(dir, sizeof(dir), "%s/a", top);
	cr_assert(mkdir(dir, 0755) == 0);
	snprintf(tool, sizeof(tool), "%s/tool", dir);
	write_script(tool, "#!/nonexistent/interpreter\n");
	snprintf(tool2, sizeof(tool2), "%s/tool", bin);
	copy_file(child, tool2, 0755);
	snprintf(path, sizeof(path), "PATH=%s:%s:/usr/bin:/bin", dir, bin);
	start_broker("--failed-log", failed, NULL);
	run_entry(&r, extra, "execvp", "tool", marker, NULL);
	cr_assert(has(r.out, "exit=0\n"), "%s %s", r.out, r.err);
	cr_assert(exists(marker));
	cr_assert_eq(read_log(asks, MAX_LINES, &text), 2, "%s", text);
	cr_assert_str_eq(asks[0].resolved, tool);
	cr_assert_str_eq(asks[1].resolved, tool2);
	f = outcomes(2);
	snprintf(want, sizeof(want), "%s\t%d\n", tool, ENOENT);
	cr_assert(has(f, want), "%s", f);
	snprintf(want, sizeof(want), "%s\t0\n", tool2);
	cr_assert(has(f, want), "%s", f);
	free(f);
	free(text);
	result_free(&r);
}

/*
 * Every entry point on a 64 KiB thread stack (ew_stack), the /bin/sh
 * fallback of execvp (the deepest path) and the denial message included:
 * each runs and its program starts; the high water marks go to the log.
 */
static void
on_a_small_stack(const char *deny)
{
	char plain[SHORT + 16], *m, *line, *save = NULL;
	const char *argv[] = { stackprog, kid, "plain", marker, NULL };
	struct result r;
	size_t runs = 0;

	plain_script(plain, sizeof(plain));
	start_broker("--deny", deny, NULL);
	run_env(&r, NULL, argv);
	cr_log_info("%s", r.out);
	cr_assert(WIFSIGNALED(r.status) == 0, "killed by signal %d: %s",
	    WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0, r.out);
	cr_assert(has(r.out, "max="), "%s %s", r.out, r.err);
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "max=", 4) != 0)
			cr_assert(has(line, " status=0") ||
				(*deny != '\0' && has(line, "status=")),
			    "%s", line);
	if ((m = slurp(marker)) != NULL)
		for (line = m; (line = strchr(line, '\n')) != NULL; line++)
			runs++;
	free(m);
	cr_assert_eq(runs, *deny == '\0' ? 14 : 0, "%zu programs ran", runs);
	result_free(&r);
}

Test(shim_preload, every_entry_point_on_a_64k_thread_stack)
{
	on_a_small_stack("");
}

Test(shim_preload, every_denial_on_a_64k_thread_stack)
{
	/* The refusal path writes its message: deny everything. */
	on_a_small_stack("ewkid");
}
