/*
 * check_store.c: the store contract (daemon/store.h) -- what every backend
 * must give and every caller may rely on -- run over the LMDB backend, the
 * only one today, in a fresh temporary directory per test: get/put/del,
 * cursor order over big-endian keys, the append hint, one read and one
 * write transaction at a time with snapshot reads, durability across close
 * and reopen for every durability mode, the durability names, and fault
 * injection through the wrappers' fault hook (tests/faultstore.h).
 *
 * What only LMDB's backend does (its files, its lock, its recycled read
 * transaction, its map size) is tested in check_store_lmdb.c. A second
 * backend would run this file with its own opener.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "faultstore.h"
#include "store.h"
#include "storeutil.h"
#include "tables.h"
#include "testutil.h"

/* ---- Fixture and helpers ------------------------------------------------- */

static char dir[512];
static struct store *st;
static struct faultstore fs;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
	st = NULL;
}

static void
teardown(void)
{
	store_close(st);
	st = NULL;
	testutil_rmtree(dir);
}

#define open_store(map_size, d) storeutil_open(dir, (map_size), (d))
#define put_commit              storeutil_put_commit
#define get_copy                storeutil_get_copy

/* ---- Tests ---------------------------------------------------------------- */

START_TEST(test_store_put_get_del)
{
	struct store_txn *t;
	struct store_val v;
	char out[64];

	st = open_store(0, STORE_FULL);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_META, STR("alpha"), STR("one"), false),
	    AF_OK);
	/* The write transaction sees its own writes. */
	ck_assert_int_eq(store_get(t, DB_META, STR("alpha"), &v), AF_OK);
	ck_assert_uint_eq(v.n, 3);
	ck_assert_mem_eq(v.p, "one", 3);
	/* The same key in another database is another row. */
	ck_assert_int_eq(store_get(t, DB_VOWS, STR("alpha"), &v), AF_ENOTFOUND);
	ck_assert_ptr_null(v.p);
	ck_assert_uint_eq(v.n, 0);
	ck_assert_int_eq(store_put(t, DB_VOWS, STR("alpha"), STR("other"),
			     false),
	    AF_OK);
	/* Replacing a value. */
	ck_assert_int_eq(store_put(t, DB_META, STR("alpha"), STR("uno"), false),
	    AF_OK);
	/* Empty values are values. */
	ck_assert_int_eq(store_put(t, DB_META, STR("empty"), SV("", 0), false),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);

	ck_assert_int_eq(get_copy(st, DB_META, STR("alpha"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "uno");
	ck_assert_int_eq(get_copy(st, DB_VOWS, STR("alpha"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "other");
	ck_assert_int_eq(get_copy(st, DB_META, STR("empty"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(get_copy(st, DB_META, STR("beta"), out, sizeof(out)),
	    AF_ENOTFOUND);

	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_del(t, DB_META, STR("alpha")), AF_OK);
	ck_assert_int_eq(store_del(t, DB_META, STR("alpha")), AF_ENOTFOUND);
	ck_assert_int_eq(store_del(t, DB_META, STR("never")), AF_ENOTFOUND);
	ck_assert_int_eq(store_get(t, DB_META, STR("alpha"), &v), AF_ENOTFOUND);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_int_eq(get_copy(st, DB_META, STR("alpha"), out, sizeof(out)),
	    AF_ENOTFOUND);
	/* Deleting in DB_META left DB_VOWS alone. */
	ck_assert_int_eq(get_copy(st, DB_VOWS, STR("alpha"), out, sizeof(out)),
	    AF_OK);
}
END_TEST

static const uint64_t order_keys[] = {
	0,
	1,
	2,
	255,
	256,
	257,
	65535,
	65536,
	(uint64_t)1 << 32,
	((uint64_t)1 << 40) + 7,
	(uint64_t)1 << 56,
	UINT64_MAX - 1,
	UINT64_MAX,
};
#define NORDER (sizeof(order_keys) / sizeof(order_keys[0]))

START_TEST(test_store_cursor_order_be64)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k = { NULL, 0 }, v;
	uint8_t key[8], val[8];
	size_t i, perm[NORDER];
	int rc;

	st = open_store(0, STORE_FULL);
	/* Insert in a scrambled order: i*5 mod 13 is a permutation. */
	ck_assert_uint_eq(NORDER, 13);
	for (i = 0; i < NORDER; i++)
		perm[i] = i * 5 % NORDER;
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	for (i = 0; i < NORDER; i++) {
		store_be64(key, order_keys[perm[i]]);
		store_be64(val, ~order_keys[perm[i]]);
		ck_assert_int_eq(store_put(t, DB_JOURNAL, SV(key, 8),
				     SV(val, 8), false),
		    AF_OK);
	}
	ck_assert_int_eq(store_commit(t), AF_OK);

	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(store_cursor_open(t, DB_JOURNAL, &c), AF_OK);
	/* FIRST then NEXT: numeric order, values with their keys. */
	i = 0;
	for (rc = store_cursor_get(c, STORE_FIRST, &k, &v); rc == AF_OK;
	     rc = store_cursor_get(c, STORE_NEXT, &k, &v)) {
		ck_assert_uint_lt(i, NORDER);
		ck_assert_uint_eq(k.n, 8);
		ck_assert_uint_eq(v.n, 8);
		ck_assert_uint_eq(store_rd_be64(k.p), order_keys[i]);
		ck_assert_uint_eq(store_rd_be64(v.p), ~order_keys[i]);
		i++;
	}
	ck_assert_int_eq(rc, AF_ENOTFOUND);
	ck_assert_uint_eq(i, NORDER);
	/* NEXT again after the end is still the end. */
	ck_assert_int_eq(store_cursor_get(c, STORE_NEXT, &k, &v), AF_ENOTFOUND);

	/* SET_RANGE: the first key >= the one given. */
	store_be64(key, 300);
	k = SV(key, 8);
	ck_assert_int_eq(store_cursor_get(c, STORE_SET_RANGE, &k, &v), AF_OK);
	ck_assert_uint_eq(store_rd_be64(k.p), 65535);
	ck_assert_int_eq(store_cursor_get(c, STORE_NEXT, &k, &v), AF_OK);
	ck_assert_uint_eq(store_rd_be64(k.p), 65536);
	/* An exact key is found itself. */
	store_be64(key, 256);
	k = SV(key, 8);
	ck_assert_int_eq(store_cursor_get(c, STORE_SET_RANGE, &k, &v), AF_OK);
	ck_assert_uint_eq(store_rd_be64(k.p), 256);
	/* A shorter key sorts before its extensions. */
	key[0] = 0x01;
	k = SV(key, 1);
	ck_assert_int_eq(store_cursor_get(c, STORE_SET_RANGE, &k, &v), AF_OK);
	ck_assert_uint_eq(store_rd_be64(k.p), (uint64_t)1 << 56);
	/* Past the last key. */
	memset(key, 0xff, sizeof(key));
	k = SV(key, 8);
	ck_assert_int_eq(store_cursor_get(c, STORE_SET_RANGE, &k, &v), AF_OK);
	ck_assert_uint_eq(store_rd_be64(k.p), UINT64_MAX);
	ck_assert_int_eq(store_cursor_get(c, STORE_NEXT, &k, &v), AF_ENOTFOUND);
	store_cursor_close(c);
	/* An empty database has no first key. */
	ck_assert_int_eq(store_cursor_open(t, DB_TIMERS, &c), AF_OK);
	k = SV(NULL, 0);
	ck_assert_int_eq(store_cursor_get(c, STORE_FIRST, &k, &v),
	    AF_ENOTFOUND);
	store_cursor_close(c);
	store_abort(t);
}
END_TEST

START_TEST(test_store_append_hint_is_checked)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k = { NULL, 0 }, v;
	uint8_t key[8];
	uint64_t want[] = { 1, 2, 5, 10, 11 },
		 put_order[] = { 1, 5, 10, 2, 11 };
	size_t i;
	int rc;

	st = open_store(0, STORE_FULL);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	/* 2 is "appended" after 10: the hint is wrong and must not lose it
	 * nor fail. */
	for (i = 0; i < 5; i++) {
		store_be64(key, put_order[i]);
		ck_assert_int_eq(store_put(t, DB_JOURNAL, SV(key, 8),
				     SV("x", 1), true),
		    AF_OK);
	}
	/* Appending an existing key replaces it. */
	store_be64(key, 11);
	ck_assert_int_eq(store_put(t, DB_JOURNAL, SV(key, 8), SV("y", 1), true),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);

	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(store_cursor_open(t, DB_JOURNAL, &c), AF_OK);
	i = 0;
	for (rc = store_cursor_get(c, STORE_FIRST, &k, &v); rc == AF_OK;
	     rc = store_cursor_get(c, STORE_NEXT, &k, &v)) {
		ck_assert_uint_lt(i, 5);
		ck_assert_uint_eq(store_rd_be64(k.p), want[i]);
		ck_assert_uint_eq(v.n, 1);
		ck_assert_int_eq(*(const char *)v.p, want[i] == 11 ? 'y' : 'x');
		i++;
	}
	ck_assert_int_eq(rc, AF_ENOTFOUND);
	ck_assert_uint_eq(i, 5);
	store_cursor_close(c);
	store_abort(t);
}
END_TEST

START_TEST(test_store_one_read_and_one_write_at_a_time)
{
	struct store_txn *r, *r2, *w, *w2;
	struct store_val v;
	char out[16];
	int i;

	st = open_store(0, STORE_FULL);
	put_commit(st, DB_META, STR("k"), STR("v0"));
	/* Many short reads, ended by abort or by commit. */
	for (i = 0; i < 2000; i++) {
		ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
		ck_assert_int_eq(store_get(r, DB_META, STR("k"), &v), AF_OK);
		ck_assert_uint_eq(v.n, 2);
		if (i % 2)
			store_abort(r);
		else
			ck_assert_int_eq(store_commit(r), AF_OK);
	}
	/* Ended, a read transaction may begin again. */
	ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
	store_abort(r);
	ck_assert_int_eq(store_begin(st, true, &r2), AF_OK);

	/* Only one read transaction at a time (the contract; the wrappers
	 * refuse it for every backend). */
	r = (struct store_txn *)&r;
	ck_assert_int_eq(store_begin(st, true, &r), AF_ESTATE);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(store_errmsg(st), "read") != NULL, "%s",
	    store_errmsg(st));

	/* A write beside the read: the read keeps its snapshot. */
	ck_assert_int_eq(store_begin(st, false, &w), AF_OK);
	ck_assert_int_eq(store_put(w, DB_META, STR("k"), STR("v1"), false),
	    AF_OK);
	/* Only one write transaction at a time. */
	w2 = (struct store_txn *)&w2;
	ck_assert_int_eq(store_begin(st, false, &w2), AF_ESTATE);
	ck_assert_ptr_null(w2);
	ck_assert_msg(strstr(store_errmsg(st), "write") != NULL, "%s",
	    store_errmsg(st));
	ck_assert_int_eq(store_commit(w), AF_OK);
	ck_assert_int_eq(store_get(r2, DB_META, STR("k"), &v), AF_OK);
	ck_assert_mem_eq(v.p, "v0", 2);
	store_abort(r2);
	/* A new read sees the commit. */
	ck_assert_int_eq(get_copy(st, DB_META, STR("k"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "v1");

	/* After the write ended (commit or abort), another may begin. */
	ck_assert_int_eq(store_begin(st, false, &w), AF_OK);
	store_abort(w);
	ck_assert_int_eq(store_begin(st, false, &w), AF_OK);
	store_abort(w);
	ck_assert(!store_txn_open(st));
}
END_TEST

START_TEST(test_store_commit_survives_reopen_abort_does_not)
{
	static const enum store_durability modes[] = {
		STORE_FULL,
		STORE_BATCH,
		STORE_NONE,
	};
	struct store_txn *t;
	char out[32], key[32];

	for (size_t m = 0; m < 3; m++) {
		st = open_store(0, modes[m]);
		ck_assert_int_eq(st->durability, modes[m]);
		snprintf(key, sizeof(key), "committed-%zu", m);
		put_commit(st, DB_ACTS, STR(key), STR("yes"));
		ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
		snprintf(key, sizeof(key), "aborted-%zu", m);
		ck_assert_int_eq(store_put(t, DB_ACTS, STR(key), STR("no"),
				     false),
		    AF_OK);
		store_abort(t);
		/* A write left open at close is not committed either. */
		ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
		snprintf(key, sizeof(key), "open-%zu", m);
		ck_assert_int_eq(store_put(t, DB_ACTS, STR(key), STR("no"),
				     false),
		    AF_OK);
		ck_assert_int_eq(store_sync(st), AF_OK);
		store_close(st);

		st = open_store(0, STORE_FULL);
		for (size_t j = 0; j <= m; j++) {
			snprintf(key, sizeof(key), "committed-%zu", j);
			ck_assert_int_eq(get_copy(st, DB_ACTS, STR(key), out,
					     sizeof(out)),
			    AF_OK);
			ck_assert_str_eq(out, "yes");
			snprintf(key, sizeof(key), "aborted-%zu", j);
			ck_assert_int_eq(get_copy(st, DB_ACTS, STR(key), out,
					     sizeof(out)),
			    AF_ENOTFOUND);
			snprintf(key, sizeof(key), "open-%zu", j);
			ck_assert_int_eq(get_copy(st, DB_ACTS, STR(key), out,
					     sizeof(out)),
			    AF_ENOTFOUND);
		}
		store_close(st);
		st = NULL;
	}
}
END_TEST

START_TEST(test_store_durability_names)
{
	static const enum store_durability all[] = {
		STORE_FULL,
		STORE_BATCH,
		STORE_NONE,
	};
	static const char *const bad[] = {
		"fast",
		"",
		"FULL",
		"full ",
		"ful",
		"fullx",
		"sync",
	};
	enum store_durability d;

	ck_assert_str_eq(store_durability_name(STORE_FULL), "full");
	ck_assert_str_eq(store_durability_name(STORE_BATCH), "batch");
	ck_assert_str_eq(store_durability_name(STORE_NONE), "none");
	for (size_t i = 0; i < 3; i++) {
		d = (enum store_durability)99;
		ck_assert_int_eq(store_durability_parse(store_durability_name(
							    all[i]),
				     &d),
		    AF_OK);
		ck_assert_int_eq(d, all[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = STORE_BATCH;
		ck_assert_msg(store_durability_parse(bad[i], &d) == AF_EINVAL,
		    "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(d, STORE_BATCH); /* untouched */
	}
}
END_TEST

/* ---- Fault injection through the wrappers' hook ----------------------- */

START_TEST(test_store_fault_injection_put)
{
	struct store_txn *t;
	uint64_t x;
	char out[16];

	st = open_store(0, STORE_FULL);
	faultstore_attach(&fs, st);
	/* The second put of the transaction fails: the caller sees it. */
	faultstore_fail_nth(&fs, STORE_CALL_PUT, 2, AF_ESTORE);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(meta_put_u64(t, "first", 1), AF_OK);
	ck_assert_int_eq(meta_put_u64(t, "second", 2), AF_ESTORE);
	store_abort(t);
	ck_assert_int_eq(faultstore_calls(&fs, STORE_CALL_PUT), 2);
	/* Nothing was committed, the first put included. */
	ck_assert_int_eq(get_copy(st, DB_META, STR("first"), out, sizeof(out)),
	    AF_ENOTFOUND);
	ck_assert_int_eq(get_copy(st, DB_META, STR("second"), out, sizeof(out)),
	    AF_ENOTFOUND);
	/* The store is usable afterwards through the same table. */
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(meta_put_u64(t, "first", 11), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(meta_get_u64(t, "first", &x), AF_OK);
	store_abort(t);
	ck_assert_uint_eq(x, 11);
	ck_assert_int_eq(faultstore_calls(&fs, STORE_CALL_PUT), 3);
	faultstore_detach(&fs);
}
END_TEST

START_TEST(test_store_fault_injection_commit)
{
	struct store_txn *t;
	char out[16];

	st = open_store(0, STORE_FULL);
	faultstore_attach(&fs, st);
	faultstore_fail_nth(&fs, STORE_CALL_COMMIT, 2, AF_EFULL);
	put_commit(st, DB_META, STR("one"), STR("1"));
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_META, STR("two"), STR("2"), false),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_EFULL);
	ck_assert_int_eq(faultstore_calls(&fs, STORE_CALL_COMMIT), 2);
	ck_assert_int_eq(get_copy(st, DB_META, STR("one"), out, sizeof(out)),
	    AF_OK);
	ck_assert_int_eq(get_copy(st, DB_META, STR("two"), out, sizeof(out)),
	    AF_ENOTFOUND);
	/* The failed commit ended the transaction: a new one may begin. */
	put_commit(st, DB_META, STR("three"), STR("3"));
	faultstore_detach(&fs);
	store_close(st);
	st = open_store(0, STORE_FULL);
	ck_assert_int_eq(get_copy(st, DB_META, STR("two"), out, sizeof(out)),
	    AF_ENOTFOUND);
	ck_assert_int_eq(get_copy(st, DB_META, STR("three"), out, sizeof(out)),
	    AF_OK);
}
END_TEST

/* The hook fails calls of every kind with their own effects. */
START_TEST(test_store_fault_hook_every_kind)
{
	struct store_txn *t, *r;
	struct store_cursor *c;
	struct store_val k = { NULL, 0 }, v = { "x", 1 };
	char out[16];
	unsigned i;

	st = open_store(0, STORE_FULL);
	put_commit(st, DB_META, STR("k"), STR("v"));
	faultstore_attach(&fs, st);
	/* A failed begin leaves no transaction open. */
	faultstore_fail_next(&fs, STORE_CALL_BEGIN_READ, 1, AF_ESTORE);
	t = (struct store_txn *)&t;
	ck_assert_int_eq(store_begin(st, true, &t), AF_ESTORE);
	ck_assert_ptr_null(t);
	ck_assert(!store_txn_open(st));
	ck_assert_msg(strstr(store_errmsg(st), "injected") != NULL, "%s",
	    store_errmsg(st));
	faultstore_fail_next(&fs, STORE_CALL_BEGIN_WRITE, 1, AF_ENOMEM);
	ck_assert_int_eq(store_begin(st, false, &t), AF_ENOMEM);
	ck_assert_ptr_null(t);
	ck_assert(!store_txn_open(st));
	/* A failed get answers nothing. */
	ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
	faultstore_fail_next(&fs, STORE_CALL_GET, 1, AF_ESTORE);
	ck_assert_int_eq(store_get(r, DB_META, STR("k"), &v), AF_ESTORE);
	ck_assert_ptr_null(v.p);
	ck_assert_uint_eq(v.n, 0);
	ck_assert_int_eq(store_get(r, DB_META, STR("k"), &v), AF_OK);
	ck_assert_mem_eq(v.p, "v", 1);
	/* Cursors: a failed open gives none, a failed move is an error. */
	faultstore_fail_next(&fs, STORE_CALL_CURSOR_OPEN, 1, AF_ESTORE);
	c = (struct store_cursor *)&c;
	ck_assert_int_eq(store_cursor_open(r, DB_META, &c), AF_ESTORE);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(store_cursor_open(r, DB_META, &c), AF_OK);
	faultstore_fail_next(&fs, STORE_CALL_CURSOR_GET, 1, AF_ESTORE);
	ck_assert_int_eq(store_cursor_get(c, STORE_FIRST, &k, &v), AF_ESTORE);
	ck_assert_int_eq(store_cursor_get(c, STORE_FIRST, &k, &v), AF_OK);
	store_cursor_close(c);
	store_abort(r);
	/* Every delete fails until the rule goes; then the row goes. */
	faultstore_fail_always(&fs, STORE_CALL_DEL, AF_ESTORE);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(store_del(t, DB_META, STR("k")), AF_ESTORE);
	ck_assert(faultstore_armed(&fs, STORE_CALL_DEL));
	faultstore_fail(&fs, STORE_CALL_DEL, 0, 0, 0);
	ck_assert(!faultstore_armed(&fs, STORE_CALL_DEL));
	ck_assert_int_eq(store_del(t, DB_META, STR("k")), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_uint_eq(fs.failed[STORE_CALL_DEL], 5);
	ck_assert_uint_eq(faultstore_calls(&fs, STORE_CALL_DEL), 6);
	ck_assert_int_eq(get_copy(st, DB_META, STR("k"), out, sizeof(out)),
	    AF_ENOTFOUND);
	/* Sync. */
	faultstore_fail_nth(&fs, STORE_CALL_SYNC, 2, AF_ESTORE);
	ck_assert_int_eq(store_sync(st), AF_OK);
	ck_assert_int_eq(store_sync(st), AF_ESTORE);
	ck_assert_int_eq(store_sync(st), AF_OK);
	/* Detached, nothing is counted any more. */
	i = faultstore_calls(&fs, STORE_CALL_COMMIT);
	faultstore_detach(&fs);
	ck_assert_ptr_null(st->fault);
	put_commit(st, DB_META, STR("k"), STR("v"));
	ck_assert_uint_eq(faultstore_calls(&fs, STORE_CALL_COMMIT), i);
}
END_TEST

/* A refusal by the transaction rules is not a call to the backend: the
 * hook is not asked and nothing is counted. */
START_TEST(test_store_rules_refuse_before_the_hook)
{
	struct store_txn *w, *w2;

	st = open_store(0, STORE_FULL);
	faultstore_attach(&fs, st);
	ck_assert_int_eq(store_begin(st, false, &w), AF_OK);
	ck_assert_int_eq(store_begin(st, false, &w2), AF_ESTATE);
	ck_assert_uint_eq(faultstore_calls(&fs, STORE_CALL_BEGIN_WRITE), 1);
	/* A failed commit ended the transaction as a real one does. */
	faultstore_fail_next(&fs, STORE_CALL_COMMIT, 1, AF_EFULL);
	ck_assert_int_eq(store_commit(w), AF_EFULL);
	ck_assert(!store_txn_open(st));
	ck_assert_int_eq(store_begin(st, false, &w), AF_OK);
	store_abort(w);
	faultstore_detach(&fs);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_store_put_get_del);
	tcase_add_test(tc, test_store_cursor_order_be64);
	tcase_add_test(tc, test_store_append_hint_is_checked);
	tcase_add_test(tc, test_store_one_read_and_one_write_at_a_time);
	tcase_add_test(tc, test_store_commit_survives_reopen_abort_does_not);
	tcase_add_test(tc, test_store_durability_names);
	tcase_add_test(tc, test_store_fault_injection_put);
	tcase_add_test(tc, test_store_fault_injection_commit);
	tcase_add_test(tc, test_store_fault_hook_every_kind);
	tcase_add_test(tc, test_store_rules_refuse_before_the_hook);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(store_suite)
