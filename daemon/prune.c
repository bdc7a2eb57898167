/*
 * prune.c: deleting what a finished activation left (see prune.h).
 *
 * Not here: when (commit.c), the retention option (main.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "children.h"
#include "prune.h"
#include "store.h"
#include "tables.h"
#include "timers.h"

/* The first key of db that starts with prefix, copied into key (at most
 * OWNED_KEY_MAX bytes; longer keys are not ours). AF_ENOTFOUND if none. */
static int
first_with_prefix(struct store_txn *t, enum store_db db, const uint8_t *prefix,
    size_t plen, uint8_t *key, size_t *klen)
{
	struct store_cursor *c;
	struct store_val k = { prefix, plen }, v;
	int rc;

	if ((rc = store_cursor_open(t, db, &c)) != AF_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SET_RANGE, &k, &v);
	if (rc == AF_OK &&
	    (k.n < plen || k.n > OWNED_KEY_MAX ||
		memcmp(k.p, prefix, plen) != 0))
		rc = AF_ENOTFOUND;
	if (rc == AF_OK) {
		memcpy(key, k.p, k.n);
		*klen = k.n;
	}
	store_cursor_close(c);
	return rc;
}

static int
del_ok(struct store_txn *t, enum store_db db, const void *key, size_t n)
{
	int rc = store_del(t, db, (struct store_val){ key, n });

	return rc == AF_ENOTFOUND ? AF_OK : rc;
}

/* Delete vow `vow`, made by the activation being pruned, unless someone
 * else still needs it (prune.h). */
static int
prune_vow(struct store_txn *t, struct timers *tm, uint64_t vow)
{
	uint8_t key[OWNED_KEY_MAX], vkey[8], wkey[WATCH_KEY_LEN];
	struct store_val v;
	struct vow_row row;
	size_t klen;
	bool final;
	int rc;

	store_be64(vkey, vow);
	/* Held by an activation that has not journaled it, or followed. */
	rc = first_with_prefix(t, DB_WATCHERS, vkey, 8, key, &klen);
	if (rc != AF_ENOTFOUND)
		return rc;
	rc = store_get(t, DB_VOWS, (struct store_val){ vkey, 8 }, &v);
	if (rc == AF_ENOTFOUND)
		return AF_OK;
	if (rc != AF_OK)
		return rc;
	if (vow_row_parse(v.p, v.n, &row) != AF_OK)
		return del_ok(t, DB_VOWS, vkey, 8); /* unreadable: nobody's */
	final = row.state == VOW_FULFILLED || row.state == VOW_REJECTED;
	if (row.invocation && !final)
		return AF_OK; /* a server still answers it */
	if (row.state == VOW_FOLLOWING && row.follows != 0) {
		watch_key(wkey, row.follows, WATCH_FOLLOWER, vow);
		if ((rc = del_ok(t, DB_WATCHERS, wkey, WATCH_KEY_LEN)) != AF_OK)
			return rc;
	}
	if (row.state == VOW_PENDING && tm != NULL) {
		rc = timers_cancel(tm, vow);
		if (rc != AF_OK && rc != AF_ENOTFOUND)
			return rc;
	}
	return del_ok(t, DB_VOWS, vkey, 8);
}

int
prune_row(struct store_txn *t, struct timers *tm, uint64_t act)
{
	struct store_val v;
	struct act_row r;
	uint64_t outcome = 0;
	uint8_t key[8];
	int rc;

	store_be64(key, act);
	rc = store_get(t, DB_ACTS, (struct store_val){ key, 8 }, &v);
	if (rc == AF_ENOTFOUND)
		return AF_OK;
	if (rc != AF_OK)
		return rc;
	/* Unreadable: its outcome is nobody's to find; the row goes. */
	if (act_row_parse(v.p, v.n, &r) == AF_OK) {
		outcome = r.outcome;
		/* Its parent no longer lists it. */
		if (r.parent != 0 &&
		    (rc = children_del(t, r.parent, act)) != AF_OK)
			return rc;
	}
	if (outcome != 0 && (rc = prune_vow(t, tm, outcome)) != AF_OK)
		return rc;
	return del_ok(t, DB_ACTS, key, 8);
}

/* One DB_OWNED row of act: what it names, then the row. */
static int
prune_owned(struct store_txn *t, struct timers *tm, uint64_t act,
    const uint8_t *key, size_t klen)
{
	struct store_val v;
	int rc = AF_OK;

	if (klen == 17 && key[8] == OWNED_VOW)
		rc = prune_vow(t, tm, store_rd_be64(key + 9));
	else if (klen > 9 && key[8] == OWNED_IDEM) {
		/* Only if the key still names this activation. */
		rc = store_get(t, DB_IDEM,
		    (struct store_val){ key + 9, klen - 9 }, &v);
		if (rc == AF_OK && v.n >= 8 && store_rd_be64(v.p) == act)
			rc = del_ok(t, DB_IDEM, key + 9, klen - 9);
		else if (rc == AF_ENOTFOUND || rc == AF_OK)
			rc = AF_OK;
	}
	if (rc != AF_OK)
		return rc;
	return del_ok(t, DB_OWNED, key, klen);
}

int
prune_act(struct store_txn *t, struct timers *tm, uint64_t act,
    const uint8_t fkey[FINISHED_KEY_LEN], size_t *budget, bool *done)
{
	uint8_t prefix[8], key[OWNED_KEY_MAX], wkey[WATCH_KEY_LEN];
	size_t klen;
	int rc;

	*done = false;
	store_be64(prefix, act);
	if (*budget == 0)
		return AF_OK;
	if ((rc = prune_row(t, tm, act)) != AF_OK)
		return rc;
	(*budget)--;
	while (*budget > 0 &&
	    (rc = first_with_prefix(t, DB_JOURNAL, prefix, 8, key, &klen)) ==
		AF_OK) {
		if ((rc = del_ok(t, DB_JOURNAL, key, klen)) != AF_OK)
			return rc;
		(*budget)--;
	}
	if (*budget == 0 || rc != AF_ENOTFOUND)
		return *budget == 0 ? AF_OK : rc;
	while (*budget > 0 &&
	    (rc = first_with_prefix(t, DB_HOLDS, prefix, 8, key, &klen)) ==
		AF_OK) {
		if (klen != 16)
			return AF_EDECODE;
		watch_key(wkey, store_rd_be64(key + 8), WATCH_ACT, act);
		if ((rc = del_ok(t, DB_WATCHERS, wkey, WATCH_KEY_LEN)) !=
			AF_OK ||
		    (rc = del_ok(t, DB_HOLDS, key, klen)) != AF_OK)
			return rc;
		(*budget)--;
	}
	if (*budget == 0 || rc != AF_ENOTFOUND)
		return *budget == 0 ? AF_OK : rc;
	while (*budget > 0 &&
	    (rc = first_with_prefix(t, DB_OWNED, prefix, 8, key, &klen)) ==
		AF_OK) {
		if ((rc = prune_owned(t, tm, act, key, klen)) != AF_OK)
			return rc;
		(*budget)--;
	}
	if (*budget == 0 || rc != AF_ENOTFOUND)
		return *budget == 0 ? AF_OK : rc;
	/* Its children's index entries (the children stay). */
	if ((rc = children_del_all(t, act, budget)) != AF_OK || *budget == 0)
		return rc;
	if ((rc = del_ok(t, DB_FINISHED, fkey, FINISHED_KEY_LEN)) != AF_OK)
		return rc;
	(*budget)--;
	*done = true;
	return AF_OK;
}

int
prune_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = { { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 } };
	const int64_t max = 100 * 366 * (int64_t)86400000;
	unsigned long long v;
	char *end;
	size_t i;

	if (s == NULL || *s < '0' || *s > '9')
		return AF_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return AF_EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].name) == 0)
			break;
	if (i == sizeof(units) / sizeof(units[0]) ||
	    v > (unsigned long long)(max / units[i].ms))
		return AF_EINVAL;
	*ms = (int64_t)v * units[i].ms;
	return AF_OK;
}
