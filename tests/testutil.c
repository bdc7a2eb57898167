/*
 * testutil.c: shared test main and temporary directories (see testutil.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

int
testutil_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int nf;

	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

const char *
testutil_tmpdir(void)
{
	static char path[512];
	const char *t = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/aftest.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

void
testutil_rmtree(const char *dir)
{
	char cmd[600];

	if (dir == NULL || strncmp(dir, "/", 1) != 0 ||
	    strstr(dir, "aftest.") == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "testutil: could not remove %s\n", dir);
}
