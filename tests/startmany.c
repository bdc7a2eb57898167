/*
 * startmany.c: an end-to-end helper that starts many activations quickly,
 * over one connection of the real client library, so that a script can
 * build a store with thousands of activations without thousands of
 * asyncflowctl processes:
 *
 *   startmany SOCKET FLOW KEY VOW N
 *
 * starts N activations of FLOW, each with the args {KEY: {"@vow": VOW}},
 * one after the other (each answered after its commit), and prints the
 * first and the last activation id. VOW "-": a new vow for each (made
 * first), and one line per activation instead: "ACT OUTCOME VOW
 * RESOLVER_HEX". Exits 1 on the first error, naming it.
 *
 * Not here: anything asserted (the scripts check what they need).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "asyncflow.h"

int
main(int argc, char **argv)
{
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value vow = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field field = ASYNCFLOW__FIELD__INIT, *fields[1];
	uint64_t act, out, first = 0, n, i;
	uint8_t secret[AF_RESOLVER_LEN];
	bool each = argv[4][0] == '-';
	char err[256];
	af_conn *c;
	bool existing;
	int rc;

	if (argc != 6) {
		fprintf(stderr, "usage: startmany SOCKET FLOW KEY VOW N\n");
		return 2;
	}
	vow.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	vow.vow_id = strtoull(argv[4], NULL, 10);
	field.key = argv[3];
	field.value = &vow;
	fields[0] = &field;
	rec.fields = fields;
	rec.n_fields = 1;
	args.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	args.record_value = &rec;
	n = strtoull(argv[5], NULL, 10);
	if (af_connect(argv[1], &c, err, sizeof(err)) != AF_OK) {
		fprintf(stderr, "startmany: %s\n", err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (each && (rc = af_mkvow(c, &vow.vow_id, secret)) != AF_OK) {
			fprintf(stderr, "startmany: mkvow: %s: %s\n",
			    af_errname(rc), af_conn_errmsg(c));
			return 1;
		}
		rc = af_start(c, argv[2], &args, NULL, &act, &out, &existing);
		if (rc != AF_OK) {
			fprintf(stderr, "startmany: start %llu: %s: %s\n",
			    (unsigned long long)i, af_errname(rc),
			    af_conn_errmsg(c));
			return 1;
		}
		if (i == 0)
			first = act;
		if (each) {
			printf("%llu %llu %llu ", (unsigned long long)act,
			    (unsigned long long)out,
			    (unsigned long long)vow.vow_id);
			for (size_t k = 0; k < AF_RESOLVER_LEN; k++)
				printf("%02x", secret[k]);
			printf("\n");
		}
	}
	af_close(c);
	if (!each)
		printf("%llu %llu\n", (unsigned long long)first,
		    (unsigned long long)act);
	return fflush(stdout) == 0 ? 0 : 1;
}
