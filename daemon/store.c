/*
 * store.c: helpers every user of the store needs, written once on top of
 * struct store_ops (so they work through fault-injecting wrappers too).
 * No LMDB here: that is store_lmdb.c.
 */
#include "asyncflow/flow.h"
#include "store.h"

int
store_scan(struct store *s, enum store_db db, const void *from, size_t n,
    store_scan_fn *cb, void *ctx)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k = { from, n }, v;
	int rc;

	if ((rc = store_begin(s, true, &t)) != AF_OK)
		return rc;
	if ((rc = store_cursor_open(t, db, &c)) != AF_OK) {
		store_abort(t);
		return rc;
	}
	for (rc = store_cursor_get(c, from ? STORE_SET_RANGE : STORE_FIRST,
	    &k, &v); rc == AF_OK; rc = store_cursor_get(c, STORE_NEXT, &k,
	    &v)) {
		if ((rc = cb(ctx, k, v)) != 0)
			break;
	}
	store_cursor_close(c);
	store_abort(t);
	if (rc == AF_ENOTFOUND || rc > 0)
		return AF_OK;   /* the end, or the callback had enough */
	return rc;
}
