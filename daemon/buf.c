/*
 * buf.c: the growable byte buffer and the out-of-line parts of the protobuf
 * wire helpers (see buf.h). The common cases are inline in buf.h; this file
 * has growth, nested-message lengths, long varints and skipping. It knows
 * nothing of any particular message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MIN_CAP 64

void
buf_init(struct buf *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = AF_OK;
}

void
buf_release(struct buf *b)
{
	free(b->p);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	/*
	 * After a failure cap was lowered to the then length; it still does
	 * not exceed the allocation, so keeping it is safe.
	 */
	b->len = 0;
	b->err = AF_OK;
}

int
buf_grow(struct buf *b, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (b->err != AF_OK)
		return b->err;
	if (b->cap - b->len >= n)
		return AF_OK;
	if (n > SIZE_MAX - b->len)
		goto fail;
	want = b->len + n;
	cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (cap < want) {
		if (cap > SIZE_MAX / 2) {
			cap = want;
			break;
		}
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL)
		goto fail;
	b->p = p;
	b->cap = cap;
	return AF_OK;
fail:
	b->err = AF_ENOMEM;
	b->cap = b->len; /* every later write takes the slow path */
	return b->err;
}

int
buf_reserve(struct buf *b, size_t n)
{
	if (b->err != AF_OK)
		return b->err;
	if (b->cap - b->len >= n)
		return AF_OK;
	return buf_grow(b, n);
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len)
		b->len = len;
}

uint8_t *
buf_detach(struct buf *b, size_t *len)
{
	uint8_t *p = NULL;

	if (b->err == AF_OK && b->len > 0) {
		p = b->p;
		if (len != NULL)
			*len = b->len;
		buf_init(b);
	} else {
		if (len != NULL)
			*len = 0;
		buf_reset(b);
	}
	return p;
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (buf_reserve(b, BUF_MIN_CAP) != AF_OK)
		return;
	va_start(ap, fmt);
	n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		if (buf_grow(b, (size_t)n + 1) != AF_OK)
			return;
		va_start(ap, fmt);
		n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
	}
	b->len += (size_t)n;
}

size_t
pb_begin_msg(struct buf *b, unsigned field)
{
	pb_put_tag(b, field, PB_LEN);
	buf_putc(b, 0);
	return b->len;
}

void
pb_end_msg(struct buf *b, size_t mark)
{
	size_t body, k;

	if (b->err != AF_OK)
		return;
	body = b->len - mark;
	if (body < 0x80) {
		b->p[mark - 1] = (uint8_t)body;
		return;
	}
	k = pb_varint_size(body);
	if (buf_reserve(b, k - 1) != AF_OK)
		return;
	memmove(b->p + mark + k - 1, b->p + mark, body);
	pb_encode_varint(b->p + mark - 1, body);
	b->len += k - 1;
}

int
pbr_varint_slow(struct pbr *r, uint64_t *v)
{
	const uint8_t *p = r->p;
	uint64_t u = 0;
	unsigned shift = 0;
	uint8_t c;

	for (;;) {
		if (p >= r->end)
			return AF_EDECODE;
		c = *p++;
		if (shift == 63 && c > 1)
			return AF_EDECODE; /* more than 64 bits */
		u |= (uint64_t)(c & 0x7f) << shift;
		if (c < 0x80)
			break;
		shift += 7;
	}
	/* Minimal form only: a varint longer than one byte never ends in 0. */
	if (c == 0 && p - r->p > 1)
		return AF_EDECODE;
	r->p = p;
	*v = u;
	return AF_OK;
}

int
pbr_skip(struct pbr *r, unsigned wiretype)
{
	uint64_t u;
	uint32_t w;
	const uint8_t *p;
	size_t n;

	switch (wiretype) {
	case PB_VARINT:
		return pbr_varint(r, &u);
	case PB_I64:
		return pbr_fixed64(r, &u);
	case PB_LEN:
		return pbr_bytes(r, &p, &n);
	case PB_I32:
		return pbr_fixed32(r, &w);
	default:
		return AF_EDECODE;
	}
}
