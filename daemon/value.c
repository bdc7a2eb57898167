/*
 * value.c: values (DESIGN.md §2): the constructors, accessors, equality and
 * copy of flow.h, the UTF-8 check and the size measure of value.h.
 *
 * Not here: the canonical codec (value_codec.c), the text form, JSON
 * strings and diff (value_text.c). No function here keeps state between
 * calls.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value_int.h"

static const struct af_value v_null = { .type = AF_NULL };
static const struct af_value v_true = { .type = AF_BOOL, .u.b = true };
static const struct af_value v_false = { .type = AF_BOOL, .u.b = false };

/* ---- Text checks --------------------------------------------------------- */

bool
value_utf8_valid(const void *s, size_t n)
{
	const uint8_t *p = s;
	size_t i = 0, k;
	uint64_t w;

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

bool
value_name_valid(const void *p, size_t n)
{
	return name_valid(p, n);
}

char *
value_utf8_escape(char *out, size_t outlen, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), i = 0, o = 0, k;

	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) > 0) {
			if (o + k >= outlen)
				break;
			memcpy(out + o, p + i, k);
		} else {
			k = 1;
			if (o + 4 >= outlen)
				break;
			snprintf(out + o, 5, "\\x%02x", p[i]);
			o += 3; /* and 1 below */
		}
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

/* ---- Sizes and limits ---------------------------------------------------- */

/* Size of a length-delimited field with a one-byte key and an n-byte body. */
static inline size_t
ld_size(size_t n)
{
	return 1 + pb_varint_size(n) + n;
}

static int measure(const struct af_value *, int, size_t *);

/* Size of a List body of items[0..n) at depth `depth`. */
static int
measure_items(const struct af_value *const *items, size_t n, int depth,
    size_t *out)
{
	size_t s = 0, i, c;
	int rc;

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
	size_t c;
	int rc;

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
	size_t s, i, f;
	int rc;

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
				 v->u.rec.fields[i].value, depth + 1, &f)) !=
			    AF_OK)
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
	struct af_value *v;

	if (a == NULL || (v = arena_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	v->type = t;
	return v;
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
	struct af_value *v;

	if ((v = newval(a, AF_INT)) != NULL)
		v->u.i = i;
	return v;
}

const struct af_value *
af_double(struct af_arena *a, double d)
{
	struct af_value *v;

	if ((v = newval(a, AF_DOUBLE)) != NULL)
		v->u.d = d;
	return v;
}

static const struct af_value *
make_str(struct af_arena *a, enum af_type t, const void *p, size_t n)
{
	struct af_value *v;

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
	struct af_value *v;

	if ((v = newval(a, AF_VOW)) != NULL)
		v->u.id = id;
	return v;
}

const struct af_value *
af_resolver_ref(struct af_arena *a, uint64_t id)
{
	struct af_value *v;

	if ((v = newval(a, AF_RESOLVER)) != NULL)
		v->u.id = id;
	return v;
}

const struct af_value *
af_error(struct af_arena *a, const char *name, const char *message)
{
	struct af_value *v;
	size_t nn, mn, s;

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
	struct af_value *v;
	const struct af_value **copy = NULL;
	size_t i, s;

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
	const struct af_field *a = x, *b = y;

	return key_cmp(a->key.ptr, a->key.len, b->key.ptr, b->key.len);
}

const struct af_value *
af_record(struct af_arena *a, const char *const *keys,
    const struct af_value *const *vals, size_t n)
{
	struct af_value *v;
	struct af_field *fields = NULL, t;
	size_t i, j, s = 0, f, klen;

	if (a == NULL || ((keys == NULL || vals == NULL) && n > 0))
		return NULL;
	if (n > MAXB / 4)
		return NULL; /* each field costs 4 bytes or more */
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
				for (j = i;
				     j > 0 && field_cmp(&fields[j - 1], &t) > 0;
				     j--)
					fields[j] = fields[j - 1];
				fields[j] = t;
			}
		} else
			qsort(fields, n, sizeof(*fields), field_cmp);
		for (i = 1; i < n; i++)
			if (field_cmp(&fields[i - 1], &fields[i]) == 0)
				return NULL; /* duplicate key */
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
	const struct af_field *f;
	size_t lo, hi, mid, klen;
	int c;

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
	return a->len == b->len &&
	    (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

bool
af_value_equal(const struct af_value *x, const struct af_value *y)
{
	size_t i;

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
copy_into(struct af_arena *a, struct af_value *dst, const struct af_value *src,
    int depth)
{
	struct af_value *slots;
	const struct af_value **items;
	struct af_field *fields;
	size_t i, n;

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
			    !copy_into(a, &slots[i], src->u.rec.fields[i].value,
				depth + 1))
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
	struct af_value *d;

	if (a == NULL || v == NULL)
		return NULL;
	if ((d = arena_alloc(a, sizeof(*d))) == NULL || !copy_into(a, d, v, 1))
		return NULL;
	return d;
}
