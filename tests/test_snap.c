/*
 * The policy snapshot (proto/ew_snap.h): built, checked and looked up as
 * the broker and the shim do, and a forged or broken one refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_snap.h"

static const char *const prefixes[] = { "ld-", "ld64", "ld.so" };

static struct ew_snap_hdr *
build(uint32_t flags, const char *const *names, size_t n, size_t *lenp)
{
	void *p = NULL;

	cr_assert_eq(
	    ew_snap_build(7, flags, names, n, prefixes, 3, &p, lenp), 0);
	cr_assert_eq(ew_snap_check(p, *lenp), 0);
	return p;
}

static enum ew_snap_verdict
look(const struct ew_snap_hdr *h, const char *name)
{
	return ew_snap_lookup(h, name, strlen(name));
}

Test(snap, listed_names_and_prefixes_ask_the_rest_tell)
{
	const char *names[] = { "rm", "git", "sh", "rm", "curl" };
	size_t len;
	struct ew_snap_hdr *h = build(EW_SNAP_F_LOCAL, names, 5, &len);

	cr_expect_eq(h->generation, 7);
	cr_expect_eq(look(h, "rm"), EW_SNAP_ASK);
	cr_expect_eq(look(h, "git"), EW_SNAP_ASK);
	cr_expect_eq(look(h, "curl"), EW_SNAP_ASK);
	cr_expect_eq(look(h, "ld-linux-x86-64.so.2"), EW_SNAP_ASK);
	cr_expect_eq(look(h, "ld.so"), EW_SNAP_ASK);
	cr_expect_eq(look(h, "true"), EW_SNAP_TELL);
	cr_expect_eq(look(h, "ld"), EW_SNAP_TELL);
	cr_expect_eq(look(h, "r"), EW_SNAP_TELL);
	cr_expect_eq(look(h, "rmx"), EW_SNAP_TELL);
	/* A prefix of a name, a name of its own: no match by halves. */
	cr_expect_eq(ew_snap_lookup(h, "rmdir", 2), EW_SNAP_ASK);
	cr_expect_eq(look(h, ""), EW_SNAP_ASK);
	cr_expect_eq(look(h, "."), EW_SNAP_ASK);
	cr_expect_eq(look(h, ".."), EW_SNAP_ASK);
	cr_expect_eq(look(h, "a/b"), EW_SNAP_ASK);
	free(h);
}

Test(snap, without_local_decisions_everything_asks)
{
	size_t len;
	struct ew_snap_hdr *h = build(0, NULL, 0, &len);

	cr_expect_eq(look(h, "true"), EW_SNAP_ASK);
	free(h);
}

Test(snap, many_names)
{
	char buf[5000][12];
	const char *names[5000];
	size_t len, i;
	struct ew_snap_hdr *h;

	for (i = 0; i < 5000; i++) {
		snprintf(buf[i], sizeof(buf[i]), "p%zu", i);
		names[i] = buf[i];
	}
	h = build(EW_SNAP_F_LOCAL, names, 5000, &len);
	for (i = 0; i < 5000; i++)
		cr_assert_eq(look(h, buf[i]), EW_SNAP_ASK, "%s", buf[i]);
	cr_expect_eq(look(h, "p5000"), EW_SNAP_TELL);
	free(h);
}

Test(snap, a_long_name_asks)
{
	char name[EW_SNAP_NAME_MAX + 8];
	size_t len;
	struct ew_snap_hdr *h = build(EW_SNAP_F_LOCAL, NULL, 0, &len);

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_expect_eq(look(h, name), EW_SNAP_ASK);
	free(h);
}

/* Every single-byte change and every truncation: refused, or harmless. */
Test(snap, broken_and_forged_snapshots_are_refused_or_bounded)
{
	const char *names[] = { "rm", "git" };
	size_t len, i, cut;
	struct ew_snap_hdr *h = build(EW_SNAP_F_LOCAL, names, 2, &len);
	unsigned char *copy = malloc(len);
	const unsigned char vals[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
	size_t v;

	cr_assert_not_null(copy);
	for (cut = 0; cut < len; cut++)
		cr_expect_neq(ew_snap_check(h, cut), 0, "cut at %zu", cut);
	for (i = 0; i < len; i++)
		for (v = 0; v < sizeof(vals); v++) {
			memcpy(copy, h, len);
			copy[i] = vals[v];
			if (ew_snap_check(copy, len) != 0)
				continue;
			/* Accepted: lookups stay inside (ASan would say). */
			(void)look((struct ew_snap_hdr *)copy, "rm");
			(void)look((struct ew_snap_hdr *)copy, "true");
			(void)look((struct ew_snap_hdr *)copy, "ld-x");
		}
	/* A full table with no empty slot still ends. */
	memcpy(copy, h, len);
	{
		struct ew_snap_hdr *c = (struct ew_snap_hdr *)copy;
		uint32_t *slot = (uint32_t *)(copy + sizeof(*c));

		for (i = 0; i < c->nslots; i++)
			slot[i] = 1;
		cr_assert_eq(ew_snap_check(copy, len), 0);
		cr_expect_eq(look(c, "true"), EW_SNAP_ASK);
	}
	free(copy);
	free(h);
}

Test(snap, the_stamp)
{
	size_t len;
	struct ew_snap_hdr *h = build(EW_SNAP_F_LOCAL, NULL, 0, &len);

	cr_expect_eq(ew_snap_alive(h), 0, "never stamped");
	h->alive_ms = ew_snap_now_ms();
	cr_expect_eq(ew_snap_alive(h), 1);
	h->alive_ms -= EW_SNAP_ALIVE_MS + 1;
	cr_expect_eq(ew_snap_alive(h), 0, "stale");
	h->alive_ms += 2 * (EW_SNAP_ALIVE_MS + 1);
	cr_expect_eq(ew_snap_alive(h), 0, "from another clock");
	free(h);
}
