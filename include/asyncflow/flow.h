/*
 * asyncflow/flow.h: the API a flow module is written against. Values, the
 * guest calls that cross the membrane (await, call, send, vow kits, clock,
 * randomness, spawn/all/race), host objects, and the module registry.
 *
 * It is not the client API (that is client/include/asyncflow.h) and it
 * exposes nothing of the store, the journal or the wire.
 *
 * Determinism rules for flow (guest) code
 * ---------------------------------------
 * A flow is re-run from the top after every restart and answered from its
 * journal, so given the same journal it must make the same calls in the same
 * order. It must not do I/O, read clocks, draw random numbers, keep global
 * mutable state or start threads except through this API. It may log (the
 * log lines repeat on replay). Errors compare by name on replay, so a flow
 * must not branch on an error's message.
 *
 * Ownership
 * ---------
 * Every value a flow sees or makes lives in its activation's arena and stays
 * valid until the activation finishes or is dropped from memory; flow code
 * never frees anything. Values are immutable once made. Host methods get an
 * arena of their own for their result (struct af_host).
 *
 * Errors
 * ------
 * Calls return AF_OK (0) or a negative AF_E* code. af_await/af_call return
 * AF_REJECTED (a positive code) when the vow was rejected or the host method
 * threw: that is an answer, not a failure; waits return the positive
 * AF_CANCELLED when the activation is cancelled (af_cancel_requested). When the engine itself cannot go
 * on (replay diverged, the activation is being dropped) the guest call does
 * not return at all: the coroutine is abandoned and the activation becomes
 * Failed with a diagnostic. Flow code therefore never handles divergence.
 */
#ifndef AF_FLOW_H
#define AF_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump when a struct or signature below changes incompatibly. A module's
 * af_module_init gets the daemon's value and must refuse a different one. */
#define AF_MODULE_ABI 1

#include "asyncflow/errors.h"
#include "asyncflow/protocol.h"

/* ---- Values (DESIGN.md §2) ------------------------------------------------ */

enum af_type {
	AF_NULL = 0,
	AF_BOOL,
	AF_INT,
	AF_DOUBLE,
	AF_STRING, /* UTF-8, not NUL-terminated in general: use len */
	AF_BYTES,
	AF_LIST,
	AF_RECORD,   /* keys unique, sorted bytewise */
	AF_VOW,      /* reference to vow `id` */
	AF_RESOLVER, /* the right to settle vow `id` */
	AF_OBJ,      /* host object by name (str) */
	AF_ERROR,    /* name + message */
};

/* Limits, in asyncflow/protocol.h: every constructor checks
 * AF_VALUE_MAX_DEPTH and AF_VALUE_MAX_BYTES; values read back from the store
 * may nest to AF_VALUE_STORED_MAX_DEPTH (the limit before protocol 2), so
 * that old journals replay. */

struct af_str {
	const char *ptr; /* NUL-terminated as a convenience */
	size_t len;
};

struct af_field;

struct af_value {
	enum af_type type;
	union {
		bool b;
		int64_t i;
		double d;
		struct af_str s; /* AF_STRING, AF_BYTES, AF_OBJ */
		uint64_t id;     /* AF_VOW, AF_RESOLVER */
		struct {
			const struct af_value *const *items;
			size_t len;
		} list;
		struct {
			const struct af_field *fields;
			size_t len;
		} rec;
		struct {
			struct af_str name;
			struct af_str message;
		} err;
	} u;
};

struct af_field {
	struct af_str key;
	const struct af_value *value;
};

/* An arena: values are allocated in it and all freed with it. */
struct af_arena;

/*
 * Constructors. Each returns a value in `a`, or NULL when out of memory or
 * a limit is exceeded (the string constructors also return NULL for invalid
 * UTF-8). Inputs are copied; the caller keeps ownership of its buffers.
 * Arguments that are themselves values must already be valid values (any
 * arena); they are referenced, not copied.
 */
const struct af_value *af_null(struct af_arena *a);
const struct af_value *af_bool(struct af_arena *a, bool b);
const struct af_value *af_int(struct af_arena *a, int64_t i);
const struct af_value *af_double(struct af_arena *a, double d);
const struct af_value *af_string(struct af_arena *a, const char *s);
const struct af_value *af_stringn(struct af_arena *a, const char *s, size_t n);
const struct af_value *af_bytes(struct af_arena *a, const void *p, size_t n);
const struct af_value *af_vow_ref(struct af_arena *a, uint64_t id);
const struct af_value *af_resolver_ref(struct af_arena *a, uint64_t id);
const struct af_value *af_obj(struct af_arena *a, const char *name);
const struct af_value *
af_error(struct af_arena *a, const char *name, const char *message);
/* A list of `n` items (copied array of pointers). */
const struct af_value *
af_list_of(struct af_arena *a, const struct af_value *const *items, size_t n);
/* A record from parallel arrays; keys are sorted here; a duplicate key
 * returns NULL. */
const struct af_value *af_record(struct af_arena *a, const char *const *keys,
    const struct af_value *const *vals, size_t n);

/* Accessors. af_get returns the field's value or NULL (not a record, or no
 * such key). af_at returns item i or NULL. */
const struct af_value *af_get(const struct af_value *rec, const char *key);
const struct af_value *af_at(const struct af_value *list, size_t i);

/* Structural equality as replay uses it: same type and contents, doubles by
 * bit pattern, vows/resolvers by id, errors by name only. */
bool af_value_equal(const struct af_value *x, const struct af_value *y);

/* Copy a value (deeply) into another arena. NULL on failure. */
const struct af_value *
af_value_copy(struct af_arena *a, const struct af_value *v);

/* Allocate raw memory in an arena (16-byte aligned). NULL on failure. */
void *af_arena_alloc(struct af_arena *a, size_t n);

/* ---- The guest API ------------------------------------------------------- */

/* The running activation, as seen by flow code. Valid only inside the flow
 * function (and the coroutines it spawns) that received it. */
struct af_flow;

/*
 * A flow function. `args` is the activation's argument value. Set *result
 * and return AF_OK to fulfil the outcome vow, or AF_REJECTED to reject it
 * (*result is the reason, usually an error value). Returning a vow
 * reference makes the outcome follow that vow. Any other return code or a
 * NULL *result makes the activation Failed ("flow returned a malformed
 * value").
 */
typedef int af_flow_fn(struct af_flow *f, const struct af_value *args,
    const struct af_value **result);

/* The activation's arena: make values for calls and results with it. */
struct af_arena *af_flow_arena(struct af_flow *f);
/* The activation's id (stable across replays). */
uint64_t af_flow_id(struct af_flow *f);
/* True while the activation is replaying its journal: for logging only;
 * a flow must not behave differently on it. */
bool af_flow_replaying(struct af_flow *f);

/*
 * Versioning inside a flow: whether this run of the flow takes the code
 * added under the patch named `id` (a non-empty UTF-8 string, unique
 * within the flow). Live, it journals a marker (a `patched` entry naming
 * id) and returns true. Replaying, it returns true only if the journal
 * holds that marker at this position (the marker is consumed), and false
 * otherwise, writing nothing: the journal was written by code older than
 * the patch, which never took the new path. So new code can branch around
 * a change and still replay the journals of activations in flight:
 *
 *     af_call(f, "bank", "withdraw", amount, &r);
 *     if (af_patched(f, "notify-after-withdraw"))
 *             af_call(f, "mail", "send", note, &sent);   (the new step)
 *     af_await(f, done, &v);
 *
 * An activation whose journal goes on past this point replays it on the
 * false path and goes on from there (it never takes the new step); one
 * whose journal ends here (it was waiting, as above, for `done` or any
 * later wait) is live at this point, so it takes the new step like a new
 * one: nothing it journaled contradicts it. Either way no divergence.
 * Those that take it replay so (the marker is in their journal). Code older
 * than the patch that replays a journal holding a marker diverges (the
 * diagnostic names `patched(ID)`), as for any other unexpected entry: so
 * keep the call for as long as any unfinished activation's journal may
 * hold the marker. A NULL or empty id is false and journals nothing.
 * Deterministic: call it at the same point on every run.
 */
bool af_patched(struct af_flow *f, const char *id);

/*
 * Start this activation over on `args` (NULL = null), for a flow that
 * loops for ever (a subscription, a poller) and must keep its journal and
 * arena bounded. In one commit the activation's journal is replaced by an
 * empty one and its args by `args`; its id and its outcome vow stay, and
 * in the pass after that commit the flow function runs again from the top
 * on the new args, on a fresh arena, every coroutine of the old run
 * (spawned ones too) dropped. A restart replays from there: nothing
 * before the last continue-as-new is ever replayed again.
 *
 * What carries over is what args name: vows and resolvers the flow holds
 * may be passed in args, and the new run holds them (a pending vow is
 * awaited as usual; an eventual send's result vow is still answered by
 * its server, its invocation untouched). Vows it held and does not pass
 * are no longer its own to wait for (nothing of theirs reaches the new
 * run); values the old run had are gone with its arena. Calls into its
 * exports (af_export) whose handlers are still at work are rejected,
 * {"@error": {"name": "ContinuedAsNew", ...}}, in the same commit (run
 * again by the new run, their effects so far would repeat); calls that
 * have not reached a handler yet are delivered to the new run, and
 * rejected NotFound if it does not export that name again.
 *
 * On success it does not return (like a divergence, the calling coroutine
 * is abandoned). It returns AF_EDENIED if args name a resolver the flow
 * does not hold, AF_ENOMEM; args that are not a valid value make the
 * activation Failed, as for af_call. Journals nothing itself: met while
 * replaying with journal entries left, it is a divergence (the diagnostic
 * names continue_as_new). Deterministic: call it at the same point on
 * every run.
 */
int af_continue_as_new(struct af_flow *f, const struct af_value *args);

/*
 * Wait until `vow` (an AF_VOW value) settles. AF_OK: *out is the fulfilment.
 * AF_REJECTED: *out is the reason. AF_EINVAL: `vow` is not a vow reference;
 * AF_ENOTFOUND: it names no vow (an id the flow made up, not one it was
 * given, got from a call or made): no wait happens in either case. Awaiting
 * the same vow again returns its settlement at once.
 */
int af_await(struct af_flow *f, const struct af_value *vow,
    const struct af_value **out);

/*
 * Call method `method` of host object `obj` synchronously (built-in and
 * module objects). Journaled as checkCall + doReturn/doThrow; on replay the
 * host is not called. AF_OK: *out is the result. AF_REJECTED: the host threw,
 * *out is the error. An unknown object or method is a thrown error
 * ("NotFound"), not a failure of the flow. `args` may be NULL (null).
 * AF_EINVAL, nothing journaled: `obj` or `method` empty or not UTF-8.
 */
int af_call(struct af_flow *f, const char *obj, const char *method,
    const struct af_value *args, const struct af_value **out);

/*
 * Eventual send: ask object `obj` — served by a client (DESIGN.md §2) —
 * to run `method` with `args`. Returns at once: AF_OK with *vow the result
 * vow, which the server settles; await it when the answer is needed.
 * Journaled as checkSend + doReturn{vow}; the invocation is durable in the
 * daemon's outbox from the same commit, delivered at least once (again
 * after a server disconnects or the daemon restarts) until the vow settles,
 * and never re-sent on replay. Resolvers named in args are handed to the
 * server (it may settle those vows). AF_REJECTED with *vow an error if
 * args name a resolver this flow does not hold. AF_EINVAL, nothing
 * journaled: `obj` or `method` empty or not UTF-8.
 */
int af_send(struct af_flow *f, const char *obj, const char *method,
    const struct af_value *args, const struct af_value **vow);

/* A vow fulfilled (with its due time, ms since the epoch) once `ms` ms
 * have passed: a durable timer (`timer.sleep`) that survives restarts and
 * fires at start if it came due while the daemon was down. NULL on a
 * negative ms, on one whose due time would be past INT64_MAX ms since the
 * epoch, or out of memory: a flow that must tell these apart calls
 * af_call(f, "timer", "sleep", ms, &v) itself (the same journal entries),
 * which rejects with a TypeError or a RangeError. */
const struct af_value *af_sleep(struct af_flow *f, int64_t ms);

/* A new vow and its resolver (built-in object `vows`, method `make`).
 * Returns the vow reference; *resolver gets the resolver reference. */
const struct af_value *
af_vow_kit(struct af_flow *f, const struct af_value **resolver);

/* Settle a vow the flow holds the resolver of (`vows.resolve` /
 * `vows.reject`). AF_OK, or AF_REJECTED with *err set when refused
 * (e.g. already settled differently). */
int af_resolve(struct af_flow *f, const struct af_value *resolver,
    const struct af_value *value, const struct af_value **err);
int af_reject(struct af_flow *f, const struct af_value *resolver,
    const struct af_value *reason, const struct af_value **err);

/* Wall-clock milliseconds since the epoch, journaled (`clock.now`). */
int64_t af_now(struct af_flow *f);
/* 64 random bits, journaled (`random.next`). */
uint64_t af_random(struct af_flow *f);

/*
 * Run fn(f, arg) on a new coroutine of the same activation. It starts at the
 * next scheduling point (FIFO) and shares the arena. Nothing is journaled:
 * this is guest-side scheduling. Returns AF_OK or AF_ENOMEM.
 * A spawned coroutine still waiting when the main flow function returns is
 * abandoned.
 */
typedef void af_task_fn(struct af_flow *f, void *arg);
int af_spawn(struct af_flow *f, af_task_fn *fn, void *arg);

/*
 * af_all: wait for every vow in vows[0..n). AF_OK: *out is the list of their
 * fulfilments in order. AF_REJECTED: *out is the reason of the first to be
 * rejected (in settlement order).
 * af_race: wait for the first to settle. *index (may be NULL) gets its
 * position; the return is AF_OK or AF_REJECTED as for af_await.
 * Both journal nothing themselves, and return AF_EINVAL / AF_ENOTFOUND
 * without waiting when one of the vows would make af_await do so.
 */
int af_all(struct af_flow *f, const struct af_value *const *vows, size_t n,
    const struct af_value **out);
int af_race(struct af_flow *f, const struct af_value *const *vows, size_t n,
    const struct af_value **out, size_t *index);

/*
 * af_all_settled: wait until every vow in vows[0..n) has settled, however.
 * AF_OK: *out is a list, in the order of `vows`, of records
 * {"status": "fulfilled", "value": V} and {"status": "rejected",
 * "reason": R}, in the activation's arena. A rejection does not end the
 * wait (as it does af_all's). Journals nothing itself; AF_EINVAL /
 * AF_ENOTFOUND as af_all, AF_ENOMEM when the list cannot be built.
 */
int af_all_settled(struct af_flow *f, const struct af_value *const *vows,
    size_t n, const struct af_value **out);

/*
 * Cancellation (`asyncflowctl cancel A [--reason ERROR_JSON]`). The request
 * reaches the activation as an event, journaled (doCancel) like a
 * settlement: every coroutine waiting at that point returns AF_CANCELLED
 * from its af_await, af_all, af_all_settled or af_race, with *out the
 * reason (by default an error named Cancelled). Nothing else is forced:
 * later waits work normally, so the flow may compensate (send, sleep,
 * await) and then return or reject. A flow that ignores it carries on.
 * af_cancel_requested is true from the delivery on (deterministic: the
 * same on replay); it never waits and journals nothing. A flow function
 * that returns AF_CANCELLED (passing a wait's code on) rejects its
 * outcome with *result, as AF_REJECTED does.
 */
bool af_cancel_requested(struct af_flow *f);

/*
 * Exports: objects of the flow's own that others call into.
 *
 * af_export gives the activation an object named `name` and sets *ref to
 * its reference {"@obj": "act/A/NAME"} (A the activation id), a value the
 * flow may hand out (in its outcome, a send's args, a host call). Each
 * call to it, from a client (`asyncflowctl call`) or a flow
 * (af_send(f, "act/A/NAME", method, args, &vow)), reaches the activation
 * as an event, journaled as doCall{name, method, args, vow}, and runs
 * fn(f, arg, method, args, &result) on a new coroutine of the activation
 * (it may await, call and send like any flow code). Returning AF_OK
 * fulfils the call's result vow with *result, AF_REJECTED (or
 * AF_CANCELLED) rejects it; the answer is journaled as checkReturn /
 * checkThrow{vow, result}, a guest action compared on replay (a different
 * answer is a divergence), and the vow settles in the same commit. Any
 * other return, or a malformed result, makes the activation Failed and
 * the caller's vow stays pending. A call to a name not exported when it
 * arrives is rejected with an error named NotFound; calls left unanswered
 * when the activation ends are rejected with an error named Finished.
 * Export at the same point on every run (determinism); `name` is copied,
 * 1-128 bytes of UTF-8 without '/'; `arg` is the flow's (it must outlive
 * the activation's coroutines, e.g. in its arena).
 * Returns AF_OK; AF_EEXIST (the name is exported already in this
 * activation); AF_EINVAL (bad name, NULL fn or ref); AF_ENOMEM.
 */
/*
 * Start flow `flow` with args (NULL: null) as a child of this activation
 * and set *outcome to its outcome vow (await it as any vow). Journaled as
 * a call on the built-in `flows` object (flows.start), so a replay does
 * not start it again and a crash before the commit starts none: the
 * child's start commits with the parent's journal entries. `show` of the
 * child names its parent, `show` of the parent lists its children, and
 * cancelling the parent cancels its unfinished children. Args may not
 * hold resolvers. AF_OK; AF_REJECTED with *outcome an error (NotFound: no
 * such flow; TypeError); AF_EINVAL (flow NULL or empty); AF_ENOMEM.
 * (Not af_start: that is the client library's, and both headers must be
 * includable together.)
 */
int af_start_child(struct af_flow *f, const char *flow,
    const struct af_value *args, const struct af_value **outcome);

typedef int af_export_fn(struct af_flow *f, void *arg, const char *method,
    const struct af_value *args, const struct af_value **result);
int af_export(struct af_flow *f, const char *name, af_export_fn *fn, void *arg,
    const struct af_value **ref);

/* ---- Host objects ----------------------------------------------------------- */

/* What a host method gets besides its arguments. */
struct af_host;

/* The arena for the method's result. */
struct af_arena *af_host_arena(struct af_host *h);
/* Make a vow; its resolver secret stays in the vow table. Returns the vow
 * reference (and, if `resolver` is not NULL, the resolver reference), or NULL
 * on failure. */
const struct af_value *
af_host_vow_kit(struct af_host *h, const struct af_value **resolver);
/* Settle a vow made with af_host_vow_kit during this call, or whose resolver
 * is in this call's args. AF_OK, AF_ESETTLED, AF_ECYCLE, AF_ENOTFOUND;
 * AF_EDENIED for any other vow, or a value naming a resolver the method
 * does not hold. A method's result may likewise name only those resolvers
 * (any other makes the call throw HostError). */
int af_host_resolve(struct af_host *h, const struct af_value *resolver,
    const struct af_value *value);
int af_host_reject(struct af_host *h, const struct af_value *resolver,
    const struct af_value *reason);
/* The activation that called (0 if none). */
uint64_t af_host_caller(struct af_host *h);

/*
 * A host method. Runs on the daemon's loop thread while the calling flow is
 * suspended; must not block. It runs once per committed journal entry, but
 * at least once in the world (a crash before commit runs it again), so its
 * effects outside the store must be idempotent. Return AF_OK with *result
 * set, or AF_REJECTED with *result an error value (the guest sees a throw).
 */
typedef int af_method_fn(struct af_host *h, void *obj_data,
    const struct af_value *args, const struct af_value **result);

struct af_method {
	const char *name;
	af_method_fn *fn;
};

/* ---- Modules ---------------------------------------------------------------- */

struct af_registry;

/* Register a flow under `name`. AF_EEXIST if the name is taken. The name and
 * function must stay valid while the module is loaded. */
int af_register_flow(struct af_registry *r, const char *name, af_flow_fn *fn);

/* Register host object `name` with `n` methods (the array is copied;
 * names must stay valid). `data` is passed to every method. */
int af_register_object(struct af_registry *r, const char *name,
    const struct af_method *methods, size_t n, void *data);

/* The entry point a module .so exports. Return AF_OK, or an error code to
 * refuse loading (e.g. abi != AF_MODULE_ABI). */
typedef int af_module_init_fn(struct af_registry *r, unsigned abi);
#define AF_MODULE_INIT_SYMBOL "af_module_init"

/* Optional, and recommended: a module may also export the ABI it was built
 * for, by writing at file scope
 *
 *     AF_MODULE_ABI_DEFINE;
 *
 * Then the daemon refuses a module built for another ABI before it runs
 * any of its code, with a message naming both (without it, only
 * af_module_init can refuse, and the daemon cannot say why). */
extern const unsigned af_module_abi;
#define AF_MODULE_ABI_SYMBOL "af_module_abi"
#define AF_MODULE_ABI_DEFINE const unsigned af_module_abi = AF_MODULE_ABI

#ifdef __cplusplus
}
#endif
#endif /* AF_FLOW_H */
