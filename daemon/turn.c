/*
 * turn.c: one turn of the daemon's loop (see turn.h): fire due timers, one
 * engine pass, replies out, backoff after a failed commit, and when to run
 * next. No libevent here: server.c maps the answer onto its events.
 */
#include <stddef.h>

#include "api.h"
#include "engine.h"
#include "log.h"
#include "store.h"
#include "turn.h"

void
turn_init(struct turn *t, struct engine *e, struct store *s, struct api *api)
{
	t->e = e;
	t->s = s;
	t->api = api;
	t->failed_commits = 0;
}

int
turn_run(struct turn *t, struct turn_next *next)
{
	struct turn_next n = { false, -1, 0 };
	int64_t due;
	unsigned ms;
	int rc;

	if ((rc = engine_fire_due(t->e)) < 0)
		log_error("firing timers: %s", af_strerror(rc));
	rc = engine_pass(t->e);
	if (rc != AF_OK)
		log_error("commit failed: %s (%s); every request of the pass "
			  "gets the error, activations are rebuilt by replay",
		    af_strerror(rc), engine_errmsg(t->e));
	if (t->api != NULL)
		api_after_pass(t->api, rc);
	if (rc != AF_OK) {
		/* A full disk stays full for a while: retry the rebuilt work
		 * after 10 ms, doubling up to 2 s, not in a tight loop. */
		ms = 10u << (t->failed_commits < 8 ? t->failed_commits : 8);
		t->failed_commits++;
		n.backoff_ms = ms > TURN_BACKOFF_MAX_MS ? TURN_BACKOFF_MAX_MS :
							  ms;
	} else {
		t->failed_commits = 0;
		n.again = engine_busy(t->e);
		if (engine_next_due(t->e, &due)) {
			n.wake_ms = due - engine_now_ms(t->e);
			if (n.wake_ms < 0)
				n.wake_ms = 0;
		}
	}
	if (next != NULL)
		*next = n;
	return rc;
}

int
turn_sync(struct turn *t)
{
	int rc;

	/* Broken: the recovery in the next passes reopens it (and syncs
	 * it), with their backoff; a sync here could only fail. */
	if (store_broken(t->s) != NULL)
		return AF_OK;
	if ((rc = store_sync(t->s)) != AF_OK)
		log_error("syncing the store: %s (batch durability: the last "
			  "commits may not survive a power loss)",
		    store_errmsg(t->s));
	return rc;
}
