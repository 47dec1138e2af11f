/*
 * Training arguments: 8.4.190's cfg/default.yaml, overrides from JSON and
 * args.yaml as the trainer writes it (mlf/torch/train.h).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/torch/train.h"

enum kind { K_INT, K_NINT, K_FLOAT, K_NFLOAT, K_BOOL, K_STR, K_NSTR, K_FIXED };

struct key {
	const char *name;
	enum kind kind;
	size_t off;             /* into struct mlf_train_args; unused for K_FIXED */
	size_t size;            /* string capacity */
	const char *def;        /* default (K_FIXED: the YAML written) */
};

#define F(n, k, d) { #n, k, offsetof(struct mlf_train_args, n), \
		     sizeof(((struct mlf_train_args *)0)->n), d }
#define X(n, d) { n, K_FIXED, 0, 0, d }

/* default.yaml's keys in its order; K_FIXED ones mlf does not use. */
static const struct key keys[] = {
	F(task, K_STR, "detect"), F(mode, K_STR, "train"), F(model, K_NSTR, ""),
	F(data, K_NSTR, ""), F(epochs, K_INT, "100"), F(time, K_NFLOAT, ""),
	F(patience, K_INT, "100"), F(batch, K_INT, "16"), F(imgsz, K_INT, "640"),
	F(save, K_BOOL, "1"), F(save_period, K_INT, "-1"), F(cache, K_BOOL, "0"),
	F(device, K_NSTR, ""), F(workers, K_INT, "8"), F(project, K_NSTR, ""),
	F(name, K_NSTR, ""), F(exist_ok, K_BOOL, "0"), F(pretrained, K_BOOL, "1"),
	F(cls_remap, K_BOOL, "1"), F(optimizer, K_STR, "auto"), F(verbose, K_BOOL, "1"),
	F(seed, K_INT, "0"), F(deterministic, K_BOOL, "1"), F(single_cls, K_BOOL, "0"),
	F(rect, K_BOOL, "0"), F(cos_lr, K_BOOL, "0"), F(close_mosaic, K_INT, "10"),
	F(resume, K_BOOL, "0"), F(amp, K_BOOL, "1"), F(fraction, K_FLOAT, "1.0"),
	F(profile, K_BOOL, "0"), F(freeze, K_NINT, ""), F(multi_scale, K_FLOAT, "0.0"),
	F(compile, K_BOOL, "0"), X("channels_last", "null"), X("overlap_mask", "true"),
	X("mask_ratio", "4"), X("dropout", "0.0"), F(val, K_BOOL, "1"), F(split, K_STR, "val"),
	F(save_json, K_BOOL, "0"), F(conf, K_NFLOAT, ""), F(iou, K_FLOAT, "0.7"),
	F(max_det, K_INT, "300"), X("quantize", "null"), X("dnn", "false"),
	F(plots, K_BOOL, "1"), X("nms", "null"), X("source", "null"), X("vid_stride", "1"),
	X("stream_buffer", "false"), X("visualize", "false"), X("augment", "false"),
	X("agnostic_nms", "false"), X("classes", "null"), X("retina_masks", "false"),
	X("embed", "null"), X("show", "false"), X("save_frames", "false"),
	X("save_txt", "false"), X("save_conf", "false"), X("save_crop", "false"),
	X("show_labels", "true"), X("show_conf", "true"), X("show_boxes", "true"),
	X("line_width", "null"), X("format", "torchscript"), X("optimize", "false"),
	X("dynamic", "false"), X("simplify", "true"), X("opset", "null"),
	X("workspace", "null"), F(lr0, K_FLOAT, "0.01"), F(lrf, K_FLOAT, "0.01"),
	F(momentum, K_FLOAT, "0.937"), F(weight_decay, K_FLOAT, "0.0005"),
	F(warmup_epochs, K_FLOAT, "3.0"), F(warmup_momentum, K_FLOAT, "0.8"),
	F(warmup_bias_lr, K_FLOAT, "0.1"), X("distill_model", "null"), X("dis", "6.0"),
	F(box, K_FLOAT, "7.5"), F(cls, K_FLOAT, "0.5"), F(cls_pw, K_FLOAT, "0.0"),
	F(dfl, K_FLOAT, "1.5"), X("pose", "12.0"), X("kobj", "1.0"), X("rle", "1.0"),
	X("angle", "1.0"), X("dlog", "1.0"), X("dgrad", "0.5"), X("dlam", "1.0"),
	F(nbs, K_INT, "64"), F(hsv_h, K_FLOAT, "0.015"), F(hsv_s, K_FLOAT, "0.7"),
	F(hsv_v, K_FLOAT, "0.4"), F(degrees, K_FLOAT, "0.0"), F(translate, K_FLOAT, "0.1"),
	F(scale, K_FLOAT, "0.5"), F(shear, K_FLOAT, "0.0"), F(perspective, K_FLOAT, "0.0"),
	F(flipud, K_FLOAT, "0.0"), F(fliplr, K_FLOAT, "0.5"), F(bgr, K_FLOAT, "0.0"),
	F(mosaic, K_FLOAT, "1.0"), F(mixup, K_FLOAT, "0.0"), F(cutmix, K_FLOAT, "0.0"),
	F(copy_paste, K_FLOAT, "0.0"), F(copy_paste_mode, K_STR, "flip"),
	X("auto_augment", "randaugment"), X("erasing", "0.4"), X("cfg", "null"),
	X("tracker", "tracktrack.yaml"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void *field(struct mlf_train_args *a, const struct key *k)
{
	return (char *)a + k->off;
}

void mlf_train_args_default(struct mlf_train_args *a)
{
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		void *f = field(a, k);
		switch (k->kind) {
		case K_INT: case K_BOOL: *(int *)f = atoi(k->def); break;
		case K_NINT: *(int *)f = MLF_ARG_NULL_INT; break;
		case K_FLOAT: *(double *)f = strtod(k->def, NULL); break;
		case K_NFLOAT: *(double *)f = NAN; break;
		case K_STR: case K_NSTR: snprintf(f, k->size, "%s", k->def); break;
		case K_FIXED: break;
		}
	}
}

static int set_key(struct mlf_train_args *a, const char *name, const json_t *v,
		   struct mlf_error *err)
{
	const struct key *k = NULL;
	for (size_t i = 0; i < NKEYS && !k; i++)
		if (strcmp(keys[i].name, name) == 0)
			k = &keys[i];
	if (!k && strcmp(name, "save_dir") == 0) {
		static const struct key sd = F(save_dir, K_NSTR, "");
		k = &sd;
	}
	if (!k)
		return mlf_fail(err, 64, "training argument '%s' is not an Ultralytics setting "
				"(see cfg/default.yaml of ultralytics 8.4.190)", name);
	if (k->kind == K_FIXED)
		return mlf_fail(err, 64, "training argument '%s' is not supported by mlf "
				"(it keeps Ultralytics' default)", name);
	void *f = field(a, k);
	int nullable = k->kind == K_NINT || k->kind == K_NFLOAT || k->kind == K_NSTR;
	if (json_is_null(v)) {
		if (!nullable)
			return mlf_fail(err, 64, "training argument '%s' cannot be null", name);
		if (k->kind == K_NINT)
			*(int *)f = MLF_ARG_NULL_INT;
		else if (k->kind == K_NFLOAT)
			*(double *)f = NAN;
		else
			*(char *)f = '\0';
		return 0;
	}
	switch (k->kind) {
	case K_INT: case K_NINT:
		if (!json_is_integer(v) || json_integer_value(v) <= MLF_ARG_NULL_INT ||
		    json_integer_value(v) > INT32_MAX)
			return mlf_fail(err, 64, "training argument '%s' must be an integer", name);
		*(int *)f = (int)json_integer_value(v);
		return 0;
	case K_FLOAT: case K_NFLOAT:
		if (!json_is_number(v))
			return mlf_fail(err, 64, "training argument '%s' must be a number", name);
		*(double *)f = json_number_value(v);
		return 0;
	case K_BOOL:
		if (!json_is_boolean(v))
			return mlf_fail(err, 64, "training argument '%s' must be true or false", name);
		*(int *)f = json_is_true(v);
		return 0;
	case K_STR: case K_NSTR: {
		const char *s = json_string_value(v);
		if (!s)
			return mlf_fail(err, 64, "training argument '%s' must be a string", name);
		if (strlen(s) >= k->size)
			return mlf_fail(err, 64, "training argument '%s' is longer than %zu bytes",
					name, k->size - 1);
		if (!*s && !nullable)
			return mlf_fail(err, 64, "training argument '%s' cannot be empty", name);
		memcpy(f, s, strlen(s) + 1);
		return 0;
	}
	case K_FIXED: break;
	}
	return mlf_fail(err, 64, "training argument '%s': internal error", name);
}

int mlf_train_args_override(struct mlf_train_args *a, const json_t *obj, struct mlf_error *err)
{
	if (!json_is_object(obj))
		return mlf_fail(err, 64, "training arguments must be a JSON object");
	const char *name;
	json_t *v;
	json_object_foreach((json_t *)obj, name, v)
		if (set_key(a, name, v, err) < 0)
			return -1;
	return 0;
}

double mlf_py_round(double x)
{
	return nearbyint(x); /* the default rounding mode: halves to even, as Python */
}

double mlf_py_round6(double x)
{
	/* Python rounds the exact binary value to 6 decimals (ties to even), as
	 * glibc's printf does; the result is the double nearest that decimal. */
	char s[64];
	snprintf(s, sizeof(s), "%.6f", x);
	return strtod(s, NULL);
}

/* PyYAML's float: Python's repr() ("1e-05" made "1.0e-05"), YAML's names for NaN and infinities. */
static void yaml_float(struct mlf_buf *out, double x)
{
	if (isnan(x)) {
		mlf_buf_adds(out, ".nan");
		return;
	}
	if (isinf(x)) {
		mlf_buf_adds(out, x > 0 ? ".inf" : "-.inf");
		return;
	}
	struct mlf_buf r = MLF_BUF_INIT;
	mlf_buf_add_py_float(&r, x);
	const char *e = strchr(r.data, 'e');
	if (e && !memchr(r.data, '.', (size_t)(e - r.data))) {
		mlf_buf_add(out, r.data, (size_t)(e - r.data));
		mlf_buf_adds(out, ".0");
		mlf_buf_adds(out, e);
	} else {
		mlf_buf_adds(out, r.data);
	}
	mlf_buf_release(&r);
}

/* PyYAML's plain style when the string cannot be read back as something
 * else, single quotes otherwise. */
static void yaml_str(struct mlf_buf *out, const char *s)
{
	static const char *const special[] = {
		"null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE",
		"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
	};
	int plain = *s && !strchr("-.0123456789+", s[0]);
	for (const char *c = s; plain && *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-", *c))
			plain = 0;
	for (size_t i = 0; plain && i < sizeof(special) / sizeof(special[0]); i++)
		if (strcmp(s, special[i]) == 0)
			plain = 0;
	/* paths starting with '/', '.' or digits are plain too when not numbers */
	if (!plain && *s && strchr("/.", s[0]) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0) {
		plain = 1;
		for (const char *c = s; plain && *c; c++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-", *c))
				plain = 0;
		if (plain && s[0] == '.' && s[1] >= '0' && s[1] <= '9')
			plain = 0;
	}
	if (plain) {
		mlf_buf_adds(out, s);
		return;
	}
	mlf_buf_addc(out, '\'');
	for (const char *c = s; *c; c++) {
		if (*c == '\'')
			mlf_buf_addc(out, '\'');
		mlf_buf_addc(out, *c);
	}
	mlf_buf_addc(out, '\'');
}

int mlf_train_args_yaml(const struct mlf_train_args *a, struct mlf_buf *out, struct mlf_error *err)
{
	(void)err;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const void *f = (const char *)a + k->off;
		mlf_buf_addf(out, "%s: ", k->name);
		switch (k->kind) {
		case K_INT: mlf_buf_addf(out, "%d", *(const int *)f); break;
		case K_NINT:
			if (*(const int *)f == MLF_ARG_NULL_INT)
				mlf_buf_adds(out, "null");
			else
				mlf_buf_addf(out, "%d", *(const int *)f);
			break;
		case K_BOOL: mlf_buf_adds(out, *(const int *)f ? "true" : "false"); break;
		case K_FLOAT: yaml_float(out, *(const double *)f); break;
		case K_NFLOAT:
			if (isnan(*(const double *)f))
				mlf_buf_adds(out, "null");
			else
				yaml_float(out, *(const double *)f);
			break;
		case K_STR: case K_NSTR:
			if (k->kind == K_NSTR && !*(const char *)f)
				mlf_buf_adds(out, "null");
			else
				yaml_str(out, f);
			break;
		case K_FIXED: mlf_buf_adds(out, k->def); break;
		}
		mlf_buf_addc(out, '\n');
	}
	if (a->save_dir[0]) {
		mlf_buf_adds(out, "save_dir: ");
		yaml_str(out, a->save_dir);
		mlf_buf_addc(out, '\n');
	}
	return 0;
}

json_t *mlf_train_args_json(const struct mlf_train_args *a)
{
	json_t *o = json_object();
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const void *f = (const char *)a + k->off;
		json_t *v = NULL;
		switch (k->kind) {
		case K_INT: v = json_integer(*(const int *)f); break;
		case K_NINT:
			v = *(const int *)f == MLF_ARG_NULL_INT ? json_null() : json_integer(*(const int *)f);
			break;
		case K_BOOL: v = json_boolean(*(const int *)f); break;
		case K_FLOAT: v = json_real(*(const double *)f); break;
		case K_NFLOAT:
			v = isnan(*(const double *)f) ? json_null() : json_real(*(const double *)f);
			break;
		case K_STR: case K_NSTR:
			v = k->kind == K_NSTR && !*(const char *)f ? json_null() : json_string(f);
			break;
		case K_FIXED: continue;
		}
		json_object_set_new(o, k->name, v);
	}
	if (a->save_dir[0])
		json_object_set_new(o, "save_dir", json_string(a->save_dir));
	return o;
}
