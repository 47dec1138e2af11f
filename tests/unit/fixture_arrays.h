/*
 * Arrays of the parity fixtures (tests/fixtures/<set>/cases.json): each is
 * {"file", "dtype", "shape"} naming a raw little-endian file beside the
 * manifest.  Shared by the unit tests that read them; include after
 * <cmocka.h> and define FIXTURE_DIR (the set's folder, ending in '/') first.
 * The caller frees what fixture_read_array returns.
 */
#ifndef MLF_TEST_FIXTURE_ARRAYS_H
#define MLF_TEST_FIXTURE_ARRAYS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole array, `elem` bytes per element; *count gets the element count. */
static inline void *fixture_read_array(const json_t *arr, size_t elem, size_t *count)
{
	char path[512];
	snprintf(path, sizeof(path), FIXTURE_DIR "%s", json_string_value(json_object_get(arr, "file")));
	size_t n = 1;
	const json_t *shape = json_object_get(arr, "shape");
	for (size_t i = 0; i < json_array_size(shape); i++)
		n *= (size_t)json_integer_value(json_array_get(shape, i));
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	void *buf = malloc(n * elem + 1);
	assert_non_null(buf);
	if (fread(buf, elem, n, f) != n)
		fail_msg("%s is shorter than its shape says", path);
	fclose(f);
	*count = n;
	return buf;
}

/* Its shape into s (at least as many entries as it has dims); returns ndim. */
static inline int fixture_array_shape(const json_t *arr, int64_t *s)
{
	const json_t *shape = json_object_get(arr, "shape");
	int nd = (int)json_array_size(shape);
	for (int i = 0; i < nd; i++)
		s[i] = json_integer_value(json_array_get(shape, (size_t)i));
	return nd;
}

#endif
