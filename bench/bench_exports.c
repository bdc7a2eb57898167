/*
 * bench_exports.c: calls into a flow's export (issue 10, item 9) through
 * the real asyncflowd (forked from the build directory, durability none)
 * and the real client library. Prints `bench NAME VALUE UNIT` lines:
 *
 *   export_call_p50_us, _p99_us
 *           a client calls act/A/order.items of a built-in `shop`
 *           (af_call_export: answered once the call is committed) and
 *           then has the handler's answer (af_get_vow of the result vow):
 *           call to result, N calls one after the other
 *
 * Not a test: it checks only that the answers come and are fulfilled.
 * Usage: bench_exports BUILD_DIR [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow.h"
#include "ipckit.h"

int
main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 5000, i;
	Asyncflow__VowInfo *vi;
	uint64_t act, outcome;
	bool existing;
	char obj[64];
	double *lat, t0;
	uint64_t vow;
	af_conn *c;
	int rc;

	bdir = argc > 1 ? argv[1] : "build";
	if (n < 10)
		n = 5000;
	if ((lat = malloc((size_t)n * sizeof(*lat))) == NULL)
		die("malloc", AF_ENOMEM);
	fresh_dir();
	start_daemon("none");
	c = connect_retry();
	if ((rc = af_start(c, "shop", NULL, NULL, &act, &outcome, &existing)) !=
	    AF_OK)
		die("start shop", rc);
	snprintf(obj, sizeof(obj), "act/%llu/order", (unsigned long long)act);
	for (i = 0; i < n; i++) {
		t0 = now_s();
		if ((rc = af_call_export(c, obj, "items", NULL, &vow)) != AF_OK)
			die("call", rc);
		if ((rc = af_get_vow(c, vow, true, 10000, &vi)) != AF_OK)
			die("get_vow", rc);
		lat[i] = (now_s() - t0) * 1e6;
		if (vi->state != ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED)
			die("the call was not fulfilled", AF_REJECTED);
		af_msg_free(vi);
	}
	af_close(c);
	stop_daemon();
	remove_dir();
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("bench export_call_p50_us %.0f us\n", lat[n / 2]);
	printf("bench export_call_p99_us %.0f us\n", lat[n * 99 / 100]);
	free(lat);
	return 0;
}
