/* The execward program: subcommands and the broker core they share. */
#ifndef EW_BROKER_H
#define EW_BROKER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#include "ew_audit.h"
#include "ew_escalate.h"
#include "ew_policy.h"
#include "ew_proto.h"
#include "ew_rules.h"

/* What to do when the policy says "ask a person". */
enum ew_on_prompt {
	EW_ON_PROMPT_ASK, /* the terminal when there is one, else deny */
	EW_ON_PROMPT_DENY, /* deny without asking */
	EW_ON_PROMPT_ALLOW, /* allow without asking */
};

/* Pending connections the kernel queues for a session's socket. */
#define EW_BROKER_BACKLOG 512

enum ew_answer {
	EW_ANSWER_YES,
	EW_ANSWER_NO,
	EW_ANSWER_ALWAYS,
	EW_ANSWER_CANCEL, /* the person dismissed the question */
	EW_ANSWER_TIMEOUT, /* nobody answered in time */
	EW_ANSWER_NONE, /* nobody to ask, or asking failed */
};

/* Why a connection was closed unread (ew_broker_conn.c). */
enum ew_refused {
	EW_REFUSED_UID, /* its uid is not served */
	EW_REFUSED_CAP, /* its uid holds its share of connections */
	EW_REFUSED_SILENT, /* no question came within the deadline */
};

/* Uids a broker serves besides its own (the daemon's --allow-uid). */
#define EW_BROKER_ALLOW_UIDS_MAX 64
/* Uids (and reasons) whose refusals are counted at once. */
#define EW_BROKER_REFUSALS_MAX 32

/* Refusals of one uid for one reason, counted for a rate-limited record. */
struct ew_refusal {
	bool used;
	uid_t uid;
	enum ew_refused kind;
	const char *session; /* the session's id (borrowed) */
	pid_t pid; /* the last one's */
	uint64_t count; /* not yet recorded */
	char since[32]; /* the first not yet recorded */
	ev_tstamp window_end; /* until then, refusals are only counted */
};

struct ew_broker;
struct ew_session;
struct ew_client;
struct ew_prompter;
struct ew_escalate;
struct ew_escalation;
struct ew_chain;
struct ew_chain_ask;
struct ew_spawn_hook;

/* Who is on the other end of a client. */
enum ew_client_role {
	/* A shim's connection: one ASK, then its FAILED or its hang-up. */
	EW_CLIENT_SHIM,
	/*
	 * execward-escalate's connection (its first message, an ESCALATE,
	 * makes a connection one): its SIGNALs while its program runs.
	 */
	EW_CLIENT_HELPER,
	/* The broker's own question (run's COMMAND): no connection. */
	EW_CLIENT_LOCAL,
	/*
	 * A start the kernel backstop trapped (broker/backstop/): no
	 * connection, as LOCAL; peer_pid is the calling task and exe what
	 * the kernel will run, both the kernel's word.
	 */
	EW_CLIENT_KERNEL,
};

/*
 * Where a client is. ew_broker_loop.c holds the table of what each state
 * permits (any other message closes the connection) and what its timer
 * does; ew_broker_client_enter is the one way from one to the next.
 */
enum ew_client_state {
	EW_CLIENT_AWAITING, /* connected: an ASK or an ESCALATE, in time */
	EW_CLIENT_ASKED, /* its question is being decided */
	EW_CLIENT_OUTER, /* ... and the outer broker has it (ew_chain.c) */
	EW_CLIENT_PROMPTING, /* ... and a person is being asked */
	EW_CLIENT_ANSWERED, /* allowed: its FAILED, or a start's hang-up */
	EW_CLIENT_IDLE, /* a tell connection between starts: its next TOLD */
	EW_CLIENT_HANDOVER, /* the helper's token is being redeemed */
	EW_CLIENT_RUNNING, /* the helper's program runs: its SIGNALs */
	EW_CLIENT_CLOSED, /* done with: entering it closes and frees */
	EW_CLIENT_NSTATES,
};

/*
 * Told a client's decision (audited): a shim's connection answers it, the
 * broker's own question acts on it. Returns the state to enter.
 */
typedef enum ew_client_state (*ew_client_done_fn)(
    struct ew_client *c, uint32_t verdict, const char *reason);

/*
 * One client of a session: a connection (a shim's, or a helper's), or
 * the broker's own question. What each role uses is marked.
 */
struct ew_client {
	enum ew_client_role role;
	enum ew_client_state state;
	struct ew_session *sess;
	struct ew_client *prev, *next; /* every client of the session */

	/* The connection (SHIM, HELPER): the kernel says who is there. */
	int fd; /* -1 for LOCAL */
	ev_io io;
	ev_timer timer; /* what it does depends on the state */
	pid_t peer_pid;
	uid_t peer_uid;
	int slot; /* its place in br->uid_conns (ew_broker_conn_admit) */
	/*
	 * Asked on the session's outside socket, which only escalated
	 * programs are given: the asker runs outside the sandbox, and what
	 * no allow rule lets out goes back in (ew_broker_finish).
	 */
	bool outside;

	/* The question (SHIM, LOCAL). */
	struct ew_msg_ask *ask;
	struct ew_policy_result *res;
	uint64_t t_start_us; /* when the question arrived */
	uint64_t t_prompt_us; /* when the person was asked */
	struct ew_client *qnext; /* a prompter's queue */
	/*
	 * The program as the broker resolved it, and whether allow rules
	 * (not heuristics) decide about it by each of its names: the name it
	 * was called by and, when a symlink led elsewhere, the real file's.
	 */
	struct ew_escalate_exe exe;
	bool ruled_called, ruled_real;
	uint64_t audit_seq; /* the seq of its decision's record; 0: none */
	/*
	 * This allowed question of the shim's (SHIM, ANSWERED) was matched
	 * to a start the kernel backstop trapped already: it matches once
	 * (broker/backstop/ew_backstop_match.c).
	 */
	bool backstop_seen;
	/* Nested session: the outer broker's part (ew_chain.c). */
	struct ew_chain_ask *chain;
	bool chain_done; /* the outer broker has had its say */
	char token[EW_PROTO_TOKEN_MAX + 1]; /* an ESCALATE answer's */
	ew_client_done_fn done; /* told the decision */
	void *data; /* the done callback's own */

	/* The helper's program (HELPER), while it runs. */
	struct ew_escalation *esc;

	/*
	 * A TOLD (SHIM): the program started on the snapshot's word, of
	 * generation told_gen; mismatch says what the broker would have
	 * answered when that was not an allow in place (NULL: it was).
	 */
	bool told;
	uint64_t told_gen;
	const char *mismatch;
	char mismatch_buf[EW_PROTO_REASON_MAX + 1];
	/*
	 * Taken on the session's tell socket (TOLDs only); lazy: read in the
	 * tell socket's polls, not watched (ew_broker_tell_take).
	 */
	bool tell, lazy;
	ev_tstamp t_heard; /* a tell connection's last message (or accept) */
	/* In the session's early list (accepted, no message yet), since. */
	bool early;
	ev_tstamp t_accept;
	struct ew_client *early_prev, *early_next;
};

/*
 * How a session asks a person: ask queues c's question and later calls
 * ew_broker_on_prompt_answer(c, ...) exactly once, unless cancel(c) came
 * first (c's connection went away).
 */
struct ew_prompt_ops {
	void (*ask)(void *ctx, struct ew_client *c);
	void (*cancel)(void *ctx, struct ew_client *c);
};

/*
 * The kernel backstop (broker/backstop/ew_backstop.h). It lies above core
 * (it puts trapped starts to core's clients), so core and escalate reach
 * it only through these, with arg its own.
 */
struct ew_broker_backstop {
	void *arg;
	/* For every spawn of a command tree (ew_spawn.h). */
	const struct ew_spawn_hook *spawn;
	/*
	 * A BACKSTOP message on c (`execward launch` hands over its tree's
	 * listener, fds[0]; takes the fds): the state c enters.
	 */
	enum ew_client_state (*handover)(
	    void *arg, struct ew_client *c, int *fds, size_t nfds);
	/* s is closing: its trees' listeners close too. */
	void (*session_closed)(void *arg, struct ew_session *s);
	/* "EXECWARD_RANGE=0x..." for a tree's environment; NULL: keep. */
	const char *(*env)(const void *arg);
	/* The records' "backstop" (why there is none of ours); NULL: on. */
	const char *(*label)(const void *arg);
};

/* What every session of one execward process shares. */
struct ew_broker {
	struct ev_loop *loop;
	struct ew_rules rules;
	struct ew_policy_opts popts;
	struct ew_audit *audit;
	uid_t uid;
	uint64_t decided; /* questions answered so far */
	struct ew_buf *rbuf; /* receive buffer, reused (single-threaded) */
	/* Peers' uids served besides uid (the daemon's --allow-uid). */
	const uid_t *allow_uids;
	size_t nallow_uids; /* at most EW_BROKER_ALLOW_UIDS_MAX */
	/*
	 * Connections open, all and per served uid ([0]: uid, [1 + i]:
	 * allow_uids[i]), and their caps (ew_broker_conn_init).
	 */
	size_t conns, conn_max, uid_conn_max;
	size_t uid_conns[1 + EW_BROKER_ALLOW_UIDS_MAX];
	/* Refusals counted for their rate-limited records. */
	struct ew_refusal refusals[EW_BROKER_REFUSALS_MAX];
	ev_timer refusal_w;
	bool refusal_init;
	/*
	 * When set, told each audit failure (besides stderr): the MCP server
	 * sends it as a log notification.
	 */
	void (*notify)(void *ctx, const char *msg);
	void *notify_ctx;
	/* Tokens and programs of escalations (ew_escalate.h); NULL: none. */
	struct ew_escalate *esc;
	/* The outer session we run inside (ew_chain.c); NULL: none. */
	struct ew_chain *chain;
	/* The kernel backstop (struct ew_broker_backstop); NULL: none. */
	const struct ew_broker_backstop *backstop;
	/*
	 * The rules' generation (ew_broker_rules_reload counts it), and the
	 * sessions whose policy snapshots follow it (ew_broker_snap.c).
	 */
	uint64_t rules_gen;
	struct ew_session *snap_sessions;
	ev_timer snap_beat; /* stamps them: the broker is alive */
	bool snap_beat_on;
};

/*
 * A command a person approved in this session, as policy tokens
 * ([basename(program)] + argv[1..]).
 */
struct ew_approval {
	struct ew_approval *next;
	size_t n;
	char **tokens;
};

/*
 * One broker session: a private socket that one command tree's shims ask
 * on, and how its prompts are answered.
 */
struct ew_session {
	struct ew_broker *br;
	char id[33];
	enum ew_on_prompt on_prompt;
	const struct ew_prompt_ops *prompt; /* NULL: nobody can be asked */
	void *prompt_ctx;
	/*
	 * The sandbox mode its commands run in (ew_sandbox_mode_name), NULL for
	 * none; when set, a rule's allow escalates instead of running in place.
	 * sb is that sandbox (ew_session_confine): escalation is checked
	 * against its roots, and confinements apply it.
	 */
	const char *sandbox;
	const struct ew_sandbox *sb;
	int lfd;
	bool inherited; /* lfd came from our parent: never unlink sockpath */
	ev_io accept_io;
	ev_timer accept_pause; /* accept resumes after running out of fds */
	char sockdir[PATH_MAX];
	char sockpath[PATH_MAX];
	/* The outside socket of a sandboxed session; -1 and "" without. */
	int lfd_out;
	ev_io accept_out_io;
	char sockpath_out[PATH_MAX];
	/*
	 * The tell socket beside sockpath (proto/ew_snap.h), -1 and "" without:
	 * watched (tell_io) only after a quiet spell; while TOLDs come it is
	 * taken from every EW_BROKER_TELL_POLL_S (tell_poll) instead.
	 */
	int lfd_tell;
	ev_io tell_io;
	ev_timer tell_poll;
	char sockpath_tell[PATH_MAX];
	struct ew_client *clients;
	size_t nclients;
	/*
	 * The commands of shell scripts a person approved: when the shell
	 * then starts them they are not asked about a second time.
	 */
	struct ew_approval *approvals;
	size_t napprovals;
	/*
	 * Its policy snapshot (proto/ew_snap.h): beside the socket, the file
	 * the shims map (snap_fd: open, to stamp it and to mark it stale when
	 * replaced; -1 when none is published), the generation it was built
	 * from, and why local decisions were turned off for good (NULL: they
	 * were not).
	 */
	char snap_path[PATH_MAX];
	int snap_fd;
	uint64_t snap_gen;
	const char *snap_revoked;
	bool
	    snap_withdrawn; /* the session is stopping (ew_broker_snap_local) */
	struct ew_session *snap_next; /* br->snap_sessions */
	/*
	 * Clients accepted before their first message came, in the order
	 * they were accepted: a message is read after theirs (so a start's
	 * TOLD, sent before the program it starts could connect, is
	 * recorded before anything that program starts).
	 */
	struct ew_client *early_head, *early_tail;
	size_t nearly;
	/* ew_session_close is reading what is left: nobody is asked. */
	bool closing;
};

/*
 * Start a session: a random id, a private 0700 folder and a SEQPACKET
 * socket in it that only br->uid may use. The folder is made in the
 * first private place that fits a socket path (108 bytes):
 * $XDG_RUNTIME_DIR, /run/user/UID, $XDG_STATE_HOME/execward/run (or
 * ~/.local/state/execward/run), and only then $TMPDIR or /tmp, which
 * ew_session_confine refuses when the sandbox may write there. 0 or
 * -errno.
 */
int ew_session_open(
    struct ew_session *s, struct ew_broker *br, enum ew_on_prompt on_prompt);

/*
 * Make a session's private (0700) folder into tmpl[0..len): in the first
 * place that is private and short enough for sun_path, in the order
 * ew_session_open says. 0 or -errno.
 */
int ew_session_folder(char *tmpl, size_t len);

/*
 * The session's commands run in sb (mode its name); sb NULL: none. The
 * session's folder must lie outside sb's writable roots, or a confined
 * command could put its own socket in our place; so must the rules files
 * and the amend file (it could write its own allow rules), and the shim
 * and helper that escalated programs run (ew_escalate_check_tools): -EPERM
 * and why in err.
 * Then a second socket is opened beside the first, the outside socket,
 * given only to escalated programs:
 *
 *   - on the inside socket, which confined processes have, an allow
 *     rule escalates the program and anything else allowed runs in
 *     place, that is confined;
 *   - on the outside socket an allow rule runs the program in place,
 *     outside, and anything else allowed is confined by
 *     execward-escalate before it runs.
 *
 * Neither side gains by using the other's socket. A confined process on
 * the outside socket runs in place (still confined: Landlock and
 * seccomp cannot be shed) or is confined again. An escalated program
 * never uses the inside socket of its own accord: its environment names
 * the outside one, and the shim keeps EXECWARD_SOCKET as it was at load
 * in every environment it passes on, so a hook or alias cannot switch
 * it. 0 or -errno with why in err.
 */
int ew_session_confine(struct ew_session *s, const struct ew_sandbox *sb,
    const char *mode, char *err, size_t errlen);

/*
 * Start a session on a socket that outlives it: path (created 0600, 0666
 * when br->allow_uids lets other uids in, in a folder that our euid owns
 * and nobody else may write; the folder is made if missing) or, with fd >=
 * 0, an inherited listening SEQPACKET socket (systemd socket activation;
 * path then only names it). 0, or -errno with a one-line reason in err.
 */
int ew_session_listen(struct ew_session *s, struct ew_broker *br,
    enum ew_on_prompt on_prompt, const char *path, int fd, char *err,
    size_t errlen);

/*
 * Take every connection already queued on the listening socket (so each
 * gets its answer), then stop listening and remove the socket we created.
 * Clients already connected stay until answered.
 */
void ew_session_stop_listening(struct ew_session *s);

/* Stop listening, close every client, remove the socket and its folder. */
void ew_session_close(struct ew_session *s);

/*
 * The environment for a command whose programs this session decides: env
 * with LD_PRELOAD led by lib (other preloads kept after it, ours not
 * repeated), EXECWARD_SOCKET set to the session's socket, EXECWARD_FAIL
 * to fail ("closed" or "open"), ASAN_OPTIONS ending with
 * verify_asan_link_order=0 (the shim keeps it so), and EXECWARD_RANGE
 * when the kernel backstop has a range of its own (ew_backstop_env).
 * One allocation: the
 * caller frees the returned array only; its strings are env's or inside
 * the block.
 */
char **ew_session_env(const struct ew_session *s, const char *lib,
    const char *fail, char *const *env);

/* The same with EXECWARD_SOCKET set to sock (the outside socket). */
char **ew_session_env_at(const struct ew_session *s, const char *sock,
    const char *lib, const char *fail, char *const *env);

/*
 * A client for the broker's own question (fd -1), with done called on the
 * decision. Takes ownership of ask.
 */
struct ew_client *ew_session_client_local(struct ew_session *s,
    struct ew_msg_ask *ask, ew_client_done_fn done, void *data);

/*
 * Move c to state next: its timer is set as the state says; entering
 * PROMPTING asks the session's prompter (which may answer, and free c,
 * before this returns); entering CLOSED closes and frees c (cancelling a
 * prompt). The caller must not use c afterwards unless next is a state
 * that keeps it.
 */
void ew_broker_client_enter(struct ew_client *c, enum ew_client_state next);

/* Close and free a client (ew_broker_client_enter, CLOSED); NULL: no-op. */
void ew_broker_client_free(struct ew_client *c);

/*
 * Take up to max connections waiting on s's listener (outside: the one
 * only escalated programs are given); ew_broker_accept_start watches s's
 * listeners for them.
 */
void ew_broker_accept(struct ew_session *s, bool outside, long max);
/*
 * Read the first messages that came on connections already taken (a
 * TOLD sent just before its program ended), and the TOLDs queued on the
 * tell socket: the session is closing, or its command has ended.
 */
void ew_broker_read_pending(struct ew_session *s);
void ew_broker_accept_start(struct ew_session *s);

/*
 * Open s's tell socket beside its socket (0600: only our uid's shims
 * tell), and watch it. Without one (the path too long for a socket, or
 * it cannot be made: logged) TOLDs come on the socket itself.
 */
void ew_broker_tell_listen(struct ew_session *s);
/*
 * Take every TOLD queued on s's tell socket, then close and remove it
 * (the told connections taken stay s's clients).
 */
void ew_broker_tell_stop(struct ew_session *s);

/*
 * The connection caps of br, from RLIMIT_NOFILE less a reserve for the
 * broker's own fds, shared equally by the uids it serves. Once; called
 * before the first connection is taken.
 */
void ew_broker_conn_init(struct ew_broker *br);

/*
 * May fd (just accepted from pid, uid, as SO_PEERCRED says) stay? Its
 * slot (>= 0, counted until ew_broker_conn_release), or -1: answered
 * deny unread, closed, and counted for the audit log.
 */
int ew_broker_conn_admit(struct ew_session *s, int fd, pid_t pid, uid_t uid);

/* A counted connection closed. */
void ew_broker_conn_release(struct ew_broker *br, int slot);

/*
 * Count one refusal of uid for the audit log: the first of a while is
 * recorded at once, the rest as a count every few seconds.
 */
void ew_broker_conn_note(
    struct ew_session *s, uid_t uid, pid_t pid, enum ew_refused kind);

/* Record the counts still pending for s (it is closing). */
void ew_broker_conn_flush(struct ew_session *s);

/*
 * Decide c->ask (c is ASKED): policy, then the sandbox's and the outer
 * broker's say. Returns the state to enter: PROMPTING when a person is to
 * be asked (entering it asks), OUTER while the outer broker decides, or
 * what the decision came to (ew_broker_finish).
 */
enum ew_client_state ew_broker_answer_ask(struct ew_client *c);

/*
 * Evaluate c's TOLD (c is ASKED) as an ASK, and record it: the program
 * has started. One that the broker would not have allowed in place is
 * recorded with a mismatch (and local decisions are turned off for the
 * session). Returns the state to enter (ANSWERED: its FAILED or hang-up).
 */
enum ew_client_state ew_broker_answer_told(struct ew_client *c);

/*
 * The session's policy snapshot (ew_broker_snap.c, proto/ew_snap.h).
 *
 * ew_broker_snap_publish: write it beside the socket (again, after a
 * reload or a revocation), replacing and marking stale the one before.
 * 0 or -errno (then none is left in place: every start is asked about).
 * ew_broker_snap_withdraw: remove it (the session closes).
 * ew_broker_snap_local: are local decisions on for s?
 * ew_broker_snap_revoke: turn them off for good, saying why (a static
 * string), and publish that.
 * ew_broker_rules_reload: ew_rules_reload, then every session's snapshot
 * again; 0 or -1 as ew_rules_reload.
 */
int ew_broker_snap_publish(struct ew_session *s);
/* Start stamping br's snapshots (once). */
void ew_broker_snap_beat_start(struct ew_broker *br);
void ew_broker_snap_withdraw(struct ew_session *s);
bool ew_broker_snap_local(const struct ew_session *s);
void ew_broker_snap_revoke(struct ew_session *s, const char *why);
int ew_broker_rules_reload(struct ew_broker *br);

/*
 * Record the decision in the audit log, then hand it to the client's done
 * callback (a shim's connection sends the answer). An audit failure turns
 * the verdict into a deny. Returns the state to enter: done's, or OUTER
 * when the outer broker is to have its say first (ew_chain.c).
 */
enum ew_client_state ew_broker_finish(struct ew_client *c, uint32_t verdict,
    const char *source, const char *reason, enum ew_answer answer, bool asked);

/*
 * The prompt on c was answered: the decision follows, and c enters the
 * state it comes to. detail, when not NULL, says why a question was not
 * accepted (recorded as the deny reason).
 */
void ew_broker_on_prompt_answer(
    struct ew_client *c, enum ew_answer answer, const char *detail);

/*
 * What the audit says beyond the decision (ew_broker_record.c).
 *
 * The cwd of c's record: the shim's, or, when it could not know it (a
 * removed directory, one longer than PATH_MAX), /proc/PID/cwd of the
 * asker read into buf; when even that fails, "" with why[0..len) saying
 * why and *whyp pointing there (else NULL).
 */
const char *ew_broker_record_cwd(const struct ew_client *c, char *buf,
    size_t buflen, char *why, size_t whylen, const char **whyp);

/* Record that c's allowed start failed with err (an errno). */
void ew_broker_record_failed(struct ew_client *c, int err);

/*
 * Nested sessions (ew_chain.c): a broker started inside another execward
 * session (EXECWARD_SOCKET set) puts every start it would allow to the
 * outer broker too.
 *
 * ew_chain_open: when EXECWARD_SOCKET is set, set br->chain and make our
 * own starts bypass the outer shim; -errno with a one-line reason in err
 * when the outer broker cannot be reached (and the outer session fails
 * closed). ew_chain_close frees it.
 */
int ew_chain_open(struct ew_broker *br, char *err, size_t errlen);
void ew_chain_close(struct ew_broker *br);

/*
 * Called by ew_broker_finish first: when c's decision must also pass the
 * outer broker, ask it and return true with *next the state to enter
 * (OUTER while it decides; finish is called again with the outcome);
 * false: go on.
 */
bool ew_chain_intercept(struct ew_client *c, uint32_t verdict,
    const char *source, const char *reason, enum ew_answer answer, bool asked,
    enum ew_client_state *next);

/* c's start failed after its allow: tell the outer broker too. */
void ew_chain_failed(struct ew_client *c, int err);

/* c is going away: drop its outer connection (a hang-up there). */
void ew_chain_client_gone(struct ew_client *c);

/* The policy command of an ask, shell-quoted for people (caller frees). */
char *ew_broker_command_text(const struct ew_msg_ask *ask, size_t max);

/* The terminal prompter (struct ew_prompt_ops on /dev/tty). */
extern const struct ew_prompt_ops ew_prompt_tty_ops;
/* Open /dev/tty; NULL when there is none. */
struct ew_prompter *ew_prompt_tty_open(struct ev_loop *loop);
void ew_prompt_tty_close(struct ew_prompter *p);

#endif /* EW_BROKER_H */
