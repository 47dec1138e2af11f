/*
 * parse_model's rules (ultralytics 8.4.190 nn/tasks.py): depth and
 * width scaling, channel bookkeeping, per-module arguments.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "yolo_internal.h"

static const char *const module_names[] = {
	[MLF_YOLO_CONV] = "Conv", [MLF_YOLO_C2F] = "C2f", [MLF_YOLO_C3K2] = "C3k2",
	[MLF_YOLO_SPPF] = "SPPF", [MLF_YOLO_C2PSA] = "C2PSA", [MLF_YOLO_UPSAMPLE] = "nn.Upsample",
	[MLF_YOLO_CONCAT] = "Concat", [MLF_YOLO_DETECT] = "Detect",
};

const char *mlf_yolo_module_name(enum mlf_yolo_module m)
{
	return (unsigned)m < sizeof(module_names) / sizeof(*module_names) ? module_names[m] : "?";
}

int yolo_module_takes_repeats(enum mlf_yolo_module m)
{
	return m == MLF_YOLO_C2F || m == MLF_YOLO_C3K2 || m == MLF_YOLO_C2PSA;
}

static int module_parse(const char *s, enum mlf_yolo_module *m)
{
	if (!strcmp(s, "Upsample")) {
		*m = MLF_YOLO_UPSAMPLE;
		return 0;
	}
	for (size_t i = 0; i < sizeof(module_names) / sizeof(*module_names); i++)
		if (!strcmp(s, module_names[i])) {
			*m = (enum mlf_yolo_module)i;
			return 0;
		}
	return -1;
}

/* A yaml argument after parse_model's resolution: names of its locals
 * ("nc", "reg_max") and Python literals in strings become values. */
enum arg_kind { ARG_NONE, ARG_NUM, ARG_STR, ARG_OTHER };
struct arg {
	enum arg_kind kind;
	double num;             /* bools are 0/1, as in Python */
	int is_int;
	const char *str;
};

struct ctx {
	struct mlf_yolo_arch *a;
	struct mlf_yolo_layer *l;
	const json_t *args;
	struct mlf_error *err;
};

static struct arg arg_get(const struct ctx *c, size_t i)
{
	struct arg v = { ARG_NONE, 0, 0, NULL };
	const json_t *j = json_array_get(c->args, i);
	if (!j || json_is_null(j))
		return v;
	if (json_is_boolean(j) || json_is_integer(j)) {
		v.kind = ARG_NUM;
		v.is_int = 1;
		v.num = json_is_boolean(j) ? json_is_true(j) : (double)json_integer_value(j);
		return v;
	}
	if (json_is_real(j)) {
		v.kind = ARG_NUM;
		v.num = json_real_value(j);
		return v;
	}
	if (!json_is_string(j)) {
		v.kind = ARG_OTHER;
		return v;
	}
	const char *s = json_string_value(j);
	char *end;
	if (!strcmp(s, "nc") || !strcmp(s, "reg_max")) {
		v.kind = ARG_NUM;
		v.is_int = 1;
		v.num = s[0] == 'n' ? c->a->nc : c->a->reg_max;
	} else if (!strcmp(s, "None")) {
		v.kind = ARG_NONE;
	} else if (!strcmp(s, "True") || !strcmp(s, "False")) {
		v.kind = ARG_NUM;
		v.is_int = 1;
		v.num = s[0] == 'T';
	} else if (s[0] && (v.num = strtod(s, &end), !*end)) {
		v.kind = ARG_NUM;
		v.is_int = v.num == floor(v.num) && !strpbrk(s, ".eE");
	} else {
		v.kind = ARG_STR;
		v.str = s;
	}
	return v;
}

static int fail(const struct ctx *c, const char *problem, const char *what)
{
	return mlf_fail(c->err, MLF_EX_DATAERR, "model layer %d (%s): %s %s", c->l->index,
			mlf_yolo_module_name(c->l->type), what, problem);
}

/* Argument `i` (yaml position) as an int >= lo, or `def` when absent. */
static int arg_int(const struct ctx *c, size_t i, int def, int lo, const char *what, int *out)
{
	struct arg v = arg_get(c, i);
	if (i >= json_array_size(c->args)) {
		*out = def;
		return 0;
	}
	if (v.kind != ARG_NUM || !v.is_int || v.num < lo || v.num > 1 << 24)
		return fail(c, "must be a whole number in range", what);
	*out = (int)v.num;
	return 0;
}

/* Python truthiness of argument `i`. */
static int arg_bool(const struct ctx *c, size_t i, int def)
{
	if (i >= json_array_size(c->args))
		return def;
	struct arg v = arg_get(c, i);
	return v.kind == ARG_NUM ? v.num != 0 : v.kind == ARG_STR ? v.str[0] != 0 : v.kind == ARG_OTHER;
}

static int arg_real(const struct ctx *c, size_t i, double def, const char *what, double *out)
{
	if (i >= json_array_size(c->args)) {
		*out = def;
		return 0;
	}
	struct arg v = arg_get(c, i);
	if (v.kind != ARG_NUM || !(v.num > 0) || v.num > 1e6)
		return fail(c, "must be a positive number", what);
	*out = v.num;
	return 0;
}

/* make_divisible(min(c2, max_channels) * width, 8) */
static int scale_channels(const struct ctx *c, int *c2)
{
	struct arg v = arg_get(c, 0);
	if (v.kind != ARG_NUM || !v.is_int || v.num < 1 || v.num > 1 << 24)
		return fail(c, "must be a positive whole number", "output channels (first argument)");
	double x = fmin(v.num, c->a->max_channels) * c->a->width;
	*c2 = (int)(ceil(x / 8) * 8);
	if (*c2 < 1 || *c2 > 1 << 24)
		return fail(c, "scale to no usable width", "output channels");
	return 0;
}

/* Index into the layers built so far for a `from` entry. */
static int from_index(const struct ctx *c, int f, int *abs)
{
	int i = c->l->index;
	if (i == 0 && (f == -1 || f == 0)) {
		*abs = -1;
		return 0;
	}
	int k = f < 0 ? i + f : f;
	if (i == 0 || k < 0 || k >= i)
		return mlf_fail(c->err, MLF_EX_DATAERR, "model layer %d: 'from' %d is not an earlier layer",
				i, f);
	*abs = k;
	return 0;
}

static int from_channels(const struct ctx *c, int abs)
{
	return abs < 0 ? c->a->channels : c->a->layers[abs].c2;
}

static double from_stride(const struct ctx *c, int abs)
{
	return abs < 0 ? 1.0 : c->a->layers[abs].stride;
}

/* Module arguments and output channels, per module (yaml positions). */
static int resolve_module(struct ctx *c, int *legacy)
{
	struct mlf_yolo_layer *l = c->l;
	int list = l->from_list;
	int rc = 0;
	if (l->type != MLF_YOLO_CONCAT && l->type != MLF_YOLO_DETECT && list)
		return fail(c, "must be a single layer index", "'from'");
	if ((l->type == MLF_YOLO_CONCAT || l->type == MLF_YOLO_DETECT) && !list)
		return fail(c, "must be a list of layer indices", "'from'");
	l->c1 = from_channels(c, l->from_abs[0]);
	l->stride = from_stride(c, l->from_abs[0]);
	switch (l->type) {
	case MLF_YOLO_CONV:
		rc = scale_channels(c, &l->c2);
		if (!rc)
			rc = arg_int(c, 1, 1, 1, "kernel", &l->k);
		if (!rc)
			rc = arg_int(c, 2, 1, 1, "stride", &l->s);
		if (!rc)
			rc = arg_int(c, 4, 1, 1, "groups", &l->g);
		for (int j = 0; !rc && j < (l->repeats > 1 ? l->repeats : 1); j++)
			l->stride *= l->s;
		return rc;
	case MLF_YOLO_C2F:
		rc = scale_channels(c, &l->c2);
		l->shortcut = arg_bool(c, 1, 0);
		if (!rc)
			rc = arg_int(c, 2, 1, 1, "groups", &l->g);
		if (!rc)
			rc = arg_real(c, 3, 0.5, "expansion", &l->e);
		l->hidden = (int)(l->c2 * l->e);
		return rc;
	case MLF_YOLO_C3K2:
		*legacy = 0;
		rc = scale_channels(c, &l->c2);
		l->c3k = arg_bool(c, 1, 0);
		if (c->a->scale && (!strcmp(c->a->scale, "m") || !strcmp(c->a->scale, "l") ||
				    !strcmp(c->a->scale, "x")))
			l->c3k = 1;
		if (!rc)
			rc = arg_real(c, 2, 0.5, "expansion", &l->e);
		l->attn = arg_bool(c, 3, 0);
		if (!rc)
			rc = arg_int(c, 4, 1, 1, "groups", &l->g);
		l->shortcut = arg_bool(c, 5, 1);
		l->hidden = (int)(l->c2 * l->e);
		return rc;
	case MLF_YOLO_SPPF:
		rc = scale_channels(c, &l->c2);
		if (!rc)
			rc = arg_int(c, 1, 5, 1, "kernel", &l->k);
		if (!rc)
			rc = arg_int(c, 2, 3, 0, "pools", &l->sppf_n);
		l->shortcut = arg_bool(c, 3, 0);
		l->hidden = l->c1 / 2;
		return rc;
	case MLF_YOLO_C2PSA:
		rc = scale_channels(c, &l->c2);
		if (!rc)
			rc = arg_real(c, 1, 0.5, "expansion", &l->e);
		if (!rc && l->c1 != l->c2)
			return mlf_fail(c->err, MLF_EX_DATAERR,
					"model layer %d (C2PSA): needs equal input and output channels, got %d and %d",
					l->index, l->c1, l->c2);
		l->hidden = (int)(l->c1 * l->e);
		l->heads = l->hidden / 64 > 1 ? l->hidden / 64 : 1;
		return rc;
	case MLF_YOLO_UPSAMPLE: {
		struct arg v = arg_get(c, 1);
		if (v.kind != ARG_NUM || !(v.num > 0))
			return fail(c, "must be a positive number", "scale factor (second argument)");
		l->upsample = v.num;
		l->stride /= v.num;
		l->c2 = l->c1;
		return 0;
	}
	case MLF_YOLO_CONCAT:
		l->c2 = 0;
		for (int j = 0; j < l->nfrom; j++)
			l->c2 += from_channels(c, l->from_abs[j]);
		return 0;
	case MLF_YOLO_DETECT:
		if (json_array_size(c->args) != 1)
			return fail(c, "must be [nc]", "arguments");
		if (arg_int(c, 0, 0, 1, "number of classes", &l->nc) < 0)
			return -1;
		l->reg_max = c->a->reg_max;
		l->end2end = json_is_true(json_object_get(c->a->yaml, "end2end"));
		l->legacy = *legacy;
		l->nin = l->nfrom;
		for (int j = 0; j < l->nfrom; j++) {
			l->ch[j] = from_channels(c, l->from_abs[j]);
			l->strides[j] = from_stride(c, l->from_abs[j]);
		}
		l->c2 = l->c1;
		return 0;
	}
	return fail(c, "is not handled", "module");
}

static int parse_from(struct ctx *c, const json_t *f)
{
	struct mlf_yolo_layer *l = c->l;
	if (json_is_integer(f)) {
		l->nfrom = 1;
		l->from[0] = (int)json_integer_value(f);
		if (json_integer_value(f) != l->from[0])
			return mlf_fail(c->err, MLF_EX_DATAERR, "model layer %d: bad 'from'", l->index);
		return from_index(c, l->from[0], &l->from_abs[0]);
	}
	size_t n = json_array_size(f);
	if (!json_is_array(f) || n < 1 || n > MLF_YOLO_MAX_FROM)
		return mlf_fail(c->err, MLF_EX_DATAERR,
				"model layer %d: 'from' must be a layer index or a list of 1 to %d of them",
				l->index, MLF_YOLO_MAX_FROM);
	l->nfrom = (int)n;
	for (size_t j = 0; j < n; j++) {
		const json_t *x = json_array_get(f, j);
		if (!json_is_integer(x) || json_integer_value(x) < -(1 << 20) ||
		    json_integer_value(x) > 1 << 20)
			return mlf_fail(c->err, MLF_EX_DATAERR, "model layer %d: 'from' entries must be integers",
					l->index);
		l->from[j] = (int)json_integer_value(x);
		if (from_index(c, l->from[j], &l->from_abs[j]) < 0)
			return -1;
	}
	l->from_list = 1;
	return 0;
}

static int parse_layer(struct mlf_yolo_arch *a, int i, const json_t *e, int *legacy, struct mlf_error *err)
{
	struct mlf_yolo_layer *l = &a->layers[i];
	struct ctx c = { a, l, NULL, err };
	memset(l, 0, sizeof(*l));
	l->index = i;
	l->g = 1;
	const json_t *n = json_array_get(e, 1), *m = json_array_get(e, 2);
	c.args = json_array_get(e, 3);
	if (!json_is_array(e) || json_array_size(e) != 4 || !json_is_integer(n) || !json_is_string(m) ||
	    !json_is_array(c.args))
		return mlf_fail(err, MLF_EX_DATAERR,
				"model layer %d: expected [from, repeats, module, [args]]", i);
	if (module_parse(json_string_value(m), &l->type) < 0)
		return mlf_fail(err, MLF_EX_DATAERR, "model layer %d: unknown module '%s'", i,
				json_string_value(m));
	json_int_t r = json_integer_value(n);
	if (r < 0 || r > 1000)
		return mlf_fail(err, MLF_EX_DATAERR, "model layer %d (%s): repeats %lld out of range", i,
				mlf_yolo_module_name(l->type), (long long)r);
	/* max(round(n * depth), 1) if n > 1; nearbyint rounds half to even like Python. */
	l->repeats = r > 1 ? (int)fmax(nearbyint((double)r * a->depth), 1) : (int)r;
	if (parse_from(&c, json_array_get(e, 0)) < 0)
		return -1;
	if (resolve_module(&c, legacy) < 0)
		return -1;
	if (yolo_layer_params(a, l, err) < 0)
		return mlf_error_prefix(err, "model layer %d (%s)", i, mlf_yolo_module_name(l->type));
	return 0;
}

static int read_scaling(struct mlf_yolo_arch *a, struct mlf_error *err)
{
	json_t *y = a->yaml, *scales = json_object_get(y, "scales"), *s = json_object_get(y, "scale");
	json_t *nc = json_object_get(y, "nc"), *rm = json_object_get(y, "reg_max"), *ch = json_object_get(y, "channels");
	a->depth = json_is_number(json_object_get(y, "depth_multiple"))
			   ? json_number_value(json_object_get(y, "depth_multiple")) : 1.0;
	a->width = json_is_number(json_object_get(y, "width_multiple"))
			   ? json_number_value(json_object_get(y, "width_multiple")) : 1.0;
	a->max_channels = INFINITY;
	if (json_is_object(scales) && json_object_size(scales)) {
		if (!json_is_string(s) || !json_string_length(s)) {
			/* Ultralytics takes the first scale listed. */
			s = json_string(json_object_iter_key(json_object_iter(scales)));
			json_object_set_new(y, "scale", s);
		}
		json_t *t = json_object_get(scales, json_string_value(s));
		if (!json_is_array(t) || json_array_size(t) != 3 || !json_is_number(json_array_get(t, 0)) ||
		    !json_is_number(json_array_get(t, 1)) || !json_is_number(json_array_get(t, 2)))
			return mlf_fail(err, MLF_EX_DATAERR, "model yaml: scale '%s' is not a [depth, width, max_channels] entry of 'scales'",
					json_string_value(s));
		a->scale = json_string_value(s);
		a->depth = json_number_value(json_array_get(t, 0));
		a->width = json_number_value(json_array_get(t, 1));
		a->max_channels = json_number_value(json_array_get(t, 2));
	} else if (json_is_string(s)) {
		a->scale = json_string_value(s);
	}
	if (!(a->depth > 0 && a->depth <= 100) || !(a->width > 0 && a->width <= 100) || !(a->max_channels > 0))
		return mlf_fail(err, MLF_EX_DATAERR, "model yaml: depth, width and max_channels must be positive");
	if (!json_is_integer(nc) || json_integer_value(nc) < 1 || json_integer_value(nc) > 1 << 20)
		return mlf_fail(err, MLF_EX_DATAERR, "model yaml: 'nc' must be a positive integer");
	a->nc = (int)json_integer_value(nc);
	a->reg_max = 16;
	if (rm) {
		if (!json_is_integer(rm) || json_integer_value(rm) < 1 || json_integer_value(rm) > 1024)
			return mlf_fail(err, MLF_EX_DATAERR, "model yaml: 'reg_max' must be a positive integer");
		a->reg_max = (int)json_integer_value(rm);
	}
	a->channels = 3;
	if (ch) {
		if (!json_is_integer(ch) || json_integer_value(ch) < 1 || json_integer_value(ch) > 1 << 16)
			return mlf_fail(err, MLF_EX_DATAERR, "model yaml: 'channels' must be a positive integer");
		a->channels = (int)json_integer_value(ch);
	}
	return 0;
}

void mlf_yolo_arch_init(struct mlf_yolo_arch *a)
{
	memset(a, 0, sizeof(*a));
}

void mlf_yolo_arch_release(struct mlf_yolo_arch *a)
{
	for (size_t i = 0; i < a->nparams; i++)
		free(a->params[i].name);
	free(a->params);
	free(a->layers);
	json_decref(a->yaml);
	mlf_yolo_arch_init(a);
}

int mlf_yolo_arch_from_yaml(struct mlf_yolo_arch *a, const json_t *yaml, struct mlf_error *err)
{
	mlf_yolo_arch_init(a);
	if (!json_is_object(yaml))
		return mlf_fail(err, MLF_EX_DATAERR, "model yaml: not a mapping");
	a->yaml = json_deep_copy(yaml);
	if (!a->yaml)
		return mlf_fail(err, MLF_EX_SOFTWARE, "model yaml: out of memory");
	const json_t *bb = json_object_get(a->yaml, "backbone"), *hd = json_object_get(a->yaml, "head");
	if (!json_is_array(bb) || !json_is_array(hd) || json_array_size(bb) + json_array_size(hd) == 0) {
		mlf_yolo_arch_release(a);
		return mlf_fail(err, MLF_EX_DATAERR, "model yaml: needs 'backbone' and 'head' lists of layers");
	}
	if (read_scaling(a, err) < 0)
		goto fail;
	size_t nb = json_array_size(bb), n = nb + json_array_size(hd);
	a->layers = mlf_xcalloc(n, sizeof(*a->layers));
	int legacy = 1; /* the YOLOv8 cls branch, until a C3k2 says otherwise */
	for (size_t i = 0; i < n; i++) {
		const json_t *e = i < nb ? json_array_get(bb, i) : json_array_get(hd, i - nb);
		if (parse_layer(a, (int)i, e, &legacy, err) < 0)
			goto fail;
		a->nlayers = i + 1;
	}
	return 0;
fail:
	mlf_yolo_arch_release(a);
	return -1;
}

const struct mlf_yolo_param *mlf_yolo_arch_next(const struct mlf_yolo_arch *a, size_t *it)
{
	return *it < a->nparams ? &a->params[(*it)++] : NULL;
}

const struct mlf_yolo_param *mlf_yolo_arch_find(const struct mlf_yolo_arch *a, const char *name)
{
	for (size_t i = 0; i < a->nparams; i++)
		if (!strcmp(a->params[i].name, name))
			return &a->params[i];
	return NULL;
}

int64_t mlf_yolo_arch_param_count(const struct mlf_yolo_arch *a)
{
	int64_t n = 0;
	for (size_t i = 0; i < a->nparams; i++)
		n += a->params[i].is_buffer ? 0 : a->params[i].numel;
	return n;
}

int64_t mlf_yolo_arch_buffer_count(const struct mlf_yolo_arch *a)
{
	int64_t n = 0;
	for (size_t i = 0; i < a->nparams; i++)
		n += a->params[i].is_buffer ? a->params[i].numel : 0;
	return n;
}
