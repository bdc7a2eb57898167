/*
 * check_u64map.c: the id-to-pointer hash map the engine indexes with
 * (daemon/u64map.c). The map is driven through many interleaved puts,
 * replaces and deletions and compared after every step with a plain array
 * indexed by key. (Moved out of check_registry.c: one test file per module.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "testutil.h"
#include "u64map.h"

#define UNIVERSE 200000u

static char slots[UNIVERSE + 1]; /* values are &slots[i] */
static uint8_t *ref;             /* ref[i]: 0 absent, else 1 + version */
static uint8_t *visited;

static void
map_setup(void)
{
	ref = calloc(UNIVERSE + 1, 1);
	visited = calloc(UNIVERSE + 1, 1);
	ck_assert_ptr_nonnull(ref);
	ck_assert_ptr_nonnull(visited);
}

static void
map_teardown(void)
{
	free(ref);
	free(visited);
	ref = visited = NULL;
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Index i in 1..UNIVERSE to a key: sequential ids, or spread over 64 bits
 * by an odd multiplier (a bijection that maps only 0 to 0). */
static uint64_t
key_of(uint64_t i, int spread)
{
	return spread ? i * 0x9E3779B97F4A7C15ULL : i;
}

/* The value stored for index i at version ver (1 or 2). */
static void *
val_of(uint64_t i, int ver)
{
	return ver == 1 ? (void *)&slots[i] : (void *)&slots[UNIVERSE - i];
}

/* The inverse of key_of, by the multiplier's inverse modulo 2^64. */
static uint64_t
index_of(uint64_t k, int spread)
{
	const uint64_t mul = 0x9E3779B97F4A7C15ULL;
	uint64_t inv = mul;

	if (!spread)
		return k;
	for (int i = 0; i < 6; i++) /* Newton: doubles the bits each time */
		inv *= 2 - mul * inv;
	return k * inv;
}

/* Check's ck_assert_* report every passing assertion to the parent
 * process; in loops of a million steps that is the whole run time, so the
 * hot loops only call into Check on failure. */
#define REQUIRE(cond, ...) \
	do { \
		if (!(cond)) \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

static void
check_all(const struct u64map *m, int spread, size_t expect_len)
{
	size_t it = 0, n = 0, present = 0;
	uint64_t k;
	void *v;

	ck_assert_uint_eq(m->len, expect_len);
	memset(visited, 0, UNIVERSE + 1);
	while (u64map_next(m, &it, &k, &v)) {
		uint64_t i = index_of(k, spread);

		REQUIRE(i >= 1 && i <= UNIVERSE && key_of(i, spread) == k,
		    "key %llu was never put", (unsigned long long)k);
		REQUIRE(!visited[i], "key %llu visited twice",
		    (unsigned long long)k);
		visited[i] = 1;
		REQUIRE(ref[i] != 0, "deleted key %llu still there",
		    (unsigned long long)k);
		REQUIRE(v == val_of(i, ref[i] - 1), "key %llu: wrong value",
		    (unsigned long long)k);
		n++;
	}
	ck_assert_uint_eq(n, expect_len);
	for (uint64_t i = 1; i <= UNIVERSE; i++) {
		void *g = u64map_get(m, key_of(i, spread));

		if (ref[i]) {
			present++;
			REQUIRE(visited[i], "key %llu not visited",
			    (unsigned long long)key_of(i, spread));
			REQUIRE(g == val_of(i, ref[i] - 1),
			    "get(%llu): wrong value",
			    (unsigned long long)key_of(i, spread));
		} else
			REQUIRE(g == NULL, "get(%llu) of a deleted key",
			    (unsigned long long)key_of(i, spread));
	}
	ck_assert_uint_eq(present, expect_len);
}

static void
run_random_ops(int spread)
{
	struct u64map m;
	size_t len = 0;

	u64map_init(&m);
	rng_state = spread ? 0x1234567890abcdefULL : 0xfedcba0987654321ULL;
	/* Round 0 grows past 100k keys with gets and deletions interleaved;
	 * round 1 is nine deletions in ten. */
	for (int round = 0; round < 2; round++) {
		for (uint64_t step = 0; step < 300000; step++) {
			uint64_t r = rng(), i = r % UNIVERSE + 1;
			unsigned op = (unsigned)(r >> 40) % 10;
			uint64_t k = key_of(i, spread);
			void *got;

			if (round == 1)
				op = op < 7 ? 9 : op;
			if (op < 6) {
				int ver = (int)(r >> 50) % 2 + 1;

				REQUIRE(u64map_put(&m, k, val_of(i, ver)) ==
					AF_OK,
				    "put failed");
				if (!ref[i])
					len++;
				ref[i] = (uint8_t)(ver + 1);
			} else if (op < 8) {
				got = u64map_get(&m, k);
				REQUIRE(got ==
					(ref[i] ? val_of(i, ref[i] - 1) : NULL),
				    "step %llu: get(%llu) wrong",
				    (unsigned long long)step,
				    (unsigned long long)k);
			} else {
				got = u64map_del(&m, k);
				REQUIRE(got ==
					(ref[i] ? val_of(i, ref[i] - 1) : NULL),
				    "step %llu: del(%llu) wrong",
				    (unsigned long long)step,
				    (unsigned long long)k);
				if (ref[i]) {
					ref[i] = 0;
					len--;
				}
				REQUIRE(u64map_get(&m, k) == NULL,
				    "step %llu: %llu still there after del",
				    (unsigned long long)step,
				    (unsigned long long)k);
			}
			REQUIRE(m.len == len, "step %llu: len %zu, want %zu",
			    (unsigned long long)step, m.len, len);
		}
		if (round == 0)
			ck_assert_uint_gt(len, 100000);
		else
			ck_assert_uint_gt(len, 0);
		check_all(&m, spread, len);
	}
	/* Delete everything that is left, one by one. */
	for (uint64_t i = 1; i <= UNIVERSE; i++)
		if (ref[i]) {
			REQUIRE(u64map_del(&m, key_of(i, spread)) ==
				val_of(i, ref[i] - 1),
			    "del(%llu) wrong",
			    (unsigned long long)key_of(i, spread));
			ref[i] = 0;
			len--;
		}
	ck_assert_uint_eq(len, 0);
	check_all(&m, spread, 0);
	u64map_release(&m);
}

START_TEST(test_u64map_random_sequential_keys)
{
	run_random_ops(0);
}
END_TEST

START_TEST(test_u64map_random_spread_keys)
{
	run_random_ops(1);
}
END_TEST

START_TEST(test_u64map_basics)
{
	struct u64map m;
	size_t it = 0;
	uint64_t k;
	void *v;
	int a, b;

	u64map_init(&m);
	/* An empty map answers without allocating. */
	ck_assert_ptr_null(u64map_get(&m, 1));
	ck_assert_ptr_null(u64map_del(&m, 1));
	ck_assert(!u64map_next(&m, &it, &k, &v));
	u64map_reset(&m);
	ck_assert_uint_eq(m.len, 0);

	ck_assert_int_eq(u64map_put(&m, 5, &a), AF_OK);
	ck_assert_int_eq(u64map_put(&m, UINT64_MAX, &b), AF_OK);
	ck_assert_uint_eq(m.len, 2);
	ck_assert_ptr_eq(u64map_get(&m, 5), &a);
	ck_assert_ptr_eq(u64map_get(&m, UINT64_MAX), &b);
	ck_assert_ptr_null(u64map_get(&m, 6));
	/* Replace keeps the count. */
	ck_assert_int_eq(u64map_put(&m, 5, &b), AF_OK);
	ck_assert_uint_eq(m.len, 2);
	ck_assert_ptr_eq(u64map_get(&m, 5), &b);
	ck_assert_ptr_eq(u64map_del(&m, 5), &b);
	ck_assert_ptr_null(u64map_del(&m, 5));
	ck_assert_uint_eq(m.len, 1);
	u64map_release(&m);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_uint_eq(m.cap, 0);
	ck_assert_ptr_null(u64map_get(&m, UINT64_MAX));
	/* Released is as good as new. */
	ck_assert_int_eq(u64map_put(&m, 9, &a), AF_OK);
	ck_assert_ptr_eq(u64map_get(&m, 9), &a);
	u64map_release(&m);
}
END_TEST

START_TEST(test_u64map_clear_and_reuse)
{
	struct u64map m;
	size_t it = 0, cap;
	uint64_t k;
	void *v;

	u64map_init(&m);
	for (uint64_t i = 1; i <= 5000; i++)
		ck_assert_int_eq(u64map_put(&m, i * 7, val_of(i, 1)), AF_OK);
	ck_assert_uint_eq(m.len, 5000);
	cap = m.cap;
	ck_assert_uint_ge(cap, 5000);
	/* Power of two, load at most 3/4. */
	ck_assert_uint_eq(cap & (cap - 1), 0);
	ck_assert_uint_le(m.len * 4, cap * 3);
	u64map_reset(&m);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_uint_eq(m.cap, cap); /* memory kept */
	ck_assert(!u64map_next(&m, &it, &k, &v));
	for (uint64_t i = 1; i <= 5000; i++)
		ck_assert_ptr_null(u64map_get(&m, i * 7));
	/* Usable again, with no ghosts of the old keys. */
	for (uint64_t i = 1; i <= 100; i++)
		ck_assert_int_eq(u64map_put(&m, i * 11, val_of(i, 2)), AF_OK);
	ck_assert_uint_eq(m.len, 100);
	it = 0;
	for (size_t n = 0; u64map_next(&m, &it, &k, &v); n++) {
		ck_assert_uint_lt(n, 100);
		ck_assert_uint_eq(k % 11, 0);
		ck_assert_ptr_eq(v, val_of(k / 11, 2));
	}
	u64map_release(&m);
}
END_TEST

/* A map that was big once does not keep its table when it is reset with
 * far fewer entries: later walks cost what the map holds (issue 8: the vow
 * cache walked at every commit at the size of a replay pass). */
START_TEST(test_u64map_reset_gives_back_a_big_table)
{
	struct u64map m;
	size_t it = 0, n = 0;
	uint64_t k;
	void *v;

	u64map_init(&m);
	for (uint64_t i = 1; i <= 100000; i++)
		ck_assert_int_eq(u64map_put(&m, i, val_of(i, 1)), AF_OK);
	u64map_reset(&m); /* full: kept for a pass of the same size */
	ck_assert_uint_ge(m.cap, 100000);
	ck_assert_int_eq(u64map_put(&m, 5, val_of(5, 2)), AF_OK);
	u64map_reset(&m); /* one entry in a big table: given back */
	ck_assert_uint_le(m.cap, U64MAP_KEEP);
	ck_assert_int_eq(u64map_put(&m, 9, val_of(9, 3)), AF_OK);
	while (u64map_next(&m, &it, &k, &v))
		n++;
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_eq(u64map_get(&m, 9), val_of(9, 3));
	u64map_release(&m);
}
END_TEST

/* Keys that collide in the low bits of the hash's input stress the probe
 * chains and the backward-shift deletion. */
START_TEST(test_u64map_clustered_deletions)
{
	struct u64map m;
	const uint64_t n = 4096;

	u64map_init(&m);
	for (uint64_t i = 1; i <= n; i++)
		ck_assert_int_eq(u64map_put(&m, i << 32, val_of(i, 1)), AF_OK);
	/* Delete every third, then check every key. */
	for (uint64_t i = 3; i <= n; i += 3)
		ck_assert_ptr_eq(u64map_del(&m, i << 32), val_of(i, 1));
	for (uint64_t i = 1; i <= n; i++) {
		if (i % 3 == 0)
			ck_assert_ptr_null(u64map_get(&m, i << 32));
		else
			ck_assert_ptr_eq(u64map_get(&m, i << 32), val_of(i, 1));
	}
	ck_assert_uint_eq(m.len, n - n / 3);
	/* Put them back and delete the others. */
	for (uint64_t i = 3; i <= n; i += 3)
		ck_assert_int_eq(u64map_put(&m, i << 32, val_of(i, 2)), AF_OK);
	for (uint64_t i = 1; i <= n; i++)
		if (i % 3)
			ck_assert_ptr_eq(u64map_del(&m, i << 32), val_of(i, 1));
	ck_assert_uint_eq(m.len, n / 3);
	for (uint64_t i = 1; i <= n; i++)
		ck_assert_ptr_eq(u64map_get(&m, i << 32),
		    i % 3 ? NULL : val_of(i, 2));
	u64map_release(&m);
}
END_TEST

static Suite *
u64map_suite(void)
{
	Suite *s = suite_create("u64map");
	TCase *tm = tcase_create("u64map");

	tcase_add_checked_fixture(tm, map_setup, map_teardown);
	tcase_set_timeout(tm, 120);
	tcase_add_test(tm, test_u64map_basics);
	tcase_add_test(tm, test_u64map_random_sequential_keys);
	tcase_add_test(tm, test_u64map_random_spread_keys);
	tcase_add_test(tm, test_u64map_clear_and_reuse);
	tcase_add_test(tm, test_u64map_clustered_deletions);
	tcase_add_test(tm, test_u64map_reset_gives_back_a_big_table);
	suite_add_tcase(s, tm);
	return s;
}

TEST_MAIN(u64map_suite)
