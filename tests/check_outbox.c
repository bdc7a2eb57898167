/*
 * check_outbox.c: the outbox module (daemon/outbox.h) over a real store in
 * a temporary directory: rows added and answered in a pass, reads of
 * committed rows only, the scan in vow order, and an unreadable row
 * skipped.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "storeutil.h"
#include "testutil.h"

static char dir[512];
static struct store *st;
static struct outbox ob;

static void
setup(void)
{
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
	st = storeutil_open(dir, 0, STORE_NONE);
	outbox_init(&ob);
}

static void
teardown(void)
{
	outbox_release(&ob);
	store_close(st);
	testutil_rmtree(dir);
}

static void
flush(void)
{
	struct store_txn *t;

	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(outbox_flush(&ob, t), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	outbox_reset(&ob);
}

static struct outbox_row
row(const char *obj, const char *method, uint64_t act)
{
	return (struct outbox_row){ { obj, strlen(obj) },
		{ method, strlen(method) }, { "\x08\x01", 2 }, act };
}

struct seen {
	uint64_t vows[8];
	char objs[8][16];
	size_t n;
};

static int
scan_cb(void *ctx, uint64_t vow, const struct outbox_row *r)
{
	struct seen *s = ctx;

	ck_assert_uint_lt(s->n, 8);
	s->vows[s->n] = vow;
	snprintf(s->objs[s->n], sizeof(s->objs[0]), "%.*s", (int)r->object.len,
	    r->object.ptr);
	s->n++;
	return 0;
}

START_TEST(test_outbox_add_answer_get_scan)
{
	struct outbox_row r1 = row("bank", "withdraw", 7), r;
	struct outbox_row r2 = row("mail", "send", 8);
	struct seen s = { { 0 }, { "" }, 0 };
	struct buf b;

	buf_init(&b);
	ck_assert_int_eq(outbox_add(&ob, 30, &r1), AF_OK);
	ck_assert_int_eq(outbox_add(&ob, 20, &r2), AF_OK);
	/* Not committed yet: not there. */
	ck_assert_int_eq(outbox_get(st, 30, &b, &r), AF_ENOTFOUND);
	flush();
	ck_assert_int_eq(outbox_get(st, 30, &b, &r), AF_OK);
	ck_assert_int_eq((int)r.object.len, 4);
	ck_assert(memcmp(r.object.ptr, "bank", 4) == 0);
	ck_assert(memcmp(r.method.ptr, "withdraw", 8) == 0);
	ck_assert_uint_eq(r.args.len, 2);
	ck_assert_uint_eq(r.activation, 7);
	ck_assert_int_eq(outbox_scan(st, scan_cb, &s), AF_OK);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(s.vows[0], 20);
	ck_assert_str_eq(s.objs[0], "mail");
	ck_assert_uint_eq(s.vows[1], 30);
	/* Answered: gone at the next commit; answering twice is fine. */
	ck_assert_int_eq(outbox_answered(&ob, 30), AF_OK);
	ck_assert_int_eq(outbox_answered(&ob, 30), AF_OK);
	flush();
	ck_assert_int_eq(outbox_get(st, 30, &b, &r), AF_ENOTFOUND);
	ck_assert_int_eq(outbox_get(st, 20, &b, &r), AF_OK);
	buf_release(&b);
}
END_TEST

START_TEST(test_outbox_unreadable_row_is_skipped)
{
	struct outbox_row r1 = row("bank", "withdraw", 7);
	struct seen s = { { 0 }, { "" }, 0 };
	struct store_txn *t;
	uint8_t key[8];

	ck_assert_int_eq(outbox_add(&ob, 5, &r1), AF_OK);
	flush();
	store_be64(key, 4);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_OUTBOX, (struct store_val){ key, 8 },
			     (struct store_val){ "\xff\xff", 2 }, false),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_int_eq(outbox_scan(st, scan_cb, &s), AF_OK);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.vows[0], 5);
}
END_TEST

static Suite *
outbox_suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *tc = tcase_create("outbox");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_outbox_add_answer_get_scan);
	tcase_add_test(tc, test_outbox_unreadable_row_is_skipped);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(outbox_suite)
