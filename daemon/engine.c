/*
 * engine.c: activations, scheduler, membrane and replay (see engine.h).
 *
 * Shape of the code, top to bottom:
 *   - data: struct act (one activation in memory), struct task (one
 *     coroutine of it), struct seen (a vow that entered it), events;
 *   - the journal write set (jappend) and the replay cursor (jpeek);
 *   - entering values (vows and resolvers a flow now holds);
 *   - the scheduler (run_step) and the step rule driver (activate);
 *   - the guest API (af_await, af_call, ...) and host-object API;
 *   - commit and recovery; open/close; inspection.
 *
 * Invariants:
 *   - Guest code runs only inside run_step, on a task's coroutine. No store
 *     transaction is open then; reads the membrane needs take short read
 *     transactions that end before control returns to guest code.
 *   - While Replaying, nothing is written: every guest action is compared
 *     with the journal and answered from it. The first action past the end
 *     of the journal switches the activation to Running (go_live).
 *   - Failure (fail_act) tears down the activation's coroutines, arena and
 *     in-memory state; the coroutine that detected it is abandoned, never
 *     resumed.
 */
#include <sys/queue.h>

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

#include "arena.h"
#include "coro.h"
#include "engine.h"
#include "journal.h"
#include "log.h"
#include "registry.h"
#include "tables.h"
#include "u64map.h"
#include "value.h"
#include "vows.h"

#define DEFAULT_STACK       (256u << 10)
#define DEFAULT_IDLE        64
#define DEFAULT_PASS_MAX    16384
#define GC_PER_COMMIT       8192
#define JOURNAL_GC_INLINE   1024
#define SETTLES_PER_PASS    256

/* ---- Data ------------------------------------------------------------------- */

struct seen {
	uint64_t vow;
	uint64_t seq;               /* journal index of the settlement */
	const struct af_value *value;
	bool settled;
	bool rejected;
	bool row;                   /* a durable watcher row exists */
};

enum wait_kind { W_NONE, W_ONE, W_ALL, W_RACE };

struct act;

struct task {
	struct act *a;
	struct coro *co;
	af_task_fn *fn;             /* spawned tasks */
	void *arg;
	bool is_main;
	bool queued;
	TAILQ_ENTRY(task) all;
	TAILQ_ENTRY(task) run;
	enum wait_kind wait;
	const struct af_value *one;
	const struct af_value *const *wv;
	size_t wn;
	int wrc;
	const struct af_value *wout;
	size_t windex;
	int rc;                     /* main: the flow function's return */
	const struct af_value *result;
};
TAILQ_HEAD(taskq, task);

struct af_flow {
	struct act *a;
};

struct act {
	uint64_t id;
	struct engine *e;
	enum engine_state ms;
	/* The row. */
	char *flow;
	uint8_t *args;
	size_t args_n;
	uint64_t outcome;
	uint64_t jlen;              /* committed + this pass */
	uint64_t jlen_committed;
	uint64_t incarnation;
	char *failure;
	enum act_state pstate;
	bool quarantined;
	bool row_dirty;
	bool touched;
	TAILQ_ENTRY(act) tlink;
	/* Loaded state (between activate and unload). */
	bool loaded;
	const struct flow_def *fd;
	struct af_arena *arena;
	const struct af_value *args_val;
	struct taskq tasks;
	struct taskq runq;
	struct task *main;
	struct jlog log;
	size_t pos;
	struct u64map seen;
	struct u64map resolvers;
	struct af_flow handle;
};
TAILQ_HEAD(actq, act);

enum ev_kind { EV_WAKE, EV_SETTLED };

struct event {
	enum ev_kind kind;
	uint64_t act;
	uint64_t vow;
};

/* A FIFO ring of events. */
struct evq {
	struct event *ev;
	size_t head, len, cap;
};

struct jop {
	uint64_t act;
	uint64_t idx;
	size_t off;
	size_t len;
};

struct gc {
	uint64_t act;
	uint64_t from;
	uint64_t to;
};

struct idlist {
	size_t n, cap;
	uint64_t ids[];
};

struct blob {
	uint64_t id;
	size_t off;
	size_t len;
};

struct timer {
	int64_t due;
	uint64_t vow;
};

struct idem {
	char *key;
	uint8_t *val;               /* act ‖ outcome ‖ flow NUL ‖ args */
	size_t n;
};

struct af_host {
	struct engine *e;
	struct act *a;
};

struct engine {
	struct store *s;
	struct af_registry *reg;
	struct engine_opts o;
	struct coro_pool *pool;
	struct vowtab *vt;
	uint64_t incarnation;
	uint64_t next_act;
	bool next_act_dirty;
	bool dirty;
	struct u64map acts;         /* id -> struct act (in memory) */
	struct u64map watch;        /* vow id -> struct idlist (acts) */
	struct evq wakes;           /* starts and replays: every pass runs them
				     * all, so a start is done when committed */
	struct evq settles;         /* settlements: bounded per pass */
	bool needs_recover;         /* a recovery failed: retry first */
	struct actq touched;
	struct buf jbuf;
	struct jop *jops;
	size_t njops, capjops;
	struct gc *gcs;
	size_t ngcs, capgcs;
	uint64_t *settled;
	size_t nsettled, capsettled;
	struct buf scratch;         /* args of the current call */
	struct buf scratch2;        /* values being settled */
	struct af_arena *tmp;       /* short-lived decodes */
	struct idem *idems;         /* keys of this pass */
	size_t nidems, capidems;
	struct buf obuf;            /* outbox rows of this pass */
	struct blob *oputs;
	size_t noputs, capoputs;
	uint64_t *odels;            /* answered invocations */
	size_t nodels, capodels;
	uint64_t *newinv;           /* invocations to deliver after commit */
	size_t nnewinv, capnewinv;
	struct timer *heap;         /* every pending timer, min-heap by due */
	size_t nheap, capheap;
	struct timer *tputs, *tdels;    /* timer rows of this pass */
	size_t ntputs, captputs, ntdels, captdels;
	struct engine_stats st;
};

volatile uint64_t engine_guest_act;

static int64_t now_ms(struct engine *);
static int load_timers(struct engine *);

static void run_step(struct engine *, struct act *);
static bool resolvers_held(struct act *, const struct af_value *);
static void go_live(struct engine *, struct act *);
static void unload_act(struct engine *, struct act *);

/* ---- Small helpers ---------------------------------------------------------- */

static int
grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return AF_OK;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, ncap * elem)) == NULL)
		return AF_ENOMEM;
	*p = np;
	*cap = ncap;
	return AF_OK;
}

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

static int
push_event(struct engine *e, enum ev_kind k, uint64_t act, uint64_t vow)
{
	return evq_push(k == EV_WAKE ? &e->wakes : &e->settles,
	    (struct event){ k, act, vow });
}

static void
touch(struct engine *e, struct act *a)
{
	if (!a->touched) {
		a->touched = true;
		TAILQ_INSERT_TAIL(&e->touched, a, tlink);
	}
	e->dirty = true;
}

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

static void
set_failure(struct act *a, const char *msg)
{
	if (msg != NULL && msg == a->failure)
		return;
	free(a->failure);
	a->failure = msg ? strdup(msg) : NULL;
}

/* ---- Activations in memory -------------------------------------------------- */

static struct act *
act_new(struct engine *e, uint64_t id)
{
	struct act *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->id = id;
	a->e = e;
	a->ms = ES_SLEEPING;
	a->handle.a = a;
	TAILQ_INIT(&a->tasks);
	TAILQ_INIT(&a->runq);
	u64map_init(&a->seen);
	u64map_init(&a->resolvers);
	if (u64map_put(&e->acts, id, a) != AF_OK) {
		free(a);
		return NULL;
	}
	e->st.acts_loaded++;
	return a;
}

static void
act_free(struct engine *e, struct act *a)
{
	unload_act(e, a);
	if (a->touched)
		TAILQ_REMOVE(&e->touched, a, tlink);
	u64map_del(&e->acts, a->id);
	u64map_release(&a->seen);
	u64map_release(&a->resolvers);
	free(a->flow);
	free(a->args);
	free(a->failure);
	free(a);
}

/* Fill an in-memory activation from its row. */
static int
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
	a->pstate = r->state;
	a->quarantined = r->quarantined;
	if (r->failure.len)
		a->failure = xstrndup(r->failure.ptr, r->failure.len);
	return AF_OK;
}

static void
task_free(struct act *a, struct task *t)
{
	TAILQ_REMOVE(&a->tasks, t, all);
	if (t->queued)
		TAILQ_REMOVE(&a->runq, t, run);
	coro_free(t->co);
	free(t);
}

/* The activation no longer waits on its pending vows in memory. */
static void
unwatch_mem(struct engine *e, struct act *a)
{
	struct idlist *l;
	size_t i = 0, j;
	uint64_t k;
	void *p;

	while (u64map_next(&a->seen, &i, &k, &p)) {
		if (((struct seen *)p)->settled ||
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

/* Drop coroutines, arena, journal copy and holdings; keep the row. */
static void
unload_act(struct engine *e, struct act *a)
{
	struct task *t;

	unwatch_mem(e, a);
	while ((t = TAILQ_FIRST(&a->tasks)) != NULL)
		task_free(a, t);
	a->main = NULL;
	jlog_release(&a->log);
	u64map_clear(&a->seen);
	u64map_clear(&a->resolvers);
	arena_free(a->arena);
	a->arena = NULL;
	a->args_val = NULL;
	a->loaded = false;
}

/* Make the activation Failed with `msg`; persisted at the next commit. */
static void
fail_act(struct engine *e, struct act *a, const char *msg)
{
	log_warn("activation %llu (%s) is Failed: %s",
	    (unsigned long long)a->id, a->flow ? a->flow : "?", msg);
	set_failure(a, msg);
	a->pstate = ACT_FAILED;
	a->ms = ES_FAILED;
	a->row_dirty = true;
	touch(e, a);
	if (coro_self() == NULL)
		unload_act(e, a);
	/* Else run_step unloads once the coroutine has switched out. */
}

/* Called on a coroutine: fail and never come back. */
static void
fail_from_guest(struct engine *e, struct act *a, const char *msg)
{
	fail_act(e, a, msg);
	coro_yield();
	abort();    /* a failed activation's coroutine is never resumed */
}

static void
failf(struct engine *e, struct act *a, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
failf(struct engine *e, struct act *a, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_act(e, a, msg);
}

/* ---- Journal: the write set and the replay cursor --------------------------- */

static void
jappend(struct engine *e, struct act *a, struct jentry *je)
{
	size_t off = e->jbuf.len;

	je->incarnation = e->incarnation;
	journal_entry_encode(&e->jbuf, je);
	if (e->jbuf.err || grow_array((void **)&e->jops, &e->capjops,
	    e->njops + 1, sizeof(*e->jops)) != AF_OK) {
		/* Out of memory mid-pass: the commit will fail and
		 * recovery rebuilds from the store. */
		e->jbuf.err = AF_ENOMEM;
		e->dirty = true;
		return;
	}
	e->jops[e->njops++] = (struct jop){ a->id, a->jlen, off,
	    e->jbuf.len - off };
	a->jlen++;
	a->row_dirty = true;
	touch(e, a);
	e->st.entries_written++;
}

/* Parse the replay entry at a->pos. */
static int
jpeek(struct act *a, struct jentry *je)
{
	size_t i = a->pos;

	return journal_entry_parse(a->log.data + a->log.off[i],
	    a->log.off[i + 1] - a->log.off[i], je);
}

static void
entry_text(struct buf *b, const struct jentry *je)
{
	journal_entry_text(b, je);
}

/* ---- Holdings: vows and resolvers that entered the activation --------------- */

static void
watch_add(struct engine *e, uint64_t vow, uint64_t act)
{
	struct idlist *l = u64map_get(&e->watch, vow), *nl;
	size_t i;

	if (l != NULL)
		for (i = 0; i < l->n; i++)
			if (l->ids[i] == act)
				return;
	if (l == NULL || l->n == l->cap) {
		size_t ncap = l ? l->cap * 2 : 2;

		nl = realloc(l, sizeof(*nl) + ncap * sizeof(uint64_t));
		if (nl == NULL)
			return;     /* go_live of the next wake finds it */
		if (l == NULL)
			nl->n = 0;
		nl->cap = ncap;
		l = nl;
		u64map_put(&e->watch, vow, l);
	}
	l->ids[l->n++] = act;
}

/* Live: learn whether a newly held pending vow is settled already. */
static void
watch_vow(struct engine *e, struct act *a, struct seen *s)
{
	struct vow *v;

	if (vowtab_get(e->vt, s->vow, &v) != AF_OK)
		return;     /* unknown vow: never settles */
	if (v->state == VOW_FULFILLED || v->state == VOW_REJECTED) {
		push_event(e, EV_SETTLED, a->id, s->vow);
		return;
	}
	watch_add(e, s->vow, a->id);
	if (!s->row) {
		vowtab_watch(e->vt, s->vow, WATCH_ACT, a->id);
		s->row = true;
		e->dirty = true;
	}
}

static void
enter_vow(struct engine *e, struct act *a, uint64_t id, bool live)
{
	struct seen *s;

	if (u64map_get(&a->seen, id) != NULL)
		return;
	if ((s = af_arena_alloc(a->arena, sizeof(*s))) == NULL)
		return;
	memset(s, 0, sizeof(*s));
	s->vow = id;
	if (u64map_put(&a->seen, id, s) != AF_OK)
		return;
	if (live)
		watch_vow(e, a, s);
}

static void
enter_value(struct engine *e, struct act *a, const struct af_value *v,
    bool live)
{
	size_t i;

	switch (v->type) {
	case AF_VOW:
		enter_vow(e, a, v->u.id, live);
		break;
	case AF_RESOLVER:
		u64map_put(&a->resolvers, v->u.id, (void *)1);
		break;
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			enter_value(e, a, v->u.list.items[i], live);
		break;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			enter_value(e, a, v->u.rec.fields[i].value, live);
		break;
	default:
		break;
	}
}

/* ---- Waiting ---------------------------------------------------------------- */

/* Whether t's wait is satisfied now; if so fill its result. */
static bool
wait_done(struct task *t)
{
	struct act *a = t->a;
	const struct seen *s, *best = NULL;
	size_t i, bi = 0;

	for (i = 0; i < t->wn; i++) {
		s = u64map_get(&a->seen, t->wv[i]->u.id);
		if (s == NULL || !s->settled) {
			if (t->wait == W_ALL)
				continue;
			continue;
		}
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
	if (t->wait != W_ALL)
		return false;
	/* all: every one fulfilled? */
	for (i = 0; i < t->wn; i++) {
		s = u64map_get(&a->seen, t->wv[i]->u.id);
		if (s == NULL || !s->settled)
			return false;
	}
	{
		const struct af_value **items;

		items = af_arena_alloc(a->arena, (t->wn ? t->wn : 1) *
		    sizeof(*items));
		if (items == NULL)
			return false;
		for (i = 0; i < t->wn; i++)
			items[i] = ((const struct seen *)u64map_get(&a->seen,
			    t->wv[i]->u.id))->value;
		t->wout = af_list_of(a->arena, items, t->wn);
		t->wrc = t->wout ? AF_OK : AF_ENOMEM;
	}
	return true;
}

static void
make_ready(struct act *a, struct task *t)
{
	if (!t->queued) {
		t->queued = true;
		TAILQ_INSERT_TAIL(&a->runq, t, run);
	}
}

/* A settlement was applied: every task whose wait is now satisfied runs,
 * in task creation order. */
static void
wake_tasks(struct act *a)
{
	struct task *t;

	TAILQ_FOREACH(t, &a->tasks, all) {
		if (t->wait != W_NONE && wait_done(t)) {
			t->wait = W_NONE;
			make_ready(a, t);
		}
	}
}

/* Suspend the current task until its wait is satisfied. */
static int
wait_for(struct task *t, enum wait_kind k, const struct af_value *const *vv,
    size_t n, const struct af_value **out, size_t *index)
{
	t->wait = k;
	t->wv = vv;
	t->wn = n;
	if (wait_done(t))
		t->wait = W_NONE;
	else
		coro_yield();
	if (out != NULL)
		*out = t->wout;
	if (index != NULL)
		*index = t->windex;
	return t->wrc;
}

/* ---- Scheduler -------------------------------------------------------------- */

static void
task_entry(void *arg)
{
	struct task *t = arg;

	if (t->is_main)
		t->rc = t->a->fd->fn(&t->a->handle, t->a->args_val, &t->result);
	else
		t->fn(&t->a->handle, t->arg);
}

static struct task *
task_new(struct engine *e, struct act *a, bool is_main, af_task_fn *fn,
    void *arg)
{
	struct task *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->a = a;
	t->is_main = is_main;
	t->fn = fn;
	t->arg = arg;
	if ((t->co = coro_new(e->pool, task_entry, t)) == NULL) {
		free(t);
		return NULL;
	}
	coro_set_data(t->co, t);
	TAILQ_INSERT_TAIL(&a->tasks, t, all);
	make_ready(a, t);
	return t;
}

static struct task *
cur_task(struct af_flow *f)
{
	struct coro *c = coro_self();
	struct task *t = c ? coro_get_data(c) : NULL;

	/* Guest calls come only from the activation's own coroutines. */
	assert(t != NULL && t->a == f->a);
	(void)f;
	return t;
}

static void complete(struct engine *, struct act *, struct task *);

/* Run the activation's ready coroutines FIFO until every one waits. */
static void
run_step(struct engine *e, struct act *a)
{
	struct task *t;
	bool alive;

	while ((a->ms == ES_RUNNING || a->ms == ES_REPLAYING) &&
	    (t = TAILQ_FIRST(&a->runq)) != NULL) {
		TAILQ_REMOVE(&a->runq, t, run);
		t->queued = false;
		engine_guest_act = a->id;
		assert(!store_txn_open(e->s));
		alive = coro_resume(t->co);
		assert(!store_txn_open(e->s));
		engine_guest_act = 0;
		if (a->ms == ES_FAILED) {
			unload_act(e, a);
			return;
		}
		if (alive)
			continue;
		if (t->is_main) {
			complete(e, a, t);
			return;
		}
		task_free(a, t);
	}
}

/* The main function returned: settle the outcome, or fail. */
static void
complete(struct engine *e, struct act *a, struct task *t)
{
	const struct af_value *res = t->result;
	uint64_t follow = 0, k;
	size_t i = 0;
	void *p;
	int rc;

	if (a->ms == ES_REPLAYING) {
		if (a->pos < a->log.n) {
			struct jentry je;
			struct buf b;

			buf_init(&b);
			if (jpeek(a, &je) == AF_OK)
				entry_text(&b, &je);
			buf_putc(&b, '\0');
			failf(e, a, "replay diverged at journal index %zu: "
			    "expected %s; the flow returned instead",
			    a->pos, b.p ? (char *)b.p : "?");
			buf_release(&b);
			unload_act(e, a);
			return;
		}
		go_live(e, a);
	}
	if ((t->rc != AF_OK && t->rc != AF_REJECTED) || res == NULL) {
		failf(e, a, "flow returned a malformed value (code %d, %s)",
		    t->rc, res ? "value" : "no value");
		unload_act(e, a);
		return;
	}
	if (!resolvers_held(a, res)) {
		failf(e, a, "flow returned a resolver it does not hold");
		unload_act(e, a);
		return;
	}
	buf_reset(&e->scratch2);
	if ((rc = value_encode(&e->scratch2, res)) != AF_OK) {
		failf(e, a, "flow returned a malformed value: %s",
		    af_strerror(rc));
		unload_act(e, a);
		return;
	}
	if (t->rc == AF_OK && res->type == AF_VOW)
		follow = res->u.id;
	rc = vowtab_settle(e->vt, a->outcome, NULL, t->rc == AF_REJECTED,
	    e->scratch2.p, e->scratch2.len, follow);
	if (rc != AF_OK) {
		failf(e, a, "settling the outcome failed: %s%s",
		    af_strerror(rc), rc == AF_ECYCLE ?
		    " (the flow returned a vow that follows its own outcome)" :
		    "");
		unload_act(e, a);
		return;
	}
	/* Done: it no longer holds anything. */
	while (u64map_next(&a->seen, &i, &k, &p)) {
		struct seen *s = p;

		if (s->row && !s->settled)
			vowtab_unwatch(e->vt, s->vow, WATCH_ACT, a->id);
	}
	a->ms = ES_DONE;
	a->pstate = ACT_DONE;
	a->row_dirty = true;
	touch(e, a);
	if (a->jlen > 0 && !e->o.retain_journals &&
	    grow_array((void **)&e->gcs, &e->capgcs,
	    e->ngcs + 1, sizeof(*e->gcs)) == AF_OK)
		e->gcs[e->ngcs++] = (struct gc){ a->id, 0, a->jlen };
	unload_act(e, a);
}

/* Replay is over: from here on the activation acts live. Vows it holds
 * that settled meanwhile are delivered in settlement (commit) order. */
static int
cmp_seq(const void *x, const void *y)
{
	const uint64_t *a = x, *b = y;

	return a[0] < b[0] ? -1 : a[0] > b[0];
}

static void
go_live(struct engine *e, struct act *a)
{
	uint64_t k, *fin = NULL;
	size_t i = 0, n = 0, cap = 0;
	void *p;
	struct vow *v;

	a->ms = ES_RUNNING;
	e->st.entries_replayed += a->pos;
	jlog_release(&a->log);
	a->pos = 0;
	while (u64map_next(&a->seen, &i, &k, &p)) {
		struct seen *s = p;

		if (s->settled)
			continue;
		/* Its watcher row was written when it entered, live; delete
		 * it when the settlement is journaled, even if that settled
		 * while the activation was not in memory. */
		s->row = true;
		if (vowtab_get(e->vt, s->vow, &v) != AF_OK)
			continue;
		if (v->state == VOW_FULFILLED || v->state == VOW_REJECTED) {
			if (grow_array((void **)&fin, &cap, n + 1,
			    2 * sizeof(uint64_t)) != AF_OK)
				break;
			fin[2 * n] = v->settled_seq;
			fin[2 * n + 1] = s->vow;
			n++;
			continue;
		}
		watch_add(e, s->vow, a->id);
	}
	if (n > 1)
		qsort(fin, n, 2 * sizeof(uint64_t), cmp_seq);
	for (i = 0; i < n; i++)
		push_event(e, EV_SETTLED, a->id, fin[2 * i + 1]);
	free(fin);
}

/* Load and run an activation from the top: replay its journal, then on
 * live (DESIGN.md §4's step rule, driven by the journal). */
static void
activate(struct engine *e, struct act *a)
{
	struct jentry je;
	struct seen *s;
	struct buf b;
	int rc;

	if (a->ms != ES_SLEEPING)
		return;
	if (a->pstate == ACT_FAILED) {
		a->pstate = ACT_ACTIVE;
		a->quarantined = false;
		set_failure(a, NULL);
		a->row_dirty = true;
		touch(e, a);
	}
	a->fd = registry_flow(e->reg, a->flow, strlen(a->flow));
	if (a->fd == NULL) {
		failf(e, a, "flow %s not registered", a->flow);
		return;
	}
	if ((a->arena = arena_new(16384)) == NULL) {
		failf(e, a, "out of memory");
		return;
	}
	a->loaded = true;
	rc = value_decode(a->arena, a->args, a->args_n, &a->args_val);
	if (rc != AF_OK) {
		failf(e, a, "arguments undecodable: %s", af_strerror(rc));
		return;
	}
	rc = journal_load(e->s, a->id, a->jlen_committed, &a->log);
	if (rc != AF_OK) {
		failf(e, a, "journal unreadable: %s (%s)", af_strerror(rc),
		    store_errmsg(e->s));
		return;
	}
	a->pos = 0;
	a->ms = a->log.n > 0 ? ES_REPLAYING : ES_RUNNING;
	enter_value(e, a, a->args_val, a->ms == ES_RUNNING);
	if ((a->main = task_new(e, a, true, NULL, NULL)) == NULL) {
		failf(e, a, "out of memory (coroutine)");
		return;
	}
	run_step(e, a);
	while (a->ms == ES_REPLAYING) {
		if (a->pos == a->log.n) {
			go_live(e, a);
			break;
		}
		if (jpeek(a, &je) != AF_OK) {
			failf(e, a, "journal entry %zu undecodable", a->pos);
			return;
		}
		if (je.kind != J_DO_FULFILL && je.kind != J_DO_REJECT) {
			buf_init(&b);
			entry_text(&b, &je);
			buf_putc(&b, '\0');
			failf(e, a, "replay diverged at journal index %zu: "
			    "expected %s; every coroutine of the flow is "
			    "waiting instead", a->pos,
			    b.p ? (char *)b.p : "?");
			buf_release(&b);
			return;
		}
		s = u64map_get(&a->seen, je.vow);
		if (s == NULL || s->settled) {
			failf(e, a, "replay diverged at journal index %zu: "
			    "settlement of vow %llu, which the flow %s",
			    a->pos, (unsigned long long)je.vow,
			    s ? "has seen settled already" : "does not hold");
			return;
		}
		rc = value_decode(a->arena, je.value.ptr, je.value.len,
		    &s->value);
		if (rc != AF_OK) {
			failf(e, a, "journal entry %zu: value undecodable",
			    a->pos);
			return;
		}
		s->settled = true;
		s->rejected = je.kind == J_DO_REJECT;
		s->seq = a->pos++;
		enter_value(e, a, s->value, false);
		wake_tasks(a);
		run_step(e, a);
	}
}

/* Live: a held vow settled; journal it and run whoever waits. */
static void
deliver(struct engine *e, struct act *a, uint64_t vowid)
{
	struct seen *s;
	struct vow *v;
	struct jentry je;
	int rc;

	if (a->ms != ES_RUNNING)
		return;
	s = u64map_get(&a->seen, vowid);
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
	jappend(e, a, &je);
	rc = value_decode(a->arena, v->value, v->value_n, &s->value);
	if (rc != AF_OK) {
		failf(e, a, "vow %llu holds an undecodable value",
		    (unsigned long long)vowid);
		return;
	}
	s->settled = true;
	s->rejected = je.kind == J_DO_REJECT;
	if (s->row) {
		vowtab_unwatch(e->vt, vowid, WATCH_ACT, a->id);
		s->row = false;
	}
	enter_value(e, a, s->value, true);
	wake_tasks(a);
	run_step(e, a);
}

/* The vow table tells us a vow reached a final state. */
static void
on_vow_settled(void *ctx, const struct vow *v)
{
	struct engine *e = ctx;
	struct idlist *l = u64map_del(&e->watch, v->id);
	size_t i;

	if (l != NULL) {
		for (i = 0; i < l->n; i++)
			push_event(e, EV_SETTLED, l->ids[i], v->id);
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

/* ---- The membrane: guest calls ---------------------------------------------- */

static bool
str_eq(struct af_str s, const char *c)
{
	size_t n = strlen(c);

	return s.len == n && memcmp(s.ptr, c, n) == 0;
}

static void
attempted_text(struct buf *b, enum jkind kind, const char *obj,
    const char *method, const struct af_value *args, size_t idx)
{
	buf_printf(b, "%s(%s.%s, ", journal_kind_name(kind), obj, method);
	value_to_text(b, args);
	buf_printf(b, ", #%zu)", idx);
}

/* Replay: compare the call with the journal and answer from it. */
static int
replay_call(struct engine *e, struct act *a, enum jkind kind,
    const char *obj, const char *method, const struct af_value *args,
    const struct af_value **out)
{
	struct jentry je;
	const struct af_value *logged;
	char path[256] = "";
	size_t idx = a->pos;
	bool same;
	struct buf b;
	int rc;

	if (jpeek(a, &je) != AF_OK)
		goto diverged;
	same = je.kind == kind && je.call_index == idx &&
	    str_eq(je.target, obj) && str_eq(je.method, method);
	if (same && (je.args.len != e->scratch.len ||
	    memcmp(je.args.ptr, e->scratch.p, je.args.len) != 0)) {
		/* Bytes differ: errors compare by name only. */
		arena_reset(e->tmp);
		if (value_decode(e->tmp, je.args.ptr, je.args.len,
		    &logged) != AF_OK)
			same = false;
		else if (value_diff(args, logged, path, sizeof(path)) != 0)
			same = false;
	}
	if (!same)
		goto diverged;
	a->pos++;
	if (a->pos >= a->log.n || jpeek(a, &je) != AF_OK ||
	    (je.kind != J_DO_RETURN && je.kind != J_DO_THROW) ||
	    je.call_index != idx) {
		failf(e, a, "journal corrupt at index %zu: %s #%zu "
		    "has no answer", a->pos, journal_kind_name(kind), idx);
		fail_from_guest(e, a, a->failure);
	}
	rc = value_decode(a->arena, je.value.ptr, je.value.len, out);
	if (rc != AF_OK) {
		failf(e, a, "journal entry %zu: value undecodable", a->pos);
		fail_from_guest(e, a, a->failure);
	}
	a->pos++;
	enter_value(e, a, *out, false);
	if (a->pos == a->log.n)
		go_live(e, a);
	return je.kind == J_DO_RETURN ? AF_OK : AF_REJECTED;

diverged:
	buf_init(&b);
	buf_printf(&b, "replay diverged at journal index %zu: expected ", idx);
	entry_text(&b, &je);
	buf_puts(&b, "; the flow attempted ");
	attempted_text(&b, kind, obj, method, args, idx);
	if (path[0] != '\0' || (je.kind == kind &&
	    str_eq(je.target, obj) && str_eq(je.method, method)))
		buf_printf(&b, "; first difference at args%s", path);
	buf_putc(&b, '\0');
	fail_act(e, a, b.err ? "replay diverged" : (const char *)b.p);
	buf_release(&b);
	fail_from_guest(e, a, a->failure);
	return AF_EDIVERGED;
}

static const struct af_value *
host_error(struct af_arena *ar, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const struct af_value *
host_error(struct af_arena *ar, const char *name, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return af_error(ar, name, msg);
}

/* Live: journal the guest's side of a crossing (checkCall or checkSend,
 * its args encoded in e->scratch); returns its callIndex. */
static uint64_t
journal_crossing(struct engine *e, struct act *a, enum jkind kind,
    const char *obj, const char *method)
{
	struct jentry je;
	uint64_t idx = a->jlen;

	memset(&je, 0, sizeof(je));
	je.kind = kind;
	je.call_index = idx;
	je.target = (struct af_str){ obj, strlen(obj) };
	je.method = (struct af_str){ method, strlen(method) };
	je.args = (struct af_str){ (const char *)e->scratch.p, e->scratch.len };
	jappend(e, a, &je);
	return idx;
}

/* Live: journal the answer to crossing idx (doReturn for AF_OK, else
 * doThrow), hand it to the guest and take in what it holds. A result that
 * cannot be stored becomes a thrown HostError. Returns the code the guest
 * sees. */
static int
journal_answer(struct engine *e, struct act *a, uint64_t idx, int rc,
    const struct af_value *res, const char *obj, const char *method,
    const struct af_value **out)
{
	struct jentry je;

	buf_reset(&e->scratch);
	if (res == NULL || value_encode(&e->scratch, res) != AF_OK) {
		res = host_error(a->arena, "HostError", "%s.%s returned a "
		    "value that cannot be stored", obj, method);
		rc = AF_REJECTED;
		buf_reset(&e->scratch);
		if (res == NULL || value_encode(&e->scratch, res) != AF_OK)
			fail_from_guest(e, a, "out of memory");
	}
	memset(&je, 0, sizeof(je));
	je.kind = rc == AF_OK ? J_DO_RETURN : J_DO_THROW;
	je.call_index = idx;
	je.value = (struct af_str){ (const char *)e->scratch.p, e->scratch.len };
	jappend(e, a, &je);
	*out = res;
	enter_value(e, a, res, true);
	return rc;
}

/* Live: journal checkCall, run the host method, journal its answer. */
static int
live_call(struct engine *e, struct act *a, const char *obj,
    const char *method, const struct af_value *args,
    const struct af_value **out)
{
	const struct obj_def *o;
	const struct af_method *m = NULL;
	const struct af_value *res = NULL;
	struct af_host h = { e, a };
	uint64_t idx;
	int rc = AF_REJECTED;

	idx = journal_crossing(e, a, J_CHECK_CALL, obj, method);
	if ((o = registry_object(e->reg, obj, strlen(obj))) == NULL)
		res = host_error(a->arena, "NotFound", "no host object %s", obj);
	else if ((m = registry_method(o, method, strlen(method))) == NULL)
		res = host_error(a->arena, "NotFound", "host object %s has no "
		    "method %s", obj, method);
	if (m != NULL) {
		rc = m->fn(&h, o->data, args, &res);
		if ((rc != AF_OK && rc != AF_REJECTED) || res == NULL) {
			res = host_error(a->arena, "HostError", "%s.%s failed: "
			    "%s", obj, method, rc == AF_OK || rc ==
			    AF_REJECTED ? "no result" : af_strerror(rc));
			rc = AF_REJECTED;
		}
	}
	return journal_answer(e, a, idx, rc, res, obj, method, out);
}

/* Whether every resolver named in v is held by the activation. */
static bool
resolvers_held(struct act *a, const struct af_value *v)
{
	size_t i;

	switch (v->type) {
	case AF_RESOLVER:
		return u64map_get(&a->resolvers, v->u.id) != NULL;
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			if (!resolvers_held(a, v->u.list.items[i]))
				return false;
		return true;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			if (!resolvers_held(a, v->u.rec.fields[i].value))
				return false;
		return true;
	default:
		return true;
	}
}

/* Live eventual send: checkSend, a new result vow, an outbox invocation in
 * the same commit, doReturn{vow}. The server's answer settles the vow. */
static int
live_send(struct engine *e, struct act *a, const char *obj,
    const char *method, const struct af_value *args,
    const struct af_value **out)
{
	const struct af_value *res;
	struct outbox_row row;
	struct vow *v;
	uint64_t idx, vid = 0;
	size_t off;
	int rc = AF_OK;

	idx = journal_crossing(e, a, J_CHECK_SEND, obj, method);
	if (!resolvers_held(a, args)) {
		res = host_error(a->arena, "NotHeld", "send to %s.%s names a "
		    "resolver this flow does not hold", obj, method);
		rc = AF_REJECTED;
	} else if (vowtab_make(e->vt, 0, &vid, NULL) != AF_OK ||
	    vowtab_get(e->vt, vid, &v) != AF_OK ||
	    grow_array((void **)&e->oputs, &e->capoputs, e->noputs + 1,
	    sizeof(*e->oputs)) != AF_OK ||
	    grow_array((void **)&e->newinv, &e->capnewinv, e->nnewinv + 1,
	    sizeof(*e->newinv)) != AF_OK) {
		fail_from_guest(e, a, "out of memory (send)");
		return AF_ENOMEM;
	} else {
		/* e->scratch still holds the encoded args. */
		v->invocation = true;
		row.object = (struct af_str){ obj, strlen(obj) };
		row.method = (struct af_str){ method, strlen(method) };
		row.args = (struct af_str){ (const char *)e->scratch.p,
		    e->scratch.len };
		row.activation = a->id;
		off = e->obuf.len;
		outbox_row_encode(&e->obuf, &row);
		e->oputs[e->noputs++] = (struct blob){ vid, off,
		    e->obuf.len - off };
		e->newinv[e->nnewinv++] = vid;
		e->dirty = true;
		res = af_vow_ref(a->arena, vid);
	}
	return journal_answer(e, a, idx, rc, res, obj, method, out);
}

/* Every guest crossing to a host object: compared with the journal while
 * replaying, journaled and performed live. */
static int
membrane(struct af_flow *f, enum jkind kind, const char *obj,
    const char *method, const struct af_value *args,
    const struct af_value **out)
{
	struct act *a = f->a;
	struct engine *e = a->e;
	const struct af_value *dummy;
	int rc;

	if (out == NULL)
		out = &dummy;
	*out = NULL;
	(void)cur_task(f);
	if (obj == NULL || method == NULL || *obj == '\0' || *method == '\0')
		return AF_EINVAL;
	if (args == NULL && (args = af_null(a->arena)) == NULL)
		return AF_ENOMEM;
	buf_reset(&e->scratch);
	if ((rc = value_encode(&e->scratch, args)) != AF_OK)
		return rc;
	if (a->ms == ES_REPLAYING && a->pos < a->log.n)
		return replay_call(e, a, kind, obj, method, args, out);
	if (a->ms == ES_REPLAYING)
		go_live(e, a);
	if (kind == J_CHECK_SEND)
		return live_send(e, a, obj, method, args, out);
	return live_call(e, a, obj, method, args, out);
}

int
af_call(struct af_flow *f, const char *obj, const char *method,
    const struct af_value *args, const struct af_value **out)
{
	return membrane(f, J_CHECK_CALL, obj, method, args, out);
}

int
af_send(struct af_flow *f, const char *obj, const char *method,
    const struct af_value *args, const struct af_value **vow)
{
	return membrane(f, J_CHECK_SEND, obj, method, args, vow);
}

const struct af_value *
af_sleep(struct af_flow *f, int64_t ms)
{
	const struct af_value *v, *arg = af_int(f->a->arena, ms);

	if (arg == NULL || af_call(f, "timer", "sleep", arg, &v) != AF_OK)
		return NULL;
	return v;
}

int
af_await(struct af_flow *f, const struct af_value *vow,
    const struct af_value **out)
{
	struct task *t = cur_task(f);
	struct act *a = f->a;
	const struct af_value *dummy;

	if (out == NULL)
		out = &dummy;
	*out = NULL;
	if (vow == NULL || vow->type != AF_VOW)
		return AF_EINVAL;
	enter_vow(a->e, a, vow->u.id, a->ms == ES_RUNNING);
	t->one = vow;
	return wait_for(t, W_ONE, &t->one, 1, out, NULL);
}

static int
check_vows(struct af_flow *f, const struct af_value *const *vows, size_t n)
{
	size_t i;

	if (n > 0 && vows == NULL)
		return AF_EINVAL;
	for (i = 0; i < n; i++) {
		if (vows[i] == NULL || vows[i]->type != AF_VOW)
			return AF_EINVAL;
		enter_vow(f->a->e, f->a, vows[i]->u.id,
		    f->a->ms == ES_RUNNING);
	}
	return AF_OK;
}

int
af_all(struct af_flow *f, const struct af_value *const *vows, size_t n,
    const struct af_value **out)
{
	struct task *t = cur_task(f);
	const struct af_value **copy;
	int rc;

	if ((rc = check_vows(f, vows, n)) != AF_OK)
		return rc;
	/* The caller's array may not outlive the wait: copy it. */
	if ((copy = af_arena_alloc(f->a->arena, (n ? n : 1) *
	    sizeof(*copy))) == NULL)
		return AF_ENOMEM;
	if (n > 0)
		memcpy(copy, vows, n * sizeof(*copy));
	return wait_for(t, W_ALL, copy, n, out, NULL);
}

int
af_race(struct af_flow *f, const struct af_value *const *vows, size_t n,
    const struct af_value **out, size_t *index)
{
	struct task *t = cur_task(f);
	const struct af_value **copy;
	int rc;

	if (n == 0)
		return AF_EINVAL;
	if ((rc = check_vows(f, vows, n)) != AF_OK)
		return rc;
	if ((copy = af_arena_alloc(f->a->arena, n * sizeof(*copy))) == NULL)
		return AF_ENOMEM;
	memcpy(copy, vows, n * sizeof(*copy));
	return wait_for(t, W_RACE, copy, n, out, index);
}

int
af_spawn(struct af_flow *f, af_task_fn *fn, void *arg)
{
	(void)cur_task(f);
	if (fn == NULL)
		return AF_EINVAL;
	return task_new(f->a->e, f->a, false, fn, arg) ? AF_OK : AF_ENOMEM;
}

struct af_arena *
af_flow_arena(struct af_flow *f)
{
	return f->a->arena;
}

uint64_t
af_flow_id(struct af_flow *f)
{
	return f->a->id;
}

bool
af_flow_replaying(struct af_flow *f)
{
	return f->a->ms == ES_REPLAYING;
}

const struct af_value *
af_vow_kit(struct af_flow *f, const struct af_value **resolver)
{
	const struct af_value *kit;

	if (af_call(f, "vows", "make", NULL, &kit) != AF_OK)
		return NULL;
	if (resolver != NULL)
		*resolver = af_get(kit, "resolver");
	return af_get(kit, "vow");
}

static int
settle_call(struct af_flow *f, const char *method,
    const struct af_value *resolver, const struct af_value *value,
    const struct af_value **err)
{
	const struct af_value *items[2], *args, *out;
	int rc;

	if (err != NULL)
		*err = NULL;
	if (resolver == NULL || resolver->type != AF_RESOLVER)
		return AF_EINVAL;
	items[0] = resolver;
	items[1] = value ? value : af_null(f->a->arena);
	if (items[1] == NULL ||
	    (args = af_list_of(f->a->arena, items, 2)) == NULL)
		return AF_ENOMEM;
	rc = af_call(f, "vows", method, args, &out);
	if (rc == AF_REJECTED && err != NULL)
		*err = out;
	return rc;
}

int
af_resolve(struct af_flow *f, const struct af_value *resolver,
    const struct af_value *value, const struct af_value **err)
{
	return settle_call(f, "resolve", resolver, value, err);
}

int
af_reject(struct af_flow *f, const struct af_value *resolver,
    const struct af_value *reason, const struct af_value **err)
{
	return settle_call(f, "reject", resolver, reason, err);
}

int64_t
af_now(struct af_flow *f)
{
	const struct af_value *v;

	if (af_call(f, "clock", "now", NULL, &v) != AF_OK || v->type != AF_INT)
		return 0;
	return v->u.i;
}

uint64_t
af_random(struct af_flow *f)
{
	const struct af_value *v;

	if (af_call(f, "random", "next", NULL, &v) != AF_OK ||
	    v->type != AF_INT)
		return 0;
	return (uint64_t)v->u.i;
}

/* ---- Host objects ----------------------------------------------------------- */

struct af_arena *
af_host_arena(struct af_host *h)
{
	return h->a->arena;
}

uint64_t
af_host_caller(struct af_host *h)
{
	return h->a ? h->a->id : 0;
}

const struct af_value *
af_host_vow_kit(struct af_host *h, const struct af_value **resolver)
{
	uint64_t id;

	if (resolver != NULL)
		*resolver = NULL;
	if (vowtab_make(h->e->vt, 0, &id, NULL) != AF_OK)
		return NULL;
	h->e->dirty = true;
	if (resolver != NULL)
		*resolver = af_resolver_ref(h->a->arena, id);
	return af_vow_ref(h->a->arena, id);
}

/* Settle vow `id` with v (trusted caller). */
static int
settle_trusted(struct engine *e, uint64_t id, bool reject,
    const struct af_value *v)
{
	uint64_t follow = 0;
	int rc;

	buf_reset(&e->scratch2);
	if ((rc = value_encode(&e->scratch2, v)) != AF_OK)
		return rc;
	if (!reject && v->type == AF_VOW)
		follow = v->u.id;
	e->dirty = true;
	return vowtab_settle(e->vt, id, NULL, reject, e->scratch2.p,
	    e->scratch2.len, follow);
}

int
af_host_resolve(struct af_host *h, const struct af_value *resolver,
    const struct af_value *value)
{
	if (resolver == NULL || resolver->type != AF_RESOLVER)
		return AF_EINVAL;
	if (value == NULL && (value = af_null(h->a->arena)) == NULL)
		return AF_ENOMEM;
	return settle_trusted(h->e, resolver->u.id, false, value);
}

int
af_host_reject(struct af_host *h, const struct af_value *resolver,
    const struct af_value *reason)
{
	if (resolver == NULL || resolver->type != AF_RESOLVER)
		return AF_EINVAL;
	if (reason == NULL && (reason = af_null(h->a->arena)) == NULL)
		return AF_ENOMEM;
	return settle_trusted(h->e, resolver->u.id, true, reason);
}

/* Built-in `vows`: make, resolve [resolver, value], reject [resolver, r]. */
static int
vows_make(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *vals[2];
	static const char *const keys[2] = { "resolver", "vow" };

	(void)data;
	(void)args;
	vals[1] = af_host_vow_kit(h, &vals[0]);
	if (vals[1] == NULL || vals[0] == NULL)
		return AF_ENOMEM;
	*result = af_record(h->a->arena, keys, vals, 2);
	return *result ? AF_OK : AF_ENOMEM;
}

static int
vows_settle(struct af_host *h, const struct af_value *args, bool reject,
    const struct af_value **result)
{
	struct af_arena *ar = h->a->arena;
	const struct af_value *r = af_at(args, 0), *v = af_at(args, 1);
	int rc;

	if (args->type != AF_LIST || args->u.list.len != 2 || r == NULL ||
	    r->type != AF_RESOLVER) {
		*result = af_error(ar, "TypeError",
		    "expected [resolver, value]");
		return AF_REJECTED;
	}
	if (u64map_get(&h->a->resolvers, r->u.id) == NULL) {
		*result = host_error(ar, "NotHeld", "this flow does not hold "
		    "the resolver of vow %llu", (unsigned long long)r->u.id);
		return AF_REJECTED;
	}
	/* Nor may it pass on, inside the value, a resolver it made up. */
	if (v != NULL && !resolvers_held(h->a, v)) {
		*result = host_error(ar, "NotHeld", "the value names a "
		    "resolver this flow does not hold");
		return AF_REJECTED;
	}
	rc = settle_trusted(h->e, r->u.id, reject, v);
	if (rc == AF_OK) {
		*result = af_null(ar);
		return AF_OK;
	}
	*result = host_error(ar, rc == AF_ESETTLED ? "AlreadySettled" :
	    rc == AF_ECYCLE ? "Cycle" : "Error", "vow %llu: %s",
	    (unsigned long long)r->u.id, af_strerror(rc));
	return AF_REJECTED;
}

static int
vows_resolve(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)data;
	return vows_settle(h, args, false, result);
}

static int
vows_reject(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)data;
	return vows_settle(h, args, true, result);
}

static int
clock_now(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)args;
	(void)data;
	*result = af_int(h->a->arena, now_ms(h->e));
	return *result ? AF_OK : AF_ENOMEM;
}

static int
random_next(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	uint64_t r;

	(void)data;
	(void)args;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		return AF_ESTORE;
	*result = af_int(h->a->arena, (int64_t)r);
	return *result ? AF_OK : AF_ENOMEM;
}

/* ---- Durable timers ------------------------------------------------------- */

static int64_t
now_ms(struct engine *e)
{
	struct timespec ts;

	if (e->o.clock_ms != NULL)
		return e->o.clock_ms(e->o.clock_ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
timer_less(const struct timer *x, const struct timer *y)
{
	return x->due < y->due || (x->due == y->due && x->vow < y->vow);
}

static int
heap_push(struct engine *e, struct timer t)
{
	size_t i, parent;

	if (grow_array((void **)&e->heap, &e->capheap, e->nheap + 1,
	    sizeof(*e->heap)) != AF_OK)
		return AF_ENOMEM;
	i = e->nheap++;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!timer_less(&t, &e->heap[parent]))
			break;
		e->heap[i] = e->heap[parent];
		i = parent;
	}
	e->heap[i] = t;
	return AF_OK;
}

static struct timer
heap_pop(struct engine *e)
{
	struct timer top = e->heap[0], last = e->heap[--e->nheap];
	size_t i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= e->nheap)
			break;
		if (c + 1 < e->nheap && timer_less(&e->heap[c + 1], &e->heap[c]))
			c++;
		if (!timer_less(&e->heap[c], &last))
			break;
		e->heap[i] = e->heap[c];
		i = c;
	}
	if (e->nheap > 0)
		e->heap[i] = last;
	return top;
}

static int
timer_row(struct timer **arr, size_t *n, size_t *cap, struct timer t)
{
	if (grow_array((void **)arr, cap, *n + 1, sizeof(**arr)) != AF_OK)
		return AF_ENOMEM;
	(*arr)[(*n)++] = t;
	return AF_OK;
}

/* timer.sleep(ms): a vow fulfilled with the due time once it is due. */
static int
timer_sleep(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	struct engine *e = h->e;
	struct timer t;
	int rc;

	(void)data;
	if (args->type != AF_INT || args->u.i < 0) {
		*result = af_error(h->a->arena, "TypeError",
		    "timer.sleep takes a non-negative number of ms");
		return AF_REJECTED;
	}
	t.due = now_ms(e);
	if (args->u.i > INT64_MAX - t.due) {
		*result = af_error(h->a->arena, "RangeError",
		    "timer.sleep: the due time is past the end of time");
		return AF_REJECTED;
	}
	t.due += args->u.i;
	if ((rc = vowtab_make(e->vt, 0, &t.vow, NULL)) != AF_OK ||
	    (rc = heap_push(e, t)) != AF_OK ||
	    (rc = timer_row(&e->tputs, &e->ntputs, &e->captputs, t)) != AF_OK)
		return rc;
	e->dirty = true;
	*result = af_vow_ref(h->a->arena, t.vow);
	return *result ? AF_OK : AF_ENOMEM;
}

static const struct af_method timer_methods[] = { { "sleep", timer_sleep } };

bool
engine_next_due(const struct engine *e, int64_t *due)
{
	if (e->nheap == 0)
		return false;
	*due = e->heap[0].due;
	return true;
}

int64_t
engine_now_ms(struct engine *e)
{
	return now_ms(e);
}

int
engine_fire_due(struct engine *e)
{
	struct af_value due = { .type = AF_INT };
	int64_t now = now_ms(e);
	struct timer t;
	int n = 0, rc;

	while (e->nheap > 0 && e->heap[0].due <= now) {
		if ((rc = timer_row(&e->tdels, &e->ntdels, &e->captdels,
		    e->heap[0])) != AF_OK)
			return rc;      /* still in the heap: fires later */
		t = heap_pop(e);
		due.u.i = t.due;
		rc = settle_trusted(e, t.vow, false, &due);
		if (rc != AF_OK && rc != AF_ESETTLED && rc != AF_ENOTFOUND) {
			e->ntdels--;
			heap_push(e, t);
			return rc;
		}
		n++;
	}
	return n;
}

static const struct af_method vows_methods[] = {
	{ "make", vows_make },
	{ "resolve", vows_resolve },
	{ "reject", vows_reject },
};
static const struct af_method clock_methods[] = { { "now", clock_now } };
static const struct af_method random_methods[] = { { "next", random_next } };

/* ---- Requests from outside -------------------------------------------------- */

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
	if (e->needs_recover)
		return AF_ESTORE;     /* see engine_pass */
	if (flow == NULL || registry_flow(e->reg, flow, strlen(flow)) == NULL)
		return AF_ENOTFOUND;
	if (args == NULL)
		args = &null;
	if ((rc = check_client_value(e, args)) != AF_OK)
		return rc;
	buf_reset(&e->scratch);
	if ((rc = value_encode(&e->scratch, args)) != AF_OK)
		return rc;
	if ((a = act_new(e, e->next_act + 1)) == NULL)
		return AF_ENOMEM;
	if ((rc = vowtab_make(e->vt, a->id, &oid, NULL)) != AF_OK) {
		act_free(e, a);
		return rc;
	}
	a->flow = strdup(flow);
	a->args = malloc(e->scratch.len ? e->scratch.len : 1);
	if (a->flow == NULL || a->args == NULL ||
	    push_event(e, EV_WAKE, a->id, 0) != AF_OK) {
		act_free(e, a);
		return AF_ENOMEM;   /* the vow made is dropped at commit? no:
				     * it stays, pending and unowned. */
	}
	memcpy(a->args, e->scratch.p, e->scratch.len);
	a->args_n = e->scratch.len;
	a->outcome = oid;
	a->incarnation = e->incarnation;
	a->pstate = ACT_ACTIVE;
	a->row_dirty = true;
	touch(e, a);
	e->next_act++;
	e->next_act_dirty = true;
	*act = a->id;
	*outcome = oid;
	return AF_OK;
}

int
engine_mkvow(struct engine *e, uint64_t *vow, uint8_t secret[VOW_SECRET_LEN])
{
	if (e->needs_recover)
		return AF_ESTORE;     /* see engine_pass */
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
		return AF_ESTORE;     /* see engine_pass */
	if (secret == NULL)
		return AF_EDENIED;
	if (value == NULL)
		value = &null;
	if ((rc = check_client_value(e, value)) != AF_OK)
		return rc;
	buf_reset(&e->scratch2);
	if ((rc = value_encode(&e->scratch2, value)) != AF_OK)
		return rc;
	if (!reject && value->type == AF_VOW)
		follow = value->u.id;
	rc = vowtab_settle(e->vt, vow, secret, reject, e->scratch2.p,
	    e->scratch2.len, follow);
	if (rc == AF_OK)
		e->dirty = true;
	return rc;
}

static int read_row(struct engine *, uint64_t, struct act_row *,
    struct buf *);

/* ---- Scans of the store ------------------------------------------------------- */

/* A growable array of ids, filled by scan callbacks. */
struct ids {
	uint64_t *v;
	size_t n, cap;
	uint64_t prefix;            /* ids_under_prefix: the first key half */
};

static int
ids_push(struct ids *l, uint64_t id)
{
	if (grow_array((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)) !=
	    AF_OK)
		return AF_ENOMEM;
	l->v[l->n++] = id;
	return AF_OK;
}

/* Activation rows: every id whose row is FAILED and not quarantined (a
 * crasher is woken only by its own id). */
static int
failed_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct act_row row;

	if (k.n != 8 || act_row_parse(v.p, v.n, &row) != AF_OK ||
	    row.state != ACT_FAILED || row.quarantined)
		return 0;
	return ids_push(ctx, store_rd_be64(k.p));
}

/* Activation rows: every id. */
static int
act_ids_cb(void *ctx, struct store_val k, struct store_val v)
{
	(void)v;
	return k.n == 8 ? ids_push(ctx, store_rd_be64(k.p)) : 0;
}

/* Keys id ‖ id2 while the first half is l->prefix: collect id2. */
static int
pair_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct ids *l = ctx;

	(void)v;
	if (k.n != 16 || store_rd_be64(k.p) != l->prefix)
		return 1;
	return ids_push(l, store_rd_be64((const uint8_t *)k.p + 8));
}

static int
wake_one(struct engine *e, uint64_t id)
{
	struct act_row row;
	struct act *a;
	struct buf b;
	int rc;

	if ((a = u64map_get(&e->acts, id)) != NULL) {
		switch (a->ms) {
		case ES_DONE:
			return AF_ESTATE;
		case ES_FAILED:
			a->ms = ES_SLEEPING;
			return push_event(e, EV_WAKE, id, 0);
		default:
			return AF_OK;   /* running, replaying, or queued */
		}
	}
	buf_init(&b);
	rc = read_row(e, id, &row, &b);
	if (rc == AF_OK && row.state == ACT_DONE)
		rc = AF_ESTATE;
	if (rc == AF_OK) {
		if ((a = act_new(e, id)) == NULL)
			rc = AF_ENOMEM;
		else if ((rc = act_from_row(a, &row)) != AF_OK)
			act_free(e, a);
		else
			rc = push_event(e, EV_WAKE, id, 0);
	}
	buf_release(&b);
	return rc;
}

int
engine_wake(struct engine *e, uint64_t act)
{
	struct ids failed = { NULL, 0, 0, 0 };
	size_t i = 0;
	uint64_t key;
	void *p;
	int rc;

	if (act != 0)
		return wake_one(e, act);
	/* Every Failed activation: the committed ones... */
	if ((rc = store_scan(e->s, DB_ACTS, NULL, 0, failed_cb,
	    &failed)) == AF_OK) {
		for (i = 0; i < failed.n; i++)
			wake_one(e, failed.v[i]);
		/* ...and those that failed in memory during this pass. */
		i = 0;
		while (u64map_next(&e->acts, &i, &key, &p)) {
			struct act *a = p;

			if (a->ms == ES_FAILED) {
				a->ms = ES_SLEEPING;
				push_event(e, EV_WAKE, key, 0);
			}
		}
	}
	free(failed.v);
	return rc;
}

/* ---- Passes, commit and recovery -------------------------------------------- */

void
engine_set_commit_hook(struct engine *e, engine_commit_fn *fn, void *ctx)
{
	e->o.on_commit = fn;
	e->o.commit_ctx = ctx;
}

bool
engine_busy(const struct engine *e)
{
	return e->wakes.len > 0 || e->settles.len > 0 || e->ngcs > 0 ||
	    e->needs_recover;       /* events, or journals to
						 * delete */
}

static void
take_events(struct engine *e)
{
	size_t budget = e->o.pass_max_entries;
	struct event ev;
	struct act *a;

	/* Starts and wakes always run (a start's reply, sent after this
	 * pass commits, finds its first turn done); the budget bounds
	 * settlements. The order between activations does not matter to any
	 * journal: each activation's events keep their own order. */
	size_t nsettles = 0;

	for (;;) {
		/* Settlements get a share of every pass, however many starts
		 * came in: at least SETTLES_PER_PASS of them. */
		if (!evq_pop(&e->wakes, &ev) && ((e->njops >= budget &&
		    nsettles >= SETTLES_PER_PASS) || !evq_pop(&e->settles, &ev)))
			break;
		if (ev.kind == EV_SETTLED)
			nsettles++;
		e->st.events++;
		if ((a = u64map_get(&e->acts, ev.act)) == NULL)
			continue;
		if (ev.kind == EV_WAKE)
			activate(e, a);
		else
			deliver(e, a, ev.vow);
	}
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
	r.state = a->pstate;
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
collect(struct engine *e, struct store_txn *t)
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

static int recover(struct engine *e);

/* Drop every activation from memory (collected first: act_free changes
 * the map). */
static void
free_all_acts(struct engine *e)
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

static void
clear_pass_rows(struct engine *e)
{
	buf_reset(&e->obuf);
	e->noputs = e->nodels = e->nnewinv = 0;
	e->ntputs = e->ntdels = 0;
}

static void
clear_idems(struct engine *e)
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
	if ((rc = collect(e, t)) != AF_OK)
		goto abort;
	if (e->next_act_dirty &&
	    (rc = meta_put_u64(t, "next_act", e->next_act)) != AF_OK)
		goto abort;
	if ((rc = store_commit(t)) != AF_OK)
		goto failed;

	vowtab_after_commit(e->vt);
	clear_idems(e);
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
		if (a->ms == ES_DONE || a->ms == ES_FAILED)
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

/* After a failed commit: forget everything uncommitted and rebuild every
 * unfinished activation by replay from the store. */
static int scan_acts(struct engine *e, bool wake_failed);

static int
recover(struct engine *e)
{
	size_t i = 0;
	uint64_t k;
	void *p;
	struct store_txn *t;
	int rc;

	free_all_acts(e);
	i = 0;
	while (u64map_next(&e->watch, &i, &k, &p))
		free(p);
	u64map_clear(&e->watch);
	e->wakes.len = e->wakes.head = 0;
	e->settles.len = e->settles.head = 0;
	clear_idems(e);
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
	if ((rc = load_timers(e)) != AF_OK || (rc = scan_acts(e, false)) != AF_OK)
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
	take_events(e);
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

/* ---- Open and close --------------------------------------------------------- */

struct scan_ctx {
	struct engine *e;
	bool wake_failed;
};

static int
scan_act_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct scan_ctx *sc = ctx;
	struct engine *e = sc->e;
	struct act_row row;
	struct act *a;
	uint64_t id;

	if (k.n != 8 || act_row_parse(v.p, v.n, &row) != AF_OK)
		return 0;
	id = store_rd_be64(k.p);
	if (row.state == ACT_DONE) {
		if (row.journal_gc < row.journal_length &&
		    !e->o.retain_journals &&
		    grow_array((void **)&e->gcs, &e->capgcs, e->ngcs + 1,
		    sizeof(*e->gcs)) == AF_OK)
			e->gcs[e->ngcs++] = (struct gc){ id, row.journal_gc,
			    row.journal_length };
		return 0;
	}
	/* Quarantined: only an explicit wake. Failed: a new incarnation
	 * retries, a recovery does not. */
	if (row.state == ACT_FAILED && (row.quarantined || !sc->wake_failed))
		return 0;
	if ((a = act_new(e, id)) == NULL)
		return AF_ENOMEM;
	if (act_from_row(a, &row) != AF_OK ||
	    push_event(e, EV_WAKE, id, 0) != AF_OK) {
		act_free(e, a);
		return AF_ENOMEM;
	}
	return 0;
}

/* Queue the replay of every activation that is not Done (nor Failed,
 * unless wake_failed; nor quarantined); schedule the deletion of Done
 * journals left over. */
static int
scan_acts(struct engine *e, bool wake_failed)
{
	struct scan_ctx sc = { e, wake_failed };

	return store_scan(e->s, DB_ACTS, NULL, 0, scan_act_cb, &sc);
}

/* Mark a committed activation Failed and quarantined, in t. */
static int
quarantine_row(struct store_txn *t,
    const struct engine_quarantine *q)
{
	struct store_val v;
	struct act_row row;
	struct buf b;
	uint8_t key[8];
	int rc;

	store_be64(key, q->act);
	rc = store_get(t, DB_ACTS, (struct store_val){ key, 8 }, &v);
	if (rc == AF_ENOTFOUND)
		return AF_OK;       /* its start never committed */
	if (rc != AF_OK)
		return rc;
	buf_init(&b);
	buf_put(&b, v.p, v.n);     /* v is invalid once we write */
	if ((rc = b.err) == AF_OK &&
	    (rc = act_row_parse(b.p, b.len, &row)) == AF_OK &&
	    row.state != ACT_DONE) {
		struct buf out;

		row.state = ACT_FAILED;
		row.quarantined = true;
		row.failure = (struct af_str){ q->why, strlen(q->why) };
		buf_init(&out);
		if ((rc = act_row_encode(&out, &row)) == AF_OK)
			rc = store_put(t, DB_ACTS, (struct store_val){
			    key, 8 }, (struct store_val){ out.p, out.len },
			    false);
		buf_release(&out);
	}
	buf_release(&b);
	return rc;
}

/* The built-in objects reach the engine through struct af_host, so a
 * registry reused by a later engine (a restart in-process) keeps them. */
static int
register_builtin(struct af_registry *reg, const char *name,
    const struct af_method *m, size_t n)
{
	const struct obj_def *o = registry_object(reg, name, strlen(name));

	if (o != NULL && o->nmethods == n && o->methods[0].fn == m[0].fn)
		return AF_OK;
	return af_register_object(reg, name, m, n, NULL);
}

int
engine_open(struct store *s, struct af_registry *reg,
    const struct engine_opts *opts, struct engine **out, char *err,
    size_t errlen)
{
	struct engine *e;
	struct store_txn *t;
	uint64_t format;
	int rc;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return AF_ENOMEM;
	e->s = s;
	e->reg = reg;
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
	buf_init(&e->jbuf);
	buf_init(&e->scratch);
	buf_init(&e->scratch2);
	buf_init(&e->obuf);

	if ((e->pool = coro_pool_new(e->o.stack_size,
	    e->o.max_idle_stacks)) == NULL || (e->tmp = arena_new(0)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = AF_ENOMEM;
		goto fail;
	}
	if ((rc = register_builtin(reg, "vows", vows_methods, 3)) ||
	    (rc = register_builtin(reg, "clock", clock_methods, 1)) ||
	    (rc = register_builtin(reg, "random", random_methods, 1)) ||
	    (rc = register_builtin(reg, "timer", timer_methods, 1))) {
		snprintf(err, errlen, "registering built-in objects: %s "
		    "(vows, clock, random and timer are reserved names)",
		    af_strerror(rc));
		goto fail;
	}

	/* Format check and a new incarnation, durably, before anything. */
	if ((rc = store_begin(s, false, &t)) != AF_OK)
		goto store_fail;
	rc = meta_get_u64(t, "format", &format);
	if (rc == AF_ENOTFOUND)
		rc = meta_put_u64(t, "format", format = JOURNAL_FORMAT);
	if (rc == AF_OK && format > JOURNAL_FORMAT) {
		store_abort(t);
		snprintf(err, errlen, "the store was written with journal "
		    "format %llu; this asyncflowd reads format %d and older",
		    (unsigned long long)format, JOURNAL_FORMAT);
		rc = AF_EVERSION;
		goto fail;
	}
	if (rc == AF_OK) {
		rc = meta_get_u64(t, "incarnation", &e->incarnation);
		if (rc == AF_ENOTFOUND)
			rc = AF_OK;
	}
	if (rc == AF_OK)
		rc = meta_put_u64(t, "incarnation", ++e->incarnation);
	if (rc == AF_OK) {
		rc = meta_get_u64(t, "next_act", &e->next_act);
		if (rc == AF_ENOTFOUND)
			rc = AF_OK;
	}
	if (rc == AF_OK)
		rc = vowtab_new(s, t, on_vow_settled, e, &e->vt);
	for (size_t q = 0; rc == AF_OK && q < e->o.nquarantine; q++)
		rc = quarantine_row(t, &e->o.quarantine[q]);
	if (rc != AF_OK) {
		store_abort(t);
		goto store_fail;
	}
	if ((rc = store_commit(t)) != AF_OK)
		goto store_fail;
	if ((rc = scan_acts(e, true)) != AF_OK || (rc = load_timers(e)) != AF_OK)
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
engine_close(struct engine *e)
{
	size_t i = 0;
	uint64_t k;
	void *p;

	if (e == NULL)
		return;
	free_all_acts(e);
	i = 0;
	while (u64map_next(&e->watch, &i, &k, &p))
		free(p);
	u64map_release(&e->watch);
	u64map_release(&e->acts);
	vowtab_free(e->vt);
	coro_pool_free(e->pool);
	arena_free(e->tmp);
	buf_release(&e->jbuf);
	buf_release(&e->scratch);
	buf_release(&e->scratch2);
	clear_idems(e);
	free(e->idems);
	buf_release(&e->obuf);
	free(e->oputs);
	free(e->odels);
	free(e->newinv);
	free(e->heap);
	free(e->tputs);
	free(e->tdels);
	free(e->wakes.ev);
	free(e->settles.ev);
	free(e->jops);
	free(e->gcs);
	free(e->settled);
	free(e);
}

/* ---- Inspection ------------------------------------------------------------- */

const char *
engine_state_name(enum engine_state s)
{
	switch (s) {
	case ES_RUNNING:
		return "Running";
	case ES_SLEEPING:
		return "Sleeping";
	case ES_REPLAYING:
		return "Replaying";
	case ES_FAILED:
		return "Failed";
	default:
		return "Done";
	}
}

static int
read_row(struct engine *e, uint64_t id, struct act_row *row, struct buf *b)
{
	struct store_txn *t;
	struct store_val v;
	uint8_t key[8];
	int rc;

	store_be64(key, id);
	if ((rc = store_begin(e->s, true, &t)) != AF_OK)
		return rc;
	rc = store_get(t, DB_ACTS, (struct store_val){ key, 8 }, &v);
	if (rc == AF_OK) {
		buf_reset(b);
		buf_put(b, v.p, v.n);
		rc = b->err ? b->err : act_row_parse(b->p, b->len, row);
	}
	store_abort(t);
	return rc;
}

static void
copy_str(char *dst, size_t n, const char *s, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

int
engine_act_info(struct engine *e, uint64_t id, struct engine_act_info *out)
{
	struct act_row row;
	struct act *a;
	struct buf b;
	int rc;

	memset(out, 0, sizeof(*out));
	out->id = id;
	if ((a = u64map_get(&e->acts, id)) != NULL) {
		out->state = a->ms;
		copy_str(out->flow, sizeof(out->flow), a->flow,
		    strlen(a->flow));
		out->outcome = a->outcome;
		out->journal_length = a->jlen;
		out->incarnation = a->incarnation;
		if (a->failure)
			copy_str(out->failure, sizeof(out->failure),
			    a->failure, strlen(a->failure));
		return AF_OK;
	}
	buf_init(&b);
	if ((rc = read_row(e, id, &row, &b)) == AF_OK) {
		out->state = row.state == ACT_DONE ? ES_DONE :
		    row.state == ACT_FAILED ? ES_FAILED : ES_SLEEPING;
		copy_str(out->flow, sizeof(out->flow), row.flow.ptr,
		    row.flow.len);
		out->outcome = row.outcome;
		out->journal_length = row.journal_length;
		out->incarnation = row.incarnation;
		copy_str(out->failure, sizeof(out->failure), row.failure.ptr ?
		    row.failure.ptr : "", row.failure.len);
	}
	buf_release(&b);
	return rc;
}

int
engine_vow_state(struct engine *e, uint64_t id, enum vow_state *st,
    struct af_arena *a, const struct af_value **value)
{
	struct vow *v;
	int rc;

	if (value != NULL)
		*value = NULL;
	if ((rc = vowtab_get(e->vt, id, &v)) != AF_OK)
		return rc;
	*st = v->state;
	if ((v->state == VOW_FULFILLED || v->state == VOW_REJECTED) &&
	    value != NULL && a != NULL)
		return value_decode(a, v->value, v->value_n, value);
	return AF_OK;
}

int
engine_journal_text(struct engine *e, uint64_t id, struct buf *b)
{
	struct act_row row;
	struct jentry je;
	struct jlog log;
	struct buf rb;
	size_t i;
	int rc;

	buf_init(&rb);
	rc = read_row(e, id, &row, &rb);
	if (rc == AF_OK)
		rc = journal_load(e->s, id, row.state == ACT_DONE &&
		    row.journal_gc >= row.journal_length ? 0 :
		    row.journal_length, &log);
	if (rc == AF_EDECODE && row.state == ACT_DONE)
		rc = journal_load(e->s, id, 0, &log);   /* being collected */
	buf_release(&rb);
	if (rc != AF_OK)
		return rc;
	for (i = 0; i < log.n; i++) {
		rc = journal_entry_parse(log.data + log.off[i],
		    log.off[i + 1] - log.off[i], &je);
		buf_printf(b, "%zu ", i);
		if (rc == AF_OK)
			journal_entry_text(b, &je);
		else
			buf_puts(b, "<undecodable>");
		buf_putc(b, '\n');
	}
	jlog_release(&log);
	return b->err;
}

uint64_t
engine_incarnation(const struct engine *e)
{
	return e->incarnation;
}

void
engine_stats(const struct engine *e, struct engine_stats *st)
{
	*st = e->st;
	st->acts_in_memory = e->acts.len;
}

bool
engine_has_flow(const struct engine *e, const char *name)
{
	return name != NULL &&
	    registry_flow(e->reg, name, strlen(name)) != NULL;
}

/* ---- Daemon support: idempotent start, listing, quarantine ----------------- */

static int
idem_lookup(struct engine *e, const char *key, struct buf *out)
{
	struct store_txn *t;
	struct store_val v;
	size_t i;
	int rc;

	for (i = 0; i < e->nidems; i++) {
		if (strcmp(e->idems[i].key, key) == 0) {
			buf_put(out, e->idems[i].val, e->idems[i].n);
			return out->err;
		}
	}
	if ((rc = store_begin(e->s, true, &t)) != AF_OK)
		return rc;
	rc = store_get(t, DB_IDEM, (struct store_val){ key, strlen(key) },
	    &v);
	if (rc == AF_OK)
		buf_put(out, v.p, v.n);
	store_abort(t);
	return rc == AF_OK ? out->err : rc;
}

int
engine_start_keyed(struct engine *e, const char *key, const char *flow,
    const struct af_value *args, uint64_t *act, uint64_t *outcome,
    bool *existing)
{
	struct af_value null = { .type = AF_NULL };
	struct buf old, want;
	struct idem *id;
	size_t fl;
	int rc;

	*existing = false;
	if (key == NULL || *key == '\0')
		return engine_start(e, flow, args, act, outcome);
	if (flow == NULL || strlen(key) > 256)
		return AF_EINVAL;
	if (args == NULL)
		args = &null;
	/* What this request would record after act ‖ outcome. */
	buf_init(&want);
	fl = strlen(flow);
	buf_put(&want, flow, fl + 1);
	if ((rc = value_encode(&want, args)) != AF_OK || want.err) {
		buf_release(&want);
		return rc ? rc : want.err;
	}
	buf_init(&old);
	rc = idem_lookup(e, key, &old);
	if (rc == AF_OK) {
		if (old.len < 16 || old.len - 16 != want.len ||
		    memcmp(old.p + 16, want.p, want.len) != 0)
			rc = AF_EEXIST;
		else {
			*act = store_rd_be64(old.p);
			*outcome = store_rd_be64(old.p + 8);
			*existing = true;
		}
		buf_release(&old);
		buf_release(&want);
		return rc;
	}
	buf_release(&old);
	if (rc != AF_ENOTFOUND ||
	    (rc = engine_start(e, flow, args, act, outcome)) != AF_OK ||
	    (rc = grow_array((void **)&e->idems, &e->capidems, e->nidems + 1,
	    sizeof(*e->idems))) != AF_OK) {
		buf_release(&want);
		return rc;
	}
	id = &e->idems[e->nidems];
	id->key = strdup(key);
	id->n = 16 + want.len;
	id->val = malloc(id->n);
	if (id->key == NULL || id->val == NULL) {
		free(id->key);
		free(id->val);
		buf_release(&want);
		return AF_ENOMEM;   /* the activation runs, unkeyed */
	}
	store_be64(id->val, *act);
	store_be64(id->val + 8, *outcome);
	memcpy(id->val + 16, want.p, want.len);
	e->nidems++;
	e->dirty = true;
	buf_release(&want);
	return AF_OK;
}

int
engine_act_args(struct engine *e, uint64_t id, struct buf *b)
{
	struct act_row row;
	struct act *a;
	struct buf rb;
	int rc;

	if ((a = u64map_get(&e->acts, id)) != NULL) {
		buf_put(b, a->args, a->args_n);
		return b->err;
	}
	buf_init(&rb);
	if ((rc = read_row(e, id, &row, &rb)) == AF_OK) {
		buf_put(b, row.args.ptr, row.args.len);
		rc = b->err;
	}
	buf_release(&rb);
	return rc;
}

int
engine_waiting_on(struct engine *e, uint64_t act, uint64_t **ids, size_t *n)
{
	struct ids l = { NULL, 0, 0, act };
	uint8_t key[16];
	int rc;

	journal_key(key, act, 0);
	if ((rc = store_scan(e->s, DB_HOLDS, key, 16, pair_cb, &l)) != AF_OK) {
		free(l.v);
		l.v = NULL;
		l.n = 0;
	}
	*ids = l.v;
	*n = l.n;
	return rc;
}

int
engine_list(struct engine *e, const enum engine_state *only, uint64_t after,
    size_t limit, engine_list_fn *cb, void *ctx)
{
	struct ids l = { NULL, 0, 0, 0 };
	size_t i, sent = 0;
	uint8_t key[8];
	int rc;

	/* Ids first: no transaction while the callback runs. */
	store_be64(key, after + 1);
	if ((rc = store_scan(e->s, DB_ACTS, key, 8, act_ids_cb, &l)) != AF_OK) {
		free(l.v);
		return rc;
	}
	for (i = 0; i < l.n && sent < limit; i++) {
		struct engine_act_info info;

		if (engine_act_info(e, l.v[i], &info) != AF_OK)
			continue;
		if (only != NULL && info.state != *only)
			continue;
		sent++;
		if (cb(ctx, &info) != 0)
			break;
	}
	free(l.v);
	return AF_OK;
}

static int
journal_raw_len(struct engine *e, uint64_t id, uint64_t *len)
{
	struct act_row row;
	struct buf rb;
	int rc;

	buf_init(&rb);
	rc = read_row(e, id, &row, &rb);
	*len = 0;
	/* A Done activation's journal is there if retained and not yet
	 * collected. */
	if (rc == AF_OK && (row.state != ACT_DONE ||
	    row.journal_gc < row.journal_length))
		*len = row.journal_length;
	buf_release(&rb);
	return rc;
}

int
engine_journal_raw(struct engine *e, uint64_t act, uint64_t from,
    uint64_t limit, uint64_t *length, engine_entry_fn *cb, void *ctx)
{
	struct jlog log;
	uint64_t len, to;
	size_t i;
	int rc;

	*length = 0;
	if ((rc = journal_raw_len(e, act, &len)) != AF_OK)
		return rc;
	to = limit == 0 || limit > len - (from < len ? from : len) ? len :
	    from + limit;
	if ((rc = journal_load_range(e->s, act, from, to, &log)) != AF_OK) {
		struct engine_act_info info;

		/* Done and being collected: nothing to show. */
		if (rc == AF_EDECODE && engine_act_info(e, act, &info) ==
		    AF_OK && info.state == ES_DONE)
			return AF_OK;
		return rc;
	}
	*length = len;
	for (i = 0; i < log.n && rc == AF_OK; i++)
		rc = cb(ctx, from + i, log.data + log.off[i],
		    log.off[i + 1] - log.off[i]);
	jlog_release(&log);
	return rc;
}

int
engine_quarantine(struct engine *e, uint64_t id, const char *why)
{
	struct act *a = u64map_get(&e->acts, id);

	if (a == NULL)
		return AF_ENOTFOUND;
	if (a->ms == ES_DONE)
		return AF_ESTATE;
	/* Queued wakes for it find it Failed and do nothing. */
	fail_act(e, a, why);
	a->quarantined = true;
	return AF_OK;
}

/* ---- Outbox and timers for the daemon --------------------------------------- */

static int
timer_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct timer tm;

	(void)v;
	if (k.n != TIMER_KEY_LEN)
		return 0;
	tm.due = (int64_t)store_rd_be64(k.p);
	tm.vow = store_rd_be64((const uint8_t *)k.p + 8);
	return heap_push(ctx, tm);
}

static int
load_timers(struct engine *e)
{
	e->nheap = 0;
	return store_scan(e->s, DB_TIMERS, NULL, 0, timer_cb, e);
}

size_t
engine_timers_pending(const struct engine *e)
{
	return e->nheap;
}

struct outbox_item {
	uint64_t vow;
	uint64_t act;
	char obj[256];
};

struct outbox_ctx {
	uint64_t act;
	struct outbox_item *items;
	size_t n, cap;
};

static int
outbox_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct outbox_ctx *oc = ctx;
	struct outbox_row row;

	if (k.n != 8 || outbox_row_parse(v.p, v.n, &row) != AF_OK ||
	    (oc->act != 0 && row.activation != oc->act))
		return 0;
	if (grow_array((void **)&oc->items, &oc->cap, oc->n + 1,
	    sizeof(*oc->items)) != AF_OK)
		return AF_ENOMEM;
	oc->items[oc->n].vow = store_rd_be64(k.p);
	oc->items[oc->n].act = row.activation;
	copy_str(oc->items[oc->n].obj, sizeof(oc->items[oc->n].obj),
	    row.object.ptr, row.object.len);
	oc->n++;
	return 0;
}

int
engine_outbox_list(struct engine *e, uint64_t act, engine_outbox_fn *cb,
    void *ctx)
{
	struct outbox_ctx oc = { act, NULL, 0, 0 };
	size_t i;
	int rc;

	/* Collected first: no transaction while cb runs. */
	rc = store_scan(e->s, DB_OUTBOX, NULL, 0, outbox_cb, &oc);
	for (i = 0; i < oc.n && rc == AF_OK; i++)
		rc = cb(ctx, oc.items[i].vow, oc.items[i].act,
		    oc.items[i].obj);
	free(oc.items);
	return rc;
}

/* Secrets of the resolvers named in v, as ResolverGrant fields. */
static void
put_grants(struct engine *e, struct buf *b, const struct af_value *v)
{
	struct vow *w;
	size_t i, m;

	switch (v->type) {
	case AF_RESOLVER:
		if (vowtab_get(e->vt, v->u.id, &w) != AF_OK)
			return;
		m = pb_begin_msg(b, 7);
		pb_put_uint64(b, 1, v->u.id);
		pb_put_bytes(b, 2, w->secret, VOW_SECRET_LEN);
		pb_end_msg(b, m);
		break;
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			put_grants(e, b, v->u.list.items[i]);
		break;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			put_grants(e, b, v->u.rec.fields[i].value);
		break;
	default:
		break;
	}
}

int
engine_invocation(struct engine *e, uint64_t vow, bool secrets, struct buf *b)
{
	struct store_txn *t;
	struct store_val v;
	struct outbox_row row;
	const struct af_value *args;
	struct vow *w;
	struct buf rowb;
	uint8_t key[8];
	int rc;

	store_be64(key, vow);
	if ((rc = store_begin(e->s, true, &t)) != AF_OK)
		return rc;
	buf_init(&rowb);
	rc = store_get(t, DB_OUTBOX, (struct store_val){ key, 8 }, &v);
	if (rc == AF_OK) {
		buf_put(&rowb, v.p, v.n);
		rc = rowb.err;
	}
	store_abort(t);
	if (rc == AF_OK)
		rc = outbox_row_parse(rowb.p, rowb.len, &row);
	if (rc == AF_OK && secrets)
		rc = vowtab_get(e->vt, vow, &w);
	if (rc != AF_OK) {
		buf_release(&rowb);
		return rc;
	}
	pb_put_uint64(b, 1, vow);
	if (secrets)
		pb_put_bytes(b, 2, w->secret, VOW_SECRET_LEN);
	pb_put_bytes(b, 3, row.object.ptr, row.object.len);
	if (row.method.len)
		pb_put_bytes(b, 4, row.method.ptr, row.method.len);
	if (row.args.ptr)
		pb_put_bytes(b, 5, row.args.ptr, row.args.len);
	if (row.activation)
		pb_put_uint64(b, 6, row.activation);
	if (secrets && row.args.ptr) {
		arena_reset(e->tmp);
		if (value_decode(e->tmp, row.args.ptr, row.args.len, &args) ==
		    AF_OK)
			put_grants(e, b, args);
	}
	buf_release(&rowb);
	return b->err;
}
