/*
 * What the libFuzzer harnesses share.  Each harness is one file defining
 * LLVMFuzzerTestOneInput over one parser of outside input; most of mlf's
 * parsers read files, so the input is written to a file in a private folder
 * first (made once per process).  See scripts/fuzz.
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
	static char dir[64];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/mlf-fuzz.XXXXXX", "/tmp");
		if (!mkdtemp(dir))
			abort();
	}
	return dir;
}

/* `data` written to <dir>/<name> (folders made), returning the path (static). */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[512];
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
