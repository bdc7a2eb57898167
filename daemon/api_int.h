/*
 * api_int.h: what api.c, api_ops.c and serve.c share: struct api, the
 * reply queue, values between the wire and the engine, and the handlers
 * the request table (api.c) names. Internal to those three files; the rest
 * of the daemon uses api.h.
 */
#ifndef AF_API_INT_H
#define AF_API_INT_H

#include "api.h"
#include "arena.h"
#include "buf.h"
#include "strmap.h"
#include "u64map.h"

struct held {
	uint64_t conn;
	uint64_t reqid;
	uint8_t *msg; /* packed ServerMessage */
	size_t n;
	bool effect; /* the request changes durable state: if
				     * the pass's commit fails, the answer is
				     * that error instead */
};

struct objsrv; /* serve.c */

struct api {
	struct engine *e;
	struct objsrv *objs; /* serve.c: servers by object name */
	size_t nobjs, capobjs;
	struct strmap objidx;   /* name -> index in objs, plus 1 */
	struct u64map assigned; /* result vow -> struct sent (serve.c) */
	struct u64map inflight; /* conn -> bytes of unanswered invocations
				     * pushed to it (as uintptr_t) */
	api_send_fn *send;
	void *ctx;
	const char *durability;
	uint64_t connections;
	struct af_arena *arena; /* per request */
	struct held *held;      /* replies of this pass */
	size_t nheld, capheld;
	struct held *post; /* answers to waits, after `held` */
	size_t npost, cappost;
	struct held *fin; /* errors that end a connection, after every
			   * other reply it is owed (api_protocol_error) */
	size_t nfin, capfin;
	struct u64map waits; /* vow -> struct waitlist */
	struct buf b;
	bool cur_effect;    /* the request being handled writes */
	bool pass_wrote;    /* a request of this pass wrote: later
				     * reads may show what a failed commit
				     * would roll back, so they share its
				     * fate */
	uint64_t *answered; /* invocations servers answered in this
				     * pass (redelivered if it fails) */
	size_t nanswered, capanswered;
	char why[256];   /* why the request being handled failed, when
				     * the op's own error text cannot say
				     * (set by api_from_wire), or "" */
	bool serve_lost; /* an allocation or a read failed and some
				     * delivery state was dropped: rebuilt
				     * from the outbox after the next pass */
	/* The upgrade check running (api_ops.c), at most one: its checker
	 * process (pid 0: none), the read end of its stdout, the request
	 * it answers and what it printed so far. */
	struct {
		int pid;
		int fd;
		uint64_t conn, reqid;
		struct buf out;
		bool apply, force; /* switch once checked (not --check) */
		bool swap_pending; /* checked: switch after the next commit */
		/* A forced switch: the activations the check found failing,
		 * to fail at once under the new code (api_upgrade_after_pass):
		 * replayed, or quarantined if they crashed or ran away. */
		uint64_t *fail_ids;
		bool *fail_quarantine;
		size_t nfail;
		char **mods; /* the new set (absolute paths, kept for
				    * the process's life: they label it) */
		size_t nmods;
	} up;
	api_watch_fn *watch; /* api_set_watch */
	void *watch_ctx;
};

/* ---- api.c: plumbing, replies, values, waits ----------------------------- */

/* Grow *p (of *cap elements of elem bytes) to hold need; AF_ENOMEM. */
int api_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Packed, or NULL (out of memory, or larger than a frame may be: *n is
 * then the size it would have). */
uint8_t *api_pack_message(const Asyncflow__ServerMessage *m, size_t *n);

/* Hold (or, post = true, queue behind the held ones) a response. */
void api_queue(struct api *api, uint64_t conn, const Asyncflow__Response *r,
    bool post);
/* The same for an error reply; msg NULL: the code's text. */
void api_queue_error(struct api *api, uint64_t conn, uint64_t reqid, int code,
    const char *msg, bool post);

/* A wire Value (NULL: null) as an af_value in api->arena, through its
 * canonical encoding (so unsorted records or unknown fields are refused). */
int api_from_wire(struct api *api, const Asyncflow__Value *w,
    const struct af_value **out);
/* An encoded value as a wire struct (free with asyncflow__value__free_
 * unpacked), or NULL. */
Asyncflow__Value *api_to_wire(const void *enc, size_t n);
Asyncflow__Value *api_value_to_wire(struct api *api, const struct af_value *v);

Asyncflow__VowStatus api_wire_status(enum vow_state s);
/* Fill vi (value malloc'd: free with api_free_vow_info). */
int api_vow_info(struct api *api, uint64_t vow, Asyncflow__VowInfo *vi,
    bool *settled);
void api_free_vow_info(Asyncflow__VowInfo *vi);
/* conn waits for vow's settlement: reqid answers a GetVow, 0 sends a
 * VowSettled event (WatchVow). */
void api_add_wait(struct api *api, uint64_t vow, uint64_t conn, uint64_t reqid);

/* ---- The handlers (api_ops.c, serve.c) ----------------------------------- */

/* Handle req from conn: AF_OK once answered (api_queue) or once a wait
 * will answer it, else the error api_request answers with. */
typedef int
api_op_fn(struct api *api, uint64_t conn, const Asyncflow__Request *req);

api_op_fn api_op_hello, api_op_start, api_op_mkvow, api_op_settle,
    api_op_get_vow, api_op_watch_vow, api_op_list, api_op_failures, api_op_show,
    api_op_journal, api_op_wake, api_op_stats, api_op_serve, api_op_modules,
    api_op_terminate, api_op_purge, api_op_upgrade, api_op_cancel, api_op_call;

/* At api_free: an upgrade check still running is killed. */
void api_upgrade_release(struct api *api);
/* After a pass (api_after_pass): a checked upgrade switches now. */
void api_upgrade_after_pass(struct api *api, int rc);

/* ---- serve.c: client-served objects -------------------------------------- */

/* A server answered invocation vow (settled its result vow) in this pass:
 * its window has room again; if the pass fails, it is pushed again. */
void serve_answered(struct api *api, uint64_t vow);
/* The engine's on_commit: vows settled (answered invocations), new
 * invocations to hand out. */
void serve_on_commit(struct api *api, const uint64_t *settled, size_t n,
    const uint64_t *invs, size_t ninv);
/* After the pass: redeliver what its failed commit rolled back (rc), or
 * hand out what waits for room. */
void serve_after_pass(struct api *api, int rc);
/* conn went away: its unanswered invocations go to the other servers. */
void serve_conn_closed(struct api *api, uint64_t conn);
void serve_release(struct api *api);
/* Whether some connection serves `object` now. */
bool serve_has_server(struct api *api, const char *object);

#endif /* AF_API_INT_H */
