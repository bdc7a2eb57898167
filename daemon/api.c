/*
 * api.c: the request layer's core (see api.h): the table of operations,
 * the handshake, replies held until the pass that made them commits, and
 * waits for vows (GetVow with wait, WatchVow) answered from on_commit.
 * Values cross between the wire's protobuf-c structs and the engine's
 * af_value through their one canonical encoding: a wire Value is packed
 * and decoded strictly (so unsorted records or unknown fields are
 * refused), an af_value is encoded and unpacked.
 *
 * A new request is one entry in api_ops[] below plus its handler in
 * api_ops.c. Not here: the handlers (api_ops.c), client-served objects
 * (serve.c), sockets and frames (server.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "frame.h"
#include "log.h"
#include "value.h"

struct waiter {
	uint64_t conn;
	uint64_t reqid; /* GetVow wait: the request; 0: WatchVow */
};

struct waitlist {
	size_t n, cap;
	struct waiter w[];
};

/* ---- Plumbing ------------------------------------------------------------------ */

/* Tests: the nth growth from now fails (api_test_fail_alloc). */
static unsigned fail_alloc_in;

void
api_test_fail_alloc(unsigned n)
{
	fail_alloc_in = n;
}

int
api_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return AF_OK;
	if (fail_alloc_in > 0 && --fail_alloc_in == 0)
		return AF_ENOMEM;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, ncap * elem)) == NULL)
		return AF_ENOMEM;
	*p = np;
	*cap = ncap;
	return AF_OK;
}

/* Every value accepted now fits the deepest reply, and every frame stays
 * well under the recursion limit (100) of stock protobuf decoders: see
 * asyncflow/protocol.h for the count. */
_Static_assert(5 + 3 * AF_VALUE_MAX_DEPTH - 1 <= AF_MAX_DEPTH,
    "the deepest reply must hold a value of AF_VALUE_MAX_DEPTH");
_Static_assert(AF_MAX_DEPTH <= 64, "frames must stay well under 100 deep");

/* Packed, or NULL: out of memory, larger than a frame may be (*n is then
 * the size it would have), or nesting deeper than AF_MAX_DEPTH messages
 * (*n is then 0), which only a value stored before protocol 2 can make. */
uint8_t *
api_pack_message(const Asyncflow__ServerMessage *m, size_t *n)
{
	uint8_t *p;

	*n = asyncflow__server_message__get_packed_size(m);
	if (*n > AF_MAX_FRAME || (p = malloc(*n ? *n : 1)) == NULL)
		return NULL;
	asyncflow__server_message__pack(m, p);
	if (af__pb_depth_check(&asyncflow__server_message__descriptor, p, *n,
		AF_MAX_DEPTH) != AF_OK) {
		free(p);
		*n = 0;
		return NULL;
	}
	return p;
}

/* Hold (or, post = true, queue behind the held ones) a response. */
void
api_queue(struct api *api, uint64_t conn, const Asyncflow__Response *r,
    bool post)
{
	Asyncflow__ServerMessage m = ASYNCFLOW__SERVER_MESSAGE__INIT;
	struct held h = { conn, r->id, NULL, 0,
		(api->cur_effect || api->pass_wrote) && !post };

	m.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	m.response = (Asyncflow__Response *)r;
	if ((h.msg = api_pack_message(&m, &h.n)) == NULL) {
		if (h.n == 0 && r->error == NULL) {
			char msg[256];

			snprintf(msg, sizeof(msg),
			    "the reply would nest deeper than %d protobuf "
			    "messages (AF_MAX_DEPTH): it holds a value stored "
			    "before protocol 2 that nests deeper than %d levels "
			    "(AF_VALUE_MAX_DEPTH)",
			    AF_MAX_DEPTH, AF_VALUE_MAX_DEPTH);
			api_queue_error(api, conn, r->id, AF_ELIMIT, msg, post);
			return;
		}
		if (h.n > AF_MAX_FRAME && r->error == NULL) {
			char msg[160];

			snprintf(msg, sizeof(msg),
			    "the reply would be %zu bytes, "
			    "over the %u-byte frame limit (list with `after` and "
			    "`limit`)",
			    h.n, AF_MAX_FRAME);
			api_queue_error(api, conn, r->id, AF_ELIMIT, msg, post);
			return;
		}
		log_error("cannot pack a reply for connection %llu",
		    (unsigned long long)conn);
		return;
	}
	if (post) {
		if (api_grow((void **)&api->post, &api->cappost, api->npost + 1,
			sizeof(h)) == AF_OK) {
			api->post[api->npost++] = h;
			return;
		}
	} else if (api_grow((void **)&api->held, &api->capheld, api->nheld + 1,
		       sizeof(h)) == AF_OK) {
		api->held[api->nheld++] = h;
		return;
	}
	free(h.msg);
}

/*
 * Every error reply is built here: its message (NULL: the code's text) is
 * made valid UTF-8 into text[0..API_ERRMSG_MAX), escaping any byte that is
 * not, since a message may quote what a client sent and a strict protobuf
 * decoder refuses a `string` that is not UTF-8.
 */
#define API_ERRMSG_MAX 1024
static void
error_reply(Asyncflow__ErrorReply *er, int code, const char *msg, char *text)
{
	asyncflow__error_reply__init(er);
	er->code = code;
	er->name = (char *)af_errname(code);
	er->message = value_utf8_escape(text, API_ERRMSG_MAX,
	    msg ? msg : af_strerror(code));
}

void
api_queue_error(struct api *api, uint64_t conn, uint64_t reqid, int code,
    const char *msg, bool post)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ErrorReply er;
	char text[API_ERRMSG_MAX];

	error_reply(&er, code, msg, text);
	r.id = reqid;
	r.error = &er;
	api_queue(api, conn, &r, post);
}

static void
send_now(struct api *api, uint64_t conn, const Asyncflow__ServerMessage *m)
{
	uint8_t *p;
	size_t n;

	if ((p = api_pack_message(m, &n)) == NULL)
		return;
	api->send(api->ctx, conn, p, n);
	free(p);
}

void
api_protocol_error(struct api *api, uint64_t conn, const char *msg)
{
	Asyncflow__ServerMessage m = ASYNCFLOW__SERVER_MESSAGE__INIT;
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ErrorReply er;
	char text[API_ERRMSG_MAX];

	error_reply(&er, AF_EPROTO, msg, text);
	r.error = &er;
	m.kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE;
	m.response = &r;
	/* A client takes this error for the last frame before the close:
	 * replies still owed to conn go first (api_after_pass). */
	if (api_holds(api, conn)) {
		struct held h = { conn, 0, NULL, 0, false };

		if ((h.msg = api_pack_message(&m, &h.n)) != NULL &&
		    api_grow((void **)&api->fin, &api->capfin, api->nfin + 1,
			sizeof(h)) == AF_OK) {
			api->fin[api->nfin++] = h;
			return;
		}
		free(h.msg);
	}
	send_now(api, conn, &m);
}

/* ---- Names: every text field of a request ---------------------------------- */

/* A varint of at most 10 bytes at *pp, before end. */
static bool
wire_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t u = 0;
	unsigned shift;

	for (shift = 0; shift < 64 && p < end; shift += 7) {
		u |= (uint64_t)(*p & 0x7f) << shift;
		if (*p++ < 0x80) {
			*pp = p;
			*v = u;
			return true;
		}
	}
	return false;
}

/*
 * Whether every `string` field of the message p[0..end) of type d, at any
 * depth, is a name: UTF-8 without NUL. In the protocol every text a client
 * sends is a name but a string value's text, which is `bytes` (and checked
 * as UTF-8 by the value decoder). It has to be the wire that is checked:
 * protobuf-c hands a string over as a C string, so "echo\0junk" would be
 * read as "echo". On false, msg says which field and why. Runs after the
 * depth guard and a successful unpack, so the walk is bounded and the
 * bytes well-formed (anything else is refused too).
 */
static bool
names_valid(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    const uint8_t *end, char *msg, size_t msglen)
{
	const ProtobufCFieldDescriptor *f;
	const uint8_t *nul;
	uint64_t key, len;

	while (p < end) {
		if (!wire_varint(&p, end, &key))
			goto malformed;
		switch (key & 7) {
		case 0:
			if (!wire_varint(&p, end, &len))
				goto malformed;
			continue;
		case 1:
		case 5:
			len = (key & 7) == 1 ? 8 : 4;
			if ((uint64_t)(end - p) < len)
				goto malformed;
			p += len;
			continue;
		case 2:
			break;
		default:
			goto malformed;
		}
		if (!wire_varint(&p, end, &len) || len > (uint64_t)(end - p))
			goto malformed;
		f = (key >> 3) <= UINT32_MAX ?
		    protobuf_c_message_descriptor_get_field(d,
			(unsigned)(key >> 3)) :
		    NULL;
		if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    !names_valid(f->descriptor, p, p + len, msg, msglen))
			return false;
		if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
		    !value_name_valid(p, len)) {
			nul = memchr(p, 0, len);
			if (nul != NULL)
				snprintf(msg, msglen,
				    "%s.%s holds a NUL byte (at byte %zu): "
				    "names are UTF-8 text without NUL",
				    d->short_name, f->name, (size_t)(nul - p));
			else
				snprintf(msg, msglen,
				    "%s.%s is not valid UTF-8: names are UTF-8 "
				    "text without NUL",
				    d->short_name, f->name);
			return false;
		}
		p += len;
	}
	return true;
malformed:
	snprintf(msg, msglen, "%s is malformed", d->short_name);
	return false;
}

int
api_frame(struct api *api, uint64_t conn, bool *greeted, const uint8_t *body,
    size_t n)
{
	Asyncflow__Request *req = NULL;
	char msg[256];
	int rc;

	if (af__pb_depth_check(&asyncflow__request__descriptor, body, n,
		AF_MAX_DEPTH) == AF_OK)
		req = asyncflow__request__unpack(NULL, n, body);
	if (req == NULL) {
		api_protocol_error(api, conn,
		    "frame does not decode as a Request");
		return AF_EDECODE;
	}
	if (n > 0 &&
	    !names_valid(&asyncflow__request__descriptor, body, body + n, msg,
		sizeof(msg))) {
		/* Refused before any op sees it, like a reply to nothing
		 * this pass wrote; a hello refused ends the connection. */
		if (api->cur_effect)
			api->pass_wrote = true;
		api->cur_effect = false;
		log_warn("connection %llu: request refused: %s",
		    (unsigned long long)conn, msg);
		api_queue_error(api, conn, req->id, AF_EINVAL, msg, false);
		rc = *greeted ? AF_OK : AF_EPROTO;
	} else
		rc = api_request(api, conn, greeted, req);
	asyncflow__request__free_unpacked(req, NULL);
	return rc;
}

/* ---- Values between the wire and the engine ---------------------------------- */

int
api_from_wire(struct api *api, const Asyncflow__Value *w,
    const struct af_value **out)
{
	size_t n;
	int rc;

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
	/* The decoder takes what storage may hold; a new value from a client
	 * must fit the limit of now (value_measure checks it). */
	rc = value_decode(api->arena, api->b.p, n, out);
	if (rc == AF_OK)
		rc = value_measure(*out, &n);
	if (rc == AF_ELIMIT)
		snprintf(api->why, sizeof(api->why),
		    "the value is too deep: values nest at most %d levels "
		    "(AF_VALUE_MAX_DEPTH; a scalar is 1)",
		    AF_VALUE_MAX_DEPTH);
	return rc;
}

/* An encoded value as a wire struct (free with asyncflow__value__free_
 * unpacked), or NULL. */
Asyncflow__Value *
api_to_wire(const void *enc, size_t n)
{
	return asyncflow__value__unpack(NULL, n, enc);
}

Asyncflow__Value *
api_value_to_wire(struct api *api, const struct af_value *v)
{
	buf_reset(&api->b);
	if (value_encode(&api->b, v) != AF_OK)
		return NULL;
	return api_to_wire(api->b.p, api->b.len);
}

/* ---- Vow state replies and waits ---------------------------------------------- */

Asyncflow__VowStatus
api_wire_status(enum vow_state s)
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
int
api_vow_info(struct api *api, uint64_t vow, Asyncflow__VowInfo *vi,
    bool *settled)
{
	const struct af_value *v;
	enum vow_state st;
	size_t n;
	int rc;

	asyncflow__vow_info__init(vi);
	vi->vow = vow;
	rc = engine_vow_state(api->e, vow, &st, api->arena, &v);
	if (rc != AF_OK)
		return rc;
	vi->state = api_wire_status(st);
	*settled = st == VOW_FULFILLED || st == VOW_REJECTED;
	if (*settled && v != NULL &&
	    (vi->value = api_value_to_wire(api, v)) == NULL) {
		if (value_measure(v, &n) != AF_ELIMIT)
			return AF_ENOMEM;
		/* Stored before protocol 2 (then it may be as deep as
		 * AF_VALUE_STORED_MAX_DEPTH): the wire cannot carry it. */
		snprintf(api->why, sizeof(api->why),
		    "vow %llu's value was stored before protocol 2 and nests "
		    "deeper than %d levels (AF_VALUE_MAX_DEPTH): too deep to "
		    "send",
		    (unsigned long long)vow, AF_VALUE_MAX_DEPTH);
		return AF_ELIMIT;
	}
	return AF_OK;
}

void
api_free_vow_info(Asyncflow__VowInfo *vi)
{
	if (vi->value != NULL)
		asyncflow__value__free_unpacked(vi->value, NULL);
	vi->value = NULL;
}

void
api_add_wait(struct api *api, uint64_t vow, uint64_t conn, uint64_t reqid)
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


void
api_on_commit(void *ctx, const uint64_t *settled, size_t n,
    const uint64_t *invs, size_t ninv)
{
	struct api *api = ctx;
	struct waitlist *l;
	size_t i, j;

	serve_on_commit(api, settled, n, invs, ninv);
	for (i = 0; i < n; i++) {
		Asyncflow__VowInfo vi;
		bool done;

		if ((l = u64map_del(&api->waits, settled[i])) == NULL)
			continue;
		arena_reset(api->arena);
		if (api_vow_info(api, settled[i], &vi, &done) == AF_OK &&
		    done) {
			for (j = 0; j < l->n; j++) {
				if (l->w[j].reqid != 0) {
					Asyncflow__Response r =
					    ASYNCFLOW__RESPONSE__INIT;

					r.id = l->w[j].reqid;
					r.result_case =
					    ASYNCFLOW__RESPONSE__RESULT_VOW;
					r.vow = &vi;
					api_queue(api, l->w[j].conn, &r, true);
				} else {
					Asyncflow__ServerMessage m =
					    ASYNCFLOW__SERVER_MESSAGE__INIT;
					Asyncflow__Event ev =
					    ASYNCFLOW__EVENT__INIT;
					struct held h = { l->w[j].conn, 0, NULL,
						0, false };

					ev.kind_case =
					    ASYNCFLOW__EVENT__KIND_VOW_SETTLED;
					ev.vow_settled = &vi;
					m.kind_case =
					    ASYNCFLOW__SERVER_MESSAGE__KIND_EVENT;
					m.event = &ev;
					h.msg = api_pack_message(&m, &h.n);
					if (h.msg != NULL &&
					    api_grow((void **)&api->post,
						&api->cappost, api->npost + 1,
						sizeof(h)) == AF_OK)
						api->post[api->npost++] = h;
					else
						free(h.msg);
				}
			}
			api_free_vow_info(&vi);
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
		if (k == 0 &&
		    api_grow((void **)&empty, &capempty, nempty + 1,
			sizeof(key)) == AF_OK)
			empty[nempty++] = key;
	}
	for (j = 0; j < nempty; j++)
		free(u64map_del(&api->waits, empty[j]));
	free(empty);
	serve_conn_closed(api, conn);
}

/* ---- The table of operations --------------------------------------------- */

/* What an error is about, for its message: the id a request names. */
static uint64_t
show_act(const Asyncflow__Request *req)
{
	return req->show->activation;
}

static uint64_t
journal_act(const Asyncflow__Request *req)
{
	return req->journal->activation;
}

static uint64_t
wake_act(const Asyncflow__Request *req)
{
	return req->wake->activation;
}

static uint64_t
terminate_act(const Asyncflow__Request *req)
{
	return req->terminate->activation;
}

static uint64_t
purge_act(const Asyncflow__Request *req)
{
	return req->purge->activation;
}

static uint64_t
cancel_act(const Asyncflow__Request *req)
{
	return req->cancel->activation;
}

static uint64_t
call_act(const Asyncflow__Request *req)
{
	uint64_t act = 0;
	const char *name;

	if (exports_parse_ref(req->call->object, &act, &name) != AF_OK)
		act = 0;
	return act;
}

static uint64_t
settle_vow(const Asyncflow__Request *req)
{
	return req->settle->vow;
}

static uint64_t
get_vow_vow(const Asyncflow__Request *req)
{
	return req->get_vow->vow;
}

static uint64_t
watch_vow_vow(const Asyncflow__Request *req)
{
	return req->watch_vow->vow;
}

/* Flags of an operation. */
#define API_HANDSHAKE 0x1 /* hello: the first request, and only that */
#define API_WRITES \
	0x2 /* changes durable state: if the pass's
				 * commit fails, the answer is that error
				 * (the others' answers stand whatever the
				 * commit does: a full disk must not stop
				 * `stats` or `show`) */

/*
 * Every operation, indexed by the Request's op case: everything the core
 * needs to know about it. A new request is one entry here plus its
 * handler (api_ops.c).
 */
static const struct api_op {
	const char *name;
	unsigned flags;
	const char *target_kind; /* "vow", "activation": error texts */
	uint64_t (*target_id)(const Asyncflow__Request *);
	api_op_fn *run;
} api_ops[] = {
	[ASYNCFLOW__REQUEST__OP_HELLO] = { "hello", API_HANDSHAKE, NULL, NULL,
	    api_op_hello },
	[ASYNCFLOW__REQUEST__OP_START] = { "start", API_WRITES, NULL, NULL,
	    api_op_start },
	[ASYNCFLOW__REQUEST__OP_MKVOW] = { "mkvow", API_WRITES, NULL, NULL,
	    api_op_mkvow },
	[ASYNCFLOW__REQUEST__OP_SETTLE] = { "settle", API_WRITES, "vow",
	    settle_vow, api_op_settle },
	[ASYNCFLOW__REQUEST__OP_GET_VOW] = { "get_vow", 0, "vow", get_vow_vow,
	    api_op_get_vow },
	[ASYNCFLOW__REQUEST__OP_WATCH_VOW] = { "watch_vow", 0, "vow",
	    watch_vow_vow, api_op_watch_vow },
	[ASYNCFLOW__REQUEST__OP_LIST] = { "list", 0, NULL, NULL, api_op_list },
	[ASYNCFLOW__REQUEST__OP_SHOW] = { "show", 0, "activation", show_act,
	    api_op_show },
	[ASYNCFLOW__REQUEST__OP_JOURNAL] = { "journal", 0, "activation",
	    journal_act, api_op_journal },
	[ASYNCFLOW__REQUEST__OP_FAILURES] = { "failures", 0, NULL, NULL,
	    api_op_failures },
	[ASYNCFLOW__REQUEST__OP_WAKE] = { "wake", API_WRITES, "activation",
	    wake_act, api_op_wake },
	[ASYNCFLOW__REQUEST__OP_STATS] = { "stats", 0, NULL, NULL,
	    api_op_stats },
	[ASYNCFLOW__REQUEST__OP_SERVE] = { "serve", 0, NULL, NULL,
	    api_op_serve },
	[ASYNCFLOW__REQUEST__OP_MODULES] = { "modules", 0, NULL, NULL,
	    api_op_modules },
	[ASYNCFLOW__REQUEST__OP_TERMINATE] = { "terminate", API_WRITES,
	    "activation", terminate_act, api_op_terminate },
	[ASYNCFLOW__REQUEST__OP_PURGE] = { "purge", API_WRITES, "activation",
	    purge_act, api_op_purge },
	[ASYNCFLOW__REQUEST__OP_UPGRADE] = { "upgrade", 0, NULL, NULL,
	    api_op_upgrade },
	[ASYNCFLOW__REQUEST__OP_CANCEL] = { "cancel", API_WRITES, "activation",
	    cancel_act, api_op_cancel },
	[ASYNCFLOW__REQUEST__OP_CALL] = { "call", API_WRITES, "activation",
	    call_act, api_op_call },
};

/* The entry for an op case, or NULL (not set, or newer than this daemon). */
static const struct api_op *
api_op_find(int op_case)
{
	if (op_case < 0 ||
	    (size_t)op_case >= sizeof(api_ops) / sizeof(api_ops[0]) ||
	    api_ops[op_case].run == NULL)
		return NULL;
	return &api_ops[op_case];
}

/* A message that names what the error is about. */
static const char *
explain(const struct api_op *op, const Asyncflow__Request *req, int rc,
    char *msg, size_t n)
{
	unsigned long long id;
	const char *what = op->target_kind;

	if (op->target_id == NULL)
		return NULL;
	id = op->target_id(req);
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
		snprintf(msg, n,
		    "settling vow %llu that way would make its "
		    "chain a cycle",
		    id);
		break;
	case AF_EINVAL:
		snprintf(msg, n,
		    "invalid value for %s %llu (resolvers cannot "
		    "be passed by clients)",
		    what, id);
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
	const struct api_op *op = api_op_find(req->op_case);
	char msg[256];
	int rc;

	arena_reset(api->arena);
	/* A write earlier in this pass: what this request reads may be rolled
	 * back with it. */
	if (api->cur_effect)
		api->pass_wrote = true;
	api->cur_effect = op != NULL && (op->flags & API_WRITES);
	if (req->id == 0) {
		api_queue_error(api, conn, 0, AF_EPROTO,
		    "request id must be "
		    "nonzero",
		    false);
		return AF_EPROTO;
	}
	if (!*greeted) {
		if (op == NULL || !(op->flags & API_HANDSHAKE)) {
			api_queue_error(api, conn, req->id, AF_EPROTO,
			    "the "
			    "first request must be hello",
			    false);
			return AF_EPROTO;
		}
		if (req->hello->version != AF_PROTOCOL_VERSION) {
			snprintf(msg, sizeof(msg),
			    "protocol version mismatch: "
			    "client speaks %u, asyncflowd speaks %d",
			    req->hello->version, AF_PROTOCOL_VERSION);
			api_queue_error(api, conn, req->id, AF_EPROTO, msg,
			    false);
			return AF_EPROTO;
		}
		*greeted = true;
		return op->run(api, conn, req);
	}
	if (op == NULL) {
		api_queue_error(api, conn, req->id, AF_EPROTO,
		    "unknown "
		    "operation",
		    false);
		return AF_EPROTO;
	}
	if (op->flags & API_HANDSHAKE) {
		api_queue_error(api, conn, req->id, AF_EPROTO,
		    "hello sent "
		    "twice",
		    false);
		return AF_EPROTO;
	}
	api->why[0] = '\0';
	if ((rc = op->run(api, conn, req)) != AF_OK) {
		const char *why = explain(op, req, rc, msg, sizeof(msg));

		api_queue_error(api, conn, req->id, rc,
		    why != NULL     ? why :
			api->why[0] ? api->why :
				      NULL,
		    false);
	}
	return AF_OK;
}

bool
api_pending(const struct api *api)
{
	return api->nheld > 0 || api->npost > 0;
}

/* An upgrade request of conn is being checked or waits for its switch:
 * its answer comes in a later pass. */
static bool
upgrade_owed(const struct api *api, uint64_t conn)
{
	return (api->up.pid != 0 || api->up.swap_pending) &&
	    api->up.conn == conn;
}

bool
api_holds(const struct api *api, uint64_t conn)
{
	size_t i;

	if (upgrade_owed(api, conn))
		return true;
	for (i = 0; i < api->nheld; i++)
		if (api->held[i].conn == conn)
			return true;
	for (i = 0; i < api->npost; i++)
		if (api->post[i].conn == conn)
			return true;
	for (i = 0; i < api->nfin; i++)
		if (api->fin[i].conn == conn)
			return true;
	return false;
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
	Asyncflow__ErrorReply er;
	struct held h;
	char msg[256], text[API_ERRMSG_MAX];
	size_t i, j;

	/* Right after a commit, nothing uncommitted: a checked live
	 * upgrade switches here, its answer among this pass's. */
	api_upgrade_after_pass(api, rc);
	snprintf(msg, sizeof(msg),
	    "commit failed, nothing of this request "
	    "took effect: %s",
	    af_strerror(rc));
	error_reply(&er, rc, msg, text);
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
	serve_after_pass(api, rc);
	api->pass_wrote = false;
	api->cur_effect = false;
	for (i = 0; i < api->npost; i++) {
		h = api->post[i];
		send_held(api, &h);
	}
	api->npost = 0;
	/* Last, the errors that end connections, but for one whose upgrade
	 * answer is still to come. */
	for (i = j = 0; i < api->nfin; i++) {
		h = api->fin[i];
		if (upgrade_owed(api, h.conn))
			api->fin[j++] = h;
		else
			send_held(api, &h);
	}
	api->nfin = j;
}

void
api_set_connections(struct api *api, uint64_t n)
{
	api->connections = n;
}

struct api *
api_new(struct engine *e, api_send_fn *send, void *ctx, const char *durability)
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
	api_upgrade_release(api);
	while (u64map_next(&api->waits, &i, &k, &p))
		free(p);
	u64map_release(&api->waits);
	serve_release(api);
	for (i = 0; i < api->nheld; i++)
		free(api->held[i].msg);
	for (i = 0; i < api->npost; i++)
		free(api->post[i].msg);
	for (i = 0; i < api->nfin; i++)
		free(api->fin[i].msg);
	free(api->held);
	free(api->post);
	free(api->fin);
	buf_release(&api->b);
	arena_free(api->arena);
	free(api);
}
