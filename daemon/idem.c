/*
 * idem.c: DB_IDEM rows (see idem.h).
 */
#include <stdlib.h>
#include <string.h>

#include "idem.h"
#include "store.h"
#include "tables.h"
#include "vec.h"

struct idem_key {
	char *key;
	uint8_t *val; /* act ‖ outcome ‖ request */
	size_t n;
};

void
idem_init(struct idem *id)
{
	memset(id, 0, sizeof(*id));
}

void
idem_reset(struct idem *id)
{
	size_t i;

	for (i = 0; i < id->n; i++) {
		free(id->keys[i].key);
		free(id->keys[i].val);
	}
	id->n = 0;
}

void
idem_release(struct idem *id)
{
	idem_reset(id);
	free(id->keys);
	idem_init(id);
}

static int
parse_val(const uint8_t *p, size_t n, uint64_t *act, uint64_t *outcome,
    struct buf *req)
{
	if (n < 16)
		return AF_EDECODE;
	*act = store_rd_be64(p);
	*outcome = store_rd_be64(p + 8);
	buf_put(req, p + 16, n - 16);
	return req->err;
}

int
idem_lookup(struct idem *id, struct store *s, const char *key, uint64_t *act,
    uint64_t *outcome, struct buf *req)
{
	struct store_txn *t;
	struct store_val v;
	size_t i;
	int rc;

	for (i = 0; i < id->n; i++)
		if (strcmp(id->keys[i].key, key) == 0)
			return parse_val(id->keys[i].val, id->keys[i].n, act,
			    outcome, req);
	if ((rc = store_begin(s, true, &t)) != AF_OK)
		return rc;
	rc = store_get(t, DB_IDEM, (struct store_val){ key, strlen(key) }, &v);
	if (rc == AF_OK)
		rc = parse_val(v.p, v.n, act, outcome, req);
	store_abort(t);
	return rc;
}

int
idem_add(struct idem *id, const char *key, uint64_t act, uint64_t outcome,
    const void *req, size_t n)
{
	struct idem_key *k;

	if (vec_grow((void **)&id->keys, &id->cap, id->n + 1,
		sizeof(*id->keys)) != AF_OK)
		return AF_ENOMEM;
	k = &id->keys[id->n];
	k->key = strdup(key);
	k->n = 16 + n;
	k->val = malloc(k->n);
	if (k->key == NULL || k->val == NULL) {
		free(k->key);
		free(k->val);
		return AF_ENOMEM;
	}
	store_be64(k->val, act);
	store_be64(k->val + 8, outcome);
	memcpy(k->val + 16, req, n);
	id->n++;
	return AF_OK;
}

int
idem_flush(struct idem *id, struct store_txn *t)
{
	size_t i;
	int rc;

	uint8_t okey[OWNED_KEY_MAX];
	size_t on;

	for (i = 0; i < id->n; i++) {
		rc = store_put(t, DB_IDEM,
		    (struct store_val){ id->keys[i].key,
			strlen(id->keys[i].key) },
		    (struct store_val){ id->keys[i].val, id->keys[i].n },
		    false);
		if (rc != AF_OK)
			return rc;
		/* Found again when its activation is pruned. */
		on = owned_key(okey, store_rd_be64(id->keys[i].val), OWNED_IDEM,
		    id->keys[i].key, strlen(id->keys[i].key));
		rc = store_put(t, DB_OWNED, (struct store_val){ okey, on },
		    (struct store_val){ "", 0 }, false);
		if (rc != AF_OK)
			return rc;
	}
	return AF_OK;
}
