/*
 * engine_int.h: what the engine's own files share and nobody else sees:
 * struct engine, struct act (one activation in memory), struct task (one
 * coroutine of it), struct holding (a vow that entered it), events, and
 * the functions the rooms call across files. Like SQLite's sqliteInt.h,
 * it is private: only daemon/engine.c, activation.c, step.c, membrane.c,
 * hostobj.c, commit.c and inspect.c include it.
 *
 * Who does what:
 *   activation.c  an activation in memory: new/free, load from its row,
 *                 unload, fail; its holdings (vows and resolvers that
 *                 entered it) and the scan that loads them at open;
 *   step.c        tasks, the scheduler (step_run) and the step rule:
 *                 replay from the journal, go live, deliver settlements;
 *   membrane.c    flow.h's guest API: every crossing compared with the
 *                 journal while replaying, journaled and performed live;
 *   hostobj.c     af_host_* and the built-in objects (vows, clock,
 *                 random, timer);
 *   commit.c      the pass's write set, group commit, recovery, journal
 *                 GC;
 *   inspect.c     read-only views for the daemon (info, list, journals);
 *   engine.c      the front door: open/close, start, mkvow, settle, wake.
 *
 * Invariants:
 *   - Guest code runs only inside step_run, on a task's coroutine. No store
 *     transaction is open then; reads the membrane needs take short read
 *     transactions that end before control returns to guest code.
 *   - While Replaying, nothing is written: every guest action is compared
 *     with the journal and answered from it. The first action past the end
 *     of the journal switches the activation to Running (act_go_live).
 *   - Failure (act_fail) tears down the activation's coroutines, arena and
 *     in-memory state; the coroutine that detected it is abandoned, never
 *     resumed.
 */
#ifndef AF_ENGINE_INT_H
#define AF_ENGINE_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "buf.h"
#include "coro.h"
#include "engine.h"
#include "journal.h"
#include "registry.h"
#include "store.h"
#include "tables.h"
#include "u64map.h"
#include "vows.h"

#include "vows.h"

#define DEFAULT_STACK       (256u << 10)
#define DEFAULT_IDLE        64
#define DEFAULT_PASS_MAX    16384
#define GC_PER_COMMIT       8192
#define JOURNAL_GC_INLINE   1024
#define SETTLES_PER_PASS    256

struct holding {
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
	enum engine_state live_state;
	/* The row. */
	char *flow;
	uint8_t *args;
	size_t args_n;
	uint64_t outcome;
	uint64_t jlen;              /* committed + this pass */
	uint64_t jlen_committed;
	uint64_t incarnation;
	char *failure;
	enum act_state row_state;
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
	struct u64map holdings;
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

/* A growable array of ids, filled by scan callbacks. */
struct ids {
	uint64_t *v;
	size_t n, cap;
	uint64_t prefix;            /* ids_under_prefix: the first key half */
};

static inline int
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

/* ---- activation.c: activations in memory and their holdings ---- */

struct act *act_new(struct engine *, uint64_t id);
void act_free(struct engine *, struct act *);
int act_from_row(struct act *, const struct act_row *);
void act_mark_dirty(struct engine *, struct act *);
void act_set_failure(struct act *, const char *msg);
void act_unload(struct engine *, struct act *);
void act_fail(struct engine *, struct act *, const char *msg);
void act_fail_from_guest(struct engine *, struct act *, const char *msg)
    __attribute__((noreturn));
void act_failf(struct engine *, struct act *, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void engine_watch_add(struct engine *, uint64_t vow, uint64_t act);
void act_enter_vow(struct engine *, struct act *, uint64_t id, bool live);
void act_enter_value(struct engine *, struct act *, const struct af_value *,
    bool live);
bool act_holds_resolvers(struct act *, const struct af_value *);
void engine_free_acts(struct engine *);
int engine_scan_acts(struct engine *, bool wake_failed);

/* ---- step.c: tasks, the scheduler and the step rule ---- */

int engine_push_event(struct engine *, enum ev_kind, uint64_t act,
    uint64_t vow);
struct task *act_task_new(struct engine *, struct act *, bool is_main,
    af_task_fn *fn, void *arg);
void act_task_free(struct act *, struct task *);
int task_wait(struct task *, enum wait_kind, const struct af_value *const *,
    size_t n, const struct af_value **out, size_t *index);
void step_run(struct engine *, struct act *);
void act_go_live(struct engine *, struct act *);
void step_take_events(struct engine *);

/* ---- membrane.c: the journal write set and the replay cursor ---- */

void act_journal_append(struct engine *, struct act *, struct jentry *);
int act_peek_entry(struct act *, struct jentry *);

/* ---- hostobj.c: host objects ---- */

const struct af_value *hostobj_error(struct af_arena *, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int engine_settle_trusted(struct engine *, uint64_t id, bool reject,
    const struct af_value *);
int hostobj_register(struct af_registry *);
int engine_load_timers(struct engine *);

/* ---- commit.c: the pass's writes, commit and recovery ---- */

void engine_on_vow_settled(void *ctx, const struct vow *);
void engine_clear_idems(struct engine *);

/* ---- inspect.c ---- */

int engine_read_row(struct engine *, uint64_t id, struct act_row *,
    struct buf *);
int engine_ids_push(struct ids *, uint64_t id);

#endif /* AF_ENGINE_INT_H */
