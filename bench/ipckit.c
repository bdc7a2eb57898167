/*
 * ipckit.c: the daemon and connection helpers the socket benchmarks share
 * (see ipckit.h).
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ipckit.h"

const char *bdir = "build";
char dir[256], sock[300];
pid_t daemon_pid;

void
die(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
	    af_strerror(rc));
	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	exit(1);
}

af_conn *
connect_retry(void)
{
	af_conn *c;
	char err[256];
	int i;

	for (i = 0; i < 2000; i++) {
		if (af_connect(sock, &c, err, sizeof(err)) == AF_OK)
			return c;
		usleep(2000);
	}
	fprintf(stderr, "%s: connect: %s\n", program_invocation_short_name,
	    err);
	exit(1);
}

void
remove_dir(void)
{
	char cmd[300];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: cannot remove %s\n",
		    program_invocation_short_name, dir);
	dir[0] = '\0';
}

void
fresh_dir(void)
{
	const char *t = getenv("TMPDIR");

	remove_dir();
	snprintf(dir, sizeof(dir), "%s/afbench.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", AF_ESTORE);
	snprintf(sock, sizeof(sock), "%s/asyncflowd.sock", dir);
}

void
start_daemon(const char *durability)
{
	char exe[512];

	snprintf(exe, sizeof(exe), "%s/asyncflowd", bdir);
	if ((daemon_pid = fork()) == 0) {
		execl(exe, exe, "-q", "-d", dir, "--durability", durability,
		    (char *)NULL);
		_exit(127);
	}
}

void
stop_daemon(void)
{
	int st;

	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &st, 0);
	daemon_pid = 0;
}
