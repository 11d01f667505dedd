/*
 * The policy object: rules indexed by first token (open addressing on an
 * FNV-1a hash, one chain per token in definition order), host executables,
 * network rules, and the accessors on them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ew_policy_int.h"

struct ew_policy *
ew_policy_new(void)
{
	return calloc(1, sizeof(struct ew_policy));
}

void
ew_policy_free(struct ew_policy *p)
{
	if (p == NULL)
		return;
	ew_policy_arena_fini(&p->arena);
	free(p->slots);
	free(p->hosts);
	free(p->net);
	free(p);
}

static struct ew_policy_slot *
find_slot(
    struct ew_policy_slot *slots, size_t nslots, uint64_t h, const char *key)
{
	size_t i = (size_t)h & (nslots - 1);

	for (;;) {
		if (slots[i].key == NULL ||
		    (slots[i].hash == h && strcmp(slots[i].key, key) == 0))
			return &slots[i];
		i = (i + 1) & (nslots - 1);
	}
}

static int
rehash(struct ew_policy *p, size_t nslots)
{
	struct ew_policy_slot *ns, *s;
	size_t i;

	if ((ns = calloc(nslots, sizeof(*ns))) == NULL)
		return -EW_E_NOMEM;
	for (i = 0; i < p->nslots; i++) {
		if (p->slots[i].key == NULL)
			continue;
		s = find_slot(ns, nslots, p->slots[i].hash, p->slots[i].key);
		*s = p->slots[i];
	}
	free(p->slots);
	p->slots = ns;
	p->nslots = nslots;
	return 0;
}

int
ew_policy_insert(struct ew_policy *p, struct ew_policy_rule *r)
{
	struct ew_policy_slot *s;
	uint64_t h = ew_policy_hash(r->first);
	int ret;

	/* Keep the load factor at most 1/2. */
	if ((p->nused + 1) * 2 > p->nslots &&
	    (ret = rehash(p, p->nslots != 0 ? p->nslots * 2 : 64)) != 0)
		return ret;
	s = find_slot(p->slots, p->nslots, h, r->first);
	r->next = NULL;
	if (s->key == NULL) {
		s->key = r->first;
		s->hash = h;
		s->head = r;
		p->nused++;
	} else {
		s->tail->next = r;
	}
	s->tail = r;
	p->nrules++;
	return 0;
}

const struct ew_policy_rule *
ew_policy_lookup(const struct ew_policy *p, const char *s)
{
	const struct ew_policy_slot *slot;

	if (p->nslots == 0)
		return NULL;
	slot = find_slot(p->slots, p->nslots, ew_policy_hash(s), s);
	return slot->key != NULL ? slot->head : NULL;
}

size_t
ew_policy_rule_match(
    const struct ew_policy_rule *r, const char *const *cmd, size_t n)
{
	uint32_t i, k;

	if (n < (size_t)r->nrest + 1 || strcmp(cmd[0], r->first) != 0)
		return 0;
	for (i = 0; i < r->nrest; i++) {
		const struct ew_policy_ptok *t = &r->rest[i];

		for (k = 0; k < t->nalts; k++)
			if (strcmp(t->alts[k], cmd[i + 1]) == 0)
				break;
		if (k == t->nalts)
			return 0;
	}
	return (size_t)r->nrest + 1;
}

int
ew_policy_set_host(struct ew_policy *p, const struct ew_policy_host *h)
{
	struct ew_policy_host *nh;
	size_t i, ncap;

	for (i = 0; i < p->nhosts; i++) {
		if (strcmp(p->hosts[i].name, h->name) == 0) {
			p->hosts[i] = *h;
			return 0;
		}
	}
	if (p->nhosts == p->hosts_cap) {
		ncap = p->hosts_cap != 0 ? p->hosts_cap * 2 : 8;
		if ((nh = reallocarray(p->hosts, ncap, sizeof(*nh))) == NULL)
			return -EW_E_NOMEM;
		p->hosts = nh;
		p->hosts_cap = ncap;
	}
	p->hosts[p->nhosts++] = *h;
	return 0;
}

const struct ew_policy_host *
ew_policy_find_host(const struct ew_policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nhosts; i++)
		if (strcmp(p->hosts[i].name, name) == 0)
			return &p->hosts[i];
	return NULL;
}

int
ew_policy_host_executable_direct(const struct ew_policy *p, const char *name,
    const char *const **paths, size_t *npaths)
{
	const struct ew_policy_host *h;

	*paths = NULL;
	*npaths = 0;
	if ((h = ew_policy_find_host(p, name)) == NULL)
		return -ENOENT;
	*paths = h->paths;
	*npaths = h->npaths;
	return 0;
}

int
ew_policy_add_prefix_rule(struct ew_policy *p, char *const *tokens,
    size_t ntokens, enum ew_policy_decision d)
{
	struct ew_policy_rule *r;
	size_t i;

	if (ntokens == 0)
		return -EW_E_INVALID; /* "prefix cannot be empty" */
	if (d != EW_POLICY_ALLOW && d != EW_POLICY_PROMPT &&
	    d != EW_POLICY_FORBIDDEN)
		return -EW_E_INVALID;
	if (p->nrules >= EW_POLICY_RULES_MAX)
		return -EW_E_LIMIT;
	if ((r = ew_policy_arena_alloc(&p->arena, sizeof(*r))) == NULL)
		return -EW_E_NOMEM;
	memset(r, 0, sizeof(*r));
	r->decision = d;
	r->nrest = (uint32_t)(ntokens - 1);
	if ((r->first = ew_policy_arena_strndup(
		 &p->arena, tokens[0], strlen(tokens[0]))) == NULL)
		return -EW_E_NOMEM;
	if (r->nrest != 0) {
		r->rest = ew_policy_arena_alloc(
		    &p->arena, r->nrest * sizeof(*r->rest));
		if (r->rest == NULL)
			return -EW_E_NOMEM;
	}
	for (i = 1; i < ntokens; i++) {
		struct ew_policy_ptok *t = &r->rest[i - 1];

		t->nalts = 1;
		if ((t->alts = ew_policy_arena_alloc(
			 &p->arena, sizeof(char *))) == NULL ||
		    (t->alts[0] = ew_policy_arena_strndup(
			 &p->arena, tokens[i], strlen(tokens[i]))) == NULL)
			return -EW_E_NOMEM;
	}
	return ew_policy_insert(p, r);
}

size_t
ew_policy_rule_count(const struct ew_policy *p)
{
	return p->nrules;
}

size_t
ew_policy_network_rule_count(const struct ew_policy *p)
{
	return p->nnet;
}

const struct ew_policy_network_rule *
ew_policy_network_rule_direct(const struct ew_policy *p, size_t i)
{
	return i < p->nnet ? &p->net[i] : NULL;
}

/* Remove host from list[0..*n) (keeping order), then maybe append it. */
static void
upsert(const char **list, size_t *n, const char *host, bool add)
{
	size_t i, o = 0;

	for (i = 0; i < *n; i++)
		if (strcmp(list[i], host) != 0)
			list[o++] = list[i];
	if (add)
		list[o++] = host;
	*n = o;
	list[o] = NULL;
}

int
ew_policy_network_domains(
    const struct ew_policy *p, const char ***allowedp, const char ***deniedp)
{
	const char **allowed, **denied;
	size_t i, na = 0, nd = 0;

	*allowedp = NULL;
	*deniedp = NULL;
	allowed = calloc(p->nnet + 1, sizeof(*allowed));
	denied = calloc(p->nnet + 1, sizeof(*denied));
	if (allowed == NULL || denied == NULL) {
		free(allowed);
		free(denied);
		return -EW_E_NOMEM;
	}
	for (i = 0; i < p->nnet; i++) {
		const struct ew_policy_network_rule *r = &p->net[i];

		if (r->decision == EW_POLICY_ALLOW) {
			upsert(denied, &nd, r->host, false);
			upsert(allowed, &na, r->host, true);
		} else if (r->decision == EW_POLICY_FORBIDDEN) {
			upsert(allowed, &na, r->host, false);
			upsert(denied, &nd, r->host, true);
		}
	}
	*allowedp = allowed;
	*deniedp = denied;
	return 0;
}

const char *
ew_policy_decision_str(enum ew_policy_decision d)
{
	switch (d) {
	case EW_POLICY_ALLOW:
		return "allow";
	case EW_POLICY_PROMPT:
		return "prompt";
	case EW_POLICY_FORBIDDEN:
		return "forbidden";
	case EW_POLICY_NONE:
		break;
	}
	return NULL;
}
