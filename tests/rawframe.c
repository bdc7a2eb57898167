/*
 * rawframe.c: an end-to-end test tool that speaks bad protocol on purpose
 * (and, in one mode, good protocol faster than asyncflowctl can). Connects
 * to the daemon's socket, sends one kind of bad frame, then reads what the
 * daemon answers and prints "reply_bytes=N closed=0|1".
 * It is no client library: it knows just enough of the wire format to
 * write these frames and to find the request id of a Response.
 *
 *   rawframe SOCKET garbage     a frame of bytes that are no Request
 *   rawframe SOCKET oversized   a header announcing 32 MiB (over the limit)
 *   rawframe SOCKET truncated   a header announcing 100 bytes, 10 sent, EOF
 *   rawframe SOCKET badversion  a well-formed hello for protocol version 99;
 *                               also prints the reply's printable text
 *   rawframe SOCKET unsorted    a hello, then a start of echo whose args are
 *                               a record with keys out of order (not the
 *                               canonical encoding); prints the replies'
 *                               text
 *   rawframe SOCKET deep [N]    a hello, then a start of echo whose args are
 *                               N nested lists (default 100000: far past the
 *                               daemon's protobuf depth limit, and deep
 *                               enough to overflow the stack of a decoder
 *                               that recursed without a limit); prints the
 *                               replies' text
 *   rawframe SOCKET badnames nul|utf8
 *                               a hello, then five requests, each with one
 *                               name holding a NUL (or a byte that is not
 *                               UTF-8): start of "echo\0junk", a start's
 *                               idempotency key, serve, ls's state, and a
 *                               record key in a start's args; prints
 *                               "errors=E utf8=ok|bad" (E: how many of them
 *                               got an error reply; bad: an error message
 *                               was not valid UTF-8) and the replies' text
 *   rawframe SOCKET starts N    the one mode that speaks good protocol: a
 *                               hello, then N starts of transfer pipelined
 *                               on this connection, the i-th with args
 *                               {"amount": 1, "from": "aaa...ai", "to":
 *                               "b"} (100000 a's: a big invocation to
 *                               come), then reads the N replies; prints
 *                               "started=N errors=E last_outcome=V" (V:
 *                               the outcome vow of the last start)
 *   rawframe SOCKET closeafter N [MODULE]
 *                               in one write: a hello, N mkvows (ids 2 to
 *                               N + 1), with MODULE an upgrade --check of
 *                               it (id N + 2), and a frame of bytes that
 *                               are no Request; reads until the daemon
 *                               closes and prints "replies=R vows=V
 *                               upgrade=0|1 last=ID closed=0|1" (R: frames
 *                               received, V: mkvow replies without an
 *                               error, upgrade: the upgrade answered
 *                               without an error, ID: the request id of
 *                               the last frame, 0 for the error that ends
 *                               the connection)
 *
 * The first four read until the daemon closes the connection or 30 s pass
 * without a byte (closed=0 then). unsorted and deep end with a probe, a
 * stats request on the same connection: closed=0 means the probe was
 * answered (the connection is proven open), closed=1 that the daemon
 * closed it first, closed=unknown that neither happened. These waits end
 * on an event; their timeouts (120 s for starts) are for a hung daemon.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

#define PROBE_ID 9

static int is_limit_mode(const char *mode);
static int limit_mode(int argc, char **argv);
static int close_after(int argc, char **argv);

/* Request{id 1, hello{version AF_PROTOCOL_VERSION}} */
static const unsigned char hello[] = {
	0,
	0,
	0,
	6,
	0x08,
	0x01,
	0x12,
	0x02,
	0x08,
	AF_PROTOCOL_VERSION,
};
/* Request{id PROBE_ID, stats{}} */
static const unsigned char probe[] = {
	0,
	0,
	0,
	4,
	0x08,
	PROBE_ID,
	0x6a,
	0x00,
};

static void
write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	/* A daemon that closes early makes this fail: that is for the
	 * reading side to report, not a reason to stop here. */
	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Append n bytes to the growing buffer *in (*inlen used, *incap held). */
static int
append(unsigned char **in, size_t *inlen, size_t *incap, const unsigned char *p,
    size_t n)
{
	unsigned char *q;

	if (*inlen + n > *incap) {
		if ((q = realloc(*in, (*inlen + n) * 2)) == NULL) {
			perror("realloc");
			return -1;
		}
		*in = q;
		*incap = (*inlen + n) * 2;
	}
	memcpy(*in + *inlen, p, n);
	*inlen += n;
	return 0;
}

/* The next whole frame of in[*off..inlen): its body in *body and *blen,
 * *off moved past it. 0 when no whole frame is left. */
static int
next_frame(const unsigned char *in, size_t inlen, size_t *off,
    const unsigned char **body, size_t *blen)
{
	size_t len;

	if (inlen - *off < 4)
		return 0;
	len = af__get_be32(in + *off);
	if (inlen - *off - 4 < len)
		return 0;
	*body = in + *off + 4;
	*blen = len;
	*off += 4 + len;
	return 1;
}

/* Write a tag and a varint (a length, or a varint field's value) in front
 * of *pos (the message grows towards the start of the buffer). */
static void
prepend_field(unsigned char **pos, unsigned tag, uint64_t len)
{
	unsigned char v[10];
	size_t n = 0;

	do {
		v[n++] = (unsigned char)((len & 0x7f) |
		    (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len > 0);
	*pos -= n;
	memcpy(*pos, v, n);
	*--*pos = (unsigned char)tag;
}

/* Request{id 2, start{flow "echo", args: [[[...null...]]]}} nesting
 * `lists` lists, as one frame; returns its length. */
static size_t
deep_frame(unsigned char **out, long lists)
{
	size_t cap = (size_t)lists * 12 + 64, len;
	unsigned char *buf, *end, *pos;
	long i;

	if ((buf = malloc(cap)) == NULL) {
		perror("malloc");
		exit(1);
	}
	end = pos = buf + cap;
	*--pos = 0x01; /* Value{null_value true} */
	*--pos = 0x08;
	for (i = 0; i < lists; i++) {
		prepend_field(&pos, 0x0a, (size_t)(end - pos)); /* List.items */
		prepend_field(&pos, 0x3a, (size_t)(end - pos)); /* Value.list */
	}
	prepend_field(&pos, 0x12, (size_t)(end - pos)); /* StartFlow.args */
	pos -= 4;
	memcpy(pos, "echo", 4);
	prepend_field(&pos, 0x0a, 4);                   /* StartFlow.flow */
	prepend_field(&pos, 0x1a, (size_t)(end - pos)); /* Request.start */
	*--pos = 0x02;                                  /* Request.id 2 */
	*--pos = 0x08;
	len = (size_t)(end - pos);
	pos -= 4;
	af__put_be32(pos, (uint32_t)len);
	*out = buf;
	memmove(buf, pos, len + 4);
	return len + 4;
}

/* Request{id, start{flow "transfer", args: {"amount": 1, "from": name,
 * "to": "b"}}} as one frame into buf (big enough); returns its length.
 * Record fields in key order: the canonical encoding. */
static size_t
start_frame(unsigned char *buf, size_t cap, uint64_t id, const char *name,
    size_t namelen)
{
	unsigned char *end = buf + cap, *pos = end, *field;
	size_t len;

	/* Field{key "to", value {string "b"}} */
	field = pos;
	*--pos = 'b';
	prepend_field(&pos, 0x2a, 1);                     /* Value.string */
	prepend_field(&pos, 0x12, (size_t)(field - pos)); /* Field.value */
	pos -= 2;
	memcpy(pos, "to", 2);
	prepend_field(&pos, 0x0a, 2);                     /* Field.key */
	prepend_field(&pos, 0x0a, (size_t)(field - pos)); /* Record.fields */
	/* Field{key "from", value {string name}} */
	field = pos;
	pos -= namelen;
	memcpy(pos, name, namelen);
	prepend_field(&pos, 0x2a, namelen);
	prepend_field(&pos, 0x12, (size_t)(field - pos));
	pos -= 4;
	memcpy(pos, "from", 4);
	prepend_field(&pos, 0x0a, 4);
	prepend_field(&pos, 0x0a, (size_t)(field - pos));
	/* Field{key "amount", value {int 1}} (sint64: zigzag 2) */
	field = pos;
	*--pos = 0x02;
	*--pos = 0x18; /* Value.int */
	prepend_field(&pos, 0x12, (size_t)(field - pos));
	pos -= 6;
	memcpy(pos, "amount", 6);
	prepend_field(&pos, 0x0a, 6);
	prepend_field(&pos, 0x0a, (size_t)(field - pos));
	prepend_field(&pos, 0x42, (size_t)(end - pos)); /* Value.record */
	prepend_field(&pos, 0x12, (size_t)(end - pos)); /* StartFlow.args */
	pos -= 8;
	memcpy(pos, "transfer", 8);
	prepend_field(&pos, 0x0a, 8);                   /* StartFlow.flow */
	prepend_field(&pos, 0x1a, (size_t)(end - pos)); /* Request.start */
	prepend_field(&pos, 0x08, id);                  /* Request.id */
	len = (size_t)(end - pos);
	pos -= 4;
	af__put_be32(pos, (uint32_t)len);
	memmove(buf, pos, len + 4);
	return len + 4;
}

static int
varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	int shift;

	*v = 0;
	for (shift = 0; *p < end && shift < 64; shift += 7) {
		*v |= (uint64_t)(**p & 0x7f) << shift;
		if ((*(*p)++ & 0x80) == 0)
			return 0;
	}
	return -1;
}

/* Find field num in the message p[0..n): a length-delimited one's bytes
 * in *f and *fn, a varint's value in *v. 1 found, 0 not (or malformed). */
static int
pb_field(const unsigned char *p, size_t n, unsigned num,
    const unsigned char **f, size_t *fn, uint64_t *v)
{
	const unsigned char *end = p + n;
	uint64_t tag, x;

	while (p < end) {
		if (varint(&p, end, &tag) != 0)
			return 0;
		switch (tag & 7) {
		case 0:
			if (varint(&p, end, &x) != 0)
				return 0;
			if ((tag >> 3) == num) {
				if (v == NULL)
					return 0;
				*v = x;
				return 1;
			}
			break;
		case 2:
			if (varint(&p, end, &x) != 0 || x > (uint64_t)(end - p))
				return 0;
			if ((tag >> 3) == num) {
				if (f == NULL)
					return 0;
				*f = p;
				*fn = (size_t)x;
				return 1;
			}
			p += x;
			break;
		case 1:
		case 5:
			x = (tag & 7) == 1 ? 8 : 4;
			if (x > (uint64_t)(end - p))
				return 0;
			p += x;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

/* The Response in a ServerMessage frame body, and its request id (0: an
 * event, or a response without an id). */
static uint64_t
response_of(const unsigned char *p, size_t n, const unsigned char **r,
    size_t *rn)
{
	uint64_t id = 0, unused;

	if (!pb_field(p, n, 1, r, rn, &unused) ||
	    !pb_field(*r, *rn, 1, NULL, NULL, &id))
		return 0;
	return id;
}

/* A tiny protobuf writer for badnames: messages of at most 127 bytes. */
struct pbw {
	unsigned char b[128];
	size_t n;
};

static void
pbw_bytes(struct pbw *m, unsigned char tag, const void *p, size_t n)
{
	if (m->n + 2 + n > sizeof(m->b)) {
		fprintf(stderr, "rawframe: message too long\n");
		exit(1);
	}
	m->b[m->n++] = tag;
	m->b[m->n++] = (unsigned char)n;
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
pbw_msg(struct pbw *m, unsigned char tag, const struct pbw *in)
{
	pbw_bytes(m, tag, in->b, in->n);
}

/* Writes Request{id, <optag>: op} as a frame. */
static void
send_request(int fd, unsigned char id, unsigned char optag,
    const struct pbw *op)
{
	struct pbw r = { { 0x08, id }, 2 };
	unsigned char hdr[4];

	pbw_msg(&r, optag, op);
	af__put_be32(hdr, (uint32_t)r.n);
	write_all(fd, hdr, 4);
	write_all(fd, r.b, r.n);
}

/* badnames: requests 2..6, each with one bad name (see the usage). */
static void
send_bad_names(int fd, unsigned char bad)
{
	unsigned char flow[] = { 'e', 'c', 'h', 'o', bad, 'j', 'u', 'n', 'k' };
	unsigned char name[] = { 'a', bad, 'b' };
	struct pbw op = { { 0 }, 0 }, v = { { 0 }, 0 }, f = { { 0 }, 0 },
		   rec = { { 0 }, 0 }, one = { { 0x18, 0x02 }, 2 };

	/* start{flow "echo?junk"} */
	pbw_bytes(&op, 0x0a, flow, sizeof(flow));
	send_request(fd, 2, 0x1a, &op);
	/* start{flow "echo", idempotency_key "a?b"} */
	op.n = 0;
	pbw_bytes(&op, 0x0a, "echo", 4);
	pbw_bytes(&op, 0x1a, name, sizeof(name));
	send_request(fd, 3, 0x1a, &op);
	/* serve{object "a?b"} */
	op.n = 0;
	pbw_bytes(&op, 0x0a, name, sizeof(name));
	send_request(fd, 4, 0x72, &op);
	/* list{state "a?b"} */
	send_request(fd, 5, 0x42, &op);
	/* start{flow "echo", args {"a?b": 1}} */
	pbw_bytes(&f, 0x0a, name, sizeof(name)); /* Field.key */
	pbw_msg(&f, 0x12, &one);                 /* Field.value */
	pbw_msg(&rec, 0x0a, &f);                 /* Record.fields */
	pbw_msg(&v, 0x42, &rec);                 /* Value.record_value */
	op.n = 0;
	pbw_bytes(&op, 0x0a, "echo", 4);
	pbw_msg(&op, 0x12, &v);
	send_request(fd, 6, 0x1a, &op);
}

/* Whether p[0..n) is valid UTF-8 (a plain check: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static int
utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0, k, j;
	unsigned char lo, hi;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		lo = 0x80, hi = 0xbf;
		if (p[i] >= 0xc2 && p[i] < 0xe0)
			k = 2;
		else if (p[i] >= 0xe0 && p[i] < 0xf0) {
			k = 3;
			lo = p[i] == 0xe0 ? 0xa0 : 0x80;
			hi = p[i] == 0xed ? 0x9f : 0xbf;
		} else if (p[i] >= 0xf0 && p[i] < 0xf5) {
			k = 4;
			lo = p[i] == 0xf0 ? 0x90 : 0x80;
			hi = p[i] == 0xf4 ? 0x8f : 0xbf;
		} else
			return 0;
		if (n - i < k || p[i + 1] < lo || p[i + 1] > hi)
			return 0;
		for (j = 2; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	unsigned char buf[4096], *in = NULL, *frame = NULL;
	size_t total = 0, tlen = 0, inlen = 0, incap = 0, flen;
	char text[1024];
	const char *mode, *closed = "0";
	int fd, with_probe, want_text;
	long lists = 100000, nstarts = 0, replies = 0, errors = 0;
	int badnames = -1, utf8 = 1;
	uint64_t last_outcome = 0;
	ssize_t n;

	if (argc >= 3 && is_limit_mode(argv[2]))
		return limit_mode(argc, argv);
	if (argc >= 3 && strcmp(argv[2], "closeafter") == 0)
		return close_after(argc, argv);
	if (argc < 3 || argc > 4 ||
	    (argc == 4 && strcmp(argv[2], "deep") != 0 &&
		strcmp(argv[2], "starts") != 0 &&
		strcmp(argv[2], "badnames") != 0)) {
		fprintf(stderr,
		    "usage: rawframe SOCKET garbage|oversized|"
		    "truncated|badversion|unsorted|deep [N]|starts N|"
		    "closeafter N [MODULE]|badnames nul|utf8\n");
		return 2;
	}
	mode = argv[2];
	if (strcmp(mode, "badnames") == 0) {
		if (argc != 4 ||
		    (strcmp(argv[3], "nul") != 0 &&
			strcmp(argv[3], "utf8") != 0)) {
			fprintf(stderr, "rawframe: badnames nul|utf8\n");
			return 2;
		}
		badnames = strcmp(argv[3], "nul") == 0 ? 0x00 : 0xff;
	} else if (argc == 4) {
		lists = strtol(argv[3], NULL, 10);
		if (lists < 1 || lists > 1000000) {
			fprintf(stderr, "rawframe: N out of range\n");
			return 2;
		}
	}
	if (strcmp(mode, "starts") == 0) {
		if (argc != 4) {
			fprintf(stderr, "rawframe: starts needs N\n");
			return 2;
		}
		nstarts = lists;
	}
	with_probe = strcmp(mode, "unsorted") == 0 ||
	    strcmp(mode, "deep") == 0 || badnames >= 0;
	want_text = with_probe || nstarts > 0 ||
	    strcmp(mode, "badversion") == 0;
	signal(SIGPIPE, SIG_IGN);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("connect");
		return 1;
	}
	memset(buf, 0xff, sizeof(buf));
	if (strcmp(mode, "garbage") == 0) {
		unsigned char hdr[4] = { 0, 0, 0, 16 };

		write_all(fd, hdr, 4);
		write_all(fd, buf, 16);
	} else if (strcmp(mode, "oversized") == 0) {
		unsigned char hdr[4] = { 0x02, 0, 0, 0 };

		write_all(fd, hdr, 4);
	} else if (strcmp(mode, "badversion") == 0) {
		/* Request{id: 1, hello: {version: 99}} */
		unsigned char msg[10] = { 0, 0, 0, 6, 0x08, 0x01, 0x12, 0x02,
			0x08, 99 };

		write_all(fd, msg, sizeof(msg));
	} else if (strcmp(mode, "unsorted") == 0) {
		/* Request{id 2, start{flow "echo", args {"b": 1, "a": 1}}} */
		static const unsigned char msg[] = {
			0,
			0,
			0,
			32,
			0x08,
			0x02,
			0x1a,
			0x1c,
			0x0a,
			0x04,
			'e',
			'c',
			'h',
			'o',
			0x12,
			0x14,
			0x42,
			0x12,
			0x0a,
			0x07,
			0x0a,
			0x01,
			'b',
			0x12,
			0x02,
			0x18,
			0x02,
			0x0a,
			0x07,
			0x0a,
			0x01,
			'a',
			0x12,
			0x02,
			0x18,
			0x02,
		};

		write_all(fd, hello, sizeof(hello));
		write_all(fd, msg, sizeof(msg));
	} else if (badnames >= 0) {
		write_all(fd, hello, sizeof(hello));
		send_bad_names(fd, (unsigned char)badnames);
	} else if (strcmp(mode, "deep") == 0) {
		flen = deep_frame(&frame, lists);
		write_all(fd, hello, sizeof(hello));
		write_all(fd, frame, flen);
		free(frame);
	} else if (nstarts > 0) {
		size_t cap = 100000 + 256, namelen;
		char *name;

		if ((frame = malloc(cap)) == NULL ||
		    (name = malloc(100000 + 24)) == NULL) {
			perror("malloc");
			return 1;
		}
		memset(name, 'a', 100000);
		write_all(fd, hello, sizeof(hello));
		for (long i = 0; i < nstarts; i++) {
			namelen = 100000 +
			    (size_t)snprintf(name + 100000, 24, "%ld", i);
			flen = start_frame(frame, cap, (uint64_t)i + 2, name,
			    namelen);
			write_all(fd, frame, flen);
		}
		free(name);
		free(frame);
	} else if (strcmp(mode, "truncated") == 0) {
		unsigned char hdr[4] = { 0, 0, 0, 100 };

		write_all(fd, hdr, 4);
		write_all(fd, buf, 10);
		shutdown(fd, SHUT_WR);
	} else {
		fprintf(stderr, "rawframe: unknown mode %s\n", mode);
		return 2;
	}
	if (with_probe) {
		write_all(fd, probe, sizeof(probe));
		closed = "unknown";
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		const unsigned char *body;
		size_t off, len;
		int answered = 0;

		if (poll(&p, 1, nstarts > 0 ? 120000 : 30000) <= 0)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			closed = "1";
			break;
		}
		total += (size_t)n;
		if (!with_probe && !want_text)
			continue;
		if (append(&in, &inlen, &incap, buf, (size_t)n) != 0)
			return 1;
		/* Whole frames: the probe's answer ends the wait; the text
		 * of every other frame is kept. */
		off = 0;
		while (next_frame(in, inlen, &off, &body, &len)) {
			const unsigned char *r, *f;
			size_t rn, fn;
			uint64_t id;

			id = response_of(body, len, &r, &rn);
			if (with_probe && id == PROBE_ID) {
				answered = 1;
				continue;
			}
			if (badnames >= 0 && id >= 2 && id <= 6 &&
			    pb_field(r, rn, 2, &f, &fn, NULL)) {
				const unsigned char *em;
				size_t emn;

				errors++;
				if (pb_field(f, fn, 3, &em, &emn, NULL) &&
				    !utf8_ok(em, emn))
					utf8 = 0;
			}
			if (nstarts > 0) {
				/* Only the text of error replies is kept. */
				if (id >= 2 && id < (uint64_t)nstarts + 2)
					replies++;
				if (replies == nstarts)
					answered = 1;
				if (id != 0 &&
				    !pb_field(r, rn, 2, &f, &fn, NULL)) {
					if (id == (uint64_t)nstarts + 1 &&
					    pb_field(r, rn, 4, &f, &fn, NULL))
						pb_field(f, fn, 2, NULL, NULL,
						    &last_outcome);
					continue;
				}
				errors++;
			}
			for (size_t i = 0; i < len; i++)
				if (body[i] >= 0x20 && body[i] < 0x7f &&
				    tlen < sizeof(text) - 1)
					text[tlen++] = (char)body[i];
		}
		memmove(in, in + off, inlen - off);
		inlen -= off;
		if (answered) {
			closed = "0";
			break;
		}
	}
	text[tlen] = '\0';
	if (nstarts > 0) {
		printf("started=%ld errors=%ld last_outcome=%llu%s%s\n",
		    replies - errors, errors, (unsigned long long)last_outcome,
		    tlen ? " text=" : "", text);
		free(in);
		close(fd);
		return 0;
	}
	if (badnames >= 0)
		printf("errors=%ld utf8=%s ", errors, utf8 ? "ok" : "bad");
	printf("reply_bytes=%zu closed=%s%s%s\n", total, closed,
	    tlen ? " text=" : "", text);
	free(in);
	close(fd);
	return 0;
}

/* Append a varint to f at *k. */
static void
put_varint(unsigned char *f, size_t *k, uint64_t v)
{
	while (v >= 0x80) {
		f[(*k)++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	f[(*k)++] = (unsigned char)v;
}

static int dial(const char *path);

/* closeafter: see the top of the file. Requests read before the bad frame
 * are answered before the daemon closes the connection, and the error it
 * closes with comes last. */
static int
close_after(int argc, char **argv)
{
	const char *module = argc == 5 ? argv[4] : NULL;
	long n = argc >= 4 ? strtol(argv[3], NULL, 10) : 0, replies = 0,
	     vows = 0, upgraded = 0, i;
	size_t mlen = module ? strlen(module) : 0, off, inlen = 0, incap = 0,
	       blen, len;
	unsigned char *out, *in = NULL, buf[4096];
	const unsigned char *body, *r, *e;
	const char *closed = "0";
	uint64_t id, last = 0;
	size_t rn, en;
	ssize_t got;
	int fd;

	if (argc < 4 || argc > 5 || n < 0 || n > 100000 || mlen > 100) {
		fprintf(stderr, "rawframe: closeafter N [MODULE]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	len = sizeof(hello) + (size_t)n * 8 + 128 + mlen + 4 + 16;
	if ((out = malloc(len)) == NULL) {
		perror("malloc");
		return 1;
	}
	memcpy(out, hello, sizeof(hello));
	off = sizeof(hello);
	for (i = 0; i < n; i++) { /* Request{id i + 2, mkvow {}} */
		unsigned char *f = out + off + 4;
		size_t k = 0;

		f[k++] = 0x08;
		put_varint(f, &k, (uint64_t)i + 2);
		f[k++] = 0x22;
		f[k++] = 0x00;
		af__put_be32(out + off, (uint32_t)k);
		off += 4 + k;
	}
	if (module != NULL) {
		/* Request{id n + 2, upgrade {modules [module], check true}} */
		unsigned char *f = out + off + 4;
		size_t k = 0;

		f[k++] = 0x08;
		put_varint(f, &k, (uint64_t)n + 2);
		f[k++] = 0x92; /* field 18, length-delimited */
		f[k++] = 0x01;
		put_varint(f, &k, 2 + mlen + 2);
		f[k++] = 0x0a;
		put_varint(f, &k, mlen);
		memcpy(f + k, module, mlen);
		k += mlen;
		f[k++] = 0x10;
		f[k++] = 0x01;
		af__put_be32(out + off, (uint32_t)k);
		off += 4 + k;
	}
	af__put_be32(out + off, 16);
	memset(out + off + 4, 0xff, 16);
	off += 4 + 16;
	fd = dial(argv[1]);
	write_all(fd, out, off);
	free(out);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 30000) <= 0)
			break;
		if ((got = read(fd, buf, sizeof(buf))) <= 0) {
			closed = got == 0 ? "1" : "0";
			break;
		}
		if (append(&in, &inlen, &incap, buf, (size_t)got) != 0)
			return 1;
		off = 0;
		while (next_frame(in, inlen, &off, &body, &blen)) {
			replies++;
			last = id = response_of(body, blen, &r, &rn);
			if (id >= 2 && id < (uint64_t)n + 2 &&
			    !pb_field(r, rn, 2, &e, &en, NULL))
				vows++;
			if (module != NULL && id == (uint64_t)n + 2 &&
			    !pb_field(r, rn, 2, &e, &en, NULL))
				upgraded++;
		}
		memmove(in, in + off, inlen - off);
		inlen -= off;
	}
	free(in);
	close(fd);
	printf("replies=%ld vows=%ld upgrade=%ld last=%llu closed=%s\n",
	    replies, vows, upgraded, (unsigned long long)last, closed);
	return 0;
}

/*
 * The daemon's limits (issue 11 item 6):
 *
 *   rawframe SOCKET hold N      N connections that send nothing; prints
 *                               "held=N" once all are connected, then
 *                               waits to be killed
 *   rawframe SOCKET half        a hello, then half a frame (a header for
 *                               100 bytes, 50 sent); waits up to 30 s for
 *                               the daemon to close it and prints
 *                               "closed=0|1 text=..." (its error reply)
 *   rawframe SOCKET stall K MiB K connections one after the other, each
 *                               a hello and then all but the last byte of
 *                               a frame of MiB MiB; prints "closed=C
 *                               text=..." (C: those the daemon closed
 *                               while they wrote, with the first one's
 *                               error reply), then waits to be killed
 */

static int
is_limit_mode(const char *mode)
{
	return strcmp(mode, "hold") == 0 || strcmp(mode, "half") == 0 ||
	    strcmp(mode, "stall") == 0;
}

/* 0 once all n bytes are written, -1 if the daemon closed first. */
static int
put_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
dial(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

/* Read what fd says until EOF (1) or timeout_ms without a byte (0); the
 * printable bytes go to text. */
static int
read_to_eof(int fd, int timeout_ms, char *text, size_t cap)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	unsigned char buf[4096];
	size_t tlen = strlen(text);
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return 0;
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			return 1;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] >= 0x20 && buf[i] < 0x7f && tlen < cap - 1)
				text[tlen++] = (char)buf[i];
		text[tlen] = '\0';
	}
}

static int
limit_mode(int argc, char **argv)
{
	const char *mode = argv[2];
	static unsigned char chunk[1 << 16];
	unsigned char hdr[AF_FRAME_HEADER];
	char text[1024] = "";
	long k, mib, closed = 0, i;
	size_t left;
	ssize_t n;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "hold") == 0) {
		k = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
		if (k < 1 || k > 100000) {
			fprintf(stderr, "rawframe: hold needs N\n");
			return 2;
		}
		for (i = 0; i < k; i++)
			(void)dial(argv[1]);
		printf("held=%ld\n", k);
		fflush(stdout);
		for (;;)
			pause();
	}
	if (strcmp(mode, "half") == 0) {
		fd = dial(argv[1]);
		af__put_be32(hdr, 100);
		if (put_all(fd, hello, sizeof(hello)) != 0 ||
		    put_all(fd, hdr, sizeof(hdr)) != 0 ||
		    put_all(fd, chunk, 50) != 0) {
			perror("write");
			return 1;
		}
		closed = read_to_eof(fd, 30000, text, sizeof(text));
		printf("closed=%ld text=%s\n", closed, text);
		return 0;
	}
	k = argc == 5 ? strtol(argv[3], NULL, 10) : 0;
	mib = argc == 5 ? strtol(argv[4], NULL, 10) : 0;
	if (k < 1 || k > 1000 || mib < 1 || mib > 17) {
		fprintf(stderr, "rawframe: stall needs K and MiB\n");
		return 2;
	}
	for (i = 0; i < k; i++) {
		fd = dial(argv[1]);
		af__put_be32(hdr, (uint32_t)mib << 20);
		if (put_all(fd, hello, sizeof(hello)) != 0 ||
		    put_all(fd, hdr, sizeof(hdr)) != 0)
			goto closed;
		for (left = ((size_t)mib << 20) - 1; left > 0;
		     left -= (size_t)n)
			if ((n = write(fd, chunk,
				 left < sizeof(chunk) ? left :
							sizeof(chunk))) <= 0)
				goto closed;
		continue;
closed:
		if (closed++ == 0)
			(void)read_to_eof(fd, 30000, text, sizeof(text));
		close(fd);
	}
	printf("closed=%ld text=%s\n", closed, text);
	fflush(stdout);
	for (;;)
		pause();
}
