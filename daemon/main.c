/*
 * main.c: asyncflowd's entry point: flags, the data directory, modules,
 * the crash recorder, and the wiring of store -> engine -> server. No logic
 * of its own beyond start-up and shut-down.
 *
 * Crash recorder: flows are native code in this process. If guest or host
 * code of an activation crashes the daemon (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, a stack overflow into a coroutine's guard page, abort), the
 * handler writes the activation's id to DIR/crashed before the process
 * dies; the next start marks that activation Failed ("crashed the daemon")
 * instead of replaying it into the same crash (DESIGN.md §7).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asyncflow/protocol.h"
#include "asyncflow/version.h"
#include "builtin_flows.h"
#include "checker.h"
#include "journal.h"
#include "engine.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "modules.h"
#include "prune.h"
#include "notify.h"
#include "registry.h"
#include "server.h"
#include "store.h"
#include "trust.h"
#include "watchdog.h"

#define MAX_MODULES 64

static char crash_path[4096];
static char crash_stack[1 << 16]; /* the handler's stack (sigaltstack) */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: asyncflowd [-d DIR] [-s PATH] [--module FILE.so]...\n"
	    "                  [--durability full|batch|none] [--map-size MiB]\n"
	    "                  [--socket-group GROUP] [--retain-journals]\n"
	    "                  [--retention DURATION]\n"
	    "                  [--stack-size KiB] [--metrics ADDR:PORT]\n"
	    "                  [--max-connections N] [--idle-timeout S]\n"
	    "                  [--max-uid-buffer MiB] [--turn-limit MS] "
	    "[-v] [-q]\n"
	    "                  [--max-resident N] [--max-activation-memory MiB]\n"
	    "                  [--force-upgrade]\n"
	    "       asyncflowd --version | --help\n"
	    "\n"
	    "  -d DIR          data directory (default ./asyncflow-data, "
	    "created if missing)\n"
	    "  -s PATH         socket (default DIR/asyncflowd.sock)\n"
	    "  --module FILE   load a flow module (repeatable), copied into "
	    "DIR/modules;\n"
	    "                  none given: the set recorded there\n"
	    "  --durability M  full: fsync every commit (default); batch: "
	    "fsync at most\n"
	    "                  every 5 ms; none: never fsync. All survive "
	    "kill -9.\n"
	    "  --map-size MiB  LMDB map size (default 8192)\n"
	    "  --socket-group G  socket mode 0660 in group G; members whose "
	    "primary\n"
	    "                  group is G may connect (default: mode 0600, "
	    "own uid only)\n"
	    "  --retain-journals  keep the journals of Done activations "
	    "(default:\n"
	    "                  deleted in chunks after the outcome settles)\n"
	    "  --retention DURATION  prune a Done activation (its row, vows, "
	    "key,\n"
	    "                  journal) this long after it finished: N[ms|s|m|"
	    "h|d],\n"
	    "                  seconds if no unit (default 7d; 0: as soon as "
	    "settled)\n"
	    "  --stack-size KiB  each flow coroutine's stack (default 256; "
	    "a guard\n"
	    "                  page below it: an overflow is a crash, "
	    "quarantined)\n"
	    "  --metrics ADDR:PORT  serve /metrics (Prometheus) and /healthz "
	    "over\n"
	    "                  HTTP on TCP, UNAUTHENTICATED: bind a trusted "
	    "address\n"
	    "                  (default: off)\n"
	    "  --max-connections N  refuse more (default: the descriptor "
	    "limit less 32)\n"
	    "  --idle-timeout S  close a connection whose frame is incomplete "
	    "this long\n"
	    "                  (default 60)\n"
	    "  --max-uid-buffer MiB  what all connections of one uid may "
	    "buffer\n"
	    "                  (default 256); a connection over it is closed\n"
	    "  --turn-limit MS  a flow turn that runs longer without "
	    "reaching a wait\n"
	    "                  ran away: it is quarantined and the daemon "
	    "restarts itself\n"
	    "                  (default 2000; 0: no limit)\n"
	    "  --max-resident N  activations kept in memory; those that wait "
	    "beyond it\n"
	    "                  are evicted and replayed when an event needs "
	    "them\n"
	    "                  (default: 10000, less if vm.max_map_count is "
	    "low)\n"
	    "  --max-activation-memory MiB  an activation whose arena and "
	    "coroutine\n"
	    "                  stacks would exceed it is Failed (default: no "
	    "bound)\n"
	    "  --force-upgrade  start even if the --module set, when it "
	    "differs from the\n"
	    "                  recorded one, fails the upgrade check\n"
	    "  -v, -q          more, less logging\n");
}

/* --max-connections, --idle-timeout, --max-uid-buffer: a positive number
 * each. 0, or -1 after a message on stderr. */
static int
limit_opt(int ch, const char *arg, struct server_opts *o)
{
	const char *name = ch == 'C' ? "--max-connections" :
	    ch == 'I'                ? "--idle-timeout" :
				       "--max-uid-buffer";
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v == 0 || v > (ch == 'B' ? 1ull << 30 : 1ull << 31)) {
		fprintf(stderr,
		    "asyncflowd: %s needs a positive number, not "
		    "\"%s\"\n",
		    name, arg);
		return -1;
	}
	if (ch == 'C')
		o->max_connections = (size_t)v;
	else if (ch == 'I')
		o->idle_timeout_s = (unsigned)v;
	else
		o->max_uid_buffer = (size_t)v << 20;
	return 0;
}

/* --turn-limit MS: 0 (off) up to a day. 0, or -1 after a message. */
static int
turn_limit_opt(const char *arg, unsigned *ms)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v > 86400000ull) {
		fprintf(stderr,
		    "asyncflowd: --turn-limit must be a number of "
		    "milliseconds, 0 to 86400000 (got '%s')\n",
		    arg);
		return -1;
	}
	*ms = (unsigned)v;
	return 0;
}

/* ---- Crash recorder (async-signal-safe) ----------------------------------- */

static void
crash_handler(int sig)
{
	int signo = sig;
	uint64_t act = engine_running_act;
	char line[64];
	int fd, i = sizeof(line);

	/* A fault while validating a guest value is that value's failure
	 * (guard.h): back into the validation, nothing recorded. */
	guard_fault(sig);
	if (act != 0 &&
	    (fd = open(crash_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
		 0600)) >= 0) {
		line[--i] = '\n';
		do {
			line[--i] = (char)('0' + sig % 10);
			sig /= 10;
		} while (sig > 0 && i > 1);
		line[--i] = ' ';
		do {
			line[--i] = (char)('0' + act % 10);
			act /= 10;
		} while (act > 0 && i > 1);
		if (write(fd, line + i, sizeof(line) - (size_t)i) < 0)
			(void)0;
		fsync(fd);
		close(fd);
	}
	/* Back to the default action: let the signal kill us. */
	signal(signo, SIG_DFL);
	raise(signo);
}

static void
install_crash_recorder(const char *dir)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa;
	stack_t ss;
	size_t i;

	snprintf(crash_path, sizeof(crash_path), "%s/crashed", dir);
	ss.ss_sp = crash_stack;
	ss.ss_size = sizeof(crash_stack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) != 0)
		log_warn("no alternate signal stack: a stack overflow in a "
			 "flow will not be recorded");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = crash_handler;
	sa.sa_flags = SA_ONSTACK; /* not RESETHAND: guard_fault returns */
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The activations recorded as having crashed earlier processes (one line
 * each, "ACT SIGNAL", or "ACT runaway MS" from the watchdog); *n of them, malloc'd (the caller frees the array and
 * the reasons). */
static struct engine_quarantine *
read_crashes(size_t *n)
{
	struct engine_quarantine *q = NULL, *tmp;
	unsigned long long act;
	char why[160], line[128];
	unsigned ms;
	FILE *f;
	int fd, sig;

	*n = 0;
	if ((fd = open(crash_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return NULL;
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%llu runaway %u", &act, &ms) == 2)
			snprintf(why, sizeof(why),
			    "ran away: a flow turn ran longer than "
			    "--turn-limit %u ms without reaching a wait; "
			    "quarantined until woken",
			    ms);
		else if (sscanf(line, "%llu %d", &act, &sig) == 2)
			snprintf(why, sizeof(why),
			    "crashed the daemon (signal %d: %s); "
			    "quarantined until woken",
			    sig, strsignal(sig));
		else
			continue;
		if ((tmp = realloc(q, (*n + 1) * sizeof(*q))) == NULL)
			break;
		q = tmp;
		q[*n].act = act;
		q[*n].why = strdup(why);
		if (q[*n].why == NULL)
			break;
		log_warn("activation %llu %s", act, why);
		(*n)++;
	}
	fclose(f);
	return q;
}

/* ---- systemd (notify.h) ------------------------------------------------------ */

static bool ready_sent;

static void
on_ready(void *ctx)
{
	(void)ctx;
	/* The server's SIGTERM handler is in place: chain the watchdog's. */
	watchdog_chain_signals();
	ready_sent = true;
	notify_send("READY=1");
}

/* The engine's replay progress, as the service's status line. Before
 * READY=1 it also extends systemd's start timeout: a replay that moves is
 * not a start that hangs. */
static void
on_progress(void *ctx, const char *status)
{
	(void)ctx;
	if (ready_sent)
		notify_status("%s", status);
	else
		notify_status("%s\nEXTEND_TIMEOUT_USEC=30000000", status);
}

static void
on_stopping(void *ctx)
{
	(void)ctx;
	notify_send("STOPPING=1");
}

static void
mkdirs(const char *dir)
{
	char tmp[4096], *p;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0700);
			*p = '/';
		}
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		fatal("data directory %s: %s", dir, strerror(errno));
}

/*
 * A forced upgrade (--force-upgrade) at start: the activations the check
 * found failing become Failed. Those it found diverging (or finishing
 * early, or whose flow is gone) are replayed at once (engine_wake after
 * the open, whether or not the start replays them anyway), which fails
 * them with the diagnostic a replay gives; those that crashed the checker
 * or ran away in it are quarantined in the open's commit instead, before
 * any replay, so they cannot take the daemon down.
 */
struct forced {
	struct engine_quarantine *q; /* the crash records, then these */
	size_t nq;
	uint64_t *wake;
	size_t nwake;
};

static int
forced_cb(void *ctx, uint64_t act, const char *verdict)
{
	struct forced *f = ctx;
	struct engine_quarantine *q;
	uint64_t *w;
	char why[200];

	if (strcmp(verdict, "crashed") != 0 &&
	    strcmp(verdict, "runaway") != 0) {
		if ((w = realloc(f->wake, (f->nwake + 1) * sizeof(*w))) == NULL)
			return -1;
		f->wake = w;
		f->wake[f->nwake++] = act;
		return 0;
	}
	snprintf(why, sizeof(why),
	    "the upgrade check's replay of it under the new modules %s "
	    "(--force-upgrade); quarantined until woken",
	    strcmp(verdict, "crashed") == 0 ? "crashed" : "ran away");
	if ((q = realloc(f->q, (f->nq + 1) * sizeof(*q))) == NULL)
		return -1;
	f->q = q;
	if ((q[f->nq].why = strdup(why)) == NULL)
		return -1;
	q[f->nq++].act = act;
	return 0;
}

/*
 * A start whose --module set differs from the one recorded in the data
 * directory is an upgrade: the same check as `asyncflowctl upgrade
 * --check` runs first (the checker process, on the store as it is), and a
 * set some unfinished activation would fail under is refused, with the
 * report on stderr, unless --force-upgrade (then those become Failed:
 * forced_failing). Exits on refusal. Returns the report of a forced
 * upgrade (malloc'd), else NULL.
 */
static char *
upgrade_check_at_start(struct checker_opts *co, const char *const *modules,
    size_t n, bool force)
{
	char err[512], chunk[4096], *text = NULL, *msg;
	struct stat st;
	size_t len = 0;
	FILE *out;
	bool differs;
	ssize_t r;
	pid_t pid;
	int fd, status;

	if (modules_set_differs(co->dir, modules, n, &differs, err,
		sizeof(err)) != AF_OK)
		fatal("%s", err);
	snprintf(chunk, sizeof(chunk), "%s/data.mdb", co->dir);
	if (!differs || stat(chunk, &st) != 0)
		return NULL; /* the same code, or no store to check */
	log_info("the --module set differs from the one recorded in "
		 "%s/modules: checking the upgrade first",
	    co->dir);
	co->modules = modules;
	co->nmodules = n;
	if (checker_spawn(co, &pid, &fd) != 0)
		fatal("cannot start the upgrade checker: %s", strerror(errno));
	co->modules = NULL;
	co->nmodules = 0;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if ((out = open_memstream(&text, &len)) == NULL)
		fatal("out of memory");
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		fwrite(chunk, 1, (size_t)r, out);
	}
	close(fd);
	if (fclose(out) != 0)
		fatal("out of memory");
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHECKER_OK) {
		log_info("upgrade check passed: %s", text);
		free(text);
		return NULL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHECKER_FAILING) {
		fprintf(stderr, "%s", text);
		if (force) {
			log_warn("upgrade check failed (report above); "
				 "--force-upgrade: starting anyway, the "
				 "failing activations become Failed");
			return text;
		}
		fatal("upgrade refused: some unfinished activations would fail "
		      "under the new --module set (report above); start with "
		      "the recorded set (no --module), fix the modules, or "
		      "give --force-upgrade to switch anyway");
	}
	msg = text != NULL && strncmp(text, "error ", 6) == 0 ?
	    strchr(text + 6, ' ') :
	    NULL;
	if (msg != NULL)
		msg[strcspn(msg, "\n")] = '\0';
	/* A module that does not load (or crashes in its init) in the
	 * checker does the same in modules_load, which says so as it always
	 * has (and records a crash): let it. */
	if (msg == NULL || atoi(text + 6) == AF_EINVAL) {
		log_warn("the upgrade check could not run: %s",
		    msg != NULL ? msg + 1 : "the checker died");
		free(text);
		return NULL;
	}
	fatal("the upgrade check failed: %s", msg + 1);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "durability", required_argument, NULL, 'D' },
		{ "map-size", required_argument, NULL, 'M' },
		{ "socket-group", required_argument, NULL, 'G' },
		{ "retain-journals", no_argument, NULL, 'R' },
		{ "retention", required_argument, NULL, 'N' },
		{ "stack-size", required_argument, NULL, 'S' },
		{ "metrics", required_argument, NULL, 'P' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "max-uid-buffer", required_argument, NULL, 'B' },
		{ "turn-limit", required_argument, NULL, 'T' },
		{ "max-resident", required_argument, NULL, 'X' },
		{ "max-activation-memory", required_argument, NULL, 'Y' },
		/* Not for people: the watchdog's re-execution (watchdog.h). */
		{ "restarted-by-watchdog", no_argument, NULL, 'W' },
		/* Not for people: the upgrade checker (checker.h). */
		{ "check-upgrade", no_argument, NULL, 'K' },
		{ "force-upgrade", no_argument, NULL, 'F' },
		{ "replay", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "./asyncflow-data", *sock = NULL;
	const char *modules[MAX_MODULES];
	int nmodules = 0, ch, verbosity = LOG_INFO, rc;
	bool restarted = false, check = false, force_upgrade = false;
	struct forced forced = { NULL, 0, NULL, 0 };
	char *report = NULL;
	struct checker_opts co = { 0 };
	struct store_opts so = { .durability = STORE_FULL };
	struct server_opts svo;
	struct engine_opts eo;
	struct engine_quarantine *crashes;
	struct watchdog_opts wo = { .keep_fd = -1 };
	const char *group = NULL, *metrics = NULL, *resident = NULL;
	const char *actmem = NULL;
	struct af_registry *reg;
	struct engine *e;
	struct store *s;
	char err[512], sockbuf[4096];
	int lfd, mfd = -1;

	log_init();
	wo.limit_ms = 2000;
	memset(&eo, 0, sizeof(eo));
	eo.prune_finished = true;
	eo.retention_ms = 7 * (int64_t)86400000; /* --retention */
	memset(&svo, 0, sizeof(svo));
	while (
	    (ch = getopt_long(argc, argv, "d:s:vqh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'm':
			if (nmodules == MAX_MODULES)
				fatal("too many --module (max %d)",
				    MAX_MODULES);
			modules[nmodules++] = optarg;
			break;
		case 'D':
			if (store_durability_parse(optarg, &so.durability) !=
			    AF_OK) {
				fprintf(stderr,
				    "asyncflowd: --durability must "
				    "be full, batch or none\n");
				return 2;
			}
			break;
		case 'M':
			so.map_size = (size_t)strtoull(optarg, NULL, 10) << 20;
			if (so.map_size == 0) {
				fprintf(stderr, "asyncflowd: bad --map-size\n");
				return 2;
			}
			break;
		case 'G':
			group = optarg;
			break;
		case 'N':
			if (prune_parse_duration(optarg, &eo.retention_ms) !=
			    AF_OK) {
				fprintf(stderr,
				    "asyncflowd: --retention must be a "
				    "duration, a whole number >= 0 with "
				    "an optional unit ms, s, m, h or d "
				    "(got '%s')\n",
				    optarg);
				return 2;
			}
			break;
		case 'R':
			eo.retain_journals = true;
			break;
		case 'S':
			eo.stack_size = (size_t)strtoull(optarg, NULL, 10)
			    << 10;
			if (eo.stack_size < (16u << 10)) {
				fprintf(stderr,
				    "asyncflowd: --stack-size is in "
				    "KiB, at least 16\n");
				return 2;
			}
			break;
		case 'T':
			if (turn_limit_opt(optarg, &wo.limit_ms) != 0)
				return 2;
			break;
		case 'W':
			restarted = true;
			break;
		case 'K':
			check = true;
			break;
		case 'F':
			force_upgrade = true;
			break;
		case 'A':
			co.replay = strtoull(optarg, NULL, 10);
			break;
		case 'X':
			resident = optarg;
			break;
		case 'Y':
			actmem = optarg;
			break;
		case 'P':
			metrics = optarg;
			break;
		case 'C':
		case 'I':
		case 'B':
			if (limit_opt(ch, optarg, &svo) != 0)
				return 2;
			break;
		case 'v':
			verbosity = LOG_DEBUG;
			break;
		case 'q':
			verbosity = LOG_WARN;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(
			    "asyncflowd %s (protocol %d, journal format %d)\n",
			    AF_VERSION, AF_PROTOCOL_VERSION, JOURNAL_FORMAT);
			return fflush(stdout) == 0 ? 0 : 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (engine_resident_budget(resident, &eo, err, sizeof(err)) != AF_OK ||
	    engine_memory_bound(actmem, &eo, err, sizeof(err)) != AF_OK) {
		fprintf(stderr, "asyncflowd: %s\n", err);
		return 2;
	}
	log_set_level((enum log_level)verbosity);
	if (check) {
		/* The upgrade checker: JSON on stdout, nothing else; a
		 * verdict is not a warning of the daemon's. */
		if (verbosity != LOG_DEBUG)
			log_set_level(LOG_ERROR);
		co.dir = dir;
		co.modules = modules;
		co.nmodules = (size_t)nmodules;
		co.turn_limit_ms = wo.limit_ms;
		co.stack_size = eo.stack_size;
		co.map_size = so.map_size;
		return checker_main(&co);
	}
	/* What a re-execution by the watchdog needs, taken before
	 * notify_init and the socket activation unset the variables. */
	if (watchdog_prepare(argc, argv, getenv("NOTIFY_SOCKET")) != 0)
		fatal("out of memory");
	notify_init();
	/* A passed socket is checked before anything is opened. */
	if (notify_listen_fd(&lfd, err, sizeof(err)) < 0)
		fatal("%s", err);
	/* The port too: a port in use is an error before the replay. */
	if (metrics != NULL &&
	    (mfd = metrics_listen(metrics, err, sizeof(err))) < 0)
		fatal("%s", err);
	/* Until the loop logs it (server.c), SIGHUP must not kill a daemon
	 * still opening its store. */
	signal(SIGHUP, SIG_IGN);
	mkdirs(dir);
	if (trust_data_dir(dir, err, sizeof(err)) != AF_OK)
		fatal("%s", err);
	if (sock == NULL) {
		snprintf(sockbuf, sizeof(sockbuf), "%s/asyncflowd.sock", dir);
		sock = sockbuf;
	}

	if ((reg = registry_new()) == NULL)
		fatal("out of memory");
	registry_set_owner(reg, "built-in");
	if ((rc = builtin_flows_register(reg)) != AF_OK)
		fatal("built-in flows: %s", af_strerror(rc));
	/* Restarted by the watchdog: the modules the first start copied
	 * and recorded, whatever became of the files it was given. */
	if (restarted) {
		log_info("restarted by the turn-limit watchdog: loading the "
			 "modules recorded in %s/modules",
		    dir);
		nmodules = 0;
	}
	co.dir = dir;
	co.turn_limit_ms = wo.limit_ms;
	co.stack_size = eo.stack_size;
	co.map_size = so.map_size;
	if (nmodules > 0)
		report = upgrade_check_at_start(&co, modules, (size_t)nmodules,
		    force_upgrade);
	if (modules_load(dir, modules, (size_t)nmodules, reg, err,
		sizeof(err)) != AF_OK)
		fatal("%s", err);

	if (checker_set_defaults(&co) != 0)
		fatal("out of memory");
	rc = store_open_lmdb(dir, &so, &s, err, sizeof(err));
	if (rc != AF_OK)
		fatal("%s", err);
	install_crash_recorder(dir);
	forced.q = read_crashes(&forced.nq);
	if (checker_failing(report, forced_cb, &forced) != 0)
		fatal("out of memory");
	free(report);
	eo.quarantine = crashes = forced.q;
	eo.nquarantine = forced.nq;
	/* Before the replay: a flow can run away there too. */
	wo.record_path = crash_path;
	wo.keep_fd = lfd > 0 ? lfd : -1;
	if (watchdog_start(&wo) != 0)
		fatal("the turn-limit watchdog: %s", strerror(errno));
	eo.on_progress = on_progress;
	rc = engine_open(s, reg, &eo, &e, err, sizeof(err));
	if (rc != AF_OK)
		fatal("%s", err);
	for (size_t w = 0; w < forced.nwake; w++)
		if ((rc = engine_wake(e, forced.wake[w])) != AF_OK &&
		    rc != AF_ESTATE)
			log_warn("activation %llu: replaying it under the new "
				 "modules: %s",
			    (unsigned long long)forced.wake[w],
			    af_strerror(rc));
	free(forced.wake);
	/* The quarantine is committed: the record has done its job. */
	if (eo.nquarantine > 0)
		unlink(crash_path);
	for (size_t q = 0; q < eo.nquarantine; q++)
		free((char *)crashes[q].why);
	free(crashes);

	svo.socket_path = sock;
	svo.ready = on_ready;
	svo.has_metrics = mfd >= 0;
	svo.metrics_fd = mfd;
	svo.stopping = on_stopping;
	if (lfd > 0) {
		struct sockaddr_un sun;
		socklen_t len = sizeof(sun);

		/* Its name, for the log. */
		memset(&sun, 0, sizeof(sun));
		if (getsockname(lfd, (struct sockaddr *)&sun, &len) == 0 &&
		    sun.sun_path[0] != '\0')
			snprintf(sockbuf, sizeof(sockbuf), "%s (fd %d)",
			    sun.sun_path, lfd);
		else
			snprintf(sockbuf, sizeof(sockbuf), "fd %d", lfd);
		svo.socket_path = sockbuf;
		svo.listen_fd = lfd;
	}
	svo.durability = store_durability_name(so.durability);
	svo.batch_ms = so.durability == STORE_BATCH ? 5 : 0;
	svo.allow_uid = geteuid();
	if (group != NULL) {
		struct group *gr = getgrnam(group);

		if (gr == NULL)
			fatal("--socket-group: no group %s", group);
		svo.group = gr->gr_gid;
		svo.has_group = true;
	}
	rc = server_run(e, s, &svo, err, sizeof(err));
	watchdog_stop();
	/* A live upgrade may have swapped in another registry. */
	reg = engine_registry(e);
	engine_exiting(e);
	engine_close(e);
	store_close(s);
	registry_free(reg);
	if (rc != AF_OK)
		fatal("%s", err);
	return 0;
}
