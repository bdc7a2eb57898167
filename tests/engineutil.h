/*
 * engineutil.h: Check helpers for tests that run an engine on a real LMDB
 * store (check_engine.c, check_continue.c, check_prune.c): open the store
 * and the engine on a registry the test filled, close all three, and a
 * clock the test moves by hand. They assert, so they are for Check tests
 * only. Not here: the flows and the registry (each test has its own), the
 * temporary directory (testutil.h).
 */
#ifndef AF_ENGINEUTIL_H
#define AF_ENGINEUTIL_H

#include "engine.h"
#include "registry.h"
#include "store.h"

/* Opens the LMDB store in dir with so, then an engine on it with reg and
 * eo (NULL: the defaults), asserting both open; *st and *eng are the
 * caller's until engineutil_close. reg stays the caller's. */
void engineutil_open(const char *dir, const struct store_opts *so,
    struct af_registry *reg, const struct engine_opts *eo, struct store **st,
    struct engine **eng);
/* Closes *eng and *st, frees *reg (each NULL is let be), and sets the
 * three to NULL. */
void engineutil_close(struct store **st, struct af_registry **reg,
    struct engine **eng);

/* A fixed clock for engine_opts.clock_ms: returns *(int64_t *)ctx, the
 * test's "now" in ms, which clock_ctx points at and the test moves. */
int64_t engineutil_clock(void *ctx);

#endif /* AF_ENGINEUTIL_H */
