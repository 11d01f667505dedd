/*
 * Unit tests of broker/ew_sandbox*.c: policies, and what a command in each
 * mode can and cannot do, tried in a forked child that applies the
 * sandbox. Skipped where the kernel cannot enforce a mode (and that
 * failure itself is tested under a seccomp filter that hides Landlock).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "ew_sandbox.h"

static char ws[64], out[64], tmpd[64], why[512];

static void
setup(void)
{
	snprintf(ws, sizeof(ws), "/tmp/ew-sbx-ws-XXXXXX");
	cr_assert_not_null(mkdtemp(ws));
	snprintf(tmpd, sizeof(tmpd), "/tmp/ew-sbx-tmpdir-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpd));
	/* Outside every writable default: not under /tmp. */
	snprintf(out, sizeof(out), "/var/tmp/ew-sbx-out-XXXXXX");
	cr_assert_not_null(mkdtemp(out));
}

static void
teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s'", ws, out, tmpd);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(sandbox, .init = setup, .fini = teardown);

static void
need_landlock(void)
{
	if (ew_sandbox_check(EW_SANDBOX_WORKSPACE_WRITE, why, sizeof(why)) != 0)
		cr_skip_test("%s", why);
}

static struct ew_sandbox *
make(const struct ew_sandbox_policy *p, const char *cwd, char *const *env)
{
	struct ew_sandbox *sb = NULL;
	char err[512] = "";

	cr_assert_eq(ew_sandbox_new(p, cwd, env, NULL, &sb, err, sizeof(err)),
	    0, "%s", err);
	return sb;
}

/*
 * Run fn in a child under sb; returns what fn returned (an errno, 0 for
 * success). 200: the sandbox could not be applied.
 */
static int
in_sandbox(
    const struct ew_sandbox *sb, int (*fn)(const char *), const char *arg)
{
	pid_t pid;
	int st;

	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		if (ew_sandbox_apply(sb) != 0)
			_exit(200);
		_exit(fn(arg));
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "status %d", st);
	return WEXITSTATUS(st);
}

static int
create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int
read_file(const char *path)
{
	char c;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return errno;
	if (read(fd, &c, 1) < 0)
		return errno;
	close(fd);
	return 0;
}

static int
do_truncate(const char *path)
{
	return truncate(path, 0) == 0 ? 0 : errno;
}

static int
do_unlink(const char *path)
{
	return unlink(path) == 0 ? 0 : errno;
}

static int
do_mkdir(const char *path)
{
	return mkdir(path, 0700) == 0 ? 0 : errno;
}

static int
do_symlink(const char *path)
{
	return symlink("/etc/passwd", path) == 0 ? 0 : errno;
}

static int
write_devnull(const char *unused)
{
	return create("/dev/null");
}

static int
sock(const char *family)
{
	int fd = socket(atoi(family), SOCK_STREAM, 0);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int
pair(const char *unused)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return errno;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static int
uring(const char *unused)
{
	char params[120];

	memset(params, 0, sizeof(params));
	return syscall(425 /* io_uring_setup */, 1, params) >= 0 ? 0 : errno;
}

/* path = dir/name */
static const char *
at(const char *dir, const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

Test(sandbox, modes_parse_and_name)
{
	enum ew_sandbox_mode m = EW_SANDBOX_NONE;

	cr_assert_eq(ew_sandbox_mode_parse("read-only", &m), 0);
	cr_assert_eq(m, EW_SANDBOX_READ_ONLY);
	cr_assert_eq(ew_sandbox_mode_parse("workspace-write", &m), 0);
	cr_assert_eq(m, EW_SANDBOX_WORKSPACE_WRITE);
	cr_assert_eq(ew_sandbox_mode_parse("none", &m), 0);
	cr_assert_eq(m, EW_SANDBOX_NONE);
	cr_assert_eq(ew_sandbox_mode_parse("danger-full-access", &m), -EINVAL);
	cr_assert_eq(ew_sandbox_mode_parse(NULL, &m), -EINVAL);
	cr_assert_str_eq(
	    ew_sandbox_mode_name(EW_SANDBOX_READ_ONLY), "read-only");
	cr_assert_str_eq(ew_sandbox_mode_name(EW_SANDBOX_WORKSPACE_WRITE),
	    "workspace-write");
}

Test(sandbox, policies_copy_and_free)
{
	struct ew_sandbox_policy p, q;
	int i;

	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	cr_assert_eq(ew_sandbox_policy_add_root(&p, "relative"), -EINVAL);
	cr_assert_eq(ew_sandbox_policy_add_root(&p, "/a"), 0);
	cr_assert_eq(ew_sandbox_policy_set_workspace(&p, "/w"), 0);
	cr_assert_eq(ew_sandbox_policy_set_workspace(&p, "w"), -EINVAL);
	p.network = true;
	cr_assert_eq(ew_sandbox_policy_copy(&q, &p), 0);
	ew_sandbox_policy_fini(&p);
	cr_assert_eq(q.mode, EW_SANDBOX_WORKSPACE_WRITE);
	cr_assert_eq(q.nroots, 1);
	cr_assert_str_eq(q.roots[0], "/a");
	cr_assert_str_eq(q.workspace, "/w");
	cr_assert(q.network);
	for (i = 1; i < EW_SANDBOX_ROOTS_MAX; i++)
		cr_assert_eq(ew_sandbox_policy_add_root(&q, "/b"), 0);
	cr_assert_eq(ew_sandbox_policy_add_root(&q, "/c"), -E2BIG);
	ew_sandbox_policy_fini(&q);
	cr_assert_eq(q.mode, EW_SANDBOX_NONE);
	cr_assert_null(q.roots);
}

Test(sandbox, none_is_no_sandbox)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb = (void *)1;

	ew_sandbox_policy_init(&p, EW_SANDBOX_NONE);
	cr_assert_eq(
	    ew_sandbox_new(&p, ws, NULL, NULL, &sb, why, sizeof(why)), 0);
	cr_assert_null(sb);
	cr_assert_eq(ew_sandbox_apply(NULL), 0);
	cr_assert_str_eq(ew_sandbox_describe(NULL), "none");
	cr_assert_eq(ew_sandbox_check(EW_SANDBOX_NONE, why, sizeof(why)), 0);
}

Test(sandbox, workspace_write_confines_writes_to_the_workspace)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb;

	need_landlock();
	cr_assert_eq(create(at(out, "victim")), 0);
	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	sb = make(&p, ws, NULL);
	cr_assert_eq(in_sandbox(sb, create, at(ws, "f")), 0);
	cr_assert_eq(in_sandbox(sb, do_mkdir, at(ws, "d")), 0);
	cr_assert_eq(in_sandbox(sb, create, at(out, "f")), EACCES);
	cr_assert_eq(access(at(out, "f"), F_OK), -1);
	cr_assert_eq(in_sandbox(sb, do_mkdir, at(out, "d")), EACCES);
	cr_assert_eq(in_sandbox(sb, do_symlink, at(out, "l")), EACCES);
	cr_assert_eq(in_sandbox(sb, do_unlink, at(out, "victim")), EACCES);
	cr_assert_eq(in_sandbox(sb, do_truncate, at(out, "victim")), EACCES);
	cr_assert_eq(access(at(out, "victim"), F_OK), 0);
	/* Everything stays readable; /tmp and /dev/null writable. */
	cr_assert_eq(in_sandbox(sb, read_file, at(out, "victim")), 0);
	cr_assert_eq(in_sandbox(sb, read_file, "/etc/passwd"), 0);
	cr_assert_eq(in_sandbox(sb, create, at(tmpd, "t")), 0);
	cr_assert_eq(in_sandbox(sb, write_devnull, NULL), 0);
	cr_assert_not_null(
	    strstr(ew_sandbox_describe(sb), "workspace-write (writable: "));
	cr_assert_not_null(strstr(ew_sandbox_describe(sb), ws));
	cr_assert_not_null(strstr(ew_sandbox_describe(sb), "no network"));
	ew_sandbox_free(sb);
}

Test(sandbox, roots_workspace_and_tmp_exclusions)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb;
	char tmpdir_env[128], *env[] = { tmpdir_env, NULL };

	need_landlock();
	snprintf(tmpdir_env, sizeof(tmpdir_env), "TMPDIR=%s", out);
	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	/* $TMPDIR (out) is writable ... */
	sb = make(&p, ws, env);
	cr_assert_eq(in_sandbox(sb, create, at(out, "a")), 0);
	ew_sandbox_free(sb);
	/* ... unless excluded; and /tmp too. */
	p.no_tmpdir = true;
	p.no_slash_tmp = true;
	sb = make(&p, ws, env);
	cr_assert_eq(in_sandbox(sb, create, at(out, "b")), EACCES);
	cr_assert_eq(in_sandbox(sb, create, at(tmpd, "b")), EACCES);
	cr_assert_eq(in_sandbox(sb, create, at(ws, "b")), 0);
	ew_sandbox_free(sb);
	/* An extra root; a workspace other than the cwd. */
	cr_assert_eq(ew_sandbox_policy_add_root(&p, out), 0);
	cr_assert_eq(ew_sandbox_policy_add_root(&p, "/nonexistent/root"), 0);
	cr_assert_eq(ew_sandbox_policy_set_workspace(&p, tmpd), 0);
	sb = make(&p, ws, env);
	cr_assert_eq(in_sandbox(sb, create, at(out, "c")), 0);
	cr_assert_eq(in_sandbox(sb, create, at(tmpd, "c")), 0);
	cr_assert_eq(in_sandbox(sb, create, at(ws, "c")), EACCES);
	ew_sandbox_free(sb);
	ew_sandbox_policy_fini(&p);
}

Test(sandbox, read_only_confines_every_write)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb;

	need_landlock();
	ew_sandbox_policy_init(&p, EW_SANDBOX_READ_ONLY);
	sb = make(&p, ws, NULL);
	cr_assert_eq(in_sandbox(sb, create, at(ws, "f")), EACCES);
	cr_assert_eq(in_sandbox(sb, create, at(tmpd, "f")), EACCES);
	cr_assert_eq(in_sandbox(sb, write_devnull, NULL), 0);
	cr_assert_eq(in_sandbox(sb, read_file, "/etc/passwd"), 0);
	cr_assert_not_null(
	    strstr(ew_sandbox_describe(sb), "read-only (writable: nothing"));
	ew_sandbox_free(sb);
}

Test(sandbox, no_network_but_af_unix)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb;
	char inet[8], inet6[8], unx[8], packet[8];

	need_landlock();
	snprintf(inet, sizeof(inet), "%d", AF_INET);
	snprintf(inet6, sizeof(inet6), "%d", AF_INET6);
	snprintf(unx, sizeof(unx), "%d", AF_UNIX);
	snprintf(packet, sizeof(packet), "%d", AF_NETLINK);
	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	sb = make(&p, ws, NULL);
	cr_assert_eq(in_sandbox(sb, sock, inet), EACCES);
	cr_assert_eq(in_sandbox(sb, sock, inet6), EACCES);
	cr_assert_eq(in_sandbox(sb, sock, packet), EACCES);
	cr_assert_eq(in_sandbox(sb, sock, unx), 0);
	cr_assert_eq(in_sandbox(sb, pair, NULL), 0);
	cr_assert_eq(in_sandbox(sb, uring, NULL), EPERM);
	ew_sandbox_free(sb);
	/* With network access: sockets, but writes stay confined. */
	p.network = true;
	sb = make(&p, ws, NULL);
	cr_assert_eq(in_sandbox(sb, sock, inet), 0);
	cr_assert_eq(in_sandbox(sb, create, at(out, "f")), EACCES);
	cr_assert_not_null(strstr(ew_sandbox_describe(sb), "network on"));
	ew_sandbox_free(sb);
}

/* A pty's terminal side, opened before the sandbox (which cannot). */
static int pty_fd = -1;

static void
open_pty(void)
{
	char name[64];
	int m;

	cr_assert_geq(m = posix_openpt(O_RDWR | O_NOCTTY), 0);
	cr_assert_eq(grantpt(m), 0);
	cr_assert_eq(unlockpt(m), 0);
	cr_assert_eq(ptsname_r(m, name, sizeof(name)), 0);
	cr_assert_geq(pty_fd = open(name, O_RDWR | O_NOCTTY), 0);
}

/*
 * ioctl how (sti, sti-high: the request with bits above 32 set, which the
 * kernel ignores; linux) on the pty; an errno, or 0.
 */
static int
tty_ioctl(const char *how)
{
	char c = 'x';
	int t = pty_fd;
	long r;

	if (strcmp(how, "sti") == 0)
		r = syscall(SYS_ioctl, t, (unsigned long)TIOCSTI, &c);
	else if (strcmp(how, "sti-high") == 0)
		r = syscall(
		    SYS_ioctl, t, (unsigned long)TIOCSTI | (1UL << 32), &c);
	else
		r = syscall(SYS_ioctl, t, (unsigned long)TIOCLINUX, &c);
	return r == 0 ? 0 : errno;
}

Test(sandbox, no_typing_into_the_terminal)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb;
	int e;

	need_landlock();
	open_pty();
	/* Unconfined, the pty does not refuse with EPERM: the test can fail. */
	e = tty_ioctl("linux");
	cr_assert(e != EPERM, "TIOCLINUX outside: %d", e);
	ew_sandbox_policy_init(&p, EW_SANDBOX_READ_ONLY);
	sb = make(&p, ws, NULL);
	cr_assert_eq(in_sandbox(sb, tty_ioctl, "sti"), EPERM);
	cr_assert_eq(in_sandbox(sb, tty_ioctl, "sti-high"), EPERM);
	cr_assert_eq(in_sandbox(sb, tty_ioctl, "linux"), EPERM);
	ew_sandbox_free(sb);
	/* Network access lifts the socket rules, not these. */
	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	p.network = true;
	sb = make(&p, ws, NULL);
	cr_assert_eq(in_sandbox(sb, tty_ioctl, "sti"), EPERM);
	cr_assert_eq(in_sandbox(sb, tty_ioctl, "sti-high"), EPERM);
	cr_assert_eq(in_sandbox(sb, tty_ioctl, "linux"), EPERM);
	ew_sandbox_free(sb);
}

Test(sandbox, roots_are_known_by_identity)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb;
	const char *root;
	char link[128], sub[128];
	struct stat st;

	need_landlock();
	snprintf(sub, sizeof(sub), "%s/sub", ws);
	cr_assert_eq(mkdir(sub, 0700), 0);
	/* A second name for the workspace: the same folder, so inside. */
	snprintf(link, sizeof(link), "%s/ws-link", out);
	cr_assert_eq(symlink(ws, link), 0);
	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	p.no_slash_tmp = true;
	sb = make(&p, ws, NULL);
	cr_assert_eq(stat(ws, &st), 0);
	cr_assert_str_eq(ew_sandbox_root_match(sb, &st, true), ws);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_null(ew_sandbox_root_match(sb, &st, true));
	cr_assert_eq(ew_sandbox_contains(sb, sub, true, &root), 1);
	cr_assert_str_eq(root, ws);
	cr_assert_eq(ew_sandbox_contains(sb, at(link, "sub"), true, &root), 1);
	cr_assert_eq(ew_sandbox_contains(sb, out, true, &root), 0);
	cr_assert_null(root);
	cr_assert_eq(ew_sandbox_contains(sb, "/dev/null", true, &root), 1);
	cr_assert_eq(
	    ew_sandbox_contains(sb, "/nonexistent/x", true, &root), -ENOENT);
	ew_sandbox_free(sb);
	/* Read-only: the workspace is the agent's, though not writable. */
	ew_sandbox_policy_init(&p, EW_SANDBOX_READ_ONLY);
	sb = make(&p, ws, NULL);
	cr_assert_eq(ew_sandbox_contains(sb, sub, true, &root), 0);
	cr_assert_eq(ew_sandbox_contains(sb, sub, false, &root), 1);
	cr_assert_str_eq(root, ws);
	cr_assert_geq(ew_sandbox_ruleset_fd(sb), 0);
	ew_sandbox_free(sb);
}

static int
kill_outside(const char *pid)
{
	return kill(atoi(pid), SIGTERM) == 0 ? 0 : errno;
}

Test(sandbox, signals_stay_inside)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb;
	char arg[16];
	pid_t victim;
	int st;

	need_landlock();
	if (ew_sandbox_landlock_abi() < 6)
		cr_skip_test("Landlock ABI %d has no signal scoping",
		    ew_sandbox_landlock_abi());
	cr_assert_geq(victim = fork(), 0);
	if (victim == 0) {
		pause();
		_exit(0);
	}
	snprintf(arg, sizeof(arg), "%d", (int)victim);
	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	sb = make(&p, ws, NULL);
	cr_assert_eq(in_sandbox(sb, kill_outside, arg), EPERM);
	ew_sandbox_free(sb);
	kill(victim, SIGKILL);
	waitpid(victim, &st, 0);
}

Test(sandbox, a_missing_workspace_is_an_error)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox *sb = NULL;

	need_landlock();
	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	cr_assert_eq(ew_sandbox_new(&p, "/nonexistent/ws", NULL, NULL, &sb, why,
			 sizeof(why)),
	    -ENOENT);
	cr_assert_null(sb);
	cr_assert_str_eq(
	    why, "sandbox: open /nonexistent/ws: No such file or directory");
}

/* In a child with landlock_create_ruleset failing with err: the check. */
static void
hide_landlock(int err, const char *expect)
{
	scmp_filter_ctx ctx;
	pid_t pid;
	int st;

	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		struct ew_sandbox_policy p;
		struct ew_sandbox *sb = NULL;
		char msg[512];

		ctx = seccomp_init(SCMP_ACT_ALLOW);
		if (ctx == NULL ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err),
			SCMP_SYS(landlock_create_ruleset), 0) != 0 ||
		    seccomp_load(ctx) != 0)
			_exit(3);
		ew_sandbox_policy_init(&p, EW_SANDBOX_READ_ONLY);
		if (ew_sandbox_check(EW_SANDBOX_READ_ONLY, msg, sizeof(msg)) !=
			-EOPNOTSUPP ||
		    strstr(msg, expect) == NULL)
			_exit(4);
		/* Nothing is prepared: the command must not run at all. */
		if (ew_sandbox_new(&p, ws, NULL, NULL, &sb, msg, sizeof(msg)) !=
			-EOPNOTSUPP ||
		    sb != NULL || strstr(msg, expect) == NULL)
			_exit(5);
		if (ew_sandbox_check(EW_SANDBOX_NONE, msg, sizeof(msg)) != 0)
			_exit(6);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}

Test(sandbox, a_kernel_that_cannot_enforce_fails_clearly)
{
	hide_landlock(ENOSYS, "this kernel has no Landlock");
	hide_landlock(EOPNOTSUPP, "Landlock is not enabled");
}
