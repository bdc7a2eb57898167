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
 *   shop    issue 10's `order` demo, named so because the example module
 *           (modules/example.c) registers a flow `order` of its own, and
 *           a name is registered once. {"ship_ms": N} (optional): exports
 *           `order` (af_export) with
 *           add_item {"item": S}, remove_item {"item": S}, items and
 *           checkout; checkout sends payments.charge({"order": A, "items":
 *           [...]}) and, once charged, starts a `shipping` child flow and
 *           returns {"order", "charge", "shipping"}. Cancelled before the
 *           charge answers: refunds nothing, rejects with the reason.
 *           Cancelled after: sends payments.refund({"order", "charge"}),
 *           awaits it, rejects with the reason (its shipping child is
 *           cancelled with it). `payments` is served by a client.
 *   shipping {"order": A, "items": [...], "ms": N}: sleeps N ms (the
 *           carrier), returns {"order": A, "shipped": [...]}.
 */
#include <string.h>

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

/* ---- order and shipping (issue 10, item 7) ---- */

struct order_state {
	const struct af_value *items;    /* a list of strings */
	const struct af_value *checkout; /* the resolver of the checkout vow */
	bool checked_out;
};

static const struct af_value *
rec(struct af_arena *a, const char *k1, const struct af_value *v1,
    const char *k2, const struct af_value *v2, const char *k3,
    const struct af_value *v3)
{
	const char *keys[3] = { k1, k2, k3 };
	const struct af_value *vals[3] = { v1, v2, v3 };

	return af_record(a, keys, vals, k3 ? 3 : k2 ? 2 : 1);
}

/* items with `item` added (add) or its first copy removed. */
static const struct af_value *
items_edit(struct af_arena *a, const struct af_value *items,
    const struct af_value *item, bool add)
{
	const struct af_value **v;
	size_t i, n = 0, len = items->u.list.len;
	bool gone = false;

	if ((v = af_arena_alloc(a, (len + 1) * sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (!add && !gone &&
		    af_value_equal(items->u.list.items[i], item)) {
			gone = true;
			continue;
		}
		v[n++] = items->u.list.items[i];
	}
	if (add)
		v[n++] = item;
	return af_list_of(a, v, n);
}

static int
order_handler(struct af_flow *f, void *arg, const char *method,
    const struct af_value *args, const struct af_value **result)
{
	struct order_state *st = arg;
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *item = af_get(args, "item"), *err;
	bool add = strcmp(method, "add_item") == 0;

	if (add || strcmp(method, "remove_item") == 0) {
		if (st->checked_out) {
			*result = af_error(a, "StateError",
			    "the order is checked out");
			return AF_REJECTED;
		}
		if (item == NULL || item->type != AF_STRING) {
			*result = af_error(a, "TypeError",
			    "takes {\"item\": NAME}");
			return AF_REJECTED;
		}
		if ((st->items = items_edit(a, st->items, item, add)) == NULL)
			return AF_ENOMEM;
		*result = st->items;
		return AF_OK;
	}
	if (strcmp(method, "items") == 0) {
		*result = st->items;
		return AF_OK;
	}
	if (strcmp(method, "checkout") == 0) {
		if (st->checked_out || st->items->u.list.len == 0) {
			*result = af_error(a, "StateError",
			    st->checked_out ? "checked out already" :
					      "the order is empty");
			return AF_REJECTED;
		}
		st->checked_out = true;
		if (af_resolve(f, st->checkout, st->items, &err) != AF_OK) {
			*result = err;
			return AF_REJECTED;
		}
		*result = rec(a, "checkout", af_bool(a, true), "items",
		    st->items, NULL, NULL);
		return AF_OK;
	}
	*result = af_error(a, "NotFound", "order has no such method");
	return AF_REJECTED;
}

static int
flow_order(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	struct order_state *st = af_arena_alloc(a, sizeof(*st));
	const struct af_value *ref, *go, *items, *id, *charge, *cv, *ship;
	const struct af_value *sv, *ms, *rv, *reason, *shipped;
	int rc;

	if (st == NULL)
		return AF_ENOMEM;
	st->checked_out = false;
	st->items = af_list_of(a, NULL, 0);
	if (st->items == NULL || (go = af_vow_kit(f, &st->checkout)) == NULL)
		return AF_ENOMEM;
	if ((rc = af_export(f, "order", order_handler, st, &ref)) != AF_OK)
		return rc;
	id = af_int(a, (int64_t)af_flow_id(f));
	/* Open until checkout; a cancel first: nothing to undo. */
	if ((rc = af_await(f, go, &items)) != AF_OK) {
		*result = items;
		return AF_REJECTED;
	}
	rc = af_send(f, "payments", "charge",
	    rec(a, "items", items, "order", id, NULL, NULL), &charge);
	if (rc != AF_OK) {
		*result = charge;
		return AF_REJECTED;
	}
	/* Cancelled before the charge answers: refunds nothing. */
	if ((rc = af_await(f, charge, &cv)) != AF_OK) {
		*result = cv;
		return AF_REJECTED;
	}
	ms = af_get(args, "ship_ms");
	rc = af_start_child(f, "shipping",
	    rec(a, "items", items, "ms", ms ? ms : af_int(a, 0), "order", id),
	    &ship);
	if (rc != AF_OK) {
		*result = ship;
		return AF_REJECTED;
	}
	if ((rc = af_await(f, ship, &sv)) == AF_CANCELLED) {
		/* Charged: refund, then say why. */
		reason = sv;
		if (af_send(f, "payments", "refund",
			rec(a, "charge", cv, "order", id, NULL, NULL),
			&rv) == AF_OK)
			af_await(f, rv, &shipped);
		*result = reason;
		return AF_REJECTED;
	}
	if (rc != AF_OK) {
		*result = sv;
		return AF_REJECTED;
	}
	*result = rec(a, "charge", cv, "order", id, "shipping", sv);
	return *result ? AF_OK : AF_ENOMEM;
}

static int
flow_shipping(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *ms = af_get(args, "ms"), *v, *due;
	int rc;

	if (ms == NULL || ms->type != AF_INT || ms->u.i < 0) {
		*result = af_error(a, "TypeError", "shipping takes ms >= 0");
		return AF_REJECTED;
	}
	if ((rc = af_call(f, "timer", "sleep", ms, &v)) != AF_OK) {
		*result = v;
		return AF_REJECTED;
	}
	if ((rc = af_await(f, v, &due)) != AF_OK) {
		*result = due;
		return AF_REJECTED;
	}
	*result = rec(a, "order", af_get(args, "order"), "shipped",
	    af_get(args, "items"), NULL, NULL);
	return *result ? AF_OK : AF_ENOMEM;
}

int
builtin_flows_register(struct af_registry *r)
{
	int rc;

	if ((rc = af_register_flow(r, "echo", flow_echo)) != AF_OK ||
	    (rc = af_register_flow(r, "gather", flow_gather)) != AF_OK ||
	    (rc = af_register_flow(r, "transfer", flow_transfer)) != AF_OK ||
	    (rc = af_register_flow(r, "nap", flow_nap)) != AF_OK ||
	    (rc = af_register_flow(r, "shop", flow_order)) != AF_OK ||
	    (rc = af_register_flow(r, "shipping", flow_shipping)) != AF_OK)
		return rc;
	return af_register_flow(r, "approval", flow_approval);
}
