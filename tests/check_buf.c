/*
 * check_buf.c: the byte buffer and the protobuf wire helpers
 * (daemon/buf.c): varint edges, the strict reader's refusals, nested
 * message lengths (checked against protobuf-c), and the sticky error.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "asyncflow.pb-c.h"
#include "buf.h"
#include "value.h"
#include "testutil.h"

/* ---- Helpers: values, to see the buffer through value_encode ------------- */

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

/* ---- Buffer and wire helpers --------------------------------------------- */

START_TEST(test_pb_varint_edges_roundtrip)
{
	static const struct {
		uint64_t v;
		size_t n;
	} t[] = {
		{ 0, 1 },
		{ 1, 1 },
		{ 127, 1 },
		{ 128, 2 },
		{ 300, 2 },
		{ 16383, 2 },
		{ 16384, 3 },
		{ UINT32_MAX, 5 },
		{ (uint64_t)1 << 63, 10 },
		{ UINT64_MAX, 10 },
	};
	struct buf b = BUF_INITIALIZER;
	struct pbr r;
	uint64_t u;
	int64_t s;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		buf_reset(&b);
		pb_put_varint(&b, t[i].v);
		ck_assert_uint_eq(b.len, t[i].n);
		ck_assert_uint_eq(pb_varint_size(t[i].v), t[i].n);
		pbr_init(&r, b.p, b.len);
		ck_assert_int_eq(pbr_varint(&r, &u), AF_OK);
		ck_assert_uint_eq(u, t[i].v);
		ck_assert(pbr_done(&r));
	}
	buf_reset(&b);
	pb_put_sint64(&b, 1, -1);
	pb_put_sint64(&b, 1, INT64_MIN);
	pb_put_double(&b, 2, -0.0);
	pb_put_bool(&b, 3, true);
	pbr_init(&r, b.p, b.len);
	ck_assert_uint_eq(b.p[1], 1); /* zigzag(-1) */
	{
		unsigned f, wt;
		double d;
		bool bo;

		ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
		ck_assert_int_eq(pbr_sint64(&r, &s), AF_OK);
		ck_assert_int_eq(s, -1);
		ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
		ck_assert_int_eq(pbr_sint64(&r, &s), AF_OK);
		ck_assert(s == INT64_MIN);
		ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
		ck_assert_uint_eq(f, 2);
		ck_assert_uint_eq(wt, PB_I64);
		ck_assert_int_eq(pbr_double(&r, &d), AF_OK);
		ck_assert(d == 0 && signbit(d));
		ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
		ck_assert_int_eq(pbr_bool(&r, &bo), AF_OK);
		ck_assert(bo);
		ck_assert_int_eq(pbr_next(&r, &f, &wt), 0);
	}
	buf_release(&b);
}
END_TEST

START_TEST(test_pbr_rejects_malformed)
{
	static const struct {
		const char *bytes;
		size_t n;
	} varints[] = {
		{ "\x80\x00", 2 },
		{ "\xff\x00", 2 },
		{ "\x80", 1 },
		{ "", 0 },
		{ "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11 },
		{ "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10 },
	};
	struct pbr r;
	uint64_t u;
	unsigned f, wt;
	size_t i;
	const uint8_t *p;

	for (i = 0; i < sizeof(varints) / sizeof(varints[0]); i++) {
		pbr_init(&r, varints[i].bytes, varints[i].n);
		ck_assert_int_eq(pbr_varint(&r, &u), AF_EDECODE);
	}
	pbr_init(&r, "\x00", 1); /* field 0 */
	ck_assert_int_eq(pbr_next(&r, &f, &wt), AF_EDECODE);
	pbr_init(&r, "\x0b", 1); /* group */
	ck_assert_int_eq(pbr_next(&r, &f, &wt), AF_EDECODE);
	pbr_init(&r, "\x0f", 1); /* wire type 7 */
	ck_assert_int_eq(pbr_next(&r, &f, &wt), AF_EDECODE);
	pbr_init(&r, "\xf8\xff\xff\xff\x0f", 5); /* field 2^29-1 */
	ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
	ck_assert_uint_eq(f, PB_FIELD_MAX);
	pbr_init(&r, "\x80\x80\x80\x80\x10", 5); /* field 2^29 */
	ck_assert_int_eq(pbr_next(&r, &f, &wt), AF_EDECODE);
	pbr_init(&r,
	    "\x0a\x05"
	    "abc",
	    5);
	ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
	ck_assert_int_eq(pbr_bytes(&r, &p, &i), AF_EDECODE);
	pbr_init(&r, "\x09\x01\x02", 3);
	ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
	ck_assert_int_eq(pbr_skip(&r, wt), AF_EDECODE);
	pbr_init(&r, "\x0d\x01\x02\x03\x04\x10\x05", 7);
	ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
	ck_assert_int_eq(pbr_skip(&r, wt), AF_OK);
	ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
	ck_assert_int_eq(pbr_skip(&r, wt), AF_OK);
	ck_assert_int_eq(pbr_next(&r, &f, &wt), 0);
	ck_assert_int_eq(pbr_skip(&r, 3), AF_EDECODE);
}
END_TEST

START_TEST(test_pb_nested_message_lengths_are_minimal)
{
	static const size_t sizes[] = { 0, 1, 127, 128, 16383, 16384, 300000 };
	struct buf b = BUF_INITIALIZER;
	struct pbr r, sub, sub2;
	const uint8_t *p;
	size_t i, n, m1, m2, body;
	unsigned f, wt;
	uint8_t *payload;

	payload = malloc(300000);
	ck_assert_ptr_nonnull(payload);
	memset(payload, 'q', 300000);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		buf_reset(&b);
		buf_putc(&b, 0xaa);
		m1 = pb_begin_msg(&b, 5);
		m2 = pb_begin_msg(&b, 7);
		buf_put(&b, payload, sizes[i]);
		pb_end_msg(&b, m2);
		pb_put_uint64(&b, 1, 9);
		pb_end_msg(&b, m1);
		buf_putc(&b, 0xbb);
		ck_assert_int_eq(b.err, AF_OK);
		body = 1 + pb_varint_size(sizes[i]) + sizes[i] + 2;
		n = 1 + 1 + pb_varint_size(body) + body + 1;
		ck_assert_uint_eq(b.len, n);
		ck_assert_uint_eq(b.p[b.len - 1], 0xbb);
		pbr_init(&r, b.p + 1, b.len - 2);
		ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
		ck_assert_uint_eq(f, 5);
		ck_assert_int_eq(pbr_sub(&r, &sub), AF_OK);
		ck_assert(pbr_done(&r));
		ck_assert_int_eq(pbr_next(&sub, &f, &wt), 1);
		ck_assert_uint_eq(f, 7);
		ck_assert_int_eq(pbr_sub(&sub, &sub2), AF_OK);
		ck_assert_uint_eq((size_t)(sub2.end - sub2.p), sizes[i]);
		ck_assert_int_eq(pbr_next(&sub, &f, &wt), 1);
		ck_assert_uint_eq(f, 1);
		ck_assert_int_eq(pbr_skip(&sub, wt), AF_OK);
		ck_assert(pbr_done(&sub));
	}
	/* the same against protobuf-c: a List of one Value of 200 bytes */
	{
		const struct af_value *v = L(1, af_bytes(A, payload, 200));
		Asyncflow__Value *m;

		buf_reset(&b);
		ck_assert_int_eq(value_encode(&b, v), AF_OK);
		m = asyncflow__value__unpack(NULL, b.len, b.p);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(asyncflow__value__get_packed_size(m), b.len);
		asyncflow__value__free_unpacked(m, NULL);
		pbr_init(&r, b.p, b.len);
		ck_assert_int_eq(pbr_next(&r, &f, &wt), 1);
		ck_assert_int_eq(pbr_bytes(&r, &p, &n), AF_OK);
		ck_assert_uint_eq(n, 1 + 2 + 1 + 2 + 200);
	}
	free(payload);
	buf_release(&b);
}
END_TEST

START_TEST(test_buf_error_is_sticky)
{
	struct buf b;
	uint8_t *p;
	size_t n;

	buf_init(&b);
	buf_puts(&b, "abc");
	buf_printf(&b, "-%d-%s", 42, "x");
	ck_assert_uint_eq(b.len, 8);
	ck_assert(memcmp(b.p, "abc-42-x", 8) == 0);
	ck_assert_int_eq(buf_reserve(&b, SIZE_MAX), AF_ENOMEM);
	ck_assert_int_eq(b.err, AF_ENOMEM);
	buf_put(&b, "def", 3);
	buf_putc(&b, 'g');
	pb_put_varint(&b, 1);
	pb_put_bytes(&b, 1, "x", 1);
	buf_printf(&b, "%d", 1);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_int_eq(b.err, AF_ENOMEM);
	ck_assert_int_eq(value_encode(&b, I(1)), AF_ENOMEM);
	ck_assert_ptr_null(buf_detach(&b, &n));
	ck_assert_int_eq(b.err, AF_OK);
	buf_put(&b, "hello", 5);
	p = buf_detach(&b, &n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(b.len, 0);
	free(p);
	/* a printf larger than the first allocation */
	buf_printf(&b, "%0300d", 7);
	ck_assert_uint_eq(b.len, 300);
	buf_release(&b);
	buf_release(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pb_varint_edges_roundtrip);
	tcase_add_test(tc, test_pbr_rejects_malformed);
	tcase_add_test(tc, test_pb_nested_message_lengths_are_minimal);
	tcase_add_test(tc, test_buf_error_is_sticky);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(buf_suite)
