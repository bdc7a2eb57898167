/*
 * idem.h: idempotency keys of keyed starts (DB_IDEM). A key maps to the
 * activation it started and the request that started it (flow and encoded
 * args), so that a repeat is recognised and a different request with the
 * same key refused. Keys recorded by this pass are kept here, answer
 * lookups at once, and are written in the pass's commit, each with a
 * DB_OWNED row of its activation (tables.h), so that a key goes when its
 * activation is pruned (prune.h). It does not start anything: the engine
 * does.
 *
 * Row layout: key = the key's bytes; value = act ‖ outcome (big-endian) ‖
 * the request bytes.
 */
#ifndef AF_IDEM_H
#define AF_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct store;
struct store_txn;

#define IDEM_KEY_MAX 256

struct idem_key;

struct idem {
	struct idem_key *keys; /* recorded by this pass */
	size_t n, cap;
};

void idem_init(struct idem *id);
void idem_release(struct idem *id);
/* Forget this pass's keys. */
void idem_reset(struct idem *id);

/* What `key` started: this pass's keys first, then the committed ones.
 * *req gets the recorded request bytes appended. AF_ENOTFOUND if unknown. */
int idem_lookup(struct idem *id, struct store *s, const char *key,
    uint64_t *act, uint64_t *outcome, struct buf *req);
/* Record that `key` started act/outcome for request req/n (copied). */
int idem_add(struct idem *id, const char *key, uint64_t act, uint64_t outcome,
    const void *req, size_t n);
/* Write this pass's keys in the caller's write transaction. */
int idem_flush(struct idem *id, struct store_txn *t);

#endif /* AF_IDEM_H */
