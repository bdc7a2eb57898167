/*
 * engine_check.c: the engine's check mode, for the upgrade check
 * (engine.h, engine_check_*): replay one unfinished activation at a time
 * against a registry of new code, from a store that may be a read-only
 * snapshot, and say whether its journal is consumed. It reuses the replay
 * path of step.c and membrane.c as it is; the only difference is at the
 * point where an activation would go live (act_go_live calls
 * engine_check_passed): there it passes, its coroutine is abandoned, and
 * nothing live ever happens: no host method runs, nothing is journaled,
 * sent or committed.
 *
 * Also here: the live switch to new code once checked
 * (engine_swap_registry), incremental (see there).
 *
 * Not here: crashes and runaways in the new code (a process of its own
 * catches those, checker.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acttab.h"
#include "engine_int.h"
#include "log.h"

const char *
engine_verdict_name(enum engine_verdict v)
{
	switch (v) {
	case EV_OK:
		return "ok";
	case EV_DIVERGED:
		return "diverged";
	case EV_FINISHED_EARLY:
		return "finished-early";
	case EV_FLOW_MISSING:
		return "flow-missing";
	}
	return "?";
}

int
engine_check_open(struct store *s, struct af_registry *reg,
    const struct engine_opts *opts, struct engine **out, char *err,
    size_t errlen)
{
	struct engine *e;
	struct store_txn *t;
	uint64_t format = 0;
	int rc;

	*out = NULL;
	rc = engine_alloc(s, reg, opts, &e);
	if (e == NULL)
		return rc;
	e->check = true;
	e->o.on_commit = NULL; /* nothing is ever committed */
	if (rc != AF_OK) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* The built-in objects: a flow's calls to them are compared with
	 * the journal by name, and never run. */
	if ((rc = hostobj_register(reg)) != AF_OK) {
		snprintf(err, errlen, "registering built-in objects: %s",
		    af_strerror(rc));
		goto fail;
	}
	if ((rc = store_begin(s, true, &t)) != AF_OK)
		goto store_fail;
	rc = meta_get_u64(t, "format", &format);
	if (rc == AF_ENOTFOUND)
		rc = AF_OK;
	if (rc == AF_OK && format > JOURNAL_FORMAT) {
		snprintf(err, errlen,
		    "the store was written with journal format %llu; this "
		    "asyncflowd reads format %d and older",
		    (unsigned long long)format, JOURNAL_FORMAT);
		store_abort(t);
		rc = AF_EVERSION;
		goto fail;
	}
	if (rc == AF_OK) {
		rc = meta_get_u64(t, "incarnation", &e->incarnation);
		if (rc == AF_ENOTFOUND)
			rc = AF_OK;
	}
	if (rc == AF_OK) {
		rc = meta_get_u64(t, "next_act", &e->next_act);
		if (rc == AF_ENOTFOUND)
			rc = AF_OK;
	}
	if (rc == AF_OK)
		rc = vowtab_new(s, t, engine_on_vow_settled, e, &e->vt);
	store_abort(t);
	if (rc != AF_OK)
		goto store_fail;
	*out = e;
	return AF_OK;
store_fail:
	snprintf(err, errlen, "store: %s (%s)", af_strerror(rc),
	    store_errmsg(s));
fail:
	engine_close(e);
	return rc;
}

/* The journal is consumed: the activation passes. Called where it would
 * go live (act_go_live), on its coroutine or not; on one, the coroutine
 * is abandoned here, never resumed (act_unload frees it). */
void
engine_check_passed(struct engine *e, struct act *a)
{
	a->live_state = ES_DONE;
	e->st.entries_replayed += a->pos;
	if (coro_self() != NULL) {
		coro_yield();
		abort(); /* a passed activation's coroutine is never resumed */
	}
}

struct list_ctx {
	struct engine *e;
	uint64_t *ids;
	size_t max, n;
};

/* As acttab_scan's walk (acttab_entry: the same rows skipped, with the
 * same warnings), keeping a copy of each row listed for engine_check_one. */
static int
list_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct list_ctx *lc = ctx;
	struct act_row row;
	uint64_t id, len = v.n;

	if (!acttab_entry(k, v, &id, &row) || row.state == ACT_DONE)
		return 0;
	buf_put(&lc->e->check_rows, &id, sizeof(id));
	buf_put(&lc->e->check_rows, &len, sizeof(len));
	buf_put(&lc->e->check_rows, v.p, v.n);
	if (lc->e->check_rows.err)
		return lc->e->check_rows.err;
	lc->ids[lc->n++] = id;
	return lc->n == lc->max ? 1 : 0;
}

/* The row of id as engine_check_list read it, if it listed id: *p and *n
 * point into e->check_rows. The checker asks in the order listed, so the
 * search starts where the last one was found. */
static bool
listed_row(struct engine *e, uint64_t id, const void **p, size_t *n)
{
	const struct buf *b = &e->check_rows;
	size_t off = e->check_next;
	uint64_t rid, len;

	while (off + 16 <= b->len) {
		memcpy(&rid, b->p + off, 8);
		memcpy(&len, b->p + off + 8, 8);
		if (rid > id)
			break;
		off += 16;
		if (rid == id) {
			*p = b->p + off;
			*n = (size_t)len;
			e->check_next = off + (size_t)len;
			return true;
		}
		off += (size_t)len;
	}
	return false;
}

int
engine_check_list(struct engine *e, uint64_t after, uint64_t *ids, size_t max,
    size_t *n)
{
	struct list_ctx lc = { e, ids, max, 0 };
	uint8_t key[8];
	int rc;

	*n = 0;
	buf_reset(&e->check_rows);
	e->check_next = 0;
	if (max == 0 || after == UINT64_MAX)
		return AF_OK;
	store_be64(key, after + 1);
	rc = store_scan(e->s, DB_ACTS, key, sizeof(key), list_cb, &lc);
	if (rc != AF_OK) {
		buf_reset(&e->check_rows);
		return rc;
	}
	*n = lc.n;
	return AF_OK;
}

int
engine_check_one(struct engine *e, uint64_t id, struct engine_check_result *r)
{
	struct act_row row;
	struct act *a;
	const void *rp;
	struct buf b;
	size_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!e->check)
		return AF_ESTATE;
	buf_init(&b);
	/* Listed: the copy made then (from the same snapshot). */
	if (listed_row(e, id, &rp, &n))
		rc = act_row_parse(rp, n, &row);
	else
		rc = acttab_read(e->s, id, &row, &b);
	if (rc != AF_OK) {
		buf_release(&b);
		return rc;
	}
	if (row.state == ACT_DONE) {
		buf_release(&b);
		return AF_ESTATE;
	}
	n = row.flow.len < sizeof(r->flow) ? row.flow.len : sizeof(r->flow) - 1;
	memcpy(r->flow, row.flow.ptr, n);
	r->flow[n] = '\0';
	r->journal_length = row.journal_length;
	if ((a = act_new(e, id)) == NULL) {
		buf_release(&b);
		return AF_ENOMEM;
	}
	rc = act_from_row(a, &row);
	buf_release(&b);
	if (rc != AF_OK) {
		act_free(e, a);
		return rc;
	}
	if (registry_flow(e->reg, a->flow, strlen(a->flow)) == NULL) {
		r->verdict = EV_FLOW_MISSING;
		snprintf(r->diagnostic, sizeof(r->diagnostic),
		    "flow %s not registered", a->flow);
	} else if (a->jlen_committed == 0) {
		/* Nothing journaled yet: nothing the new code could
		 * contradict. */
		r->verdict = EV_OK;
	} else {
		e->check_returned = false;
		if ((rc = engine_push_event(e, EV_WAKE, id, 0)) != AF_OK) {
			act_free(e, a);
			return rc;
		}
		step_take_events(e);
		if (a->live_state == ES_DONE) {
			r->verdict = EV_OK;
			r->entries = a->jlen_committed;
		} else {
			/* Failed, with the text a Failed activation gets. */
			r->verdict = e->check_returned ? EV_FINISHED_EARLY :
							 EV_DIVERGED;
			r->index = a->pos;
			r->entries = a->pos;
			snprintf(r->diagnostic, sizeof(r->diagnostic), "%s",
			    a->failure ? a->failure : "replay failed");
		}
	}
	act_free(e, a);
	/* Forget what this one read, so memory stays flat: the snapshot
	 * does not change, so the vow counters read at open stand. */
	if (e->lost != AF_OK) {
		rc = e->lost;
		e->lost = AF_OK;
		return rc;
	}
	return vowtab_forget(e->vt);
}

/* ---- The live switch ------------------------------------------------------ */

/*
 * Incremental: the switch itself does nothing proportional to the number
 * of activations. It puts the new registry in use and moves every act in
 * memory to e->old_lru (one list splice): those were built by the old
 * code. From then on each pass drops a bounded number of them
 * (evict_old_code_step: a waiting one leaves memory and is replayed under
 * the new code when an event needs it), an event for one not dropped yet
 * replays it under the new code before it is applied (evict_touch), and
 * the activation rows are read a chunk per pass for the Failed ones to
 * retry under the new code. The old registry (and the modules behind it)
 * is handed back by engine_take_retired once no act of the old code is
 * left in memory. Timers, vows and watches are the store's and the
 * engine's, not the code's: they stay as they are.
 */

int
engine_swap_registry(struct engine *e, struct af_registry *reg,
    uint64_t *covered)
{
	int rc;

	*covered = 0;
	if (e->check || coro_self() != NULL || e->dirty || e->needs_recover ||
	    store_txn_open(e->s))
		return AF_ESTATE;
	if (e->old_reg != NULL)
		return AF_EBUSY; /* the last switch's old code is still here */
	if ((rc = hostobj_register(reg)) != AF_OK)
		return rc;
	e->old_reg = e->reg;
	e->reg = reg;
	e->gen++;
	TAILQ_CONCAT(&e->old_lru, &e->lru, lru);
	e->nold = e->acts.len;
	e->failed_scanning = true;
	e->failed_from = 0;
	*covered = e->nrows[ACT_ACTIVE] + e->nrows[ACT_FAILED];
	log_info("switched to new code: %llu unfinished activations, %zu of "
		 "them in memory (dropped %d a pass, or replayed under the new "
		 "code when an event needs them); Failed ones are retried",
	    (unsigned long long)*covered, e->nold, ENGINE_SWAP_DROPS_PER_PASS);
	return AF_OK;
}

size_t
engine_old_code(const struct engine *e)
{
	return e->nold;
}

struct af_registry *
engine_take_retired(struct engine *e)
{
	struct af_registry *old = e->old_reg;

	if (old == NULL || e->nold > 0)
		return NULL;
	e->old_reg = NULL;
	log_info("no activation in memory runs the replaced code any more");
	return old;
}

/* Rows of the activation table read per pass for Failed ones, and Failed
 * ones retried (each a replay in the pass) per pass at most. */
#define FAILED_ROWS_PER_PASS  4096
#define FAILED_WAKES_PER_PASS 64

struct failed_scan {
	struct engine *e;
	uint64_t ids[FAILED_WAKES_PER_PASS];
	size_t n, rows;
	bool more;
};

static int
failed_cb(void *ctx, uint64_t id, const struct act_row *row)
{
	struct failed_scan *f = ctx;

	if (f->rows++ == FAILED_ROWS_PER_PASS ||
	    f->n == FAILED_WAKES_PER_PASS) {
		f->e->failed_from = id;
		f->more = true;
		return 1;
	}
	/* Quarantined: only an explicit wake (as at a start). */
	if (row->state == ACT_FAILED && !row->quarantined)
		f->ids[f->n++] = id;
	return 0;
}

void
engine_switch_step(struct engine *e)
{
	struct failed_scan f = { .e = e };
	size_t i;
	int rc;

	evict_old_code_step(e);
	if (!e->failed_scanning)
		return;
	rc = acttab_scan(e->s, e->failed_from, failed_cb, &f);
	/* A wake replays it under the new code in this pass. */
	for (i = 0; rc == AF_OK && i < f.n; i++)
		if ((rc = engine_wake(e, f.ids[i])) == AF_ESTATE)
			rc = AF_OK; /* Done since */
	if (rc != AF_OK)
		engine_note_lost(e, rc); /* this chunk again after recovery */
	else if (!f.more) {
		e->failed_scanning = false;
		log_debug("every Failed activation was retried under the new "
			  "code");
	}
}

struct af_registry *
engine_registry(const struct engine *e)
{
	return e->reg;
}
