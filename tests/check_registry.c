/*
 * check_registry.c: flow and host-object names (daemon/registry.c).
 *
 * Registry lookups take explicit lengths (names come from journal entries
 * and the wire, not NUL-terminated), so a prefix, an extension or a name
 * with a NUL inside must not match. The u64map tests are in check_u64map.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncflow/flow.h"
#include "registry.h"
#include "testutil.h"

/* ---- Registry -------------------------------------------------------------- */

static int
flow_a(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	*result = args;
	return AF_OK;
}

static int
flow_b(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	(void)f;
	(void)args;
	*result = NULL;
	return AF_REJECTED;
}

static int
m_one(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	*result = args;
	return AF_OK;
}

static int
m_two(struct af_host *h, void *data, const struct af_value *args,
    const struct af_value **result)
{
	(void)h;
	(void)data;
	(void)args;
	*result = NULL;
	return AF_REJECTED;
}

static struct af_registry *reg;

static void
reg_setup(void)
{
	reg = registry_new();
	ck_assert_ptr_nonnull(reg);
}

static void
reg_teardown(void)
{
	registry_free(reg);
	reg = NULL;
}

START_TEST(test_registry_flows_by_exact_name)
{
	/* Not NUL-terminated: lookups must use the lengths given. */
	static const char buf[] = { 'e', 'c', 'h', 'o', 'e', 's', 'X' };
	const struct flow_def *f;

	ck_assert_ptr_null(registry_flow(reg, "echo", 4));
	ck_assert_int_eq(af_register_flow(reg, "echo", flow_a), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "echoes", flow_b), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "e", flow_b), AF_OK);

	ck_assert_ptr_nonnull(f = registry_flow(reg, "echo", 4));
	ck_assert_str_eq(f->name, "echo");
	ck_assert(f->fn == flow_a);
	ck_assert_ptr_nonnull(f = registry_flow(reg, buf, 4));
	ck_assert(f->fn == flow_a);
	ck_assert_ptr_nonnull(f = registry_flow(reg, buf, 6));
	ck_assert_str_eq(f->name, "echoes");
	ck_assert(f->fn == flow_b);
	ck_assert_ptr_nonnull(f = registry_flow(reg, buf, 1));
	ck_assert_str_eq(f->name, "e");
	/* A prefix or an extension of a registered name is another name. */
	ck_assert_ptr_null(registry_flow(reg, buf, 2));
	ck_assert_ptr_null(registry_flow(reg, buf, 3));
	ck_assert_ptr_null(registry_flow(reg, buf, 5));
	ck_assert_ptr_null(registry_flow(reg, buf, 7));
	ck_assert_ptr_null(registry_flow(reg, "echo", 3));
	ck_assert_ptr_null(registry_flow(reg, "", 0));
	ck_assert_ptr_null(registry_flow(reg, "ECHO", 4));
	/* Flows and objects are looked up separately. */
	ck_assert_ptr_null(registry_object(reg, "echo", 4));
}
END_TEST

/* A name with a NUL inside is not a registered name, whatever follows the
 * NUL (registry.h: "Names are compared in full (n bytes)"), and the lookup
 * never reads the registered name past its end. */
START_TEST(test_registry_name_with_nul_does_not_match)
{
	static char name[16] = "echo"; /* zeros after the name */
	struct af_method m[] = { { "run", m_one } };
	static char oname[16] = "calc";
	const struct obj_def *o;

	ck_assert_int_eq(af_register_flow(reg, name, flow_a), AF_OK);
	ck_assert_int_eq(af_register_object(reg, oname, m, 1, NULL), AF_OK);
	ck_assert_ptr_null(registry_flow(reg, "echo\0", 5));
	ck_assert_ptr_null(registry_flow(reg, "echo\0\0", 6));
	ck_assert_ptr_null(registry_object(reg, "calc\0", 5));
	ck_assert_ptr_nonnull(o = registry_object(reg, "calc", 4));
	ck_assert_ptr_null(registry_method(o, "run\0", 4));
}
END_TEST

START_TEST(test_registry_duplicates_and_invalid)
{
	char long_name[300];
	struct af_method ok_m[] = { { "m", m_one } };
	struct af_method null_fn[] = { { "m", m_one }, { "n", NULL } };
	struct af_method empty_name[] = { { "", m_one } };
	struct af_method null_name[] = { { NULL, m_one } };

	ck_assert_int_eq(af_register_flow(reg, "f", flow_a), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "f", flow_b), AF_EEXIST);
	ck_assert(registry_flow(reg, "f", 1)->fn == flow_a);
	ck_assert_int_eq(af_register_flow(reg, NULL, flow_a), AF_EINVAL);
	ck_assert_int_eq(af_register_flow(reg, "", flow_a), AF_EINVAL);
	ck_assert_int_eq(af_register_flow(reg, "g", NULL), AF_EINVAL);
	ck_assert_int_eq(af_register_flow(NULL, "g", flow_a), AF_EINVAL);
	ck_assert_ptr_null(registry_flow(reg, "g", 1));
	/* 255 bytes is the longest name. */
	memset(long_name, 'n', sizeof(long_name));
	long_name[256] = '\0';
	ck_assert_int_eq(af_register_flow(reg, long_name, flow_a), AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, long_name, ok_m, 1, NULL),
	    AF_EINVAL);
	long_name[255] = '\0';
	ck_assert_int_eq(af_register_flow(reg, long_name, flow_a), AF_OK);
	ck_assert_ptr_nonnull(registry_flow(reg, long_name, 255));

	ck_assert_int_eq(af_register_object(reg, "o", ok_m, 1, NULL), AF_OK);
	ck_assert_int_eq(af_register_object(reg, "o", ok_m, 1, NULL),
	    AF_EEXIST);
	ck_assert_int_eq(af_register_object(NULL, "p", ok_m, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, NULL, ok_m, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "", ok_m, 1, NULL), AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "p", NULL, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "p", null_fn, 2, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "p", empty_name, 1, NULL),
	    AF_EINVAL);
	ck_assert_int_eq(af_register_object(reg, "p", null_name, 1, NULL),
	    AF_EINVAL);
	/* A refused registration leaves nothing behind. */
	ck_assert_ptr_null(registry_object(reg, "p", 1));
	/* An object without methods is allowed (NULL table, n = 0). */
	ck_assert_int_eq(af_register_object(reg, "p", NULL, 0, NULL), AF_OK);
	ck_assert_ptr_nonnull(registry_object(reg, "p", 1));
	ck_assert_uint_eq(registry_object(reg, "p", 1)->nmethods, 0);
	ck_assert_ptr_null(
	    registry_method(registry_object(reg, "p", 1), "m", 1));
}
END_TEST

START_TEST(test_registry_objects_and_methods)
{
	struct af_method ms[] = { { "double", m_one }, { "doubled", m_two },
		{ "fail", m_two } };
	int data = 7;
	const struct obj_def *o;
	const struct af_method *m;

	ck_assert_int_eq(af_register_object(reg, "calc", ms, 3, &data), AF_OK);
	ck_assert_int_eq(af_register_object(reg, "calculator", ms, 1, NULL),
	    AF_OK);
	/* The registry keeps its own copy of the table. */
	ms[0].fn = m_two;
	ms[0].name = "changed";

	ck_assert_ptr_nonnull(o = registry_object(reg, "calc", 4));
	ck_assert_str_eq(o->name, "calc");
	ck_assert_uint_eq(o->nmethods, 3);
	ck_assert_ptr_eq(o->data, &data);
	ck_assert_ptr_nonnull(m = registry_method(o, "double", 6));
	ck_assert_str_eq(m->name, "double");
	ck_assert(m->fn == m_one);
	ck_assert_ptr_nonnull(m = registry_method(o, "doubled", 7));
	ck_assert(m->fn == m_two);
	ck_assert_ptr_nonnull(m = registry_method(o, "doubled", 6));
	ck_assert_str_eq(m->name, "double");
	ck_assert_ptr_null(registry_method(o, "doub", 4));
	ck_assert_ptr_null(registry_method(o, "doubledd", 8));
	ck_assert_ptr_null(registry_method(o, "changed", 7));
	ck_assert_ptr_null(registry_method(o, "", 0));
	ck_assert_ptr_nonnull(registry_method(o, "fail", 4));

	ck_assert_ptr_nonnull(o = registry_object(reg, "calculator", 10));
	ck_assert_uint_eq(o->nmethods, 1);
	ck_assert_ptr_null(o->data);
	ck_assert_ptr_null(registry_method(o, "fail", 4));
	ck_assert_ptr_eq(registry_object(reg, "calculator", 4),
	    registry_object(reg, "calc", 4));
	ck_assert_ptr_null(registry_object(reg, "calcu", 5));
	/* Objects and flows are separate namespaces. */
	ck_assert_ptr_null(registry_flow(reg, "calc", 4));
}
END_TEST

START_TEST(test_registry_many_names)
{
	static char names[200][16];
	const struct flow_def *f;
	const struct obj_def *o;
	struct af_method ms[] = { { "m", m_one } };

	for (int i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		ck_assert_int_eq(af_register_flow(reg, names[i],
				     i % 2 ? flow_a : flow_b),
		    AF_OK);
		ck_assert_int_eq(af_register_object(reg, names[i], ms, 1,
				     names[i]),
		    AF_OK);
	}
	/* Found after every growth, lookups in any order. */
	for (int i = 199; i >= 0; i--) {
		ck_assert_ptr_nonnull(
		    f = registry_flow(reg, names[i], strlen(names[i])));
		ck_assert_ptr_eq(f->name, names[i]);
		ck_assert(f->fn == (i % 2 ? flow_a : flow_b));
		ck_assert_ptr_nonnull(
		    o = registry_object(reg, names[i], strlen(names[i])));
		ck_assert_ptr_eq(o->data, names[i]);
		ck_assert_int_eq(af_register_flow(reg, names[i], flow_a),
		    AF_EEXIST);
	}
	ck_assert_ptr_null(registry_flow(reg, "n200", 4));
	/* "n1" is a prefix of "n10".."n199": still itself. */
	ck_assert_ptr_eq(registry_flow(reg, "n1", 2)->name, names[1]);
	ck_assert_ptr_eq(registry_flow(reg, "n19", 3)->name, names[19]);
}
END_TEST

/* A module's init fails with AF_EEXIST or AF_EINVAL: the registry says
 * which name, and who registered it first, so the daemon's message can. */
START_TEST(test_registry_error_names_the_culprit)
{
	static const struct af_method bad[] = { { "", m_one } };

	ck_assert_str_eq(registry_error(reg), "");
	registry_set_owner(reg, "built-in");
	ck_assert_int_eq(af_register_flow(reg, "echo", flow_a), AF_OK);
	ck_assert_str_eq(registry_flow(reg, "echo", 4)->owner, "built-in");
	registry_set_owner(reg, "mod.so");
	ck_assert_int_eq(af_register_flow(reg, "echo", flow_b), AF_EEXIST);
	ck_assert_str_eq(registry_error(reg),
	    "flow \"echo\" is registered twice (first by built-in)");
	ck_assert_int_eq(af_register_object(reg, "o", NULL, 0, NULL), AF_OK);
	ck_assert_str_eq(registry_object(reg, "o", 1)->owner, "mod.so");
	ck_assert_int_eq(af_register_object(reg, "o", NULL, 0, NULL),
	    AF_EEXIST);
	ck_assert_str_eq(registry_error(reg),
	    "object \"o\" is registered twice (first by mod.so)");
	ck_assert_int_eq(af_register_flow(reg, "", flow_a), AF_EINVAL);
	ck_assert_str_eq(registry_error(reg),
	    "flow name \"\" is empty or longer than 255 bytes");
	ck_assert_int_eq(af_register_flow(reg, "f", NULL), AF_EINVAL);
	ck_assert_str_eq(registry_error(reg), "flow \"f\" has no function");
	ck_assert_int_eq(af_register_object(reg, "p", bad, 1, NULL), AF_EINVAL);
	ck_assert_str_eq(registry_error(reg),
	    "object \"p\": method 0 has no name or no function");
	/* A success does not clear it: the daemon asks after init. */
	ck_assert_int_eq(af_register_flow(reg, "g", flow_a), AF_OK);
	ck_assert_str_eq(registry_error(reg),
	    "object \"p\": method 0 has no name or no function");
	registry_clear_error(reg);
	ck_assert_str_eq(registry_error(reg), "");
}
END_TEST

/* A module whose init fails leaves nothing registered. */
START_TEST(test_registry_rollback)
{
	static const struct af_method ms[] = { { "one", m_one } };
	struct registry_mark m;

	ck_assert_int_eq(af_register_flow(reg, "a", flow_a), AF_OK);
	m = registry_mark(reg);
	ck_assert_int_eq(af_register_flow(reg, "b", flow_b), AF_OK);
	ck_assert_int_eq(af_register_object(reg, "o", ms, 1, NULL), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "a", flow_b), AF_EEXIST);
	registry_rollback(reg, m);
	ck_assert_ptr_nonnull(registry_flow(reg, "a", 1));
	ck_assert_ptr_null(registry_flow(reg, "b", 1));
	ck_assert_ptr_null(registry_object(reg, "o", 1));
	ck_assert_ptr_null(registry_flow_name(reg, 1));
	/* The names are free again. */
	ck_assert_int_eq(af_register_object(reg, "o", ms, 1, NULL), AF_OK);
	ck_assert_int_eq(af_register_flow(reg, "b", flow_b), AF_OK);
}
END_TEST

START_TEST(test_registry_free_null)
{
	registry_free(NULL);
}
END_TEST

static Suite *
registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tr = tcase_create("registry");

	tcase_add_checked_fixture(tr, reg_setup, reg_teardown);
	tcase_add_test(tr, test_registry_flows_by_exact_name);
	tcase_add_test(tr, test_registry_name_with_nul_does_not_match);
	tcase_add_test(tr, test_registry_duplicates_and_invalid);
	tcase_add_test(tr, test_registry_objects_and_methods);
	tcase_add_test(tr, test_registry_many_names);
	tcase_add_test(tr, test_registry_error_names_the_culprit);
	tcase_add_test(tr, test_registry_rollback);
	tcase_add_test(tr, test_registry_free_null);
	suite_add_tcase(s, tr);
	return s;
}

TEST_MAIN(registry_suite)
