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

/*
 * The default audit log: $XDG_STATE_HOME/execward/audit.jsonl, else
 * ~/.local/state/execward/audit.jsonl. 0 or -ENOENT (no HOME).
 */
int ew_paths_default_audit(char *out, size_t outlen);

/*
 * Search PATH (from the environment; EW_PATH_DEFAULT when unset) for an
 * executable named file, as the shim and glibc's execvpe do
 * (proto/ew_path.h). A name with a slash is taken as it is. Made absolute
 * against the cwd. 0 with out filled, or -errno (ENOENT when not found,
 * EACCES when found but not executable).
 */
int ew_paths_which(const char *file, char *out, size_t outlen);

#endif /* EW_PATHS_H */
