/* Policy engine: Codex-compatible execpolicy rules, heuristics, sh -c splitter.
 */
#ifndef EW_POLICY_H
#define EW_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Rules files are Codex execpolicy files (*.rules, *.codexpolicy): top-level
 * calls of prefix_rule(), host_executable() and network_rule(). Semantics
 * follow Codex: every matching rule is reported, in definition order, and
 * the strictest decision wins (forbidden > prompt > allow).
 *
 * Return convention: 0 on success, negative -EW_E_* (ew_err.h) or -errno.
 * Nothing here prints; the library reads rule files and nothing else.
 */

/* Ordered: a larger value is stricter. */
enum ew_policy_decision {
	EW_POLICY_NONE = 0, /* nothing matched (no heuristics asked for) */
	EW_POLICY_ALLOW,
	EW_POLICY_PROMPT,
	EW_POLICY_FORBIDDEN,
};

enum ew_policy_source {
	EW_POLICY_SOURCE_NONE = 0,
	EW_POLICY_SOURCE_RULE, /* a prefix rule gave the decision */
	EW_POLICY_SOURCE_HEURISTICS, /* only the heuristics did */
};

/*
 * preserve_program_paths: the policy command starts with the program path
 *   as given, not its basename.
 * resolve_host_executables: the policy command starts with the program
 *   path as given; when no rule names that path, rules for its basename
 *   apply, restricted to the paths a host_executable() lists for that name
 *   (any path when none does). Such matches carry resolved_program. This is
 *   Codex's MatchOptions::resolve_host_executables, and the safer setting
 *   for a broker that sees absolute paths.
 * heuristics: a command that no rule matches gets a heuristics match:
 *   "prompt" when ew_policy_might_be_dangerous() says so, else "allow"
 *   (the fallback of Codex's exec-server, evaluate_exec_policy in
 *   posix.rs).
 * split_shell: [bash|sh|zsh|dash, -c|-lc, SCRIPT] whose script splits into
 *   plain commands (ew_policy_split_script) is checked command by command
 *   (Codex's check_multiple); the first word of each gets the same program
 *   name treatment as the program itself.
 * programs_asked: every program a shell script starts will be asked about
 *   on its own (the broker behind the shim), so the heuristics judge a
 *   shell's script that does not split as harmless instead of scanning it
 *   for dangerous commands; those are caught when the shell starts them.
 */
struct ew_policy_opts {
	bool preserve_program_paths;
	bool heuristics;
	bool split_shell;
	bool resolve_host_executables;
	bool programs_asked;
};

struct ew_policy_match {
	bool heuristics; /* heuristicsRuleMatch, else prefixRuleMatch */
	enum ew_policy_decision decision;
	const char *file; /* where the rule was defined; NULL for heuristics */
	unsigned line; /* and for rules added in memory; 0 then */
	char **prefix; /* matchedPrefix, or the command for heuristics */
	size_t nprefix;
	const char *justification; /* NULL when absent */
	const char *resolved_program; /* NULL when absent */
};

struct ew_policy_result {
	enum ew_policy_decision decision; /* strictest; NONE: nothing matched */
	enum ew_policy_source source; /* what produced the decision */
	bool all_rule_allowed; /* every command had an allow rule, nothing
				  stricter */
	size_t nmatches;
	struct ew_policy_match *matches;
};

/* Bounds on what a rules file may hold (a hostile file stays bounded). */
#define EW_POLICY_FILE_MAX (8u * 1024 * 1024) /* bytes per rules file */
#define EW_POLICY_STRING_MAX (64u * 1024) /* bytes per string literal */
#define EW_POLICY_LIST_MAX 4096 /* elements per list literal */
#define EW_POLICY_DEPTH_MAX 8 /* nested list literals */
#define EW_POLICY_ERRORS_MAX 50 /* diagnostics per file */
#define EW_POLICY_RULES_MAX (1u << 20) /* rules per policy */
#define EW_POLICY_DIR_FILES_MAX 4096 /* rules files per folder */

/* An empty policy; NULL when out of memory. Free with ew_policy_free. */
struct ew_policy *ew_policy_new(void);
/* Free p and everything it holds; NULL is a no-op. */
void ew_policy_free(struct ew_policy *p);

/*
 * Load one rules file, or a folder's *.rules and *.codexpolicy files in
 * name order. Files that are group- or world-writable, or owned by someone
 * other than the effective user or root, are refused. Each problem appends
 * a line "FILE:LINE:COL: message\n" (or "FILE: message\n" without a
 * position) to *diag, which must be NULL or an earlier diag string; the
 * caller frees it. A file with any error adds nothing; other files of a
 * folder still load. 0, or negative when anything was refused.
 */
int ew_policy_load(struct ew_policy *p, const char *path, char **diag);

/*
 * Load rules from memory (len bytes of text; name is used in diagnostics
 * and matches). Same rules and diagnostics as ew_policy_load.
 */
int ew_policy_load_buffer(struct ew_policy *p, const char *name,
    const char *text, size_t len, char **diag);

/*
 * Append a literal allow/prompt/forbidden rule in memory (Codex's
 * add_prefix_rule): no alternatives, no justification, no file.
 * -EW_E_INVALID for an empty prefix ("prefix cannot be empty").
 */
int ew_policy_add_prefix_rule(struct ew_policy *p, char *const *tokens,
    size_t ntokens, enum ew_policy_decision d);

/* Number of prefix rules (after first-token alternatives expand). */
size_t ew_policy_rule_count(const struct ew_policy *p);

/*
 * Evaluate a program start. The policy command is [basename(program)] +
 * argv[1..] (argv[0] is not trusted; see struct ew_policy_opts for the
 * program path options); argv may be NULL or empty. Matches for each
 * command are exact first-token prefix matches in definition order.
 *
 * A command is also checked as what it really runs, strictest of both
 * forms (beyond Codex, whose rules miss these): the dynamic loader run as
 * a program (ld-linux-x86-64.so.2 [its options] PROGRAM ARGS: PROGRAM
 * ARGS), and git with its global options cut (git -C DIR -c K=V
 * --no-pager reset --hard: git reset --hard). That form adds only prompt
 * and forbidden matches: an allow rule applies to the command as written.
 * An option of the loader or of git that neither knows today adds a
 * heuristics prompt (with o->heuristics).
 *
 * *out: caller frees with ew_policy_result_free; self-contained (it does
 * not point into p or argv). o NULL means all options off.
 */
int ew_policy_eval(const struct ew_policy *p, const char *program,
    char *const *argv, const struct ew_policy_opts *o,
    struct ew_policy_result **out);

/*
 * Evaluate one already-built policy command (no basename, no splitting):
 * Codex's matches_for_command, with the heuristics fallback when
 * o->heuristics. Same result as ew_policy_eval.
 */
int ew_policy_check(const struct ew_policy *p, char *const *cmd, size_t n,
    const struct ew_policy_opts *o, struct ew_policy_result **out);

/* NULL is a no-op. */
void ew_policy_result_free(struct ew_policy_result *r);

/*
 * Warnings for allow rules whose program takes code from its arguments,
 * its environment or the workspace (shells, interpreters, env, xargs,
 * find, build tools, git with its global options in reach), one line
 * each, "FILE:LINE: warning: ...\n", saying what such a rule lets out of
 * a sandbox. 0 with *out NULL when there is none, or a caller-freed
 * string; -EW_E_NOMEM.
 */
int ew_policy_risky(const struct ew_policy *p, char **out);

/* "allow", "prompt", "forbidden", or NULL for EW_POLICY_NONE. */
const char *ew_policy_decision_str(enum ew_policy_decision d);

/*
 * Append prefix_rule(pattern=[...], decision="allow") to file (creating
 * missing folders and the file) under an advisory lock, unless the
 * identical line is already there; a newline is added first when the file
 * does not end with one (as Codex's execpolicy amend.rs does, so the two
 * may share a file). Tokens must be valid UTF-8 and
 * within the parser's bounds. On failure *err is a caller-freed message.
 */
int ew_policy_append_allow(
    const char *file, char *const *tokens, size_t ntokens, char **err);

/* Network rules, parsed and validated for later use. */
struct ew_policy_network_rule {
	const char *host; /* lower case, no port, no trailing dot */
	const char *protocol; /* http, https, socks5_tcp or socks5_udp */
	enum ew_policy_decision decision; /* "deny" is FORBIDDEN */
	const char *justification; /* NULL when absent */
	const char *file;
	unsigned line;
};

/* Number of network rules, and a borrowed pointer to rule i. */
size_t ew_policy_network_rule_count(const struct ew_policy *p);
const struct ew_policy_network_rule *
ew_policy_network_rule_direct(const struct ew_policy *p, size_t i);

/*
 * Codex's compiled_network_domains: allowed and denied hosts, later rules
 * overriding earlier ones. Two NULL-terminated arrays of borrowed strings;
 * the caller frees the arrays (not the strings).
 */
int ew_policy_network_domains(
    const struct ew_policy *p, const char ***allowed, const char ***denied);

/*
 * The paths host_executable(name=...) allows (the last definition wins),
 * borrowed. -ENOENT when name has no host_executable.
 */
int ew_policy_host_executable_direct(const struct ew_policy *p,
    const char *name, const char *const **paths, size_t *npaths);

/*
 * The program names whose starts p might not allow in place whatever
 * their arguments, under o: named by a rule that is not an allow (by its
 * basename when the rule names a path), or looked into by the evaluator
 * or the heuristics (shells, git, rm, sudo, doas). Names starting with
 * one of ew_policy_ask_prefixes (the dynamic loader's) are such names
 * too. Every other name, evaluated with any arguments, comes to an allow
 * by a rule, the heuristics or the fallback. *out holds *np caller-freed
 * strings (free with ew_policy_ask_names_free), repeats possible.
 * -EW_E_INVALID when o makes no name safe (preserve_program_paths).
 */
int ew_policy_ask_names(const struct ew_policy *p,
    const struct ew_policy_opts *o, char ***out, size_t *np);
void ew_policy_ask_names_free(char **v, size_t n);
extern const char *const ew_policy_ask_prefixes[]; /* NULL-terminated */

/*
 * Heuristics (Codex's core/src/command_safety), on a command as a list of
 * words.
 */

/*
 * Codex's is_known_safe_command: read-only programs (cat, ls, grep, ...,
 * find/rg/base64 without their writing options, sed -n Np, git status,
 * log, diff, show, read-only branch), and bash/sh/zsh -c scripts made only
 * of such commands.
 */
bool ew_policy_is_known_safe(char *const *argv, size_t argc);

/*
 * Codex's command_might_be_dangerous: rm with a force flag, git reset/rm
 * (and branch -d, push --force, clean -f), through sudo, on basenames, and
 * inside sh -c scripts (literal commands anywhere, even in scripts the
 * splitter refuses).
 */
bool ew_policy_might_be_dangerous(char *const *argv, size_t argc);

/*
 * The plain commands of a shell script (Codex's
 * parse_shell_lc_plain_commands, bash.rs).
 */
struct ew_policy_split {
	size_t ncmds;
	struct ew_policy_split_cmd {
		size_t argc;
		char **argv; /* NULL-terminated */
	} * cmds;
};

/* Bounds of the splitter: longer scripts are "not splittable". */
#define EW_POLICY_SPLIT_SCRIPT_MAX (128u * 1024)
#define EW_POLICY_SPLIT_WORDS_MAX 4096

/*
 * Split a script made only of plain words, quotes and && || ; | (and
 * newlines). -EW_E_INVALID when it holds anything else (redirections,
 * $, backquotes, subshells, assignments, keywords, ...), -EW_E_LIMIT when
 * too long. *out: caller frees with ew_policy_split_free.
 */
int ew_policy_split_script(
    const char *script, size_t len, struct ew_policy_split **out);

/*
 * For [bash|sh|zsh|dash (any path), -c|-lc, SCRIPT] exactly: split SCRIPT
 * as above (at least one command). -EW_E_INVALID otherwise.
 */
int ew_policy_split_shell(
    char *const *argv, size_t argc, struct ew_policy_split **out);

/* NULL is a no-op. */
void ew_policy_split_free(struct ew_policy_split *s);

#endif /* EW_POLICY_H */
