/*
 * registry.c: flow and host-object names (see registry.h). Small arrays
 * searched linearly with the most recently found entry first: a daemon has
 * tens of names, and a flow tends to call the same object in a loop.
 */
#include <stdlib.h>
#include <string.h>

#include "registry.h"

struct af_registry {
	struct flow_def *flows;
	size_t nflows, capflows;
	struct obj_def *objs;
	size_t nobjs, capobjs;
};

struct af_registry *
registry_new(void)
{
	return calloc(1, sizeof(struct af_registry));
}

void
registry_free(struct af_registry *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nobjs; i++)
		free(r->objs[i].methods);
	free(r->objs);
	free(r->flows);
	free(r);
}

static int
valid_name(const char *name)
{
	size_t n;

	if (name == NULL || (n = strlen(name)) == 0 || n > 255)
		return 0;
	return 1;
}

/* The registered C string s equals the n bytes at name (which may hold
 * a NUL: then it matches nothing). */
static int
name_eq(const char *s, const char *name, size_t n)
{
	return strlen(s) == n && memcmp(s, name, n) == 0;
}

const struct flow_def *
registry_flow(const struct af_registry *r, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < r->nflows; i++)
		if (name_eq(r->flows[i].name, name, n))
			return &r->flows[i];
	return NULL;
}

const struct obj_def *
registry_object(const struct af_registry *r, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < r->nobjs; i++)
		if (name_eq(r->objs[i].name, name, n))
			return &r->objs[i];
	return NULL;
}

const struct af_method *
registry_method(const struct obj_def *o, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < o->nmethods; i++)
		if (name_eq(o->methods[i].name, name, n))
			return &o->methods[i];
	return NULL;
}

int
af_register_flow(struct af_registry *r, const char *name, af_flow_fn *fn)
{
	struct flow_def *f;

	if (r == NULL || !valid_name(name) || fn == NULL)
		return AF_EINVAL;
	if (registry_flow(r, name, strlen(name)) != NULL)
		return AF_EEXIST;
	if (r->nflows == r->capflows) {
		size_t cap = r->capflows ? r->capflows * 2 : 16;
		if ((f = realloc(r->flows, cap * sizeof(*f))) == NULL)
			return AF_ENOMEM;
		r->flows = f;
		r->capflows = cap;
	}
	r->flows[r->nflows++] = (struct flow_def){ name, fn };
	return AF_OK;
}

int
af_register_object(struct af_registry *r, const char *name,
    const struct af_method *methods, size_t n, void *data)
{
	struct obj_def *o;
	struct af_method *m;
	size_t i;

	if (r == NULL || !valid_name(name) || (n > 0 && methods == NULL))
		return AF_EINVAL;
	for (i = 0; i < n; i++)
		if (!valid_name(methods[i].name) || methods[i].fn == NULL)
			return AF_EINVAL;
	if (registry_object(r, name, strlen(name)) != NULL)
		return AF_EEXIST;
	if (r->nobjs == r->capobjs) {
		size_t cap = r->capobjs ? r->capobjs * 2 : 16;
		if ((o = realloc(r->objs, cap * sizeof(*o))) == NULL)
			return AF_ENOMEM;
		r->objs = o;
		r->capobjs = cap;
	}
	if ((m = malloc((n ? n : 1) * sizeof(*m))) == NULL)
		return AF_ENOMEM;
	if (n)
		memcpy(m, methods, n * sizeof(*m));
	r->objs[r->nobjs++] = (struct obj_def){ name, m, n, data };
	return AF_OK;
}

const char *
registry_flow_name(const struct af_registry *r, size_t i)
{
	return i < r->nflows ? r->flows[i].name : NULL;
}

const char *
registry_object_name(const struct af_registry *r, size_t i)
{
	return i < r->nobjs ? r->objs[i].name : NULL;
}
