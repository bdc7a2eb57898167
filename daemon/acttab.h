/*
 * acttab.h: the activation table (DB_ACTS) — one row per activation (key:
 * id, big-endian; value: an act_row, tables.h). Reads take a short read
 * transaction of their own and copy what they return; writes go into the
 * caller's write transaction. It holds no state and no policy: which rows
 * to write, and when, is the engine's.
 */
#ifndef AF_ACTTAB_H
#define AF_ACTTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "tables.h"

struct store;
struct store_txn;

/* The committed row of `id`, copied into b (row points into b).
 * AF_ENOTFOUND, AF_EDECODE (logged with its id), store errors. */
int
acttab_read(struct store *s, uint64_t id, struct act_row *row, struct buf *b);
/* Write the row of `id` in t; scratch is used for the encoding. */
int acttab_put(struct store_txn *t, uint64_t id, const struct act_row *row,
    struct buf *scratch);
/* Record in the row of `id` that its journal is deleted up to `to`.
 * AF_ENOTFOUND if it has no row. */
int acttab_set_journal_gc(struct store_txn *t, uint64_t id, uint64_t to,
    struct buf *scratch);
/* Mark the row of `id` Failed and quarantined with `why` (a Done row
 * stays Done; no row: AF_OK, its start never committed). */
int acttab_quarantine(struct store_txn *t, uint64_t id, const char *why);

/* One entry of the activation table as a walk of it sees it: its id and
 * parsed row into *id and *row; false (logged) for an entry that is to be
 * skipped, a key that is not an id or a row that does not parse. The
 * fields of *row point into v. */
bool acttab_entry(struct store_val k, struct store_val v, uint64_t *id,
    struct act_row *row);

/* Every row with id >= from, in id order, in one read transaction: cb gets
 * a view valid during the call and returns 0 to go on, 1 to stop, or a
 * negative error (returned). Unreadable rows are logged with their key and
 * skipped. */
typedef int acttab_scan_fn(void *ctx, uint64_t id, const struct act_row *row);
int acttab_scan(struct store *s, uint64_t from, acttab_scan_fn *cb, void *ctx);

#endif /* AF_ACTTAB_H */
