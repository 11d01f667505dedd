/* The kernel backstop's internals, shared by broker/backstop/ only. */
#ifndef EW_BACKSTOP_INT_H
#define EW_BACKSTOP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "ew_backstop.h"
#include "ew_broker.h"
#include "ew_escalate.h"
#include "ew_proto.h"
#include "ew_range.h"
#include "ew_spawn.h"

/* The filter's instructions at most (ew_backstop_filter builds ~25). */
#define EW_BACKSTOP_PROG_MAX 48
/* seccomp(2) flags (Linux 6.0 and 5.0); older headers lack them. */
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
/* "EXECWARD_RANGE=" and the value. */
#define EW_BACKSTOP_ENV_MAX (sizeof(EW_RANGE_ENV) + EW_RANGE_TEXT_MAX)

struct ew_backstop_listener;
struct ew_backstop_call;

struct ew_backstop {
	struct ew_broker *br;
	enum ew_backstop_state state;
	char why[512]; /* when not ON */
	char label[600]; /* the audit records' "backstop" */
	uintptr_t range; /* ON: ours; OUTER: the outer session's; 0: none */
	char env[EW_BACKSTOP_ENV_MAX]; /* ON: "EXECWARD_RANGE=0x..." */
	struct sock_filter insns[EW_BACKSTOP_PROG_MAX];
	struct sock_fprog prog; /* ON: the filter the spawn child installs */
	unsigned long flags; /* the seccomp(2) flags this kernel takes */
	bool quiet; /* EXECWARD_QUIET: no line on stderr for a denial */
	struct ew_backstop_listener *listeners;
	struct ew_backstop_call *calls; /* being decided */
	/* Notification buffers at the kernel's sizes (libseccomp's). */
	struct seccomp_notif *req;
	size_t req_size;
	struct seccomp_notif_resp *resp;
	size_t resp_size;
	/* What core and escalate call (ew_backstop_ops), arg: this. */
	struct ew_broker_backstop ops;
	struct ew_spawn_hook hook;
};

/* One command tree's filter: its listener fd on the loop. */
struct ew_backstop_listener {
	struct ew_backstop *b;
	struct ew_session *sess;
	bool outside; /* the tree of an escalated program, outside */
	int fd;
	ev_io io;
	/* A notification taken while its spawn was starting, for the loop. */
	struct seccomp_notif *queued;
	struct ew_backstop_listener *prev, *next;
};

/* A trapped call being decided (the client's data). */
struct ew_backstop_call {
	struct ew_backstop_listener *l;
	uint64_t id;
	pid_t tid;
	struct ew_backstop_call *prev, *next;
};

/* A trapped call, as read from the caller and resolved. */
struct ew_backstop_trap {
	pid_t tid; /* the calling task, in our pid namespace */
	pid_t tgid, ppid;
	uid_t uid;
	bool at; /* execveat */
	int dirfd, flags; /* execveat's */
	char path[EW_PROTO_PATH_MAX]; /* as given to the kernel */
	char **argv; /* argc entries, then NULL; one allocation */
	size_t argc;
	char cwd[EW_PROTO_PATH_MAX]; /* "" when unknown */
	char resolved[EW_PROTO_PATH_MAX]; /* absolute, lexically clean */
	bool same_root; /* the caller sees our root */
	struct ew_escalate_exe exe; /* the file the kernel will find */
};

/* ---- ew_backstop.c ------------------------------------------------------ */

/*
 * Keep a listener for s (outside: an escalated tree). Takes fd (closed on
 * failure). The listener is not yet on the loop: ew_backstop_listen.
 */
struct ew_backstop_listener *ew_backstop_listener_add(
    struct ew_backstop *b, struct ew_session *s, bool outside, int fd);

/* Watch l on the loop (and decide what it queued). */
void ew_backstop_listen(struct ew_backstop_listener *l);

/* Stop watching l, close it, free. */
void ew_backstop_listener_close(struct ew_backstop_listener *l);

/*
 * Answer notification id on l: continue it (err 0) or fail it with -err.
 * A call that is gone (killed, or its pid reused) is not an error.
 */
void ew_backstop_respond(struct ew_backstop_listener *l, uint64_t id, int err);

/* Build the filter for range lo into b->insns and b->prog. 0 or -errno. */
int ew_backstop_filter(struct ew_backstop *b, uintptr_t lo);

/*
 * A range at random, free in this process, within one 4 GiB block. 0 or
 * -errno.
 */
int ew_backstop_pick_range(uintptr_t *lo);

/*
 * Install b's filter on the calling thread with a listener, under no new
 * privileges: the listener fd (CLOEXEC), or -errno (-EBUSY: another
 * listener watches us). b->flags gets the flags that worked.
 */
int ew_backstop_install(struct ew_backstop *b);

/* ---- ew_backstop_read.c ------------------------------------------------- */

/*
 * Read notification n's call from its task into t (argv allocated: free
 * with ew_backstop_trap_fini). 0, or the -errno the call is to fail with:
 * -EFAULT (a pointer the kernel would not follow either), -E2BIG,
 * -ENAMETOOLONG, -EACCES (the task's memory cannot be read), -ENOSYS (not
 * an execve or execveat).
 */
int ew_backstop_read(const struct seccomp_notif *n, struct ew_backstop_trap *t);

/*
 * The caller's identity and place (/proc/TID), then the program as the
 * kernel will find it, into t. 0, or the -errno the kernel would fail the
 * call with, when it surely would (the file missing, a folder, not
 * executable, a format it cannot run): the call is then not asked about.
 */
int ew_backstop_resolve(struct ew_backstop_trap *t);

void ew_backstop_trap_fini(struct ew_backstop_trap *t);

/* ---- ew_backstop_decide.c ----------------------------------------------- */

/* Decide one notification taken from l (a copy in n). */
void ew_backstop_handle(
    struct ew_backstop_listener *l, const struct seccomp_notif *n);

/* Forget every call being decided on l (it is closing). */
void ew_backstop_calls_drop(
    struct ew_backstop *b, const struct ew_backstop_listener *l);

/* ---- the hooks (ew_backstop.c, ew_backstop_spawn.c, ew_backstop_child.c,
 * ew_backstop_launch.c) ---------------------------------------------------- */

/* The records' "backstop" of a session without one of its own; NULL: on. */
const char *ew_backstop_label(const void *arg);

/* "EXECWARD_RANGE=0x..." for a tree, or NULL: keep the environment's. */
const char *ew_backstop_env(const void *arg);

/* Append ew_backstop_env's entry (a copy) to env. 0 or -ENOMEM. */
int ew_backstop_env_add(const void *arg, char ***env);

/* s is closing: close its listeners and forget what they trapped. */
void ew_backstop_session_closed(void *arg, struct ew_session *s);

/*
 * Before fork: sv, the way back for the tree's listener, when the filter
 * is ours to install. 0, or -errno with why in err.
 */
int ew_backstop_spawn_open(
    const struct ew_spawn *s, int sv[2], char *err, size_t errlen);

/*
 * In the child, after the sandbox: install the filter and send its
 * listener on sock, then point *envpp at a copy of *envpp in the envp
 * range (ours, or the outer session's) when there is one. Async-signal-
 * safe. 0 or -errno.
 */
int ew_backstop_child(const struct ew_spawn *s, int sock, char *const **envpp);

/*
 * After fork, before reading the spawn's report on pipefd: take the
 * child's listener for s->hook_sess, and until pipefd is readable let the
 * child's own exec through (it was decided: this is the broker starting
 * it), in case it was trapped. Then the listener joins the event loop.
 */
void ew_backstop_spawn_wait(
    const struct ew_spawn *s, int sv[2], pid_t pid, int pipefd);

/*
 * A BACKSTOP message on c (`execward launch` in a tree of c->peer_uid):
 * keep its listener (fds[0]) for c's session and answer. Takes the fds.
 * The state c enters (CLOSED: it has had its answer).
 */
enum ew_client_state
ew_backstop_on_handover(void *arg, struct ew_client *c, int *fds, size_t nfds);

/* ---- ew_backstop_match.c ------------------------------------------------ */

/*
 * Is t a start the shim of s asked about and was answered ALLOW for,
 * whose environment is not in the envp range? Marks that question as
 * seen, so that it matches once.
 */
bool ew_backstop_match(struct ew_session *s, const struct ew_backstop_trap *t);

#endif /* EW_BACKSTOP_INT_H */
