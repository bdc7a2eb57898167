/*
 * u64map.h: a hash map from nonzero 64-bit ids to pointers (open
 * addressing, linear probing, backward-shift deletion). Used for the
 * engine's in-memory indexes. Key 0 is reserved. Not thread-safe; the map
 * owns only its slot array, never the pointers stored in it.
 */
#ifndef AF_U64MAP_H
#define AF_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys;
	void **vals;
	size_t cap; /* power of two, or 0 */
	size_t len;
};

void u64map_init(struct u64map *m);
void u64map_release(struct u64map *m);
/* The value for key, or NULL. */
void *u64map_get(const struct u64map *m, uint64_t key);
/* Insert or replace. AF_OK or AF_ENOMEM. */
int u64map_put(struct u64map *m, uint64_t key, void *val);
/* Remove; returns the old value or NULL. */
void *u64map_del(struct u64map *m, uint64_t key);
/* Empty the map. Its table is kept for reuse unless it is more than four
 * times what the map held (and over U64MAP_KEEP slots): a map that was big
 * once must not make every later reset and walk cost its old size. */
#define U64MAP_KEEP 64
void u64map_reset(struct u64map *m);

/* Iterate: for (size_t i = 0; u64map_next(m, &i, &k, &v); ) — the map must
 * not change during the iteration. */
int u64map_next(const struct u64map *m, size_t *i, uint64_t *key, void **val);

#endif
