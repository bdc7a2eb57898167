/*
 * ipckit.h: what the socket benchmarks (bench_ipc.c, bench_latency.c)
 * share: a real asyncflowd forked from the build directory on a fresh
 * temporary data directory and a client connection to it. Not a
 * benchmark itself, and not a test harness: failures end the process
 * (die), after killing the daemon it started. The clock and statistics
 * are benchkit.h.
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
/* SIGTERM, and waits for its exit. */
void stop_daemon(void);

#endif /* AF_IPCKIT_H */
