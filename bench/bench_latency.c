/*
 * bench_latency.c: the latency envelope at durability `full`, with 1, 100
 * and 1,000 concurrent clients, through the real asyncflowd (forked and
 * exec'd from the build directory) and the real client library. Each
 * client is one connection with one request outstanding at a time (a
 * closed loop); the connections are driven by a few threads with poll.
 * Prints `bench NAME VALUE UNIT` lines:
 *
 *   start_answer_cN_p50_us, _p90_us, _p99_us
 *           a client sends a start of `echo` and receives its reply (the
 *           daemon answers once the activation is committed and synced)
 *   start_answer_cN_per_s
 *           the starts all N clients completed per second
 *   settle_wake_full_cN_p50_us, _p90_us, _p99_us
 *           a client settles a vow; the same client receives the settled
 *           event of the outcome of a `gather` flow that awaited that vow
 *           and returns at once (the vows and flows are made beforehand,
 *           untimed)
 *   settle_wake_full_cN_per_s
 *           the wakes all N clients completed per second
 *
 * Each figure is the median of RUNS runs. A start run lasts RUN_S seconds,
 * the first WARM_S not counted. A settle->wake run uses up samples made
 * beforehand (WAKE_SAMPLES in all, at least WAKE_PER_CLIENT a client): it
 * counts only what happened while every client was still at work, from
 * the moment the last one finished its first WAKE_WARM samples to the
 * moment the first one finished its last, so that neither the warm-up nor
 * the tail (fewer clients, less contention) flatters the figures. Not a
 * load generator for other workloads, and not a test: it checks only that
 * answers come.
 *
 * Usage: bench_latency BUILD_DIR
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asyncflow.h"
#include "ipckit.h"

#define RUNS            3
#define RUN_S           2.0
#define WARM_S          0.3
#define THREADS         2    /* client threads (the machine has few cores) */
#define WAKE_SAMPLES    1000 /* prepared settle->wake samples, all clients */
#define WAKE_PER_CLIENT 8    /* ... and at least this many a client */
#define WAKE_WARM       2    /* a client's first samples, not counted */
#define WAKE_LIMIT_S    60.0 /* a settle->wake run that takes longer fails */

/* ---- Clients ------------------------------------------------------------------ */

/* One client: a connection and, for settle->wake, its prepared vows. */
struct client {
	af_conn *c;
	uint64_t id;  /* the request outstanding (start mode) */
	double t0;    /* when it was sent */
	size_t k, nk; /* next prepared sample, how many */
	uint64_t *vows, *outcomes;
	uint8_t (*secrets)[AF_RESOLVER_LEN];
	double *t0s, *t1s; /* each sample's settle sent, wake received */
};

/* What one thread drives, and what it measured. */
struct worker {
	pthread_t th;
	struct client *cl;
	size_t n;
	bool wake;          /* settle->wake, else start->answer */
	double from, until; /* count samples in [from, until) */
	double *lat;
	size_t nlat, caplat;
};

static Asyncflow__Value echo_arg = ASYNCFLOW__VALUE__INIT;
static Asyncflow__Value one = ASYNCFLOW__VALUE__INIT;

static void
record(struct worker *w, double t0, double t1)
{
	if (t0 < w->from || t1 >= w->until)
		return;
	if (w->nlat == w->caplat) {
		w->caplat = w->caplat ? 2 * w->caplat : 4096;
		if ((w->lat = realloc(w->lat, w->caplat * sizeof(double))) ==
		    NULL)
			die("realloc", AF_ENOMEM);
	}
	w->lat[w->nlat++] = (t1 - t0) * 1e6;
}

/* Sends the client's next request; false when it has none left. */
static bool
send_next(struct worker *w, struct client *cl)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow sf = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__SettleVow sv = ASYNCFLOW__SETTLE_VOW__INIT;
	int rc;

	if (w->wake) {
		if (cl->k == cl->nk)
			return false;
		sv.vow = cl->vows[cl->k];
		sv.resolver.data = cl->secrets[cl->k];
		sv.resolver.len = AF_RESOLVER_LEN;
		sv.value = &one;
		req.op_case = ASYNCFLOW__REQUEST__OP_SETTLE;
		req.settle = &sv;
	} else {
		sf.flow = (char *)"echo";
		sf.args = &echo_arg;
		req.op_case = ASYNCFLOW__REQUEST__OP_START;
		req.start = &sf;
	}
	cl->t0 = now_s();
	if ((rc = af_send_request(cl->c, &req, &cl->id)) != AF_OK)
		die("send", rc);
	/* The settle's own reply is not what is timed: drop it. */
	if (w->wake && (rc = af_forget_response(cl->c, cl->id)) != AF_OK)
		die("forget", rc);
	return true;
}

/* Takes what arrived for cl; sends its next request when its current one
 * is answered. Returns false once it has nothing left to send. */
static bool
take(struct worker *w, struct client *cl)
{
	Asyncflow__Response *r;
	Asyncflow__Event *ev;
	bool woke = false;
	int rc;

	if (!w->wake) {
		rc = af_wait_response(cl->c, cl->id, 0, &r);
		if (rc == AF_ETIMEDOUT)
			return true;
		if (rc != AF_OK)
			die("start", rc);
		af_msg_free(r);
		record(w, cl->t0, now_s());
		return send_next(w, cl);
	}
	while ((rc = af_next_event(cl->c, 0, &ev)) == AF_OK) {
		if (ev->kind_case == ASYNCFLOW__EVENT__KIND_VOW_SETTLED &&
		    ev->vow_settled->vow == cl->outcomes[cl->k])
			woke = true;
		af_msg_free(ev);
	}
	if (rc != AF_ETIMEDOUT)
		die("event", rc);
	if (!woke)
		return true;
	cl->t0s[cl->k] = cl->t0;
	cl->t1s[cl->k] = now_s();
	cl->k++;
	return send_next(w, cl);
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct pollfd *pfd = calloc(w->n, sizeof(*pfd));
	bool *live = calloc(w->n, sizeof(*live));
	size_t i, nlive = 0;

	if (pfd == NULL || live == NULL)
		die("calloc", AF_ENOMEM);
	for (i = 0; i < w->n; i++) {
		pfd[i].fd = af_conn_fd(w->cl[i].c);
		pfd[i].events = POLLIN;
		if ((live[i] = send_next(w, &w->cl[i])))
			nlive++;
	}
	while (nlive > 0 && now_s() < w->until) {
		if (poll(pfd, (nfds_t)w->n, 100) < 0)
			continue;
		for (i = 0; i < w->n; i++) {
			if (!live[i] || pfd[i].revents == 0)
				continue;
			if (!take(w, &w->cl[i])) {
				live[i] = false;
				nlive--;
			}
		}
	}
	free(pfd);
	free(live);
	return NULL;
}

/* Makes each client's settle->wake samples, pipelined, untimed: a vow, a
 * `gather` of it, a watch of its outcome. */
static void
prepare_wakes(struct client *cl, size_t n, size_t per)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow sf = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__WatchVow wv = ASYNCFLOW__WATCH_VOW__INIT;
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT,
			 item = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value *items[1] = { &item };
	Asyncflow__List list = ASYNCFLOW__LIST__INIT;
	Asyncflow__Request mk = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__MakeVow mv = ASYNCFLOW__MAKE_VOW__INIT;
	Asyncflow__Response *r;
	uint64_t *ids = calloc(n * per, sizeof(*ids));
	size_t i, j;
	int rc, step;

	list.n_items = 1;
	list.items = items;
	args.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	args.list_value = &list;
	item.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
	sf.flow = (char *)"gather";
	sf.args = &args;
	mk.op_case = ASYNCFLOW__REQUEST__OP_MKVOW;
	mk.mkvow = &mv;
	for (i = 0; i < n; i++) {
		cl[i].nk = per;
		cl[i].k = 0;
		cl[i].vows = calloc(per, sizeof(uint64_t));
		cl[i].outcomes = calloc(per, sizeof(uint64_t));
		cl[i].secrets = calloc(per, AF_RESOLVER_LEN);
		cl[i].t0s = calloc(per, sizeof(double));
		cl[i].t1s = calloc(per, sizeof(double));
		if (cl[i].vows == NULL || cl[i].outcomes == NULL ||
		    cl[i].secrets == NULL || cl[i].t0s == NULL ||
		    cl[i].t1s == NULL || ids == NULL)
			die("calloc", AF_ENOMEM);
	}
	for (step = 0; step < 3; step++) {
		for (i = 0; i < n; i++)
			for (j = 0; j < per; j++) {
				if (step == 0) {
					r = NULL;
					rc = af_send_request(cl[i].c, &mk,
					    &ids[i * per + j]);
				} else if (step == 1) {
					item.vow_id = cl[i].vows[j];
					req.op_case =
					    ASYNCFLOW__REQUEST__OP_START;
					req.start = &sf;
					rc = af_send_request(cl[i].c, &req,
					    &ids[i * per + j]);
				} else {
					wv.vow = cl[i].outcomes[j];
					req.op_case =
					    ASYNCFLOW__REQUEST__OP_WATCH_VOW;
					req.watch_vow = &wv;
					rc = af_send_request(cl[i].c, &req,
					    &ids[i * per + j]);
				}
				if (rc != AF_OK)
					die("prepare: send", rc);
			}
		for (i = 0; i < n; i++)
			for (j = 0; j < per; j++) {
				rc = af_wait_response(cl[i].c, ids[i * per + j],
				    60000, &r);
				if (rc != AF_OK)
					die("prepare", rc);
				if (step == 0) {
					cl[i].vows[j] = r->mkvow->vow;
					memcpy(cl[i].secrets[j],
					    r->mkvow->resolver.data,
					    AF_RESOLVER_LEN);
				} else if (step == 1) {
					cl[i].outcomes[j] = r->start->outcome;
				}
				af_msg_free(r);
			}
	}
	free(ids);
}

/* A settle->wake run's figures (see the top): the window in which every
 * client was at work, the latencies of the samples wholly inside it into
 * w[0]'s, and the completions per second inside it. */
static double
wake_window(struct client *cl, size_t n, struct worker *w)
{
	double from = 0, until = 0, t;
	size_t i, k, done = 0;

	for (i = 0; i < n; i++) {
		if (cl[i].k < cl[i].nk)
			die("settle->wake: not all samples came back",
			    AF_ETIMEDOUT);
		t = cl[i].t1s[WAKE_WARM - 1];
		if (i == 0 || t > from)
			from = t;
		t = cl[i].t1s[cl[i].nk - 1];
		if (i == 0 || t < until)
			until = t;
	}
	if (until <= from)
		die("settle->wake: no moment when every client was at work",
		    AF_ETIMEDOUT);
	/* record() keeps what started at or after from and ended
	 * before until: the end of the window itself is in. */
	w->from = from;
	w->until = until + 1e-9;
	for (i = 0; i < n; i++)
		for (k = WAKE_WARM; k < cl[i].nk; k++) {
			if (cl[i].t1s[k] > from && cl[i].t1s[k] <= until)
				done++;
			record(w, cl[i].t0s[k], cl[i].t1s[k]);
		}
	return (double)done / (until - from);
}

/* One run: n clients, for RUN_S seconds or (settle->wake) until their
 * samples are used up; the latencies in *lat (sorted, *nlat of them) and
 * the completions per second counted. */
static double
run(size_t n, bool wake, double **lat, size_t *nlat)
{
	struct client *cl = calloc(n, sizeof(*cl));
	struct worker w[THREADS];
	size_t i, t, nt = n < THREADS ? n : THREADS, at = 0, per;
	double t0, from, until, *all, tput;

	if (cl == NULL)
		die("calloc", AF_ENOMEM);
	for (i = 0; i < n; i++)
		cl[i].c = connect_retry();
	if (wake) {
		per = (WAKE_SAMPLES + n - 1) / n;
		prepare_wakes(cl, n,
		    per < WAKE_PER_CLIENT ? WAKE_PER_CLIENT : per);
	}
	t0 = now_s();
	from = t0 + WARM_S;
	until = t0 + (wake ? WAKE_LIMIT_S : RUN_S);
	for (t = 0; t < nt; t++) {
		memset(&w[t], 0, sizeof(w[t]));
		w[t].cl = cl + at;
		w[t].n = n / nt + (t < n % nt);
		at += w[t].n;
		w[t].wake = wake;
		w[t].from = from;
		w[t].until = until;
		if (pthread_create(&w[t].th, NULL, work, &w[t]) != 0)
			die("pthread_create", AF_ENOMEM);
	}
	for (t = 0; t < nt; t++)
		pthread_join(w[t].th, NULL);
	tput = 0;
	if (wake) {
		/* The samples' times were kept per client: count them now. */
		for (t = 0; t < nt; t++)
			w[t].nlat = 0;
		tput = wake_window(cl, n, &w[0]);
	}
	*nlat = 0;
	for (t = 0; t < nt; t++)
		*nlat += w[t].nlat;
	if (!wake)
		tput = (double)*nlat / (RUN_S - WARM_S);
	if ((all = calloc(*nlat + 1, sizeof(double))) == NULL)
		die("calloc", AF_ENOMEM);
	for (t = 0, at = 0; t < nt; t++) {
		memcpy(all + at, w[t].lat, w[t].nlat * sizeof(double));
		at += w[t].nlat;
		free(w[t].lat);
	}
	for (i = 0; i < n; i++) {
		af_close(cl[i].c);
		free(cl[i].vows);
		free(cl[i].outcomes);
		free(cl[i].secrets);
		free(cl[i].t0s);
		free(cl[i].t1s);
	}
	free(cl);
	qsort(all, *nlat, sizeof(double), cmp_double);
	*lat = all;
	if (*nlat == 0)
		die(wake ? "settle->wake: nothing measured" :
			   "start->answer: nothing measured",
		    AF_ETIMEDOUT);
	return tput;
}

static double
median3(double *v)
{
	qsort(v, RUNS, sizeof(double), cmp_double);
	return v[RUNS / 2];
}

static void
measure(size_t n, bool wake)
{
	static const double pct[3] = { 50, 90, 99 };
	double p[3][RUNS], tput[RUNS], *lat;
	const char *name = wake ? "settle_wake_full" : "start_answer";
	size_t nlat;
	int i, k;

	for (i = 0; i < RUNS; i++) {
		tput[i] = run(n, wake, &lat, &nlat);
		for (k = 0; k < 3; k++)
			p[k][i] = lat[(size_t)((double)nlat * pct[k] / 100)];
		free(lat);
	}
	for (k = 0; k < 3; k++)
		printf("bench %s_c%zu_p%.0f_us %.0f us\n", name, n, pct[k],
		    median3(p[k]));
	printf("bench %s_c%zu_per_s %.0f /s\n", name, n, median3(tput));
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static const size_t clients[3] = { 1, 100, 1000 };
	struct rlimit rl;
	int i;

	bdir = argc > 1 ? argv[1] : "build";
	signal(SIGPIPE, SIG_IGN);
	/* 1,000 connections on each side (the daemon inherits the limit). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	echo_arg.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	echo_arg.int_value = 1;
	one.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	one.int_value = 1;
	fresh_dir();
	start_daemon("full");
	af_close(connect_retry());
	for (i = 0; i < 3; i++)
		measure(clients[i], false);
	for (i = 0; i < 3; i++)
		measure(clients[i], true);
	stop_daemon();
	remove_dir();
	return 0;
}
