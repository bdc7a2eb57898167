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

/* owner: who registered it (registry_set_owner), for messages. */
struct flow_def {
	const char *name;
	af_flow_fn *fn;
	const char *owner;
};

struct obj_def {
	const char *name;
	struct af_method *methods;
	size_t nmethods;
	void *data;
	const char *owner;
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

/* Names registered from now on belong to `owner` (e.g. "built-in" or a
 * module's path; not copied: it must outlive the registry). Default "". */
void registry_set_owner(struct af_registry *r, const char *owner);
/* Why the latest failed af_register_* call failed, naming the name (e.g.
 * `flow "echo" is registered twice (first by built-in)`), or "" if none
 * failed since registry_new or registry_clear_error. A later success does
 * not clear it: the daemon asks after a module's init returns an error. */
const char *registry_error(const struct af_registry *r);
void registry_clear_error(struct af_registry *r);

/* What is registered now; registry_rollback unregisters everything
 * registered since (a module whose init failed leaves nothing behind). */
struct registry_mark {
	size_t nflows, nobjs;
};
struct registry_mark registry_mark(const struct af_registry *r);
void registry_rollback(struct af_registry *r, struct registry_mark m);

#endif
