/*
 * check_store_lmdb.c: what only the LMDB backend (daemon/store_lmdb.c)
 * does, beyond the contract that check_store.c tests: the files it
 * creates, a missing directory, its recycled read transaction and its own
 * refusal of a second transaction (a backstop behind the wrappers), the
 * lock that keeps a second daemon out of a directory, and a map that is
 * full.
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "store.h"
#include "storeutil.h"
#include "testutil.h"

/* ---- Fixture and helpers ------------------------------------------------- */

static char dir[512];
static struct store *st;

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

static bool
file_exists(const char *name)
{
	char path[600];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0;
}

/* ---- Tests ---------------------------------------------------------------- */

START_TEST(test_store_open_creates_env)
{
	ck_assert(!file_exists("data.mdb"));
	st = open_store(0, STORE_FULL);
	ck_assert(file_exists("data.mdb"));
	ck_assert(file_exists("asyncflowd.lock"));
	ck_assert_int_eq(st->durability, STORE_FULL);
	/* Every named database exists and is empty. */
	for (int db = 0; db < DB__COUNT; db++) {
		struct store_txn *t;
		struct store_cursor *c;
		struct store_val k = { NULL, 0 }, v;

		ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
		ck_assert_int_eq(store_cursor_open(t, (enum store_db)db, &c),
		    AF_OK);
		ck_assert_int_eq(store_cursor_get(c, STORE_FIRST, &k, &v),
		    AF_ENOTFOUND);
		store_cursor_close(c);
		store_abort(t);
	}
}
END_TEST

START_TEST(test_store_open_missing_dir_fails)
{
	struct store *s = (struct store *)1;
	char path[600], err[256] = "";

	snprintf(path, sizeof(path), "%s/does-not-exist", dir);
	ck_assert_int_eq(store_open_lmdb(path, NULL, &s, err, sizeof(err)),
	    AF_ESTORE);
	ck_assert_ptr_null(s);
	ck_assert_msg(err[0] != '\0', "no message");
}
END_TEST

START_TEST(test_store_lmdb_read_txn_recycled)
{
	struct store_txn *r, *r2, *w, *w2;
	struct store_val v;
	int i;

	st = open_store(0, STORE_FULL);
	put_commit(st, DB_META, STR("k"), STR("v0"));
	for (i = 0; i < 2000; i++) {
		ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
		ck_assert_int_eq(store_get(r, DB_META, STR("k"), &v), AF_OK);
		if (i % 2)
			store_abort(r);
		else
			ck_assert_int_eq(store_commit(r), AF_OK);
	}
	/* The read transaction is the same object each time. */
	ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
	store_abort(r);
	ck_assert_int_eq(store_begin(st, true, &r2), AF_OK);
	ck_assert_ptr_eq(r, r2);

	/* Behind the wrappers, the backend refuses a second read or write
	 * transaction itself. */
	r = (struct store_txn *)&r;
	ck_assert_int_eq(st->ops->txn_begin(st, true, &r), AF_ESTATE);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(store_errmsg(st), "read") != NULL, "%s",
	    store_errmsg(st));
	ck_assert_int_eq(store_begin(st, false, &w), AF_OK);
	w2 = (struct store_txn *)&w2;
	ck_assert_int_eq(st->ops->txn_begin(st, false, &w2), AF_ESTATE);
	ck_assert_ptr_null(w2);
	ck_assert_msg(strstr(store_errmsg(st), "write") != NULL, "%s",
	    store_errmsg(st));
	store_abort(w);
	store_abort(r2);
	/* Closing with a read transaction in its reset state is clean. */
}
END_TEST

START_TEST(test_store_second_open_same_dir_refused)
{
	struct store *s2 = (struct store *)1;
	char err[256] = "", out[16];

	st = open_store(0, STORE_FULL);
	put_commit(st, DB_META, STR("a"), STR("1"));
	ck_assert_int_eq(store_open_lmdb(dir, NULL, &s2, err, sizeof(err)),
	    AF_ESTATE);
	ck_assert_ptr_null(s2);
	ck_assert_msg(strstr(err, "in use") != NULL, "%s", err);
	/* The first store is unharmed. */
	put_commit(st, DB_META, STR("b"), STR("2"));
	ck_assert_int_eq(get_copy(st, DB_META, STR("a"), out, sizeof(out)),
	    AF_OK);
	/* Once it is closed, the directory can be opened again. */
	store_close(st);
	st = open_store(0, STORE_FULL);
	ck_assert_int_eq(get_copy(st, DB_META, STR("b"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "2");
}
END_TEST

START_TEST(test_store_map_full)
{
	struct store_txn *t;
	size_t big = 2u << 20;
	char *blob, out[16];
	int rc;

	st = open_store(256u << 10, STORE_FULL);
	put_commit(st, DB_META, STR("before"), STR("ok"));
	ck_assert_ptr_nonnull(blob = malloc(big));
	memset(blob, 'b', big);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_META, STR("small"), STR("s"), false),
	    AF_OK);
	rc = store_put(t, DB_META, STR("big"), SV(blob, big), false);
	if (rc == AF_OK)
		rc = store_commit(t);
	else
		store_abort(t);
	free(blob);
	ck_assert_int_eq(rc, AF_EFULL);
	ck_assert_msg(strstr(store_errmsg(st), "MDB_MAP_FULL") != NULL ||
		strstr(store_errmsg(st), "map") != NULL,
	    "%s", store_errmsg(st));
	/* Nothing of that transaction is there; reads still work. */
	ck_assert_int_eq(get_copy(st, DB_META, STR("big"), out, sizeof(out)),
	    AF_ENOTFOUND);
	ck_assert_int_eq(get_copy(st, DB_META, STR("small"), out, sizeof(out)),
	    AF_ENOTFOUND);
	ck_assert_int_eq(get_copy(st, DB_META, STR("before"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "ok");
	/* A smaller commit fits. */
	put_commit(st, DB_META, STR("after"), STR("fits"));
	store_close(st);
	st = open_store(256u << 10, STORE_FULL);
	ck_assert_int_eq(get_copy(st, DB_META, STR("after"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "fits");
	ck_assert_int_eq(get_copy(st, DB_META, STR("before"), out, sizeof(out)),
	    AF_OK);
}
END_TEST

static Suite *
store_lmdb_suite(void)
{
	Suite *s = suite_create("store_lmdb");
	TCase *tc = tcase_create("store_lmdb");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_store_open_creates_env);
	tcase_add_test(tc, test_store_open_missing_dir_fails);
	tcase_add_test(tc, test_store_lmdb_read_txn_recycled);
	tcase_add_test(tc, test_store_second_open_same_dir_refused);
	tcase_add_test(tc, test_store_map_full);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(store_lmdb_suite)
