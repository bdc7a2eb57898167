/*
 * fake_daemon.h: a scriptable fake asyncflowd, for the tests of the client
 * library (check_client.c) and of asyncflowctl (check_ctl.c).
 *
 * A test writes a script, a function of the daemon's end of a socket, that
 * plays the daemon's side with the srv_* calls: the handshake, answers out
 * of order, events pushed while the client waits, frames that are too
 * large, cut short or undecodable, answers that never come. fake_pair and
 * fake_connect run it in a thread over a socketpair, fake_listen behind a
 * Unix socket in a temporary directory; fake_join waits for it to end.
 *
 * It is not a model of the daemon: it answers what its script says, and
 * checks with Check's ck_assert what the client sent. Failing assertions
 * in the script's thread end the test process, which Check reports.
 */
#ifndef AF_FAKE_DAEMON_H
#define AF_FAKE_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asyncflow.h"

/* ---- Running a fake daemon ------------------------------------------------- */

struct fake {
	pthread_t th;
	int fd;        /* the daemon's end */
	int listen_fd; /* Unix socket mode: accept this */
	int delay_ms;  /* before accepting */
	int skip;      /* connections to accept and close
					 * first (see test_connect_timeout) */
	void (*script)(int fd);
	char dir[512];
	char path[600];
};

/* Runs f->script in a thread on f->fd or, with f->listen_fd >= 0, on
 * the connection it accepts (after waiting delay_ms, and accepting and
 * closing `skip` connections first); all fields set by the caller. */
void fake_start(struct fake *f);
/* Starts `script` on one end of a socketpair; returns the other end. */
int fake_pair(struct fake *f, void (*script)(int fd));
/* A connected client with the handshake done by `script`. */
af_conn *fake_connect(struct fake *f, void (*script)(int fd));
/* Starts `script` behind a listening Unix socket at f->path. */
void fake_listen(struct fake *f, void (*script)(int fd));
/* Waits for the script to end; removes fake_listen's directory. */
void fake_join(struct fake *f);

/* ---- The daemon's side: what a script calls ---------------------------------- */

/* Writes all of buf, quietly stopping if the client went away. */
void write_full(int fd, const void *buf, size_t n);
/* The next request, or NULL at end of stream. Free with af_msg_free. */
Asyncflow__Request *srv_recv(int fd);
/* One frame holding sm, packed; *n its length with the prefix. */
uint8_t *frame_of(Asyncflow__ServerMessage *sm, size_t *n);
void srv_send(int fd, Asyncflow__ServerMessage *sm);
void srv_respond(int fd, Asyncflow__Response *r);
/* A successful answer to request `id` carrying `msg` (of the message type
 * of the Response field `result` names) as its result. */
void srv_reply(int fd, uint64_t id, Asyncflow__Response__ResultCase result,
    void *msg);
void
srv_error(int fd, uint64_t id, int code, const char *name, const char *msg);
/* Pushes vow_settled: `vow` fulfilled with the int `value`. */
void srv_event(int fd, uint64_t vow, int64_t value);
/* Answers a show of activation `act` (id echoed in the info). */
void srv_show(int fd, uint64_t id, uint64_t act);
void srv_stats(int fd, uint64_t id, uint64_t passes);
/* Reads the hello and answers it with protocol `version`. */
void srv_hello_version(int fd, uint32_t version);
/* srv_hello_version with the protocol version of the library. */
void srv_hello(int fd);
/* Waits until the client closes its end (so it can read all we sent). */
void srv_drain(int fd);
/* A request of the expected kind. */
Asyncflow__Request *srv_expect(int fd, Asyncflow__Request__OpCase op);
/* Pushes an invocation of bank.`method` with result vow `vow` (resolver
 * fake_res, cut to res_len bytes), sent by activation 7, granting
 * resolver 9 (fake_res2). */
void srv_invocation(int fd, uint64_t vow, const char *method,
    Asyncflow__Value *args, size_t res_len);
void srv_serve_reply(int fd, uint64_t id, uint64_t pending);
/* The start of a server's session: the handshake, then a Serve of
 * `object` (checked) answered with `pending` invocations waiting. */
void srv_serve_start(int fd, const char *object, uint64_t pending);

/* ---- Values and checks several tests share ------------------------------------ */

/* Resolver secrets the scripts hand out. */
extern const uint8_t fake_res[AF_RESOLVER_LEN];
extern const uint8_t fake_res2[AF_RESOLVER_LEN];
/* {"amount": 5, "right": {"@resolver": 9}}, in static storage. */
Asyncflow__Value *transfer_args(void);
/* Field i of record rec, checked to be named key. */
const Asyncflow__Value *
field(const Asyncflow__Value *rec, size_t i, const char *key);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t ms_now(void);

#endif /* AF_FAKE_DAEMON_H */
