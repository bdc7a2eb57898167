/*
 * value_text.c: values for people (value.h): the text form of
 * value_to_text, JSON string quoting, type names, and value_diff's path to
 * the first difference. It only renders: parsing JSON is the CLI's.
 *
 * Not here: building values (value.c), the canonical codec
 * (value_codec.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value_int.h"

/* ---- Text ---------------------------------------------------------------- */

const char *
value_type_name(enum af_type t)
{
	static const char *const names[] = { "null", "bool", "int", "double",
		"string", "bytes", "list", "record", "vow", "resolver", "obj",
		"error" };

	if ((unsigned)t < sizeof(names) / sizeof(names[0]))
		return names[t];
	return "?";
}

void
value_json_string(struct buf *b, const void *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = s;
	size_t i = 0, run, k;
	uint8_t c;
	char esc[6];

	buf_putc(b, '"');
	while (i < n) {
		/* the longest run that needs no escaping */
		for (run = i; run < n; run++) {
			c = p[run];
			if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f)
				break;
			if (c >= 0x80) {
				if ((k = utf8_seq(p + run, n - run)) == 0)
					break;
				run += k - 1;
			}
		}
		buf_put(b, p + i, run - i);
		if ((i = run) == n)
			break;
		c = p[i++];
		switch (c) {
		case '"':
			buf_put(b, "\\\"", 2);
			break;
		case '\\':
			buf_put(b, "\\\\", 2);
			break;
		case '\n':
			buf_put(b, "\\n", 2);
			break;
		case '\r':
			buf_put(b, "\\r", 2);
			break;
		case '\t':
			buf_put(b, "\\t", 2);
			break;
		case '\b':
			buf_put(b, "\\b", 2);
			break;
		case '\f':
			buf_put(b, "\\f", 2);
			break;
		default:
			if (c >= 0x80) {
				buf_put(b, "\\ufffd", 6); /* bad UTF-8 */
				break;
			}
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			buf_put(b, esc, 6);
			break;
		}
	}
	buf_putc(b, '"');
}

static void
text_base64(struct buf *b, const uint8_t *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	uint32_t w;
	size_t i;

	buf_putc(b, '"');
	for (i = 0; i + 3 <= n; i += 3) {
		w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		q[0] = tab[w >> 18];
		q[1] = tab[(w >> 12) & 63];
		q[2] = tab[(w >> 6) & 63];
		q[3] = tab[w & 63];
		buf_put(b, q, 4);
	}
	if (n - i == 1) {
		w = (uint32_t)p[i] << 16;
		q[0] = tab[w >> 18];
		q[1] = tab[(w >> 12) & 63];
		q[2] = q[3] = '=';
		buf_put(b, q, 4);
	} else if (n - i == 2) {
		w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		q[0] = tab[w >> 18];
		q[1] = tab[(w >> 12) & 63];
		q[2] = tab[(w >> 6) & 63];
		q[3] = '=';
		buf_put(b, q, 4);
	}
	buf_putc(b, '"');
}

static void
text_double(struct buf *b, double d)
{
	char s[40];
	int prec;

	if (isnan(d)) {
		buf_puts(b, "{\"@double\":\"nan\"}");
		return;
	}
	if (isinf(d)) {
		buf_puts(b,
		    d < 0 ? "{\"@double\":\"-inf\"}" : "{\"@double\":\"inf\"}");
		return;
	}
	/* The shortest of %.15g..%.17g that reads back exactly. */
	for (prec = 15; prec < 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(s, sizeof(s), "%.17g", d);
	buf_puts(b, s);
	if (strspn(s, "-0123456789") == strlen(s))
		buf_puts(b, ".0");
}

static int
text_value(struct buf *b, const struct af_value *v, int depth)
{
	const struct af_field *f;
	size_t i;
	bool at = false;
	int rc;

	if (depth > AF_VALUE_STORED_MAX_DEPTH)
		return AF_ELIMIT;
	switch (v->type) {
	case AF_NULL:
		buf_puts(b, "null");
		break;
	case AF_BOOL:
		buf_puts(b, v->u.b ? "true" : "false");
		break;
	case AF_INT:
		buf_printf(b, "%lld", (long long)v->u.i);
		break;
	case AF_DOUBLE:
		text_double(b, v->u.d);
		break;
	case AF_STRING:
		value_json_string(b, v->u.s.ptr, v->u.s.len);
		break;
	case AF_BYTES:
		buf_puts(b, "{\"@bytes\":");
		text_base64(b, (const uint8_t *)v->u.s.ptr, v->u.s.len);
		buf_putc(b, '}');
		break;
	case AF_OBJ:
		buf_puts(b, "{\"@obj\":");
		value_json_string(b, v->u.s.ptr, v->u.s.len);
		buf_putc(b, '}');
		break;
	case AF_VOW:
		buf_printf(b, "{\"@vow\":%llu}", (unsigned long long)v->u.id);
		break;
	case AF_RESOLVER:
		buf_printf(b, "{\"@resolver\":%llu}",
		    (unsigned long long)v->u.id);
		break;
	case AF_ERROR:
		buf_puts(b, "{\"@error\":{\"name\":");
		value_json_string(b, v->u.err.name.ptr, v->u.err.name.len);
		buf_puts(b, ",\"message\":");
		value_json_string(b, v->u.err.message.ptr,
		    v->u.err.message.len);
		buf_puts(b, "}}");
		break;
	case AF_LIST:
		buf_putc(b, '[');
		for (i = 0; i < v->u.list.len; i++) {
			if (i > 0)
				buf_putc(b, ',');
			if ((rc = text_value(b, v->u.list.items[i],
				 depth + 1)) != AF_OK)
				return rc;
		}
		buf_putc(b, ']');
		break;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len && !at; i++) {
			f = &v->u.rec.fields[i];
			at = f->key.len > 0 && f->key.ptr[0] == '@';
		}
		if (at)
			buf_puts(b, "{\"@record\":");
		buf_putc(b, '{');
		for (i = 0; i < v->u.rec.len; i++) {
			f = &v->u.rec.fields[i];
			if (i > 0)
				buf_putc(b, ',');
			value_json_string(b, f->key.ptr, f->key.len);
			buf_putc(b, ':');
			if ((rc = text_value(b, f->value, depth + 1)) != AF_OK)
				return rc;
		}
		buf_putc(b, '}');
		if (at)
			buf_putc(b, '}');
		break;
	default:
		buf_puts(b, "{\"@invalid\":null}");
		break;
	}
	return b->err;
}

int
value_to_text(struct buf *b, const struct af_value *v)
{
	if (v == NULL)
		return AF_EINVAL;
	return text_value(b, v, 1);
}

/* ---- Diff ---------------------------------------------------------------- */

/* Appends ".key", or ["key"] when key is not a C identifier. */
static void
path_key(struct buf *b, const struct af_str *k)
{
	size_t i;
	bool ident = k->len > 0 && !(k->ptr[0] >= '0' && k->ptr[0] <= '9');
	char c;

	for (i = 0; i < k->len && ident; i++) {
		c = k->ptr[i];
		ident = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_';
	}
	if (ident) {
		buf_putc(b, '.');
		buf_put(b, k->ptr, k->len);
	} else {
		buf_putc(b, '[');
		value_json_string(b, k->ptr, k->len);
		buf_putc(b, ']');
	}
}

/* Appends to b the path below x and y (which differ) to the first
 * difference. */
static void
diff_path(struct buf *b, const struct af_value *x, const struct af_value *y)
{
	const struct af_field *fx, *fy;
	size_t i, j, n;
	int c;

	for (;;) {
		if (x == NULL || y == NULL || x->type != y->type)
			return;
		switch (x->type) {
		case AF_LIST:
			n = x->u.list.len < y->u.list.len ? x->u.list.len :
							    y->u.list.len;
			for (i = 0; i < n; i++)
				if (!af_value_equal(x->u.list.items[i],
					y->u.list.items[i]))
					break;
			buf_printf(b, "[%zu]", i);
			if (i == n)
				return; /* in one list only */
			x = x->u.list.items[i];
			y = y->u.list.items[i];
			continue;
		case AF_RECORD:
			i = j = 0;
			while (i < x->u.rec.len && j < y->u.rec.len) {
				fx = &x->u.rec.fields[i];
				fy = &y->u.rec.fields[j];
				c = key_cmp(fx->key.ptr, fx->key.len,
				    fy->key.ptr, fy->key.len);
				if (c < 0) {
					path_key(b, &fx->key);
					return;
				}
				if (c > 0) {
					path_key(b, &fy->key);
					return;
				}
				if (!af_value_equal(fx->value, fy->value))
					break;
				i++;
				j++;
			}
			if (i < x->u.rec.len && j < y->u.rec.len) {
				path_key(b, &x->u.rec.fields[i].key);
				x = x->u.rec.fields[i].value;
				y = y->u.rec.fields[j].value;
				continue;
			}
			if (i < x->u.rec.len)
				path_key(b, &x->u.rec.fields[i].key);
			else if (j < y->u.rec.len)
				path_key(b, &y->u.rec.fields[j].key);
			return;
		case AF_ERROR:
			buf_puts(b, ".name");
			return;
		default:
			return;
		}
	}
}

int
value_diff(const struct af_value *x, const struct af_value *y, char *path,
    size_t pathlen)
{
	struct buf b = BUF_INITIALIZER;
	size_t n;

	if (af_value_equal(x, y)) {
		if (pathlen > 0)
			path[0] = '\0';
		return 0;
	}
	if (pathlen == 0)
		return 1;
	diff_path(&b, x, y);
	n = b.len < pathlen - 1 ? b.len : pathlen - 1;
	if (n > 0)
		memcpy(path, b.p, n);
	path[n] = '\0';
	buf_release(&b);
	return 1;
}
