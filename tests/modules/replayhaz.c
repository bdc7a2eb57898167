/*
 * replayhaz.c: the flow module of tests/e2e/upgrade-check.sh whose flows
 * misbehave only on replay, so that a running daemon is unaffected and
 * only the upgrade checker (or a restart) meets them:
 *
 *   `spin`  records one step, waits for args.go; replaying, it loops for
 *           ever before anything else (a runaway turn);
 *   `boom`  the same, but replaying it dereferences NULL (a crash);
 *   `calm`  records one step, waits for args.go (replays cleanly);
 *   `gate`  the same, but built with -DREPLAYHAZ_GATE, replaying it waits
 *           (in its turn) until the file named by args.gate exists: a
 *           check that cannot end before the test says so (under a turn
 *           limit longer than the test).
 *
 * Built with -DREPLAYHAZ_SAFE every flow replays cleanly: the version the
 * activations are started under. With -DREPLAYHAZ_DRIFT too, `calm`
 * records something else first, so its activations diverge at index 0
 * (Failed under that version).
 *
 * Not here: a module to copy (modules/example.c is).
 */
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asyncflow/flow.h"

static int
tally_record(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	*result = args;
	return AF_OK;
}

static const struct af_method tally_methods[] = {
	{ "record", tally_record },
};

static int
record_and_wait(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *r;
	int rc;

	if ((rc = af_call(f, "tally", "record", args, &r)) != AF_OK)
		return rc;
	return af_await(f, af_get(args, "go"), result);
}

static int
flow_spin(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
#ifndef REPLAYHAZ_SAFE
	volatile unsigned long n = 0;

	while (af_flow_replaying(f))
		n++; /* never reaches a wait */
#endif
	return record_and_wait(f, args, result);
}

static int
flow_boom(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
#ifndef REPLAYHAZ_SAFE
	if (af_flow_replaying(f)) {
		volatile int *p = NULL;

		*p = 1;
	}
#endif
	return record_and_wait(f, args, result);
}

static int
flow_calm(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
#ifdef REPLAYHAZ_DRIFT
	const struct af_value *r;
	int rc;

	if ((rc = af_call(f, "tally", "record",
		 af_string(af_flow_arena(f), "drift"), &r)) != AF_OK)
		return rc;
#endif
	return record_and_wait(f, args, result);
}

static int
flow_gate(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
#ifdef REPLAYHAZ_GATE
	const struct af_value *g = af_get(args, "gate");
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	char path[4096];

	if (af_flow_replaying(f) && g != NULL && g->type == AF_STRING &&
	    g->u.s.len < sizeof(path)) {
		memcpy(path, g->u.s.ptr, g->u.s.len);
		path[g->u.s.len] = '\0';
		while (access(path, F_OK) != 0)
			nanosleep(&nap, NULL);
	}
#endif
	return record_and_wait(f, args, result);
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	if (af_register_object(r, "tally", tally_methods, 1, NULL) != AF_OK ||
	    af_register_flow(r, "spin", flow_spin) != AF_OK ||
	    af_register_flow(r, "boom", flow_boom) != AF_OK ||
	    af_register_flow(r, "calm", flow_calm) != AF_OK ||
	    af_register_flow(r, "gate", flow_gate) != AF_OK)
		return AF_EEXIST;
	return AF_OK;
}
