/* Unit tests of preload/ew_shim_env_as.c: the environment repair. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_env.h"
#include "ew_shim.h"

#define LIB "/x/libexecward.so"
#define SOCK "EXECWARD_SOCKET=/run/s"

/* A session like the one `execward run` gives: socket set, the rest not. */
static struct ew_shim_session
session(void)
{
	struct ew_shim_session s;

	memset(&s, 0, sizeof(s));
	s.lib = LIB;
	s.vars[EW_SHIM_VAR_SOCKET].name = "EXECWARD_SOCKET";
	s.vars[EW_SHIM_VAR_SOCKET].entry = SOCK;
	s.vars[EW_SHIM_VAR_SOCKET].strict = 1;
	s.vars[EW_SHIM_VAR_FAIL].name = "EXECWARD_FAIL";
	s.vars[EW_SHIM_VAR_FAIL].strict = 1;
	s.vars[EW_SHIM_VAR_TIMEOUT].name = "EXECWARD_TIMEOUT";
	s.vars[EW_SHIM_VAR_QUIET].name = "EXECWARD_QUIET";
	return s;
}

/* The repaired environment of envp, as a '|'-joined string (static). */
static const char *
repaired(const struct ew_shim_session *s, char *const *envp)
{
	static char joined[65536];
	struct ew_shim_envbuf eb;
	char *const *out = NULL;
	size_t i;

	cr_assert_eq(ew_shim_env_prepare(s, &eb, envp, &out), 0);
	cr_assert_not_null(out);
	joined[0] = '\0';
	for (i = 0; out[i] != NULL; i++) {
		if (i > 0)
			strcat(joined, "|");
		strcat(joined, out[i]);
	}
	ew_shim_envbuf_release(&eb);
	return joined;
}

/* Assert that envp needs no repair and is handed on as is. */
static void
unchanged(const struct ew_shim_session *s, char *const *envp)
{
	struct ew_shim_envbuf eb;
	char *const *out = NULL;
	size_t np = 1, nb = 1;

	cr_assert_eq(ew_shim_env_check(s, envp, &np, &nb), 0);
	cr_assert_eq(np, 0);
	cr_assert_eq(nb, 0);
	cr_assert_eq(ew_shim_env_prepare(s, &eb, envp, &out), 0);
	cr_assert_eq(out, envp, "no copy when nothing is missing");
	cr_assert_null(eb.map);
}

Test(shim_env, get)
{
	char *env[] = { "A=1", "EXECWARD_SOCKETX=no", "EXECWARD_SOCKET=/s",
		"EXECWARD_SOCKET=/t", "NOEQ", NULL };

	cr_assert_str_eq(ew_env_get(env, "A"), "1");
	cr_assert_str_eq(ew_env_get(env, "EXECWARD_SOCKET"), "/s");
	cr_assert_null(ew_env_get(env, "NOEQ"));
	cr_assert_null(ew_env_get(env, "B"));
	cr_assert_null(ew_env_get(NULL, "A"));
}

Test(shim_env, nothing_missing_no_copy)
{
	struct ew_shim_session s = session();
	char *env[] = { "A=1", "LD_PRELOAD=" LIB, SOCK, "B=2", NULL };
	char *env2[] = { "LD_PRELOAD=" LIB ":/o/other.so", SOCK,
		"EXECWARD_TIMEOUT=5", NULL };

	unchanged(&s, env);
	/* Others after ours, and a variable that was unset at load but is
	 * not strict, are fine as they are. */
	unchanged(&s, env2);
}

Test(shim_env, missing_preload)
{
	struct ew_shim_session s = session();
	char *env[] = { "A=1", SOCK, "B=2", NULL };

	cr_assert_str_eq(repaired(&s, env), "A=1|B=2|" SOCK "|LD_PRELOAD=" LIB);
}

Test(shim_env, ours_not_first)
{
	struct ew_shim_session s = session();
	char *env[] = { "LD_PRELOAD=/o/other.so:" LIB, SOCK, NULL };

	cr_assert_str_eq(
	    repaired(&s, env), SOCK "|LD_PRELOAD=" LIB ":/o/other.so");
}

Test(shim_env, other_entries_kept_in_order)
{
	struct ew_shim_session s = session();
	char *env[] = { "LD_PRELOAD=/a.so /b.so::/c.so ", SOCK, NULL };

	cr_assert_str_eq(
	    repaired(&s, env), SOCK "|LD_PRELOAD=" LIB ":/a.so:/b.so:/c.so");
}

Test(shim_env, duplicates_of_ours_dropped)
{
	struct ew_shim_session s = session();
	char *env[] = { "LD_PRELOAD=/a.so:" LIB ":/other/build/libexecward.so:"
			"libexecward.so:/b/notlibexecward.so",
		SOCK, NULL };

	cr_assert_str_eq(repaired(&s, env),
	    SOCK "|LD_PRELOAD=" LIB ":/a.so:/b/notlibexecward.so");
}

Test(shim_env, empty_preload)
{
	struct ew_shim_session s = session();
	char *env[] = { "LD_PRELOAD=", SOCK, NULL };

	cr_assert_str_eq(repaired(&s, env), SOCK "|LD_PRELOAD=" LIB);
}

Test(shim_env, two_preload_entries_become_one)
{
	struct ew_shim_session s = session();
	/* ld.so uses the last one: an escape if it were left in place. */
	char *env[] = { "LD_PRELOAD=" LIB, SOCK, "LD_PRELOAD=/evil.so", NULL };

	cr_assert_str_eq(
	    repaired(&s, env), SOCK "|LD_PRELOAD=" LIB ":/evil.so");
}

Test(shim_env, missing_socket)
{
	struct ew_shim_session s = session();
	char *env[] = { "LD_PRELOAD=" LIB, "A=1", NULL };

	cr_assert_str_eq(repaired(&s, env), "A=1|" SOCK "|LD_PRELOAD=" LIB);
}

Test(shim_env, other_socket_replaced)
{
	struct ew_shim_session s = session();
	char *env[] = { "EXECWARD_SOCKET=/tmp/mine", "LD_PRELOAD=" LIB, NULL };
	char *env2[] = { SOCK, "LD_PRELOAD=" LIB, SOCK, NULL };

	cr_assert_str_eq(repaired(&s, env), SOCK "|LD_PRELOAD=" LIB);
	cr_assert_str_eq(repaired(&s, env2), SOCK "|LD_PRELOAD=" LIB);
}

Test(shim_env, strict_variable_removed)
{
	struct ew_shim_session s = session();
	char *env[] = { "EXECWARD_FAIL=open", "LD_PRELOAD=" LIB, SOCK, NULL };

	cr_assert_str_eq(repaired(&s, env), SOCK "|LD_PRELOAD=" LIB);
}

Test(shim_env, variables_set_at_load_restored)
{
	struct ew_shim_session s = session();
	char *env[] = { "LD_PRELOAD=" LIB, SOCK, "EXECWARD_TIMEOUT=99", NULL };

	s.vars[EW_SHIM_VAR_FAIL].entry = "EXECWARD_FAIL=open";
	s.vars[EW_SHIM_VAR_TIMEOUT].entry = "EXECWARD_TIMEOUT=3";
	s.vars[EW_SHIM_VAR_QUIET].entry = "EXECWARD_QUIET=1";
	cr_assert_str_eq(repaired(&s, env),
	    SOCK "|EXECWARD_FAIL=open|EXECWARD_TIMEOUT=3|EXECWARD_QUIET=1|"
		 "LD_PRELOAD=" LIB);
}

Test(shim_env, env_i_and_null)
{
	struct ew_shim_session s = session();
	char *empty[] = { NULL };

	cr_assert_str_eq(repaired(&s, empty), SOCK "|LD_PRELOAD=" LIB);
	cr_assert_str_eq(repaired(&s, NULL), SOCK "|LD_PRELOAD=" LIB);
}

Test(shim_env, no_library_path_leaves_preload_alone)
{
	struct ew_shim_session s = session();
	char *env[] = { "LD_PRELOAD=/o/other.so", NULL };

	s.lib = NULL;
	cr_assert_str_eq(repaired(&s, env), "LD_PRELOAD=/o/other.so|" SOCK);
}

Test(shim_env, sizes_are_exact_enough)
{
	struct ew_shim_session s = session();
	char *env[] = { "A=1", "LD_PRELOAD=/a.so", NULL };
	char *ptrs[8], str[128];
	size_t np = 0, nb = 0;

	cr_assert_eq(ew_shim_env_check(&s, env, &np, &nb), 1);
	/* A, the socket, LD_PRELOAD, NULL. */
	cr_assert_eq(np, 4);
	cr_assert_geq(nb, strlen("LD_PRELOAD=" LIB ":/a.so") + 1);
	cr_assert_eq(ew_shim_env_repair(&s, env, ptrs, np, str, nb), 0);
	cr_assert_str_eq(ptrs[2], "LD_PRELOAD=" LIB ":/a.so");
	cr_assert_null(ptrs[3]);
	/* Too little room fails rather than overflowing. */
	cr_assert_eq(
	    ew_shim_env_repair(&s, env, ptrs, np - 1, str, nb), -ENOMEM);
	cr_assert_eq(ew_shim_env_repair(&s, env, ptrs, np, str, 20), -ENOMEM);
}

Test(shim_env, big_environment_is_mapped)
{
	struct ew_shim_session s = session();
	struct ew_shim_envbuf eb;
	char *const *out = NULL;
	size_t n = 5000, i;
	char **env = calloc(n + 1, sizeof(char *));

	cr_assert_not_null(env);
	for (i = 0; i < n; i++) {
		env[i] = malloc(32);
		snprintf(env[i], 32, "VAR%zu=%zu", i, i);
	}
	cr_assert_eq(ew_shim_env_prepare(&s, &eb, env, &out), 0);
	cr_assert_not_null(eb.map, "5000 entries do not fit the stack part");
	for (i = 0; i < n; i++)
		cr_assert_eq(out[i], env[i]);
	cr_assert_str_eq(out[n], SOCK);
	cr_assert_str_eq(out[n + 1], "LD_PRELOAD=" LIB);
	cr_assert_null(out[n + 2]);
	errno = EDOM;
	ew_shim_envbuf_release(&eb);
	cr_assert_eq(errno, EDOM);
	cr_assert_null(eb.map);
	for (i = 0; i < n; i++)
		free(env[i]);
	free(env);
}

/* ---- ASAN_OPTIONS: ASan must accept our library before its runtime ---- */

static struct ew_shim_session
asan_session(void)
{
	struct ew_shim_session s = session();

	s.asan = 1;
	return s;
}

#define PRE "LD_PRELOAD=" LIB
#define ASAN_OFF "verify_asan_link_order=0"

Test(shim_env, asan_option_added_when_missing)
{
	struct ew_shim_session s = asan_session();
	char *env[] = { "A=1", SOCK, PRE, NULL };

	cr_assert_str_eq(
	    repaired(&s, env), "A=1|" SOCK "|ASAN_OPTIONS=" ASAN_OFF "|" PRE);
}

Test(shim_env, asan_option_appended_to_the_callers_options)
{
	struct ew_shim_session s = asan_session();
	char *env[] = { "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1", SOCK,
		PRE, NULL };

	cr_assert_str_eq(repaired(&s, env),
	    SOCK "|ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:" ASAN_OFF
		 "|" PRE);
}

Test(shim_env, asan_option_last_is_left_alone)
{
	struct ew_shim_session s = asan_session();
	char *e1[] = { "ASAN_OPTIONS=" ASAN_OFF, SOCK, PRE, NULL };
	char *e2[] = { SOCK, "ASAN_OPTIONS=detect_leaks=0," ASAN_OFF, PRE,
		NULL };
	char *e3[] = { SOCK, "ASAN_OPTIONS=a=1 " ASAN_OFF ":", PRE, NULL };

	unchanged(&s, e1);
	unchanged(&s, e2);
	unchanged(&s, e3);
}

Test(shim_env, asan_option_that_a_later_one_overrides_is_repaired)
{
	struct ew_shim_session s = asan_session();
	char *env[] = { "ASAN_OPTIONS=" ASAN_OFF ":verify_asan_link_order=1",
		SOCK, PRE, NULL };
	char *lookalike[] = { "ASAN_OPTIONS=xverify_asan_link_order=0", SOCK,
		PRE, NULL };

	cr_assert_str_eq(repaired(&s, env),
	    SOCK "|ASAN_OPTIONS=" ASAN_OFF ":verify_asan_link_order=1:" ASAN_OFF
		 "|" PRE);
	cr_assert_str_eq(repaired(&s, lookalike),
	    SOCK "|ASAN_OPTIONS=xverify_asan_link_order=0:" ASAN_OFF "|" PRE);
}

Test(shim_env, asan_options_twice_become_one_from_the_first)
{
	struct ew_shim_session s = asan_session();
	char *env[] = { "ASAN_OPTIONS=first=1", SOCK,
		"ASAN_OPTIONS=second=1:" ASAN_OFF, PRE, NULL };

	/* ASan reads the first, as getenv does: keep that one, ours last. */
	cr_assert_str_eq(
	    repaired(&s, env), SOCK "|ASAN_OPTIONS=first=1:" ASAN_OFF "|" PRE);
}

Test(shim_env, asan_repair_together_with_preload)
{
	struct ew_shim_session s = asan_session();
	char *env[] = { "LD_PRELOAD=/other.so", "ASAN_OPTIONS=x=1", NULL };

	cr_assert_str_eq(repaired(&s, env),
	    SOCK "|ASAN_OPTIONS=x=1:" ASAN_OFF "|" PRE ":/other.so");
}
