/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; stack or mmap'd storage only; errno
 * is preserved.
 *
 * The policy snapshot in the shim (proto/ew_snap.h): which programs it
 * may start on the broker's known word, telling the broker instead of
 * asking it.
 *
 * The snapshot is mapped at the first start of a process, not at load: a
 * process that never starts a program pays nothing. It is mapped shared
 * and read-only, so the broker's stale mark reaches every mapping at
 * once; a stale one is mapped again from the path (the old mapping is
 * left: another thread may be reading it; one per reload). The only
 * globals written here are the mapping's pointer and state, atomically: a
 * vfork child shares them with its parent as it shares the mapping,
 * which is what we want.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_shim.h"
#include "ew_snap.h"

/* The mapping's state in this process. */
enum {
	SNAP_UNKNOWN = 0, /* not tried yet, or stale */
	SNAP_MAPPING, /* another thread is mapping it */
	SNAP_MAPPED,
	SNAP_NONE, /* none there, or not one to trust: ask */
};

/* Symlinks followed to find a program's real name (the kernel's limit). */
#define EW_SHIM_SNAP_HOPS 40

static int snap_state;
static const struct ew_snap_hdr *snap_map;

/*
 * Map the snapshot beside c's socket: a regular file, ours (the broker
 * runs as our uid: one serving other uids too, the daemon's --allow-uid,
 * answers their asks, and refuses those it does not serve), writable by
 * nobody else, well formed. NULL when there is none to use.
 */
static const struct ew_snap_hdr *
map_snapshot(const struct ew_shim_config *c)
{
	char path[EW_PROTO_PATH_MAX + sizeof(EW_SNAP_SUFFIX)];
	size_t n = strlen(c->socket);
	struct stat st;
	void *p = MAP_FAILED;
	size_t size = 0;
	int fd;

	if (!c->have_socket || n + sizeof(EW_SNAP_SUFFIX) > sizeof(path))
		return NULL;
	memcpy(path, c->socket, n);
	memcpy(path + n, EW_SNAP_SUFFIX, sizeof(EW_SNAP_SUFFIX));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 &&
	    st.st_size >= (off_t)sizeof(struct ew_snap_hdr) &&
	    st.st_size <= (off_t)EW_SNAP_SIZE_MAX && st.st_uid == geteuid()) {
		size = (size_t)st.st_size;
		p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	}
	(void)close(fd);
	if (p == MAP_FAILED)
		return NULL;
	/* In the broker's pid namespace, or it asks (ew_snap.h). */
	if (ew_snap_check(p, size) != 0 ||
	    fstatat(AT_FDCWD, EW_SNAP_PIDNS, &st, 0) != 0 ||
	    ((const struct ew_snap_hdr *)p)->pidns_ino == 0 ||
	    ((const struct ew_snap_hdr *)p)->pidns_dev != (uint64_t)st.st_dev ||
	    ((const struct ew_snap_hdr *)p)->pidns_ino != (uint64_t)st.st_ino) {
		(void)munmap(p, size);
		return NULL;
	}
	return p;
}

/* The snapshot to decide by, or NULL (ask). */
static const struct ew_snap_hdr *
current(const struct ew_shim_config *c)
{
	const struct ew_snap_hdr *h;
	int st = __atomic_load_n(&snap_state, __ATOMIC_ACQUIRE);
	int want = SNAP_UNKNOWN;

	if (st == SNAP_MAPPED) {
		h = __atomic_load_n(&snap_map, __ATOMIC_ACQUIRE);
		if (!__atomic_load_n(&h->stale, __ATOMIC_ACQUIRE))
			return h;
		/* Replaced: map the new one (one thread; the rest ask). */
		want = SNAP_MAPPED;
	} else if (st != SNAP_UNKNOWN)
		return NULL; /* none, or another thread's first start */
	if (!__atomic_compare_exchange_n(&snap_state, &want, SNAP_MAPPING, 0,
		__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return NULL;
	h = map_snapshot(c);
	__atomic_store_n(&snap_map, h, __ATOMIC_RELEASE);
	__atomic_store_n(
	    &snap_state, h != NULL ? SNAP_MAPPED : SNAP_NONE, __ATOMIC_RELEASE);
	return h;
}

/* The last component of path[0..), and its length. */
static const char *
base_name(const char *path, size_t *lenp)
{
	const char *b = strrchr(path, '/');

	b = b != NULL ? b + 1 : path;
	*lenp = strlen(b);
	return b;
}

/*
 * The name of the file path leads to when its last component is a
 * symlink (chains followed as the kernel does), in out; out[0] == '\0'
 * when path is no symlink. -1 when it cannot be told (ask).
 */
static int
real_name(const char *path, char *out, size_t outlen)
{
	char cur[PATH_MAX], tgt[PATH_MAX];
	struct stat st;
	const char *slash;
	size_t n, dlen, len;
	ssize_t t;
	int hop;

	out[0] = '\0';
	if ((n = strlen(path)) >= sizeof(cur))
		return -1;
	memcpy(cur, path, n + 1);
	for (hop = 0; hop <= EW_SHIM_SNAP_HOPS; hop++) {
		if (fstatat(AT_FDCWD, cur, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return -1;
		if (!S_ISLNK(st.st_mode)) {
			if (hop == 0)
				return 0;
			slash = base_name(cur, &len);
			if (len + 1 > outlen)
				return -1;
			memcpy(out, slash, len + 1);
			return 0;
		}
		t = readlink(cur, tgt, sizeof(tgt) - 1);
		if (t <= 0)
			return -1;
		tgt[t] = '\0';
		if (tgt[t - 1] == '/')
			return -1; /* a folder's name: the broker will tell */
		if (tgt[0] == '/') {
			memcpy(cur, tgt, (size_t)t + 1);
			continue;
		}
		/* Relative to the link's folder. */
		slash = strrchr(cur, '/');
		dlen = slash != NULL ? (size_t)(slash - cur) + 1 : 0;
		if (dlen + (size_t)t + 1 > sizeof(cur))
			return -1;
		memcpy(cur + dlen, tgt, (size_t)t + 1);
	}
	return -1;
}

int
ew_shim_snap_tells(const struct ew_shim_config *c, const char *resolved,
    uint64_t *genp, int *tell_sockp)
{
	char real[EW_SNAP_NAME_MAX];
	const struct ew_snap_hdr *h;
	const char *name;
	size_t len;
	int saved = errno, r = 0;

	/* None, or its broker stopped stamping it (stopped itself?): ask. */
	if (resolved == NULL || (h = current(c)) == NULL || !ew_snap_alive(h))
		goto out;
	name = base_name(resolved, &len);
	if (ew_snap_lookup(h, name, len) != EW_SNAP_TELL)
		goto out;
	/* By both names, as the broker checks them. */
	if (real_name(resolved, real, sizeof(real)) != 0 ||
	    (real[0] != '\0' &&
		ew_snap_lookup(h, real, strlen(real)) != EW_SNAP_TELL))
		goto out;
	*genp = h->generation;
	*tell_sockp = (h->flags & EW_SNAP_F_TELL_SOCKET) != 0;
	r = 1;
out:
	errno = saved;
	return r;
}
