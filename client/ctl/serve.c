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
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* ---- serve ----------------------------------------------------------------------- *
 *
 * One invocation at a time, in arrival order: its JSON goes to CMD's stdin
 * while CMD's stdout and stderr are read, all three pipes non-blocking
 * under one poll, so a CMD that writes much before it reads, or never
 * reads its stdin, cannot deadlock with us.
 *
 * An answer is CMD's exit: status 0 and its stdout fulfil (or, if that is
 * not a value, reject with BadResult), any other status and its stderr
 * reject. CMD killed by a signal gave no answer, whatever it printed (it
 * may have done its work, or part of it): the invocation is not settled.
 * The daemon hands an invocation out again only when its server's
 * connection closes, so we close ours and connect again, and the
 * invocation comes back (to us or to another server of the object). So
 * does one whose answer could not be sent because the connection was
 * lost: we reconnect with a capped exponential backoff, log the outage
 * once, and serve again (a restart is how the daemon is upgraded). Only
 * not being able to run CMD at all, or a daemon that refuses us for good,
 * ends the command (exit 1, nothing answered). --no-reconnect: exit 1 at
 * the first loss instead.
 */

#define SERVE_STDOUT_MAX \
	(8u << 20)                   /* a result beyond this cannot fit
					 * a frame anyway */
#define SERVE_STDERR_MAX (64u << 10) /* kept for the rejection message */
#define SERVE_EXCERPT    200         /* bytes of bad output quoted */
#define SERVE_LINGER_MS \
	2000                      /* after CMD exited, for the pipes'
					 * EOF (a background child of CMD
					 * may hold them open) */
#define SERVE_BACKOFF_MIN_MS 50   /* first wait before connecting again */
#define SERVE_BACKOFF_MAX_MS 2000 /* the waits double up to this */

static bool serve_quiet, serve_no_reconnect;
/* Why the invocation being served could not be answered on this
 * connection (AF_ECONN: the connection is lost); AF_OK: it could. */
static int serve_lost;
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
 * needs no more doing: answered already, or the daemon will not let us;
 * or cannot be done on this connection: then serve_lost is set, and the
 * caller drops the connection so that the invocation is handed out
 * again), or the code of a value the daemon refused, for the caller to
 * reject instead.
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
	if (rc == AF_ENOMEM)
		nomem();
	note("%s: cannot answer: %s: %s (the answer is dropped: the daemon "
	     "hands the invocation out again)",
	    label, af_errname(rc), m);
	serve_lost = rc;
	return AF_OK;
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

/* What became of one invocation. */
enum served {
	ANSWERED,  /* settled, or nothing to settle */
	NO_ANSWER, /* CMD gave none: leave it unsettled */
	LOST       /* the answer could not be sent (serve_lost) */
};

static enum served
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
		return ANSWERED;
	}
	if ((input = invocation_json(inv, why, sizeof(why))) == NULL) {
		snprintf(msg, sizeof(msg),
		    "asyncflowctl cannot pass this "
		    "invocation to %s: %s",
		    serve_cmd[0], why);
		reject_with(c, inv, label, "BadArgs", msg);
		return serve_lost != AF_OK ? LOST : ANSWERED;
	}
	outbuf_init(&out, SERVE_STDOUT_MAX);
	outbuf_init(&err, SERVE_STDERR_MAX);
	run_cmd(input, strlen(input), &out, &err, &status);
	memset(input, 0, strlen(input)); /* it may hold secrets */
	free(input);
	if (WIFSIGNALED(status)) {
		note("%s: no answer: %s killed by signal %d; the invocation "
		     "stays unanswered, to be handed out again",
		    label, serve_cmd[0], WTERMSIG(status));
		free(out.p);
		free(err.p);
		return NO_ANSWER;
	}
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
			snprintf(msg, sizeof(msg), "%s exited with status %d",
			    serve_cmd[0], WEXITSTATUS(status));
			reject_with(c, inv, label, "Error", msg);
		}
	}
	free(out.p);
	free(err.p);
	return serve_lost != AF_OK ? LOST : ANSWERED;
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

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Serves on c until an invocation is left unanswered (NO_ANSWER) or the
 * connection is lost or must be dropped (LOST, logged). *answered counts
 * the invocations answered.
 */
static enum served
serve_conn(af_conn *c, uint64_t *answered)
{
	Asyncflow__Event *ev;
	enum served r = ANSWERED;
	int rc;

	serve_lost = AF_OK;
	while (r == ANSWERED && (rc = af_next_event(c, -1, &ev)) == AF_OK) {
		if (ev->kind_case == ASYNCFLOW__EVENT__KIND_INVOCATION &&
		    (r = serve_one(c, ev->invocation)) == ANSWERED)
			(*answered)++;
		scrub_event(ev);
		af_msg_free(ev);
	}
	if (r == NO_ANSWER)
		return r;
	if (r == LOST)
		rc = serve_lost;
	if (rc == AF_ENOMEM)
		nomem();
	if (rc == AF_ECONN || rc == AF_ETIMEDOUT || rc == AF_EPROTO)
		note("lost the connection to the daemon: %s: %s%s",
		    af_errname(rc),
		    af_conn_errmsg(c)[0] ? af_conn_errmsg(c) : af_strerror(rc),
		    serve_no_reconnect ? "" : "; connecting again");
	else
		note("dropping the connection to the daemon after %s%s",
		    af_errname(rc),
		    serve_no_reconnect ? "" : "; connecting again");
	return LOST;
}

/*
 * Connects and registers as a server of name again, first after delay_ms,
 * then waiting twice as long after each failure, up to
 * SERVE_BACKOFF_MAX_MS; a failure is logged when its reason differs from
 * the one before (not at every try). Exits 1 if the daemon refuses us in
 * a way a retry cannot mend (another protocol version, a name it rejects).
 */
static af_conn *
reconnect(const char *name, unsigned delay_ms, uint64_t *pending)
{
	struct af_connect_opts co = { AF_CONNECT_TIMEOUT_MS, trust_uid };
	char err[512];
	int rc, last = AF_OK;
	af_conn *c;

	for (;;) {
		sleep_ms(delay_ms);
		err[0] = '\0';
		rc = af_connect_with(socket_path, &co, &c, err, sizeof(err));
		if (rc == AF_OK) {
			if ((rc = af_serve(c, name, pending)) == AF_OK)
				return c;
			snprintf(err, sizeof(err), "%s", af_conn_errmsg(c));
			af_close(c);
		}
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s", af_strerror(rc));
		if (rc == AF_ENOMEM)
			nomem();
		if (rc == AF_EPROTO || rc == AF_EINVAL)
			fail(EXIT_FAILURE, "cannot serve %s again: %s: %s",
			    name, af_errname(rc), err);
		if (rc != last)
			note("cannot connect yet: %s: %s; trying again, "
			     "every %u ms at most",
			    af_errname(rc), err, SERVE_BACKOFF_MAX_MS);
		last = rc;
		delay_ms = delay_ms < SERVE_BACKOFF_MIN_MS ?
		    SERVE_BACKOFF_MIN_MS :
		    delay_ms >= SERVE_BACKOFF_MAX_MS / 2 ?
		    SERVE_BACKOFF_MAX_MS :
		    delay_ms * 2;
	}
}

int
cmd_serve(int argc, char **argv)
{
	static char quiet_opt[] = "--quiet";
	struct opt opts[] = {
		{ "quiet", NULL, &serve_quiet },
		{ "no-reconnect", NULL, &serve_no_reconnect },
		{ NULL, NULL, NULL },
	};
	uint64_t pending, answered = 0, mark;
	unsigned delay = 0, unanswered = 0;
	int64_t down = 0;
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

	/* The first connection must work: a daemon that is not there at
	 * all is an error, not an outage. */
	c = connect_daemon();
	if ((rc = af_serve(c, pos[0], &pending)) != AF_OK)
		call_failed(c, rc);
	for (;;) {
		if (!serve_quiet && down == 0)
			note("serving %s with %s (%llu invocation%s waiting)",
			    pos[0], serve_cmd[0], (unsigned long long)pending,
			    pending == 1 ? "" : "s");
		else if (!serve_quiet)
			note("serving %s with %s again after %lld ms (%llu "
			     "invocation%s waiting)",
			    pos[0], serve_cmd[0], (long long)(now_ms() - down),
			    (unsigned long long)pending,
			    pending == 1 ? "" : "s");
		mark = answered;
		if (serve_conn(c, &answered) == NO_ANSWER) {
			/* A CMD killed at every try must not spin: the
			 * wait doubles while nothing is answered. */
			unanswered = answered == mark ? unanswered + 1 : 1;
			delay = SERVE_BACKOFF_MIN_MS
			    << (unanswered < 6 ? unanswered - 1 : 5);
			if (delay > SERVE_BACKOFF_MAX_MS)
				delay = SERVE_BACKOFF_MAX_MS;
			if (serve_no_reconnect)
				note("no-reconnect: exiting, so that the "
				     "daemon hands the invocation out again");
		} else {
			unanswered = 0;
			delay = SERVE_BACKOFF_MIN_MS;
		}
		af_close(c);
		if (serve_no_reconnect)
			return EXIT_FAILURE;
		down = now_ms();
		c = reconnect(pos[0], delay, &pending);
	}
}
