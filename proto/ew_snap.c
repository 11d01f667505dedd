/* Writing a policy snapshot (ew_snap.h): the broker's side. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ew_snap.h"

/* At most this share of slots used, so that probes stay short. */
#define EW_SNAP_LOAD_NUM 1
#define EW_SNAP_LOAD_DEN 2
#define EW_SNAP_SLOTS_MIN 16u

int
ew_snap_build(uint64_t generation, uint32_t flags, const char *const *names,
    size_t n, const char *const *prefixes, size_t nprefixes, void **outp,
    size_t *lenp)
{
	struct ew_snap_hdr *h;
	uint32_t *slot, mask, j, nslots = EW_SNAP_SLOTS_MIN;
	size_t i, bytes = 1, len, total, off, nl;
	char *p, *strs;

	*outp = NULL;
	*lenp = 0;
	if (nprefixes > EW_SNAP_PREFIXES_MAX)
		return -E2BIG;
	for (i = 0; i < nprefixes; i++)
		if (strlen(prefixes[i]) >= EW_SNAP_PREFIX_LEN ||
		    prefixes[i][0] == '\0')
			return -E2BIG;
	for (i = 0; i < n; i++) {
		if ((nl = strlen(names[i])) >= EW_SNAP_NAME_MAX)
			continue; /* never looked up: such a name asks */
		bytes += nl + 1;
	}
	while ((size_t)nslots * EW_SNAP_LOAD_NUM < n * EW_SNAP_LOAD_DEN) {
		if (nslots > EW_SNAP_SIZE_MAX / sizeof(uint32_t) / 2)
			return -E2BIG;
		nslots *= 2;
	}
	total = sizeof(*h) + (size_t)nslots * sizeof(uint32_t) + bytes;
	if (total > EW_SNAP_SIZE_MAX)
		return -E2BIG;
	if ((p = calloc(1, total)) == NULL)
		return -ENOMEM;
	h = (struct ew_snap_hdr *)p;
	h->magic = EW_SNAP_MAGIC;
	h->version = EW_SNAP_VERSION;
	h->generation = generation;
	h->flags = flags;
	h->size = (uint32_t)total;
	h->nslots = nslots;
	h->strings = (uint32_t)(sizeof(*h) + (size_t)nslots * sizeof(uint32_t));
	h->nprefixes = (uint32_t)nprefixes;
	for (i = 0; i < nprefixes; i++)
		memcpy(h->prefixes[i], prefixes[i], strlen(prefixes[i]) + 1);
	slot = (uint32_t *)(p + sizeof(*h));
	strs = p + h->strings;
	mask = nslots - 1;
	off = 1; /* byte 0 is the NUL that "no name" points at */
	for (i = 0; i < n; i++) {
		if ((len = strlen(names[i])) >= EW_SNAP_NAME_MAX)
			continue;
		for (j = ew_snap_hash(names[i], len) & mask; slot[j] != 0;
		     j = (j + 1) & mask)
			if (strcmp(strs + slot[j], names[i]) == 0)
				break;
		if (slot[j] != 0)
			continue; /* a repeat */
		memcpy(strs + off, names[i], len + 1);
		slot[j] = (uint32_t)off;
		off += len + 1;
	}
	*outp = p;
	*lenp = total;
	return 0;
}
