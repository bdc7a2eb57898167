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
 * Fatal errors. A failed write of a meta page at commit (EIO, ENOSPC, a
 * short write) sets MDB_FATAL_ERROR in the environment: every later
 * transaction fails with MDB_PANIC. A failed commit therefore checks
 * whether the environment still works, and if not marks the store broken;
 * l_reopen closes the environment and opens it again on the same files
 * (the flock stays held, so no other daemon slips in), then syncs the data
 * file, so that what the reopened environment shows is on disk before
 * anything new is written on top of it (LMDB has put the old meta back in
 * the page cache, which a sync makes durable; see DESIGN.md §5).
 *
 * A new environment appears whole or not at all: it is built as
 * "data.mdb.new" (its meta pages and named databases, synced), then
 * renamed to "data.mdb" and the directory synced. A failure or a crash
 * while building leaves only a ".new" file, which the next open discards;
 * without this, a torn first write left a data.mdb that LMDB refuses for
 * ever ("MDB_INVALID").
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
	bool kept;     /* one of lstore.rcur: closing keeps it open */
	unsigned rgen; /* kept: the read transaction it was last used in */
};

struct lstore {
	struct store pub;
	char *dir;
	size_t map_size;
	MDB_env *env; /* NULL while broken and not reopened */
	MDB_dbi dbi[DB__COUNT];
	/* Read-only: a table a store made by an older release does not
	 * have yet (the daemon creates it at its next read-write open):
	 * read as empty. */
	bool absent[DB__COUNT];
	int lockfd;
	struct ltxn rtxn; /* recycled read transaction */
	bool rtxn_live;   /* rtxn.txn exists (reset or active) */
	bool rtxn_busy;
	struct ltxn wtxn;
	unsigned batch_ms;
	struct timespec last_sync;
	bool snapshot; /* store_open_lmdb_snapshot: one read
			* transaction for the life of the handle */
	/* The read transaction's cursors, one per database, kept open from
	 * one use to the next (and renewed when the transaction is): a
	 * kept cursor costs no allocation, and, still where it was left
	 * in the same snapshot, finds a key on its current page without a
	 * walk from the root (gets in key order: the upgrade check reads
	 * every activation's row and journal in id order). rgen counts the
	 * read transactions begun or renewed. */
	struct lcursor rcur[DB__COUNT];
	bool rcur_busy[DB__COUNT];
	unsigned rgen;
};

static int
map_err(struct lstore *ls, int rc, const char *what)
{
	if (rc == 0)
		return AF_OK;
	if (rc == MDB_NOTFOUND)
		return AF_ENOTFOUND;
	switch (rc) {
	case MDB_MAP_FULL:
		snprintf(ls->pub.errmsg, sizeof(ls->pub.errmsg),
		    "map full: %s: %s", what, mdb_strerror(rc));
		return AF_EFULL;
	case ENOSPC:
	case EDQUOT:
		snprintf(ls->pub.errmsg, sizeof(ls->pub.errmsg),
		    "disk full: %s: %s", what, mdb_strerror(rc));
		return AF_EFULL;
	case ENOMEM:
		snprintf(ls->pub.errmsg, sizeof(ls->pub.errmsg), "%s: %s", what,
		    mdb_strerror(rc));
		return AF_ENOMEM;
	case MDB_PANIC:
		snprintf(ls->pub.errmsg, sizeof(ls->pub.errmsg), "%s: %s", what,
		    mdb_strerror(rc));
		if (store_broken(&ls->pub) == NULL)
			store_set_broken(&ls->pub, "%s", ls->pub.errmsg);
		return AF_ESTORE;
	default:
		snprintf(ls->pub.errmsg, sizeof(ls->pub.errmsg), "%s: %s", what,
		    mdb_strerror(rc));
		return AF_ESTORE;
	}
}

/*
 * After a sync of committed work (batch and none durability write commits
 * without one): if it failed, what it was to make durable may not be on
 * disk, and a later sync cannot be trusted to write it (Linux marks the
 * pages a failed fsync reported clean again). The store is broken: the
 * engine reopens it and rebuilds from what the file holds, so nothing is
 * built on commits that may be gone.
 */
static void
sync_failed(struct lstore *ls, int rc)
{
	if (rc == 0 || store_broken(&ls->pub) != NULL)
		return;
	store_set_broken(&ls->pub,
	    "mdb_env_sync: %s (commits since the last good sync may not be "
	    "on disk)",
	    mdb_strerror(rc));
}

/* After a failed write commit: if the environment took a fatal error
 * (MDB_PANIC from now on), mark the store broken with the commit's
 * error, which names the cause (an I/O error, a full disk). */
static void
check_fatal(struct lstore *ls)
{
	MDB_txn *probe;
	int rc;

	rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY, &probe);
	if (rc == 0)
		mdb_txn_abort(probe);
	else if (rc == MDB_PANIC)
		store_set_broken(&ls->pub,
		    "lmdb environment unusable after %s "
		    "(MDB_PANIC: a meta page write failed)",
		    ls->pub.errmsg);
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
		if (ls->rtxn_live && ls->snapshot)
			rc = 0; /* the same snapshot, never renewed */
		else if (ls->rtxn_live)
			rc = mdb_txn_renew(ls->rtxn.txn);
		else
			rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY,
			    &ls->rtxn.txn);
		if (rc != 0)
			return map_err(ls, rc, "mdb_txn_begin(read)");
		if (!(ls->rtxn_live && ls->snapshot))
			ls->rgen++; /* the kept cursors must be renewed */
		/* A cursor of an ended transaction is dead, closed or not. */
		memset(ls->rcur_busy, 0, sizeof(ls->rcur_busy));
		ls->rtxn_live = true;
		ls->rtxn_busy = true;
		*out = &ls->rtxn.pub;
		return AF_OK;
	}
	if (ls->snapshot) {
		snprintf(s->errmsg, sizeof(s->errmsg),
		    "a read-only snapshot takes no writes");
		return AF_ESTATE;
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
		if (!ls->snapshot)
			mdb_txn_reset(t->txn);
		ls->rtxn_busy = false;
		return AF_OK;
	}
	rc = mdb_txn_commit(t->txn);
	t->txn = NULL;
	if (rc != 0) {
		rc = map_err(ls, rc, "mdb_txn_commit");
		check_fatal(ls);
		return rc;
	}
	if (ls->pub.durability == STORE_BATCH &&
	    ms_since(&ls->last_sync) >= (long)ls->batch_ms) {
		/* The commit stands (batch acknowledges before the sync);
		 * a failed sync breaks the store for the next begin. */
		clock_gettime(CLOCK_MONOTONIC, &ls->last_sync);
		sync_failed(ls, mdb_env_sync(ls->env, 1));
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
		if (!t->ls->snapshot)
			mdb_txn_reset(t->txn);
		t->ls->rtxn_busy = false;
		return;
	}
	mdb_txn_abort(t->txn);
	t->txn = NULL;
}

/* The kept cursor of db for the read transaction t, ready; NULL when it
 * is in use (then the caller makes one of its own), or on an error (in
 * *rc). */
static struct lcursor *
kept_cursor(struct ltxn *t, enum store_db db, int *rc)
{
	struct lstore *ls = t->ls;
	struct lcursor *c = &ls->rcur[db];
	int r = 0;

	*rc = 0;
	if (!t->pub.rdonly || ls->rcur_busy[db])
		return NULL;
	if (c->cur == NULL)
		r = mdb_cursor_open(t->txn, ls->dbi[db], &c->cur);
	else if (c->rgen != ls->rgen)
		r = mdb_cursor_renew(t->txn, c->cur);
	if (r != 0) {
		if (c->cur != NULL)
			mdb_cursor_close(c->cur);
		c->cur = NULL;
		*rc = r;
		return NULL;
	}
	c->kept = true;
	c->rgen = ls->rgen;
	c->pub.txn = &t->pub;
	return c;
}

static int
l_get(struct store_txn *pt, enum store_db db, struct store_val key,
    struct store_val *val)
{
	struct ltxn *t = (struct ltxn *)pt;
	MDB_val k = { key.n, (void *)(uintptr_t)key.p }, v;
	struct lcursor *c;
	int rc;

	if (t->ls->absent[db])
		rc = MDB_NOTFOUND;
	else if ((c = kept_cursor(t, db, &rc)) != NULL)
		rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET);
	else if (rc == 0)
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
	if (t->ls->absent[db])
		rc = 0; /* a cursor on nothing (below) */
	else if ((c = kept_cursor(t, db, &rc)) != NULL) {
		t->ls->rcur_busy[db] = true;
		*out = &c->pub;
		return AF_OK;
	}
	if (rc != 0)
		return map_err(t->ls, rc, "mdb_cursor_renew");
	if ((c = malloc(sizeof(*c))) == NULL)
		return store_refuse(&t->ls->pub, AF_ENOMEM,
		    "mdb_cursor_open: out of memory");
	c->pub.txn = pt;
	c->kept = false;
	c->cur = NULL;
	rc = t->ls->absent[db] ?
	    0 :
	    mdb_cursor_open(t->txn, t->ls->dbi[db], &c->cur);
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
	rc = c->cur == NULL ? MDB_NOTFOUND :
			      mdb_cursor_get(c->cur, &k, &v, mop);
	if (rc != 0)
		return map_err(((struct ltxn *)pc->txn)->ls, rc,
		    "mdb_cursor_get");
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
	if (c->kept) {
		struct lstore *ls = ((struct ltxn *)pc->txn)->ls;

		ls->rcur_busy[c - ls->rcur] = false; /* open for the next */
		return;
	}
	if (c->cur != NULL)
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
	if (ls->env == NULL)
		return store_refuse(s, AF_ESTORE, "store must be reopened");
	clock_gettime(CLOCK_MONOTONIC, &ls->last_sync);
	rc = mdb_env_sync(ls->env, 1);
	sync_failed(ls, rc);
	return map_err(ls, rc, "mdb_env_sync");
}

/* Drop the environment and every handle into it. */
static void
env_drop(struct lstore *ls)
{
	if (ls->wtxn.txn != NULL)
		mdb_txn_abort(ls->wtxn.txn);
	ls->wtxn.txn = NULL;
	for (int i = 0; i < DB__COUNT; i++) {
		if (ls->rcur[i].cur != NULL)
			mdb_cursor_close(ls->rcur[i].cur);
		ls->rcur[i].cur = NULL;
		ls->rcur_busy[i] = false;
	}
	if (ls->rtxn_live)
		mdb_txn_abort(ls->rtxn.txn);
	ls->rtxn.txn = NULL;
	ls->rtxn_live = ls->rtxn_busy = false;
	if (ls->env != NULL)
		mdb_env_close(ls->env);
	ls->env = NULL;
}

static void
l_close(struct store *s)
{
	struct lstore *ls = (struct lstore *)s;

	if (ls->env != NULL && s->durability != STORE_FULL &&
	    store_broken(s) == NULL)
		mdb_env_sync(ls->env, 1);
	env_drop(ls);
	if (ls->lockfd >= 0)
		close(ls->lockfd);
	free(ls->dir);
	free(ls);
}

/*
 * Open an environment at path (a directory, or with MDB_NOSUBDIR in flags
 * the data file itself) into *envp and, when dbi is not NULL, every named
 * database (created if missing) in one commit. On failure *envp is NULL
 * and the LMDB code is returned, with *what saying which step failed.
 */
static int
env_open(struct lstore *ls, const char *path, unsigned extra, MDB_env **envp,
    MDB_dbi *dbi, const char **what)
{
	unsigned flags = MDB_NOTLS | extra;
	MDB_env *env;
	MDB_txn *txn;
	int rc, i;

	*envp = NULL;
	*what = "mdb_env_create";
	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	mdb_env_set_maxdbs(env, DB__COUNT);
	*what = "mdb_env_set_mapsize";
	if ((rc = mdb_env_set_mapsize(env, ls->map_size)) != 0)
		goto fail;
	if (ls->pub.durability != STORE_FULL)
		flags |= MDB_NOSYNC | MDB_NOMETASYNC;
	*what = "mdb_env_open";
	if ((rc = mdb_env_open(env, path, flags, 0600)) != 0)
		goto fail;
	/* Reader slots left by processes that died in a read transaction
	 * (an upgrade checker that crashed on new code, a kill -9) are freed
	 * here, or enough of them would fill LMDB's table (126 slots) and
	 * every later open would fail with MDB_READERS_FULL. */
	*what = "mdb_reader_check";
	if ((rc = mdb_reader_check(env, NULL)) != 0)
		goto fail;
	*what = "opening the databases";
	if ((rc = mdb_txn_begin(env, NULL, extra & MDB_RDONLY, &txn)) != 0)
		goto fail;
	for (i = 0; i < DB__COUNT; i++) {
		MDB_dbi d;

		rc = mdb_dbi_open(txn, store_db_name((enum store_db)i),
		    extra & MDB_RDONLY ? 0 : MDB_CREATE, &d);
		if (rc == MDB_NOTFOUND && (extra & MDB_RDONLY)) {
			ls->absent[i] = true;
			continue;
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			goto fail;
		}
		if (dbi != NULL)
			dbi[i] = d;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	*envp = env;
	return 0;
fail:
	mdb_env_close(env);
	return rc;
}

static int
sync_dir(const char *dir)
{
	int fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno;
	if (fsync(fd) != 0)
		rc = errno;
	close(fd);
	return rc;
}

/*
 * Make DIR/data.mdb if it does not exist, whole or not at all (see the
 * top of the file). 0 or an errno/LMDB code, *what saying where.
 */
static int
env_create(struct lstore *ls, const char **what)
{
	char path[4096], tmp[4096];
	struct stat sb;
	MDB_env *env;
	int rc;

	snprintf(path, sizeof(path), "%s/data.mdb", ls->dir);
	snprintf(tmp, sizeof(tmp), "%s/data.mdb.new", ls->dir);
	if (lstat(path, &sb) == 0)
		return 0;
	*what = "stat data.mdb";
	if (errno != ENOENT)
		return errno;
	/* Left by a creation that failed or was cut short: never used. */
	*what = "removing data.mdb.new";
	if (unlink(tmp) != 0 && errno != ENOENT)
		return errno;
	/* No LMDB lock file: the flock keeps everyone else out. */
	if ((rc = env_open(ls, tmp, MDB_NOSUBDIR | MDB_NOLOCK, &env, NULL,
		 what)) != 0)
		return rc;
	*what = "syncing data.mdb.new";
	rc = mdb_env_sync(env, 1);
	mdb_env_close(env);
	if (rc != 0)
		return rc;
	*what = "renaming data.mdb.new to data.mdb";
	if (rename(tmp, path) != 0)
		return errno;
	*what = "syncing the data directory";
	return sync_dir(ls->dir);
}

/* Reopen after a fatal error (store.h, store_reopen). */
static int
l_reopen(struct store *s)
{
	struct lstore *ls = (struct lstore *)s;
	const char *what;
	int rc;

	env_drop(ls);
	if ((rc = env_open(ls, ls->dir, 0, &ls->env, ls->dbi, &what)) != 0) {
		rc = map_err(ls, rc, what);
		store_set_broken(s, "reopening the store: %s", s->errmsg);
		return rc;
	}
	/* LMDB put the old meta page back after the failed write, but only
	 * in the page cache: make it durable before building on it. */
	if (s->durability != STORE_NONE &&
	    (rc = mdb_env_sync(ls->env, 1)) != 0) {
		rc = map_err(ls, rc, "syncing the reopened store");
		store_set_broken(s, "%s", s->errmsg);
		env_drop(ls);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &ls->last_sync);
	return AF_OK;
}

static int
l_usage(struct store *s, uint64_t *used, uint64_t *size)
{
	struct lstore *ls = (struct lstore *)s;
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	if (ls->env == NULL)
		return store_refuse(s, AF_ESTORE,
		    "the store is closed until it is reopened");
	if ((rc = mdb_env_info(ls->env, &info)) != 0 ||
	    (rc = mdb_env_stat(ls->env, &st)) != 0)
		return map_err(ls, rc, "mdb_env_info");
	*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	*size = info.me_mapsize;
	return AF_OK;
}

static int
l_db_stat(struct store_txn *pt, enum store_db db, struct store_db_stat *out)
{
	struct ltxn *t = (struct ltxn *)pt;
	struct lstore *ls = (struct lstore *)pt->store;
	MDB_stat st;
	int rc;

	if (ls->absent[db]) {
		out->entries = out->pages = 0;
		return AF_OK;
	}
	if ((rc = mdb_stat(t->txn, ls->dbi[db], &st)) != 0)
		return map_err(ls, rc, "mdb_stat");
	out->entries = st.ms_entries;
	out->pages = (uint64_t)st.ms_branch_pages + st.ms_leaf_pages +
	    st.ms_overflow_pages;
	return AF_OK;
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
	.reopen = l_reopen,
	.usage = l_usage,
	.db_stat = l_db_stat,
};

int
store_open_lmdb(const char *dir, const struct store_opts *opts,
    struct store **out, char *err, size_t errlen)
{
	struct lstore *ls;
	char path[4096];
	const char *what;
	int rc;

	*out = NULL;
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return AF_ENOMEM;
	if ((ls->dir = strdup(dir)) == NULL) {
		free(ls);
		return AF_ENOMEM;
	}
	ls->pub.ops = &lmdb_ops;
	ls->pub.impl = ls;
	ls->pub.durability = opts ? opts->durability : STORE_FULL;
	ls->map_size = opts && opts->map_size ? opts->map_size :
						(size_t)8 << 30;
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
		free(ls->dir);
		free(ls);
		return AF_ESTORE;
	}
	if (flock(ls->lockfd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen,
		    "data directory %s is in use by another "
		    "asyncflowd",
		    dir);
		close(ls->lockfd);
		free(ls->dir);
		free(ls);
		return AF_ESTATE;
	}
	if ((rc = env_create(ls, &what)) != 0 ||
	    (rc = env_open(ls, dir, 0, &ls->env, ls->dbi, &what)) != 0) {
		rc = map_err(ls, rc, what);
		snprintf(err, errlen, "lmdb open %s: %s", dir, ls->pub.errmsg);
		close(ls->lockfd);
		free(ls->dir);
		free(ls);
		return rc == AF_ENOTFOUND ? AF_ESTORE : rc;
	}
	*out = &ls->pub;
	return AF_OK;
}

int
store_open_lmdb_snapshot(const char *dir, const struct store_opts *opts,
    struct store **out, char *err, size_t errlen)
{
	struct lstore *ls;
	struct store_txn *t;
	const char *what;
	int rc;

	*out = NULL;
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return AF_ENOMEM;
	if ((ls->dir = strdup(dir)) == NULL) {
		free(ls);
		return AF_ENOMEM;
	}
	ls->pub.ops = &lmdb_ops;
	ls->pub.impl = ls;
	ls->pub.durability = STORE_FULL; /* nothing is written */
	ls->map_size = opts && opts->map_size ? opts->map_size :
						(size_t)8 << 30;
	ls->lockfd = -1; /* the daemon holds the flock; readers need none */
	ls->snapshot = true;
	ls->rtxn.ls = ls->wtxn.ls = ls;
	ls->rtxn.pub.store = ls->wtxn.pub.store = &ls->pub;
	ls->rtxn.pub.rdonly = true;
	if ((rc = env_open(ls, dir, MDB_RDONLY, &ls->env, ls->dbi, &what)) !=
	    0) {
		rc = map_err(ls, rc, what);
		snprintf(err, errlen, "lmdb open %s (read-only): %s", dir,
		    ls->pub.errmsg);
		free(ls->dir);
		free(ls);
		return rc == AF_ENOTFOUND ? AF_ESTORE : rc;
	}
	/* Take the snapshot now: every later read sees this moment. */
	if ((rc = l_txn_begin(&ls->pub, true, &t)) != AF_OK) {
		snprintf(err, errlen, "lmdb snapshot %s: %s", dir,
		    ls->pub.errmsg);
		l_close(&ls->pub);
		return rc;
	}
	l_txn_abort(t);
	*out = &ls->pub;
	return AF_OK;
}
