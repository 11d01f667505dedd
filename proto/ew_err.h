/* execward error codes shared by every module. */
#ifndef EW_ERR_H
#define EW_ERR_H

/*
 * Functions outside libc's own contracts return 0 on success and a negative
 * number on failure: either -EW_E_* below or -errno. The EW_E_* values sit
 * above every errno value so the two never collide.
 */
enum ew_err {
	EW_E_BASE = 10000,
	EW_E_TRUNCATED, /* input ends before the field does */
	EW_E_LIMIT, /* a size or count exceeds its cap */
	EW_E_NUL, /* a C string holds an embedded NUL */
	EW_E_INVALID, /* a field has a value outside its domain */
	EW_E_VERSION, /* protocol version mismatch */
	EW_E_TYPE, /* unexpected message type */
	EW_E_TRAILING, /* bytes left over after a complete message */
	EW_E_CMSG, /* bad or unexpected control message */
	EW_E_READONLY, /* write to a read-only buffer */
	EW_E_NOMEM, /* allocation failed or fixed storage is full */
	EW_E_CLOSED, /* the peer closed the connection */
	EW_E_TIMEOUT, /* no answer within the time allowed */
	EW_E_MAX
};

/*
 * Describe r (a -EW_E_* or -errno value). Returns a static string; safe in
 * async-signal context (no locale, no allocation). Unknown codes give
 * "unknown error".
 */
const char *ew_err_str(int r);

#endif /* EW_ERR_H */
