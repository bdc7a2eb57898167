/*
 * flowkit.h: what the in-process engine benchmarks (bench_engine.c,
 * bench_upgrade.c, bench_children.c) share: the seed-style workload (a
 * `counter` host object whose `next` makes a vow, settles it and returns
 * it; a `loop` flow that calls and awaits it N times, then waits on a vow
 * nobody settles; a `trivial` flow), temporary store directories, and
 * die. Not a benchmark itself, and not a test harness: failures end the
 * process. The clock and statistics are benchkit.h; the socket
 * benchmarks' helpers are ipckit.h.
 */
#ifndef AF_FLOWKIT_H
#define AF_FLOWKIT_H

#include <stddef.h>

#include "benchkit.h"
#include "registry.h"

/* Says "PROGRAM: what: err" on stderr, exits 1. */
void die(const char *what, const char *err) __attribute__((noreturn));
/* Makes a new empty directory under $TMPDIR (else /tmp) into dir, of
 * size len; dies if it cannot. */
void flowkit_mkdir(char *dir, size_t len);
/* Removes the directory and everything in it; says so if it cannot. */
void flowkit_rmdir(const char *dir);

/* trivial(args): returns its args. */
int flowkit_trivial(struct af_flow *f, const struct af_value *args,
    const struct af_value **result);
/* Registers the `counter` object and the `loop` flow (args: {"n": N,
 * "hang": a vow id}; three journal entries a step: checkCall, doReturn,
 * doFulfill) in reg; dies if it cannot. */
void flowkit_register_loop(struct af_registry *reg);

#endif /* AF_FLOWKIT_H */
