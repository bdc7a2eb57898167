/*
 * outbox.c: DB_OUTBOX rows (see outbox.h).
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox.h"
#include "store.h"
#include "vec.h"

void
outbox_init(struct outbox *ob)
{
	memset(ob, 0, sizeof(*ob));
	buf_init(&ob->rows);
}

void
outbox_release(struct outbox *ob)
{
	buf_release(&ob->rows);
	free(ob->puts);
	free(ob->dels);
	outbox_init(ob);
}

void
outbox_reset(struct outbox *ob)
{
	buf_reset(&ob->rows);
	ob->nputs = ob->ndels = 0;
}

int
outbox_add(struct outbox *ob, uint64_t vow, const struct outbox_row *row)
{
	size_t off = ob->rows.len;
	int rc;

	if (vec_grow((void **)&ob->puts, &ob->capputs, ob->nputs + 1,
		sizeof(*ob->puts)) != AF_OK)
		return AF_ENOMEM;
	if ((rc = outbox_row_encode(&ob->rows, row)) != AF_OK ||
	    (rc = ob->rows.err) != AF_OK) {
		buf_truncate(&ob->rows, off);
		ob->rows.err = AF_OK;
		return rc;
	}
	ob->puts[ob->nputs++] = (struct outbox_put){ vow, off,
		ob->rows.len - off };
	return AF_OK;
}

int
outbox_answered(struct outbox *ob, uint64_t vow)
{
	if (vec_grow((void **)&ob->dels, &ob->capdels, ob->ndels + 1,
		sizeof(*ob->dels)) != AF_OK)
		return AF_ENOMEM;
	ob->dels[ob->ndels++] = vow;
	return AF_OK;
}

int
outbox_flush(struct outbox *ob, struct store_txn *t)
{
	uint8_t key[8];
	size_t i;
	int rc;

	for (i = 0; i < ob->nputs; i++) {
		store_be64(key, ob->puts[i].vow);
		rc = store_put(t, DB_OUTBOX, (struct store_val){ key, 8 },
		    (struct store_val){ ob->rows.p + ob->puts[i].off,
			ob->puts[i].len },
		    false);
		if (rc != AF_OK)
			return rc;
	}
	for (i = 0; i < ob->ndels; i++) {
		store_be64(key, ob->dels[i]);
		rc = store_del(t, DB_OUTBOX, (struct store_val){ key, 8 });
		if (rc != AF_OK && rc != AF_ENOTFOUND)
			return rc;
	}
	return AF_OK;
}

int
outbox_get(struct store *s, uint64_t vow, struct buf *b, struct outbox_row *row)
{
	struct store_txn *t;
	struct store_val v;
	uint8_t key[8];
	int rc;

	store_be64(key, vow);
	if ((rc = store_begin(s, true, &t)) != AF_OK)
		return rc;
	rc = store_get(t, DB_OUTBOX, (struct store_val){ key, 8 }, &v);
	if (rc == AF_OK) {
		buf_reset(b);
		buf_put(b, v.p, v.n); /* v is gone with the transaction */
		rc = b->err;
	}
	store_abort(t);
	if (rc == AF_OK && (rc = outbox_row_parse(b->p, b->len, row)) != AF_OK)
		log_warn("outbox row of vow %llu is unreadable: %s",
		    (unsigned long long)vow, af_strerror(rc));
	return rc;
}

struct scan_ctx {
	outbox_scan_fn *cb;
	void *ctx;
};

static int
scan_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct scan_ctx *sc = ctx;
	struct outbox_row row;
	uint64_t vow;

	if (k.n != 8) {
		log_warn("outbox: skipping a key of %zu bytes", k.n);
		return 0;
	}
	vow = store_rd_be64(k.p);
	if (outbox_row_parse(v.p, v.n, &row) != AF_OK) {
		log_warn("outbox row of vow %llu is unreadable; skipped",
		    (unsigned long long)vow);
		return 0;
	}
	return sc->cb(sc->ctx, vow, &row);
}

int
outbox_scan(struct store *s, outbox_scan_fn *cb, void *ctx)
{
	struct scan_ctx sc = { cb, ctx };

	return store_scan(s, DB_OUTBOX, NULL, 0, scan_cb, &sc);
}
