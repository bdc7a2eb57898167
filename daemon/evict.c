/*
 * evict.c: memory is a cache (DESIGN.md §9). An activation whose
 * coroutines all wait, with nothing uncommitted, can leave memory whole:
 * its stacks go back to the pool, its arena and holdings are freed, its
 * struct act too; what it is waiting on is in the store already (its row,
 * its journal, its watcher rows). An event for it replays it from its
 * journal, exactly as a restart would, and then applies the event.
 *
 * Not here: the step rule and replay (step.c), the commit (commit.c), the
 * start of the daemon, which still replays every unfinished activation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acttab.h"
#include "engine_int.h"
#include "log.h"

void
evict_touch(struct engine *e, struct act *a)
{
	if (a->gen != e->gen) {
		evict_switch_act(e, a); /* the most recently used now */
		return;
	}
	if (TAILQ_NEXT(a, lru) == NULL)
		return; /* the most recently used already */
	TAILQ_REMOVE(&e->lru, a, lru);
	TAILQ_INSERT_TAIL(&e->lru, a, lru);
}

/* Whether everything about it is committed and every coroutine waits. */
static bool
evictable(const struct act *a)
{
	return a->loaded && a->live_state == ES_RUNNING &&
	    TAILQ_EMPTY(&a->runq) && !a->touched && !a->replay;
}

static void
evict(struct engine *e, struct act *a)
{
	log_debug("activation %llu (%s) evicted: it waits",
	    (unsigned long long)a->id, a->flow);
	act_free(e, a);
	e->st.evictions++;
	e->st.sleeping++;
	e->evicted_any = true;
}

/* Evict the least recently used that can go until `done` says enough:
 * those the code a live switch replaced built first (they are going). */
static void
evict_until(struct engine *e, bool (*done)(const struct engine *))
{
	struct act *a, *next;

	for (a = TAILQ_FIRST(&e->old_lru); a != NULL && !done(e); a = next) {
		next = TAILQ_NEXT(a, lru);
		if (evictable(a))
			evict(e, a);
	}
	for (a = TAILQ_FIRST(&e->lru); a != NULL && !done(e); a = next) {
		next = TAILQ_NEXT(a, lru);
		if (evictable(a))
			evict(e, a);
	}
}

/* The act joins the new code generation; whether it was loaded (then it
 * is unloaded, and Sleeping: what it held in memory, its coroutines and
 * its flow_def, was the old code's; its row and journal are all it is,
 * and what the row keeps in struct act, a cancel or a call asked for,
 * stays). */
static bool
switch_gen(struct engine *e, struct act *a)
{
	TAILQ_REMOVE(&e->old_lru, a, lru);
	e->nold--;
	a->gen = e->gen;
	TAILQ_INSERT_TAIL(&e->lru, a, lru);
	if (!a->loaded)
		return false; /* nothing of the old code in it */
	act_unload(e, a);
	a->live_state = ES_SLEEPING;
	return true;
}

void
evict_switch_act(struct engine *e, struct act *a)
{
	if (!switch_gen(e, a))
		return; /* loads the new code when it is woken */
	e->st.replays_on_demand++;
	act_load_and_replay(e, a);
	if (a->replay)
		engine_replay_done(e, a);
}

int
evict_switch_wake(struct engine *e, struct act *a)
{
	switch_gen(e, a);
	if (a->live_state == ES_DONE)
		return AF_ESTATE;
	a->live_state = ES_SLEEPING;
	return engine_push_event(e, EV_WAKE, a->id, 0);
}

void
evict_old_code_step(struct engine *e)
{
	struct act *a, *next;
	size_t n = 0;

	for (a = TAILQ_FIRST(&e->old_lru);
	     a != NULL && n < ENGINE_SWAP_DROPS_PER_PASS; a = next) {
		next = TAILQ_NEXT(a, lru);
		/* Changed by a request since the commit: its event (a cancel,
		 * a call) switches it, or the commit frees it. */
		if (a->touched)
			continue;
		n++;
		if (evictable(a))
			evict(e, a); /* replayed under the new code on demand */
		else
			evict_switch_act(e, a);
	}
}

static bool
within_budget(const struct engine *e)
{
	return e->acts.len <= engine_max_resident(e);
}

void
evict_after_commit(struct engine *e)
{
	evict_until(e, within_budget);
}

/* A queued wake needs a stack when it runs: count it now. */
static bool
stack_for_start(const struct engine *e)
{
	return coro_pool_live(e->pool) + e->wakes.len < e->o.max_stacks;
}

bool
evict_room_for_start(struct engine *e)
{
	if (e->o.max_stacks == 0 || stack_for_start(e))
		return true;
	evict_until(e, stack_for_start);
	return stack_for_start(e);
}

struct lookup {
	struct engine *e;
	uint8_t prefix[9]; /* vow ‖ WATCH_ACT */
	uint64_t vow;
	bool queued;
};

static int
watcher_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct lookup *l = ctx;
	uint64_t act;
	int rc;

	(void)v;
	if (k.n != WATCH_KEY_LEN || memcmp(k.p, l->prefix, 9) != 0)
		return 1;
	act = store_rd_be64((const uint8_t *)k.p + 9);
	/* One in memory has it from e->watch, or finds it when it goes
	 * live (act_go_live). */
	if (u64map_get(&l->e->acts, act) != NULL)
		return 0;
	if ((rc = engine_push_event(l->e, EV_SETTLED, act, l->vow)) != AF_OK)
		return rc;
	l->queued = true;
	return 0;
}

bool
evict_lookup_settled(struct engine *e)
{
	struct lookup l = { .e = e };
	uint8_t key[WATCH_KEY_LEN];
	int rc;

	if (!e->evicted_any) {
		e->settled_looked = e->w.nsettled;
		return false;
	}
	for (; e->settled_looked < e->w.nsettled; e->settled_looked++) {
		l.vow = e->w.settled[e->settled_looked];
		watch_key(key, l.vow, WATCH_ACT, 0);
		memcpy(l.prefix, key, 9);
		rc = store_scan(e->s, DB_WATCHERS, key, WATCH_KEY_LEN,
		    watcher_cb, &l);
		/* A settlement that cannot reach its activation fails the
		 * pass; recovery rebuilds from the store. */
		if (rc != AF_OK)
			engine_note_lost(e, rc);
	}
	return l.queued;
}

void
evict_left_asleep(struct engine *e)
{
	e->st.sleeping++;
	e->evicted_any = true;
	if (!e->holds_scanning) {
		e->holds_scanning = true;
		memset(e->holds_from, 0, sizeof(e->holds_from));
	}
}

#define HOLDS_PER_PASS 4096

struct holds_walk {
	struct engine *e;
	uint64_t (*pairs)[2]; /* act, vow */
	size_t n, rows;
	bool more;
};

static int
holds_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct holds_walk *h = ctx;
	uint64_t act;

	(void)v;
	if (k.n != 16)
		return 0;
	if (h->rows++ == HOLDS_PER_PASS) {
		memcpy(h->e->holds_from, k.p, 16);
		h->more = true;
		return 1;
	}
	act = store_rd_be64(k.p);
	if (u64map_get(&h->e->acts, act) == NULL) {
		h->pairs[h->n][0] = act;
		h->pairs[h->n][1] = store_rd_be64((const uint8_t *)k.p + 8);
		h->n++;
	}
	return 0;
}

/*
 * The activations left asleep at open were not replayed, so a vow they
 * hold that settled before the process ended (its delivery was still
 * queued) has reached nobody: find those in DB_HOLDS, a chunk per pass,
 * and queue the settlement; the event replays the activation on demand.
 */
void
evict_holds_step(struct engine *e)
{
	struct holds_walk h = { .e = e };
	struct vow *v;
	size_t i;
	int rc;

	if (!e->holds_scanning)
		return;
	if ((h.pairs = malloc(HOLDS_PER_PASS * sizeof(*h.pairs))) == NULL) {
		engine_note_lost(e, AF_ENOMEM);
		return;
	}
	rc = store_scan(e->s, DB_HOLDS, e->holds_from, 16, holds_cb, &h);
	for (i = 0; rc == AF_OK && i < h.n; i++) {
		rc = vowtab_get(e->vt, h.pairs[i][1], &v);
		if (rc == AF_ENOTFOUND || rc == AF_EDECODE) {
			rc = AF_OK;
			continue;
		}
		if (rc == AF_OK &&
		    (v->state == VOW_FULFILLED || v->state == VOW_REJECTED))
			rc = engine_push_event(e, EV_SETTLED, h.pairs[i][0],
			    h.pairs[i][1]);
	}
	free(h.pairs);
	if (rc != AF_OK) {
		/* The pass fails; its recovery walks again. */
		engine_note_lost(e, rc);
		return;
	}
	if (!h.more) {
		e->holds_scanning = false;
		log_debug("every activation left asleep at the start was "
			  "checked for settlements to deliver");
	}
}

struct act *
evict_load_on_demand(struct engine *e, uint64_t id)
{
	struct act_row row;
	struct act *a = NULL;
	struct buf b;
	int rc;

	if (!e->evicted_any)
		return NULL;
	buf_init(&b);
	rc = acttab_read(e->s, id, &row, &b);
	if (rc != AF_OK) {
		if (rc != AF_ENOTFOUND)
			engine_note_lost(e, rc);
	} else if (row.state == ACT_ACTIVE) {
		if ((a = act_new(e, id)) == NULL)
			engine_note_lost(e, AF_ENOMEM);
		else if (act_from_row(a, &row) != AF_OK) {
			act_free(e, a);
			a = NULL;
			engine_note_lost(e, AF_ENOMEM);
		}
	}
	buf_release(&b);
	if (a == NULL)
		return NULL;
	e->st.replays_on_demand++;
	act_load_and_replay(e, a);
	if (a->replay)
		engine_replay_done(e, a);
	return a;
}

/* What vm.max_map_count says (the stock 65530 if it cannot be read). */
static unsigned long long
max_map_count(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

	if (f != NULL) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v != 0 ? v : 65530;
}

int
engine_resident_budget(const char *arg, struct engine_opts *o, char *err,
    size_t errlen)
{
	unsigned long long maps = max_map_count(), stacks, v;
	char *end;

	/* Each stack is two mappings (stack and guard); the rest is for the
	 * store's map, the libraries, malloc and the idle stacks. */
	stacks = maps > 2 * ENGINE_MAP_RESERVE ?
	    (maps - ENGINE_MAP_RESERVE) / 2 :
	    maps / 4;
	o->max_stacks = (size_t)stacks;
	if (arg == NULL) {
		/* Room for two coroutines per resident activation. */
		v = stacks / 2 < ENGINE_DEFAULT_RESIDENT ?
		    stacks / 2 :
		    ENGINE_DEFAULT_RESIDENT;
		o->max_resident = (size_t)(v > 0 ? v : 1);
		return AF_OK;
	}
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v == 0) {
		snprintf(err, errlen,
		    "--max-resident needs a positive number of activations, "
		    "not \"%s\"",
		    arg);
		return AF_EINVAL;
	}
	if (v > stacks) {
		snprintf(err, errlen,
		    "--max-resident %llu cannot be honoured: each resident "
		    "activation needs a coroutine stack (two memory "
		    "mappings), and vm.max_map_count %llu leaves room for "
		    "%llu stacks; lower it, or raise vm.max_map_count",
		    v, maps, stacks);
		return AF_ELIMIT;
	}
	o->max_resident = (size_t)v;
	return AF_OK;
}

int
engine_memory_bound(const char *arg, struct engine_opts *o, char *err,
    size_t errlen)
{
	size_t stack = o->stack_size ? o->stack_size : DEFAULT_STACK;
	unsigned long long v;
	char *end;

	if (arg == NULL)
		return AF_OK;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v == 0 || v > (1ull << 30)) {
		snprintf(err, errlen,
		    "--max-activation-memory needs a positive number of MiB, "
		    "not \"%s\"",
		    arg);
		return AF_EINVAL;
	}
	if ((v << 20) <= stack) {
		snprintf(err, errlen,
		    "--max-activation-memory %llu MiB leaves nothing past one "
		    "coroutine stack (%zu KiB): every activation would fail",
		    v, stack >> 10);
		return AF_EINVAL;
	}
	o->max_act_memory = (size_t)(v << 20);
	return AF_OK;
}
