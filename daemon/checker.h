/*
 * checker.h: the upgrade checker (issue 9, items 2 and 6). A process of its
 * own -- the daemon re-executes its binary as `asyncflowd --check-upgrade
 * ...` (checker_spawn) -- replays every unfinished activation (or one, for
 * `asyncflowctl replay`) against a module set from one read-only snapshot
 * of the store, in the engine's check mode (engine.h): nothing written, no
 * host method run, nothing sent. It prints ONE JSON object on stdout:
 *
 *   {"ok": BOOL, "activations": N, "entries": M, "seconds": S,
 *    "failing": [{"activation": A, "flow": NAME, "verdict": V,
 *                 "diagnostic": TEXT, "index": I}, ...]}
 *
 * or, replaying one activation, {"activation": A, "flow": F, "verdict": V,
 * "diagnostic": D, "index": I, "entries": [{"index": I, "entry": TEXT,
 * "guest": WHAT}, ...]}; and exits 0 (every one passes), 3 (some fail) or
 * 1 (an error: then, instead of JSON, one line "error CODE TEXT", CODE
 * an AF_E* code).
 *
 * The replays run in a worker process it forks, so new code that crashes
 * (SIGSEGV...) is the verdict "crashed" of the activation it was
 * replaying, and one whose turn runs past the turn limit the verdict
 * "runaway"; a new worker goes on with the next activation.
 *
 * Not here: deciding to switch to the new code (the live upgrade), the
 * protocol (api_ops.c), the event loop (server.c watches the pipe).
 */
#ifndef AF_CHECKER_H
#define AF_CHECKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct checker_opts {
	const char *dir;            /* the data directory */
	const char *const *modules; /* the complete new set (paths) */
	size_t nmodules;
	unsigned turn_limit_ms; /* 0: 2000 */
	size_t stack_size;      /* coroutine stacks; 0: default */
	size_t map_size;        /* bytes; 0: default */
	uint64_t replay;        /* nonzero: only this one, listed */
};

/* Exit statuses of the checker process. */
#define CHECKER_OK      0
#define CHECKER_FAILING 3
#define CHECKER_ERROR   1

/* Run the check (in the checker process): prints the JSON, returns the
 * exit status. */
int checker_main(const struct checker_opts *o);

/*
 * From the daemon: start the checker process for o (the daemon's own
 * binary, /proc/self/exe), its stdout a pipe: *fd gets the read end
 * (non-blocking, close-on-exec), *pid the process. It dies with the
 * daemon. 0, or -1 with errno set (nothing started). Safe in a process
 * with other threads: everything the child needs is made before fork.
 */
int checker_spawn(const struct checker_opts *o, pid_t *pid, int *fd);

/* The daemon's settings a check inherits (data directory, turn limit,
 * stack and map size), set once at start (main.c); the directory is
 * copied. checker_defaults gives them back (no modules, no replay).
 * 0, or -1 when out of memory. */
int checker_set_defaults(const struct checker_opts *o);
const struct checker_opts *checker_defaults(void);

/*
 * The failing activations of a report checker_main printed (the check's
 * JSON object): fn(ctx, act, verdict) for each, in order, verdict one of
 * "diverged", "finished-early", "crashed", "runaway", "flow-missing" (a
 * pointer into a static string). Stops at fn's first non-zero return
 * and returns it; 0 otherwise. A report that is not the checker's (no
 * "failing" list) has none.
 */
int checker_failing(const char *report,
    int (*fn)(void *ctx, uint64_t act, const char *verdict), void *ctx);

#endif /* AF_CHECKER_H */
