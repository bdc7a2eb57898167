/*
 * patched.c: the flow module of tests/e2e/patched.sh, built there in two
 * versions (-DPATCHED_VERSION=1, 2), the README's af_patched example:
 *
 *   v1  `ship` records {"step": "pack"} in the `shipping` host object,
 *       waits for args.approval, records {"step": "send"}, waits for
 *       args.delivered, returns {"approval": A, "delivered": D,
 *       "patched": false}.
 *   v2  adds a step after packing, behind af_patched(f, "label"): it
 *       records {"step": "label"} too, and "patched" is true when it took
 *       it. An activation v1 started that had got its approval (its
 *       journal goes on past the patch point) replays on the false path;
 *       one still waiting for it is live at that point and takes the step.
 *
 * Not here: a module to copy for anything else (modules/example.c is).
 */
#include <stddef.h>

#include "asyncflow/flow.h"

#ifndef PATCHED_VERSION
#define PATCHED_VERSION 1
#endif

/* shipping.record(x) returns x (idempotent, as a host method must be). */
static int
shipping_record(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	*result = args;
	return AF_OK;
}

static const struct af_method shipping_methods[] = {
	{ "record", shipping_record },
};

static const struct af_value *
step(struct af_arena *a, const char *name)
{
	const char *k[1] = { "step" };
	const struct af_value *v[1] = { af_string(a, name) };

	return af_record(a, k, v, 1);
}

static int
flow_ship(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *out, *approval, *delivered, *v[3];
	const char *k[3] = { "approval", "delivered", "patched" };
	bool patched = false;
	int rc;

	if ((rc = af_call(f, "shipping", "record", step(a, "pack"), &out)) !=
	    AF_OK)
		return rc;
#if PATCHED_VERSION >= 2
	if (af_patched(f, "label")) {
		patched = true;
		if ((rc = af_call(f, "shipping", "record", step(a, "label"),
			 &out)) != AF_OK)
			return rc;
	}
#endif
	if ((rc = af_await(f, af_get(args, "approval"), &approval)) != AF_OK ||
	    (rc = af_call(f, "shipping", "record", step(a, "send"), &out)) !=
		AF_OK ||
	    (rc = af_await(f, af_get(args, "delivered"), &delivered)) != AF_OK)
		return rc;
	v[0] = approval;
	v[1] = delivered;
	v[2] = af_bool(a, patched);
	*result = af_record(a, k, v, 3);
	return *result ? AF_OK : AF_ENOMEM;
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	int rc;

	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	if ((rc = af_register_object(r, "shipping", shipping_methods, 1,
		 NULL)) != AF_OK)
		return rc;
	return af_register_flow(r, "ship", flow_ship);
}
