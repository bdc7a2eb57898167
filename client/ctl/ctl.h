/*
 * ctl.h: what the files of asyncflowctl share. Not a library: everything
 * here exits the program on failure (usage errors with 2, the rest with 1)
 * instead of returning a code.
 *
 *   main.c   messages and exits, argument parsing, connecting, the command
 *            table and the usage built from it, main()
 *   json.c   base64 and JSON <-> Value (jansson), the JSON of replies
 *   cmds.c   the commands mkvow ... stats
 *   serve.c  the serve command: a process runner for served objects
 *   table.c  what people read: -o table, times, the progress line
 *
 * Exit codes (the contract with scripts; asyncflowctl.1 lists them):
 *
 *   code  meaning
 *   ----  -------------------------------------------------------------
 *   0     success: the answer is on stdout (--help, --version: the text)
 *   1     failure: cannot connect, the daemon refused the request (its
 *         error name and message on stderr), a wait timed out (vow
 *         --wait --timeout, start --wait --timeout), the connection was
 *         lost (serve ends only so), stdout cannot be written, out of
 *         memory
 *   2     usage error, and nothing was sent: unknown command or option,
 *         a missing or malformed argument, JSON that does not parse or is
 *         not a value, an @FILE that cannot be read or is not JSON
 *
 * Output: -o json (the default when stdout is not a terminal) prints one
 * JSON value, the contract above; -o table (the default on a terminal)
 * prints the same answer for people (table.c). Neither format ever gets
 * progress: that goes to stderr, and only when stderr is a terminal.
 */
#ifndef AF_CTL_H
#define AF_CTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "asyncflow.h" /* and asyncflow/protocol.h */

#define EXIT_USAGE       2
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN         __attribute__((noreturn))

/* ---- main.c: messages and exits ---------------------------------------- */

/* "asyncflowctl: COMMAND: message" on stderr. */
void vwarnx(const char *fmt, va_list ap) PRINTFLIKE(1, 0);
/* vwarnx, then exit(code). */
void fail(int code, const char *fmt, ...) PRINTFLIKE(2, 3) NORETURN;
void nomem(void) NORETURN;
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
/* The message, the command's synopsis and a hint on stderr; exit 2. */
void usage_error(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;

/* ---- main.c: arguments -------------------------------------------------- */

/* The global options, which may come anywhere on the line (before "--"):
 * -s/--socket PATH and -o/--output json|table. */
enum output_format {
	OUT_DEFAULT, /* table if stdout is a terminal, else json */
	OUT_JSON,
	OUT_TABLE,
};
extern enum output_format output_format;
/* If argv[0] (of argc) is a global option, take it (and its value) and
 * return how many arguments it used; else 0. Usage errors exit 2. */
int global_option(int argc, char **argv);

struct opt {
	const char *name; /* without the leading "--" */
	const char **arg; /* option with an argument, or */
	bool *flag;       /* a flag */
};

int parse_args(int argc, char **argv, const struct opt *opts, char **pos,
    int maxpos);
uint64_t parse_id(const char *what, const char *s);
void parse_resolver(const char *s, uint8_t out[AF_RESOLVER_LEN]);

/* ---- main.c: the daemon ---------------------------------------------------- */

int64_t now_ms(void);
extern const char *socket_path; /* -s or $ASYNCFLOW_SOCKET; NULL: default */
extern long trust_uid; /* --trust-uid: also a daemon of this uid; 0: none */
af_conn *connect_within(int timeout_ms);
af_conn *connect_daemon(void);
void call_failed(af_conn *c, int rc) NORETURN;

/* ---- json.c: JSON -> Value ---------------------------------------------------- */

/* A JSON argument of a command (named `arg`, e.g. "ARGS_JSON"): the text
 * itself, "@FILE" for the contents of FILE, or "-" for stdin. A file that
 * cannot be read, or whose contents are not JSON, is a usage error (exit
 * 2) naming the file. Defined in cmds.c. */
Asyncflow__Value *parse_value_arg(const char *arg, const char *text);

/* Where json_to_value is in the JSON it converts, and its error. */
struct jpath {
	const char *arg; /* e.g. "ARGS_JSON" */
	char buf[512];   /* e.g. ".a[2].b" */
	char msg[1200];  /* the error, once there is one */
};

Asyncflow__Value *json_to_value(json_t *j, struct jpath *jp, int depth);
Asyncflow__Value *parse_value(const char *arg, const char *text);

/* ---- json.c: Value -> JSON ---------------------------------------------------- */

/* The digits print_json gives doubles; note_double raises it. */
extern int json_real_precision;
void note_double(double d);
json_t *jnew(json_t *j);
void jset(json_t *obj, const char *key, json_t *val);
void jpush(json_t *arr, json_t *val);
json_t *jstr(const char *s);
json_t *juint(uint64_t n);
json_t *value_to_json_soft(const Asyncflow__Value *v, char *err, size_t errlen);
json_t *value_to_json(const Asyncflow__Value *v);
int print_json(json_t *j);
json_t *vow_ref(uint64_t vow);
json_t *activation_json(const Asyncflow__ActivationInfo *a);
json_t *vow_json(const Asyncflow__VowInfo *vi, bool with_value);

/* ---- table.c: output for people --------------------------------------------- */

/* What an answer is, for -o table. */
enum answer_kind {
	ANS_OBJECT,     /* any other object: key and value lines */
	ANS_LIST,       /* ls: an array of activations */
	ANS_FAILURES,   /* failures: an array of Failed activations */
	ANS_ACTIVATION, /* show */
	ANS_JOURNAL,    /* journal: an array of entries */
	ANS_STATS,      /* stats: counters by name */
	ANS_MODULES,    /* modules: {"flows": [...], "objects": [...]} */
};
/* Prints answer j (and frees it) as -o says: print_json, or as a table.
 * Returns EXIT_SUCCESS; exits 1 if stdout cannot be written. */
int print_answer(json_t *j, enum answer_kind kind);
/* Renders j as a table on f (j stays the caller's). */
void print_table(FILE *f, const json_t *j, enum answer_kind kind);
/* ms since the epoch as ISO 8601 UTC with milliseconds
 * ("2026-12-01T17:30:00.123Z") into buf (at least 32 bytes). */
const char *iso_time(int64_t ms, char *buf, size_t n);

/* The progress line on stderr while waiting (only if stderr is a
 * terminal; else these do nothing). `what` is e.g. "vow 12"; deadline_ms
 * (of now_ms) < 0: no timeout, a spinner with the elapsed time, else a
 * bar filling up to the timeout. progress_done erases the line. */
void progress_start(const char *what, int64_t deadline_ms);
void progress_tick(void);
void progress_done(void);
bool progress_shown(void);

/* ---- The commands (cmds.c, serve.c): argv after the command's name ---------- */

int cmd_mkvow(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_settle(int argc, char **argv);
int cmd_vow(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_journal(int argc, char **argv);
int cmd_failures(int argc, char **argv);
int cmd_wake(int argc, char **argv);
int cmd_terminate(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_call(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_modules(int argc, char **argv);

#endif /* AF_CTL_H */
