/*
 * bench_upgrade.c: the upgrade check's figures (issue 9, item 9),
 * in-process, on a real LMDB store in a temporary directory. Prints
 * `bench NAME VALUE UNIT` lines (medians).
 *
 * The store holds N = 100,000 waiting activations of bench_engine's
 * seed-style loop (flowkit.c) with one step: v = af_call(counter, "next", 0),
 * af_await(v), then a wait on a vow nobody settles: three journal entries
 * each (checkCall, doReturn, doFulfill). One is run by the engine; the
 * other N - 1 are its rows and journal copied through the store API (a
 * daemon cannot hold 100,000 resident activations at the stock
 * vm.max_map_count). The check opens the store as a read-only snapshot
 * and replays every one in the engine's check mode, as the checker's
 * worker does, and must say ok for all N (and 3N entries), or the bench
 * fails: a wrong fixture cannot pass silently.
 *
 *   upgrade_check_entries_per_s   journal entries checked per second
 *   upgrade_check_s_100k          seconds to check the N activations
 *   upgrade_check_cpu_s_100k      the same in CPU seconds of the process:
 *                                 on a machine shared with other work,
 *                                 the wall clock above includes the time
 *                                 others had the CPU; this does not
 *
 * Not measured here: the checker process's start (a fork and the module
 * loads, milliseconds); live_upgrade_pause_ms is bench_upgrade_live.c's.
 *
 * Usage: bench_upgrade [N] [RUNS]  (100000 and 5 if not given)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acttab.h"
#include "arena.h"
#include "buf.h"
#include "engine.h"
#include "flowkit.h"
#include "journal.h"
#include "log.h"
#include "registry.h"
#include "store.h"
#include "tables.h"
#include "value.h"

#define COPY_CHUNK 10000
#define LIST_CHUNK 1024

static struct af_registry *
registry(void)
{
	struct af_registry *reg = registry_new();

	flowkit_register_loop(reg);
	return reg;
}

/* The store in dir: one activation run, then n - 1 copies of it. */
static void
build(const char *dir, long n)
{
	struct store_opts so = { .durability = STORE_NONE };
	struct af_arena *ar = arena_new(0);
	struct af_registry *reg = registry();
	const char *keys[2] = { "hang", "n" };
	const struct af_value *vals[2];
	uint64_t hang, act, out;
	uint8_t secret[16];
	struct store_txn *t;
	struct engine *e;
	struct store *s;
	struct act_row row;
	struct jlog log;
	struct buf rb, scratch;
	char err[256];
	long id;
	size_t k;

	if (store_open_lmdb(dir, &so, &s, err, sizeof(err)) != AF_OK)
		die("store", err);
	if (engine_open(s, reg, NULL, &e, err, sizeof(err)) != AF_OK)
		die("engine", err);
	if (engine_mkvow(e, &hang, secret) != AF_OK)
		die("mkvow", "");
	vals[0] = af_vow_ref(ar, hang);
	vals[1] = af_int(ar, 1);
	if (engine_start(e, "loop", af_record(ar, keys, vals, 2), &act, &out) !=
		AF_OK ||
	    engine_run_until_idle(e) != AF_OK)
		die("run", engine_errmsg(e));
	engine_close(e);
	buf_init(&rb);
	buf_init(&scratch);
	if (acttab_read(s, act, &row, &rb) != AF_OK ||
	    row.journal_length != 3 || journal_load(s, act, 3, &log) != AF_OK)
		die("the template activation", "not three entries");
	for (id = (long)act + 1; id <= n;) {
		if (store_begin(s, false, &t) != AF_OK)
			die("begin", store_errmsg(s));
		for (k = 0; k < COPY_CHUNK && id <= n; k++, id++) {
			if (acttab_put(t, (uint64_t)id, &row, &scratch) !=
			    AF_OK)
				die("acttab_put", store_errmsg(s));
			for (size_t j = 0; j < log.n; j++)
				if (journal_put(t, (uint64_t)id, j,
					log.data + log.off[j],
					log.off[j + 1] - log.off[j]) != AF_OK)
					die("journal_put", store_errmsg(s));
		}
		if (meta_put_u64(t, "next_act", (uint64_t)id - 1) != AF_OK ||
		    store_commit(t) != AF_OK)
			die("commit", store_errmsg(s));
	}
	jlog_release(&log);
	buf_release(&rb);
	buf_release(&scratch);
	store_close(s);
	registry_free(reg);
	arena_free(ar);
}

/* Check every activation from a snapshot; returns the seconds taken, and
 * the CPU seconds in *cpu. */
static double
check(const char *dir, long n, double *cpu)
{
	struct af_registry *reg = registry();
	struct engine_check_result r;
	uint64_t ids[LIST_CHUNK], after = 0, entries = 0, ok = 0, seen = 0;
	struct engine *e;
	struct store *s;
	char err[256];
	double t0, t1, c0;
	size_t m, i;

	t0 = now_s();
	c0 = cpu_s();
	if (store_open_lmdb_snapshot(dir, NULL, &s, err, sizeof(err)) != AF_OK)
		die("snapshot", err);
	if (engine_check_open(s, reg, NULL, &e, err, sizeof(err)) != AF_OK)
		die("check engine", err);
	for (;;) {
		if (engine_check_list(e, after, ids, LIST_CHUNK, &m) != AF_OK)
			die("list", store_errmsg(s));
		if (m == 0)
			break;
		for (i = 0; i < m; i++) {
			if (engine_check_one(e, ids[i], &r) != AF_OK)
				die("check", store_errmsg(s));
			seen++;
			ok += r.verdict == EV_OK;
			entries += r.entries;
		}
		after = ids[m - 1];
	}
	engine_close(e);
	store_close(s);
	t1 = now_s();
	*cpu = cpu_s() - c0;
	registry_free(reg);
	if (seen != (uint64_t)n || ok != (uint64_t)n ||
	    entries != 3 * (uint64_t)n) {
		fprintf(stderr,
		    "bench_upgrade: checked %llu, %llu ok, %llu entries; "
		    "want %ld, %ld, %ld\n",
		    (unsigned long long)seen, (unsigned long long)ok,
		    (unsigned long long)entries, n, n, 3 * n);
		exit(1);
	}
	return t1 - t0;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 5, i;
	char dir[256];
	double secs[16], cpus[16], med, cpu;

	log_set_level(LOG_WARN);
	if (n < 1)
		n = 100000;
	if (runs < 1 || runs > 16)
		runs = 5;
	flowkit_mkdir(dir, sizeof(dir));
	build(dir, n);
	for (i = 0; i < runs; i++)
		secs[i] = check(dir, n, &cpus[i]);
	med = median(secs, runs);
	cpu = median(cpus, runs);
	flowkit_rmdir(dir);
	printf("bench upgrade_check_entries_per_s %.0f entries/s\n",
	    3.0 * (double)n / med);
	printf("bench upgrade_check_s_%ldk %.3f s\n", n / 1000, med);
	printf("bench upgrade_check_cpu_s_%ldk %.3f s\n", n / 1000, cpu);
	return 0;
}
