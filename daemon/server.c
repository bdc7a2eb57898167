/*
 * server.c: the daemon's event loop, and the only file that includes
 * libevent. A Unix socket (mode 0600, peers must have our uid), frames of
 * a 4-byte big-endian length plus one protobuf message, and the group
 * commit: every request read in one loop iteration is handed to the api,
 * then ONE turn (turn.c: timers, engine pass, replies) runs at a lower
 * priority than all I/O (so after every ready connection has been read)
 * and commits them together; the replies leave after that commit.
 *
 * Not here: what requests mean (api.c), the pass policy (turn.c), flows
 * (engine.c).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "api.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "store.h"
#include "turn.h"
#include "u64map.h"

struct conn {
	uint64_t id;
	struct server *srv;
	struct bufferevent *bev;
	bool greeted;
	bool closing; /* close once the output has drained */
	bool dead;    /* close at the next chance (reap_cb): never
				 * freed from inside a send */
};

struct server {
	struct event_base *base;
	struct evconnlistener *lis;
	struct event *pass_ev;
	struct event *reap_ev;
	struct event *sig_term, *sig_int, *sig_hup, *sync_ev, *timer_ev;
	struct api *api;
	struct u64map conns;
	uint64_t next_conn;
	struct server_opts o;
	struct turn turn;
	bool pass_scheduled;
	bool stopping;
	struct event *backoff_ev;
	int exit_code;
	struct metrics *metrics; /* --metrics, or NULL */
	bool ready_sent;         /* o.ready called (after the first turn) */
};

static void conn_free(struct conn *c);
static void conn_kill(struct conn *c);

/* ---- Sending ------------------------------------------------------------------ */

static void
send_cb(void *ctx, uint64_t id, const uint8_t *msg, size_t n)
{
	struct server *srv = ctx;
	struct conn *c = u64map_get(&srv->conns, id);
	struct evbuffer *out;
	uint8_t hdr[AF_FRAME_HEADER];

	if (c == NULL || c->dead)
		return; /* gone: the reply has nobody to go to */
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) + n > srv->o.max_output) {
		log_warn("connection %llu: more than %zu bytes of output "
			 "waiting; closing it (slow client)",
		    (unsigned long long)id, srv->o.max_output);
		conn_kill(c);
		return;
	}
	if (af__frame_put_header(hdr, n) != AF_OK) {
		/* api.c packs no message over AF_MAX_FRAME */
		log_error("connection %llu: a message of %zu bytes is over "
			  "the frame limit; not sent",
		    (unsigned long long)id, n);
		return;
	}
	evbuffer_add(out, hdr, sizeof(hdr));
	evbuffer_add(out, msg, n);
}

/* ---- The pass --------------------------------------------------------------------- */

static void
schedule_pass(struct server *srv)
{
	if (!srv->pass_scheduled) {
		srv->pass_scheduled = true;
		event_active(srv->pass_ev, 0, 0);
	}
}

static struct timeval
ms_tv(int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* One turn (turn.c), then the events its answer asks for. */
static void
pass_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct turn_next next;
	struct timeval tv;

	(void)fd;
	(void)what;
	srv->pass_scheduled = false;
	turn_run(&srv->turn, &next);
	if (!srv->ready_sent) { /* the replays queued at open have run */
		srv->ready_sent = true;
		if (srv->o.ready != NULL)
			srv->o.ready(srv->o.ready_ctx);
	}
	if (srv->stopping) { /* what is queued is rebuilt at the next start */
		event_base_loopbreak(srv->base);
		return;
	}
	if (next.backoff_ms > 0) {
		tv = ms_tv(next.backoff_ms);
		evtimer_add(srv->backoff_ev, &tv);
		return;
	}
	if (next.again)
		schedule_pass(srv);
	/* Wake up when the earliest durable timer is due. */
	evtimer_del(srv->timer_ev);
	if (next.wake_ms >= 0) {
		tv = ms_tv(next.wake_ms);
		evtimer_add(srv->timer_ev, &tv);
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	schedule_pass(arg);
}

/* ---- Connections ------------------------------------------------------------------ */

static void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	u64map_del(&srv->conns, c->id);
	api_conn_closed(srv->api, c->id);
	api_set_connections(srv->api, srv->conns.len);
	bufferevent_free(c->bev);
	log_debug("connection %llu closed", (unsigned long long)c->id);
	free(c);
	/* Its invocations may have gone to other servers: send them. */
	if (!srv->stopping)
		schedule_pass(srv);
}

/* Close as soon as control is back in the loop (the caller may be deep in
 * a send loop that must not see the connection vanish). */
static void
conn_kill(struct conn *c)
{
	c->dead = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->srv->reap_ev, 0, 0);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn **dead = NULL, **tmp;
	size_t i = 0, n = 0;
	uint64_t k;
	void *p;

	(void)fd;
	(void)what;
	while (u64map_next(&srv->conns, &i, &k, &p)) {
		if (!((struct conn *)p)->dead)
			continue;
		if ((tmp = realloc(dead, (n + 1) * sizeof(*dead))) == NULL)
			break;
		dead = tmp;
		dead[n++] = p;
	}
	for (i = 0; i < n; i++)
		conn_free(dead[i]);
	free(dead);
}

/* Close after what is queued has been written. */
static void
conn_close_soon(struct conn *c)
{
	if (c->dead)
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[AF_FRAME_HEADER], *frame;
	size_t len;
	int rc;

	while (!c->closing && !c->dead &&
	    evbuffer_get_length(in) >= AF_FRAME_HEADER) {
		evbuffer_copyout(in, hdr, AF_FRAME_HEADER);
		if (af__frame_get_header(hdr, &len) != AF_OK) {
			log_warn("connection %llu: frame of %zu bytes is over "
				 "the %u limit; closing",
			    (unsigned long long)c->id, len, AF_MAX_FRAME);
			api_protocol_error(srv->api, c->id, "frame too large");
			conn_close_soon(c);
			break;
		}
		if (evbuffer_get_length(in) < AF_FRAME_HEADER + len)
			break;
		frame = evbuffer_pullup(in,
		    (ev_ssize_t)(AF_FRAME_HEADER + len));
		if (frame == NULL) {
			log_warn("connection %llu: out of memory reading a "
				 "frame; closing",
			    (unsigned long long)c->id);
			conn_close_soon(c);
			break;
		}
		rc = api_frame(srv->api, c->id, &c->greeted,
		    frame + AF_FRAME_HEADER, len);
		evbuffer_drain(in, AF_FRAME_HEADER + len);
		if (rc == AF_EDECODE) {
			log_warn("connection %llu: frame does not decode; "
				 "closing",
			    (unsigned long long)c->id);
			conn_close_soon(c);
			break;
		}
		if (rc == AF_EPROTO) {
			log_warn("connection %llu: protocol error; closing",
			    (unsigned long long)c->id);
			conn_close_soon(c);
		}
	}
	schedule_pass(srv);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if ((what & BEV_EVENT_ERROR) && errno != ECONNRESET &&
		    errno != EPIPE)
			log_debug("connection %llu: %s",
			    (unsigned long long)c->id, strerror(errno));
		conn_free(c);
	}
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct server *srv = arg;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c;

	(void)lis;
	(void)sa;
	(void)socklen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
	    (cred.uid != geteuid() && cred.uid != srv->o.allow_uid &&
		!(srv->o.has_group && cred.gid == srv->o.group))) {
		log_warn("refused a connection from uid %ld gid %ld (uid %ld%s "
			 "may connect)",
		    cl == sizeof(cred) ? (long)cred.uid : -1L,
		    cl == sizeof(cred) ? (long)cred.gid : -1L, (long)geteuid(),
		    srv->o.has_group ? " and the socket's group" : "");
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->id = ++srv->next_conn;
	c->srv = srv;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL || u64map_put(&srv->conns, c->id, c) != AF_OK) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	api_set_connections(srv->api, srv->conns.len);
	log_debug("connection %llu from pid %ld", (unsigned long long)c->id,
	    (long)cred.pid);
}

/* ---- Signals and timers ---------------------------------------------------------- */

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	log_info("%s: finishing the pass and stopping",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	srv->stopping = true;
	if (srv->o.stopping != NULL)
		srv->o.stopping(srv->o.ready_ctx);
	evconnlistener_disable(srv->lis);
	schedule_pass(srv);
}

/* SIGHUP (a closed terminal, a supervisor's reload) must not kill the
 * daemon: it logs to stderr, so there is no log file to reopen. */
static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_info("SIGHUP: ignored (the log is stderr: nothing to reopen)");
}

static void
sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	turn_sync(&srv->turn);
}

/* ---- Socket ------------------------------------------------------------------------ */

static int
listen_socket(const char *path, const struct server_opts *o, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen,
		    "socket path too long (%zu bytes, the "
		    "limit is %zu): %s",
		    strlen(path), sizeof(sun.sun_path) - 1, path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A socket file left by a crash is replaced; a live one is not. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			snprintf(err, errlen, "another daemon is serving %s",
			    path);
			return -1;
		}
		close(probe);
		if (errno == ECONNREFUSED) {
			struct stat sb;

			/* Only a socket file is ours to replace. */
			if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
				snprintf(err, errlen,
				    "%s exists and is not a "
				    "socket",
				    path);
				return -1;
			}
			unlink(path);
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		umask(old);
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (o->has_group &&
	    (chown(path, (uid_t)-1, o->group) != 0 || chmod(path, 0660) != 0)) {
		snprintf(err, errlen, "socket group of %s: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if ((!o->has_group && chmod(path, 0600) != 0) || listen(fd, 128) != 0) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* ---- Lifecycle -------------------------------------------------------------------- */

int
server_run(struct engine *e, struct store *s, const struct server_opts *o,
    char *err, size_t errlen)
{
	struct server srv;
	struct event_config *cfg;
	struct timeval tv;
	int fd, rc = AF_OK;

	memset(&srv, 0, sizeof(srv));
	srv.o = *o;
	if (srv.o.max_output == 0)
		srv.o.max_output = 64u << 20;
	u64map_init(&srv.conns);
	signal(SIGPIPE, SIG_IGN);

	if (o->listen_fd > 0)
		fd = o->listen_fd; /* socket activation: bound already */
	else if ((fd = listen_socket(o->socket_path, o, err, errlen)) < 0)
		return AF_ESTATE;
	if ((cfg = event_config_new()) == NULL ||
	    (srv.base = event_base_new_with_config(cfg)) == NULL) {
		snprintf(err, errlen, "libevent: cannot create the event base");
		event_config_free(cfg);
		close(fd);
		return AF_ENOMEM;
	}
	event_config_free(cfg);
	/* I/O at priority 0 runs before the pass at priority 1. */
	event_base_priority_init(srv.base, 2);
	srv.api = api_new(e, send_cb, &srv, o->durability);
	srv.pass_ev = event_new(srv.base, -1, 0, pass_cb, &srv);
	srv.reap_ev = event_new(srv.base, -1, 0, reap_cb, &srv);
	srv.lis = evconnlistener_new(srv.base, accept_cb, &srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	srv.sig_term = evsignal_new(srv.base, SIGTERM, signal_cb, &srv);
	srv.sig_int = evsignal_new(srv.base, SIGINT, signal_cb, &srv);
	srv.sig_hup = evsignal_new(srv.base, SIGHUP, sighup_cb, &srv);
	srv.timer_ev = evtimer_new(srv.base, timer_cb, &srv);
	srv.backoff_ev = evtimer_new(srv.base, timer_cb, &srv);
	if (srv.api == NULL || srv.pass_ev == NULL || srv.lis == NULL ||
	    srv.timer_ev == NULL || srv.reap_ev == NULL ||
	    srv.backoff_ev == NULL || srv.sig_term == NULL ||
	    srv.sig_int == NULL || srv.sig_hup == NULL) {
		snprintf(err, errlen, "out of memory setting up the loop");
		rc = AF_ENOMEM;
		goto out;
	}
	if (o->has_metrics &&
	    (srv.metrics = metrics_new(srv.base, o->metrics_fd, e, srv.api,
		 err, errlen)) == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	turn_init(&srv.turn, e, s, srv.api);
	engine_set_commit_hook(e, api_on_commit, srv.api);
	if ((rc = api_load_outbox(srv.api)) != AF_OK) {
		snprintf(err, errlen, "reading the outbox: %s",
		    af_strerror(rc));
		goto out;
	}
	event_priority_set(srv.pass_ev, 1);
	event_add(srv.sig_term, NULL);
	event_add(srv.sig_int, NULL);
	event_add(srv.sig_hup, NULL);
	if (o->batch_ms > 0) {
		srv.sync_ev = event_new(srv.base, -1, EV_PERSIST, sync_cb,
		    &srv);
		tv.tv_sec = o->batch_ms / 1000;
		tv.tv_usec = (o->batch_ms % 1000) * 1000;
		event_add(srv.sync_ev, &tv);
	}
	/* The replays queued at open run in the first pass. */
	schedule_pass(&srv);
	log_info("serving %s (durability %s, incarnation %llu)", o->socket_path,
	    o->durability, (unsigned long long)engine_incarnation(e));
	event_base_dispatch(srv.base);
	log_info("stopped");
out : {
	size_t i = 0;
	uint64_t k;
	void *p;

	srv.stopping = true;
	while (u64map_next(&srv.conns, &i, &k, &p)) {
		struct conn *c = p;
		struct evbuffer *out = bufferevent_get_output(c->bev);

		/* Replies of the last pass: best effort, no wait. */
		while (evbuffer_get_length(out) > 0 &&
		    evbuffer_write(out, bufferevent_getfd(c->bev)) > 0)
			;
		conn_free(c);
		i = 0;
	}
}
	engine_set_commit_hook(e, NULL, NULL);
	u64map_release(&srv.conns);
	if (srv.sync_ev)
		event_free(srv.sync_ev);
	if (srv.timer_ev)
		event_free(srv.timer_ev);
	if (srv.backoff_ev)
		event_free(srv.backoff_ev);
	if (srv.sig_term)
		event_free(srv.sig_term);
	if (srv.sig_int)
		event_free(srv.sig_int);
	if (srv.sig_hup)
		event_free(srv.sig_hup);
	if (srv.pass_ev)
		event_free(srv.pass_ev);
	if (srv.reap_ev)
		event_free(srv.reap_ev);
	if (srv.lis)
		evconnlistener_free(srv.lis);
	else
		close(fd);
	if (o->listen_fd <= 0) /* a passed socket is its manager's */
		unlink(o->socket_path);
	metrics_free(srv.metrics);
	api_free(srv.api);
	event_base_free(srv.base);
	return rc;
}
