/*
 * check_acttab.c: the activation table (daemon/acttab.h) over a real store
 * in a temporary directory: put and read back, the journal-GC mark, the
 * quarantine of a committed row (and of none), and the scan from an id,
 * which skips an unreadable row; the times and last incarnation of a row
 * (fields 10-12), which rows written before them lack.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "acttab.h"
#include "asyncflow.pb-c.h"
#include "asyncflow/flow.h"
#include "log.h"
#include "store.h"
#include "storeutil.h"
#include "testutil.h"

static char dir[512];
static struct store *st;
static struct buf b, scratch;

static void
setup(void)
{
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
	st = storeutil_open(dir, 0, STORE_NONE);
	buf_init(&b);
	buf_init(&scratch);
}

static void
teardown(void)
{
	buf_release(&b);
	buf_release(&scratch);
	store_close(st);
	testutil_rmtree(dir);
}

static void
put(uint64_t id, enum act_state state, uint64_t jlen)
{
	struct act_row r;
	struct store_txn *t;

	memset(&r, 0, sizeof(r));
	r.flow = (struct af_str){ "echo", 4 };
	r.args = (struct af_str){ "\x08\x01", 2 };
	r.state = state;
	r.outcome = 100 + id;
	r.journal_length = jlen;
	r.incarnation = 1;
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(acttab_put(t, id, &r, &scratch), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
}

START_TEST(test_acttab_put_read_gc_quarantine)
{
	struct act_row r;
	struct store_txn *t;

	ck_assert_int_eq(acttab_read(st, 1, &r, &b), AF_ENOTFOUND);
	put(1, ACT_ACTIVE, 3);
	put(2, ACT_DONE, 5);
	ck_assert_int_eq(acttab_read(st, 1, &r, &b), AF_OK);
	ck_assert_int_eq(r.state, ACT_ACTIVE);
	ck_assert_uint_eq(r.outcome, 101);
	ck_assert_uint_eq(r.journal_length, 3);
	ck_assert(r.flow.len == 4 && memcmp(r.flow.ptr, "echo", 4) == 0);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(acttab_set_journal_gc(t, 2, 5, &scratch), AF_OK);
	ck_assert_int_eq(acttab_set_journal_gc(t, 9, 5, &scratch),
	    AF_ENOTFOUND);
	ck_assert_int_eq(acttab_quarantine(t, 1, "crashed"), AF_OK);
	ck_assert_int_eq(acttab_quarantine(t, 2, "crashed"), AF_OK);
	ck_assert_int_eq(acttab_quarantine(t, 9, "crashed"), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_int_eq(acttab_read(st, 2, &r, &b), AF_OK);
	ck_assert_uint_eq(r.journal_gc, 5);
	ck_assert_int_eq(r.state, ACT_DONE); /* Done stays Done */
	ck_assert(!r.quarantined);
	ck_assert_int_eq(acttab_read(st, 1, &r, &b), AF_OK);
	ck_assert_int_eq(r.state, ACT_FAILED);
	ck_assert(r.quarantined);
	ck_assert(
	    r.failure.len == 7 && memcmp(r.failure.ptr, "crashed", 7) == 0);
	ck_assert_int_eq(acttab_read(st, 9, &r, &b), AF_ENOTFOUND);
}
END_TEST

struct ids {
	uint64_t v[8];
	size_t n;
};

static int
ids_cb(void *ctx, uint64_t id, const struct act_row *r)
{
	struct ids *l = ctx;

	ck_assert_uint_eq(r->outcome, 100 + id);
	ck_assert_uint_lt(l->n, 8);
	l->v[l->n++] = id;
	return l->n == 3 ? 1 : 0;
}

START_TEST(test_acttab_scan_from_skips_unreadable)
{
	struct ids l = { { 0 }, 0 };
	struct act_row r;
	struct store_txn *t;
	uint8_t key[8];

	put(1, ACT_ACTIVE, 0);
	put(3, ACT_FAILED, 0);
	put(5, ACT_DONE, 0);
	put(7, ACT_ACTIVE, 0);
	put(8, ACT_ACTIVE, 0);
	store_be64(key, 4);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_ACTS, (struct store_val){ key, 8 },
			     (struct store_val){ "\xff\xff", 2 }, false),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_int_eq(acttab_read(st, 4, &r, &b), AF_EDECODE);
	/* From 2: 3, (4 skipped), 5, 7 — and the callback stops there. */
	ck_assert_int_eq(acttab_scan(st, 2, ids_cb, &l), AF_OK);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_uint_eq(l.v[0], 3);
	ck_assert_uint_eq(l.v[1], 5);
	ck_assert_uint_eq(l.v[2], 7);
}
END_TEST

/* created_ms, last_progress_ms and last_incarnation are kept, survive the
 * rewrites of the GC mark and the quarantine, read as protoc-c reads
 * them; a row packed without them (as every row written before them was)
 * reads with them 0, "unknown". */
START_TEST(test_acttab_times_and_last_incarnation)
{
	Asyncflow__ActivationRecord *m,
	    old = ASYNCFLOW__ACTIVATION_RECORD__INIT;
	struct act_row r;
	struct store_txn *t;
	uint8_t key[8], p[256];
	size_t n;

	memset(&r, 0, sizeof(r));
	r.flow = (struct af_str){ "nap", 3 };
	r.state = ACT_ACTIVE;
	r.outcome = 9;
	r.incarnation = 1;
	r.created_ms = 1796146594731;
	r.last_progress_ms = 1796146599000;
	r.last_incarnation = 4;
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(acttab_put(t, 1, &r, &scratch), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	/* protoc-c reads the same fields from the hand encoding. */
	m = asyncflow__activation_record__unpack(NULL, scratch.len, scratch.p);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->created_ms, 1796146594731);
	ck_assert_int_eq(m->last_progress_ms, 1796146599000);
	ck_assert_uint_eq(m->last_incarnation, 4);
	asyncflow__activation_record__free_unpacked(m, NULL);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(acttab_quarantine(t, 1, "crashed"), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(acttab_read(st, 1, &r, &b), AF_OK);
	ck_assert_int_eq(r.state, ACT_FAILED);
	ck_assert_int_eq(r.created_ms, 1796146594731);
	ck_assert_int_eq(r.last_progress_ms, 1796146599000);
	ck_assert_uint_eq(r.last_incarnation, 4);
	ck_assert_uint_eq(r.incarnation, 1);

	/* An old row: what protoc-c packs without the new fields. */
	old.flow = (char *)"echo";
	old.state = ASYNCFLOW__ACT_STATE__ACT_DONE;
	old.outcome = 3;
	old.journal_length = 2;
	old.incarnation = 2;
	n = asyncflow__activation_record__get_packed_size(&old);
	ck_assert_uint_le(n, sizeof(p));
	asyncflow__activation_record__pack(&old, p);
	store_be64(key, 2);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_ACTS, (struct store_val){ key, 8 },
			     (struct store_val){ p, n }, false),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_int_eq(acttab_read(st, 2, &r, &b), AF_OK);
	ck_assert_int_eq(r.state, ACT_DONE);
	ck_assert_uint_eq(r.incarnation, 2);
	ck_assert_int_eq(r.created_ms, 0);
	ck_assert_int_eq(r.last_progress_ms, 0);
	ck_assert_uint_eq(r.last_incarnation, 0);
}
END_TEST

static Suite *
acttab_suite(void)
{
	Suite *s = suite_create("acttab");
	TCase *tc = tcase_create("acttab");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_acttab_put_read_gc_quarantine);
	tcase_add_test(tc, test_acttab_scan_from_skips_unreadable);
	tcase_add_test(tc, test_acttab_times_and_last_incarnation);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(acttab_suite)
