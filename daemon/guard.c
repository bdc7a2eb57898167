/*
 * guard.c: fault-guarded walks (see guard.h). sigsetjmp without saving the
 * signal mask (no system call on the common path); after a fault the
 * signal that was blocked while its handler ran is unblocked again here.
 */
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>

#include "guard.h"

static _Thread_local sigjmp_buf guard_jmp;
static _Thread_local volatile sig_atomic_t guard_armed;

int
guard_run(int (*fn)(void *), void *arg)
{
	sigset_t ss;
	int rc;

	if (sigsetjmp(guard_jmp, 0) != 0) {
		guard_armed = 0;
		sigemptyset(&ss);
		sigaddset(&ss, SIGSEGV);
		sigaddset(&ss, SIGBUS);
		sigprocmask(SIG_UNBLOCK, &ss, NULL);
		return -1;
	}
	guard_armed = 1;
	rc = fn(arg);
	guard_armed = 0;
	return rc;
}

void
guard_fault(int sig)
{
	if (guard_armed && (sig == SIGSEGV || sig == SIGBUS)) {
		guard_armed = 0;
		siglongjmp(guard_jmp, 1);
	}
}
