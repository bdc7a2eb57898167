/*
 * engine.c: the engine's front door (see engine.h): open and close, and
 * the requests from outside — start, mkvow, settle, wake — which queue
 * work for the next pass. The rest lives in the rooms engine_int.h lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acttab.h"
#include "children.h"
#include "engine_int.h"
#include "log.h"
#include "value.h"

int64_t
engine_now_ms(struct engine *e)
{
	struct timespec ts;

	if (e->o.clock_ms != NULL)
		return e->o.clock_ms(e->o.clock_ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Client-supplied values: vows must exist, resolvers are refused (holding
 * a resolver is proven by its secret, never by naming it). */
static int
check_client_value(struct engine *e, const struct af_value *v)
{
	struct vow *vw;
	size_t i;
	int rc;

	switch (v->type) {
	case AF_RESOLVER:
		return AF_EINVAL;
	case AF_VOW:
		return vowtab_get(e->vt, v->u.id, &vw);
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			if ((rc = check_client_value(e, v->u.list.items[i])))
				return rc;
		return AF_OK;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			if ((rc = check_client_value(e,
				 v->u.rec.fields[i].value)))
				return rc;
		return AF_OK;
	default:
		return AF_OK;
	}
}

int
engine_start(struct engine *e, const char *flow, const struct af_value *args,
    uint64_t *act, uint64_t *outcome)
{
	struct af_value null = { .type = AF_NULL };
	uint64_t oid;
	struct act *a;
	int rc;

	*act = *outcome = 0;
	e->start_refused = false;
	if (e->needs_recover)
		return AF_ESTORE; /* see engine_pass */
	if (flow == NULL || registry_flow(e->reg, flow, strlen(flow)) == NULL)
		return AF_ENOTFOUND;
	/* Refused now rather than acknowledged and then Failed for want of
	 * a coroutine stack. */
	if (!evict_room_for_start(e)) {
		e->start_refused = true;
		return AF_ELIMIT;
	}
	if (args == NULL)
		args = &null;
	if ((rc = check_client_value(e, args)) != AF_OK)
		return rc;
	buf_reset(&e->args_buf);
	if ((rc = value_encode(&e->args_buf, args)) != AF_OK)
		return rc;
	if ((a = act_new(e, e->next_act + 1)) == NULL)
		return AF_ENOMEM;
	if ((rc = vowtab_make(e->vt, a->id, &oid, NULL)) != AF_OK) {
		act_free(e, a);
		return rc;
	}
	vowtab_unowned(e->vt, oid); /* its row names it (prune.h) */
	a->flow = strdup(flow);
	a->args = malloc(e->args_buf.len ? e->args_buf.len : 1);
	if (a->flow == NULL || a->args == NULL ||
	    engine_push_event(e, EV_WAKE, a->id, 0) != AF_OK) {
		act_free(e, a);
		return AF_ENOMEM; /* the vow made is dropped at commit? no:
				     * it stays, pending and unowned. */
	}
	memcpy(a->args, e->args_buf.p, e->args_buf.len);
	a->args_n = e->args_buf.len;
	a->outcome = oid;
	a->incarnation = e->incarnation;
	a->last_incarnation = e->incarnation;
	a->created_ms = engine_now_ms(e);
	a->row_state = ACT_ACTIVE;
	a->row_dirty = true;
	act_mark_dirty(e, a);
	e->next_act++;
	e->w.next_act_dirty = true;
	e->st.starts++;
	*act = a->id;
	*outcome = oid;
	return AF_OK;
}

int
engine_mkvow(struct engine *e, uint64_t *vow, uint8_t secret[VOW_SECRET_LEN])
{
	if (e->needs_recover)
		return AF_ESTORE; /* see engine_pass */
	e->dirty = true;
	return vowtab_make(e->vt, 0, vow, secret);
}

int
engine_settle(struct engine *e, uint64_t vow,
    const uint8_t secret[VOW_SECRET_LEN], bool reject,
    const struct af_value *value)
{
	struct af_value null = { .type = AF_NULL };
	uint64_t follow = 0;
	int rc;

	if (e->needs_recover)
		return AF_ESTORE; /* see engine_pass */
	if (secret == NULL)
		return AF_EDENIED;
	if (value == NULL)
		value = &null;
	if ((rc = check_client_value(e, value)) != AF_OK)
		return rc;
	buf_reset(&e->settle_buf);
	if ((rc = value_encode(&e->settle_buf, value)) != AF_OK)
		return rc;
	if (!reject && value->type == AF_VOW)
		follow = value->u.id;
	rc = vowtab_settle(e->vt, vow, secret, reject, e->settle_buf.p,
	    e->settle_buf.len, follow);
	if (rc == AF_OK)
		e->dirty = true;
	return rc;
}

/* Activation rows: every id whose row is FAILED and not quarantined (a
 * crasher is woken only by its own id). */
static int
failed_cb(void *ctx, uint64_t id, const struct act_row *row)
{
	if (row->state != ACT_FAILED || row->quarantined)
		return 0;
	return engine_ids_push(ctx, id);
}

static int
wake_one(struct engine *e, uint64_t id)
{
	struct act_row row;
	struct act *a;
	struct buf b;
	int rc;

	if ((a = u64map_get(&e->acts, id)) != NULL) {
		if (a->gen != e->gen) /* built by the code a switch replaced */
			return evict_switch_wake(e, a);
		switch (a->live_state) {
		case ES_DONE:
			return AF_ESTATE;
		case ES_FAILED:
			a->live_state = ES_SLEEPING;
			return engine_push_event(e, EV_WAKE, id, 0);
		default:
			return AF_OK; /* running, replaying, or queued */
		}
	}
	buf_init(&b);
	rc = acttab_read(e->s, id, &row, &b);
	if (rc == AF_OK && row.state == ACT_DONE)
		rc = AF_ESTATE;
	if (rc == AF_OK) {
		if ((a = act_new(e, id)) == NULL)
			rc = AF_ENOMEM;
		else if ((rc = act_from_row(a, &row)) != AF_OK)
			act_free(e, a);
		else
			rc = engine_push_event(e, EV_WAKE, id, 0);
	}
	buf_release(&b);
	return rc;
}

int
engine_wake(struct engine *e, uint64_t act)
{
	struct ids failed = { NULL, 0, 0 };
	size_t i = 0;
	uint64_t key;
	void *p;
	int rc, one;

	if (act != 0)
		return wake_one(e, act);
	/* Every Failed activation: the committed ones... */
	if ((rc = acttab_scan(e->s, 0, failed_cb, &failed)) == AF_OK) {
		/* The first error is returned; the others are not lost. */
		for (i = 0; i < failed.n; i++)
			if ((one = wake_one(e, failed.v[i])) != AF_OK &&
			    one != AF_ESTATE && rc == AF_OK)
				rc = one;
		/* ...and those that failed in memory during this pass. */
		i = 0;
		while (u64map_next(&e->acts, &i, &key, &p)) {
			struct act *a = p;

			if (a->live_state == ES_FAILED) {
				a->live_state = ES_SLEEPING;
				if ((one = engine_push_event(e, EV_WAKE, key,
					 0)) != AF_OK) {
					/* Sleeping, with no wake queued. */
					engine_note_lost(e, one);
					if (rc == AF_OK)
						rc = one;
				}
			}
		}
	}
	free(failed.v);
	return rc;
}

/* An activation not in memory, made from its row (not queued for
 * anything): AF_ESTATE if it is Done, AF_ENOTFOUND, AF_ENOMEM, store
 * errors. */
static int
act_load_row(struct engine *e, uint64_t id, struct act **out)
{
	struct act_row row;
	struct act *a = NULL;
	struct buf b;
	int rc;

	buf_init(&b);
	rc = acttab_read(e->s, id, &row, &b);
	if (rc == AF_OK && row.state == ACT_DONE)
		rc = AF_ESTATE;
	if (rc == AF_OK && (a = act_new(e, id)) == NULL)
		rc = AF_ENOMEM;
	if (rc == AF_OK && (rc = act_from_row(a, &row)) != AF_OK)
		act_free(e, a);
	buf_release(&b);
	*out = rc == AF_OK ? a : NULL;
	return rc;
}

int
engine_terminate(struct engine *e, uint64_t id, const char *message)
{
	struct act *a;
	int rc;

	if ((a = u64map_get(&e->acts, id)) == NULL) {
		/* Failed or quarantined and not in memory: from its row. */
		if ((rc = act_load_row(e, id, &a)) != AF_OK)
			return rc;
	}
	if (a->live_state == ES_DONE)
		return AF_ESTATE;
	return act_terminate(e, a, message);
}

int
engine_act_for_event(struct engine *e, uint64_t id, struct act **out)
{
	struct act *a;
	int rc = AF_OK;

	*out = NULL;
	if ((a = u64map_get(&e->acts, id)) == NULL) {
		/* Not in memory (Failed and quarantined, or failed in an
		 * earlier incarnation): the event goes into its row and
		 * reaches it after its next replay. */
		if ((rc = act_load_row(e, id, &a)) != AF_OK)
			return rc;
		/* Not queued for replay: it stays as its row says. */
		if (a->replay) {
			a->replay = false;
			if (e->rp.total > 0)
				e->rp.total--;
		}
		if (a->row_state == ACT_FAILED)
			a->live_state = ES_FAILED;
		else if ((rc = engine_push_event(e, EV_WAKE, id, 0)) != AF_OK)
			return rc;
	}
	*out = a;
	return a->live_state == ES_DONE ? AF_ESTATE : AF_OK;
}

/* Cancelling a parent cancels its unfinished children (and theirs), with
 * the same reason. */
static int
cancel_children(struct engine *e, uint64_t id, const uint8_t *reason, size_t n)
{
	uint64_t *kids;
	size_t nk, i;
	struct act *c;
	int rc, first = AF_OK;

	if ((rc = engine_children(e, id, &kids, &nk)) != AF_OK)
		return rc;
	for (i = 0; i < nk; i++) {
		rc = engine_act_for_event(e, kids[i], &c);
		if (rc == AF_OK && !c->cancel_asked &&
		    (rc = act_cancel(e, c, reason, n)) == AF_OK)
			rc = cancel_children(e, kids[i], c->cancel,
			    c->cancel_n);
		if (rc != AF_OK && rc != AF_ESTATE && first == AF_OK)
			first = rc;
	}
	free(kids);
	return first;
}

int
engine_cancel(struct engine *e, uint64_t id, const struct af_value *reason)
{
	struct act *a;
	char msg[128];
	int rc;

	if ((rc = engine_act_for_event(e, id, &a)) != AF_OK)
		return rc;
	if (a->cancel_asked)
		return AF_OK;
	arena_reset(e->tmp);
	if (reason == NULL) {
		snprintf(msg, sizeof(msg), "activation %llu was cancelled",
		    (unsigned long long)id);
		if ((reason = af_error(e->tmp, "Cancelled", msg)) == NULL)
			return AF_ENOMEM;
	}
	buf_reset(&e->settle_buf);
	if ((rc = value_encode(&e->settle_buf, reason)) != AF_OK)
		return rc;
	if ((rc = act_cancel(e, a, e->settle_buf.p, e->settle_buf.len)) !=
	    AF_OK)
		return rc;
	return cancel_children(e, id, a->cancel, a->cancel_n);
}

bool
engine_next_due(const struct engine *e, int64_t *due)
{
	struct timer t;
	bool any = false;
	int64_t p;

	if (timers_next(&e->timers, &t)) {
		*due = t.due;
		any = true;
	}
	if (e->o.prune_finished && e->prune_next_ms != INT64_MAX) {
		p = e->prune_next_ms > INT64_MAX - e->o.retention_ms ?
		    INT64_MAX :
		    e->prune_next_ms + e->o.retention_ms;
		if (!any || p < *due)
			*due = p;
		any = true;
	}
	return any;
}

int
engine_fire_due(struct engine *e)
{
	struct af_value due = { .type = AF_INT };
	int64_t now = engine_now_ms(e);
	struct timer t;
	int n = 0, rc;

	while ((rc = timers_take_due(&e->timers, now, &t)) == AF_OK) {
		due.u.i = t.due;
		rc = engine_settle_trusted(e, t.vow, false, &due);
		if (rc != AF_OK && rc != AF_ESETTLED && rc != AF_ENOTFOUND) {
			timers_untake(&e->timers, t);
			return rc;
		}
		n++;
	}
	return rc == AF_ENOTFOUND ? n : rc;
}

size_t
engine_timers_pending(const struct engine *e)
{
	return timers_pending(&e->timers);
}

bool
engine_start_refused(const struct engine *e)
{
	return e->start_refused;
}

const char *
engine_store_fault(const struct engine *e)
{
	return e->store_fault[0] != '\0' ? e->store_fault : NULL;
}

int
engine_writable(struct engine *e, char *why, size_t whylen)
{
	struct store_txn *t;
	int rc;

	if ((rc = store_begin(e->s, false, &t)) != AF_OK) {
		snprintf(why, whylen,
		    "store refuses a write transaction: %s (%s)",
		    af_strerror(rc), store_errmsg(e->s));
		return rc;
	}
	store_abort(t);
	if (e->st.last_commit_rc != AF_OK) {
		snprintf(why, whylen, "the last commit failed: %s",
		    af_strerror(e->st.last_commit_rc));
		return e->st.last_commit_rc;
	}
	if (e->store_fault[0] != '\0') {
		snprintf(why, whylen, "store fault: %s", e->store_fault);
		return AF_ESTORE;
	}
	snprintf(why, whylen, "ok");
	return AF_OK;
}

void
engine_set_commit_hook(struct engine *e, engine_commit_fn *fn, void *ctx)
{
	e->o.on_commit = fn;
	e->o.commit_ctx = ctx;
}

int
engine_alloc(struct store *s, struct af_registry *reg,
    const struct engine_opts *opts, struct engine **out)
{
	struct engine *e;

	if ((*out = e = calloc(1, sizeof(*e))) == NULL)
		return AF_ENOMEM;
	e->s = s;
	e->reg = reg;
	e->finishing = (struct meta_batch){ FINISHING_META, DB_FINISHED,
		FINISHED_KEY_LEN, FINISHING_MAX, &e->finishing_keys[0][0], 0,
		false };
	if (opts != NULL)
		e->o = *opts;
	if (e->o.stack_size == 0)
		e->o.stack_size = DEFAULT_STACK;
	if (e->o.max_idle_stacks == 0)
		e->o.max_idle_stacks = DEFAULT_IDLE;
	if (e->o.pass_max_entries == 0)
		e->o.pass_max_entries = DEFAULT_PASS_MAX;
	u64map_init(&e->acts);
	u64map_init(&e->watch);
	TAILQ_INIT(&e->touched);
	TAILQ_INIT(&e->lru);
	TAILQ_INIT(&e->old_lru);
	pass_writes_init(&e->w);
	timers_init(&e->timers);
	e->prune_next_ms = INT64_MAX;
	buf_init(&e->args_buf);
	buf_init(&e->settle_buf);
	buf_init(&e->row_buf);
	if ((e->pool = coro_pool_new(e->o.stack_size, e->o.max_idle_stacks)) ==
		NULL ||
	    (e->tmp = arena_new(0)) == NULL)
		return AF_ENOMEM;
	return AF_OK;
}

int
engine_open(struct store *s, struct af_registry *reg,
    const struct engine_opts *opts, struct engine **out, char *err,
    size_t errlen)
{
	struct engine *e;
	struct store_txn *t;
	int rc;

	*out = NULL;
	if ((rc = engine_alloc(s, reg, opts, &e)) != AF_OK) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((rc = hostobj_register(reg)) != AF_OK) {
		snprintf(err, errlen,
		    "registering built-in objects: %s "
		    "(vows, clock, random and timer are reserved names)",
		    af_strerror(rc));
		goto fail;
	}

	/* Format check and a new incarnation, durably, before anything. */
	if ((rc = store_begin(s, false, &t)) != AF_OK)
		goto store_fail;
	if ((rc = journal_format_check(t, err, errlen)) == AF_EVERSION) {
		store_abort(t);
		goto fail;
	}
	if (rc == AF_OK) {
		rc = meta_get_u64(t, "incarnation", &e->incarnation);
		if (rc == AF_ENOTFOUND)
			rc = AF_OK;
	}
	if (rc == AF_OK)
		rc = meta_put_u64(t, "incarnation", ++e->incarnation);
	if (rc == AF_OK)
		rc = children_index_open(t, e->incarnation);
	if (rc == AF_OK) {
		rc = meta_get_u64(t, "next_act", &e->next_act);
		if (rc == AF_ENOTFOUND)
			rc = AF_OK;
	}
	if (rc == AF_OK)
		rc = vowtab_new(s, t, engine_on_vow_settled, e, &e->vt);
	for (size_t q = 0; rc == AF_OK && q < e->o.nquarantine; q++)
		rc = acttab_quarantine(t, e->o.quarantine[q].act,
		    e->o.quarantine[q].why);
	if (rc != AF_OK) {
		store_abort(t);
		goto store_fail;
	}
	if ((rc = store_commit(t)) != AF_OK)
		goto store_fail;
	if ((rc = engine_scan_acts(e, true)) != AF_OK ||
	    (rc = timers_load(&e->timers, s)) != AF_OK ||
	    (rc = engine_prune_load(e)) != AF_OK)
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

void
engine_exiting(struct engine *e)
{
	coro_pool_exiting(e->pool);
}

void
engine_close(struct engine *e)
{
	size_t i = 0;
	uint64_t k;
	void *p;

	if (e == NULL)
		return;
	engine_finishing_close(e);
	engine_free_acts(e);
	/* A live switch's old registry not taken back yet: only the engine
	 * holds it (its modules are unloaded at exit). */
	registry_free(e->old_reg);
	act_slabs_free(e);
	i = 0;
	while (u64map_next(&e->watch, &i, &k, &p))
		free(p);
	u64map_release(&e->watch);
	u64map_release(&e->acts);
	vowtab_free(e->vt);
	coro_pool_free(e->pool);
	arena_free(e->tmp);
	buf_release(&e->check_rows);
	while (e->narena_pool > 0)
		arena_free(e->arena_pool[--e->narena_pool]);
	pass_writes_release(&e->w);
	timers_release(&e->timers);
	buf_release(&e->args_buf);
	buf_release(&e->settle_buf);
	buf_release(&e->row_buf);
	free(e->wakes.ev);
	free(e->settles.ev);
	free(e->gc);
	free(e->purges);
	free(e->resets);
	free(e->restarts);
	free(e);
}

int
engine_purge(struct engine *e, uint64_t act)
{
	struct act_row row;
	struct buf b;
	size_t i;
	int rc;

	if (e->needs_recover)
		return AF_ESTORE; /* see engine_pass */
	if (u64map_get(&e->acts, act) != NULL)
		return AF_EBUSY; /* in memory: not finished, or not committed */
	for (i = 0; i < e->npurges; i++)
		if (e->purges[i].act == act)
			return AF_OK;
	buf_init(&b);
	rc = acttab_read(e->s, act, &row, &b);
	if (rc == AF_OK && row.state != ACT_DONE)
		rc = AF_EBUSY;
	if (rc == AF_OK &&
	    (rc = engine_grow(e, (void **)&e->purges, &e->cappurges,
		 e->npurges + 1, sizeof(*e->purges))) == AF_OK) {
		e->purges[e->npurges++] = (struct purge){ act,
			row.last_progress_ms };
		e->dirty = true;
	}
	buf_release(&b);
	return rc;
}

int
engine_start_keyed(struct engine *e, const char *key, const char *flow,
    const struct af_value *args, uint64_t *act, uint64_t *outcome,
    bool *existing)
{
	struct af_value null = { .type = AF_NULL };
	uint64_t old_act, old_outcome;
	struct buf old, want;
	int rc;

	*existing = false;
	if (key == NULL || *key == '\0')
		return engine_start(e, flow, args, act, outcome);
	if (flow == NULL || strlen(key) > IDEM_KEY_MAX)
		return AF_EINVAL;
	if (args == NULL)
		args = &null;
	/* The request as recorded with the key: flow NUL args. */
	buf_init(&want);
	buf_put(&want, flow, strlen(flow) + 1);
	if ((rc = value_encode(&want, args)) != AF_OK || want.err) {
		buf_release(&want);
		return rc ? rc : want.err;
	}
	buf_init(&old);
	rc = idem_lookup(&e->w.idem, e->s, key, &old_act, &old_outcome, &old);
	if (rc == AF_EDECODE)
		log_error("idempotency key %s: its record does not decode; "
			  "starts with this key are refused (EEXIST)",
		    key);
	if (rc == AF_OK || rc == AF_EDECODE) {
		if (rc != AF_OK || old.len != want.len ||
		    memcmp(old.p, want.p, want.len) != 0)
			rc = AF_EEXIST;
		else {
			*act = old_act;
			*outcome = old_outcome;
			*existing = true;
		}
		buf_release(&old);
		buf_release(&want);
		return rc;
	}
	buf_release(&old);
	if (rc == AF_ENOTFOUND &&
	    (rc = engine_start(e, flow, args, act, outcome)) == AF_OK) {
		/* On failure the activation runs, unkeyed. */
		rc = idem_add(&e->w.idem, key, *act, *outcome, want.p,
		    want.len);
		e->dirty = true;
	}
	buf_release(&want);
	return rc;
}
