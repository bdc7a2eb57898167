/*
 * check_arena.c: the per-request and per-pass bump allocator
 * (daemon/arena.c): alignment, growth with large requests, reset and the
 * overflow refusals.
 */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "testutil.h"

START_TEST(test_arena_growth_with_large_allocations)
{
	struct af_arena *a = arena_new(64);
	uint8_t *p[200];
	size_t sz[200], i, j, total = 0;

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(arena_used(a), 0);
	for (i = 0; i < 200; i++) {
		/* small, medium and (every 17th) large requests */
		sz[i] = i % 17 == 0 ? 100000 + i : i % 5 == 0 ? 300 : i % 23;
		p[i] = af_arena_alloc(a, sz[i]);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_uint_eq((uintptr_t)p[i] % 16, 0);
		memset(p[i], (int)i, sz[i]);
		total += (sz[i] + 15) / 16 * 16 + (sz[i] == 0 ? 16 : 0);
	}
	ck_assert_uint_eq(arena_used(a), total);
	/* nothing overlapped */
	for (i = 0; i < 200; i++) {
		for (j = 0; j < sz[i] && p[i][j] == (uint8_t)i; j++)
			;
		ck_assert_msg(j == sz[i], "allocation %zu overwritten", i);
	}
	/* a zero-byte request is a distinct valid pointer */
	ck_assert_ptr_ne(af_arena_alloc(a, 0), af_arena_alloc(a, 0));
	ck_assert_ptr_null(af_arena_alloc(a, SIZE_MAX));
	ck_assert_ptr_null(af_arena_alloc(a, SIZE_MAX - 8));
	ck_assert_ptr_null(af_arena_alloc(NULL, 1));

	arena_reset(a);
	ck_assert_uint_eq(arena_used(a), 0);
	for (i = 0; i < 1000; i++) {
		p[0] = arena_alloc(a, 24);
		ck_assert_ptr_nonnull(p[0]);
		memset(p[0], 1, 24);
	}
	ck_assert_uint_eq(arena_used(a), 1000 * 32);
	arena_free(a);
	arena_free(NULL);
	arena_reset(NULL);
}
END_TEST

static Suite *
arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("arena");

	tcase_add_test(tc, test_arena_growth_with_large_allocations);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(arena_suite)
