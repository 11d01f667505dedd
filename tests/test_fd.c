/* Tests for proto/ew_fd.c: close, flags, stdio safety, SCM_RIGHTS. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ew_err.h"
#include "ew_fd.h"
#include "ew_sock.h"

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int
cloexec_of(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	cr_assert_geq(fl, 0);
	return (fl & FD_CLOEXEC) != 0;
}

static int
nonblock_of(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	cr_assert_geq(fl, 0);
	return (fl & O_NONBLOCK) != 0;
}

/* A descriptor number that is certainly not open. */
static int
closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	close(fd);
	return fd;
}

Test(fd, close_returns_minus_one_and_keeps_errno)
{
	int fd, bad;

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	bad = closed_fd();
	errno = EDOM;
	fd = ew_fd_close(fd);
	cr_assert_eq(fd, -1);
	cr_assert_eq(errno, EDOM);
	/* Closing -1 is a no-op. */
	errno = ERANGE;
	cr_assert_eq(ew_fd_close(-1), -1);
	cr_assert_eq(errno, ERANGE);
	/* A failing close(2) (EBADF) does not leak into errno either. */
	errno = EILSEQ;
	cr_assert_eq(ew_fd_close(bad), -1);
	cr_assert_eq(errno, EILSEQ);
}

Test(fd, close_closes)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), n;

	cr_assert_geq(fd, 0);
	n = fd;
	cr_assert(is_open(n));
	fd = ew_fd_close(fd);
	cr_assert(!is_open(n));
}

Test(fd, close_all)
{
	int fds[4], before = count_fds();
	size_t i;

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(fds + 2, O_CLOEXEC), 0);
	fds[1] = ew_fd_close(fds[1]); /* -1 entries are skipped */
	ew_fd_close_all(fds, 4);
	for (i = 0; i < 4; i++)
		cr_assert_eq(fds[i], -1);
	cr_assert_eq(count_fds(), before);
	ew_fd_close_all(NULL, 0);
}

Test(fd, cloexec_set_and_clear)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert(!cloexec_of(p[0]));
	cr_assert_eq(ew_fd_cloexec(p[0], 1), 0);
	cr_assert(cloexec_of(p[0]));
	cr_assert_eq(ew_fd_cloexec(p[0], 1), 0);
	cr_assert(cloexec_of(p[0]));
	cr_assert_eq(ew_fd_cloexec(p[0], 0), 0);
	cr_assert(!cloexec_of(p[0]));
	cr_assert_eq(ew_fd_cloexec(p[0], 0), 0);
	cr_assert(!cloexec_of(p[0]));
	/* The other end is a separate descriptor. */
	cr_assert(!cloexec_of(p[1]));
	cr_assert_eq(ew_fd_cloexec(closed_fd(), 1), -EBADF);
	cr_assert_eq(ew_fd_cloexec(-1, 0), -EBADF);
	close(p[0]);
	close(p[1]);
}

Test(fd, nonblock_set_and_clear)
{
	int p[2];
	char c;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert(!nonblock_of(p[0]));
	cr_assert_eq(ew_fd_nonblock(p[0], 1), 0);
	cr_assert(nonblock_of(p[0]));
	/* It really does not block now. */
	cr_assert_eq(read(p[0], &c, 1), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(ew_fd_nonblock(p[0], 1), 0);
	cr_assert_eq(ew_fd_nonblock(p[0], 0), 0);
	cr_assert(!nonblock_of(p[0]));
	/* Other status flags are kept. */
	cr_assert(cloexec_of(p[0]));
	cr_assert_eq(ew_fd_nonblock(closed_fd(), 1), -EBADF);
	close(p[0]);
	close(p[1]);
}

Test(fd, move_above_stdio_leaves_high_fds)
{
	int fd = open("/dev/null", O_RDONLY), n;

	cr_assert_geq(fd, 3);
	n = ew_fd_move_above_stdio(fd);
	cr_assert_eq(n, fd);
	cr_assert(!cloexec_of(n), "an fd above stdio is left as it is");
	close(fd);
	cr_assert_eq(ew_fd_move_above_stdio(-1), -EBADF);
	cr_assert_eq(ew_fd_move_above_stdio(-42), -EBADF);
}

/*
 * In a child with 0, 1 and 2 closed, new fds land on stdio numbers; each is
 * moved above, CLOEXEC, and its old number closed. The child reports the
 * first failed step as its exit status.
 */
static int
stdio_child(void)
{
	int p[2], q, n, k;
	char c;

	for (k = 0; k < 3; k++)
		close(k);
	if (pipe(p) != 0 || p[0] != 0 || p[1] != 1)
		return 10;
	q = open("/dev/null", O_RDONLY);
	if (q != 2)
		return 11;
	for (k = 0; k < 3; k++) {
		n = ew_fd_move_above_stdio(k);
		if (n < 3)
			return 20 + k;
		if (!(fcntl(n, F_GETFD) & FD_CLOEXEC))
			return 30 + k;
		if (fcntl(k, F_GETFD) >= 0)
			return 40 + k;
		if (k == 0)
			p[0] = n;
		else if (k == 1)
			p[1] = n;
	}
	/* The moved pipe still works end to end. */
	if (write(p[1], "z", 1) != 1 || read(p[0], &c, 1) != 1 || c != 'z')
		return 50;
	/* A fresh fd now takes the lowest free number again: 0. */
	if (open("/dev/null", O_RDONLY) != 0)
		return 51;
	return 0;
}

Test(fd, move_above_stdio_in_child)
{
	pid_t pid;
	int st;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(stdio_child());
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(
	    WEXITSTATUS(st), 0, "child failed at step %d", WEXITSTATUS(st));
}

/* ------------------------------------------------------------------ */
/* SCM_RIGHTS                                                           */

struct pair {
	int a, b;
};

static struct pair
mkpair(void)
{
	int sv[2];
	struct pair p;

	cr_assert_eq(ew_sock_pair(sv), 0);
	p.a = sv[0];
	p.b = sv[1];
	return p;
}

static void
rmpair(struct pair *p)
{
	p->a = ew_fd_close(p->a);
	p->b = ew_fd_close(p->b);
}

Test(fd, send_recv_data_only)
{
	struct pair sp = mkpair();
	char buf[32];
	size_t len = 9, nfds = 9;
	int fds[2] = { -3, -3 };

	cr_assert_eq(ew_fd_send(sp.a, "hello", 5, NULL, 0), 0);
	cr_assert_eq(
	    ew_fd_recv(sp.b, buf, sizeof(buf), &len, fds, 2, &nfds), 0);
	cr_assert_eq(len, 5);
	cr_assert_arr_eq(buf, "hello", 5);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(fds[0], -3);
	/* fds may be NULL when none arrive, and so may nfdsp. */
	cr_assert_eq(ew_fd_send(sp.b, "x", 1, NULL, 0), 0);
	cr_assert_eq(
	    ew_fd_recv(sp.a, buf, sizeof(buf), &len, NULL, 0, NULL), 0);
	cr_assert_eq(len, 1);
	rmpair(&sp);
}

/* A pipe's write end and a memfd travel and work at the other end. */
Test(fd, received_fds_usable_and_cloexec)
{
	struct pair sp = mkpair();
	struct stat s1, s2;
	int p[2], mfd, send[2], got[4] = { -1, -1, -1, -1 };
	size_t len, nfds;
	char buf[16];

	cr_assert_eq(pipe(p), 0); /* deliberately not CLOEXEC */
	mfd = memfd_create("fdtest", 0);
	cr_assert_geq(mfd, 0);
	cr_assert_eq(write(mfd, "0123456789", 10), 10);
	send[0] = p[1];
	send[1] = mfd;
	cr_assert_eq(ew_fd_send(sp.a, "F", 1, send, 2), 0);
	cr_assert_eq(
	    ew_fd_recv(sp.b, buf, sizeof(buf), &len, got, 4, &nfds), 0);
	cr_assert_eq(len, 1);
	cr_assert_eq(buf[0], 'F');
	cr_assert_eq(nfds, 2);
	cr_assert(cloexec_of(got[0]), "received fd without FD_CLOEXEC");
	cr_assert(cloexec_of(got[1]), "received fd without FD_CLOEXEC");
	cr_assert_eq(got[2], -1);

	cr_assert_eq(fstat(got[1], &s1), 0);
	cr_assert_eq(fstat(mfd, &s2), 0);
	cr_assert_eq(s1.st_ino, s2.st_ino);
	cr_assert_eq(write(got[0], "through", 7), 7);
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 7);
	cr_assert_arr_eq(buf, "through", 7);
	cr_assert_eq(pread(got[1], buf, 10, 0), 10);
	cr_assert_arr_eq(buf, "0123456789", 10);
	cr_assert_eq(pwrite(got[1], "AB", 2, 3), 2);
	cr_assert_eq(pread(mfd, buf, 5, 0), 5);
	cr_assert_arr_eq(buf, "012AB", 5);
	close(got[0]);
	close(got[1]);
	close(p[0]);
	close(p[1]);
	close(mfd);
	rmpair(&sp);
}

Test(fd, pass_max_fds)
{
	struct pair sp = mkpair();
	int fds[EW_FD_PASS_MAX + 1], got[EW_FD_PASS_MAX], before;
	size_t len, nfds, i;
	char c;

	for (i = 0; i < EW_FD_PASS_MAX + 1; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		cr_assert_geq(fds[i], 0);
	}
	before = count_fds();
	cr_assert_eq(
	    ew_fd_send(sp.a, "m", 1, fds, EW_FD_PASS_MAX + 1), -EW_E_LIMIT);
	cr_assert_eq(ew_fd_send(sp.a, "m", 1, fds, EW_FD_PASS_MAX), 0);
	cr_assert_eq(
	    ew_fd_recv(sp.b, &c, 1, &len, got, EW_FD_PASS_MAX, &nfds), 0);
	cr_assert_eq(nfds, EW_FD_PASS_MAX);
	cr_assert_eq(count_fds(), before + EW_FD_PASS_MAX);
	ew_fd_close_all(got, nfds);
	cr_assert_eq(count_fds(), before);
	for (i = 0; i < EW_FD_PASS_MAX + 1; i++)
		close(fds[i]);
	rmpair(&sp);
}

/* More fds than the receiver takes: all closed, none returned. */
Test(fd, more_fds_than_maxfds_all_closed)
{
	struct pair sp = mkpair();
	int p[2], send[3], got[2] = { -9, -9 }, before;
	size_t len = 5, nfds = 5, maxfds;
	char buf[8];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	send[0] = p[0];
	send[1] = p[1];
	send[2] = p[0];
	before = count_fds();
	for (maxfds = 0; maxfds < 3; maxfds++) {
		cr_assert_eq(ew_fd_send(sp.a, "abc", 3, send, 3), 0);
		cr_assert_eq(ew_fd_recv(sp.b, buf, sizeof(buf), &len,
				 maxfds ? got : NULL, maxfds, &nfds),
		    -EW_E_CMSG, "maxfds %zu", maxfds);
		cr_assert_eq(nfds, 0);
		cr_assert_eq(len, 0);
		cr_assert_eq(count_fds(), before, "maxfds %zu leaked", maxfds);
		if (maxfds > 0)
			cr_assert_eq(got[0], -1, "a closed fd left in fds[]");
	}
	/* With room for all three it works. */
	{
		int all[3];

		cr_assert_eq(ew_fd_send(sp.a, "abc", 3, send, 3), 0);
		cr_assert_eq(
		    ew_fd_recv(sp.b, buf, sizeof(buf), &len, all, 3, &nfds), 0);
		cr_assert_eq(nfds, 3);
		ew_fd_close_all(all, 3);
	}
	close(p[0]);
	close(p[1]);
	rmpair(&sp);
}

/* Over EW_FD_PASS_MAX fds (a raw sendmsg): the control buffer is cut short
 * (MSG_CTRUNC); whatever the kernel did install is closed. */
Test(fd, control_truncated_no_leak)
{
	enum { N = EW_FD_PASS_MAX + 4 };
	union {
		char buf[CMSG_SPACE(sizeof(int) * N)];
		struct cmsghdr align;
	} u;
	struct pair sp = mkpair();
	struct msghdr msg;
	struct cmsghdr *cmsg;
	struct iovec iov;
	int fds[N], got[N], before, i;
	size_t len, nfds;
	char c = 'c';

	for (i = 0; i < N; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		cr_assert_geq(fds[i], 0);
	}
	memset(&msg, 0, sizeof(msg));
	memset(&u, 0, sizeof(u));
	iov.iov_base = &c;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * N);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	before = count_fds();
	cr_assert_eq(sendmsg(sp.a, &msg, 0), 1);
	cr_assert_eq(ew_fd_recv(sp.b, &c, 1, &len, got, N, &nfds), -EW_E_CMSG);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(count_fds(), before);
	for (i = 0; i < N; i++)
		close(fds[i]);
	rmpair(&sp);
}

/* Any control message other than SCM_RIGHTS is refused. */
Test(fd, unexpected_control_message)
{
	struct pair sp = mkpair();
	int one = 1, p[2], got[2], before;
	size_t len, nfds;
	char c;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	/* With SO_PASSCRED every record carries SCM_CREDENTIALS. */
	cr_assert_eq(
	    setsockopt(sp.b, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	before = count_fds();
	cr_assert_eq(ew_fd_send(sp.a, "x", 1, NULL, 0), 0);
	cr_assert_eq(ew_fd_recv(sp.b, &c, 1, &len, got, 2, &nfds), -EW_E_CMSG);
	/* Fds that came beside the credentials are closed as well. */
	cr_assert_eq(ew_fd_send(sp.a, "x", 1, p, 2), 0);
	cr_assert_eq(ew_fd_recv(sp.b, &c, 1, &len, got, 2, &nfds), -EW_E_CMSG);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(count_fds(), before);
	close(p[0]);
	close(p[1]);
	rmpair(&sp);
}

/* A record longer than the receive buffer is an error, fds closed. */
Test(fd, record_too_big)
{
	struct pair sp = mkpair();
	int p[2], got[2], before;
	size_t len = 3, nfds = 3;
	char buf[4];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	before = count_fds();
	cr_assert_eq(ew_fd_send(sp.a, "12345", 5, p, 2), 0);
	cr_assert_eq(
	    ew_fd_recv(sp.b, buf, 4, &len, got, 2, &nfds), -EW_E_LIMIT);
	cr_assert_eq(len, 0);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(count_fds(), before);
	/* The record is gone; the next one is read whole. */
	cr_assert_eq(ew_fd_send(sp.a, "1234", 4, NULL, 0), 0);
	cr_assert_eq(ew_fd_recv(sp.b, buf, 4, &len, got, 2, &nfds), 0);
	cr_assert_eq(len, 4);
	close(p[0]);
	close(p[1]);
	rmpair(&sp);
}

Test(fd, closed_peer)
{
	struct pair sp = mkpair();
	size_t len = 1, nfds = 1;
	int got[1];
	char buf[4];

	sp.a = ew_fd_close(sp.a);
	cr_assert_eq(ew_fd_recv(sp.b, buf, sizeof(buf), &len, got, 1, &nfds),
	    -EW_E_CLOSED);
	cr_assert_eq(len, 0);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(ew_fd_send(sp.b, "x", 1, NULL, 0), -EPIPE);
	rmpair(&sp);
}

/* A zero-length record with fds is a message, not the end. */
Test(fd, empty_record_with_fds)
{
	struct pair sp = mkpair();
	int p[2], got[2];
	size_t len = 7, nfds = 0;
	char buf[4];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(ew_fd_send(sp.a, "", 0, p, 1), 0);
	cr_assert_eq(
	    ew_fd_recv(sp.b, buf, sizeof(buf), &len, got, 2, &nfds), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(nfds, 1);
	close(got[0]);
	close(p[0]);
	close(p[1]);
	rmpair(&sp);
}

Test(fd, errors_from_the_kernel)
{
	int p[2], bad;
	size_t len, nfds;
	char c;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	bad = closed_fd();
	cr_assert_eq(ew_fd_send(p[1], "x", 1, NULL, 0), -ENOTSOCK);
	cr_assert_eq(ew_fd_recv(p[0], &c, 1, &len, NULL, 0, &nfds), -ENOTSOCK);
	cr_assert_eq(ew_fd_send(bad, "x", 1, NULL, 0), -EBADF);
	cr_assert_eq(ew_fd_recv(bad, &c, 1, &len, NULL, 0, &nfds), -EBADF);
	close(p[0]);
	close(p[1]);
}
