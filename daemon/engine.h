/*
 * engine.h: the durable flow engine — activations, the scheduler, the
 * membrane that journals every crossing, and replay (DESIGN.md §2–§5).
 *
 * The engine is driven in passes. Callers queue work (engine_start,
 * engine_settle, engine_wake; opening the engine queues the replay of
 * every unfinished activation), then call engine_pass, which takes events
 * one at a time under the step rule — one event, then every coroutine of
 * that activation runs until all wait again — and finally applies
 * everything the pass changed in ONE write transaction (group commit).
 * No transaction is open while flow code runs. Until engine_pass returns
 * AF_OK nothing of the pass is durable, so callers answer requests and
 * push events only after it (the on_commit callback lists the vows that
 * settled). If the commit fails, every request of the pass that wrote (and
 * every read that could have seen such a write) must be answered with the
 * error; the engine drops every activation from memory and rebuilds them
 * by replay from what is committed. If that rebuild cannot read the store
 * either, writes are refused (AF_ESTORE) until a later pass has rebuilt
 * it.
 *
 * It knows no sockets, no libevent and no wire messages: the daemon's
 * server and api layers sit above it. It reaches storage through the
 * opaque store handle it is opened on; callers that need the store or the
 * row layouts include store.h or tables.h themselves. Single-threaded:
 * every call on the thread that opened it.
 *
 * The calls, by purpose:
 *   opening and closing      engine_open, engine_close
 *   requests from outside    engine_start[_keyed], engine_mkvow,
 *                            engine_settle, engine_wake, engine_quarantine,
 *                            engine_terminate
 *   passes                   engine_pass, engine_busy, ...
 *   timers                   engine_next_due, engine_fire_due, ...
 *   inspection               engine_act_info, engine_list, journals, vows
 *   the outbox               engine_outbox_list, engine_invocation
 *   the crash handler        engine_running_act, engine_turn_seq
 */
#ifndef AF_ENGINE_H
#define AF_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asyncflow/flow.h"
#include "buf.h"
#include "vowdef.h"

struct af_registry;
struct engine;
struct store;

/* ---- Opening and closing ---- */

struct engine_quarantine {
	uint64_t act;
	const char *why;
};

/* Called after each successful commit with the vows that reached a final
 * state in it and the result vows of the invocations it created (eventual
 * sends to deliver now). The arrays are valid only during the call, and
 * the hook only reads: it may inspect the engine, not queue work. */
typedef void engine_commit_fn(void *ctx, const uint64_t *settled, size_t n,
    const uint64_t *invocations, size_t ninv);

struct engine_opts {
	size_t stack_size;       /* coroutine stack; 0 = 256 KiB */
	size_t max_idle_stacks;  /* 0 = 64 */
	size_t pass_max_entries; /* journal entries before a pass stops
				     * taking events; 0 = 16384 */
	bool retain_journals;    /* keep the journals of Done activations
				     * (default: deleted, in chunks) */
	/* Retention (DESIGN.md §9): with prune_finished, a Done activation
	 * is pruned (prune.h: its row, vows, idempotency key, journal,
	 * everything it left) once retention_ms have passed since it
	 * finished (0: in the pass after it finished), a bounded number of
	 * rows per commit. Without it (the default, for callers that set
	 * nothing), finished activations are kept until purged. */
	bool prune_finished;
	int64_t retention_ms;
	/* Activations that crashed the previous process: marked Failed and
	 * quarantined in the same commit as the incarnation bump, before any
	 * replay, so a crash cannot loop. */
	const struct engine_quarantine *quarantine;
	size_t nquarantine;
	/* Wall clock for `clock.now` (tests fix it); NULL = real time. */
	int64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
	engine_commit_fn *on_commit;
	void *commit_ctx;
	/* Replay progress, as a one-line status ("replaying 3 of 10
	 * activations", at most once a second while replaying, and a
	 * summary): the same text the engine logs. NULL = none. */
	void (*on_progress)(void *ctx, const char *status);
	void *progress_ctx;
	/* Memory is a cache (DESIGN.md §9): after each commit, activations
	 * whose coroutines all wait are evicted, least recently used first,
	 * until at most max_resident stay in memory; an event for an evicted
	 * one replays it from its journal. 0 = ENGINE_DEFAULT_RESIDENT. */
	size_t max_resident;
	/* Coroutine stacks the kernel lets us map (each is two mappings);
	 * a start that would need more is refused (AF_ELIMIT), never
	 * acknowledged and then Failed. 0 = no limit. */
	size_t max_stacks;
	/* Per-activation memory bound in bytes (0 = none): its arena's
	 * chunks plus a whole stack per coroutine. One that would exceed it
	 * is Failed ("exceeded its memory bound"); the daemon goes on. */
	size_t max_act_memory;
};

#define ENGINE_DEFAULT_RESIDENT 10000
/* Memory mappings kept for everything but coroutine stacks. */
#define ENGINE_MAP_RESERVE      8192

/*
 * --max-resident: fill o->max_resident from arg (NULL: the default, at
 * most ENGINE_DEFAULT_RESIDENT and never more than the kernel's mapping
 * limit, vm.max_map_count, allows with two coroutines each) and
 * o->max_stacks from vm.max_map_count. AF_EINVAL (not a positive number)
 * or AF_ELIMIT (more than the kernel can map), with a message in err.
 */
int engine_resident_budget(const char *arg, struct engine_opts *o, char *err,
    size_t errlen);
/* --max-activation-memory MiB (NULL: none): o->max_act_memory. AF_EINVAL
 * with a message in err if it is not a positive number of MiB larger
 * than one coroutine stack (o->stack_size, 0: the default). */
int engine_memory_bound(const char *arg, struct engine_opts *o, char *err,
    size_t errlen);

/*
 * Open the engine on an open store with the flows and objects in `reg`
 * (borrowed; must outlive the engine; the built-in objects `vows`, `clock`,
 * `random` and `timer` are added to it here, so those names are taken).
 * Bumps the incarnation, checks the journal format (AF_EVERSION if newer),
 * and queues the replay of every activation that is not Done. err gets a
 * message on failure.
 */
int engine_open(struct store *s, struct af_registry *reg,
    const struct engine_opts *opts, struct engine **out, char *err,
    size_t errlen);
/* Free all memory. Uncommitted work is dropped (never half-written). The
 * store stays open (the caller closes it). NULL is a no-op. */
void engine_close(struct engine *e);
/* The process exits right after engine_close: coroutine stacks are left
 * for the exit to unmap (thousands of munmaps took seconds). */
void engine_exiting(struct engine *e);

uint64_t engine_incarnation(const struct engine *e);
/* Whether a flow of that name is registered. */
bool engine_has_flow(const struct engine *e, const char *name);
/* The i-th registered flow (objects: host object) name, in no particular
 * order, or NULL past the last; valid while the engine is open. */
const char *engine_flow_name(const struct engine *e, size_t i);
const char *engine_object_name(const struct engine *e, size_t i);

/* ---- Requests from outside ---- */

/*
 * Queue a new activation of `flow` with `args` (NULL = null). Returns its
 * id and outcome vow at once; it runs in the next pass and is durable when
 * that pass commits. AF_ENOTFOUND: no such flow ("unknown flow") or a vow
 * in args does not exist; AF_EINVAL: args hold a resolver; AF_ELIMIT.
 */
int engine_start(struct engine *e, const char *flow,
    const struct af_value *args, uint64_t *act, uint64_t *outcome);

/*
 * engine_start with an idempotency key (NULL or "" = none): the same key
 * with the same flow and args gives the same activation (*existing = true);
 * the same key with another flow or args is AF_EEXIST. Keys are kept as long
 * as the store (no expiry yet).
 */
int engine_start_keyed(struct engine *e, const char *key, const char *flow,
    const struct af_value *args, uint64_t *act, uint64_t *outcome,
    bool *existing);

/* Whether the last engine_start's AF_ELIMIT meant that no coroutine stack
 * could be had for it (engine_opts.max_stacks): every resident activation
 * still has uncommitted work. Retrying after the next pass may succeed. */
bool engine_start_refused(const struct engine *e);

/* A new vow owned by a client; *secret gets its resolver. */
int
engine_mkvow(struct engine *e, uint64_t *vow, uint8_t secret[VOW_SECRET_LEN]);

/*
 * Settle vow `vow` with the resolver secret. value: the fulfilment or the
 * reason (NULL = null). AF_OK (also for an identical repeat), AF_EDENIED
 * (wrong resolver), AF_ESETTLED, AF_ENOTFOUND, AF_ECYCLE, AF_EINVAL (the
 * value holds a resolver), AF_ELIMIT.
 */
int engine_settle(struct engine *e, uint64_t vow,
    const uint8_t secret[VOW_SECRET_LEN], bool reject,
    const struct af_value *value);

/* Replay activation `act` now with the code registered now (Failed or
 * Sleeping); nothing for Running/Replaying. AF_ESTATE if Done,
 * AF_ENOTFOUND if unknown. act == 0: every Failed activation but the
 * quarantined ones. Waking it by its id is the only way a quarantined
 * activation (one that crashed the daemon) runs again; a restart replays
 * other Failed activations by itself. */
int engine_wake(struct engine *e, uint64_t act);

/* Mark an activation Failed and quarantined with `why`, without replaying
 * it (see engine_opts.quarantine; this is the same for one already open),
 * in memory or asleep (read from its row). AF_ESTATE if Done, AF_ENOTFOUND
 * if unknown, AF_ENOMEM, store errors. */
int engine_quarantine(struct engine *e, uint64_t act, const char *why);

/*
 * Give up on activation `act` (Running, Sleeping, Replaying or Failed,
 * quarantined or not): its outcome vow is rejected with the error
 * {"name": "Terminated", "message": message} (NULL: a default naming the
 * activation, its flow and the state it was in), it no longer waits on
 * anything (its watcher rows go, its pending timers are cancelled and
 * their vows rejected with the same error), its coroutines are dropped,
 * and it is Done, its row's failure text saying "terminated: MESSAGE".
 * All of it is written in the next pass's one commit, so a crash never
 * leaves it half-terminated; its code never runs again. Nothing is
 * journaled (a terminate is not a crossing of the flow). AF_ESTATE if it
 * is Done already, AF_ENOTFOUND if unknown, AF_EINVAL if message is not
 * UTF-8 (nothing changed), AF_ENOMEM, AF_ESTORE. Not on a flow's
 * coroutine.
 */
int engine_terminate(struct engine *e, uint64_t act, const char *message);

/*
 * Delete finished activation `act` now: in the next pass's commit its row
 * goes, so that from then on it is unknown (ENOTFOUND), and what else it
 * left (prune.h) goes in that commit and, for a large one, the next few.
 * AF_EBUSY if it is not finished (Running, Sleeping, Replaying, Failed,
 * or Done in this pass, not yet committed), AF_ENOTFOUND if unknown (or
 * pruned already), AF_ENOMEM, store errors.
 */
int engine_purge(struct engine *e, uint64_t act);

/*
 * Ask activation `act` to stop (issue 10, cancellation). The request is
 * kept in its row, and delivered as an event under the step rule once it
 * is live: journaled as doCancel{reason}, and every coroutine waiting at
 * that point gets AF_CANCELLED from its af_await/af_all/af_race with the
 * reason as *out; af_cancel_requested is true from then on. A Sleeping or
 * Failed one gets it after its replay. `reason` (any arena, checked by the
 * caller: no resolvers, the vows it names exist) may be NULL: an error
 * {"name": "Cancelled", "message": "activation A was cancelled"}.
 * Repeating a cancel is AF_OK and changes nothing (the first reason
 * stands). AF_ENOTFOUND, AF_ESTATE (Done), AF_ELIMIT/AF_ENOMEM.
 */
int
engine_cancel(struct engine *e, uint64_t act, const struct af_value *reason);

/*
 * A call into export `name` of activation `act` (issue 10; flow.h's
 * af_export): method `method`, args encoded (args_n bytes, a canonical
 * Value the caller checked), result vow `vow` (0: a new one is made).
 * *out is the result vow. The call is kept in the activation's row and
 * delivered as an event when it is live; its handler's answer settles the
 * vow. A Done activation's call is answered at once: the vow is rejected
 * with an error named Finished (AF_OK). AF_ENOTFOUND (no such
 * activation), AF_EINVAL (name or method empty, over 128 bytes, with '/'
 * or not UTF-8), AF_ENOMEM, AF_ESTORE.
 */
int engine_call_export(struct engine *e, uint64_t act, const char *name,
    const char *method, const void *args, size_t args_n, uint64_t vow,
    uint64_t *out);
/* The activations af_start_child started from `act`, in id order
 * (*ids malloc'd, the caller frees): a scan of every row, so for `show`
 * and cancel, not for listings. AF_OK, AF_ENOMEM, store errors. */
int engine_children(struct engine *e, uint64_t act, uint64_t **ids, size_t *n);
/* "act/A/NAME" -> A and NAME (a pointer into obj). AF_OK or AF_EINVAL. */
int exports_parse_ref(const char *obj, uint64_t *act, const char **name);
/* Whether m is a method name a call may carry: 1-128 bytes of UTF-8, no
 * '/' nor NUL. */
bool exports_method_ok(const char *m);

/* ---- Passes ---- */

/* Take events — every start and wake, and settlements until the pass
 * budget is spent (at least 256 of them) — then commit. AF_OK, or the
 * commit's error (AF_EFULL, AF_ESTORE, AF_ENOMEM; AF_ESTORE also for a
 * pass that had to finish an earlier recovery first). engine_errmsg says
 * more. */
int engine_pass(struct engine *e);
/* What the last failed pass or open ran into (never NULL; "" if none). */
const char *engine_errmsg(const struct engine *e);
/*
 * What is wrong with the store, for as long as it lasts (stats, health
 * checks): NULL while commits succeed; after a commit or a recovery failed
 * for a storage reason, a text naming it ("ESTORE: mdb_txn_commit:
 * Input/output error", "EFULL: disk full: ..."), kept until a commit
 * succeeds again. While it is set every pass commits (a one-row write if
 * there is nothing else), so it clears on the first pass that can write.
 * A store left unusable by the failure (store.h, store_broken: LMDB's
 * MDB_PANIC) is reopened by the recovery of that pass and of every later
 * one until it works. Valid until the next call on e.
 */
const char *engine_store_fault(const struct engine *e);
/*
 * Whether the store takes writes now, for health checks: AF_OK when a write
 * transaction begins (it is aborted at once: nothing is written), no store
 * fault is set (engine_store_fault) and the last commit did not fail; else
 * the error, with why (one line) saying what failed. Call between passes.
 */
int engine_writable(struct engine *e, char *why, size_t whylen);
/* Replace the on_commit hook given at open (NULL: none). */
void engine_set_commit_hook(struct engine *e, engine_commit_fn *fn, void *ctx);

/* Whether events are waiting for another pass. */
bool engine_busy(const struct engine *e);
/* Passes until idle (tests, shutdown). Stops at the first failed commit. */
int engine_run_until_idle(struct engine *e);

/* ---- Durable timers ---- */

/* The earliest pending timer's due time (ms since the epoch), if any; with
 * retention (engine_opts.prune_finished), also when the oldest finished
 * activation is due to be pruned, if that is earlier. */
bool engine_next_due(const struct engine *e, int64_t *due);
/* Settle every timer that is due now; call before engine_pass. Returns how
 * many fired, or an error. */
int engine_fire_due(struct engine *e);
int64_t engine_now_ms(struct engine *e);
size_t engine_timers_pending(const struct engine *e);

/* ---- Inspection (committed state plus this pass's changes) ---- */

enum engine_state {
	ES_RUNNING,
	ES_SLEEPING,
	ES_REPLAYING,
	ES_FAILED,
	ES_DONE,
};
const char *engine_state_name(enum engine_state s);

struct engine_act_info {
	uint64_t id;
	enum engine_state state;
	char flow[256];
	uint64_t outcome;
	uint64_t journal_length;
	uint64_t incarnation; /* that created it */
	char failure[1024];   /* diagnostic while Failed, else "" */
	/* From its row; 0: unknown (a row written before these existed). */
	int64_t created_ms;        /* wall clock of its start, ms */
	int64_t last_progress_ms;  /* of the last commit that changed it */
	uint64_t last_incarnation; /* the incarnation that last wrote its
				    * journal (or, with none, created it) */
	uint64_t parent;           /* af_start_child's parent; 0: none */
};
int
engine_act_info(struct engine *e, uint64_t act, struct engine_act_info *out);

/* Append the activation's encoded args (a Value message) to b. */
int engine_act_args(struct engine *e, uint64_t act, struct buf *b);

/* The vows the activation holds whose settlement it has not journaled yet,
 * read from the store (*ids malloc'd, caller frees). */
int
engine_waiting_on(struct engine *e, uint64_t act, uint64_t **ids, size_t *n);

/* What one waiting coroutine of an activation waits for. */
enum engine_blocked_kind {
	EB_VOW,   /* a vow settled by someone (a client, a flow, ...) */
	EB_TIMER, /* af_sleep's vow: fulfilled at due_ms */
	EB_SEND,  /* an eventual send's result vow: a server answers it */
};
struct engine_blocked_vow {
	uint64_t vow;
	enum engine_blocked_kind kind;
	bool settled;     /* in an all/race set: settled already */
	int64_t due_ms;   /* EB_TIMER: ms since the epoch */
	char object[256]; /* EB_SEND */
	char method[256]; /* EB_SEND */
};
/* cb(ctx, coroutine, wait, vows, n): coroutine 0 is the flow function,
 * the others number af_spawn's in order (1 the first spawned, whether or
 * not those before it have ended); wait is "await", "all" or "race";
 * vows (n of them) are valid during the call. A nonzero return stops and
 * is returned. */
typedef int engine_blocked_fn(void *ctx, unsigned coroutine, const char *wait,
    const struct engine_blocked_vow *vows, size_t n);
/* Every coroutine of activation `act` that waits now, in order. Only an
 * activation in memory (Running, Replaying) has coroutines: for any other
 * cb is not called. AF_ENOMEM. */
int engine_blocked_on(struct engine *e, uint64_t act, engine_blocked_fn *cb,
    void *ctx);

/* Activations with id > after, in id order, at most limit, optionally only
 * in one state (NULL = any): cb gets each; a nonzero return stops. */
typedef int engine_list_fn(void *ctx, const struct engine_act_info *info);
int engine_list(struct engine *e, const enum engine_state *only, uint64_t after,
    size_t limit, engine_list_fn *cb, void *ctx);
/* engine_list of only the activations of flow `flow` (NULL: any). */
int engine_list_flow(struct engine *e, const enum engine_state *only,
    const char *flow, uint64_t after, size_t limit, engine_list_fn *cb,
    void *ctx);

/* The committed journal as raw JournalEntry messages: entries [from,
 * from + limit) (limit 0: to the end); *length gets the journal's length
 * (0 once a Done activation's journal is deleted). */
typedef int
engine_entry_fn(void *ctx, uint64_t index, const void *entry, size_t n);
int engine_journal_raw(struct engine *e, uint64_t act, uint64_t from,
    uint64_t limit, uint64_t *length, engine_entry_fn *cb, void *ctx);

/* Render the committed journal of `act`, one entry per line, as
 * "INDEX KIND(...)" text into b. */
int engine_journal_text(struct engine *e, uint64_t act, struct buf *b);

/* The vow's state, and its value (decoded into `a`) once settled. */
int engine_vow_state(struct engine *e, uint64_t vow, enum vow_state *st,
    struct af_arena *a, const struct af_value **value);

/* The histograms' upper bounds (Prometheus `le`), in increasing order;
 * one more bucket counts what is above the last. Commit latency is in
 * seconds; a pass's size is the events it took. */
#define ENGINE_COMMIT_BUCKETS 12
#define ENGINE_PASS_BUCKETS   8
extern const double engine_commit_le[ENGINE_COMMIT_BUCKETS];
extern const double engine_pass_le[ENGINE_PASS_BUCKETS];

struct engine_stats {
	uint64_t passes, commits, events;
	uint64_t entries_written, entries_replayed;
	uint64_t acts_loaded;    /* activations brought into memory */
	uint64_t acts_in_memory; /* now */
	uint64_t replays;        /* activations replayed (done) */
	uint64_t replays_failed; /* of those, left Failed */
	uint64_t starts;         /* activations started (engine_start) */
	uint64_t settles;        /* vows settled, counted when committed */
	uint64_t commit_failures;
	int last_commit_rc; /* AF_OK, or how the last commit failed */
	/* Commits by latency (store_begin to store_commit), not cumulative:
	 * commit_hist[i] counts those <= engine_commit_le[i] and above the
	 * bucket before; the last slot those above every bound. */
	uint64_t commit_hist[ENGINE_COMMIT_BUCKETS + 1];
	double commit_seconds; /* their sum */
	/* Passes by events taken, the same way. */
	uint64_t pass_hist[ENGINE_PASS_BUCKETS + 1];
	uint64_t map_used_bytes, map_size_bytes; /* store_usage; 0 if none */
	uint64_t pruned; /* finished activations pruned or purged */
	/* Memory is a cache: maintained counters, read in O(1). */
	uint64_t resident;          /* activations in memory now */
	uint64_t sleeping;          /* Active ones evicted, not in memory */
	uint64_t evictions;         /* activations evicted */
	uint64_t replays_on_demand; /* evicted ones replayed for an event */
	uint64_t failed;            /* activations Failed (committed) */
};
void engine_stats(const struct engine *e, struct engine_stats *st);

/* How many activations are in each state (indexed by enum engine_state),
 * from counters the commits keep: O(1). Running counts those in memory,
 * Sleeping the unfinished ones out of memory. */
int engine_count_states(struct engine *e, uint64_t counts[ES_DONE + 1]);

/* ---- The outbox (eventual sends) ---- */

/* Invocations whose result vow is not settled yet (all, or those sent by
 * activation act): cb(ctx, result vow, sending activation, object name). */
typedef int
engine_outbox_fn(void *ctx, uint64_t vow, uint64_t act, const char *object);
int engine_outbox_list(struct engine *e, uint64_t act, engine_outbox_fn *cb,
    void *ctx);

/* A resolver named in an invocation's args, with its secret. */
struct engine_grant {
	uint64_t vow;
	uint8_t secret[VOW_SECRET_LEN];
};

/* One invocation, as the engine keeps it; the api layer encodes it
 * (api_invocation.h). Views point into storage the struct owns. */
struct engine_invocation {
	uint64_t vow; /* the result vow: settle it to answer */
	bool has_secret;
	uint8_t secret[VOW_SECRET_LEN]; /* its resolver, if has_secret */
	struct af_str object;
	struct af_str method;
	struct af_str args;          /* encoded Value; ptr NULL: absent */
	uint64_t activation;         /* the sender */
	struct engine_grant *grants; /* with secrets: the resolvers
					     * its args name (malloc'd) */
	size_t ngrants;
	struct buf row; /* private: what the views point into */
};

/* Fill *inv for result vow `vow`; with secrets, its resolver and the
 * grants of the resolvers its args name (only for the server it is pushed
 * to). AF_ENOTFOUND once answered. Release with engine_invocation_release
 * (also after a failure). */
int engine_invocation(struct engine *e, uint64_t vow, bool secrets,
    struct engine_invocation *inv);
void engine_invocation_release(struct engine_invocation *inv);

/* ---- Check mode (the upgrade check, engine_check.c) ---- */

/*
 * An engine that only replays, for the upgrade check: opened on a store
 * that may be a read-only snapshot (store_open_lmdb_snapshot), it writes
 * nothing (no incarnation bump, no commit), runs no host method (every
 * answer comes from the journal), sends nothing and queues no replay by
 * itself. engine_check_one replays one activation against the flows in
 * reg and says whether its journal is consumed. Close with engine_close.
 * AF_EVERSION for a store of a newer journal format; store errors.
 */
int engine_check_open(struct store *s, struct af_registry *reg,
    const struct engine_opts *opts, struct engine **out, char *err,
    size_t errlen);

enum engine_verdict {
	EV_OK,             /* the whole journal replayed: it passes */
	EV_DIVERGED,       /* the code did something else at `index` */
	EV_FINISHED_EARLY, /* the flow returned before its journal ended */
	EV_FLOW_MISSING,   /* no flow of its name is registered */
};
const char *engine_verdict_name(enum engine_verdict v);

struct engine_check_result {
	enum engine_verdict verdict;
	char flow[256];
	uint64_t index;          /* DIVERGED, FINISHED_EARLY: journal index */
	uint64_t entries;        /* journal entries replayed */
	uint64_t journal_length; /* its committed journal's */
	char diagnostic[1024];   /* as a Failed activation's failure text */
};

/* Up to max ids of activations that are not Done (Running, Sleeping or
 * Failed, quarantined or not) with id > after, in id order, into ids;
 * *n gets how many (0: none left). */
int engine_check_list(struct engine *e, uint64_t after, uint64_t *ids,
    size_t max, size_t *n);

/* Replay activation `act` in check mode and free it again (memory stays
 * flat over any number of calls). AF_OK with the verdict in *r;
 * AF_ENOTFOUND (no such activation), AF_ESTATE (it is Done), store
 * errors, AF_ENOMEM. A crash or a runaway in guest code is not caught
 * here: the caller runs it in a process of its own (checker.h). */
int
engine_check_one(struct engine *e, uint64_t act, struct engine_check_result *r);

/* ---- The live upgrade (engine_check.c) ---- */

/* Acts of the replaced code dropped from memory per pass after a switch. */
#define ENGINE_SWAP_DROPS_PER_PASS 256

/*
 * Switch the engine to the flows and objects of reg (the live upgrade):
 * call between passes, right after one committed, when nothing is
 * uncommitted (AF_ESTATE otherwise: nothing changed); AF_EBUSY while the
 * registry the last switch replaced has not been taken back yet
 * (engine_take_retired). The built-in objects are added to reg. No old
 * code runs after this returns, but the switch is incremental: the
 * activations in memory, built by the old code, are dropped at most
 * ENGINE_SWAP_DROPS_PER_PASS a pass (replayed under reg's code when an
 * event needs them), an event for one not dropped yet replays it under
 * reg's code first, and the Failed ones but the quarantined are found a
 * chunk of rows per pass and retried under reg's code. *covered gets the
 * number of unfinished activations (Active and Failed rows) now under
 * reg's code. The old registry is still referenced until
 * engine_take_retired hands it back: only then may the caller free it and
 * unload its modules.
 */
int engine_swap_registry(struct engine *e, struct af_registry *reg,
    uint64_t *covered);
/* How many activations in memory were built by the code the last switch
 * replaced (0: none). */
size_t engine_old_code(const struct engine *e);
/* The registry the last switch replaced, once no activation built by it
 * is left in memory (the caller frees it and may unload its modules;
 * given once); NULL before that, or with no switch pending. One not taken
 * back is freed by engine_close. */
struct af_registry *engine_take_retired(struct engine *e);
/* The registry in use (engine_open's, or the last swapped in). */
struct af_registry *engine_registry(const struct engine *e);

/* ---- Testing ---- */

/* Make the engine's nth allocation from now fail as if out of memory
 * (0: none), to show that a failure in a callback surfaces. */
void engine_test_fail_alloc(struct engine *e, unsigned nth);

/* ---- The crash handler ---- */

/* The activation whose guest or host code is running now, or 0. Read by
 * the daemon's crash handler (async-signal-safe: a plain load). */
extern volatile uint64_t engine_running_act;

/* Odd while a coroutine of engine_running_act runs (a flow turn), even
 * between turns; bumped at both ends. Read by the runaway watchdog
 * (watchdog.h) from another thread. */
extern volatile uint64_t engine_turn_seq;

/* Where a replay writes, as it reads each journal entry, that entry's
 * index plus one (NULL: nowhere). The upgrade checker's worker points it
 * into memory it shares with its supervisor, so that a crash or runaway
 * of the new code is placed in the journal (checker.c). */
extern volatile uint64_t *volatile engine_replay_read;

#endif /* AF_ENGINE_H */
