/*
 * The program the shim's tests start: proves it ran by appending one line
 * to a marker file.
 *
 * usage: ew_child MARKER [ARG]...
 *
 * Line: argc=N bytes=B fds=0,1,2 preload=<LD_PRELOAD|-> socket=<...|->
 *   bytes is the sum of strlen(argv[i]); fds lists /proc/self/fd. Exits
 *   with $EW_CHILD_EXIT (default 0).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	const char *v;
	size_t bytes = 0;
	struct dirent *d;
	DIR *dir;
	FILE *f;
	int i, first = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: ew_child MARKER [ARG]...\n");
		return 2;
	}
	for (i = 0; i < argc; i++)
		bytes += strlen(argv[i]);
	if ((f = fopen(argv[1], "a")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	fprintf(f, "argc=%d bytes=%zu fds=", argc, bytes);
	if ((dir = opendir("/proc/self/fd")) != NULL) {
		while ((d = readdir(dir)) != NULL) {
			if (d->d_name[0] == '.' ||
			    atoi(d->d_name) == dirfd(dir) ||
			    atoi(d->d_name) == fileno(f))
				continue;
			fprintf(f, "%s%s", first ? "" : ",", d->d_name);
			first = 0;
		}
		closedir(dir);
	}
	v = getenv("LD_PRELOAD");
	fprintf(f, " preload=%s", v != NULL ? v : "-");
	v = getenv("EXECWARD_SOCKET");
	fprintf(f, " socket=%s\n", v != NULL ? v : "-");
	if (fclose(f) != 0)
		return 1;
	v = getenv("EW_CHILD_EXIT");
	return v != NULL ? atoi(v) : 0;
}
