/*
 * outbox.h: the outbox (DB_OUTBOX) — invocations (eventual sends) waiting
 * for their answer, one row per result vow (key: vow id, big-endian; value:
 * an outbox_row, tables.h). This pass's new rows and deletions are kept
 * here and written in the pass's commit; reads see committed rows only.
 * It does not decide when an invocation is answered (the engine does) nor
 * how one is sent (the api layer).
 */
#ifndef AF_OUTBOX_H
#define AF_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tables.h"

struct store;
struct store_txn;

struct outbox_put {
	uint64_t vow;
	size_t off, len; /* the encoded row in rows */
};

struct outbox {
	struct buf rows;
	struct outbox_put *puts;
	size_t nputs, capputs;
	uint64_t *dels; /* answered invocations */
	size_t ndels, capdels;
};

void outbox_init(struct outbox *ob);
void outbox_release(struct outbox *ob);
/* Forget this pass's changes, keeping the memory. */
void outbox_reset(struct outbox *ob);

/* A new invocation with result vow `vow`: AF_OK or AF_ENOMEM (nothing
 * recorded). */
int outbox_add(struct outbox *ob, uint64_t vow, const struct outbox_row *row);
/* The invocation of result vow `vow` was answered: delete its row. */
int outbox_answered(struct outbox *ob, uint64_t vow);
/* Write this pass's changes in the caller's write transaction. */
int outbox_flush(struct outbox *ob, struct store_txn *t);

/* The committed row of `vow`, copied into b (row points into b).
 * AF_ENOTFOUND once answered. */
int outbox_get(struct store *s, uint64_t vow, struct buf *b,
    struct outbox_row *row);
/* Every committed row in vow order, in one read transaction: cb gets views
 * valid during the call; a nonzero return stops (negative: returned).
 * Unreadable rows are logged and skipped. */
typedef int
outbox_scan_fn(void *ctx, uint64_t vow, const struct outbox_row *row);
int outbox_scan(struct store *s, outbox_scan_fn *cb, void *ctx);

#endif /* AF_OUTBOX_H */
