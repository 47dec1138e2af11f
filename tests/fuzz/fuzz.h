/*
 * What the libFuzzer harnesses share.  Each harness is one file defining
 * LLVMFuzzerTestOneInput over one parser of outside input; most of mlf's
 * parsers read files, so the input is written to a file in a private folder
 * first (made once per process, under $TMPDIR).  See scripts/fuzz; the unit
 * test test_fuzz_regressions runs the same harnesses, their entry point
 * renamed fuzz_replay_NAME, over the inputs that once crashed them.
 */
#ifndef MLF_TESTS_FUZZ_H
#define MLF_TESTS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's private folder, made on first use. */
static inline const char *fuzz_dir(void)
{
	static char dir[4096];
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/mlf-fuzz.XXXXXX", tmp && *tmp && strlen(tmp) < 4000 ? tmp : "/tmp");
		if (!mkdtemp(dir))
			abort();
	}
	return dir;
}

/* `data` written to <dir>/<name> (folders made), returning the path (static). */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[4608];
	struct mlf_error err = MLF_ERROR_INIT;
	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	char *slash = strrchr(path, '/');
	*slash = 0;
	if (mlf_mkdir_p(path, 0700, &err))
		abort();
	*slash = '/';
	FILE *f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f))
		abort();
	return path;
}

#endif
