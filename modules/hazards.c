/*
 * hazards.c: a test-only flow module whose flows do what a buggy module
 * might: hand the daemon malformed values, use a huge stack frame, loop
 * for ever. The e2e tests crash-values.sh, stack-clash.sh and runaway.sh
 * load it to show that the daemon survives them, or quarantines the right
 * activation. Not an example of how to write flows.
 *
 * Each flow first awaits args.after when it is given, so the hazard comes
 * in a later pass (after a settle), not in the start request.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "asyncflow/flow.h"

static void
maybe_wait(struct af_flow *f, const struct af_value *args)
{
	const struct af_value *after, *v;

	if ((after = af_get(args, "after")) != NULL)
		af_await(f, after, &v);
}

/* A list whose length lies: one item, at the very end of a readable page
 * that is followed by an inaccessible one, and a length of 2^40. */
static const struct af_value *
lying_list(struct af_flow *f)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct af_value *l;
	char *m;
	const struct af_value **items;

	m = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	mprotect(m + pg, (size_t)pg, PROT_NONE);
	items = (const struct af_value **)(m + pg) - 1;
	items[0] = af_int(af_flow_arena(f), 1);
	if ((l = af_arena_alloc(af_flow_arena(f), sizeof(*l))) == NULL)
		return NULL;
	memset(l, 0, sizeof(*l));
	l->type = AF_LIST;
	l->u.list.items = items;
	l->u.list.len = (size_t)1 << 40;
	return l;
}

/* A list that contains itself. */
static const struct af_value *
self_list(struct af_flow *f)
{
	struct af_value *l;
	const struct af_value **items;

	l = af_arena_alloc(af_flow_arena(f), sizeof(*l));
	items = af_arena_alloc(af_flow_arena(f), sizeof(*items));
	if (l == NULL || items == NULL)
		return NULL;
	memset(l, 0, sizeof(*l));
	l->type = AF_LIST;
	items[0] = l;
	l->u.list.items = items;
	l->u.list.len = 1;
	return l;
}

static const struct af_value *
bad_value(struct af_flow *f, const struct af_value *args)
{
	const struct af_value *k = af_get(args, "kind");

	if (k != NULL && k->type == AF_STRING &&
	    strcmp(k->u.s.ptr, "self") == 0)
		return self_list(f);
	return lying_list(f);
}

/* Returns the malformed value as its outcome. */
static int
flow_bad_result(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	maybe_wait(f, args);
	*result = bad_value(f, args);
	return AF_OK;
}

/* Passes the malformed value as the args of a call. */
static int
flow_bad_args(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *out = NULL;

	maybe_wait(f, args);
	af_call(f, "nothing", "here", bad_value(f, args), &out);
	*result = af_string(af_flow_arena(f), "survived");
	return AF_OK;
}

/* A 300 KiB frame, more than the whole default 256 KiB coroutine stack.
 * Without stack clash protection the frame is allocated by one move of the
 * stack pointer, past the guard page, and the writes below land in
 * whatever is mapped there (another coroutine's stack); with it every page
 * is probed on the way down and the guard page faults. */
static int __attribute__((noinline)) big_frame(int n)
{
	volatile char buf[300 * 1024];

	buf[0] = (char)n;
	buf[n] = (char)n;
	return buf[0] + buf[n];
}

static int
flow_big_frame(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	maybe_wait(f, args);
	*result = af_int(af_flow_arena(f), big_frame(1));
	return AF_OK;
}

/* Waits for args.after and returns args.value: a bystander. */
static int
flow_wait(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	maybe_wait(f, args);
	*result = af_get(args, "value");
	if (*result == NULL)
		*result = af_null(af_flow_arena(f));
	return AF_OK;
}

/* Sleeps args.sleep ms (a durable timer) or awaits args.after, creates the
 * file args.marker (so a test knows the turn began), then loops for ever
 * without reaching a wait: a runaway turn (holding stderr's stdio lock if
 * args.hold_stderr is true). */
static int
flow_spin(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *ms = af_get(args, "sleep"), *mark, *hold, *v;
	volatile unsigned long n = 0;
	int fd;

	if (ms != NULL && ms->type == AF_INT)
		af_await(f, af_sleep(f, ms->u.i), &v);
	maybe_wait(f, args);
	mark = af_get(args, "marker");
	if (mark != NULL && mark->type == AF_STRING &&
	    (fd = open(mark->u.s.ptr, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >=
		0)
		close(fd);
	/* args.hold_stderr: stuck while holding stdio's lock on stderr, as
	 * a turn that loops printing can be when it is stopped. */
	if ((hold = af_get(args, "hold_stderr")) != NULL &&
	    hold->type == AF_BOOL && hold->u.b)
		flockfile(stderr);
	for (;;)
		n++;
	*result = af_null(af_flow_arena(f));
	return AF_OK;
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	int rc;

	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	if ((rc = af_register_flow(r, "bad-result", flow_bad_result)) !=
		AF_OK ||
	    (rc = af_register_flow(r, "big-frame", flow_big_frame)) != AF_OK ||
	    (rc = af_register_flow(r, "wait", flow_wait)) != AF_OK ||
	    (rc = af_register_flow(r, "spin", flow_spin)) != AF_OK)
		return rc;
	return af_register_flow(r, "bad-args", flow_bad_args);
}
