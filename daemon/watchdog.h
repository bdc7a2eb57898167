/*
 * watchdog.h: stops a runaway flow. A thread watches the engine's turns
 * (engine_running_act, engine_turn_seq in engine.h); when one flow turn
 * runs longer than the turn limit without reaching a wait, it records the
 * running activation in the crash record (the file the crash handler
 * writes, one line "ACT runaway MS") and re-executes the daemon with the
 * same arguments: the next incarnation quarantines that activation and
 * serves the others. Nothing of the stuck pass was committed (a pass's
 * writes are committed only after guest code returns), so nothing durable
 * is lost or corrupted. It also makes SIGTERM/SIGINT end the daemon while
 * a turn does not return.
 *
 * What it is not: a preemptive scheduler (a flow turn is never interrupted
 * and resumed) nor a supervisor (it restarts the process itself, in place,
 * same PID). It knows nothing of the engine beyond those two words.
 */
#ifndef AF_WATCHDOG_H
#define AF_WATCHDOG_H

struct watchdog_opts {
	unsigned limit_ms;       /* longest turn; 0: no watchdog */
	const char *record_path; /* the crash record (DIR/crashed) */
	int keep_fd;             /* a socket-activated listener to pass on,
				  * or -1 */
};

/*
 * Makes, once, what a re-execution needs while nothing is locked: argv with
 * --restarted-by-watchdog added (the next incarnation then loads the
 * modules recorded in the data directory, not the files given with
 * --module, which may have changed or gone since) and the environment
 * with notify_socket (NOTIFY_SOCKET as systemd gave it, before
 * notify_init unsets it; NULL: none). 0, or -1 when out of memory.
 */
int watchdog_prepare(int argc, char **argv, const char *notify_socket);

/* Starts the watchdog thread (after watchdog_prepare). o is copied (not the strings). 0, or -1
 * with errno set when the thread could not be made. */
int watchdog_start(const struct watchdog_opts *o);

/* Stops and joins the thread (at shut-down, once no flow runs). */
void watchdog_stop(void);

/* Chains a handler in front of the current SIGTERM and SIGINT handlers
 * (call once the server installed its own): the watchdog learns of the
 * signal, the server still gets it. If a flow turn then keeps the server
 * from stopping for 3 s, the watchdog ends the process (exit 0; the
 * unfinished pass was never acknowledged). */
void watchdog_chain_signals(void);

#endif
