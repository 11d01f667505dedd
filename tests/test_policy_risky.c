/* policy/ew_policy_risky.c: warnings for allow rules that let out more. */
#include "test_policy.h"

/* The warnings for text (caller frees; NULL when none). */
static char *
warnings(const char *text)
{
	struct ew_policy *p = tp_load(NULL, "t.rules", text);
	char *out = NULL;

	cr_assert_eq(ew_policy_risky(p, &out), 0);
	ew_policy_free(p);
	return out;
}

Test(policy_risky, programs_that_run_what_they_are_told)
{
	char *w =
	    warnings("prefix_rule(pattern=[\"ls\"], decision=\"allow\")\n"
		     "prefix_rule(pattern=[\"bash\"], decision=\"allow\")\n"
		     "prefix_rule(pattern=[\"python3.11\", \"x.py\"])\n"
		     "prefix_rule(pattern=[[\"env\", \"xargs\"], \"-0\"])\n"
		     "prefix_rule(pattern=[\"make\"], decision=\"prompt\")\n"
		     "prefix_rule(pattern=[\"find\"], decision=\"forbidden\")\n"
		     "prefix_rule(pattern=[\"/usr/bin/perl\"])\n");

	cr_assert_not_null(w);
	cr_assert_not_null(strstr(w,
	    "t.rules:2: warning: allow rule for "
	    "[\"bash\"]: a shell runs any script"));
	cr_assert_not_null(strstr(w,
	    "t.rules:3: warning: allow rule for "
	    "[\"python3.11\", \"x.py\"]: it runs any "
	    "code it is given"));
	cr_assert_not_null(strstr(w,
	    "t.rules:4: warning: allow rule for "
	    "[\"env\", \"-0\"]: it runs any program"));
	cr_assert_not_null(strstr(w,
	    "t.rules:4: warning: allow rule for "
	    "[\"xargs\", \"-0\"]"));
	cr_assert_not_null(strstr(w,
	    "t.rules:7: warning: allow rule for "
	    "[\"/usr/bin/perl\"]"));
	cr_assert_not_null(strstr(w,
	    "it lets out whatever the sandboxed "
	    "command gets it to run\n"));
	/* Only allow rules, and only risky programs. */
	cr_assert_null(strstr(w, "\"ls\""));
	cr_assert_null(strstr(w, "make"));
	cr_assert_null(strstr(w, "find"));
	/* One line each, in file order. */
	cr_assert_lt(strstr(w, "t.rules:2:"), strstr(w, "t.rules:3:"));
	cr_assert_lt(strstr(w, "t.rules:3:"), strstr(w, "t.rules:7:"));
	free(w);
}

Test(policy_risky, git_with_its_global_options_in_reach)
{
	char *w =
	    warnings("prefix_rule(pattern=[\"git\", \"status\"])\n"
		     "prefix_rule(pattern=[\"git\", [\"log\", \"diff\"]])\n"
		     "prefix_rule(pattern=[\"git\"])\n"
		     "prefix_rule(pattern=[\"git\", [\"status\", \"-c\"]])\n");

	cr_assert_not_null(w);
	cr_assert_null(strstr(w, "t.rules:1:"));
	cr_assert_null(strstr(w, "t.rules:2:"));
	cr_assert_not_null(strstr(w,
	    "t.rules:3: warning: allow rule for "
	    "[\"git\"]: any git command: git -c"));
	cr_assert_not_null(strstr(w,
	    "t.rules:4: warning: allow rule for "
	    "[\"git\", \"status\"|...]: git's global "
	    "options"));
	free(w);
}

Test(policy_risky, nothing_to_say)
{
	cr_assert_null(
	    warnings("prefix_rule(pattern=[\"ls\"])\n"
		     "prefix_rule(pattern=[\"git\", \"status\"])\n"));
	cr_assert_null(warnings(""));
}
