/* What /proc says of another process. */
#ifndef EW_PROC_H
#define EW_PROC_H

#include <signal.h>
#include <sys/types.h>

/* A process as /proc/PID/status describes it. */
struct ew_proc_status {
	pid_t ppid; /* its parent, as seen from here; 0: unknown */
	sigset_t ignored; /* the signals it ignores (SigIgn) */
	int umask; /* -1: unknown (kernels before 4.7 do not say) */
};

/*
 * Read /proc/PID/status into *st. 0, or -errno with *st saying unknown
 * (ppid 0, nothing ignored, umask -1).
 */
int ew_proc_status(pid_t pid, struct ew_proc_status *st);

/* pid's parent as the kernel sees it from here; 0 if it is gone. */
pid_t ew_proc_ppid(pid_t pid);

#endif /* EW_PROC_H */
