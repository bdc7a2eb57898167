/*
 * coro_selftest.c: a stand-alone test of the coroutine runtime, for
 * architectures the host cannot run natively (tests/e2e/coro-aarch64.sh
 * builds it statically with a cross compiler and runs it under qemu-user).
 * Plain C and assert: no Check, nothing of the engine but daemon/coro.c.
 *
 * Besides the portable behaviour it checks, on aarch64, that the switch
 * preserves exactly the callee-saved registers: values planted in x19-x28
 * and d8-d15 by inline assembly on both sides survive a round trip.
 */
#undef NDEBUG
#include <assert.h>
#include <fcntl.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"

#define KIB ((size_t)1024)

static int checks;
#define CHECK(e) \
	do { \
		assert(e); \
		checks++; \
	} while (0)

/* ---- ping-pong and coro_self ---------------------------------------------- */

struct pp {
	long in, out;
	struct coro *self;
};

static void
pp_fn(void *arg)
{
	struct pp *s = arg;
	long sum = 0;

	s->self = coro_self();
	while (s->in >= 0) {
		sum += s->in;
		s->out = sum * 3 + s->in;
		coro_yield();
	}
	s->out = -sum;
}

static void
test_pingpong(struct coro_pool *p)
{
	struct pp s = { 0, 0, NULL };
	struct coro *c = coro_new(p, pp_fn, &s);
	long sum = 0;

	CHECK(c != NULL);
	CHECK(coro_self() == NULL);
	for (long i = 0; i < 500; i++) {
		s.in = i;
		sum += i;
		CHECK(coro_resume(c));
		CHECK(s.out == sum * 3 + i);
		CHECK(s.self == c);
	}
	s.in = -1;
	CHECK(!coro_resume(c));
	CHECK(coro_finished(c));
	CHECK(s.out == -sum);
	CHECK(coro_self() == NULL);
	coro_free(c);
}

/* ---- round robin ------------------------------------------------------------ */

#define RR_N 20

struct rr {
	int *log;
	int *n;
	int id, steps;
};

static void
rr_fn(void *arg)
{
	struct rr *t = arg;

	for (int i = 0; i < t->steps; i++) {
		t->log[(*t->n)++] = t->id;
		coro_yield();
	}
}

static void
test_round_robin(struct coro_pool *p)
{
	struct rr t[RR_N];
	struct coro *c[RR_N];
	int log[RR_N * 4], n = 0, k = 0, live = RR_N;

	for (int i = 0; i < RR_N; i++) {
		t[i] = (struct rr){ log, &n, i, i % 4 + 1 };
		c[i] = coro_new(p, rr_fn, &t[i]);
		CHECK(c[i] != NULL);
	}
	while (live > 0)
		for (int i = 0; i < RR_N; i++)
			if (c[i] != NULL && !coro_resume(c[i])) {
				coro_free(c[i]);
				c[i] = NULL;
				live--;
			}
	for (int r = 0; r < 4; r++)
		for (int i = 0; i < RR_N; i++)
			if (t[i].steps > r)
				CHECK(log[k++] == i);
	CHECK(k == n);
}

/* ---- nesting ---------------------------------------------------------------- */

struct nest {
	char trace[64];
	struct coro *a, *b;
};

static void
put(struct nest *n, const char *s)
{
	strcat(n->trace, s);
}

static void
nest_b(void *arg)
{
	struct nest *n = arg;

	put(n, "b1 ");
	coro_yield();
	put(n, "b2 ");
}

static void
nest_a(void *arg)
{
	struct nest *n = arg;

	put(n, "a1 ");
	put(n, coro_resume(n->b) ? "a2 " : "a2! ");
	coro_yield();
	put(n, coro_resume(n->b) ? "a3! " : "a3 ");
}

static void
test_nesting(struct coro_pool *p)
{
	struct nest n;

	memset(&n, 0, sizeof(n));
	n.a = coro_new(p, nest_a, &n);
	n.b = coro_new(p, nest_b, &n);
	CHECK(coro_resume(n.a));
	put(&n, "m1 ");
	CHECK(!coro_resume(n.a));
	put(&n, "m2");
	CHECK(strcmp(n.trace, "a1 b1 a2 m1 b2 a3 m2") == 0);
	coro_free(n.a);
	coro_free(n.b);
}

/* ---- abandon, reuse, deep stacks ------------------------------------------ */

static __attribute__((noinline)) unsigned long
rec(int level, int depth)
{
	unsigned char buf[1024];
	unsigned long sum = 0;

	memset(buf, level & 0xff, sizeof(buf));
	if (level < depth)
		sum = rec(level + 1, depth);
	else
		coro_yield();
	for (size_t i = 0; i < sizeof(buf); i++)
		sum += buf[i];
	return sum;
}

struct deep {
	int depth;
	unsigned long sum;
};

static void
deep_fn(void *arg)
{
	struct deep *d = arg;

	d->sum = rec(1, d->depth);
}

static void
test_abandon_reuse_deep(void)
{
	struct coro_pool *p = coro_pool_new(512 * KIB, 1);
	struct deep d1 = { 100, 0 }, d2 = { 400, 0 };
	unsigned long want = 0;
	struct coro *c;

	c = coro_new(p, deep_fn, &d1);
	CHECK(coro_resume(c));
	coro_free(c); /* abandoned 100 frames deep */
	CHECK(d1.sum == 0);
	c = coro_new(p, deep_fn, &d2); /* same stack, reused */
	CHECK(coro_resume(c));
	CHECK(!coro_resume(c));
	for (int l = 1; l <= 400; l++)
		want += 1024UL * (unsigned long)(l & 0xff);
	CHECK(d2.sum == want);
	coro_free(c);
	coro_pool_free(p);
}

/* ---- floating point ------------------------------------------------------- */

/* (float)*d, in a call of its own: compilers do not order plain arithmetic
 * against fesetround, but they do keep a volatile access in place. */
static __attribute__((noinline)) float
narrow(const volatile double *d)
{
	return (float)*d;
}

struct fp {
	volatile double third;
	volatile double seed; /* 7.0: the products below are exact */
	int mode_in, mode_fresh;
	float f_in;
	double a, b, c;
};

static void
fp_fn(void *arg)
{
	struct fp *s = arg;
	double x = s->seed * 5.0, y = x * x, z = y - x;

	s->mode_fresh = fegetround();
	fesetround(FE_UPWARD);
	coro_yield();
	s->mode_in = fegetround();
	s->f_in = narrow(&s->third);
	s->a = x;
	s->b = y;
	s->c = z;
}

static void
test_fp(struct coro_pool *p)
{
	struct fp s;
	struct coro *c;
	float near, down;

	memset(&s, 0, sizeof(s));
	s.third = 1.0 / 3.0;
	s.seed = 7.0;
	near = narrow(&s.third);
	fesetround(FE_DOWNWARD);
	down = narrow(&s.third);
	fesetround(FE_TONEAREST);
	CHECK(down < near);

	c = coro_new(p, fp_fn, &s);
	CHECK(coro_resume(c));
	CHECK(fegetround() == FE_TONEAREST);
	fesetround(FE_DOWNWARD);
	CHECK(!coro_resume(c));
	CHECK(fegetround() == FE_DOWNWARD);
	fesetround(FE_TONEAREST);
	CHECK(s.mode_fresh == FE_TONEAREST);
	CHECK(s.mode_in == FE_UPWARD);
	CHECK(s.f_in > down);
	CHECK(s.a == 35.0 && s.b == 1225.0 && s.c == 1190.0);
	coro_free(c);
}

/* ---- callee-saved registers, exactly (aarch64) ----------------------------- */

#if defined(__aarch64__)
/* Plant 18 distinct values (base + 1 .. base + 18) in x19-x28 and d8-d15,
 * call fn(arg) (a resume or a yield, so other code runs on the other side
 * and uses those registers), then store what x19-x28 and d8-d15 hold into
 * out[18]. The caller's own callee-saved registers are saved and restored
 * around all of it. The operands may sit in x19-x28 themselves, so they go
 * to the stack first. */
static __attribute__((noinline)) void
plant_switch_read(uint64_t base, uint64_t out[18], void (*fn)(void *),
    void *arg)
{
	__asm__ volatile(
	    "sub sp, sp, #192\n\t"
	    "stp x19, x20, [sp, #0]\n\tstp x21, x22, [sp, #16]\n\t"
	    "stp x23, x24, [sp, #32]\n\tstp x25, x26, [sp, #48]\n\t"
	    "stp x27, x28, [sp, #64]\n\tstp x29, x30, [sp, #80]\n\t"
	    "stp d8, d9, [sp, #96]\n\tstp d10, d11, [sp, #112]\n\t"
	    "stp d12, d13, [sp, #128]\n\tstp d14, d15, [sp, #144]\n\t"
	    "stp %0, %1, [sp, #160]\n\tstp %2, %3, [sp, #176]\n\t"
	    /* plant */
	    "ldr x10, [sp, #160]\n\t"
	    "add x19, x10, #1\n\tadd x20, x10, #2\n\tadd x21, x10, #3\n\t"
	    "add x22, x10, #4\n\tadd x23, x10, #5\n\tadd x24, x10, #6\n\t"
	    "add x25, x10, #7\n\tadd x26, x10, #8\n\tadd x27, x10, #9\n\t"
	    "add x28, x10, #10\n\t"
	    "add x9, x10, #11\n\tfmov d8, x9\n\t"
	    "add x9, x10, #12\n\tfmov d9, x9\n\t"
	    "add x9, x10, #13\n\tfmov d10, x9\n\t"
	    "add x9, x10, #14\n\tfmov d11, x9\n\t"
	    "add x9, x10, #15\n\tfmov d12, x9\n\t"
	    "add x9, x10, #16\n\tfmov d13, x9\n\t"
	    "add x9, x10, #17\n\tfmov d14, x9\n\t"
	    "add x9, x10, #18\n\tfmov d15, x9\n\t"
	    /* fn(arg) */
	    "ldp x11, x0, [sp, #176]\n\t"
	    "blr x11\n\t"
	    /* read back */
	    "ldr x9, [sp, #168]\n\t"
	    "stp x19, x20, [x9, #0]\n\tstp x21, x22, [x9, #16]\n\t"
	    "stp x23, x24, [x9, #32]\n\tstp x25, x26, [x9, #48]\n\t"
	    "stp x27, x28, [x9, #64]\n\t"
	    "stp d8, d9, [x9, #80]\n\tstp d10, d11, [x9, #96]\n\t"
	    "stp d12, d13, [x9, #112]\n\tstp d14, d15, [x9, #128]\n\t"
	    /* restore the caller's */
	    "ldp x19, x20, [sp, #0]\n\tldp x21, x22, [sp, #16]\n\t"
	    "ldp x23, x24, [sp, #32]\n\tldp x25, x26, [sp, #48]\n\t"
	    "ldp x27, x28, [sp, #64]\n\tldp x29, x30, [sp, #80]\n\t"
	    "ldp d8, d9, [sp, #96]\n\tldp d10, d11, [sp, #112]\n\t"
	    "ldp d12, d13, [sp, #128]\n\tldp d14, d15, [sp, #144]\n\t"
	    "add sp, sp, #192\n\t"
	    :
	    : "r"(base), "r"(out), "r"(fn), "r"(arg)
	    : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10",
	    "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x30", "v0",
	    "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18",
	    "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27",
	    "v28", "v29", "v30", "v31", "cc", "memory");
}

static void
check_planted(const uint64_t out[18], uint64_t base)
{
	for (int i = 0; i < 18; i++)
		CHECK(out[i] == base + (uint64_t)i + 1);
}

static void
call_yield(void *arg)
{
	(void)arg;
	coro_yield();
}

static void
call_resume(void *arg)
{
	coro_resume(arg);
}

static uint64_t regs_in[18];

static void
regs_fn(void *arg)
{
	(void)arg;
	plant_switch_read(0x7000, regs_in, call_yield, NULL);
}

static void
test_callee_saved(struct coro_pool *p)
{
	uint64_t out[18];
	struct coro *c = coro_new(p, regs_fn, NULL);

	/* main plants and resumes; the coroutine plants its own values and
	 * yields; main's values must be back. */
	plant_switch_read(0x1000, out, call_resume, c);
	check_planted(out, 0x1000);
	CHECK(!coro_finished(c));
	/* main plants others and resumes; the coroutine reads its own. */
	plant_switch_read(0x9000, out, call_resume, c);
	check_planted(out, 0x9000);
	CHECK(coro_finished(c));
	check_planted(regs_in, 0x7000);
	coro_free(c);
}
#endif

/* ---- guard page ------------------------------------------------------------ */

static __attribute__((noinline)) void
overflow(unsigned long n)
{
	volatile char buf[256];

	buf[0] = (char)n;
	if (n < (unsigned long)-1)
		overflow(n + 1);
	buf[1] = buf[0];
}

static void
overflow_fn(void *arg)
{
	(void)arg;
	overflow(1);
}

static void
test_guard_page(void)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct coro_pool *p = coro_pool_new(32 * KIB, 0);
		int null = open("/dev/null", O_WRONLY);

		/* qemu-user reports the fatal signal on stderr: expected */
		if (null >= 0)
			dup2(null, 2);
		coro_resume(coro_new(p, overflow_fn, NULL));
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
}

int
main(void)
{
	struct coro_pool *p = coro_pool_new(64 * KIB, 8);

	CHECK(p != NULL);
	test_pingpong(p);
	test_round_robin(p);
	test_nesting(p);
	test_fp(p);
#if defined(__aarch64__)
	test_callee_saved(p);
#endif
	coro_pool_free(p);
	test_abandon_reuse_deep();
	test_guard_page();
	printf("coro selftest: %d checks passed\n", checks);
	return 0;
}
