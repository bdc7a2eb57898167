/*
 * check_metrics.c: the health answer of daemon/metrics.c (/healthz) on a
 * real store with injected faults (tests/faultstore.h): 200 only while a
 * write transaction can begin and the last commit did not fail; 503 with
 * the reason otherwise, and 200 again once a commit succeeds. The HTTP
 * side and the exposition format are tested end to end
 * (tests/e2e/metrics.sh).
 */
#include <string.h>

#include "engine.h"
#include "faultstore.h"
#include "harness.h"
#include "metrics.h"
#include "testutil.h"

static struct harness h;
static const char *dir;
static char why[512];

static void
setup(void)
{
	struct harness_opts o = { .durability = STORE_NONE,
		.map_size = 64u << 20 };

	dir = testutil_tmpdir();
	ck_assert_msg(harness_open(&h, dir, &o) == AF_OK, "harness_open: %s",
	    h.err);
}

static void
teardown(void)
{
	harness_close(&h);
	testutil_rmtree(dir);
}

static int
health(void)
{
	return metrics_health(h.eng, why, sizeof(why));
}

static void
start_echo(void)
{
	uint64_t act, outcome;

	ck_assert_int_eq(engine_start(h.eng, "echo", NULL, &act, &outcome),
	    AF_OK);
}

START_TEST(test_metrics_health_is_ok_while_the_store_takes_writes)
{
	unsigned n, w = faultstore_calls(&h.fault, STORE_CALL_BEGIN_WRITE);

	ck_assert_int_eq(health(), 200);
	ck_assert_str_eq(why, "ok");
	start_echo();
	ck_assert_int_eq(harness_pass(&h), AF_OK);
	n = faultstore_calls(&h.fault, STORE_CALL_COMMIT);
	ck_assert_int_eq(health(), 200);
	/* It wrote nothing: the write transaction was aborted. */
	ck_assert_uint_eq(faultstore_calls(&h.fault, STORE_CALL_COMMIT), n);
	ck_assert_uint_eq(faultstore_calls(&h.fault, STORE_CALL_BEGIN_WRITE),
	    w + 3);
}
END_TEST

START_TEST(test_metrics_health_is_503_when_no_write_can_begin)
{
	faultstore_fail_always(&h.fault, STORE_CALL_BEGIN_WRITE, AF_ESTORE);
	ck_assert_int_eq(health(), 503);
	ck_assert_msg(strstr(why, "store refuses a write transaction") != NULL,
	    "%s", why);
	faultstore_reset(&h.fault);
	ck_assert_int_eq(health(), 200);
}
END_TEST

START_TEST(test_metrics_health_is_503_after_a_failed_commit_until_one_succeeds)
{
	struct engine_stats st;

	start_echo();
	faultstore_fail_next(&h.fault, STORE_CALL_COMMIT, 1, AF_EFULL);
	ck_assert_int_ne(harness_pass(&h), AF_OK);
	ck_assert_int_eq(health(), 503);
	ck_assert_msg(strstr(why, "the last commit failed: store is full") !=
		NULL,
	    "%s", why);
	engine_stats(h.eng, &st);
	ck_assert_uint_eq(st.commit_failures, 1);
	/* Still 503 on asking again; a commit that succeeds ends it. */
	ck_assert_int_eq(health(), 503);
	start_echo();
	ck_assert_int_eq(harness_pass(&h), AF_OK);
	ck_assert_int_eq(health(), 200);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_metrics_health_is_ok_while_the_store_takes_writes);
	tcase_add_test(tc, test_metrics_health_is_503_when_no_write_can_begin);
	tcase_add_test(tc,
	    test_metrics_health_is_503_after_a_failed_commit_until_one_succeeds);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(metrics_suite)
