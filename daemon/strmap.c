/*
 * strmap.c: the string-keyed hash map (see strmap.h). FNV-1a hashes; the
 * table doubles at 3/4 full and never shrinks (a released map frees it).
 *
 * Not here: the integer-keyed map (u64map.c).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow/errors.h"
#include "strmap.h"

static uint64_t
hash_of(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool
same(const struct strmap_slot *s, const char *key, size_t len, uint64_t h)
{
	return s->hash == h && s->len == len && memcmp(s->key, key, len) == 0;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t
find(const struct strmap *m, const char *key, size_t len, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);

	while (m->slots[i].key != NULL && !same(&m->slots[i], key, len, h))
		i = (i + 1) & (m->cap - 1);
	return i;
}

void
strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void
strmap_release(struct strmap *m)
{
	free(m->slots);
	strmap_init(m);
}

void *
strmap_get(const struct strmap *m, const char *key, size_t len)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	i = find(m, key, len, hash_of(key, len));
	return m->slots[i].key != NULL ? m->slots[i].val : NULL;
}

static int
grow(struct strmap *m)
{
	struct strmap_slot *old = m->slots, *s;
	size_t oldcap = m->cap, cap = oldcap ? 2 * oldcap : 16, i;

	if ((s = calloc(cap, sizeof(*s))) == NULL)
		return AF_ENOMEM;
	m->slots = s;
	m->cap = cap;
	for (i = 0; i < oldcap; i++)
		if (old[i].key != NULL)
			m->slots[find(m, old[i].key, old[i].len, old[i].hash)] =
			    old[i];
	free(old);
	return AF_OK;
}

int
strmap_put(struct strmap *m, const char *key, size_t len, void *val)
{
	uint64_t h = hash_of(key, len);
	size_t i;

	/* Replacing never grows, so it cannot fail. */
	if (m->cap == 0 || m->slots[i = find(m, key, len, h)].key == NULL) {
		if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != AF_OK)
			return AF_ENOMEM;
		i = find(m, key, len, h);
		m->len++;
	}
	m->slots[i].key = key;
	m->slots[i].len = len;
	m->slots[i].hash = h;
	m->slots[i].val = val;
	return AF_OK;
}

void *
strmap_del(struct strmap *m, const char *key, size_t len)
{
	size_t i, j, home;
	void *val;

	if (m->cap == 0)
		return NULL;
	i = find(m, key, len, hash_of(key, len));
	if (m->slots[i].key == NULL)
		return NULL;
	val = m->slots[i].val;
	/* Backward shift: pull later entries of the cluster into the hole
	 * when the hole lies between their home slot and where they are. */
	for (j = (i + 1) & (m->cap - 1); m->slots[j].key != NULL;
	     j = (j + 1) & (m->cap - 1)) {
		home = (size_t)m->slots[j].hash & (m->cap - 1);
		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	memset(&m->slots[i], 0, sizeof(m->slots[i]));
	m->len--;
	return val;
}
