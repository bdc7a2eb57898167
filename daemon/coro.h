/*
 * coro.h: stackful, asymmetric coroutines for the engine. Each flow
 * activation runs on a coroutine; a guest call that has to wait yields back
 * to the event loop, which resumes the coroutine when the answer is there.
 *
 * What it is: a context switch written in assembly (daemon/coro_x86_64.S,
 * daemon/coro_aarch64.S) that saves only the callee-saved registers, plus
 * pooled mmap'd stacks with a PROT_NONE guard page at the low end. A stack
 * overflow therefore hits the guard page and kills the process with SIGSEGV
 * instead of silently corrupting memory (as long as no single frame is
 * larger than a page; GCC's -fstack-clash-protection makes that hold).
 * Switches are announced to AddressSanitizer (when built with it) and the
 * stacks are registered with valgrind, so both keep working.
 *
 * What it is not: a scheduler, an event loop or a thread pool. It knows
 * nothing of the store, the journal or protobuf and uses only libc. There
 * is no unwinding: a coroutine that is freed while suspended is abandoned,
 * and whatever its frames own is not released (the engine keeps everything
 * an activation owns in the activation's arena for that reason).
 *
 * Threads: the running-coroutine pointer is per thread. Pools and
 * coroutines are not locked: use each pool and its coroutines from one
 * thread only, and never resume a coroutine on a thread other than the one
 * it first ran on (compilers cache thread-local addresses across calls).
 *
 * Floating point: the x86-64 switch also saves MXCSR and the x87 control
 * word, the aarch64 switch saves FPCR, so a rounding mode set inside a
 * coroutine stays inside it (the exception status flags are not switched:
 * the ABIs do not preserve them across calls either). A new coroutine
 * starts with the control state the calling thread had at coro_new.
 *
 * Errors: functions that can fail for lack of memory return NULL and set
 * errno. Breaking a precondition that would otherwise corrupt memory
 * (resuming a running or finished coroutine, yielding outside a coroutine,
 * freeing a running coroutine, freeing a pool with live coroutines) prints
 * a line to stderr and aborts.
 */
#ifndef AF_CORO_H
#define AF_CORO_H

#include <stdbool.h>
#include <stddef.h>

struct coro_pool;
struct coro;
typedef void coro_fn(void *arg);

/* A pool of stacks of one size. stack_size: usable bytes (rounded up to the
 * page size, min 16 KiB); one guard page is added below. max_idle: how many
 * stacks of freed coroutines are kept for reuse (the others are unmapped
 * by coro_pool_trim). The caller owns the pool and frees it with coro_pool_free.
 * NULL on failure (errno set: ENOMEM, or EINVAL when stack_size is absurd). */
struct coro_pool *coro_pool_new(size_t stack_size, size_t max_idle);

/* Frees idle stacks and the pool. Every coroutine of the pool must have
 * been freed first (aborts otherwise). NULL is a no-op. */
void coro_pool_free(struct coro_pool *p);

/* A new coroutine, taking a stack from p (reused or freshly mapped), that
 * will run fn(arg) on its first resume. The caller owns it and frees it
 * with coro_free; p must outlive it. arg is not owned. NULL on failure
 * (errno ENOMEM). */
struct coro *coro_new(struct coro_pool *p, coro_fn *fn, void *arg);

/* The process is about to exit: from now on the pool frees its stacks
 * without unmapping them (each munmap is a TLB shootdown across the
 * process's threads; the exit unmaps all at once). Only for a process
 * that ends right after freeing the pool. */
void coro_pool_exiting(struct coro_pool *p);

/* Coroutines of the pool handed out and not freed yet (each holds a
 * stack: two memory mappings, the stack and its guard page). */
size_t coro_pool_live(const struct coro_pool *p);

/* Stacks freed beyond max_idle are not unmapped by coro_free (a munmap is
 * a TLB shootdown: freeing thousands at once would stall the caller for
 * seconds) but kept aside, and reused first by coro_new; this unmaps at
 * most max of them and returns how many are left. The owner calls it a
 * little at a time until it returns 0 (coro_pool_free unmaps the rest). */
size_t coro_pool_trim(struct coro_pool *p, size_t max);
/* How many stacks coro_pool_trim has still to unmap. */
size_t coro_pool_doomed(const struct coro_pool *p);

/* Switch into c until it yields or fn returns. Returns true if c yielded
 * (can be resumed again), false if fn returned (c is finished; only
 * coro_free is allowed). Must not be called on the running coroutine, on
 * one that is waiting for a coroutine it resumed, or on a finished one
 * (aborts). May be called from the main context or from inside another
 * coroutine (nesting: c's yield returns to the resumer). */
bool coro_resume(struct coro *c);

/* From inside a coroutine: switch back to whoever resumed it. Returns when
 * the coroutine is resumed again (possibly by someone else). Aborts when
 * called on the main context. */
void coro_yield(void);

/* The running coroutine, or NULL on the main context. */
struct coro *coro_self(void);

/* Whether fn has returned. */
bool coro_finished(const struct coro *c);

/* Release c and return its stack to the pool (or unmap it when the pool
 * already keeps max_idle stacks). c must not be running nor waiting for a
 * coroutine it resumed (aborts). A suspended (yielded, never finished)
 * coroutine may be freed: it is abandoned without unwinding (nothing on its
 * stack is released). NULL is a no-op. */
void coro_free(struct coro *c);

/* Per-coroutine user pointer (e.g. the owning task); NULL until set. Not
 * owned: coro_free does not touch it. */
void coro_set_data(struct coro *c, void *data);
void *coro_get_data(const struct coro *c);

#endif
