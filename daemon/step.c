/*
 * step.c: tasks (the coroutines of an activation), the scheduler and the
 * step rule (DESIGN.md §4): one event, then every coroutine of that
 * activation runs until all wait again. Loading an activation replays its
 * journal here; past its end the activation goes live and settlements of
 * the vows it holds are journaled and delivered. Not here: what a guest
 * call does (membrane.c), writing anything to the store (commit.c).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "value.h"

static void act_finish(struct engine *, struct act *, struct task *);

volatile uint64_t engine_running_act;
volatile uint64_t engine_turn_seq;
volatile uint64_t *volatile engine_replay_read;

static int
evq_push(struct evq *q, struct event ev)
{
	if (q->len == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 256, i;
		struct event *n = malloc(ncap * sizeof(*n));

		if (n == NULL)
			return AF_ENOMEM;
		for (i = 0; i < q->len; i++)
			n[i] = q->ev[(q->head + i) % q->cap];
		free(q->ev);
		q->ev = n;
		q->cap = ncap;
		q->head = 0;
	}
	q->ev[(q->head + q->len) % q->cap] = ev;
	q->len++;
	return AF_OK;
}

static bool
evq_pop(struct evq *q, struct event *out)
{
	if (q->len == 0)
		return false;
	*out = q->ev[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return true;
}

int
engine_push_event(struct engine *e, enum ev_kind k, uint64_t act, uint64_t vow)
{
	assert(act != 0);
	assert((k != EV_SETTLED && k != EV_CALL) || vow != 0);
	if (engine_alloc_fault(e))
		return AF_ENOMEM;
	return evq_push(k == EV_WAKE ? &e->wakes : &e->settles,
	    (struct event){ k, act, vow });
}

/* all and all_settled: whether wv[wdone..) have settled too (fulfilled,
 * for all), advancing the cursor, so that a wait on n vows costs O(n) in
 * all, not O(n) per settlement. */
static bool
rest_settled(struct task *t, bool fulfilled)
{
	const struct holding *s;

	while (t->wdone < t->wn &&
	    (s = u64map_get(&t->a->holdings, t->wv[t->wdone]->u.id)) != NULL &&
	    s->settled && !(fulfilled && s->rejected))
		t->wdone++;
	return t->wdone == t->wn;
}

/* af_all_settled: done when every vow has settled; the result is one
 * record per vow, in the order given (flow.h). */
static bool
all_settled_done(struct task *t)
{
	struct act *a = t->a;
	const struct holding *s;
	const struct af_value **items, *vals[2];
	const char *keys[2];
	size_t i;

	if (!rest_settled(t, false))
		return false;
	t->wrc = AF_ENOMEM;
	t->wout = NULL;
	items = af_arena_alloc(a->arena, (t->wn ? t->wn : 1) * sizeof(*items));
	if (items == NULL)
		return true;
	for (i = 0; i < t->wn; i++) {
		s = u64map_get(&a->holdings, t->wv[i]->u.id);
		keys[0] = "status";
		vals[0] = af_string(a->arena,
		    s->rejected ? "rejected" : "fulfilled");
		keys[1] = s->rejected ? "reason" : "value";
		vals[1] = s->value;
		if (vals[0] == NULL ||
		    (items[i] = af_record(a->arena, keys, vals, 2)) == NULL)
			return true;
	}
	if ((t->wout = af_list_of(a->arena, items, t->wn)) != NULL)
		t->wrc = AF_OK;
	return true;
}

/* all: every one fulfilled; the list of their values. */
static bool
all_done(struct task *t)
{
	struct act *a = t->a;
	const struct af_value **items;
	const struct holding *s;
	size_t i;

	if (!rest_settled(t, true))
		return false;
	items = af_arena_alloc(a->arena, (t->wn ? t->wn : 1) * sizeof(*items));
	if (items == NULL)
		return false;
	for (i = 0; i < t->wn; i++) {
		s = u64map_get(&a->holdings, t->wv[i]->u.id);
		items[i] = s->value;
	}
	t->wout = af_list_of(a->arena, items, t->wn);
	t->wrc = t->wout ? AF_OK : AF_ENOMEM;
	return true;
}

/* Whether t's wait is satisfied now; if so fill its result. `just`: the
 * vow whose settlement was just applied (0: look at every one). */
static bool
wait_done(struct task *t, uint64_t just)
{
	struct act *a = t->a;
	const struct holding *s, *best = NULL;
	size_t i, bi = 0;

	if (t->wait == W_ALL_SETTLED)
		return all_settled_done(t);
	if (t->wait == W_ALL && just != 0) {
		/* An earlier rejection would have ended the wait already: only
		 * this settlement can be the first. */
		s = u64map_get(&a->holdings, just);
		if (s != NULL && s->settled && s->rejected) {
			for (i = 0; i < t->wn && t->wv[i]->u.id != just; i++)
				;
			if (i == t->wn)
				return false;
			t->wrc = AF_REJECTED;
			t->wout = s->value;
			t->windex = i;
			return true;
		}
		return all_done(t);
	}
	for (i = 0; i < t->wn; i++) {
		s = u64map_get(&a->holdings, t->wv[i]->u.id);
		if (s == NULL || !s->settled)
			continue;
		if (t->wait == W_ALL && !s->rejected)
			continue;
		if (best == NULL || s->seq < best->seq) {
			best = s;
			bi = i;
		}
	}
	if (best != NULL) {
		t->wrc = best->rejected ? AF_REJECTED : AF_OK;
		t->wout = best->value;
		t->windex = bi;
		return true;
	}
	return t->wait == W_ALL && all_done(t);
}

static void
make_ready(struct act *a, struct task *t)
{
	if (!t->queued) {
		t->queued = true;
		TAILQ_INSERT_TAIL(&a->runq, t, run);
	}
}

/* The settlement of `vow` was applied: every task whose wait is now
 * satisfied runs, in task creation order. */
static void
wake_tasks(struct act *a, uint64_t vow)
{
	struct task *t;

	TAILQ_FOREACH(t, &a->tasks, all) {
		if (t->wait != W_NONE && wait_done(t, vow)) {
			t->wait = W_NONE;
			make_ready(a, t);
		}
	}
}

/* The cancel request was applied (doCancel, live or replayed): every
 * coroutine waiting now gets AF_CANCELLED with the reason, in task
 * creation order; later waits are ordinary. */
static void
cancel_tasks(struct act *a, const struct af_value *reason)
{
	struct task *t;

	a->cancel_seen = true;
	TAILQ_FOREACH(t, &a->tasks, all) {
		if (t->wait == W_NONE)
			continue;
		t->wait = W_NONE;
		t->wrc = AF_CANCELLED;
		t->wout = reason;
		t->windex = 0;
		make_ready(a, t);
	}
}

/* Suspend the current task until its wait is satisfied. */
int
task_wait(struct task *t, enum wait_kind k, const struct af_value *const *vv,
    size_t n, const struct af_value **out, size_t *index)
{
	t->wait = k;
	t->wv = vv;
	t->wn = n;
	t->wdone = 0;
	if (wait_done(t, 0))
		t->wait = W_NONE;
	else
		coro_yield();
	if (out != NULL)
		*out = t->wout;
	if (index != NULL)
		*index = t->windex;
	return t->wrc;
}

static void
task_entry(void *arg)
{
	struct task *t = arg;

	if (t->is_main)
		t->rc = t->a->fd->fn(&t->a->handle, t->a->args_val, &t->result);
	else if (t->xp != NULL)
		export_task_run(t);
	else
		t->fn(&t->a->handle, t->arg);
}

struct task *
act_task_new(struct engine *e, struct act *a, bool is_main, af_task_fn *fn,
    void *arg)
{
	struct task *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->a = a;
	t->is_main = is_main;
	if (is_main)
		a->ntasks_made = 0;
	t->seq = a->ntasks_made++;
	t->fn = fn;
	t->arg = arg;
	if (!act_memory_check(e, a, e->o.stack_size)) {
		free(t);
		return NULL;
	}
	if ((t->co = coro_new(e->pool, task_entry, t)) == NULL) {
		free(t);
		return NULL;
	}
	a->ntasks++;
	coro_set_data(t->co, t);
	TAILQ_INSERT_TAIL(&a->tasks, t, all);
	make_ready(a, t);
	return t;
}

void
act_task_free(struct act *a, struct task *t)
{
	TAILQ_REMOVE(&a->tasks, t, all);
	if (t->queued)
		TAILQ_REMOVE(&a->runq, t, run);
	coro_free(t->co);
	a->ntasks--;
	free(t);
}

/* Run the activation's ready coroutines FIFO until every one waits. The
 * crash recorder's "running activation" covers the whole of it, the work
 * after a coroutine returned (act_finish) included, so a crash there too
 * is recorded against this activation (DESIGN.md §7). */
static void step_run_tasks(struct engine *, struct act *);

void
step_run(struct engine *e, struct act *a)
{
	uint64_t prev = engine_running_act;

	engine_running_act = a->id;
	act_memory_settle(e, a);
	step_run_tasks(e, a);
	act_memory_settle(e, a);
	engine_running_act = prev;
}

static void
step_run_tasks(struct engine *e, struct act *a)
{
	struct task *t;
	bool alive;

	while ((a->live_state == ES_RUNNING || a->live_state == ES_REPLAYING) &&
	    (t = TAILQ_FIRST(&a->runq)) != NULL) {
		TAILQ_REMOVE(&a->runq, t, run);
		t->queued = false;
		assert(!store_txn_open(e->s));
		__atomic_add_fetch(&engine_turn_seq, 1, __ATOMIC_RELAXED);
		alive = coro_resume(t->co);
		__atomic_add_fetch(&engine_turn_seq, 1, __ATOMIC_RELAXED);
		assert(!store_txn_open(e->s));
		if (a->live_state == ES_FAILED) {
			act_unload(e, a);
			return;
		}
		if (a->can_pending) {
			act_continue_as_new(e, a);
			return;
		}
		if (alive)
			continue;
		if (t->is_main) {
			act_finish(e, a, t);
			return;
		}
		act_task_free(a, t);
	}
}

/* The main function returned: settle the outcome, or fail. */
static void
act_finish(struct engine *e, struct act *a, struct task *t)
{
	const struct af_value *res = t->result;
	char why[160];
	uint64_t follow = 0, k;
	size_t i = 0;
	void *p;
	int rc;

	assert(t->is_main && t == a->main);
	if (a->live_state == ES_REPLAYING) {
		if (a->pos < a->log.n) {
			struct jentry je;
			struct buf b;

			buf_init(&b);
			if (act_peek_entry(a, &je) == AF_OK)
				journal_entry_text(&b, &je);
			buf_putc(&b, '\0');
			e->check_returned = true;
			act_failf(e, a,
			    "replay diverged at journal index %zu: "
			    "expected %s; the flow returned instead",
			    a->pos, b.p ? (char *)b.p : "?");
			buf_release(&b);
			act_unload(e, a);
			return;
		}
		act_go_live(e, a);
		if (a->live_state != ES_RUNNING)
			return; /* check mode: it passed (engine_check.c) */
	}
	/* A cancelled wait's code passed on (`return af_await(...)`) rejects
	 * the outcome with the reason, as flow.h says. */
	if (t->rc == AF_CANCELLED)
		t->rc = AF_REJECTED;
	if ((t->rc != AF_OK && t->rc != AF_REJECTED) || res == NULL) {
		act_failf(e, a, "flow returned a malformed value (code %d, %s)",
		    t->rc, res ? "value" : "no value");
		act_unload(e, a);
		return;
	}
	/* Guest memory: nothing else walks it before this bounded,
	 * fault-guarded check passed. */
	if (value_check(res, why, sizeof(why)) != AF_OK) {
		act_failf(e, a, "flow returned a malformed value: %s", why);
		act_unload(e, a);
		return;
	}
	if (!act_holds_resolvers(a, res)) {
		act_failf(e, a, "flow returned a resolver it does not hold");
		act_unload(e, a);
		return;
	}
	buf_reset(&e->settle_buf);
	if ((rc = value_encode(&e->settle_buf, res)) != AF_OK) {
		act_failf(e, a, "flow returned a malformed value: %s",
		    af_strerror(rc));
		act_unload(e, a);
		return;
	}
	if (t->rc == AF_OK && res->type == AF_VOW)
		follow = res->u.id;
	rc = vowtab_settle(e->vt, a->outcome, NULL, t->rc == AF_REJECTED,
	    e->settle_buf.p, e->settle_buf.len, follow);
	if (rc != AF_OK) {
		act_failf(e, a, "settling the outcome failed: %s%s",
		    af_strerror(rc),
		    rc == AF_ECYCLE ?
			" (the flow returned a vow that follows its own outcome)" :
			"");
		act_unload(e, a);
		return;
	}
	/* Calls it will never answer: pending ones, handlers still
	 * waiting. */
	if (a->ncalls > 0 || a->nexports > 0) {
		char msg[128];
		const struct af_value *err;

		snprintf(msg, sizeof(msg),
		    "activation %llu has finished: the call is not answered",
		    (unsigned long long)a->id);
		arena_reset(e->tmp);
		if ((err = af_error(e->tmp, "Finished", msg)) == NULL)
			engine_note_lost(e, AF_ENOMEM);
		else
			act_calls_abandon(e, a, err);
	}
	/* Done: it no longer holds anything. */
	while (u64map_next(&a->holdings, &i, &k, &p)) {
		struct holding *s = p;

		if (s->row && !s->settled &&
		    vowtab_unwatch(e->vt, s->vow, WATCH_ACT, a->id) != AF_OK)
			engine_note_lost(e, AF_ENOMEM);
	}
	a->live_state = ES_DONE;
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
	act_unload(e, a);
}

/* Replay is over: from here on the activation acts live. Vows it holds
 * that settled meanwhile are delivered in settlement (commit) order. */
static int
cmp_seq(const void *x, const void *y)
{
	const uint64_t *a = x, *b = y;

	return a[0] < b[0] ? -1 : a[0] > b[0];
}

void
act_go_live(struct engine *e, struct act *a)
{
	uint64_t k, *fin = NULL;
	size_t i = 0, n = 0, cap = 0;
	void *p;
	struct vow *v;
	int rc;

	assert(a->live_state == ES_REPLAYING);
	assert(a->pos == a->log.n); /* the whole journal was replayed */
	if (e->check) {
		engine_check_passed(e, a);
		return;
	}
	a->live_state = ES_RUNNING;
	e->st.entries_replayed += a->pos;
	jlog_release(&a->log);
	a->pos = 0;
	while (u64map_next(&a->holdings, &i, &k, &p)) {
		struct holding *s = p;

		if (s->settled)
			continue;
		/* Its watcher row was written when it entered, live; delete
		 * it when the settlement is journaled, even if that settled
		 * while the activation was not in memory. */
		s->row = true;
		if ((rc = vowtab_get(e->vt, s->vow, &v)) != AF_OK) {
			act_vow_unreadable(e, a, s->vow, rc);
			continue;
		}
		if (v->state == VOW_FULFILLED || v->state == VOW_REJECTED) {
			if (engine_grow(e, (void **)&fin, &cap, n + 1,
				2 * sizeof(uint64_t)) != AF_OK) {
				engine_note_lost(e, AF_ENOMEM);
				break;
			}
			fin[2 * n] = v->settled_seq;
			fin[2 * n + 1] = s->vow;
			n++;
			continue;
		}
		engine_watch_add(e, s->vow, a->id);
	}
	if (n > 1)
		qsort(fin, n, 2 * sizeof(uint64_t), cmp_seq);
	for (i = 0; i < n; i++)
		if (engine_push_event(e, EV_SETTLED, a->id, fin[2 * i + 1]) !=
		    AF_OK)
			engine_note_lost(e, AF_ENOMEM);
	free(fin);
}

/* Load and run an activation from the top: replay its journal, then on
 * live (DESIGN.md §4's step rule, driven by the journal). */
/* ---- The per-activation memory bound (max_act_memory) ---- */

static void
act_fail_memory(struct engine *e, struct act *a)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
	    "exceeded its memory bound (%zu MiB of arena and coroutine "
	    "stacks, --max-activation-memory)",
	    e->o.max_act_memory >> 20);
	if (coro_self() != NULL)
		act_fail_from_guest(e, a, msg);
	act_fail(e, a, msg);
}

bool
act_memory_check(struct engine *e, struct act *a, size_t more)
{
	size_t used, max = e->o.max_act_memory;

	if (max == 0)
		return true;
	used = (a->arena ? arena_held(a->arena) : 0) +
	    (size_t)a->ntasks * e->o.stack_size;
	if (used <= max && more <= max - used)
		return true;
	a->over_memory = true;
	/* On one of its coroutines: Failed, never resumed. Else the caller
	 * is the engine, in the middle of something: Failed after it. */
	if (coro_self() != NULL && engine_running_act == a->id)
		act_fail_memory(e, a);
	return false;
}

/* The arena's limit was reached: a guest allocation fails the act now;
 * the engine's own (a settlement decoded for it) proceeds, flagged. */
static bool
act_arena_over(void *ctx)
{
	struct act *a = ctx;

	a->over_memory = true;
	if (coro_self() != NULL && engine_running_act == a->id)
		act_fail_memory(a->e, a);
	return true;
}

void
act_memory_settle(struct engine *e, struct act *a)
{
	if (!a->over_memory || a->live_state == ES_FAILED ||
	    a->live_state == ES_DONE)
		return;
	a->over_memory = false;
	act_fail_memory(e, a);
	act_unload(e, a);
}

void
act_load_and_replay(struct engine *e, struct act *a)
{
	struct jentry je;
	struct holding *s;
	struct buf b;
	int rc;

	if (a->live_state != ES_SLEEPING)
		return;
	if (a->row_state == ACT_FAILED) {
		a->row_state = ACT_ACTIVE;
		a->quarantined = false;
		act_set_failure(a, NULL);
		a->row_dirty = true;
		act_mark_dirty(e, a);
	}
	a->fd = registry_flow(e->reg, a->flow, strlen(a->flow));
	if (a->fd == NULL) {
		act_failf(e, a, "flow %s not registered", a->flow);
		return;
	}
	if ((a->arena = act_arena_take(e)) == NULL) {
		act_failf(e, a, "out of memory");
		return;
	}
	a->over_memory = false;
	if (e->o.max_act_memory != 0)
		arena_set_limit(a->arena, e->o.max_act_memory, act_arena_over,
		    a);
	a->loaded = true;
	rc = value_decode(a->arena, a->args, a->args_n, &a->args_val);
	if (rc != AF_OK) {
		act_failf(e, a, "arguments undecodable: %s", af_strerror(rc));
		return;
	}
	rc = journal_load(e->s, a->id, a->jlen_committed, &a->log);
	if (rc != AF_OK) {
		act_failf(e, a, "journal unreadable: %s (%s)", af_strerror(rc),
		    store_errmsg(e->s));
		return;
	}
	a->pos = 0;
	a->live_state = a->log.n > 0 ? ES_REPLAYING : ES_RUNNING;
	act_enter_value(e, a, a->args_val, a->live_state == ES_RUNNING);
	if ((a->main = act_task_new(e, a, true, NULL, NULL)) == NULL) {
		if (a->over_memory)
			act_memory_settle(e, a);
		else
			act_failf(e, a, "out of memory (coroutine)");
		return;
	}
	step_run(e, a);
	while (a->live_state == ES_REPLAYING) {
		if (a->pos == a->log.n) {
			act_go_live(e, a);
			break;
		}
		if (act_peek_entry(a, &je) != AF_OK) {
			act_failf(e, a, "journal entry %zu undecodable",
			    a->pos);
			return;
		}
		if (je.kind == J_DO_CALL) {
			if (act_replay_call(e, a, &je) != AF_OK)
				return;
			step_run(e, a);
			continue;
		}
		if (je.kind == J_DO_CANCEL) {
			const struct af_value *reason;

			if (a->cancel_seen) {
				act_failf(e, a,
				    "replay diverged at journal index %zu: "
				    "a second doCancel",
				    a->pos);
				return;
			}
			if (value_decode(a->arena, je.value.ptr, je.value.len,
				&reason) != AF_OK) {
				act_failf(e, a,
				    "journal entry %zu: value undecodable",
				    a->pos);
				return;
			}
			a->pos++;
			act_enter_value(e, a, reason, false);
			cancel_tasks(a, reason);
			step_run(e, a);
			continue;
		}
		if (je.kind != J_DO_FULFILL && je.kind != J_DO_REJECT) {
			buf_init(&b);
			journal_entry_text(&b, &je);
			buf_putc(&b, '\0');
			act_failf(e, a,
			    "replay diverged at journal index %zu: "
			    "expected %s; every coroutine of the flow is "
			    "waiting instead",
			    a->pos, b.p ? (char *)b.p : "?");
			buf_release(&b);
			return;
		}
		s = u64map_get(&a->holdings, je.vow);
		if (s == NULL || s->settled) {
			act_failf(e, a,
			    "replay diverged at journal index %zu: "
			    "settlement of vow %llu, which the flow %s",
			    a->pos, (unsigned long long)je.vow,
			    s ? "has seen settled already" : "does not hold");
			return;
		}
		rc = value_decode(a->arena, je.value.ptr, je.value.len,
		    &s->value);
		if (rc != AF_OK) {
			act_failf(e, a, "journal entry %zu: value undecodable",
			    a->pos);
			return;
		}
		s->settled = true;
		s->rejected = je.kind == J_DO_REJECT;
		s->seq = a->pos++;
		act_enter_value(e, a, s->value, false);
		wake_tasks(a, je.vow);
		step_run(e, a);
	}
	/* Calls and a cancel that arrived while it was not live (Sleeping,
	 * Failed) and are not in its journal yet: after what settled
	 * meanwhile, calls in arrival order. */
	if (a->live_state == ES_RUNNING)
		act_queue_calls(e, a);
	if (a->live_state == ES_RUNNING && a->cancel_asked && !a->cancel_seen &&
	    engine_push_event(e, EV_CANCEL, a->id, 0) != AF_OK)
		engine_note_lost(e, AF_ENOMEM);
}

/* Live: a held vow settled; journal it and run whoever waits. */
static void
act_deliver(struct engine *e, struct act *a, uint64_t vowid)
{
	struct holding *s;
	struct vow *v;
	struct jentry je;
	int rc;

	if (a->live_state != ES_RUNNING)
		return;
	s = u64map_get(&a->holdings, vowid);
	if (s == NULL || s->settled)
		return;
	if (vowtab_get(e->vt, vowid, &v) != AF_OK ||
	    (v->state != VOW_FULFILLED && v->state != VOW_REJECTED))
		return;
	memset(&je, 0, sizeof(je));
	je.kind = v->state == VOW_REJECTED ? J_DO_REJECT : J_DO_FULFILL;
	je.vow = vowid;
	je.value = (struct af_str){ v->value ? (const char *)v->value : "",
		v->value_n };
	s->seq = a->jlen;
	act_journal_append(e, a, &je);
	rc = value_decode(a->arena, v->value, v->value_n, &s->value);
	if (rc != AF_OK) {
		act_failf(e, a, "vow %llu holds an undecodable value",
		    (unsigned long long)vowid);
		return;
	}
	s->settled = true;
	s->rejected = je.kind == J_DO_REJECT;
	if (s->row) {
		if (vowtab_unwatch(e->vt, vowid, WATCH_ACT, a->id) != AF_OK)
			engine_note_lost(e, AF_ENOMEM);
		s->row = false;
	}
	act_enter_value(e, a, s->value, true);
	wake_tasks(a, vowid);
	step_run(e, a);
}

/* Live: the cancel request is journaled (doCancel) and delivered to
 * whoever waits. Not live (Sleeping, Failed): act_go_live queues it again
 * once the journal is replayed. */
static void
act_deliver_cancel(struct engine *e, struct act *a)
{
	const struct af_value *reason;
	struct jentry je;

	if (a->live_state != ES_RUNNING || !a->cancel_asked || a->cancel_seen)
		return;
	if (value_decode(a->arena, a->cancel, a->cancel_n, &reason) != AF_OK) {
		act_failf(e, a, "the cancel reason does not decode");
		act_unload(e, a);
		return;
	}
	memset(&je, 0, sizeof(je));
	je.kind = J_DO_CANCEL;
	je.value = (struct af_str){ a->cancel_n ? (const char *)a->cancel : "",
		a->cancel_n };
	act_journal_append(e, a, &je);
	act_enter_value(e, a, reason, true);
	cancel_tasks(a, reason);
	step_run(e, a);
}

int
act_cancel(struct engine *e, struct act *a, const void *reason, size_t n)
{
	uint8_t *copy;

	assert(a->live_state != ES_DONE);
	if (a->cancel_asked)
		return AF_OK; /* idempotent: the first reason stands */
	if ((copy = malloc(n ? n : 1)) == NULL)
		return AF_ENOMEM;
	if (n > 0)
		memcpy(copy, reason, n);
	a->cancel = copy;
	a->cancel_n = n;
	a->cancel_asked = true;
	a->row_dirty = true;
	act_mark_dirty(e, a);
	if (a->live_state == ES_RUNNING &&
	    engine_push_event(e, EV_CANCEL, a->id, 0) != AF_OK) {
		/* Recorded but not queued: the pass must not commit it. */
		engine_note_lost(e, AF_ENOMEM);
		return AF_ENOMEM;
	}
	return AF_OK;
}

void
step_take_events(struct engine *e)
{
	size_t budget = e->o.pass_max_entries;
	struct event ev;
	struct act *a;

	/* Starts and wakes always run (a start's reply, sent after this
	 * pass commits, finds its first turn done); the budget bounds
	 * settlements. The order between activations does not matter to any
	 * journal: each activation's events keep their own order. */
	size_t nsettles = 0;

	evict_holds_step(e);
	for (;;) {
		/* Settlements get a share of every pass, however many starts
		 * came in: at least SETTLES_PER_PASS of them. */
		if (!evq_pop(&e->wakes, &ev) &&
		    ((e->w.njournal >= budget &&
			 nsettles >= SETTLES_PER_PASS) ||
			!evq_pop(&e->settles, &ev))) {
			/* Settlements for evicted activations, before the
			 * commit forgets what settled (evict.c). */
			if (evict_lookup_settled(e))
				continue;
			break;
		}
		if (ev.kind != EV_WAKE)
			nsettles++;
		e->st.events++;
		/* A settlement, a call or a cancel for an evicted activation
		 * replays it (the call and the cancel are in its row too, so
		 * delivering them twice is harmless). */
		if ((a = u64map_get(&e->acts, ev.act)) == NULL &&
		    (ev.kind == EV_WAKE ||
			(a = evict_load_on_demand(e, ev.act)) == NULL))
			continue;
		evict_touch(e, a);
		if (ev.kind == EV_WAKE) {
			act_load_and_replay(e, a);
			if (a->replay)
				engine_replay_done(e, a);
		} else if (ev.kind == EV_CANCEL)
			act_deliver_cancel(e, a);
		else if (ev.kind == EV_CALL)
			act_deliver_call(e, a, ev.vow);
		else
			act_deliver(e, a, ev.vow);
	}
	engine_replay_pass_end(e);
}
