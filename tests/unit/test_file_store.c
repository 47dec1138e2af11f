/* Unit tests for the file store: YAML quoting, metric text, key guards, artifacts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mlf/base.h"
#include "tracking/tracking_internal.h"
#include "tracking/file/file_store_internal.h"

static char *make_tmp(void)
{
	char tmpl[] = "/tmp/mlf-unit-fs.XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return mlf_xstrdup(d);
}

/* Strings YAML 1.1 would retype or misparse if they were written plain. */
static void test_yaml_round_trip(void **state)
{
	(void)state;
	static const char *const nasty[] = {
		"0123", "1e5", "1_000", "12:30", "yes", "off", "null", "~", "", " lead", "trail ",
		"a: b", "- x", "#c", "it's", "\"dq\"", "line1\nline2\n", "tab\there", "caf\xc3\xa9 \xe4\xb8\xad",
		"'", "[x]", "{y}", "@z", "%p", "!t", "&a", "*b", "|", ">",
	};
	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		struct mlf_fsyaml_item items[] = {
			{ "value", MLF_FSYAML_STR, nasty[i], 0, NULL },
			{ "count", MLF_FSYAML_INT, NULL, -42, NULL },
			{ "none", MLF_FSYAML_NULL, NULL, 0, NULL },
		};
		struct mlf_buf b = MLF_BUF_INIT;
		struct mlf_error err = MLF_ERROR_INIT;
		assert_int_equal(mlf_fsyaml_emit(items, 3, &b, &err), 0);
		/* keys sorted */
		assert_true(strstr(b.data, "count") < strstr(b.data, "none"));
		assert_true(strstr(b.data, "none") < strstr(b.data, "value"));
		struct mlf_fsyaml_doc doc;
		assert_int_equal(mlf_fsyaml_load("t", b.data, b.len, &doc, &err), 0);
		char *got = NULL;
		int64_t n = 0;
		assert_int_equal(mlf_fsyaml_get_str(&doc, "t", "value", &got, &err), 1);
		assert_string_equal(got, nasty[i]);
		assert_int_equal(mlf_fsyaml_get_int(&doc, "t", "count", &n, &err), 1);
		assert_int_equal(n, -42);
		free(got);
		assert_int_equal(mlf_fsyaml_get_str(&doc, "t", "none", &got, &err), 0);
		assert_int_equal(mlf_fsyaml_get_str(&doc, "t", "missing", &got, &err), 0);
		mlf_fsyaml_free(&doc);
		mlf_buf_release(&b);
	}
}

static void test_yaml_plain_and_torn(void **state)
{
	(void)state;
	const char *py = "experiment_id: '0'\nname: Default\nstatus: 3\nend_time: null\n";
	struct mlf_fsyaml_doc doc;
	struct mlf_error err = MLF_ERROR_INIT;
	char *s = NULL;
	int64_t n = 0;
	assert_int_equal(mlf_fsyaml_load("p", py, strlen(py), &doc, &err), 0);
	assert_int_equal(mlf_fsyaml_get_str(&doc, "p", "name", &s, &err), 1);
	assert_string_equal(s, "Default");
	free(s);
	assert_int_equal(mlf_fsyaml_get_int(&doc, "p", "status", &n, &err), 1);
	assert_int_equal(n, 3);
	assert_int_equal(mlf_fsyaml_get_int(&doc, "p", "end_time", &n, &err), 0);
	mlf_fsyaml_free(&doc);

	const char *torn = "artifact_uri: 'file:///x\nexperi";
	assert_int_equal(mlf_fsyaml_load("torn.yaml", torn, strlen(torn), &doc, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "torn.yaml"));
	assert_int_equal(mlf_fsyaml_load("e", "", 0, &doc, &err), -1);
	assert_int_equal(mlf_fsyaml_load("s", "just text", 9, &doc, &err), -1);
}

struct store {
	char *dir;
	void *impl;
};

static void open_store(struct store *s)
{
	struct mlf_tracking_options o;
	struct mlf_error err = MLF_ERROR_INIT;
	s->dir = make_tmp();
	mlf_tracking_options_init(&o);
	o.uri = "mlruns";
	o.workspace = s->dir;
	assert_int_equal(mlf_file_store_open(&o, &s->impl, &err), 0);
}

static void close_store(struct store *s)
{
	mlf_file_store_ops.close(s->impl);
	mlf_remove_tree(s->dir, NULL);
	free(s->dir);
}

static void test_metric_text(void **state)
{
	(void)state;
	struct store s;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_run run;
	const double values[] = { 0.1, 1e-05, 1.0 / 3, 1e300, -0.0, 5e-324, 100.0, NAN, INFINITY,
				  -INFINITY, 0.30000000000000004, 9007199254740993.0 };
	const size_t nv = sizeof(values) / sizeof(values[0]);
	struct mlf_metric ms[sizeof(values) / sizeof(values[0])];

	open_store(&s);
	assert_int_equal(mlf_file_store_ops.create_run(s.impl, "0", "r", "u", 1000, NULL, &run, &err), 0);
	for (size_t i = 0; i < nv; i++)
		ms[i] = (struct mlf_metric){ "m/x", values[i], (int64_t)i, (int64_t)i - 2 };
	assert_int_equal(mlf_file_store_ops.log_batch(s.impl, run.run_id, ms, nv, NULL, 0, NULL, 0, &err), 0);

	char *path = mlf_xasprintf("%s/mlruns/0/%s/metrics/m/x", s.dir, run.run_id);
	char *text = NULL;
	assert_int_equal(mlf_read_file(path, &text, NULL, &err), 0);
	assert_string_equal(text, "0 0.1 -2\n1 1e-05 -1\n2 0.3333333333333333 0\n3 1e+300 1\n"
			    "4 -0.0 2\n5 5e-324 3\n6 100.0 4\n7 nan 5\n8 inf 6\n"
			    "9 -inf 7\n10 0.30000000000000004 8\n11 9007199254740992.0 9\n");
	struct mlf_metric *hist = NULL;
	size_t n = 0;
	assert_int_equal(mlf_file_store_ops.get_metric_history(s.impl, run.run_id, "m/x", &hist, &n, &err), 0);
	assert_int_equal(n, nv);
	for (size_t i = 0; i < nv; i++) {
		if (isnan(values[i]))
			assert_true(isnan(hist[i].value));
		else
			assert_memory_equal(&hist[i].value, &values[i], sizeof(double));
	}
	mlf_metrics_release(hist, n);
	free(text);
	free(path);
	mlf_run_release(&run);
	close_store(&s);
}

static void test_guards(void **state)
{
	(void)state;
	struct store s;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_run run;
	char *id = NULL;
	open_store(&s);
	assert_int_equal(mlf_file_store_ops.create_run(s.impl, "0", "r", "u", 1000, NULL, &run, &err), 0);
	static const char *const bad_keys[] = { "../x", "/abs", "a//b", "a/./b", "a/", ".", "a/.." };
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		struct mlf_kv p = { (char *)bad_keys[i], (char *)"v" };
		assert_int_equal(mlf_file_store_ops.log_batch(s.impl, run.run_id, NULL, 0, &p, 1, NULL, 0, &err), -1);
	}
	struct mlf_kv p1 = { (char *)"k", (char *)"v1" }, p2 = { (char *)"k", (char *)"v2" };
	assert_int_equal(mlf_file_store_ops.log_batch(s.impl, run.run_id, NULL, 0, &p1, 1, NULL, 0, &err), 0);
	assert_int_equal(mlf_file_store_ops.log_batch(s.impl, run.run_id, NULL, 0, &p1, 1, NULL, 0, &err), 0);
	assert_int_equal(mlf_file_store_ops.log_batch(s.impl, run.run_id, NULL, 0, &p2, 1, NULL, 0, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "'k'"));

	assert_int_equal(mlf_file_store_ops.create_experiment(s.impl, "e", "../0", NULL, &id, &err), -1);
	assert_int_equal(mlf_file_store_ops.create_experiment(s.impl, "e", "_x", NULL, &id, &err), -1);
	assert_int_equal(mlf_file_store_ops.create_experiment(s.impl, "Default", "9", NULL, &id, &err), -1);
	assert_int_equal(err.kind, MLF_ERR_EXISTS);
	assert_int_equal(mlf_file_store_ops.create_experiment(s.impl, "e", NULL, NULL, &id, &err), 0);
	assert_int_equal(strlen(id), 18);
	free(id);
	struct mlf_run bad;
	assert_int_equal(mlf_file_store_ops.get_run(s.impl, "../../etc", &bad, &err), -1);
	assert_int_equal(mlf_file_store_ops.get_run(s.impl, "ffffffffffffffffffffffffffffffff", &bad, &err), -1);
	assert_int_equal(err.kind, MLF_ERR_NOT_FOUND);
	mlf_run_release(&run);
	close_store(&s);
}

static void test_local_artifacts(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_artifact_list l;
	char *dir = make_tmp();
	char *src = mlf_xasprintf("%s/src", dir), *sub = mlf_xasprintf("%s/src/d", dir);
	char *f1 = mlf_xasprintf("%s/src/a.txt", dir), *f2 = mlf_xasprintf("%s/src/d/b.txt", dir);
	assert_int_equal(mlf_mkdir_p(sub, 0777, &err), 0);
	assert_int_equal(mlf_write_file_atomic(f1, "abc", 3, &err), 0);
	assert_int_equal(mlf_write_file_atomic(f2, "hello", 5, &err), 0);

	assert_int_equal(mlf_local_artifacts_log("art", dir, src, "x/y", &err), 0);
	assert_int_equal(mlf_local_artifacts_log("art", dir, f1, NULL, &err), 0);
	assert_int_equal(mlf_local_artifacts_log("art", dir, f1, "../up", &err), -1);
	assert_int_equal(mlf_local_artifacts_log("art", dir, f1, "/abs", &err), -1);
	assert_int_equal(mlf_local_artifacts_list("art", dir, NULL, &l, &err), 0);
	const char *want[] = { "a.txt", "x", "x/y", "x/y/src", "x/y/src/a.txt", "x/y/src/d", "x/y/src/d/b.txt" };
	const int64_t sizes[] = { 3, -1, -1, -1, 3, -1, 5 };
	assert_int_equal(l.n, 7);
	for (size_t i = 0; i < l.n; i++) {
		assert_string_equal(l.items[i].path, want[i]);
		assert_int_equal(l.items[i].size, sizes[i]);
		assert_int_equal(l.items[i].is_dir, sizes[i] < 0);
	}
	mlf_artifact_list_release(&l);
	assert_int_equal(mlf_local_artifacts_list("art", dir, "x/y/src/d", &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].path, "x/y/src/d/b.txt");
	mlf_artifact_list_release(&l);
	assert_int_equal(mlf_local_artifacts_list("art", dir, "nothing", &l, &err), 0);
	assert_int_equal(l.n, 0);

	char *dst = mlf_xasprintf("%s/out.txt", dir), *data = NULL;
	assert_int_equal(mlf_local_artifacts_download("art", dir, "x/y/src/d/b.txt", dst, &err), 0);
	assert_int_equal(mlf_read_file(dst, &data, NULL, &err), 0);
	assert_string_equal(data, "hello");
	assert_int_equal(mlf_local_artifacts_download("art", dir, "missing", dst, &err), -1);
	assert_int_equal(err.kind, MLF_ERR_NOT_FOUND);
	assert_int_equal(mlf_local_artifacts_download("art", dir, "../src/a.txt", dst, &err), -1);
	free(data);
	free(dst);
	mlf_remove_tree(dir, NULL);
	free(dir);
	free(src);
	free(sub);
	free(f1);
	free(f2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_round_trip),
		cmocka_unit_test(test_yaml_plain_and_torn),
		cmocka_unit_test(test_metric_text),
		cmocka_unit_test(test_guards),
		cmocka_unit_test(test_local_artifacts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
