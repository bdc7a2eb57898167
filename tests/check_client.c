/*
 * check_client.c: libasyncflow (client/) without a daemon: against the
 * fake daemon of fake_daemon.[ch], which follows a script per test: the
 * handshake, answers out of order, events pushed while the client waits,
 * frames that are too large, cut short, undecodable or trickled a byte at
 * a time, and answers that never come. asyncflowctl's tests are in
 * check_ctl.c.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "fake_daemon.h"
#include "frame.h"
#include "testutil.h"

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

	rc = af_connect_fd(fake_pair(&f, s_version_refused), &c, err,
	    sizeof(err));
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
	ck_assert_str_eq(err,
	    "connection closed by the daemon: EPROTO: frame "
	    "does not decode");
	fake_join(&f);
}
END_TEST

/* The daemon answers hello, but with another version. */
static void
s_version_other(int fd)
{
	srv_hello_version(fd, AF_PROTOCOL_VERSION + 1);
	srv_drain(fd);
}

START_TEST(test_handshake_version_other)
{
	struct fake f;
	char err[256];
	af_conn *c = NULL;
	int rc;

	rc = af_connect_fd(fake_pair(&f, s_version_other), &c, err,
	    sizeof(err));
	ck_assert_int_eq(rc, AF_EPROTO);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "version 3") && strstr(err, "version 2"),
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

	rc = af_connect_fd(fake_pair(&f, s_close_at_hello), &c, err,
	    sizeof(err));
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
	ck_assert_msg(strstr(err, "/nonexistent-asyncflow/d.sock") != NULL,
	    "%s", err);
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

/* A daemon refusing the connection (at its --max-connections): it says why
 * without reading the hello, then closes with the hello unread, which
 * Linux reports to the client as a reset after the data. */
static void
s_refuse_unread(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int nul;

	ck_assert_int_eq(poll(&p, 1, -1), 1); /* the hello is here */
	srv_error(fd, 0, AF_ELIMIT, "ELIMIT", "too many connections");
	/* Close the socket now, hello unread; the fake closes fd after us,
	 * so it becomes /dev/null in the same step. */
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(nul, 0);
	ck_assert_int_eq(dup2(nul, fd), fd);
	close(nul);
}

START_TEST(test_connect_refused_with_a_reason_unread_hello)
{
	struct fake f;
	char err[256];
	af_conn *c = NULL;
	int rc;

	fake_listen(&f, s_refuse_unread);
	rc = af_connect(f.path, &c, err, sizeof(err));
	ck_assert_int_ne(rc, AF_OK);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "too many connections") != NULL, "%s", err);
	fake_join(&f);
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
	fake_start(&f);
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
		ck_assert_int_eq(af_wait_response(c, id[i], 5000, &resp),
		    AF_OK);
		ck_assert_uint_eq(resp->id, id[i]);
		ck_assert_int_eq(resp->result_case,
		    ASYNCFLOW__RESPONSE__RESULT_SHOW);
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
	srv_error(fd, req->id, 5, "EWEIRD",
	    "positive code"); /* not an error code */
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
	af__put_be32(hdr, AF_MAX_FRAME + 1);
	write_full(fd, hdr, 4); /* and no body: checked before */
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

	fake_join(&f); /* the daemon's end is closed now */
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
	uint8_t *p;
	size_t off, cap;
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

	af__put_be32(hdr, (uint32_t)(b->cap - b->off));
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
		rb_wrap(&b, 1);  /* Error.name */
		rb_wrap(&b, 12); /* Value.error_value */
	} else {
		rb_uint(&b, 3, 2); /* Value.int_value = 1 (zigzag) */
	}
	for (i = 0; i < lists; i++) {
		rb_wrap(&b, 1); /* List.items */
		rb_wrap(&b, 7); /* Value.list_value */
	}
	rb_wrap(&b, 3); /* VowInfo.value */
	rb_uint(&b, 2, ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED);
	rb_uint(&b, 1, 1); /* VowInfo.vow */
	if (id != 0) {
		rb_wrap(&b, 6);     /* Response.vow */
		rb_uint(&b, 1, id); /* Response.id */
		rb_wrap(&b, 1);     /* ServerMessage.response */
	} else {
		rb_wrap(&b, 1); /* Event.vow_settled */
		rb_wrap(&b, 2); /* ServerMessage.event */
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
	for (n = 0, v = vi->value;
	     v->kind_case == ASYNCFLOW__VALUE__KIND_LIST_VALUE; n++)
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
	ck_assert_str_eq(af_conn_errmsg(c),
	    "connection closed by the daemon: "
	    "ETIMEDOUT: the client was too slow");
	/* Sticky, with the same text. */
	ck_assert_int_eq(af_stats(c, &st), AF_ECONN);
	ck_assert_str_eq(af_conn_errmsg(c),
	    "connection closed by the daemon: "
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
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;

	srv_hello(fd);
	gv = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	ck_assert(gv->get_vow->wait);
	ck_assert_uint_eq(gv->get_vow->vow, 3);
	st = srv_expect(fd, ASYNCFLOW__REQUEST__OP_STATS);
	vi.vow = 3;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING;
	srv_reply(fd, gv->id, ASYNCFLOW__RESPONSE__RESULT_VOW, &vi);
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
	sa.sa_flags = 0; /* no SA_RESTART: poll sees EINTR */
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	c = fake_connect(&f, s_slow); /* its thread blocks SIGALRM */
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

#define BIG_N   64
#define BIG_LEN (200 * 1024)

static void
s_echo_big(int fd)
{
	Asyncflow__Request *req;
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
		srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_SHOW, &ai);
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
		ck_assert_int_eq(af_wait_response(c, ids[i], 20000, &resp),
		    AF_OK);
		ck_assert_uint_eq(resp->show->id, (uint64_t)i + 1);
		ck_assert_uint_eq(strlen(resp->show->flow), BIG_LEN);
		af_msg_free(resp);
	}
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- Every call: what it sends and what it returns ------------------------------- */

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
	ck_assert_int_eq(req->start->args->kind_case,
	    ASYNCFLOW__VALUE__KIND_INT_VALUE);
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
	mv.resolver.data = (uint8_t *)fake_res;
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
	ck_assert_mem_eq(req->settle->resolver.data, fake_res, AF_RESOLVER_LEN);
	ck_assert_int_eq(req->settle->value->kind_case,
	    ASYNCFLOW__VALUE__KIND_ERROR_VALUE);
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
	ck_assert_int_eq(af_start(c, "echo", &v, "k1", &act, &outcome,
			     &existing),
	    AF_OK);
	ck_assert_uint_eq(act, 12);
	ck_assert_uint_eq(outcome, 34);
	ck_assert(existing);
	ck_assert_int_eq(af_start(c, "echo", NULL, NULL, NULL, NULL, &existing),
	    AF_OK);
	ck_assert(!existing);

	ck_assert_int_eq(af_mkvow(c, &vow, res), AF_OK);
	ck_assert_uint_eq(vow, 56);
	ck_assert_mem_eq(res, fake_res, AF_RESOLVER_LEN);

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

/* af_cancel: the request as sent, its reason or none, and the daemon's
 * refusals and a wrong answer as return codes. */
static void
s_cancel(int fd)
{
	Asyncflow__CancelReply cr = ASYNCFLOW__CANCEL_REPLY__INIT;
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CANCEL);
	ck_assert_uint_eq(req->cancel->activation, 7);
	ck_assert_ptr_nonnull(req->cancel->reason);
	ck_assert_int_eq(req->cancel->reason->kind_case,
	    ASYNCFLOW__VALUE__KIND_ERROR_VALUE);
	ck_assert_str_eq(req->cancel->reason->error_value->name, "Stop");
	ck_assert_str_eq(req->cancel->reason->error_value->message, "enough");
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_CANCEL, &cr);
	af_msg_free(req);

	/* No reason: none sent (the daemon makes the default one). */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CANCEL);
	ck_assert_uint_eq(req->cancel->activation, 8);
	ck_assert_ptr_null(req->cancel->reason);
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_CANCEL, &cr);
	af_msg_free(req);

	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CANCEL);
	ck_assert_uint_eq(req->cancel->activation, 9);
	srv_error(fd, req->id, AF_ESTATE, "ESTATE", "activation 9 is Done");
	af_msg_free(req);

	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CANCEL);
	ck_assert_uint_eq(req->cancel->activation, 99);
	srv_error(fd, req->id, AF_ENOTFOUND, "ENOTFOUND", "no activation 99");
	af_msg_free(req);

	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CANCEL);
	ck_assert_uint_eq(req->cancel->activation, 10);
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_CANCEL, &cr);
	af_msg_free(req);

	/* Answered with stats: not a cancel's answer. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CANCEL);
	srv_stats(fd, req->id, 1);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_cancel)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Error e = ASYNCFLOW__ERROR__INIT;
	struct fake f;
	af_conn *c = fake_connect(&f, s_cancel);

	e.name = (char *)"Stop";
	e.message = (char *)"enough";
	v.kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
	v.error_value = &e;
	ck_assert_int_eq(af_cancel(c, 7, &v), AF_OK);
	ck_assert_str_eq(af_conn_errmsg(c), "");
	ck_assert_int_eq(af_cancel(c, 8, NULL), AF_OK);
	ck_assert_int_eq(af_cancel(c, 9, NULL), AF_ESTATE);
	ck_assert_str_eq(af_conn_errmsg(c), "activation 9 is Done");
	ck_assert_int_eq(af_cancel(c, 99, &v), AF_ENOTFOUND);
	ck_assert_str_eq(af_conn_errmsg(c), "no activation 99");
	/* The connection goes on after each of them. */
	ck_assert_int_eq(af_cancel(c, 10, NULL), AF_OK);
	/* A wrong answer is a protocol error: the connection is broken. */
	ck_assert_int_eq(af_cancel(c, 3, NULL), AF_EPROTO);
	ck_assert_int_eq(af_cancel(c, 10, NULL), AF_EPROTO);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* af_call_export: object, method and args as sent, the result vow out,
 * and the daemon's refusals as return codes with *vow left 0. */
static void
s_call_export(int fd)
{
	Asyncflow__CallExportReply cr = ASYNCFLOW__CALL_EXPORT_REPLY__INIT;
	Asyncflow__Request *req;
	const Asyncflow__Value *a;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CALL);
	ck_assert_str_eq(req->call->object, "act/3/order");
	ck_assert_str_eq(req->call->method, "add_item");
	a = req->call->args;
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->kind_case, ASYNCFLOW__VALUE__KIND_RECORD_VALUE);
	ck_assert_int_eq(field(a, 0, "sku")->int_value, 42);
	cr.vow = 77;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_CALL, &cr);
	af_msg_free(req);

	/* No args (null), and a caller that does not want the vow. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CALL);
	ck_assert_str_eq(req->call->object, "act/3/order");
	ck_assert_str_eq(req->call->method, "items");
	ck_assert_ptr_null(req->call->args);
	cr.vow = 78;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_CALL, &cr);
	af_msg_free(req);

	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CALL);
	ck_assert_str_eq(req->call->object, "act/99/order");
	srv_error(fd, req->id, AF_ENOTFOUND, "ENOTFOUND", "no activation 99");
	af_msg_free(req);

	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CALL);
	ck_assert_str_eq(req->call->object, "order");
	srv_error(fd, req->id, AF_EINVAL, "EINVAL",
	    "object: not a reference act/A/NAME");
	af_msg_free(req);

	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CALL);
	ck_assert_str_eq(req->call->method, "checkout");
	cr.vow = 79;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_CALL, &cr);
	af_msg_free(req);

	/* Answered with a cancel's reply: a protocol error. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_CALL);
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_CANCEL,
	    &(Asyncflow__CancelReply)ASYNCFLOW__CANCEL_REPLY__INIT);
	af_msg_free(req);
	srv_drain(fd);
}

START_TEST(test_call_export)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field fld = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field *fields[1] = { &fld };
	Asyncflow__Value sku = ASYNCFLOW__VALUE__INIT;
	struct fake f;
	af_conn *c = fake_connect(&f, s_call_export);
	uint64_t vow = 5;

	sku.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	sku.int_value = 42;
	fld.key = (char *)"sku";
	fld.value = &sku;
	rec.n_fields = 1;
	rec.fields = fields;
	v.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	v.record_value = &rec;
	ck_assert_int_eq(af_call_export(c, "act/3/order", "add_item", &v, &vow),
	    AF_OK);
	ck_assert_uint_eq(vow, 77);
	ck_assert_int_eq(af_call_export(c, "act/3/order", "items", NULL, NULL),
	    AF_OK);

	/* Refused before anything is sent. */
	vow = 5;
	ck_assert_int_eq(af_call_export(c, NULL, "items", NULL, &vow),
	    AF_EINVAL);
	ck_assert_uint_eq(vow, 0);
	vow = 5;
	ck_assert_int_eq(af_call_export(c, "act/3/order", NULL, NULL, &vow),
	    AF_EINVAL);
	ck_assert_uint_eq(vow, 0);

	/* The daemon's refusals. */
	vow = 5;
	ck_assert_int_eq(af_call_export(c, "act/99/order", "items", NULL, &vow),
	    AF_ENOTFOUND);
	ck_assert_uint_eq(vow, 0);
	ck_assert_str_eq(af_conn_errmsg(c), "no activation 99");
	vow = 5;
	ck_assert_int_eq(af_call_export(c, "order", "items", NULL, &vow),
	    AF_EINVAL);
	ck_assert_uint_eq(vow, 0);
	ck_assert_str_eq(af_conn_errmsg(c),
	    "object: not a reference act/A/NAME");
	/* The connection goes on. */
	ck_assert_int_eq(af_call_export(c, "act/3/order", "checkout", NULL,
			     &vow),
	    AF_OK);
	ck_assert_uint_eq(vow, 79);
	/* A wrong answer is a protocol error: the connection is broken. */
	vow = 5;
	ck_assert_int_eq(af_call_export(c, "act/3/order", "items", NULL, &vow),
	    AF_EPROTO);
	ck_assert_uint_eq(vow, 0);
	ck_assert_int_eq(af_call_export(c, "act/3/order", "items", NULL, &vow),
	    AF_EPROTO);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* A resolver of the wrong length from the daemon. */
static void
s_short_resolver(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__MakeVowReply mv = ASYNCFLOW__MAKE_VOW_REPLY__INIT;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_MKVOW);
	mv.vow = 1;
	mv.resolver.len = 3;
	mv.resolver.data = (uint8_t *)fake_res;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_MKVOW, &mv);
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
	ck_assert_int_eq(af_start(c, NULL, NULL, NULL, NULL, NULL, NULL),
	    AF_EINVAL);
	ck_assert_str_ne(af_conn_errmsg(c), "");
	ck_assert_int_eq(af_settle(c, 1, NULL, false, NULL, NULL), AF_EINVAL);
	v.kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
	v.string_value.data = NULL; /* a length but no data */
	v.string_value.len = 1;
	ck_assert_int_eq(af_start(c, "f", &v, NULL, NULL, NULL, NULL),
	    AF_EINVAL);
	v.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	v.list_value = NULL;
	ck_assert_int_eq(af_start(c, "f", &v, NULL, NULL, NULL, NULL),
	    AF_EINVAL);
	v.list_value = &l;
	l.n_items = 2;
	l.items = items; /* items[1] is NULL */
	one.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	ck_assert_int_eq(af_start(c, "f", &v, NULL, NULL, NULL, NULL),
	    AF_EINVAL);
	/* A list that contains itself: too deep, not a stack overflow. */
	items[1] = &v;
	ck_assert_int_eq(af_start(c, "f", &v, NULL, NULL, NULL, NULL),
	    AF_ELIMIT);
	/* Over the frame limit. */
	s = malloc(AF_MAX_FRAME + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, 'x', AF_MAX_FRAME);
	s[AF_MAX_FRAME] = '\0';
	af_value_set_string(&big, s, AF_MAX_FRAME);
	ck_assert_int_eq(af_start(c, "f", &big, NULL, NULL, NULL, NULL),
	    AF_ELIMIT);
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
	Asyncflow__StartReply sr = ASYNCFLOW__START_REPLY__INIT;
	const Asyncflow__Value *v;
	int n;

	srv_hello(fd);
	/* The only start that reaches the daemon. */
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_START);
	for (n = 0, v = req->start->args;
	     v->kind_case == ASYNCFLOW__VALUE__KIND_LIST_VALUE; n++)
		v = v->list_value->items[0];
	ck_assert_int_eq(n, (AF_MAX_DEPTH - 3) / 2);
	ck_assert_int_eq(v->kind_case, ASYNCFLOW__VALUE__KIND_ERROR_VALUE);
	sr.activation = 1;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_START, &sr);
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
	ck_assert_int_eq(af_start(c, "f", &v[1], NULL, &act, NULL, NULL),
	    AF_OK);
	ck_assert_uint_eq(act, 1);
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- Serving an object ------------------------------------------------------------ */

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
	ck_assert_mem_eq(req->settle->resolver.data, fake_res, AF_RESOLVER_LEN);
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
	ck_assert_mem_eq(inv->resolver.data, fake_res, AF_RESOLVER_LEN);
	ck_assert_str_eq(inv->object, "bank");
	ck_assert_str_eq(inv->method, "deposit");
	ck_assert_uint_eq(inv->activation, 7);
	ck_assert_int_eq(field(inv->args, 0, "amount")->int_value, 5);
	ck_assert_uint_eq(field(inv->args, 1, "right")->resolver_id, 9);
	ck_assert_uint_eq(inv->n_grants, 1);
	ck_assert_uint_eq(inv->grants[0]->vow, 9);
	ck_assert_mem_eq(inv->grants[0]->resolver.data, fake_res2,
	    AF_RESOLVER_LEN);
	/* Answering a redelivered invocation the daemon had settled. */
	ck_assert_int_eq(af_settle(c, inv->vow, inv->resolver.data, false, NULL,
			     NULL),
	    AF_ESETTLED);
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

/* ---- Strings with NUL bytes ------------------------------------------------------ */

/* "a\0b": three bytes, a NUL in the middle. */
static const char nul_str[] = { 'a', '\0', 'b' };

/* Whether v is the string value p[0..n), NULs included. */
static bool
str_is_n(const Asyncflow__Value *v, const char *p, size_t n)
{
	size_t len;
	const char *t = af_value_string(v, &len);

	return t != NULL && len == n && memcmp(t, p, n) == 0;
}

/* Start echo with "a\0b": the daemon's end sees all three bytes; then a
 * vow fulfilled with it. */
static void
s_nul_string(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__StartReply sr = ASYNCFLOW__START_REPLY__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_START);
	ck_assert_ptr_nonnull(req->start->args);
	ck_assert(str_is_n(req->start->args, nul_str, sizeof(nul_str)));
	sr.activation = 1;
	sr.outcome = 2;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_START, &sr);
	af_msg_free(req);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	vi.vow = 2;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED;
	vi.value = af_value_set_string(&v, nul_str, sizeof(nul_str));
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_VOW, &vi);
	af_msg_free(req);
	srv_drain(fd);
}

/* A string with a NUL goes out and comes back whole (protocol 2:
 * string_value is bytes, so protobuf-c keeps its length). */
START_TEST(test_string_nul_round_trip)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	Asyncflow__VowInfo *vi;
	uint64_t act, outcome;
	struct fake f;
	af_conn *c = fake_connect(&f, s_nul_string);
	size_t n;

	ck_assert_ptr_eq(af_value_set_string(&v, nul_str, sizeof(nul_str)), &v);
	ck_assert_int_eq(af_start(c, "echo", &v, NULL, &act, &outcome, NULL),
	    AF_OK);
	ck_assert_int_eq(af_get_vow(c, outcome, true, 5000, &vi), AF_OK);
	ck_assert(str_is_n(vi->value, nul_str, sizeof(nul_str)));
	af_msg_free(vi);
	/* The accessors' edges. */
	ck_assert_ptr_null(af_value_string(NULL, &n));
	ck_assert_uint_eq(n, 0);
	v.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	ck_assert_ptr_null(af_value_string(&v, &n));
	ck_assert_ptr_nonnull(af_value_set_string(&v, NULL, 0));
	ck_assert_str_eq(af_value_string(&v, &n), "");
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(af_value_set_string(&v, NULL, 1));
	ck_assert_ptr_null(af_value_set_string(NULL, "x", 1));
	af_close(c);
	fake_join(&f);
}
END_TEST

/* ---- Against the real daemon ------------------------------------------------------ */

struct real {
	pid_t pid;
	char dir[512];
	char sock[600];
};

/* Starts the asyncflowd built beside this test (B/tests/check_client ->
 * B/asyncflowd) on a fresh data directory and connects to it; false
 * (the test is then skipped) when there is no daemon binary. */
static bool
real_start(struct real *r, af_conn **c)
{
	char self[PATH_MAX], daemon[PATH_MAX + 32], err[256];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	int i, rc = AF_ECONN;

	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	ck_assert_ptr_nonnull(slash = strrchr(self, '/'));
	*slash = '\0';
	ck_assert_ptr_nonnull(slash = strrchr(self, '/'));
	*slash = '\0';
	snprintf(daemon, sizeof(daemon), "%s/asyncflowd", self);
	if (access(daemon, X_OK) != 0)
		return false;
	snprintf(r->dir, sizeof(r->dir), "%s", testutil_tmpdir());
	snprintf(r->sock, sizeof(r->sock), "%s/d/asyncflowd.sock", r->dir);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		char d[600];

		snprintf(d, sizeof(d), "%s/d", r->dir);
		execl(daemon, daemon, "-d", d, "-q", (char *)NULL);
		_exit(127);
	}
	/* Until it listens (a generous deadline for a hung daemon). */
	for (i = 0; i < 600 && rc != AF_OK; i++) {
		rc = af_connect_timeout(r->sock, 1000, c, err, sizeof(err));
		if (rc != AF_OK) {
			ck_assert_int_eq(waitpid(r->pid, NULL, WNOHANG), 0);
			usleep(50000);
		}
	}
	ck_assert_msg(rc == AF_OK, "connect: %s", err);
	return true;
}

static void
real_stop(struct real *r, af_conn *c)
{
	int st;

	af_close(c);
	ck_assert_int_eq(kill(r->pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(r->pid, &st, 0), r->pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	testutil_rmtree(r->dir);
}

/* Through the real daemon: echo's args "a\0b" and ["a\0b", {"k": "\0"}]
 * come back byte for byte, in the outcome and in `show`. */
START_TEST(test_real_daemon_string_nul)
{
	Asyncflow__Value s = ASYNCFLOW__VALUE__INIT, z = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value lv = ASYNCFLOW__VALUE__INIT,
			 rv = ASYNCFLOW__VALUE__INIT;
	Asyncflow__List l = ASYNCFLOW__LIST__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field fk = ASYNCFLOW__FIELD__INIT, *fields[] = { &fk };
	Asyncflow__Value *items[] = { &s, &rv };
	Asyncflow__VowInfo *vi;
	Asyncflow__ActivationInfo *ai;
	const Asyncflow__Value *got;
	uint64_t act, outcome;
	struct real r;
	af_conn *c;

	if (!real_start(&r, &c)) {
		fprintf(stderr, "no asyncflowd beside the test: skipped\n");
		return;
	}
	af_value_set_string(&s, nul_str, sizeof(nul_str));
	ck_assert_int_eq(af_start(c, "echo", &s, NULL, &act, &outcome, NULL),
	    AF_OK);
	ck_assert_int_eq(af_get_vow(c, outcome, true, 10000, &vi), AF_OK);
	ck_assert_int_eq(vi->state,
	    ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED);
	ck_assert(str_is_n(vi->value, nul_str, sizeof(nul_str)));
	af_msg_free(vi);

	af_value_set_string(&z, "", 1); /* "\0" */
	fk.key = (char *)"k";
	fk.value = &z;
	rec.n_fields = 1;
	rec.fields = fields;
	rv.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	rv.record_value = &rec;
	l.n_items = 2;
	l.items = items;
	lv.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	lv.list_value = &l;
	ck_assert_int_eq(af_start(c, "echo", &lv, NULL, &act, &outcome, NULL),
	    AF_OK);
	ck_assert_int_eq(af_get_vow(c, outcome, true, 10000, &vi), AF_OK);
	ck_assert_ptr_nonnull(vi->value);
	ck_assert_int_eq(vi->value->kind_case,
	    ASYNCFLOW__VALUE__KIND_LIST_VALUE);
	ck_assert_uint_eq(vi->value->list_value->n_items, 2);
	ck_assert(str_is_n(vi->value->list_value->items[0], nul_str,
	    sizeof(nul_str)));
	got = field(vi->value->list_value->items[1], 0, "k");
	ck_assert(str_is_n(got, "", 1));
	af_msg_free(vi);
	ck_assert_int_eq(af_show(c, act, &ai), AF_OK);
	ck_assert(
	    str_is_n(ai->args->list_value->items[0], nul_str, sizeof(nul_str)));
	af_msg_free(ai);
	real_stop(&r, c);
}
END_TEST

/* ---- Suite ------------------------------------------------------------------------ */

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("conn");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_handshake_ok);
	tcase_add_test(tc, test_handshake_version_refused);
	tcase_add_test(tc, test_handshake_version_other);
	tcase_add_test(tc, test_handshake_closed);
	tcase_add_test(tc, test_connect_path);
	tcase_add_test(tc, test_connect_refused_with_a_reason_unread_hello);
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
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_call_export);
	tcase_add_test(tc, test_short_resolver);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_deep_request);
	tcase_add_test(tc, test_serve);
	tcase_add_test(tc, test_string_nul_round_trip);
	tcase_add_test(tc, test_real_daemon_string_nul);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(client_suite)
