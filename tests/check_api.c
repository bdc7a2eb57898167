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
#include "frame.h"
#include "harness.h"
#include "store.h"
#include "testutil.h"
#include "value.h"

#define NCONN 8

static const char *dir;
static struct harness h;
static uint64_t rid;

/* What each connection received. */
static int nerrors[NCONN], nevents[NCONN];
static int nstats[NCONN];           /* stats replies */
static int last_state[NCONN];       /* VowInfo.state of the last reply */
static char last_error[NCONN][256]; /* ErrorReply.message of the last */
static int last_code[NCONN];        /* ErrorReply.code of the last */
static int last_depth[NCONN];       /* messages nested in the last frame */
static uint64_t mk_vow;
static uint64_t call_vow; /* CallExportReply.vow of the last call */
static int ncancelled;    /* CancelReply answers */
static uint8_t mk_secret[16];
static uint64_t inv_vow[256];
static uint8_t inv_secret[256][16];
static int ninv;
/* The last show, list and modules answers, in words. */
static char last_blocked[512], last_listed[512], last_modules[512];

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
	/* How deep the frame nests, counted by the walk the daemon and the
	 * client library use as their guard (up to 1000). */
	ck_assert_uint_lt(conn, NCONN);
	for (last_depth[conn] = 1; last_depth[conn] < 1000 &&
	     af__pb_depth_check(&asyncflow__server_message__descriptor, msg, n,
		 last_depth[conn]) != AF_OK;
	     last_depth[conn]++)
		;
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
		last_code[conn] = m->response->error->code;
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
	} else if (m->response->result_case ==
	    ASYNCFLOW__RESPONSE__RESULT_CALL) {
		call_vow = m->response->call->vow;
	} else if (m->response->result_case ==
	    ASYNCFLOW__RESPONSE__RESULT_CANCEL) {
		ncancelled++;
	} else if (m->response->result_case ==
	    ASYNCFLOW__RESPONSE__RESULT_SHOW) {
		size_t i, k, o = 0;
		const Asyncflow__ActivationInfo *ai = m->response->show;

		last_blocked[0] = '\0';
		for (i = 0; i < ai->n_blocked_on; i++)
			for (k = 0; k < ai->blocked_on[i]->n_vows; k++) {
				const Asyncflow__BlockedVow
				    *bv = ai->blocked_on[i]->vows[k];

				o += (size_t)snprintf(last_blocked + o,
				    sizeof(last_blocked) - o,
				    "%u %s %s %s.%s %d;",
				    ai->blocked_on[i]->coroutine,
				    ai->blocked_on[i]->wait, bv->kind,
				    bv->object, bv->method,
				    (int)bv->server_connected);
			}
	} else if (m->response->result_case ==
	    ASYNCFLOW__RESPONSE__RESULT_LIST) {
		size_t i, o = 0;

		last_listed[0] = '\0';
		for (i = 0; i < m->response->list->n_activations; i++)
			o += (size_t)snprintf(last_listed + o,
			    sizeof(last_listed) - o, "%llu %s;",
			    (unsigned long long)m->response->list
				->activations[i]
				->id,
			    m->response->list->activations[i]->flow);
	} else if (m->response->result_case ==
	    ASYNCFLOW__RESPONSE__RESULT_MODULES) {
		size_t i, o = 0;
		const Asyncflow__ModulesReply *mr = m->response->modules;

		for (i = 0; i < mr->n_flows; i++)
			o += (size_t)snprintf(last_modules + o,
			    sizeof(last_modules) - o, "%s ", mr->flows[i]);
		o += (size_t)snprintf(last_modules + o,
		    sizeof(last_modules) - o, "|");
		for (i = 0; i < mr->n_objects; i++)
			o += (size_t)snprintf(last_modules + o,
			    sizeof(last_modules) - o, " %s", mr->objects[i]);
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
	vf.string_value.data = (uint8_t *)from;
	vf.string_value.len = fromlen;
	vt.string_value.data = (uint8_t *)"b";
	vt.string_value.len = 1;
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
	ncancelled = 0;
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

/* Packs r with every '~' in it made `bad`, and hands it to the api as a
 * frame from conn 1: the way a client that is not protobuf-c sends a name
 * with a NUL or a byte that is not UTF-8. Returns harness_frame's result. */
static int
patched_frame(Asyncflow__Request *r, bool *greeted, uint8_t bad)
{
	uint8_t buf[512];
	size_t n = asyncflow__request__get_packed_size(r), i, nb = 0;

	ck_assert_uint_le(n, sizeof(buf));
	asyncflow__request__pack(r, buf);
	for (i = 0; i < n; i++)
		if (buf[i] == '~') {
			buf[i] = bad;
			nb++;
		}
	ck_assert_uint_eq(nb, 1);
	return harness_frame(&h, 1, greeted, buf, n);
}

/*
 * A name a client sends (flow, idempotency key, served object, list
 * state, a record key or object name in a value, the hello's client
 * string) with a NUL or invalid UTF-8 is refused with EINVAL saying which
 * field and why, whatever the op: nothing is started (before, a flow
 * "echo\0junk" started echo).
 */
START_TEST(test_api_names_must_be_utf8_without_nul)
{
	Asyncflow__Request r;
	Asyncflow__StartFlow st;
	Asyncflow__Serve sv;
	Asyncflow__ListActivations ls;
	Asyncflow__Hello hello = ASYNCFLOW__HELLO__INIT;
	Asyncflow__Value v, iv = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field f = ASYNCFLOW__FIELD__INIT, *fs[] = { &f };
	static const struct {
		const char *field, *text;
	} cases[] = {
		{ "StartFlow.flow", "echo~junk" },
		{ "StartFlow.idempotency_key", "k~" },
		{ "Serve.object", "bank~" },
		{ "ListActivations.state", "Done~" },
		{ "Field.key", "a~b" },
		{ "Value.obj_name", "~bank" },
	};
	static const uint8_t bad[] = { 0x00, 0xff, 0xc3 };
	struct engine_stats es;
	bool greeted;
	int before, i;
	size_t b;

	iv.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	iv.int_value = 1;
	f.value = &iv;
	rec.n_fields = 1;
	rec.fields = fs;
	for (b = 0; b < sizeof(bad); b++) {
		for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
			asyncflow__request__init(&r);
			asyncflow__start_flow__init(&st);
			asyncflow__serve__init(&sv);
			asyncflow__list_activations__init(&ls);
			asyncflow__value__init(&v);
			r.id = ++rid;
			r.op_case = ASYNCFLOW__REQUEST__OP_START;
			r.start = &st;
			st.flow = (char *)"echo";
			switch (i) {
			case 0:
				st.flow = (char *)cases[i].text;
				break;
			case 1:
				st.idempotency_key = (char *)cases[i].text;
				break;
			case 2:
				r.op_case = ASYNCFLOW__REQUEST__OP_SERVE;
				r.serve = &sv;
				sv.object = (char *)cases[i].text;
				break;
			case 3:
				r.op_case = ASYNCFLOW__REQUEST__OP_LIST;
				r.list = &ls;
				ls.state = (char *)cases[i].text;
				break;
			case 4:
				f.key = (char *)cases[i].text;
				v.kind_case =
				    ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
				v.record_value = &rec;
				st.args = &v;
				break;
			case 5:
				v.kind_case = ASYNCFLOW__VALUE__KIND_OBJ_NAME;
				v.obj_name = (char *)cases[i].text;
				st.args = &v;
				break;
			}
			before = nerrors[1];
			greeted = true;
			ck_assert_int_eq(patched_frame(&r, &greeted, bad[b]),
			    AF_OK);
			ck_assert_int_eq(pass(), AF_OK);
			ck_assert_int_eq(nerrors[1], before + 1);
			ck_assert_msg(strstr(last_error[1], cases[i].field) !=
				    NULL &&
				strstr(last_error[1],
				    bad[b] == 0 ? "NUL" : "UTF-8") != NULL,
			    "%s: %s", cases[i].field, last_error[1]);
		}
	}
	/* A hello with such a client string ends the handshake. */
	asyncflow__request__init(&r);
	r.id = ++rid;
	r.op_case = ASYNCFLOW__REQUEST__OP_HELLO;
	r.hello = &hello;
	hello.version = AF_PROTOCOL_VERSION;
	hello.client = (char *)"me~";
	greeted = false;
	before = nerrors[1];
	ck_assert_int_eq(patched_frame(&r, &greeted, 0), AF_EPROTO);
	ck_assert(!greeted);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nerrors[1], before + 1);
	ck_assert_msg(strstr(last_error[1], "Hello.client") != NULL, "%s",
	    last_error[1]);
	/* Nothing was started by any of them. */
	engine_stats(h.eng, &es);
	ck_assert_uint_eq(es.acts_loaded, 0);
}
END_TEST

/* Every error reply is valid UTF-8, whatever bytes its message quotes:
 * those that are not UTF-8 are escaped. */
START_TEST(test_api_error_replies_are_utf8)
{
	int before = nerrors[1];

	api_queue_error(h.api, 1, ++rid, AF_EINVAL,
	    "unknown flow ech\xff\xc3 (\xc3\xa9)", false);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nerrors[1], before + 1);
	ck_assert_str_eq(last_error[1],
	    "unknown flow ech\\xff\\xc3 (\xc3\xa9)");
	ck_assert(value_utf8_valid(last_error[1], strlen(last_error[1])));
}
END_TEST

/* Value v (of nodes[0..depth)) as depth - 1 records {"k": ...} around an
 * error: the most protobuf messages a value of that depth can nest. */
struct deepval {
	Asyncflow__Value v[AF_VALUE_STORED_MAX_DEPTH + 1];
	Asyncflow__Record r[AF_VALUE_STORED_MAX_DEPTH + 1];
	Asyncflow__Field f[AF_VALUE_STORED_MAX_DEPTH + 1];
	Asyncflow__Field *fp[AF_VALUE_STORED_MAX_DEPTH + 1];
	Asyncflow__Error e;
};

static Asyncflow__Value *
deep_value(struct deepval *d, int depth)
{
	int i;

	ck_assert_int_le(depth, AF_VALUE_STORED_MAX_DEPTH + 1);
	asyncflow__error__init(&d->e);
	d->e.name = (char *)"E";
	d->e.message = (char *)"m";
	asyncflow__value__init(&d->v[0]);
	d->v[0].kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
	d->v[0].error_value = &d->e;
	for (i = 1; i < depth; i++) {
		asyncflow__field__init(&d->f[i]);
		d->f[i].key = (char *)"k";
		d->f[i].value = &d->v[i - 1];
		d->fp[i] = &d->f[i];
		asyncflow__record__init(&d->r[i]);
		d->r[i].n_fields = 1;
		d->r[i].fields = &d->fp[i];
		asyncflow__value__init(&d->v[i]);
		d->v[i].kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
		d->v[i].record_value = &d->r[i];
	}
	return &d->v[depth - 1];
}

/*
 * The deepest value the daemon accepts (AF_VALUE_MAX_DEPTH levels, each as
 * many messages as a level can be), in the deepest reply there is (an
 * invocation's args in an activation of `ls`), nests AF_MAX_DEPTH (64)
 * messages: a strict decoder with the usual recursion limit of 100 reads
 * it. One level deeper is refused with a clear error.
 */
START_TEST(test_api_deepest_value_fits_strict_decoders)
{
	static struct deepval d;
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow st = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__ListActivations ls = ASYNCFLOW__LIST_ACTIVATIONS__INIT;
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT,
			 one = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value b = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field fa = ASYNCFLOW__FIELD__INIT,
			 ff = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field ft = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field *fs[] = { &fa, &ff, &ft };
	char want[64];
	int before;

	/* transfer {"amount": 1, "from": X, "to": "b"}, X one level less
	 * than the limit: the flow sends withdraw({"account": X, ...}), as
	 * deep as a value may be, to `bank`. */
	one.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	one.int_value = 1;
	b.kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
	b.string_value.data = (uint8_t *)"b";
	b.string_value.len = 1;
	fa.key = (char *)"amount";
	fa.value = &one;
	ff.key = (char *)"from";
	ff.value = deep_value(&d, AF_VALUE_MAX_DEPTH - 1);
	ft.key = (char *)"to";
	ft.value = &b;
	rec.n_fields = 3;
	rec.fields = fs;
	args.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	args.record_value = &rec;
	st.flow = (char *)"transfer";
	st.args = &args;
	r.op_case = ASYNCFLOW__REQUEST__OP_START;
	r.start = &st;
	before = nerrors[1];
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_msg(nerrors[1] == before, "%s", last_error[1]);
	asyncflow__request__init(&r);
	r.op_case = ASYNCFLOW__REQUEST__OP_LIST;
	r.list = &ls;
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_msg(nerrors[1] == before, "%s", last_error[1]);
	fprintf(stderr, "deepest reply: %d messages deep\n", last_depth[1]);
	ck_assert_int_eq(last_depth[1], AF_MAX_DEPTH);
	ck_assert_int_lt(last_depth[1], 100);

	/* One level more: refused, saying why. */
	asyncflow__request__init(&r);
	asyncflow__start_flow__init(&st);
	st.flow = (char *)"echo";
	st.args = deep_value(&d, AF_VALUE_MAX_DEPTH + 1);
	r.op_case = ASYNCFLOW__REQUEST__OP_START;
	r.start = &st;
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nerrors[1], before + 1);
	ck_assert_int_eq(last_code[1], AF_ELIMIT);
	snprintf(want, sizeof(want), "at most %d levels", AF_VALUE_MAX_DEPTH);
	ck_assert_msg(strstr(last_error[1], "too deep") != NULL &&
		strstr(last_error[1], want) != NULL,
	    "%s", last_error[1]);
	/* So is a settlement. */
	mkvow(1, &mk_vow, mk_secret);
	settle(1, mk_vow, mk_secret, deep_value(&d, AF_VALUE_MAX_DEPTH + 1));
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nerrors[1], before + 2);
	ck_assert_int_eq(last_code[1], AF_ELIMIT);
	ck_assert_msg(strstr(last_error[1], want) != NULL, "%s", last_error[1]);
}
END_TEST

/*
 * A value stored before protocol 2 may nest AF_VALUE_STORED_MAX_DEPTH
 * levels: a reply that would carry it nests deeper than AF_MAX_DEPTH and
 * is replaced by a clear ELIMIT error, never sent unreadable.
 */
START_TEST(test_api_reply_too_deep_for_the_wire_is_an_error)
{
	static struct deepval d;
	Asyncflow__Response resp = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;
	int before = nerrors[1];

	vi.vow = 7;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED;
	vi.value = deep_value(&d, AF_VALUE_STORED_MAX_DEPTH);
	resp.id = ++rid;
	resp.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	resp.vow = &vi;
	api_queue(h.api, 1, &resp, false);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(nerrors[1], before + 1);
	ck_assert_int_eq(last_code[1], AF_ELIMIT);
	ck_assert_msg(strstr(last_error[1], "protocol 2") != NULL, "%s",
	    last_error[1]);
	ck_assert_int_le(last_depth[1], AF_MAX_DEPTH);
}
END_TEST

static void
show(uint64_t conn, uint64_t act)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ShowActivation s = ASYNCFLOW__SHOW_ACTIVATION__INIT;

	s.activation = act;
	r.op_case = ASYNCFLOW__REQUEST__OP_SHOW;
	r.show = &s;
	request(conn, &r);
	ck_assert_int_eq(pass(), AF_OK);
}

/* show says whether a server of a pending send's object is connected:
 * the engine knows the send, the request layer the connections. */
START_TEST(test_api_show_says_whether_a_server_is_connected)
{
	start_transfer(1, 10);
	ck_assert_int_eq(pass(), AF_OK);
	show(1, 1);
	ck_assert_str_eq(last_blocked, "0 await send bank.withdraw 0;");
	serve(5, "bank");
	ck_assert_int_eq(pass(), AF_OK);
	show(1, 1);
	ck_assert_str_eq(last_blocked, "0 await send bank.withdraw 1;");
	api_conn_closed(h.api, 5);
	show(1, 1);
	ck_assert_str_eq(last_blocked, "0 await send bank.withdraw 0;");
}
END_TEST

/* ListActivations filters by flow on the daemon's side, with the state,
 * after and limit; modules lists the names registered, sorted. */
/* call OBJECT METHOD with args (NULL: none) on conn 1, one pass: the
 * error message of the reply, or "" when it answered with a vow. */
static const char *
call_reply(const char *object, const char *method, Asyncflow__Value *args)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__CallExport c = ASYNCFLOW__CALL_EXPORT__INIT;
	int before = nerrors[1];

	c.object = (char *)object;
	c.method = (char *)method;
	c.args = args;
	r.op_case = ASYNCFLOW__REQUEST__OP_CALL;
	r.call = &c;
	call_vow = 0;
	last_error[1][0] = '\0';
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	if (nerrors[1] == before) {
		ck_assert_uint_ne(call_vow, 0);
		return "";
	}
	return last_error[1];
}

/* cancel ACT with reason (NULL: none) on conn 1, one pass: as call_reply. */
static const char *
cancel_reply(uint64_t act, Asyncflow__Value *reason)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Cancel c = ASYNCFLOW__CANCEL__INIT;
	int before = nerrors[1], answered = ncancelled;

	c.activation = act;
	c.reason = reason;
	r.op_case = ASYNCFLOW__REQUEST__OP_CANCEL;
	r.cancel = &c;
	last_error[1][0] = '\0';
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	if (nerrors[1] == before) {
		ck_assert_int_eq(ncancelled, answered + 1);
		return "";
	}
	return last_error[1];
}

/*
 * call and cancel through the request layer (issue 10): a call answers
 * with the result vow, settled by the flow's handler in the same pass; a
 * malformed reference, a method that is no name, an activation that does
 * not exist, a vow the args name that does not exist: each refused with
 * an error saying which. cancel: the same for the activation and the
 * reason, and a Done activation is refused (twice while it is not Done:
 * check_engine).
 */
START_TEST(test_api_call_and_cancel_say_why)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow s = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	char method[200];
	const char *msg;

	s.flow = (char *)"shop";
	r.op_case = ASYNCFLOW__REQUEST__OP_START;
	r.start = &s;
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_str_eq(call_reply("act/1/order", "items", NULL), "");
	get_vow(1, call_vow, false);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_int_eq(last_state[1],
	    ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED);
	msg = call_reply("act/x/order", "items", NULL);
	ck_assert_msg(strstr(msg, "not an export reference") != NULL, "%s",
	    msg);
	ck_assert_int_eq(last_code[1], AF_EINVAL);
	msg = call_reply("act/1/a/b", "items", NULL);
	ck_assert_msg(strstr(msg, "not an export reference") != NULL, "%s",
	    msg);
	memset(method, 'm', 129);
	method[129] = '\0';
	msg = call_reply("act/1/order", method, NULL);
	ck_assert_msg(strstr(msg, "method") != NULL, "%s", msg);
	msg = call_reply("act/999/order", "items", NULL);
	ck_assert_msg(strstr(msg, "no activation 999") != NULL, "%s", msg);
	ck_assert_int_eq(last_code[1], AF_ENOTFOUND);
	v.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	v.vow_id = 4242;
	msg = call_reply("act/1/order", "items", &v);
	ck_assert_msg(strstr(msg, "vow 4242") != NULL, "%s", msg);

	msg = cancel_reply(999, NULL);
	ck_assert_msg(strstr(msg, "no activation 999") != NULL, "%s", msg);
	msg = cancel_reply(1, &v);
	ck_assert_msg(strstr(msg, "vow 4242") != NULL, "%s", msg);
	/* shop rejects when cancelled before checkout: Done at once. */
	ck_assert_str_eq(cancel_reply(1, NULL), "");
	msg = cancel_reply(1, NULL);
	ck_assert_msg(strstr(msg, "is Done") != NULL, "%s", msg);
}
END_TEST

START_TEST(test_api_list_by_flow_and_modules)
{
	Asyncflow__Request r = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ListActivations l = ASYNCFLOW__LIST_ACTIVATIONS__INIT;
	Asyncflow__ListModules lm = ASYNCFLOW__LIST_MODULES__INIT;
	Asyncflow__StartFlow s = ASYNCFLOW__START_FLOW__INIT;

	start_transfer(1, 10);
	s.flow = (char *)"echo";
	r.op_case = ASYNCFLOW__REQUEST__OP_START;
	r.start = &s;
	request(1, &r);
	start_transfer(1, 10);
	ck_assert_int_eq(pass(), AF_OK);
	r.op_case = ASYNCFLOW__REQUEST__OP_LIST;
	r.list = &l;
	l.flow = (char *)"transfer";
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_str_eq(last_listed, "1 transfer;3 transfer;");
	l.after = 1;
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_str_eq(last_listed, "3 transfer;");
	l.flow = (char *)"echo";
	l.after = 0;
	l.state = (char *)"Done";
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_str_eq(last_listed, "2 echo;");
	l.flow = (char *)"transfer";
	l.state = (char *)"";
	l.limit = 1;
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_str_eq(last_listed, "1 transfer;");
	l.flow = (char *)"nosuch";
	l.limit = 0;
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_str_eq(last_listed, "");
	r.op_case = ASYNCFLOW__REQUEST__OP_MODULES;
	r.modules = &lm;
	request(1, &r);
	ck_assert_int_eq(pass(), AF_OK);
	ck_assert_str_eq(last_modules,
	    "approval echo gather nap shipping shop transfer | clock flows "
	    "random timer vows");
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
	tcase_add_test(tc, test_api_names_must_be_utf8_without_nul);
	tcase_add_test(tc, test_api_error_replies_are_utf8);
	tcase_add_test(tc, test_api_deepest_value_fits_strict_decoders);
	tcase_add_test(tc, test_api_reply_too_deep_for_the_wire_is_an_error);
	tcase_add_test(tc, test_api_show_says_whether_a_server_is_connected);
	tcase_add_test(tc, test_api_list_by_flow_and_modules);
	tcase_add_test(tc, test_api_call_and_cancel_say_why);
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
