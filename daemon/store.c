/*
 * store.c: what every backend shares -- closing, the error message, the
 * durability names -- and helpers written once on top of the wrappers in
 * store.h (so they see the fault hook too). No LMDB here: that is
 * store_lmdb.c, and a second backend is a file beside it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "asyncflow/errors.h"
#include "store.h"

void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

const char *
store_errmsg(const struct store *s)
{
	return s->errmsg;
}

int
store_refuse(struct store *s, int code, const char *why)
{
	snprintf(s->errmsg, sizeof(s->errmsg), "%s", why);
	return code;
}

void
store_set_broken(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->broken, sizeof(s->broken), fmt, ap);
	va_end(ap);
	if (s->broken[0] == '\0') /* an empty reason still breaks it */
		snprintf(s->broken, sizeof(s->broken), "unknown failure");
}

int
store_reopen(struct store *s)
{
	int rc;

	if (store_txn_open(s))
		return store_refuse(s, AF_ESTATE,
		    "cannot reopen the store: a transaction is open");
	if ((rc = store_fault(s, STORE_CALL_REOPEN)) != AF_OK)
		return rc;
	if (s->ops->version < 2 || s->ops->reopen == NULL)
		return store_refuse(s, AF_ESTORE,
		    "this store backend cannot be reopened");
	if ((rc = s->ops->reopen(s)) != AF_OK) {
		/* Half-closed is broken, whatever the backend said. */
		if (s->broken[0] == '\0')
			store_set_broken(s, "reopening failed: %s", s->errmsg);
		return rc;
	}
	s->broken[0] = '\0';
	return AF_OK;
}

int
store_durability_parse(const char *s, enum store_durability *out)
{
	if (strcmp(s, "full") == 0)
		*out = STORE_FULL;
	else if (strcmp(s, "batch") == 0)
		*out = STORE_BATCH;
	else if (strcmp(s, "none") == 0)
		*out = STORE_NONE;
	else
		return AF_EINVAL;
	return AF_OK;
}

const char *
store_durability_name(enum store_durability d)
{
	switch (d) {
	case STORE_FULL:
		return "full";
	case STORE_BATCH:
		return "batch";
	default:
		return "none";
	}
}

const char *
store_db_name(enum store_db db)
{
	static const char *const names[DB__COUNT] = {
		[DB_META] = "meta",
		[DB_ACTS] = "activations",
		[DB_JOURNAL] = "journal",
		[DB_VOWS] = "vows",
		[DB_WATCHERS] = "watchers",
		[DB_OUTBOX] = "outbox",
		[DB_TIMERS] = "timers",
		[DB_IDEM] = "idempotency",
		[DB_HOLDS] = "holds",
		[DB_OWNED] = "owned",
		[DB_FINISHED] = "finished",
		[DB_CHILDREN] = "children",
	};

	return (unsigned)db < DB__COUNT && names[db] != NULL ? names[db] : "?";
}

int
store_scan(struct store *s, enum store_db db, const void *from, size_t n,
    store_scan_fn *cb, void *ctx)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k = { from, n }, v;
	int rc;

	if ((rc = store_begin(s, true, &t)) != AF_OK)
		return rc;
	if ((rc = store_cursor_open(t, db, &c)) != AF_OK) {
		store_abort(t);
		return rc;
	}
	for (rc = store_cursor_get(c, from ? STORE_SET_RANGE : STORE_FIRST, &k,
		 &v);
	     rc == AF_OK; rc = store_cursor_get(c, STORE_NEXT, &k, &v)) {
		if ((rc = cb(ctx, k, v)) != 0)
			break;
	}
	store_cursor_close(c);
	store_abort(t);
	if (rc == AF_ENOTFOUND || rc > 0)
		return AF_OK; /* the end, or the callback had enough */
	return rc;
}
