/*
 * prune.h: deleting everything a finished activation left in the store
 * (retention, `purge`; DESIGN.md §9). Rows, not policy: which activation
 * to prune and when is the engine's (commit.c, from DB_FINISHED and the
 * --retention option); this module deletes one activation's rows, a
 * bounded number per call, in the caller's write transaction.
 *
 * What an activation leaves, and so what goes, in this order:
 *   1. its row (DB_ACTS) and its outcome vow, which the row names (it
 *      has no DB_OWNED row: one table fewer in every start's commit):
 *      from the first step on it is unknown (ENOTFOUND);
 *   2. its journal (DB_JOURNAL, act ‖ *), retained or not yet collected;
 *   3. its holds (DB_HOLDS act ‖ vow) and their DB_WATCHERS twins: vows
 *      it waited on and will never journal;
 *   4. what it made (DB_OWNED act ‖ tag ‖ what): its vows (the outcome
 *      included) with their pending timers, and its idempotency key;
 *   5. its children's entries in the index of child flows (DB_CHILDREN
 *      act ‖ *; the children themselves stay), as step 1 deleted its own
 *      entry under its parent;
 *   6. last, its DB_FINISHED entry, so that a crash anywhere before leaves
 *      the entry, and the next daemon goes on where this one stopped.
 * Each step finds what is left by its key prefix, so a call that ran out
 * of budget, or a crash, loses nothing: the next call starts over and
 * finds only what is still there.
 *
 * A vow it made is kept (only its DB_OWNED row goes) while someone else
 * still needs it: another activation holds it and has not journaled its
 * settlement, a vow follows it, or it is the result of an invocation not
 * yet answered (the server still settles it). Such a vow outlives its
 * activation. Every other one is deleted, pending or not: a later settle
 * or get of it is ENOTFOUND, as for any unknown vow.
 *
 * Not here: when to prune (commit.c), the vow cache (the engine prunes in
 * its commit after the cache is flushed, and the cache is dropped after
 * every commit), the in-memory timer heap beyond timers_cancel.
 */
#ifndef AF_PRUNE_H
#define AF_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tables.h"

struct store_txn;
struct timers;

/*
 * Step 1 alone (a purge does it in its own commit): delete act's row and
 * its outcome vow (unless someone else still needs it, as above), in t.
 * AF_OK if there is no row. AF_OK, or a store error (abort t).
 */
int prune_row(struct store_txn *t, struct timers *tm, uint64_t act);

/*
 * Delete what activation `act` left (see above), at most *budget rows, in
 * t; *budget is decreased by the rows deleted. fkey is its DB_FINISHED
 * key, deleted last. tm: the timer heap, whose pending timers of deleted
 * vows are cancelled (their rows go at its flush); NULL: none. *done is
 * true once everything is gone, fkey included. AF_OK, or a store error
 * (then t must be aborted) or AF_ENOMEM.
 */
int prune_act(struct store_txn *t, struct timers *tm, uint64_t act,
    const uint8_t fkey[FINISHED_KEY_LEN], size_t *budget, bool *done);

/*
 * Parse a retention DURATION (--retention): a non-negative whole number
 * and an optional unit, "ms", "s", "m", "h" or "d" (none: seconds), e.g.
 * "7d", "90m", "0". AF_OK with *ms; AF_EINVAL (*ms untouched) for
 * anything else: a sign, no digits, another unit, more than 100 years.
 */
int prune_parse_duration(const char *s, int64_t *ms);

#endif /* AF_PRUNE_H */
