/*
 * commit.c: the end of a pass. Everything the pass changed is applied in
 * ONE write transaction (group commit); a failed commit forgets what is
 * uncommitted and rebuilds every unfinished activation by replay
 * (recovery). Also the bounded deletion of Done activations' journals.
 * Not here: running events (step.c).
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acttab.h"
#include "children.h"
#include "engine_int.h"
#include "log.h"
#include "prune.h"

static int recover(struct engine *);
static int recover_from_store(struct engine *, bool wake_failed);

const double engine_commit_le[ENGINE_COMMIT_BUCKETS] = { 0.0005, 0.001, 0.0025,
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
const double engine_pass_le[ENGINE_PASS_BUCKETS] = { 1, 4, 16, 64, 256, 1024,
	4096, 16384 };

static double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Count v in the histogram hist of bounds le[0..n) (n + 1 slots). */
static void
hist_add(uint64_t *hist, const double *le, size_t n, double v)
{
	size_t i;

	for (i = 0; i < n && v > le[i]; i++)
		;
	hist[i]++;
}

/* The vow table tells us a vow reached a final state. */
void
engine_on_vow_settled(void *ctx, const struct vow *v)
{
	struct engine *e = ctx;
	struct idlist *l = u64map_del(&e->watch, v->id);
	size_t i;

	/* Nothing can be returned from here: what cannot be noted fails the
	 * pass (engine_note_lost), whose recovery rebuilds from the store. */
	if (l != NULL) {
		for (i = 0; i < l->n; i++)
			if (engine_push_event(e, EV_SETTLED, l->ids[i],
				v->id) != AF_OK)
				engine_note_lost(e, AF_ENOMEM);
		free(l);
	}
	if (engine_grow(e, (void **)&e->w.settled, &e->w.capsettled,
		e->w.nsettled + 1, sizeof(uint64_t)) == AF_OK)
		e->w.settled[e->w.nsettled++] = v->id;
	else
		engine_note_lost(e, AF_ENOMEM);
	if (v->invocation &&
	    (engine_alloc_fault(e) ||
		outbox_answered(&e->w.outbox, v->id) != AF_OK))
		engine_note_lost(e, AF_ENOMEM);
	e->dirty = true;
}

void
engine_test_fail_alloc(struct engine *e, unsigned nth)
{
	e->fail_alloc = nth;
}

void
engine_set_errmsg(struct engine *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->errmsg, sizeof(e->errmsg), fmt, ap);
	va_end(ap);
}

const char *
engine_errmsg(const struct engine *e)
{
	return e->errmsg;
}

bool
engine_busy(const struct engine *e)
{
	/* Events, journals to delete, finished activations to prune, or a
	 * recovery to finish (or to start: the store can break outside a
	 * pass, in a batch sync). */
	return e->wakes.len > 0 || e->settles.len > 0 || e->ngc > 0 ||
	    coro_pool_doomed(e->pool) > 0 || e->holds_scanning || e->nold > 0 ||
	    e->failed_scanning || e->needs_recover ||
	    e->store_fault[0] != '\0' || store_broken(e->s) != NULL ||
	    engine_prune_due(e);
}

/* ---- The store fault (engine_store_fault) ---- */

static void
store_fault_set(struct engine *e, int rc)
{
	const char *why = store_broken(e->s);

	snprintf(e->store_fault, sizeof(e->store_fault), "%s: %s",
	    af_errname(rc), why != NULL ? why : store_errmsg(e->s));
}

static void
store_fault_clear(struct engine *e)
{
	if (e->store_fault[0] != '\0')
		log_info("store: writing works again (was %s)", e->store_fault);
	e->store_fault[0] = '\0';
}

/* ---- The write set ---- */

void
pass_writes_init(struct pass_writes *w)
{
	memset(w, 0, sizeof(*w));
	buf_init(&w->journal_buf);
	outbox_init(&w->outbox);
	idem_init(&w->idem);
}

void
pass_writes_release(struct pass_writes *w)
{
	buf_release(&w->journal_buf);
	free(w->journal);
	outbox_release(&w->outbox);
	idem_release(&w->idem);
	free(w->settled);
	free(w->invocations);
	pass_writes_init(w);
}

/* Forget everything the pass wrote, keeping the memory. */
static void
pass_writes_reset(struct pass_writes *w)
{
	buf_reset(&w->journal_buf);
	w->njournal = 0;
	outbox_reset(&w->outbox);
	idem_reset(&w->idem);
	w->nsettled = 0;
	w->ninvocations = 0;
	w->next_act_dirty = false;
}


static int
put_row(struct engine *e, struct store_txn *t, struct act *a)
{
	uint8_t fkey[FINISHED_KEY_LEN];
	struct act_row r;
	struct buf calls;
	int rc;

	memset(&r, 0, sizeof(r));
	r.flow = (struct af_str){ a->flow, strlen(a->flow) };
	r.args = (struct af_str){ (const char *)a->args, a->args_n };
	r.state = a->row_state;
	r.outcome = a->outcome;
	r.journal_length = a->jlen;
	if (a->failure != NULL)
		r.failure = (struct af_str){ a->failure, strlen(a->failure) };
	r.incarnation = a->incarnation;
	r.quarantined = a->quarantined;
	/* Progress: this commit changes the row or the journal. The journal
	 * is written by this incarnation only if it grows. */
	a->last_progress_ms = engine_now_ms(e);
	if (a->jlen > a->jlen_committed)
		a->last_incarnation = e->incarnation;
	r.created_ms = a->created_ms;
	r.last_progress_ms = a->last_progress_ms;
	r.last_incarnation = a->last_incarnation;
	if (a->cancel_asked && a->row_state != ACT_DONE)
		r.cancel_reason = (struct af_str){
			a->cancel ? (const char *)a->cancel : "", a->cancel_n
		};
	r.parent = a->parent;
	buf_init(&calls);
	if (a->ncalls > 0 && a->row_state != ACT_DONE) {
		if ((rc = act_calls_encode(&calls, a)) != AF_OK) {
			buf_release(&calls);
			return rc;
		}
		r.pending_calls = (struct af_str){ (const char *)calls.p,
			calls.len };
	}
	rc = acttab_put(t, a->id, &r, &e->row_buf);
	buf_release(&calls);
	/* A child's first row: its parent's index entry (children.h). */
	if (rc == AF_OK && a->parent != 0 && !a->row_known)
		rc = children_put(t, a->parent, a->id);
	if (rc != AF_OK)
		return rc;
	if (r.state != ACT_DONE)
		return AF_OK;
	/* Finished now (a Done activation's row is written once, by the
	 * pass that finished it): it waits for its retention in the index,
	 * keyed by the time its row records; first in the FINISHING_META
	 * row this commit writes (meta_batch_write), DB_FINISHED later. */
	finished_key(fkey, r.last_progress_ms, a->id);
	if (r.last_progress_ms < e->prune_next_ms)
		e->prune_next_ms = r.last_progress_ms;
	return meta_batch_add(&e->finishing, t, fkey);
}

/* ---- Retention (prune.h does the deleting) ---- */

/*
 * The index of finished activations is DB_FINISHED plus the FINISHING_META
 * row (tables.h). Why two: the commit that finishes an activation is the
 * settle->outcome latency, and an entry of its own table there costs that
 * table's pages (copied and written) in every such commit; the meta row
 * lives on a page the same commit writes anyway. Both are written in the
 * finishing commit's transaction, so a crash never loses an entry.
 */

void
engine_finishing_close(struct engine *e)
{
	struct store_txn *t;

	if (e->finishing.n == 0 || e->needs_recover ||
	    e->store_fault[0] != '\0' || store_txn_open(e->s) ||
	    store_begin(e->s, false, &t) != AF_OK)
		return;
	if (meta_batch_flush(&e->finishing, t) != AF_OK ||
	    meta_batch_write(&e->finishing, t) != AF_OK) {
		store_abort(t);
		return;
	}
	(void)store_commit(t);
}

/* The finished ms of the oldest FINISHING_META entry, INT64_MAX if none. */
static int64_t
finishing_oldest(const struct engine *e)
{
	int64_t ms = INT64_MAX, x;
	size_t i;

	for (i = 0; i < e->finishing.n; i++)
		if ((x = (int64_t)store_rd_be64(
			 e->finishing.keys + i * FINISHED_KEY_LEN)) < ms)
			ms = x;
	return ms;
}

/* The finished ms of the oldest DB_FINISHED entry in t, INT64_MAX if
 * none; the entry's key into key. */
static int
oldest_finished(struct store_txn *t, int64_t *ms, uint8_t key[FINISHED_KEY_LEN])
{
	struct store_cursor *c;
	struct store_val k, v;
	int rc;

	*ms = INT64_MAX;
	if ((rc = store_cursor_open(t, DB_FINISHED, &c)) != AF_OK)
		return rc;
	rc = store_cursor_get(c, STORE_FIRST, &k, &v);
	if (rc == AF_OK && k.n == FINISHED_KEY_LEN) {
		memcpy(key, k.p, FINISHED_KEY_LEN);
		*ms = (int64_t)store_rd_be64(key);
	} else if (rc == AF_OK)
		rc = AF_EDECODE;
	store_cursor_close(c);
	return rc == AF_ENOTFOUND ? AF_OK : rc;
}

int
engine_prune_load(struct engine *e)
{
	uint8_t key[FINISHED_KEY_LEN];
	struct store_txn *t;
	int64_t ms;
	int rc;

	if ((rc = store_begin(e->s, true, &t)) != AF_OK)
		return rc;
	if ((rc = oldest_finished(t, &e->prune_next_ms, key)) == AF_OK &&
	    (rc = meta_batch_load(&e->finishing, t)) == AF_OK &&
	    (ms = finishing_oldest(e)) < e->prune_next_ms)
		e->prune_next_ms = ms;
	store_abort(t);
	return rc;
}

/* Whether an entry finished at ms is due (0: a purge under way). */
static bool
prune_is_due(const struct engine *e, int64_t ms, int64_t now)
{
	if (ms == 0)
		return true;
	if (!e->o.prune_finished || ms == INT64_MAX)
		return false;
	return ms <= now - e->o.retention_ms;
}

bool
engine_prune_due(const struct engine *e)
{
	return e->npurges > 0 ||
	    prune_is_due(e, e->prune_next_ms,
		engine_now_ms((struct engine *)e));
}

/*
 * The pass's purges, then up to PRUNE_PER_COMMIT rows of the finished
 * activations that are due, oldest first. Runs before this pass's rows
 * are written, so an activation that finishes in this pass is not pruned
 * in it: its outcome is committed, and seen by whoever waits for it,
 * before it can go.
 */
/* A purge's activation row (and outcome vow) goes now: counted off the
 * Done rows (e->pruned_rows) if it was there. */
static int
purge_row(struct engine *e, struct store_txn *t, uint64_t act)
{
	struct store_val v;
	uint8_t key[8];
	int rc;

	store_be64(key, act);
	rc = store_get(t, DB_ACTS, (struct store_val){ key, 8 }, &v);
	if (rc == AF_OK)
		e->pruned_rows++;
	else if (rc != AF_ENOTFOUND)
		return rc;
	return prune_row(t, &e->timers, act);
}

static int
prune_step(struct engine *e, struct store_txn *t)
{
	uint8_t key[FINISHED_KEY_LEN], old[FINISHED_KEY_LEN];
	int64_t now = engine_now_ms(e), ms;
	size_t budget = PRUNE_PER_COMMIT, i;
	struct store_val v;
	bool done;
	int rc;

	e->pruned_rows = 0;
	/* DB_FINISHED first holds every entry that is due or purged: the
	 * loops below read only that table. */
	if ((e->npurges > 0 || prune_is_due(e, finishing_oldest(e), now)) &&
	    (rc = meta_batch_flush(&e->finishing, t)) != AF_OK)
		return rc;
	/* ...and DB_OWNED every vow an activation made (prune_act reads
	 * only that table): the vows of one pruned now, at the latest. */
	if ((e->npurges > 0 || prune_is_due(e, e->prune_next_ms, now)) &&
	    (rc = vowtab_owned_flush(e->vt, t)) != AF_OK)
		return rc;
	for (i = 0; i < e->npurges; i++) {
		/* Unknown from this commit on (its row goes now, however
		 * many purges there are), the rest deleted first: moved to
		 * the front (finished ms 0). */
		finished_key(old, e->purges[i].finished_ms, e->purges[i].act);
		finished_key(key, 0, e->purges[i].act);
		rc = store_del(t, DB_FINISHED,
		    (struct store_val){ old, FINISHED_KEY_LEN });
		if (rc == AF_OK || rc == AF_ENOTFOUND)
			rc = purge_row(e, t, e->purges[i].act);
		if (rc != AF_OK && rc != AF_ENOTFOUND)
			return rc;
		if ((rc = store_put(t, DB_FINISHED,
			 (struct store_val){ key, FINISHED_KEY_LEN },
			 (struct store_val){ "", 0 }, false)) != AF_OK)
			return rc;
		e->prune_next_ms = 0;
	}
	if (!prune_is_due(e, e->prune_next_ms, now))
		return AF_OK;
	while (budget > 0) {
		if ((rc = oldest_finished(t, &ms, key)) != AF_OK)
			return rc;
		e->prune_next_ms = ms;
		if (!prune_is_due(e, ms, now))
			break;
		/* Its row goes first (a large one takes a few commits). */
		rc = store_get(t, DB_ACTS, (struct store_val){ key + 8, 8 },
		    &v);
		if (rc == AF_OK)
			e->pruned_rows++;
		else if (rc != AF_ENOTFOUND)
			return rc;
		rc = prune_act(t, &e->timers, store_rd_be64(key + 8), key,
		    &budget, &done);
		if (rc != AF_OK)
			return rc;
		if (done)
			e->st.pruned++;
	}
	if ((ms = finishing_oldest(e)) < e->prune_next_ms)
		e->prune_next_ms = ms;
	return AF_OK;
}

static int
cmp_journal_op(const void *x, const void *y)
{
	const struct journal_op *a = x, *b = y;

	if (a->act != b->act)
		return a->act < b->act ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The journal entries of the pass, in key order. */
static int
put_journal(struct pass_writes *w, struct store_txn *t)
{
	size_t i;
	int rc;

	if (w->njournal > 1)
		qsort(w->journal, w->njournal, sizeof(*w->journal),
		    cmp_journal_op);
	for (i = 0; i < w->njournal; i++)
		if ((rc = journal_put(t, w->journal[i].act, w->journal[i].idx,
			 w->journal_buf.p + w->journal[i].off,
			 w->journal[i].len)) != AF_OK)
			return rc;
	return AF_OK;
}

/* Delete journals of Done activations, a bounded amount per commit. */
static int
journal_gc_step(struct engine *e, struct store_txn *t)
{
	size_t budget = GC_PER_COMMIT, i, keep = 0;
	int rc;

	for (i = 0; i < e->ngc; i++) {
		struct journal_gc *g = &e->gc[i];
		uint64_t before = g->from;

		if (budget > 0) {
			rc = journal_delete(t, g->act, &g->from, g->to, budget);
			if (rc != AF_OK)
				return rc;
			assert(g->from - before <= budget);
			budget -= g->from - before;
		}
		if (g->from < g->to) {
			e->gc[keep++] = *g;
			continue;
		}
		/* Finished: record it in the row (unless the row is being
		 * written by this commit from memory: then it is Done with
		 * journal_gc set below). */
		rc = acttab_set_journal_gc(t, g->act, g->to, &e->settle_buf);
		if (rc != AF_OK && rc != AF_ENOTFOUND)
			return rc;
	}
	e->ngc = keep;
	return AF_OK;
}

/* Apply the pass in one write transaction; on failure, recover. */
static int
commit(struct engine *e)
{
	struct store_txn *t;
	struct act *a, *next;
	double t0;
	size_t i;
	int rc;

	if (!e->dirty && e->ngc == 0 && e->store_fault[0] == '\0' &&
	    store_broken(e->s) == NULL && !engine_prune_due(e)) {
		/* Nothing to write; what reads brought into the vow cache is
		 * dropped all the same, so a read-only load cannot grow it. */
		vowtab_after_commit(e->vt);
		return AF_OK;
	}
	e->st.commits++;
	assert(!store_txn_open(e->s));
	if (e->lost != AF_OK || e->w.journal_buf.err) {
		rc = e->lost != AF_OK ? e->lost : AF_ENOMEM;
		goto failed;
	}
	t0 = mono_seconds();
	if ((rc = store_begin(e->s, false, &t)) != AF_OK)
		goto failed;
	if ((rc = vowtab_flush(e->vt, t)) != AF_OK ||
	    (rc = prune_step(e, t)) != AF_OK)
		goto abort;
	TAILQ_FOREACH(a, &e->touched, tlink)
		if (a->row_dirty && (rc = put_row(e, t, a)) != AF_OK)
			goto abort;
	/* Journals replaced by continue-as-new: whole, and before the new
	 * entries, whose keys they share. */
	for (i = 0; i < e->nresets; i++)
		if ((rc = journal_delete(t, e->resets[i].act,
			 &e->resets[i].from, e->resets[i].to, SIZE_MAX)) !=
		    AF_OK)
			goto abort;
	if ((rc = put_journal(&e->w, t)) != AF_OK ||
	    (rc = outbox_flush(&e->w.outbox, t)) != AF_OK ||
	    (rc = timers_flush(&e->timers, t)) != AF_OK ||
	    (rc = idem_flush(&e->w.idem, t)) != AF_OK ||
	    (rc = journal_gc_step(e, t)) != AF_OK ||
	    (rc = meta_batch_write(&e->finishing, t)) != AF_OK)
		goto abort;
	if (e->w.next_act_dirty &&
	    (rc = meta_put_u64(t, "next_act", e->next_act)) != AF_OK)
		goto abort;
	/* While the store is faulty every pass writes, so that a working
	 * store is noticed: rewriting the incarnation changes nothing. */
	if (e->store_fault[0] != '\0' &&
	    (rc = meta_put_u64(t, "incarnation", e->incarnation)) != AF_OK)
		goto abort;
	rc = store_commit(t);
	t0 = mono_seconds() - t0;
	hist_add(e->st.commit_hist, engine_commit_le, ENGINE_COMMIT_BUCKETS,
	    t0);
	e->st.commit_seconds += t0;
	if (rc != AF_OK)
		goto failed;
	store_fault_clear(e);

	e->st.last_commit_rc = AF_OK;
	e->st.settles += e->w.nsettled;
	vowtab_after_commit(e->vt);
	e->dirty = false;
	e->nrows[ACT_DONE] -= e->pruned_rows < e->nrows[ACT_DONE] ?
	    e->pruned_rows :
	    e->nrows[ACT_DONE];
	e->pruned_rows = 0;
	for (a = TAILQ_FIRST(&e->touched); a != NULL; a = next) {
		next = TAILQ_NEXT(a, tlink);
		a->touched = false;
		if (a->row_dirty) {
			if (a->row_known)
				e->nrows[a->row_committed]--;
			e->nrows[a->row_state]++;
			a->row_committed = a->row_state;
			a->row_known = true;
		}
		a->row_dirty = false;
		a->jlen_committed = a->jlen;
		TAILQ_REMOVE(&e->touched, a, tlink);
		if (a->live_state == ES_DONE || a->live_state == ES_FAILED)
			act_free(e, a);
	}
	evict_after_commit(e);
	/* The hook only reads (engine.h): the write set is forgotten after
	 * it has seen what settled and what was sent. */
	if (e->o.on_commit != NULL &&
	    (e->w.nsettled > 0 || e->w.ninvocations > 0))
		e->o.on_commit(e->o.commit_ctx, e->w.settled, e->w.nsettled,
		    e->w.invocations, e->w.ninvocations);
	pass_writes_reset(&e->w);
	e->settled_looked = 0;
	timers_reset(&e->timers);
	e->npurges = 0;
	e->nresets = 0;
	e->finishing.dirty = false;
	/* Those that continued as new start over in the next pass: a flow
	 * that does so at once again never holds up this one. */
	for (i = 0; i < e->nrestarts; i++)
		if (engine_push_event(e, EV_WAKE, e->restarts[i], 0) != AF_OK)
			engine_note_lost(e, AF_ENOMEM);
	e->nrestarts = 0;
	return AF_OK;
abort:
	store_abort(t);
failed:
	e->pruned_rows = 0; /* nothing of it was deleted */
	e->st.commit_failures++;
	e->st.last_commit_rc = rc;
	if (rc == AF_ENOMEM)
		engine_set_errmsg(e, "out of memory during the pass");
	else {
		engine_set_errmsg(e, "%s", store_errmsg(e->s));
		store_fault_set(e, rc);
	}
	recover(e);
	return rc;
}

/* After a failed commit: forget everything uncommitted and rebuild every
 * unfinished activation by replay from the store, reopening the store
 * first if the failure left it unusable (the same rebuild as at start,
 * on the same files: what a restart would see). */
static int
recover(struct engine *e)
{
	int rc = recover_from_store(e, false);

	if (rc != AF_OK && rc != AF_ENOMEM)
		store_fault_set(e, rc);
	return rc;
}

static int
recover_from_store(struct engine *e, bool wake_failed)
{
	struct store_txn *t;
	size_t i = 0;
	uint64_t k;
	void *p;
	int rc;

	engine_free_acts(e);
	while (u64map_next(&e->watch, &i, &k, &p))
		free(p);
	u64map_reset(&e->watch);
	e->wakes.len = e->wakes.head = 0;
	e->settles.len = e->settles.head = 0;
	pass_writes_reset(&e->w);
	e->settled_looked = 0;
	/* Every unfinished activation is loaded again below. */
	e->st.sleeping = 0;
	e->evicted_any = false;
	e->holds_scanning = false;
	/* The failed pass's timers go too, before anything here can fail:
	 * engine_fire_due must not fire them while the rest is unknown. */
	e->timers.n = 0;
	timers_reset(&e->timers);
	e->ngc = 0;
	e->npurges = 0;
	e->nresets = 0;
	e->nrestarts = 0;
	e->prune_next_ms = INT64_MAX;
	e->finishing.n = 0;
	e->finishing.dirty = false;
	e->dirty = false;
	e->lost = AF_OK;
	/* If reading back fails too, the next pass tries again first. */
	e->needs_recover = true;
	if (store_broken(e->s) != NULL) {
		log_warn("store: %s; reopening it and rebuilding from what is "
			 "committed",
		    store_broken(e->s));
		if ((rc = store_reopen(e->s)) != AF_OK)
			return rc;
		log_info("store reopened");
	}
	if ((rc = vowtab_discard(e->vt)) != AF_OK)
		return rc;
	if ((rc = store_begin(e->s, true, &t)) != AF_OK)
		return rc;
	rc = meta_get_u64(t, "next_act", &e->next_act);
	store_abort(t);
	if (rc != AF_OK && rc != AF_ENOTFOUND)
		return rc;
	if ((rc = timers_load(&e->timers, e->s)) != AF_OK ||
	    (rc = engine_scan_acts(e, wake_failed)) != AF_OK ||
	    (rc = engine_prune_load(e)) != AF_OK)
		return rc;
	e->needs_recover = false;
	return AF_OK;
}

int
engine_pass(struct engine *e)
{
	uint64_t events;
	int rc;

	/* Passes are driven from the loop, never from guest code. */
	assert(coro_self() == NULL && !store_txn_open(e->s));
	e->st.passes++;
	if (e->needs_recover) {
		/* Whatever requests did since the failure was made on state
		 * that recovery throws away: this pass fails as a whole. */
		if ((rc = recover(e)) == AF_OK) {
			rc = AF_ESTORE;
			engine_set_errmsg(e,
			    "recovered from an earlier "
			    "failed commit; retry");
		}
		return rc;
	}
	/* Stacks freed beyond the pool's idle ones (a live switch, a burst
	 * of evictions) are unmapped a few per pass: each munmap is a TLB
	 * shootdown, and thousands at once would stall every client. */
	coro_pool_trim(e->pool, STACKS_TRIMMED_PER_PASS);
	engine_switch_step(e);
	events = e->st.events;
	step_take_events(e);
	hist_add(e->st.pass_hist, engine_pass_le, ENGINE_PASS_BUCKETS,
	    (double)(e->st.events - events));
	return commit(e);
}

int
engine_run_until_idle(struct engine *e)
{
	int rc;

	do {
		if ((rc = engine_pass(e)) != AF_OK)
			return rc;
	} while (engine_busy(e) || e->ngc > 0);
	return AF_OK;
}
