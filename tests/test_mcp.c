/* Unit tests of the MCP server's JSON input, output capture and JSON-RPC. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "ew_err.h"
#include "ew_mcp_int.h"

/* JSON input. */

static struct ew_mcp_val *
parse_ok(const char *text)
{
	struct ew_mcp_val *v = NULL;
	char err[256];
	int r = ew_mcp_parse(text, strlen(text), &v, err, sizeof(err));

	cr_assert_eq(r, 0, "%s: %s", text, err);
	return v;
}

static int
parse_err(const char *text, size_t len, char *err, size_t errlen)
{
	struct ew_mcp_val *v = (struct ew_mcp_val *)1;
	int r = ew_mcp_parse(text, len, &v, err, errlen);

	cr_assert_null(v);
	return r;
}

/* The value at a dotted path ("error.code", "result.tools.0.name"). */
static const struct ew_mcp_val *
at(const struct ew_mcp_val *v, const char *path)
{
	char buf[256], *tok, *save = NULL;
	char *end;
	unsigned long i;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok != NULL && v != NULL;
	     tok = strtok_r(NULL, ".", &save)) {
		if (v->type == EW_MCP_T_ARRAY) {
			i = strtoul(tok, &end, 10);
			v = *end == '\0' && i < v->n ? v->vals[i] : NULL;
		} else
			v = ew_mcp_val_get(v, tok);
	}
	return v;
}

Test(mcp, parse_types)
{
	struct ew_mcp_val *v = parse_ok(
	    "{\"s\":\"h\\u00e9\\n\",\"i\":-42,\"big\":123456789012345678901,"
	    "\"d\":1.5,\"e\":1e3,\"t\":true,\"f\":false,\"n\":null,"
	    "\"a\":[1,[2],{}],\"o\":{\"k\":\"v\"}}");

	cr_assert_eq(v->type, EW_MCP_T_OBJECT);
	cr_assert_str_eq(ew_mcp_val_str(at(v, "s")), "h\xc3\xa9\n");
	cr_assert_eq(at(v, "i")->type, EW_MCP_T_INT);
	cr_assert_eq(at(v, "i")->i, -42);
	cr_assert_eq(at(v, "big")->type, EW_MCP_T_NUMBER);
	cr_assert_eq(at(v, "d")->type, EW_MCP_T_NUMBER);
	cr_assert_float_eq(at(v, "d")->d, 1.5, 1e-9);
	cr_assert_eq(at(v, "e")->type, EW_MCP_T_NUMBER);
	cr_assert(at(v, "t")->b);
	cr_assert_not(at(v, "f")->b);
	cr_assert_eq(at(v, "n")->type, EW_MCP_T_NULL);
	cr_assert_eq(at(v, "a")->n, 3);
	cr_assert_eq(at(v, "a.1.0")->i, 2);
	cr_assert_str_eq(ew_mcp_val_str(at(v, "o.k")), "v");
	cr_assert_null(ew_mcp_val_get(v, "missing"));
	cr_assert_null(ew_mcp_val_get(at(v, "a"), "k"));
	cr_assert_null(ew_mcp_val_str(at(v, "i")));
	ew_mcp_val_free(v);
}

Test(mcp, parse_nul_in_string)
{
	struct ew_mcp_val *v = parse_ok("{\"s\":\"a\\u0000b\"}");

	cr_assert_eq(at(v, "s")->len, 3);
	cr_assert_eq(memcmp(at(v, "s")->s, "a\0b", 3), 0);
	/* A string with NUL never passes as a C string. */
	cr_assert_null(ew_mcp_val_str(at(v, "s")));
	ew_mcp_val_free(v);
}

Test(mcp, parse_errors)
{
	static const char *const bad[] = { "", "   ", "nope", "{\"a\":1",
		"{\"a\":1} x", "{\"a\":1}{}", "[1,]", "{'a':1}",
		"{\"a\":\"tab\there\"}", "/* c */ {}" };
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(
		    parse_err(bad[i], strlen(bad[i]), err, sizeof(err)),
		    -EW_E_INVALID, "%s", bad[i]);
		cr_assert_neq(err[0], '\0');
		cr_assert_null(strchr(err, '\n'));
	}
	/* Invalid UTF-8, and a raw NUL byte. */
	cr_assert_eq(parse_err("\"\xff\"", 3, err, sizeof(err)), -EW_E_INVALID);
	cr_assert_eq(
	    parse_err("{\"a\":1}\0", 8, err, sizeof(err)), -EW_E_INVALID);
}

Test(mcp, parse_limits)
{
	char *deep = malloc(2 * EW_MCP_DEPTH_MAX + 8), *wide;
	struct ew_mcp_val *v;
	char err[256];
	size_t i, n;

	/* EW_MCP_DEPTH_MAX levels parse; one more does not. */
	for (n = 0; n < EW_MCP_DEPTH_MAX; n++)
		deep[n] = '[';
	for (i = 0; i < EW_MCP_DEPTH_MAX; i++)
		deep[n + i] = ']';
	v = NULL;
	cr_assert_eq(ew_mcp_parse(deep, 2 * n, &v, err, sizeof(err)), 0);
	ew_mcp_val_free(v);
	memmove(deep + 1, deep, 2 * n);
	deep[0] = '[';
	deep[2 * n + 1] = ']';
	cr_assert_eq(parse_err(deep, 2 * n + 2, err, sizeof(err)), -EW_E_LIMIT);
	cr_assert(strstr(err, "deep") != NULL, "%s", err);
	free(deep);

	/* EW_MCP_VALUES_MAX values in all (the array counts as one). */
	n = EW_MCP_VALUES_MAX;
	wide = malloc(2 * n + 4);
	wide[0] = '[';
	for (i = 0; i < n; i++) {
		wide[1 + 2 * i] = '0';
		wide[2 + 2 * i] = ',';
	}
	wide[2 * n] = ']';
	cr_assert_eq(parse_err(wide, 2 * n + 1, err, sizeof(err)), -EW_E_LIMIT);
	cr_assert(strstr(err, "too many values") != NULL, "%s", err);
	wide[2 * n - 2] = ']';
	cr_assert_eq(ew_mcp_parse(wide, 2 * n - 1, &v, err, sizeof(err)), 0);
	cr_assert_eq(v->n, n - 1);
	ew_mcp_val_free(v);
	free(wide);
}

Test(mcp, val_put_round_trip)
{
	const char *text = "{\"a\":[1,-2,1.5e3,\"x\\\"y\",true,null,{}],"
			   "\"b\":\"\\u0000\"}";
	struct ew_mcp_val *v = parse_ok(text);
	struct ew_buf *b = ew_buf_new(4096);
	struct ew_json j;

	ew_json_init(&j, b);
	ew_mcp_val_put(&j, v);
	cr_assert_eq(ew_json_error(&j), 0);
	cr_assert_eq(ew_buf_len(b), strlen(text));
	cr_assert_eq(memcmp(ew_buf_ptr(b), text, strlen(text)), 0, "%.*s",
	    (int)ew_buf_len(b), ew_buf_ptr(b));
	ew_buf_free(b);
	ew_mcp_val_free(v);
}

Test(mcp, revisions)
{
	cr_assert_eq(ew_mcp_rev_parse("2024-11-05"), EW_MCP_REV_2024_11_05);
	cr_assert_eq(ew_mcp_rev_parse("2025-11-25"), EW_MCP_REV_2025_11_25);
	cr_assert_eq(ew_mcp_rev_parse("2026-07-28"), EW_MCP_REV_NONE);
	cr_assert_eq(ew_mcp_rev_parse(NULL), EW_MCP_REV_NONE);
	cr_assert_str_eq(ew_mcp_rev_name(EW_MCP_REV_2025_06_18), "2025-06-18");
	cr_assert_null(ew_mcp_rev_name(EW_MCP_REV_NONE));
}

/* Output capture. */

static char *
capture_text(struct ew_mcp_capture *c, size_t keep, size_t *len)
{
	char *out = NULL;

	cr_assert_eq(ew_mcp_capture_text(c, keep, &out, len), 0);
	cr_assert_eq(strlen(out), *len);
	return out;
}

Test(mcp, capture_fits)
{
	struct ew_mcp_capture c;
	char *t;
	size_t len;

	cr_assert_eq(ew_mcp_capture_init(&c, 16), 0);
	ew_mcp_capture_put(&c, "hello ", 6);
	ew_mcp_capture_put(&c, "world\n", 6);
	t = capture_text(&c, 16, &len);
	cr_assert_str_eq(t, "hello world\n");
	free(t);
	/* Exactly the cap, written across the head/tail seam. */
	ew_mcp_capture_put(&c, "1234", 4);
	t = capture_text(&c, 16, &len);
	cr_assert_str_eq(t, "hello world\n1234");
	free(t);
	ew_mcp_capture_fini(&c);
}

Test(mcp, capture_cut)
{
	struct ew_mcp_capture c;
	char line[16], *t, *mark;
	size_t len;
	int i;

	cr_assert_eq(ew_mcp_capture_init(&c, 64), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "%04d\n", i);
		ew_mcp_capture_put(&c, line, 5);
	}
	cr_assert_eq(c.total, 5000);
	t = capture_text(&c, 64, &len);
	cr_assert(strncmp(t, "0000\n0001\n", 10) == 0, "%s", t);
	cr_assert(
	    len > 32 && strcmp(t + len - 10, "0998\n0999\n") == 0, "%s", t);
	mark = strstr(t, "[... ");
	cr_assert_not_null(mark);
	/* 32 head bytes and 32 tail bytes kept: 4936 cut. */
	cr_assert(strstr(mark,
		      "[... 4936 bytes of output cut by execward "
		      "...]\n") == mark,
	    "%s", mark);
	free(t);
	/* Keeping less: a smaller head and tail of the same stream. */
	t = capture_text(&c, 20, &len);
	cr_assert(strncmp(t, "0000\n0001\n", 10) == 0, "%s", t);
	cr_assert(strstr(t, "[... 4980 bytes") != NULL, "%s", t);
	cr_assert(strcmp(t + len - 10, "0998\n0999\n") == 0, "%s", t);
	free(t);
	ew_mcp_capture_fini(&c);
}

Test(mcp, capture_big_write)
{
	struct ew_mcp_capture c;
	char big[1000], *t;
	size_t len, i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	cr_assert_eq(ew_mcp_capture_init(&c, 10), 0);
	ew_mcp_capture_put(&c, big, sizeof(big));
	t = capture_text(&c, 10, &len);
	cr_assert(strncmp(t, "abcde\n[... 990 bytes", 20) == 0, "%s", t);
	/* The last five bytes: indexes 995..999 are h i j k l. */
	cr_assert_str_eq(t + len - 5, "hijkl");
	free(t);
	ew_mcp_capture_fini(&c);
}

Test(mcp, capture_utf8_boundaries)
{
	struct ew_mcp_capture c;
	char *t;
	size_t len;
	int i;

	cr_assert_eq(ew_mcp_capture_init(&c, 8), 0);
	/* "é" is two bytes: a cut never leaves half of one. */
	for (i = 0; i < 20; i++)
		ew_mcp_capture_put(&c, "\xc3\xa9", 2);
	ew_mcp_capture_put(&c, "x", 1);
	t = capture_text(&c, 8, &len);
	cr_assert(strncmp(t, "\xc3\xa9\xc3\xa9\n[... ", 10) == 0, "%s", t);
	cr_assert(strstr(t, "[... 34 bytes of output cut") != NULL, "%s", t);
	cr_assert_str_eq(t + len - 4, "\n\xc3\xa9x");
	cr_assert_eq(ew_json_utf8_prefix(t, len), len);
	free(t);
	ew_mcp_capture_fini(&c);
}

Test(mcp, capture_last_line)
{
	struct ew_mcp_capture c;
	char out[8];

	cr_assert_eq(ew_mcp_capture_init(&c, 64), 0);
	ew_mcp_capture_last_line(&c, out, sizeof(out));
	cr_assert_str_eq(out, "");
	ew_mcp_capture_put(&c, "first\nsecond\n\n", 14);
	ew_mcp_capture_last_line(&c, out, sizeof(out));
	cr_assert_str_eq(out, "second");
	ew_mcp_capture_put(&c, "a very long line", 16);
	ew_mcp_capture_last_line(&c, out, sizeof(out));
	cr_assert_str_eq(out, "ng line");
	ew_mcp_capture_fini(&c);
}

/* The server, driven through socket pairs with a fake tool. */

struct fake {
	struct ew_mcp_req *held; /* a call answered later */
	int calls, cancels, shutdowns;
};

struct harness {
	struct ev_loop *loop;
	struct ew_mcp *m;
	int in; /* we write the server's input here */
	int out; /* and read its output here */
	char *buf;
	size_t len, alloc;
	struct fake fake;
	struct ew_mcp_tool tool;
	int replies;
	const struct ew_mcp_val *last_error;
	char last_result[64];
};

static void
fake_describe(void *ctx, struct ew_mcp *m, struct ew_json *j)
{
	ew_json_obj_begin(j);
	ew_json_key(j, "name");
	ew_json_str(j, "fake");
	ew_json_key(j, "rev");
	ew_json_str(j, ew_mcp_rev_name(ew_mcp_rev(m)));
	ew_json_obj_end(j);
}

static void
fake_reply(struct ew_mcp_req *r, const char *text)
{
	struct ew_json *j = ew_mcp_result_begin(r);

	ew_json_obj_begin(j);
	ew_json_key(j, "text");
	ew_json_str(j, text);
	ew_json_obj_end(j);
	ew_mcp_result_end(r);
}

/* {"text": T} answers now; {"hold": true} answers when told. */
static void
fake_call(void *ctx, struct ew_mcp_req *r, const struct ew_mcp_val *args)
{
	struct fake *f = ctx;

	f->calls++;
	if (ew_mcp_val_get(args, "hold") != NULL) {
		cr_assert_null(f->held);
		f->held = r;
		return;
	}
	fake_reply(r, ew_mcp_val_str(ew_mcp_val_get(args, "text")));
}

static void
fake_cancel(void *ctx, struct ew_mcp_req *r)
{
	struct fake *f = ctx;

	cr_assert_eq(r, f->held);
	f->held = NULL;
	f->cancels++;
}

static void
fake_shutdown(void *ctx)
{
	struct fake *f = ctx;

	f->shutdowns++;
}

static void
h_open(struct harness *h, double ping_s)
{
	struct ew_mcp_config cfg;
	int in[2], out[2];

	memset(h, 0, sizeof(*h));
	/* The server sees EPIPE, as execward (which ignores SIGPIPE) does. */
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in), 0);
	cr_assert_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out), 0);
	h->in = in[0];
	h->out = out[0];
	fcntl(h->out, F_SETFL, O_NONBLOCK);
	h->loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_not_null(h->loop);
	h->tool.name = "fake";
	h->tool.describe = fake_describe;
	h->tool.call = fake_call;
	h->tool.cancel = fake_cancel;
	h->tool.shutdown = fake_shutdown;
	h->tool.ctx = &h->fake;
	memset(&cfg, 0, sizeof(cfg));
	cfg.in_fd = in[1];
	cfg.out_fd = out[1];
	cfg.name = "execward";
	cfg.title = "execward";
	cfg.version = "9.9";
	cfg.instructions = "test";
	cfg.tools = &h->tool;
	cfg.ntools = 1;
	cfg.close_grace_s = 0.3;
	cfg.sandbox = "none";
	cfg.ping_s = ping_s;
	cr_assert_eq(ew_mcp_new(h->loop, &cfg, &h->m), 0);
}

/* Run the loop and collect output for up to ms; true once a line is in. */
static bool
h_pump(struct harness *h, int ms)
{
	struct pollfd p = { .fd = h->out, .events = POLLIN };
	ssize_t n;
	int i;

	for (i = 0; i <= ms / 5; i++) {
		ev_run(h->loop, EVRUN_NOWAIT);
		for (;;) {
			if (h->alloc - h->len < 65536) {
				h->alloc = h->alloc * 2 + 65536;
				h->buf = realloc(h->buf, h->alloc);
			}
			n = read(h->out, h->buf + h->len, h->alloc - h->len);
			if (n <= 0)
				break;
			h->len += (size_t)n;
		}
		if (memchr(h->buf, '\n', h->len) != NULL)
			return true;
		(void)poll(&p, 1, 5);
	}
	return false;
}

static void
h_send_n(struct harness *h, const char *data, size_t len)
{
	ssize_t w;

	fcntl(h->in, F_SETFL, O_NONBLOCK);
	while (len > 0) {
		w = write(h->in, data, len);
		if (w < 0 && errno == EAGAIN) {
			/* Let the server read (and answer) meanwhile. */
			ev_run(h->loop, EVRUN_NOWAIT);
			continue;
		}
		cr_assert_gt(w, 0);
		data += w;
		len -= (size_t)w;
	}
}

static void
h_send(struct harness *h, const char *line)
{
	h_send_n(h, line, strlen(line));
	h_send_n(h, "\n", 1);
}

/* The next output line, parsed (NULL when none came in 2 s). */
static struct ew_mcp_val *
h_next(struct harness *h)
{
	struct ew_mcp_val *v = NULL;
	char *nl, err[256];
	size_t n;

	if (!h_pump(h, 2000))
		return NULL;
	nl = memchr(h->buf, '\n', h->len);
	n = (size_t)(nl - h->buf);
	cr_assert_eq(ew_mcp_parse(h->buf, n, &v, err, sizeof(err)), 0,
	    "server wrote bad JSON: %s: %.*s", err, (int)n, h->buf);
	memmove(h->buf, nl + 1, h->len - n - 1);
	h->len -= n + 1;
	return v;
}

static struct ew_mcp_val *
h_call(struct harness *h, const char *line)
{
	struct ew_mcp_val *v;

	h_send(h, line);
	v = h_next(h);
	cr_assert_not_null(v, "no answer to %s", line);
	return v;
}

/* The error code of an answer (0 when it is a result). */
static int64_t
code_of(const struct ew_mcp_val *v)
{
	const struct ew_mcp_val *c = at(v, "error.code");

	if (c == NULL) {
		cr_assert_not_null(at(v, "result"));
		return 0;
	}
	return c->i;
}

static void
h_init(struct harness *h, const char *rev)
{
	char line[512];
	struct ew_mcp_val *v;

	snprintf(line, sizeof(line),
	    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":\"%s\",\"capabilities\":"
	    "{\"elicitation\":{}},\"clientInfo\":{\"name\":\"t\","
	    "\"version\":\"1\"}}}",
	    rev);
	v = h_call(h, line);
	cr_assert_eq(code_of(v), 0);
	ew_mcp_val_free(v);
	h_send(h,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

static void
h_close(struct harness *h)
{
	ew_mcp_free(h->m);
	ev_loop_destroy(h->loop);
	close(h->in);
	close(h->out);
	free(h->buf);
}

/* The next line is the answer to a ping, i.e. nothing came before it. */
static void
h_quiet(struct harness *h)
{
	struct ew_mcp_val *v = h_call(
	    h, "{\"jsonrpc\":\"2.0\",\"id\":\"quiet\",\"method\":\"ping\"}");

	cr_assert_str_eq(ew_mcp_val_str(at(v, "id")), "quiet");
	ew_mcp_val_free(v);
}

Test(mcp, initialize_negotiates)
{
	static const char *const asked[] = { "2024-11-05", "2025-03-26",
		"2025-06-18", "2025-11-25", "1999-01-01", "2026-07-28" };
	static const char *const got[] = { "2024-11-05", "2025-03-26",
		"2025-06-18", "2025-11-25", "2025-11-25", "2025-11-25" };
	struct harness h;
	struct ew_mcp_val *v;
	char line[512];
	size_t i;

	for (i = 0; i < 6; i++) {
		h_open(&h, 0);
		snprintf(line, sizeof(line),
		    "{\"jsonrpc\":\"2.0\",\"id\":\"i\",\"method\":"
		    "\"initialize\",\"params\":{\"protocolVersion\":\"%s\"}}",
		    asked[i]);
		v = h_call(&h, line);
		cr_assert_str_eq(
		    ew_mcp_val_str(at(v, "result.protocolVersion")), got[i]);
		cr_assert_str_eq(
		    ew_mcp_val_str(at(v, "result.serverInfo.name")),
		    "execward");
		cr_assert_eq(at(v, "result.serverInfo.title") != NULL, i >= 2);
		cr_assert_str_eq(ew_mcp_val_str(at(v,
				     "result.capabilities.experimental."
				     "codex/sandbox-state.version")),
		    "1.0.0");
		cr_assert_not_null(at(v, "result.capabilities.tools"));
		cr_assert_not_null(at(v, "result.capabilities.logging"));
		ew_mcp_val_free(v);
		v = h_call(&h,
		    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
		cr_assert_str_eq(
		    ew_mcp_val_str(at(v, "result.tools.0.rev")), got[i]);
		ew_mcp_val_free(v);
		h_close(&h);
	}
	h_open(&h, 0);
	v = h_call(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":20251125}}");
	cr_assert_eq(code_of(v), EW_MCP_E_PARAMS);
	cr_assert_eq(at(v, "error.data.requested")->i, 20251125);
	cr_assert_str_eq(
	    ew_mcp_val_str(at(v, "error.data.supported.0")), "2025-11-25");
	ew_mcp_val_free(v);
	h_close(&h);
}

Test(mcp, elicitation_capability)
{
	static const char *const caps[] = { "{\"elicitation\":{}}",
		"{\"elicitation\":{\"form\":{}}}",
		"{\"elicitation\":{\"url\":{}}}", "{}" };
	static const bool can[] = { true, true, false, false };
	struct harness h;
	const char *why;
	char line[512];
	size_t i;

	for (i = 0; i < 4; i++) {
		h_open(&h, 0);
		snprintf(line, sizeof(line),
		    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
		    "\"params\":{\"protocolVersion\":\"2025-11-25\","
		    "\"capabilities\":%s}}",
		    caps[i]);
		ew_mcp_val_free(h_call(&h, line));
		/* Not before notifications/initialized. */
		cr_assert_not(ew_mcp_can_elicit(h.m, &why));
		cr_assert_not_null(why);
		h_send(&h,
		    "{\"jsonrpc\":\"2.0\",\"method\":"
		    "\"notifications/initialized\"}");
		h_quiet(&h);
		cr_assert_eq(
		    ew_mcp_can_elicit(h.m, &why), can[i], "%s", caps[i]);
		h_close(&h);
	}
	/* A revision without elicitation. */
	h_open(&h, 0);
	h_init(&h, "2025-03-26");
	h_quiet(&h);
	cr_assert_not(ew_mcp_can_elicit(h.m, &why));
	cr_assert(strstr(why, "2025-06-18") != NULL, "%s", why);
	h_close(&h);
}

Test(mcp, before_initialize)
{
	struct harness h;
	struct ew_mcp_val *v;

	h_open(&h, 0);
	v = h_call(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"server/discover\"}");
	cr_assert_eq(code_of(v), EW_MCP_E_METHOD);
	ew_mcp_val_free(v);
	v = h_call(
	    &h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	cr_assert_eq(code_of(v), EW_MCP_E_INVALID_REQUEST);
	ew_mcp_val_free(v);
	v = h_call(&h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
	cr_assert_eq(code_of(v), 0);
	ew_mcp_val_free(v);
	v = h_call(&h, "[{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}]");
	cr_assert_eq(code_of(v), EW_MCP_E_INVALID_REQUEST);
	cr_assert_eq(at(v, "id")->type, EW_MCP_T_NULL);
	ew_mcp_val_free(v);
	h_close(&h);
}

Test(mcp, error_codes)
{
	static const struct {
		const char *line;
		int code;
	} cases[] = {
		{ "not json", EW_MCP_E_PARSE },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"",
		    EW_MCP_E_PARSE },
		{ "42", EW_MCP_E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1}", EW_MCP_E_INVALID_REQUEST },
		{ "{\"id\":1,\"method\":\"ping\"}", EW_MCP_E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
		    EW_MCP_E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
		    EW_MCP_E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		  "\"params\":3}",
		    EW_MCP_E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}",
		    EW_MCP_E_METHOD },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		  "\"params\":{\"name\":\"other\"}}",
		    EW_MCP_E_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		  "\"params\":{\"name\":\"fake\",\"arguments\":[]}}",
		    EW_MCP_E_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		  "\"params\":{}}",
		    EW_MCP_E_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		  "\"params\":[]}",
		    EW_MCP_E_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		  "\"logging/setLevel\",\"params\":{\"level\":\"x\"}}",
		    EW_MCP_E_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		  "\"codex/sandbox-state/update\",\"params\":{}}",
		    EW_MCP_E_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
		  "\"params\":{\"protocolVersion\":\"2025-11-25\"}}",
		    EW_MCP_E_INVALID_REQUEST },
	};
	struct harness h;
	struct ew_mcp_val *v;
	size_t i;

	h_open(&h, 0);
	h_init(&h, "2025-11-25");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = h_call(&h, cases[i].line);
		cr_assert_eq(code_of(v), cases[i].code, "%s", cases[i].line);
		cr_assert_not_null(ew_mcp_val_str(at(v, "error.message")));
		cr_assert_not_null(at(v, "id"));
		ew_mcp_val_free(v);
	}
	/* The sandbox state is kept. */
	cr_assert_str_eq(ew_mcp_sandbox(h.m), "none");
	v = h_call(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"codex/sandbox-state/update\",\"params\":{"
	    "\"sandboxPolicy\":{\"type\":\"read-only\"}}}");
	cr_assert_eq(code_of(v), 0);
	ew_mcp_val_free(v);
	cr_assert_str_eq(ew_mcp_sandbox(h.m), "read-only");
	h_close(&h);
}

Test(mcp, framing)
{
	struct harness h;
	struct ew_mcp_val *v;
	const char *line = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}";
	char *big;
	size_t n = EW_MCP_LINE_MAX + 100;

	h_open(&h, 0);
	h_init(&h, "2025-11-25");
	/* A line in pieces, CRLF, blank lines: all fine. */
	h_send_n(&h, line, 10);
	cr_assert_not(h_pump(&h, 50));
	h_send_n(&h, line + 10, strlen(line) - 10);
	h_send_n(&h, "\r\n\n  \n", 6);
	v = h_next(&h);
	cr_assert_eq(at(v, "id")->i, 7);
	ew_mcp_val_free(v);
	h_quiet(&h);
	/* One line over the cap: refused whole, the next one answered. */
	big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, line, strlen(line));
	h_send_n(&h, big, n);
	h_send(&h, "");
	free(big);
	v = h_next(&h);
	cr_assert_eq(code_of(v), EW_MCP_E_INVALID_REQUEST);
	cr_assert_eq(at(v, "id")->type, EW_MCP_T_NULL);
	cr_assert(strstr(ew_mcp_val_str(at(v, "error.message")),
		      "exceeds the limit") != NULL);
	ew_mcp_val_free(v);
	h_quiet(&h);
	/* Exactly at the cap is accepted. */
	big = malloc(EW_MCP_LINE_MAX);
	memset(big, ' ', EW_MCP_LINE_MAX);
	memcpy(big, line, strlen(line));
	h_send_n(&h, big, EW_MCP_LINE_MAX);
	h_send(&h, "");
	free(big);
	v = h_next(&h);
	cr_assert_eq(code_of(v), 0);
	cr_assert_eq(at(v, "id")->i, 7);
	ew_mcp_val_free(v);
	h_close(&h);
}

Test(mcp, notifications_get_no_reply)
{
	struct harness h;

	h_open(&h, 0);
	h_send(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}");
	h_init(&h, "2025-11-25");
	h_send(&h,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
	    "\"params\":{\"requestId\":99}}");
	h_send(&h,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
	    "\"params\":{\"progressToken\":1,\"progress\":1}}");
	h_send(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"ew-77\",\"result\":{}}");
	h_quiet(&h);
	h_close(&h);
}

Test(mcp, batches_2025_03_26)
{
	struct harness h;
	struct ew_mcp_val *v;

	h_open(&h, 0);
	h_init(&h, "2025-03-26");
	v = h_call(&h,
	    "[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"},"
	    "7,"
	    "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"nope\"}]");
	cr_assert_eq(v->type, EW_MCP_T_ARRAY);
	cr_assert_eq(v->n, 3);
	cr_assert_str_eq(ew_mcp_val_str(at(v, "0.id")), "a");
	cr_assert_eq(code_of(v->vals[1]), EW_MCP_E_INVALID_REQUEST);
	cr_assert_eq(code_of(v->vals[2]), EW_MCP_E_METHOD);
	ew_mcp_val_free(v);
	/* A held call keeps the whole batch until it is answered. */
	h_send(&h,
	    "[{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"fake\",\"arguments\":"
	    "{\"hold\":true}}},"
	    "{\"jsonrpc\":\"2.0\",\"id\":\"d\",\"method\":\"ping\"}]");
	cr_assert_not(h_pump(&h, 100));
	cr_assert_not_null(h.fake.held);
	fake_reply(h.fake.held, "late");
	h.fake.held = NULL;
	v = h_next(&h);
	cr_assert_eq(v->n, 2);
	cr_assert_str_eq(ew_mcp_val_str(at(v, "0.result.text")), "late");
	cr_assert_str_eq(ew_mcp_val_str(at(v, "1.id")), "d");
	ew_mcp_val_free(v);
	/* Empty: one error object; only notifications: nothing. */
	v = h_call(&h, "[]");
	cr_assert_eq(v->type, EW_MCP_T_OBJECT);
	cr_assert_eq(code_of(v), EW_MCP_E_INVALID_REQUEST);
	ew_mcp_val_free(v);
	h_send(&h, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]");
	h_quiet(&h);
	h_close(&h);
}

Test(mcp, batches_refused_from_2025_06_18)
{
	struct harness h;
	struct ew_mcp_val *v;

	h_open(&h, 0);
	h_init(&h, "2025-06-18");
	v = h_call(&h,
	    "[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":"
	    "\"ping\"}]");
	cr_assert_eq(v->type, EW_MCP_T_OBJECT);
	cr_assert_eq(code_of(v), EW_MCP_E_INVALID_REQUEST);
	cr_assert(strstr(ew_mcp_val_str(at(v, "error.message")),
		      "2025-06-18") != NULL);
	ew_mcp_val_free(v);
	h_quiet(&h);
	h_close(&h);
}

Test(mcp, cancel_in_flight)
{
	struct harness h;
	struct ew_mcp_val *v;

	h_open(&h, 0);
	h_init(&h, "2025-11-25");
	h_send(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"fake\","
	    "\"arguments\":{\"hold\":true},\"_meta\":{"
	    "\"progressToken\":\"tok\"}}}");
	h_quiet(&h);
	cr_assert_not_null(h.fake.held);
	cr_assert_str_eq(
	    ew_mcp_val_str(ew_mcp_req_progress_token(h.fake.held)), "tok");
	/* The id is taken while the call runs. */
	v = h_call(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":"
	    "\"ping\"}");
	cr_assert_eq(code_of(v), EW_MCP_E_INVALID_REQUEST);
	ew_mcp_val_free(v);
	/* An integer id 1 is not the string "c1"'s. */
	h_send(&h,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
	    "\"params\":{\"requestId\":1}}");
	h_quiet(&h);
	cr_assert_eq(h.fake.cancels, 0);
	h_send(&h,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
	    "\"params\":{\"requestId\":\"c1\",\"reason\":\"x\"}}");
	h_quiet(&h);
	cr_assert_eq(h.fake.cancels, 1);
	cr_assert_null(h.fake.held);
	/* The id is free again, and nothing was sent for the call. */
	v = h_call(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":"
	    "\"ping\"}");
	cr_assert_eq(code_of(v), 0);
	ew_mcp_val_free(v);
	h_close(&h);
}

struct answers {
	int n;
	int64_t code;
	char text[64];
};

static void
record_reply(struct ew_mcp *m, void *arg, const struct ew_mcp_val *result,
    const struct ew_mcp_val *error)
{
	struct answers *a = arg;
	const char *s = ew_mcp_val_str(ew_mcp_val_get(result, "action"));

	a->n++;
	cr_assert((result == NULL) != (error == NULL));
	a->code = error != NULL ? ew_mcp_val_get(error, "code")->i : 0;
	snprintf(a->text, sizeof(a->text), "%s", s != NULL ? s : "");
}

Test(mcp, requests_to_the_client)
{
	struct harness h;
	struct ew_mcp_val *v;
	struct answers a = { 0 };
	struct ew_json *j;
	char id[32], id2[32], line[256];

	h_open(&h, 0);
	h_init(&h, "2025-11-25");
	j = ew_mcp_request_begin(h.m, "elicitation/create", id, sizeof(id));
	ew_json_obj_begin(j);
	ew_json_obj_end(j);
	cr_assert_eq(ew_mcp_request_end(h.m, record_reply, &a), 0);
	v = h_next(&h);
	cr_assert_str_eq(ew_mcp_val_str(at(v, "method")), "elicitation/create");
	cr_assert_str_eq(ew_mcp_val_str(at(v, "id")), id);
	ew_mcp_val_free(v);
	/* A ping answered while the client owes us an answer. */
	h_quiet(&h);
	snprintf(line, sizeof(line),
	    "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{\"action\":"
	    "\"decline\"}}",
	    id);
	h_send(&h, line);
	h_quiet(&h);
	cr_assert_eq(a.n, 1);
	cr_assert_str_eq(a.text, "decline");
	/* A second answer to the same id is ignored. */
	h_send(&h, line);
	h_quiet(&h);
	cr_assert_eq(a.n, 1);
	/* An error answer. */
	j = ew_mcp_request_begin(h.m, "elicitation/create", id, sizeof(id));
	ew_json_obj_begin(j);
	ew_json_obj_end(j);
	cr_assert_eq(ew_mcp_request_end(h.m, record_reply, &a), 0);
	ew_mcp_val_free(h_next(&h));
	snprintf(line, sizeof(line),
	    "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"error\":{\"code\":-32601,"
	    "\"message\":\"no\"}}",
	    id);
	h_send(&h, line);
	h_quiet(&h);
	cr_assert_eq(a.n, 2);
	cr_assert_eq(a.code, -32601);
	/* Forgotten: the client is told, and its answer is ignored. */
	j = ew_mcp_request_begin(h.m, "elicitation/create", id2, sizeof(id2));
	ew_json_obj_begin(j);
	ew_json_obj_end(j);
	cr_assert_eq(ew_mcp_request_end(h.m, record_reply, &a), 0);
	cr_assert_str_neq(id, id2);
	ew_mcp_val_free(h_next(&h));
	ew_mcp_request_forget(h.m, id2, "withdrawn");
	v = h_next(&h);
	cr_assert_str_eq(
	    ew_mcp_val_str(at(v, "method")), "notifications/cancelled");
	cr_assert_str_eq(ew_mcp_val_str(at(v, "params.requestId")), id2);
	cr_assert_str_eq(ew_mcp_val_str(at(v, "params.reason")), "withdrawn");
	ew_mcp_val_free(v);
	snprintf(line, sizeof(line),
	    "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{\"action\":"
	    "\"accept\"}}",
	    id2);
	h_send(&h, line);
	h_quiet(&h);
	cr_assert_eq(a.n, 2);
	h_close(&h);
}

Test(mcp, keepalive_ping)
{
	struct harness h;
	struct ew_mcp_val *v;
	struct answers a = { 0 };
	struct ew_json *j;
	char id[32], line[128];
	int pings = 0;

	h_open(&h, 0.1);
	h_init(&h, "2025-11-25");
	j = ew_mcp_request_begin(h.m, "elicitation/create", id, sizeof(id));
	ew_json_obj_begin(j);
	ew_json_obj_end(j);
	cr_assert_eq(ew_mcp_request_end(h.m, record_reply, &a), 0);
	ew_mcp_val_free(h_next(&h));
	/* Pings come while the answer is owed; answering them keeps it. */
	while (pings < 3) {
		v = h_next(&h);
		cr_assert_not_null(v);
		cr_assert_str_eq(ew_mcp_val_str(at(v, "method")), "ping");
		snprintf(line, sizeof(line),
		    "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{}}",
		    ew_mcp_val_str(at(v, "id")));
		h_send(&h, line);
		ew_mcp_val_free(v);
		pings++;
	}
	cr_assert_eq(a.n, 0);
	/* A ping left unanswered fails what is owed. */
	v = h_next(&h);
	cr_assert_str_eq(ew_mcp_val_str(at(v, "method")), "ping");
	ew_mcp_val_free(v);
	cr_assert_not(h_pump(&h, 300));
	cr_assert_eq(a.n, 1);
	cr_assert_eq(a.code, -32001);
	/* Nothing is owed now: no more pings. */
	cr_assert_not(h_pump(&h, 300));
	h_close(&h);
}

Test(mcp, logging_levels)
{
	struct harness h;
	struct ew_mcp_val *v;

	h_open(&h, 0);
	h_init(&h, "2025-11-25");
	ew_mcp_log(h.m, EW_MCP_LOG_EMERGENCY, "t", "before setLevel");
	h_quiet(&h);
	v = h_call(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"logging/setLevel\",\"params\":{\"level\":"
	    "\"warning\"}}");
	cr_assert_eq(code_of(v), 0);
	ew_mcp_val_free(v);
	ew_mcp_log(h.m, EW_MCP_LOG_INFO, "t", "too low");
	ew_mcp_log(h.m, EW_MCP_LOG_ERROR, "t", "shown %d", 42);
	v = h_next(&h);
	cr_assert_str_eq(
	    ew_mcp_val_str(at(v, "method")), "notifications/message");
	cr_assert_str_eq(ew_mcp_val_str(at(v, "params.level")), "error");
	cr_assert_str_eq(ew_mcp_val_str(at(v, "params.logger")), "t");
	cr_assert_str_eq(ew_mcp_val_str(at(v, "params.data")), "shown 42");
	ew_mcp_val_free(v);
	h_quiet(&h);
	h_close(&h);
}

Test(mcp, input_closed)
{
	struct harness h;
	int i;

	h_open(&h, 0);
	h_init(&h, "2025-11-25");
	h_send(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"fake\",\"arguments\":"
	    "{\"hold\":true}}}");
	h_quiet(&h);
	shutdown(h.in, SHUT_WR);
	cr_assert_not(h_pump(&h, 50));
	cr_assert_eq(h.fake.shutdowns, 1);
	/* Still waiting for the held call. */
	cr_assert_not(ew_mcp_finished(h.m));
	fake_reply(h.fake.held, "bye");
	h.fake.held = NULL;
	cr_assert(h_pump(&h, 100));
	cr_assert(ew_mcp_finished(h.m));
	h_close(&h);

	/* A call that never ends does not hold the server past the grace. */
	h_open(&h, 0);
	h_init(&h, "2025-11-25");
	h_send(&h,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"fake\",\"arguments\":"
	    "{\"hold\":true}}}");
	h_quiet(&h);
	shutdown(h.in, SHUT_WR);
	for (i = 0; i < 100 && !ew_mcp_finished(h.m); i++)
		(void)h_pump(&h, 10);
	cr_assert(ew_mcp_finished(h.m));
	h_close(&h);
}

Test(mcp, output_closed)
{
	struct harness h;

	h_open(&h, 0);
	h_init(&h, "2025-11-25");
	h_quiet(&h);
	shutdown(h.out, SHUT_RD);
	close(h.out);
	h.out = open("/dev/null", O_RDONLY);
	/* The client is gone: the next write notices, and the server ends. */
	h_send(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	(void)h_pump(&h, 500);
	cr_assert(ew_mcp_finished(h.m));
	cr_assert_eq(h.fake.shutdowns, 1);
	h_close(&h);
}

Test(mcp, elicit_message)
{
	char *argv[] = { "git", "commit", "-m", "it's done", "a b", "", NULL };
	char *msg, *big;

	msg = ew_mcp_elicit_message("/usr/bin/git", argv, 6, "/home/u/proj");
	cr_assert_str_eq(msg,
	    "Execution Permission Request: Allow agent to run `/usr/bin/git "
	    "commit -m 'it'\"'\"'s done' "
	    "'a b' ''` in `/home/u/proj`?");
	free(msg);
	msg = ew_mcp_elicit_message("/bin/ls", argv, 1, "/");
	cr_assert_str_eq(msg,
	    "Execution Permission Request: Allow agent to run `/bin/ls` in "
	    "`/`?");
	free(msg);
	/* A huge argument is cut, and the message says by how much. */
	big = malloc(100001);
	memset(big, 'x', 100000);
	big[100000] = '\0';
	argv[1] = big;
	msg = ew_mcp_elicit_message("/bin/echo", argv, 2, "/");
	cr_assert_lt(strlen(msg), 17 * 1024);
	cr_assert(strstr(msg, "xxx ... (") != NULL);
	cr_assert(strstr(msg, " more bytes)` in `/`?") != NULL, "%s",
	    msg + strlen(msg) - 60);
	free(msg);
	free(big);
}

Test(mcp, path_from_uri)
{
	char out[64];

	cr_assert_eq(
	    ew_mcp_path_from_uri("file:///a%20b/c", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/a b/c");
	cr_assert_eq(
	    ew_mcp_path_from_uri("file://localhost/x", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/x");
	cr_assert_eq(ew_mcp_path_from_uri("/plain", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/plain");
	cr_assert_eq(
	    ew_mcp_path_from_uri("file://host/x", out, sizeof(out)), -EINVAL);
	cr_assert_eq(
	    ew_mcp_path_from_uri("relative", out, sizeof(out)), -EINVAL);
	cr_assert_eq(
	    ew_mcp_path_from_uri("file:///a%00b", out, sizeof(out)), -EINVAL);
	cr_assert_eq(
	    ew_mcp_path_from_uri("file:///a%zz", out, sizeof(out)), -EINVAL);
	cr_assert_eq(
	    ew_mcp_path_from_uri("file:///a%2", out, sizeof(out)), -EINVAL);
	cr_assert_eq(ew_mcp_path_from_uri("/01234567890123456789012345678901234"
					  "56789012345678901234567890123456789",
			 out, sizeof(out)),
	    -ENAMETOOLONG);
}

/* Parse Codex's sandbox state text into p; the result of the parse. */
static int
profile_of(const char *text, struct ew_sandbox_policy *p, char *why, size_t n)
{
	struct ew_mcp_val *v = NULL;
	char err[128];
	int r;

	cr_assert_eq(ew_mcp_parse(text, strlen(text), &v, err, sizeof(err)), 0,
	    "%s", err);
	r = ew_mcp_profile_parse(v, p, why, n);
	ew_mcp_val_free(v);
	return r;
}

Test(mcp, profile_codex_shapes)
{
	struct ew_sandbox_policy p;
	char why[512];

	/* codex exec -s workspace-write, as Codex 0.171 sends it. */
	cr_assert_eq(
	    profile_of("{\"permissionProfile\":{\"type\":\"managed\","
		       "\"file_system\":{\"type\":\"restricted\",\"entries\":["
		       "{\"path\":{\"type\":\"special\",\"value\":{\"kind\":"
		       "\"root\"}},\"access\":\"read\"},"
		       "{\"path\":{\"type\":\"path\",\"path\":\"/"
		       "ws\"},\"access\":\"write\"},"
		       "{\"path\":{\"type\":\"special\",\"value\":{\"kind\":"
		       "\"slash_tmp\"}},\"access\":\"write\"},"
		       "{\"path\":{\"type\":\"special\",\"value\":{\"kind\":"
		       "\"tmpdir\"}},\"access\":\"write\"},"
		       "{\"path\":{\"type\":\"path\",\"path\":\"/ws/"
		       ".git\"},\"access\":\"read\",\"missing_path_behavior\":"
		       "\"skip\"},"
		       "{\"path\":{\"type\":\"path\",\"path\":\"/elsewhere/"
		       ".git\"},\"access\":\"read\"}]},"
		       "\"network\":\"restricted\"},\"sandboxCwd\":\"file:///"
		       "ws\",\"useLegacyLandlock\":false}",
		&p, why, sizeof(why)),
	    0, "%s", why);
	cr_assert_eq(p.mode, EW_SANDBOX_WORKSPACE_WRITE);
	cr_assert(
	    p.no_workspace && !p.no_slash_tmp && !p.no_tmpdir && !p.network);
	cr_assert_eq(p.nroots, 1);
	cr_assert_str_eq(p.roots[0], "/ws");
	cr_assert_str_eq(p.workspace, "/ws");
	/* Read entries go to the sandbox, which mounts those inside
	 * something writable. */
	cr_assert_eq(p.nreadonly, 2);
	cr_assert_str_eq(p.readonly[0].path, "/ws/.git");
	cr_assert(p.readonly[0].skip_missing);
	cr_assert_str_eq(p.readonly[1].path, "/elsewhere/.git");
	cr_assert(!p.readonly[1].skip_missing);
	ew_sandbox_policy_fini(&p);

	/* -s read-only; -s danger-full-access; project_roots. */
	cr_assert_eq(
	    profile_of(
		"{\"permissionProfile\":{\"type\":\"managed\",\"file_system\":{"
		"\"type\":\"restricted\",\"entries\":[{\"path\":{\"type\":"
		"\"special\",\"value\":{\"kind\":\"root\"}},\"access\":"
		"\"read\"}]},\"network\":\"enabled\"}}",
		&p, why, sizeof(why)),
	    0);
	cr_assert_eq(p.mode, EW_SANDBOX_READ_ONLY);
	cr_assert(p.network);
	ew_sandbox_policy_fini(&p);
	cr_assert_eq(profile_of("{\"permissionProfile\":{\"type\":\"disabled\"}"
				",\"sandboxCwd\":\"file:///ws\"}",
			 &p, why, sizeof(why)),
	    0);
	cr_assert_eq(p.mode, EW_SANDBOX_NONE);
	cr_assert_eq(
	    profile_of(
		"{\"permissionProfile\":{\"type\":\"managed\",\"file_system\":{"
		"\"type\":\"restricted\",\"entries\":[{\"path\":{\"type\":"
		"\"special\",\"value\":{\"kind\":\"root\"}},\"access\":"
		"\"read\"},{\"path\":{\"type\":\"special\",\"value\":{\"kind\":"
		"\"project_roots\",\"subpath\":\"src\"}},\"access\":\"write\"}]"
		"}},\"workspaceRoots\":[\"/a\",\"file:///b\"]}",
		&p, why, sizeof(why)),
	    0, "%s", why);
	cr_assert_eq(p.nroots, 2);
	cr_assert_str_eq(p.roots[0], "/a/src");
	cr_assert_str_eq(p.roots[1], "/b/src");
	cr_assert(p.no_slash_tmp && p.no_tmpdir);
	ew_sandbox_policy_fini(&p);
	/* Unrestricted files but no network: everything writable, filtered. */
	cr_assert_eq(
	    profile_of(
		"{\"permissionProfile\":{\"type\":\"managed\",\"file_system\":{"
		"\"type\":\"unrestricted\"},\"network\":\"restricted\"}}",
		&p, why, sizeof(why)),
	    0);
	cr_assert_eq(p.mode, EW_SANDBOX_WORKSPACE_WRITE);
	cr_assert_str_eq(p.roots[0], "/");
	ew_sandbox_policy_fini(&p);
	/* The older request's shape, camelCase too. */
	cr_assert_eq(
	    profile_of("{\"sandboxPolicy\":{\"type\":\"workspaceWrite\","
		       "\"writableRoots\":[\"/"
		       "r\"],\"networkAccess\":true},\"sandboxCwd\":\"/ws\"}",
		&p, why, sizeof(why)),
	    0, "%s", why);
	cr_assert_eq(p.mode, EW_SANDBOX_WORKSPACE_WRITE);
	cr_assert(p.network && !p.no_workspace);
	cr_assert_str_eq(p.workspace, "/ws");
	cr_assert_str_eq(p.roots[0], "/r");
	ew_sandbox_policy_fini(&p);
}

Test(mcp, profile_refused)
{
	static const char *const bad[][2] = {
		{ "{\"permissionProfile\":{\"type\":\"managed\",\"file_"
		  "system\":{\"type\":\"restricted\",\"entries\":[{\"path\":{"
		  "\"type\":\"special\",\"value\":{\"kind\":\"minimal\"}},"
		  "\"access\":\"read\"}]}}}",
		    "cannot limit what a command reads" },
		{ "{\"permissionProfile\":{\"type\":\"managed\",\"file_"
		  "system\":{\"type\":\"restricted\",\"entries\":[{\"path\":{"
		  "\"type\":\"special\",\"value\":{\"kind\":\"root\"}},"
		  "\"access\":\"deny\"}]}}}",
		    "cannot deny" },
		{ "{\"permissionProfile\":{\"type\":\"managed\",\"file_"
		  "system\":{\"type\":\"restricted\",\"entries\":[{\"path\":{"
		  "\"type\":\"special\",\"value\":{\"kind\":\"root\"}},"
		  "\"access\":\"read\"},{\"path\":{\"type\":\"special\","
		  "\"value\":{\"kind\":\"project_roots\",\"subpath\":\"../"
		  "up\"}},\"access\":\"write\"}]}},\"sandboxCwd\":\"/ws\"}",
		    "without . or .." },
		{ "{\"permissionProfile\":{\"type\":\"managed\",\"file_"
		  "system\":{\"type\":\"restricted\",\"entries\":[{\"path\":{"
		  "\"type\":\"special\",\"value\":{\"kind\":\"root\"}},"
		  "\"access\":\"read\"},{\"path\":{\"type\":\"special\","
		  "\"value\":{}},\"access\":\"write\"}]}}}",
		    "no kind" },
		{ "{\"permissionProfile\":{\"type\":\"managed\",\"file_"
		  "system\":{\"type\":\"restricted\",\"entries\":[{\"path\":{"
		  "\"type\":\"special\",\"value\":{\"kind\":\"root\"}},"
		  "\"access\":\"read\"},{\"path\":{\"type\":\"special\","
		  "\"value\":{\"kind\":\"tmpdir\"}},\"access\":\"read\"}]}}}",
		    "TMPDIR" },
		{ "{\"permissionProfile\":{\"type\":\"managed\",\"file_"
		  "system\":{\"type\":\"restricted\",\"entries\":{}}}}",
		    "must be an array" },
		{ "{\"sandboxPolicy\":{\"type\":\"elsewhere\"}}",
		    "sandboxPolicy.type" },
		{ "{\"sandboxCwd\":\"/ws\"}",
		    "neither permissionProfile nor sandboxPolicy" },
		{ "[]", "must be an object" },
	};
	struct ew_sandbox_policy p;
	char why[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(profile_of(bad[i][0], &p, why, sizeof(why)),
		    -EINVAL, "%s", bad[i][0]);
		cr_assert(
		    strstr(why, bad[i][1]) != NULL, "%s: %s", bad[i][0], why);
		cr_assert_eq(p.mode, EW_SANDBOX_NONE);
		cr_assert_eq(p.nroots + p.nreadonly, 0);
	}
}
