/*
 * bench_ipc.c: the daemon's figures through its socket, with the real
 * asyncflowd (forked and exec'd from the build directory) and the real
 * client library. Prints `bench NAME VALUE UNIT` lines.
 *
 *   ipc_starts_per_s[_batch|_none]  start-to-Done of 10,000 `echo`, 4
 *                                   client processes pipelining 64
 *                                   requests each; `ipc_starts_per_s` is
 *                                   durability full (median of 3)
 *   settle_wake_p50_us, _p99_us     a client sends a settle; the same client
 *                                   receives the settled event of the outcome
 *                                   of a flow that awaited that vow and
 *                                   returns at once (durability none)
 *   recovery_s_10k                  start the daemon on 10,000 suspended
 *                                   activations until it answers (those it
 *                                   does not replay first are asleep until
 *                                   an event needs them)
 *   send_roundtrip_p50_us           flow send -> the client serving `bank`
 *                                   settles -> the flow resumes and its next
 *                                   send arrives (the `transfer` flow; none)
 *   timers_per_s                    10,000 durable timers firing (nap flows)
 *                                   set to fire after all are started and
 *                                   watched: 3 times as long as starting
 *                                   recovery's 10,000 flows took, plus
 *                                   0.5 s (1 to 4 s), not a fixed 4 s
 *
 * Usage: bench_ipc BUILD_DIR
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asyncflow.h"
#include "ipckit.h"

/* ---- Starts through the socket ------------------------------------------- */

/* What start_many's requests are: one start, and where the outcomes go
 * (NULL: nowhere). */
struct starts {
	Asyncflow__StartFlow sf;
	uint64_t *outcomes;
};

static void
make_start(long i, Asyncflow__Request *req, void *arg)
{
	struct starts *s = arg;

	(void)i;
	req->op_case = ASYNCFLOW__REQUEST__OP_START;
	req->start = &s->sf;
}

static void
take_start(long i, Asyncflow__Response *r, void *arg)
{
	struct starts *s = arg;

	if (s->outcomes != NULL)
		s->outcomes[i] = r->start->outcome;
}

static void
start_many(af_conn *c, const char *flow, Asyncflow__Value *args, long n,
    int window, uint64_t *outcomes)
{
	struct starts s = { .outcomes = outcomes };

	asyncflow__start_flow__init(&s.sf);
	s.sf.flow = (char *)flow;
	s.sf.args = args;
	pipeline(c, n, window, "start", make_start, take_start, &s);
}

static double
ipc_starts(const char *durability, long n)
{
	const int clients = 4;
	double t0, t1;
	int i, st;
	pid_t kids[4];
	af_conn *c;

	fresh_dir();
	start_daemon(durability);
	c = connect_retry();
	af_close(c);
	t0 = now_s();
	for (i = 0; i < clients; i++) {
		if ((kids[i] = fork()) == 0) {
			Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;

			v.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
			v.int_value = i;
			c = connect_retry();
			start_many(c, "echo", &v, n / clients, 64, NULL);
			af_close(c);
			_exit(0);
		}
	}
	for (i = 0; i < clients; i++)
		waitpid(kids[i], &st, 0);
	t1 = now_s();
	stop_daemon();
	return n / (t1 - t0);
}

/* ---- Settle -> wake latency ------------------------------------------------ */

static void
settle_wake(int samples, double *p50, double *p99)
{
	struct gather_args g;
	Asyncflow__Value one = ASYNCFLOW__VALUE__INIT;
	double *lat = calloc((size_t)samples, sizeof(double));
	uint8_t secret[AF_RESOLVER_LEN];
	uint64_t vow, outcome;
	af_conn *c;
	int i, rc;

	fresh_dir();
	start_daemon("none");
	c = connect_retry();
	gather_args_init(&g);
	one.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	one.int_value = 1;
	for (i = 0; i < samples; i++) {
		if ((rc = af_mkvow(c, &vow, secret)) != AF_OK)
			die("mkvow", rc);
		outcome = start_watched_gather(c, &g, vow);
		lat[i] = settle_to_wake_us(c, vow, secret, &one, outcome);
	}
	af_close(c);
	stop_daemon();
	qsort(lat, (size_t)samples, sizeof(double), cmp_double);
	*p50 = lat[samples / 2];
	*p99 = lat[samples * 99 / 100];
	free(lat);
}

/* ---- Recovery of 10k suspended activations --------------------------------- */

/* Also says in *start_s how long starting the n flows took. */
static double
recovery(long n, double *start_s)
{
	struct gather_args g;
	Asyncflow__StatsReply *st;
	uint8_t secret[AF_RESOLVER_LEN];
	uint64_t vow;
	double t0, t1;
	af_conn *c;
	int rc;

	fresh_dir();
	start_daemon("none");
	c = connect_retry();
	if ((rc = af_mkvow(c, &vow, secret)) != AF_OK)
		die("mkvow", rc);
	gather_args_init(&g);
	g.item.vow_id = vow;
	t0 = now_s();
	start_many(c, "gather", &g.args, n, 256, NULL);
	*start_s = now_s() - t0;
	af_close(c);
	stop_daemon();

	t0 = now_s();
	start_daemon("none");
	c = connect_retry();
	if ((rc = af_stats(c, &st)) != AF_OK)
		die("stats", rc);
	t1 = now_s();
	/* Replayed, or asleep until an event needs them (issue 8). */
	if (st->activations_in_memory + st->sleeping < (uint64_t)n)
		die("recovery: activations are missing", AF_ESTATE);
	af_msg_free(st);
	af_close(c);
	stop_daemon();
	return t1 - t0;
}

/* ---- Sends: the transfer flow against a client serving `bank` -------------- */

static double
send_roundtrip(int transfers)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Serve serve = ASYNCFLOW__SERVE__INIT;
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT,
			 ok = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value from = ASYNCFLOW__VALUE__INIT,
			 to = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value amt = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Field f1 = ASYNCFLOW__FIELD__INIT,
			 f2 = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field f3 = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field *fields[3] = { &f1, &f2, &f3 };
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Response *r;
	Asyncflow__Event *ev;
	Asyncflow__VowInfo *vi;
	double *lat = calloc((size_t)transfers, sizeof(double)), last = 0, p50;
	uint64_t act, outcome;
	bool existing;
	af_conn *srv, *cl;
	int i, n = 0, rc;

	fresh_dir();
	start_daemon("none");
	srv = connect_retry();
	cl = connect_retry();
	serve.object = (char *)"bank";
	req.op_case = ASYNCFLOW__REQUEST__OP_SERVE;
	req.serve = &serve;
	if ((rc = af_request(srv, &req, 10000, &r)) != AF_OK)
		die("serve", rc);
	af_msg_free(r);
	/* {"amount": 5, "from": "a", "to": "b"} */
	amt.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	amt.int_value = 5;
	from.kind_case = to.kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
	af_value_set_string(&from, "a", 1);
	af_value_set_string(&to, "b", 1);
	f1.key = (char *)"amount";
	f1.value = &amt;
	f2.key = (char *)"from";
	f2.value = &from;
	f3.key = (char *)"to";
	f3.value = &to;
	rec.n_fields = 3;
	rec.fields = fields;
	args.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	args.record_value = &rec;
	ok.kind_case = ASYNCFLOW__VALUE__KIND_BOOL_VALUE;
	ok.bool_value = 1;
	for (i = 0; i < transfers; i++) {
		int got = 0;

		if ((rc = af_start(cl, "transfer", &args, NULL, &act, &outcome,
			 &existing)) != AF_OK)
			die("start transfer", rc);
		while (got < 2) {
			if ((rc = af_next_event(srv, 10000, &ev)) != AF_OK)
				die("invocation", rc);
			if (ev->kind_case !=
			    ASYNCFLOW__EVENT__KIND_INVOCATION) {
				af_msg_free(ev);
				continue;
			}
			if (got == 1)
				lat[n++] = (now_s() - last) * 1e6;
			last = now_s();
			rc = af_settle(srv, ev->invocation->vow,
			    ev->invocation->resolver.data, false, &ok, &vi);
			if (rc != AF_OK)
				die("settle invocation", rc);
			af_msg_free(vi);
			af_msg_free(ev);
			got++;
		}
		if ((rc = af_get_vow(cl, outcome, true, 10000, &vi)) != AF_OK)
			die("transfer outcome", rc);
		af_msg_free(vi);
	}
	af_close(cl);
	af_close(srv);
	stop_daemon();
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	p50 = lat[n / 2];
	free(lat);
	return p50;
}

/* ---- Timers ------------------------------------------------------------------ */

/* n naps of nap_ms each, watched; the rate at which they fire. */
static double
timers(long n, long nap_ms)
{
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT,
			 ms = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Field f = ASYNCFLOW__FIELD__INIT, *fields[1] = { &f };
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__WatchVow wv = ASYNCFLOW__WATCH_VOW__INIT;
	Asyncflow__Response *r;
	Asyncflow__Event *ev;
	uint64_t *outs = calloc((size_t)n, sizeof(*outs));
	uint64_t *ids = calloc((size_t)n, sizeof(*ids));
	double t_first = 0, t_last = 0;
	long i, fired = 0, early = 0;
	af_conn *c;
	int rc;

	fresh_dir();
	start_daemon("none");
	c = connect_retry();
	ms.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	ms.int_value = nap_ms;
	f.key = (char *)"ms";
	f.value = &ms;
	rec.n_fields = 1;
	rec.fields = fields;
	args.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	args.record_value = &rec;
	start_many(c, "nap", &args, n, 256, outs);
	/* The watches pipelined (one at a time took longer than the naps
	 * on a loaded machine). */
	req.op_case = ASYNCFLOW__REQUEST__OP_WATCH_VOW;
	req.watch_vow = &wv;
	for (i = 0; i < n; i++) {
		wv.vow = outs[i];
		if ((rc = af_send_request(c, &req, &ids[i])) != AF_OK)
			die("watch", rc);
	}
	for (i = 0; i < n; i++) {
		if ((rc = af_wait_response(c, ids[i], 30000, &r)) != AF_OK)
			die("watch", rc);
		/* On a loaded machine the first naps may be over before
		 * the last are watched: those are not counted. */
		if (r->vow->state != ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING)
			early++;
		af_msg_free(r);
	}
	free(ids);
	if (early > n / 10 * 9)
		die("timers: started too slowly for the bench", AF_ESTATE);
	while (fired + early < n) {
		if ((rc = af_next_event(c, 30000, &ev)) != AF_OK)
			die("timer event", rc);
		if (ev->kind_case == ASYNCFLOW__EVENT__KIND_VOW_SETTLED) {
			if (fired++ == 0)
				t_first = now_s();
			t_last = now_s();
		}
		af_msg_free(ev);
	}
	af_close(c);
	stop_daemon();
	free(outs);
	return fired / (t_last - t_first + 1e-3);
}

int
main(int argc, char **argv)
{
	double full[3], p50, p99, rec, rt, tps, start_s;
	long nap_ms;
	int i;

	bdir = argc > 1 ? argv[1] : "build";
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 3; i++)
		full[i] = ipc_starts("full", 10000);
	qsort(full, 3, sizeof(double), cmp_double);
	printf("bench ipc_starts_per_s %.0f starts/s\n", full[1]);
	printf("bench ipc_starts_per_s_batch %.0f starts/s\n",
	    ipc_starts("batch", 10000));
	printf("bench ipc_starts_per_s_none %.0f starts/s\n",
	    ipc_starts("none", 10000));
	settle_wake(2000, &p50, &p99);
	printf("bench settle_wake_p50_us %.1f us\n", p50);
	printf("bench settle_wake_p99_us %.1f us\n", p99);
	rec = recovery(10000, &start_s);
	printf("bench recovery_s_10k %.3f s\n", rec);
	rt = send_roundtrip(1000);
	printf("bench send_roundtrip_p50_us %.1f us\n", rt);
	/* The naps must outlast their own starts and watches (10,000 of
	 * each, pipelined, as fast as recovery's starts or faster): those
	 * that fire before they are watched are not counted. */
	nap_ms = (long)(3000 * start_s) + 500;
	if (nap_ms < 1000)
		nap_ms = 1000;
	if (nap_ms > 4000)
		nap_ms = 4000;
	tps = timers(10000, nap_ms);
	printf("bench timers_per_s %.0f timers/s\n", tps);
	remove_dir();
	return 0;
}
