/* JSON helpers: MLflow's non-finite encoding, int64 as strings, string members, checked output;
 * the SHA-256 hex helpers. */
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
	/* a real beyond int64 (found by fuzz_rest: the conversion was undefined) */
	json_t *huge = json_real(2.2e23), *nan_ = json_real(NAN), *ok = json_real(1.7e12);
	assert_int_equal(mlf_json_to_int64(huge, &v), -1);
	assert_int_equal(mlf_json_to_int64(nan_, &v), -1);
	assert_int_equal(mlf_json_to_int64(ok, &v), 0);
	assert_true(v == 1700000000000LL);
	json_decref(huge);
	json_decref(nan_);
	json_decref(ok);
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

static void test_parse_int64(void **state)
{
	(void)state;
	int64_t v = 7;
	assert_int_equal(mlf_parse_int64("1700000000123", &v), 0);
	assert_int_equal(v, 1700000000123LL);
	assert_int_equal(mlf_parse_int64("-42", &v), 0);
	assert_int_equal(v, -42);
	assert_int_equal(mlf_parse_int64("9223372036854775807", &v), 0);
	assert_int_equal(v, INT64_MAX);
	v = 7;
	assert_int_equal(mlf_parse_int64("", &v), -1);
	assert_int_equal(mlf_parse_int64("12x", &v), -1);
	assert_int_equal(mlf_parse_int64("1.5", &v), -1);
	assert_int_equal(mlf_parse_int64("9223372036854775808", &v), -1);
	assert_int_equal(v, 7);  /* untouched on failure */
}

static void test_string_members(void **state)
{
	(void)state;
	json_t *doc = json_loads("{\"kind\": \"mlf.run\", \"n\": 3, \"run\": {\"run_id\": \"abc\"}}",
				 0, NULL);
	assert_non_null(doc);
	assert_string_equal(mlf_json_str(doc, "kind", NULL), "mlf.run");
	assert_null(mlf_json_str(doc, "n", NULL));                /* not a string */
	assert_null(mlf_json_str(doc, "missing", NULL));
	assert_string_equal(mlf_json_str(doc, "missing", ""), "");
	assert_string_equal(mlf_json_str(doc, "n", "active"), "active");
	assert_string_equal(mlf_json_str(json_object_get(doc, "run"), "run_id", NULL), "abc");
	assert_null(mlf_json_str(json_object_get(doc, "none"), "run_id", NULL));
	assert_null(mlf_json_str(json_object_get(doc, "kind"), "run_id", NULL));  /* not an object */
	assert_null(mlf_json_str(NULL, "kind", NULL));
	json_decref(doc);
}

static void test_utf8_escape(void **state)
{
	(void)state;
	const struct { const char *in, *out; } cases[] = {
		{ "plain.json", "plain.json" },
		{ "caf\xc3\xa9 \\ ok", "caf\xc3\xa9 \\ ok" },     /* valid: unchanged, \\ too */
		{ "bad\xff.json", "bad\\xff.json" },
		{ "a\\b\xfe", "a\\\\b\\xfe" },                 /* backslashes doubled once escaping */
		{ "cut\xc3", "cut\\xc3" },                         /* a sequence cut short */
		{ "\xed\xa0\x80x\xe2\x82\xac", "\\xed\\xa0\\x80x\xe2\x82\xac" },  /* a surrogate */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = mlf_utf8_escape(cases[i].in);
		assert_string_equal(e, cases[i].out);
		assert_true(mlf_is_utf8(e, strlen(e)));
		free(e);
	}
}

static void test_sha256_hex(void **state)
{
	(void)state;
	char hex[65];
	mlf_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(mlf_is_sha256_hex(hex));
	mlf_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_false(mlf_is_sha256_hex(NULL));
	assert_false(mlf_is_sha256_hex(""));
	assert_false(mlf_is_sha256_hex("ba7816bf"));
	hex[10] = 'A';   /* uppercase is not how the library writes it */
	assert_false(mlf_is_sha256_hex(hex));
	hex[10] = 'g';
	assert_false(mlf_is_sha256_hex(hex));
	char longer[66];
	memset(longer, 'a', 65);
	longer[65] = '\0';
	assert_false(mlf_is_sha256_hex(longer));
}

/* Expected texts from Python 3's repr() of each value (run once, kept here). */
static void test_py_str_floats(void **state)
{
	(void)state;
	static const struct { double x; const char *want; } cases[] = {
		{ 0.7, "0.7" }, { 0.937, "0.937" }, { 0.0005, "0.0005" }, { 0.01, "0.01" },
		{ 1e-05, "1e-05" }, { 1.5e-07, "1.5e-07" }, { 100.0, "100.0" }, { 0.0, "0.0" },
		{ -0.0, "-0.0" }, { 1e+16, "1e+16" }, { 1000000000000000.0, "1000000000000000.0" },
		{ 1.2345678901234568e+17, "1.2345678901234568e+17" },
		{ 0.30000000000000004, "0.30000000000000004" }, { 0.3333333333333333, "0.3333333333333333" },
		{ 2.5, "2.5" }, { -1.25e-10, "-1.25e-10" }, { 5e-324, "5e-324" },
		{ 1.7976931348623157e+308, "1.7976931348623157e+308" }, { 0.0001, "0.0001" },
		{ 0.00012345, "0.00012345" }, { 12345.678, "12345.678" }, { 1e+22, "1e+22" },
		{ 0.3, "0.3" }, { 16.0, "16.0" }, { 640.0, "640.0" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_real(cases[i].x);
		char *got = mlf_json_py_str(v);
		assert_string_equal(got, cases[i].want);
		free(got);
		json_decref(v);
	}
	/* and every text reads back to its double */
	unsigned long long bits = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 20000; i++) {
		bits ^= bits << 13, bits ^= bits >> 7, bits ^= bits << 17;
		double x;
		memcpy(&x, &bits, sizeof(x));
		if (!isfinite(x))
			continue;
		json_t *v = json_real(x);
		char *got = mlf_json_py_str(v);
		if (strtod(got, NULL) != x)
			fail_msg("%.17g gave '%s'", x, got);
		free(got);
		json_decref(v);
	}
}

static void test_py_str_values(void **state)
{
	(void)state;
	static const struct { const char *json, *want; } cases[] = {
		{ "null", "None" }, { "true", "True" }, { "false", "False" }, { "42", "42" },
		{ "-7", "-7" }, { "\"yolov8n.pt\"", "yolov8n.pt" }, { "\"\"", "" },
		{ "[0.5, 1, \"a\", null]", "[0.5, 1, 'a', None]" },
		{ "{\"k\": [true], \"it's\": \"x\\\\y\"}", "{'k': [True], \"it's\": 'x\\\\y'}" },
		{ "[]", "[]" }, { "{}", "{}" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		char *got = mlf_json_py_str(v);
		assert_string_equal(got, cases[i].want);
		free(got);
		json_decref(v);
	}
	char *none = mlf_json_py_str(NULL);
	assert_string_equal(none, "None");
	free(none);
}

/* Block YAML for MLmodel files: nesting, lists of scalars and of maps, quoting. */
static void test_yaml_block(void **state)
{
	(void)state;
	json_t *doc = json_loads("{\"flavors\": {\"python_function\": {\"code\": \"code\", \"n\": 3}},"
				 " \"deps\": [\"python=3.11\", {\"pip\": [\"a==1\", \"b\"]}],"
				 " \"odd key\": \"yes: no\\n'#\", \"empty\": {}, \"none\": null,"
				 " \"flag\": true, \"list\": []}", 0, NULL);
	assert_non_null(doc);
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_json_to_yaml(doc, &b);
	assert_string_equal(b.data,
			    "flavors:\n"
			    "  python_function:\n"
			    "    code: \"code\"\n"
			    "    n: 3\n"
			    "deps:\n"
			    "  - \"python=3.11\"\n"
			    "  - pip:\n"
			    "      - \"a==1\"\n"
			    "      - \"b\"\n"
			    "\"odd key\": \"yes: no\\n'#\"\n"
			    "empty: {}\n"
			    "none: null\n"
			    "flag: true\n"
			    "list: []\n");
	mlf_buf_release(&b);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_non_finite_as_strings),
		cmocka_unit_test(test_int64_forms),
		cmocka_unit_test(test_write_failure_is_reported),
		cmocka_unit_test(test_parse_int64),
		cmocka_unit_test(test_string_members),
		cmocka_unit_test(test_sha256_hex),
		cmocka_unit_test(test_utf8_escape),
		cmocka_unit_test(test_py_str_floats),
		cmocka_unit_test(test_py_str_values),
		cmocka_unit_test(test_yaml_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
