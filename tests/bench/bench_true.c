/*
 * A program that does nothing, linked statically: started under the shim
 * it loads no library, so its start costs only the ask (scripts/bench).
 */
int
main(void)
{
	return 0;
}
