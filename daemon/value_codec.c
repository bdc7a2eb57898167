/*
 * value_codec.c: the canonical encoding of values (value.h: value_encode,
 * value_decode), the proto/asyncflow.proto Value message with one encoding
 * per value.
 *
 * The decoder is on the replay hot path: it works straight on the bytes
 * (every tag of the Value schema is one byte), allocates only from the
 * arena, and lays out list items and record fields in one block each. It is
 * not a general protobuf decoder: anything but the canonical form is
 * refused, and the encoder refuses every value the decoder would (invalid
 * UTF-8, unsorted or duplicate keys, NUL in names), so whatever is stored
 * can be read back. Not here: building values (value.c), their text form
 * (value_text.c). No function here keeps state between calls.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value_int.h"

/* The one-byte keys of the Value schema: (field << 3) | wire type. */
#define KEY(f, wt) ((uint8_t)(((f) << 3) | (wt)))
#define K_NULL     KEY(1, PB_VARINT)
#define K_BOOL     KEY(2, PB_VARINT)
#define K_INT      KEY(3, PB_VARINT)
#define K_DOUBLE   KEY(4, PB_I64)
#define K_STRING   KEY(5, PB_LEN)
#define K_BYTES    KEY(6, PB_LEN)
#define K_LIST     KEY(7, PB_LEN)
#define K_RECORD   KEY(8, PB_LEN)
#define K_VOW      KEY(9, PB_VARINT)
#define K_RESOLVER KEY(10, PB_VARINT)
#define K_OBJ      KEY(11, PB_LEN)
#define K_ERROR    KEY(12, PB_LEN)
/* List.items, Record.fields, Field.key, Error.name */
#define K_1LEN     KEY(1, PB_LEN)
/* Field.value, Error.message */
#define K_2LEN     KEY(2, PB_LEN)

/* Field numbers, for the writer. */
enum {
	F_NULL = 1,
	F_BOOL,
	F_INT,
	F_DOUBLE,
	F_STRING,
	F_BYTES,
	F_LIST,
	F_RECORD,
	F_VOW,
	F_RESOLVER,
	F_OBJ,
	F_ERROR
};


/* ---- Encoder ------------------------------------------------------------- */

struct enc {
	struct buf *b;
	size_t start; /* b->len on entry */
};

static int
enc_value(struct enc *e, const struct af_value *v, int depth)
{
	struct buf *b = e->b;
	const struct af_field *f;
	size_t m, mf, mv, i;
	int rc;

	if (depth > AF_VALUE_MAX_DEPTH)
		return AF_ELIMIT;
	switch (v->type) {
	case AF_NULL:
		pb_put_uint64(b, F_NULL, 1);
		break;
	case AF_BOOL:
		pb_put_uint64(b, F_BOOL, v->u.b ? 1 : 0);
		break;
	case AF_INT:
		pb_put_sint64(b, F_INT, v->u.i);
		break;
	case AF_DOUBLE:
		pb_put_double(b, F_DOUBLE, v->u.d);
		break;
	case AF_STRING:
	case AF_BYTES:
	case AF_OBJ:
		if (v->u.s.len > MAXB)
			return AF_ELIMIT;
		/* What the decoder refuses is never written (DESIGN.md §2):
		 * a hand-built value could otherwise be stored and never
		 * read back. */
		if ((v->type == AF_STRING &&
			!text_valid(v->u.s.ptr, v->u.s.len)) ||
		    (v->type == AF_OBJ && !name_valid(v->u.s.ptr, v->u.s.len)))
			return AF_EINVAL;
		pb_put_bytes(b,
		    v->type == AF_STRING    ? F_STRING :
			v->type == AF_BYTES ? F_BYTES :
					      F_OBJ,
		    v->u.s.ptr, v->u.s.len);
		break;
	case AF_VOW:
		pb_put_uint64(b, F_VOW, v->u.id);
		break;
	case AF_RESOLVER:
		pb_put_uint64(b, F_RESOLVER, v->u.id);
		break;
	case AF_LIST:
		m = pb_begin_msg(b, F_LIST);
		for (i = 0; i < v->u.list.len; i++) {
			mf = pb_begin_msg(b, 1);
			if ((rc = enc_value(e, v->u.list.items[i],
				 depth + 1)) != AF_OK)
				return rc;
			pb_end_msg(b, mf);
			if (b->len - e->start > MAXB)
				return AF_ELIMIT;
		}
		pb_end_msg(b, m);
		break;
	case AF_RECORD:
		m = pb_begin_msg(b, F_RECORD);
		for (i = 0; i < v->u.rec.len; i++) {
			f = &v->u.rec.fields[i];
			if (f->key.len > MAXB)
				return AF_ELIMIT;
			if (!name_valid(f->key.ptr, f->key.len) ||
			    (i > 0 &&
				key_cmp(f[-1].key.ptr, f[-1].key.len,
				    f->key.ptr, f->key.len) >= 0))
				return AF_EINVAL; /* unsorted or duplicate */
			mf = pb_begin_msg(b, 1);
			if (f->key.len > 0)
				pb_put_bytes(b, 1, f->key.ptr, f->key.len);
			mv = pb_begin_msg(b, 2);
			if ((rc = enc_value(e, f->value, depth + 1)) != AF_OK)
				return rc;
			pb_end_msg(b, mv);
			pb_end_msg(b, mf);
			if (b->len - e->start > MAXB)
				return AF_ELIMIT;
		}
		pb_end_msg(b, m);
		break;
	case AF_ERROR:
		if (v->u.err.name.len > MAXB || v->u.err.message.len > MAXB)
			return AF_ELIMIT;
		if (!name_valid(v->u.err.name.ptr, v->u.err.name.len) ||
		    !name_valid(v->u.err.message.ptr, v->u.err.message.len))
			return AF_EINVAL;
		m = pb_begin_msg(b, F_ERROR);
		if (v->u.err.name.len > 0)
			pb_put_bytes(b, 1, v->u.err.name.ptr,
			    v->u.err.name.len);
		if (v->u.err.message.len > 0)
			pb_put_bytes(b, 2, v->u.err.message.ptr,
			    v->u.err.message.len);
		pb_end_msg(b, m);
		break;
	default:
		return AF_EINVAL;
	}
	if (b->err != AF_OK)
		return b->err;
	if (b->len - e->start > MAXB)
		return AF_ELIMIT;
	return AF_OK;
}

int
value_encode(struct buf *b, const struct af_value *v)
{
	struct enc e;
	int rc;

	if (b->err != AF_OK)
		return b->err;
	if (v == NULL)
		return AF_EINVAL;
	e.b = b;
	e.start = b->len;
	if ((rc = enc_value(&e, v, 1)) != AF_OK)
		buf_truncate(b, e.start);
	return rc;
}

/* ---- Decoder ------------------------------------------------------------- */

/*
 * Each function decodes the body [p, end) of one message. Since every key
 * of the schema is a single byte, keys are compared as bytes: a key that is
 * anything else (another field, another wire type, a longer varint) is
 * simply not one of them, and is refused.
 */

/* A minimal varint at *pp, not past end. */
static inline int
dec_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	struct pbr r;

	if (*pp < end && **pp < 0x80) {
		*v = *(*pp)++;
		return AF_OK;
	}
	r.p = *pp;
	r.end = end;
	if (pbr_varint_slow(&r, v) != AF_OK)
		return AF_EDECODE;
	*pp = r.p;
	return AF_OK;
}

/* A length prefix at *pp; *n bytes follow within end. */
static inline int
dec_len(const uint8_t **pp, const uint8_t *end, size_t *n)
{
	uint64_t u;

	if (dec_varint(pp, end, &u) != AF_OK || u > (uint64_t)(end - *pp))
		return AF_EDECODE;
	*n = (size_t)u;
	return AF_OK;
}

/* Counts the `key`-keyed length-delimited fields filling [p, end). */
static int
dec_count(const uint8_t *p, const uint8_t *end, size_t *count)
{
	size_t n = 0, len;

	while (p < end) {
		if (*p++ != K_1LEN || dec_len(&p, end, &len) != AF_OK)
			return AF_EDECODE;
		p += len;
		n++;
	}
	*count = n;
	return AF_OK;
}

/* A name-like string (no NUL) field's bytes, copied; present means
 * non-empty in the canonical form. */
static int
dec_name(struct af_arena *a, const uint8_t **pp, const uint8_t *end,
    struct af_str *s)
{
	size_t n;

	if (dec_len(pp, end, &n) != AF_OK || n == 0 || !name_valid(*pp, n))
		return AF_EDECODE;
	if (!str_copy(a, s, *pp, n))
		return AF_ENOMEM;
	*pp += n;
	return AF_OK;
}

static int dec_value(struct af_arena *, const uint8_t *, const uint8_t *, int,
    struct af_value *);

static int
dec_list(struct af_arena *a, const uint8_t *p, const uint8_t *end, int depth,
    struct af_value *v)
{
	struct af_value *slots;
	const struct af_value **items;
	size_t n, i, len;
	int rc;

	if (dec_count(p, end, &n) != AF_OK)
		return AF_EDECODE;
	v->type = AF_LIST;
	v->u.list.len = n;
	v->u.list.items = NULL;
	if (n == 0)
		return AF_OK;
	if ((slots = arena_alloc(a, n * (sizeof(*slots) + sizeof(*items)))) ==
	    NULL)
		return AF_ENOMEM;
	items = (const struct af_value **)(void *)(slots + n);
	for (i = 0; i < n; i++) {
		p++; /* K_1LEN, as dec_count checked */
		if (dec_len(&p, end, &len) != AF_OK)
			return AF_EDECODE;
		if ((rc = dec_value(a, p, p + len, depth + 1, &slots[i])) !=
		    AF_OK)
			return rc;
		items[i] = &slots[i];
		p += len;
	}
	v->u.list.items = items;
	return AF_OK;
}

static int
dec_record(struct af_arena *a, const uint8_t *p, const uint8_t *end, int depth,
    struct af_value *v)
{
	struct af_value *slots;
	struct af_field *fields;
	const uint8_t *fe, *key = NULL, *pkey = NULL;
	size_t n, i, len, klen = 0, pklen = 0;
	int rc;

	if (dec_count(p, end, &n) != AF_OK)
		return AF_EDECODE;
	v->type = AF_RECORD;
	v->u.rec.len = n;
	v->u.rec.fields = NULL;
	if (n == 0)
		return AF_OK;
	if ((slots = arena_alloc(a, n * (sizeof(*slots) + sizeof(*fields)))) ==
	    NULL)
		return AF_ENOMEM;
	fields = (struct af_field *)(void *)(slots + n);
	for (i = 0; i < n; i++) {
		p++; /* K_1LEN, as dec_count checked */
		if (dec_len(&p, end, &len) != AF_OK)
			return AF_EDECODE;
		fe = p + len;

		/* Field.key, absent when empty */
		klen = 0;
		key = p;
		if (p < fe && *p == K_1LEN) {
			p++;
			if (dec_len(&p, fe, &klen) != AF_OK || klen == 0 ||
			    !name_valid(p, klen))
				return AF_EDECODE;
			key = p;
			p += klen;
		}
		if (i > 0 && key_cmp(pkey, pklen, key, klen) >= 0)
			return AF_EDECODE; /* unsorted or duplicate */
		pkey = key;
		pklen = klen;

		/* Field.value, required, and nothing after it */
		if (p >= fe || *p++ != K_2LEN ||
		    dec_len(&p, fe, &len) != AF_OK || p + len != fe)
			return AF_EDECODE;
		if ((rc = dec_value(a, p, fe, depth + 1, &slots[i])) != AF_OK)
			return rc;
		if (!str_copy(a, &fields[i].key, key, klen))
			return AF_ENOMEM;
		fields[i].value = &slots[i];
		p = fe;
	}
	v->u.rec.fields = fields;
	return AF_OK;
}

static int
dec_error(struct af_arena *a, const uint8_t *p, const uint8_t *end,
    struct af_value *v)
{
	int rc;

	v->type = AF_ERROR;
	v->u.err.name.ptr = v->u.err.message.ptr = "";
	v->u.err.name.len = v->u.err.message.len = 0;
	if (p < end && *p == K_1LEN) {
		p++;
		if ((rc = dec_name(a, &p, end, &v->u.err.name)) != AF_OK)
			return rc;
	}
	if (p < end && *p == K_2LEN) {
		p++;
		if ((rc = dec_name(a, &p, end, &v->u.err.message)) != AF_OK)
			return rc;
	}
	return p == end ? AF_OK : AF_EDECODE;
}

/* One Value body [p, end): exactly one kind field, nothing else. */
static int
dec_value(struct af_arena *a, const uint8_t *p, const uint8_t *end, int depth,
    struct af_value *v)
{
	uint64_t u;
	size_t n;
	uint8_t key;

	if (depth > AF_VALUE_STORED_MAX_DEPTH)
		return AF_ELIMIT;
	if (p >= end)
		return AF_EDECODE; /* no kind */
	key = *p++;
	switch (key) {
	case K_NULL:
		if (end - p != 1 || *p != 1)
			return AF_EDECODE;
		v->type = AF_NULL;
		return AF_OK;
	case K_BOOL:
		if (end - p != 1 || *p > 1)
			return AF_EDECODE;
		v->type = AF_BOOL;
		v->u.b = *p != 0;
		return AF_OK;
	case K_INT:
	case K_VOW:
	case K_RESOLVER:
		if (dec_varint(&p, end, &u) != AF_OK || p != end)
			return AF_EDECODE;
		if (key == K_INT) {
			v->type = AF_INT;
			v->u.i = pb_unzigzag(u);
		} else {
			v->type = key == K_VOW ? AF_VOW : AF_RESOLVER;
			v->u.id = u;
		}
		return AF_OK;
	case K_DOUBLE:
		if (end - p != 8)
			return AF_EDECODE;
		u = (uint64_t)p[0] | (uint64_t)p[1] << 8 |
		    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
		    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
		    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
		v->type = AF_DOUBLE;
		memcpy(&v->u.d, &u, sizeof(v->u.d));
		return AF_OK;
	case K_STRING:
	case K_BYTES:
	case K_OBJ:
		if (dec_len(&p, end, &n) != AF_OK || p + n != end)
			return AF_EDECODE;
		if (key == K_STRING) {
			if (!value_utf8_valid(p, n))
				return AF_EDECODE;
			v->type = AF_STRING;
		} else if (key == K_OBJ) {
			if (!name_valid(p, n))
				return AF_EDECODE;
			v->type = AF_OBJ;
		} else
			v->type = AF_BYTES;
		return str_copy(a, &v->u.s, p, n) ? AF_OK : AF_ENOMEM;
	case K_LIST:
	case K_RECORD:
	case K_ERROR:
		if (dec_len(&p, end, &n) != AF_OK || p + n != end)
			return AF_EDECODE;
		if (key == K_LIST)
			return dec_list(a, p, end, depth, v);
		if (key == K_RECORD)
			return dec_record(a, p, end, depth, v);
		return dec_error(a, p, end, v);
	default:
		return AF_EDECODE; /* unknown field or wrong wire type */
	}
}

int
value_decode(struct af_arena *a, const void *p, size_t n,
    const struct af_value **out)
{
	struct af_value *v;
	int rc;

	if (out == NULL)
		return AF_EINVAL;
	*out = NULL;
	if (a == NULL)
		return AF_EINVAL;
	if (n > MAXB)
		return AF_ELIMIT;
	if (n == 0)
		return AF_EDECODE;
	if (p == NULL)
		return AF_EINVAL;
	if ((v = arena_alloc(a, sizeof(*v))) == NULL)
		return AF_ENOMEM;
	if ((rc = dec_value(a, p, (const uint8_t *)p + n, 1, v)) == AF_OK)
		*out = v;
	return rc;
}
