/*
 * check_strmap.c: the string-to-pointer hash map the served-object names
 * are indexed with (daemon/strmap.c). Driven through interleaved puts,
 * replaces and deletions and compared after every step with a plain array
 * indexed by the number each key spells.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow/errors.h"
#include "strmap.h"
#include "testutil.h"

#define UNIVERSE 5000

static char keys[UNIVERSE][16];
static char vals[UNIVERSE + 1];
static int ref[UNIVERSE]; /* 0: absent, else the value's index */

static uint64_t rng_state = 88172645463325252ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void
check_all(const struct strmap *m)
{
	size_t n = 0;
	int i;

	for (i = 0; i < UNIVERSE; i++) {
		void *v = strmap_get(m, keys[i], strlen(keys[i]));

		if (ref[i] == 0)
			ck_assert_ptr_null(v);
		else {
			ck_assert_ptr_eq(v, &vals[ref[i]]);
			n++;
		}
	}
	ck_assert_uint_eq(m->len, n);
}

START_TEST(test_strmap_matches_a_reference_through_puts_and_deletes)
{
	struct strmap m;
	int i, k, step;

	strmap_init(&m);
	for (i = 0; i < UNIVERSE; i++)
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
	ck_assert_ptr_null(strmap_get(&m, "k1", 2));
	ck_assert_ptr_null(strmap_del(&m, "k1", 2));
	for (step = 0; step < 40000; step++) {
		k = (int)(rng() % UNIVERSE);
		if (rng() % 3 == 0) {
			ck_assert_ptr_eq(strmap_del(&m, keys[k],
					     strlen(keys[k])),
			    ref[k] ? &vals[ref[k]] : NULL);
			ref[k] = 0;
		} else {
			ref[k] = 1 + (int)(rng() % UNIVERSE);
			ck_assert_int_eq(strmap_put(&m, keys[k],
					     strlen(keys[k]), &vals[ref[k]]),
			    AF_OK);
		}
		if (step % 4000 == 0)
			check_all(&m);
	}
	check_all(&m);
	/* A key is its bytes, not a prefix: "k1" is not "k12". */
	ck_assert_int_eq(strmap_put(&m, "k12", 2, &vals[0]), AF_OK);
	ck_assert_ptr_eq(strmap_get(&m, "k1", 2), &vals[0]);
	for (i = 0; i < UNIVERSE; i++)
		strmap_del(&m, keys[i], strlen(keys[i]));
	ck_assert_uint_eq(m.len, 0);
	strmap_release(&m);
}
END_TEST

static Suite *
strmap_suite(void)
{
	Suite *s = suite_create("strmap");
	TCase *tc = tcase_create("strmap");

	tcase_add_test(tc,
	    test_strmap_matches_a_reference_through_puts_and_deletes);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(strmap_suite)
