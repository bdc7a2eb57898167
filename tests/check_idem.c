/*
 * check_idem.c: the idempotency-key module (daemon/idem.h) over a real
 * store in a temporary directory: keys of this pass answer at once, are
 * committed by the flush and forgotten by a reset; a committed value too
 * short to hold act and outcome is AF_EDECODE.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "idem.h"
#include "store.h"
#include "storeutil.h"
#include "testutil.h"

static char dir[512];
static struct store *st;
static struct idem id;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
	st = storeutil_open(dir, 0, STORE_NONE);
	idem_init(&id);
}

static void
teardown(void)
{
	idem_release(&id);
	store_close(st);
	testutil_rmtree(dir);
}

static int
lookup(const char *key, uint64_t *act, uint64_t *outcome, char *req, size_t n)
{
	struct buf b;
	int rc;

	buf_init(&b);
	rc = idem_lookup(&id, st, key, act, outcome, &b);
	snprintf(req, n, "%.*s", (int)b.len, b.p ? (char *)b.p : "");
	buf_release(&b);
	return rc;
}

START_TEST(test_idem_pass_keys_flush_and_reset)
{
	uint64_t act = 0, outcome = 0;
	struct store_txn *t;
	char req[64];

	ck_assert_int_eq(lookup("k1", &act, &outcome, req, sizeof(req)),
	    AF_ENOTFOUND);
	ck_assert_int_eq(idem_add(&id, "k1", 4, 9, "flow-a", 6), AF_OK);
	ck_assert_int_eq(lookup("k1", &act, &outcome, req, sizeof(req)), AF_OK);
	ck_assert_uint_eq(act, 4);
	ck_assert_uint_eq(outcome, 9);
	ck_assert_str_eq(req, "flow-a");
	/* Commit it; a key added and reset is forgotten. */
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(idem_flush(&id, t), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	idem_reset(&id);
	ck_assert_int_eq(idem_add(&id, "k2", 5, 10, "flow-b", 6), AF_OK);
	idem_reset(&id);
	ck_assert_int_eq(lookup("k2", &act, &outcome, req, sizeof(req)),
	    AF_ENOTFOUND);
	act = outcome = 0;
	ck_assert_int_eq(lookup("k1", &act, &outcome, req, sizeof(req)), AF_OK);
	ck_assert_uint_eq(act, 4);
	ck_assert_uint_eq(outcome, 9);
	ck_assert_str_eq(req, "flow-a");
}
END_TEST

START_TEST(test_idem_short_value_is_undecodable)
{
	uint64_t act, outcome;
	struct store_txn *t;
	char req[64];

	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_IDEM, (struct store_val){ "k", 1 },
			     (struct store_val){ "short", 5 }, false),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_int_eq(lookup("k", &act, &outcome, req, sizeof(req)),
	    AF_EDECODE);
}
END_TEST

static Suite *
idem_suite(void)
{
	Suite *s = suite_create("idem");
	TCase *tc = tcase_create("idem");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_idem_pass_keys_flush_and_reset);
	tcase_add_test(tc, test_idem_short_value_is_undecodable);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(idem_suite)
