/* Tests for proto/ew_sock.c: listen/connect, bounded waits, peer creds. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ew_err.h"
#include "ew_fd.h"
#include "ew_sock.h"

static char dir[] = "/tmp/ew-test-sock.XXXXXX";
static char path[128];

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/broker.sock", dir);
}

static void
teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(sock, .init = setup, .fini = teardown);

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
fd_flag(int fd, int cmd, int flag)
{
	int fl = fcntl(fd, cmd);

	cr_assert_geq(fl, 0);
	return (fl & flag) != 0;
}

static int
sock_type(int fd)
{
	int t = 0;
	socklen_t len = sizeof(t);

	cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len), 0);
	return t;
}

Test(sock, pair_is_seqpacket_and_cloexec)
{
	int sv[2];
	char buf[16];

	cr_assert_eq(ew_sock_pair(sv), 0);
	cr_assert_eq(sock_type(sv[0]), SOCK_SEQPACKET);
	cr_assert(fd_flag(sv[0], F_GETFD, FD_CLOEXEC));
	cr_assert(fd_flag(sv[1], F_GETFD, FD_CLOEXEC));
	/* Record boundaries are kept. */
	cr_assert_eq(write(sv[0], "one", 3), 3);
	cr_assert_eq(write(sv[0], "two!", 4), 4);
	cr_assert_eq(read(sv[1], buf, sizeof(buf)), 3);
	cr_assert_eq(read(sv[1], buf, sizeof(buf)), 4);
	close(sv[0]);
	close(sv[1]);
}

Test(sock, listen_connect_accept)
{
	int l, c, s;
	char buf[8];
	pid_t pid;
	uid_t uid;
	gid_t gid;

	l = ew_sock_listen(path, 8);
	cr_assert_geq(l, 0, "listen: %s", ew_err_str(l));
	cr_assert_eq(sock_type(l), SOCK_SEQPACKET);
	cr_assert(fd_flag(l, F_GETFD, FD_CLOEXEC));
	cr_assert(fd_flag(l, F_GETFL, O_NONBLOCK));
	/* Nobody is waiting yet: accept would block. */
	cr_assert_eq(accept4(l, NULL, NULL, SOCK_CLOEXEC), -1);
	cr_assert_eq(errno, EAGAIN);

	c = ew_sock_connect(path, 1000);
	cr_assert_geq(c, 3, "connect: %s", ew_err_str(c));
	cr_assert(fd_flag(c, F_GETFD, FD_CLOEXEC));
	cr_assert(!fd_flag(c, F_GETFL, O_NONBLOCK), "connected fd must block");
	cr_assert_eq(sock_type(c), SOCK_SEQPACKET);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(s, 0);

	/* Each end sees this process as its peer. */
	cr_assert_eq(ew_sock_peercred(s, &pid, &uid, &gid), 0);
	cr_assert_eq(pid, getpid());
	cr_assert_eq(uid, getuid());
	cr_assert_eq(gid, getgid());
	cr_assert_eq(ew_sock_peercred(c, &pid, NULL, NULL), 0);
	cr_assert_eq(pid, getpid());
	cr_assert_eq(ew_sock_peercred(c, NULL, NULL, NULL), 0);

	cr_assert_eq(write(c, "ask", 3), 3);
	cr_assert_eq(read(s, buf, sizeof(buf)), 3);
	cr_assert_arr_eq(buf, "ask", 3);
	close(s);
	close(c);
	close(l);
}

Test(sock, listen_errors)
{
	char longpath[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int l;

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	cr_assert_eq(ew_sock_listen(longpath, 1), -ENAMETOOLONG);
	cr_assert_eq(ew_sock_connect(longpath, 10), -ENAMETOOLONG);
	cr_assert_eq(ew_sock_listen("", 1), -EINVAL);
	cr_assert_eq(ew_sock_connect("", 10), -EINVAL);
	l = ew_sock_listen(path, 1);
	cr_assert_geq(l, 0);
	cr_assert_eq(ew_sock_listen(path, 1), -EADDRINUSE);
	close(l);
}

/* No socket file: fails at once, whatever the timeout. */
Test(sock, connect_missing_path)
{
	char missing[160];
	long long t0;

	snprintf(missing, sizeof(missing), "%s/nope.sock", dir);
	t0 = now_ms();
	cr_assert_eq(ew_sock_connect(missing, 5000), -ENOENT);
	snprintf(missing, sizeof(missing), "%s/no/such/dir.sock", dir);
	cr_assert_eq(ew_sock_connect(missing, 5000), -ENOENT);
	cr_assert_lt(now_ms() - t0, 1000, "a missing socket made us wait");
}

/* The file is there but nobody listens (a broker that died). */
Test(sock, connect_nobody_listening)
{
	long long t0;
	int l, fd;

	l = ew_sock_listen(path, 1);
	cr_assert_geq(l, 0);
	close(l);
	t0 = now_ms();
	cr_assert_eq(ew_sock_connect(path, 5000), -ECONNREFUSED);
	cr_assert_lt(now_ms() - t0, 1000);
	/* A regular file at the path is refused the same way. */
	cr_assert_eq(unlink(path), 0);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(ew_sock_connect(path, 5000), -ECONNREFUSED);
}

/* A stream listener is the wrong kind of socket. */
Test(sock, connect_wrong_socket_type)
{
	struct sockaddr_un sun;
	int l;

	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(l, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	cr_assert_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(listen(l, 4), 0);
	cr_assert_lt(ew_sock_connect(path, 200), 0);
	close(l);
}

/*
 * A listener that never accepts, its backlog filled: connect gives up
 * within about its timeout with -EW_E_TIMEOUT (a hang guard: bounded by
 * 2 s for 200 ms), and succeeds again once a slot is freed.
 */
Test(sock, connect_full_backlog_times_out)
{
	int l, fds[64], n = 0, r = 0, s, c;
	long long t0, dt = 0;

	l = ew_sock_listen(path, 0);
	cr_assert_geq(l, 0);
	while (n < 64) {
		t0 = now_ms();
		r = ew_sock_connect(path, 200);
		dt = now_ms() - t0;
		if (r < 0)
			break;
		fds[n++] = r;
	}
	cr_assert_eq(r, -EW_E_TIMEOUT, "backlog never filled: %d (%s)", r,
	    ew_err_str(r));
	cr_assert_geq(n, 1, "a backlog of 0 still queues a connection");
	cr_assert_geq(dt, 150, "gave up after %lld ms", dt);
	cr_assert_lt(dt, 2000, "took %lld ms", dt);
	/* Again with a zero timeout: at once. */
	t0 = now_ms();
	cr_assert_eq(ew_sock_connect(path, 0), -EW_E_TIMEOUT);
	cr_assert_lt(now_ms() - t0, 1000);

	/* Accepting one makes room. */
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(s, 0);
	c = ew_sock_connect(path, 1000);
	cr_assert_geq(c, 0, "connect after accept: %s", ew_err_str(c));
	close(c);
	close(s);
	while (n > 0)
		close(fds[--n]);
	close(l);
}

/* The backlog empties while we wait: the waiting connect succeeds. */
Test(sock, connect_waits_for_room)
{
	int l, fds[64], n = 0, r = 0, s, st;
	long long t0;
	pid_t pid;

	l = ew_sock_listen(path, 0);
	cr_assert_geq(l, 0);
	while (n < 64 && (r = ew_sock_connect(path, 50)) >= 0)
		fds[n++] = r;
	cr_assert_eq(r, -EW_E_TIMEOUT);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Make room after 100 ms. */
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		_exit(s >= 0 ? 0 : 1);
	}
	t0 = now_ms();
	r = ew_sock_connect(path, 5000);
	cr_assert_geq(r, 0, "connect: %s", ew_err_str(r));
	cr_assert_lt(now_ms() - t0, 4000);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(r);
	while (n > 0)
		close(fds[--n]);
	close(l);
}

Test(sock, connect_moves_above_stdio)
{
	int l, fd, saved, s;

	l = ew_sock_listen(path, 4);
	cr_assert_geq(l, 0);
	/* Free fd 0 so that socket() would land there. */
	saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
	close(0);
	fd = ew_sock_connect(path, 1000);
	/* Restore stdin before judging. */
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
	cr_assert_geq(fd, 3, "connected fd %d is a stdio number", fd);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(s, 0);
	close(s);
	close(fd);
	close(l);
}

Test(sock, peercred_errors)
{
	int p[2];
	pid_t pid = 5;
	uid_t uid = 5;
	gid_t gid = 5;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(ew_sock_peercred(p[0], &pid, &uid, &gid), -ENOTSOCK);
	/* Out-parameters are invalid on failure. */
	cr_assert_eq(pid, -1);
	cr_assert_eq(uid, (uid_t)-1);
	cr_assert_eq(gid, (gid_t)-1);
	close(p[0]);
	close(p[1]);
	cr_assert_eq(ew_sock_peercred(p[0], &pid, NULL, NULL), -EBADF);
}

/* The peer's credentials are those of the process that connected. */
Test(sock, peercred_of_a_child)
{
	pid_t child, pid;
	int l, s, st;
	char c;

	/* The child makes its own connection: a socketpair's credentials
	 * would be those of its creator. */
	l = ew_sock_listen(path, 4);
	cr_assert_geq(l, 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		int fd = ew_sock_connect(path, 2000);

		if (fd < 0 || write(fd, "x", 1) != 1)
			_exit(1);
		/* Stay until the parent has looked. */
		(void)read(fd, &c, 1);
		_exit(0);
	}
	cr_assert_geq(ew_sock_wait(l, POLLIN, 5000), 0);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(s, 0);
	cr_assert_eq(ew_sock_peercred(s, &pid, NULL, NULL), 0);
	cr_assert_eq(pid, child);
	cr_assert_eq(write(s, "y", 1), 1);
	cr_assert_eq(waitpid(child, &st, 0), child);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(s);
	close(l);
}

Test(sock, wait_times_out_and_reports_readiness)
{
	int sv[2], r;
	long long t0, dt;
	char c;

	cr_assert_eq(ew_sock_pair(sv), 0);
	t0 = now_ms();
	cr_assert_eq(ew_sock_wait(sv[0], POLLIN, 150), -EW_E_TIMEOUT);
	dt = now_ms() - t0;
	cr_assert_geq(dt, 140, "returned after %lld ms", dt);
	cr_assert_lt(dt, 2000);
	t0 = now_ms();
	cr_assert_eq(ew_sock_wait(sv[0], POLLIN, 0), -EW_E_TIMEOUT);
	cr_assert_lt(now_ms() - t0, 500);

	/* Writable at once. */
	r = ew_sock_wait(sv[0], POLLOUT, 1000);
	cr_assert_geq(r, 0);
	cr_assert(r & POLLOUT);
	/* Readable once the peer writes, even with no timeout. */
	cr_assert_eq(write(sv[1], "z", 1), 1);
	r = ew_sock_wait(sv[0], POLLIN, -1);
	cr_assert_geq(r, 0);
	cr_assert(r & POLLIN);
	cr_assert_eq(read(sv[0], &c, 1), 1);
	/* A closed peer reports as a hang-up. */
	close(sv[1]);
	r = ew_sock_wait(sv[0], POLLIN, 1000);
	cr_assert_geq(r, 0);
	cr_assert(r & (POLLHUP | POLLIN));
	close(sv[0]);
	r = ew_sock_wait(sv[0], POLLIN, 100);
	cr_assert(r == POLLNVAL || r < 0, "closed fd gave %d", r);
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* Signals interrupting poll do not cut the wait short, nor stretch it. */
Test(sock, wait_survives_signals)
{
	struct itimerval it = { { 0, 20 * 1000 }, { 0, 20 * 1000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa;
	long long t0, dt;
	int sv[2];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: poll sees EINTR */
	cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
	cr_assert_eq(ew_sock_pair(sv), 0);
	cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	t0 = now_ms();
	cr_assert_eq(ew_sock_wait(sv[0], POLLIN, 300), -EW_E_TIMEOUT);
	dt = now_ms() - t0;
	cr_assert_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	cr_assert_geq(dt, 290, "cut short by signals: %lld ms", dt);
	cr_assert_lt(dt, 2000, "stretched by signals: %lld ms", dt);
	close(sv[0]);
	close(sv[1]);
}
