/*
 * vec.h: growing a malloc'd array by doubling, for the many small arrays
 * with an n/cap pair (the idea of git's ALLOC_GROW, as a function). Not a
 * container: the caller keeps the pointer, the count and the capacity.
 */
#ifndef AF_VEC_H
#define AF_VEC_H

#include <stddef.h>
#include <stdlib.h>

#include "asyncflow/errors.h"

/* Make room for `need` elements of `elem` bytes in *p (capacity *cap):
 * AF_OK, or AF_ENOMEM with *p and *cap unchanged. */
static inline int
vec_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return AF_OK;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, ncap * elem)) == NULL)
		return AF_ENOMEM;
	*p = np;
	*cap = ncap;
	return AF_OK;
}

#endif /* AF_VEC_H */
