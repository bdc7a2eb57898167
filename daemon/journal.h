/*
 * journal.h: journal entries (format v1, DESIGN.md §4) and their storage.
 *
 * An entry is a JournalEntry protobuf message (proto/asyncflow.proto) keyed
 * by activation id ‖ index, both big-endian. This module encodes and parses
 * entries, renders them for diagnostics, and loads an activation's whole
 * journal into memory for replay (so no transaction stays open while the
 * flow re-runs). It does not decide what to journal: that is the engine.
 */
#ifndef AF_JOURNAL_H
#define AF_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "asyncflow/flow.h"
#include "buf.h"
#include "asyncflow/version.h"
#include "store.h"

/*
 * The journal format this code reads and writes, kept in the meta key
 * "format". A change that an older daemon could misread bumps it (see the
 * compatibility rule in proto/asyncflow.proto); a daemon refuses a store
 * written with a newer one. The number lives in asyncflow/version.h, so the
 * CLI's --version can print it too.
 */
#define JOURNAL_FORMAT AF_JOURNAL_FORMAT

/*
 * Check the store's journal format in write transaction t: a new store, or
 * one written with an older format (which this code reads), is stamped
 * with JOURNAL_FORMAT; AF_EVERSION (err says which) if it was written with
 * a newer format; store errors otherwise.
 *
 * Formats: 1, the first (to 0.4); 2 (0.5.0), activation rows may hold the
 * times and last incarnation (ActivationRecord fields 10-12), and journals
 * may hold `patched` entries (kind 7, af_patched's marker). A format 1
 * daemon's strict parsers refuse both: it would skip those activations or
 * fail them as having an undecodable journal, so it must refuse the store
 * instead. 3: rows may hold a cancel request and pending calls (fields
 * 21, 22) and journals `doCall`, `checkReturn`, `checkThrow` and
 * `doCancel` entries (kinds 8-11), which a format 2 parser refuses alike.
 */
int journal_format_check(struct store_txn *t, char *err, size_t errlen);

enum jkind {
	J_NONE = 0,
	J_CHECK_CALL = 1,
	J_DO_RETURN = 2,
	J_DO_THROW = 3,
	J_CHECK_SEND = 4,
	J_DO_FULFILL = 5,
	J_DO_REJECT = 6,
	J_PATCHED = 7,      /* af_patched's marker: target is the patch id */
	J_DO_CALL = 8,      /* a call into an export, an event: target (the
				export's name), method, args, vow (result) */
	J_CHECK_RETURN = 9, /* its handler answered: vow, value */
	J_CHECK_THROW = 10, /* its handler threw: vow, value */
	J_DO_CANCEL = 11, /* a cancel request, an event: value is the reason */
};

/*
 * A parsed entry: a view into the bytes it was parsed from (valid as long
 * as they are). args/value are encoded Value messages (n == 0: absent).
 * target/method are not NUL-terminated.
 */
struct jentry {
	enum jkind kind;
	uint64_t call_index;
	struct af_str target;
	struct af_str method;
	struct af_str args;
	struct af_str value;
	uint64_t vow;
	uint64_t incarnation;
};

/* Append the entry's encoding to b. AF_OK or AF_ENOMEM. */
int journal_entry_encode(struct buf *b, const struct jentry *e);
/* Parse without copying. AF_OK or AF_EDECODE. */
int journal_entry_parse(const void *p, size_t n, struct jentry *e);
/* "checkCall(counter.next, 3, #0)" etc., values rendered as text. */
void journal_entry_text(struct buf *b, const struct jentry *e);
/* The reference's name: "checkCall", "doReturn", ... */
const char *journal_kind_name(enum jkind k);

void journal_key(uint8_t key[16], uint64_t act, uint64_t index);

/* An activation's journal, copied out of the store. */
struct jlog {
	uint8_t *data; /* all entry bytes back to back */
	size_t *off;   /* entry i is data[off[i] .. off[i+1]) */
	size_t n;
};

/*
 * Load entries [0, len) of activation `act` in one read transaction.
 * AF_OK, AF_EDECODE (the journal is corrupt) if an index is missing,
 * AF_ENOMEM, AF_ESTORE. The caller frees with jlog_release.
 */
int journal_load(struct store *s, uint64_t act, uint64_t len, struct jlog *out);
/* The same for entries [from, to): entry i of the result is index
 * from + i. */
int journal_load_range(struct store *s, uint64_t act, uint64_t from,
    uint64_t to, struct jlog *out);
void jlog_release(struct jlog *l);

/* Write entry `index` of `act` (encoded, p/n) in the caller's write
 * transaction. */
int journal_put(struct store_txn *t, uint64_t act, uint64_t index,
    const void *p, size_t n);

/* Delete up to `max` entries of `act` from index *from up to `to`, in the
 * caller's write transaction; advances *from. */
int journal_delete(struct store_txn *t, uint64_t act, uint64_t *from,
    uint64_t to, size_t max);

#endif /* AF_JOURNAL_H */
