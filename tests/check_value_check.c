/*
 * check_value_check.c: value_check (daemon/value_check.c), the bounded,
 * fault-guarded walk over values guest code hands over. Hand-built values
 * of every malformed kind are refused with a reason; valid ones pass. The
 * fault guard is exercised with a SIGSEGV handler that, like the daemon's
 * crash recorder, calls guard_fault first.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "asyncflow/flow.h"
#include "guard.h"
#include "testutil.h"
#include "value.h"

static struct af_value
scalar(int64_t i)
{
	struct af_value v;

	memset(&v, 0, sizeof(v));
	v.type = AF_INT;
	v.u.i = i;
	return v;
}

static struct af_value
list(const struct af_value **items, size_t n)
{
	struct af_value v;

	memset(&v, 0, sizeof(v));
	v.type = AF_LIST;
	v.u.list.items = items;
	v.u.list.len = n;
	return v;
}

START_TEST(test_value_check_valid)
{
	struct af_value one = scalar(1), two = scalar(2), l, outer;
	const struct af_value *items[2] = { &one, &two }, *o[2];
	char why[160];

	l = list(items, 2);
	o[0] = &l;
	o[1] = &l; /* shared, not a cycle */
	outer = list(o, 2);
	ck_assert_int_eq(value_check(&outer, why, sizeof(why)), AF_OK);
	ck_assert_int_eq(value_check(&one, why, sizeof(why)), AF_OK);
}
END_TEST

START_TEST(test_value_check_contains_itself)
{
	struct af_value l, m;
	const struct af_value *items[1], *mi[1];
	char why[160];

	l = list(items, 1);
	items[0] = &l;
	ck_assert_int_eq(value_check(&l, why, sizeof(why)), AF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "contains itself"));
	/* Through another list. */
	m = list(mi, 1);
	mi[0] = &l;
	items[0] = &m;
	ck_assert_int_eq(value_check(&m, why, sizeof(why)), AF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "contains itself"));
}
END_TEST

START_TEST(test_value_check_too_deep_and_null)
{
	struct af_value chain[AF_VALUE_MAX_DEPTH + 5], one = scalar(1), bad;
	const struct af_value *items[AF_VALUE_MAX_DEPTH + 5];
	char why[160];
	int i, n = AF_VALUE_MAX_DEPTH + 5;

	for (i = 0; i < n; i++) {
		items[i] = i + 1 < n ? &chain[i + 1] : &one;
		chain[i] = list(&items[i], 1);
	}
	ck_assert_int_eq(value_check(&chain[0], why, sizeof(why)), AF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "deeper"));
	items[0] = NULL;
	ck_assert_int_eq(value_check(&chain[0], why, sizeof(why)), AF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "NULL"));
	chain[0] = list(NULL, 3);
	ck_assert_int_eq(value_check(&chain[0], why, sizeof(why)), AF_EINVAL);
	bad = scalar(0);
	bad.type = (enum af_type)99;
	ck_assert_int_eq(value_check(&bad, why, sizeof(why)), AF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "unknown type"));
	/* A length no value of the size limit can have. */
	chain[0] = list(items, (size_t)1 << 40);
	ck_assert_int_eq(value_check(&chain[0], why, sizeof(why)), AF_EINVAL);
}
END_TEST

static void
on_segv(int sig)
{
	guard_fault(sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

START_TEST(test_value_check_length_lies)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct af_value one = scalar(1), l, s;
	const struct af_value **items;
	char *m, why[160];
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
	m = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	/* One item at the end of the readable page; the length says 1000. */
	items = (const struct af_value **)(m + pg) - 1;
	items[0] = &one;
	l = list(items, 1000);
	ck_assert_int_eq(value_check(&l, why, sizeof(why)), AF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "cannot be read"));
	/* A string whose length runs into the guard page. */
	memset(&s, 0, sizeof(s));
	s.type = AF_STRING;
	s.u.s.ptr = m + pg - 10;
	s.u.s.len = 5000;
	ck_assert_int_eq(value_check(&s, why, sizeof(why)), AF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "cannot be read"));
	/* The guard is disarmed and re-armable: a valid value passes. */
	ck_assert_int_eq(value_check(&one, why, sizeof(why)), AF_OK);
	munmap(m, 2 * (size_t)pg);
}
END_TEST

static Suite *
value_check_suite(void)
{
	Suite *s = suite_create("value_check");
	TCase *tc = tcase_create("value_check");

	tcase_add_test(tc, test_value_check_valid);
	tcase_add_test(tc, test_value_check_contains_itself);
	tcase_add_test(tc, test_value_check_too_deep_and_null);
	tcase_add_test(tc, test_value_check_length_lies);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(value_check_suite)
