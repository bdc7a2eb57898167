/*
 * check_errors.c: the result codes (include/asyncflow/errors.h) and their
 * texts and names (common/errors.c). The test walks AF_ERRNO_MAP itself,
 * so a code added to the map is checked without editing this file.
 */
#include <errno.h>
#include <string.h>

#include "asyncflow/errors.h"
#include "testutil.h"

static const struct code {
	int code;
	const char *name;
	const char *text;
} codes[] = {
#define CODE_GEN(name, value, text) { AF_##name, #name, text },
	AF_ERRNO_MAP(CODE_GEN)
#undef CODE_GEN
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

START_TEST(test_af_strerror_every_code)
{
	const char *unknown = af_strerror(-1);
	size_t i, j;

	ck_assert_ptr_nonnull(unknown);
	for (i = 0; i < NCODES; i++) {
		ck_assert_ptr_nonnull(af_strerror(codes[i].code));
		ck_assert_str_ne(af_strerror(codes[i].code), unknown);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(af_strerror(codes[i].code),
			    af_strerror(codes[j].code));
	}
	ck_assert_str_eq(af_strerror(12345), unknown);
}
END_TEST

/* Each code's text and name are the map's, and no two codes share a value
 * or a name. */
START_TEST(test_af_errname_and_text_come_from_the_map)
{
	size_t i, j;

	ck_assert_uint_ge(NCODES, 19);
	for (i = 0; i < NCODES; i++) {
		ck_assert_str_eq(af_strerror(codes[i].code), codes[i].text);
		ck_assert_str_eq(af_errname(codes[i].code), codes[i].name);
		for (j = 0; j < i; j++) {
			ck_assert_int_ne(codes[i].code, codes[j].code);
			ck_assert_str_ne(codes[i].name, codes[j].name);
		}
	}
	ck_assert_str_eq(af_errname(-1), "EUNKNOWN");
	ck_assert_str_eq(af_errname(12345), "EUNKNOWN");
}
END_TEST

/* The ranges errors.h promises: 0 success, AF_REJECTED an answer, the two
 * system codes are -errno, every other failure a domain code at -30001 or
 * below. The values cross the wire: they never change. */
START_TEST(test_af_codes_keep_their_values)
{
	size_t i;

	ck_assert_int_eq(AF_OK, 0);
	ck_assert_int_eq(AF_REJECTED, 1);
	ck_assert_int_eq(AF_EINVAL, -EINVAL);
	ck_assert_int_eq(AF_ENOMEM, -ENOMEM);
	ck_assert_int_eq(AF_ENOTFOUND, -30001);
	ck_assert_int_eq(AF_ETIMEDOUT, -30015);
	for (i = 0; i < NCODES; i++) {
		if (codes[i].code >= AF_OK || codes[i].code == AF_EINVAL ||
		    codes[i].code == AF_ENOMEM)
			continue;
		ck_assert_int_le(codes[i].code, -30001);
		ck_assert_int_ge(codes[i].code, -30000 - (int)NCODES);
	}
}
END_TEST

static Suite *
errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, test_af_strerror_every_code);
	tcase_add_test(tc, test_af_errname_and_text_come_from_the_map);
	tcase_add_test(tc, test_af_codes_keep_their_values);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(errors_suite)
