/*
 * calls.c: one blocking function per operation of the protocol, each a
 * request built on the stack, af_request() with the connection's timeout,
 * and the result taken out of the Response for the caller.
 *
 * conn.c checks that a successful answer carries the result kind its
 * request asks for, so the result pointers below are never NULL.
 */
#include <string.h>

#include "asyncflow.h"

/* Sends req and waits for its answer within the connection's timeout. */
static int
roundtrip(af_conn *c, Asyncflow__Request *req, Asyncflow__Response **out)
{
	return af_request(c, req, af_get_timeout(c), out);
}

/* Hands the result sub-message of r to *out (when out is not NULL: it then
 * outlives r) and frees the rest. */
#define GIVE(r, field, out) do {					\
	if ((out) != NULL) {						\
		*(out) = (r)->field;					\
		(r)->field = NULL;					\
		(r)->result_case = ASYNCFLOW__RESPONSE__RESULT__NOT_SET; \
	}								\
	af_msg_free(r);							\
} while (0)

int
af_start(af_conn *c, const char *flow, const Asyncflow__Value *args,
    const char *idem_key, uint64_t *act, uint64_t *outcome, bool *existing)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__StartFlow op = ASYNCFLOW__START_FLOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (act != NULL)
		*act = 0;
	if (outcome != NULL)
		*outcome = 0;
	if (existing != NULL)
		*existing = false;
	if (c == NULL)
		return AF_EINVAL;
	op.flow = (char *)flow;		/* NULL: conn.c refuses it */
	op.args = (Asyncflow__Value *)args;
	op.idempotency_key = (char *)(idem_key != NULL ? idem_key : "");
	req.op_case = ASYNCFLOW__REQUEST__OP_START;
	req.start = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
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
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__MakeVow op = ASYNCFLOW__MAKE_VOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (vow != NULL)
		*vow = 0;
	if (resolver != NULL)
		memset(resolver, 0, AF_RESOLVER_LEN);
	if (c == NULL)
		return AF_EINVAL;
	req.op_case = ASYNCFLOW__REQUEST__OP_MKVOW;
	req.mkvow = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
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
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__SettleVow op = ASYNCFLOW__SETTLE_VOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL)
		return AF_EINVAL;
	op.vow = vow;
	op.resolver.len = AF_RESOLVER_LEN;	/* NULL data: conn.c refuses it */
	op.resolver.data = (uint8_t *)resolver;
	op.reject = reject;
	op.value = (Asyncflow__Value *)value;
	req.op_case = ASYNCFLOW__REQUEST__OP_SETTLE;
	req.settle = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	GIVE(r, vow, out);
	return AF_OK;
}

int
af_get_vow(af_conn *c, uint64_t vow, bool wait, int timeout_ms,
    Asyncflow__VowInfo **out)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__GetVow op = ASYNCFLOW__GET_VOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL)
		return AF_EINVAL;
	op.vow = vow;
	op.wait = wait;
	req.op_case = ASYNCFLOW__REQUEST__OP_GET_VOW;
	req.get_vow = &op;
	if ((rc = af_request(c, &req, timeout_ms, &r)) != AF_OK)
		return rc;
	GIVE(r, vow, out);
	return AF_OK;
}

int
af_watch_vow(af_conn *c, uint64_t vow, Asyncflow__VowInfo **now)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__WatchVow op = ASYNCFLOW__WATCH_VOW__INIT;
	Asyncflow__Response *r;
	int rc;

	if (now != NULL)
		*now = NULL;
	if (c == NULL)
		return AF_EINVAL;
	op.vow = vow;
	req.op_case = ASYNCFLOW__REQUEST__OP_WATCH_VOW;
	req.watch_vow = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	GIVE(r, vow, now);
	return AF_OK;
}

int
af_list(af_conn *c, const char *state, uint64_t after, uint32_t limit,
    Asyncflow__ActivationList **out)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ListActivations op = ASYNCFLOW__LIST_ACTIVATIONS__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL)
		return AF_EINVAL;
	op.state = (char *)(state != NULL ? state : "");
	op.after = after;
	op.limit = limit;
	req.op_case = ASYNCFLOW__REQUEST__OP_LIST;
	req.list = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	GIVE(r, list, out);
	return AF_OK;
}

int
af_show(af_conn *c, uint64_t act, Asyncflow__ActivationInfo **out)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ShowActivation op = ASYNCFLOW__SHOW_ACTIVATION__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL)
		return AF_EINVAL;
	op.activation = act;
	req.op_case = ASYNCFLOW__REQUEST__OP_SHOW;
	req.show = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	GIVE(r, show, out);
	return AF_OK;
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
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__DumpJournal op = ASYNCFLOW__DUMP_JOURNAL__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL)
		return AF_EINVAL;
	op.activation = act;
	op.from = from;
	op.limit = limit;
	req.op_case = ASYNCFLOW__REQUEST__OP_JOURNAL;
	req.journal = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	GIVE(r, journal, out);
	return AF_OK;
}

int
af_failures(af_conn *c, Asyncflow__ActivationList **out)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ListFailures op = ASYNCFLOW__LIST_FAILURES__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL)
		return AF_EINVAL;
	req.op_case = ASYNCFLOW__REQUEST__OP_FAILURES;
	req.failures = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	GIVE(r, list, out);
	return AF_OK;
}

int
af_wake(af_conn *c, uint64_t act)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Wake op = ASYNCFLOW__WAKE__INIT;
	Asyncflow__Response *r;
	int rc;

	if (c == NULL)
		return AF_EINVAL;
	op.activation = act;
	req.op_case = ASYNCFLOW__REQUEST__OP_WAKE;
	req.wake = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	af_msg_free(r);
	return AF_OK;
}

int
af_stats(af_conn *c, Asyncflow__StatsReply **out)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Stats op = ASYNCFLOW__STATS__INIT;
	Asyncflow__Response *r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL)
		return AF_EINVAL;
	req.op_case = ASYNCFLOW__REQUEST__OP_STATS;
	req.stats = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	GIVE(r, stats, out);
	return AF_OK;
}

int
af_serve(af_conn *c, const char *object, uint64_t *pending)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Serve op = ASYNCFLOW__SERVE__INIT;
	Asyncflow__Response *r;
	int rc;

	if (pending != NULL)
		*pending = 0;
	if (c == NULL)
		return AF_EINVAL;
	op.object = (char *)object;	/* NULL: conn.c refuses it */
	req.op_case = ASYNCFLOW__REQUEST__OP_SERVE;
	req.serve = &op;
	if ((rc = roundtrip(c, &req, &r)) != AF_OK)
		return rc;
	if (pending != NULL)
		*pending = r->serve->pending;
	af_msg_free(r);
	return AF_OK;
}
