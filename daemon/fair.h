/*
 * fair.h: the order in which connections with frames waiting are served,
 * so that one client cannot make the others wait. A connection hands at
 * most FAIR_FRAMES_PER_TURN frames to the api per turn; one that has more
 * is deferred, and after the turn each deferred connection gets its next
 * share, in the order they were deferred. A client that pipelines
 * 100,000 requests then delays another client's request by at most that
 * many frames, not by all of its own.
 *
 * It knows no libevent and no frames: the server supplies a feed function
 * that hands a connection's frames over (server.c), and the tests a fake
 * one (check_api.c). Not here: reading (server.c), what a frame means
 * (api.c), when turns run (turn.c).
 */
#ifndef AF_FAIR_H
#define AF_FAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames one connection hands to the api per turn. */
#define FAIR_FRAMES_PER_TURN 64

/*
 * Hand at most max of conn's complete frames to the api. Returns true
 * when more complete frames are still waiting (conn is deferred again),
 * false when none are or conn is gone.
 */
typedef bool fair_feed_fn(void *ctx, uint64_t conn, size_t max);

/* The deferred connections, oldest first. A zeroed struct is empty. */
struct fairq {
	uint64_t *conns;
	size_t n, cap;
};

/* conn has frames beyond its share of this turn. AF_OK or AF_ENOMEM. */
int fairq_defer(struct fairq *q, uint64_t conn);

/*
 * After a turn: each connection deferred before this call gets up to max
 * frames through feed, oldest first; those that still have more are
 * deferred again (behind any deferred meanwhile). Returns whether any
 * connection was fed (the caller then runs another turn). If deferring
 * again fails for lack of memory, feed is called for that connection
 * until it has no more: slower, never lost.
 */
bool fairq_round(struct fairq *q, fair_feed_fn *feed, void *ctx, size_t max);

/* Whether conn is deferred (linear: for tests and assertions). */
bool fairq_has(const struct fairq *q, uint64_t conn);

void fairq_release(struct fairq *q);

#endif /* AF_FAIR_H */
