/*
 * testutil.h: what every Check test binary shares: a main() that runs one
 * suite, and a per-test temporary directory. Not a test framework of its own.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <check.h>

/* Runs `fn()`'s suite with CK_ENV verbosity; exits non-zero on failure. */
int testutil_run(Suite *s);
#define TEST_MAIN(suite_fn) \
	int main(void) { return testutil_run(suite_fn()); }

/* A fresh empty directory under $TMPDIR; removed by testutil_rmtree.
 * The returned string is static storage, overwritten by the next call. */
const char *testutil_tmpdir(void);
void testutil_rmtree(const char *dir);

#endif
