/*
 * storeutil.h: small Check helpers for tests that use the store directly
 * (check_store.c, check_store_lmdb.c and others): open one in a directory,
 * put one key in its own transaction, read a copy of one value, count a
 * table. They assert, so they are for Check tests only; the fuzzer-safe
 * kit is harness.h.
 */
#ifndef AF_STOREUTIL_H
#define AF_STOREUTIL_H

#include <stddef.h>
#include <string.h>

#include "store.h"

/* Open the LMDB store in dir (asserting it opens). */
struct store *
storeutil_open(const char *dir, size_t map_size, enum store_durability d);
/* Put one key in its own committed write transaction (asserting). */
void storeutil_put_commit(struct store *s, enum store_db db, struct store_val k,
    struct store_val v);
/* Read one key in a read transaction: returns the code; on AF_OK copies
 * the value (NUL-terminated) into out, asserting it fits. */
int storeutil_get_copy(struct store *s, enum store_db db, struct store_val k,
    char *out, size_t outlen);

/* What db holds as committed: rows and pages (store_db_stat, asserted). */
struct store_db_stat storeutil_db_stat(struct store *s, enum store_db db);

static inline struct store_val
SV(const void *p, size_t n) {
	return (struct store_val){ p, n };
}

static inline struct store_val
STR(const char *s) {
	return (struct store_val){ s, strlen(s) };
}

#endif /* AF_STOREUTIL_H */
