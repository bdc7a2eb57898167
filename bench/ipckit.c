/*
 * ipckit.c: the daemon and connection helpers the socket benchmarks share
 * (see ipckit.h).
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ipckit.h"

const char *bdir = "build";
char dir[256], sock[300];
pid_t daemon_pid;

void
die(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
	    af_strerror(rc));
	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	exit(1);
}

af_conn *
connect_retry(void)
{
	af_conn *c;
	char err[256];
	int i;

	for (i = 0; i < 2000; i++) {
		if (af_connect(sock, &c, err, sizeof(err)) == AF_OK)
			return c;
		usleep(2000);
	}
	fprintf(stderr, "%s: connect: %s\n", program_invocation_short_name,
	    err);
	exit(1);
}

void
remove_dir(void)
{
	char cmd[300];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: cannot remove %s\n",
		    program_invocation_short_name, dir);
	dir[0] = '\0';
}

void
fresh_dir(void)
{
	const char *t = getenv("TMPDIR");

	remove_dir();
	snprintf(dir, sizeof(dir), "%s/afbench.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", AF_ESTORE);
	snprintf(sock, sizeof(sock), "%s/asyncflowd.sock", dir);
}

void
start_daemon(const char *durability)
{
	start_daemon_resident(durability, NULL);
}

void
start_daemon_resident(const char *durability, const char *max_resident)
{
	char exe[512];

	snprintf(exe, sizeof(exe), "%s/asyncflowd", bdir);
	if ((daemon_pid = fork()) == 0) {
		if (max_resident != NULL)
			execl(exe, exe, "-q", "-d", dir, "--durability",
			    durability, "--max-resident", max_resident,
			    (char *)NULL);
		else
			execl(exe, exe, "-q", "-d", dir, "--durability",
			    durability, (char *)NULL);
		_exit(127);
	}
}

void
stop_daemon(void)
{
	int st;

	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &st, 0);
	daemon_pid = 0;
}

void
pipeline(af_conn *c, long n, int window, const char *what,
    void (*make)(long, Asyncflow__Request *, void *),
    void (*take)(long, Asyncflow__Response *, void *), void *arg)
{
	Asyncflow__Request req;
	Asyncflow__Response *r;
	uint64_t *ids = calloc((size_t)window, sizeof(*ids));
	long sent = 0, done = 0;
	char msg[64];
	int rc;

	if (ids == NULL)
		die("calloc", AF_ENOMEM);
	while (done < n) {
		while (sent < n && sent - done < window) {
			asyncflow__request__init(&req);
			make(sent, &req, arg);
			if ((rc = af_send_request(c, &req,
				 &ids[sent % window])) != AF_OK) {
				snprintf(msg, sizeof(msg), "send %s", what);
				die(msg, rc);
			}
			sent++;
		}
		if ((rc = af_wait_response(c, ids[done % window], -1, &r)) !=
		    AF_OK)
			die(what, rc);
		if (take != NULL)
			take(done, r, arg);
		af_msg_free(r);
		done++;
	}
	free(ids);
}

void
gather_args_init(struct gather_args *g)
{
	asyncflow__value__init(&g->args);
	asyncflow__value__init(&g->item);
	asyncflow__list__init(&g->list);
	g->items[0] = &g->item;
	g->list.n_items = 1;
	g->list.items = g->items;
	g->args.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	g->args.list_value = &g->list;
	g->item.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
}

uint64_t
start_watched_gather(af_conn *c, struct gather_args *g, uint64_t vow)
{
	Asyncflow__VowInfo *vi;
	uint64_t act, outcome;
	bool existing;
	int rc;

	g->item.vow_id = vow;
	if ((rc = af_start(c, "gather", &g->args, NULL, &act, &outcome,
		 &existing)) != AF_OK)
		die("start gather", rc);
	if ((rc = af_watch_vow(c, outcome, &vi)) != AF_OK)
		die("watch", rc);
	af_msg_free(vi);
	return outcome;
}

double
settle_to_wake_us(af_conn *c, uint64_t vow, const uint8_t *secret,
    Asyncflow__Value *value, uint64_t outcome)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__SettleVow sv = ASYNCFLOW__SETTLE_VOW__INIT;
	Asyncflow__Event *ev;
	uint64_t id;
	double t0, us;
	int rc;

	sv.vow = vow;
	sv.resolver.data = (uint8_t *)secret;
	sv.resolver.len = AF_RESOLVER_LEN;
	sv.value = value;
	req.op_case = ASYNCFLOW__REQUEST__OP_SETTLE;
	req.settle = &sv;
	t0 = now_s();
	if ((rc = af_send_request(c, &req, &id)) != AF_OK)
		die("settle", rc);
	for (;;) {
		if ((rc = af_next_event(c, 10000, &ev)) != AF_OK)
			die("event", rc);
		if (ev->kind_case == ASYNCFLOW__EVENT__KIND_VOW_SETTLED &&
		    ev->vow_settled->vow == outcome) {
			af_msg_free(ev);
			break;
		}
		af_msg_free(ev);
	}
	us = (now_s() - t0) * 1e6;
	af_forget_response(c, id);
	return us;
}
