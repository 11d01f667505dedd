/*
 * The environment of an escalated program, built as sudo's env_reset
 * builds one: what a confined command sets must not steer what runs
 * outside the sandbox.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_env.h"
#include "ew_escalate.h"
#include "ew_log.h"
#include "ew_proto.h"

/* PATH of an escalated program when the broker has none (confstr's). */
#define EW_ESCALATE_PATH_DEFAULT "/usr/local/bin:/usr/bin:/bin"
/* TZ may name a file only under the system's zoneinfo (as sudo allows). */
#define EW_ESCALATE_ZONEINFO "/usr/share/zoneinfo/"

/*
 * What an escalated program keeps of its caller's environment, as sudo's
 * env_reset keeps it: the terminal, the language and the time zone.
 * Everything else the confined caller set (BASH_ENV, ENV, PERL5OPT,
 * PYTHONPATH, NODE_OPTIONS, GIT_CONFIG_*, GIT_SSH_COMMAND, GLIBC_TUNABLES,
 * TMPDIR, PATH, HOME, every LD_* ...) could make the program run code it
 * chose: none of it crosses. checked: the value must not name a file
 * (sudo's env_check: no '/' and no '%').
 */
static const struct {
	const char *name; /* a prefix when it ends in '*' */
	bool checked;
} keep_default[] = {
	{ "TERM", true },
	{ "COLORTERM", true },
	{ "NO_COLOR", false },
	{ "LANG", true },
	{ "LANGUAGE", true },
	{ "LC_*", true },
	{ "TZ", false }, /* tz_safe */
	/* The shim's own, which only quieten it or bound its wait. */
	{ EW_ENV_QUIET, false },
	{ EW_ENV_TIMEOUT, false },
};
#define NKEEP_DEFAULT (sizeof(keep_default) / sizeof(keep_default[0]))

/*
 * From the broker's own environment (sudo sets them for the target user):
 * a confined command could point HOME at a folder it wrote, whose
 * configuration files the program would then read.
 */
static const char *const from_broker[] = { "HOME", "USER", "LOGNAME" };
#define NFROM_BROKER (sizeof(from_broker) / sizeof(from_broker[0]))

/* Does entry ("NAME=value") have the name pattern (NAME, or PREFIX*)? */
static bool
named(const char *entry, const char *pattern)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(entry, pattern, n - 1) == 0 &&
		    strchr(entry, '=') != NULL &&
		    strchr(entry, '=') >= entry + n - 1;
	return strncmp(entry, pattern, n) == 0 && entry[n] == '=';
}

/*
 * sudo's tz_is_safe: a zone name, or a file under the zoneinfo folder;
 * printable, no "..".
 */
static bool
tz_safe(const char *v)
{
	const char *p;

	if (*v == ':')
		v++;
	if (*v == '/' &&
	    strncmp(v, EW_ESCALATE_ZONEINFO, strlen(EW_ESCALATE_ZONEINFO)) != 0)
		return false;
	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
			return false;
	return strstr(v, "..") == NULL && p - v < PATH_MAX;
}

/* Keep entry of the caller's environment? */
static bool
kept(const char *entry, const char *const *keep, size_t nkeep)
{
	const char *v = strchr(entry, '=');
	size_t i;

	if (v == NULL || v == entry)
		return false;
	v++;
	/* Never: these are the broker's to set. */
	if (strncmp(entry, "LD_", 3) == 0 || named(entry, EW_ENV_SOCKET) ||
	    named(entry, EW_ENV_FAIL))
		return false;
	for (i = 0; i < NKEEP_DEFAULT; i++) {
		if (!named(entry, keep_default[i].name))
			continue;
		if (strcmp(keep_default[i].name, "TZ") == 0)
			return tz_safe(v);
		return !keep_default[i].checked || strpbrk(v, "/%") == NULL;
	}
	for (i = 0; i < nkeep; i++)
		if (named(entry, keep[i]))
			return true;
	return false;
}

/* Is a variable of this name among out[0..n)? */
static bool
present(char *const *out, size_t n, const char *entry)
{
	size_t len = strcspn(entry, "="), i;

	for (i = 0; i < n; i++)
		if (strncmp(out[i], entry, len + 1) == 0)
			return true;
	return false;
}

/*
 * "PATH=" and the broker's PATH entries that are absolute and lie where no
 * sandboxed command (nor another user) can put a program of its own.
 */
static char *
safe_path(const char *path, const struct ew_sandbox *sb, uid_t uid)
{
	char why[EW_PROTO_REASON_MAX], entry[PATH_MAX], *out, *w;
	const char *p, *e;
	size_t n;

	if (path == NULL)
		path = EW_ESCALATE_PATH_DEFAULT;
	if ((out = malloc(strlen(path) + 6)) == NULL)
		return NULL;
	w = stpcpy(out, "PATH=");
	for (p = path;; p = e + 1) {
		e = strchrnul(p, ':');
		n = (size_t)(e - p);
		if (n > 0 && p[0] == '/' && n < sizeof(entry)) {
			memcpy(entry, p, n);
			entry[n] = '\0';
			if (ew_escalate_check_folder(
				sb, uid, entry, why, sizeof(why)) == 0) {
				if (w[-1] != '=')
					*w++ = ':';
				w = stpcpy(w, entry);
			} else
				ew_log(EW_LOG_DEBUG,
				    "PATH of escalations: "
				    "without %s: %s",
				    entry, why);
		}
		if (*e == '\0')
			break;
	}
	return out;
}

/* *slot = "name=value"; 0, or -ENOMEM with *slot NULL. */
static int
put(char **slot, const char *name, const char *value)
{
	if (asprintf(slot, "%s=%s", name, value) < 0) {
		*slot = NULL;
		return -ENOMEM;
	}
	return 0;
}

char **
ew_escalate_env(char *const *envp, char *const *benv, const char *const *keep,
    size_t nkeep, const struct ew_sandbox *sb, uid_t uid, const char *lib,
    const char *sock, const char *fail)
{
	char **out;
	const char *v;
	size_t n = 0, k = 0, i;

	while (envp != NULL && envp[n] != NULL)
		n++;
	if ((out = calloc(n + NFROM_BROKER + 5, sizeof(*out))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (kept(envp[i], keep, nkeep) && !present(out, k, envp[i]) &&
		    (out[k++] = strdup(envp[i])) == NULL)
			goto oom;
	for (i = 0; i < NFROM_BROKER; i++)
		if ((v = ew_env_get(benv, from_broker[i])) != NULL &&
		    !present(out, k, from_broker[i]) &&
		    put(&out[k++], from_broker[i], v) != 0)
			goto oom;
	if (!present(out, k, "PATH") &&
	    (out[k++] = safe_path(ew_env_get(benv, "PATH"), sb, uid)) == NULL)
		goto oom;
	if (put(&out[k++], EW_ENV_PRELOAD, lib) != 0 ||
	    put(&out[k++], EW_ENV_SOCKET, sock) != 0 ||
	    put(&out[k++], EW_ENV_FAIL, fail) != 0)
		goto oom;
	return out;
oom:
	for (i = 0; out[i] != NULL; i++)
		free(out[i]);
	free(out);
	return NULL;
}

void
ew_escalate_env_free(char **env)
{
	size_t i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}
