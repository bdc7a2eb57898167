/*
 * faultshim.c: an LD_PRELOAD library for the fault tests
 * (tests/e2e/fault-*.sh, power-loss.sh): it makes the write and sync
 * calls on one file fail as a bad or full disk makes them fail, below
 * LMDB, in a real asyncflowd.
 *
 * It wraps what liblmdb calls on its data file (liblmdb 0.9 without
 * MDB_WRITEMAP: open, write, pwrite, writev after lseek, fsync, fdatasync;
 * pwritev and the *64 names too, for other builds) and counts the calls on
 * the files whose path contains AFSHIM_FILE (default "data.mdb", which
 * also matches the "data.mdb.new" a new directory is built in). msync is
 * not wrapped: LMDB uses it only with MDB_WRITEMAP, which asyncflowd does
 * not set. Settings, from the environment:
 *
 *   AFSHIM_N=K       fail the Kth counted call (1 = the first); 0/unset:
 *                    none
 *   AFSHIM_COUNT=C   ... and the C-1 after it too (default 1)
 *   AFSHIM_OPS=W     count "write" calls, "sync" calls, "any" (default),
 *                    or "meta": the writes that start in the first two
 *                    pages, where LMDB keeps its two meta pages (the
 *                    write that ends each commit, and whose failure puts
 *                    the environment in MDB_PANIC)
 *   AFSHIM_ERRNO=E   EIO (default) or ENOSPC
 *   AFSHIM_TORN=1    a failing write writes its first half, then fails
 *   AFSHIM_HOLD=PATH every counted call fails while PATH exists
 *   AFSHIM_LOG=PATH  append "fault K CALL" for each failure, and at exit
 *                    "calls K metas M": how many calls were counted, and
 *                    how many meta page writes were made
 *   AFSHIM_UNDO=PATH the power-loss log: before each write that is not
 *                    durable on return (no O_DSYNC), the bytes it
 *                    overwrites; the durable writes (O_DSYNC) themselves;
 *                    a sync of the file empties it. tests/e2e/power-loss.sh
 *                    replays it backwards on a copy of the file to get
 *                    what a power loss would have left on disk.
 *
 * Not a general fault injector: one file, one errno, no reads; and not
 * thread-safe (asyncflowd is single-threaded).
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXFD 4096

static struct {
	bool init;
	const char *file;
	unsigned long n, count, calls, metas;
	int ops; /* 1 write, 2 sync, 3 any, 4 meta writes */
	off_t meta_end;
	int err;
	bool torn;
	const char *hold, *log, *undo;
	bool tracked[MAXFD], dsync[MAXFD];
} sh;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);

static void
sym(void *fp, const char *name)
{
	*(void **)fp = dlsym(RTLD_NEXT, name);
}

static void
shim_init(void)
{
	const char *v;

	if (sh.init)
		return;
	sh.init = true;
	sym(&real_write, "write");
	sym(&real_pwrite, "pwrite");
	sym(&real_pread, "pread");
	sym(&real_writev, "writev");
	sym(&real_pwritev, "pwritev");
	sym(&real_fsync, "fsync");
	sym(&real_fdatasync, "fdatasync");
	sym(&real_open, "open");
	sym(&real_openat, "openat");
	sym(&real_close, "close");
	sh.file = (v = getenv("AFSHIM_FILE")) && *v ? v : "data.mdb";
	sh.n = (v = getenv("AFSHIM_N")) ? strtoul(v, NULL, 10) : 0;
	sh.count = (v = getenv("AFSHIM_COUNT")) ? strtoul(v, NULL, 10) : 1;
	v = getenv("AFSHIM_OPS");
	sh.ops = v == NULL          ? 3 :
	    strcmp(v, "write") == 0 ? 1 :
	    strcmp(v, "sync") == 0  ? 2 :
	    strcmp(v, "meta") == 0  ? 4 :
				      3;
	sh.meta_end = 2 * sysconf(_SC_PAGESIZE);
	v = getenv("AFSHIM_ERRNO");
	sh.err = v != NULL && strcmp(v, "ENOSPC") == 0 ? ENOSPC : EIO;
	sh.torn = (v = getenv("AFSHIM_TORN")) != NULL && *v == '1';
	sh.hold = getenv("AFSHIM_HOLD");
	sh.log = getenv("AFSHIM_LOG");
	sh.undo = getenv("AFSHIM_UNDO");
}

static void
logf_(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int fd, n;

	if (sh.log == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fd = real_open(sh.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)real_write(fd, line, (size_t)n);
		real_close(fd);
	}
}

__attribute__((destructor)) static void
shim_fini(void)
{
	if (sh.init)
		logf_("calls %lu metas %lu\n", sh.calls, sh.metas);
}

static bool
tracked(int fd)
{
	shim_init();
	return fd >= 0 && fd < MAXFD && sh.tracked[fd];
}

/* Count a call of kind (1 write at off, 2 sync) on a tracked fd: whether
 * it must fail (errno is then set). */
static bool
must_fail(int kind, off_t off, const char *call)
{
	if (kind == 1 && off < sh.meta_end)
		sh.metas++;
	if (sh.ops == 4 ? kind != 1 || off >= sh.meta_end : !(sh.ops & kind))
		return false;
	sh.calls++;
	if ((sh.hold != NULL && access(sh.hold, F_OK) == 0) ||
	    (sh.n > 0 && sh.calls >= sh.n && sh.calls - sh.n < sh.count)) {
		logf_("fault %lu %s\n", sh.calls, call);
		errno = sh.err;
		return true;
	}
	return false;
}

/* ---- The power-loss log ----
 * Records: 'U' off len bytes (the bytes a volatile write overwrote),
 * 'D' off len bytes (a durable write), 'S' size (the file's size when
 * the log was emptied by a sync). Offsets and lengths as 8-byte host
 * integers. */

static void
undo_put(char kind, uint64_t off, const void *p, uint64_t len)
{
	int fd;

	fd = real_open(sh.undo, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return;
	(void)real_write(fd, &kind, 1);
	(void)real_write(fd, &off, 8);
	(void)real_write(fd, &len, 8);
	if (len > 0 && p != NULL)
		(void)real_write(fd, p, len);
	real_close(fd);
}

/* Before a write of len bytes at off on fd. */
static void
undo_before(int fd, const void *buf, size_t len, off_t off)
{
	char *old;
	ssize_t got;

	if (sh.undo == NULL)
		return;
	if (sh.dsync[fd]) {
		undo_put('D', (uint64_t)off, buf, len);
		return;
	}
	if ((old = calloc(1, len ? len : 1)) == NULL)
		return;
	got = real_pread(fd, old, len, off);
	/* Past the end of the file the old bytes are none: a restore
	 * truncates to the size recorded at the last sync instead. */
	undo_put('U', (uint64_t)off, old, got > 0 ? (uint64_t)got : 0);
	free(old);
}

static void
undo_synced(int fd)
{
	struct stat sb;
	int f;

	if (sh.undo == NULL || fstat(fd, &sb) != 0)
		return;
	f = real_open(sh.undo, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f >= 0)
		real_close(f);
	undo_put('S', (uint64_t)sb.st_size, NULL, 0);
}

/* ---- The wrappers ---- */

static void
track(int fd, const char *path, int flags)
{
	if (fd < 0 || fd >= MAXFD)
		return;
	sh.tracked[fd] = path != NULL && strstr(path, sh.file) != NULL &&
	    strstr(path, "-lock") == NULL && (flags & O_ACCMODE) != O_RDONLY;
	sh.dsync[fd] = (flags & (O_DSYNC | O_SYNC)) != 0;
	if (sh.tracked[fd] && sh.undo != NULL && !sh.dsync[fd]) {
		struct stat sb;

		/* The first open: the log starts from the file as it is. */
		if (stat(sh.undo, &sb) != 0)
			undo_synced(fd);
	}
}

int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	shim_init();
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	fd = real_open(path, flags, mode);
	track(fd, path, flags);
	return fd;
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	shim_init();
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	fd = real_openat(dirfd, path, flags, mode);
	track(fd, path, flags);
	return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
    __attribute__((alias("openat")));

int
close(int fd)
{
	shim_init();
	if (fd >= 0 && fd < MAXFD)
		sh.tracked[fd] = sh.dsync[fd] = false;
	return real_close(fd);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (!tracked(fd))
		return real_pwrite(fd, buf, n, off);
	if (must_fail(1, off, "pwrite")) {
		int e = errno;

		if (sh.torn && n > 1) {
			undo_before(fd, buf, n / 2, off);
			(void)real_pwrite(fd, buf, n / 2, off);
		}
		errno = e;
		return -1;
	}
	undo_before(fd, buf, n, off);
	return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
    __attribute__((alias("pwrite")));

ssize_t
write(int fd, const void *buf, size_t n)
{
	off_t off;

	if (!tracked(fd))
		return real_write(fd, buf, n);
	off = lseek(fd, 0, SEEK_CUR);
	if (must_fail(1, off, "write")) {
		int e = errno;

		if (sh.torn && n > 1) {
			undo_before(fd, buf, n / 2, off);
			(void)real_write(fd, buf, n / 2);
		}
		errno = e;
		return -1;
	}
	undo_before(fd, buf, n, off);
	return real_write(fd, buf, n);
}

/* A vector write as one pwrite of the joined buffers (the same bytes at
 * the same place), so that it fails, tears and is logged in one piece. */
static ssize_t
vec_write(int fd, const struct iovec *iov, int cnt, off_t off, bool at_off,
    const char *call)
{
	size_t total = 0, k = 0;
	ssize_t rc;
	char *p;
	int i;

	for (i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if ((p = malloc(total ? total : 1)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < cnt; i++) {
		memcpy(p + k, iov[i].iov_base, iov[i].iov_len);
		k += iov[i].iov_len;
	}
	if (!at_off)
		off = lseek(fd, 0, SEEK_CUR);
	if (must_fail(1, off, call)) {
		int e = errno;

		if (sh.torn && total > 1) {
			undo_before(fd, p, total / 2, off);
			(void)real_pwrite(fd, p, total / 2, off);
		}
		free(p);
		errno = e;
		return -1;
	}
	undo_before(fd, p, total, off);
	rc = real_pwrite(fd, p, total, off);
	if (rc > 0 && !at_off)
		lseek(fd, off + rc, SEEK_SET);
	free(p);
	return rc;
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	if (!tracked(fd))
		return real_writev(fd, iov, cnt);
	return vec_write(fd, iov, cnt, 0, false, "writev");
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (!tracked(fd))
		return real_pwritev(fd, iov, cnt, off);
	return vec_write(fd, iov, cnt, off, true, "pwritev");
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
    __attribute__((alias("pwritev")));

int
fsync(int fd)
{
	int rc;

	if (!tracked(fd))
		return real_fsync(fd);
	if (must_fail(2, 0, "fsync"))
		return -1;
	if ((rc = real_fsync(fd)) == 0)
		undo_synced(fd);
	return rc;
}

int
fdatasync(int fd)
{
	int rc;

	if (!tracked(fd))
		return real_fdatasync(fd);
	if (must_fail(2, 0, "fdatasync"))
		return -1;
	if ((rc = real_fdatasync(fd)) == 0)
		undo_synced(fd);
	return rc;
}
