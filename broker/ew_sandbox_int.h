/* ew_sandbox internals shared by its parent and child halves. */
#ifndef EW_SANDBOX_INT_H
#define EW_SANDBOX_INT_H

#include <linux/filter.h>

#include "ew_sandbox.h"

struct ew_sandbox {
	enum ew_sandbox_mode mode;
	int ruleset; /* Landlock ruleset fd (CLOEXEC) */
	struct sock_fprog prog; /* seccomp BPF; len 0: no filter */
	char *desc; /* ew_sandbox_describe */
	struct ew_sandbox_mount *mnt; /* read-only carve-outs; NULL: none */
};

#endif /* EW_SANDBOX_INT_H */
