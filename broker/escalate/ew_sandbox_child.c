/*
 * ASYNC-SIGNAL-SAFE: runs in a forked child between fork and exec.
 * System calls only; no allocation, no stdio, no locks.
 *
 * Applying a prepared sandbox. The order matters: no_new_privs first
 * (Landlock and an unprivileged seccomp filter both require it, and it
 * keeps a set-user-ID program from shedding the sandbox's limits), then
 * the Landlock domain, then the filter, so that the filter cannot get in
 * the way of the landlock_restrict_self call.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_sandbox_int.h"

int
ew_sandbox_apply(const struct ew_sandbox *sb)
{
	if (sb == NULL)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	if (syscall(__NR_landlock_restrict_self, sb->ruleset, 0) != 0)
		return -errno;
	if (sb->prog.len > 0 &&
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sb->prog, 0, 0) != 0)
		return -errno;
	return 0;
}
