/*
 * storeutil.c: Check helpers for tests of the store (see storeutil.h).
 */
#include <check.h>
#include <string.h>

#include "storeutil.h"

struct store *
storeutil_open(const char *dir, size_t map_size, enum store_durability d)
{
	struct store_opts o = { .map_size = map_size, .durability = d };
	struct store *s = NULL;
	char err[256] = "";

	ck_assert_msg(store_open_lmdb(dir, &o, &s, err, sizeof(err)) == AF_OK,
	    "store_open_lmdb: %s", err);
	ck_assert_ptr_nonnull(s);
	return s;
}

void
storeutil_put_commit(struct store *s, enum store_db db, struct store_val k,
    struct store_val v)
{
	struct store_txn *t;

	ck_assert_int_eq(store_begin(s, false, &t), AF_OK);
	ck_assert_int_eq(store_put(t, db, k, v, false), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
}

int
storeutil_get_copy(struct store *s, enum store_db db, struct store_val k,
    char *out, size_t outlen)
{
	struct store_txn *t;
	struct store_val v = { NULL, 0 };
	int rc;

	ck_assert_int_eq(store_begin(s, true, &t), AF_OK);
	rc = store_get(t, db, k, &v);
	if (rc == AF_OK) {
		ck_assert_uint_lt(v.n, outlen);
		memcpy(out, v.p, v.n);
		out[v.n] = '\0';
	}
	store_abort(t);
	return rc;
}

struct store_db_stat
storeutil_db_stat(struct store *s, enum store_db db)
{
	struct store_db_stat out;
	struct store_txn *t;

	ck_assert_int_eq(store_begin(s, true, &t), AF_OK);
	ck_assert_int_eq(store_db_stat(t, db, &out), AF_OK);
	store_abort(t);
	return out;
}
