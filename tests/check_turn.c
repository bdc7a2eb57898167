/*
 * check_turn.c: one turn of the daemon's loop (daemon/turn.c) without
 * libevent, in the daemon in a box (harness.h): what a turn tells its loop
 * -- nothing more to do, another turn at once while events wait, a
 * wake-up when the earliest timer is due (on a fake clock), and after
 * failed commits (through the fault store) a backoff that doubles from
 * 10 ms up to 2 s and starts again after a success.
 */
#include <stdlib.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "arena.h"
#include "engine.h"
#include "faultstore.h"
#include "harness.h"
#include "store.h"
#include "tables.h"
#include "testutil.h"
#include "turn.h"

static const char *dir;
static struct harness h;
static struct af_arena *ar;
static int64_t fake_now = 1700000000000;

static int64_t
fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

/* Sleeps args.ms on a durable timer. */
static int
flow_napper(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v = af_sleep(f, af_get(args, "ms")->u.i), *due;

	if (v == NULL || af_await(f, v, &due) != AF_OK)
		return AF_REJECTED;
	*result = due;
	return AF_OK;
}

/* Waits for the vow args.v and returns its value. */
static int
flow_waiter(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	return af_await(f, af_get(args, "v"), result) == AF_OK ? AF_OK :
								 AF_REJECTED;
}

static int
register_flows(struct af_registry *reg, void *ctx)
{
	int rc;

	(void)ctx;
	if ((rc = af_register_flow(reg, "napper", flow_napper)) != AF_OK)
		return rc;
	return af_register_flow(reg, "waiter", flow_waiter);
}

static void
setup(void)
{
	/* A pass stops taking settlements after 256 of them. */
	static struct engine_opts eo = { .clock_ms = fake_clock,
		.pass_max_entries = 1 };
	struct harness_opts o = { .durability = STORE_NONE,
		.register_fn = register_flows,
		.engine = &eo };

	dir = testutil_tmpdir();
	ck_assert_ptr_nonnull(ar = arena_new(0));
	ck_assert_msg(harness_open(&h, dir, &o) == AF_OK, "harness_open: %s",
	    h.err);
}

static void
teardown(void)
{
	harness_close(&h);
	arena_free(ar);
	testutil_rmtree(dir);
}

static int
turn(struct turn_next *next)
{
	memset(next, 0x55, sizeof(*next));
	return turn_run(&h.turn, next);
}

START_TEST(test_turn_idle)
{
	struct turn_next n;

	ck_assert_int_eq(turn(&n), AF_OK);
	ck_assert(!n.again);
	ck_assert_int_eq(n.wake_ms, -1);
	ck_assert_int_eq(n.backoff_ms, 0);
}
END_TEST

START_TEST(test_turn_wakes_for_the_earliest_timer)
{
	const char *keys[1] = { "ms" };
	const struct af_value *vals[1];
	struct turn_next n;
	uint64_t act, out, act2, out2;
	enum vow_state st;
	const struct af_value *v;

	vals[0] = af_int(ar, 5000);
	ck_assert_int_eq(engine_start(h.eng, "napper",
			     af_record(ar, keys, vals, 1), &act, &out),
	    AF_OK);
	ck_assert_int_eq(turn(&n), AF_OK);
	ck_assert(!n.again);
	ck_assert_int_eq(n.wake_ms, 5000);
	ck_assert_int_eq(n.backoff_ms, 0);
	/* A sooner timer comes first. */
	vals[0] = af_int(ar, 1000);
	ck_assert_int_eq(engine_start(h.eng, "napper",
			     af_record(ar, keys, vals, 1), &act2, &out2),
	    AF_OK);
	fake_now += 400;
	ck_assert_int_eq(turn(&n), AF_OK);
	ck_assert_int_eq(n.wake_ms, 1000);
	/* Late is now, never negative; the turn fires it. */
	fake_now += 3000;
	ck_assert_int_eq(turn(&n), AF_OK);
	ck_assert_int_eq(engine_vow_state(h.eng, out2, &st, ar, &v), AF_OK);
	ck_assert_int_eq(st, VOW_FULFILLED);
	ck_assert_int_eq(n.wake_ms, 5000 - 3400);
	fake_now += 5000;
	ck_assert_int_eq(turn(&n), AF_OK);
	ck_assert_int_eq(n.wake_ms, -1);
	ck_assert_int_eq(engine_vow_state(h.eng, out, &st, ar, &v), AF_OK);
	ck_assert_int_eq(st, VOW_FULFILLED);
}
END_TEST

START_TEST(test_turn_again_while_events_wait)
{
	static uint64_t vows[600];
	static uint8_t secrets[600][VOW_SECRET_LEN];
	const char *keys[1] = { "v" };
	const struct af_value *vals[1];
	struct turn_next n;
	uint64_t act, out;
	int i, turns;

	for (i = 0; i < 600; i++) {
		ck_assert_int_eq(engine_mkvow(h.eng, &vows[i], secrets[i]),
		    AF_OK);
		vals[0] = af_vow_ref(ar, vows[i]);
		ck_assert_int_eq(engine_start(h.eng, "waiter",
				     af_record(ar, keys, vals, 1), &act, &out),
		    AF_OK);
	}
	ck_assert_int_eq(turn(&n), AF_OK);
	ck_assert(!n.again);
	for (i = 0; i < 600; i++)
		ck_assert_int_eq(engine_settle(h.eng, vows[i], secrets[i],
				     false, af_int(ar, i)),
		    AF_OK);
	/* 600 settlements take three turns of at least 256. */
	for (turns = 1;; turns++) {
		ck_assert_int_eq(turn(&n), AF_OK);
		ck_assert_int_eq(n.again, engine_busy(h.eng));
		if (!n.again)
			break;
	}
	ck_assert_int_gt(turns, 1);
	ck_assert_int_le(turns, 3);
}
END_TEST

START_TEST(test_turn_backoff_doubles_and_resets)
{
	static const int64_t want[] = {
		10,
		20,
		40,
		80,
		160,
		320,
		640,
		1280,
		2000,
		2000,
		2000,
	};
	uint8_t secret[VOW_SECRET_LEN];
	struct turn_next n;
	uint64_t v;
	size_t i;
	int rc;

	faultstore_fail_always(&h.fault, STORE_CALL_COMMIT, AF_EFULL);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(engine_mkvow(h.eng, &v, secret), AF_OK);
		ck_assert_int_ne(turn(&n), AF_OK);
		ck_assert_int_eq(n.backoff_ms, want[i]);
		ck_assert(!n.again);
		ck_assert_uint_eq(h.turn.failed_commits, i + 1);
	}
	/* The disk has room again: the first turns finish the recovery,
	 * still backing off, until one commits. */
	faultstore_reset(&h.fault);
	while ((rc = turn(&n)) != AF_OK)
		ck_assert_int_eq(n.backoff_ms, TURN_BACKOFF_MAX_MS);
	ck_assert_int_eq(n.backoff_ms, 0);
	ck_assert_uint_eq(h.turn.failed_commits, 0);
	/* And the next failure starts from 10 ms again. */
	faultstore_fail_next(&h.fault, STORE_CALL_COMMIT, 1, AF_EFULL);
	ck_assert_int_eq(engine_mkvow(h.eng, &v, secret), AF_OK);
	ck_assert_int_ne(turn(&n), AF_OK);
	ck_assert_int_eq(n.backoff_ms, 10);
}
END_TEST

static Suite *
turn_suite(void)
{
	Suite *s = suite_create("turn");
	TCase *tc = tcase_create("turn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_turn_idle);
	tcase_add_test(tc, test_turn_wakes_for_the_earliest_timer);
	tcase_add_test(tc, test_turn_again_while_events_wait);
	tcase_add_test(tc, test_turn_backoff_doubles_and_resets);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(turn_suite)
