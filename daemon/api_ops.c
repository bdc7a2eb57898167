/*
 * api_ops.c: the handlers of the request table (api.c): one per protocol
 * operation, turning a decoded Request into engine calls and queueing its
 * reply with api_queue (held until the pass commits). A handler returns
 * AF_OK once it has answered (or, for a wait, once the answer is due from
 * a later commit), or the error api_request answers with.
 *
 * Not here: the table, handshake, held replies and waits (api.c),
 * client-served objects and Serve (serve.c).
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_int.h"
#include "api_invocation.h"
#include "checker.h"
#include "idem.h"
#include "log.h"
#include "modules.h"
#include "registry.h"
#include "value.h"

#define LIST_LIMIT_DEFAULT 1000
#define LIST_LIMIT_MAX     10000

/* ---- Handshake, flows and vows ------------------------------------------- */

int
api_op_hello(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__HelloReply hr = ASYNCFLOW__HELLO_REPLY__INIT;

	hr.version = AF_PROTOCOL_VERSION;
	hr.incarnation = engine_incarnation(api->e);
	hr.daemon = (char *)"asyncflowd 0.1";
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_HELLO;
	r.hello = &hr;
	api_queue(api, conn, &r, false);
	log_debug("connection %llu: hello from %s", (unsigned long long)conn,
	    req->hello->client);
	return AF_OK;
}

/* The first vow `v` names that does not exist, or 0: which one an
 * AF_ENOTFOUND about a client's value was about. */
static uint64_t
missing_vow(struct api *api, const struct af_value *v)
{
	enum vow_state st;
	uint64_t id = 0;
	size_t i;

	if (v == NULL)
		return 0;
	switch (v->type) {
	case AF_VOW:
		if (engine_vow_state(api->e, v->u.id, &st, NULL, NULL) ==
		    AF_ENOTFOUND)
			id = v->u.id;
		break;
	case AF_LIST:
		for (i = 0; id == 0 && i < v->u.list.len; i++)
			id = missing_vow(api, v->u.list.items[i]);
		break;
	case AF_RECORD:
		for (i = 0; id == 0 && i < v->u.rec.len; i++)
			id = missing_vow(api, v->u.rec.fields[i].value);
		break;
	default:
		break;
	}
	return id;
}

/* Whether `v` holds a resolver anywhere (which a client may not pass). */
static bool
holds_resolver(const struct af_value *v)
{
	size_t i;

	if (v == NULL)
		return false;
	switch (v->type) {
	case AF_RESOLVER:
		return true;
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			if (holds_resolver(v->u.list.items[i]))
				return true;
		return false;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			if (holds_resolver(v->u.rec.fields[i].value))
				return true;
		return false;
	default:
		return false;
	}
}

static int
start_flow(struct api *api, const Asyncflow__Request *req,
    Asyncflow__Response *r, Asyncflow__StartReply *sr, char *msg, size_t msglen)
{
	const Asyncflow__StartFlow *s = req->start;
	const struct af_value *args;
	uint64_t missing;
	bool existing;
	int rc;

	if (s->idempotency_key != NULL &&
	    strlen(s->idempotency_key) > IDEM_KEY_MAX) {
		snprintf(msg, msglen,
		    "idempotency key too long: %zu bytes, at most %d",
		    strlen(s->idempotency_key), IDEM_KEY_MAX);
		return AF_EINVAL;
	}
	if ((rc = api_from_wire(api, s->args, &args)) != AF_OK)
		return rc;
	if (holds_resolver(args)) {
		snprintf(msg, msglen,
		    "args hold a resolver: resolvers cannot be passed by "
		    "clients");
		return AF_EINVAL;
	}
	asyncflow__start_reply__init(sr);
	rc = engine_start_keyed(api->e, s->idempotency_key, s->flow, args,
	    &sr->activation, &sr->outcome, &existing);
	if (rc == AF_ENOTFOUND && !engine_has_flow(api->e, s->flow))
		snprintf(msg, msglen, "unknown flow %s", s->flow);
	else if (rc == AF_ENOTFOUND && (missing = missing_vow(api, args)) != 0)
		snprintf(msg, msglen,
		    "args name vow %llu, which does not exist",
		    (unsigned long long)missing);
	else if (rc == AF_ENOTFOUND)
		snprintf(msg, msglen, "args name a vow that does not exist");
	else if (rc == AF_EEXIST)
		snprintf(msg, msglen,
		    "idempotency key already used with another flow or other "
		    "args");
	else if (rc == AF_ELIMIT && engine_start_refused(api->e))
		snprintf(msg, msglen,
		    "no coroutine stack for a new activation: every one in "
		    "memory has uncommitted work (the kernel's mapping "
		    "limit); retry");
	if (rc != AF_OK)
		return rc;
	sr->existing = existing;
	r->result_case = ASYNCFLOW__RESPONSE__RESULT_START;
	r->start = sr;
	return AF_OK;
}

int
api_op_start(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__StartReply sr;
	char msg[256];
	int rc;

	r.id = req->id;
	msg[0] = '\0';
	rc = start_flow(api, req, &r, &sr, msg, sizeof(msg));
	/* A refusal start_flow could explain. */
	if (rc != AF_OK && msg[0] != '\0') {
		api_queue_error(api, conn, req->id, rc, msg, false);
		return AF_OK;
	}
	if (rc != AF_OK)
		return rc;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

int
api_op_mkvow(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__MakeVowReply mr;
	uint8_t secret[VOW_SECRET_LEN];
	int rc;

	asyncflow__make_vow_reply__init(&mr);
	if ((rc = engine_mkvow(api->e, &mr.vow, secret)) != AF_OK)
		return rc;
	mr.resolver.data = secret;
	mr.resolver.len = VOW_SECRET_LEN;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_MKVOW;
	r.mkvow = &mr;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

int
api_op_settle(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__VowInfo vi;
	const Asyncflow__SettleVow *s = req->settle;
	const struct af_value *v;
	enum vow_state st;
	uint64_t missing;
	char msg[256];
	int rc;

	if (s->resolver.len != VOW_SECRET_LEN)
		return AF_EDENIED;
	if ((rc = api_from_wire(api, s->value, &v)) != AF_OK)
		return rc;
	rc = engine_settle(api->e, s->vow, s->resolver.data, s->reject, v);
	if (rc == AF_ENOTFOUND &&
	    engine_vow_state(api->e, s->vow, &st, NULL, NULL) == AF_OK &&
	    (missing = missing_vow(api, v)) != 0) {
		/* Not the vow settled: one its value names. */
		snprintf(msg, sizeof(msg),
		    "the value names vow %llu, which does not exist",
		    (unsigned long long)missing);
		api_queue_error(api, conn, req->id, rc, msg, false);
		return AF_OK;
	}
	if (rc != AF_OK)
		return rc;
	serve_answered(api, s->vow);
	asyncflow__vow_info__init(&vi);
	vi.vow = s->vow;
	/* Pending if it now follows a vow that is pending. */
	if (engine_vow_state(api->e, s->vow, &st, NULL, NULL) == AF_OK)
		vi.state = api_wire_status(st);
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r.vow = &vi;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

/* The vow's state now; unless it is settled, with wait: a GetVow is
 * answered on settlement instead, a WatchVow now and by an event then. */
static int
vow_reply(struct api *api, uint64_t conn, uint64_t reqid, uint64_t vow,
    bool wait, bool watch)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;
	bool settled;
	int rc;

	if ((rc = api_vow_info(api, vow, &vi, &settled)) != AF_OK) {
		api_free_vow_info(&vi);
		return rc;
	}
	if (!settled && wait) {
		api_add_wait(api, vow, conn, watch ? 0 : reqid);
		if (!watch) {
			api_free_vow_info(&vi);
			return AF_OK; /* answered on settlement */
		}
	}
	r.id = reqid;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_VOW;
	r.vow = &vi;
	api_queue(api, conn, &r, false);
	api_free_vow_info(&vi);
	return AF_OK;
}

int
api_op_get_vow(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	return vow_reply(api, conn, req->id, req->get_vow->vow,
	    req->get_vow->wait, false);
}

int
api_op_watch_vow(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	return vow_reply(api, conn, req->id, req->watch_vow->vow, true, true);
}

int
api_op_wake(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__WakeReply wr = ASYNCFLOW__WAKE_REPLY__INIT;
	int rc;

	if ((rc = engine_wake(api->e, req->wake->activation)) != AF_OK)
		return rc;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_WAKE;
	r.wake = &wr;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

int
api_op_terminate(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__TerminateReply tr = ASYNCFLOW__TERMINATE_REPLY__INIT;
	const char *msg = req->terminate->message;
	int rc;

	rc = engine_terminate(api->e, req->terminate->activation,
	    msg != NULL && *msg != '\0' ? msg : NULL);
	if (rc == AF_EINVAL) {
		api_queue_error(api, conn, req->id, rc,
		    "terminate: the message is not UTF-8", false);
		return AF_OK;
	}
	if (rc != AF_OK)
		return rc;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_TERMINATE;
	r.terminate = &tr;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

int
api_op_purge(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__PurgeReply pr = ASYNCFLOW__PURGE_REPLY__INIT;
	int rc;

	if ((rc = engine_purge(api->e, req->purge->activation)) != AF_OK)
		return rc;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_PURGE;
	r.purge = &pr;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

/* cancel: the request is in the row once this pass commits, and reaches
 * the flow as an event (engine_cancel). The reason is a client value: no
 * resolvers (api_from_wire), and the vows it names must exist. */
int
api_op_cancel(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__CancelReply cr = ASYNCFLOW__CANCEL_REPLY__INIT;
	const struct af_value *v = NULL;
	uint64_t missing;
	char msg[256];
	int rc;

	if (req->cancel->reason != NULL &&
	    (rc = api_from_wire(api, req->cancel->reason, &v)) != AF_OK)
		return rc;
	if (holds_resolver(v)) {
		api_queue_error(api, conn, req->id, AF_EINVAL,
		    "cancel: the reason holds a resolver: resolvers cannot be "
		    "passed by clients",
		    false);
		return AF_OK;
	}
	if (v != NULL && (missing = missing_vow(api, v)) != 0) {
		snprintf(msg, sizeof(msg),
		    "cancel: the reason names vow %llu, which does not exist",
		    (unsigned long long)missing);
		api_queue_error(api, conn, req->id, AF_ENOTFOUND, msg, false);
		return AF_OK;
	}
	if ((rc = engine_cancel(api->e, req->cancel->activation, v)) != AF_OK)
		return rc;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_CANCEL;
	r.cancel = &cr;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

/* call: a call into a flow's export (engine_call_export). The reply is the
 * result vow, once the call is in the callee's row (committed): a client
 * then waits on it as on any vow. */
int
api_op_call(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__CallExportReply cr = ASYNCFLOW__CALL_EXPORT_REPLY__INIT;
	const Asyncflow__CallExport *c = req->call;
	const struct af_value *v;
	struct af_value null = { .type = AF_NULL };
	const char *name;
	uint64_t act, missing, vow;
	struct buf b;
	char msg[512];
	int rc;

	if (exports_parse_ref(c->object, &act, &name) != AF_OK) {
		snprintf(msg, sizeof(msg),
		    "call: \"%.200s\" is not an export reference act/A/NAME "
		    "(A an activation id, NAME 1-128 bytes without '/')",
		    c->object);
		api_queue_error(api, conn, req->id, AF_EINVAL, msg, false);
		return AF_OK;
	}
	if (!exports_method_ok(c->method)) {
		api_queue_error(api, conn, req->id, AF_EINVAL,
		    "call: the method must be 1-128 bytes without '/'", false);
		return AF_OK;
	}
	if (c->args == NULL)
		v = &null;
	else if ((rc = api_from_wire(api, c->args, &v)) != AF_OK)
		return rc;
	if (holds_resolver(v)) {
		api_queue_error(api, conn, req->id, AF_EINVAL,
		    "call: args hold a resolver: resolvers cannot be passed by "
		    "clients",
		    false);
		return AF_OK;
	}
	if ((missing = missing_vow(api, v)) != 0) {
		snprintf(msg, sizeof(msg),
		    "call: the args name vow %llu, which does not exist",
		    (unsigned long long)missing);
		api_queue_error(api, conn, req->id, AF_ENOTFOUND, msg, false);
		return AF_OK;
	}
	buf_init(&b);
	if ((rc = value_encode(&b, v)) == AF_OK)
		rc = engine_call_export(api->e, act, name, c->method, b.p,
		    b.len, 0, &vow);
	buf_release(&b);
	if (rc != AF_OK)
		return rc;
	cr.vow = vow;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_CALL;
	r.call = &cr;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

/* ---- Inspection: list, show, journal, stats ------------------------------ */

/* Unanswered invocations, by sending activation: read once for a whole
 * listing. */
struct outbox_pairs {
	struct {
		uint64_t act, vow;
	} * p;
	size_t n, cap;
};

static int
pairs_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	struct outbox_pairs *op = ctx;

	(void)object;
	if (api_grow((void **)&op->p, &op->cap, op->n + 1, sizeof(*op->p)) !=
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
		if (api_grow((void **)&ai->invocations, cap,
			ai->n_invocations + 1, sizeof(inv)) == AF_OK)
			ai->invocations[ai->n_invocations++] = inv;
		else
			asyncflow__invocation__free_unpacked(inv, NULL);
	}
	buf_release(&b);
}

/* The wait of one coroutine as a Blocked message (malloc'd). The engine
 * knows no connections: whether an object is served now is added here. */
struct blocked_ctx {
	struct api *api;
	Asyncflow__ActivationInfo *ai;
	size_t cap;
};

static void
free_blocked(Asyncflow__Blocked *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n_vows; i++) {
		/* Unset strings are protobuf-c's shared empty string. */
		if (b->vows[i] != NULL &&
		    b->vows[i]->object != protobuf_c_empty_string)
			free(b->vows[i]->object);
		if (b->vows[i] != NULL &&
		    b->vows[i]->method != protobuf_c_empty_string)
			free(b->vows[i]->method);
		free(b->vows[i]);
	}
	free(b->vows);
	free(b);
}

static int
blocked_cb(void *ctx, unsigned coroutine, const char *wait,
    const struct engine_blocked_vow *vows, size_t n)
{
	static const char *const kinds[] = { "vow", "timer", "send" };
	struct blocked_ctx *bc = ctx;
	Asyncflow__BlockedVow *bv;
	Asyncflow__Blocked *b;
	size_t i;

	if (api_grow((void **)&bc->ai->blocked_on, &bc->cap,
		bc->ai->n_blocked_on + 1, sizeof(b)) != AF_OK ||
	    (b = calloc(1, sizeof(*b))) == NULL)
		return AF_ENOMEM;
	asyncflow__blocked__init(b);
	bc->ai->blocked_on[bc->ai->n_blocked_on++] = b;
	b->coroutine = coroutine;
	b->wait = (char *)wait; /* a literal */
	if ((b->vows = calloc(n ? n : 1, sizeof(*b->vows))) == NULL)
		return AF_ENOMEM;
	for (i = 0; i < n; i++) {
		if ((bv = calloc(1, sizeof(*bv))) == NULL)
			return AF_ENOMEM;
		asyncflow__blocked_vow__init(bv);
		b->vows[b->n_vows++] = bv;
		bv->vow = vows[i].vow;
		bv->kind = (char *)kinds[vows[i].kind];
		bv->settled = vows[i].settled;
		bv->due_ms = vows[i].due_ms;
		if (vows[i].kind != EB_SEND)
			continue;
		bv->object = strdup(vows[i].object);
		bv->method = strdup(vows[i].method);
		if (bv->object == NULL || bv->method == NULL)
			return AF_ENOMEM;
		bv->server_connected = serve_has_server(bc->api,
		    vows[i].object);
	}
	return AF_OK;
}

/* Build one ActivationInfo (strings point into info; args, waiting_on,
 * blocked_on and invocations malloc'd: free with free_act_info).
 * `outbox`: the unanswered invocations of every activation. */
static void
act_info(struct api *api, const struct engine_act_info *info,
    Asyncflow__ActivationInfo *ai, const struct outbox_pairs *outbox)
{
	struct blocked_ctx bc = { NULL, NULL, 0 };
	size_t n = 0, cap = 0, i;

	asyncflow__activation_info__init(ai);
	ai->id = info->id;
	ai->flow = (char *)info->flow;
	ai->state = (char *)engine_state_name(info->state);
	ai->outcome = info->outcome;
	ai->journal_length = info->journal_length;
	ai->failure = (char *)info->failure;
	ai->incarnation = info->incarnation;
	ai->created_ms = info->created_ms;
	ai->last_progress_ms = info->last_progress_ms;
	ai->last_incarnation = info->last_incarnation;
	ai->parent = info->parent;
	bc.api = api;
	bc.ai = ai;
	/* Out of memory: what was built is shown, the rest left out. */
	engine_blocked_on(api->e, info->id, blocked_cb, &bc);
	buf_reset(&api->b);
	if (engine_act_args(api->e, info->id, &api->b) == AF_OK)
		ai->args = api_to_wire(api->b.p, api->b.len);
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
	free(ai->children);
	for (i = 0; i < ai->n_invocations; i++)
		asyncflow__invocation__free_unpacked(ai->invocations[i], NULL);
	free(ai->invocations);
	for (i = 0; i < ai->n_blocked_on; i++)
		free_blocked(ai->blocked_on[i]);
	free(ai->blocked_on);
}


struct list_ctx {
	struct engine_act_info *infos;
	size_t n, cap;
};

static int
list_cb(void *ctx, const struct engine_act_info *info)
{
	struct list_ctx *lc = ctx;

	if (api_grow((void **)&lc->infos, &lc->cap, lc->n + 1,
		sizeof(*lc->infos)) != AF_OK)
		return 1;
	lc->infos[lc->n++] = *info;
	return 0;
}

static int
parse_state(const char *s, enum engine_state *out)
{
	enum engine_state st;

	for (st = ES_RUNNING; st <= ES_DONE; st++) {
		if (strcmp(s, engine_state_name(st)) == 0) {
			*out = st;
			return AF_OK;
		}
	}
	return AF_EINVAL;
}

static int
list_reply(struct api *api, uint64_t conn, uint64_t reqid, const char *state,
    const char *flow, uint64_t after, uint32_t limit)
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
	rc = engine_list_flow(api->e, state && *state ? &only : NULL,
	    flow && *flow ? flow : NULL, after, limit, list_cb, &lc);
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
		api_queue(api, conn, &r, false);
		for (i = 0; i < lc.n; i++)
			free_act_info(&ais[i]);
	}
	free(ais);
	free(ptrs);
	free(lc.infos);
	free(outbox.p);
	return rc;
}

int
api_op_list(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	return list_reply(api, conn, req->id, req->list->state, req->list->flow,
	    req->list->after, req->list->limit);
}

int
api_op_failures(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	return list_reply(api, conn, req->id, "Failed", NULL, 0,
	    LIST_LIMIT_MAX);
}

int
api_op_show(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	uint64_t reqid = req->id, act = req->show->activation;
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
	/* Its child flows: a scan of the rows, for show only. */
	if (engine_children(api->e, act, &ai.children, &ai.n_children) !=
	    AF_OK) {
		ai.children = NULL;
		ai.n_children = 0;
	}
	r.id = reqid;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_SHOW;
	r.show = &ai;
	api_queue(api, conn, &r, false);
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
	if (api_grow((void **)&jc->entries, &jc->cap, jc->n + 1,
		sizeof(*jc->entries)) != AF_OK)
		return AF_ENOMEM;
	if ((je = asyncflow__journal_entry__unpack(NULL, n, entry)) == NULL)
		return AF_EDECODE;
	jc->entries[jc->n++] = je;
	return AF_OK;
}

int
api_op_journal(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	const Asyncflow__DumpJournal *dj = req->journal;
	uint64_t reqid = req->id;
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
		api_queue(api, conn, &r, false);
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
count_inv_cb(void *ctx, uint64_t vow, uint64_t act, const char *object)
{
	(void)vow;
	(void)act;
	(void)object;
	((struct count_ctx *)ctx)->n++;
	return AF_OK;
}

int
api_op_stats(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__StatsReply reply, *sr = &reply;
	struct engine_stats st;
	struct count_ctx cc = { 0 };

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
	sr->failed = st.failed; /* a counter: O(1) */
	engine_outbox_list(api->e, 0, count_inv_cb, &cc);
	sr->invocations_pending = cc.n;
	sr->timers_pending = engine_timers_pending(api->e);
	sr->store_fault = (char *)(engine_store_fault(api->e) ?
		engine_store_fault(api->e) :
		"");
	sr->map_used_bytes = st.map_used_bytes;
	sr->map_size_bytes = st.map_size_bytes;
	sr->resident = st.resident;
	sr->sleeping = st.sleeping;
	sr->evictions = st.evictions;
	sr->replays_on_demand = st.replays_on_demand;
	r.id = req->id;
	r.result_case = ASYNCFLOW__RESPONSE__RESULT_STATS;
	r.stats = sr;
	api_queue(api, conn, &r, false);
	return AF_OK;
}

uint64_t
api_connections(const struct api *api)
{
	return api->connections;
}

/* ---- Modules: the names registered ------------------------------------------ */

static int
cmp_names(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Every name name_at gives, sorted (the strings are the engine's). */
static int
names(struct api *api, const char *(*name_at)(const struct engine *, size_t),
    char ***out, size_t *n)
{
	size_t i, cap = 0;
	const char *s;

	*out = NULL;
	*n = 0;
	for (i = 0; (s = name_at(api->e, i)) != NULL; i++) {
		if (api_grow((void **)out, &cap, *n + 1, sizeof(**out)) !=
		    AF_OK)
			return AF_ENOMEM;
		(*out)[(*n)++] = (char *)s;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_names);
	return AF_OK;
}

/* The names of all (flows, or objects) owned by module `label`, from the
 * sorted lists already made: *out (malloc'd) and *n. */
static int
owned(struct api *api, char **all, size_t nall, bool flows, const char *label,
    char ***out, size_t *n)
{
	struct af_registry *reg = engine_registry(api->e);
	const char *owner;
	size_t i;

	*n = 0;
	if ((*out = calloc(nall ? nall : 1, sizeof(**out))) == NULL)
		return AF_ENOMEM;
	for (i = 0; i < nall; i++) {
		if (flows) {
			const struct flow_def *d = registry_flow(reg, all[i],
			    strlen(all[i]));

			owner = d ? d->owner : NULL;
		} else {
			const struct obj_def *d = registry_object(reg, all[i],
			    strlen(all[i]));

			owner = d ? d->owner : NULL;
		}
		if (owner != NULL && strcmp(owner, label) == 0)
			(*out)[(*n)++] = all[i];
	}
	return AF_OK;
}

/* Each module loaded: path, SHA-256, since when, what it registered. */
static int
loaded_modules(struct api *api, Asyncflow__ModulesReply *mr)
{
	Asyncflow__LoadedModule *lm;
	const char *label, *hex;
	int64_t since;
	size_t i, n = modules_count();
	int rc;

	mr->loaded = calloc(n ? n : 1, sizeof(*mr->loaded));
	lm = af_arena_alloc(api->arena, (n ? n : 1) * sizeof(*lm));
	if (mr->loaded == NULL || lm == NULL)
		return AF_ENOMEM;
	for (i = 0; (label = modules_info(i, &hex, &since)) != NULL; i++) {
		asyncflow__loaded_module__init(&lm[i]);
		lm[i].path = (char *)label;
		lm[i].sha256 = (char *)hex;
		lm[i].since_ms = since;
		mr->loaded[mr->n_loaded++] = &lm[i];
		if ((rc = owned(api, mr->flows, mr->n_flows, true, label,
			 &lm[i].flows, &lm[i].n_flows)) != AF_OK ||
		    (rc = owned(api, mr->objects, mr->n_objects, false, label,
			 &lm[i].objects, &lm[i].n_objects)) != AF_OK)
			return rc;
	}
	return AF_OK;
}

int
api_op_modules(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__ModulesReply mr = ASYNCFLOW__MODULES_REPLY__INIT;
	int rc;

	if ((rc = names(api, engine_flow_name, &mr.flows, &mr.n_flows)) ==
		AF_OK &&
	    (rc = names(api, engine_object_name, &mr.objects, &mr.n_objects)) ==
		AF_OK)
		rc = loaded_modules(api, &mr);
	if (rc == AF_OK) {
		r.id = req->id;
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_MODULES;
		r.modules = &mr;
		api_queue(api, conn, &r, false);
	}
	for (size_t i = 0; i < mr.n_loaded; i++) {
		free(mr.loaded[i]->flows);
		free(mr.loaded[i]->objects);
	}
	free(mr.loaded);
	free(mr.flows);
	free(mr.objects);
	return rc;
}

/* ---- upgrade: the checker process (checker.h) ---------------------------- */

void
api_set_watch(struct api *api, api_watch_fn *fn, void *ctx)
{
	api->watch = fn;
	api->watch_ctx = ctx;
}

void
api_upgrade_release(struct api *api)
{
	int status;

	free(api->up.fail_ids);
	free(api->up.fail_quarantine);
	api->up.fail_ids = NULL;
	api->up.fail_quarantine = NULL;
	api->up.nfail = 0;
	if (api->up.pid == 0)
		return;
	/* Not switching: the new set's paths are not needed. */
	for (size_t i = 0; i < api->up.nmods; i++)
		free(api->up.mods[i]);
	free(api->up.mods);
	api->up.mods = NULL;
	api->up.nmods = 0;
	kill(api->up.pid, SIGKILL);
	while (waitpid(api->up.pid, &status, 0) < 0 && errno == EINTR)
		;
	close(api->up.fd);
	buf_release(&api->up.out);
	api->up.pid = 0;
}

int
api_op_upgrade(struct api *api, uint64_t conn, const Asyncflow__Request *req)
{
	const Asyncflow__Upgrade *u = req->upgrade;
	struct checker_opts o = *checker_defaults();
	pid_t pid;
	size_t i;
	int fd;

	if (u->n_modules == 0 && u->replay == 0) {
		snprintf(api->why, sizeof(api->why),
		    "upgrade: no module given: the complete new set is "
		    "needed (--module PATH, one or more)");
		return AF_EINVAL;
	}
	for (i = 0; i < u->n_modules; i++) {
		if (u->modules[i][0] != '/' ||
		    strpbrk(u->modules[i], "\n\r") != NULL) {
			snprintf(api->why, sizeof(api->why),
			    "upgrade: module path \"%.150s\" is not absolute "
			    "(the client resolves it)",
			    u->modules[i]);
			return AF_EINVAL;
		}
	}
	if (api->up.pid != 0 || api->up.swap_pending) {
		snprintf(api->why, sizeof(api->why),
		    "an upgrade is running already");
		return AF_EBUSY;
	}
	if (o.dir == NULL || api->watch == NULL) {
		snprintf(api->why, sizeof(api->why),
		    "this daemon cannot run the upgrade checker");
		return AF_ESTATE;
	}
	o.modules = (const char *const *)u->modules;
	o.nmodules = u->n_modules;
	o.replay = u->replay;
	if (checker_spawn(&o, &pid, &fd) != 0) {
		snprintf(api->why, sizeof(api->why),
		    "cannot start the upgrade checker: %s", strerror(errno));
		return AF_ENOMEM;
	}
	api->up.pid = pid;
	api->up.fd = fd;
	api->up.conn = conn;
	api->up.reqid = req->id;
	buf_init(&api->up.out);
	api->up.apply = u->replay == 0 && !u->check;
	api->up.force = u->force;
	api->up.swap_pending = false;
	api->up.nmods = 0;
	if (api->up.apply &&
	    (api->up.mods = calloc(u->n_modules, sizeof(char *))) != NULL)
		for (i = 0; i < u->n_modules; i++)
			if ((api->up.mods[i] = strdup(u->modules[i])) != NULL)
				api->up.nmods++;
	if (api->up.apply && api->up.nmods != u->n_modules) {
		api_upgrade_release(api);
		return AF_ENOMEM;
	}
	if (api->watch(api->watch_ctx, fd) != 0) {
		api_upgrade_release(api);
		snprintf(api->why, sizeof(api->why),
		    "cannot watch the upgrade checker");
		return AF_ENOMEM;
	}
	log_info("upgrade check of %zu module(s) started (process %d)",
	    u->n_modules, (int)pid);
	return AF_OK; /* answered when the checker is done */
}

/* The checker ended (EOF on its stdout): answer with its report. */
/* checker_failing's callback: remember a failing activation. */
static int
forced_failing(void *ctx, uint64_t act, const char *verdict)
{
	struct api *api = ctx;
	uint64_t *ids;
	bool *q;

	if ((ids = realloc(api->up.fail_ids,
		 (api->up.nfail + 1) * sizeof(*ids))) == NULL)
		return -1;
	api->up.fail_ids = ids;
	if ((q = realloc(api->up.fail_quarantine,
		 (api->up.nfail + 1) * sizeof(*q))) == NULL)
		return -1;
	api->up.fail_quarantine = q;
	ids[api->up.nfail] = act;
	q[api->up.nfail++] = strcmp(verdict, "crashed") == 0 ||
	    strcmp(verdict, "runaway") == 0;
	return 0;
}

static void
upgrade_done(struct api *api)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__UpgradeReply ur = ASYNCFLOW__UPGRADE_REPLY__INIT;
	char *text, *msg;
	int status = 0, code;

	while (waitpid(api->up.pid, &status, 0) < 0 && errno == EINTR)
		;
	close(api->up.fd);
	api->up.pid = 0;
	buf_putc(&api->up.out, '\0');
	text = api->up.out.err ? NULL : (char *)api->up.out.p;
	if (text != NULL && api->up.apply && WIFEXITED(status) &&
	    (WEXITSTATUS(status) == CHECKER_OK ||
		(WEXITSTATUS(status) == CHECKER_FAILING && api->up.force))) {
		/* Checked (or forced): the switch waits for the end of the
		 * next pass, when nothing is uncommitted. */
		log_info("upgrade check %s: switching after this pass",
		    WEXITSTATUS(status) == CHECKER_OK ?
			"passed" :
			"failed, --force given");
		api->up.swap_pending = true;
		if (WEXITSTATUS(status) == CHECKER_FAILING &&
		    checker_failing(text, forced_failing, api) != 0)
			log_error("upgrade: out of memory listing the failing "
				  "activations: they fail when an event "
				  "replays them");
		buf_release(&api->up.out);
		return;
	}
	if (text != NULL && WIFEXITED(status) &&
	    (WEXITSTATUS(status) == CHECKER_OK ||
		WEXITSTATUS(status) == CHECKER_FAILING)) {
		ur.report = text;
		ur.ok = WEXITSTATUS(status) == CHECKER_OK;
		r.id = api->up.reqid;
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_UPGRADE;
		r.upgrade = &ur;
		api_queue(api, api->up.conn, &r, false);
		log_info("upgrade check done: %s",
		    ur.ok ? "every activation passes" :
			    "some activations would fail");
	} else {
		/* "error CODE MESSAGE", or a checker that died. */
		code = AF_ESTORE;
		msg = NULL;
		if (text != NULL && strncmp(text, "error ", 6) == 0) {
			code = (int)strtol(text + 6, &msg, 10);
			if (msg != NULL && *msg == ' ')
				msg++;
			msg[strcspn(msg, "\n")] = '\0';
		}
		if (msg == NULL || *msg == '\0') {
			snprintf(api->why, sizeof(api->why),
			    "the upgrade checker failed (%s %d)",
			    WIFSIGNALED(status) ? "signal" : "exit status",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
						  WEXITSTATUS(status));
			msg = api->why;
		}
		api_queue_error(api, api->up.conn, api->up.reqid, code, msg,
		    false);
		log_info("upgrade check failed: %s", msg);
	}
	buf_release(&api->up.out);
	/* Not switching: the new set's paths are not needed. */
	for (size_t i = 0; i < api->up.nmods; i++)
		free(api->up.mods[i]);
	free(api->up.mods);
	api->up.mods = NULL;
	api->up.nmods = 0;
}

bool
api_fd_readable(struct api *api, int fd)
{
	char chunk[65536];
	ssize_t n;

	if (api->up.pid == 0 || fd != api->up.fd)
		return true;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n > 0) {
			buf_put(&api->up.out, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false; /* more later */
		break;                /* EOF, or an error: it is over */
	}
	upgrade_done(api);
	return true;
}

void
api_upgrade_after_pass(struct api *api, int rc)
{
	Asyncflow__Response r = ASYNCFLOW__RESPONSE__INIT;
	Asyncflow__UpgradeReply ur = ASYNCFLOW__UPGRADE_REPLY__INIT;
	struct af_registry *old, *reg;
	const char *path, *hex;
	uint64_t rebuilt = 0;
	int64_t since;
	char err[512];
	struct buf b;
	size_t i;
	int src;

	/* The code the last switch replaced, once no activation in memory
	 * was built by it: nothing can run it any more. */
	if ((old = engine_take_retired(api->e)) != NULL) {
		registry_free(old);
		modules_unload_prev();
	}
	if (!api->up.swap_pending || rc != AF_OK)
		return; /* a failed pass: the next one */
	if (engine_old_code(api->e) > 0)
		return; /* the last switch's old code goes first */
	api->up.swap_pending = false;
	src = modules_registry(checker_defaults()->dir,
	    (const char *const *)api->up.mods, api->up.nmods, &reg, err,
	    sizeof(err));
	if (src != AF_OK) {
		api_queue_error(api, api->up.conn, api->up.reqid, src, err,
		    false);
		log_error("upgrade not applied: %s", err);
		goto out;
	}
	if ((src = engine_swap_registry(api->e, reg, &rebuilt)) != AF_OK) {
		/* Cannot happen right after a commit with the old code gone;
		 * if it does, nothing changed but the recorded set. */
		api_queue_error(api, api->up.conn, api->up.reqid, src,
		    src == AF_ESTATE ?
			"upgrade: the engine was not between passes" :
			"upgrade: the new registry could not be set up",
		    false);
		registry_free(reg);
		goto out;
	}
	/* From here the new code is in use; the old is no longer run, and
	 * is freed and unloaded above once nothing in memory holds it. */
	/* Forced: those the check found failing fail now, as a restart
	 * fails them -- replayed, or quarantined when their replay crashed
	 * or ran away in the checker (it would do the same here). */
	for (i = 0; i < api->up.nfail; i++) {
		int frc = api->up.fail_quarantine[i] ?
		    engine_quarantine(api->e, api->up.fail_ids[i],
			"the upgrade check's replay of it under the new "
			"modules crashed or ran away (upgrade --force); "
			"quarantined until woken") :
		    engine_wake(api->e, api->up.fail_ids[i]);

		if (frc != AF_OK && frc != AF_ESTATE && frc != AF_ENOTFOUND)
			log_warn("activation %llu after the upgrade: %s",
			    (unsigned long long)api->up.fail_ids[i],
			    af_strerror(frc));
	}
	buf_init(&b);
	buf_puts(&b, "{\"upgraded\": true, \"modules\": [");
	for (i = 0; (path = modules_info(i, &hex, &since)) != NULL; i++) {
		buf_puts(&b, i ? ", {\"path\": " : "{\"path\": ");
		value_json_string(&b, path, strlen(path));
		buf_printf(&b, ", \"sha256\": \"%s\"}", hex);
	}
	buf_printf(&b, "], \"activations\": %llu}",
	    (unsigned long long)rebuilt);
	buf_putc(&b, '\0');
	if (b.err) {
		api_queue_error(api, api->up.conn, api->up.reqid, AF_ENOMEM,
		    "upgraded, but out of memory for the answer", false);
	} else {
		ur.report = (char *)b.p;
		ur.ok = true;
		r.id = api->up.reqid;
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_UPGRADE;
		r.upgrade = &ur;
		api_queue(api, api->up.conn, &r, false);
	}
	buf_release(&b);
	log_info("upgraded to %zu module(s); %llu activations replay under "
		 "the new code",
	    api->up.nmods, (unsigned long long)rebuilt);
	/* The paths now label the loaded modules: kept. */
	free(api->up.mods);
	api->up.mods = NULL;
	api->up.nmods = 0;
	goto forget;
out:
	for (i = 0; i < api->up.nmods; i++)
		free(api->up.mods[i]);
	free(api->up.mods);
	api->up.mods = NULL;
	api->up.nmods = 0;
forget:
	free(api->up.fail_ids);
	free(api->up.fail_quarantine);
	api->up.fail_ids = NULL;
	api->up.fail_quarantine = NULL;
	api->up.nfail = 0;
}
