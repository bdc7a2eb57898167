/*
 * api_invocation.h: the wire form of an invocation — the Invocation and
 * ResolverGrant messages of proto/asyncflow.proto — made from what the
 * engine returns (struct engine_invocation). The engine knows no wire
 * messages; this is the one place that writes these field numbers.
 */
#ifndef AF_API_INVOCATION_H
#define AF_API_INVOCATION_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "engine.h"

/* Append inv as an Invocation message (without length prefix) to b. */
int api_invocation_encode(struct buf *b, const struct engine_invocation *inv);

/* engine_invocation for result vow `vow`, encoded into b (appended); with
 * secrets, its resolver and grants. AF_ENOTFOUND once answered. */
int api_invocation(struct engine *e, uint64_t vow, bool secrets, struct buf *b);

#endif /* AF_API_INVOCATION_H */
