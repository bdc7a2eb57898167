/*
 * check_store_lmdb.c: what only the LMDB backend (daemon/store_lmdb.c)
 * does, beyond the contract that check_store.c tests: the files it
 * creates, a missing directory, its recycled read transaction and its own
 * refusal of a second transaction (a backstop behind the wrappers), the
 * lock that keeps a second daemon out of a directory, a map that is
 * full, and what real write errors do (a failed meta page write, a full
 * disk, a torn first write), injected by this program's own pwrite(),
 * which liblmdb calls instead of the C library's.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "asyncflow/flow.h"
#include "store.h"
#include "storeutil.h"
#include "testutil.h"
#include <unistd.h>

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

/* ---- pwrite, interposed -------------------------------------------------- */

/*
 * LMDB writes a meta page (page 0 or 1) with one pwrite at the end of each
 * commit, and a new file's two meta pages with one pwrite at creation;
 * data pages lie beyond them. Fail (or tear: write the first half, then
 * fail) the next pwrite that touches the first two pages, once.
 */
static int meta_fail_errno; /* 0: off */
static bool meta_fail_torn;
static int meta_failed; /* how many were failed */

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	long psize = sysconf(_SC_PAGESIZE);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite");
	if (meta_fail_errno != 0 && off < 2 * psize) {
		int e = meta_fail_errno;

		meta_fail_errno = 0;
		meta_failed++;
		if (meta_fail_torn && n > 1)
			(void)real(fd, buf, n / 2, off);
		errno = e;
		return -1;
	}
	return real(fd, buf, n, off);
}

static void
fail_next_meta_write(int e, bool torn)
{
	meta_fail_errno = e;
	meta_fail_torn = torn;
	meta_failed = 0;
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

/* A failed meta page write leaves LMDB in MDB_PANIC: the store says it is
 * broken, refuses transactions, and is whole again once reopened: what
 * was committed before is there, the failed commit is not. */
static void
meta_write_fails(int e, int want_rc, const char *want_msg)
{
	struct store_txn *t;
	char out[16];

	st = open_store(0, STORE_FULL);
	put_commit(st, DB_META, STR("a"), STR("1"));
	ck_assert_ptr_null(store_broken(st));
	fail_next_meta_write(e, false);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_META, STR("b"), STR("2"), false),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), want_rc);
	ck_assert_int_eq(meta_failed, 1);
	ck_assert_msg(strstr(store_errmsg(st), want_msg) != NULL, "%s",
	    store_errmsg(st));
	ck_assert_ptr_nonnull(store_broken(st));
	ck_assert_msg(strstr(store_broken(st), want_msg) != NULL, "%s",
	    store_broken(st));
	/* Broken: nothing goes through until it is reopened. */
	ck_assert_int_eq(store_begin(st, true, &t), AF_ESTORE);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(store_begin(st, false, &t), AF_ESTORE);
	ck_assert_msg(strstr(store_errmsg(st), "reopened") != NULL, "%s",
	    store_errmsg(st));

	ck_assert_int_eq(store_reopen(st), AF_OK);
	ck_assert_ptr_null(store_broken(st));
	ck_assert_int_eq(get_copy(st, DB_META, STR("a"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "1");
	ck_assert_int_eq(get_copy(st, DB_META, STR("b"), out, sizeof(out)),
	    AF_ENOTFOUND);
	put_commit(st, DB_META, STR("c"), STR("3"));
	/* And a fresh process sees the same. */
	store_close(st);
	st = open_store(0, STORE_FULL);
	ck_assert_int_eq(get_copy(st, DB_META, STR("a"), out, sizeof(out)),
	    AF_OK);
	ck_assert_int_eq(get_copy(st, DB_META, STR("b"), out, sizeof(out)),
	    AF_ENOTFOUND);
	ck_assert_int_eq(get_copy(st, DB_META, STR("c"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "3");
}

START_TEST(test_store_meta_write_eio_breaks_then_reopens)
{
	meta_write_fails(EIO, AF_ESTORE, "Input/output error");
}
END_TEST

START_TEST(test_store_meta_write_enospc_is_disk_full)
{
	meta_write_fails(ENOSPC, AF_EFULL, "disk full");
}
END_TEST

/* A torn write of a new file's meta pages (the very first write in a new
 * data directory) leaves a directory that opens next time. */
START_TEST(test_store_torn_first_write_then_opens)
{
	struct store *s = (struct store *)1;
	char err[256] = "", out[16];

	fail_next_meta_write(EIO, true);
	ck_assert_int_ne(store_open_lmdb(dir, NULL, &s, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(meta_failed, 1);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "Input/output error") != NULL, "%s", err);
	ck_assert(!file_exists("data.mdb"));
	st = open_store(0, STORE_FULL);
	ck_assert(!file_exists("data.mdb.new"));
	put_commit(st, DB_META, STR("k"), STR("v"));
	store_close(st);
	st = open_store(0, STORE_FULL);
	ck_assert_int_eq(get_copy(st, DB_META, STR("k"), out, sizeof(out)),
	    AF_OK);
}
END_TEST

/* A torn meta write of a later commit: the other meta page holds. */
START_TEST(test_store_torn_commit_then_reopens)
{
	struct store_txn *t;
	char out[16];

	st = open_store(0, STORE_FULL);
	put_commit(st, DB_META, STR("a"), STR("1"));
	fail_next_meta_write(EIO, true);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, DB_META, STR("b"), STR("2"), false),
	    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_ESTORE);
	ck_assert_ptr_nonnull(store_broken(st));
	ck_assert_int_eq(store_reopen(st), AF_OK);
	ck_assert_int_eq(get_copy(st, DB_META, STR("a"), out, sizeof(out)),
	    AF_OK);
	put_commit(st, DB_META, STR("c"), STR("3"));
	store_close(st);
	st = open_store(0, STORE_FULL);
	ck_assert_int_eq(get_copy(st, DB_META, STR("a"), out, sizeof(out)),
	    AF_OK);
	ck_assert_int_eq(get_copy(st, DB_META, STR("c"), out, sizeof(out)),
	    AF_OK);
}
END_TEST

/* Reopening is refused while a transaction is open, and allowed on a
 * store that works: what is committed is all there afterwards. */
START_TEST(test_store_reopen_rules)
{
	struct store_txn *t;
	char out[16];

	st = open_store(0, STORE_BATCH);
	put_commit(st, DB_META, STR("a"), STR("1"));
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(store_reopen(st), AF_ESTATE);
	store_abort(t);
	ck_assert_int_eq(store_reopen(st), AF_OK);
	ck_assert_ptr_null(store_broken(st));
	ck_assert_int_eq(get_copy(st, DB_META, STR("a"), out, sizeof(out)),
	    AF_OK);
	ck_assert_str_eq(out, "1");
	put_commit(st, DB_META, STR("b"), STR("2"));
	ck_assert_int_eq(store_sync(st), AF_OK);
}
END_TEST

/* The read transaction's cursors are kept open from one use to the next
 * (store_lmdb.c, kept_cursor): a kept cursor must behave as a new one.
 * In a later transaction it sees what committed in between, not where it
 * was; two cursors on one database at once are independent; a get does
 * not move an open cursor; a cursor left open at the end of its
 * transaction does not stop the next one; and a snapshot's kept cursor
 * sees the snapshot. */
static uint64_t
next_key(struct store_cursor *c, enum store_cursor_op op, uint64_t from)
{
	struct store_val k, v;
	uint8_t key[8];

	store_be64(key, from);
	k = (struct store_val){ key, 8 };
	if (store_cursor_get(c, op, &k, &v) != AF_OK)
		return 0;
	ck_assert_uint_eq(k.n, 8);
	return store_rd_be64(k.p);
}

static void
put_key(struct store *s, uint64_t id, bool del)
{
	struct store_txn *w;
	uint8_t key[8];

	store_be64(key, id);
	ck_assert_int_eq(store_begin(s, false, &w), AF_OK);
	if (del)
		ck_assert_int_eq(store_del(w, DB_ACTS, SV(key, 8)), AF_OK);
	else
		ck_assert_int_eq(store_put(w, DB_ACTS, SV(key, 8), STR("row"),
				     false),
		    AF_OK);
	ck_assert_int_eq(store_commit(w), AF_OK);
}

START_TEST(test_store_lmdb_kept_cursors)
{
	struct store_cursor *c, *c2;
	struct store_txn *r;
	struct store_val v;
	struct store *snap;
	uint8_t key[8];
	char err[256];
	uint64_t i;

	st = open_store(0, STORE_NONE);
	for (i = 1; i <= 3; i++)
		put_key(st, i, false);
	ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
	ck_assert_int_eq(store_cursor_open(r, DB_ACTS, &c), AF_OK);
	ck_assert_uint_eq(next_key(c, STORE_SET_RANGE, 3), 3);
	store_cursor_close(c);
	store_abort(r);
	put_key(st, 2, true);
	put_key(st, 4, false);
	/* A new transaction: what committed, from the start. */
	ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
	ck_assert_int_eq(store_cursor_open(r, DB_ACTS, &c), AF_OK);
	ck_assert_uint_eq(next_key(c, STORE_FIRST, 0), 1);
	ck_assert_uint_eq(next_key(c, STORE_NEXT, 0), 3);
	/* A second cursor on the same database, and gets, while the first
	 * is open: neither moves it. */
	ck_assert_int_eq(store_cursor_open(r, DB_ACTS, &c2), AF_OK);
	ck_assert_uint_eq(next_key(c2, STORE_SET_RANGE, 4), 4);
	store_be64(key, 2);
	ck_assert_int_eq(store_get(r, DB_ACTS, SV(key, 8), &v), AF_ENOTFOUND);
	store_be64(key, 1);
	ck_assert_int_eq(store_get(r, DB_ACTS, SV(key, 8), &v), AF_OK);
	ck_assert_uint_eq(v.n, 3);
	ck_assert_uint_eq(next_key(c, STORE_NEXT, 0), 4);
	ck_assert_uint_eq(next_key(c, STORE_NEXT, 0), 0);
	store_cursor_close(c2);
	/* Left open at the end of the transaction: the next one is not
	 * stopped by it. */
	store_abort(r);
	put_key(st, 5, false);
	ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
	store_be64(key, 5);
	ck_assert_int_eq(store_get(r, DB_ACTS, SV(key, 8), &v), AF_OK);
	ck_assert_int_eq(store_cursor_open(r, DB_ACTS, &c), AF_OK);
	ck_assert_uint_eq(next_key(c, STORE_SET_RANGE, 4), 4);
	ck_assert_uint_eq(next_key(c, STORE_NEXT, 0), 5);
	store_cursor_close(c);
	store_abort(r);

	/* A snapshot's kept cursors see the snapshot, in every one of its
	 * read transactions. */
	ck_assert_int_eq(store_open_lmdb_snapshot(dir, NULL, &snap, err,
			     sizeof(err)),
	    AF_OK);
	put_key(st, 6, false);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(store_begin(snap, true, &r), AF_OK);
		ck_assert_int_eq(store_cursor_open(r, DB_ACTS, &c), AF_OK);
		ck_assert_uint_eq(next_key(c, STORE_SET_RANGE, 5), 5);
		ck_assert_uint_eq(next_key(c, STORE_NEXT, 0), 0);
		store_cursor_close(c);
		store_be64(key, 6);
		ck_assert_int_eq(store_get(r, DB_ACTS, SV(key, 8), &v),
		    AF_ENOTFOUND);
		store_be64(key, 3);
		ck_assert_int_eq(store_get(r, DB_ACTS, SV(key, 8), &v), AF_OK);
		store_abort(r);
	}
	store_close(snap);
}
END_TEST

/* A store made by an older release lacks the tables added since (the
 * daemon creates them at its next read-write open). A read-only snapshot
 * of it (the upgrade checker's, before that open) reads them as empty
 * instead of failing to open. */
START_TEST(test_store_lmdb_snapshot_reads_a_missing_table_as_empty)
{
	struct store_cursor *c;
	struct store_txn *r;
	struct store_db_stat ds;
	struct store *snap;
	struct store_val v, k;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi d;
	uint8_t key[16];
	char err[256];

	st = open_store(0, STORE_FULL);
	put_key(st, 1, false);
	store_close(st);
	st = NULL;
	/* As an older release left it: no "children" table. */
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 64), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, store_db_name(DB_CHILDREN), 0, &d),
	    0);
	ck_assert_int_eq(mdb_drop(txn, d, 1), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	ck_assert_msg(store_open_lmdb_snapshot(dir, NULL, &snap, err,
			  sizeof(err)) == AF_OK,
	    "%s", err);
	ck_assert_int_eq(store_begin(snap, true, &r), AF_OK);
	memset(key, 0, sizeof(key));
	ck_assert_int_eq(store_get(r, DB_CHILDREN, SV(key, 16), &v),
	    AF_ENOTFOUND);
	ck_assert_int_eq(store_cursor_open(r, DB_CHILDREN, &c), AF_OK);
	k = (struct store_val){ key, 16 };
	ck_assert_int_eq(store_cursor_get(c, STORE_FIRST, &k, &v),
	    AF_ENOTFOUND);
	ck_assert_int_eq(store_cursor_get(c, STORE_SET_RANGE, &k, &v),
	    AF_ENOTFOUND);
	store_cursor_close(c);
	ck_assert_int_eq(store_db_stat(r, DB_CHILDREN, &ds), AF_OK);
	ck_assert_uint_eq(ds.entries, 0);
	/* The other tables read as before. */
	store_be64(key, 1);
	ck_assert_int_eq(store_get(r, DB_ACTS, SV(key, 8), &v), AF_OK);
	store_abort(r);
	store_close(snap);

	/* The next read-write open creates it. */
	st = open_store(0, STORE_FULL);
	ck_assert_int_eq(store_begin(st, true, &r), AF_OK);
	ck_assert_int_eq(store_db_stat(r, DB_CHILDREN, &ds), AF_OK);
	ck_assert_uint_eq(ds.entries, 0);
	store_abort(r);
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
	tcase_add_test(tc, test_store_lmdb_kept_cursors);
	tcase_add_test(tc,
	    test_store_lmdb_snapshot_reads_a_missing_table_as_empty);
	tcase_add_test(tc, test_store_second_open_same_dir_refused);
	tcase_add_test(tc, test_store_map_full);
	tcase_add_test(tc, test_store_meta_write_eio_breaks_then_reopens);
	tcase_add_test(tc, test_store_meta_write_enospc_is_disk_full);
	tcase_add_test(tc, test_store_torn_first_write_then_opens);
	tcase_add_test(tc, test_store_torn_commit_then_reopens);
	tcase_add_test(tc, test_store_reopen_rules);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(store_lmdb_suite)
