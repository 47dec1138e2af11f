/*
 * The S3 client's readers (lib/tracking/s3_parse.c) and its credential
 * chain: the XML pages S3 answers, the AWS shared files, and which source of
 * credentials wins.  The requests themselves are tested against a real
 * S3 endpoint (tests/e2e/t780-s3-artifacts.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mlf/tracking.h"
#include "tracking/tracking_internal.h"

static void test_listing(void **state)
{
	(void)state;
	static const char page1[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><Prefix>exp%2F</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
		"<Contents><Key>exp/a+b%25c.pt</Key><LastModified>x</LastModified><Size>123</Size></Contents>"
		"<Contents><Key>exp/x%26y</Key><Size>0</Size></Contents>"
		"<NextContinuationToken>1ueGc&amp;=</NextContinuationToken></ListBucketResult>";
	static const char page2[] =
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>exp/&#x41;&#66;</Key><Size>7</Size></Contents></ListBucketResult>";
	struct mlf_s3_listing l = { 0 };
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_s3_parse_listing(page1, sizeof(page1) - 1, 1, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[0].key, "exp/a b%c.pt");  /* '+' is a space, %25 a '%' */
	assert_int_equal(l.items[0].size, 123);
	assert_string_equal(l.items[1].key, "exp/x&y");
	assert_int_equal(l.truncated, 1);
	assert_string_equal(l.next_token, "1ueGc&=");
	assert_int_equal(mlf_s3_parse_listing(page2, sizeof(page2) - 1, 0, &l, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[2].key, "exp/AB");
	assert_int_equal(l.truncated, 0);
	assert_null(l.next_token);
	mlf_s3_listing_release(&l);

	static const char no_size[] = "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>";
	assert_int_equal(mlf_s3_parse_listing(no_size, sizeof(no_size) - 1, 0, &l, &err), -1);
	mlf_s3_listing_release(&l);
	static const char no_token[] = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
	assert_int_equal(mlf_s3_parse_listing(no_token, sizeof(no_token) - 1, 0, &l, &err), -1);
	assert_non_null(strstr(err.msg, "continuation token"));
	mlf_s3_listing_release(&l);
	static const char nul_key[] = "<ListBucketResult><Contents><Key>a%00b</Key><Size>1</Size></Contents></ListBucketResult>";
	assert_int_equal(mlf_s3_parse_listing(nul_key, sizeof(nul_key) - 1, 1, &l, &err), -1);
	mlf_s3_listing_release(&l);
	assert_int_equal(mlf_s3_parse_listing("<Error/>", 8, 1, &l, &err), -1);
	mlf_s3_listing_release(&l);
}

static void test_error_and_upload_id(void **state)
{
	(void)state;
	static const char e[] = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code>"
				"<Message>The bucket &lt;b&gt; does not exist</Message></Error>";
	char *code, *msg;
	assert_int_equal(mlf_s3_parse_error(e, sizeof(e) - 1, &code, &msg), 1);
	assert_string_equal(code, "NoSuchBucket");
	assert_string_equal(msg, "The bucket <b> does not exist");
	free(code);
	free(msg);
	assert_int_equal(mlf_s3_parse_error("<CompleteMultipartUploadResult/>", 32, &code, &msg), 0);
	assert_null(code);
	static const char u[] = "<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>VXA-1</UploadId>"
				"</InitiateMultipartUploadResult>";
	char *id = mlf_s3_parse_upload_id(u, sizeof(u) - 1);
	assert_string_equal(id, "VXA-1");
	free(id);
	assert_null(mlf_s3_parse_upload_id("<UploadId>x</UploadId>", 22));
}

static void test_ini(void **state)
{
	(void)state;
	static const char t[] =
		"# comment\n[default]\naws_access_key_id = AKIA1 \n"
		"aws_secret_access_key=se/cr=et\r\n"
		"[profile mlops]\n  region = nested-not-ours\nregion = eu-west-1\n"
		"s3 =\n  region = also-nested\n[ other ]\nregion=x\n";
	char *v;
	assert_int_equal(mlf_aws_ini_get(t, sizeof(t) - 1, "default", "aws_access_key_id", &v), 1);
	assert_string_equal(v, "AKIA1");
	free(v);
	assert_int_equal(mlf_aws_ini_get(t, sizeof(t) - 1, "default", "aws_secret_access_key", &v), 1);
	assert_string_equal(v, "se/cr=et");
	free(v);
	assert_int_equal(mlf_aws_ini_get(t, sizeof(t) - 1, "profile mlops", "region", &v), 1);
	assert_string_equal(v, "eu-west-1");
	free(v);
	assert_int_equal(mlf_aws_ini_get(t, sizeof(t) - 1, "other", "region", &v), 1);
	assert_string_equal(v, "x");
	free(v);
	assert_int_equal(mlf_aws_ini_get(t, sizeof(t) - 1, "default", "region", &v), 0);
	assert_null(v);
}

static void test_uri(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	char *b, *p;
	assert_int_equal(mlf_s3_parse_uri("s3://bkt/mlflow//7/", &b, &p, &err), 0);
	assert_string_equal(b, "bkt");
	assert_string_equal(p, "mlflow/7");
	free(b);
	free(p);
	assert_int_equal(mlf_s3_parse_uri("s3://bkt", &b, &p, &err), 0);
	assert_string_equal(p, "");
	free(b);
	free(p);
	assert_int_equal(mlf_s3_parse_uri("s3:///x", &b, &p, &err), -1);
	assert_int_equal(err.status, MLF_EX_CONFIG);
	assert_int_equal(mlf_s3_parse_uri("s3://b?x=1", &b, &p, &err), -1);
	assert_int_equal(mlf_s3_parse_uri("s3://b%2f/x", &b, &p, &err), -1);
}

/* Which credentials win: the environment, then the profile's; a half-set pair is an error. */
static void test_credentials_chain(void **state)
{
	(void)state;
	char dir[] = "/tmp/mlf-s3-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char creds[4096], conf[4096];
	snprintf(creds, sizeof(creds), "%s/credentials", dir);
	snprintf(conf, sizeof(conf), "%s/config", dir);
	FILE *f = fopen(creds, "w");
	fputs("[mlops]\naws_access_key_id = AKIAFILE\naws_secret_access_key = secret\n", f);
	fclose(f);
	f = fopen(conf, "w");
	fputs("[profile assumed]\nrole_arn = arn:aws:iam::1:role/x\n", f);
	fclose(f);
	setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_REGION");

	struct mlf_s3_options o = { .endpoint_url = "http://127.0.0.1:1", .retry = MLF_RETRY_POLICY_DEFAULT };
	struct mlf_s3 *s = NULL;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_s3_open(&s, &o, &err), -1);  /* no [default] anywhere */
	assert_int_equal(err.status, MLF_EX_CONFIG);
	assert_non_null(strstr(err.msg, "no AWS credentials"));

	o.profile = "mlops";
	assert_int_equal(mlf_s3_open(&s, &o, &err), 0);
	mlf_s3_close(s);

	o.profile = "assumed";
	assert_int_equal(mlf_s3_open(&s, &o, &err), -1);
	assert_non_null(strstr(err.msg, "role_arn"));

	o.profile = "missing";
	assert_int_equal(mlf_s3_open(&s, &o, &err), -1);
	assert_non_null(strstr(err.msg, "is in neither"));

	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	assert_int_equal(mlf_s3_open(&s, &o, &err), -1);  /* half a pair */
	assert_non_null(strstr(err.msg, "AWS_SECRET_ACCESS_KEY is not"));
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	assert_int_equal(mlf_s3_open(&s, &o, &err), 0);  /* the environment wins over the profile */
	mlf_s3_close(s);

	o.endpoint_url = "ftp://x";
	assert_int_equal(mlf_s3_open(&s, &o, &err), -1);
	assert_non_null(strstr(err.msg, "MLFLOW_S3_ENDPOINT_URL"));
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unlink(creds);
	unlink(conf);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_error_and_upload_id),
		cmocka_unit_test(test_ini),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_credentials_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
