/*
 * server.h: the daemon's socket server and event loop (libevent lives only
 * in server.c). server_run serves until SIGTERM or SIGINT, then finishes
 * the pass in progress, commits and returns.
 */
#ifndef AF_SERVER_H
#define AF_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/types.h>

#include "engine.h"
#include "store.h"

struct server_opts {
	const char *socket_path;
	const char *durability;  /* for stats and the log */
	unsigned batch_ms;       /* > 0: sync the store this often */
	size_t max_output;       /* per connection; 0 = 64 MiB */
	size_t max_connections;  /* more are refused with an error reply;
				     * 0 = server_default_max_connections() */
	unsigned idle_timeout_s; /* a frame incomplete this long closes
				     * its connection; 0 = 60 */
	size_t max_uid_buffer;   /* bytes all connections of one uid may
				     * buffer, in and out; 0 = 256 MiB */
	uid_t allow_uid;         /* besides our own uid (default: same) */
	gid_t group;             /* with has_group: socket mode 0660 in this
				     * group, and peers whose gid is it may
				     * connect too */
	bool has_group;
	void (*ready)(void *ctx); /* called once the first turn (the
				   * replays queued at open) has run:
				   * requests are answered from then on */
	void *ready_ctx;
	void (*stopping)(void *ctx); /* SIGTERM/SIGINT: stopping (ready_ctx) */
	int listen_fd;    /* > 0: a listening socket passed to us (socket
			* activation): served instead of binding
			* socket_path, which is then only its name in the
			* log, and never unlinked */
	bool has_metrics; /* serve metrics_fd (metrics_listen) over HTTP */
	int metrics_fd;
};

/* The default of max_connections: the descriptor limit (RLIMIT_NOFILE)
 * less a reserve for the store, the log and modules. */
size_t server_default_max_connections(void);

/* AF_OK after a clean stop; else an error with err set (the socket could
 * not be made, another daemon serves it, out of memory). */
int server_run(struct engine *e, struct store *s, const struct server_opts *o,
    char *err, size_t errlen);

#endif
