/*
 * pbcheck.c: pb_depth_ok (server.h): walk a protobuf message with its
 * protoc-c descriptor and refuse nesting deeper than a limit, so a small
 * hostile frame cannot make protobuf-c's recursive unpacker overflow the
 * daemon's stack. Malformed input is left for protobuf-c to reject: this
 * only answers "too deep?" (and "cannot even be walked").
 */
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "server.h"

static const ProtobufCFieldDescriptor *
field_of(const ProtobufCMessageDescriptor *d, unsigned num)
{
	unsigned i;

	for (i = 0; i < d->n_fields; i++)
		if (d->fields[i].id == num)
			return &d->fields[i];
	return NULL;
}

static bool
walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
    int depth)
{
	const ProtobufCFieldDescriptor *f;
	struct pbr r;
	unsigned field, wt;
	const uint8_t *bp;
	size_t bn;
	int rc;

	if (depth <= 0)
		return false;
	pbr_init(&r, p, n);
	while ((rc = pbr_next(&r, &field, &wt)) > 0) {
		if (wt != PB_LEN) {
			if (pbr_skip(&r, wt) != AF_OK)
				return false;
			continue;
		}
		if (pbr_bytes(&r, &bp, &bn) != AF_OK)
			return false;
		f = field_of(d, field);
		if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    !walk(f->descriptor, bp, bn, depth - 1))
			return false;
	}
	return rc == 0;
}

bool
pb_depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
    int max_depth)
{
	return walk(d, p, n, max_depth);
}
