/*
 * builtin_flows.h: the demo flows every asyncflowd registers (see
 * builtin_flows.c).
 */
#ifndef AF_BUILTIN_FLOWS_H
#define AF_BUILTIN_FLOWS_H

struct af_registry;

/* Register echo and gather. AF_OK or AF_EEXIST. */
int builtin_flows_register(struct af_registry *r);

#endif
