/*
 * A private workspace folder for unit tests that read and write files
 * (include after cmocka.h).  Use workspace_setup / workspace_teardown as a
 * test's setup and teardown; `workspace` is the folder's path.  The setup
 * clears the environment variables that would leak the developer's own
 * configuration into the test.
 */
#ifndef MLF_TEST_WORKSPACE_FIXTURE_H
#define MLF_TEST_WORKSPACE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/config.h"

static char workspace[256];

static inline int workspace_setup(void **state)
{
	static const char *const leaks[] = {
		"MLF_CONFIG", "MLF_WORKSPACE", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID",
		"MLF_PATHS_MODELS", "MLF_PATHS_RUNS", "MLF_PATHS_DATA",
	};
	(void)state;
	snprintf(workspace, sizeof(workspace), "/tmp/mlf-unit-test.XXXXXX");
	if (!mkdtemp(workspace))
		return -1;
	for (size_t i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++)
		unsetenv(leaks[i]);
	return 0;
}

static inline int workspace_teardown(void **state)
{
	(void)state;
	mlf_remove_tree(workspace, NULL);
	return 0;
}

/* Write `text` to workspace/rel, making the folders on the way. */
static inline void workspace_put(const char *rel, const char *text)
{
	char *path = mlf_path_join(workspace, rel);
	char *dir = mlf_xstrdup(path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(mlf_mkdir_p(dir, 0777, NULL), 0);
	assert_int_equal(mlf_write_file_atomic(path, text, strlen(text), NULL), 0);
	free(dir);
	free(path);
}

/* Load the workspace's configuration, after writing `yaml` as its mlf.yaml (NULL: none). */
static inline void workspace_load(struct mlf_config *cfg, const char *yaml)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (yaml)
		workspace_put("mlf.yaml", yaml);
	if (mlf_config_load(cfg, workspace, NULL, &err))
		fail_msg("loading the configuration: %s", err.msg);
}

#endif
