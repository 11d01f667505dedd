/*
 * ASYNC-SIGNAL-SAFE: the shim runs this in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; errno is kept.
 *
 * Reading a policy snapshot (ew_snap.h): its checks and its lookup.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "ew_snap.h"

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

#define MS_PER_S 1000u
#define NS_PER_MS 1000000u

uint64_t
ew_snap_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * MS_PER_S +
	    (uint64_t)ts.tv_nsec / NS_PER_MS;
}

int
ew_snap_alive(const struct ew_snap_hdr *h)
{
	uint64_t now = ew_snap_now_ms(),
		 at = __atomic_load_n(&h->alive_ms, __ATOMIC_ACQUIRE);

	/* Another time namespace (a clock far off) counts as stopped. */
	return now != 0 && at != 0 &&
	    (now >= at ? now - at : at - now) <= EW_SNAP_ALIVE_MS;
}

uint32_t
ew_snap_hash(const char *name, size_t len)
{
	uint32_t h = FNV_OFFSET;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= FNV_PRIME;
	}
	return h;
}

int
ew_snap_check(const void *p, size_t len)
{
	const struct ew_snap_hdr *h = p;
	const uint32_t *slot;
	const char *base = p;
	size_t slots_end, i;

	if (len < sizeof(*h) || len > EW_SNAP_SIZE_MAX)
		return -EINVAL;
	if (h->magic != EW_SNAP_MAGIC || h->version != EW_SNAP_VERSION ||
	    h->size != len || h->nprefixes > EW_SNAP_PREFIXES_MAX)
		return -EINVAL;
	for (i = 0; i < h->nprefixes; i++)
		if (memchr(h->prefixes[i], '\0', EW_SNAP_PREFIX_LEN) == NULL ||
		    h->prefixes[i][0] == '\0')
			return -EINVAL;
	/* A power of two, its slots inside, the strings after them. */
	if (h->nslots == 0 || (h->nslots & (h->nslots - 1)) != 0 ||
	    h->nslots > (len - sizeof(*h)) / sizeof(uint32_t))
		return -EINVAL;
	slots_end = sizeof(*h) + (size_t)h->nslots * sizeof(uint32_t);
	if (h->strings < slots_end || h->strings >= len ||
	    base[h->strings] != '\0' || base[len - 1] != '\0')
		return -EINVAL;
	slot = (const uint32_t *)(base + sizeof(*h));
	for (i = 0; i < h->nslots; i++)
		if (slot[i] != 0 && slot[i] >= len - h->strings)
			return -EINVAL;
	return 0;
}

enum ew_snap_verdict
ew_snap_lookup(const struct ew_snap_hdr *h, const char *name, size_t len)
{
	const char *base = (const char *)h, *strs;
	const uint32_t *slot;
	uint32_t mask, i, n, off;
	size_t k, plen;

	if (!(h->flags & EW_SNAP_F_LOCAL))
		return EW_SNAP_ASK;
	if (len == 0 || len >= EW_SNAP_NAME_MAX ||
	    (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.') ||
	    memchr(name, '/', len) != NULL)
		return EW_SNAP_ASK;
	for (k = 0; k < h->nprefixes; k++) {
		plen = strlen(h->prefixes[k]);
		if (plen <= len && memcmp(name, h->prefixes[k], plen) == 0)
			return EW_SNAP_ASK;
	}
	slot = (const uint32_t *)(base + sizeof(*h));
	strs = base + h->strings;
	mask = h->nslots - 1;
	i = ew_snap_hash(name, len) & mask;
	/* At most every slot once: a full (forged) table ends too. */
	for (n = 0; n < h->nslots; n++, i = (i + 1) & mask) {
		if ((off = slot[i]) == 0)
			return EW_SNAP_TELL;
		/* ew_snap_check: every name ends inside the table. */
		if (strncmp(strs + off, name, len) == 0 &&
		    strs[off + len] == '\0')
			return EW_SNAP_ASK;
	}
	return EW_SNAP_ASK;
}
