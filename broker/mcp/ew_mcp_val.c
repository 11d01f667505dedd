/* JSON input for the MCP server: a bounded tree built with yajl's parser. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "ew_err.h"
#include "ew_mcp.h"

struct build {
	struct ew_mcp_val *root;
	struct ew_mcp_val *stack[EW_MCP_DEPTH_MAX];
	unsigned depth;
	size_t count;
	char *key; /* the pending member name of the innermost object */
	const char *why; /* a limit we stopped at */
	int err;
};

void
ew_mcp_val_free(struct ew_mcp_val *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++) {
		if (v->keys != NULL)
			free(v->keys[i]);
		ew_mcp_val_free(v->vals[i]);
	}
	free(v->keys);
	free(v->vals);
	free(v->s);
	free(v);
}

/* Make room for one more member of a container. */
static int
grow(struct ew_mcp_val *c)
{
	size_t na;
	struct ew_mcp_val **nv;
	char **nk;

	if (c->n < c->alloc)
		return 0;
	na = c->alloc == 0 ? 4 : c->alloc * 2;
	if ((nv = realloc(c->vals, na * sizeof(*nv))) == NULL)
		return -ENOMEM;
	c->vals = nv;
	if (c->type == EW_MCP_T_OBJECT) {
		if ((nk = realloc(c->keys, na * sizeof(*nk))) == NULL)
			return -ENOMEM;
		c->keys = nk;
	}
	c->alloc = na;
	return 0;
}

/* Attach a new value where the parse is (root, array or object member). */
static struct ew_mcp_val *
add(struct build *b, enum ew_mcp_type type)
{
	struct ew_mcp_val *v, *top;

	if (++b->count > EW_MCP_VALUES_MAX) {
		b->why = "too many values";
		return NULL;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		b->err = -ENOMEM;
		return NULL;
	}
	v->type = type;
	if (b->depth == 0) {
		b->root = v;
		return v;
	}
	top = b->stack[b->depth - 1];
	if (grow(top) != 0) {
		free(v);
		b->err = -ENOMEM;
		return NULL;
	}
	if (top->type == EW_MCP_T_OBJECT) {
		top->keys[top->n] = b->key;
		b->key = NULL;
	}
	top->vals[top->n++] = v;
	return v;
}

static int
cb_null(void *ctx)
{
	return add(ctx, EW_MCP_T_NULL) != NULL;
}

static int
cb_bool(void *ctx, int val)
{
	struct ew_mcp_val *v = add(ctx, EW_MCP_T_BOOL);

	if (v != NULL)
		v->b = val != 0;
	return v != NULL;
}

static int
cb_number(void *ctx, const char *s, size_t len)
{
	struct build *b = ctx;
	struct ew_mcp_val *v;
	char *end;
	bool integral;

	if ((v = add(b, EW_MCP_T_NUMBER)) == NULL)
		return 0;
	if ((v->s = strndup(s, len)) == NULL) {
		b->err = -ENOMEM;
		return 0;
	}
	integral = strpbrk(v->s, ".eE") == NULL;
	errno = 0;
	if (integral) {
		v->i = strtoll(v->s, &end, 10);
		if (errno == 0 && *end == '\0') {
			v->type = EW_MCP_T_INT;
			v->d = (double)v->i;
			return 1;
		}
	}
	v->d = strtod(v->s, NULL);
	return 1;
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct build *b = ctx;
	struct ew_mcp_val *v;

	if ((v = add(b, EW_MCP_T_STRING)) == NULL)
		return 0;
	if ((v->s = malloc(len + 1)) == NULL) {
		b->err = -ENOMEM;
		return 0;
	}
	memcpy(v->s, s, len);
	v->s[len] = '\0';
	v->len = len;
	return 1;
}

static int
open_container(struct build *b, enum ew_mcp_type type)
{
	struct ew_mcp_val *v;

	if (b->depth >= EW_MCP_DEPTH_MAX) {
		b->why = "nested too deeply";
		return 0;
	}
	if ((v = add(b, type)) == NULL)
		return 0;
	b->stack[b->depth++] = v;
	return 1;
}

static int
cb_start_map(void *ctx)
{
	return open_container(ctx, EW_MCP_T_OBJECT);
}

static int
cb_start_array(void *ctx)
{
	return open_container(ctx, EW_MCP_T_ARRAY);
}

static int
cb_end(void *ctx)
{
	struct build *b = ctx;

	if (b->depth > 0)
		b->depth--;
	return 1;
}

static int
cb_key(void *ctx, const unsigned char *key, size_t len)
{
	struct build *b = ctx;

	free(b->key);
	if ((b->key = malloc(len + 1)) == NULL) {
		b->err = -ENOMEM;
		return 0;
	}
	memcpy(b->key, key, len);
	b->key[len] = '\0';
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

/* yajl's message, on one line. */
static void
yajl_reason(
    yajl_handle h, const char *text, size_t len, char *err, size_t errlen)
{
	unsigned char *msg;
	char *p;

	msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
	snprintf(err, errlen, "%s", msg != NULL ? (char *)msg : "invalid JSON");
	if (msg != NULL)
		yajl_free_error(h, msg);
	for (p = err; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	while (p > err && p[-1] == ' ')
		*--p = '\0';
}

int
ew_mcp_parse(const char *text, size_t len, struct ew_mcp_val **out, char *err,
    size_t errlen)
{
	struct build b;
	yajl_handle h = NULL;
	yajl_status st;
	int r = -EW_E_INVALID;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	if (errlen > 0)
		err[0] = '\0';
	if ((h = yajl_alloc(&callbacks, NULL, &b)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (b.err != 0) {
		r = b.err;
		snprintf(err, errlen, "%s", strerror(-r));
		goto out;
	}
	if (b.why != NULL) {
		r = -EW_E_LIMIT;
		snprintf(err, errlen, "%s (at most %u values, %u deep)", b.why,
		    EW_MCP_VALUES_MAX, EW_MCP_DEPTH_MAX);
		goto out;
	}
	if (st != yajl_status_ok) {
		yajl_reason(h, text, len, err, errlen);
		goto out;
	}
	if (b.root == NULL) {
		snprintf(err, errlen, "no JSON value");
		goto out;
	}
	*out = b.root;
	b.root = NULL;
	r = 0;
out:
	if (h != NULL)
		yajl_free(h);
	free(b.key);
	ew_mcp_val_free(b.root);
	return r;
}

const struct ew_mcp_val *
ew_mcp_val_get(const struct ew_mcp_val *obj, const char *key)
{
	size_t i;

	if (obj == NULL || obj->type != EW_MCP_T_OBJECT)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->vals[i];
	return NULL;
}

const char *
ew_mcp_val_str(const struct ew_mcp_val *v)
{
	if (v == NULL || v->type != EW_MCP_T_STRING || strlen(v->s) != v->len)
		return NULL;
	return v->s;
}

void
ew_mcp_val_put(struct ew_json *j, const struct ew_mcp_val *v)
{
	size_t i;

	if (v == NULL) {
		ew_json_null(j);
		return;
	}
	switch (v->type) {
	case EW_MCP_T_NULL:
		ew_json_null(j);
		break;
	case EW_MCP_T_BOOL:
		ew_json_bool(j, v->b);
		break;
	case EW_MCP_T_INT:
		ew_json_int(j, v->i);
		break;
	case EW_MCP_T_NUMBER:
		/* yajl checked the number's syntax: its text is JSON. */
		ew_json_raw(j, v->s, strlen(v->s));
		break;
	case EW_MCP_T_STRING:
		ew_json_strn(j, v->s, v->len);
		break;
	case EW_MCP_T_ARRAY:
		ew_json_arr_begin(j);
		for (i = 0; i < v->n; i++)
			ew_mcp_val_put(j, v->vals[i]);
		ew_json_arr_end(j);
		break;
	case EW_MCP_T_OBJECT:
		ew_json_obj_begin(j);
		for (i = 0; i < v->n; i++) {
			ew_json_key(j, v->keys[i]);
			ew_mcp_val_put(j, v->vals[i]);
		}
		ew_json_obj_end(j);
		break;
	}
}
