/*
 * children.h: the index of child flows (DB_CHILDREN): one empty row per
 * child, keyed by its parent's id then its own (both big-endian), so that
 * the children of one activation are one range of keys, listed in id
 * order at a cost that grows with their number only (`show`, a cancel
 * passed on to children) instead of a scan of every activation row.
 *
 * Who keeps it: the commit that first writes a child's row puts its
 * entry (commit.c); pruning the child or the parent deletes it
 * (prune.c). A store whose index was not kept by the daemon that last
 * ran (one from before the index, journal format 3, or one an older
 * daemon has run on since) has it rebuilt from DB_ACTS when it is opened
 * (children_index_open): the meta row CHILDREN_META names the incarnation
 * that keeps it.
 *
 * Not here: the parent field of a row (tables.h), which children exist in
 * memory and are not committed yet (the engine, exports.c).
 */
#ifndef AF_CHILDREN_H
#define AF_CHILDREN_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_txn;

/* DB_META: the incarnation whose commits keep DB_CHILDREN up to date. */
#define CHILDREN_META "children_index"
#define CHILD_KEY_LEN 16

void child_key(uint8_t key[CHILD_KEY_LEN], uint64_t parent, uint64_t child);

/* Record that `child` is a child of `parent`, in t. AF_OK or a store
 * error (abort t). */
int children_put(struct store_txn *t, uint64_t parent, uint64_t child);
/* Forget that entry, in t; AF_OK if there was none. */
int children_del(struct store_txn *t, uint64_t parent, uint64_t child);
/* Delete up to *budget entries of parent's children, in t; *budget is
 * decreased by the rows deleted. AF_OK (all gone when *budget is left
 * above 0), or a store error. */
int children_del_all(struct store_txn *t, uint64_t parent, size_t *budget);

/* The children of parent in id order, in one read transaction of s: cb
 * gets each id and returns 0 to go on or a negative error (returned). An
 * entry whose key is malformed is AF_EDECODE. */
typedef int children_fn(void *ctx, uint64_t child);
int children_scan(struct store *s, uint64_t parent, children_fn *cb, void *ctx);

/*
 * At open, in the write transaction that makes incarnation `next` (the one
 * before it is next - 1): unless CHILDREN_META names next - 1 (the index
 * was kept until now), rebuild DB_CHILDREN from the parent fields of
 * DB_ACTS (unreadable rows are skipped, logged); then stamp next. AF_OK
 * or a store error (abort t).
 */
int children_index_open(struct store_txn *t, uint64_t next);

#endif /* AF_CHILDREN_H */
