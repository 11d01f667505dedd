/* Reading another process's /proc/PID/status. */
#include <errno.h>
#include <stdio.h>

#include "ew_proc.h"

int
ew_proc_status(pid_t pid, struct ew_proc_status *st)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	unsigned int um;
	FILE *f;
	int sig, ppid = 0;

	st->ppid = 0;
	st->umask = -1;
	sigemptyset(&st->ignored);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			st->ppid = (pid_t)ppid;
		else if (sscanf(line, "Umask: %o", &um) == 1 && um <= 0777)
			st->umask = (int)um;
		else if (sscanf(line, "SigIgn: %llx", &mask) == 1)
			for (sig = 1; sig <= 64 && sig < NSIG; sig++)
				if (mask & (1ULL << (sig - 1)))
					sigaddset(&st->ignored, sig);
	fclose(f);
	return 0;
}

pid_t
ew_proc_ppid(pid_t pid)
{
	struct ew_proc_status st;

	(void)ew_proc_status(pid, &st);
	return st.ppid;
}
