/*
 * checker.c: the upgrade checker process (see checker.h). Two levels, so
 * that nothing the new code does can take the check down with it:
 *
 *   the supervisor (checker_main) loads no module and opens no store; it
 *   forks a worker, collects the verdicts it writes to a pipe, and when
 *   the worker dies of a signal (the new code crashed) or gives up on a
 *   runaway turn, records that verdict against the activation the worker
 *   announced in shared memory before replaying it, and forks the next
 *   worker to go on after it;
 *
 *   the worker loads the new modules (from the paths given, not copied:
 *   nothing is written), opens the store as one read-only snapshot and
 *   replays the unfinished activations one at a time in the engine's
 *   check mode, freeing each after its verdict. A thread watches its turns
 *   as the daemon's watchdog does, against the same turn limit.
 *
 * Not here: the verdict of one replay (engine_check.c), module loading
 * (modules.c), the daemon's side (api_ops.c, server.c).
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "builtin_flows.h"
#include "checker.h"
#include "engine.h"
#include "journal.h"
#include "log.h"
#include "modules.h"
#include "registry.h"
#include "store.h"
#include "value.h"

#define LIST_CHUNK     1024
#define WORKER_ERROR   10 /* the worker's exit status: see sh->err */
#define WORKER_RUNAWAY 11 /* a turn ran past the limit */
#define DEFAULT_LIMIT  2000

/* What the worker tells the supervisor without a pipe (it may die at any
 * instruction): the activation it is replaying, and its totals. */
struct shared {
	volatile uint64_t act;  /* being replayed now; 0: none */
	volatile uint64_t last; /* the last one with a verdict */
	volatile uint64_t nacts, entries;
	volatile uint64_t read; /* of act: the last entry read + 1; 0: none */
	volatile int done;      /* every activation had its verdict */
	struct engine_check_result r; /* of act: flow known before replay */
	int err_code;
	char err[512];
};

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
json_str(struct buf *b, const char *s)
{
	value_json_string(b, s, strlen(s));
}

/* One failing item, as the JSON the issue spells. */
static void
failing_item(struct buf *b, uint64_t act, const char *flow, const char *verdict,
    const char *diag, bool has_index, uint64_t index)
{
	buf_printf(b,
	    "{\"activation\": %llu, \"flow\": ", (unsigned long long)act);
	json_str(b, flow);
	buf_puts(b, ", \"verdict\": ");
	json_str(b, verdict);
	buf_puts(b, ", \"diagnostic\": ");
	json_str(b, diag);
	if (has_index)
		buf_printf(b, ", \"index\": %llu", (unsigned long long)index);
	buf_putc(b, '}');
}

/* An error: one line "error CODE MESSAGE" instead of the JSON. */
static void
print_error(int code, const char *msg)
{
	printf("error %d %s\n", code, msg);
	fflush(stdout);
}

/* ---- The worker's turn watch ---------------------------------------------- */

static unsigned watch_limit_ms;

static void *
watch_main(void *arg)
{
	uint64_t seen = 0, seq;
	struct timespec nap;
	double since = 0;

	(void)arg;
	nap.tv_sec = 0;
	nap.tv_nsec = (long)(watch_limit_ms < 80 ? watch_limit_ms : 80) *
	    1000000L / 8;
	if (nap.tv_nsec == 0)
		nap.tv_nsec = 1000000L;
	for (;;) {
		nanosleep(&nap, NULL);
		seq = __atomic_load_n(&engine_turn_seq, __ATOMIC_RELAXED);
		if ((seq & 1) == 0 || seq != seen) {
			seen = seq;
			since = mono_s();
			continue;
		}
		if ((mono_s() - since) * 1000 >= watch_limit_ms)
			_exit(WORKER_RUNAWAY); /* sh->act names it */
	}
	return NULL;
}

/* ---- The worker ------------------------------------------------------------ */

static _Noreturn void
worker_fail(struct shared *sh, int code, const char *msg)
{
	sh->err_code = code;
	snprintf(sh->err, sizeof(sh->err), "%s", msg);
	_exit(WORKER_ERROR);
}

/* What the guest did at each entry, for `replay`: the entries it took as
 * logged, then the one where it did something else. */
static void
list_entries(struct store *s, uint64_t act, const struct engine_check_result *r,
    struct buf *b)
{
	struct jentry je;
	struct jlog log;
	struct buf t;
	uint64_t end, i;

	memset(&log, 0, sizeof(log));
	buf_puts(b, ", \"entries\": [");
	buf_init(&t);
	if (journal_load(s, act, r->journal_length, &log) != AF_OK) {
		buf_puts(b, "]");
		return;
	}
	end = r->verdict == EV_OK ? log.n : r->index + 1;
	for (i = 0; i < end && i < log.n; i++) {
		buf_reset(&t);
		if (journal_entry_parse(log.data + log.off[i],
			log.off[i + 1] - log.off[i], &je) == AF_OK)
			journal_entry_text(&t, &je);
		else
			buf_puts(&t, "(undecodable)");
		buf_putc(&t, '\0');
		buf_printf(b, "%s{\"index\": %llu, \"entry\": ", i ? ", " : "",
		    (unsigned long long)i);
		json_str(b, t.p ? (char *)t.p : "");
		buf_puts(b, ", \"guest\": ");
		if (r->verdict == EV_OK || i < r->index)
			json_str(b, "replayed: the same");
		else if (r->verdict == EV_FINISHED_EARLY)
			json_str(b, "returned");
		else
			json_str(b, r->diagnostic);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
	buf_release(&t);
	jlog_release(&log);
}

static _Noreturn void
worker(const struct checker_opts *o, struct shared *sh, int wfd, uint64_t after)
{
	struct engine_opts eo;
	struct store_opts so;
	struct af_registry *reg;
	struct engine *e;
	struct store *s;
	uint64_t ids[LIST_CHUNK];
	struct buf b;
	pthread_t th;
	char err[512];
	size_t n, i;
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if ((reg = registry_new()) == NULL)
		worker_fail(sh, AF_ENOMEM, "out of memory");
	registry_set_owner(reg, "built-in");
	if ((rc = builtin_flows_register(reg)) != AF_OK)
		worker_fail(sh, rc, "built-in flows");
	if ((rc = modules_load_files(o->modules, o->nmodules, reg, err,
		 sizeof(err))) != AF_OK)
		worker_fail(sh, rc, err);
	memset(&so, 0, sizeof(so));
	so.map_size = o->map_size;
	if ((rc = store_open_lmdb_snapshot(o->dir, &so, &s, err,
		 sizeof(err))) != AF_OK)
		worker_fail(sh, rc, err);
	memset(&eo, 0, sizeof(eo));
	eo.stack_size = o->stack_size;
	if ((rc = engine_check_open(s, reg, &eo, &e, err, sizeof(err))) !=
	    AF_OK)
		worker_fail(sh, rc, err);
	watch_limit_ms = o->turn_limit_ms ? o->turn_limit_ms : DEFAULT_LIMIT;
	engine_replay_read = &sh->read;
	if (pthread_create(&th, NULL, watch_main, NULL) != 0)
		worker_fail(sh, AF_ENOMEM, "cannot start the turn watch");
	buf_init(&b);
	for (;;) {
		if (o->replay != 0) {
			ids[0] = o->replay;
			n = after < o->replay ? 1 : 0;
		} else if ((rc = engine_check_list(e, after, ids, LIST_CHUNK,
				&n)) != AF_OK)
			worker_fail(sh, rc, store_errmsg(s));
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			memset(&sh->r, 0, sizeof(sh->r));
			sh->read = 0;
			sh->act = ids[i];
			rc = engine_check_one(e, ids[i], &sh->r);
			if (rc == AF_ENOTFOUND || rc == AF_ESTATE) {
				if (o->replay != 0)
					worker_fail(sh, rc,
					    rc == AF_ESTATE ?
						"the activation is Done: "
						"nothing to replay" :
						"no such activation");
				continue; /* Done since the listing */
			}
			if (rc != AF_OK)
				worker_fail(sh, rc, store_errmsg(s));
			buf_reset(&b);
			if (o->replay != 0) {
				buf_printf(&b,
				    "{\"activation\": %llu, "
				    "\"flow\": ",
				    (unsigned long long)ids[i]);
				json_str(&b, sh->r.flow);
				buf_puts(&b, ", \"verdict\": ");
				json_str(&b,
				    engine_verdict_name(sh->r.verdict));
				if (sh->r.verdict != EV_OK) {
					buf_puts(&b, ", \"diagnostic\": ");
					json_str(&b, sh->r.diagnostic);
				}
				if (sh->r.verdict == EV_DIVERGED ||
				    sh->r.verdict == EV_FINISHED_EARLY)
					buf_printf(&b, ", \"index\": %llu",
					    (unsigned long long)sh->r.index);
				list_entries(s, ids[i], &sh->r, &b);
				buf_puts(&b, "}\n");
			} else if (sh->r.verdict != EV_OK) {
				failing_item(&b, ids[i], sh->r.flow,
				    engine_verdict_name(sh->r.verdict),
				    sh->r.diagnostic,
				    sh->r.verdict == EV_DIVERGED ||
					sh->r.verdict == EV_FINISHED_EARLY,
				    sh->r.index);
				buf_putc(&b, '\n');
			}
			if (b.err)
				worker_fail(sh, AF_ENOMEM, "out of memory");
			for (size_t off = 0; off < b.len;) {
				ssize_t w = write(wfd, b.p + off, b.len - off);

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					_exit(WORKER_ERROR);
				off += (size_t)w;
			}
			sh->nacts++;
			sh->entries += sh->r.entries;
			sh->last = ids[i];
			sh->act = 0;
		}
		after = ids[n - 1];
	}
	sh->done = 1;
	_exit(0);
}

/* ---- The supervisor ------------------------------------------------------- */

/* Read what is there from fd into out; 0 at EOF, 1 if more may come. */
static int
drain(int fd, struct buf *out)
{
	char chunk[65536];
	ssize_t r;

	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r > 0) {
			buf_put(out, chunk, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		return r == 0 ? 0 : 1;
	}
}

int
checker_main(const struct checker_opts *o)
{
	struct shared *sh;
	struct buf items, out, msg;
	uint64_t after = 0, nfailing = 0;
	double t0 = mono_s();
	int p[2], status, code;
	size_t i;
	pid_t pid;
	bool first, ran_away;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (o->replay == 0 && o->nmodules == 0) {
		print_error(AF_EINVAL, "upgrade: no --module given");
		return CHECKER_ERROR;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		print_error(AF_ENOMEM, "mmap: out of memory");
		return CHECKER_ERROR;
	}
	memset(sh, 0, sizeof(*sh));
	buf_init(&items);
	buf_init(&out);
	buf_init(&msg);
	for (;;) {
		if (pipe2(p, O_CLOEXEC) != 0) {
			print_error(AF_ENOMEM, strerror(errno));
			return CHECKER_ERROR;
		}
		sh->act = 0;
		fflush(stdout);
		if ((pid = fork()) < 0) {
			print_error(AF_ENOMEM, strerror(errno));
			return CHECKER_ERROR;
		}
		if (pid == 0) {
			close(p[0]);
			worker(o, sh, p[1], after);
		}
		close(p[1]);
		/* Everything it writes until it ends. */
		while (drain(p[0], &items) != 0)
			;
		close(p[0]);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sh->done)
			break;
		if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_ERROR) {
			print_error(sh->err_code ? sh->err_code : AF_ESTORE,
			    sh->err[0] ? sh->err : "the checker failed");
			return CHECKER_ERROR;
		}
		if (sh->act == 0) {
			buf_reset(&msg);
			buf_printf(&msg,
			    "the checker died outside any activation (%s %d)%s",
			    WIFSIGNALED(status) ? "signal" : "exit status",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
						  WEXITSTATUS(status),
			    sh->nacts == 0 ? ": a module's init crashed?" : "");
			buf_putc(&msg, '\0');
			print_error(AF_EINVAL,
			    msg.err ? "checker died" : (char *)msg.p);
			return CHECKER_ERROR;
		}
		/* A verdict for the activation it was replaying: it ran away
		 * if the worker said so, else it crashed (a signal, or an exit
		 * of another status: a sanitizer's report, an abort). */
		ran_away = WIFEXITED(status) &&
		    WEXITSTATUS(status) == WORKER_RUNAWAY;
		buf_reset(&msg);
		if (ran_away)
			buf_printf(&msg,
			    "activation %llu (flow %s) ran away on replay: a "
			    "turn ran longer than the turn limit (%u ms) "
			    "without reaching a wait",
			    (unsigned long long)sh->act, sh->r.flow,
			    o->turn_limit_ms ? o->turn_limit_ms :
					       DEFAULT_LIMIT);
		else
			buf_printf(&msg,
			    "activation %llu (flow %s) crashed the checker on "
			    "replay (%s %d%s%s)",
			    (unsigned long long)sh->act, sh->r.flow,
			    WIFSIGNALED(status) ? "signal" : "exit status",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
						  WEXITSTATUS(status),
			    WIFSIGNALED(status) ? ": " : "",
			    WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) :
						  "");
		buf_putc(&msg, '\0');
		if (o->replay != 0) {
			buf_printf(&items, "{\"activation\": %llu, \"flow\": ",
			    (unsigned long long)sh->act);
			json_str(&items, sh->r.flow);
			buf_printf(&items, ", \"verdict\": \"%s\", ",
			    ran_away ? "runaway" : "crashed");
			if (sh->read > 0)
				buf_printf(&items, "\"index\": %llu, ",
				    (unsigned long long)(sh->read - 1));
			buf_puts(&items, "\"diagnostic\": ");
			json_str(&items, (char *)msg.p);
			buf_puts(&items, ", \"entries\": []}\n");
			break;
		}
		failing_item(&items, sh->act, sh->r.flow,
		    ran_away ? "runaway" : "crashed",
		    msg.err ? "crashed" : (char *)msg.p, sh->read > 0,
		    sh->read - 1);
		buf_putc(&items, '\n');
		sh->nacts++;
		after = sh->act;
	}
	if (items.err || msg.err) {
		print_error(AF_ENOMEM, "out of memory");
		buf_release(&items);
		buf_release(&out);
		buf_release(&msg);
		return CHECKER_ERROR;
	}
	if (o->replay != 0) {
		/* One object, as the worker (or the crash above) wrote it. */
		fwrite(items.p, 1, items.len, stdout);
		/* items is not NUL-terminated: memmem, not strstr. */
		code = items.len > 0 &&
			memmem(items.p, items.len, "\"verdict\": \"ok\"",
			    strlen("\"verdict\": \"ok\"")) == NULL ?
		    CHECKER_FAILING :
		    CHECKER_OK;
		fflush(stdout);
		buf_release(&items);
		buf_release(&out);
		buf_release(&msg);
		return code;
	}
	/* The items are lines: join them into the array. */
	buf_puts(&out, "[");
	first = true;
	for (i = 0; i < items.len;) {
		const char *nl = memchr(items.p + i, '\n', items.len - i);
		size_t len = nl ? (size_t)(nl - (const char *)items.p) - i :
				  items.len - i;

		if (len > 0) {
			if (!first)
				buf_puts(&out, ", ");
			buf_put(&out, items.p + i, len);
			first = false;
			nfailing++;
		}
		i += len + 1;
	}
	buf_puts(&out, "]");
	printf("{\"ok\": %s, \"activations\": %llu, \"entries\": %llu, "
	       "\"seconds\": %.3f, \"failing\": %.*s}\n",
	    nfailing == 0 ? "true" : "false", (unsigned long long)sh->nacts,
	    (unsigned long long)sh->entries, mono_s() - t0, (int)out.len,
	    out.p ? (char *)out.p : "[]");
	fflush(stdout);
	buf_release(&items);
	buf_release(&out);
	buf_release(&msg);
	return nfailing == 0 ? CHECKER_OK : CHECKER_FAILING;
}

/* ---- Starting it from the daemon ----------------------------------------- */

static struct checker_opts defaults;
static char *defaults_dir;

int
checker_set_defaults(const struct checker_opts *o)
{
	free(defaults_dir);
	defaults = *o;
	defaults.modules = NULL;
	defaults.nmodules = 0;
	defaults.replay = 0;
	if ((defaults_dir = strdup(o->dir)) == NULL)
		return -1;
	defaults.dir = defaults_dir;
	return 0;
}

const struct checker_opts *
checker_defaults(void)
{
	return &defaults;
}

int
checker_spawn(const struct checker_opts *o, pid_t *pid, int *fd)
{
	char limit[32], stack[32], map[32], replay[32];
	const char **argv;
	size_t i, n = 0;
	int p[2], saved;

	if ((argv = calloc(o->nmodules * 2 + 16, sizeof(*argv))) == NULL)
		return -1;
	snprintf(limit, sizeof(limit), "%u",
	    o->turn_limit_ms ? o->turn_limit_ms : DEFAULT_LIMIT);
	snprintf(stack, sizeof(stack), "%zu", o->stack_size >> 10);
	snprintf(map, sizeof(map), "%zu", o->map_size >> 20);
	snprintf(replay, sizeof(replay), "%llu", (unsigned long long)o->replay);
	argv[n++] = "asyncflowd";
	argv[n++] = "--check-upgrade";
	argv[n++] = "-q";
	argv[n++] = "-d";
	argv[n++] = o->dir;
	argv[n++] = "--turn-limit";
	argv[n++] = limit;
	if (o->stack_size >= (16u << 10)) {
		argv[n++] = "--stack-size";
		argv[n++] = stack;
	}
	if (o->map_size >= (1u << 20)) {
		argv[n++] = "--map-size";
		argv[n++] = map;
	}
	if (o->replay != 0) {
		argv[n++] = "--replay";
		argv[n++] = replay;
	}
	for (i = 0; i < o->nmodules; i++) {
		argv[n++] = "--module";
		argv[n++] = o->modules[i];
	}
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC) != 0) {
		free(argv);
		return -1;
	}
	/* vfork, not fork: the child only execs, and a fork would copy the
	 * page tables of a daemon with thousands of coroutine stacks --
	 * hundreds of milliseconds during which the loop answers nobody. */
	if ((*pid = vfork()) < 0) {
		saved = errno;
		close(p[0]);
		close(p[1]);
		free(argv);
		errno = saved;
		return -1;
	}
	if (*pid == 0) {
		/* Only async-signal-safe calls (the daemon has threads), and
		 * nothing that writes the parent's memory (vfork). */
		sigset_t none;

		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		if (dup2(p[1], 1) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	free(argv);
	close(p[1]);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	*fd = p[0];
	return 0;
}

int
checker_failing(const char *report,
    int (*fn)(void *ctx, uint64_t act, const char *verdict), void *ctx)
{
	static const char *const verdicts[] = { "diverged", "finished-early",
		"crashed", "runaway", "flow-missing", NULL };
	const char *p, *v;
	unsigned long long act;
	size_t i, n;
	int rc;

	if (report == NULL || (p = strstr(report, "\"failing\": [")) == NULL)
		return 0;
	/* Each item as failing_item writes it: {"activation": A, "flow":
	 * "...", "verdict": "V", ...}. The flow is a JSON string, so the
	 * first unescaped "verdict" key after it is the item's. */
	while ((p = strstr(p, "{\"activation\": ")) != NULL) {
		p += strlen("{\"activation\": ");
		if (sscanf(p, "%llu", &act) != 1 ||
		    (v = strstr(p, "\"verdict\": \"")) == NULL)
			break;
		v += strlen("\"verdict\": \"");
		for (i = 0; verdicts[i] != NULL; i++) {
			n = strlen(verdicts[i]);
			if (strncmp(v, verdicts[i], n) == 0 && v[n] == '"')
				break;
		}
		if (verdicts[i] == NULL)
			continue;
		if ((rc = fn(ctx, (uint64_t)act, verdicts[i])) != 0)
			return rc;
	}
	return 0;
}
