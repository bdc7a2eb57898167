/*
 * builtin_flows.c: the built-in module: demo flows that every asyncflowd
 * has, whatever modules it loads. Written against the public guest API
 * only, like any module.
 *
 *   echo    returns its args.
 *   gather  takes a list of vow references, awaits them in order and
 *           returns the list of their values; if one is rejected (or
 *           the gather is cancelled), its outcome is rejected with that
 *           same reason.
 *   transfer {"from": F, "to": T, "amount": N}: bank.withdraw from F, then
 *           bank.deposit to T; if the deposit is rejected, deposits N back
 *           to F (compensation) and rejects with the deposit's reason;
 *           otherwise {"ok": true}. `bank` is served by a client.
 *   nap     {"ms": N}: sleeps N ms on a durable timer, returns N.
 *   approval ARGS: makes a vow kit, sends approver.request({"resolver": R,
 *           "about": ARGS}) and returns what the vow is settled with; the
 *           approver settles it directly with the resolver it was given.
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
		*result = af_error(a, "TypeError",
		    "gather takes a list of vows");
		return AF_REJECTED;
	}
	n = args->u.list.len;
	if ((vals = af_arena_alloc(a, (n ? n : 1) * sizeof(*vals))) == NULL)
		return AF_ENOMEM;
	for (i = 0; i < n; i++) {
		v = args->u.list.items[i];
		if (v->type != AF_VOW) {
			vals[i] = v; /* plain values pass through */
			continue;
		}
		rc = af_await(f, v, &vals[i]);
		if (rc == AF_REJECTED || rc == AF_CANCELLED) {
			*result = vals[i];
			return AF_REJECTED;
		}
		if (rc != AF_OK)
			return rc;
	}
	*result = af_list_of(a, vals, n);
	return *result ? AF_OK : AF_ENOMEM;
}

/* {"account": acct, "amount": amount} */
static const struct af_value *
movement(struct af_arena *a, const struct af_value *acct,
    const struct af_value *amount)
{
	const char *keys[2] = { "account", "amount" };
	const struct af_value *vals[2] = { acct, amount };

	return af_record(a, keys, vals, 2);
}

/* Send bank.method(movement) and await the answer. */
static int
bank(struct af_flow *f, const char *method, const struct af_value *acct,
    const struct af_value *amount, const struct af_value **out)
{
	const struct af_value *v;
	int rc;

	rc = af_send(f, "bank", method,
	    movement(af_flow_arena(f), acct, amount), &v);
	if (rc != AF_OK) {
		*out = v;
		return rc;
	}
	return af_await(f, v, out);
}

static int
flow_transfer(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *from = af_get(args, "from");
	const struct af_value *to = af_get(args, "to");
	const struct af_value *amount = af_get(args, "amount");
	const struct af_value *out, *reason, *t;
	const char *ok = "ok";
	int rc;

	if (from == NULL || to == NULL || amount == NULL) {
		*result = af_error(a, "TypeError",
		    "transfer takes {\"from\", "
		    "\"to\", \"amount\"}");
		return AF_REJECTED;
	}
	if ((rc = bank(f, "withdraw", from, amount, &out)) != AF_OK) {
		*result = out;
		return AF_REJECTED;
	}
	if ((rc = bank(f, "deposit", to, amount, &reason)) != AF_OK) {
		/* Compensate, then report why the deposit failed. */
		bank(f, "deposit", from, amount, &out);
		*result = reason;
		return AF_REJECTED;
	}
	t = af_bool(a, true);
	*result = af_record(a, &ok, &t, 1);
	return *result ? AF_OK : AF_ENOMEM;
}

static int
flow_nap(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *ms = af_get(args, "ms"), *v, *due;
	int rc;

	if (ms == NULL || ms->type != AF_INT || ms->u.i < 0) {
		*result = af_error(af_flow_arena(f), "TypeError",
		    "nap takes {\"ms\": N} with N >= 0");
		return AF_REJECTED;
	}
	/* timer.sleep itself (af_sleep's call), so that its refusal of a due
	 * time past the end of time (a RangeError) is the nap's outcome:
	 * af_sleep would say only NULL. */
	if ((rc = af_call(f, "timer", "sleep", ms, &v)) == AF_REJECTED) {
		*result = v;
		return AF_REJECTED;
	}
	if (rc != AF_OK)
		return rc;
	if (af_await(f, v, &due) != AF_OK) {
		*result = due;
		return AF_REJECTED;
	}
	*result = ms;
	return AF_OK;
}

static int
flow_approval(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const char *keys[2] = { "about", "resolver" };
	const struct af_value *vals[2], *vow, *sent;
	int rc;

	if ((vow = af_vow_kit(f, &vals[1])) == NULL)
		return AF_ENOMEM;
	vals[0] = args;
	rc = af_send(f, "approver", "request", af_record(a, keys, vals, 2),
	    &sent);
	if (rc != AF_OK) {
		*result = sent;
		return AF_REJECTED;
	}
	/* The answer comes through the resolver, not the send's vow. */
	return af_await(f, vow, result);
}

int
builtin_flows_register(struct af_registry *r)
{
	int rc;

	if ((rc = af_register_flow(r, "echo", flow_echo)) != AF_OK ||
	    (rc = af_register_flow(r, "gather", flow_gather)) != AF_OK ||
	    (rc = af_register_flow(r, "transfer", flow_transfer)) != AF_OK ||
	    (rc = af_register_flow(r, "nap", flow_nap)) != AF_OK)
		return rc;
	return af_register_flow(r, "approval", flow_approval);
}
