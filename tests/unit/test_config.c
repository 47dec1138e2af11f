/* Configuration: precedence, errors naming key and line, the example file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mlf/config.h"
#include "mlf/base.h"

static char workspace[256];

static int setup(void **state)
{
	(void)state;
	snprintf(workspace, sizeof(workspace), "/tmp/mlf-test-config.XXXXXX");
	if (!mkdtemp(workspace))
		return -1;
	/* The test's own environment must not leak in. */
	unsetenv("MLFLOW_TRACKING_URI");
	unsetenv("MLFLOW_EXPERIMENT_ID");
	unsetenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES");
	unsetenv("MLF_CONFIG");
	unsetenv("MLF_WORKSPACE");
	unsetenv("MLF_PATHS_BASE_MODEL");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mlf_remove_tree(workspace, NULL);
	return 0;
}

static void write_config(const char *text)
{
	char *path = mlf_path_join(workspace, "mlf.yaml");
	assert_int_equal(mlf_write_file_atomic(path, text, strlen(text), NULL), 0);
	free(path);
}

/* Load and expect failure whose message holds every needle. */
static void expect_error(const char *yaml, const char *n1, const char *n2)
{
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	write_config(yaml);
	assert_int_equal(mlf_config_load(&cfg, workspace, NULL, &err), -1);
	assert_int_equal(err.status, MLF_EX_CONFIG);
	if (!strstr(err.msg, n1) || (n2 && !strstr(err.msg, n2)))
		fail_msg("message '%s' lacks '%s' / '%s'", err.msg, n1, n2 ? n2 : "");
	mlf_config_release(&cfg);
}

static void test_defaults(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	unlink("/nonexistent");
	char *path = mlf_path_join(workspace, "mlf.yaml");
	unlink(path);
	free(path);
	assert_int_equal(mlf_config_load(&cfg, workspace, NULL, &err), 0);
	assert_null(cfg.file);
	assert_string_equal(mlf_config_get(&cfg, "tracking_uri"), "sqlite:///runs/mlflow/mlflow.db");
	assert_string_equal(mlf_config_origin(&cfg, "tracking_uri"), "default");
	assert_null(mlf_config_get(&cfg, "experiment_id"));
	assert_int_equal(mlf_config_int(&cfg, "http.max_retries"), 7);
	char *model = mlf_config_path(&cfg, "paths.base_model");
	char *want = mlf_path_join(workspace, "models/best_improved.pt");
	assert_string_equal(model, want);
	free(model);
	free(want);
	mlf_config_release(&cfg);
}

static void test_precedence(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	write_config("tracking_uri: file:from-file\nexperiment_id: '7'\nhttp:\n  max_retries: 3\n");
	/* file beats default */
	assert_int_equal(mlf_config_load(&cfg, workspace, NULL, &err), 0);
	assert_string_equal(mlf_config_get(&cfg, "tracking_uri"), "file:from-file");
	const char *origin = mlf_config_origin(&cfg, "tracking_uri");
	assert_true(strlen(origin) > 10 && !strcmp(origin + strlen(origin) - 10, "mlf.yaml:1"));
	assert_int_equal(mlf_config_int(&cfg, "http.max_retries"), 3);
	mlf_config_release(&cfg);
	/* env beats file; an empty variable counts as unset */
	setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1", 1);
	setenv("MLFLOW_EXPERIMENT_ID", "", 1);
	assert_int_equal(mlf_config_load(&cfg, workspace, NULL, &err), 0);
	assert_string_equal(mlf_config_get(&cfg, "tracking_uri"), "http://127.0.0.1:1");
	assert_string_equal(mlf_config_origin(&cfg, "tracking_uri"), "environment variable MLFLOW_TRACKING_URI");
	assert_string_equal(mlf_config_get(&cfg, "experiment_id"), "7");
	/* flags beat env */
	assert_int_equal(mlf_config_set_pair(&cfg, "tracking_uri=sqlite:///flag.db", &err), 0);
	assert_string_equal(mlf_config_get(&cfg, "tracking_uri"), "sqlite:///flag.db");
	assert_int_equal(mlf_config_set_pair(&cfg, "no_such_key=1", &err), -1);
	assert_non_null(strstr(err.msg, "no_such_key"));
	assert_int_equal(mlf_config_set(&cfg, "http.max_retries", "11", "--set", &err), -1);
	assert_non_null(strstr(err.msg, "between 0 and 10"));
	mlf_config_release(&cfg);
	unsetenv("MLFLOW_TRACKING_URI");
	unsetenv("MLFLOW_EXPERIMENT_ID");
	/* env values are type-checked too, naming the variable */
	setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "many", 1);
	assert_int_equal(mlf_config_load(&cfg, workspace, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "MLFLOW_HTTP_REQUEST_MAX_RETRIES"));
	mlf_config_release(&cfg);
	unsetenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES");
	/* MLF_<KEY> for keys MLflow has no name for */
	setenv("MLF_PATHS_BASE_MODEL", "/m/base.pt", 1);
	assert_int_equal(mlf_config_load(&cfg, workspace, NULL, &err), 0);
	assert_string_equal(mlf_config_get(&cfg, "paths.base_model"), "/m/base.pt");
	mlf_config_release(&cfg);
	unsetenv("MLF_PATHS_BASE_MODEL");
}

static void test_errors_name_key_and_line(void **state)
{
	(void)state;
	expect_error("tracking_uri: x\nexperimentid: '1'\n", "mlf.yaml:2", "experimentid");
	expect_error("http:\n  timeout: soon\n", "mlf.yaml:2", "http.timeout");
	expect_error("http:\n  max_retries: 2.5\n", "mlf.yaml:2", "whole number");
	expect_error("tls:\n  insecure: maybe\n", "mlf.yaml:2", "true or false");
	expect_error("http:\n  colour: red\n", "mlf.yaml:2", "http.colour");
	expect_error("tracking_uri: [a, b]\n", "mlf.yaml:1", "not a list");
	expect_error("tracking_uri:\n  a: b\n", "mlf.yaml:1", "single value");
	expect_error("experiment_id: '1'\nexperiment_id: '2'\n", "mlf.yaml:2", "twice");
	expect_error("tracking_uri: 'unterminated\n", "malformed YAML", NULL);
	expect_error("- a\n- b\n", "mapping", NULL);
	expect_error("experiment_id: '1'\n---\nexperiment_name: x\n", "more than one", NULL);
	expect_error("checks:\n  min_corrections: -1\n", "between", NULL);
}

static void test_yaml_typing(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	/* Unquoted ids keep their exact text: 0123 is not octal here, 1e5 not a float. */
	write_config("experiment_id: 0123\nexperiment_name: 1e5\nauth:\ntls:\n  insecure: yes\n");
	assert_int_equal(mlf_config_load(&cfg, workspace, NULL, &err), 0);
	assert_string_equal(mlf_config_get(&cfg, "experiment_id"), "0123");
	assert_string_equal(mlf_config_get(&cfg, "experiment_name"), "1e5");
	assert_true(mlf_config_bool(&cfg, "tls.insecure"));
	/* insecure TLS together with a CA path is a contradiction */
	struct mlf_tracking_options o;
	assert_int_equal(mlf_config_set(&cfg, "tls.ca_cert", "ca.pem", "--set", &err), 0);
	assert_int_equal(mlf_config_tracking_options(&cfg, &o, &err), -1);
	assert_non_null(strstr(err.msg, "contradict"));
	mlf_config_release(&cfg);
}

static void test_explicit_file_must_exist(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_config_load(&cfg, workspace, "missing.yaml", &err), -1);
	assert_non_null(strstr(err.msg, "missing.yaml"));
	mlf_config_release(&cfg);
}

/* examples/mlf.yaml documents exactly the keys the table declares. */
static void test_example_documents_every_key(void **state)
{
	(void)state;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	char *example = NULL;
	assert_int_equal(mlf_read_file(SOURCE_DIR "/examples/mlf.yaml", &example, NULL, &err), 0);
	for (unsigned i = 0; i < mlf_config_nkeys; i++) {
		const char *name = mlf_config_keys[i].name;
		const char *dot = strrchr(name, '.');
		char *leaf = NULL;
		if (asprintf(&leaf, "%s:", dot ? dot + 1 : name) < 0)
			fail();
		if (!strstr(example, leaf))
			fail_msg("examples/mlf.yaml does not document '%s'", name);
		free(leaf);
	}
	free(example);
	/* and it loads cleanly */
	assert_int_equal(mlf_config_load(&cfg, workspace, SOURCE_DIR "/examples/mlf.yaml", &err), 0);
	assert_string_equal(mlf_config_get(&cfg, "experiment_id"), "1");
	mlf_config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_errors_name_key_and_line),
		cmocka_unit_test(test_yaml_typing),
		cmocka_unit_test(test_explicit_file_must_exist),
		cmocka_unit_test(test_example_documents_every_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
