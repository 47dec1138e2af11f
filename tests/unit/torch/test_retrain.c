/*
 * retrain-run's decisions that need no tracking store and no training
 * (lib/retrain/): the promotion rule's names, the dataset document rebuilt
 * from a version folder, which unfinished version a skip document should
 * retry, and which one `--resume latest` means.
 */
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
#include "mlf/torch/retrain.h"
#include "../workspace_fixture.h"

static struct mlf_config cfg;

static int setup(void **state)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (workspace_setup(state))
		return -1;
	return mlf_config_load(&cfg, workspace, NULL, &err);
}

static int teardown(void **state)
{
	(void)state;
	mlf_config_release(&cfg);
	return workspace_teardown(state);
}

static void test_promote_names(void **state)
{
	(void)state;
	enum mlf_promote p;
	assert_int_equal(mlf_promote_parse("always", &p), 0);
	assert_int_equal(p, MLF_PROMOTE_ALWAYS);
	assert_int_equal(mlf_promote_parse("if-better", &p), 0);
	assert_int_equal(p, MLF_PROMOTE_IF_BETTER);
	assert_int_equal(mlf_promote_parse("never", &p), 0);
	assert_int_equal(p, MLF_PROMOTE_NEVER);
	assert_int_equal(mlf_promote_parse("if_better", &p), -1);
	assert_int_equal(mlf_promote_parse("", &p), -1);
	assert_int_equal(mlf_promote_parse(NULL, &p), -1);
}

static void make_version(const char *name, const char *meta)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "data/%s/data.yaml", name);
	workspace_put(rel, "path: .\ntrain: train.txt\nval: val.txt\nnames: [cat]\n");
	snprintf(rel, sizeof(rel), "data/%s/corrections_applied.json", name);
	workspace_put(rel, "{}");
	snprintf(rel, sizeof(rel), "data/%s/retraining_dataset_metadata.json", name);
	workspace_put(rel, meta);
}

static void test_dataset_document(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	make_version("retrain_v3", "{\"digest\": \"sha256:ab\", \"counts\": {\"corrections\": 4}}");
	char *dir = mlf_path_join(workspace, "data/retrain_v3/");
	json_t *doc = mlf_retrain_dataset_document(dir, &err);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")), "mlf.dataset");
	assert_string_equal(json_string_value(json_object_get(doc, "version")), "v3");
	assert_string_equal(json_string_value(json_object_get(doc, "name")), "retrain_v3");
	assert_string_equal(json_string_value(json_object_get(doc, "digest")), "sha256:ab");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "counts"), "corrections")), 4);
	/* the trailing slash is not part of the name, and paths are absolute */
	assert_non_null(strstr(json_string_value(json_object_get(doc, "data_yaml")), "/retrain_v3/data.yaml"));
	assert_int_equal(json_string_value(json_object_get(doc, "path"))[0], '/');
	json_decref(doc);
	free(dir);
}

static void test_dataset_document_refusals(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	char *missing = mlf_path_join(workspace, "data/retrain_v9");
	assert_null(mlf_retrain_dataset_document(missing, &err));
	assert_int_equal(err.status, MLF_EX_NOINPUT);
	workspace_put("data/other/data.yaml", "names: [cat]\n");
	char *other = mlf_path_join(workspace, "data/other");
	assert_null(mlf_retrain_dataset_document(other, &err));
	assert_int_equal(err.status, MLF_EX_USAGE);
	make_version("retrain_v4", "{not json");
	char *bad = mlf_path_join(workspace, "data/retrain_v4");
	assert_null(mlf_retrain_dataset_document(bad, &err));
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "retraining_dataset_metadata.json"));
	make_version("retrain_v5", "{\"counts\": {}}");
	char *nodigest = mlf_path_join(workspace, "data/retrain_v5");
	assert_null(mlf_retrain_dataset_document(nodigest, &err));
	assert_non_null(strstr(err.msg, "no digest"));
	free(missing);
	free(other);
	free(bad);
	free(nodigest);
}

static void state_file(long n, const char *status)
{
	char rel[128], text[256];
	snprintf(rel, sizeof(rel), "runs/train/retrain_v%ld/mlf_run.json", n);
	snprintf(text, sizeof(text), "{\"kind\": \"mlf.run_state\", \"schema_version\": 1, "
		 "\"status\": \"%s\", \"run_id\": \"r%ld\"}", status, n);
	workspace_put(rel, text);
}

static long retry_of(const char *previous, int *resume)
{
	json_t *skip = json_pack("{s:s, s:s?}", "kind", "mlf.skip", "previous_version", previous);
	const char *why = NULL;
	long n = mlf_retrain_unfinished_previous(&cfg, skip, resume, &why);
	if (n)
		assert_non_null(why);
	json_decref(skip);
	return n;
}

static void test_skip_retries_unfinished_versions(void **state)
{
	(void)state;
	int resume = -1;
	assert_int_equal(retry_of(NULL, &resume), 0);            /* first skip ever */
	assert_int_equal(retry_of("v1", &resume), 0);            /* no dataset, no state */
	make_version("retrain_v1", "{\"digest\": \"sha256:01\"}");
	assert_int_equal(retry_of("v1", &resume), 1);            /* never started */
	assert_int_equal(resume, 0);
	state_file(1, "KILLED");
	assert_int_equal(retry_of("v1", &resume), 1);
	assert_int_equal(resume, 1);
	state_file(1, "FAILED");
	assert_int_equal(retry_of("v1", &resume), 1);
	assert_int_equal(resume, 1);
	/* RUNNING, and the lock held by us, the caller, as retrain-run does: the process died */
	state_file(1, "RUNNING");
	struct mlf_version_paths p;
	struct mlf_error err = MLF_ERROR_INIT;
	int fd = -1;
	mlf_version_paths_init(&p, &cfg, 1);
	assert_int_equal(mlf_lock(p.lock, 0, &fd, &err), 0);
	assert_int_equal(retry_of("v1", &resume), 1);
	assert_int_equal(resume, 1);
	mlf_unlock(fd);
	mlf_version_paths_release(&p);
	state_file(1, "FINISHED");
	assert_int_equal(retry_of("v1", &resume), 0);
	state_file(1, "KILLED");
	workspace_put("models/retrained_v1.pt", "model");                  /* published: the skip stands */
	assert_int_equal(retry_of("v1", &resume), 0);
	assert_int_equal(retry_of("garbage", &resume), 0);
}

static void test_resume_latest(void **state)
{
	(void)state;
	assert_int_equal(mlf_retrain_latest_unfinished(&cfg), 0);
	state_file(1, "FINISHED");
	state_file(2, "KILLED");
	state_file(3, "FINISHED");
	assert_int_equal(mlf_retrain_latest_unfinished(&cfg), 2);
	state_file(12, "FAILED");
	assert_int_equal(mlf_retrain_latest_unfinished(&cfg), 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promote_names),
		cmocka_unit_test_setup_teardown(test_dataset_document, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataset_document_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_retries_unfinished_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_latest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
