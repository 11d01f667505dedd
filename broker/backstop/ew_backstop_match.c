/*
 * A trapped start that the shim asked about: its environment could not be
 * put in the envp range (the range could not be mapped in that process,
 * no slot was free, the environment was too large, or glibc's system()
 * ran the shell with environ), so the kernel sent it here as well.
 *
 * After an ALLOW the shim keeps its connection open through the real call
 * (its client is ANSWERED, core/ew_broker_loop.c): the exec closes it
 * (close-on-exec) only once it has worked, so while the kernel holds the
 * start here, the question is still answered and open. It is the same start
 * when it comes from the process that asked (the kernel's thread group id
 * against SO_PEERCRED's pid) or from a task sharing its memory (posix_spawn's
 * child, which glibc clones with CLONE_VM: kcmp(KCMP_VM)), runs the same file
 * (device and inode, as both were resolved; or the same path when either could
 * not be) with the same argv. Each question matches once. A process can do no
 * more with this than what it was allowed: start that program with those
 * arguments once.
 */
#include <linux/kcmp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_backstop_int.h"
#include "ew_broker.h"

static bool
same_program(const struct ew_client *c, const struct ew_backstop_trap *t)
{
	if (c->exe.err == 0 && t->exe.err == 0)
		return c->exe.dev == t->exe.dev && c->exe.ino == t->exe.ino;
	return strcmp(c->ask->resolved, t->resolved) == 0;
}

static bool
same_argv(const struct ew_msg_ask *a, const struct ew_backstop_trap *t)
{
	size_t i;

	if (a->argc != t->argc)
		return false;
	for (i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], t->argv[i]) != 0)
			return false;
	return true;
}

/* Is t's task the asker of c, or a task sharing the asker's memory? */
static bool
same_caller(const struct ew_client *c, const struct ew_backstop_trap *t)
{
	return c->peer_pid == t->tgid ||
	    (t->ppid == c->peer_pid &&
		syscall(SYS_kcmp, (long)t->tid, (long)c->peer_pid,
		    (long)KCMP_VM, 0L, 0L) == 0);
}

/* Connections taken to look for a TOLD before a trap is decided. */
#define EW_BACKSTOP_TOLD_ACCEPT 64

static bool
match_answered(struct ew_session *s, const struct ew_backstop_trap *t)
{
	struct ew_client *c;

	for (c = s->clients; c != NULL; c = c->next) {
		if (c->role != EW_CLIENT_SHIM ||
		    c->state != EW_CLIENT_ANSWERED || c->backstop_seen ||
		    c->ask == NULL || !same_program(c, t) ||
		    !same_argv(c->ask, t) || !same_caller(c, t))
			continue;
		c->backstop_seen = true;
		return true;
	}
	return false;
}

bool
ew_backstop_match(struct ew_session *s, const struct ew_backstop_trap *t)
{
	if (match_answered(s, t))
		return true;
	/*
	 * A start the shim told about (the policy snapshot; it did not
	 * wait) sent its TOLD before this exec, and it may still be queued:
	 * take and read what is there, then look again.
	 */
	if (s->lfd >= 0)
		ew_broker_accept(s, false, EW_BACKSTOP_TOLD_ACCEPT);
	ew_broker_read_pending(s);
	return match_answered(s, t);
}
