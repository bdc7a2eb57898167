/*
 * registry.c: flow and host-object names (see registry.h). Small arrays
 * searched linearly with the most recently found entry first: a daemon has
 * tens of names, and a flow tends to call the same object in a loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

struct af_registry {
	struct flow_def *flows;
	size_t nflows, capflows;
	struct obj_def *objs;
	size_t nobjs, capobjs;
	const char *owner; /* registry_set_owner */
	char error[400];   /* registry_error */
};

struct af_registry *
registry_new(void)
{
	struct af_registry *r = calloc(1, sizeof(struct af_registry));

	if (r != NULL)
		r->owner = "";
	return r;
}

void
registry_set_owner(struct af_registry *r, const char *owner)
{
	r->owner = owner != NULL ? owner : "";
}

const char *
registry_error(const struct af_registry *r)
{
	return r->error;
}

void
registry_clear_error(struct af_registry *r)
{
	r->error[0] = '\0';
}

/* Records why a registration failed (registry_error); returns rc. */
static int refuse(struct af_registry *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(struct af_registry *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return rc;
}

/* A name for a message: at most 64 bytes of it ("" for NULL). */
#define SHOWN(s) ((s) != NULL ? 64 : 0), ((s) != NULL ? (s) : "")

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
	const struct flow_def *old;
	struct flow_def *f;

	if (r == NULL)
		return AF_EINVAL;
	if (!valid_name(name))
		return refuse(r, AF_EINVAL,
		    "flow name \"%.*s\" is empty or longer than 255 bytes",
		    SHOWN(name));
	if (fn == NULL)
		return refuse(r, AF_EINVAL, "flow \"%.*s\" has no function",
		    SHOWN(name));
	if ((old = registry_flow(r, name, strlen(name))) != NULL)
		return refuse(r, AF_EEXIST,
		    "flow \"%.*s\" is registered twice (first by %s)",
		    SHOWN(name), old->owner);
	if (r->nflows == r->capflows) {
		size_t cap = r->capflows ? r->capflows * 2 : 16;
		if ((f = realloc(r->flows, cap * sizeof(*f))) == NULL)
			return AF_ENOMEM;
		r->flows = f;
		r->capflows = cap;
	}
	r->flows[r->nflows++] = (struct flow_def){ name, fn, r->owner };
	return AF_OK;
}

int
af_register_object(struct af_registry *r, const char *name,
    const struct af_method *methods, size_t n, void *data)
{
	const struct obj_def *old;
	struct obj_def *o;
	struct af_method *m;
	size_t i;

	if (r == NULL)
		return AF_EINVAL;
	if (!valid_name(name))
		return refuse(r, AF_EINVAL,
		    "object name \"%.*s\" is empty or longer than 255 bytes",
		    SHOWN(name));
	if (n > 0 && methods == NULL)
		return refuse(r, AF_EINVAL,
		    "object \"%.*s\": %zu methods but no array", SHOWN(name),
		    n);
	for (i = 0; i < n; i++)
		if (!valid_name(methods[i].name) || methods[i].fn == NULL)
			return refuse(r, AF_EINVAL,
			    "object \"%.*s\": method %zu has no name or no "
			    "function",
			    SHOWN(name), i);
	if ((old = registry_object(r, name, strlen(name))) != NULL)
		return refuse(r, AF_EEXIST,
		    "object \"%.*s\" is registered twice (first by %s)",
		    SHOWN(name), old->owner);
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
	r->objs[r->nobjs++] = (struct obj_def){ name, m, n, data, r->owner };
	return AF_OK;
}

struct registry_mark
registry_mark(const struct af_registry *r)
{
	return (struct registry_mark){ r->nflows, r->nobjs };
}

void
registry_rollback(struct af_registry *r, struct registry_mark m)
{
	while (r->nobjs > m.nobjs)
		free(r->objs[--r->nobjs].methods);
	if (r->nflows > m.nflows)
		r->nflows = m.nflows;
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
