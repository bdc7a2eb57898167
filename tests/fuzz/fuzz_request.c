/*
 * fuzz_request.c: a libFuzzer harness for the daemon's request path: a
 * frame's payload is checked and unpacked as the server does, handed to the
 * api on a greeted connection, and the pass runs and commits against a real
 * LMDB store in a temporary directory. Anything that crashes, leaks or
 * trips a sanitizer here is a way for a client to hurt the daemon.
 *
 * Build and run: make fuzz (clang with libFuzzer; not part of make test).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "builtin_flows.h"
#include "engine.h"
#include "frame.h"
#include "registry.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct engine *eng;
static struct api *api;

static void
discard(void *ctx, uint64_t conn, const uint8_t *msg, size_t n)
{
	(void)ctx;
	(void)conn;
	(void)msg;
	(void)n;
}

static void
setup(void)
{
	static char dir[] = "/tmp/affuzz.XXXXXX";
	struct store_opts so = { .durability = STORE_NONE,
	    .map_size = 64u << 20 };
	struct af_registry *reg;
	struct store *st;
	char err[256];

	if (mkdtemp(dir) == NULL || (reg = registry_new()) == NULL ||
	    builtin_flows_register(reg) != AF_OK ||
	    store_open_lmdb(dir, &so, &st, err, sizeof(err)) != AF_OK ||
	    engine_open(st, reg, NULL, &eng, err, sizeof(err)) != AF_OK ||
	    (api = api_new(eng, discard, NULL, "none")) == NULL) {
		fprintf(stderr, "fuzz setup failed\n");
		abort();
	}
	engine_set_commit_hook(eng, api_on_commit, api);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Asyncflow__Request *req;
	bool greeted = true;

	if (eng == NULL)
		setup();
	if (size > AF_MAX_FRAME ||
	    af__pb_depth_check(&asyncflow__request__descriptor, data, size,
	    AF_MAX_DEPTH) != AF_OK)
		return 0;
	if ((req = asyncflow__request__unpack(NULL, size, data)) == NULL)
		return 0;
	api_request(api, 1, &greeted, req);
	asyncflow__request__free_unpacked(req, NULL);
	engine_fire_due(eng);
	api_after_pass(api, engine_pass(eng));
	return 0;
}
