/* Broker logging: one line per message on stderr, "execward: ..." */
#ifndef EW_LOG_H
#define EW_LOG_H

#include <stdarg.h>

enum ew_log_level {
	EW_LOG_ERROR = 0,
	EW_LOG_WARN,
	EW_LOG_INFO,
	EW_LOG_DEBUG,
};

/* Messages above this level are dropped (default EW_LOG_INFO). */
void ew_log_set_level(enum ew_log_level level);

/* Log one line "execward: <message>" to stderr when level is enabled. */
void ew_log(enum ew_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Log an error and exit(2). Only broker top-level code may call it. */
void ew_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

#endif /* EW_LOG_H */
