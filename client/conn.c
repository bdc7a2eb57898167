/*
 * conn.c: one connection to asyncflowd: connect and handshake, framing,
 * request ids, matching answers to requests, and the queue of pushed events.
 *
 * The socket is non-blocking. Everything waits in one place, io_step():
 * a poll() for readability (and writability while requests are unsent),
 * then as much reading and writing as the socket allows, then decoding
 * every complete frame in the input buffer. Answers are parked on their
 * pending request, events on the event queue, so callers can take them in
 * any order. Nothing here blocks without a deadline the caller chose.
 *
 * A frame that cannot be handled for lack of memory stays in the input
 * buffer and is decoded again by the next call: nothing read is lost to
 * AF_ENOMEM. Frames are checked for their size and nesting depth before
 * protobuf-c unpacks them, with the helpers of common/frame.h the daemon
 * uses too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "asyncflow.h"
#include "frame.h"
#include "ops.h"

#define READ_CHUNK (64u * 1024)

struct pending {
	uint64_t id;
	bool forgotten;
	int want;                  /* expected Response result case */
	Asyncflow__Response *resp; /* the answer, once it came */
	struct pending *next;
};

struct event {
	Asyncflow__Event *ev;
	struct event *next;
};

struct af_conn {
	int fd;
	int timeout_ms; /* of the blocking calls */
	uint64_t next_id;
	int broken; /* sticky failure code, or 0 */
	bool eof;
	char fatal[512];  /* message of `broken` */
	char errmsg[512]; /* af_conn_errmsg */

	uint64_t incarnation; /* from the hello reply */
	char *daemon;

	uint8_t *in; /* bytes read, [in_off, in_len) unparsed */
	size_t in_off, in_len, in_cap;
	uint8_t *out; /* bytes to send, [out_off, out_len) unsent */
	size_t out_off, out_len, out_cap;

	struct pending *pend, *pend_tail;
	struct event *evq, *evq_tail;
};

static const char no_conn_msg[] = "no connection";

/* ---- Small helpers -------------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline of a timeout: -1 for never. */
static int64_t
deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Milliseconds to the deadline for poll(): -1 for none, 0 once passed. */
static int
ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	return left <= 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
}

static void
fmt_into(char *buf, size_t len, const char *fmt, va_list ap)
{
	if (len == 0)
		return;
	if (vsnprintf(buf, len, fmt, ap) < 0)
		buf[0] = '\0';
}

static void
set_errmsg(af_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fmt_into(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
}

/* Marks the connection broken with `code` unless it already is; returns
 * the sticky code. */
static int
set_broken(af_conn *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->broken == 0) {
		c->broken = code;
		va_start(ap, fmt);
		fmt_into(c->fatal, sizeof(c->fatal), fmt, ap);
		va_end(ap);
	}
	return c->broken;
}

/* Returns the sticky code, with its message as the call's message. */
static int
broken(af_conn *c)
{
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", c->fatal);
	return c->broken;
}

/* protobuf-c's unpack returns NULL both for bad input and for a failed
 * allocation; this allocator tells them apart. Its memory is malloc's, so
 * protobuf_c_message_free_unpacked(m, NULL) frees it. */
struct oom_flag {
	bool oom;
};

static void *
pb_alloc(void *data, size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		((struct oom_flag *)data)->oom = true;
	return p;
}

static void
pb_free(void *data, void *p)
{
	(void)data;
	free(p);
}

void
af_msg_free(void *msg)
{
	if (msg != NULL)
		protobuf_c_message_free_unpacked((ProtobufCMessage *)msg, NULL);
}

/* ---- Pending requests and events ----------------------------------------- */

static struct pending *
pending_find(af_conn *c, uint64_t id, struct pending **prevp)
{
	struct pending *p, *prev = NULL;

	for (p = c->pend; p != NULL; prev = p, p = p->next)
		if (p->id == id)
			break;
	if (prevp != NULL)
		*prevp = prev;
	return p;
}

static void
pending_unlink(af_conn *c, struct pending *p, struct pending *prev)
{
	if (prev != NULL)
		prev->next = p->next;
	else
		c->pend = p->next;
	if (c->pend_tail == p)
		c->pend_tail = prev;
	free(p);
}

/* ---- Decoding frames ------------------------------------------------------ */

/* Handles one decoded message; takes it over on AF_OK. On AF_ENOMEM the
 * message is left to the caller (to free and decode again later). */
static int
dispatch(af_conn *c, Asyncflow__ServerMessage *sm)
{
	struct pending *p, *prev;
	Asyncflow__Response *r;
	struct event *e;

	switch (sm->kind_case) {
	case ASYNCFLOW__SERVER_MESSAGE__KIND_EVENT:
		if (sm->event == NULL)
			break;
		if ((e = malloc(sizeof(*e))) == NULL)
			return AF_ENOMEM;
		e->ev = sm->event;
		e->next = NULL;
		sm->event = NULL;
		sm->kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND__NOT_SET;
		if (c->evq_tail != NULL)
			c->evq_tail->next = e;
		else
			c->evq = e;
		c->evq_tail = e;
		break;
	case ASYNCFLOW__SERVER_MESSAGE__KIND_RESPONSE:
		r = sm->response;
		if (r == NULL)
			break;
		if (r->id == 0) {
			/*
			 * The daemon's last word before it closes the
			 * connection. Whatever its code (ETIMEDOUT, ENOMEM...),
			 * the connection is gone: that is the sticky code, and
			 * the daemon's code and message are the text.
			 */
			if (r->error != NULL)
				set_broken(c, AF_ECONN,
				    "connection closed by the "
				    "daemon: %s: %s",
				    r->error->name[0] ?
					r->error->name :
					af_errname(r->error->code),
				    r->error->message[0] ?
					r->error->message :
					af_strerror(r->error->code));
			else
				set_broken(c, AF_EPROTO,
				    "protocol error: a response "
				    "without id and without error");
			break;
		}
		p = pending_find(c, r->id, &prev);
		if (p == NULL || p->resp != NULL) {
			set_broken(c, AF_EPROTO,
			    "protocol error: %s response "
			    "to request %llu",
			    p == NULL ? "unexpected" : "second",
			    (unsigned long long)r->id);
			break;
		}
		sm->response = NULL;
		sm->kind_case = ASYNCFLOW__SERVER_MESSAGE__KIND__NOT_SET;
		if (p->forgotten) {
			af_msg_free(r);
			pending_unlink(c, p, prev);
		} else {
			p->resp = r;
		}
		break;
	default:
		/* A kind of message newer than this library: skip it. */
		break;
	}
	af_msg_free(sm);
	return AF_OK;
}

/* Decodes every complete frame in the input buffer. *progress is set when
 * at least one was consumed. Returns AF_OK, AF_ENOMEM (the frame stays),
 * or the sticky code once the stream is unusable. */
static int
decode_frames(af_conn *c, bool *progress)
{
	ProtobufCAllocator alloc;
	struct oom_flag flag;
	Asyncflow__ServerMessage *sm;
	const uint8_t *frame;
	size_t len;
	int rc;

	while (c->broken == 0 && c->in_len - c->in_off >= AF_FRAME_HEADER) {
		if (af__frame_get_header(c->in + c->in_off, &len) != AF_OK)
			return set_broken(c, AF_EPROTO,
			    "protocol error: the "
			    "daemon sent a frame of %lu bytes (the limit is %u)",
			    (unsigned long)len, AF_MAX_FRAME);
		if (c->in_len - c->in_off - AF_FRAME_HEADER < len)
			break;
		frame = c->in + c->in_off + AF_FRAME_HEADER;
		/* protobuf-c unpacks nested messages recursively without a
		 * limit: a small frame nesting thousands of messages would
		 * overflow the stack. */
		switch (
		    af__pb_depth_check(&asyncflow__server_message__descriptor,
			frame, len, AF_MAX_DEPTH)) {
		case AF_OK:
			break;
		case AF_ELIMIT:
			return set_broken(c, AF_EPROTO,
			    "protocol error: the "
			    "daemon sent a message nesting more than %d "
			    "messages deep (AF_MAX_DEPTH)",
			    AF_MAX_DEPTH);
		default:
			return set_broken(c, AF_EPROTO,
			    "protocol error: the "
			    "daemon sent a message that does not decode");
		}
		flag.oom = false;
		alloc.alloc = pb_alloc;
		alloc.free = pb_free;
		alloc.allocator_data = &flag;
		sm = (Asyncflow__ServerMessage *)protobuf_c_message_unpack(
		    &asyncflow__server_message__descriptor, &alloc, len, frame);
		if (sm == NULL && flag.oom)
			return AF_ENOMEM;
		if (sm == NULL)
			return set_broken(c, AF_EPROTO,
			    "protocol error: the "
			    "daemon sent a message that does not decode");
		if ((rc = dispatch(c, sm)) != AF_OK) {
			af_msg_free(sm);
			return rc;
		}
		c->in_off += AF_FRAME_HEADER + len;
		*progress = true;
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	return c->broken;
}

/* ---- Socket I/O ------------------------------------------------------------ */

/* Makes room in the input buffer for the frame being read. */
static int
in_reserve(af_conn *c)
{
	size_t need = READ_CHUNK, have = c->in_len - c->in_off;
	uint8_t *n;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, have);
		c->in_len = have;
		c->in_off = 0;
	}
	/* decode_frames checked the length of a started frame already. */
	if (have >= AF_FRAME_HEADER &&
	    AF_FRAME_HEADER + (size_t)af__get_be32(c->in) > need)
		need = AF_FRAME_HEADER + (size_t)af__get_be32(c->in);
	if (c->in_cap >= need)
		return AF_OK;
	if ((n = realloc(c->in, need)) == NULL)
		return AF_ENOMEM;
	c->in = n;
	c->in_cap = need;
	return AF_OK;
}

/* Reads what the socket has. Sets c->eof on end of stream. */
static int
read_some(af_conn *c, bool *got)
{
	ssize_t n;
	int rc;

	if ((rc = in_reserve(c)) != AF_OK)
		return rc;
	while (c->in_len < c->in_cap) {
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len,
		    MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (size_t)n;
			*got = true;
			continue;
		}
		if (n == 0) {
			c->eof = true;
			return AF_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return AF_OK;
		/* The daemon closed with something of ours unread (a refusal
		 * says why, then closes before reading the hello): Linux
		 * reports that as a reset, but only after the data it sent,
		 * which we have. An end of stream: decode what came first. */
		if (errno == ECONNRESET) {
			c->eof = true;
			return AF_OK;
		}
		return set_broken(c, AF_ECONN, "connection lost: %s",
		    strerror(errno));
	}
	return AF_OK;
}

/* After the daemon closed the stream: keep what it said last, if anything. */
static int
closed(af_conn *c)
{
	if (c->in_len > c->in_off)
		return set_broken(c, AF_ECONN,
		    "connection closed by the daemon "
		    "in the middle of a frame");
	return set_broken(c, AF_ECONN, "connection closed by the daemon");
}

static int
write_some(af_conn *c)
{
	ssize_t n;
	bool got = false;
	int err;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return AF_OK;
		/* The daemon may have said why before it closed: read it. */
		err = errno;
		if (read_some(c, &got) == AF_OK)
			(void)decode_frames(c, &got);
		return set_broken(c, AF_ECONN, "connection lost: %s",
		    strerror(err));
	}
	c->out_off = c->out_len = 0;
	return AF_OK;
}

/*
 * One round of waiting: decode what is buffered; if that gave nothing, poll
 * until the deadline (-1: none), then write and read what the socket
 * allows and decode again. Returns AF_OK when the caller should look again
 * (something may have arrived, or a signal interrupted the wait),
 * AF_ETIMEDOUT, AF_ENOMEM, or the sticky code.
 */
static int
io_step(af_conn *c, int64_t deadline)
{
	struct pollfd pfd;
	bool progress = false;
	int rc;

	if (c->broken)
		return c->broken;
	if ((rc = decode_frames(c, &progress)) != AF_OK || progress)
		return rc;
	if (c->eof)
		return closed(c);
	pfd.fd = c->fd;
	pfd.events = POLLIN | (c->out_off < c->out_len ? POLLOUT : 0);
	pfd.revents = 0;
	rc = poll(&pfd, 1, ms_left(deadline));
	if (rc < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return AF_OK;
		return set_broken(c, AF_ECONN, "poll: %s", strerror(errno));
	}
	if (rc == 0)
		return AF_ETIMEDOUT;
	if (pfd.revents & POLLNVAL)
		return set_broken(c, AF_ECONN,
		    "the connection's socket was "
		    "closed behind the library's back");
	if ((pfd.revents & POLLOUT) && (rc = write_some(c)) != AF_OK)
		return rc;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
		if ((rc = read_some(c, &progress)) != AF_OK)
			return rc;
		if ((rc = decode_frames(c, &progress)) != AF_OK)
			return rc;
		if (c->eof && !progress)
			return closed(c);
	}
	return AF_OK;
}

/* ---- Checking what goes out and what comes back ---------------------------- */

/*
 * Walks a message the caller built, by its descriptor, for what would make
 * protobuf-c crash while packing: a NULL string, a set oneof message that
 * is NULL, a NULL array or element, bytes with a length but no data; and
 * for nesting more than AF_MAX_DEPTH messages deep (the request itself is
 * level 1; the daemon refuses deeper frames, closing the connection). The
 * daemon judges everything else.
 */
static int
check_field(af_conn *c, const ProtobufCFieldDescriptor *f, const void *p)
{
	const ProtobufCBinaryData *b;

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		if (*(char *const *)p == NULL) {
			set_errmsg(c, "field %s is a NULL string", f->name);
			return AF_EINVAL;
		}
		return AF_OK;
	case PROTOBUF_C_TYPE_BYTES:
		b = p;
		if (b->len > 0 && b->data == NULL) {
			set_errmsg(c, "field %s has a length and no data",
			    f->name);
			return AF_EINVAL;
		}
		return AF_OK;
	default:
		return AF_OK;
	}
}

static int
check_msg(af_conn *c, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const ProtobufCFieldDescriptor *f;
	const char *base = (const char *)m, *mem;
	size_t i, j, n, esz;
	int rc;

	if (depth > AF_MAX_DEPTH) {
		set_errmsg(c,
		    "the request nests more than %d messages "
		    "(AF_MAX_DEPTH) deep",
		    AF_MAX_DEPTH);
		return AF_ELIMIT;
	}
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		mem = base + f->offset;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			if (n == 0)
				continue;
			if (*(void *const *)mem == NULL) {
				set_errmsg(c, "repeated field %s is NULL",
				    f->name);
				return AF_EINVAL;
			}
			if (f->type == PROTOBUF_C_TYPE_MESSAGE ||
			    f->type == PROTOBUF_C_TYPE_STRING) {
				for (j = 0; j < n; j++) {
					const void *e = (*(
					    void *const *const *)mem)[j];
					if (e == NULL) {
						set_errmsg(c,
						    "an element of %s is "
						    "NULL",
						    f->name);
						return AF_EINVAL;
					}
					if (f->type ==
						PROTOBUF_C_TYPE_MESSAGE &&
					    (rc = check_msg(c, e, depth + 1)) !=
						AF_OK)
						return rc;
				}
			} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
				esz = sizeof(ProtobufCBinaryData);
				for (j = 0; j < n; j++)
					if ((rc = check_field(c, f,
						 *(const char *const *)mem +
						     j * esz)) != AF_OK)
						return rc;
			}
			continue;
		}
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (*(void *const *)mem == NULL) {
				if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
					set_errmsg(c,
					    "oneof field %s is set but "
					    "NULL",
					    f->name);
					return AF_EINVAL;
				}
				continue;
			}
			if ((rc = check_msg(c, *(void *const *)mem,
				 depth + 1)) != AF_OK)
				return rc;
			continue;
		}
		if ((rc = check_field(c, f, mem)) != AF_OK)
			return rc;
	}
	return AF_OK;
}

/* The Response result that answers a request op (the handshake's or one
 * of AF_OPS); -1 if any will do. */
static int
result_for(Asyncflow__Request__OpCase op)
{
#define XX(OP, req, Req, RESULT) \
	case ASYNCFLOW__REQUEST__OP_##OP: \
		return ASYNCFLOW__RESPONSE__RESULT_##RESULT;
	switch (op) {
	case ASYNCFLOW__REQUEST__OP_HELLO:
		return ASYNCFLOW__RESPONSE__RESULT_HELLO;
		AF_OPS(XX)
	default:
		return -1;
	}
#undef XX
}

/* Whether a successful answer carries the result its request asked for.
 * WakeReply is empty, so an answer without result is taken for it too. */
static bool
result_ok(const Asyncflow__Response *r, int want)
{
	if (r->result_case == ASYNCFLOW__RESPONSE__RESULT_MKVOW &&
	    r->mkvow->resolver.len != AF_RESOLVER_LEN)
		return false;
	if (want < 0 || (int)r->result_case == want)
		return true;
	return want == ASYNCFLOW__RESPONSE__RESULT_WAKE &&
	    r->result_case == ASYNCFLOW__RESPONSE__RESULT__NOT_SET;
}

/* ---- Sending ---------------------------------------------------------------- */

static int
out_reserve(af_conn *c, size_t more)
{
	size_t need, cap;
	uint8_t *n;

	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_off > 0 && c->out_len + more > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	need = c->out_len + more;
	if (need <= c->out_cap)
		return AF_OK;
	cap = c->out_cap ? c->out_cap : 4096;
	while (cap < need)
		cap *= 2;
	if ((n = realloc(c->out, cap)) == NULL)
		return AF_ENOMEM;
	c->out = n;
	c->out_cap = cap;
	return AF_OK;
}

/* Queues `req` with the next id and writes what the socket takes. */
static int
send_req(af_conn *c, Asyncflow__Request *req, int64_t deadline, uint64_t *idp)
{
	struct pending *p;
	size_t size;
	uint8_t *f;
	int rc;

	while (c->out_len - c->out_off >= AF_SEND_BUFFER) {
		rc = io_step(c, deadline);
		if (rc != AF_OK)
			return rc == AF_ETIMEDOUT || !c->broken ? rc :
								  broken(c);
	}
	if (c->broken)
		return broken(c);
	if ((rc = check_msg(c, &req->base, 1)) != AF_OK)
		return rc;
	req->id = c->next_id;
	size = protobuf_c_message_get_packed_size(&req->base);
	if (size > AF_MAX_FRAME) {
		set_errmsg(c,
		    "request of %zu bytes is over the frame limit "
		    "of %u",
		    size, AF_MAX_FRAME);
		return AF_ELIMIT;
	}
	if ((p = malloc(sizeof(*p))) == NULL)
		return AF_ENOMEM;
	if (out_reserve(c, AF_FRAME_HEADER + size) != AF_OK) {
		free(p);
		return AF_ENOMEM;
	}
	f = c->out + c->out_len;
	af__put_be32(f, (uint32_t)size); /* size was checked above */
	protobuf_c_message_pack(&req->base, f + AF_FRAME_HEADER);
	c->out_len += AF_FRAME_HEADER + size;
	p->id = c->next_id++;
	p->forgotten = false;
	p->want = result_for(req->op_case);
	p->resp = NULL;
	p->next = NULL;
	if (c->pend_tail != NULL)
		c->pend_tail->next = p;
	else
		c->pend = p;
	c->pend_tail = p;
	if (write_some(c) != AF_OK)
		return broken(c);
	*idp = p->id;
	return AF_OK;
}

/* Waits for the answer to id until the deadline. */
static int
wait_resp(af_conn *c, uint64_t id, int64_t deadline, Asyncflow__Response **out)
{
	struct pending *p, *prev;
	Asyncflow__Response *r;
	Asyncflow__ErrorReply *e;
	int rc, code, want;

	for (;;) {
		p = pending_find(c, id, &prev);
		if (p == NULL || p->forgotten) {
			set_errmsg(c, "request %llu is not pending",
			    (unsigned long long)id);
			return AF_EINVAL;
		}
		if (p->resp != NULL)
			break;
		if (c->broken)
			return broken(c);
		rc = io_step(c, deadline);
		if (rc == AF_ETIMEDOUT) {
			set_errmsg(c, "no answer from the daemon in time");
			return rc;
		}
		if (rc == AF_ENOMEM)
			return rc;
		/* Other failures are sticky: the loop reports them. */
	}
	r = p->resp;
	want = p->want;
	pending_unlink(c, p, prev);
	if ((e = r->error) == NULL) {
		if (!result_ok(r, want)) {
			af_msg_free(r);
			set_broken(c, AF_EPROTO,
			    "protocol error: the answer to "
			    "request %llu carries the wrong result",
			    (unsigned long long)id);
			return broken(c);
		}
		*out = r;
		return AF_OK;
	}
	code = e->code;
	if (code < 0) {
		set_errmsg(c, "%s",
		    e->message[0]  ? e->message :
			e->name[0] ? e->name :
				     af_strerror(code));
	} else {
		set_errmsg(c, "daemon error reply with code %d: %s %s", code,
		    e->name, e->message);
		code = AF_EPROTO;
	}
	af_msg_free(r);
	return code;
}

/* ---- Public: pipelining and events ---------------------------------------- */

int
af_send_request(af_conn *c, Asyncflow__Request *req, uint64_t *id)
{
	if (id != NULL)
		*id = 0;
	if (c == NULL || req == NULL || id == NULL)
		return AF_EINVAL;
	c->errmsg[0] = '\0';
	if (req->op_case == ASYNCFLOW__REQUEST__OP__NOT_SET ||
	    req->op_case == ASYNCFLOW__REQUEST__OP_HELLO) {
		set_errmsg(c, "a request needs an operation other than hello");
		return AF_EINVAL;
	}
	return send_req(c, req, deadline_of(c->timeout_ms), id);
}

int
af_wait_response(af_conn *c, uint64_t id, int timeout_ms,
    Asyncflow__Response **out)
{
	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL)
		return AF_EINVAL;
	c->errmsg[0] = '\0';
	return wait_resp(c, id, deadline_of(timeout_ms), out);
}

int
af_forget_response(af_conn *c, uint64_t id)
{
	struct pending *p, *prev;

	if (c == NULL)
		return AF_EINVAL;
	c->errmsg[0] = '\0';
	p = pending_find(c, id, &prev);
	if (p == NULL || p->forgotten) {
		set_errmsg(c, "request %llu is not pending",
		    (unsigned long long)id);
		return AF_EINVAL;
	}
	if (p->resp != NULL) {
		af_msg_free(p->resp);
		pending_unlink(c, p, prev);
	} else {
		p->forgotten = true;
	}
	return AF_OK;
}

int
af_request(af_conn *c, Asyncflow__Request *req, int timeout_ms,
    Asyncflow__Response **out)
{
	int64_t deadline = deadline_of(timeout_ms);
	uint64_t id;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || req == NULL || out == NULL)
		return AF_EINVAL;
	c->errmsg[0] = '\0';
	if (req->op_case == ASYNCFLOW__REQUEST__OP__NOT_SET ||
	    req->op_case == ASYNCFLOW__REQUEST__OP_HELLO) {
		set_errmsg(c, "a request needs an operation other than hello");
		return AF_EINVAL;
	}
	if ((rc = send_req(c, req, deadline, &id)) != AF_OK)
		return rc;
	rc = wait_resp(c, id, deadline, out);
	if (rc == AF_ETIMEDOUT || rc == AF_ENOMEM)
		(void)af_forget_response(c, id);
	if (rc == AF_ETIMEDOUT)
		set_errmsg(c, "no answer from the daemon in time");
	return rc;
}

int
af_flush(af_conn *c, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	int rc;

	if (c == NULL)
		return AF_EINVAL;
	c->errmsg[0] = '\0';
	if (c->broken)
		return broken(c);
	while (c->out_off < c->out_len) {
		if (c->broken)
			return broken(c);
		rc = io_step(c, deadline);
		if (rc == AF_ETIMEDOUT || rc == AF_ENOMEM)
			return rc;
	}
	return AF_OK;
}

int
af_next_event(af_conn *c, int timeout_ms, Asyncflow__Event **out)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct event *e;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL)
		return AF_EINVAL;
	c->errmsg[0] = '\0';
	while ((e = c->evq) == NULL) {
		if (c->broken)
			return broken(c);
		rc = io_step(c, deadline);
		if (rc == AF_ETIMEDOUT) {
			set_errmsg(c, "no event in time");
			return rc;
		}
		if (rc == AF_ENOMEM)
			return rc;
	}
	c->evq = e->next;
	if (c->evq == NULL)
		c->evq_tail = NULL;
	*out = e->ev;
	free(e);
	return AF_OK;
}

/* ---- Public: connections ------------------------------------------------------ */

static void
copy_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	fmt_into(err, errlen, fmt, ap);
	va_end(ap);
}

/* The hello exchange, within the deadline (timeout_ms for messages). */
static int
handshake(af_conn *c, int64_t deadline, int timeout_ms)
{
	Asyncflow__Request req = ASYNCFLOW__REQUEST__INIT;
	Asyncflow__Hello hello = ASYNCFLOW__HELLO__INIT;
	Asyncflow__Response *r = NULL;
	Asyncflow__HelloReply *h;
	uint64_t id;
	int rc;

	hello.version = AF_PROTOCOL_VERSION;
	hello.client = (char *)"libasyncflow";
	req.op_case = ASYNCFLOW__REQUEST__OP_HELLO;
	req.hello = &hello;
	if ((rc = send_req(c, &req, deadline, &id)) != AF_OK)
		return rc;
	rc = wait_resp(c, id, deadline, &r);
	if (rc == AF_ETIMEDOUT)
		set_errmsg(c,
		    "the daemon did not answer the handshake within "
		    "%d ms",
		    timeout_ms);
	if (rc != AF_OK)
		return rc;
	h = r->result_case == ASYNCFLOW__RESPONSE__RESULT_HELLO ? r->hello :
								  NULL;
	if (h == NULL) {
		set_errmsg(c,
		    "protocol error: the daemon did not answer hello");
		rc = AF_EPROTO;
	} else if (h->version != AF_PROTOCOL_VERSION) {
		set_errmsg(c,
		    "the daemon speaks protocol version %u, this "
		    "library version %u",
		    (unsigned)h->version, (unsigned)AF_PROTOCOL_VERSION);
		rc = AF_EPROTO;
	} else {
		c->incarnation = h->incarnation;
		if ((c->daemon = strdup(h->daemon ? h->daemon : "")) == NULL)
			rc = AF_ENOMEM;
	}
	af_msg_free(r);
	return rc;
}

/* af_connect_fd with a deadline for the handshake. */
static int
connect_fd(int fd, int64_t deadline, int timeout_ms, af_conn **out, char *err,
    size_t errlen)
{
	af_conn *c;
	int fl, rc;

	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		copy_err(err, errlen, "bad socket: %s", strerror(errno));
		close(fd);
		return AF_EINVAL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		copy_err(err, errlen, "%s", af_strerror(AF_ENOMEM));
		close(fd);
		return AF_ENOMEM;
	}
	c->fd = fd;
	c->timeout_ms = -1;
	c->next_id = 1;
	if ((rc = handshake(c, deadline, timeout_ms)) != AF_OK) {
		copy_err(err, errlen, "%s",
		    c->errmsg[0] ? c->errmsg : af_strerror(rc));
		af_close(c);
		return rc;
	}
	c->errmsg[0] = '\0';
	*out = c;
	return AF_OK;
}

int
af_connect_fd(int fd, af_conn **out, char *err, size_t errlen)
{
	copy_err(err, errlen, "%s", "");
	if (out != NULL)
		*out = NULL;
	if (fd < 0 || out == NULL) {
		if (fd >= 0)
			close(fd);
		copy_err(err, errlen, "%s", "invalid argument");
		return AF_EINVAL;
	}
	return connect_fd(fd, deadline_of(AF_CONNECT_TIMEOUT_MS),
	    AF_CONNECT_TIMEOUT_MS, out, err, errlen);
}

/*
 * Connects the non-blocking socket fd to sa before the deadline. A Unix
 * socket whose listen backlog is full answers EAGAIN at once (a blocking
 * connect would wait for room without a limit): try again, pausing up to
 * 100 ms, until the deadline. EINTR is retried. Returns 0 or an errno
 * value (ETIMEDOUT at the deadline).
 */
static int
connect_until(int fd, const struct sockaddr_un *sa, int64_t deadline)
{
	struct pollfd pfd;
	socklen_t sl;
	int e, left, pause = 1, soerr;

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return 0;
		e = errno;
		if (e == EISCONN)
			return 0;
		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == EWOULDBLOCK) {
			if ((left = ms_left(deadline)) == 0)
				return ETIMEDOUT;
			(void)poll(NULL, 0,
			    left < 0 || left > pause ? pause : left);
			pause = pause < 50 ? pause * 2 : 100;
			continue;
		}
		if (e != EINPROGRESS && e != EALREADY)
			return e;
		/* In progress: wait for writability, then for its outcome. */
		for (;;) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			pfd.revents = 0;
			if ((e = poll(&pfd, 1, ms_left(deadline))) > 0)
				break;
			if (e == 0)
				return ETIMEDOUT;
			if (errno != EINTR && errno != EAGAIN)
				return errno;
		}
		sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return errno;
		if (soerr != 0)
			return soerr;
		return 0;
	}
}

static int connect_opts(const char *path, const struct af_connect_opts *o,
    bool zero_timeout, af_conn **out, char *err, size_t errlen);

/*
 * Whether the process serving the connected socket fd may be talked to:
 * it runs as our effective uid, as root, or as trust_uid (> 0). AF_OK, or
 * AF_EDENIED / AF_ECONN with err set.
 */
static int
check_peer(int fd, const char *path, long trust_uid, char *err, size_t errlen)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	uid_t me = geteuid();

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
	    cl != sizeof(cred)) {
		copy_err(err, errlen,
		    "cannot learn who serves the socket %s: %s", path,
		    strerror(errno));
		return AF_ECONN;
	}
	if (cred.uid == me || cred.uid == 0 ||
	    (trust_uid > 0 && (long)cred.uid == trust_uid))
		return AF_OK;
	copy_err(err, errlen,
	    "socket %s is served by uid %ld, not you (uid %ld) or root: "
	    "refusing to talk to it (to trust that uid, use "
	    "af_connect_opts.trust_uid or asyncflowctl --trust-uid %ld)",
	    path, (long)cred.uid, (long)me, (long)cred.uid);
	return AF_EDENIED;
}

int
af_connect_timeout(const char *path, int timeout_ms, af_conn **out, char *err,
    size_t errlen)
{
	struct af_connect_opts o = { timeout_ms < 0 ? -1 : timeout_ms, 0 };

	return connect_opts(path, &o, timeout_ms == 0, out, err, errlen);
}

int
af_connect_with(const char *path, const struct af_connect_opts *o,
    af_conn **out, char *err, size_t errlen)
{
	struct af_connect_opts d = { 0, 0 };

	return connect_opts(path, o != NULL ? o : &d, false, out, err, errlen);
}

/* Connect with options; zero_timeout: o->timeout_ms 0 means 0 ms (as
 * af_connect_timeout's), not the default. */
static int
connect_opts(const char *path, const struct af_connect_opts *o,
    bool zero_timeout, af_conn **out, char *err, size_t errlen)
{
	int timeout_ms = o->timeout_ms == 0 && !zero_timeout ?
	    AF_CONNECT_TIMEOUT_MS :
	    o->timeout_ms;
	int64_t deadline = deadline_of(timeout_ms);
	struct sockaddr_un sa;
	int fd, rc, e;

	copy_err(err, errlen, "%s", "");
	if (out != NULL)
		*out = NULL;
	if (out == NULL) {
		copy_err(err, errlen, "%s", "invalid argument");
		return AF_EINVAL;
	}
	if (timeout_ms < 0)
		timeout_ms = -1;
	if (path == NULL)
		path = AF_DEFAULT_SOCKET;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
		copy_err(err, errlen, "socket path \"%s\" is empty or too long",
		    path);
		return AF_EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		 0)) < 0) {
		rc = errno == ENOMEM || errno == ENOBUFS ? AF_ENOMEM : AF_ECONN;
		copy_err(err, errlen, "socket: %s", strerror(errno));
		return rc;
	}
	if ((e = connect_until(fd, &sa, deadline)) != 0) {
		if (e == ETIMEDOUT) {
			copy_err(err, errlen,
			    "cannot connect to %s: the daemon "
			    "did not accept the connection within %d ms (its "
			    "listen backlog is full)",
			    path, timeout_ms);
			rc = AF_ETIMEDOUT;
		} else {
			copy_err(err, errlen, "cannot connect to %s: %s", path,
			    strerror(e));
			rc = e == ENOMEM || e == ENOBUFS ? AF_ENOMEM : AF_ECONN;
		}
		close(fd);
		return rc;
	}
	if ((rc = check_peer(fd, path, o->trust_uid, err, errlen)) != AF_OK) {
		close(fd);
		return rc;
	}
	return connect_fd(fd, deadline, timeout_ms, out, err, errlen);
}

int
af_connect(const char *path, af_conn **out, char *err, size_t errlen)
{
	return af_connect_timeout(path, AF_CONNECT_TIMEOUT_MS, out, err,
	    errlen);
}

void
af_close(af_conn *c)
{
	struct pending *p;
	struct event *e;

	if (c == NULL)
		return;
	while ((p = c->pend) != NULL) {
		c->pend = p->next;
		af_msg_free(p->resp);
		free(p);
	}
	while ((e = c->evq) != NULL) {
		c->evq = e->next;
		af_msg_free(e->ev);
		free(e);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c->daemon);
	free(c);
}

const char *
af_conn_errmsg(const af_conn *c)
{
	return c != NULL ? c->errmsg : no_conn_msg;
}

uint64_t
af_conn_incarnation(const af_conn *c)
{
	return c != NULL ? c->incarnation : 0;
}

const char *
af_conn_daemon(const af_conn *c)
{
	return c != NULL && c->daemon != NULL ? c->daemon : "";
}

int
af_conn_fd(const af_conn *c)
{
	return c != NULL ? c->fd : -1;
}

int
af_set_timeout(af_conn *c, int timeout_ms)
{
	if (c == NULL)
		return AF_EINVAL;
	c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
	return AF_OK;
}

int
af_get_timeout(const af_conn *c)
{
	return c != NULL ? c->timeout_ms : -1;
}
