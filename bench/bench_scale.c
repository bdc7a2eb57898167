/*
 * bench_scale.c: the figures of issue 8 (memory is a cache) at a million
 * activations, with the real asyncflowd through its socket, at the stock
 * kernel settings. `make bench-scale` runs it; it is not part of `make
 * bench` (it takes minutes). Prints `bench NAME VALUE UNIT` lines:
 *
 *   waiting_1m_start_per_s      1,000,000 `gather` activations, each on
 *                               its own pending vow, started through the
 *                               socket (pipelined, 2 clients)
 *   waiting_1m_rss_mb           the daemon's RSS with those million waiting
 *   sigterm_s_1m                SIGTERM to exit with them
 *   restart_first_answer_s_1m   restart with them to the first `stats`
 *                               answered
 *   settle_to_done_per_s_1m     settle all million (2 pipelining clients)
 *                               until the daemon counts none unfinished
 *   evicted_settle_wake_p50_us  settle -> outcome event for an activation
 *                               that was evicted (--max-resident 1: its
 *                               replay included), durability none
 *
 * Not measured here: done_bytes_after_retention (retention is another
 * change). Usage: bench_scale BUILD_DIR [N] (N: activations, default 1M).
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asyncflow.h"
#include "ipckit.h"

#define WINDOW  256
#define CLIENTS 2

struct kit {
	uint64_t vow;
	uint8_t secret[AF_RESOLVER_LEN];
};

static struct kit *kits; /* shared with the forked clients (read) */
static long base;        /* the client's first kit */

static Asyncflow__MakeVow mv = ASYNCFLOW__MAKE_VOW__INIT;

static void
make_mkvow(long i, Asyncflow__Request *req, void *arg)
{
	(void)i;
	(void)arg;
	asyncflow__request__init(req);
	req->op_case = ASYNCFLOW__REQUEST__OP_MKVOW;
	req->mkvow = &mv;
}

static void
take_mkvow(long i, Asyncflow__Response *r, void *arg)
{
	(void)arg;
	if (r->result_case != ASYNCFLOW__RESPONSE__RESULT_MKVOW ||
	    r->mkvow->resolver.len != AF_RESOLVER_LEN)
		die("mkvow answer", AF_EPROTO);
	kits[i].vow = r->mkvow->vow;
	memcpy(kits[i].secret, r->mkvow->resolver.data, AF_RESOLVER_LEN);
}

static Asyncflow__StartFlow sf = ASYNCFLOW__START_FLOW__INIT;
static struct gather_args sg;

static void
make_start(long i, Asyncflow__Request *req, void *arg)
{
	(void)arg;
	asyncflow__request__init(req);
	gather_args_init(&sg);
	sg.item.vow_id = kits[base + i].vow;
	sf.flow = (char *)"gather";
	sf.args = &sg.args;
	req->op_case = ASYNCFLOW__REQUEST__OP_START;
	req->start = &sf;
}

static Asyncflow__SettleVow sv = ASYNCFLOW__SETTLE_VOW__INIT;
static Asyncflow__Value one = ASYNCFLOW__VALUE__INIT;

static void
make_settle(long i, Asyncflow__Request *req, void *arg)
{
	(void)arg;
	asyncflow__request__init(req);
	one.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	one.int_value = 1;
	sv.vow = kits[base + i].vow;
	sv.resolver.data = kits[base + i].secret;
	sv.resolver.len = AF_RESOLVER_LEN;
	sv.value = &one;
	req->op_case = ASYNCFLOW__REQUEST__OP_SETTLE;
	req->settle = &sv;
}

/* CLIENTS processes, each pipelining its share of n requests. */
static void
in_clients(long n, void (*make)(long, Asyncflow__Request *, void *))
{
	pid_t kids[CLIENTS];
	int i, st;

	for (i = 0; i < CLIENTS; i++) {
		if ((kids[i] = fork()) == 0) {
			af_conn *c = connect_retry();
			long share = n / CLIENTS;

			base = i * share;
			if (i == CLIENTS - 1)
				share = n - base;
			pipeline(c, share, WINDOW, "request", make, NULL, NULL);
			af_close(c);
			_exit(0);
		}
	}
	for (i = 0; i < CLIENTS; i++)
		if (waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			die("a client failed", AF_EPROTO);
}

static double
rss_mb(pid_t pid)
{
	char path[64], line[256];
	double kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atof(line + 6);
	fclose(f);
	return kb / 1024;
}

static Asyncflow__StatsReply *
stats(af_conn *c)
{
	Asyncflow__StatsReply *st;
	int rc;

	if ((rc = af_stats(c, &st)) != AF_OK)
		die("stats", rc);
	return st;
}

static void
million(long n)
{
	Asyncflow__StatsReply *st;
	double t0, t;
	uint64_t left;
	af_conn *c;

	fresh_dir();
	start_daemon_resident("batch", NULL);
	c = connect_retry();
	base = 0;
	pipeline(c, n, WINDOW, "request", make_mkvow, take_mkvow, NULL);
	t0 = now_s();
	in_clients(n, make_start);
	t = now_s() - t0;
	printf("bench waiting_1m_start_per_s %.0f starts/s\n", n / t);
	printf("bench waiting_1m_rss_mb %.1f MB\n", rss_mb(daemon_pid));
	fflush(stdout);
	af_close(c);
	t0 = now_s();
	stop_daemon();
	printf("bench sigterm_s_1m %.2f s\n", now_s() - t0);
	t0 = now_s();
	start_daemon_resident("batch", NULL);
	c = connect_retry();
	st = stats(c);
	t = now_s() - t0;
	af_msg_free(st);
	printf("bench restart_first_answer_s_1m %.2f s\n", t);
	fflush(stdout);
	t0 = now_s();
	in_clients(n, make_settle);
	for (;;) {
		st = stats(c);
		left = st->sleeping + st->resident;
		af_msg_free(st);
		if (left == 0)
			break;
		usleep(20000);
	}
	t = now_s() - t0;
	printf("bench settle_to_done_per_s_1m %.0f activations/s\n", n / t);
	fflush(stdout);
	af_close(c);
	stop_daemon();
	remove_dir();
}

static void
evicted_settle_wake(int samples)
{
	struct gather_args g;
	double *lat = calloc((size_t)samples, sizeof(double));
	uint64_t outcome, filler, fout;
	struct kit k, f;
	bool existing;
	af_conn *c;
	int i, rc;

	fresh_dir();
	start_daemon_resident("none", "1");
	c = connect_retry();
	gather_args_init(&g);
	one.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	one.int_value = 1;
	for (i = 0; i < samples; i++) {
		if ((rc = af_mkvow(c, &k.vow, k.secret)) != AF_OK ||
		    (rc = af_mkvow(c, &f.vow, f.secret)) != AF_OK)
			die("mkvow", rc);
		outcome = start_watched_gather(c, &g, k.vow);
		/* With a budget of one, this start evicts the first. */
		g.item.vow_id = f.vow;
		if ((rc = af_start(c, "gather", &g.args, NULL, &filler, &fout,
			 &existing)) != AF_OK)
			die("start filler", rc);
		lat[i] = settle_to_wake_us(c, k.vow, k.secret, &one, outcome);
		/* The filler is done too: one waiting activation at a time. */
		if ((rc = af_settle(c, f.vow, f.secret, false, &one, NULL)) !=
		    AF_OK)
			die("settle filler", rc);
	}
	af_close(c);
	stop_daemon();
	remove_dir();
	qsort(lat, (size_t)samples, sizeof(double), cmp_double);
	printf("bench evicted_settle_wake_p50_us %.0f us\n", lat[samples / 2]);
	free(lat);
}

int
main(int argc, char **argv)
{
	long n = 1000000;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_scale BUILD_DIR [N]\n");
		return 2;
	}
	bdir = argv[1];
	if (argc > 2 && (n = atol(argv[2])) < CLIENTS)
		n = CLIENTS;
	if ((kits = calloc((size_t)n, sizeof(*kits))) == NULL)
		die("out of memory", AF_ENOMEM);
	signal(SIGPIPE, SIG_IGN);
	evicted_settle_wake(2000);
	million(n);
	free(kits);
	return 0;
}
