/* Where execward's own files are: the shim library, helpers, defaults. */
#ifndef EW_PATHS_H
#define EW_PATHS_H

#include <stddef.h>

/*
 * Find one of execward's installed files by name ("libexecward.so",
 * "execward-escalate"): the environment variable env_override if set, else
 * next to the running program in the build tree (../preload/NAME), else
 * the install folder. 0 with out filled, or -ENOENT.
 */
int ew_paths_find(
    const char *name, const char *env_override, char *out, size_t outlen);

/* The user's folders of the XDG Base Directory spec that execward uses. */
enum ew_paths_base {
	EW_PATHS_CONFIG, /* $XDG_CONFIG_HOME, else ~/.config */
	EW_PATHS_STATE, /* $XDG_STATE_HOME, else ~/.local/state */
};

/*
 * base/execward/sub into out (the only place the user's folders are
 * worked out): an XDG variable counts when it is absolute; the home is
 * HOME when absolute, else the passwd entry's. 0, -ENOENT when there is
 * no home, or -ENAMETOOLONG.
 */
int ew_paths_home(
    enum ew_paths_base base, const char *sub, char *out, size_t outlen);

/* The default audit log (state, audit.jsonl). 0 or -errno (ew_paths_home). */
int ew_paths_default_audit(char *out, size_t outlen);

/* The default rules folder (config, rules) in buf, or NULL: no home. */
const char *ew_paths_rules_folder(char *buf, size_t len);

/*
 * Search PATH (from the environment; EW_PATH_DEFAULT when unset) for an
 * executable named file, as the shim and glibc's execvpe do
 * (proto/ew_path.h). A name with a slash is taken as it is. Made absolute
 * against the cwd. 0 with out filled, or -errno (ENOENT when not found,
 * EACCES when found but not executable).
 */
int ew_paths_which(const char *file, char *out, size_t outlen);

#endif /* EW_PATHS_H */
