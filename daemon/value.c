/*
 * value.c: values (DESIGN.md §2): the constructors, accessors, equality and
 * copy of flow.h, and the canonical codec, diff and text form of value.h.
 *
 * The decoder is on the replay hot path: it works straight on the bytes
 * (every tag of the Value schema is one byte), allocates only from the
 * arena, and lays out list items and record fields in one block each. It is
 * not a general protobuf decoder: anything but the canonical form is
 * refused. No function here keeps state between calls.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

/* The one-byte keys of the Value schema: (field << 3) | wire type. */
#define KEY(f, wt)	((uint8_t)(((f) << 3) | (wt)))
#define K_NULL		KEY(1, PB_VARINT)
#define K_BOOL		KEY(2, PB_VARINT)
#define K_INT		KEY(3, PB_VARINT)
#define K_DOUBLE	KEY(4, PB_I64)
#define K_STRING	KEY(5, PB_LEN)
#define K_BYTES		KEY(6, PB_LEN)
#define K_LIST		KEY(7, PB_LEN)
#define K_RECORD	KEY(8, PB_LEN)
#define K_VOW		KEY(9, PB_VARINT)
#define K_RESOLVER	KEY(10, PB_VARINT)
#define K_OBJ		KEY(11, PB_LEN)
#define K_ERROR		KEY(12, PB_LEN)
/* List.items, Record.fields, Field.key, Error.name */
#define K_1LEN		KEY(1, PB_LEN)
/* Field.value, Error.message */
#define K_2LEN		KEY(2, PB_LEN)

/* Field numbers, for the writer. */
enum {
	F_NULL = 1, F_BOOL, F_INT, F_DOUBLE, F_STRING, F_BYTES, F_LIST,
	F_RECORD, F_VOW, F_RESOLVER, F_OBJ, F_ERROR
};

#define MAXB	((size_t)AF_VALUE_MAX_BYTES)

static const struct af_value v_null = { .type = AF_NULL };
static const struct af_value v_true = { .type = AF_BOOL, .u.b = true };
static const struct af_value v_false = { .type = AF_BOOL, .u.b = false };

/* ---- Text checks --------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p[0..n) (n > 0), or 0. */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t	 c = p[0], lo = 0x80, hi = 0xbf;
	size_t	 k, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;		/* continuation byte or overlong */
	if (c < 0xe0)
		k = 2;
	else if (c < 0xf0) {
		k = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c < 0xf5) {
		k = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

bool
value_utf8_valid(const void *s, size_t n)
{
	const uint8_t	*p = s;
	size_t		 i = 0, k;
	uint64_t	 w;

	while (i < n) {
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if ((w & 0x8080808080808080ULL) == 0) {
				i += 8;
				continue;
			}
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

/* UTF-8 without NUL: record keys, object names, error fields. */
static bool
name_valid(const void *p, size_t n)
{
	return value_utf8_valid(p, n) && (n == 0 || memchr(p, 0, n) == NULL);
}

/* Bytewise order of record keys: memcmp, then the shorter first. */
static int
key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int	 c;

	if ((c = memcmp(a, b, an < bn ? an : bn)) != 0)
		return c;
	return an < bn ? -1 : an > bn;
}

/* ---- Sizes and limits ---------------------------------------------------- */

/* Size of a length-delimited field with a one-byte key and an n-byte body. */
static inline size_t
ld_size(size_t n)
{
	return 1 + pb_varint_size(n) + n;
}

static int	measure(const struct af_value *, int, size_t *);

/* Size of a List body of items[0..n) at depth `depth`. */
static int
measure_items(const struct af_value *const *items, size_t n, int depth,
    size_t *out)
{
	size_t	 s = 0, i, c;
	int	 rc;

	for (i = 0; i < n; i++) {
		if ((rc = measure(items[i], depth, &c)) != AF_OK)
			return rc;
		s += ld_size(c);
		if (s > MAXB)
			return AF_ELIMIT;
	}
	*out = s;
	return AF_OK;
}

/* Size of a Field body. */
static int
measure_field(size_t klen, const struct af_value *v, int depth, size_t *out)
{
	size_t	 c;
	int	 rc;

	if (klen > MAXB)
		return AF_ELIMIT;
	if ((rc = measure(v, depth, &c)) != AF_OK)
		return rc;
	*out = (klen > 0 ? ld_size(klen) : 0) + ld_size(c);
	return AF_OK;
}

/*
 * Size of v's Value body, checking depth and size as it goes: every value
 * costs at least two bytes, so a walk that stops at AF_VALUE_MAX_BYTES stays
 * bounded even when subvalues are shared many times over.
 */
static int
measure(const struct af_value *v, int depth, size_t *out)
{
	size_t	 s, i, f;
	int	 rc;

	if (depth > AF_VALUE_MAX_DEPTH)
		return AF_ELIMIT;
	switch (v->type) {
	case AF_NULL:
	case AF_BOOL:
		*out = 2;
		return AF_OK;
	case AF_INT:
		*out = 1 + pb_varint_size(pb_zigzag(v->u.i));
		return AF_OK;
	case AF_DOUBLE:
		*out = 9;
		return AF_OK;
	case AF_VOW:
	case AF_RESOLVER:
		*out = 1 + pb_varint_size(v->u.id);
		return AF_OK;
	case AF_STRING:
	case AF_BYTES:
	case AF_OBJ:
		if (v->u.s.len > MAXB)
			return AF_ELIMIT;
		s = ld_size(v->u.s.len);
		break;
	case AF_LIST:
		if ((rc = measure_items(v->u.list.items, v->u.list.len,
		    depth + 1, &s)) != AF_OK)
			return rc;
		s = ld_size(s);
		break;
	case AF_RECORD:
		s = 0;
		for (i = 0; i < v->u.rec.len; i++) {
			if ((rc = measure_field(v->u.rec.fields[i].key.len,
			    v->u.rec.fields[i].value, depth + 1, &f)) != AF_OK)
				return rc;
			s += ld_size(f);
			if (s > MAXB)
				return AF_ELIMIT;
		}
		s = ld_size(s);
		break;
	case AF_ERROR:
		if (v->u.err.name.len > MAXB || v->u.err.message.len > MAXB)
			return AF_ELIMIT;
		s = 0;
		if (v->u.err.name.len > 0)
			s += ld_size(v->u.err.name.len);
		if (v->u.err.message.len > 0)
			s += ld_size(v->u.err.message.len);
		s = ld_size(s);
		break;
	default:
		return AF_EINVAL;
	}
	if (s > MAXB)
		return AF_ELIMIT;
	*out = s;
	return AF_OK;
}

int
value_measure(const struct af_value *v, size_t *size)
{
	if (v == NULL)
		return AF_EINVAL;
	return measure(v, 1, size);
}

/* ---- Constructors -------------------------------------------------------- */

static struct af_value *
newval(struct af_arena *a, enum af_type t)
{
	struct af_value	*v;

	if (a == NULL || (v = arena_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	v->type = t;
	return v;
}

/* A NUL-terminated copy of p[0..n) for an af_str; "" costs nothing. */
static bool
str_copy(struct af_arena *a, struct af_str *s, const void *p, size_t n)
{
	if (n == 0) {
		s->ptr = "";
		s->len = 0;
		return true;
	}
	if ((s->ptr = arena_strndup(a, p, n)) == NULL)
		return false;
	s->len = n;
	return true;
}

const struct af_value *
af_null(struct af_arena *a)
{
	return a != NULL ? &v_null : NULL;
}

const struct af_value *
af_bool(struct af_arena *a, bool b)
{
	if (a == NULL)
		return NULL;
	return b ? &v_true : &v_false;
}

const struct af_value *
af_int(struct af_arena *a, int64_t i)
{
	struct af_value	*v;

	if ((v = newval(a, AF_INT)) != NULL)
		v->u.i = i;
	return v;
}

const struct af_value *
af_double(struct af_arena *a, double d)
{
	struct af_value	*v;

	if ((v = newval(a, AF_DOUBLE)) != NULL)
		v->u.d = d;
	return v;
}

static const struct af_value *
make_str(struct af_arena *a, enum af_type t, const void *p, size_t n)
{
	struct af_value	*v;

	if ((p == NULL && n > 0) || n > MAXB || ld_size(n) > MAXB)
		return NULL;
	if (t == AF_STRING && !value_utf8_valid(p, n))
		return NULL;
	if (t == AF_OBJ && !name_valid(p, n))
		return NULL;
	if ((v = newval(a, t)) == NULL || !str_copy(a, &v->u.s, p, n))
		return NULL;
	return v;
}

const struct af_value *
af_string(struct af_arena *a, const char *s)
{
	if (s == NULL)
		return NULL;
	return make_str(a, AF_STRING, s, strlen(s));
}

const struct af_value *
af_stringn(struct af_arena *a, const char *s, size_t n)
{
	return make_str(a, AF_STRING, s, n);
}

const struct af_value *
af_bytes(struct af_arena *a, const void *p, size_t n)
{
	return make_str(a, AF_BYTES, p, n);
}

const struct af_value *
af_obj(struct af_arena *a, const char *name)
{
	if (name == NULL)
		return NULL;
	return make_str(a, AF_OBJ, name, strlen(name));
}

const struct af_value *
af_vow_ref(struct af_arena *a, uint64_t id)
{
	struct af_value	*v;

	if ((v = newval(a, AF_VOW)) != NULL)
		v->u.id = id;
	return v;
}

const struct af_value *
af_resolver_ref(struct af_arena *a, uint64_t id)
{
	struct af_value	*v;

	if ((v = newval(a, AF_RESOLVER)) != NULL)
		v->u.id = id;
	return v;
}

const struct af_value *
af_error(struct af_arena *a, const char *name, const char *message)
{
	struct af_value	*v;
	size_t		 nn, mn, s;

	if (name == NULL)
		return NULL;
	if (message == NULL)
		message = "";
	nn = strlen(name);
	mn = strlen(message);
	if (nn > MAXB || mn > MAXB)
		return NULL;
	s = (nn > 0 ? ld_size(nn) : 0) + (mn > 0 ? ld_size(mn) : 0);
	if (ld_size(s) > MAXB || !value_utf8_valid(name, nn) ||
	    !value_utf8_valid(message, mn))
		return NULL;
	if ((v = newval(a, AF_ERROR)) == NULL ||
	    !str_copy(a, &v->u.err.name, name, nn) ||
	    !str_copy(a, &v->u.err.message, message, mn))
		return NULL;
	return v;
}

const struct af_value *
af_list_of(struct af_arena *a, const struct af_value *const *items, size_t n)
{
	struct af_value		 *v;
	const struct af_value	**copy = NULL;
	size_t			  i, s;

	if (a == NULL || (items == NULL && n > 0))
		return NULL;
	for (i = 0; i < n; i++)
		if (items[i] == NULL)
			return NULL;
	if (measure_items(items, n, 2, &s) != AF_OK || ld_size(s) > MAXB)
		return NULL;
	if (n > 0) {
		if ((copy = arena_alloc(a, n * sizeof(*copy))) == NULL)
			return NULL;
		memcpy(copy, items, n * sizeof(*copy));
	}
	if ((v = newval(a, AF_LIST)) == NULL)
		return NULL;
	v->u.list.items = copy;
	v->u.list.len = n;
	return v;
}

/* The constructor's name before flow.h renamed it (af_list is the client
 * library's call): still exported, so a module built against the old
 * header loads unchanged. Not in flow.h; new code uses af_list_of. */
const struct af_value *
af_list(struct af_arena *a, const struct af_value *const *items, size_t n)
{
	return af_list_of(a, items, n);
}

static int
field_cmp(const void *x, const void *y)
{
	const struct af_field	*a = x, *b = y;

	return key_cmp(a->key.ptr, a->key.len, b->key.ptr, b->key.len);
}

const struct af_value *
af_record(struct af_arena *a, const char *const *keys,
    const struct af_value *const *vals, size_t n)
{
	struct af_value	*v;
	struct af_field	*fields = NULL, t;
	size_t		 i, j, s = 0, f, klen;

	if (a == NULL || ((keys == NULL || vals == NULL) && n > 0))
		return NULL;
	if (n > MAXB / 4)
		return NULL;		/* each field costs 4 bytes or more */
	for (i = 0; i < n; i++) {
		if (keys[i] == NULL || vals[i] == NULL)
			return NULL;
		klen = strlen(keys[i]);
		if (!value_utf8_valid(keys[i], klen) ||
		    measure_field(klen, vals[i], 2, &f) != AF_OK)
			return NULL;
		s += ld_size(f);
		if (s > MAXB)
			return NULL;
	}
	if (ld_size(s) > MAXB)
		return NULL;

	if (n > 0) {
		if ((fields = arena_alloc(a, n * sizeof(*fields))) == NULL)
			return NULL;
		for (i = 0; i < n; i++) {
			if (!str_copy(a, &fields[i].key, keys[i],
			    strlen(keys[i])))
				return NULL;
			fields[i].value = vals[i];
		}
		if (n <= 16) {
			for (i = 1; i < n; i++) {
				t = fields[i];
				for (j = i; j > 0 &&
				    field_cmp(&fields[j - 1], &t) > 0; j--)
					fields[j] = fields[j - 1];
				fields[j] = t;
			}
		} else
			qsort(fields, n, sizeof(*fields), field_cmp);
		for (i = 1; i < n; i++)
			if (field_cmp(&fields[i - 1], &fields[i]) == 0)
				return NULL;	/* duplicate key */
	}
	if ((v = newval(a, AF_RECORD)) == NULL)
		return NULL;
	v->u.rec.fields = fields;
	v->u.rec.len = n;
	return v;
}

/* ---- Accessors, equality, copy ------------------------------------------- */

const struct af_value *
af_get(const struct af_value *rec, const char *key)
{
	const struct af_field	*f;
	size_t			 lo, hi, mid, klen;
	int			 c;

	if (rec == NULL || key == NULL || rec->type != AF_RECORD)
		return NULL;
	klen = strlen(key);
	f = rec->u.rec.fields;
	lo = 0;
	hi = rec->u.rec.len;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = key_cmp(key, klen, f[mid].key.ptr, f[mid].key.len);
		if (c == 0)
			return f[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct af_value *
af_at(const struct af_value *list, size_t i)
{
	if (list == NULL || list->type != AF_LIST || i >= list->u.list.len)
		return NULL;
	return list->u.list.items[i];
}

static bool
str_eq(const struct af_str *a, const struct af_str *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->ptr, b->ptr, a->len) == 0);
}

bool
af_value_equal(const struct af_value *x, const struct af_value *y)
{
	size_t	 i;

	if (x == y)
		return true;
	if (x == NULL || y == NULL || x->type != y->type)
		return false;
	switch (x->type) {
	case AF_NULL:
		return true;
	case AF_BOOL:
		return x->u.b == y->u.b;
	case AF_INT:
		return x->u.i == y->u.i;
	case AF_DOUBLE:
		return memcmp(&x->u.d, &y->u.d, sizeof(x->u.d)) == 0;
	case AF_STRING:
	case AF_BYTES:
	case AF_OBJ:
		return str_eq(&x->u.s, &y->u.s);
	case AF_VOW:
	case AF_RESOLVER:
		return x->u.id == y->u.id;
	case AF_LIST:
		if (x->u.list.len != y->u.list.len)
			return false;
		for (i = 0; i < x->u.list.len; i++)
			if (!af_value_equal(x->u.list.items[i],
			    y->u.list.items[i]))
				return false;
		return true;
	case AF_RECORD:
		if (x->u.rec.len != y->u.rec.len)
			return false;
		for (i = 0; i < x->u.rec.len; i++)
			if (!str_eq(&x->u.rec.fields[i].key,
			    &y->u.rec.fields[i].key) ||
			    !af_value_equal(x->u.rec.fields[i].value,
			    y->u.rec.fields[i].value))
				return false;
		return true;
	case AF_ERROR:
		return str_eq(&x->u.err.name, &y->u.err.name);
	}
	return false;
}

/* Deep copy of src into *dst; false on ENOMEM or a value too deep. */
static bool
copy_into(struct af_arena *a, struct af_value *dst,
    const struct af_value *src, int depth)
{
	struct af_value		 *slots;
	const struct af_value	**items;
	struct af_field		 *fields;
	size_t			  i, n;

	if (depth > AF_VALUE_MAX_DEPTH)
		return false;
	*dst = *src;
	switch (src->type) {
	case AF_STRING:
	case AF_BYTES:
	case AF_OBJ:
		return str_copy(a, &dst->u.s, src->u.s.ptr, src->u.s.len);
	case AF_ERROR:
		return str_copy(a, &dst->u.err.name, src->u.err.name.ptr,
		    src->u.err.name.len) &&
		    str_copy(a, &dst->u.err.message, src->u.err.message.ptr,
		    src->u.err.message.len);
	case AF_LIST:
		if ((n = src->u.list.len) == 0)
			return true;
		slots = arena_alloc(a, n * (sizeof(*slots) + sizeof(*items)));
		if (slots == NULL)
			return false;
		items = (const struct af_value **)(void *)(slots + n);
		for (i = 0; i < n; i++) {
			if (!copy_into(a, &slots[i], src->u.list.items[i],
			    depth + 1))
				return false;
			items[i] = &slots[i];
		}
		dst->u.list.items = items;
		return true;
	case AF_RECORD:
		if ((n = src->u.rec.len) == 0)
			return true;
		slots = arena_alloc(a, n * (sizeof(*slots) + sizeof(*fields)));
		if (slots == NULL)
			return false;
		fields = (struct af_field *)(void *)(slots + n);
		for (i = 0; i < n; i++) {
			if (!str_copy(a, &fields[i].key,
			    src->u.rec.fields[i].key.ptr,
			    src->u.rec.fields[i].key.len) ||
			    !copy_into(a, &slots[i],
			    src->u.rec.fields[i].value, depth + 1))
				return false;
			fields[i].value = &slots[i];
		}
		dst->u.rec.fields = fields;
		return true;
	default:
		return true;
	}
}

const struct af_value *
af_value_copy(struct af_arena *a, const struct af_value *v)
{
	struct af_value	*d;

	if (a == NULL || v == NULL)
		return NULL;
	if ((d = arena_alloc(a, sizeof(*d))) == NULL ||
	    !copy_into(a, d, v, 1))
		return NULL;
	return d;
}

/* ---- Encoder ------------------------------------------------------------- */

struct enc {
	struct buf	*b;
	size_t		 start;		/* b->len on entry */
};

static int
enc_value(struct enc *e, const struct af_value *v, int depth)
{
	struct buf		*b = e->b;
	const struct af_field	*f;
	size_t			 m, mf, mv, i;
	int			 rc;

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
		pb_put_bytes(b, v->type == AF_STRING ? F_STRING :
		    v->type == AF_BYTES ? F_BYTES : F_OBJ, v->u.s.ptr,
		    v->u.s.len);
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
	struct enc	 e;
	int		 rc;

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
	struct pbr	 r;

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
	uint64_t	 u;

	if (dec_varint(pp, end, &u) != AF_OK ||
	    u > (uint64_t)(end - *pp))
		return AF_EDECODE;
	*n = (size_t)u;
	return AF_OK;
}

/* Counts the `key`-keyed length-delimited fields filling [p, end). */
static int
dec_count(const uint8_t *p, const uint8_t *end, size_t *count)
{
	size_t	 n = 0, len;

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
	size_t	 n;

	if (dec_len(pp, end, &n) != AF_OK || n == 0 || !name_valid(*pp, n))
		return AF_EDECODE;
	if (!str_copy(a, s, *pp, n))
		return AF_ENOMEM;
	*pp += n;
	return AF_OK;
}

static int	dec_value(struct af_arena *, const uint8_t *, const uint8_t *,
		    int, struct af_value *);

static int
dec_list(struct af_arena *a, const uint8_t *p, const uint8_t *end,
    int depth, struct af_value *v)
{
	struct af_value		 *slots;
	const struct af_value	**items;
	size_t			  n, i, len;
	int			  rc;

	if (dec_count(p, end, &n) != AF_OK)
		return AF_EDECODE;
	v->type = AF_LIST;
	v->u.list.len = n;
	v->u.list.items = NULL;
	if (n == 0)
		return AF_OK;
	if ((slots = arena_alloc(a, n * (sizeof(*slots) +
	    sizeof(*items)))) == NULL)
		return AF_ENOMEM;
	items = (const struct af_value **)(void *)(slots + n);
	for (i = 0; i < n; i++) {
		p++;			/* K_1LEN, as dec_count checked */
		if (dec_len(&p, end, &len) != AF_OK)
			return AF_EDECODE;
		if ((rc = dec_value(a, p, p + len, depth + 1,
		    &slots[i])) != AF_OK)
			return rc;
		items[i] = &slots[i];
		p += len;
	}
	v->u.list.items = items;
	return AF_OK;
}

static int
dec_record(struct af_arena *a, const uint8_t *p, const uint8_t *end,
    int depth, struct af_value *v)
{
	struct af_value	*slots;
	struct af_field	*fields;
	const uint8_t	*fe, *key = NULL, *pkey = NULL;
	size_t		 n, i, len, klen = 0, pklen = 0;
	int		 rc;

	if (dec_count(p, end, &n) != AF_OK)
		return AF_EDECODE;
	v->type = AF_RECORD;
	v->u.rec.len = n;
	v->u.rec.fields = NULL;
	if (n == 0)
		return AF_OK;
	if ((slots = arena_alloc(a, n * (sizeof(*slots) +
	    sizeof(*fields)))) == NULL)
		return AF_ENOMEM;
	fields = (struct af_field *)(void *)(slots + n);
	for (i = 0; i < n; i++) {
		p++;			/* K_1LEN, as dec_count checked */
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
			return AF_EDECODE;	/* unsorted or duplicate */
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
	int	 rc;

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
dec_value(struct af_arena *a, const uint8_t *p, const uint8_t *end,
    int depth, struct af_value *v)
{
	uint64_t	 u;
	size_t		 n;
	uint8_t		 key;

	if (depth > AF_VALUE_MAX_DEPTH)
		return AF_ELIMIT;
	if (p >= end)
		return AF_EDECODE;		/* no kind */
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
		return AF_EDECODE;	/* unknown field or wrong wire type */
	}
}

int
value_decode(struct af_arena *a, const void *p, size_t n,
    const struct af_value **out)
{
	struct af_value	*v;
	int		 rc;

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

/* ---- Text ---------------------------------------------------------------- */

const char *
value_type_name(enum af_type t)
{
	static const char *const names[] = {
		"null", "bool", "int", "double", "string", "bytes", "list",
		"record", "vow", "resolver", "obj", "error"
	};

	if ((unsigned)t < sizeof(names) / sizeof(names[0]))
		return names[t];
	return "?";
}

void
value_json_string(struct buf *b, const void *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t	*p = s;
	size_t		 i = 0, run, k;
	uint8_t		 c;
	char		 esc[6];

	buf_putc(b, '"');
	while (i < n) {
		/* the longest run that needs no escaping */
		for (run = i; run < n; run++) {
			c = p[run];
			if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f)
				break;
			if (c >= 0x80) {
				if ((k = utf8_seq(p + run, n - run)) == 0)
					break;
				run += k - 1;
			}
		}
		buf_put(b, p + i, run - i);
		if ((i = run) == n)
			break;
		c = p[i++];
		switch (c) {
		case '"':
			buf_put(b, "\\\"", 2);
			break;
		case '\\':
			buf_put(b, "\\\\", 2);
			break;
		case '\n':
			buf_put(b, "\\n", 2);
			break;
		case '\r':
			buf_put(b, "\\r", 2);
			break;
		case '\t':
			buf_put(b, "\\t", 2);
			break;
		case '\b':
			buf_put(b, "\\b", 2);
			break;
		case '\f':
			buf_put(b, "\\f", 2);
			break;
		default:
			if (c >= 0x80) {
				buf_put(b, "\\ufffd", 6);	/* bad UTF-8 */
				break;
			}
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			buf_put(b, esc, 6);
			break;
		}
	}
	buf_putc(b, '"');
}

static void
text_base64(struct buf *b, const uint8_t *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char		 q[4];
	uint32_t	 w;
	size_t		 i;

	buf_putc(b, '"');
	for (i = 0; i + 3 <= n; i += 3) {
		w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		q[0] = tab[w >> 18];
		q[1] = tab[(w >> 12) & 63];
		q[2] = tab[(w >> 6) & 63];
		q[3] = tab[w & 63];
		buf_put(b, q, 4);
	}
	if (n - i == 1) {
		w = (uint32_t)p[i] << 16;
		q[0] = tab[w >> 18];
		q[1] = tab[(w >> 12) & 63];
		q[2] = q[3] = '=';
		buf_put(b, q, 4);
	} else if (n - i == 2) {
		w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		q[0] = tab[w >> 18];
		q[1] = tab[(w >> 12) & 63];
		q[2] = tab[(w >> 6) & 63];
		q[3] = '=';
		buf_put(b, q, 4);
	}
	buf_putc(b, '"');
}

static void
text_double(struct buf *b, double d)
{
	char	 s[40];
	int	 prec;

	if (isnan(d)) {
		buf_puts(b, "{\"@double\":\"nan\"}");
		return;
	}
	if (isinf(d)) {
		buf_puts(b, d < 0 ? "{\"@double\":\"-inf\"}" :
		    "{\"@double\":\"inf\"}");
		return;
	}
	/* The shortest of %.15g..%.17g that reads back exactly. */
	for (prec = 15; prec < 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(s, sizeof(s), "%.17g", d);
	buf_puts(b, s);
	if (strspn(s, "-0123456789") == strlen(s))
		buf_puts(b, ".0");
}

static int
text_value(struct buf *b, const struct af_value *v, int depth)
{
	const struct af_field	*f;
	size_t			 i;
	bool			 at = false;
	int			 rc;

	if (depth > AF_VALUE_MAX_DEPTH)
		return AF_ELIMIT;
	switch (v->type) {
	case AF_NULL:
		buf_puts(b, "null");
		break;
	case AF_BOOL:
		buf_puts(b, v->u.b ? "true" : "false");
		break;
	case AF_INT:
		buf_printf(b, "%lld", (long long)v->u.i);
		break;
	case AF_DOUBLE:
		text_double(b, v->u.d);
		break;
	case AF_STRING:
		value_json_string(b, v->u.s.ptr, v->u.s.len);
		break;
	case AF_BYTES:
		buf_puts(b, "{\"@bytes\":");
		text_base64(b, (const uint8_t *)v->u.s.ptr, v->u.s.len);
		buf_putc(b, '}');
		break;
	case AF_OBJ:
		buf_puts(b, "{\"@obj\":");
		value_json_string(b, v->u.s.ptr, v->u.s.len);
		buf_putc(b, '}');
		break;
	case AF_VOW:
		buf_printf(b, "{\"@vow\":%llu}", (unsigned long long)v->u.id);
		break;
	case AF_RESOLVER:
		buf_printf(b, "{\"@resolver\":%llu}",
		    (unsigned long long)v->u.id);
		break;
	case AF_ERROR:
		buf_puts(b, "{\"@error\":{\"name\":");
		value_json_string(b, v->u.err.name.ptr, v->u.err.name.len);
		buf_puts(b, ",\"message\":");
		value_json_string(b, v->u.err.message.ptr,
		    v->u.err.message.len);
		buf_puts(b, "}}");
		break;
	case AF_LIST:
		buf_putc(b, '[');
		for (i = 0; i < v->u.list.len; i++) {
			if (i > 0)
				buf_putc(b, ',');
			if ((rc = text_value(b, v->u.list.items[i],
			    depth + 1)) != AF_OK)
				return rc;
		}
		buf_putc(b, ']');
		break;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len && !at; i++) {
			f = &v->u.rec.fields[i];
			at = f->key.len > 0 && f->key.ptr[0] == '@';
		}
		if (at)
			buf_puts(b, "{\"@record\":");
		buf_putc(b, '{');
		for (i = 0; i < v->u.rec.len; i++) {
			f = &v->u.rec.fields[i];
			if (i > 0)
				buf_putc(b, ',');
			value_json_string(b, f->key.ptr, f->key.len);
			buf_putc(b, ':');
			if ((rc = text_value(b, f->value, depth + 1)) != AF_OK)
				return rc;
		}
		buf_putc(b, '}');
		if (at)
			buf_putc(b, '}');
		break;
	default:
		buf_puts(b, "{\"@invalid\":null}");
		break;
	}
	return b->err;
}

int
value_to_text(struct buf *b, const struct af_value *v)
{
	if (v == NULL)
		return AF_EINVAL;
	return text_value(b, v, 1);
}

/* ---- Diff ---------------------------------------------------------------- */

/* Appends ".key", or ["key"] when key is not a C identifier. */
static void
path_key(struct buf *b, const struct af_str *k)
{
	size_t	 i;
	bool	 ident = k->len > 0 && !(k->ptr[0] >= '0' && k->ptr[0] <= '9');
	char	 c;

	for (i = 0; i < k->len && ident; i++) {
		c = k->ptr[i];
		ident = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_';
	}
	if (ident) {
		buf_putc(b, '.');
		buf_put(b, k->ptr, k->len);
	} else {
		buf_putc(b, '[');
		value_json_string(b, k->ptr, k->len);
		buf_putc(b, ']');
	}
}

/* Appends to b the path below x and y (which differ) to the first
 * difference. */
static void
diff_path(struct buf *b, const struct af_value *x, const struct af_value *y)
{
	const struct af_field	*fx, *fy;
	size_t			 i, j, n;
	int			 c;

	for (;;) {
		if (x == NULL || y == NULL || x->type != y->type)
			return;
		switch (x->type) {
		case AF_LIST:
			n = x->u.list.len < y->u.list.len ? x->u.list.len :
			    y->u.list.len;
			for (i = 0; i < n; i++)
				if (!af_value_equal(x->u.list.items[i],
				    y->u.list.items[i]))
					break;
			buf_printf(b, "[%zu]", i);
			if (i == n)
				return;		/* in one list only */
			x = x->u.list.items[i];
			y = y->u.list.items[i];
			continue;
		case AF_RECORD:
			i = j = 0;
			while (i < x->u.rec.len && j < y->u.rec.len) {
				fx = &x->u.rec.fields[i];
				fy = &y->u.rec.fields[j];
				c = key_cmp(fx->key.ptr, fx->key.len,
				    fy->key.ptr, fy->key.len);
				if (c < 0) {
					path_key(b, &fx->key);
					return;
				}
				if (c > 0) {
					path_key(b, &fy->key);
					return;
				}
				if (!af_value_equal(fx->value, fy->value))
					break;
				i++;
				j++;
			}
			if (i < x->u.rec.len && j < y->u.rec.len) {
				path_key(b, &x->u.rec.fields[i].key);
				x = x->u.rec.fields[i].value;
				y = y->u.rec.fields[j].value;
				continue;
			}
			if (i < x->u.rec.len)
				path_key(b, &x->u.rec.fields[i].key);
			else if (j < y->u.rec.len)
				path_key(b, &y->u.rec.fields[j].key);
			return;
		case AF_ERROR:
			buf_puts(b, ".name");
			return;
		default:
			return;
		}
	}
}

int
value_diff(const struct af_value *x, const struct af_value *y, char *path,
    size_t pathlen)
{
	struct buf	 b = BUF_INITIALIZER;
	size_t		 n;

	if (af_value_equal(x, y)) {
		if (pathlen > 0)
			path[0] = '\0';
		return 0;
	}
	if (pathlen == 0)
		return 1;
	diff_path(&b, x, y);
	n = b.len < pathlen - 1 ? b.len : pathlen - 1;
	if (n > 0)
		memcpy(path, b.p, n);
	path[n] = '\0';
	buf_release(&b);
	return 1;
}
