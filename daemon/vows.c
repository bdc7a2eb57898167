/*
 * vows.c: the vow table (see vows.h). A write-back cache of struct vow
 * keyed by id, plus a list of pending watcher-row changes.
 */
#include <sys/random.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "buf.h"
#include "vows.h"

struct watch_op {
	uint8_t key[WATCH_KEY_LEN];
	bool put;
};

struct fchanges {
	size_t n, cap;
	struct {
		uint64_t id;
		bool put;
	} c[];
};

/*
 * Resolver secrets are taken from a pool filled by one getrandom for
 * SECRET_POOL_N of them: a system call per vow was most of the cost of
 * making one (issue 10's child_flows_per_s). Bytes handed out are wiped
 * from the pool at once; what is left is wiped at vowtab_free. A forked
 * child discards the pool it inherited (fork_gen), so two processes never
 * hand out the same secret.
 */
#define SECRET_POOL_N 256

static unsigned long fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

struct vowtab {
	struct store *s;
	struct u64map cache; /* id -> struct vow * */
	uint64_t next_id;    /* last id handed out */
	uint64_t settle_seq;
	bool counters_dirty;
	struct watch_op *wops;
	size_t nwops, capwops;
	struct u64map pfollow; /* target -> struct fchanges: this pass's
				     * follower rows, for followers() */
	struct u64map wlast;   /* watch key hash -> 1 + index of its last op in
			      * wops, at flush (see last_wops) */
	vow_settled_fn *cb;
	void *ctx;
	struct buf scratch;
	struct vow **flushv; /* vowtab_flush's dirty vows, in id order */
	size_t capflush;
	/* The OWNING_META row (tables.h) as committed plus this pass's. */
	struct meta_batch owning;
	uint8_t owning_keys[OWNING_MAX][OWNED_VOW_KEY_LEN];
	uint8_t pool[SECRET_POOL_N * VOW_SECRET_LEN];
	size_t pool_left;       /* unused bytes, at the pool's start */
	unsigned long pool_gen; /* fork_gen when it was filled */
};

static void clear_pfollow(struct vowtab *vt);

bool
vow_secret_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;

	for (int i = 0; i < VOW_SECRET_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

/*
 * SipHash-2-4 with its 128-bit output (Aumasson and Bernstein), on the
 * secret, under a fixed key. Why not SHA-256: a settlement hashes two
 * secrets (the vow's and the outcome's), and a SHA-256 block costs about
 * 0.8 us on these machines, a few % of settle->wake; this costs about
 * 0.05 us. Why it is enough: the input is 16 uniformly random bytes, and
 * what is kept must only answer the identical repeat without being the
 * secret, i.e. resist a preimage (collisions and key secrecy do not
 * matter: whoever reads the store reads every value anyway). No way is
 * known to invert SipHash's 128-bit output better than trying 2^128
 * inputs.
 */
#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3) \
	do { \
		v0 += v1; \
		v1 = SIP_ROTL(v1, 13); \
		v1 ^= v0; \
		v0 = SIP_ROTL(v0, 32); \
		v2 += v3; \
		v3 = SIP_ROTL(v3, 16); \
		v3 ^= v2; \
		v0 += v3; \
		v3 = SIP_ROTL(v3, 21); \
		v3 ^= v0; \
		v2 += v1; \
		v1 = SIP_ROTL(v1, 17); \
		v1 ^= v2; \
		v2 = SIP_ROTL(v2, 32); \
	} while (0)

static uint64_t
rd_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
wr_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void
vow_secret_hash(const uint8_t *secret, uint8_t out[VOW_SECRET_LEN])
{
	/* The key: "asyncflowd vows\0" read as two little-endian words. */
	static const uint64_t k0 = 0x6f6c66636e797361ULL,
			      k1 = 0x0073776f76206477ULL;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL,
		 v1 = k1 ^ 0x646f72616e646f6dULL ^ 0xee,
		 v2 = k0 ^ 0x6c7967656e657261ULL,
		 v3 = k1 ^ 0x7465646279746573ULL, m;
	uint8_t in[VOW_SECRET_LEN];
	int i, r;

	/* Read all of it first: out may be secret (the wipe in place). */
	memcpy(in, secret, VOW_SECRET_LEN);
	for (i = 0; i <= VOW_SECRET_LEN; i += 8) {
		/* The two words of the secret, then the length word. */
		m = i < VOW_SECRET_LEN ? rd_le64(in + i) :
					 (uint64_t)VOW_SECRET_LEN << 56;
		v3 ^= m;
		for (r = 0; r < 2; r++)
			SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	v2 ^= 0xee;
	for (r = 0; r < 4; r++)
		SIP_ROUND(v0, v1, v2, v3);
	wr_le64(out, v0 ^ v1 ^ v2 ^ v3);
	v1 ^= 0xdd;
	for (r = 0; r < 4; r++)
		SIP_ROUND(v0, v1, v2, v3);
	wr_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

void
vowtab_unowned(struct vowtab *vt, uint64_t id)
{
	struct vow *v = u64map_get(&vt->cache, id);

	if (v != NULL)
		v->made = false;
}

/* Whether secret is v's resolver: the secret itself while v is pending or
 * following, its hash once settled (or, for a row settled before secrets
 * were wiped, the secret). Constant time either way. */
static bool
secret_matches(const struct vow *v, const uint8_t *secret)
{
	uint8_t h[VOW_SECRET_LEN];
	bool raw, hashed;

	if (v->state != VOW_FULFILLED && v->state != VOW_REJECTED)
		return vow_secret_equal(secret, v->secret);
	vow_secret_hash(secret, h);
	raw = vow_secret_equal(secret, v->secret);
	hashed = vow_secret_equal(h, v->secret);
	return raw | hashed;
}

static void
on_fork_child(void)
{
	fork_gen++;
}

static void
watch_forks(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

/* VOW_SECRET_LEN fresh random bytes from the pool, refilled when empty or
 * inherited across a fork. AF_ESTORE when the kernel gives none. */
static int
take_secret(struct vowtab *vt, uint8_t out[VOW_SECRET_LEN])
{
	size_t got = 0;
	ssize_t r;

	if (vt->pool_gen != fork_gen) {
		explicit_bzero(vt->pool, sizeof(vt->pool));
		vt->pool_left = 0;
	}
	if (vt->pool_left < VOW_SECRET_LEN) {
		while (got < sizeof(vt->pool)) {
			r = getrandom(vt->pool + got, sizeof(vt->pool) - got,
			    0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		vt->pool_left = got - got % VOW_SECRET_LEN;
		vt->pool_gen = fork_gen;
		if (vt->pool_left == 0)
			return AF_ESTORE;
	}
	vt->pool_left -= VOW_SECRET_LEN;
	memcpy(out, vt->pool + vt->pool_left, VOW_SECRET_LEN);
	explicit_bzero(vt->pool + vt->pool_left, VOW_SECRET_LEN);
	return AF_OK;
}

/* A vow just made with an owner: its DB_OWNED row, first in the
 * OWNING_META row. */
static int
owning_add(struct vowtab *vt, struct store_txn *t, uint64_t owner,
    const uint8_t vkey[8])
{
	uint8_t key[OWNED_KEY_MAX];

	owned_key(key, owner, OWNED_VOW, vkey, 8);
	return meta_batch_add(&vt->owning, t, key);
}

int
vowtab_owned_flush(struct vowtab *vt, struct store_txn *t)
{
	int rc;

	if ((rc = meta_batch_flush(&vt->owning, t)) != AF_OK)
		return rc;
	return meta_batch_write(&vt->owning, t);
}

static int
read_counters(struct vowtab *vt, struct store_txn *t)
{
	int rc;

	rc = meta_get_u64(t, "next_vow", &vt->next_id);
	if (rc != AF_OK && rc != AF_ENOTFOUND)
		return rc;
	rc = meta_get_u64(t, "settle_seq", &vt->settle_seq);
	if (rc != AF_OK && rc != AF_ENOTFOUND)
		return rc;
	vt->counters_dirty = false;
	return meta_batch_load(&vt->owning, t);
}

int
vowtab_new(struct store *s, struct store_txn *t, vow_settled_fn *cb, void *ctx,
    struct vowtab **out)
{
	struct vowtab *vt;
	int rc;

	*out = NULL;
	pthread_once(&fork_once, watch_forks);
	if ((vt = calloc(1, sizeof(*vt))) == NULL)
		return AF_ENOMEM;
	vt->s = s;
	vt->pool_gen = fork_gen;
	vt->cb = cb;
	vt->ctx = ctx;
	vt->owning = (struct meta_batch){ OWNING_META, DB_OWNED,
		OWNED_VOW_KEY_LEN, OWNING_MAX, &vt->owning_keys[0][0], 0,
		false };
	u64map_init(&vt->cache);
	u64map_init(&vt->pfollow);
	u64map_init(&vt->wlast);
	buf_init(&vt->scratch);
	if ((rc = read_counters(vt, t)) != AF_OK) {
		vowtab_free(vt);
		return rc;
	}
	*out = vt;
	return AF_OK;
}

static void
vow_free(struct vow *v)
{
	if (v != NULL) {
		free(v->value);
		free(v);
	}
}

static void
drop_cache(struct vowtab *vt)
{
	size_t i = 0;
	uint64_t k;
	void *p;

	while (u64map_next(&vt->cache, &i, &k, &p))
		vow_free(p);
	u64map_reset(&vt->cache);
}

void
vowtab_free(struct vowtab *vt)
{
	if (vt == NULL)
		return;
	drop_cache(vt);
	u64map_release(&vt->cache);
	clear_pfollow(vt);
	u64map_release(&vt->pfollow);
	u64map_release(&vt->wlast);
	free(vt->wops);
	buf_release(&vt->scratch);
	free(vt->flushv);
	explicit_bzero(vt->pool, sizeof(vt->pool));
	free(vt);
}

int
vowtab_make(struct vowtab *vt, uint64_t owner, uint64_t *id,
    uint8_t secret[VOW_SECRET_LEN])
{
	struct vow *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return AF_ENOMEM;
	if (take_secret(vt, v->secret) != AF_OK) {
		free(v);
		return AF_ESTORE;
	}
	v->id = vt->next_id + 1;
	v->state = VOW_PENDING;
	v->owner = owner;
	v->dirty = true;
	v->made = owner != 0;
	if (u64map_put(&vt->cache, v->id, v) != AF_OK) {
		free(v);
		return AF_ENOMEM;
	}
	vt->next_id++;
	vt->counters_dirty = true;
	*id = v->id;
	if (secret != NULL)
		memcpy(secret, v->secret, VOW_SECRET_LEN);
	return AF_OK;
}

int
vowtab_get(struct vowtab *vt, uint64_t id, struct vow **out)
{
	struct store_txn *t;
	struct store_val val;
	struct vow_row row;
	struct vow *v;
	uint8_t key[8];
	int rc;

	*out = NULL;
	if ((v = u64map_get(&vt->cache, id)) != NULL) {
		*out = v;
		return AF_OK;
	}
	if (id == 0 || id > vt->next_id)
		return AF_ENOTFOUND;
	store_be64(key, id);
	if ((rc = store_begin(vt->s, true, &t)) != AF_OK)
		return rc;
	rc = store_get(t, DB_VOWS, (struct store_val){ key, 8 }, &val);
	if (rc == AF_OK)
		rc = vow_row_parse(val.p, val.n, &row);
	if (rc == AF_OK && (v = calloc(1, sizeof(*v))) == NULL)
		rc = AF_ENOMEM;
	if (rc == AF_OK) {
		v->id = id;
		v->state = row.state;
		memcpy(v->secret, row.secret, VOW_SECRET_LEN);
		v->follows = row.follows;
		v->settled_seq = row.settled_seq;
		v->owner = row.owner;
		v->followed = row.followed;
		v->invocation = row.invocation;
		v->resolved_with = row.resolved_with;
		if (row.value.ptr != NULL) {
			v->value = malloc(row.value.len ? row.value.len : 1);
			if (v->value == NULL)
				rc = AF_ENOMEM;
			else
				memcpy(v->value, row.value.ptr, row.value.len);
			v->value_n = row.value.len;
		}
	}
	store_abort(t);
	if (rc == AF_OK && u64map_put(&vt->cache, id, v) != AF_OK)
		rc = AF_ENOMEM;
	if (rc != AF_OK) {
		vow_free(v);
		return rc;
	}
	*out = v;
	return AF_OK;
}

static void
clear_pfollow(struct vowtab *vt)
{
	size_t i = 0;
	uint64_t k;
	void *p;

	while (u64map_next(&vt->pfollow, &i, &k, &p))
		free(p);
	u64map_reset(&vt->pfollow);
}

static int
note_follower(struct vowtab *vt, uint64_t target, uint64_t id, bool put)
{
	struct fchanges *f = u64map_get(&vt->pfollow, target), *nf;

	if (f == NULL || f->n == f->cap) {
		size_t ncap = f ? f->cap * 2 : 4;

		if ((nf = realloc(f, sizeof(*nf) + ncap * sizeof(nf->c[0]))) ==
		    NULL)
			return AF_ENOMEM;
		if (f == NULL)
			nf->n = 0;
		nf->cap = ncap;
		f = nf;
		if (u64map_put(&vt->pfollow, target, f) != AF_OK) {
			free(f);
			return AF_ENOMEM;
		}
	}
	f->c[f->n].id = id;
	f->c[f->n].put = put;
	f->n++;
	return AF_OK;
}

static int
add_wop(struct vowtab *vt, uint64_t vow, enum watch_kind k, uint64_t id,
    bool put)
{
	struct watch_op *w;

	if (vt->nwops == vt->capwops) {
		size_t ncap = vt->capwops ? vt->capwops * 2 : 64;
		w = realloc(vt->wops, ncap * sizeof(*w));
		if (w == NULL)
			return AF_ENOMEM;
		vt->wops = w;
		vt->capwops = ncap;
	}
	w = &vt->wops[vt->nwops++];
	watch_key(w->key, vow, k, id);
	w->put = put;
	return k == WATCH_FOLLOWER ? note_follower(vt, vow, id, put) : AF_OK;
}

int
vowtab_watch(struct vowtab *vt, uint64_t vow, enum watch_kind k, uint64_t id)
{
	return add_wop(vt, vow, k, id, true);
}

int
vowtab_unwatch(struct vowtab *vt, uint64_t vow, enum watch_kind k, uint64_t id)
{
	return add_wop(vt, vow, k, id, false);
}

struct idvec {
	uint64_t *v;
	size_t n, cap;
	uint8_t prefix[9]; /* target ‖ WATCH_FOLLOWER */
};

static int
idvec_push(struct idvec *l, uint64_t id)
{
	uint64_t *tmp;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		if ((tmp = realloc(l->v, l->cap * sizeof(*tmp))) == NULL)
			return AF_ENOMEM;
		l->v = tmp;
	}
	l->v[l->n++] = id;
	return AF_OK;
}

static int
follower_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct idvec *l = ctx;

	(void)v;
	if (k.n != WATCH_KEY_LEN || memcmp(k.p, l->prefix, 9) != 0)
		return 1;
	return idvec_push(l, store_rd_be64((const uint8_t *)k.p + 9));
}

/* The ids of vows following `target`: committed rows, then this pass's
 * changes applied in order. */
static int
followers(struct vowtab *vt, uint64_t target, uint64_t **ids, size_t *n)
{
	struct idvec l = { NULL, 0, 0, { 0 } };
	uint8_t key[WATCH_KEY_LEN];
	struct fchanges *fc;
	size_t i, j;
	int rc;

	*ids = NULL;
	*n = 0;
	watch_key(key, target, WATCH_FOLLOWER, 0);
	memcpy(l.prefix, key, 9);
	rc = store_scan(vt->s, DB_WATCHERS, key, WATCH_KEY_LEN, follower_cb,
	    &l);
	if ((fc = u64map_get(&vt->pfollow, target)) != NULL) {
		for (i = 0; i < fc->n && rc == AF_OK; i++) {
			for (j = 0; j < l.n && l.v[j] != fc->c[i].id; j++)
				;
			if (fc->c[i].put && j == l.n)
				rc = idvec_push(&l, fc->c[i].id);
			else if (!fc->c[i].put && j < l.n)
				l.v[j] = l.v[--l.n];
		}
	}
	if (rc != AF_OK) {
		free(l.v);
		return rc;
	}
	*ids = l.v;
	*n = l.n;
	return AF_OK;
}

/* v reached a final state: number it, tell the engine, and settle the
 * vows that follow it the same way, and theirs. A worklist, not recursion:
 * a chain built link by link can be any length. */
static int
finalize(struct vowtab *vt, struct vow *v)
{
	uint64_t *work = NULL, *ids, *tmp;
	size_t nw = 0, capw = 0, n, i;
	struct vow *x, *f;
	int rc = AF_OK;

	for (x = v; x != NULL && rc == AF_OK;
	     x = nw > 0 && vowtab_get(vt, work[--nw], &f) == AF_OK ? f : NULL) {
		x->settled_seq = ++vt->settle_seq;
		vt->counters_dirty = true;
		x->dirty = true;
		/* Settled: the secret is no longer a right to anything but
		 * the identical repeat, which its hash answers. */
		vow_secret_hash(x->secret, x->secret);
		if (vt->cb != NULL)
			vt->cb(vt->ctx, x);
		if (!x->followed)
			continue;
		if ((rc = followers(vt, x->id, &ids, &n)) != AF_OK)
			break;
		for (i = 0; i < n && rc == AF_OK; i++) {
			if ((rc = vowtab_get(vt, ids[i], &f)) != AF_OK)
				break;
			if (f->state != VOW_FOLLOWING || f->follows != x->id)
				continue;
			f->state = x->state;
			free(f->value);
			f->value = NULL;
			f->value_n = x->value_n;
			if (x->value_n &&
			    (f->value = malloc(x->value_n)) == NULL) {
				rc = AF_ENOMEM;
				break;
			}
			if (x->value_n)
				memcpy(f->value, x->value, x->value_n);
			if ((rc = vowtab_unwatch(vt, x->id, WATCH_FOLLOWER,
				 f->id)) != AF_OK)
				break;
			if (nw == capw) {
				capw = capw ? capw * 2 : 16;
				if ((tmp = realloc(work,
					 capw * sizeof(*work))) == NULL) {
					rc = AF_ENOMEM;
					break;
				}
				work = tmp;
			}
			work[nw++] = f->id;
		}
		free(ids);
	}
	free(work);
	return rc;
}

static int
set_value(struct vow *v, const void *enc, size_t n)
{
	uint8_t *p = NULL;

	if (n && (p = malloc(n)) == NULL)
		return AF_ENOMEM;
	if (n)
		memcpy(p, enc, n);
	free(v->value);
	v->value = p;
	v->value_n = n;
	return AF_OK;
}

int
vowtab_settle(struct vowtab *vt, uint64_t id, const uint8_t *secret,
    bool reject, const void *enc, size_t n, uint64_t follow_id)
{
	struct vow *v, *target;
	uint64_t end;
	int rc;

	if ((rc = vowtab_get(vt, id, &v)) != AF_OK)
		return rc;
	if (secret != NULL && !secret_matches(v, secret))
		return AF_EDENIED;
	if (reject)
		follow_id = 0;
	if (v->state != VOW_PENDING) {
		/* Settled or following already: only the identical repeat. */
		if (follow_id != 0)
			return v->resolved_with == follow_id ? AF_OK :
							       AF_ESETTLED;
		if (v->resolved_with == 0 &&
		    v->state == (reject ? VOW_REJECTED : VOW_FULFILLED) &&
		    v->value_n == n && memcmp(v->value, enc, n) == 0)
			return AF_OK;
		return AF_ESETTLED;
	}
	if (follow_id == 0) {
		if ((rc = set_value(v, enc, n)) != AF_OK)
			return rc;
		v->state = reject ? VOW_REJECTED : VOW_FULFILLED;
		return finalize(vt, v);
	}

	/* Follow the end of follow_id's chain. */
	end = follow_id;
	for (;;) {
		if ((rc = vowtab_get(vt, end, &target)) != AF_OK)
			return rc;
		if (target->id == id)
			return AF_ECYCLE;
		if (target->state != VOW_FOLLOWING)
			break;
		end = target->follows;
	}
	v->follows = follow_id;
	v->resolved_with = follow_id;
	v->dirty = true;
	if (target->state == VOW_PENDING) {
		v->state = VOW_FOLLOWING;
		v->follows = target->id;
		target->followed = true;
		target->dirty = true;
		/* Vows that followed v keep doing so: re-pointing them all
		 * would make a chain built link by link quadratic. They
		 * settle through v (finalize is iterative). */
		return vowtab_watch(vt, target->id, WATCH_FOLLOWER, v->id);
	}
	if ((rc = set_value(v, target->value, target->value_n)) != AF_OK)
		return rc;
	v->state = target->state;
	return finalize(vt, v);
}

static int
put_or_del(struct store_txn *t, enum store_db db, struct store_val k, bool put)
{
	int rc;

	if (put)
		return store_put(t, db, k, (struct store_val){ "", 0 }, false);
	rc = store_del(t, db, k);
	return rc == AF_ENOTFOUND ? AF_OK : rc;
}

/* FNV-1a of a watch key, never 0 (u64map's reserved key). */
static uint64_t
wkey_hash(const uint8_t *k)
{
	uint64_t h = 14695981039346656037ULL;

	for (int i = 0; i < WATCH_KEY_LEN; i++) {
		h ^= k[i];
		h *= 1099511628211ULL;
	}
	return h != 0 ? h : 1;
}

/*
 * Only the last of a pass's changes to one watch row decides what the
 * store holds after the commit, so the earlier ones need not be written:
 * a row watched and unwatched in one pass (an awaited vow settled in the
 * pass that made it, as a child's outcome is) was a put and a delete of
 * each of two rows, the most expensive writes of the pass. Fills wlast
 * with each key's last op; wop_superseded(i) is then whether a later op
 * has op i's key (checked in full, so a hash collision only means that
 * both ops are written, in order, as before).
 */
static int
last_wops(struct vowtab *vt)
{
	size_t i;

	u64map_reset(&vt->wlast);
	for (i = 0; i < vt->nwops; i++)
		if (u64map_put(&vt->wlast, wkey_hash(vt->wops[i].key),
			(void *)(uintptr_t)(i + 1)) != AF_OK)
			return AF_ENOMEM;
	return AF_OK;
}

static bool
wop_superseded(const struct vowtab *vt, size_t i)
{
	const uint8_t *k = vt->wops[i].key;
	size_t last = (uintptr_t)u64map_get(&vt->wlast, wkey_hash(k));

	return last > i + 1 &&
	    memcmp(vt->wops[last - 1].key, k, WATCH_KEY_LEN) == 0;
}

static int
vow_id_cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct vow *const *)a)->id,
		 y = (*(struct vow *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* More than this many pointers are not kept between passes. */
#define FLUSHV_KEEP 4096

/*
 * The pass's dirty vows into vt->flushv, in id order (*n of them). Rows
 * put in key order fill LMDB's leaves: a new key put before the last of a
 * full page splits it in half, and nothing fills the left half again (ids
 * only grow). False without the memory for the list.
 */
static bool
dirty_vows(struct vowtab *vt, size_t *n)
{
	struct vow **a;
	size_t i = 0, cap;
	uint64_t k;
	void *p;

	*n = 0;
	if (vt->capflush < vt->cache.len) {
		cap = vt->cache.len < 64 ? 64 : vt->cache.len;
		if ((a = realloc(vt->flushv, cap * sizeof(*a))) == NULL)
			return false;
		vt->flushv = a;
		vt->capflush = cap;
	}
	while (u64map_next(&vt->cache, &i, &k, &p))
		if (((struct vow *)p)->dirty)
			vt->flushv[(*n)++] = p;
	if (*n > 1)
		qsort(vt->flushv, *n, sizeof(*vt->flushv), vow_id_cmp);
	return true;
}

static int
vow_put(struct vowtab *vt, struct store_txn *t, const struct vow *v)
{
	struct vow_row row;
	uint8_t key[8];
	int rc;

	memset(&row, 0, sizeof(row));
	row.state = v->state;
	memcpy(row.secret, v->secret, VOW_SECRET_LEN);
	if (v->state == VOW_FULFILLED || v->state == VOW_REJECTED)
		row.value = (struct af_str){ (const char *)v->value,
			v->value_n };
	if (row.value.ptr == NULL && row.value.len == 0 &&
	    (v->state == VOW_FULFILLED || v->state == VOW_REJECTED))
		row.value.ptr = "";
	row.follows = v->follows;
	row.settled_seq = v->settled_seq;
	row.owner = v->owner;
	row.followed = v->followed;
	row.invocation = v->invocation;
	row.resolved_with = v->resolved_with;
	buf_reset(&vt->scratch);
	if ((rc = vow_row_encode(&vt->scratch, &row)) != AF_OK)
		return rc;
	store_be64(key, v->id);
	rc = store_put(t, DB_VOWS, (struct store_val){ key, 8 },
	    (struct store_val){ vt->scratch.p, vt->scratch.len }, false);
	if (rc != AF_OK)
		return rc;
	if (v->made && (rc = owning_add(vt, t, v->owner, key)) != AF_OK)
		return rc;
	return AF_OK;
}

/* The dirty vows' rows, in id order when there is the memory to sort. */
static int
put_dirty_vows(struct vowtab *vt, struct store_txn *t)
{
	size_t i = 0, n;
	uint64_t k;
	void *p;
	int rc = AF_OK;

	if (!dirty_vows(vt, &n)) {
		while (rc == AF_OK && u64map_next(&vt->cache, &i, &k, &p))
			if (((struct vow *)p)->dirty)
				rc = vow_put(vt, t, p);
		return rc;
	}
	for (i = 0; rc == AF_OK && i < n; i++)
		rc = vow_put(vt, t, vt->flushv[i]);
	if (vt->capflush > FLUSHV_KEEP) { /* a big pass's list goes */
		free(vt->flushv);
		vt->flushv = NULL;
		vt->capflush = 0;
	}
	return rc;
}

int
vowtab_flush(struct vowtab *vt, struct store_txn *t)
{
	size_t i;
	int rc;

	if ((rc = put_dirty_vows(vt, t)) != AF_OK)
		return rc;
	if ((rc = last_wops(vt)) != AF_OK)
		return rc;
	for (i = 0; i < vt->nwops; i++) {
		const uint8_t *wkey = vt->wops[i].key;
		struct store_val wk = { wkey, WATCH_KEY_LEN };
		uint8_t hkey[16];

		if (wop_superseded(vt, i))
			continue;
		if ((rc = put_or_del(t, DB_WATCHERS, wk, vt->wops[i].put)) !=
		    AF_OK)
			return rc;
		if (wkey[8] != WATCH_ACT)
			continue;
		/* The same row keyed by activation first. */
		memcpy(hkey, wkey + 9, 8);
		memcpy(hkey + 8, wkey, 8);
		rc = put_or_del(t, DB_HOLDS, (struct store_val){ hkey, 16 },
		    vt->wops[i].put);
		if (rc != AF_OK)
			return rc;
	}
	if (vt->counters_dirty) {
		if ((rc = meta_put_u64(t, "next_vow", vt->next_id)) != AF_OK)
			return rc;
		if ((rc = meta_put_u64(t, "settle_seq", vt->settle_seq)) !=
		    AF_OK)
			return rc;
	}
	return meta_batch_write(&vt->owning, t);
}

void
vowtab_after_commit(struct vowtab *vt)
{
	vt->owning.dirty = false;
	drop_cache(vt);
	vt->nwops = 0;
	u64map_reset(&vt->wlast);
	clear_pfollow(vt);
	vt->counters_dirty = false;
}

int
vowtab_discard(struct vowtab *vt)
{
	struct store_txn *t;
	int rc;

	drop_cache(vt);
	vt->nwops = 0;
	u64map_reset(&vt->wlast);
	clear_pfollow(vt);
	if ((rc = store_begin(vt->s, true, &t)) != AF_OK)
		return rc;
	rc = read_counters(vt, t);
	store_abort(t);
	return rc;
}

int
vowtab_forget(struct vowtab *vt)
{
	if (vt->counters_dirty || vt->nwops > 0 || vt->owning.dirty)
		return vowtab_discard(vt);
	drop_cache(vt);
	clear_pfollow(vt);
	return AF_OK;
}

uint64_t
vowtab_settle_seq(const struct vowtab *vt)
{
	return vt->settle_seq;
}

struct held_ctx {
	uint64_t act;
	uint64_t *ids;
	size_t n, cap;
};

/* DB_HOLDS keys act ‖ vow while the first half is the activation's. */
static int
held_cb(void *ctx, struct store_val k, struct store_val v)
{
	struct held_ctx *hc = ctx;
	uint64_t *np;

	(void)v;
	if (k.n != 16 || store_rd_be64(k.p) != hc->act)
		return 1;
	if (hc->n == hc->cap) {
		hc->cap = hc->cap ? 2 * hc->cap : 16;
		if ((np = realloc(hc->ids, hc->cap * sizeof(*np))) == NULL)
			return AF_ENOMEM;
		hc->ids = np;
	}
	hc->ids[hc->n++] = store_rd_be64((const uint8_t *)k.p + 8);
	return 0;
}

int
vowtab_held_by(struct vowtab *vt, uint64_t act, uint64_t **ids, size_t *n)
{
	struct held_ctx hc = { act, NULL, 0, 0 };
	uint8_t key[16];
	int rc;

	store_be64(key, act);
	store_be64(key + 8, 0);
	if ((rc = store_scan(vt->s, DB_HOLDS, key, 16, held_cb, &hc)) !=
	    AF_OK) {
		free(hc.ids);
		hc.ids = NULL;
		hc.n = 0;
	}
	*ids = hc.ids;
	*n = hc.n;
	return rc;
}
