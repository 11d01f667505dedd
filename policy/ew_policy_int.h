/* Policy engine internals shared by the policy sources and unit tests. */
#ifndef EW_POLICY_INT_H
#define EW_POLICY_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ew_err.h"
#include "ew_policy.h"

/* A growable string; errors are sticky (err is -EW_E_NOMEM or -EW_E_LIMIT). */
struct ew_policy_sb {
	char *s;
	size_t len, cap, max;
	int err;
};

void ew_policy_sb_init(struct ew_policy_sb *b, size_t max);
void ew_policy_sb_fini(struct ew_policy_sb *b);
void ew_policy_sb_putn(struct ew_policy_sb *b, const char *s, size_t n);
void ew_policy_sb_puts(struct ew_policy_sb *b, const char *s);
void ew_policy_sb_putc(struct ew_policy_sb *b, char c);
void ew_policy_sb_printf(struct ew_policy_sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Take the string (NUL-terminated; NULL on error or when empty). */
char *ew_policy_sb_steal(struct ew_policy_sb *b);

/* Bump allocator made of chunks; everything is freed at once. */
struct ew_policy_arena_chunk;
struct ew_policy_arena {
	struct ew_policy_arena_chunk *head;
};

void *ew_policy_arena_alloc(struct ew_policy_arena *a, size_t n);
char *
ew_policy_arena_strndup(struct ew_policy_arena *a, const char *s, size_t n);
/* Move every chunk of src into dst; src is left empty. */
void ew_policy_arena_splice(
    struct ew_policy_arena *dst, struct ew_policy_arena *src);
void ew_policy_arena_fini(struct ew_policy_arena *a);

/* One position of a pattern after the first: a token or any of several. */
struct ew_policy_ptok {
	uint32_t nalts;
	const char **alts;
};

struct ew_policy_rule {
	const char *first;
	struct ew_policy_ptok *rest;
	uint32_t nrest;
	enum ew_policy_decision decision;
	const char *justification; /* NULL when absent */
	const char *file; /* NULL for rules added in memory */
	unsigned line;
	struct ew_policy_rule *next; /* same first token, definition order */
};

struct ew_policy_host {
	const char *name;
	const char **paths;
	size_t npaths;
};

struct ew_policy_slot {
	uint64_t hash;
	const char *key; /* NULL: empty slot */
	struct ew_policy_rule *head, *tail;
};

struct ew_policy {
	struct ew_policy_arena arena;
	struct ew_policy_slot *slots;
	size_t nslots, nused;
	size_t nrules;
	struct ew_policy_host *hosts;
	size_t nhosts, hosts_cap;
	struct ew_policy_network_rule *net;
	size_t nnet, net_cap;
};

uint64_t ew_policy_hash(const char *s);
/* First rule stored under first token s, or NULL. */
const struct ew_policy_rule *
ew_policy_lookup(const struct ew_policy *p, const char *s);
/* Index r under r->first (r lives in p's arena). */
int ew_policy_insert(struct ew_policy *p, struct ew_policy_rule *r);
/* Length of the prefix of cmd[0..n) that r matches, or 0. */
size_t ew_policy_rule_match(
    const struct ew_policy_rule *r, const char *const *cmd, size_t n);
/* Replace or add a host_executable entry (strings owned by p's arena). */
int ew_policy_set_host(struct ew_policy *p, const struct ew_policy_host *h);
const struct ew_policy_host *
ew_policy_find_host(const struct ew_policy *p, const char *name);

/* The other form of a command (ew_policy_forms.c). */
enum ew_policy_form {
	EW_POLICY_FORM_NONE = 0, /* it runs what it says */
	EW_POLICY_FORM_LOADER, /* cmd[start..]: the program ld.so runs */
	EW_POLICY_FORM_GIT, /* cmd[0] + cmd[start..]: git, global options cut */
	EW_POLICY_FORM_UNKNOWN, /* a loader's or git's option we do not know */
};

/*
 * Which other form cmd[0..n) has: the dynamic loader run as a program
 * (by its name: ld-linux*.so*, ld64.so*, ld-musl-*.so*, ld.so), or git
 * with global options before its subcommand. *start as above.
 */
enum ew_policy_form
ew_policy_form_of(const char *const *cmd, size_t n, size_t *start);

/* Paths. */
/* Last component of s, ignoring trailing slashes; s itself when none. */
const char *ew_policy_basename(const char *s, size_t *len);
/* Lexically normalised absolute path (//, /./, /../ folded); caller frees. */
char *ew_policy_path_normalize(const char *s);

/* The rules-file lexer. */
enum ew_policy_tok_type {
	EW_PT_EOF = 0,
	EW_PT_NEWLINE,
	EW_PT_IDENT,
	EW_PT_STRING,
	EW_PT_INT,
	EW_PT_FLOAT,
	EW_PT_LPAREN,
	EW_PT_RPAREN,
	EW_PT_LBRACK,
	EW_PT_RBRACK,
	EW_PT_LBRACE,
	EW_PT_RBRACE,
	EW_PT_COMMA,
	EW_PT_ASSIGN,
	EW_PT_SEMI,
	EW_PT_COLON,
	EW_PT_OP, /* any other operator; text holds it */
	EW_PT_ERROR, /* msg says what is wrong, at line:col */
};

struct ew_policy_tok {
	enum ew_policy_tok_type type;
	unsigned line, col; /* 1-based; columns count characters */
	const char *text; /* source span (not NUL-terminated) */
	size_t len;
	char *str; /* EW_PT_STRING: decoded value (NUL-terminated) */
	size_t slen;
	const char *msg; /* EW_PT_ERROR: description */
};

struct ew_policy_lexer {
	const char *src;
	size_t len, pos;
	unsigned line, col;
	int depth; /* open brackets: newlines inside are ignored */
	bool line_start; /* nothing but blanks seen on this line */
	bool need_newline; /* a token was emitted since the last NEWLINE */
	struct ew_policy_arena *strings; /* decoded strings go here */
	struct ew_policy_sb buf;
	char msgbuf[128];
};

void ew_policy_lex_init(struct ew_policy_lexer *lx, const char *src, size_t len,
    struct ew_policy_arena *strings);
void ew_policy_lex_fini(struct ew_policy_lexer *lx);
/* Next token. Never fails: problems come back as EW_PT_ERROR. */
void ew_policy_lex_next(struct ew_policy_lexer *lx, struct ew_policy_tok *t);
/* Name of a token type for messages ("string", "`)`", ...). */
const char *ew_policy_tok_name(enum ew_policy_tok_type t);

/* Values of the Starlark subset. */
enum ew_policy_vtype {
	EW_PV_STRING,
	EW_PV_LIST,
	EW_PV_NONE,
	EW_PV_BOOL,
	EW_PV_INT,
	EW_PV_FLOAT,
	EW_PV_ERROR, /* already reported */
};

struct ew_policy_val {
	enum ew_policy_vtype type;
	unsigned line, col;
	const char *s; /* string */
	size_t slen;
	struct ew_policy_val *items; /* list */
	size_t n;
};

struct ew_policy_arg {
	const char *name; /* NULL: positional */
	unsigned line, col;
	struct ew_policy_val *v;
};

/* Pending match / not_match examples of one prefix_rule call. */
struct ew_policy_example {
	char **tok;
	size_t n;
};

struct ew_policy_pending {
	size_t first_rule, nrules; /* in the load state's rules */
	struct ew_policy_example *match, *not_match;
	size_t nmatch, nnot_match;
	unsigned line, col;
};

/* What one file adds, committed only if it has no error. */
struct ew_policy_load_state {
	struct ew_policy *p;
	const char *file; /* in arena */
	struct ew_policy_arena arena; /* rules and strings that persist */
	struct ew_policy_arena tmp; /* examples; freed after the file */
	struct ew_policy_rule **rules;
	size_t nrules, rules_cap;
	struct ew_policy_host *hosts;
	size_t nhosts, hosts_cap;
	struct ew_policy_network_rule *net;
	size_t nnet, net_cap;
	struct ew_policy_pending *pend;
	size_t npend, pend_cap;
	struct ew_policy_sb *diag;
	unsigned nerrors;
	bool stop; /* too many errors or out of memory */
};

/* Report an error at line:col (0:0 for none); counts and caps them. */
void ew_policy_diag(struct ew_policy_load_state *st, unsigned line,
    unsigned col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Parse text into st (the recursive-descent parser). */
void
ew_policy_parse(struct ew_policy_load_state *st, const char *text, size_t len);

/* Apply one top-level call (the builtins). */
void ew_policy_builtin_call(struct ew_policy_load_state *st, const char *fn,
    unsigned line, unsigned col, struct ew_policy_arg *args, size_t nargs);

/* host_executable(name) as the file being loaded sees it, or NULL. */
const struct ew_policy_host *ew_policy_find_host_staged(
    const struct ew_policy_load_state *st, const char *name);

/* Validate every pending example of st (at the end of the file). */
void ew_policy_validate_examples(struct ew_policy_load_state *st);

/* Starlark's type name of a value ("string", "list", "int", ...). */
const char *ew_policy_val_type(const struct ew_policy_val *v);

/*
 * shlex (the Rust crate Codex uses): split s into words (POSIX-like:
 * quotes, backslashes, # comments). -EW_E_INVALID on bad quoting.
 * Words are allocated in a; *words too.
 */
int ew_policy_shlex_split(
    const char *s, struct ew_policy_arena *a, char ***words, size_t *n);
/* shlex::try_join: words quoted for a POSIX shell, joined by spaces. */
void ew_policy_shlex_join(struct ew_policy_sb *b, char *const *words, size_t n);
/* Rust's {:?} of a string: quoted, with \" \\ \n \t \r \u{..} escapes. */
void ew_policy_rust_debug_str(struct ew_policy_sb *b, const char *s);
/* serde_json's string encoding: the line Codex would write. */
void ew_policy_json_str(struct ew_policy_sb *b, const char *s);

/* UTF-8: length of the valid prefix of s[0..n). */
size_t ew_policy_utf8_valid(const char *s, size_t n);

/*
 * Lenient scan of a shell script for the literal simple commands it runs
 * anywhere (pipelines, lists, if/for/while bodies, $(...), backquotes).
 * Words with expansions are left out; a command whose name is not
 * literal is skipped. For the "might be dangerous" heuristic only.
 */
int ew_policy_scan_script(
    const char *script, size_t len, struct ew_policy_split **out);

#endif /* EW_POLICY_INT_H */
