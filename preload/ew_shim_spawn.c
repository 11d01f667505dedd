/*
 * posix_spawn and posix_spawnp. glibc's posix_spawn runs its child through
 * internal functions that never reach the exported execve, so these are
 * interposed on their own. They run in the caller (never in a vfork
 * child), but use only the async-signal-safe ask path and stack storage.
 * Return convention as libc: an error number, errno left alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>

#include "ew_env.h"
#include "ew_path.h"
#include "ew_shim.h"

extern char **environ;

/*
 * May the child look the program up from another directory? A chdir file
 * action (posix_spawn_file_actions_addchdir_np) runs before the exec, so a
 * relative program, or a PATH with relative elements, may then name a
 * file that does not exist from here: ask even when it is not found.
 */
static int
may_move(const posix_spawn_file_actions_t *fa, const char *file, int search)
{
#ifdef __GLIBC__
	if (fa == NULL || fa->__used <= 0)
		return 0;
#else
	if (fa == NULL)
		return 0;
#endif
	if (file == NULL || file[0] == '/')
		return 0;
	if (search && strchr(file, '/') == NULL)
		return ew_shim_path_has_relative(ew_env_get(environ, "PATH"));
	return 1;
}

/* spawn() flags. */
#define SPAWN_SEARCH 0x1 /* posix_spawnp */
#define SPAWN_COMPAT 0x2 /* the compat version: /bin/sh for ENOEXEC */

/* The argv of /bin/sh FILE ARG... lives on the stack up to this many. */
#define EW_SHIM_SPAWN_SH_STACK 64

typedef int (*spawn_fn)(pid_t *, const char *,
    const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
    char *const[], char *const[]);

/*
 * libc's compat posix_spawn(p) runs a file the kernel refuses with
 * ENOEXEC (no "#!", not ELF) as `/bin/sh FILE ARG...` in the child, where
 * the shim cannot see it. When the file looks like one, that start of
 * /bin/sh is asked about too (both must be allowed), and once the spawn
 * has worked the broker is told that the file itself failed with ENOEXEC
 * and the shell ran. XXX The file is judged by its first bytes: a
 * binfmt_misc format runs directly although /bin/sh was recorded, and a
 * file the kernel refuses despite a "#!" or an ELF header (an empty "#!"
 * line, another architecture) runs /bin/sh unasked.
 */
static int __attribute__((noinline))
compat_spawn(const struct ew_shim_config *c, spawn_fn real, uint32_t via,
    pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *attr, char *const argv[], char *const env[],
    int search, int fd)
{
	char cand[EW_SHIM_CAND_MAX], *stack[EW_SHIM_SPAWN_SH_STACK], **sh;
	const char *path = file;
	size_t argc = 0, len = 0;
	void *map = NULL;
	int shfd = -1, r;

	if (search && strchr(file, '/') == NULL)
		path = ew_path_search(file, ew_env_get(environ, "PATH"), cand,
			   sizeof(cand)) == 0
		    ? cand
		    : NULL;
	if (fd < 0 || path == NULL || !ew_shim_path_needs_shell(path)) {
		r = real(pid, file, fa, attr, argv, env);
		ew_shim_done(fd, r);
		return r;
	}
	while (argv != NULL && argv[argc] != NULL)
		argc++;
	sh = stack;
	if (argc + 2 > EW_SHIM_SPAWN_SH_STACK) {
		len = (argc + 2) * sizeof(char *);
		map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED) {
			ew_shim_done(fd, ENOMEM);
			return ENOMEM;
		}
		sh = map;
	}
	/* As glibc's child builds it: the file as the caller named it. */
	sh[0] = (char *)EW_SHIM_SHELL;
	sh[1] = (char *)(uintptr_t)file;
	if (argc > 1)
		memcpy(sh + 2, argv + 1, argc * sizeof(char *));
	else
		sh[2] = NULL;
	/* An escalation cannot take the shell's place inside libc's child. */
	if (ew_path_probe(AT_FDCWD, EW_SHIM_SHELL, 0) != 0)
		r = EW_SHIM_UNASKED; /* libc's child fails on its own */
	else
		r = ew_shim_ask_path(
		    via, EW_SHIM_SHELL, EW_SHIM_SHELL, sh, env, NULL, &shfd);
	if (r < 0) {
		ew_shim_done(fd, -r);
		r = -r;
	} else {
		r = real(pid, file, fa, attr, argv, env);
		ew_shim_done(fd, r != 0 ? r : ENOEXEC);
		ew_shim_done(shfd, r);
	}
	if (map != NULL)
		(void)munmap(map, len);
	return r;
}

static int
spawn(uint32_t via, pid_t *pid, const char *file,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[], unsigned how)
{
	const struct ew_shim_config *c = ew_shim_config();
	spawn_fn real;
	struct ew_shim_envbuf eb;
	char *const *env = NULL;
	char token[EW_SHIM_TOKEN_SIZE], *helper[3];
	unsigned flags = EW_SHIM_F_KEEP;
	int search = (how & SPAWN_SEARCH) != 0, saved = errno, fd = -1, r;

	if (how & SPAWN_COMPAT)
		real = search ? ew_shim_real_posix_spawnp_compat()
			      : ew_shim_real_posix_spawn_compat();
	else
		real = search ? ew_shim_real_posix_spawnp()
			      : ew_shim_real_posix_spawn();
	if (real == NULL)
		return ENOSYS;
	if ((r = ew_shim_env_prepare(&c->session, &eb, envp, &env)) != 0) {
		errno = saved;
		return -r;
	}
	if (search)
		flags |= EW_SHIM_F_SEARCH;
	/*
	 * XXX After a chdir file action the program is still reported as
	 * resolved from the caller's directory.
	 */
	if (may_move(fa, file, search))
		flags |= EW_SHIM_F_MOVED;
	if ((r = ew_shim_check(via, file, flags, argv, env, token, &fd)) < 0) {
		ew_shim_envbuf_release(&eb);
		errno = saved;
		return -r;
	}
	if (r == EW_SHIM_ESCALATE) {
		/*
		 * The caller's pid is the helper's, and so are the file
		 * actions and attributes: the program gets the fds and
		 * ignored signals they give the helper.
		 */
		ew_shim_helper_argv(helper, token);
		r = ew_shim_real_posix_spawn()(
		    pid, c->helper, fa, attr, helper, env);
	} else if (how & SPAWN_COMPAT)
		r = compat_spawn(
		    c, real, via, pid, file, fa, attr, argv, env, search, fd);
	else {
		/*
		 * The connection stays open through the spawn: the child's
		 * copy closes at its exec. XXX A file action that names a
		 * closed fd (a bug of the caller's) may find the connection
		 * there.
		 */
		r = real(pid, file, fa, attr, argv, env);
		ew_shim_done(fd, r);
	}
	ew_shim_envbuf_release(&eb);
	errno = saved;
	return r;
}

/*
 * Where libc has two versions of posix_spawn(p) (x86_64: GLIBC_2.15, the
 * default, and GLIBC_2.2.5 for programs linked against an older libc),
 * the shim exports both under the same versions by .symver, and each
 * calls its own counterpart in libc. Elsewhere the plain names carry the
 * default version the version script gives them.
 */
#ifdef EW_SHIM_V_POSIX_SPAWN_COMPAT
#define EW_SHIM_POSIX_SPAWN ew_shim_posix_spawn
int
ew_shim_posix_spawn(pid_t *, const char *, const posix_spawn_file_actions_t *,
    const posix_spawnattr_t *, char *const[], char *const[]);
__asm__(".symver ew_shim_posix_spawn,posix_spawn@@" EW_SHIM_V_POSIX_SPAWN);
#else
#define EW_SHIM_POSIX_SPAWN posix_spawn
#endif
#ifdef EW_SHIM_V_POSIX_SPAWNP_COMPAT
#define EW_SHIM_POSIX_SPAWNP ew_shim_posix_spawnp
int
ew_shim_posix_spawnp(pid_t *, const char *, const posix_spawn_file_actions_t *,
    const posix_spawnattr_t *, char *const[], char *const[]);
__asm__(".symver ew_shim_posix_spawnp,posix_spawnp@@" EW_SHIM_V_POSIX_SPAWNP);
#else
#define EW_SHIM_POSIX_SPAWNP posix_spawnp
#endif

EW_SHIM_EXPORT int
EW_SHIM_POSIX_SPAWN(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	return spawn(EW_VIA_POSIX_SPAWN, pid, path, fa, attr, argv, envp, 0);
}

EW_SHIM_EXPORT int
EW_SHIM_POSIX_SPAWNP(pid_t *pid, const char *file,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	return spawn(
	    EW_VIA_POSIX_SPAWNP, pid, file, fa, attr, argv, envp, SPAWN_SEARCH);
}

#ifdef EW_SHIM_V_POSIX_SPAWN_COMPAT
int ew_shim_posix_spawn_compat(pid_t *, const char *,
    const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
    char *const[], char *const[]);
__asm__(".symver "
	"ew_shim_posix_spawn_compat,posix_spawn@" EW_SHIM_V_POSIX_SPAWN_COMPAT);

EW_SHIM_EXPORT int
ew_shim_posix_spawn_compat(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	return spawn(
	    EW_VIA_POSIX_SPAWN, pid, path, fa, attr, argv, envp, SPAWN_COMPAT);
}
#endif

#ifdef EW_SHIM_V_POSIX_SPAWNP_COMPAT
int ew_shim_posix_spawnp_compat(pid_t *, const char *,
    const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
    char *const[], char *const[]);
__asm__(
    ".symver "
    "ew_shim_posix_spawnp_compat,posix_spawnp@" EW_SHIM_V_POSIX_SPAWNP_COMPAT);

EW_SHIM_EXPORT int
ew_shim_posix_spawnp_compat(pid_t *pid, const char *file,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	return spawn(EW_VIA_POSIX_SPAWNP, pid, file, fa, attr, argv, envp,
	    SPAWN_SEARCH | SPAWN_COMPAT);
}
#endif
