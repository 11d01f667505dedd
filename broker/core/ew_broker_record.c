/*
 * What the audit says beyond a decision: the working directory when the
 * shim could not know it, and an allowed start that then did not happen.
 *
 * The allowed records must match the programs the kernel started, one for
 * one. After an ALLOW the shim keeps its connection through the real call
 * (proto/ew_proto.h, FAILED): an exec that works closes it (it is
 * close-on-exec), a spawn that works closes it right after, and a call
 * that fails first sends FAILED with its errno. So the broker keeps the
 * client a while after answering (ANSWERED, ew_broker_loop.c), and a
 * FAILED becomes a "failed" record naming the allow record it follows.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ew_broker.h"
#include "ew_err.h"
#include "ew_log.h"

const char *
ew_broker_record_cwd(const struct ew_client *c, char *buf, size_t buflen,
    char *why, size_t whylen, const char **whyp)
{
	char proc[64];
	/* A trapped start's peer_pid is its task (broker/backstop/). */
	pid_t pid = c->role != EW_CLIENT_LOCAL ? c->peer_pid : getpid();
	ssize_t n;

	*whyp = NULL;
	if (c->ask->cwd[0] != '\0')
		return c->ask->cwd;
	if (c->told) {
		/* Nobody waits: the pid may be gone, or another's by now. */
		snprintf(why, whylen,
		    "not sent, and a told start's /proc "
		    "cannot be trusted to be its own");
		*whyp = why;
		return "";
	}
	/*
	 * The shim sends "" when getcwd fails: a removed directory (the
	 * kernel then says "... (deleted)" here, which is the marker), one
	 * outside its root, or one past PATH_MAX (too long here too). The
	 * pid is the kernel's (SO_PEERCRED), and the asker is waiting for
	 * our answer, so it is still the process that asked.
	 */
	snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)pid);
	n = readlink(proc, buf, buflen - 1);
	if (n > 0 && (size_t)n < buflen - 1) {
		buf[n] = '\0';
		return buf;
	}
	snprintf(why, whylen, "readlink %s: %s%s", proc,
	    n < 0 ? strerror(errno) : "too long",
	    n < 0 && errno == ENAMETOOLONG
		? " (the working directory is longer than PATH_MAX)"
		: "");
	*whyp = why;
	return "";
}

void
ew_broker_record_failed(struct ew_client *c, int err)
{
	struct ew_broker *br = c->sess->br;
	struct ew_audit_failed f;
	char cwd[PATH_MAX], why[256];
	const char *whyp;
	int r;

	ew_chain_failed(c, err);
	if (br->audit == NULL || c->ask == NULL)
		return;
	memset(&f, 0, sizeof(f));
	f.session = c->sess->id;
	f.pid = c->role != EW_CLIENT_LOCAL ? c->peer_pid : c->ask->pid;
	f.uid = c->peer_uid;
	f.cwd =
	    ew_broker_record_cwd(c, cwd, sizeof(cwd), why, sizeof(why), &whyp);
	f.via = ew_proto_via_name(c->ask->via);
	f.file = c->ask->resolved;
	f.called = c->ask->file;
	f.argv = c->ask->argv;
	f.argc = c->ask->argc;
	f.of = c->audit_seq;
	f.err = err;
	if ((r = ew_audit_write_failed(br->audit, &f)) != 0)
		ew_log(EW_LOG_ERROR,
		    "audit log %s: %s: the failed start of pid %d (seq %llu) "
		    "is not recorded",
		    ew_audit_path(br->audit), strerror(-r), (int)f.pid,
		    (unsigned long long)f.of);
}
