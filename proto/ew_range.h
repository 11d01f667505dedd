/* The envp range: where an exec the shim asked about keeps its envp array. */
#ifndef EW_RANGE_H
#define EW_RANGE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN. The kernel backstop (broker/backstop/ew_backstop.h) puts a
 * seccomp filter on every command tree: an execve or execveat is sent to
 * the broker (SECCOMP_RET_USER_NOTIF) unless its envp argument points into
 * one address range, the session's envp range [lo, lo + EW_RANGE_SIZE).
 * The shim, once the broker has answered, hands libc an envp array that
 * it copied into a slot of that range. glibc passes the caller's envp
 * pointer unchanged to the system call in every path (execve, execvpe's
 * PATH search and its /bin/sh fallback, the child of posix_spawn(p)), so
 * a start the shim asked about passes the kernel without a second
 * question: nothing is decided or recorded twice. What it costs: the
 * filter's run on the execve (every other system call the kernel answers
 * from its per-number cache, without running it), the copy of the
 * pointers, and, at a process's first start, the range's mapping and one
 * page of it. A long-lived spawner pays that once; a shell's fork child,
 * which starts one program and is gone, pays it at every start, and on a
 * virtual machine the page's fault and its page tables (the range lies
 * in a region of its own) are most of what the backstop costs there
 * (README, "The kernel backstop's cost").
 * A static binary, Go's raw system calls, ctypes.CDLL("libc.so.6").execve
 * and a dlmopen'd second libc pass an envp that lies elsewhere, and are
 * trapped.
 *
 * Its limit, plainly: the range proves only that the caller put its envp
 * array there, not that anyone asked. Its address is in every process's
 * environment (EW_RANGE_ENV) and maps, it is the process's own writable
 * memory (it must be: the shim writes it, in vfork children too), and a
 * filter compares registers but reads no memory, so nothing a process can
 * know is secret from it. Any process of the tree, static or not, can map
 * the range, copy its envp there and make a raw execve that nobody asked
 * about (tests/integration/test_backstop.py, TestForgery). The range
 * tells the shim's starts from everything that does not try to pass for
 * the shim; against what does, the sandbox's confinement is the wall.
 * Closing it needs no fast path at all: every exec trapped, the shim's
 * let through only by the broker's match (ew_backstop_match.c).
 *
 * Slots. The range is EW_RANGE_SLOTS slots; each begins with one 64-bit
 * word, the owner's task id (high half) and a busy bit, and the envp
 * array follows it, so that an exec touches one page of the range, not
 * two: in a process that forks and execs (a shell), every start maps the
 * range afresh, and each page it touches there costs a page fault and,
 * the first, the page tables of an otherwise empty region, which on a
 * virtual machine cost more than the rest of the copy together. A task
 * takes a slot for the time from copying its envp until the real call
 * returns, and the kernel may read it only while a task of this address
 * space is in execve: a task that has exec'd (a vfork child), died, or
 * lives in another address space (a fork child's copy of the slots) can
 * no longer be reading it, which kcmp(KCMP_VM) tells exactly (kill(pid,
 * 0) where kcmp is missing, which only errs towards keeping a slot). So a
 * slot is taken when it is free, its own (not busy: a signal handler's
 * exec inside an exec takes another), or when its owner no longer shares
 * our memory. A vfork child takes its own slot; its parent thread is
 * suspended meanwhile, and once the child has exec'd its slot is free
 * again. Everything here is a system call, an atomic or a copy: async-
 * signal-safe, for vfork children.
 *
 * Return convention: 0 (or a slot) on success, -errno on failure.
 */

/* The environment variable naming the range: "0x" and lo in hex. */
#define EW_RANGE_ENV "EXECWARD_RANGE"
#define EW_RANGE_SLOTS 256u
/* A slot: its word, then one envp array. */
#define EW_RANGE_SLOT_SIZE (16u * 1024u)
/* The slot's word, before its envp array. */
#define EW_RANGE_WORD_SIZE 8u
/*
 * The most entries an envp array in a slot has, without its NULL. A
 * larger environment is not copied: its start is trapped, and the broker
 * matches it to the shim's question (broker/backstop/ew_backstop_match.c).
 */
#define EW_RANGE_ENVP_MAX \
	((EW_RANGE_SLOT_SIZE - EW_RANGE_WORD_SIZE) / sizeof(char *) - 1)
#define EW_RANGE_SIZE (EW_RANGE_SLOTS * EW_RANGE_SLOT_SIZE)
/* Slots tried per start before giving up (the start is then trapped). */
#define EW_RANGE_PROBES 16u
/*
 * Where ranges lie (x86_64's 47-bit user space): above the 16 TiB that
 * ASan's shadow ends at, below its allocator's 0x600000000000, far from
 * the program (0x55...), its heap and the mmap area (0x7f...), which the
 * kernel fills from the top down. A range that a sanitizer's fixed layout
 * already holds cannot be mapped, and that process's starts are trapped
 * (and matched) instead. Aligned to EW_RANGE_ALIGN.
 */
#define EW_RANGE_LOW 0x200000000000ull
#define EW_RANGE_HIGH 0x500000000000ull
#define EW_RANGE_ALIGN (2ull * 1024 * 1024)
/*
 * A range lies within one 4 GiB block, with room to spare: a seccomp
 * filter compares 32-bit halves, so the range is "high half equal, low
 * half in [lo, lo + EW_RANGE_SIZE)".
 */
#define EW_RANGE_4G_MASK 0xffffffffull
/* "0x" and 16 hex digits, with the NUL. */
#define EW_RANGE_TEXT_MAX 20

/*
 * Parse the variable's value into *lo: 0, or -EINVAL. Inline: the shim's
 * constructor runs it in every process (ew_env.h says why).
 */
static inline int
ew_range_parse(const char *s, uintptr_t *lo)
{
	uint64_t v = 0;
	size_t n = 0;
	int d;

	*lo = 0;
	if (s == NULL || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	for (s += 2; *s != '\0'; s++, n++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		if (n >= 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	if (n == 0 || v < EW_RANGE_LOW || v >= EW_RANGE_HIGH ||
	    v % EW_RANGE_ALIGN != 0 || v > UINTPTR_MAX - EW_RANGE_SIZE ||
	    (v & EW_RANGE_4G_MASK) + EW_RANGE_SIZE >= EW_RANGE_4G_MASK)
		return -EINVAL;
	*lo = (uintptr_t)v;
	return 0;
}

/* lo as the variable's value, into out[0..EW_RANGE_TEXT_MAX). */
void ew_range_format(uintptr_t lo, char out[EW_RANGE_TEXT_MAX]);

/*
 * Map the range at lo (private, anonymous, MAP_FIXED_NOREPLACE,
 * nothing committed until used). 0, -EEXIST when something is there
 * (perhaps the range itself), or -errno.
 */
int ew_range_map(uintptr_t lo);

/*
 * Map the range at lo, or find it mapped already (by this process's shim,
 * say): 0 when [lo, lo + EW_RANGE_SIZE) is then one private anonymous
 * read-write mapping, else -EEXIST or -errno. It reads /proc/self/maps
 * only when something is there already.
 */
int ew_range_use(uintptr_t lo);

/*
 * Take a slot for the calling task and copy envp (NULL-terminated; NULL
 * is an empty environment) into it. The slot's number, with *outp the
 * copy, or -E2BIG (too many entries), -EBUSY (no slot free). errno is
 * kept. The range must be mapped.
 */
int ew_range_put(uintptr_t lo, char *const *envp, char *const **outp);

/* The real call returned: the slot may be taken again. errno is kept. */
void ew_range_release(uintptr_t lo, int slot);

#endif /* EW_RANGE_H */
