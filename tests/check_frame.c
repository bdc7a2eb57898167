/*
 * check_frame.c: the wire framing shared by the daemon and the client
 * (common/frame.c): the length header and its limit, and the nesting-depth
 * walk that runs before protobuf-c unpacks a frame. The walk is checked at
 * its limit and one past it, on truncated and malformed input, and against
 * protobuf-c itself: what the walk cannot walk, protobuf-c does not unpack.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow.pb-c.h"
#include "frame.h"
#include "testutil.h"

/* ---- Building nested messages by hand ------------------------------------ */

struct msg {
	uint8_t *p;
	size_t n;
};

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t i = 0;

	while (v >= 0x80) {
		p[i++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[i++] = (uint8_t)v;
	return i;
}

/* m becomes one length-delimited field `field` holding m's old bytes. */
static void
wrap(struct msg *m, unsigned field)
{
	uint8_t hdr[20], *p;
	size_t h;

	h = put_varint(hdr, (uint64_t)field << 3 | 2);
	h += put_varint(hdr + h, m->n);
	p = malloc(h + m->n);
	ck_assert_ptr_nonnull(p);
	memcpy(p, hdr, h);
	if (m->n > 0)
		memcpy(p + h, m->p, m->n);
	free(m->p);
	m->p = p;
	m->n += h;
}

/* A Value nesting `lists` lists around a null: 1 + 2 x lists messages. */
static struct msg
nested_value(int lists)
{
	struct msg m;
	int i;

	m.p = malloc(2);
	ck_assert_ptr_nonnull(m.p);
	m.p[0] = 0x08; /* Value.null_value = true */
	m.p[1] = 0x01;
	m.n = 2;
	for (i = 0; i < lists; i++) {
		wrap(&m, 1); /* List.items */
		wrap(&m, 7); /* Value.list_value */
	}
	return m;
}

static int
depth_of(const ProtobufCMessageDescriptor *d, const struct msg *m, int max)
{
	return af__pb_depth_check(d, m->p, m->n, max);
}

/* ---- Frame header -------------------------------------------------------- */

START_TEST(test_frame_header_roundtrip_and_limit)
{
	static const size_t sizes[] = { 0, 1, 127, 128, 0x10000,
		AF_MAX_FRAME - 1, AF_MAX_FRAME };
	uint8_t hdr[AF_FRAME_HEADER];
	size_t i, n;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert_int_eq(af__frame_put_header(hdr, sizes[i]), AF_OK);
		ck_assert_int_eq(af__frame_get_header(hdr, &n), AF_OK);
		ck_assert_uint_eq(n, sizes[i]);
	}
	/* Big-endian. */
	ck_assert_int_eq(af__frame_put_header(hdr, 0x010203), AF_OK);
	ck_assert_int_eq(hdr[0], 0);
	ck_assert_int_eq(hdr[1], 1);
	ck_assert_int_eq(hdr[2], 2);
	ck_assert_int_eq(hdr[3], 3);
	ck_assert_uint_eq(af__get_be32(hdr), 0x010203);
	af__put_be32(hdr, 0xfedcba98u);
	ck_assert_uint_eq(af__get_be32(hdr), 0xfedcba98u);

	/* One past the limit: not written, and refused when read. */
	memset(hdr, 0xaa, sizeof(hdr));
	ck_assert_int_eq(af__frame_put_header(hdr, AF_MAX_FRAME + 1),
	    AF_ELIMIT);
	ck_assert_uint_eq(af__get_be32(hdr), 0xaaaaaaaau);
	af__put_be32(hdr, AF_MAX_FRAME + 1);
	ck_assert_int_eq(af__frame_get_header(hdr, &n), AF_ELIMIT);
	ck_assert_uint_eq(n, AF_MAX_FRAME + 1);
	af__put_be32(hdr, UINT32_MAX);
	ck_assert_int_eq(af__frame_get_header(hdr, &n), AF_ELIMIT);
	ck_assert_uint_eq(n, UINT32_MAX);
}
END_TEST

/* The limits agree with each other: a value of the greatest depth fits in
 * a request, and the greatest value fits in a frame. */
START_TEST(test_protocol_limits_are_consistent)
{
	ck_assert_int_ge(AF_MAX_DEPTH, 4 + 3 * AF_VALUE_MAX_DEPTH);
	ck_assert_uint_gt(AF_MAX_FRAME, AF_VALUE_MAX_BYTES);
	ck_assert_int_eq(AF_FRAME_HEADER, 4);
	ck_assert_int_ge(AF_PROTOCOL_VERSION, 1);
}
END_TEST

/* ---- The depth walk ------------------------------------------------------ */

START_TEST(test_depth_accepts_at_limit_refuses_one_past)
{
	const ProtobufCMessageDescriptor *V = &asyncflow__value__descriptor;
	const ProtobufCMessageDescriptor *L = &asyncflow__list__descriptor;
	struct msg m;
	int k;

	/* Small limits, every depth: a Value of k lists nests 1 + 2k. */
	for (k = 0; k < 10; k++) {
		m = nested_value(k);
		ck_assert_int_eq(depth_of(V, &m, 1 + 2 * k), AF_OK);
		ck_assert_int_eq(depth_of(V, &m, 2 + 2 * k), AF_OK);
		ck_assert_int_eq(depth_of(V, &m, 2 * k), AF_ELIMIT);
		/* As a List's item: one more. */
		wrap(&m, 1);
		ck_assert_int_eq(depth_of(L, &m, 2 + 2 * k), AF_OK);
		ck_assert_int_eq(depth_of(L, &m, 1 + 2 * k), AF_ELIMIT);
		free(m.p);
	}

	/* AF_MAX_DEPTH itself (even): a List holding AF_MAX_DEPTH / 2 - 1
	 * lists is AF_MAX_DEPTH deep. */
	m = nested_value(AF_MAX_DEPTH / 2 - 1);
	ck_assert_int_eq(depth_of(V, &m, AF_MAX_DEPTH), AF_OK); /* - 1 */
	wrap(&m, 1);
	ck_assert_int_eq(depth_of(L, &m, AF_MAX_DEPTH), AF_OK);
	free(m.p);
	m = nested_value(AF_MAX_DEPTH / 2);
	ck_assert_int_eq(depth_of(V, &m, AF_MAX_DEPTH), AF_ELIMIT); /* + 1 */
	free(m.p);

	/* No limit below 1: even a scalar is one level. */
	m = nested_value(0);
	ck_assert_int_eq(depth_of(V, &m, 0), AF_ELIMIT);
	free(m.p);
}
END_TEST

/* In a Request, as the daemon reads it: Request > StartFlow > Value. */
START_TEST(test_depth_of_a_request)
{
	const ProtobufCMessageDescriptor *R = &asyncflow__request__descriptor;
	Asyncflow__Request *req;
	struct msg m;
	int lists;

	for (lists = 97; lists <= 99; lists++) {
		m = nested_value(lists);
		wrap(&m, 2); /* StartFlow.args */
		wrap(&m, 3); /* Request.start */
		/* 3 + 2 x lists messages. */
		ck_assert_int_eq(depth_of(R, &m, AF_MAX_DEPTH),
		    3 + 2 * lists <= AF_MAX_DEPTH ? AF_OK : AF_ELIMIT);
		if (3 + 2 * lists <= AF_MAX_DEPTH) {
			req = asyncflow__request__unpack(NULL, m.n, m.p);
			ck_assert_ptr_nonnull(req);
			ck_assert_ptr_nonnull(req->start);
			ck_assert_ptr_nonnull(req->start->args);
			asyncflow__request__free_unpacked(req, NULL);
		}
		free(m.p);
	}
}
END_TEST

/* Far too deep: refused at the limit, without walking (or recursing) all
 * the way down. */
START_TEST(test_depth_refuses_very_deep_input)
{
	struct msg m = nested_value(5000);

	ck_assert_int_eq(depth_of(&asyncflow__value__descriptor, &m,
			     AF_MAX_DEPTH),
	    AF_ELIMIT);
	free(m.p);
}
END_TEST

START_TEST(test_depth_empty_and_scalar_messages)
{
	static const uint8_t sint[] = { 0x18, 0x01 }; /* int_value = -1 */

	ck_assert_int_eq(af__pb_depth_check(&asyncflow__value__descriptor, NULL,
			     0, 1),
	    AF_OK);
	ck_assert_int_eq(af__pb_depth_check(&asyncflow__value__descriptor, NULL,
			     0, 0),
	    AF_ELIMIT);
	ck_assert_int_eq(af__pb_depth_check(&asyncflow__value__descriptor, sint,
			     sizeof(sint), 1),
	    AF_OK);
}
END_TEST

struct bad {
	const char *what;
	uint8_t b[16];
	size_t n;
};

START_TEST(test_depth_refuses_what_cannot_be_walked)
{
	static const struct bad t[] = {
		{ "key: truncated varint", { 0x80 }, 1 },
		{ "key: truncated 2-byte varint", { 0x88, 0x80 }, 2 },
		{ "key: 11-byte varint",
		    { 0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
			0x80, 0x00 },
		    11 },
		{ "varint value: missing", { 0x10 }, 1 },
		{ "varint value: truncated", { 0x10, 0xff }, 2 },
		{ "varint value: 11 bytes",
		    { 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0x01 },
		    12 },
		{ "fixed64: 7 of 8 bytes", { 0x21, 1, 2, 3, 4, 5, 6, 7 }, 8 },
		{ "fixed32: 3 of 4 bytes", { 0x25, 1, 2, 3 }, 4 },
		{ "length: missing", { 0x2a }, 1 },
		{ "length: truncated varint", { 0x2a, 0x80 }, 2 },
		{ "length: past the end", { 0x2a, 0x05, 'a', 'b' }, 4 },
		{ "length: huge", { 0x2a, 0xff, 0xff, 0xff, 0xff, 0x0f }, 6 },
		{ "start group", { 0x0b }, 1 },
		{ "end group", { 0x0c }, 1 },
		{ "wire type 6", { 0x0e }, 1 },
		{ "wire type 7", { 0x0f }, 1 },
		/* Value.list_value > List.items > a truncated key. */
		{ "nested: bad inner key", { 0x3a, 0x03, 0x0a, 0x01, 0x80 },
		    5 },
		/* The inner length runs past the outer one. */
		{ "nested: inner longer than outer",
		    { 0x3a, 0x02, 0x0a, 0x05, 0x08, 0x01, 0x00, 0x00 }, 8 },
	};
	ProtobufCMessage *m;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(af__pb_depth_check(&asyncflow__value__descriptor,
				  t[i].b, t[i].n, AF_MAX_DEPTH) == AF_EDECODE,
		    "%s", t[i].what);
		/* What the walk cannot walk, protobuf-c does not unpack. */
		m = protobuf_c_message_unpack(&asyncflow__value__descriptor,
		    NULL, t[i].n, t[i].b);
		ck_assert_msg(m == NULL, "protobuf-c unpacked: %s", t[i].what);
	}
}
END_TEST

/* The walk only answers "too deep?": what protobuf-c accepts it accepts
 * too (non-minimal varints, unknown fields), and it does not look into
 * fields that are not messages. */
START_TEST(test_depth_is_lenient_where_protobuf_c_is)
{
	static const struct bad t[] = {
		/* null_value = true, key as a 2-byte varint */
		{ "non-minimal key", { 0x88, 0x00, 0x01 }, 3 },
		/* int_value, value as a non-minimal varint */
		{ "non-minimal varint value", { 0x18, 0x82, 0x00 }, 3 },
		/* string_value, length as a non-minimal varint */
		{ "non-minimal length", { 0x2a, 0x81, 0x00, 'x' }, 4 },
		/* unknown field 100, bytes not a message */
		{ "unknown length-delimited field",
		    { 0xa2, 0x06, 0x02, 0x80, 0x80 }, 5 },
		/* bytes_value holding what would be a bad key */
		{ "bytes field not walked", { 0x32, 0x02, 0x80, 0x80 }, 4 },
		{ "fixed64 and fixed32",
		    { 0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x7d, 1, 2, 3, 4 },
		    14 },
	};
	ProtobufCMessage *m;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		m = protobuf_c_message_unpack(&asyncflow__value__descriptor,
		    NULL, t[i].n, t[i].b);
		ck_assert_msg(m != NULL, "protobuf-c refused: %s", t[i].what);
		protobuf_c_message_free_unpacked(m, NULL);
		ck_assert_msg(af__pb_depth_check(&asyncflow__value__descriptor,
				  t[i].b, t[i].n, AF_MAX_DEPTH) == AF_OK,
		    "%s", t[i].what);
	}
}
END_TEST

/* Every prefix of a nested encoding: where the walk says it cannot walk,
 * protobuf-c does not unpack either; where it walks, the depth is never
 * more than the whole message's. */
START_TEST(test_depth_every_prefix_agrees_with_protobuf_c)
{
	struct msg m = nested_value(6);
	ProtobufCMessage *u;
	size_t n;
	int rc;

	for (n = 0; n <= m.n; n++) {
		rc = af__pb_depth_check(&asyncflow__value__descriptor, m.p, n,
		    13);
		ck_assert(rc == AF_OK || rc == AF_EDECODE);
		if (rc == AF_EDECODE) {
			u = protobuf_c_message_unpack(
			    &asyncflow__value__descriptor, NULL, n, m.p);
			ck_assert_msg(u == NULL, "prefix %zu", n);
		}
	}
	ck_assert_int_eq(af__pb_depth_check(&asyncflow__value__descriptor, m.p,
			     m.n, 13),
	    AF_OK);
	free(m.p);
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc;

	tc = tcase_create("header");
	tcase_add_test(tc, test_frame_header_roundtrip_and_limit);
	tcase_add_test(tc, test_protocol_limits_are_consistent);
	suite_add_tcase(s, tc);

	tc = tcase_create("depth");
	tcase_add_test(tc, test_depth_accepts_at_limit_refuses_one_past);
	tcase_add_test(tc, test_depth_of_a_request);
	tcase_add_test(tc, test_depth_refuses_very_deep_input);
	tcase_add_test(tc, test_depth_empty_and_scalar_messages);
	tcase_add_test(tc, test_depth_refuses_what_cannot_be_walked);
	tcase_add_test(tc, test_depth_is_lenient_where_protobuf_c_is);
	tcase_add_test(tc, test_depth_every_prefix_agrees_with_protobuf_c);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(frame_suite)
