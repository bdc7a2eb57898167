/*
 * check_prune.c: retention and purge (daemon/prune.c, and the engine's
 * use of it in commit.c) over a real LMDB store: once a finished
 * activation is pruned, every table's row count (the store's own
 * counters, store_db_stat) is back where it was before it started; a
 * short retention waits for its time; a purge deletes at once and refuses
 * an unfinished activation; a large activation goes a bounded number of
 * rows per commit and a restart half-way goes on where it stopped.
 *
 * Not here: the option and the CLI (tests/e2e/retention.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "builtin_flows.h"
#include "engine.h"
#include "engineutil.h"
#include "prune.h"
#include "registry.h"
#include "store.h"
#include "tables.h"
#include "testutil.h"
#include "value.h"

static char dir[512];
static struct store *st;
static struct af_registry *reg;
static struct engine *eng;
static struct af_arena *ar;
static struct engine_opts eo;
static int64_t fake_now = 1000000;

/* many({"n": N}): N clock.now calls (2N journal entries), then N. */
static int
flow_many(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *n = af_get(args, "n");

	for (int64_t i = 0; n != NULL && i < n->u.i; i++)
		(void)af_now(f);
	*result = n;
	return AF_OK;
}

/* dangle(): a timer far away and a vow kit, neither awaited, then Done:
 * what it leaves pending must go with it. */
static int
flow_dangle(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *r;

	(void)args;
	if (af_sleep(f, 1000000000) == NULL || af_vow_kit(f, &r) == NULL)
		return AF_ENOMEM;
	*result = af_string(af_flow_arena(f), "left");
	return AF_OK;
}

static void
open_engine(void)
{
	struct store_opts so = { .durability = STORE_NONE };

	reg = registry_new();
	ck_assert_ptr_nonnull(reg);
	ck_assert_int_eq(builtin_flows_register(reg), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "many", flow_many), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "dangle", flow_dangle), AF_OK);
	eo.clock_ms = engineutil_clock;
	eo.clock_ctx = &fake_now;
	engineutil_open(dir, &so, reg, &eo, &st, &eng);
}

static void
close_engine(void)
{
	engineutil_close(&st, &reg, &eng);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
	memset(&eo, 0, sizeof(eo));
	ar = arena_new(0);
	fake_now = 1000000;
}

static void
teardown(void)
{
	if (eng != NULL)
		close_engine();
	arena_free(ar);
	testutil_rmtree(dir);
}

/* Rows per table, as the store counts them (meta's counters excepted:
 * they only grow in value, never in number once written). */
struct counts {
	uint64_t n[DB__COUNT];
};

static struct counts
count_rows(void)
{
	struct counts c;
	struct store_db_stat s;
	struct store_txn *t;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	for (int db = DB_META + 1; db < DB__COUNT; db++) {
		ck_assert_int_eq(store_db_stat(t, (enum store_db)db, &s),
		    AF_OK);
		c.n[db] = s.entries;
	}
	store_abort(t);
	return c;
}

static uint64_t
total(const struct counts *c)
{
	uint64_t n = 0;

	for (int db = 0; db < DB__COUNT; db++)
		n += c->n[db];
	return n;
}

static void
assert_counts_eq(const struct counts *a, const struct counts *b)
{
	for (int db = DB_META + 1; db < DB__COUNT; db++)
		ck_assert_msg(a->n[db] == b->n[db],
		    "table %d: %llu rows, baseline %llu", db,
		    (unsigned long long)a->n[db], (unsigned long long)b->n[db]);
}

static const struct af_value *
rec1(const char *k, const struct af_value *v)
{
	return af_record(ar, &k, &v, 1);
}

static void
run(void)
{
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
}

static enum engine_state
state_of(uint64_t act)
{
	struct engine_act_info info;

	ck_assert_int_eq(engine_act_info(eng, act, &info), AF_OK);
	return info.state;
}

static bool
gone(uint64_t act, uint64_t outcome)
{
	struct engine_act_info info;
	enum vow_state vs;
	const struct af_value *v;

	return engine_act_info(eng, act, &info) == AF_ENOTFOUND &&
	    engine_vow_state(eng, outcome, &vs, ar, &v) == AF_ENOTFOUND;
}

/* Every kind of thing a finished activation leaves: a keyed start, vows
 * it awaited (a client's: not its own, they stay), a timer that fired, a
 * timer and a vow still pending, an invocation answered and a resolver
 * handed to a server, a retained journal. */
static void
run_every_kind(uint64_t *acts, uint64_t *outcomes, size_t *n)
{
	uint8_t sec[VOW_SECRET_LEN], isec[VOW_SECRET_LEN];
	struct engine_invocation inv;
	const struct af_value *items[1];
	uint64_t cv, inv_vow = 0;
	bool existing;
	size_t i;

	*n = 0;
	ck_assert_int_eq(engine_start_keyed(eng, "key-1", "echo", af_int(ar, 7),
			     &acts[*n], &outcomes[*n], &existing),
	    AF_OK);
	(*n)++;
	ck_assert_int_eq(engine_mkvow(eng, &cv, sec), AF_OK);
	items[0] = af_vow_ref(ar, cv);
	ck_assert_int_eq(engine_start(eng, "gather", af_list_of(ar, items, 1),
			     &acts[*n], &outcomes[*n]),
	    AF_OK);
	(*n)++;
	ck_assert_int_eq(engine_start(eng, "nap", rec1("ms", af_int(ar, 10)),
			     &acts[*n], &outcomes[*n]),
	    AF_OK);
	(*n)++;
	ck_assert_int_eq(engine_start(eng, "dangle", NULL, &acts[*n],
			     &outcomes[*n]),
	    AF_OK);
	(*n)++;
	ck_assert_int_eq(engine_start(eng, "many", rec1("n", af_int(ar, 20)),
			     &acts[*n], &outcomes[*n]),
	    AF_OK);
	(*n)++;
	ck_assert_int_eq(engine_start(eng, "approval", af_string(ar, "x"),
			     &acts[*n], &outcomes[*n]),
	    AF_OK);
	(*n)++;
	run();
	ck_assert_int_eq(engine_settle(eng, cv, sec, false, af_int(ar, 1)),
	    AF_OK);
	fake_now += 10;
	ck_assert_int_eq(engine_fire_due(eng), 1);
	run();
	/* The approval: answer the invocation, and settle its vow with the
	 * resolver the server was granted. */
	inv_vow = 0;
	for (uint64_t v = 1; v < 100 && inv_vow == 0; v++) {
		if (engine_invocation(eng, v, true, &inv) == AF_OK) {
			inv_vow = v;
			ck_assert_uint_eq(inv.ngrants, 1);
			memcpy(isec, inv.secret, VOW_SECRET_LEN);
			ck_assert_int_eq(engine_settle(eng, inv.grants[0].vow,
					     inv.grants[0].secret, false,
					     af_string(ar, "yes")),
			    AF_OK);
		}
		engine_invocation_release(&inv);
	}
	ck_assert_uint_ne(inv_vow, 0);
	ck_assert_int_eq(engine_settle(eng, inv_vow, isec, false, NULL), AF_OK);
	run();
	for (i = 0; i < *n; i++)
		ck_assert_msg(gone(acts[i], outcomes[i]) ||
			state_of(acts[i]) == ES_DONE,
		    "activation %zu not finished", i);
}

START_TEST(test_prune_retention_zero_leaves_nothing)
{
	uint64_t acts[8], outcomes[8], states[ES_DONE + 1];
	struct counts base, now;
	size_t n, i;
	uint64_t again, again_out;
	bool existing;

	eo.prune_finished = true;
	eo.retention_ms = 0;
	eo.retain_journals = true; /* so the journals are there to prune */
	open_engine();
	base = count_rows();
	run_every_kind(acts, outcomes, &n);
	run();
	now = count_rows();
	/* The client's vow stays: it is not the activation's. */
	base.n[DB_VOWS]++;
	assert_counts_eq(&now, &base);
	for (i = 0; i < n; i++)
		ck_assert(gone(acts[i], outcomes[i]));
	/* stats' counters (kept, not scanned) say so too. */
	ck_assert_int_eq(engine_count_states(eng, states), AF_OK);
	ck_assert_uint_eq(states[ES_DONE], 0);
	ck_assert_uint_eq(engine_timers_pending(eng), 0);
	/* The key went with its activation: the same key starts anew. */
	ck_assert_int_eq(engine_start_keyed(eng, "key-1", "echo", af_int(ar, 7),
			     &again, &again_out, &existing),
	    AF_OK);
	ck_assert(!existing);
	ck_assert_uint_ne(again, acts[0]);
}
END_TEST

START_TEST(test_prune_short_retention_waits_for_its_time)
{
	uint64_t acts[8], outcomes[8];
	struct counts base, now;
	int64_t due;
	size_t n, i;

	eo.prune_finished = true;
	eo.retention_ms = 5000;
	open_engine();
	base = count_rows();
	run_every_kind(acts, outcomes, &n);
	run();
	/* Kept for now, and the loop is told when to come back. */
	for (i = 0; i < n; i++)
		ck_assert_int_eq(state_of(acts[i]), ES_DONE);
	ck_assert(!engine_busy(eng));
	ck_assert(engine_next_due(eng, &due));
	ck_assert_int_le(due, fake_now + 5000);
	ck_assert_int_gt(due, fake_now);
	/* Across a restart too (DB_FINISHED is durable). */
	close_engine();
	open_engine();
	ck_assert(engine_next_due(eng, &due));
	fake_now = due;
	ck_assert(engine_busy(eng));
	run();
	/* Those that finished 10 ms later are due 10 ms later. */
	ck_assert_int_gt(count_rows().n[DB_ACTS], 0);
	ck_assert(!engine_busy(eng));
	ck_assert(engine_next_due(eng, &due));
	ck_assert_int_eq(due, fake_now + 10);
	fake_now = due;
	run();
	now = count_rows();
	base.n[DB_VOWS]++;
	assert_counts_eq(&now, &base);
	for (i = 0; i < n; i++)
		ck_assert(gone(acts[i], outcomes[i]));
	ck_assert(!engine_next_due(eng, &due));
}
END_TEST

/* The index of what is to be pruned is DB_FINISHED plus the meta row of
 * the newest entries (tables.h, FINISHING_META): more finished than that
 * row holds, across a restart, are all pruned when due, and the row goes
 * with the last of them. */
START_TEST(test_prune_finishing_row_and_table_survive_a_restart)
{
	enum { N = 2 * FINISHING_MAX + 5 };
	static uint64_t acts[N], outcomes[N];
	struct counts base, now;
	struct store_txn *t;
	struct store_val v;
	size_t i;

	eo.prune_finished = true;
	eo.retention_ms = 5000;
	open_engine();
	base = count_rows();
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(engine_start(eng, "echo", af_int(ar, 1),
				     &acts[i], &outcomes[i]),
		    AF_OK);
		run();
		ck_assert_int_eq(state_of(acts[i]), ES_DONE);
	}
	/* Every one is in the index: the table or the row. */
	now = count_rows();
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(store_get(t, DB_META,
			     (struct store_val){ FINISHING_META,
				 strlen(FINISHING_META) },
			     &v),
	    AF_OK);
	ck_assert_uint_eq(now.n[DB_FINISHED] + v.n / FINISHED_KEY_LEN, N);
	/* Their outcomes are found by their rows: no DB_OWNED rows. */
	ck_assert_uint_eq(now.n[DB_OWNED], base.n[DB_OWNED]);
	ck_assert_uint_gt(v.n, 0);
	/* Gone as a crash would go: with a transaction open the engine
	 * cannot move the row's entries at its close, so the next one must
	 * read them from the row. */
	engine_close(eng);
	eng = NULL;
	store_abort(t);
	close_engine();
	open_engine();
	for (i = 0; i < N; i++)
		ck_assert_int_eq(state_of(acts[i]), ES_DONE);
	fake_now += 5000;
	ck_assert(engine_busy(eng));
	run();
	now = count_rows();
	assert_counts_eq(&now, &base);
	for (i = 0; i < N; i++)
		ck_assert(gone(acts[i], outcomes[i]));
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(store_get(t, DB_META,
			     (struct store_val){ FINISHING_META,
				 strlen(FINISHING_META) },
			     &v),
	    AF_ENOTFOUND);
	store_abort(t);
}
END_TEST

START_TEST(test_prune_purge_deletes_now_and_refuses_unfinished)
{
	uint64_t act, outcome, wact, wout, cv;
	uint8_t sec[VOW_SECRET_LEN];
	const struct af_value *items[1];
	struct counts base, now;
	struct engine_stats es;

	open_engine(); /* no retention: kept until purged */
	ck_assert_int_eq(engine_mkvow(eng, &cv, sec), AF_OK);
	run();
	base = count_rows();
	ck_assert_int_eq(engine_start(eng, "echo", af_int(ar, 1), &act,
			     &outcome),
	    AF_OK);
	/* Done in this pass but not committed: not finished yet. */
	ck_assert_int_eq(engine_purge(eng, act), AF_EBUSY);
	run();
	ck_assert_int_eq(state_of(act), ES_DONE);
	items[0] = af_vow_ref(ar, cv);
	ck_assert_int_eq(engine_start(eng, "gather", af_list_of(ar, items, 1),
			     &wact, &wout),
	    AF_OK);
	run();
	ck_assert_int_eq(engine_purge(eng, wact), AF_EBUSY);
	ck_assert_int_eq(engine_purge(eng, 999), AF_ENOTFOUND);
	ck_assert_int_eq(engine_purge(eng, act), AF_OK);
	ck_assert(engine_busy(eng));
	run();
	ck_assert(gone(act, outcome));
	ck_assert_int_eq(engine_purge(eng, act), AF_ENOTFOUND);
	engine_stats(eng, &es);
	ck_assert_uint_eq(es.pruned, 1);
	/* The waiting one is untouched, finishes, and goes when purged. */
	ck_assert_int_eq(engine_settle(eng, cv, sec, false, af_int(ar, 2)),
	    AF_OK);
	run();
	ck_assert_int_eq(state_of(wact), ES_DONE);
	ck_assert_int_eq(engine_purge(eng, wact), AF_OK);
	run();
	ck_assert(gone(wact, wout));
	now = count_rows();
	assert_counts_eq(&now, &base);
}
END_TEST

START_TEST(test_prune_is_bounded_per_commit_and_resumes_after_restart)
{
	uint64_t act, outcome;
	struct counts base, now, mid;
	struct engine_stats es;

	eo.retain_journals = true;
	open_engine();
	base = count_rows();
	/* 3 * PRUNE_PER_COMMIT journal entries. */
	ck_assert_int_eq(engine_start(eng, "many", rec1("n", af_int(ar, 1536)),
			     &act, &outcome),
	    AF_OK);
	run();
	ck_assert_uint_eq(count_rows().n[DB_JOURNAL], 3072);
	ck_assert_int_eq(engine_purge(eng, act), AF_OK);
	ck_assert_int_eq(engine_pass(eng), AF_OK);
	/* One commit: the row is gone at once, the journal in part. */
	mid = count_rows();
	ck_assert_uint_eq(mid.n[DB_ACTS], base.n[DB_ACTS]);
	ck_assert_uint_gt(mid.n[DB_JOURNAL], 3072 - 1024 - 1);
	ck_assert_uint_gt(total(&mid), total(&base));
	ck_assert(engine_busy(eng));
	/* A restart half-way (nothing in memory says what is left). */
	close_engine();
	memset(&eo, 0, sizeof(eo));
	open_engine();
	ck_assert(engine_busy(eng));
	run();
	now = count_rows();
	assert_counts_eq(&now, &base);
	engine_stats(eng, &es);
	ck_assert_uint_eq(es.pruned, 1);
}
END_TEST

START_TEST(test_prune_durations_parse_or_are_refused)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = { { "0", 0 }, { "7d", 7 * 86400000LL }, { "90m", 5400000 },
		{ "30", 30000 }, { "1s", 1000 }, { "250ms", 250 },
		{ "2h", 7200000 } };
	static const char *const bad[] = { "", "-1", "+5", "7x", "d", "1.5h",
		" 1", "1 d", "99999999999999999999", "40000d" };
	int64_t ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(prune_parse_duration(good[i].s, &ms), AF_OK);
		ck_assert_int_eq(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 42;
		ck_assert_msg(prune_parse_duration(bad[i], &ms) == AF_EINVAL,
		    "'%s' accepted", bad[i]);
		ck_assert_int_eq(ms, 42);
	}
}
END_TEST

START_TEST(test_prune_purged_rows_go_in_their_commit_however_many)
{
	uint64_t a1, o1, a2, o2;
	struct engine_act_info info;

	eo.retain_journals = true;
	open_engine();
	ck_assert_int_eq(engine_start(eng, "many", rec1("n", af_int(ar, 600)),
			     &a1, &o1),
	    AF_OK);
	ck_assert_int_eq(engine_start(eng, "many", rec1("n", af_int(ar, 600)),
			     &a2, &o2),
	    AF_OK);
	run();
	ck_assert_int_eq(engine_purge(eng, a1), AF_OK);
	ck_assert_int_eq(engine_purge(eng, a2), AF_OK);
	/* The first one's journal alone is more than a commit deletes; the
	 * purge's reply follows this commit, and both are unknown by then. */
	ck_assert_int_eq(engine_pass(eng), AF_OK);
	ck_assert_int_eq(engine_act_info(eng, a1, &info), AF_ENOTFOUND);
	ck_assert_int_eq(engine_act_info(eng, a2, &info), AF_ENOTFOUND);
	ck_assert_uint_gt(count_rows().n[DB_JOURNAL], 0);
	run();
	ck_assert_uint_eq(count_rows().n[DB_JOURNAL], 0);
	ck_assert(gone(a1, o1) && gone(a2, o2));
}
END_TEST

static Suite *
prune_suite(void)
{
	Suite *s = suite_create("prune");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_prune_retention_zero_leaves_nothing);
	tcase_add_test(tc, test_prune_short_retention_waits_for_its_time);
	tcase_add_test(tc, test_prune_purge_deletes_now_and_refuses_unfinished);
	tcase_add_test(tc,
	    test_prune_is_bounded_per_commit_and_resumes_after_restart);
	tcase_add_test(tc, test_prune_durations_parse_or_are_refused);
	tcase_add_test(tc,
	    test_prune_finishing_row_and_table_survive_a_restart);
	tcase_add_test(tc,
	    test_prune_purged_rows_go_in_their_commit_however_many);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(prune_suite)
