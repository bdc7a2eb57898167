/*
 * waiter.c: the flow module of tests/e2e/terminate-calls.sh. `waiter`
 * ({"done": VOW}) exports `w`, whose method `wait` ({"v": VOW}) awaits v
 * and answers its value; the flow itself awaits done and returns null. So
 * the test keeps a call into an export in flight (journaled as doCall,
 * not answered) for as long as it leaves v unsettled.
 *
 * Not here: a module to copy for anything else (modules/example.c is).
 */
#include <stddef.h>
#include <string.h>

#include "asyncflow/flow.h"

static int
wait_handler(struct af_flow *f, void *arg, const char *method,
    const struct af_value *args, const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *v = af_get(args, "v");

	(void)arg;
	if (strcmp(method, "wait") != 0 || v == NULL || v->type != AF_VOW) {
		*result = af_error(a, "TypeError", "w.wait takes {\"v\": VOW}");
		return AF_REJECTED;
	}
	return af_await(f, v, result);
}

static int
flow_waiter(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *done = af_get(args, "done"), *ref, *v;
	int rc;

	if (done == NULL || done->type != AF_VOW) {
		*result = af_error(a, "TypeError",
		    "waiter takes {\"done\": VOW}");
		return AF_REJECTED;
	}
	if ((rc = af_export(f, "w", wait_handler, NULL, &ref)) != AF_OK)
		return rc;
	if (af_await(f, done, &v) != AF_OK) {
		*result = v;
		return AF_REJECTED;
	}
	*result = af_null(a);
	return *result ? AF_OK : AF_ENOMEM;
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	return af_register_flow(r, "waiter", flow_waiter);
}
