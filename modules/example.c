/*
 * example.c: an example flow module, and the one the upgrade tests build in
 * three versions (-DEXAMPLE_VERSION=1, 2, 3):
 *
 *   v1  `order` records step 1 in the `ledger` host object, waits for its
 *       approval vow, returns {"approved": VALUE, "step": 1}.
 *   v2  a careless change: records step 2 first. Replaying an activation
 *       started under v1 diverges: it becomes Failed, with no effect.
 *   v3  the fix: records step 1 as v1 did (the journal's prefix), and only
 *       after the approval does something new; activations from v1 finish.
 *
 * `pair` sends notify.first then notify.second and awaits both; v2 sends
 * them the other way round, which replay detects as divergence.
 *
 * `crash` waits for the vow args.after if given, then dereferences NULL
 * when args.crash is true (or overflows its stack when args.overflow is
 * also given) (v1, v2), to
 * show that a flow that crashes the daemon is quarantined at the next
 * start; v3 fixes it.
 *
 * Build: cc -shared -fPIC -Iinclude -o example.so modules/example.c
 * Load:  asyncflowd --module ./example.so
 */
#include <stddef.h>

#include "asyncflow/flow.h"

#ifndef EXAMPLE_VERSION
#define EXAMPLE_VERSION 1
#endif

/* ledger.record(x) returns x: a host method must be idempotent. */
static int
ledger_record(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	*result = args;
	return AF_OK;
}

static const struct af_method ledger_methods[] = {
	{ "record", ledger_record },
};

static const struct af_value *
step(struct af_arena *a, int n)
{
	const char *k[1] = { "step" };
	const struct af_value *v[1] = { af_int(a, n) };

	return af_record(a, k, v, 1);
}

static int
flow_order(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *rec, *approved, *vals[2];
	const char *keys[2] = { "approved", "step" };
	int rc;

	rc = af_call(f, "ledger", "record",
	    step(a, EXAMPLE_VERSION == 2 ? 2 : 1), &rec);
	if (rc != AF_OK)
		return rc;
	rc = af_await(f, af_get(args, "approval"), &approved);
	if (rc != AF_OK) {
		*result = approved;
		return AF_REJECTED;
	}
#if EXAMPLE_VERSION == 3
	/* New behaviour after the journal's prefix is legal. */
	af_call(f, "ledger", "record", step(a, 3), &rec);
#endif
	vals[0] = approved;
	vals[1] = af_get(rec, "step");
	*result = af_record(a, keys, vals, 2);
	return *result ? AF_OK : AF_ENOMEM;
}

#if EXAMPLE_VERSION < 3
/* Recursion without end: runs into the coroutine's guard page. */
static int
deep(volatile int n)
{
	volatile char pad[512];

	pad[0] = (char)n;
	return n < 0 ? 0 : deep(n + 1) + pad[0]; /* n never goes below 0 */
}
#endif

static int
flow_crash(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *c = af_get(args, "crash"), *after, *v;

	/* Optionally wait first, so that the crash comes in a later pass. */
	if ((after = af_get(args, "after")) != NULL)
		af_await(f, after, &v);
	if (c != NULL && c->type == AF_BOOL && c->u.b) {
#if EXAMPLE_VERSION < 3
		volatile int *p = NULL;

		if (af_get(args, "overflow") != NULL)
			(void)deep(0); /* the other bug: a stack overflow */
		*p = 1;                /* the bug */
#endif
	}
	*result = af_string(af_flow_arena(f), "fixed");
	return AF_OK;
}

static int
flow_pair(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const char *m1 = EXAMPLE_VERSION == 2 ? "second" : "first";
	const char *m2 = EXAMPLE_VERSION == 2 ? "first" : "second";
	const struct af_value *v[2], *r[2];
	int rc;

	if ((rc = af_send(f, "notify", m1, args, &v[0])) != AF_OK ||
	    (rc = af_send(f, "notify", m2, args, &v[1])) != AF_OK)
		return rc;
	af_await(f, v[0], &r[0]);
	af_await(f, v[1], &r[1]);
	*result = af_list_of(af_flow_arena(f), r, 2);
	return *result ? AF_OK : AF_ENOMEM;
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	int rc;

	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	if ((rc = af_register_object(r, "ledger", ledger_methods, 1, NULL)) !=
		AF_OK ||
	    (rc = af_register_flow(r, "order", flow_order)) != AF_OK ||
	    (rc = af_register_flow(r, "pair", flow_pair)) != AF_OK)
		return rc;
	return af_register_flow(r, "crash", flow_crash);
}
