/*
 * bench_children.c: child flows (issue 10, item 9), in-process, on a real
 * LMDB store in a temporary directory, durability none. Prints a `bench
 * NAME VALUE UNIT` line (the median of RUNS runs):
 *
 *   child_flows_per_s   a parent starts N = 10,000 trivial children with
 *                       af_start_child (each journaled as flows.start),
 *                       then awaits them all with af_all; children per
 *                       second from its start to its Done
 *
 * Not a test: it checks only that the parent finished.
 * Usage: bench_children [N] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "engine.h"
#include "flowkit.h"
#include "registry.h"
#include "store.h"
#include "value.h"

static int
flow_parent(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	int64_t i, n = args->u.i;
	const struct af_value **outs;

	if ((outs = af_arena_alloc(a, (size_t)n * sizeof(*outs))) == NULL)
		return AF_ENOMEM;
	for (i = 0; i < n; i++)
		if (af_start_child(f, "trivial", af_int(a, i), &outs[i]) !=
		    AF_OK)
			return AF_EINVAL;
	return af_all(f, outs, (size_t)n, result);
}

/* One run on a fresh store: children per second. */
static double
run(long n)
{
	struct store_opts so = { .durability = STORE_NONE };
	struct af_registry *reg = registry_new();
	struct af_arena *ar = arena_new(0);
	struct engine_act_info info;
	struct engine *eng;
	struct store *st;
	char dir[256], err[256];
	uint64_t act, out;
	double t0, t1;

	flowkit_mkdir(dir, sizeof(dir));
	af_register_flow(reg, "trivial", flowkit_trivial);
	af_register_flow(reg, "parent", flow_parent);
	if (store_open_lmdb(dir, &so, &st, err, sizeof(err)) != AF_OK)
		die("store", err);
	if (engine_open(st, reg, NULL, &eng, err, sizeof(err)) != AF_OK)
		die("engine", err);
	t0 = now_s();
	if (engine_start(eng, "parent", af_int(ar, n), &act, &out) != AF_OK ||
	    engine_run_until_idle(eng) != AF_OK)
		die("run", engine_errmsg(eng));
	t1 = now_s();
	if (engine_act_info(eng, act, &info) != AF_OK || info.state != ES_DONE)
		die("parent", "not Done");
	engine_close(eng);
	store_close(st);
	registry_free(reg);
	arena_free(ar);
	flowkit_rmdir(dir);
	return (double)n / (t1 - t0);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	int runs = argc > 2 ? atoi(argv[2]) : 5, i;
	double v[16];

	if (runs < 1 || runs > 16)
		runs = 5;
	if (n < 1)
		n = 10000;
	for (i = 0; i < runs; i++)
		v[i] = run(n);
	qsort(v, (size_t)runs, sizeof(*v), cmp_double);
	printf("bench child_flows_per_s %.0f children/s\n", v[runs / 2]);
	return 0;
}
