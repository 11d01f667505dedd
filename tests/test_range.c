/* Unit tests for proto/ew_range_as.c: the kernel backstop's envp range. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_range.h"

/* A range for the tests: inside the bounds, within one 4 GiB block. */
#define TEST_LO ((uintptr_t)0x3abc00000000ull)

static char *env3[] = { "A=1", "B=2", "C=3", NULL };

/* The word of slot k of the range at lo: the first of the slot's. */
static uint64_t *
word(uintptr_t lo, int k)
{
	return (uint64_t *)(lo + (uintptr_t)k * EW_RANGE_SLOT_SIZE);
}

Test(range, parse_and_format)
{
	char text[EW_RANGE_TEXT_MAX];
	uintptr_t lo;

	ew_range_format(TEST_LO, text);
	cr_assert_str_eq(text, "0x3abc00000000");
	cr_assert_eq(ew_range_parse(text, &lo), 0);
	cr_assert_eq(lo, TEST_LO);
	cr_assert_eq(ew_range_parse("0X3ABC00000000", &lo), 0);
	cr_assert_eq(lo, TEST_LO);
	/* Out of bounds, unaligned, crossing 4 GiB, not hex. */
	static const char *bad[] = { NULL, "", "0x", "3abc00000000",
		"0x100000000000", "0x500000000000", "0x3abc00001000",
		"0x3abcffe00000", "0x3abc0000000g", "0x00003abc000000000",
		"0x3abc00000000 ", "-0x3abc00000000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lo = 1;
		cr_assert_eq(ew_range_parse(bad[i], &lo), -EINVAL, "%s",
		    bad[i] != NULL ? bad[i] : "NULL");
		cr_assert_eq(lo, 0);
	}
}

Test(range, map_use_and_refuse)
{
	void *p;

	cr_assert_eq(ew_range_map(TEST_LO), 0);
	/* Mapped already, by us: used; a second map says so. */
	cr_assert_eq(ew_range_map(TEST_LO), -EEXIST);
	cr_assert_eq(ew_range_use(TEST_LO), 0);
	cr_assert_eq(munmap((void *)TEST_LO, EW_RANGE_SIZE), 0);
	/* Something else there (one page): never taken for the range. */
	p = mmap((void *)TEST_LO, 4096, PROT_READ,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	cr_assert_eq(p, (void *)TEST_LO);
	cr_assert_eq(ew_range_use(TEST_LO), -EEXIST);
}

Test(range, put_copies_and_release_frees)
{
	char *const *copy, *const *again;
	int slot, slot2;

	cr_assert_eq(ew_range_map(TEST_LO), 0);
	slot = ew_range_put(TEST_LO, env3, &copy);
	cr_assert_geq(slot, 0);
	/* Right after its slot's word, in the same page. */
	cr_assert_eq((uintptr_t)copy,
	    (uintptr_t)word(TEST_LO, slot) + EW_RANGE_WORD_SIZE);
	cr_assert((uintptr_t)copy < TEST_LO + EW_RANGE_SIZE);
	cr_assert_eq(copy[0], env3[0]);
	cr_assert_eq(copy[2], env3[2]);
	cr_assert_null(copy[3]);
	/* Busy (a signal handler's exec inside an exec): another slot. */
	slot2 = ew_range_put(TEST_LO, env3, &again);
	cr_assert_geq(slot2, 0);
	cr_assert_neq(slot2, slot);
	ew_range_release(TEST_LO, slot2);
	ew_range_release(TEST_LO, slot);
	/* Free again: the same task gets its own slot back. */
	cr_assert_eq(ew_range_put(TEST_LO, env3, &again), slot);
	ew_range_release(TEST_LO, slot);
	/* An empty environment, and NULL, are one NULL. */
	slot = ew_range_put(TEST_LO, NULL, &copy);
	cr_assert_geq(slot, 0);
	cr_assert_null(copy[0]);
	ew_range_release(TEST_LO, slot);
}

Test(range, too_large_is_refused)
{
	size_t n = EW_RANGE_ENVP_MAX + 1, i;
	char **big = calloc(n + 1, sizeof(char *)), *const *copy = NULL;
	int slot;

	cr_assert_eq(ew_range_map(TEST_LO), 0);
	for (i = 0; i < n; i++)
		big[i] = "X=1";
	cr_assert_eq(ew_range_put(TEST_LO, big, &copy), -E2BIG);
	cr_assert_null(copy);
	big[n - 1] = NULL; /* the most entries and the NULL: fits */
	slot = ew_range_put(TEST_LO, big, &copy);
	cr_assert_geq(slot, 0);
	/* To the slot's last byte, and not into the next slot's word. */
	cr_assert_eq((uintptr_t)&copy[n - 1] + sizeof(char *),
	    (uintptr_t)word(TEST_LO, slot) + EW_RANGE_SLOT_SIZE);
	cr_assert_null(copy[n - 1]);
	free(big);
}

/* A thread that says its task id, then waits for a byte on fd. */
struct waiter {
	pid_t tid;
	int fd;
};

static void *
waiter(void *arg)
{
	struct waiter *w = arg;
	char c;

	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	if (w->fd >= 0)
		(void)read(w->fd, &c, 1);
	return NULL;
}

/* Every slot word owned by owner, busy or not. */
static void
fill(uintptr_t lo, pid_t owner, int busy)
{
	unsigned i;

	for (i = 0; i < EW_RANGE_SLOTS; i++)
		*word(lo, (int)i) =
		    ((uint64_t)(uint32_t)owner << 32) | (uint64_t)busy;
}

Test(range, slots_of_a_dead_thread_are_taken)
{
	struct waiter w = { 0, -1 };
	pthread_t t;
	char *const *copy;
	pid_t me = (pid_t)syscall(SYS_gettid);
	int slot;

	cr_assert_eq(ew_range_map(TEST_LO), 0);
	cr_assert_eq(pthread_create(&t, NULL, waiter, &w), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	/* It died holding every slot, busy (in an exec, say). */
	fill(TEST_LO, w.tid, 1);
	slot = ew_range_put(TEST_LO, env3, &copy);
	cr_assert_geq(slot, 0);
	cr_assert_eq(*word(TEST_LO, slot), ((uint64_t)(uint32_t)me << 32) | 1);
}

Test(range, slots_of_the_living_are_kept)
{
	struct waiter w = { 0, -1 };
	pthread_t t;
	char *const *copy;
	int p[2], slot;

	cr_assert_eq(ew_range_map(TEST_LO), 0);
	cr_assert_eq(pipe(p), 0);
	w.fd = p[0];
	cr_assert_eq(pthread_create(&t, NULL, waiter, &w), 0);
	while (__atomic_load_n(&w.tid, __ATOMIC_SEQ_CST) == 0)
		usleep(1000);
	/* A thread of ours, even idle: it may be in an exec at any time. */
	fill(TEST_LO, w.tid, 0);
	cr_assert_eq(ew_range_put(TEST_LO, env3, &copy), -EBUSY);
	/* Ourselves, busy: a signal handler's exec inside an exec. */
	fill(TEST_LO, (pid_t)syscall(SYS_gettid), 1);
	cr_assert_eq(ew_range_put(TEST_LO, env3, &copy), -EBUSY);
	/* A living process in another address space (a fork's copy of the
	 * table) cannot be reading ours. */
	fill(TEST_LO, getppid(), 1);
	slot = ew_range_put(TEST_LO, env3, &copy);
	cr_assert_geq(slot, 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	cr_assert_eq(pthread_join(t, NULL), 0);
}

Test(range, a_vfork_child_frees_its_slot_by_its_exec)
{
	char *const *copy;
	pid_t pid;
	int st, p[2];
	volatile int child_slot = -1;

	cr_assert_eq(ew_range_map(TEST_LO), 0);
	/* Close-on-exec: cat gets the read end only, as its stdin. */
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = vfork();
	if (pid == 0) {
		char *argv[] = { "cat", NULL };

		child_slot = ew_range_put(TEST_LO, env3, &copy);
		dup2(p[0], 0);
		execve("/bin/cat", argv, (char **)copy);
		_exit(127);
	}
	cr_assert_gt(pid, 0);
	close(p[0]);
	cr_assert_geq(child_slot, 0);
	/* Left busy by the child, whose exec left our memory. */
	cr_assert_eq(
	    *word(TEST_LO, child_slot), ((uint64_t)(uint32_t)pid << 32) | 1);
	/* It lives on (cat waits), in another address space: every slot of
	 * its is free for us. */
	fill(TEST_LO, pid, 1);
	cr_assert_geq(ew_range_put(TEST_LO, env3, &copy), 0);
	close(p[1]);
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
