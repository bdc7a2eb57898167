/*
 * hostobj.c: the host side of a crossing — af_host_* for host methods —
 * and the built-in objects every engine registers: vows (make, resolve,
 * reject), clock (now), random (next) and timer (sleep). Not here: how a
 * call is journaled (membrane.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sys/random.h>

#include "engine_int.h"
#include "value.h"

const struct af_value *
hostobj_error(struct af_arena *ar, const char *name, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return af_error(ar, name, msg);
}

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
	if (vowtab_make(h->e->vt, h->a != NULL ? h->a->id : 0, &id, NULL) !=
	    AF_OK)
		return NULL;
	h->e->dirty = true;
	if (u64map_put(&h->made, id, (void *)1) != AF_OK)
		return NULL;
	if (resolver != NULL)
		*resolver = af_resolver_ref(h->a->arena, id);
	return af_vow_ref(h->a->arena, id);
}

/* Whether v names resolver id. */
static bool
names_resolver(const struct af_value *v, uint64_t id)
{
	size_t i;

	if (v == NULL)
		return false;
	switch (v->type) {
	case AF_RESOLVER:
		return v->u.id == id;
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			if (names_resolver(v->u.list.items[i], id))
				return true;
		return false;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			if (names_resolver(v->u.rec.fields[i].value, id))
				return true;
		return false;
	default:
		return false;
	}
}

/* A host method holds the resolvers it made in this call and those it was
 * given in this call's args (which the flow held: membrane.c checks). */
static bool
host_holds(const struct af_host *h, uint64_t id)
{
	return u64map_get(&h->made, id) != NULL || names_resolver(h->args, id);
}

bool
hostobj_holds_resolvers(const struct af_host *h, const struct af_value *v)
{
	size_t i;

	switch (v->type) {
	case AF_RESOLVER:
		return host_holds(h, v->u.id);
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			if (!hostobj_holds_resolvers(h, v->u.list.items[i]))
				return false;
		return true;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			if (!hostobj_holds_resolvers(h,
				v->u.rec.fields[i].value))
				return false;
		return true;
	default:
		return true;
	}
}

/* Settle vow `id` with v (trusted caller). */
int
engine_settle_trusted(struct engine *e, uint64_t id, bool reject,
    const struct af_value *v)
{
	uint64_t follow = 0;
	int rc;

	buf_reset(&e->settle_buf);
	if ((rc = value_encode(&e->settle_buf, v)) != AF_OK)
		return rc;
	if (!reject && v->type == AF_VOW)
		follow = v->u.id;
	e->dirty = true;
	return vowtab_settle(e->vt, id, NULL, reject, e->settle_buf.p,
	    e->settle_buf.len, follow);
}

int
af_host_resolve(struct af_host *h, const struct af_value *resolver,
    const struct af_value *value)
{
	if (resolver == NULL || resolver->type != AF_RESOLVER)
		return AF_EINVAL;
	if (value == NULL && (value = af_null(h->a->arena)) == NULL)
		return AF_ENOMEM;
	/* Only a vow it made or was given, and nothing it does not hold
	 * passed on inside the value. */
	if (!host_holds(h, resolver->u.id) ||
	    !hostobj_holds_resolvers(h, value))
		return AF_EDENIED;
	return engine_settle_trusted(h->e, resolver->u.id, false, value);
}

int
af_host_reject(struct af_host *h, const struct af_value *resolver,
    const struct af_value *reason)
{
	if (resolver == NULL || resolver->type != AF_RESOLVER)
		return AF_EINVAL;
	if (reason == NULL && (reason = af_null(h->a->arena)) == NULL)
		return AF_ENOMEM;
	/* Only a vow it made or was given, and nothing it does not hold
	 * passed on inside the value. */
	if (!host_holds(h, resolver->u.id) ||
	    !hostobj_holds_resolvers(h, reason))
		return AF_EDENIED;
	return engine_settle_trusted(h->e, resolver->u.id, true, reason);
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
		*result = hostobj_error(ar, "NotHeld",
		    "this flow does not hold "
		    "the resolver of vow %llu",
		    (unsigned long long)r->u.id);
		return AF_REJECTED;
	}
	/* Nor may it pass on, inside the value, a resolver it made up. */
	if (v != NULL && !act_holds_resolvers(h->a, v)) {
		*result = hostobj_error(ar, "NotHeld",
		    "the value names a "
		    "resolver this flow does not hold");
		return AF_REJECTED;
	}
	rc = engine_settle_trusted(h->e, r->u.id, reject, v);
	if (rc == AF_OK) {
		*result = af_null(ar);
		return AF_OK;
	}
	*result = hostobj_error(ar,
	    rc == AF_ESETTLED   ? "AlreadySettled" :
		rc == AF_ECYCLE ? "Cycle" :
				  "Error",
	    "vow %llu: %s", (unsigned long long)r->u.id, af_strerror(rc));
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
	*result = af_int(h->a->arena, engine_now_ms(h->e));
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
	t.due = engine_now_ms(e);
	if (args->u.i > INT64_MAX - t.due) {
		*result = af_error(h->a->arena, "RangeError",
		    "timer.sleep: the due time is past the end of time");
		return AF_REJECTED;
	}
	t.due += args->u.i;
	if ((rc = vowtab_make(e->vt, h->a->id, &t.vow, NULL)) != AF_OK ||
	    (rc = timers_add(&e->timers, t)) != AF_OK)
		return rc;
	e->dirty = true;
	*result = af_vow_ref(h->a->arena, t.vow);
	return *result ? AF_OK : AF_ENOMEM;
}

/* flows.start({"flow": F, "args": A}): af_start_child. Starts F as a child
 * of the calling activation, in this pass, and answers its outcome vow.
 * The start, the call's journal entries and the child's row are in one
 * commit, so a crash never leaves two children (nor a child the parent's
 * journal does not name). */
static int
flows_start(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *flow = af_get(args, "flow");
	const struct af_value *cargs = af_get(args, "args");
	uint64_t act, outcome;
	struct act *child;
	char name[256];
	int rc;

	(void)data;
	if (flow == NULL || flow->type != AF_STRING ||
	    flow->u.s.len >= sizeof(name) ||
	    memchr(flow->u.s.ptr, '\0', flow->u.s.len) != NULL) {
		*result = af_error(h->a->arena, "TypeError",
		    "flows.start takes {\"flow\": NAME, \"args\": ARGS}");
		return AF_REJECTED;
	}
	memcpy(name, flow->u.s.ptr, flow->u.s.len);
	name[flow->u.s.len] = '\0';
	rc = engine_start(h->e, name, cargs, &act, &outcome);
	if (rc == AF_ENOTFOUND || rc == AF_EINVAL) {
		*result = hostobj_error(h->a->arena,
		    rc == AF_ENOTFOUND ? "NotFound" : "TypeError",
		    rc == AF_ENOTFOUND ?
			"no flow %s" :
			"flows.start %s: args a child cannot be given "
			"(a resolver)",
		    name);
		return AF_REJECTED;
	}
	if (rc != AF_OK)
		return rc;
	if ((child = u64map_get(&h->e->acts, act)) != NULL)
		child->parent = h->a->id;
	*result = af_vow_ref(h->a->arena, outcome);
	return *result ? AF_OK : AF_ENOMEM;
}

static const struct af_method flows_methods[] = { { "start", flows_start } };

static const struct af_method timer_methods[] = { { "sleep", timer_sleep } };

static const struct af_method vows_methods[] = {
	{ "make", vows_make },
	{ "resolve", vows_resolve },
	{ "reject", vows_reject },
};
static const struct af_method clock_methods[] = { { "now", clock_now } };
static const struct af_method random_methods[] = { { "next", random_next } };

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

/* The built-in objects, one table. */
static const struct {
	const char *name;
	const struct af_method *methods;
	size_t n;
} builtins[] = {
	{ "vows", vows_methods,
	    sizeof(vows_methods) / sizeof(vows_methods[0]) },
	{ "clock", clock_methods, 1 },
	{ "random", random_methods, 1 },
	{ "timer", timer_methods, 1 },
	{ "flows", flows_methods, 1 },
};

/* Register (or find registered) every built-in object in reg. */
int
hostobj_register(struct af_registry *reg)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if ((rc = register_builtin(reg, builtins[i].name,
			 builtins[i].methods, builtins[i].n)) != AF_OK)
			return rc;
	return AF_OK;
}
