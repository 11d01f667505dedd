/*
 * Tests for proto/ew_proto.c (messages, caps, transport) and proto/ew_err.c.
 * Decoders always read from an exactly-sized heap copy of the input, so the
 * ASan run catches any read past a message's end.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_buf.h"
#include "ew_err.h"
#include "ew_fd.h"
#include "ew_proto.h"
#include "ew_sock.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* An exactly-sized heap copy (at least one byte, so malloc never fails
 * for an empty input). */
static unsigned char *
exact_copy(const void *data, size_t len)
{
	unsigned char *p = malloc(len == 0 ? 1 : len);

	cr_assert_not_null(p);
	if (len > 0)
		memcpy(p, data, len);
	return p;
}

static struct ew_buf *
heap(void)
{
	struct ew_buf *b = ew_buf_new(EW_PROTO_MSG_MAX);

	cr_assert_not_null(b);
	return b;
}

/* A string of n bytes, each a letter that depends on seed and position. */
static char *
pattern(size_t n, size_t seed)
{
	char *s = malloc(n + 1);
	size_t i;

	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		s[i] = (char)('a' + (seed * 31 + i) % 26);
	s[n] = '\0';
	return s;
}

static const char *
nz(const char *s)
{
	return s == NULL ? "" : s;
}

static void
assert_ask_eq(const struct ew_msg_ask *m, const struct ew_ask *a)
{
	size_t i, bytes = 0;

	cr_assert_eq(m->via, a->via);
	cr_assert_eq(m->pid, a->pid);
	cr_assert_eq(m->ppid, a->ppid);
	cr_assert_str_eq(m->cwd, nz(a->cwd));
	cr_assert_str_eq(m->file, nz(a->file));
	cr_assert_str_eq(m->resolved, nz(a->resolved));
	for (i = 0; a->argv != NULL && a->argv[i] != NULL; i++) {
		cr_assert_lt(i, m->argc, "argc too small");
		cr_assert_str_eq(m->argv[i], a->argv[i], "argv[%zu]", i);
		bytes += strlen(a->argv[i]);
	}
	cr_assert_eq(m->argc, i);
	cr_assert_null(m->argv[m->argc]);
	cr_assert_eq(m->arg_bytes, bytes);
}

/* Encode a, checking that ew_proto_ask_size predicted the exact length. */
static struct ew_buf *
encode_ask(const struct ew_ask *a)
{
	struct ew_buf *b = heap();
	size_t size = 0;

	cr_assert_eq(ew_proto_ask_size(a, &size), 0);
	cr_assert_eq(ew_proto_put_ask(b, a), 0);
	cr_assert_eq(ew_buf_len(b), size, "ask_size %zu, encoded %zu", size,
	    ew_buf_len(b));
	return b;
}

/* Header then the ASK decoder, on an exact copy. On failure the buffer
 * must be where the header left it. */
static int
decode_ask(const void *data, size_t len, struct ew_msg_ask **out)
{
	unsigned char *p = exact_copy(data, len);
	struct ew_buf b, saved;
	uint32_t type;
	int r;

	*out = NULL;
	ew_buf_init_ro(&b, p, len);
	if ((r = ew_proto_get_header(&b, &type)) == 0) {
		cr_assert_eq(type, EW_MSG_ASK);
		saved = b;
		r = ew_proto_get_ask(&b, out);
		if (r != 0) {
			cr_assert_null(*out);
			cr_assert_eq(b.off, saved.off);
			cr_assert_eq(b.size, saved.size);
		} else
			cr_assert_eq(ew_buf_len(&b), 0);
	}
	free(p);
	return r;
}

/*
 * Decode any message the way a peer would: header, then the decoder for its
 * type. The encoding is canonical, so whatever decodes must encode back to
 * exactly the input bytes: a corrupted message is either rejected or means
 * precisely what it says.
 */
static int
decode_any(const void *data, size_t len)
{
	unsigned char *p = exact_copy(data, len);
	struct ew_msg_escalate *esc = NULL;
	struct ew_msg_confine *conf = NULL;
	struct ew_confine c;
	struct ew_msg_answer ans;
	struct ew_msg_ask *ask = NULL;
	struct ew_buf b, saved, *re = heap();
	struct ew_ask a;
	uint32_t type;
	int r, v;

	ew_buf_init_ro(&b, p, len);
	if ((r = ew_proto_get_header(&b, &type)) != 0)
		goto out;
	saved = b;
	switch (type) {
	case EW_MSG_ASK:
		if ((r = ew_proto_get_ask(&b, &ask)) == 0) {
			a.via = ask->via;
			a.pid = ask->pid;
			a.ppid = ask->ppid;
			a.cwd = ask->cwd;
			a.file = ask->file;
			a.resolved = ask->resolved;
			a.argv = ask->argv;
			cr_assert_eq(ew_proto_put_ask(re, &a), 0);
			ew_msg_ask_free(ask);
		}
		break;
	case EW_MSG_ANSWER:
		if ((r = ew_proto_get_answer(&b, &ans)) == 0)
			cr_assert_eq(ew_proto_put_answer(re, ans.verdict,
					 ans.reason, ans.token),
			    0);
		break;
	case EW_MSG_HEARTBEAT:
		r = ew_buf_len(&b) == 0 ? 0 : -EW_E_TRAILING;
		if (r == 0)
			cr_assert_eq(ew_proto_put_heartbeat(re), 0);
		break;
	case EW_MSG_ESCALATE:
		if ((r = ew_proto_get_escalate(&b, &esc)) == 0) {
			cr_assert_eq(
			    ew_proto_put_escalate(re, esc->token, esc->envp),
			    0);
			ew_msg_escalate_free(esc);
		}
		break;
	case EW_MSG_CONFINE:
		if ((r = ew_proto_get_confine(&b, &conf)) == 0) {
			c.path = conf->path;
			c.argv = conf->argv;
			c.socket = conf->socket;
			c.flags = conf->flags;
			c.bpf = conf->bpf;
			c.bpf_len = conf->bpf_len;
			cr_assert_eq(ew_proto_put_confine(re, &c), 0);
			ew_msg_confine_free(conf);
		}
		break;
	case EW_MSG_SIGNAL:
		if ((r = ew_proto_get_signal(&b, &v)) == 0)
			cr_assert_eq(ew_proto_put_signal(re, v), 0);
		break;
	case EW_MSG_EXIT:
		if ((r = ew_proto_get_exit(&b, &v)) == 0)
			cr_assert_eq(ew_proto_put_exit(re, v), 0);
		break;
	default:
		/* LARGE is transport framing, never a message to decode. */
		r = -EW_E_TYPE;
		break;
	}
	if (r != 0) {
		cr_assert_eq(b.off, saved.off, "decoder moved off on failure");
		cr_assert_eq(b.size, saved.size);
	} else {
		cr_assert_eq(ew_buf_len(&b), 0);
		cr_assert_eq(ew_buf_len(re), len, "re-encoded %zu, got %zu",
		    ew_buf_len(re), len);
		cr_assert_arr_eq(ew_buf_ptr(re), data, len,
		    "decoded message does not re-encode to its input");
	}
out:
	ew_buf_free(re);
	free(p);
	return r;
}

static char *sample_argv[] = { "ls", "-la", "", "with space",
	"\xc3\xbc\xc3\xa9", "--color=auto", NULL };
static const struct ew_ask sample_ask = {
	.via = EW_VIA_EXECVP,
	.pid = 4242,
	.ppid = 1,
	.cwd = "/home/user/work",
	.file = "ls",
	.resolved = "/usr/bin/ls",
	.argv = sample_argv,
};

static const unsigned char sample_bpf[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0,
	0, 0xff, 0, 0, 1 };
static char *sample_confine_argv[] = { "ls", "-la", "", NULL };
static const struct ew_confine sample_confine = {
	.path = "/usr/bin/sh",
	.argv = sample_confine_argv,
	.socket = "/run/user/1/execward/s.x/i",
	.flags = EW_PROTO_CONFINE_SH_FALLBACK,
	.bpf = sample_bpf,
	.bpf_len = sizeof(sample_bpf),
};

static char *sample_envp[] = { "PATH=/usr/bin:/bin", "HOME=/root",
	"EMPTY=", "X=y=z", NULL };

/* ------------------------------------------------------------------ */
/* Header and via names                                                 */

Test(proto, via_names)
{
	uint32_t v;

	cr_assert_str_eq(ew_proto_via_name(EW_VIA_EXECVE), "execve");
	cr_assert_str_eq(
	    ew_proto_via_name(EW_VIA_POSIX_SPAWNP), "posix_spawnp");
	cr_assert_str_eq(ew_proto_via_name(EW_VIA_RUN), "run");
	cr_assert_str_eq(
	    ew_proto_via_name(EW_VIA_KERNEL_EXECVE), "kernel:execve");
	for (v = EW_VIA_EXECVE; v < EW_VIA_MAX; v++)
		cr_assert_not_null(ew_proto_via_name(v), "via %u", v);
	cr_assert_null(ew_proto_via_name(0));
	cr_assert_null(ew_proto_via_name(EW_VIA_MAX));
	cr_assert_null(ew_proto_via_name(UINT32_MAX));
}

Test(proto, header_round_trip_and_errors)
{
	unsigned char mem[16], *p;
	struct ew_buf b, saved;
	uint32_t type, t;
	size_t len;

	for (t = EW_MSG_ASK; t <= EW_MSG_TYPE_MAX; t++) {
		ew_buf_init(&b, mem, sizeof(mem));
		cr_assert_eq(ew_proto_put_header(&b, t), 0);
		cr_assert_eq(ew_buf_len(&b), 8);
		cr_assert_eq(ew_proto_get_header(&b, &type), 0);
		cr_assert_eq(type, t);
		cr_assert_eq(ew_buf_len(&b), 0);
	}
	/* Unknown types, and a foreign version. */
	{
		static const uint32_t bad[][3] = {
			{ EW_PROTO_VERSION, 0, -EW_E_TYPE },
			{ EW_PROTO_VERSION, EW_MSG_TYPE_MAX + 1, -EW_E_TYPE },
			{ EW_PROTO_VERSION, UINT32_MAX, -EW_E_TYPE },
			{ 0, EW_MSG_ASK, -EW_E_VERSION },
			{ EW_PROTO_VERSION + 1, EW_MSG_ASK, -EW_E_VERSION },
			{ UINT32_MAX, EW_MSG_ASK, -EW_E_VERSION },
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			ew_buf_init(&b, mem, sizeof(mem));
			cr_assert_eq(ew_buf_put_u32(&b, bad[i][0]), 0);
			cr_assert_eq(ew_buf_put_u32(&b, bad[i][1]), 0);
			saved = b;
			type = 99;
			cr_assert_eq(ew_proto_get_header(&b, &type),
			    (int)bad[i][2], "case %zu", i);
			cr_assert_eq(type, 0);
			cr_assert_eq(b.off, saved.off);
		}
	}
	/* Every prefix of a header is truncated. */
	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_proto_put_header(&b, EW_MSG_ASK), 0);
	for (len = 0; len < 8; len++) {
		p = exact_copy(mem, len);
		ew_buf_init_ro(&b, p, len);
		cr_assert_eq(ew_proto_get_header(&b, &type), -EW_E_TRUNCATED);
		cr_assert_eq(b.off, 0);
		free(p);
	}
}

/* ------------------------------------------------------------------ */
/* ASK                                                                  */

Test(proto, ask_round_trip)
{
	struct ew_msg_ask *m;
	struct ew_buf *b = encode_ask(&sample_ask);

	cr_assert_eq(decode_ask(ew_buf_ptr(b), ew_buf_len(b), &m), 0);
	assert_ask_eq(m, &sample_ask);
	cr_assert_eq(m->argc, 6);
	ew_msg_ask_free(m);
	cr_assert_eq(decode_any(ew_buf_ptr(b), ew_buf_len(b)), 0);
	ew_buf_free(b);
	ew_msg_ask_free(NULL);
}

Test(proto, ask_round_trip_shapes)
{
	static char *one[] = { "x", NULL };
	static char *none[] = { NULL };
	struct ew_ask a;
	struct ew_msg_ask *m;
	struct ew_buf *b;
	char *longpath, *longarg, *argv[3];
	int shape;

	longpath = pattern(EW_PROTO_PATH_MAX - 1, 3);
	longpath[0] = '/';
	longarg = pattern(EW_PROTO_STRING_MAX, 4);
	argv[0] = longarg;
	argv[1] = "tail";
	argv[2] = NULL;
	for (shape = 0; shape < 6; shape++) {
		a = sample_ask;
		switch (shape) {
		case 0: /* argv NULL: zero arguments */
			a.argv = NULL;
			break;
		case 1:
			a.argv = none;
			a.cwd = NULL;
			a.file = NULL;
			break;
		case 2:
			a.argv = one;
			a.via = EW_VIA_RUN;
			a.pid = INT32_MAX;
			a.ppid = 0;
			break;
		case 3: /* every path at its longest */
			a.cwd = longpath;
			a.file = longpath;
			a.resolved = longpath;
			break;
		case 4: /* one argument at its longest */
			a.argv = argv;
			break;
		case 5:
			a.via = EW_VIA_EXECVE;
			a.file = "./relative/is/fine/for/file";
			break;
		}
		b = encode_ask(&a);
		cr_assert_eq(decode_ask(ew_buf_ptr(b), ew_buf_len(b), &m), 0,
		    "shape %d", shape);
		assert_ask_eq(m, &a);
		ew_msg_ask_free(m);
		ew_buf_free(b);
	}
	free(longpath);
	free(longarg);
}

/* Fixed storage of exactly the predicted size takes it; one byte less
 * takes nothing. */
Test(proto, ask_fixed_storage_exact)
{
	unsigned char *mem;
	struct ew_buf b;
	size_t size, i;

	cr_assert_eq(ew_proto_ask_size(&sample_ask, &size), 0);
	mem = malloc(size);
	cr_assert_not_null(mem);
	ew_buf_init(&b, mem, size);
	cr_assert_eq(ew_proto_put_ask(&b, &sample_ask), 0);
	cr_assert_eq(ew_buf_avail(&b), 0);
	memset(mem, 0xee, size);
	ew_buf_init(&b, mem, size - 1);
	cr_assert_eq(ew_proto_put_ask(&b, &sample_ask), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_len(&b), 0);
	for (i = 0; i < size; i++)
		cr_assert_eq(mem[i], 0xee);
	free(mem);
}

static void
assert_ask_refused(const struct ew_ask *a, const char *what)
{
	unsigned char mem[64];
	struct ew_buf *b = heap(), fb;
	size_t size = 77;

	cr_assert_eq(ew_proto_ask_size(a, &size), -EW_E_LIMIT, "%s", what);
	cr_assert_eq(size, 0);
	cr_assert_eq(ew_proto_put_ask(b, a), -EW_E_LIMIT, "%s", what);
	cr_assert_eq(ew_buf_len(b), 0, "%s: bytes appended", what);
	ew_buf_init(&fb, mem, sizeof(mem));
	cr_assert_eq(ew_proto_put_ask(&fb, a), -EW_E_LIMIT, "%s", what);
	cr_assert_eq(ew_buf_len(&fb), 0);
	ew_buf_free(b);
}

Test(proto, ask_encode_caps)
{
	struct ew_ask a;
	char **argv, *s, *path;
	size_t i, size;

	/* argc: the cap is accepted, one more is not. */
	argv = calloc(EW_PROTO_ARGC_MAX + 2, sizeof(char *));
	cr_assert_not_null(argv);
	for (i = 0; i < EW_PROTO_ARGC_MAX; i++)
		argv[i] = "";
	a = sample_ask;
	a.argv = argv;
	cr_assert_eq(ew_proto_ask_size(&a, &size), 0);
	argv[EW_PROTO_ARGC_MAX] = "";
	assert_ask_refused(&a, "argc over cap");
	free(argv);

	/* One string over EW_PROTO_STRING_MAX. */
	s = pattern(EW_PROTO_STRING_MAX + 1, 1);
	{
		char *v[] = { "a", s, "b", NULL };

		a = sample_ask;
		a.argv = v;
		assert_ask_refused(&a, "string over cap");
	}
	free(s);

	/* Paths of EW_PROTO_PATH_MAX bytes (no room for the NUL). */
	path = pattern(EW_PROTO_PATH_MAX, 2);
	path[0] = '/';
	a = sample_ask;
	a.cwd = path;
	assert_ask_refused(&a, "cwd");
	a = sample_ask;
	a.file = path;
	assert_ask_refused(&a, "file");
	a = sample_ask;
	a.resolved = path;
	assert_ask_refused(&a, "resolved");
	free(path);
}

/* The total of argv bytes: exactly the cap encodes and decodes, one more
 * string is refused on both sides. */
Test(proto, ask_total_bytes_cap)
{
	size_t n = EW_PROTO_ARG_BYTES_MAX / EW_PROTO_STRING_MAX, i;
	struct ew_msg_ask *m;
	struct ew_buf *b;
	struct ew_ask a;
	char **argv, *s;

	s = pattern(EW_PROTO_STRING_MAX, 9);
	argv = calloc(n + 2, sizeof(char *));
	cr_assert_not_null(argv);
	for (i = 0; i < n; i++)
		argv[i] = s;
	a = sample_ask;
	a.argv = argv;
	b = encode_ask(&a);
	cr_assert_eq(decode_ask(ew_buf_ptr(b), ew_buf_len(b), &m), 0);
	cr_assert_eq(m->arg_bytes, EW_PROTO_ARG_BYTES_MAX);
	ew_msg_ask_free(m);
	ew_buf_free(b);
	argv[n] = "x";
	assert_ask_refused(&a, "argv bytes over cap");
	free(argv);
	free(s);
}

/* Hand-built ASKs: every field controllable, including the counts. */
struct raw {
	const char *p;
	size_t n;
};
#define RAW(s)                   \
	{                        \
		s, sizeof(s) - 1 \
	}

struct raw_ask {
	uint32_t version, type, via, pid, ppid;
	struct raw cwd, file, resolved;
	uint32_t argc; /* the count field as sent */
	const struct raw *args;
	size_t nargs; /* strings actually present */
	size_t trailing;
};

static const struct raw good_args[] = { RAW("ls"), RAW("-l") };

static struct raw_ask
good_raw(void)
{
	struct raw_ask r = {
		.version = EW_PROTO_VERSION,
		.type = EW_MSG_ASK,
		.via = EW_VIA_EXECVE,
		.pid = 100,
		.ppid = 99,
		.cwd = RAW("/tmp"),
		.file = RAW("ls"),
		.resolved = RAW("/bin/ls"),
		.argc = 2,
		.args = good_args,
		.nargs = 2,
	};
	return r;
}

static unsigned char *
build_raw_ask(const struct raw_ask *r, size_t *lenp)
{
	struct ew_buf *b = heap();
	unsigned char *p;
	size_t i;

	cr_assert_eq(ew_buf_put_u32(b, r->version), 0);
	cr_assert_eq(ew_buf_put_u32(b, r->type), 0);
	cr_assert_eq(ew_buf_put_u32(b, r->via), 0);
	cr_assert_eq(ew_buf_put_u32(b, r->pid), 0);
	cr_assert_eq(ew_buf_put_u32(b, r->ppid), 0);
	cr_assert_eq(ew_buf_put_string(b, r->cwd.p, r->cwd.n), 0);
	cr_assert_eq(ew_buf_put_string(b, r->file.p, r->file.n), 0);
	cr_assert_eq(ew_buf_put_string(b, r->resolved.p, r->resolved.n), 0);
	cr_assert_eq(ew_buf_put_u32(b, r->argc), 0);
	for (i = 0; i < r->nargs; i++)
		cr_assert_eq(
		    ew_buf_put_string(b, r->args[i].p, r->args[i].n), 0);
	for (i = 0; i < r->trailing; i++)
		cr_assert_eq(ew_buf_put_u8(b, 0), 0);
	*lenp = ew_buf_len(b);
	p = exact_copy(ew_buf_ptr(b), *lenp);
	ew_buf_free(b);
	return p;
}

static void
expect_raw_ask(const struct raw_ask *r, int want, const char *what)
{
	struct ew_msg_ask *m = NULL;
	unsigned char *p;
	size_t len;
	int got;

	p = build_raw_ask(r, &len);
	got = decode_ask(p, len, &m);
	cr_assert_eq(got, want, "%s: got %d (%s), want %d (%s)", what, got,
	    ew_err_str(got), want, ew_err_str(want));
	if (got == 0)
		ew_msg_ask_free(m);
	/* Whatever the verdict, the canonical re-encoding property holds. */
	cr_assert_eq(decode_any(p, len) == 0, want == 0, "%s", what);
	free(p);
}

Test(proto, ask_decode_rejects_bad_fields)
{
	static const struct raw nul_arg[] = { RAW("ls"), RAW("a\0b") };
	static const struct raw nul_end[] = { RAW("ls"), RAW("ab\0") };
	static const struct raw one_arg[] = { RAW("ls") };
	struct raw_ask r;

	r = good_raw();
	expect_raw_ask(&r, 0, "good");

	r = good_raw();
	r.version = EW_PROTO_VERSION + 1;
	expect_raw_ask(&r, -EW_E_VERSION, "version");
	r = good_raw();
	r.version = 0;
	expect_raw_ask(&r, -EW_E_VERSION, "version 0");
	r = good_raw();
	r.type = 0;
	expect_raw_ask(&r, -EW_E_TYPE, "type 0");
	r = good_raw();
	r.type = 99;
	expect_raw_ask(&r, -EW_E_TYPE, "type 99");

	r = good_raw();
	r.via = 0;
	expect_raw_ask(&r, -EW_E_INVALID, "via 0");
	r.via = EW_VIA_MAX;
	expect_raw_ask(&r, -EW_E_INVALID, "via max");
	r.via = UINT32_MAX;
	expect_raw_ask(&r, -EW_E_INVALID, "via giant");
	/* What the kernel backstop saw is the broker's word, never a shim's. */
	r.via = EW_VIA_KERNEL_EXECVE;
	expect_raw_ask(&r, -EW_E_INVALID, "via kernel:execve");
	r.via = EW_VIA_KERNEL_EXECVEAT;
	expect_raw_ask(&r, -EW_E_INVALID, "via kernel:execveat");

	r = good_raw();
	r.resolved = (struct raw)RAW("bin/ls");
	expect_raw_ask(&r, -EW_E_INVALID, "relative resolved");
	r.resolved = (struct raw)RAW("");
	expect_raw_ask(&r, -EW_E_INVALID, "empty resolved");
	r = good_raw();
	r.file = (struct raw)RAW("");
	r.cwd = (struct raw)RAW("");
	expect_raw_ask(&r, 0, "empty cwd and file");

	r = good_raw();
	r.pid = 0;
	expect_raw_ask(&r, -EW_E_INVALID, "pid 0");
	r.pid = UINT32_MAX;
	expect_raw_ask(&r, -EW_E_INVALID, "pid -1");
	r.pid = 0x80000000u;
	expect_raw_ask(&r, -EW_E_INVALID, "pid INT_MIN");
	r = good_raw();
	r.ppid = UINT32_MAX;
	expect_raw_ask(&r, -EW_E_INVALID, "ppid -1");
	r.ppid = 0;
	expect_raw_ask(&r, 0, "ppid 0 (another pid namespace)");

	r = good_raw();
	r.trailing = 1;
	expect_raw_ask(&r, -EW_E_TRAILING, "trailing byte");
	r.trailing = 4;
	expect_raw_ask(&r, -EW_E_TRAILING, "trailing u32");
	r = good_raw();
	r.argc = 1;
	expect_raw_ask(&r, -EW_E_TRAILING, "count smaller than strings");

	r = good_raw();
	r.argc = 3;
	expect_raw_ask(&r, -EW_E_TRUNCATED, "count one too many");
	r.argc = 1000;
	expect_raw_ask(&r, -EW_E_TRUNCATED, "count beyond the bytes");
	r.argc = EW_PROTO_ARGC_MAX;
	expect_raw_ask(&r, -EW_E_TRUNCATED, "count at cap, no bytes");
	r.argc = EW_PROTO_ARGC_MAX + 1;
	expect_raw_ask(&r, -EW_E_LIMIT, "count over cap");
	r.argc = UINT32_MAX;
	expect_raw_ask(&r, -EW_E_LIMIT, "count giant");
	r.argc = 1;
	r.args = one_arg;
	r.nargs = 0;
	expect_raw_ask(&r, -EW_E_TRUNCATED, "count 1, no string");

	r = good_raw();
	r.args = nul_arg;
	expect_raw_ask(&r, -EW_E_NUL, "NUL inside argv");
	r.args = nul_end;
	expect_raw_ask(&r, -EW_E_NUL, "NUL ending argv");
	r = good_raw();
	r.cwd = (struct raw)RAW("/t\0mp");
	expect_raw_ask(&r, -EW_E_NUL, "NUL in cwd");
	r = good_raw();
	r.file = (struct raw)RAW("l\0s");
	expect_raw_ask(&r, -EW_E_NUL, "NUL in file");
	r = good_raw();
	r.resolved = (struct raw)RAW("/bin/ls\0/bin/sh");
	expect_raw_ask(&r, -EW_E_NUL, "NUL in resolved");
}

Test(proto, ask_decode_caps)
{
	char *path = pattern(EW_PROTO_PATH_MAX, 5);
	char *big = pattern(EW_PROTO_STRING_MAX + 1, 6);
	struct raw args[2];
	struct raw_ask r;

	path[0] = '/';
	r = good_raw();
	r.cwd.p = path;
	r.cwd.n = EW_PROTO_PATH_MAX;
	expect_raw_ask(&r, -EW_E_LIMIT, "cwd at PATH_MAX");
	r.cwd.n = EW_PROTO_PATH_MAX - 1;
	expect_raw_ask(&r, 0, "cwd at PATH_MAX - 1");
	r = good_raw();
	r.file.p = path;
	r.file.n = EW_PROTO_PATH_MAX;
	expect_raw_ask(&r, -EW_E_LIMIT, "file at PATH_MAX");
	r = good_raw();
	r.resolved.p = path;
	r.resolved.n = EW_PROTO_PATH_MAX;
	expect_raw_ask(&r, -EW_E_LIMIT, "resolved at PATH_MAX");
	r.resolved.n = EW_PROTO_PATH_MAX - 1;
	expect_raw_ask(&r, 0, "resolved at PATH_MAX - 1");

	args[0] = (struct raw)RAW("ls");
	args[1].p = big;
	args[1].n = EW_PROTO_STRING_MAX + 1;
	r = good_raw();
	r.args = args;
	expect_raw_ask(&r, -EW_E_LIMIT, "argv string over cap");
	args[1].n = EW_PROTO_STRING_MAX;
	expect_raw_ask(&r, 0, "argv string at cap");
	free(path);
	free(big);
}

Test(proto, ask_decode_total_bytes_over_cap)
{
	size_t n = EW_PROTO_ARG_BYTES_MAX / EW_PROTO_STRING_MAX + 1, i;
	char *s = pattern(EW_PROTO_STRING_MAX, 7);
	struct raw *args = calloc(n, sizeof(*args));
	struct raw_ask r;

	cr_assert_not_null(args);
	for (i = 0; i < n; i++) {
		args[i].p = s;
		args[i].n = EW_PROTO_STRING_MAX;
	}
	r = good_raw();
	r.args = args;
	r.argc = (uint32_t)n;
	r.nargs = n;
	expect_raw_ask(&r, -EW_E_LIMIT, "argv bytes over cap");
	r.argc = (uint32_t)(n - 1);
	r.nargs = n - 1;
	expect_raw_ask(&r, 0, "argv bytes at cap");
	free(args);
	free(s);
}

/* Offsets of every u32 length or count field of an encoded ASK. */
static size_t
ask_length_fields(
    const unsigned char *data, size_t len, size_t *offs, size_t max)
{
	struct ew_buf b;
	uint32_t argc, i;
	size_t n = 0;
	int k;

	ew_buf_init_ro(&b, data, len);
	cr_assert_eq(ew_buf_consume(&b, 20), 0);
	for (k = 0; k < 3; k++) {
		offs[n++] = b.off;
		cr_assert_eq(ew_buf_get_string_direct(&b, NULL, NULL), 0);
	}
	offs[n++] = b.off;
	cr_assert_eq(ew_buf_get_u32(&b, &argc), 0);
	for (i = 0; i < argc && n < max; i++) {
		offs[n++] = b.off;
		cr_assert_eq(ew_buf_get_string_direct(&b, NULL, NULL), 0);
	}
	return n;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Changing any length or count field is caught, never read past. */
Test(proto, ask_corrupted_lengths)
{
	struct ew_buf *b = encode_ask(&sample_ask);
	size_t len = ew_buf_len(b), offs[32], n, i, k;
	unsigned char *msg = exact_copy(ew_buf_ptr(b), len);
	uint32_t orig, vals[8];

	n = ask_length_fields(msg, len, offs, 32);
	cr_assert_eq(n, 4 + 6);
	for (i = 0; i < n; i++) {
		orig = get_be32(msg + offs[i]);
		vals[0] = orig + 1;
		vals[1] = orig + 4;
		vals[2] = (uint32_t)len;
		vals[3] = UINT32_MAX;
		vals[4] = 0x80000000u;
		vals[5] = UINT32_MAX - 3;
		vals[6] = orig == 0 ? 1000 : orig - 1;
		vals[7] = orig + 0x01000000u;
		for (k = 0; k < 8; k++) {
			put_be32(msg + offs[i], vals[k]);
			cr_assert_neq(decode_any(msg, len), 0,
			    "field at %zu set to %u was accepted", offs[i],
			    vals[k]);
		}
		put_be32(msg + offs[i], orig);
	}
	cr_assert_eq(decode_any(msg, len), 0);
	free(msg);
	ew_buf_free(b);
}

/* Every prefix of a real message, in an exactly-sized block, is refused
 * as truncated; only the whole message decodes. */
static void
check_every_prefix(const struct ew_buf *b, const char *what)
{
	size_t len = ew_buf_len(b), cut;
	int r;

	for (cut = 0; cut < len; cut++) {
		r = decode_any(ew_buf_ptr(b), cut);
		cr_assert_eq(r, -EW_E_TRUNCATED,
		    "%s cut at %zu of %zu: %d (%s)", what, cut, len, r,
		    ew_err_str(r));
	}
	cr_assert_eq(decode_any(ew_buf_ptr(b), len), 0, "%s whole", what);
}

Test(proto, truncated_at_every_length)
{
	struct ew_buf *b;

	b = encode_ask(&sample_ask);
	check_every_prefix(b, "ASK");
	ew_buf_free(b);

	b = heap();
	cr_assert_eq(ew_proto_put_escalate(b, "tok-123", sample_envp), 0);
	check_every_prefix(b, "ESCALATE");
	ew_buf_reset(b);
	cr_assert_eq(
	    ew_proto_put_answer(b, EW_VERDICT_DENY, "no reason", NULL), 0);
	check_every_prefix(b, "ANSWER");
	ew_buf_reset(b);
	cr_assert_eq(ew_proto_put_signal(b, SIGINT), 0);
	check_every_prefix(b, "SIGNAL");
	ew_buf_reset(b);
	cr_assert_eq(ew_proto_put_exit(b, 0x0100), 0);
	check_every_prefix(b, "EXIT");
	ew_buf_reset(b);
	cr_assert_eq(ew_proto_put_confine(b, &sample_confine), 0);
	check_every_prefix(b, "CONFINE");
	ew_buf_free(b);
}

Test(proto, confine_round_trip_and_bad_fields)
{
	struct ew_msg_confine *m = NULL;
	struct ew_confine c = sample_confine;
	struct ew_buf *b = heap();
	uint32_t type;
	size_t i;

	cr_assert_eq(ew_proto_put_confine(b, &c), 0);
	cr_assert_eq(ew_proto_get_header(b, &type), 0);
	cr_assert_eq(type, EW_MSG_CONFINE);
	cr_assert_eq(ew_proto_get_confine(b, &m), 0);
	cr_assert_str_eq(m->path, "/usr/bin/sh");
	cr_assert_str_eq(m->socket, "/run/user/1/execward/s.x/i");
	cr_assert_eq(m->flags, EW_PROTO_CONFINE_SH_FALLBACK);
	cr_assert_eq(m->argc, 3);
	for (i = 0; i < 3; i++)
		cr_assert_str_eq(m->argv[i], sample_argv[i]);
	cr_assert_null(m->argv[3]);
	cr_assert_eq(m->bpf_len, 16);
	cr_assert_arr_eq(m->bpf, sample_bpf, 16);
	cr_assert_eq((uintptr_t)m->bpf % 8, 0);
	ew_msg_confine_free(m);
	/* Relative paths, no socket, a ragged or giant filter: refused. */
	ew_buf_reset(b);
	c.path = "sh";
	cr_assert_eq(ew_proto_put_confine(b, &c), -EW_E_INVALID);
	c = sample_confine;
	c.socket = "";
	cr_assert_eq(ew_proto_put_confine(b, &c), -EW_E_INVALID);
	c = sample_confine;
	c.bpf_len = 12;
	cr_assert_eq(ew_proto_put_confine(b, &c), -EW_E_INVALID);
	c.bpf_len = EW_PROTO_BPF_MAX + 8;
	cr_assert_eq(ew_proto_put_confine(b, &c), -EW_E_INVALID);
	cr_assert_eq(ew_buf_len(b), 0);
	/* An empty filter is fine. */
	c.bpf_len = 0;
	cr_assert_eq(ew_proto_put_confine(b, &c), 0);
	cr_assert_eq(decode_any(ew_buf_ptr(b), ew_buf_len(b)), 0);
	ew_buf_free(b);
}

/* Flip bits in every byte of real messages: each result is either refused
 * or decodes to something that re-encodes to the same bytes. */
static void
flip_every_byte(const struct ew_buf *b, const char *what)
{
	static const unsigned char masks[] = { 0x01, 0x02, 0x10, 0x20, 0x40,
		0x80, 0xff };
	size_t len = ew_buf_len(b), i, k;
	unsigned char *msg = exact_copy(ew_buf_ptr(b), len);
	int r;

	for (i = 0; i < len; i++) {
		for (k = 0; k < sizeof(masks); k++) {
			msg[i] ^= masks[k];
			r = decode_any(msg, len);
			/* The version and the high bytes of the type are
			 * never acceptable when changed. */
			if (i < 7)
				cr_assert_neq(r, 0, "%s byte %zu ^ %#x", what,
				    i, masks[k]);
			msg[i] ^= masks[k];
		}
	}
	free(msg);
}

Test(proto, corrupted_bytes)
{
	struct ew_buf *b;

	b = encode_ask(&sample_ask);
	flip_every_byte(b, "ASK");
	ew_buf_free(b);
	b = heap();
	cr_assert_eq(ew_proto_put_escalate(b, "tok", sample_envp), 0);
	flip_every_byte(b, "ESCALATE");
	ew_buf_reset(b);
	cr_assert_eq(
	    ew_proto_put_answer(b, EW_VERDICT_ESCALATE, "why", "t"), 0);
	flip_every_byte(b, "ANSWER");
	ew_buf_reset(b);
	cr_assert_eq(ew_proto_put_confine(b, &sample_confine), 0);
	flip_every_byte(b, "CONFINE");
	ew_buf_reset(b);
	cr_assert_eq(ew_proto_put_exit(b, 9), 0);
	flip_every_byte(b, "EXIT");
	ew_buf_free(b);
}

/* ------------------------------------------------------------------ */
/* ANSWER                                                               */

static void
answer_round_trip(uint32_t verdict, const char *reason, const char *token)
{
	struct ew_buf *b = heap(), saved;
	struct ew_msg_answer a;
	unsigned char *p;
	uint32_t type;
	size_t len;

	cr_assert_eq(ew_proto_put_answer(b, verdict, reason, token), 0);
	len = ew_buf_len(b);
	p = exact_copy(ew_buf_ptr(b), len);
	ew_buf_free(b);
	ew_buf_init_ro(&saved, p, len);
	cr_assert_eq(ew_proto_get_header(&saved, &type), 0);
	cr_assert_eq(type, EW_MSG_ANSWER);
	cr_assert_eq(ew_proto_get_answer(&saved, &a), 0);
	cr_assert_eq(ew_buf_len(&saved), 0);
	cr_assert_eq(a.verdict, verdict);
	cr_assert_str_eq(a.reason, nz(reason));
	cr_assert_str_eq(a.token, nz(token));
	free(p);
}

Test(proto, answer_round_trip)
{
	char *reason = pattern(EW_PROTO_REASON_MAX, 1);
	char *token = pattern(EW_PROTO_TOKEN_MAX, 2);

	answer_round_trip(EW_VERDICT_ALLOW, NULL, NULL);
	answer_round_trip(EW_VERDICT_ALLOW, "", "");
	answer_round_trip(EW_VERDICT_DENY, "forbidden by policy: rm -rf", NULL);
	answer_round_trip(EW_VERDICT_ESCALATE, NULL, "0123456789abcdef");
	answer_round_trip(EW_VERDICT_DENY, reason, NULL);
	answer_round_trip(EW_VERDICT_ESCALATE, reason, token);
	free(reason);
	free(token);
}

Test(proto, answer_encode_caps)
{
	char *reason = pattern(EW_PROTO_REASON_MAX + 1, 1);
	char *token = pattern(EW_PROTO_TOKEN_MAX + 1, 2);
	unsigned char mem[64];
	struct ew_buf *b = heap(), fb;
	size_t cap;

	cr_assert_eq(
	    ew_proto_put_answer(b, EW_VERDICT_DENY, reason, NULL), -EW_E_LIMIT);
	cr_assert_eq(ew_proto_put_answer(b, EW_VERDICT_ESCALATE, NULL, token),
	    -EW_E_LIMIT);
	/* Verdicts that no decoder would accept are not sent either. */
	cr_assert_eq(ew_proto_put_answer(b, 0, NULL, NULL), -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_answer(b, EW_VERDICT_ESCALATE + 1, NULL, "t"),
	    -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_answer(b, EW_VERDICT_ESCALATE, "r", NULL),
	    -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_answer(b, EW_VERDICT_ESCALATE, "r", ""),
	    -EW_E_INVALID);
	cr_assert_eq(ew_buf_len(b), 0);
	/* Too little fixed storage: fails with nothing appended. */
	for (cap = 0; cap < 8 + 4 + 4 + 3 + 4 + 2; cap++) {
		memset(mem, 0xee, sizeof(mem));
		ew_buf_init(&fb, mem, cap);
		cr_assert_eq(
		    ew_proto_put_answer(&fb, EW_VERDICT_ESCALATE, "why", "tk"),
		    -EW_E_LIMIT, "cap %zu", cap);
		cr_assert_eq(ew_buf_len(&fb), 0);
		cr_assert_eq(mem[0], 0xee);
	}
	ew_buf_init(&fb, mem, cap);
	cr_assert_eq(
	    ew_proto_put_answer(&fb, EW_VERDICT_ESCALATE, "why", "tk"), 0);
	ew_buf_free(b);
	free(reason);
	free(token);
}

/* Build an ANSWER body by hand and decode it (after the header). */
static int
raw_answer(uint32_t verdict, const void *reason, size_t lr, const void *token,
    size_t lt, size_t trailing)
{
	struct ew_buf *b = heap(), rb, saved;
	struct ew_msg_answer a;
	unsigned char *p;
	size_t len, i;
	int r;

	cr_assert_eq(ew_buf_put_u32(b, verdict), 0);
	cr_assert_eq(ew_buf_put_string(b, reason, lr), 0);
	cr_assert_eq(ew_buf_put_string(b, token, lt), 0);
	for (i = 0; i < trailing; i++)
		cr_assert_eq(ew_buf_put_u8(b, 'x'), 0);
	len = ew_buf_len(b);
	p = exact_copy(ew_buf_ptr(b), len);
	ew_buf_free(b);
	ew_buf_init_ro(&rb, p, len);
	saved = rb;
	memset(&a, 0x55, sizeof(a));
	r = ew_proto_get_answer(&rb, &a);
	if (r != 0) {
		cr_assert_eq(rb.off, saved.off);
		/* Nothing half-decoded is left behind. */
		cr_assert_eq(a.verdict, 0);
		cr_assert_eq(a.reason[0], '\0');
		cr_assert_eq(a.token[0], '\0');
	}
	free(p);
	return r;
}

Test(proto, answer_decode_errors)
{
	char *big = pattern(EW_PROTO_REASON_MAX + 1, 4);

	cr_assert_eq(raw_answer(EW_VERDICT_DENY, "r", 1, "", 0, 0), 0);
	cr_assert_eq(raw_answer(EW_VERDICT_ESCALATE, "", 0, "", 0, 0),
	    -EW_E_INVALID, "escalate without a token");
	cr_assert_eq(raw_answer(EW_VERDICT_ESCALATE, "", 0, "t", 1, 0), 0);
	cr_assert_eq(raw_answer(0, "", 0, "", 0, 0), -EW_E_INVALID);
	cr_assert_eq(raw_answer(EW_VERDICT_ESCALATE + 1, "", 0, "t", 1, 0),
	    -EW_E_INVALID);
	cr_assert_eq(raw_answer(UINT32_MAX, "", 0, "", 0, 0), -EW_E_INVALID);
	cr_assert_eq(
	    raw_answer(EW_VERDICT_DENY, "r", 1, "", 0, 1), -EW_E_TRAILING);
	cr_assert_eq(
	    raw_answer(EW_VERDICT_DENY, "a\0b", 3, "", 0, 0), -EW_E_NUL);
	cr_assert_eq(
	    raw_answer(EW_VERDICT_ESCALATE, "", 0, "t\0", 2, 0), -EW_E_NUL);
	cr_assert_eq(
	    raw_answer(EW_VERDICT_DENY, big, EW_PROTO_REASON_MAX + 1, "", 0, 0),
	    -EW_E_LIMIT);
	cr_assert_eq(
	    raw_answer(EW_VERDICT_DENY, big, EW_PROTO_REASON_MAX, "", 0, 0), 0);
	cr_assert_eq(raw_answer(EW_VERDICT_ESCALATE, "", 0, big,
			 EW_PROTO_TOKEN_MAX + 1, 0),
	    -EW_E_LIMIT);
	cr_assert_eq(
	    raw_answer(EW_VERDICT_ESCALATE, "", 0, big, EW_PROTO_TOKEN_MAX, 0),
	    0);
	free(big);
}

Test(proto, answer_decode_giant_lengths)
{
	static const unsigned char giant_reason[] = { 0, 0, 0, 2, 0xff, 0xff,
		0xff, 0xff, 'a', 'b' };
	static const unsigned char giant_token[] = { 0, 0, 0, 2, 0, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff };
	struct ew_msg_answer a;
	struct ew_buf b;
	unsigned char *p;

	p = exact_copy(giant_reason, sizeof(giant_reason));
	ew_buf_init_ro(&b, p, sizeof(giant_reason));
	cr_assert_eq(ew_proto_get_answer(&b, &a), -EW_E_TRUNCATED);
	cr_assert_eq(b.off, 0);
	free(p);
	p = exact_copy(giant_token, sizeof(giant_token));
	ew_buf_init_ro(&b, p, sizeof(giant_token));
	cr_assert_eq(ew_proto_get_answer(&b, &a), -EW_E_TRUNCATED);
	cr_assert_eq(b.off, 0);
	free(p);
}

/* ------------------------------------------------------------------ */
/* HEARTBEAT, SIGNAL, EXIT                                              */

Test(proto, heartbeat_round_trip)
{
	unsigned char mem[8];
	struct ew_buf b;
	uint32_t type;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_proto_put_heartbeat(&b), 0);
	cr_assert_eq(ew_buf_len(&b), 8);
	cr_assert_eq(ew_proto_get_header(&b, &type), 0);
	cr_assert_eq(type, EW_MSG_HEARTBEAT);
	cr_assert_eq(ew_buf_len(&b), 0);
}

Test(proto, failed_round_trip_and_errors)
{
	static const int good[] = { 1, ENOEXEC, E2BIG, ENOENT, 4095 };
	static const unsigned char body_bad[][4] = { { 0, 0, 0, 0 },
		{ 0, 0, 0x10, 0 }, { 0xff, 0xff, 0xff, 0xff } };
	unsigned char mem[16], *p;
	struct ew_buf b;
	uint32_t type;
	size_t i;
	int v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ew_buf_init(&b, mem, sizeof(mem));
		cr_assert_eq(ew_proto_put_failed(&b, good[i]), 0);
		cr_assert_eq(ew_buf_len(&b), 12);
		cr_assert_eq(ew_proto_get_header(&b, &type), 0);
		cr_assert_eq(type, EW_MSG_FAILED);
		cr_assert_eq(ew_proto_get_failed(&b, &v), 0);
		cr_assert_eq(v, good[i]);
		cr_assert_eq(ew_buf_len(&b), 0);
	}
	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_proto_put_failed(&b, 0), -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_failed(&b, 4096), -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_failed(&b, -1), -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_failed(&b, INT_MIN), -EW_E_INVALID);
	cr_assert_eq(ew_buf_len(&b), 0);
	/* A full buffer takes none of it. */
	ew_buf_init(&b, mem, 11);
	cr_assert_neq(ew_proto_put_failed(&b, ENOEXEC), 0);
	cr_assert_eq(ew_buf_len(&b), 0);
	for (i = 0; i < 3; i++) {
		p = exact_copy(body_bad[i], 4);
		ew_buf_init_ro(&b, p, 4);
		v = 7;
		cr_assert_eq(ew_proto_get_failed(&b, &v), -EW_E_INVALID);
		cr_assert_eq(v, 0);
		cr_assert_eq(b.off, 0);
		free(p);
	}
	p = exact_copy("\0\0\0\2", 3);
	ew_buf_init_ro(&b, p, 3);
	cr_assert_eq(ew_proto_get_failed(&b, &v), -EW_E_TRUNCATED);
	cr_assert_eq(b.off, 0);
	free(p);
	p = exact_copy("\0\0\0\2\0", 5);
	ew_buf_init_ro(&b, p, 5);
	cr_assert_eq(ew_proto_get_failed(&b, &v), -EW_E_TRAILING);
	cr_assert_eq(b.off, 0);
	free(p);
}

Test(proto, signal_round_trip_and_errors)
{
	static const int good[] = { 1, SIGINT, SIGTERM, SIGHUP, SIGQUIT, 64 };
	static const unsigned char body_bad[][4] = { { 0, 0, 0, 0 },
		{ 0, 0, 0, 65 }, { 0xff, 0xff, 0xff, 0xff } };
	unsigned char mem[16], *p;
	struct ew_buf b;
	uint32_t type;
	size_t i;
	int v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ew_buf_init(&b, mem, sizeof(mem));
		cr_assert_eq(ew_proto_put_signal(&b, good[i]), 0);
		cr_assert_eq(ew_proto_get_header(&b, &type), 0);
		cr_assert_eq(type, EW_MSG_SIGNAL);
		cr_assert_eq(ew_proto_get_signal(&b, &v), 0);
		cr_assert_eq(v, good[i]);
		cr_assert_eq(ew_buf_len(&b), 0);
	}
	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_proto_put_signal(&b, 0), -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_signal(&b, 65), -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_signal(&b, -1), -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_signal(&b, INT_MIN), -EW_E_INVALID);
	cr_assert_eq(ew_buf_len(&b), 0);
	for (i = 0; i < 3; i++) {
		p = exact_copy(body_bad[i], 4);
		ew_buf_init_ro(&b, p, 4);
		v = 7;
		cr_assert_eq(ew_proto_get_signal(&b, &v), -EW_E_INVALID);
		cr_assert_eq(v, 0);
		cr_assert_eq(b.off, 0);
		free(p);
	}
	p = exact_copy("\0\0\0\2\0", 5);
	ew_buf_init_ro(&b, p, 5);
	cr_assert_eq(ew_proto_get_signal(&b, &v), -EW_E_TRAILING);
	cr_assert_eq(b.off, 0);
	free(p);
}

Test(proto, exit_round_trip_and_errors)
{
	static const int good[] = { 0, 1 << 8, 255 << 8, SIGKILL,
		SIGSEGV | 0x80, 0x137f, -1, INT_MIN, INT_MAX };
	unsigned char mem[16], *p;
	struct ew_buf b;
	uint32_t type;
	size_t i;
	int v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ew_buf_init(&b, mem, sizeof(mem));
		cr_assert_eq(ew_proto_put_exit(&b, good[i]), 0);
		cr_assert_eq(ew_proto_get_header(&b, &type), 0);
		cr_assert_eq(type, EW_MSG_EXIT);
		cr_assert_eq(ew_proto_get_exit(&b, &v), 0);
		cr_assert_eq(v, good[i]);
		cr_assert_eq(ew_buf_len(&b), 0);
	}
	p = exact_copy("\0\0\0\0\0", 5);
	ew_buf_init_ro(&b, p, 5);
	cr_assert_eq(ew_proto_get_exit(&b, &v), -EW_E_TRAILING);
	cr_assert_eq(b.off, 0);
	free(p);
}

/* Encoders on too-small or read-only storage fail and append nothing. */
Test(proto, encoders_leave_buffer_untouched_on_failure)
{
	unsigned char mem[128], ro[4] = { 1, 2, 3, 4 };
	struct ew_buf b;
	size_t cap, size;
	int k, r;

	cr_assert_eq(ew_proto_ask_size(&sample_ask, &size), 0);
	cr_assert_leq(size, sizeof(mem));
	for (k = 0; k < 7; k++) {
		for (cap = 0;; cap++) {
			memset(mem, 0xee, sizeof(mem));
			ew_buf_init(&b, mem, cap);
			switch (k) {
			case 0:
				r = ew_proto_put_header(&b, EW_MSG_ASK);
				break;
			case 1:
				r = ew_proto_put_heartbeat(&b);
				break;
			case 2:
				r = ew_proto_put_signal(&b, SIGTERM);
				break;
			case 3:
				r = ew_proto_put_exit(&b, 0x100);
				break;
			case 4:
				r = ew_proto_put_answer(
				    &b, EW_VERDICT_DENY, "r", NULL);
				break;
			case 5:
				r = ew_proto_put_escalate(
				    &b, "tok", sample_envp);
				break;
			default:
				r = ew_proto_put_ask(&b, &sample_ask);
				break;
			}
			if (r == 0)
				break;
			cr_assert_eq(
			    r, -EW_E_LIMIT, "encoder %d cap %zu", k, cap);
			cr_assert_eq(ew_buf_len(&b), 0,
			    "encoder %d cap %zu appended %zu bytes", k, cap,
			    ew_buf_len(&b));
			cr_assert_eq(
			    mem[0], 0xee, "encoder %d cap %zu wrote", k, cap);
			cr_assert_lt(cap, sizeof(mem));
		}
		cr_assert_eq(ew_buf_avail(&b), 0,
		    "encoder %d: cap %zu not "
		    "exact",
		    k, cap);
	}
	/* A read-only buffer takes nothing. */
	ew_buf_init_ro(&b, ro, sizeof(ro));
	cr_assert_neq(ew_proto_put_header(&b, EW_MSG_ASK), 0);
	cr_assert_neq(ew_proto_put_heartbeat(&b), 0);
	cr_assert_neq(ew_proto_put_signal(&b, 1), 0);
	cr_assert_neq(ew_proto_put_exit(&b, 1), 0);
	cr_assert_neq(ew_proto_put_answer(&b, EW_VERDICT_ALLOW, NULL, NULL), 0);
	cr_assert_neq(ew_proto_put_escalate(&b, "t", NULL), 0);
	cr_assert_neq(ew_proto_put_ask(&b, &sample_ask), 0);
	cr_assert_eq(b.size, sizeof(ro));
	cr_assert_eq(b.off, 0);
}

/* ------------------------------------------------------------------ */
/* ESCALATE                                                             */

static struct ew_msg_escalate *
escalate_round_trip(const char *token, char *const *envp)
{
	struct ew_msg_escalate *m = NULL;
	struct ew_buf *b = heap(), rb;
	unsigned char *p;
	uint32_t type;
	size_t len, i;

	cr_assert_eq(ew_proto_put_escalate(b, token, envp), 0);
	len = ew_buf_len(b);
	p = exact_copy(ew_buf_ptr(b), len);
	ew_buf_free(b);
	ew_buf_init_ro(&rb, p, len);
	cr_assert_eq(ew_proto_get_header(&rb, &type), 0);
	cr_assert_eq(type, EW_MSG_ESCALATE);
	cr_assert_eq(ew_proto_get_escalate(&rb, &m), 0);
	cr_assert_eq(ew_buf_len(&rb), 0);
	free(p);
	cr_assert_str_eq(m->token, token);
	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		cr_assert_lt(i, m->envc);
		cr_assert_str_eq(m->envp[i], envp[i]);
	}
	cr_assert_eq(m->envc, i);
	cr_assert_null(m->envp[m->envc]);
	return m;
}

Test(proto, escalate_round_trip)
{
	char *token = pattern(EW_PROTO_TOKEN_MAX, 1);

	ew_msg_escalate_free(escalate_round_trip("abc", sample_envp));
	ew_msg_escalate_free(escalate_round_trip("x", NULL));
	ew_msg_escalate_free(escalate_round_trip(token, sample_envp));
	ew_msg_escalate_free(NULL);
	free(token);
}

Test(proto, escalate_encode_caps)
{
	char *token = pattern(EW_PROTO_TOKEN_MAX + 1, 1);
	char *big = pattern(EW_PROTO_STRING_MAX + 1, 2);
	char *env[] = { "A=b", big, NULL };
	char **many;
	struct ew_buf *b = heap();
	size_t i;

	cr_assert_eq(ew_proto_put_escalate(b, token, sample_envp), -EW_E_LIMIT);
	cr_assert_eq(ew_proto_put_escalate(b, "", sample_envp), -EW_E_INVALID);
	cr_assert_eq(
	    ew_proto_put_escalate(b, NULL, sample_envp), -EW_E_INVALID);
	cr_assert_eq(ew_proto_put_escalate(b, "t", env), -EW_E_LIMIT);
	many = calloc(EW_PROTO_ENVC_MAX + 2, sizeof(char *));
	cr_assert_not_null(many);
	for (i = 0; i <= EW_PROTO_ENVC_MAX; i++)
		many[i] = "";
	cr_assert_eq(ew_proto_put_escalate(b, "t", many), -EW_E_LIMIT);
	cr_assert_eq(ew_buf_len(b), 0);
	many[EW_PROTO_ENVC_MAX] = NULL;
	cr_assert_eq(ew_proto_put_escalate(b, "t", many), 0);
	free(many);
	ew_buf_free(b);
	free(token);
	free(big);
}

/* Build an ESCALATE body by hand and decode it. */
static int
raw_escalate(const void *token, size_t lt, uint32_t count,
    const struct raw *env, size_t nenv, size_t trailing)
{
	struct ew_msg_escalate *m = NULL;
	struct ew_buf *b = heap(), rb;
	unsigned char *p;
	size_t len, i;
	int r;

	cr_assert_eq(ew_buf_put_string(b, token, lt), 0);
	cr_assert_eq(ew_buf_put_u32(b, count), 0);
	for (i = 0; i < nenv; i++)
		cr_assert_eq(ew_buf_put_string(b, env[i].p, env[i].n), 0);
	for (i = 0; i < trailing; i++)
		cr_assert_eq(ew_buf_put_u8(b, 0), 0);
	len = ew_buf_len(b);
	p = exact_copy(ew_buf_ptr(b), len);
	ew_buf_free(b);
	ew_buf_init_ro(&rb, p, len);
	r = ew_proto_get_escalate(&rb, &m);
	if (r == 0)
		ew_msg_escalate_free(m);
	else {
		cr_assert_null(m);
		cr_assert_eq(rb.off, 0);
	}
	free(p);
	return r;
}

Test(proto, escalate_decode_errors)
{
	static const struct raw env[] = { RAW("A=1"), RAW("B=2") };
	static const struct raw nul_env[] = { RAW("A=1"), RAW("B=\0x") };
	char *big = pattern(EW_PROTO_STRING_MAX + 1, 3);
	struct raw big_env[1];

	cr_assert_eq(raw_escalate("tok", 3, 2, env, 2, 0), 0);
	cr_assert_eq(raw_escalate("tok", 3, 0, NULL, 0, 0), 0);
	cr_assert_eq(raw_escalate("", 0, 2, env, 2, 0), -EW_E_INVALID);
	cr_assert_eq(raw_escalate("t\0k", 3, 2, env, 2, 0), -EW_E_NUL);
	cr_assert_eq(raw_escalate(big, EW_PROTO_TOKEN_MAX + 1, 2, env, 2, 0),
	    -EW_E_LIMIT);
	cr_assert_eq(raw_escalate(big, EW_PROTO_TOKEN_MAX, 2, env, 2, 0), 0);
	cr_assert_eq(raw_escalate("tok", 3, 2, env, 2, 1), -EW_E_TRAILING);
	cr_assert_eq(raw_escalate("tok", 3, 1, env, 2, 0), -EW_E_TRAILING);
	cr_assert_eq(raw_escalate("tok", 3, 3, env, 2, 0), -EW_E_TRUNCATED);
	cr_assert_eq(
	    raw_escalate("tok", 3, 100000, env, 2, 0), -EW_E_TRUNCATED);
	cr_assert_eq(raw_escalate("tok", 3, EW_PROTO_ENVC_MAX + 1, env, 2, 0),
	    -EW_E_LIMIT);
	cr_assert_eq(
	    raw_escalate("tok", 3, UINT32_MAX, env, 2, 0), -EW_E_LIMIT);
	cr_assert_eq(raw_escalate("tok", 3, 2, nul_env, 2, 0), -EW_E_NUL);
	big_env[0].p = big;
	big_env[0].n = EW_PROTO_STRING_MAX + 1;
	cr_assert_eq(raw_escalate("tok", 3, 1, big_env, 1, 0), -EW_E_LIMIT);
	big_env[0].n = EW_PROTO_STRING_MAX;
	cr_assert_eq(raw_escalate("tok", 3, 1, big_env, 1, 0), 0);
	free(big);
}

/* ------------------------------------------------------------------ */
/* Transport: ew_proto_send / ew_proto_recv over a real socketpair      */

struct pair {
	int a, b;
};

static struct pair
mkpair(void)
{
	int sv[2];
	struct pair p;

	cr_assert_eq(ew_sock_pair(sv), 0);
	p.a = sv[0];
	p.b = sv[1];
	return p;
}

static void
rmpair(struct pair *p)
{
	p->a = ew_fd_close(p->a);
	p->b = ew_fd_close(p->b);
}

/* A 3 MB argv: thousands of distinct strings plus a few long ones. */
Test(proto, large_ask_over_socketpair)
{
	size_t n = 3000, i, size;
	struct ew_buf *tx = heap(), *rx = heap();
	struct ew_msg_ask *m;
	struct pair sp = mkpair();
	struct ew_ask a;
	uint32_t type;
	char **argv;
	size_t nfds = 9;
	int fds[4];

	argv = calloc(n + 1, sizeof(char *));
	cr_assert_not_null(argv);
	for (i = 0; i < n; i++)
		argv[i] = pattern(i % 10 == 0 ? 8000 : 700 + i % 113, i);
	a = sample_ask;
	a.argv = argv;
	cr_assert_eq(ew_proto_ask_size(&a, &size), 0);
	cr_assert_gt(size, 3 * 1000 * 1000);
	cr_assert_eq(ew_proto_put_ask(tx, &a), 0);
	cr_assert_eq(ew_buf_len(tx), size);

	cr_assert_eq(ew_proto_send(sp.a, tx, NULL, 0), 0);
	cr_assert_eq(ew_proto_recv(sp.b, rx, fds, 4, &nfds), 0);
	cr_assert_eq(nfds, 0, "the memfd must not be handed to the caller");
	cr_assert_eq(ew_buf_len(rx), size);
	cr_assert_arr_eq(ew_buf_ptr(rx), ew_buf_ptr(tx), size);
	cr_assert_eq(ew_proto_get_header(rx, &type), 0);
	cr_assert_eq(type, EW_MSG_ASK);
	cr_assert_eq(ew_proto_get_ask(rx, &m), 0);
	assert_ask_eq(m, &a);
	ew_msg_ask_free(m);

	for (i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
	ew_buf_free(tx);
	ew_buf_free(rx);
	rmpair(&sp);
}

/*
 * An ASK whose encoding is exactly len bytes: "x" then k strings that are
 * suffixes of one pattern of EW_PROTO_STRING_MAX bytes (*argp, caller
 * frees), so none is over the cap.
 */
static struct ew_buf *
ask_of_size(size_t len, char **argp)
{
	struct ew_ask a = sample_ask;
	char *one[] = { "x", NULL }, **argv;
	size_t base, rest, k, each, extra, i, l;
	struct ew_buf *b;

	a.argv = one;
	cr_assert_eq(ew_proto_ask_size(&a, &base), 0);
	cr_assert_geq(len, base + 4);
	rest = len - base;
	k = (rest + EW_PROTO_STRING_MAX + 3) / (EW_PROTO_STRING_MAX + 4);
	each = (rest - 4 * k) / k;
	extra = (rest - 4 * k) % k;
	*argp = pattern(EW_PROTO_STRING_MAX, 1);
	argv = calloc(k + 2, sizeof(char *));
	cr_assert_not_null(argv);
	argv[0] = "x";
	for (i = 0; i < k; i++) {
		l = each + (i < extra ? 1 : 0);
		cr_assert_leq(l, EW_PROTO_STRING_MAX);
		argv[i + 1] = *argp + EW_PROTO_STRING_MAX - l;
	}
	a.argv = argv;
	b = encode_ask(&a);
	cr_assert_eq(ew_buf_len(b), len);
	free(argv);
	return b;
}

/* Inline up to EW_PROTO_RECORD_MAX, a sealed memfd above it. */
Test(proto, record_max_boundary)
{
	static const size_t sizes[] = { EW_PROTO_RECORD_MAX - 1,
		EW_PROTO_RECORD_MAX, EW_PROTO_RECORD_MAX + 1 };
	unsigned char *raw = malloc(EW_PROTO_RECORD_MAX + 64);
	struct pair sp = mkpair();
	struct ew_buf *tx, *rx, env;
	struct stat st;
	size_t i, len, nfds;
	uint32_t type;
	uint64_t big;
	char *arg;
	int fds[4], seals, before;

	cr_assert_not_null(raw);
	for (i = 0; i < 3; i++) {
		tx = ask_of_size(sizes[i], &arg);
		cr_assert_eq(ew_buf_len(tx), sizes[i]);
		before = count_fds();

		/* What travels on the socket. */
		cr_assert_eq(ew_proto_send(sp.a, tx, NULL, 0), 0);
		cr_assert_eq(count_fds(), before, "sender leaked its memfd");
		cr_assert_eq(ew_fd_recv(sp.b, raw, EW_PROTO_RECORD_MAX + 64,
				 &len, fds, 4, &nfds),
		    0);
		if (sizes[i] <= EW_PROTO_RECORD_MAX) {
			cr_assert_eq(len, sizes[i]);
			cr_assert_eq(nfds, 0);
			cr_assert_arr_eq(raw, ew_buf_ptr(tx), len);
		} else {
			cr_assert_eq(len, 16);
			cr_assert_eq(nfds, 1);
			ew_buf_init_ro(&env, raw, len);
			cr_assert_eq(ew_proto_get_header(&env, &type), 0);
			cr_assert_eq(type, EW_MSG_LARGE);
			cr_assert_eq(ew_buf_get_u64(&env, &big), 0);
			cr_assert_eq(big, sizes[i]);
			cr_assert_eq(fstat(fds[0], &st), 0);
			cr_assert_eq((size_t)st.st_size, sizes[i]);
			seals = fcntl(fds[0], F_GET_SEALS);
			cr_assert_eq(seals &
				(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
				    F_SEAL_SEAL),
			    F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
				F_SEAL_SEAL);
			cr_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
			fds[0] = ew_fd_close(fds[0]);
		}

		/* And through ew_proto_recv, transparently. */
		rx = heap();
		cr_assert_eq(ew_proto_send(sp.a, tx, NULL, 0), 0);
		cr_assert_eq(ew_proto_recv(sp.b, rx, fds, 4, &nfds), 0);
		cr_assert_eq(nfds, 0);
		cr_assert_eq(ew_buf_len(rx), sizes[i]);
		cr_assert_arr_eq(ew_buf_ptr(rx), ew_buf_ptr(tx), sizes[i]);
		cr_assert_eq(decode_any(ew_buf_ptr(rx), ew_buf_len(rx)), 0);
		cr_assert_eq(count_fds(), before);
		ew_buf_free(rx);
		ew_buf_free(tx);
		free(arg);
	}
	free(raw);
	rmpair(&sp);
}

/* Fixed storage too small for what arrives: -EW_E_LIMIT, every fd that
 * came with it closed, the buffer left empty, the stream still in step. */
Test(proto, recv_fixed_storage_too_small)
{
	static const size_t sizes[] = { 1000, EW_PROTO_RECORD_MAX + 5000 };
	unsigned char mem[EW_PROTO_RECORD_MAX + 100];
	struct pair sp = mkpair();
	struct ew_buf *tx, rx, *ok = heap();
	int pfd[2], fds[4], before;
	size_t i, nfds = 7;
	char *arg;

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	for (i = 0; i < 2; i++) {
		tx = ask_of_size(sizes[i], &arg);
		before = count_fds();
		cr_assert_eq(ew_proto_send(sp.a, tx, pfd, 2), 0);
		/* 1000 bytes into 512; 69 KB into about 65 KB. */
		ew_buf_init(&rx, mem, i == 0 ? 512 : sizeof(mem));
		fds[0] = -7;
		cr_assert_eq(ew_proto_recv(sp.b, &rx, fds, 4, &nfds),
		    -EW_E_LIMIT, "size %zu", sizes[i]);
		cr_assert_eq(nfds, 0);
		cr_assert_eq(fds[0], -7, "fds written on failure");
		cr_assert_eq(ew_buf_len(&rx), 0);
		cr_assert_eq(
		    count_fds(), before, "size %zu leaked fds", sizes[i]);
		ew_buf_free(tx);
		free(arg);
	}
	/* A small heap max is a limit too. */
	tx = ask_of_size(2000, &arg);
	{
		struct ew_buf *small = ew_buf_new(1999);

		cr_assert_not_null(small);
		cr_assert_eq(ew_proto_send(sp.a, tx, NULL, 0), 0);
		cr_assert_eq(
		    ew_proto_recv(sp.b, small, NULL, 0, NULL), -EW_E_LIMIT);
		ew_buf_free(small);
	}
	/* The next message is read whole. */
	cr_assert_eq(ew_proto_send(sp.a, tx, NULL, 0), 0);
	cr_assert_eq(ew_proto_recv(sp.b, ok, NULL, 0, NULL), 0);
	cr_assert_eq(ew_buf_len(ok), 2000);
	ew_buf_free(tx);
	ew_buf_free(ok);
	free(arg);
	close(pfd[0]);
	close(pfd[1]);
	rmpair(&sp);
}

/* Fixed storage that is large enough works, no allocation involved. */
Test(proto, recv_fixed_storage_fits)
{
	unsigned char mem[4096];
	struct pair sp = mkpair();
	struct ew_buf tx, rx;
	struct ew_msg_answer a;
	unsigned char txmem[256];
	uint32_t type;

	ew_buf_init(&tx, txmem, sizeof(txmem));
	cr_assert_eq(
	    ew_proto_put_answer(&tx, EW_VERDICT_DENY, "nope", NULL), 0);
	cr_assert_eq(ew_proto_send(sp.b, &tx, NULL, 0), 0);
	ew_buf_init(&rx, mem, sizeof(mem));
	cr_assert_eq(ew_proto_recv(sp.a, &rx, NULL, 0, NULL), 0);
	cr_assert_eq(ew_proto_get_header(&rx, &type), 0);
	cr_assert_eq(type, EW_MSG_ANSWER);
	cr_assert_eq(ew_proto_get_answer(&rx, &a), 0);
	cr_assert_eq(a.verdict, EW_VERDICT_DENY);
	cr_assert_str_eq(a.reason, "nope");
	rmpair(&sp);
}

static int
sealed_memfd(const void *data, size_t len, unsigned seals)
{
	int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	if (seals != 0)
		cr_assert_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* Send a hand-made LARGE envelope declaring len, with fds attached. */
static void
send_envelope(int sock, uint64_t len, size_t extra, const int *fds, size_t nfds)
{
	unsigned char mem[64];
	struct ew_buf b;
	size_t i;

	ew_buf_init(&b, mem, sizeof(mem));
	cr_assert_eq(ew_proto_put_header(&b, EW_MSG_LARGE), 0);
	cr_assert_eq(ew_buf_put_u64(&b, len), 0);
	for (i = 0; i < extra; i++)
		cr_assert_eq(ew_buf_put_u8(&b, 0), 0);
	cr_assert_eq(
	    ew_fd_send(sock, ew_buf_ptr(&b), ew_buf_len(&b), fds, nfds), 0);
}

Test(proto, large_envelope_validation)
{
	const unsigned seals_all =
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
	struct pair sp = mkpair();
	struct ew_buf *tx, *rx = heap();
	size_t len, nfds;
	int mfd, pfd[2], fds[4], before, r;
	char *arg;

	tx = ask_of_size(EW_PROTO_RECORD_MAX + 100, &arg);
	len = ew_buf_len(tx);
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	before = count_fds();

#define EXPECT_RECV(want, what)                                              \
	do {                                                                 \
		r = ew_proto_recv(sp.b, rx, fds, 4, &nfds);                  \
		cr_assert_eq(                                                \
		    r, (want), "%s: got %d (%s)", (what), r, ew_err_str(r)); \
		if (r != 0)                                                  \
			cr_assert_eq(ew_buf_len(rx), 0, "%s", (what));       \
		cr_assert_eq(count_fds(), before, "%s: fd leak", (what));    \
	} while (0)

	/* A well-formed hand-made envelope is accepted (so each refusal
	 * below is about the one thing changed). */
	mfd = sealed_memfd(ew_buf_ptr(tx), len, seals_all);
	send_envelope(sp.a, len, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(0, "good");
	cr_assert_eq(ew_buf_len(rx), len);
	cr_assert_arr_eq(ew_buf_ptr(rx), ew_buf_ptr(tx), len);
	ew_buf_reset(rx);

	/* Only SHRINK and WRITE are needed: the reader checks the size. */
	mfd = sealed_memfd(ew_buf_ptr(tx), len, F_SEAL_SHRINK | F_SEAL_WRITE);
	send_envelope(sp.a, len, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(0, "shrink+write seals");
	ew_buf_reset(rx);

	mfd = sealed_memfd(ew_buf_ptr(tx), len, 0);
	send_envelope(sp.a, len, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_INVALID, "not sealed");

	mfd = sealed_memfd(ew_buf_ptr(tx), len, F_SEAL_SHRINK | F_SEAL_GROW);
	send_envelope(sp.a, len, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_INVALID, "writable");

	mfd = sealed_memfd(ew_buf_ptr(tx), len, F_SEAL_WRITE | F_SEAL_GROW);
	send_envelope(sp.a, len, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_INVALID, "shrinkable");

	mfd = sealed_memfd(ew_buf_ptr(tx), len, seals_all);
	send_envelope(sp.a, len + 1, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_INVALID, "declared longer than the memfd");

	mfd = sealed_memfd(ew_buf_ptr(tx), len, seals_all);
	send_envelope(sp.a, len - 1, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_INVALID, "declared shorter than the memfd");

	send_envelope(sp.a, len, 0, NULL, 0);
	EXPECT_RECV(-EW_E_INVALID, "memfd missing");

	mfd = sealed_memfd(ew_buf_ptr(tx), len, seals_all);
	send_envelope(sp.a, len, 1, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_INVALID, "envelope with a trailing byte");

	send_envelope(sp.a, len, 0, pfd, 2);
	EXPECT_RECV(-EW_E_INVALID, "a pipe instead of a memfd");

	mfd = sealed_memfd(ew_buf_ptr(tx), EW_PROTO_RECORD_MAX, seals_all);
	send_envelope(sp.a, EW_PROTO_RECORD_MAX, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_LIMIT, "small enough to go inline");

	mfd = sealed_memfd(ew_buf_ptr(tx), len, seals_all);
	send_envelope(sp.a, (uint64_t)EW_PROTO_MSG_MAX + 1, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_LIMIT, "over the message cap");

	mfd = sealed_memfd(ew_buf_ptr(tx), len, seals_all);
	send_envelope(sp.a, UINT64_MAX, 0, &mfd, 1);
	close(mfd);
	EXPECT_RECV(-EW_E_LIMIT, "giant length");

	/* Extra fds beside a bad memfd are closed too. */
	mfd = sealed_memfd(ew_buf_ptr(tx), len, 0);
	{
		int three[3] = { mfd, pfd[0], pfd[1] };

		send_envelope(sp.a, len, 0, three, 3);
	}
	close(mfd);
	EXPECT_RECV(-EW_E_INVALID, "unsealed, with fds");
#undef EXPECT_RECV

	close(pfd[0]);
	close(pfd[1]);
	ew_buf_free(tx);
	ew_buf_free(rx);
	free(arg);
	rmpair(&sp);
}

/* A receiver that asks for no fds gets none: they are closed. */
Test(proto, recv_unwanted_fds_closed)
{
	struct ew_buf *small = heap(), *big, *rx = heap();
	struct pair sp = mkpair();
	int pfd[2], fds[1] = { -5 }, before;
	size_t nfds = 3;
	char *arg;

	cr_assert_eq(ew_proto_put_heartbeat(small), 0);
	big = ask_of_size(EW_PROTO_RECORD_MAX + 10, &arg);
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	before = count_fds();

	cr_assert_eq(ew_proto_send(sp.a, small, pfd, 1), 0);
	cr_assert_eq(ew_proto_recv(sp.b, rx, NULL, 0, &nfds), -EW_E_CMSG);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(count_fds(), before);

	cr_assert_eq(ew_proto_send(sp.a, big, pfd, 1), 0);
	cr_assert_eq(ew_proto_recv(sp.b, rx, NULL, 0, &nfds), -EW_E_CMSG);
	cr_assert_eq(ew_buf_len(rx), 0);
	cr_assert_eq(count_fds(), before);

	/* More than maxfds: all of them closed, the caller's array alone. */
	cr_assert_eq(ew_proto_send(sp.a, small, pfd, 2), 0);
	cr_assert_eq(ew_proto_recv(sp.b, rx, fds, 1, &nfds), -EW_E_CMSG);
	cr_assert_eq(fds[0], -5);
	cr_assert_eq(count_fds(), before);
	cr_assert_eq(ew_proto_send(sp.a, big, pfd, 2), 0);
	cr_assert_eq(ew_proto_recv(sp.b, rx, fds, 1, &nfds), -EW_E_CMSG);
	cr_assert_eq(count_fds(), before);

	/* A message with no fds passes with fds NULL. */
	cr_assert_eq(ew_proto_send(sp.a, small, NULL, 0), 0);
	cr_assert_eq(ew_proto_recv(sp.b, rx, NULL, 0, NULL), 0);
	cr_assert_eq(ew_buf_len(rx), 8);

	close(pfd[0]);
	close(pfd[1]);
	ew_buf_free(small);
	ew_buf_free(big);
	ew_buf_free(rx);
	free(arg);
	rmpair(&sp);
}

/* Received fds work: write through them, read at the other end. */
static void
check_fds_usable(int large)
{
	struct ew_buf *tx, *rx = heap();
	struct pair sp = mkpair();
	struct stat st1, st2;
	int pfd[2], mfd, send[2], got[4];
	char buf[16], *arg = NULL;
	size_t nfds = 0, i;

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	mfd = memfd_create("usable", MFD_CLOEXEC);
	cr_assert_geq(mfd, 0);
	cr_assert_eq(ftruncate(mfd, 64), 0);
	send[0] = pfd[1];
	send[1] = mfd;
	if (large)
		tx = ask_of_size(EW_PROTO_RECORD_MAX * 3, &arg);
	else {
		tx = heap();
		cr_assert_eq(ew_proto_put_escalate(tx, "tok", sample_envp), 0);
	}
	cr_assert_eq(ew_proto_send(sp.a, tx, send, 2), 0);
	cr_assert_eq(ew_proto_recv(sp.b, rx, got, 4, &nfds), 0);
	cr_assert_eq(nfds, 2);
	cr_assert_arr_eq(ew_buf_ptr(rx), ew_buf_ptr(tx), ew_buf_len(tx));
	for (i = 0; i < nfds; i++) {
		cr_assert(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
		cr_assert_neq(got[i], send[0]);
		cr_assert_neq(got[i], send[1]);
	}
	/* Order is kept: [0] is the pipe's write end, [1] the memfd. */
	cr_assert_eq(fstat(got[0], &st1), 0);
	cr_assert_eq(fstat(pfd[1], &st2), 0);
	cr_assert_eq(st1.st_ino, st2.st_ino);
	cr_assert_eq(write(got[0], "ping", 4), 4);
	cr_assert_eq(read(pfd[0], buf, sizeof(buf)), 4);
	cr_assert_arr_eq(buf, "ping", 4);
	cr_assert_eq(pwrite(got[1], "pong", 4, 10), 4);
	cr_assert_eq(pread(mfd, buf, 4, 10), 4);
	cr_assert_arr_eq(buf, "pong", 4);
	/* Closing our copy and the received one gives the reader EOF. */
	close(got[0]);
	close(pfd[1]);
	cr_assert_eq(read(pfd[0], buf, sizeof(buf)), 0);
	close(got[1]);
	close(pfd[0]);
	close(mfd);
	ew_buf_free(tx);
	ew_buf_free(rx);
	free(arg);
	rmpair(&sp);
}

Test(proto, fds_usable_inline)
{
	check_fds_usable(0);
}

Test(proto, fds_usable_with_large_message)
{
	check_fds_usable(1);
}

/* Escalation hand-over in a memfd (a large environment) plus fds 0-2. */
Test(proto, large_escalate_with_stdio_fds)
{
	size_t n = 4000, i, nfds = 0;
	struct ew_msg_escalate *m;
	struct ew_buf *tx = heap(), *rx = heap();
	struct pair sp = mkpair();
	int fds[3], pfd[2], got[8];
	uint32_t type;
	char **env;

	/* Stand-ins for the helper's stdin, stdout and stderr. */
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	fds[0] = pfd[0];
	fds[1] = pfd[1];
	fds[2] = open("/dev/null", O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fds[2], 0);
	env = calloc(n + 1, sizeof(char *));
	cr_assert_not_null(env);
	for (i = 0; i < n; i++) {
		env[i] = pattern(300, i);
		env[i][1] = '=';
	}
	cr_assert_eq(ew_proto_put_escalate(tx, "tok-xyz", env), 0);
	cr_assert_gt(ew_buf_len(tx), EW_PROTO_RECORD_MAX);
	cr_assert_eq(ew_proto_send(sp.a, tx, fds, 3), 0);
	cr_assert_eq(ew_proto_recv(sp.b, rx, got, 8, &nfds), 0);
	cr_assert_eq(nfds, 3);
	cr_assert_eq(ew_proto_get_header(rx, &type), 0);
	cr_assert_eq(type, EW_MSG_ESCALATE);
	cr_assert_eq(ew_proto_get_escalate(rx, &m), 0);
	cr_assert_str_eq(m->token, "tok-xyz");
	cr_assert_eq(m->envc, n);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(m->envp[i], env[i]);
	ew_msg_escalate_free(m);
	/* Same files, in the same order. */
	for (i = 0; i < nfds; i++) {
		struct stat s1, s2;

		cr_assert_eq(fstat(got[i], &s1), 0);
		cr_assert_eq(fstat(fds[i], &s2), 0);
		cr_assert_eq(s1.st_ino, s2.st_ino);
		cr_assert_eq(s1.st_dev, s2.st_dev);
		close(got[i]);
		close(fds[i]);
	}
	for (i = 0; i < n; i++)
		free(env[i]);
	free(env);
	ew_buf_free(tx);
	ew_buf_free(rx);
	rmpair(&sp);
}

Test(proto, send_limits)
{
	struct ew_buf *tx = heap(), *huge;
	struct pair sp = mkpair();
	int fds[EW_FD_PASS_MAX + 1], pfd[2], before;
	unsigned char *p;
	size_t i;
	char *arg;

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	for (i = 0; i < EW_FD_PASS_MAX + 1; i++)
		fds[i] = pfd[0];
	cr_assert_eq(ew_proto_put_heartbeat(tx), 0);
	cr_assert_eq(
	    ew_proto_send(sp.a, tx, fds, EW_FD_PASS_MAX + 1), -EW_E_LIMIT);
	ew_buf_free(tx);
	/* A large message needs one fd slot for its memfd. */
	tx = ask_of_size(EW_PROTO_RECORD_MAX + 1, &arg);
	before = count_fds();
	cr_assert_eq(ew_proto_send(sp.a, tx, fds, EW_FD_PASS_MAX), -EW_E_LIMIT);
	cr_assert_eq(ew_proto_send(sp.a, tx, fds, EW_FD_PASS_MAX - 1), 0);
	cr_assert_eq(count_fds(), before);
	ew_buf_free(tx);
	free(arg);
	/* Over the overall message cap. */
	huge = ew_buf_new(EW_PROTO_MSG_MAX + 1);
	cr_assert_not_null(huge);
	cr_assert_eq(ew_buf_reserve(huge, EW_PROTO_MSG_MAX + 1, &p), 0);
	memset(p, 0, EW_PROTO_MSG_MAX + 1);
	cr_assert_eq(ew_proto_send(sp.a, huge, NULL, 0), -EW_E_LIMIT);
	cr_assert_eq(count_fds(), before);
	ew_buf_free(huge);
	close(pfd[0]);
	close(pfd[1]);
	rmpair(&sp);
}

Test(proto, recv_closed_peer)
{
	struct ew_buf *tx = heap(), *rx = heap();
	struct pair sp = mkpair();
	size_t nfds = 4;

	cr_assert_eq(ew_proto_put_signal(tx, SIGINT), 0);
	cr_assert_eq(ew_proto_send(sp.a, tx, NULL, 0), 0);
	sp.a = ew_fd_close(sp.a);
	/* What was sent before the close still arrives, then the end. */
	cr_assert_eq(ew_proto_recv(sp.b, rx, NULL, 0, &nfds), 0);
	cr_assert_eq(ew_buf_len(rx), 12);
	ew_buf_reset(rx);
	cr_assert_eq(ew_proto_recv(sp.b, rx, NULL, 0, &nfds), -EW_E_CLOSED);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(ew_buf_len(rx), 0);
	/* And the sender sees the closed peer as an error, not SIGPIPE. */
	cr_assert_eq(ew_proto_send(sp.b, tx, NULL, 0), -EPIPE);
	ew_buf_free(tx);
	ew_buf_free(rx);
	rmpair(&sp);
}

Test(proto, recv_readonly_buffer_refused)
{
	static const unsigned char data[4] = { 0 };
	struct pair sp = mkpair();
	struct ew_buf ro;

	ew_buf_init_ro(&ro, data, sizeof(data));
	cr_assert_eq(ew_proto_recv(sp.b, &ro, NULL, 0, NULL), -EW_E_READONLY);
	rmpair(&sp);
}

/* ------------------------------------------------------------------ */
/* ew_err                                                               */

Test(err, every_code_has_its_own_text)
{
	const char *seen[EW_E_MAX - EW_E_BASE];
	int e, k;

	for (e = EW_E_BASE + 1; e < EW_E_MAX; e++) {
		const char *s = ew_err_str(-e);

		cr_assert_not_null(s);
		cr_assert_gt(strlen(s), 0);
		cr_assert_str_neq(s, "unknown error", "code %d", e);
		/* The sign does not matter. */
		cr_assert_eq(ew_err_str(e), s);
		for (k = EW_E_BASE + 1; k < e; k++)
			cr_assert_str_neq(seen[k - EW_E_BASE], s,
			    "codes %d and %d share a text", k, e);
		seen[e - EW_E_BASE] = s;
	}
	cr_assert_str_eq(ew_err_str(-EW_E_TRUNCATED), "message truncated");
	cr_assert_str_eq(ew_err_str(-EW_E_TIMEOUT), "timed out");
}

Test(err, errnos_match_libc)
{
	static const int errs[] = { EPERM, ENOENT, EINTR, EIO, E2BIG, EBADF,
		EAGAIN, ENOMEM, EACCES, EFAULT, ENOTDIR, EINVAL, EMFILE, ENFILE,
		ENOSPC, EPIPE, ENAMETOOLONG, ENOSYS, EMSGSIZE, ENOTSOCK,
		ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOBUFS, EPROTO };
	size_t i;

	/* Criterion runs tests in the C locale: strerror is the reference. */
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		cr_assert_str_eq(ew_err_str(-errs[i]), strerror(errs[i]),
		    "errno %d", errs[i]);
		cr_assert_str_eq(ew_err_str(errs[i]), strerror(errs[i]));
	}
}

Test(err, unknown_codes)
{
	cr_assert_str_eq(ew_err_str(0), "unknown error");
	cr_assert_str_eq(ew_err_str(-EW_E_BASE), "unknown error");
	cr_assert_str_eq(ew_err_str(-EW_E_MAX), "unknown error");
	cr_assert_str_eq(ew_err_str(-99999), "unknown error");
	cr_assert_str_eq(ew_err_str(-EHWPOISON), "unknown error");
	cr_assert_str_eq(ew_err_str(INT_MAX), "unknown error");
	cr_assert_str_eq(ew_err_str(INT_MIN), "unknown error");
	cr_assert_str_eq(ew_err_str(-INT_MAX), "unknown error");
}
