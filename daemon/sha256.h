/*
 * sha256.h: SHA-256 (FIPS 180-4), in-tree, for content-addressing flow
 * modules in the data directory (modules.c). Plain and portable; not
 * constant-time, not for secrets, no HMAC.
 */
#ifndef AF_SHA256_H
#define AF_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
	size_t n; /* bytes in buf */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *p, size_t n);
/* The digest of everything given; c must be initialised again to reuse. */
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]);
/* The digest as 64 lower-case hex digits and a NUL. */
void sha256_hex(const uint8_t d[SHA256_LEN], char hex[2 * SHA256_LEN + 1]);

#endif
