/* MLflow's key rules as the dispatcher enforces them before any store sees a key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mlf/tracking.h"

static void accept(const char *key)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_tracking_check_key("param", key, &err) != 0)
		fail_msg("'%s' refused: %s", key, err.msg);
}

static void refuse(const char *key, const char *needle)
{
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_tracking_check_key("metric", key, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	if (!strstr(err.msg, needle))
		fail_msg("'%s': message '%s' lacks '%s'", key, err.msg, needle);
}

static void test_accepted(void **state)
{
	(void)state;
	accept("lr");
	accept("train/box_loss");
	accept("metrics/mAP50-95_B");
	accept("a b:c.d-e_f");
	accept("\xc3\xa9t\xc3\xa9");  /* \w is Unicode-aware in MLflow */
	char longest[MLF_MAX_KEY_LENGTH + 1];
	memset(longest, 'k', MLF_MAX_KEY_LENGTH);
	longest[MLF_MAX_KEY_LENGTH] = '\0';
	accept(longest);
}

static void test_refused(void **state)
{
	(void)state;
	refuse("", "empty");
	refuse("mAP50-95(B)", "character '('");
	refuse("a\nb", "character");
	refuse("/abs", "clean relative path");
	refuse("a//b", "clean relative path");
	refuse("a/./b", "clean relative path");
	refuse("a/", "clean relative path");
	refuse("../up", "clean relative path");
	refuse("..hidden", "clean relative path");
	refuse(".", "clean relative path");
	char too_long[MLF_MAX_KEY_LENGTH + 2];
	memset(too_long, 'k', MLF_MAX_KEY_LENGTH + 1);
	too_long[MLF_MAX_KEY_LENGTH + 1] = '\0';
	refuse(too_long, "251 characters");
}

static void test_status_names(void **state)
{
	(void)state;
	for (int s = MLF_RUN_RUNNING; s <= MLF_RUN_KILLED; s++)
		assert_int_equal(mlf_run_status_parse(mlf_run_status_name(s)), s);
	assert_int_equal(mlf_run_status_parse("finished"), 0);
	assert_string_equal(mlf_run_status_name(42), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
