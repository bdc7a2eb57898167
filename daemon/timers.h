/*
 * timers.h: durable timers (DB_TIMERS) — every pending timer in a min-heap
 * by due time, and the rows this pass adds and deletes, written in the
 * pass's commit. A timer is a vow that is fulfilled once it is due; this
 * module does not settle it (the engine does) and knows nothing of flows.
 *
 * Row layout: key = due ms ‖ vow id, both big-endian (TIMER_KEY_LEN), value
 * empty, so the table sorts by due time.
 */
#ifndef AF_TIMERS_H
#define AF_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_txn;

struct timer {
	int64_t due; /* ms since the epoch */
	uint64_t vow;
};

struct timers {
	struct timer *heap; /* every pending timer, min-heap by due */
	size_t n, cap;
	struct timer *puts, *dels; /* row changes of this pass */
	size_t nputs, capputs, ndels, capdels;
};

void timers_init(struct timers *tm);
void timers_release(struct timers *tm);

/* A new timer: in the heap now, its row at the next flush. */
int timers_add(struct timers *tm, struct timer t);
/* The earliest pending timer, if any. */
bool timers_next(const struct timers *tm, struct timer *out);
/* Take the earliest timer out of the heap if it is due at `now` and note
 * its row's deletion: AF_OK, AF_ENOTFOUND (none due), AF_ENOMEM (nothing
 * changed). */
int timers_take_due(struct timers *tm, int64_t now, struct timer *out);
/* Take the timer of vow `vow` out of the heap, whenever it is due, and
 * note its row's deletion (engine_terminate): AF_OK, AF_ENOTFOUND (no
 * pending timer has that vow), AF_ENOMEM (nothing changed). O(n). */
int timers_cancel(struct timers *tm, uint64_t vow);
/* Undo the last timers_take_due (its settlement failed: it fires later). */
void timers_untake(struct timers *tm, struct timer t);
size_t timers_pending(const struct timers *tm);

/* Write this pass's row changes in the caller's write transaction. */
int timers_flush(struct timers *tm, struct store_txn *t);
/* Forget this pass's row changes (after a commit, or before a reload). */
void timers_reset(struct timers *tm);
/* Rebuild the heap from the committed rows; this pass's changes are
 * dropped. */
int timers_load(struct timers *tm, struct store *s);

#endif /* AF_TIMERS_H */
