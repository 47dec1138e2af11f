/* JSON helpers: MLflow's non-finite encoding, int64 as strings, checked output. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mlf/base.h"

static void test_non_finite_as_strings(void **state)
{
	(void)state;
	json_t *a = json_array();
	json_array_append_new(a, mlf_json_double(NAN));
	json_array_append_new(a, mlf_json_double(INFINITY));
	json_array_append_new(a, mlf_json_double(-INFINITY));
	json_array_append_new(a, mlf_json_double(0.1));
	json_array_append_new(a, mlf_json_double(-2.5e-300));
	char *s = json_dumps(a, JSON_COMPACT);
	assert_string_equal(s, "[\"NaN\",\"Infinity\",\"-Infinity\",0.10000000000000001,-2.5e-300]");
	free(s);
	double v;
	assert_int_equal(mlf_json_to_double(json_array_get(a, 0), &v), 0);
	assert_true(isnan(v));
	assert_int_equal(mlf_json_to_double(json_array_get(a, 1), &v), 0);
	assert_true(isinf(v) && v > 0);
	assert_int_equal(mlf_json_to_double(json_array_get(a, 2), &v), 0);
	assert_true(isinf(v) && v < 0);
	assert_int_equal(mlf_json_to_double(json_array_get(a, 3), &v), 0);
	assert_true(v == 0.1);  /* exact round trip */
	assert_int_equal(mlf_json_to_double(json_array_get(a, 4), &v), 0);
	assert_true(v == -2.5e-300);
	json_decref(a);

	json_t *bad = json_string("nan-ish");
	assert_int_equal(mlf_json_to_double(bad, &v), -1);
	json_decref(bad);
	json_t *num_str = json_string("1e-05");
	assert_int_equal(mlf_json_to_double(num_str, &v), 0);
	assert_true(v == 1e-05);
	json_decref(num_str);
}

static void test_int64_forms(void **state)
{
	(void)state;
	int64_t v;
	json_t *n = json_integer(1700000000123LL), *s = json_string("9007199254740993"),
	       *bad = json_string("12x"), *obj = json_object();
	assert_int_equal(mlf_json_to_int64(n, &v), 0);
	assert_true(v == 1700000000123LL);
	assert_int_equal(mlf_json_to_int64(s, &v), 0);  /* beyond a double's exact range */
	assert_true(v == 9007199254740993LL);
	assert_int_equal(mlf_json_to_int64(bad, &v), -1);
	assert_int_equal(mlf_json_to_int64(obj, &v), -1);
	json_decref(n);
	json_decref(s);
	json_decref(bad);
	json_decref(obj);
}

static void test_write_failure_is_reported(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	FILE *full = fopen("/dev/full", "w");
	assert_non_null(full);
	json_t *doc = json_pack("{s:s}", "kind", "x");
	assert_int_equal(mlf_json_write_line(doc, full, &err), -1);
	assert_int_equal(err.status, MLF_EX_IOERR);
	fclose(full);
	FILE *ok = tmpfile();
	assert_int_equal(mlf_json_write_line(doc, ok, &err), 0);
	rewind(ok);
	char line[64] = { 0 };
	assert_non_null(fgets(line, sizeof(line), ok));
	assert_string_equal(line, "{\"kind\":\"x\"}\n");
	fclose(ok);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_non_finite_as_strings),
		cmocka_unit_test(test_int64_forms),
		cmocka_unit_test(test_write_failure_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
