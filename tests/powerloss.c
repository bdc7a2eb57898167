/*
 * powerloss.c: turns a copy of a data file into what a power loss would
 * have left on disk, from the log tests/faultshim.c kept (AFSHIM_UNDO):
 * every write since the last successful sync of the file that was not
 * durable on return is undone (its old bytes put back, newest first, and
 * the file cut back to its size at that sync), and the durable writes
 * (O_DSYNC) since then are applied again, in order. That is the worst a
 * power loss may do under POSIX: nothing unsynced reached the disk.
 *
 * Usage: powerloss FILE LOG. Exit 0, or 1 with a message. Used by
 * tests/e2e/power-loss.sh; not a general tool (the log is the shim's own
 * format, host byte order).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rec {
	char kind; /* 'U' old bytes, 'D' durable bytes, 'S' size */
	uint64_t off, len;
	const unsigned char *p;
};

static unsigned char *
slurp(const char *path, size_t *n)
{
	unsigned char *b = NULL, *t;
	size_t cap = 0;
	ssize_t got;
	int fd;

	*n = 0;
	if ((fd = open(path, O_RDONLY)) < 0)
		return NULL;
	for (;;) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			if ((t = realloc(b, cap)) == NULL)
				break;
			b = t;
		}
		if ((got = read(fd, b + *n, cap - *n)) <= 0)
			break;
		*n += (size_t)got;
	}
	close(fd);
	return b;
}

int
main(int argc, char **argv)
{
	struct rec *r = NULL, *t;
	size_t n, i, nr = 0, cap = 0;
	unsigned char *log;
	uint64_t size = 0;
	int fd, have_size = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: powerloss FILE LOG\n");
		return 1;
	}
	if ((log = slurp(argv[2], &n)) == NULL && errno != 0) {
		fprintf(stderr, "powerloss: %s: %s\n", argv[2],
		    strerror(errno));
		return 1;
	}
	/* A record cut short by the kill is ignored: its write never
	 * happened (the shim logs before it writes). */
	for (i = 0; i + 17 <= n;) {
		struct rec x;

		x.kind = (char)log[i];
		memcpy(&x.off, log + i + 1, 8);
		memcpy(&x.len, log + i + 9, 8);
		x.p = log + i + 17;
		if (x.kind != 'S' && i + 17 + x.len > n)
			break;
		i += 17 + (x.kind == 'S' ? 0 : x.len);
		if (x.kind == 'S') {
			size = x.off;
			have_size = 1;
			continue;
		}
		if (nr == cap) {
			cap = cap ? cap * 2 : 64;
			if ((t = realloc(r, cap * sizeof(*r))) == NULL) {
				fprintf(stderr, "powerloss: out of memory\n");
				return 1;
			}
			r = t;
		}
		r[nr++] = x;
	}
	if ((fd = open(argv[1], O_RDWR)) < 0) {
		fprintf(stderr, "powerloss: %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	for (i = nr; i-- > 0;)
		if (r[i].kind == 'U' && r[i].len > 0 &&
		    pwrite(fd, r[i].p, r[i].len, (off_t)r[i].off) !=
			(ssize_t)r[i].len)
			goto ioerr;
	if (have_size && ftruncate(fd, (off_t)size) != 0)
		goto ioerr;
	for (i = 0; i < nr; i++)
		if (r[i].kind == 'D' &&
		    pwrite(fd, r[i].p, r[i].len, (off_t)r[i].off) !=
			(ssize_t)r[i].len)
			goto ioerr;
	close(fd);
	printf("powerloss: %zu writes undone or replayed\n", nr);
	free(r);
	free(log);
	return 0;
ioerr:
	fprintf(stderr, "powerloss: %s: %s\n", argv[1], strerror(errno));
	return 1;
}
