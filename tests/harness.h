/*
 * harness.h: the daemon in a box, for tests and the fuzzer. One call wires
 * what main.c and server_run wire -- a registry with the built-in flows,
 * an LMDB store in a given directory, the engine, the request layer with
 * its commit hook and the outbox loaded -- with a fault store attached
 * (tests/faultstore.h) and replies going to a send callback instead of a
 * socket. harness_pass runs one turn of the daemon's own loop (turn.c),
 * harness_restart closes everything and opens it again on the same
 * directory, as a daemon restart does.
 *
 * Not here: sockets and libevent (the box has no server), assertions (no
 * Check: every call returns a code, so the fuzzer can link it), the
 * temporary directory (the caller makes and removes it).
 */
#ifndef AF_HARNESS_H
#define AF_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "engine.h"
#include "faultstore.h"
#include "registry.h"
#include "store.h"
#include "turn.h"

struct harness_opts {
	size_t map_size;                  /* 0 = 256 MiB */
	enum store_durability durability; /* default STORE_FULL; tests
					     * mostly want STORE_NONE */
	api_send_fn *send; /* every ServerMessage; NULL: dropped */
	void *send_ctx;
	/* Registers more flows and objects after the built-in ones (NULL:
	 * none); called again at every restart, on a new registry. */
	int (*register_fn)(struct af_registry *reg, void *ctx);
	void *register_ctx;
	const struct engine_opts *engine; /* NULL: defaults */
};

struct harness {
	char dir[512];
	struct harness_opts o;
	struct af_registry *reg;
	struct store *st;
	struct engine *eng;
	struct api *api;
	struct turn turn;
	struct faultstore fault; /* attached to st; rules survive nothing:
				     * a restart attaches a fresh one */
	char err[256];           /* what failed, after a failed call */
};

/* Open the box on directory dir (it must exist). On failure everything
 * opened so far is closed again and h->err says what. */
int
harness_open(struct harness *h, const char *dir, const struct harness_opts *o);
/* Close everything (the directory stays). Harmless twice. */
void harness_close(struct harness *h);
/* Close and open again on the same directory and options. */
int harness_restart(struct harness *h);

/* One request from conn, as the server hands it over (*greeted is the
 * connection's handshake state). Returns api_request's result. */
int harness_request(struct harness *h, uint64_t conn, bool *greeted,
    const Asyncflow__Request *req);
/*
 * One frame's payload (without its length prefix) from conn, checked and
 * unpacked as the server does: over the frame limit, nested too deep or
 * not a Request, it is a protocol error (AF_EPROTO, after the error
 * reply); else harness_request's result.
 */
int harness_frame(struct harness *h, uint64_t conn, bool *greeted,
    const uint8_t *p, size_t n);

/* One turn of the daemon's loop (turn_run): timers, pass, replies. */
int harness_pass(struct harness *h);
/* Turns until no events wait; stops at (and returns) a failed one. */
int harness_run_until_idle(struct harness *h);

#endif /* AF_HARNESS_H */
