/*
 * bench_engine.c: the engine's figures, in-process, on a real LMDB store in
 * a temporary directory. Prints `bench NAME VALUE UNIT` lines (medians).
 *
 * The workload mirrors the reference's benchmark: a flow loops N times
 * doing v = af_call(counter, "next", i) (a host object that makes a vow,
 * settles it and returns it) then af_await(v): three journal entries per
 * step (checkCall, doReturn, doFulfill). It then waits on a vow nobody
 * settles, so the journal stays for the replay figure.
 *
 *   replay_entries_per_s        reopen the store, replay N = 100,000 steps
 *   live_crossings_per_s        the same flow live, durability none
 *   live_crossings_per_s_full   the same flow live, durability full (one
 *                               fsync per group commit)
 *   activations_per_s           start-to-Done of a trivial flow, none
 *
 * Usage: bench_engine [N] [RUNS]  (100000 and 3 if not given: each run
 * is about 1.3 s of measurement on a quiet 2-core VM, 300,000 entries
 * live, replayed and live at full, and 50,000 starts)
 */
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "engine.h"
#include "flowkit.h"
#include "registry.h"
#include "store.h"
#include "value.h"

struct env {
	char dir[256];
	struct store *st;
	struct af_registry *reg;
	struct engine *eng;
};

static void
env_open(struct env *v, enum store_durability d)
{
	struct store_opts so = { .durability = d };
	char err[256];

	v->reg = registry_new();
	flowkit_register_loop(v->reg);
	if (af_register_flow(v->reg, "trivial", flowkit_trivial) != AF_OK)
		die("registry", "out of memory");
	if (store_open_lmdb(v->dir, &so, &v->st, err, sizeof(err)) != AF_OK)
		die("store", err);
	if (engine_open(v->st, v->reg, NULL, &v->eng, err, sizeof(err)) !=
	    AF_OK)
		die("engine", err);
}

static void
env_close(struct env *v)
{
	engine_close(v->eng);
	store_close(v->st);
	registry_free(v->reg);
}

static void
env_new(struct env *v, enum store_durability d)
{
	flowkit_mkdir(v->dir, sizeof(v->dir));
	env_open(v, d);
}

static void
env_destroy(struct env *v)
{
	env_close(v);
	flowkit_rmdir(v->dir);
}

/* Run the loop flow live; returns entries/s. Leaves it hanging. */
static double
live_loop(struct env *v, long n)
{
	struct af_arena *ar = arena_new(0);
	const char *keys[2] = { "hang", "n" };
	const struct af_value *vals[2];
	uint64_t hang, act, out;
	uint8_t secret[16];
	struct engine_stats s0, s1;
	double t0, t1;

	if (engine_mkvow(v->eng, &hang, secret) != AF_OK)
		die("mkvow", "");
	vals[0] = af_vow_ref(ar, hang);
	vals[1] = af_int(ar, n);
	engine_stats(v->eng, &s0);
	t0 = now_s();
	if (engine_start(v->eng, "loop", af_record(ar, keys, vals, 2), &act,
		&out) != AF_OK ||
	    engine_run_until_idle(v->eng) != AF_OK)
		die("live run", engine_errmsg(v->eng));
	t1 = now_s();
	engine_stats(v->eng, &s1);
	arena_free(ar);
	return (double)(s1.entries_written - s0.entries_written) / (t1 - t0);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 3, i;
	double live[16], full[16], replay[16], starts[16];
	struct engine_stats st;
	struct env v;

	if (runs < 1 || runs > 16)
		runs = 3;
	for (i = 0; i < runs; i++) {
		double t0, t1;

		env_new(&v, STORE_NONE);
		live[i] = live_loop(&v, n);
		env_close(&v);
		t0 = now_s();
		env_open(&v, STORE_NONE);
		if (engine_run_until_idle(v.eng) != AF_OK)
			die("replay", engine_errmsg(v.eng));
		t1 = now_s();
		engine_stats(v.eng, &st);
		if (st.entries_replayed != (uint64_t)(3 * n))
			die("replay", "not every entry was replayed");
		replay[i] = (double)st.entries_replayed / (t1 - t0);
		env_destroy(&v);

		env_new(&v, STORE_FULL);
		full[i] = live_loop(&v, n);
		env_destroy(&v);

		/* Trivial flows, started 1,000 per pass. */
		{
			struct af_arena *ar = arena_new(0);
			long k, total = n / 2;
			uint64_t act, out;

			env_new(&v, STORE_NONE);
			t0 = now_s();
			for (k = 0; k < total; k++) {
				if (engine_start(v.eng, "trivial",
					af_int(ar, k), &act, &out) != AF_OK)
					die("start", "");
				if (k % 1000 == 999 &&
				    engine_run_until_idle(v.eng) != AF_OK)
					die("start pass", engine_errmsg(v.eng));
			}
			if (engine_run_until_idle(v.eng) != AF_OK)
				die("start pass", engine_errmsg(v.eng));
			t1 = now_s();
			starts[i] = total / (t1 - t0);
			env_destroy(&v);
			arena_free(ar);
		}
	}
	printf("bench replay_entries_per_s %.0f entries/s\n",
	    median(replay, runs));
	printf("bench live_crossings_per_s %.0f entries/s\n",
	    median(live, runs));
	printf("bench live_crossings_per_s_full %.0f entries/s\n",
	    median(full, runs));
	printf("bench activations_per_s %.0f activations/s\n",
	    median(starts, runs));
	return 0;
}
