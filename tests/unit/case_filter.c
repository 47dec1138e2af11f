/*
 * Run only some cases of a unit test program: MLF_TEST_CASE=PATTERN.
 *
 * Every unit test program is linked with this file and
 * -Wl,--wrap=_cmocka_run_group_tests (see the Makefile), so the
 * cmocka_run_group_tests() call in its main() lands here first; no test
 * needs to know.  Without MLF_TEST_CASE (or with it empty) the whole group
 * runs as before.  With it, only the cases whose name contains PATTERN run
 * (`*` and `?` are wildcards, as in a shell); a pattern that matches no case
 * is an error (exit 1, naming the cases there are), never "0 tests passed".
 * `tests/run unit PROGRAM CASE` sets it.
 */
#include <errno.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
				   const size_t num_tests, CMFixtureFunction group_setup,
				   CMFixtureFunction group_teardown);
int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
				   const size_t num_tests, CMFixtureFunction group_setup,
				   CMFixtureFunction group_teardown);

int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
				   const size_t num_tests, CMFixtureFunction group_setup,
				   CMFixtureFunction group_teardown)
{
	const char *want = getenv("MLF_TEST_CASE");
	if (!want || !*want)
		return __real__cmocka_run_group_tests(group_name, tests, num_tests, group_setup,
						      group_teardown);

	size_t len = strlen(want) + 3, n = 0;
	char *pattern = malloc(len);
	struct CMUnitTest *chosen = calloc(num_tests ? num_tests : 1, sizeof(*chosen));
	if (!pattern || !chosen) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	snprintf(pattern, len, "*%s*", want);
	for (size_t i = 0; i < num_tests; i++)
		if (tests[i].name && fnmatch(pattern, tests[i].name, 0) == 0)
			chosen[n++] = tests[i];
	int rc;
	if (n == 0) {
		fprintf(stderr, "%s: MLF_TEST_CASE='%s' matches none of its %zu case(s):",
			program_invocation_short_name, want, num_tests);
		for (size_t i = 0; i < num_tests; i++)
			fprintf(stderr, " %s", tests[i].name ? tests[i].name : "(unnamed)");
		fputc('\n', stderr);
		rc = 1;
	} else {
		fprintf(stderr, "%s: MLF_TEST_CASE='%s': %zu of its %zu case(s)\n",
			program_invocation_short_name, want, n, num_tests);
		rc = __real__cmocka_run_group_tests(group_name, chosen, n, group_setup, group_teardown);
	}
	free(chosen);
	free(pattern);
	return rc;
}
