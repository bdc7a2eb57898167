/*
 * tables.c: ActivationRecord / VowRecord rows, watcher keys and meta
 * counters (see tables.h).
 */
#include <string.h>

#include "tables.h"

int
act_row_encode(struct buf *b, const struct act_row *r)
{
	if (r->flow.len)
		pb_put_bytes(b, 1, r->flow.ptr, r->flow.len);
	if (r->args.ptr)
		pb_put_bytes(b, 2, r->args.ptr, r->args.len);
	pb_put_uint64(b, 3, (uint64_t)r->state);
	if (r->outcome)
		pb_put_uint64(b, 4, r->outcome);
	if (r->journal_length)
		pb_put_uint64(b, 5, r->journal_length);
	if (r->failure.len)
		pb_put_bytes(b, 6, r->failure.ptr, r->failure.len);
	if (r->incarnation)
		pb_put_uint64(b, 7, r->incarnation);
	if (r->journal_gc)
		pb_put_uint64(b, 8, r->journal_gc);
	if (r->quarantined)
		pb_put_uint64(b, 9, 1);
	if (r->created_ms)
		pb_put_uint64(b, 10, (uint64_t)r->created_ms);
	if (r->last_progress_ms)
		pb_put_uint64(b, 11, (uint64_t)r->last_progress_ms);
	if (r->last_incarnation)
		pb_put_uint64(b, 12, r->last_incarnation);
	if (r->cancel_reason.ptr)
		pb_put_bytes(b, 21, r->cancel_reason.ptr, r->cancel_reason.len);
	if (r->pending_calls.len)
		pb_put_bytes(b, 22, r->pending_calls.ptr, r->pending_calls.len);
	if (r->parent)
		pb_put_uint64(b, 23, r->parent);
	return b->err;
}

int
act_row_parse(const void *p, size_t n, struct act_row *r)
{
	struct pbr rd;
	unsigned field, wt;
	uint64_t v;
	const uint8_t *bp;
	size_t bn;
	int rc;

	memset(r, 0, sizeof(*r));
	pbr_init(&rd, p, n);
	while ((rc = pbr_next(&rd, &field, &wt)) > 0) {
		if (field == 1 || field == 2 || field == 6 || field == 21 ||
		    field == 22) {
			if (wt != PB_LEN || pbr_bytes(&rd, &bp, &bn) != AF_OK)
				return AF_EDECODE;
			struct af_str s = { (const char *)bp, bn };
			if (field == 1)
				r->flow = s;
			else if (field == 2)
				r->args = s;
			else if (field == 6)
				r->failure = s;
			else if (field == 21)
				r->cancel_reason = s;
			else
				r->pending_calls = s;
			continue;
		}
		if (((field < 1 || field > 12) && field != 23) ||
		    wt != PB_VARINT || pbr_varint(&rd, &v) != AF_OK)
			return AF_EDECODE;
		switch (field) {
		case 23:
			r->parent = v;
			break;
		case 10:
			r->created_ms = (int64_t)v;
			break;
		case 11:
			r->last_progress_ms = (int64_t)v;
			break;
		case 12:
			r->last_incarnation = v;
			break;
		case 9:
			r->quarantined = v != 0;
			break;
		case 3:
			r->state = (enum act_state)v;
			break;
		case 4:
			r->outcome = v;
			break;
		case 5:
			r->journal_length = v;
			break;
		case 7:
			r->incarnation = v;
			break;
		case 8:
			r->journal_gc = v;
			break;
		}
	}
	if (rc < 0 || r->state < ACT_ACTIVE || r->state > ACT_DONE)
		return AF_EDECODE;
	return AF_OK;
}

int
vow_row_encode(struct buf *b, const struct vow_row *r)
{
	pb_put_uint64(b, 1, (uint64_t)r->state);
	pb_put_bytes(b, 2, r->secret, VOW_SECRET_LEN);
	if (r->value.ptr)
		pb_put_bytes(b, 3, r->value.ptr, r->value.len);
	if (r->follows)
		pb_put_uint64(b, 4, r->follows);
	if (r->settled_seq)
		pb_put_uint64(b, 5, r->settled_seq);
	if (r->owner)
		pb_put_uint64(b, 6, r->owner);
	if (r->followed)
		pb_put_uint64(b, 7, 1);
	if (r->invocation)
		pb_put_uint64(b, 8, 1);
	if (r->resolved_with)
		pb_put_uint64(b, 9, r->resolved_with);
	return b->err;
}

int
vow_row_parse(const void *p, size_t n, struct vow_row *r)
{
	struct pbr rd;
	unsigned field, wt;
	uint64_t v;
	const uint8_t *bp;
	size_t bn;
	int rc;

	memset(r, 0, sizeof(*r));
	pbr_init(&rd, p, n);
	while ((rc = pbr_next(&rd, &field, &wt)) > 0) {
		if (field == 2 || field == 3) {
			if (wt != PB_LEN || pbr_bytes(&rd, &bp, &bn) != AF_OK)
				return AF_EDECODE;
			if (field == 2) {
				if (bn != VOW_SECRET_LEN)
					return AF_EDECODE;
				memcpy(r->secret, bp, bn);
			} else
				r->value = (struct af_str){ (const char *)bp,
					bn };
			continue;
		}
		if (field < 1 || field > 9 || wt != PB_VARINT ||
		    pbr_varint(&rd, &v) != AF_OK)
			return AF_EDECODE;
		switch (field) {
		case 1:
			r->state = (enum vow_state)v;
			break;
		case 4:
			r->follows = v;
			break;
		case 5:
			r->settled_seq = v;
			break;
		case 6:
			r->owner = v;
			break;
		case 7:
			r->followed = v != 0;
			break;
		case 8:
			r->invocation = v != 0;
			break;
		case 9:
			r->resolved_with = v;
			break;
		}
	}
	if (rc < 0 || r->state < VOW_PENDING || r->state > VOW_FOLLOWING)
		return AF_EDECODE;
	return AF_OK;
}

int
outbox_row_encode(struct buf *b, const struct outbox_row *r)
{
	if (r->object.len)
		pb_put_bytes(b, 1, r->object.ptr, r->object.len);
	if (r->method.len)
		pb_put_bytes(b, 2, r->method.ptr, r->method.len);
	if (r->args.ptr)
		pb_put_bytes(b, 3, r->args.ptr, r->args.len);
	if (r->activation)
		pb_put_uint64(b, 4, r->activation);
	return b->err;
}

int
outbox_row_parse(const void *p, size_t n, struct outbox_row *r)
{
	struct pbr rd;
	unsigned field, wt;
	const uint8_t *bp;
	size_t bn;
	uint64_t v;
	int rc;

	memset(r, 0, sizeof(*r));
	pbr_init(&rd, p, n);
	while ((rc = pbr_next(&rd, &field, &wt)) > 0) {
		if (field >= 1 && field <= 3) {
			if (wt != PB_LEN || pbr_bytes(&rd, &bp, &bn) != AF_OK)
				return AF_EDECODE;
			struct af_str s = { (const char *)bp, bn };
			if (field == 1)
				r->object = s;
			else if (field == 2)
				r->method = s;
			else
				r->args = s;
		} else if (field == 4 && wt == PB_VARINT &&
		    pbr_varint(&rd, &v) == AF_OK)
			r->activation = v;
		else
			return AF_EDECODE;
	}
	return rc < 0 || r->object.len == 0 ? AF_EDECODE : AF_OK;
}

void
watch_key(uint8_t key[WATCH_KEY_LEN], uint64_t vow, enum watch_kind k,
    uint64_t id)
{
	store_be64(key, vow);
	key[8] = (uint8_t)k;
	store_be64(key + 9, id);
}

int
meta_get_u64(struct store_txn *t, const char *name, uint64_t *v)
{
	struct store_val val;
	int rc;

	*v = 0;
	rc = store_get(t, DB_META, (struct store_val){ name, strlen(name) },
	    &val);
	if (rc != AF_OK)
		return rc;
	if (val.n != 8)
		return AF_EDECODE;
	*v = store_rd_be64(val.p);
	return AF_OK;
}

int
meta_put_u64(struct store_txn *t, const char *name, uint64_t v)
{
	uint8_t b[8];

	store_be64(b, v);
	return store_put(t, DB_META, (struct store_val){ name, strlen(name) },
	    (struct store_val){ b, 8 }, false);
}

int
meta_batch_load(struct meta_batch *b, struct store_txn *t)
{
	struct store_val v;
	int rc;

	b->n = 0;
	b->dirty = false;
	rc = store_get(t, DB_META,
	    (struct store_val){ b->name, strlen(b->name) }, &v);
	if (rc == AF_ENOTFOUND)
		return AF_OK;
	if (rc != AF_OK)
		return rc;
	if (v.n % b->klen != 0 || v.n > b->max * b->klen)
		return AF_EDECODE;
	memcpy(b->keys, v.p, v.n);
	b->n = v.n / b->klen;
	return AF_OK;
}

int
meta_batch_add(struct meta_batch *b, struct store_txn *t, const void *key)
{
	int rc;

	if (b->n == b->max && (rc = meta_batch_flush(b, t)) != AF_OK)
		return rc;
	memcpy(b->keys + b->n++ * b->klen, key, b->klen);
	b->dirty = true;
	return AF_OK;
}

int
meta_batch_flush(struct meta_batch *b, struct store_txn *t)
{
	size_t i;
	int rc;

	for (i = 0; i < b->n; i++)
		if ((rc = store_put(t, b->db,
			 (struct store_val){ b->keys + i * b->klen, b->klen },
			 (struct store_val){ "", 0 }, false)) != AF_OK)
			return rc;
	b->dirty = b->dirty || b->n > 0;
	b->n = 0;
	return AF_OK;
}

int
meta_batch_write(struct meta_batch *b, struct store_txn *t)
{
	struct store_val k = { b->name, strlen(b->name) };
	int rc;

	if (!b->dirty)
		return AF_OK;
	if (b->n > 0)
		return store_put(t, DB_META, k,
		    (struct store_val){ b->keys, b->n * b->klen }, false);
	rc = store_del(t, DB_META, k);
	return rc == AF_ENOTFOUND ? AF_OK : rc;
}

const char *
act_state_name(enum act_state s)
{
	switch (s) {
	case ACT_ACTIVE:
		return "Active";
	case ACT_FAILED:
		return "Failed";
	case ACT_DONE:
		return "Done";
	default:
		return "?";
	}
}

size_t
owned_key(uint8_t *key, uint64_t act, enum owned_tag tag, const void *what,
    size_t n)
{
	if (n > OWNED_KEY_MAX - 9)
		n = OWNED_KEY_MAX - 9;
	store_be64(key, act);
	key[8] = (uint8_t)tag;
	memcpy(key + 9, what, n);
	return 9 + n;
}

void
finished_key(uint8_t key[FINISHED_KEY_LEN], int64_t ms, uint64_t act)
{
	store_be64(key, (uint64_t)ms);
	store_be64(key + 8, act);
}
