/*
 * spawn.c: the flow module of tests/e2e/child-kill.sh. `spawn`
 * ({"go": VOW, "gate": VOW}) awaits `go`, then starts one child of flow
 * `gated` with af_start_child ({"gate": gate}) and returns
 * {"child": OUTCOME}, the child's outcome; `gated` awaits its gate and
 * returns {"gated": VALUE}. So the test chooses when the child is started
 * (by settling go) and keeps it running (by not settling gate) while it
 * kills the daemon.
 *
 * Not here: a module to copy for anything else (modules/example.c is).
 */
#include <stddef.h>

#include "asyncflow/flow.h"

static int
flow_gated(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *gate = af_get(args, "gate"), *v;
	const char *key = "gated";

	if (gate == NULL || gate->type != AF_VOW) {
		*result = af_error(a, "TypeError",
		    "gated takes {\"gate\": VOW}");
		return AF_REJECTED;
	}
	if (af_await(f, gate, &v) != AF_OK) {
		*result = v;
		return AF_REJECTED;
	}
	*result = af_record(a, &key, &v, 1);
	return *result ? AF_OK : AF_ENOMEM;
}

static int
flow_spawn(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *go = af_get(args, "go");
	const struct af_value *gate = af_get(args, "gate"), *v, *out;
	const char *gkey = "gate", *ckey = "child";
	int rc;

	if (go == NULL || go->type != AF_VOW || gate == NULL ||
	    gate->type != AF_VOW) {
		*result = af_error(a, "TypeError",
		    "spawn takes {\"go\": VOW, \"gate\": VOW}");
		return AF_REJECTED;
	}
	if (af_await(f, go, &v) != AF_OK) {
		*result = v;
		return AF_REJECTED;
	}
	if ((rc = af_start_child(f, "gated", af_record(a, &gkey, &gate, 1),
		 &out)) != AF_OK)
		return rc;
	if (af_await(f, out, &v) != AF_OK) {
		*result = v;
		return AF_REJECTED;
	}
	*result = af_record(a, &ckey, &v, 1);
	return *result ? AF_OK : AF_ENOMEM;
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	int rc;

	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	if ((rc = af_register_flow(r, "spawn", flow_spawn)) != AF_OK)
		return rc;
	return af_register_flow(r, "gated", flow_gated);
}
