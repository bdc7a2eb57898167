/*
 * acttab.c: DB_ACTS rows (see acttab.h).
 */
#include <string.h>

#include "acttab.h"
#include "log.h"
#include "store.h"

int
acttab_read(struct store *s, uint64_t id, struct act_row *row, struct buf *b)
{
	struct store_txn *t;
	struct store_val v;
	uint8_t key[8];
	int rc;

	store_be64(key, id);
	if ((rc = store_begin(s, true, &t)) != AF_OK)
		return rc;
	rc = store_get(t, DB_ACTS, (struct store_val){ key, 8 }, &v);
	if (rc == AF_OK) {
		buf_reset(b);
		buf_put(b, v.p, v.n); /* v is gone with the transaction */
		rc = b->err;
	}
	store_abort(t);
	if (rc == AF_OK && (rc = act_row_parse(b->p, b->len, row)) != AF_OK)
		log_warn("activation row %llu is unreadable: %s",
		    (unsigned long long)id, af_strerror(rc));
	return rc;
}

int
acttab_put(struct store_txn *t, uint64_t id, const struct act_row *row,
    struct buf *scratch)
{
	uint8_t key[8];
	int rc;

	buf_reset(scratch);
	if ((rc = act_row_encode(scratch, row)) != AF_OK)
		return rc;
	store_be64(key, id);
	return store_put(t, DB_ACTS, (struct store_val){ key, 8 },
	    (struct store_val){ scratch->p, scratch->len }, false);
}

/* The row of `id` in t, copied into b. */
static int
get_row(struct store_txn *t, uint64_t id, struct act_row *row, struct buf *b)
{
	struct store_val v;
	uint8_t key[8];
	int rc;

	store_be64(key, id);
	if ((rc = store_get(t, DB_ACTS, (struct store_val){ key, 8 }, &v)) !=
	    AF_OK)
		return rc;
	buf_reset(b);
	buf_put(b, v.p, v.n); /* v is invalid once we write */
	if ((rc = b->err) == AF_OK &&
	    (rc = act_row_parse(b->p, b->len, row)) != AF_OK)
		log_warn("activation row %llu is unreadable: %s",
		    (unsigned long long)id, af_strerror(rc));
	return rc;
}

int
acttab_set_journal_gc(struct store_txn *t, uint64_t id, uint64_t to,
    struct buf *scratch)
{
	struct act_row row;
	struct buf b;
	int rc;

	buf_init(&b);
	rc = get_row(t, id, &row, &b);
	if (rc == AF_EDECODE)
		rc = AF_OK; /* logged; nothing to record it in */
	else if (rc == AF_OK && row.journal_gc < to) {
		row.journal_gc = to;
		rc = acttab_put(t, id, &row, scratch);
	}
	buf_release(&b);
	return rc;
}

int
acttab_quarantine(struct store_txn *t, uint64_t id, const char *why)
{
	struct act_row row;
	struct buf b, out;
	int rc;

	buf_init(&b);
	rc = get_row(t, id, &row, &b);
	if (rc == AF_ENOTFOUND)
		rc = AF_OK; /* its start never committed */
	else if (rc == AF_OK && row.state != ACT_DONE) {
		row.state = ACT_FAILED;
		row.quarantined = true;
		row.failure = (struct af_str){ why, strlen(why) };
		buf_init(&out);
		rc = acttab_put(t, id, &row, &out);
		buf_release(&out);
	}
	buf_release(&b);
	return rc;
}

struct scan_ctx {
	acttab_scan_fn *cb;
	void *ctx;
};

bool
acttab_entry(struct store_val k, struct store_val v, uint64_t *id,
    struct act_row *row)
{
	if (k.n != 8) {
		log_warn("activation table: skipping a key of %zu bytes", k.n);
		return false;
	}
	*id = store_rd_be64(k.p);
	if (act_row_parse(v.p, v.n, row) != AF_OK) {
		log_warn("activation row %llu is unreadable; skipped",
		    (unsigned long long)*id);
		return false;
	}
	return true;
}

static int
scan_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct scan_ctx *sc = ctx;
	struct act_row row;
	uint64_t id;

	if (!acttab_entry(k, v, &id, &row))
		return 0;
	return sc->cb(sc->ctx, id, &row);
}

int
acttab_scan(struct store *s, uint64_t from, acttab_scan_fn *cb, void *ctx)
{
	struct scan_ctx sc = { cb, ctx };
	uint8_t key[8];

	store_be64(key, from);
	return store_scan(s, DB_ACTS, from ? key : NULL, from ? 8 : 0, scan_cb,
	    &sc);
}
