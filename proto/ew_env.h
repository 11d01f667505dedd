/*
 * The session's environment: what every program of an execward session
 * carries, and how it is read. The broker writes it for the first program
 * of a session (and for escalated ones); the shim reads it at load and
 * repairs it before each start. Both use this module, so they cannot
 * disagree on a name, a separator or a default.
 *
 * ASYNC-SIGNAL-SAFE (ew_env_as.c): the shim calls these in vfork
 * children. No allocation, no stdio, no globals written; errno is kept.
 */
#ifndef EW_ENV_H
#define EW_ENV_H

#include <stddef.h>

#include "ew_str.h"

/* The broker's socket, absolute (made so against the cwd at load). */
#define EW_ENV_SOCKET "EXECWARD_SOCKET"
/* "open": run when the broker cannot be asked; anything else: closed. */
#define EW_ENV_FAIL "EXECWARD_FAIL"
/* Seconds the shim waits for an answer (ew_env_timeout_s). */
#define EW_ENV_TIMEOUT "EXECWARD_TIMEOUT"
/* Any value but "" or "0" silences the stderr lines (ew_env_quiet). */
#define EW_ENV_QUIET "EXECWARD_QUIET"
#define EW_ENV_PRELOAD "LD_PRELOAD"
#define EW_ENV_ASAN "ASAN_OPTIONS"
/* The shim's file name: any LD_PRELOAD element ending in it is a copy. */
#define EW_ENV_LIBRARY "libexecward.so"

/*
 * The AddressSanitizer option every program's ASAN_OPTIONS ends with. A
 * program built with a shared ASan runtime (gcc -fsanitize=address) exits
 * at start ("ASan runtime does not come first in initial library list")
 * when another preloaded library comes before libasan, as ours does;
 * this turns that check off. ASan still runs, whole: the shim defines no
 * function ASan intercepts, so nothing of ASan's is shadowed.
 */
#define EW_ENV_ASAN_OPTION "verify_asan_link_order=0"

/* EXECWARD_TIMEOUT when unset, not a number or 0; and its cap (a day). */
#define EW_ENV_TIMEOUT_DEFAULT 10
#define EW_ENV_TIMEOUT_MAX 86400

/*
 * The parsers of a single value are defined here, inline and without
 * libc (ew_str.h): the shim's constructor runs them in every process, and
 * keeps its code on as few pages as it can.
 */

/* The value of entry when it is "name=...", else NULL. */
static inline const char *
ew_env_value(const char *entry, const char *name)
{
	const char *v = ew_str_after(entry, name);

	return v != NULL && *v == '=' ? v + 1 : NULL;
}

/* The value of name in envp (NULL-terminated, may be NULL), or NULL. */
const char *ew_env_get(char *const *envp, const char *name);

/* Does an EXECWARD_QUIET value (NULL: unset) ask for quiet? */
static inline int
ew_env_quiet(const char *value)
{
	return value != NULL && *value != '\0' && !ew_str_eq(value, "0");
}

/* Does an EXECWARD_FAIL value (NULL: unset) ask to fail open? */
static inline int
ew_env_fail_open(const char *value)
{
	return value != NULL && ew_str_eq(value, "open");
}

/* The seconds an EXECWARD_TIMEOUT value (NULL: unset) gives. */
static inline int
ew_env_timeout_s(const char *value)
{
	long v = 0;

	if (value == NULL || *value == '\0')
		return EW_ENV_TIMEOUT_DEFAULT;
	for (; *value != '\0'; value++) {
		if (*value < '0' || *value > '9')
			return EW_ENV_TIMEOUT_DEFAULT;
		v = v * 10 + (*value - '0');
		if (v > EW_ENV_TIMEOUT_MAX)
			return EW_ENV_TIMEOUT_MAX;
	}
	return v == 0 ? EW_ENV_TIMEOUT_DEFAULT : (int)v;
}

/*
 * Bytes (with the NUL) that "LD_PRELOAD=<lib>[:<old's other elements>]"
 * takes at most, and the entry itself into str[0..cap): lib first, then
 * the elements of old (the LD_PRELOAD value the program would have had;
 * NULL: none) that are no copy of execward, split as ld.so splits them
 * (at spaces and colons). 0, or -ENOMEM when it does not fit.
 */
size_t ew_env_preload_size(const char *lib, const char *old);
int ew_env_put_preload(char *str, size_t cap, const char *lib, const char *old);

/* Is lib the first element of the LD_PRELOAD value v? */
int ew_env_preload_first(const char *v, const char *lib);

/*
 * Bytes (with the NUL) of "ASAN_OPTIONS=[<old>:]<EW_ENV_ASAN_OPTION>", and
 * the entry into str[0..cap): the caller's own options (old; NULL: none)
 * kept, ours last so that it wins. 0, or -ENOMEM when it does not fit.
 */
size_t ew_env_asan_size(const char *old);
int ew_env_put_asan(char *str, size_t cap, const char *old);

/* Is EW_ENV_ASAN_OPTION the last option of the ASAN_OPTIONS value v? */
int ew_env_asan_last(const char *v);

#endif /* EW_ENV_H */
