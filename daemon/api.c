/*
 * api.c: protocol requests -> engine calls -> replies held until commit
 * (see api.h). Values cross between the wire's protobuf-c structs and the
 * engine's af_value through their one canonical encoding: a wire Value is
 * packed and decoded strictly (so unsorted records or unknown fields are
 * refused), an af_value is encoded and unpacked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_invocation.h"
#include "arena.h"
#include "buf.h"
#include "log.h"
#include "u64map.h"
#include "value.h"

#define LIST_LIMIT_DEFAULT 1000
#define LIST_LIMIT_MAX     10000

struct held {
	uint64_t conn;
	uint64_t reqid;
	uint8_t *msg;               /* packed ServerMessage */
	size_t n;
	bool effect;                /* the request changes durable state: if
				     * the pass's commit fails, the answer is
				     * that error instead */
};

struct waiter {
	uint64_t conn;
	uint64_t reqid;             /* GetVow wait: the request; 0: WatchVow */
};

struct waitlist {
	size_t n, cap;
	struct waiter w[];
};

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
	uint64_t *pending;          /* result vows */
	size_t npending, cappending;
};

struct api {
	struct engine *e;
	struct objsrv *objs;
	size_t nobjs, capobjs;
	struct u64map assigned;     /* result vow -> struct sent */
	struct u64map inflight;     /* conn -> bytes of unanswered invocations
				     * pushed to it (as uintptr_t) */
	api_send_fn *send;
	void *ctx;
	const char *durability;
	uint64_t connections;
	struct af_arena *arena;     /* per request */
	struct held *held;          /* replies of this pass */
	size_t nheld, capheld;
	struct held *post;          /* answers to waits, after `held` */
	size_t npost, cappost;
	struct u64map waits;        /* vow -> struct waitlist */
	struct buf b;
	bool cur_effect;            /* the request being handled writes */
	bool pass_wrote;            /* a request of this pass wrote: later
				     * reads may show what a failed commit
				     * would roll back, so they share its
				     * fate */
	uint64_t *answered;         /* invocations servers answered in this
				     * pass (redelivered if it fails) */
	size_t nanswered, capanswered;
};

/* ---- Plumbing ------------------------------------------------------------------ */

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return AF_OK;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, ncap * elem)) == NULL)
		return AF_ENOMEM;
	*p = np;
	*cap = ncap;
	return AF_OK;
}

/* Packed, or NULL (out of memory, or larger than a frame may be: *n is
 * then the size it would have). */
static uint8_t *
pack_server_message(const Asyncflow__ServerMessage *m, size_t *n)
{
	uint8_t *p;

	*n = asyncflow__server_message__get_packed_size(m);
	if (*n > API_MAX_FRAME || (p = malloc(*n ? *n : 1)) == NULL)
		return NULL;
	asyncflow__server_message__pack(m, p);
	return p;
}

static void queue_error(struct api *, uint64_t, uint64_t, int, const char *,
    bool);

/* Hold (or, post = true, queue behind the held ones) a response. */
static void
queue(struct api *api, uint64_t conn, const Asyncflow__Response *r, bool post)
{
	Asyncflow__ServerMessage m = ASYNCFLOW__SERVER_MESSAGE__INIT;
	struct held h = { conn, r->id, NULL, 0,
	    (api->cur_effect || api->pass_wrote) && !post };

	m.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	m.response = (Asyncflow__Response *)r;
	if ((h.msg = pack_server_message(&m, &h.n)) == NULL) {
		if (h.n > API_MAX_FRAME && r->error == NULL) {
			char msg[160];

			snprintf(msg, sizeof(msg), "the reply would be %zu bytes, "
			    "over the %d-byte frame limit (list with `after` and "
			    "`limit`)", h.n, API_MAX_FRAME);
			queue_error(api, conn, r->id, AF_ELIMIT, msg, post);
			return;
		}
		log_error("cannot pack a reply for connection %llu",
		    (unsigned long long)conn);
		return;
	}
	if (post) {
		if (grow((void **)&api->post, &api->cappost, api->npost + 1,
		    sizeof(h)) == AF_OK) {
			api->post[api->npost++] = h;
			return;
		}
	} else if (grow((void **)&api->held, &api->capheld, api->nheld + 1,
	    sizeof(h)) == AF_OK) {
		api->held[api->nheld++] = h;
		return;
	}
	free(h.msg);
}

static void
queue_error(struct api *api, uint64_t conn, uint64_t reqid, int code,
    const char *msg, bool post)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ErrorReply er = ASYNCFLOW__ERROR_REPLY__INIT;

	er.code = code;
	er.name = (char *)af_errname(code);
	er.message = (char *)(msg ? msg : af_strerror(code));
	r.id = reqid;
	r.error = &er;
	queue(api, conn, &r, post);
}

static void
send_now(struct api *api, uint64_t conn, const Asyncflow__ServerMessage *m)
{
	uint8_t *p;
	size_t n;

	if ((p = pack_server_message(m, &n)) == NULL)
		return;
	api->send(api->ctx, conn, p, n);
	free(p);
}

void
api_protocol_error(struct api *api, uint64_t conn, const char *msg)
{
	Asyncflow__ServerMessage m = ASYNCFLOW__SERVER_MESSAGE__INIT;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ErrorReply er = ASYNCFLOW__ERROR_REPLY__INIT;

	er.code = AF_EPROTO;
	er.name = (char *)af_errname(AF_EPROTO);
	er.message = (char *)msg;
	r.error = &er;
	m.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	m.response = &r;
	send_now(api, conn, &m);
}

/* ---- Values between the wire and the engine ---------------------------------- */

static int
from_wire(struct api *api, const Asyncflow__Value *w,
    const struct af_value **out)
{
	size_t n;

	if (w == NULL) {
		*out = af_null(api->arena);
		return *out ? AF_OK : AF_ENOMEM;
	}
	n = asyncflow__value__get_packed_size(w);
	if (n > AF_VALUE_MAX_BYTES)
		return AF_ELIMIT;
	buf_reset(&api->b);
	if (buf_reserve(&api->b, n) != AF_OK)
		return AF_ENOMEM;
	asyncflow__value__pack(w, api->b.p);
	return value_decode(api->arena, api->b.p, n, out);
}

/* An encoded value as a wire struct (free with asyncflow__value__free_
 * unpacked), or NULL. */
static Asyncflow__Value *
to_wire(const void *enc, size_t n)
{
	return asyncflow__value__unpack(NULL, n, enc);
}

static Asyncflow__Value *
value_to_wire(struct api *api, const struct af_value *v)
{
	buf_reset(&api->b);
	if (value_encode(&api->b, v) != AF_OK)
		return NULL;
	return to_wire(api->b.p, api->b.len);
}

/* ---- Vow state replies and waits ---------------------------------------------- */

static Asyncflow__VowStatus
wire_status(enum vow_state s)
{
	switch (s) {
	case VOW_FULFILLED:
		return ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED;
	case VOW_REJECTED:
		return ASYNCFLOW__VOW_STATUS__VOW_STATUS_REJECTED;
	default:
		return ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING;
	}
}

/* Fill vi (value malloc'd: free with free_vow_info). */
static int
vow_info(struct api *api, uint64_t vow, Asyncflow__VowInfo *vi, bool *settled)
{
	const struct af_value *v;
	enum vow_state st;
	int rc;

	asyncflow__vow_info__init(vi);
	vi->vow = vow;
	rc = engine_vow_state(api->e, vow, &st, api->arena, &v);
	if (rc != AF_OK)
		return rc;
	vi->state = wire_status(st);
	*settled = st == VOW_FULFILLED || st == VOW_REJECTED;
	if (*settled && v != NULL && (vi->value = value_to_wire(api, v)) == NULL)
		return AF_ENOMEM;
	return AF_OK;
}

static void
free_vow_info(Asyncflow__VowInfo *vi)
{
	if (vi->value != NULL)
		asyncflow__value__free_unpacked(vi->value, NULL);
	vi->value = NULL;
}

static void
add_wait(struct api *api, uint64_t vow, uint64_t conn, uint64_t reqid)
{
	struct waitlist *l = u64map_get(&api->waits, vow), *nl;

	if (l == NULL || l->n == l->cap) {
		size_t ncap = l ? l->cap * 2 : 4;

		if ((nl = realloc(l, sizeof(*nl) + ncap * sizeof(nl->w[0]))) ==
		    NULL)
			return;
		if (l == NULL)
			nl->n = 0;
		nl->cap = ncap;
		l = nl;
		u64map_put(&api->waits, vow, l);
	}
	l->w[l->n++] = (struct waiter){ conn, reqid };
}

/* ---- Invocations: client-served objects ------------------------------------ */

static struct objsrv *
objsrv(struct api *api, const char *name, bool create)
{
	struct objsrv *o;
	size_t i;

	for (i = 0; i < api->nobjs; i++)
		if (strcmp(api->objs[i].name, name) == 0)
			return &api->objs[i];
	if (!create || grow((void **)&api->objs, &api->capobjs,
	    api->nobjs + 1, sizeof(*o)) != AF_OK)
		return NULL;
	o = &api->objs[api->nobjs];
	memset(o, 0, sizeof(*o));
	if ((o->name = strdup(name)) == NULL)
		return NULL;
	api->nobjs++;
	return o;
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
	if ((inv = asyncflow__invocation__unpack(NULL, api->b.len,
	    api->b.p)) == NULL)
		return RETRY;
	ev.kind_case = ASYNCFLOW__EVENT__KIND_INVOCATION;
	ev.invocation = inv;
	m.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_EVENT;
	m.event = &ev;
	h.msg = pack_server_message(&m, &h.n);
	asyncflow__invocation__free_unpacked(inv, NULL);
	st = malloc(sizeof(*st));
	if (h.msg == NULL || st == NULL || grow((void **)&api->post,
	    &api->cappost, api->npost + 1, sizeof(h)) != AF_OK) {
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
keep_waiting(struct objsrv *o, uint64_t vow)
{
	if (grow((void **)&o->pending, &o->cappending, o->npending + 1,
	    sizeof(uint64_t)) == AF_OK)
		o->pending[o->npending++] = vow;
}

/* Hand out waiting invocations in order while servers have room. */
static void
flush_pending(struct api *api, struct objsrv *o)
{
	size_t i = 0;

	while (i < o->npending && try_push(api, o, o->pending[i]))
		i++;
	if (i > 0) {
		memmove(o->pending, o->pending + i, (o->npending - i) *
		    sizeof(*o->pending));
		o->npending -= i;
	}
}

/* A new (or returned) invocation: behind those already waiting. */
static void
dispatch(struct api *api, struct objsrv *o, uint64_t vow)
{
	if (o->npending > 0 || !try_push(api, o, vow))
		keep_waiting(o, vow);
}

static void
dispatch_new(struct api *api, uint64_t vow)
{
	Asyncflow__Invocation *inv;
	struct objsrv *o;
	int rc;

	buf_reset(&api->b);
	if ((rc = api_invocation(api->e, vow, false, &api->b)) != AF_OK ||
	    (inv = asyncflow__invocation__unpack(NULL, api->b.len,
	    api->b.p)) == NULL) {
		if (rc != AF_ENOTFOUND)
			log_error("invocation %llu could not be read (%s); it "
			    "is delivered after the next restart",
			    (unsigned long long)vow, af_strerror(rc));
		return;
	}
	if ((o = objsrv(api, inv->object, true)) != NULL)
		dispatch(api, o, vow);
	asyncflow__invocation__free_unpacked(inv, NULL);
}

static int
load_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	struct api *api = ctx;
	struct objsrv *o = objsrv(api, object, true);

	(void)act;
	if (o != NULL)
		keep_waiting(o, vow);
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

static int
op_serve(struct api *api, uint64_t conn, const Asyncflow__Request *req,
    Asyncflow__Response *r, Asyncflow__ServeReply *sr)
{
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
		if (grow((void **)&o->conns, &o->capconns, o->nconns + 1,
		    sizeof(uint64_t)) != AF_OK)
			return AF_ENOMEM;
		o->conns[o->nconns++] = conn;
	}
	asyncflow__serve_reply__init(sr);
	sr->pending = o->npending;
	r->result_case = ASYNCFLOW__RESPONSE__RESULT_SERVE;
	r->serve = sr;
	log_info("connection %llu serves %s (%zu waiting)",
	    (unsigned long long)conn, name, o->npending);
	flush_pending(api, o);
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
	while (u64map_next(&api->assigned, &i, &k, &p))
		if (((struct sent *)p)->conn == conn &&
		    grow((void **)&again, &cap, n + 1, sizeof(k)) == AF_OK)
			again[n++] = k;
	for (i = 0; i < n; i++) {
		unassign(api, again[i]);
		dispatch_new(api, again[i]);
	}
	free(again);
	u64map_del(&api->inflight, conn);
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

int
api_load_outbox(struct api *api)
{
	return engine_outbox_list(api->e, 0, load_cb, api);
}

void
api_on_commit(void *ctx, const uint64_t *settled, size_t n,
    const uint64_t *invs, size_t ninv)
{
	struct api *api = ctx;
	struct waitlist *l;
	size_t i, j;

	for (i = 0; i < n; i++)
		unassign(api, settled[i]);
	/* Older invocations first, then the new ones behind them. */
	flush_all(api);
	for (i = 0; i < ninv; i++)
		dispatch_new(api, invs[i]);

	for (i = 0; i < n; i++) {
		Asyncflow__VowInfo vi;
		bool done;

		if ((l = u64map_del(&api->waits, settled[i])) == NULL)
			continue;
		arena_reset(api->arena);
		if (vow_info(api, settled[i], &vi, &done) == AF_OK && done) {
			for (j = 0; j < l->n; j++) {
				if (l->w[j].reqid != 0) {
					Asyncflow__Response r =
					    ASYNCFLOW__RESPONSE__INIT;

					r.id = l->w[j].reqid;
					r.result_case =
					    ASYNCFLOW__RESPONSE__RESULT_VOW;
					r.vow = &vi;
					queue(api, l->w[j].conn, &r, true);
				} else {
					Asyncflow__ServerMessage m =
					    ASYNCFLOW__SERVER_MESSAGE__INIT;
					Asyncflow__Event ev =
					    ASYNCFLOW__EVENT__INIT;
					struct held h = { l->w[j].conn, 0,
					    NULL, 0, false };

					ev.kind_case =
					    ASYNCFLOW__EVENT__KIND_VOW_SETTLED;
					ev.vow_settled = &vi;
					m.kind_case =
					    ASYNCFLOW__SERVER_MESSAGE__KIND_EVENT;
					m.event = &ev;
					h.msg = pack_server_message(&m, &h.n);
					if (h.msg != NULL && grow((void **)
					    &api->post, &api->cappost,
					    api->npost + 1, sizeof(h)) == AF_OK)
						api->post[api->npost++] = h;
					else
						free(h.msg);
				}
			}
			free_vow_info(&vi);
			free(l);
		} else {
			/* Not settled after all (a follow): keep waiting. */
			u64map_put(&api->waits, settled[i], l);
		}
	}
}

void
api_conn_closed(struct api *api, uint64_t conn)
{
	struct waitlist *l;
	size_t i = 0, j, k, nempty = 0, capempty = 0;
	uint64_t key, *empty = NULL;
	void *p;

	while (u64map_next(&api->waits, &i, &key, &p)) {
		l = p;
		for (j = k = 0; j < l->n; j++)
			if (l->w[j].conn != conn)
				l->w[k++] = l->w[j];
		l->n = k;
		if (k == 0 && grow((void **)&empty, &capempty, nempty + 1,
		    sizeof(key)) == AF_OK)
			empty[nempty++] = key;
	}
	for (j = 0; j < nempty; j++)
		free(u64map_del(&api->waits, empty[j]));
	free(empty);
	drop_server(api, conn);
}

/* ---- Operations ------------------------------------------------------------------ */

static void
op_hello(struct api *api, uint64_t conn, bool *greeted,
    const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__HelloReply hr = ASYNCFLOW__HELLO_REPLY__INIT;

	hr.version = AF_PROTOCOL_VERSION;
	hr.incarnation = engine_incarnation(api->e);
	hr.daemon = (char *)"asyncflowd 0.1";
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_HELLO;
	r.hello = &hr;
	*greeted = true;
	queue(api, conn, &r, false);
	log_debug("connection %llu: hello from %s", (unsigned long long)conn,
	    req->hello->client);
}

static int
op_start(struct api *api, uint64_t conn, const Asyncflow__Request *req,
    Asyncflow__Response *r)
{
	static Asyncflow__StartReply sr;
	const Asyncflow__StartFlow *s = req->start;
	const struct af_value *args;
	bool existing;
	int rc;

	(void)conn;
	if ((rc = from_wire(api, s->args, &args)) != AF_OK)
		return rc;
	asyncflow__start_reply__init(&sr);
	rc = engine_start_keyed(api->e, s->idempotency_key, s->flow, args,
	    &sr.activation, &sr.outcome, &existing);
	if (rc != AF_OK)
		return rc;
	sr.existing = existing;
	r->result_case = ASYNCFLOW__RESPONSE__RESULT_START;
	r->start = &sr;
	return AF_OK;
}

static int
op_mkvow(struct api *api, Asyncflow__Response *r)
{
	static Asyncflow__MakeVowReply mr;
	static uint8_t secret[VOW_SECRET_LEN];
	int rc;

	asyncflow__make_vow_reply__init(&mr);
	if ((rc = engine_mkvow(api->e, &mr.vow, secret)) != AF_OK)
		return rc;
	mr.resolver.data = secret;
	mr.resolver.len = VOW_SECRET_LEN;
	r->result_case = ASYNCFLOW__RESPONSE__RESULT_MKVOW;
	r->mkvow = &mr;
	return AF_OK;
}

static int
op_settle(struct api *api, const Asyncflow__Request *req,
    Asyncflow__Response *r, Asyncflow__VowInfo *vi)
{
	const Asyncflow__SettleVow *s = req->settle;
	const struct af_value *v;
	int rc;

	if (s->resolver.len != VOW_SECRET_LEN)
		return AF_EDENIED;
	if ((rc = from_wire(api, s->value, &v)) != AF_OK)
		return rc;
	rc = engine_settle(api->e, s->vow, s->resolver.data, s->reject, v);
	if (rc != AF_OK)
		return rc;
	/* An answer to an invocation frees its server's window now, even if
	 * the answer is a vow still pending (the outbox row stays until the
	 * result is final); if this pass fails, it is pushed again. */
	if (u64map_get(&api->assigned, s->vow) != NULL &&
	    grow((void **)&api->answered, &api->capanswered,
	    api->nanswered + 1, sizeof(uint64_t)) == AF_OK) {
		unassign(api, s->vow);
		api->answered[api->nanswered++] = s->vow;
	}
	asyncflow__vow_info__init(vi);
	vi->vow = s->vow;
	{
		enum vow_state st;

		/* Pending if it now follows a vow that is pending. */
		if (engine_vow_state(api->e, s->vow, &st, NULL, NULL) == AF_OK)
			vi->state = wire_status(st);
	}
	r->result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r->vow = vi;
	return AF_OK;
}

static const char *const state_names[] = {
	[ES_RUNNING] = "Running",
	[ES_SLEEPING] = "Sleeping",
	[ES_REPLAYING] = "Replaying",
	[ES_FAILED] = "Failed",
	[ES_DONE] = "Done",
};

/* Unanswered invocations, by sending activation: read once for a whole
 * listing. */
struct outbox_pairs {
	struct { uint64_t act, vow; } *p;
	size_t n, cap;
};

static int
pairs_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	struct outbox_pairs *op = ctx;

	(void)object;
	if (grow((void **)&op->p, &op->cap, op->n + 1, sizeof(*op->p)) !=
	    AF_OK)
		return AF_ENOMEM;
	op->p[op->n].act = act;
	op->p[op->n].vow = vow;
	op->n++;
	return AF_OK;
}

/* Add invocation `vow` (without secrets) to ai. */
static void
add_invocation(struct api *api, Asyncflow__ActivationInfo *ai, size_t *cap,
    uint64_t vow)
{
	Asyncflow__Invocation *inv;
	struct buf b;

	buf_init(&b);
	if (api_invocation(api->e, vow, false, &b) == AF_OK &&
	    (inv = asyncflow__invocation__unpack(NULL, b.len, b.p)) != NULL) {
		if (grow((void **)&ai->invocations, cap, ai->n_invocations + 1,
		    sizeof(inv)) == AF_OK)
			ai->invocations[ai->n_invocations++] = inv;
		else
			asyncflow__invocation__free_unpacked(inv, NULL);
	}
	buf_release(&b);
}

/* Build one ActivationInfo (strings point into info; args, waiting_on and
 * invocations malloc'd: free with free_act_info). `outbox`: the
 * unanswered invocations of every activation. */
static void
act_info(struct api *api, const struct engine_act_info *info,
    Asyncflow__ActivationInfo *ai, const struct outbox_pairs *outbox)
{
	size_t n = 0, cap = 0, i;

	asyncflow__activation_info__init(ai);
	ai->id = info->id;
	ai->flow = (char *)info->flow;
	ai->state = (char *)state_names[info->state];
	ai->outcome = info->outcome;
	ai->journal_length = info->journal_length;
	ai->failure = (char *)info->failure;
	ai->incarnation = info->incarnation;
	buf_reset(&api->b);
	if (engine_act_args(api->e, info->id, &api->b) == AF_OK)
		ai->args = to_wire(api->b.p, api->b.len);
	if (engine_waiting_on(api->e, info->id, &ai->waiting_on, &n) == AF_OK)
		ai->n_waiting_on = n;
	if (info->state == ES_DONE)
		return;
	for (i = 0; i < outbox->n; i++)
		if (outbox->p[i].act == info->id)
			add_invocation(api, ai, &cap, outbox->p[i].vow);
}

static void
free_act_info(Asyncflow__ActivationInfo *ai)
{
	size_t i;

	if (ai->args != NULL)
		asyncflow__value__free_unpacked(ai->args, NULL);
	free(ai->waiting_on);
	for (i = 0; i < ai->n_invocations; i++)
		asyncflow__invocation__free_unpacked(ai->invocations[i], NULL);
	free(ai->invocations);
}


struct list_ctx {
	struct engine_act_info *infos;
	size_t n, cap;
};

static int
list_cb(void *ctx, const struct engine_act_info *info)
{
	struct list_ctx *lc = ctx;

	if (grow((void **)&lc->infos, &lc->cap, lc->n + 1,
	    sizeof(*lc->infos)) != AF_OK)
		return 1;
	lc->infos[lc->n++] = *info;
	return 0;
}

static int
parse_state(const char *s, enum engine_state *out)
{
	size_t i;

	for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum engine_state)i;
			return AF_OK;
		}
	}
	return AF_EINVAL;
}

static int
op_list(struct api *api, uint64_t conn, uint64_t reqid, const char *state,
    uint64_t after, uint32_t limit)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ActivationList al = ASYNCFLOW__ACTIVATION_LIST__INIT;
	Asyncflow__ActivationInfo *ais = NULL, **ptrs = NULL;
	struct list_ctx lc = { NULL, 0, 0 };
	struct outbox_pairs outbox = { NULL, 0, 0 };
	enum engine_state only;
	size_t i;
	int rc;

	if (state != NULL && *state != '\0' &&
	    parse_state(state, &only) != AF_OK)
		return AF_EINVAL;
	if (limit == 0)
		limit = LIST_LIMIT_DEFAULT;
	if (limit > LIST_LIMIT_MAX)
		limit = LIST_LIMIT_MAX;
	rc = engine_list(api->e, state && *state ? &only : NULL, after, limit,
	    list_cb, &lc);
	if (rc == AF_OK && lc.n > 0) {
		ais = calloc(lc.n, sizeof(*ais));
		ptrs = calloc(lc.n, sizeof(*ptrs));
		if (ais == NULL || ptrs == NULL)
			rc = AF_ENOMEM;
	}
	if (rc == AF_OK && lc.n > 0)
		rc = engine_outbox_list(api->e, 0, pairs_cb, &outbox);
	if (rc == AF_OK) {
		for (i = 0; i < lc.n; i++) {
			act_info(api, &lc.infos[i], &ais[i], &outbox);
			ptrs[i] = &ais[i];
		}
		al.n_activations = lc.n;
		al.activations = ptrs;
		r.id = reqid;
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_LIST;
		r.list = &al;
		queue(api, conn, &r, false);
		for (i = 0; i < lc.n; i++)
			free_act_info(&ais[i]);
	}
	free(ais);
	free(ptrs);
	free(lc.infos);
	free(outbox.p);
	return rc;
}

static int
op_show(struct api *api, uint64_t conn, uint64_t reqid, uint64_t act)
{
	struct outbox_pairs outbox = { NULL, 0, 0 };
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ActivationInfo ai;
	struct engine_act_info info;
	int rc;

	if ((rc = engine_act_info(api->e, act, &info)) != AF_OK)
		return rc;
	if ((rc = engine_outbox_list(api->e, act, pairs_cb, &outbox)) == AF_OK)
		act_info(api, &info, &ai, &outbox);
	free(outbox.p);
	if (rc != AF_OK)
		return rc;
	r.id = reqid;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_SHOW;
	r.show = &ai;
	queue(api, conn, &r, false);
	free_act_info(&ai);
	return AF_OK;
}

struct journal_ctx {
	Asyncflow__JournalEntry **entries;
	size_t n, cap;
};

static int
journal_cb(void *ctx, uint64_t index, const void *entry, size_t n)
{
	struct journal_ctx *jc = ctx;
	Asyncflow__JournalEntry *je;

	(void)index;
	if (grow((void **)&jc->entries, &jc->cap, jc->n + 1,
	    sizeof(*jc->entries)) != AF_OK)
		return AF_ENOMEM;
	if ((je = asyncflow__journal_entry__unpack(NULL, n, entry)) == NULL)
		return AF_EDECODE;
	jc->entries[jc->n++] = je;
	return AF_OK;
}

static int
op_journal(struct api *api, uint64_t conn, uint64_t reqid,
    const Asyncflow__DumpJournal *dj)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__JournalDump jd = ASYNCFLOW__JOURNAL_DUMP__INIT;
	struct journal_ctx jc = { NULL, 0, 0 };
	struct engine_act_info info;
	uint64_t length;
	size_t i;
	int rc;

	if ((rc = engine_act_info(api->e, dj->activation, &info)) != AF_OK)
		return rc;
	rc = engine_journal_raw(api->e, dj->activation, dj->from, dj->limit,
	    &length, journal_cb, &jc);
	if (rc == AF_OK) {
		jd.n_entries = jc.n;
		jd.entries = jc.entries;
		jd.from = dj->from;
		jd.length = length;
		r.id = reqid;
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_JOURNAL;
		r.journal = &jd;
		queue(api, conn, &r, false);
	}
	for (i = 0; i < jc.n; i++)
		asyncflow__journal_entry__free_unpacked(jc.entries[i], NULL);
	free(jc.entries);
	return rc;
}

struct count_ctx {
	uint64_t n;
};

static int
count_cb(void *ctx, const struct engine_act_info *info)
{
	(void)info;
	((struct count_ctx *)ctx)->n++;
	return 0;
}

static int
count_inv_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	(void)vow;
	(void)act;
	(void)object;
	((struct count_ctx *)ctx)->n++;
	return AF_OK;
}

static int
op_stats(struct api *api, Asyncflow__Response *r, Asyncflow__StatsReply *sr)
{
	struct engine_stats st;
	struct count_ctx cc = { 0 };
	enum engine_state failed = ES_FAILED;

	engine_stats(api->e, &st);
	asyncflow__stats_reply__init(sr);
	sr->incarnation = engine_incarnation(api->e);
	sr->activations_in_memory = st.acts_in_memory;
	sr->passes = st.passes;
	sr->commits = st.commits;
	sr->events = st.events;
	sr->entries_written = st.entries_written;
	sr->entries_replayed = st.entries_replayed;
	sr->connections = api->connections;
	sr->durability = (char *)api->durability;
	engine_list(api->e, &failed, 0, (size_t)-1, count_cb, &cc);
	sr->failed = cc.n;
	cc.n = 0;
	engine_outbox_list(api->e, 0, count_inv_cb, &cc);
	sr->invocations_pending = cc.n;
	sr->timers_pending = engine_timers_pending(api->e);
	r->result_case = ASYNCFLOW__RESPONSE__RESULT_STATS;
	r->stats = sr;
	return AF_OK;
}

/* A message that names what the error is about. */
static const char *
explain(const Asyncflow__Request *req, int rc, char *msg, size_t n)
{
	unsigned long long id = 0;
	const char *what = NULL;

	switch (req->op_case) {
	case ASYNCFLOW__REQUEST__OP_SHOW:
		id = req->show->activation;
		what = "activation";
		break;
	case ASYNCFLOW__REQUEST__OP_JOURNAL:
		id = req->journal->activation;
		what = "activation";
		break;
	case ASYNCFLOW__REQUEST__OP_WAKE:
		id = req->wake->activation;
		what = "activation";
		break;
	case ASYNCFLOW__REQUEST__OP_SETTLE:
		id = req->settle->vow;
		what = "vow";
		break;
	case ASYNCFLOW__REQUEST__OP_GET_VOW:
		id = req->get_vow->vow;
		what = "vow";
		break;
	case ASYNCFLOW__REQUEST__OP_WATCH_VOW:
		id = req->watch_vow->vow;
		what = "vow";
		break;
	default:
		return NULL;
	}
	switch (rc) {
	case AF_ENOTFOUND:
		snprintf(msg, n, "no %s %llu", what, id);
		break;
	case AF_ESTATE:
		snprintf(msg, n, "%s %llu is Done", what, id);
		break;
	case AF_EDENIED:
		snprintf(msg, n, "wrong resolver for vow %llu", id);
		break;
	case AF_ESETTLED:
		snprintf(msg, n, "vow %llu is already settled differently", id);
		break;
	case AF_ECYCLE:
		snprintf(msg, n, "settling vow %llu that way would make its "
		    "chain a cycle", id);
		break;
	case AF_EINVAL:
		snprintf(msg, n, "invalid value for %s %llu (resolvers cannot "
		    "be passed by clients)", what, id);
		break;
	default:
		return NULL;
	}
	return msg;
}

int
api_request(struct api *api, uint64_t conn, bool *greeted,
    const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;
	Asyncflow__WakeReply wr = ASYNCFLOW__WAKE_REPLY__INIT;
	Asyncflow__StatsReply sr;
	Asyncflow__ServeReply svr;
	char msg[256];
	bool settled;
	int rc = AF_OK;

	arena_reset(api->arena);
	/* A write earlier in this pass: what this request reads may be rolled
	 * back with it. */
	if (api->cur_effect)
		api->pass_wrote = true;
	/* Only these write; the others' answers stand whatever the commit
	 * does (a full disk must not stop `stats` or `show`). */
	api->cur_effect = req->op_case == ASYNCFLOW__REQUEST__OP_START ||
	    req->op_case == ASYNCFLOW__REQUEST__OP_MKVOW ||
	    req->op_case == ASYNCFLOW__REQUEST__OP_SETTLE ||
	    req->op_case == ASYNCFLOW__REQUEST__OP_WAKE;
	if (req->id == 0) {
		queue_error(api, conn, 0, AF_EPROTO, "request id must be "
		    "nonzero", false);
		return AF_EPROTO;
	}
	if (!*greeted) {
		if (req->op_case != ASYNCFLOW__REQUEST__OP_HELLO) {
			queue_error(api, conn, req->id, AF_EPROTO, "the first "
			    "request must be hello", false);
			return AF_EPROTO;
		}
		if (req->hello->version != AF_PROTOCOL_VERSION) {
			snprintf(msg, sizeof(msg), "protocol version mismatch: "
			    "client speaks %u, asyncflowd speaks %d",
			    req->hello->version, AF_PROTOCOL_VERSION);
			queue_error(api, conn, req->id, AF_EPROTO, msg, false);
			return AF_EPROTO;
		}
		op_hello(api, conn, greeted, req);
		return AF_OK;
	}
	r.id = req->id;
	switch (req->op_case) {
	case ASYNCFLOW__REQUEST__OP_HELLO:
		queue_error(api, conn, req->id, AF_EPROTO, "hello sent twice",
		    false);
		return AF_EPROTO;
	case ASYNCFLOW__REQUEST__OP_START:
		rc = op_start(api, conn, req, &r);
		if (rc == AF_ENOTFOUND) {
			if (!engine_has_flow(api->e, req->start->flow))
				snprintf(msg, sizeof(msg), "unknown flow %s",
				    req->start->flow);
			else
				snprintf(msg, sizeof(msg), "args name a vow "
				    "that does not exist");
			queue_error(api, conn, req->id, rc, msg, false);
			return AF_OK;
		}
		if (rc == AF_EEXIST) {
			queue_error(api, conn, req->id, rc, "idempotency key "
			    "already used with another flow or other args",
			    false);
			return AF_OK;
		}
		break;
	case ASYNCFLOW__REQUEST__OP_MKVOW:
		rc = op_mkvow(api, &r);
		break;
	case ASYNCFLOW__REQUEST__OP_SETTLE:
		rc = op_settle(api, req, &r, &vi);
		break;
	case ASYNCFLOW__REQUEST__OP_GET_VOW:
	case ASYNCFLOW__REQUEST__OP_WATCH_VOW: {
		bool wait = req->op_case == ASYNCFLOW__REQUEST__OP_GET_VOW ?
		    req->get_vow->wait : true;
		uint64_t vow = req->op_case == ASYNCFLOW__REQUEST__OP_GET_VOW ?
		    req->get_vow->vow : req->watch_vow->vow;

		if ((rc = vow_info(api, vow, &vi, &settled)) != AF_OK)
			break;
		if (!settled && wait) {
			add_wait(api, vow, conn,
			    req->op_case == ASYNCFLOW__REQUEST__OP_GET_VOW ?
			    req->id : 0);
			if (req->op_case == ASYNCFLOW__REQUEST__OP_GET_VOW) {
				free_vow_info(&vi);
				return AF_OK;   /* answered on settlement */
			}
		}
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
		r.vow = &vi;
		break;
	}
	case ASYNCFLOW__REQUEST__OP_LIST:
		rc = op_list(api, conn, req->id, req->list->state,
		    req->list->after, req->list->limit);
		if (rc == AF_OK)
			return AF_OK;
		break;
	case ASYNCFLOW__REQUEST__OP_FAILURES:
		rc = op_list(api, conn, req->id, "Failed", 0, LIST_LIMIT_MAX);
		if (rc == AF_OK)
			return AF_OK;
		break;
	case ASYNCFLOW__REQUEST__OP_SHOW:
		if ((rc = op_show(api, conn, req->id,
		    req->show->activation)) == AF_OK)
			return AF_OK;
		break;
	case ASYNCFLOW__REQUEST__OP_JOURNAL:
		if ((rc = op_journal(api, conn, req->id, req->journal)) == AF_OK)
			return AF_OK;
		break;
	case ASYNCFLOW__REQUEST__OP_WAKE:
		rc = engine_wake(api->e, req->wake->activation);
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_WAKE;
		r.wake = &wr;
		break;
	case ASYNCFLOW__REQUEST__OP_STATS:
		rc = op_stats(api, &r, &sr);
		break;
	case ASYNCFLOW__REQUEST__OP_SERVE:
		rc = op_serve(api, conn, req, &r, &svr);
		break;
	default:
		queue_error(api, conn, req->id, AF_EPROTO, "unknown operation",
		    false);
		return AF_EPROTO;
	}
	if (rc != AF_OK)
		queue_error(api, conn, req->id, rc, explain(req, rc, msg,
		    sizeof(msg)), false);
	else
		queue(api, conn, &r, false);
	free_vow_info(&vi);
	return AF_OK;
}

bool
api_pending(const struct api *api)
{
	return api->nheld > 0 || api->npost > 0;
}

static void
send_held(struct api *api, struct held *h)
{
	api->send(api->ctx, h->conn, h->msg, h->n);
	free(h->msg);
}

void
api_after_pass(struct api *api, int rc)
{
	Asyncflow__ServerMessage m = ASYNCFLOW__SERVER_MESSAGE__INIT;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ErrorReply er = ASYNCFLOW__ERROR_REPLY__INIT;
	struct held h;
	char msg[256];
	size_t i;

	snprintf(msg, sizeof(msg), "commit failed, nothing of this request "
	    "took effect: %s", af_strerror(rc));
	er.code = rc;
	er.name = (char *)af_errname(rc);
	er.message = msg;
	r.error = &er;
	m.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	m.response = &r;
	/* Entries are copied out before sending: a send may close a
	 * connection, which may queue redeliveries (growing `post`). */
	for (i = 0; i < api->nheld; i++) {
		h = api->held[i];
		if (rc != AF_OK && h.effect) {
			/* Nothing of the pass happened: say so instead. */
			r.id = h.reqid;
			send_now(api, h.conn, &m);
			free(h.msg);
			continue;
		}
		send_held(api, &h);
	}
	api->nheld = 0;
	if (rc != AF_OK)
		redeliver_answered(api);
	else {
		api->nanswered = 0;
		flush_all(api);     /* answers made room in windows */
	}
	api->pass_wrote = false;
	api->cur_effect = false;
	for (i = 0; i < api->npost; i++) {
		h = api->post[i];
		send_held(api, &h);
	}
	api->npost = 0;
}

void
api_set_connections(struct api *api, uint64_t n)
{
	api->connections = n;
}

struct api *
api_new(struct engine *e, api_send_fn *send, void *ctx,
    const char *durability)
{
	struct api *api = calloc(1, sizeof(*api));

	if (api == NULL)
		return NULL;
	api->e = e;
	api->send = send;
	api->ctx = ctx;
	api->durability = durability;
	u64map_init(&api->waits);
	u64map_init(&api->assigned);
	u64map_init(&api->inflight);
	buf_init(&api->b);
	if ((api->arena = arena_new(0)) == NULL) {
		free(api);
		return NULL;
	}
	return api;
}

void
api_free(struct api *api)
{
	size_t i = 0;
	uint64_t k;
	void *p;

	if (api == NULL)
		return;
	while (u64map_next(&api->waits, &i, &k, &p))
		free(p);
	u64map_release(&api->waits);
	i = 0;
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
	free(api->answered);
	for (i = 0; i < api->nheld; i++)
		free(api->held[i].msg);
	for (i = 0; i < api->npost; i++)
		free(api->post[i].msg);
	free(api->held);
	free(api->post);
	buf_release(&api->b);
	arena_free(api->arena);
	free(api);
}
