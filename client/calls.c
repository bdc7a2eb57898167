/*
 * calls.c: one blocking function per operation of the protocol, each its
 * arguments put into the operation's message, call_REQ() (generated from
 * AF_OPS in ops.h: the request around the message, af_request with a
 * timeout), and the result taken out of the Response for the caller.
 *
 * conn.c checks that a successful answer carries the result kind its
 * request asks for (result_for, from the same list), so the results below
 * are never NULL; and af_request refuses a NULL connection with AF_EINVAL
 * before anything else, after the wrapper has cleared its out-parameters.
 */
#include <string.h>

#include "asyncflow.h"
#include "ops.h"

/*
 * call_REQ(c, op, timeout_ms, &r): sends op as operation REQ and waits for
 * its answer within timeout_ms; on AF_OK *r is the Response, for the
 * wrapper to free (GIVE does). One per line of AF_OPS.
 */
#define XX(OP, req, Req, RESULT) \
	static inline int call_##req(af_conn *c, Asyncflow__##Req *op, \
	    int timeout_ms, Asyncflow__Response **r) \
	{ \
		Asyncflow__Request rq = ASYNCFLOW__REQUEST__INIT; \
\
		rq.op_case = ASYNCFLOW__REQUEST__OP_##OP; \
		rq.req = op; \
		return af_request(c, &rq, timeout_ms, r); \
	}
AF_OPS(XX)
#undef XX

/* Takes the result sub-message out of r (whichever it carries; NULL for
 * none) and frees the rest. */
static void *
take_result(Asyncflow__Response *r)
{
	const ProtobufCFieldDescriptor *f;
	void **slot, *m = NULL;

	f = protobuf_c_message_descriptor_get_field(r->base.descriptor,
	    (unsigned)r->result_case);
	if (f != NULL) {
		slot = (void **)((char *)r + f->offset);
		m = *slot;
		*slot = NULL;
		r->result_case = ASYNCFLOW__RESPONSE__RESULT__NOT_SET;
	}
	af_msg_free(r);
	return m;
}

/* Hands the result of r to *out (when out is not NULL: it then outlives r)
 * and frees the rest. */
#define GIVE(r, out) \
	do { \
		if ((out) != NULL) \
			*(out) = take_result(r); \
		else \
			af_msg_free(r); \
	} while (0)

int
af_start(af_conn *c, const char *flow, const Asyncflow__Value *args,
    const char *idem_key, uint64_t *act, uint64_t *outcome, bool *existing)
{
	Asyncflow__StartFlow op = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (act != NULL)
		*act = 0;
	if (outcome != NULL)
		*outcome = 0;
	if (existing != NULL)
		*existing = false;
	op.flow = (char *)flow; /* NULL: conn.c refuses it */
	op.args = (Asyncflow__Value *)args;
	op.idempotency_key = (char *)(idem_key != NULL ? idem_key : "");
	if ((rc = call_start(c, &op, af_get_timeout(c), &r)) != AF_OK)
		return rc;
	if (act != NULL)
		*act = r->start->activation;
	if (outcome != NULL)
		*outcome = r->start->outcome;
	if (existing != NULL)
		*existing = r->start->existing;
	af_msg_free(r);
	return AF_OK;
}

int
af_mkvow(af_conn *c, uint64_t *vow, uint8_t resolver[AF_RESOLVER_LEN])
{
	Asyncflow__MakeVow op = ASYNCFLOW__MAKE_VOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (vow != NULL)
		*vow = 0;
	if (resolver != NULL)
		memset(resolver, 0, AF_RESOLVER_LEN);
	if ((rc = call_mkvow(c, &op, af_get_timeout(c), &r)) != AF_OK)
		return rc;
	/* conn.c checked the resolver's length. */
	if (vow != NULL)
		*vow = r->mkvow->vow;
	if (resolver != NULL)
		memcpy(resolver, r->mkvow->resolver.data, AF_RESOLVER_LEN);
	/* The secret does not linger in freed memory. */
	memset(r->mkvow->resolver.data, 0, AF_RESOLVER_LEN);
	af_msg_free(r);
	return AF_OK;
}

int
af_settle(af_conn *c, uint64_t vow, const uint8_t resolver[AF_RESOLVER_LEN],
    bool reject, const Asyncflow__Value *value, Asyncflow__VowInfo **out)
{
	Asyncflow__SettleVow op = ASYNCFLOW__SETTLE_VOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	op.vow = vow;
	op.resolver.len = AF_RESOLVER_LEN; /* NULL data: conn.c refuses it */
	op.resolver.data = (uint8_t *)resolver;
	op.reject = reject;
	op.value = (Asyncflow__Value *)value;
	if ((rc = call_settle(c, &op, af_get_timeout(c), &r)) == AF_OK)
		GIVE(r, out);
	return rc;
}

int
af_get_vow(af_conn *c, uint64_t vow, bool wait, int timeout_ms,
    Asyncflow__VowInfo **out)
{
	Asyncflow__GetVow op = ASYNCFLOW__GET_VOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	op.vow = vow;
	op.wait = wait;
	if ((rc = call_get_vow(c, &op, timeout_ms, &r)) == AF_OK)
		GIVE(r, out);
	return rc;
}

int
af_watch_vow(af_conn *c, uint64_t vow, Asyncflow__VowInfo **now)
{
	Asyncflow__WatchVow op = ASYNCFLOW__WATCH_VOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (now != NULL)
		*now = NULL;
	op.vow = vow;
	if ((rc = call_watch_vow(c, &op, af_get_timeout(c), &r)) == AF_OK)
		GIVE(r, now);
	return rc;
}

int
af_list(af_conn *c, const char *state, uint64_t after, uint32_t limit,
    Asyncflow__ActivationList **out)
{
	Asyncflow__ListActivations op = ASYNCFLOW__LIST_ACTIVATIONS__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	op.state = (char *)(state != NULL ? state : "");
	op.after = after;
	op.limit = limit;
	if ((rc = call_list(c, &op, af_get_timeout(c), &r)) == AF_OK)
		GIVE(r, out);
	return rc;
}

int
af_show(af_conn *c, uint64_t act, Asyncflow__ActivationInfo **out)
{
	Asyncflow__ShowActivation op = ASYNCFLOW__SHOW_ACTIVATION__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	op.activation = act;
	if ((rc = call_show(c, &op, af_get_timeout(c), &r)) == AF_OK)
		GIVE(r, out);
	return rc;
}

int
af_journal(af_conn *c, uint64_t act, Asyncflow__JournalDump **out)
{
	return af_journal_range(c, act, 0, 0, out);
}

int
af_journal_range(af_conn *c, uint64_t act, uint64_t from, uint32_t limit,
    Asyncflow__JournalDump **out)
{
	Asyncflow__DumpJournal op = ASYNCFLOW__DUMP_JOURNAL__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	op.activation = act;
	op.from = from;
	op.limit = limit;
	if ((rc = call_journal(c, &op, af_get_timeout(c), &r)) == AF_OK)
		GIVE(r, out);
	return rc;
}

int
af_failures(af_conn *c, Asyncflow__ActivationList **out)
{
	Asyncflow__ListFailures op = ASYNCFLOW__LIST_FAILURES__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = call_failures(c, &op, af_get_timeout(c), &r)) == AF_OK)
		GIVE(r, out);
	return rc;
}

int
af_wake(af_conn *c, uint64_t act)
{
	Asyncflow__Wake op = ASYNCFLOW__WAKE__INIT;
	Asyncflow__Response *r;
	int rc;

	op.activation = act;
	if ((rc = call_wake(c, &op, af_get_timeout(c), &r)) == AF_OK)
		af_msg_free(r);
	return rc;
}

int
af_terminate(af_conn *c, uint64_t act, const char *message)
{
	Asyncflow__Terminate op = ASYNCFLOW__TERMINATE__INIT;
	Asyncflow__Response *r;
	int rc;

	op.activation = act;
	op.message = (char *)(message != NULL ? message : "");
	if ((rc = call_terminate(c, &op, af_get_timeout(c), &r)) == AF_OK)
		af_msg_free(r);
	return rc;
}

int
af_purge(af_conn *c, uint64_t act)
{
	Asyncflow__Purge op = ASYNCFLOW__PURGE__INIT;
	Asyncflow__Response *r;
	int rc;

	op.activation = act;
	if ((rc = call_purge(c, &op, af_get_timeout(c), &r)) == AF_OK)
		af_msg_free(r);
	return rc;
}

int
af_upgrade(af_conn *c, const char *const *modules, size_t n,
    const struct af_upgrade_opts *o, char **report, bool *ok)
{
	Asyncflow__Upgrade op = ASYNCFLOW__UPGRADE__INIT;
	Asyncflow__Response *r;
	int rc;

	if (report != NULL)
		*report = NULL;
	if (ok != NULL)
		*ok = false;
	op.modules = (char **)modules;
	op.n_modules = n;
	op.check = o != NULL && o->check;
	op.force = o != NULL && o->force;
	op.replay = o != NULL ? o->replay : 0;
	if ((rc = call_upgrade(c, &op, af_get_timeout(c), &r)) != AF_OK)
		return rc;
	if (ok != NULL)
		*ok = r->upgrade->ok;
	if (report != NULL &&
	    (*report = strdup(r->upgrade->report ? r->upgrade->report : "")) ==
		NULL)
		rc = AF_ENOMEM;
	af_msg_free(r);
	return rc;
}

int
af_cancel(af_conn *c, uint64_t act, const Asyncflow__Value *reason)
{
	Asyncflow__Cancel op = ASYNCFLOW__CANCEL__INIT;
	Asyncflow__Response *r;
	int rc;

	op.activation = act;
	op.reason = (Asyncflow__Value *)reason;
	if ((rc = call_cancel(c, &op, af_get_timeout(c), &r)) == AF_OK)
		af_msg_free(r);
	return rc;
}

int
af_call_export(af_conn *c, const char *object, const char *method,
    const Asyncflow__Value *args, uint64_t *vow)
{
	Asyncflow__CallExport op = ASYNCFLOW__CALL_EXPORT__INIT;
	Asyncflow__Response *r;
	int rc;

	if (vow != NULL)
		*vow = 0;
	if (object == NULL || method == NULL)
		return AF_EINVAL;
	op.object = (char *)object;
	op.method = (char *)method;
	op.args = (Asyncflow__Value *)args;
	if ((rc = call_call(c, &op, af_get_timeout(c), &r)) != AF_OK)
		return rc;
	if (vow != NULL)
		*vow = r->call->vow;
	af_msg_free(r);
	return AF_OK;
}

int
af_stats(af_conn *c, Asyncflow__StatsReply **out)
{
	Asyncflow__Stats op = ASYNCFLOW__STATS__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = call_stats(c, &op, af_get_timeout(c), &r)) == AF_OK)
		GIVE(r, out);
	return rc;
}

int
af_serve(af_conn *c, const char *object, uint64_t *pending)
{
	Asyncflow__Serve op = ASYNCFLOW__SERVE__INIT;
	Asyncflow__Response *r;
	int rc;

	if (pending != NULL)
		*pending = 0;
	op.object = (char *)object; /* NULL: conn.c refuses it */
	if ((rc = call_serve(c, &op, af_get_timeout(c), &r)) != AF_OK)
		return rc;
	if (pending != NULL)
		*pending = r->serve->pending;
	af_msg_free(r);
	return AF_OK;
}

/* ---- Values ------------------------------------------------------------------ */

const char *
af_value_string(const Asyncflow__Value *v, size_t *len)
{
	if (len != NULL)
		*len = 0;
	if (v == NULL || v->kind_case != ASYNCFLOW__VALUE__KIND_STRING_VALUE)
		return NULL;
	if (len != NULL)
		*len = v->string_value.len;
	return v->string_value.data != NULL ?
	    (const char *)v->string_value.data :
	    "";
}

Asyncflow__Value *
af_value_set_string(Asyncflow__Value *v, const char *s, size_t len)
{
	if (v == NULL || (s == NULL && len > 0))
		return NULL;
	v->kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE;
	v->string_value.data = (uint8_t *)(uintptr_t)s;
	v->string_value.len = len;
	return v;
}
