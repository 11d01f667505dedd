/* libexecward.so internals: load-time state, real symbols, shared helpers. */
#ifndef EW_SHIM_H
#define EW_SHIM_H

#include <limits.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ew_proto.h"
#include "ew_shim_versions.h"

/*
 * The shim has no public API of its own: it exports only the libc entry
 * points it interposes (ew_preload.map). Everything declared here is
 * internal to the library (hidden visibility) or to its unit tests.
 *
 * Return convention: 0 on success, -errno or -EW_E_* on failure, except in
 * the interposers themselves, which copy libc's contract exactly.
 *
 * Async-signal safety: functions marked "AS" may run in a vfork child.
 * They use syscalls and the caller's stack only, never write a global, and
 * leave errno as they found it unless they say otherwise.
 */

/* The interposed libc entry points; everything else is hidden. */
#define EW_SHIM_EXPORT __attribute__((visibility("default")))

/*
 * glibc declares some arguments nonnull (execl's arg, fexecve's argv) that
 * callers do pass as NULL. Hide the value from the optimiser so that the
 * shim's own NULL checks stay.
 */
static inline const void *
ew_shim_launder(const void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

/* The shell system() and popen() run. */
#define EW_SHIM_SHELL "/bin/sh"

/*
 * The escalation helper, found next to libexecward.so: for an ESCALATE
 * answer the shim runs `execward-escalate TOKEN` instead of the program
 * (exec family: exec'd in place; posix_spawn, system, popen: spawned), so
 * the caller keeps its pid, fds and wait status.
 */
#define EW_SHIM_HELPER "execward-escalate"
/* ew_shim_gate and ew_shim_check: run the helper with the token instead. */
#define EW_SHIM_ESCALATE 1
/*
 * ew_shim_check: nothing asked, the program does not exist or may not be
 * executed: call the real function, which fails on its own.
 */
#define EW_SHIM_UNASKED 2
/* Room for an escalation token and its NUL. */
#define EW_SHIM_TOKEN_SIZE (EW_PROTO_TOKEN_MAX + 1)

/* connect() waits at most this long for a full listen backlog. */
#define EW_SHIM_CONNECT_MS 2000

/* Size of a PATH candidate buffer: a PATH element, '/', a file name, NUL. */
#define EW_SHIM_CAND_MAX (PATH_MAX + NAME_MAX + 2)

/* Session variables the environment of every child must carry. */
enum ew_shim_var {
	EW_SHIM_VAR_SOCKET,
	EW_SHIM_VAR_FAIL,
	EW_SHIM_VAR_TIMEOUT,
	EW_SHIM_VAR_QUIET,
	EW_SHIM_VAR_RANGE, /* the kernel backstop's envp range (ew_range.h) */
	EW_SHIM_NVARS
};

/* One session variable as the environment repair enforces it. */
struct ew_shim_envvar {
	const char *name; /* "EXECWARD_SOCKET" */
	const char *entry; /* "EXECWARD_SOCKET=/x", NULL when unset at load */
	int strict; /* when unset at load, children must not have it */
};

/* What every child's environment must carry. */
struct ew_shim_session {
	const char *lib; /* absolute path of libexecward.so; NULL: no repair */
	struct ew_shim_envvar vars[EW_SHIM_NVARS];
	/*
	 * ASAN_OPTIONS must be one entry ending with EW_ENV_ASAN_OPTION
	 * (proto/ew_env.h); 0: no check.
	 */
	int asan;
	/*
	 * The envp range of the kernel backstop (EXECWARD_RANGE, ew_range.h),
	 * 0 when none: the environment handed to the real call is copied
	 * there (ew_shim_range_put), so that the start passes the kernel's
	 * filter without a second question.
	 */
	uintptr_t range;
};

/*
 * The real libc functions the shim calls (ew_shim_libc_as.c). execv,
 * execvp and the execl family go to the real execve or execvpe with the
 * (repaired) environment.
 */
enum ew_shim_fn {
	EW_SHIM_FN_EXECVE,
	EW_SHIM_FN_EXECVPE,
	EW_SHIM_FN_EXECVEAT,
	EW_SHIM_FN_FEXECVE,
	EW_SHIM_FN_POSIX_SPAWN,
	EW_SHIM_FN_POSIX_SPAWNP,
	/*
	 * libc's compat posix_spawn(p) (GLIBC_2.2.5 on x86_64), which runs
	 * a file the kernel refuses with ENOEXEC through /bin/sh; none when
	 * libc has none.
	 */
	EW_SHIM_FN_POSIX_SPAWN_COMPAT,
	EW_SHIM_FN_POSIX_SPAWNP_COMPAT,
	EW_SHIM_FN_SYSTEM,
	EW_SHIM_FN_POPEN,
	EW_SHIM_FN_PCLOSE,
	EW_SHIM_NFNS
};

/* How each is found: as dlvsym(RTLD_NEXT, name, version) finds it. */
struct ew_shim_fn_info {
	const char *name;
	const char *version; /* NULL: libc's version is unknown */
	/*
	 * 0: the unversioned definition (dlsym) when the version has none;
	 * 1: exactly that version or nothing (NULL version: nothing).
	 */
	int exact;
};
extern const struct ew_shim_fn_info ew_shim_fns[EW_SHIM_NFNS];

/*
 * Where the real functions are looked up: the objects loaded after ours,
 * first to last (inclusive), as they were when the constructor ran. These
 * are the objects dlsym(RTLD_NEXT) searches from ours (the loader's list
 * keeps them in the order of its global scope), and are never unloaded,
 * so walking from first to last reads only memory that stays mapped.
 * first is NULL when the lookup cannot be used (ew_shim_scope_init).
 */
struct link_map;
struct ew_shim_scope {
	const struct link_map *first;
	const struct link_map *last;
};

/*
 * Find our own object in the loader's list map (_r_debug.r_map): the one
 * whose dynamic section is at self_ld. *namep is then its l_name (what
 * dladdr calls dli_fname; may be relative or ""), and 0 is returned; else
 * -ENOENT. s (when not NULL) gets the objects after it when every one of
 * them has a GNU hash table and one of them is libc; else its first is
 * NULL. Pure reads.
 */
int ew_shim_scope_init(struct ew_shim_scope *s, const struct link_map *map,
    const void *self_ld, const char **namep);

/*
 * The address of name at version (NULL: unversioned, as dlsym) in s, as
 * dlvsym(RTLD_NEXT) from the object before s would find it, or 0. An
 * indirect function (STT_GNU_IFUNC) counts as not found. AS: pure reads.
 */
uintptr_t ew_shim_scope_lookup(
    const struct ew_shim_scope *s, const char *name, const char *version);

/*
 * The real function f, looked up at its first use (in the scope of
 * ew_shim_cfg), or 0 when libc has none. AS: a lookup reads mapped memory
 * only, and its result is stored atomically; two first uses at once, in
 * threads, a signal handler or a vfork child (which shares the parent's
 * memory), store the same value.
 */
uintptr_t ew_shim_real(enum ew_shim_fn f);

/*
 * Store f's address (0: none) found otherwise: the constructor resolves
 * every function with dlvsym when the scope cannot be used.
 */
void ew_shim_real_set(enum ew_shim_fn f, uintptr_t p);

/* The real functions by type. */
typedef int (*ew_shim_execve_fn)(const char *, char *const[], char *const[]);
typedef int (*ew_shim_execveat_fn)(
    int, const char *, char *const[], char *const[], int);
typedef int (*ew_shim_fexecve_fn)(int, char *const[], char *const[]);
typedef int (*ew_shim_spawn_fn)(pid_t *, const char *,
    const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
    char *const[], char *const[]);
typedef int (*ew_shim_system_fn)(const char *);
typedef FILE *(*ew_shim_popen_fn)(const char *, const char *);
typedef int (*ew_shim_pclose_fn)(FILE *);

/* Each real function, NULL when libc has none (ew_shim_real). AS. */
static inline ew_shim_execve_fn
ew_shim_real_execve(void)
{
	return (ew_shim_execve_fn)ew_shim_real(EW_SHIM_FN_EXECVE);
}

static inline ew_shim_execve_fn
ew_shim_real_execvpe(void)
{
	return (ew_shim_execve_fn)ew_shim_real(EW_SHIM_FN_EXECVPE);
}

static inline ew_shim_execveat_fn
ew_shim_real_execveat(void)
{
	return (ew_shim_execveat_fn)ew_shim_real(EW_SHIM_FN_EXECVEAT);
}

static inline ew_shim_fexecve_fn
ew_shim_real_fexecve(void)
{
	return (ew_shim_fexecve_fn)ew_shim_real(EW_SHIM_FN_FEXECVE);
}

static inline ew_shim_spawn_fn
ew_shim_real_posix_spawn(void)
{
	return (ew_shim_spawn_fn)ew_shim_real(EW_SHIM_FN_POSIX_SPAWN);
}

static inline ew_shim_spawn_fn
ew_shim_real_posix_spawnp(void)
{
	return (ew_shim_spawn_fn)ew_shim_real(EW_SHIM_FN_POSIX_SPAWNP);
}

static inline ew_shim_spawn_fn
ew_shim_real_posix_spawn_compat(void)
{
	return (ew_shim_spawn_fn)ew_shim_real(EW_SHIM_FN_POSIX_SPAWN_COMPAT);
}

static inline ew_shim_spawn_fn
ew_shim_real_posix_spawnp_compat(void)
{
	return (ew_shim_spawn_fn)ew_shim_real(EW_SHIM_FN_POSIX_SPAWNP_COMPAT);
}

static inline ew_shim_system_fn
ew_shim_real_system(void)
{
	return (ew_shim_system_fn)ew_shim_real(EW_SHIM_FN_SYSTEM);
}

static inline ew_shim_popen_fn
ew_shim_real_popen(void)
{
	return (ew_shim_popen_fn)ew_shim_real(EW_SHIM_FN_POPEN);
}

static inline ew_shim_pclose_fn
ew_shim_real_pclose(void)
{
	return (ew_shim_pclose_fn)ew_shim_real(EW_SHIM_FN_PCLOSE);
}

/*
 * Room for the strings of the snapshot: our path, the helper's, the
 * socket's, and each session variable's entry, at their longest. They are
 * packed one after another from the start. Only the first
 * EW_SHIM_ARENA_SMALL bytes are static storage, which holds them all in
 * any ordinary session (a few hundred bytes) and shares the pages the
 * library's other data is on; when they do not fit, the constructor maps
 * the whole size and takes the snapshot again (one mmap, in that process
 * only). A static arena of the whole size cost every process an anonymous
 * mapping at load.
 */
#define EW_SHIM_ARENA                       \
	(2 * PATH_MAX + EW_PROTO_PATH_MAX + \
	    EW_SHIM_NVARS * (EW_PROTO_PATH_MAX + 32))
#define EW_SHIM_ARENA_SMALL 1024

/*
 * The code of the constructor's path (ew_shim_init and everything it
 * calls in a process that finds its own entry in the loader's list): one
 * section, placed among the linker's startup code (.text.startup.*), on
 * the page the loader touches anyway to run our _init. On a PVM guest the
 * first touch of each page of code costs microseconds in every process,
 * so the constructor keeps to one or two pages and calls nothing in libc
 * (proto/ew_str.h).
 */
#define EW_SHIM_INIT_TEXT \
	__attribute__((cold, section(".text.startup.ew_shim")))
/*
 * What the constructor calls only in an unusual session (a relative path,
 * no scope of our own, strings too long for the static arena): away from
 * it, so that it does not push the usual path onto another page.
 */
#define EW_SHIM_RARE_TEXT \
	__attribute__((noinline, section(".text.ew_shim_rare")))

/* Load-time snapshot. Written only by ew_shim_init; read-only afterwards. */
struct ew_shim_config {
	int ready; /* ew_shim_init has run */
	int have_socket; /* EXECWARD_SOCKET was set (and fits) */
	int fail_open; /* EXECWARD_FAIL=open */
	int quiet; /* EXECWARD_QUIET set, not "" or "0" */
	int timeout_s; /* EXECWARD_TIMEOUT, seconds */
	/* In arena (or a test's own storage); "" when unknown or unset. */
	const char *lib; /* our absolute path */
	const char *helper; /* execward-escalate beside lib */
	const char *socket;
	struct ew_shim_session session;
	struct ew_shim_scope scope; /* where the real functions are */
	char *arena; /* small, or a mapping of EW_SHIM_ARENA bytes */
	size_t arena_size;
	size_t used; /* bytes of arena taken */
	int cramped; /* a string did not fit in the rest of a small arena */
	char small[EW_SHIM_ARENA_SMALL];
};

extern struct ew_shim_config ew_shim_cfg;

/*
 * Resolve the real symbols and take the snapshot. Runs as the ELF
 * constructor; the interposers call it too if another library's
 * constructor reaches them first. No I/O, no connection.
 */
void ew_shim_init(void);

/* The configuration, initialising on first use (see ew_shim_init). */
const struct ew_shim_config *ew_shim_config(void);

/* ---- environment (ew_shim_env_as.c), all AS -------------------------- */

/*
 * Does envp carry the session? 0: use it as is. 1: it needs repair, and
 * *nptrsp / *nbytesp get the pointer slots (NULL included) and string
 * bytes that ew_shim_env_repair needs.
 */
int ew_shim_env_check(const struct ew_shim_session *s, char *const *envp,
    size_t *nptrsp, size_t *nbytesp);

/*
 * Build the repaired environment into ptrs[0..nptrs) (NULL-terminated) and
 * str[0..nbytes), sized by ew_shim_env_check. Other entries keep their
 * order; the session variables and LD_PRELOAD (ours first, other preload
 * entries kept, other copies of libexecward.so dropped) come last. The
 * result borrows envp's strings.
 */
int ew_shim_env_repair(const struct ew_shim_session *s, char *const *envp,
    char **ptrs, size_t nptrs, char *str, size_t nbytes);

/* Stack storage for a repaired environment; larger ones are mmap'd. */
#define EW_SHIM_ENVBUF_STACK 8192
struct ew_shim_envbuf {
	void *map;
	size_t maplen;
	int slot; /* the envp range's slot taken, or -1 */
	uintptr_t range;
	union {
		char *align;
		char bytes[EW_SHIM_ENVBUF_STACK];
	} stack;
};

/*
 * The environment to hand to the real function: envp itself when it
 * carries the session, else a repaired copy in eb. *outp is NULL on entry
 * and set on success. Fails with -ENOMEM. Release with
 * ew_shim_envbuf_release.
 */
int ew_shim_env_prepare(const struct ew_shim_session *s,
    struct ew_shim_envbuf *eb, char *const *envp, char *const **outp);

/* Unmap eb's storage if it was mapped; keeps errno. */
void ew_shim_envbuf_release(struct ew_shim_envbuf *eb);

/* ---- the envp range (ew_shim_range_as.c), AS ------------------------- */

/*
 * Copy *envp into a slot of s's envp range (mapped at the first use in
 * this process) and point *envp at the copy, recording the slot in eb.
 * Without a range, or when it cannot be mapped, the environment is too
 * large or no slot is free, *envp is left alone: that start is then
 * trapped by the kernel backstop, whose broker matches it to the
 * question the shim asked (broker/backstop/ew_backstop_match.c). errno
 * is kept.
 */
void ew_shim_range_put(const struct ew_shim_session *s,
    struct ew_shim_envbuf *eb, char *const **envp);

/* Give back eb's slot, if it took one; keeps errno. */
void ew_shim_range_release(struct ew_shim_envbuf *eb);

/* ---- paths (ew_shim_path_as.c), all AS ------------------------------- */

/*
 * Make path absolute against cwd into out[0..outlen): "." components and
 * repeated slashes are dropped, ".." is kept (symlinks make it
 * non-lexical). -ENAMETOOLONG when it does not fit, -EINVAL when path is
 * relative and cwd is not absolute.
 */
int ew_shim_path_absolute(
    const char *cwd, const char *path, char *out, size_t outlen);

/*
 * Does the file at path start like neither a script ("#!") nor ELF, so
 * that the kernel refuses it with ENOEXEC (unless binfmt_misc knows it)?
 * 1 when it does; 0 also when it cannot be read.
 */
int ew_shim_path_needs_shell(const char *path);

/* Does the PATH value (NULL: EW_PATH_DEFAULT) have a relative element? */
int ew_shim_path_has_relative(const char *path);

/* The current directory into buf, or "" when it cannot be known. */
void ew_shim_path_cwd(char *buf, size_t len);

/*
 * The target of /proc/self/fd/<fd> into out, or "/proc/<pid>/fd/<fd>" when
 * the target is not a path. -errno when fd is not open.
 */
int ew_shim_path_fd(int fd, char *out, size_t outlen);

/* ---- messages (ew_shim_msg_as.c), all AS ----------------------------- */

/* A bounded line under construction; overflow is truncated with "...". */
struct ew_shim_line {
	char *p;
	size_t len;
	size_t cap;
	int truncated;
};

/* Start an empty line in buf[0..cap) (cap counts the NUL). */
void ew_shim_line_init(struct ew_shim_line *l, char *buf, size_t cap);
/* Append s, replacing control characters with '?'. */
void ew_shim_line_put(struct ew_shim_line *l, const char *s);
/* Append v in decimal. */
void ew_shim_line_put_uint(struct ew_shim_line *l, unsigned long long v);
/* argv joined by spaces, at most max bytes of it (then "..."). */
void ew_shim_line_put_argv(
    struct ew_shim_line *l, const char *file, char *const *argv, size_t max);
/* NUL-terminate and return the text. */
const char *ew_shim_line_str(struct ew_shim_line *l);

/* Most bytes of the command shown in a stderr line. */
#define EW_SHIM_CMD_SHOWN 200

/*
 * Write "execward: <what>: <command>: <why>[<tail>]\n" to stderr in one
 * write(2) unless quiet. what is "denied" or "warning".
 */
void ew_shim_msg_say(int quiet, const char *what, const char *file,
    char *const *argv, const char *why, const char *tail);

/* ---- the ask (ew_shim_ask_as.c), AS ---------------------------------- */

/* One program about to be started. */
struct ew_shim_ask {
	uint32_t via;
	const char *file; /* as called */
	const char *resolved; /* absolute */
	const char *cwd;
	char *const *argv;
	/*
	 * May a TOLD go on the process's kept tell connection (the caller
	 * is posix_spawn, system or popen, never a vfork child)?
	 */
	int keep;
};

/*
 * Ask the broker about q and apply the verdict and the fail mode. 0: call
 * the real function; *fdp (when fdp is not NULL) is then the broker's
 * connection, to be handed to ew_shim_done once the real call returned,
 * or -1 when the broker was not asked (EXECWARD_FAIL=open). -EACCES:
 * refused (the stderr line is written). EW_SHIM_ESCALATE: run the helper
 * instead, with the token now in token[0..EW_SHIM_TOKEN_SIZE) (a caller
 * that cannot, passing NULL, is refused). errno is unchanged.
 */
int ew_shim_gate(const struct ew_shim_ask *q, char *token, int *fdp);

/*
 * The real call that ew_shim_gate allowed has returned: err is 0 when the
 * program started, else the errno (exec family) or error number
 * (posix_spawn) it failed with, which the broker is told (FAILED) and
 * records. Closes fd (-1: nothing to do). AS; errno is unchanged.
 */
void ew_shim_done(int fd, int err);

/*
 * ew_shim_gate's *fdp for a TOLD on the kept tell connection: that fd
 * with this bit. ew_shim_done gives it back instead of closing it.
 */
#define EW_SHIM_FD_KEPT 0x40000000

/* ---- the kept tell connection (ew_shim_kept.c) ------------------------ */

/*
 * Take the kept tell connection of the process self (getpid()) to path
 * (made now, in at most timeout_ms, when there is none that is still
 * ours; *freshp then 1):
 * its fd, ours until ew_shim_kept_put; or -EBUSY (in use: tell on a
 * connection of one's own), or the connect's error. Not AS.
 */
int
ew_shim_kept_take(const char *path, int timeout_ms, pid_t self, int *freshp);

/*
 * Give the connection taken back; !ok (a send on it failed) closes and
 * forgets it. AS.
 */
void ew_shim_kept_put(int fd, int ok);

/*
 * Does the policy snapshot (ew_shim_snap_as.c, proto/ew_snap.h) let the
 * shim start resolved on its own, telling the broker instead of asking?
 * 1 with *genp the snapshot's generation and *tell_sockp whether TOLDs go
 * to the tell socket (EW_SNAP_F_TELL_SOCKET), else 0 (ask). AS; errno is
 * unchanged.
 */
int ew_shim_snap_tells(const struct ew_shim_config *c, const char *resolved,
    uint64_t *genp, int *tell_sockp);

/* argv for the helper: { "execward-escalate", token, NULL }. */
void ew_shim_helper_argv(char *argv[3], char *token);

/*
 * ew_shim_check flags. MOVED: the child may change directory before its
 * exec (a spawn chdir file action), so ask even when the program is not
 * found from here.
 */
#define EW_SHIM_F_SEARCH 0x1 /* PATH search (the "p" variants) */
#define EW_SHIM_F_MOVED 0x2
/* The caller is posix_spawn, system or popen: see ew_shim_ask.keep. */
#define EW_SHIM_F_KEEP 0x4

/*
 * Ask about starting path, the name the kernel will be given (relative to
 * the cwd unless absolute), called file, with argv and envp: unless the
 * kernel would refuse it with E2BIG (-E2BIG, nothing asked). Otherwise as
 * ew_shim_gate, *fdp included.
 */
int ew_shim_ask_path(uint32_t via, const char *file, const char *path,
    char *const *argv, char *const *envp, char *token, int *fdp);

/*
 * Resolve file as the entry point will and, if it names a program that
 * may run, ask about it (ew_shim_ask_path), for a start with argv and
 * envp. 0: go ahead, *fdp as ew_shim_gate's; EW_SHIM_UNASKED: nothing to
 * ask, libc will fail on its own; -EACCES: refused; -E2BIG: the kernel
 * would refuse it (fail with E2BIG, as it would); EW_SHIM_ESCALATE: run
 * the helper with token (see ew_shim_gate). errno is unchanged.
 */
int ew_shim_check(uint32_t via, const char *file, unsigned flags,
    char *const *argv, char *const *envp, char *token, int *fdp);

/* ---- argument limits (ew_shim_args_as.c), AS -------------------------- */

/*
 * Would the kernel refuse execve(filename, argv, envp) with E2BIG (the
 * stack rlimit's share for arguments, MAX_ARG_STRLEN per string)? 1 when
 * it would, else 0.
 */
int
ew_shim_args_e2big(const char *filename, char *const *argv, char *const *envp);

/* ---- exec core (ew_shim_exec_as.c), AS ------------------------------- */

/*
 * The exec family's common path: repair envp (the caller passes environ
 * for the variants without one), check, then the real execve (search ==
 * 0) or execvpe (search != 0). Returns only on failure: -1, errno set.
 */
int ew_shim_exec(uint32_t via, const char *file, char *const *argv,
    char *const *envp, int search);

#endif /* EW_SHIM_H */
