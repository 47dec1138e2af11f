/* URI parsing: MLflow's forms, the traps that put data elsewhere, encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mlf/tracking.h"

static void expect_path(const char *uri, const char *base, const char *want)
{
	struct mlf_error err = MLF_ERROR_INIT;
	char *path = NULL;
	if (mlf_uri_local_path(uri, base, &path, &err) != 0)
		fail_msg("%s: unexpected error: %s", uri, err.msg);
	assert_string_equal(path, want);
	free(path);
}

static void expect_refused(const char *uri, const char *needle)
{
	struct mlf_error err = MLF_ERROR_INIT;
	char *path = NULL;
	assert_int_equal(mlf_uri_local_path(uri, "/ws", &path, &err), -1);
	assert_null(path);
	assert_int_equal(err.status, MLF_EX_CONFIG);
	if (!strstr(err.msg, needle))
		fail_msg("%s: message '%s' lacks '%s'", uri, err.msg, needle);
}

static void test_kinds(void **state)
{
	(void)state;
	assert_int_equal(mlf_uri_kind("sqlite:///a.db"), MLF_URI_SQLITE);
	assert_int_equal(mlf_uri_kind("http://127.0.0.1:5000"), MLF_URI_HTTP);
	assert_int_equal(mlf_uri_kind("https://mlflow.example"), MLF_URI_HTTP);
	assert_int_equal(mlf_uri_kind("file:///x"), MLF_URI_FILE);
	assert_int_equal(mlf_uri_kind("./mlruns"), MLF_URI_FILE);
	assert_int_equal(mlf_uri_kind("/abs/mlruns"), MLF_URI_FILE);
	assert_int_equal(mlf_uri_kind("C:/Users/me"), MLF_URI_FILE);
	assert_int_equal(mlf_uri_kind("mlflow-artifacts:/1"), MLF_URI_MLFLOW_ARTIFACTS);
	assert_int_equal(mlf_uri_kind("s3://bucket/p"), MLF_URI_S3);
	assert_int_equal(mlf_uri_kind("gs://bucket/p"), MLF_URI_OTHER);
	assert_int_equal(mlf_uri_kind(""), MLF_URI_INVALID);
	assert_int_equal(mlf_uri_kind(NULL), MLF_URI_INVALID);
}

static void test_relative_and_absolute(void **state)
{
	(void)state;
	expect_path("/abs/path", "/ws", "/abs/path");
	expect_path("mlruns", "/ws", "/ws/mlruns");
	expect_path("./runs/../mlruns/", "/ws", "/ws/mlruns");
	expect_path("file:///abs/path", "/ws", "/abs/path");
	expect_path("file:mlruns", "/ws", "/ws/mlruns");
	expect_path("file:./mlruns", "/ws", "/ws/mlruns");
	expect_path("file://localhost/srv/m", "/ws", "/srv/m");
}

static void test_percent_encoding(void **state)
{
	(void)state;
	expect_path("file:///a%20b/%C3%A9t%C3%A9", "/ws", "/a b/\xc3\xa9t\xc3\xa9");
	expect_path("/plain%20path", "/ws", "/plain path");  /* MLflow decodes plain paths too */
	char *uri = mlf_uri_from_path("/a b/#x?%/\xc3\xa9");
	assert_string_equal(uri, "file:///a%20b/%23x%3F%25/%C3%A9");
	free(uri);
	/* round trip */
	struct mlf_error err = MLF_ERROR_INIT;
	char *back = NULL;
	uri = mlf_uri_from_path("/tmp/sp ace/100%");
	assert_int_equal(mlf_uri_local_path(uri, NULL, &back, &err), 0);
	assert_string_equal(back, "/tmp/sp ace/100%");
	free(uri);
	free(back);
	expect_refused("file:///bad%2", "percent");
	expect_refused("file:///nul%00byte", "NUL");
}

static void test_windows_forms(void **state)
{
	(void)state;
	/* Two slashes put the drive in the host part: MLflow silently drops it. */
	expect_refused("file://C:/Users/me/mlruns", "host part");
	expect_refused("file:///C:/Users/me/mlruns", "Windows drive");
	expect_refused("C:\\Users\\me\\mlruns", "Windows drive");
	expect_refused("C:/Users/me", "Windows drive");
	expect_refused("file://./mlruns", "root folder");
	expect_refused("file://fileserver/share/mlruns", "host 'fileserver'");
	expect_refused("file:///x?y=1", "query");
}

static void test_sqlite(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	char *p = NULL;
	assert_int_equal(mlf_uri_sqlite_path("sqlite:///runs/mlflow/mlflow.db", "/ws", &p, &err), 0);
	assert_string_equal(p, "/ws/runs/mlflow/mlflow.db");
	free(p);
	assert_int_equal(mlf_uri_sqlite_path("sqlite:////abs/m%20x.db", "/ws", &p, &err), 0);
	assert_string_equal(p, "/abs/m x.db");
	free(p);
	p = NULL;
	assert_int_equal(mlf_uri_sqlite_path("sqlite://", "/ws", &p, &err), -1);
	assert_int_equal(mlf_uri_sqlite_path("sqlite:///:memory:", "/ws", &p, &err), -1);
	assert_non_null(strstr(err.msg, "in-memory"));
	assert_null(p);
}

static void test_artifact_proxy(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	char *url = NULL;
	assert_int_equal(mlf_uri_artifact_proxy_url("mlflow-artifacts:/1/abc/artifacts",
						    "http://127.0.0.1:5000/", &url, &err), 0);
	assert_string_equal(url, "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts");
	free(url);
	/* a path prefix on the tracking URI is kept */
	assert_int_equal(mlf_uri_artifact_proxy_url("mlflow-artifacts:/7", "https://h/mlflow", &url, &err), 0);
	assert_string_equal(url, "https://h/mlflow/api/2.0/mlflow-artifacts/artifacts/7");
	free(url);
	/* an explicit host:port names that server, with the tracking scheme */
	assert_int_equal(mlf_uri_artifact_proxy_url("mlflow-artifacts://other:8080/2/r",
						    "https://h/mlflow", &url, &err), 0);
	assert_string_equal(url, "https://other:8080/api/2.0/mlflow-artifacts/artifacts/2/r");
	free(url);
	url = NULL;
	assert_int_equal(mlf_uri_artifact_proxy_url("mlflow-artifacts:/1/../x", "http://h", &url, &err), -1);
	assert_int_equal(mlf_uri_artifact_proxy_url("mlflow-artifacts:/1", "sqlite:///x.db", &url, &err), -1);
	assert_null(url);
}

static void test_append_and_same(void **state)
{
	(void)state;
	char *u = mlf_uri_append("file:///r/1/", "abc/artifacts");
	assert_string_equal(u, "file:///r/1/abc/artifacts");
	free(u);
	u = mlf_uri_append("mlflow-artifacts:/", "1");
	assert_string_equal(u, "mlflow-artifacts:/1");
	free(u);
	assert_true(mlf_uri_same_location("file:///ws/runs/mlflow/1", "/ws/runs/mlflow/1/", "/ws"));
	assert_true(mlf_uri_same_location("runs/mlflow/1", "file:///ws/runs/mlflow/1", "/ws"));
	assert_false(mlf_uri_same_location("file:///ws/runs/mlflow/1", "file:///ws/runs/mlflow/2", "/ws"));
	assert_true(mlf_uri_same_location("mlflow-artifacts:/1/", "mlflow-artifacts:/1", "/ws"));
	assert_false(mlf_uri_same_location("mlflow-artifacts:/1", "file:///ws/1", "/ws"));
}

static void test_redact(void **state)
{
	(void)state;
	char *r = mlf_uri_redact("https://bob:s3cret@host:5000/p?q=1");
	assert_string_equal(r, "https://***@host:5000/p?q=1");
	assert_null(strstr(r, "s3cret"));
	free(r);
	r = mlf_uri_redact("http://host/a@b");
	assert_string_equal(r, "http://host/a@b");
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_relative_and_absolute),
		cmocka_unit_test(test_percent_encoding),
		cmocka_unit_test(test_windows_forms),
		cmocka_unit_test(test_sqlite),
		cmocka_unit_test(test_artifact_proxy),
		cmocka_unit_test(test_append_and_same),
		cmocka_unit_test(test_redact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
