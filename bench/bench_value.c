/*
 * bench_value.c: nanoseconds to decode and to encode one small record value,
 * {"i": 42, "name": "x"}, the typical size of a journal entry's argument.
 * Each figure is the median of 5 runs of many iterations in one process;
 * decoding resets its arena every 1024 values, as replay does between
 * activations, and that cost is included. Prints `bench NAME VALUE ns`.
 * Not a test: it checks nothing but that the codec works at all.
 */
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "benchkit.h"
#include "buf.h"
#include "value.h"

#define RUNS  5
#define ITERS 2000000

static void
die(const char *what)
{
	fprintf(stderr, "bench_value: %s\n", what);
	exit(1);
}

int
main(void)
{
	static const char *const keys[] = { "i", "name" };
	struct af_arena *a, *da;
	struct buf b = BUF_INITIALIZER;
	const struct af_value *vals[2], *v, *d;
	volatile const void *sink;
	double dec_ns[RUNS], enc_ns[RUNS], t;
	int run, i;

	if ((a = arena_new(0)) == NULL || (da = arena_new(0)) == NULL)
		die("out of memory");
	vals[0] = af_int(a, 42);
	vals[1] = af_string(a, "x");
	if ((v = af_record(a, keys, vals, 2)) == NULL)
		die("af_record failed");
	if (value_encode(&b, v) != AF_OK)
		die("value_encode failed");
	if (value_decode(da, b.p, b.len, &d) != AF_OK || !af_value_equal(v, d))
		die("value_decode failed");

	for (run = 0; run < RUNS; run++) {
		t = now_s();
		for (i = 0; i < ITERS; i++) {
			if ((i & 1023) == 0)
				arena_reset(da);
			if (value_decode(da, b.p, b.len, &d) != AF_OK)
				die("value_decode failed");
			sink = d;
		}
		dec_ns[run] = (now_s() - t) * 1e9 / ITERS;

		t = now_s();
		for (i = 0; i < ITERS; i++) {
			buf_reset(&b);
			if (value_encode(&b, v) != AF_OK)
				die("value_encode failed");
			sink = b.p;
		}
		enc_ns[run] = (now_s() - t) * 1e9 / ITERS;
	}
	(void)sink;

	printf("bench value_decode_ns %.1f ns\n", median(dec_ns, RUNS));
	printf("bench value_encode_ns %.1f ns\n", median(enc_ns, RUNS));
	buf_release(&b);
	arena_free(a);
	arena_free(da);
	return 0;
}
