/*
 * Codex's sandbox state into execward's sandbox policy: the permission
 * profile Codex 0.171 puts in every tools/call (params._meta
 * "codex/sandbox-state"), and the older sandboxPolicy of
 * codex/sandbox-state/update. What execward cannot enforce exactly is
 * refused, never loosened: reads cannot be limited (everything stays
 * readable), and a glob or an unknown kind of path has no mapping.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_mcp_int.h"

/* Paths one profile may name (writable and read-only together). */
#define EW_MCP_PROFILE_PATHS_MAX 512

/* A path entry, resolved. */
struct pent {
	char *path;
	bool skip; /* missing_path_behavior "skip" */
};

struct profile {
	const char *cwd; /* sandboxCwd, decoded; NULL: none */
	char cwdbuf[PATH_MAX];
	const struct ew_mcp_val *workspace_roots;
	struct pent w[EW_MCP_PROFILE_PATHS_MAX], r[EW_MCP_PROFILE_PATHS_MAX];
	size_t nw, nr;
	char *globs[EW_MCP_PROFILE_PATHS_MAX]; /* read globs' literal folders */
	size_t ng;
	bool root_read, slash_tmp, tmpdir;
	char *err;
	size_t errlen;
};

static int fail(struct profile *pf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct profile *pf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pf->err, pf->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* %XX's byte, or -1 when XX is not two hex digits or is 00. */
static int
percent_byte(const char *xx)
{
	char hex[3] = { xx[0], xx[0] != '\0' ? xx[1] : '\0', '\0' };
	long v;

	if (!isxdigit((unsigned char)hex[0]) ||
	    !isxdigit((unsigned char)hex[1]))
		return -1;
	v = strtol(hex, NULL, 16);
	return v == 0 ? -1 : (int)v;
}

int
ew_mcp_path_from_uri(const char *s, char *out, size_t outlen)
{
	const char *p = s;
	size_t n = 0;
	int c;

	if (strncmp(s, "file://", 7) == 0) {
		p = s + 7;
		/* file:///x, or file://localhost/x: no other host. */
		if (strncmp(p, "localhost/", 10) == 0)
			p += 9;
		if (*p != '/')
			return -EINVAL;
		for (; *p != '\0' && *p != '?' && *p != '#'; p++) {
			if (n + 1 >= outlen)
				return -ENAMETOOLONG;
			if (*p == '%') {
				if ((c = percent_byte(p + 1)) < 0)
					return -EINVAL;
				out[n++] = (char)c;
				p += 2;
			} else {
				out[n++] = *p;
			}
		}
		out[n] = '\0';
		return 0;
	}
	if (*s != '/')
		return -EINVAL;
	if (strlen(s) >= outlen)
		return -ENAMETOOLONG;
	snprintf(out, outlen, "%s", s);
	return 0;
}

/* Is path inside dir, or dir itself? (lexical: absolute, clean paths) */
static bool
within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

/* An absolute path without "." or ".." parts (they would fool within). */
static bool
clean(const char *p)
{
	const char *s;

	if (p[0] != '/')
		return false;
	for (s = p; *s != '\0'; s++)
		if (s[0] == '/' && s[1] == '.' &&
		    (s[2] == '/' || s[2] == '\0' ||
			(s[2] == '.' && (s[3] == '/' || s[3] == '\0'))))
			return false;
	return true;
}

static int
add(struct profile *pf, bool write, const char *path, bool skip)
{
	struct pent *list = write ? pf->w : pf->r;
	size_t *n = write ? &pf->nw : &pf->nr;

	if (!clean(path))
		return fail(pf,
		    "the path %s is not absolute, or has . or .. in it", path);
	if (*n >= EW_MCP_PROFILE_PATHS_MAX)
		return fail(pf, "too many paths");
	if ((list[*n].path = strdup(path)) == NULL)
		return -ENOMEM;
	list[*n].skip = skip;
	(*n)++;
	return 0;
}

/* A special path (Codex's FileSystemSpecialPath) into the lists. */
static int
special(
    struct profile *pf, const struct ew_mcp_val *value, bool write, bool skip)
{
	const char *kind = ew_mcp_val_str(ew_mcp_val_get(value, "kind"));
	const struct ew_mcp_val *sub = ew_mcp_val_get(value, "subpath");
	const char *subpath = ew_mcp_val_str(sub), *root;
	char path[PATH_MAX * 2];
	size_t i, nroots;
	int r;

	if (kind == NULL)
		return fail(pf, "a special path has no kind");
	if (strcmp(kind, "root") == 0) {
		pf->root_read = true;
		return write ? add(pf, true, "/", skip) : 0;
	}
	if (strcmp(kind, "minimal") == 0) {
		/* The platform's minimum: within "root" when that is read. */
		if (write)
			return fail(
			    pf, "a writable \"minimal\" path has no meaning");
		return 0;
	}
	if (strcmp(kind, "slash_tmp") == 0) {
		if (write)
			pf->slash_tmp = true;
		return write ? 0 : add(pf, false, "/tmp", skip);
	}
	if (strcmp(kind, "tmpdir") == 0) {
		if (!write)
			return fail(
			    pf, "execward cannot keep $TMPDIR read-only");
		pf->tmpdir = true;
		return 0;
	}
	if (strcmp(kind, "current_working_directory") == 0) {
		if (pf->cwd == NULL)
			return fail(pf,
			    "the current_working_directory path needs "
			    "sandboxCwd");
		return add(pf, write, pf->cwd, skip);
	}
	if (strcmp(kind, "project_roots") != 0)
		return fail(pf,
		    "execward does not know the special path kind \"%.64s\""
		    "",
		    kind);
	if (sub != NULL && sub->type != EW_MCP_T_NULL) {
		if (subpath != NULL)
			snprintf(path, sizeof(path), "/%s", subpath);
		if (subpath == NULL || subpath[0] == '/' || !clean(path))
			return fail(pf,
			    "a project_roots subpath must be a relative path "
			    "without . or ..");
	}
	/* The project roots: workspaceRoots when given, else sandboxCwd. */
	nroots = pf->workspace_roots != NULL &&
		pf->workspace_roots->type == EW_MCP_T_ARRAY
	    ? pf->workspace_roots->n
	    : pf->cwd != NULL;
	if (nroots == 0)
		return fail(pf,
		    "the project_roots path needs sandboxCwd or "
		    "workspaceRoots");
	for (i = 0; i < nroots; i++) {
		root = pf->cwd;
		if (pf->workspace_roots != NULL &&
		    pf->workspace_roots->type == EW_MCP_T_ARRAY) {
			root = ew_mcp_val_str(pf->workspace_roots->vals[i]);
			if (root == NULL ||
			    ew_mcp_path_from_uri(root, path, PATH_MAX) != 0)
				return fail(pf,
				    "workspaceRoots must hold absolute paths");
			root = path;
		}
		if (subpath != NULL && *subpath != '\0') {
			if (root != path)
				snprintf(path, sizeof(path), "%s", root);
			snprintf(path + strlen(path),
			    sizeof(path) - strlen(path), "%s%s",
			    path[strlen(path) - 1] == '/' ? "" : "/", subpath);
			root = path;
		}
		if ((r = add(pf, write, root, skip)) != 0)
			return r;
	}
	return 0;
}

/* One entry of file_system.entries. */
static int
entry(struct profile *pf, const struct ew_mcp_val *e, size_t idx)
{
	const char *access = ew_mcp_val_str(ew_mcp_val_get(e, "access"));
	const struct ew_mcp_val *path = ew_mcp_val_get(e, "path");
	const struct ew_mcp_val *mpb =
	    ew_mcp_val_get(e, "missing_path_behavior");
	const char *type = ew_mcp_val_str(ew_mcp_val_get(path, "type"));
	const char *behave = ew_mcp_val_str(mpb), *s;
	char buf[PATH_MAX], *star;
	bool write, skip = false;
	int r;

	(void)idx;
	if (access == NULL || type == NULL)
		return fail(pf, "an entry needs access and path.type");
	if (strcmp(access, "deny") == 0 || strcmp(access, "none") == 0)
		return fail(pf,
		    "execward cannot deny reading a path (access \"%s\"): "
		    "everything stays readable in its sandbox",
		    access);
	if (strcmp(access, "read") != 0 && strcmp(access, "write") != 0)
		return fail(pf, "unknown access \"%.32s\"", access);
	write = access[0] == 'w';
	if (mpb != NULL && mpb->type != EW_MCP_T_NULL) {
		if (behave == NULL ||
		    (strcmp(behave, "skip") != 0 &&
			strcmp(behave, "error") != 0))
			return fail(pf,
			    "unknown missing_path_behavior \"%.32s\"",
			    behave != NULL ? behave : "?");
		skip = strcmp(behave, "skip") == 0;
	}
	if (strcmp(type, "special") == 0)
		return special(pf, ew_mcp_val_get(path, "value"), write, skip);
	if (strcmp(type, "path") == 0) {
		s = ew_mcp_val_str(ew_mcp_val_get(path, "path"));
		if (s == NULL ||
		    (r = ew_mcp_path_from_uri(s, buf, sizeof(buf))) != 0)
			return fail(pf,
			    "a path entry needs an absolute path or a file:// "
			    "URI (got \"%.200s\")",
			    s != NULL ? s : "");
		return add(pf, write, buf, skip);
	}
	if (strcmp(type, "glob_pattern") == 0) {
		s = ew_mcp_val_str(ew_mcp_val_get(path, "pattern"));
		if (write || s == NULL || s[0] != '/')
			return fail(pf,
			    "execward cannot map a %s glob pattern "
			    "(\"%.200s\")",
			    write ? "writable" : "relative",
			    s != NULL ? s : "");
		/* A readable glob matters only inside something writable:
		 * keep the folder before its first wildcard. */
		snprintf(buf, sizeof(buf), "%s", s);
		if ((star = strpbrk(buf, "*?[{")) != NULL)
			*star = '\0';
		if ((star = strrchr(buf, '/')) != NULL)
			star[star == buf ? 1 : 0] = '\0';
		if (pf->ng >= EW_MCP_PROFILE_PATHS_MAX ||
		    (pf->globs[pf->ng] = strdup(buf)) == NULL)
			return -ENOMEM;
		pf->ng++;
		return 0;
	}
	return fail(pf, "unknown path type \"%.32s\"", type);
}

/* The lists into p: writable roots, carve-outs, refusals. */
static int
restricted(struct profile *pf, struct ew_sandbox_policy *p, bool network)
{
	size_t i, j;
	bool same;
	int r;

	if (!pf->root_read)
		return fail(pf,
		    "execward cannot limit what a command reads: the profile "
		    "must let it read the whole file system (a \"root\" "
		    "entry)");
	for (i = 0; i < pf->ng; i++)
		for (j = 0; j < pf->nw; j++)
			if (within(pf->globs[i], pf->w[j].path) ||
			    within(pf->w[j].path, pf->globs[i]))
				return fail(pf,
				    "execward cannot keep a glob pattern "
				    "read-only inside the writable %s",
				    pf->w[j].path);
	ew_sandbox_policy_init(p,
	    pf->nw > 0 || pf->slash_tmp || pf->tmpdir
		? EW_SANDBOX_WORKSPACE_WRITE
		: EW_SANDBOX_READ_ONLY);
	p->network = network;
	p->no_workspace = true;
	p->no_slash_tmp = !pf->slash_tmp;
	p->no_tmpdir = !pf->tmpdir;
	if (pf->cwd != NULL &&
	    (r = ew_sandbox_policy_set_workspace(p, pf->cwd)) != 0)
		return r;
	for (i = 0; i < pf->nw; i++)
		if ((r = ew_sandbox_policy_add_root(p, pf->w[i].path)) != 0)
			return fail(pf, "too many writable paths");
	/*
	 * A read entry inside a writable one is a carve-out; the same path
	 * both ways is writable (write wins, as in Codex). Whether it lies
	 * inside something writable ($TMPDIR among them, known only when
	 * the command starts) is for the sandbox to say: every other read
	 * entry goes to it.
	 */
	for (i = 0; i < pf->nr; i++) {
		same = false;
		for (j = 0; j < pf->nw; j++)
			same |= strcmp(pf->r[i].path, pf->w[j].path) == 0;
		same |= pf->slash_tmp && strcmp(pf->r[i].path, "/tmp") == 0;
		if (same || strcmp(pf->r[i].path, "/") == 0)
			continue;
		for (j = 0; j < pf->nw; j++)
			if (strcmp(pf->w[j].path, pf->r[i].path) != 0 &&
			    within(pf->w[j].path, pf->r[i].path))
				return fail(pf,
				    "execward cannot make %s writable inside "
				    "the read-only %s",
				    pf->w[j].path, pf->r[i].path);
		if ((r = ew_sandbox_policy_add_readonly(
			 p, pf->r[i].path, pf->r[i].skip)) != 0)
			return fail(pf, "too many read-only paths");
	}
	return 0;
}

/* permissionProfile (Codex 0.171's PermissionProfile) into p. */
static int
profile(struct profile *pf, const struct ew_mcp_val *pp,
    struct ew_sandbox_policy *p)
{
	const char *type = ew_mcp_val_str(ew_mcp_val_get(pp, "type"));
	const struct ew_mcp_val *fs = ew_mcp_val_get(pp, "file_system");
	const struct ew_mcp_val *ents = ew_mcp_val_get(fs, "entries");
	const char *net = ew_mcp_val_str(ew_mcp_val_get(pp, "network"));
	const char *fstype = ew_mcp_val_str(ew_mcp_val_get(fs, "type"));
	bool network;
	size_t i;
	int r;

	if (type == NULL)
		return fail(pf, "permissionProfile.type is missing");
	/* No sandbox, or another one that confines the command already. */
	if (strcmp(type, "disabled") == 0 || strcmp(type, "external") == 0) {
		ew_sandbox_policy_init(p, EW_SANDBOX_NONE);
		return 0;
	}
	if (strcmp(type, "managed") != 0)
		return fail(
		    pf, "unknown permissionProfile.type \"%.32s\"", type);
	if (net != NULL && strcmp(net, "restricted") != 0 &&
	    strcmp(net, "enabled") != 0)
		return fail(pf, "unknown network \"%.32s\"", net);
	network = net != NULL && strcmp(net, "enabled") == 0;
	if (fstype != NULL && strcmp(fstype, "unrestricted") == 0) {
		ew_sandbox_policy_init(p, EW_SANDBOX_NONE);
		if (network)
			return 0;
		/* Everything writable, but no network. */
		ew_sandbox_policy_init(p, EW_SANDBOX_WORKSPACE_WRITE);
		p->no_workspace = p->no_slash_tmp = p->no_tmpdir = true;
		return ew_sandbox_policy_add_root(p, "/");
	}
	if (fstype == NULL || strcmp(fstype, "restricted") != 0)
		return fail(pf, "unknown file_system.type \"%.32s\"",
		    fstype != NULL ? fstype : "");
	if (ents != NULL && ents->type != EW_MCP_T_ARRAY &&
	    ents->type != EW_MCP_T_NULL)
		return fail(pf, "file_system.entries must be an array");
	for (i = 0; ents != NULL && ents->type == EW_MCP_T_ARRAY && i < ents->n;
	     i++)
		if ((r = entry(pf, ents->vals[i], i)) != 0)
			return r;
	return restricted(pf, p, network);
}

/* An optional boolean under either name; -1 when it is not a bool. */
static int
opt_bool(
    const struct ew_mcp_val *o, const char *snake, const char *camel, bool *out)
{
	const struct ew_mcp_val *v = ew_mcp_val_get(o, snake);

	if (v == NULL)
		v = ew_mcp_val_get(o, camel);
	if (v == NULL || v->type == EW_MCP_T_NULL)
		return 0;
	if (v->type != EW_MCP_T_BOOL)
		return -1;
	*out = v->b;
	return 0;
}

/*
 * The older SandboxPolicy (Codex's codex/sandbox-state update, and the
 * camelCase of its app server): danger-full-access and external-sandbox run
 * unconfined (the client confines already), read-only and
 * workspace-write as named, the workspace being sandboxCwd.
 */
static int
legacy(struct profile *pf, const struct ew_mcp_val *sp,
    struct ew_sandbox_policy *p)
{
	static const char *const types[][2] = {
		{ "danger-full-access", "dangerFullAccess" },
		{ "read-only", "readOnly" },
		{ "workspace-write", "workspaceWrite" },
		{ "external-sandbox", "externalSandbox" },
	};
	static const enum ew_sandbox_mode modes[] = { EW_SANDBOX_NONE,
		EW_SANDBOX_READ_ONLY, EW_SANDBOX_WORKSPACE_WRITE,
		EW_SANDBOX_NONE };
	const char *type = ew_mcp_val_str(ew_mcp_val_get(sp, "type"));
	const struct ew_mcp_val *roots = ew_mcp_val_get(sp, "writable_roots");
	char buf[PATH_MAX];
	const char *root;
	size_t i, t;

	for (t = 0; type != NULL && t < 4; t++)
		if (strcmp(type, types[t][0]) == 0 ||
		    strcmp(type, types[t][1]) == 0)
			break;
	if (type == NULL || t == 4)
		return fail(pf,
		    "sandboxPolicy.type must be one of danger-full-access, "
		    "read-only, workspace-write, external-sandbox");
	ew_sandbox_policy_init(p, modes[t]);
	if (roots == NULL)
		roots = ew_mcp_val_get(sp, "writableRoots");
	if (opt_bool(sp, "network_access", "networkAccess", &p->network) != 0 ||
	    opt_bool(sp, "exclude_tmpdir_env_var", "excludeTmpdirEnvVar",
		&p->no_tmpdir) != 0 ||
	    opt_bool(sp, "exclude_slash_tmp", "excludeSlashTmp",
		&p->no_slash_tmp) != 0)
		return fail(pf,
		    "sandboxPolicy: network_access, exclude_tmpdir_env_var "
		    "and exclude_slash_tmp must be true or false");
	if (pf->cwd != NULL && p->mode == EW_SANDBOX_WORKSPACE_WRITE &&
	    ew_sandbox_policy_set_workspace(p, pf->cwd) != 0)
		return -ENOMEM;
	if (roots == NULL || roots->type == EW_MCP_T_NULL)
		return 0;
	if (roots->type != EW_MCP_T_ARRAY)
		return fail(pf,
		    "sandboxPolicy: writable_roots must be an array of "
		    "absolute paths");
	for (i = 0; i < roots->n; i++) {
		root = ew_mcp_val_str(roots->vals[i]);
		if (root == NULL ||
		    ew_mcp_path_from_uri(root, buf, sizeof(buf)) != 0)
			return fail(pf,
			    "sandboxPolicy: writable_roots must be an array "
			    "of absolute paths");
		if (p->mode == EW_SANDBOX_WORKSPACE_WRITE &&
		    ew_sandbox_policy_add_root(p, buf) != 0)
			return fail(
			    pf, "sandboxPolicy: too many writable_roots");
	}
	return 0;
}

int
ew_mcp_profile_parse(const struct ew_mcp_val *state,
    struct ew_sandbox_policy *p, char *err, size_t errlen)
{
	const struct ew_mcp_val *pp =
	    ew_mcp_val_get(state, "permissionProfile");
	const struct ew_mcp_val *sp = ew_mcp_val_get(state, "sandboxPolicy");
	const struct ew_mcp_val *cwd = ew_mcp_val_get(state, "sandboxCwd");
	struct profile *pf;
	size_t i;
	int r;

	ew_sandbox_policy_init(p, EW_SANDBOX_NONE);
	if ((pf = calloc(1, sizeof(*pf))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pf->err = err;
	pf->errlen = errlen;
	pf->workspace_roots = ew_mcp_val_get(state, "workspaceRoots");
	if (state == NULL || state->type != EW_MCP_T_OBJECT) {
		r = fail(pf, "the sandbox state must be an object");
		goto out;
	}
	if (cwd != NULL && cwd->type != EW_MCP_T_NULL) {
		if (ew_mcp_val_str(cwd) == NULL ||
		    ew_mcp_path_from_uri(
			cwd->s, pf->cwdbuf, sizeof(pf->cwdbuf)) != 0 ||
		    !clean(pf->cwdbuf)) {
			r = fail(pf,
			    "sandboxCwd must be an absolute path or a file:// "
			    "URI");
			goto out;
		}
		pf->cwd = pf->cwdbuf;
	}
	if (pp != NULL && pp->type != EW_MCP_T_NULL)
		r = profile(pf, pp, p);
	else if (sp != NULL && sp->type != EW_MCP_T_NULL)
		r = legacy(pf, sp, p);
	else
		r = fail(pf,
		    "the sandbox state has neither permissionProfile nor "
		    "sandboxPolicy");
out:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (r != 0)
		ew_sandbox_policy_fini(p);
	for (i = 0; i < pf->nw; i++)
		free(pf->w[i].path);
	for (i = 0; i < pf->nr; i++)
		free(pf->r[i].path);
	for (i = 0; i < pf->ng; i++)
		free(pf->globs[i]);
	free(pf);
	return r;
}
