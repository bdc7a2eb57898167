/*
 * spin.c: the flow module of tests/e2e/busy-answers.sh. `spin` continues
 * as new at once, for ever: every pass commits it and queues its next
 * start, so the engine is never idle until it is terminated.
 *
 * Not here: a module to copy for anything else (modules/example.c is).
 */
#include <stddef.h>

#include "asyncflow/flow.h"

static int
flow_spin(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)result;
	return af_continue_as_new(f, args);
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	return af_register_flow(r, "spin", flow_spin);
}
