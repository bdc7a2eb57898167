/*
 * ipckit.h: what the socket benchmarks (bench_ipc.c, bench_latency.c,
 * bench_scale.c, bench_exports.c, bench_upgrade_live.c) share: a real
 * asyncflowd forked from the build directory on a fresh temporary data
 * directory, client connections to it, pipelined requests, and the
 * settle->wake sample (a `gather` on a vow, watched; the settle; its
 * outcome's event). Not a benchmark itself, and not a test harness:
 * failures end the process (die), after killing the daemon it started.
 * The clock and statistics are benchkit.h.
 */
#ifndef AF_IPCKIT_H
#define AF_IPCKIT_H

#include <sys/types.h>

#include "asyncflow.h"
#include "benchkit.h"

extern const char *bdir; /* the build directory: BDIR/asyncflowd */
extern char dir[256];    /* the current data directory */
extern char sock[300];   /* its socket */
extern pid_t daemon_pid; /* 0: none running */

/* Says what failed (prefixed with the program's name), kills the daemon,
 * exits 1. */
void die(const char *what, int rc) __attribute__((noreturn));
/* Connects to sock, retrying for about 4 s while the daemon starts. */
af_conn *connect_retry(void);
/* Removes the current data directory (if any) and makes a new empty one
 * under $TMPDIR; sets dir and sock. */
void fresh_dir(void);
/* Removes the current data directory, if any. */
void remove_dir(void);
/* Starts asyncflowd -q -d dir --durability D (D: full, batch, none). */
void start_daemon(const char *durability);
/* The same with --max-resident N too (NULL: the daemon's default). */
void start_daemon_resident(const char *durability, const char *max_resident);
/* SIGTERM, and waits for its exit. */
void stop_daemon(void);

/* Sends n requests on c, at most window (> 0) unanswered at a time:
 * make(i, req, arg) fills the i-th (req comes initialised), take(i, r,
 * arg) sees its answer (take NULL: nobody). what names them in die's
 * message. */
void pipeline(af_conn *c, long n, int window, const char *what,
    void (*make)(long, Asyncflow__Request *, void *),
    void (*take)(long, Asyncflow__Response *, void *), void *arg);

/* The args of `gather` on one vow, the list [item]: set item.vow_id, pass
 * &args. Filled in by gather_args_init; it points into itself, so it must
 * not be copied or moved while args is in use. */
struct gather_args {
	Asyncflow__Value args, item;
	Asyncflow__Value *items[1];
	Asyncflow__List list;
};
void gather_args_init(struct gather_args *g);

/* Starts `gather` on vow (g's args) and watches its outcome on c;
 * returns the outcome's id. Dies on a failure. */
uint64_t start_watched_gather(af_conn *c, struct gather_args *g, uint64_t vow);

/* Settles vow (its resolver secret, with value) on c and waits up to 10 s
 * for the settled event of outcome, which c must watch; returns the
 * microseconds from the send to that event. Dies on a failure. */
double settle_to_wake_us(af_conn *c, uint64_t vow, const uint8_t *secret,
    Asyncflow__Value *value, uint64_t outcome);

#endif /* AF_IPCKIT_H */
