/*
 * sdharness.c: an end-to-end test tool that plays systemd's part for one
 * daemon: the readiness protocol (a datagram socket named by
 * $NOTIFY_SOCKET) and socket activation (a socket passed as fd 3 with
 * LISTEN_PID and LISTEN_FDS). It is no service manager: it starts one
 * command, prints what the command notifies, and exits with its status.
 *
 *   sdharness [-n PATH|@NAME] [-l KIND:PATH] [-p PIDFILE] -- CMD [ARGS...]
 *
 *   -n   bind a datagram socket at PATH (or the abstract name NAME) and
 *        name it in NOTIFY_SOCKET; every assignment received ("READY=1",
 *        "STATUS=...") is printed on stdout, one line each, as it comes
 *   -l   pass fd 3 with LISTEN_PID=<the command's pid> and LISTEN_FDS=1:
 *          listen:PATH  a listening Unix stream socket bound at PATH
 *          bound:PATH   a Unix stream socket bound at PATH, not listening
 *          file:PATH    a regular file (created)
 *   -p   write the command's pid to PIDFILE (so the test can signal it)
 *
 * Exits with the command's exit status, or 128 + the signal that ended it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
die(const char *what)
{
	fprintf(stderr, "sdharness: %s: %s\n", what, strerror(errno));
	exit(99);
}

static socklen_t
unix_addr(struct sockaddr_un *sun, const char *name)
{
	size_t n = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n >= sizeof(sun->sun_path)) {
		fprintf(stderr, "sdharness: %s: name too long\n", name);
		exit(99);
	}
	memcpy(sun->sun_path, name, n);
	if (name[0] == '@') { /* abstract: a leading NUL, no terminator */
		sun->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	return (socklen_t)sizeof(*sun);
}

static int
notify_socket(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(&sun, name);
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	if (name[0] != '@')
		unlink(name);
	if (bind(fd, (struct sockaddr *)&sun, len) != 0)
		die(name);
	return fd;
}

static int
listen_fd(const char *spec)
{
	struct sockaddr_un sun;
	const char *path = strchr(spec, ':');
	int fd;

	if (path == NULL) {
		fprintf(stderr, "sdharness: -l KIND:PATH, not %s\n", spec);
		exit(99);
	}
	path++;
	if (strncmp(spec, "file:", 5) == 0) {
		if ((fd = open(path, O_RDWR | O_CREAT, 0600)) < 0)
			die(path);
		return fd;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		die("socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, unix_addr(&sun, path)) != 0)
		die(path);
	if (strncmp(spec, "listen:", 7) == 0) {
		if (listen(fd, 16) != 0)
			die("listen");
	} else if (strncmp(spec, "bound:", 6) != 0) {
		fprintf(stderr, "sdharness: unknown kind in %s\n", spec);
		exit(99);
	}
	return fd;
}

/* Print every assignment of the datagrams waiting on fd. */
static void
drain(int fd)
{
	char msg[4096], *line, *save;
	ssize_t n;

	while ((n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT)) >= 0) {
		msg[n] = '\0';
		for (line = strtok_r(msg, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			printf("%s\n", line);
		fflush(stdout);
	}
}

int
main(int argc, char **argv)
{
	const char *notify = NULL, *listen_spec = NULL, *pidfile = NULL;
	int nfd = -1, lfd = -1, ch, status;
	struct pollfd pfd;
	pid_t pid;
	FILE *f;
	char num[32];

	while ((ch = getopt(argc, argv, "n:l:p:")) != -1) {
		switch (ch) {
		case 'n':
			notify = optarg;
			break;
		case 'l':
			listen_spec = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		default:
			return 99;
		}
	}
	if (optind >= argc) {
		fprintf(stderr,
		    "usage: sdharness [-n PATH|@NAME] "
		    "[-l KIND:PATH] [-p PIDFILE] -- CMD...\n");
		return 99;
	}
	if (notify != NULL)
		nfd = notify_socket(notify);
	if (listen_spec != NULL)
		lfd = listen_fd(listen_spec);
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		if (nfd >= 0 && setenv("NOTIFY_SOCKET", notify, 1) != 0)
			die("setenv");
		if (lfd >= 0) {
			if (lfd != 3 && dup2(lfd, 3) != 3)
				die("dup2");
			if (lfd != 3)
				close(lfd);
			/* dup2 clears FD_CLOEXEC on 3; nothing set it. */
			snprintf(num, sizeof(num), "%ld", (long)getpid());
			if (setenv("LISTEN_PID", num, 1) != 0 ||
			    setenv("LISTEN_FDS", "1", 1) != 0)
				die("setenv");
		}
		execvp(argv[optind], argv + optind);
		die(argv[optind]);
	}
	if (lfd >= 0)
		close(lfd);
	if (pidfile != NULL) {
		if ((f = fopen(pidfile, "w")) == NULL)
			die(pidfile);
		fprintf(f, "%ld\n", (long)pid);
		fclose(f);
	}
	for (;;) {
		if (nfd >= 0) {
			pfd.fd = nfd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 100) > 0)
				drain(nfd);
		} else
			usleep(100000);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	if (nfd >= 0)
		drain(nfd);
	if (pidfile != NULL)
		unlink(pidfile);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
