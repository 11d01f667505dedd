/* proto/ew_env_as.c: the session's environment, as shim and broker read it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ew_env.h"

Test(env, value_and_get)
{
	char *envp[] = { "A=1", "EXECWARD_SOCKET=/s", "NOEQ", "AB=2", NULL };

	cr_expect_str_eq(ew_env_value("A=1", "A"), "1");
	cr_expect_null(ew_env_value("AB=2", "A"));
	cr_expect_null(ew_env_value("A", "A"));
	cr_expect_str_eq(ew_env_get(envp, EW_ENV_SOCKET), "/s");
	cr_expect_str_eq(ew_env_get(envp, "AB"), "2");
	cr_expect_null(ew_env_get(envp, "NOEQ"));
	cr_expect_null(ew_env_get(NULL, "A"));
}

Test(env, quiet_fail_and_timeout)
{
	cr_expect(!ew_env_quiet(NULL));
	cr_expect(!ew_env_quiet(""));
	cr_expect(!ew_env_quiet("0"));
	cr_expect(ew_env_quiet("1"));
	cr_expect(ew_env_quiet("00"));
	cr_expect(ew_env_fail_open("open"));
	cr_expect(!ew_env_fail_open("closed"));
	cr_expect(!ew_env_fail_open("OPEN"));
	cr_expect(!ew_env_fail_open(NULL));
	cr_expect_eq(ew_env_timeout_s(NULL), EW_ENV_TIMEOUT_DEFAULT);
	cr_expect_eq(ew_env_timeout_s(""), EW_ENV_TIMEOUT_DEFAULT);
	cr_expect_eq(ew_env_timeout_s("0"), EW_ENV_TIMEOUT_DEFAULT);
	cr_expect_eq(ew_env_timeout_s("3s"), EW_ENV_TIMEOUT_DEFAULT);
	cr_expect_eq(ew_env_timeout_s("-1"), EW_ENV_TIMEOUT_DEFAULT);
	cr_expect_eq(ew_env_timeout_s("42"), 42);
	cr_expect_eq(
	    ew_env_timeout_s("99999999999999999999"), EW_ENV_TIMEOUT_MAX);
}

/* Ours first; other preloads kept in order; every copy of execward gone. */
Test(env, preload_built_and_recognised)
{
	const char *old = " /x/libexecward.so:/a/liba.so  /lib/x.so:"
			  "libexecward.so:/b/other-libexecward.so";
	char buf[256];
	size_t n = ew_env_preload_size("/lib/x.so", old);

	cr_assert_leq(n, sizeof(buf));
	cr_assert_eq(ew_env_put_preload(buf, n, "/lib/x.so", old), 0);
	cr_expect_str_eq(
	    buf, "LD_PRELOAD=/lib/x.so:/a/liba.so:/b/other-libexecward.so");
	cr_expect(
	    ew_env_preload_first(buf + strlen("LD_PRELOAD="), "/lib/x.so"));
	cr_expect(!ew_env_preload_first("/a/liba.so:/lib/x.so", "/lib/x.so"));
	cr_expect(!ew_env_preload_first("", "/lib/x.so"));
	/* Too small: refused, never cut. */
	cr_expect_eq(ew_env_put_preload(buf, 12, "/lib/x.so", NULL), -ENOMEM);
	cr_assert_eq(
	    ew_env_put_preload(buf, sizeof(buf), "/lib/x.so", NULL), 0);
	cr_expect_str_eq(buf, "LD_PRELOAD=/lib/x.so");
}

Test(env, asan_option_last)
{
	char buf[128];

	cr_assert_eq(ew_env_put_asan(buf, ew_env_asan_size(NULL), NULL), 0);
	cr_expect_str_eq(buf, "ASAN_OPTIONS=" EW_ENV_ASAN_OPTION);
	cr_assert_eq(ew_env_put_asan(buf, ew_env_asan_size("a=1"), "a=1"), 0);
	cr_expect_str_eq(buf, "ASAN_OPTIONS=a=1:" EW_ENV_ASAN_OPTION);
	cr_expect(ew_env_asan_last(buf + strlen("ASAN_OPTIONS=")));
	cr_expect(ew_env_asan_last("a=1 " EW_ENV_ASAN_OPTION ":"));
	cr_expect(!ew_env_asan_last(EW_ENV_ASAN_OPTION ":a=1"));
	cr_expect(!ew_env_asan_last("x" EW_ENV_ASAN_OPTION));
	cr_expect_eq(ew_env_put_asan(buf, 16, "a=1"), -ENOMEM);
}
