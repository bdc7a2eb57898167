/*
 * rounds.c: the flow module of tests/e2e/continue-as-new.sh. `rounds`
 * ({"left": [vows...], "sum": S}) awaits the first vow of `left` (an
 * int), then continues as new with the rest and S plus what it got;
 * with none left it returns S. So each round starts on a fresh journal,
 * and the vows not yet awaited are carried over in its args.
 *
 * Not here: a module to copy for anything else (modules/example.c is).
 */
#include <stddef.h>

#include "asyncflow/flow.h"

static int
flow_rounds(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *left = af_get(args, "left");
	const struct af_value *sum = af_get(args, "sum"), *v, *vals[2];
	const struct af_value *rest[64];
	const char *keys[2] = { "left", "sum" };
	size_t i;

	if (left == NULL || left->type != AF_LIST || sum == NULL ||
	    sum->type != AF_INT || left->u.list.len > 64) {
		*result = af_error(a, "TypeError",
		    "rounds takes {\"left\": [vows], \"sum\": N}");
		return AF_REJECTED;
	}
	if (left->u.list.len == 0) {
		*result = sum;
		return AF_OK;
	}
	if (af_await(f, left->u.list.items[0], &v) != AF_OK) {
		*result = v;
		return AF_REJECTED;
	}
	for (i = 1; i < left->u.list.len; i++)
		rest[i - 1] = left->u.list.items[i];
	vals[0] = af_list_of(a, rest, left->u.list.len - 1);
	vals[1] = af_int(a, sum->u.i + (v->type == AF_INT ? v->u.i : 0));
	return af_continue_as_new(f, af_record(a, keys, vals, 2));
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	return af_register_flow(r, "rounds", flow_rounds);
}
