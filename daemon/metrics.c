/*
 * metrics.c: --metrics: /metrics (Prometheus text format 0.0.4) and
 * /healthz over evhttp (see metrics.h). Each scrape reads the counters at
 * that moment on the loop thread, between passes, so what it shows is
 * consistent with what was committed. Counting activations by state scans
 * the activation table: a scrape costs O(activations).
 *
 * /healthz is 200 only when the store accepts writes now: a write
 * transaction can begin (then aborted, nothing written) and the last
 * commit did not fail. Otherwise 503 with the reason on one line.
 *
 * Not here: the counters (engine.h), the socket protocol (server.c).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "api.h"
#include "asyncflow/protocol.h"
#include "asyncflow/version.h"
#include "engine.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"

struct metrics {
	struct evhttp *http;
	struct engine *e;
	struct api *api;
	struct timespec started;
};

static struct timespec process_started; /* by metrics_listen */

/* ---- The listening socket ---------------------------------------------------- */

int
metrics_listen(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[16], shown[300];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *colon = strrchr(spec, ':'), *p;
	size_t hl;
	int fd = -1, one = 1, rc, saved = 0;

	clock_gettime(CLOCK_MONOTONIC, &process_started);
	if (colon == NULL || colon == spec || colon[1] == '\0' ||
	    strlen(colon + 1) >= sizeof(port)) {
		snprintf(err, errlen,
		    "--metrics %s: not ADDR:PORT (e.g. 127.0.0.1:9100 or "
		    "[::1]:9100)",
		    spec);
		return -1;
	}
	for (p = colon + 1; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			break;
	if (*p != '\0' || strtol(colon + 1, NULL, 10) > 65535) {
		snprintf(err, errlen,
		    "--metrics %s: port %s is not a number from 0 to 65535",
		    spec, colon + 1);
		return -1;
	}
	snprintf(port, sizeof(port), "%s", colon + 1);
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host)) {
		snprintf(err, errlen, "--metrics: no address before :%s", port);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "--metrics: address %s: %s", host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 64) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "--metrics: cannot listen on %s:%s: %s",
		    host, port, strerror(saved));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
		sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(shown, sizeof(shown), "%s", spec);
	else
		snprintf(shown, sizeof(shown),
		    ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	log_info("metrics: http://%s/metrics and /healthz (unauthenticated: "
		 "anyone who reaches this address can read them)",
	    shown);
	return fd;
}

/* ---- Exposition ---------------------------------------------------------------- */

static void
family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
one(struct evbuffer *b, const char *name, const char *type, const char *help,
    double v)
{
	family(b, name, type, help);
	evbuffer_add_printf(b, "%s %.15g\n", name, v);
}

/* A label value: backslash, double quote and newline escaped. */
static void
label_value(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

static void
histogram(struct evbuffer *b, const char *name, const char *help,
    const uint64_t *hist, const double *le, size_t n, double sum)
{
	uint64_t cum = 0;
	size_t i;

	family(b, name, "histogram", help);
	for (i = 0; i < n; i++) {
		cum += hist[i];
		evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name,
		    le[i], (unsigned long long)cum);
	}
	cum += hist[n];
	evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)cum);
	evbuffer_add_printf(b, "%s_sum %.15g\n", name, sum);
	evbuffer_add_printf(b, "%s_count %llu\n", name,
	    (unsigned long long)cum);
}

/* Per served object: connected servers (api) and invocations whose result
 * is not settled (the durable outbox). */
struct obj {
	char *name;
	uint64_t servers, pending;
};

struct objs {
	struct obj *v;
	size_t n, cap;
	bool lost; /* out of memory: some objects are left out */
};

static struct obj *
obj_get(struct objs *o, const char *name)
{
	struct obj *tmp;
	size_t i;

	for (i = 0; i < o->n; i++)
		if (strcmp(o->v[i].name, name) == 0)
			return &o->v[i];
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 8;
		if ((tmp = realloc(o->v, o->cap * sizeof(*tmp))) == NULL) {
			o->lost = true;
			return NULL;
		}
		o->v = tmp;
	}
	if ((o->v[o->n].name = strdup(name)) == NULL) {
		o->lost = true;
		return NULL;
	}
	o->v[o->n].servers = o->v[o->n].pending = 0;
	return &o->v[o->n++];
}

static int
server_cb(void *ctx, const char *object, size_t servers, size_t waiting)
{
	struct obj *ob = obj_get(ctx, object);

	(void)waiting;
	if (ob != NULL)
		ob->servers += servers;
	return 0;
}

static int
outbox_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	struct obj *ob = obj_get(ctx, object);

	(void)vow;
	(void)act;
	if (ob != NULL)
		ob->pending++;
	return AF_OK;
}

static void
render(struct metrics *m, struct evbuffer *b)
{
	static const char *const states[] = { "Running", "Sleeping",
		"Replaying", "Failed", "Done" };
	uint64_t counts[ES_DONE + 1];
	struct objs objs = { NULL, 0, 0, false };
	struct engine_stats st;
	struct timespec now;
	size_t i;
	int rc;

	engine_stats(m->e, &st);
	family(b, "asyncflow_build_info", "gauge",
	    "The daemon's version, protocol version and journal format.");
	evbuffer_add_printf(b,
	    "asyncflow_build_info{version=\"%s\",protocol=\"%d\","
	    "journal_format=\"%d\"} 1\n",
	    AF_VERSION, AF_PROTOCOL_VERSION, JOURNAL_FORMAT);
	clock_gettime(CLOCK_MONOTONIC, &now);
	one(b, "asyncflow_uptime_seconds", "gauge",
	    "Seconds since the daemon started.",
	    (double)(now.tv_sec - process_started.tv_sec) +
		(double)(now.tv_nsec - process_started.tv_nsec) / 1e9);
	one(b, "asyncflow_starts_total", "counter",
	    "Activations started by requests.", (double)st.starts);
	one(b, "asyncflow_settles_total", "counter",
	    "Vows that reached a final state, counted when committed.",
	    (double)st.settles);
	one(b, "asyncflow_passes_total", "counter", "Engine passes run.",
	    (double)st.passes);
	one(b, "asyncflow_events_total", "counter",
	    "Events (starts, wakes, settlements delivered) taken by passes.",
	    (double)st.events);
	one(b, "asyncflow_commits_total", "counter",
	    "Write transactions committed or attempted by passes.",
	    (double)st.commits);
	one(b, "asyncflow_commit_failures_total", "counter",
	    "Commits that failed (their requests got the error; the "
	    "activations were rebuilt by replay).",
	    (double)st.commit_failures);
	histogram(b, "asyncflow_commit_duration_seconds",
	    "Time from beginning a pass's write transaction to its commit "
	    "returning, fsync included.",
	    st.commit_hist, engine_commit_le, ENGINE_COMMIT_BUCKETS,
	    st.commit_seconds);
	histogram(b, "asyncflow_pass_events",
	    "Events taken per pass (the pass size).", st.pass_hist,
	    engine_pass_le, ENGINE_PASS_BUCKETS, (double)st.events);
	one(b, "asyncflow_journal_entries_written_total", "counter",
	    "Journal entries written.", (double)st.entries_written);
	one(b, "asyncflow_replays_total", "counter",
	    "Activations replayed (at start, after a failed commit, by "
	    "wake).",
	    (double)st.replays);
	one(b, "asyncflow_replay_failures_total", "counter",
	    "Replays that left the activation Failed.",
	    (double)st.replays_failed);
	one(b, "asyncflow_replayed_entries_total", "counter",
	    "Journal entries answered from the journal by replays.",
	    (double)st.entries_replayed);
	if ((rc = engine_count_states(m->e, counts)) == AF_OK) {
		family(b, "asyncflow_activations", "gauge",
		    "Activations by state.");
		for (i = 0; i <= ES_DONE; i++)
			evbuffer_add_printf(b,
			    "asyncflow_activations{state=\"%s\"} %llu\n",
			    states[i], (unsigned long long)counts[i]);
		one(b, "asyncflow_activations_sleeping", "gauge",
		    "Unfinished activations not in memory.",
		    (double)counts[ES_SLEEPING]);
	} else
		log_warn("metrics: counting activations: %s", af_strerror(rc));
	one(b, "asyncflow_activations_resident", "gauge",
	    "Activations in memory.", (double)st.acts_in_memory);
	one(b, "asyncflow_timers_pending", "gauge", "Durable timers not fired.",
	    (double)engine_timers_pending(m->e));
	one(b, "asyncflow_connections", "gauge", "Client connections open.",
	    (double)api_connections(m->api));
	one(b, "asyncflow_map_used_bytes", "gauge",
	    "Bytes of the store's map in use.", (double)st.map_used_bytes);
	one(b, "asyncflow_map_size_bytes", "gauge",
	    "The store's map size: writes past it fail with EFULL.",
	    (double)st.map_size_bytes);

	api_objects(m->api, server_cb, &objs);
	if ((rc = engine_outbox_list(m->e, 0, outbox_cb, &objs)) != AF_OK)
		log_warn("metrics: reading the outbox: %s", af_strerror(rc));
	if (objs.lost)
		log_warn("metrics: out of memory: some objects left out");
	family(b, "asyncflow_invocations_pending", "gauge",
	    "Invocations sent to an object whose result is not settled.");
	for (i = 0; i < objs.n; i++) {
		evbuffer_add_printf(b,
		    "asyncflow_invocations_pending{object=\"");
		label_value(b, objs.v[i].name);
		evbuffer_add_printf(b, "\"} %llu\n",
		    (unsigned long long)objs.v[i].pending);
	}
	family(b, "asyncflow_servers_connected", "gauge",
	    "Connections serving an object.");
	for (i = 0; i < objs.n; i++) {
		evbuffer_add_printf(b, "asyncflow_servers_connected{object=\"");
		label_value(b, objs.v[i].name);
		evbuffer_add_printf(b, "\"} %llu\n",
		    (unsigned long long)objs.v[i].servers);
		free(objs.v[i].name);
	}
	free(objs.v);
}

/* ---- Requests ------------------------------------------------------------------ */

static bool
get_only(struct evhttp_request *req)
{
	enum evhttp_cmd_type c = evhttp_request_get_command(req);

	if (c == EVHTTP_REQ_GET || c == EVHTTP_REQ_HEAD)
		return true;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	    "GET, HEAD");
	evhttp_send_error(req, 405, "Method Not Allowed");
	return false;
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b;

	if (!get_only(req))
		return;
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, "Out of memory");
		return;
	}
	render(arg, b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

int
metrics_health(struct engine *e, char *why, size_t whylen)
{
	return engine_writable(e, why, whylen) == AF_OK ? 200 : 503;
}

static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *b;
	char why[512];
	int code;

	if (!get_only(req))
		return;
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, "Out of memory");
		return;
	}
	code = metrics_health(m->e, why, sizeof(why));
	evbuffer_add_printf(b, "%s\n", why);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Service Unavailable",
	    b);
	evbuffer_free(b);
}

static void
notfound_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "Not Found: /metrics or /healthz");
}

struct metrics *
metrics_new(struct event_base *base, int fd, struct engine *e, struct api *api,
    char *err, size_t errlen)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->http = evhttp_new(base)) == NULL ||
	    evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		if (m != NULL && m->http != NULL)
			evhttp_free(m->http);
		free(m);
		close(fd);
		return NULL;
	}
	m->e = e;
	m->api = api;
	evhttp_set_allowed_methods(m->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
		EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_cb(m->http, "/metrics", metrics_cb, m);
	evhttp_set_cb(m->http, "/healthz", healthz_cb, m);
	evhttp_set_gencb(m->http, notfound_cb, m);
	evhttp_set_timeout(m->http, 30);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	evhttp_free(m->http); /* closes the listening socket */
	free(m);
}
