/*
 * harness.c: the daemon in a box (see harness.h). The wiring follows
 * main.c and server_run; if they change, this changes with them.
 */
#include <stdio.h>
#include <string.h>

#include "builtin_flows.h"
#include "harness.h"
#include "asyncflow/protocol.h"

static void
discard(void *ctx, uint64_t conn, const uint8_t *msg, size_t n)
{
	(void)ctx;
	(void)conn;
	(void)msg;
	(void)n;
}

int
harness_open(struct harness *h, const char *dir, const struct harness_opts *o)
{
	struct store_opts so;
	int rc;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	if (o != NULL)
		h->o = *o;
	memset(&so, 0, sizeof(so));
	so.durability = h->o.durability;
	so.map_size = h->o.map_size ? h->o.map_size : (size_t)256 << 20;

	if ((h->reg = registry_new()) == NULL) {
		rc = AF_ENOMEM;
		snprintf(h->err, sizeof(h->err), "registry_new: out of memory");
		goto fail;
	}
	if ((rc = builtin_flows_register(h->reg)) != AF_OK ||
	    (h->o.register_fn != NULL &&
		(rc = h->o.register_fn(h->reg, h->o.register_ctx)) != AF_OK)) {
		snprintf(h->err, sizeof(h->err), "registering flows: %s",
		    af_strerror(rc));
		goto fail;
	}
	if ((rc = store_open_lmdb(h->dir, &so, &h->st, h->err,
		 sizeof(h->err))) != AF_OK)
		goto fail;
	faultstore_attach(&h->fault, h->st);
	if ((rc = engine_open(h->st, h->reg, h->o.engine, &h->eng, h->err,
		 sizeof(h->err))) != AF_OK)
		goto fail;
	if ((h->api = api_new(h->eng, h->o.send ? h->o.send : discard,
		 h->o.send_ctx, store_durability_name(so.durability))) ==
	    NULL) {
		rc = AF_ENOMEM;
		snprintf(h->err, sizeof(h->err), "api_new: out of memory");
		goto fail;
	}
	engine_set_commit_hook(h->eng, api_on_commit, h->api);
	if ((rc = api_load_outbox(h->api)) != AF_OK) {
		snprintf(h->err, sizeof(h->err), "reading the outbox: %s",
		    af_strerror(rc));
		goto fail;
	}
	turn_init(&h->turn, h->eng, h->st, h->api);
	return AF_OK;
fail:
	harness_close(h);
	return rc;
}

void
harness_close(struct harness *h)
{
	if (h->eng != NULL)
		engine_set_commit_hook(h->eng, NULL, NULL);
	api_free(h->api);
	h->api = NULL;
	engine_close(h->eng);
	h->eng = NULL;
	faultstore_detach(&h->fault);
	store_close(h->st);
	h->st = NULL;
	registry_free(h->reg);
	h->reg = NULL;
}

int
harness_restart(struct harness *h)
{
	struct harness_opts o = h->o;
	char dir[sizeof(h->dir)];

	memcpy(dir, h->dir, sizeof(dir));
	harness_close(h);
	return harness_open(h, dir, &o);
}

int
harness_request(struct harness *h, uint64_t conn, bool *greeted,
    const Asyncflow__Request *req)
{
	return api_request(h->api, conn, greeted, req);
}

int
harness_frame(struct harness *h, uint64_t conn, bool *greeted, const uint8_t *p,
    size_t n)
{
	int rc;

	if (n > AF_MAX_FRAME) {
		api_protocol_error(h->api, conn, "frame too large");
		return AF_EPROTO;
	}
	rc = api_frame(h->api, conn, greeted, p, n);
	return rc == AF_EDECODE ? AF_EPROTO : rc;
}

int
harness_pass(struct harness *h)
{
	return turn_run(&h->turn, NULL);
}

int
harness_run_until_idle(struct harness *h)
{
	struct turn_next next;
	int rc;

	do {
		if ((rc = turn_run(&h->turn, &next)) != AF_OK)
			return rc;
	} while (next.again);
	return AF_OK;
}
