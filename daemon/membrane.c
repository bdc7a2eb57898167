/*
 * membrane.c: the guest API of flow.h (af_call, af_send, af_await, ...).
 * Every crossing to a host object is compared with the journal while the
 * activation replays and answered from it, and is journaled and performed
 * live afterwards. Also the journal write set of the pass (appending
 * entries) and the replay cursor. Not here: the host objects themselves
 * (hostobj.c), scheduling (step.c).
 */
#include <assert.h>
#include <stdarg.h>
#include <string.h>

#include "engine_int.h"
#include "value.h"

void
act_journal_append(struct engine *e, struct act *a, struct jentry *je)
{
	size_t off = e->w.journal_buf.len;

	/* While Replaying nothing is written (engine_int.h). */
	assert(a->live_state == ES_RUNNING);
	assert(je->kind != J_NONE);
	je->incarnation = e->incarnation;
	journal_entry_encode(&e->w.journal_buf, je);
	if (e->w.journal_buf.err ||
	    engine_grow(e, (void **)&e->w.journal, &e->w.capjournal,
		e->w.njournal + 1, sizeof(*e->w.journal)) != AF_OK) {
		/* Out of memory mid-pass: the commit will fail and
		 * recovery rebuilds from the store. */
		engine_note_lost(e, AF_ENOMEM);
		return;
	}
	e->w.journal[e->w.njournal++] = (struct journal_op){ a->id, a->jlen,
		off, e->w.journal_buf.len - off };
	a->jlen++;
	a->row_dirty = true;
	act_mark_dirty(e, a);
	e->st.entries_written++;
}

/* Parse the replay entry at a->pos. */
int
act_peek_entry(struct act *a, struct jentry *je)
{
	size_t i = a->pos;

	assert(i < a->log.n);
	if (engine_replay_read != NULL)
		*engine_replay_read = i + 1;
	return journal_entry_parse(a->log.data + a->log.off[i],
	    a->log.off[i + 1] - a->log.off[i], je);
}

static bool
str_eq(struct af_str s, const char *c)
{
	size_t n = strlen(c);

	return s.len == n && memcmp(s.ptr, c, n) == 0;
}

static void
attempted_text(struct buf *b, enum jkind kind, const char *obj,
    const char *method, const struct af_value *args, size_t idx)
{
	buf_printf(b, "%s(%s.%s, ", journal_kind_name(kind), obj, method);
	value_to_text(b, args);
	buf_printf(b, ", #%zu)", idx);
}

/* Replay: compare the call with the journal and answer from it. */
static int
replay_call(struct engine *e, struct act *a, enum jkind kind, const char *obj,
    const char *method, const struct af_value *args,
    const struct af_value **out)
{
	struct jentry je;
	const struct af_value *logged;
	char path[256] = "";
	size_t idx = a->pos;
	bool same;
	struct buf b;
	int rc;

	if (act_peek_entry(a, &je) != AF_OK)
		goto diverged;
	same = je.kind == kind && je.call_index == idx &&
	    str_eq(je.target, obj) && str_eq(je.method, method);
	if (same &&
	    (je.args.len != e->args_buf.len ||
		memcmp(je.args.ptr, e->args_buf.p, je.args.len) != 0)) {
		/* Bytes differ: errors compare by name only. */
		arena_reset(e->tmp);
		if (value_decode(e->tmp, je.args.ptr, je.args.len, &logged) !=
		    AF_OK)
			same = false;
		else if (value_diff(args, logged, path, sizeof(path)) != 0)
			same = false;
	}
	if (!same)
		goto diverged;
	a->pos++;
	if (a->pos >= a->log.n || act_peek_entry(a, &je) != AF_OK ||
	    (je.kind != J_DO_RETURN && je.kind != J_DO_THROW) ||
	    je.call_index != idx) {
		act_failf(e, a,
		    "journal corrupt at index %zu: %s #%zu "
		    "has no answer",
		    a->pos, journal_kind_name(kind), idx);
		act_fail_from_guest(e, a, a->failure);
	}
	rc = value_decode(a->arena, je.value.ptr, je.value.len, out);
	if (rc != AF_OK) {
		act_failf(e, a, "journal entry %zu: value undecodable", a->pos);
		act_fail_from_guest(e, a, a->failure);
	}
	a->pos++;
	act_enter_value(e, a, *out, false);
	if (a->pos == a->log.n)
		act_go_live(e, a);
	return je.kind == J_DO_RETURN ? AF_OK : AF_REJECTED;

diverged:
	buf_init(&b);
	buf_printf(&b, "replay diverged at journal index %zu: expected ", idx);
	journal_entry_text(&b, &je);
	buf_puts(&b, "; the flow attempted ");
	attempted_text(&b, kind, obj, method, args, idx);
	if (path[0] != '\0' ||
	    (je.kind == kind && str_eq(je.target, obj) &&
		str_eq(je.method, method)))
		buf_printf(&b, "; first difference at args%s", path);
	buf_putc(&b, '\0');
	act_fail(e, a, b.err ? "replay diverged" : (const char *)b.p);
	buf_release(&b);
	act_fail_from_guest(e, a, a->failure);
	return AF_EDIVERGED;
}

/* Live: journal the guest's side of a crossing (checkCall or checkSend,
 * its args encoded in e->args_buf); returns its callIndex. */
static uint64_t
journal_crossing(struct engine *e, struct act *a, enum jkind kind,
    const char *obj, const char *method)
{
	struct jentry je;
	uint64_t idx = a->jlen;

	memset(&je, 0, sizeof(je));
	je.kind = kind;
	je.call_index = idx;
	je.target = (struct af_str){ obj, strlen(obj) };
	je.method = (struct af_str){ method, strlen(method) };
	je.args = (struct af_str){ (const char *)e->args_buf.p,
		e->args_buf.len };
	act_journal_append(e, a, &je);
	return idx;
}

/* Live: journal the answer to crossing idx (doReturn for AF_OK, else
 * doThrow), hand it to the guest and take in what it holds. A result that
 * cannot be stored becomes a thrown HostError. Returns the code the guest
 * sees. */
static int
journal_answer(struct engine *e, struct act *a, uint64_t idx, int rc,
    const struct af_value *res, const char *obj, const char *method,
    const struct af_value **out)
{
	struct jentry je;

	buf_reset(&e->args_buf);
	if (res == NULL || value_encode(&e->args_buf, res) != AF_OK) {
		res = hostobj_error(a->arena, "HostError",
		    "%s.%s returned a "
		    "value that cannot be stored",
		    obj, method);
		rc = AF_REJECTED;
		buf_reset(&e->args_buf);
		if (res == NULL || value_encode(&e->args_buf, res) != AF_OK)
			act_fail_from_guest(e, a, "out of memory");
	}
	memset(&je, 0, sizeof(je));
	je.kind = rc == AF_OK ? J_DO_RETURN : J_DO_THROW;
	je.call_index = idx;
	je.value = (struct af_str){ (const char *)e->args_buf.p,
		e->args_buf.len };
	act_journal_append(e, a, &je);
	*out = res;
	act_enter_value(e, a, res, true);
	return rc;
}

/* Live: journal checkCall, run the host method, journal its answer. */
static int
live_call(struct engine *e, struct act *a, const char *obj, const char *method,
    const struct af_value *args, const struct af_value **out)
{
	const struct obj_def *o;
	const struct af_method *m = NULL;
	const struct af_value *res = NULL;
	struct af_host h = { .e = e, .a = a, .args = args };
	uint64_t idx;
	int rc = AF_REJECTED;

	idx = journal_crossing(e, a, J_CHECK_CALL, obj, method);
	if (!act_holds_resolvers(a, args))
		res = hostobj_error(a->arena, "NotHeld",
		    "call to %s.%s names a "
		    "resolver this flow does not hold",
		    obj, method);
	else if ((o = registry_object(e->reg, obj, strlen(obj))) == NULL)
		res = hostobj_error(a->arena, "NotFound", "no host object %s",
		    obj);
	else if ((m = registry_method(o, method, strlen(method))) == NULL)
		res = hostobj_error(a->arena, "NotFound",
		    "host object %s has no "
		    "method %s",
		    obj, method);
	if (m != NULL) {
		u64map_init(&h.made);
		rc = m->fn(&h, o->data, args, &res);
		if ((rc != AF_OK && rc != AF_REJECTED) || res == NULL) {
			res = hostobj_error(a->arena, "HostError",
			    "%s.%s failed: "
			    "%s",
			    obj, method,
			    rc == AF_OK || rc == AF_REJECTED ? "no result" :
							       af_strerror(rc));
			rc = AF_REJECTED;
		} else if (!hostobj_holds_resolvers(&h, res)) {
			/* A host hands back only resolvers it made in this
			 * call or was given in it: none made up from an id. */
			res = hostobj_error(a->arena, "HostError",
			    "%s.%s returned a resolver it does not hold", obj,
			    method);
			rc = AF_REJECTED;
		}
		u64map_release(&h.made);
	}
	return journal_answer(e, a, idx, rc, res, obj, method, out);
}

/* Live send to "act/A/NAME": the call's result vow, or a NotFound error
 * (a malformed reference, no such activation). */
static int
send_to_export(struct engine *e, struct act *a, const char *obj,
    const char *method, const struct af_value **res)
{
	const char *name;
	uint64_t target, vid;
	int rc;

	if (exports_parse_ref(obj, &target, &name) != AF_OK ||
	    !exports_method_ok(method)) {
		*res = hostobj_error(a->arena, "NotFound",
		    "send to %s.%s: not an export reference act/A/NAME with "
		    "names of 1-128 bytes",
		    obj, method);
		return AF_REJECTED;
	}
	/* The result vow is the caller's (pruned with it: prune.h). */
	if ((rc = vowtab_make(e->vt, a->id, &vid, NULL)) == AF_OK)
		rc = engine_call_export(e, target, name, method, e->args_buf.p,
		    e->args_buf.len, vid, &vid);
	if (rc == AF_ENOTFOUND) {
		*res = hostobj_error(a->arena, "NotFound",
		    "send to %s.%s: no activation %llu", obj, method,
		    (unsigned long long)target);
		return AF_REJECTED;
	}
	if (rc != AF_OK)
		act_fail_from_guest(e, a, "out of memory (send)");
	*res = af_vow_ref(a->arena, vid);
	return AF_OK;
}

/* Live eventual send: checkSend, a new result vow, an outbox invocation in
 * the same commit, doReturn{vow}. The server's answer settles the vow. */
static int
live_send(struct engine *e, struct act *a, const char *obj, const char *method,
    const struct af_value *args, const struct af_value **out)
{
	const struct af_value *res;
	struct outbox_row row;
	struct vow *v;
	uint64_t idx, vid = 0;
	int rc = AF_OK;

	idx = journal_crossing(e, a, J_CHECK_SEND, obj, method);
	/* e->args_buf still holds the encoded args. */
	row.object = (struct af_str){ obj, strlen(obj) };
	row.method = (struct af_str){ method, strlen(method) };
	row.args = (struct af_str){ (const char *)e->args_buf.p,
		e->args_buf.len };
	row.activation = a->id;
	if (!act_holds_resolvers(a, args)) {
		res = hostobj_error(a->arena, "NotHeld",
		    "send to %s.%s names a "
		    "resolver this flow does not hold",
		    obj, method);
		rc = AF_REJECTED;
	} else if (strncmp(obj, "act/", 4) == 0) {
		/* Another flow's export: routed inside the daemon, into the
		 * callee's row in this same commit (exports.c). */
		rc = send_to_export(e, a, obj, method, &res);
	} else if (vowtab_make(e->vt, a->id, &vid, NULL) != AF_OK ||
	    vowtab_get(e->vt, vid, &v) != AF_OK ||
	    vec_grow((void **)&e->w.invocations, &e->w.capinvocations,
		e->w.ninvocations + 1, sizeof(*e->w.invocations)) != AF_OK ||
	    outbox_add(&e->w.outbox, vid, &row) != AF_OK) {
		act_fail_from_guest(e, a, "out of memory (send)");
	} else {
		v->invocation = true;
		e->w.invocations[e->w.ninvocations++] = vid;
		e->dirty = true;
		res = af_vow_ref(a->arena, vid);
	}
	return journal_answer(e, a, idx, rc, res, obj, method, out);
}

static struct task *
cur_task(struct af_flow *f)
{
	struct coro *c = coro_self();
	struct task *t = c ? coro_get_data(c) : NULL;

	/* Guest calls come only from the activation's own coroutines. */
	assert(t != NULL && t->a == f->a);
	(void)f;
	return t;
}

/* Every guest crossing to a host object: compared with the journal while
 * replaying, journaled and performed live. */
static int
membrane(struct af_flow *f, enum jkind kind, const char *obj,
    const char *method, const struct af_value *args,
    const struct af_value **out)
{
	struct act *a = f->a;
	struct engine *e = a->e;
	const struct af_value *dummy;
	char why[160];
	int rc;

	if (out == NULL)
		out = &dummy;
	*out = NULL;
	(void)cur_task(f);
	if (obj == NULL || method == NULL || *obj == '\0' || *method == '\0')
		return AF_EINVAL;
	/* Names travel in journal entries, invocations and replies as
	 * protobuf strings, which strict decoders refuse unless UTF-8. */
	if (!value_utf8_valid(obj, strlen(obj)) ||
	    !value_utf8_valid(method, strlen(method)))
		return AF_EINVAL;
	if (args == NULL && (args = af_null(a->arena)) == NULL)
		return AF_ENOMEM;
	/* Guest memory: checked (bounded, fault-guarded) before the encoder
	 * or anything else walks it; the same live and in replay. */
	if (value_check(args, why, sizeof(why)) != AF_OK) {
		act_failf(e, a,
		    "%s to %s.%s with args that are a malformed "
		    "value: %s",
		    kind == J_CHECK_SEND ? "send" : "call", obj, method, why);
		act_fail_from_guest(e, a, a->failure);
	}
	buf_reset(&e->args_buf);
	if ((rc = value_encode(&e->args_buf, args)) == AF_EINVAL) {
		/* Hand-built args the decoder would refuse (invalid UTF-8,
		 * unsorted keys): journaling them would make the journal
		 * unreadable, so nothing is stored and the flow stops here,
		 * the same way live and in replay. */
		act_failf(e, a,
		    "%s to %s.%s with args that are not a valid value "
		    "(invalid UTF-8, unsorted or duplicate record keys, or "
		    "NUL in a name)",
		    kind == J_CHECK_SEND ? "send" : "call", obj, method);
		act_fail_from_guest(e, a, a->failure);
	}
	if (rc != AF_OK)
		return rc;
	if (a->live_state == ES_REPLAYING && a->pos < a->log.n)
		return replay_call(e, a, kind, obj, method, args, out);
	if (a->live_state == ES_REPLAYING)
		act_go_live(e, a);
	if (kind == J_CHECK_SEND)
		return live_send(e, a, obj, method, args, out);
	return live_call(e, a, obj, method, args, out);
}

/* af_continue_as_new: the activation starts over on args, live only: the
 * journal it replays from is the one written since the last
 * continue-as-new, so meeting one while entries remain is a divergence.
 * The swap itself happens off the coroutine (act_continue_as_new). */
int
af_continue_as_new(struct af_flow *f, const struct af_value *args)
{
	struct act *a = f->a;
	struct engine *e = a->e;
	struct jentry je;
	struct buf b;
	char why[160];
	int rc;

	(void)cur_task(f);
	if (args == NULL && (args = af_null(a->arena)) == NULL)
		return AF_ENOMEM;
	if (value_check(args, why, sizeof(why)) != AF_OK) {
		act_failf(e, a,
		    "continue_as_new with args that are a malformed "
		    "value: %s",
		    why);
		act_fail_from_guest(e, a, a->failure);
	}
	if (a->live_state == ES_REPLAYING && a->pos < a->log.n) {
		buf_init(&b);
		if (act_peek_entry(a, &je) == AF_OK)
			journal_entry_text(&b, &je);
		buf_putc(&b, '\0');
		act_failf(e, a,
		    "replay diverged at journal index %zu: expected %s; "
		    "the flow attempted continue_as_new",
		    a->pos, b.p ? (char *)b.p : "?");
		buf_release(&b);
		act_fail_from_guest(e, a, a->failure);
	}
	if (a->live_state == ES_REPLAYING)
		act_go_live(e, a);
	if (!act_holds_resolvers(a, args))
		return AF_EDENIED;
	buf_init(&b);
	if ((rc = value_encode(&b, args)) != AF_OK || b.err) {
		buf_release(&b);
		if (rc == AF_EINVAL) {
			act_failf(e, a,
			    "continue_as_new with args that are not a valid "
			    "value (invalid UTF-8, unsorted or duplicate "
			    "record keys, or NUL in a name)");
			act_fail_from_guest(e, a, a->failure);
		}
		return rc != AF_OK ? rc : AF_ENOMEM;
	}
	free(a->can_args);
	a->can_args = b.p;
	a->can_n = b.len;
	a->can_pending = true;
	/* Never resumed: step_run swaps the journal once it is off this
	 * coroutine. */
	coro_yield();
	abort();
}

/* af_patched: the marker is journaled live; replaying, it is taken only
 * if the next entry is the marker of this id (flow.h). */
bool
af_patched(struct af_flow *f, const char *id)
{
	struct act *a = f->a;
	struct engine *e = a->e;
	struct jentry je;

	(void)cur_task(f);
	if (id == NULL || *id == '\0')
		return false;
	if (a->live_state == ES_REPLAYING && a->pos < a->log.n) {
		if (act_peek_entry(a, &je) != AF_OK || je.kind != J_PATCHED ||
		    !str_eq(je.target, id))
			return false; /* written before the patch */
		if (++a->pos == a->log.n)
			act_go_live(e, a);
		return true;
	}
	if (a->live_state == ES_REPLAYING)
		act_go_live(e, a);
	memset(&je, 0, sizeof(je));
	je.kind = J_PATCHED;
	je.target = (struct af_str){ id, strlen(id) };
	act_journal_append(e, a, &je);
	return true;
}

int
af_call(struct af_flow *f, const char *obj, const char *method,
    const struct af_value *args, const struct af_value **out)
{
	return membrane(f, J_CHECK_CALL, obj, method, args, out);
}

int
af_send(struct af_flow *f, const char *obj, const char *method,
    const struct af_value *args, const struct af_value **vow)
{
	return membrane(f, J_CHECK_SEND, obj, method, args, vow);
}

int
af_start_child(struct af_flow *f, const char *flow, const struct af_value *args,
    const struct af_value **outcome)
{
	const char *keys[2] = { "args", "flow" };
	const struct af_value *vals[2];
	struct af_arena *ar = f->a->arena;
	const struct af_value *dummy;

	if (outcome == NULL)
		outcome = &dummy;
	*outcome = NULL;
	if (flow == NULL || *flow == '\0')
		return AF_EINVAL;
	vals[0] = args ? args : af_null(ar);
	vals[1] = af_string(ar, flow);
	if (vals[0] == NULL || vals[1] == NULL)
		return vals[1] == NULL && vals[0] != NULL ? AF_EINVAL :
							    AF_ENOMEM;
	return af_call(f, "flows", "start", af_record(ar, keys, vals, 2),
	    outcome);
}

const struct af_value *
af_sleep(struct af_flow *f, int64_t ms)
{
	const struct af_value *v, *arg = af_int(f->a->arena, ms);

	if (arg == NULL || af_call(f, "timer", "sleep", arg, &v) != AF_OK)
		return NULL;
	return v;
}

int
af_await(struct af_flow *f, const struct af_value *vow,
    const struct af_value **out)
{
	struct task *t = cur_task(f);
	struct act *a = f->a;
	const struct af_value *dummy;

	if (out == NULL)
		out = &dummy;
	*out = NULL;
	if (vow == NULL || vow->type != AF_VOW)
		return AF_EINVAL;
	if (!act_vow_exists(a->e, a, vow->u.id))
		return AF_ENOTFOUND;
	act_enter_vow(a->e, a, vow->u.id, a->live_state == ES_RUNNING);
	t->one = vow;
	return task_wait(t, W_ONE, &t->one, 1, out, NULL);
}

static int
check_vows(struct af_flow *f, const struct af_value *const *vows, size_t n)
{
	size_t i;

	if (n > 0 && vows == NULL)
		return AF_EINVAL;
	for (i = 0; i < n; i++)
		if (vows[i] == NULL || vows[i]->type != AF_VOW)
			return AF_EINVAL;
	for (i = 0; i < n; i++)
		if (!act_vow_exists(f->a->e, f->a, vows[i]->u.id))
			return AF_ENOTFOUND;
	for (i = 0; i < n; i++)
		act_enter_vow(f->a->e, f->a, vows[i]->u.id,
		    f->a->live_state == ES_RUNNING);
	return AF_OK;
}

int
af_all(struct af_flow *f, const struct af_value *const *vows, size_t n,
    const struct af_value **out)
{
	struct task *t = cur_task(f);
	const struct af_value **copy;
	int rc;

	if ((rc = check_vows(f, vows, n)) != AF_OK)
		return rc;
	/* The caller's array may not outlive the wait: copy it. */
	if ((copy = af_arena_alloc(f->a->arena, (n ? n : 1) * sizeof(*copy))) ==
	    NULL)
		return AF_ENOMEM;
	if (n > 0)
		memcpy(copy, vows, n * sizeof(*copy));
	return task_wait(t, W_ALL, copy, n, out, NULL);
}

int
af_all_settled(struct af_flow *f, const struct af_value *const *vows, size_t n,
    const struct af_value **out)
{
	struct task *t = cur_task(f);
	const struct af_value **copy;
	int rc;

	if ((rc = check_vows(f, vows, n)) != AF_OK)
		return rc;
	if ((copy = af_arena_alloc(f->a->arena, (n ? n : 1) * sizeof(*copy))) ==
	    NULL)
		return AF_ENOMEM;
	if (n > 0)
		memcpy(copy, vows, n * sizeof(*copy));
	return task_wait(t, W_ALL_SETTLED, copy, n, out, NULL);
}

int
af_race(struct af_flow *f, const struct af_value *const *vows, size_t n,
    const struct af_value **out, size_t *index)
{
	struct task *t = cur_task(f);
	const struct af_value **copy;
	int rc;

	if (n == 0)
		return AF_EINVAL;
	if ((rc = check_vows(f, vows, n)) != AF_OK)
		return rc;
	if ((copy = af_arena_alloc(f->a->arena, n * sizeof(*copy))) == NULL)
		return AF_ENOMEM;
	memcpy(copy, vows, n * sizeof(*copy));
	return task_wait(t, W_RACE, copy, n, out, index);
}

int
af_spawn(struct af_flow *f, af_task_fn *fn, void *arg)
{
	(void)cur_task(f);
	if (fn == NULL)
		return AF_EINVAL;
	return act_task_new(f->a->e, f->a, false, fn, arg) ? AF_OK : AF_ENOMEM;
}

struct af_arena *
af_flow_arena(struct af_flow *f)
{
	return f->a->arena;
}

uint64_t
af_flow_id(struct af_flow *f)
{
	return f->a->id;
}

bool
af_cancel_requested(struct af_flow *f)
{
	(void)cur_task(f);
	return f->a->cancel_seen;
}

bool
af_flow_replaying(struct af_flow *f)
{
	return f->a->live_state == ES_REPLAYING;
}

const struct af_value *
af_vow_kit(struct af_flow *f, const struct af_value **resolver)
{
	const struct af_value *kit;

	if (af_call(f, "vows", "make", NULL, &kit) != AF_OK)
		return NULL;
	if (resolver != NULL)
		*resolver = af_get(kit, "resolver");
	return af_get(kit, "vow");
}

static int
settle_call(struct af_flow *f, const char *method,
    const struct af_value *resolver, const struct af_value *value,
    const struct af_value **err)
{
	const struct af_value *items[2], *args, *out;
	int rc;

	if (err != NULL)
		*err = NULL;
	if (resolver == NULL || resolver->type != AF_RESOLVER)
		return AF_EINVAL;
	items[0] = resolver;
	items[1] = value ? value : af_null(f->a->arena);
	if (items[1] == NULL ||
	    (args = af_list_of(f->a->arena, items, 2)) == NULL)
		return AF_ENOMEM;
	rc = af_call(f, "vows", method, args, &out);
	if (rc == AF_REJECTED && err != NULL)
		*err = out;
	return rc;
}

int
af_resolve(struct af_flow *f, const struct af_value *resolver,
    const struct af_value *value, const struct af_value **err)
{
	return settle_call(f, "resolve", resolver, value, err);
}

int
af_reject(struct af_flow *f, const struct af_value *resolver,
    const struct af_value *reason, const struct af_value **err)
{
	return settle_call(f, "reject", resolver, reason, err);
}

int64_t
af_now(struct af_flow *f)
{
	const struct af_value *v;

	if (af_call(f, "clock", "now", NULL, &v) != AF_OK || v->type != AF_INT)
		return 0;
	return v->u.i;
}

uint64_t
af_random(struct af_flow *f)
{
	const struct af_value *v;

	if (af_call(f, "random", "next", NULL, &v) != AF_OK ||
	    v->type != AF_INT)
		return 0;
	return (uint64_t)v->u.i;
}
