/* A tool call's output: the head and the tail kept, the middle counted. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_json.h"
#include "ew_mcp_int.h"

/* Look this far back for the last line (progress messages). */
#define EW_MCP_LAST_LINE_SCAN 1024

int
ew_mcp_capture_init(struct ew_mcp_capture *c, size_t max)
{
	memset(c, 0, sizeof(*c));
	if (max < 2)
		max = 2;
	c->max = max;
	if ((c->head = malloc(max / 2)) == NULL ||
	    (c->tail = malloc(max - max / 2)) == NULL) {
		free(c->head);
		c->head = NULL;
		return -ENOMEM;
	}
	return 0;
}

void
ew_mcp_capture_fini(struct ew_mcp_capture *c)
{
	free(c->head);
	free(c->tail);
	memset(c, 0, sizeof(*c));
}

void
ew_mcp_capture_put(struct ew_mcp_capture *c, const void *p, size_t n)
{
	const char *s = p;
	size_t hmax = c->max / 2, tcap = c->max - hmax, k;

	c->total += n;
	if (c->hlen < hmax) {
		k = n < hmax - c->hlen ? n : hmax - c->hlen;
		memcpy(c->head + c->hlen, s, k);
		c->hlen += k;
		s += k;
		n -= k;
	}
	if (n > tcap) {
		/* Only the last tcap bytes can survive. */
		s += n - tcap;
		n = tcap;
	}
	while (n > 0) {
		k = tcap - c->tpos < n ? tcap - c->tpos : n;
		memcpy(c->tail + c->tpos, s, k);
		c->tpos = (c->tpos + k) % tcap;
		c->tlen = c->tlen + k > tcap ? tcap : c->tlen + k;
		s += k;
		n -= k;
	}
}

/*
 * Copy stream bytes [from, from + n) to dst. The range must be kept: in
 * the head, or among the last tlen bytes.
 */
static void
copy_range(const struct ew_mcp_capture *c, uint64_t from, size_t n, char *dst)
{
	size_t tcap = c->max - c->max / 2, k, idx;
	uint64_t tstart = c->total - c->tlen;

	while (n > 0 && from < c->hlen) {
		k = c->hlen - from < n ? (size_t)(c->hlen - from) : n;
		memcpy(dst, c->head + from, k);
		dst += k;
		from += k;
		n -= k;
	}
	while (n > 0) {
		/* The ring's oldest byte sits at tpos once it is full. */
		idx = (size_t)(((c->tpos + tcap - c->tlen) % tcap) +
			  (from - tstart)) %
		    tcap;
		k = tcap - idx < n ? tcap - idx : n;
		memcpy(dst, c->tail + idx, k);
		dst += k;
		from += k;
		n -= k;
	}
}

/* Skip UTF-8 continuation bytes at the start of s (at most 3). */
static size_t
char_start(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && i < 3 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

int
ew_mcp_capture_text(
    const struct ew_mcp_capture *c, size_t keep, char **out, size_t *lenp)
{
	char *buf, *tail = NULL, mark[128];
	size_t kh, kt, hn, skip, mlen;
	uint64_t cut;

	*out = NULL;
	*lenp = 0;
	if (keep > c->max)
		keep = c->max;
	if (c->total <= keep) {
		if ((buf = malloc((size_t)c->total + 1)) == NULL)
			return -ENOMEM;
		copy_range(c, 0, (size_t)c->total, buf);
		buf[c->total] = '\0';
		*out = buf;
		*lenp = (size_t)c->total;
		return 0;
	}
	kh = keep / 2;
	kt = keep - kh;
	if ((buf = malloc(keep + sizeof(mark) + 1)) == NULL ||
	    (tail = malloc(kt + 1)) == NULL) {
		free(buf);
		return -ENOMEM;
	}
	copy_range(c, 0, kh, buf);
	hn = ew_json_utf8_prefix(buf, kh);
	copy_range(c, c->total - kt, kt, tail);
	skip = char_start(tail, kt);
	cut = c->total - hn - (kt - skip);
	mlen = (size_t)snprintf(mark, sizeof(mark),
	    "%s[... %" PRIu64 " bytes of output cut by execward ...]\n",
	    hn > 0 && buf[hn - 1] != '\n' ? "\n" : "", cut);
	memcpy(buf + hn, mark, mlen);
	memcpy(buf + hn + mlen, tail + skip, kt - skip);
	*lenp = hn + mlen + kt - skip;
	buf[*lenp] = '\0';
	*out = buf;
	free(tail);
	return 0;
}

void
ew_mcp_capture_last_line(
    const struct ew_mcp_capture *c, char *out, size_t outlen)
{
	char scan[EW_MCP_LAST_LINE_SCAN];
	size_t n, avail, end, start, len, skip;

	if (outlen == 0)
		return;
	out[0] = '\0';
	/* What is kept at the end of the stream: the ring, or the head. */
	avail = c->tlen > 0 ? c->tlen : (size_t)c->total;
	n = avail < sizeof(scan) ? avail : sizeof(scan);
	if (n == 0)
		return;
	copy_range(c, c->total - n, n, scan);
	end = n;
	while (end > 0 && (scan[end - 1] == '\n' || scan[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && scan[start - 1] != '\n')
		start--;
	len = end - start;
	if (len > outlen - 1) {
		start = end - (outlen - 1);
		len = outlen - 1;
	}
	skip = char_start(scan + start, len);
	memcpy(out, scan + start + skip, len - skip);
	out[len - skip] = '\0';
}
