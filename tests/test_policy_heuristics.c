/*
 * Safety heuristics: the golden tables of Codex's is_safe_command.rs and
 * is_dangerous_command.rs tests, and the later rm rules.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ew_policy.h"

/* Words separated by single spaces; "\x1f" stands for a space in a word. */
static size_t
words(const char *line, char *buf, size_t n, char **argv)
{
	size_t argc = 0, i;
	char *tok, *save = NULL;

	snprintf(buf, n, "%s", line);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		for (i = 0; tok[i] != '\0'; i++)
			if (tok[i] == '\x1f')
				tok[i] = ' ';
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	return argc;
}

static bool
safe(const char *line)
{
	char buf[1024], *argv[64];
	size_t n = words(line, buf, sizeof(buf), argv);

	return ew_policy_is_known_safe(argv, n);
}

static bool
danger(const char *line)
{
	char buf[1024], *argv[64];
	size_t n = words(line, buf, sizeof(buf), argv);

	return ew_policy_might_be_dangerous(argv, n);
}

#define SAFE(s) cr_expect(safe(s), "should be known safe: %s", s)
#define UNSAFE(s) cr_expect_not(safe(s), "should not be known safe: %s", s)
#define DANGER(s) cr_expect(danger(s), "should be dangerous: %s", s)
#define HARMLESS(s) cr_expect_not(danger(s), "should not be dangerous: %s", s)

Test(policy_heuristics, known_safe_yes)
{
	SAFE("ls");
	SAFE("git status");
	SAFE("base64");
	SAFE("sed -n 1,5p file.txt");
	SAFE("nl -nrz Cargo.toml");
	SAFE("find . -name file.txt");
	SAFE("rg Cargo.toml -n");
	SAFE("numfmt 1000");
	SAFE("tac Cargo.toml");
	SAFE("zsh -lc ls");
	SAFE("bash -lc ls\x1f-1");
	SAFE("bash -lc git\x1fstatus");
	SAFE("bash -lc grep\x1f-R\x1f\"Cargo.toml\"\x1f-n");
	SAFE("bash -lc sed\x1f-n\x1f'1,5p'\x1f"
	     "file.txt");
	SAFE("bash -lc find\x1f.\x1f-name\x1f"
	     "file.txt");
	SAFE("bash -lc grep\x1f-R\x1f\"Cargo.toml\"\x1f-n\x1f||\x1ftrue");
	SAFE("bash -lc ls\x1f&&\x1fpwd");
	SAFE("bash -lc echo\x1f'hi'\x1f;\x1fls");
	SAFE("bash -lc ls\x1f|\x1fwc\x1f-l");
	/* Basenames and the read-only git forms. */
	SAFE("/bin/ls -la");
	SAFE("git -C /repo log --oneline");
	SAFE("git branch");
	SAFE("git branch --show-current");
	SAFE("sed -n 12p");
	SAFE("cat");
}

Test(policy_heuristics, known_safe_no)
{
	UNSAFE("foo");
	UNSAFE("git fetch");
	UNSAFE("sed -n xp file.txt");
	UNSAFE("find . -name file.txt -exec rm {} ;");
	UNSAFE("find . -execdir x");
	UNSAFE("find . -ok x");
	UNSAFE("find . -okdir x");
	UNSAFE("find . -delete");
	UNSAFE("find . -fls x");
	UNSAFE("find . -fprint x");
	UNSAFE("find . -fprint0 x");
	UNSAFE("find . -fprintf x y");
	UNSAFE("base64 -o out.bin");
	UNSAFE("base64 --output out.bin");
	UNSAFE("base64 --output=out.bin");
	UNSAFE("base64 -ob64.txt");
	UNSAFE("rg --search-zip files");
	UNSAFE("rg -z files");
	UNSAFE("rg --pre pwned files");
	UNSAFE("rg --pre=pwned files");
	UNSAFE("rg --hostname-bin pwned files");
	UNSAFE("rg --hostname-bin=pwned files");
	UNSAFE("bash -lc git status");
	UNSAFE("bash -lc 'git\x1fstatus'");
	UNSAFE("bash -lc find\x1f.\x1f-name\x1f"
	       "file.txt\x1f-delete");
	UNSAFE("bash -lc ls\x1f&&\x1frm\x1f-rf\x1f/");
	UNSAFE("bash -lc (ls)");
	UNSAFE("bash -lc ls\x1f||\x1f(pwd\x1f&&\x1f"
	       "echo\x1fhi)");
	UNSAFE("bash -lc ls\x1f>\x1fout.txt");
	/* The later, stricter git rules. */
	UNSAFE("git branch -d feature");
	UNSAFE("git branch new-branch");
	UNSAFE("git checkout status");
	UNSAFE("git log --output=/tmp/x -n 1");
	UNSAFE("git -c core.pager=cat log -n 1");
	UNSAFE("git -ccore.pager=cat status");
	UNSAFE("cargo check");
	UNSAFE("sed -n 1,5p a b");
	UNSAFE("sed -i 1d x");
	UNSAFE("");
}

Test(policy_heuristics, dangerous_yes)
{
	DANGER("git reset");
	DANGER("bash -lc git\x1freset\x1f--hard");
	DANGER("zsh -lc git\x1freset\x1f--hard");
	DANGER("sudo git reset --hard");
	DANGER("/usr/bin/git reset --hard");
	DANGER("rm -rf /");
	DANGER("rm -f /");
	/* Later rm detection. */
	DANGER("/bin/rm -fr /tmp/example");
	DANGER("rm -r -f /tmp/example");
	DANGER("rm --force /tmp/example");
	DANGER("rm /tmp/example -f");
	DANGER("rm -Rf x");
	DANGER("rm -vfR x");
	DANGER("sudo rm -rf /tmp/example");
	DANGER("sudo -u root rm -rf x");
	DANGER("sudo -- rm -f x");
	DANGER("bash -lc printf\x1fx\x1f|\x1frm\x1f-rf\x1f/tmp/example");
	DANGER(
	    "bash -lc if\x1ftest\x1f-d\x1f/t;\x1fthen\x1frm\x1f--force\x1f/t;"
	    "\x1f"
	    "fi");
	DANGER("bash -lc rm\x1f-rf\x1f\"$TARGET\"\x1f>/dev/null");
	DANGER("bash -lc for\x1ft\x1fin\x1f/a;\x1f"
	       "do\x1frm\x1f-r\x1f-f\x1f"
	       "\"$t\";\x1f"
	       "done");
	DANGER("bash -lc echo\x1f\"$(rm\x1f-rf\x1f/tmp/example)\"");
	DANGER("sh -c cd\x1fx\x1f&&\x1fgit\x1f"
	       "clean\x1f-fdx");
	/* The later git forms. */
	DANGER("git -C repo reset --hard");
	DANGER("git rm x");
	DANGER("git branch -D feature");
	DANGER("git branch --delete feature");
	DANGER("git push --force");
	DANGER("git push -f origin main");
	DANGER("git push origin +main");
	DANGER("git push origin :old");
	DANGER("git push --force-with-lease=main");
	DANGER("git clean -fd");
}

Test(policy_heuristics, dangerous_no)
{
	HARMLESS("git status");
	HARMLESS("bash -lc git\x1fstatus");
	HARMLESS("rm -r /tmp/example");
	HARMLESS("rm -- -f");
	HARMLESS("rm x");
	HARMLESS("bash -lc echo\x1f'rm\x1f-rf\x1f/tmp/example'");
	HARMLESS("bash -lc cmd=rm;\x1f$cmd\x1f-rf\x1f/tmp/example");
	HARMLESS("git push origin main");
	HARMLESS("git branch feature");
	HARMLESS("git clean -n");
	HARMLESS("git log -- reset");
	HARMLESS("sudo ls");
	HARMLESS("sudo");
	HARMLESS("python -c rm\x1f-rf\x1f/");
	HARMLESS("bash -lc git\x1freset --hard");
	HARMLESS("");
}
