/*
 * The kernel backstop of a broker (ew_backstop.h, "DESIGN"): whether this
 * kernel takes it, its filter and envp range, and the listeners of the
 * command trees it watches on the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>

#ifdef EW_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "ew_backstop_int.h"
#include "ew_broker.h"
#include "ew_env.h"
#include "ew_fd.h"
#include "ew_log.h"

/* Notifications taken per wake-up of one listener (then the loop goes on). */
#define EW_BACKSTOP_BATCH 64
/* Ranges tried before giving up on one that our own process leaves free. */
#define EW_BACKSTOP_RANGE_TRIES 32

/*
 * The system calls the filter traps, by architecture: the native ones
 * (envp is their third and fourth argument), and the compat ones, whose
 * envp, a 32-bit pointer, can never lie in a range above 4 GiB.
 */
#if defined(__x86_64__)
#define EW_BACKSTOP_ARCH AUDIT_ARCH_X86_64
#define EW_BACKSTOP_NR_EXECVE 59
#define EW_BACKSTOP_NR_EXECVEAT 322
/* x32 shares the audit arch and marks its numbers with this bit. */
#define EW_BACKSTOP_X32_BIT 0x40000000u
#define EW_BACKSTOP_X32_EXECVE (EW_BACKSTOP_X32_BIT | 520u)
#define EW_BACKSTOP_X32_EXECVEAT (EW_BACKSTOP_X32_BIT | 545u)
#define EW_BACKSTOP_COMPAT_ARCH AUDIT_ARCH_I386
#define EW_BACKSTOP_COMPAT_EXECVE 11
#define EW_BACKSTOP_COMPAT_EXECVEAT 358
#endif

/* seccomp_data's fields, and one half of a 64-bit argument. */
#define EW_BACKSTOP_OFF_NR offsetof(struct seccomp_data, nr)
#define EW_BACKSTOP_OFF_ARCH offsetof(struct seccomp_data, arch)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define EW_BACKSTOP_OFF_ARG_LO(i) \
	(offsetof(struct seccomp_data, args) + 8 * (i))
#define EW_BACKSTOP_OFF_ARG_HI(i) \
	(offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#else
#define EW_BACKSTOP_OFF_ARG_LO(i) \
	(offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#define EW_BACKSTOP_OFF_ARG_HI(i) \
	(offsetof(struct seccomp_data, args) + 8 * (i))
#endif

/* ---- the filter --------------------------------------------------------- */

/* Jump targets of the filter, resolved when it is assembled. */
enum {
	L_NEXT = 0, /* the next instruction */
	L_ALLOW,
	L_NOTIFY,
	L_EXECVE, /* the envp check of execve (argument 2) */
	L_EXECVEAT, /* of execveat (argument 3) */
	L_X32,
	L_COMPAT,
	L_COUNT
};

struct asm_insn {
	uint16_t code;
	int jt, jf; /* labels */
	uint32_t k;
	int label; /* this instruction starts the label, or L_NEXT */
};

/* Assemble insns[0..n) into b->insns with the labels' offsets. */
static int
assemble(struct ew_backstop *b, const struct asm_insn *in, size_t n)
{
	int at[L_COUNT];
	size_t i, l;

	if (n > EW_BACKSTOP_PROG_MAX)
		return -E2BIG;
	for (l = 0; l < L_COUNT; l++)
		at[l] = -1;
	for (i = 0; i < n; i++)
		if (in[i].label != L_NEXT)
			at[in[i].label] = (int)i;
	for (i = 0; i < n; i++) {
		int tt = in[i].jt == L_NEXT ? (int)i + 1 : at[in[i].jt];
		int tf = in[i].jf == L_NEXT ? (int)i + 1 : at[in[i].jf];

		b->insns[i].code = in[i].code;
		b->insns[i].k = in[i].k;
		b->insns[i].jt = b->insns[i].jf = 0;
		if (BPF_CLASS(in[i].code) != BPF_JMP)
			continue;
		if (tt <= (int)i || tf <= (int)i || tt - (int)i - 1 > 255 ||
		    tf - (int)i - 1 > 255)
			return -EINVAL;
		b->insns[i].jt = (uint8_t)(tt - (int)i - 1);
		b->insns[i].jf = (uint8_t)(tf - (int)i - 1);
	}
	b->prog.len = (unsigned short)n;
	b->prog.filter = b->insns;
	return 0;
}

/* One instruction; lb: the label it starts (L_NEXT: none). */
#define LD(lb, off)                                                   \
	{                                                             \
		BPF_LD | BPF_W | BPF_ABS, L_NEXT, L_NEXT, (off), (lb) \
	}
#define JEQ(lb, k, t, f)                                       \
	{                                                      \
		BPF_JMP | BPF_JEQ | BPF_K, (t), (f), (k), (lb) \
	}
#define JGE(lb, k, t, f)                                       \
	{                                                      \
		BPF_JMP | BPF_JGE | BPF_K, (t), (f), (k), (lb) \
	}
#define RET(lb, k)                                         \
	{                                                  \
		BPF_RET | BPF_K, L_NEXT, L_NEXT, (k), (lb) \
	}

int
ew_backstop_filter(struct ew_backstop *b, uintptr_t lo)
{
#ifdef EW_BACKSTOP_ARCH
	uint32_t hi32 = (uint32_t)((uint64_t)lo >> 32);
	uint32_t lo32 = (uint32_t)lo;
	uint32_t end32 = lo32 + (uint32_t)EW_RANGE_SIZE;
	/*
	 * envp in the range: its high half is the range's, and its low half
	 * at or above the range's start and below its end (the range lies
	 * in one 4 GiB block, ew_range.h). Anything else is sent to the
	 * broker; every other system call is allowed (which the kernel
	 * caches per system call number, so they cost nothing).
	 */
	const struct asm_insn prog[] = {
		LD(L_NEXT, EW_BACKSTOP_OFF_ARCH),
		JEQ(L_NEXT, EW_BACKSTOP_ARCH, L_NEXT, L_COMPAT),
		LD(L_NEXT, EW_BACKSTOP_OFF_NR),
		JGE(L_NEXT, EW_BACKSTOP_X32_BIT, L_X32, L_NEXT),
		JEQ(L_NEXT, EW_BACKSTOP_NR_EXECVE, L_EXECVE, L_NEXT),
		JEQ(L_NEXT, EW_BACKSTOP_NR_EXECVEAT, L_EXECVEAT, L_ALLOW),
		LD(L_EXECVE, EW_BACKSTOP_OFF_ARG_HI(2)),
		JEQ(L_NEXT, hi32, L_NEXT, L_NOTIFY),
		LD(L_NEXT, EW_BACKSTOP_OFF_ARG_LO(2)),
		JGE(L_NEXT, lo32, L_NEXT, L_NOTIFY),
		JGE(L_NEXT, end32, L_NOTIFY, L_ALLOW),
		LD(L_EXECVEAT, EW_BACKSTOP_OFF_ARG_HI(3)),
		JEQ(L_NEXT, hi32, L_NEXT, L_NOTIFY),
		LD(L_NEXT, EW_BACKSTOP_OFF_ARG_LO(3)),
		JGE(L_NEXT, lo32, L_NEXT, L_NOTIFY),
		JGE(L_NEXT, end32, L_NOTIFY, L_ALLOW),
		JEQ(L_X32, EW_BACKSTOP_X32_EXECVE, L_NOTIFY, L_NEXT),
		JEQ(L_NEXT, EW_BACKSTOP_X32_EXECVEAT, L_NOTIFY, L_ALLOW),
		JEQ(L_COMPAT, EW_BACKSTOP_COMPAT_ARCH, L_NEXT, L_ALLOW),
		LD(L_NEXT, EW_BACKSTOP_OFF_NR),
		JEQ(L_NEXT, EW_BACKSTOP_COMPAT_EXECVE, L_NOTIFY, L_NEXT),
		JEQ(L_NEXT, EW_BACKSTOP_COMPAT_EXECVEAT, L_NOTIFY, L_ALLOW),
		RET(L_ALLOW, SECCOMP_RET_ALLOW),
		RET(L_NOTIFY, SECCOMP_RET_USER_NOTIF),
	};

	return assemble(b, prog, sizeof(prog) / sizeof(prog[0]));
#else
	(void)b;
	(void)lo;
	return -EOPNOTSUPP;
#endif
}

/* ---- the envp range ----------------------------------------------------- */

/* Does anything of ours lie in [lo, lo + EW_RANGE_SIZE)? */
static bool
range_taken(uintptr_t lo)
{
	unsigned long long a, z;
	char line[512];
	bool taken = false;
	FILE *f;

	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return false;
	while (!taken && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%llx-%llx", &a, &z) == 2 &&
		    a < (unsigned long long)lo + EW_RANGE_SIZE &&
		    z > (unsigned long long)lo)
			taken = true;
	fclose(f);
	return taken;
}

/*
 * A range at random (per session: a layout that happens to hold it in one
 * session does not in the next), in one 4 GiB block, free here.
 */
int
ew_backstop_pick_range(uintptr_t *lo)
{
	uint64_t slots = (EW_RANGE_HIGH - EW_RANGE_LOW) / EW_RANGE_ALIGN, v;
	char text[EW_RANGE_TEXT_MAX];
	int i;

	for (i = 0; i < EW_BACKSTOP_RANGE_TRIES; i++) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			return -EIO;
		*lo = (uintptr_t)(EW_RANGE_LOW + (v % slots) * EW_RANGE_ALIGN);
		ew_range_format(*lo, text);
		if (ew_range_parse(text, lo) == 0 && !range_taken(*lo))
			return 0;
	}
	return -EADDRINUSE;
}

/* ---- can this kernel? --------------------------------------------------- */

int
ew_backstop_install(struct ew_backstop *b)
{
	unsigned long flags[2] = {
		SECCOMP_FILTER_FLAG_NEW_LISTENER |
		    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		SECCOMP_FILTER_FLAG_NEW_LISTENER,
	};
	long fd = -1;
	int i;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	/*
	 * WAIT_KILLABLE_RECV (Linux 6.0): once the broker has a call, a
	 * signal to its task no longer restarts it, which would send the
	 * broker the same start twice. Older kernels say EINVAL.
	 */
	for (i = 0; i < 2; i++) {
		fd = syscall(
		    SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags[i], &b->prog);
		if (fd >= 0) {
			b->flags = flags[i];
			return (int)fd;
		}
		if (errno != EINVAL)
			break;
	}
	return -errno;
}

/*
 * Install b's filter in a child that then exits: 0 with the flags that
 * worked in b->flags, or -errno (-EBUSY: a listener already watches us).
 */
static int
probe(struct ew_backstop *b)
{
	int p[2], rep[2] = { 0, 0 }, st;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	if ((pid = fork()) == 0) {
		close(p[0]);
		rep[0] = ew_backstop_install(b);
		rep[1] = (int)b->flags;
		if (rep[0] >= 0)
			rep[0] = 0;
		n = write(p[1], rep, sizeof(rep));
		_exit(n == (ssize_t)sizeof(rep) ? 0 : 1);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -errno;
	}
	do
		n = read(p[0], rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(rep))
		return -EIO;
	if (rep[0] == 0)
		b->flags = (unsigned long)rep[1];
	return rep[0];
}

/* The kernel's sizes of a notification and of its answer. */
static int
alloc_notif(struct ew_backstop *b)
{
	struct seccomp_notif_sizes sz;
	size_t nreq = sizeof(*b->req), nresp = sizeof(*b->resp);

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) == 0) {
		if (sz.seccomp_notif > nreq)
			nreq = sz.seccomp_notif;
		if (sz.seccomp_notif_resp > nresp)
			nresp = sz.seccomp_notif_resp;
	}
	b->req = calloc(1, nreq);
	b->req_size = nreq;
	b->resp = calloc(1, nresp);
	b->resp_size = nresp;
	return b->req != NULL && b->resp != NULL ? 0 : -ENOMEM;
}

static void
set_state(struct ew_backstop *b, enum ew_backstop_state st, const char *why)
{
	b->state = st;
	snprintf(b->why, sizeof(b->why), "%s", why != NULL ? why : "");
	switch (st) {
	case EW_BACKSTOP_OFF:
		snprintf(b->label, sizeof(b->label), "off");
		break;
	case EW_BACKSTOP_OUTER:
		snprintf(b->label, sizeof(b->label), "outer");
		break;
	case EW_BACKSTOP_UNAVAILABLE:
		snprintf(b->label, sizeof(b->label), "unavailable: %s", b->why);
		break;
	default:
		b->label[0] = '\0';
		break;
	}
}

/* The outer session's range, when our environment names one. */
static void
outer_range(struct ew_backstop *b)
{
	if (ew_range_parse(getenv(EW_RANGE_ENV), &b->range) != 0)
		b->range = 0;
}

static struct ew_backstop *
alloc_backstop(struct ew_broker *br)
{
	struct ew_backstop *b;
	const char *q = getenv("EXECWARD_QUIET");

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->br = br;
	b->quiet = ew_env_quiet(q);
	b->ops.arg = b;
	b->ops.spawn = &b->hook;
	b->ops.handover = ew_backstop_on_handover;
	b->ops.session_closed = ew_backstop_session_closed;
	b->ops.env = ew_backstop_env;
	b->ops.label = ew_backstop_label;
	b->hook.arg = b;
	b->hook.open = ew_backstop_spawn_open;
	b->hook.child = ew_backstop_child;
	b->hook.wait = ew_backstop_spawn_wait;
	b->hook.env_add = ew_backstop_env_add;
	if (alloc_notif(b) != 0) {
		ew_backstop_free(b);
		return NULL;
	}
	return b;
}

int
ew_backstop_new(struct ew_broker *br, bool on, struct ew_backstop **out)
{
	struct ew_backstop *b;
	char why[256], text[EW_RANGE_TEXT_MAX];
	uintptr_t lo = 0;
	int r;

	*out = NULL;
	if ((b = alloc_backstop(br)) == NULL)
		return -ENOMEM;
	*out = b;
	if (!on) {
		set_state(b, EW_BACKSTOP_OFF, "turned off (--backstop off)");
		outer_range(b);
		return 0;
	}
#ifdef EW_HAVE_VALGRIND_H
	if (RUNNING_ON_VALGRIND) {
		set_state(b, EW_BACKSTOP_UNAVAILABLE,
		    "valgrind does not know seccomp's notification ioctls");
		outer_range(b);
		return 0;
	}
#endif
	if ((r = ew_backstop_pick_range(&lo)) != 0 ||
	    (r = ew_backstop_filter(b, lo)) != 0) {
		snprintf(why, sizeof(why), "%s",
		    r == -EOPNOTSUPP
			? "not built for this architecture"
			: "no free address range for the envp range");
		set_state(b, EW_BACKSTOP_UNAVAILABLE, why);
		outer_range(b);
		return 0;
	}
	if ((r = probe(b)) != 0) {
		if (r == -EBUSY)
			set_state(b, EW_BACKSTOP_OUTER,
			    getenv(EW_RANGE_ENV) != NULL
				? "another session's backstop already watches "
				  "this process (the kernel allows one "
				  "listener per process tree): it covers this "
				  "command too"
				: "another seccomp listener already watches "
				  "this process (the kernel allows one per "
				  "process tree)");
		else {
			snprintf(why, sizeof(why),
			    "seccomp user notification: %s", strerror(-r));
			set_state(b, EW_BACKSTOP_UNAVAILABLE, why);
		}
		outer_range(b);
		return 0;
	}
	b->range = lo;
	ew_range_format(lo, text);
	snprintf(b->env, sizeof(b->env), "%s=%s", EW_RANGE_ENV, text);
	set_state(b, EW_BACKSTOP_ON, NULL);
	return 0;
}

int
ew_backstop_new_handover(struct ew_broker *br, struct ew_backstop **out)
{
	struct ew_backstop *b;

	*out = NULL;
	if ((b = alloc_backstop(br)) == NULL)
		return -ENOMEM;
	set_state(b, EW_BACKSTOP_HANDOVER, NULL);
	*out = b;
	return 0;
}

void
ew_backstop_free(struct ew_backstop *b)
{
	if (b == NULL)
		return;
	while (b->listeners != NULL)
		ew_backstop_listener_close(b->listeners);
	free(b->req);
	free(b->resp);
	free(b);
}

enum ew_backstop_state
ew_backstop_state(const struct ew_backstop *b)
{
	return b->state;
}

const char *
ew_backstop_why(const struct ew_backstop *b)
{
	return b->state == EW_BACKSTOP_ON ? NULL : b->why;
}

const struct ew_broker_backstop *
ew_backstop_ops(struct ew_backstop *b)
{
	return &b->ops;
}

const char *
ew_backstop_label(const void *arg)
{
	const struct ew_backstop *b = arg;

	return b == NULL || b->label[0] == '\0' ? NULL : b->label;
}

const char *
ew_backstop_env(const void *arg)
{
	const struct ew_backstop *b = arg;

	return b != NULL && b->env[0] != '\0' ? b->env : NULL;
}

int
ew_backstop_env_add(const void *arg, char ***env)
{
	const char *e = ew_backstop_env(arg);
	char **grown, *copy;
	size_t n = 0;

	if (e == NULL)
		return 0;
	while ((*env)[n] != NULL)
		n++;
	if ((copy = strdup(e)) == NULL)
		return -ENOMEM;
	if ((grown = realloc(*env, (n + 2) * sizeof(*grown))) == NULL) {
		free(copy);
		return -ENOMEM;
	}
	grown[n] = copy;
	grown[n + 1] = NULL;
	*env = grown;
	return 0;
}

void
ew_backstop_session_closed(void *arg, struct ew_session *s)
{
	struct ew_backstop *b = arg;
	struct ew_backstop_listener *l, *next;

	if (b == NULL)
		return;
	for (l = b->listeners; l != NULL; l = next) {
		next = l->next;
		if (l->sess == s)
			ew_backstop_listener_close(l);
	}
}

/* ---- listeners ---------------------------------------------------------- */

void
ew_backstop_respond(struct ew_backstop_listener *l, uint64_t id, int err)
{
	struct seccomp_notif_resp *resp = l->b->resp;

	memset(resp, 0, l->b->resp_size);
	resp->id = id;
	if (err == 0)
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else
		resp->error = -err;
	/* ENOENT: the call is gone (its task killed), nothing to answer. */
	if (ioctl(l->fd, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0 &&
	    errno != ENOENT)
		ew_log(EW_LOG_WARN, "backstop: answer a trapped call: %s",
		    strerror(errno));
}

static void
ew_broker_on_backstop(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_backstop_listener *l = w->data;
	struct ew_backstop *b = l->b;
	struct seccomp_notif *n;
	struct pollfd pf;
	int i;

	if ((n = l->queued) != NULL) {
		l->queued = NULL;
		ew_backstop_handle(l, n);
		free(n);
	}
	for (i = 0; i < EW_BACKSTOP_BATCH; i++) {
		/*
		 * Readable is a call waiting or, once every task of the tree
		 * is gone, a hang-up: RECV would then block for good.
		 */
		pf.fd = l->fd;
		pf.events = POLLIN;
		pf.revents = 0;
		if (poll(&pf, 1, 0) <= 0)
			return;
		if (!(pf.revents & POLLIN)) {
			ew_backstop_listener_close(l);
			return;
		}
		memset(b->req, 0, b->req_size);
		if (ioctl(l->fd, SECCOMP_IOCTL_NOTIF_RECV, b->req) != 0) {
			/* ENOENT: its task was killed in the meantime. */
			if (errno == EINTR || errno == ENOENT)
				continue;
			ew_log(EW_LOG_WARN, "backstop: receive: %s",
			    strerror(errno));
			return;
		}
		ew_backstop_handle(l, b->req);
	}
}

struct ew_backstop_listener *
ew_backstop_listener_add(
    struct ew_backstop *b, struct ew_session *s, bool outside, int fd)
{
	struct ew_backstop_listener *l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		ew_fd_close(fd);
		return NULL;
	}
	l->b = b;
	l->sess = s;
	l->outside = outside;
	l->fd = fd;
	ev_io_init(&l->io, ew_broker_on_backstop, fd, EV_READ);
	l->io.data = l;
	l->next = b->listeners;
	if (b->listeners != NULL)
		b->listeners->prev = l;
	b->listeners = l;
	return l;
}

void
ew_backstop_listen(struct ew_backstop_listener *l)
{
	ev_io_start(l->b->br->loop, &l->io);
	if (l->queued != NULL)
		ev_feed_event(l->b->br->loop, &l->io, EV_READ);
}

void
ew_backstop_listener_close(struct ew_backstop_listener *l)
{
	struct ew_backstop *b = l->b;

	ev_io_stop(b->br->loop, &l->io);
	ew_backstop_calls_drop(b, l);
	l->fd = ew_fd_close(l->fd);
	free(l->queued);
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		b->listeners = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	free(l);
}
