/*
 * check_coro.c: the coroutine runtime (daemon/coro.c and the assembly
 * switch): values and control passed between contexts, interleaving,
 * nesting, abandoning and stack reuse, deep stacks, floating-point state,
 * the guard page and the precondition aborts.
 *
 * Assertions are made on the main context where possible: a failing Check
 * assertion longjmps in no-fork mode, which must not happen on a coroutine
 * stack.
 */
#include <fenv.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"
#include "testutil.h"

#define KIB ((size_t)1024)

static bool
nofork(void)
{
	const char *f = getenv("CK_FORK");

	return f != NULL && strcmp(f, "no") == 0;
}

/* ---- coro_self ---------------------------------------------------------------- */

struct self_state {
	struct coro *seen;
	void *data_seen;
};

static void
self_fn(void *arg)
{
	struct self_state *s = arg;

	s->seen = coro_self();
	s->data_seen = coro_get_data(coro_self());
	coro_yield();
	s->seen = coro_self();
}

START_TEST(test_coro_self_null_on_main_and_correct_inside)
{
	struct coro_pool *p = coro_pool_new(64 * KIB, 4);
	struct self_state s = { NULL, NULL };
	struct coro *c;
	int tag;

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(coro_self());
	c = coro_new(p, self_fn, &s);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(coro_get_data(c));
	coro_set_data(c, &tag);
	ck_assert_ptr_eq(coro_get_data(c), &tag);
	ck_assert(!coro_finished(c));

	ck_assert(coro_resume(c));
	ck_assert_ptr_eq(s.seen, c);
	ck_assert_ptr_eq(s.data_seen, &tag);
	ck_assert_ptr_null(coro_self());

	s.seen = NULL;
	ck_assert(!coro_resume(c));
	ck_assert_ptr_eq(s.seen, c);
	ck_assert(coro_finished(c));
	ck_assert_ptr_null(coro_self());
	coro_free(c);
	coro_free(NULL);
	coro_pool_free(p);
	coro_pool_free(NULL);
}
END_TEST

/* ---- ping-pong ------------------------------------------------------------ */

struct pingpong {
	long in;     /* main -> coroutine; negative: stop */
	long out;    /* coroutine -> main */
	long rounds; /* how many values the coroutine saw */
};

static void
pingpong_fn(void *arg)
{
	struct pingpong *pp = arg;
	long sum = 0;

	for (;;) {
		long v = pp->in;

		if (v < 0)
			break;
		sum += v;
		pp->out = v * 2 + 1 +
		    sum; /* depends on the coroutine's local */
		pp->rounds++;
		coro_yield();
	}
	pp->out = -sum;
}

START_TEST(test_coro_yield_returns_to_resumer)
{
	struct coro_pool *p = coro_pool_new(64 * KIB, 4);
	struct pingpong pp = { 0, 0, 0 };
	struct coro *c = coro_new(p, pingpong_fn, &pp);
	long sum = 0;

	ck_assert_ptr_nonnull(c);
	for (long i = 0; i < 1000; i++) {
		pp.in = i;
		sum += i;
		ck_assert(coro_resume(c));
		ck_assert_int_eq(pp.out, i * 2 + 1 + sum);
		ck_assert_int_eq(pp.rounds, i + 1);
		ck_assert(!coro_finished(c));
	}
	pp.in = -1;
	ck_assert(!coro_resume(c)); /* fn returned */
	ck_assert(coro_finished(c));
	ck_assert_int_eq(pp.out, -sum);
	coro_free(c);
	coro_pool_free(p);
}
END_TEST

/* ---- round robin ---------------------------------------------------------- */

#define RR_N         50
#define RR_MAX_STEPS 5

struct rr_shared {
	long counter;
	int log[RR_N * RR_MAX_STEPS];
	long stamp_err; /* a coroutine saw the counter move unexpectedly */
};

struct rr_task {
	struct rr_shared *sh;
	int id;
	int steps;
};

static void
rr_fn(void *arg)
{
	struct rr_task *t = arg;

	for (int i = 0; i < t->steps; i++) {
		long before = t->sh->counter;

		t->sh->log[t->sh->counter++] = t->id;
		coro_yield();
		/* Others ran in between: they appended, never overwrote. */
		if (t->sh->log[before] != t->id || t->sh->counter <= before)
			t->sh->stamp_err++;
	}
}

START_TEST(test_coro_round_robin_exact_sequence)
{
	struct coro_pool *p = coro_pool_new(16 * KIB, 8);
	struct rr_shared sh;
	struct rr_task tasks[RR_N];
	struct coro *cs[RR_N];
	int expect[RR_N * RR_MAX_STEPS];
	long n_expect = 0;
	int live = RR_N;

	memset(&sh, 0, sizeof(sh));
	for (int i = 0; i < RR_N; i++) {
		tasks[i] = (struct rr_task){ &sh, i, i % RR_MAX_STEPS + 1 };
		cs[i] = coro_new(p, rr_fn, &tasks[i]);
		ck_assert_ptr_nonnull(cs[i]);
	}
	/* Round r: every task with more than r steps logs once, in id order. */
	for (int r = 0; r < RR_MAX_STEPS; r++)
		for (int i = 0; i < RR_N; i++)
			if (tasks[i].steps > r)
				expect[n_expect++] = i;

	while (live > 0) {
		for (int i = 0; i < RR_N; i++) {
			if (cs[i] == NULL)
				continue;
			if (!coro_resume(cs[i])) {
				ck_assert(coro_finished(cs[i]));
				coro_free(cs[i]);
				cs[i] = NULL;
				live--;
			}
		}
	}
	ck_assert_int_eq(sh.counter, n_expect);
	for (long k = 0; k < n_expect; k++)
		ck_assert_msg(sh.log[k] == expect[k], "log[%ld] = %d, want %d",
		    k, sh.log[k], expect[k]);
	ck_assert_int_eq(sh.stamp_err, 0);
	coro_pool_free(p);
}
END_TEST

/* ---- nesting -------------------------------------------------------------- */

struct nest {
	char trace[64];
	struct coro *a, *b;
	bool self_ok;
};

static void
trace(struct nest *n, const char *s)
{
	if (strlen(n->trace) + strlen(s) + 2 < sizeof(n->trace)) {
		if (n->trace[0] != '\0')
			strcat(n->trace, " ");
		strcat(n->trace, s);
	}
}

static void
nest_b(void *arg)
{
	struct nest *n = arg;

	trace(n, "b1");
	if (coro_self() != n->b)
		n->self_ok = false;
	coro_yield();
	trace(n, "b2");
	if (coro_self() != n->b)
		n->self_ok = false;
	coro_yield();
	trace(n, "b3");
}

static void
nest_a(void *arg)
{
	struct nest *n = arg;

	trace(n, "a1");
	trace(n, coro_resume(n->b) ? "a2" : "a2!");
	if (coro_self() != n->a)
		n->self_ok = false;
	coro_yield();
	trace(n, "a3");
	trace(n, coro_resume(n->b) ? "a4" : "a4!");
	coro_yield();
	trace(n, "a5");
}

START_TEST(test_coro_nested_resume_yields_to_inner_resumer)
{
	struct coro_pool *p = coro_pool_new(64 * KIB, 4);
	struct nest n;

	memset(&n, 0, sizeof(n));
	n.self_ok = true;
	n.a = coro_new(p, nest_a, &n);
	n.b = coro_new(p, nest_b, &n);
	ck_assert_ptr_nonnull(n.a);
	ck_assert_ptr_nonnull(n.b);

	/* a resumes b; b's yield comes back to a, a's yield to main. */
	ck_assert(coro_resume(n.a));
	trace(&n, "m1");
	ck_assert_ptr_null(coro_self());
	/* a resumes b again; b yields to a, a yields to main. */
	ck_assert(coro_resume(n.a));
	trace(&n, "m2");
	/* Now main resumes b directly: b's yield (here: its return) comes
	 * back to main, its latest resumer, not to a. */
	ck_assert(!coro_resume(n.b));
	trace(&n, "m3");
	ck_assert(!coro_resume(n.a));
	trace(&n, "m4");

	ck_assert_str_eq(n.trace, "a1 b1 a2 m1 a3 b2 a4 m2 b3 m3 a5 m4");
	ck_assert(n.self_ok);
	coro_free(n.a);
	coro_free(n.b);
	coro_pool_free(p);
}
END_TEST

/* ---- abandoning and stack reuse ------------------------------------------ */

struct reuse {
	uintptr_t frame; /* an address on the coroutine's stack */
	long out;
	bool bytes_ok;
};

static __attribute__((noinline)) void
reuse_deep(struct reuse *r, int depth)
{
	char buf[512]; /* address taken: ASan redzones around it */

	memset(buf, depth, sizeof(buf));
	r->frame = (uintptr_t)__builtin_frame_address(0);
	if (depth > 0)
		reuse_deep(r, depth - 1);
	else
		coro_yield(); /* suspended deep inside, then freed */
	__asm__ volatile("" : : "r"(buf) : "memory");
}

static void
abandoned_fn(void *arg)
{
	reuse_deep(arg, 8);
	((struct reuse *)arg)->out = -1; /* never reached */
}

static void
reuser_fn(void *arg)
{
	struct reuse *r = arg;
	char big[24 * 1024]; /* spans where the abandoned frames were */

	r->frame = (uintptr_t)__builtin_frame_address(0);
	memset(big, 0x5a, sizeof(big));
	coro_yield();
	r->bytes_ok = true;
	for (size_t i = 0; i < sizeof(big); i++)
		if (big[i] != 0x5a)
			r->bytes_ok = false;
	r->out = 42;
}

START_TEST(test_coro_free_suspended_then_reuse_stack)
{
	size_t stack = 64 * KIB;
	struct coro_pool *p = coro_pool_new(stack, 1);
	struct reuse r1 = { 0, 0, false }, r2 = { 0, 0, false };
	struct coro *c1, *c2, *never;
	intptr_t d;

	c1 = coro_new(p, abandoned_fn, &r1);
	ck_assert_ptr_nonnull(c1);
	ck_assert(coro_resume(c1));
	ck_assert(r1.frame != 0);
	coro_free(c1); /* abandoned while suspended */
	ck_assert_int_eq(r1.out, 0);

	/* max_idle 1: the next coroutine gets the same stack back. */
	c2 = coro_new(p, reuser_fn, &r2);
	ck_assert_ptr_nonnull(c2);
	ck_assert(coro_resume(c2));
	d = (intptr_t)(r1.frame - r2.frame);
	ck_assert_msg(d > -(intptr_t)stack && d < (intptr_t)stack,
	    "stack not reused: frames %#lx and %#lx", (unsigned long)r1.frame,
	    (unsigned long)r2.frame);
	ck_assert(!coro_resume(c2));
	ck_assert(r2.bytes_ok);
	ck_assert_int_eq(r2.out, 42);

	/* A coroutine that never ran can be freed too. */
	never = coro_new(p, reuser_fn, &r1);
	ck_assert_ptr_nonnull(never);
	coro_free(never);
	coro_free(c2); /* pool already holds 1: unmapped */
	coro_pool_free(p);

	/* max_idle 0: every free sets its stack aside for coro_pool_trim,
	 * every new reuses one set aside or maps. */
	p = coro_pool_new(stack, 0);
	for (int i = 0; i < 3; i++) {
		struct reuse r = { 0, 0, false };
		struct coro *c = coro_new(p, reuser_fn, &r);

		ck_assert_ptr_nonnull(c);
		ck_assert(coro_resume(c));
		if (i == 1) {
			coro_free(c); /* abandon one */
			continue;
		}
		ck_assert(!coro_resume(c));
		ck_assert(r.bytes_ok);
		coro_free(c);
	}
	coro_pool_free(p);
}
END_TEST

/* Stacks freed beyond max_idle wait for coro_pool_trim (a munmap each),
 * a few at a time, and a new coroutine takes one of them first. */
START_TEST(test_coro_trim_unmaps_a_little_at_a_time)
{
	struct coro_pool *p = coro_pool_new(0, 1);
	struct coro *c[5];
	int i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 5; i++)
		ck_assert_ptr_nonnull(c[i] = coro_new(p, reuser_fn, NULL));
	for (i = 0; i < 5; i++)
		coro_free(c[i]);
	/* One idle, four set aside. */
	ck_assert_uint_eq(coro_pool_doomed(p), 4);
	ck_assert_uint_eq(coro_pool_trim(p, 3), 1);
	ck_assert_uint_eq(coro_pool_doomed(p), 1);
	/* The idle one, then the one set aside: nothing mapped anew. */
	ck_assert_ptr_nonnull(c[0] = coro_new(p, reuser_fn, NULL));
	ck_assert_ptr_nonnull(c[1] = coro_new(p, reuser_fn, NULL));
	ck_assert_uint_eq(coro_pool_doomed(p), 0);
	ck_assert_uint_eq(coro_pool_trim(p, 8), 0);
	coro_free(c[0]);
	coro_free(c[1]);
	ck_assert_uint_eq(coro_pool_doomed(p), 1);
	coro_pool_free(p); /* unmaps the rest */
}
END_TEST

/* ---- deep recursion ------------------------------------------------------- */

#define FRAME_BUF 1024

struct deep {
	int depth; /* levels to go down */
	int reached;
	long corrupt;
	unsigned long sum;
};

static __attribute__((noinline)) unsigned long
deep_rec(struct deep *d, int level)
{
	unsigned char buf[FRAME_BUF];
	unsigned long sum = 0;

	memset(buf, (unsigned char)(level * 7 + 1), sizeof(buf));
	if (level > d->reached)
		d->reached = level;
	if (level < d->depth)
		sum = deep_rec(d, level + 1);
	else
		coro_yield(); /* switch out and back at the deepest point */
	for (size_t i = 0; i < sizeof(buf); i++) {
		if (buf[i] != (unsigned char)(level * 7 + 1))
			d->corrupt++;
		sum += buf[i];
	}
	return sum;
}

static void
deep_fn(void *arg)
{
	struct deep *d = arg;

	d->sum = deep_rec(d, 1);
}

static void
run_deep(size_t stack, int depth)
{
	struct coro_pool *p = coro_pool_new(stack, 1);
	struct deep d = { depth, 0, 0, 0 };
	struct coro *c = coro_new(p, deep_fn, &d);
	unsigned long want = 0;
	unsigned char noise[FRAME_BUF * 4];

	ck_assert_ptr_nonnull(c);
	ck_assert(coro_resume(c));
	ck_assert_int_eq(d.reached, depth);
	memset(noise, 0xee, sizeof(noise)); /* main's stack is busy too */
	__asm__ volatile("" : : "r"(noise) : "memory");
	ck_assert(!coro_resume(c));
	ck_assert_int_eq(d.corrupt, 0);
	for (int level = 1; level <= depth; level++)
		want += (unsigned long)FRAME_BUF *
		    (unsigned char)(level * 7 + 1);
	ck_assert_uint_eq(d.sum, want);
	coro_free(c);
	coro_pool_free(p);
}

START_TEST(test_coro_deep_recursion_within_stack_size)
{
	/* ~1 KiB (a bit more under ASan) per level: about 60% of 256 KiB
	 * and of 1 MiB. */
	run_deep(256 * KIB, 150);
	run_deep(1024 * KIB, 600);
	/* Anything under 16 KiB is raised to 16 KiB. */
	run_deep(1, 8);
}
END_TEST

/* ---- longjmp inside a coroutine ------------------------------------------ */

struct jump {
	jmp_buf env;
	int levels;
	int landed;
};

static __attribute__((noinline)) void
jump_down(struct jump *j, int level)
{
	char buf[300]; /* poisoned redzones the jump skips over */

	memset(buf, level, sizeof(buf));
	__asm__ volatile("" : : "r"(buf) : "memory");
	j->levels = level;
	if (level == 5)
		coro_yield(); /* switch out with the frames still live */
	if (level < 10)
		jump_down(j, level + 1);
	else if (level == 10)
		longjmp(j->env, level);
}

static void
jump_fn(void *arg)
{
	struct jump *j = arg;
	int v = setjmp(j->env);

	if (v == 0)
		jump_down(j, 1);
	j->landed = v;
	coro_yield();
	{
		char big[8 * 1024]; /* where the skipped frames were */

		memset(big, 1, sizeof(big));
		__asm__ volatile("" : : "r"(big) : "memory");
	}
}

START_TEST(test_coro_longjmp_within_coroutine)
{
	struct coro_pool *p = coro_pool_new(64 * KIB, 1);
	struct jump j;
	struct coro *c;

	memset(&j, 0, sizeof(j));
	c = coro_new(p, jump_fn, &j);
	ck_assert_ptr_nonnull(c);
	ck_assert(coro_resume(c));
	ck_assert_int_eq(j.levels, 5);
	ck_assert(coro_resume(c));
	ck_assert_int_eq(j.levels, 10);
	ck_assert_int_eq(j.landed, 10);
	ck_assert(!coro_resume(c));
	coro_free(c);
	coro_pool_free(p);
}
END_TEST

/* ---- floating point ------------------------------------------------------- */

/* (float)*d, in a call of its own: compilers do not order plain arithmetic
 * against fesetround, but they do keep a volatile access in place. */
static __attribute__((noinline)) float
narrow(const volatile double *d)
{
	return (float)*d;
}

struct fpst {
	volatile double third;  /* rounds differently in every mode */
	volatile double seed;   /* 3.0: the arithmetic below is exact, so
				   * its results do not depend on the mode
				   * in force where the compiler puts it */
	float f_first, f_after; /* (float)third inside the coroutine */
	int mode_after;         /* fegetround() inside after a switch */
	int mode_fresh;         /* fegetround() at a coroutine's start */
	double acc;
	bool locals_ok;
};

static void
fp_fn(void *arg)
{
	struct fpst *s = arg;
	double a = s->seed * 3.0, b = a + 0.5, c = b * 4.0, d = c - a;
	double e = d / 8.0, f = e * e, g = f + a, h = g * b;
	double ea = a, eb = b, ec = c, ed = d, ee = e, ef = f, eg = g, eh = h;

	s->mode_fresh = fegetround();
	fesetround(FE_UPWARD);
	s->f_first = narrow(&s->third);
	coro_yield();
	s->mode_after = fegetround();
	s->f_after = narrow(&s->third);
	coro_yield();
	s->locals_ok = a == ea && b == eb && c == ec && d == ed && e == ee &&
	    f == ef && g == eg && h == eh;
	s->acc = a + b + c + d + e + f + g + h; /* exact: 334.7421875 */
	/* Returns with FE_UPWARD still set: it must not reach main. */
}

START_TEST(test_coro_fp_state_survives_and_does_not_leak)
{
	struct coro_pool *p = coro_pool_new(64 * KIB, 4);
	struct fpst s;
	struct coro *c, *fresh;
	volatile double seed = 3.0; /* exact arithmetic, as in fp_fn */
	double m1 = seed * 11.0, m2 = m1 * m1, m3 = m2 - seed, m4 = m3 / 3.0;
	float near, down;
	struct fpst f2;

	memset(&s, 0, sizeof(s));
	s.third = 1.0 / 3.0;
	s.seed = 3.0;
	ck_assert_int_eq(fegetround(), FE_TONEAREST);
	near = narrow(&s.third);
	fesetround(FE_DOWNWARD);
	down = narrow(&s.third);
	fesetround(FE_TONEAREST);
	ck_assert(down < near); /* the conversion does follow the mode */

	c = coro_new(p, fp_fn, &s);
	ck_assert_ptr_nonnull(c);
	ck_assert(coro_resume(c));
	/* The coroutine switched to FE_UPWARD; main is still nearest. */
	ck_assert_int_eq(fegetround(), FE_TONEAREST);
	ck_assert(narrow(&s.third) == near);
	ck_assert(s.f_first > down);
	ck_assert_int_eq(s.mode_fresh, FE_TONEAREST);

	/* Main goes downward; the coroutine keeps its own upward mode. */
	fesetround(FE_DOWNWARD);
	ck_assert(coro_resume(c));
	ck_assert_int_eq(fegetround(), FE_DOWNWARD);
	ck_assert(narrow(&s.third) == down);
	ck_assert_int_eq(s.mode_after, FE_UPWARD);
	ck_assert(s.f_after == s.f_first);
	ck_assert(s.f_after > down);

	/* A coroutine starts with the mode in force at coro_new. */
	memset(&f2, 0, sizeof(f2));
	f2.third = 1.0 / 3.0;
	f2.seed = 3.0;
	fresh = coro_new(p, fp_fn, &f2);
	ck_assert_ptr_nonnull(fresh);
	fesetround(FE_TONEAREST);
	ck_assert(coro_resume(fresh));
	ck_assert_int_eq(f2.mode_fresh, FE_DOWNWARD);
	ck_assert_int_eq(fegetround(), FE_TONEAREST);
	coro_free(fresh);

	ck_assert(!coro_resume(c));
	ck_assert_int_eq(fegetround(), FE_TONEAREST);
	ck_assert(s.locals_ok);
	ck_assert(s.acc == 334.7421875);
	/* Main's locals lived across all of this. */
	ck_assert(m1 == 33.0);
	ck_assert(m2 == 1089.0);
	ck_assert(m3 == 1086.0);
	ck_assert(m4 == 362.0);
	coro_free(c);
	coro_pool_free(p);
}
END_TEST

/* ---- guard page ------------------------------------------------------------ */

#define GUARD_STACK (64 * KIB)

static volatile sig_atomic_t guard_depth;
static volatile uintptr_t guard_top; /* frame address at the start */
static uintptr_t guard_page;

static __attribute__((noinline)) void
overflow(unsigned long n)
{
	volatile char buf[256];

	buf[0] = (char)n;
	guard_depth = (sig_atomic_t)n;
	if (n < (unsigned long)-1) /* not provably infinite */
		overflow(n + 1);
	buf[1] = buf[0]; /* not a tail call */
}

static void
overflow_fn(void *arg)
{
	(void)arg;
	guard_top = (uintptr_t)__builtin_frame_address(0);
	overflow(1);
}

/* Runs on the alternate stack. Dies by SIGSEGV (by returning with the
 * default action restored, so the access faults again) only if the fault
 * is in the guard page: the page just below the coroutine's 64 KiB of
 * usable stack, whose top is the page boundary above guard_top. Exits 3
 * otherwise. */
static void
guard_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	uintptr_t top = (guard_top + guard_page - 1) & ~(guard_page - 1);
	uintptr_t guard_hi = top - GUARD_STACK;
	uintptr_t guard_lo = guard_hi - guard_page;
	struct sigaction dfl;

	(void)uc;
	if (a < guard_lo || a >= guard_hi)
		_exit(3);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
}

START_TEST(test_coro_guard_page_hit_is_sigsegv)
{
	static char altstack[64 * 1024];
	stack_t ss;
	struct sigaction sa;
	struct coro_pool *p = coro_pool_new(GUARD_STACK, 0);
	struct coro *c = coro_new(p, overflow_fn, NULL);

	ck_assert_ptr_nonnull(c);
	guard_page = (uintptr_t)sysconf(_SC_PAGESIZE);
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
	coro_resume(c);
	ck_abort_msg("overflowing the coroutine stack did not fault");
}
END_TEST

/* ---- precondition aborts (fork mode only) --------------------------------- */

/* The abort message is expected: keep it out of the test output. */
static void
quiet_stderr(void)
{
	if (freopen("/dev/null", "w", stderr) == NULL)
		abort();
}

static void
noop_fn(void *arg)
{
	(void)arg;
}

static void
self_resume_fn(void *arg)
{
	(void)arg;
	coro_resume(coro_self());
}

START_TEST(test_coro_yield_on_main_aborts)
{
	quiet_stderr();
	coro_yield();
}
END_TEST

START_TEST(test_coro_resume_finished_aborts)
{
	struct coro_pool *p = coro_pool_new(0, 0);
	struct coro *c = coro_new(p, noop_fn, NULL);

	quiet_stderr();
	ck_assert(!coro_resume(c));
	coro_resume(c);
}
END_TEST

START_TEST(test_coro_resume_running_aborts)
{
	struct coro_pool *p = coro_pool_new(0, 0);
	struct coro *c = coro_new(p, self_resume_fn, NULL);

	quiet_stderr();
	coro_resume(c);
}
END_TEST

START_TEST(test_coro_pool_free_with_live_coroutine_aborts)
{
	struct coro_pool *p = coro_pool_new(0, 0);

	quiet_stderr();
	ck_assert_ptr_nonnull(coro_new(p, noop_fn, NULL));
	coro_pool_free(p);
}
END_TEST

static Suite *
coro_suite(void)
{
	Suite *s = suite_create("coro");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_coro_self_null_on_main_and_correct_inside);
	tcase_add_test(tc, test_coro_yield_returns_to_resumer);
	tcase_add_test(tc, test_coro_round_robin_exact_sequence);
	tcase_add_test(tc, test_coro_nested_resume_yields_to_inner_resumer);
	tcase_add_test(tc, test_coro_free_suspended_then_reuse_stack);
	tcase_add_test(tc, test_coro_trim_unmaps_a_little_at_a_time);
	tcase_add_test(tc, test_coro_deep_recursion_within_stack_size);
	tcase_add_test(tc, test_coro_fp_state_survives_and_does_not_leak);
	tcase_add_test(tc, test_coro_longjmp_within_coroutine);
	suite_add_tcase(s, tc);

	/* These kill the process: only when Check forks (not CK_FORK=no,
	 * which is how the suite runs under valgrind). */
	if (!nofork()) {
		TCase *die = tcase_create("death");

		tcase_set_timeout(die, 60);
		tcase_add_test_raise_signal(die,
		    test_coro_guard_page_hit_is_sigsegv, SIGSEGV);
		tcase_add_test_raise_signal(die, test_coro_yield_on_main_aborts,
		    SIGABRT);
		tcase_add_test_raise_signal(die,
		    test_coro_resume_finished_aborts, SIGABRT);
		tcase_add_test_raise_signal(die,
		    test_coro_resume_running_aborts, SIGABRT);
		tcase_add_test_raise_signal(die,
		    test_coro_pool_free_with_live_coroutine_aborts, SIGABRT);
		suite_add_tcase(s, die);
	}
	return s;
}

TEST_MAIN(coro_suite)
