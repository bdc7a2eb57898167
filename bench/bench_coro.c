/*
 * bench_coro.c: cost of one coroutine switch. A coroutine that only yields
 * is resumed ROUNDS times (a round trip is two switches, each through the
 * public coro_resume / coro_yield); the time per switch of 5 runs is
 * reported as their median, as one line: bench coro_switch_ns VALUE ns
 */
#include <stdio.h>
#include <stdlib.h>

#include "benchkit.h"
#include "coro.h"

#define ROUNDS 4000000L /* 8,000,000 switches a run (about 0.1 s) */
#define RUNS   5

static void
bounce(void *arg)
{
	(void)arg;
	for (;;)
		coro_yield();
}

int
main(void)
{
	struct coro_pool *p = coro_pool_new(64 * 1024, 1);
	struct coro *c = p != NULL ? coro_new(p, bounce, NULL) : NULL;
	double per[RUNS];

	if (c == NULL) {
		perror("bench_coro: coro_new");
		return 1;
	}
	for (long i = 0; i < ROUNDS / 10; i++) /* warm up */
		coro_resume(c);
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_s();

		for (long i = 0; i < ROUNDS; i++)
			coro_resume(c);
		per[r] = (now_s() - t0) * 1e9 / (2.0 * (double)ROUNDS);
	}
	printf("bench coro_switch_ns %.2f ns\n", median(per, RUNS));
	coro_free(c); /* abandoned mid-loop: allowed */
	coro_pool_free(p);
	return 0;
}
