/*
 * log.h: the daemon's log: one line per message on stderr, with a level and
 * a timestamp. Never given a resolver secret (callers log vow ids only).
 * fatal() is for startup errors and broken invariants only; bad client
 * input is a warning and closes that connection.
 *
 * When stderr is the journal's stream (systemd sets $JOURNAL_STREAM to its
 * "device:inode"), each line starts with its syslog priority, "<3>" for an
 * error to "<7>" for debug, which journald strips and keeps as the
 * entry's priority.
 */
#ifndef AF_LOG_H
#define AF_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Look at $JOURNAL_STREAM and stderr: whether lines get priorities. Call
 * once at start (and again if stderr changes); without it, none. */
void log_init(void);
void log_set_level(enum log_level l);
/* Whether a line at level l is written: a caller that builds a costly
 * line for log_msg alone asks first. */
bool log_enabled(enum log_level l);
void log_msg(enum log_level l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void
fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/*
 * The same line, for a thread that must not wait for a lock another thread
 * may hold for ever (the watchdog, while a turn that ran away is stopped
 * inside stdio, malloc or the time-zone code): formatted on the stack (a
 * longer message is cut), one write(2) to stderr, no stdio, no malloc, no
 * gmtime. Only plain conversions (%s, %d, %u, %ll..., no %ls or %n).
 */
void log_unlocked(enum log_level l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
