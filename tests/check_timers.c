/*
 * check_timers.c: the timer module (daemon/timers.h) over a real store in
 * a temporary directory: heap order (due time, then vow id), taking what is
 * due and putting it back, the rows a pass writes and deletes, and
 * reloading the heap from committed rows.
 */
#include <stdint.h>
#include <stdio.h>

#include "asyncflow/flow.h"
#include "log.h"
#include "store.h"
#include "storeutil.h"
#include "testutil.h"
#include "timers.h"

static char dir[512];
static struct store *st;
static struct timers tm;

static void
setup(void)
{
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
	st = storeutil_open(dir, 0, STORE_NONE);
	timers_init(&tm);
}

static void
teardown(void)
{
	timers_release(&tm);
	store_close(st);
	testutil_rmtree(dir);
}

static void
flush(void)
{
	struct store_txn *t;

	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(timers_flush(&tm, t), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	timers_reset(&tm);
}

START_TEST(test_timers_heap_order_and_take_due)
{
	static const struct timer in[] = {
		{ 50, 5 },
		{ 10, 9 },
		{ 30, 3 },
		{ 10, 2 },
		{ 70, 7 },
		{ 20, 1 },
	};
	static const struct timer want[] = {
		{ 10, 2 },
		{ 10, 9 },
		{ 20, 1 },
		{ 30, 3 },
	};
	struct timer t;
	size_t i;

	ck_assert(!timers_next(&tm, &t));
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		ck_assert_int_eq(timers_add(&tm, in[i]), AF_OK);
	ck_assert_uint_eq(timers_pending(&tm), 6);
	ck_assert(timers_next(&tm, &t));
	ck_assert_int_eq(t.due, 10);
	ck_assert_uint_eq(t.vow, 2);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(timers_take_due(&tm, 30, &t), AF_OK);
		ck_assert_int_eq(t.due, want[i].due);
		ck_assert_uint_eq(t.vow, want[i].vow);
	}
	ck_assert_int_eq(timers_take_due(&tm, 30, &t), AF_ENOTFOUND);
	ck_assert_uint_eq(timers_pending(&tm), 2);
	/* Put back the one taken last: it is due again first. */
	ck_assert_int_eq(timers_take_due(&tm, 60, &t), AF_OK);
	ck_assert_int_eq(t.due, 50);
	timers_untake(&tm, t);
	ck_assert_uint_eq(timers_pending(&tm), 2);
	ck_assert(timers_next(&tm, &t));
	ck_assert_int_eq(t.due, 50);
}
END_TEST

START_TEST(test_timers_rows_survive_reload)
{
	struct timer t;

	ck_assert_int_eq(timers_add(&tm, (struct timer){ 100, 1 }), AF_OK);
	ck_assert_int_eq(timers_add(&tm, (struct timer){ 200, 2 }), AF_OK);
	ck_assert_int_eq(timers_add(&tm, (struct timer){ 300, 3 }), AF_OK);
	flush();
	/* Fire one; add one; commit. */
	ck_assert_int_eq(timers_take_due(&tm, 150, &t), AF_OK);
	ck_assert_uint_eq(t.vow, 1);
	ck_assert_int_eq(timers_add(&tm, (struct timer){ 50, 4 }), AF_OK);
	flush();
	/* An uncommitted change is dropped by a reload. */
	ck_assert_int_eq(timers_add(&tm, (struct timer){ 10, 5 }), AF_OK);
	ck_assert_int_eq(timers_load(&tm, st), AF_OK);
	ck_assert_uint_eq(timers_pending(&tm), 3);
	ck_assert_int_eq(timers_take_due(&tm, 1000, &t), AF_OK);
	ck_assert_uint_eq(t.vow, 4);
	ck_assert_int_eq(timers_take_due(&tm, 1000, &t), AF_OK);
	ck_assert_uint_eq(t.vow, 2);
	ck_assert_int_eq(timers_take_due(&tm, 1000, &t), AF_OK);
	ck_assert_uint_eq(t.vow, 3);
	ck_assert_int_eq(timers_take_due(&tm, 1000, &t), AF_ENOTFOUND);
	/* Deleting the rows of timers gone from the table is no error. */
	flush();
	flush();
	ck_assert_int_eq(timers_load(&tm, st), AF_OK);
	ck_assert_uint_eq(timers_pending(&tm), 0);
}
END_TEST

static Suite *
timers_suite(void)
{
	Suite *s = suite_create("timers");
	TCase *tc = tcase_create("timers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_timers_heap_order_and_take_due);
	tcase_add_test(tc, test_timers_rows_survive_reload);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(timers_suite)
