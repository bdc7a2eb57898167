/*
 * check_client.c: libasyncflow (client/) and asyncflowctl without a daemon.
 *
 * A fake daemon, written here with protoc-c's generated code, runs in a
 * thread on the other end of a socketpair (or of a Unix socket in a
 * temporary directory) and follows a script per test: the handshake,
 * answers out of order, events pushed while the client waits, frames that
 * are too large, cut short, undecodable or trickled a byte at a time, and
 * answers that never come.
 *
 * The JSON <-> Value conversion lives in asyncflowctl (the library does not
 * depend on jansson), so it is tested by running the built asyncflowctl
 * (found beside this binary's directory: B/tests/check_client ->
 * B/asyncflowctl) against the fake daemon and comparing the request it
 * sent and the JSON it printed. asyncflowctl serve is run the same way,
 * with sh scripts as its CMD: the fake daemon pushes invocations and
 * checks the settlements that come back.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "asyncflow.h"
#include "testutil.h"

/* ---- The fake daemon's side ---------------------------------------------- */

static bool
read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	ssize_t r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static void
write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	ssize_t r;

	while (n > 0) {
		r = send(fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;		/* the client went away: its test says */
		p += r;
		n -= (size_t)r;
	}
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The next request, or NULL at end of stream. Free with af_msg_free. */
static Asyncflow__Request *
srv_recv(int fd)
{
	uint8_t hdr[4], *buf;
	Asyncflow__Request *req;
	uint32_t len;

	if (!read_full(fd, hdr, 4))
		return NULL;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	ck_assert_uint_le(len, AF_MAX_FRAME);
	buf = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert(read_full(fd, buf, len));
	req = asyncflow__request__unpack(NULL, len, buf);
	free(buf);
	ck_assert_ptr_nonnull(req);
	return req;
}

/* One frame holding sm, packed; *n its length with the prefix. */
static uint8_t *
frame_of(Asyncflow__ServerMessage *sm, size_t *n)
{
	size_t len = asyncflow__server_message__get_packed_size(sm);
	uint8_t *buf = malloc(4 + len);

	ck_assert_ptr_nonnull(buf);
	put_be32(buf, (uint32_t)len);
	asyncflow__server_message__pack(sm, buf + 4);
	*n = 4 + len;
	return buf;
}

static void
srv_send(int fd, Asyncflow__ServerMessage *sm)
{
	size_t n;
	uint8_t *buf = frame_of(sm, &n);

	write_full(fd, buf, n);
	free(buf);
}

static void
srv_respond(int fd, Asyncflow__Response *r)
{
	Asyncflow__ServerMessage sm = ASYNCFLOW__SERVER_MESSAGE__INIT;

	sm.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	sm.response = r;
	srv_send(fd, &sm);
}

static void
srv_error(int fd, uint64_t id, int code, const char *name, const char *msg)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ErrorReply e = ASYNCFLOW__ERROR_REPLY__INIT;

	e.code = code;
	e.name = (char *)name;
	e.message = (char *)msg;
	r.id = id;
	r.error = &e;
	srv_respond(fd, &r);
}

static void
srv_event(int fd, uint64_t vow, int64_t value)
{
	Asyncflow__ServerMessage sm = ASYNCFLOW__SERVER_MESSAGE__INIT;
	Asyncflow__Event ev = ASYNCFLOW__EVENT__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;

	v.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	v.int_value = value;
	vi.vow = vow;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED;
	vi.value = &v;
	ev.kind_case = ASYNCFLOW__EVENT__KIND_VOW_SETTLED;
	ev.vow_settled = &vi;
	sm.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_EVENT;
	sm.event = &ev;
	srv_send(fd, &sm);
}

/* Answers a show of activation `act` (id echoed in the info). */
static void
srv_show(int fd, uint64_t id, uint64_t act)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ActivationInfo ai = ASYNCFLOW__ACTIVATION_INFO__INIT;

	ai.id = act;
	ai.flow = (char *)"echo";
	ai.state = (char *)"Done";
	r.id = id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_SHOW;
	r.show = &ai;
	srv_respond(fd, &r);
}

static void
srv_stats(int fd, uint64_t id, uint64_t passes)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__StatsReply st = ASYNCFLOW__STATS_REPLY__INIT;

	st.passes = passes;
	st.durability = (char *)"full";
	r.id = id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_STATS;
	r.stats = &st;
	srv_respond(fd, &r);
}

/* Reads the hello and answers it with protocol `version`. */
static void
srv_hello_version(int fd, uint32_t version)
{
	Asyncflow__Request *req = srv_recv(fd);
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__HelloReply h = ASYNCFLOW__HELLO_REPLY__INIT;

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(req->op_case, ASYNCFLOW__REQUEST__OP_HELLO);
	ck_assert_uint_eq(req->hello->version, 1);
	ck_assert_uint_ne(req->id, 0);
	ck_assert_str_ne(req->hello->client, "");
	h.version = version;
	h.incarnation = 42;
	h.daemon = (char *)"fake 0.1";
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_HELLO;
	r.hello = &h;
	srv_respond(fd, &r);
	af_msg_free(req);
}

static void
srv_hello(int fd)
{
	srv_hello_version(fd, 1);
}

/* Waits until the client closes its end (so it can read all we sent). */
static void
srv_drain(int fd)
{
	Asyncflow__Request *req;

	while ((req = srv_recv(fd)) != NULL)
		af_msg_free(req);
}

/* A request of the expected kind. */
static Asyncflow__Request *
srv_expect(int fd, Asyncflow__Request__OpCase op)
{
	Asyncflow__Request *req = srv_recv(fd);

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(req->op_case, op);
	ck_assert_uint_ne(req->id, 0);
	return req;
}

/* ---- Running a fake daemon ------------------------------------------------- */

struct fake {
	pthread_t	 th;
	int		 fd;		/* the daemon's end */
	int		 listen_fd;	/* Unix socket mode: accept this */
	int		 delay_ms;	/* before accepting */
	int		 skip;		/* connections to accept and close
					 * first (see test_connect_timeout) */
	void		(*script)(int fd);
	char		 dir[512];
	char		 path[600];
};

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd;
	sigset_t ss;

	/* Signals are for the client's thread (see test_eintr). */
	sigemptyset(&ss);
	sigaddset(&ss, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	if (f->listen_fd >= 0) {
		if (f->delay_ms > 0)
			usleep((useconds_t)f->delay_ms * 1000);
		for (; f->skip > 0; f->skip--) {
			int fd = accept(f->listen_fd, NULL, NULL);

			if (fd >= 0)
				close(fd);
		}
		pfd.fd = f->listen_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 10000) != 1)
			return NULL;
		f->fd = accept(f->listen_fd, NULL, NULL);
		if (f->fd < 0)
			return NULL;
	}
	f->script(f->fd);
	close(f->fd);
	return NULL;
}

/* Starts `script` on one end of a socketpair; returns the other end. */
static int
fake_pair(struct fake *f, void (*script)(int fd))
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->fd = sv[1];
	f->listen_fd = -1;
	f->delay_ms = f->skip = 0;
	f->script = script;
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
	return sv[0];
}

/* A connected client with the handshake done by `script`. */
static af_conn *
fake_connect(struct fake *f, void (*script)(int fd))
{
	char err[256];
	af_conn *c = NULL;
	int rc;

	rc = af_connect_fd(fake_pair(f, script), &c, err, sizeof(err));
	ck_assert_msg(rc == AF_OK, "connect: %d %s", rc, err);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Starts `script` behind a listening Unix socket at f->path. */
static void
fake_listen(struct fake *f, void (*script)(int fd))
{
	struct sockaddr_un sa;

	snprintf(f->dir, sizeof(f->dir), "%s", testutil_tmpdir());
	snprintf(f->path, sizeof(f->path), "%s/d.sock", f->dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(f->path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(f->listen_fd, 0);
	ck_assert_int_eq(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f->listen_fd, 4), 0);
	f->fd = -1;
	f->delay_ms = f->skip = 0;
	f->script = script;
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_join(struct fake *f)
{
	pthread_join(f->th, NULL);
	if (f->listen_fd >= 0) {
		close(f->listen_fd);
		testutil_rmtree(f->dir);
	}
}

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Handshake and connecting -------------------------------------------------- */

static void
s_hello_drain(int fd)
{
	srv_hello(fd);
	srv_drain(fd);
}

START_TEST(test_handshake_ok)
{
	struct fake f;
	af_conn *c = fake_connect(&f, s_hello_drain);

	ck_assert_uint_eq(af_conn_incarnation(c), 42);
	ck_assert_str_eq(af_conn_daemon(c), "fake 0.1");
	ck_assert_int_ge(af_conn_fd(c), 0);
	ck_assert_str_eq(af_conn_errmsg(c), "");
	af_close(c);
	fake_join(&f);
}
END_TEST

/* The daemon refuses the version: an error reply to the hello, then close. */
static void
s_version_refused(int fd)
{
	Asyncflow__Request *req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_HELLO);

	srv_error(fd, req->id, AF_EPROTO, "EPROTO",
	    "protocol version mismatch: client 1, daemon 2");
	af_msg_free(req);
}

/* The daemon's last word before closing, in reply to no request (id 0). */
static void
s_last_word_at_hello(int fd)
{
	af_msg_free(srv_expect(fd, ASYNCFLOW__REQUEST__OP_HELLO));
	srv_error(fd, 0, AF_EPROTO, "EPROTO", "frame does not decode");
}

START_TEST(test_handshake_version_refused)
{
	struct fake f;
	char err[256];
	af_conn *c = (af_conn *)&f;
	int rc;

	rc = af_connect_fd(fake_pair(&f, s_version_refused), &c, err, sizeof(err));
	ck_assert_int_eq(rc, AF_EPROTO);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(err, "protocol version mismatch: client 1, daemon 2");
	fake_join(&f);

	/* An error reply with id 0: the connection is closed, whatever the
	 * code; the daemon's code and message are the text. */
	c = (af_conn *)&f;
	rc = af_connect_fd(fake_pair(&f, s_last_word_at_hello), &c, err,
	    sizeof(err));
	ck_assert_int_eq(rc, AF_ECONN);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(err, "connection closed by the daemon: EPROTO: frame "
	    "does not decode");
	fake_join(&f);
}
END_TEST

/* The daemon answers hello, but with another version. */
static void
s_version_other(int fd)
{
	srv_hello_version(fd, 2);
	srv_drain(fd);
}

START_TEST(test_handshake_version_other)
{
	struct fake f;
	char err[256];
	af_conn *c = NULL;
	int rc;

	rc = af_connect_fd(fake_pair(&f, s_version_other), &c, err, sizeof(err));
	ck_assert_int_eq(rc, AF_EPROTO);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "version 2") && strstr(err, "version 1"),
	    "%s", err);
	fake_join(&f);
}
END_TEST

/* Closing before answering hello. */
static void
s_close_at_hello(int fd)
{
	af_msg_free(srv_expect(fd, ASYNCFLOW__REQUEST__OP_HELLO));
}

START_TEST(test_handshake_closed)
{
	struct fake f;
	char err[256];
	af_conn *c = NULL;
	int rc;

	rc = af_connect_fd(fake_pair(&f, s_close_at_hello), &c, err, sizeof(err));
	ck_assert_int_eq(rc, AF_ECONN);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "closed") != NULL, "%s", err);
	fake_join(&f);
}
END_TEST

START_TEST(test_connect_path)
{
	struct fake f;
	char err[256], longpath[200];
	af_conn *c = NULL;
	Asyncflow__StatsReply *st = NULL;
	int rc;

	fake_listen(&f, s_hello_drain);
	rc = af_connect(f.path, &c, err, sizeof(err));
	ck_assert_msg(rc == AF_OK, "%d %s", rc, err);
	ck_assert_uint_eq(af_conn_incarnation(c), 42);
	af_close(c);
	fake_join(&f);

	/* Nobody there. */
	rc = af_connect("/nonexistent-asyncflow/d.sock", &c, err, sizeof(err));
	ck_assert_int_eq(rc, AF_ECONN);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "/nonexistent-asyncflow/d.sock") != NULL, "%s", err);
	/* Too long for sun_path. */
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(af_connect(longpath, &c, err, sizeof(err)), AF_EINVAL);
	ck_assert_int_eq(af_connect("", &c, NULL, 0), AF_EINVAL);
	ck_assert_int_eq(af_connect(NULL, NULL, NULL, 0), AF_EINVAL);
	ck_assert_int_eq(af_connect_fd(-1, &c, err, sizeof(err)), AF_EINVAL);
	ck_assert_int_eq(af_stats(NULL, &st), AF_EINVAL);
	ck_assert_ptr_null(st);
}
END_TEST


/*
 * A daemon that does not accept (stopped, or its listen backlog full): the
 * connect fails at the deadline, also when signals interrupt the wait, and
 * succeeds as soon as there is room before it.
 */
static volatile sig_atomic_t alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

START_TEST(test_connect_timeout)
{
	struct sockaddr_un sa;
	struct sigaction sigact;
	struct itimerval it;
	struct fake f;
	char err[256];
	af_conn *c = NULL;
	int fill[64], nfill = 0, lfd, fd, rc;
	int64_t t0, dt;

	snprintf(f.dir, sizeof(f.dir), "%s", testutil_tmpdir());
	snprintf(f.path, sizeof(f.path), "%s/d.sock", f.dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, f.path, strlen(f.path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	/* Fill the backlog: nobody accepts. */
	while (nfill < 64) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(fd, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			close(fd);
			break;
		}
		fill[nfill++] = fd;
	}
	ck_assert_int_lt(nfill, 64);

	t0 = ms_now();
	rc = af_connect_timeout(f.path, 200, &c, err, sizeof(err));
	dt = ms_now() - t0;
	ck_assert_int_eq(rc, AF_ETIMEDOUT);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "did not accept") != NULL, "%s", err);
	ck_assert_int_ge(dt, 199);
	ck_assert_int_lt(dt, 3000);
	ck_assert_int_eq(af_connect_timeout(f.path, 0, &c, err, sizeof(err)),
	    AF_ETIMEDOUT);

	/* Signals (no SA_RESTART) during the wait change nothing. */
	memset(&sigact, 0, sizeof(sigact));
	sigact.sa_handler = on_alarm;
	sigemptyset(&sigact.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sigact, NULL), 0);
	memset(&it, 0, sizeof(it));
	it.it_interval.tv_usec = 10 * 1000;
	it.it_value.tv_usec = 10 * 1000;
	alarms = 0;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	t0 = ms_now();
	rc = af_connect_timeout(f.path, 300, &c, err, sizeof(err));
	dt = ms_now() - t0;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	ck_assert_msg(rc == AF_ETIMEDOUT, "%d %s", rc, err);
	ck_assert_int_ge(dt, 299);
	ck_assert_int_lt(dt, 3000);
	ck_assert_int_gt(alarms, 5);

	/* Room comes 150 ms later (the backlog is accepted and closed): the
	 * library's connection gets in and does the handshake. */
	f.listen_fd = lfd;
	f.fd = -1;
	f.delay_ms = 150;
	f.skip = nfill;
	f.script = s_hello_drain;
	ck_assert_int_eq(pthread_create(&f.th, NULL, fake_main, &f), 0);
	t0 = ms_now();
	rc = af_connect_timeout(f.path, 10000, &c, err, sizeof(err));
	dt = ms_now() - t0;
	ck_assert_msg(rc == AF_OK, "%d %s", rc, err);
	ck_assert_int_ge(dt, 140);
	ck_assert_uint_eq(af_conn_incarnation(c), 42);
	af_close(c);
	fake_join(&f);
	while (nfill > 0)
		close(fill[--nfill]);
}
END_TEST

/* ---- Matching answers, events ------------------------------------------------ */

/* Reads three shows, answers them 3rd, 1st, 2nd. */
static void
s_out_of_order(int fd)
{
	Asyncflow__Request *r[3];
	int i;

	srv_hello(fd);
	for (i = 0; i < 3; i++)
		r[i] = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	srv_show(fd, r[2]->id, r[2]->show->activation);
	srv_show(fd, r[0]->id, r[0]->show->activation);
	srv_show(fd, r[1]->id, r[1]->show->activation);
	for (i = 0; i < 3; i++)
		af_msg_free(r[i]);
	srv_drain(fd);
}

START_TEST(test_out_of_order)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ShowActivation op = ASYNCFLOW__SHOW_ACTIVATION__INIT;
	Asyncflow__Response *resp;
	struct fake f;
	af_conn *c = fake_connect(&f, s_out_of_order);
	uint64_t id[3];
	int i;

	req.op_case = ASYNCFLOW__REQUEST__OP_SHOW;
	req.show = &op;
	for (i = 0; i < 3; i++) {
		op.activation = 100 + (uint64_t)i;
		ck_assert_int_eq(af_send_request(c, &req, &id[i]), AF_OK);
		ck_assert_uint_ne(id[i], 0);
		ck_assert_uint_eq(req.id, id[i]);
		if (i > 0)
			ck_assert_uint_gt(id[i], id[i - 1]);
	}
	/* Take them in request order although they come 3, 1, 2. */
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(af_wait_response(c, id[i], 5000, &resp), AF_OK);
		ck_assert_uint_eq(resp->id, id[i]);
		ck_assert_int_eq(resp->result_case, ASYNCFLOW__RESPONSE__RESULT_SHOW);
		ck_assert_uint_eq(resp->show->id, 100 + (uint64_t)i);
		af_msg_free(resp);
	}
	/* Taken: not pending any more. */
	ck_assert_int_eq(af_wait_response(c, id[0], 0, &resp), AF_EINVAL);
	ck_assert_ptr_null(resp);
	ck_assert_int_eq(af_wait_response(c, 999, 0, &resp), AF_EINVAL);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* Two events before the answer the client waits for. */
static void
s_events_first(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	srv_event(fd, 7, 70);
	srv_event(fd, 8, 80);
	srv_show(fd, req->id, 5);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_events_queued)
{
	Asyncflow__ActivationInfo *ai;
	Asyncflow__Event *ev;
	struct fake f;
	af_conn *c = fake_connect(&f, s_events_first);

	ck_assert_int_eq(af_show(c, 5, &ai), AF_OK);
	ck_assert_uint_eq(ai->id, 5);
	ck_assert_str_eq(ai->flow, "echo");
	af_msg_free(ai);
	ck_assert_int_eq(af_next_event(c, 0, &ev), AF_OK);
	ck_assert_int_eq(ev->kind_case, ASYNCFLOW__EVENT__KIND_VOW_SETTLED);
	ck_assert_uint_eq(ev->vow_settled->vow, 7);
	ck_assert_int_eq(ev->vow_settled->value->int_value, 70);
	af_msg_free(ev);
	ck_assert_int_eq(af_next_event(c, 0, &ev), AF_OK);
	ck_assert_uint_eq(ev->vow_settled->vow, 8);
	af_msg_free(ev);
	ck_assert_int_eq(af_next_event(c, 0, &ev), AF_ETIMEDOUT);
	ck_assert_ptr_null(ev);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* An answer arrives while the client waits for an event: kept. */
static void
s_answer_then_event(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	srv_stats(fd, req->id, 11);
	usleep(50 * 1000);
	srv_event(fd, 9, 90);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_event_wait)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Stats op = ASYNCFLOW__STATS__INIT;
	Asyncflow__Response *resp;
	Asyncflow__Event *ev;
	struct fake f;
	af_conn *c = fake_connect(&f, s_answer_then_event);
	uint64_t id;

	req.op_case = ASYNCFLOW__REQUEST__OP_STATS;
	req.stats = &op;
	ck_assert_int_eq(af_send_request(c, &req, &id), AF_OK);
	ck_assert_int_eq(af_next_event(c, 5000, &ev), AF_OK);
	ck_assert_uint_eq(ev->vow_settled->vow, 9);
	af_msg_free(ev);
	/* The answer came first and was kept. */
	ck_assert_int_eq(af_wait_response(c, id, 0, &resp), AF_OK);
	ck_assert_uint_eq(resp->stats->passes, 11);
	af_msg_free(resp);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- Error replies ---------------------------------------------------------------- */

static void
s_error_then_ok(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	ck_assert_uint_eq(req->show->activation, 9);
	srv_error(fd, req->id, AF_ENOTFOUND, "ENOTFOUND", "no activation 9");
	af_msg_free(req);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	srv_show(fd, req->id, req->show->activation);
	af_msg_free(req);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	srv_error(fd, req->id, 5, "EWEIRD", "positive code");	/* not an error code */
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_error_reply)
{
	Asyncflow__ActivationInfo *ai = (Asyncflow__ActivationInfo *)&ai;
	struct fake f;
	af_conn *c = fake_connect(&f, s_error_then_ok);

	ck_assert_int_eq(af_show(c, 9, &ai), AF_ENOTFOUND);
	ck_assert_ptr_null(ai);
	ck_assert_str_eq(af_conn_errmsg(c), "no activation 9");
	/* The connection goes on. */
	ck_assert_int_eq(af_show(c, 10, &ai), AF_OK);
	ck_assert_uint_eq(ai->id, 10);
	ck_assert_str_eq(af_conn_errmsg(c), "");
	af_msg_free(ai);
	ck_assert_int_eq(af_show(c, 11, &ai), AF_EPROTO);
	ck_assert_ptr_null(ai);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- Broken streams ------------------------------------------------------------------ */

static void
s_oversized(int fd)
{
	uint8_t hdr[4];

	srv_hello(fd);
	af_msg_free(srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS));
	put_be32(hdr, AF_MAX_FRAME + 1);
	write_full(fd, hdr, 4);		/* and no body: checked before */
	srv_drain(fd);
}

START_TEST(test_oversized_frame)
{
	Asyncflow__StatsReply *st;
	Asyncflow__Event *ev;
	struct fake f;
	af_conn *c = fake_connect(&f, s_oversized);

	ck_assert_int_eq(af_stats(c, &st), AF_EPROTO);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(af_conn_errmsg(c), "frame") != NULL, "%s",
	    af_conn_errmsg(c));
	/* Sticky. */
	ck_assert_int_eq(af_stats(c, &st), AF_EPROTO);
	ck_assert_int_eq(af_next_event(c, -1, &ev), AF_EPROTO);
	ck_assert_int_eq(af_flush(c, -1), AF_EPROTO);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* A frame of exactly AF_MAX_FRAME bytes is fine. */
static void
s_max_frame(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ActivationInfo ai = ASYNCFLOW__ACTIVATION_INFO__INIT;
	Asyncflow__ServerMessage sm = ASYNCFLOW__SERVER_MESSAGE__INIT;
	size_t n, fl = AF_MAX_FRAME - 64;
	char *flow = malloc(AF_MAX_FRAME + 1);

	ck_assert_ptr_nonnull(flow);
	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	ai.id = 1;
	ai.state = (char *)"Done";
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_SHOW;
	r.show = &ai;
	sm.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	sm.response = &r;
	/* Grow the flow name until the message is exactly AF_MAX_FRAME. */
	for (;;) {
		memset(flow, 'f', fl);
		flow[fl] = '\0';
		ai.flow = flow;
		n = asyncflow__server_message__get_packed_size(&sm);
		if (n == AF_MAX_FRAME)
			break;
		ck_assert_uint_lt(n, AF_MAX_FRAME);
		fl += AF_MAX_FRAME - n;
	}
	srv_send(fd, &sm);
	free(flow);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_max_frame)
{
	Asyncflow__ActivationInfo *ai;
	struct fake f;
	af_conn *c = fake_connect(&f, s_max_frame);

	ck_assert_int_eq(af_show(c, 1, &ai), AF_OK);
	ck_assert_uint_gt(strlen(ai->flow), AF_MAX_FRAME - 64);
	af_msg_free(ai);
	af_close(c);
	fake_join(&f);
}
END_TEST

static void
s_close_mid_frame(int fd)
{
	uint8_t buf[14] = { 0, 0, 0, 100 };

	srv_hello(fd);
	af_msg_free(srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS));
	write_full(fd, buf, sizeof(buf));
}

START_TEST(test_close_mid_frame)
{
	Asyncflow__StatsReply *st;
	struct fake f;
	af_conn *c = fake_connect(&f, s_close_mid_frame);

	ck_assert_int_eq(af_stats(c, &st), AF_ECONN);
	ck_assert_msg(strstr(af_conn_errmsg(c), "middle of a frame") != NULL,
	    "%s", af_conn_errmsg(c));
	ck_assert_int_eq(af_stats(c, &st), AF_ECONN);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* The daemon goes away: the next requests must not raise SIGPIPE. */
static void
s_close_after_hello(int fd)
{
	srv_hello(fd);
	shutdown(fd, SHUT_RDWR);
}

START_TEST(test_closed_no_sigpipe)
{
	Asyncflow__StatsReply *st;
	struct fake f;
	af_conn *c = fake_connect(&f, s_close_after_hello);
	int i;

	fake_join(&f);		/* the daemon's end is closed now */
	signal(SIGPIPE, SIG_DFL);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(af_stats(c, &st), AF_ECONN);
	af_close(c);
}
END_TEST

static void
s_garbage(int fd)
{
	uint8_t buf[] = { 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff };

	srv_hello(fd);
	af_msg_free(srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS));
	write_full(fd, buf, sizeof(buf));
	srv_drain(fd);
}

START_TEST(test_garbage_frame)
{
	Asyncflow__StatsReply *st;
	struct fake f;
	af_conn *c = fake_connect(&f, s_garbage);

	ck_assert_int_eq(af_stats(c, &st), AF_EPROTO);
	ck_assert_msg(strstr(af_conn_errmsg(c), "decode") != NULL, "%s",
	    af_conn_errmsg(c));
	af_close(c);
	fake_join(&f);
}
END_TEST

/*
 * Frames built byte by byte, back to front (so every length is known when
 * it is written): protobuf-c would need as much stack to pack a deep
 * message as to unpack it.
 */
struct rbuf {
	uint8_t	*p;
	size_t	 off, cap;
};

static void
rb_init(struct rbuf *b, size_t cap)
{
	b->p = malloc(cap);
	ck_assert_ptr_nonnull(b->p);
	b->off = b->cap = cap;
}

static void
rb_put(struct rbuf *b, const void *p, size_t n)
{
	ck_assert_uint_le(n, b->off);
	b->off -= n;
	memcpy(b->p + b->off, p, n);
}

static void
rb_varint(struct rbuf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	do {
		t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	rb_put(b, t, n);
}

/* Field `num` (varint) before what is written. */
static void
rb_uint(struct rbuf *b, unsigned num, uint64_t v)
{
	rb_varint(b, v);
	rb_varint(b, (uint64_t)num << 3);
}

/* Everything written so far becomes field `num` (length-delimited). */
static void
rb_wrap(struct rbuf *b, unsigned num)
{
	rb_varint(b, b->cap - b->off);
	rb_varint(b, (uint64_t)num << 3 | 2);
}

/* Sends the frame of what is written, and frees it. */
static void
rb_send(int fd, struct rbuf *b)
{
	uint8_t hdr[4];

	put_be32(hdr, (uint32_t)(b->cap - b->off));
	write_full(fd, hdr, 4);
	write_full(fd, b->p + b->off, b->cap - b->off);
	free(b->p);
}

/*
 * A VowInfo (vow 1, fulfilled) whose value is `lists` lists deep around an
 * int, or around an error (one message more), in a response to `id` or,
 * for id 0, in an event. A response carries 4 + 2 * lists messages with
 * the int: ServerMessage, Response, VowInfo, Value, then List and Value.
 */
static void
srv_deep(int fd, uint64_t id, int lists, bool error_leaf)
{
	struct rbuf b;
	int i;

	rb_init(&b, 64 + 8 * (size_t)lists);
	if (error_leaf) {
		rb_put(&b, "E", 1);
		rb_wrap(&b, 1);		/* Error.name */
		rb_wrap(&b, 12);	/* Value.error_value */
	} else {
		rb_uint(&b, 3, 2);	/* Value.int_value = 1 (zigzag) */
	}
	for (i = 0; i < lists; i++) {
		rb_wrap(&b, 1);		/* List.items */
		rb_wrap(&b, 7);		/* Value.list_value */
	}
	rb_wrap(&b, 3);			/* VowInfo.value */
	rb_uint(&b, 2, ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED);
	rb_uint(&b, 1, 1);		/* VowInfo.vow */
	if (id != 0) {
		rb_wrap(&b, 6);		/* Response.vow */
		rb_uint(&b, 1, id);	/* Response.id */
		rb_wrap(&b, 1);		/* ServerMessage.response */
	} else {
		rb_wrap(&b, 1);		/* Event.vow_settled */
		rb_wrap(&b, 2);		/* ServerMessage.event */
	}
	rb_send(fd, &b);
}

/* 200 messages deep, then 201. */
static void
s_deep_limit(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	srv_deep(fd, req->id, (AF_MAX_DEPTH - 4) / 2, false);
	af_msg_free(req);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	srv_deep(fd, req->id, (AF_MAX_DEPTH - 4) / 2, true);
	af_msg_free(req);
	srv_drain(fd);
}

/* The reviewer's frame: 5,000 lists deep (34 kB), on the event path. */
static void
s_deep_event(int fd)
{
	srv_hello(fd);
	srv_deep(fd, 0, 5000, false);
	srv_drain(fd);
}

static void
s_deep_answer(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	srv_deep(fd, req->id, 5000, false);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_deep_frame)
{
	const Asyncflow__Value *v;
	Asyncflow__VowInfo *vi;
	Asyncflow__Event *ev;
	struct fake f;
	af_conn *c;
	int n;

	/* AF_MAX_DEPTH messages: fine. */
	c = fake_connect(&f, s_deep_limit);
	ck_assert_int_eq(af_get_vow(c, 1, false, 5000, &vi), AF_OK);
	for (n = 0, v = vi->value; v->kind_case ==
	    ASYNCFLOW__VALUE__KIND_LIST_VALUE; n++)
		v = v->list_value->items[0];
	ck_assert_int_eq(n, (AF_MAX_DEPTH - 4) / 2);
	ck_assert_int_eq(v->int_value, 1);
	af_msg_free(vi);
	/* One more: refused before unpacking, and sticky. */
	ck_assert_int_eq(af_get_vow(c, 1, false, 5000, &vi), AF_EPROTO);
	ck_assert_ptr_null(vi);
	ck_assert_msg(strstr(af_conn_errmsg(c), "AF_MAX_DEPTH") != NULL, "%s",
	    af_conn_errmsg(c));
	ck_assert_int_eq(af_next_event(c, 0, &ev), AF_EPROTO);
	af_close(c);
	fake_join(&f);

	/* Far deeper, as an event and as an answer: no crash. */
	c = fake_connect(&f, s_deep_event);
	ck_assert_int_eq(af_next_event(c, 5000, &ev), AF_EPROTO);
	ck_assert_ptr_null(ev);
	ck_assert_msg(strstr(af_conn_errmsg(c), "deep") != NULL, "%s",
	    af_conn_errmsg(c));
	af_close(c);
	fake_join(&f);
	c = fake_connect(&f, s_deep_answer);
	ck_assert_int_eq(af_get_vow(c, 1, false, 5000, &vi), AF_EPROTO);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* The daemon closes the connection with "timed out" as its last word. */
static void
s_last_word(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	srv_error(fd, 0, AF_ETIMEDOUT, "ETIMEDOUT", "the client was too slow");
	af_msg_free(req);
}

START_TEST(test_last_word)
{
	Asyncflow__StatsReply *st;
	struct fake f;
	af_conn *c = fake_connect(&f, s_last_word);

	ck_assert_int_eq(af_stats(c, &st), AF_ECONN);
	ck_assert_str_eq(af_conn_errmsg(c), "connection closed by the daemon: "
	    "ETIMEDOUT: the client was too slow");
	/* Sticky, with the same text. */
	ck_assert_int_eq(af_stats(c, &st), AF_ECONN);
	ck_assert_str_eq(af_conn_errmsg(c), "connection closed by the daemon: "
	    "ETIMEDOUT: the client was too slow");
	af_close(c);
	fake_join(&f);
}
END_TEST

/* An answer to a request never sent. */
static void
s_unknown_id(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	srv_stats(fd, req->id + 1000, 1);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_unknown_id)
{
	Asyncflow__StatsReply *st;
	struct fake f;
	af_conn *c = fake_connect(&f, s_unknown_id);

	ck_assert_int_eq(af_stats(c, &st), AF_EPROTO);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* A show answered with stats. */
static void
s_wrong_result(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	srv_stats(fd, req->id, 1);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_wrong_result)
{
	Asyncflow__ActivationInfo *ai;
	struct fake f;
	af_conn *c = fake_connect(&f, s_wrong_result);

	ck_assert_int_eq(af_show(c, 1, &ai), AF_EPROTO);
	ck_assert_ptr_null(ai);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* The answer trickles in a byte at a time, after an event split the same way. */
static void
s_trickle(int fd)
{
	Asyncflow__ServerMessage sm = ASYNCFLOW__SERVER_MESSAGE__INIT;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__StatsReply st = ASYNCFLOW__STATS_REPLY__INIT;
	Asyncflow__Request *req;
	uint8_t *buf;
	size_t n, i;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	st.passes = 77;
	st.durability = (char *)"batch";
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_STATS;
	r.stats = &st;
	sm.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	sm.response = &r;
	buf = frame_of(&sm, &n);
	for (i = 0; i < n; i++) {
		write_full(fd, buf + i, 1);
		usleep(1000);
	}
	free(buf);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_partial_reads)
{
	Asyncflow__StatsReply *st;
	struct fake f;
	af_conn *c = fake_connect(&f, s_trickle);

	ck_assert_int_eq(af_stats(c, &st), AF_OK);
	ck_assert_uint_eq(st->passes, 77);
	ck_assert_str_eq(st->durability, "batch");
	af_msg_free(st);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- Timeouts ------------------------------------------------------------------------ */

/* Holds the get_vow until the next request comes, then answers both: the
 * late answer must be dropped quietly. */
static void
s_late(int fd)
{
	Asyncflow__Request *gv, *st;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;

	srv_hello(fd);
	gv = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	ck_assert(gv->get_vow->wait);
	ck_assert_uint_eq(gv->get_vow->vow, 3);
	st = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	vi.vow = 3;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING;
	r.id = gv->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r.vow = &vi;
	srv_respond(fd, &r);
	srv_stats(fd, st->id, 5);
	af_msg_free(gv);
	af_msg_free(st);
	srv_drain(fd);
}

START_TEST(test_timeout)
{
	Asyncflow__VowInfo *vi;
	Asyncflow__StatsReply *st;
	struct fake f;
	af_conn *c = fake_connect(&f, s_late);
	int64_t t0, dt;

	t0 = ms_now();
	ck_assert_int_eq(af_get_vow(c, 3, true, 150, &vi), AF_ETIMEDOUT);
	dt = ms_now() - t0;
	ck_assert_ptr_null(vi);
	ck_assert_int_ge(dt, 149);
	ck_assert_int_lt(dt, 3000);
	/* Still usable; the late answer to the get_vow is dropped. */
	ck_assert_int_eq(af_stats(c, &st), AF_OK);
	ck_assert_uint_eq(st->passes, 5);
	af_msg_free(st);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* Answers the first request only after the second arrived. */
static void
s_wait_again(int fd)
{
	Asyncflow__Request *a, *b;

	srv_hello(fd);
	a = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	b = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	srv_stats(fd, a->id, 1);
	srv_stats(fd, b->id, 2);
	af_msg_free(a);
	af_msg_free(b);
	srv_drain(fd);
}

START_TEST(test_wait_again_and_forget)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Stats op = ASYNCFLOW__STATS__INIT;
	Asyncflow__Response *resp;
	struct fake f;
	af_conn *c = fake_connect(&f, s_wait_again);
	uint64_t a, b;

	req.op_case = ASYNCFLOW__REQUEST__OP_STATS;
	req.stats = &op;
	ck_assert_int_eq(af_send_request(c, &req, &a), AF_OK);
	ck_assert_int_eq(af_wait_response(c, a, 50, &resp), AF_ETIMEDOUT);
	ck_assert_ptr_null(resp);
	ck_assert_int_eq(af_send_request(c, &req, &b), AF_OK);
	ck_assert_int_eq(af_forget_response(c, b), AF_OK);
	ck_assert_int_eq(af_forget_response(c, b), AF_EINVAL);
	ck_assert_int_eq(af_wait_response(c, a, 5000, &resp), AF_OK);
	ck_assert_uint_eq(resp->stats->passes, 1);
	af_msg_free(resp);
	ck_assert_int_eq(af_wait_response(c, b, 0, &resp), AF_EINVAL);
	ck_assert_int_eq(af_flush(c, 1000), AF_OK);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* Signals during waits: the calls go on, and the timeout still counts
 * from the start. */

static void
s_slow(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	usleep(200 * 1000);
	srv_show(fd, req->id, req->show->activation);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_eintr)
{
	struct sigaction sa;
	struct itimerval it;
	Asyncflow__ActivationInfo *ai;
	Asyncflow__Event *ev;
	struct fake f;
	af_conn *c;
	int64_t t0, dt;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0;		/* no SA_RESTART: poll sees EINTR */
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	c = fake_connect(&f, s_slow);	/* its thread blocks SIGALRM */
	memset(&it, 0, sizeof(it));
	it.it_interval.tv_usec = 10 * 1000;
	it.it_value.tv_usec = 10 * 1000;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);

	ck_assert_int_eq(af_show(c, 4, &ai), AF_OK);
	ck_assert_uint_eq(ai->id, 4);
	af_msg_free(ai);
	t0 = ms_now();
	ck_assert_int_eq(af_next_event(c, 120, &ev), AF_ETIMEDOUT);
	dt = ms_now() - t0;
	ck_assert_int_ge(dt, 119);
	ck_assert_int_lt(dt, 3000);

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	ck_assert_int_gt(alarms, 5);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- Pipelining a lot: sends and reads must not deadlock ------------------------- */

#define BIG_N 64
#define BIG_LEN (200 * 1024)

static void
s_echo_big(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ActivationInfo ai = ASYNCFLOW__ACTIVATION_INFO__INIT;
	char *big = malloc(BIG_LEN + 1);
	int i;

	ck_assert_ptr_nonnull(big);
	memset(big, 'b', BIG_LEN);
	big[BIG_LEN] = '\0';
	srv_hello(fd);
	for (i = 0; i < BIG_N; i++) {
		req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
		/* A large answer to every request, written as it comes. */
		ai.id = req->show->activation;
		ai.flow = big;
		ai.state = (char *)"Running";
		r.id = req->id;
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_SHOW;
		r.show = &ai;
		srv_respond(fd, &r);
		af_msg_free(req);
	}
	free(big);
	srv_drain(fd);
}

START_TEST(test_pipeline_big)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ShowActivation op = ASYNCFLOW__SHOW_ACTIVATION__INIT;
	Asyncflow__Response *resp;
	struct fake f;
	af_conn *c = fake_connect(&f, s_echo_big);
	uint64_t ids[BIG_N];
	int i;

	req.op_case = ASYNCFLOW__REQUEST__OP_SHOW;
	req.show = &op;
	ck_assert_int_eq(af_set_timeout(c, 20000), AF_OK);
	ck_assert_int_eq(af_get_timeout(c), 20000);
	for (i = 0; i < BIG_N; i++) {
		op.activation = (uint64_t)i + 1;
		ck_assert_int_eq(af_send_request(c, &req, &ids[i]), AF_OK);
	}
	for (i = BIG_N - 1; i >= 0; i--) {
		ck_assert_int_eq(af_wait_response(c, ids[i], 20000, &resp), AF_OK);
		ck_assert_uint_eq(resp->show->id, (uint64_t)i + 1);
		ck_assert_uint_eq(strlen(resp->show->flow), BIG_LEN);
		af_msg_free(resp);
	}
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- Every call: what it sends and what it returns ------------------------------- */

static const uint8_t RES[AF_RESOLVER_LEN] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff,
};

static void
s_calls(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__Response r;
	Asyncflow__StartReply sr = ASYNCFLOW__START_REPLY__INIT;
	Asyncflow__MakeVowReply mv = ASYNCFLOW__MAKE_VOW_REPLY__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;
	Asyncflow__ActivationList al = ASYNCFLOW__ACTIVATION_LIST__INIT;
	Asyncflow__ActivationInfo a1 = ASYNCFLOW__ACTIVATION_INFO__INIT;
	Asyncflow__ActivationInfo *alist[1] = { &a1 };
	Asyncflow__JournalDump jd = ASYNCFLOW__JOURNAL_DUMP__INIT;
	Asyncflow__JournalEntry je = ASYNCFLOW__JOURNAL_ENTRY__INIT;
	Asyncflow__JournalEntry *jlist[1] = { &je };
	Asyncflow__WakeReply wr = ASYNCFLOW__WAKE_REPLY__INIT;

	srv_hello(fd);

	/* start with args and key */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_START);
	ck_assert_str_eq(req->start->flow, "echo");
	ck_assert_str_eq(req->start->idempotency_key, "k1");
	ck_assert_ptr_nonnull(req->start->args);
	ck_assert_int_eq(req->start->args->kind_case, ASYNCFLOW__VALUE__KIND_INT_VALUE);
	ck_assert_int_eq(req->start->args->int_value, -5);
	asyncflow__response__init(&r);
	sr.activation = 12;
	sr.outcome = 34;
	sr.existing = 1;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_START;
	r.start = &sr;
	srv_respond(fd, &r);
	af_msg_free(req);

	/* start without args and key */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_START);
	ck_assert_ptr_null(req->start->args);
	ck_assert_str_eq(req->start->idempotency_key, "");
	sr.existing = 0;
	r.id = req->id;
	srv_respond(fd, &r);
	af_msg_free(req);

	/* mkvow */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_MKVOW);
	asyncflow__response__init(&r);
	mv.vow = 56;
	mv.resolver.len = AF_RESOLVER_LEN;
	mv.resolver.data = (uint8_t *)RES;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_MKVOW;
	r.mkvow = &mv;
	srv_respond(fd, &r);
	af_msg_free(req);

	/* settle */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SETTLE);
	ck_assert_uint_eq(req->settle->vow, 56);
	ck_assert(req->settle->reject);
	ck_assert_uint_eq(req->settle->resolver.len, AF_RESOLVER_LEN);
	ck_assert_mem_eq(req->settle->resolver.data, RES, AF_RESOLVER_LEN);
	ck_assert_int_eq(req->settle->value->kind_case, ASYNCFLOW__VALUE__KIND_ERROR_VALUE);
	ck_assert_str_eq(req->settle->value->error_value->name, "Oops");
	asyncflow__response__init(&r);
	vi.vow = 56;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_REJECTED;
	vi.value = req->settle->value;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r.vow = &vi;
	srv_respond(fd, &r);
	af_msg_free(req);

	/* watch_vow, then the event */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_WATCH_VOW);
	ck_assert_uint_eq(req->watch_vow->vow, 57);
	vi.vow = 57;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING;
	vi.value = NULL;
	r.id = req->id;
	srv_respond(fd, &r);
	srv_event(fd, 57, 570);
	af_msg_free(req);

	/* list */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_LIST);
	ck_assert_str_eq(req->list->state, "Failed");
	ck_assert_uint_eq(req->list->after, 3);
	ck_assert_uint_eq(req->list->limit, 10);
	asyncflow__response__init(&r);
	a1.id = 4;
	a1.flow = (char *)"f";
	a1.state = (char *)"Failed";
	a1.failure = (char *)"boom";
	al.n_activations = 1;
	al.activations = alist;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_LIST;
	r.list = &al;
	srv_respond(fd, &r);
	af_msg_free(req);

	/* failures: same list */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_FAILURES);
	r.id = req->id;
	srv_respond(fd, &r);
	af_msg_free(req);

	/* journal */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_JOURNAL);
	ck_assert_uint_eq(req->journal->activation, 4);
	asyncflow__response__init(&r);
	je.kind = ASYNCFLOW__ENTRY_KIND__CHECK_CALL;
	je.target = (char *)"clock";
	je.method = (char *)"now";
	jd.n_entries = 1;
	jd.entries = jlist;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_JOURNAL;
	r.journal = &jd;
	srv_respond(fd, &r);
	af_msg_free(req);

	/* wake: one with a WakeReply, one with no result at all */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_WAKE);
	ck_assert_uint_eq(req->wake->activation, 4);
	asyncflow__response__init(&r);
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_WAKE;
	r.wake = &wr;
	srv_respond(fd, &r);
	af_msg_free(req);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_WAKE);
	ck_assert_uint_eq(req->wake->activation, 0);
	asyncflow__response__init(&r);
	r.id = req->id;
	srv_respond(fd, &r);
	af_msg_free(req);

	/* stats */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	srv_stats(fd, req->id, 99);
	af_msg_free(req);

	/* get_vow without wait */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	ck_assert(!req->get_vow->wait);
	asyncflow__response__init(&r);
	vi.vow = req->get_vow->vow;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r.vow = &vi;
	srv_respond(fd, &r);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_calls)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Error e = ASYNCFLOW__ERROR__INIT;
	Asyncflow__VowInfo *vi;
	Asyncflow__ActivationList *l;
	Asyncflow__JournalDump *jd;
	Asyncflow__StatsReply *st;
	Asyncflow__Event *ev;
	uint8_t res[AF_RESOLVER_LEN];
	uint64_t act, outcome, vow;
	bool existing;
	struct fake f;
	af_conn *c = fake_connect(&f, s_calls);

	v.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	v.int_value = -5;
	ck_assert_int_eq(af_start(c, "echo", &v, "k1", &act, &outcome, &existing), AF_OK);
	ck_assert_uint_eq(act, 12);
	ck_assert_uint_eq(outcome, 34);
	ck_assert(existing);
	ck_assert_int_eq(af_start(c, "echo", NULL, NULL, NULL, NULL, &existing), AF_OK);
	ck_assert(!existing);

	ck_assert_int_eq(af_mkvow(c, &vow, res), AF_OK);
	ck_assert_uint_eq(vow, 56);
	ck_assert_mem_eq(res, RES, AF_RESOLVER_LEN);

	e.name = (char *)"Oops";
	e.message = (char *)"it broke";
	v.kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
	v.error_value = &e;
	ck_assert_int_eq(af_settle(c, 56, res, true, &v, &vi), AF_OK);
	ck_assert_int_eq(vi->state, ASYNCFLOW__VOW_STATUS__VOW_STATUS_REJECTED);
	ck_assert_str_eq(vi->value->error_value->message, "it broke");
	af_msg_free(vi);

	ck_assert_int_eq(af_watch_vow(c, 57, &vi), AF_OK);
	ck_assert_int_eq(vi->state, ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING);
	af_msg_free(vi);

	ck_assert_int_eq(af_list(c, "Failed", 3, 10, &l), AF_OK);
	ck_assert_uint_eq(l->n_activations, 1);
	ck_assert_uint_eq(l->activations[0]->id, 4);
	ck_assert_str_eq(l->activations[0]->failure, "boom");
	af_msg_free(l);
	ck_assert_int_eq(af_failures(c, &l), AF_OK);
	ck_assert_uint_eq(l->n_activations, 1);
	af_msg_free(l);

	ck_assert_int_eq(af_journal(c, 4, &jd), AF_OK);
	ck_assert_uint_eq(jd->n_entries, 1);
	ck_assert_str_eq(jd->entries[0]->target, "clock");
	af_msg_free(jd);

	ck_assert_int_eq(af_wake(c, 4), AF_OK);
	ck_assert_int_eq(af_wake(c, 0), AF_OK);

	ck_assert_int_eq(af_stats(c, &st), AF_OK);
	ck_assert_uint_eq(st->passes, 99);
	af_msg_free(st);

	/* The event from the watch waited in the queue all along. */
	ck_assert_int_eq(af_next_event(c, 0, &ev), AF_OK);
	ck_assert_uint_eq(ev->vow_settled->vow, 57);
	ck_assert_int_eq(ev->vow_settled->value->int_value, 570);
	af_msg_free(ev);

	/* Results may be dropped. */
	ck_assert_int_eq(af_get_vow(c, 58, false, 5000, NULL), AF_OK);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* A resolver of the wrong length from the daemon. */
static void
s_short_resolver(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__MakeVowReply mv = ASYNCFLOW__MAKE_VOW_REPLY__INIT;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_MKVOW);
	mv.vow = 1;
	mv.resolver.len = 3;
	mv.resolver.data = (uint8_t *)RES;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_MKVOW;
	r.mkvow = &mv;
	srv_respond(fd, &r);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_short_resolver)
{
	struct fake f;
	af_conn *c = fake_connect(&f, s_short_resolver);
	uint8_t res[AF_RESOLVER_LEN];
	uint64_t vow = 7;

	ck_assert_int_eq(af_mkvow(c, &vow, res), AF_EPROTO);
	ck_assert_uint_eq(vow, 0);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* Bad arguments are refused before anything is sent. */
static void
s_only_stats(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	/* The only request that reaches the daemon. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	srv_stats(fd, req->id, 3);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_bad_args)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Hello hello = ASYNCFLOW__HELLO__INIT;
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value big = ASYNCFLOW__VALUE__INIT;
	Asyncflow__List l = ASYNCFLOW__LIST__INIT;
	Asyncflow__Value one = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value *items[2] = { &one, NULL };
	Asyncflow__Response *resp;
	Asyncflow__StatsReply *st;
	Asyncflow__Event *ev;
	struct fake f;
	af_conn *c = fake_connect(&f, s_only_stats);
	uint64_t id = 5;
	char *s;

	/* No op, hello. */
	ck_assert_int_eq(af_send_request(c, &req, &id), AF_EINVAL);
	ck_assert_uint_eq(id, 0);
	req.op_case = ASYNCFLOW__REQUEST__OP_HELLO;
	req.hello = &hello;
	ck_assert_int_eq(af_send_request(c, &req, &id), AF_EINVAL);
	ck_assert_int_eq(af_request(c, &req, 100, &resp), AF_EINVAL);
	ck_assert_int_eq(af_send_request(c, NULL, &id), AF_EINVAL);
	ck_assert_int_eq(af_send_request(c, &req, NULL), AF_EINVAL);
	/* Structures protobuf-c could not pack. */
	ck_assert_int_eq(af_start(c, NULL, NULL, NULL, NULL, NULL, NULL), AF_EINVAL);
	ck_assert_str_ne(af_conn_errmsg(c), "");
	ck_assert_int_eq(af_settle(c, 1, NULL, false, NULL, NULL), AF_EINVAL);
	v.kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
	v.string_value = NULL;
	ck_assert_int_eq(af_start(c, "f", &v, NULL, NULL, NULL, NULL), AF_EINVAL);
	v.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	v.list_value = NULL;
	ck_assert_int_eq(af_start(c, "f", &v, NULL, NULL, NULL, NULL), AF_EINVAL);
	v.list_value = &l;
	l.n_items = 2;
	l.items = items;		/* items[1] is NULL */
	one.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	ck_assert_int_eq(af_start(c, "f", &v, NULL, NULL, NULL, NULL), AF_EINVAL);
	/* A list that contains itself: too deep, not a stack overflow. */
	items[1] = &v;
	ck_assert_int_eq(af_start(c, "f", &v, NULL, NULL, NULL, NULL), AF_ELIMIT);
	/* Over the frame limit. */
	s = malloc(AF_MAX_FRAME + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, 'x', AF_MAX_FRAME);
	s[AF_MAX_FRAME] = '\0';
	big.kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
	big.string_value = s;
	ck_assert_int_eq(af_start(c, "f", &big, NULL, NULL, NULL, NULL), AF_ELIMIT);
	free(s);
	/* NULL out-parameters where a result is needed. */
	ck_assert_int_eq(af_wait_response(c, 1, 0, NULL), AF_EINVAL);
	ck_assert_int_eq(af_next_event(c, 0, NULL), AF_EINVAL);
	ck_assert_int_eq(af_next_event(NULL, 0, &ev), AF_EINVAL);
	ck_assert_int_eq(af_forget_response(c, 12345), AF_EINVAL);
	ck_assert_int_eq(af_set_timeout(NULL, 5), AF_EINVAL);
	ck_assert_int_eq(af_flush(NULL, 5), AF_EINVAL);
	ck_assert_ptr_nonnull(af_conn_errmsg(NULL));
	ck_assert_int_eq(af_conn_fd(NULL), -1);
	af_msg_free(NULL);
	af_close(NULL);
	/* Nothing of that reached the daemon; the connection works. */
	ck_assert_int_eq(af_stats(c, &st), AF_OK);
	ck_assert_uint_eq(st->passes, 3);
	af_msg_free(st);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* Requests nesting AF_MAX_DEPTH messages are sent; deeper ones are not. */
static void
s_deep_request(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__StartReply sr = ASYNCFLOW__START_REPLY__INIT;
	const Asyncflow__Value *v;
	int n;

	srv_hello(fd);
	/* The only start that reaches the daemon. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_START);
	for (n = 0, v = req->start->args; v->kind_case ==
	    ASYNCFLOW__VALUE__KIND_LIST_VALUE; n++)
		v = v->list_value->items[0];
	ck_assert_int_eq(n, (AF_MAX_DEPTH - 3) / 2);
	ck_assert_int_eq(v->kind_case, ASYNCFLOW__VALUE__KIND_ERROR_VALUE);
	sr.activation = 1;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_START;
	r.start = &sr;
	srv_respond(fd, &r);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_deep_request)
{
	/* Request, StartFlow, then the value: Value + (List + Value) per list. */
	enum { LISTS = (AF_MAX_DEPTH - 3) / 2 + 1 };
	static Asyncflow__Value v[LISTS + 1];
	static Asyncflow__List l[LISTS];
	static Asyncflow__Value *items[LISTS];
	Asyncflow__Error e = ASYNCFLOW__ERROR__INIT;
	struct fake f;
	af_conn *c = fake_connect(&f, s_deep_request);
	uint64_t act = 0;
	int i;

	for (i = 0; i < LISTS; i++) {
		asyncflow__value__init(&v[i]);
		asyncflow__list__init(&l[i]);
		v[i].kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
		v[i].list_value = &l[i];
		l[i].n_items = 1;
		l[i].items = &items[i];
		items[i] = &v[i + 1];
	}
	/* Around an int: 3 + 2 * LISTS = AF_MAX_DEPTH + 1 messages, refused. */
	asyncflow__value__init(&v[LISTS]);
	v[LISTS].kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	ck_assert_int_eq(af_start(c, "f", &v[0], NULL, &act, NULL, NULL),
	    AF_ELIMIT);
	ck_assert_msg(strstr(af_conn_errmsg(c), "AF_MAX_DEPTH") != NULL, "%s",
	    af_conn_errmsg(c));
	/* One list less around an error (a message more): AF_MAX_DEPTH, sent. */
	e.name = (char *)"E";
	v[LISTS].kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
	v[LISTS].error_value = &e;
	ck_assert_int_eq(af_start(c, "f", &v[1], NULL, &act, NULL, NULL), AF_OK);
	ck_assert_uint_eq(act, 1);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- asyncflowctl against the fake daemon ------------------------------------------ */

static char ctl_path[PATH_MAX + 32];

/* The asyncflowctl built beside this test (B/tests/check_client ->
 * B/asyncflowctl), or NULL. */
static const char *
ctl(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return NULL;
	*slash = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return NULL;
	*slash = '\0';
	snprintf(ctl_path, sizeof(ctl_path), "%s/asyncflowctl", self);
	return access(ctl_path, X_OK) == 0 ? ctl_path : NULL;
}

struct run {
	int	status;		/* exit status, or -1 if it died */
	char	out[8192];
	char	err[8192];
};

static void
slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	for (;;) {
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap - 1) {
			char junk[512];
			while (read(fd, junk, sizeof(junk)) > 0)
				;
			break;
		}
	}
	buf[n] = '\0';
}

/* Runs asyncflowctl with argv (NULL-terminated, without argv[0]); the
 * environment's ASYNCFLOW_SOCKET is set to `sock` (NULL: unset). */
static void
run_ctl(struct run *r, const char *sock, const char *const *args)
{
	const char *argv[32];
	int po[2], pe[2], st, i;
	pid_t pid;

	argv[0] = "asyncflowctl";
	for (i = 0; args[i] != NULL && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	ck_assert_int_eq(pipe(po), 0);
	ck_assert_int_eq(pipe(pe), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		if (sock != NULL)
			setenv("ASYNCFLOW_SOCKET", sock, 1);
		else
			unsetenv("ASYNCFLOW_SOCKET");
		execv(ctl_path, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	slurp(po[0], r->out, sizeof(r->out));
	slurp(pe[0], r->err, sizeof(r->err));
	close(po[0]);
	close(pe[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The CLI tests need asyncflowctl built beside this test (make builds
 * both); without it they fail rather than pass untested. */
#define NEED_CTL() do {							\
	ck_assert_msg(ctl() != NULL, "asyncflowctl is not built beside "	\
	    "this test");						\
} while (0)

/* What the fake daemon saw, for the test to inspect. */
static Asyncflow__Request *seen;

static const Asyncflow__Value *
field(const Asyncflow__Value *rec, size_t i, const char *key)
{
	ck_assert_int_eq(rec->kind_case, ASYNCFLOW__VALUE__KIND_RECORD_VALUE);
	ck_assert_uint_gt(rec->record_value->n_fields, i);
	ck_assert_str_eq(rec->record_value->fields[i]->key, key);
	return rec->record_value->fields[i]->value;
}

static void
s_ctl_start(int fd)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__StartReply sr = ASYNCFLOW__START_REPLY__INIT;

	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_START);
	sr.activation = 5;
	sr.outcome = 6;
	r.id = seen->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_START;
	r.start = &sr;
	srv_respond(fd, &r);
	srv_drain(fd);
}

START_TEST(test_ctl_start_json_to_value)
{
	const char *args[] = {
		"-s", NULL, "start", "echo",
		"{\"b\": 1, \"a\": [1.5, 2, \"x\", null, true, {\"@vow\": 3}, "
		"{\"@resolver\": 4}, {\"@obj\": \"bank\"}, {\"@bytes\": \"AAEC/w==\"}, "
		"{\"@error\": {\"name\": \"E\", \"message\": \"m\"}}, "
		"{\"@record\": {\"@k\": 1, \"Z\": {}}}, 1.0, -7, {\"@double\": \"-inf\"}], "
		"\"\\u00e9\": false, \"B\": \"\"}",
		"--key", "K1", NULL,
	};
	const Asyncflow__Value *a, *it, *rv;
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_start);
	args[1] = f.path;
	run_ctl(&r, NULL, args);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "{\"activation\":5,\"outcome\":{\"@vow\":6}}\n");
	ck_assert_ptr_nonnull(seen);
	ck_assert_str_eq(seen->start->flow, "echo");
	ck_assert_str_eq(seen->start->idempotency_key, "K1");
	/* Keys sorted bytewise: "B" < "a" < "b" < "\xc3\xa9". */
	rv = seen->start->args;
	ck_assert_uint_eq(rv->record_value->n_fields, 4);
	ck_assert_str_eq(field(rv, 0, "B")->string_value, "");
	a = field(rv, 1, "a");
	ck_assert_int_eq(field(rv, 2, "b")->int_value, 1);
	ck_assert_int_eq(field(rv, 3, "\xc3\xa9")->kind_case,
	    ASYNCFLOW__VALUE__KIND_BOOL_VALUE);
	ck_assert_int_eq(a->kind_case, ASYNCFLOW__VALUE__KIND_LIST_VALUE);
	ck_assert_uint_eq(a->list_value->n_items, 14);
	it = a->list_value->items[0];
	ck_assert_int_eq(it->kind_case, ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE);
	ck_assert(it->double_value == 1.5);
	it = a->list_value->items[1];
	ck_assert_int_eq(it->kind_case, ASYNCFLOW__VALUE__KIND_INT_VALUE);
	ck_assert_int_eq(it->int_value, 2);
	ck_assert_str_eq(a->list_value->items[2]->string_value, "x");
	ck_assert_int_eq(a->list_value->items[3]->kind_case, ASYNCFLOW__VALUE__KIND_NULL_VALUE);
	ck_assert(a->list_value->items[3]->null_value);
	ck_assert(a->list_value->items[4]->bool_value);
	ck_assert_int_eq(a->list_value->items[5]->kind_case, ASYNCFLOW__VALUE__KIND_VOW_ID);
	ck_assert_uint_eq(a->list_value->items[5]->vow_id, 3);
	ck_assert_int_eq(a->list_value->items[6]->kind_case, ASYNCFLOW__VALUE__KIND_RESOLVER_ID);
	ck_assert_uint_eq(a->list_value->items[6]->resolver_id, 4);
	ck_assert_str_eq(a->list_value->items[7]->obj_name, "bank");
	it = a->list_value->items[8];
	ck_assert_int_eq(it->kind_case, ASYNCFLOW__VALUE__KIND_BYTES_VALUE);
	ck_assert_uint_eq(it->bytes_value.len, 4);
	ck_assert_mem_eq(it->bytes_value.data, "\x00\x01\x02\xff", 4);
	it = a->list_value->items[9];
	ck_assert_str_eq(it->error_value->name, "E");
	ck_assert_str_eq(it->error_value->message, "m");
	it = a->list_value->items[10];
	ck_assert_int_eq(field(it, 0, "@k")->int_value, 1);
	ck_assert_uint_eq(field(it, 1, "Z")->record_value->n_fields, 0);
	it = a->list_value->items[11];
	ck_assert_int_eq(it->kind_case, ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE);
	ck_assert(it->double_value == 1.0);
	ck_assert_int_eq(a->list_value->items[12]->int_value, -7);
	ck_assert(isinf(a->list_value->items[13]->double_value) &&
	    a->list_value->items[13]->double_value < 0);
	af_msg_free(seen);
	seen = NULL;
}
END_TEST

/* show: every kind of value out, the activation's shape. */
static void
s_ctl_show(int fd)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ActivationInfo ai = ASYNCFLOW__ACTIVATION_INFO__INIT;
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT, v[16];
	Asyncflow__Value *items[16];
	Asyncflow__List l = ASYNCFLOW__LIST__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT, inner = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field fa = ASYNCFLOW__FIELD__INIT, fb = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field *fields[2] = { &fa, &fb }, *ifields[1] = { &fb };
	Asyncflow__Error e = ASYNCFLOW__ERROR__INIT;
	uint64_t waiting[2] = { 8, 9 };
	size_t i, n = 0;

	for (i = 0; i < 16; i++) {
		asyncflow__value__init(&v[i]);
		items[i] = &v[i];
	}
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE, v[n++].double_value = 1.0;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE, v[n++].double_value = 0.1;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE, v[n++].double_value = INFINITY;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE, v[n++].int_value = INT64_MIN;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_NULL_VALUE, v[n++].null_value = 1;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_BOOL_VALUE, v[n++].bool_value = 0;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE, v[n++].string_value = (char *)"h\"i";
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_BYTES_VALUE;
	v[n].bytes_value.len = 5, v[n++].bytes_value.data = (uint8_t *)"hello";
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID, v[n++].vow_id = 3;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_RESOLVER_ID, v[n++].resolver_id = 4;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_OBJ_NAME, v[n++].obj_name = (char *)"bank";
	e.name = (char *)"TypeError";
	e.message = (char *)"nope";
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE, v[n++].error_value = &e;
	/* {"@at": 1, "x": {"x": 1}} must come out wrapped in @record. */
	fa.key = (char *)"@at";
	fa.value = &v[13];
	fb.key = (char *)"x";
	fb.value = &v[14];
	v[13].kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE, v[13].int_value = 1;
	v[14].kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE, v[14].record_value = &inner;
	inner.n_fields = 0;
	inner.fields = ifields;
	rec.n_fields = 2;
	rec.fields = fields;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE, v[n++].record_value = &rec;
	l.n_items = n;
	l.items = items;
	args.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	args.list_value = &l;

	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	ai.id = seen->show->activation;
	ai.flow = (char *)"payment";
	ai.state = (char *)"Failed";
	ai.args = &args;
	ai.outcome = 7;
	ai.n_waiting_on = 2;
	ai.waiting_on = waiting;
	ai.journal_length = 12;
	ai.failure = (char *)"diverged at 3";
	ai.incarnation = 2;
	r.id = seen->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_SHOW;
	r.show = &ai;
	srv_respond(fd, &r);
	srv_drain(fd);
}

START_TEST(test_ctl_show_value_to_json)
{
	const char *args[] = { "show", "31", NULL };
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_show);
	run_ctl(&r, f.path, args);	/* socket from $ASYNCFLOW_SOCKET */
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "{\"activation\":31,\"flow\":\"payment\",\"state\":\"Failed\","
	    "\"args\":[1.0,0.1,{\"@double\":\"inf\"},-9223372036854775808,null,"
	    "false,\"h\\\"i\",{\"@bytes\":\"aGVsbG8=\"},{\"@vow\":3},"
	    "{\"@resolver\":4},{\"@obj\":\"bank\"},"
	    "{\"@error\":{\"name\":\"TypeError\",\"message\":\"nope\"}},"
	    "{\"@record\":{\"@at\":1,\"x\":{}}}],"
	    "\"outcome\":{\"@vow\":7},\"waiting_on\":[{\"@vow\":8},{\"@vow\":9}],"
	    "\"journal_length\":12,\"failure\":\"diverged at 3\","
	    "\"incarnation\":2}\n");
	ck_assert_uint_eq(seen->show->activation, 31);
	af_msg_free(seen);
	seen = NULL;
}
END_TEST

static void
s_ctl_journal(int fd)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__JournalDump jd = ASYNCFLOW__JOURNAL_DUMP__INIT;
	Asyncflow__JournalEntry e[6], *ep[6];
	Asyncflow__Value iv = ASYNCFLOW__VALUE__INIT, ev = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Error err = ASYNCFLOW__ERROR__INIT;
	int i;

	iv.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	iv.int_value = 1;
	err.name = (char *)"E";
	ev.kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
	ev.error_value = &err;
	for (i = 0; i < 6; i++) {
		asyncflow__journal_entry__init(&e[i]);
		e[i].incarnation = 1;
		ep[i] = &e[i];
	}
	e[0].kind = ASYNCFLOW__ENTRY_KIND__CHECK_CALL;
	e[0].target = (char *)"clock";
	e[0].method = (char *)"now";
	e[0].args = &iv;
	e[1].kind = ASYNCFLOW__ENTRY_KIND__DO_RETURN;
	e[1].value = &iv;
	e[2].kind = ASYNCFLOW__ENTRY_KIND__CHECK_SEND;
	e[2].target = (char *)"bank";
	e[2].method = (char *)"pay";
	e[2].call_index = 2;
	e[3].kind = ASYNCFLOW__ENTRY_KIND__DO_THROW;
	e[3].call_index = 2;
	e[3].value = &ev;
	e[4].kind = ASYNCFLOW__ENTRY_KIND__DO_FULFILL;
	e[4].vow = 9;
	e[4].value = &iv;
	e[5].kind = ASYNCFLOW__ENTRY_KIND__DO_REJECT;
	e[5].vow = 10;
	e[5].value = &ev;
	e[5].incarnation = 2;
	jd.n_entries = 6;
	jd.entries = ep;
	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_JOURNAL);
	r.id = seen->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_JOURNAL;
	r.journal = &jd;
	srv_respond(fd, &r);
	af_msg_free(seen);
	seen = NULL;
	srv_drain(fd);
}

START_TEST(test_ctl_journal)
{
	const char *args[] = { "journal", "3", NULL };
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_journal);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "["
	    "{\"index\":0,\"kind\":\"checkCall\",\"target\":\"clock\",\"method\":\"now\","
	    "\"args\":1,\"callIndex\":0,\"incarnation\":1},"
	    "{\"index\":1,\"kind\":\"doReturn\",\"callIndex\":0,\"result\":1,\"incarnation\":1},"
	    "{\"index\":2,\"kind\":\"checkSend\",\"target\":\"bank\",\"method\":\"pay\","
	    "\"args\":null,\"callIndex\":2,\"incarnation\":1},"
	    "{\"index\":3,\"kind\":\"doThrow\",\"callIndex\":2,"
	    "\"error\":{\"@error\":{\"name\":\"E\",\"message\":\"\"}},\"incarnation\":1},"
	    "{\"index\":4,\"kind\":\"doFulfill\",\"vow\":{\"@vow\":9},\"value\":1,"
	    "\"incarnation\":1},"
	    "{\"index\":5,\"kind\":\"doReject\",\"vow\":{\"@vow\":10},"
	    "\"reason\":{\"@error\":{\"name\":\"E\",\"message\":\"\"}},\"incarnation\":2}"
	    "]\n");
}
END_TEST

/* settle: the resolver from hex, --reject; mkvow prints hex. */
static void
s_ctl_mkvow_settle(int fd)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__MakeVowReply mv = ASYNCFLOW__MAKE_VOW_REPLY__INIT;
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_MKVOW);
	mv.vow = 21;
	mv.resolver.len = AF_RESOLVER_LEN;
	mv.resolver.data = (uint8_t *)RES;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_MKVOW;
	r.mkvow = &mv;
	srv_respond(fd, &r);
	af_msg_free(req);
	srv_drain(fd);
}

static void
s_ctl_settle(int fd)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;

	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SETTLE);
	vi.vow = seen->settle->vow;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_REJECTED;
	vi.value = seen->settle->value;
	r.id = seen->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r.vow = &vi;
	srv_respond(fd, &r);
	srv_drain(fd);
}

START_TEST(test_ctl_mkvow_settle)
{
	const char *mk[] = { "mkvow", NULL };
	const char *st[] = {
		"settle", "21", "--reject", "{\"@error\": {\"name\": \"No\"}}",
		"--resolver=000102030405060708090A0B0C0D0EFF", NULL,
	};
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_mkvow_settle);
	run_ctl(&r, f.path, mk);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "{\"vow\":21,\"resolver\":\"000102030405060708090a0b0c0d0eff\"}\n");

	fake_listen(&f, s_ctl_settle);
	run_ctl(&r, f.path, st);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "{\"vow\":21,\"state\":\"rejected\"}\n");
	ck_assert(seen->settle->reject);
	ck_assert_mem_eq(seen->settle->resolver.data, RES, AF_RESOLVER_LEN);
	ck_assert_str_eq(seen->settle->value->error_value->name, "No");
	ck_assert_str_eq(seen->settle->value->error_value->message, "");
	af_msg_free(seen);
	seen = NULL;
}
END_TEST

/* vow --wait --timeout: the daemon never answers. */
static void
s_ctl_silent(int fd)
{
	srv_hello(fd);
	srv_drain(fd);
}

/* A daemon error reply. */
static void
s_ctl_notfound(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	srv_error(fd, req->id, AF_ENOTFOUND, "ENOTFOUND", "no vow 77");
	af_msg_free(req);
	srv_drain(fd);
}

/* Answers a get_vow of vow 77 without wait with `state` (value 42 when
 * settled). */
static void
srv_vow77(int fd, Asyncflow__VowStatus state)
{
	Asyncflow__Request *req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;

	ck_assert_uint_eq(req->get_vow->vow, 77);
	ck_assert(!req->get_vow->wait);
	v.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	v.int_value = 42;
	vi.vow = 77;
	vi.state = state;
	if (state != ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING)
		vi.value = &v;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r.vow = &vi;
	srv_respond(fd, &r);
	af_msg_free(req);
}

/* vow --wait --timeout: pending at first look, then never settled. */
static void
s_ctl_pending(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	srv_vow77(fd, ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	ck_assert(req->get_vow->wait);
	af_msg_free(req);
	srv_drain(fd);
}

/* Settled already: one look, no wait. */
static void
s_ctl_settled(int fd)
{
	srv_hello(fd);
	srv_vow77(fd, ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED);
	ck_assert_ptr_null(srv_recv(fd));
}

/* A stopped daemon: the connection is there, no answer to hello. */
static void
s_ctl_mute(int fd)
{
	srv_drain(fd);
}

START_TEST(test_ctl_errors)
{
	const char *wait[] = { "vow", "77", "--wait", "--timeout", "0.2", NULL };
	const char *now[] = { "vow", "77", "--wait", "--timeout", "0", NULL };
	const char *get[] = { "vow", "77", NULL };
	struct fake f;
	struct run r;
	int64_t t0, dt;

	NEED_CTL();
	fake_listen(&f, s_ctl_pending);
	t0 = ms_now();
	run_ctl(&r, f.path, wait);
	ck_assert_int_ge(ms_now() - t0, 199);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "not settled within 0.2 s") != NULL, "%s", r.err);

	/* --timeout 0 on a settled vow: its value, not a timeout. */
	fake_listen(&f, s_ctl_settled);
	run_ctl(&r, f.path, now);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "{\"vow\":77,\"state\":\"fulfilled\",\"value\":42}\n");
	/* ... and on a pending one: fails at once. */
	fake_listen(&f, s_ctl_pending);
	run_ctl(&r, f.path, now);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "not settled within 0 s") != NULL, "%s", r.err);

	/* A daemon that does not answer: about the timeout (at least the
	 * second connecting and a first look get), not AF_CONNECT_TIMEOUT_MS. */
	fake_listen(&f, s_ctl_mute);
	t0 = ms_now();
	run_ctl(&r, f.path, wait);
	dt = ms_now() - t0;
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "handshake") != NULL, "%s", r.err);
	ck_assert_int_ge(dt, 199);
	ck_assert_int_lt(dt, 5000);

	fake_listen(&f, s_ctl_notfound);
	run_ctl(&r, f.path, get);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "ENOTFOUND") && strstr(r.err, "no vow 77"),
	    "%s", r.err);

	/* No daemon at all. */
	run_ctl(&r, "/nonexistent-asyncflow/d.sock", get);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "/nonexistent-asyncflow/d.sock") != NULL,
	    "%s", r.err);
}
END_TEST

/* `levels` levels of JSON: nested lists (or records {"a": ...}) around 1. */
static char *
deep_json(int levels, bool records)
{
	size_t n = (size_t)levels * 6 + 2, o = 0;
	char *s = malloc(n);
	int i;

	ck_assert_ptr_nonnull(s);
	for (i = 1; i < levels; i++)
		o += (size_t)snprintf(s + o, n - o, "%s", records ? "{\"a\":" : "[");
	s[o++] = '1';
	for (i = 1; i < levels; i++)
		s[o++] = records ? '}' : ']';
	s[o] = '\0';
	return s;
}

/* The levels of a value the fake daemon received. */
static int
value_levels(const Asyncflow__Value *v)
{
	int n = 1;

	for (;;) {
		if (v->kind_case == ASYNCFLOW__VALUE__KIND_LIST_VALUE)
			v = v->list_value->items[0];
		else if (v->kind_case == ASYNCFLOW__VALUE__KIND_RECORD_VALUE)
			v = v->record_value->fields[0]->value;
		else
			return n;
		n++;
	}
}

/* Values deeper than 64 levels (AF_VALUE_MAX_DEPTH) are usage errors. */
START_TEST(test_ctl_depth)
{
	const char *args[] = { "start", "echo", NULL, NULL };
	char *j;
	struct fake f;
	struct run r;
	int records;

	NEED_CTL();
	for (records = 0; records < 2; records++) {
		fake_listen(&f, s_ctl_start);
		args[2] = j = deep_json(65, records);
		run_ctl(&r, f.path, args);
		free(j);
		ck_assert_msg(r.status == 2, "exit %d: %s", r.status, r.err);
		ck_assert_str_eq(r.out, "");
		ck_assert_msg(strstr(r.err, "at most 64 levels") != NULL, "%s",
		    r.err);
		args[2] = j = deep_json(64, records);
		run_ctl(&r, f.path, args);
		free(j);
		fake_join(&f);
		ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
		ck_assert_int_eq(value_levels(seen->start->args), 64);
		af_msg_free(seen);
		seen = NULL;
	}
}
END_TEST

/*
 * ls and failures in pages: the fake daemon refuses pages of more than 3
 * with AF_ELIMIT (as the daemon does when the answer would be larger than
 * a frame), and, from activation ls_huge_after on, any page.
 */
static uint32_t ls_limits[64];
static size_t nls;
static uint64_t ls_huge_after;
static const char *ls_state;

static void
s_ctl_ls(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__Response r;
	Asyncflow__ActivationList al;
	Asyncflow__ActivationInfo ai[3], *aip[3];
	uint64_t id;
	size_t i;

	srv_hello(fd);
	while ((req = srv_recv(fd)) != NULL) {
		ck_assert_int_eq(req->op_case, ASYNCFLOW__REQUEST__OP_LIST);
		ck_assert_str_eq(req->list->state, ls_state);
		ck_assert_uint_lt(nls, 64);
		ls_limits[nls++] = req->list->limit;
		if (req->list->limit > 3 || (ls_huge_after != 0 &&
		    req->list->after >= ls_huge_after)) {
			srv_error(fd, req->id, AF_ELIMIT, "ELIMIT", "the reply "
			    "would be 20000000 bytes, over the 17825792-byte "
			    "frame limit (list with `after` and `limit`)");
			af_msg_free(req);
			continue;
		}
		asyncflow__activation_list__init(&al);
		for (i = 0, id = req->list->after + 1;
		    i < req->list->limit && id <= 7; i++, id++) {
			asyncflow__activation_info__init(&ai[i]);
			ai[i].id = id;
			ai[i].flow = (char *)"f";
			ai[i].state = (char *)"Failed";
			ai[i].failure = (char *)"x";
			aip[i] = &ai[i];
		}
		al.n_activations = i;
		al.activations = aip;
		asyncflow__response__init(&r);
		r.id = req->id;
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_LIST;
		r.list = &al;
		srv_respond(fd, &r);
		af_msg_free(req);
	}
}

START_TEST(test_ctl_ls_pages)
{
	static const uint32_t want[] = {
		1000, 500, 250, 125, 62, 31, 15, 7, 3,	/* ids 1-3 */
		6, 3,					/* ids 4-6 */
		6, 3,					/* id 7: done */
	};
	const char *ls[] = { "ls", "--state", "Failed", NULL };
	const char *failures[] = { "failures", NULL };
	const char *const *cmds[2] = { ls, failures };
	const char *first = "[{\"activation\":1,\"flow\":\"f\",\"state\":"
	    "\"Failed\",\"args\":null,";
	const char *p;
	struct fake f;
	struct run r;
	size_t i;
	int k, n;

	NEED_CTL();
	ls_state = "Failed";
	for (k = 0; k < 2; k++) {
		nls = 0;
		ls_huge_after = 0;
		fake_listen(&f, s_ctl_ls);
		run_ctl(&r, f.path, cmds[k]);
		fake_join(&f);
		ck_assert_msg(r.status == 0, "%d: exit %d: %s", k, r.status, r.err);
		ck_assert_uint_eq(nls, sizeof(want) / sizeof(want[0]));
		for (i = 0; i < nls; i++)
			ck_assert_uint_eq(ls_limits[i], want[i]);
		ck_assert_msg(strncmp(r.out, first, strlen(first)) == 0, "%s",
		    r.out);
		for (n = 0, p = r.out; (p = strstr(p, "\"activation\":")) != NULL;
		    p++)
			n++;
		ck_assert_int_eq(n, 7);
		ck_assert_msg(strstr(r.out, "\"activation\":7,") != NULL &&
		    strstr(r.out, "\"failure\":\"x\"") != NULL, "%s", r.out);
	}

	/* An activation too large even alone. */
	nls = 0;
	ls_huge_after = 3;
	fake_listen(&f, s_ctl_ls);
	run_ctl(&r, f.path, ls);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "activation after 3 is too large") != NULL &&
	    strstr(r.err, "the reply would be") != NULL, "%s", r.err);
	ck_assert_uint_eq(ls_limits[nls - 1], 1);

	/* ls without --state asks for every state. */
	nls = 0;
	ls_huge_after = 0;
	ls_state = "";
	fake_listen(&f, s_ctl_ls);
	run_ctl(&r, f.path, (const char *const[]){ "ls", NULL });
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
}
END_TEST

/* Usage errors exit 2, send nothing (the fake daemon sees no connection),
 * and name the argument; --help exits 0 on stdout. */
START_TEST(test_ctl_usage)
{
	static const char *const bad[][8] = {
		{ NULL },
		{ "frob", NULL },
		{ "start", NULL },
		{ "start", "echo", "{\"a\":", NULL },
		{ "start", "echo", "{\"a\": 1, \"a\": 2}", NULL },
		{ "start", "echo", "{\"@x\": 1}", NULL },
		{ "start", "echo", "{\"@vow\": 1, \"b\": 2}", NULL },
		{ "start", "echo", "{\"@bytes\": \"abc\"}", NULL },
		{ "start", "echo", "{\"@vow\": -1}", NULL },
		{ "start", "echo", "{\"@error\": {\"name\": 1}}", NULL },
		{ "start", "echo", "1", "2", NULL },
		{ "start", "echo", "--bogus", NULL },
		{ "settle", "1", "2", NULL },
		{ "settle", "1", "--resolver", "00", "2", NULL },
		{ "settle", "x", "--resolver", "000102030405060708090a0b0c0d0eff", "2", NULL },
		{ "settle", "1", "--resolver", "000102030405060708090a0b0c0d0eff", NULL },
		{ "vow", NULL },
		{ "vow", "0", NULL },
		{ "vow", "1", "--timeout", "soon", NULL },
		{ "vow", "1", "--timeout", NULL },
		{ "ls", "--state", "Sleepy", NULL },
		{ "show", NULL },
		{ "show", "-3", NULL },
		{ "journal", "1", "2", NULL },
		{ "wake", "abc", NULL },
		{ "stats", "extra", NULL },
		{ "serve", NULL },
		{ "serve", "bank", NULL },
		{ "serve", "bank", "--", NULL },
		{ "serve", "", "--", "cat", NULL },
		{ "serve", "bank", "--bogus", "--", "cat", NULL },
		{ "serve", "bank", "more", "--", "cat", NULL },
	};
	static const char *const help[][3] = {
		{ "--help", NULL }, { "-h", NULL }, { "help", NULL },
		{ "mkvow", "--help", NULL }, { "start", "--help", NULL },
		{ "settle", "--help", NULL }, { "vow", "--help", NULL },
		{ "ls", "--help", NULL }, { "show", "--help", NULL },
		{ "journal", "--help", NULL }, { "failures", "--help", NULL },
		{ "wake", "--help", NULL }, { "stats", "--help", NULL },
		{ "serve", "--help", NULL },
	};
	struct fake f;
	struct pollfd pfd;
	struct run r;
	size_t i;

	NEED_CTL();
	fake_listen(&f, s_ctl_silent);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_ctl(&r, f.path, bad[i]);
		ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
		ck_assert_msg(r.out[0] == '\0', "case %zu: stdout %s", i, r.out);
		ck_assert_msg(strstr(r.err, "asyncflowctl") != NULL, "case %zu: %s",
		    i, r.err);
	}
	/* Bad JSON names its argument. */
	run_ctl(&r, f.path, bad[3]);
	ck_assert_msg(strstr(r.err, "ARGS_JSON") != NULL, "%s", r.err);
	run_ctl(&r, f.path, bad[7]);
	ck_assert_msg(strstr(r.err, "@bytes") != NULL, "%s", r.err);
	/* Nobody connected. */
	pfd.fd = f.listen_fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);

	for (i = 0; i < sizeof(help) / sizeof(help[0]); i++) {
		run_ctl(&r, f.path, help[i]);
		ck_assert_msg(r.status == 0, "help %zu: exit %d", i, r.status);
		ck_assert_msg(strncmp(r.out, "usage: asyncflowctl", 19) == 0,
		    "help %zu: %s", i, r.out);
		ck_assert_str_eq(r.err, "");
	}
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	/* Let the fake daemon go: connect and hang up. */
	{
		af_conn *c;
		char err[256];

		ck_assert_int_eq(af_connect(f.path, &c, err, sizeof(err)), AF_OK);
		af_close(c);
	}
	fake_join(&f);
}
END_TEST

/* ---- Serving an object ------------------------------------------------------------ */

static const uint8_t RES2[AF_RESOLVER_LEN] = {
	0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42,
};

/* Pushes an invocation of bank.`method` with result vow `vow` (resolver
 * RES, cut to res_len bytes), sent by activation 7, granting resolver 9
 * (RES2). */
static void
srv_invocation(int fd, uint64_t vow, const char *method,
    Asyncflow__Value *args, size_t res_len)
{
	Asyncflow__ServerMessage sm = ASYNCFLOW__SERVER_MESSAGE__INIT;
	Asyncflow__Event ev = ASYNCFLOW__EVENT__INIT;
	Asyncflow__Invocation inv = ASYNCFLOW__INVOCATION__INIT;
	Asyncflow__ResolverGrant g = ASYNCFLOW__RESOLVER_GRANT__INIT;
	Asyncflow__ResolverGrant *gl[1] = { &g };

	g.vow = 9;
	g.resolver.len = AF_RESOLVER_LEN;
	g.resolver.data = (uint8_t *)RES2;
	inv.vow = vow;
	inv.resolver.len = res_len;
	inv.resolver.data = (uint8_t *)RES;
	inv.object = (char *)"bank";
	inv.method = (char *)method;
	inv.args = args;
	inv.activation = 7;
	inv.n_grants = 1;
	inv.grants = gl;
	ev.kind_case = ASYNCFLOW__EVENT__KIND_INVOCATION;
	ev.invocation = &inv;
	sm.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_EVENT;
	sm.event = &ev;
	srv_send(fd, &sm);
}

static void
srv_serve_reply(int fd, uint64_t id, uint64_t pending)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ServeReply sr = ASYNCFLOW__SERVE_REPLY__INIT;

	sr.pending = pending;
	r.id = id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_SERVE;
	r.serve = &sr;
	srv_respond(fd, &r);
}

/* {"amount": 5, "right": {"@resolver": 9}} */
static Asyncflow__Value *
transfer_args(void)
{
	static Asyncflow__Value v, amount, right;
	static Asyncflow__Record rec;
	static Asyncflow__Field fa, fr;
	static Asyncflow__Field *fields[2] = { &fa, &fr };

	asyncflow__value__init(&v);
	asyncflow__value__init(&amount);
	asyncflow__value__init(&right);
	asyncflow__record__init(&rec);
	asyncflow__field__init(&fa);
	asyncflow__field__init(&fr);
	amount.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	amount.int_value = 5;
	right.kind_case = ASYNCFLOW__VALUE__KIND_RESOLVER_ID;
	right.resolver_id = 9;
	fa.key = (char *)"amount";
	fa.value = &amount;
	fr.key = (char *)"right";
	fr.value = &right;
	rec.n_fields = 2;
	rec.fields = fields;
	v.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	v.record_value = &rec;
	return &v;
}

static void
s_serve(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	ck_assert_str_eq(req->serve->object, "bank");
	srv_serve_reply(fd, req->id, 2);
	srv_invocation(fd, 31, "deposit", transfer_args(), AF_RESOLVER_LEN);
	srv_invocation(fd, 32, "withdraw", NULL, AF_RESOLVER_LEN);
	af_msg_free(req);
	/* The answer to the first invocation. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SETTLE);
	ck_assert_uint_eq(req->settle->vow, 31);
	ck_assert_mem_eq(req->settle->resolver.data, RES, AF_RESOLVER_LEN);
	srv_error(fd, req->id, AF_ESETTLED, "ESETTLED", "vow 31 is settled");
	af_msg_free(req);
	/* The daemon refuses an empty name. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	ck_assert_str_eq(req->serve->object, "");
	srv_error(fd, req->id, AF_EINVAL, "EINVAL", "no object name");
	af_msg_free(req);
	/* A serve answered with something else. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	srv_stats(fd, req->id, 1);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_serve)
{
	const Asyncflow__Invocation *inv;
	Asyncflow__Event *ev;
	uint64_t pending = 99;
	struct fake f;
	af_conn *c = fake_connect(&f, s_serve);

	ck_assert_int_eq(af_serve(NULL, "bank", &pending), AF_EINVAL);
	ck_assert_uint_eq(pending, 0);
	/* NULL is refused before anything is sent. */
	pending = 99;
	ck_assert_int_eq(af_serve(c, NULL, &pending), AF_EINVAL);
	ck_assert_uint_eq(pending, 0);

	ck_assert_int_eq(af_serve(c, "bank", &pending), AF_OK);
	ck_assert_uint_eq(pending, 2);
	ck_assert_int_eq(af_next_event(c, 5000, &ev), AF_OK);
	ck_assert_int_eq(ev->kind_case, ASYNCFLOW__EVENT__KIND_INVOCATION);
	inv = ev->invocation;
	ck_assert_uint_eq(inv->vow, 31);
	ck_assert_uint_eq(inv->resolver.len, AF_RESOLVER_LEN);
	ck_assert_mem_eq(inv->resolver.data, RES, AF_RESOLVER_LEN);
	ck_assert_str_eq(inv->object, "bank");
	ck_assert_str_eq(inv->method, "deposit");
	ck_assert_uint_eq(inv->activation, 7);
	ck_assert_int_eq(field(inv->args, 0, "amount")->int_value, 5);
	ck_assert_uint_eq(field(inv->args, 1, "right")->resolver_id, 9);
	ck_assert_uint_eq(inv->n_grants, 1);
	ck_assert_uint_eq(inv->grants[0]->vow, 9);
	ck_assert_mem_eq(inv->grants[0]->resolver.data, RES2, AF_RESOLVER_LEN);
	/* Answering a redelivered invocation the daemon had settled. */
	ck_assert_int_eq(af_settle(c, inv->vow, inv->resolver.data, false, NULL,
	    NULL), AF_ESETTLED);
	af_msg_free(ev);
	ck_assert_int_eq(af_next_event(c, 5000, &ev), AF_OK);
	ck_assert_uint_eq(ev->invocation->vow, 32);
	ck_assert_ptr_null(ev->invocation->args);
	af_msg_free(ev);
	ck_assert_int_eq(af_next_event(c, 0, &ev), AF_ETIMEDOUT);

	ck_assert_int_eq(af_serve(c, "", NULL), AF_EINVAL);
	ck_assert_str_eq(af_conn_errmsg(c), "no object name");
	/* conn.c checks the kind of result, as for every call. */
	pending = 99;
	ck_assert_int_eq(af_serve(c, "bank", &pending), AF_EPROTO);
	ck_assert_uint_eq(pending, 0);
	ck_assert_msg(strstr(af_conn_errmsg(c), "wrong result") != NULL, "%s",
	    af_conn_errmsg(c));
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- asyncflowctl serve ----------------------------------------------------------- */

/* The settlements the fake daemon received, in order. */
static Asyncflow__Request *settles[16];
static size_t nsettles;

/* Takes the next settle and answers it (its value echoed); with code, an
 * error reply instead. */
static void
srv_take_settle(int fd, int code)
{
	Asyncflow__Request *req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SETTLE);
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;

	ck_assert_uint_lt(nsettles, 16);
	settles[nsettles++] = req;
	if (code != 0) {
		srv_error(fd, req->id, code, af_errname(code), "settled before");
		return;
	}
	vi.vow = req->settle->vow;
	vi.state = req->settle->reject ? ASYNCFLOW__VOW_STATUS__VOW_STATUS_REJECTED :
	    ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED;
	vi.value = req->settle->value;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r.vow = &vi;
	srv_respond(fd, &r);
}

static void
free_settles(void)
{
	while (nsettles > 0)
		af_msg_free(settles[--nsettles]);
}

/* The settlement of vow `vow`, checked: resolver RES, reject or not. */
static const Asyncflow__Value *
settled(size_t i, uint64_t vow, bool reject)
{
	const Asyncflow__SettleVow *s;

	ck_assert_uint_lt(i, nsettles);
	s = settles[i]->settle;
	ck_assert_uint_eq(s->vow, vow);
	ck_assert_uint_eq(s->resolver.len, AF_RESOLVER_LEN);
	ck_assert_mem_eq(s->resolver.data, RES, AF_RESOLVER_LEN);
	ck_assert_msg(s->reject == reject, "vow %llu: reject %d",
	    (unsigned long long)vow, (int)s->reject);
	ck_assert_ptr_nonnull(s->value);
	return s->value;
}

/* A rejection's error, checked for its name. */
static const char *
rejected(size_t i, uint64_t vow, const char *name)
{
	const Asyncflow__Value *v = settled(i, vow, true);

	ck_assert_int_eq(v->kind_case, ASYNCFLOW__VALUE__KIND_ERROR_VALUE);
	ck_assert_str_eq(v->error_value->name, name);
	return v->error_value->message;
}

/* One CMD answering per method: see test_ctl_serve. */
static const char serve_script[] =
	"in=$(cat)\n"
	"case $in in\n"
	"*'\"method\":\"answer\"'*) echo 42 ;;\n"
	"*'\"method\":\"fail\"'*) echo boom >&2; exit 3 ;;\n"
	"*'\"method\":\"garbage\"'*) echo 'this is not json' ;;\n"
	"*'\"method\":\"empty\"'*) ;;\n"
	"*'\"method\":\"badtag\"'*) echo '{\"@x\": 1}' ;;\n"
	"*'\"method\":\"silent\"'*) exit 4 ;;\n"
	"*'\"method\":\"killed\"'*) kill -9 $$ ;;\n"
	"*'\"method\":\"badutf8\"'*) printf 'bad \\377 byte\\n\\n' >&2; exit 1 ;;\n"
	"*) echo \"unexpected: $in\" >&2; exit 99 ;;\n"
	"esac\n";

static void
s_ctl_serve(int fd)
{
	Asyncflow__Request *req;
	int i;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	ck_assert_str_eq(req->serve->object, "bank");
	srv_serve_reply(fd, req->id, 2);
	af_msg_free(req);
	/* Two at once: answered in order, one at a time. */
	srv_invocation(fd, 101, "answer", transfer_args(), AF_RESOLVER_LEN);
	srv_invocation(fd, 102, "fail", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	srv_take_settle(fd, 0);
	/* Events that are not invocations are skipped; an invocation that
	 * cannot be answered (no resolver) too. */
	srv_event(fd, 5, 5);
	srv_invocation(fd, 103, "answer", NULL, 3);
	srv_invocation(fd, 104, "garbage", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	/* Already settled: logged, and serving goes on. */
	srv_invocation(fd, 105, "answer", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, AF_ESETTLED);
	for (i = 0; i < 5; i++) {
		static const char *const m[] = {
			"empty", "badtag", "silent", "killed", "badutf8",
		};

		srv_invocation(fd, 106 + (uint64_t)i, m[i], NULL, AF_RESOLVER_LEN);
		srv_take_settle(fd, 0);
	}
	/* Then the daemon goes away. */
}

START_TEST(test_ctl_serve)
{
	const char *args[] = {
		"serve", "bank", "--", "sh", "-c", serve_script, NULL,
	};
	const char *m;
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	ck_assert_uint_eq(nsettles, 9);

	/* exit 0 and a JSON value: fulfilled with it */
	ck_assert_int_eq(settled(0, 101, false)->kind_case,
	    ASYNCFLOW__VALUE__KIND_INT_VALUE);
	ck_assert_int_eq(settled(0, 101, false)->int_value, 42);
	/* non-zero exit: rejected with its stderr, less the newline */
	ck_assert_str_eq(rejected(1, 102, "Error"), "boom");
	/* 103 had no resolver: skipped */
	m = rejected(2, 104, "BadResult");
	ck_assert_msg(strstr(m, "not one JSON value") != NULL &&
	    strstr(m, "this is not json") != NULL, "%s", m);
	ck_assert_int_eq(settled(3, 105, false)->int_value, 42);
	m = rejected(4, 106, "BadResult");
	ck_assert_msg(strstr(m, "printed nothing") != NULL, "%s", m);
	m = rejected(5, 107, "BadResult");
	ck_assert_msg(strstr(m, "unknown tag \"@x\"") != NULL, "%s", m);
	ck_assert_str_eq(rejected(6, 108, "Error"), "sh exited with status 4");
	ck_assert_str_eq(rejected(7, 109, "Error"), "sh killed by signal 9");
	/* A message is valid UTF-8 whatever CMD wrote. */
	ck_assert_str_eq(rejected(8, 110, "Error"), "bad \xef\xbf\xbd byte");
	free_settles();

	/* One line per invocation on stderr, CMD's stderr passed on. */
	ck_assert_msg(strstr(r.err, "serving bank") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "bank.answer (vow 101): fulfilled") != NULL,
	    "%s", r.err);
	ck_assert_msg(strstr(r.err, "bank.fail (vow 102): rejected: Error: boom")
	    != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "boom\n") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "(vow 103): the daemon sent no resolver") !=
	    NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "(vow 105): already answered") != NULL,
	    "%s", r.err);
	ck_assert_msg(strstr(r.err, "lost the connection") != NULL, "%s", r.err);
}
END_TEST

/* The JSON on CMD's stdin, echoed back by cat as the result. */
static void
s_ctl_serve_cat(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	srv_serve_reply(fd, req->id, 0);
	af_msg_free(req);
	srv_invocation(fd, 201, "transfer", transfer_args(), AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
}

START_TEST(test_ctl_serve_stdin)
{
	const char *args[] = { "serve", "-q", "bank", "--", "cat", NULL };
	const Asyncflow__Value *v, *a, *res;
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve_cat);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	/* -q: no line per invocation */
	ck_assert_msg(strstr(r.err, "fulfilled") == NULL, "%s", r.err);
	ck_assert_uint_eq(nsettles, 1);
	v = settled(0, 201, false);
	/* {"method", "args", "vow"} and the extras, keys sorted bytewise. */
	ck_assert_int_eq(v->kind_case, ASYNCFLOW__VALUE__KIND_RECORD_VALUE);
	ck_assert_uint_eq(v->record_value->n_fields, 5);
	ck_assert_int_eq(field(v, 0, "activation")->int_value, 7);
	a = field(v, 1, "args");
	ck_assert_uint_eq(a->record_value->n_fields, 2);
	ck_assert_int_eq(field(a, 0, "amount")->int_value, 5);
	ck_assert_int_eq(field(a, 1, "right")->kind_case,
	    ASYNCFLOW__VALUE__KIND_RESOLVER_ID);
	ck_assert_uint_eq(field(a, 1, "right")->resolver_id, 9);
	ck_assert_str_eq(field(v, 2, "method")->string_value, "transfer");
	res = field(v, 3, "resolvers");
	ck_assert_uint_eq(res->record_value->n_fields, 1);
	ck_assert_str_eq(field(res, 0, "9")->string_value,
	    "deadbeef000000000000000000000042");
	ck_assert_int_eq(field(v, 4, "vow")->kind_case,
	    ASYNCFLOW__VALUE__KIND_INT_VALUE);
	ck_assert_int_eq(field(v, 4, "vow")->int_value, 201);
	free_settles();
}
END_TEST

/*
 * A CMD that never reads its stdin and writes much to stdout first: the
 * invocation's JSON (300 kB) and CMD's output (300 kB) are both more than
 * a pipe holds, so writing the one before reading the other would hang.
 */
static void
s_ctl_serve_big(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__Value big = ASYNCFLOW__VALUE__INIT;
	char *s = malloc(300001);

	ck_assert_ptr_nonnull(s);
	memset(s, 'x', 300000);
	s[300000] = '\0';
	big.kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
	big.string_value = s;
	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	srv_serve_reply(fd, req->id, 0);
	af_msg_free(req);
	srv_invocation(fd, 301, "big", &big, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	srv_invocation(fd, 302, "small", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	free(s);
}

START_TEST(test_ctl_serve_no_deadlock)
{
	const char *args[] = {
		"serve", "bank", "--", "sh", "-c",
		"head -c 300000 /dev/zero | tr '\\000' ' '; echo 7", NULL,
	};
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve_big);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_uint_eq(nsettles, 2);
	ck_assert_int_eq(settled(0, 301, false)->int_value, 7);
	ck_assert_int_eq(settled(1, 302, false)->int_value, 7);
	free_settles();
}
END_TEST

/* A result deeper than a value may be is a BadResult, not an exit (nor a
 * frame the daemon would refuse, closing the connection). */
static void
s_ctl_serve_deep(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	srv_serve_reply(fd, req->id, 0);
	af_msg_free(req);
	srv_invocation(fd, 501, "deep65", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	srv_invocation(fd, 502, "deep64", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
}

START_TEST(test_ctl_serve_depth)
{
	/* Prints the method's number of levels of nested lists around 1. */
	const char *args[] = {
		"serve", "bank", "--", "sh", "-c",
		"in=$(cat); case $in in *deep65*) n=64 ;; *) n=63 ;; esac; "
		"s=1; while [ $n -gt 0 ]; do s=\"[$s]\"; n=$((n - 1)); done; "
		"echo \"$s\"", NULL,
	};
	const char *m;
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve_deep);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_uint_eq(nsettles, 2);
	m = rejected(0, 501, "BadResult");
	ck_assert_msg(strstr(m, "at most 64 levels") != NULL, "%s", m);
	ck_assert_int_eq(value_levels(settled(1, 502, false)), 64);
	free_settles();
	ck_assert_msg(strstr(r.err, "lost the connection") != NULL, "%s", r.err);
}
END_TEST

/* A CMD that cannot be run: exit 1, the invocation left unanswered. */
static void
s_ctl_serve_nocmd(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	srv_serve_reply(fd, req->id, 1);
	af_msg_free(req);
	srv_invocation(fd, 401, "answer", NULL, AF_RESOLVER_LEN);
	/* Nothing comes but the end of the connection. */
	ck_assert_ptr_null(srv_recv(fd));
}

START_TEST(test_ctl_serve_nocmd)
{
	const char *args[] = {
		"serve", "bank", "--", "/nonexistent-asyncflow/cmd", NULL,
	};
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve_nocmd);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "cannot run /nonexistent-asyncflow/cmd") !=
	    NULL, "%s", r.err);
}
END_TEST

/* ---- Suite ------------------------------------------------------------------------ */

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("conn");
	TCase *cli = tcase_create("asyncflowctl");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_handshake_ok);
	tcase_add_test(tc, test_handshake_version_refused);
	tcase_add_test(tc, test_handshake_version_other);
	tcase_add_test(tc, test_handshake_closed);
	tcase_add_test(tc, test_connect_path);
	tcase_add_test(tc, test_connect_timeout);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_events_queued);
	tcase_add_test(tc, test_event_wait);
	tcase_add_test(tc, test_error_reply);
	tcase_add_test(tc, test_oversized_frame);
	tcase_add_test(tc, test_max_frame);
	tcase_add_test(tc, test_close_mid_frame);
	tcase_add_test(tc, test_closed_no_sigpipe);
	tcase_add_test(tc, test_garbage_frame);
	tcase_add_test(tc, test_deep_frame);
	tcase_add_test(tc, test_last_word);
	tcase_add_test(tc, test_unknown_id);
	tcase_add_test(tc, test_wrong_result);
	tcase_add_test(tc, test_partial_reads);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_wait_again_and_forget);
	tcase_add_test(tc, test_eintr);
	tcase_add_test(tc, test_pipeline_big);
	tcase_add_test(tc, test_calls);
	tcase_add_test(tc, test_short_resolver);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_deep_request);
	tcase_add_test(tc, test_serve);
	suite_add_tcase(s, tc);

	tcase_set_timeout(cli, 60);
	tcase_add_test(cli, test_ctl_start_json_to_value);
	tcase_add_test(cli, test_ctl_show_value_to_json);
	tcase_add_test(cli, test_ctl_journal);
	tcase_add_test(cli, test_ctl_mkvow_settle);
	tcase_add_test(cli, test_ctl_errors);
	tcase_add_test(cli, test_ctl_usage);
	tcase_add_test(cli, test_ctl_depth);
	tcase_add_test(cli, test_ctl_ls_pages);
	tcase_add_test(cli, test_ctl_serve);
	tcase_add_test(cli, test_ctl_serve_stdin);
	tcase_add_test(cli, test_ctl_serve_no_deadlock);
	tcase_add_test(cli, test_ctl_serve_nocmd);
	tcase_add_test(cli, test_ctl_serve_depth);
	suite_add_tcase(s, cli);
	return s;
}

TEST_MAIN(client_suite)
