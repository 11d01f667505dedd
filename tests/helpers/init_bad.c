/*
 * A constructor's section that calls libc on purpose, for the test that
 * shows scripts/check-init-calls catches it (strlen, getenv).
 */
#include <stdlib.h>
#include <string.h>

size_t ew_init_bad(void);

__attribute__((section(".text.startup.ew_shim"))) size_t
ew_init_bad(void)
{
	const char *v = getenv("EXECWARD_SOCKET");

	return v != NULL ? strlen(v) : 0;
}
