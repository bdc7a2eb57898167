/*
 * registry.h: the names flows and host objects are registered under
 * (struct af_registry of include/asyncflow/flow.h). Modules fill it at
 * start; the engine looks names up on every start, wake and call. It owns
 * copies of the method tables, not the names or functions (those belong to
 * the module, which stays loaded while the registry lives).
 *
 * Not here: loading .so files (the daemon), running anything.
 */
#ifndef AF_REGISTRY_H
#define AF_REGISTRY_H

#include <stddef.h>

#include "asyncflow/flow.h"

struct flow_def {
	const char *name;
	af_flow_fn *fn;
};

struct obj_def {
	const char *name;
	struct af_method *methods;
	size_t nmethods;
	void *data;
};

/* A new empty registry, or NULL (ENOMEM). */
struct af_registry *registry_new(void);
void registry_free(struct af_registry *r);

/* NULL if not registered. Names are compared in full (n bytes). */
const struct flow_def *
registry_flow(const struct af_registry *r, const char *name, size_t n);
const struct obj_def *
registry_object(const struct af_registry *r, const char *name, size_t n);
const struct af_method *
registry_method(const struct obj_def *o, const char *name, size_t n);
/* The name of the i-th flow (objects: the i-th object) in no particular
 * order, or NULL past the last; valid while the registry lives. */
const char *registry_flow_name(const struct af_registry *r, size_t i);
const char *registry_object_name(const struct af_registry *r, size_t i);

#endif
