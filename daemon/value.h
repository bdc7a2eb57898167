/*
 * value.h: the engine's side of the value model (DESIGN.md §2): the
 * canonical protobuf codec, limits, diffs for divergence diagnostics and a
 * JSON-like text form for logs. The constructors, accessors, equality and
 * copy that flow code uses are declared in include/asyncflow/flow.h and
 * implemented in value.c too.
 *
 * It is not the client protocol's codec (that is protoc-c's generated code)
 * and not the CLI's JSON parser; value_to_text only renders.
 *
 * Canonical encoding
 * ------------------
 * A value is the body of an asyncflow.Value message (proto/asyncflow.proto)
 * with exactly one `kind` field, which protobuf-c also produces for the same
 * value byte for byte:
 *   - null is null_value = true; false, 0, 0.0 and "" are still written
 *     (a oneof member is always written);
 *   - ints are sint64, doubles their IEEE bits (NaN payloads and -0 kept);
 *   - list items in order; record fields sorted bytewise by key, keys unique;
 *   - in Field and Error, empty strings are omitted, as proto3 does;
 *   - every varint and length is minimal.
 * Every value has exactly one encoding, so equal values (af_value_equal)
 * have equal bytes except for error messages, which equality ignores.
 *
 * Validity
 * --------
 * Strings, record keys, object names and error names and messages are valid
 * UTF-8. Record keys, object names and error fields also contain no NUL
 * (the API takes them as C strings; strings and bytes may hold NULs).
 * Depth is counted in Value levels: a scalar has depth 1, [[1]] has depth 3;
 * at most AF_VALUE_MAX_DEPTH for every value made or encoded now, and at
 * most AF_VALUE_STORED_MAX_DEPTH (the limit before protocol 2) for a value
 * decoded from storage, so that old journals replay (see
 * asyncflow/protocol.h). The encoding is at most AF_VALUE_MAX_BYTES.
 * The constructors of flow.h and value_decode only make valid values;
 * values must not be built by hand, as everything here assumes validity
 * (what it does check is noted).
 *
 * Ownership: decoded values live in the arena given; on failure whatever
 * was allocated stays in the arena until it is reset or freed. Output goes
 * to a caller-owned struct buf. af_null and af_bool return shared static
 * values, and empty strings point to a static "": both outlive any arena.
 */
#ifndef AF_VALUE_H
#define AF_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "asyncflow/flow.h"
#include "arena.h"
#include "buf.h"

/* ---- Codec --------------------------------------------------------------- */

/*
 * Appends the canonical encoding of v as a Value message body (not
 * length-prefixed). Returns AF_OK; AF_ELIMIT if v is deeper than
 * AF_VALUE_MAX_DEPTH or its encoding larger than AF_VALUE_MAX_BYTES (both
 * checked as it goes, so a value sharing subvalues cannot blow up);
 * AF_ENOMEM (b->err) if the buffer could not grow; AF_EINVAL for an unknown
 * type. On failure b->len is back where it was.
 */
int value_encode(struct buf *b, const struct af_value *v);

/*
 * Decodes the canonical encoding p[0..n) into arena a; *out is the value
 * (NULL on failure). Strings in the result are copies, NUL-terminated.
 * AF_EDECODE when the bytes are not the canonical encoding of a valid value:
 * not protobuf, unknown field, wrong wire type, no or several `kind` fields,
 * null_value not true, bool not 0/1, non-minimal varint, Field or Error
 * fields out of order, repeated or present but empty, a Field without
 * value, record keys unsorted or duplicate, invalid UTF-8 or NUL where not
 * allowed, trailing bytes. AF_ELIMIT when n > AF_VALUE_MAX_BYTES or the
 * value is deeper than AF_VALUE_STORED_MAX_DEPTH (stored data may be as
 * deep as values were allowed to be; a value from a client must then be
 * checked against AF_VALUE_MAX_DEPTH, e.g. with value_measure). AF_ENOMEM. AF_EINVAL if a or
 * out is NULL.
 */
int value_decode(struct af_arena *a, const void *p, size_t n,
    const struct af_value **out);

/*
 * The size of v's canonical encoding in *size. AF_OK, or AF_ELIMIT as for
 * value_encode (then *size is unspecified), AF_EINVAL for an unknown type.
 * Costs a walk of the value.
 */
int value_measure(const struct af_value *v, size_t *size);

/*
 * Validates a value handed over by guest code, which may have been built by
 * hand, before anything else walks it: every pointer readable, types known,
 * depth at most AF_VALUE_MAX_DEPTH, size bounded by AF_VALUE_MAX_BYTES
 * (counting each node), no list or record that contains itself. Memory is
 * read under a fault guard (guard.h), so a length that lies is a failure,
 * not a crash. AF_OK, or AF_EINVAL with why (a phrase, caller's buffer of
 * whylen bytes) saying what is wrong. UTF-8 and key order are left to
 * value_encode, which is safe to call once this passed.
 */
int value_check(const struct af_value *v, char *why, size_t whylen);

/* ---- Diagnostics --------------------------------------------------------- */

/*
 * 0 if af_value_equal(x, y). Otherwise 1, and path gets the first place
 * where they differ, NUL-terminated and truncated to pathlen bytes: "" for
 * the roots themselves (different types or scalars), "[2]" for a list item,
 * ".amount" for a record field (keys that are not C identifiers are written
 * ["a key"] JSON-quoted), ".name" for an error whose names differ, composed
 * left to right, e.g. "[2].amount" or ".error.name". A list item or record
 * key present in one value only is named too. path may be NULL if pathlen
 * is 0.
 */
int value_diff(const struct af_value *x, const struct af_value *y, char *path,
    size_t pathlen);

/*
 * Appends a compact JSON rendering of v (DESIGN.md §2's mapping) for logs
 * and diagnostics: null, true, 42, 1.5 (doubles always have a '.' or an
 * exponent, with the fewest digits that read back to the same double;
 * {"@double":"nan"}, "inf", "-inf"), "text" (escaped; invalid UTF-8 would
 * be written as \ufffd), {"@bytes":"base64"}, [..], {"k":v,..},
 * {"@record":{..}} when a key starts with '@', {"@vow":N},
 * {"@resolver":N}, {"@obj":"name"},
 * {"@error":{"name":"..","message":".."}}. No whitespace, no truncation.
 * Returns AF_OK, b->err (AF_ENOMEM), or AF_ELIMIT for a value deeper than
 * AF_VALUE_STORED_MAX_DEPTH (values decoded from storage are rendered).
 */
int value_to_text(struct buf *b, const struct af_value *v);

/* ---- Helpers ------------------------------------------------------------- */

/* True if p[0..n) is valid UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF; NUL is valid). */
bool value_utf8_valid(const void *p, size_t n);

/* True if p[0..n) is a name: valid UTF-8 without NUL (record keys, object
 * names, error names and messages, and the names a client sends). */
bool value_name_valid(const void *p, size_t n);

/*
 * Copies the C string s into out[0..outlen) (outlen > 0) as valid UTF-8:
 * every byte that does not start a valid UTF-8 sequence is written as the
 * four characters \xNN, so a message quoting a client's bytes stays
 * readable by a strict decoder. Truncated at a character boundary to fit,
 * always NUL-terminated. Returns out.
 */
char *value_utf8_escape(char *out, size_t outlen, const char *s);

/* "null", "bool", "int", "double", "string", "bytes", "list", "record",
 * "vow", "resolver", "obj", "error", or "?" . */
const char *value_type_name(enum af_type t);

/* Appends p[0..n) as a JSON string literal, quotes included. */
void value_json_string(struct buf *b, const void *p, size_t n);

/* The old name of af_list_of, for modules built before the rename. */
const struct af_value *
af_list(struct af_arena *a, const struct af_value *const *items, size_t n);

#endif /* AF_VALUE_H */
