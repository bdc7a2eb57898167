/*
 * activation.c: one activation in memory (struct act) — created, filled
 * from its row, unloaded (coroutines, arena and journal copy dropped, the
 * row kept), failed, freed — and its holdings: the vows and resolvers that
 * entered it, and which of its vows it waits on. Eviction (evict.c) frees
 * a waiting one whole. The step rule that runs it is in step.c.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acttab.h"
#include "engine_int.h"
#include "log.h"
#include "value.h"

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* ---- The progress log of replays ---- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void progress(struct engine *e, enum log_level l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether a progress line at level l is read (logged, or hooked): if
 * not, neither the line nor the clock reads for it are made. */
static bool
progress_read(const struct engine *e, enum log_level l)
{
	return e->o.on_progress != NULL || log_enabled(l);
}

/* Log one line, and hand the same text to the on_progress hook. */
static void
progress(struct engine *e, enum log_level l, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!progress_read(e, l))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(l, "%s", line);
	if (e->o.on_progress != NULL)
		e->o.on_progress(e->o.progress_ctx, line);
}

static void
replay_queued(struct engine *e, struct act *a)
{
	if (a->replay)
		return;
	a->replay = true;
	if (e->rp.total++ == 0) {
		e->rp.t0_ms = e->rp.last_ms = progress_read(e, LOG_INFO) ?
		    mono_ms() :
		    0;
		e->rp.entries0 = e->st.entries_replayed;
	}
}

void
engine_replay_done(struct engine *e, struct act *a)
{
	int64_t now;

	a->replay = false;
	e->rp.done++;
	e->st.replays++;
	if (a->live_state == ES_FAILED) {
		e->rp.failed++;
		e->st.replays_failed++;
	}
	/* A clock read per replay is cheap next to a journal read; a line a
	 * second tells an operator the replay is moving. */
	if (!progress_read(e, LOG_INFO) ||
	    (now = mono_ms()) - e->rp.last_ms < 1000)
		return;
	e->rp.last_ms = now;
	progress(e, LOG_INFO,
	    "replaying: %llu of %llu activations, %llu journal entries, "
	    "%llu failed, %.1f s",
	    (unsigned long long)e->rp.done, (unsigned long long)e->rp.total,
	    (unsigned long long)(e->st.entries_replayed - e->rp.entries0),
	    (unsigned long long)e->rp.failed,
	    (double)(now - e->rp.t0_ms) / 1000);
}

void
engine_replay_pass_end(struct engine *e)
{
	int64_t took;

	/* Every pass runs all the wakes queued: the batch is over. */
	if (e->rp.total == 0)
		return;
	if (!progress_read(e, LOG_INFO)) { /* nor at debug, then */
		memset(&e->rp, 0, sizeof(e->rp));
		return;
	}
	took = mono_ms() - e->rp.t0_ms;
	progress(e, e->rp.total > 1 || took >= 1000 ? LOG_INFO : LOG_DEBUG,
	    "replayed %llu activations (%llu failed, %llu journal entries) "
	    "in %.3f s",
	    (unsigned long long)e->rp.done, (unsigned long long)e->rp.failed,
	    (unsigned long long)(e->st.entries_replayed - e->rp.entries0),
	    (double)took / 1000);
	memset(&e->rp, 0, sizeof(e->rp));
}

/*
 * Activations are allocated ACT_SLAB at a time: a calloc each was a tenth
 * of the cost of starting one (glibc sorting its bins, the heap growing a
 * page at a time), for a parent starting thousands of children. A freed
 * act goes on the engine's free list, linked through its first bytes, and
 * is reused before a slab is cut further; the slabs are freed at
 * engine_close.
 */
struct act_slab {
	struct act_slab *next;
	struct act acts[ACT_SLAB];
};

static struct act *
act_alloc(struct engine *e)
{
	struct act_slab *s;
	struct act *a;

	if ((a = e->act_free_list) != NULL)
		memcpy(&e->act_free_list, a, sizeof(e->act_free_list));
	else {
		if (e->act_slab_left == 0) {
			if ((s = malloc(sizeof(*s))) == NULL)
				return NULL;
			s->next = e->act_slabs;
			e->act_slabs = s;
			e->act_slab_left = ACT_SLAB;
		}
		a = &e->act_slabs->acts[ACT_SLAB - e->act_slab_left--];
	}
	memset(a, 0, sizeof(*a));
	return a;
}

static void
act_release(struct engine *e, struct act *a)
{
	memcpy(a, &e->act_free_list, sizeof(e->act_free_list));
	e->act_free_list = a;
}

void
act_slabs_free(struct engine *e)
{
	struct act_slab *s;

	while ((s = e->act_slabs) != NULL) {
		e->act_slabs = s->next;
		free(s);
	}
	e->act_free_list = NULL;
	e->act_slab_left = 0;
}

struct act *
act_new(struct engine *e, uint64_t id)
{
	struct act *a;

	assert(id != 0 && u64map_get(&e->acts, id) == NULL);
	if ((a = act_alloc(e)) == NULL)
		return NULL;
	a->id = id;
	a->e = e;
	a->live_state = ES_SLEEPING;
	a->handle.a = a;
	TAILQ_INIT(&a->tasks);
	TAILQ_INIT(&a->runq);
	u64map_init(&a->holdings);
	u64map_init(&a->resolvers);
	if (u64map_put(&e->acts, id, a) != AF_OK) {
		act_release(e, a);
		return NULL;
	}
	a->gen = e->gen;
	TAILQ_INSERT_TAIL(&e->lru, a, lru);
	e->st.acts_loaded++;
	return a;
}

void
act_free(struct engine *e, struct act *a)
{
	act_unload(e, a);
	if (a->touched)
		TAILQ_REMOVE(&e->touched, a, tlink);
	if (a->gen == e->gen)
		TAILQ_REMOVE(&e->lru, a, lru);
	else {
		TAILQ_REMOVE(&e->old_lru, a, lru);
		e->nold--;
	}
	u64map_del(&e->acts, a->id);
	u64map_release(&a->holdings);
	u64map_release(&a->resolvers);
	free(a->flow);
	free(a->args);
	free(a->can_args);
	free(a->failure);
	free(a->cancel);
	act_calls_free(a);
	act_release(e, a);
}

/* Fill an in-memory activation from its row. */
int
act_from_row(struct act *a, const struct act_row *r)
{
	a->flow = xstrndup(r->flow.ptr, r->flow.len);
	a->args_n = r->args.len;
	a->args = malloc(r->args.len ? r->args.len : 1);
	if (a->flow == NULL || a->args == NULL)
		return AF_ENOMEM;
	memcpy(a->args, r->args.ptr, r->args.len);
	a->outcome = r->outcome;
	a->jlen = a->jlen_committed = r->journal_length;
	a->incarnation = r->incarnation;
	a->last_incarnation = r->last_incarnation;
	a->created_ms = r->created_ms;
	a->last_progress_ms = r->last_progress_ms;
	a->row_state = r->state;
	a->row_committed = r->state;
	a->row_known = true;
	a->quarantined = r->quarantined;
	if (r->failure.len)
		a->failure = xstrndup(r->failure.ptr, r->failure.len);
	if (r->cancel_reason.ptr != NULL) {
		if ((a->cancel = malloc(
			 r->cancel_reason.len ? r->cancel_reason.len : 1)) ==
		    NULL)
			return AF_ENOMEM;
		memcpy(a->cancel, r->cancel_reason.ptr, r->cancel_reason.len);
		a->cancel_n = r->cancel_reason.len;
		a->cancel_asked = true;
	}
	a->parent = r->parent;
	if (act_calls_from_row(a, r->pending_calls) != AF_OK)
		return AF_EDECODE;
	/* An evicted one is back in memory. */
	if (r->state == ACT_ACTIVE && a->e->st.sleeping > 0)
		a->e->st.sleeping--;
	/* Every activation made from its row is about to be replayed (at
	 * open, by a recovery, by a wake): the progress log counts it. */
	replay_queued(a->e, a);
	return AF_OK;
}

void
act_set_failure(struct act *a, const char *msg)
{
	if (msg != NULL && msg == a->failure)
		return;
	free(a->failure);
	a->failure = msg ? strdup(msg) : NULL;
}

void
act_mark_dirty(struct engine *e, struct act *a)
{
	if (!a->touched) {
		a->touched = true;
		TAILQ_INSERT_TAIL(&e->touched, a, tlink);
	}
	e->dirty = true;
}

/* The activation no longer waits on its pending vows in memory. */
static void
act_unwatch_mem(struct engine *e, struct act *a)
{
	struct idlist *l;
	size_t i = 0, j;
	uint64_t k;
	void *p;

	while (u64map_next(&a->holdings, &i, &k, &p)) {
		if (((struct holding *)p)->settled ||
		    (l = u64map_get(&e->watch, k)) == NULL)
			continue;
		for (j = 0; j < l->n; j++) {
			if (l->ids[j] == a->id) {
				l->ids[j] = l->ids[--l->n];
				break;
			}
		}
		if (l->n == 0)
			free(u64map_del(&e->watch, k));
	}
}

struct af_arena *
act_arena_take(struct engine *e)
{
	if (e->narena_pool > 0)
		return e->arena_pool[--e->narena_pool];
	return arena_new(ACT_ARENA_CHUNK);
}

void
act_arena_give(struct engine *e, struct af_arena *ar)
{
	if (ar == NULL)
		return;
	arena_reset(ar);
	/* The next activation's limit is its own (act_load_and_replay). */
	arena_set_limit(ar, 0, NULL, NULL);
	if (e->narena_pool == ACT_ARENA_POOL ||
	    arena_held(ar) > ACT_ARENA_KEEP) {
		arena_free(ar);
		return;
	}
	e->arena_pool[e->narena_pool++] = ar;
}

/* Drop coroutines, arena, journal copy and holdings; keep the row. */
void
act_unload(struct engine *e, struct act *a)
{
	struct task *t;

	act_unwatch_mem(e, a);
	while ((t = TAILQ_FIRST(&a->tasks)) != NULL)
		act_task_free(a, t);
	a->main = NULL;
	jlog_release(&a->log);
	u64map_reset(&a->holdings);
	u64map_reset(&a->resolvers);
	act_arena_give(e, a->arena);
	a->arena = NULL;
	a->args_val = NULL;
	a->loaded = false;
	a->cancel_seen = false;
	free(a->exports);
	a->exports = NULL;
	a->nexports = a->capexports = 0;
}

/* Make the activation Failed with `msg`; persisted at the next commit.
 * Failing it again with the same message (act_fail_from_guest after
 * act_failf, with a->failure) changes nothing and is not logged again. */
void
act_fail(struct engine *e, struct act *a, const char *msg)
{
	if (a->live_state != ES_FAILED || a->failure == NULL ||
	    strcmp(a->failure, msg) != 0)
		log_warn("activation %llu (%s) is Failed: %s",
		    (unsigned long long)a->id, a->flow ? a->flow : "?", msg);
	act_set_failure(a, msg);
	a->row_state = ACT_FAILED;
	a->live_state = ES_FAILED;
	a->row_dirty = true;
	act_mark_dirty(e, a);
	if (coro_self() == NULL)
		act_unload(e, a);
	/* Else step_run unloads once the coroutine has switched out. */
}

/* Called on a coroutine: fail and never come back. */
void
act_fail_from_guest(struct engine *e, struct act *a, const char *msg)
{
	act_fail(e, a, msg);
	coro_yield();
	abort(); /* a failed activation's coroutine is never resumed */
}

void
act_failf(struct engine *e, struct act *a, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	act_fail(e, a, msg);
}

void
engine_watch_add(struct engine *e, uint64_t vow, uint64_t act)
{
	struct idlist *l = u64map_get(&e->watch, vow), *nl;
	size_t i;

	if (l != NULL)
		for (i = 0; i < l->n; i++)
			if (l->ids[i] == act)
				return;
	if (l == NULL || l->n == l->cap) {
		size_t ncap = l ? l->cap * 2 : 2;

		nl = engine_alloc_fault(e) ?
		    NULL :
		    realloc(l, sizeof(*nl) + ncap * sizeof(uint64_t));
		if (nl == NULL) {
			/* The settlement would never reach the activation. */
			engine_note_lost(e, AF_ENOMEM);
			return;
		}
		if (l == NULL)
			nl->n = 0;
		nl->cap = ncap;
		if (u64map_put(&e->watch, vow, nl) != AF_OK) {
			if (l != NULL) /* the map holds l: gone with realloc */
				u64map_del(&e->watch, vow);
			free(nl);
			engine_note_lost(e, AF_ENOMEM);
			return;
		}
		l = nl;
	}
	l->ids[l->n++] = act;
}

/*
 * A vow the activation holds could not be read. Out of memory or a store
 * failure fails the pass (recovery retries it). A row that does not decode
 * is logged with its id and treated as a vow that does not exist: the
 * activation never sees it settle, and the rest of the daemon goes on (a
 * failing pass would fail every pass after it, for every client).
 */
void
act_vow_unreadable(struct engine *e, struct act *a, uint64_t vow, int rc)
{
	if (rc == AF_ENOTFOUND) /* unknown vow: never settles */
		return;
	if (rc == AF_EDECODE) {
		log_error("activation %llu: the row of vow %llu does not "
			  "decode; the activation will not see it settle",
		    (unsigned long long)a->id, (unsigned long long)vow);
		return;
	}
	engine_note_lost(e, rc);
}

/* Live: learn whether a newly held pending vow is settled already. */
static void
act_watch_vow(struct engine *e, struct act *a, struct holding *s)
{
	struct vow *v;
	int rc;

	if ((rc = vowtab_get(e->vt, s->vow, &v)) != AF_OK) {
		act_vow_unreadable(e, a, s->vow, rc);
		return;
	}
	if (v->state == VOW_FULFILLED || v->state == VOW_REJECTED) {
		if (engine_push_event(e, EV_SETTLED, a->id, s->vow) != AF_OK)
			engine_note_lost(e, AF_ENOMEM);
		return;
	}
	engine_watch_add(e, s->vow, a->id);
	if (!s->row) {
		if (vowtab_watch(e->vt, s->vow, WATCH_ACT, a->id) != AF_OK)
			engine_note_lost(e, AF_ENOMEM);
		s->row = true;
		e->dirty = true;
	}
}

bool
act_vow_exists(struct engine *e, struct act *a, uint64_t id)
{
	struct vow *v;

	/* Vows are never deleted: one that existed when the flow first saw
	 * it exists on every replay. */
	return u64map_get(&a->holdings, id) != NULL ||
	    vowtab_get(e->vt, id, &v) != AF_ENOTFOUND;
}

void
act_enter_vow(struct engine *e, struct act *a, uint64_t id, bool live)
{
	struct holding *s;

	if (u64map_get(&a->holdings, id) != NULL)
		return;
	if ((s = af_arena_alloc(a->arena, sizeof(*s))) == NULL) {
		engine_note_lost(e, AF_ENOMEM);
		return;
	}
	memset(s, 0, sizeof(*s));
	s->vow = id;
	if (u64map_put(&a->holdings, id, s) != AF_OK) {
		engine_note_lost(e, AF_ENOMEM);
		return;
	}
	if (live)
		act_watch_vow(e, a, s);
}

void
act_enter_value(struct engine *e, struct act *a, const struct af_value *v,
    bool live)
{
	size_t i;

	switch (v->type) {
	case AF_VOW:
		act_enter_vow(e, a, v->u.id, live);
		break;
	case AF_RESOLVER:
		if (u64map_put(&a->resolvers, v->u.id, (void *)1) != AF_OK)
			engine_note_lost(e, AF_ENOMEM);
		break;
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			act_enter_value(e, a, v->u.list.items[i], live);
		break;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			act_enter_value(e, a, v->u.rec.fields[i].value, live);
		break;
	default:
		break;
	}
}

/* Whether every resolver named in v is held by the activation. */
bool
act_holds_resolvers(struct act *a, const struct af_value *v)
{
	size_t i;

	switch (v->type) {
	case AF_RESOLVER:
		return u64map_get(&a->resolvers, v->u.id) != NULL;
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			if (!act_holds_resolvers(a, v->u.list.items[i]))
				return false;
		return true;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			if (!act_holds_resolvers(a, v->u.rec.fields[i].value))
				return false;
		return true;
	default:
		return true;
	}
}

/* Drop every activation from memory (collected first: act_free changes
 * the map). */
void
engine_free_acts(struct engine *e)
{
	struct act **all;
	size_t i = 0, n = 0;
	uint64_t k;
	void *p;

	if (e->acts.len == 0)
		return;
	if ((all = malloc(e->acts.len * sizeof(*all))) == NULL) {
		while (u64map_next(&e->acts, &i, &k, &p)) {
			act_free(e, p);
			i = 0;
		}
		return;
	}
	while (u64map_next(&e->acts, &i, &k, &p))
		all[n++] = p;
	for (i = 0; i < n; i++)
		act_free(e, all[i]);
	free(all);
}

struct scan_ctx {
	struct engine *e;
	bool wake_failed;
	uint64_t rows, failed, done, asleep; /* for the log */
};

static int
scan_act_cb(void *ctx, uint64_t id, const struct act_row *row)
{
	struct scan_ctx *sc = ctx;
	struct engine *e = sc->e;
	struct act *a;

	sc->rows++;
	if (row->state >= ACT_ACTIVE && row->state <= ACT_DONE)
		e->nrows[row->state]++;
	sc->done += row->state == ACT_DONE;
	sc->failed += row->state == ACT_FAILED;
	if (row->state == ACT_DONE) {
		if (row->journal_gc >= row->journal_length ||
		    e->o.retain_journals)
			return 0;
		if (engine_grow(e, (void **)&e->gc, &e->capgc, e->ngc + 1,
			sizeof(*e->gc)) == AF_OK)
			e->gc[e->ngc++] = (struct journal_gc){ id,
				row->journal_gc, row->journal_length };
		else /* the next pass fails, and its recovery rescans */
			engine_note_lost(e, AF_ENOMEM);
		return 0;
	}
	/* Quarantined: only an explicit wake. Failed: a new incarnation
	 * retries, a recovery does not. */
	if (row->state == ACT_FAILED && (row->quarantined || !sc->wake_failed))
		return 0;
	/* Memory is a cache: beyond the resident budget (and beyond what a
	 * start replays before it answers) an activation is replayed when an
	 * event needs it, not now. The Failed ones from here on are retried
	 * in the passes after, a chunk each (engine_switch_step's walk of
	 * the rows, as after a live switch): every one before this row was
	 * queued above. */
	if (e->acts.len >= engine_max_resident(e) ||
	    e->acts.len >= START_REPLAY_MAX) {
		sc->asleep++;
		if (row->state == ACT_ACTIVE)
			evict_left_asleep(e);
		else if (!e->failed_scanning) {
			e->failed_scanning = true;
			e->failed_from = id;
		}
		return 0;
	}
	if ((a = act_new(e, id)) == NULL)
		return AF_ENOMEM;
	if (act_from_row(a, row) != AF_OK ||
	    engine_push_event(e, EV_WAKE, id, 0) != AF_OK) {
		act_free(e, a);
		return AF_ENOMEM;
	}
	return 0;
}

/* Queue the replay of every activation that is not Done (nor Failed,
 * unless wake_failed; nor quarantined); schedule the deletion of Done
 * journals left over. */
int
engine_scan_acts(struct engine *e, bool wake_failed)
{
	struct scan_ctx sc = { e, wake_failed, 0, 0, 0, 0 };
	int rc;

	/* A recovery's scan replaces the batch it interrupted. */
	memset(&e->rp, 0, sizeof(e->rp));
	memset(e->nrows, 0, sizeof(e->nrows));
	if ((rc = acttab_scan(e->s, 0, scan_act_cb, &sc)) != AF_OK)
		return rc;
	if (sc.asleep > 0)
		log_info("%llu activations left out of memory (more than the "
			 "resident budget, %zu, or than a start replays, %d): "
			 "each is replayed when an event needs it",
		    (unsigned long long)sc.asleep, engine_max_resident(e),
		    START_REPLAY_MAX);
	if (e->rp.total == 0)
		log_msg(wake_failed ? LOG_INFO : LOG_DEBUG,
		    "%llu activations in the store (%llu Done, %llu "
		    "Failed), none to replay",
		    (unsigned long long)sc.rows, (unsigned long long)sc.done,
		    (unsigned long long)sc.failed);
	else
		progress(e, LOG_INFO,
		    "replaying %llu of %llu activations (%llu Done, %llu "
		    "Failed%s)",
		    (unsigned long long)e->rp.total,
		    (unsigned long long)sc.rows, (unsigned long long)sc.done,
		    (unsigned long long)sc.failed,
		    wake_failed ? ": retried unless quarantined" : "");
	return AF_OK;
}

int
engine_quarantine(struct engine *e, uint64_t id, const char *why)
{
	struct act *a = u64map_get(&e->acts, id);
	int rc;

	/* Not in memory (asleep): from its row, without a replay. */
	if (a == NULL && (rc = engine_act_for_event(e, id, &a)) != AF_OK)
		return rc;
	if (a->live_state == ES_DONE)
		return AF_ESTATE;
	/* Queued wakes for it find it Failed and do nothing. */
	act_fail(e, a, why);
	a->quarantined = true;
	return AF_OK;
}

/* ---- Terminate (engine_terminate): give up on an activation ---- */

/* Whether id is among the first n of ids. */
static bool
ids_have(const uint64_t *ids, size_t n, uint64_t id)
{
	while (n-- > 0)
		if (ids[n] == id)
			return true;
	return false;
}

/* It no longer waits on vow `vow`: its watcher row goes; a timer it holds
 * is cancelled, its vow rejected with the reason in e->settle_buf (so
 * nobody else it was handed to waits for ever). Errors fail the pass. */
static void
terminate_unhold(struct engine *e, struct act *a, uint64_t vow)
{
	int rc;

	if (vowtab_unwatch(e->vt, vow, WATCH_ACT, a->id) != AF_OK)
		engine_note_lost(e, AF_ENOMEM);
	if ((rc = timers_cancel(&e->timers, vow)) == AF_OK)
		rc = vowtab_settle(e->vt, vow, NULL, true, e->settle_buf.p,
		    e->settle_buf.len, 0);
	if (rc != AF_OK && rc != AF_ENOTFOUND && rc != AF_ESETTLED)
		engine_note_lost(e, rc);
}

/*
 * engine_terminate on an activation in memory that is not Done. Nothing
 * changes until the reason is encoded and the vows it holds are read;
 * from there on a failure is noted (engine_note_lost), so the pass's
 * commit fails and recovery rebuilds from the store: never half-done.
 */
int
act_terminate(struct engine *e, struct act *a, const char *message)
{
	char dflt[512], *why;
	const struct af_value *err;
	uint64_t *held = NULL, k;
	size_t n = 0, i = 0, j;
	void *p;
	int rc;

	assert(coro_self() == NULL && a->live_state != ES_DONE);
	if (message == NULL) {
		snprintf(dflt, sizeof(dflt),
		    "activation %llu (flow %s) was terminated while %s",
		    (unsigned long long)a->id, a->flow,
		    a->row_state == ACT_FAILED ?
			"Failed" :
			engine_state_name(a->live_state));
		message = dflt;
	}
	if (!value_utf8_valid(message, strlen(message)))
		return AF_EINVAL;
	arena_reset(e->tmp);
	if ((err = af_error(e->tmp, "Terminated", message)) == NULL)
		return AF_ENOMEM;
	buf_reset(&e->settle_buf);
	if ((rc = value_encode(&e->settle_buf, err)) != AF_OK)
		return rc;
	if ((why = malloc(strlen(message) + sizeof("terminated: "))) == NULL)
		return AF_ENOMEM;
	strcpy(why, "terminated: ");
	strcat(why, message);
	/* What it waits on: its committed watcher rows, and those of the
	 * vows that entered it live since. */
	if ((rc = vowtab_held_by(e->vt, a->id, &held, &n)) != AF_OK) {
		free(why);
		return rc;
	}
	j = n;
	while (a->loaded && u64map_next(&a->holdings, &i, &k, &p)) {
		struct holding *s = p;
		uint64_t *tmp;

		if (!s->row || s->settled || ids_have(held, j, k))
			continue;
		if ((tmp = realloc(held, (j + 1) * sizeof(*held))) == NULL) {
			free(held);
			free(why);
			return AF_ENOMEM;
		}
		held = tmp;
		held[j++] = k;
	}
	/* Calls it will never answer get the same error (before its
	 * coroutines go: some are handlers). */
	act_calls_abandon(e, a, err);
	buf_reset(&e->settle_buf);
	if ((rc = value_encode(&e->settle_buf, err)) != AF_OK)
		engine_note_lost(e, rc);
	/* Its coroutines and in-memory waits go first: no settlement below
	 * reaches it. A wake queued for it finds it Done. */
	act_unload(e, a);
	if (a->replay) {
		a->replay = false;
		if (e->rp.total > 0)
			e->rp.total--;
	}
	a->live_state = ES_DONE;
	for (i = 0; i < j; i++)
		terminate_unhold(e, a, held[i]);
	free(held);
	rc = vowtab_settle(e->vt, a->outcome, NULL, true, e->settle_buf.p,
	    e->settle_buf.len, 0);
	if (rc != AF_OK)
		engine_note_lost(e, rc);
	log_info("activation %llu (%s) is Done: %s", (unsigned long long)a->id,
	    a->flow, why);
	free(a->failure);
	a->failure = why;
	a->quarantined = false;
	a->row_state = ACT_DONE;
	a->row_dirty = true;
	act_mark_dirty(e, a);
	if (a->jlen > 0 && !e->o.retain_journals) {
		if (engine_grow(e, (void **)&e->gc, &e->capgc, e->ngc + 1,
			sizeof(*e->gc)) == AF_OK)
			e->gc[e->ngc++] = (struct journal_gc){ a->id, 0,
				a->jlen };
		else
			engine_note_lost(e, AF_ENOMEM);
	}
	return AF_OK;
}

void
act_continue_as_new(struct engine *e, struct act *a)
{
	uint64_t *held = NULL, k;
	size_t i = 0, j, n = 0;
	void *p;

	/* It holds nothing from here on but what the new args name, which
	 * the new run enters (and watches) again: every WATCH_ACT row of it
	 * goes, this pass's and the committed ones. */
	while (u64map_next(&a->holdings, &i, &k, &p)) {
		struct holding *s = p;

		if (s->row && !s->settled &&
		    vowtab_unwatch(e->vt, k, WATCH_ACT, a->id) != AF_OK)
			engine_note_lost(e, AF_ENOMEM);
	}
	if (vowtab_held_by(e->vt, a->id, &held, &n) != AF_OK)
		engine_note_lost(e, AF_ESTORE);
	for (i = 0; i < n; i++)
		if (vowtab_unwatch(e->vt, held[i], WATCH_ACT, a->id) != AF_OK)
			engine_note_lost(e, AF_ENOMEM);
	free(held);
	act_calls_cut(e, a);
	/* This pass's entries of the old run are not written; the
	 * committed ones are deleted before the new run's are. */
	for (i = j = 0; i < e->w.njournal; i++)
		if (e->w.journal[i].act != a->id)
			e->w.journal[j++] = e->w.journal[i];
	e->w.njournal = j;
	if (a->jlen_committed > 0) {
		if (engine_grow(e, (void **)&e->resets, &e->capresets,
			e->nresets + 1, sizeof(*e->resets)) == AF_OK)
			e->resets[e->nresets++] = (struct journal_gc){ a->id, 0,
				a->jlen_committed };
		else
			engine_note_lost(e, AF_ENOMEM);
	}
	if (engine_grow(e, (void **)&e->restarts, &e->caprestarts,
		e->nrestarts + 1, sizeof(*e->restarts)) == AF_OK)
		e->restarts[e->nrestarts++] = a->id;
	else
		engine_note_lost(e, AF_ENOMEM);
	free(a->args);
	a->args = a->can_args;
	a->args_n = a->can_n;
	a->can_args = NULL;
	a->can_n = 0;
	a->can_pending = false;
	a->jlen = 0;
	act_unload(e, a);
	a->live_state = ES_SLEEPING;
	a->row_dirty = true;
	act_mark_dirty(e, a);
	log_debug("activation %llu (%s) continues as new",
	    (unsigned long long)a->id, a->flow);
}

int
engine_count_states(struct engine *e, uint64_t counts[ES_DONE + 1])
{
	uint64_t active = e->nrows[ACT_ACTIVE], mem = e->acts.len;

	/* Between passes (when anyone asks) every activation in memory is
	 * live and waiting; the other Active rows are out of memory. */
	memset(counts, 0, (ES_DONE + 1) * sizeof(*counts));
	counts[ES_RUNNING] = mem;
	counts[ES_SLEEPING] = active > mem ? active - mem : 0;
	counts[ES_FAILED] = e->nrows[ACT_FAILED];
	counts[ES_DONE] = e->nrows[ACT_DONE];
	return AF_OK;
}
