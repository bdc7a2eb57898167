/*
 * asyncflow.h: libasyncflow, the client library of asyncflowd.
 *
 * One connection (af_conn) to the daemon's Unix socket speaks the protocol
 * of proto/asyncflow.proto: frames of a 4-byte big-endian length and one
 * protobuf message, a `hello` handshake first, request ids echoed in the
 * responses, and events (a watched vow settled) pushed by the daemon at any
 * time. The library offers
 *
 *   - one blocking function per operation (af_start, af_mkvow, af_settle,
 *     af_get_vow, af_watch_vow, af_list, af_show, af_journal, af_failures,
 *     af_wake, af_terminate, af_purge, af_upgrade, af_cancel,
 *     af_call_export, af_stats, af_serve);
 *   - a send/receive pair to pipeline requests (af_send_request,
 *     af_wait_response) and a queue of pushed events (af_next_event): vows
 *     settled (af_watch_vow) and invocations of a served object (af_serve).
 *
 * Values and replies are protobuf-c's generated structs from
 * "asyncflow/asyncflow.pb-c.h" (Asyncflow__Value, Asyncflow__VowInfo,
 * Asyncflow__ActivationInfo, ...): read their fields directly, and free a
 * reply the library handed out with af_msg_free(). Result codes are the
 * AF_* codes of "asyncflow/errors.h"; af_strerror() and af_errname() turn
 * them into text.
 *
 * Caveats
 * =======
 *
 * - Build with `pkg-config --cflags --libs asyncflow` once installed:
 *   -lasyncflow -lprotobuf-c (the messages' INIT macros use protobuf-c).
 *   The library uses nothing else but libc, and it never exits, aborts or
 *   prints: every failure is a return code, allocation failure is
 *   AF_ENOMEM.
 *
 * - A connection is not thread-safe. Use one connection from one thread at
 *   a time (or lock around it); different connections are independent.
 *   The library has no global state of its own.
 *
 * - The library never raises SIGPIPE (it writes with MSG_NOSIGNAL), and
 *   retries reads, writes and waits interrupted by signals (EINTR); a
 *   timeout still counts from the call's start.
 *
 * - Timeouts are in milliseconds: a negative timeout waits forever, 0 only
 *   looks at what has already arrived. A timeout is not a connection error:
 *   the connection stays usable, and the request stays pending in the
 *   daemon. The blocking calls forget the answer of a request they gave up
 *   on (it is dropped when it arrives); with af_wait_response you may wait
 *   again for the same id, or call af_forget_response.
 *
 * - Connection errors are sticky. Once a call returned AF_ECONN (connection
 *   lost or closed) or AF_EPROTO (the daemon broke the protocol: a frame
 *   over AF_MAX_FRAME, a message that does not decode or nests deeper than
 *   AF_MAX_DEPTH, an answer to an id never sent), every later call on that
 *   connection returns the same code at once (answers and events that
 *   arrived before are still handed out). The only thing left to do is
 *   af_close() and connect again. A request that was sent but not answered
 *   may or may not have been carried out.
 *
 * - When the daemon closes a connection it may say why first, in an error
 *   reply to no request (id 0). Whatever code that reply carries (even
 *   ETIMEDOUT or ENOMEM), the connection is gone: the sticky code is
 *   AF_ECONN, and af_conn_errmsg(c) is "connection closed by the daemon:
 *   NAME: MESSAGE" with the daemon's code name and message.
 *
 * - Error replies from the daemon (Response.error {code, name, message})
 *   are returned as `code` (a negative AF_E* code); the daemon's message is
 *   then af_conn_errmsg(c). An error reply carrying a code that is not
 *   negative is reported as AF_EPROTO.
 *
 * - The daemon checks values: record keys must be unique and sorted
 *   bytewise (strcmp order), strings valid UTF-8 (they may hold NULs),
 *   nesting at most AF_VALUE_MAX_DEPTH levels (AF_ELIMIT). Every name a
 *   request carries (flow, object, key, state, record keys, object and
 *   error names in values) must be UTF-8 without NUL: the daemon answers
 *   AF_EINVAL with a message naming the field otherwise. The
 *   library sends values as given and does not reorder them. It only
 *   refuses, with AF_EINVAL, a message protobuf-c could not pack (a NULL
 *   string, a oneof set to a NULL message, a NULL array or element, bytes
 *   with a length but no data), and with AF_ELIMIT one nesting more than
 *   AF_MAX_DEPTH messages deep or packing to more than AF_MAX_FRAME bytes;
 *   nothing is sent then.
 *
 * - Pushed events are queued in the connection until af_next_event takes
 *   them; the queue is unbounded, so a program that watches vows should
 *   drain it. Likewise af_send_request buffers what the socket does not
 *   take at once (up to AF_SEND_BUFFER bytes before it waits).
 *
 * - Every pointer a call returns through an out-parameter is owned by the
 *   caller, who frees it with af_msg_free() (NULL is fine), except the
 *   strings of af_conn_errmsg() and af_conn_daemon(), which belong to the
 *   connection. Out-parameters are set to NULL/0 when a call fails. The
 *   out-parameters of the operations (af_start ... af_serve) may be NULL:
 *   that part of the result is then dropped.
 *
 * - af_close() discards requests not yet written; call af_flush() first
 *   if you sent requests whose answers you will not wait for.
 *
 * Every call returns AF_EINVAL for a NULL connection, and the connection
 * and event calls for a NULL out-parameter; it is not repeated below.
 */
#ifndef AF_ASYNCFLOW_H
#define AF_ASYNCFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* protoc-c's header of proto/asyncflow.proto, installed beside errors.h. */
#include "asyncflow/errors.h"
#include "asyncflow/protocol.h"
#include "asyncflow/asyncflow.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * AF_PROTOCOL_VERSION (the protocol version this library speaks,
 * Hello.version), AF_MAX_FRAME (the largest frame either side may send, in
 * bytes, length prefix excluded) and AF_MAX_DEPTH (the deepest nesting of
 * protobuf messages in a frame, either way, the frame's own message
 * counting 1) come from "asyncflow/protocol.h", shared with the daemon.
 * Here: a longer or deeper frame from the daemon is AF_EPROTO (checked
 * before allocating and unpacking, so a small hostile frame cannot exhaust
 * the stack); a longer or deeper request is refused with AF_ELIMIT before
 * anything is sent.
 */
/* Where asyncflowd listens when started in the current directory with the
 * default data directory. */
#define AF_DEFAULT_SOCKET     "./asyncflow-data/asyncflowd.sock"
/* Length of a vow's resolver secret in bytes. */
#define AF_RESOLVER_LEN       16
/* How long af_connect waits to connect and for the answer to `hello`. */
#define AF_CONNECT_TIMEOUT_MS 30000
/* af_send_request waits for the socket when this many bytes are unsent. */
#define AF_SEND_BUFFER        (4u << 20)

typedef struct af_conn af_conn;

/* ---- Connections ---------------------------------------------------------- */

/*
 * af_connect: connect to the daemon's socket at `path` (NULL means
 * AF_DEFAULT_SOCKET) and do the version handshake, all within
 * AF_CONNECT_TIMEOUT_MS: af_connect_timeout(path, AF_CONNECT_TIMEOUT_MS,
 * out, err, errlen).
 *
 * *out: on success a new connection, owned by the caller, closed with
 * af_close(); NULL on failure.
 * err, errlen: on failure a NUL-terminated message (the daemon's own when
 * it refused the handshake) is written there, truncated to errlen bytes;
 * err may be NULL when errlen is 0.
 *
 * Returns AF_OK; AF_EINVAL (path too long for a Unix socket, out NULL);
 * AF_ECONN (no socket there, connection refused, or closed during the
 * handshake); AF_EPROTO (the daemon speaks another protocol version, or
 * answered nonsense); AF_ETIMEDOUT; AF_ENOMEM; AF_EDENIED (the socket is
 * served by a process of another uid than the caller's or root's: see
 * af_connect_with); or the code of the daemon's error reply to `hello`.
 */
int af_connect(const char *path, af_conn **out, char *err, size_t errlen);

/*
 * af_connect_timeout: af_connect within timeout_ms (negative: no limit; 0
 * only succeeds if the daemon has answered at once, so hardly ever). The
 * time counts from the call for connecting and the handshake together. A
 * daemon whose listen backlog is full (too many connections it has not
 * accepted yet, or it is stopped) is waited for until then, trying again;
 * signals (EINTR) do not end the wait.
 *
 * Returns what af_connect returns; AF_ETIMEDOUT when the daemon neither
 * accepted the connection nor answered the handshake within timeout_ms.
 */
int af_connect_timeout(const char *path, int timeout_ms, af_conn **out,
    char *err, size_t errlen);

/*
 * Options of af_connect_with. Zero-initialise the struct and set what you
 * need: the zero values are af_connect's behaviour.
 */
struct af_connect_opts {
	int timeout_ms; /* as af_connect_timeout's; 0 means
				 * AF_CONNECT_TIMEOUT_MS, negative no limit */
	long trust_uid; /* > 0: a daemon running as this uid is trusted
				 * too; 0 or negative: none besides our own
				 * uid and root */
};

/*
 * af_connect_with: af_connect with options. Like af_connect and
 * af_connect_timeout, it checks the credentials of the process serving
 * the socket (SO_PEERCRED) before it sends anything: it talks only to a
 * daemon running as the caller's effective uid or as root, or as
 * o->trust_uid when that is set. A socket swapped in by another user
 * could otherwise harvest the resolver secrets the caller sends. o NULL:
 * all defaults.
 *
 * Returns what af_connect returns, and AF_EDENIED when the socket is
 * served by another uid ("socket PATH is served by uid N, not you ...").
 */
int af_connect_with(const char *path, const struct af_connect_opts *o,
    af_conn **out, char *err, size_t errlen);

/*
 * af_connect_fd: like af_connect over a socket that is already connected
 * (a socketpair, an inherited descriptor); the caller vouches for its
 * peer, whose uid is not checked. The connection takes `fd` over,
 * also on failure: it is closed either way. The descriptor is made
 * non-blocking and close-on-exec.
 *
 * Returns what af_connect returns, and AF_EINVAL for a negative fd.
 */
int af_connect_fd(int fd, af_conn **out, char *err, size_t errlen);

/* af_close: close the connection and free everything it holds: queued
 * events, answers not yet taken, unsent requests. NULL is fine. */
void af_close(af_conn *c);

/*
 * af_conn_errmsg: a message about the last failure of a call on c: the
 * daemon's message for an error reply, else the library's description
 * (e.g. "connection closed by the daemon"). "" when there was none. The
 * string belongs to c and is valid until the next call on c. Never NULL
 * (for a NULL c it is a static string).
 */
const char *af_conn_errmsg(const af_conn *c);

/* af_conn_incarnation, af_conn_daemon: what the daemon said in its hello
 * reply: its incarnation number and its "asyncflowd VERSION" string (owned
 * by c, valid until af_close). 0 and "" for a NULL c. */
uint64_t af_conn_incarnation(const af_conn *c);
const char *af_conn_daemon(const af_conn *c);

/*
 * af_conn_fd: the connection's socket, to wait for readability in your own
 * poll loop; -1 for a NULL c. Do not read, write or close it. Data may
 * already be buffered in the library: after the descriptor became
 * readable, call af_next_event(c, 0, &ev) until it returns AF_ETIMEDOUT
 * (and af_wait_response(..., 0, ...) for pending requests).
 */
int af_conn_fd(const af_conn *c);

/*
 * af_set_timeout: the timeout of the blocking calls below (af_start ...
 * af_serve, not af_get_vow's own) and of af_send_request when its buffer is
 * full; negative (the default) waits forever.
 * Returns AF_OK.
 */
int af_set_timeout(af_conn *c, int timeout_ms);

/* af_get_timeout: the connection's timeout (-1: none; also for NULL c). */
int af_get_timeout(const af_conn *c);

/* ---- Pipelining and events ---------------------------------------------- */

/*
 * af_send_request: assign the next request id (unique on this connection,
 * never 0) to req->id, store it in *id, and send the request: what the
 * socket does not take at once is written by the following calls on c
 * (af_wait_response, af_next_event, af_flush, af_send_request, and the
 * blocking calls). req stays the caller's; the library keeps no pointer
 * into it. Exactly one `op` must be set, and not `hello`.
 *
 * *id: 0 on failure.
 *
 * Returns AF_OK; AF_EINVAL (no op, or hello); AF_ELIMIT (the request packs
 * to more than AF_MAX_FRAME bytes); AF_ETIMEDOUT (AF_SEND_BUFFER bytes
 * were still unsent after the connection's timeout: nothing was queued);
 * AF_ENOMEM; AF_ECONN; AF_EPROTO.
 */
int af_send_request(af_conn *c, Asyncflow__Request *req, uint64_t *id);

/*
 * af_wait_response: wait at most timeout_ms for the answer to request id,
 * meanwhile queueing pushed events and the answers to other requests, so
 * answers may be taken in any order.
 *
 * *out: the Response (id == `id`), owned by the caller, freed with
 * af_msg_free(); its `result` oneof says what it carries. Only successful
 * answers are returned: an error reply is returned as its code, with the
 * message in af_conn_errmsg(c), and the id is done. NULL on failure.
 *
 * Returns AF_OK; AF_EINVAL (id was never sent on c, was already answered
 * and taken, or forgotten); AF_ETIMEDOUT (the id stays pending: wait again
 * or forget it); the code of an error reply; AF_ENOMEM; AF_ECONN; AF_EPROTO.
 */
int af_wait_response(af_conn *c, uint64_t id, int timeout_ms,
    Asyncflow__Response **out);

/*
 * af_forget_response: you will not wait for request id: its answer is
 * freed now if it came, or dropped when it comes.
 * Returns AF_OK, or AF_EINVAL if id is not pending on c.
 */
int af_forget_response(af_conn *c, uint64_t id);

/*
 * af_flush: wait at most timeout_ms until every request is written to the
 * socket (reading and queueing whatever arrives meanwhile).
 * Returns AF_OK; AF_ETIMEDOUT; AF_ENOMEM; AF_ECONN; AF_EPROTO.
 */
int af_flush(af_conn *c, int timeout_ms);

/*
 * af_next_event: the oldest pushed event, waiting at most timeout_ms for
 * one; answers to pending requests that arrive meanwhile are kept for
 * af_wait_response. Its `kind` is
 *
 *   - vow_settled (an Asyncflow__VowInfo with the value or reason), once
 *     for each af_watch_vow;
 *   - invocation (an Asyncflow__Invocation), after af_serve: a flow sent
 *     `method` to the object this connection serves; answer it by
 *     settling its result vow (see af_serve).
 *
 * *out: the Event, owned by the caller, freed with af_msg_free() (an
 * invocation's resolver secrets are freed with it, not zeroed: clear
 * them first if that matters); NULL on failure. Events whose `kind` this
 * library does not know are returned too (kind_case
 * ASYNCFLOW__EVENT__KIND__NOT_SET): skip them.
 *
 * Returns AF_OK; AF_ETIMEDOUT (no event); AF_ENOMEM; AF_ECONN; AF_EPROTO.
 * Events queued before the connection broke are still returned first.
 */
int af_next_event(af_conn *c, int timeout_ms, Asyncflow__Event **out);

/*
 * af_request: af_send_request, then af_wait_response for its answer, both
 * within one timeout_ms; on AF_ETIMEDOUT the answer is forgotten. For
 * operations that have no function of their own below. Ownership of *out
 * and the codes are those of the two calls.
 */
int af_request(af_conn *c, Asyncflow__Request *req, int timeout_ms,
    Asyncflow__Response **out);

/* af_msg_free: free any protobuf-c message this library handed out (a
 * Response, Event, VowInfo, ActivationList, ...), with everything in it.
 * NULL is fine. Do not use it on messages you built yourself unless every
 * string, byte buffer and sub-message in them came from malloc(). */
void af_msg_free(void *msg);

/* ---- Values ---------------------------------------------------------------- *
 *
 * A string value's text is Value.string_value, declared `bytes` since
 * protocol 2 so that it keeps NUL bytes: a ProtobufCBinaryData {len, data},
 * UTF-8 (the daemon refuses anything else), not necessarily NUL-terminated.
 * The two calls below read and set it without touching those details.
 * Names (record keys, object names, error names and messages, and the flow,
 * object and key arguments of the calls below) are C strings: UTF-8
 * without NUL.
 */

/*
 * af_value_string: the text of string value v, *len bytes long (len may be
 * NULL), owned by v. It may hold NUL bytes and is not NUL-terminated:
 * print it with "%.*s" or fwrite, never as a C string. Returns NULL
 * (and *len 0) when v is NULL or not a string; an empty string is a
 * non-NULL pointer and length 0.
 */
const char *af_value_string(const Asyncflow__Value *v, size_t *len);

/*
 * af_value_set_string: makes v (initialised by the caller, e.g. with
 * ASYNCFLOW__VALUE__INIT) the string value s[0..len), which may hold NUL
 * bytes. s is not copied: it stays the caller's and must outlive v's use.
 * Returns v, or NULL if v is NULL or s is NULL with len > 0.
 */
Asyncflow__Value *
af_value_set_string(Asyncflow__Value *v, const char *s, size_t len);

/* ---- Operations ----------------------------------------------------------- *
 *
 * Each sends one request and waits for its answer, at most the connection's
 * timeout (af_set_timeout). Besides the codes listed, each may return
 * AF_ETIMEDOUT, AF_ENOMEM, AF_ECONN and AF_EPROTO (also when the answer
 * carries a result of the wrong kind), and AF_ESTORE / AF_EFULL when the
 * daemon's store failed. Values passed in stay the caller's.
 */

/*
 * af_start: start an activation of `flow` with `args` (NULL means null).
 * With an idempotency key (NULL or "" for none; at most 256 bytes) a
 * repeated start with the same key, flow and args answers the first
 * activation (*existing true).
 *
 * *act, *outcome: the activation id and its outcome vow; *existing: whether
 * the answer came from the idempotency key. Any of them may be NULL.
 *
 * Returns AF_OK; AF_EINVAL (flow NULL: nothing is sent; from the daemon:
 * args hold a resolver, or the key is longer than 256 bytes, each with a
 * message saying which); AF_ENOTFOUND (the daemon knows no flow of that
 * name, "unknown flow NAME", which is also the answer for an empty name;
 * or args refer to a vow that does not exist); AF_ELIMIT / AF_EDECODE
 * (args too large, too deep, or not canonical); AF_EEXIST (the key was used
 * with another flow or other args).
 */
int af_start(af_conn *c, const char *flow, const Asyncflow__Value *args,
    const char *idem_key, uint64_t *act, uint64_t *outcome, bool *existing);

/*
 * af_mkvow: create a pending vow.
 * *vow: its id; resolver: receives its AF_RESOLVER_LEN-byte secret, which
 * settles it (keep it secret; the daemon hands it out only this once).
 *
 * Returns AF_OK (AF_EPROTO if the daemon sent a resolver of another length).
 */
int af_mkvow(af_conn *c, uint64_t *vow, uint8_t resolver[AF_RESOLVER_LEN]);

/*
 * af_settle: fulfil vow (reject false) or reject it (reject true) with
 * value (NULL means null), proving the right with its resolver. Settling
 * with a vow reference makes the vow follow that one. Repeating the
 * identical settlement succeeds.
 *
 * *out (may be NULL): the vow's state after the settlement, owned by the
 * caller, freed with af_msg_free(); pending if it now follows a pending vow.
 *
 * Returns AF_OK; AF_ENOTFOUND (no such vow); AF_EDENIED (wrong resolver);
 * AF_ESETTLED (already settled differently); AF_ECYCLE (following would
 * make a cycle); AF_ELIMIT / AF_EDECODE (bad value).
 */
int af_settle(af_conn *c, uint64_t vow, const uint8_t resolver[AF_RESOLVER_LEN],
    bool reject, const Asyncflow__Value *value, Asyncflow__VowInfo **out);

/*
 * af_get_vow: the state of vow (and its value or reason once settled). With
 * wait, the answer comes only once the vow is settled, waiting at most
 * timeout_ms (this call's own timeout; negative: forever).
 *
 * *out: the VowInfo, owned by the caller, freed with af_msg_free(); its
 * `value` is set once the state is FULFILLED or REJECTED.
 *
 * Returns AF_OK; AF_ENOTFOUND; AF_ETIMEDOUT (wait and not settled in time:
 * the daemon's late answer is dropped).
 */
int af_get_vow(af_conn *c, uint64_t vow, bool wait, int timeout_ms,
    Asyncflow__VowInfo **out);

/*
 * af_watch_vow: ask the daemon to push an Event.vow_settled for vow when it
 * settles; take it with af_next_event. A vow settled already gets no
 * event: *now says so (its state is "fulfilled" or "rejected", with the
 * value), so pass `now` unless the vow is known to be pending.
 *
 * *now (may be NULL): the vow's current state, owned by the caller, freed
 * with af_msg_free().
 *
 * Returns AF_OK; AF_ENOTFOUND.
 */
int af_watch_vow(af_conn *c, uint64_t vow, Asyncflow__VowInfo **now);

/*
 * af_list: activations with ids above `after`, in id order, at most `limit`
 * of them (0: the daemon's default, 1000), only those in `state` ("Running",
 * "Sleeping", "Replaying", "Failed", "Done"; NULL or "" for all). To page,
 * call again with `after` = the last id returned.
 *
 * The daemon gives at most 10,000 per call, and refuses with AF_ELIMIT a
 * page whose answer would be larger than AF_MAX_FRAME ("the reply would
 * be N bytes..."): ask again with a smaller limit.
 *
 * *out: the list, owned by the caller, freed with af_msg_free().
 *
 * Returns AF_OK; AF_EINVAL (unknown state name, from the daemon);
 * AF_ELIMIT (the page is too large for a frame).
 */
int af_list(af_conn *c, const char *state, uint64_t after, uint32_t limit,
    Asyncflow__ActivationList **out);

/*
 * af_show: one activation. *out: owned by the caller, freed with
 * af_msg_free(). Returns AF_OK; AF_ENOTFOUND.
 */
int af_show(af_conn *c, uint64_t act, Asyncflow__ActivationInfo **out);

/*
 * af_journal: the journal of an activation, oldest entry first (empty once
 * a Done activation's journal was collected). *out: owned by the caller,
 * freed with af_msg_free(); (*out)->length is the journal's length.
 * Returns AF_OK; AF_ENOTFOUND; AF_ELIMIT when the whole journal does not
 * fit one answer (use af_journal_range).
 */
int af_journal(af_conn *c, uint64_t act, Asyncflow__JournalDump **out);

/*
 * af_journal_range: entries [from, from + limit) of the journal (limit 0:
 * to the end); entries[i] is index (*out)->from + i, and (*out)->length
 * the whole journal's length. Ownership and codes as af_journal.
 */
int af_journal_range(af_conn *c, uint64_t act, uint64_t from, uint32_t limit,
    Asyncflow__JournalDump **out);

/*
 * af_failures: the Failed activations, in id order, but at most 10,000 of
 * them (the daemon's cap on one answer; and AF_ELIMIT if they do not fit
 * a frame). To see them all, page with af_list(c, "Failed", after, limit,
 * ...) instead, as asyncflowctl failures does. *out: owned by the caller,
 * freed with af_msg_free(). Returns AF_OK; AF_ELIMIT.
 */
int af_failures(af_conn *c, Asyncflow__ActivationList **out);

/*
 * af_wake: replay activation act now with the code registered now (Failed
 * or Sleeping; nothing for Running or Replaying); act 0 wakes every Failed
 * activation. Returns AF_OK; AF_ENOTFOUND; AF_ESTATE (act is Done).
 */
int af_wake(af_conn *c, uint64_t act);

/*
 * af_terminate: give up on activation act, which is not Done (Running,
 * Sleeping, Replaying or Failed, quarantined or not): its outcome vow is
 * rejected with the error {"name": "Terminated", "message": message}
 * (message NULL or "": a default naming the activation, its flow and the
 * state it was in), none of its code runs again (its coroutines are
 * dropped, what it waited on no longer reaches it, its timers are
 * cancelled) and it is Done, all in one commit. `show` then gives
 * "terminated: MESSAGE" as its failure text. message is borrowed for the
 * call only; it must be UTF-8. Returns AF_OK; AF_ENOTFOUND; AF_ESTATE (act
 * is Done already); AF_EINVAL (message not UTF-8).
 */
int af_terminate(af_conn *c, uint64_t act, const char *message);

/*
 * af_purge: delete finished (Done) activation act now, with everything it
 * left: its row, its outcome and other vows, its idempotency key and its
 * journal (what the daemon's --retention does after a while). From the
 * reply on, act and its vows are unknown: show, journal, get_vow answer
 * AF_ENOTFOUND, and its idempotency key starts a new activation. Returns
 * AF_OK; AF_ENOTFOUND (unknown, or pruned already); AF_EBUSY (act is not
 * finished: Running, Sleeping, Replaying or Failed).
 */
int af_purge(af_conn *c, uint64_t act);

/*
 * af_upgrade: check the module set modules[0..n) (absolute paths: the
 * daemon does not share the caller's current directory; the complete new
 * set, the built-in module always stays) against every unfinished
 * activation, in a checker process of the daemon's, from a read snapshot
 * of its store: nothing runs live, is sent or written. Without o->check,
 * when every activation passes (or with o->force), the daemon then
 * switches to the new set without a restart, and *report is
 * {"upgraded": true, "modules": [...], "activations": N}. o->replay
 * nonzero replays only that activation and lists what the guest did at
 * each journal entry. On AF_OK *report gets the JSON object (malloc'd:
 * the caller frees it) and *ok whether every activation passes (a check
 * that failed switched nothing). The answer comes when the check is done: set a timeout that
 * covers it (af_set_timeout). AF_EINVAL (no module, a relative path, a
 * module that does not load: the message names it), AF_EBUSY (an upgrade
 * runs already), AF_ENOTFOUND or AF_ESTATE (replay: no such activation,
 * or it is Done).
 */
struct af_upgrade_opts {
	bool check;
	bool force;
	uint64_t replay;
};
int af_upgrade(af_conn *c, const char *const *modules, size_t n,
    const struct af_upgrade_opts *o, char **report, bool *ok);

/*
 * af_cancel: ask activation act, which is not Done, to stop. The request
 * is durable once this returns; it reaches the flow as an event: every
 * coroutine waiting then gets AF_CANCELLED with `reason` (NULL: an error
 * named Cancelled naming act), and the flow decides what to do (it may
 * compensate, then return or reject). A Sleeping or Failed activation gets
 * it after its replay. Repeating it succeeds and changes nothing (the
 * first reason stands). reason is borrowed for the call; it may not hold
 * resolvers and the vows it names must exist. Returns AF_OK; AF_ENOTFOUND
 * (no such activation, or a vow the reason names); AF_ESTATE (act is
 * Done); AF_EINVAL / AF_ELIMIT / AF_EDECODE (bad reason).
 */
int af_cancel(af_conn *c, uint64_t act, const Asyncflow__Value *reason);

/*
 * af_call_export: call method `method` of the object a flow exported,
 * `object` as "act/A/NAME" (af_export in flow.h), with args (NULL: null).
 * *vow (may be NULL) gets the call's result vow: the call is durable once
 * this returns, and the vow settles when the flow's handler answers (wait
 * with af_get_vow). It is rejected with an error named NotFound if A has
 * no export NAME when the call reaches it, Finished if A ended first. The
 * strings and args are borrowed for the call. Returns AF_OK; AF_EINVAL (a
 * malformed reference, a method that is empty, over 128 bytes or has a
 * '/'); AF_ENOTFOUND (no activation A, or a vow the args name);
 * AF_ELIMIT / AF_EDECODE (bad args).
 */
int af_call_export(af_conn *c, const char *object, const char *method,
    const Asyncflow__Value *args, uint64_t *vow);

/*
 * af_stats: the daemon's counters. *out: owned by the caller, freed with
 * af_msg_free(). Returns AF_OK.
 */
int af_stats(af_conn *c, Asyncflow__StatsReply **out);

/*
 * af_serve: serve the host object `object` on this connection. From now on
 * the daemon pushes an Event.invocation for every unanswered eventual send
 * (af_send in a flow) to that object, those already waiting first; take
 * them with af_next_event. Serving a name twice on one connection is
 * harmless; a connection stops serving when it is closed.
 *
 * Several connections may serve one name: invocations are dealt among
 * them round robin. Those a connection was given and did not answer go
 * to the other servers (or the next one to come) when it closes, and to
 * the servers after a daemon restart. Delivery is thus at least once: a
 * server may see an invocation again, even one it answered if the answer
 * did not make it. The result vow id (Invocation.vow) is the idempotency
 * key: answering the same invocation twice must have the same effect.
 *
 * An Asyncflow__Invocation carries the result vow `vow` and its
 * `resolver` (the secret, AF_RESOLVER_LEN bytes: check resolver.len), the
 * `method`, its `args` (NULL means null), the sending `activation`, and
 * `grants`: the secrets of the resolvers (Value.resolver_id N) inside
 * args, a capability the flow hands to the server (ResolverGrant.vow is
 * N, and its resolver settles vow N with af_settle). Answer it with
 *
 *     af_settle(c, inv->vow, inv->resolver.data, reject, value, NULL)
 *
 * (reject true with an error value when the method failed); AF_ESETTLED
 * then means it was answered already, differently (a redelivery).
 *
 * *pending (may be NULL): how many invocations of `object` were waiting
 * for a server; they are pushed to this connection now.
 *
 * Returns AF_OK; AF_EINVAL (object NULL; from the daemon: empty or longer
 * than 255 bytes).
 */
int af_serve(af_conn *c, const char *object, uint64_t *pending);

#ifdef __cplusplus
}
#endif
#endif /* AF_ASYNCFLOW_H */
