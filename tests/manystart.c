/*
 * manystart.c: an e2e helper, not a test. Starts N activations of
 * `gather` on the one vow V ([{"@vow": V}]) through the real client
 * library, pipelining WINDOW requests at a time, so that a test can have
 * a hundred thousand waiting activations in seconds. Exits 0 once every
 * start was acknowledged, 1 with a message on the first refusal.
 *
 * Usage: manystart SOCKET N V
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "asyncflow.h"

#define WINDOW 256

int
main(int argc, char **argv)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow sf = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT,
			 item = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value *items[1] = { &item };
	Asyncflow__List list = ASYNCFLOW__LIST__INIT;
	Asyncflow__Response *r;
	uint64_t ids[WINDOW];
	long n, sent = 0, done = 0;
	char err[256];
	af_conn *c;
	int rc;

	if (argc != 4 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: manystart SOCKET N VOW\n");
		return 2;
	}
	if ((rc = af_connect(argv[1], &c, err, sizeof(err))) != AF_OK) {
		fprintf(stderr, "manystart: connect: %s\n", err);
		return 1;
	}
	item.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	item.vow_id = strtoull(argv[3], NULL, 10);
	list.n_items = 1;
	list.items = items;
	args.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	args.list_value = &list;
	sf.flow = (char *)"gather";
	sf.args = &args;
	req.op_case = ASYNCFLOW__REQUEST__OP_START;
	req.start = &sf;
	while (done < n) {
		while (sent < n && sent - done < WINDOW) {
			if ((rc = af_send_request(c, &req,
				 &ids[sent % WINDOW])) != AF_OK)
				goto failed;
			sent++;
		}
		if ((rc = af_wait_response(c, ids[done % WINDOW], -1, &r)) !=
		    AF_OK)
			goto failed;
		af_msg_free(r);
		done++;
	}
	af_close(c);
	return 0;
failed:
	fprintf(stderr, "manystart: start %ld of %ld: %s\n", done + 1, n,
	    af_strerror(rc));
	af_close(c);
	return 1;
}
