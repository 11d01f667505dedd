/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; stack or mmap'd storage only; errno
 * is preserved.
 *
 * The kernel backstop's envp range in the shim: the environment every
 * start the shim asked about hands to libc is copied into a slot of it,
 * so that the kernel's filter lets that start pass without sending it to
 * the broker (proto/ew_range.h, "DESIGN").
 *
 * The range is mapped at the first start of a process, not at load: a
 * process that never starts a program pays nothing, and a sanitizer's
 * fixed layout (set up before main) is already in place, so that a range
 * inside it cannot be mapped rather than be mapped over. The one global
 * written here is the mapping's state, atomically: a vfork child shares
 * it with its parent as it shares the mapping, which is what we want.
 */
#include "ew_range.h"
#include "ew_shim.h"

/* The range's state in this process. */
enum {
	RANGE_UNKNOWN = 0, /* not tried yet */
	RANGE_MAPPING, /* another thread is mapping it */
	RANGE_MAPPED,
	RANGE_UNUSABLE, /* something else is there: trapped and matched */
};

static int range_state;

/* Is the range at lo mapped in this process (mapping it the first time)? */
static int
mapped(uintptr_t lo)
{
	int st = __atomic_load_n(&range_state, __ATOMIC_ACQUIRE);
	int want = RANGE_UNKNOWN;

	if (st == RANGE_UNKNOWN &&
	    __atomic_compare_exchange_n(&range_state, &want, RANGE_MAPPING, 0,
		__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		st = ew_range_use(lo) == 0 ? RANGE_MAPPED : RANGE_UNUSABLE;
		__atomic_store_n(&range_state, st, __ATOMIC_RELEASE);
	}
	/* RANGE_MAPPING: another thread's first start; this one is trapped. */
	return st == RANGE_MAPPED;
}

void
ew_shim_range_put(const struct ew_shim_session *s, struct ew_shim_envbuf *eb,
    char *const **envp)
{
	char *const *copy;
	int slot;

	eb->slot = -1;
	eb->range = 0;
	if (s->range == 0 || !mapped(s->range))
		return;
	if ((slot = ew_range_put(s->range, *envp, &copy)) < 0)
		return;
	eb->slot = slot;
	eb->range = s->range;
	*envp = copy;
}

void
ew_shim_range_release(struct ew_shim_envbuf *eb)
{
	if (eb->slot >= 0)
		ew_range_release(eb->range, eb->slot);
	eb->slot = -1;
}
