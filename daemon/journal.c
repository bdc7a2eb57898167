/*
 * journal.c: JournalEntry encoding, parsing, rendering, loading and
 * deletion (see journal.h). Hand-written protobuf, checked against the
 * protoc-c code in tests/check_journal.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "tables.h"
#include "value.h"

int
journal_entry_encode(struct buf *b, const struct jentry *e)
{
	pb_put_uint64(b, 1, (uint64_t)e->kind);
	if (e->call_index)
		pb_put_uint64(b, 2, e->call_index);
	if (e->target.len)
		pb_put_bytes(b, 3, e->target.ptr, e->target.len);
	if (e->method.len)
		pb_put_bytes(b, 4, e->method.ptr, e->method.len);
	if (e->args.ptr)
		pb_put_bytes(b, 5, e->args.ptr, e->args.len);
	if (e->value.ptr)
		pb_put_bytes(b, 6, e->value.ptr, e->value.len);
	if (e->vow)
		pb_put_uint64(b, 7, e->vow);
	if (e->incarnation)
		pb_put_uint64(b, 8, e->incarnation);
	return b->err;
}

int
journal_entry_parse(const void *p, size_t n, struct jentry *e)
{
	struct pbr r;
	unsigned field, wt;
	uint64_t v;
	const uint8_t *bp;
	size_t bn;
	int rc;

	memset(e, 0, sizeof(*e));
	pbr_init(&r, p, n);
	while ((rc = pbr_next(&r, &field, &wt)) > 0) {
		switch (field) {
		case 1:
		case 2:
		case 7:
		case 8:
			if (wt != PB_VARINT || pbr_varint(&r, &v) != AF_OK)
				return AF_EDECODE;
			if (field == 1)
				e->kind = (enum jkind)v;
			else if (field == 2)
				e->call_index = v;
			else if (field == 7)
				e->vow = v;
			else
				e->incarnation = v;
			break;
		case 3:
		case 4:
		case 5:
		case 6:
			if (wt != PB_LEN || pbr_bytes(&r, &bp, &bn) != AF_OK)
				return AF_EDECODE;
			if (field == 3)
				e->target = (struct af_str){ (const char *)bp,
					bn };
			else if (field == 4)
				e->method = (struct af_str){ (const char *)bp,
					bn };
			else if (field == 5)
				e->args = (struct af_str){ (const char *)bp,
					bn };
			else
				e->value = (struct af_str){ (const char *)bp,
					bn };
			break;
		default:
			return AF_EDECODE;
		}
	}
	if (rc < 0 || e->kind < J_CHECK_CALL || e->kind > J_DO_CANCEL)
		return AF_EDECODE;
	return AF_OK;
}

const char *
journal_kind_name(enum jkind k)
{
	switch (k) {
	case J_CHECK_CALL:
		return "checkCall";
	case J_DO_RETURN:
		return "doReturn";
	case J_DO_THROW:
		return "doThrow";
	case J_CHECK_SEND:
		return "checkSend";
	case J_DO_FULFILL:
		return "doFulfill";
	case J_DO_REJECT:
		return "doReject";
	case J_PATCHED:
		return "patched";
	case J_DO_CANCEL:
		return "doCancel";
	case J_DO_CALL:
		return "doCall";
	case J_CHECK_RETURN:
		return "checkReturn";
	case J_CHECK_THROW:
		return "checkThrow";
	default:
		return "?";
	}
}

/* Render an encoded value, or "<undecodable>". */
static void
text_value(struct buf *b, struct af_str enc)
{
	struct af_arena *a;
	const struct af_value *v;

	if (enc.ptr == NULL) {
		buf_puts(b, "null");
		return;
	}
	if ((a = arena_new(1024)) == NULL)
		return;
	if (value_decode(a, enc.ptr, enc.len, &v) == AF_OK)
		value_to_text(b, v);
	else
		buf_puts(b, "<undecodable>");
	arena_free(a);
}

void
journal_entry_text(struct buf *b, const struct jentry *e)
{
	char num[32];

	buf_puts(b, journal_kind_name(e->kind));
	buf_puts(b, "(");
	switch (e->kind) {
	case J_CHECK_CALL:
	case J_CHECK_SEND:
		buf_put(b, e->target.ptr, e->target.len);
		buf_puts(b, ".");
		buf_put(b, e->method.ptr, e->method.len);
		buf_puts(b, ", ");
		text_value(b, e->args);
		snprintf(num, sizeof(num), ", #%llu",
		    (unsigned long long)e->call_index);
		buf_puts(b, num);
		break;
	case J_DO_RETURN:
	case J_DO_THROW:
		snprintf(num, sizeof(num), "#%llu, ",
		    (unsigned long long)e->call_index);
		buf_puts(b, num);
		text_value(b, e->value);
		break;
	case J_DO_FULFILL:
	case J_DO_REJECT:
		snprintf(num, sizeof(num), "vow %llu, ",
		    (unsigned long long)e->vow);
		buf_puts(b, num);
		text_value(b, e->value);
		break;
	case J_PATCHED:
		buf_put(b, e->target.ptr, e->target.len);
		break;
	case J_DO_CANCEL:
		text_value(b, e->value);
		break;
	case J_DO_CALL:
		buf_put(b, e->target.ptr, e->target.len);
		buf_puts(b, ".");
		buf_put(b, e->method.ptr, e->method.len);
		buf_puts(b, ", ");
		text_value(b, e->args);
		snprintf(num, sizeof(num), ", vow %llu",
		    (unsigned long long)e->vow);
		buf_puts(b, num);
		break;
	case J_CHECK_RETURN:
	case J_CHECK_THROW:
		snprintf(num, sizeof(num), "vow %llu, ",
		    (unsigned long long)e->vow);
		buf_puts(b, num);
		text_value(b, e->value);
		break;
	default:
		break;
	}
	buf_puts(b, ")");
}

void
journal_key(uint8_t key[16], uint64_t act, uint64_t index)
{
	store_be64(key, act);
	store_be64(key + 8, index);
}

int
journal_load(struct store *s, uint64_t act, uint64_t len, struct jlog *out)
{
	return journal_load_range(s, act, 0, len, out);
}

int
journal_load_range(struct store *s, uint64_t act, uint64_t from, uint64_t to,
    struct jlog *out)
{
	uint64_t len = to > from ? to - from : 0;
	struct store_txn *t;
	struct store_cursor *c = NULL;
	struct store_val k, v;
	struct buf data;
	uint8_t key[16];
	uint64_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return AF_OK;
	if ((out->off = malloc((len + 1) * sizeof(size_t))) == NULL)
		return AF_ENOMEM;
	buf_init(&data);
	if ((rc = store_begin(s, true, &t)) != AF_OK)
		goto fail;
	if ((rc = store_cursor_open(t, DB_JOURNAL, &c)) != AF_OK)
		goto abort;
	journal_key(key, act, from);
	k = (struct store_val){ key, sizeof(key) };
	rc = store_cursor_get(c, STORE_SET_RANGE, &k, &v);
	for (i = 0; i < len; i++) {
		if (rc != AF_OK || k.n != 16 || store_rd_be64(k.p) != act ||
		    store_rd_be64((const uint8_t *)k.p + 8) != from + i) {
			snprintf(s->errmsg, sizeof(s->errmsg),
			    "journal of activation %llu: entry %llu missing",
			    (unsigned long long)act,
			    (unsigned long long)(from + i));
			rc = rc == AF_ESTORE ? rc : AF_EDECODE;
			goto abort;
		}
		out->off[i] = data.len;
		buf_put(&data, v.p, v.n);
		if (i + 1 < len) /* not past the last: the next one's */
			rc = store_cursor_get(c, STORE_NEXT, &k, &v);
	}
	out->off[len] = data.len;
	store_cursor_close(c);
	store_abort(t);
	if (data.err) {
		rc = data.err;
		goto fail;
	}
	out->data = data.p;
	out->n = len;
	return AF_OK;
abort:
	store_cursor_close(c);
	store_abort(t);
fail:
	buf_release(&data);
	free(out->off);
	memset(out, 0, sizeof(*out));
	return rc;
}

void
jlog_release(struct jlog *l)
{
	free(l->data);
	free(l->off);
	memset(l, 0, sizeof(*l));
}

int
journal_delete(struct store_txn *t, uint64_t act, uint64_t *from, uint64_t to,
    size_t max)
{
	uint8_t key[16];
	int rc;

	while (*from < to && max-- > 0) {
		journal_key(key, act, *from);
		rc = store_del(t, DB_JOURNAL, (struct store_val){ key, 16 });
		if (rc != AF_OK && rc != AF_ENOTFOUND)
			return rc;
		(*from)++;
	}
	return AF_OK;
}

int
journal_format_check(struct store_txn *t, char *err, size_t errlen)
{
	uint64_t format;
	int rc;

	rc = meta_get_u64(t, "format", &format);
	/* A new store, or one an older daemon wrote: this daemon reads it,
	 * but what it writes from now on an older one could not, so the
	 * stamp goes up and an older daemon refuses the store, saying why,
	 * instead of skipping rows it cannot read. */
	if (rc == AF_ENOTFOUND || (rc == AF_OK && format < JOURNAL_FORMAT))
		rc = meta_put_u64(t, "format", format = JOURNAL_FORMAT);
	if (rc == AF_OK && format > JOURNAL_FORMAT) {
		snprintf(err, errlen,
		    "the store was written with journal "
		    "format %llu; this asyncflowd reads format %d and older",
		    (unsigned long long)format, JOURNAL_FORMAT);
		rc = AF_EVERSION;
	}
	return rc;
}

int
journal_put(struct store_txn *t, uint64_t act, uint64_t index, const void *p,
    size_t n)
{
	uint8_t key[16];

	journal_key(key, act, index);
	return store_put(t, DB_JOURNAL, (struct store_val){ key, 16 },
	    (struct store_val){ p, n }, false);
}
