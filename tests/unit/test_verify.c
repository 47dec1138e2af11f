/* Verification of a retraining without a live run: inputs, failures, the report (lib/check/verify.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mlf/config.h"
#include "mlf/base.h"
#include "mlf/check.h"
#include "workspace_fixture.h"

static int kind_of(const char *text, struct mlf_error *err)
{
	json_t *doc = json_loads(text, JSON_DECODE_ANY, NULL);
	assert_non_null(doc);
	int rc = mlf_verify_document_kind(doc, err);
	json_decref(doc);
	return rc;
}

static void test_document_kinds(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(kind_of("{\"kind\":\"mlf.skip\",\"reason\":\"few\"}", &err), 1);
	assert_int_equal(kind_of("{\"kind\":\"mlf.run\",\"success\":true}", &err), 0);

	assert_int_equal(kind_of("{\"kind\":\"mlf.dataset\"}", &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "retrain-run"));

	mlf_error_clear(&err);
	assert_int_equal(kind_of("{\"kind\":\"mlf.validation\"}", &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "mlf.validation"));

	mlf_error_clear(&err);
	assert_int_equal(kind_of("{\"success\":true}", &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "kind"));

	mlf_error_clear(&err);
	assert_int_equal(kind_of("[1, 2]", &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	mlf_error_clear(&err);
	assert_int_equal(kind_of("{\"kind\": 3}", &err), -1);
}

static void test_no_experiment_is_a_config_error(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_verification v;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_verify_options o = { .version = 1 };
	workspace_load(&cfg, "paths:\n  models: models\n");
	o.cfg = &cfg;
	assert_int_equal(mlf_verify(&o, &v, &err), -1);
	assert_int_equal(err.status, MLF_EX_CONFIG);
	assert_non_null(strstr(err.msg, "experiment_id"));
	mlf_verification_release(&v);
	mlf_config_release(&cfg);
}

static void test_unknown_version_is_66(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_verification v;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_verify_options o = { .version = 4 };
	workspace_load(&cfg, "experiment_id: \"1\"\n");
	o.cfg = &cfg;
	assert_int_equal(mlf_verify(&o, &v, &err), -1);
	assert_int_equal(err.status, MLF_EX_NOINPUT);
	assert_non_null(strstr(err.msg, "retrained_v4"));
	mlf_verification_release(&v);
	mlf_config_release(&cfg);
}

static void test_document_without_version_is_65(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_verification v;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_verify_options o = { 0 };
	json_t *doc = json_pack("{s:s, s:b}", "kind", "mlf.run", "success", 1);
	workspace_load(&cfg, "experiment_id: \"1\"\n");
	o.cfg = &cfg;
	o.doc = doc;
	assert_int_equal(mlf_verify(&o, &v, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "new_version"));
	mlf_verification_release(&v);
	json_decref(doc);
	mlf_config_release(&cfg);
}

static const struct mlf_verify_check *find(const struct mlf_verification *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->checks[i].name, name))
			return &v->checks[i];
	return NULL;
}

/*
 * A run that failed before it started: reported as a problem, every other
 * check still made (here: the files, which are missing), status 1.
 */
static void test_failed_run_document(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_verification v;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_verify_options o = { 0 };
	json_t *doc = json_pack("{s:s, s:i, s:b, s:n, s:n, s:s, s:s, s:s}", "kind", "mlf.run",
				"schema_version", 1, "success", 0, "status", "run_id",
				"experiment_id", "1", "new_version", "v3",
				"error", "base model not found");
	/* A store that does not exist: its check fails, nothing else breaks. */
	workspace_load(&cfg, "experiment_id: \"1\"\ntracking_uri: sqlite:///no/such/dir/mlflow.db\n");
	o.cfg = &cfg;
	o.doc = doc;
	assert_int_equal(mlf_verify(&o, &v, &err), MLF_EX_CHECK);
	assert_int_equal(v.status, MLF_EX_CHECK);
	assert_string_equal(v.version, "v3");
	assert_null(v.run_id);
	assert_string_equal(v.experiment_id, "1");

	const struct mlf_verify_check *c = find(&v, "run_document");
	assert_non_null(c);
	assert_false(c->ok);
	assert_non_null(strstr(c->detail, "the run did not finish: base model not found"));
	c = find(&v, "file:models/retrained_v3.pt");
	assert_non_null(c);
	assert_false(c->ok);
	assert_non_null(strstr(c->detail, "is missing"));
	assert_non_null(find(&v, "tracking_store"));
	assert_false(find(&v, "tracking_store")->ok);

	json_t *report = mlf_verification_json(&v);
	assert_string_equal(json_string_value(json_object_get(report, "kind")), "mlf.verification");
	assert_int_equal(json_integer_value(json_object_get(report, "schema_version")), 1);
	assert_true(json_is_false(json_object_get(report, "ok")));
	assert_string_equal(json_string_value(json_object_get(report, "version")), "v3");
	assert_true(json_is_null(json_object_get(report, "run_id")));
	json_t *problems = json_object_get(report, "problems");
	assert_int_equal(json_array_size(problems), mlf_verification_failed(&v));
	assert_non_null(strstr(json_string_value(json_array_get(problems, 0)),
			       "the run did not finish"));
	json_t *checks = json_object_get(report, "checks");
	assert_int_equal(json_array_size(checks), v.n);
	json_t *first = json_array_get(checks, 0);
	assert_non_null(json_object_get(first, "name"));
	assert_true(json_is_boolean(json_object_get(first, "ok")));
	assert_non_null(json_object_get(first, "detail"));
	json_decref(report);

	mlf_verification_release(&v);
	assert_null(v.checks);
	json_decref(doc);
	mlf_config_release(&cfg);
}

/* One rule for which exit status wins, whichever program meets the failures. */
static void test_status_ranking(void **state)
{
	(void)state;
	assert_int_equal(mlf_status_worse(0, 0), 0);
	assert_int_equal(mlf_status_worse(0, MLF_EX_CHECK), MLF_EX_CHECK);
	assert_int_equal(mlf_status_worse(MLF_EX_CHECK, 0), MLF_EX_CHECK);
	assert_int_equal(mlf_status_worse(MLF_EX_CHECK, MLF_EX_CONFIG), MLF_EX_CONFIG);
	assert_int_equal(mlf_status_worse(MLF_EX_CONFIG, MLF_EX_UNAVAILABLE), MLF_EX_UNAVAILABLE);
	assert_int_equal(mlf_status_worse(MLF_EX_UNAVAILABLE, MLF_EX_CONFIG), MLF_EX_UNAVAILABLE);
	assert_int_equal(mlf_status_worse(MLF_EX_UNAVAILABLE, MLF_EX_CHECK), MLF_EX_UNAVAILABLE);
	/* alike in rank: the first stays */
	assert_int_equal(mlf_status_worse(MLF_EX_CHECK, MLF_EX_NOINPUT), MLF_EX_CHECK);
	assert_int_equal(mlf_status_worse(MLF_EX_NOINPUT, MLF_EX_CHECK), MLF_EX_NOINPUT);

	/* mlf-validate's report follows it; passed checks do not count */
	struct mlf_check checks[] = {
		{ .ok = 0, .status = MLF_EX_CHECK }, { .ok = 1, .status = MLF_EX_UNAVAILABLE },
		{ .ok = 0, .status = MLF_EX_CONFIG }, { .ok = 0, .status = MLF_EX_CHECK },
	};
	struct mlf_report r = { checks, 4 };
	assert_int_equal(mlf_report_status(&r), MLF_EX_CONFIG);
	checks[1].ok = 0;
	assert_int_equal(mlf_report_status(&r), MLF_EX_UNAVAILABLE);
	r.n = 1;
	assert_int_equal(mlf_report_status(&r), MLF_EX_CHECK);
	r.n = 0;
	assert_int_equal(mlf_report_status(&r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document_kinds),
		cmocka_unit_test(test_status_ranking),
		cmocka_unit_test_setup_teardown(test_no_experiment_is_a_config_error, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_version_is_66, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_document_without_version_is_65, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_failed_run_document, workspace_setup, workspace_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
