/*
 * fuzz_request.c: a libFuzzer harness for the daemon's request path. Each
 * input is one connection: its first byte says whether the connection
 * starts greeted (bit 0 set) or must shake hands first (so the handshake
 * path is fuzzed too), then come frames, each a 2-byte big-endian length
 * and that many bytes of payload (cut short at the end of the input). The
 * frames go through the daemon in a box (tests/harness.h) as the server
 * hands them over -- checked, unpacked, api_request -- until one is a
 * protocol error (the server would close the connection there); then one
 * turn of the daemon's loop runs and commits against a real LMDB store in
 * a temporary directory, and the connection closes. Anything that crashes,
 * leaks or trips a sanitizer here is a way for a client to hurt the daemon.
 *
 * Build and run: make fuzz (clang with libFuzzer; not part of make test).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct harness h;
static bool ready;
static uint64_t next_conn;

static void
setup(void)
{
	static char dir[] = "/tmp/affuzz.XXXXXX";
	struct harness_opts o = { .durability = STORE_NONE,
		.map_size = 64u << 20 };

	if (mkdtemp(dir) == NULL || harness_open(&h, dir, &o) != AF_OK) {
		fprintf(stderr, "fuzz setup failed: %s\n", h.err);
		abort();
	}
	ready = true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t conn;
	bool greeted;
	size_t n;

	if (!ready)
		setup();
	if (size == 0)
		return 0;
	conn = ++next_conn;
	greeted = data[0] & 1;
	data++;
	size--;
	while (size >= 2) {
		n = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		if (harness_frame(&h, conn, &greeted, data, n) == AF_EPROTO)
			break;
		data += n;
		size -= n;
	}
	harness_pass(&h);
	api_conn_closed(h.api, conn);
	return 0;
}
