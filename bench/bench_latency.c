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
 * A series is RUNS runs of RUN_S seconds (the first WARM_S seconds of
 * each run not counted; for settle->wake, until every client has had its
 * first WAKE_WARM wakes, which may be sooner or later). Its percentiles are those of the answers of all
 * RUNS runs together, 1.8 s of answers: 1.8 x N_per_s samples (at 100 /s,
 * the slowest series seen on a busy machine, the p99 is the second-largest
 * of 180, where before, as the median of three 1.7 s runs' p99s, it was
 * a third-largest of 170; thousands in the other series); its rate is the
 * median of the RUNS runs' rates. A series connects its N clients once, and before each run tops
 * up every client's prepared settle->wake samples to the same number, so
 * what one run left over serves the next. Should clients run out of
 * samples within a run, that run's window ends when more than one in ten
 * have (its rate is what the clients did while at least nine in ten
 * still had work), and stderr says so. Not a
 * load generator for other workloads, and not a test: it checks only
 * that answers come.
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

#define RUNS      3
#define RUN_S     0.6
#define WARM_S    0.3
#define THREADS   2 /* client threads (the machine has few cores) */
/* Prepared settle->wake samples: WAKE_MAX for all clients, and at least
 * WAKE_MIN each (8,000 pending at 1,000 clients: under the daemon's
 * default of 10,000 resident activations). */
#define WAKE_MAX  6000
#define WAKE_MIN  8
/* A settle->wake run is warm when every client has had this many wakes
 * (a time would not do: at 1,000 clients a fast daemon wakes all of their
 * samples in less than WARM_S). */
#define WAKE_WARM 2

/* ---- Clients ------------------------------------------------------------------ */

/* One client: a connection and, for settle->wake, its prepared vows. */
struct client {
	af_conn *c;
	uint64_t id;  /* the request outstanding (start mode) */
	double t0;    /* when it was sent */
	size_t k, nk; /* next prepared sample, how many */
	double dry;   /* when it ran out of samples; 0: it did not */
	double warm;  /* when its first WAKE_WARM wakes of a run came */
	bool sent;    /* sample k is settled, its wake not yet seen */
	uint64_t *vows, *outcomes;
	uint8_t (*secrets)[AF_RESOLVER_LEN];
};

/* A latency and when its answer arrived. */
struct sample {
	double t1, us;
};

/* What one thread drives, and what it measured. */
struct worker {
	pthread_t th;
	struct client *cl;
	size_t n;
	bool wake;          /* settle->wake, else start->answer */
	double from, until; /* count samples in [from, until) */
	struct sample *lat;
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
		if ((w->lat = realloc(w->lat, w->caplat * sizeof(*w->lat))) ==
		    NULL)
			die("realloc", AF_ENOMEM);
	}
	w->lat[w->nlat].t1 = t1;
	w->lat[w->nlat++].us = (t1 - t0) * 1e6;
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
		if (cl->k == cl->nk) {
			if (cl->dry == 0)
				cl->dry = now_s();
			return false;
		}
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
	cl->sent = w->wake;
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
	record(w, cl->t0, now_s());
	if (++cl->k == WAKE_WARM)
		cl->warm = now_s();
	cl->sent = false;
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

/* Tops up each client's settle->wake samples to per, pipelined, untimed:
 * the ones a run left are kept (moved to the front), and each new one is
 * a vow, a `gather` of it, a watch of its outcome. */
static void
prepare_wakes(struct client *cl, size_t n, size_t per)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow sf = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__WatchVow wv = ASYNCFLOW__WATCH_VOW__INIT;
	struct gather_args g;
	Asyncflow__Request mk = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__MakeVow mv = ASYNCFLOW__MAKE_VOW__INIT;
	Asyncflow__Response *r;
	uint64_t *ids = calloc(n * per, sizeof(*ids));
	size_t i, j, left;
	int rc, step;

	gather_args_init(&g);
	sf.flow = (char *)"gather";
	sf.args = &g.args;
	mk.op_case = ASYNCFLOW__REQUEST__OP_MKVOW;
	mk.mkvow = &mv;
	for (i = 0; i < n; i++) {
		if (cl[i].vows == NULL) {
			cl[i].vows = calloc(per, sizeof(uint64_t));
			cl[i].outcomes = calloc(per, sizeof(uint64_t));
			cl[i].secrets = calloc(per, AF_RESOLVER_LEN);
		}
		if (cl[i].vows == NULL || cl[i].outcomes == NULL ||
		    cl[i].secrets == NULL || ids == NULL)
			die("calloc", AF_ENOMEM);
		/* A run that ended while one was under way used it up: its
		 * wake may still come, to be ignored. */
		if (cl[i].sent) {
			cl[i].k++;
			cl[i].sent = false;
		}
		left = cl[i].nk - cl[i].k;
		memmove(cl[i].vows, cl[i].vows + cl[i].k,
		    left * sizeof(uint64_t));
		memmove(cl[i].outcomes, cl[i].outcomes + cl[i].k,
		    left * sizeof(uint64_t));
		memmove(cl[i].secrets, cl[i].secrets + cl[i].k,
		    left * AF_RESOLVER_LEN);
		cl[i].k = left; /* the first new one, until all are made */
		cl[i].nk = per;
	}
	for (step = 0; step < 3; step++) {
		for (i = 0; i < n; i++)
			for (j = cl[i].k; j < per; j++) {
				if (step == 0) {
					r = NULL;
					rc = af_send_request(cl[i].c, &mk,
					    &ids[i * per + j]);
				} else if (step == 1) {
					g.item.vow_id = cl[i].vows[j];
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
			for (j = cl[i].k; j < per; j++) {
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
	for (i = 0; i < n; i++)
		cl[i].k = 0;
	free(ids);
}

/* One run of the n connected clients (their samples topped up first):
 * WARM_S seconds, then RUN_S seconds, or less if more than one in ten
 * clients run out of samples. The latencies in *lat (*nlat of them); returns the
 * completions per second, and the seconds measured in *secs. */
static double
run(struct client *cl, size_t n, bool wake, double **lat, size_t *nlat,
    double *secs)
{
	struct worker w[THREADS];
	size_t i, t, nt = n < THREADS ? n : THREADS, at = 0, done = 0;
	double t0, from, until, end, *all, *dry;

	if (wake)
		prepare_wakes(cl, n,
		    n * WAKE_MIN > WAKE_MAX ? WAKE_MIN :
					      (WAKE_MAX + n - 1) / n);
	for (i = 0; i < n; i++)
		cl[i].dry = cl[i].warm = 0;
	t0 = now_s();
	from = t0 + WARM_S;
	until = from + RUN_S;
	for (t = 0; t < nt; t++) {
		memset(&w[t], 0, sizeof(w[t]));
		w[t].cl = cl + at;
		w[t].n = n / nt + (t < n % nt);
		at += w[t].n;
		w[t].wake = wake;
		w[t].from = wake ? t0 : from; /* settle->wake: see below */
		w[t].until = until;
		if (pthread_create(&w[t].th, NULL, work, &w[t]) != 0)
			die("pthread_create", AF_ENOMEM);
	}
	*nlat = 0;
	for (t = 0; t < nt; t++) {
		pthread_join(w[t].th, NULL);
		*nlat += w[t].nlat;
	}
	if ((dry = calloc(n, sizeof(double))) == NULL)
		die("calloc", AF_ENOMEM);
	/* Settle->wake: warm once every client has had WAKE_WARM wakes. */
	for (i = 0; wake && i < n; i++) {
		if (cl[i].warm == 0)
			die("settle->wake: a client had fewer than WAKE_WARM "
			    "wakes",
			    AF_ETIMEDOUT);
		if (i == 0 || cl[i].warm > from)
			from = cl[i].warm;
	}
	for (i = 0; i < n; i++)
		dry[i] = cl[i].dry == 0 ? until : cl[i].dry;
	qsort(dry, n, sizeof(double), cmp_double);
	end = dry[n / 10] < until ? dry[n / 10] : until;
	free(dry);
	if (end <= from)
		die("settle->wake: the prepared samples ran out in the "
		    "warm-up",
		    AF_ESTATE);
	if ((all = calloc(*nlat + 1, sizeof(double))) == NULL)
		die("calloc", AF_ENOMEM);
	*nlat = 0;
	for (t = 0; t < nt; t++) {
		for (i = 0; i < w[t].nlat; i++) {
			/* Completions in the window; latencies that also
			 * began in it. */
			done += w[t].lat[i].t1 >= from && w[t].lat[i].t1 < end;
			if (w[t].lat[i].t1 < end &&
			    w[t].lat[i].t1 - w[t].lat[i].us / 1e6 >= from)
				all[(*nlat)++] = w[t].lat[i].us;
		}
		free(w[t].lat);
	}
	*lat = all;
	if (*nlat == 0)
		die(wake ? "settle->wake: nothing measured" :
			   "start->answer: nothing measured",
		    AF_ETIMEDOUT);
	*secs = end - from;
	return (double)done / *secs;
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
	double tput[RUNS], *lat, *all = NULL, secs;
	const char *name = wake ? "settle_wake_full" : "start_answer";
	struct client *cl = calloc(n, sizeof(*cl));
	size_t nlat, nall = 0, j;
	int i, k;

	if (cl == NULL)
		die("calloc", AF_ENOMEM);
	for (j = 0; j < n; j++)
		cl[j].c = connect_retry();
	for (i = 0; i < RUNS; i++) {
		tput[i] = run(cl, n, wake, &lat, &nlat, &secs);
		if (secs < RUN_S - 1e-3)
			fprintf(stderr,
			    "bench_latency: %s_c%zu run %d: %.2f s measured of "
			    "%.1f (one client in ten had used its prepared "
			    "samples)\n",
			    name, n, i + 1, secs, RUN_S);
		if ((all = realloc(all, (nall + nlat) * sizeof(double))) ==
		    NULL)
			die("realloc", AF_ENOMEM);
		memcpy(all + nall, lat, nlat * sizeof(double));
		nall += nlat;
		free(lat);
	}
	qsort(all, nall, sizeof(double), cmp_double);
	for (j = 0; j < n; j++) {
		af_close(cl[j].c);
		free(cl[j].vows);
		free(cl[j].outcomes);
		free(cl[j].secrets);
	}
	free(cl);
	for (k = 0; k < 3; k++)
		printf("bench %s_c%zu_p%.0f_us %.0f us\n", name, n, pct[k],
		    all[(size_t)((double)nall * pct[k] / 100)]);
	free(all);
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
