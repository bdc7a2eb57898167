/*
 * arena.h: region allocator for values and other short-lived engine data.
 *
 * An arena hands out memory with a bump pointer from a list of chunks and
 * frees it all at once (arena_reset, arena_free). There is no per-object
 * free. It is not thread-safe: one arena belongs to one activation, one host
 * call or one request, all on the loop thread. It is not a general malloc
 * replacement: memory is only reclaimed when the whole arena is.
 *
 * Layout: regular chunks grow geometrically (doubling from the size given
 * to arena_new up to ARENA_CHUNK_MAX, or the given size if larger); a
 * request larger than a quarter of the next regular chunk (and than
 * ARENA_SMALL_MAX) gets a chunk of its own, so that it neither wastes the
 * current chunk's tail nor makes the regular chunks grow.
 *
 * Ownership: the caller owns the arena from arena_new and frees it with
 * arena_free, which invalidates every pointer handed out. arena_reset does
 * the same but keeps the largest regular chunk for reuse.
 *
 * Errors: allocation returns NULL on ENOMEM or size overflow; the arena
 * stays usable. Memory handed out is not zeroed.
 *
 * struct af_arena is opaque to flow code (include/asyncflow/flow.h). Its
 * fields are shown here only so that arena_alloc can be inlined on the
 * engine's hot paths; nothing outside arena.c may touch them.
 */
#ifndef AF_ARENA_H
#define AF_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "asyncflow/flow.h"

/* Every pointer handed out is aligned to this. */
#define ARENA_ALIGN         16
/* Default first chunk size (arena_new(0)) and the cap on regular growth. */
#define ARENA_CHUNK_DEFAULT 4096
#define ARENA_CHUNK_MAX     (1u << 20)
/* Requests up to this size always come from regular chunks. */
#define ARENA_SMALL_MAX     1024

struct arena_chunk;

struct af_arena {
	uint8_t *cur;               /* next free byte (aligned) */
	size_t left;                /* bytes free at cur */
	struct arena_chunk *chunks; /* regular, current first */
	struct arena_chunk *large;  /* dedicated chunks */
	size_t next_size;           /* of the next regular chunk */
	size_t first_size;          /* as given to arena_new */
	size_t used_done;           /* bytes handed out outside the
						 * current chunk */
	size_t held;                /* bytes of every chunk */
	size_t limit;               /* of held; 0: none (arena_set_limit) */
	bool (*over)(void *ctx);
	void *over_ctx;
};

/* A new empty arena whose first chunk will hold chunk_size bytes (0: the
 * default). No chunk is allocated until the first allocation. NULL on
 * ENOMEM. */
struct af_arena *arena_new(size_t chunk_size);
/* Frees the arena and everything allocated in it. NULL is a no-op. */
void arena_free(struct af_arena *a);
/* Frees everything allocated in the arena; keeps one chunk for reuse.
 * NULL is a no-op. */
void arena_reset(struct af_arena *a);
/* Bytes handed out since creation or the last reset, counting alignment
 * padding, not counting chunk headers or unused chunk tails. */
size_t arena_used(const struct af_arena *a);

/*
 * Bound the bytes of the arena's chunks to limit (0: no bound). A chunk
 * that would go over it calls over(ctx) first: true lets the allocation
 * proceed all the same (the caller deals with it afterwards), false makes
 * it fail (NULL); over may also not return (a coroutine abandoned).
 */
void arena_set_limit(struct af_arena *a, size_t limit, bool (*over)(void *),
    void *ctx);
/* Bytes of the arena's chunks (what it costs, headers aside). */
size_t arena_held(const struct af_arena *a);

/* The slow path of arena_alloc: new chunk or dedicated chunk. */
void *arena_alloc_slow(struct af_arena *a, size_t n);

/*
 * n bytes aligned to ARENA_ALIGN, or NULL on ENOMEM or overflow. n == 0
 * returns a valid, unique pointer to ARENA_ALIGN bytes. This is the inline
 * version of af_arena_alloc (flow.h) for the engine's own use.
 */
static inline void *
arena_alloc(struct af_arena *a, size_t n)
{
	size_t r = (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
	void *p;

	/* r == 0 (n == 0 or n near SIZE_MAX) wraps and takes the slow path. */
	if (r - 1 < a->left) {
		p = a->cur;
		a->cur += r;
		a->left -= r;
		return p;
	}
	return arena_alloc_slow(a, n);
}

/* Copy n bytes into the arena and NUL-terminate them. NULL on ENOMEM. */
static inline char *
arena_strndup(struct af_arena *a, const void *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX || (p = arena_alloc(a, n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

#endif /* AF_ARENA_H */
