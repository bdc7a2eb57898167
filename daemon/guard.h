/*
 * guard.h: run a short walk over memory a guest handed over, such that a
 * fault (SIGSEGV, SIGBUS) while reading it is a failed walk instead of a
 * dead daemon. Used only by value_check (value_check.c) to validate guest
 * values at the membrane.
 *
 * What it is not: a general exception mechanism. The walk must only read
 * (no allocation, no locks, nothing left half done when it is abandoned by
 * siglongjmp), and guards do not nest. It catches nothing by itself: the
 * process's SIGSEGV/SIGBUS handler (main.c's crash recorder) must call
 * guard_fault first; in a process that installs no handler (unit tests)
 * a fault kills the process as before.
 */
#ifndef AF_GUARD_H
#define AF_GUARD_H

#include <stdbool.h>

/* Runs fn(arg) and returns its result; returns -1 if it faulted (the walk
 * was abandoned where it faulted). Only on the calling thread. */
int guard_run(int (*fn)(void *), void *arg);

/* From a SIGSEGV/SIGBUS handler: if a guarded walk is running on this
 * thread, jumps back into guard_run (does not return); otherwise returns
 * and the handler goes on. Async-signal-safe. */
void guard_fault(int sig);

#endif
