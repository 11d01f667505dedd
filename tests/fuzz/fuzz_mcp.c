/*
 * libFuzzer target: the MCP server's input side (line framing, JSON-RPC
 * parsing and validation, batches, initialize, method dispatch) fed one
 * input as stdin, with a tool that answers at once. Output is drained and
 * dropped; the target checks that the server always finishes.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <ev.h>

#include "ew_json.h"
#include "ew_mcp.h"

/* A pipe holds this much without a reader; larger inputs are skipped. */
#define FUZZ_INPUT_MAX 60000
/* Loop iterations allowed before the server counts as stuck. */
#define FUZZ_ROUNDS_MAX 100000

static void
describe(void *ctx, struct ew_mcp *m, struct ew_json *j)
{
	ew_json_obj_begin(j);
	ew_json_key(j, "name");
	ew_json_str(j, "echo");
	ew_json_key(j, "inputSchema");
	ew_json_obj_begin(j);
	ew_json_key(j, "type");
	ew_json_str(j, "object");
	ew_json_obj_end(j);
	ew_json_obj_end(j);
}

static void
call(void *ctx, struct ew_mcp_req *r, const struct ew_mcp_val *args)
{
	struct ew_json *j = ew_mcp_result_begin(r);

	ew_json_obj_begin(j);
	ew_json_key(j, "args");
	if (args != NULL)
		ew_mcp_val_put(j, args);
	else
		ew_json_null(j);
	ew_json_obj_end(j);
	ew_mcp_result_end(r);
}

static void
cancel(void *ctx, struct ew_mcp_req *r)
{
}

static void
shutdown_tool(void *ctx)
{
}

static void *
drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ew_mcp_tool tool = { "echo", describe, call, cancel,
		shutdown_tool, NULL };
	struct ew_mcp_config cfg = { 0 };
	struct ew_mcp *m = NULL;
	struct ev_loop *loop;
	pthread_t t;
	int in[2], out[2], rounds = 0;

	if (size > FUZZ_INPUT_MAX)
		return 0;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		abort();
	if (size > 0 && write(in[1], data, size) != (ssize_t)size)
		abort();
	close(in[1]);
	if (pthread_create(&t, NULL, drain, &out[0]) != 0)
		abort();
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		abort();
	cfg.in_fd = in[0];
	cfg.out_fd = out[1];
	cfg.name = "execward";
	cfg.version = "fuzz";
	cfg.instructions = "fuzz";
	cfg.tools = &tool;
	cfg.ntools = 1;
	cfg.sandbox = "none";
	cfg.close_grace_s = 0.05;
	cfg.ping_s = 1000;
	if (ew_mcp_new(loop, &cfg, &m) != 0)
		abort();
	while (!ew_mcp_finished(m)) {
		if (++rounds > FUZZ_ROUNDS_MAX)
			abort(); /* the server never finished */
		ev_run(loop, EVRUN_ONCE);
	}
	ew_mcp_free(m);
	close(out[1]);
	pthread_join(t, NULL);
	close(out[0]);
	close(in[0]);
	ev_loop_destroy(loop);
	return 0;
}
