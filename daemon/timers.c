/*
 * timers.c: the timer heap and DB_TIMERS rows (see timers.h).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "tables.h"
#include "timers.h"
#include "vec.h"

void
timers_init(struct timers *tm)
{
	memset(tm, 0, sizeof(*tm));
}

void
timers_release(struct timers *tm)
{
	free(tm->heap);
	free(tm->puts);
	free(tm->dels);
	timers_init(tm);
}

static bool
timer_less(const struct timer *x, const struct timer *y)
{
	return x->due < y->due || (x->due == y->due && x->vow < y->vow);
}

static int
heap_push(struct timers *tm, struct timer t)
{
	size_t i, parent;

	if (vec_grow((void **)&tm->heap, &tm->cap, tm->n + 1,
		sizeof(*tm->heap)) != AF_OK)
		return AF_ENOMEM;
	i = tm->n++;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!timer_less(&t, &tm->heap[parent]))
			break;
		tm->heap[i] = tm->heap[parent];
		i = parent;
	}
	tm->heap[i] = t;
	return AF_OK;
}

static struct timer
heap_pop(struct timers *tm)
{
	struct timer top, last;
	size_t i = 0, c;

	assert(tm->n > 0);
	top = tm->heap[0];
	last = tm->heap[--tm->n];
	for (;;) {
		c = 2 * i + 1;
		if (c >= tm->n)
			break;
		if (c + 1 < tm->n && timer_less(&tm->heap[c + 1], &tm->heap[c]))
			c++;
		if (!timer_less(&tm->heap[c], &last))
			break;
		tm->heap[i] = tm->heap[c];
		i = c;
	}
	if (tm->n > 0)
		tm->heap[i] = last;
	return top;
}

static int
row_push(struct timer **arr, size_t *n, size_t *cap, struct timer t)
{
	if (vec_grow((void **)arr, cap, *n + 1, sizeof(**arr)) != AF_OK)
		return AF_ENOMEM;
	(*arr)[(*n)++] = t;
	return AF_OK;
}

int
timers_add(struct timers *tm, struct timer t)
{
	int rc;

	/* Room for the row first: a timer in the heap always has one. */
	if ((rc = vec_grow((void **)&tm->puts, &tm->capputs, tm->nputs + 1,
		 sizeof(*tm->puts))) != AF_OK ||
	    (rc = heap_push(tm, t)) != AF_OK)
		return rc;
	tm->puts[tm->nputs++] = t;
	return AF_OK;
}

bool
timers_next(const struct timers *tm, struct timer *out)
{
	if (tm->n == 0)
		return false;
	*out = tm->heap[0];
	return true;
}

int
timers_take_due(struct timers *tm, int64_t now, struct timer *out)
{
	if (tm->n == 0 || tm->heap[0].due > now)
		return AF_ENOTFOUND;
	if (row_push(&tm->dels, &tm->ndels, &tm->capdels, tm->heap[0]) != AF_OK)
		return AF_ENOMEM; /* still in the heap: fires later */
	*out = heap_pop(tm);
	return AF_OK;
}

int
timers_cancel(struct timers *tm, uint64_t vow)
{
	size_t i, parent;
	struct timer t;

	for (i = 0; i < tm->n && tm->heap[i].vow != vow; i++)
		;
	if (i == tm->n)
		return AF_ENOTFOUND;
	if (row_push(&tm->dels, &tm->ndels, &tm->capdels, tm->heap[i]) != AF_OK)
		return AF_ENOMEM;
	/* As if it were due first: up to the root, then popped. */
	t = tm->heap[i];
	while (i > 0) {
		parent = (i - 1) / 2;
		tm->heap[i] = tm->heap[parent];
		i = parent;
	}
	tm->heap[0] = t;
	(void)heap_pop(tm);
	return AF_OK;
}

void
timers_untake(struct timers *tm, struct timer t)
{
	assert(tm->ndels > 0 && tm->dels[tm->ndels - 1].vow == t.vow);
	tm->ndels--;
	/* The heap had room for it a moment ago: this cannot fail. */
	(void)heap_push(tm, t);
}

size_t
timers_pending(const struct timers *tm)
{
	return tm->n;
}

static void
timer_key(uint8_t key[TIMER_KEY_LEN], const struct timer *t)
{
	store_be64(key, (uint64_t)t->due);
	store_be64(key + 8, t->vow);
}

int
timers_flush(struct timers *tm, struct store_txn *t)
{
	uint8_t key[TIMER_KEY_LEN];
	size_t i;
	int rc;

	for (i = 0; i < tm->nputs; i++) {
		timer_key(key, &tm->puts[i]);
		rc = store_put(t, DB_TIMERS,
		    (struct store_val){ key, TIMER_KEY_LEN },
		    (struct store_val){ "", 0 }, false);
		if (rc != AF_OK)
			return rc;
	}
	for (i = 0; i < tm->ndels; i++) {
		timer_key(key, &tm->dels[i]);
		rc = store_del(t, DB_TIMERS,
		    (struct store_val){ key, TIMER_KEY_LEN });
		if (rc != AF_OK && rc != AF_ENOTFOUND)
			return rc;
	}
	return AF_OK;
}

void
timers_reset(struct timers *tm)
{
	tm->nputs = tm->ndels = 0;
}

static int
timer_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct timer t;

	(void)v;
	if (k.n != TIMER_KEY_LEN) {
		log_error("timers: a row whose key has %zu bytes, not %d, is "
			  "not a timer; skipped",
		    k.n, TIMER_KEY_LEN);
		return 0;
	}
	t.due = (int64_t)store_rd_be64(k.p);
	t.vow = store_rd_be64((const uint8_t *)k.p + 8);
	return heap_push(ctx, t);
}

int
timers_load(struct timers *tm, struct store *s)
{
	tm->n = 0;
	timers_reset(tm);
	return store_scan(s, DB_TIMERS, NULL, 0, timer_cb, tm);
}
