/*
 * libFuzzer target: the audit-tail line reader. Each input line is parsed
 * as a record (as `execward audit tail` reads a log that anybody with
 * write access may have corrupted), filtered, and formatted for a
 * terminal; lines that are not records get the "bad line" format. The
 * first input byte picks the terminal width and colours.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ew_audit_tail.h"
#include "ew_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ew_audit_fmt fmt = { 0 };
	struct ew_audit_filter filter;
	struct ew_audit_view *v;
	struct ew_buf *out;
	const char *p, *end, *nl, *why;
	int64_t t;

	if (size == 0)
		return 0;
	fmt.width = data[0] & 0x80 ? 0 : 20u + data[0];
	fmt.color = data[0] & 1;
	p = (const char *)data + 1;
	end = (const char *)data + size;
	if ((out = ew_buf_new(1u << 20)) == NULL)
		abort();
	ew_audit_filter_init(&filter);
	filter.decisions = data[0] & 0x0f;
	filter.program = data[0] & 0x10 ? "true" : NULL;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		why = NULL;
		if (ew_audit_view_parse(p, (size_t)(nl - p), &v, &why) == 0) {
			(void)ew_audit_filter_match(&filter, v);
			(void)ew_audit_format(v, &fmt, out);
			ew_audit_view_free(v);
		} else
			(void)ew_audit_format_bad("fuzz", 1,
			    why != NULL ? why : "bad", p, (size_t)(nl - p),
			    &fmt, out);
		ew_buf_reset(out);
		p = nl + 1;
	}
	/* Time strings come from the command line, but are parsed too. */
	if (size < 64) {
		char s[64];

		memcpy(s, data, size);
		s[size] = '\0';
		(void)ew_audit_time_parse(s, 1700000000000000LL, &t);
	}
	ew_buf_free(out);
	return 0;
}
