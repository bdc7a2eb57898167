/*
 * value_int.h: what value.c, value_codec.c and value_text.c share: the
 * size limit as a size_t and the small text and string helpers the
 * constructors, the decoder and the text form all use (inline: the decoder
 * is on the replay hot path). Internal to those three files.
 */
#ifndef AF_VALUE_INT_H
#define AF_VALUE_INT_H

#include <string.h>

#include "value.h"

#define MAXB ((size_t)AF_VALUE_MAX_BYTES)

/* Length of the valid UTF-8 sequence at p[0..n) (n > 0), or 0. */
static inline size_t
utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t k, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0; /* continuation byte or overlong */
	if (c < 0xe0)
		k = 2;
	else if (c < 0xf0) {
		k = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c < 0xf5) {
		k = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

/*
 * The short ASCII texts most values hold (record keys, small strings) are
 * checked here in one inline pass; anything else takes the full check.
 * The encoder checks every text it writes, so this is on the hot path of
 * every journal entry.
 */
#define TEXT_SHORT 32

/* UTF-8. */
static inline bool
text_valid(const void *s, size_t n)
{
	const uint8_t *p = s;
	uint8_t or = 0;
	size_t i;

	if (n > TEXT_SHORT)
		return value_utf8_valid(s, n);
	for (i = 0; i < n; i++)
		or |= p[i];
	return or < 0x80 || value_utf8_valid(s, n);
}

/* UTF-8 without NUL: record keys, object names, error fields. */
static inline bool
name_valid(const void *s, size_t n)
{
	const uint8_t *p = s;
	uint8_t or = 0, and = 0xff;
	size_t i;

	if (n > TEXT_SHORT)
		return value_utf8_valid(s, n) && memchr(s, 0, n) == NULL;
	for (i = 0; i < n; i++) {
		or |= p[i];
		if (p[i] == 0)
			and = 0;
	}
	if (and == 0)
		return false;
	return or < 0x80 || value_utf8_valid(s, n);
}

/* Bytewise order of record keys: memcmp, then the shorter first. */
static inline int
key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	const uint8_t *x = a, *y = b;
	size_t n = an < bn ? an : bn, i;
	int c;

	/* Keys are short: a call to memcmp costs more than the loop. */
	if (n <= TEXT_SHORT) {
		for (i = 0; i < n; i++)
			if (x[i] != y[i])
				return x[i] < y[i] ? -1 : 1;
	} else if ((c = memcmp(a, b, n)) != 0)
		return c;
	return an < bn ? -1 : an > bn;
}

/* A NUL-terminated copy of p[0..n) for an af_str; "" costs nothing. */
static inline bool
str_copy(struct af_arena *a, struct af_str *s, const void *p, size_t n)
{
	if (n == 0) {
		s->ptr = "";
		s->len = 0;
		return true;
	}
	if ((s->ptr = arena_strndup(a, p, n)) == NULL)
		return false;
	s->len = n;
	return true;
}

#endif /* AF_VALUE_INT_H */
