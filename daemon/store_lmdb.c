/*
 * store_lmdb.c: the LMDB implementation of struct store_ops, and the only
 * file that includes <lmdb.h>.
 *
 * One environment, one named database per enum store_db, opened once at
 * store_open_lmdb. Read transactions are recycled (mdb_txn_reset/renew), so
 * a short read costs no allocation. LMDB's lock file already refuses a
 * second writer process only per transaction, so a separate flock() on
 * "asyncflowd.lock" makes "one daemon per directory" explicit.
 *
 * The contract it keeps is in store.h. It also refuses a second read or
 * write transaction itself (the wrappers already do), as a backstop.
 *
 * Not here: record layouts (journal.c, tables.c), caching, write sets, and
 * what every backend shares (store.c).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asyncflow/flow.h"
#include "store.h"

struct ltxn {
	struct store_txn pub; /* first: the handle callers hold */
	MDB_txn *txn;
	struct lstore *ls;
};

struct lcursor {
	struct store_cursor pub; /* first */
	MDB_cursor *cur;
};

struct lstore {
	struct store pub;
	MDB_env *env;
	MDB_dbi dbi[DB__COUNT];
	int lockfd;
	struct ltxn rtxn; /* recycled read transaction */
	bool rtxn_live;   /* rtxn.txn exists (reset or active) */
	bool rtxn_busy;
	struct ltxn wtxn;
	unsigned batch_ms;
	struct timespec last_sync;
	bool sync_failed; /* a batch sync after a commit failed */
};

static const char *const db_names[DB__COUNT] = {
	[DB_META] = "meta",
	[DB_ACTS] = "activations",
	[DB_JOURNAL] = "journal",
	[DB_VOWS] = "vows",
	[DB_WATCHERS] = "watchers",
	[DB_OUTBOX] = "outbox",
	[DB_TIMERS] = "timers",
	[DB_IDEM] = "idempotency",
	[DB_HOLDS] = "holds",
};

static int
map_err(struct lstore *ls, int rc, const char *what)
{
	if (rc == 0)
		return AF_OK;
	if (rc == MDB_NOTFOUND)
		return AF_ENOTFOUND;
	snprintf(ls->pub.errmsg, sizeof(ls->pub.errmsg), "%s: %s", what,
	    mdb_strerror(rc));
	if (rc == MDB_MAP_FULL)
		return AF_EFULL;
	if (rc == ENOMEM)
		return AF_ENOMEM;
	return AF_ESTORE;
}

static int
l_txn_begin(struct store *s, bool rdonly, struct store_txn **out)
{
	struct lstore *ls = (struct lstore *)s;
	int rc;

	*out = NULL;
	if (rdonly) {
		if (ls->rtxn_busy) {
			snprintf(s->errmsg, sizeof(s->errmsg),
			    "read transaction already open");
			return AF_ESTATE;
		}
		if (ls->rtxn_live)
			rc = mdb_txn_renew(ls->rtxn.txn);
		else
			rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY,
			    &ls->rtxn.txn);
		if (rc != 0)
			return map_err(ls, rc, "mdb_txn_begin(read)");
		ls->rtxn_live = true;
		ls->rtxn_busy = true;
		*out = &ls->rtxn.pub;
		return AF_OK;
	}
	if (ls->wtxn.txn != NULL) {
		snprintf(s->errmsg, sizeof(s->errmsg),
		    "write transaction already open");
		return AF_ESTATE;
	}
	rc = mdb_txn_begin(ls->env, NULL, 0, &ls->wtxn.txn);
	if (rc != 0)
		return map_err(ls, rc, "mdb_txn_begin");
	*out = &ls->wtxn.pub;
	return AF_OK;
}

static long
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

static int
l_txn_commit(struct store_txn *pt)
{
	struct ltxn *t = (struct ltxn *)pt;
	struct lstore *ls = t->ls;
	int rc;

	if (t->pub.rdonly) {
		mdb_txn_reset(t->txn);
		ls->rtxn_busy = false;
		return AF_OK;
	}
	rc = mdb_txn_commit(t->txn);
	t->txn = NULL;
	if (rc != 0)
		return map_err(ls, rc, "mdb_txn_commit");
	if (ls->pub.durability == STORE_BATCH &&
	    ms_since(&ls->last_sync) >= (long)ls->batch_ms) {
		/* The commit stands whatever the sync says; a failing sync
		 * is reported by the next l_sync (the batch timer). */
		if (mdb_env_sync(ls->env, 1) != 0)
			ls->sync_failed = true;
		clock_gettime(CLOCK_MONOTONIC, &ls->last_sync);
	}
	return AF_OK;
}

static void
l_txn_abort(struct store_txn *pt)
{
	struct ltxn *t = (struct ltxn *)pt;

	if (t == NULL)
		return;
	if (t->pub.rdonly) {
		mdb_txn_reset(t->txn);
		t->ls->rtxn_busy = false;
		return;
	}
	mdb_txn_abort(t->txn);
	t->txn = NULL;
}

static int
l_get(struct store_txn *pt, enum store_db db, struct store_val key,
    struct store_val *val)
{
	struct ltxn *t = (struct ltxn *)pt;
	MDB_val k = { key.n, (void *)(uintptr_t)key.p }, v;
	int rc;

	rc = mdb_get(t->txn, t->ls->dbi[db], &k, &v);
	if (rc != 0) {
		val->p = NULL;
		val->n = 0;
		return map_err(t->ls, rc, "mdb_get");
	}
	val->p = v.mv_data;
	val->n = v.mv_size;
	return AF_OK;
}

static int
l_put(struct store_txn *pt, enum store_db db, struct store_val key,
    struct store_val val, bool append)
{
	struct ltxn *t = (struct ltxn *)pt;
	MDB_val k = { key.n, (void *)(uintptr_t)key.p };
	MDB_val v = { val.n, (void *)(uintptr_t)val.p };
	int rc;

	rc = mdb_put(t->txn, t->ls->dbi[db], &k, &v, append ? MDB_APPEND : 0);
	if (rc == MDB_KEYEXIST && append) /* not last after all: plain put */
		rc = mdb_put(t->txn, t->ls->dbi[db], &k, &v, 0);
	return map_err(t->ls, rc, "mdb_put");
}

static int
l_del(struct store_txn *pt, enum store_db db, struct store_val key)
{
	struct ltxn *t = (struct ltxn *)pt;
	MDB_val k = { key.n, (void *)(uintptr_t)key.p };

	return map_err(t->ls, mdb_del(t->txn, t->ls->dbi[db], &k, NULL),
	    "mdb_del");
}

static int
l_cursor_open(struct store_txn *pt, enum store_db db, struct store_cursor **out)
{
	struct ltxn *t = (struct ltxn *)pt;
	struct lcursor *c;
	int rc;

	*out = NULL;
	if ((c = malloc(sizeof(*c))) == NULL)
		return store_refuse(&t->ls->pub, AF_ENOMEM,
		    "mdb_cursor_open: out of memory");
	c->pub.txn = pt;
	rc = mdb_cursor_open(t->txn, t->ls->dbi[db], &c->cur);
	if (rc != 0) {
		free(c);
		return map_err(t->ls, rc, "mdb_cursor_open");
	}
	*out = &c->pub;
	return AF_OK;
}

static int
l_cursor_get(struct store_cursor *pc, enum store_cursor_op op,
    struct store_val *key, struct store_val *val)
{
	struct lcursor *c = (struct lcursor *)pc;
	MDB_val k = { key->n, (void *)(uintptr_t)key->p }, v = { 0, NULL };
	MDB_cursor_op mop;
	int rc;

	switch (op) {
	case STORE_FIRST:
		mop = MDB_FIRST;
		break;
	case STORE_SET_RANGE:
		mop = MDB_SET_RANGE;
		break;
	default:
		mop = MDB_NEXT;
		break;
	}
	rc = mdb_cursor_get(c->cur, &k, &v, mop);
	if (rc == MDB_NOTFOUND)
		return AF_ENOTFOUND;
	if (rc != 0) {
		snprintf(pc->txn->store->errmsg, sizeof(pc->txn->store->errmsg),
		    "mdb_cursor_get: %s", mdb_strerror(rc));
		return AF_ESTORE;
	}
	key->p = k.mv_data;
	key->n = k.mv_size;
	val->p = v.mv_data;
	val->n = v.mv_size;
	return AF_OK;
}

static void
l_cursor_close(struct store_cursor *pc)
{
	struct lcursor *c = (struct lcursor *)pc;

	if (c == NULL)
		return;
	mdb_cursor_close(c->cur);
	free(c);
}

static int
l_sync(struct store *s)
{
	struct lstore *ls = (struct lstore *)s;
	int rc;

	if (s->durability == STORE_FULL)
		return AF_OK;
	clock_gettime(CLOCK_MONOTONIC, &ls->last_sync);
	rc = mdb_env_sync(ls->env, 1);
	if (rc == 0 && ls->sync_failed) {
		ls->sync_failed = false;
		snprintf(s->errmsg, sizeof(s->errmsg),
		    "an earlier sync failed; "
		    "this one succeeded");
	}
	return map_err(ls, rc, "mdb_env_sync");
}

static void
l_close(struct store *s)
{
	struct lstore *ls = (struct lstore *)s;

	if (ls->wtxn.txn != NULL)
		mdb_txn_abort(ls->wtxn.txn);
	if (ls->rtxn_live)
		mdb_txn_abort(ls->rtxn.txn);
	if (s->durability != STORE_FULL)
		mdb_env_sync(ls->env, 1);
	mdb_env_close(ls->env);
	if (ls->lockfd >= 0)
		close(ls->lockfd);
	free(ls);
}

static const struct store_ops lmdb_ops = {
	.version = STORE_OPS_VERSION,
	.txn_begin = l_txn_begin,
	.txn_commit = l_txn_commit,
	.txn_abort = l_txn_abort,
	.get = l_get,
	.put = l_put,
	.del = l_del,
	.cursor_open = l_cursor_open,
	.cursor_get = l_cursor_get,
	.cursor_close = l_cursor_close,
	.sync = l_sync,
	.close = l_close,
};

int
store_open_lmdb(const char *dir, const struct store_opts *opts,
    struct store **out, char *err, size_t errlen)
{
	struct lstore *ls;
	char path[4096];
	unsigned flags = MDB_NOTLS;
	MDB_txn *txn;
	int rc, i;

	*out = NULL;
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return AF_ENOMEM;
	ls->pub.ops = &lmdb_ops;
	ls->pub.impl = ls;
	ls->pub.durability = opts ? opts->durability : STORE_FULL;
	ls->batch_ms = opts && opts->batch_ms ? opts->batch_ms : 5;
	ls->rtxn.ls = ls->wtxn.ls = ls;
	ls->rtxn.pub.store = ls->wtxn.pub.store = &ls->pub;
	ls->rtxn.pub.rdonly = true;
	clock_gettime(CLOCK_MONOTONIC, &ls->last_sync);

	snprintf(path, sizeof(path), "%s/asyncflowd.lock", dir);
	ls->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (ls->lockfd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(ls);
		return AF_ESTORE;
	}
	if (flock(ls->lockfd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen,
		    "data directory %s is in use by another "
		    "asyncflowd",
		    dir);
		close(ls->lockfd);
		free(ls);
		return AF_ESTATE;
	}

	if ((rc = mdb_env_create(&ls->env)) != 0)
		goto fail;
	mdb_env_set_maxdbs(ls->env, DB__COUNT);
	rc = mdb_env_set_mapsize(ls->env,
	    opts && opts->map_size ? opts->map_size : (size_t)8 << 30);
	if (rc != 0)
		goto fail;
	if (ls->pub.durability != STORE_FULL)
		flags |= MDB_NOSYNC | MDB_NOMETASYNC;
	if ((rc = mdb_env_open(ls->env, dir, flags, 0600)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(ls->env, NULL, 0, &txn)) != 0)
		goto fail;
	for (i = 0; i < DB__COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &ls->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	*out = &ls->pub;
	return AF_OK;
fail:
	snprintf(err, errlen, "lmdb open %s: %s", dir, mdb_strerror(rc));
	if (ls->env)
		mdb_env_close(ls->env);
	close(ls->lockfd);
	free(ls);
	return rc == MDB_MAP_FULL ? AF_EFULL : AF_ESTORE;
}
