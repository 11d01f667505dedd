/* Helpers shared by the policy unit tests (tests/test_policy_*.c). */
#ifndef TEST_POLICY_H
#define TEST_POLICY_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_policy.h"

/* Load text as "test.rules" into p (a new policy when p is NULL). */
static inline struct ew_policy *
tp_load(struct ew_policy *p, const char *name, const char *text)
{
	char *diag = NULL;
	int r;

	if (p == NULL)
		p = ew_policy_new();
	cr_assert_not_null(p);
	r = ew_policy_load_buffer(p, name, text, strlen(text), &diag);
	cr_assert_eq(r, 0, "load %s failed: %s", name, diag ? diag : "");
	cr_assert_null(diag, "unexpected diagnostics: %s", diag);
	return p;
}

/* Load text expecting errors; returns the diagnostics (caller frees). */
static inline char *
tp_load_err(const char *text)
{
	struct ew_policy *p = ew_policy_new();
	char *diag = NULL;
	int r;

	r = ew_policy_load_buffer(p, "test.rules", text, strlen(text), &diag);
	cr_assert_neq(r, 0, "load unexpectedly succeeded");
	cr_assert_not_null(diag);
	cr_assert_eq(ew_policy_rule_count(p), 0, "a bad file added rules");
	ew_policy_free(p);
	return diag;
}

/* A NULL-terminated word list as an argv (static storage, 64 words). */
static inline char **
tp_words(const char *first, va_list ap)
{
	static char *w[65];
	size_t n = 0;
	const char *s;

	for (s = first; s != NULL && n < 64; s = va_arg(ap, const char *))
		w[n++] = (char *)s;
	w[n] = NULL;
	return w;
}

/* ew_policy_check of a command given as words, NULL-terminated. */
static inline struct ew_policy_result *
tp_check(const struct ew_policy *p, const struct ew_policy_opts *o,
    const char *first, ...)
{
	struct ew_policy_result *res = NULL;
	va_list ap;
	char **w;
	size_t n = 0;

	va_start(ap, first);
	w = tp_words(first, ap);
	va_end(ap);
	while (w[n] != NULL)
		n++;
	cr_assert_eq(ew_policy_check(p, w, n, o, &res), 0);
	cr_assert_not_null(res);
	return res;
}

/* ew_policy_eval of program + argv given as words, NULL-terminated. */
static inline struct ew_policy_result *
tp_eval(const struct ew_policy *p, const struct ew_policy_opts *o,
    const char *program, const char *first, ...)
{
	struct ew_policy_result *res = NULL;
	va_list ap;
	char **w;

	va_start(ap, first);
	w = tp_words(first, ap);
	va_end(ap);
	cr_assert_eq(ew_policy_eval(p, program, w, o, &res), 0);
	cr_assert_not_null(res);
	return res;
}

/* The words of a match joined by single spaces (static storage). */
static inline const char *
tp_join(const struct ew_policy_match *m)
{
	static char buf[4096];
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < m->nprefix; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    i ? " " : "", m->prefix[i]);
	return buf;
}

/*
 * Expect match i of res: heuristics or a prefix rule, its decision, its
 * words (space-joined), justification and resolved program (NULL: none).
 */
static inline void
tp_expect(const struct ew_policy_result *res, size_t i, bool heuristics,
    enum ew_policy_decision d, const char *words, const char *just,
    const char *resolved)
{
	const struct ew_policy_match *m;

	cr_assert_lt(
	    i, res->nmatches, "no match %zu (have %zu)", i, res->nmatches);
	m = &res->matches[i];
	cr_expect_eq(m->heuristics, heuristics, "match %zu kind", i);
	cr_expect_eq(m->decision, d, "match %zu decision %d, want %d", i,
	    m->decision, d);
	cr_expect_str_eq(tp_join(m), words, "match %zu words", i);
	if (just == NULL)
		cr_expect_null(m->justification, "match %zu justification", i);
	else
		cr_expect_str_eq(
		    m->justification ? m->justification : "", just);
	if (resolved == NULL)
		cr_expect_null(m->resolved_program, "match %zu resolved", i);
	else
		cr_expect_str_eq(
		    m->resolved_program ? m->resolved_program : "", resolved);
	if (heuristics)
		cr_expect_null(m->file);
}

#endif /* TEST_POLICY_H */
