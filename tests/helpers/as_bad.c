/*
 * An object that breaks the async-signal-safe rules on purpose, for the
 * test that shows scripts/check-as-symbols catches it (malloc, stdio).
 */
#include <stdio.h>
#include <stdlib.h>

void *ew_as_bad(void);

void *
ew_as_bad(void)
{
	void *p = malloc(16);

	printf("%p\n", p);
	return p;
}
