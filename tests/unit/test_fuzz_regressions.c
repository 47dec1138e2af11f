/*
 * The inputs that once crashed a fuzz harness (tests/fuzz/regressions/NAME/),
 * replayed through that harness on every test run, so that they never do
 * again in any build: the plain one, and under ASan in `make asan`.  The
 * harnesses are compiled in a second time with their entry point renamed
 * fuzz_replay_NAME; the Makefile passes their names as FUZZ_HARNESSES.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mlf/base.h"

#ifndef FUZZ_HARNESSES
#error "FUZZ_HARNESSES (X(name) per tests/fuzz/fuzz_NAME.c) comes from the Makefile"
#endif

#define X(name) int fuzz_replay_##name(const uint8_t *data, size_t size);
FUZZ_HARNESSES
#undef X

static const struct harness {
	const char *name;
	int (*run)(const uint8_t *data, size_t size);
} harnesses[] = {
#define X(name) { #name, fuzz_replay_##name },
	FUZZ_HARNESSES
#undef X
};
#define NHARNESSES (sizeof(harnesses) / sizeof(harnesses[0]))
#define REGRESSIONS SOURCE_DIR "/tests/fuzz/regressions"

static const struct harness *find(const char *name)
{
	for (size_t i = 0; i < NHARNESSES; i++)
		if (!strcmp(harnesses[i].name, name))
			return &harnesses[i];
	return NULL;
}

/* Every folder of regressions belongs to a harness: a renamed harness must take its inputs along. */
static void test_every_folder_has_a_harness(void **state)
{
	(void)state;
	DIR *d = opendir(REGRESSIONS);
	assert_non_null(d);
	struct dirent *e;
	int folders = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		folders++;
		if (!find(e->d_name))
			fail_msg("tests/fuzz/regressions/%s has no harness tests/fuzz/fuzz_%s.c", e->d_name,
				 e->d_name);
	}
	closedir(d);
	assert_true(folders > 0);
}

/* Each input through its harness: a crash, a sanitizer report or a leak fails the program. */
static void test_replay(void **state)
{
	(void)state;
	int replayed = 0;
	for (size_t i = 0; i < NHARNESSES; i++) {
		char *dir = mlf_path_join(REGRESSIONS, harnesses[i].name);
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char *path = mlf_path_join(dir, e->d_name), *data = NULL;
			size_t len = 0;
			struct mlf_error err = MLF_ERROR_INIT;
			if (mlf_read_file(path, &data, &len, &err))
				fail_msg("%s", err.msg);
			print_message("replaying %s/%s (%zu bytes)\n", harnesses[i].name, e->d_name, len);
			assert_int_equal(harnesses[i].run((const uint8_t *)data, len), 0);
			free(data);
			free(path);
			replayed++;
		}
		if (d)
			closedir(d);
		free(dir);
	}
	assert_true(replayed > 0);
}

int main(void)
{
	/* the harnesses write their input to files: keep those in a folder of ours */
	char tmp[] = "/tmp/mlf-fuzz-replay.XXXXXX";
	if (!mkdtemp(tmp))
		return 1;
	setenv("TMPDIR", tmp, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_folder_has_a_harness),
		cmocka_unit_test(test_replay),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_remove_tree(tmp, &err);
	return rc;
}
