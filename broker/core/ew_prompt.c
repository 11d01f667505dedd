/* Asking a person at the terminal, one question at a time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_log.h"

/* A question nobody answers is denied after this long. */
#define EW_PROMPT_TIMEOUT_S 300.0
/* The command as shown in a prompt. */
#define EW_PROMPT_COMMAND_MAX 400

struct ew_prompter {
	struct ev_loop *loop;
	int fd; /* /dev/tty, or -1 once it is gone */
	ev_io io;
	ev_timer timer;
	struct ew_client *head, *tail; /* head is being asked */
	char line[256];
	size_t len;
	bool overflow; /* the answer line did not fit: read to its end */
};

static void show(struct ew_prompter *p);

static void
say(struct ew_prompter *p, const char *s)
{
	size_t n = strlen(s);
	ssize_t w;

	while (p->fd >= 0 && n > 0) {
		w = write(p->fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Take the head off the queue and answer it. */
static void
answer_head(struct ew_prompter *p, enum ew_answer a)
{
	struct ew_client *c = p->head;

	ev_io_stop(p->loop, &p->io);
	ev_timer_stop(p->loop, &p->timer);
	p->len = 0;
	p->overflow = false;
	if (c == NULL)
		return;
	p->head = c->qnext;
	if (p->head == NULL)
		p->tail = NULL;
	c->qnext = NULL;
	ew_broker_on_prompt_answer(c, a, NULL);
	show(p);
}

static enum ew_answer
parse_answer(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, "always", 6) == 0 ||
	    ((*s == 'a' || *s == 'A') && (s[1] == '\0' || s[1] == ' ')))
		return EW_ANSWER_ALWAYS;
	if (strncasecmp(s, "yes", 3) == 0 ||
	    ((*s == 'y' || *s == 'Y') && (s[1] == '\0' || s[1] == ' ')))
		return EW_ANSWER_YES;
	return EW_ANSWER_NO;
}

static void
ew_broker_on_tty(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ew_prompter *p = w->data;
	char c;
	ssize_t n;

	for (;;) {
		n = read(p->fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* The terminal is gone: nobody can be asked now. */
			ew_log(EW_LOG_WARN,
			    "/dev/tty closed: prompts are "
			    "denied from now on");
			close(p->fd);
			p->fd = -1;
			while (p->head != NULL)
				answer_head(p, EW_ANSWER_NONE);
			return;
		}
		if (c == '\n') {
			p->line[p->len] = '\0';
			answer_head(p,
			    p->overflow ? EW_ANSWER_NO : parse_answer(p->line));
			return;
		}
		if (p->len + 1 < sizeof(p->line))
			p->line[p->len++] = c;
		else
			p->overflow = true;
	}
}

static void
ew_broker_on_prompt_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ew_prompter *p = w->data;

	say(p, "\nexecward: no answer, denied\n");
	answer_head(p, EW_ANSWER_TIMEOUT);
}

/* The cwd with $HOME shown as ~. */
static void
short_cwd(const char *cwd, char *out, size_t outlen)
{
	const char *home = getenv("HOME");
	size_t n = home != NULL ? strlen(home) : 0;

	if (n > 1 && strncmp(cwd, home, n) == 0 &&
	    (cwd[n] == '/' || cwd[n] == '\0'))
		snprintf(out, outlen, "~%s", cwd + n);
	else
		snprintf(out, outlen, "%s", cwd);
}

static void
show(struct ew_prompter *p)
{
	struct ew_client *c = p->head;
	const struct ew_policy_match *m = NULL;
	char cwd[512], text[1024], *cmd;
	size_t i;

	if (c == NULL)
		return;
	if (p->fd < 0) {
		answer_head(p, EW_ANSWER_NONE);
		return;
	}
	for (i = 0; c->res != NULL && i < c->res->nmatches; i++)
		if (c->res->matches[i].decision == EW_POLICY_PROMPT) {
			m = &c->res->matches[i];
			break;
		}
	if (m != NULL && !m->heuristics)
		snprintf(text, sizeof(text), "\nexecward: %s:%u asks: %s\n",
		    m->file, m->line,
		    m->justification != NULL ? m->justification
					     : "approval required by policy");
	else
		snprintf(text, sizeof(text),
		    "\nexecward: this command might be dangerous\n");
	say(p, text);
	cmd = ew_broker_command_text(c->ask, EW_PROMPT_COMMAND_MAX);
	short_cwd(c->ask->cwd, cwd, sizeof(cwd));
	/* "Always" is offered only where an allow rule would take effect. */
	snprintf(text, sizeof(text), "Allow `%s` in %s? %s ",
	    cmd != NULL ? cmd : "?", cwd,
	    m != NULL && !m->heuristics ? "[y/N]" : "[y/N/a(lways)]");
	free(cmd);
	say(p, text);
	p->len = 0;
	p->overflow = false;
	ev_io_start(p->loop, &p->io);
	ev_timer_set(&p->timer, EW_PROMPT_TIMEOUT_S, 0.);
	ev_timer_start(p->loop, &p->timer);
}

struct ew_prompter *
ew_prompt_tty_open(struct ev_loop *loop)
{
	struct ew_prompter *p;
	int fd;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		close(fd);
		return NULL;
	}
	p->loop = loop;
	p->fd = fd;
	ev_io_init(&p->io, ew_broker_on_tty, fd, EV_READ);
	p->io.data = p;
	ev_timer_init(
	    &p->timer, ew_broker_on_prompt_timeout, EW_PROMPT_TIMEOUT_S, 0.);
	p->timer.data = p;
	return p;
}

void
ew_prompt_tty_close(struct ew_prompter *p)
{
	if (p == NULL)
		return;
	while (p->head != NULL)
		answer_head(p, EW_ANSWER_NONE);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static void
tty_ask(void *ctx, struct ew_client *c)
{
	struct ew_prompter *p = ctx;

	c->qnext = NULL;
	if (p->tail != NULL)
		p->tail->qnext = c;
	else
		p->head = c;
	p->tail = c;
	if (p->head == c)
		show(p);
}

static void
tty_cancel(void *ctx, struct ew_client *c)
{
	struct ew_prompter *p = ctx;
	struct ew_client **pp, *prev = NULL;

	for (pp = &p->head; *pp != NULL; prev = *pp, pp = &(*pp)->qnext) {
		if (*pp != c)
			continue;
		*pp = c->qnext;
		if (p->tail == c)
			p->tail = prev;
		c->qnext = NULL;
		if (prev == NULL) {
			/* It was on screen: say so, and ask the next one. */
			ev_io_stop(p->loop, &p->io);
			ev_timer_stop(p->loop, &p->timer);
			say(p, "\nexecward: the program asking has gone\n");
			show(p);
		}
		return;
	}
}

const struct ew_prompt_ops ew_prompt_tty_ops = {
	.ask = tty_ask,
	.cancel = tty_cancel,
};
