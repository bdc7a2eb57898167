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

/*
 * Limits of one value: nesting (a scalar counts 1) and encoded size.
 *
 * AF_VALUE_MAX_DEPTH is what every constructor, the encoder and the daemon's
 * membrane (a flow's values, a host method's result, a client's value)
 * accept. It is set by the wire (AF_MAX_DEPTH below): on the wire each
 * value level is up to 3 protobuf messages. A list level is 2 (Value, List),
 * a record level 3 (Value, Record, Field), the innermost value 1 (Value) or
 * 2 (Value, Error). So a value of depth d nests at most 3(d - 1) + 2 =
 * 3d - 1 messages, and a frame at most 3d + 4 (see AF_MAX_DEPTH).
 *
 * AF_VALUE_STORED_MAX_DEPTH is the limit before protocol 2, which the
 * decoder of stored data still accepts, so that journals and vows written
 * then stay readable and replay. Such a value is never sent: a reply that
 * would hold one is refused with AF_ELIMIT (it would nest deeper than
 * AF_MAX_DEPTH), and a flow that passes one on fails as for any value too
 * deep.
 */
#define AF_VALUE_MAX_DEPTH        20
#define AF_VALUE_STORED_MAX_DEPTH 64
#define AF_VALUE_MAX_BYTES        (16u << 20) /* encoded size of one value */

/* The largest payload either side may send, in bytes, header excluded: a
 * value of the largest size (AF_VALUE_MAX_BYTES) plus room for the message
 * around it. A longer frame is a protocol error (checked before allocating);
 * a longer reply or request is refused with AF_ELIMIT before it is sent. */
#define AF_MAX_FRAME (17u << 20)

/*
 * The deepest nesting of protobuf messages in a frame, either way, the
 * frame's own message counting 1. The deepest envelope puts 5 messages
 * above a value (ServerMessage, Response, ActivationList, ActivationInfo,
 * Invocation, then its args; a request puts 2), so a value as deep as
 * values may be (AF_VALUE_MAX_DEPTH = 20: 3 x 20 - 1 = 59 messages) takes
 * 5 + 59 = 64. That keeps every frame well under the recursion limit of
 * stock protobuf decoders (100 in Python, C++ and others), with room for
 * the envelope to grow. A deeper frame is refused before it is unpacked
 * (protobuf-c's unpacker recurses without a limit, so a small hostile
 * frame could exhaust the stack); a deeper request is refused with
 * AF_ELIMIT before anything is sent, and so is a deeper reply (by the
 * daemon, in its place).
 */
#define AF_MAX_DEPTH 64

#endif /* AF_PROTOCOL_H */
