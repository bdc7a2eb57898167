/*
 * notify.c: systemd's readiness and socket-activation protocols (see
 * notify.h), written from their published descriptions (sd_notify(3),
 * sd_listen_fds(3)): a datagram and a few environment variables, so the
 * daemon needs no libsystemd.
 *
 * Not here: when the daemon is ready or stopping (main.c decides, through
 * server.c's hooks).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

#define LISTEN_FDS_START 3 /* the first passed fd, by the protocol */

static struct sockaddr_un notify_addr;
static socklen_t notify_len; /* 0: no $NOTIFY_SOCKET */
static int notify_fd = -1;

void
notify_init(void)
{
	const char *name = getenv("NOTIFY_SOCKET");
	size_t n;

	notify_len = 0;
	if (name == NULL || *name == '\0')
		return;
	n = strlen(name);
	if ((name[0] != '/' && name[0] != '@') ||
	    n >= sizeof(notify_addr.sun_path)) {
		log_warn("NOTIFY_SOCKET=%s is not a Unix socket path or an "
			 "abstract @name: no readiness notification",
		    name);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, name, n);
	if (name[0] == '@') /* abstract: a leading NUL, not terminated */
		notify_addr.sun_path[0] = '\0';
	else
		n++; /* a path: with its terminating NUL */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	unsetenv("NOTIFY_SOCKET");
}

int
notify_send(const char *msg)
{
	static int warned;

	if (notify_len == 0)
		return 0;
	if (notify_fd < 0 &&
	    (notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL,
		(struct sockaddr *)&notify_addr, notify_len) >= 0)
		return 0;
fail:
	if (!warned++)
		log_debug("sending %s to NOTIFY_SOCKET: %s", msg,
		    strerror(errno));
	return -1;
}

int
notify_status(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (notify_len == 0)
		return 0;
	memcpy(msg, "STATUS=", 7);
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	return notify_send(msg);
}

/* Whether fd is what the daemon can serve; err names what it is not. */
static int
check_listener(int fd, char *err, size_t errlen)
{
	int val;
	socklen_t len = sizeof(val);
	struct stat sb;

	if (fstat(fd, &sb) != 0) {
		snprintf(err, errlen, "LISTEN_FDS: fd %d: %s", fd,
		    strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen,
		    "LISTEN_FDS: fd %d is not a socket (%s); "
		    "asyncflowd needs a listening Unix stream socket",
		    fd,
		    S_ISREG(sb.st_mode)      ? "a regular file" :
			S_ISDIR(sb.st_mode)  ? "a directory" :
			S_ISFIFO(sb.st_mode) ? "a pipe" :
			S_ISCHR(sb.st_mode)  ? "a character device" :
					       "not a socket");
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) != 0 ||
	    val != AF_UNIX) {
		snprintf(err, errlen,
		    "LISTEN_FDS: fd %d is not a Unix socket "
		    "(asyncflowd serves AF_UNIX only)",
		    fd);
		return -1;
	}
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) != 0 ||
	    val != SOCK_STREAM) {
		snprintf(err, errlen,
		    "LISTEN_FDS: fd %d is not a stream socket "
		    "(ListenStream=, not ListenDatagram= or "
		    "ListenSequentialPacket=)",
		    fd);
		return -1;
	}
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) != 0 ||
	    val == 0) {
		snprintf(err, errlen,
		    "LISTEN_FDS: fd %d is a socket that is not listening "
		    "(Accept=no: the daemon accepts the connections itself)",
		    fd);
		return -1;
	}
	return 0;
}

int
notify_listen_fd(int *fd, char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long n;
	int fl, rc = 0;

	*fd = -1;
	if (pid == NULL)
		goto out;
	errno = 0;
	n = strtol(pid, &end, 10);
	if (errno != 0 || *end != '\0' || n != (long)getpid())
		goto out; /* meant for another process */
	if (fds == NULL) {
		snprintf(err, errlen, "LISTEN_PID is set but not LISTEN_FDS");
		rc = -1;
		goto out;
	}
	errno = 0;
	n = strtol(fds, &end, 10);
	if (errno != 0 || *end != '\0' || n != 1) {
		snprintf(err, errlen,
		    "LISTEN_FDS=%s: asyncflowd takes exactly one "
		    "socket (one ListenStream= in the socket unit)",
		    fds);
		rc = -1;
		goto out;
	}
	if (check_listener(LISTEN_FDS_START, err, errlen) != 0) {
		rc = -1;
		goto out;
	}
	if ((fl = fcntl(LISTEN_FDS_START, F_GETFL)) < 0 ||
	    fcntl(LISTEN_FDS_START, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    fcntl(LISTEN_FDS_START, F_SETFD, FD_CLOEXEC) != 0) {
		snprintf(err, errlen, "LISTEN_FDS: fd %d: %s", LISTEN_FDS_START,
		    strerror(errno));
		rc = -1;
		goto out;
	}
	*fd = LISTEN_FDS_START;
	rc = 1;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}
