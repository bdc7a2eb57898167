/*
 * check_ctl.c: asyncflowctl (client/ctl/), run as a program against the
 * fake daemon of fake_daemon.[ch].
 *
 * The JSON <-> Value conversion lives in asyncflowctl (the library does not
 * depend on jansson), so it is tested by running the built asyncflowctl
 * (found beside this binary's directory: B/tests/check_ctl ->
 * B/asyncflowctl) against the fake daemon and comparing the request it
 * sent and the JSON it printed. asyncflowctl serve is run the same way,
 * with sh scripts as its CMD: the fake daemon pushes invocations and
 * checks the settlements that come back.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "asyncflow.h"
#include "fake_daemon.h"
#include "testutil.h"

/* ---- asyncflowctl against the fake daemon ------------------------------------------ */

static char ctl_path[PATH_MAX + 32];

/* Whether v is the string value s (string values hold a length, not a
 * terminating NUL). */
static bool
str_is(const Asyncflow__Value *v, const char *s)
{
	size_t n;
	const char *p = af_value_string(v, &n);

	return p != NULL && n == strlen(s) && memcmp(p, s, n) == 0;
}

/* The asyncflowctl built beside this test (B/tests/check_ctl ->
 * B/asyncflowctl), or NULL. */
static const char *
ctl(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return NULL;
	*slash = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return NULL;
	*slash = '\0';
	snprintf(ctl_path, sizeof(ctl_path), "%s/asyncflowctl", self);
	return access(ctl_path, X_OK) == 0 ? ctl_path : NULL;
}

struct run {
	int status; /* exit status, or -1 if it died */
	char out[8192];
	char err[8192];
};

/*
 * Reads the child's stdout (ofd) and stderr (efd) into r until both end,
 * under one poll: reading one to its end before the other would deadlock
 * with a child that fills the other pipe first. What does not fit r's
 * buffers is read and dropped. Closes both descriptors.
 */
static void
read_outputs(struct run *r, int ofd, int efd)
{
	struct pollfd pfd[2];
	char *buf[2] = { r->out, r->err }, junk[512];
	size_t len[2] = { 0, 0 }, cap[2] = { sizeof(r->out), sizeof(r->err) };
	ssize_t n;
	int i, open = 2;

	pfd[0].fd = ofd;
	pfd[1].fd = efd;
	while (open > 0) {
		for (i = 0; i < 2; i++) {
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, 2, -1) < 0) {
			ck_assert_int_eq(errno, EINTR);
			continue;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (len[i] < cap[i] - 1)
				n = read(pfd[i].fd, buf[i] + len[i],
				    cap[i] - 1 - len[i]);
			else
				n = read(pfd[i].fd, junk, sizeof(junk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1; /* poll skips it */
				open--;
				continue;
			}
			if (len[i] < cap[i] - 1)
				len[i] += (size_t)n;
		}
	}
	r->out[len[0]] = '\0';
	r->err[len[1]] = '\0';
}

/* The file the next run_ctl's stdin reads (NULL: this process's stdin). */
static const char *ctl_stdin;

/* Runs asyncflowctl with argv (NULL-terminated, without argv[0]); the
 * environment's ASYNCFLOW_SOCKET is set to `sock` (NULL: unset). */
static void
run_ctl(struct run *r, const char *sock, const char *const *args)
{
	const char *argv[32];
	int po[2], pe[2], st, i;
	pid_t pid;

	argv[0] = "asyncflowctl";
	for (i = 0; args[i] != NULL && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	ck_assert_int_eq(pipe(po), 0);
	ck_assert_int_eq(pipe(pe), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		if (ctl_stdin != NULL && freopen(ctl_stdin, "r", stdin) == NULL)
			_exit(126);
		if (sock != NULL)
			setenv("ASYNCFLOW_SOCKET", sock, 1);
		else
			unsetenv("ASYNCFLOW_SOCKET");
		execv(ctl_path, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	read_outputs(r, po[0], pe[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The CLI tests need asyncflowctl built beside this test (make builds
 * both); without it they fail rather than pass untested. */
#define NEED_CTL() \
	do { \
		ck_assert_msg(ctl() != NULL, \
		    "asyncflowctl is not built beside " \
		    "this test"); \
	} while (0)

/* What the fake daemon saw, for the test to inspect. */
static Asyncflow__Request *seen;

static void
s_ctl_start(int fd)
{
	Asyncflow__StartReply sr = ASYNCFLOW__START_REPLY__INIT;

	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_START);
	sr.activation = 5;
	sr.outcome = 6;
	srv_reply(fd, seen->id, ASYNCFLOW__RESPONSE__RESULT_START, &sr);
	srv_drain(fd);
}

START_TEST(test_ctl_start_json_to_value)
{
	const char *args[] = {
		"-s",
		NULL,
		"start",
		"echo",
		"{\"b\": 1, \"a\": [1.5, 2, \"x\", null, true, {\"@vow\": 3}, "
		"{\"@resolver\": 4}, {\"@obj\": \"bank\"}, {\"@bytes\": \"AAEC/w==\"}, "
		"{\"@error\": {\"name\": \"E\", \"message\": \"m\"}}, "
		"{\"@record\": {\"@k\": 1, \"Z\": {}}}, 1.0, -7, {\"@double\": \"-inf\"}], "
		"\"\\u00e9\": false, \"B\": \"\"}",
		"--key",
		"K1",
		NULL,
	};
	const Asyncflow__Value *a, *it, *rv;
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_start);
	args[1] = f.path;
	run_ctl(&r, NULL, args);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "{\"activation\":5,\"outcome\":{\"@vow\":6}}\n");
	ck_assert_ptr_nonnull(seen);
	ck_assert_str_eq(seen->start->flow, "echo");
	ck_assert_str_eq(seen->start->idempotency_key, "K1");
	/* Keys sorted bytewise: "B" < "a" < "b" < "\xc3\xa9". */
	rv = seen->start->args;
	ck_assert_uint_eq(rv->record_value->n_fields, 4);
	ck_assert(str_is(field(rv, 0, "B"), ""));
	a = field(rv, 1, "a");
	ck_assert_int_eq(field(rv, 2, "b")->int_value, 1);
	ck_assert_int_eq(field(rv, 3, "\xc3\xa9")->kind_case,
	    ASYNCFLOW__VALUE__KIND_BOOL_VALUE);
	ck_assert_int_eq(a->kind_case, ASYNCFLOW__VALUE__KIND_LIST_VALUE);
	ck_assert_uint_eq(a->list_value->n_items, 14);
	it = a->list_value->items[0];
	ck_assert_int_eq(it->kind_case, ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE);
	ck_assert(it->double_value == 1.5);
	it = a->list_value->items[1];
	ck_assert_int_eq(it->kind_case, ASYNCFLOW__VALUE__KIND_INT_VALUE);
	ck_assert_int_eq(it->int_value, 2);
	ck_assert(str_is(a->list_value->items[2], "x"));
	ck_assert_int_eq(a->list_value->items[3]->kind_case,
	    ASYNCFLOW__VALUE__KIND_NULL_VALUE);
	ck_assert(a->list_value->items[3]->null_value);
	ck_assert(a->list_value->items[4]->bool_value);
	ck_assert_int_eq(a->list_value->items[5]->kind_case,
	    ASYNCFLOW__VALUE__KIND_VOW_ID);
	ck_assert_uint_eq(a->list_value->items[5]->vow_id, 3);
	ck_assert_int_eq(a->list_value->items[6]->kind_case,
	    ASYNCFLOW__VALUE__KIND_RESOLVER_ID);
	ck_assert_uint_eq(a->list_value->items[6]->resolver_id, 4);
	ck_assert_str_eq(a->list_value->items[7]->obj_name, "bank");
	it = a->list_value->items[8];
	ck_assert_int_eq(it->kind_case, ASYNCFLOW__VALUE__KIND_BYTES_VALUE);
	ck_assert_uint_eq(it->bytes_value.len, 4);
	ck_assert_mem_eq(it->bytes_value.data, "\x00\x01\x02\xff", 4);
	it = a->list_value->items[9];
	ck_assert_str_eq(it->error_value->name, "E");
	ck_assert_str_eq(it->error_value->message, "m");
	it = a->list_value->items[10];
	ck_assert_int_eq(field(it, 0, "@k")->int_value, 1);
	ck_assert_uint_eq(field(it, 1, "Z")->record_value->n_fields, 0);
	it = a->list_value->items[11];
	ck_assert_int_eq(it->kind_case, ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE);
	ck_assert(it->double_value == 1.0);
	ck_assert_int_eq(a->list_value->items[12]->int_value, -7);
	ck_assert(isinf(a->list_value->items[13]->double_value) &&
	    a->list_value->items[13]->double_value < 0);
	af_msg_free(seen);
	seen = NULL;
}
END_TEST

/* show: every kind of value out, the activation's shape. */
static void
s_ctl_show(int fd)
{
	Asyncflow__ActivationInfo ai = ASYNCFLOW__ACTIVATION_INFO__INIT;
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT, v[16];
	Asyncflow__Value *items[16];
	Asyncflow__List l = ASYNCFLOW__LIST__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT,
			  inner = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field fa = ASYNCFLOW__FIELD__INIT,
			 fb = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field *fields[2] = { &fa, &fb }, *ifields[1] = { &fb };
	Asyncflow__Error e = ASYNCFLOW__ERROR__INIT;
	uint64_t waiting[2] = { 8, 9 };
	size_t i, n = 0;

	for (i = 0; i < 16; i++) {
		asyncflow__value__init(&v[i]);
		items[i] = &v[i];
	}
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE,
	v[n++].double_value = 1.0;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE,
	v[n++].double_value = 0.1;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE,
	v[n++].double_value = INFINITY;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE,
	v[n++].int_value = INT64_MIN;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_NULL_VALUE,
	v[n++].null_value = 1;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_BOOL_VALUE,
	v[n++].bool_value = 0;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_STRING_VALUE,
	af_value_set_string(&v[n++], "h\"i", 3);
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_BYTES_VALUE;
	v[n].bytes_value.len = 5, v[n++].bytes_value.data = (uint8_t *)"hello";
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID, v[n++].vow_id = 3;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_RESOLVER_ID,
	v[n++].resolver_id = 4;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_OBJ_NAME,
	v[n++].obj_name = (char *)"bank";
	e.name = (char *)"TypeError";
	e.message = (char *)"nope";
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE,
	v[n++].error_value = &e;
	/* {"@at": 1, "x": {"x": 1}} must come out wrapped in @record. */
	fa.key = (char *)"@at";
	fa.value = &v[13];
	fb.key = (char *)"x";
	fb.value = &v[14];
	v[13].kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE, v[13].int_value = 1;
	v[14].kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE,
	v[14].record_value = &inner;
	inner.n_fields = 0;
	inner.fields = ifields;
	rec.n_fields = 2;
	rec.fields = fields;
	v[n].kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE,
	v[n++].record_value = &rec;
	l.n_items = n;
	l.items = items;
	args.kind_case = ASYNCFLOW__VALUE__KIND_LIST_VALUE;
	args.list_value = &l;

	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	ai.id = seen->show->activation;
	ai.flow = (char *)"payment";
	ai.state = (char *)"Failed";
	ai.args = &args;
	ai.outcome = 7;
	ai.n_waiting_on = 2;
	ai.waiting_on = waiting;
	ai.journal_length = 12;
	ai.failure = (char *)"diverged at 3";
	ai.incarnation = 2;
	srv_reply(fd, seen->id, ASYNCFLOW__RESPONSE__RESULT_SHOW, &ai);
	srv_drain(fd);
}

START_TEST(test_ctl_show_value_to_json)
{
	const char *args[] = { "show", "31", NULL };
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_show);
	run_ctl(&r, f.path, args); /* socket from $ASYNCFLOW_SOCKET */
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "{\"activation\":31,\"flow\":\"payment\",\"state\":\"Failed\","
	    "\"args\":[1.0,0.1,{\"@double\":\"inf\"},-9223372036854775808,null,"
	    "false,\"h\\\"i\",{\"@bytes\":\"aGVsbG8=\"},{\"@vow\":3},"
	    "{\"@resolver\":4},{\"@obj\":\"bank\"},"
	    "{\"@error\":{\"name\":\"TypeError\",\"message\":\"nope\"}},"
	    "{\"@record\":{\"@at\":1,\"x\":{}}}],"
	    "\"outcome\":{\"@vow\":7},\"waiting_on\":[{\"@vow\":8},{\"@vow\":9}],"
	    "\"journal_length\":12,\"failure\":\"diverged at 3\","
	    "\"incarnation\":2}\n");
	ck_assert_uint_eq(seen->show->activation, 31);
	af_msg_free(seen);
	seen = NULL;
}
END_TEST

static void
s_ctl_journal(int fd)
{
	Asyncflow__JournalDump jd = ASYNCFLOW__JOURNAL_DUMP__INIT;
	Asyncflow__JournalEntry e[6], *ep[6];
	Asyncflow__Value iv = ASYNCFLOW__VALUE__INIT,
			 ev = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Error err = ASYNCFLOW__ERROR__INIT;
	int i;

	iv.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	iv.int_value = 1;
	err.name = (char *)"E";
	ev.kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
	ev.error_value = &err;
	for (i = 0; i < 6; i++) {
		asyncflow__journal_entry__init(&e[i]);
		e[i].incarnation = 1;
		ep[i] = &e[i];
	}
	e[0].kind = ASYNCFLOW__ENTRY_KIND__CHECK_CALL;
	e[0].target = (char *)"clock";
	e[0].method = (char *)"now";
	e[0].args = &iv;
	e[1].kind = ASYNCFLOW__ENTRY_KIND__DO_RETURN;
	e[1].value = &iv;
	e[2].kind = ASYNCFLOW__ENTRY_KIND__CHECK_SEND;
	e[2].target = (char *)"bank";
	e[2].method = (char *)"pay";
	e[2].call_index = 2;
	e[3].kind = ASYNCFLOW__ENTRY_KIND__DO_THROW;
	e[3].call_index = 2;
	e[3].value = &ev;
	e[4].kind = ASYNCFLOW__ENTRY_KIND__DO_FULFILL;
	e[4].vow = 9;
	e[4].value = &iv;
	e[5].kind = ASYNCFLOW__ENTRY_KIND__DO_REJECT;
	e[5].vow = 10;
	e[5].value = &ev;
	e[5].incarnation = 2;
	jd.n_entries = 6;
	jd.entries = ep;
	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_JOURNAL);
	srv_reply(fd, seen->id, ASYNCFLOW__RESPONSE__RESULT_JOURNAL, &jd);
	af_msg_free(seen);
	seen = NULL;
	srv_drain(fd);
}

START_TEST(test_ctl_journal)
{
	const char *args[] = { "journal", "3", NULL };
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_journal);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "["
	    "{\"index\":0,\"kind\":\"checkCall\",\"target\":\"clock\",\"method\":\"now\","
	    "\"args\":1,\"callIndex\":0,\"incarnation\":1},"
	    "{\"index\":1,\"kind\":\"doReturn\",\"callIndex\":0,\"result\":1,\"incarnation\":1},"
	    "{\"index\":2,\"kind\":\"checkSend\",\"target\":\"bank\",\"method\":\"pay\","
	    "\"args\":null,\"callIndex\":2,\"incarnation\":1},"
	    "{\"index\":3,\"kind\":\"doThrow\",\"callIndex\":2,"
	    "\"error\":{\"@error\":{\"name\":\"E\",\"message\":\"\"}},\"incarnation\":1},"
	    "{\"index\":4,\"kind\":\"doFulfill\",\"vow\":{\"@vow\":9},\"value\":1,"
	    "\"incarnation\":1},"
	    "{\"index\":5,\"kind\":\"doReject\",\"vow\":{\"@vow\":10},"
	    "\"reason\":{\"@error\":{\"name\":\"E\",\"message\":\"\"}},\"incarnation\":2}"
	    "]\n");
}
END_TEST

/* settle: the resolver from hex, --reject; mkvow prints hex. */
static void
s_ctl_mkvow_settle(int fd)
{
	Asyncflow__MakeVowReply mv = ASYNCFLOW__MAKE_VOW_REPLY__INIT;
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_MKVOW);
	mv.vow = 21;
	mv.resolver.len = AF_RESOLVER_LEN;
	mv.resolver.data = (uint8_t *)fake_res;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_MKVOW, &mv);
	af_msg_free(req);
	srv_drain(fd);
}

static void
s_ctl_settle(int fd)
{
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;

	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SETTLE);
	vi.vow = seen->settle->vow;
	vi.state = ASYNCFLOW__VOW_STATUS__VOW_STATUS_REJECTED;
	vi.value = seen->settle->value;
	srv_reply(fd, seen->id, ASYNCFLOW__RESPONSE__RESULT_VOW, &vi);
	srv_drain(fd);
}

START_TEST(test_ctl_mkvow_settle)
{
	const char *mk[] = { "mkvow", NULL };
	const char *st[] = {
		"settle",
		"21",
		"--reject",
		"{\"@error\": {\"name\": \"No\"}}",
		"--resolver=000102030405060708090A0B0C0D0EFF",
		NULL,
	};
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_mkvow_settle);
	run_ctl(&r, f.path, mk);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "{\"vow\":21,\"resolver\":\"000102030405060708090a0b0c0d0eff\"}\n");

	fake_listen(&f, s_ctl_settle);
	run_ctl(&r, f.path, st);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "{\"vow\":21,\"state\":\"rejected\"}\n");
	ck_assert(seen->settle->reject);
	ck_assert_mem_eq(seen->settle->resolver.data, fake_res,
	    AF_RESOLVER_LEN);
	ck_assert_str_eq(seen->settle->value->error_value->name, "No");
	ck_assert_str_eq(seen->settle->value->error_value->message, "");
	af_msg_free(seen);
	seen = NULL;
}
END_TEST

/* vow --wait --timeout: the daemon never answers. */
static void
s_ctl_silent(int fd)
{
	srv_hello(fd);
	srv_drain(fd);
}

/* A daemon error reply. */
static void
s_ctl_notfound(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	srv_error(fd, req->id, AF_ENOTFOUND, "ENOTFOUND", "no vow 77");
	af_msg_free(req);
	srv_drain(fd);
}

/* Answers a get_vow of vow 77 without wait with `state` (value 42 when
 * settled). */
static void
srv_vow77(int fd, Asyncflow__VowStatus state)
{
	Asyncflow__Request *req = srv_expect(fd,
	    ASYNCFLOW__REQUEST__OP_GET_VOW);
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;

	ck_assert_uint_eq(req->get_vow->vow, 77);
	ck_assert(!req->get_vow->wait);
	v.kind_case = ASYNCFLOW__VALUE__KIND_INT_VALUE;
	v.int_value = 42;
	vi.vow = 77;
	vi.state = state;
	if (state != ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING)
		vi.value = &v;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_VOW, &vi);
	af_msg_free(req);
}

/* vow --wait --timeout: pending at first look, then never settled. */
static void
s_ctl_pending(int fd)
{
	Asyncflow__Request *req;

	srv_hello(fd);
	srv_vow77(fd, ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING);
	req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_GET_VOW);
	ck_assert(req->get_vow->wait);
	af_msg_free(req);
	srv_drain(fd);
}

/* Settled already: one look, no wait. */
static void
s_ctl_settled(int fd)
{
	srv_hello(fd);
	srv_vow77(fd, ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED);
	ck_assert_ptr_null(srv_recv(fd));
}

/* A stopped daemon: the connection is there, no answer to hello. */
static void
s_ctl_mute(int fd)
{
	srv_drain(fd);
}

START_TEST(test_ctl_errors)
{
	const char *wait[] = { "vow", "77", "--wait", "--timeout", "0.2",
		NULL };
	const char *now[] = { "vow", "77", "--wait", "--timeout", "0", NULL };
	const char *get[] = { "vow", "77", NULL };
	struct fake f;
	struct run r;
	int64_t t0, dt;

	NEED_CTL();
	fake_listen(&f, s_ctl_pending);
	t0 = ms_now();
	run_ctl(&r, f.path, wait);
	ck_assert_int_ge(ms_now() - t0, 199);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "not settled within 0.2 s") != NULL, "%s",
	    r.err);

	/* --timeout 0 on a settled vow: its value, not a timeout. */
	fake_listen(&f, s_ctl_settled);
	run_ctl(&r, f.path, now);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "{\"vow\":77,\"state\":\"fulfilled\",\"value\":42}\n");
	/* ... and on a pending one: fails at once. */
	fake_listen(&f, s_ctl_pending);
	run_ctl(&r, f.path, now);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "not settled within 0 s") != NULL, "%s",
	    r.err);

	/* A daemon that does not answer: about the timeout (at least the
	 * second connecting and a first look get), not AF_CONNECT_TIMEOUT_MS. */
	fake_listen(&f, s_ctl_mute);
	t0 = ms_now();
	run_ctl(&r, f.path, wait);
	dt = ms_now() - t0;
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "handshake") != NULL, "%s", r.err);
	ck_assert_int_ge(dt, 199);
	ck_assert_int_lt(dt, 5000);

	fake_listen(&f, s_ctl_notfound);
	run_ctl(&r, f.path, get);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "ENOTFOUND") && strstr(r.err, "no vow 77"),
	    "%s", r.err);

	/* No daemon at all. */
	run_ctl(&r, "/nonexistent-asyncflow/d.sock", get);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "/nonexistent-asyncflow/d.sock") != NULL,
	    "%s", r.err);
}
END_TEST

/* `levels` levels of JSON: nested lists (or records {"a": ...}) around 1. */
static char *
deep_json(int levels, bool records)
{
	size_t n = (size_t)levels * 6 + 2, o = 0;
	char *s = malloc(n);
	int i;

	ck_assert_ptr_nonnull(s);
	for (i = 1; i < levels; i++)
		o += (size_t)snprintf(s + o, n - o, "%s",
		    records ? "{\"a\":" : "[");
	s[o++] = '1';
	for (i = 1; i < levels; i++)
		s[o++] = records ? '}' : ']';
	s[o] = '\0';
	return s;
}

/* The levels of a value the fake daemon received. */
static int
value_levels(const Asyncflow__Value *v)
{
	int n = 1;

	for (;;) {
		if (v->kind_case == ASYNCFLOW__VALUE__KIND_LIST_VALUE)
			v = v->list_value->items[0];
		else if (v->kind_case == ASYNCFLOW__VALUE__KIND_RECORD_VALUE)
			v = v->record_value->fields[0]->value;
		else
			return n;
		n++;
	}
}

/* Values deeper than AF_VALUE_MAX_DEPTH levels are usage errors. */
START_TEST(test_ctl_depth)
{
	const char *args[] = { "start", "echo", NULL, NULL };
	char *j, want[64];
	struct fake f;
	struct run r;
	int records;

	NEED_CTL();
	snprintf(want, sizeof(want), "at most %d levels", AF_VALUE_MAX_DEPTH);
	for (records = 0; records < 2; records++) {
		fake_listen(&f, s_ctl_start);
		args[2] = j = deep_json(AF_VALUE_MAX_DEPTH + 1, records);
		run_ctl(&r, f.path, args);
		free(j);
		ck_assert_msg(r.status == 2, "exit %d: %s", r.status, r.err);
		ck_assert_str_eq(r.out, "");
		ck_assert_msg(strstr(r.err, want) != NULL, "%s", r.err);
		args[2] = j = deep_json(AF_VALUE_MAX_DEPTH, records);
		run_ctl(&r, f.path, args);
		free(j);
		fake_join(&f);
		ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
		ck_assert_int_eq(value_levels(seen->start->args),
		    AF_VALUE_MAX_DEPTH);
		af_msg_free(seen);
		seen = NULL;
	}
}
END_TEST

/*
 * ls and failures in pages: the fake daemon refuses pages of more than 3
 * with AF_ELIMIT (as the daemon does when the answer would be larger than
 * a frame), and, from activation ls_huge_after on, any page.
 */
static uint32_t ls_limits[64];
static size_t nls;
static uint64_t ls_huge_after;
static const char *ls_state;

static void
s_ctl_ls(int fd)
{
	Asyncflow__Request *req;
	Asyncflow__Response r;
	Asyncflow__ActivationList al;
	Asyncflow__ActivationInfo ai[3], *aip[3];
	uint64_t id;
	size_t i;

	srv_hello(fd);
	while ((req = srv_recv(fd)) != NULL) {
		ck_assert_int_eq(req->op_case, ASYNCFLOW__REQUEST__OP_LIST);
		ck_assert_str_eq(req->list->state, ls_state);
		ck_assert_uint_lt(nls, 64);
		ls_limits[nls++] = req->list->limit;
		if (req->list->limit > 3 ||
		    (ls_huge_after != 0 && req->list->after >= ls_huge_after)) {
			srv_error(fd, req->id, AF_ELIMIT, "ELIMIT",
			    "the reply "
			    "would be 20000000 bytes, over the 17825792-byte "
			    "frame limit (list with `after` and `limit`)");
			af_msg_free(req);
			continue;
		}
		asyncflow__activation_list__init(&al);
		for (i = 0, id = req->list->after + 1;
		     i < req->list->limit && id <= 7; i++, id++) {
			asyncflow__activation_info__init(&ai[i]);
			ai[i].id = id;
			ai[i].flow = (char *)"f";
			ai[i].state = (char *)"Failed";
			ai[i].failure = (char *)"x";
			aip[i] = &ai[i];
		}
		al.n_activations = i;
		al.activations = aip;
		asyncflow__response__init(&r);
		r.id = req->id;
		r.result_case = ASYNCFLOW__RESPONSE__RESULT_LIST;
		r.list = &al;
		srv_respond(fd, &r);
		af_msg_free(req);
	}
}

START_TEST(test_ctl_ls_pages)
{
	static const uint32_t want[] = {
		1000, 500, 250, 125, 62, 31, 15, 7, 3, /* ids 1-3 */
		6, 3,                                  /* ids 4-6 */
		6, 3,                                  /* id 7: done */
	};
	const char *ls[] = { "ls", "--state", "Failed", NULL };
	const char *failures[] = { "failures", NULL };
	const char *const *cmds[2] = { ls, failures };
	const char *first = "[{\"activation\":1,\"flow\":\"f\",\"state\":"
			    "\"Failed\",\"args\":null,";
	const char *p;
	struct fake f;
	struct run r;
	size_t i;
	int k, n;

	NEED_CTL();
	ls_state = "Failed";
	for (k = 0; k < 2; k++) {
		nls = 0;
		ls_huge_after = 0;
		fake_listen(&f, s_ctl_ls);
		run_ctl(&r, f.path, cmds[k]);
		fake_join(&f);
		ck_assert_msg(r.status == 0, "%d: exit %d: %s", k, r.status,
		    r.err);
		ck_assert_uint_eq(nls, sizeof(want) / sizeof(want[0]));
		for (i = 0; i < nls; i++)
			ck_assert_uint_eq(ls_limits[i], want[i]);
		ck_assert_msg(strncmp(r.out, first, strlen(first)) == 0, "%s",
		    r.out);
		for (n = 0, p = r.out;
		     (p = strstr(p, "\"activation\":")) != NULL; p++)
			n++;
		ck_assert_int_eq(n, 7);
		ck_assert_msg(strstr(r.out, "\"activation\":7,") != NULL &&
			strstr(r.out, "\"failure\":\"x\"") != NULL,
		    "%s", r.out);
	}

	/* An activation too large even alone. */
	nls = 0;
	ls_huge_after = 3;
	fake_listen(&f, s_ctl_ls);
	run_ctl(&r, f.path, ls);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "activation after 3 is too large") !=
		    NULL &&
		strstr(r.err, "the reply would be") != NULL,
	    "%s", r.err);
	ck_assert_uint_eq(ls_limits[nls - 1], 1);

	/* ls without --state asks for every state. */
	nls = 0;
	ls_huge_after = 0;
	ls_state = "";
	fake_listen(&f, s_ctl_ls);
	run_ctl(&r, f.path, (const char *const[]){ "ls", NULL });
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
}
END_TEST

/* Usage errors exit 2, send nothing (the fake daemon sees no connection),
 * and name the argument; --help exits 0 on stdout. */
/* asyncflowctl says more on stderr than a pipe holds before it exits (an
 * unknown command of 100,000 bytes, quoted): run_ctl reads stdout and
 * stderr together, so neither side waits for the other. */
START_TEST(test_ctl_stderr_first)
{
	enum { LONG = 100000 };
	const char *args[2];
	struct run r;
	char *name = malloc(LONG + 1);

	NEED_CTL();
	ck_assert_ptr_nonnull(name);
	memset(name, 'x', LONG);
	name[LONG] = '\0';
	args[0] = name;
	args[1] = NULL;
	run_ctl(&r, NULL, args);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strncmp(r.err, "asyncflowctl: unknown command \"xxx",
			  34) == 0,
	    "%.80s", r.err);
	ck_assert_uint_eq(strlen(r.err), sizeof(r.err) - 1);
	free(name);
}
END_TEST

START_TEST(test_ctl_usage)
{
	static const char *const bad[][8] = {
		{ NULL },
		{ "frob", NULL },
		{ "start", NULL },
		{ "start", "echo", "{\"a\":", NULL },
		{ "start", "echo", "{\"a\": 1, \"a\": 2}", NULL },
		{ "start", "echo", "{\"@x\": 1}", NULL },
		{ "start", "echo", "{\"@vow\": 1, \"b\": 2}", NULL },
		{ "start", "echo", "{\"@bytes\": \"abc\"}", NULL },
		{ "start", "echo", "{\"@vow\": -1}", NULL },
		{ "start", "echo", "{\"@error\": {\"name\": 1}}", NULL },
		{ "start", "echo", "1", "2", NULL },
		{ "start", "echo", "--bogus", NULL },
		{ "settle", "1", "2", NULL },
		{ "settle", "1", "--resolver", "00", "2", NULL },
		{ "settle", "x", "--resolver",
		    "000102030405060708090a0b0c0d0eff", "2", NULL },
		{ "settle", "1", "--resolver",
		    "000102030405060708090a0b0c0d0eff", NULL },
		{ "vow", NULL },
		{ "vow", "0", NULL },
		{ "vow", "1", "--timeout", "soon", NULL },
		{ "vow", "1", "--timeout", NULL },
		{ "ls", "--state", "Sleepy", NULL },
		{ "show", NULL },
		{ "show", "-3", NULL },
		{ "journal", "1", "2", NULL },
		{ "wake", "abc", NULL },
		{ "stats", "extra", NULL },
		{ "serve", NULL },
		{ "serve", "bank", NULL },
		{ "serve", "bank", "--", NULL },
		{ "serve", "", "--", "cat", NULL },
		{ "serve", "bank", "--bogus", "--", "cat", NULL },
		{ "serve", "bank", "more", "--", "cat", NULL },
	};
	static const char *const help[][3] = {
		{ "--help", NULL },
		{ "-h", NULL },
		{ "help", NULL },
		{ "mkvow", "--help", NULL },
		{ "start", "--help", NULL },
		{ "settle", "--help", NULL },
		{ "vow", "--help", NULL },
		{ "ls", "--help", NULL },
		{ "show", "--help", NULL },
		{ "journal", "--help", NULL },
		{ "failures", "--help", NULL },
		{ "wake", "--help", NULL },
		{ "stats", "--help", NULL },
		{ "serve", "--help", NULL },
	};
	struct fake f;
	struct pollfd pfd;
	struct run r;
	size_t i;

	NEED_CTL();
	fake_listen(&f, s_ctl_silent);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_ctl(&r, f.path, bad[i]);
		ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
		ck_assert_msg(r.out[0] == '\0', "case %zu: stdout %s", i,
		    r.out);
		ck_assert_msg(strstr(r.err, "asyncflowctl") != NULL,
		    "case %zu: %s", i, r.err);
	}
	/* Bad JSON names its argument. */
	run_ctl(&r, f.path, bad[3]);
	ck_assert_msg(strstr(r.err, "ARGS_JSON") != NULL, "%s", r.err);
	run_ctl(&r, f.path, bad[7]);
	ck_assert_msg(strstr(r.err, "@bytes") != NULL, "%s", r.err);
	/* Nobody connected. */
	pfd.fd = f.listen_fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);

	for (i = 0; i < sizeof(help) / sizeof(help[0]); i++) {
		run_ctl(&r, f.path, help[i]);
		ck_assert_msg(r.status == 0, "help %zu: exit %d", i, r.status);
		ck_assert_msg(strncmp(r.out, "usage: asyncflowctl", 19) == 0,
		    "help %zu: %s", i, r.out);
		ck_assert_str_eq(r.err, "");
	}
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	/* Let the fake daemon go: connect and hang up. */
	{
		af_conn *c;
		char err[256];

		ck_assert_int_eq(af_connect(f.path, &c, err, sizeof(err)),
		    AF_OK);
		af_close(c);
	}
	fake_join(&f);
}
END_TEST

/* ---- Output formats, options anywhere, @FILE, filters (issue 12) ----------------- */

/* A show of activation 31 that waits: coroutine 0 for all of [vow 8
 * (settled), bank.withdraw's result vow 9 (a server connected)], coroutine
 * 1 for timer vow 10; with its times and last incarnation. Twice: the
 * test runs asyncflowctl twice on one listening socket. */
static void
s_ctl_show_blocked_once(int fd)
{
	Asyncflow__ActivationInfo ai = ASYNCFLOW__ACTIVATION_INFO__INIT;
	Asyncflow__Blocked b[2], *bp[2] = { &b[0], &b[1] };
	Asyncflow__BlockedVow v[3], *v0[2] = { &v[0], &v[1] },
				    *v1[1] = { &v[2] };
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT;
	uint64_t waiting[3] = { 8, 9, 10 };
	int i;

	for (i = 0; i < 2; i++)
		asyncflow__blocked__init(&b[i]);
	for (i = 0; i < 3; i++)
		asyncflow__blocked_vow__init(&v[i]);
	v[0].vow = 8;
	v[0].kind = (char *)"vow";
	v[0].settled = 1;
	v[1].vow = 9;
	v[1].kind = (char *)"send";
	v[1].object = (char *)"bank";
	v[1].method = (char *)"withdraw";
	v[1].server_connected = 1;
	v[2].vow = 10;
	v[2].kind = (char *)"timer";
	v[2].due_ms = 1796146594731;
	b[0].coroutine = 0;
	b[0].wait = (char *)"all";
	b[0].n_vows = 2;
	b[0].vows = v0;
	b[1].coroutine = 1;
	b[1].wait = (char *)"await";
	b[1].n_vows = 1;
	b[1].vows = v1;
	args.kind_case = ASYNCFLOW__VALUE__KIND_NULL_VALUE;
	args.null_value = 1;
	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SHOW);
	ai.id = seen->show->activation;
	ai.flow = (char *)"blocker";
	ai.state = (char *)"Running";
	ai.args = &args;
	ai.outcome = 7;
	ai.n_waiting_on = 3;
	ai.waiting_on = waiting;
	ai.journal_length = 4;
	ai.incarnation = 1;
	ai.n_blocked_on = 2;
	ai.blocked_on = bp;
	ai.created_ms = 1796146000000;
	ai.last_progress_ms = 1796146001500;
	ai.last_incarnation = 3;
	srv_reply(fd, seen->id, ASYNCFLOW__RESPONSE__RESULT_SHOW, &ai);
	af_msg_free(seen);
	seen = NULL;
	srv_drain(fd);
}

/* show's new keys in JSON (the default when stdout is a pipe, and -o
 * json), and the same answer as a table; the global options after the
 * command, in both spellings. */
START_TEST(test_ctl_show_explains_json_and_table)
{
	const char *json[] = { "show", "31", "-s", NULL, NULL };
	const char *json2[] = { "show", "--output=json", "31", NULL, NULL };
	const char *table[] = { "show", "31", "-o", "table", NULL };
	static const char want[] =
	    "{\"activation\":31,\"flow\":\"blocker\",\"state\":\"Running\","
	    "\"args\":null,\"outcome\":{\"@vow\":7},\"waiting_on\":[{\"@vow\":8},"
	    "{\"@vow\":9},{\"@vow\":10}],\"journal_length\":4,"
	    "\"incarnation\":1,\"blocked_on\":[{\"coroutine\":0,\"wait\":"
	    "\"all\",\"vows\":[{\"vow\":{\"@vow\":8},\"kind\":\"vow\","
	    "\"settled\":true},{\"vow\":{\"@vow\":9},\"kind\":\"send\","
	    "\"settled\":false,\"object\":\"bank\",\"method\":\"withdraw\","
	    "\"server_connected\":true}]},{\"coroutine\":1,\"wait\":\"await\","
	    "\"vows\":[{\"vow\":{\"@vow\":10},\"kind\":\"timer\",\"settled\":"
	    "false,\"due\":\"2026-12-01T17:36:34.731Z\",\"due_ms\":"
	    "1796146594731}]}],\"created\":\"2026-12-01T17:26:40.000Z\","
	    "\"created_ms\":1796146000000,\"last_progress\":"
	    "\"2026-12-01T17:26:41.500Z\",\"last_progress_ms\":1796146001500,"
	    "\"last_incarnation\":3}\n";
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_show_blocked_once);
	json[3] = f.path;
	run_ctl(&r, NULL, json);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, want);

	fake_listen(&f, s_ctl_show_blocked_once);
	json2[3] = NULL;
	run_ctl(&r, f.path, json2);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, want);

	fake_listen(&f, s_ctl_show_blocked_once);
	run_ctl(&r, f.path, table);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "activation       31\n"
	    "flow             blocker\n"
	    "state            Running\n"
	    "args             null\n"
	    "outcome          vow 7\n"
	    "created          2026-12-01T17:26:40.000Z\n"
	    "last progress    2026-12-01T17:26:41.500Z\n"
	    "incarnation      created by 1, journal last written by 3\n"
	    "journal          4 entries\n"
	    "waiting on       vow 8, vow 9, vow 10\n"
	    "blocked on       coroutine 0: all\n"
	    "                   - vow 8 (settled)\n"
	    "                   - send bank.withdraw vow 9 (a server is "
	    "connected)\n"
	    "                 coroutine 1: await timer vow 10 due "
	    "2026-12-01T17:36:34.731Z\n");
	ck_assert_str_eq(r.err, "");
}
END_TEST

/* ls's filters reach the daemon in ListActivations; -o table names the
 * columns; --limit stops after N even when the daemon has more. */
static void
s_ctl_ls_filtered(int fd)
{
	Asyncflow__ActivationList l = ASYNCFLOW__ACTIVATION_LIST__INIT;
	Asyncflow__ActivationInfo a[2], *ap[2] = { &a[0], &a[1] };
	int i;

	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_LIST);
	for (i = 0; i < 2; i++) {
		asyncflow__activation_info__init(&a[i]);
		a[i].id = 6 + (uint64_t)i;
		a[i].flow = (char *)"nap";
		a[i].state = (char *)"Running";
		a[i].outcome = 20 + (uint64_t)i;
		a[i].journal_length = 2;
		a[i].incarnation = 1;
	}
	a[1].created_ms = 1796146000000;
	l.n_activations = 2;
	l.activations = ap;
	srv_reply(fd, seen->id, ASYNCFLOW__RESPONSE__RESULT_LIST, &l);
	srv_drain(fd);
}

START_TEST(test_ctl_ls_filters_and_table)
{
	const char *args[] = { "ls", "--flow", "nap", "--state", "Running",
		"--limit", "2", "--after", "5", "-o", "table", NULL };
	static const char *const bad[][4] = {
		{ "ls", "--limit", "0", NULL },
		{ "ls", "--limit", "x", NULL },
		{ "ls", "--after", "-1", NULL },
		{ "ls", "--flow", "", NULL },
		{ "ls", "-o", "yaml", NULL },
		{ "-o", NULL },
		{ "show", "1", "--socket", NULL },
	};
	struct fake f;
	struct run r;
	size_t i;

	NEED_CTL();
	fake_listen(&f, s_ctl_ls_filtered);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(seen->list->flow, "nap");
	ck_assert_str_eq(seen->list->state, "Running");
	ck_assert_uint_eq(seen->list->after, 5);
	ck_assert_uint_eq(seen->list->limit, 2);
	af_msg_free(seen);
	seen = NULL;
	ck_assert_str_eq(r.out,
	    "ID  FLOW  STATE    JOURNAL  CREATED                   "
	    "LAST PROGRESS  BLOCKED ON\n"
	    "6   nap   Running  2        -                         "
	    "-              -\n"
	    "7   nap   Running  2        2026-12-01T17:26:40.000Z  "
	    "-              -\n");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_ctl(&r, "/nonexistent-asyncflow/d.sock", bad[i]);
		ck_assert_msg(r.status == 2, "case %zu: exit %d: %s", i,
		    r.status, r.err);
		ck_assert_str_eq(r.out, "");
	}
}
END_TEST

/* JSON arguments from @FILE and from stdin ("-") reach the daemon as
 * values; a missing file, a file that is not JSON and a bare "@" are
 * usage errors (exit 2) naming the file, and nothing is sent. */
START_TEST(test_ctl_json_args_from_file_and_stdin)
{
	const char *dir = testutil_tmpdir();
	char good[600], junk[600], missing[600], atgood[610], atjunk[610],
	    atmissing[610];
	const char *from_file[] = { "start", "echo", atgood, NULL };
	const char *from_stdin[] = { "start", "-s", NULL, "echo", "-", NULL };
	struct fake f;
	struct pollfd pfd;
	struct run r;
	FILE *fp;

	NEED_CTL();
	snprintf(good, sizeof(good), "%s/args.json", dir);
	snprintf(junk, sizeof(junk), "%s/junk.txt", dir);
	snprintf(missing, sizeof(missing), "%s/none.json", dir);
	snprintf(atgood, sizeof(atgood), "@%s", good);
	snprintf(atjunk, sizeof(atjunk), "@%s", junk);
	snprintf(atmissing, sizeof(atmissing), "@%s", missing);
	ck_assert_ptr_nonnull(fp = fopen(good, "w"));
	fputs("{\"b\": [1, 2.5],\n \"a\": \"x\"}\n", fp);
	fclose(fp);
	ck_assert_ptr_nonnull(fp = fopen(junk, "w"));
	fputs("this is not json\n", fp);
	fclose(fp);

	fake_listen(&f, s_ctl_start);
	run_ctl(&r, f.path, from_file);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert(str_is(field(seen->start->args, 0, "a"), "x"));
	ck_assert_uint_eq(field(seen->start->args, 1, "b")->list_value->n_items,
	    2);
	af_msg_free(seen);
	seen = NULL;

	fake_listen(&f, s_ctl_start);
	from_stdin[2] = f.path;
	ctl_stdin = good;
	run_ctl(&r, NULL, from_stdin);
	ctl_stdin = NULL;
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert(str_is(field(seen->start->args, 0, "a"), "x"));
	af_msg_free(seen);
	seen = NULL;

	fake_listen(&f, s_ctl_silent);
	from_file[2] = atmissing;
	run_ctl(&r, f.path, from_file);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, missing) != NULL &&
		strstr(r.err, "No such file") != NULL,
	    "%s", r.err);
	from_file[2] = atjunk;
	run_ctl(&r, f.path, from_file);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, junk) != NULL &&
		strstr(r.err, "not valid JSON") != NULL,
	    "%s", r.err);
	from_file[2] = "@";
	run_ctl(&r, f.path, from_file);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "file name") != NULL, "%s", r.err);
	/* Nobody connected. */
	pfd.fd = f.listen_fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	{
		af_conn *c;
		char err[256];

		ck_assert_int_eq(af_connect(f.path, &c, err, sizeof(err)),
		    AF_OK);
		af_close(c);
	}
	fake_join(&f);
	testutil_rmtree(dir);
}
END_TEST

static void
s_ctl_modules(int fd)
{
	Asyncflow__ModulesReply mr = ASYNCFLOW__MODULES_REPLY__INIT;
	char *flows[2] = { (char *)"echo", (char *)"nap" };
	char *objs[1] = { (char *)"clock" };

	srv_hello(fd);
	seen = srv_expect(fd, ASYNCFLOW__REQUEST__OP_MODULES);
	mr.n_flows = 2;
	mr.flows = flows;
	mr.n_objects = 1;
	mr.objects = objs;
	srv_reply(fd, seen->id, ASYNCFLOW__RESPONSE__RESULT_MODULES, &mr);
	af_msg_free(seen);
	seen = NULL;
	srv_drain(fd);
}

START_TEST(test_ctl_modules)
{
	const char *json[] = { "modules", NULL };
	const char *table[] = { "-o", "table", "modules", NULL };
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_modules);
	run_ctl(&r, f.path, json);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "{\"flows\":[\"echo\",\"nap\"],\"objects\":[\"clock\"]}\n");
	fake_listen(&f, s_ctl_modules);
	run_ctl(&r, f.path, table);
	fake_join(&f);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out,
	    "KIND    NAME\nflow    echo\nflow    nap\nobject  clock\n");
}
END_TEST

/* ---- asyncflowctl serve ----------------------------------------------------------- */

/* The settlements the fake daemon received, in order. */
static Asyncflow__Request *settles[16];
static size_t nsettles;

/* Takes the next settle and answers it (its value echoed); with code, an
 * error reply instead. */
static void
srv_take_settle(int fd, int code)
{
	Asyncflow__Request *req = srv_expect(fd, ASYNCFLOW__REQUEST__OP_SETTLE);
	Asyncflow__VowInfo vi = ASYNCFLOW__VOW_INFO__INIT;

	ck_assert_uint_lt(nsettles, 16);
	settles[nsettles++] = req;
	if (code != 0) {
		srv_error(fd, req->id, code, af_errname(code),
		    "settled before");
		return;
	}
	vi.vow = req->settle->vow;
	vi.state = req->settle->reject ?
	    ASYNCFLOW__VOW_STATUS__VOW_STATUS_REJECTED :
	    ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED;
	vi.value = req->settle->value;
	srv_reply(fd, req->id, ASYNCFLOW__RESPONSE__RESULT_VOW, &vi);
}

static void
free_settles(void)
{
	while (nsettles > 0)
		af_msg_free(settles[--nsettles]);
}

/* The settlement of vow `vow`, checked: resolver fake_res, reject or not. */
static const Asyncflow__Value *
settled(size_t i, uint64_t vow, bool reject)
{
	const Asyncflow__SettleVow *s;

	ck_assert_uint_lt(i, nsettles);
	s = settles[i]->settle;
	ck_assert_uint_eq(s->vow, vow);
	ck_assert_uint_eq(s->resolver.len, AF_RESOLVER_LEN);
	ck_assert_mem_eq(s->resolver.data, fake_res, AF_RESOLVER_LEN);
	ck_assert_msg(s->reject == reject, "vow %llu: reject %d",
	    (unsigned long long)vow, (int)s->reject);
	ck_assert_ptr_nonnull(s->value);
	return s->value;
}

/* A rejection's error, checked for its name. */
static const char *
rejected(size_t i, uint64_t vow, const char *name)
{
	const Asyncflow__Value *v = settled(i, vow, true);

	ck_assert_int_eq(v->kind_case, ASYNCFLOW__VALUE__KIND_ERROR_VALUE);
	ck_assert_str_eq(v->error_value->name, name);
	return v->error_value->message;
}

/* One CMD answering per method: see test_ctl_serve. */
static const char serve_script[] =
    "in=$(cat)\n"
    "case $in in\n"
    "*'\"method\":\"answer\"'*) echo 42 ;;\n"
    "*'\"method\":\"fail\"'*) echo boom >&2; exit 3 ;;\n"
    "*'\"method\":\"garbage\"'*) echo 'this is not json' ;;\n"
    "*'\"method\":\"empty\"'*) ;;\n"
    "*'\"method\":\"badtag\"'*) echo '{\"@x\": 1}' ;;\n"
    "*'\"method\":\"silent\"'*) exit 4 ;;\n"
    "*'\"method\":\"killed\"'*) kill -9 $$ ;;\n"
    "*'\"method\":\"badutf8\"'*) printf 'bad \\377 byte\\n\\n' >&2; exit 1 ;;\n"
    "*) echo \"unexpected: $in\" >&2; exit 99 ;;\n"
    "esac\n";

static void
s_ctl_serve(int fd)
{
	int i;

	srv_serve_start(fd, "bank", 2);
	/* Two at once: answered in order, one at a time. */
	srv_invocation(fd, 101, "answer", transfer_args(), AF_RESOLVER_LEN);
	srv_invocation(fd, 102, "fail", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	srv_take_settle(fd, 0);
	/* Events that are not invocations are skipped; an invocation that
	 * cannot be answered (no resolver) too. */
	srv_event(fd, 5, 5);
	srv_invocation(fd, 103, "answer", NULL, 3);
	srv_invocation(fd, 104, "garbage", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	/* Already settled: logged, and serving goes on. */
	srv_invocation(fd, 105, "answer", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, AF_ESETTLED);
	for (i = 0; i < 4; i++) {
		static const char *const m[] = {
			"empty",
			"badtag",
			"silent",
			"badutf8",
		};

		srv_invocation(fd, 106 + (uint64_t)i, m[i], NULL,
		    AF_RESOLVER_LEN);
		srv_take_settle(fd, 0);
	}
	/* Then the daemon goes away. */
}

START_TEST(test_ctl_serve)
{
	const char *args[] = {
		"serve",
		"--no-reconnect",
		"bank",
		"--",
		"sh",
		"-c",
		serve_script,
		NULL,
	};
	const char *m;
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	ck_assert_uint_eq(nsettles, 8);

	/* exit 0 and a JSON value: fulfilled with it */
	ck_assert_int_eq(settled(0, 101, false)->kind_case,
	    ASYNCFLOW__VALUE__KIND_INT_VALUE);
	ck_assert_int_eq(settled(0, 101, false)->int_value, 42);
	/* non-zero exit: rejected with its stderr, less the newline */
	ck_assert_str_eq(rejected(1, 102, "Error"), "boom");
	/* 103 had no resolver: skipped */
	m = rejected(2, 104, "BadResult");
	ck_assert_msg(strstr(m, "not one JSON value") != NULL &&
		strstr(m, "this is not json") != NULL,
	    "%s", m);
	ck_assert_int_eq(settled(3, 105, false)->int_value, 42);
	m = rejected(4, 106, "BadResult");
	ck_assert_msg(strstr(m, "printed nothing") != NULL, "%s", m);
	m = rejected(5, 107, "BadResult");
	ck_assert_msg(strstr(m, "unknown tag \"@x\"") != NULL, "%s", m);
	ck_assert_str_eq(rejected(6, 108, "Error"), "sh exited with status 4");
	/* A message is valid UTF-8 whatever CMD wrote. */
	ck_assert_str_eq(rejected(7, 109, "Error"), "bad \xef\xbf\xbd byte");
	free_settles();

	/* One line per invocation on stderr, CMD's stderr passed on. */
	ck_assert_msg(strstr(r.err, "serving bank") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "bank.answer (vow 101): fulfilled") != NULL,
	    "%s", r.err);
	ck_assert_msg(strstr(r.err,
			  "bank.fail (vow 102): rejected: Error: boom") != NULL,
	    "%s", r.err);
	ck_assert_msg(strstr(r.err, "boom\n") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "(vow 103): the daemon sent no resolver") !=
		NULL,
	    "%s", r.err);
	ck_assert_msg(strstr(r.err, "(vow 105): already answered") != NULL,
	    "%s", r.err);
	ck_assert_msg(strstr(r.err, "lost the connection") != NULL, "%s",
	    r.err);
}
END_TEST

/* The JSON on CMD's stdin, echoed back by cat as the result. */
static void
s_ctl_serve_cat(int fd)
{
	srv_serve_start(fd, "bank", 0);
	srv_invocation(fd, 201, "transfer", transfer_args(), AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
}

START_TEST(test_ctl_serve_stdin)
{
	const char *args[] = { "serve", "-q", "--no-reconnect", "bank", "--",
		"cat", NULL };
	const Asyncflow__Value *v, *a, *res;
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve_cat);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	/* -q: no line per invocation */
	ck_assert_msg(strstr(r.err, "fulfilled") == NULL, "%s", r.err);
	ck_assert_uint_eq(nsettles, 1);
	v = settled(0, 201, false);
	/* {"method", "args", "vow"} and the extras, keys sorted bytewise. */
	ck_assert_int_eq(v->kind_case, ASYNCFLOW__VALUE__KIND_RECORD_VALUE);
	ck_assert_uint_eq(v->record_value->n_fields, 5);
	ck_assert_int_eq(field(v, 0, "activation")->int_value, 7);
	a = field(v, 1, "args");
	ck_assert_uint_eq(a->record_value->n_fields, 2);
	ck_assert_int_eq(field(a, 0, "amount")->int_value, 5);
	ck_assert_int_eq(field(a, 1, "right")->kind_case,
	    ASYNCFLOW__VALUE__KIND_RESOLVER_ID);
	ck_assert_uint_eq(field(a, 1, "right")->resolver_id, 9);
	ck_assert(str_is(field(v, 2, "method"), "transfer"));
	res = field(v, 3, "resolvers");
	ck_assert_uint_eq(res->record_value->n_fields, 1);
	ck_assert(
	    str_is(field(res, 0, "9"), "deadbeef000000000000000000000042"));
	ck_assert_int_eq(field(v, 4, "vow")->kind_case,
	    ASYNCFLOW__VALUE__KIND_INT_VALUE);
	ck_assert_int_eq(field(v, 4, "vow")->int_value, 201);
	free_settles();
}
END_TEST

/*
 * A CMD that never reads its stdin and writes much to stdout first: the
 * invocation's JSON (300 kB) and CMD's output (300 kB) are both more than
 * a pipe holds, so writing the one before reading the other would hang.
 */
static void
s_ctl_serve_big(int fd)
{
	Asyncflow__Value big = ASYNCFLOW__VALUE__INIT;
	char *s = malloc(300001);

	ck_assert_ptr_nonnull(s);
	memset(s, 'x', 300000);
	s[300000] = '\0';
	af_value_set_string(&big, s, 300000);
	srv_serve_start(fd, "bank", 0);
	srv_invocation(fd, 301, "big", &big, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	srv_invocation(fd, 302, "small", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	free(s);
}

START_TEST(test_ctl_serve_no_deadlock)
{
	const char *args[] = {
		"serve",
		"--no-reconnect",
		"bank",
		"--",
		"sh",
		"-c",
		"head -c 300000 /dev/zero | tr '\\000' ' '; echo 7",
		NULL,
	};
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve_big);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_uint_eq(nsettles, 2);
	ck_assert_int_eq(settled(0, 301, false)->int_value, 7);
	ck_assert_int_eq(settled(1, 302, false)->int_value, 7);
	free_settles();
}
END_TEST

/* A result deeper than a value may be is a BadResult, not an exit (nor a
 * frame the daemon would refuse, closing the connection). */
static void
s_ctl_serve_deep(int fd)
{
	srv_serve_start(fd, "bank", 0);
	srv_invocation(fd, 501, "toodeep", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
	srv_invocation(fd, 502, "deepest", NULL, AF_RESOLVER_LEN);
	srv_take_settle(fd, 0);
}

START_TEST(test_ctl_serve_depth)
{
	/* Prints AF_VALUE_MAX_DEPTH + 1 (toodeep) or AF_VALUE_MAX_DEPTH
	 * levels: nested lists around 1. */
	char script[256], want[64];
	const char *args[] = {
		"serve",
		"--no-reconnect",
		"bank",
		"--",
		"sh",
		"-c",
		script,
		NULL,
	};
	const char *m;
	struct fake f;
	struct run r;

	snprintf(script, sizeof(script),
	    "in=$(cat); case $in in *toodeep*) n=%d ;; *) n=%d ;; esac; "
	    "s=1; while [ $n -gt 0 ]; do s=\"[$s]\"; n=$((n - 1)); done; "
	    "echo \"$s\"",
	    AF_VALUE_MAX_DEPTH, AF_VALUE_MAX_DEPTH - 1);
	snprintf(want, sizeof(want), "at most %d levels", AF_VALUE_MAX_DEPTH);
	NEED_CTL();
	fake_listen(&f, s_ctl_serve_deep);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_uint_eq(nsettles, 2);
	m = rejected(0, 501, "BadResult");
	ck_assert_msg(strstr(m, want) != NULL, "%s", m);
	ck_assert_int_eq(value_levels(settled(1, 502, false)),
	    AF_VALUE_MAX_DEPTH);
	free_settles();
	ck_assert_msg(strstr(r.err, "lost the connection") != NULL, "%s",
	    r.err);
}
END_TEST

/* CMD killed by a signal gave no answer: nothing is settled, and serve
 * drops the connection so that the daemon hands the invocation out again
 * (here, --no-reconnect, it exits then; see tests/e2e/serve-kill.sh for
 * the redelivery). */
static void
s_ctl_serve_killed(int fd)
{
	srv_serve_start(fd, "bank", 1);
	srv_invocation(fd, 601, "killed", NULL, AF_RESOLVER_LEN);
	/* Nothing comes but the end of the connection. */
	ck_assert_ptr_null(srv_recv(fd));
}

START_TEST(test_ctl_serve_killed)
{
	const char *args[] = {
		"serve",
		"--no-reconnect",
		"bank",
		"--",
		"sh",
		"-c",
		serve_script,
		NULL,
	};
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve_killed);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err,
			  "bank.killed (vow 601): no answer: sh "
			  "killed by signal 9") != NULL,
	    "%s", r.err);
}
END_TEST

/* A CMD that cannot be run: exit 1, the invocation left unanswered. */
static void
s_ctl_serve_nocmd(int fd)
{
	srv_serve_start(fd, "bank", 1);
	srv_invocation(fd, 401, "answer", NULL, AF_RESOLVER_LEN);
	/* Nothing comes but the end of the connection. */
	ck_assert_ptr_null(srv_recv(fd));
}

START_TEST(test_ctl_serve_nocmd)
{
	const char *args[] = {
		"serve",
		"bank",
		"--",
		"/nonexistent-asyncflow/cmd",
		NULL,
	};
	struct fake f;
	struct run r;

	NEED_CTL();
	fake_listen(&f, s_ctl_serve_nocmd);
	run_ctl(&r, f.path, args);
	fake_join(&f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "cannot run /nonexistent-asyncflow/cmd") !=
		NULL,
	    "%s", r.err);
}
END_TEST

/* ---- Suite ------------------------------------------------------------------------ */

static Suite *
ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *cli = tcase_create("asyncflowctl");

	tcase_set_timeout(cli, 60);
	tcase_add_test(cli, test_ctl_start_json_to_value);
	tcase_add_test(cli, test_ctl_show_value_to_json);
	tcase_add_test(cli, test_ctl_journal);
	tcase_add_test(cli, test_ctl_mkvow_settle);
	tcase_add_test(cli, test_ctl_errors);
	tcase_add_test(cli, test_ctl_usage);
	tcase_add_test(cli, test_ctl_stderr_first);
	tcase_add_test(cli, test_ctl_depth);
	tcase_add_test(cli, test_ctl_ls_pages);
	tcase_add_test(cli, test_ctl_show_explains_json_and_table);
	tcase_add_test(cli, test_ctl_ls_filters_and_table);
	tcase_add_test(cli, test_ctl_json_args_from_file_and_stdin);
	tcase_add_test(cli, test_ctl_modules);
	tcase_add_test(cli, test_ctl_serve);
	tcase_add_test(cli, test_ctl_serve_stdin);
	tcase_add_test(cli, test_ctl_serve_no_deadlock);
	tcase_add_test(cli, test_ctl_serve_nocmd);
	tcase_add_test(cli, test_ctl_serve_killed);
	tcase_add_test(cli, test_ctl_serve_depth);
	suite_add_tcase(s, cli);
	return s;
}

TEST_MAIN(ctl_suite)
