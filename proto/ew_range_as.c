/*
 * ASYNC-SIGNAL-SAFE: the shim calls this in vfork children. System calls,
 * atomics and copies only; errno is kept.
 *
 * The envp range (ew_range.h): parsing its address, mapping it, and the
 * slots an exec's envp array is copied into.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ew_range.h"

/* MAP_FIXED_NOREPLACE (Linux 4.17); older headers lack it. */
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* A slot word: the owner's task id in the high half, busy in bit 0. */
#define EW_RANGE_BUSY 1ull
#define EW_RANGE_WORD(tid, busy) (((uint64_t)(uint32_t)(tid) << 32) | (busy))
#define EW_RANGE_OWNER(w) ((pid_t)(uint32_t)((w) >> 32))
/* Fibonacci hashing of a task id to its first slot. */
#define EW_RANGE_HASH 2654435761u

void
ew_range_format(uintptr_t lo, char out[EW_RANGE_TEXT_MAX])
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0, i = 0;
	uint64_t v = lo;

	do
		tmp[n++] = hex[v & 0xf];
	while ((v >>= 4) != 0 && n < sizeof(tmp));
	out[i++] = '0';
	out[i++] = 'x';
	while (n > 0)
		out[i++] = tmp[--n];
	out[i] = '\0';
}

int
ew_range_map(uintptr_t lo)
{
	int saved = errno, r = 0;
	void *p;

	p = mmap((void *)lo, EW_RANGE_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE,
	    -1, 0);
	if (p == MAP_FAILED)
		r = -errno;
	else if (p != (void *)lo) {
		/* A kernel before 4.17 took the flag as a hint. */
		(void)munmap(p, EW_RANGE_SIZE);
		r = -EEXIST;
	}
	errno = saved;
	return r;
}

/* Parse a hex number at *pp up to a character not hex; advances *pp. */
static uint64_t
hex(const char **pp)
{
	uint64_t v = 0;
	const char *p = *pp;

	for (;; p++) {
		if (*p >= '0' && *p <= '9')
			v = v << 4 | (uint64_t)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v << 4 | (uint64_t)(*p - 'a' + 10);
		else
			break;
	}
	*pp = p;
	return v;
}

/* Is line (a /proc/self/maps line) exactly the range, rw-p, anonymous? */
static int
is_range(const char *line, uintptr_t lo)
{
	const char *p = line;
	uint64_t a, z;

	a = hex(&p);
	if (*p++ != '-')
		return 0;
	z = hex(&p);
	/* "rw-p 00000000 00:00 0" then nothing but blanks: no file. */
	if (a != lo || z != lo + EW_RANGE_SIZE ||
	    strncmp(p, " rw-p 00000000 00:00 0", 22) != 0)
		return 0;
	for (p += 22; *p == ' '; p++)
		;
	return *p == '\0';
}

/* Is the range at lo mapped here, as ew_range_map maps it? */
static int
mapped_here(uintptr_t lo)
{
	char buf[4096], line[256];
	size_t n = 0;
	ssize_t k, i;
	int fd, found = 0;

	if ((fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while (!found && (k = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < k && !found; i++) {
			if (buf[i] != '\n') {
				if (n < sizeof(line) - 1)
					line[n++] = buf[i];
				continue;
			}
			line[n] = '\0';
			found = is_range(line, lo);
			n = 0;
		}
	close(fd);
	return found;
}

int
ew_range_use(uintptr_t lo)
{
	int saved = errno, r = ew_range_map(lo);

	if (r == -EEXIST && mapped_here(lo))
		r = 0;
	errno = saved;
	return r;
}

/*
 * May the slot of owner be taken: can owner no longer be reading it? Only
 * a task that shares our memory can be in an execve reading the range.
 */
static int
owner_gone(pid_t owner)
{
	long r;

	r = syscall(
	    SYS_kcmp, (long)getpid(), (long)owner, (long)KCMP_VM, 0L, 0L);
	if (r > 0)
		return 1; /* another address space */
	if (r == 0)
		return 0;
	if (errno == ESRCH)
		return 1;
	/* No kcmp (or not allowed): keep the slot of any task that lives. */
	return kill(owner, 0) != 0 && errno == ESRCH;
}

/* Slot k's word; its envp array follows the word. */
static uint64_t *
slot_word(uintptr_t lo, uint32_t k)
{
	return (uint64_t *)(lo + (uintptr_t)k * EW_RANGE_SLOT_SIZE);
}

int
ew_range_put(uintptr_t lo, char *const *envp, char *const **outp)
{
	uint64_t *w = NULL, cur, mine;
	size_t n = 0;
	uint32_t first, i, k;
	pid_t tid, owner;
	int saved = errno, r = -EBUSY;
	char **slot;

	*outp = NULL;
	while (envp != NULL && envp[n] != NULL)
		n++;
	if (n > EW_RANGE_ENVP_MAX)
		return -E2BIG;
	tid = (pid_t)syscall(SYS_gettid);
	mine = EW_RANGE_WORD(tid, EW_RANGE_BUSY);
	first = ((uint32_t)tid * EW_RANGE_HASH) % EW_RANGE_SLOTS;
	for (i = 0; i < EW_RANGE_PROBES; i++) {
		k = (first + i) % EW_RANGE_SLOTS;
		w = slot_word(lo, k);
		/*
		 * A free slot is taken by a write, not a read and then a
		 * write: where the range was mapped afresh (each start of a
		 * shell's fork child) that is one page fault, not two.
		 */
		cur = 0;
		if (__atomic_compare_exchange_n(
			w, &cur, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			r = (int)k;
			break;
		}
		owner = EW_RANGE_OWNER(cur);
		if (owner == tid ? (cur & EW_RANGE_BUSY) != 0
				 : owner != 0 && !owner_gone(owner))
			continue;
		if (__atomic_compare_exchange_n(
			w, &cur, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			r = (int)k;
			break;
		}
	}
	errno = saved;
	if (r < 0)
		return r;
	slot = (char **)((uintptr_t)w + EW_RANGE_WORD_SIZE);
	if (n > 0)
		memcpy(slot, envp, n * sizeof(char *));
	slot[n] = NULL;
	*outp = slot;
	return r;
}

void
ew_range_release(uintptr_t lo, int slot)
{
	if (slot < 0 || (unsigned)slot >= EW_RANGE_SLOTS)
		return;
	__atomic_fetch_and(
	    slot_word(lo, (uint32_t)slot), ~EW_RANGE_BUSY, __ATOMIC_RELEASE);
}
