/*
 * store.h: durable key-value storage behind an operations table, and the
 * contract every backend keeps.
 *
 * Keys and values are bytes in a fixed set of named databases (enum
 * store_db); record layouts live in journal.c and tables.c, and the store
 * knows nothing of journals, vows or activations. store_lmdb.c (the only
 * file that includes <lmdb.h>) is the one backend today; store.c holds what
 * is common to all. Callers never call s->ops directly: they call the
 * wrappers below (store_begin, store_get, ...), which keep the transaction
 * rules, count open transactions and are the one place where tests inject
 * faults (SQLite's sqlite3Os* pattern; see struct store's fault hook).
 *
 * ---- The contract (what a caller may rely on, what a backend must give)
 *
 * Transactions. At most ONE write transaction and at most ONE read
 * transaction are open on a store at any time, and they may be open
 * together; the wrappers refuse a second of either kind with AF_ESTATE
 * (so no backend needs to support more, and no caller can come to rely on
 * nesting). A read transaction is a consistent snapshot as of its begin:
 * it does not see a write transaction that commits while it is open. A
 * write transaction sees its own writes. No transaction is open while
 * guest code runs (DESIGN.md §5; the engine asserts store_txn_open() is
 * false around every guest call), so a transaction never spans a yield.
 *
 * Returned bytes. Keys and values that get and cursor_get return are
 * BORROWED: they belong to the store, the caller must not modify or free
 * them, and they stay valid until the next put or del in the same
 * transaction or the end of the transaction (commit or abort), whichever
 * comes first -- across any number of other gets, cursor moves and cursor
 * closes in between. Copy what must live longer. (LMDB hands out pointers
 * into its map; a backend that copies, a networked one for instance, keeps
 * every copy it returned in a per-transaction buffer freed at the end.)
 * Bytes the caller passes in (keys, values, the SET_RANGE key) are the
 * caller's again as soon as the call returns: the backend copies what it
 * keeps.
 *
 * Errors. Every call returns AF_OK or: AF_ENOTFOUND (an ordinary answer:
 * no such key, or the end of a cursor), AF_EFULL (out of space: the
 * transaction cannot grow), AF_ENOMEM, AF_ESTATE (the transaction rules
 * above; also a backend that has lost ownership, see below), AF_ESTORE
 * (anything else). On any error but AF_ENOTFOUND, s->errmsg says what
 * (store_errmsg). AF_EFULL covers both a full map and a full disk
 * (ENOSPC, EDQUOT), and the message says which ("disk full: ..."); an I/O
 * error is AF_ESTORE. An error from put, or from del other than
 * AF_ENOTFOUND, leaves the transaction open, but it must then be aborted,
 * never committed; an error from commit has already ended the transaction.
 * Per call, below.
 *
 * Broken. Some failures leave a backend unable to go on in this process
 * (LMDB: a failed write of a meta page puts the environment in MDB_PANIC,
 * and every later transaction fails; a failed sync of commits made without
 * one, under batch durability, may have lost them, and a later sync cannot
 * be trusted to write them). The backend then marks the store
 * broken (store_broken says why), every begin is refused with AF_ESTORE,
 * and the caller, once its transactions are ended, calls store_reopen,
 * which closes and reopens the backend on the same files and makes what
 * they hold durable before it returns AF_OK: what is visible afterwards
 * is exactly what a restart of the process would see, and it is on disk.
 * The engine does this in its recovery (DESIGN.md §5).
 *
 * ---- What a second backend must keep in mind (PostgreSQL, FoundationDB)
 *
 * - Reads are not cheap. The engine today reads synchronously on the event
 *   loop thread (a vow cache miss, an activation load, the scans at open
 *   and after a failed commit). That is fine for a local mmap; a backend
 *   that pays a network round trip per get blocks the whole daemon, and
 *   needs the engine to gather a pass's reads into one batch first (a
 *   per-pass read set) before it is usable.
 * - A pass's writes may have to be split. The engine writes one pass as one
 *   transaction, and a pass is bounded only loosely (16,384 journal entries
 *   plus every start and wake taken, plus journal GC deletes). A backend
 *   with a transaction limit (bytes or seconds) reports AF_EFULL when it is
 *   reached; the engine then fails the pass and replays, which will not
 *   fit either. Such a backend needs the engine to cut passes to its limit
 *   first: no backend may split one transaction into several commits behind
 *   the caller's back, since a commit is the unit of atomicity.
 * - Ownership needs a fencing token. LMDB's backend excludes a second
 *   daemon with a lock file, and the engine keeps counters (next activation
 *   and vow ids, the incarnation) and a write-back vow cache in memory on
 *   the strength of that. A backend that several machines can reach cannot
 *   lock; it must fence instead, with the incarnation (meta "incarnation",
 *   which engine_open bumps in its first commit) as the token: that first
 *   commit is a compare-and-set from the value it read, and every later
 *   write transaction must, in the same transaction, check that meta
 *   "incarnation" still holds the value this process wrote, and fail with
 *   AF_ESTATE if not (another daemon has taken over; this one must stop,
 *   not retry).
 * - The append hint is for LMDB; durability (sync, enum store_durability)
 *   maps onto a backend's own commit setting or does nothing.
 * - A backend sets ops->version to the STORE_OPS_VERSION it was written
 *   against; methods added later go at the end of struct store_ops, and
 *   the wrappers only call them when ops->version says they exist.
 *
 * Not here: record layouts, caching, write sets, the journal format
 * (journal.h).
 */
#ifndef AF_STORE_H
#define AF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "asyncflow/errors.h"

enum store_db {
	DB_META,     /* "format", counters, incarnation */
	DB_ACTS,     /* act id (BE64) -> ActivationRecord */
	DB_JOURNAL,  /* act id ‖ index (BE64 ‖ BE64) -> JournalEntry */
	DB_VOWS,     /* vow id (BE64) -> VowRecord */
	DB_WATCHERS, /* vow id ‖ kind ‖ id -> empty */
	DB_OUTBOX,   /* invocations (eventual sends) */
	DB_TIMERS,   /* due time ‖ vow id -> empty */
	DB_IDEM,     /* idempotency key -> activation ‖ flow ‖ args */
	DB_HOLDS,    /* act id ‖ vow id -> empty: the WATCH_ACT rows by
			 * activation (what `show` lists as waiting_on) */
	DB_OWNED,    /* act id ‖ tag ‖ what -> empty: rows an activation
		      * made that are keyed otherwise (its vows, its
		      * idempotency key), found again when it is pruned */
	DB_FINISHED, /* finished ms ‖ act id -> empty: Done activations
		      * not yet pruned, oldest first (retention) */
	DB_CHILDREN, /* parent id ‖ child id -> empty: af_start_child's
		      * children by parent (children.h) */
	DB__COUNT
};

enum store_durability {
	STORE_FULL,  /* fsync on every commit */
	STORE_BATCH, /* no fsync on commit; at most every batch_ms */
	STORE_NONE,  /* never fsync (the OS writes back when it likes) */
};

struct store_val {
	const void *p;
	size_t n;
};

enum store_cursor_op {
	STORE_FIRST,
	STORE_SET_RANGE, /* first key >= the given key */
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

/* The version of struct store_ops this header describes (2: reopen;
 * 3: usage; 4: db_stat). */
#define STORE_OPS_VERSION 4

/* What one table holds (store_db_stat): rows, and the pages they take. */
struct store_db_stat {
	uint64_t entries;
	uint64_t pages; /* branch, leaf and overflow pages */
};

/*
 * A backend's methods. Callers use the wrappers below, which have already
 * checked the transaction rules (a method is never asked for a second read
 * or write transaction) and run the fault hook; what each method must do
 * is written at its wrapper.
 */
struct store_ops {
	unsigned version; /* STORE_OPS_VERSION when written */
	int (*txn_begin)(struct store *s, bool rdonly, struct store_txn **out);
	int (*txn_commit)(struct store_txn *t);
	void (*txn_abort)(struct store_txn *t);
	int (*get)(struct store_txn *t, enum store_db db, struct store_val key,
	    struct store_val *val);
	int (*put)(struct store_txn *t, enum store_db db, struct store_val key,
	    struct store_val val, bool append);
	int (*del)(struct store_txn *t, enum store_db db, struct store_val key);
	int (*cursor_open)(struct store_txn *t, enum store_db db,
	    struct store_cursor **out);
	int (*cursor_get)(struct store_cursor *c, enum store_cursor_op op,
	    struct store_val *key, struct store_val *val);
	void (*cursor_close)(struct store_cursor *c);
	int (*sync)(struct store *s);
	void (*close)(struct store *s);
	/* Version 2. */
	int (*reopen)(struct store *s);
	/* Version 3. */
	int (*usage)(struct store *s, uint64_t *used, uint64_t *size);
	/* Version 4. */
	int (*db_stat)(struct store_txn *t, enum store_db db,
	    struct store_db_stat *out);
};

/* Which wrapper is calling: what the fault hook is asked about. */
enum store_call {
	STORE_CALL_BEGIN_READ,
	STORE_CALL_BEGIN_WRITE,
	STORE_CALL_COMMIT, /* of either kind of transaction */
	STORE_CALL_GET,
	STORE_CALL_PUT,
	STORE_CALL_DEL,
	STORE_CALL_CURSOR_OPEN,
	STORE_CALL_CURSOR_GET,
	STORE_CALL_SYNC,
	STORE_CALL_REOPEN,
	STORE_CALL__COUNT
};

/*
 * The fault hook (tests only; tests/faultstore.[ch] builds on it): called
 * by every wrapper that can fail, before the backend. AF_OK lets the call
 * through; any other code is what the call returns instead, with the same
 * effects as a real failure of that call (a failed commit has aborted the
 * transaction; a failed begin, get or cursor_open sets its output to
 * NULL). Abort, cursor_close and close cannot fail and are not asked.
 */
typedef int store_fault_fn(void *ctx, struct store *s, enum store_call call);

/* The handle. `impl` belongs to the backend; the rest to the wrappers. */
struct store {
	const struct store_ops *ops;
	void *impl;
	char errmsg[256]; /* last failure, for diagnostics */
	enum store_durability durability;
	unsigned txns_open; /* read + write, kept by the wrappers */
	bool read_open, write_open;
	store_fault_fn *fault; /* NULL: none */
	void *fault_ctx;
	/* Non-empty: the backend is broken until store_reopen (see there):
	 * why, for the log and for stats. Set with store_set_broken. */
	char broken[256];
};

struct store_opts {
	size_t map_size; /* bytes; 0 = default (8 GiB) */
	enum store_durability durability;
	unsigned batch_ms; /* STORE_BATCH sync interval; 0 = 5 */
};

/*
 * Open (creating if needed) the LMDB environment in directory `dir`,
 * which must exist. Fails with AF_ESTATE if another process holds the
 * directory's lock file (one daemon per data directory), AF_ESTORE
 * otherwise; *err (may be NULL) gets a static-buffer message. The caller
 * closes with store_close.
 */
int store_open_lmdb(const char *dir, const struct store_opts *opts,
    struct store **out, char *err, size_t errlen);

/*
 * Open the LMDB environment in `dir` read-only, as a second process next to
 * the daemon that owns it (no flock: LMDB's own lock table lets a reader
 * share the files with the writer), and take ONE read snapshot at once:
 * every read transaction begun on this handle sees the store as it was
 * then, whatever the owner commits meanwhile (the upgrade check reads
 * every unfinished activation from one moment). A write transaction is
 * refused with AF_ESTATE. Hold it briefly: while it is open, LMDB cannot
 * reuse the pages the owner frees. Errors as store_open_lmdb (a directory
 * with no store: AF_ESTORE).
 */
int store_open_lmdb_snapshot(const char *dir, const struct store_opts *opts,
    struct store **out, char *err, size_t errlen);

/* Close the store and free the handle; a transaction left open is aborted
 * (never committed). NULL is a no-op. */
void store_close(struct store *s);
/* What the last failure was (empty if none yet). Valid until the next
 * call on s. */
const char *store_errmsg(const struct store *s);
/* The opts string for a durability: "full", "batch", "none"; anything else
 * is AF_EINVAL and leaves *out alone. */
int store_durability_parse(const char *s, enum store_durability *out);
const char *store_durability_name(enum store_durability d);
/* A table's name ("activations", ...): a backend's name for it on disk,
 * and what tools print. Static; "?" for a value that is no table. */
const char *store_db_name(enum store_db db);

/*
 * Walk db in key order from the first key >= from (from NULL: the first
 * key) in one read transaction, calling cb for each row; key and val are
 * valid only during the call. cb returns 0 to go on, 1 to stop, or a
 * negative error, which store_scan returns. AF_OK at the end. Being one
 * read transaction, it may not be called while one is open.
 */
typedef int
store_scan_fn(void *ctx, struct store_val key, struct store_val val);
int store_scan(struct store *s, enum store_db db, const void *from, size_t n,
    store_scan_fn *cb, void *ctx);

/* ---- The wrappers: the only way into a backend --------------------------- */

/* Set s->errmsg for a call the wrappers refuse; returns code. */
int store_refuse(struct store *s, int code, const char *why);

/* Mark the store broken (see the contract): backends, and tests that
 * simulate a backend failure (tests/faultstore.c). printf-like. */
void store_set_broken(struct store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* NULL if the store works, else why it must be reopened (valid until the
 * next call on s). */
static inline const char *
store_broken(const struct store *s)
{
	return s->broken[0] != '\0' ? s->broken : NULL;
}

/*
 * Close and reopen the backend on the same files (the lock stays held),
 * and make what they hold durable (not under STORE_NONE). No transaction
 * may be open (AF_ESTATE). AF_OK: the store is no longer broken, and a
 * transaction begun now sees what is committed and on disk. On failure
 * (AF_ESTORE, AF_EFULL, AF_ENOMEM) the store is broken still, with the
 * reason in store_broken and store_errmsg; calling it again retries.
 * Allowed on a store that is not broken. A backend without the method
 * (ops->version < 2) answers AF_ESTORE.
 */
int store_reopen(struct store *s);

static inline int
store_fault(struct store *s, enum store_call call)
{
	return s->fault == NULL ? AF_OK : s->fault(s->fault_ctx, s, call);
}

/*
 * Begin a transaction: rdonly, a read snapshot; else the write
 * transaction. *t is NULL on failure. AF_ESTATE if one of that kind is
 * open already (see the contract); AF_ENOMEM, AF_ESTORE.
 */
static inline int
store_begin(struct store *s, bool rdonly, struct store_txn **t)
{
	int rc;

	*t = NULL;
	if (s->broken[0] != '\0') {
		snprintf(s->errmsg, sizeof(s->errmsg),
		    "store must be reopened: %.200s", s->broken);
		return AF_ESTORE;
	}
	if (rdonly ? s->read_open : s->write_open)
		return store_refuse(s, AF_ESTATE,
		    rdonly ? "read transaction already open" :
			     "write transaction already open");
	if ((rc = store_fault(s,
		 rdonly ? STORE_CALL_BEGIN_READ : STORE_CALL_BEGIN_WRITE)) !=
	    AF_OK)
		return rc;
	if ((rc = s->ops->txn_begin(s, rdonly, t)) != AF_OK)
		return rc;
	s->txns_open++;
	if (rdonly)
		s->read_open = true;
	else
		s->write_open = true;
	return AF_OK;
}

static inline void
store_txn_ended(struct store_txn *t)
{
	struct store *s = t->store;

	s->txns_open--;
	if (t->rdonly)
		s->read_open = false;
	else
		s->write_open = false;
}

/*
 * Commit and end t: it is gone whatever the result. On failure nothing of
 * it is stored (the backend has aborted it): AF_EFULL, AF_ESTORE, AF_ESTATE
 * (ownership lost). Committing a read transaction just ends it. Once a
 * write commit returns AF_OK it is durable as the store's durability says,
 * and every later transaction sees it.
 */
static inline int
store_commit(struct store_txn *t)
{
	struct store *s = t->store;
	int rc;

	store_txn_ended(t);
	if ((rc = store_fault(s, STORE_CALL_COMMIT)) != AF_OK) {
		s->ops->txn_abort(t);
		return rc;
	}
	return s->ops->txn_commit(t);
}

/* End t and drop its writes. Cannot fail. NULL is a no-op. */
static inline void
store_abort(struct store_txn *t)
{
	if (t != NULL) {
		store_txn_ended(t);
		t->store->ops->txn_abort(t);
	}
}

/* Whether any transaction is open: never while guest code runs. */
static inline bool
store_txn_open(const struct store *s)
{
	return s->txns_open != 0;
}

/*
 * The value of key in db, borrowed (see the contract). AF_ENOTFOUND if
 * absent, with *val = { NULL, 0 } then and on any error.
 */
static inline int
store_get(struct store_txn *t, enum store_db db, struct store_val key,
    struct store_val *val)
{
	int rc;

	if ((rc = store_fault(t->store, STORE_CALL_GET)) != AF_OK) {
		val->p = NULL;
		val->n = 0;
		return rc;
	}
	return t->store->ops->get(t, db, key, val);
}

/*
 * Store val under key in db (write transaction), replacing any value; an
 * empty value is a value. append: the caller believes key sorts after
 * every key in db -- a hint for speed only: a wrong hint must still store
 * the row as a plain put would, and a backend may ignore it. AF_EFULL when
 * the transaction cannot grow.
 */
static inline int
store_put(struct store_txn *t, enum store_db db, struct store_val key,
    struct store_val val, bool append)
{
	int rc;

	if ((rc = store_fault(t->store, STORE_CALL_PUT)) != AF_OK)
		return rc;
	return t->store->ops->put(t, db, key, val, append);
}

/* Delete key from db (write transaction). AF_ENOTFOUND if absent. */
static inline int
store_del(struct store_txn *t, enum store_db db, struct store_val key)
{
	int rc;

	if ((rc = store_fault(t->store, STORE_CALL_DEL)) != AF_OK)
		return rc;
	return t->store->ops->del(t, db, key);
}

/* A cursor over db in t, before the first key; close it before t ends.
 * *c is NULL on failure. */
static inline int
store_cursor_open(struct store_txn *t, enum store_db db,
    struct store_cursor **c)
{
	int rc;

	*c = NULL;
	if ((rc = store_fault(t->store, STORE_CALL_CURSOR_OPEN)) != AF_OK)
		return rc;
	return t->store->ops->cursor_open(t, db, c);
}

/*
 * Move the cursor and return the row there, both borrowed. STORE_FIRST:
 * the first key; STORE_SET_RANGE: the first key >= *key (input); STORE_NEXT:
 * the key after the current one. Keys sort as unsigned bytes, a prefix
 * before its extensions (hence store_be64). AF_ENOTFOUND past the end,
 * and again on every NEXT after it.
 */
static inline int
store_cursor_get(struct store_cursor *c, enum store_cursor_op op,
    struct store_val *key, struct store_val *val)
{
	int rc;

	if ((rc = store_fault(c->txn->store, STORE_CALL_CURSOR_GET)) != AF_OK)
		return rc;
	return c->txn->store->ops->cursor_get(c, op, key, val);
}

/* Cannot fail. NULL is a no-op. */
static inline void
store_cursor_close(struct store_cursor *c)
{
	if (c != NULL)
		c->txn->store->ops->cursor_close(c);
}

/*
 * Make every commit so far durable now (batch durability's timer; AF_OK at
 * once under STORE_FULL). Not a transaction call: may run while one is
 * open. An error says the last commits may not survive a power loss, and
 * the store is broken from then on (see "Broken" above): the caller runs
 * the recovery that reopens it.
 */
static inline int
store_sync(struct store *s)
{
	int rc;

	if ((rc = store_fault(s, STORE_CALL_SYNC)) != AF_OK)
		return rc;
	return s->ops->sync(s);
}

/*
 * How full the store is: *used bytes of its *size (for LMDB, the pages in
 * use and the map size: a write that needs more than size - used fails
 * with AF_EFULL). Not a transaction call. AF_ESTATE from a backend older
 * than the method (both 0 then).
 */
static inline int
store_usage(struct store *s, uint64_t *used, uint64_t *size)
{
	*used = *size = 0;
	if (s->ops->version < 3 || s->ops->usage == NULL)
		return store_refuse(s, AF_ESTATE, "backend reports no usage");
	return s->ops->usage(s, used, size);
}

/*
 * How many rows db holds and how many pages they take, as t sees it (the
 * store's own counters: LMDB's mdb_stat, O(1)). Tests and the retention
 * benchmark count what a pruned activation left with it. AF_ESTATE from a
 * backend older than the method (*out zeroed then); AF_ESTORE.
 */
static inline int
store_db_stat(struct store_txn *t, enum store_db db, struct store_db_stat *out)
{
	struct store *s = t->store;

	out->entries = out->pages = 0;
	if (s->ops->version < 4 || s->ops->db_stat == NULL)
		return store_refuse(s, AF_ESTATE, "backend counts no rows");
	return s->ops->db_stat(t, db, out);
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
