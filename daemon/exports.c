/*
 * exports.c: guest exports (af_export) and the calls into them (issue
 * 10; DESIGN.md §2, §4). A call arrives for activation A and export NAME
 * (from a client's CallExport or a flow's af_send to "act/A/NAME"): it
 * gets a result vow and is kept in A's row (pending_calls) until A is
 * live; then it is journaled as doCall, an event under the step rule like
 * a settlement, and its handler runs on a new coroutine of A. The
 * handler's answer is journaled as checkReturn/checkThrow, a guest action
 * compared on replay, and settles the result vow in the same commit. A
 * name A has not exported when the call is delivered is rejected
 * (NotFound); calls A will never answer because it ended are rejected
 * (Finished, or the terminate error).
 *
 * Not here: the scheduler (step.c), the request that makes a call
 * (api_ops.c), the eventual send that routes one (membrane.c).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acttab.h"
#include "children.h"
#include "engine_int.h"
#include "log.h"
#include "value.h"

#define EXPORT_NAME_MAX 128

static bool
export_name_ok(const char *s, size_t n)
{
	return n > 0 && n <= EXPORT_NAME_MAX && memchr(s, '/', n) == NULL &&
	    memchr(s, '\0', n) == NULL && value_utf8_valid(s, n);
}

int
exports_parse_ref(const char *obj, uint64_t *act, const char **name)
{
	const char *p;
	uint64_t id = 0;

	if (obj == NULL || strncmp(obj, "act/", 4) != 0)
		return AF_EINVAL;
	p = obj + 4;
	if (*p < '1' || *p > '9')
		return AF_EINVAL;
	while (*p >= '0' && *p <= '9') {
		if (id > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return AF_EINVAL;
		id = id * 10 + (uint64_t)(*p++ - '0');
	}
	if (*p++ != '/' || !export_name_ok(p, strlen(p)))
		return AF_EINVAL;
	*act = id;
	*name = p;
	return AF_OK;
}

bool
exports_method_ok(const char *m)
{
	return m != NULL && export_name_ok(m, strlen(m));
}

/* ---- The pending calls and the row ---------------------------------------- */

static char *
dupn(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		if (n > 0)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static int
pcall_add(struct act *a, uint64_t vow, const char *name, size_t name_n,
    const char *method, size_t method_n, const void *args, size_t args_n)
{
	struct pcall *c;

	if (vec_grow((void **)&a->calls, &a->capcalls, a->ncalls + 1,
		sizeof(*a->calls)) != AF_OK)
		return AF_ENOMEM;
	c = &a->calls[a->ncalls];
	c->vow = vow;
	c->name = dupn(name, name_n);
	c->method = dupn(method, method_n);
	c->args = (uint8_t *)dupn(args, args_n);
	c->args_n = args_n;
	if (c->name == NULL || c->method == NULL || c->args == NULL) {
		free(c->name);
		free(c->method);
		free(c->args);
		return AF_ENOMEM;
	}
	a->ncalls++;
	return AF_OK;
}

static void
pcall_remove(struct act *a, size_t i)
{
	free(a->calls[i].name);
	free(a->calls[i].method);
	free(a->calls[i].args);
	memmove(&a->calls[i], &a->calls[i + 1],
	    (a->ncalls - i - 1) * sizeof(*a->calls));
	a->ncalls--;
}

void
act_calls_free(struct act *a)
{
	while (a->ncalls > 0)
		pcall_remove(a, a->ncalls - 1);
	free(a->calls);
	a->calls = NULL;
	a->capcalls = 0;
}

/* One PendingCall message. */
static int
pcall_parse(struct act *a, const uint8_t *p, size_t n)
{
	struct pbr r;
	unsigned field, wt;
	uint64_t vow = 0;
	const uint8_t *bp, *name = NULL, *method = NULL, *args = NULL;
	size_t bn, name_n = 0, method_n = 0, args_n = 0;
	int rc;

	pbr_init(&r, p, n);
	while ((rc = pbr_next(&r, &field, &wt)) > 0) {
		if (field == 1) {
			if (wt != PB_VARINT || pbr_varint(&r, &vow) != AF_OK)
				return AF_EDECODE;
			continue;
		}
		if (field < 2 || field > 4 || wt != PB_LEN ||
		    pbr_bytes(&r, &bp, &bn) != AF_OK)
			return AF_EDECODE;
		if (field == 2) {
			name = bp;
			name_n = bn;
		} else if (field == 3) {
			method = bp;
			method_n = bn;
		} else {
			args = bp;
			args_n = bn;
		}
	}
	if (rc < 0 || vow == 0 || name == NULL || method == NULL)
		return AF_EDECODE;
	return pcall_add(a, vow, (const char *)name, name_n,
	    (const char *)method, method_n, args ? args : (const uint8_t *)"",
	    args_n);
}

int
act_calls_from_row(struct act *a, struct af_str raw)
{
	struct pbr r;
	unsigned field, wt;
	const uint8_t *bp;
	size_t bn;
	int rc;

	pbr_init(&r, raw.ptr, raw.len);
	while ((rc = pbr_next(&r, &field, &wt)) > 0) {
		if (field != 1 || wt != PB_LEN ||
		    pbr_bytes(&r, &bp, &bn) != AF_OK)
			return AF_EDECODE;
		if ((rc = pcall_parse(a, bp, bn)) != AF_OK)
			return rc;
	}
	return rc < 0 ? AF_EDECODE : AF_OK;
}

int
act_calls_encode(struct buf *b, const struct act *a)
{
	struct buf one;
	size_t i;

	buf_init(&one);
	for (i = 0; i < a->ncalls; i++) {
		const struct pcall *c = &a->calls[i];

		buf_reset(&one);
		pb_put_uint64(&one, 1, c->vow);
		pb_put_bytes(&one, 2, c->name, strlen(c->name));
		pb_put_bytes(&one, 3, c->method, strlen(c->method));
		pb_put_bytes(&one, 4, c->args, c->args_n);
		if (one.err) {
			buf_release(&one);
			return AF_ENOMEM;
		}
		pb_put_bytes(b, 1, one.p, one.len);
	}
	buf_release(&one);
	return b->err;
}

/* ---- Arriving ------------------------------------------------------------- */

static const struct af_value *call_error(struct engine *e, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static const struct af_value *
call_error(struct engine *e, const char *name, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	arena_reset(e->tmp);
	return af_error(e->tmp, name, msg);
}

/* Reject a call's result vow: live only (replay writes nothing). */
static void
reject_call(struct engine *e, uint64_t vow, const struct af_value *err)
{
	int rc;

	if (err == NULL) {
		engine_note_lost(e, AF_ENOMEM);
		return;
	}
	rc = engine_settle_trusted(e, vow, true, err);
	if (rc != AF_OK && rc != AF_ESETTLED)
		engine_note_lost(e, rc);
}

int
engine_call_export(struct engine *e, uint64_t id, const char *name,
    const char *method, const void *args, size_t args_n, uint64_t vow,
    uint64_t *out)
{
	struct act *a;
	int rc;

	*out = 0;
	if (!export_name_ok(name, strlen(name)) || !exports_method_ok(method))
		return AF_EINVAL;
	if (e->needs_recover)
		return AF_ESTORE; /* see engine_pass */
	if ((rc = engine_act_for_event(e, id, &a)) != AF_OK && rc != AF_ESTATE)
		return rc;
	if (vow == 0 && (rc = vowtab_make(e->vt, 0, &vow, NULL)) != AF_OK)
		return rc;
	e->dirty = true;
	*out = vow;
	if (a == NULL || a->live_state == ES_DONE) {
		reject_call(e, vow,
		    call_error(e, "Finished",
			"activation %" PRIu64 " has finished: act/%" PRIu64
			"/%s.%s is not answered",
			id, id, name, method));
		return AF_OK;
	}
	if (pcall_add(a, vow, name, strlen(name), method, strlen(method), args,
		args_n) != AF_OK) {
		engine_note_lost(e, AF_ENOMEM);
		return AF_ENOMEM;
	}
	a->row_dirty = true;
	act_mark_dirty(e, a);
	if (a->live_state == ES_RUNNING &&
	    (rc = engine_push_event(e, EV_CALL, a->id, vow)) != AF_OK) {
		engine_note_lost(e, rc);
		return rc;
	}
	return AF_OK;
}

void
act_queue_calls(struct engine *e, struct act *a)
{
	size_t i;

	for (i = 0; i < a->ncalls; i++)
		if (engine_push_event(e, EV_CALL, a->id, a->calls[i].vow) !=
		    AF_OK)
			engine_note_lost(e, AF_ENOMEM);
}

/* ---- Delivering ----------------------------------------------------------- */

static const struct export_def *
export_find(const struct act *a, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < a->nexports; i++)
		if (strlen(a->exports[i]->name) == n &&
		    memcmp(a->exports[i]->name, name, n) == 0)
			return a->exports[i];
	return NULL;
}

/* The call has been journaled (live) or met in the journal (replay): run
 * its handler on a new coroutine, or reject it (live) if there is no such
 * export now. */
static void
start_handler(struct engine *e, struct act *a, struct af_str name,
    struct af_str method, const struct af_value *args, uint64_t vow, bool live)
{
	const struct export_def *x = export_find(a, name.ptr, name.len);
	struct task *t;
	char *m;

	act_enter_value(e, a, args, live);
	if (x == NULL) {
		if (live)
			reject_call(e, vow,
			    call_error(e, "NotFound",
				"activation %" PRIu64 " exports no %.*s", a->id,
				(int)name.len, name.ptr));
		return;
	}
	if ((m = af_arena_alloc(a->arena, method.len + 1)) == NULL ||
	    (t = act_task_new(e, a, false, NULL, NULL)) == NULL) {
		act_failf(e, a, "out of memory (call)");
		act_unload(e, a);
		return;
	}
	memcpy(m, method.ptr, method.len);
	m[method.len] = '\0';
	t->xp = x;
	t->cmethod = m;
	t->cargs = args;
	t->call_vow = vow;
}

void
act_deliver_call(struct engine *e, struct act *a, uint64_t vow)
{
	const struct af_value *args;
	struct jentry je;
	struct pcall *c;
	size_t i;

	if (a->live_state != ES_RUNNING)
		return; /* queued again when it goes live */
	for (i = 0; i < a->ncalls && a->calls[i].vow != vow; i++)
		;
	if (i == a->ncalls)
		return; /* delivered already */
	c = &a->calls[i];
	if (value_decode(a->arena, c->args, c->args_n, &args) != AF_OK) {
		act_failf(e, a, "the args of call %" PRIu64 " do not decode",
		    vow);
		act_unload(e, a);
		return;
	}
	memset(&je, 0, sizeof(je));
	je.kind = J_DO_CALL;
	je.target = (struct af_str){ c->name, strlen(c->name) };
	je.method = (struct af_str){ c->method, strlen(c->method) };
	je.args = (struct af_str){ c->args_n ? (const char *)c->args : "",
		c->args_n };
	je.vow = vow;
	act_journal_append(e, a, &je);
	start_handler(e, a, je.target, je.method, args, vow, true);
	/* The entry was encoded already: the strings may go. */
	pcall_remove(a, i);
	a->row_dirty = true;
	act_mark_dirty(e, a);
	step_run(e, a);
}

int
act_replay_call(struct engine *e, struct act *a, const struct jentry *je)
{
	const struct af_value *args;

	if (value_decode(a->arena, je->args.ptr, je->args.len, &args) !=
	    AF_OK) {
		act_failf(e, a, "journal entry %zu: args undecodable", a->pos);
		return AF_EDECODE;
	}
	a->pos++;
	start_handler(e, a, je->target, je->method, args, je->vow, false);
	return a->live_state == ES_FAILED ? AF_ENOMEM : AF_OK;
}

/* ---- Answering ------------------------------------------------------------ */

static void __attribute__((noreturn))
handler_failed(struct engine *e, struct act *a, struct task *t, const char *why)
{
	act_failf(e, a, "the handler of %s.%s (call %" PRIu64 ") %s",
	    t->xp->name, t->cmethod, t->call_vow, why);
	act_fail_from_guest(e, a, a->failure);
}

void
export_task_run(struct task *t)
{
	struct act *a = t->a;
	struct engine *e = a->e;
	const struct af_value *res = NULL, *logged;
	char why[160], path[256] = "";
	struct jentry je;
	struct buf b;
	enum jkind kind;
	bool same;
	int rc;

	rc = t->xp->fn(&a->handle, t->xp->arg, t->cmethod, t->cargs, &res);
	if (rc == AF_CANCELLED)
		rc = AF_REJECTED;
	if ((rc != AF_OK && rc != AF_REJECTED) || res == NULL) {
		snprintf(why, sizeof(why),
		    "returned a malformed value (code %d, %s)", rc,
		    res ? "value" : "no value");
		handler_failed(e, a, t, why);
	}
	/* Guest memory: checked before anything else walks it. */
	if (value_check(res, why, sizeof(why)) != AF_OK)
		handler_failed(e, a, t, "returned a malformed value");
	if (!act_holds_resolvers(a, res))
		handler_failed(e, a, t,
		    "returned a resolver the flow does not hold");
	buf_reset(&e->args_buf);
	if (value_encode(&e->args_buf, res) != AF_OK)
		handler_failed(e, a, t,
		    "returned a value that cannot be stored");
	kind = rc == AF_OK ? J_CHECK_RETURN : J_CHECK_THROW;
	if (a->live_state == ES_REPLAYING && a->pos < a->log.n) {
		same = act_peek_entry(a, &je) == AF_OK && je.kind == kind &&
		    je.vow == t->call_vow;
		if (same &&
		    (je.value.len != e->args_buf.len ||
			memcmp(je.value.ptr, e->args_buf.p, je.value.len) !=
			    0)) {
			arena_reset(e->tmp);
			same = value_decode(e->tmp, je.value.ptr, je.value.len,
				   &logged) == AF_OK &&
			    value_diff(res, logged, path, sizeof(path)) == 0;
		}
		if (!same) {
			buf_init(&b);
			buf_printf(&b,
			    "replay diverged at journal index %zu: expected ",
			    a->pos);
			if (act_peek_entry(a, &je) == AF_OK)
				journal_entry_text(&b, &je);
			buf_printf(&b,
			    "; the flow attempted %s(vow %" PRIu64 ", ",
			    journal_kind_name(kind), t->call_vow);
			value_to_text(&b, res);
			buf_puts(&b, ")");
			if (path[0] != '\0')
				buf_printf(&b, "; first difference at result%s",
				    path);
			buf_putc(&b, '\0');
			act_fail(e, a,
			    b.err ? "replay diverged" : (const char *)b.p);
			buf_release(&b);
			act_fail_from_guest(e, a, a->failure);
		}
		t->xp = NULL;
		if (++a->pos == a->log.n)
			act_go_live(e, a);
		return;
	}
	if (a->live_state == ES_REPLAYING)
		act_go_live(e, a);
	memset(&je, 0, sizeof(je));
	je.kind = kind;
	je.vow = t->call_vow;
	je.value = (struct af_str){ (const char *)e->args_buf.p,
		e->args_buf.len };
	act_journal_append(e, a, &je);
	t->xp = NULL;
	/* In the commit that journals the answer. */
	rc = engine_settle_trusted(e, t->call_vow, kind == J_CHECK_THROW, res);
	if (rc != AF_OK && rc != AF_ESETTLED)
		engine_note_lost(e, rc);
}

/* One journal entry for calls_unanswered: a doCall's vow is listed, an
 * answer's is marked answered. */
static int
note_call_entry(const void *p, size_t n, struct ids *calls,
    struct u64map *answered)
{
	struct jentry je;

	if (journal_entry_parse(p, n, &je) != AF_OK)
		return AF_EDECODE;
	if (je.kind == J_DO_CALL)
		return engine_ids_push(calls, je.vow) == 0 ? AF_OK : AF_ENOMEM;
	if (je.kind == J_CHECK_RETURN || je.kind == J_CHECK_THROW)
		return u64map_put(answered, je.vow, (void *)1);
	return AF_OK;
}

static bool
restarted_this_pass(const struct engine *e, uint64_t id)
{
	size_t i;

	for (i = 0; i < e->nrestarts; i++)
		if (e->restarts[i] == id)
			return true;
	return false;
}

/*
 * The result vows of the calls journaled in a's current run (doCall)
 * that have no answer (checkReturn/checkThrow) yet: its committed entries,
 * read from the store whether it is loaded or not (evicted, Failed), then
 * this pass's. An undecodable journal does not stop a terminate, which is
 * what one does with such an activation: it is logged, and what could be
 * read is used. AF_OK, AF_ENOMEM, AF_ESTORE.
 */
static int
calls_unanswered(struct engine *e, struct act *a, struct ids *out)
{
	struct ids calls = { NULL, 0, 0 };
	struct u64map answered;
	struct jlog log;
	size_t i;
	int rc = AF_OK;

	u64map_init(&answered);
	memset(&log, 0, sizeof(log));
	if (a->jlen_committed > 0 && !restarted_this_pass(e, a->id)) {
		rc = journal_load(e->s, a->id, a->jlen_committed, &log);
		if (rc == AF_EDECODE) {
			log_warn("activation %" PRIu64 ": terminate: the "
				 "journal does not load; calls journaled in it "
				 "stay unanswered",
			    a->id);
			rc = AF_OK;
		}
	}
	for (i = 0; rc == AF_OK && i < log.n; i++)
		if ((rc = note_call_entry(log.data + log.off[i],
			 log.off[i + 1] - log.off[i], &calls, &answered)) ==
		    AF_EDECODE) {
			log_warn("activation %" PRIu64 ": terminate: journal "
				 "entry %zu does not parse",
			    a->id, i);
			rc = AF_OK;
		}
	jlog_release(&log);
	for (i = 0; rc == AF_OK && i < e->w.njournal; i++) {
		const struct journal_op *op = &e->w.journal[i];

		if (op->act == a->id)
			rc = note_call_entry(e->w.journal_buf.p + op->off,
			    op->len, &calls, &answered);
	}
	for (i = 0; rc == AF_OK && i < calls.n; i++)
		if (u64map_get(&answered, calls.v[i]) == NULL)
			rc = engine_ids_push(out, calls.v[i]) == 0 ? AF_OK :
								     AF_ENOMEM;
	u64map_release(&answered);
	free(calls.v);
	return rc;
}

void
act_calls_abandon(struct engine *e, struct act *a, const struct af_value *err)
{
	struct ids open = { NULL, 0, 0 };
	struct task *t;
	size_t i;
	int rc;

	if (err == NULL) {
		engine_note_lost(e, AF_ENOMEM);
		return;
	}
	while (a->ncalls > 0) {
		reject_call(e, a->calls[0].vow, err);
		pcall_remove(a, 0);
	}
	TAILQ_FOREACH(t, &a->tasks, all)
		if (t->xp != NULL) {
			reject_call(e, t->call_vow, err);
			t->xp = NULL;
		}
	/* Live and loaded, every call journaled and not answered has its
	 * handler's task (above). Otherwise (evicted, Failed, halfway
	 * through its replay) the journal says which: settled already
	 * (above, or a NotFound) or pruned since, there is nothing to do. */
	if (a->loaded && a->live_state == ES_RUNNING)
		return;
	if ((rc = calls_unanswered(e, a, &open)) != AF_OK) {
		engine_note_lost(e, rc);
		free(open.v);
		return;
	}
	for (i = 0; i < open.n; i++) {
		rc = engine_settle_trusted(e, open.v[i], true, err);
		if (rc != AF_OK && rc != AF_ESETTLED && rc != AF_ENOTFOUND)
			engine_note_lost(e, rc);
	}
	free(open.v);
}

void
act_calls_cut(struct engine *e, struct act *a)
{
	struct task *t;

	TAILQ_FOREACH(t, &a->tasks, all)
		if (t->xp != NULL) {
			reject_call(e, t->call_vow,
			    call_error(e, "ContinuedAsNew",
				"activation %" PRIu64 " continued as new "
				"before act/%" PRIu64 "/%s.%s was answered",
				a->id, a->id, t->xp->name, t->cmethod));
			t->xp = NULL;
		}
}

/* ---- Child flows ----------------------------------------------------------- */

static int
children_cb(void *ctx, uint64_t child)
{
	return engine_ids_push(ctx, child) == 0 ? 0 : AF_ENOMEM;
}

/* The committed children from their index (children.h), then those
 * started in this pass, not committed yet: on the touched list, with no
 * row yet. O(children + this pass's activations), never a scan of every
 * row. */
int
engine_children(struct engine *e, uint64_t act, uint64_t **ids, size_t *n)
{
	struct ids l = { NULL, 0, 0 };
	struct act *c;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = children_scan(e->s, act, children_cb, &l)) != AF_OK) {
		free(l.v);
		return rc;
	}
	TAILQ_FOREACH(c, &e->touched, tlink)
		if (c->parent == act && !c->row_known &&
		    engine_ids_push(&l, c->id) != 0) {
			free(l.v);
			return AF_ENOMEM;
		}
	*ids = l.v;
	*n = l.n;
	return AF_OK;
}

/* ---- The guest side ------------------------------------------------------- */

int
af_export(struct af_flow *f, const char *name, af_export_fn *fn, void *arg,
    const struct af_value **ref)
{
	struct act *a = f->a;
	struct export_def *x;
	char *copy, refname[EXPORT_NAME_MAX + 32];
	size_t n;

	assert(coro_self() != NULL);
	if (ref != NULL)
		*ref = NULL;
	if (name == NULL || fn == NULL || ref == NULL ||
	    !export_name_ok(name, n = strlen(name)))
		return AF_EINVAL;
	if (export_find(a, name, n) != NULL)
		return AF_EEXIST;
	if ((copy = af_arena_alloc(a->arena, n + 1)) == NULL ||
	    (x = af_arena_alloc(a->arena, sizeof(*x))) == NULL ||
	    vec_grow((void **)&a->exports, &a->capexports, a->nexports + 1,
		sizeof(*a->exports)) != AF_OK)
		return AF_ENOMEM;
	memcpy(copy, name, n + 1);
	snprintf(refname, sizeof(refname), "act/%" PRIu64 "/%s", a->id, name);
	if ((*ref = af_obj(a->arena, refname)) == NULL)
		return AF_ENOMEM;
	a->exports[a->nexports++] = x;
	x->name = copy;
	x->fn = fn;
	x->arg = arg;
	return AF_OK;
}
