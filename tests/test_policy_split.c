/*
 * The sh -c splitter: Codex's parse_shell_lc_plain_commands and its
 * bash.rs parse_seq goldens.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ew_policy_int.h"

/* Render a split as [[w, w], [w]] for comparison. */
static void
render(const struct ew_policy_split *s, char *buf, size_t n)
{
	size_t i, k, o = 0;

	o += (size_t)snprintf(buf + o, n - o, "[");
	for (i = 0; i < s->ncmds; i++) {
		o += (size_t)snprintf(buf + o, n - o, "%s[", i ? ", " : "");
		for (k = 0; k < s->cmds[i].argc; k++)
			o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"",
			    k ? ", " : "", s->cmds[i].argv[k]);
		cr_expect_null(s->cmds[i].argv[s->cmds[i].argc]);
		o += (size_t)snprintf(buf + o, n - o, "]");
	}
	snprintf(buf + o, n - o, "]");
}

static void
expect_split(const char *script, const char *want)
{
	struct ew_policy_split *s = NULL;
	char buf[4096];
	int r;

	r = ew_policy_split_script(script, strlen(script), &s);
	cr_assert_eq(r, 0, "%s: not split (%d)", script, r);
	render(s, buf, sizeof(buf));
	cr_expect_str_eq(buf, want, "%s", script);
	ew_policy_split_free(s);
}

static void
expect_none(const char *script)
{
	struct ew_policy_split *s = (struct ew_policy_split *)1;

	cr_expect_eq(ew_policy_split_script(script, strlen(script), &s),
	    -EW_E_INVALID, "%s: split", script);
	cr_expect_null(s);
}

/* 3.4 parse_seq, the splittable rows. */
Test(policy_split, golden_plain)
{
	expect_split("ls -1", "[[\"ls\", \"-1\"]]");
	expect_split("ls && pwd; echo 'hi there' | wc -l",
	    "[[\"ls\"], [\"pwd\"], [\"echo\", \"hi there\"], [\"wc\", "
	    "\"-l\"]]");
	expect_split("echo \"hello world\"", "[[\"echo\", \"hello world\"]]");
	expect_split("echo 'hi there'", "[[\"echo\", \"hi there\"]]");
	expect_split("echo 123 456", "[[\"echo\", \"123\", \"456\"]]");
	expect_split("rg -n \"foo\" -g\"*.py\"",
	    "[[\"rg\", \"-n\", \"foo\", \"-g*.py\"]]");
	expect_split("grep -n 'pattern' -g'*.txt'",
	    "[[\"grep\", \"-n\", \"pattern\", \"-g*.txt\"]]");
}

/* 3.4 parse_seq, the rows that give None. */
Test(policy_split, golden_none)
{
	expect_none("(ls)");
	expect_none("ls || (pwd && echo hi)");
	expect_none("ls > out.txt");
	expect_none("echo hi & echo bye");
	expect_none("echo $(pwd)");
	expect_none("echo `pwd`");
	expect_none("echo $HOME");
	expect_none("echo \"hi $USER\"");
	expect_none("FOO=bar ls");
	expect_none("ls &&");
	expect_none("rg -g\"$VAR\" pattern");
	expect_none("rg -g\"${VAR}\" pattern");
	expect_none("rg -g\"$(pwd)\" pattern");
}

/* Later Codex versions: empty command positions, quotes. */
Test(policy_split, later_rules)
{
	expect_none("&& ls");
	expect_none("ls ;; pwd");
	expect_none("ls | | wc");
	expect_none("ls ; ; pwd");
	expect_split("echo \"a\nb\"", "[[\"echo\", \"a\nb\"]]");
	expect_split(
	    "x \"/usr\"'/'\"local\"/bin", "[[\"x\", \"/usr/local/bin\"]]");
}

Test(policy_split, more_plain)
{
	expect_split("ls;", "[[\"ls\"]]");
	expect_split("ls\npwd\n\n", "[[\"ls\"], [\"pwd\"]]");
	expect_split("ls &&\n  pwd", "[[\"ls\"], [\"pwd\"]]");
	expect_split("a || b | c", "[[\"a\"], [\"b\"], [\"c\"]]");
	expect_split("echo '' x", "[[\"echo\", \"\", \"x\"]]");
	expect_split("echo a#b ~/x *.c",
	    "[[\"echo\", \"a#b\", \"~/x\", "
	    "\"*.c\"]]");
	expect_split("git commit -m 'a \"b\" c'",
	    "[[\"git\", \"commit\", \"-m\", \"a \"b\" c\"]]");
	expect_split("  \t", "[]");
	expect_split("", "[]");
}

Test(policy_split, more_none)
{
	expect_none("ls\n&& pwd");
	expect_none("; ls");
	expect_none("ls |& wc");
	expect_none("ls ;& pwd");
	expect_none("ls 2>&1");
	expect_none("cat < in");
	expect_none("ls # comment");
	expect_none("! ls");
	expect_none("{ ls; }");
	expect_none("echo {a,b}");
	expect_none("[ -f x ]");
	expect_none("if true; then ls; fi");
	expect_none("for x in a; do ls; done");
	expect_none("export A=1");
	expect_none("time ls");
	expect_none("\"ls\" -l");
	expect_none("l's' -l");
	expect_none("A+=1 ls");
	expect_none("echo 'unterminated");
	expect_none("echo \"unterminated");
	expect_none("echo a\\ b");
	expect_none("echo \"a\\\"b\"");
	expect_none("ls\r\n");
	expect_none("echo \"\"''");
}

Test(policy_split, embedded_nul_and_limits)
{
	struct ew_policy_split *s = NULL;
	static char big[EW_POLICY_SPLIT_SCRIPT_MAX + 2];
	size_t i;

	cr_expect_eq(ew_policy_split_script("ls\0x", 4, &s), -EW_E_INVALID);
	memset(big, ' ', sizeof(big) - 1);
	big[0] = 'l';
	big[1] = 's';
	cr_expect_eq(
	    ew_policy_split_script(big, sizeof(big) - 1, &s), -EW_E_LIMIT);
	cr_expect_eq(ew_policy_split_script(big, sizeof(big) - 2, &s), 0);
	cr_expect_eq(s->ncmds, 1);
	ew_policy_split_free(s);
	/* Word cap. */
	for (i = 0; i + 1 < sizeof(big) - 1; i += 2) {
		big[i] = 'a';
		big[i + 1] = ' ';
	}
	cr_expect_eq(
	    ew_policy_split_script(big, sizeof(big) - 2, &s), -EW_E_LIMIT);
	cr_expect_null(s);
}

static void
expect_shell(const char *a0, const char *a1, const char *a2, const char *want)
{
	char *argv[] = { (char *)a0, (char *)a1, (char *)a2, NULL };
	struct ew_policy_split *s = NULL;
	char buf[1024];
	int r = ew_policy_split_shell(argv, 3, &s);

	if (want == NULL) {
		cr_expect_eq(r, -EW_E_INVALID, "%s %s %s", a0, a1, a2);
		return;
	}
	cr_assert_eq(r, 0, "%s %s %s", a0, a1, a2);
	render(s, buf, sizeof(buf));
	cr_expect_str_eq(buf, want);
	ew_policy_split_free(s);
}

/* parse_shell_lc_plain_commands: the [shell, -c|-lc, script] form. */
Test(policy_split, shell_form)
{
	char *four[] = { "bash", "-lc", "git", "status", NULL };
	struct ew_policy_split *s = NULL;

	expect_shell("zsh", "-lc", "ls", "[[\"ls\"]]");
	expect_shell("/bin/bash", "-c", "ls && pwd", "[[\"ls\"], [\"pwd\"]]");
	expect_shell("sh", "-c", "ls", "[[\"ls\"]]");
	expect_shell("/usr/bin/dash", "-c", "ls", "[[\"ls\"]]");
	expect_shell("fish", "-c", "ls", NULL);
	expect_shell("bash", "-x", "ls", NULL);
	expect_shell("bash", "-lc", "", NULL);
	expect_shell("bash", "-lc", "ls > x", NULL);
	cr_expect_eq(ew_policy_split_shell(four, 4, &s), -EW_E_INVALID);
}

static void
expect_scan(const char *script, const char *want)
{
	struct ew_policy_split *s = NULL;
	char buf[4096];
	int r;

	r = ew_policy_scan_script(script, strlen(script), &s);
	cr_assert_eq(r, 0, "%s: %d", script, r);
	render(s, buf, sizeof(buf));
	cr_expect_str_eq(buf, want, "%s", script);
	ew_policy_split_free(s);
}

/* The lenient scan: literal commands anywhere. */
Test(policy_split, scan)
{
	expect_scan("printf x | rm -rf /tmp/example",
	    "[[\"printf\", \"x\"], [\"rm\", \"-rf\", \"/tmp/example\"]]");
	expect_scan("if test -d /t; then rm --force /t; fi",
	    "[[\"test\", \"-d\", \"/t\"], [\"rm\", \"--force\", \"/t\"]]");
	expect_scan(
	    "rm -rf \"$TARGET\" >/dev/null 2>&1", "[[\"rm\", \"-rf\"]]");
	expect_scan("for t in /a /b; do rm -r -f \"$t\"; done",
	    "[[\"rm\", \"-r\", \"-f\"]]");
	expect_scan("echo \"$(rm -rf /tmp/x)\"",
	    "[[\"rm\", \"-rf\", \"/tmp/x\"], [\"echo\"]]");
	expect_scan("echo 'rm -rf x'", "[[\"echo\", \"rm -rf x\"]]");
	expect_scan("cmd=rm; $cmd -rf x", "[]");
	expect_scan("A=1 B=$(id -u) sudo rm -fr x",
	    "[[\"id\", \"-u\"], [\"sudo\", \"rm\", \"-fr\", \"x\"]]");
	expect_scan("(cd x && `which rm` -f y)",
	    "[[\"cd\", \"x\"], [\"which\", \"rm\"]]");
	expect_scan("cat <<EOF\nrm -rf /\nEOF\nls", "[[\"cat\"], [\"ls\"]]");
	expect_scan("cat <<-'E'\n\trm -rf /\n\tE\nls", "[[\"cat\"], [\"ls\"]]");
	expect_scan("case $x in a) rm -rf y;; esac",
	    "[[\"rm\", \"-rf\", "
	    "\"y\"]]");
	expect_scan("x=${a:-$(rm -rf z)}", "[[\"rm\", \"-rf\", \"z\"]]");
	expect_scan("ls # rm -rf /", "[[\"ls\"]]");
	expect_scan("diff <(ls a) <(ls b)",
	    "[[\"diff\"], [\"ls\", \"a\"], [\"ls\", \"b\"]]");
}

Test(policy_split, scan_limits)
{
	struct ew_policy_split *s = NULL;
	static char deep[400];
	size_t i;

	for (i = 0; i < 100; i++)
		memcpy(deep + 2 * i, "$(", 2);
	deep[200] = '\0';
	cr_expect_eq(
	    ew_policy_scan_script(deep, strlen(deep), &s), -EW_E_LIMIT);
	cr_expect_null(s);
	cr_expect_eq(ew_policy_scan_script("a\0b", 3, &s), -EW_E_INVALID);
	/* Unterminated constructs end at the end of the script. */
	cr_expect_eq(ew_policy_scan_script("echo \"$(ls 'x", 13, &s), 0);
	ew_policy_split_free(s);
}
