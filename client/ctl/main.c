/*
 * asyncflowctl: the command-line client of asyncflowd. This file: messages
 * and exits, argument parsing, connecting to the daemon, the command table
 * and the usage text built from it, and main(). The commands themselves
 * are in cmds.c and serve.c, JSON <-> Value in json.c (see ctl.h).
 *
 * Contract with scripts: with -o json (the default when stdout is not a
 * terminal) every command prints exactly one JSON value on stdout and
 * exits 0, or prints a message on stderr and exits non-zero: 2 for a
 * usage error (bad arguments, bad JSON: then nothing was sent), 1 for
 * everything else (cannot connect, the daemon refused, timeout); the
 * table in ctl.h. The JSON keys in the usage texts below are part of that
 * contract. The exception is serve, which runs until stopped (reconnecting
 * when the daemon restarts) and keeps stdout quiet; its contract with CMD
 * is in its usage text. -o table is for people and may change.
 *
 * Values are written in JSON as DESIGN.md §2 says (see value_help below).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asyncflow/version.h"
#include "ctl.h"

static const char *prog = "asyncflowctl";
static const char *cmd_name = "";

/* ---- Messages and exits --------------------------------------------------- */

void PRINTFLIKE(1, 0) vwarnx(const char *fmt, va_list ap)
{
	if (cmd_name[0])
		fprintf(stderr, "%s: %s: ", prog, cmd_name);
	else
		fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void PRINTFLIKE(2, 3) fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	exit(code);
}

void
nomem(void)
{
	fail(EXIT_FAILURE, "out of memory");
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		nomem();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		nomem();
	return p;
}

/* ---- Usage: the command table ------------------------------------------- */

static const char value_help[] =
    "Values (arguments, settlements, results) are JSON:\n"
    "  null, true, false, \"text\", [list], {\"record\": ...}\n"
    "  42                      an integer (int64)\n"
    "  1.5, 1.0, 1e3           a double\n"
    "  {\"@vow\": N}             a reference to vow N\n"
    "  {\"@resolver\": N}        the right to settle vow N\n"
    "  {\"@obj\": \"bank\"}        a host object\n"
    "  {\"@bytes\": \"BASE64\"}    bytes\n"
    "  {\"@error\": {\"name\": \"E\", \"message\": \"text\"}}\n"
    "  {\"@record\": {...}}      a record written literally (for keys starting with @)\n"
    "  {\"@double\": \"inf\"}      a double JSON cannot hold: \"inf\", \"-inf\", \"nan\"\n";

/* What asyncflowctl --help says before and after the commands. */
static const char main_usage_head[] =
    "usage: asyncflowctl [-s SOCKET] [-o json|table] [--trust-uid UID] COMMAND ...\n"
    "       asyncflowctl --version | --help\n"
    "\n"
    "Talks to asyncflowd over its Unix socket: -s SOCKET, else $ASYNCFLOW_SOCKET,\n"
    "else " AF_DEFAULT_SOCKET ".\n"
    "Prints its answer on stdout (one JSON value, or a table: see -o) and\n"
    "exits 0, or a message on stderr and exits 1 (the daemon refused, the\n"
    "connection failed, a wait timed out) or 2 (a usage error: nothing was\n"
    "sent). serve is the exception: it runs until stopped, printing nothing\n"
    "on stdout.\n"
    "\n"
    "Options (anywhere on the line, before a \"--\"):\n"
    "  -s, --socket PATH    the daemon's socket\n"
    "  -o, --output FORMAT  json (the default when stdout is not a terminal)\n"
    "                       or table (the default on a terminal)\n"
    "  --trust-uid UID      talk to a daemon of this uid too (else only to\n"
    "                       one of your uid or root)\n"
    "A JSON argument may be @FILE (read from FILE) or - (read from stdin).\n"
    "\n"
    "Commands:\n";
static const char main_usage_tail[] =
    "\n"
    "asyncflowctl COMMAND --help tells more.\n"
    "\n";

/*
 * One command: `summary` is its line in asyncflowctl --help, one line per
 * synopsis of `usage` (the lines "usage: asyncflowctl ..." and
 * "       asyncflowctl ..." it starts with), then continuation lines.
 * `usage` is what asyncflowctl COMMAND --help prints.
 */
struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;
};

static const struct command commands[] = {
	{ "mkvow", cmd_mkvow, "create a vow: {\"vow\", \"resolver\"}",
	    "usage: asyncflowctl mkvow\n"
	    "Creates a pending vow. Prints {\"vow\": N, \"resolver\": \"HEX\"}: the\n"
	    "resolver (32 hex digits) is the secret that settles the vow.\n" },
	{ "start", cmd_start, "start an activation of FLOW",
	    "usage: asyncflowctl start FLOW [ARGS_JSON] [--key K] [--wait [--timeout S]]\n"
	    "Starts an activation of FLOW with ARGS_JSON (default null; @FILE or -\n"
	    "to read it). With --key, starting again with the same key, flow and\n"
	    "args answers the same activation. Prints {\"activation\": A,\n"
	    "\"outcome\": {\"@vow\": N}}. --wait answers only once the outcome is\n"
	    "settled, adding \"state\" (\"fulfilled\" | \"rejected\") and \"value\";\n"
	    "with --timeout it fails (exit 1) if that takes longer than S seconds.\n" },
	{ "settle", cmd_settle,
	    "fulfil a vow\n"
	    "reject a vow",
	    "usage: asyncflowctl settle VOW --resolver HEX VALUE_JSON\n"
	    "       asyncflowctl settle VOW --resolver HEX --reject ERROR_JSON\n"
	    "Fulfils (or rejects) VOW. Repeating the same settlement succeeds.\n"
	    "VALUE_JSON and ERROR_JSON may be @FILE or - (stdin).\n"
	    "Prints {\"vow\": N, \"state\": \"fulfilled\" | \"rejected\"} (\"pending\"\n"
	    "if VALUE_JSON is a vow that is not settled yet: VOW now follows it).\n"
	    "ERROR_JSON is usually {\"@error\": {\"name\": ..., \"message\": ...}}.\n" },
	{ "vow", cmd_vow, "a vow's state (and value)",
	    "usage: asyncflowctl vow VOW [--wait] [--timeout SECONDS]\n"
	    "Prints {\"vow\": N, \"state\": \"pending\" | \"fulfilled\" | \"rejected\"}\n"
	    "and, once settled, \"value\" (the value or the reason). --wait answers\n"
	    "only once VOW is settled; with --timeout it fails (exit 1) if that\n"
	    "takes longer than SECONDS (0: unless VOW is settled already).\n"
	    "Connecting and a first look count too, but get at least 1 s.\n" },
	{ "ls", cmd_ls, "list activations",
	    "usage: asyncflowctl ls [--state STATE] [--flow NAME] [--limit N] [--after A]\n"
	    "Prints a JSON array of activations, in id order: those in STATE\n"
	    "(Running, Sleeping, Replaying, Failed or Done), of flow NAME, with an\n"
	    "id greater than A, at most N of them (default: all). Each is shaped\n"
	    "like show's answer.\n" },
	{ "show", cmd_show, "one activation",
	    "usage: asyncflowctl show A\n"
	    "Prints activation A: {\"activation\", \"flow\", \"state\", \"args\",\n"
	    "\"outcome\", \"waiting_on\", \"invocations\" (only if some),\n"
	    "\"journal_length\", \"failure\" (only when Failed, or Done by terminate:\n"
	    "\"terminated: M\"), \"incarnation\" (that\n"
	    "created it), \"blocked_on\", \"created\", \"created_ms\",\n"
	    "\"last_progress\", \"last_progress_ms\", \"last_incarnation\"}.\n"
	    "blocked_on: what each waiting coroutine waits for now, [{\"coroutine\":\n"
	    "C, \"wait\": \"await\" | \"all\" | \"race\", \"vows\": [{\"vow\": {\"@vow\": N},\n"
	    "\"kind\": \"vow\" | \"timer\" | \"send\", \"settled\", and for a timer\n"
	    "\"due\", \"due_ms\", for a send \"object\", \"method\",\n"
	    "\"server_connected\"}]}]. Times are ISO 8601 UTC and ms since the epoch;\n"
	    "created, last_progress and last_incarnation are left out when unknown\n"
	    "(an activation started by a daemon older than them).\n" },
	{ "journal", cmd_journal, "an activation's journal",
	    "usage: asyncflowctl journal A\n"
	    "Prints activation A's journal, a JSON array of entries {\"index\",\n"
	    "\"kind\", ..., \"incarnation\"} where kind is checkCall or checkSend\n"
	    "(\"target\", \"method\", \"args\", \"callIndex\"), doReturn (\"callIndex\",\n"
	    "\"result\"), doThrow (\"callIndex\", \"error\"), doFulfill (\"vow\",\n"
	    "\"value\"), doReject (\"vow\", \"reason\"), patched (\"id\": the\n"
	    "af_patched marker), doCancel (\"reason\": a cancel request), doCall\n"
	    "(\"target\": the export, \"method\", \"args\", \"vow\": its result),\n"
	    "checkReturn (\"vow\", \"result\") or checkThrow (\"vow\", \"error\").\n" },
	{ "failures", cmd_failures, "the Failed activations",
	    "usage: asyncflowctl failures\n"
	    "Prints the Failed activations, a JSON array shaped like ls's.\n" },
	{ "wake", cmd_wake, "replay A now (no A: every Failed one)",
	    "usage: asyncflowctl wake [A]\n"
	    "Replays activation A now with the code registered now (Failed or\n"
	    "Sleeping); without A every Failed activation. Prints {\"woken\": A}\n"
	    "or {\"woken\": \"all\"}.\n" },
	{ "terminate", cmd_terminate, "give up on A: reject its outcome, Done",
	    "usage: asyncflowctl terminate A [--reason ERROR_JSON]\n"
	    "Gives up on activation A, which is not Done (Running, Sleeping,\n"
	    "Replaying or Failed): its outcome vow is rejected with\n"
	    "{\"@error\": {\"name\": \"Terminated\", \"message\": M}}, none of its\n"
	    "code runs again (its waits, sends' results and timers are dropped)\n"
	    "and it is Done. M is the message of --reason (an error value; its\n"
	    "name is not used: the error is always named Terminated), else a\n"
	    "default naming A, its flow and its state. Prints\n"
	    "{\"terminated\": A}. A Done activation is an error (ESTATE).\n" },
	{ "purge", cmd_purge, "delete finished activation A now",
	    "usage: asyncflowctl purge A\n"
	    "Deletes Done activation A now with everything it left: its row,\n"
	    "its outcome and other vows, its idempotency key, its journal\n"
	    "(what the daemon's --retention does after a while). From then on\n"
	    "show, journal and vow of them answer ENOTFOUND. Prints\n"
	    "{\"purged\": A}. An activation that is not finished is an error\n"
	    "(EBUSY).\n" },
	{ "upgrade", cmd_upgrade, "check a new module set; switch to it",
	    "usage: asyncflowctl upgrade [--check | --force] --module PATH "
	    "[--module PATH]...\n"
	    "Checks the module set given (the complete new set; the built-in\n"
	    "module always stays) against every unfinished activation (Running,\n"
	    "Sleeping and Failed): the daemon replays each in a checker process of\n"
	    "its own, from a read snapshot of its store, with no host method run,\n"
	    "nothing sent and nothing written. With --check it prints\n"
	    "  {\"ok\": B, \"activations\": N, \"entries\": M, \"seconds\": S,\n"
	    "   \"failing\": [{\"activation\": A, \"flow\": F, \"verdict\": V,\n"
	    "                \"diagnostic\": D, \"index\": I}, ...]}\n"
	    "where V is diverged, finished-early (both with the journal index I),\n"
	    "crashed, runaway or flow-missing, and D says what the replay met\n"
	    "(for a divergence: the expected entry, the attempted action and the\n"
	    "first differing path). Exits 0 when every activation replays\n"
	    "cleanly, 3 when some would fail (the JSON is printed either way).\n"
	    "Without --check, when every activation passes (or with --force),\n"
	    "the running daemon switches to the new set without a restart: its\n"
	    "activations are rebuilt by replay under the new code, the old\n"
	    "modules are unloaded, the set is recorded, and it prints\n"
	    "{\"upgraded\": true, \"modules\": [{\"path\": P, \"sha256\": H}, ...],\n"
	    "\"activations\": N}; when the check fails it changes nothing, prints\n"
	    "the report and exits 3. Relative paths are resolved here. Another\n"
	    "upgrade running is an error (EBUSY).\n" },
	{ "replay", cmd_replay, "replay A against new code, entry by entry",
	    "usage: asyncflowctl replay A --module PATH [--module PATH]...\n"
	    "Replays activation A alone in the upgrade checker against the module\n"
	    "set given, as upgrade --check does, and prints {\"activation\": A,\n"
	    "\"flow\": F, \"verdict\": V, \"diagnostic\": D, \"index\": I,\n"
	    "\"entries\": [{\"index\": I, \"entry\": E, \"guest\": G}, ...]}: each\n"
	    "journal entry E (as text) and what the guest did there (G is\n"
	    "\"replayed: the same\", \"returned\", or the divergence), up to the end\n"
	    "or the divergence. Exits 0 when it replays cleanly, 3 when not.\n" },
	{ "call", cmd_call, "call a method of an object a flow exported",
	    "usage: asyncflowctl call OBJ METHOD [ARGS_JSON] [--wait [--timeout SECONDS]]\n"
	    "Calls METHOD of OBJ, an object a flow exported, written\n"
	    "act/A/NAME (A the activation, NAME the export), with ARGS_JSON\n"
	    "(default null). The call is durable once answered: it is journaled\n"
	    "in A's journal (doCall) when A is live, and A's handler runs.\n"
	    "Prints {\"vow\": N}, the call's result vow; with --wait the settled\n"
	    "vow as `vow N --wait [--timeout SECONDS]` prints it. The vow is\n"
	    "rejected with an error named NotFound if A exports no NAME, or\n"
	    "Finished if A ended first. A malformed OBJ, an unknown activation\n"
	    "or a method over 128 bytes is an error (exit 1).\n" },
	{ "cancel", cmd_cancel, "ask A to stop: its waits get AF_CANCELLED",
	    "usage: asyncflowctl cancel A [--reason ERROR_JSON]\n"
	    "Asks activation A, which is not Done, to stop. The request is\n"
	    "journaled in A's journal as an event (doCancel): every coroutine\n"
	    "of A waiting at that point gets AF_CANCELLED with the reason\n"
	    "(default {\"@error\": {\"name\": \"Cancelled\", ...}}), and the\n"
	    "flow decides: it may compensate, then return or reject. A Sleeping\n"
	    "or Failed activation gets it after its replay. Cancelling twice\n"
	    "changes nothing. Prints {\"cancelled\": A}. A Done activation is\n"
	    "an error (ESTATE).\n" },
	{ "stats", cmd_stats, "the daemon's counters",
	    "usage: asyncflowctl stats\n"
	    "Prints the daemon's counters as an object keyed by their names.\n" },
	{ "modules", cmd_modules, "the flows and host objects registered",
	    "usage: asyncflowctl modules\n"
	    "Prints the flows and host objects the daemon has registered (built-in\n"
	    "and loaded with --module): {\"flows\": [NAME, ...], \"objects\":\n"
	    "[NAME, ...], \"modules\": [...]}, each sorted; \"modules\" (only when\n"
	    "some are loaded) lists each: {\"path\": P, \"sha256\": H, \"since\":\n"
	    "TIME, \"flows\": [...], \"objects\": [...]} (what it registered).\n" },
	{ "serve", cmd_serve,
	    "serve object NAME: run CMD for\n"
	    "each invocation",
	    "usage: asyncflowctl serve NAME [-q] [--no-reconnect] -- CMD "
	    "[ARGS...]\n"
	    "Serves the host object NAME: for each invocation a flow sends to it\n"
	    "(af_send(f, \"NAME\", method, args)), runs CMD [ARGS...] (no shell,\n"
	    "found in $PATH), one at a time, in arrival order. CMD reads one JSON\n"
	    "object, one line, on stdin:\n"
	    "  {\"method\": M, \"args\": ARGS, \"vow\": N, \"activation\": A,\n"
	    "   \"resolvers\": {\"R\": \"HEX\", ...}}\n"
	    "vow is the id of the result vow. Delivery is at least once (an\n"
	    "invocation comes again after a server or the daemon restarted before\n"
	    "it was answered): use vow as the idempotency key. resolvers holds the\n"
	    "secrets of the resolvers ({\"@resolver\": R}) in ARGS, for settle.\n"
	    "  exit 0, one JSON value on stdout  fulfils the result vow with it\n"
	    "  exit non-zero                     rejects it with {\"@error\":\n"
	    "                                    {\"name\": \"Error\", \"message\": STDERR}}\n"
	    "  exit 0, anything else on stdout   rejects it with name \"BadResult\"\n"
	    "  killed by a signal                no answer: nothing is settled, and\n"
	    "                                    the invocation comes again\n"
	    "CMD's stderr is copied to asyncflowctl's. Unlike the other commands,\n"
	    "serve prints nothing on stdout: it logs one line per invocation on\n"
	    "stderr (not with -q, --quiet) and runs until stopped: when the\n"
	    "connection to the daemon is lost (a restart) it connects again,\n"
	    "waiting 50 ms and twice as long after each failure up to 2 s, and\n"
	    "serves again (--no-reconnect: exits 1 instead). An answer it could\n"
	    "not send is dropped: the invocation comes again. If CMD cannot be\n"
	    "run at all it exits 1, leaving the invocation unanswered.\n" },
	{ NULL, NULL, NULL, NULL },
};

static const struct command *cur;

/* Column of the summaries in asyncflowctl --help. */
#define SUMMARY_COL 41

/* One line of the command list: the synopsis (`slen` bytes at s) and the
 * summary line (`tlen` bytes at t); a synopsis too long for its column
 * gets a line of its own. s NULL: a continuation line. */
static void
print_summary(FILE *f, const char *s, int slen, const char *t, int tlen)
{
	if (s == NULL)
		fprintf(f, "%*s%.*s\n", SUMMARY_COL, "", tlen, t);
	else if (slen <= SUMMARY_COL - 3)
		fprintf(f, "  %-*.*s %.*s\n", SUMMARY_COL - 3, slen, s, tlen,
		    t);
	else
		fprintf(f, "  %.*s\n%*s%.*s\n", slen, s, SUMMARY_COL, "", tlen,
		    t);
}

/* The synopses of k->usage beside the lines of k->summary. */
static void
print_command(FILE *f, const struct command *k)
{
	static const char first[] = "usage: asyncflowctl ";
	static const char more[] = "       asyncflowctl ";
	const char *u = k->usage, *t = k->summary, *s;
	int slen, tlen;

	while (*t != '\0') {
		tlen = (int)strcspn(t, "\n");
		s = NULL;
		slen = 0;
		if (strncmp(u, u == k->usage ? first : more,
			sizeof(first) - 1) == 0) {
			s = u + sizeof(first) - 1;
			slen = (int)strcspn(s, "\n");
			u = s + slen + (s[slen] == '\n');
		}
		print_summary(f, s, slen, t, tlen);
		t += tlen + (t[tlen] == '\n');
	}
}

static void
print_main_usage(FILE *f)
{
	const struct command *k;

	fputs(main_usage_head, f);
	for (k = commands; k->name != NULL; k++)
		print_command(f, k);
	fputs(main_usage_tail, f);
	fputs(value_help, f);
}

void PRINTFLIKE(1, 2) usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	if (cur != NULL)
		fprintf(stderr, "%.*s\nTry asyncflowctl %s --help.\n",
		    (int)strcspn(cur->usage, "\n"), cur->usage, cur->name);
	else
		fprintf(stderr, "Try asyncflowctl --help.\n");
	exit(EXIT_USAGE);
}

/* ---- Argument parsing ------------------------------------------------------ */

const char *socket_path; /* -s or $ASYNCFLOW_SOCKET; NULL: the default */
long trust_uid;          /* --trust-uid: also talk to a daemon of this uid */
enum output_format output_format = OUT_DEFAULT;

static void
set_socket(const char *opt, const char *path)
{
	if (path == NULL || path[0] == '\0')
		usage_error("%s needs a socket path", opt);
	socket_path = path;
}

static void
set_output(const char *opt, const char *fmt)
{
	if (fmt != NULL && strcmp(fmt, "json") == 0)
		output_format = OUT_JSON;
	else if (fmt != NULL && strcmp(fmt, "table") == 0)
		output_format = OUT_TABLE;
	else
		usage_error("%s is json or table, not \"%s\"", opt,
		    fmt ? fmt : "");
}

static void
set_trust_uid(const char *opt, const char *uid)
{
	char *end;

	errno = 0;
	trust_uid = strtol(uid, &end, 10);
	if (errno != 0 || end == uid || *end != '\0' || trust_uid <= 0)
		usage_error("%s needs a positive number, not \"%s\"", opt, uid);
}

int
global_option(int argc, char **argv)
{
	static const struct {
		const char *s, *l;
		void (*set)(const char *, const char *);
	} g[] = {
		{ "-s", "--socket", set_socket },
		{ "-o", "--output", set_output },
		{ "--trust-uid", "--trust-uid", set_trust_uid },
	};
	const char *a = argv[0];
	size_t i, ll;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		ll = strlen(g[i].l);
		if (strcmp(a, g[i].s) == 0 || strcmp(a, g[i].l) == 0) {
			if (argc < 2)
				usage_error("%s needs a value", a);
			g[i].set(a, argv[1]);
			return 2;
		}
		if (strncmp(a, g[i].l, ll) == 0 && a[ll] == '=') {
			g[i].set(g[i].l, a + ll + 1);
			return 1;
		}
	}
	return 0;
}

/*
 * Splits argv into options (from `opts`, "--name VALUE" or "--name=VALUE")
 * and at most `maxpos` positional arguments; "--" ends the options. The
 * global options (global_option) are taken wherever they are. An
 * argument starting with "-" and a digit is positional (a negative number).
 * --help and -h print the command's usage and exit 0.
 */
int
parse_args(int argc, char **argv, const struct opt *opts, char **pos,
    int maxpos)
{
	int i, npos = 0;
	bool dashdash = false;
	const struct opt *o;
	const char *a, *eq;
	size_t nl;

	for (i = 0; i < argc; i++) {
		a = argv[i];
		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (!dashdash &&
		    (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			fputs(cur->usage, stdout);
			exit(fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
		}
		if (!dashdash && a[0] == '-' &&
		    (nl = (size_t)global_option(argc - i, argv + i)) > 0) {
			i += (int)nl - 1;
			continue;
		}
		if (dashdash || a[0] != '-' || a[1] == '\0' ||
		    (a[1] >= '0' && a[1] <= '9') || a[1] == '.') {
			if (npos == maxpos)
				usage_error("unexpected argument \"%s\"", a);
			pos[npos++] = argv[i];
			continue;
		}
		if (a[1] != '-')
			usage_error("unknown option \"%s\"", a);
		a += 2;
		eq = strchr(a, '=');
		nl = eq != NULL ? (size_t)(eq - a) : strlen(a);
		for (o = opts; o != NULL && o->name != NULL; o++)
			if (strlen(o->name) == nl &&
			    strncmp(o->name, a, nl) == 0)
				break;
		if (o == NULL || o->name == NULL)
			usage_error("unknown option \"--%.*s\"", (int)nl, a);
		if (o->flag != NULL) {
			if (eq != NULL)
				usage_error("option --%s takes no value",
				    o->name);
			*o->flag = true;
		} else if (eq != NULL) {
			*o->arg = eq + 1;
		} else {
			if (i + 1 >= argc)
				usage_error("option --%s needs a value",
				    o->name);
			*o->arg = argv[++i];
		}
	}
	return npos;
}

/* A positive decimal id. */
uint64_t
parse_id(const char *what, const char *s)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		usage_error("%s must be a positive integer, not \"%s\"", what,
		    s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		usage_error("%s must be a positive integer, not \"%s\"", what,
		    s);
	return (uint64_t)v;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

void
parse_resolver(const char *s, uint8_t out[AF_RESOLVER_LEN])
{
	int i, hi, lo;

	if (strlen(s) != 2 * AF_RESOLVER_LEN)
		usage_error("--resolver must be %d hex digits",
		    2 * AF_RESOLVER_LEN);
	for (i = 0; i < AF_RESOLVER_LEN; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			usage_error("--resolver must be %d hex digits",
			    2 * AF_RESOLVER_LEN);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

/* ---- Connection ------------------------------------------------------------------ */

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects within timeout_ms (negative: AF_CONNECT_TIMEOUT_MS); exits 1
 * if that fails. */
af_conn *
connect_within(int timeout_ms)
{
	struct af_connect_opts co = { 0, 0 };
	char err[512];
	af_conn *c;
	int rc;

	if (timeout_ms < 0)
		timeout_ms = AF_CONNECT_TIMEOUT_MS;
	co.timeout_ms = timeout_ms;
	co.trust_uid = trust_uid;
	rc = af_connect_with(socket_path, &co, &c, err, sizeof(err));
	if (rc == AF_OK)
		return c;
	if (rc == AF_ECONN)
		fail(EXIT_FAILURE,
		    "%s (is asyncflowd running? the socket is "
		    "chosen with -s or $ASYNCFLOW_SOCKET)",
		    err);
	fail(EXIT_FAILURE, "%s: %s", af_errname(rc),
	    err[0] ? err : af_strerror(rc));
	return NULL;
}

af_conn *
connect_daemon(void)
{
	return connect_within(-1);
}

/* Reports a failed call and exits 1. */
void
call_failed(af_conn *c, int rc)
{
	const char *m = af_conn_errmsg(c);

	fail(EXIT_FAILURE, "%s: %s", af_errname(rc),
	    m[0] ? m : af_strerror(rc));
}

/* ---- Main ---------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "socket", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "trust-uid", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *k;
	int i, ch;

	socket_path = getenv("ASYNCFLOW_SOCKET");
	if (socket_path != NULL && socket_path[0] == '\0')
		socket_path = NULL;
	/* The options before the command ("+": stop at the command; its
	 * own arguments, global options among them, are parse_args's). */
	opterr = 0;
	while (
	    (ch = getopt_long(argc, argv, "+:hs:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			print_main_usage(stdout);
			return fflush(stdout) == 0 ? EXIT_SUCCESS :
						     EXIT_FAILURE;
		case 'V':
			printf("asyncflowctl %s (protocol %d, journal format "
			       "%d)\n",
			    AF_VERSION, AF_PROTOCOL_VERSION, AF_JOURNAL_FORMAT);
			return fflush(stdout) == 0 ? EXIT_SUCCESS :
						     EXIT_FAILURE;
		case 's':
			set_socket("-s", optarg);
			break;
		case 'o':
			set_output("-o", optarg);
			break;
		case 'U':
			set_trust_uid("--trust-uid", optarg);
			break;
		case ':':
			usage_error("%s needs a value", argv[optind - 1]);
		default:
			usage_error("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	i = optind;
	if (i >= argc)
		usage_error("missing command");
	for (k = commands; k->name != NULL; k++)
		if (strcmp(k->name, argv[i]) == 0)
			break;
	if (k->name == NULL) {
		if (strcmp(argv[i], "help") == 0) {
			print_main_usage(stdout);
			return fflush(stdout) == 0 ? EXIT_SUCCESS :
						     EXIT_FAILURE;
		}
		usage_error("unknown command \"%s\"", argv[i]);
	}
	cur = k;
	cmd_name = k->name;
	return k->run(argc - i - 1, argv + i + 1);
}
