/* Asking the person behind an MCP client: prompts as elicitation/create. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_broker.h"
#include "ew_log.h"
#include "ew_mcp_int.h"
#include "ew_text.h"

/* The form's title, at the start of its message. */
#define EW_MCP_ELICIT_TITLE "Execution Permission Request"
/* The command in a prompt: longer ones are cut (and say so). */
#define EW_MCP_PROMPT_COMMAND_MAX (16u * 1024)

struct ew_mcp_prompt {
	struct ew_mcp_asker *a;
	struct ew_client *c;
	char id[32]; /* our elicitation/create request */
	ev_timer timer;
	struct ew_mcp_prompt *prev, *next;
};

char *
ew_mcp_elicit_message(
    const char *file, char *const *argv, size_t argc, const char *cwd)
{
	struct ew_buf *b;
	char *out = NULL, more[64];
	size_t i, len, n;

	if ((b = ew_buf_new(EW_BUF_SIZE_MAX)) == NULL)
		return NULL;
	/* The form's title: MCP allows no "title" in requestedSchema. */
	(void)ew_buf_put(b, EW_MCP_ELICIT_TITLE ": Allow agent to run `",
	    strlen(EW_MCP_ELICIT_TITLE ": Allow agent to run `"));
	(void)ew_buf_put(b, file, strlen(file));
	for (i = 1; i < argc; i++) {
		(void)ew_buf_put(b, " ", 1);
		/* Python's shlex.quote, which Codex's message follows. */
		ew_text_put_word(b, argv[i], EW_TEXT_SHLEX);
		if (ew_buf_len(b) > EW_MCP_PROMPT_COMMAND_MAX)
			break;
	}
	len = ew_buf_len(b);
	more[0] = '\0';
	if (len > EW_MCP_PROMPT_COMMAND_MAX) {
		n = ew_json_utf8_prefix(
		    (const char *)ew_buf_ptr(b), EW_MCP_PROMPT_COMMAND_MAX);
		snprintf(more, sizeof(more), " ... (%zu more bytes)", len - n);
		len = n;
	}
	if ((out = malloc(len + strlen(more) + strlen(cwd) + 16)) != NULL)
		sprintf(out, "%.*s%s` in `%s`?", (int)len,
		    (const char *)ew_buf_ptr(b), more, cwd);
	ew_buf_free(b);
	return out;
}

/* Off the asker's list; the clock runs again when nothing is open. */
static void
prompt_unlink(struct ew_mcp_prompt *p)
{
	struct ew_mcp_asker *a = p->a;

	ev_timer_stop(ew_mcp_loop(a->m), &p->timer);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		a->prompts = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	free(p);
	if (--a->open == 0 && a->on_pause != NULL)
		a->on_pause(a, false);
}

/*
 * Give the broker p's answer. withdraw, when not NULL, tells the client
 * the prompt is no longer wanted (its answer would be ignored).
 */
static void
answer(struct ew_mcp_prompt *p, enum ew_answer ans, const char *detail,
    const char *withdraw)
{
	struct ew_client *c = p->c;
	struct ew_mcp *m = p->a->m;

	if (withdraw != NULL)
		ew_mcp_request_forget(m, p->id, withdraw);
	prompt_unlink(p);
	ew_broker_on_prompt_answer(c, ans, detail);
}

/* The client's answer to elicitation/create. */
static void
on_reply(struct ew_mcp *m, void *arg, const struct ew_mcp_val *result,
    const struct ew_mcp_val *error)
{
	struct ew_mcp_prompt *p = arg;
	const struct ew_mcp_val *content, *rem, *why;
	const char *action, *r, *reason;
	char detail[EW_PROTO_REASON_MAX];
	bool always;

	if (error != NULL) {
		r = ew_mcp_val_str(ew_mcp_val_get(error, "message"));
		snprintf(detail, sizeof(detail),
		    "approval required, but the MCP client could not ask "
		    "(%.300s)",
		    r != NULL ? r : "an error");
		ew_mcp_log(m, EW_MCP_LOG_WARNING, "execward", "%s", detail);
		answer(p, EW_ANSWER_NONE, detail, NULL);
		return;
	}
	action = ew_mcp_val_str(ew_mcp_val_get(result, "action"));
	content = ew_mcp_val_get(result, "content");
	rem = ew_mcp_val_get(content, "remember");
	why = ew_mcp_val_get(content, "reason");
	reason = ew_mcp_val_str(why);
	if (action == NULL ||
	    (content != NULL && content->type != EW_MCP_T_OBJECT) ||
	    (why != NULL && reason == NULL) ||
	    (rem != NULL &&
		(ew_mcp_val_str(rem) == NULL ||
		    (strcmp(rem->s, "once") != 0 &&
			strcmp(rem->s, "always") != 0)))) {
		snprintf(detail, sizeof(detail),
		    "approval required, but the MCP client's answer did not "
		    "match the form");
		answer(p, EW_ANSWER_NONE, detail, NULL);
		return;
	}
	if (strcmp(action, "accept") == 0) {
		always = rem != NULL && strcmp(rem->s, "always") == 0;
		/* The audit record has no place for it: keep it on stderr. */
		if (reason != NULL && *reason != '\0')
			ew_log(EW_LOG_INFO, "approved %s: %.300s",
			    p->c->ask->resolved, reason);
		ew_mcp_log(m, EW_MCP_LOG_INFO, "execward", "approved%s%s%.300s",
		    always ? " (always)" : "", reason != NULL ? ": " : "",
		    reason != NULL ? reason : "");
		answer(
		    p, always ? EW_ANSWER_ALWAYS : EW_ANSWER_YES, NULL, NULL);
	} else if (strcmp(action, "decline") == 0) {
		snprintf(detail, sizeof(detail), "declined by the user%s%.300s",
		    reason != NULL && *reason != '\0' ? ": " : "",
		    reason != NULL ? reason : "");
		answer(p, EW_ANSWER_NO, detail, NULL);
	} else if (strcmp(action, "cancel") == 0) {
		answer(
		    p, EW_ANSWER_CANCEL, "the user dismissed the prompt", NULL);
	} else {
		snprintf(detail, sizeof(detail),
		    "approval required, but the MCP client answered with "
		    "an unknown action");
		answer(p, EW_ANSWER_NONE, detail, NULL);
	}
}

static void
ew_broker_on_elicit_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_mcp_prompt *p = w->data;
	char detail[128];

	snprintf(detail, sizeof(detail), "nobody answered the prompt in %.0f s",
	    p->a->timeout_s);
	answer(p, EW_ANSWER_TIMEOUT, detail, detail);
}

/*
 * The form: "remember" where an allow rule would take effect (strictest
 * wins: no allow rule quiets a prompt rule), else nothing to fill in.
 * No free-text field: the Codex TUI submits a form only once every text
 * field has text, so a "reason" would make Enter do nothing (a reason a
 * client sends anyway is still logged). Only
 * the keys MCP allows at the top ($schema, type, properties, required):
 * Codex refuses a form with any other (a "title") and answers cancel, so
 * its user would never see the question.
 */
static void
put_schema(struct ew_json *j, enum ew_mcp_rev rev, bool offer_always)
{
	ew_json_key(j, "requestedSchema");
	ew_json_obj_begin(j);
	ew_json_key(j, "type");
	ew_json_str(j, "object");
	ew_json_key(j, "properties");
	ew_json_obj_begin(j);
	if (!offer_always)
		goto out;
	ew_json_key(j, "remember");
	ew_json_obj_begin(j);
	ew_json_key(j, "type");
	ew_json_str(j, "string");
	ew_json_key(j, "title");
	ew_json_str(j, "Remember");
	ew_json_key(j, "description");
	ew_json_str(j,
	    "once: allow it this time; always: also add a rule that "
	    "allows this exact command from now on");
	ew_json_key(j, "enum");
	ew_json_arr_begin(j);
	ew_json_str(j, "once");
	ew_json_str(j, "always");
	ew_json_arr_end(j);
	if (rev >= EW_MCP_REV_2025_11_25) {
		ew_json_key(j, "default");
		ew_json_str(j, "once");
	}
	ew_json_obj_end(j);
out:
	ew_json_obj_end(j);
	ew_json_obj_end(j);
}

static void
elicit_ask(void *ctx, struct ew_client *c)
{
	struct ew_mcp_asker *a = ctx;
	struct ew_mcp_prompt *p = NULL;
	struct ew_json *j;
	const char *why;
	char detail[EW_PROTO_REASON_MAX], *msg = NULL;

	if (a->stopping != NULL) {
		ew_broker_on_prompt_answer(
		    c, (enum ew_answer)a->stop_answer, a->stopping);
		return;
	}
	if (!ew_mcp_can_elicit(a->m, &why)) {
		snprintf(
		    detail, sizeof(detail), "approval required, but %s", why);
		ew_mcp_log(a->m, EW_MCP_LOG_NOTICE, "execward", "%s", detail);
		ew_broker_on_prompt_answer(c, EW_ANSWER_NONE, detail);
		return;
	}
	if ((msg = ew_mcp_elicit_message(c->ask->resolved, c->ask->argv,
		 c->ask->argc, c->ask->cwd)) == NULL ||
	    (p = calloc(1, sizeof(*p))) == NULL)
		goto fail;
	p->a = a;
	p->c = c;
	j = ew_mcp_request_begin(
	    a->m, "elicitation/create", p->id, sizeof(p->id));
	ew_json_obj_begin(j);
	ew_json_key(j, "message");
	ew_json_str(j, msg);
	put_schema(j, ew_mcp_rev(a->m),
	    c->res == NULL || c->res->source != EW_POLICY_SOURCE_RULE);
	ew_json_obj_end(j);
	if (ew_mcp_request_end(a->m, on_reply, p) != 0)
		goto fail;
	ev_timer_init(&p->timer, ew_broker_on_elicit_timeout, a->timeout_s, 0.);
	p->timer.data = p;
	ev_timer_start(ew_mcp_loop(a->m), &p->timer);
	p->next = a->prompts;
	if (a->prompts != NULL)
		a->prompts->prev = p;
	a->prompts = p;
	if (a->open++ == 0 && a->on_pause != NULL)
		a->on_pause(a, true);
	ew_mcp_log(a->m, EW_MCP_LOG_NOTICE, "execward", "asking: %s", msg);
	free(msg);
	return;
fail:
	free(msg);
	free(p);
	ew_broker_on_prompt_answer(c, EW_ANSWER_NONE,
	    "approval required, but the prompt could not be sent");
}

/* The program asking has gone: withdraw its prompt, answer nobody. */
static void
elicit_cancel(void *ctx, struct ew_client *c)
{
	struct ew_mcp_asker *a = ctx;
	struct ew_mcp_prompt *p;

	for (p = a->prompts; p != NULL; p = p->next)
		if (p->c == c) {
			ew_mcp_request_forget(
			    a->m, p->id, "the program asking has gone");
			prompt_unlink(p);
			return;
		}
}

void
ew_mcp_asker_stop(struct ew_mcp_asker *a, int ans, const char *detail)
{
	if (a->stopping == NULL) {
		a->stopping = detail;
		a->stop_answer = ans;
	}
	while (a->prompts != NULL)
		answer(a->prompts, (enum ew_answer)ans, detail, detail);
}

const struct ew_prompt_ops ew_mcp_elicit_ops = {
	.ask = elicit_ask,
	.cancel = elicit_cancel,
};
