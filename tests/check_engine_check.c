/*
 * check_engine_check.c: the engine's check mode (engine.h, engine_check_*;
 * daemon/engine_check.c), the heart of `asyncflowctl upgrade --check`. A
 * real engine on a real LMDB store builds activations in every unfinished
 * state under code v1; then the store is opened as a read-only snapshot and
 * checked against other code: compatible, divergent at a known index, a
 * flow that returns early, a flow that is gone. The check must run no host
 * method, write nothing, and free each activation after its verdict.
 *
 * Also the live switch (engine_swap_registry). Not here: the checker
 * process, crashes and runaways (tests/e2e, where a real process can die),
 * the protocol (check_api).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "engine.h"
#include "log.h"
#include "registry.h"
#include "store.h"
#include "testutil.h"
#include "value.h"

static int host_calls;

/* ledger.record(x) = x */
static int
ledger_record(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	host_calls++;
	*result = args;
	return AF_OK;
}

static const struct af_method ledger[] = { { "record", ledger_record } };

static const struct af_value *
step(struct af_arena *a, int n)
{
	const char *k[1] = { "step" };
	const struct af_value *v[1] = { af_int(a, n) };

	return af_record(a, k, v, 1);
}

/* order: record step N, await args.approval, (v3: record step 3),
 * return the approval. */
static int order_first = 1; /* the step it records first */
static bool order_more;     /* v3: a new call after the wait */

static int order_body(struct af_flow *, const struct af_value *,
    const struct af_value **, bool more);

static int
flow_order(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	return order_body(f, args, result, order_more);
}

/* The v3 of `order` as a function of its own (the live switch test). */
static int
flow_order3(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	return order_body(f, args, result, true);
}

static int
order_body(struct af_flow *f, const struct af_value *args,
    const struct af_value **result, bool more)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *r, *v;
	int rc;

	if ((rc = af_call(f, "ledger", "record", step(a, order_first), &r)))
		return rc;
	if ((rc = af_await(f, af_get(args, "approval"), &v)) != AF_OK) {
		*result = v;
		return rc;
	}
	if (more &&
	    (rc = af_call(f, "ledger", "record", step(a, 3), &r)) != AF_OK)
		return rc;
	*result = v;
	return AF_OK;
}

/* early: v1 records twice and waits; the new code returns after one. */
static bool early_returns;

static int
flow_early(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *r;
	int rc;

	if ((rc = af_call(f, "ledger", "record", step(a, 1), &r)))
		return rc;
	if (early_returns) {
		*result = r;
		return AF_OK;
	}
	if ((rc = af_call(f, "ledger", "record", step(a, 2), &r)))
		return rc;
	return af_await(f, af_get(args, "approval"), result);
}

static char *dir;

static void
setup(void)
{
	log_set_level(LOG_ERROR);
	dir = strdup(testutil_tmpdir());
	host_calls = 0;
	order_first = 1;
	order_more = false;
	early_returns = false;
}

static void
teardown(void)
{
	testutil_rmtree(dir);
	free(dir);
}

static struct af_registry *
registry(bool with_early)
{
	struct af_registry *reg = registry_new();

	ck_assert_ptr_nonnull(reg);
	ck_assert_int_eq(af_register_object(reg, "ledger", ledger, 1, NULL),
	    AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "order", flow_order), AF_OK);
	if (with_early)
		ck_assert_int_eq(af_register_flow(reg, "early", flow_early),
		    AF_OK);
	return reg;
}

/* v3: "order" with its step 3 after the wait, and "early". */
static struct af_registry *
registry3(void)
{
	struct af_registry *reg = registry_new();

	ck_assert_ptr_nonnull(reg);
	ck_assert_int_eq(af_register_object(reg, "ledger", ledger, 1, NULL),
	    AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "order", flow_order3), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "early", flow_early), AF_OK);
	return reg;
}

/* A vow argument {"approval": {"@vow": id}}. */
static const struct af_value *
approval_args(struct af_arena *a, uint64_t vow)
{
	const char *k[1] = { "approval" };
	const struct af_value *v[1] = { af_vow_ref(a, vow) };

	return af_record(a, k, v, 1);
}

struct built {
	uint64_t waiting[64]; /* Running, waiting for approval */
	size_t nwaiting;
	uint64_t done;    /* approved: Done, not checked */
	uint64_t failed;  /* quarantined: Failed, still checked */
	uint64_t early;   /* "early", waiting */
	uint64_t gone;    /* "early", but the new code has no such flow */
	uint64_t journal; /* entries of the unfinished ones */
};

/* Under v1: n "order" waiting, one Done, one Failed, two "early". */
static void
build(size_t n, struct built *b)
{
	struct af_registry *reg = registry(true);
	struct af_arena *a = arena_new(0);
	struct store_opts so = { .durability = STORE_NONE,
		.map_size = 256u << 20 };
	uint8_t secret[VOW_SECRET_LEN];
	struct engine *e;
	struct store *s;
	uint64_t vow, out, act;
	char err[256];
	size_t i;

	memset(b, 0, sizeof(*b));
	ck_assert_int_eq(store_open_lmdb(dir, &so, &s, err, sizeof(err)),
	    AF_OK);
	ck_assert_msg(engine_open(s, reg, NULL, &e, err, sizeof(err)) == AF_OK,
	    "%s", err);
	for (i = 0; i < n + 2; i++) {
		ck_assert_int_eq(engine_mkvow(e, &vow, secret), AF_OK);
		ck_assert_int_eq(engine_start(e, "order", approval_args(a, vow),
				     &act, &out),
		    AF_OK);
		ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
		if (i == n) { /* approved: Done */
			ck_assert_int_eq(engine_settle(e, vow, secret, false,
					     NULL),
			    AF_OK);
			ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
			b->done = act;
		} else if (i == n + 1) {
			ck_assert_int_eq(engine_quarantine(e, act, "test"),
			    AF_OK);
			ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
			b->failed = act;
			b->journal += 2;
		} else {
			b->waiting[b->nwaiting++] = act;
			b->journal += 2;
		}
	}
	ck_assert_int_eq(engine_mkvow(e, &vow, secret), AF_OK);
	ck_assert_int_eq(engine_start(e, "early", approval_args(a, vow),
			     &b->early, &out),
	    AF_OK);
	ck_assert_int_eq(engine_start(e, "early", approval_args(a, vow),
			     &b->gone, &out),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	b->journal += 8;
	engine_close(e);
	store_close(s);
	registry_free(reg);
	arena_free(a);
}

struct checked {
	size_t n, ok;
	uint64_t entries;
	struct engine_check_result r[80];
	uint64_t ids[80];
};

/* Check every unfinished activation against reg, from a snapshot. */
static void
check_all(struct af_registry *reg, struct checked *c)
{
	struct engine_check_result r;
	struct engine_stats st;
	struct engine *e;
	struct store *s;
	uint64_t ids[3], after = 0;
	size_t n, i;
	char err[256];

	memset(c, 0, sizeof(*c));
	host_calls = 0; /* the build's, live */
	ck_assert_msg(store_open_lmdb_snapshot(dir, NULL, &s, err,
			  sizeof(err)) == AF_OK,
	    "%s", err);
	ck_assert_msg(engine_check_open(s, reg, NULL, &e, err, sizeof(err)) ==
		AF_OK,
	    "%s", err);
	/* Three at a time: the listing resumes after the last one. */
	for (;;) {
		ck_assert_int_eq(engine_check_list(e, after, ids, 3, &n),
		    AF_OK);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(engine_check_one(e, ids[i], &r),
			    AF_OK);
			engine_stats(e, &st);
			/* Freed after its verdict. */
			ck_assert_uint_eq(st.acts_in_memory, 0);
			c->entries += r.entries;
			c->ok += r.verdict == EV_OK;
			ck_assert_uint_lt(c->n, 80);
			c->ids[c->n] = ids[i];
			c->r[c->n++] = r;
		}
		after = ids[n - 1];
	}
	engine_close(e);
	store_close(s);
}

static const struct engine_check_result *
verdict_of(const struct checked *c, uint64_t act)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->ids[i] == act)
			return &c->r[i];
	ck_abort_msg("activation %llu was not checked",
	    (unsigned long long)act);
	return NULL;
}

START_TEST(test_compatible_passes)
{
	struct af_registry *reg;
	struct checked c;
	struct built b;

	build(20, &b);
	order_more = true; /* v3: new behaviour after the journal's end */
	early_returns = false;
	reg = registry(true);
	check_all(reg, &c);
	/* Every unfinished one, the Failed one too; not the Done one. */
	ck_assert_uint_eq(c.n, 20 + 1 + 2);
	ck_assert_uint_eq(c.ok, c.n);
	ck_assert_uint_eq(c.entries, b.journal);
	ck_assert_uint_eq(verdict_of(&c, b.failed)->verdict, EV_OK);
	for (size_t i = 0; i < c.n; i++)
		ck_assert_uint_ne(c.ids[i], b.done);
	/* Nothing ran live. */
	ck_assert_int_eq(host_calls, 0);
	registry_free(reg);
}
END_TEST

START_TEST(test_divergent_named)
{
	const struct engine_check_result *r;
	struct af_registry *reg;
	struct checked c;
	struct built b;

	build(5, &b);
	order_first = 2; /* v2: a different first call */
	early_returns = true;
	reg = registry(true);
	check_all(reg, &c);
	ck_assert_uint_eq(c.ok, 0);
	r = verdict_of(&c, b.waiting[0]);
	ck_assert_uint_eq(r->verdict, EV_DIVERGED);
	ck_assert_str_eq(engine_verdict_name(r->verdict), "diverged");
	ck_assert_uint_eq(r->index, 0);
	ck_assert_str_eq(r->flow, "order");
	/* The diagnostic a Failed activation gets: index, expected entry,
	 * attempted action, first differing path. */
	ck_assert_msg(strstr(r->diagnostic,
			  "replay diverged at journal index 0: expected") !=
		    NULL &&
		strstr(r->diagnostic, "the flow attempted") != NULL &&
		strstr(r->diagnostic, "first difference at args.step") != NULL,
	    "%s", r->diagnostic);
	ck_assert_uint_eq(verdict_of(&c, b.failed)->verdict, EV_DIVERGED);
	r = verdict_of(&c, b.early);
	ck_assert_uint_eq(r->verdict, EV_FINISHED_EARLY);
	ck_assert_str_eq(engine_verdict_name(r->verdict), "finished-early");
	ck_assert_uint_eq(r->index, 2);
	ck_assert_msg(strstr(r->diagnostic, "the flow returned instead") !=
		NULL,
	    "%s", r->diagnostic);
	ck_assert_int_eq(host_calls, 0);
	registry_free(reg);
}
END_TEST

START_TEST(test_flow_missing)
{
	const struct engine_check_result *r;
	struct af_registry *reg;
	struct checked c;
	struct built b;

	build(2, &b);
	reg = registry(false); /* no "early" */
	check_all(reg, &c);
	r = verdict_of(&c, b.gone);
	ck_assert_uint_eq(r->verdict, EV_FLOW_MISSING);
	ck_assert_str_eq(engine_verdict_name(r->verdict), "flow-missing");
	ck_assert_str_eq(r->flow, "early");
	ck_assert_str_eq(r->diagnostic, "flow early not registered");
	ck_assert_uint_eq(verdict_of(&c, b.waiting[1])->verdict, EV_OK);
	registry_free(reg);
}
END_TEST

/* The check writes nothing: the store's bytes are the same after it. */
START_TEST(test_writes_nothing)
{
	char path[600], *before, *after;
	struct af_registry *reg;
	struct checked c;
	struct built b;
	size_t n1, n2;
	FILE *f;

	build(3, &b);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	fseek(f, 0, SEEK_END);
	n1 = (size_t)ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(before = malloc(n1));
	ck_assert_uint_eq(fread(before, 1, n1, f), n1);
	fclose(f);
	order_first = 2;
	reg = registry(true);
	check_all(reg, &c);
	ck_assert_uint_gt(c.n, 0);
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	fseek(f, 0, SEEK_END);
	n2 = (size_t)ftell(f);
	rewind(f);
	ck_assert_uint_eq(n1, n2);
	ck_assert_ptr_nonnull(after = malloc(n2));
	ck_assert_uint_eq(fread(after, 1, n2, f), n2);
	fclose(f);
	ck_assert_msg(memcmp(before, after, n1) == 0, "the check wrote");
	free(before);
	free(after);
	registry_free(reg);
}
END_TEST

/* A snapshot does not see what the owner commits after it was taken,
 * and refuses writes. */
START_TEST(test_snapshot_is_a_snapshot)
{
	struct store_opts so = { .durability = STORE_NONE,
		.map_size = 256u << 20 };
	struct af_registry *reg, *reg2;
	struct engine *e, *ce;
	struct store *s, *snap;
	struct store_txn *t;
	uint64_t ids[8], act, out;
	size_t n;
	char err[256];

	reg = registry(true);
	reg2 = registry(true);
	ck_assert_int_eq(store_open_lmdb(dir, &so, &s, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_open(s, reg, NULL, &e, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_start(e, "order", NULL, &act, &out), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_msg(store_open_lmdb_snapshot(dir, NULL, &snap, err,
			  sizeof(err)) == AF_OK,
	    "%s", err);
	ck_assert_int_eq(engine_check_open(snap, reg2, NULL, &ce, err,
			     sizeof(err)),
	    AF_OK);
	/* Committed by the owner after the snapshot: not seen. */
	ck_assert_int_eq(engine_start(e, "order", NULL, &act, &out), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_int_eq(engine_check_list(ce, 0, ids, 8, &n), AF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(store_begin(snap, false, &t), AF_ESTATE);
	engine_close(ce);
	store_close(snap);
	engine_close(e);
	store_close(s);
	registry_free(reg);
	registry_free(reg2);
}
END_TEST

/* The live switch: an engine with resident activations takes a new
 * registry between passes; every activation is rebuilt by replay under the
 * new code (Failed ones too), and the new code is what runs from then on. */
START_TEST(test_swap_registry)
{
	struct store_opts so = { .durability = STORE_NONE,
		.map_size = 256u << 20 };
	struct af_registry *reg = registry(true), *reg2;
	struct af_arena *a = arena_new(0);
	uint8_t secret[VOW_SECRET_LEN];
	uint64_t vow, act, out, rebuilt;
	enum vow_state vs;
	const struct af_value *v;
	struct engine *e;
	struct store *s;
	char err[256];

	ck_assert_int_eq(store_open_lmdb(dir, &so, &s, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_open(s, reg, NULL, &e, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_mkvow(e, &vow, secret), AF_OK);
	ck_assert_int_eq(engine_start(e, "order", approval_args(a, vow), &act,
			     &out),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	/* Something uncommitted: refused, nothing changed. */
	reg2 = registry_new();
	ck_assert_ptr_nonnull(reg2);
	ck_assert_int_eq(af_register_object(reg2, "ledger", ledger, 1, NULL),
	    AF_OK);
	ck_assert_int_eq(af_register_flow(reg2, "order", flow_order3), AF_OK);
	ck_assert_int_eq(engine_settle(e, vow, secret, false, NULL), AF_OK);
	ck_assert_int_eq(engine_swap_registry(e, reg2, &rebuilt), AF_ESTATE);
	ck_assert_ptr_eq(engine_registry(e), reg);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_int_eq(engine_vow_state(e, out, &vs, a, &v), AF_OK);
	ck_assert_int_eq(vs, VOW_FULFILLED); /* v1 finished it */
	/* A second one, switched while it waits: v3's extra call runs. */
	ck_assert_int_eq(engine_mkvow(e, &vow, secret), AF_OK);
	ck_assert_int_eq(engine_start(e, "order", approval_args(a, vow), &act,
			     &out),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	host_calls = 0;
	ck_assert_int_eq(engine_swap_registry(e, reg2, &rebuilt), AF_OK);
	ck_assert_uint_eq(rebuilt, 1);
	ck_assert_ptr_eq(engine_registry(e), reg2);
	ck_assert_ptr_null(engine_take_retired(e)); /* still referenced */
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_ptr_eq(engine_take_retired(e), reg);
	registry_free(reg);              /* no longer referenced */
	ck_assert_int_eq(host_calls, 0); /* the rebuild only replayed */
	ck_assert_int_eq(engine_settle(e, vow, secret, false, NULL), AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_int_eq(host_calls, 1); /* flow_order3's step 3, live */
	ck_assert_int_eq(engine_vow_state(e, out, &vs, a, &v), AF_OK);
	ck_assert_int_eq(vs, VOW_FULFILLED);
	engine_close(e);
	store_close(s);
	registry_free(reg2);
	arena_free(a);
}
END_TEST

/* The live switch is incremental: a pass drops at most
 * ENGINE_SWAP_DROPS_PER_PASS of the activations the old code built; an
 * event for one not dropped yet runs the new code; a Failed one is retried
 * under the new code; the old registry is handed back only once nothing
 * in memory was built by it. */
START_TEST(test_swap_incremental)
{
	struct store_opts so = { .durability = STORE_NONE,
		.map_size = 256u << 20 };
	struct af_registry *reg = registry(true), *reg1, *reg2;
	struct af_arena *a = arena_new(0);
	size_t n = 2 * ENGINE_SWAP_DROPS_PER_PASS + 10, i, dropped;
	uint64_t(*vows)[2] = calloc(n, sizeof(*vows)), gone, covered, act;
	uint8_t(*secrets)[VOW_SECRET_LEN] = calloc(n, sizeof(*secrets));
	struct engine_act_info info;
	enum vow_state vs;
	const struct af_value *v;
	struct engine *e;
	struct store *s;
	char err[256];

	ck_assert_ptr_nonnull(vows);
	ck_assert_ptr_nonnull(secrets);
	/* "early" started under v1, then a start whose code has no such
	 * flow: Failed. */
	ck_assert_int_eq(store_open_lmdb(dir, &so, &s, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_open(s, reg, NULL, &e, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_mkvow(e, &vows[0][0], secrets[0]), AF_OK);
	ck_assert_int_eq(engine_start(e, "early", approval_args(a, vows[0][0]),
			     &gone, &act),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	engine_close(e);
	registry_free(reg);
	reg1 = registry(false);
	ck_assert_int_eq(engine_open(s, reg1, NULL, &e, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_int_eq(engine_act_info(e, gone, &info), AF_OK);
	ck_assert_int_eq(info.state, ES_FAILED);
	/* n waiting under v1, all in memory. */
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(engine_mkvow(e, &vows[i][0], secrets[i]),
		    AF_OK);
		ck_assert_int_eq(engine_start(e, "order",
				     approval_args(a, vows[i][0]), &act,
				     &vows[i][1]),
		    AF_OK);
	}
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	reg2 = registry3();
	host_calls = 0;
	ck_assert_int_eq(engine_swap_registry(e, reg2, &covered), AF_OK);
	ck_assert_uint_eq(covered, n + 1);
	ck_assert_uint_eq(engine_old_code(e), n);
	ck_assert_int_eq(engine_swap_registry(e, reg1, &covered), AF_EBUSY);
	ck_assert_ptr_null(engine_take_retired(e));
	/* An event for the last one, dropped last: the new code's step 3
	 * runs, live, in the first pass. */
	ck_assert_int_eq(engine_settle(e, vows[n - 1][0], secrets[n - 1], false,
			     NULL),
	    AF_OK);
	ck_assert_int_eq(engine_pass(e), AF_OK);
	dropped = n - engine_old_code(e);
	ck_assert_uint_ge(dropped, 1);
	ck_assert_uint_le(dropped, ENGINE_SWAP_DROPS_PER_PASS + 1);
	ck_assert_int_eq(host_calls, 1);
	ck_assert_int_eq(engine_vow_state(e, vows[n - 1][1], &vs, a, &v),
	    AF_OK);
	ck_assert_int_eq(vs, VOW_FULFILLED);
	/* The old code is still referenced. */
	ck_assert_ptr_null(engine_take_retired(e));
	ck_assert_int_eq(engine_pass(e), AF_OK);
	ck_assert_uint_le(n - engine_old_code(e),
	    dropped + ENGINE_SWAP_DROPS_PER_PASS);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_uint_eq(engine_old_code(e), 0);
	ck_assert_ptr_eq(engine_take_retired(e), reg1);
	ck_assert_ptr_null(engine_take_retired(e));
	registry_free(reg1);
	/* The Failed one was retried under the new code: it waits again. */
	ck_assert_int_eq(engine_act_info(e, gone, &info), AF_OK);
	ck_assert_int_ne(info.state, ES_FAILED);
	ck_assert_str_eq(info.failure, "");
	/* Every other one, dropped or not, finishes under the new code. */
	for (i = 0; i + 1 < n; i++)
		ck_assert_int_eq(engine_settle(e, vows[i][0], secrets[i], false,
				     NULL),
		    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_int_eq(host_calls, (int)n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(engine_vow_state(e, vows[i][1], &vs, a, &v),
		    AF_OK);
		ck_assert_int_eq(vs, VOW_FULFILLED);
	}
	engine_close(e);
	store_close(s);
	registry_free(reg2);
	arena_free(a);
	free(vows);
	free(secrets);
}
END_TEST

/* A wake for an activation the old code built, not dropped yet (what
 * `upgrade --force` does to those the check found failing): it is
 * replayed under the new code in the next pass, and fails there as the
 * check said. */
START_TEST(test_swap_wake_replays)
{
	struct store_opts so = { .durability = STORE_NONE,
		.map_size = 256u << 20 };
	struct af_registry *reg = registry(true), *reg2 = registry3();
	struct af_arena *a = arena_new(0);
	uint8_t secret[VOW_SECRET_LEN];
	uint64_t vow, act, out, covered;
	struct engine_act_info info;
	struct engine *e;
	struct store *s;
	char err[256];

	ck_assert_int_eq(store_open_lmdb(dir, &so, &s, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_open(s, reg, NULL, &e, err, sizeof(err)),
	    AF_OK);
	ck_assert_int_eq(engine_mkvow(e, &vow, secret), AF_OK);
	ck_assert_int_eq(engine_start(e, "early", approval_args(a, vow), &act,
			     &out),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_int_eq(engine_swap_registry(e, reg2, &covered), AF_OK);
	ck_assert_uint_eq(engine_old_code(e), 1);
	early_returns = true; /* the new code returns before its journal ends */
	ck_assert_int_eq(engine_wake(e, act), AF_OK);
	ck_assert_uint_eq(engine_old_code(e), 0);
	ck_assert_int_eq(engine_run_until_idle(e), AF_OK);
	ck_assert_int_eq(engine_act_info(e, act, &info), AF_OK);
	ck_assert_int_eq(info.state, ES_FAILED);
	ck_assert_ptr_eq(engine_take_retired(e), reg);
	registry_free(reg);
	engine_close(e);
	store_close(s);
	registry_free(reg2);
	arena_free(a);
}
END_TEST

static Suite *
engine_check_suite(void)
{
	Suite *s = suite_create("engine_check");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_compatible_passes);
	tcase_add_test(tc, test_divergent_named);
	tcase_add_test(tc, test_flow_missing);
	tcase_add_test(tc, test_writes_nothing);
	tcase_add_test(tc, test_snapshot_is_a_snapshot);
	tcase_add_test(tc, test_swap_registry);
	tcase_add_test(tc, test_swap_incremental);
	tcase_add_test(tc, test_swap_wake_replays);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(engine_check_suite)
