/*
 * serve.c: client-served objects. A connection that sends Serve(name)
 * becomes a server of that object; the engine's invocations of it (its
 * outbox) are pushed to the servers round robin, each server getting more
 * only while what it has not answered yet is under a 4 MiB window, and an
 * invocation whose server went away, or whose answer was rolled back with
 * a failed pass, is delivered again (at least once: servers treat the
 * result vow as an idempotency key).
 *
 * Not here: the request table, held replies and waits (api.c), the other
 * operations (api_ops.c), the outbox rows themselves (the engine).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "api_invocation.h"
#include "log.h"

/* Flow control: a server gets more invocations only while those it has
 * not answered yet add up to less than this (it always gets one), so a
 * backlog reaches it as it works instead of all at once past the
 * connection's output limit. */
#define SERVE_WINDOW_BYTES (4u << 20)

/* An invocation pushed to a server and not answered yet. */
struct sent {
	uint64_t conn;
	size_t bytes;
};

/* Servers of one object name, and its invocations nobody has taken. */
struct objsrv {
	char *name;
	uint64_t *conns;
	size_t nconns, capconns, rr;
	uint64_t *pending; /* result vows */
	size_t npending, cappending;
};

/* ---- Invocations: client-served objects ------------------------------------ */

/* The servers of the object named by the len bytes at name (no NUL in
 * them); with create, a new empty entry if there is none. NULL: none, or
 * out of memory. */
static struct objsrv *
objsrv_n(struct api *api, const char *name, size_t len, bool create)
{
	struct objsrv *o;
	uintptr_t i = (uintptr_t)strmap_get(&api->objidx, name, len);

	if (i != 0)
		return &api->objs[i - 1];
	if (!create ||
	    api_grow((void **)&api->objs, &api->capobjs, api->nobjs + 1,
		sizeof(*o)) != AF_OK)
		return NULL;
	o = &api->objs[api->nobjs];
	memset(o, 0, sizeof(*o));
	if ((o->name = strndup(name, len)) == NULL)
		return NULL;
	if (strmap_put(&api->objidx, o->name, len,
		(void *)(uintptr_t)(api->nobjs + 1)) != AF_OK) {
		free(o->name);
		return NULL;
	}
	api->nobjs++;
	return o;
}

/*
 * Forget the entry at index i: nobody serves it and nothing waits for a
 * server, so nothing needs its name (an invocation pushed to a server that
 * goes away finds the entry again by name, made anew). The last entry
 * moves into its place.
 */
static void
objsrv_drop(struct api *api, size_t i)
{
	struct objsrv *o = &api->objs[i], *last;

	assert(o->nconns == 0 && o->npending == 0);
	strmap_del(&api->objidx, o->name, strlen(o->name));
	free(o->name);
	free(o->conns);
	free(o->pending);
	if (i != --api->nobjs) {
		last = &api->objs[api->nobjs];
		*o = *last;
		/* Replacing an entry cannot fail. */
		strmap_put(&api->objidx, o->name, strlen(o->name),
		    (void *)(uintptr_t)(i + 1));
	}
}

static struct objsrv *
objsrv(struct api *api, const char *name, bool create)
{
	return objsrv_n(api, name, strlen(name), create);
}

bool
serve_has_server(struct api *api, const char *object)
{
	const struct objsrv *o = objsrv(api, object, false);

	return o != NULL && o->nconns > 0;
}

static size_t
inflight(struct api *api, uint64_t conn)
{
	return (size_t)(uintptr_t)u64map_get(&api->inflight, conn);
}

static void
inflight_add(struct api *api, uint64_t conn, size_t bytes, bool add)
{
	size_t now = inflight(api, conn);

	now = add ? now + bytes : (now > bytes ? now - bytes : 0);
	if (now == 0)
		u64map_del(&api->inflight, conn);
	else
		u64map_put(&api->inflight, conn, (void *)(uintptr_t)now);
}

/* The invocation was answered, or its server is gone: forget the push. */
static void
unassign(struct api *api, uint64_t vow)
{
	struct sent *st = u64map_del(&api->assigned, vow);

	if (st != NULL) {
		inflight_add(api, st->conn, st->bytes, false);
		free(st);
	}
}

enum push_result { PUSHED, ANSWERED, RETRY };

/* Queue the invocation's event for conn (after this pass's replies).
 * ANSWERED: it is no longer in the outbox; RETRY: a transient failure
 * (memory, a store read), keep it waiting. */
static enum push_result
push_invocation(struct api *api, uint64_t conn, uint64_t vow)
{
	Asyncflow__ServerMessage m = ASYNCFLOW__SERVER_MESSAGE__INIT;
	Asyncflow__Event ev = ASYNCFLOW__EVENT__INIT;
	Asyncflow__Invocation *inv;
	struct held h = { conn, 0, NULL, 0, false };
	struct sent *st;
	int rc;

	buf_reset(&api->b);
	if ((rc = api_invocation(api->e, vow, true, &api->b)) != AF_OK)
		return rc == AF_ENOTFOUND ? ANSWERED : RETRY;
	if ((inv = asyncflow__invocation__unpack(NULL, api->b.len, api->b.p)) ==
	    NULL)
		return RETRY;
	ev.kind_case = ASYNCFLOW__EVENT__KIND_INVOCATION;
	ev.invocation = inv;
	m.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_EVENT;
	m.event = &ev;
	h.msg = api_pack_message(&m, &h.n);
	asyncflow__invocation__free_unpacked(inv, NULL);
	st = malloc(sizeof(*st));
	if (h.msg == NULL || st == NULL ||
	    api_grow((void **)&api->post, &api->cappost, api->npost + 1,
		sizeof(h)) != AF_OK) {
		free(h.msg);
		free(st);
		return RETRY;
	}
	unassign(api, vow);
	st->conn = conn;
	st->bytes = h.n;
	if (u64map_put(&api->assigned, vow, st) != AF_OK) {
		free(h.msg);
		free(st);
		return RETRY;
	}
	api->post[api->npost++] = h;
	inflight_add(api, conn, h.n, true);
	return PUSHED;
}

/* Push to the next server of o that has room in its window. false: none
 * has room (or a transient failure): the caller keeps the vow waiting. */
static bool
try_push(struct api *api, struct objsrv *o, uint64_t vow)
{
	uint64_t conn;
	size_t k;

	for (k = 0; k < o->nconns; k++) {
		conn = o->conns[(o->rr + k) % o->nconns];
		if (inflight(api, conn) < SERVE_WINDOW_BYTES) {
			o->rr += k + 1;
			return push_invocation(api, conn, vow) != RETRY;
		}
	}
	return false;
}

static void
keep_waiting(struct api *api, struct objsrv *o, uint64_t vow)
{
	if (api_grow((void **)&o->pending, &o->cappending, o->npending + 1,
		sizeof(uint64_t)) == AF_OK)
		o->pending[o->npending++] = vow;
	else
		api->serve_lost = true;
}

/* Hand out waiting invocations in order while servers have room. */
static void
flush_pending(struct api *api, struct objsrv *o)
{
	size_t i = 0;

	while (i < o->npending && try_push(api, o, o->pending[i]))
		i++;
	if (i > 0) {
		memmove(o->pending, o->pending + i,
		    (o->npending - i) * sizeof(*o->pending));
		o->npending -= i;
	}
}

/* A new (or returned) invocation: behind those already waiting. */
static void
dispatch(struct api *api, struct objsrv *o, uint64_t vow)
{
	if (o->npending > 0 || !try_push(api, o, vow))
		keep_waiting(api, o, vow);
}

static void
dispatch_new(struct api *api, uint64_t vow)
{
	struct engine_invocation inv;
	struct objsrv *o;
	int rc;

	/* Only the object's name is needed here: no wire form is built. */
	if ((rc = engine_invocation(api->e, vow, false, &inv)) != AF_OK) {
		if (rc != AF_ENOTFOUND) {
			log_error("invocation %llu could not be read (%s); it "
				  "is delivered once the outbox can be read",
			    (unsigned long long)vow, af_strerror(rc));
			api->serve_lost = true;
		}
		engine_invocation_release(&inv);
		return;
	}
	if ((o = objsrv_n(api, inv.object.ptr, inv.object.len, true)) != NULL)
		dispatch(api, o, vow);
	else
		api->serve_lost = true;
	engine_invocation_release(&inv);
}

static int
load_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	struct api *api = ctx;
	struct objsrv *o = objsrv(api, object, true);

	(void)act;
	if (o != NULL)
		keep_waiting(api, o, vow);
	else
		api->serve_lost = true; /* rebuilt after the first pass */
	return AF_OK;
}

/* Servers' windows may have room: hand out what waits, oldest first. */
static void
flush_all(struct api *api)
{
	size_t i;

	for (i = 0; i < api->nobjs; i++)
		if (api->objs[i].npending > 0 && api->objs[i].nconns > 0)
			flush_pending(api, &api->objs[i]);
}

int
api_op_serve(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ServeReply reply, *sr = &reply;
	const char *name = req->serve->object;
	struct objsrv *o;
	size_t i;

	if (name == NULL || *name == '\0' || strlen(name) > 255)
		return AF_EINVAL;
	if ((o = objsrv(api, name, true)) == NULL)
		return AF_ENOMEM;
	for (i = 0; i < o->nconns && o->conns[i] != conn; i++)
		;
	if (i == o->nconns) {
		if (api_grow((void **)&o->conns, &o->capconns, o->nconns + 1,
			sizeof(uint64_t)) != AF_OK)
			return AF_ENOMEM;
		o->conns[o->nconns++] = conn;
	}
	asyncflow__serve_reply__init(sr);
	sr->pending = o->npending;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_SERVE;
	r.serve = sr;
	log_info("connection %llu serves %s (%zu waiting)",
	    (unsigned long long)conn, name, o->npending);
	flush_pending(api, o);
	api_queue(api, conn, &r, false);
	return AF_OK;
}

/* A server went away: its unanswered invocations go to the others. */
static void
drop_server(struct api *api, uint64_t conn)
{
	uint64_t *again = NULL, k;
	size_t n = 0, cap = 0, i = 0, j, m;
	void *p;

	for (j = 0; j < api->nobjs; j++) {
		struct objsrv *o = &api->objs[j];

		for (i = m = 0; i < o->nconns; i++)
			if (o->conns[i] != conn)
				o->conns[m++] = o->conns[i];
		o->nconns = m;
	}
	i = 0;
	while (u64map_next(&api->assigned, &i, &k, &p)) {
		if (((struct sent *)p)->conn != conn)
			continue;
		if (api_grow((void **)&again, &cap, n + 1, sizeof(k)) !=
		    AF_OK) {
			/* Those not collected stay pushed to a dead
			 * connection until the rebuild after the next
			 * pass hands them out again. */
			api->serve_lost = true;
			break;
		}
		again[n++] = k;
	}
	for (i = 0; i < n; i++) {
		unassign(api, again[i]);
		dispatch_new(api, again[i]);
	}
	free(again);
	u64map_del(&api->inflight, conn);
	/* Names nobody serves and no invocation waits for are freed. */
	for (j = api->nobjs; j-- > 0;)
		if (api->objs[j].nconns == 0 && api->objs[j].npending == 0)
			objsrv_drop(api, j);
}

/* After a failed commit, the answers servers sent in that pass were
 * rolled back: push those invocations again (delivery is at least once;
 * servers treat the result vow as an idempotency key). */
static void
redeliver_answered(struct api *api)
{
	size_t i;

	for (i = 0; i < api->nanswered; i++)
		dispatch_new(api, api->answered[i]);
	api->nanswered = 0;
}

void
serve_answered(struct api *api, uint64_t vow)
{
	/* An answer to an invocation frees its server's window now, even if
	 * the answer is a vow still pending (the outbox row stays until the
	 * result is final); if this pass fails, it is pushed again. */
	if (u64map_get(&api->assigned, vow) == NULL)
		return;
	if (api_grow((void **)&api->answered, &api->capanswered,
		api->nanswered + 1, sizeof(uint64_t)) != AF_OK) {
		api->serve_lost = true;
		return;
	}
	unassign(api, vow);
	api->answered[api->nanswered++] = vow;
}

void
serve_on_commit(struct api *api, const uint64_t *settled, size_t n,
    const uint64_t *invs, size_t ninv)
{
	size_t i;

	for (i = 0; i < n; i++)
		unassign(api, settled[i]);
	/* Older invocations first, then the new ones behind them. */
	flush_all(api);
	for (i = 0; i < ninv; i++)
		dispatch_new(api, invs[i]);
}

/* Whether conn serves any object now. */
static bool
is_server(const struct api *api, uint64_t conn)
{
	size_t i, j;

	for (i = 0; i < api->nobjs; i++)
		for (j = 0; j < api->objs[i].nconns; j++)
			if (api->objs[i].conns[j] == conn)
				return true;
	return false;
}

static bool
is_waiting(const struct objsrv *o, uint64_t vow)
{
	size_t i;

	for (i = 0; i < o->npending; i++)
		if (o->pending[i] == vow)
			return true;
	return false;
}

static int
resync_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	struct api *api = ctx;
	struct objsrv *o;

	(void)act;
	if (u64map_get(&api->assigned, vow) != NULL)
		return AF_OK;
	if ((o = objsrv(api, object, true)) == NULL)
		return AF_ENOMEM;
	if (!is_waiting(o, vow))
		keep_waiting(api, o, vow);
	return api->serve_lost ? AF_ENOMEM : AF_OK;
}

/*
 * Some delivery state was dropped (an allocation or an outbox read failed
 * in a callback that cannot fail): rebuild it from the outbox, which is
 * the truth. Pushes to connections that no longer serve are forgotten, and
 * every unanswered invocation neither pushed nor waiting waits again (the
 * slow scans are fine: this runs only after a failure). If the rebuild
 * fails too, it is tried again after the next pass.
 */
static void
serve_resync(struct api *api)
{
	uint64_t *gone = NULL, k;
	size_t n = 0, cap = 0, i = 0;
	void *p;
	int rc = AF_OK;

	api->serve_lost = false;
	while (u64map_next(&api->assigned, &i, &k, &p)) {
		if (is_server(api, ((struct sent *)p)->conn))
			continue;
		if ((rc = api_grow((void **)&gone, &cap, n + 1, sizeof(k))) !=
		    AF_OK)
			break;
		gone[n++] = k;
	}
	for (i = 0; i < n; i++)
		unassign(api, gone[i]);
	free(gone);
	if (rc == AF_OK)
		rc = engine_outbox_list(api->e, 0, resync_cb, api);
	if (rc != AF_OK || api->serve_lost) {
		api->serve_lost = true;
		log_warn("rebuilding the delivery of invocations failed (%s); "
			 "trying again after the next pass",
		    af_strerror(rc != AF_OK ? rc : AF_ENOMEM));
		return;
	}
	log_info("delivery of invocations rebuilt from the outbox");
}

void
serve_after_pass(struct api *api, int rc)
{
	if (rc != AF_OK) {
		redeliver_answered(api);
		return;
	}
	api->nanswered = 0;
	if (api->serve_lost)
		serve_resync(api);
	flush_all(api); /* answers made room in windows */
}

void
serve_conn_closed(struct api *api, uint64_t conn)
{
	drop_server(api, conn);
}

void
serve_release(struct api *api)
{
	size_t i = 0;
	uint64_t k;
	void *p;

	while (u64map_next(&api->assigned, &i, &k, &p))
		free(p);
	u64map_release(&api->assigned);
	u64map_release(&api->inflight);
	for (i = 0; i < api->nobjs; i++) {
		free(api->objs[i].name);
		free(api->objs[i].conns);
		free(api->objs[i].pending);
	}
	free(api->objs);
	strmap_release(&api->objidx);
	free(api->answered);
}

int
api_load_outbox(struct api *api)
{
	return engine_outbox_list(api->e, 0, load_cb, api);
}

void
api_objects(struct api *api, api_object_fn *cb, void *ctx)
{
	for (size_t i = 0; i < api->nobjs; i++)
		if (cb(ctx, api->objs[i].name, api->objs[i].nconns,
			api->objs[i].npending) != 0)
			break;
}
