/* ew_sandbox internals shared by its parent and child halves. */
#ifndef EW_SANDBOX_INT_H
#define EW_SANDBOX_INT_H

#include <linux/filter.h>

#include "ew_sandbox.h"

#include <stdbool.h>
#include <sys/types.h>

/*
 * A path the sandbox lets the command change (or, for the workspace of a
 * read-only sandbox, the place its commands work in), by the identity of
 * what it named when the sandbox was prepared: Landlock's rules hold for
 * that inode wherever it is reached from, and so does every check made
 * against them.
 */
struct ew_sandbox_root {
	dev_t dev;
	ino_t ino;
	bool writable; /* false: the read-only workspace */
	char *path;
};

struct ew_sandbox {
	enum ew_sandbox_mode mode;
	int ruleset; /* Landlock ruleset fd (CLOEXEC) */
	struct sock_fprog prog; /* seccomp BPF; len 0: no filter */
	char *desc; /* ew_sandbox_describe */
	struct ew_sandbox_root *roots;
	size_t nroots;
	struct ew_sandbox_mount *mnt; /* read-only carve-outs; NULL: none */
};

/*
 * The seccomp filter ctx (a scmp_filter_ctx) as BPF into prog (malloc'd),
 * through a memory file named name: 0, or -errno (said in err).
 */
int ew_sandbox_bpf(void *ctx, const char *name, struct sock_fprog *prog,
    char *err, size_t errlen);

#endif /* EW_SANDBOX_INT_H */
