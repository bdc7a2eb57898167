/*
 * upgrade.c: asyncflowctl's upgrade commands: `upgrade [--check] --module
 * PATH...` (check a new module set against every unfinished activation;
 * without --check, then switch the running daemon to it) and `replay A
 * --module PATH...` (one activation, entry by entry). The daemon runs the
 * check in a checker process of its own and answers with its JSON report
 * (or, switched, {"upgraded": true, ...}), which is printed as it is
 * (exit 0), or with exit 3 when some activation would fail. The --module paths are resolved here
 * (realpath): the daemon does not share this process's directory.
 *
 * Not here: the check itself (daemon/checker.c), the other commands
 * (cmds.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Exit status when the check says some activation would fail. */
#define EXIT_FAILING 3

/* Take every --module PATH / --module=PATH out of argv (resolved to an
 * absolute path) into *mods; the other arguments stay, in order. Returns
 * the new argc. */
static int
take_modules(int argc, char **argv, char ***mods, size_t *n)
{
	char real[PATH_MAX];
	const char *p;
	int i, j = 0;

	*mods = xcalloc((size_t)argc + 1, sizeof(**mods));
	*n = 0;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--module") == 0) {
			if (i + 1 >= argc)
				usage_error("option --module needs a value");
			p = argv[++i];
		} else if (strncmp(argv[i], "--module=", 9) == 0) {
			p = argv[i] + 9;
		} else {
			argv[j++] = argv[i];
			continue;
		}
		if (*p == '\0')
			usage_error("option --module needs a value");
		if (realpath(p, real) == NULL)
			fail(EXIT_FAILURE, "module %s: %s", p, strerror(errno));
		(*mods)[(*n)++] = xstrdup(real);
	}
	return j;
}

static void
free_modules(char **mods, size_t n)
{
	while (n-- > 0)
		free(mods[n]);
	free(mods);
}

/* Send the upgrade request and print its report; the exit status. */
static int
run(char **mods, size_t n, const struct af_upgrade_opts *o)
{
	json_error_t jerr;
	char *report;
	json_t *j;
	af_conn *c;
	bool ok;
	int rc;

	c = connect_daemon();
	/* The answer comes when the check is done: it bounds itself (the
	 * turn limit, per activation). */
	af_set_timeout(c, -1);
	if ((rc = af_upgrade(c, (const char *const *)mods, n, o, &report,
		 &ok)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	free_modules(mods, n);
	if ((j = json_loads(report, 0, &jerr)) == NULL)
		fail(EXIT_FAILURE, "the daemon's report is not JSON (%s): %s",
		    jerr.text, report);
	free(report);
	rc = print_answer(j, ANS_OBJECT);
	return rc == EXIT_SUCCESS && !ok ? EXIT_FAILING : rc;
}

/* upgrade [--check | --force] --module PATH [--module PATH]... */
int
cmd_upgrade(int argc, char **argv)
{
	struct af_upgrade_opts o = { false, false, 0 };
	struct opt opts[] = {
		{ "check", NULL, &o.check },
		{ "force", NULL, &o.force },
		{ NULL, NULL, NULL },
	};
	char **mods;
	size_t n;

	argc = take_modules(argc, argv, &mods, &n);
	parse_args(argc, argv, opts, NULL, 0);
	if (n == 0)
		usage_error("upgrade needs the new module set: --module PATH, "
			    "one or more");
	if (o.check && o.force)
		usage_error("--force switches to the new code: not with "
			    "--check");
	return run(mods, n, &o);
}

/* replay A --module PATH [--module PATH]... */
int
cmd_replay(int argc, char **argv)
{
	struct af_upgrade_opts o = { false, false, 0 };
	char **mods, *pos[1];
	size_t n;

	argc = take_modules(argc, argv, &mods, &n);
	if (parse_args(argc, argv, NULL, pos, 1) < 1)
		usage_error("missing A");
	o.replay = parse_id("A", pos[0]);
	if (n == 0)
		usage_error("replay needs the module set to replay with: "
			    "--module PATH, one or more");
	return run(mods, n, &o);
}
