/* execward error texts: static, async-signal-safe, no locale. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include "ew_err.h"

static const char *const ew_texts[] = {
	[EW_E_TRUNCATED - EW_E_BASE] = "message truncated",
	[EW_E_LIMIT - EW_E_BASE] = "size limit exceeded",
	[EW_E_NUL - EW_E_BASE] = "string contains a NUL byte",
	[EW_E_INVALID - EW_E_BASE] = "invalid field value",
	[EW_E_VERSION - EW_E_BASE] = "protocol version mismatch",
	[EW_E_TYPE - EW_E_BASE] = "unexpected message type",
	[EW_E_TRAILING - EW_E_BASE] = "trailing bytes after message",
	[EW_E_CMSG - EW_E_BASE] = "bad control message",
	[EW_E_READONLY - EW_E_BASE] = "buffer is read-only",
	[EW_E_NOMEM - EW_E_BASE] = "out of memory",
	[EW_E_CLOSED - EW_E_BASE] = "connection closed by peer",
	[EW_E_TIMEOUT - EW_E_BASE] = "timed out",
};

/*
 * strerror() may consult the locale and is not async-signal-safe, so the
 * errno values that the shim and the broker can meet get their own texts.
 */
static const struct {
	int e;
	const char *s;
} ew_errnos[] = {
	{ EPERM, "Operation not permitted" },
	{ ENOENT, "No such file or directory" },
	{ EINTR, "Interrupted system call" },
	{ EIO, "Input/output error" },
	{ E2BIG, "Argument list too long" },
	{ EBADF, "Bad file descriptor" },
	{ EAGAIN, "Resource temporarily unavailable" },
	{ ENOMEM, "Cannot allocate memory" },
	{ EACCES, "Permission denied" },
	{ EFAULT, "Bad address" },
	{ ENOTDIR, "Not a directory" },
	{ EINVAL, "Invalid argument" },
	{ EMFILE, "Too many open files" },
	{ ENFILE, "Too many open files in system" },
	{ ENOSPC, "No space left on device" },
	{ EPIPE, "Broken pipe" },
	{ ENAMETOOLONG, "File name too long" },
	{ ENOSYS, "Function not implemented" },
	{ EMSGSIZE, "Message too long" },
	{ ENOTSOCK, "Socket operation on non-socket" },
	{ ECONNREFUSED, "Connection refused" },
	{ ECONNRESET, "Connection reset by peer" },
	{ ETIMEDOUT, "Connection timed out" },
	{ ENOBUFS, "No buffer space available" },
	{ EPROTO, "Protocol error" },
};

const char *
ew_err_str(int r)
{
	size_t i;

	/* -INT_MIN overflows; no code is that large anyway. */
	if (r == INT_MIN)
		return "unknown error";
	if (r < 0)
		r = -r;
	if (r > EW_E_BASE && r < EW_E_MAX)
		return ew_texts[r - EW_E_BASE];
	for (i = 0; i < sizeof(ew_errnos) / sizeof(ew_errnos[0]); i++)
		if (ew_errnos[i].e == r)
			return ew_errnos[i].s;
	return "unknown error";
}
