/*
 * asyncflow/protocol.h: the numbers both ends of the wire agree on, defined
 * once for the daemon, the client library and the tests: the protocol
 * version, the frame limit, the nesting limits, and the limits of one value.
 *
 * A frame is a 4-byte big-endian payload length followed by that many bytes
 * of one protobuf message (proto/asyncflow.proto): a Request to the daemon,
 * a ServerMessage from it.
 *
 * Not here: the messages themselves (proto/asyncflow.proto), the frame and
 * depth-walk helpers (common/frame.h, internal), what a value is
 * (asyncflow/flow.h).
 */
#ifndef AF_PROTOCOL_H
#define AF_PROTOCOL_H

/* The protocol version this build speaks (Hello.version). 2: a string
 * value (Value.string_value) is `bytes` on the wire, so that C clients get
 * its length and its NULs; request names must be UTF-8 without NUL; values
 * nest at most AF_VALUE_MAX_DEPTH levels. A client of another version is
 * refused at hello with an error naming both. */
#define AF_PROTOCOL_VERSION 2

/* The length of a frame's header: the payload length, big-endian. */
#define AF_FRAME_HEADER 4

/* Limits of one value, checked by every constructor and decoder: nesting
 * (a scalar counts 1) and encoded size. */
#define AF_VALUE_MAX_DEPTH 64
#define AF_VALUE_MAX_BYTES (16u << 20) /* encoded size of one value */

/* The largest payload either side may send, in bytes, header excluded: a
 * value of the largest size (AF_VALUE_MAX_BYTES) plus room for the message
 * around it. A longer frame is a protocol error (checked before allocating);
 * a longer reply or request is refused with AF_ELIMIT before it is sent. */
#define AF_MAX_FRAME (17u << 20)

/* The deepest nesting of protobuf messages in a frame, either way, the
 * frame's own message counting 1. A value as deep as values may be
 * (AF_VALUE_MAX_DEPTH) takes at most 4 + 3 x 64 = 196 of them. A deeper
 * frame is refused before it is unpacked (protobuf-c's unpacker recurses
 * without a limit, so a small hostile frame could exhaust the stack); a
 * deeper request is refused with AF_ELIMIT before anything is sent. */
#define AF_MAX_DEPTH 200

#endif /* AF_PROTOCOL_H */
