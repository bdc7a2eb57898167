/*
 * u64map.c: see u64map.h.
 */
#include <stdlib.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "u64map.h"

static inline size_t
slot_of(uint64_t k, size_t cap)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k & (cap - 1);
}

void
u64map_init(struct u64map *m)
{
	memset(m, 0, sizeof(*m));
}

void
u64map_release(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

void
u64map_reset(struct u64map *m)
{
	if (m->cap > U64MAP_KEEP && m->len < m->cap / 4) {
		u64map_release(m);
		return;
	}
	if (m->cap) {
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
		m->len = 0;
	}
}

void *
u64map_get(const struct u64map *m, uint64_t key)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = slot_of(key, m->cap); m->keys[i] != 0;
	     i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			return m->vals[i];
	return NULL;
}

static int
grow(struct u64map *m)
{
	struct u64map n;
	size_t i;

	n.cap = m->cap ? m->cap * 2 : 16;
	n.len = 0;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = malloc(n.cap * sizeof(*n.vals));
	if (n.keys == NULL || n.vals == NULL) {
		free(n.keys);
		free(n.vals);
		return AF_ENOMEM;
	}
	for (i = 0; i < m->cap; i++)
		if (m->keys[i] != 0)
			u64map_put(&n, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	*m = n;
	return AF_OK;
}

int
u64map_put(struct u64map *m, uint64_t key, void *val)
{
	size_t i;

	if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != AF_OK)
		return AF_ENOMEM;
	for (i = slot_of(key, m->cap); m->keys[i] != 0;
	     i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			m->vals[i] = val;
			return AF_OK;
		}
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->len++;
	return AF_OK;
}

void *
u64map_del(struct u64map *m, uint64_t key)
{
	size_t i, j, home;
	void *old;

	if (m->cap == 0)
		return NULL;
	for (i = slot_of(key, m->cap); m->keys[i] != key;
	     i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == 0)
			return NULL;
	old = m->vals[i];
	/* Backward shift: pull later members of the cluster into the hole. */
	for (j = (i + 1) & (m->cap - 1); m->keys[j] != 0;
	     j = (j + 1) & (m->cap - 1)) {
		home = slot_of(m->keys[j], m->cap);
		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			i = j;
		}
	}
	m->keys[i] = 0;
	m->len--;
	return old;
}

int
u64map_next(const struct u64map *m, size_t *i, uint64_t *key, void **val)
{
	while (*i < m->cap) {
		size_t k = (*i)++;
		if (m->keys[k] != 0) {
			*key = m->keys[k];
			*val = m->vals[k];
			return 1;
		}
	}
	return 0;
}
