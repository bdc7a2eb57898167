/*
 * inspect.c: read-only views of the engine for the daemon — an activation's
 * info, args and waits, listing, the committed journal (raw and as text),
 * vow state, the outbox, statistics. Committed state plus this pass's
 * changes; nothing here writes.
 */
#include <stdlib.h>
#include <string.h>

#include "acttab.h"
#include "engine_int.h"
#include "value.h"

const char *
engine_state_name(enum engine_state s)
{
	switch (s) {
	case ES_RUNNING:
		return "Running";
	case ES_SLEEPING:
		return "Sleeping";
	case ES_REPLAYING:
		return "Replaying";
	case ES_FAILED:
		return "Failed";
	default:
		return "Done";
	}
}

static void
copy_str(char *dst, size_t n, const char *s, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

/* How many journal entries of a row are kept: a Done activation's journal
 * is deleted once collected (journal_gc reached its length), unless
 * retained. */
static uint64_t
row_journal_kept(const struct act_row *row)
{
	if (row->state == ACT_DONE && row->journal_gc >= row->journal_length)
		return 0;
	return row->journal_length;
}

int
engine_act_info(struct engine *e, uint64_t id, struct engine_act_info *out)
{
	struct act_row row;
	struct act *a;
	struct buf b;
	int rc;

	memset(out, 0, sizeof(*out));
	out->id = id;
	if ((a = u64map_get(&e->acts, id)) != NULL) {
		out->state = a->live_state;
		copy_str(out->flow, sizeof(out->flow), a->flow,
		    strlen(a->flow));
		out->outcome = a->outcome;
		out->journal_length = a->jlen;
		out->incarnation = a->incarnation;
		out->created_ms = a->created_ms;
		out->last_progress_ms = a->last_progress_ms;
		out->last_incarnation = a->last_incarnation;
		out->parent = a->parent;
		if (a->failure)
			copy_str(out->failure, sizeof(out->failure), a->failure,
			    strlen(a->failure));
		/* Done: its journal may be collected already (the row says). */
		if (a->live_state == ES_DONE) {
			buf_init(&b);
			if (acttab_read(e->s, id, &row, &b) == AF_OK)
				out->journal_length = row_journal_kept(&row);
			buf_release(&b);
		}
		return AF_OK;
	}
	buf_init(&b);
	if ((rc = acttab_read(e->s, id, &row, &b)) == AF_OK) {
		out->state = row.state == ACT_DONE ? ES_DONE :
		    row.state == ACT_FAILED        ? ES_FAILED :
						     ES_SLEEPING;
		copy_str(out->flow, sizeof(out->flow), row.flow.ptr,
		    row.flow.len);
		out->outcome = row.outcome;
		out->journal_length = row_journal_kept(&row);
		out->incarnation = row.incarnation;
		out->created_ms = row.created_ms;
		out->last_progress_ms = row.last_progress_ms;
		out->last_incarnation = row.last_incarnation;
		out->parent = row.parent;
		copy_str(out->failure, sizeof(out->failure),
		    row.failure.ptr ? row.failure.ptr : "", row.failure.len);
	}
	buf_release(&b);
	return rc;
}

int
engine_vow_state(struct engine *e, uint64_t id, enum vow_state *st,
    struct af_arena *a, const struct af_value **value)
{
	struct vow *v;
	int rc;

	if (value != NULL)
		*value = NULL;
	if ((rc = vowtab_get(e->vt, id, &v)) != AF_OK)
		return rc;
	*st = v->state;
	if ((v->state == VOW_FULFILLED || v->state == VOW_REJECTED) &&
	    value != NULL && a != NULL)
		return value_decode(a, v->value, v->value_n, value);
	return AF_OK;
}

int
engine_journal_text(struct engine *e, uint64_t id, struct buf *b)
{
	struct act_row row;
	struct jentry je;
	struct jlog log;
	struct buf rb;
	size_t i;
	int rc;

	buf_init(&rb);
	rc = acttab_read(e->s, id, &row, &rb);
	if (rc == AF_OK)
		rc = journal_load(e->s, id,
		    row.state == ACT_DONE &&
			    row.journal_gc >= row.journal_length ?
			0 :
			row.journal_length,
		    &log);
	if (rc == AF_EDECODE && row.state == ACT_DONE)
		rc = journal_load(e->s, id, 0, &log); /* being collected */
	buf_release(&rb);
	if (rc != AF_OK)
		return rc;
	for (i = 0; i < log.n; i++) {
		rc = journal_entry_parse(log.data + log.off[i],
		    log.off[i + 1] - log.off[i], &je);
		buf_printf(b, "%zu ", i);
		if (rc == AF_OK)
			journal_entry_text(b, &je);
		else
			buf_puts(b, "<undecodable>");
		buf_putc(b, '\n');
	}
	jlog_release(&log);
	return b->err;
}

uint64_t
engine_incarnation(const struct engine *e)
{
	return e->incarnation;
}

void
engine_stats(const struct engine *e, struct engine_stats *st)
{
	*st = e->st;
	st->acts_in_memory = e->acts.len;
	st->resident = e->acts.len;
	st->failed = e->nrows[ACT_FAILED];
	(void)store_usage(e->s, &st->map_used_bytes, &st->map_size_bytes);
}

bool
engine_has_flow(const struct engine *e, const char *name)
{
	return name != NULL &&
	    registry_flow(e->reg, name, strlen(name)) != NULL;
}

const char *
engine_flow_name(const struct engine *e, size_t i)
{
	return registry_flow_name(e->reg, i);
}

const char *
engine_object_name(const struct engine *e, size_t i)
{
	return registry_object_name(e->reg, i);
}

int
engine_ids_push(struct ids *l, uint64_t id)
{
	if (vec_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)) != AF_OK)
		return AF_ENOMEM;
	l->v[l->n++] = id;
	return AF_OK;
}

/* Activation rows: every id. */
static int
act_ids_cb(void *ctx, uint64_t id, const struct act_row *row)
{
	(void)row;
	return engine_ids_push(ctx, id);
}

int
engine_act_args(struct engine *e, uint64_t id, struct buf *b)
{
	struct act_row row;
	struct act *a;
	struct buf rb;
	int rc;

	if ((a = u64map_get(&e->acts, id)) != NULL) {
		buf_put(b, a->args, a->args_n);
		return b->err;
	}
	buf_init(&rb);
	if ((rc = acttab_read(e->s, id, &row, &rb)) == AF_OK) {
		buf_put(b, row.args.ptr, row.args.len);
		rc = b->err;
	}
	buf_release(&rb);
	return rc;
}

int
engine_waiting_on(struct engine *e, uint64_t act, uint64_t **ids, size_t *n)
{
	return vowtab_held_by(e->vt, act, ids, n);
}

/* What vow `id` is: a pending timer (its due time), an eventual send's
 * result (object and method, while the outbox holds it), or a vow. */
static void
blocked_vow(struct engine *e, struct engine_blocked_vow *bv)
{
	struct engine_invocation inv;
	size_t i;

	bv->kind = EB_VOW;
	for (i = 0; i < e->timers.n; i++) {
		if (e->timers.heap[i].vow == bv->vow) {
			bv->kind = EB_TIMER;
			bv->due_ms = e->timers.heap[i].due;
			return;
		}
	}
	if (engine_invocation(e, bv->vow, false, &inv) == AF_OK) {
		bv->kind = EB_SEND;
		copy_str(bv->object, sizeof(bv->object), inv.object.ptr,
		    inv.object.len);
		copy_str(bv->method, sizeof(bv->method), inv.method.ptr,
		    inv.method.len);
	}
	engine_invocation_release(&inv);
}

int
engine_blocked_on(struct engine *e, uint64_t id, engine_blocked_fn *cb,
    void *ctx)
{
	struct engine_blocked_vow *bv = NULL;
	const struct holding *h;
	struct task *t;
	struct act *a;
	size_t i, cap = 0;
	int rc = AF_OK;

	a = u64map_get(&e->acts, id);
	if (a == NULL || !a->loaded)
		return AF_OK;
	TAILQ_FOREACH(t, &a->tasks, all) {
		if (t->wait == W_NONE)
			continue;
		if (vec_grow((void **)&bv, &cap, t->wn ? t->wn : 1,
			sizeof(*bv)) != AF_OK) {
			rc = AF_ENOMEM;
			break;
		}
		for (i = 0; i < t->wn; i++) {
			memset(&bv[i], 0, sizeof(bv[i]));
			bv[i].vow = t->wv[i]->u.id;
			h = u64map_get(&a->holdings, bv[i].vow);
			bv[i].settled = h != NULL && h->settled;
			blocked_vow(e, &bv[i]);
		}
		rc = cb(ctx, t->seq,
		    t->wait == W_ONE             ? "await" :
			t->wait == W_ALL         ? "all" :
			t->wait == W_ALL_SETTLED ? "all_settled" :
						   "race",
		    bv, t->wn);
		if (rc != 0)
			break;
	}
	free(bv);
	return rc;
}

int
engine_list(struct engine *e, const enum engine_state *only, uint64_t after,
    size_t limit, engine_list_fn *cb, void *ctx)
{
	return engine_list_flow(e, only, NULL, after, limit, cb, ctx);
}

int
engine_list_flow(struct engine *e, const enum engine_state *only,
    const char *flow, uint64_t after, size_t limit, engine_list_fn *cb,
    void *ctx)
{
	struct ids l = { NULL, 0, 0 };
	size_t i, sent = 0;
	int rc;

	/* `after` is exclusive, and after the largest id there is nothing:
	 * after + 1 would wrap to the first. */
	if (after == UINT64_MAX)
		return AF_OK;
	/* Ids first: no transaction while the callback runs. */
	if ((rc = acttab_scan(e->s, after + 1, act_ids_cb, &l)) != AF_OK) {
		free(l.v);
		return rc;
	}
	for (i = 0; i < l.n && sent < limit; i++) {
		struct engine_act_info info;

		if (engine_act_info(e, l.v[i], &info) != AF_OK)
			continue;
		if (only != NULL && info.state != *only)
			continue;
		if (flow != NULL && strcmp(info.flow, flow) != 0)
			continue;
		sent++;
		if (cb(ctx, &info) != 0)
			break;
	}
	free(l.v);
	return AF_OK;
}

static int
journal_raw_len(struct engine *e, uint64_t id, uint64_t *len)
{
	struct act_row row;
	struct buf rb;
	int rc;

	buf_init(&rb);
	rc = acttab_read(e->s, id, &row, &rb);
	*len = rc == AF_OK ? row_journal_kept(&row) : 0;
	buf_release(&rb);
	return rc;
}

int
engine_journal_raw(struct engine *e, uint64_t act, uint64_t from,
    uint64_t limit, uint64_t *length, engine_entry_fn *cb, void *ctx)
{
	struct jlog log;
	uint64_t len, to;
	size_t i;
	int rc;

	*length = 0;
	if ((rc = journal_raw_len(e, act, &len)) != AF_OK)
		return rc;
	to = limit == 0 || limit > len - (from < len ? from : len) ?
	    len :
	    from + limit;
	if ((rc = journal_load_range(e->s, act, from, to, &log)) != AF_OK) {
		struct engine_act_info info;

		/* Done and being collected: nothing to show. */
		if (rc == AF_EDECODE &&
		    engine_act_info(e, act, &info) == AF_OK &&
		    info.state == ES_DONE)
			return AF_OK;
		return rc;
	}
	*length = len;
	for (i = 0; i < log.n && rc == AF_OK; i++)
		rc = cb(ctx, from + i, log.data + log.off[i],
		    log.off[i + 1] - log.off[i]);
	jlog_release(&log);
	return rc;
}

struct outbox_item {
	uint64_t vow;
	uint64_t act;
	char obj[256];
};

struct outbox_ctx {
	uint64_t act;
	struct outbox_item *items;
	size_t n, cap;
};

static int
outbox_cb(void *ctx, uint64_t vow, const struct outbox_row *row)
{
	struct outbox_ctx *oc = ctx;

	if (oc->act != 0 && row->activation != oc->act)
		return 0;
	if (vec_grow((void **)&oc->items, &oc->cap, oc->n + 1,
		sizeof(*oc->items)) != AF_OK)
		return AF_ENOMEM;
	oc->items[oc->n].vow = vow;
	oc->items[oc->n].act = row->activation;
	copy_str(oc->items[oc->n].obj, sizeof(oc->items[oc->n].obj),
	    row->object.ptr, row->object.len);
	oc->n++;
	return 0;
}

int
engine_outbox_list(struct engine *e, uint64_t act, engine_outbox_fn *cb,
    void *ctx)
{
	struct outbox_ctx oc = { act, NULL, 0, 0 };
	size_t i;
	int rc;

	/* Collected first: no transaction while cb runs. */
	rc = outbox_scan(e->s, outbox_cb, &oc);
	for (i = 0; i < oc.n && rc == AF_OK; i++)
		rc = cb(ctx, oc.items[i].vow, oc.items[i].act, oc.items[i].obj);
	free(oc.items);
	return rc;
}

/* The resolvers named in v, with their secrets. */
static int
collect_grants(struct engine *e, struct engine_invocation *inv, size_t *cap,
    const struct af_value *v)
{
	struct vow *w;
	size_t i;
	int rc;

	switch (v->type) {
	case AF_RESOLVER:
		if (vowtab_get(e->vt, v->u.id, &w) != AF_OK)
			return AF_OK; /* unknown: nothing to grant */
		if (vec_grow((void **)&inv->grants, cap, inv->ngrants + 1,
			sizeof(*inv->grants)) != AF_OK)
			return AF_ENOMEM;
		inv->grants[inv->ngrants].vow = v->u.id;
		memcpy(inv->grants[inv->ngrants].secret, w->secret,
		    VOW_SECRET_LEN);
		inv->ngrants++;
		return AF_OK;
	case AF_LIST:
		for (i = 0; i < v->u.list.len; i++)
			if ((rc = collect_grants(e, inv, cap,
				 v->u.list.items[i])) != AF_OK)
				return rc;
		return AF_OK;
	case AF_RECORD:
		for (i = 0; i < v->u.rec.len; i++)
			if ((rc = collect_grants(e, inv, cap,
				 v->u.rec.fields[i].value)) != AF_OK)
				return rc;
		return AF_OK;
	default:
		return AF_OK;
	}
}

int
engine_invocation(struct engine *e, uint64_t vow, bool secrets,
    struct engine_invocation *inv)
{
	struct outbox_row row;
	const struct af_value *args;
	struct vow *w;
	size_t cap = 0;
	int rc;

	memset(inv, 0, sizeof(*inv));
	buf_init(&inv->row);
	inv->vow = vow;
	if ((rc = outbox_get(e->s, vow, &inv->row, &row)) != AF_OK)
		return rc;
	inv->object = row.object;
	inv->method = row.method;
	inv->args = row.args;
	inv->activation = row.activation;
	if (!secrets)
		return AF_OK;
	if ((rc = vowtab_get(e->vt, vow, &w)) != AF_OK)
		return rc;
	inv->has_secret = true;
	memcpy(inv->secret, w->secret, VOW_SECRET_LEN);
	if (row.args.ptr != NULL) {
		arena_reset(e->tmp);
		/* Undecodable args name no resolver: no grants. */
		if (value_decode(e->tmp, row.args.ptr, row.args.len, &args) ==
		    AF_OK)
			return collect_grants(e, inv, &cap, args);
	}
	return AF_OK;
}

void
engine_invocation_release(struct engine_invocation *inv)
{
	buf_release(&inv->row);
	free(inv->grants);
	inv->grants = NULL;
	inv->ngrants = 0;
}
