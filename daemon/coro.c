/*
 * coro.c: coroutines on pooled mmap'd stacks (see coro.h). The register
 * switch itself is coro__switch in coro_$(arch).S; this file lays out the
 * first frame of a new stack, keeps the resume chain and the per-thread
 * current pointer, and tells ASan and valgrind what is going on.
 *
 * Contract with the assembly:
 *   void coro__switch(void **save_sp, void *to_sp);
 *     pushes the callee-saved registers (and FP control state) of the
 *     caller, stores the resulting stack pointer in *save_sp, loads to_sp,
 *     pops the same frame layout and continues there. A first frame built
 *     by frame_init "continues" in coro__trampoline, which calls
 *     coro__entry(c) with c taken from a callee-saved register (rbx on
 *     x86-64, x19 on aarch64) and never returns.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro.h"

/* ---- sanitizer and valgrind hooks ----------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* The valgrind header is only macros and inline asm (no library); a cross
 * build may not have it, and then there is nothing to tell valgrind. */
#if !defined(CORO_NO_VALGRIND) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORO_VALGRIND 1
#endif
#endif

/* ---- types ----------------------------------------------------------------- */

/* An execution context: the main context of a thread or a coroutine. */
struct coro_ctx {
	void *sp; /* saved stack pointer while switched out */
#ifdef CORO_ASAN
	void *fake_stack;     /* ASan's per-fiber fake stack while out */
	const void *stack_lo; /* bounds, told to ASan when switching in */
	size_t stack_size;
#endif
};

enum coro_state {
	CORO_SUSPENDED, /* new or yielded: may be resumed */
	CORO_ACTIVE,    /* running, or waiting on one it resumed */
	CORO_FINISHED,  /* fn returned */
};

struct coro {
	struct coro_ctx ctx;
	struct coro *resumer; /* who resumed it last; NULL = main context */
	struct coro_pool *pool;
	coro_fn *fn;
	void *arg;
	void *data;
	enum coro_state state;
	/* The stack: map is the whole mapping, guard page first. */
	void *map;
	size_t map_size;
	unsigned vg_id;         /* valgrind stack id */
	struct coro *next_idle; /* link in pool->idle while pooled */
};

struct coro_pool {
	bool exiting; /* coro_pool_exiting: stacks are never unmapped */
	size_t page;
	size_t stack_size; /* usable bytes, page multiple */
	size_t max_idle;
	size_t n_idle;
	size_t n_live;     /* coroutines handed out, not yet freed */
	struct coro *idle; /* freed coroutines that kept their stack */
	/* Freed beyond max_idle, not unmapped yet (coro_pool_trim): a
	 * munmap is a TLB shootdown, ~0.3 ms here, so thousands at once
	 * would stall the caller. Reused first by coro_new. */
	struct coro *doomed;
	size_t n_doomed;
};

/* coro__switch and coro__trampoline are in coro_$(arch).S, coro__entry is
 * below and called from the trampoline. All hidden, so the assembly calls
 * coro__entry directly and C takes coro__trampoline's address without a
 * PLT or GOT. */
#define CORO_HIDDEN __attribute__((visibility("hidden")))
CORO_HIDDEN void coro__switch(void **save_sp, void *to_sp);
CORO_HIDDEN void coro__trampoline(void);
CORO_HIDDEN _Noreturn void coro__entry(struct coro *c);

static _Thread_local struct coro *tls_current; /* NULL on main context */
static _Thread_local struct coro_ctx tls_main; /* the thread's own stack */

#define MIN_STACK ((size_t)16 * 1024)

static _Noreturn void
coro_fatal(const char *msg)
{
	fprintf(stderr, "coro: %s\n", msg);
	abort();
}

static struct coro_ctx *
resumer_ctx(struct coro *c)
{
	return c->resumer != NULL ? &c->resumer->ctx : &tls_main;
}

#ifdef CORO_ASAN
/* Called right after a coroutine is switched into: restore its fake stack
 * and learn the resumer's stack bounds from ASan (the main context's are
 * not known otherwise). */
static void
asan_arrived(struct coro *c, void *fake_stack)
{
	const void *lo;
	size_t size;
	struct coro_ctx *r = resumer_ctx(c);

	__sanitizer_finish_switch_fiber(fake_stack, &lo, &size);
	r->stack_lo = lo;
	r->stack_size = size;
}
#endif

/* ---- first frame ------------------------------------------------------------ */

/* Lay out, at the top of c's stack, the frame coro__switch pops, so that
 * the first switch into c lands in coro__trampoline. */
static void
frame_init(struct coro *c)
{
	uintptr_t top = (uintptr_t)c->map + c->map_size; /* page aligned */

#if defined(__x86_64__)
	/* From the saved sp up: [mxcsr | x87 cw << 32] r15 r14 r13 r12 rbx rbp
	 * return-address, then 16 zero bytes so that rsp is 16-aligned in the
	 * trampoline before its call. */
	uint64_t *f = (uint64_t *)(top - 16 - 8 * 8);
	uint32_t mxcsr;
	uint16_t fpcw;

	__asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fpcw));
	mxcsr &= ~(uint32_t)0x3f; /* drop sticky exception flags */
	memset(f, 0, 8 * 8 + 16);
	f[0] = (uint64_t)mxcsr | (uint64_t)fpcw << 32;
	f[5] = (uint64_t)(uintptr_t)c;                /* rbx */
	f[7] = (uint64_t)(uintptr_t)coro__trampoline; /* "return" */
	c->ctx.sp = f;
#elif defined(__aarch64__)
	/* From the saved sp up (176 bytes): x19..x28, x29, x30, d8..d15, fpcr,
	 * padding. sp is the stack top, 16-aligned, in the trampoline. */
	uint64_t *f = (uint64_t *)(top - 176);
	uint64_t fpcr;

	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	memset(f, 0, 176);
	f[0] = (uint64_t)(uintptr_t)c;                 /* x19 */
	f[11] = (uint64_t)(uintptr_t)coro__trampoline; /* x30 */
	f[20] = fpcr;
	c->ctx.sp = f;
#else
#error "coro: no context switch for this architecture"
#endif
}

/* ---- stacks --------------------------------------------------------------- */

static int
stack_map(struct coro_pool *p, struct coro *c)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	size_t size = p->page + p->stack_size;
	void *m;

#ifdef MAP_STACK
	flags |= MAP_STACK;
#endif
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	if (mprotect(m, p->page, PROT_NONE) != 0) {
		munmap(m, size);
		return -1;
	}
	c->map = m;
	c->map_size = size;
#ifdef CORO_VALGRIND
	c->vg_id = VALGRIND_STACK_REGISTER((char *)m + p->page,
	    (char *)m + size);
#endif
#ifdef CORO_ASAN
	c->ctx.stack_lo = (char *)m + p->page;
	c->ctx.stack_size = p->stack_size;
#endif
	return 0;
}

/* Forget whatever ASan thinks of the usable part of c's stack: an abandoned
 * coroutine leaves its frames' redzones poisoned, and a later coroutine on
 * the same stack (or a later mapping at the same address) would trip on
 * them. */
static void
stack_unpoison(struct coro *c)
{
#ifdef CORO_ASAN
	ASAN_UNPOISON_MEMORY_REGION(c->ctx.stack_lo, c->ctx.stack_size);
#else
	(void)c;
#endif
}

static void
stack_unmap(struct coro *c)
{
	stack_unpoison(c);
#ifdef CORO_VALGRIND
	VALGRIND_STACK_DEREGISTER(c->vg_id);
#endif
	munmap(c->map, c->map_size);
}

/* ---- pools ---------------------------------------------------------------- */

struct coro_pool *
coro_pool_new(size_t stack_size, size_t max_idle)
{
	struct coro_pool *p;
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;

	if (stack_size < MIN_STACK)
		stack_size = MIN_STACK;
	if (stack_size > SIZE_MAX / 4) {
		errno = EINVAL;
		return NULL;
	}
	stack_size = (stack_size + page - 1) / page * page;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->page = page;
	p->stack_size = stack_size;
	p->max_idle = max_idle;
	return p;
}

void
coro_pool_free(struct coro_pool *p)
{
	struct coro *c;

	if (p == NULL)
		return;
	if (p->n_live != 0)
		coro_fatal(
		    "coro_pool_free: the pool still has live coroutines");
	while ((c = p->idle) != NULL) {
		p->idle = c->next_idle;
		if (!p->exiting)
			stack_unmap(c);
		free(c);
	}
	while ((c = p->doomed) != NULL) {
		p->doomed = c->next_idle;
		if (!p->exiting)
			stack_unmap(c);
		free(c);
	}
	free(p);
}

void
coro_pool_exiting(struct coro_pool *p)
{
	p->exiting = true;
}

/* ---- coroutines ------------------------------------------------------------ */

size_t
coro_pool_live(const struct coro_pool *p)
{
	return p->n_live;
}

size_t
coro_pool_doomed(const struct coro_pool *p)
{
	return p->n_doomed;
}

size_t
coro_pool_trim(struct coro_pool *p, size_t max)
{
	struct coro *c;

	while (max-- > 0 && (c = p->doomed) != NULL) {
		p->doomed = c->next_idle;
		p->n_doomed--;
		if (!p->exiting)
			stack_unmap(c);
		free(c);
	}
	return p->n_doomed;
}

struct coro *
coro_new(struct coro_pool *p, coro_fn *fn, void *arg)
{
	struct coro *c;

	if (p->idle != NULL) {
		c = p->idle;
		p->idle = c->next_idle;
		p->n_idle--;
	} else if (p->doomed != NULL) {
		c = p->doomed;
		p->doomed = c->next_idle;
		p->n_doomed--;
	} else {
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		if (stack_map(p, c) != 0) {
			free(c);
			errno = ENOMEM;
			return NULL;
		}
	}
	c->pool = p;
	c->fn = fn;
	c->arg = arg;
	c->data = NULL;
	c->resumer = NULL;
	c->next_idle = NULL;
	c->state = CORO_SUSPENDED;
#ifdef CORO_ASAN
	c->ctx.fake_stack = NULL;
#endif
	frame_init(c);
	p->n_live++;
	return c;
}

void
coro_free(struct coro *c)
{
	struct coro_pool *p;

	if (c == NULL)
		return;
	if (c->state == CORO_ACTIVE)
		coro_fatal("coro_free: the coroutine is running");
	p = c->pool;
	p->n_live--;
	stack_unpoison(c);
	if (p->n_idle < p->max_idle) {
		c->next_idle = p->idle;
		p->idle = c;
		p->n_idle++;
	} else {
		c->next_idle = p->doomed;
		p->doomed = c;
		p->n_doomed++;
	}
}

bool
coro_resume(struct coro *c)
{
	struct coro *prev = tls_current;
	struct coro_ctx *from = prev != NULL ? &prev->ctx : &tls_main;

	if (c->state != CORO_SUSPENDED)
		coro_fatal(c->state == CORO_FINISHED ?
			"coro_resume: the coroutine has finished" :
			"coro_resume: the coroutine is running");
	c->resumer = prev;
	c->state = CORO_ACTIVE;
	tls_current = c;
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&from->fake_stack, c->ctx.stack_lo,
	    c->ctx.stack_size);
#endif
	coro__switch(&from->sp, c->ctx.sp);
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(from->fake_stack, NULL, NULL);
#endif
	tls_current = prev;
	return c->state != CORO_FINISHED;
}

void
coro_yield(void)
{
	struct coro *c = tls_current;
	struct coro_ctx *to;

	if (c == NULL)
		coro_fatal("coro_yield: not inside a coroutine");
	to = resumer_ctx(c);
	c->state = CORO_SUSPENDED;
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&c->ctx.fake_stack, to->stack_lo,
	    to->stack_size);
#endif
	coro__switch(&c->ctx.sp, to->sp);
	/* Resumed again; c->resumer may be someone else now. */
#ifdef CORO_ASAN
	asan_arrived(c, c->ctx.fake_stack);
#endif
}

/* First code on a new coroutine's stack, called from coro__trampoline. */
void
coro__entry(struct coro *c)
{
	struct coro_ctx *to;

#ifdef CORO_ASAN
	asan_arrived(c, NULL);
#endif
	c->fn(c->arg);
	c->state = CORO_FINISHED;
	to = resumer_ctx(c);
#ifdef CORO_ASAN
	/* NULL: this fiber is done, ASan may drop its fake stack. */
	__sanitizer_start_switch_fiber(NULL, to->stack_lo, to->stack_size);
#endif
	coro__switch(&c->ctx.sp, to->sp);
	coro_fatal("a finished coroutine was switched into");
}

struct coro *
coro_self(void)
{
	return tls_current;
}

bool
coro_finished(const struct coro *c)
{
	return c->state == CORO_FINISHED;
}

void
coro_set_data(struct coro *c, void *data)
{
	c->data = data;
}

void *
coro_get_data(const struct coro *c)
{
	return c->data;
}
