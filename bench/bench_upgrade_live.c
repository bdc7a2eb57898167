/*
 * bench_upgrade_live.c: live_upgrade_pause_ms (issue 9, item 9): the
 * longest time a client waits for an answer while the real daemon switches
 * to new code live with 10,000 resident activations. A daemon runs the
 * example module v1 with N = 10,000 `order` activations waiting for their
 * approval; one thread asks `stats` in a closed loop (each answer comes
 * after a pass) and keeps the longest wait, while the main thread runs
 * `upgrade --module example-v3.so` (check, switch) and then waits until
 * every activation the old code built has left memory (the switch drops
 * them a bounded number per pass). Prints `bench NAME VALUE UNIT`.
 *
 * Usage: bench_upgrade_live BUILD_DIR [N]
 */
#include <sys/types.h>

#include <limits.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asyncflow.h"
#include "ipckit.h"

#define WINDOW 256

static volatile int stop;
static double longest;
static long asked;

static void *
prober(void *arg)
{
	Asyncflow__StatsReply *st;
	af_conn *c = arg;
	double t0, dt;
	int rc;

	while (!stop) {
		t0 = now_s();
		if ((rc = af_stats(c, &st)) != AF_OK)
			die("stats", rc);
		dt = now_s() - t0;
		af_msg_free(st);
		if (dt > longest)
			longest = dt;
		asked++;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value vow = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field field = ASYNCFLOW__FIELD__INIT, *fields[1];
	struct af_upgrade_opts uo = { false, false, 0 };
	Asyncflow__StatsReply *st;
	char v1[600], v3[4200], exe[4100], *report;
	const char *mods[1];
	uint8_t secret[AF_RESOLVER_LEN];
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow sf = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__Response *r;
	uint64_t ids[WINDOW];
	long n = argc > 2 ? atol(argv[2]) : 10000, i, sent;
	af_conn *c, *probe;
	pthread_t th;
	bool ok;
	int rc;

	if (argc > 1)
		bdir = argv[1];
	if (n < 1)
		n = 10000;
	snprintf(v1, sizeof(v1), "%s/modules/example-v1.so", bdir);
	snprintf(v3, sizeof(v3), "%s/modules/example-v3.so", bdir);
	if (access(v1, R_OK) != 0 || access(v3, R_OK) != 0) {
		printf("bench live_upgrade_pause_ms skipped (no %s)\n", v3);
		return 0;
	}
	/* The daemon resolves no relative path for us. */
	if (realpath(v3, exe) == NULL)
		die("realpath", AF_ENOTFOUND);
	snprintf(v3, sizeof(v3), "%s", exe);
	fresh_dir();
	snprintf(exe, sizeof(exe), "%s/asyncflowd", bdir);
	if ((daemon_pid = fork()) == 0) {
		execl(exe, exe, "-q", "-d", dir, "--durability", "none",
		    "--module", v1, (char *)NULL);
		_exit(127);
	}
	c = connect_retry();
	af_set_timeout(c, -1);
	if ((rc = af_mkvow(c, &vow.vow_id, secret)) != AF_OK)
		die("mkvow", rc);
	vow.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	field.key = (char *)"approval";
	field.value = &vow;
	fields[0] = &field;
	rec.fields = fields;
	rec.n_fields = 1;
	args.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	args.record_value = &rec;
	/* Pipelined, a window of 256 requests in flight. */
	sf.flow = (char *)"order";
	sf.args = &args;
	req.op_case = ASYNCFLOW__REQUEST__OP_START;
	req.start = &sf;
	for (sent = 0, i = 0; i < n; i++) {
		while (sent < n && sent - i < WINDOW) {
			if ((rc = af_send_request(c, &req,
				 &ids[sent % WINDOW])) != AF_OK)
				die("send start", rc);
			sent++;
		}
		if ((rc = af_wait_response(c, ids[i % WINDOW], -1, &r)) !=
		    AF_OK)
			die("start", rc);
		af_msg_free(r);
	}
	probe = connect_retry();
	af_set_timeout(probe, -1);
	if (pthread_create(&th, NULL, prober, probe) != 0)
		die("pthread_create", AF_ENOMEM);
	mods[0] = v3;
	if ((rc = af_upgrade(c, mods, 1, &uo, &report, &ok)) != AF_OK)
		die("upgrade", rc);
	if (!ok || strstr(report, "\"upgraded\": true") == NULL) {
		fprintf(stderr, "bench_upgrade_live: not upgraded: %s\n",
		    report);
		die("upgrade", AF_ESTATE);
	}
	free(report);
	/* The switch is incremental: the activations the old code built
	 * leave memory a bounded number per pass. The prober goes on until
	 * the last has gone (nothing else loads one here), so the pause it
	 * measures covers the whole switch. */
	do {
		if ((rc = af_stats(c, &st)) != AF_OK)
			die("stats", rc);
		i = (long)st->resident;
		af_msg_free(st);
	} while (i > 0);
	stop = 1;
	pthread_join(th, NULL);
	af_close(probe);
	af_close(c);
	stop_daemon();
	remove_dir();
	printf("bench live_upgrade_pause_ms %.1f ms (%ld resident, %ld "
	       "answers)\n",
	    longest * 1000, n, asked);
	return 0;
}
