/*
 * turn.h: one turn of the daemon's loop -- the group-commit policy. A turn
 * fires the timers that are due, runs one engine pass (which commits), and
 * hands the held replies out (api_after_pass); after a failed commit it
 * backs off, doubling. It then says what should happen next: another turn
 * at once (events are waiting), a wake-up when the earliest timer is due,
 * or a retry after the backoff.
 *
 * It knows no libevent and no sockets: server.c turns the answer into
 * events, and the tests (check_api.c, the fuzzer, tests/harness.c) call
 * the same function in a plain loop, so what they test is the policy the
 * daemon runs. Not here: reading requests (server.c, api.c), what a pass
 * does (engine).
 */
#ifndef AF_TURN_H
#define AF_TURN_H

#include <stdbool.h>
#include <stdint.h>

struct api;
struct engine;
struct store;

struct turn {
	struct engine *e;
	struct store *s;         /* for the log's error message */
	struct api *api;         /* NULL: no requests (engine-only use) */
	unsigned failed_commits; /* in a row: backs the next turn off */
};

/* What the caller's loop should do after a turn. */
struct turn_next {
	bool again;         /* run another turn as soon as pending I/O
				     * has been served (events are waiting) */
	int64_t wake_ms;    /* >= 0: run a turn in this many ms (the
				     * earliest timer), -1: no timer pending */
	int64_t backoff_ms; /* > 0: the commit failed; run the next
				     * turn after this many ms and no sooner
				     * (again and wake_ms are then unset) */
};

/* The longest backoff after failed commits in a row, in ms. */
#define TURN_BACKOFF_MAX_MS 2000

void
turn_init(struct turn *t, struct engine *e, struct store *s, struct api *api);

/*
 * Run one turn and fill *next (may be NULL). Returns engine_pass's result:
 * AF_OK, or the commit's error, in which case every request of the pass
 * has been answered with it and the activations are rebuilt by replay
 * (engine.h); a failure to fire timers is logged, not returned (the timers
 * stay due and fire in a later turn).
 */
int turn_run(struct turn *t, struct turn_next *next);

/* Batch durability's periodic sync, logged if it fails. A failure breaks
 * the store (store.h): the caller then runs a turn, whose recovery reopens
 * it. On a store broken already it does nothing and returns AF_OK. */
int turn_sync(struct turn *t);

#endif /* AF_TURN_H */
