/* Model versions in a workspace: parsing, the latest one, and its paths (lib/config/versions.c). */
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
#include "workspace_fixture.h"

static void touch(const char *dir, const char *name)
{
	char *path = mlf_path_join(dir, name);
	assert_int_equal(mlf_write_file_atomic(path, "x", 1, NULL), 0);
	free(path);
}

static void test_parse_accepts_every_spelling(void **state)
{
	(void)state;
	static const char *const ok[] = { "3", "v3", "retrain_v3", "retrained_v3", "03", "v003" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long n = 0;
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_version_parse(ok[i], &n, &err))
			fail_msg("'%s' refused: %s", ok[i], err.msg);
		assert_int_equal(n, 3);
	}
	long n = 0;
	assert_int_equal(mlf_version_parse("123456789", &n, NULL), 0);
	assert_int_equal(n, 123456789);
}

static void test_parse_refuses_the_rest(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "v", "0", "v0", "-1", "+3", "3a", "v3.pt", "V3", " 3", "3 ", "retrained_3",
		"retrained_v", "latest", "1234567890", "x3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long n = -7;
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_version_parse(bad[i], &n, &err) != -1)
			fail_msg("'%s' accepted as %ld", bad[i], n);
		assert_int_equal(err.status, MLF_EX_USAGE);
		/* The message quotes what was given, so the user sees the typo. */
		char *quoted = mlf_xasprintf("'%s'", bad[i]);
		assert_non_null(strstr(err.msg, quoted));
		free(quoted);
	}
	/* No error buffer is fine too. */
	long n;
	assert_int_equal(mlf_version_parse("nope", &n, NULL), -1);
}

static void test_latest_without_models(void **state)
{
	(void)state;
	struct mlf_config cfg;
	workspace_load(&cfg, NULL);
	/* No models folder at all. */
	assert_int_equal(mlf_version_latest(&cfg), 0);
	char *models = mlf_path_join(workspace, "models");
	assert_int_equal(mlf_mkdir_p(models, 0777, NULL), 0);
	touch(models, "best_improved.pt");
	touch(models, "retrained_v4_metadata.json");
	touch(models, "retrained_v5.safetensors");
	assert_int_equal(mlf_version_latest(&cfg), 0);
	free(models);
	mlf_config_release(&cfg);
}

static void test_latest_is_numeric_and_picky(void **state)
{
	(void)state;
	struct mlf_config cfg;
	char *models = mlf_path_join(workspace, "models");
	assert_int_equal(mlf_mkdir_p(models, 0777, NULL), 0);
	touch(models, "retrained_v1.pt");
	touch(models, "retrained_v3.pt");
	touch(models, "retrained_v10.pt");   /* 10 > 9 > 3: not a string comparison */
	touch(models, "retrained_v9.pt");
	/* Not versions: a temporary copy, other extensions, bad numbers. */
	touch(models, "retrained_v99.pt.tmp.123.0");
	touch(models, "retrained_v50.safetensors");
	touch(models, "retrained_v60_metadata.json");
	touch(models, "retrained_vx.pt");
	touch(models, "retrained_v0.pt");
	touch(models, "retrained_v.pt");
	touch(models, "retrained_v-70.pt");
	touch(models, "my_retrained_v80.pt");
	workspace_load(&cfg, NULL);
	assert_int_equal(mlf_version_latest(&cfg), 10);
	mlf_config_release(&cfg);
	free(models);
}

static void test_latest_follows_paths_models(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	char *other = mlf_path_join(workspace, "elsewhere");
	assert_int_equal(mlf_mkdir_p(other, 0777, NULL), 0);
	touch(other, "retrained_v7.pt");
	workspace_load(&cfg, NULL);
	assert_int_equal(mlf_config_set(&cfg, "paths.models", "elsewhere", "test", &err), 0);
	assert_int_equal(mlf_version_latest(&cfg), 7);
	mlf_config_release(&cfg);
	free(other);
}

static void expect_path(const char *got, const char *rel)
{
	char *want = mlf_path_join(workspace, rel);
	assert_string_equal(got, want);
	free(want);
}

static void test_paths_defaults(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_version_paths p;
	workspace_load(&cfg, NULL);
	mlf_version_paths_init(&p, &cfg, 4);
	assert_int_equal(p.n, 4);
	assert_string_equal(p.name, "retrained_v4");
	expect_path(p.models_dir, "models");
	expect_path(p.model_pt, "models/retrained_v4.pt");
	expect_path(p.metadata, "models/retrained_v4_metadata.json");
	expect_path(p.safetensors, "models/retrained_v4.safetensors");
	expect_path(p.train_root, "runs/train");
	expect_path(p.quick_pt, "runs/train/retrained_v4.pt");
	expect_path(p.quick_metadata, "runs/train/retrained_v4_metadata.json");
	expect_path(p.train_dir, "runs/train/retrain_v4");
	expect_path(p.best_pt, "runs/train/retrain_v4/weights/best.pt");
	expect_path(p.last_pt, "runs/train/retrain_v4/weights/last.pt");
	expect_path(p.state, "runs/train/retrain_v4/mlf_run.json");
	expect_path(p.lock, "runs/train/.retrain-run.lock");
	mlf_version_paths_release(&p);
	assert_null(p.name);
	assert_null(p.lock);
	/* Releasing twice is harmless. */
	mlf_version_paths_release(&p);
	mlf_config_release(&cfg);
}

static void test_paths_configured(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_version_paths p;
	struct mlf_error err = MLF_ERROR_INIT;
	workspace_load(&cfg, NULL);
	assert_int_equal(mlf_config_set(&cfg, "paths.models", "/srv/models", "test", &err), 0);
	assert_int_equal(mlf_config_set(&cfg, "paths.runs", "out/runs", "test", &err), 0);
	mlf_version_paths_init(&p, &cfg, 12);
	assert_string_equal(p.name, "retrained_v12");
	assert_string_equal(p.model_pt, "/srv/models/retrained_v12.pt");
	assert_string_equal(p.metadata, "/srv/models/retrained_v12_metadata.json");
	expect_path(p.quick_pt, "out/runs/train/retrained_v12.pt");
	expect_path(p.best_pt, "out/runs/train/retrain_v12/weights/best.pt");
	mlf_version_paths_release(&p);
	mlf_config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_every_spelling),
		cmocka_unit_test(test_parse_refuses_the_rest),
		cmocka_unit_test_setup_teardown(test_latest_without_models, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_latest_is_numeric_and_picky, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_latest_follows_paths_models, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_paths_defaults, workspace_setup, workspace_teardown),
		cmocka_unit_test_setup_teardown(test_paths_configured, workspace_setup, workspace_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
