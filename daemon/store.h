/*
 * store.h: durable key-value storage behind an operations table.
 *
 * The store is one LMDB environment per data directory with a fixed set of
 * named databases. store_lmdb.c is the only file in the project that
 * includes <lmdb.h>; everything else reaches storage through struct
 * store_ops, which is also the seam where tests inject faults (wrap the
 * table, fail the Nth commit with AF_EFULL or AF_ESTORE).
 *
 * It knows nothing of journals, vows or activations: keys and values are
 * bytes. Record layouts live in journal.c and tables.c.
 *
 * Transactions: one write transaction at a time, and the engine never holds
 * any transaction while guest code runs (DESIGN.md §5). Data returned by
 * get/cursor calls points into the map and is valid only until the
 * transaction ends: copy it before anything else happens.
 *
 * Errors: AF_OK, AF_ENOTFOUND (an ordinary answer), AF_EFULL (map full),
 * AF_ESTORE (anything else; store_errmsg() says what), AF_ENOMEM.
 */
#ifndef AF_STORE_H
#define AF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_db {
	DB_META,        /* "format", counters, incarnation */
	DB_ACTS,        /* act id (BE64) -> ActivationRecord */
	DB_JOURNAL,     /* act id ‖ index (BE64 ‖ BE64) -> JournalEntry */
	DB_VOWS,        /* vow id (BE64) -> VowRecord */
	DB_WATCHERS,    /* vow id ‖ kind ‖ id -> empty */
	DB_OUTBOX,      /* invocations (eventual sends) */
	DB_TIMERS,      /* due time ‖ vow id -> empty */
	DB_IDEM,        /* idempotency key -> activation ‖ flow ‖ args */
	DB_HOLDS,       /* act id ‖ vow id -> empty: the WATCH_ACT rows by
			 * activation (what `show` lists as waiting_on) */
	DB__COUNT
};

enum store_durability {
	STORE_FULL,     /* fsync on every commit */
	STORE_BATCH,    /* no fsync on commit; at most every batch_ms */
	STORE_NONE,     /* never fsync (the OS writes back when it likes) */
};

struct store_val {
	const void *p;
	size_t n;
};

enum store_cursor_op {
	STORE_FIRST,
	STORE_SET_RANGE,    /* first key >= the given key */
	STORE_NEXT,
};

struct store;

/* Every backend's transaction and cursor begin with these (the backend
 * embeds them as first member), so the wrappers below find the table. */
struct store_txn {
	struct store *store;
	bool rdonly;
};

struct store_cursor {
	struct store_txn *txn;
};

struct store_ops {
	/* rdonly: a read snapshot. Only one write transaction at a time. */
	int (*txn_begin)(struct store *s, bool rdonly, struct store_txn **out);
	/* Commit and end; on failure the transaction is aborted. */
	int (*txn_commit)(struct store_txn *t);
	void (*txn_abort)(struct store_txn *t);
	int (*get)(struct store_txn *t, enum store_db db, struct store_val key,
	    struct store_val *val);
	/* append: the key sorts after every key in db (a hint, checked). */
	int (*put)(struct store_txn *t, enum store_db db, struct store_val key,
	    struct store_val val, bool append);
	/* AF_ENOTFOUND if absent. */
	int (*del)(struct store_txn *t, enum store_db db, struct store_val key);
	int (*cursor_open)(struct store_txn *t, enum store_db db,
	    struct store_cursor **out);
	/* key is input for STORE_SET_RANGE and output always. AF_ENOTFOUND at
	 * the end. */
	int (*cursor_get)(struct store_cursor *c, enum store_cursor_op op,
	    struct store_val *key, struct store_val *val);
	void (*cursor_close)(struct store_cursor *c);
	/* Flush to disk now (batch mode's timer; no-op under full). */
	int (*sync)(struct store *s);
	void (*close)(struct store *s);
};

/* The handle. `ops` may be replaced by a wrapping table (fault injection);
 * `impl` belongs to the implementation. */
struct store {
	const struct store_ops *ops;
	void *impl;
	char errmsg[256];           /* last failure, for diagnostics */
	enum store_durability durability;
	unsigned txns_open;         /* kept by the wrappers below */
};

struct store_opts {
	size_t map_size;            /* bytes; 0 = default (8 GiB) */
	enum store_durability durability;
	unsigned batch_ms;          /* STORE_BATCH sync interval; 0 = 5 */
};

/*
 * Open (creating if needed) the environment in directory `dir`, which must
 * exist. Fails with AF_ESTATE if another process holds the directory's lock
 * file (one daemon per data directory), AF_ESTORE otherwise; *err (may be
 * NULL) gets a static-buffer message. The caller closes with store_close.
 */
int store_open_lmdb(const char *dir, const struct store_opts *opts,
    struct store **out, char *err, size_t errlen);
/* Close the environment and free the handle. NULL is a no-op. */
void store_close(struct store *s);
const char *store_errmsg(const struct store *s);
/* The opts string for a durability: "full", "batch", "none" or NULL. */
int store_durability_parse(const char *s, enum store_durability *out);
const char *store_durability_name(enum store_durability d);

/*
 * Walk db in key order from the first key >= from (from NULL: the first
 * key) in one read transaction, calling cb for each row; key and val are
 * valid only during the call. cb returns 0 to go on, 1 to stop, or a
 * negative error, which store_scan returns. AF_OK at the end.
 */
typedef int store_scan_fn(void *ctx, struct store_val key,
    struct store_val val);
int store_scan(struct store *s, enum store_db db, const void *from, size_t n,
    store_scan_fn *cb, void *ctx);

/*
 * The wrappers: every call into a backend goes through one of these, never
 * through s->ops directly, so that they are the one place for checks and
 * fault injection (SQLite's sqlite3Os* pattern).
 */
static inline int
store_begin(struct store *s, bool rdonly, struct store_txn **t)
{
	int rc = s->ops->txn_begin(s, rdonly, t);

	if (rc == 0)
		s->txns_open++;
	return rc;
}

/* Commit and end t (on failure it is aborted): it is gone either way. */
static inline int
store_commit(struct store_txn *t)
{
	struct store *s = t->store;

	s->txns_open--;
	return s->ops->txn_commit(t);
}

static inline void
store_abort(struct store_txn *t)
{
	if (t != NULL) {
		t->store->txns_open--;
		t->store->ops->txn_abort(t);
	}
}

/* Whether any transaction is open: never while guest code runs. */
static inline bool
store_txn_open(const struct store *s)
{
	return s->txns_open != 0;
}

static inline int
store_get(struct store_txn *t, enum store_db db, struct store_val key,
    struct store_val *val)
{
	return t->store->ops->get(t, db, key, val);
}

static inline int
store_put(struct store_txn *t, enum store_db db, struct store_val key,
    struct store_val val, bool append)
{
	return t->store->ops->put(t, db, key, val, append);
}

static inline int
store_del(struct store_txn *t, enum store_db db, struct store_val key)
{
	return t->store->ops->del(t, db, key);
}

static inline int
store_cursor_open(struct store_txn *t, enum store_db db,
    struct store_cursor **c)
{
	return t->store->ops->cursor_open(t, db, c);
}

static inline int
store_cursor_get(struct store_cursor *c, enum store_cursor_op op,
    struct store_val *key, struct store_val *val)
{
	return c->txn->store->ops->cursor_get(c, op, key, val);
}

static inline void
store_cursor_close(struct store_cursor *c)
{
	if (c != NULL)
		c->txn->store->ops->cursor_close(c);
}

static inline int
store_sync(struct store *s)
{
	return s->ops->sync(s);
}

/* Big-endian key helpers: keys sort numerically. */
static inline void
store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t
store_rd_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

#endif /* AF_STORE_H */
