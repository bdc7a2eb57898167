/*
 * testutil.h: what every Check test binary shares: a main() that runs one
 * suite, and a per-test temporary directory. Not a test framework of its own.
 * The other shared test files: harness.h (the daemon in a box), faultstore.h
 * (fault injection through the store wrappers), storeutil.h (store helpers).
 */
#ifndef AF_TESTUTIL_H
#define AF_TESTUTIL_H

#include <check.h>

/* Runs `fn()`'s suite with CK_ENV verbosity; exits non-zero on failure. */
int testutil_run(Suite *s);
#define TEST_MAIN(suite_fn) \
	int main(void) \
	{ \
		return testutil_run(suite_fn()); \
	}

/* A fresh empty directory under $TMPDIR; removed by testutil_rmtree.
 * The returned string is static storage, overwritten by the next call. */
const char *testutil_tmpdir(void);
void testutil_rmtree(const char *dir);

#endif /* AF_TESTUTIL_H */
