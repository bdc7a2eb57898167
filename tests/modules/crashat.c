/*
 * crashat.c: the flow module of tests/e2e/upgrade-index.sh. Two flows,
 * both ({"n": N, "at": K, "go": VOW}): each takes N steps, a call of the
 * module's object `steps` each (journaled checkCall, doReturn), then
 * waits for go. Built with -DCRASHAT_SAFE they replay cleanly (the
 * version the activations are started under); without it, replaying,
 * `crashat` dereferences NULL just before step K (a crash) and `spinat`
 * loops for ever there (a runaway turn): after reading the journal up to
 * index 2K - 1, step K - 1's doReturn.
 *
 * Not here: a module to copy for anything else (modules/example.c is).
 */
#include <stddef.h>

#include "asyncflow/flow.h"

static int
steps_step(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	*result = args;
	return AF_OK;
}

static const struct af_method steps_methods[] = {
	{ "step", steps_step },
};

static int
run(struct af_flow *f, const struct af_value *args,
    const struct af_value **result, int how)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *n = af_get(args, "n"), *at = af_get(args, "at");
	const struct af_value *r;
	int rc;

	if (n == NULL || n->type != AF_INT || at == NULL ||
	    at->type != AF_INT) {
		*result = af_error(a, "TypeError",
		    "takes {\"n\": N, \"at\": K, \"go\": VOW}");
		return AF_REJECTED;
	}
	for (int64_t i = 0; i < n->u.i; i++) {
#ifndef CRASHAT_SAFE
		if (af_flow_replaying(f) && i == at->u.i) {
			volatile int *p = NULL;
			volatile unsigned long spins = 0;

			if (how == 0)
				*p = 1;
			while (af_flow_replaying(f))
				spins++; /* never reaches a wait */
		}
#else
		(void)how;
#endif
		if ((rc = af_call(f, "steps", "step", af_int(a, i), &r)) !=
		    AF_OK)
			return rc;
	}
	return af_await(f, af_get(args, "go"), result);
}

static int
flow_crashat(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	return run(f, args, result, 0);
}

static int
flow_spinat(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	return run(f, args, result, 1);
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	int rc;

	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	if ((rc = af_register_object(r, "steps", steps_methods, 1, NULL)) !=
		AF_OK ||
	    (rc = af_register_flow(r, "crashat", flow_crashat)) != AF_OK)
		return rc;
	return af_register_flow(r, "spinat", flow_spinat);
}
