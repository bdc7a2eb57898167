/*
 * check_sha256.c: SHA-256 (daemon/sha256.c) against the FIPS 180-2/180-4
 * example vectors ("abc", the 448- and 896-bit messages, a million 'a'),
 * the empty message, the padding boundaries (55, 56, 63, 64, 119 bytes),
 * and updates split at every offset giving the one-shot digest.
 */
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "testutil.h"

static const char *
hexof(const void *p, size_t n)
{
	static char hex[2 * SHA256_LEN + 1];
	uint8_t d[SHA256_LEN];
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, p, n);
	sha256_final(&c, d);
	sha256_hex(d, hex);
	return hex;
}

START_TEST(test_sha256_standard_vectors)
{
	static const char m448[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char m896[] =
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

	ck_assert_str_eq(hexof("", 0),
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_str_eq(hexof("abc", 3),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_str_eq(hexof(m448, strlen(m448)),
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	ck_assert_str_eq(hexof(m896, strlen(m896)),
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}
END_TEST

START_TEST(test_sha256_million_a)
{
	uint8_t d[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1], a[1000];
	struct sha256 c;
	int i;

	memset(a, 'a', sizeof(a));
	sha256_init(&c);
	for (i = 0; i < 1000; i++)
		sha256_update(&c, a, sizeof(a));
	sha256_final(&c, d);
	sha256_hex(d, hex);
	ck_assert_str_eq(hex,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_sha256_padding_boundaries)
{
	char a[119];

	memset(a, 'a', sizeof(a));
	ck_assert_str_eq(hexof(a, 55),
	    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	ck_assert_str_eq(hexof(a, 56),
	    "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	ck_assert_str_eq(hexof(a, 63),
	    "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
	ck_assert_str_eq(hexof(a, 64),
	    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
	ck_assert_str_eq(hexof(a, 119),
	    "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb");
}
END_TEST

START_TEST(test_sha256_split_updates)
{
	uint8_t msg[300], d[SHA256_LEN];
	char want[2 * SHA256_LEN + 1], got[2 * SHA256_LEN + 1];
	struct sha256 c;
	size_t i, j;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	strcpy(want, hexof(msg, sizeof(msg)));
	for (i = 0; i <= sizeof(msg); i++) {
		for (j = i; j <= sizeof(msg); j += 37) {
			sha256_init(&c);
			sha256_update(&c, msg, i);
			sha256_update(&c, msg + i, j - i);
			sha256_update(&c, msg + j, sizeof(msg) - j);
			sha256_final(&c, d);
			sha256_hex(d, got);
			ck_assert_str_eq(got, want);
		}
	}
}
END_TEST

static Suite *
sha256_suite(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("sha256");

	tcase_add_test(tc, test_sha256_standard_vectors);
	tcase_add_test(tc, test_sha256_million_a);
	tcase_add_test(tc, test_sha256_padding_boundaries);
	tcase_add_test(tc, test_sha256_split_updates);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(sha256_suite)
