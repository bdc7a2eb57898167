/*
 * fake_daemon.c: a scriptable fake asyncflowd for the tests of the client
 * library (check_client) and of asyncflowctl (check_ctl). See
 * fake_daemon.h. Written with protoc-c's generated code and libc only,
 * so it shares no code with the library under test (but af_msg_free).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fake_daemon.h"
#include "frame.h"
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

void
write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	ssize_t r;

	while (n > 0) {
		r = send(fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return; /* the client went away: its test says */
		p += r;
		n -= (size_t)r;
	}
}

/* The next request, or NULL at end of stream. Free with af_msg_free. */
Asyncflow__Request *
srv_recv(int fd)
{
	uint8_t hdr[4], *buf;
	Asyncflow__Request *req;
	uint32_t len;

	if (!read_full(fd, hdr, 4))
		return NULL;
	len = af__get_be32(hdr);
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
uint8_t *
frame_of(Asyncflow__ServerMessage *sm, size_t *n)
{
	size_t len = asyncflow__server_message__get_packed_size(sm);
	uint8_t *buf = malloc(4 + len);

	ck_assert_ptr_nonnull(buf);
	af__put_be32(buf, (uint32_t)len);
	asyncflow__server_message__pack(sm, buf + 4);
	*n = 4 + len;
	return buf;
}

void
srv_send(int fd, Asyncflow__ServerMessage *sm)
{
	size_t n;
	uint8_t *buf = frame_of(sm, &n);

	write_full(fd, buf, n);
	free(buf);
}

void
srv_respond(int fd, Asyncflow__Response *r)
{
	Asyncflow__ServerMessage sm = ASYNCFLOW__SERVER_MESSAGE__INIT;

	sm.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	sm.response = r;
	srv_send(fd, &sm);
}

void
srv_reply(int fd, uint64_t id, Asyncflow__Response__ResultCase result,
    void *msg)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	const ProtobufCFieldDescriptor *f;

	f = protobuf_c_message_descriptor_get_field(
	    &asyncflow__response__descriptor, (unsigned)result);
	ck_assert_ptr_nonnull(f);
	r.id = id;
	r.result_case = result;
	*(void **)((char *)&r + f->offset) = msg;
	srv_respond(fd, &r);
}

void
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

void
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
void
srv_show(int fd, uint64_t id, uint64_t act)
{
	Asyncflow__ActivationInfo ai = ASYNCFLOW__ACTIVATION_INFO__INIT;

	ai.id = act;
	ai.flow = (char *)"echo";
	ai.state = (char *)"Done";
	srv_reply(fd, id, ASYNCFLOW__RESPONSE__RESULT_SHOW, &ai);
}

void
srv_stats(int fd, uint64_t id, uint64_t passes)
{
	Asyncflow__StatsReply st = ASYNCFLOW__STATS_REPLY__INIT;

	st.passes = passes;
	st.durability = (char *)"full";
	srv_reply(fd, id, ASYNCFLOW__RESPONSE__RESULT_STATS, &st);
}

/* Reads the hello and answers it with protocol `version`. */
void
srv_hello_version(int fd, uint32_t version)
{
	Asyncflow__Request *req = srv_recv(fd);
	Asyncflow__HelloReply h = ASYNCFLOW__HELLO_REPLY__INIT;

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(req->op_case, ASYNCFLOW__REQUEST__OP_HELLO);
	ck_assert_uint_eq(req->hello->version, AF_PROTOCOL_VERSION);
	ck_assert_uint_ne(req->id, 0);
	ck_assert_str_ne(req->hello->client, "");
	h.version = version;
	h.incarnation = 42;
	h.daemon = (char *)"fake 0.1";
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_HELLO, &h);
	af_msg_free(req);
}

void
srv_hello(int fd)
{
	srv_hello_version(fd, AF_PROTOCOL_VERSION);
}

/* Waits until the client closes its end (so it can read all we sent). */
void
srv_drain(int fd)
{
	Asyncflow__Request *req;

	while ((req = srv_recv(fd)) != NULL)
		af_msg_free(req);
}

/* A request of the expected kind. */
Asyncflow__Request *
srv_expect(int fd, Asyncflow__Request__OpCase op)
{
	Asyncflow__Request *req = srv_recv(fd);

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(req->op_case, op);
	ck_assert_uint_ne(req->id, 0);
	return req;
}

/* ---- Running a fake daemon ------------------------------------------------- */

/*
 * How long a fake daemon behind a Unix socket waits for its client. Only a
 * broken test never connects, and Check's timeout ends that test first;
 * the wait must outlast whatever the test does before it connects (the
 * CLI usage test runs asyncflowctl some forty times first, which took
 * over 10 s under ASan on a loaded machine).
 */
#define FAKE_ACCEPT_MS 120000

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
		if (poll(&pfd, 1, FAKE_ACCEPT_MS) != 1)
			return NULL;
		f->fd = accept(f->listen_fd, NULL, NULL);
		if (f->fd < 0)
			return NULL;
	}
	f->script(f->fd);
	close(f->fd);
	return NULL;
}

void
fake_start(struct fake *f)
{
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

/* Starts `script` on one end of a socketpair; returns the other end. */
int
fake_pair(struct fake *f, void (*script)(int fd))
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->fd = sv[1];
	f->listen_fd = -1;
	f->delay_ms = f->skip = 0;
	f->script = script;
	fake_start(f);
	return sv[0];
}

/* A connected client with the handshake done by `script`. */
af_conn *
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
void
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
	ck_assert_int_eq(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)),
	    0);
	ck_assert_int_eq(listen(f->listen_fd, 4), 0);
	f->fd = -1;
	f->delay_ms = f->skip = 0;
	f->script = script;
	fake_start(f);
}

void
fake_join(struct fake *f)
{
	pthread_join(f->th, NULL);
	if (f->listen_fd >= 0) {
		close(f->listen_fd);
		testutil_rmtree(f->dir);
	}
}

int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- What several tests send or check ------------------------------------- */

const uint8_t fake_res[AF_RESOLVER_LEN] = {
	0,
	1,
	2,
	3,
	4,
	5,
	6,
	7,
	8,
	9,
	10,
	11,
	12,
	13,
	14,
	0xff,
};

const uint8_t fake_res2[AF_RESOLVER_LEN] = {
	0xde,
	0xad,
	0xbe,
	0xef,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0x42,
};

/* Pushes an invocation of bank.`method` with result vow `vow` (resolver
 * fake_res, cut to res_len bytes), sent by activation 7, granting resolver 9
 * (fake_res2). */
void
srv_invocation(int fd, uint64_t vow, const char *method, Asyncflow__Value *args,
    size_t res_len)
{
	Asyncflow__ServerMessage sm = ASYNCFLOW__SERVER_MESSAGE__INIT;
	Asyncflow__Event ev = ASYNCFLOW__EVENT__INIT;
	Asyncflow__Invocation inv = ASYNCFLOW__INVOCATION__INIT;
	Asyncflow__ResolverGrant g = ASYNCFLOW__RESOLVER_GRANT__INIT;
	Asyncflow__ResolverGrant *gl[1] = { &g };

	g.vow = 9;
	g.resolver.len = AF_RESOLVER_LEN;
	g.resolver.data = (uint8_t *)fake_res2;
	inv.vow = vow;
	inv.resolver.len = res_len;
	inv.resolver.data = (uint8_t *)fake_res;
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

void
srv_serve_reply(int fd, uint64_t id, uint64_t pending)
{
	Asyncflow__ServeReply sr = ASYNCFLOW__SERVE_REPLY__INIT;

	sr.pending = pending;
	srv_reply(fd, id, ASYNCFLOW__RESPONSE__RESULT_SERVE, &sr);
}

void
srv_serve_start(int fd, const char *object, uint64_t pending)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SERVE);
	ck_assert_str_eq(req->serve->object, object);
	srv_serve_reply(fd, req->id, pending);
	af_msg_free(req);
}

/* {"amount": 5, "right": {"@resolver": 9}} */
Asyncflow__Value *
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

const Asyncflow__Value *
field(const Asyncflow__Value *rec, size_t i, const char *key)
{
	ck_assert_int_eq(rec->kind_case, ASYNCFLOW__VALUE__KIND_RECORD_VALUE);
	ck_assert_uint_gt(rec->record_value->n_fields, i);
	ck_assert_str_eq(rec->record_value->fields[i]->key, key);
	return rec->record_value->fields[i]->value;
}
