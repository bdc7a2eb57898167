/*
 * check_continue.c: af_continue_as_new (flow.h; membrane.c, the swap in
 * activation.c and commit.c) against a real LMDB store: a flow that loops
 * by continuing as new keeps a bounded journal over many iterations; the
 * vows it passes on stay held (settled before, during or after the swap);
 * a process killed (SIGKILL) right after the swap's commit replays from
 * the new start; code that continues as new where the journal says
 * otherwise diverges; a resolver it does not hold is refused.
 *
 * Not here: other guest calls (check_engine.c).
 */
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "engine.h"
#include "engineutil.h"
#include "storeutil.h"
#include "registry.h"
#include "store.h"
#include "testutil.h"
#include "value.h"

static char dir[512];
static struct store *st;
static struct af_registry *reg;
static struct engine *eng;
static struct af_arena *ar;
static bool v2; /* the "new code" of flow_gate */

/* ticker({"i": I, "stop": S}): a clock read, then on as I + 1 until S;
 * returns I. */
static int
flow_ticker(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	int64_t i = af_get(args, "i")->u.i, stop = af_get(args, "stop")->u.i;
	const char *keys[2] = { "i", "stop" };
	const struct af_value *vals[2];

	vals[0] = af_int(a, i + 1);
	vals[1] = af_get(args, "stop");
	(void)af_now(f);
	if (i < stop)
		return af_continue_as_new(f, af_record(a, keys, vals, 2));
	*result = af_int(a, i);
	return AF_OK;
}

/* collect({"vows": [...], "got": [...]}): await the first vow, then on
 * with the rest and what it gave; returns got once none is left. */
static int
flow_collect(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	const struct af_value *vows = af_get(args, "vows");
	const struct af_value *got = af_get(args, "got"), *v;
	const struct af_value *rest[8], *more[8], *vals[2];
	const char *keys[2] = { "got", "vows" };
	size_t i;

	if (vows->u.list.len == 0) {
		*result = got;
		return AF_OK;
	}
	if (af_await(f, vows->u.list.items[0], &v) != AF_OK)
		return AF_REJECTED;
	for (i = 0; i < got->u.list.len; i++)
		more[i] = got->u.list.items[i];
	more[i++] = v;
	vals[0] = af_list_of(a, more, i);
	for (i = 1; i < vows->u.list.len; i++)
		rest[i - 1] = vows->u.list.items[i];
	vals[1] = af_list_of(a, rest, vows->u.list.len - 1);
	return af_continue_as_new(f, af_record(a, keys, vals, 2));
}

/* gate(vow): a clock read, then await vow, then on as new with it;
 * v2 continues as new before anything. */
static int
flow_gate(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *v;

	if (v2)
		return af_continue_as_new(f, args);
	(void)af_now(f);
	if (af_await(f, args, &v) != AF_OK)
		return AF_REJECTED;
	*result = v;
	return AF_OK;
}

/* launder(): passes on a resolver it does not hold. */
static int
flow_launder(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);

	*result = af_int(a,
	    af_continue_as_new(f, af_resolver_ref(a, (uint64_t)args->u.i)));
	return AF_OK;
}

static void
open_engine(void)
{
	struct store_opts so = { .durability = STORE_NONE };

	reg = registry_new();
	ck_assert_ptr_nonnull(reg);
	af_register_flow(reg, "ticker", flow_ticker);
	af_register_flow(reg, "collect", flow_collect);
	af_register_flow(reg, "launder", flow_launder);
	af_register_flow(reg, "gate", flow_gate);
	engineutil_open(dir, &so, reg, NULL, &st, &eng);
}

static void
close_engine(void)
{
	engineutil_close(&st, &reg, &eng);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
	ar = arena_new(0);
	v2 = false;
	open_engine();
}

static void
teardown(void)
{
	if (eng != NULL)
		close_engine();
	arena_free(ar);
	testutil_rmtree(dir);
}

static uint64_t
journal_rows(void)
{
	return storeutil_db_stat(st, DB_JOURNAL).entries;
}

static struct engine_act_info
info(uint64_t act)
{
	struct engine_act_info i;

	ck_assert_int_eq(engine_act_info(eng, act, &i), AF_OK);
	return i;
}

static const char *
outcome_text(uint64_t vow)
{
	static char text[256];
	enum vow_state vs;
	const struct af_value *v;
	struct buf b;

	ck_assert_int_eq(engine_vow_state(eng, vow, &vs, ar, &v), AF_OK);
	if (vs != VOW_FULFILLED)
		return "(not fulfilled)";
	buf_init(&b);
	value_to_text(&b, v);
	snprintf(text, sizeof(text), "%.*s", (int)b.len, (char *)b.p);
	buf_release(&b);
	return text;
}

static const struct af_value *
ticker_args(int64_t i, int64_t stop)
{
	const char *keys[2] = { "i", "stop" };
	const struct af_value *vals[2] = { af_int(ar, i), af_int(ar, stop) };

	return af_record(ar, keys, vals, 2);
}

START_TEST(test_continue_as_new_loop_keeps_its_journal_bounded)
{
	uint64_t act, out, passes = 0;
	char want[32];

	ck_assert_int_eq(engine_start(eng, "ticker", ticker_args(0, 500), &act,
			     &out),
	    AF_OK);
	/* One iteration a pass; never more than one iteration's entries
	 * (a clock read: checkCall, doReturn) in the store. */
	do {
		ck_assert_int_eq(engine_pass(eng), AF_OK);
		ck_assert_uint_le(journal_rows(), 2);
		ck_assert_uint_le(info(act).journal_length, 2);
		passes++;
	} while (engine_busy(eng));
	ck_assert_uint_ge(passes, 500);
	ck_assert_int_eq(info(act).state, ES_DONE);
	snprintf(want, sizeof(want), "%d", 500);
	ck_assert_str_eq(outcome_text(out), want);
}
END_TEST

static void
settle(uint64_t vow, const uint8_t *sec, int64_t v)
{
	ck_assert_int_eq(engine_settle(eng, vow, sec, false, af_int(ar, v)),
	    AF_OK);
}

START_TEST(test_continue_as_new_passes_on_held_vows_across_restarts)
{
	uint8_t sec[3][VOW_SECRET_LEN];
	const struct af_value *items[3], *vals[2];
	const char *keys[2] = { "got", "vows" };
	uint64_t vow[3], act, out;
	struct buf b;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(engine_mkvow(eng, &vow[i], sec[i]), AF_OK);
		items[i] = af_vow_ref(ar, vow[i]);
	}
	vals[0] = af_list_of(ar, NULL, 0);
	vals[1] = af_list_of(ar, items, 3);
	ck_assert_int_eq(engine_start(eng, "collect",
			     af_record(ar, keys, vals, 2), &act, &out),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	/* The third settles while the first is awaited: held since the
	 * start, still held by the runs after it. */
	settle(vow[2], sec[2], 30);
	settle(vow[0], sec[0], 10);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(info(act).state, ES_RUNNING);
	/* A restart replays from the last start over: its args are the new
	 * ones, its journal what came after. */
	close_engine();
	open_engine();
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	buf_init(&b);
	ck_assert_int_eq(engine_act_args(eng, act, &b), AF_OK);
	{
		const struct af_value *args;

		ck_assert_int_eq(value_decode(ar, b.p, b.len, &args), AF_OK);
		ck_assert_uint_eq(af_get(args, "got")->u.list.len, 1);
		ck_assert_uint_eq(af_get(args, "vows")->u.list.len, 2);
	}
	buf_release(&b);
	settle(vow[1], sec[1], 20);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(info(act).state, ES_DONE);
	ck_assert_str_eq(outcome_text(out), "[10,20,30]");
}
END_TEST

START_TEST(test_continue_as_new_survives_sigkill_after_its_commit)
{
	uint64_t msg[2], act, out;
	int pipefd[2], status;
	pid_t pid;

	close_engine();
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		open_engine();
		if (engine_start(eng, "ticker", ticker_args(0, 1000), &act,
			&out) != AF_OK)
			_exit(2);
		/* Three passes: the start, two swaps committed. */
		for (int i = 0; i < 3; i++)
			if (engine_pass(eng) != AF_OK)
				_exit(2);
		msg[0] = act;
		msg[1] = out;
		if (write(pipefd[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(2);
		kill(getpid(), SIGKILL);
		_exit(3);
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], msg, sizeof(msg)), sizeof(msg));
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	act = msg[0];
	out = msg[1];
	open_engine();
	/* Its args say how far it got: at least the third run. */
	{
		struct buf b;
		const struct af_value *args;

		buf_init(&b);
		ck_assert_int_eq(engine_act_args(eng, act, &b), AF_OK);
		ck_assert_int_eq(value_decode(ar, b.p, b.len, &args), AF_OK);
		ck_assert_int_ge(af_get(args, "i")->u.i, 2);
		buf_release(&b);
	}
	ck_assert_uint_le(journal_rows(), 2);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(info(act).state, ES_DONE);
	ck_assert_str_eq(outcome_text(out), "1000");
}
END_TEST

START_TEST(test_continue_as_new_where_the_journal_disagrees_diverges)
{
	uint64_t act, out, vow;
	uint8_t sec[VOW_SECRET_LEN];
	struct engine_act_info i;

	/* v1 reads the clock and waits: that is in its journal. */
	ck_assert_int_eq(engine_mkvow(eng, &vow, sec), AF_OK);
	ck_assert_int_eq(engine_start(eng, "gate", af_vow_ref(ar, vow), &act,
			     &out),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_uint_eq(info(act).journal_length, 2);
	/* v2 continues as new first: the journal says otherwise. */
	close_engine();
	v2 = true;
	open_engine();
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	i = info(act);
	ck_assert_int_eq(i.state, ES_FAILED);
	ck_assert_msg(strstr(i.failure, "replay diverged at journal index 0") &&
		strstr(i.failure, "continue_as_new"),
	    "%s", i.failure);
	ck_assert_uint_eq(journal_rows(), 2); /* nothing written */
}
END_TEST

START_TEST(test_continue_as_new_refuses_a_resolver_not_held)
{
	uint64_t act, out, vow;
	uint8_t sec[VOW_SECRET_LEN];

	ck_assert_int_eq(engine_mkvow(eng, &vow, sec), AF_OK);
	ck_assert_int_eq(engine_start(eng, "launder", af_int(ar, (int64_t)vow),
			     &act, &out),
	    AF_OK);
	ck_assert_int_eq(engine_run_until_idle(eng), AF_OK);
	ck_assert_int_eq(info(act).state, ES_DONE);
	ck_assert_str_eq(outcome_text(out), "-30004"); /* AF_EDENIED */
}
END_TEST

static Suite *
continue_suite(void)
{
	Suite *s = suite_create("continue");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_continue_as_new_loop_keeps_its_journal_bounded);
	tcase_add_test(tc,
	    test_continue_as_new_passes_on_held_vows_across_restarts);
	tcase_add_test(tc,
	    test_continue_as_new_survives_sigkill_after_its_commit);
	tcase_add_test(tc,
	    test_continue_as_new_where_the_journal_disagrees_diverges);
	tcase_add_test(tc, test_continue_as_new_refuses_a_resolver_not_held);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(continue_suite)
