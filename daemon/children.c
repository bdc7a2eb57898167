/*
 * children.c: the index of child flows, DB_CHILDREN (see children.h).
 *
 * Not here: when entries are written (commit.c) or deleted (prune.c), the
 * list of a parent's children that are not committed yet (exports.c).
 */
#include <inttypes.h>
#include <string.h>

#include "children.h"
#include "log.h"
#include "store.h"
#include "tables.h"

void
child_key(uint8_t key[CHILD_KEY_LEN], uint64_t parent, uint64_t child)
{
	store_be64(key, parent);
	store_be64(key + 8, child);
}

int
children_put(struct store_txn *t, uint64_t parent, uint64_t child)
{
	uint8_t key[CHILD_KEY_LEN];

	child_key(key, parent, child);
	return store_put(t, DB_CHILDREN, (struct store_val){ key, sizeof(key) },
	    (struct store_val){ "", 0 }, false);
}

int
children_del(struct store_txn *t, uint64_t parent, uint64_t child)
{
	uint8_t key[CHILD_KEY_LEN];
	int rc;

	child_key(key, parent, child);
	rc = store_del(t, DB_CHILDREN, (struct store_val){ key, sizeof(key) });
	return rc == AF_ENOTFOUND ? AF_OK : rc;
}

/* The first key of DB_CHILDREN with the 8-byte prefix (all keys if prefix
 * is NULL), copied into key; AF_ENOTFOUND if none. */
static int
first_key(struct store_txn *t, const uint8_t *prefix,
    uint8_t key[CHILD_KEY_LEN], size_t *klen)
{
	struct store_cursor *c;
	struct store_val k = { prefix, prefix ? 8 : 0 }, v;
	int rc;

	if ((rc = store_cursor_open(t, DB_CHILDREN, &c)) != AF_OK)
		return rc;
	rc = store_cursor_get(c, prefix ? STORE_SET_RANGE : STORE_FIRST, &k,
	    &v);
	if (rc == AF_OK && prefix != NULL &&
	    (k.n < 8 || memcmp(k.p, prefix, 8) != 0))
		rc = AF_ENOTFOUND;
	if (rc == AF_OK) {
		*klen = k.n < CHILD_KEY_LEN ? k.n : CHILD_KEY_LEN;
		memcpy(key, k.p, *klen);
		if (k.n != CHILD_KEY_LEN)
			rc = AF_EDECODE;
	}
	store_cursor_close(c);
	return rc;
}

int
children_del_all(struct store_txn *t, uint64_t parent, size_t *budget)
{
	uint8_t prefix[8], key[CHILD_KEY_LEN];
	size_t klen;
	int rc;

	store_be64(prefix, parent);
	while (*budget > 0) {
		rc = first_key(t, prefix, key, &klen);
		if (rc == AF_ENOTFOUND)
			return AF_OK;
		if (rc != AF_OK && rc != AF_EDECODE)
			return rc;
		/* A malformed key of this parent goes too. */
		if ((rc = store_del(t, DB_CHILDREN,
			 (struct store_val){ key, klen })) != AF_OK &&
		    rc != AF_ENOTFOUND)
			return rc;
		(*budget)--;
	}
	return AF_OK;
}

struct scan_ctx {
	uint8_t prefix[8];
	children_fn *cb;
	void *ctx;
};

static int
scan_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct scan_ctx *sc = ctx;

	(void)v;
	if (k.n < 8 || memcmp(k.p, sc->prefix, 8) != 0)
		return 1; /* past this parent's range */
	if (k.n != CHILD_KEY_LEN)
		return AF_EDECODE;
	return sc->cb(sc->ctx, store_rd_be64((const uint8_t *)k.p + 8));
}

int
children_scan(struct store *s, uint64_t parent, children_fn *cb, void *ctx)
{
	struct scan_ctx sc = { { 0 }, cb, ctx };

	store_be64(sc.prefix, parent);
	return store_scan(s, DB_CHILDREN, sc.prefix, 8, scan_cb, &sc);
}

/* Every DB_ACTS row with a parent gets its entry, in t. */
static int
rebuild(struct store_txn *t, uint64_t *n)
{
	uint8_t key[CHILD_KEY_LEN];
	struct store_cursor *c;
	struct store_val k, v;
	struct act_row row;
	size_t klen;
	int rc;

	*n = 0;
	/* What an older daemon left, if anything, is not trusted. */
	while (
	    (rc = first_key(t, NULL, key, &klen)) == AF_OK || rc == AF_EDECODE)
		if ((rc = store_del(t, DB_CHILDREN,
			 (struct store_val){ key, klen })) != AF_OK)
			return rc;
	if (rc != AF_ENOTFOUND)
		return rc;
	if ((rc = store_cursor_open(t, DB_ACTS, &c)) != AF_OK)
		return rc;
	for (rc = store_cursor_get(c, STORE_FIRST, &k, &v); rc == AF_OK;
	     rc = store_cursor_get(c, STORE_NEXT, &k, &v)) {
		if (k.n != 8 || act_row_parse(v.p, v.n, &row) != AF_OK) {
			log_warn("children index: skipping an unreadable "
				 "activation row (key of %zu bytes)",
			    k.n);
			continue;
		}
		if (row.parent == 0)
			continue;
		/* A put through t under an open cursor of another table. */
		if ((rc = children_put(t, row.parent,
			 store_rd_be64((const uint8_t *)k.p))) != AF_OK)
			break;
		(*n)++;
	}
	store_cursor_close(c);
	return rc == AF_ENOTFOUND ? AF_OK : rc;
}

int
children_index_open(struct store_txn *t, uint64_t next)
{
	uint64_t kept, n;
	int rc;

	rc = meta_get_u64(t, CHILDREN_META, &kept);
	if (rc != AF_OK && rc != AF_ENOTFOUND && rc != AF_EDECODE)
		return rc;
	if (rc != AF_OK || kept + 1 != next) {
		if ((rc = rebuild(t, &n)) != AF_OK)
			return rc;
		if (next > 1) /* not a new store */
			log_info("children index built: %" PRIu64
				 " child flows",
			    n);
	}
	return meta_put_u64(t, CHILDREN_META, next);
}
