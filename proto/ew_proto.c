/*
 * Message encode/decode and transport. The encoders, ew_proto_send and
 * ew_proto_recv on fixed storage run in the shim's ask path: they must stay
 * async-signal-safe (no malloc, no stdio, syscalls and stack only). The
 * decoders that allocate are for the broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_err.h"
#include "ew_fd.h"
#include "ew_proto.h"

/* Size of the LARGE envelope: header plus u64 length. */
#define EW_PROTO_ENVELOPE (4 + 4 + 8)

static const char *const ew_via_names[EW_VIA_MAX] = {
	[EW_VIA_EXECVE] = "execve",
	[EW_VIA_EXECV] = "execv",
	[EW_VIA_EXECVP] = "execvp",
	[EW_VIA_EXECVPE] = "execvpe",
	[EW_VIA_EXECL] = "execl",
	[EW_VIA_EXECLE] = "execle",
	[EW_VIA_EXECLP] = "execlp",
	[EW_VIA_EXECVEAT] = "execveat",
	[EW_VIA_FEXECVE] = "fexecve",
	[EW_VIA_POSIX_SPAWN] = "posix_spawn",
	[EW_VIA_POSIX_SPAWNP] = "posix_spawnp",
	[EW_VIA_SYSTEM] = "system",
	[EW_VIA_POPEN] = "popen",
	[EW_VIA_RUN] = "run",
	[EW_VIA_KERNEL_EXECVE] = "kernel:execve",
	[EW_VIA_KERNEL_EXECVEAT] = "kernel:execveat",
};

const char *
ew_proto_via_name(uint32_t via)
{
	if (via == 0 || via >= EW_VIA_MAX)
		return NULL;
	return ew_via_names[via];
}

/* Big-endian u32 at p. */
static void
be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/*
 * A header with an optional u32 body, appended in one ew_buf_put so that a
 * full buffer takes none of it (never half a message).
 */
static int
put_small(struct ew_buf *b, uint32_t type, const uint32_t *body)
{
	unsigned char p[12];

	be32(p, EW_PROTO_VERSION);
	be32(p + 4, type);
	if (body == NULL)
		return ew_buf_put(b, p, 8);
	be32(p + 8, *body);
	return ew_buf_put(b, p, 12);
}

/*
 * A small message's body: one u32 from lo to hi and nothing after, into
 * *out (0 when it is not).
 */
static int
get_small(struct ew_buf *b, uint32_t lo, uint32_t hi, int *out)
{
	struct ew_buf tmp = *b;
	uint32_t v;
	int r;

	*out = 0;
	if ((r = ew_buf_get_u32(&tmp, &v)) != 0)
		return r;
	if (ew_buf_len(&tmp) != 0)
		return -EW_E_TRAILING;
	if (v < lo || v > hi)
		return -EW_E_INVALID;
	*b = tmp;
	*out = (int)v;
	return 0;
}

int
ew_proto_put_header(struct ew_buf *b, uint32_t type)
{
	return put_small(b, type, NULL);
}

int
ew_proto_get_header(struct ew_buf *b, uint32_t *typep)
{
	struct ew_buf tmp = *b;
	uint32_t version, type;
	int r;

	*typep = 0;
	if ((r = ew_buf_get_u32(&tmp, &version)) != 0 ||
	    (r = ew_buf_get_u32(&tmp, &type)) != 0)
		return r;
	if (version != EW_PROTO_VERSION)
		return -EW_E_VERSION;
	if (type < EW_MSG_ASK || type > EW_MSG_TYPE_MAX)
		return -EW_E_TYPE;
	*b = tmp;
	*typep = type;
	return 0;
}

/* Add 4 + n to *total, failing on the overall cap. */
static int
add_field(size_t *total, size_t n)
{
	if (n > EW_PROTO_MSG_MAX || *total > EW_PROTO_MSG_MAX - 4 - n)
		return -EW_E_LIMIT;
	*total += 4 + n;
	return 0;
}

/* strnlen against a cap: -EW_E_LIMIT when s is cap bytes or longer. */
static int
bounded_len(const char *s, size_t cap, size_t *lenp)
{
	*lenp = s == NULL ? 0 : strnlen(s, cap);
	return *lenp >= cap ? -EW_E_LIMIT : 0;
}

/* Count a NULL-terminated vector against the caps and add it to *total. */
static int
vec_size(char *const *v, size_t maxc, size_t *total, size_t *countp)
{
	size_t n, len, bytes = 0;
	int r;

	*countp = 0;
	if ((r = add_field(total, 0)) != 0) /* the count */
		return r;
	for (n = 0; v != NULL && v[n] != NULL; n++) {
		if (n >= maxc)
			return -EW_E_LIMIT;
		if ((r = bounded_len(v[n], EW_PROTO_STRING_MAX + 1, &len)) != 0)
			return r;
		bytes += len;
		if (bytes > EW_PROTO_ARG_BYTES_MAX)
			return -EW_E_LIMIT;
		if ((r = add_field(total, len)) != 0)
			return r;
	}
	*countp = n;
	return 0;
}

int
ew_proto_ask_size(const struct ew_ask *a, size_t *sizep)
{
	size_t total = 8 + 12, len, argc;
	int r;

	*sizep = 0;
	if ((r = bounded_len(a->cwd, EW_PROTO_PATH_MAX, &len)) != 0 ||
	    (r = add_field(&total, len)) != 0 ||
	    (r = bounded_len(a->file, EW_PROTO_PATH_MAX, &len)) != 0 ||
	    (r = add_field(&total, len)) != 0 ||
	    (r = bounded_len(a->resolved, EW_PROTO_PATH_MAX, &len)) != 0 ||
	    (r = add_field(&total, len)) != 0 ||
	    (r = vec_size(a->argv, EW_PROTO_ARGC_MAX, &total, &argc)) != 0)
		return r;
	*sizep = total;
	return 0;
}

static int
put_vec(struct ew_buf *b, char *const *v, size_t n)
{
	size_t i;
	int r;

	if ((r = ew_buf_put_u32(b, (uint32_t)n)) != 0)
		return r;
	for (i = 0; i < n; i++)
		if ((r = ew_buf_put_cstring(b, v[i])) != 0)
			return r;
	return 0;
}

/* An ASK, or a TOLD (its generation first); the size is ASK's plus 8. */
static int
put_question(
    struct ew_buf *b, uint32_t type, const struct ew_ask *a, uint64_t gen)
{
	size_t size, argc, dummy = 0;
	int r;

	/* Sizing first enforces every cap before a byte is written. */
	if ((r = ew_proto_ask_size(a, &size)) != 0 ||
	    (r = vec_size(a->argv, EW_PROTO_ARGC_MAX, &dummy, &argc)) != 0)
		return r;
	if (type == EW_MSG_TOLD)
		size += EW_PROTO_TOLD_EXTRA;
	if (size > ew_buf_avail(b))
		return -EW_E_LIMIT;
	if ((r = ew_proto_put_header(b, type)) != 0 ||
	    (type == EW_MSG_TOLD && (r = ew_buf_put_u64(b, gen)) != 0) ||
	    (r = ew_buf_put_u32(b, a->via)) != 0 ||
	    (r = ew_buf_put_u32(b, (uint32_t)a->pid)) != 0 ||
	    (r = ew_buf_put_u32(b, (uint32_t)a->ppid)) != 0 ||
	    (r = ew_buf_put_cstring(b, a->cwd)) != 0 ||
	    (r = ew_buf_put_cstring(b, a->file)) != 0 ||
	    (r = ew_buf_put_cstring(b, a->resolved)) != 0 ||
	    (r = put_vec(b, a->argv, argc)) != 0)
		return r;
	return 0;
}

int
ew_proto_put_ask(struct ew_buf *b, const struct ew_ask *a)
{
	return put_question(b, EW_MSG_ASK, a, 0);
}

int
ew_proto_put_told(struct ew_buf *b, const struct ew_ask *a, uint64_t gen)
{
	return put_question(b, EW_MSG_TOLD, a, gen);
}

/*
 * Check a vector of C strings on the wire (count, then strings) against the
 * caps without consuming; *countp and *bytesp get its count and byte total.
 */
static int
check_vec(struct ew_buf *b, size_t maxc, size_t *countp, size_t *bytesp)
{
	const unsigned char *v;
	uint32_t n, i;
	size_t len, bytes = 0;
	int r;

	*countp = 0;
	*bytesp = 0;
	if ((r = ew_buf_get_u32(b, &n)) != 0)
		return r;
	if (n > maxc)
		return -EW_E_LIMIT;
	/* Each string needs at least its 4-byte length: a cheap early cut. */
	if ((size_t)n > ew_buf_len(b) / 4)
		return -EW_E_TRUNCATED;
	for (i = 0; i < n; i++) {
		if ((r = ew_buf_get_string_direct(b, &v, &len)) != 0)
			return r;
		if (len > EW_PROTO_STRING_MAX)
			return -EW_E_LIMIT;
		if (len > 0 && memchr(v, '\0', len) != NULL)
			return -EW_E_NUL;
		bytes += len;
		if (bytes > EW_PROTO_ARG_BYTES_MAX)
			return -EW_E_LIMIT;
	}
	*countp = n;
	*bytesp = bytes;
	return 0;
}

/* Copy the next string into *pp (NUL-terminated) and advance *pp. */
static char *
copy_string(struct ew_buf *b, char **pp)
{
	const unsigned char *v;
	size_t len;
	char *s = *pp;

	/* Already validated by the first pass; cannot fail here. */
	(void)ew_buf_get_string_direct(b, &v, &len);
	if (len > 0)
		memcpy(s, v, len);
	s[len] = '\0';
	*pp = s + len + 1;
	return s;
}

/*
 * Check a path-like C string: no NUL, shorter than EW_PROTO_PATH_MAX. *vp
 * borrows its bytes.
 */
static int
check_path(struct ew_buf *b, const unsigned char **vp, size_t *lenp)
{
	int r;

	if ((r = ew_buf_get_string_direct(b, vp, lenp)) != 0)
		return r;
	if (*lenp >= EW_PROTO_PATH_MAX)
		return -EW_E_LIMIT;
	if (*lenp > 0 && memchr(*vp, '\0', *lenp) != NULL)
		return -EW_E_NUL;
	return 0;
}

int
ew_proto_get_ask(struct ew_buf *b, struct ew_msg_ask **out)
{
	struct ew_buf tmp = *b;
	struct ew_msg_ask *m = NULL;
	uint32_t via, pid, ppid;
	size_t lc, lf, lr, argc, bytes, need, i;
	const unsigned char *v, *resolved;
	char *p;
	int r;

	*out = NULL;
	if ((r = ew_buf_get_u32(&tmp, &via)) != 0 ||
	    (r = ew_buf_get_u32(&tmp, &pid)) != 0 ||
	    (r = ew_buf_get_u32(&tmp, &ppid)) != 0 ||
	    (r = check_path(&tmp, &v, &lc)) != 0 ||
	    (r = check_path(&tmp, &v, &lf)) != 0 ||
	    (r = check_path(&tmp, &resolved, &lr)) != 0 ||
	    (r = check_vec(&tmp, EW_PROTO_ARGC_MAX, &argc, &bytes)) != 0)
		return r;
	if (ew_buf_len(&tmp) != 0)
		return -EW_E_TRAILING;
	/* What the kernel saw, only the broker says. */
	if (ew_proto_via_name(via) == NULL || via == EW_VIA_KERNEL_EXECVE ||
	    via == EW_VIA_KERNEL_EXECVEAT || (int32_t)pid <= 0 ||
	    (int32_t)ppid < 0 || lr == 0 || resolved[0] != '/')
		return -EW_E_INVALID;

	/* One block: the struct, the argv pointers, then every string. */
	need = sizeof(*m) + (argc + 1) * sizeof(char *) + lc + lf + lr + 3 +
	    bytes + argc;
	if ((m = calloc(1, need)) == NULL)
		return -EW_E_NOMEM;
	m->via = via;
	m->pid = (pid_t)pid;
	m->ppid = (pid_t)ppid;
	m->argc = argc;
	m->arg_bytes = bytes;
	m->argv = (char **)(m + 1);
	p = (char *)(m->argv + argc + 1);
	tmp = *b;
	(void)ew_buf_consume(&tmp, 12);
	m->cwd = copy_string(&tmp, &p);
	m->file = copy_string(&tmp, &p);
	m->resolved = copy_string(&tmp, &p);
	(void)ew_buf_consume(&tmp, 4);
	for (i = 0; i < argc; i++)
		m->argv[i] = copy_string(&tmp, &p);
	m->argv[argc] = NULL;
	*b = tmp;
	*out = m;
	return 0;
}

int
ew_proto_get_told(struct ew_buf *b, struct ew_msg_ask **out, uint64_t *genp)
{
	struct ew_buf tmp = *b;
	int r;

	*out = NULL;
	if ((r = ew_buf_get_u64(&tmp, genp)) != 0 ||
	    (r = ew_proto_get_ask(&tmp, out)) != 0)
		return r;
	*b = tmp;
	return 0;
}

void
ew_msg_ask_free(struct ew_msg_ask *m)
{
	free(m);
}

int
ew_proto_put_answer(
    struct ew_buf *b, uint32_t verdict, const char *reason, const char *token)
{
	size_t lr, lt;
	int r;

	if ((r = bounded_len(reason, EW_PROTO_REASON_MAX + 1, &lr)) != 0 ||
	    (r = bounded_len(token, EW_PROTO_TOKEN_MAX + 1, &lt)) != 0)
		return r;
	/* Send nothing that ew_proto_get_answer would refuse. */
	if (verdict < EW_VERDICT_ALLOW || verdict > EW_VERDICT_ESCALATE ||
	    (verdict == EW_VERDICT_ESCALATE && lt == 0))
		return -EW_E_INVALID;
	if (8 + 4 + 8 + lr + lt > ew_buf_avail(b))
		return -EW_E_LIMIT;
	if ((r = ew_proto_put_header(b, EW_MSG_ANSWER)) != 0 ||
	    (r = ew_buf_put_u32(b, verdict)) != 0 ||
	    (r = ew_buf_put_string(b, reason, lr)) != 0 ||
	    (r = ew_buf_put_string(b, token, lt)) != 0)
		return r;
	return 0;
}

int
ew_proto_get_answer(struct ew_buf *b, struct ew_msg_answer *a)
{
	struct ew_buf tmp = *b;
	uint32_t verdict;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = ew_buf_get_u32(&tmp, &verdict)) != 0 ||
	    (r = ew_buf_get_cstring(
		 &tmp, a->reason, sizeof(a->reason), NULL)) != 0 ||
	    (r = ew_buf_get_cstring(&tmp, a->token, sizeof(a->token), NULL)) !=
		0)
		goto fail;
	r = -EW_E_TRAILING;
	if (ew_buf_len(&tmp) != 0)
		goto fail;
	r = -EW_E_INVALID;
	if (verdict < EW_VERDICT_ALLOW || verdict > EW_VERDICT_ESCALATE)
		goto fail;
	if (verdict == EW_VERDICT_ESCALATE && a->token[0] == '\0')
		goto fail;
	a->verdict = verdict;
	*b = tmp;
	return 0;
fail:
	memset(a, 0, sizeof(*a));
	return r;
}

int
ew_proto_put_heartbeat(struct ew_buf *b)
{
	return ew_proto_put_header(b, EW_MSG_HEARTBEAT);
}

int
ew_proto_put_escalate(struct ew_buf *b, const char *token, char *const *envp)
{
	size_t total = 8, lt, envc;
	int r;

	if ((r = bounded_len(token, EW_PROTO_TOKEN_MAX + 1, &lt)) != 0 ||
	    (r = add_field(&total, lt)) != 0 ||
	    (r = vec_size(envp, EW_PROTO_ENVC_MAX, &total, &envc)) != 0)
		return r;
	if (lt == 0)
		return -EW_E_INVALID;
	if (total > ew_buf_avail(b))
		return -EW_E_LIMIT;
	if ((r = ew_proto_put_header(b, EW_MSG_ESCALATE)) != 0 ||
	    (r = ew_buf_put_string(b, token, lt)) != 0 ||
	    (r = put_vec(b, envp, envc)) != 0)
		return r;
	return 0;
}

int
ew_proto_get_escalate(struct ew_buf *b, struct ew_msg_escalate **out)
{
	struct ew_buf tmp = *b;
	struct ew_msg_escalate *m = NULL;
	char token[EW_PROTO_TOKEN_MAX + 1];
	size_t lt, envc, bytes, i;
	char *p;
	int r;

	*out = NULL;
	if ((r = ew_buf_get_cstring(&tmp, token, sizeof(token), &lt)) != 0 ||
	    (r = check_vec(&tmp, EW_PROTO_ENVC_MAX, &envc, &bytes)) != 0)
		return r;
	if (ew_buf_len(&tmp) != 0)
		return -EW_E_TRAILING;
	if (lt == 0)
		return -EW_E_INVALID;
	m = calloc(1, sizeof(*m) + (envc + 1) * sizeof(char *) + bytes + envc);
	if (m == NULL)
		return -EW_E_NOMEM;
	memcpy(m->token, token, lt + 1);
	m->envc = envc;
	m->envp = (char **)(m + 1);
	p = (char *)(m->envp + envc + 1);
	tmp = *b;
	(void)ew_buf_get_string_direct(&tmp, NULL, NULL);
	(void)ew_buf_consume(&tmp, 4);
	for (i = 0; i < envc; i++)
		m->envp[i] = copy_string(&tmp, &p);
	m->envp[envc] = NULL;
	*b = tmp;
	*out = m;
	return 0;
}

void
ew_msg_escalate_free(struct ew_msg_escalate *m)
{
	size_t i;

	if (m == NULL)
		return;
	/* The environment may hold secrets, and the token is a credential. */
	for (i = 0; i < m->envc; i++)
		explicit_bzero(m->envp[i], strlen(m->envp[i]));
	explicit_bzero(m->token, sizeof(m->token));
	free(m);
}

/* The largest signal number a SIGNAL may carry (Linux's SIGRTMAX). */
#define EW_PROTO_SIGNAL_MAX 64

/* Largest errno a FAILED may carry (Linux's are below 4096). */
#define EW_PROTO_ERRNO_MAX 4095

int
ew_proto_put_failed(struct ew_buf *b, int err)
{
	uint32_t v = (uint32_t)err;

	if (err < 1 || err > EW_PROTO_ERRNO_MAX)
		return -EW_E_INVALID;
	return put_small(b, EW_MSG_FAILED, &v);
}

int
ew_proto_get_failed(struct ew_buf *b, int *errp)
{
	return get_small(b, 1, EW_PROTO_ERRNO_MAX, errp);
}

int
ew_proto_put_confine(struct ew_buf *b, const struct ew_confine *c)
{
	size_t total = 8 + 4, lp, ls, argc;
	int r;

	if ((r = bounded_len(c->path, EW_PROTO_PATH_MAX, &lp)) != 0 ||
	    (r = add_field(&total, lp)) != 0 ||
	    (r = vec_size(c->argv, EW_PROTO_ARGC_MAX, &total, &argc)) != 0 ||
	    (r = bounded_len(c->socket, EW_PROTO_PATH_MAX, &ls)) != 0 ||
	    (r = add_field(&total, ls)) != 0 ||
	    (r = add_field(&total, c->bpf_len)) != 0)
		return r;
	if (lp == 0 || c->path[0] != '/' || ls == 0 || c->bpf_len % 8 != 0 ||
	    c->bpf_len > EW_PROTO_BPF_MAX)
		return -EW_E_INVALID;
	if (total > ew_buf_avail(b))
		return -EW_E_LIMIT;
	if ((r = ew_proto_put_header(b, EW_MSG_CONFINE)) != 0 ||
	    (r = ew_buf_put_cstring(b, c->path)) != 0 ||
	    (r = put_vec(b, c->argv, argc)) != 0 ||
	    (r = ew_buf_put_cstring(b, c->socket)) != 0 ||
	    (r = ew_buf_put_u32(b, c->flags)) != 0 ||
	    (r = ew_buf_put_string(b, c->bpf, c->bpf_len)) != 0)
		return r;
	return 0;
}

int
ew_proto_get_confine(struct ew_buf *b, struct ew_msg_confine **out)
{
	struct ew_buf tmp = *b;
	struct ew_msg_confine *m = NULL;
	const unsigned char *path, *v, *bpf;
	size_t lp, ls, lb, argc, bytes, i, need;
	uint32_t flags;
	char *p;
	int r;

	*out = NULL;
	if ((r = check_path(&tmp, &path, &lp)) != 0 ||
	    (r = check_vec(&tmp, EW_PROTO_ARGC_MAX, &argc, &bytes)) != 0 ||
	    (r = check_path(&tmp, &v, &ls)) != 0 ||
	    (r = ew_buf_get_u32(&tmp, &flags)) != 0 ||
	    (r = ew_buf_get_string_direct(&tmp, &bpf, &lb)) != 0)
		return r;
	if (ew_buf_len(&tmp) != 0)
		return -EW_E_TRAILING;
	if (lp == 0 || path[0] != '/' || ls == 0 || lb % 8 != 0 ||
	    lb > EW_PROTO_BPF_MAX)
		return -EW_E_INVALID;
	/* The BPF first, where malloc's alignment holds for it. */
	need = sizeof(*m) + lb + (argc + 1) * sizeof(char *) + lp + ls + 2 +
	    bytes + argc;
	if ((m = calloc(1, need)) == NULL)
		return -EW_E_NOMEM;
	m->bpf = m + 1;
	m->bpf_len = lb;
	if (lb > 0)
		memcpy(m->bpf, bpf, lb);
	m->argv = (char **)((char *)m->bpf + lb);
	p = (char *)(m->argv + argc + 1);
	m->argc = argc;
	m->flags = flags;
	tmp = *b;
	m->path = copy_string(&tmp, &p);
	(void)ew_buf_consume(&tmp, 4);
	for (i = 0; i < argc; i++)
		m->argv[i] = copy_string(&tmp, &p);
	m->argv[argc] = NULL;
	m->socket = copy_string(&tmp, &p);
	(void)ew_buf_consume(&tmp, 4);
	(void)ew_buf_get_string_direct(&tmp, NULL, NULL);
	*b = tmp;
	*out = m;
	return 0;
}

void
ew_msg_confine_free(struct ew_msg_confine *m)
{
	free(m);
}

int
ew_proto_put_signal(struct ew_buf *b, int signo)
{
	uint32_t v = (uint32_t)signo;

	if (signo < 1 || signo > EW_PROTO_SIGNAL_MAX)
		return -EW_E_INVALID;
	return put_small(b, EW_MSG_SIGNAL, &v);
}

int
ew_proto_get_signal(struct ew_buf *b, int *signop)
{
	return get_small(b, 1, EW_PROTO_SIGNAL_MAX, signop);
}

int
ew_proto_put_exit(struct ew_buf *b, int status)
{
	uint32_t v = (uint32_t)status;

	return put_small(b, EW_MSG_EXIT, &v);
}

int
ew_proto_get_exit(struct ew_buf *b, int *statusp)
{
	/* A wait status, as the broker's waitpid gave it: any value. */
	return get_small(b, 0, UINT32_MAX, statusp);
}

/* Write all of data to fd at offset 0 onwards. */
static int
write_all(int fd, const unsigned char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ew_proto_send(int sock, const struct ew_buf *msg, const int *fds, size_t nfds)
{
	unsigned char env[EW_PROTO_ENVELOPE];
	int allfds[EW_FD_PASS_MAX];
	struct ew_buf eb;
	size_t len = ew_buf_len(msg);
	int mfd = -1, r;

	if (len <= EW_PROTO_RECORD_MAX)
		return ew_fd_send(sock, ew_buf_ptr(msg), len, fds, nfds);
	if (len > EW_PROTO_MSG_MAX || nfds + 1 > EW_FD_PASS_MAX)
		return -EW_E_LIMIT;
	/*
	 * Too big for one record: write it to a memfd, seal it so the reader
	 * sees exactly these bytes, and send the memfd in an envelope.
	 */
	mfd = memfd_create("execward-msg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	if ((r = write_all(mfd, ew_buf_ptr(msg), len)) != 0)
		goto out;
	if (fcntl(mfd, F_ADD_SEALS,
		F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		r = -errno;
		goto out;
	}
	ew_buf_init(&eb, env, sizeof(env));
	if ((r = ew_proto_put_header(&eb, EW_MSG_LARGE)) != 0 ||
	    (r = ew_buf_put_u64(&eb, len)) != 0)
		goto out;
	allfds[0] = mfd;
	if (nfds > 0)
		memcpy(allfds + 1, fds, nfds * sizeof(int));
	r = ew_fd_send(sock, env, sizeof(env), allfds, nfds + 1);
out:
	ew_fd_close(mfd);
	return r;
}

/* Read a sealed memfd of exactly len bytes into b. */
static int
read_memfd(int mfd, size_t len, struct ew_buf *b)
{
	struct stat st;
	unsigned char *p;
	size_t got = 0;
	ssize_t n;
	int seals, r;

	if (fstat(mfd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (size_t)st.st_size != len)
		return -EW_E_INVALID;
	seals = fcntl(mfd, F_GET_SEALS);
	if (seals < 0 ||
	    (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) !=
		(F_SEAL_WRITE | F_SEAL_SHRINK))
		return -EW_E_INVALID;
	if ((r = ew_buf_reserve(b, len, &p)) != 0)
		return r;
	while (got < len) {
		n = pread(mfd, p + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			b->size -= len;
			return n < 0 ? -errno : -EW_E_TRUNCATED;
		}
		got += (size_t)n;
	}
	return 0;
}

int
ew_proto_recv(
    int sock, struct ew_buf *b, int *fds, size_t maxfds, size_t *nfdsp)
{
	int rfds[EW_FD_PASS_MAX];
	size_t rn = 0, room, len, first = 0, i;
	unsigned char *p;
	struct ew_buf eb;
	uint32_t type;
	uint64_t big;
	int r;

	if (nfdsp != NULL)
		*nfdsp = 0;
	room = ew_buf_avail(b);
	if (room > EW_PROTO_RECORD_MAX)
		room = EW_PROTO_RECORD_MAX;
	if (room < EW_PROTO_ENVELOPE)
		room = EW_PROTO_ENVELOPE < ew_buf_avail(b) ? EW_PROTO_ENVELOPE
							   : ew_buf_avail(b);
	if ((r = ew_buf_reserve(b, room, &p)) != 0)
		return r;
	r = ew_fd_recv(sock, p, room, &len, rfds, EW_FD_PASS_MAX, &rn);
	b->size -= room - (r == 0 ? len : 0);
	if (r != 0)
		return r;

	ew_buf_init_ro(&eb, p, len);
	if (ew_proto_get_header(&eb, &type) == 0 && type == EW_MSG_LARGE) {
		r = -EW_E_INVALID;
		if (ew_buf_get_u64(&eb, &big) != 0 || ew_buf_len(&eb) != 0 ||
		    rn < 1)
			goto fail;
		r = -EW_E_LIMIT;
		if (big <= EW_PROTO_RECORD_MAX || big > EW_PROTO_MSG_MAX)
			goto fail;
		b->size -= len; /* drop the envelope */
		if ((r = read_memfd(rfds[0], (size_t)big, b)) != 0)
			goto fail;
		rfds[0] = ew_fd_close(rfds[0]);
		first = 1;
	}
	r = -EW_E_CMSG;
	if (rn - first > maxfds || (rn - first > 0 && fds == NULL))
		goto fail;
	for (i = first; i < rn; i++)
		fds[i - first] = rfds[i];
	if (nfdsp != NULL)
		*nfdsp = rn - first;
	return 0;
fail:
	ew_fd_close_all(rfds, rn);
	ew_buf_reset(b);
	return r;
}
