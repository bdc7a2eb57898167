/*
 * api.h: the daemon's request layer. Turns decoded protocol requests
 * (proto/asyncflow.proto) into engine calls and builds the replies, which
 * are held until the pass that made them has committed (DESIGN.md §5):
 * api_after_pass sends them, or the commit's error instead. It also keeps
 * who waits for which vow (GetVow with wait, WatchVow) and answers them
 * from the engine's on_commit callback.
 *
 * It knows no sockets and no libevent: the server hands it requests with a
 * connection id and gives it a send function. Connections are referred to
 * by id only, so a reply for a connection that has gone is dropped by the
 * server.
 */
#ifndef AF_API_H
#define AF_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asyncflow.pb-c.h"
#include "asyncflow/protocol.h" /* AF_PROTOCOL_VERSION, AF_MAX_FRAME */
#include "engine.h"

/* Send one packed ServerMessage (without the length prefix) to `conn`. */
typedef void
api_send_fn(void *ctx, uint64_t conn, const uint8_t *msg, size_t n);

struct api;

struct api *
api_new(struct engine *e, api_send_fn *send, void *ctx, const char *durability);
void api_free(struct api *api);

/*
 * Handle one request from `conn`. *greeted is the connection's handshake
 * state (false until a hello succeeds). Returns AF_OK, or AF_EPROTO when the
 * connection must be closed after its error reply has been sent (no hello
 * first, version mismatch, missing request id or operation).
 */
int api_request(struct api *api, uint64_t conn, bool *greeted,
    const Asyncflow__Request *req);

/*
 * Handle one frame's body (the bytes after the length prefix, which the
 * transport has checked against AF_MAX_FRAME): the nesting-depth guard,
 * decoding, then api_request. A body that is too deep or does not decode
 * as a Request gets a protocol error reply and AF_EDECODE; otherwise
 * api_request's result. Either error means: close the connection.
 */
int api_frame(struct api *api, uint64_t conn, bool *greeted,
    const uint8_t *body, size_t n);

/* Send a reply that does not wait for a commit: a protocol error for a
 * frame that could not be decoded (request id 0), which a client takes
 * for the last frame before the close. If replies are still owed to conn
 * (api_holds), it is sent after them, by the pass. */
void api_protocol_error(struct api *api, uint64_t conn, const char *msg);

/* Whether requests are waiting for a commit (the server runs a pass). */
bool api_pending(const struct api *api);

/* Whether a reply to conn waits for a pass (api_after_pass sends it; an
 * upgrade's answer waits for its check): a connection closing after its
 * output must stay until then. */
bool api_holds(const struct api *api, uint64_t conn);

/* After engine_pass returned rc: send every held reply, or rc's error in
 * place of each if the commit failed. */
void api_after_pass(struct api *api, int rc);

/* The engine's on_commit callback (ctx = the api): answers waits and
 * delivers new invocations. */
void api_on_commit(void *ctx, const uint64_t *settled, size_t n,
    const uint64_t *invocations, size_t ninv);

/* At start: queue every invocation in the outbox for delivery. */
int api_load_outbox(struct api *api);

/* A connection went away: forget its waits. */
void api_conn_closed(struct api *api, uint64_t conn);

/* Tests only: the nth allocation of the api layer from now fails (0: none),
 * to show that such a failure is recovered from, not silently dropped. */
void api_test_fail_alloc(unsigned n);

/* The server watches a descriptor for the api (it knows no event loop):
 * when fd is readable it calls api_fd_readable until that returns true
 * (done: the server stops watching fd, which the api closes, and runs a
 * pass to send the replies it queued). Returns 0, or -1 (not watched). */
typedef int api_watch_fn(void *ctx, int fd);
void api_set_watch(struct api *api, api_watch_fn *fn, void *ctx);
bool api_fd_readable(struct api *api, int fd);

void api_set_connections(struct api *api, uint64_t n);
uint64_t api_connections(const struct api *api);

/* Each object a client serves or has invocations queued for: its name,
 * how many connections serve it now, and how many invocations wait in
 * memory for a server (metrics). cb's nonzero return stops. */
typedef int
api_object_fn(void *ctx, const char *object, size_t servers, size_t waiting);
void api_objects(struct api *api, api_object_fn *cb, void *ctx);

#endif /* AF_API_H */
