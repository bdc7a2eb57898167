/*
 * check_vows.c: the vow table (daemon/vows.c) over a real LMDB store in a
 * temporary directory, with a settlement callback that records every call
 * in order: ids and secrets, settle-once and the identical repeat, the
 * resolver check, chains (following, shortening, propagation of
 * fulfilment and rejection), cycle refusal, the write-back cache across
 * flush/commit and new tables, discard, and the watcher rows with their
 * DB_HOLDS mirror. Stored VowRecord rows are cross-checked with protoc-c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "asyncflow.pb-c.h"
#include "buf.h"
#include "store.h"
#include "storeutil.h"
#include "tables.h"
#include "testutil.h"
#include "value.h"
#include "vows.h"

/* ---- Fixture ------------------------------------------------------------- */

static char dir[512];
static struct store *st;
static struct vowtab *vt;
static struct af_arena *ar;

/* What the callback saw, in order. */
struct seen {
	uint64_t id;
	enum vow_state state;
	uint64_t seq;
	uint64_t follows;
	uint8_t value[64];
	size_t value_n;
};
static struct seen seen[64];
static size_t nseen, ncalls; /* recorded; all callbacks */

static void
on_settled(void *ctx, const struct vow *v)
{
	struct seen *s;

	ck_assert_ptr_eq(ctx, &nseen);
	if (ncalls++ >= 64)
		return; /* long chains: only counted */
	s = &seen[nseen++];
	s->id = v->id;
	s->state = v->state;
	s->seq = v->settled_seq;
	s->follows = v->follows;
	ck_assert_uint_le(v->value_n, sizeof(s->value));
	s->value_n = v->value_n;
	if (v->value_n)
		memcpy(s->value, v->value, v->value_n);
}

static void
open_vt(void)
{
	struct store_txn *t;

	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(vowtab_new(st, t, on_settled, &nseen, &vt), AF_OK);
	store_abort(t);
}

static void
setup(void)
{
	char err[256] = "";

	snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
	ck_assert_msg(store_open_lmdb(dir, NULL, &st, err, sizeof(err)) ==
		AF_OK,
	    "%s", err);
	ar = arena_new(0);
	ck_assert_ptr_nonnull(ar);
	nseen = ncalls = 0;
	open_vt();
}

static void
teardown(void)
{
	vowtab_free(vt);
	vt = NULL;
	store_close(st);
	st = NULL;
	arena_free(ar);
	ar = NULL;
	testutil_rmtree(dir);
}

/* ---- Helpers -------------------------------------------------------------- */

/* The canonical encoding of a small value, by value. */
struct enc {
	uint8_t p[64];
	size_t n;
};

static struct enc
ENC(const struct af_value *v) {
	struct buf b = BUF_INITIALIZER;
	struct enc e;

	ck_assert_int_eq(value_encode(&b, v), AF_OK);
	ck_assert_uint_le(b.len, sizeof(e.p));
	memcpy(e.p, b.p, b.len);
	e.n = b.len;
	buf_release(&b);
	return e;
}

static struct enc
STRV(const char *s) {
	return ENC(af_string(ar, s));
}

static uint64_t
mk(uint8_t secret[VOW_SECRET_LEN])
{
	uint64_t id = 0;

	ck_assert_int_eq(vowtab_make(vt, 0, &id, secret), AF_OK);
	ck_assert_uint_ne(id, 0);
	return id;
}

static struct vow *
get(uint64_t id)
{
	struct vow *v = NULL;

	ck_assert_int_eq(vowtab_get(vt, id, &v), AF_OK);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->id, id);
	return v;
}

/* Trusted fulfil/reject with a value. */
static int
settle_val(uint64_t id, bool reject, struct enc e)
{
	return vowtab_settle(vt, id, NULL, reject, e.p, e.n, 0);
}

/* Trusted resolve of `id` with a reference to vow `target`. */
static int
settle_follow(uint64_t id, uint64_t target)
{
	struct enc e = ENC(af_vow_ref(ar, target));

	return vowtab_settle(vt, id, NULL, false, e.p, e.n, target);
}

static void
commit_vt(void)
{
	struct store_txn *t;

	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(vowtab_flush(vt, t), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	vowtab_after_commit(vt);
}

/* Drop the table and open a new one over the same store. */
static void
reopen_vt(void)
{
	vowtab_free(vt);
	vt = NULL;
	open_vt();
}

static void
assert_value(const struct vow *v, enum vow_state state, struct enc e)
{
	ck_assert_int_eq(v->state, state);
	ck_assert_uint_eq(v->value_n, e.n);
	ck_assert_mem_eq(v->value, e.p, e.n);
}

static void
assert_seen(size_t i, uint64_t id, enum vow_state state, struct enc e)
{
	ck_assert_uint_lt(i, nseen);
	ck_assert_uint_eq(seen[i].id, id);
	ck_assert_int_eq(seen[i].state, state);
	ck_assert_uint_eq(seen[i].value_n, e.n);
	ck_assert_mem_eq(seen[i].value, e.p, e.n);
	if (i > 0)
		ck_assert_uint_gt(seen[i].seq, seen[i - 1].seq);
}

/* The keys of a table, in order (each at most WATCH_KEY_LEN bytes). The
 * watcher and holds tables have empty values. */
struct keys {
	uint8_t k[32][WATCH_KEY_LEN];
	size_t len[32];
	size_t n;
};

static struct keys
table_keys(enum store_db db)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k = { NULL, 0 }, v;
	struct keys out;
	int rc;

	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(store_cursor_open(t, db, &c), AF_OK);
	for (rc = store_cursor_get(c, STORE_FIRST, &k, &v); rc == AF_OK;
	     rc = store_cursor_get(c, STORE_NEXT, &k, &v)) {
		ck_assert_uint_lt(out.n, 32);
		ck_assert_uint_le(k.n, WATCH_KEY_LEN);
		if (db == DB_WATCHERS || db == DB_HOLDS)
			ck_assert_uint_eq(v.n, 0);
		memcpy(out.k[out.n], k.p, k.n);
		out.len[out.n++] = k.n;
	}
	ck_assert_int_eq(rc, AF_ENOTFOUND);
	store_cursor_close(c);
	store_abort(t);
	return out;
}

/* Whether a DB_WATCHERS row exists. */
static bool
has_watch(uint64_t vow, enum watch_kind kind, uint64_t id)
{
	struct store_txn *t;
	struct store_val v;
	uint8_t key[WATCH_KEY_LEN];
	int rc;

	watch_key(key, vow, kind, id);
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	rc = store_get(t, DB_WATCHERS, (struct store_val){ key, sizeof(key) },
	    &v);
	store_abort(t);
	ck_assert(rc == AF_OK || rc == AF_ENOTFOUND);
	return rc == AF_OK;
}

static bool
has_hold(uint64_t act, uint64_t vow)
{
	struct store_txn *t;
	struct store_val v;
	uint8_t key[16];
	int rc;

	store_be64(key, act);
	store_be64(key + 8, vow);
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	rc = store_get(t, DB_HOLDS, (struct store_val){ key, 16 }, &v);
	store_abort(t);
	ck_assert(rc == AF_OK || rc == AF_ENOTFOUND);
	return rc == AF_OK;
}

static uint64_t
meta(const char *name)
{
	struct store_txn *t;
	uint64_t v = 0;
	int rc;

	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	rc = meta_get_u64(t, name, &v);
	store_abort(t);
	ck_assert(rc == AF_OK || rc == AF_ENOTFOUND);
	return v;
}

/* ---- Tests ---------------------------------------------------------------- */

START_TEST(test_vows_make_ids_and_secrets)
{
	uint8_t s1[VOW_SECRET_LEN], s2[VOW_SECRET_LEN], zero[VOW_SECRET_LEN];
	uint64_t a, b, c;
	struct vow *v;

	memset(zero, 0, sizeof(zero));
	a = mk(s1);
	b = mk(s2);
	ck_assert_uint_eq(a, 1);
	ck_assert_uint_eq(b, a + 1);
	ck_assert_int_eq(vowtab_make(vt, 42, &c, NULL), AF_OK);
	ck_assert_uint_eq(c, b + 1);
	/* Secrets are random: two kits differ, neither is all zero. */
	ck_assert(!vow_secret_equal(s1, s2));
	ck_assert(!vow_secret_equal(s1, zero));
	ck_assert(!vow_secret_equal(s2, zero));
	v = get(a);
	ck_assert_int_eq(v->state, VOW_PENDING);
	ck_assert(vow_secret_equal(v->secret, s1));
	ck_assert_uint_eq(v->owner, 0);
	ck_assert_uint_eq(v->follows, 0);
	ck_assert_uint_eq(v->settled_seq, 0);
	ck_assert_uint_eq(v->value_n, 0);
	ck_assert(v->dirty);
	ck_assert_uint_eq(get(c)->owner, 42);
	ck_assert_uint_eq(vowtab_settle_seq(vt), 0);
	ck_assert_uint_eq(nseen, 0);
}
END_TEST

START_TEST(test_vows_secret_equal)
{
	uint8_t a[VOW_SECRET_LEN], b[VOW_SECRET_LEN];

	for (int i = 0; i < VOW_SECRET_LEN; i++)
		a[i] = b[i] = (uint8_t)(i * 37 + 1);
	ck_assert(vow_secret_equal(a, b));
	for (int i = 0; i < VOW_SECRET_LEN; i++) {
		b[i] ^= 0x80;
		ck_assert_msg(!vow_secret_equal(a, b), "byte %d ignored", i);
		b[i] ^= 0x80;
	}
}
END_TEST

START_TEST(test_vows_get_unknown)
{
	struct vow *v = (struct vow *)&v;

	ck_assert_int_eq(vowtab_get(vt, 1, &v), AF_ENOTFOUND);
	ck_assert_ptr_null(v);
	mk(NULL);
	ck_assert_int_eq(vowtab_get(vt, 0, &v), AF_ENOTFOUND);
	ck_assert_int_eq(vowtab_get(vt, 2, &v), AF_ENOTFOUND);
	ck_assert_int_eq(vowtab_get(vt, UINT64_MAX, &v), AF_ENOTFOUND);
	/* Settling or following an unknown vow is refused too. */
	ck_assert_int_eq(settle_val(7, false, STRV("x")), AF_ENOTFOUND);
	ck_assert_int_eq(settle_follow(1, 7), AF_ENOTFOUND);
	ck_assert_int_eq(get(1)->state, VOW_PENDING);
	ck_assert_uint_eq(nseen, 0);
}
END_TEST

START_TEST(test_vows_settle_once_with_secret)
{
	uint8_t sec[VOW_SECRET_LEN], bad[VOW_SECRET_LEN];
	struct enc x = STRV("x"), y = STRV("y");
	uint64_t id = mk(sec);
	struct vow *v;

	memcpy(bad, sec, sizeof(bad));
	bad[VOW_SECRET_LEN - 1] ^= 1;
	ck_assert_int_eq(vowtab_settle(vt, id, bad, false, x.p, x.n, 0),
	    AF_EDENIED);
	ck_assert_int_eq(get(id)->state, VOW_PENDING);
	ck_assert_uint_eq(nseen, 0);

	ck_assert_int_eq(vowtab_settle(vt, id, sec, false, x.p, x.n, 0), AF_OK);
	v = get(id);
	assert_value(v, VOW_FULFILLED, x);
	ck_assert_uint_eq(v->settled_seq, 1);
	ck_assert_uint_eq(vowtab_settle_seq(vt), 1);
	ck_assert_uint_eq(nseen, 1);
	assert_seen(0, id, VOW_FULFILLED, x);
	ck_assert_uint_eq(seen[0].seq, 1);

	/* The identical repeat succeeds and changes nothing. */
	ck_assert_int_eq(vowtab_settle(vt, id, sec, false, x.p, x.n, 0), AF_OK);
	ck_assert_uint_eq(nseen, 1);
	ck_assert_uint_eq(vowtab_settle_seq(vt), 1);
	/* Any other settlement is refused. */
	ck_assert_int_eq(vowtab_settle(vt, id, sec, false, y.p, y.n, 0),
	    AF_ESETTLED);
	ck_assert_int_eq(vowtab_settle(vt, id, sec, true, x.p, x.n, 0),
	    AF_ESETTLED);
	ck_assert_int_eq(vowtab_settle(vt, id, sec, false, x.p, x.n - 1, 0),
	    AF_ESETTLED);
	ck_assert_int_eq(settle_follow(id, mk(NULL)), AF_ESETTLED);
	/* A wrong secret is refused before anything else. */
	ck_assert_int_eq(vowtab_settle(vt, id, bad, false, x.p, x.n, 0),
	    AF_EDENIED);
	assert_value(get(id), VOW_FULFILLED, x);
	ck_assert_uint_eq(nseen, 1);
}
END_TEST

START_TEST(test_vows_trusted_reject)
{
	struct enc err = ENC(af_error(ar, "RangeError", "too big"));
	uint64_t id = mk(NULL);

	ck_assert_int_eq(settle_val(id, true, err), AF_OK);
	assert_value(get(id), VOW_REJECTED, err);
	ck_assert_uint_eq(nseen, 1);
	assert_seen(0, id, VOW_REJECTED, err);
	ck_assert_int_eq(settle_val(id, true, err), AF_OK);
	/* Fulfilling with the same bytes is a different settlement. */
	ck_assert_int_eq(settle_val(id, false, err), AF_ESETTLED);
	ck_assert_uint_eq(nseen, 1);
}
END_TEST

START_TEST(test_vows_follow_pending_then_settle)
{
	struct enc v = STRV("v");
	uint64_t a = mk(NULL), b = mk(NULL);
	struct vow *va;

	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	va = get(a);
	ck_assert_int_eq(va->state, VOW_FOLLOWING);
	ck_assert_uint_eq(va->follows, b);
	ck_assert_uint_eq(va->settled_seq, 0);
	ck_assert(get(b)->followed);
	ck_assert_uint_eq(nseen, 0);
	/* The identical repeat while following. */
	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	/* Anything else is refused. */
	ck_assert_int_eq(settle_val(a, false, v), AF_ESETTLED);
	ck_assert_int_eq(settle_follow(a, mk(NULL)), AF_ESETTLED);

	ck_assert_int_eq(settle_val(b, false, v), AF_OK);
	ck_assert_uint_eq(nseen, 2);
	assert_seen(0, b, VOW_FULFILLED, v);
	assert_seen(1, a, VOW_FULFILLED, v);
	assert_value(get(a), VOW_FULFILLED, v);
	ck_assert_uint_eq(get(a)->settled_seq, get(b)->settled_seq + 1);
	ck_assert_uint_eq(vowtab_settle_seq(vt), 2);
	/* After the chain settled, the repeat still succeeds. */
	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_int_eq(settle_val(a, false, v), AF_ESETTLED);
	ck_assert_uint_eq(nseen, 2);
}
END_TEST

START_TEST(test_vows_follow_rejection_propagates)
{
	struct enc why = ENC(af_error(ar, "Nope", ""));
	uint64_t a = mk(NULL), b = mk(NULL);

	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_int_eq(settle_val(b, true, why), AF_OK);
	ck_assert_uint_eq(nseen, 2);
	assert_seen(0, b, VOW_REJECTED, why);
	assert_seen(1, a, VOW_REJECTED, why);
}
END_TEST

START_TEST(test_vows_follow_settled_settles_at_once)
{
	struct enc v = ENC(af_int(ar, 7));
	uint64_t a = mk(NULL), b = mk(NULL);

	ck_assert_int_eq(settle_val(b, false, v), AF_OK);
	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_uint_eq(nseen, 2);
	assert_seen(1, a, VOW_FULFILLED, v);
	assert_value(get(a), VOW_FULFILLED, v);
	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_uint_eq(nseen, 2);
}
END_TEST

/* A follows B which follows C: A's link goes to C, the end of the chain
 * (vows.h: "chains stay one link long"). */
START_TEST(test_vows_chain_of_three_is_shortened)
{
	struct enc z = STRV("z");
	uint64_t a = mk(NULL), b = mk(NULL), c = mk(NULL);
	bool b_seen = false, a_seen = false;

	ck_assert_int_eq(settle_follow(b, c), AF_OK);
	ck_assert_uint_eq(get(b)->follows, c);
	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_int_eq(get(a)->state, VOW_FOLLOWING);
	ck_assert_uint_eq(get(a)->follows, c);
	ck_assert_uint_eq(nseen, 0);

	ck_assert_int_eq(settle_val(c, false, z), AF_OK);
	ck_assert_uint_eq(nseen, 3);
	assert_seen(0, c, VOW_FULFILLED, z);
	for (size_t i = 1; i < 3; i++) {
		assert_seen(i, seen[i].id, VOW_FULFILLED, z);
		if (seen[i].id == a)
			a_seen = true;
		else if (seen[i].id == b)
			b_seen = true;
	}
	ck_assert(a_seen && b_seen);
	/* Durable: a new table sees all three settled. */
	commit_vt();
	reopen_vt();
	assert_value(get(a), VOW_FULFILLED, z);
	assert_value(get(b), VOW_FULFILLED, z);
	assert_value(get(c), VOW_FULFILLED, z);
}
END_TEST

/* B is resolved with C after A already follows B: A still settles when C
 * does, through B. (A's link is not re-pointed at C here, so this chain is
 * two links long whatever vows.h says; what matters is the settlement.) */
START_TEST(test_vows_chain_extended_behind_a_follower)
{
	struct enc z = STRV("late");
	uint64_t a = mk(NULL), b = mk(NULL), c = mk(NULL);

	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_int_eq(settle_follow(b, c), AF_OK);
	commit_vt();
	reopen_vt();
	ck_assert_int_eq(settle_val(c, false, z), AF_OK);
	ck_assert_uint_eq(nseen, 3);
	assert_seen(0, c, VOW_FULFILLED, z);
	assert_seen(1, b, VOW_FULFILLED, z);
	assert_seen(2, a, VOW_FULFILLED, z);
}
END_TEST

/* A chain built link by link (v[i] resolved with v[i+1], the way a flow
 * that returns its continuation's outcome builds one) settles at any
 * length without deep recursion. */
START_TEST(test_vows_long_chain_settles_iteratively)
{
	enum { N = 50000 };
	uint64_t *v = malloc(N * sizeof(*v));
	struct enc z = STRV("end");
	size_t i;

	ck_assert_ptr_nonnull(v);
	for (i = 0; i < N; i++)
		v[i] = mk(NULL);
	for (i = 0; i + 1 < N; i++)
		ck_assert_int_eq(settle_follow(v[i], v[i + 1]), AF_OK);
	ncalls = 0;
	ck_assert_int_eq(settle_val(v[N - 1], false, z), AF_OK);
	ck_assert_uint_eq(ncalls, N);
	ck_assert_int_eq(get(v[0])->state, VOW_FULFILLED);
	ck_assert_int_eq(get(v[N / 2])->state, VOW_FULFILLED);
	free(v);
}
END_TEST

/* The repeat of "resolve A with B" must succeed even though the chain was
 * shortened so that A's link points at C (vows.h: repeating the identical
 * settlement, "the same vow followed", is AF_OK; servers are
 * at-least-once). */
START_TEST(test_vows_repeat_follow_after_shortening)
{
	uint64_t a = mk(NULL), b = mk(NULL), c = mk(NULL), d = mk(NULL);

	ck_assert_int_eq(settle_follow(b, c), AF_OK);
	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	/* Still a different vow is a different settlement. */
	ck_assert_int_eq(settle_follow(a, d), AF_ESETTLED);
	/* And the same after the chain settled. */
	ck_assert_int_eq(settle_val(c, false, STRV("end")), AF_OK);
	ck_assert_int_eq(get(a)->state, VOW_FULFILLED);
	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_int_eq(settle_follow(a, d), AF_ESETTLED);
}
END_TEST

START_TEST(test_vows_cycle_refused)
{
	uint64_t a = mk(NULL), b = mk(NULL), c = mk(NULL), d = mk(NULL);
	struct keys w;

	/* A vow cannot follow itself. */
	ck_assert_int_eq(settle_follow(d, d), AF_ECYCLE);
	ck_assert_int_eq(get(d)->state, VOW_PENDING);
	ck_assert(!get(d)->followed);

	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_int_eq(settle_follow(b, a), AF_ECYCLE);
	ck_assert_int_eq(get(b)->state, VOW_PENDING);
	ck_assert_uint_eq(get(b)->follows, 0);
	ck_assert_int_eq(get(a)->state, VOW_FOLLOWING);
	ck_assert_uint_eq(get(a)->follows, b);
	ck_assert(!get(a)->followed);
	/* Longer: B follows C, then C -> A would close A -> C. */
	ck_assert_int_eq(settle_follow(b, c), AF_OK);
	ck_assert_int_eq(settle_follow(c, a), AF_ECYCLE);
	ck_assert_int_eq(settle_follow(c, b), AF_ECYCLE);
	ck_assert_int_eq(get(c)->state, VOW_PENDING);
	ck_assert_uint_eq(get(c)->follows, 0);
	ck_assert_uint_eq(nseen, 0);
	/* Only the accepted links are written. */
	commit_vt();
	w = table_keys(DB_WATCHERS);
	ck_assert_uint_eq(w.n, 2);
	ck_assert(has_watch(b, WATCH_FOLLOWER, a));
	ck_assert(has_watch(c, WATCH_FOLLOWER, b));
	ck_assert_uint_eq(table_keys(DB_HOLDS).n, 0);
	/* And the chain still works. */
	ck_assert_int_eq(settle_val(c, false, STRV("ok")), AF_OK);
	ck_assert_uint_eq(nseen, 3);
	ck_assert_int_eq(get(a)->state, VOW_FULFILLED);
}
END_TEST

START_TEST(test_vows_state_and_counters_persist)
{
	uint8_t s1[VOW_SECRET_LEN], s3[VOW_SECRET_LEN], h1[VOW_SECRET_LEN];
	struct enc x = STRV("x"), y = ENC(af_int(ar, -5));
	uint64_t a = mk(s1), b = mk(NULL), c, d;
	struct vow *v;

	ck_assert_int_eq(vowtab_make(vt, 9, &c, s3), AF_OK);
	ck_assert_int_eq(settle_val(a, false, x), AF_OK);
	ck_assert_int_eq(settle_val(b, true, y), AF_OK);
	commit_vt();
	ck_assert_uint_eq(meta("next_vow"), 3);
	ck_assert_uint_eq(meta("settle_seq"), 2);
	/* The flushed table itself still answers (from the store now). */
	assert_value(get(a), VOW_FULFILLED, x);

	reopen_vt();
	ck_assert_uint_eq(vowtab_settle_seq(vt), 2);
	v = get(a);
	assert_value(v, VOW_FULFILLED, x);
	/* Settled: the secret is wiped, its hash kept (issue 8). */
	vow_secret_hash(s1, h1);
	ck_assert(vow_secret_equal(v->secret, h1));
	ck_assert(!vow_secret_equal(v->secret, s1));
	ck_assert_uint_eq(v->settled_seq, 1);
	ck_assert(!v->dirty);
	v = get(b);
	assert_value(v, VOW_REJECTED, y);
	ck_assert_uint_eq(v->settled_seq, 2);
	v = get(c);
	ck_assert_int_eq(v->state, VOW_PENDING);
	ck_assert_uint_eq(v->owner, 9);
	ck_assert(vow_secret_equal(v->secret, s3));
	/* The secret still works after the reload. */
	ck_assert_int_eq(vowtab_settle(vt, c, s3, false, x.p, x.n, 0), AF_OK);
	ck_assert_uint_eq(get(c)->settled_seq, 3);
	/* Counters continue. */
	d = mk(NULL);
	ck_assert_uint_eq(d, 4);
	commit_vt();
	ck_assert_uint_eq(meta("next_vow"), 4);
	ck_assert_uint_eq(meta("settle_seq"), 3);
	/* The identical repeat is still accepted after the reload. */
	reopen_vt();
	ck_assert_int_eq(settle_val(a, false, x), AF_OK);
	ck_assert_int_eq(settle_val(a, false, y), AF_ESETTLED);
	/* With the resolver's secret too: the hash answers for it; another
	 * secret is not the resolver. */
	ck_assert_int_eq(vowtab_settle(vt, a, s1, false, x.p, x.n, 0), AF_OK);
	ck_assert_int_eq(vowtab_settle(vt, a, s1, false, y.p, y.n, 0),
	    AF_ESETTLED);
	ck_assert_int_eq(vowtab_settle(vt, a, s3, false, x.p, x.n, 0),
	    AF_EDENIED);
	ck_assert_uint_eq(nseen, 3);
}
END_TEST

START_TEST(test_vows_rows_match_protoc)
{
	uint8_t sec[VOW_SECRET_LEN], hsec[VOW_SECRET_LEN];
	struct enc x = ENC(af_string(ar, "hello"));
	uint64_t a = mk(sec), f = mk(NULL), b;
	struct store_txn *t;
	struct store_val v;
	uint8_t key[8];
	Asyncflow__VowRecord *r;
	uint8_t packed[64];

	ck_assert_int_eq(vowtab_make(vt, 77, &b, NULL), AF_OK);
	ck_assert_int_eq(settle_val(a, false, x), AF_OK);
	ck_assert_int_eq(settle_follow(f, b), AF_OK);
	commit_vt();

	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	store_be64(key, a);
	ck_assert_int_eq(store_get(t, DB_VOWS, (struct store_val){ key, 8 },
			     &v),
	    AF_OK);
	r = asyncflow__vow_record__unpack(NULL, v.n, v.p);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->state, ASYNCFLOW__VOW_STATE__VOW_FULFILLED);
	ck_assert_uint_eq(r->resolver.len, VOW_SECRET_LEN);
	/* Settled: what is stored is the secret's hash, not the secret. */
	vow_secret_hash(sec, hsec);
	ck_assert_mem_eq(r->resolver.data, hsec, VOW_SECRET_LEN);
	ck_assert(memcmp(r->resolver.data, sec, VOW_SECRET_LEN) != 0);
	ck_assert_ptr_nonnull(r->value);
	ck_assert_uint_eq(asyncflow__value__get_packed_size(r->value), x.n);
	asyncflow__value__pack(r->value, packed);
	ck_assert_mem_eq(packed, x.p, x.n);
	ck_assert_uint_eq(r->settled_seq, 1);
	ck_assert_uint_eq(r->follows, 0);
	ck_assert_uint_eq(r->owner, 0);
	ck_assert(!r->followed);
	asyncflow__vow_record__free_unpacked(r, NULL);

	store_be64(key, f);
	ck_assert_int_eq(store_get(t, DB_VOWS, (struct store_val){ key, 8 },
			     &v),
	    AF_OK);
	r = asyncflow__vow_record__unpack(NULL, v.n, v.p);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->state, ASYNCFLOW__VOW_STATE__VOW_FOLLOWING);
	ck_assert_uint_eq(r->follows, b);
	ck_assert_ptr_null(r->value);
	asyncflow__vow_record__free_unpacked(r, NULL);

	store_be64(key, b);
	ck_assert_int_eq(store_get(t, DB_VOWS, (struct store_val){ key, 8 },
			     &v),
	    AF_OK);
	r = asyncflow__vow_record__unpack(NULL, v.n, v.p);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->state, ASYNCFLOW__VOW_STATE__VOW_PENDING);
	ck_assert_uint_eq(r->owner, 77);
	ck_assert(r->followed);
	asyncflow__vow_record__free_unpacked(r, NULL);
	store_abort(t);
}
END_TEST

/* Followers written in one pass are found by a later pass's table, which
 * knows them only from DB_WATCHERS. */
START_TEST(test_vows_followers_found_in_later_pass)
{
	struct enc v = STRV("later");
	uint64_t a = mk(NULL), b = mk(NULL), c = mk(NULL);

	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	ck_assert_int_eq(settle_follow(c, b), AF_OK);
	commit_vt();
	ck_assert(has_watch(b, WATCH_FOLLOWER, a));
	ck_assert(has_watch(b, WATCH_FOLLOWER, c));
	reopen_vt();

	ck_assert_int_eq(settle_val(b, false, v), AF_OK);
	ck_assert_uint_eq(nseen, 3);
	assert_seen(0, b, VOW_FULFILLED, v);
	assert_seen(1, seen[1].id, VOW_FULFILLED, v);
	assert_seen(2, seen[2].id, VOW_FULFILLED, v);
	ck_assert((seen[1].id == a && seen[2].id == c) ||
	    (seen[1].id == c && seen[2].id == a));
	commit_vt();
	/* The follower rows are gone once the chain settled. */
	ck_assert(!has_watch(b, WATCH_FOLLOWER, a));
	ck_assert(!has_watch(b, WATCH_FOLLOWER, c));
	ck_assert_uint_eq(table_keys(DB_WATCHERS).n, 0);
	reopen_vt();
	assert_value(get(a), VOW_FULFILLED, v);
	assert_value(get(c), VOW_FULFILLED, v);
}
END_TEST

/* A follower added in this pass to a vow followed since an earlier pass:
 * both are settled. */
START_TEST(test_vows_followers_committed_and_new_together)
{
	struct enc v = STRV("both");
	uint64_t a = mk(NULL), b = mk(NULL), c = mk(NULL);

	ck_assert_int_eq(settle_follow(a, b), AF_OK);
	commit_vt();
	reopen_vt();
	ck_assert_int_eq(settle_follow(c, b), AF_OK);
	ck_assert_int_eq(settle_val(b, false, v), AF_OK);
	ck_assert_uint_eq(nseen, 3);
	assert_value(get(a), VOW_FULFILLED, v);
	assert_value(get(c), VOW_FULFILLED, v);
	commit_vt();
	ck_assert_uint_eq(table_keys(DB_WATCHERS).n, 0);
}
END_TEST

START_TEST(test_vows_discard)
{
	uint64_t a = mk(NULL), b, again;

	commit_vt();
	b = mk(NULL);
	ck_assert_uint_eq(b, 2);
	ck_assert_int_eq(settle_val(a, false, STRV("x")), AF_OK);
	ck_assert_int_eq(settle_follow(b, a), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, a, WATCH_ACT, 9), AF_OK);
	ck_assert_uint_eq(vowtab_settle_seq(vt), 2);

	ck_assert_int_eq(vowtab_discard(vt), AF_OK);
	ck_assert_uint_eq(vowtab_settle_seq(vt), 0);
	ck_assert_int_eq(get(a)->state, VOW_PENDING);
	ck_assert_uint_eq(get(a)->value_n, 0);
	{
		struct vow *v = NULL;
		ck_assert_int_eq(vowtab_get(vt, b, &v), AF_ENOTFOUND);
	}
	again = mk(NULL);
	ck_assert_uint_eq(again, 2);
	commit_vt();
	ck_assert_uint_eq(table_keys(DB_WATCHERS).n, 0);
	ck_assert_uint_eq(table_keys(DB_HOLDS).n, 0);
	ck_assert_uint_eq(meta("next_vow"), 2);
	ck_assert_uint_eq(meta("settle_seq"), 0);
	reopen_vt();
	ck_assert_int_eq(get(a)->state, VOW_PENDING);
	ck_assert_int_eq(get(again)->state, VOW_PENDING);
}
END_TEST

START_TEST(test_vows_watch_rows_and_holds)
{
	struct keys h, w;
	uint8_t want[16];

	ck_assert_int_eq(vowtab_watch(vt, 5, WATCH_ACT, 7), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 5, WATCH_FOLLOWER, 8), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 6, WATCH_ACT, 7), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 6, WATCH_ACT, 3), AF_OK);
	/* Watched then unwatched in the same pass: nothing is written. */
	ck_assert_int_eq(vowtab_watch(vt, 9, WATCH_ACT, 4), AF_OK);
	ck_assert_int_eq(vowtab_unwatch(vt, 9, WATCH_ACT, 4), AF_OK);
	/* Unwatching what was never watched is harmless. */
	ck_assert_int_eq(vowtab_unwatch(vt, 11, WATCH_ACT, 12), AF_OK);
	/* Nothing reaches the store before the flush. */
	ck_assert_uint_eq(table_keys(DB_WATCHERS).n, 0);
	commit_vt();

	w = table_keys(DB_WATCHERS);
	ck_assert_uint_eq(w.n, 4);
	for (size_t i = 0; i < w.n; i++)
		ck_assert_uint_eq(w.len[i], WATCH_KEY_LEN);
	ck_assert(has_watch(5, WATCH_ACT, 7));
	ck_assert(has_watch(5, WATCH_FOLLOWER, 8));
	ck_assert(has_watch(6, WATCH_ACT, 7));
	ck_assert(has_watch(6, WATCH_ACT, 3));
	ck_assert(!has_watch(9, WATCH_ACT, 4));
	/* DB_HOLDS mirrors the WATCH_ACT rows only, keyed act ‖ vow, so they
	 * sort by activation. */
	h = table_keys(DB_HOLDS);
	ck_assert_uint_eq(h.n, 3);
	store_be64(want, 3);
	store_be64(want + 8, 6);
	ck_assert_uint_eq(h.len[0], 16);
	ck_assert_mem_eq(h.k[0], want, 16);
	store_be64(want, 7);
	store_be64(want + 8, 5);
	ck_assert_mem_eq(h.k[1], want, 16);
	store_be64(want + 8, 6);
	ck_assert_mem_eq(h.k[2], want, 16);
	ck_assert(!has_hold(8, 5));
	ck_assert(!has_hold(4, 9));

	/* Unwatch removes both rows. */
	ck_assert_int_eq(vowtab_unwatch(vt, 5, WATCH_ACT, 7), AF_OK);
	ck_assert_int_eq(vowtab_unwatch(vt, 5, WATCH_FOLLOWER, 8), AF_OK);
	commit_vt();
	ck_assert(!has_watch(5, WATCH_ACT, 7));
	ck_assert(!has_watch(5, WATCH_FOLLOWER, 8));
	ck_assert(!has_hold(7, 5));
	ck_assert(has_hold(7, 6));
	ck_assert(has_hold(3, 6));
	ck_assert_uint_eq(table_keys(DB_WATCHERS).n, 2);
	ck_assert_uint_eq(table_keys(DB_HOLDS).n, 2);
	/* Unwatched then watched again in one pass: the row is there. */
	ck_assert_int_eq(vowtab_unwatch(vt, 6, WATCH_ACT, 3), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 6, WATCH_ACT, 3), AF_OK);
	commit_vt();
	ck_assert(has_watch(6, WATCH_ACT, 3));
	ck_assert(has_hold(3, 6));
	/* vowtab_held_by reads them back by activation. */
	{
		uint64_t *ids;
		size_t n;

		ck_assert_int_eq(vowtab_watch(vt, 4, WATCH_ACT, 7), AF_OK);
		commit_vt();
		ck_assert_int_eq(vowtab_held_by(vt, 7, &ids, &n), AF_OK);
		ck_assert_uint_eq(n, 2);
		ck_assert_uint_eq(ids[0], 4);
		ck_assert_uint_eq(ids[1], 6);
		free(ids);
		ck_assert_int_eq(vowtab_held_by(vt, 5, &ids, &n), AF_OK);
		ck_assert_uint_eq(n, 0);
		free(ids);
	}
}
END_TEST

/* Only the last change a pass makes to a watch row counts (the flush
 * writes only that one): every order of watch and unwatch, on a row that
 * was committed and on one that was not, interleaved with changes to other
 * rows, leaves what the last change says, in both tables. */
START_TEST(test_vows_watch_last_change_in_a_pass_wins)
{
	uint64_t i;

	/* Committed: 20/act 1 and 21/act 1. */
	ck_assert_int_eq(vowtab_watch(vt, 20, WATCH_ACT, 1), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 21, WATCH_ACT, 1), AF_OK);
	commit_vt();
	/* committed row: unwatch, watch, unwatch -> gone */
	ck_assert_int_eq(vowtab_unwatch(vt, 20, WATCH_ACT, 1), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 30, WATCH_ACT, 2), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 20, WATCH_ACT, 1), AF_OK);
	ck_assert_int_eq(vowtab_unwatch(vt, 30, WATCH_ACT, 2), AF_OK);
	ck_assert_int_eq(vowtab_unwatch(vt, 20, WATCH_ACT, 1), AF_OK);
	/* committed row: unwatch, watch -> there */
	ck_assert_int_eq(vowtab_unwatch(vt, 21, WATCH_ACT, 1), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 21, WATCH_ACT, 1), AF_OK);
	/* new row: watch, unwatch, watch -> there (30/act 2 above: gone) */
	ck_assert_int_eq(vowtab_watch(vt, 31, WATCH_ACT, 2), AF_OK);
	ck_assert_int_eq(vowtab_unwatch(vt, 31, WATCH_ACT, 2), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 31, WATCH_ACT, 2), AF_OK);
	/* many rows watched and unwatched in one pass, the kind a parent
	 * awaiting its children makes: none stays, but the last one */
	for (i = 100; i < 120; i++)
		ck_assert_int_eq(vowtab_watch(vt, i, WATCH_ACT, 3), AF_OK);
	for (i = 100; i < 120; i++)
		ck_assert_int_eq(vowtab_unwatch(vt, i, WATCH_ACT, 3), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, 119, WATCH_ACT, 3), AF_OK);
	commit_vt();
	ck_assert(!has_watch(20, WATCH_ACT, 1));
	ck_assert(!has_hold(1, 20));
	ck_assert(has_watch(21, WATCH_ACT, 1));
	ck_assert(has_hold(1, 21));
	ck_assert(!has_watch(30, WATCH_ACT, 2));
	ck_assert(!has_hold(2, 30));
	ck_assert(has_watch(31, WATCH_ACT, 2));
	ck_assert(has_hold(2, 31));
	ck_assert(has_watch(119, WATCH_ACT, 3));
	ck_assert(has_hold(3, 119));
	ck_assert_uint_eq(table_keys(DB_WATCHERS).n, 3);
	ck_assert_uint_eq(table_keys(DB_HOLDS).n, 3);
	/* And the next pass starts afresh: a row of the last one goes. */
	ck_assert_int_eq(vowtab_unwatch(vt, 119, WATCH_ACT, 3), AF_OK);
	commit_vt();
	ck_assert(!has_watch(119, WATCH_ACT, 3));
	ck_assert_uint_eq(table_keys(DB_HOLDS).n, 2);
}
END_TEST

/* A flush whose transaction is aborted leaves nothing; discard then lets
 * the same changes be redone and committed. */
START_TEST(test_vows_aborted_flush_then_discard)
{
	struct store_txn *t;
	uint64_t a = mk(NULL);

	ck_assert_int_eq(settle_val(a, false, STRV("x")), AF_OK);
	ck_assert_int_eq(vowtab_watch(vt, a, WATCH_ACT, 2), AF_OK);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(vowtab_flush(vt, t), AF_OK);
	store_abort(t);
	ck_assert_int_eq(vowtab_discard(vt), AF_OK);
	ck_assert_uint_eq(meta("next_vow"), 0);
	ck_assert_uint_eq(table_keys(DB_VOWS).n, 0);
	ck_assert_uint_eq(table_keys(DB_WATCHERS).n, 0);
	a = mk(NULL);
	ck_assert_uint_eq(a, 1);
	ck_assert_int_eq(settle_val(a, false, STRV("x")), AF_OK);
	commit_vt();
	ck_assert_uint_eq(meta("next_vow"), 1);
	ck_assert_uint_eq(meta("settle_seq"), 1);
}
END_TEST

/* DB_OWNED rows of the vows of one activation (a store read). */
static size_t
owned_rows(uint64_t act)
{
	struct store_cursor *c;
	struct store_txn *t;
	struct store_val k, v;
	uint8_t prefix[8];
	size_t n = 0;
	int rc;

	store_be64(prefix, act);
	ck_assert_int_eq(store_begin(st, true, &t), AF_OK);
	ck_assert_int_eq(store_cursor_open(t, DB_OWNED, &c), AF_OK);
	k = (struct store_val){ prefix, 8 };
	for (rc = store_cursor_get(c, STORE_SET_RANGE, &k, &v); rc == AF_OK;
	     rc = store_cursor_get(c, STORE_NEXT, &k, &v)) {
		if (k.n < 8 || memcmp(k.p, prefix, 8) != 0)
			break;
		n++;
	}
	store_cursor_close(c);
	store_abort(t);
	return n;
}

/*
 * The DB_OWNED rows of vows made with an owner wait in the meta table's
 * OWNING_META row (no page of another table in the commit that makes
 * them), OWNING_MAX at a time, and are all in DB_OWNED after
 * vowtab_owned_flush; the row is committed state: a failed pass or a new
 * table (a restart) finds what was committed, no more, no less.
 */
START_TEST(test_vows_owned_rows_batched_in_meta)
{
	struct store_txn *t;
	uint64_t id;
	int i;

	for (i = 0; i < OWNING_MAX - 1; i++)
		ck_assert_int_eq(vowtab_make(vt, 5, &id, NULL), AF_OK);
	commit_vt();
	ck_assert_uint_eq(owned_rows(5), 0);
	/* A restart reads them back: the next two fill, then move them. */
	reopen_vt();
	ck_assert_int_eq(vowtab_make(vt, 5, &id, NULL), AF_OK);
	ck_assert_int_eq(vowtab_make(vt, 5, &id, NULL), AF_OK);
	commit_vt();
	ck_assert_uint_eq(owned_rows(5), OWNING_MAX);
	/* A pass that fails: its vow's row is not kept. */
	ck_assert_int_eq(vowtab_make(vt, 5, &id, NULL), AF_OK);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(vowtab_flush(vt, t), AF_OK);
	store_abort(t);
	ck_assert_int_eq(vowtab_discard(vt), AF_OK);
	/* Before a pruning: the one left, and no other. */
	ck_assert_int_eq(vowtab_make(vt, 6, &id, NULL), AF_OK);
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(vowtab_flush(vt, t), AF_OK);
	ck_assert_int_eq(vowtab_owned_flush(vt, t), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	vowtab_after_commit(vt);
	ck_assert_uint_eq(owned_rows(5), OWNING_MAX + 1);
	ck_assert_uint_eq(owned_rows(6), 1);
	reopen_vt();
	ck_assert_int_eq(store_begin(st, false, &t), AF_OK);
	ck_assert_int_eq(vowtab_owned_flush(vt, t), AF_OK);
	ck_assert_int_eq(store_commit(t), AF_OK);
	ck_assert_uint_eq(owned_rows(5), OWNING_MAX + 1);
	ck_assert_uint_eq(owned_rows(6), 1);
}
END_TEST

/* Vows made in one pass go to the table in id order: they take as few
 * pages as the same number made one pass each (in the cache's hash order,
 * a new row often went in before the last of a full leaf and split it in
 * half, and ids only grow: nothing filled those halves again). */
START_TEST(test_vows_rows_put_in_id_order)
{
	struct store_db_stat one, both;
	uint64_t id;
	int i;

	for (i = 0; i < 2000; i++)
		ck_assert_int_eq(vowtab_make(vt, 5, &id, NULL), AF_OK);
	commit_vt();
	one = storeutil_db_stat(st, DB_VOWS);
	ck_assert_uint_eq(one.entries, 2000);
	for (i = 0; i < 2000; i++) {
		ck_assert_int_eq(vowtab_make(vt, 5, &id, NULL), AF_OK);
		commit_vt();
	}
	both = storeutil_db_stat(st, DB_VOWS);
	ck_assert_uint_eq(both.entries, 4000);
	/* The branch page counts in both; a leaf more for rounding. */
	ck_assert_uint_le(one.pages, both.pages - one.pages + 2);
}
END_TEST

static Suite *
vows_suite(void)
{
	Suite *s = suite_create("vows");
	TCase *tc = tcase_create("vows");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vows_make_ids_and_secrets);
	tcase_add_test(tc, test_vows_secret_equal);
	tcase_add_test(tc, test_vows_get_unknown);
	tcase_add_test(tc, test_vows_settle_once_with_secret);
	tcase_add_test(tc, test_vows_trusted_reject);
	tcase_add_test(tc, test_vows_follow_pending_then_settle);
	tcase_add_test(tc, test_vows_follow_rejection_propagates);
	tcase_add_test(tc, test_vows_follow_settled_settles_at_once);
	tcase_add_test(tc, test_vows_chain_of_three_is_shortened);
	tcase_add_test(tc, test_vows_chain_extended_behind_a_follower);
	tcase_add_test(tc, test_vows_repeat_follow_after_shortening);
	tcase_add_test(tc, test_vows_long_chain_settles_iteratively);
	tcase_add_test(tc, test_vows_cycle_refused);
	tcase_add_test(tc, test_vows_state_and_counters_persist);
	tcase_add_test(tc, test_vows_rows_match_protoc);
	tcase_add_test(tc, test_vows_followers_found_in_later_pass);
	tcase_add_test(tc, test_vows_followers_committed_and_new_together);
	tcase_add_test(tc, test_vows_discard);
	tcase_add_test(tc, test_vows_watch_rows_and_holds);
	tcase_add_test(tc, test_vows_watch_last_change_in_a_pass_wins);
	tcase_add_test(tc, test_vows_aborted_flush_then_discard);
	tcase_add_test(tc, test_vows_owned_rows_batched_in_meta);
	tcase_add_test(tc, test_vows_rows_put_in_id_order);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(vows_suite)
