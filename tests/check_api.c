/*
 * check_api.c: the request layer (api.c) over a real engine and LMDB
 * store -- the daemon in a box (harness.h), driven by the daemon's own
 * turn (turn.c) -- with fake connections (a send callback that records
 * what each connection receives) and faults injected through the store
 * seam (faultstore.h): which replies a failed commit replaces, retries
 * after a failed recovery, and the flow control and order of invocations
 * pushed to servers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_int.h" /* the served-object table */
#include "fair.h"
#include "faultstore.h"
#include "harness.h"
#include "store.h"
#include "testutil.h"

#define NCONN 8

static const char *dir;
static struct harness h;
static uint64_t rid;

/* What each connection received. */
static int nerrors[NCONN], nevents[NCONN];
static int nstats[NCONN];           /* stats replies */
static int last_state[NCONN];       /* VowInfo.state of the last reply */
static char last_error[NCONN][256]; /* ErrorReply.message of the last */
static uint64_t mk_vow;
static uint8_t mk_secret[16];
static uint64_t inv_vow[256];
static uint8_t inv_secret[256][16];
static int ninv;

/* The next n commits fail (a full disk), as real ones would. */
static void
fail_commits(unsigned n)
{
	faultstore_fail_next(&h.fault, STORE_CALL_COMMIT, n, AF_EFULL);
}

/* The next n read transactions cannot begin. */
static void
fail_reads(unsigned n)
{
	faultstore_fail_next(&h.fault, STORE_CALL_BEGIN_READ, n, AF_ESTORE);
}

static void
on_send(void *ctx, uint64_t conn, const uint8_t *msg, size_t n)
{
	Asyncflow__ServerMessage *m;

	(void)ctx;
	m = asyncflow__server_message__unpack(NULL, n, msg);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_lt(conn, NCONN);
	if (m->kind_case == ASYNCFLOW__SERVER_MESSAGE__KIND_EVENT) {
		nevents[conn]++;
		if (m->event->kind_case == ASYNCFLOW__EVENT__KIND_INVOCATION &&
		    ninv < 256) {
			inv_vow[ninv] = m->event->invocation->vow;
			memcpy(inv_secret[ninv],
			    m->event->invocation->resolver.data, 16);
			ninv++;
		}
	} else if (m->response->error != NULL) {
		nerrors[conn]++;
		snprintf(last_error[conn], sizeof(last_error[conn]), "%s",
		    m->response->error->message ? m->response->error->message :
						  "");
	} else if (m->response->result_case ==
	    ASYNCFLOW__RESPONSE__RESULT_STATS) {
		nstats[conn]++;
	} else if (m->response->result_case ==
	    ASYNCFLOW__RESPONSE__RESULT_MKVOW) {
		mk_vow = m->response->mkvow->vow;
		memcpy(mk_secret, m->response->mkvow->resolver.data, 16);
	} else if (m->response->result_case ==
	    ASYNCFLOW__RESPONSE__RESULT_VOW) {
		last_state[conn] = m->response->vow->state;
	}
	asyncflow__server_message__free_unpacked(m, NULL);
}

static void
request(uint64_t conn, Asyncflow__Request *r)
{
	bool greeted = true;

	r->id = ++rid;
	ck_assert_int_eq(harness_request(&h, conn, &greeted, r), AF_OK);
}

/* One turn of the daemon's loop: timers, the pass, the replies. */
static int
pass(void)
{
	return harness_pass(&h);
}

static void
mkvow(uint64_t conn, uint64_t *vow, uint8_t secret[16])
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__MakeVow m = ASYNCFLOW__MAKE_VOW__INIT;

	r.op_case = ASYNCFLOW__REQUEST__OP_MKVOW;
	r.mkvow = &m;
	request(conn, &r);
	ck_assert_int_eq(pass(), AF_OK);
	*vow = mk_vow;
	memcpy(secret, mk_secret, 16);
}

static void
settle(uint64_t conn, uint64_t vow, const uint8_t secret[16],
    Asyncflow__Value *v)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__SettleVow s = ASYNCFLOW__SETTLE_VOW__INIT;

	s.vow = vow;
	s.resolver.data = (uint8_t *)secret;
	s.resolver.len = 16;
	s.value = v;
	r.op_case = ASYNCFLOW__REQUEST__OP_SETTLE;
	r.settle = &s;
	request(conn, &r);
}

static void
settle_int(uint64_t conn, uint64_t vow, const uint8_t secret[16], int64_t i)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;

	v.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	v.int_value = i;
	settle(conn, vow, secret, &v);
}

static void
get_vow(uint64_t conn, uint64_t vow, bool wait)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__GetVow g = ASYNCFLOW__GET_VOW__INIT;

	g.vow = vow;
	g.wait = wait;
	r.op_case = ASYNCFLOW__REQUEST__OP_GET_VOW;
	r.get_vow = &g;
	request(conn, &r);
}

static void
serve(uint64_t conn, const char *object)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Serve s = ASYNCFLOW__SERVE__INIT;

	s.object = (char *)object;
	r.op_case = ASYNCFLOW__REQUEST__OP_SERVE;
	r.serve = &s;
	request(conn, &r);
}

/* transfer {"amount": 1, "from": <fromlen x 'a'>, "to": "b"} */
static void
start_transfer(uint64_t conn, size_t fromlen)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow s = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__Value rec = ASYNCFLOW__VALUE__INIT,
			 vf = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value vt = ASYNCFLOW__VALUE__INIT,
			 va = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Record R = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field f1 = ASYNCFLOW__FIELD__INIT,
			 f2 = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field f3 = ASYNCFLOW__FIELD__INIT,
			 *fs[3] = { &f1, &f2, &f3 };
	char *from = malloc(fromlen + 1);

	ck_assert_ptr_nonnull(from);
	memset(from, 'a', fromlen);
	from[fromlen] = '\0';
	va.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	va.int_value = 1;
	vf.kind_case = vt.kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
	vf.string_value = from;
	vt.string_value = (char *)"b";
	f1.key = (char *)"amount";
	f1.value = &va;
	f2.key = (char *)"from";
	f2.value = &vf;
	f3.key = (char *)"to";
	f3.value = &vt;
	R.n_fields = 3;
	R.fields = fs;
	rec.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	rec.record_value = &R;
	s.flow = (char *)"transfer";
	s.args = &rec;
	r.op_case = ASYNCFLOW__REQUEST__OP_START;
	r.start = &s;
	request(conn, &r);
	free(from);
}

static void
setup(void)
{
	struct harness_opts o = { .durability = STORE_NONE,
		.map_size = 256u << 20,
		.send = on_send };

	dir = testutil_tmpdir();
	memset(nerrors, 0, sizeof(nerrors));
	memset(nevents, 0, sizeof(nevents));
	memset(nstats, 0, sizeof(nstats));
	ninv = 0;
	ck_assert_msg(harness_open(&h, dir, &o) == AF_OK, "harness_open: %s",
	    h.err);
}

static void
teardown(void)
{
	harness_close(&h);
	testutil_rmtree(dir);
}

START_TEST(test_api_reads_after_a_write_share_a_failed_commit)
{
	uint64_t v;
	uint8_t s[16];

	mkvow(1, &v, s);
	/* One pass: a settle, then reads that would see it. */
	settle_int(1, v, s, 7);
	get_vow(2, v, false);
	get_vow(3, v, true);
	fail_commits(1);
	ck_assert_int_ne(pass(), AF_OK);
	ck_assert_int_eq(nerrors[1], 1);
	ck_assert_int_eq(nerrors[2], 1); /* not told "fulfilled" */
	ck_assert_int_eq(nerrors[3], 1);
	/* A read alone in a failing pass still answers. */
	get_vow(4, v, false);
	fail_commits(1);
	settle_int(1, v, s, 8); /* behind the read: fails */
	ck_assert_int_ne(pass(), AF_OK);
	ck_assert_int_eq(nerrors[4], 0);
	ck_assert_int_eq(last_state[4],
	    ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING);
	/* The vow is still pending and settles for real. */
	settle_int(1, v, s, 9);
	ck_assert_int_eq(pass(), AF_OK);
	get_vow(2, v, false);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(last_state[2],
	    ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED);
}
END_TEST

START_TEST(test_api_writes_refused_until_recovered)
{
	uint64_t v, w;
	uint8_t s[16], ws[16];

	mkvow(1, &v, s);
	mkvow(1, &w, ws);
	/* A failed commit whose recovery cannot read the store either. */
	settle_int(1, w, ws, 1);
	fail_commits(1);
	fail_reads(1);
	ck_assert_int_ne(pass(), AF_OK);
	/* A write now must not be acknowledged and then lost. */
	settle_int(2, v, s, 7);
	ck_assert_int_ne(pass(), AF_OK);
	ck_assert_int_eq(nerrors[2], 1);
	ck_assert_int_eq(pass(), AF_OK); /* recovered */
	settle_int(2, v, s, 7);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nerrors[2], 1);
	get_vow(3, v, false);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(last_state[3],
	    ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED);
}
END_TEST

START_TEST(test_api_unrelated_failure_does_not_repush)
{
	uint64_t v;
	uint8_t s[16];
	int i, before;

	serve(5, "bank");
	ck_assert_int_eq(pass(), AF_OK);
	for (i = 0; i < 20; i++)
		start_transfer(1, 10);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nevents[5], 20); /* 20 withdraws */
	before = nevents[5];
	for (i = 0; i < 3; i++) {
		mkvow(1, &v, s);
		settle_int(1, v, s, 1);
		fail_commits(1);
		ck_assert_int_ne(pass(), AF_OK);
	}
	ck_assert_int_eq(nevents[5], before);
	/* An answer in a failed pass is pushed again. */
	settle_int(5, inv_vow[0], inv_secret[0], 1);
	fail_commits(1);
	ck_assert_int_ne(pass(), AF_OK);
	ck_assert_int_eq(nevents[5], before + 1);
	ck_assert_uint_eq(inv_vow[ninv - 1], inv_vow[0]);
}
END_TEST

START_TEST(test_api_invocations_flow_in_order_within_the_window)
{
	Asyncflow__Value follow = ASYNCFLOW__VALUE__INIT;
	uint64_t w;
	uint8_t ws[16];
	int i, pushed;

	mkvow(1, &w, ws);
	for (i = 0; i < 10; i++)
		start_transfer(1, 1 << 20);
	ck_assert_int_eq(pass(), AF_OK);
	serve(5, "bank");
	ck_assert_int_eq(pass(), AF_OK);
	pushed = nevents[5];
	ck_assert_int_gt(pushed, 0);
	ck_assert_int_lt(pushed, 10); /* the 4 MiB window */
	/* New ones queue behind the waiting ones. */
	start_transfer(1, 1 << 20);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nevents[5], pushed);
	/* An answer that follows a pending vow frees the window too. */
	follow.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	follow.vow_id = w;
	for (i = 0; i < pushed; i++)
		settle(5, inv_vow[i], inv_secret[i], &follow);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_gt(nevents[5], pushed);
	/* Oldest first: every push so far went out in increasing order. */
	for (i = 1; i < ninv; i++)
		ck_assert_uint_gt(inv_vow[i], inv_vow[i - 1]);
}
END_TEST

/* A server goes away while the api cannot allocate: its invocations are
 * not silently left with the dead connection; the delivery state is
 * rebuilt from the outbox after the next pass and they reach the other
 * server. */
START_TEST(test_api_lost_delivery_is_rebuilt_from_the_outbox)
{
	int i, at5, at6;

	serve(5, "bank");
	serve(6, "bank");
	ck_assert_int_eq(pass(), AF_OK);
	for (i = 0; i < 6; i++)
		start_transfer(1, 10);
	ck_assert_int_eq(pass(), AF_OK);
	at5 = nevents[5];
	at6 = nevents[6];
	ck_assert_int_gt(at5, 0);
	ck_assert_int_eq(at5 + at6, 6);
	api_test_fail_alloc(1); /* drop_server's list of what 5 had */
	api_conn_closed(h.api, 5);
	api_test_fail_alloc(0);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nevents[6], at6 + at5);
	ck_assert_int_eq(nevents[5], at5);
}
END_TEST

/* Served-object names are freed once nobody serves them and no
 * invocation waits for them (50,000 names used to stay for good), and an
 * object that waits keeps its name; lookups go through the index. */
START_TEST(test_api_served_names_are_freed_when_unused)
{
	char name[32];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "obj%d", i);
		serve(5, name);
	}
	serve(6, "bank");
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_uint_eq(h.api->nobjs, 1001);
	ck_assert_uint_eq(h.api->objidx.len, 1001);
	ck_assert_int_eq(nerrors[5], 0);
	api_conn_closed(h.api, 5);
	ck_assert_uint_eq(h.api->nobjs, 1);
	ck_assert_uint_eq(h.api->objidx.len, 1);
	/* The survivor is still found: its invocations reach it. */
	start_transfer(1, 10);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nevents[6], 1);
	/* Its server gone, an invocation still waits: the name stays. */
	api_conn_closed(h.api, 6);
	ck_assert_uint_eq(h.api->nobjs, 1);
	serve(7, "bank");
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nevents[7], 1);
	ck_assert_uint_eq(h.api->nobjs, 1);
}
END_TEST

/* Fairness (fair.h): connections' frames waiting in their input, as the
 * server holds them; feeding one hands it to the api as the server does. */
static size_t queued[NCONN], fed[NCONN];

static bool
feed_stats(void *ctx, uint64_t conn, size_t max)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Stats st = ASYNCFLOW__STATS__INIT;
	size_t k;

	(void)ctx;
	for (k = 0; k < max && queued[conn] > 0; k++) {
		r.op_case = ASYNCFLOW__REQUEST__OP_STATS;
		r.stats = &st;
		request(conn, &r);
		queued[conn]--;
		fed[conn]++;
	}
	return queued[conn] > 0;
}

/* A client that pipelines thousands of requests does not make another
 * wait for all of them: its frames go FAIR_FRAMES_PER_TURN per turn, and
 * the other's frame is answered by the first turn, after at most that
 * many of the pipeliner's. */
START_TEST(test_api_a_pipelining_client_does_not_delay_another)
{
	struct fairq q = { NULL, 0, 0 };
	size_t a_before_b;
	int turns = 0;

	queued[1] = 3000;
	queued[2] = 1;
	fed[1] = fed[2] = 0;
	/* The pipeliner's bytes arrive first, then the other's (as the
	 * server's read callbacks hand them over). */
	if (feed_stats(NULL, 1, FAIR_FRAMES_PER_TURN))
		ck_assert_int_eq(fairq_defer(&q, 1), AF_OK);
	a_before_b = fed[1];
	if (feed_stats(NULL, 2, FAIR_FRAMES_PER_TURN))
		ck_assert_int_eq(fairq_defer(&q, 2), AF_OK);
	ck_assert_uint_le(a_before_b, FAIR_FRAMES_PER_TURN);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nstats[2], 1);
	ck_assert_int_lt(nstats[1], 3000);
	ck_assert(fairq_has(&q, 1));
	/* The rest of the pipeline, a share per turn, all answered. */
	do {
		ck_assert_int_eq(pass(), AF_OK);
		turns++;
	} while (fairq_round(&q, feed_stats, NULL, FAIR_FRAMES_PER_TURN));
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nstats[1], 3000);
	ck_assert_int_eq(nerrors[1] + nerrors[2], 0);
	ck_assert_int_ge(turns, 3000 / FAIR_FRAMES_PER_TURN);
	fairq_release(&q);
}
END_TEST

/* Invocations nobody served survive a restart in the outbox, and go out
 * once a server comes. */
START_TEST(test_api_outbox_survives_restart)
{
	int i;

	for (i = 0; i < 3; i++)
		start_transfer(1, 10);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nevents[5], 0);
	ck_assert_msg(harness_restart(&h) == AF_OK, "harness_restart: %s",
	    h.err);
	ck_assert_int_eq(pass(), AF_OK); /* the replays */
	serve(5, "bank");
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nevents[5], 3);
}
END_TEST

/* An error names what is wrong: settling an existing vow with a
 * reference to a missing one names the missing one. */
START_TEST(test_api_settle_names_the_missing_vow_of_its_value)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	uint64_t vow;
	uint8_t secret[16];
	char want[64];

	mkvow(1, &vow, secret);
	v.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	v.vow_id = 4242;
	settle(1, vow, secret, &v);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nerrors[1], 1);
	snprintf(want, sizeof(want), "no vow %llu", (unsigned long long)vow);
	ck_assert_msg(strstr(last_error[1], want) == NULL, "%s", last_error[1]);
	ck_assert_msg(strstr(last_error[1], "vow 4242") != NULL, "%s",
	    last_error[1]);
}
END_TEST

/* start with `args` and `key`: the error message of the reply, or "". */
static const char *
start_error(Asyncflow__Value *args, const char *key)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow s = ASYNCFLOW__START_FLOW__INIT;
	int before = nerrors[1];

	s.flow = (char *)"echo";
	s.args = args;
	s.idempotency_key = (char *)key;
	r.op_case = ASYNCFLOW__REQUEST__OP_START;
	r.start = &s;
	last_error[1][0] = '\0';
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nerrors[1], before + 1);
	return last_error[1];
}

/* A refused start says why: a resolver in its args, a key too long, a
 * missing vow (which). */
START_TEST(test_api_start_refusals_say_why)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	char key[258];
	uint64_t vow;
	uint8_t secret[16];
	const char *msg;

	mkvow(1, &vow, secret);
	v.kind_case = ASYNCFLOW__VALUE__KIND_RESOLVER_ID;
	v.resolver_id = vow;
	msg = start_error(&v, "");
	ck_assert_msg(strstr(msg, "resolver") != NULL, "%s", msg);
	memset(key, 'k', 257);
	key[257] = '\0';
	v.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	v.int_value = 1;
	msg = start_error(&v, key);
	ck_assert_msg(strstr(msg, "idempotency key") != NULL &&
		strstr(msg, "256") != NULL,
	    "%s", msg);
	/* A vow the args name that does not exist: which one. */
	v.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	v.vow_id = 4242;
	msg = start_error(&v, "");
	ck_assert_msg(strstr(msg, "vow 4242") != NULL, "%s", msg);
}
END_TEST

static Suite *
api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_api_reads_after_a_write_share_a_failed_commit);
	tcase_add_test(tc, test_api_settle_names_the_missing_vow_of_its_value);
	tcase_add_test(tc, test_api_start_refusals_say_why);
	tcase_add_test(tc, test_api_writes_refused_until_recovered);
	tcase_add_test(tc, test_api_unrelated_failure_does_not_repush);
	tcase_add_test(tc,
	    test_api_invocations_flow_in_order_within_the_window);
	tcase_add_test(tc, test_api_outbox_survives_restart);
	tcase_add_test(tc, test_api_served_names_are_freed_when_unused);
	tcase_add_test(tc, test_api_a_pipelining_client_does_not_delay_another);
	tcase_add_test(tc, test_api_lost_delivery_is_rebuilt_from_the_outbox);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(api_suite)
