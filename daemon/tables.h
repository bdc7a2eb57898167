/*
 * tables.h: the row layouts of the activation, vow, watcher and meta tables
 * (ActivationRecord and VowRecord in proto/asyncflow.proto) and their
 * encode/parse functions. Pure functions of bytes: no caching, no policy.
 */
#ifndef AF_TABLES_H
#define AF_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "asyncflow/flow.h"
#include "buf.h"
#include "store.h"
#include "vowdef.h"

enum act_state {
	ACT_ACTIVE = 1, /* Running, Sleeping or Replaying (in memory) */
	ACT_FAILED = 2,
	ACT_DONE = 3,
};

/* A parsed activation row: views into the source bytes. */
struct act_row {
	struct af_str flow;
	struct af_str args; /* encoded Value */
	enum act_state state;
	uint64_t outcome;
	uint64_t journal_length;
	struct af_str failure;
	uint64_t incarnation;
	uint64_t journal_gc;
	bool quarantined;            /* crashed the daemon: wake only by hand */
	int64_t created_ms;          /* 0: a row older than the field */
	int64_t last_progress_ms;    /* 0: unknown */
	uint64_t last_incarnation;   /* 0: unknown */
	struct af_str cancel_reason; /* encoded Value; ptr NULL: none asked */
	struct af_str pending_calls; /* encoded PendingCalls; len 0: none */
	uint64_t parent;             /* af_start_child's parent; 0: none */
};

int act_row_encode(struct buf *b, const struct act_row *r);
int act_row_parse(const void *p, size_t n, struct act_row *r);

struct vow_row {
	enum vow_state state;
	uint8_t secret[VOW_SECRET_LEN];
	struct af_str value; /* encoded Value once settled */
	uint64_t follows;
	uint64_t settled_seq;
	uint64_t owner;
	bool followed;          /* some vow follows this one */
	bool invocation;        /* result vow of an outbox invocation */
	uint64_t resolved_with; /* the vow asked for (follows: its end) */
};

int vow_row_encode(struct buf *b, const struct vow_row *r);
int vow_row_parse(const void *p, size_t n, struct vow_row *r);

/* An eventual send waiting for its answer (DB_OUTBOX, key: vow id). */
struct outbox_row {
	struct af_str object;
	struct af_str method;
	struct af_str args; /* encoded Value */
	uint64_t activation;
};

int outbox_row_encode(struct buf *b, const struct outbox_row *r);
int outbox_row_parse(const void *p, size_t n, struct outbox_row *r);

/* Timers: due ms ‖ vow id, big-endian (DB_TIMERS). */
#define TIMER_KEY_LEN 16

/* Watchers: vow id ‖ kind ‖ id, all big-endian (kind one byte). */
enum watch_kind {
	WATCH_ACT = 1,      /* activation `id` holds the vow, settlement not
			     * yet journaled */
	WATCH_FOLLOWER = 2, /* vow `id` follows this vow */
};
#define WATCH_KEY_LEN 17
void watch_key(uint8_t key[WATCH_KEY_LEN], uint64_t vow, enum watch_kind k,
    uint64_t id);

/* DB_OWNED: act id ‖ tag ‖ what (the vow id, big-endian; the idempotency
 * key's bytes), value empty. What an activation made that is keyed by
 * something else, so that pruning it finds what it left (prune.h). */
enum owned_tag {
	OWNED_VOW = 1,
	OWNED_IDEM = 2,
};
#define OWNED_KEY_MAX (9 + 256)
/* Build the key into key (OWNED_KEY_MAX bytes); returns its length. what
 * is at most OWNED_KEY_MAX - 9 bytes. */
size_t owned_key(uint8_t *key, uint64_t act, enum owned_tag tag,
    const void *what, size_t n);

/* DB_FINISHED: finished ms ‖ act id, both big-endian, value empty: a Done
 * activation not yet pruned, oldest first. finished ms 0 marks one whose
 * pruning has begun (a purge): it sorts first and is finished first. */
#define FINISHED_KEY_LEN 16
void finished_key(uint8_t key[FINISHED_KEY_LEN], int64_t ms, uint64_t act);

/* DB_META FINISHING_META: the newest DB_FINISHED entries, not yet moved
 * there; the value is up to FINISHING_MAX finished keys end to end, in
 * the order they finished; no row when there are none. The commit that
 * finishes an activation writes the meta table anyway (the settle_seq of
 * its outcome vow), so its entry costs no page of another table; they
 * are moved to DB_FINISHED together, FINISHING_MAX at a time, or as soon
 * as one of them is due or purged (commit.c). Both tables together are
 * the index of what is to be pruned. */
#define FINISHING_META "finishing"
#define FINISHING_MAX  64

/* DB_META OWNING_META: the newest DB_OWNED rows of vows (OWNED_VOW keys,
 * OWNED_VOW_KEY_LEN bytes each), not yet moved there, end to end; no row
 * when there are none. As for FINISHING_META: the commit that makes a vow
 * writes the meta table anyway (next_vow), so the row costs no page of
 * another table; they are moved to DB_OWNED OWNING_MAX at a time, or as
 * soon as anything is pruned (vows.c, vowtab_owned_flush). Both together
 * are what activations made. */
#define OWNING_META       "owning"
#define OWNING_MAX        64
#define OWNED_VOW_KEY_LEN 17

/* Meta: small named unsigned counters. */
int meta_get_u64(struct store_txn *t, const char *name, uint64_t *v);
int meta_put_u64(struct store_txn *t, const char *name, uint64_t v);

/*
 * Meta batches (FINISHING_META, OWNING_META): keys of one table, klen
 * bytes each, waiting end to end in one meta row until they move to their
 * table together; no row when there are none. In memory: the row as
 * committed plus what this pass added, in keys (room for max of them, the
 * owner's array). dirty until the owner's commit went through (the owner
 * clears it then; a failed one is undone by reading the row again).
 */
struct meta_batch {
	const char *name; /* the DB_META row */
	enum store_db db; /* the table the keys move to */
	size_t klen, max;
	uint8_t *keys;
	size_t n;
	bool dirty;
};

/* Read b's row in t (b clean). AF_EDECODE if it is not whole keys or
 * holds more than max. */
int meta_batch_load(struct meta_batch *b, struct store_txn *t);
/* Add a key (klen bytes), first moving a full batch to its table. */
int meta_batch_add(struct meta_batch *b, struct store_txn *t, const void *key);
/* Move every key to b's table, each with an empty value, in t. */
int meta_batch_flush(struct meta_batch *b, struct store_txn *t);
/* Write b's row in t if b is dirty (no keys: delete the row). */
int meta_batch_write(struct meta_batch *b, struct store_txn *t);

const char *act_state_name(enum act_state s);

#endif /* AF_TABLES_H */
