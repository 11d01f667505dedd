/*
 * ASYNC-SIGNAL-SAFE: this file runs in vfork children (dash, CPython).
 * No malloc, stdio, locks or dlsym; no writes to globals; the request is
 * encoded on the stack (mmap'd when it is big); errno is preserved.
 *
 * The ask: one short-lived connection to the broker per program, one ASK,
 * then HEARTBEATs (each restarts the EXECWARD_TIMEOUT clock) until the
 * ANSWER. The socket is CLOEXEC, above stdio, and closed before the real
 * function runs, so it never reaches the new image.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ew_err.h"
#include "ew_fd.h"
#include "ew_env.h"
#include "ew_path.h"
#include "ew_shim.h"
#include "ew_snap.h"
#include "ew_sock.h"

extern char **environ;

/* Requests up to this size are encoded on the stack. */
#define EW_SHIM_ASK_STACK 8192
/* Room for the largest ANSWER: header, verdict, reason, token. */
#define EW_SHIM_ANSWER_MAX (64 + EW_PROTO_REASON_MAX + EW_PROTO_TOKEN_MAX)
/* The largest errno FAILED carries (ew_proto_put_failed's range). */
#define EW_SHIM_ERRNO_MAX 4095
/* Room for why an ask failed (a socket path and an error text). */
#define EW_SHIM_WHY_MAX 1024

/* why = "<what> <path>: <error>" */
static void
explain(struct ew_shim_line *why, const char *what, const char *path, int r)
{
	ew_shim_line_put(why, what);
	if (path != NULL) {
		ew_shim_line_put(why, " ");
		ew_shim_line_put(why, path);
	}
	ew_shim_line_put(why, ": ");
	ew_shim_line_put(why, ew_err_str(r));
}

/*
 * Wait for the ANSWER on fd, heartbeats restarting the clock. 0 with *ans
 * filled, or an error with why explained.
 */
static int
await_answer(const struct ew_shim_config *c, int fd, struct ew_msg_answer *ans,
    struct ew_shim_line *why)
{
	unsigned char storage[EW_SHIM_ANSWER_MAX];
	struct ew_buf b;
	uint32_t type;
	int r;

	for (;;) {
		r = ew_sock_wait(fd, POLLIN, c->timeout_s * 1000);
		if (r == -EW_E_TIMEOUT) {
			ew_shim_line_put(why, "broker did not answer within ");
			ew_shim_line_put_uint(why, (unsigned)c->timeout_s);
			ew_shim_line_put(why, " s (EXECWARD_TIMEOUT)");
			return r;
		}
		if (r < 0) {
			explain(why, "broker unreachable: poll", c->socket, r);
			return r;
		}
		ew_buf_init(&b, storage, sizeof(storage));
		r = ew_proto_recv(fd, &b, NULL, 0, NULL);
		if (r == -EW_E_CLOSED || r == -ECONNRESET) {
			ew_shim_line_put(why, "broker closed the connection");
			return r;
		}
		if (r == 0 && (r = ew_proto_get_header(&b, &type)) == 0 &&
		    type == EW_MSG_HEARTBEAT && ew_buf_len(&b) == 0)
			continue;
		if (r == 0 && type != EW_MSG_ANSWER)
			r = -EW_E_TYPE;
		if (r == 0 && (r = ew_proto_get_answer(&b, ans)) == 0)
			return 0;
		explain(why, "bad answer from broker", NULL, r);
		return r;
	}
}

/*
 * Where a TOLD goes: the tell socket beside c's socket (proto/ew_snap.h)
 * when the broker has one, in buf, else c's socket itself.
 */
static const char *
tell_path(
    const struct ew_shim_config *c, int tell_sock, char *buf, size_t buflen)
{
	size_t n = strlen(c->socket);

	if (!tell_sock || n + sizeof(EW_SNAP_TELL_SUFFIX) > buflen)
		return c->socket;
	memcpy(buf, c->socket, n);
	memcpy(buf + n, EW_SNAP_TELL_SUFFIX, sizeof(EW_SNAP_TELL_SUFFIX));
	return buf;
}

/*
 * A TOLD in b on the kept tell connection of process self to path: its fd,
 * taken (ew_shim_done gives it back), or an error (then tell on a
 * connection of one's own). A kept connection the broker has closed
 * (restarted, or the session gone) is made again, once.
 */
static int
told_kept(const char *path, int ms, pid_t self, const struct ew_buf *b)
{
	int fd, fresh, r;

	do {
		if ((fd = ew_shim_kept_take(path, ms, self, &fresh)) < 0)
			return fd;
		if ((r = ew_proto_send(fd, b, NULL, 0)) == 0)
			return fd;
		ew_shim_kept_put(fd, 0);
	} while (!fresh);
	return r;
}

/*
 * The conversation. 0 with *ans filled and *fdp the connection, still open
 * (the caller closes it), or an error with why explained. With told (the
 * snapshot's generation) the question goes as a TOLD, to the tell socket
 * when tell_sock, and nothing is awaited: *ans is then an ALLOW.
 */
static int __attribute__((noinline)) ask(const struct ew_shim_config *c,
    const struct ew_shim_ask *q, struct ew_msg_answer *ans,
    struct ew_shim_line *why, int *fdp, const uint64_t *told, int tell_sock)
{
	unsigned char stack[EW_SHIM_ASK_STACK];
	char tbuf[EW_SOCK_PATH_MAX];
	const char *path = c->socket;
	struct ew_ask a;
	struct ew_buf b;
	void *map = NULL;
	size_t size = 0;
	int fd = -1, r, ms;

	if (!c->have_socket) {
		ew_shim_line_put(
		    why, "broker unreachable: EXECWARD_SOCKET is not set");
		r = -ENOENT;
		goto out;
	}
	if (q->resolved == NULL) {
		explain(why, "resolve", q->file, -ENAMETOOLONG);
		r = -ENAMETOOLONG;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.via = q->via;
	a.pid = getpid();
	a.ppid = getppid();
	a.cwd = q->cwd;
	a.file = q->file;
	a.resolved = q->resolved;
	a.argv = q->argv;
	if ((r = ew_proto_ask_size(&a, &size)) != 0) {
		explain(why, "request too large", NULL, r);
		goto out;
	}
	if (told != NULL)
		size += EW_PROTO_TOLD_EXTRA;
	if (size <= sizeof(stack))
		ew_buf_init(&b, stack, sizeof(stack));
	else {
		map = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			r = -errno;
			explain(why, "mmap request", NULL, r);
			goto out;
		}
		ew_buf_init(&b, map, size);
	}
	if ((r = told != NULL ? ew_proto_put_told(&b, &a, *told)
			      : ew_proto_put_ask(&b, &a)) != 0) {
		explain(why, "encode request", NULL, r);
		goto out;
	}
	ms = c->timeout_s * 1000;
	if (ms > EW_SHIM_CONNECT_MS)
		ms = EW_SHIM_CONNECT_MS;
	/*
	 * A TOLD's connection sends, and never waits to read: the kept one
	 * when the caller may keep it and there is a tell socket.
	 */
	if (told != NULL) {
		path = tell_path(c, tell_sock, tbuf, sizeof(tbuf));
		if (q->keep && tell_sock &&
		    (fd = told_kept(path, ms, a.pid, &b)) >= 0) {
			ans->verdict = EW_VERDICT_ALLOW;
			*fdp = fd | EW_SHIM_FD_KEPT;
			fd = -1;
			r = 0;
			goto out;
		}
		fd = ew_sock_connect_nb(path, ms);
	} else
		fd = ew_sock_connect(path, ms);
	if (fd < 0) {
		r = fd;
		fd = -1;
		explain(why, "broker unreachable: connect", path, r);
		goto out;
	}
	if ((r = ew_proto_send(fd, &b, NULL, 0)) != 0) {
		explain(why, "broker unreachable: send", path, r);
		goto out;
	}
	if (map != NULL) {
		(void)munmap(map, size);
		map = NULL;
	}
	if (told != NULL) {
		/* Started on the snapshot's word: the broker records it. */
		ans->verdict = EW_VERDICT_ALLOW;
		*fdp = fd;
		fd = -1;
	} else if ((r = await_answer(c, fd, ans, why)) == 0) {
		*fdp = fd;
		fd = -1;
	}
out:
	if (map != NULL)
		(void)munmap(map, size);
	ew_fd_close(fd);
	return r;
}

/* A token fit for argv: letters and digits only, not empty, bounded. */
static int
token_ok(const char *t)
{
	size_t i;

	for (i = 0; t[i] != '\0'; i++)
		if (!((t[i] >= '0' && t[i] <= '9') ||
			(t[i] >= 'a' && t[i] <= 'z') ||
			(t[i] >= 'A' && t[i] <= 'Z')))
			return 0;
	return i > 0 && i <= EW_PROTO_TOKEN_MAX;
}

/*
 * An ESCALATE answer: the program is to run outside the sandbox, by the
 * broker, through the helper. EW_SHIM_ESCALATE with the token in token,
 * or -EACCES (said on stderr) when that cannot be done.
 */
static int
escalate(const struct ew_shim_config *c, const struct ew_shim_ask *q,
    const struct ew_msg_answer *ans, char *token)
{
	struct ew_shim_line why;
	char whybuf[EW_SHIM_WHY_MAX];
	int r;

	ew_shim_line_init(&why, whybuf, sizeof(whybuf));
	if (!token_ok(ans->token)) {
		ew_shim_line_put(
		    &why, "bad answer from broker: malformed escalation token");
		goto refuse;
	}
	if (token == NULL) {
		ew_shim_line_put(&why, "this entry point cannot escalate");
		goto refuse;
	}
	if (c->helper[0] == '\0') {
		ew_shim_line_put(&why,
		    "escalation needs " EW_SHIM_HELPER
		    " beside libexecward.so, whose path is not known");
		goto refuse;
	}
	if ((r = ew_path_probe(AT_FDCWD, c->helper, 0)) != 0) {
		explain(&why, "escalation needs", c->helper, r);
		goto refuse;
	}
	memcpy(token, ans->token, strlen(ans->token) + 1);
	return EW_SHIM_ESCALATE;
refuse:
	ew_shim_msg_say(
	    c->quiet, "denied", q->file, q->argv, ew_shim_line_str(&why), NULL);
	return -EACCES;
}

void
ew_shim_helper_argv(char *argv[3], char *token)
{
	argv[0] = (char *)EW_SHIM_HELPER;
	argv[1] = token;
	argv[2] = NULL;
}

int
ew_shim_gate(const struct ew_shim_ask *q, char *token, int *fdp)
{
	/*
	 * Every entry point took the snapshot first (ew_shim_config), at
	 * the top of its stack: this deep in it, no more.
	 */
	const struct ew_shim_config *c = &ew_shim_cfg;
	struct ew_msg_answer ans;
	char whybuf[EW_SHIM_WHY_MAX];
	struct ew_shim_line why;
	uint64_t gen = 0;
	int saved = errno, fd = -1, r, told, tell_sock = 0;

	if (fdp != NULL)
		*fdp = -1;
	ew_shim_line_init(&why, whybuf, sizeof(whybuf));
	/*
	 * A program the policy allows whatever its arguments: tell. Not
	 * with an unknown cwd: the broker reads that from /proc while the
	 * asker waits, and a told start may be gone by then.
	 */
	told = q->cwd[0] != '\0' &&
	    ew_shim_snap_tells(c, q->resolved, &gen, &tell_sock);
	if (ask(c, q, &ans, &why, &fd, told ? &gen : NULL, tell_sock) != 0) {
		if (c->fail_open) {
			ew_shim_msg_say(c->quiet, "warning", q->file, q->argv,
			    ew_shim_line_str(&why),
			    "; running it anyway (EXECWARD_FAIL=open)");
			r = 0;
		} else {
			ew_shim_msg_say(c->quiet, "denied", q->file, q->argv,
			    ew_shim_line_str(&why), NULL);
			r = -EACCES;
		}
		goto out;
	}
	switch (ans.verdict) {
	case EW_VERDICT_ALLOW:
		/* Kept for ew_shim_done: the broker learns how it went. */
		if (fdp != NULL) {
			*fdp = fd;
			fd = -1;
		}
		r = 0;
		break;
	case EW_VERDICT_ESCALATE:
		r = escalate(c, q, &ans, token);
		break;
	default:
		ew_shim_msg_say(c->quiet, "denied", q->file, q->argv,
		    ans.reason[0] != '\0' ? ans.reason : "denied by policy",
		    NULL);
		r = -EACCES;
		break;
	}
out:
	ew_fd_close(fd);
	errno = saved;
	return r;
}

void
ew_shim_done(int fd, int err)
{
	unsigned char mem[16];
	struct ew_buf b;
	int saved = errno, kept = fd >= 0 && (fd & EW_SHIM_FD_KEPT), ok = 1;

	if (fd < 0)
		return;
	fd &= ~EW_SHIM_FD_KEPT;
	/*
	 * A start that worked needs no word: the exec closed the connection
	 * (close-on-exec), or the close below does. One that failed says
	 * how first; the broker records it. Best effort: nothing here may
	 * fail the caller, whose call has already failed or succeeded.
	 */
	ew_buf_init(&b, mem, sizeof(mem));
	if (err < 0 || err > EW_SHIM_ERRNO_MAX)
		err = EIO; /* failed, by some unknown error */
	if (err != 0 && ew_proto_put_failed(&b, err) == 0)
		ok = ew_proto_send(fd, &b, NULL, 0) == 0;
	if (kept)
		ew_shim_kept_put(fd, ok);
	else
		ew_fd_close(fd);
	errno = saved;
}

/* ew_shim_ask_path, and may a TOLD go on the kept connection (keep)? */
static int
ask_path(uint32_t via, const char *file, const char *path, char *const *argv,
    char *const *envp, char *token, int *fdp, int keep)
{
	char cwd[PATH_MAX], resolved[EW_PROTO_PATH_MAX], procbuf[64];
	struct ew_shim_line proc;
	struct ew_shim_ask q;
	const char *base;

	*fdp = -1;
	/* The kernel would refuse it: nothing to ask, nothing would run. */
	if (ew_shim_args_e2big(path, argv, envp))
		return -E2BIG;
	ew_shim_path_cwd(cwd, sizeof(cwd));
	base = cwd;
	if (cwd[0] == '\0') {
		/* A removed or unreachable cwd: name it through /proc. */
		ew_shim_line_init(&proc, procbuf, sizeof(procbuf));
		ew_shim_line_put(&proc, "/proc/");
		ew_shim_line_put_uint(&proc, (unsigned long long)getpid());
		ew_shim_line_put(&proc, "/cwd");
		base = ew_shim_line_str(&proc);
	}
	memset(&q, 0, sizeof(q));
	q.via = via;
	q.file = file;
	q.cwd = cwd;
	q.argv = argv;
	q.keep = keep;
	if (ew_shim_path_absolute(base, path, resolved, sizeof(resolved)) == 0)
		q.resolved = resolved;
	return ew_shim_gate(&q, token, fdp);
}

int
ew_shim_ask_path(uint32_t via, const char *file, const char *path,
    char *const *argv, char *const *envp, char *token, int *fdp)
{
	return ask_path(via, file, path, argv, envp, token, fdp, 0);
}

/*
 * The PATH search of ew_shim_check, then the ask: in a frame of its own,
 * so that the callers that do not search do not carry its buffer.
 */
static int __attribute__((noinline))
search_and_ask(uint32_t via, const char *file, unsigned flags,
    char *const *argv, char *const *envp, char *token, int *fdp)
{
	char cand[EW_SHIM_CAND_MAX];

	/* libc searches the caller's PATH, whatever envp says. */
	if (ew_path_search(
		file, ew_env_get(environ, "PATH"), cand, sizeof(cand)) == 0)
		return ask_path(via, file, cand, argv, envp, token, fdp,
		    (flags & EW_SHIM_F_KEEP) != 0);
	if (!(flags & EW_SHIM_F_MOVED))
		return EW_SHIM_UNASKED;
	return ask_path(via, file, file, argv, envp, token, fdp,
	    (flags & EW_SHIM_F_KEEP) != 0);
}

int
ew_shim_check(uint32_t via, const char *file, unsigned flags, char *const *argv,
    char *const *envp, char *token, int *fdp)
{
	*fdp = -1;
	/* libc fails these on its own, with its own errno: nothing runs. */
	if (file == NULL || *file == '\0')
		return EW_SHIM_UNASKED;
	if ((flags & EW_SHIM_F_SEARCH) && strchr(file, '/') == NULL)
		return search_and_ask(via, file, flags, argv, envp, token, fdp);
	if (ew_path_probe(AT_FDCWD, file, 0) != 0 && !(flags & EW_SHIM_F_MOVED))
		return EW_SHIM_UNASKED;
	return ask_path(via, file, file, argv, envp, token, fdp,
	    (flags & EW_SHIM_F_KEEP) != 0);
}
