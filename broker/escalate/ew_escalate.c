/* Escalation tokens: issue, redeem once, expire, remember a while. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ew_escalate.h"

enum state {
	LIVE,
	SPENT,
	EXPIRED,
};

struct entry {
	struct ew_escalate_grant *g;
	enum state state;
	struct entry *prev, *next; /* oldest first */
};

struct ew_escalate_tokens {
	uint64_t ttl_us;
	struct entry *head, *tail;
	size_t n;
};

void
ew_escalate_grant_free(struct ew_escalate_grant *g)
{
	if (g == NULL)
		return;
	explicit_bzero(g->token, sizeof(g->token));
	free(g);
}

int
ew_escalate_tokens_new(uint64_t ttl_us, struct ew_escalate_tokens **out)
{
	struct ew_escalate_tokens *t;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->ttl_us = ttl_us;
	*out = t;
	return 0;
}

static void
unlink_entry(struct ew_escalate_tokens *t, struct entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		t->tail = e->prev;
	t->n--;
	ew_escalate_grant_free(e->g);
	free(e);
}

void
ew_escalate_tokens_free(struct ew_escalate_tokens *t)
{
	if (t == NULL)
		return;
	while (t->head != NULL)
		unlink_entry(t, t->head);
	free(t);
}

/* Expire what is due; forget what has been remembered long enough. */
static void
age(struct ew_escalate_tokens *t, uint64_t now_us)
{
	struct entry *e, *next;

	for (e = t->head; e != NULL; e = next) {
		next = e->next;
		if (e->state == LIVE && now_us >= e->g->expires_us)
			e->state = EXPIRED;
		if (e->state != LIVE &&
		    now_us >= e->g->expires_us +
			    (uint64_t)EW_ESCALATE_REMEMBER_MS * 1000u)
			unlink_entry(t, e);
	}
}

/* A grant for the request, in one allocation (strings copied). */
static struct ew_escalate_grant *
grant_new(uint32_t via, const char *file, const char *resolved, const char *cwd,
    char *const *argv, size_t argc, const char *real)
{
	struct ew_escalate_grant *g;
	size_t bytes, i;
	char *p;

	bytes = strlen(file) + strlen(resolved) + strlen(cwd) + 3;
	if (real != NULL)
		bytes += strlen(real) + 1;
	for (i = 0; i < argc; i++)
		bytes += strlen(argv[i]) + 1;
	g = calloc(1, sizeof(*g) + (argc + 1) * sizeof(char *) + bytes);
	if (g == NULL)
		return NULL;
	g->argv = (char **)(g + 1);
	p = (char *)(g->argv + argc + 1);
	g->file = p;
	p = stpcpy(p, file) + 1;
	g->resolved = p;
	p = stpcpy(p, resolved) + 1;
	g->cwd = p;
	p = stpcpy(p, cwd) + 1;
	for (i = 0; i < argc; i++) {
		g->argv[i] = p;
		p = stpcpy(p, argv[i]) + 1;
	}
	g->argv[argc] = NULL;
	g->argc = argc;
	g->via = via;
	if (real != NULL) {
		g->real = p;
		strcpy(p, real);
	}
	return g;
}

static void
hex(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
ew_escalate_token_issue(struct ew_escalate_tokens *t, const void *owner,
    uid_t uid, const struct ew_msg_ask *ask, uint64_t now_us,
    char token[EW_ESCALATE_TOKEN_LEN + 1])
{
	struct ew_escalate_exe none;

	/* Nothing checked: an escalation of no known file. */
	memset(&none, 0, sizeof(none));
	none.err = -ENOENT;
	return ew_escalate_token_issue_exe(
	    t, owner, uid, ask, &none, now_us, token);
}

int
ew_escalate_token_issue_exe(struct ew_escalate_tokens *t, const void *owner,
    uid_t uid, const struct ew_msg_ask *ask, const struct ew_escalate_exe *exe,
    uint64_t now_us, char token[EW_ESCALATE_TOKEN_LEN + 1])
{
	const char *real = exe != NULL && exe->err == 0 ? exe->path : NULL;

	unsigned char rnd[EW_ESCALATE_TOKEN_BYTES];
	struct entry *e, *next;
	ssize_t n;

	token[0] = '\0';
	age(t, now_us);
	/* Full: make room by forgetting the oldest refused-use memories. */
	for (e = t->head; e != NULL && t->n >= EW_ESCALATE_TOKENS_MAX;
	     e = next) {
		next = e->next;
		if (e->state != LIVE)
			unlink_entry(t, e);
	}
	if (t->n >= EW_ESCALATE_TOKENS_MAX)
		return -EAGAIN;
	/* A token is a credential: only the kernel's CSPRNG will do. */
	do
		n = getrandom(rnd, sizeof(rnd), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rnd))
		return n < 0 ? -errno : -EIO;
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->g = grant_new(ask->via, ask->file, ask->resolved, ask->cwd,
		 ask->argv, ask->argc, real)) == NULL) {
		free(e);
		explicit_bzero(rnd, sizeof(rnd));
		return -ENOMEM;
	}
	hex(e->g->token, rnd, sizeof(rnd));
	explicit_bzero(rnd, sizeof(rnd));
	e->g->owner = owner;
	e->g->uid = uid;
	e->g->confine = exe == NULL;
	if (real != NULL) {
		e->g->dev = exe->dev;
		e->g->ino = exe->ino;
	}
	e->g->issued_us = now_us;
	e->g->expires_us = now_us + t->ttl_us;
	e->state = LIVE;
	e->prev = t->tail;
	if (t->tail != NULL)
		t->tail->next = e;
	else
		t->head = e;
	t->tail = e;
	t->n++;
	memcpy(token, e->g->token, sizeof(e->g->token));
	return 0;
}

/* Equal, in time that does not depend on where they differ. */
static bool
same_token(const char *a, const char *b)
{
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < EW_ESCALATE_TOKEN_LEN; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* A token as we issue them: EW_ESCALATE_TOKEN_LEN lower-case hex digits. */
static bool
well_formed(const char *s)
{
	size_t i;

	for (i = 0; i < EW_ESCALATE_TOKEN_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

int
ew_escalate_token_take(struct ew_escalate_tokens *t, const void *owner,
    const char *token, uid_t uid, uint64_t now_us,
    struct ew_escalate_grant **out, const struct ew_escalate_grant **seen)
{
	struct entry *e;

	*out = NULL;
	if (seen != NULL)
		*seen = NULL;
	age(t, now_us);
	if (token == NULL || !well_formed(token))
		return -ENOENT;
	for (e = t->head; e != NULL; e = e->next)
		if (same_token(e->g->token, token))
			break;
	if (e == NULL)
		return -ENOENT;
	if (seen != NULL)
		*seen = e->g;
	if (e->state == SPENT)
		return -EALREADY;
	if (e->state == EXPIRED)
		return -ETIMEDOUT;
	/*
	 * The token is in argv, so anyone on the machine may read it from
	 * /proc while the helper runs: only its uid, in its session, can
	 * use it, and an attempt by another does not spend it.
	 */
	if (e->g->uid != uid)
		return -EPERM;
	if (e->g->owner != owner)
		return -EXDEV;
	/* Spent: the table keeps its grant, for a record of any reuse. */
	if ((*out = grant_new(e->g->via, e->g->file, e->g->resolved, e->g->cwd,
		 e->g->argv, e->g->argc, e->g->real)) == NULL)
		return -ENOMEM;
	memcpy((*out)->token, e->g->token, sizeof(e->g->token));
	(*out)->confine = e->g->confine;
	(*out)->dev = e->g->dev;
	(*out)->ino = e->g->ino;
	(*out)->owner = e->g->owner;
	(*out)->uid = e->g->uid;
	(*out)->issued_us = e->g->issued_us;
	(*out)->expires_us = e->g->expires_us;
	e->state = SPENT;
	return 0;
}

void
ew_escalate_tokens_drop_owner(struct ew_escalate_tokens *t, const void *owner)
{
	struct entry *e, *next;

	for (e = t->head; e != NULL; e = next) {
		next = e->next;
		if (e->g->owner == owner)
			unlink_entry(t, e);
	}
}

size_t
ew_escalate_tokens_count(
    const struct ew_escalate_tokens *t, uint64_t now_us, size_t *livep)
{
	const struct entry *e;
	size_t live = 0;

	for (e = t->head; e != NULL; e = e->next)
		if (e->state == LIVE && now_us < e->g->expires_us)
			live++;
	if (livep != NULL)
		*livep = live;
	return t->n;
}

bool
ew_escalate_via_sh_fallback(uint32_t via)
{
	return via == EW_VIA_EXECVP || via == EW_VIA_EXECVPE ||
	    via == EW_VIA_EXECLP || via == EW_VIA_POSIX_SPAWNP;
}

const char *
ew_escalate_refusal(int r)
{
	switch (r) {
	case -ENOENT:
		return "unknown escalation token";
	case -EALREADY:
		return "escalation token already used";
	case -ETIMEDOUT:
		return "escalation token expired";
	case -EPERM:
		return "escalation token issued to another user";
	case -EXDEV:
		return "escalation token issued to another session";
	case -ENOMEM:
		return "out of memory";
	default:
		return "escalation token refused";
	}
}
