/*
 * watchdog.c: the runaway-turn watchdog (see watchdog.h). One thread polls
 * the engine's turn counter a few times per limit; it never touches engine
 * state, only the two words the engine publishes and the crash record.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "watchdog.h"

#define TERM_GRACE_MS 3000

static struct watchdog_opts wd;
static struct sigaction chained[2]; /* SIGTERM, SIGINT before ours */
static volatile sig_atomic_t term_seen;
static volatile int64_t term_at_ms;
static sigset_t start_mask; /* the starting thread's, for the next exec */
static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv; /* on CLOCK_MONOTONIC (watchdog_start) */
static volatile sig_atomic_t restarting; /* past the last SIGTERM check */
/* The re-execution's argv and environment, made by watchdog_prepare: at
 * restart time the main thread may hold any lock (malloc's too). */
static char **re_argv, **re_envp;
static char re_listen_pid[32];
static bool stopping, started;
static pthread_t thread;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
term_handler(int sig)
{
	struct sigaction *old = &chained[sig == SIGTERM ? 0 : 1];

	if (restarting) /* the next incarnation would not know of it */
		_exit(0);
	if (!term_seen) {
		term_at_ms = now_ms();
		term_seen = 1;
	}
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction != NULL)
			old->sa_sigaction(sig, NULL, NULL);
	} else if (old->sa_handler == SIG_DFL) {
		signal(sig, SIG_DFL);
		raise(sig);
	} else if (old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
	}
}

void
watchdog_chain_signals(void)
{
	static const int sigs[2] = { SIGTERM, SIGINT };
	static bool chained_once;
	struct sigaction sa;
	int i;

	if (wd.limit_ms == 0 || chained_once)
		return;
	chained_once = true;
	for (i = 0; i < 2; i++) {
		if (sigaction(sigs[i], NULL, &chained[i]) != 0)
			continue;
		sa = chained[i];
		sa.sa_flags &= ~SA_SIGINFO;
		sa.sa_handler = term_handler;
		sigaction(sigs[i], &sa, NULL);
	}
}

/*
 * Everything this thread says goes through log_unlocked, and errors are
 * named by errtext: the turn it stops may be stuck holding stdio's lock,
 * malloc's or gettext's (strerror translates), and a wait for one of them
 * here would wedge the daemon for good.
 */
static const char *
errtext(int e)
{
#if defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	const char *s = strerrordesc_np(e);

	if (s != NULL)
		return s;
#else
	(void)e;
#endif
	return "system error";
}

/* Appends "ACT runaway MS" to the crash record, durably. */
static void
record(uint64_t act)
{
	char line[64];
	int fd, n;

	n = snprintf(line, sizeof(line), "%llu runaway %u\n",
	    (unsigned long long)act, wd.limit_ms);
	fd = open(wd.record_path,
	    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_unlocked(LOG_ERROR,
		    "cannot write the crash record %s: %s (errno %d)",
		    wd.record_path, errtext(errno), errno);
		return;
	}
	if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
		log_unlocked(LOG_ERROR,
		    "cannot write the crash record %s: %s (errno %d)",
		    wd.record_path, errtext(errno), errno);
	close(fd);
}

/* Every descriptor but stdio (and the passed listener) closes at exec:
 * the next incarnation opens its own. */
static void
cloexec_all(void)
{
	int fd, max;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
		/* A kernel before 5.11: one at a time. */
		max = (int)sysconf(_SC_OPEN_MAX);
		if (max < 0 || max > 1 << 20)
			max = 1 << 20;
		for (fd = 3; fd < max; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	if (wd.keep_fd >= 0)
		(void)fcntl(wd.keep_fd, F_SETFD, 0);
}

static _Noreturn void
restart(void)
{
	cloexec_all();
	/* A process inherits the execing thread's mask: not this thread's
	 * (everything blocked) but the daemon's. */
	pthread_sigmask(SIG_SETMASK, &start_mask, NULL);
	execve("/proc/self/exe", re_argv, re_envp);
	log_unlocked(LOG_ERROR,
	    "cannot re-execute the daemon (/proc/self/exe): %s (errno %d); "
	    "exiting",
	    errtext(errno), errno);
	_exit(1);
}

/* Whether s is the variable `name` (NAME=...). */
static bool
is_var(const char *s, const char *name)
{
	size_t n = strlen(name);

	return strncmp(s, name, n) == 0 && s[n] == '=';
}

int
watchdog_prepare(int argc, char **argv, const char *notify_socket)
{
	static const char flag[] = "--restarted-by-watchdog";
	extern char **environ;
	size_t n = 0, i, k = 0;
	int a, j = 0;

	re_argv = calloc((size_t)argc + 2, sizeof(*re_argv));
	for (n = 0; environ[n] != NULL; n++)
		;
	re_envp = calloc(n + 4, sizeof(*re_envp));
	if (re_argv == NULL || re_envp == NULL)
		return -1;
	for (a = 0; a < argc; a++)
		if (strcmp(argv[a], flag) != 0)
			re_argv[j++] = argv[a];
	re_argv[j] = (char *)flag;
	/* The systemd variables are set again for the same PID. */
	for (i = 0; i < n; i++)
		if (!is_var(environ[i], "LISTEN_PID") &&
		    !is_var(environ[i], "LISTEN_FDS") &&
		    !is_var(environ[i], "LISTEN_FDNAMES") &&
		    !is_var(environ[i], "NOTIFY_SOCKET"))
			re_envp[k++] = environ[i];
	if (notify_socket != NULL) {
		size_t len = strlen("NOTIFY_SOCKET=") + strlen(notify_socket);
		char *v = malloc(len + 1);

		if (v == NULL)
			return -1;
		snprintf(v, len + 1, "NOTIFY_SOCKET=%s", notify_socket);
		re_envp[k++] = v;
	}
	/* LISTEN_PID and LISTEN_FDS go in the two slots left, if a listener
	 * is passed (watchdog_start knows). */
	return 0;
}

/* Sleeps ms, or less when watchdog_stop asks; true when asked to stop. */
static bool
nap(unsigned ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&stop_mu);
	if (!stopping)
		pthread_cond_timedwait(&stop_cv, &stop_mu, &ts);
	stop = stopping;
	pthread_mutex_unlock(&stop_mu);
	return stop;
}

static void *
run(void *arg)
{
	uint64_t act, seq, last_seq = 0;
	int64_t since = now_ms(), t;
	unsigned poll_ms = wd.limit_ms / 10;
	sigset_t all;

	(void)arg;
	/* Signals are for the main thread (the server's handlers). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (poll_ms < 10)
		poll_ms = 10;
	if (poll_ms > 100)
		poll_ms = 100;
	for (;;) {
		if (nap(poll_ms))
			return NULL;
		act = __atomic_load_n(&engine_running_act, __ATOMIC_RELAXED);
		seq = __atomic_load_n(&engine_turn_seq, __ATOMIC_RELAXED);
		t = now_ms();
		/* A turn is in progress while seq is odd; a new one, or
		 * none, starts the clock again. */
		if (act == 0 || (seq & 1) == 0 || seq != last_seq) {
			last_seq = seq;
			since = t;
			continue;
		}
		if (t - since >= (int64_t)wd.limit_ms) {
			log_unlocked(LOG_WARN,
			    "activation %llu ran away: one flow turn has "
			    "run %lld ms without reaching a wait "
			    "(--turn-limit %u ms); quarantining it and "
			    "restarting the daemon",
			    (unsigned long long)act, (long long)(t - since),
			    wd.limit_ms);
			record(act);
			restarting = 1; /* a SIGTERM from now on: exit */
			if (term_seen) {
				log_unlocked(LOG_INFO,
				    "stopping (SIGTERM) instead of "
				    "restarting");
				_exit(0);
			}
			restart();
		}
		if (term_seen && t - term_at_ms >= TERM_GRACE_MS) {
			log_unlocked(LOG_WARN,
			    "activation %llu: a flow turn has kept the "
			    "daemon from stopping for %d ms; exiting "
			    "without finishing the pass (nothing of it "
			    "was acknowledged)",
			    (unsigned long long)act, TERM_GRACE_MS);
			_exit(0);
		}
	}
	return NULL;
}

int
watchdog_start(const struct watchdog_opts *o)
{
	pthread_attr_t at;
	int rc;

	pthread_condattr_t ca;
	size_t k;

	wd = *o;
	if (wd.limit_ms == 0)
		return 0;
	if (re_argv == NULL || re_envp == NULL) {
		errno = EINVAL; /* watchdog_prepare first */
		return -1;
	}
	if (wd.keep_fd >= 0) {
		for (k = 0; re_envp[k] != NULL; k++)
			;
		snprintf(re_listen_pid, sizeof(re_listen_pid), "LISTEN_PID=%ld",
		    (long)getpid());
		re_envp[k++] = re_listen_pid;
		re_envp[k] = (char *)"LISTEN_FDS=1";
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_sigmask(SIG_SETMASK, NULL, &start_mask);
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 * 1024);
	rc = pthread_create(&thread, &at, run, NULL);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	started = true;
	return 0;
}

void
watchdog_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&stop_mu);
	stopping = true;
	pthread_cond_signal(&stop_cv);
	pthread_mutex_unlock(&stop_mu);
	pthread_join(thread, NULL);
	started = false;
}
