/*
 * modules.c: loading flow modules (see modules.h). Start-up code: it may
 * block, and reports errors as messages for the caller to print and exit.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "modules.h"
#include "registry.h"

/* ---- A crash in a module's init (async-signal-safe) ----------------------- */

/* The record DIR/modules/crashed: one line "SIGNAL PATH" (PATH as loaded).
 * The line's text after the signal is ready before init runs. */
static char crash_file[4096];
static char crash_line[4096 + 2];
static char init_stack[1 << 16]; /* the handler's stack (sigaltstack) */
static const int init_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

static void
init_crash_handler(int sig)
{
	char num[16];
	int fd, i = sizeof(num), s = sig;

	do {
		num[--i] = (char)('0' + s % 10);
		s /= 10;
	} while (s > 0 && i > 0);
	if ((fd = open(crash_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
		 0600)) >= 0) {
		if (write(fd, num + i, sizeof(num) - (size_t)i) < 0 ||
		    write(fd, crash_line, strlen(crash_line)) < 0)
			(void)0;
		fsync(fd);
		close(fd);
	}
	/* SA_RESETHAND restored the default: let the signal kill us. */
	raise(sig);
}

/* Run init(reg, AF_MODULE_ABI) with the crash record armed for path. */
static int
run_init(af_module_init_fn *init, struct af_registry *reg, const char *path)
{
	struct sigaction sa, old[sizeof(init_sigs) / sizeof(init_sigs[0])];
	stack_t ss, oss;
	size_t i;
	int rc;

	snprintf(crash_line, sizeof(crash_line), " %s\n", path);
	ss.ss_sp = init_stack;
	ss.ss_size = sizeof(init_stack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, &oss) != 0)
		oss.ss_flags = SS_DISABLE;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = init_crash_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(init_sigs) / sizeof(init_sigs[0]); i++)
		sigaction(init_sigs[i], &sa, &old[i]);
	rc = init(reg, AF_MODULE_ABI);
	for (i = 0; i < sizeof(init_sigs) / sizeof(init_sigs[0]); i++)
		sigaction(init_sigs[i], &old[i], NULL);
	if (!(oss.ss_flags & SS_DISABLE))
		sigaltstack(&oss, NULL);
	return rc;
}

/* The crash record of an earlier start, if any: 1 with *sig and path set
 * (path[0..len)), else 0. */
static int
read_crash_record(int *sig, char *path, size_t len)
{
	FILE *f;
	int n;

	if ((f = fopen(crash_file, "re")) == NULL)
		return 0;
	n = fscanf(f, "%d ", sig) == 1 && fgets(path, (int)len, f) != NULL;
	fclose(f);
	if (n)
		path[strcspn(path, "\n")] = '\0';
	return n;
}

/* ---- Loading ------------------------------------------------------------- */

static int
load_one(const char *given, const char *path, struct af_registry *reg,
    char *err, size_t errlen)
{
	const unsigned *abi;
	af_module_init_fn *init;
	const char *why;
	void *h;
	int rc;

	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "module %s: cannot load it: %s", given,
		    dlerror());
		return AF_EINVAL;
	}
	*(const void **)&abi = dlsym(h, AF_MODULE_ABI_SYMBOL);
	if (abi != NULL && *abi != AF_MODULE_ABI) {
		snprintf(err, errlen,
		    "module %s: built for module ABI %u, this daemon's is %u: "
		    "rebuild it against this release's flow.h",
		    given, *abi, AF_MODULE_ABI);
		dlclose(h);
		return AF_EINVAL;
	}
	*(void **)&init = dlsym(h, AF_MODULE_INIT_SYMBOL);
	if (init == NULL) {
		snprintf(err, errlen,
		    "module %s: no %s entry point (a flow module exports "
		    "int %s(struct af_registry *, unsigned))",
		    given, AF_MODULE_INIT_SYMBOL, AF_MODULE_INIT_SYMBOL);
		dlclose(h);
		return AF_EINVAL;
	}
	registry_set_owner(reg, given);
	registry_clear_error(reg);
	rc = run_init(init, reg, path);
	if (rc != AF_OK) {
		why = registry_error(reg);
		if (why[0] != '\0')
			snprintf(err, errlen,
			    "module %s: %s failed (%s, %s): %s", given,
			    AF_MODULE_INIT_SYMBOL, af_errname(rc),
			    af_strerror(rc), why);
		else
			snprintf(err, errlen,
			    "module %s: %s refused to load (returned %d, %s: "
			    "%s)%s",
			    given, AF_MODULE_INIT_SYMBOL, rc, af_errname(rc),
			    af_strerror(rc),
			    abi == NULL ?
				"; it does not export "
				"af_module_abi, so its ABI is unknown" :
				"");
		/* Not closed: it may have registered some names. */
		return rc < 0 ? rc : AF_EINVAL;
	}
	log_info("loaded module %s", given);
	/* The handle stays open for the life of the process. */
	return AF_OK;
}

int
modules_load(const char *dir, const char *const *paths, size_t n,
    struct af_registry *reg, char *err, size_t errlen)
{
	char path[4096], crashed[4096];
	int rc, sig, have_crash;
	size_t i;

	snprintf(path, sizeof(path), "%s/modules", dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return AF_ESTORE;
	}
	snprintf(crash_file, sizeof(crash_file), "%s/modules/crashed", dir);
	have_crash = read_crash_record(&sig, crashed, sizeof(crashed));
	for (i = 0; i < n; i++) {
		/* dlopen takes a name without '/' for a library to search
		 * for: a file given on the command line is a path. */
		if (strchr(paths[i], '/') == NULL)
			snprintf(path, sizeof(path), "./%s", paths[i]);
		else
			snprintf(path, sizeof(path), "%s", paths[i]);
		if (have_crash && strcmp(crashed, path) == 0) {
			snprintf(err, errlen,
			    "module %s crashed the daemon in %s at an earlier "
			    "start (signal %d: %s): not loading it again; "
			    "load a fixed module, or remove %s to retry",
			    paths[i], AF_MODULE_INIT_SYMBOL, sig,
			    strsignal(sig), crash_file);
			return AF_EINVAL;
		}
		if ((rc = load_one(paths[i], path, reg, err, errlen)) != AF_OK)
			return rc;
	}
	registry_set_owner(reg, "");
	if (have_crash) {
		log_warn("module %s crashed the daemon in %s at an earlier "
			 "start (signal %d: %s); it is not loaded now",
		    crashed, AF_MODULE_INIT_SYMBOL, sig, strsignal(sig));
		unlink(crash_file);
	}
	return AF_OK;
}
