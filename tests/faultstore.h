/*
 * faultstore.h: fault injection for tests, through the store's fault hook
 * (struct store in daemon/store.h, asked by every wrapper before the
 * backend). Fail the Nth call of a kind, the next N, or every call, with a
 * chosen code; count the calls of each kind. The real backend runs
 * underneath: nothing is copied or wrapped, so an injected failure has the
 * effects of a real one (a failed commit has aborted the transaction).
 *
 * Not a fake store, and no Check in it (the fuzzer may link it too).
 */
#ifndef AF_FAULTSTORE_H
#define AF_FAULTSTORE_H

#include <limits.h>

#include "store.h"

/* A count for faultstore_fail: every call from then on. */
#define FAULTSTORE_ALWAYS UINT_MAX

struct faultstore {
	struct store *s;                    /* attached to; NULL if none */
	unsigned calls[STORE_CALL__COUNT];  /* seen since attach or reset */
	unsigned failed[STORE_CALL__COUNT]; /* of which failed on purpose */
	struct faultstore_rule {
		unsigned skip;  /* let this many through first, */
		unsigned count; /* then fail this many, or ALWAYS */
		int code;       /* with this code */
	} rule[STORE_CALL__COUNT];
};

/* Install on s (replacing any hook) with no rule and zero counts. */
void faultstore_attach(struct faultstore *fs, struct store *s);
/* Remove the hook from the store it is on. Harmless if not attached. */
void faultstore_detach(struct faultstore *fs);
/* Drop every rule and zero the counts; stays attached. */
void faultstore_reset(struct faultstore *fs);

/* The general rule for calls of one kind, replacing the kind's rule:
 * after `skip` more calls have gone through, fail the next `count` (or
 * FAULTSTORE_ALWAYS: every one) with `code`. count 0 removes the rule. */
void faultstore_fail(struct faultstore *fs, enum store_call call, unsigned skip,
    unsigned count, int code);

/* Fail the nth call of that kind from now (1: the very next), once. */
static inline void
faultstore_fail_nth(struct faultstore *fs, enum store_call call, unsigned n,
    int code)
{
	faultstore_fail(fs, call, n > 0 ? n - 1 : 0, 1, code);
}

/* Fail the next n calls of that kind. */
static inline void
faultstore_fail_next(struct faultstore *fs, enum store_call call, unsigned n,
    int code)
{
	faultstore_fail(fs, call, 0, n, code);
}

/* Fail every call of that kind until the rule is replaced or reset. */
static inline void
faultstore_fail_always(struct faultstore *fs, enum store_call call, int code)
{
	faultstore_fail(fs, call, 0, FAULTSTORE_ALWAYS, code);
}

/* How many calls of that kind were made (failed ones included). */
static inline unsigned
faultstore_calls(const struct faultstore *fs, enum store_call call)
{
	return fs->calls[call];
}

/* Whether a rule of that kind still has failures to give. */
static inline bool
faultstore_armed(const struct faultstore *fs, enum store_call call)
{
	return fs->rule[call].count > 0;
}

#endif /* AF_FAULTSTORE_H */
