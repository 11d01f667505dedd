/*
 * The other form of a command: the dynamic loader run as a program, and
 * git's global options. Golden files: each tests/data/policy/forms/
 * NAME.cmds (one command a line, in shell words; "# opts:" picks the
 * evaluation options) is evaluated against forms.rules and must print
 * exactly NAME.expected. EW_GOLDEN_WRITE=1 rewrites the .expected files
 * (then read them before committing: they are the specification).
 */
#include <dirent.h>
#include <errno.h>

#include "test_policy.h"

#include "ew_policy_int.h"

static const char *
data_dir(void)
{
	const char *d = getenv("EW_POLICY_DATA");

	cr_assert_not_null(d, "EW_POLICY_DATA is not set (run through meson)");
	return d;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const char *
decision(enum ew_policy_decision d)
{
	const char *s = ew_policy_decision_str(d);

	return s != NULL ? s : "none";
}

static const char *
source(enum ew_policy_source s)
{
	return s == EW_POLICY_SOURCE_RULE      ? "rule"
	    : s == EW_POLICY_SOURCE_HEURISTICS ? "heuristics"
					       : "none";
}

static void
opts_line(const char *line, struct ew_policy_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->heuristics = strstr(line, " heuristics") != NULL;
	o->split_shell = strstr(line, " split") != NULL;
	o->resolve_host_executables = strstr(line, " resolve") != NULL;
	o->programs_asked = strstr(line, " asked") != NULL;
	o->preserve_program_paths = strstr(line, " preserve") != NULL;
}

/* Evaluate one line of a .cmds file and print what it gets to out. */
static void
eval_line(const struct ew_policy *p, const struct ew_policy_opts *o,
    const char *line, struct ew_policy_sb *out)
{
	struct ew_policy_arena a = { 0 };
	struct ew_policy_result *res = NULL;
	char **words = NULL;
	size_t n = 0, i, k;

	cr_assert_eq(ew_policy_shlex_split(line, &a, &words, &n), 0,
	    "bad quoting: %s", line);
	cr_assert_gt(n, 0);
	cr_assert_eq(
	    ew_policy_eval(p, words[0], words, o, &res), 0, "%s", line);
	ew_policy_sb_printf(out, "$ %s\n%s (%s)\n", line,
	    decision(res->decision), source(res->source));
	for (i = 0; i < res->nmatches; i++) {
		const struct ew_policy_match *m = &res->matches[i];

		if (m->heuristics)
			ew_policy_sb_printf(
			    out, "  heuristics %s:", decision(m->decision));
		else
			ew_policy_sb_printf(out, "  %s:%u %s:", m->file,
			    m->line, decision(m->decision));
		for (k = 0; k < m->nprefix; k++)
			ew_policy_sb_printf(out, " %s", m->prefix[k]);
		if (m->resolved_program != NULL)
			ew_policy_sb_printf(
			    out, " (program %s)", m->resolved_program);
		ew_policy_sb_puts(out, "\n");
	}
	ew_policy_result_free(res);
	ew_policy_arena_fini(&a);
}

static void
golden(const struct ew_policy *p, const char *name)
{
	char path[4096], *text, *line, *next, *want;
	struct ew_policy_opts o;
	struct ew_policy_sb out;
	size_t cases = 0;
	FILE *f;

	memset(&o, 0, sizeof(o));
	ew_policy_sb_init(&out, 1u << 20);
	snprintf(path, sizeof(path), "%s/forms/%s.cmds", data_dir(), name);
	text = slurp(path);
	for (line = text; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (strncmp(line, "# opts:", 7) == 0) {
			opts_line(line + 7, &o);
			ew_policy_sb_printf(&out, "%s\n", line);
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		eval_line(p, &o, line, &out);
		cases++;
	}
	cr_assert_eq(out.err, 0);
	snprintf(path, sizeof(path), "%s/forms/%s.expected", data_dir(), name);
	if (getenv("EW_GOLDEN_WRITE") != NULL) {
		cr_assert_not_null(f = fopen(path, "w"));
		fwrite(out.s, 1, out.len, f);
		fclose(f);
	}
	want = slurp(path);
	cr_expect_str_eq(out.s != NULL ? out.s : "", want,
	    "%s.cmds does not give %s.expected; it gives:\n%s", name, name,
	    out.s != NULL ? out.s : "");
	cr_expect_geq(cases, 5, "%s: only %zu cases", name, cases);
	free(want);
	free(text);
	ew_policy_sb_fini(&out);
}

static struct ew_policy *
rules(void)
{
	char path[4096], *text;
	struct ew_policy *p;

	snprintf(path, sizeof(path), "%s/forms/forms.rules", data_dir());
	text = slurp(path);
	p = tp_load(NULL, "forms.rules", text);
	free(text);
	return p;
}

/* git's global options before the subcommand: git(1), every one. */
Test(policy_forms, git_global_options)
{
	struct ew_policy *p = rules();

	golden(p, "git");
	ew_policy_free(p);
}

/* ld.so [OPTION]... PROGRAM [ARG]...: decided as PROGRAM too. */
Test(policy_forms, loader_as_a_program)
{
	struct ew_policy *p = rules();

	golden(p, "loader");
	ew_policy_free(p);
}

/* Without the broker's options. */
Test(policy_forms, plain_options)
{
	struct ew_policy *p = rules();

	golden(p, "plain");
	ew_policy_free(p);
}

/* The form parser alone: where the real command starts. */
Test(policy_forms, where_the_command_starts)
{
	static const struct {
		const char *cmd[8];
		enum ew_policy_form form;
		size_t start;
	} cases[] = {
		{ { "git", "status" }, EW_POLICY_FORM_NONE, 0 },
		{ { "git", "-C", "d", "status" }, EW_POLICY_FORM_GIT, 3 },
		{ { "/usr/bin/git", "--bare", "-p", "log" }, EW_POLICY_FORM_GIT,
		    3 },
		{ { "git", "-C" }, EW_POLICY_FORM_NONE, 0 },
		{ { "git", "--no-pager" }, EW_POLICY_FORM_NONE, 0 },
		{ { "git", "--frob", "status" }, EW_POLICY_FORM_UNKNOWN, 0 },
		{ { "git", "-P", "--version" }, EW_POLICY_FORM_GIT, 2 },
		{ { "gitk", "-C", "d" }, EW_POLICY_FORM_NONE, 0 },
		{ { "ld.so", "/bin/id" }, EW_POLICY_FORM_LOADER, 1 },
		{ { "/lib/ld-linux.so.2", "--audit", "a", "x" },
		    EW_POLICY_FORM_LOADER, 3 },
		{ { "ld64.so.2", "--", "-x" }, EW_POLICY_FORM_LOADER, 2 },
		{ { "ld-2.31.so", "-x" }, EW_POLICY_FORM_LOADER, 1 },
		{ { "ld-musl-x86_64.so.1", "--preload=p", "x" },
		    EW_POLICY_FORM_LOADER, 2 },
		{ { "ld.so", "--version", "/bin/id" }, EW_POLICY_FORM_NONE, 0 },
		{ { "ld.so", "--argv0" }, EW_POLICY_FORM_NONE, 0 },
		{ { "ld.so", "--" }, EW_POLICY_FORM_NONE, 0 },
		{ { "ld.so", "--new", "v", "/bin/id" }, EW_POLICY_FORM_UNKNOWN,
		    0 },
		{ { "ld", "/bin/id" }, EW_POLICY_FORM_NONE, 0 },
		{ { "ldd", "/bin/id" }, EW_POLICY_FORM_NONE, 0 },
		{ { "ld.bfd", "x.o" }, EW_POLICY_FORM_NONE, 0 },
		{ { "ld.sofoo", "x" }, EW_POLICY_FORM_NONE, 0 },
	};
	size_t i, n, start;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (n = 0; n < 8 && cases[i].cmd[n] != NULL; n++)
			;
		cr_expect_eq(ew_policy_form_of(cases[i].cmd, n, &start),
		    cases[i].form, "case %zu (%s %s)", i, cases[i].cmd[0],
		    cases[i].cmd[1]);
		cr_expect_eq(start, cases[i].start, "case %zu start", i);
	}
}
