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
 * Usage: bench_engine [N] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "engine.h"
#include "registry.h"
#include "store.h"
#include "value.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
counter_next(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *r, *v;

	(void)data;
	if ((v = af_host_vow_kit(h, &r)) == NULL ||
	    af_host_resolve(h, r, args) != AF_OK)
		return AF_ENOMEM;
	*result = v;
	return AF_OK;
}

static const struct af_method counter_methods[] = { { "next", counter_next } };

static int
flow_loop(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v, *x;
	int64_t i, n = af_get(args, "n")->u.i;

	for (i = 0; i < n; i++) {
		if (af_call(f, "counter", "next", af_int(af_flow_arena(f), i),
			&v) != AF_OK ||
		    af_await(f, v, &x) != AF_OK)
			return AF_REJECTED;
	}
	af_await(f, af_get(args, "hang"), &x);
	*result = x;
	return AF_OK;
}

static int
flow_trivial(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	*result = args;
	return AF_OK;
}

struct env {
	char dir[256];
	struct store *st;
	struct af_registry *reg;
	struct engine *eng;
};

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "bench_engine: %s: %s\n", what, err);
	exit(1);
}

static void
env_open(struct env *v, enum store_durability d)
{
	struct store_opts so = { .durability = d };
	char err[256];

	v->reg = registry_new();
	af_register_object(v->reg, "counter", counter_methods, 1, NULL);
	af_register_flow(v->reg, "loop", flow_loop);
	af_register_flow(v->reg, "trivial", flow_trivial);
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
	const char *t = getenv("TMPDIR");

	snprintf(v->dir, sizeof(v->dir), "%s/afbench.XXXXXX",
	    t && *t ? t : "/tmp");
	if (mkdtemp(v->dir) == NULL)
		die("mkdtemp", v->dir);
	env_open(v, d);
}

static void
env_destroy(struct env *v)
{
	char cmd[300];

	env_close(v);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", v->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_engine: could not remove %s\n", v->dir);
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

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 5, i;
	double live[16], full[16], replay[16], starts[16];
	struct engine_stats st;
	struct env v;

	if (runs < 1 || runs > 16)
		runs = 5;
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
