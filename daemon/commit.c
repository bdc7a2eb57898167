/*
 * commit.c: the end of a pass. Everything the pass changed is applied in
 * ONE write transaction (group commit); a failed commit forgets what is
 * uncommitted and rebuilds every unfinished activation by replay
 * (recovery). Also the bounded deletion of Done activations' journals.
 * Not here: running events (step.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

static int recover(struct engine *);

/* The vow table tells us a vow reached a final state. */
void
engine_on_vow_settled(void *ctx, const struct vow *v)
{
	struct engine *e = ctx;
	struct idlist *l = u64map_del(&e->watch, v->id);
	size_t i;

	if (l != NULL) {
		for (i = 0; i < l->n; i++)
			engine_push_event(e, EV_SETTLED, l->ids[i], v->id);
		free(l);
	}
	if (grow_array((void **)&e->settled, &e->capsettled,
	    e->nsettled + 1, sizeof(uint64_t)) == AF_OK)
		e->settled[e->nsettled++] = v->id;
	if (v->invocation && grow_array((void **)&e->odels, &e->capodels,
	    e->nodels + 1, sizeof(uint64_t)) == AF_OK)
		e->odels[e->nodels++] = v->id;
	e->dirty = true;
}

bool
engine_busy(const struct engine *e)
{
	return e->wakes.len > 0 || e->settles.len > 0 || e->ngcs > 0 ||
	    e->needs_recover;       /* events, or journals to
						 * delete */
}

static int
put_row(struct engine *e, struct store_txn *t, struct act *a)
{
	struct act_row r;
	uint8_t key[8];
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
	buf_reset(&e->scratch);
	if ((rc = act_row_encode(&e->scratch, &r)) != AF_OK)
		return rc;
	store_be64(key, a->id);
	return store_put(t, DB_ACTS, (struct store_val){ key, 8 },
	    (struct store_val){ e->scratch.p, e->scratch.len }, false);
}

/* Delete journals of Done activations, a bounded amount per commit. */
static int
journal_gc_step(struct engine *e, struct store_txn *t)
{
	size_t budget = GC_PER_COMMIT, i = 0, keep = 0;
	struct store_val val;
	struct act_row row;
	uint8_t key[8];
	int rc;

	for (i = 0; i < e->ngcs; i++) {
		struct gc *g = &e->gcs[i];
		uint64_t before = g->from;

		if (budget > 0) {
			rc = journal_delete(t, g->act, &g->from, g->to,
			    budget);
			if (rc != AF_OK)
				return rc;
			budget -= g->from - before;
		}
		if (g->from < g->to) {
			e->gcs[keep++] = *g;
			continue;
		}
		/* Finished: record it in the row (unless the row is being
		 * written by this commit from memory: then it is Done with
		 * journal_gc set below). */
		store_be64(key, g->act);
		rc = store_get(t, DB_ACTS, (struct store_val){ key, 8 },
		    &val);
		if (rc == AF_OK && act_row_parse(val.p, val.n, &row) == AF_OK &&
		    row.journal_gc < g->to) {
			row.journal_gc = g->to;
			buf_reset(&e->scratch2);
			if (act_row_encode(&e->scratch2, &row) == AF_OK)
				rc = store_put(t, DB_ACTS,
				    (struct store_val){ key, 8 },
				    (struct store_val){ e->scratch2.p,
				    e->scratch2.len }, false);
		}
		if (rc != AF_OK && rc != AF_ENOTFOUND)
			return rc;
	}
	e->ngcs = keep;
	return AF_OK;
}

static int
cmp_jop(const void *x, const void *y)
{
	const struct jop *a = x, *b = y;

	if (a->act != b->act)
		return a->act < b->act ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void
clear_pass_rows(struct engine *e)
{
	buf_reset(&e->obuf);
	e->noputs = e->nodels = e->nnewinv = 0;
	e->ntputs = e->ntdels = 0;
}

void
engine_clear_idems(struct engine *e)
{
	size_t i;

	for (i = 0; i < e->nidems; i++) {
		free(e->idems[i].key);
		free(e->idems[i].val);
	}
	e->nidems = 0;
}

static int
commit(struct engine *e)
{
	struct store_txn *t;
	struct act *a, *next;
	size_t i, ngcs_before = e->ngcs;
	uint8_t key[16];
	int rc;

	if (!e->dirty && e->ngcs == 0) {
		/* Nothing to write; what reads brought into the vow cache is
		 * dropped all the same, so a read-only load cannot grow it. */
		vowtab_after_commit(e->vt);
		return AF_OK;
	}
	e->st.commits++;
	if (e->jbuf.err) {
		rc = AF_ENOMEM;
		goto failed;
	}
	if ((rc = store_begin(e->s, false, &t)) != AF_OK)
		goto failed;
	if ((rc = vowtab_flush(e->vt, t)) != AF_OK)
		goto abort;
	TAILQ_FOREACH(a, &e->touched, tlink)
		if (a->row_dirty && (rc = put_row(e, t, a)) != AF_OK)
			goto abort;
	if (e->njops > 1)
		qsort(e->jops, e->njops, sizeof(*e->jops), cmp_jop);
	for (i = 0; i < e->njops; i++) {
		journal_key(key, e->jops[i].act, e->jops[i].idx);
		rc = store_put(t, DB_JOURNAL, (struct store_val){ key, 16 },
		    (struct store_val){ e->jbuf.p + e->jops[i].off,
		    e->jops[i].len }, false);
		if (rc != AF_OK)
			goto abort;
	}
	for (i = 0; i < e->noputs; i++) {
		store_be64(key, e->oputs[i].id);
		rc = store_put(t, DB_OUTBOX, (struct store_val){ key, 8 },
		    (struct store_val){ e->obuf.p + e->oputs[i].off,
		    e->oputs[i].len }, false);
		if (rc != AF_OK)
			goto abort;
	}
	for (i = 0; i < e->nodels; i++) {
		store_be64(key, e->odels[i]);
		rc = store_del(t, DB_OUTBOX, (struct store_val){ key, 8 });
		if (rc != AF_OK && rc != AF_ENOTFOUND)
			goto abort;
	}
	for (i = 0; i < e->ntputs + e->ntdels; i++) {
		const struct timer *tm = i < e->ntputs ? &e->tputs[i] :
		    &e->tdels[i - e->ntputs];

		store_be64(key, (uint64_t)tm->due);
		store_be64(key + 8, tm->vow);
		if (i < e->ntputs)
			rc = store_put(t, DB_TIMERS, (struct store_val){
			    key, 16 }, (struct store_val){ "", 0 }, false);
		else if ((rc = store_del(t, DB_TIMERS, (struct store_val){
		    key, 16 })) == AF_ENOTFOUND)
			rc = AF_OK;
		if (rc != AF_OK)
			goto abort;
	}
	for (i = 0; i < e->nidems; i++) {
		rc = store_put(t, DB_IDEM, (struct store_val){
		    e->idems[i].key, strlen(e->idems[i].key) },
		    (struct store_val){ e->idems[i].val, e->idems[i].n }, false);
		if (rc != AF_OK)
			goto abort;
	}
	if ((rc = journal_gc_step(e, t)) != AF_OK)
		goto abort;
	if (e->next_act_dirty &&
	    (rc = meta_put_u64(t, "next_act", e->next_act)) != AF_OK)
		goto abort;
	if ((rc = store_commit(t)) != AF_OK)
		goto failed;

	vowtab_after_commit(e->vt);
	engine_clear_idems(e);
	buf_reset(&e->jbuf);
	e->njops = 0;
	e->next_act_dirty = false;
	e->dirty = false;
	for (a = TAILQ_FIRST(&e->touched); a != NULL; a = next) {
		next = TAILQ_NEXT(a, tlink);
		a->touched = false;
		a->row_dirty = false;
		a->jlen_committed = a->jlen;
		TAILQ_REMOVE(&e->touched, a, tlink);
		if (a->live_state == ES_DONE || a->live_state == ES_FAILED)
			act_free(e, a);
	}
	if (e->o.on_commit != NULL && (e->nsettled > 0 || e->nnewinv > 0))
		e->o.on_commit(e->o.commit_ctx, e->settled, e->nsettled,
		    e->newinv, e->nnewinv);
	e->nsettled = 0;
	clear_pass_rows(e);
	(void)ngcs_before;
	return AF_OK;
abort:
	store_abort(t);
failed:
	recover(e);
	return rc;
}

static int
recover(struct engine *e)
{
	size_t i = 0;
	uint64_t k;
	void *p;
	struct store_txn *t;
	int rc;

	engine_free_acts(e);
	i = 0;
	while (u64map_next(&e->watch, &i, &k, &p))
		free(p);
	u64map_clear(&e->watch);
	e->wakes.len = e->wakes.head = 0;
	e->settles.len = e->settles.head = 0;
	engine_clear_idems(e);
	clear_pass_rows(e);
	e->nheap = 0;
	buf_reset(&e->jbuf);
	e->jbuf.err = AF_OK;
	e->njops = 0;
	e->nsettled = 0;
	e->ngcs = 0;
	e->dirty = false;
	e->next_act_dirty = false;
	/* If reading back fails too, the next pass tries again first. */
	e->needs_recover = true;
	if ((rc = vowtab_discard(e->vt)) != AF_OK)
		return rc;
	if ((rc = store_begin(e->s, true, &t)) != AF_OK)
		return rc;
	rc = meta_get_u64(t, "next_act", &e->next_act);
	store_abort(t);
	if (rc != AF_OK && rc != AF_ENOTFOUND)
		return rc;
	if ((rc = engine_load_timers(e)) != AF_OK || (rc = engine_scan_acts(e, false)) != AF_OK)
		return rc;
	e->needs_recover = false;
	return AF_OK;
}

int
engine_pass(struct engine *e)
{
	int rc;

	e->st.passes++;
	if (e->needs_recover) {
		/* Whatever requests did since the failure was made on state
		 * that recovery throws away: this pass fails as a whole. */
		if ((rc = recover(e)) == AF_OK) {
			rc = AF_ESTORE;
			snprintf(e->s->errmsg, sizeof(e->s->errmsg),
			    "recovered from an earlier failed commit; retry");
		}
		return rc;
	}
	step_take_events(e);
	return commit(e);
}

int
engine_run_until_idle(struct engine *e)
{
	int rc;

	do {
		if ((rc = engine_pass(e)) != AF_OK)
			return rc;
	} while (engine_busy(e) || e->ngcs > 0);
	return AF_OK;
}
