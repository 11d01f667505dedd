/* The wire protocol between the shim, the escalation helper and the broker. */
#ifndef EW_PROTO_H
#define EW_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ew_buf.h"

/*
 * Every message starts with a u32 protocol version and a u32 type. One
 * SEQPACKET record carries one message of at most EW_PROTO_RECORD_MAX
 * bytes. A larger message is written to a sealed memfd and the record
 * carries only an EW_MSG_LARGE envelope (its length) with the memfd as the
 * first fd. ew_proto_send and ew_proto_recv do this transparently, in both
 * directions.
 *
 * Conversation:
 *   shim   -> broker  ASK            (one per connection)
 *   broker -> shim    HEARTBEAT*     (while a person is being asked)
 *   broker -> shim    ANSWER
 *   shim   -> broker  FAILED?        (after an allow: the real call failed)
 * or, for a program the policy snapshot lets the shim start on its own
 * (ew_snap.h), without waiting for anything:
 *   shim   -> broker  TOLD           (one per connection: an ASK's body
 *                                     after the snapshot's generation)
 *   shim   -> broker  FAILED?        (as after an ALLOW)
 *   helper -> broker  ESCALATE       (fds 0, 1, 2 attached)
 *   broker -> helper  ANSWER         (allow: started; deny: token refused)
 *   helper -> broker  SIGNAL*        (forwarded signals)
 *   broker -> helper  EXIT           (the wait status)
 * or, when the token's program is to run in place but confined:
 *   broker -> helper  CONFINE        (the Landlock ruleset fd attached)
 * or, from `execward launch` (the daemon's kernel backstop):
 *   launch -> broker  BACKSTOP       (the seccomp listener fd attached)
 *   broker -> launch  ANSWER         (allow: taken; deny: refused)
 *
 * Return convention: 0 on success, -EW_E_* or -errno on failure. An
 * encoder that fails appends nothing; a decoder that fails consumes nothing.
 */

#define EW_PROTO_VERSION 1

/* Caps. The shim enforces them when encoding; the broker again on decode. */
/* Largest inline record; the default SO_SNDBUF (about 208 KiB) fits it. */
#define EW_PROTO_RECORD_MAX (64 * 1024)
/* Largest message overall: the kernel's argv+envp limit is 6 MiB at most
 * (3/4 of the 8 MiB _STK_LIM), plus room for paths and framing. */
#define EW_PROTO_MSG_MAX (16 * 1024 * 1024)
/* Most argv or envp entries (each costs at least a pointer and a NUL). */
#define EW_PROTO_ARGC_MAX (1024 * 1024)
#define EW_PROTO_ENVC_MAX (1024 * 1024)
/* Total bytes of argv strings, and of envp strings. */
#define EW_PROTO_ARG_BYTES_MAX (8 * 1024 * 1024)
/* One argv or envp string: the kernel's MAX_ARG_STRLEN (32 pages). */
#define EW_PROTO_STRING_MAX (128 * 1024)
/* A path (cwd, program) with its NUL: PATH_MAX. */
#define EW_PROTO_PATH_MAX 4096
/*
 * While it waits for a person, or for an outer broker, the broker sends a
 * HEARTBEAT this often (seconds); each restarts the shim's
 * EXECWARD_TIMEOUT clock, which is a whole number of seconds.
 */
#define EW_PROTO_HEARTBEAT_S 0.5
/* A deny reason, and an escalation token, without the NUL. */
#define EW_PROTO_REASON_MAX 1024
#define EW_PROTO_TOKEN_MAX 64

enum ew_msg_type {
	EW_MSG_ASK = 1,
	EW_MSG_ANSWER = 2,
	EW_MSG_HEARTBEAT = 3,
	EW_MSG_ESCALATE = 4,
	EW_MSG_SIGNAL = 5,
	EW_MSG_EXIT = 6,
	EW_MSG_LARGE = 7,
	EW_MSG_CONFINE = 8,
	EW_MSG_FAILED = 9,
	EW_MSG_BACKSTOP = 10,
	EW_MSG_TOLD = 11,
};
/* The highest message type. */
#define EW_MSG_TYPE_MAX EW_MSG_TOLD

/* The libc entry point a program was started through. */
enum ew_via {
	EW_VIA_EXECVE = 1,
	EW_VIA_EXECV,
	EW_VIA_EXECVP,
	EW_VIA_EXECVPE,
	EW_VIA_EXECL,
	EW_VIA_EXECLE,
	EW_VIA_EXECLP,
	EW_VIA_EXECVEAT,
	EW_VIA_FEXECVE,
	EW_VIA_POSIX_SPAWN,
	EW_VIA_POSIX_SPAWNP,
	EW_VIA_SYSTEM,
	EW_VIA_POPEN,
	EW_VIA_RUN, /* the broker's own start of `execward run -- COMMAND` */
	/*
	 * Seen by the kernel backstop, not asked by a shim: the broker's
	 * own, never taken from the wire (broker/backstop/ew_backstop.h).
	 */
	EW_VIA_KERNEL_EXECVE,
	EW_VIA_KERNEL_EXECVEAT,
	EW_VIA_MAX
};

enum ew_verdict {
	EW_VERDICT_ALLOW = 1,
	EW_VERDICT_DENY = 2,
	EW_VERDICT_ESCALATE = 3,
};

/* "execve", "posix_spawnp", ...; NULL for an unknown value. */
const char *ew_proto_via_name(uint32_t via);

/* Write the header of a message of the given type. */
int ew_proto_put_header(struct ew_buf *b, uint32_t type);

/*
 * Consume the header; *typep gets the type. A version other than ours is
 * -EW_E_VERSION, an unknown type -EW_E_TYPE.
 */
int ew_proto_get_header(struct ew_buf *b, uint32_t *typep);

/* The shim's question. */
struct ew_ask {
	uint32_t via;
	pid_t pid;
	pid_t ppid;
	const char *cwd;
	const char *file; /* the program as called (may be relative) */
	const char *resolved; /* the absolute path libc will execute */
	char *const *argv; /* NULL-terminated */
};

/*
 * Exact encoded size of an ASK (header included) in *sizep. Fails with
 * -EW_E_LIMIT when a cap is exceeded. Async-signal-safe.
 */
int ew_proto_ask_size(const struct ew_ask *a, size_t *sizep);

/* Encode an ASK (header included). Async-signal-safe. */
int ew_proto_put_ask(struct ew_buf *b, const struct ew_ask *a);

/* A TOLD is an ASK with the snapshot's generation (u64) first. */
#define EW_PROTO_TOLD_EXTRA 8
int ew_proto_put_told(struct ew_buf *b, const struct ew_ask *a, uint64_t gen);

/* A decoded ASK: one allocation holding every string. */
struct ew_msg_ask {
	uint32_t via;
	pid_t pid;
	pid_t ppid;
	char *cwd;
	char *file;
	char *resolved;
	size_t argc;
	size_t arg_bytes; /* sum of strlen(argv[i]) */
	char **argv; /* argc entries, then NULL */
};

/*
 * Decode an ASK body (after ew_proto_get_header). All caps are enforced,
 * the via must be known and the resolved path absolute. *out is
 * caller-freed with ew_msg_ask_free. b is untouched on failure.
 */
int ew_proto_get_ask(struct ew_buf *b, struct ew_msg_ask **out);
/* Decode a TOLD body: the generation into *genp, the rest as an ASK's. */
int
ew_proto_get_told(struct ew_buf *b, struct ew_msg_ask **out, uint64_t *genp);
void ew_msg_ask_free(struct ew_msg_ask *m);

/*
 * The broker's answer. reason and token may be NULL. An unknown verdict, or
 * ESCALATE without a token, is -EW_E_INVALID.
 */
int ew_proto_put_answer(
    struct ew_buf *b, uint32_t verdict, const char *reason, const char *token);

/* A decoded ANSWER, in fixed storage (no allocation: the shim uses it). */
struct ew_msg_answer {
	uint32_t verdict;
	char reason[EW_PROTO_REASON_MAX + 1];
	char token[EW_PROTO_TOKEN_MAX + 1];
};
int ew_proto_get_answer(struct ew_buf *b, struct ew_msg_answer *a);

/* A HEARTBEAT has no body. */
int ew_proto_put_heartbeat(struct ew_buf *b);

/* The escalation hand-over: token and environment; fds travel beside it. */
int
ew_proto_put_escalate(struct ew_buf *b, const char *token, char *const *envp);

struct ew_msg_escalate {
	char token[EW_PROTO_TOKEN_MAX + 1];
	size_t envc;
	char **envp; /* envc entries, then NULL */
};
/* Decode an ESCALATE body; *out is caller-freed with ew_msg_escalate_free. */
int ew_proto_get_escalate(struct ew_buf *b, struct ew_msg_escalate **out);
void ew_msg_escalate_free(struct ew_msg_escalate *m);

/*
 * Run a program in place, confined: what the helper execs (path, argv),
 * the session socket its shim must use from then on, and the sandbox to
 * apply first: the seccomp BPF as bytes (a multiple of 8, at most
 * EW_PROTO_BPF_MAX; may be empty) beside the Landlock ruleset, which
 * travels as the message's one fd.
 */
#define EW_PROTO_CONFINE_SH_FALLBACK 1u /* ENOEXEC: run it with /bin/sh */
/* BPF_MAXINSNS instructions of 8 bytes. */
#define EW_PROTO_BPF_MAX (4096 * 8)
struct ew_confine {
	const char *path;
	char *const *argv; /* NULL-terminated */
	const char *socket;
	uint32_t flags;
	const void *bpf;
	size_t bpf_len;
};
int ew_proto_put_confine(struct ew_buf *b, const struct ew_confine *c);

/* A decoded CONFINE: one allocation (path absolute, bpf aligned). */
struct ew_msg_confine {
	char *path;
	char *socket;
	uint32_t flags;
	size_t argc;
	char **argv; /* argc entries, then NULL */
	void *bpf;
	size_t bpf_len;
};
int ew_proto_get_confine(struct ew_buf *b, struct ew_msg_confine **out);
void ew_msg_confine_free(struct ew_msg_confine *m);

/*
 * After an ALLOW the shim keeps the connection open through the real call:
 * an exec that works closes it (close-on-exec), one that fails sends
 * FAILED with its errno (1..4095) first, so the broker can record that
 * the program did not start after all. Async-signal-safe.
 */
int ew_proto_put_failed(struct ew_buf *b, int err);
int ew_proto_get_failed(struct ew_buf *b, int *errp);

/* A forwarded signal (1..64). */
int ew_proto_put_signal(struct ew_buf *b, int signo);
int ew_proto_get_signal(struct ew_buf *b, int *signop);

/* The escalated program's wait status. */
int ew_proto_put_exit(struct ew_buf *b, int status);
int ew_proto_get_exit(struct ew_buf *b, int *statusp);

/*
 * Send the unread bytes of msg as one message with nfds fds. A message over
 * EW_PROTO_RECORD_MAX travels in a sealed memfd. Async-signal-safe.
 */
int
ew_proto_send(int sock, const struct ew_buf *msg, const int *fds, size_t nfds);

/*
 * Receive one message, appended to b (which should be empty). A large
 * message is read from its memfd, whose length and seals are checked; b's
 * max bounds what is accepted. Received fds (CLOEXEC, the memfd excluded)
 * go to fds[0..maxfds) and *nfdsp; caller owns them. With fixed storage in
 * b this is async-signal-safe.
 */
int ew_proto_recv(
    int sock, struct ew_buf *b, int *fds, size_t maxfds, size_t *nfdsp);

#endif /* EW_PROTO_H */
