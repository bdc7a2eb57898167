/*
 * notify.h: the two systemd protocols the daemon speaks, without
 * libsystemd: readiness notification (one datagram per message to the
 * Unix socket named by $NOTIFY_SOCKET, a path or an abstract '@' name) and
 * socket activation (a listening socket passed as fd 3, named by
 * LISTEN_PID and LISTEN_FDS). Both are optional: without the variables
 * every call does nothing.
 *
 * Not here: what the daemon does once ready (server.c), the unit files
 * (dist/), journald's log priorities (log.c).
 */
#ifndef AF_NOTIFY_H
#define AF_NOTIFY_H

#include <stddef.h>

/* Read $NOTIFY_SOCKET and unset it (flows and modules run in this process;
 * nothing they start should talk to our service manager). Call once at
 * start, before any notify_send. */
void notify_init(void);

/*
 * Send one message, e.g. "READY=1" or "STATUS=replaying". Best effort: it
 * returns 0 when it was sent or there is no $NOTIFY_SOCKET, else -1 (the
 * failure is logged once at debug level: a notification never stops the
 * daemon).
 */
int notify_send(const char *msg);
/* notify_send("STATUS=" + the formatted text). */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Socket activation. When LISTEN_PID is our pid: LISTEN_FDS must be 1 and
 * fd 3 a listening AF_UNIX SOCK_STREAM socket, which is made
 * non-blocking and close-on-exec. The variables (LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES) are unset either way.
 *
 * Returns 1 with *fd = 3 when a socket was passed; 0 with *fd = -1 when
 * none was (no LISTEN_PID, or another process's); -1 when what was passed
 * is unusable, with a message in err naming what is wrong.
 */
int notify_listen_fd(int *fd, char *err, size_t errlen);

#endif /* AF_NOTIFY_H */
