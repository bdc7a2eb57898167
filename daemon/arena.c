/*
 * arena.c: the region allocator (see arena.h).
 *
 * The fast path (arena_alloc in arena.h) is a compare and two adds. This
 * file holds what happens when the current chunk is full: a new regular
 * chunk, or a dedicated chunk for a large request. It does not poison or
 * zero memory, and keeps no per-allocation header.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct arena_chunk {
	struct arena_chunk *next;
	uint8_t *data; /* ARENA_ALIGN-aligned */
	size_t size;   /* usable bytes at data */
};

static struct arena_chunk *
chunk_new(size_t size)
{
	struct arena_chunk *c;
	uintptr_t u;

	if (size > SIZE_MAX - sizeof(*c) - (ARENA_ALIGN - 1))
		return NULL;
	if ((c = malloc(sizeof(*c) + (ARENA_ALIGN - 1) + size)) == NULL)
		return NULL;
	u = (uintptr_t)(c + 1);
	u = (u + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);
	c->data = (uint8_t *)u;
	c->size = size;
	c->next = NULL;
	return c;
}

static void
chunk_free_list(struct arena_chunk *c)
{
	struct arena_chunk *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
}

struct af_arena *
arena_new(size_t chunk_size)
{
	struct af_arena *a;

	if (chunk_size == 0)
		chunk_size = ARENA_CHUNK_DEFAULT;
	chunk_size = (chunk_size + (ARENA_ALIGN - 1)) &
	    ~(size_t)(ARENA_ALIGN - 1);
	if (chunk_size == 0)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->next_size = chunk_size;
	a->first_size = chunk_size;
	return a;
}

void
arena_free(struct af_arena *a)
{
	if (a == NULL)
		return;
	chunk_free_list(a->chunks);
	chunk_free_list(a->large);
	free(a);
}

void
arena_reset(struct af_arena *a)
{
	struct arena_chunk *keep;

	if (a == NULL)
		return;
	chunk_free_list(a->large);
	a->large = NULL;
	/* Regular chunks never shrink, so the current one is the largest. */
	a->held = 0;
	if ((keep = a->chunks) != NULL) {
		a->held = keep->size;
		chunk_free_list(keep->next);
		keep->next = NULL;
		a->cur = keep->data;
		a->left = keep->size;
	}
	a->used_done = 0;
}

size_t
arena_used(const struct af_arena *a)
{
	size_t n = a->used_done;

	if (a->chunks != NULL)
		n += (size_t)(a->cur - a->chunks->data);
	return n;
}

void
arena_set_limit(struct af_arena *a, size_t limit, bool (*over)(void *),
    void *ctx)
{
	a->limit = limit;
	a->over = over;
	a->over_ctx = ctx;
}

size_t
arena_held(const struct af_arena *a)
{
	return a->held;
}

/* Whether a chunk of size more bytes may be had. */
static bool
within_limit(struct af_arena *a, size_t size)
{
	if (a->limit == 0 ||
	    (a->held <= a->limit && size <= a->limit - a->held))
		return true;
	return a->over != NULL && a->over(a->over_ctx);
}

void *
arena_alloc_slow(struct af_arena *a, size_t n)
{
	struct arena_chunk *c;
	size_t r, cap;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - (ARENA_ALIGN - 1))
		return NULL;
	r = (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
	if (r <= a->left) {
		/* Only n == 0 gets here with room left. */
		p = a->cur;
		a->cur += r;
		a->left -= r;
		return p;
	}

	if (r > a->next_size / 4 && r > ARENA_SMALL_MAX) {
		/* Large: its own chunk, the current one stays current. */
		if (!within_limit(a, r) || (c = chunk_new(r)) == NULL)
			return NULL;
		a->held += r;
		c->next = a->large;
		a->large = c;
		a->used_done += r;
		return c->data;
	}

	if (!within_limit(a, r > a->next_size ? r : a->next_size) ||
	    (c = chunk_new(r > a->next_size ? r : a->next_size)) == NULL)
		return NULL;
	a->held += c->size;
	if (a->chunks != NULL)
		a->used_done += (size_t)(a->cur - a->chunks->data);
	c->next = a->chunks;
	a->chunks = c;
	p = c->data;
	a->cur = c->data + r;
	a->left = c->size - r;

	cap = a->first_size > ARENA_CHUNK_MAX ? a->first_size : ARENA_CHUNK_MAX;
	if (a->next_size <= cap / 2)
		a->next_size *= 2;
	else
		a->next_size = cap;
	return p;
}

void *
af_arena_alloc(struct af_arena *a, size_t n)
{
	if (a == NULL)
		return NULL;
	return arena_alloc(a, n);
}
