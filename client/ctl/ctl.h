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
 */
#ifndef AF_CTL_H
#define AF_CTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
af_conn *connect_within(int timeout_ms);
af_conn *connect_daemon(void);
void call_failed(af_conn *c, int rc) NORETURN;

/* ---- json.c: JSON -> Value ---------------------------------------------------- */

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
int cmd_stats(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif /* AF_CTL_H */
