#include "mlf/base.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *mlf_json_double(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

int mlf_json_to_double(const json_t *j, double *out)
{
	if (json_is_number(j)) {
		*out = json_number_value(j);
		return 0;
	}
	if (!json_is_string(j))
		return -1;
	const char *s = json_string_value(j);
	if (!strcmp(s, "NaN")) {
		*out = NAN;
		return 0;
	}
	if (!strcmp(s, "Infinity")) {
		*out = INFINITY;
		return 0;
	}
	if (!strcmp(s, "-Infinity")) {
		*out = -INFINITY;
		return 0;
	}
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

int mlf_json_to_int64(const json_t *j, int64_t *out)
{
	if (json_is_integer(j)) {
		*out = (int64_t)json_integer_value(j);
		return 0;
	}
	if (json_is_real(j)) {
		/* only what an int64 can hold: converting anything else is undefined */
		double v = json_real_value(j);
		if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
			return -1;
		*out = (int64_t)v;
		return 0;
	}
	return json_is_string(j) ? mlf_parse_int64(json_string_value(j), out) : -1;
}

int mlf_parse_int64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

json_t *mlf_json_string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

const char *mlf_json_str(const json_t *obj, const char *key, const char *fallback)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : fallback;
}

int mlf_json_write_line(json_t *doc, FILE *out, struct mlf_error *err)
{
	if (json_dumpf(doc, out, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17)) != 0 ||
	    fputc('\n', out) == EOF || fflush(out) != 0 || ferror(out))
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot write the output document");
	return 0;
}
