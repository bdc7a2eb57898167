/*
 * frame.h: the wire framing both programs use (asyncflow/protocol.h says
 * what a frame is): the big-endian length header, the check of an incoming
 * header against AF_MAX_FRAME, and the one nesting-depth walk that runs
 * before protobuf-c may unpack a frame.
 *
 * Internal: linked into the daemon, the client library and the tests, not
 * installed. The af__ prefix keeps these names apart from the client
 * library's public af_* ones. Not here: sockets and buffering (daemon/
 * server.c, client/conn.c), what the messages mean.
 */
#ifndef AF_FRAME_H
#define AF_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "asyncflow/errors.h"
#include "asyncflow/protocol.h"

static inline uint32_t
af__get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void
af__put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Writes the AF_FRAME_HEADER bytes announcing a payload of n bytes.
 * AF_ELIMIT (and nothing written) when n is over AF_MAX_FRAME.
 */
int af__frame_put_header(uint8_t *hdr, size_t n);

/*
 * Reads the header at hdr (AF_FRAME_HEADER bytes) into *n. AF_ELIMIT when it
 * announces more than AF_MAX_FRAME (*n is still set, for the message): the
 * stream cannot be trusted further and the connection should be closed.
 */
int af__frame_get_header(const uint8_t *hdr, size_t *n);

/*
 * Whether the protobuf message in [p, p + n), of type d, nests at most
 * max_depth messages deep, the message itself counting 1 (pass
 * AF_MAX_DEPTH). Every length-delimited field that d's descriptors call a
 * message counts one level. AF_OK, AF_ELIMIT (too deep) or AF_EDECODE (the
 * bytes cannot even be walked).
 *
 * It only answers "too deep?", for protobuf-c's unpacker, which recurses
 * without a limit. It is more lenient than protobuf-c (varints of up to 10
 * bytes, not necessarily minimal; any field number), so what it cannot walk
 * protobuf-c would not unpack either, and what protobuf-c unpacks nests
 * exactly as deep as the walk saw. Iterative within one message, recursive
 * only per level: its stack use is bounded by max_depth.
 */
int af__pb_depth_check(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t n, int max_depth);

#endif /* AF_FRAME_H */
