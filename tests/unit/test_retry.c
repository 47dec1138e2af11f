/* Unit tests for the retry decision and Retry-After parsing (lib/tracking/retry.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <time.h>

#include "mlf/tracking.h"

static const struct mlf_retry_policy defaults = MLF_RETRY_POLICY_DEFAULT;

static enum mlf_retry_verdict decide(const struct mlf_retry_policy *p, int attempt,
				     enum mlf_transport tr, long status, int idempotent,
				     const char *retry_after, double *delay)
{
	return mlf_retry_decide(p, attempt, tr, status, idempotent, retry_after, 0.0, delay);
}

static void test_success_and_client_errors_are_final(void **state)
{
	(void)state;
	double d = -1;
	long final_statuses[] = { 200, 201, 204, 301, 400, 401, 403, 404, 409, 413, 501 };
	for (size_t i = 0; i < sizeof(final_statuses) / sizeof(final_statuses[0]); i++) {
		assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, final_statuses[i], 1, NULL, &d),
				 MLF_RETRY_NO);
		assert_true(d == 0.0);
	}
}

static void test_transient_statuses_are_retried(void **state)
{
	(void)state;
	double d;
	long transient[] = { 408, 429, 500, 502, 503, 504 };
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, transient[i], 1, NULL, &d),
				 MLF_RETRY_YES);
}

static void test_transport_failures(void **state)
{
	(void)state;
	double d;
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_NOT_SENT, 0, 1, NULL, &d), MLF_RETRY_YES);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_LOST, 0, 1, NULL, &d), MLF_RETRY_YES);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_FATAL, 0, 1, NULL, &d), MLF_RETRY_NO);
}

static void test_non_idempotent(void **state)
{
	(void)state;
	double d;
	/* never reached the server, or the server said it did nothing: resend */
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_NOT_SENT, 0, 0, NULL, &d), MLF_RETRY_YES);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, 429, 0, NULL, &d), MLF_RETRY_YES);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, 503, 0, NULL, &d), MLF_RETRY_YES);
	/* may have been applied: look before resending */
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_LOST, 0, 0, NULL, &d),
			 MLF_RETRY_CHECK_FIRST);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, 500, 0, NULL, &d),
			 MLF_RETRY_CHECK_FIRST);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, 502, 0, NULL, &d),
			 MLF_RETRY_CHECK_FIRST);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, 504, 0, NULL, &d),
			 MLF_RETRY_CHECK_FIRST);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, 408, 0, NULL, &d),
			 MLF_RETRY_CHECK_FIRST);
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, 400, 0, NULL, &d), MLF_RETRY_NO);
}

static void test_retries_are_bounded(void **state)
{
	(void)state;
	double d;
	struct mlf_retry_policy p = defaults;
	p.max_retries = 3;
	assert_int_equal(decide(&p, 2, MLF_TRANSPORT_NOT_SENT, 0, 1, NULL, &d), MLF_RETRY_YES);
	assert_int_equal(decide(&p, 3, MLF_TRANSPORT_NOT_SENT, 0, 1, NULL, &d), MLF_RETRY_NO);
	assert_int_equal(decide(&p, 3, MLF_TRANSPORT_LOST, 0, 0, NULL, &d), MLF_RETRY_NO);
	p.max_retries = 0;
	assert_int_equal(decide(&p, 0, MLF_TRANSPORT_OK, 503, 1, NULL, &d), MLF_RETRY_NO);
}

static void test_backoff_like_urllib3(void **state)
{
	(void)state;
	double d;
	double want[] = { 0, 4, 8, 16, 32, 64, 120, 120 };
	struct mlf_retry_policy p = defaults;
	p.max_retries = 10;
	for (int a = 0; a < 8; a++) {
		assert_int_equal(decide(&p, a, MLF_TRANSPORT_NOT_SENT, 0, 1, NULL, &d), MLF_RETRY_YES);
		assert_true(fabs(d - want[a]) < 1e-9);
	}
	/* jitter adds up to backoff_jitter seconds, never before the first retry */
	mlf_retry_decide(&p, 0, MLF_TRANSPORT_LOST, 0, 1, NULL, 0.5, &d);
	assert_true(d == 0.0);
	mlf_retry_decide(&p, 1, MLF_TRANSPORT_LOST, 0, 1, NULL, 0.5, &d);
	assert_true(fabs(d - 4.5) < 1e-9);
	/* the cap applies to the sum */
	mlf_retry_decide(&p, 6, MLF_TRANSPORT_LOST, 0, 1, NULL, 0.99, &d);
	assert_true(fabs(d - 120) < 1e-9);
	p.backoff_factor = 0.1;
	p.backoff_jitter = 0;
	mlf_retry_decide(&p, 2, MLF_TRANSPORT_LOST, 0, 1, NULL, 0.5, &d);
	assert_true(fabs(d - 0.4) < 1e-9);
}

static void test_retry_after_honoured(void **state)
{
	(void)state;
	double d;
	assert_int_equal(decide(&defaults, 0, MLF_TRANSPORT_OK, 429, 1, "3", &d), MLF_RETRY_YES);
	assert_true(d == 3.0);
	assert_int_equal(decide(&defaults, 1, MLF_TRANSPORT_OK, 503, 0, " 7 ", &d), MLF_RETRY_YES);
	assert_true(d == 7.0);
	/* capped at backoff_max */
	decide(&defaults, 0, MLF_TRANSPORT_OK, 503, 1, "86400", &d);
	assert_true(d == 120.0);
	/* only for 429/503 */
	decide(&defaults, 1, MLF_TRANSPORT_OK, 500, 1, "30", &d);
	assert_true(d == 4.0);
	/* unparsable: plain backoff */
	decide(&defaults, 1, MLF_TRANSPORT_OK, 429, 1, "soon", &d);
	assert_true(d == 4.0);
	/* switched off */
	struct mlf_retry_policy p = defaults;
	p.respect_retry_after = 0;
	decide(&p, 1, MLF_TRANSPORT_OK, 429, 1, "30", &d);
	assert_true(d == 4.0);
}

static void test_retry_after_parsing(void **state)
{
	(void)state;
	/* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT */
	long t0 = 784111777;
	assert_true(mlf_retry_after_seconds("120", t0) == 120);
	assert_true(mlf_retry_after_seconds("0", t0) == 0);
	assert_true(mlf_retry_after_seconds("Sun, 06 Nov 1994 08:49:47 GMT", t0) == 10);
	assert_true(mlf_retry_after_seconds("Sunday, 06-Nov-94 08:50:37 GMT", t0) == 60);
	assert_true(mlf_retry_after_seconds("Sun Nov  6 08:49:40 1994", t0) == 3);
	/* a date in the past means "now" */
	assert_true(mlf_retry_after_seconds("Sun, 06 Nov 1994 08:00:00 GMT", t0) == 0);
	assert_true(mlf_retry_after_seconds("Thu, 01 Jan 2015 00:00:00 GMT", 1420070400) == 0);
	assert_true(mlf_retry_after_seconds("Thu, 01 Jan 2015 00:01:00 GMT", 1420070400) == 60);
	assert_true(mlf_retry_after_seconds(NULL, t0) == -1);
	assert_true(mlf_retry_after_seconds("", t0) == -1);
	assert_true(mlf_retry_after_seconds("-5", t0) == -1);
	assert_true(mlf_retry_after_seconds("1.5", t0) == -1);
	assert_true(mlf_retry_after_seconds("12abc", t0) == -1);
	assert_true(mlf_retry_after_seconds("Sun, 06 Foo 1994 08:49:37 GMT", t0) == -1);
	assert_true(mlf_retry_after_seconds("Sun, 06 Nov 1994 08:49:37 PST", t0) == -1);
	assert_true(mlf_retry_after_seconds("Sun, 06 Nov 1994 25:49:37 GMT", t0) == -1);
	assert_true(mlf_retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT trailing", t0) == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_and_client_errors_are_final),
		cmocka_unit_test(test_transient_statuses_are_retried),
		cmocka_unit_test(test_transport_failures),
		cmocka_unit_test(test_non_idempotent),
		cmocka_unit_test(test_retries_are_bounded),
		cmocka_unit_test(test_backoff_like_urllib3),
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_retry_after_parsing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
