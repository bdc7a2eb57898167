/*
 * check_engine.c: the engine against a real LMDB store in a temporary
 * directory: journaling, replay, upgrade, divergence, vows, group commit,
 * a failed commit injected through the store seam, and a restart across a
 * real process boundary (fork + _exit without closing anything).
 *
 * "Restart" here = engine_close + store_close, then open both again with a
 * registry built from a chosen code version (struct version below), which
 * is what a daemon restart with another module does.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_invocation.h"
#include "arena.h"
#include "children.h"
#include "engine.h"
#include "engineutil.h"
#include "journal.h"
#include "log.h"
#include "registry.h"
#include "store.h"
#include "tables.h"
#include "faultstore.h"
#include "storeutil.h"
#include "testutil.h"
#include "value.h"

/* ---- Host objects -------------------------------------------------------- */

static int host_calls;      /* how often any test host method ran */
static bool sender_swapped; /* the "new code" of flow_sender */
static int64_t fake_now = 1000000;

/* counter.next(i): a vow settled with i, returned unsettled-looking. */
static int
counter_next(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *r, *v;

	(void)data;
	host_calls++;
	if ((v = af_host_vow_kit(h, &r)) == NULL)
		return AF_ENOMEM;
	if (af_host_resolve(h, r, args) != AF_OK)
		return AF_ESTORE;
	*result = v;
	return AF_OK;
}

/* calc.double(i) = 2i; calc.fail() throws RangeError. */
static int
calc_double(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)data;
	host_calls++;
	if (args->type != AF_INT) {
		*result = af_error(af_host_arena(h), "TypeError", "want int");
		return AF_REJECTED;
	}
	*result = af_int(af_host_arena(h), args->u.i * 2);
	return AF_OK;
}

static int
calc_fail(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)data;
	(void)args;
	host_calls++;
	*result = af_error(af_host_arena(h), "RangeError", "always fails");
	return AF_REJECTED;
}

/* bad.utf8(): returns a string that is not UTF-8, built by hand. */
static int
bad_utf8(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	struct af_value *v = af_arena_alloc(af_host_arena(h), sizeof(*v));

	(void)data;
	(void)args;
	host_calls++;
	if (v == NULL)
		return AF_ENOMEM;
	v->type = AF_STRING;
	v->u.s = (struct af_str){ "\xff\xfe", 2 };
	*result = v;
	return AF_OK;
}

static const struct af_method bad_methods[] = { { "utf8", bad_utf8 } };
/* pass.echo(x) = x: a host method that hands back what it was given. */
static int
pass_echo(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	host_calls++;
	*result = args;
	return AF_OK;
}

/* forge.resolver(id): makes up the resolver of vow id and returns it. */
static int
forge_resolver(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)data;
	host_calls++;
	*result = af_resolver_ref(af_host_arena(h), (uint64_t)args->u.i);
	return AF_OK;
}

/* forge.settle(id or resolver): af_host_resolve on it with "by host";
 * returns what af_host_resolve returned. */
static int
forge_settle(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *ar = af_host_arena(h);
	const struct af_value *r = args;

	(void)data;
	host_calls++;
	if (args->type == AF_INT)
		r = af_resolver_ref(ar, (uint64_t)args->u.i);
	*result = af_int(ar, af_host_resolve(h, r, af_string(ar, "by host")));
	return AF_OK;
}

static const struct af_method pass_methods[] = { { "echo", pass_echo } };
static const struct af_method forge_methods[] = {
	{ "resolver", forge_resolver },
	{ "settle", forge_settle },
};
static const struct af_method counter_methods[] = { { "next", counter_next } };
static const struct af_method calc_methods[] = {
	{ "double", calc_double },
	{ "fail", calc_fail },
};

/* ---- Flows ----------------------------------------------------------------- */

#define A(f) af_flow_arena(f)

static int
flow_echo(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	*result = args;
	return AF_OK;
}

/* calc.double(args.n), then await args.v, return [double, v]. */
static int
flow_call_await(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *d, *v, *items[2];
	int rc;

	if (af_call(f, "calc", "double", af_get(args, "n"), &d) != AF_OK)
		return AF_REJECTED;
	rc = af_await(f, af_get(args, "v"), &v);
	items[0] = d;
	items[1] = v;
	*result = af_list_of(A(f), items, 2);
	return rc;
}

/* calc.double(toggle_n), then await args.v, return v: changing toggle_n
 * is new code that diverges from the journal of the old. */
static int toggle_n;

static int
flow_toggle(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *d;

	af_call(f, "calc", "double", af_int(A(f), toggle_n), &d);
	return af_await(f, af_get(args, "v"), result);
}

/* Allocates args.n KiB in 64 KiB pieces, touching each; returns n. */
static int
flow_hog(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	int64_t i, n = af_get(args, "n")->u.i;
	char *p;

	for (i = 0; i < n / 64; i++) {
		if ((p = af_arena_alloc(A(f), 64 << 10)) == NULL)
			return AF_ENOMEM;
		memset(p, 1, 64 << 10);
	}
	*result = af_int(A(f), n);
	return AF_OK;
}

/* Version 2 of call_await that diverges: calls triple-ish (3n). */
static int
flow_call_await_diverging(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *d, *v;
	const struct af_value *n = af_int(A(f), af_get(args, "n")->u.i + 1);

	af_call(f, "calc", "double", n, &d);
	af_await(f, af_get(args, "v"), &v);
	*result = v;
	return AF_OK;
}

/* Version that awaits before calling: the idle-while-expected stall. */
static int
flow_call_await_reordered(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *d, *v;

	af_await(f, af_get(args, "v"), &v);
	af_call(f, "calc", "double", af_get(args, "n"), &d);
	*result = v;
	return AF_OK;
}

/* Returns at once: early completion when a journal exists. */
static int
flow_call_await_early(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	*result = args;
	return AF_OK;
}

/* Host throw: the guest sees the error and goes on. */
static int
flow_thrower(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *err, *v;

	if (af_call(f, "calc", "fail", NULL, &err) != AF_REJECTED)
		return AF_REJECTED;
	af_await(f, af_get(args, "v"), &v);
	*result = err;
	return AF_OK;
}

/* Loop N (args.n) times: v = counter.next(i); await v; sum. */
static int
flow_loop(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v, *x;
	int64_t i, n = af_get(args, "n")->u.i, sum = 0;

	for (i = 0; i < n; i++) {
		if (af_call(f, "counter", "next", af_int(A(f), i), &v) != AF_OK)
			return AF_REJECTED;
		if (af_await(f, v, &x) != AF_OK)
			return AF_REJECTED;
		sum += x->u.i;
	}
	if (af_get(args, "hang") != NULL)
		af_await(f, af_get(args, "hang"), &x);
	*result = af_int(A(f), sum);
	return AF_OK;
}

/* Await the same vow twice, and a second vow held from args but awaited
 * only after a host call. */
static int
flow_twice(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *a1, *a2, *b, *d, *items[3];

	af_await(f, af_get(args, "a"), &a1);
	af_call(f, "calc", "double", af_int(A(f), 1), &d);
	af_await(f, af_get(args, "a"), &a2);
	af_await(f, af_get(args, "b"), &b);
	items[0] = a1;
	items[1] = a2;
	items[2] = b;
	*result = af_list_of(A(f), items, 3);
	return AF_OK;
}

/* all or race over args.vows (a list). */
static int
flow_all(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *l = af_get(args, "vows");

	return af_all(f, l->u.list.items, l->u.list.len, result);
}

/* af_all_settled over args.vows; its code is returned as given. */
static int
flow_all_settled(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *l = af_get(args, "vows");

	return af_all_settled(f, l->u.list.items, l->u.list.len, result);
}

/* Cancellation: a spawned coroutine waits in af_all on args.a, the main
 * one in af_race on [args.a, args.b]. Cancelled, both see AF_CANCELLED;
 * the main one then compensates (a host call, and a wait on args.comp,
 * which works normally) and rejects with
 * {"reason": R, "requested": af_cancel_requested, "spawned": CODE}.
 * Not cancelled, it returns what won the race. */
struct cancel_seen {
	const struct af_value *a;
	int rc;
	bool requested_before;
};

static void
task_all_cancelled(struct af_flow *f, void *arg)
{
	struct cancel_seen *cs = arg;
	const struct af_value *out;

	cs->requested_before = af_cancel_requested(f);
	cs->rc = af_all(f, &cs->a, 1, &out);
}

static int
flow_cancellable(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *set[2] = { af_get(args, "a"),
		af_get(args, "b") };
	const struct af_value *v, *c, *vals[3];
	const char *keys[3] = { "reason", "requested", "spawned" };
	struct cancel_seen *cs = af_arena_alloc(A(f), sizeof(*cs));
	int rc;

	cs->rc = -1;
	cs->a = set[0];
	af_spawn(f, task_all_cancelled, cs);
	rc = af_race(f, set, 2, &v, NULL);
	if (rc != AF_CANCELLED) {
		*result = v;
		return rc;
	}
	if (cs->requested_before ||
	    af_call(f, "counter", "next", NULL, &c) != AF_OK ||
	    af_await(f, af_get(args, "comp"), &c) != AF_OK)
		return AF_EINVAL;
	vals[0] = v;
	vals[1] = af_bool(A(f), af_cancel_requested(f));
	vals[2] = af_int(A(f), cs->rc);
	*result = af_record(A(f), keys, vals, 3);
	return AF_REJECTED;
}

/*
 * Exports: "counter" with add {"n"} (total so far, plus export_bias: a
 * changed answer for the divergence test), get, slow {"v": VOW} (awaits
 * it: a handler that waits) and bad (a malformed answer). The main
 * function awaits args.done and returns [total, code of exporting the
 * same name twice].
 */
static int export_bias;

struct counter_state {
	int64_t total;
};

static int
counter_handler(struct af_flow *f, void *arg, const char *method,
    const struct af_value *args, const struct af_value **result)
{
	struct counter_state *st = arg;
	const struct af_value *n;

	if (strcmp(method, "add") == 0) {
		n = af_get(args, "n");
		if (n == NULL || n->type != AF_INT) {
			*result = af_error(A(f), "TypeError", "add takes n");
			return AF_REJECTED;
		}
		st->total += n->u.i;
		*result = af_int(A(f), st->total + export_bias);
		return AF_OK;
	}
	if (strcmp(method, "get") == 0) {
		*result = af_int(A(f), st->total);
		return AF_OK;
	}
	if (strcmp(method, "slow") == 0)
		return af_await(f, af_get(args, "v"), result);
	if (strcmp(method, "bad") == 0)
		return AF_EINVAL;
	*result = af_error(A(f), "NoMethod", method);
	return AF_REJECTED;
}

static int
flow_counter_obj(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct counter_state *st = af_arena_alloc(A(f), sizeof(*st));
	const struct af_value *ref, *ref2, *v, *items[2];
	int dup;

	st->total = 0;
	if (af_export(f, "counter", counter_handler, st, &ref) != AF_OK)
		return AF_EINVAL;
	dup = af_export(f, "counter", counter_handler, st, &ref2);
	if (af_await(f, af_get(args, "done"), &v) != AF_OK)
		return AF_EINVAL;
	items[0] = af_int(A(f), st->total);
	items[1] = af_int(A(f), dup);
	*result = af_list_of(A(f), items, 2);
	return AF_OK;
}

/* Exports "counter" (counter_handler); when args.next is given, awaits it
 * and continues as new on {"done": args.done}; then awaits args.done and
 * returns the total. */
static int
flow_obj_can(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct counter_state *st = af_arena_alloc(A(f), sizeof(*st));
	const struct af_value *ref, *v, *next = af_get(args, "next");
	const char *k = "done";
	const struct af_value *done = af_get(args, "done");

	st->total = 0;
	if (af_export(f, "counter", counter_handler, st, &ref) != AF_OK)
		return AF_EINVAL;
	if (next != NULL) {
		af_await(f, next, &v);
		return af_continue_as_new(f, af_record(A(f), &k, &done, 1));
	}
	if (af_await(f, done, &v) != AF_OK)
		return AF_EINVAL;
	*result = af_int(A(f), st->total);
	return AF_OK;
}

/* af_send(f, args.obj, "add", {"n": args.n}) and await its answer. */
static int
flow_caller(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const char *k = "n";
	const struct af_value *n = af_get(args, "n"), *vow;
	const struct af_value *obj = af_get(args, "obj");
	char name[64];
	int rc;

	snprintf(name, sizeof(name), "%.*s", (int)obj->u.s.len, obj->u.s.ptr);
	rc = af_send(f, name, "add", af_record(A(f), &k, &n, 1), &vow);
	if (rc != AF_OK) {
		*result = vow;
		return rc;
	}
	return af_await(f, vow, result);
}

/* af_start_child("cancellable", args), await its outcome. */
static int
flow_parent(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *out;
	int rc;

	if ((rc = af_start_child(f, "cancellable", args, &out)) != AF_OK) {
		*result = out;
		return rc;
	}
	return af_await(f, out, result);
}

static int
flow_race(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *l = af_get(args, "vows"), *v, *items[2];
	size_t idx;
	int rc;

	rc = af_race(f, l->u.list.items, l->u.list.len, &v, &idx);
	items[0] = af_int(A(f), (int64_t)idx);
	items[1] = v;
	*result = af_list_of(A(f), items, 2);
	return rc == AF_OK ? AF_OK : AF_REJECTED;
}

/* Spawn two tasks that each await a vow and record arrival order through
 * host calls; main awaits both via a kit each. */
struct spawn_ctx {
	const struct af_value *vow;
	const struct af_value *resolver;
};

static void
task_await(struct af_flow *f, void *arg)
{
	struct spawn_ctx *c = arg;
	const struct af_value *v, *d;

	af_await(f, c->vow, &v);
	af_call(f, "calc", "double", v, &d);
	af_resolve(f, c->resolver, d, NULL);
}

static int
flow_spawn(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct spawn_ctx *c = af_arena_alloc(A(f), 2 * sizeof(*c));
	const struct af_value *outs[2];

	for (int i = 0; i < 2; i++) {
		c[i].vow = af_at(af_get(args, "vows"), (size_t)i);
		outs[i] = af_vow_kit(f, &c[i].resolver);
		af_spawn(f, task_await, &c[i]);
	}
	return af_all(f, outs, 2, result);
}

/* Returns a vow: its outcome follows. */
static int
flow_return_vow(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	*result = af_get(args, "v");
	return AF_OK;
}

static int
flow_malformed(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	(void)args;
	*result = NULL;
	return AF_OK;
}

static int
flow_reject(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)args;
	*result = af_error(A(f), "Nope", "rejected on purpose");
	return AF_REJECTED;
}

/* ---- Harness --------------------------------------------------------------- */

/* Two eventual sends, awaited in order; sender_swapped reverses them
 * (the divergent reordering of "new code"). */
static int
flow_sender(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const char *m1 = "withdraw", *m2 = "deposit";
	const struct af_value *v1, *v2, *r1, *r2, *items[2];

	(void)args;
	if (sender_swapped) {
		m1 = "deposit";
		m2 = "withdraw";
	}
	if (af_send(f, "bank", m1, af_int(A(f), 1), &v1) != AF_OK ||
	    af_send(f, "bank", m2, af_int(A(f), 2), &v2) != AF_OK)
		return AF_REJECTED;
	af_await(f, v1, &r1);
	af_await(f, v2, &r2);
	items[0] = r1;
	items[1] = r2;
	*result = af_list_of(A(f), items, 2);
	return AF_OK;
}

static int
flow_napper(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v = af_sleep(f, af_get(args, "ms")->u.i), *due;

	if (v == NULL || af_await(f, v, &due) != AF_OK)
		return AF_REJECTED;
	*result = due;
	return AF_OK;
}

/* Blocked on everything at once: a spawned coroutine (the second: the
 * first ends at once) awaits a timer of args.ms while the flow function
 * waits for all of [args.v, the result of a send to bank.withdraw]. */
static void
task_noop(struct af_flow *f, void *arg)
{
	(void)f;
	(void)arg;
}

static void
task_nap(struct af_flow *f, void *arg)
{
	const struct af_value *due;

	af_await(f, arg, &due);
}

static int
flow_blocker(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *t, *sent, *set[2];

	if (af_send(f, "bank", "withdraw", af_int(A(f), 1), &sent) != AF_OK ||
	    (t = af_sleep(f, af_get(args, "ms")->u.i)) == NULL ||
	    af_spawn(f, task_noop, NULL) != AF_OK ||
	    af_spawn(f, task_nap, (void *)t) != AF_OK)
		return AF_REJECTED;
	set[0] = af_get(args, "v");
	set[1] = sent;
	return af_all(f, set, 2, result);
}

/* Tries to pass on a resolver it never received (args.victim is a vow
 * id): through a settlement, then as its result. */
static int
flow_forger(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *r, *err;
	uint64_t victim = (uint64_t)af_get(args, "victim")->u.i;

	af_vow_kit(f, &r);
	if (af_resolve(f, r, af_resolver_ref(A(f), victim), &err) !=
	    AF_REJECTED)
		return AF_REJECTED; /* the forgery went through */
	if (af_get(args, "return") != NULL) {
		*result = af_resolver_ref(A(f), victim);
		return AF_OK;
	}
	*result = err;
	return AF_OK;
}

/* Values no constructor makes, built by hand: args.mode "result" returns
 * a string that is not UTF-8; "args" passes a record with unsorted keys to
 * calc.double; "host" calls bad.utf8, then awaits args.v and returns
 * [what bad.utf8 threw, v]. */
static int
flow_badval(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const char *mode = af_get(args, "mode")->u.s.ptr;
	struct af_value *v = af_arena_alloc(A(f), sizeof(*v));
	struct af_field *fl = af_arena_alloc(A(f), 2 * sizeof(*fl));
	const struct af_value *out, *w, *items[2];

	if (strcmp(mode, "result") == 0) {
		v->type = AF_STRING;
		v->u.s = (struct af_str){ "ok\xc3", 3 };
		*result = v;
		return AF_OK;
	}
	if (strcmp(mode, "args") == 0) {
		fl[0] = (struct af_field){ { "b", 1 }, af_int(A(f), 1) };
		fl[1] = (struct af_field){ { "a", 1 }, af_int(A(f), 2) };
		v->type = AF_RECORD;
		v->u.rec.fields = fl;
		v->u.rec.len = 2;
		af_call(f, "calc", "double", v, &out);
		*result = af_string(A(f), "the call returned");
		return AF_OK;
	}
	if (af_call(f, "bad", "utf8", NULL, &out) != AF_REJECTED)
		return AF_REJECTED;
	af_await(f, af_get(args, "v"), &w);
	items[0] = out;
	items[1] = w;
	*result = af_list_of(A(f), items, 2);
	return AF_OK;
}

/* Tries to launder the resolver of vow args.victim (an id) through a host
 * method: args.mode "echo" passes a made-up resolver to pass.echo, "forge"
 * has forge.resolver make it up; if a resolver comes back, the flow
 * settles the victim with it and returns "laundered", else it returns
 * what was thrown. "settle" has forge.settle settle the victim by id, and
 * "given" passes forge.settle the resolver of a vow the flow made; both
 * return [what af_host_resolve returned, the vow's state or value]. */
static int
flow_launder(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const char *mode = af_get(args, "mode")->u.s.ptr;
	const struct af_value *victim = af_get(args, "victim"), *o, *r, *v,
			      *items[2];
	int rc;

	if (strcmp(mode, "echo") == 0 || strcmp(mode, "forge") == 0) {
		if (strcmp(mode, "echo") == 0)
			rc = af_call(f, "pass", "echo",
			    af_resolver_ref(A(f), (uint64_t)victim->u.i), &o);
		else
			rc = af_call(f, "forge", "resolver", victim, &o);
		if (rc == AF_OK && o->type == AF_RESOLVER &&
		    af_resolve(f, o, af_string(A(f), "stolen"), NULL) == AF_OK)
			*result = af_string(A(f), "laundered");
		else
			*result = o;
		return AF_OK;
	}
	if (strcmp(mode, "settle") == 0) {
		af_call(f, "forge", "settle", victim, &o);
		*result = o;
		return AF_OK;
	}
	v = af_vow_kit(f, &r);
	af_call(f, "forge", "settle", r, &o);
	af_await(f, v, &items[1]);
	items[0] = o;
	*result = af_list_of(A(f), items, 2);
	return AF_OK;
}

/* Awaits a vow by an id it was never given (args: the id), alone and in
 * af_all: its result is [await's code, all's code]. */
static int
flow_await_made_up(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v = af_vow_ref(A(f), (uint64_t)args->u.i), *out;
	const struct af_value *codes[2];

	codes[0] = af_int(A(f), af_await(f, v, &out));
	codes[1] = af_int(A(f), af_all(f, &v, 1, &out));
	*result = af_list_of(A(f), codes, 2);
	return AF_OK;
}

/* Sends and calls with an object or method name that is not UTF-8: its
 * result is the four codes. */
static int
flow_bad_names(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *codes[4], *out;

	(void)args;
	codes[0] = af_int(A(f), af_send(f, "calc\xff", "add", NULL, &out));
	codes[1] = af_int(A(f), af_send(f, "calc", "add\xc3", NULL, &out));
	codes[2] = af_int(A(f), af_call(f, "calc\xc3(", "add", NULL, &out));
	codes[3] = af_int(A(f), af_call(f, "calc", "\xed\xa0\x80", NULL, &out));
	*result = af_list_of(A(f), codes, 4);
	return AF_OK;
}

/* The same, then awaits the vow of its args (a record: made_up, v). */
static int
flow_await_made_up_then(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v, *out, *items[2];

	v = af_vow_ref(A(f), (uint64_t)af_get(args, "made_up")->u.i);
	items[0] = af_int(A(f), af_await(f, v, &out));
	if (af_await(f, af_get(args, "v"), &items[1]) != AF_OK)
		return AF_REJECTED;
	*result = af_list_of(A(f), items, 2);
	return AF_OK;
}

/* "patch", v1: calc.double(1); await args.v; calc.double(2); await
 * args.w; return [false, w]. v2 adds a step behind af_patched(f, "x")
 * after the first call (calc.double(100)) and returns [patched, w]. */
static int
flow_patch(struct af_flow *f, const struct af_value *args,
    const struct af_value **result, bool v2)
{
	const struct af_value *d, *v, *items[2];
	bool patched = false;

	af_call(f, "calc", "double", af_int(A(f), 1), &d);
	if (v2 && (patched = af_patched(f, "x")))
		af_call(f, "calc", "double", af_int(A(f), 100), &d);
	af_await(f, af_get(args, "v"), &v);
	af_call(f, "calc", "double", af_int(A(f), 2), &d);
	af_await(f, af_get(args, "w"), &items[1]);
	items[0] = af_bool(A(f), patched);
	*result = af_list_of(A(f), items, 2);
	return AF_OK;
}

static int
flow_patch_v1(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	return flow_patch(f, args, result, false);
}

static int
flow_patch_v2(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	return flow_patch(f, args, result, true);
}

enum version { V1, V2_DIVERGE, V3_FIXED, V_REORDER, V_EARLY, V_PATCHED };

static const char *dir;
static size_t max_resident; /* engine_opts.max_resident of open_engine */
static size_t pass_max;     /* engine_opts.pass_max_entries of open_engine */
static size_t max_mem;      /* engine_opts.max_act_memory of open_engine */
static struct store *st;
static struct af_registry *reg;
static struct engine *eng;
static struct af_arena *ar;

static void
open_engine(enum version v, size_t map_size)
{
	struct store_opts so = { .map_size = map_size,
		.durability = STORE_NONE };
	af_flow_fn *ca = flow_call_await;
	struct engine_opts eo = { .clock_ms = engineutil_clock,
		.clock_ctx = &fake_now,
		.max_resident = max_resident,
		.pass_max_entries = pass_max,
		.max_act_memory = max_mem };

	if (v == V2_DIVERGE)
		ca = flow_call_await_diverging;
	else if (v == V_REORDER)
		ca = flow_call_await_reordered;
	else if (v == V_EARLY)
		ca = flow_call_await_early;
	reg = registry_new();
	ck_assert_ptr_nonnull(reg);
	ck_assert_int_eq(af_register_object(reg, "counter", counter_methods, 1,
			     NULL),
	    AF_OK);
	ck_assert_int_eq(af_register_object(reg, "calc", calc_methods, 2, NULL),
	    AF_OK);
	ck_assert_int_eq(af_register_object(reg, "bad", bad_methods, 1, NULL),
	    AF_OK);
	ck_assert_int_eq(af_register_object(reg, "pass", pass_methods, 1, NULL),
	    AF_OK);
	ck_assert_int_eq(af_register_object(reg, "forge", forge_methods, 2,
			     NULL),
	    AF_OK);
	af_register_flow(reg, "echo", flow_echo);
	af_register_flow(reg, "toggle", flow_toggle);
	af_register_flow(reg, "hog", flow_hog);
	af_register_flow(reg, "call_await", ca);
	af_register_flow(reg, "thrower", flow_thrower);
	af_register_flow(reg, "loop", flow_loop);
	af_register_flow(reg, "twice", flow_twice);
	af_register_flow(reg, "all", flow_all);
	af_register_flow(reg, "race", flow_race);
	af_register_flow(reg, "all_settled", flow_all_settled);
	af_register_flow(reg, "cancellable", flow_cancellable);
	af_register_flow(reg, "counter_obj", flow_counter_obj);
	af_register_flow(reg, "obj_can", flow_obj_can);
	af_register_flow(reg, "caller", flow_caller);
	af_register_flow(reg, "parent", flow_parent);
	af_register_flow(reg, "spawn", flow_spawn);
	af_register_flow(reg, "return_vow", flow_return_vow);
	af_register_flow(reg, "malformed", flow_malformed);
	af_register_flow(reg, "reject", flow_reject);
	af_register_flow(reg, "sender", flow_sender);
	af_register_flow(reg, "napper", flow_napper);
	af_register_flow(reg, "blocker", flow_blocker);
	af_register_flow(reg, "forger", flow_forger);
	af_register_flow(reg, "badval", flow_badval);
	af_register_flow(reg, "launder", flow_launder);
	af_register_flow(reg, "await_made_up", flow_await_made_up);
	af_register_flow(reg, "await_made_up_then", flow_await_made_up_then);
	af_register_flow(reg, "bad_names", flow_bad_names);
	af_register_flow(reg, "patch",
	    v == V_PATCHED ? flow_patch_v2 : flow_patch_v1);
	engineutil_open(dir, &so, reg, &eo, &st, &eng);
}

static void
close_engine(void)
{
	engineutil_close(&st, &reg, &eng);
}

static void
restart(enum version v)
{
	close_engine();
	open_engine(v, 0);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
}

static void
setup(void)
{
	/* Failures here are on purpose: their warnings would drown the
	 * report. */
	log_set_level(LOG_ERROR);
	dir = testutil_tmpdir();
	ar = arena_new(0);
	host_calls = 0;
	sender_swapped = false;
	export_bias = 0;
	max_resident = 0;
	pass_max = 0;
	max_mem = 0;
	toggle_n = 1;
	open_engine(V1, 0);
}

static void
teardown(void)
{
	close_engine();
	arena_free(ar);
	testutil_rmtree(dir);
}

/* A client vow: its id and secret. */
struct kit {
	uint64_t id;
	uint8_t secret[VOW_SECRET_LEN];
};

static struct kit
mkvow(void)
{
	struct kit k;

	ck_assert_int_eq(engine_mkvow(eng, &k.id, k.secret), AF_OK);
	return k;
}

static void
settle(struct kit k, const struct af_value *v)
{
	ck_assert_int_eq(engine_settle(eng, k.id, k.secret, false, v), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
}

static const struct af_value *
rec2(const char *k1, const struct af_value *v1, const char *k2,
    const struct af_value *v2)
{
	const char *keys[2] = { k1, k2 };
	const struct af_value *vals[2] = { v1, v2 };

	return af_record(ar, keys, vals, v2 ? 2 : 1);
}

static uint64_t
start(const char *flow, const struct af_value *args, uint64_t *outcome)
{
	uint64_t act, out;

	ck_assert_int_eq(engine_start(eng, flow, args, &act, &out), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	if (outcome)
		*outcome = out;
	return act;
}

static enum engine_state
state_of(uint64_t act)
{
	struct engine_act_info info;

	ck_assert_int_eq(engine_act_info(eng, act, &info), AF_OK);
	return info.state;
}

static const char *
failure_of(uint64_t act)
{
	static struct engine_act_info info;

	ck_assert_int_eq(engine_act_info(eng, act, &info), AF_OK);
	return info.failure;
}

/* The outcome as text, or "pending". */
static const char *
outcome_text(uint64_t vow)
{
	static char out[4096];
	enum vow_state s;
	const struct af_value *v;
	struct buf b;

	ck_assert_int_eq(engine_vow_state(eng, vow, &s, ar, &v), AF_OK);
	if (s != VOW_FULFILLED && s != VOW_REJECTED)
		return "pending";
	buf_init(&b);
	if (s == VOW_REJECTED)
		buf_puts(&b, "rejected:");
	value_to_text(&b, v);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, (char *)b.p);
	buf_release(&b);
	return out;
}

static const char *
journal_of(uint64_t act)
{
	static char out[8192];
	struct buf b;

	buf_init(&b);
	ck_assert_int_eq(engine_journal_text(eng, act, &b), AF_OK);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, b.p ? (char *)b.p : "");
	buf_release(&b);
	return out;
}

/* ---- Tests ----------------------------------------------------------------- */

START_TEST(test_engine_echo_is_done_in_first_pass)
{
	uint64_t out, act;

	act = start("echo", af_int(ar, 7), &out);
	ck_assert_int_eq(state_of(act), ES_DONE);
	ck_assert_str_eq(outcome_text(out), "7");
	ck_assert_str_eq(journal_of(act), "");
}
END_TEST

START_TEST(test_engine_entry_order_and_call_index)
{
	struct kit v = mkvow();
	uint64_t out, act;

	act = start("call_await",
	    rec2("n", af_int(ar, 21), "v", af_vow_ref(ar, v.id)), &out);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	ck_assert_str_eq(journal_of(act),
	    "0 checkCall(calc.double, 21, #0)\n"
	    "1 doReturn(#0, 42)\n");
	settle(v, af_string(ar, "x"));
	ck_assert_str_eq(outcome_text(out), "[42,\"x\"]");
	ck_assert_int_eq(state_of(act), ES_DONE);
	/* Done removes the journal. */
	ck_assert_str_eq(journal_of(act), "");
}
END_TEST

START_TEST(test_engine_host_throw_is_journaled_and_replayed)
{
	struct kit v = mkvow();
	uint64_t out, act;
	char want[512];

	act = start("thrower", rec2("v", af_vow_ref(ar, v.id), NULL, NULL),
	    &out);
	snprintf(want, sizeof(want),
	    "0 checkCall(calc.fail, null, #0)\n"
	    "1 doThrow(#0, {\"@error\":{\"name\":\"RangeError\","
	    "\"message\":\"always fails\"}})\n");
	ck_assert_str_eq(journal_of(act), want);
	ck_assert_int_eq(host_calls, 1);
	restart(V1);
	ck_assert_int_eq(host_calls, 1); /* replay ran no host code */
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	settle(v, af_null(ar));
	ck_assert_str_eq(outcome_text(out),
	    "{\"@error\":{\"name\":\"RangeError\",\"message\":\"always fails\"}}");
}
END_TEST

START_TEST(test_engine_settled_before_start)
{
	struct kit v = mkvow();
	uint64_t out;

	settle(v, af_int(ar, 5));
	start("call_await", rec2("n", af_int(ar, 1), "v", af_vow_ref(ar, v.id)),
	    &out);
	ck_assert_str_eq(outcome_text(out), "[2,5]");
}
END_TEST

START_TEST(test_engine_settled_while_sleeping_appended_after_replay)
{
	struct kit v = mkvow();
	uint64_t out, act;

	act = start("call_await",
	    rec2("n", af_int(ar, 1), "v", af_vow_ref(ar, v.id)), &out);
	close_engine();
	/* The daemon is down; reopen and settle before the replay pass. */
	open_engine(V1, 0);
	ck_assert_int_eq(state_of(act), ES_SLEEPING);
	ck_assert_int_eq(engine_settle(eng, v.id, v.secret, false,
			     af_int(ar, 9)),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(out), "[2,9]");
	ck_assert_int_eq(host_calls, 1);
	/* It holds nothing any more: no watcher row is left behind. */
	{
		uint64_t *ids;
		size_t n;

		ck_assert_int_eq(engine_waiting_on(eng, act, &ids, &n), AF_OK);
		ck_assert_uint_eq(n, 0);
		free(ids);
	}
}
END_TEST

START_TEST(test_engine_settled_after_restart)
{
	struct kit v = mkvow();
	uint64_t out, act;

	act = start("call_await",
	    rec2("n", af_int(ar, 3), "v", af_vow_ref(ar, v.id)), &out);
	restart(V1);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	settle(v, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(out), "[6,1]");
	ck_assert_int_eq(host_calls, 1);
}
END_TEST

START_TEST(test_engine_same_vow_twice_and_held_vow_awaited_later)
{
	struct kit a = mkvow(), b = mkvow();
	uint64_t out, act;

	act = start("twice",
	    rec2("a", af_vow_ref(ar, a.id), "b", af_vow_ref(ar, b.id)), &out);
	/* b settles before the flow awaits it: journaled once it is held. */
	settle(b, af_int(ar, 2));
	ck_assert_str_eq(journal_of(act), "0 doFulfill(vow 2, 2)\n");
	settle(a, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(out), "[1,1,2]");

	/* Same story, restarted in the middle. */
	a = mkvow();
	b = mkvow();
	act = start("twice",
	    rec2("a", af_vow_ref(ar, a.id), "b", af_vow_ref(ar, b.id)), &out);
	settle(b, af_int(ar, 20));
	restart(V1);
	settle(a, af_int(ar, 10));
	ck_assert_str_eq(outcome_text(out), "[10,10,20]");
}
END_TEST

START_TEST(test_engine_upgrade_identical_code)
{
	struct kit v = mkvow();
	uint64_t out, act;

	act = start("call_await",
	    rec2("n", af_int(ar, 4), "v", af_vow_ref(ar, v.id)), &out);
	restart(V1);
	restart(V1);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	ck_assert_uint_eq(engine_incarnation(eng), 3);
	settle(v, af_int(ar, 0));
	ck_assert_str_eq(outcome_text(out), "[8,0]");
}
END_TEST

START_TEST(test_engine_upgrade_diverging_then_fixed)
{
	struct kit v = mkvow();
	uint64_t out, act;
	const char *fail;

	act = start("call_await",
	    rec2("n", af_int(ar, 4), "v", af_vow_ref(ar, v.id)), &out);
	restart(V2_DIVERGE);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	fail = failure_of(act);
	ck_assert_msg(strstr(fail, "journal index 0") != NULL, "%s", fail);
	ck_assert_msg(strstr(fail, "expected checkCall(calc.double, 4, #0)"),
	    "%s", fail);
	ck_assert_msg(strstr(fail, "attempted checkCall(calc.double, 5, #0)"),
	    "%s", fail);
	/* A Failed activation has no effect: the settlement is kept, the
	 * outcome stays pending, no host code ran. */
	settle(v, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(out), "pending");
	ck_assert_int_eq(host_calls, 1);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	/* The journal is untouched by the failed replay. */
	ck_assert_str_eq(journal_of(act),
	    "0 checkCall(calc.double, 4, #0)\n1 doReturn(#0, 8)\n");
	restart(V3_FIXED);
	ck_assert_int_eq(state_of(act), ES_DONE);
	ck_assert_str_eq(outcome_text(out), "[8,1]");
	ck_assert_int_eq(host_calls, 1);
}
END_TEST

/* How many lines of the log that `fn` writes contain `needle`. */
static int
log_lines_with(void (*fn)(void), const char *needle)
{
	char line[4096];
	FILE *f;
	int saved, n = 0;

	ck_assert_ptr_nonnull(f = tmpfile());
	fflush(stderr);
	ck_assert_int_ge(saved = dup(2), 0);
	ck_assert_int_eq(dup2(fileno(f), 2), 2);
	log_set_level(LOG_WARN);
	fn();
	log_set_level(LOG_ERROR);
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

static void
restart_diverging(void)
{
	restart(V2_DIVERGE);
}

/* A replay that diverges fails the activation once, and says so once. */
START_TEST(test_engine_failure_is_logged_once)
{
	struct kit v = mkvow();
	uint64_t out, act;

	act = start("call_await",
	    rec2("n", af_int(ar, 4), "v", af_vow_ref(ar, v.id)), &out);
	ck_assert_int_eq(log_lines_with(restart_diverging, "is Failed"), 1);
	ck_assert_int_eq(state_of(act), ES_FAILED);
}
END_TEST

/* A start retries the Failed activations under its code, all of them: the
 * ones beyond what it replays before it serves (the resident budget here)
 * in the passes after, a bounded number each. */
START_TEST(test_engine_start_retries_failed_beyond_its_budget)
{
	struct kit v[3];
	uint64_t act[3];
	int i;

	max_resident = 1;
	restart(V1);
	for (i = 0; i < 3; i++) {
		v[i] = mkvow();
		act[i] = start("call_await",
		    rec2("n", af_int(ar, 4), "v", af_vow_ref(ar, v[i].id)),
		    NULL);
	}
	restart(V2_DIVERGE);
	for (i = 0; i < 3; i++) { /* asleep: a wake replays and fails it */
		ck_assert_int_eq(engine_wake(eng, act[i]), AF_OK);
		ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
		ck_assert_int_eq(state_of(act[i]), ES_FAILED);
	}
	restart(V3_FIXED);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	for (i = 0; i < 3; i++)
		ck_assert_msg(state_of(act[i]) != ES_FAILED,
		    "activation %d of 3 still Failed after a start with fixed "
		    "code",
		    i + 1);
	for (i = 0; i < 3; i++)
		settle(v[i], af_int(ar, 1));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(state_of(act[i]), ES_DONE);
}
END_TEST

START_TEST(test_engine_wake_retries_failed_with_current_code)
{
	struct kit v = mkvow();
	uint64_t act;

	act = start("call_await",
	    rec2("n", af_int(ar, 4), "v", af_vow_ref(ar, v.id)), NULL);
	restart(V2_DIVERGE);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_int_eq(engine_wake(eng, act), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_FAILED); /* same code */
	ck_assert_int_eq(engine_wake(eng, 9999), AF_ENOTFOUND);
}
END_TEST

START_TEST(test_engine_early_completion_is_divergence)
{
	struct kit v = mkvow();
	uint64_t out, act;

	act = start("call_await",
	    rec2("n", af_int(ar, 4), "v", af_vow_ref(ar, v.id)), &out);
	restart(V_EARLY);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_msg(strstr(failure_of(act), "the flow returned instead"),
	    "%s", failure_of(act));
	ck_assert_str_eq(outcome_text(out), "pending");
}
END_TEST

START_TEST(test_engine_idle_while_expected_is_detected)
{
	struct kit v = mkvow();
	uint64_t act;

	act = start("call_await",
	    rec2("n", af_int(ar, 4), "v", af_vow_ref(ar, v.id)), NULL);
	restart(V_REORDER);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_msg(strstr(failure_of(act),
			  "every coroutine of the flow is "
			  "waiting"),
	    "%s", failure_of(act));
}
END_TEST

START_TEST(test_engine_all_and_race_orders_replayed)
{
	struct kit a = mkvow(), b = mkvow(), c = mkvow(), d = mkvow();
	const struct af_value *l1[2] = { af_vow_ref(ar, a.id),
		af_vow_ref(ar, b.id) };
	const struct af_value *l2[2] = { af_vow_ref(ar, c.id),
		af_vow_ref(ar, d.id) };
	uint64_t o1, o2;

	start("all", rec2("vows", af_list_of(ar, l1, 2), NULL, NULL), &o1);
	start("race", rec2("vows", af_list_of(ar, l2, 2), NULL, NULL), &o2);
	settle(b, af_int(ar, 2)); /* second first */
	restart(V1);
	ck_assert_str_eq(outcome_text(o1), "pending");
	settle(d, af_string(ar, "d"));
	ck_assert_str_eq(outcome_text(o2), "[1,\"d\"]");
	restart(V1);
	settle(a, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(o1), "[1,2]");
	settle(c, af_string(ar, "late"));
	restart(V1);
	ck_assert_str_eq(outcome_text(o2), "[1,\"d\"]");
}
END_TEST

START_TEST(test_engine_all_rejects_with_first_rejection)
{
	struct kit a = mkvow(), b = mkvow();
	const struct af_value *l[2] = { af_vow_ref(ar, a.id),
		af_vow_ref(ar, b.id) };
	uint64_t o;

	start("all", rec2("vows", af_list_of(ar, l, 2), NULL, NULL), &o);
	ck_assert_int_eq(engine_settle(eng, b.id, b.secret, true,
			     af_error(ar, "Bad", "b failed")),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(o),
	    "rejected:{\"@error\":{\"name\":\"Bad\",\"message\":\"b failed\"}}");
}
END_TEST

/* af_all_settled waits for every vow, a rejection included, and answers
 * the records in the order of its list, live and after a restart; with no
 * vows it answers at once; journals nothing of its own. */
START_TEST(test_engine_all_settled_lists_every_outcome_in_order)
{
	struct kit a = mkvow(), b = mkvow();
	const struct af_value *l[2] = { af_vow_ref(ar, a.id),
		af_vow_ref(ar, b.id) };
	const char *want = "[{\"status\":\"fulfilled\",\"value\":1},"
			   "{\"reason\":{\"@error\":{\"name\":\"Bad\","
			   "\"message\":\"b failed\"}},"
			   "\"status\":\"rejected\"}]";
	uint64_t o, o0, act, act0;

	act = start("all_settled",
	    rec2("vows", af_list_of(ar, l, 2), NULL, NULL), &o);
	act0 = start("all_settled",
	    rec2("vows", af_list_of(ar, l, 0), NULL, NULL), &o0);
	ck_assert_int_eq(state_of(act0), ES_DONE);
	ck_assert_str_eq(outcome_text(o0), "[]");
	ck_assert_int_eq(engine_settle(eng, b.id, b.secret, true,
			     af_error(ar, "Bad", "b failed")),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	/* A rejection does not end the wait, as it would af_all's. */
	ck_assert_str_eq(outcome_text(o), "pending");
	restart(V1);
	ck_assert_str_eq(outcome_text(o), "pending");
	settle(a, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(o), want);
	ck_assert_int_eq(state_of(act), ES_DONE);
	restart(V1);
	ck_assert_str_eq(outcome_text(o), want);
}
END_TEST

static const struct af_value *
rec3(const char *k1, const struct af_value *v1, const char *k2,
    const struct af_value *v2, const char *k3, const struct af_value *v3)
{
	const char *keys[3] = { k1, k2, k3 };
	const struct af_value *vals[3] = { v1, v2, v3 };

	return af_record(ar, keys, vals, 3);
}

/*
 * Cancellation (issue 10, item 5): every coroutine waiting (in af_race,
 * in af_all) gets AF_CANCELLED with the reason; the flow compensates with
 * a host call and a later wait, across a restart, and rejects. The
 * request is journaled as doCancel and replayed; asking twice changes
 * nothing; a Done one is refused; one asked while Sleeping gets it after
 * its replay, with the default reason.
 */
START_TEST(test_engine_cancel_reaches_waits_and_flow_compensates)
{
	struct kit a = mkvow(), b = mkvow(), comp = mkvow(), a2 = mkvow(),
		   b2 = mkvow(), comp2 = mkvow();
	const char
	    *want = "rejected:{\"reason\":{\"@error\":{\"name\":\"Stop\","
		    "\"message\":\"ops\"}},\"requested\":true,\"spawned\":2}";
	uint64_t act, o, act2, o2, o3;
	int calls;

	act = start("cancellable",
	    rec3("a", af_vow_ref(ar, a.id), "b", af_vow_ref(ar, b.id), "comp",
		af_vow_ref(ar, comp.id)),
	    &o);
	ck_assert_int_eq(engine_cancel(eng, act, af_error(ar, "Stop", "ops")),
	    AF_OK);
	/* Twice: the first reason stands. */
	ck_assert_int_eq(engine_cancel(eng, act, af_error(ar, "Other", "x")),
	    AF_OK);
	calls = host_calls;
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(host_calls, calls + 1); /* compensating */
	ck_assert_str_eq(outcome_text(o), "pending");
	ck_assert_ptr_nonnull(
	    strstr(journal_of(act), "doCancel({\"@error\":{\"name\":\"Stop\""));
	ck_assert_ptr_null(strstr(journal_of(act), "Other"));
	/* Replayed: the same, without running the host again. */
	restart(V1);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	ck_assert_int_eq(host_calls, calls + 1);
	ck_assert_int_eq(engine_cancel(eng, act, NULL), AF_OK);
	settle(comp, af_int(ar, 0));
	ck_assert_str_eq(outcome_text(o), want);
	ck_assert_int_eq(engine_cancel(eng, act, NULL), AF_ESTATE);
	ck_assert_int_eq(engine_cancel(eng, 999999, NULL), AF_ENOTFOUND);
	/* What it raced for settles later: nothing happens. */
	settle(a, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(o), want);

	/* Asked while Sleeping (opened, not replayed yet). */
	act2 = start("cancellable",
	    rec3("a", af_vow_ref(ar, a2.id), "b", af_vow_ref(ar, b2.id), "comp",
		af_vow_ref(ar, comp2.id)),
	    &o2);
	start("cancellable",
	    rec3("a", af_vow_ref(ar, a2.id), "b", af_vow_ref(ar, b2.id), "comp",
		af_vow_ref(ar, comp2.id)),
	    &o3);
	close_engine();
	open_engine(V1, 0);
	ck_assert_int_eq(state_of(act2), ES_SLEEPING);
	ck_assert_int_eq(engine_cancel(eng, act2, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	settle(comp2, af_int(ar, 0));
	ck_assert_ptr_nonnull(
	    strstr(outcome_text(o2), "\"name\":\"Cancelled\""));
	ck_assert_ptr_nonnull(strstr(outcome_text(o2), "\"requested\":true"));
	/* The other one, not cancelled, wins its race as usual. */
	settle(b2, af_int(ar, 7));
	ck_assert_str_eq(outcome_text(o3), "7");
}
END_TEST

/* A call into export `name` of act: its result vow. */
static uint64_t
call_export(uint64_t act, const char *name, const char *method,
    const struct af_value *args)
{
	struct buf b;
	uint64_t vow;

	buf_init(&b);
	ck_assert_int_eq(value_encode(&b, args), AF_OK);
	ck_assert_int_eq(engine_call_export(eng, act, name, method, b.p, b.len,
			     0, &vow),
	    AF_OK);
	buf_release(&b);
	return vow;
}

/*
 * Exports (issue 10, items 1-3, 8): calls are journaled (doCall, then
 * checkReturn/checkThrow) and replayed, with restarts between two calls
 * and between a call and its answer (a handler that awaits); an unknown
 * name is NotFound, a call after the end Finished, an unknown activation
 * ENOTFOUND; exporting a name twice is EEXIST.
 */
START_TEST(test_engine_export_calls_journaled_and_replayed)
{
	struct kit done = mkvow(), k = mkvow();
	uint64_t act, o, v1, v2, v3, v4, v5, v6, vow;
	char *j;

	act = start("counter_obj",
	    rec2("done", af_vow_ref(ar, done.id), NULL, NULL), &o);
	v1 = call_export(act, "counter", "add",
	    rec2("n", af_int(ar, 2), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v1), "2");
	/* Restart between two calls: the state comes back by replay. */
	restart(V1);
	v2 = call_export(act, "counter", "add",
	    rec2("n", af_int(ar, 3), NULL, NULL));
	v3 = call_export(act, "nope", "add", af_null(ar));
	v4 = call_export(act, "counter", "oops", af_null(ar));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v2), "5");
	ck_assert_ptr_nonnull(strstr(outcome_text(v3),
	    "rejected:{\"@error\":{\"name\":\"NotFound\""));
	ck_assert_str_eq(outcome_text(v4),
	    "rejected:{\"@error\":{\"name\":\"NoMethod\","
	    "\"message\":\"oops\"}}");
	/* A handler that awaits; restart between the call and its answer. */
	v5 = call_export(act, "counter", "slow",
	    rec2("v", af_vow_ref(ar, k.id), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v5), "pending");
	restart(V1);
	ck_assert_str_eq(outcome_text(v5), "pending");
	settle(k, af_string(ar, "slowly"));
	ck_assert_str_eq(outcome_text(v5), "\"slowly\"");
	j = strdup(journal_of(act));
	ck_assert_ptr_nonnull(strstr(j, "doCall(counter.add, {\"n\":2}, vow "));
	ck_assert_ptr_nonnull(strstr(j, "checkReturn(vow "));
	ck_assert_ptr_nonnull(strstr(j, "checkThrow(vow "));
	ck_assert_ptr_nonnull(strstr(j, "doCall(nope.add, null"));
	free(j);
	restart(V1);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	settle(done, af_null(ar));
	ck_assert_str_eq(outcome_text(o), "[5,-30002]"); /* AF_EEXIST */
	v6 = call_export(act, "counter", "get", af_null(ar));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_ptr_nonnull(strstr(outcome_text(v6),
	    "rejected:{\"@error\":{\"name\":\"Finished\""));
	ck_assert_int_eq(engine_call_export(eng, 999999, "counter", "get", "",
			     0, 0, &vow),
	    AF_ENOTFOUND);
	ck_assert_int_eq(engine_call_export(eng, act, "a/b", "get", "", 0, 0,
			     &vow),
	    AF_EINVAL);
}
END_TEST

/*
 * A different answer from a handler is a divergence; calls to a Sleeping
 * activation (opened, not replayed) and to a Failed one are kept and
 * delivered after its replay, in order; a flow calls another's export by
 * af_send, durably across a restart; a handler's malformed answer fails
 * the activation and leaves the caller's vow pending.
 */
START_TEST(test_engine_export_divergence_sleeping_failed_and_flow_calls)
{
	struct kit done = mkvow();
	uint64_t act, o, v1, v2, v3, v4, c1, oc, vb;
	char obj[64];

	act = start("counter_obj",
	    rec2("done", af_vow_ref(ar, done.id), NULL, NULL), &o);
	v1 = call_export(act, "counter", "add",
	    rec2("n", af_int(ar, 1), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v1), "1");
	/* Sleeping: called before its replay. */
	close_engine();
	open_engine(V1, 0);
	ck_assert_int_eq(state_of(act), ES_SLEEPING);
	v2 = call_export(act, "counter", "add",
	    rec2("n", af_int(ar, 10), NULL, NULL));
	v3 = call_export(act, "counter", "add",
	    rec2("n", af_int(ar, 100), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v2), "11");
	ck_assert_str_eq(outcome_text(v3), "111");
	/* The same handler answering differently on replay diverges. */
	export_bias = 1;
	restart(V1);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_ptr_nonnull(strstr(failure_of(act), "replay diverged"));
	ck_assert_ptr_nonnull(strstr(failure_of(act), "checkReturn"));
	/* Failed: a call waits for it, durably. */
	v4 = call_export(act, "counter", "add",
	    rec2("n", af_int(ar, 1000), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v4), "pending");
	export_bias = 0;
	close_engine();
	open_engine(V1, 0);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	ck_assert_str_eq(outcome_text(v4), "1111");
	/* Flow to flow, across a restart. */
	snprintf(obj, sizeof(obj), "act/%llu/counter", (unsigned long long)act);
	c1 = start("caller",
	    rec2("n", af_int(ar, 5), "obj", af_string(ar, obj)), &oc);
	ck_assert_str_eq(outcome_text(oc), "1116");
	restart(V1);
	ck_assert_str_eq(outcome_text(oc), "1116");
	ck_assert_int_eq(state_of(c1), ES_DONE);
	/* A malformed answer: Failed, the caller's vow pending. */
	vb = call_export(act, "counter", "bad", af_null(ar));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_ptr_nonnull(strstr(failure_of(act), "malformed"));
	ck_assert_str_eq(outcome_text(vb), "pending");
}
END_TEST

/*
 * Child flows (issue 10, item 4): af_start_child starts one child, named
 * by its row, once: a restart replays the parent without a second one.
 * Cancelling the parent cancels the child with the same reason; each
 * handles it as it likes (the child compensates).
 */
START_TEST(test_engine_child_flows_once_and_cancelled_with_parent)
{
	struct kit a = mkvow(), b = mkvow(), comp = mkvow();
	struct engine_act_info info;
	uint64_t par, o, *kids;
	size_t n;
	int calls;

	par = start("parent",
	    rec3("a", af_vow_ref(ar, a.id), "b", af_vow_ref(ar, b.id), "comp",
		af_vow_ref(ar, comp.id)),
	    &o);
	ck_assert_int_eq(engine_children(eng, par, &kids, &n), AF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(engine_act_info(eng, kids[0], &info), AF_OK);
	ck_assert_uint_eq(info.parent, par);
	ck_assert_str_eq(info.flow, "cancellable");
	free(kids);
	restart(V1);
	ck_assert_int_eq(engine_children(eng, par, &kids, &n), AF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(state_of(kids[0]), ES_RUNNING);
	calls = host_calls;
	ck_assert_int_eq(engine_cancel(eng, par, af_error(ar, "Stop", "all")),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	/* The parent passed the cancel on: rejected with the reason. */
	ck_assert_str_eq(outcome_text(o),
	    "rejected:{\"@error\":{\"name\":\"Stop\",\"message\":\"all\"}}");
	/* The child got it too, and compensates. */
	ck_assert_int_eq(host_calls, calls + 1);
	ck_assert_ptr_nonnull(strstr(journal_of(kids[0]), "doCancel("));
	settle(comp, af_null(ar));
	ck_assert_int_eq(state_of(kids[0]), ES_DONE);
	free(kids);
}
END_TEST

START_TEST(test_engine_spawn_replays_across_restart)
{
	struct kit a = mkvow(), b = mkvow();
	const struct af_value *l[2] = { af_vow_ref(ar, a.id),
		af_vow_ref(ar, b.id) };
	uint64_t o;

	start("spawn", rec2("vows", af_list_of(ar, l, 2), NULL, NULL), &o);
	settle(b, af_int(ar, 5));
	restart(V1);
	settle(a, af_int(ar, 7));
	ck_assert_str_eq(outcome_text(o), "[14,10]");
	ck_assert_int_eq(host_calls, 2);
}
END_TEST

START_TEST(test_engine_chain_of_three_vows)
{
	struct kit a = mkvow(), b = mkvow(), c = mkvow();
	uint64_t o;

	start("return_vow", rec2("v", af_vow_ref(ar, a.id), NULL, NULL), &o);
	settle(a, af_vow_ref(ar, b.id));
	settle(b, af_vow_ref(ar, c.id));
	restart(V1);
	ck_assert_str_eq(outcome_text(o), "pending");
	/* c -> a would close the cycle a -> b -> c -> a. */
	ck_assert_int_eq(engine_settle(eng, c.id, c.secret, false,
			     af_vow_ref(ar, a.id)),
	    AF_ECYCLE);
	settle(c, af_string(ar, "end"));
	ck_assert_str_eq(outcome_text(o), "\"end\"");
	ck_assert_str_eq(outcome_text(a.id), "\"end\"");
	ck_assert_str_eq(outcome_text(b.id), "\"end\"");
}
END_TEST

START_TEST(test_engine_settle_twice_and_wrong_resolver)
{
	struct kit a = mkvow();
	uint8_t wrong[VOW_SECRET_LEN];

	memcpy(wrong, a.secret, sizeof(wrong));
	wrong[3] ^= 1;
	ck_assert_int_eq(engine_settle(eng, a.id, wrong, false, af_int(ar, 1)),
	    AF_EDENIED);
	settle(a, af_int(ar, 1));
	/* Identical repeat: ok; different: refused. */
	ck_assert_int_eq(engine_settle(eng, a.id, a.secret, false,
			     af_int(ar, 1)),
	    AF_OK);
	ck_assert_int_eq(engine_settle(eng, a.id, a.secret, false,
			     af_int(ar, 2)),
	    AF_ESETTLED);
	ck_assert_int_eq(engine_settle(eng, a.id, a.secret, true,
			     af_int(ar, 1)),
	    AF_ESETTLED);
	ck_assert_int_eq(engine_settle(eng, 999, a.secret, false,
			     af_int(ar, 1)),
	    AF_ENOTFOUND);
	ck_assert_str_eq(outcome_text(a.id), "1");
}
END_TEST

START_TEST(test_engine_loop_replay_matches_live)
{
	struct kit hang = mkvow();
	uint64_t o, act;
	struct engine_stats s;

	act = start("loop",
	    rec2("hang", af_vow_ref(ar, hang.id), "n", af_int(ar, 500)), &o);
	ck_assert_int_eq(host_calls, 500);
	restart(V1);
	engine_stats(eng, &s);
	ck_assert_uint_eq(s.entries_replayed, 1500);
	ck_assert_int_eq(host_calls, 500);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	settle(hang, af_null(ar));
	ck_assert_str_eq(outcome_text(o), "124750");
}
END_TEST

static int
count_listed(void *ctx, const struct engine_act_info *info)
{
	(void)info;
	(*(int *)ctx)++;
	return 0;
}

/* `after` is exclusive: nothing comes after the largest id, and it must not
 * wrap around to the first. */
START_TEST(test_engine_list_after_max_id_lists_nothing)
{
	uint64_t out;
	int n = 0;

	start("echo", af_int(ar, 1), &out);
	ck_assert_int_eq(engine_list(eng, NULL, 0, 10, count_listed, &n),
	    AF_OK);
	ck_assert_int_eq(n, 1);
	n = 0;
	ck_assert_int_eq(engine_list(eng, NULL, UINT64_MAX, 10, count_listed,
			     &n),
	    AF_OK);
	ck_assert_int_eq(n, 0);
}
END_TEST

/* Awaiting a vow that does not exist is an error (AF_ENOTFOUND), not a
 * wait for ever; the same across a replay. */
START_TEST(test_engine_await_of_missing_vow_is_notfound)
{
	uint64_t out, act;
	char want[64];

	act = start("await_made_up", af_int(ar, 777), &out);
	ck_assert_int_eq(state_of(act), ES_DONE);
	snprintf(want, sizeof(want), "[%d,%d]", AF_ENOTFOUND, AF_ENOTFOUND);
	ck_assert_str_eq(outcome_text(out), want);
}
END_TEST

/* An object or method name that is not UTF-8 is refused (AF_EINVAL) before
 * anything is journaled: it would travel in invocations and journal dumps
 * that strict protobuf decoders cannot read. */
START_TEST(test_engine_send_names_must_be_utf8)
{
	uint64_t out, act;
	char want[64];

	act = start("bad_names", NULL, &out);
	ck_assert_int_eq(state_of(act), ES_DONE);
	snprintf(want, sizeof(want), "[%d,%d,%d,%d]", AF_EINVAL, AF_EINVAL,
	    AF_EINVAL, AF_EINVAL);
	ck_assert_str_eq(outcome_text(out), want);
}
END_TEST

START_TEST(test_engine_await_of_missing_vow_replays_the_same)
{
	struct kit v = mkvow();
	uint64_t out, act;
	char want[64];

	act = start("await_made_up_then",
	    rec2("made_up", af_int(ar, 777), "v", af_vow_ref(ar, v.id)), &out);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	restart(V1);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	settle(v, af_int(ar, 5));
	ck_assert_int_eq(state_of(act), ES_DONE);
	snprintf(want, sizeof(want), "[%d,5]", AF_ENOTFOUND);
	ck_assert_str_eq(outcome_text(out), want);
}
END_TEST

START_TEST(test_engine_bad_input)
{
	uint64_t act, out;
	struct kit k = mkvow();

	ck_assert_int_eq(engine_start(eng, "nope", NULL, &act, &out),
	    AF_ENOTFOUND);
	ck_assert_int_eq(engine_start(eng, "echo", af_vow_ref(ar, 12345), &act,
			     &out),
	    AF_ENOTFOUND);
	ck_assert_int_eq(engine_start(eng, "echo", af_resolver_ref(ar, k.id),
			     &act, &out),
	    AF_EINVAL);
	ck_assert_int_eq(engine_settle(eng, k.id, k.secret, false,
			     af_resolver_ref(ar, k.id)),
	    AF_EINVAL);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	/* Nothing was created by the refused starts. */
	ck_assert_int_eq(engine_act_info(eng, 1,
			     &(struct engine_act_info){ 0 }),
	    AF_ENOTFOUND);
}
END_TEST

START_TEST(test_engine_malformed_result_fails_and_reject_rejects)
{
	uint64_t o1, o2, a1;

	a1 = start("malformed", NULL, &o1);
	ck_assert_int_eq(state_of(a1), ES_FAILED);
	ck_assert_msg(strstr(failure_of(a1), "malformed"), "%s",
	    failure_of(a1));
	ck_assert_str_eq(outcome_text(o1), "pending");
	start("reject", NULL, &o2);
	ck_assert_str_eq(outcome_text(o2),
	    "rejected:{\"@error\":{\"name\":\"Nope\",\"message\":\"rejected on purpose\"}}");
}
END_TEST

START_TEST(test_engine_unregistered_flow_fails_then_recovers)
{
	struct kit v = mkvow();
	uint64_t act, out;
	struct store_opts so = { .durability = STORE_NONE };
	char err[256];

	act = start("call_await",
	    rec2("n", af_int(ar, 2), "v", af_vow_ref(ar, v.id)), &out);
	close_engine();
	/* New code without call_await. */
	reg = registry_new();
	af_register_object(reg, "calc", calc_methods, 2, NULL);
	ck_assert_int_eq(store_open_lmdb(dir, &so, &st, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_open(st, reg, NULL, &eng, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_str_eq(failure_of(act), "flow call_await not registered");
	restart(V1);
	settle(v, af_int(ar, 3));
	ck_assert_str_eq(outcome_text(out), "[4,3]");
}
END_TEST

START_TEST(test_engine_failed_commit_rebuilds_by_replay)
{
	struct kit v = mkvow(), w;
	struct faultstore fs;
	uint64_t o1, a1, a2, o2;

	a1 = start("call_await",
	    rec2("n", af_int(ar, 5), "v", af_vow_ref(ar, v.id)), &o1);
	faultstore_attach(&fs, st);
	faultstore_fail_nth(&fs, STORE_CALL_COMMIT, 1, AF_EFULL);
	/* A pass with a settlement that would finish a1 and a new start. */
	ck_assert_int_eq(engine_settle(eng, v.id, v.secret, false,
			     af_int(ar, 1)),
	    AF_OK);
	ck_assert_int_eq(engine_start(eng, "echo", af_int(ar, 3), &a2, &o2),
	    AF_OK);
	ck_assert_int_eq(engine_pass(eng), AF_EFULL);
	/* Nothing of the pass happened; a1 is rebuilt by replay. */
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(a1), ES_RUNNING);
	ck_assert_str_eq(outcome_text(o1), "pending");
	ck_assert_int_eq(engine_act_info(eng, a2,
			     &(struct engine_act_info){ 0 }),
	    AF_ENOTFOUND);
	ck_assert_int_eq(host_calls, 1);
	/* The client retries: the vow is still pending and settles now. */
	settle(v, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(o1), "[10,1]");
	w = mkvow();
	settle(w, af_int(ar, 2));
	faultstore_detach(&fs);
}
END_TEST

/* A commit that fails as a failed LMDB meta page write does: the store is
 * broken (store.h) until reopened, and its reopening fails `reopen_fails`
 * times first (a disk that stays bad for a while). */
struct breaker {
	int commits_left; /* the commit that breaks it: 1 = the next */
	int reopen_fails;
	int reopens;
};

static int
breaker_hook(void *ctx, struct store *s, enum store_call call)
{
	struct breaker *b = ctx;

	if (call == STORE_CALL_COMMIT && b->commits_left > 0 &&
	    --b->commits_left == 0) {
		store_set_broken(s, "injected: meta page write failed");
		return store_refuse(s, AF_ESTORE,
		    "injected: Input/output error");
	}
	if (call == STORE_CALL_REOPEN) {
		b->reopens++;
		if (b->reopen_fails > 0) {
			b->reopen_fails--;
			return store_refuse(s, AF_ESTORE,
			    "injected: reopen failed");
		}
	}
	return AF_OK;
}

START_TEST(test_engine_broken_store_is_reopened_and_rebuilt)
{
	struct kit v = mkvow();
	struct breaker b = { 1, 2, 0 };
	uint64_t o1, a1, a2, o2;

	a1 = start("call_await",
	    rec2("n", af_int(ar, 5), "v", af_vow_ref(ar, v.id)), &o1);
	ck_assert_ptr_null(engine_store_fault(eng));
	st->fault = breaker_hook;
	st->fault_ctx = &b;
	ck_assert_int_eq(engine_settle(eng, v.id, v.secret, false,
			     af_int(ar, 1)),
	    AF_OK);
	ck_assert_int_eq(engine_start(eng, "echo", af_int(ar, 3), &a2, &o2),
	    AF_OK);
	ck_assert_int_eq(engine_pass(eng), AF_ESTORE);
	/* The fault is reported while it lasts: writes are refused. */
	ck_assert_ptr_nonnull(engine_store_fault(eng));
	ck_assert_msg(strstr(engine_store_fault(eng), "meta page") != NULL,
	    "%s", engine_store_fault(eng));
	ck_assert_int_eq(b.reopens, 1);
	ck_assert_int_eq(engine_start(eng, "echo", af_int(ar, 3), &a2, &o2),
	    AF_ESTORE);
	ck_assert_int_eq(engine_pass(eng), AF_ESTORE);
	ck_assert_int_eq(b.reopens, 2);
	ck_assert_ptr_nonnull(engine_store_fault(eng));
	/* The third reopening works: the pass rebuilds, the next commits. */
	ck_assert_int_eq(engine_pass(eng), AF_ESTORE);
	ck_assert_int_eq(b.reopens, 3);
	ck_assert(engine_busy(eng));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_ptr_null(engine_store_fault(eng));
	ck_assert_ptr_null(store_broken(st));
	/* Nothing of the failed pass happened; a1 was rebuilt by replay. */
	ck_assert_int_eq(state_of(a1), ES_RUNNING);
	ck_assert_str_eq(outcome_text(o1), "pending");
	ck_assert_int_eq(host_calls, 1);
	settle(v, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(o1), "[10,1]");
	st->fault = NULL;
	st->fault_ctx = NULL;
	restart(V1);
	ck_assert_str_eq(outcome_text(o1), "[10,1]");
}
END_TEST

/* A vow row that cannot be decoded is the activation's problem, logged with
 * its id; it must not make every later pass of the daemon fail. */
START_TEST(test_engine_unreadable_vow_row_does_not_stop_every_pass)
{
	struct kit v = mkvow(), w;
	struct store *s2;
	uint8_t key[8];
	uint64_t a, o;

	a = start("call_await",
	    rec2("n", af_int(ar, 5), "v", af_vow_ref(ar, v.id)), &o);
	ck_assert_int_eq(state_of(a), ES_RUNNING);
	close_engine();
	s2 = storeutil_open(dir, 0, STORE_NONE);
	store_be64(key, v.id);
	storeutil_put_commit(s2, DB_VOWS, SV(key, 8), SV("\xff\xff\xff", 3));
	store_close(s2);
	open_engine(V1, 0);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	/* Unrelated work still commits. */
	w = mkvow();
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	settle(w, af_int(ar, 2));
	ck_assert_int_eq(engine_act_info(eng, a,
			     &(struct engine_act_info){ 0 }),
	    AF_OK);
}
END_TEST

START_TEST(test_engine_map_full_loses_nothing_committed)
{
	uint64_t act, out, last_ok = 0;
	int rc = AF_OK, i;

	close_engine();
	testutil_rmtree(dir);
	dir = testutil_tmpdir();
	open_engine(V1, 256 << 10); /* 256 KiB map */
	for (i = 0; i < 100000 && rc == AF_OK; i++) {
		struct kit k;

		if ((rc = engine_mkvow(eng, &k.id, k.secret)) != AF_OK)
			break;
		rc = engine_start(eng, "call_await",
		    rec2("n", af_int(ar, i), "v", af_vow_ref(ar, k.id)), &act,
		    &out);
		if (rc == AF_OK && (rc = engine_pass(eng)) == AF_OK)
			last_ok = act;
	}
	ck_assert_int_eq(rc, AF_EFULL);
	ck_assert_uint_gt(last_ok, 10);
	/* Rebuilt by replay from what was committed: nothing needs space. */
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(last_ok), ES_RUNNING);
	ck_assert_int_eq(engine_act_info(eng, last_ok + 1,
			     &(struct engine_act_info){ 0 }),
	    AF_ENOTFOUND);
	close_engine();
	open_engine(V1, 256 << 10);
	ck_assert_int_eq(state_of(last_ok), ES_SLEEPING);
	ck_assert_int_eq(state_of(1), ES_SLEEPING);
}
END_TEST

START_TEST(test_engine_newer_journal_format_refused)
{
	struct store_txn *t;
	char err[256], want[64];
	struct engine *e2;

	close_engine();
	open_engine(V1, 0);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(meta_put_u64(t, "format", JOURNAL_FORMAT + 1), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	engine_close(eng);
	registry_free(reg);
	reg = registry_new();
	ck_assert_int_eq(engine_open(st, reg, NULL, &e2, err, sizeof(err)),
	    AF_EVERSION);
	/* The message names the store's (newer) format. */
	snprintf(want, sizeof(want), "journal format %d", JOURNAL_FORMAT + 1);
	ck_assert_msg(strstr(err, want), "%s", err);
	eng = NULL;
}
END_TEST

START_TEST(test_engine_second_store_on_same_dir_refused)
{
	struct store *s2;
	char err[256];

	ck_assert_int_eq(store_open_lmdb(dir, NULL, &s2, err, sizeof(err)),
	    AF_ESTATE);
	ck_assert_msg(strstr(err, "in use"), "%s", err);
}
END_TEST

/* A real process boundary: the child runs the flow to its await point and
 * dies with _exit (no close, no flush); the parent goes on. */
START_TEST(test_engine_restart_across_fork)
{
	struct kit v;
	uint64_t act = 0, out = 0;
	int pipefd[2], status;
	uint64_t msg[2 + 3];
	pid_t pid;

	close_engine();
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		open_engine(V1, 0);
		v = mkvow();
		act = start("call_await",
		    rec2("n", af_int(ar, 8), "v", af_vow_ref(ar, v.id)), &out);
		msg[0] = act;
		msg[1] = out;
		memcpy(&msg[2], &v, sizeof(v));
		if (write(pipefd[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], msg, sizeof(msg)), sizeof(msg));
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	act = msg[0];
	out = msg[1];
	memcpy(&v, &msg[2], sizeof(v));
	open_engine(V1, 0);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	ck_assert_int_eq(host_calls, 0); /* the parent ran no host code */
	settle(v, af_int(ar, 1));
	ck_assert_str_eq(outcome_text(out), "[16,1]");
}
END_TEST


/* The invocation for result vow `vow`: its secret. */
static void
invocation_secret(uint64_t vow, uint8_t secret[VOW_SECRET_LEN], char *obj,
    size_t objlen)
{
	struct buf b;
	struct pbr r;
	unsigned field, wt;
	const uint8_t *p = NULL;
	size_t n = 0;
	uint64_t v;

	buf_init(&b);
	ck_assert_int_eq(api_invocation(eng, vow, true, &b), AF_OK);
	pbr_init(&r, b.p, b.len);
	while (pbr_next(&r, &field, &wt) > 0) {
		if (wt == PB_LEN) {
			pbr_bytes(&r, &p, &n);
			if (field == 2) {
				ck_assert_uint_eq(n, VOW_SECRET_LEN);
				memcpy(secret, p, n);
			} else if (field == 3)
				snprintf(obj, objlen, "%.*s", (int)n, p);
		} else
			pbr_varint(&r, &v);
	}
	buf_release(&b);
}

struct outbox_seen {
	uint64_t vows[8];
	int n;
};

static int
outbox_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	(void)act;
	struct outbox_seen *os = ctx;

	ck_assert_str_eq(object, "bank");
	if (os->n < 8)
		os->vows[os->n++] = vow;
	return AF_OK;
}

START_TEST(test_engine_send_outbox_exactly_once_across_restart)
{
	struct outbox_seen os = { .n = 0 };
	uint8_t secret[VOW_SECRET_LEN];
	char obj[64];
	uint64_t o, act;
	int i;

	act = start("sender", NULL, &o);
	ck_assert_msg(strstr(journal_of(act),
			  "0 checkSend(bank.withdraw, 1, #0)\n"
			  "1 doReturn(#0, {\"@vow\":"),
	    "%s", journal_of(act));
	ck_assert_int_eq(engine_outbox_list(eng, 0, outbox_cb, &os), AF_OK);
	ck_assert_int_eq(os.n, 2);
	restart(V1);
	/* Replay re-sent nothing. */
	os.n = 0;
	ck_assert_int_eq(engine_outbox_list(eng, act, outbox_cb, &os), AF_OK);
	ck_assert_int_eq(os.n, 2);
	for (i = 0; i < 2; i++) {
		invocation_secret(os.vows[i], secret, obj, sizeof(obj));
		ck_assert_str_eq(obj, "bank");
		/* A server answers twice (at least once): identical is fine. */
		ck_assert_int_eq(engine_settle(eng, os.vows[i], secret, false,
				     af_int(ar, 10 * (i + 1))),
		    AF_OK);
		ck_assert_int_eq(engine_settle(eng, os.vows[i], secret, false,
				     af_int(ar, 10 * (i + 1))),
		    AF_OK);
		ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	}
	ck_assert_str_eq(outcome_text(o), "[10,20]");
	os.n = 0;
	ck_assert_int_eq(engine_outbox_list(eng, 0, outbox_cb, &os), AF_OK);
	ck_assert_int_eq(os.n, 0);
	ck_assert_int_eq(api_invocation(eng, os.vows[0], true,
			     &(struct buf)BUF_INITIALIZER),
	    AF_ENOTFOUND);
}
END_TEST

START_TEST(test_engine_send_reordering_diverges)
{
	uint64_t act;

	act = start("sender", NULL, NULL);
	sender_swapped = true;
	restart(V1);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_msg(strstr(failure_of(act),
			  "expected checkSend(bank.withdraw"),
	    "%s", failure_of(act));
	ck_assert_msg(strstr(failure_of(act),
			  "attempted checkSend(bank.deposit"),
	    "%s", failure_of(act));
}
END_TEST

START_TEST(test_engine_timer_survives_restart_and_fires_late)
{
	int64_t due;
	uint64_t o;

	start("napper", rec2("ms", af_int(ar, 5000), NULL, NULL), &o);
	ck_assert(engine_next_due(eng, &due));
	ck_assert_int_eq(due, fake_now + 5000);
	ck_assert_int_eq(engine_fire_due(eng), 0);
	restart(V1);
	ck_assert(engine_next_due(eng, &due));
	/* Down past the due time: fires at the first chance. */
	fake_now += 60000;
	ck_assert_int_eq(engine_fire_due(eng), 1);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_uint_eq(engine_timers_pending(eng), 0);
	ck_assert_int_eq(atoll(outcome_text(o)), due);
	restart(V1);
	ck_assert(!engine_next_due(eng, &due));
}
END_TEST

/* What engine_blocked_on reported, flattened: one line per vow,
 * "C WAIT KIND VOW [settled] [due D] [OBJECT.METHOD]". */
static int
blocked_text_cb(void *ctx, unsigned co, const char *wait,
    const struct engine_blocked_vow *v, size_t n)
{
	struct buf *b = ctx;
	static const char *const kinds[] = { "vow", "timer", "send" };
	size_t i;

	for (i = 0; i < n; i++) {
		buf_printf(b, "%u %s %s %llu", co, wait, kinds[v[i].kind],
		    (unsigned long long)v[i].vow);
		if (v[i].settled)
			buf_puts(b, " settled");
		if (v[i].kind == EB_TIMER)
			buf_printf(b, " due %lld", (long long)v[i].due_ms);
		if (v[i].kind == EB_SEND)
			buf_printf(b, " %s.%s", v[i].object, v[i].method);
		buf_putc(b, '\n');
	}
	return 0;
}

static const char *
blocked_of(uint64_t act)
{
	static char out[2048];
	struct buf b;

	buf_init(&b);
	ck_assert_int_eq(engine_blocked_on(eng, act, blocked_text_cb, &b),
	    AF_OK);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, b.p ? (char *)b.p : "");
	buf_release(&b);
	return out;
}

/* show's explanation: what each coroutine waits for (a vow, a send's
 * result, a timer and its due time, the settled part of an all-set),
 * the same after a restart's replay; the times of the row; and the
 * incarnation that last wrote the journal, which moves with the writes
 * of later incarnations while "incarnation" (that created it) stays. */
START_TEST(test_engine_blocked_on_times_and_last_incarnation)
{
	struct engine_act_info info;
	struct kit k = mkvow();
	int64_t t0 = fake_now;
	uint64_t act, o, timer = 0, sent = 0;
	char want[512];
	struct outbox_seen os = { .n = 0 };

	act = start("blocker",
	    rec2("ms", af_int(ar, 5000), "v", af_vow_ref(ar, k.id)), &o);
	ck_assert_int_eq(engine_outbox_list(eng, act, outbox_cb, &os), AF_OK);
	ck_assert_int_eq(os.n, 1);
	sent = os.vows[0];
	/* The vows: k (client), the outcome, the send's result, the timer. */
	timer = sent + 1;
	snprintf(want, sizeof(want),
	    "0 all vow %llu\n"
	    "0 all send %llu bank.withdraw\n"
	    "2 await timer %llu due %lld\n",
	    (unsigned long long)k.id, (unsigned long long)sent,
	    (unsigned long long)timer, (long long)(t0 + 5000));
	ck_assert_str_eq(blocked_of(act), want);
	ck_assert_int_eq(engine_act_info(eng, act, &info), AF_OK);
	ck_assert_int_eq(info.created_ms, t0);
	ck_assert_int_eq(info.last_progress_ms, t0);
	ck_assert_uint_eq(info.incarnation, 1);
	ck_assert_uint_eq(info.last_incarnation, 1);

	/* A restart replays into the same waits; replay writes nothing. */
	fake_now += 1000;
	restart(V1);
	ck_assert_str_eq(blocked_of(act), want);
	ck_assert_int_eq(engine_act_info(eng, act, &info), AF_OK);
	ck_assert_int_eq(info.created_ms, t0);
	ck_assert_int_eq(info.last_progress_ms, t0);
	ck_assert_uint_eq(info.last_incarnation, 1);

	/* Incarnation 2 journals k's settlement: the set shows it settled. */
	fake_now += 1000;
	settle(k, af_int(ar, 7));
	snprintf(want, sizeof(want),
	    "0 all vow %llu settled\n"
	    "0 all send %llu bank.withdraw\n"
	    "2 await timer %llu due %lld\n",
	    (unsigned long long)k.id, (unsigned long long)sent,
	    (unsigned long long)timer, (long long)(t0 + 5000));
	ck_assert_str_eq(blocked_of(act), want);
	ck_assert_int_eq(engine_act_info(eng, act, &info), AF_OK);
	ck_assert_int_eq(info.created_ms, t0);
	ck_assert_int_eq(info.last_progress_ms, t0 + 2000);
	ck_assert_uint_eq(info.incarnation, 1);
	ck_assert_uint_eq(info.last_incarnation, 2);

	/* From the row alone (as a stopped activation shows them). */
	restart(V1);
	ck_assert_int_eq(engine_act_info(eng, act, &info), AF_OK);
	ck_assert_int_eq(info.last_progress_ms, t0 + 2000);
	ck_assert_uint_eq(info.last_incarnation, 2);

	/* The timer fires: its coroutine ends and waits for nothing. */
	fake_now += 60000;
	ck_assert_int_eq(engine_fire_due(eng), 1);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	snprintf(want, sizeof(want),
	    "0 all vow %llu settled\n"
	    "0 all send %llu bank.withdraw\n",
	    (unsigned long long)k.id, (unsigned long long)sent);
	ck_assert_str_eq(blocked_of(act), want);
}
END_TEST

START_TEST(test_engine_timer_at_the_end_of_time_is_refused)
{
	uint64_t o;

	start("napper", rec2("ms", af_int(ar, INT64_MAX), NULL, NULL), &o);
	ck_assert_str_eq(outcome_text(o), "pending");
	ck_assert_uint_eq(engine_timers_pending(eng), 0);
}
END_TEST

START_TEST(test_engine_keyed_start_is_idempotent)
{
	uint64_t a1, o1, a2, o2;
	bool ex;

	ck_assert_int_eq(engine_start_keyed(eng, "k", "echo", af_int(ar, 1),
			     &a1, &o1, &ex),
	    AF_OK);
	ck_assert(!ex);
	ck_assert_int_eq(engine_start_keyed(eng, "k", "echo", af_int(ar, 1),
			     &a2, &o2, &ex),
	    AF_OK);
	ck_assert(ex);
	ck_assert_uint_eq(a1, a2);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	restart(V1);
	ck_assert_int_eq(engine_start_keyed(eng, "k", "echo", af_int(ar, 1),
			     &a2, &o2, &ex),
	    AF_OK);
	ck_assert(ex);
	ck_assert_uint_eq(o1, o2);
	ck_assert_int_eq(engine_start_keyed(eng, "k", "echo", af_int(ar, 2),
			     &a2, &o2, &ex),
	    AF_EEXIST);
	ck_assert_int_eq(engine_start_keyed(eng, "k", "thrower", af_int(ar, 1),
			     &a2, &o2, &ex),
	    AF_EEXIST);
}
END_TEST

START_TEST(test_engine_quarantine_at_open_precedes_replay)
{
	struct engine_quarantine q = { 0, "crashed the daemon (test)" };
	struct engine_opts eo = { .quarantine = &q, .nquarantine = 1 };
	struct kit v = mkvow();
	char err[256];
	uint64_t act;

	act = start("call_await",
	    rec2("n", af_int(ar, 1), "v", af_vow_ref(ar, v.id)), NULL);
	q.act = act;
	engine_close(eng);
	ck_assert_int_eq(engine_open(st, reg, &eo, &eng, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_str_eq(failure_of(act), "crashed the daemon (test)");
	ck_assert_int_eq(host_calls, 1);
	/* Unknown ids (a start that never committed) are ignored. */
	q.act = 424242;
	engine_close(eng);
	ck_assert_int_eq(engine_open(st, reg, &eo, &eng, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_FAILED);
}
END_TEST

/* Starts run in the pass that commits them even when settlements have
 * spent the pass budget: a start's reply finds its first turn done. */
START_TEST(test_engine_start_runs_within_a_full_pass)
{
	struct engine_opts eo = { .pass_max_entries = 3 };
	struct kit hang;
	char err[256];
	uint64_t loop, echo, out;

	engine_close(eng);
	ck_assert_int_eq(engine_open(st, reg, &eo, &eng, err, sizeof(err)),
	    AF_OK);
	hang = mkvow();
	/* More steps than a pass's guaranteed share of settlements. */
	ck_assert_int_eq(engine_start(eng, "loop",
			     rec2("hang", af_vow_ref(ar, hang.id), "n",
				 af_int(ar, 1000)),
			     &loop, &out),
	    AF_OK);
	ck_assert_int_eq(engine_pass(eng), AF_OK);
	ck_assert(engine_busy(eng)); /* the loop goes on */
	ck_assert_int_eq(engine_start(eng, "echo", af_int(ar, 1), &echo, &out),
	    AF_OK);
	ck_assert_int_eq(engine_pass(eng), AF_OK);
	ck_assert_int_eq(state_of(echo), ES_DONE);
	ck_assert_str_eq(outcome_text(out), "1");
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(loop), ES_RUNNING);
}
END_TEST

START_TEST(test_engine_resolvers_cannot_be_forged)
{
	struct kit victim = mkvow();
	uint64_t a1, o1, a2, o2;

	a1 = start("forger",
	    rec2("victim", af_int(ar, (int64_t)victim.id), NULL, NULL), &o1);
	ck_assert_int_eq(state_of(a1), ES_DONE);
	ck_assert_msg(strstr(outcome_text(o1), "NotHeld") != NULL, "%s",
	    outcome_text(o1));
	a2 = start("forger",
	    rec2("return", af_bool(ar, true), "victim",
		af_int(ar, (int64_t)victim.id)),
	    &o2);
	ck_assert_int_eq(state_of(a2), ES_FAILED);
	ck_assert_str_eq(failure_of(a2),
	    "flow returned a resolver it does not hold");
	ck_assert_str_eq(outcome_text(victim.id), "pending");
}
END_TEST

/* Whatever is stored decodes: a flow result or call args that are not a
 * valid value fail the activation with nothing stored, a host result that
 * is not one is thrown to the flow as HostError; all replay cleanly. */
START_TEST(test_engine_invalid_values_are_never_stored)
{
	struct kit k = mkvow();
	uint64_t a1, o1, a2, o2, a3, o3;

	a1 = start("badval", rec2("mode", af_string(ar, "result"), NULL, NULL),
	    &o1);
	ck_assert_int_eq(state_of(a1), ES_FAILED);
	ck_assert_msg(strstr(failure_of(a1), "malformed value") != NULL, "%s",
	    failure_of(a1));
	ck_assert_str_eq(outcome_text(o1), "pending");

	a2 = start("badval", rec2("mode", af_string(ar, "args"), NULL, NULL),
	    &o2);
	ck_assert_int_eq(state_of(a2), ES_FAILED);
	ck_assert_msg(strstr(failure_of(a2), "calc.double") != NULL &&
		strstr(failure_of(a2), "not a valid value") != NULL,
	    "%s", failure_of(a2));
	ck_assert_str_eq(journal_of(a2), "");
	ck_assert_str_eq(outcome_text(o2), "pending");

	a3 = start("badval",
	    rec2("mode", af_string(ar, "host"), "v", af_vow_ref(ar, k.id)),
	    &o3);
	ck_assert_int_eq(state_of(a3), ES_RUNNING);
	ck_assert_int_eq(host_calls, 1);

	restart(V1);
	ck_assert_int_eq(host_calls, 1); /* replayed, not called again */
	ck_assert_int_eq(state_of(a3), ES_RUNNING);
	ck_assert_int_eq(state_of(a1), ES_FAILED);
	ck_assert_msg(strstr(failure_of(a1), "malformed value") != NULL, "%s",
	    failure_of(a1));
	ck_assert_int_eq(state_of(a2), ES_FAILED);
	ck_assert_msg(strstr(failure_of(a2), "not a valid value") != NULL, "%s",
	    failure_of(a2));
	settle(k, af_int(ar, 7));
	ck_assert_int_eq(state_of(a3), ES_DONE);
	ck_assert_msg(strstr(outcome_text(o3), "HostError") != NULL &&
		strstr(outcome_text(o3), "bad.utf8") != NULL,
	    "%s", outcome_text(o3));
}
END_TEST

/* A resolver cannot be laundered through a host method: a flow passes
 * only resolvers it holds, a host hands back only resolvers it made in
 * the call or was given in it, and settles only those. */
START_TEST(test_engine_resolvers_cannot_be_laundered)
{
	struct kit victim = mkvow();
	const struct af_value *id = af_int(ar, (int64_t)victim.id);
	uint64_t a1, o1, o2, o3, o4, o5, o6;
	char want[64];

	start("launder", rec2("mode", af_string(ar, "echo"), "victim", id),
	    &o1);
	ck_assert_msg(strstr(outcome_text(o1), "NotHeld") != NULL, "%s",
	    outcome_text(o1));
	ck_assert_int_eq(host_calls, 0); /* refused before the method ran */

	start("launder", rec2("mode", af_string(ar, "forge"), "victim", id),
	    &o2);
	ck_assert_msg(strstr(outcome_text(o2), "HostError") != NULL &&
		strstr(outcome_text(o2), "forge.resolver") != NULL,
	    "%s", outcome_text(o2));

	start("launder", rec2("mode", af_string(ar, "settle"), "victim", id),
	    &o3);
	snprintf(want, sizeof(want), "%d", AF_EDENIED);
	ck_assert_str_eq(outcome_text(o3), want);
	ck_assert_str_eq(outcome_text(victim.id), "pending");

	/* Nor another activation's outcome. */
	a1 = start("return_vow",
	    rec2("v", af_vow_ref(ar, victim.id), NULL, NULL), &o4);
	start("launder",
	    rec2("mode", af_string(ar, "settle"), "victim",
		af_int(ar, (int64_t)o4)),
	    &o5);
	ck_assert_str_eq(outcome_text(o5), want);
	ck_assert_str_eq(outcome_text(o4), "pending");
	(void)a1;

	/* A resolver given in the call's args is the host's to settle. */
	start("launder", rec2("mode", af_string(ar, "given"), NULL, NULL), &o6);
	ck_assert_str_eq(outcome_text(o6), "[0,\"by host\"]");
	restart(V1);
	ck_assert_str_eq(outcome_text(victim.id), "pending");
	ck_assert_str_eq(outcome_text(o4), "pending");
}
END_TEST

/* A start queued behind many settlements still runs in its pass. */
START_TEST(test_engine_start_behind_settlements_runs)
{
	struct engine_opts eo = { .pass_max_entries = 3 };
	struct kit v;
	char err[256];
	uint64_t echo, out;
	int i;

	engine_close(eng);
	ck_assert_int_eq(engine_open(st, reg, &eo, &eng, err, sizeof(err)),
	    AF_OK);
	v = mkvow();
	for (i = 0; i < 6; i++)
		start("return_vow", rec2("v", af_vow_ref(ar, v.id), NULL, NULL),
		    NULL);
	for (i = 0; i < 6; i++)
		start("twice",
		    rec2("a", af_vow_ref(ar, v.id), "b", af_vow_ref(ar, v.id)),
		    NULL);
	ck_assert_int_eq(engine_settle(eng, v.id, v.secret, false,
			     af_int(ar, 1)),
	    AF_OK);
	ck_assert_int_eq(engine_start(eng, "echo", af_int(ar, 2), &echo, &out),
	    AF_OK);
	ck_assert_int_eq(engine_pass(eng), AF_OK);
	ck_assert_int_eq(state_of(echo), ES_DONE);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
}
END_TEST

struct range_ctx {
	uint64_t first, n;
};

static int
range_cb(void *ctx, uint64_t index, const void *entry, size_t n)
{
	struct range_ctx *rc = ctx;
	struct jentry je;

	ck_assert_int_eq(journal_entry_parse(entry, n, &je), AF_OK);
	if (rc->n++ == 0)
		rc->first = index;
	return AF_OK;
}

START_TEST(test_engine_journal_in_pages)
{
	struct kit hang = mkvow();
	struct range_ctx r = { 0, 0 };
	uint64_t act, len;

	act = start("loop",
	    rec2("hang", af_vow_ref(ar, hang.id), "n", af_int(ar, 100)), NULL);
	ck_assert_int_eq(engine_journal_raw(eng, act, 120, 50, &len, range_cb,
			     &r),
	    AF_OK);
	ck_assert_uint_eq(len, 300);
	ck_assert_uint_eq(r.first, 120);
	ck_assert_uint_eq(r.n, 50);
	r.n = 0;
	ck_assert_int_eq(engine_journal_raw(eng, act, 280, 0, &len, range_cb,
			     &r),
	    AF_OK);
	ck_assert_uint_eq(r.n, 20);
	r.n = 0;
	ck_assert_int_eq(engine_journal_raw(eng, act, 400, 10, &len, range_cb,
			     &r),
	    AF_OK);
	ck_assert_uint_eq(r.n, 0);
}
END_TEST

static uint64_t
journal_length_of(uint64_t act)
{
	struct engine_act_info info;

	ck_assert_int_eq(engine_act_info(eng, act, &info), AF_OK);
	return info.journal_length;
}

/* journal_length counts the entries `journal` can show: none once a Done
 * activation's journal is deleted, across a restart too. */
START_TEST(test_engine_journal_length_of_done_is_what_is_kept)
{
	struct kit v = mkvow();
	uint64_t out, act;

	act = start("call_await",
	    rec2("n", af_int(ar, 21), "v", af_vow_ref(ar, v.id)), &out);
	ck_assert_uint_eq(journal_length_of(act), 2);
	settle(v, af_string(ar, "x"));
	ck_assert_int_eq(state_of(act), ES_DONE);
	ck_assert_str_eq(journal_of(act), "");
	ck_assert_uint_eq(journal_length_of(act), 0);
	restart(V1);
	ck_assert_uint_eq(journal_length_of(act), 0);
}
END_TEST

START_TEST(test_engine_retained_journal_of_done)
{
	struct engine_opts eo = { .retain_journals = true };
	char err[256];
	uint64_t act, out;
	struct kit v;

	engine_close(eng);
	ck_assert_int_eq(engine_open(st, reg, &eo, &eng, err, sizeof(err)),
	    AF_OK);
	v = mkvow();
	act = start("call_await",
	    rec2("n", af_int(ar, 2), "v", af_vow_ref(ar, v.id)), &out);
	settle(v, af_int(ar, 1));
	ck_assert_int_eq(state_of(act), ES_DONE);
	ck_assert_str_eq(journal_of(act),
	    "0 checkCall(calc.double, 2, #0)\n"
	    "1 doReturn(#0, 4)\n2 doFulfill(vow 1, 1)\n");
	ck_assert_uint_eq(journal_length_of(act), 3);
}
END_TEST

START_TEST(test_engine_quarantine_and_waiting_on)
{
	struct kit v = mkvow();
	uint64_t act, out, *ids;
	size_t n;

	act = start("call_await",
	    rec2("n", af_int(ar, 1), "v", af_vow_ref(ar, v.id)), &out);
	ck_assert_int_eq(engine_waiting_on(eng, act, &ids, &n), AF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ids[0], v.id);
	free(ids);
	close_engine();
	open_engine(V1, 0);
	ck_assert_int_eq(engine_quarantine(eng, act, "crashed the daemon"),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_int_eq(host_calls, 1); /* only the first life's call */
	/* A restart does not replay a quarantined activation... */
	restart(V1);
	ck_assert_int_eq(state_of(act), ES_FAILED);
	ck_assert_int_eq(host_calls, 1);
	/* ...an explicit wake does. */
	ck_assert_int_eq(engine_wake(eng, act), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(act), ES_RUNNING);
	settle(v, af_int(ar, 3));
	ck_assert_str_eq(outcome_text(out), "[2,3]");
	ck_assert_int_eq(engine_waiting_on(eng, act, &ids, &n), AF_OK);
	ck_assert_uint_eq(n, 0);
	free(ids);
	ck_assert_int_eq(engine_wake(eng, act), AF_ESTATE);
}
END_TEST

/*
 * Out of memory in a void callback — the vow table telling the engine
 * that a vow settled: queueing the waiter's event (1st allocation), noting
 * the settlement for on_commit (2nd) — is not dropped: the pass fails with
 * AF_ENOMEM, recovery rebuilds from the store, and the client's retry
 * completes the flow.
 */
START_TEST(test_engine_oom_in_settle_callback_fails_the_pass)
{
	unsigned nth;

	for (nth = 1; nth <= 2; nth++) {
		struct kit v = mkvow();
		uint64_t out, act;

		act = start("call_await",
		    rec2("n", af_int(ar, 1), "v", af_vow_ref(ar, v.id)), &out);
		ck_assert_int_eq(state_of(act), ES_RUNNING);
		engine_test_fail_alloc(eng, nth);
		ck_assert_int_eq(engine_settle(eng, v.id, v.secret, false,
				     af_int(ar, 7)),
		    AF_OK);
		ck_assert_int_eq(engine_pass(eng), AF_ENOMEM);
		ck_assert_str_eq(engine_errmsg(eng),
		    "out of memory during the pass");
		/* Nothing of the pass is durable; the activation is rebuilt
		 * by replay and waits again. */
		ck_assert_str_eq(outcome_text(out), "pending");
		ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
		ck_assert_int_eq(state_of(act), ES_RUNNING);
		settle(v, af_int(ar, 7));
		ck_assert_str_eq(outcome_text(out), "[2,7]");
	}
}
END_TEST

/*
 * terminate (issue 9, item 7): an unfinished activation — Running with a
 * pending timer, send and vow; Failed; quarantined; Sleeping — has its
 * outcome rejected with a Terminated error and is Done in one commit: its
 * timer is cancelled, what it waited on no longer reaches it, and no
 * restart runs its code again. A Done one is refused.
 */
static uint64_t
replays_now(void)
{
	struct engine_stats s;

	engine_stats(eng, &s);
	return s.replays;
}

START_TEST(test_engine_terminate)
{
	struct kit k = mkvow(), v = mkvow(), w = mkvow();
	uint64_t run, fail, quar, slp, o_run, o_fail, o_quar, o_sleep, r0;
	uint64_t *ids;
	size_t n;
	int calls;

	run = start("blocker",
	    rec2("ms", af_int(ar, 5000), "v", af_vow_ref(ar, k.id)), &o_run);
	ck_assert_int_eq(state_of(run), ES_RUNNING);
	ck_assert_uint_eq(engine_timers_pending(eng), 1);
	/* A message that is not UTF-8 is refused, and changes nothing. */
	ck_assert_int_eq(engine_terminate(eng, run, "\xff\xfe"), AF_EINVAL);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(run), ES_RUNNING);
	ck_assert_uint_eq(engine_timers_pending(eng), 1);
	ck_assert_int_eq(engine_terminate(eng, run, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(run), ES_DONE);
	ck_assert_ptr_nonnull(strstr(outcome_text(o_run),
	    "rejected:{\"@error\":{\"name\":\"Terminated\""));
	ck_assert_ptr_nonnull(strstr(outcome_text(o_run), "was terminated"));
	ck_assert_ptr_nonnull(strstr(failure_of(run), "terminated"));
	ck_assert_uint_eq(engine_timers_pending(eng), 0);
	ck_assert_int_eq(engine_waiting_on(eng, run, &ids, &n), AF_OK);
	ck_assert_uint_eq(n, 0);
	free(ids);
	/* What it waited for settles: it does not run. */
	settle(k, af_int(ar, 1));
	ck_assert_int_eq(state_of(run), ES_DONE);
	ck_assert_int_eq(engine_terminate(eng, run, NULL), AF_ESTATE);
	ck_assert_int_eq(engine_terminate(eng, 999999, NULL), AF_ENOTFOUND);

	/* Failed: diverged under new code. */
	fail = start("call_await",
	    rec2("n", af_int(ar, 1), "v", af_vow_ref(ar, v.id)), &o_fail);
	quar = start("call_await",
	    rec2("n", af_int(ar, 2), "v", af_vow_ref(ar, w.id)), &o_quar);
	slp = start("loop",
	    rec2("n", af_int(ar, 2), "hang", af_vow_ref(ar, w.id)), &o_sleep);
	close_engine();
	open_engine(V2_DIVERGE, 0);
	ck_assert_int_eq(engine_quarantine(eng, quar, "crashed the daemon"),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(fail), ES_FAILED);
	ck_assert_int_eq(state_of(quar), ES_FAILED);
	ck_assert_int_eq(engine_terminate(eng, fail, "given up by ops"), AF_OK);
	ck_assert_int_eq(engine_terminate(eng, quar, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(o_fail),
	    "rejected:{\"@error\":{\"name\":\"Terminated\",\"message\":"
	    "\"given up by ops\"}}");
	ck_assert_ptr_nonnull(strstr(outcome_text(o_quar), "Terminated"));
	ck_assert_int_eq(state_of(quar), ES_DONE);

	/* Sleeping: opened, not replayed yet. */
	close_engine();
	open_engine(V1, 0);
	ck_assert_int_eq(state_of(slp), ES_SLEEPING);
	r0 = replays_now();
	ck_assert_int_eq(engine_terminate(eng, slp, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(slp), ES_DONE);
	ck_assert_uint_eq(replays_now(), r0);
	ck_assert_ptr_nonnull(strstr(outcome_text(o_sleep), "Terminated"));

	/* After a restart every one stays Done and none of their code runs:
	 * settling what they waited for changes nothing. */
	calls = host_calls;
	restart(V1);
	ck_assert_uint_eq(replays_now(), 0);
	settle(v, af_int(ar, 3));
	settle(w, af_int(ar, 4));
	ck_assert_int_eq(host_calls, calls);
	ck_assert_int_eq(state_of(run), ES_DONE);
	ck_assert_int_eq(state_of(fail), ES_DONE);
	ck_assert_int_eq(state_of(quar), ES_DONE);
	ck_assert_int_eq(state_of(slp), ES_DONE);
	ck_assert_uint_eq(engine_timers_pending(eng), 0);
	ck_assert_str_eq(outcome_text(o_fail),
	    "rejected:{\"@error\":{\"name\":\"Terminated\",\"message\":"
	    "\"given up by ops\"}}");
}
END_TEST

/*
 * af_patched (issue 9, item 5): v2 of a flow adds a step behind
 * af_patched(f, "x"). An activation v1 started replays under v2 on the
 * false path (its journal has no marker there) and finishes; one v2
 * starts journals the marker and takes the new step, and replays so
 * under v2; v1 code replaying that journal diverges, the diagnostic
 * naming the marker.
 */
START_TEST(test_engine_patched_old_and_new_paths)
{
	struct kit v1 = mkvow(), w1 = mkvow(), v2 = mkvow(), w2 = mkvow();
	uint64_t old, new, o_old, o_new;

	old = start("patch",
	    rec2("v", af_vow_ref(ar, v1.id), "w", af_vow_ref(ar, w1.id)),
	    &o_old);
	settle(v1, af_int(ar, 1));
	ck_assert_str_eq(journal_of(old),
	    "0 checkCall(calc.double, 1, #0)\n1 doReturn(#0, 2)\n"
	    "2 doFulfill(vow 1, 1)\n3 checkCall(calc.double, 2, #3)\n"
	    "4 doReturn(#3, 4)\n");
	restart(V_PATCHED);
	ck_assert_int_eq(state_of(old), ES_RUNNING);

	new = start("patch",
	    rec2("v", af_vow_ref(ar, v2.id), "w", af_vow_ref(ar, w2.id)),
	    &o_new);
	ck_assert_ptr_nonnull(strstr(journal_of(new),
	    "2 patched(x)\n"
	    "3 checkCall(calc.double, "
	    "100, #3)\n"));
	restart(V_PATCHED); /* the marker replays: the new step again */
	ck_assert_int_eq(state_of(new), ES_RUNNING);
	ck_assert_int_eq(state_of(old), ES_RUNNING);

	restart(V1); /* old code, new journal */
	ck_assert_int_eq(state_of(new), ES_FAILED);
	ck_assert_str_eq(failure_of(new),
	    "replay diverged at journal index 2: expected patched(x); every "
	    "coroutine of the flow is waiting instead");
	ck_assert_int_eq(state_of(old), ES_RUNNING);

	restart(V_PATCHED);
	ck_assert_int_eq(state_of(new), ES_RUNNING);
	settle(w1, af_int(ar, 5));
	ck_assert_str_eq(outcome_text(o_old), "[false,5]");
	settle(v2, af_int(ar, 6));
	settle(w2, af_int(ar, 7));
	ck_assert_str_eq(outcome_text(o_new), "[true,7]");
}
END_TEST

/* With one resident activation, the one used least recently is evicted
 * after each commit; a settlement replays it from its journal and delivers
 * exactly what it would have without eviction; nothing else is replayed. */
START_TEST(test_engine_evicted_replays_on_demand)
{
	struct kit v, w;
	struct engine_stats es;
	uint64_t a1, a2, o1, o2;

	max_resident = 1;
	restart(V1);
	v = mkvow();
	w = mkvow();
	a1 = start("call_await",
	    rec2("n", af_int(ar, 2), "v", af_vow_ref(ar, v.id)), &o1);
	a2 = start("call_await",
	    rec2("n", af_int(ar, 3), "v", af_vow_ref(ar, w.id)), &o2);
	engine_stats(eng, &es);
	ck_assert_uint_eq(es.evictions, 1);
	ck_assert_uint_eq(es.resident, 1);
	ck_assert_uint_eq(es.sleeping, 1);
	ck_assert_int_eq(state_of(a1), ES_SLEEPING);
	ck_assert_int_eq(state_of(a2), ES_RUNNING);
	settle(v, af_int(ar, 7));
	ck_assert_str_eq(outcome_text(o1), "[4,7]");
	ck_assert_int_eq(host_calls, 2); /* replay called nothing */
	engine_stats(eng, &es);
	ck_assert_uint_eq(es.replays_on_demand, 1);
	ck_assert_uint_eq(es.sleeping, 0);
	/* a2 was not replayed for a1's event: it stays in memory. */
	ck_assert_int_eq(state_of(a2), ES_RUNNING);
	settle(w, af_int(ar, 8));
	ck_assert_str_eq(outcome_text(o2), "[6,8]");
	engine_stats(eng, &es);
	ck_assert_uint_eq(es.replays_on_demand, 1);
}
END_TEST

/* A replay on demand that diverges makes the activation Failed, as a
 * replay at start does; fixed code and a wake bring it back. */
START_TEST(test_engine_evicted_replay_divergence_fails)
{
	struct kit v, w;
	uint64_t a1, o1;

	max_resident = 1;
	restart(V1);
	v = mkvow();
	w = mkvow();
	a1 = start("toggle", rec2("v", af_vow_ref(ar, v.id), NULL, NULL), &o1);
	start("toggle", rec2("v", af_vow_ref(ar, w.id), NULL, NULL), NULL);
	ck_assert_int_eq(state_of(a1), ES_SLEEPING);
	toggle_n = 5; /* new code */
	settle(v, af_int(ar, 1));
	ck_assert_int_eq(state_of(a1), ES_FAILED);
	ck_assert_str_eq(failure_of(a1),
	    "replay diverged at journal index 0: expected "
	    "checkCall(calc.double, 1, #0); the flow attempted "
	    "checkCall(calc.double, 5, #0); first difference at args");
	ck_assert_str_eq(outcome_text(o1), "pending");
	toggle_n = 1; /* fixed */
	ck_assert_int_eq(engine_wake(eng, a1), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(o1), "1");
}
END_TEST

/* A restart replays at most the resident budget; the others stay out of
 * memory and are replayed when an event needs them, settlements that were
 * committed but not yet delivered when the process ended included. */
START_TEST(test_engine_restart_leaves_over_budget_asleep)
{
	enum { N = 300 };
	struct kit k[N];
	uint64_t out[N], pending = 0;
	struct engine_stats es;
	char want[64];
	size_t i;

	max_resident = 1;
	pass_max = 1; /* a pass delivers SETTLES_PER_PASS (256) settlements */
	restart(V1);
	for (i = 0; i < N; i++) {
		k[i] = mkvow();
		start("call_await",
		    rec2("n", af_int(ar, (int64_t)i), "v",
			af_vow_ref(ar, k[i].id)),
		    &out[i]);
	}
	for (i = 0; i < N; i++)
		ck_assert_int_eq(engine_settle(eng, k[i].id, k[i].secret, false,
				     af_int(ar, 1)),
		    AF_OK);
	/* One pass commits every settlement and delivers only some. */
	ck_assert_int_eq(engine_pass(eng), AF_OK);
	for (i = 0; i < N; i++)
		pending += strcmp(outcome_text(out[i]), "pending") == 0;
	ck_assert_uint_gt(pending, 1);
	/* The process ends with those deliveries queued. */
	close_engine();
	open_engine(V1, 0);
	engine_stats(eng, &es);
	ck_assert_uint_eq(es.sleeping, pending - 1);
	ck_assert_uint_eq(es.resident, 1);
	ck_assert_uint_eq(es.replays, 0);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	for (i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "[%zu,1]", 2 * i);
		ck_assert_str_eq(outcome_text(out[i]), want);
	}
	engine_stats(eng, &es);
	ck_assert_uint_eq(es.sleeping, 0);
	ck_assert_uint_eq(es.replays_on_demand, pending - 1);
}
END_TEST

/* An activation that goes over --max-activation-memory is Failed, with
 * what it exceeded; the others, and the daemon, are unaffected. */
START_TEST(test_engine_memory_bound)
{
	uint64_t a1, o1, o2, o3;
	char *big;

	max_mem = 1u << 20; /* a 256 KiB stack and 768 KiB of arena */
	restart(V1);
	a1 = start("hog", rec2("n", af_int(ar, 4096), NULL, NULL), &o1);
	ck_assert_int_eq(state_of(a1), ES_FAILED);
	ck_assert_msg(strstr(failure_of(a1), "exceeded its memory bound") !=
		NULL,
	    "%s", failure_of(a1));
	ck_assert_str_eq(outcome_text(o1), "pending");
	start("hog", rec2("n", af_int(ar, 256), NULL, NULL), &o2);
	ck_assert_str_eq(outcome_text(o2), "256");
	/* Arguments too large for the bound: Failed as it loads. */
	ck_assert_ptr_nonnull(big = calloc(1, 2u << 20));
	start("echo", af_bytes(ar, big, 2u << 20), &o3);
	free(big);
	ck_assert_str_eq(outcome_text(o3), "pending");
	/* Failed again by a wake under the same bound. */
	ck_assert_int_eq(engine_wake(eng, a1), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(a1), ES_FAILED);
}
END_TEST

/* The counts stats and /metrics give (kept by the commits, O(1)) are those
 * a scan of every activation finds, with eviction on, across a restart. */
static void
counts_match_a_scan(void)
{
	uint64_t counts[ES_DONE + 1];
	struct engine_stats es;
	enum engine_state es_;
	int n;

	ck_assert_int_eq(engine_count_states(eng, counts), AF_OK);
	for (es_ = ES_RUNNING; es_ <= ES_DONE; es_++) {
		n = 0;
		ck_assert_int_eq(engine_list(eng, &es_, 0, (size_t)-1,
				     count_listed, &n),
		    AF_OK);
		ck_assert_msg(counts[es_] == (uint64_t)n,
		    "%s: counted %llu, listed %d", engine_state_name(es_),
		    (unsigned long long)counts[es_], n);
	}
	engine_stats(eng, &es);
	ck_assert_uint_eq(es.failed, counts[ES_FAILED]);
}

START_TEST(test_engine_state_counts_are_kept)
{
	struct kit v, w, x;
	uint64_t a3;

	max_resident = 2;
	restart(V1);
	v = mkvow();
	w = mkvow();
	x = mkvow();
	start("echo", af_int(ar, 1), NULL);
	start("call_await", rec2("n", af_int(ar, 1), "v", af_vow_ref(ar, v.id)),
	    NULL);
	start("call_await", rec2("n", af_int(ar, 2), "v", af_vow_ref(ar, w.id)),
	    NULL);
	a3 = start("call_await",
	    rec2("n", af_int(ar, 3), "v", af_vow_ref(ar, x.id)), NULL);
	counts_match_a_scan();
	settle(v, af_int(ar, 1));
	counts_match_a_scan();
	restart(V2_DIVERGE); /* the two left: within the budget, Failed */
	counts_match_a_scan();
	restart(V1);
	ck_assert_int_eq(engine_wake(eng, a3), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	counts_match_a_scan();
	ck_assert_int_eq(engine_terminate(eng, a3, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	counts_match_a_scan();
}
END_TEST

/*
 * Terminating an activation rejects every call into it that it has not
 * answered (issue 10, Bad input): those journaled (doCall) whose handler
 * still waits, those kept in its row, whether it is resident, evicted
 * (Sleeping) or Failed, in memory or only in the store.
 */
#define assert_terminated(vow) \
	ck_assert_msg(strstr(outcome_text(vow), \
			  "rejected:{\"@error\":{\"name\":\"Terminated\"") != \
		NULL, \
	    "vow %s: %s", #vow, outcome_text(vow))

START_TEST(test_engine_terminate_rejects_unanswered_calls)
{
	struct kit d1, d2, d3, k, x;
	uint64_t a1, a2, a3, v1, v2, v3, v4, v5;

	max_resident = 1;
	restart(V1);
	d1 = mkvow();
	d2 = mkvow();
	d3 = mkvow();
	k = mkvow();
	x = mkvow();
	/* Resident, its handler awaiting. */
	a1 = start("counter_obj",
	    rec2("done", af_vow_ref(ar, d1.id), NULL, NULL), NULL);
	v1 = call_export(a1, "counter", "slow",
	    rec2("v", af_vow_ref(ar, k.id), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v1), "pending");
	ck_assert_int_eq(state_of(a1), ES_RUNNING);
	ck_assert_int_eq(engine_terminate(eng, a1, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	assert_terminated(v1);

	/* Evicted: the handler's doCall is journaled, unanswered. */
	a2 = start("counter_obj",
	    rec2("done", af_vow_ref(ar, d2.id), NULL, NULL), NULL);
	v2 = call_export(a2, "counter", "slow",
	    rec2("v", af_vow_ref(ar, k.id), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	start("call_await", rec2("n", af_int(ar, 1), "v", af_vow_ref(ar, x.id)),
	    NULL);
	ck_assert_int_eq(state_of(a2), ES_SLEEPING);
	ck_assert_int_eq(engine_terminate(eng, a2, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(a2), ES_DONE);
	assert_terminated(v2);

	/* Failed by a handler's malformed answer: that call, one awaiting
	 * before it and one kept in its row since, all unanswered. */
	a3 = start("counter_obj",
	    rec2("done", af_vow_ref(ar, d3.id), NULL, NULL), NULL);
	v3 = call_export(a3, "counter", "slow",
	    rec2("v", af_vow_ref(ar, k.id), NULL, NULL));
	v4 = call_export(a3, "counter", "bad", af_null(ar));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(a3), ES_FAILED);
	v5 = call_export(a3, "counter", "get", af_null(ar));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v3), "pending");
	ck_assert_str_eq(outcome_text(v4), "pending");
	ck_assert_str_eq(outcome_text(v5), "pending");
	/* Only in the store now. */
	restart(V1);
	ck_assert_int_eq(state_of(a3), ES_FAILED);
	ck_assert_int_eq(engine_terminate(eng, a3, "ops gave up"), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	assert_terminated(v3);
	assert_terminated(v4);
	assert_terminated(v5);
	ck_assert_ptr_nonnull(strstr(outcome_text(v3), "ops gave up"));
	/* Committed: a restart keeps them rejected, and k settling later
	 * reaches no handler. */
	restart(V1);
	settle(k, af_int(ar, 1));
	assert_terminated(v1);
	assert_terminated(v2);
	assert_terminated(v3);
}
END_TEST

/*
 * A call whose handler is still at work when its activation continues as
 * new is never answered by the old run (its coroutines are dropped) and
 * must not run again in the new one (its effects so far would repeat): it
 * is rejected, ContinuedAsNew, in the commit of the continue-as-new. A
 * call that had not reached a handler yet waits for the new run.
 */
START_TEST(test_engine_continue_as_new_rejects_calls_at_work)
{
	struct kit next = mkvow(), done = mkvow(), k = mkvow();
	uint64_t a, v1, v2, v3;

	a = start("obj_can",
	    rec2("done", af_vow_ref(ar, done.id), "next",
		af_vow_ref(ar, next.id)),
	    NULL);
	v1 = call_export(a, "counter", "slow",
	    rec2("v", af_vow_ref(ar, k.id), NULL, NULL));
	v2 = call_export(a, "counter", "add",
	    rec2("n", af_int(ar, 2), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_str_eq(outcome_text(v1), "pending");
	ck_assert_str_eq(outcome_text(v2), "2");
	/* The flow continues as new; a call arrives in the same pass. */
	settle(next, af_null(ar));
	v3 = call_export(a, "counter", "add",
	    rec2("n", af_int(ar, 5), NULL, NULL));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_msg(strstr(outcome_text(v1),
			  "rejected:{\"@error\":{\"name\":"
			  "\"ContinuedAsNew\"") != NULL,
	    "v1: %s", outcome_text(v1));
	ck_assert_str_eq(outcome_text(v3), "5");
	/* Committed: a restart keeps it so, and k reaches no handler. */
	restart(V1);
	settle(k, af_int(ar, 9));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_msg(strstr(outcome_text(v1), "ContinuedAsNew") != NULL,
	    "v1: %s", outcome_text(v1));
	settle(done, af_null(ar));
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(state_of(a), ES_DONE);
}
END_TEST

/*
 * Listing a parent's children (show, cancel) costs O(children), not a
 * scan of every activation row: a parent among many other activations is
 * answered with a handful of store reads.
 */
START_TEST(test_engine_children_are_indexed)
{
	struct kit a = mkvow(), b = mkvow(), comp = mkvow();
	struct faultstore fs;
	uint64_t par, o, *kids;
	unsigned reads;
	size_t n;

	for (int i = 0; i < 300; i++)
		start("echo", af_int(ar, i), NULL);
	par = start("parent",
	    rec3("a", af_vow_ref(ar, a.id), "b", af_vow_ref(ar, b.id), "comp",
		af_vow_ref(ar, comp.id)),
	    &o);
	for (int i = 0; i < 300; i++)
		start("echo", af_int(ar, i), NULL);
	faultstore_attach(&fs, st);
	ck_assert_int_eq(engine_children(eng, par, &kids, &n), AF_OK);
	reads = faultstore_calls(&fs, STORE_CALL_CURSOR_GET) +
	    faultstore_calls(&fs, STORE_CALL_GET);
	faultstore_detach(&fs);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(kids[0], par + 1);
	free(kids);
	ck_assert_msg(reads <= 8, "%u store reads to list one child", reads);
}
END_TEST

/* Entries in DB_CHILDREN, read straight from the store. */
static unsigned
children_rows(void)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k, v;
	unsigned n = 0;
	int rc;

	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(store_cursor_open(t, DB_CHILDREN, &c), AF_OK);
	for (rc = store_cursor_get(c, STORE_FIRST, &k, &v); rc == AF_OK;
	     rc = store_cursor_get(c, STORE_NEXT, &k, &v))
		n++;
	ck_assert_int_eq(rc, AF_ENOTFOUND);
	store_cursor_close(c);
	store_abort(t);
	return n;
}

/* The store as a daemon without the index leaves it: no DB_CHILDREN
 * rows (format 3), or rows and a stamp of an incarnation that is not the
 * last (an older daemon ran on it since, and kept nothing). */
static void
forget_children_index(bool stale_stamp)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k, v;
	uint8_t key[16];

	close_engine();
	open_engine(V1, 0);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	for (;;) {
		ck_assert_int_eq(store_cursor_open(t, DB_CHILDREN, &c), AF_OK);
		if (store_cursor_get(c, STORE_FIRST, &k, &v) != AF_OK) {
			store_cursor_close(c);
			break;
		}
		ck_assert_uint_eq(k.n, 16);
		memcpy(key, k.p, 16);
		store_cursor_close(c);
		ck_assert_int_eq(store_del(t, DB_CHILDREN,
				     (struct store_val){ key, 16 }),
		    AF_OK);
	}
	if (stale_stamp)
		ck_assert_int_eq(meta_put_u64(t, CHILDREN_META, 1), AF_OK);
	else
		ck_assert_int_eq(store_del(t, DB_META,
				     (struct store_val){ CHILDREN_META,
					 strlen(CHILDREN_META) }),
		    AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	close_engine();
	open_engine(V1, 0);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
}

/*
 * The index of children is kept across restarts, built once for a store
 * that has none (journal format 3) or that a daemon without it has run
 * on, and pruned with the child and with the parent: nothing is left.
 */
START_TEST(test_engine_children_index_built_for_old_stores_and_pruned)
{
	struct kit a = mkvow(), b = mkvow(), comp = mkvow();
	uint64_t par, par2, o, *kids;
	size_t n;

	par = start("parent",
	    rec3("a", af_vow_ref(ar, a.id), "b", af_vow_ref(ar, b.id), "comp",
		af_vow_ref(ar, comp.id)),
	    &o);
	par2 = start("parent",
	    rec3("a", af_vow_ref(ar, a.id), "b", af_vow_ref(ar, b.id), "comp",
		af_vow_ref(ar, comp.id)),
	    NULL);
	ck_assert_uint_eq(children_rows(), 2);
	restart(V1);
	ck_assert_uint_eq(children_rows(), 2);
	for (int stale = 0; stale < 2; stale++) {
		forget_children_index(stale);
		ck_assert_uint_eq(children_rows(), 2);
		ck_assert_int_eq(engine_children(eng, par, &kids, &n), AF_OK);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(kids[0], par + 1);
		free(kids);
		ck_assert_int_eq(engine_children(eng, par2, &kids, &n), AF_OK);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(kids[0], par2 + 1);
		free(kids);
	}
	ck_assert_int_eq(engine_cancel(eng, par, NULL), AF_OK);
	ck_assert_int_eq(engine_cancel(eng, par2, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	settle(comp, af_null(ar));
	ck_assert_int_eq(state_of(par), ES_DONE);
	ck_assert_int_eq(state_of(par + 1), ES_DONE);
	ck_assert_int_eq(state_of(par2), ES_DONE);
	/* Pruning a child deletes its entry; pruning a parent deletes its
	 * children's (the child stays). */
	ck_assert_int_eq(engine_purge(eng, par + 1), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_uint_eq(children_rows(), 1);
	ck_assert_int_eq(engine_children(eng, par, &kids, &n), AF_OK);
	ck_assert_uint_eq(n, 0);
	free(kids);
	ck_assert_int_eq(engine_purge(eng, par2), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_uint_eq(children_rows(), 0);
	ck_assert_int_eq(state_of(par2 + 1), ES_DONE);
}
END_TEST

static Suite *
engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_engine_echo_is_done_in_first_pass);
	tcase_add_test(tc, test_engine_evicted_replays_on_demand);
	tcase_add_test(tc, test_engine_evicted_replay_divergence_fails);
	tcase_add_test(tc, test_engine_restart_leaves_over_budget_asleep);
	tcase_add_test(tc, test_engine_memory_bound);
	tcase_add_test(tc, test_engine_state_counts_are_kept);
	tcase_add_test(tc, test_engine_entry_order_and_call_index);
	tcase_add_test(tc, test_engine_host_throw_is_journaled_and_replayed);
	tcase_add_test(tc, test_engine_settled_before_start);
	tcase_add_test(tc,
	    test_engine_settled_while_sleeping_appended_after_replay);
	tcase_add_test(tc, test_engine_settled_after_restart);
	tcase_add_test(tc,
	    test_engine_same_vow_twice_and_held_vow_awaited_later);
	tcase_add_test(tc, test_engine_upgrade_identical_code);
	tcase_add_test(tc, test_engine_upgrade_diverging_then_fixed);
	tcase_add_test(tc, test_engine_failure_is_logged_once);
	tcase_add_test(tc, test_engine_wake_retries_failed_with_current_code);
	tcase_add_test(tc, test_engine_start_retries_failed_beyond_its_budget);
	tcase_add_test(tc, test_engine_early_completion_is_divergence);
	tcase_add_test(tc, test_engine_idle_while_expected_is_detected);
	tcase_add_test(tc, test_engine_all_and_race_orders_replayed);
	tcase_add_test(tc, test_engine_all_rejects_with_first_rejection);
	tcase_add_test(tc,
	    test_engine_all_settled_lists_every_outcome_in_order);
	tcase_add_test(tc,
	    test_engine_cancel_reaches_waits_and_flow_compensates);
	tcase_add_test(tc, test_engine_export_calls_journaled_and_replayed);
	tcase_add_test(tc,
	    test_engine_export_divergence_sleeping_failed_and_flow_calls);
	tcase_add_test(tc,
	    test_engine_child_flows_once_and_cancelled_with_parent);
	tcase_add_test(tc, test_engine_spawn_replays_across_restart);
	tcase_add_test(tc, test_engine_chain_of_three_vows);
	tcase_add_test(tc, test_engine_settle_twice_and_wrong_resolver);
	tcase_add_test(tc, test_engine_loop_replay_matches_live);
	tcase_add_test(tc, test_engine_bad_input);
	tcase_add_test(tc, test_engine_await_of_missing_vow_is_notfound);
	tcase_add_test(tc, test_engine_await_of_missing_vow_replays_the_same);
	tcase_add_test(tc, test_engine_send_names_must_be_utf8);
	tcase_add_test(tc, test_engine_list_after_max_id_lists_nothing);
	tcase_add_test(tc,
	    test_engine_malformed_result_fails_and_reject_rejects);
	tcase_add_test(tc, test_engine_unregistered_flow_fails_then_recovers);
	tcase_add_test(tc, test_engine_failed_commit_rebuilds_by_replay);
	tcase_add_test(tc, test_engine_broken_store_is_reopened_and_rebuilt);
	tcase_add_test(tc, test_engine_map_full_loses_nothing_committed);
	tcase_add_test(tc,
	    test_engine_unreadable_vow_row_does_not_stop_every_pass);
	tcase_add_test(tc, test_engine_newer_journal_format_refused);
	tcase_add_test(tc, test_engine_second_store_on_same_dir_refused);
	tcase_add_test(tc, test_engine_restart_across_fork);
	tcase_add_test(tc, test_engine_send_outbox_exactly_once_across_restart);
	tcase_add_test(tc, test_engine_send_reordering_diverges);
	tcase_add_test(tc, test_engine_timer_survives_restart_and_fires_late);
	tcase_add_test(tc, test_engine_keyed_start_is_idempotent);
	tcase_add_test(tc, test_engine_timer_at_the_end_of_time_is_refused);
	tcase_add_test(tc, test_engine_quarantine_and_waiting_on);
	tcase_add_test(tc, test_engine_retained_journal_of_done);
	tcase_add_test(tc, test_engine_journal_length_of_done_is_what_is_kept);
	tcase_add_test(tc, test_engine_journal_in_pages);
	tcase_add_test(tc, test_engine_start_runs_within_a_full_pass);
	tcase_add_test(tc, test_engine_resolvers_cannot_be_forged);
	tcase_add_test(tc, test_engine_invalid_values_are_never_stored);
	tcase_add_test(tc, test_engine_resolvers_cannot_be_laundered);
	tcase_add_test(tc, test_engine_start_behind_settlements_runs);
	tcase_add_test(tc, test_engine_quarantine_at_open_precedes_replay);
	tcase_add_test(tc, test_engine_oom_in_settle_callback_fails_the_pass);
	tcase_add_test(tc, test_engine_blocked_on_times_and_last_incarnation);
	tcase_add_test(tc, test_engine_terminate);
	tcase_add_test(tc, test_engine_patched_old_and_new_paths);
	tcase_add_test(tc, test_engine_terminate_rejects_unanswered_calls);
	tcase_add_test(tc, test_engine_children_are_indexed);
	tcase_add_test(tc, test_engine_continue_as_new_rejects_calls_at_work);
	tcase_add_test(tc,
	    test_engine_children_index_built_for_old_stores_and_pruned);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(engine_suite)
