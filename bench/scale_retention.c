/*
 * scale_retention.c: what a finished activation costs the data file once
 * retention has pruned it (issue 8, item 8), in-process on a real LMDB
 * store in a temporary directory. Run by `make bench-scale`, not by
 * `make bench` (which runs bench_* only).
 *
 * N activations of a flow that leaves something in every table it can:
 * a keyed start (an idempotency key), a vow it makes and settles itself,
 * a timer that fires, one that is still pending when it returns, and a
 * retained journal. They finish with retention off; then the engine is
 * reopened with --retention 0 and run until idle. What the data file
 * holds is counted with the store's own counters (store_db_stat: rows
 * and the branch, leaf and overflow pages of every table but meta), not
 * its size: LMDB keeps freed pages in its file for reuse.
 *
 *   done_bytes_before_retention  used-page bytes per Done activation
 *   done_entries_before_retention rows per Done activation
 *   done_bytes_after_retention   the same once pruned (target 0)
 *   done_entries_after_retention rows per activation once pruned
 *
 * Usage: scale_retention [N] (default 20,000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "engine.h"
#include "registry.h"
#include "store.h"
#include "value.h"

static char dir[512];

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "scale_retention: %s: %s\n", what, err);
	exit(1);
}

/* work(): a vow kit settled by itself and awaited, a timer awaited, a
 * timer left pending, then its args back. */
static int
flow_work(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v, *r, *out, *err;

	if ((v = af_vow_kit(f, &r)) == NULL ||
	    af_resolve(f, r, args, &err) != AF_OK ||
	    af_await(f, v, &out) != AF_OK)
		return AF_ENOMEM;
	if ((v = af_sleep(f, 0)) == NULL || af_await(f, v, &out) != AF_OK ||
	    af_sleep(f, 86400000) == NULL)
		return AF_ENOMEM;
	*result = args;
	return AF_OK;
}

struct box {
	struct af_registry *reg;
	struct store *st;
	struct engine *eng;
};

static void
open_box(struct box *b, bool prune)
{
	struct store_opts so = { .durability = STORE_NONE };
	struct engine_opts eo;
	char err[256];

	memset(&eo, 0, sizeof(eo));
	eo.retain_journals = true;
	eo.prune_finished = prune;
	eo.retention_ms = 0;
	if ((b->reg = registry_new()) == NULL ||
	    af_register_flow(b->reg, "work", flow_work) != AF_OK)
		die("registry", "out of memory");
	if (store_open_lmdb(dir, &so, &b->st, err, sizeof(err)) != AF_OK)
		die("store_open_lmdb", err);
	if (engine_open(b->st, b->reg, &eo, &b->eng, err, sizeof(err)) != AF_OK)
		die("engine_open", err);
}

static void
close_box(struct box *b)
{
	engine_close(b->eng);
	store_close(b->st);
	registry_free(b->reg);
}

/* Rows and used pages of every table but meta. */
static void
count(struct store *st, uint64_t *rows, uint64_t *pages)
{
	struct store_db_stat s;
	struct store_txn *t;

	*rows = *pages = 0;
	if (store_begin(st, true, &t) != AF_OK)
		die("store_begin", store_errmsg(st));
	for (int db = DB_META + 1; db < DB__COUNT; db++) {
		if (store_db_stat(t, (enum store_db)db, &s) != AF_OK)
			die("store_db_stat", store_errmsg(st));
		*rows += s.entries;
		*pages += s.pages;
	}
	store_abort(t);
}

static void
run(struct box *b)
{
	do {
		if (engine_fire_due(b->eng) < 0 ||
		    engine_run_until_idle(b->eng) != AF_OK)
			die("pass", engine_errmsg(b->eng));
	} while (engine_busy(b->eng));
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	uint64_t rows0, pages0, rows1, pages1, rows2, pages2, act, out;
	double psize = (double)sysconf(_SC_PAGESIZE);
	struct af_arena *ar = arena_new(0);
	struct box b;
	char key[32], cmd[600];
	bool existing;
	long i;

	if (n <= 0 || ar == NULL)
		die("usage", "scale_retention [N > 0]");
	snprintf(dir, sizeof(dir), "%s/afscale.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", dir);
	open_box(&b, false);
	count(b.st, &rows0, &pages0);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "order-%ld", i);
		if (engine_start_keyed(b.eng, key, "work", af_int(ar, i), &act,
			&out, &existing) != AF_OK)
			die("start", engine_errmsg(b.eng));
		if (i % 1000 == 999) {
			run(&b);
			arena_reset(ar);
		}
	}
	run(&b);
	count(b.st, &rows1, &pages1);
	close_box(&b);
	open_box(&b, true);
	run(&b);
	count(b.st, &rows2, &pages2);
	close_box(&b);
	printf("bench done_bytes_before_retention %.0f bytes\n",
	    (double)(pages1 - pages0) * psize / (double)n);
	printf("bench done_entries_before_retention %.1f entries\n",
	    (double)(rows1 - rows0) / (double)n);
	printf("bench done_bytes_after_retention %.0f bytes\n",
	    (double)(pages2 - pages0) * psize / (double)n);
	printf("bench done_entries_after_retention %.1f entries\n",
	    (double)(rows2 - rows0) / (double)n);
	arena_free(ar);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "scale_retention: could not remove %s\n", dir);
	return 0;
}
