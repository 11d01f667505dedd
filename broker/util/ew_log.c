/* Broker logging to stderr. */
#include <stdio.h>
#include <stdlib.h>

#include "ew_log.h"

static enum ew_log_level ew_log_level = EW_LOG_INFO;

void
ew_log_set_level(enum ew_log_level level)
{
	ew_log_level = level;
}

static void
vlog(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void
vlog(const char *fmt, va_list ap)
{
	char line[2048];

	/* One write per line so concurrent writers do not interleave. */
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "execward: %s\n", line);
}

void
ew_log(enum ew_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > ew_log_level)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void
ew_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	exit(2);
}
