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

/* ---- values as Python's str() shows them ----------------------------------- */

/*
 * repr(float) in Python 3: the shortest digits that read back to the same
 * double, in fixed notation when the decimal point falls within 16 places
 * (0.7, 100.0, 0.0001), else in exponent notation with at least two exponent
 * digits (1e-05, 1.5e+16).
 */
void mlf_buf_add_py_float(struct mlf_buf *b, double x)
{
	if (isnan(x)) {
		mlf_buf_adds(b, "nan");
		return;
	}
	if (isinf(x)) {
		mlf_buf_adds(b, x > 0 ? "inf" : "-inf");
		return;
	}
	char sci[40];
	for (int prec = 0; prec < 17; prec++) {
		snprintf(sci, sizeof(sci), "%.*e", prec, x);
		if (strtod(sci, NULL) == x)
			break;
	}
	/* sci is "-d.ddde+XX": the digits, and where the point goes */
	char digits[24];
	size_t nd = 0;
	const char *p = sci;
	if (*p == '-') {
		mlf_buf_addc(b, '-');
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')  /* %.0e of 0 gives "0e+00": one digit stays */
		nd--;
	digits[nd] = 0;
	int decpt = atoi(p + 1) + 1;  /* x = 0.DIGITS * 10^decpt */
	if (decpt <= -4 || decpt > 16) {
		mlf_buf_addc(b, digits[0]);
		if (nd > 1)
			mlf_buf_addf(b, ".%s", digits + 1);
		int e = decpt - 1;
		mlf_buf_addf(b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
	} else if (decpt <= 0) {
		mlf_buf_adds(b, "0.");
		for (int i = 0; i < -decpt; i++)
			mlf_buf_addc(b, '0');
		mlf_buf_adds(b, digits);
	} else if ((size_t)decpt < nd) {
		mlf_buf_add(b, digits, (size_t)decpt);
		mlf_buf_addf(b, ".%s", digits + decpt);
	} else {
		mlf_buf_adds(b, digits);
		for (size_t i = nd; i < (size_t)decpt; i++)
			mlf_buf_addc(b, '0');
		mlf_buf_adds(b, ".0");
	}
}

/* repr(str): single quotes unless the text holds one and no double quote. */
static void py_repr_str(struct mlf_buf *b, const char *s)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
	mlf_buf_addc(b, q);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\\' || *c == (unsigned char)q)
			mlf_buf_addf(b, "\\%c", *c);
		else if (*c == '\n')
			mlf_buf_adds(b, "\\n");
		else if (*c == '\r')
			mlf_buf_adds(b, "\\r");
		else if (*c == '\t')
			mlf_buf_adds(b, "\\t");
		else if (*c < 0x20 || *c == 0x7f)
			mlf_buf_addf(b, "\\x%02x", *c);
		else
			mlf_buf_addc(b, (char)*c);
	}
	mlf_buf_addc(b, q);
}

static void py_text(struct mlf_buf *b, const json_t *v, int top)
{
	size_t i;
	const char *key;
	json_t *item;
	switch (json_typeof(v)) {
	case JSON_NULL:
		mlf_buf_adds(b, "None");
		break;
	case JSON_TRUE:
		mlf_buf_adds(b, "True");
		break;
	case JSON_FALSE:
		mlf_buf_adds(b, "False");
		break;
	case JSON_INTEGER:
		mlf_buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		mlf_buf_add_py_float(b, json_real_value(v));
		break;
	case JSON_STRING:
		if (top)
			mlf_buf_adds(b, json_string_value(v));
		else
			py_repr_str(b, json_string_value(v));
		break;
	case JSON_ARRAY:
		mlf_buf_addc(b, '[');
		json_array_foreach(v, i, item) {
			if (i)
				mlf_buf_adds(b, ", ");
			py_text(b, item, 0);
		}
		mlf_buf_addc(b, ']');
		break;
	case JSON_OBJECT:
		mlf_buf_addc(b, '{');
		i = 0;
		json_object_foreach((json_t *)v, key, item) {
			if (i++)
				mlf_buf_adds(b, ", ");
			py_repr_str(b, key);
			mlf_buf_adds(b, ": ");
			py_text(b, item, 0);
		}
		mlf_buf_addc(b, '}');
		break;
	}
}

char *mlf_json_py_str(const json_t *v)
{
	struct mlf_buf b = MLF_BUF_INIT;
	if (!v)
		mlf_buf_adds(&b, "None");
	else
		py_text(&b, v, 1);
	return mlf_buf_detach(&b);
}

/* ---- YAML -------------------------------------------------------------- */

static int yaml_plain_key(const char *k)
{
	if (!*k)
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

static void yaml_scalar(const json_t *v, struct mlf_buf *out)
{
	char *text = json_dumps(v, JSON_ENCODE_ANY);
	mlf_buf_adds(out, text ? text : "null");
	free(text);
}

static int yaml_nested(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

static void yaml_value(const json_t *v, int indent, int inline_first, struct mlf_buf *out);

static void yaml_key(const char *key, struct mlf_buf *out)
{
	if (yaml_plain_key(key)) {
		mlf_buf_adds(out, key);
	} else {
		json_t *k = json_string(key);
		yaml_scalar(k, out);
		json_decref(k);
	}
}

/* A nested value's lines, each at `indent`; with inline_first, the first line
 * continues the current one (after "- "). */
static void yaml_value(const json_t *v, int indent, int inline_first, struct mlf_buf *out)
{
	int first = 1;
	if (json_is_object(v)) {
		const char *key;
		json_t *item;
		json_object_foreach((json_t *)v, key, item) {
			if (!(first && inline_first))
				mlf_buf_addf(out, "%*s", indent, "");
			first = 0;
			yaml_key(key, out);
			mlf_buf_addc(out, ':');
			if (yaml_nested(item)) {
				mlf_buf_addc(out, '\n');
				yaml_value(item, indent + 2, 0, out);
			} else {
				mlf_buf_addc(out, ' ');
				yaml_scalar(item, out);
				mlf_buf_addc(out, '\n');
			}
		}
	} else {
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			if (!(first && inline_first))
				mlf_buf_addf(out, "%*s", indent, "");
			first = 0;
			mlf_buf_adds(out, "- ");
			if (yaml_nested(item) && json_is_object(item)) {
				yaml_value(item, indent + 2, 1, out);
			} else if (yaml_nested(item)) {
				mlf_buf_addc(out, '\n');
				yaml_value(item, indent + 2, 0, out);
			} else {
				yaml_scalar(item, out);
				mlf_buf_addc(out, '\n');
			}
		}
	}
}

void mlf_json_to_yaml(const json_t *obj, struct mlf_buf *out)
{
	if (yaml_nested(obj))
		yaml_value(obj, 0, 0, out);
	else
		mlf_buf_adds(out, "{}\n");
}
