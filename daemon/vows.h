/*
 * vows.h: the vow table — durable promises with resolver secrets,
 * settle-once semantics, chains and watcher rows (DESIGN.md §2).
 *
 * A write-back cache over DB_VOWS: changes are kept in memory until
 * vowtab_flush writes them in the engine's group-commit transaction; reads
 * that miss the cache take a short read transaction (never one that stays
 * open). After a commit, vowtab_after_commit empties the cache; after a
 * failed commit, vowtab_discard drops every change and reloads counters.
 *
 * Not here: which activation holds which vow, journaling (the engine).
 *
 * Settling rules:
 *  - A vow settles once. Repeating the identical settlement (same outcome,
 *    byte-identical canonical value, or the same vow followed) is AF_OK; any
 *    other is AF_ESETTLED.
 *  - Resolving with a vow reference makes the vow follow the end of that
 *    vow's chain as it is then (chains are shortened when made; a vow that
 *    starts following later extends the chain behind its followers, which
 *    settle through it, iteratively, at any length); a chain that would
 *    reach the vow itself is AF_ECYCLE and changes nothing. Repeating "resolve with the same vow"
 *    is the identical settlement, whatever the chain became.
 *  - When a vow reaches a final state, every vow following it settles the
 *    same way, and the on_settled callback runs once per vow, in settlement
 *    order.
 *  - A vow's resolver secret is wiped when it reaches a final state: what
 *    stays is a hash of it (vow_secret_hash), which is all the identical
 *    repeat needs. A settled row written before the wipe existed keeps its
 *    secret, and is matched on that.
 *  - A vow made with an owner (the activation that made it) also gets a
 *    DB_OWNED row (tables.h, owned_key), so that pruning the activation
 *    finds it (prune.h): first in the meta table's OWNING_META row, then,
 *    OWNING_MAX at a time or before anything is pruned, in DB_OWNED.
 */
#ifndef AF_VOWS_H
#define AF_VOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"
#include "tables.h"
#include "u64map.h"

struct vow {
	uint64_t id;
	enum vow_state state;
	uint8_t secret[VOW_SECRET_LEN];
	uint8_t *value; /* encoded Value when settled (malloc) */
	size_t value_n;
	uint64_t follows;
	uint64_t settled_seq;
	uint64_t owner;
	bool followed;
	bool invocation;        /* its settlement ends an outbox entry */
	uint64_t resolved_with; /* the vow it was resolved with */
	bool dirty;
	bool made; /* by vowtab_make, not yet flushed: its DB_OWNED row */
};

typedef void vow_settled_fn(void *ctx, const struct vow *v);

struct vowtab;

/* Reads the counters in `t` (a read or write transaction). */
int vowtab_new(struct store *s, struct store_txn *t, vow_settled_fn *cb,
    void *ctx, struct vowtab **out);
void vowtab_free(struct vowtab *vt);

/* A new pending vow. owner: activation id or 0. secret may be NULL. */
int vowtab_make(struct vowtab *vt, uint64_t owner, uint64_t *id,
    uint8_t secret[VOW_SECRET_LEN]);

/* The vow (borrowed until the next vowtab call that may evict: flush,
 * after_commit, discard). AF_ENOTFOUND, AF_ESTORE. */
int vowtab_get(struct vowtab *vt, uint64_t id, struct vow **out);

/*
 * Settle vow `id`. secret NULL means the caller is trusted (the engine for
 * a flow holding the resolver, or an outcome). enc/n is the canonical
 * encoding of the value; follow_id is nonzero iff the value is a top-level
 * vow reference (then enc is ignored unless the chain is already settled).
 * Returns AF_OK, AF_EDENIED, AF_ESETTLED, AF_ECYCLE, AF_ENOTFOUND,
 * AF_ENOMEM, AF_ESTORE.
 */
int vowtab_settle(struct vowtab *vt, uint64_t id, const uint8_t *secret,
    bool reject, const void *enc, size_t n, uint64_t follow_id);

/* Durable watcher rows, written at flush. */
int
vowtab_watch(struct vowtab *vt, uint64_t vow, enum watch_kind k, uint64_t id);
int
vowtab_unwatch(struct vowtab *vt, uint64_t vow, enum watch_kind k, uint64_t id);

/* The vows activation `act` holds whose settlement it has not journaled
 * yet: its committed WATCH_ACT rows, read from DB_HOLDS (*ids malloc'd,
 * the caller frees; NULL/0 on error). */
int vowtab_held_by(struct vowtab *vt, uint64_t act, uint64_t **ids, size_t *n);

/* Write every change in the caller's write transaction. */
int vowtab_flush(struct vowtab *vt, struct store_txn *t);
void vowtab_after_commit(struct vowtab *vt);
/* Forget every unflushed change; counters re-read from the store. */
int vowtab_discard(struct vowtab *vt);
/* Forget the vows read, for a reader of a store that cannot change under
 * it (the check mode's snapshot): the counters are kept, unless changed
 * in memory (then as vowtab_discard). */
int vowtab_forget(struct vowtab *vt);

uint64_t vowtab_settle_seq(const struct vowtab *vt);

/* Move the DB_OWNED rows of the vows made lately, kept in the meta table's
 * OWNING_META row until OWNING_MAX of them are (tables.h), to DB_OWNED,
 * in t: before anything is pruned, which reads DB_OWNED alone. AF_OK or a
 * store error (then abort t). */
int vowtab_owned_flush(struct vowtab *vt, struct store_txn *t);

/* Vow id, just made with an owner, gets no DB_OWNED row: its owner finds
 * it otherwise (an activation's outcome, named by its row). */
void vowtab_unowned(struct vowtab *vt, uint64_t id);

/* Constant-time comparison of two secrets. */
bool vow_secret_equal(const uint8_t *a, const uint8_t *b);
/* What a settled vow keeps of its secret: SipHash-2-4-128 of it under a
 * fixed key (why, in vows.c). out may be secret. */
void vow_secret_hash(const uint8_t *secret, uint8_t out[VOW_SECRET_LEN]);

#endif /* AF_VOWS_H */
