/*
 * serve.c: asyncflowctl serve NAME -- CMD [ARGS...]: serves a host object
 * by running CMD for each invocation, its JSON on CMD's stdin, CMD's
 * stdout the result (settled back to the daemon), CMD's exit status and
 * stderr a rejection. A process runner: pipes, poll, UTF-8 excerpts of
 * bad output. The contract with CMD is the serve usage text in main.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"

/* ---- serve ----------------------------------------------------------------------- *
 *
 * One invocation at a time, in arrival order: its JSON goes to CMD's stdin
 * while CMD's stdout and stderr are read, all three pipes non-blocking
 * under one poll, so a CMD that writes much before it reads, or never
 * reads its stdin, cannot deadlock with us. Whatever goes wrong with one
 * invocation becomes its rejection; what goes wrong with the daemon or
 * with running CMD at all ends the command with exit 1 and leaves the
 * invocation unanswered, for the daemon to hand out again.
 */

#define SERVE_STDOUT_MAX \
	(8u << 20)                   /* a result beyond this cannot fit
					 * a frame anyway */
#define SERVE_STDERR_MAX (64u << 10) /* kept for the rejection message */
#define SERVE_EXCERPT    200         /* bytes of bad output quoted */
#define SERVE_LINGER_MS \
	2000 /* after CMD exited, for the pipes'
					 * EOF (a background child of CMD
					 * may hold them open) */

static bool serve_quiet;
static char *const *serve_cmd; /* CMD [ARGS...], NULL-terminated */

static void PRINTFLIKE(1, 2) note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

/* What CMD wrote on one pipe: the first `max` bytes, and a count of the
 * rest. p is always NUL-terminated. */
struct outbuf {
	char *p;
	size_t len, cap, max, dropped;
};

static void
outbuf_init(struct outbuf *b, size_t max)
{
	b->cap = 4096;
	b->p = xcalloc(1, b->cap);
	b->len = b->dropped = 0;
	b->max = max;
}

static void
outbuf_add(struct outbuf *b, const char *p, size_t n)
{
	size_t keep = n < b->max - b->len ? n : b->max - b->len;
	char *np;

	b->dropped += n - keep;
	if (keep == 0)
		return;
	if (b->len + keep + 1 > b->cap) {
		while (b->len + keep + 1 > b->cap)
			b->cap *= 2;
		if ((np = realloc(b->p, b->cap)) == NULL)
			nomem();
		b->p = np;
	}
	memcpy(b->p + b->len, p, keep);
	b->len += keep;
	b->p[b->len] = '\0';
}

/* p[0..n) as a string a Value may hold (valid UTF-8, no NUL): every byte
 * that is not part of a valid sequence, and NUL, becomes U+FFFD. */
static char *
utf8_text(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	char *out = xcalloc(n * 3 + 1, 1), *o = out;
	size_t i = 0, k, len;
	unsigned char c, lo, hi;
	bool ok;

	while (i < n) {
		c = s[i];
		if (c >= 0x01 && c < 0x80) {
			*o++ = (char)c;
			i++;
			continue;
		}
		len = c >= 0xc2 && c <= 0xdf ? 2 :
		    c >= 0xe0 && c <= 0xef   ? 3 :
		    c >= 0xf0 && c <= 0xf4   ? 4 :
					       0;
		lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
		ok = len > 0 && i + len <= n && s[i + 1] >= lo &&
		    s[i + 1] <= hi;
		for (k = 2; ok && k < len; k++)
			ok = s[i + k] >= 0x80 && s[i + k] <= 0xbf;
		if (!ok) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(o, s + i, len);
		o += len;
		i += len;
	}
	*o = '\0';
	return out;
}

/* The start of what CMD printed, for a message, on one line: "TEXT" or
 * "TEXT"... (N bytes), control characters written \n, \t, \xNN. */
static void
excerpt(char *dst, size_t dstlen, const struct outbuf *b)
{
	size_t total = b->len + b->dropped, i, o = 0;
	char *t = utf8_text(b->p,
	    b->len < SERVE_EXCERPT ? b->len : SERVE_EXCERPT);
	char *e = xcalloc(strlen(t) * 4 + 1, 1);

	for (i = 0; t[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)t[i];

		if (ch == '\n' || ch == '\t' || ch == '\r') {
			e[o++] = '\\';
			e[o++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(e + o, 5, "\\x%02x", ch);
		} else {
			e[o++] = (char)ch;
		}
	}
	if (total > SERVE_EXCERPT)
		snprintf(dst, dstlen, "\"%s\"... (%zu bytes)", e, total);
	else
		snprintf(dst, dstlen, "\"%s\"", e);
	free(e);
	free(t);
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fail(EXIT_FAILURE, "fcntl: %s", strerror(errno));
}

/*
 * Runs CMD with input[0..inlen) on its stdin and collects its stdout and
 * stderr (copying the stderr to ours as it comes) and its wait status.
 * Exits 1 if CMD cannot be run at all (no such program, no processes
 * left): then nothing is answered.
 */
static void
run_cmd(const char *input, size_t inlen, struct outbuf *out, struct outbuf *err,
    int *status)
{
	int in[2], op[2], ep[2], xp[2], e = 0;
	int ifd, ofd, efd, *which[3];
	struct pollfd pfd[3];
	char buf[65536];
	size_t off = 0;
	int64_t linger_until = 0;
	bool exited = false;
	ssize_t n;
	pid_t pid;
	int i, np, timeout;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(op, O_CLOEXEC) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0 || pipe2(xp, O_CLOEXEC) < 0)
		fail(EXIT_FAILURE, "cannot make pipes for %s: %s", serve_cmd[0],
		    strerror(errno));
	if ((pid = fork()) < 0)
		fail(EXIT_FAILURE, "cannot run %s: fork: %s", serve_cmd[0],
		    strerror(errno));
	if (pid == 0) {
		/* The pipes are close-on-exec; dup2 gives CMD its copies. */
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) >= 0 && dup2(op[1], 1) >= 0 &&
		    dup2(ep[1], 2) >= 0)
			execvp(serve_cmd[0], serve_cmd);
		e = errno;
		if (write(xp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(in[0]);
	close(op[1]);
	close(ep[1]);
	close(xp[1]);
	/* EOF: exec succeeded (the pipe closed on exec); else its errno. */
	do
		n = read(xp[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(xp[0]);
	if (n > 0) {
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
		fail(EXIT_FAILURE, "cannot run %s: %s", serve_cmd[0],
		    strerror(e));
	}
	ifd = in[1];
	ofd = op[0];
	efd = ep[0];
	set_nonblock(ifd);
	set_nonblock(ofd);
	set_nonblock(efd);
	if (inlen == 0)
		close_fd(&ifd);

	while (ifd >= 0 || ofd >= 0 || efd >= 0) {
		if (!exited && waitpid(pid, status, WNOHANG) == pid) {
			exited = true;
			linger_until = now_ms() + SERVE_LINGER_MS;
		}
		timeout = 100; /* to notice CMD's exit */
		if (exited) {
			if (ofd < 0 && efd < 0)
				break; /* only its stdin left: never read */
			if ((timeout = (int)(linger_until - now_ms())) <= 0) {
				note("%s exited, but something it started "
				     "keeps its stdout or stderr open: not "
				     "waiting for it",
				    serve_cmd[0]);
				break;
			}
		}
		np = 0;
		if (ifd >= 0) {
			pfd[np].fd = ifd;
			pfd[np].events = POLLOUT;
			which[np++] = &ifd;
		}
		if (ofd >= 0) {
			pfd[np].fd = ofd;
			pfd[np].events = POLLIN;
			which[np++] = &ofd;
		}
		if (efd >= 0) {
			pfd[np].fd = efd;
			pfd[np].events = POLLIN;
			which[np++] = &efd;
		}
		if (poll(pfd, (nfds_t)np, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fail(EXIT_FAILURE, "poll: %s", strerror(errno));
		}
		for (i = 0; i < np; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (which[i] == &ifd) {
				n = write(ifd, input + off, inlen - off);
				if (n > 0 && (off += (size_t)n) == inlen)
					close_fd(&ifd);
				else if (n < 0 && errno != EAGAIN &&
				    errno != EINTR)
					close_fd(&ifd); /* EPIPE: CMD does
							 * not read it */
				continue;
			}
			n = read(*which[i], buf, sizeof(buf));
			if (n > 0 && which[i] == &ofd) {
				outbuf_add(out, buf, (size_t)n);
			} else if (n > 0) {
				outbuf_add(err, buf, (size_t)n);
				fwrite(buf, 1, (size_t)n, stderr);
			} else if (n == 0 ||
			    (errno != EAGAIN && errno != EINTR)) {
				close_fd(which[i]);
			}
		}
	}
	close_fd(&ifd);
	close_fd(&ofd);
	close_fd(&efd);
	if (!exited)
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
}

/* The JSON object CMD reads, one line; NULL with a message in err if the
 * invocation cannot be written in JSON. */
static char *
invocation_json(const Asyncflow__Invocation *inv, char *err, size_t errlen)
{
	json_t *o = jnew(json_object()), *m, *res;
	char key[24], *hex, *s;
	size_t i, k, len;

	json_real_precision = 1;
	if ((m = json_string(inv->method)) == NULL) {
		snprintf(err, errlen,
		    "the daemon sent a method name that is "
		    "not UTF-8");
		goto bad;
	}
	jset(o, "method", m);
	if ((m = value_to_json_soft(inv->args, err, errlen)) == NULL)
		goto bad;
	jset(o, "args", m);
	if (inv->vow > (uint64_t)INT64_MAX ||
	    inv->activation > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "the daemon sent a number beyond int64");
		goto bad;
	}
	jset(o, "vow", jnew(json_integer((json_int_t)inv->vow)));
	jset(o, "activation", jnew(json_integer((json_int_t)inv->activation)));
	res = jnew(json_object());
	jset(o, "resolvers", res);
	for (i = 0; i < inv->n_grants; i++) {
		const ProtobufCBinaryData *r = &inv->grants[i]->resolver;

		snprintf(key, sizeof(key), "%llu",
		    (unsigned long long)inv->grants[i]->vow);
		hex = xcalloc(2 * r->len + 1, 1);
		for (k = 0; k < r->len; k++)
			snprintf(hex + 2 * k, 3, "%02x", r->data[k]);
		jset(res, key, jstr(hex));
		memset(hex, 0, 2 * r->len);
		free(hex);
	}
	s = json_dumps(o,
	    JSON_ENCODE_ANY | JSON_COMPACT |
		JSON_REAL_PRECISION(json_real_precision));
	json_decref(o);
	len = s != NULL ? strlen(s) : 0;
	if (s == NULL || (s = realloc(s, len + 2)) == NULL)
		nomem();
	s[len] = '\n';
	s[len + 1] = '\0';
	return s;
bad:
	json_decref(o);
	return NULL;
}

/* Why a settlement's value was refused (the value was at fault). */
static bool
value_refused(int rc)
{
	return rc == AF_ELIMIT || rc == AF_EDECODE || rc == AF_ECYCLE ||
	    rc == AF_EINVAL;
}

/*
 * Settles the invocation's result vow. Returns AF_OK when that is done (or
 * needs no more doing: answered already, or the daemon will not let us),
 * or the code of a value the daemon refused, for the caller to reject
 * instead. Exits 1 when the daemon cannot be reached.
 */
static int
answer(af_conn *c, const Asyncflow__Invocation *inv, const char *label,
    bool reject, const Asyncflow__Value *v, const char *logtext)
{
	int rc = af_settle(c, inv->vow, inv->resolver.data, reject, v, NULL);
	const char *m = af_conn_errmsg(c);

	if (rc == AF_OK) {
		if (!serve_quiet)
			note("%s: %s", label, logtext);
		return AF_OK;
	}
	if (m[0] == '\0')
		m = af_strerror(rc);
	if (rc == AF_ESETTLED) {
		note("%s: already answered otherwise (a redelivery?): %s; "
		     "ignored",
		    label, m);
		return AF_OK;
	}
	if (rc == AF_ENOTFOUND || rc == AF_EDENIED) {
		note("%s: cannot answer: %s: %s; ignored", label,
		    af_errname(rc), m);
		return AF_OK;
	}
	if (value_refused(rc) && !reject)
		return rc;
	if (value_refused(rc)) {
		note("%s: the daemon refused the rejection: %s: %s; ignored",
		    label, af_errname(rc), m);
		return AF_OK;
	}
	fail(EXIT_FAILURE,
	    "%s: cannot answer: %s: %s (the daemon hands the "
	    "invocation out again)",
	    label, af_errname(rc), m);
	return rc;
}

/* Rejects the invocation with {"@error": {"name": name, "message": msg}}. */
static void
reject_with(af_conn *c, const Asyncflow__Invocation *inv, const char *label,
    const char *name, const char *msg)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Error e = ASYNCFLOW__ERROR__INIT;
	/* Valid UTF-8 even where a message was cut short. */
	char *text = utf8_text(msg, strlen(msg));
	size_t show = strcspn(text, "\n");
	char logtext[300];

	e.name = (char *)name;
	e.message = text;
	v.kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
	v.error_value = &e;
	if (show > 200)
		show = 200;
	snprintf(logtext, sizeof(logtext), "rejected: %s: %.*s%s", name,
	    (int)show, text, text[show] != '\0' ? "..." : "");
	answer(c, inv, label, true, &v, logtext);
	free(text);
}

/* Fulfils the invocation with what CMD printed on stdout, or rejects it
 * with BadResult saying why that is not possible. */
static void
fulfil_with(af_conn *c, const Asyncflow__Invocation *inv, const char *label,
    const struct outbuf *out)
{
	const char *cmd = serve_cmd[0];
	char msg[4096], ex[SERVE_EXCERPT * 12 + 64];
	Asyncflow__Value *v;
	json_error_t jerror;
	struct jpath jp;
	json_t *j;
	size_t i;
	int rc;

	if (out->dropped > 0) {
		excerpt(ex, sizeof(ex), out);
		snprintf(msg, sizeof(msg),
		    "%s printed more than %u MiB on "
		    "stdout, more than a value may be: %s",
		    cmd, SERVE_STDOUT_MAX >> 20, ex);
		reject_with(c, inv, label, "BadResult", msg);
		return;
	}
	for (i = 0; i < out->len && strchr(" \t\r\n", out->p[i]) != NULL; i++)
		;
	if (i == out->len) {
		snprintf(msg, sizeof(msg),
		    "%s exited with status 0 but printed "
		    "nothing on stdout: it must print its result, one JSON "
		    "value",
		    cmd);
		reject_with(c, inv, label, "BadResult", msg);
		return;
	}
	j = json_loadb(out->p, out->len,
	    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerror);
	if (j == NULL) {
		excerpt(ex, sizeof(ex), out);
		snprintf(msg, sizeof(msg),
		    "%s exited with status 0 but its "
		    "stdout is not one JSON value (%s, at line %d, column %d); "
		    "it printed %s",
		    cmd, jerror.text, jerror.line, jerror.column, ex);
		reject_with(c, inv, label, "BadResult", msg);
		return;
	}
	snprintf(msg, sizeof(msg), "the JSON %s printed", cmd);
	jp.arg = msg;
	jp.buf[0] = '\0';
	jp.msg[0] = '\0';
	v = json_to_value(j, &jp, 0);
	json_decref(j);
	if (v == NULL) {
		reject_with(c, inv, label, "BadResult", jp.msg);
		return;
	}
	rc = answer(c, inv, label, false, v, "fulfilled");
	af_msg_free(v);
	if (rc != AF_OK) {
		snprintf(msg, sizeof(msg),
		    "the daemon refused the value %s "
		    "printed: %s: %s",
		    cmd, af_errname(rc), af_conn_errmsg(c));
		reject_with(c, inv, label, "BadResult", msg);
	}
}

static void
serve_one(af_conn *c, Asyncflow__Invocation *inv)
{
	char label[300], why[512], msg[700], *input, *text;
	struct outbuf out, err;
	int status;

	snprintf(label, sizeof(label), "%.100s.%.100s (vow %llu)", inv->object,
	    inv->method, (unsigned long long)inv->vow);
	if (inv->resolver.len != AF_RESOLVER_LEN) {
		note("%s: the daemon sent no resolver: cannot answer it; "
		     "ignored",
		    label);
		return;
	}
	if ((input = invocation_json(inv, why, sizeof(why))) == NULL) {
		snprintf(msg, sizeof(msg),
		    "asyncflowctl cannot pass this "
		    "invocation to %s: %s",
		    serve_cmd[0], why);
		reject_with(c, inv, label, "BadArgs", msg);
		return;
	}
	outbuf_init(&out, SERVE_STDOUT_MAX);
	outbuf_init(&err, SERVE_STDERR_MAX);
	run_cmd(input, strlen(input), &out, &err, &status);
	memset(input, 0, strlen(input)); /* it may hold secrets */
	free(input);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		fulfil_with(c, inv, label, &out);
	} else {
		while (err.len > 0 &&
		    (err.p[err.len - 1] == '\n' || err.p[err.len - 1] == '\r'))
			err.p[--err.len] = '\0';
		if (err.len > 0) {
			/* NULs would cut it short: utf8_text replaces them. */
			text = utf8_text(err.p, err.len);
			if (err.dropped > 0) {
				snprintf(msg, sizeof(msg),
				    "... (%zu more bytes)", err.dropped);
				if ((text = realloc(text,
					 strlen(text) + strlen(msg) + 1)) ==
				    NULL)
					nomem();
				strcat(text, msg);
			}
			reject_with(c, inv, label, "Error", text);
			free(text);
		} else {
			if (WIFSIGNALED(status))
				snprintf(msg, sizeof(msg),
				    "%s killed by signal "
				    "%d",
				    serve_cmd[0], WTERMSIG(status));
			else
				snprintf(msg, sizeof(msg),
				    "%s exited with "
				    "status %d",
				    serve_cmd[0], WEXITSTATUS(status));
			reject_with(c, inv, label, "Error", msg);
		}
	}
	free(out.p);
	free(err.p);
}

/* Wipes the secrets an event carries before it is freed. */
static void
scrub_event(Asyncflow__Event *ev)
{
	Asyncflow__Invocation *inv;
	size_t i;

	if (ev->kind_case != ASYNCFLOW__EVENT__KIND_INVOCATION ||
	    (inv = ev->invocation) == NULL)
		return;
	if (inv->resolver.data != NULL)
		memset(inv->resolver.data, 0, inv->resolver.len);
	for (i = 0; i < inv->n_grants; i++)
		if (inv->grants[i]->resolver.data != NULL)
			memset(inv->grants[i]->resolver.data, 0,
			    inv->grants[i]->resolver.len);
}

int
cmd_serve(int argc, char **argv)
{
	static char quiet_opt[] = "--quiet";
	struct opt opts[] = {
		{ "quiet", NULL, &serve_quiet },
		{ NULL, NULL, NULL },
	};
	Asyncflow__Event *ev;
	uint64_t pending;
	char *pos[1];
	af_conn *c;
	int dd, fd, rc;

	/* NAME and options before "--", CMD [ARGS...] after it. */
	for (dd = 0; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		if (strcmp(argv[dd], "-q") == 0)
			argv[dd] = quiet_opt;
	if (parse_args(dd, argv, opts, pos, 1) < 1)
		usage_error("missing NAME (the object to serve)");
	if (pos[0][0] == '\0')
		usage_error("NAME must not be empty");
	if (dd >= argc)
		usage_error("missing -- CMD [ARGS...]");
	if (dd + 1 >= argc || argv[dd + 1][0] == '\0')
		usage_error("missing CMD after --");
	serve_cmd = argv + dd + 1; /* argv[argc] is NULL */

	/* Descriptors 0-2 open, so that no pipe lands there. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	/* CMD may exit without reading its stdin. */
	signal(SIGPIPE, SIG_IGN);

	c = connect_daemon();
	if ((rc = af_serve(c, pos[0], &pending)) != AF_OK)
		call_failed(c, rc);
	if (!serve_quiet)
		note("serving %s with %s (%llu invocation%s waiting)", pos[0],
		    serve_cmd[0], (unsigned long long)pending,
		    pending == 1 ? "" : "s");
	while ((rc = af_next_event(c, -1, &ev)) == AF_OK) {
		if (ev->kind_case == ASYNCFLOW__EVENT__KIND_INVOCATION)
			serve_one(c, ev->invocation);
		scrub_event(ev);
		af_msg_free(ev);
	}
	if (rc == AF_ENOMEM)
		nomem();
	note("lost the connection to the daemon: %s: %s", af_errname(rc),
	    af_conn_errmsg(c)[0] ? af_conn_errmsg(c) : af_strerror(rc));
	af_close(c);
	return EXIT_FAILURE;
}
