/*
 * frame.c: the frame header helpers and the protobuf nesting-depth walk of
 * frame.h, shared by the daemon, the client library and the tests. Plain C
 * and protobuf-c's descriptors only: no allocation, no I/O.
 */
#include <stdbool.h>

#include "frame.h"

/* The deepest value inside the deepest request or reply fits the limit. */
_Static_assert(AF_MAX_DEPTH >= 4 + 3 * AF_VALUE_MAX_DEPTH,
    "AF_MAX_DEPTH must hold a value of AF_VALUE_MAX_DEPTH in a frame");
/* A frame's length fits the 32-bit header. */
_Static_assert(AF_MAX_FRAME <= UINT32_MAX, "AF_MAX_FRAME over 32 bits");

int
af__frame_put_header(uint8_t *hdr, size_t n)
{
	if (n > AF_MAX_FRAME)
		return AF_ELIMIT;
	af__put_be32(hdr, (uint32_t)n);
	return AF_OK;
}

int
af__frame_get_header(const uint8_t *hdr, size_t *n)
{
	*n = af__get_be32(hdr);
	return *n > AF_MAX_FRAME ? AF_ELIMIT : AF_OK;
}

/* A varint of at most 10 bytes at *pp, before end. */
static bool
wire_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t u = 0;
	unsigned shift;

	for (shift = 0; shift < 64 && p < end; shift += 7) {
		u |= (uint64_t)(*p & 0x7f) << shift;
		if (*p++ < 0x80) {
			*pp = p;
			*v = u;
			return true;
		}
	}
	return false;
}

static int
walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
    int depth, int max_depth)
{
	const ProtobufCFieldDescriptor *f;
	uint64_t key, len;
	int rc;

	if (depth > max_depth)
		return AF_ELIMIT;
	while (p < end) {
		if (!wire_varint(&p, end, &key))
			return AF_EDECODE;
		switch (key & 7) {
		case 0: /* varint */
			if (!wire_varint(&p, end, &len))
				return AF_EDECODE;
			break;
		case 1: /* 64-bit */
			if (end - p < 8)
				return AF_EDECODE;
			p += 8;
			break;
		case 5: /* 32-bit */
			if (end - p < 4)
				return AF_EDECODE;
			p += 4;
			break;
		case 2: /* length-delimited */
			if (!wire_varint(&p, end, &len) ||
			    len > (uint64_t)(end - p))
				return AF_EDECODE;
			f = (key >> 3) <= UINT32_MAX ?
			    protobuf_c_message_descriptor_get_field(d,
				(unsigned)(key >> 3)) :
			    NULL;
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    (rc = walk(f->descriptor, p, p + len, depth + 1,
				 max_depth)) != AF_OK)
				return rc;
			p += len;
			break;
		default: /* groups: protobuf-c has none */
			return AF_EDECODE;
		}
	}
	return AF_OK;
}

int
af__pb_depth_check(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t n, int max_depth)
{
	if (n == 0) /* p may be NULL */
		return max_depth >= 1 ? AF_OK : AF_ELIMIT;
	return walk(d, p, p + n, 1, max_depth);
}
