/*
 * builtin_flows.c: the built-in module: demo flows that every asyncflowd
 * has, whatever modules it loads. Written against the public guest API
 * only, like any module.
 *
 *   echo    returns its args.
 *   gather  takes a list of vow references, awaits them in order and
 *           returns the list of their values; if one is rejected, its
 *           outcome is rejected with that same reason.
 */
#include "asyncflow/flow.h"
#include "builtin_flows.h"

static int
flow_echo(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	*result = args;
	return AF_OK;
}

static int
flow_gather(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value **vals, *v;
	size_t i, n;
	int rc;

	if (args->type != AF_LIST) {
		*result = af_error(a, "TypeError", "gather takes a list of vows");
		return AF_REJECTED;
	}
	n = args->u.list.len;
	if ((vals = af_arena_alloc(a, (n ? n : 1) * sizeof(*vals))) == NULL)
		return AF_ENOMEM;
	for (i = 0; i < n; i++) {
		v = args->u.list.items[i];
		if (v->type != AF_VOW) {
			vals[i] = v;    /* plain values pass through */
			continue;
		}
		rc = af_await(f, v, &vals[i]);
		if (rc == AF_REJECTED) {
			*result = vals[i];
			return AF_REJECTED;
		}
		if (rc != AF_OK)
			return rc;
	}
	*result = af_list(a, vals, n);
	return *result ? AF_OK : AF_ENOMEM;
}

int
builtin_flows_register(struct af_registry *r)
{
	int rc;

	if ((rc = af_register_flow(r, "echo", flow_echo)) != AF_OK)
		return rc;
	return af_register_flow(r, "gather", flow_gather);
}
