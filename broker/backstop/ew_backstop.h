/* The kernel backstop: the starts the shim never sees, put to the broker. */
#ifndef EW_BACKSTOP_H
#define EW_BACKSTOP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * DESIGN.
 *
 * The shim sees only what starts through the dynamic libc's functions. A
 * static binary (busybox, most release binaries), Go's os/exec (raw clone
 * and execve system calls, in every Go program), syscall(SYS_execve), a
 * raw execveat, ctypes.CDLL("libc.so.6").execve and a dlmopen'd second
 * libc start programs past it. The backstop puts those to the broker too:
 * a seccomp filter on execve and execveat that answers
 * SECCOMP_RET_USER_NOTIF, installed in the command tree before its first
 * program starts (the broker's spawn child, ew_spawn_child, for `execward
 * run`, `execward mcp` and escalated programs; `execward launch` for the
 * daemon's trees). The listener fd comes back to the broker (SCM_RIGHTS)
 * and lives on its event loop. For each trapped call the broker reads the
 * path and argv from the caller's memory (process_vm_readv), checks with
 * SECCOMP_IOCTL_NOTIF_ID_VALID that the call is still waiting (so that
 * what it read was that task's, not a recycled pid's), resolves the
 * program as the kernel will (the caller's /proc/PID/root, cwd, or
 * execveat's dirfd), and decides with the same policy, prompts and audit
 * log as for the shim's questions: deny answers EACCES, allow lets the
 * call continue (SECCOMP_USER_NOTIF_FLAG_CONTINUE), prompt asks. Its
 * records say "via":"kernel:execve" or "kernel:execveat". A call the
 * kernel would refuse anyway (no such file, a folder, no execute
 * permission, a format it cannot run) is answered with the kernel's errno
 * and not recorded, as the shim does not ask about such programs.
 *
 * Nothing is decided twice. A start the shim asked about carries an envp
 * array in the session's envp range, and the filter lets such a call pass
 * in the kernel, without a notification (proto/ew_range.h): the default
 * configuration costs a filter check per exec and, at a process's first
 * start, the range's mapping and one page of it; no round trip. A start
 * the shim asked about whose environment could not be put there (the
 * range could not be mapped, no slot was free, more than 2046 variables)
 * is trapped, and matched to the shim's question (ew_backstop_match.c):
 * while the shim's connection stays open after its ALLOW (its client is
 * ANSWERED; the exec closes it), a trapped call of the same process,
 * the same program (device and inode) and the same argv passes once,
 * unrecorded (from the asker, or posix_spawn's child sharing its
 * memory). The limit: the range's address is no secret and its memory
 * is the process's own, so any
 * process of the tree can copy its envp into it and pass a raw execve
 * unasked (proto/ew_range.h); everything that does not try to pass for
 * the shim is trapped.
 *
 * What it promises. A deny is reliable: the call fails and nothing ran.
 * An allow cannot bind what then runs: between the broker's reading and
 * the kernel's own, another thread of the caller (or a process sharing
 * its memory) can rewrite the path or argv, as seccomp_unotify(2) warns;
 * the record is then of what the broker read. The envp range and the
 * match have the same limit. Inside a sandbox the kernel's
 * confinement (Landlock, seccomp, no new privileges) stays the wall: a
 * trapped call that a rule would let out of the sandbox cannot be
 * escalated (only the shim can run the helper in its place), so it runs
 * in place, confined, with "escalation" saying why; from an escalated
 * program's tree, outside, a rule's allow runs in place after the same
 * checks as the shim's questions, and anything else is denied, since
 * only the shim can confine it.
 *
 * Costs and limits. An unprivileged process installs a filter only under
 * no_new_privs, so the tree runs set-user-ID and file-capability programs
 * without their privileges (sudo in the tree fails): `--backstop off`
 * for a tree that needs them. The kernel allows one listener per filter
 * chain (a second SECCOMP_FILTER_FLAG_NEW_LISTENER fails with EBUSY): an
 * `execward run` inside another session with a backstop, or under any
 * other seccomp listener, has none of its own and says so, while the
 * outer backstop still covers the inner tree (the inner broker's own
 * starts put their envp into the outer session's range, since it has
 * asked the outer broker about them already, ew_chain.c). When the
 * broker dies, its listener closes, and the kernel fails every waiting
 * and later trapped call with ENOSYS at once: nothing hangs, nothing
 * runs unasked.
 *
 * Return convention: 0 on success, -errno on failure.
 */

/* What a session's trees get. */
enum ew_backstop_state {
	EW_BACKSTOP_ON, /* our filter in every tree */
	EW_BACKSTOP_OFF, /* turned off (--backstop off) */
	/* another listener watches us (an outer session's backstop) */
	EW_BACKSTOP_OUTER,
	EW_BACKSTOP_UNAVAILABLE, /* the kernel (or valgrind) cannot */
	/* the daemon's: filters come from `execward launch` */
	EW_BACKSTOP_HANDOVER,
};

struct ew_backstop;
struct ew_broker;
struct ew_broker_backstop;

/*
 * The backstop of br's sessions: on unless on is false, when the kernel
 * can. Whether it can is tried once, in a forked child; a kernel that
 * cannot, or another listener already watching us, leaves the state
 * UNAVAILABLE or OUTER with why (ew_backstop_why), never an error. In
 * OUTER, an EXECWARD_RANGE in our environment is the outer session's
 * range, which our own starts then use. *out: ew_backstop_free.
 */
int ew_backstop_new(struct ew_broker *br, bool on, struct ew_backstop **out);

/*
 * The daemon's: no filter of its own, only the listeners that `execward
 * launch` hands over on the daemon's socket (ew_backstop_on_handover).
 */
int ew_backstop_new_handover(struct ew_broker *br, struct ew_backstop **out);

/*
 * Close every listener (the kernel then fails what they trapped with
 * ENOSYS) and free. NULL is a no-op.
 */
void ew_backstop_free(struct ew_backstop *b);

enum ew_backstop_state ew_backstop_state(const struct ew_backstop *b);

/* Why it is not on, for people; NULL when on. Borrowed. */
const char *ew_backstop_why(const struct ew_backstop *b);

/*
 * What core and escalate reach b through (struct ew_broker_backstop in
 * core/ew_broker.h: the records' label, the envp range's variable, the
 * spawn hook that installs the filter in a tree, `execward launch`'s
 * hand-over, a session's end): for br->backstop. Borrowed from b.
 */
const struct ew_broker_backstop *ew_backstop_ops(struct ew_backstop *b);

/*
 * `execward launch` (the daemon's trees): install the filter on itself,
 * hand its listener to the broker on --socket, exec COMMAND. An exit
 * status.
 */
int ew_cmd_launch(int argc, char **argv);

#endif /* EW_BACKSTOP_H */
