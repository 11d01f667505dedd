/* Unit tests of the sandbox's read-only carve-outs (ew_sandbox_mount*). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_sandbox.h"
#include "ew_sandbox_int.h"
#include "ew_sandbox_mount.h"

/* A private folder tree for one test: d/ws with .git and .codex. */
static char top[PATH_MAX], ws[PATH_MAX + 8];

static void
mk(const char *rel, bool dir)
{
	char p[PATH_MAX * 2];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (dir) {
		cr_assert_eq(
		    mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
		return;
	}
	cr_assert((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	cr_assert_eq(write(fd, "orig\n", 5), 5);
	close(fd);
}

static void
setup(void)
{
	char tmpl[] = "/tmp/ew-mount-XXXXXX", *real;

	cr_assert_not_null(mkdtemp(tmpl));
	cr_assert_not_null(real = realpath(tmpl, NULL));
	snprintf(top, sizeof(top), "%s", real);
	free(real);
	snprintf(ws, sizeof(ws), "%s/ws", top);
	mk("ws", true);
	mk("ws/.git", true);
	mk("ws/.git/config", false);
	mk("ws/.codex", true);
}

static void
teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	(void)system(cmd);
}

/* A workspace-write policy of ws (only), with carve-outs. */
static void
policy(struct ew_sandbox_policy *p)
{
	char path[PATH_MAX * 2];

	ew_sandbox_policy_init(p, EW_SANDBOX_WORKSPACE_WRITE);
	p->no_workspace = p->no_slash_tmp = p->no_tmpdir = true;
	cr_assert_eq(ew_sandbox_policy_add_root(p, ws), 0);
	snprintf(path, sizeof(path), "%s/.git", ws);
	cr_assert_eq(ew_sandbox_policy_add_readonly(p, path, true), 0);
	snprintf(path, sizeof(path), "%s/.codex", ws);
	cr_assert_eq(ew_sandbox_policy_add_readonly(p, path, true), 0);
	snprintf(path, sizeof(path), "%s/.agents", ws);
	cr_assert_eq(ew_sandbox_policy_add_readonly(p, path, true), 0);
}

TestSuite(sandbox_mount, .init = setup, .fini = teardown);

Test(sandbox_mount, plan)
{
	struct ew_sandbox_policy p, q;
	struct ew_sandbox_mount *m = NULL;
	char err[512], want[PATH_MAX * 3];

	policy(&p);
	/* A read-only path outside everything writable needs no mount. */
	cr_assert_eq(
	    ew_sandbox_policy_add_readonly(&p, "/etc/passwd", false), 0);
	cr_assert_eq(ew_sandbox_mount_new(&p, "/", NULL, &m, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_not_null(m);
	/* The missing .agents is skipped; /tmp is not writable here, so
	 * nothing above ws is pinned: the two carve-outs only. */
	cr_assert_eq(m->n, 2);
	snprintf(want, sizeof(want), "%s/.git, %s/.codex", ws, ws);
	cr_assert_str_eq(m->list, want);
	cr_assert(m->ents[0].readonly && m->ents[1].readonly);
	ew_sandbox_mount_free(m);
	/* With /tmp writable, the folders between it and .git are pinned. */
	p.no_slash_tmp = false;
	cr_assert_eq(ew_sandbox_mount_new(&p, "/", NULL, &m, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(m->n, 4);
	cr_assert_str_eq(m->ents[0].path, top);
	cr_assert(!m->ents[0].readonly);
	cr_assert_str_eq(m->ents[1].path, ws);
	cr_assert(!m->ents[1].readonly);
	ew_sandbox_mount_free(m);
	/* Copies keep the carve-outs. */
	cr_assert_eq(ew_sandbox_policy_copy(&q, &p), 0);
	cr_assert_eq(q.nreadonly, 4);
	cr_assert(q.no_workspace);
	ew_sandbox_policy_fini(&q);
	/* Read-only mode: nothing is writable, nothing to mount. */
	p.mode = EW_SANDBOX_READ_ONLY;
	cr_assert_eq(
	    ew_sandbox_mount_new(&p, "/", NULL, &m, err, sizeof(err)), 0);
	cr_assert_null(m);
	ew_sandbox_policy_fini(&p);
}

Test(sandbox_mount, refused)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox_mount *m = NULL;
	char err[512], path[PATH_MAX * 2], link[PATH_MAX * 2];

	/* A carve-out that is a symbolic link: the command could point it
	 * elsewhere. */
	policy(&p);
	snprintf(path, sizeof(path), "%s/.codex", ws);
	cr_assert_eq(rmdir(path), 0);
	snprintf(link, sizeof(link), "%s/.git", ws);
	cr_assert_eq(symlink(link, path), 0);
	cr_assert_eq(
	    ew_sandbox_mount_new(&p, "/", NULL, &m, err, sizeof(err)), -ELOOP);
	cr_assert_null(m);
	cr_assert(strstr(err, "symbolic link") != NULL, "%s", err);
	ew_sandbox_policy_fini(&p);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0755), 0);
	/* A missing one without "skip". */
	policy(&p);
	snprintf(path, sizeof(path), "%s/.secret", ws);
	cr_assert_eq(ew_sandbox_policy_add_readonly(&p, path, false), 0);
	cr_assert_eq(
	    ew_sandbox_mount_new(&p, "/", NULL, &m, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, ".secret") != NULL, "%s", err);
	ew_sandbox_policy_fini(&p);
}

Test(sandbox_mount, worktree_gitdir)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox_mount *m = NULL;
	char err[512], path[PATH_MAX * 3];
	int fd;

	ew_sandbox_policy_init(&p, EW_SANDBOX_WORKSPACE_WRITE);
	p.no_workspace = p.no_slash_tmp = p.no_tmpdir = true;
	cr_assert_eq(ew_sandbox_policy_add_root(&p, ws), 0);
	mk("ws/wt", true);
	mk("ws/.git/worktrees", true);
	mk("ws/.git/worktrees/wt", true);
	snprintf(path, sizeof(path), "%s/wt/.git", ws);
	cr_assert((fd = open(path, O_WRONLY | O_CREAT, 0644)) >= 0);
	dprintf(fd, "gitdir: ../.git/worktrees/wt\n");
	close(fd);
	cr_assert_eq(ew_sandbox_policy_add_readonly(&p, path, false), 0);
	cr_assert_eq(ew_sandbox_mount_new(&p, "/", NULL, &m, err, sizeof(err)),
	    0, "%s", err);
	snprintf(
	    path, sizeof(path), "%s/wt/.git, %s/.git/worktrees/wt", ws, ws);
	cr_assert_str_eq(m->list, path);
	ew_sandbox_mount_free(m);
	ew_sandbox_policy_fini(&p);
}

/* In a child: the carve-outs, then a write into .git and one beside it. */
Test(sandbox_mount, child_applies)
{
	struct ew_sandbox_policy p;
	struct ew_sandbox_mount *m = NULL;
	char err[512], path[PATH_MAX * 2];
	int st, fd, r;
	pid_t pid;

	policy(&p);
	cr_assert_eq(ew_sandbox_mount_new(&p, "/", NULL, &m, err, sizeof(err)),
	    0, "%s", err);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if ((r = ew_sandbox_mount_child(m)) != 0)
			_exit(10);
		snprintf(path, sizeof(path), "%s/.git/config", ws);
		fd = open(path, O_WRONLY | O_APPEND);
		if (fd >= 0 || errno != EROFS) {
			/* The kernel refused the namespace: it said so. */
			_exit(read(m->note_rd, &r, 1) > 0 ? 77 : 11);
		}
		snprintf(path, sizeof(path), "%s/beside", ws);
		if ((fd = open(path, O_WRONLY | O_CREAT, 0644)) < 0)
			_exit(12);
		/* setns is refused now. */
		if (setns(0, 0) == 0 || errno != EPERM)
			_exit(13);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	ew_sandbox_mount_free(m);
	ew_sandbox_policy_fini(&p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		cr_skip_test("no mount namespace here (reported, as it must)");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	snprintf(path, sizeof(path), "%s/beside", ws);
	cr_assert_eq(access(path, F_OK), 0);
}
