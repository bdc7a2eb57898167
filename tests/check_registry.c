/*
 * check_registry.c: flow and host-object names (daemon/registry.c) and the
 * id-to-pointer hash map the engine indexes with (daemon/u64map.c).
 *
 * Registry lookups take explicit lengths (names come from journal entries
 * and the wire, not NUL-terminated), so a prefix, an extension or a name
 * with a NUL inside must not match. The map is driven through many
 * interleaved puts, replaces and deletions and compared after every step
 * with a plain array indexed by key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "registry.h"
#include "testutil.h"
#include "u64map.h"

/* ---- Registry -------------------------------------------------------------- */

static int
flow_a(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	*result = args;
	return AF_OK;
}

static int
flow_b(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	(void)args;
	*result = NULL;
	return AF_REJECTED;
}

static int
m_one(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	*result = args;
	return AF_OK;
}

static int
m_two(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	(void)args;
	*result = NULL;
	return AF_REJECTED;
}

static struct af_registry *reg;

static void
reg_setup(void)
{
	reg = registry_new();
	ck_assert_ptr_nonnull(reg);
}

static void
reg_teardown(void)
{
	registry_free(reg);
	reg = NULL;
}

START_TEST(test_registry_flows_by_exact_name)
{
	/* Not NUL-terminated: lookups must use the lengths given. */
	static const char buf[] = { 'e', 'c', 'h', 'o', 'e', 's', 'X' };
	const struct flow_def *f;

	ck_assert_ptr_null(registry_flow(reg, "echo", 4));
	ck_assert_int_eq(af_register_flow(reg, "echo", flow_a), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "echoes", flow_b), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "e", flow_b), AF_OK);

	ck_assert_ptr_nonnull(f = registry_flow(reg, "echo", 4));
	ck_assert_str_eq(f->name, "echo");
	ck_assert(f->fn == flow_a);
	ck_assert_ptr_nonnull(f = registry_flow(reg, buf, 4));
	ck_assert(f->fn == flow_a);
	ck_assert_ptr_nonnull(f = registry_flow(reg, buf, 6));
	ck_assert_str_eq(f->name, "echoes");
	ck_assert(f->fn == flow_b);
	ck_assert_ptr_nonnull(f = registry_flow(reg, buf, 1));
	ck_assert_str_eq(f->name, "e");
	/* A prefix or an extension of a registered name is another name. */
	ck_assert_ptr_null(registry_flow(reg, buf, 2));
	ck_assert_ptr_null(registry_flow(reg, buf, 3));
	ck_assert_ptr_null(registry_flow(reg, buf, 5));
	ck_assert_ptr_null(registry_flow(reg, buf, 7));
	ck_assert_ptr_null(registry_flow(reg, "echo", 3));
	ck_assert_ptr_null(registry_flow(reg, "", 0));
	ck_assert_ptr_null(registry_flow(reg, "ECHO", 4));
	/* Flows and objects are looked up separately. */
	ck_assert_ptr_null(registry_object(reg, "echo", 4));
}
END_TEST

/* A name with a NUL inside is not a registered name, whatever follows the
 * NUL (registry.h: "Names are compared in full (n bytes)"), and the lookup
 * never reads the registered name past its end. */
START_TEST(test_registry_name_with_nul_does_not_match)
{
	static char name[16] = "echo";      /* zeros after the name */
	struct af_method m[] = { { "run", m_one } };
	static char oname[16] = "calc";
	const struct obj_def *o;

	ck_assert_int_eq(af_register_flow(reg, name, flow_a), AF_OK);
	ck_assert_int_eq(af_register_object(reg, oname, m, 1, NULL), AF_OK);
	ck_assert_ptr_null(registry_flow(reg, "echo\0", 5));
	ck_assert_ptr_null(registry_flow(reg, "echo\0\0", 6));
	ck_assert_ptr_null(registry_object(reg, "calc\0", 5));
	ck_assert_ptr_nonnull(o = registry_object(reg, "calc", 4));
	ck_assert_ptr_null(registry_method(o, "run\0", 4));
}
END_TEST

START_TEST(test_registry_duplicates_and_invalid)
{
	char long_name[300];
	struct af_method ok_m[] = { { "m", m_one } };
	struct af_method null_fn[] = { { "m", m_one }, { "n", NULL } };
	struct af_method empty_name[] = { { "", m_one } };
	struct af_method null_name[] = { { NULL, m_one } };

	ck_assert_int_eq(af_register_flow(reg, "f", flow_a), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "f", flow_b), AF_EEXIST);
	ck_assert(registry_flow(reg, "f", 1)->fn == flow_a);
	ck_assert_int_eq(af_register_flow(reg, NULL, flow_a), AF_EINVAL);
	ck_assert_int_eq(af_register_flow(reg, "", flow_a), AF_EINVAL);
	ck_assert_int_eq(af_register_flow(reg, "g", NULL), AF_EINVAL);
	ck_assert_int_eq(af_register_flow(NULL, "g", flow_a), AF_EINVAL);
	ck_assert_ptr_null(registry_flow(reg, "g", 1));
	/* 255 bytes is the longest name. */
	memset(long_name, 'n', sizeof(long_name));
	long_name[256] = '\0';
	ck_assert_int_eq(af_register_flow(reg, long_name, flow_a), AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, long_name, ok_m, 1, NULL),
	    AF_EINVAL);
	long_name[255] = '\0';
	ck_assert_int_eq(af_register_flow(reg, long_name, flow_a), AF_OK);
	ck_assert_ptr_nonnull(registry_flow(reg, long_name, 255));

	ck_assert_int_eq(af_register_object(reg, "o", ok_m, 1, NULL), AF_OK);
	ck_assert_int_eq(af_register_object(reg, "o", ok_m, 1, NULL),
	    AF_EEXIST);
	ck_assert_int_eq(af_register_object(NULL, "p", ok_m, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, NULL, ok_m, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "", ok_m, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "p", NULL, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "p", null_fn, 2, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "p", empty_name, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "p", null_name, 1, NULL),
	    AF_EINVAL);
	/* A refused registration leaves nothing behind. */
	ck_assert_ptr_null(registry_object(reg, "p", 1));
	/* An object without methods is allowed (NULL table, n = 0). */
	ck_assert_int_eq(af_register_object(reg, "p", NULL, 0, NULL), AF_OK);
	ck_assert_ptr_nonnull(registry_object(reg, "p", 1));
	ck_assert_uint_eq(registry_object(reg, "p", 1)->nmethods, 0);
	ck_assert_ptr_null(registry_method(registry_object(reg, "p", 1), "m",
	    1));
}
END_TEST

START_TEST(test_registry_objects_and_methods)
{
	struct af_method ms[] = { { "double", m_one }, { "doubled", m_two },
	    { "fail", m_two } };
	int data = 7;
	const struct obj_def *o;
	const struct af_method *m;

	ck_assert_int_eq(af_register_object(reg, "calc", ms, 3, &data), AF_OK);
	ck_assert_int_eq(af_register_object(reg, "calculator", ms, 1, NULL),
	    AF_OK);
	/* The registry keeps its own copy of the table. */
	ms[0].fn = m_two;
	ms[0].name = "changed";

	ck_assert_ptr_nonnull(o = registry_object(reg, "calc", 4));
	ck_assert_str_eq(o->name, "calc");
	ck_assert_uint_eq(o->nmethods, 3);
	ck_assert_ptr_eq(o->data, &data);
	ck_assert_ptr_nonnull(m = registry_method(o, "double", 6));
	ck_assert_str_eq(m->name, "double");
	ck_assert(m->fn == m_one);
	ck_assert_ptr_nonnull(m = registry_method(o, "doubled", 7));
	ck_assert(m->fn == m_two);
	ck_assert_ptr_nonnull(m = registry_method(o, "doubled", 6));
	ck_assert_str_eq(m->name, "double");
	ck_assert_ptr_null(registry_method(o, "doub", 4));
	ck_assert_ptr_null(registry_method(o, "doubledd", 8));
	ck_assert_ptr_null(registry_method(o, "changed", 7));
	ck_assert_ptr_null(registry_method(o, "", 0));
	ck_assert_ptr_nonnull(registry_method(o, "fail", 4));

	ck_assert_ptr_nonnull(o = registry_object(reg, "calculator", 10));
	ck_assert_uint_eq(o->nmethods, 1);
	ck_assert_ptr_null(o->data);
	ck_assert_ptr_null(registry_method(o, "fail", 4));
	ck_assert_ptr_eq(registry_object(reg, "calculator", 4),
	    registry_object(reg, "calc", 4));
	ck_assert_ptr_null(registry_object(reg, "calcu", 5));
	/* Objects and flows are separate namespaces. */
	ck_assert_ptr_null(registry_flow(reg, "calc", 4));
}
END_TEST

START_TEST(test_registry_many_names)
{
	static char names[200][16];
	const struct flow_def *f;
	const struct obj_def *o;
	struct af_method ms[] = { { "m", m_one } };

	for (int i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		ck_assert_int_eq(af_register_flow(reg, names[i],
		    i % 2 ? flow_a : flow_b), AF_OK);
		ck_assert_int_eq(af_register_object(reg, names[i], ms, 1,
		    names[i]), AF_OK);
	}
	/* Found after every growth, lookups in any order. */
	for (int i = 199; i >= 0; i--) {
		ck_assert_ptr_nonnull(f = registry_flow(reg, names[i],
		    strlen(names[i])));
		ck_assert_ptr_eq(f->name, names[i]);
		ck_assert(f->fn == (i % 2 ? flow_a : flow_b));
		ck_assert_ptr_nonnull(o = registry_object(reg, names[i],
		    strlen(names[i])));
		ck_assert_ptr_eq(o->data, names[i]);
		ck_assert_int_eq(af_register_flow(reg, names[i], flow_a),
		    AF_EEXIST);
	}
	ck_assert_ptr_null(registry_flow(reg, "n200", 4));
	/* "n1" is a prefix of "n10".."n199": still itself. */
	ck_assert_ptr_eq(registry_flow(reg, "n1", 2)->name, names[1]);
	ck_assert_ptr_eq(registry_flow(reg, "n19", 3)->name, names[19]);
}
END_TEST

START_TEST(test_registry_free_null)
{
	registry_free(NULL);
}
END_TEST

/* ---- u64map ----------------------------------------------------------------- */

#define UNIVERSE 200000u

static char slots[UNIVERSE + 1];    /* values are &slots[i] */
static uint8_t *ref;                /* ref[i]: 0 absent, else 1 + version */
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
	for (int i = 0; i < 6; i++)     /* Newton: doubles the bits each time */
		inv *= 2 - mul * inv;
	return k * inv;
}

/* Check's ck_assert_* report every passing assertion to the parent
 * process; in loops of a million steps that is the whole run time, so the
 * hot loops only call into Check on failure. */
#define REQUIRE(cond, ...) do { \
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
				    AF_OK, "put failed");
				if (!ref[i])
					len++;
				ref[i] = (uint8_t)(ver + 1);
			} else if (op < 8) {
				got = u64map_get(&m, k);
				REQUIRE(got == (ref[i] ? val_of(i, ref[i] - 1) :
				    NULL), "step %llu: get(%llu) wrong",
				    (unsigned long long)step,
				    (unsigned long long)k);
			} else {
				got = u64map_del(&m, k);
				REQUIRE(got == (ref[i] ? val_of(i, ref[i] - 1) :
				    NULL), "step %llu: del(%llu) wrong",
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
			    val_of(i, ref[i] - 1), "del(%llu) wrong",
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
	u64map_clear(&m);
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
	u64map_clear(&m);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_uint_eq(m.cap, cap);      /* memory kept */
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
registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tr = tcase_create("registry");
	TCase *tm = tcase_create("u64map");

	tcase_add_checked_fixture(tr, reg_setup, reg_teardown);
	tcase_add_test(tr, test_registry_flows_by_exact_name);
	tcase_add_test(tr, test_registry_name_with_nul_does_not_match);
	tcase_add_test(tr, test_registry_duplicates_and_invalid);
	tcase_add_test(tr, test_registry_objects_and_methods);
	tcase_add_test(tr, test_registry_many_names);
	tcase_add_test(tr, test_registry_free_null);
	suite_add_tcase(s, tr);

	tcase_add_checked_fixture(tm, map_setup, map_teardown);
	tcase_set_timeout(tm, 120);
	tcase_add_test(tm, test_u64map_basics);
	tcase_add_test(tm, test_u64map_random_sequential_keys);
	tcase_add_test(tm, test_u64map_random_spread_keys);
	tcase_add_test(tm, test_u64map_clear_and_reuse);
	tcase_add_test(tm, test_u64map_clustered_deletions);
	suite_add_tcase(s, tm);
	return s;
}

TEST_MAIN(registry_suite)
