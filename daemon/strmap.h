/*
 * strmap.h: a hash map from byte strings to pointers (open addressing,
 * linear probing, backward-shift deletion), the string-keyed sibling of
 * u64map.h. The map owns only its slot array: the key bytes and the
 * values stay the caller's, and a key must stay valid, unchanged, for as
 * long as its entry is in the map. Not thread-safe.
 *
 * Not here: owning keys (the caller keeps them, e.g. in the value).
 */
#ifndef AF_STRMAP_H
#define AF_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key; /* NULL: empty slot */
	size_t len;
	uint64_t hash;
	void *val;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t len;
};

/* A zeroed struct strmap is an empty map, as strmap_init makes it. */
void strmap_init(struct strmap *m);
void strmap_release(struct strmap *m);
/* The value for the len bytes at key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key, size_t len);
/* Insert or replace (the new key pointer replaces the old one). AF_OK or
 * AF_ENOMEM (the map is unchanged then). val must not be NULL. */
int strmap_put(struct strmap *m, const char *key, size_t len, void *val);
/* Remove; returns the old value or NULL. */
void *strmap_del(struct strmap *m, const char *key, size_t len);

#endif /* AF_STRMAP_H */
