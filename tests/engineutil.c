/*
 * engineutil.c: opening and closing a test's engine on a real LMDB store
 * (see engineutil.h).
 */
#include "engineutil.h"
#include "testutil.h"

void
engineutil_open(const char *dir, const struct store_opts *so,
    struct af_registry *reg, const struct engine_opts *eo, struct store **st,
    struct engine **eng)
{
	char err[256];

	ck_assert_int_eq(store_open_lmdb(dir, so, st, err, sizeof(err)), AF_OK);
	ck_assert_msg(engine_open(*st, reg, eo, eng, err, sizeof(err)) == AF_OK,
	    "engine_open: %s", err);
}

void
engineutil_close(struct store **st, struct af_registry **reg,
    struct engine **eng)
{
	engine_close(*eng);
	store_close(*st);
	registry_free(*reg);
	*eng = NULL;
	*st = NULL;
	*reg = NULL;
}

int64_t
engineutil_clock(void *ctx)
{
	return *(const int64_t *)ctx;
}
