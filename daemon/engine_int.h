/*
 * engine_int.h: what the engine's own files share and nobody else sees:
 * struct engine, struct act (one activation in memory), struct task (one
 * coroutine of it), struct holding (a vow that entered it), events, and
 * the functions the rooms call across files. Like SQLite's sqliteInt.h,
 * it is private: only daemon/engine.c, activation.c, step.c, membrane.c,
 * hostobj.c, commit.c, inspect.c, engine_check.c and evict.c include it.
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
 *   evict.c       memory is a cache: eviction, replay on demand;
 *   engine.c      the front door: open/close, start, mkvow, settle, wake;
 *   engine_check.c  check mode: replay only, for the upgrade check.
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

#include "arena.h"
#include "buf.h"
#include "coro.h"
#include "engine.h"
#include "idem.h"
#include "journal.h"
#include "outbox.h"
#include "registry.h"
#include "store.h"
#include "tables.h"
#include "timers.h"
#include "u64map.h"
#include "vec.h"
#include "vows.h"

#include "vows.h"

#define DEFAULT_STACK           (256u << 10)
#define DEFAULT_IDLE            1024
/* A start (or a recovery) replays at most this many activations before it
 * serves; the others are replayed when an event needs them. */
#define START_REPLAY_MAX        1000
/* Stacks unmapped per pass when more were freed than the pool keeps
 * (coro_pool_trim): ~0.3 ms each here. */
#define STACKS_TRIMMED_PER_PASS 64
#define DEFAULT_PASS_MAX        16384
#define GC_PER_COMMIT           8192
#define SETTLES_PER_PASS        256
#define PRUNE_PER_COMMIT        1024  /* rows deleted by retention per commit */
#define ACT_ARENA_CHUNK         16384 /* an activation arena's first chunk */
#define ACT_ARENA_KEEP          (64u << 10) /* a pooled arena keeps at most */
#define ACT_ARENA_POOL          16 /* reset arenas kept for the next loads */
#define ACT_SLAB                64 /* struct act allocated this many at once */

/* A vow that entered an activation (args, results, settlements): whether
 * and how the activation has seen it settle. In the act's arena. */
struct holding {
	uint64_t vow;
	uint64_t seq; /* journal index of the settlement */
	const struct af_value *value;
	bool settled;
	bool rejected;
	bool row; /* a durable watcher row exists */
};

enum wait_kind { W_NONE, W_ONE, W_ALL, W_RACE, W_ALL_SETTLED };

struct act;

/* A call into an export that arrived and is not journaled yet (in the
 * row's pending_calls until then). Heap copies. */
struct pcall {
	uint64_t vow; /* its result vow */
	char *name;
	char *method;
	uint8_t *args; /* encoded Value */
	size_t args_n;
};

/* An object the flow exported (af_export) in this load. In the arena. */
struct export_def {
	const char *name;
	af_export_fn *fn;
	void *arg;
};

struct task {
	struct act *a;
	struct coro *co;
	af_task_fn *fn; /* spawned tasks */
	void *arg;
	bool is_main;
	bool queued;
	unsigned seq; /* 0: the main task; then af_spawn order (show) */
	TAILQ_ENTRY(task) all;
	TAILQ_ENTRY(task) run;
	enum wait_kind wait;
	const struct af_value *one;
	const struct af_value *const *wv;
	size_t wn;
	int wrc;
	const struct af_value *wout;
	size_t windex;
	size_t wdone; /* all, all_settled: wv[0..wdone) known settled */
	int rc;       /* main: the flow function's return */
	const struct af_value *result;
	/* A call's handler (exports.c): its export, method, args and the
	 * result vow its answer settles; xp NULL for other tasks. */
	const struct export_def *xp;
	const char *cmethod;
	const struct af_value *cargs;
	uint64_t call_vow;
};
TAILQ_HEAD(taskq, task);

struct af_flow {
	struct act *a;
};

/* One activation in memory: its row (what DB_ACTS holds, plus this pass's
 * changes) and, while loaded, its coroutines, arena and replay cursor. */
struct act {
	uint64_t id;
	struct engine *e;
	enum engine_state live_state; /* what it is doing in memory */
	/* The row. */
	char *flow;
	uint8_t *args;
	size_t args_n;
	uint64_t outcome;
	uint64_t jlen; /* committed + this pass */
	uint64_t jlen_committed;
	uint64_t incarnation; /* that created it */
	uint64_t
	    last_incarnation;     /* that last wrote its journal (0: unknown) */
	int64_t created_ms;       /* wall clock, ms; 0: unknown (old row) */
	int64_t last_progress_ms; /* of the last commit that changed it */
	char *failure;
	/* A cancel asked for (engine_cancel): its reason, encoded; in the
	 * row until Done. cancel_seen: its doCancel entry was applied in
	 * this load (journaled live, or met in replay). */
	uint8_t *cancel;
	size_t cancel_n;
	bool cancel_asked;
	bool cancel_seen;
	uint64_t parent; /* af_start_child's parent; 0: none (the row) */
	/* The code generation it was made in (e->gen): one of an older
	 * generation is on e->old_lru, built by the code a live switch
	 * replaced, and runs nothing until replayed under the new code. */
	uint64_t gen;
	/* Calls into its exports not journaled yet, in arrival order: in
	 * the row until delivered (exports.c). */
	struct pcall *calls;
	size_t ncalls, capcalls;
	/* Its exports in this load (reset by act_unload). */
	const struct export_def **exports;
	size_t nexports, capexports;
	enum act_state row_state; /* what its row says (Active/Failed/Done) */
	bool quarantined;
	bool replay; /* queued for replay: counted in e->rp */
	bool row_dirty;
	bool touched;
	TAILQ_ENTRY(act) tlink;
	TAILQ_ENTRY(act) lru; /* e->lru: least recently used first */
	/* Loaded state (between act_load_and_replay and act_unload). */
	bool loaded;
	const struct flow_def *fd;
	struct af_arena *arena;
	const struct af_value *args_val;
	struct taskq tasks;
	struct taskq runq;
	unsigned ntasks_made; /* since loaded: the next task's seq */
	struct task *main;
	struct jlog log;
	size_t pos;
	struct u64map holdings;
	struct u64map resolvers;
	struct af_flow handle;
	/* af_continue_as_new called: its encoded args (malloc'd), taken
	 * by act_continue_as_new once off the coroutine. */
	bool can_pending;
	uint8_t *can_args;
	size_t can_n;
	bool row_known;               /* a committed row exists... */
	enum act_state row_committed; /* ...in this state */
	unsigned ntasks;              /* coroutines now */
	bool over_memory; /* went over max_act_memory: to be Failed */
};
TAILQ_HEAD(actq, act);

/* EV_CANCEL: deliver the activation's cancel request (vow 0), queued
 * with the settlements: an event under the step rule like them. */
enum ev_kind { EV_WAKE, EV_SETTLED, EV_CANCEL, EV_CALL };

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

/* A journal entry of this pass: entry idx of activation act, encoded at
 * pass_writes.journal_buf[off, off + len). */
struct journal_op {
	uint64_t act;
	uint64_t idx;
	size_t off;
	size_t len;
};

/* A Done activation's journal to delete: entries [from, to). */
struct journal_gc {
	uint64_t act;
	uint64_t from;
	uint64_t to;
};

struct idlist {
	size_t n, cap;
	uint64_t ids[];
};

/* One host method call (DESIGN.md §2, resolvers as values): what the
 * method may hand back or settle is what it was given in args and the
 * resolvers it made during the call. */
struct af_host {
	struct engine *e;
	struct act *a;
	const struct af_value *args; /* this call's args */
	struct u64map made; /* vow ids of af_host_vow_kit in this call */
};

/*
 * What a pass changed that its commit writes, besides the vow table (its
 * own write-back cache), the timer rows (struct timers) and the rows of
 * the activations on the touched list. pass_writes_reset forgets it all
 * in one call, after a commit or a failed one.
 */
struct pass_writes {
	struct buf journal_buf; /* encoded journal entries */
	struct journal_op *journal;
	size_t njournal, capjournal;
	struct outbox outbox; /* invocations made and answered */
	struct idem idem;     /* idempotency keys recorded */
	uint64_t *settled;    /* vows that reached a final state */
	size_t nsettled, capsettled;
	uint64_t *invocations; /* new invocations, delivered on commit */
	size_t ninvocations, capinvocations;
	bool next_act_dirty;
};

/* The replays queued since the last pass ended (at open, by a recovery,
 * by wakes): what the progress log counts (activation.c). */
struct replay_progress {
	uint64_t total, done, failed, entries0;
	int64_t t0_ms, last_ms; /* CLOCK_MONOTONIC */
};

struct engine {
	struct store *s;
	struct af_registry *reg;
	struct engine_opts o;
	struct coro_pool *pool;
	struct vowtab *vt;
	uint64_t incarnation;
	uint64_t next_act;
	bool dirty;          /* the pass has something to commit */
	struct u64map acts;  /* id -> struct act (in memory) */
	struct u64map watch; /* vow id -> struct idlist (acts) */
	struct evq wakes;    /* starts and replays: every pass runs them
				     * all, so a start is done when committed */
	struct evq settles;  /* settlements: bounded per pass */
	bool needs_recover;  /* a recovery failed: retry first */
	struct actq touched; /* acts whose row or journal changed */
	struct pass_writes w;
	struct timers timers;
	struct journal_gc *gc; /* journals to delete, a chunk per commit */
	size_t ngc, capgc;
	/* Retention: the finished ms of the oldest DB_FINISHED entry
	 * (INT64_MAX: none; 0: a purge under way), and the purges this pass
	 * took (act ‖ its finished ms), moved to the front at its commit. */
	/* Continue-as-new: old journals to delete in this pass's commit,
	 * before its entries are written (the new journal reuses their
	 * keys), and the activations to start over once it has committed. */
	struct journal_gc *resets;
	size_t nresets, capresets;
	uint64_t *restarts;
	size_t nrestarts, caprestarts;
	int64_t prune_next_ms;
	/* The FINISHING_META row (tables.h) as committed plus this pass's
	 * additions. */
	struct meta_batch finishing;
	uint8_t finishing_keys[FINISHING_MAX][FINISHED_KEY_LEN];
	struct purge {
		uint64_t act;
		int64_t finished_ms;
	} * purges;
	size_t npurges, cappurges;
	struct buf args_buf;   /* encoded args of the current call */
	struct buf settle_buf; /* encoded value being settled */
	struct buf row_buf;    /* activation row being written */
	struct af_arena *tmp;  /* short-lived decodes */
	/* Arenas of unloaded activations, reset, for the next loads
	 * (act_arena_take): one malloc and free of a chunk less per load. */
	struct af_arena *arena_pool[ACT_ARENA_POOL];
	size_t narena_pool;
	/* struct act comes from slabs of ACT_SLAB (act_new), freed at
	 * engine_close; a freed one waits on act_free_list for reuse. */
	struct act_slab *act_slabs;
	struct act *act_free_list;
	size_t act_slab_left; /* unused acts at the end of act_slabs */
	struct engine_stats st;
	struct replay_progress rp;
	/* Memory is a cache (evict.c): every act in memory, least recently
	 * used first; whether an act may be out of memory while Active (then
	 * a settlement is looked up in the store's watcher rows), and how
	 * many of this pass's settlements (w.settled) were looked up. */
	struct actq lru;
	/* Committed activation rows by state (enum act_state), counted by
	 * the scan at open and kept by each commit: stats in O(1). */
	uint64_t nrows[ACT_DONE + 1];
	/* Done rows the pass's pruning deleted: taken off nrows[ACT_DONE]
	 * once its commit succeeds. */
	uint64_t pruned_rows;
	/* The live switch (engine_swap_registry), incremental: the code
	 * generation, bumped by each switch; the acts in memory built by
	 * the code it replaced (old_lru, nold of them) and that code's
	 * registry (old_reg, until engine_take_retired); the walk of the
	 * activation rows for Failed ones to retry, a chunk per pass, from
	 * failed_from while failed_scanning. */
	uint64_t gen;
	struct actq old_lru;
	size_t nold;
	struct af_registry *old_reg;
	bool failed_scanning;
	uint64_t failed_from;
	bool evicted_any;
	size_t settled_looked;
	bool start_refused; /* the last engine_start: no stack for it */
	/* Activations left out of memory at open (beyond max_resident) may
	 * hold a vow that settled before the process ended: DB_HOLDS is
	 * walked from holds_from, a chunk per pass, while holds_scanning. */
	bool holds_scanning;
	uint8_t holds_from[16];
	char errmsg[256]; /* engine_errmsg */
	/* engine_store_fault: "" when the last commit succeeded. */
	char store_fault[512];
	/* Sticky: an error a void callback could not return (out of memory
	 * while noting a settlement, a watch, a journal to delete). The
	 * pass's commit fails with it and recovery rebuilds from the store,
	 * as for any failed commit (buf.h's sticky error, for the engine). */
	int lost;
	unsigned fail_alloc; /* tests: engine_test_fail_alloc */
	/* Check mode (engine_check.c): replay only; where an activation
	 * would go live it passes instead (engine_check_passed). */
	bool check;
	bool check_returned; /* the flow returned before its journal ended */
	/* The rows the last engine_check_list listed (id, length, bytes,
	 * one after another), which engine_check_one takes from instead of
	 * reading each again; check_next: the offset of the next one. */
	struct buf check_rows;
	size_t check_next;
};

/* Record an error nobody can be told of now: the commit fails with it. */
static inline void
engine_note_lost(struct engine *e, int rc)
{
	if (e->lost == AF_OK)
		e->lost = rc;
	e->dirty = true;
}

/* Whether this allocation is to fail (tests: the nth one from
 * engine_test_fail_alloc). Every engine_grow and event push counts. */
static inline bool
engine_alloc_fault(struct engine *e)
{
	return e->fail_alloc != 0 && --e->fail_alloc == 0;
}

/* vec_grow for the engine's own arrays, through the fault hook. */
static inline int
engine_grow(struct engine *e, void **p, size_t *cap, size_t need, size_t elem)
{
	if (engine_alloc_fault(e))
		return AF_ENOMEM;
	return vec_grow(p, cap, need, elem);
}

/* A growable array of ids, filled by scan callbacks (engine_ids_push). */
struct ids {
	uint64_t *v;
	size_t n, cap;
};

/* ---- activation.c: activations in memory and their holdings ---- */

struct act *act_new(struct engine *, uint64_t id);
void act_free(struct engine *, struct act *);
int act_from_row(struct act *, const struct act_row *);
void act_mark_dirty(struct engine *, struct act *);
void act_set_failure(struct act *, const char *msg);
void act_unload(struct engine *, struct act *);
/* A loading activation's arena, from the engine's pool of reset ones or
 * new (ACT_ARENA_CHUNK first chunk); NULL: out of memory. act_unload gives
 * it back (act_arena_give): kept if the pool has room and the arena holds
 * no more than its first chunk, else freed. */
struct af_arena *act_arena_take(struct engine *);
/* Frees the slabs every struct act came from: after engine_free_acts. */
void act_slabs_free(struct engine *);
void act_arena_give(struct engine *, struct af_arena *);
void act_fail(struct engine *, struct act *, const char *msg);
void act_fail_from_guest(struct engine *, struct act *, const char *msg)
    __attribute__((noreturn));
void act_failf(struct engine *, struct act *, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void engine_watch_add(struct engine *, uint64_t vow, uint64_t act);
void act_enter_vow(struct engine *, struct act *, uint64_t id, bool live);
/* Whether vow `id` can be awaited: one the activation holds, or one that
 * exists (an id a flow made up may name no vow: awaiting it would wait for
 * ever). */
bool act_vow_exists(struct engine *, struct act *, uint64_t id);
void act_vow_unreadable(struct engine *, struct act *, uint64_t vow, int rc);
void act_enter_value(struct engine *, struct act *, const struct af_value *,
    bool live);
bool act_holds_resolvers(struct act *, const struct af_value *);
void engine_free_acts(struct engine *);
/* The progress log of replays: one replayed (step.c, after each wake of an
 * act queued as a replay), and the end of the pass (its summary). */
void engine_replay_done(struct engine *, struct act *);
void engine_replay_pass_end(struct engine *);
int engine_scan_acts(struct engine *, bool wake_failed);
/* af_continue_as_new's work, off the coroutine: the row gets the new
 * args and an empty journal, the old journal is deleted in the commit,
 * the durable holds go, and the activation starts over in the pass after
 * that commit. */
void act_continue_as_new(struct engine *, struct act *);
/* engine_terminate's work, on an activation in memory not Done. */
int act_terminate(struct engine *, struct act *, const char *message);

/* ---- step.c: tasks, the scheduler and the step rule ---- */

int
engine_push_event(struct engine *, enum ev_kind, uint64_t act, uint64_t vow);
struct task *act_task_new(struct engine *, struct act *, bool is_main,
    af_task_fn *fn, void *arg);
void act_task_free(struct act *, struct task *);
int task_wait(struct task *, enum wait_kind, const struct af_value *const *,
    size_t n, const struct af_value **out, size_t *index);
void step_run(struct engine *, struct act *);
void act_go_live(struct engine *, struct act *);
void step_take_events(struct engine *);
/* engine_cancel's work, on an activation in memory not Done: record the
 * request (reason: encoded, copied) and queue its delivery. */
int act_cancel(struct engine *, struct act *, const void *reason, size_t n);

/* The activation `id` to take an event (a cancel, a call), loaded from
 * its row if it is not in memory (Failed: it stays so; Active: a wake is
 * queued). AF_ESTATE with *out the act (or NULL if not in memory) when it
 * is Done; AF_ENOTFOUND; AF_ENOMEM; store errors. (engine.c) */
int engine_act_for_event(struct engine *, uint64_t id, struct act **out);

/* ---- exports.c: guest exports and the calls into them ---- */

/* The row's pending_calls: load (AF_EDECODE if malformed) / encode. */
int act_calls_from_row(struct act *, struct af_str raw);
int act_calls_encode(struct buf *, const struct act *);
void act_calls_free(struct act *);
/* Live: journal the pending call of result vow `vow` (doCall) and run
 * its handler. */
void act_deliver_call(struct engine *, struct act *, uint64_t vow);
/* Replay: a doCall entry, at a->pos; AF_OK or the activation is Failed. */
int act_replay_call(struct engine *, struct act *, const struct jentry *);
/* Gone live: queue the delivery of every pending call, in order. */
void act_queue_calls(struct engine *, struct act *);
/* Done: reject with `err` every call it will never answer (pending ones,
 * handlers still waiting, and, when it is not live in memory, those its
 * journal has a doCall and no answer for). Errors fail the pass. */
void
act_calls_abandon(struct engine *, struct act *, const struct af_value *err);
/* Continuing as new (live, loaded): reject, ContinuedAsNew, every call
 * whose handler is at work (its coroutine goes with the old run; run again
 * in the new one, its effects so far would repeat). Calls not delivered
 * yet stay for the new run. */
void act_calls_cut(struct engine *, struct act *);
/* The body of a handler's task (task_entry). */
void export_task_run(struct task *);

void act_load_and_replay(struct engine *, struct act *);
/* Whether the act is over its memory bound (max_act_memory); if so it is
 * Failed now (on its own coroutine, which is then abandoned) or flagged. */
bool act_memory_check(struct engine *, struct act *, size_t more);
/* After a turn: Fail an act flagged over its memory bound. */
void act_memory_settle(struct engine *, struct act *);

/* ---- membrane.c: the journal write set and the replay cursor ---- */

void act_journal_append(struct engine *, struct act *, struct jentry *);
int act_peek_entry(struct act *, struct jentry *);


/* ---- hostobj.c: host objects ---- */

const struct af_value *hostobj_error(struct af_arena *, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int engine_settle_trusted(struct engine *, uint64_t id, bool reject,
    const struct af_value *);
int hostobj_register(struct af_registry *);
/* Whether every resolver named in v is one the host method of h holds. */
bool hostobj_holds_resolvers(const struct af_host *h, const struct af_value *v);

/* ---- commit.c: the pass's writes, commit and recovery ---- */

void engine_on_vow_settled(void *ctx, const struct vow *);
void pass_writes_init(struct pass_writes *);
void pass_writes_release(struct pass_writes *);
void engine_set_errmsg(struct engine *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Read where retention stands (e->prune_next_ms) from the store. */
int engine_prune_load(struct engine *);
/* At close: move the FINISHING_META entries to DB_FINISHED, so that a
 * stopped daemon's store has its whole index there. Best effort: on any
 * failure they stay in the row, which the next daemon reads. */
void engine_finishing_close(struct engine *);
/* Whether the next commit has pruning to do. */
bool engine_prune_due(const struct engine *);
/* An engine in memory, every field set up, nothing read from the store
 * yet: engine_open's and engine_check_open's start. AF_ENOMEM leaves *out
 * (if not NULL) for engine_close. (engine.c) */
int engine_alloc(struct store *, struct af_registry *,
    const struct engine_opts *, struct engine **out);

/* ---- engine_check.c ---- */

void engine_check_passed(struct engine *, struct act *);
/* After a live switch, once per pass before its events: drop a bounded
 * number of the acts built by the old code (evict_old_code_step) and read
 * a chunk of the activation rows for Failed ones to retry under the new
 * code. */
void engine_switch_step(struct engine *);

/* ---- evict.c: memory is a cache ---- */

static inline size_t
engine_max_resident(const struct engine *e)
{
	return e->o.max_resident != 0 ? e->o.max_resident :
					ENGINE_DEFAULT_RESIDENT;
}

/* At open: an activation that is not loaded (over the budget) sleeps. */
void evict_left_asleep(struct engine *);
/* A chunk of the walk of DB_HOLDS for settlements that reached nobody. */
void evict_holds_step(struct engine *);

/* The act is about to take an event: it becomes the most recently used.
 * One built by the code a live switch replaced is first replayed under
 * the new code (evict_switch_act), so no old code runs after a switch. */
void evict_touch(struct engine *, struct act *);
/* An act of the old code generation moves to the new one; if it was
 * loaded it is unloaded and replayed now under the new code. */
void evict_switch_act(struct engine *, struct act *);
/* engine_wake of an act of the old generation: it moves to the new one,
 * unloaded, and a wake replays it under the new code in the next pass
 * (AF_ESTATE if it is Done). */
int evict_switch_wake(struct engine *, struct act *);
/* Drop up to ENGINE_SWAP_DROPS_PER_PASS acts of the old generation. */
void evict_old_code_step(struct engine *);
/* After a commit: evict least recently used acts that wait until at most
 * max_resident stay (or none can go). */
void evict_after_commit(struct engine *);
/* This pass's settlements of vows that an act out of memory waits on:
 * queue their events (step_take_events loads the acts on demand). False
 * if there was nothing new to look up. */
bool evict_lookup_settled(struct engine *);
/* An event for act `id`, not in memory: load it from its row and replay
 * it now (an Active one only). NULL if it is not to run. */
struct act *evict_load_on_demand(struct engine *, uint64_t id);
/* Whether a start can have a coroutine (max_stacks); may evict first. */
bool evict_room_for_start(struct engine *);

/* ---- inspect.c ---- */

int engine_ids_push(struct ids *, uint64_t id);

#endif /* AF_ENGINE_INT_H */
