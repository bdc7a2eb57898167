/*
 * api_invocation.c: Invocation and ResolverGrant on the wire (see
 * api_invocation.h). Field numbers are those of proto/asyncflow.proto.
 */
#include "api_invocation.h"

/* message Invocation */
#define INV_VOW        1
#define INV_RESOLVER   2
#define INV_OBJECT     3
#define INV_METHOD     4
#define INV_ARGS       5
#define INV_ACTIVATION 6
#define INV_GRANTS     7
/* message ResolverGrant */
#define GRANT_VOW      1
#define GRANT_RESOLVER 2

int
api_invocation_encode(struct buf *b, const struct engine_invocation *inv)
{
	size_t i, m;

	pb_put_uint64(b, INV_VOW, inv->vow);
	if (inv->has_secret)
		pb_put_bytes(b, INV_RESOLVER, inv->secret, VOW_SECRET_LEN);
	pb_put_bytes(b, INV_OBJECT, inv->object.ptr, inv->object.len);
	if (inv->method.len)
		pb_put_bytes(b, INV_METHOD, inv->method.ptr, inv->method.len);
	if (inv->args.ptr)
		pb_put_bytes(b, INV_ARGS, inv->args.ptr, inv->args.len);
	if (inv->activation)
		pb_put_uint64(b, INV_ACTIVATION, inv->activation);
	for (i = 0; i < inv->ngrants; i++) {
		m = pb_begin_msg(b, INV_GRANTS);
		pb_put_uint64(b, GRANT_VOW, inv->grants[i].vow);
		pb_put_bytes(b, GRANT_RESOLVER, inv->grants[i].secret,
		    VOW_SECRET_LEN);
		pb_end_msg(b, m);
	}
	return b->err;
}

int
api_invocation(struct engine *e, uint64_t vow, bool secrets, struct buf *b)
{
	struct engine_invocation inv;
	int rc;

	if ((rc = engine_invocation(e, vow, secrets, &inv)) == AF_OK)
		rc = api_invocation_encode(b, &inv);
	engine_invocation_release(&inv);
	return rc;
}
