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

static void
start_with(const char *durability, const char *resident)
{
	char exe[512];

	snprintf(exe, sizeof(exe), "%s/asyncflowd", bdir);
	if ((daemon_pid = fork()) == 0) {
		if (resident != NULL)
			execl(exe, exe, "-q", "-d", dir, "--durability",
			    durability, "--max-resident", resident,
			    (char *)NULL);
		else
			execl(exe, exe, "-q", "-d", dir, "--durability",
			    durability, (char *)NULL);
		_exit(127);
	}
}

/* Pipeline n requests built by make(i) on c; each answer to take(i). */
static void
pipeline(af_conn *c, long n, void (*make)(long, Asyncflow__Request *),
    void (*take)(long, Asyncflow__Response *))
{
	Asyncflow__Request req;
	Asyncflow__Response *r;
	uint64_t ids[WINDOW];
	long sent = 0, done = 0;
	int rc;

	while (done < n) {
		while (sent < n && sent - done < WINDOW) {
			make(sent, &req);
			if ((rc = af_send_request(c, &req,
				 &ids[sent % WINDOW])) != AF_OK)
				die("send", rc);
			sent++;
		}
		if ((rc = af_wait_response(c, ids[done % WINDOW], -1, &r)) !=
		    AF_OK)
			die("request", rc);
		if (take != NULL)
			take(done, r);
		af_msg_free(r);
		done++;
	}
}

static struct kit *kits; /* shared with the forked clients (read) */
static long base;        /* the client's first kit */

static Asyncflow__MakeVow mv = ASYNCFLOW__MAKE_VOW__INIT;

static void
make_mkvow(long i, Asyncflow__Request *req)
{
	(void)i;
	asyncflow__request__init(req);
	req->op_case = ASYNCFLOW__REQUEST__OP_MKVOW;
	req->mkvow = &mv;
}

static void
take_mkvow(long i, Asyncflow__Response *r)
{
	if (r->result_case != ASYNCFLOW__RESPONSE__RESULT_MKVOW ||
	    r->mkvow->resolver.len != AF_RESOLVER_LEN)
		die("mkvow answer", AF_EPROTO);
	kits[i].vow = r->mkvow->vow;
	memcpy(kits[i].secret, r->mkvow->resolver.data, AF_RESOLVER_LEN);
}

static Asyncflow__StartFlow sf = ASYNCFLOW__START_FLOW__INIT;
static Asyncflow__Value sargs = ASYNCFLOW__VALUE__INIT,
			sitem = ASYNCFLOW__VALUE__INIT;
static Asyncflow__Value *sitems[1] = { &sitem };
static Asyncflow__List slist = ASYNCFLOW__LIST__INIT;

static void
make_start(long i, Asyncflow__Request *req)
{
	asyncflow__request__init(req);
	slist.n_items = 1;
	slist.items = sitems;
	sargs.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	sargs.list_value = &slist;
	sitem.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	sitem.vow_id = kits[base + i].vow;
	sf.flow = (char *)"gather";
	sf.args = &sargs;
	req->op_case = ASYNCFLOW__REQUEST__OP_START;
	req->start = &sf;
}

static Asyncflow__SettleVow sv = ASYNCFLOW__SETTLE_VOW__INIT;
static Asyncflow__Value one = ASYNCFLOW__VALUE__INIT;

static void
make_settle(long i, Asyncflow__Request *req)
{
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
in_clients(long n, void (*make)(long, Asyncflow__Request *))
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
			pipeline(c, share, make, NULL);
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
	start_with("batch", NULL);
	c = connect_retry();
	base = 0;
	pipeline(c, n, make_mkvow, take_mkvow);
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
	start_with("batch", NULL);
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
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT,
			 item = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value *items[1] = { &item };
	Asyncflow__List list = ASYNCFLOW__LIST__INIT;
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__VowInfo *vi;
	Asyncflow__Event *ev;
	double *lat = calloc((size_t)samples, sizeof(double)), t0;
	uint64_t act, outcome, filler, fout, id;
	struct kit k, f;
	bool existing;
	af_conn *c;
	int i, rc;

	fresh_dir();
	start_with("none", "1");
	c = connect_retry();
	list.n_items = 1;
	list.items = items;
	args.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	args.list_value = &list;
	item.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	one.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	one.int_value = 1;
	for (i = 0; i < samples; i++) {
		if ((rc = af_mkvow(c, &k.vow, k.secret)) != AF_OK ||
		    (rc = af_mkvow(c, &f.vow, f.secret)) != AF_OK)
			die("mkvow", rc);
		item.vow_id = k.vow;
		if ((rc = af_start(c, "gather", &args, NULL, &act, &outcome,
			 &existing)) != AF_OK)
			die("start gather", rc);
		if ((rc = af_watch_vow(c, outcome, &vi)) != AF_OK)
			die("watch", rc);
		af_msg_free(vi);
		/* With a budget of one, this start evicts the first. */
		item.vow_id = f.vow;
		if ((rc = af_start(c, "gather", &args, NULL, &filler, &fout,
			 &existing)) != AF_OK)
			die("start filler", rc);
		sv.vow = k.vow;
		sv.resolver.data = k.secret;
		sv.resolver.len = AF_RESOLVER_LEN;
		sv.value = &one;
		req.op_case = ASYNCFLOW__REQUEST__OP_SETTLE;
		req.settle = &sv;
		t0 = now_s();
		if ((rc = af_send_request(c, &req, &id)) != AF_OK)
			die("settle", rc);
		for (;;) {
			if ((rc = af_next_event(c, 10000, &ev)) != AF_OK)
				die("event", rc);
			if (ev->kind_case ==
				ASYNCFLOW__EVENT__KIND_VOW_SETTLED &&
			    ev->vow_settled->vow == outcome) {
				af_msg_free(ev);
				break;
			}
			af_msg_free(ev);
		}
		lat[i] = (now_s() - t0) * 1e6;
		af_forget_response(c, id);
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
