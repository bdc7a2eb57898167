/*
 * flowkit.c: the workload and helpers the in-process engine benchmarks
 * share (see flowkit.h). Not a program: the Makefile links it into them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "flowkit.h"
#include "value.h"

void
die(const char *what, const char *err)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
	    err);
	exit(1);
}

void
flowkit_mkdir(char *dir, size_t len)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, len, "%s/afbench.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", dir);
}

void
flowkit_rmdir(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: could not remove %s\n",
		    program_invocation_short_name, dir);
}

/* counter.next(x): a vow settled with x, returned. */
static int
counter_next(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *r, *v;

	(void)data;
	if ((v = af_host_vow_kit(h, &r)) == NULL ||
	    af_host_resolve(h, r, args) != AF_OK)
		return AF_ENOMEM;
	*result = v;
	return AF_OK;
}

static const struct af_method counter_methods[] = { { "next", counter_next } };

static int
flow_loop(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v, *x;
	int64_t i, n = af_get(args, "n")->u.i;

	for (i = 0; i < n; i++) {
		if (af_call(f, "counter", "next", af_int(af_flow_arena(f), i),
			&v) != AF_OK ||
		    af_await(f, v, &x) != AF_OK)
			return AF_REJECTED;
	}
	af_await(f, af_get(args, "hang"), &x);
	*result = x;
	return AF_OK;
}

void
flowkit_register_loop(struct af_registry *reg)
{
	if (reg == NULL ||
	    af_register_object(reg, "counter", counter_methods, 1, NULL) !=
		AF_OK ||
	    af_register_flow(reg, "loop", flow_loop) != AF_OK)
		die("registry", "out of memory");
}

int
flowkit_trivial(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	*result = args;
	return AF_OK;
}
