/*
 * libexecward.so load time: snapshot the session (our own path, where the
 * real libc functions are, EXECWARD_*) into static storage. This is the
 * only code that writes the snapshot; every interposer reads it. It does
 * no I/O, opens no connection and calls nothing in the loader (the real
 * functions are looked up at their first use, ew_shim_libc_as.c), nor in
 * libc: in an ordinary session (absolute paths) it makes no system call
 * and runs only code of its own section (EW_SHIM_INIT_TEXT), on the page
 * the loader runs our _init from, with its strings in one page of
 * rodata. So a process that never starts a program pays for a walk of
 * the loader's list and its environment, and the page or two the
 * snapshot's strings are packed into (EW_SHIM_ARENA), nothing else.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ew_env.h"
#include "ew_range.h"
#include "ew_shim.h"
#include "ew_str.h"

struct ew_shim_config ew_shim_cfg;

extern char **environ;
/* Our dynamic section, defined by the linker. */
extern ElfW(Dyn) _DYNAMIC[] __attribute__((visibility("hidden")));

static const char *const var_names[EW_SHIM_NVARS] = {
	[EW_SHIM_VAR_SOCKET] = EW_ENV_SOCKET,
	[EW_SHIM_VAR_FAIL] = EW_ENV_FAIL,
	[EW_SHIM_VAR_TIMEOUT] = EW_ENV_TIMEOUT,
	[EW_SHIM_VAR_QUIET] = EW_ENV_QUIET,
	[EW_SHIM_VAR_RANGE] = EW_RANGE_ENV,
};

/*
 * Strict variables must be absent from children when they were absent at
 * load: a child must not point itself at another socket or turn on
 * EXECWARD_FAIL=open and then kill the broker.
 */
static const int var_strict[EW_SHIM_NVARS] = {
	[EW_SHIM_VAR_SOCKET] = 1,
	[EW_SHIM_VAR_FAIL] = 1,
};

/*
 * The value of each session variable in environ (the first entry of each
 * name, as getenv), NULL when absent: one pass over the environment, not
 * one per variable, since every process pays for it at load.
 */
EW_SHIM_INIT_TEXT static void
read_vars(const char *vals[EW_SHIM_NVARS])
{
	char *const *e;
	const char *v;
	int i;

	for (i = 0; i < EW_SHIM_NVARS; i++)
		vals[i] = NULL;
	for (e = environ; e != NULL && *e != NULL; e++)
		for (i = 0; i < EW_SHIM_NVARS; i++)
			if (vals[i] == NULL && (*e)[0] == var_names[i][0] &&
			    (v = ew_env_value(*e, var_names[i])) != NULL) {
				vals[i] = v;
				break;
			}
}

/*
 * The real functions as dlsym finds them, when ew_shim_real cannot look
 * them up itself: the constructor stores them all, so that no dl* call
 * is left for the exec path (a vfork child may not make one).
 */
EW_SHIM_RARE_TEXT static void
resolve(void)
{
	const struct ew_shim_fn_info *fn;
	void *p;
	int f, saved = errno;

	for (f = 0; f < EW_SHIM_NFNS; f++) {
		fn = &ew_shim_fns[f];
		p = NULL;
		if (fn->version != NULL)
			p = dlvsym(RTLD_NEXT, fn->name, fn->version);
		if (p == NULL && !fn->exact)
			p = dlsym(RTLD_NEXT, fn->name);
		ew_shim_real_set(f, (uintptr_t)p);
	}
	errno = saved;
}

/* Our own file name from dladdr, when the loader's list has us not. */
EW_SHIM_RARE_TEXT static const char *
self_dladdr(void)
{
	Dl_info info;

	memset(&info, 0, sizeof(info));
	if (dladdr(&ew_shim_cfg, &info) != 0)
		return info.dli_fname;
	return NULL;
}

/*
 * Our own file name as dladdr gives it (dli_fname), and where to look the
 * real functions up, from the loader's list of objects: no call into the
 * loader, whose code pages are cold in a process that has not called it
 * (the first dl* call cost tens of microseconds). NULL when we are not in
 * the list (another namespace); then dladdr.
 */
EW_SHIM_INIT_TEXT static const char *
self_name(struct ew_shim_scope *s)
{
	const char *name;

	if (ew_shim_scope_init(s, _r_debug.r_map, _DYNAMIC, &name) == 0)
		return name;
	return self_dladdr();
}

/* The arena's free space (at most max bytes of it), or NULL when full. */
EW_SHIM_INIT_TEXT static char *
room(struct ew_shim_config *c, size_t *lenp, size_t max)
{
	size_t left = c->arena_size - c->used;

	*lenp = left < max ? left : max;
	return left > 0 ? c->arena + c->used : NULL;
}

/*
 * A string did not fit in the len bytes room() gave for one of at most
 * max: when len was cut short by the arena's end, a full-size arena
 * would have taken it (ew_shim_init then takes the snapshot again).
 */
EW_SHIM_INIT_TEXT static void
did_not_fit(struct ew_shim_config *c, size_t len, size_t max)
{
	if (len < max)
		c->cramped = 1;
}

/* Take the string just written at p (its NUL included) from the arena. */
EW_SHIM_INIT_TEXT static const char *
take(struct ew_shim_config *c, char *p)
{
	c->used += ew_str_len(p) + 1;
	return p;
}

/* s into the arena (at most max bytes with its NUL); NULL if it fits not. */
EW_SHIM_INIT_TEXT static const char *
copy(struct ew_shim_config *c, const char *s, size_t max)
{
	size_t len, n;
	char *p = room(c, &len, max);

	if (p == NULL || (n = ew_str_nlen(s, len)) >= len) {
		did_not_fit(c, len, max);
		return NULL;
	}
	ew_str_copy(p, s, n + 1);
	return take(c, p);
}

/*
 * cwd + "/" + rel, or rel when the cwd is unknown, into the arena. Apart
 * from the constructor's section: an ordinary session's paths are
 * absolute, and its cwd buffer would take a page of stack.
 */
EW_SHIM_RARE_TEXT static const char *
relative(struct ew_shim_config *c, const char *rel, size_t max)
{
	char cwd[PATH_MAX], *p;
	size_t len;

	ew_shim_path_cwd(cwd, sizeof(cwd));
	if (cwd[0] == '\0')
		return copy(c, rel, max);
	if ((p = room(c, &len, max)) == NULL ||
	    ew_shim_path_absolute(cwd, rel, p, len) != 0) {
		did_not_fit(c, len, max);
		return NULL;
	}
	return take(c, p);
}

/* s made absolute (relative()) into the arena. */
EW_SHIM_INIT_TEXT static const char *
absolute(struct ew_shim_config *c, const char *s, size_t max)
{
	return s[0] == '/' ? copy(c, s, max) : relative(c, s, max);
}

/* The session's entry i = "NAME=value"; 0 or -ENAMETOOLONG. */
EW_SHIM_INIT_TEXT static int
set_entry(struct ew_shim_config *c, int i, const char *value)
{
	size_t n = ew_str_len(var_names[i]),
	       v = ew_str_nlen(value, EW_PROTO_PATH_MAX), len;
	char *p = room(c, &len, EW_PROTO_PATH_MAX + 32);

	if (v >= EW_PROTO_PATH_MAX)
		return -ENAMETOOLONG;
	if (p == NULL || n + 1 + v >= len) {
		did_not_fit(c, len, EW_PROTO_PATH_MAX + 32);
		return -ENAMETOOLONG;
	}
	ew_str_copy(p, var_names[i], n);
	p[n] = '=';
	ew_str_copy(p + n + 1, value, v + 1);
	c->session.vars[i].entry = take(c, p);
	return 0;
}

/* execward-escalate beside c->lib, or "". */
EW_SHIM_INIT_TEXT static const char *
helper_path(struct ew_shim_config *c)
{
	const char *slash = ew_str_rchr(c->lib, '/');
	size_t n, len;
	char *p;

	if (c->lib[0] != '/' || slash == NULL)
		return "";
	n = (size_t)(slash - c->lib) + 1;
	if ((p = room(c, &len, PATH_MAX)) == NULL ||
	    n + sizeof(EW_SHIM_HELPER) > len) {
		did_not_fit(c, len, PATH_MAX);
		return "";
	}
	ew_str_copy(p, c->lib, n);
	ew_str_copy(p + n, EW_SHIM_HELPER, sizeof(EW_SHIM_HELPER));
	return take(c, p);
}

/* The snapshot, from scratch into c's arena. */
EW_SHIM_INIT_TEXT static void
snapshot(struct ew_shim_config *c)
{
	const char *v, *vals[EW_SHIM_NVARS];
	int i;

	c->used = 0;
	c->cramped = 0;
	c->have_socket = c->fail_open = c->quiet = 0;
	ew_str_zero(&c->session, sizeof(c->session));
	c->lib = c->helper = c->socket = "";
	if ((v = self_name(&c->scope)) != NULL &&
	    (v = absolute(c, v, PATH_MAX)) != NULL && v[0] == '/')
		c->session.lib = c->lib = v;
	c->helper = helper_path(c);

	for (i = 0; i < EW_SHIM_NVARS; i++) {
		c->session.vars[i].name = var_names[i];
		c->session.vars[i].strict = var_strict[i];
	}
	c->session.asan = 1;
	read_vars(vals);
	v = vals[EW_SHIM_VAR_SOCKET];
	if (v != NULL && *v != '\0' &&
	    (v = absolute(c, v, EW_PROTO_PATH_MAX)) != NULL &&
	    set_entry(c, EW_SHIM_VAR_SOCKET, v) == 0) {
		c->socket = v;
		c->have_socket = 1;
	}

	v = vals[EW_SHIM_VAR_FAIL];
	if (v != NULL) {
		c->fail_open = ew_env_fail_open(v);
		(void)set_entry(c, EW_SHIM_VAR_FAIL, v);
	}
	v = vals[EW_SHIM_VAR_TIMEOUT];
	c->timeout_s = ew_env_timeout_s(v);
	if (v != NULL)
		(void)set_entry(c, EW_SHIM_VAR_TIMEOUT, v);
	v = vals[EW_SHIM_VAR_QUIET];
	if (v != NULL) {
		c->quiet = ew_env_quiet(v);
		(void)set_entry(c, EW_SHIM_VAR_QUIET, v);
	}
	/*
	 * The kernel backstop's envp range, kept in children like the rest
	 * (not strict: a range a child names without one of ours only makes
	 * its starts trapped and matched, never unasked).
	 */
	v = vals[EW_SHIM_VAR_RANGE];
	if (v != NULL && set_entry(c, EW_SHIM_VAR_RANGE, v) == 0 &&
	    ew_range_parse(v, &c->session.range) != 0)
		c->session.range = 0;
}

/* The snapshot again, into a mapping of the whole size; errno kept. */
EW_SHIM_RARE_TEXT static void
snapshot_mapped(struct ew_shim_config *c)
{
	int saved = errno;
	void *p = mmap(NULL, EW_SHIM_ARENA, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED) {
		c->arena = p;
		c->arena_size = EW_SHIM_ARENA;
		snapshot(c);
	}
	errno = saved;
}

/*
 * Neither it nor anything it calls in an ordinary session (absolute
 * paths, a scope of our own) makes a system call or sets errno.
 */
__attribute__((constructor)) EW_SHIM_INIT_TEXT void
ew_shim_init(void)
{
	struct ew_shim_config *c = &ew_shim_cfg;

	if (c->ready)
		return;
	c->arena = c->small;
	c->arena_size = sizeof(c->small);
	snapshot(c);
	if (c->cramped)
		snapshot_mapped(c);
	if (c->scope.first == NULL)
		resolve();
	c->ready = 1;
}

const struct ew_shim_config *
ew_shim_config(void)
{
	/*
	 * XXX Another library's constructor may start a program before ours
	 * has run (ELF runs preloaded constructors after their dependents'),
	 * so initialise here then. That writes the snapshot from whatever
	 * context the call came from; it cannot be a vfork child of this
	 * process unless that child was made before our own constructor.
	 */
	if (!ew_shim_cfg.ready)
		ew_shim_init();
	return &ew_shim_cfg;
}
