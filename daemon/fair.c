/*
 * fair.c: the round-robin of connections with frames waiting (see
 * fair.h). Not here: reading frames (server.c).
 */
#include <stdlib.h>
#include <string.h>

#include "asyncflow/errors.h"
#include "fair.h"

int
fairq_defer(struct fairq *q, uint64_t conn)
{
	uint64_t *tmp;
	size_t cap;

	if (q->n == q->cap) {
		cap = q->cap ? 2 * q->cap : 16;
		if ((tmp = realloc(q->conns, cap * sizeof(*tmp))) == NULL)
			return AF_ENOMEM;
		q->conns = tmp;
		q->cap = cap;
	}
	q->conns[q->n++] = conn;
	return AF_OK;
}

bool
fairq_round(struct fairq *q, fair_feed_fn *feed, void *ctx, size_t max)
{
	uint64_t *now = q->conns;
	size_t i, n = q->n;

	if (n == 0)
		return false;
	/* Those deferred during the round wait for the next one. */
	q->conns = NULL;
	q->n = q->cap = 0;
	for (i = 0; i < n; i++)
		if (feed(ctx, now[i], max) && fairq_defer(q, now[i]) != AF_OK)
			while (feed(ctx, now[i], max))
				;
	free(now);
	return true;
}

bool
fairq_has(const struct fairq *q, uint64_t conn)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (q->conns[i] == conn)
			return true;
	return false;
}

void
fairq_release(struct fairq *q)
{
	free(q->conns);
	memset(q, 0, sizeof(*q));
}
