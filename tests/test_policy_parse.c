/*
 * The parser and loader: golden files (tests/data/policy/bad/NAME.rules
 * with NAME.expected holding the exact diagnostics; ok/ files must load),
 * and the loader's file, folder, permission and size rules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_policy.h"

#include "ew_err.h"

static const char *
data_dir(void)
{
	const char *d = getenv("EW_POLICY_DATA");

	cr_assert_not_null(d, "EW_POLICY_DATA is not set (run through meson)");
	return d;
}

static char *
slurp(const char *path, size_t *len)
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
	*len = (size_t)n;
	return buf;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Every bad/NAME.rules gives exactly bad/NAME.expected, and adds nothing. */
Test(policy_parse, golden_bad_files)
{
	char path[4096], *text, *want, *diag;
	struct dirent *de;
	size_t len, wlen, count = 0;
	struct ew_policy *p;
	DIR *d;

	snprintf(path, sizeof(path), "%s/bad", data_dir());
	cr_assert_not_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (!ends_with(de->d_name, ".rules"))
			continue;
		snprintf(
		    path, sizeof(path), "%s/bad/%s", data_dir(), de->d_name);
		text = slurp(path, &len);
		snprintf(path + strlen(path) - 6, 10, ".expected");
		want = slurp(path, &wlen);
		p = ew_policy_new();
		diag = NULL;
		cr_expect_neq(
		    ew_policy_load_buffer(p, de->d_name, text, len, &diag), 0,
		    "%s loaded", de->d_name);
		cr_expect_str_eq(diag ? diag : "", want,
		    "%s: diagnostics differ:\n%s", de->d_name,
		    diag ? diag : "");
		cr_expect_eq(ew_policy_rule_count(p), 0);
		cr_expect_eq(ew_policy_network_rule_count(p), 0);
		free(diag);
		free(text);
		free(want);
		ew_policy_free(p);
		count++;
	}
	closedir(d);
	cr_expect_geq(count, 50, "only %zu golden files", count);
}

/* Every ok/ rules file loads without a word. */
Test(policy_parse, golden_ok_files)
{
	char path[4096], *text, *diag;
	struct dirent *de;
	struct ew_policy *p;
	size_t len, count = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/ok", data_dir());
	cr_assert_not_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (!ends_with(de->d_name, ".rules"))
			continue;
		snprintf(
		    path, sizeof(path), "%s/ok/%s", data_dir(), de->d_name);
		text = slurp(path, &len);
		p = ew_policy_new();
		diag = NULL;
		cr_expect_eq(
		    ew_policy_load_buffer(p, de->d_name, text, len, &diag), 0,
		    "%s: %s", de->d_name, diag ? diag : "");
		free(diag);
		free(text);
		ew_policy_free(p);
		count++;
	}
	closedir(d);
	cr_expect_geq(count, 5);
}

static struct ew_policy *
load_data(const char *rel)
{
	char path[4096], *text;
	size_t len;
	struct ew_policy *p;

	snprintf(path, sizeof(path), "%s/%s", data_dir(), rel);
	text = slurp(path, &len);
	p = ew_policy_new();
	cr_assert_eq(ew_policy_load_buffer(p, rel, text, len, NULL), 0);
	free(text);
	return p;
}

/* ok/syntax.rules: what each construct decodes to. */
Test(policy_parse, syntax_values)
{
	static const struct ew_policy_opts o = { 0 };
	struct ew_policy *p = load_data("ok/syntax.rules");
	struct ew_policy_result *r;
	const char *const *paths;
	const struct ew_policy_network_rule *nr;
	size_t n;
	char *home = getenv("HOME"), want[4096];

	cr_expect_eq(ew_policy_rule_count(p), 13);
	r = tp_check(p, &o, "double", "single", NULL);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "double single", NULL, NULL);
	cr_expect_eq(r->matches[0].line, 2);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "trailing", "commas", NULL);
	tp_expect(r, 0, false, EW_POLICY_PROMPT, "trailing commas",
	    "triple\nquoted", NULL);
	cr_expect_eq(r->matches[0].line, 3);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "positional", NULL);
	cr_expect_eq(r->decision, EW_POLICY_FORBIDDEN);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "none", NULL);
	tp_expect(r, 0, false, EW_POLICY_ALLOW, "none", NULL, NULL);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "esc", "a\tb\nc",
	    "\xc3\xa9"
	    "AA",
	    "q\"q'q\\q", "it's", "ejoined", NULL);
	cr_expect_eq(r->nmatches, 1);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "raw", "C:\\path\\n", "\\d+", NULL);
	cr_expect_eq(r->nmatches, 1);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "colon", NULL);
	cr_expect_eq(r->nmatches, 1);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "backslash", NULL);
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "single-alt", NULL);
	cr_expect_eq(r->nmatches, 1);
	ew_policy_result_free(r);
	r = tp_check(p, &o, "empty", "", NULL);
	cr_expect_eq(r->nmatches, 1);
	ew_policy_result_free(r);
	cr_assert_eq(ew_policy_host_executable_direct(p, "git", &paths, &n), 0);
	cr_assert_eq(n, home != NULL && home[0] == '/' ? 2 : 1);
	cr_expect_str_eq(paths[0], "/usr/bin/git");
	if (n == 2) {
		snprintf(want, sizeof(want), "%s/bin/git", home);
		cr_expect_str_eq(paths[1], want);
	}
	cr_assert_eq(ew_policy_host_executable_direct(p, "rg", &paths, &n), 0);
	cr_expect_eq(n, 0);
	cr_expect_eq(
	    ew_policy_host_executable_direct(p, "ls", &paths, &n), -ENOENT);
	cr_assert_eq(ew_policy_network_rule_count(p), 2);
	nr = ew_policy_network_rule_direct(p, 0);
	cr_expect_str_eq(nr->host, "example.com");
	cr_expect_str_eq(nr->protocol, "https");
	cr_expect_eq(nr->decision, EW_POLICY_FORBIDDEN);
	cr_expect_str_eq(nr->justification, "no");
	cr_expect_eq(nr->line, 25);
	nr = ew_policy_network_rule_direct(p, 1);
	cr_expect_str_eq(nr->host, "::1");
	cr_expect_str_eq(nr->protocol, "socks5_udp");
	cr_expect_eq(nr->decision, EW_POLICY_PROMPT);
	cr_expect_null(nr->justification);
	ew_policy_free(p);
}

Test(policy_parse, crlf_and_no_newline)
{
	struct ew_policy *p = load_data("ok/crlf.rules");

	cr_expect_eq(ew_policy_rule_count(p), 2);
	ew_policy_free(p);
	p = load_data("ok/no_newline.rules");
	cr_expect_eq(ew_policy_rule_count(p), 1);
	ew_policy_free(p);
}

/* The shipped example folder loads and validates itself. */
Test(policy_parse, example_rules_folder)
{
	const char *dir = getenv("EW_POLICY_RULES_DIR");
	struct ew_policy_opts o = { .heuristics = true,
		.split_shell = true,
		.resolve_host_executables = true };
	struct ew_policy *p = ew_policy_new();
	struct ew_policy_result *r;
	char *diag = NULL;
	struct stat sb;

	cr_assert_not_null(dir);
	/* A checkout made with a loose umask would be refused: skip. */
	cr_assert_eq(stat(dir, &sb), 0);
	if ((sb.st_mode & 022) != 0)
		cr_skip_test("%s is group/world-writable here", dir);
	cr_assert_eq(ew_policy_load(p, dir, &diag), 0, "%s", diag ? diag : "");
	cr_expect_null(diag);
	cr_expect_gt(ew_policy_rule_count(p), 10);
	r = tp_eval(p, &o, "/usr/bin/git", "git", "reset", "--hard", NULL);
	cr_expect_eq(r->decision, EW_POLICY_FORBIDDEN);
	ew_policy_result_free(r);
	r = tp_eval(p, &o, "/opt/other/git", "git", "status", NULL);
	cr_expect(r->matches[0].heuristics, "host_executable limits git");
	ew_policy_result_free(r);
	r = tp_eval(p, &o, "/bin/bash", "bash", "-lc", "ls -l && pwd", NULL);
	cr_expect(r->all_rule_allowed);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* A temporary folder (mode 0700) for loader tests. */
static char tmpdir[64];

static void
mk_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ew_policy_test.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rm_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

static char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char path[4][256];
	static int slot;
	char *p = path[slot++ % 4];
	int fd;

	snprintf(p, 256, "%s/%s", tmpdir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "open %s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(chmod(p, mode), 0);
	return p;
}

TestSuite(policy_load, .init = mk_tmpdir, .fini = rm_tmpdir);

Test(policy_load, file_and_diagnostic_path)
{
	struct ew_policy *p = ew_policy_new();
	char *path, *diag = NULL, want[512];

	path = write_file("a.rules", "prefix_rule(pattern=[\"a\"])\n", 0644);
	cr_expect_eq(ew_policy_load(p, path, &diag), 0);
	cr_expect_null(diag);
	path = write_file("b.rules", "\nprefix_rule(pattern=[1])\n", 0600);
	cr_expect_eq(ew_policy_load(p, path, &diag), -EW_E_INVALID);
	snprintf(want, sizeof(want),
	    "%s:2:22: invalid pattern element: pattern element must be a "
	    "string or list of strings (got int)\n",
	    path);
	cr_expect_str_eq(diag, want);
	/* diag accumulates over calls. */
	cr_expect_eq(ew_policy_load(p, path, &diag), -EW_E_INVALID);
	cr_expect_eq(strlen(diag), 2 * strlen(want));
	free(diag);
	cr_expect_eq(ew_policy_rule_count(p), 1);
	ew_policy_free(p);
}

Test(policy_load, missing_file)
{
	struct ew_policy *p = ew_policy_new();
	char *diag = NULL, want[512];

	snprintf(want, sizeof(want), "%s/none.rules", tmpdir);
	cr_expect_eq(ew_policy_load(p, want, &diag), -ENOENT);
	cr_assert_not_null(diag);
	cr_expect(strncmp(diag, "open ", 5) == 0, "%s", diag);
	cr_expect(strstr(diag, "none.rules") != NULL);
	free(diag);
	ew_policy_free(p);
}

/* Writable by group or others: someone else could write rules: refused. */
Test(policy_load, refuses_writable_files)
{
	struct ew_policy *p = ew_policy_new();
	char *path, *diag = NULL, want[512];

	path = write_file("g.rules", "prefix_rule(pattern=[\"a\"])\n", 0664);
	cr_expect_eq(ew_policy_load(p, path, &diag), -EACCES);
	snprintf(want, sizeof(want),
	    "%s: refusing rules file: writable by group or others (mode "
	    "0664)\n",
	    path);
	cr_expect_str_eq(diag, want);
	free(diag);
	diag = NULL;
	path = write_file("o.rules", "prefix_rule(pattern=[\"a\"])\n", 0602);
	cr_expect_eq(ew_policy_load(p, path, &diag), -EACCES);
	cr_expect(strstr(diag, "(mode 0602)") != NULL, "%s", diag);
	free(diag);
	cr_expect_eq(ew_policy_rule_count(p), 0);
	ew_policy_free(p);
}

/* Owned by someone else (needs root to set up). */
Test(policy_load, refuses_foreign_owner)
{
	struct ew_policy *p = ew_policy_new();
	char *path, *diag = NULL;

	if (geteuid() != 0)
		cr_skip_test("needs root to chown a file");
	path = write_file("u.rules", "prefix_rule(pattern=[\"a\"])\n", 0644);
	cr_assert_eq(chown(path, 4242, 4242), 0);
	cr_expect_eq(ew_policy_load(p, path, &diag), -EACCES);
	cr_expect(strstr(diag,
		      "refusing rules file: owned by uid 4242, not "
		      "by uid 0 or root") != NULL,
	    "%s", diag);
	free(diag);
	ew_policy_free(p);
}

Test(policy_load, folder_in_name_order)
{
	struct ew_policy_opts o = { 0 };
	struct ew_policy *p = ew_policy_new();
	struct ew_policy_result *r;
	char *diag = NULL, sub[512];

	write_file("b.rules",
	    "prefix_rule(pattern=[\"x\"], decision="
	    "\"prompt\")\n",
	    0644);
	write_file("a.codexpolicy", "prefix_rule(pattern=[\"x\"])\n", 0600);
	write_file("c.rules", "prefix_rule(pattern=[\"x\", \"y\"])\n", 0644);
	write_file("notes.txt", "this is not a rules file\n", 0666);
	write_file(".rules", "not a rules file either\n", 0644);
	snprintf(sub, sizeof(sub), "%s/sub.rules", tmpdir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_expect_eq(
	    ew_policy_load(p, tmpdir, &diag), 0, "%s", diag ? diag : "");
	cr_expect_null(diag);
	r = tp_check(p, &o, "x", "y", NULL);
	cr_assert_eq(r->nmatches, 3);
	cr_expect(ends_with(r->matches[0].file, "/a.codexpolicy"));
	cr_expect(ends_with(r->matches[1].file, "/b.rules"));
	cr_expect(ends_with(r->matches[2].file, "/c.rules"));
	cr_expect_eq(r->decision, EW_POLICY_PROMPT);
	ew_policy_result_free(r);
	ew_policy_free(p);
}

/* A folder with one bad file: the others still load; the call fails. */
Test(policy_load, folder_with_a_bad_file)
{
	struct ew_policy *p = ew_policy_new();
	char *diag = NULL;

	write_file("1.rules", "prefix_rule(pattern=[\"a\"])\n", 0644);
	write_file(
	    "2.rules", "prefix_rule(pattern=[\"b\"], decision=1)\n", 0644);
	write_file("3.rules", "prefix_rule(pattern=[\"c\"])\n", 0644);
	cr_expect_eq(ew_policy_load(p, tmpdir, &diag), -EW_E_INVALID);
	cr_expect(strstr(diag,
		      "/2.rules:1:37: prefix_rule: `decision` must "
		      "be a string (got int)\n") != NULL,
	    "%s", diag);
	cr_expect_eq(ew_policy_rule_count(p), 2);
	free(diag);
	ew_policy_free(p);
}

Test(policy_load, refuses_writable_folder)
{
	struct ew_policy *p = ew_policy_new();
	char *diag = NULL;

	write_file("a.rules", "prefix_rule(pattern=[\"a\"])\n", 0644);
	cr_assert_eq(chmod(tmpdir, 0777), 0);
	cr_expect_eq(ew_policy_load(p, tmpdir, &diag), -EACCES);
	cr_expect(strstr(diag,
		      "refusing rules folder: writable by group or "
		      "others (mode 0777)") != NULL,
	    "%s", diag);
	cr_expect_eq(ew_policy_rule_count(p), 0);
	free(diag);
	ew_policy_free(p);
}

Test(policy_load, refuses_fifo_without_blocking)
{
	struct ew_policy *p = ew_policy_new();
	char path[512], *diag = NULL;

	snprintf(path, sizeof(path), "%s/x.rules", tmpdir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_expect_eq(ew_policy_load(p, path, &diag), -EW_E_INVALID);
	cr_expect(strstr(diag, "not a regular file or a folder") != NULL);
	free(diag);
	ew_policy_free(p);
}

Test(policy_load, size_cap)
{
	struct ew_policy *p = ew_policy_new();
	char path[512], *diag = NULL;
	int fd;

	snprintf(path, sizeof(path), "%s/big.rules", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, EW_POLICY_FILE_MAX + 1), 0);
	close(fd);
	cr_expect_eq(ew_policy_load(p, path, &diag), -EW_E_LIMIT);
	cr_expect(
	    strstr(diag, "larger than 8388608 bytes") != NULL, "%s", diag);
	free(diag);
	diag = NULL;
	cr_expect_eq(ew_policy_load_buffer(
			 p, "mem.rules", "", EW_POLICY_FILE_MAX + 1, &diag),
	    -EW_E_LIMIT);
	cr_expect_str_eq(diag, "mem.rules: larger than 8388608 bytes\n");
	free(diag);
	ew_policy_free(p);
}

/* Example validation sees host_executable() from earlier files. */
Test(policy_parse, examples_use_host_executables_so_far)
{
	struct ew_policy *p = tp_load(NULL, "hosts.rules",
	    "host_executable(name=\"git\", paths=[\"/usr/bin/git\"])\n");
	char *diag = NULL;
	const char *bad = "prefix_rule(pattern=[\"git\"], "
			  "match=[\"/usr/local/bin/git log\"])\n";

	cr_expect_neq(
	    ew_policy_load_buffer(p, "t.rules", bad, strlen(bad), &diag), 0);
	cr_expect(strstr(diag,
		      "unmatched examples: [\"/usr/local/bin/git "
		      "log\"]") != NULL,
	    "%s", diag);
	free(diag);
	ew_policy_free(p);
	/* Without the host_executable, any git path matches. */
	p = tp_load(NULL, "t.rules", bad);
	ew_policy_free(p);
}
