/* The policy snapshot: which program names the shim may start on its own. */
#ifndef EW_SNAP_H
#define EW_SNAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN. Most starts are of programs that the policy allows whatever
 * their arguments (cc, ld, true, ls: no rule says otherwise, and the
 * heuristics never look at them). For those the broker's answer is known
 * before it is asked, and waiting for it is most of what execward costs
 * per start. So the broker writes, beside its socket (the session's 0700
 * folder), a snapshot of its policy: the program names that must be
 * asked about (named by a rule that is not a plain allow, or ones the
 * heuristics and the evaluator treat specially: shells, git, rm, sudo,
 * the dynamic loader), and whether local decisions are on at all. For
 * any other name, by the name it was called and by its real file's (a
 * symlink's target), the shim "tells" instead of asking: it sends the
 * question as a TOLD (ew_proto.h) on a connection of its own and starts
 * the program without waiting. The broker evaluates the TOLD exactly as
 * an ASK, writes the record, and flags (and logs) one whose evaluation
 * was not an allow in place.
 *
 * Local decisions are off (the shim asks about everything) in a sandboxed
 * session, with --audit-sync always (every record on disk before its
 * program runs), inside another session (its broker has a say), with
 * --preserve-program-paths, and after an audit write failed.
 *
 * Forgery. The file is the broker's, in a folder only the session's uid
 * may write; a process of that uid can overwrite it, and so make its own
 * shims tell instead of ask. That gains it nothing it lacks: it can skip
 * the shim altogether (a raw execve; the kernel backstop's business), and
 * the broker still evaluates every TOLD, records it, and flags a
 * mismatch. A snapshot the shim cannot parse, or one not owned by the
 * socket's owner, or writable by others, is not used: the shim asks.
 *
 * Liveness. A stopped broker still takes connections into its backlog,
 * so a TOLD would start a program whose record waits (and dies with the
 * broker if it is killed). The broker stamps the snapshot with its
 * monotonic clock every EW_SNAP_BEAT_MS; a shim finding the stamp older
 * than EW_SNAP_ALIVE_MS asks instead (and, the broker stopped, fails
 * closed after EXECWARD_TIMEOUT). What a broker that is stopped, then
 * killed, can lose is the starts told in that window.
 *
 * The tell socket. Waking the broker costs more than anything else a
 * told start does (on a VM, an idle vCPU's wake-up is most of it), and a
 * TOLD needs no answer. So TOLDs go to a listener of their own beside the
 * socket, which the broker does not wait on while starts are coming: it
 * takes what queued there every EW_BROKER_TELL_POLL_S (broker/core), and
 * before anything it reads on the ask socket, so a program's own asks are
 * still recorded after the TOLD of its start. The first TOLD after a quiet
 * spell wakes it; the next ones wait for its poll. The shim connects to
 * it only when the snapshot's flags say the broker has one. posix_spawn,
 * system and popen tell on one connection their process keeps
 * (preload/ew_shim_kept.c): TOLD, then the FAILED of that start if it
 * failed, then the next TOLD; the exec family on one of its own each.
 *
 * Replacement. On reload the broker writes the new snapshot beside the
 * old one, renames it over, then sets the old file's stale word; a shim
 * finding its mapping stale maps the file at the path again. A start that
 * read the old one just before sends the old generation in its TOLD: the
 * broker records a mismatch of an older generation as such.
 *
 * Layout (host byte order; the reader checks every offset):
 *   struct ew_snap_hdr
 *   uint32_t slot[nslots]  open addressing, FNV-1a, linear probing:
 *                          offset of the name in the string table, 0 empty
 *   strings                NUL-terminated names (the table's byte 0 is
 *                          a NUL, so offset 0 means none)
 * Names ask; prefixes (names starting with any of them) ask too.
 */

#define EW_SNAP_MAGIC 0x4e535745u /* "EWSN" */
#define EW_SNAP_VERSION 1u
/* Where a process finds its pid namespace. */
#define EW_SNAP_PIDNS "/proc/self/ns/pid"
/* The file beside the socket: its path plus this. */
#define EW_SNAP_SUFFIX ".policy"
/* flags: local decisions are on; without it the shim asks about all. */
#define EW_SNAP_F_LOCAL 0x1u
/*
 * flags: TOLDs go to the tell socket, the socket's path plus
 * EW_SNAP_TELL_SUFFIX; without it, to the socket itself.
 */
#define EW_SNAP_F_TELL_SOCKET 0x2u
#define EW_SNAP_TELL_SUFFIX ".tell"
/* The broker stamps alive_ms this often; a stamp older than ALIVE asks. */
#define EW_SNAP_BEAT_MS 500u
#define EW_SNAP_ALIVE_MS 3000u
/* Bounds the reader accepts (a hostile file stays bounded). */
#define EW_SNAP_SIZE_MAX (16u * 1024 * 1024)
#define EW_SNAP_PREFIXES_MAX 8u
#define EW_SNAP_PREFIX_LEN 16u
/* A program name the shim looks up, with its NUL. */
#define EW_SNAP_NAME_MAX 256u

struct ew_snap_hdr {
	uint32_t magic;
	uint32_t version;
	uint64_t generation; /* the broker's rules generation */
	uint32_t stale; /* set (atomically) once a newer one replaced it */
	uint32_t flags;
	uint64_t alive_ms; /* the broker's CLOCK_MONOTONIC, stamped */
	/*
	 * The broker's pid namespace (/proc/self/ns/pid's device and inode;
	 * 0: unknown). A shim in another one asks: a TOLD's pids mean
	 * nothing to the broker, and its parent cannot be looked up once
	 * the program it told about has started.
	 */
	uint64_t pidns_dev, pidns_ino;
	uint32_t size; /* the whole file */
	uint32_t nslots; /* a power of two */
	uint32_t strings; /* the string table's offset */
	uint32_t nprefixes;
	char prefixes[EW_SNAP_PREFIXES_MAX][EW_SNAP_PREFIX_LEN];
};

/* What a snapshot says about a start. */
enum ew_snap_verdict {
	EW_SNAP_ASK = 0, /* ask the broker and wait */
	EW_SNAP_TELL, /* allowed in place whatever the arguments: tell */
};

/* CLOCK_MONOTONIC in milliseconds (0 if it cannot be read). AS. */
uint64_t ew_snap_now_ms(void);

/*
 * Is h's stamp recent (within EW_SNAP_ALIVE_MS of now, either way)? AS.
 */
int ew_snap_alive(const struct ew_snap_hdr *h);

/* FNV-1a over name's bytes. Async-signal-safe. */
uint32_t ew_snap_hash(const char *name, size_t len);

/*
 * Is the mapping p[0..len) a well-formed snapshot (magic, version, sizes,
 * every slot's name inside the table and NUL-terminated)? 0 or -EINVAL.
 * Async-signal-safe; reads only.
 */
int ew_snap_check(const void *p, size_t len);

/*
 * What a checked snapshot says about the program name name[0..len):
 * EW_SNAP_TELL when local decisions are on and the name is neither listed
 * nor starts with a listed prefix, else EW_SNAP_ASK (an empty name, a
 * name of "." or "..", or one too long, ask). Async-signal-safe.
 */
enum ew_snap_verdict
ew_snap_lookup(const struct ew_snap_hdr *h, const char *name, size_t len);

/*
 * Build a snapshot of the names (n of them; repeats allowed) and
 * prefixes given, into a malloc'd block (*outp, *lenp). 0 or -ENOMEM,
 * -E2BIG past the bounds above. For the broker.
 */
int ew_snap_build(uint64_t generation, uint32_t flags, const char *const *names,
    size_t n, const char *const *prefixes, size_t nprefixes, void **outp,
    size_t *lenp);

#endif /* EW_SNAP_H */
