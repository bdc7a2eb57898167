/*
 * cmds.c: asyncflowctl's commands but serve, one cmd_NAME per line of the
 * command table in main.c: mkvow, start, settle, vow, ls, show, journal,
 * failures, wake, stats. Each parses its arguments (usage errors exit 2
 * before anything is sent), makes one connection, prints one JSON value
 * and returns 0, or exits 1 with a message.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ---- Commands -------------------------------------------------------------------- */

int
cmd_mkvow(int argc, char **argv)
{
	uint8_t res[AF_RESOLVER_LEN];
	char hex[2 * AF_RESOLVER_LEN + 1];
	uint64_t vow;
	af_conn *c;
	json_t *o;
	int rc, i;

	parse_args(argc, argv, NULL, NULL, 0);
	c = connect_daemon();
	if ((rc = af_mkvow(c, &vow, res)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	for (i = 0; i < AF_RESOLVER_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", res[i]);
	o = jnew(json_object());
	jset(o, "vow", juint(vow));
	jset(o, "resolver", jstr(hex));
	return print_json(o);
}

int
cmd_start(int argc, char **argv)
{
	const char *key = NULL;
	struct opt opts[] = { { "key", &key, NULL }, { NULL, NULL, NULL } };
	char *pos[2];
	Asyncflow__Value *args = NULL;
	uint64_t act, outcome;
	af_conn *c;
	json_t *o;
	int n, rc;

	n = parse_args(argc, argv, opts, pos, 2);
	if (n < 1)
		usage_error("missing FLOW");
	if (pos[0][0] == '\0')
		usage_error("FLOW must not be empty");
	if (n == 2)
		args = parse_value("ARGS_JSON", pos[1]);
	c = connect_daemon();
	rc = af_start(c, pos[0], args, key, &act, &outcome, NULL);
	if (rc != AF_OK)
		call_failed(c, rc);
	af_close(c);
	af_msg_free(args);
	o = jnew(json_object());
	jset(o, "activation", juint(act));
	jset(o, "outcome", vow_ref(outcome));
	return print_json(o);
}

int
cmd_settle(int argc, char **argv)
{
	const char *resolver = NULL;
	bool reject = false;
	struct opt opts[] = {
		{ "resolver", &resolver, NULL },
		{ "reject", NULL, &reject },
		{ NULL, NULL, NULL },
	};
	uint8_t res[AF_RESOLVER_LEN];
	char *pos[2];
	Asyncflow__Value *val;
	Asyncflow__VowInfo *vi;
	uint64_t vow;
	af_conn *c;
	json_t *o;
	int n, rc;

	n = parse_args(argc, argv, opts, pos, 2);
	if (n < 1)
		usage_error("missing VOW");
	vow = parse_id("VOW", pos[0]);
	if (resolver == NULL)
		usage_error("missing --resolver HEX");
	parse_resolver(resolver, res);
	if (n < 2)
		usage_error("missing %s", reject ? "ERROR_JSON" : "VALUE_JSON");
	val = parse_value(reject ? "ERROR_JSON" : "VALUE_JSON", pos[1]);
	c = connect_daemon();
	if ((rc = af_settle(c, vow, res, reject, val, &vi)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	af_msg_free(val);
	o = vow_json(vi, false);
	af_msg_free(vi);
	return print_json(o);
}

/*
 * vow --wait --timeout S bounds the wait for the settlement: connecting,
 * the handshake and a first look without waiting get max(S, VOW_LOOK_MS),
 * so that a settled vow is printed even with --timeout 0 and a daemon that
 * does not answer (stopped) fails the command in about S seconds, not
 * AF_CONNECT_TIMEOUT_MS. Only if the vow is pending does it then wait, for
 * what is left of S.
 */
#define VOW_LOOK_MS 1000

/* Milliseconds from now until `deadline` (ms of now_ms), at least 0. */
static int
ms_until(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

int
cmd_vow(int argc, char **argv)
{
	const char *timeout = NULL;
	bool wait = false;
	struct opt opts[] = {
		{ "wait", NULL, &wait },
		{ "timeout", &timeout, NULL },
		{ NULL, NULL, NULL },
	};
	char *pos[1], *end;
	Asyncflow__VowInfo *vi;
	uint64_t vow;
	double secs;
	int64_t start, look_end;
	int n, rc, ms = -1;
	af_conn *c;
	json_t *o;

	n = parse_args(argc, argv, opts, pos, 1);
	if (n < 1)
		usage_error("missing VOW");
	vow = parse_id("VOW", pos[0]);
	if (timeout != NULL) {
		errno = 0;
		secs = strtod(timeout, &end);
		if (errno != 0 || end == timeout || *end != '\0' ||
		    !(secs >= 0) || secs > 2000000.0)
			usage_error(
			    "--timeout needs a number of seconds, not \"%s\"",
			    timeout);
		ms = (int)ceil(secs * 1000.0);
	}
	if (timeout == NULL) {
		c = connect_daemon();
		if ((rc = af_get_vow(c, vow, wait, -1, &vi)) != AF_OK)
			call_failed(c, rc);
		goto done;
	}
	start = now_ms();
	look_end = start + (ms > VOW_LOOK_MS ? ms : VOW_LOOK_MS);
	c = connect_within(ms_until(look_end));
	rc = af_get_vow(c, vow, false, ms_until(look_end), &vi);
	if (rc == AF_ETIMEDOUT)
		fail(EXIT_FAILURE,
		    "vow %llu: the daemon did not answer within "
		    "%lld ms",
		    (unsigned long long)vow, (long long)(look_end - start));
	if (rc != AF_OK)
		call_failed(c, rc);
	if (wait && vi->state == ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING) {
		af_msg_free(vi);
		rc = af_get_vow(c, vow, true, ms_until(start + ms), &vi);
		if (rc == AF_ETIMEDOUT)
			fail(EXIT_FAILURE,
			    "vow %llu was not settled within %s s",
			    (unsigned long long)vow, timeout);
		if (rc != AF_OK)
			call_failed(c, rc);
	}
done:
	af_close(c);
	o = vow_json(vi, true);
	af_msg_free(vi);
	return print_json(o);
}

/*
 * Every activation (in `state`; NULL: all), as a JSON array, in pages. The
 * daemon refuses (AF_ELIMIT) a page whose answer would not fit one frame:
 * then the page is halved and asked again, down to one activation, and
 * grows back after each page that came.
 */
#define LIST_PAGE 1000u

static json_t *
list_all(af_conn *c, const char *state)
{
	Asyncflow__ActivationList *l;
	uint32_t page = LIST_PAGE;
	uint64_t after = 0;
	json_t *arr = jnew(json_array());
	size_t i;
	int rc;

	for (;;) {
		rc = af_list(c, state, after, page, &l);
		if (rc == AF_ELIMIT && page > 1) {
			page /= 2;
			continue;
		}
		if (rc == AF_ELIMIT) {
			if (after == 0)
				fail(EXIT_FAILURE,
				    "the first activation is too "
				    "large to list: even alone it does not fit "
				    "one answer of the daemon (%s)",
				    af_conn_errmsg(c));
			fail(EXIT_FAILURE,
			    "the activation after %llu is too "
			    "large to list: even alone it does not fit one "
			    "answer of the daemon (%s)",
			    (unsigned long long)after, af_conn_errmsg(c));
		}
		if (rc != AF_OK)
			call_failed(c, rc);
		for (i = 0; i < l->n_activations; i++) {
			jpush(arr, activation_json(l->activations[i]));
			if (l->activations[i]->id <= after)
				fail(EXIT_FAILURE,
				    "the daemon listed activation "
				    "%llu after %llu",
				    (unsigned long long)l->activations[i]->id,
				    (unsigned long long)after);
			after = l->activations[i]->id;
		}
		i = l->n_activations;
		af_msg_free(l);
		if (i < page)
			break;
		if (page < LIST_PAGE)
			page = page * 2 < LIST_PAGE ? page * 2 : LIST_PAGE;
	}
	return arr;
}

int
cmd_ls(int argc, char **argv)
{
	static const char *const states[] = {
		"Running",
		"Sleeping",
		"Replaying",
		"Failed",
		"Done",
		NULL,
	};
	const char *state = NULL;
	struct opt opts[] = { { "state", &state, NULL }, { NULL, NULL, NULL } };
	af_conn *c;
	json_t *arr;
	size_t i;

	parse_args(argc, argv, opts, NULL, 0);
	if (state != NULL) {
		for (i = 0; states[i] != NULL; i++)
			if (strcmp(states[i], state) == 0)
				break;
		if (states[i] == NULL)
			usage_error(
			    "--state is one of Running, Sleeping, Replaying, "
			    "Failed, Done; not \"%s\"",
			    state);
	}
	c = connect_daemon();
	arr = list_all(c, state);
	af_close(c);
	return print_json(arr);
}

int
cmd_show(int argc, char **argv)
{
	Asyncflow__ActivationInfo *a;
	char *pos[1];
	uint64_t act;
	af_conn *c;
	json_t *o;
	int rc;

	if (parse_args(argc, argv, NULL, pos, 1) < 1)
		usage_error("missing A (an activation id)");
	act = parse_id("A", pos[0]);
	c = connect_daemon();
	if ((rc = af_show(c, act, &a)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	o = activation_json(a);
	af_msg_free(a);
	return print_json(o);
}

static json_t *
entry_json(size_t index, const Asyncflow__JournalEntry *e)
{
	json_t *o = jnew(json_object());

	jset(o, "index", juint(index));
	switch (e->kind) {
	case ASYNCFLOW__ENTRY_KIND__CHECK_CALL:
	case ASYNCFLOW__ENTRY_KIND__CHECK_SEND:
		jset(o, "kind",
		    jstr(e->kind == ASYNCFLOW__ENTRY_KIND__CHECK_CALL ?
			    "checkCall" :
			    "checkSend"));
		jset(o, "target", jstr(e->target));
		jset(o, "method", jstr(e->method));
		jset(o, "args", value_to_json(e->args));
		jset(o, "callIndex", juint(e->call_index));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_RETURN:
		jset(o, "kind", jstr("doReturn"));
		jset(o, "callIndex", juint(e->call_index));
		jset(o, "result", value_to_json(e->value));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_THROW:
		jset(o, "kind", jstr("doThrow"));
		jset(o, "callIndex", juint(e->call_index));
		jset(o, "error", value_to_json(e->value));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_FULFILL:
		jset(o, "kind", jstr("doFulfill"));
		jset(o, "vow", vow_ref(e->vow));
		jset(o, "value", value_to_json(e->value));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_REJECT:
		jset(o, "kind", jstr("doReject"));
		jset(o, "vow", vow_ref(e->vow));
		jset(o, "reason", value_to_json(e->value));
		break;
	default:
		/* An entry kind newer than this program. */
		jset(o, "kind", jstr("unknown"));
		jset(o, "code", jnew(json_integer((json_int_t)e->kind)));
		break;
	}
	jset(o, "incarnation", juint(e->incarnation));
	return o;
}

#define JOURNAL_PAGE 4096u

int
cmd_journal(int argc, char **argv)
{
	Asyncflow__JournalDump *d;
	char *pos[1];
	uint64_t act, from = 0, length;
	uint32_t page = JOURNAL_PAGE;
	af_conn *c;
	json_t *arr;
	size_t i, n;
	int rc;

	if (parse_args(argc, argv, NULL, pos, 1) < 1)
		usage_error("missing A (an activation id)");
	act = parse_id("A", pos[0]);
	c = connect_daemon();
	arr = jnew(json_array());
	/* In pages, halved when one does not fit an answer (large values). */
	for (;;) {
		rc = af_journal_range(c, act, from, page, &d);
		if (rc == AF_ELIMIT && page > 1) {
			page /= 2;
			continue;
		}
		if (rc == AF_ELIMIT)
			fail(EXIT_FAILURE,
			    "journal entry %llu is too large for "
			    "one answer of the daemon (%s)",
			    (unsigned long long)from, af_conn_errmsg(c));
		if (rc != AF_OK)
			call_failed(c, rc);
		for (i = 0; i < d->n_entries; i++)
			jpush(arr, entry_json(from + i, d->entries[i]));
		from += d->n_entries;
		n = d->n_entries;
		length = d->length;
		af_msg_free(d);
		if (n == 0 || from >= length)
			break;
		if (page < JOURNAL_PAGE)
			page = page * 2 < JOURNAL_PAGE ? page * 2 :
							 JOURNAL_PAGE;
	}
	af_close(c);
	return print_json(arr);
}

/* The Failed activations, paged with af_list (af_failures stops at the
 * daemon's cap of 10,000 in one answer). */
int
cmd_failures(int argc, char **argv)
{
	af_conn *c;
	json_t *arr;

	parse_args(argc, argv, NULL, NULL, 0);
	c = connect_daemon();
	arr = list_all(c, "Failed");
	af_close(c);
	return print_json(arr);
}

int
cmd_wake(int argc, char **argv)
{
	char *pos[1];
	uint64_t act = 0;
	af_conn *c;
	json_t *o;
	int rc;

	if (parse_args(argc, argv, NULL, pos, 1) == 1)
		act = parse_id("A", pos[0]);
	c = connect_daemon();
	if ((rc = af_wake(c, act)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	o = jnew(json_object());
	jset(o, "woken", act ? juint(act) : jstr("all"));
	return print_json(o);
}

/* Every field of StatsReply by its proto name, by reflection, so fields
 * added to the proto show up without a change here. */
int
cmd_stats(int argc, char **argv)
{
	const ProtobufCMessageDescriptor
	    *d = &asyncflow__stats_reply__descriptor;
	const ProtobufCFieldDescriptor *f;
	Asyncflow__StatsReply *st;
	const char *mem;
	af_conn *c;
	json_t *o;
	size_t i;
	int rc;

	parse_args(argc, argv, NULL, NULL, 0);
	c = connect_daemon();
	if ((rc = af_stats(c, &st)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	o = jnew(json_object());
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		mem = (const char *)st + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		switch (f->type) {
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			jset(o, f->name, juint(*(const uint64_t *)mem));
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
			jset(o, f->name,
			    jnew(json_integer(*(const int64_t *)mem)));
			break;
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
			jset(o, f->name, juint(*(const uint32_t *)mem));
			break;
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
			jset(o, f->name,
			    jnew(json_integer(*(const int32_t *)mem)));
			break;
		case PROTOBUF_C_TYPE_BOOL:
			jset(o, f->name,
			    jnew(json_boolean(
				*(const protobuf_c_boolean *)mem)));
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
			note_double(*(const double *)mem);
			jset(o, f->name, jnew(json_real(*(const double *)mem)));
			break;
		case PROTOBUF_C_TYPE_STRING:
			jset(o, f->name, jstr(*(char *const *)mem));
			break;
		default:
			break;
		}
	}
	af_msg_free(st);
	return print_json(o);
}
