/*
 * An empty preload library: loaded with LD_PRELOAD beside or instead of
 * libexecward.so, it separates the cost of loading any extra library into
 * a process from the cost of the shim's own work. It interposes nothing.
 */
int ew_bench_empty(void);

int
ew_bench_empty(void)
{
	return 0;
}
