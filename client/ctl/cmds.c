/*
 * cmds.c: asyncflowctl's commands but serve, one cmd_NAME per line of the
 * command table in main.c: mkvow, start, settle, vow, ls, show, journal,
 * failures, wake, terminate, purge, stats, modules. Each parses its
 * arguments (usage errors exit 2 before anything is sent), makes one
 * connection, prints one answer (print_answer: JSON or a table) and
 * returns 0, or exits 1 with a message. Also here: JSON arguments from @FILE or stdin, and waiting for
 * a vow with a progress line.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ---- JSON arguments: inline, @FILE or - ----------------------------------------- */

/* The whole of f (NUL-terminated, malloc'd), or NULL with errno set. */
static char *
slurp(FILE *f, size_t *len)
{
	char *p = NULL, *q;
	size_t n = 0, cap = 0, got;

	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((q = realloc(p, cap)) == NULL) {
				free(p);
				nomem();
			}
			p = q;
		}
		got = fread(p + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	*len = n;
	return p;
}

Asyncflow__Value *
parse_value_arg(const char *arg, const char *text)
{
	Asyncflow__Value *v;
	const char *name;
	char label[1100], *buf;
	size_t len;
	FILE *f;
	int e;

	if (text[0] != '@' && strcmp(text, "-") != 0)
		return parse_value(arg, text);
	name = text[0] == '@' ? text + 1 : "stdin";
	if (text[0] == '-') {
		f = stdin;
	} else if (name[0] == '\0') {
		usage_error("%s: @ must be followed by a file name", arg);
	} else if ((f = fopen(name, "r")) == NULL) {
		usage_error("%s: cannot read %s: %s", arg, name,
		    strerror(errno));
	}
	buf = slurp(f, &len);
	e = errno;
	if (f != stdin)
		fclose(f);
	if (buf == NULL)
		usage_error("%s: cannot read %s: %s", arg, name, strerror(e));
	if (strlen(buf) != len)
		usage_error("%s: %s is not JSON: it holds a NUL byte", arg,
		    name);
	snprintf(label, sizeof(label), "%s (%s %s)", arg,
	    text[0] == '@' ? "file" : "from", name);
	v = parse_value(label, buf);
	free(buf);
	return v;
}

/* ---- Waiting for a vow ------------------------------------------------------------ */

/* Milliseconds from now until `deadline` (ms of now_ms), at least 0. */
static int
ms_until(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* How often the progress line moves. */
#define PROGRESS_MS 100

/*
 * Waits until `vow` is settled (GetVow with wait) or `deadline` (of now_ms;
 * negative: no deadline) passes, drawing the progress line on stderr
 * meanwhile when that is a terminal. AF_OK with *resp (a Response holding
 * the VowInfo; af_msg_free it), AF_ETIMEDOUT, or the call's error.
 */
static int
wait_settled(af_conn *c, uint64_t vow, const char *what, int64_t deadline,
    Asyncflow__Response **resp)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__GetVow gv = ASYNCFLOW__GET_VOW__INIT;
	uint64_t id;
	int rc, slice;

	*resp = NULL;
	gv.vow = vow;
	gv.wait = true;
	req.op_case = ASYNCFLOW__REQUEST__OP_GET_VOW;
	req.get_vow = &gv;
	if ((rc = af_send_request(c, &req, &id)) != AF_OK)
		return rc;
	progress_start(what, deadline);
	for (;;) {
		slice = deadline < 0 ? -1 : ms_until(deadline);
		if (progress_shown() && (slice < 0 || slice > PROGRESS_MS))
			slice = PROGRESS_MS;
		rc = af_wait_response(c, id, slice, resp);
		if (rc != AF_ETIMEDOUT ||
		    (deadline >= 0 && ms_until(deadline) == 0))
			break;
		progress_tick();
	}
	progress_done();
	if (rc == AF_OK &&
	    (*resp)->result_case != ASYNCFLOW__RESPONSE__RESULT_VOW) {
		af_msg_free(*resp);
		*resp = NULL;
		fail(EXIT_FAILURE,
		    "the daemon answered a wait for vow %llu "
		    "with something else",
		    (unsigned long long)vow);
	}
	return rc;
}

/* A --timeout SECONDS as milliseconds. */
static int
parse_timeout(const char *timeout)
{
	double secs;
	char *end;

	errno = 0;
	secs = strtod(timeout, &end);
	if (errno != 0 || end == timeout || *end != '\0' || !(secs >= 0) ||
	    secs > 2000000.0)
		usage_error("--timeout needs a number of seconds, not \"%s\"",
		    timeout);
	return (int)ceil(secs * 1000.0);
}

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
	return print_answer(o, ANS_OBJECT);
}

int
cmd_start(int argc, char **argv)
{
	const char *key = NULL, *timeout = NULL;
	bool wait = false;
	struct opt opts[] = {
		{ "key", &key, NULL },
		{ "wait", NULL, &wait },
		{ "timeout", &timeout, NULL },
		{ NULL, NULL, NULL },
	};
	char *pos[2], what[64];
	Asyncflow__Value *args = NULL;
	Asyncflow__Response *resp;
	uint64_t act, outcome;
	af_conn *c;
	json_t *o, *v;
	int n, rc, ms = -1;

	n = parse_args(argc, argv, opts, pos, 2);
	if (n < 1)
		usage_error("missing FLOW");
	if (pos[0][0] == '\0')
		usage_error("FLOW must not be empty");
	if (timeout != NULL && !wait)
		usage_error("--timeout goes with --wait");
	if (timeout != NULL)
		ms = parse_timeout(timeout);
	if (n == 2)
		args = parse_value_arg("ARGS_JSON", pos[1]);
	c = connect_daemon();
	rc = af_start(c, pos[0], args, key, &act, &outcome, NULL);
	if (rc != AF_OK)
		call_failed(c, rc);
	af_msg_free(args);
	o = jnew(json_object());
	jset(o, "activation", juint(act));
	jset(o, "outcome", vow_ref(outcome));
	if (wait) {
		snprintf(what, sizeof(what), "activation %llu",
		    (unsigned long long)act);
		rc = wait_settled(c, outcome, what, ms < 0 ? -1 : now_ms() + ms,
		    &resp);
		if (rc == AF_ETIMEDOUT)
			fail(EXIT_FAILURE,
			    "activation %llu: its outcome (vow %llu) was not "
			    "settled within %s s",
			    (unsigned long long)act,
			    (unsigned long long)outcome, timeout);
		if (rc != AF_OK)
			call_failed(c, rc);
		v = vow_json(resp->vow, true);
		jset(o, "state", json_incref(json_object_get(v, "state")));
		jset(o, "value", json_incref(json_object_get(v, "value")));
		json_decref(v);
		af_msg_free(resp);
	}
	af_close(c);
	return print_answer(o, ANS_OBJECT);
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
	val = parse_value_arg(reject ? "ERROR_JSON" : "VALUE_JSON", pos[1]);
	c = connect_daemon();
	if ((rc = af_settle(c, vow, res, reject, val, &vi)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	af_msg_free(val);
	o = vow_json(vi, false);
	af_msg_free(vi);
	return print_answer(o, ANS_OBJECT);
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
	char *pos[1], what[48];
	Asyncflow__VowInfo *vi;
	Asyncflow__Response *resp = NULL;
	uint64_t vow;
	int64_t start, look_end;
	int n, rc, ms = -1;
	af_conn *c;
	json_t *o;

	n = parse_args(argc, argv, opts, pos, 1);
	if (n < 1)
		usage_error("missing VOW");
	vow = parse_id("VOW", pos[0]);
	snprintf(what, sizeof(what), "vow %llu", (unsigned long long)vow);
	if (timeout != NULL)
		ms = parse_timeout(timeout);
	if (timeout == NULL && wait) {
		c = connect_daemon();
		if ((rc = wait_settled(c, vow, what, -1, &resp)) != AF_OK)
			call_failed(c, rc);
		vi = resp->vow;
		goto done;
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
		vi = NULL;
		rc = wait_settled(c, vow, what, start + ms, &resp);
		if (rc == AF_OK)
			vi = resp->vow;
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
	if (resp != NULL)
		af_msg_free(resp); /* vi is inside it */
	else
		af_msg_free(vi);
	return print_answer(o, ANS_OBJECT);
}

/*
 * The activations (in `state` and of `flow`; NULL: any) with an id above
 * `after`, at most `limit` (0: all), as a JSON array, in pages. The
 * daemon refuses (AF_ELIMIT) a page whose answer would not fit one frame:
 * then the page is halved and asked again, down to one activation, and
 * grows back after each page that came. The daemon filters (the flow
 * filter is a ListActivations field af_list does not take: af_request).
 */
#define LIST_PAGE 1000u

static int
list_page(af_conn *c, const char *state, const char *flow, uint64_t after,
    uint32_t page, Asyncflow__Response **resp)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ListActivations la = ASYNCFLOW__LIST_ACTIVATIONS__INIT;

	la.state = (char *)(state ? state : "");
	la.flow = (char *)(flow ? flow : "");
	la.after = after;
	la.limit = page;
	req.op_case = ASYNCFLOW__REQUEST__OP_LIST;
	req.list = &la;
	return af_request(c, &req, af_get_timeout(c), resp);
}

static json_t *
list_all(af_conn *c, const char *state, const char *flow, uint64_t after,
    uint64_t limit)
{
	Asyncflow__ActivationList *l;
	Asyncflow__Response *resp;
	uint32_t page = LIST_PAGE;
	uint64_t listed = 0;
	json_t *arr = jnew(json_array());
	size_t i;
	int rc;

	for (;;) {
		if (limit != 0 && limit - listed < page)
			page = (uint32_t)(limit - listed);
		rc = list_page(c, state, flow, after, page, &resp);
		l = rc == AF_OK ? resp->list : NULL;
		if (rc == AF_OK && l == NULL)
			fail(EXIT_FAILURE,
			    "the daemon answered a listing "
			    "with something else");
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
		listed += i;
		af_msg_free(resp);
		if (i < page || (limit != 0 && listed >= limit))
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
	const char *state = NULL, *flow = NULL, *slimit = NULL, *safter = NULL;
	struct opt opts[] = {
		{ "state", &state, NULL },
		{ "flow", &flow, NULL },
		{ "limit", &slimit, NULL },
		{ "after", &safter, NULL },
		{ NULL, NULL, NULL },
	};
	uint64_t limit = 0, after = 0;
	af_conn *c;
	json_t *arr;
	size_t i;

	parse_args(argc, argv, opts, NULL, 0);
	if (flow != NULL && flow[0] == '\0')
		usage_error("--flow needs a flow name");
	if (slimit != NULL)
		limit = parse_id("--limit", slimit);
	if (safter != NULL && strcmp(safter, "0") != 0)
		after = parse_id("--after", safter);
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
	arr = list_all(c, state, flow, after, limit);
	af_close(c);
	return print_answer(arr, ANS_LIST);
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
	return print_answer(o, ANS_ACTIVATION);
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
	case ASYNCFLOW__ENTRY_KIND__PATCHED:
		jset(o, "kind", jstr("patched"));
		jset(o, "id", jstr(e->target));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_CALL:
		jset(o, "kind", jstr("doCall"));
		jset(o, "target", jstr(e->target));
		jset(o, "method", jstr(e->method));
		jset(o, "args", value_to_json(e->args));
		jset(o, "vow", vow_ref(e->vow));
		break;
	case ASYNCFLOW__ENTRY_KIND__CHECK_RETURN:
		jset(o, "kind", jstr("checkReturn"));
		jset(o, "vow", vow_ref(e->vow));
		jset(o, "result", value_to_json(e->value));
		break;
	case ASYNCFLOW__ENTRY_KIND__CHECK_THROW:
		jset(o, "kind", jstr("checkThrow"));
		jset(o, "vow", vow_ref(e->vow));
		jset(o, "error", value_to_json(e->value));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_CANCEL:
		jset(o, "kind", jstr("doCancel"));
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
	return print_answer(arr, ANS_JOURNAL);
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
	arr = list_all(c, "Failed", NULL, 0, 0);
	af_close(c);
	return print_answer(arr, ANS_FAILURES);
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
	return print_answer(o, ANS_OBJECT);
}

/* Prints {key: id}; returns the exit status. */
static int
print_id(const char *key, uint64_t id)
{
	json_t *o = jnew(json_object());

	jset(o, key, juint(id));
	return print_answer(o, ANS_OBJECT);
}

/* What --reason an activation command takes. */
enum reason_arg {
	REASON_NONE,  /* no --reason */
	REASON_VALUE, /* any value */
	REASON_ERROR, /* an error value */
};

/* CMD A [--reason JSON]: parses A and --reason (a usage error if it is not
 * what want says), sends them with send (reason NULL when not given),
 * prints {key: A}. */
static int
act_command(int argc, char **argv, enum reason_arg want, const char *key,
    int (*send)(af_conn *, uint64_t, const Asyncflow__Value *))
{
	const char *reason = NULL;
	struct opt opts[] = {
		{ "reason", &reason, NULL },
		{ NULL, NULL, NULL },
	};
	Asyncflow__Value *val = NULL;
	char *pos[1];
	uint64_t act;
	af_conn *c;
	int rc;

	if (parse_args(argc, argv, want == REASON_NONE ? opts + 1 : opts, pos,
		1) < 1)
		usage_error("missing A");
	act = parse_id("A", pos[0]);
	if (reason != NULL) {
		val = parse_value_arg("--reason", reason);
		if (want == REASON_ERROR &&
		    val->kind_case != ASYNCFLOW__VALUE__KIND_ERROR_VALUE)
			usage_error(
			    "--reason must be an error, "
			    "{\"@error\": {\"name\": N, \"message\": M}}, "
			    "not %s",
			    reason);
	}
	c = connect_daemon();
	if ((rc = send(c, act, val)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	af_msg_free(val);
	return print_id(key, act);
}

static int
send_terminate(af_conn *c, uint64_t act, const Asyncflow__Value *reason)
{
	return af_terminate(c, act,
	    reason != NULL ? reason->error_value->message : NULL);
}

/* terminate A [--reason ERROR_JSON]: the outcome's error is always named
 * Terminated (what a client matches on); --reason gives its message. */
int
cmd_terminate(int argc, char **argv)
{
	return act_command(argc, argv, REASON_ERROR, "terminated",
	    send_terminate);
}

static int
send_purge(af_conn *c, uint64_t act, const Asyncflow__Value *reason)
{
	(void)reason;
	return af_purge(c, act);
}

/* purge A: delete a finished activation now. */
int
cmd_purge(int argc, char **argv)
{
	return act_command(argc, argv, REASON_NONE, "purged", send_purge);
}

/* cancel A [--reason ERROR_JSON]: the reason reaches the flow's waits as
 * it is given (any value a client may pass; an error is the custom). */
int
cmd_cancel(int argc, char **argv)
{
	return act_command(argc, argv, REASON_VALUE, "cancelled", af_cancel);
}

/* call OBJ METHOD [ARGS_JSON] [--wait [--timeout S]]: {"vow": N}, or with
 * --wait the settled vow exactly as `vow N --wait [--timeout S]` prints
 * it. */
int
cmd_call(int argc, char **argv)
{
	const char *timeout = NULL;
	bool wait = false;
	struct opt opts[] = {
		{ "wait", NULL, &wait },
		{ "timeout", &timeout, NULL },
		{ NULL, NULL, NULL },
	};
	Asyncflow__Value *val = NULL;
	char *pos[3], id[24], *vargv[4];
	uint64_t vow;
	af_conn *c;
	int n, rc;

	n = parse_args(argc, argv, opts, pos, 3);
	if (n < 2)
		usage_error("missing %s", n < 1 ? "OBJ" : "METHOD");
	if (timeout != NULL && !wait)
		usage_error("--timeout goes with --wait");
	if (n > 2)
		val = parse_value_arg("ARGS_JSON", pos[2]);
	c = connect_daemon();
	if ((rc = af_call_export(c, pos[0], pos[1], val, &vow)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	af_msg_free(val);
	if (wait) {
		snprintf(id, sizeof(id), "%llu", (unsigned long long)vow);
		vargv[0] = id;
		vargv[1] = (char *)"--wait";
		vargv[2] = (char *)"--timeout";
		vargv[3] = (char *)timeout;
		return cmd_vow(timeout != NULL ? 4 : 2, vargv);
	}
	return print_id("vow", vow);
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
	return print_answer(o, ANS_STATS);
}

/* The flows and host objects registered: ListModules has no function in
 * the client library, so it goes through af_request. */
int
cmd_modules(int argc, char **argv)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__ListModules lm = ASYNCFLOW__LIST_MODULES__INIT;
	Asyncflow__Response *resp;
	json_t *o, *fl, *ob, *ml;
	af_conn *c;
	size_t i;
	int rc;

	parse_args(argc, argv, NULL, NULL, 0);
	req.op_case = ASYNCFLOW__REQUEST__OP_MODULES;
	req.modules = &lm;
	c = connect_daemon();
	if ((rc = af_request(c, &req, af_get_timeout(c), &resp)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	if (resp->result_case != ASYNCFLOW__RESPONSE__RESULT_MODULES)
		fail(EXIT_FAILURE,
		    "the daemon answered modules with "
		    "something else");
	o = jnew(json_object());
	fl = jnew(json_array());
	ob = jnew(json_array());
	for (i = 0; i < resp->modules->n_flows; i++)
		jpush(fl, jstr(resp->modules->flows[i]));
	for (i = 0; i < resp->modules->n_objects; i++)
		jpush(ob, jstr(resp->modules->objects[i]));
	jset(o, "flows", fl);
	jset(o, "objects", ob);
	/* Each module loaded: what it is, since when, what it registered. */
	ml = jnew(json_array());
	for (i = 0; i < resp->modules->n_loaded; i++) {
		const Asyncflow__LoadedModule *m = resp->modules->loaded[i];
		json_t *mo = jnew(json_object()), *a;
		char when[64];
		size_t k;

		jset(mo, "path", jstr(m->path));
		jset(mo, "sha256", jstr(m->sha256));
		jset(mo, "since",
		    jstr(iso_time(m->since_ms, when, sizeof(when))));
		a = jnew(json_array());
		for (k = 0; k < m->n_flows; k++)
			jpush(a, jstr(m->flows[k]));
		jset(mo, "flows", a);
		a = jnew(json_array());
		for (k = 0; k < m->n_objects; k++)
			jpush(a, jstr(m->objects[k]));
		jset(mo, "objects", a);
		jpush(ml, mo);
	}
	/* Only with modules: the answer of a daemon with none (or of one
	 * older than the field) keeps its old shape. */
	if (resp->modules->n_loaded > 0)
		jset(o, "modules", ml);
	else
		json_decref(ml);
	af_msg_free(resp);
	return print_answer(o, ANS_MODULES);
}
