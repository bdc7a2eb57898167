/*
 * buf.h: a growable byte buffer, and protobuf wire-format helpers that write
 * into it (pb_put_*) or read from a byte range (pbr_*).
 *
 * These are what the daemon's hand-written encoders (values, journal
 * entries, table rows) are made of; the bytes they produce must be exactly
 * what protoc-c's generated code produces for proto/asyncflow.proto, which
 * the tests check. They are not a protobuf library: there are no
 * descriptors, and each encoder decides its own field order (ascending field
 * numbers, as protobuf-c writes) and which default values to omit (proto3
 * omits zero scalars and empty strings outside a oneof; the pb_put_*
 * functions always write what they are given).
 *
 * struct buf
 * ----------
 * p[0..len) is the content; cap is never more than the allocation at p.
 * The buffer owns p (malloc'd); buf_release frees it. Errors are sticky:
 * when growth fails, err becomes AF_ENOMEM, cap is lowered to len so that
 * every later write takes the slow path, and every later write is a no-op.
 * So a sequence of writes can be checked once at the end (b->err). A buffer
 * that failed keeps the bytes written before the failure. buf_reset clears
 * the error and the content and keeps the memory.
 *
 * struct pbr
 * ----------
 * A reader over [p, end) that it does not own. Every pbr_* call returns a
 * negative AF_EDECODE on malformed input and then leaves the reader in an
 * unspecified position. The reader is strict: varints (tags and lengths
 * included) must be minimally encoded and fit in 64 bits, field number 0
 * and the group and reserved wire types (3, 4, 6, 7) are malformed, and
 * lengths may not run past the end. Every writer here produces only that
 * form, as protobuf-c does, so the canonical encoding of a message is
 * unique byte for byte.
 */
#ifndef AF_BUF_H
#define AF_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "asyncflow/errors.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
	int err; /* AF_OK, or AF_ENOMEM after a failed growth */
};

#define BUF_INITIALIZER \
	{ \
		NULL, 0, 0, AF_OK \
	}

/* ---- The buffer ---------------------------------------------------------- */

/* Empty buffer, nothing allocated. */
void buf_init(struct buf *b);
/* Frees the memory; the buffer is then as after buf_init. */
void buf_release(struct buf *b);
/* Empties the buffer and clears its error; keeps the memory. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes. AF_OK, or b->err (AF_ENOMEM). */
int buf_reserve(struct buf *b, size_t n);
/* Drops everything after the first len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);
/* Hands p over to the caller (free(3) it), length in *len (may be NULL);
 * NULL if the buffer is empty or failed. The buffer is then empty. */
uint8_t *buf_detach(struct buf *b, size_t *len);
/* Appends a C string without its NUL, or printf output. */
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Slow path of the inline writers: grows, or fails sticky. */
int buf_grow(struct buf *b, size_t n);

/* Appends n bytes from p (p may be NULL if n is 0). */
static inline void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n && buf_grow(b, n) != AF_OK)
		return;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void
buf_putc(struct buf *b, uint8_t c)
{
	if (b->cap == b->len && buf_grow(b, 1) != AF_OK)
		return;
	b->p[b->len++] = c;
}

/* ---- Protobuf writer ----------------------------------------------------- */

enum pb_wiretype {
	PB_VARINT = 0,
	PB_I64 = 1,
	PB_LEN = 2,
	PB_I32 = 5,
};

#define PB_VARINT_MAX 10               /* bytes in a 64-bit varint */
#define PB_FIELD_MAX  ((1u << 29) - 1) /* largest field number */

/* Bytes that pb_put_varint(v) writes. */
static inline size_t
pb_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint64_t
pb_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);
}

static inline int64_t
pb_unzigzag(uint64_t u)
{
	return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

/* Writes v as a varint at d (room for PB_VARINT_MAX bytes); returns the
 * number of bytes written. */
static inline size_t
pb_encode_varint(uint8_t *d, uint64_t v)
{
	size_t i = 0;

	while (v >= 0x80) {
		d[i++] = (uint8_t)v | 0x80;
		v >>= 7;
	}
	d[i++] = (uint8_t)v;
	return i;
}

/* A bare varint (no tag). */
static inline void
pb_put_varint(struct buf *b, uint64_t v)
{
	if (b->cap - b->len < PB_VARINT_MAX &&
	    buf_grow(b, PB_VARINT_MAX) != AF_OK)
		return;
	b->len += pb_encode_varint(b->p + b->len, v);
}

/* A field key: (field << 3) | wiretype. field is 1..PB_FIELD_MAX. */
static inline void
pb_put_tag(struct buf *b, unsigned field, unsigned wiretype)
{
	pb_put_varint(b, ((uint64_t)field << 3) | wiretype);
}

/* uint64, int64 (two's complement), enum and bool fields: tag + varint. */
static inline void
pb_put_uint64(struct buf *b, unsigned field, uint64_t v)
{
	if (b->cap - b->len < 2 * PB_VARINT_MAX &&
	    buf_grow(b, 2 * PB_VARINT_MAX) != AF_OK)
		return;
	b->len += pb_encode_varint(b->p + b->len,
	    ((uint64_t)field << 3) | PB_VARINT);
	b->len += pb_encode_varint(b->p + b->len, v);
}

static inline void
pb_put_bool(struct buf *b, unsigned field, bool v)
{
	pb_put_uint64(b, field, v ? 1 : 0);
}

/* sint64 field: tag + zigzag varint. */
static inline void
pb_put_sint64(struct buf *b, unsigned field, int64_t v)
{
	pb_put_uint64(b, field, pb_zigzag(v));
}

/* fixed64 field: tag + 8 bytes little-endian. */
static inline void
pb_put_fixed64(struct buf *b, unsigned field, uint64_t v)
{
	uint8_t *d;
	int i;

	if (b->cap - b->len < PB_VARINT_MAX + 8 &&
	    buf_grow(b, PB_VARINT_MAX + 8) != AF_OK)
		return;
	b->len += pb_encode_varint(b->p + b->len,
	    ((uint64_t)field << 3) | PB_I64);
	d = b->p + b->len;
	for (i = 0; i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	b->len += 8;
}

/* double field: its IEEE 754 bits as fixed64 (NaN payloads kept). */
static inline void
pb_put_double(struct buf *b, unsigned field, double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	pb_put_fixed64(b, field, u);
}

/* string, bytes field: tag + length + the n bytes at p. */
static inline void
pb_put_bytes(struct buf *b, unsigned field, const void *p, size_t n)
{
	if (b->cap - b->len < 2 * PB_VARINT_MAX ||
	    b->cap - b->len - 2 * PB_VARINT_MAX < n) {
		if (n > SIZE_MAX - 2 * PB_VARINT_MAX) {
			buf_grow(b, SIZE_MAX); /* fails, sticky */
			return;
		}
		if (buf_grow(b, 2 * PB_VARINT_MAX + n) != AF_OK)
			return;
	}
	b->len += pb_encode_varint(b->p + b->len,
	    ((uint64_t)field << 3) | PB_LEN);
	b->len += pb_encode_varint(b->p + b->len, n);
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

/*
 * A nested message field. pb_begin_msg writes the tag and one byte for the
 * length and returns a mark; write the message body, then pb_end_msg(mark)
 * fills in the length, moving the body up when the length needs more than
 * one byte (bodies of 128 bytes or more), so the length is always a minimal
 * varint. Marks nest. After an error both are no-ops.
 */
size_t pb_begin_msg(struct buf *b, unsigned field);
void pb_end_msg(struct buf *b, size_t mark);

/* ---- Protobuf reader ----------------------------------------------------- */

struct pbr {
	const uint8_t *p, *end;
};

static inline void
pbr_init(struct pbr *r, const void *p, size_t n)
{
	r->p = p;
	r->end = n > 0 ? r->p + n : r->p;
}

/* True when the reader is at its end. */
static inline bool
pbr_done(const struct pbr *r)
{
	return r->p >= r->end;
}

int pbr_varint_slow(struct pbr *r, uint64_t *v);

/* A varint. AF_OK or AF_EDECODE. */
static inline int
pbr_varint(struct pbr *r, uint64_t *v)
{
	if (r->p < r->end && *r->p < 0x80) {
		*v = *r->p++;
		return AF_OK;
	}
	return pbr_varint_slow(r, v);
}

/*
 * The next field's key. Returns 1 with *field and *wiretype set, 0 at the
 * end of the input, or AF_EDECODE (bad varint, field 0 or above
 * PB_FIELD_MAX, wire type other than 0, 1, 2, 5). The value follows: read it
 * with the pbr_* call for its type, or pbr_skip.
 */
static inline int
pbr_next(struct pbr *r, unsigned *field, unsigned *wiretype)
{
	uint64_t key;
	unsigned wt;

	if (r->p >= r->end)
		return 0;
	if (pbr_varint(r, &key) != AF_OK || (key >> 3) > PB_FIELD_MAX)
		return AF_EDECODE;
	wt = (unsigned)key & 7;
	if (key >> 3 == 0 ||
	    (wt != PB_VARINT && wt != PB_I64 && wt != PB_LEN && wt != PB_I32))
		return AF_EDECODE;
	*field = (unsigned)(key >> 3);
	*wiretype = wt;
	return 1;
}

/* sint64 (zigzag varint). */
static inline int
pbr_sint64(struct pbr *r, int64_t *v)
{
	uint64_t u;

	if (pbr_varint(r, &u) != AF_OK)
		return AF_EDECODE;
	*v = pb_unzigzag(u);
	return AF_OK;
}

/* bool: only 0 or 1 is accepted (what every encoder writes). */
static inline int
pbr_bool(struct pbr *r, bool *v)
{
	if (r->p < r->end && *r->p <= 1) {
		*v = *r->p++ != 0;
		return AF_OK;
	}
	return AF_EDECODE;
}

/* fixed64 and double: 8 bytes little-endian. */
static inline int
pbr_fixed64(struct pbr *r, uint64_t *v)
{
	uint64_t u = 0;
	int i;

	if (r->end - r->p < 8)
		return AF_EDECODE;
	for (i = 0; i < 8; i++)
		u |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	*v = u;
	return AF_OK;
}

static inline int
pbr_double(struct pbr *r, double *v)
{
	uint64_t u;

	if (pbr_fixed64(r, &u) != AF_OK)
		return AF_EDECODE;
	memcpy(v, &u, sizeof(*v));
	return AF_OK;
}

/* fixed32: 4 bytes little-endian. */
static inline int
pbr_fixed32(struct pbr *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return AF_EDECODE;
	*v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 |
	    (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
	r->p += 4;
	return AF_OK;
}

/* A length-delimited value (string, bytes, nested message): *p and *n get
 * the bytes, which stay in the reader's input (not copied). */
static inline int
pbr_bytes(struct pbr *r, const uint8_t **p, size_t *n)
{
	uint64_t len;

	if (pbr_varint(r, &len) != AF_OK || len > (uint64_t)(r->end - r->p))
		return AF_EDECODE;
	*p = r->p;
	*n = (size_t)len;
	r->p += len;
	return AF_OK;
}

/* A nested message as a reader of its own. */
static inline int
pbr_sub(struct pbr *r, struct pbr *sub)
{
	const uint8_t *p;
	size_t n;

	if (pbr_bytes(r, &p, &n) != AF_OK)
		return AF_EDECODE;
	pbr_init(sub, p, n);
	return AF_OK;
}

/* Skips the value of a field whose key pbr_next returned. */
int pbr_skip(struct pbr *r, unsigned wiretype);

#endif /* AF_BUF_H */
