/*
 * check_value.c: the value model (daemon/value.c), its canonical codec
 * (daemon/value_codec.c) and its text form and diff (daemon/value_text.c).
 * The arena, the byte buffer and the result codes have their own files
 * (check_arena.c, check_buf.c, check_errors.c).
 *
 * The codec is checked against protoc-c's generated code for
 * proto/asyncflow.proto: protobuf-c must accept every encoding we produce
 * and re-pack it to the same bytes, and packing the equivalent protobuf-c
 * message must give our bytes. Malformed inputs are hand-made with the
 * wire helpers or packed by protobuf-c (which does not sort keys). No
 * timings here (see bench/bench_value.c).
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "asyncflow.pb-c.h"
#include "buf.h"
#include "value.h"
#include "testutil.h"

/* ---- Helpers ------------------------------------------------------------- */

static struct af_arena *A;

static void
setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
}

static void
teardown(void)
{
	arena_free(A);
	A = NULL;
}

static const struct af_value *
I(int64_t i)
{
	return af_int(A, i);
}

static const struct af_value *
S(const char *s)
{
	return af_string(A, s);
}

/* L(n, v...) a list of n values. */
static const struct af_value *
L(size_t n, ...)
{
	const struct af_value *items[64];
	va_list ap;
	size_t i;

	ck_assert_uint_le(n, 64);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		items[i] = va_arg(ap, const struct af_value *);
	va_end(ap);
	return af_list_of(A, items, n);
}

/* R(n, key, value, ...) a record of n fields. */
static const struct af_value *
R(size_t n, ...)
{
	const char *keys[64];
	const struct af_value *vals[64];
	va_list ap;
	size_t i;

	ck_assert_uint_le(n, 64);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		keys[i] = va_arg(ap, const char *);
		vals[i] = va_arg(ap, const struct af_value *);
	}
	va_end(ap);
	return af_record(A, keys, vals, n);
}

/* The canonical encoding of v in b (reset first); fails the test if not. */
static void
enc(struct buf *b, const struct af_value *v)
{
	buf_reset(b);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(value_encode(b, v), AF_OK);
}

static int
dec(const struct buf *b, const struct af_value **out)
{
	return value_decode(A, b->p, b->len, out);
}

static int
dec_bytes(const void *p, size_t n)
{
	const struct af_value *v;

	return value_decode(A, p, n, &v);
}

static const char *
text(const struct af_value *v)
{
	static struct buf t;
	static char s[4096];

	buf_reset(&t);
	ck_assert_int_eq(value_to_text(&t, v), AF_OK);
	ck_assert_uint_lt(t.len, sizeof(s));
	memcpy(s, t.p, t.len);
	s[t.len] = '\0';
	buf_release(&t);
	return s;
}

/* ---- Samples: one or more of every type, nested -------------------------- */

#define NSAMPLES 40

/* Whether protobuf-c can represent sample i (its strings are C strings). */
static bool
sample_pbc_ok(int i)
{
	return i != 18;
}

static const struct af_value *
sample(int i)
{
	static const uint8_t bin[] = { 0, 1, 2, 0xff };
	const struct af_value *v, *items[100];
	char s[300];
	uint8_t *big;
	int k;

	switch (i) {
	case 0:
		return af_null(A);
	case 1:
		return af_bool(A, true);
	case 2:
		return af_bool(A, false);
	case 3:
		return I(0);
	case 4:
		return I(42);
	case 5:
		return I(-1);
	case 6:
		return I(INT64_MIN);
	case 7:
		return I(INT64_MAX);
	case 8:
		return af_double(A, 0.0);
	case 9:
		return af_double(A, -0.0);
	case 10:
		return af_double(A, 1.5);
	case 11:
		return af_double(A, NAN);
	case 12:
		return af_double(A, INFINITY);
	case 13:
		return af_double(A, -1e300);
	case 14:
		return S("");
	case 15:
		return S("hello");
	case 16:
		return S("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
	case 17:
		memset(s, 'x', 299);
		s[299] = '\0';
		return S(s); /* two-byte length */
	case 18:
		return af_stringn(A, "a\0b", 3);
	case 19:
		return af_bytes(A, NULL, 0);
	case 20:
		return af_bytes(A, bin, sizeof(bin));
	case 21:
		big = malloc(70000);
		ck_assert_ptr_nonnull(big);
		for (k = 0; k < 70000; k++)
			big[k] = (uint8_t)(k * 7);
		v = af_bytes(A, big, 70000); /* three-byte length */
		free(big);
		return v;
	case 22:
		return af_vow_ref(A, 7);
	case 23:
		return af_vow_ref(A, UINT64_MAX);
	case 24:
		return af_resolver_ref(A, 9);
	case 25:
		return af_resolver_ref(A, 0);
	case 26:
		return af_obj(A, "bank");
	case 27:
		return af_obj(A, "");
	case 28:
		return af_error(A, "NotFound", "no such thing");
	case 29:
		return af_error(A, "E", "");
	case 30:
		return af_error(A, "", "");
	case 31:
		return af_error(A, "", "only a message");
	case 32:
		return L(0);
	case 33:
		return L(3, I(1), S("two"), af_null(A));
	case 34:
		return R(0);
	case 35:
		return R(2, "name", S("x"), "i", I(42));
	case 36:
		return R(4, "b", R(1, "c", af_error(A, "Oops", "m")), "", I(1),
		    "a", L(2, af_vow_ref(A, 3), L(0)), "@vow",
		    af_double(A, 2.0));
	case 37:
		for (k = 0; k < 100; k++)
			items[k] = R(2, "amount", I(k * 1000), "to",
			    S("someone"));
		return af_list_of(A, items, 100);
	case 38:
		/* depth AF_VALUE_MAX_DEPTH: lists around a null */
		v = af_null(A);
		for (k = 0; k < AF_VALUE_MAX_DEPTH - 1; k++)
			v = L(1, v);
		return v;
	case 39:
		return L(2, R(1, "k", L(1, af_bytes(A, bin, 2))),
		    af_error(A, "x", "\xe2\x82\xac"));
	}
	ck_abort_msg("no sample %d", i);
	return NULL;
}

/* ---- protobuf-c mirror of a value, allocated in the arena ---------------- */

static Asyncflow__Value *
to_pbc(const struct af_value *v)
{
	Asyncflow__Value *m;
	Asyncflow__List *l;
	Asyncflow__Record *r;
	Asyncflow__Field *f;
	Asyncflow__Error *e;
	size_t i;

	m = af_arena_alloc(A, sizeof(*m));
	asyncflow__value__init(m);
	switch (v->type) {
	case AF_NULL:
		m->kind_case = ASYNCFLOW__VALUE__KIND_NULL_VALUE;
		m->null_value = 1;
		break;
	case AF_BOOL:
		m->kind_case = ASYNCFLOW__VALUE__KIND_BOOL_VALUE;
		m->bool_value = v->u.b;
		break;
	case AF_INT:
		m->kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
		m->int_value = v->u.i;
		break;
	case AF_DOUBLE:
		m->kind_case = ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE;
		m->double_value = v->u.d;
		break;
	case AF_STRING:
		m->kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
		m->string_value.data = (uint8_t *)v->u.s.ptr;
		m->string_value.len = v->u.s.len;
		break;
	case AF_BYTES:
		m->kind_case = ASYNCFLOW__VALUE__KIND_BYTES_VALUE;
		m->bytes_value.data = (uint8_t *)v->u.s.ptr;
		m->bytes_value.len = v->u.s.len;
		break;
	case AF_VOW:
		m->kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
		m->vow_id = v->u.id;
		break;
	case AF_RESOLVER:
		m->kind_case = ASYNCFLOW__VALUE__KIND_RESOLVER_ID;
		m->resolver_id = v->u.id;
		break;
	case AF_OBJ:
		m->kind_case = ASYNCFLOW__VALUE__KIND_OBJ_NAME;
		m->obj_name = (char *)v->u.s.ptr;
		break;
	case AF_ERROR:
		e = af_arena_alloc(A, sizeof(*e));
		asyncflow__error__init(e);
		e->name = (char *)v->u.err.name.ptr;
		e->message = (char *)v->u.err.message.ptr;
		m->kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
		m->error_value = e;
		break;
	case AF_LIST:
		l = af_arena_alloc(A, sizeof(*l));
		asyncflow__list__init(l);
		l->n_items = v->u.list.len;
		l->items = af_arena_alloc(A, l->n_items * sizeof(*l->items));
		for (i = 0; i < l->n_items; i++)
			l->items[i] = to_pbc(v->u.list.items[i]);
		m->kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
		m->list_value = l;
		break;
	case AF_RECORD:
		r = af_arena_alloc(A, sizeof(*r));
		asyncflow__record__init(r);
		r->n_fields = v->u.rec.len;
		r->fields = af_arena_alloc(A, r->n_fields * sizeof(*r->fields));
		for (i = 0; i < r->n_fields; i++) {
			f = af_arena_alloc(A, sizeof(*f));
			asyncflow__field__init(f);
			f->key = (char *)v->u.rec.fields[i].key.ptr;
			f->value = to_pbc(v->u.rec.fields[i].value);
			r->fields[i] = f;
		}
		m->kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
		m->record_value = r;
		break;
	}
	return m;
}

/* protobuf-c's packing of m, in the arena. */
static uint8_t *
pbc_pack(const Asyncflow__Value *m, size_t *n)
{
	uint8_t *p;

	*n = asyncflow__value__get_packed_size(m);
	p = af_arena_alloc(A, *n);
	ck_assert_uint_eq(asyncflow__value__pack(m, p), *n);
	return p;
}

static void
ck_bytes_eq(const uint8_t *x, size_t xn, const uint8_t *y, size_t yn)
{
	size_t i;

	ck_assert_uint_eq(xn, yn);
	for (i = 0; i < xn; i++)
		if (x[i] != y[i])
			ck_abort_msg("bytes differ at %zu: %02x != %02x", i,
			    x[i], y[i]);
}

/* ---- Codec: round trip and cross-check ----------------------------------- */

START_TEST(test_value_roundtrip_every_sample)
{
	struct buf b = BUF_INITIALIZER, b2 = BUF_INITIALIZER;
	const struct af_value *v = sample(_i), *d;
	size_t size;

	enc(&b, v);
	ck_assert_int_eq(value_measure(v, &size), AF_OK);
	ck_assert_uint_eq(size, b.len);
	ck_assert_int_eq(dec(&b, &d), AF_OK);
	ck_assert(af_value_equal(v, d));
	ck_assert_int_eq(value_diff(v, d, NULL, 0), 0);
	enc(&b2, d);
	ck_bytes_eq(b.p, b.len, b2.p, b2.len);
	buf_release(&b);
	buf_release(&b2);
}
END_TEST

START_TEST(test_value_crosscheck_protobuf_c_unpack_repack)
{
	struct buf b = BUF_INITIALIZER;
	const struct af_value *v = sample(_i);
	Asyncflow__Value *m;
	uint8_t *p;
	size_t n;

	if (!sample_pbc_ok(_i))
		return;
	enc(&b, v);
	m = asyncflow__value__unpack(NULL, b.len, b.p);
	ck_assert_msg(m != NULL, "protobuf-c refused sample %d", _i);
	ck_assert_int_eq(m->kind_case, (int)v->type + 1);
	p = pbc_pack(m, &n);
	ck_bytes_eq(b.p, b.len, p, n);
	asyncflow__value__free_unpacked(m, NULL);
	buf_release(&b);
}
END_TEST

START_TEST(test_value_crosscheck_protobuf_c_pack_of_same_value)
{
	struct buf b = BUF_INITIALIZER;
	const struct af_value *v = sample(_i), *d;
	uint8_t *p;
	size_t n;

	if (!sample_pbc_ok(_i))
		return;
	enc(&b, v);
	p = pbc_pack(to_pbc(v), &n);
	ck_bytes_eq(b.p, b.len, p, n);
	ck_assert_int_eq(value_decode(A, p, n, &d), AF_OK);
	ck_assert(af_value_equal(v, d));
	buf_release(&b);
}
END_TEST

START_TEST(test_value_decode_rejects_truncated_at_every_prefix)
{
	struct buf b = BUF_INITIALIZER;
	const struct af_value *v = sample(_i), *d;
	uint8_t *copy;
	size_t n, step;

	enc(&b, v);
	/* every prefix; of the 70000-byte sample, the first and last 300
	 * and every 1009th in between */
	for (n = 0; n < b.len; n += step) {
		step = n < 300 || n + 300 >= b.len ? 1 : 1009;
		/* a copy of exactly n bytes, so reading past it is caught */
		copy = malloc(n > 0 ? n : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, b.p, n);
		ck_assert_msg(value_decode(A, copy, n, &d) == AF_EDECODE,
		    "sample %d prefix %zu accepted", _i, n);
		ck_assert_ptr_null(d);
		free(copy);
	}
	buf_release(&b);
}
END_TEST

/* A fixed-seed generator: the mutation test is the same on every run. */
static uint32_t
lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

START_TEST(test_value_decode_accepts_only_canonical_bytes)
{
	struct buf b = BUF_INITIALIZER, b2 = BUF_INITIALIZER;
	const struct af_value *d;
	uint8_t *m;
	uint32_t seed = 0x5eed + (uint32_t)_i;
	size_t n, pos;
	int round;

	enc(&b, sample(_i));
	if (b.len > 4096) {
		buf_release(&b);
		return;
	}
	m = malloc(b.len + 1);
	ck_assert_ptr_nonnull(m);
	for (round = 0; round < 300; round++) {
		memcpy(m, b.p, b.len);
		n = b.len;
		pos = lcg(&seed) % n;
		switch (lcg(&seed) % 4) {
		case 0: /* flip a bit */
			m[pos] ^= (uint8_t)(1u << (lcg(&seed) % 8));
			break;
		case 1: /* replace a byte */
			m[pos] = (uint8_t)lcg(&seed);
			break;
		case 2: /* insert a byte */
			memmove(m + pos + 1, m + pos, n - pos);
			m[pos] = (uint8_t)lcg(&seed);
			n++;
			break;
		case 3: /* delete a byte */
			memmove(m + pos, m + pos + 1, n - pos - 1);
			n--;
			break;
		}
		if (value_decode(A, m, n, &d) != AF_OK)
			continue;
		/* whatever is accepted is the unique encoding of its value */
		enc(&b2, d);
		ck_bytes_eq(m, n, b2.p, b2.len);
	}
	free(m);
	buf_release(&b);
	buf_release(&b2);
}
END_TEST

START_TEST(test_value_decoded_strings_are_nul_terminated_copies)
{
	static const uint8_t in[] = { 0x2a, 0x02, 'h', 'i', 'X' };
	static const uint8_t rec[] = { 0x42, 0x08, 0x0a, 0x06, 0x0a, 0x01, 'k',
		0x12, 0x01, 0x08 };
	const struct af_value *v;

	ck_assert_int_eq(value_decode(A, in, 4, &v), AF_OK);
	ck_assert_int_eq(v->type, AF_STRING);
	ck_assert_uint_eq(v->u.s.len, 2);
	ck_assert_str_eq(v->u.s.ptr, "hi");
	ck_assert((const void *)v->u.s.ptr != (const void *)(in + 2));
	/* a malformed record (Field.value cut short) is refused */
	ck_assert_int_eq(value_decode(A, rec, sizeof(rec), &v), AF_EDECODE);
}
END_TEST

/* ---- Decoder rejections -------------------------------------------------- */

/* Hand-made encodings, each with what value_decode must say. */
struct bad {
	const char *what;
	const char *bytes;
	size_t n;
	int rc;
};
#define BAD(w, s, rc) \
	{ \
		w, s, sizeof(s) - 1, rc \
	}

static const struct bad unknown_fields[] = {
	BAD("field 13 in Value", "\x68\x01", AF_EDECODE),
	BAD("field 16 (two-byte key) in Value", "\x80\x01\x01", AF_EDECODE),
	BAD("kind then field 13", "\x08\x01\x68\x01", AF_EDECODE),
	BAD("field 2 in List", "\x3a\x02\x10\x01", AF_EDECODE),
	BAD("field 2 in Record", "\x42\x02\x10\x01", AF_EDECODE),
	BAD("field 3 in Field", "\x42\x08\x0a\x06\x12\x02\x08\x01\x18\x01",
	    AF_EDECODE),
	BAD("field 3 in Error", "\x62\x02\x18\x01", AF_EDECODE),
	BAD("field 0", "\x00\x01", AF_EDECODE),
};

static const struct bad wrong_wire_types[] = {
	BAD("null_value as bytes", "\x0a\x01\x01", AF_EDECODE),
	BAD("int_value as fixed64", "\x19\x01\x00\x00\x00\x00\x00\x00\x00",
	    AF_EDECODE),
	BAD("double_value as varint", "\x20\x01", AF_EDECODE),
	BAD("string_value as varint", "\x28\x01", AF_EDECODE),
	BAD("list_value as varint", "\x38\x00", AF_EDECODE),
	BAD("vow_id as bytes", "\x4a\x01\x01", AF_EDECODE),
	BAD("error_value as fixed32", "\x65\x00\x00\x00\x00", AF_EDECODE),
	BAD("List.items as varint", "\x3a\x02\x08\x01", AF_EDECODE),
	BAD("Field.key as varint", "\x42\x06\x0a\x04\x08\x01\x12\x00",
	    AF_EDECODE),
	BAD("Field.value as varint", "\x42\x04\x0a\x02\x10\x01", AF_EDECODE),
	BAD("Error.name as varint", "\x62\x02\x08\x01", AF_EDECODE),
	BAD("group start", "\x0b\x0c", AF_EDECODE),
};

static const struct bad kinds[] = {
	BAD("empty", "", AF_EDECODE),
	BAD("two kinds", "\x08\x01\x10\x01", AF_EDECODE),
	BAD("same kind twice", "\x10\x01\x10\x00", AF_EDECODE),
	BAD("int then string", "\x18\x02\x2a\x00", AF_EDECODE),
	BAD("empty list item", "\x3a\x02\x0a\x00", AF_EDECODE),
	BAD("two kinds in a list item", "\x3a\x06\x0a\x04\x08\x01\x08\x01",
	    AF_EDECODE),
	BAD("null_value false", "\x08\x00", AF_EDECODE),
	BAD("null_value 2", "\x08\x02", AF_EDECODE),
	BAD("bool 2", "\x10\x02", AF_EDECODE),
	BAD("bool overlong", "\x10\x81\x00", AF_EDECODE),
	BAD("int overlong varint", "\x18\x80\x00", AF_EDECODE),
	BAD("int 11-byte varint",
	    "\x18\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", AF_EDECODE),
	BAD("int varint over 64 bits",
	    "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", AF_EDECODE),
	BAD("string overlong length",
	    "\x2a\x81\x00"
	    "a",
	    AF_EDECODE),
	BAD("length past the end",
	    "\x2a\x05"
	    "abc",
	    AF_EDECODE),
	BAD("trailing byte", "\x3a\x00\x00", AF_EDECODE),
	BAD("Field key present but empty", "\x42\x06\x0a\x04\x0a\x00\x12\x00",
	    AF_EDECODE),
	BAD("Field without value", "\x42\x05\x0a\x03\x0a\x01k", AF_EDECODE),
	BAD("Field value before key",
	    "\x42\x09\x0a\x07\x12\x02\x08\x01\x0a\x01k", AF_EDECODE),
	BAD("Field value twice",
	    "\x42\x0a\x0a\x08\x12\x02\x08\x01\x12\x02\x08\x01", AF_EDECODE),
	BAD("Error message before name", "\x62\x06\x12\x01m\x0a\x01n",
	    AF_EDECODE),
	BAD("Error name twice", "\x62\x06\x0a\x01m\x0a\x01n", AF_EDECODE),
	BAD("Error name present but empty", "\x62\x02\x0a\x00", AF_EDECODE),
	BAD("NUL in key", "\x42\x09\x0a\x07\x0a\x03k\x00k\x12\x00", AF_EDECODE),
	BAD("NUL in obj_name",
	    "\x5a\x03"
	    "a\x00"
	    "b",
	    AF_EDECODE),
	BAD("NUL in Error.message", "\x62\x03\x12\x01\x00", AF_EDECODE),
};

static const struct bad bad_utf8[] = {
	BAD("string 0xff", "\x2a\x01\xff", AF_EDECODE),
	BAD("string lone continuation", "\x2a\x01\x80", AF_EDECODE),
	BAD("string overlong /", "\x2a\x02\xc0\xaf", AF_EDECODE),
	BAD("string overlong 3-byte", "\x2a\x03\xe0\x80\xaf", AF_EDECODE),
	BAD("string surrogate", "\x2a\x03\xed\xa0\x80", AF_EDECODE),
	BAD("string above U+10FFFF", "\x2a\x04\xf4\x90\x80\x80", AF_EDECODE),
	BAD("string truncated sequence", "\x2a\x02\xe2\x82", AF_EDECODE),
	BAD("string bad after 8 ASCII",
	    "\x2a\x09"
	    "abcdefgh\xfe",
	    AF_EDECODE),
	BAD("record key", "\x42\x07\x0a\x05\x0a\x01\xff\x12\x00", AF_EDECODE),
	BAD("obj_name", "\x5a\x02\xc3\x28", AF_EDECODE),
	BAD("Error.name", "\x62\x03\x0a\x01\xff", AF_EDECODE),
	BAD("Error.message", "\x62\x03\x12\x01\xff", AF_EDECODE),
};

static void
check_bad(const struct bad *t, size_t n)
{
	const struct af_value *v;
	uint8_t *p;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		/* exact-size copies, so any overread is caught */
		p = malloc(t[i].n > 0 ? t[i].n : 1);
		ck_assert_ptr_nonnull(p);
		memcpy(p, t[i].bytes, t[i].n);
		v = (const void *)1;
		rc = value_decode(A, p, t[i].n, &v);
		free(p);
		ck_assert_msg(rc == t[i].rc, "%s: got %d (%s), want %d",
		    t[i].what, rc, af_strerror(rc), t[i].rc);
		ck_assert_ptr_null(v);
	}
}

START_TEST(test_value_decode_rejects_unknown_field)
{
	check_bad(unknown_fields,
	    sizeof(unknown_fields) / sizeof(unknown_fields[0]));
}
END_TEST

START_TEST(test_value_decode_rejects_wrong_wire_type)
{
	check_bad(wrong_wire_types,
	    sizeof(wrong_wire_types) / sizeof(wrong_wire_types[0]));
}
END_TEST

START_TEST(test_value_decode_rejects_two_kinds_and_noncanonical_forms)
{
	check_bad(kinds, sizeof(kinds) / sizeof(kinds[0]));
}
END_TEST

START_TEST(test_value_decode_rejects_bad_utf8)
{
	check_bad(bad_utf8, sizeof(bad_utf8) / sizeof(bad_utf8[0]));
}
END_TEST

/* protobuf-c packs a Record's fields in the order given: use it to make
 * records with unsorted and duplicate keys. */
static int
decode_pbc_record(const char *const *keys, size_t n)
{
	Asyncflow__Value m = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Record r = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field f[8], *fp[8];
	Asyncflow__Value vals[8];
	uint8_t *p;
	size_t i, len;

	for (i = 0; i < n; i++) {
		asyncflow__value__init(&vals[i]);
		vals[i].kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
		vals[i].int_value = (int64_t)i;
		asyncflow__field__init(&f[i]);
		f[i].key = (char *)keys[i];
		f[i].value = &vals[i];
		fp[i] = &f[i];
	}
	r.n_fields = n;
	r.fields = fp;
	m.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
	m.record_value = &r;
	p = pbc_pack(&m, &len);
	return dec_bytes(p, len);
}

START_TEST(test_value_decode_rejects_unsorted_keys)
{
	static const char *const sorted[] = { "", "a", "ab", "b" };
	static const char *const unsorted1[] = { "b", "a" };
	static const char *const unsorted2[] = { "a", "", "b" };
	static const char *const unsorted3[] = { "ab", "a" };
	static const char *const unsorted4[] = { "a", "c", "b" };

	ck_assert_int_eq(decode_pbc_record(sorted, 4), AF_OK);
	ck_assert_int_eq(decode_pbc_record(unsorted1, 2), AF_EDECODE);
	ck_assert_int_eq(decode_pbc_record(unsorted2, 3), AF_EDECODE);
	ck_assert_int_eq(decode_pbc_record(unsorted3, 2), AF_EDECODE);
	ck_assert_int_eq(decode_pbc_record(unsorted4, 3), AF_EDECODE);
}
END_TEST

START_TEST(test_value_decode_rejects_duplicate_keys)
{
	static const char *const dup1[] = { "a", "a" };
	static const char *const dup2[] = { "", "" };
	static const char *const dup3[] = { "a", "b", "b", "c" };

	ck_assert_int_eq(decode_pbc_record(dup1, 2), AF_EDECODE);
	ck_assert_int_eq(decode_pbc_record(dup2, 2), AF_EDECODE);
	ck_assert_int_eq(decode_pbc_record(dup3, 4), AF_EDECODE);
}
END_TEST

/* n nested one-item lists around a null: depth n + 1. */
static void
nested_lists(struct buf *b, int n)
{
	struct buf t = BUF_INITIALIZER;
	int i;

	buf_reset(b);
	pb_put_uint64(b, 1, 1); /* null */
	for (i = 0; i < n; i++) {
		buf_reset(&t);
		pb_put_bytes(&t, 1, b->p, b->len); /* List.items */
		buf_reset(b);
		pb_put_bytes(b, 7, t.p, t.len); /* list_value */
	}
	ck_assert_int_eq(b->err, AF_OK);
	buf_release(&t);
}

/*
 * Stored values keep the limit of before protocol 2
 * (AF_VALUE_STORED_MAX_DEPTH, 64), so that old journals replay: one that
 * deep decodes, but nothing deeper than AF_VALUE_MAX_DEPTH is encoded (so
 * stored, or sent) again.
 */
START_TEST(test_value_decode_rejects_depth_65)
{
	struct buf b = BUF_INITIALIZER, out = BUF_INITIALIZER;
	const struct af_value *v;
	size_t size;

	ck_assert_int_eq(AF_VALUE_STORED_MAX_DEPTH, 64);
	nested_lists(&b, 63);
	ck_assert_int_eq(dec(&b, &v), AF_OK); /* depth 64 */
	ck_assert_int_eq(value_encode(&out, v), AF_ELIMIT);
	ck_assert_int_eq(value_measure(v, &size), AF_ELIMIT);
	ck_assert_int_eq(value_to_text(&out, v), AF_OK);
	buf_release(&out);
	nested_lists(&b, AF_VALUE_MAX_DEPTH - 1);
	ck_assert_int_eq(dec(&b, &v), AF_OK);
	ck_assert_int_eq(value_measure(v, &size), AF_OK);
	nested_lists(&b, AF_VALUE_MAX_DEPTH);
	ck_assert_int_eq(dec(&b, &v), AF_OK);
	ck_assert_int_eq(value_measure(v, &size), AF_ELIMIT);
	nested_lists(&b, 63);
	ck_assert_int_eq(dec(&b, &v), AF_OK); /* depth 64 */
	nested_lists(&b, 64);
	ck_assert_int_eq(dec(&b, &v), AF_ELIMIT); /* depth 65 */
	ck_assert_ptr_null(v);
	nested_lists(&b, 1000);
	ck_assert_int_eq(dec(&b, &v), AF_ELIMIT);
	buf_release(&b);
}
END_TEST

START_TEST(test_value_decode_rejects_too_large)
{
	const struct af_value *v;
	uint8_t *p;
	size_t n = AF_VALUE_MAX_BYTES + 1;

	p = calloc(1, n);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(value_decode(A, p, n, &v), AF_ELIMIT);
	ck_assert_ptr_null(v);
	free(p);
	ck_assert_int_eq(value_decode(NULL, "\x08\x01", 2, &v), AF_EINVAL);
}
END_TEST

/* ---- Constructors, accessors, equality, copy ----------------------------- */

START_TEST(test_af_record_sorts_keys)
{
	static const char *const keys[] = { "b", "a", "c", "ab", "",
		"\xc3\xa9" };
	const struct af_value *vals[6], *r;
	size_t i;
	char name[24];

	for (i = 0; i < 6; i++)
		vals[i] = I((int64_t)i);
	r = af_record(A, keys, vals, 6);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->u.rec.len, 6);
	ck_assert_str_eq(r->u.rec.fields[0].key.ptr, "");
	ck_assert_str_eq(r->u.rec.fields[1].key.ptr, "a");
	ck_assert_str_eq(r->u.rec.fields[2].key.ptr, "ab");
	ck_assert_str_eq(r->u.rec.fields[3].key.ptr, "b");
	ck_assert_str_eq(r->u.rec.fields[4].key.ptr, "c");
	ck_assert_str_eq(r->u.rec.fields[5].key.ptr, "\xc3\xa9");
	ck_assert_int_eq(af_get(r, "ab")->u.i, 3);
	ck_assert_int_eq(af_get(r, "")->u.i, 4);

	/* many keys (the qsort path), given in reverse */
	{
		const char *k[40];
		const struct af_value *v[40];
		char store[40][24];

		for (i = 0; i < 40; i++) {
			snprintf(store[i], sizeof(store[i]), "k%02zu", 39 - i);
			k[i] = store[i];
			v[i] = I((int64_t)(39 - i));
		}
		r = af_record(A, k, v, 40);
		ck_assert_ptr_nonnull(r);
		for (i = 0; i < 40; i++) {
			snprintf(name, sizeof(name), "k%02zu", i);
			ck_assert_str_eq(r->u.rec.fields[i].key.ptr, name);
			ck_assert_int_eq(af_get(r, name)->u.i, (int64_t)i);
		}
	}
}
END_TEST

START_TEST(test_af_record_refuses_duplicates_and_bad_keys)
{
	static const char *const dup[] = { "a", "b", "a" };
	static const char *const bad[] = { "a", "\xff" };
	static const char *const nul[] = { "a", NULL };
	const struct af_value *vals[3] = { I(1), I(2), I(3) };

	ck_assert_ptr_null(af_record(A, dup, vals, 3));
	ck_assert_ptr_null(af_record(A, bad, vals, 2));
	ck_assert_ptr_null(af_record(A, nul, vals, 2));
	vals[1] = NULL;
	ck_assert_ptr_null(af_record(A, dup, vals, 2));
	ck_assert_ptr_nonnull(af_record(A, NULL, NULL, 0));
}
END_TEST

START_TEST(test_af_constructors_validate)
{
	const struct af_value *v;

	ck_assert_ptr_null(af_string(A, "\xc0\xaf"));
	ck_assert_ptr_null(af_stringn(A, "ok\xed\xa0\x80", 5));
	ck_assert_ptr_null(af_string(A, NULL));
	ck_assert_ptr_null(af_obj(A, "\xff"));
	ck_assert_ptr_null(af_error(A, "\xff", "m"));
	ck_assert_ptr_null(af_error(A, "E", "\xff"));
	ck_assert_ptr_null(af_error(A, NULL, "m"));
	ck_assert_ptr_null(af_int(NULL, 1));
	ck_assert_ptr_null(af_null(NULL));
	v = af_error(A, "E", NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v->u.err.message.ptr, "");
	v = af_stringn(A, "a\0b", 3);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->u.s.len, 3);
	ck_assert_int_eq(v->u.s.ptr[3], '\0');
	ck_assert_ptr_null(L(2, I(1), NULL));
	ck_assert_ptr_null(af_list_of(A, NULL, 1));
	ck_assert_ptr_nonnull(af_list_of(A, NULL, 0));
}
END_TEST

START_TEST(test_af_limits_depth_and_size)
{
	const struct af_value *v, *w, *items[2];
	uint8_t *big;
	int k;

	/* depth: AF_VALUE_MAX_DEPTH levels made, one more refused */
	v = af_null(A);
	for (k = 0; k < AF_VALUE_MAX_DEPTH - 1; k++)
		ck_assert_ptr_nonnull(v = L(1, v));
	ck_assert_ptr_null(L(1, v));
	ck_assert_ptr_null(R(1, "k", v));
	ck_assert_ptr_nonnull(R(1, "k", v->u.list.items[0]));

	/* size: a bytes value of exactly AF_VALUE_MAX_BYTES encoded */
	big = calloc(1, AF_VALUE_MAX_BYTES);
	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(af_bytes(A, big, AF_VALUE_MAX_BYTES - 5));
	ck_assert_ptr_null(af_bytes(A, big, AF_VALUE_MAX_BYTES - 4));
	w = af_bytes(A, big, AF_VALUE_MAX_BYTES / 2);
	ck_assert_ptr_nonnull(w);
	free(big);
	ck_assert_ptr_nonnull(L(1, w));
	ck_assert_ptr_null(L(2, w, w));
	ck_assert_ptr_null(R(2, "a", w, "b", w));

	/* shared subvalues: the check stops at the limit, not 2^40 nodes */
	v = L(2, I(1), I(2));
	for (k = 0; k < 40 && v != NULL; k++) {
		items[0] = items[1] = v;
		v = af_list_of(A, items, 2);
	}
	ck_assert_ptr_null(v);
	ck_assert_int_lt(k, 40);
}
END_TEST

START_TEST(test_af_get_and_at)
{
	const char *keys[100];
	const struct af_value *vals[100], *r, *l;
	char store[100][24];
	size_t i;

	for (i = 0; i < 100; i++) {
		snprintf(store[i], sizeof(store[i]), "%zu", i * 7 % 100);
		keys[i] = store[i];
		vals[i] = I((int64_t)(i * 7 % 100));
	}
	r = af_record(A, keys, vals, 100);
	ck_assert_ptr_nonnull(r);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(af_get(r, store[i])->u.i, atoi(store[i]));
	ck_assert_ptr_null(af_get(r, "100"));
	ck_assert_ptr_null(af_get(r, ""));
	ck_assert_ptr_null(af_get(r, "5x"));
	ck_assert_ptr_null(af_get(I(1), "a"));
	ck_assert_ptr_null(af_get(NULL, "a"));
	ck_assert_ptr_null(af_get(R(0), "a"));

	l = L(3, I(10), I(11), I(12));
	ck_assert_int_eq(af_at(l, 0)->u.i, 10);
	ck_assert_int_eq(af_at(l, 2)->u.i, 12);
	ck_assert_ptr_null(af_at(l, 3));
	ck_assert_ptr_null(af_at(r, 0));
	ck_assert_ptr_null(af_at(NULL, 0));
}
END_TEST

START_TEST(test_value_errors_equal_by_name_only)
{
	const struct af_value *x = af_error(A, "Timeout", "after 5s");
	const struct af_value *y = af_error(A, "Timeout", "after 6s");
	const struct af_value *z = af_error(A, "Other", "after 5s");
	char path[32];

	ck_assert(af_value_equal(x, y));
	ck_assert(!af_value_equal(x, z));
	ck_assert_int_eq(value_diff(x, y, path, sizeof(path)), 0);
	ck_assert(af_value_equal(L(1, x), L(1, y)));
	ck_assert(af_value_equal(R(1, "e", x), R(1, "e", y)));
}
END_TEST

START_TEST(test_value_equality_rules)
{
	ck_assert(af_value_equal(af_double(A, NAN), af_double(A, NAN)));
	ck_assert(!af_value_equal(af_double(A, 0.0), af_double(A, -0.0)));
	ck_assert(!af_value_equal(I(1), af_double(A, 1.0)));
	ck_assert(!af_value_equal(af_vow_ref(A, 1), af_resolver_ref(A, 1)));
	ck_assert(af_value_equal(af_vow_ref(A, 1), af_vow_ref(A, 1)));
	ck_assert(!af_value_equal(S("bank"), af_obj(A, "bank")));
	ck_assert(!af_value_equal(S("a"), af_bytes(A, "a", 1)));
	ck_assert(!af_value_equal(L(2, I(1), I(2)), L(2, I(2), I(1))));
	ck_assert(!af_value_equal(L(1, I(1)), L(2, I(1), I(1))));
	ck_assert(af_value_equal(R(2, "a", I(1), "b", I(2)),
	    R(2, "b", I(2), "a", I(1))));
	ck_assert(!af_value_equal(R(1, "a", I(1)), R(1, "b", I(1))));
	ck_assert(!af_value_equal(I(1), NULL));
	ck_assert(af_value_equal(NULL, NULL));
}
END_TEST

START_TEST(test_af_value_copy_is_deep)
{
	struct af_arena *a2 = arena_new(128);
	const struct af_value *c[NSAMPLES], *o;
	int i;

	ck_assert_ptr_nonnull(a2);
	for (i = 0; i < NSAMPLES; i++) {
		o = sample(i);
		c[i] = af_value_copy(a2, o);
		ck_assert_ptr_nonnull(c[i]);
		ck_assert(af_value_equal(c[i], o));
		if ((o->type == AF_STRING || o->type == AF_BYTES) &&
		    o->u.s.len > 0)
			ck_assert_ptr_ne(c[i]->u.s.ptr, o->u.s.ptr);
		if (o->type == AF_LIST && o->u.list.len > 0)
			ck_assert_ptr_ne(c[i]->u.list.items[0],
			    o->u.list.items[0]);
	}
	/* the originals are freed (use after free shows under ASan) */
	arena_free(A);
	A = arena_new(0);
	for (i = 0; i < NSAMPLES; i++)
		ck_assert_msg(af_value_equal(c[i], sample(i)), "sample %d", i);
	ck_assert_ptr_null(af_value_copy(a2, NULL));
	arena_free(a2);
}
END_TEST

/* ---- Diff and text ------------------------------------------------------- */

START_TEST(test_value_diff_paths)
{
	struct {
		const struct af_value *x, *y;
		const char *path;
	} t[] = {
		{ I(1), I(2), "" },
		{ I(1), S("1"), "" },
		{ L(3, I(1), I(2), I(3)), L(3, I(1), I(2), I(4)), "[2]" },
		{ L(2, I(1), I(2)), L(3, I(1), I(2), I(3)), "[2]" },
		{ L(3, I(0), I(0), R(2, "amount", I(5), "to", S("bob"))),
		    L(3, I(0), I(0), R(2, "amount", I(6), "to", S("bob"))),
		    "[2].amount" },
		{ R(1, "error", af_error(A, "A", "m")),
		    R(1, "error", af_error(A, "B", "m")), ".error.name" },
		{ af_error(A, "A", ""), af_error(A, "B", ""), ".name" },
		{ R(1, "a", I(1)), R(1, "b", I(1)), ".a" },
		{ R(2, "a", I(1), "c", I(1)), R(2, "a", I(1), "b", I(1)),
		    ".b" },
		{ R(1, "a", I(1)), R(2, "a", I(1), "z", I(1)), ".z" },
		{ R(1, "a b", I(1)), R(1, "a b", I(2)), "[\"a b\"]" },
		{ R(1, "x", L(2, R(1, "9", I(1)), I(0))),
		    R(1, "x", L(2, R(1, "9", I(2)), I(0))), ".x[0][\"9\"]" },
	};
	char path[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_ptr_nonnull(t[i].x);
		ck_assert_ptr_nonnull(t[i].y);
		memset(path, 'Z', sizeof(path));
		ck_assert_int_eq(value_diff(t[i].x, t[i].y, path, sizeof(path)),
		    1);
		ck_assert_msg(strcmp(path, t[i].path) == 0,
		    "case %zu: got '%s', want '%s'", i, path, t[i].path);
		ck_assert_int_eq(value_diff(t[i].x, t[i].x, path, sizeof(path)),
		    0);
		ck_assert_str_eq(path, "");
	}
	/* truncated to the buffer, still NUL-terminated */
	ck_assert_int_eq(value_diff(t[4].x, t[4].y, path, 4), 1);
	ck_assert_str_eq(path, "[2]");
	ck_assert_int_eq(value_diff(t[4].x, t[4].y, NULL, 0), 1);
}
END_TEST

START_TEST(test_value_to_text_samples)
{
	static const uint8_t bin[] = { 0, 1, 2, 0xff };
	struct {
		const struct af_value *v;
		const char *text;
	} t[] = {
		{ af_null(A), "null" },
		{ af_bool(A, true), "true" },
		{ af_bool(A, false), "false" },
		{ I(42), "42" },
		{ I(INT64_MIN), "-9223372036854775808" },
		{ af_double(A, 1.5), "1.5" },
		{ af_double(A, 3.0), "3.0" },
		{ af_double(A, 0.1), "0.1" },
		{ af_double(A, -0.0), "-0.0" },
		{ af_double(A, 1e300), "1e+300" },
		{ af_double(A, 1.0 / 3), "0.3333333333333333" },
		{ af_double(A, NAN), "{\"@double\":\"nan\"}" },
		{ af_double(A, -INFINITY), "{\"@double\":\"-inf\"}" },
		{ S("a\"b\\c\n\t\x01\x7f"),
		    "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"" },
		{ S("h\xc3\xa9llo"), "\"h\xc3\xa9llo\"" },
		{ af_bytes(A, bin, 4), "{\"@bytes\":\"AAEC/w==\"}" },
		{ af_bytes(A, bin, 2), "{\"@bytes\":\"AAE=\"}" },
		{ af_bytes(A, bin, 3), "{\"@bytes\":\"AAEC\"}" },
		{ af_bytes(A, NULL, 0), "{\"@bytes\":\"\"}" },
		{ af_vow_ref(A, 7), "{\"@vow\":7}" },
		{ af_resolver_ref(A, 8), "{\"@resolver\":8}" },
		{ af_obj(A, "bank"), "{\"@obj\":\"bank\"}" },
		{ af_error(A, "NotFound", "no \"x\""),
		    "{\"@error\":{\"name\":\"NotFound\","
		    "\"message\":\"no \\\"x\\\"\"}}" },
		{ L(0), "[]" },
		{ L(3, I(1), S("two"), af_null(A)), "[1,\"two\",null]" },
		{ R(0), "{}" },
		{ R(2, "name", S("x"), "i", I(42)),
		    "{\"i\":42,\"name\":\"x\"}" },
		{ R(2, "@vow", I(1), "a", I(2)),
		    "{\"@record\":{\"@vow\":1,\"a\":2}}" },
		{ R(1, "r", R(1, "@x", R(1, "y", I(1)))),
		    "{\"r\":{\"@record\":{\"@x\":{\"y\":1}}}}" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_ptr_nonnull(t[i].v);
		ck_assert_msg(strcmp(text(t[i].v), t[i].text) == 0,
		    "case %zu: got %s, want %s", i, text(t[i].v), t[i].text);
	}
	/* every double reads back to itself */
	{
		static const double d[] = { 0.1, 1.0 / 3, 1e-310, 5e-324,
			1.7976931348623157e308, 123456789012345678.0, -2.5e-7 };

		for (i = 0; i < sizeof(d) / sizeof(d[0]); i++)
			ck_assert(
			    strtod(text(af_double(A, d[i])), NULL) == d[i]);
	}
}
END_TEST

START_TEST(test_value_encode_refuses_hand_built_too_deep)
{
	/* Not constructible through the API; value_encode checks anyway. */
	struct af_value node[70];
	const struct af_value *item[70];
	struct buf b = BUF_INITIALIZER;
	size_t size;
	int i;

	node[0].type = AF_NULL;
	for (i = 1; i < 70; i++) {
		item[i] = &node[i - 1];
		node[i].type = AF_LIST;
		node[i].u.list.items = &item[i];
		node[i].u.list.len = 1;
	}
	buf_put(&b, "xy", 2);
	ck_assert_int_eq(value_encode(&b, &node[AF_VALUE_MAX_DEPTH - 1]),
	    AF_OK);
	buf_truncate(&b, 2);
	ck_assert_int_eq(value_encode(&b, &node[AF_VALUE_MAX_DEPTH]),
	    AF_ELIMIT);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_int_eq(value_measure(&node[AF_VALUE_MAX_DEPTH], &size),
	    AF_ELIMIT);
	/* Rendered (logs, diagnostics) as deep as storage may hold. */
	ck_assert_int_eq(value_to_text(&b, &node[63]), AF_OK);
	ck_assert_int_eq(value_to_text(&b, &node[69]), AF_ELIMIT);
	buf_release(&b);
}
END_TEST

/* What the decoder refuses, the encoder refuses too: hand-built values no
 * constructor makes are never encoded, so never stored. */
START_TEST(test_value_encode_refuses_what_decode_refuses)
{
	struct af_value bad[7], one = { .type = AF_INT };
	const struct af_value *item[1];
	struct af_field f2[2], f1[1];
	struct buf b = BUF_INITIALIZER;
	size_t i;

	one.u.i = 1;
	bad[0].type = AF_STRING;
	bad[0].u.s = (struct af_str){ "a\xff", 2 };
	f2[0] = (struct af_field){ { "b", 1 }, &one };
	f2[1] = (struct af_field){ { "a", 1 }, &one };
	bad[1].type = AF_RECORD;
	bad[1].u.rec.fields = f2;
	bad[1].u.rec.len = 2;
	bad[2] = bad[1];
	bad[2].u.rec.fields = (struct af_field[2]){ { { "a", 1 }, &one },
		{ { "a", 1 }, &one } };
	f1[0] = (struct af_field){ { "a\0b", 3 }, &one };
	bad[3].type = AF_RECORD;
	bad[3].u.rec.fields = f1;
	bad[3].u.rec.len = 1;
	bad[4].type = AF_OBJ;
	bad[4].u.s = (struct af_str){ "b\0x", 3 };
	bad[5].type = AF_ERROR;
	bad[5].u.err.name = (struct af_str){ "E", 1 };
	bad[5].u.err.message = (struct af_str){ "\xc3", 1 };
	/* nested: a list holding the bad string */
	item[0] = &bad[0];
	bad[6].type = AF_LIST;
	bad[6].u.list.items = item;
	bad[6].u.list.len = 1;
	for (i = 0; i < 7; i++) {
		buf_truncate(&b, 0);
		buf_put(&b, "xy", 2);
		ck_assert_msg(value_encode(&b, &bad[i]) == AF_EINVAL,
		    "sample %zu encoded", i);
		ck_assert_uint_eq(b.len, 2);
	}
	buf_release(&b);
}
END_TEST

/* The encoder's text checks take an inline path for short ASCII texts and
 * the full one otherwise: both must refuse and accept the same things, and
 * key order is bytewise (unsigned) on both. */
START_TEST(test_value_encode_text_checks_short_and_long)
{
	static const char long_nul[40] =
	    "0123456789012345678901234567890123\0x";
	char long_bad[41], k1[41], k2[41];
	struct af_value one = { .type = AF_INT }, v;
	struct af_field f[2];
	struct buf b = BUF_INITIALIZER;

	memset(long_bad, 'a', 40);
	long_bad[39] = '\xff';
	long_bad[40] = '\0';
	memset(k1, 'k', 40);
	memcpy(k2, k1, 40);
	k1[38] = 'a';
	k2[38] = 'b';
	k1[40] = k2[40] = '\0';
	/* a long string with a bad last byte, a long key with a NUL */
	v.type = AF_STRING;
	v.u.s = (struct af_str){ long_bad, 40 };
	ck_assert_int_eq(value_encode(&b, &v), AF_EINVAL);
	v.type = AF_RECORD;
	f[0] = (struct af_field){ { long_nul, 36 }, &one };
	v.u.rec.fields = f;
	v.u.rec.len = 1;
	ck_assert_int_eq(value_encode(&b, &v), AF_EINVAL);
	/* valid UTF-8, short and long, is written */
	v.type = AF_STRING;
	v.u.s = (struct af_str){ "\xc3\xa9", 2 };
	ck_assert_int_eq(value_encode(&b, &v), AF_OK);
	/* keys: "z" (0x7a) sorts before "\xc3\xa9", never after */
	v.type = AF_RECORD;
	v.u.rec.fields = f;
	v.u.rec.len = 2;
	f[0] = (struct af_field){ { "z", 1 }, &one };
	f[1] = (struct af_field){ { "\xc3\xa9", 2 }, &one };
	ck_assert_int_eq(value_encode(&b, &v), AF_OK);
	f[0] = f[1];
	f[1] = (struct af_field){ { "z", 1 }, &one };
	ck_assert_int_eq(value_encode(&b, &v), AF_EINVAL);
	/* long keys that differ past the 32nd byte, in order and not */
	f[0] = (struct af_field){ { k1, 40 }, &one };
	f[1] = (struct af_field){ { k2, 40 }, &one };
	ck_assert_int_eq(value_encode(&b, &v), AF_OK);
	f[0] = f[1];
	f[1] = (struct af_field){ { k1, 40 }, &one };
	ck_assert_int_eq(value_encode(&b, &v), AF_EINVAL);
	/* a prefix sorts first */
	f[0] = (struct af_field){ { k1, 39 }, &one };
	f[1] = (struct af_field){ { k1, 40 }, &one };
	ck_assert_int_eq(value_encode(&b, &v), AF_OK);
	buf_release(&b);
}
END_TEST

static Suite *
value_suite(void)
{
	Suite *s = suite_create("value");
	TCase *tc;

	tc = tcase_create("codec");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_value_roundtrip_every_sample, 0, NSAMPLES);
	tcase_add_loop_test(tc, test_value_crosscheck_protobuf_c_unpack_repack,
	    0, NSAMPLES);
	tcase_add_loop_test(tc,
	    test_value_crosscheck_protobuf_c_pack_of_same_value, 0, NSAMPLES);
	tcase_add_loop_test(tc,
	    test_value_decode_rejects_truncated_at_every_prefix, 0, NSAMPLES);
	tcase_add_loop_test(tc, test_value_decode_accepts_only_canonical_bytes,
	    0, NSAMPLES);
	tcase_add_test(tc,
	    test_value_decoded_strings_are_nul_terminated_copies);
	tcase_add_test(tc, test_value_encode_refuses_hand_built_too_deep);
	tcase_add_test(tc, test_value_encode_refuses_what_decode_refuses);
	tcase_add_test(tc, test_value_encode_text_checks_short_and_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode_rejects");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_value_decode_rejects_unknown_field);
	tcase_add_test(tc, test_value_decode_rejects_wrong_wire_type);
	tcase_add_test(tc,
	    test_value_decode_rejects_two_kinds_and_noncanonical_forms);
	tcase_add_test(tc, test_value_decode_rejects_bad_utf8);
	tcase_add_test(tc, test_value_decode_rejects_unsorted_keys);
	tcase_add_test(tc, test_value_decode_rejects_duplicate_keys);
	tcase_add_test(tc, test_value_decode_rejects_depth_65);
	tcase_add_test(tc, test_value_decode_rejects_too_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_af_record_sorts_keys);
	tcase_add_test(tc, test_af_record_refuses_duplicates_and_bad_keys);
	tcase_add_test(tc, test_af_constructors_validate);
	tcase_add_test(tc, test_af_limits_depth_and_size);
	tcase_add_test(tc, test_af_get_and_at);
	tcase_add_test(tc, test_value_errors_equal_by_name_only);
	tcase_add_test(tc, test_value_equality_rules);
	tcase_add_test(tc, test_af_value_copy_is_deep);
	suite_add_tcase(s, tc);

	tc = tcase_create("diagnostics");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_value_diff_paths);
	tcase_add_test(tc, test_value_to_text_samples);
	suite_add_tcase(s, tc);

	return s;
}

TEST_MAIN(value_suite)
