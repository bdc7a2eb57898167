/*
 * server.c: the daemon's event loop, and the only file that includes
 * libevent. A Unix socket (mode 0600, peers must have our uid), frames of
 * a 4-byte big-endian length plus one protobuf message, and the group
 * commit: every request read in one loop iteration is handed to the api,
 * then ONE turn (turn.c: timers, engine pass, replies) runs after every
 * connection that poll found ready has been read (the first read activates
 * the pass behind the others; a pass asked for by a pass waits for the
 * next poll, schedule_pass) and commits them together; the replies leave
 * after that commit.
 *
 * Replies are written straight to the socket once control is back in the
 * loop (flush_cb), all that a connection got in one sweep in one writev;
 * only what the socket does not take waits for it to be writable (the
 * bufferevent's write event, enabled until its output is empty again).
 * A reply so costs one system call, not a poll for writability too and
 * two changes to the epoll set.
 *
 * Limits, so that no client (or uid) can exhaust the daemon: at most
 * FAIR_FRAMES_PER_TURN frames of a connection per turn (fair.c), at most
 * max_connections connections (one more gets an error reply), accept()
 * rested after it fails (out of descriptors) and logged once per episode,
 * a frame left incomplete for idle_timeout_s closes its connection, and
 * what all connections of a uid buffer is bounded by max_uid_buffer.
 *
 * Not here: what requests mean (api.c), the pass policy (turn.c), flows
 * (engine.c), the order of deferred connections (fair.c).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <sys/queue.h>
#include <sys/resource.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "api.h"
#include "fair.h"
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
	struct event *idle_ev; /* armed while a frame is incomplete */
	struct uidacct *acct;  /* what its uid's connections buffer */
	size_t buffered;       /* this one's share of acct->bytes */
	size_t peak;           /* the most it ever buffered */
	bool greeted;
	bool closing;            /* close once the output has drained */
	bool dead;               /* close at the next chance (reap_cb): never
				 * freed from inside a send */
	bool backlog;            /* complete frames wait for the next turn */
	bool queued;             /* in srv->flushq */
	TAILQ_ENTRY(conn) flink; /* srv->flushq, while queued */
	TAILQ_ENTRY(conn) clink; /* srv->closing, while closing */
};

/* The bytes all connections of one uid buffer (input and output). */
struct uidacct {
	uid_t uid;
	size_t bytes;
	size_t nconns;
	bool warned; /* logged once per episode over the limit */
};

/* A flush writes at most FLUSH_MAX bytes of a connection, FLUSH_CHUNK per
 * write; the rest waits for the write event (conn_flush). */
#define FLUSH_CHUNK (64u << 10)
#define FLUSH_MAX   (1u << 20)

/* Descriptors kept for the store, the log, modules: --max-connections
 * defaults to the descriptor limit minus these. */
#define FD_RESERVE        32
/* How long the listener rests when accept() runs out of descriptors. */
#define ACCEPT_BACKOFF_MS 100
/* An episode of accept() failures ends after this long without one. */
#define EPISODE_QUIET_MS  1000

struct server {
	struct event_base *base;
	struct evconnlistener *lis;
	struct event *pass_ev;
	struct event *reap_ev;
	struct event *flush_ev;     /* active while flushq is not empty */
	TAILQ_HEAD(, conn) flushq;  /* connections with output to write */
	TAILQ_HEAD(, conn) closing; /* connections to close (conn_done) */
	struct event *sig_term, *sig_int, *sig_hup, *sync_ev, *timer_ev;
	struct api *api;
	struct u64map conns;
	uint64_t next_conn;
	struct server_opts o;
	struct turn turn;
	bool pass_scheduled;
	bool in_pass; /* pass_cb is running (schedule_pass) */
	bool stopping;
	struct event *backoff_ev;
	int exit_code;
	struct metrics *metrics;  /* --metrics, or NULL */
	bool ready_sent;          /* o.ready called (after the first turn) */
	struct event *accept_ev;  /* re-enables the listener after a rest */
	bool accept_starved;      /* in an episode of accept() failures */
	int64_t accept_failed_ms; /* the last one (monotonic) */
	bool conn_capped;         /* in an episode at --max-connections */
	struct u64map uids;       /* uid + 1 -> struct uidacct */
	struct fairq fair;        /* connections with frames waiting */
	struct event *api_fd_ev;  /* api_set_watch's descriptor, or NULL */
};

static void conn_free(struct conn *c);
static void conn_kill(struct conn *c);
static void conn_account(struct conn *c);
static bool conn_drain(struct conn *c, size_t max);

/* ---- Sending ------------------------------------------------------------------ */

static void conn_queue_flush(struct conn *c);

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
	conn_account(c);
	conn_queue_flush(c);
}

/* c's output is written by flush_cb, once this callback is done (its other
 * replies of the sweep go in the same writev). */
static void
conn_queue_flush(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->queued)
		return;
	if (TAILQ_EMPTY(&srv->flushq))
		event_active(srv->flush_ev, 0, 0);
	TAILQ_INSERT_TAIL(&srv->flushq, c, flink);
	c->queued = true;
}

/* Write c's output until it is empty or the socket takes no more. The
 * bufferevent keeps the front of its output frozen but while it writes
 * itself: thawed here the same way. At most max bytes (0: no limit). */
static void
conn_write(struct conn *c, size_t max)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int fd = bufferevent_getfd(c->bev);
	size_t done = 0, want;
	int n;

	evbuffer_unfreeze(out, 1);
	while (
	    (want = evbuffer_get_length(out)) > 0 && (max == 0 || done < max)) {
		if (want > FLUSH_CHUNK)
			want = FLUSH_CHUNK;
		if ((n = evbuffer_write_atmost(out, fd, (ev_ssize_t)want)) <= 0)
			break;
		done += (size_t)n;
		if ((size_t)n < want) /* the socket is full */
			break;
	}
	evbuffer_freeze(out, 1);
}

/*
 * Close a closing connection once its output is written and the api holds
 * no reply for it: replies of requests read before the close are sent by
 * the pass (api_after_pass), which queues the connection again.
 */
static bool
conn_done(struct conn *c)
{
	if (!c->closing ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 ||
	    api_holds(c->srv->api, c->id))
		return false;
	conn_free(c);
	return true;
}

/*
 * Write what c has queued, as far as the socket takes it and at most
 * FLUSH_MAX bytes, so that one big reply does not hold the loop. The rest,
 * and an error, go to the bufferevent: its write event (enabled here, until
 * write_cb finds the output empty) writes the rest when the socket can take
 * it, and reports an error as any write would (event_cb).
 */
static void
conn_flush(struct conn *c)
{
	conn_write(c, FLUSH_MAX);
	conn_account(c);
	if (conn_done(c))
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		bufferevent_enable(c->bev, EV_WRITE);
	else
		bufferevent_disable(c->bev, EV_WRITE);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	(void)fd;
	(void)what;
	/* conn_flush may free a closing connection, and what conn_free
	 * hands elsewhere may queue others: they are written in this same
	 * loop. */
	while ((c = TAILQ_FIRST(&srv->flushq)) != NULL) {
		TAILQ_REMOVE(&srv->flushq, c, flink);
		c->queued = false;
		if (!c->dead)
			conn_flush(c);
	}
}

/* ---- The pass --------------------------------------------------------------------- */

/*
 * A pass in this sweep, after the callbacks already due (the reads of the
 * connections that were ready). Asked for by a pass itself (the engine is
 * busy, deferred connections have frames left), it runs after the next
 * poll of the sockets instead: activated from its own callback it would
 * run again in the same sweep, and the loop would read no socket until
 * the engine is idle. As a timer due now it runs in the next sweep, after
 * the reads that poll finds ready.
 */
static void
schedule_pass(struct server *srv)
{
	static const struct timeval now = { 0, 0 };

	if (srv->pass_scheduled)
		return;
	srv->pass_scheduled = true;
	if (srv->in_pass)
		event_add(srv->pass_ev, &now);
	else
		event_active(srv->pass_ev, 0, 0);
}

static struct timeval
ms_tv(int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* fair.c's feed: c's next share of frames, after a turn. */
static bool
feed_cb(void *ctx, uint64_t id, size_t max)
{
	struct conn *c = u64map_get(&((struct server *)ctx)->conns, id);
	bool more;

	if (c == NULL)
		return false;
	if (!(more = conn_drain(c, max)))
		c->backlog = false;
	return more;
}

/* A descriptor the api watches (api_set_watch: the upgrade checker's
 * output): read while readable; when the api is done with it, the event
 * goes and a pass sends what the api queued. */
static void
api_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	if (!api_fd_readable(srv->api, fd))
		return;
	event_free(srv->api_fd_ev);
	srv->api_fd_ev = NULL;
	schedule_pass(srv);
}

static int
api_watch_cb(void *ctx, int fd)
{
	struct server *srv = ctx;

	if (srv->api_fd_ev != NULL) /* the api has one at a time */
		return -1;
	srv->api_fd_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST,
	    api_fd_cb, srv);
	if (srv->api_fd_ev == NULL || event_add(srv->api_fd_ev, NULL) != 0) {
		if (srv->api_fd_ev != NULL)
			event_free(srv->api_fd_ev);
		srv->api_fd_ev = NULL;
		return -1;
	}
	return 0;
}

static void pass_run(struct server *);
static void closing_check(struct server *);

/* One turn (turn.c), then the events its answer asks for. */
static void
pass_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	srv->pass_scheduled = false;
	srv->in_pass = true;
	pass_run(srv);
	srv->in_pass = false;
}

/* The body of pass_cb (which marks it in_pass). */
static void
pass_run(struct server *srv)
{
	struct turn_next next;
	struct timeval tv;

	turn_run(&srv->turn, &next);
	closing_check(srv);
	if (!srv->ready_sent) { /* the replays queued at open have run */
		srv->ready_sent = true;
		if (srv->o.ready != NULL)
			srv->o.ready(srv->o.ready_ctx);
	}
	if (srv->stopping) { /* what is queued is rebuilt at the next start */
		event_base_loopbreak(srv->base);
		return;
	}
	if (fairq_round(&srv->fair, feed_cb, srv, FAIR_FRAMES_PER_TURN))
		schedule_pass(srv);
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

/* Bring acct->bytes up to date with what c buffers now. */
static void
conn_account(struct conn *c)
{
	size_t now;

	if (c->acct == NULL)
		return;
	now = evbuffer_get_length(bufferevent_get_input(c->bev)) +
	    evbuffer_get_length(bufferevent_get_output(c->bev));
	c->acct->bytes = c->acct->bytes - c->buffered + now;
	c->buffered = now;
	if (now > c->peak)
		c->peak = now;
}

static void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;
	bool big = c->peak >= (1u << 20);

	u64map_del(&srv->conns, c->id);
	if (c->queued)
		TAILQ_REMOVE(&srv->flushq, c, flink);
	if (c->closing)
		TAILQ_REMOVE(&srv->closing, c, clink);
	api_conn_closed(srv->api, c->id);
	api_set_connections(srv->api, srv->conns.len);
	if (c->acct != NULL) {
		c->acct->bytes -= c->buffered;
		if (--c->acct->nconns == 0) {
			u64map_del(&srv->uids, (uint64_t)c->acct->uid + 1);
			free(c->acct);
		}
	}
	if (c->idle_ev != NULL)
		event_free(c->idle_ev);
	/* libevent frees a bufferevent later (a finalizer): free its
	 * buffers now, so that the trim below finds them free. */
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	evbuffer_unfreeze(bufferevent_get_output(c->bev), 1);
	evbuffer_drain(bufferevent_get_output(c->bev),
	    evbuffer_get_length(bufferevent_get_output(c->bev)));
	bufferevent_free(c->bev);
	log_debug("connection %llu closed", (unsigned long long)c->id);
	free(c);
#ifdef __GLIBC__
	/* The chains of a big frame went back to malloc, which keeps them
	 * (its mmap threshold grows with what was freed): give the pages
	 * back to the system, so that RSS returns once they close. */
	if (big)
		malloc_trim(0);
#else
	(void)big;
#endif
	if (srv->conn_capped && srv->conns.len < srv->o.max_connections) {
		srv->conn_capped = false;
		log_info("below --max-connections %zu again: accepting every "
			 "connection",
		    srv->o.max_connections);
	}
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

/* Close after what is queued has been written, replies the api holds for
 * the pass included (conn_done, from flush_cb or write_cb). */
static void
conn_close_soon(struct conn *c)
{
	if (c->dead || c->closing)
		return;
	c->closing = true;
	TAILQ_INSERT_TAIL(&c->srv->closing, c, clink);
	bufferevent_disable(c->bev, EV_READ);
	if (c->idle_ev != NULL)
		evtimer_del(c->idle_ev);
	conn_queue_flush(c); /* closes it once there is nothing to send */
}

/*
 * After a pass: close every closing connection that has nothing more to
 * write or be sent. A send queues its connection, so this finds none as a
 * rule; it is for the replies a pass could not send (out of memory).
 */
static void
closing_check(struct server *srv)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&srv->closing); c != NULL; c = next) {
		next = TAILQ_NEXT(c, clink);
		if (!c->dead && !c->queued)
			conn_done(c);
	}
}

/* Say why, then close. */
static void
conn_refuse(struct conn *c, const char *why)
{
	api_protocol_error(c->srv->api, c->id, why);
	conn_close_soon(c);
}

/*
 * Hand c's complete frames to the api, at most max of them. Returns true
 * if more wait: the caller defers c (fair.h), and c's reading stays
 * paused meanwhile, so that what it buffers stays bounded.
 */
static bool
conn_drain(struct conn *c, size_t max)
{
	struct server *srv = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t hdr[AF_FRAME_HEADER], *frame;
	size_t len, done = 0;
	struct timeval tv;
	bool more = false;
	int rc;

	while (!c->closing && !c->dead &&
	    evbuffer_get_length(in) >= AF_FRAME_HEADER) {
		evbuffer_copyout(in, hdr, AF_FRAME_HEADER);
		if (af__frame_get_header(hdr, &len) != AF_OK) {
			log_warn("connection %llu: frame of %zu bytes is over "
				 "the %u limit; closing",
			    (unsigned long long)c->id, len, AF_MAX_FRAME);
			conn_refuse(c, "frame too large");
			break;
		}
		if (evbuffer_get_length(in) < AF_FRAME_HEADER + len)
			break;
		if (done == max) {
			more = true;
			break;
		}
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
		done++;
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
	if (more)
		bufferevent_disable(c->bev, EV_READ);
	else if (!c->closing && !c->dead)
		bufferevent_enable(c->bev, EV_READ);
	/* A frame begun and not finished: it has --idle-timeout from its
	 * start (or from the last complete frame) to arrive. */
	if (c->closing || c->dead || more || evbuffer_get_length(in) == 0)
		evtimer_del(c->idle_ev);
	else if (done > 0 || !evtimer_pending(c->idle_ev, NULL)) {
		tv.tv_sec = srv->o.idle_timeout_s;
		tv.tv_usec = 0;
		evtimer_add(c->idle_ev, &tv);
	}
	conn_account(c);
	schedule_pass(srv);
	return more;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;
	struct uidacct *u = c->acct;
	char why[256];

	(void)bev;
	conn_account(c);
	if (u != NULL && u->bytes > srv->o.max_uid_buffer) {
		if (!u->warned)
			log_warn("uid %ld: its %zu connections buffer %zu "
				 "bytes, over --max-uid-buffer (%zu bytes): "
				 "closing those that go over it",
			    (long)u->uid, u->nconns, u->bytes,
			    srv->o.max_uid_buffer);
		u->warned = true;
		snprintf(why, sizeof(why),
		    "the connections of uid %ld buffer %zu bytes, over the "
		    "limit of %zu (--max-uid-buffer): closing this one",
		    (long)u->uid, u->bytes, srv->o.max_uid_buffer);
		/* What it buffered goes with it: drop the input now. */
		evbuffer_drain(bufferevent_get_input(c->bev),
		    evbuffer_get_length(bufferevent_get_input(c->bev)));
		conn_account(c);
		conn_refuse(c, why);
		return;
	}
	if (u != NULL && u->warned && u->bytes <= srv->o.max_uid_buffer / 2)
		u->warned = false;
	if (c->backlog || !conn_drain(c, FAIR_FRAMES_PER_TURN))
		return;
	if (fairq_defer(&srv->fair, c->id) == AF_OK)
		c->backlog = true;
	else /* no memory to wait: serve it all now */
		while (conn_drain(c, FAIR_FRAMES_PER_TURN))
			;
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	conn_account(c);
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0 ||
	    conn_done(c))
		return;
	/* Written: the next replies go straight out (flush_cb). */
	bufferevent_disable(bev, EV_WRITE);
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

/* A frame begun --idle-timeout ago is still incomplete: the peer stalls
 * (or is a slowloris) and holds a descriptor and a buffer; close it. */
static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char why[160];

	(void)fd;
	(void)what;
	log_warn("connection %llu: a frame has been incomplete for %u s "
		 "(%zu bytes buffered); closing",
	    (unsigned long long)c->id, c->srv->o.idle_timeout_s,
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	snprintf(why, sizeof(why),
	    "incomplete frame for %u s (--idle-timeout): closing",
	    c->srv->o.idle_timeout_s);
	conn_refuse(c, why);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The uid's account, made on its first connection. */
static struct uidacct *
uid_account(struct server *srv, uid_t uid)
{
	struct uidacct *u = u64map_get(&srv->uids, (uint64_t)uid + 1);

	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return NULL;
		u->uid = uid;
		if (u64map_put(&srv->uids, (uint64_t)uid + 1, u) != AF_OK) {
			free(u);
			return NULL;
		}
	}
	u->nconns++;
	return u;
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct server *srv = arg;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c;
	char why[160];

	(void)lis;
	(void)sa;
	(void)socklen;
	/* The episode ends at an accept a second after the last failure
	 * (the connections a client left in the backlog as it went are
	 * accepted and fail again at once: that is the same episode). */
	if (srv->accept_starved &&
	    mono_ms() - srv->accept_failed_ms >= EPISODE_QUIET_MS) {
		srv->accept_starved = false;
		log_info("accepting connections again (%zu open)",
		    srv->conns.len);
	}
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
	c->idle_ev = evtimer_new(srv->base, idle_cb, c);
	if (c->bev == NULL || c->idle_ev == NULL ||
	    (c->acct = uid_account(srv, cred.uid)) == NULL ||
	    u64map_put(&srv->conns, c->id, c) != AF_OK) {
		if (c->acct != NULL && --c->acct->nconns == 0) {
			u64map_del(&srv->uids, (uint64_t)cred.uid + 1);
			free(c->acct);
		}
		if (c->idle_ev)
			event_free(c->idle_ev);
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* EV_WRITE (on from the start in libevent) only while output waits
	 * for the socket (conn_flush). */
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_enable(c->bev, EV_READ);
	api_set_connections(srv->api, srv->conns.len);
	log_debug("connection %llu from pid %ld", (unsigned long long)c->id,
	    (long)cred.pid);
	if (srv->conns.len > srv->o.max_connections) {
		if (!srv->conn_capped)
			log_warn("--max-connections %zu reached: refusing new "
				 "connections until some close",
			    srv->o.max_connections);
		srv->conn_capped = true;
		snprintf(why, sizeof(why),
		    "too many connections: the daemon serves at most %zu "
		    "(--max-connections); try again later",
		    srv->o.max_connections);
		conn_refuse(c, why);
	}
}

/* accept() failed. Out of descriptors (or memory), it fails again at once
 * for as long as nothing closes, and libevent would call it in a tight
 * loop: rest the listener and try again after ACCEPT_BACKOFF_MS, and log
 * once per episode (until a connection is accepted again). */
static void
accept_error_cb(struct evconnlistener *lis, void *arg)
{
	struct server *srv = arg;
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, ACCEPT_BACKOFF_MS * 1000 };

	if (!srv->accept_starved)
		log_warn("accepting a connection failed: %s (%zu connections "
			 "open); retrying every %d ms until it works, logged "
			 "once",
		    strerror(e), srv->conns.len, ACCEPT_BACKOFF_MS);
	srv->accept_starved = true;
	srv->accept_failed_ms = mono_ms();
	evconnlistener_disable(lis);
	evtimer_add(srv->accept_ev, &tv);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	if (!srv->stopping)
		evconnlistener_enable(srv->lis);
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
	/* A failed sync broke the store: a pass reopens and rebuilds it. */
	if (turn_sync(&srv->turn) != AF_OK)
		schedule_pass(srv);
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

size_t
server_default_max_connections(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 65536;
	return rl.rlim_cur > 2 * FD_RESERVE ? (size_t)rl.rlim_cur - FD_RESERVE :
					      (size_t)(rl.rlim_cur + 1) / 2;
}

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
	if (srv.o.max_connections == 0)
		srv.o.max_connections = server_default_max_connections();
	if (srv.o.idle_timeout_s == 0)
		srv.o.idle_timeout_s = 60;
	if (srv.o.max_uid_buffer == 0)
		srv.o.max_uid_buffer = 256u << 20;
	u64map_init(&srv.conns);
	u64map_init(&srv.uids);
	TAILQ_INIT(&srv.flushq);
	TAILQ_INIT(&srv.closing);
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
	/* One priority for all (libevent's default for new events is the
	 * middle one, 1 of 2): the order within a sweep is the order of
	 * activation, which puts the pass after the reads (schedule_pass).
	 * A priority above the pass for I/O would starve the pass while
	 * clients keep sending. */
	event_base_priority_init(srv.base, 2);
	srv.api = api_new(e, send_cb, &srv, o->durability);
	srv.pass_ev = event_new(srv.base, -1, 0, pass_cb, &srv);
	srv.reap_ev = event_new(srv.base, -1, 0, reap_cb, &srv);
	srv.flush_ev = event_new(srv.base, -1, 0, flush_cb, &srv);
	srv.lis = evconnlistener_new(srv.base, accept_cb, &srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	srv.sig_term = evsignal_new(srv.base, SIGTERM, signal_cb, &srv);
	srv.sig_int = evsignal_new(srv.base, SIGINT, signal_cb, &srv);
	srv.sig_hup = evsignal_new(srv.base, SIGHUP, sighup_cb, &srv);
	srv.timer_ev = evtimer_new(srv.base, timer_cb, &srv);
	srv.backoff_ev = evtimer_new(srv.base, timer_cb, &srv);
	srv.accept_ev = evtimer_new(srv.base, accept_resume_cb, &srv);
	if (srv.lis != NULL)
		evconnlistener_set_error_cb(srv.lis, accept_error_cb);
	if (srv.api == NULL || srv.pass_ev == NULL || srv.lis == NULL ||
	    srv.accept_ev == NULL || srv.timer_ev == NULL ||
	    srv.reap_ev == NULL || srv.flush_ev == NULL ||
	    srv.backoff_ev == NULL || srv.sig_term == NULL ||
	    srv.sig_int == NULL || srv.sig_hup == NULL) {
		snprintf(err, errlen, "out of memory setting up the loop");
		rc = AF_ENOMEM;
		goto out;
	}
	if (o->has_metrics &&
	    (srv.metrics = metrics_new(srv.base, o->metrics_fd, e, srv.api, err,
		 errlen)) == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	turn_init(&srv.turn, e, s, srv.api);
	api_set_watch(srv.api, api_watch_cb, &srv);
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

		/* Replies of the last pass: best effort, no wait. */
		conn_write(c, 0);
		conn_free(c);
		i = 0;
	}
}
	engine_set_commit_hook(e, NULL, NULL);
	u64map_release(&srv.conns);
	u64map_release(&srv.uids); /* empty: conn_free freed each */
	fairq_release(&srv.fair);
	if (srv.accept_ev)
		event_free(srv.accept_ev);
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
	if (srv.flush_ev)
		event_free(srv.flush_ev);
	if (srv.lis)
		evconnlistener_free(srv.lis);
	else
		close(fd);
	if (o->listen_fd <= 0) /* a passed socket is its manager's */
		unlink(o->socket_path);
	metrics_free(srv.metrics);
	if (srv.api_fd_ev != NULL)
		event_free(srv.api_fd_ev);
	api_free(srv.api);
	event_base_free(srv.base);
	return rc;
}
