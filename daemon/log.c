/*
 * log.c: see log.h.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level level = LOG_INFO;
static bool journal; /* stderr is the journal: "<N>" prefixes */

void
log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char tail;

	journal = js != NULL &&
	    sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) == 2 &&
	    fstat(2, &sb) == 0 && (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

void
log_set_level(enum log_level l)
{
	level = l;
}

bool
log_enabled(enum log_level l)
{
	return l <= level;
}

/* Copy `s` to `out` (room for 4 * strlen(s) + 1) with its control
 * characters and backslashes escaped: a name a client chose (a served
 * object, a client's name) cannot end the line and forge the next one, nor
 * rewrite a terminal. */
static void
escape(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\' || *p == '\n' || *p == '\r' || *p == '\t') {
			*out++ = '\\';
			*out++ = *p == '\\' ? '\\' :
			    *p == '\n'      ? 'n' :
			    *p == '\r'      ? 'r' :
					      't';
		} else if (*p < 0x20 || *p == 0x7f) {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[*p >> 4];
			*out++ = hex[*p & 0xf];
		} else
			*out++ = (char)*p;
	}
	*out = '\0';
}

static void
vlog(enum log_level l, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	static const char *const prio[] = { "<3>", "<4>", "<6>", "<7>" };
	char ts[32], small[1024], esc_small[4 * sizeof(small)];
	char *msg = small, *esc = esc_small;
	struct timespec now;
	struct tm tm;
	va_list ap2;
	size_t len;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0)
		snprintf(small, sizeof(small), "(unformattable: %s)", fmt);
	else if ((size_t)n >= sizeof(small) &&
	    (msg = malloc((size_t)n + 1)) != NULL)
		vsnprintf(msg, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	if (msg == NULL)
		msg = small; /* out of memory: the message, cut */
	len = strlen(msg);
	if (msg != small && (esc = malloc(4 * len + 1)) == NULL) {
		free(msg);
		msg = small; /* out of memory: the message, cut */
		esc = esc_small;
	}
	escape(esc, msg);
	/* One write: lines of concurrent writers do not interleave. */
	fprintf(stderr, "%s%s.%03ldZ asyncflowd %s: %s\n",
	    journal ? prio[l] : "", ts, now.tv_nsec / 1000000, names[l], esc);
	if (msg != small)
		free(msg);
	if (esc != esc_small)
		free(esc);
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	va_list ap;

	if (l > level)
		return;
	va_start(ap, fmt);
	vlog(l, fmt, ap);
	va_end(ap);
}

/* The calendar date of a day count since 1970-01-01 (proleptic Gregorian,
 * eras of 400 years), for log_unlocked: gmtime_r takes glibc's time-zone
 * lock. */
static void
civil_date(int64_t days, int *y, unsigned *m, unsigned *d)
{
	int64_t era, z = days + 719468; /* days since 0000-03-01 */
	unsigned doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

void
log_unlocked(enum log_level l, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	static const char *const prio[] = { "<3>", "<4>", "<6>", "<7>" };
	char msg[512], esc[4 * sizeof(msg)], line[sizeof(esc) + 96];
	struct timespec now;
	int64_t secs;
	unsigned mo, d;
	va_list ap;
	int y, n;

	if (l > level)
		return;
	va_start(ap, fmt);
	/* A string FILE: glibc's vsnprintf takes no lock and, for these
	 * conversions, allocates nothing. */
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		snprintf(msg, sizeof(msg), "(unformattable: %s)", fmt);
	va_end(ap);
	escape(esc, msg);
	clock_gettime(CLOCK_REALTIME, &now);
	secs = (int64_t)now.tv_sec;
	civil_date(secs / 86400 - (secs % 86400 < 0), &y, &mo, &d);
	secs = ((secs % 86400) + 86400) % 86400;
	n = snprintf(line, sizeof(line),
	    "%s%04d-%02u-%02uT%02d:%02d:%02d.%03ldZ asyncflowd %s: %s\n",
	    journal ? prio[l] : "", y, mo, d, (int)(secs / 3600),
	    (int)(secs / 60 % 60), (int)(secs % 60), now.tv_nsec / 1000000,
	    names[l], esc);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line);
		line[n - 1] = '\n';
	}
	if (write(2, line, (size_t)n) < 0)
		(void)0; /* nowhere left to say so */
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
