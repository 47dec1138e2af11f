/* Locations of a model version and the registry helpers (lib/check/locations.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mlf/base.h"
#include "mlf/config.h"
#include "mlf/check.h"
#include "workspace_fixture.h"

/* sha256("abc") */
#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* ---- registry helpers ---------------------------------------------------- */

static int cmp(const char *a, const char *b)
{
	int c = 99;
	assert_int_equal(mlf_registry_version_cmp(a, b, &c), 0);
	return c;
}

static void test_version_cmp_is_numeric(void **state)
{
	(void)state;
	assert_int_equal(cmp("3", "12"), -1);
	assert_int_equal(cmp("12", "3"), 1);
	assert_int_equal(cmp("9", "10"), -1);
	assert_int_equal(cmp("7", "7"), 0);
	assert_int_equal(cmp("007", "7"), 0);
	assert_int_equal(cmp("0", "000"), 0);
	assert_int_equal(cmp("100", "099"), 1);
	/* Longer than any integer type: still ordered, no overflow. */
	assert_int_equal(cmp("123456789012345678901234567890", "99999999999999999999"), 1);
	assert_int_equal(cmp("123456789012345678901234567890", "123456789012345678901234567891"), -1);
}

static void test_version_cmp_refuses_non_numbers(void **state)
{
	(void)state;
	int c = 42;
	static const char *const bad[] = { "", "v1", "1a", "-1", "+1", " 1", "1.0" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mlf_registry_version_cmp(bad[i], "1", &c), -1);
		assert_int_equal(mlf_registry_version_cmp("1", bad[i], &c), -1);
	}
	assert_int_equal(mlf_registry_version_cmp(NULL, "1", &c), -1);
	assert_int_equal(c, 42);
}

static void test_alias_judge(void **state)
{
	(void)state;
	assert_int_equal(mlf_alias_judge("3", "3"), MLF_ALIAS_HERE);
	assert_int_equal(mlf_alias_judge("3", "4"), MLF_ALIAS_MOVED_ON);
	assert_int_equal(mlf_alias_judge("9", "10"), MLF_ALIAS_MOVED_ON);
	assert_int_equal(mlf_alias_judge("10", "9"), MLF_ALIAS_OLDER);
	assert_int_equal(mlf_alias_judge("3", "1"), MLF_ALIAS_OLDER);
	assert_int_equal(mlf_alias_judge("3", NULL), MLF_ALIAS_NOWHERE);
	assert_int_equal(mlf_alias_judge("3", "three"), MLF_ALIAS_INVALID);
	assert_int_equal(mlf_alias_judge("3", ""), MLF_ALIAS_INVALID);
}

/* ---- one location ---------------------------------------------------------- */

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(mlf_location_kind_name(MLF_LOC_MODELS), "models");
	assert_string_equal(mlf_location_kind_name(MLF_LOC_QUICK), "quick_access");
	assert_string_equal(mlf_location_kind_name(MLF_LOC_TRAINING), "training");
	assert_string_equal(mlf_location_kind_name(MLF_LOC_SAFETENSORS), "safetensors");
	assert_string_equal(mlf_location_kind_name(MLF_LOC_ARTIFACT), "mlflow_artifact");
	assert_string_equal(mlf_location_kind_name(MLF_LOC_MLFLOW_MODEL), "mlflow_model");
	assert_true(mlf_location_compared(MLF_LOC_MODELS));
	assert_true(mlf_location_compared(MLF_LOC_MLFLOW_MODEL));
	assert_true(mlf_location_remote(MLF_LOC_MLFLOW_MODEL));
	assert_false(mlf_location_remote(MLF_LOC_TRAINING));
	assert_true(mlf_location_compared(MLF_LOC_ARTIFACT));
	assert_false(mlf_location_compared(MLF_LOC_SAFETENSORS));
}

static int is_rfc3339_utc(const char *s)
{
	/* YYYY-MM-DDTHH:MM:SSZ */
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	return 1;
}

static void test_probe_file(void **state)
{
	(void)state;
	struct mlf_location loc;
	workspace_put("models/retrained_v1.pt", "abc");
	char *path = mlf_path_join(workspace, "models/retrained_v1.pt");
	mlf_location_probe_file(&loc, MLF_LOC_MODELS, path);
	assert_int_equal(loc.kind, MLF_LOC_MODELS);
	assert_string_equal(loc.where, path);
	assert_int_equal(loc.exists, 1);
	assert_int_equal(loc.size, 3);
	assert_string_equal(loc.sha256, ABC_SHA);
	assert_true(is_rfc3339_utc(loc.mtime));
	assert_null(loc.error);
	mlf_location_release(&loc);
	free(path);

	path = mlf_path_join(workspace, "models/retrained_v2.pt");
	mlf_location_probe_file(&loc, MLF_LOC_QUICK, path);
	assert_int_equal(loc.exists, 0);
	assert_string_equal(loc.sha256, "");
	assert_null(loc.error);
	mlf_location_release(&loc);
	free(path);

	/* A folder where a file should be: there, but not a model. */
	mlf_location_probe_file(&loc, MLF_LOC_TRAINING, workspace);
	assert_int_equal(loc.exists, 1);
	assert_non_null(loc.error);
	assert_non_null(strstr(loc.error, "not a regular file"));
	mlf_location_release(&loc);
}

/* ---- a whole version, without a tracking store ------------------------------ */

static void test_locate_nothing_is_66(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_locations l;
	struct mlf_error err = MLF_ERROR_INIT;
	workspace_load(&cfg, NULL);
	assert_int_equal(mlf_locate(&cfg, 5, &l, &err), -1);
	assert_int_equal(err.status, MLF_EX_NOINPUT);
	assert_non_null(strstr(err.msg, "retrained_v5"));
	mlf_locations_release(&l);
	mlf_config_release(&cfg);
}

static void test_locate_local_copies_without_run(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_locations l;
	struct mlf_error err = MLF_ERROR_INIT;
	workspace_put("models/retrained_v2.pt", "abc");
	workspace_put("runs/train/retrained_v2.pt", "abc");
	workspace_put("runs/train/retrain_v2/weights/best.pt", "abd");
	/* Metadata without a run: nothing to ask the store, so none is opened. */
	workspace_put("models/retrained_v2_metadata.json",
	    "{\"format\":\"mlf.model\",\"version\":\"v2\",\"sha256\":\"" ABC_SHA "\"}");
	workspace_load(&cfg, NULL);
	assert_int_equal(mlf_locate(&cfg, 2, &l, &err), MLF_EX_CHECK);
	assert_int_equal(l.status, MLF_EX_CHECK);
	assert_false(l.agree);
	assert_false(l.deployable);
	assert_string_equal(l.metadata_sha256, ABC_SHA);
	assert_int_equal(l.loc[MLF_LOC_MODELS].exists, 1);
	assert_int_equal(l.loc[MLF_LOC_SAFETENSORS].exists, 0);
	assert_string_equal(l.loc[MLF_LOC_QUICK].sha256, ABC_SHA);
	assert_string_not_equal(l.loc[MLF_LOC_TRAINING].sha256, ABC_SHA);
	assert_null(l.run_id);
	assert_non_null(l.loc[MLF_LOC_ARTIFACT].error);

	json_t *doc = mlf_locations_json(&l);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")), "mlf.locations");
	assert_int_equal(json_integer_value(json_object_get(doc, "schema_version")), 1);
	assert_string_equal(json_string_value(json_object_get(doc, "version")), "v2");
	assert_string_equal(json_string_value(json_object_get(doc, "name")), "retrained_v2");
	assert_true(json_is_false(json_object_get(doc, "agree")));
	assert_true(json_is_false(json_object_get(doc, "deployable")));
	assert_true(json_is_null(json_object_get(doc, "sha256")));
	assert_true(json_is_null(json_object_get(doc, "run")));
	assert_true(json_is_null(json_object_get(doc, "registry")));
	json_t *locs = json_object_get(doc, "locations");
	/* every kind but mlflow_model: with no run, no MLflow Model is known to list */
	assert_int_equal(json_array_size(locs), MLF_LOC_COUNT - 1);
	assert_null(l.loc[MLF_LOC_MLFLOW_MODEL].where);
	json_t *models = json_array_get(locs, 0);
	assert_string_equal(json_string_value(json_object_get(models, "kind")), "models");
	assert_true(json_is_true(json_object_get(models, "exists")));
	assert_int_equal(json_integer_value(json_object_get(models, "size")), 3);
	assert_string_equal(json_string_value(json_object_get(models, "sha256")), ABC_SHA);
	assert_non_null(json_object_get(models, "mtime"));
	json_t *st = json_array_get(locs, 3);
	assert_true(json_is_false(json_object_get(st, "exists")));
	assert_null(json_object_get(st, "sha256"));
	json_t *art = json_array_get(locs, 4);
	assert_string_equal(json_string_value(json_object_get(art, "kind")), "mlflow_artifact");
	assert_non_null(json_object_get(art, "uri"));
	json_decref(doc);
	mlf_locations_release(&l);
	mlf_config_release(&cfg);
}

/* The run named by the metadata cannot be read: local copies still listed, not 0. */
static void test_locate_store_missing(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_locations l;
	struct mlf_error err = MLF_ERROR_INIT;
	workspace_put("mlf.yaml", "tracking_uri: sqlite:///no/such/mlflow.db\nexperiment_id: \"1\"\n");
	workspace_put("models/retrained_v1.pt", "abc");
	workspace_put("models/retrained_v1_metadata.json",
	    "{\"format\":\"mlf.model\",\"sha256\":\"" ABC_SHA "\",\"run\":{\"run_id\":"
	    "\"0123456789abcdef0123456789abcdef\",\"experiment_id\":\"1\"}}");
	workspace_load(&cfg, NULL);
	int status = mlf_locate(&cfg, 1, &l, &err);
	assert_true(status == MLF_EX_CHECK || status == MLF_EX_UNAVAILABLE);
	assert_string_equal(l.run_id, "0123456789abcdef0123456789abcdef");
	assert_non_null(l.run_error);
	assert_int_equal(l.loc[MLF_LOC_ARTIFACT].exists, -1);
	assert_int_equal(l.loc[MLF_LOC_MODELS].exists, 1);
	json_t *doc = mlf_locations_json(&l);
	json_t *run = json_object_get(doc, "run");
	assert_string_equal(json_string_value(json_object_get(run, "run_id")),
			    "0123456789abcdef0123456789abcdef");
	assert_non_null(json_string_value(json_object_get(run, "error")));
	json_decref(doc);
	mlf_locations_release(&l);
	mlf_config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_cmp_is_numeric),
		cmocka_unit_test(test_version_cmp_refuses_non_numbers),
		cmocka_unit_test(test_alias_judge),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test_setup_teardown(test_probe_file, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_locate_nothing_is_66, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_locate_local_copies_without_run, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_locate_store_missing, workspace_setup, workspace_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
