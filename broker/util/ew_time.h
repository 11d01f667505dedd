/* Clocks, in the units the broker measures and records in. */
#ifndef EW_TIME_H
#define EW_TIME_H

#include <stdint.h>

/* Monotonic microseconds: durations and deadlines. */
uint64_t ew_time_mono_us(void);

/* Microseconds since the epoch (the wall clock). */
int64_t ew_time_real_us(void);

/* Now, as RFC 3339 UTC with microseconds ("2025-01-31T10:00:00.123456Z"). */
void ew_time_rfc3339(char out[32]);

#endif /* EW_TIME_H */
