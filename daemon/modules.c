/*
 * modules.c: loading flow modules (see modules.h). Start-up code: it may
 * block, and reports errors as messages for the caller to print and exit.
 *
 * The data directory keeps its code: DIR/modules/SHA256.so (the module's
 * bytes, named by their SHA-256, written to a temporary name, fsynced and
 * renamed, mode 0600) is what is dlopen'ed, so changing or deleting the
 * file given with --module cannot affect the daemon; DIR/modules/set lists
 * the set in use, one "SHA256 PATH" line each in load order (PATH: as
 * given, for messages). A file rather than the store's meta because
 * modules are loaded before the store is opened (the engine's replay needs
 * the complete registry), and the list sits next to the files it names.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builtin_flows.h"
#include "log.h"
#include "modules.h"
#include "registry.h"
#include "sha256.h"

/* What was loaded, for the life of the process: the labels are the
 * registry's owner strings. */
static struct loaded {
	char *label;
	void *handle;
	char hex[2 * SHA256_LEN + 1];
	int64_t since_ms; /* wall clock of the load */
} * loaded;
static size_t nloaded;
/* The set before the last modules_load, until modules_unload_prev (the
 * live upgrade unloads it once nothing runs its code). */
static struct loaded *prev;
static size_t nprev;

/* snprintf for paths and lines whose parts are bounded (modules_load
 * refuses a data directory path longer than PATH_LIMIT). */
#define PATH_LIMIT 3000
static void pathf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- A crash in a module's init (async-signal-safe) ----------------------- */

/* The record DIR/modules/crashed: one line "SIGNAL PATH\tLABEL" (PATH as
 * loaded, LABEL as given). The text after the signal is ready before init
 * runs. */
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
run_init(af_module_init_fn *init, struct af_registry *reg, const char *path,
    const char *label)
{
	struct sigaction sa, old[sizeof(init_sigs) / sizeof(init_sigs[0])];
	stack_t ss, oss;
	size_t i;
	int rc;

	pathf(crash_line, sizeof(crash_line), " %s\t%s\n", path, label);
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

/* The crash record of an earlier start, if any: 1 with *sig, the path
 * loaded and *label (pointing into path) set, else 0. */
static int
read_crash_record(int *sig, char *path, size_t len, const char **label)
{
	FILE *f;
	int n;

	if ((f = fopen(crash_file, "re")) == NULL)
		return 0;
	n = fscanf(f, "%d ", sig) == 1 && fgets(path, (int)len, f) != NULL;
	fclose(f);
	if (n) {
		path[strcspn(path, "\n")] = '\0';
		*label = path + strcspn(path, "\t");
		if (**label == '\t')
			*(char *)(*label)++ = '\0';
		else
			*label = path;
	}
	return n;
}

/* ---- The data directory's copies ----------------------------------------- */

/* Write n bytes at p to path atomically: a temporary name in the same
 * directory, fsync, rename, fsync of the directory (mdir). */
static int
write_atomic(const char *mdir, const char *path, const void *p, size_t n,
    char *err, size_t errlen)
{
	char tmp[4096];
	const char *q = p;
	ssize_t w;
	int fd, dfd;

	pathf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp,
		 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) <
	    0)
		goto fail;
	while (n > 0) {
		if ((w = write(fd, q, n)) < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto fail;
		}
		q += w;
		n -= (size_t)w;
	}
	if (fsync(fd) != 0) {
		close(fd);
		goto fail;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		goto fail;
	if ((dfd = open(mdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return AF_OK;
fail:
	snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
	unlink(tmp);
	return AF_ESTORE;
}

/* Read the file at path (the module label, for messages) into *buf
 * (malloc'd, *len bytes) and its SHA-256 into hex. */
static int
read_hashed(const char *path, const char *label, char **buf, size_t *len,
    char hex[2 * SHA256_LEN + 1], char *err, size_t errlen)
{
	uint8_t d[SHA256_LEN];
	struct sha256 c;
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (strcmp(label, path) == 0)
			snprintf(err, errlen, "module %s: %s", label,
			    strerror(errno));
		else
			snprintf(err, errlen, "module %s: %s: %s", label, path,
			    strerror(errno));
		return AF_ENOTFOUND;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "module %s: %s: not a regular file",
		    label, path);
		close(fd);
		return AF_EINVAL;
	}
	if ((*buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "module %s: out of memory", label);
		return AF_ENOMEM;
	}
	while (got < (size_t)st.st_size &&
	    (r = read(fd, *buf + got, (size_t)st.st_size - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "module %s: %s: %s", label, path,
			    strerror(errno));
			close(fd);
			free(*buf);
			*buf = NULL;
			return AF_ESTORE;
		}
		got += (size_t)r;
	}
	close(fd);
	sha256_init(&c);
	sha256_update(&c, *buf, got);
	sha256_final(&c, d);
	sha256_hex(d, hex);
	*len = got;
	return AF_OK;
}

/* The copy mdir/HEX.so holds what its name says. */
static int
copy_intact(const char *path, const char *label, const char *hex)
{
	char have[2 * SHA256_LEN + 1], err[64], *buf;
	size_t len;

	if (read_hashed(path, label, &buf, &len, have, err, sizeof(err)) !=
	    AF_OK)
		return 0;
	free(buf);
	return strcmp(have, hex) == 0;
}

/* Copy the module file given into mdir/SHA256.so unless an intact copy is
 * there; hex gets the digest, *created whether this call wrote it. */
static int
copy_in(const char *mdir, const char *given, char hex[2 * SHA256_LEN + 1],
    int *created, char *err, size_t errlen)
{
	char path[4096], *buf;
	size_t len;
	int rc;

	*created = 0;
	if ((rc = read_hashed(given, given, &buf, &len, hex, err, errlen)) !=
	    AF_OK)
		return rc;
	pathf(path, sizeof(path), "%s/%s.so", mdir, hex);
	rc = AF_OK;
	if (!copy_intact(path, given, hex)) {
		rc = write_atomic(mdir, path, buf, len, err, errlen);
		*created = rc == AF_OK;
	}
	free(buf);
	return rc;
}

/* Record the set loaded: mdir/set, "SHA256 LABEL" lines. */
static int
write_set(const char *mdir, char (*hex)[2 * SHA256_LEN + 1],
    const char *const *labels, size_t n, char *err, size_t errlen)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if ((f = open_memstream(&text, &len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return AF_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s %s\n", hex[i], labels[i]);
	if (fclose(f) != 0) {
		free(text);
		snprintf(err, errlen, "out of memory");
		return AF_ENOMEM;
	}
	pathf(path, sizeof(path), "%s/set", mdir);
	rc = write_atomic(mdir, path, text, len, err, errlen);
	free(text);
	return rc;
}

/* The recorded set: *n digests and labels (malloc'd arrays and strings,
 * kept for the life of the process), none if there is no record. */
static int
read_set(const char *mdir, char (**hex)[2 * SHA256_LEN + 1], char ***labels,
    size_t *n, char *err, size_t errlen)
{
	char path[4096], line[4200], *sp;
	size_t cap = 0, k;
	void *tmp;
	FILE *f;

	*n = 0;
	*hex = NULL;
	*labels = NULL;
	pathf(path, sizeof(path), "%s/set", mdir);
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? AF_OK : AF_ESTORE;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		sp = strchr(line, ' ');
		k = sp != NULL ? (size_t)(sp - line) : 0;
		if (k != 2 * SHA256_LEN ||
		    strspn(line, "0123456789abcdef") != k) {
			snprintf(err, errlen,
			    "%s: not a list of \"SHA256 PATH\" lines", path);
			fclose(f);
			return AF_EDECODE;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			if ((tmp = realloc(*hex, cap * sizeof(**hex))) == NULL)
				goto nomem;
			*hex = tmp;
			if ((tmp = realloc(*labels, cap * sizeof(char *))) ==
			    NULL)
				goto nomem;
			*labels = tmp;
		}
		memcpy((*hex)[*n], line, k);
		(*hex)[*n][k] = '\0';
		if (((*labels)[*n] = strdup(sp + 1)) == NULL)
			goto nomem;
		(*n)++;
	}
	fclose(f);
	return AF_OK;
nomem:
	fclose(f);
	snprintf(err, errlen, "out of memory");
	return AF_ENOMEM;
}

/* Remove the copies (SHA256.so) that the set just recorded does not name:
 * nothing loads them again (a start without --module loads the set; one
 * with --module copies its files in). One loaded now stays mapped until
 * it is closed. A failure is logged, never an error. */
static void
prune(const char *mdir, char (*hex)[2 * SHA256_LEN + 1], size_t n)
{
	char path[4200];
	struct dirent *d;
	size_t i, len;
	DIR *dp;

	if ((dp = opendir(mdir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		len = strlen(d->d_name);
		if (len != 2 * SHA256_LEN + 3 ||
		    strcmp(d->d_name + 2 * SHA256_LEN, ".so") != 0 ||
		    strspn(d->d_name, "0123456789abcdef") != 2 * SHA256_LEN)
			continue;
		for (i = 0; i < n; i++)
			if (strncmp(d->d_name, hex[i], 2 * SHA256_LEN) == 0)
				break;
		if (i < n)
			continue;
		pathf(path, sizeof(path), "%s/%s", mdir, d->d_name);
		if (unlink(path) != 0)
			log_warn("%s: cannot remove it: %s", path,
			    strerror(errno));
		else
			log_info("removed %s: no longer in the recorded set",
			    path);
	}
	closedir(dp);
}

/* ---- Loading ------------------------------------------------------------- */

static int
load_one(const char *given, const char *path, struct af_registry *reg,
    char *err, size_t errlen)
{
	const unsigned *abi;
	struct registry_mark mark;
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
	mark = registry_mark(reg);
	rc = run_init(init, reg, path, given);
	if (rc != AF_OK) {
		registry_rollback(reg, mark);
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
		/* Nothing of it is registered, but it stays open: its init
		 * may have left other state (threads, atexit handlers). */
		return rc < 0 ? rc : AF_EINVAL;
	}
	log_info("loaded module %s (%s)", given, path);
	/* The handle stays open for the life of the process. */
	loaded[nloaded].label = (char *)given;
	loaded[nloaded].since_ms = wall_ms();
	loaded[nloaded++].handle = h;
	return AF_OK;
}

int
modules_load(const char *dir, const char *const *paths, size_t n,
    struct af_registry *reg, char *err, size_t errlen)
{
	char mdir[4096], path[4096], crashed[4096];
	char(*hex)[2 * SHA256_LEN + 1] = NULL;
	char **labels = NULL;
	const char *clabel = "";
	int rc, sig, have_crash, created, given = n > 0;
	size_t i;

	if (strlen(dir) > PATH_LIMIT) {
		snprintf(err, errlen, "data directory path longer than %d",
		    PATH_LIMIT);
		return AF_EINVAL;
	}
	pathf(mdir, sizeof(mdir), "%s/modules", dir);
	if (mkdir(mdir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", mdir, strerror(errno));
		return AF_ESTORE;
	}
	pathf(crash_file, sizeof(crash_file), "%s/crashed", mdir);
	have_crash = read_crash_record(&sig, crashed, sizeof(crashed), &clabel);
	if (n == 0) {
		/* No --module: the set recorded by the last start that had
		 * some. */
		if ((rc = read_set(mdir, &hex, &labels, &n, err, errlen)) !=
		    AF_OK) {
			if (rc == AF_ESTORE)
				snprintf(err, errlen, "%s/set: %s", mdir,
				    strerror(errno));
			return rc;
		}
	} else {
		/* The set given replaces the recorded one once it loads.
		 * A set that differs from the recorded one is an upgrade:
		 * main.c has checked it (modules_set_differs, checker.h)
		 * before calling here. */
		hex = calloc(n, sizeof(*hex));
		labels = calloc(n, sizeof(*labels));
		if (hex == NULL || labels == NULL) {
			snprintf(err, errlen, "out of memory");
			return AF_ENOMEM;
		}
		for (i = 0; i < n; i++) {
			/* The set is one "SHA256 PATH" line per module. */
			if (strpbrk(paths[i], "\n\r") != NULL) {
				snprintf(err, errlen,
				    "module path \"%.200s\" holds a newline: "
				    "refused (rename the file)",
				    paths[i]);
				return AF_EINVAL;
			}
			labels[i] = (char *)paths[i];
		}
	}
	prev = loaded;
	nprev = nloaded;
	nloaded = 0;
	if ((loaded = calloc(n ? n : 1, sizeof(*loaded))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return AF_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		created = 0;
		if (given &&
		    (rc = copy_in(mdir, labels[i], hex[i], &created, err,
			 errlen)) != AF_OK)
			return rc;
		pathf(path, sizeof(path), "%s/%s.so", mdir, hex[i]);
		if (!given && !copy_intact(path, labels[i], hex[i])) {
			snprintf(err, errlen,
			    "module %s: its copy %s is missing or does not "
			    "match its SHA-256: start with --module naming "
			    "the module file",
			    labels[i], path);
			return AF_ENOTFOUND;
		}
		if (have_crash && strcmp(crashed, path) == 0) {
			snprintf(err, errlen,
			    "module %s crashed the daemon in %s at an earlier "
			    "start (signal %d: %s): not loading it again; "
			    "load a fixed module, or remove %s to retry",
			    labels[i], AF_MODULE_INIT_SYMBOL, sig,
			    strsignal(sig), crash_file);
			return AF_EINVAL;
		}
		if ((rc = load_one(labels[i], path, reg, err, errlen)) !=
		    AF_OK) {
			/* Not kept: the data directory holds modules that
			 * loaded (or crashed, for the record above). */
			if (created)
				unlink(path);
			return rc;
		}
		memcpy(loaded[nloaded - 1].hex, hex[i], sizeof(hex[i]));
	}
	registry_set_owner(reg, "");
	if (given &&
	    (rc = write_set(mdir, hex, (const char *const *)labels, n, err,
		 errlen)) != AF_OK)
		return rc;
	if (given)
		prune(mdir, hex, n);
	if (have_crash) {
		log_warn("module %s crashed the daemon in %s at an earlier "
			 "start (signal %d: %s); it is not loaded now",
		    clabel, AF_MODULE_INIT_SYMBOL, sig, strsignal(sig));
		unlink(crash_file);
	}
	free(hex);
	free(labels);
	return AF_OK;
}

int
modules_load_files(const char *const *paths, size_t n, struct af_registry *reg,
    char *err, size_t errlen)
{
	size_t i;
	int rc;

	crash_file[0] = '\0'; /* the crash handler writes no record */
	if ((loaded = calloc(n ? n : 1, sizeof(*loaded))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return AF_ENOMEM;
	}
	nloaded = 0;
	for (i = 0; i < n; i++)
		if ((rc = load_one(paths[i], paths[i], reg, err, errlen)) !=
		    AF_OK)
			return rc;
	registry_set_owner(reg, "");
	return AF_OK;
}

static int
cmp_hex(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
modules_set_differs(const char *dir, const char *const *paths, size_t n,
    bool *differs, char *err, size_t errlen)
{
	char mdir[4096], (*rec)[2 * SHA256_LEN + 1] = NULL, **labels = NULL;
	char(*given)[2 * SHA256_LEN + 1] = NULL, *buf;
	size_t nrec = 0, i, len;
	int rc;

	*differs = false;
	if (strlen(dir) > PATH_LIMIT) {
		snprintf(err, errlen, "data directory path longer than %d",
		    PATH_LIMIT);
		return AF_EINVAL;
	}
	pathf(mdir, sizeof(mdir), "%s/modules", dir);
	if ((rc = read_set(mdir, &rec, &labels, &nrec, err, errlen)) != AF_OK) {
		if (rc == AF_ESTORE)
			snprintf(err, errlen, "%s/set: %s", mdir,
			    strerror(errno));
		return rc;
	}
	if (nrec == 0) /* nothing recorded: a first start, no upgrade */
		goto out;
	if (nrec != n) {
		*differs = true;
		goto out;
	}
	if ((given = calloc(n, sizeof(*given))) == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = AF_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rc = read_hashed(paths[i], paths[i], &buf, &len, given[i],
			 err, errlen)) != AF_OK)
			goto out;
		free(buf);
	}
	/* The same set in any order is no upgrade. */
	qsort(rec, n, sizeof(*rec), cmp_hex);
	qsort(given, n, sizeof(*given), cmp_hex);
	for (i = 0; i < n; i++)
		if (strcmp(rec[i], given[i]) != 0)
			*differs = true;
out:
	for (i = 0; i < nrec; i++)
		free(labels[i]);
	free(labels);
	free(rec);
	free(given);
	return rc;
}

/* ---- The live upgrade ----------------------------------------------------- */

int
modules_registry(const char *dir, const char *const *paths, size_t n,
    struct af_registry **out, char *err, size_t errlen)
{
	struct af_registry *reg;
	struct loaded *was;
	size_t nwas;
	int rc;

	*out = NULL;
	if ((reg = registry_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return AF_ENOMEM;
	}
	registry_set_owner(reg, "built-in");
	if ((rc = builtin_flows_register(reg)) != AF_OK) {
		snprintf(err, errlen, "built-in flows: %s", af_strerror(rc));
		registry_free(reg);
		return rc;
	}
	was = loaded;
	nwas = nloaded;
	if ((rc = modules_load(dir, paths, n, reg, err, errlen)) != AF_OK) {
		/* Back to the set loaded before: what loaded of the new one
		 * is closed again (its copies stay, content-addressed). */
		if (loaded != was) {
			for (size_t i = 0; i < nloaded; i++)
				dlclose(loaded[i].handle);
			free(loaded);
		}
		loaded = was;
		nloaded = nwas;
		prev = NULL;
		nprev = 0;
		registry_free(reg);
		return rc;
	}
	*out = reg;
	return AF_OK;
}

void
modules_unload_prev(void)
{
	/* A module in both sets was opened twice (the same copy): the
	 * loader's count keeps it. */
	for (size_t i = 0; i < nprev; i++)
		dlclose(prev[i].handle);
	free(prev);
	prev = NULL;
	nprev = 0;
}

size_t
modules_count(void)
{
	return nloaded;
}

const char *
modules_info(size_t i, const char **sha256, int64_t *since_ms)
{
	if (i >= nloaded)
		return NULL;
	*sha256 = loaded[i].hex;
	*since_ms = loaded[i].since_ms;
	return loaded[i].label;
}
