/*
 * Weights in and out by state_dict name: loading from a checkpoint (strict,
 * or Ultralytics' intersect_dicts transfer) and exporting to one.
 */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

static int is_float(enum mlf_dtype t)
{
	return t == MLF_DTYPE_F32 || t == MLF_DTYPE_F16 || t == MLF_DTYPE_BF16 || t == MLF_DTYPE_F64;
}

static int is_int(enum mlf_dtype t)
{
	return t == MLF_DTYPE_I64 || t == MLF_DTYPE_I32 || t == MLF_DTYPE_I16 || t == MLF_DTYPE_I8 ||
	       t == MLF_DTYPE_U8;
}

static void shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
	size_t n = (size_t)snprintf(buf, size, "[");
	for (int d = 0; d < ndim && n < size; d++)
		n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
}

static int same_shape(const struct mlf_yolo_param *p, const struct mlf_tensor *t)
{
	if (p->ndim != t->ndim)
		return 0;
	for (int d = 0; d < p->ndim; d++)
		if (p->shape[d] != t->shape[d])
			return 0;
	return 1;
}

static int counter_param(const struct mlf_yolo_param *p)
{
	return p->ndim == 0 && p->is_buffer;
}

static int dtype_fits(const struct mlf_yolo_param *p, const struct mlf_tensor *t)
{
	return counter_param(p) ? is_int(t->dtype) : is_float(t->dtype);
}

/* Why `t` cannot go into `p`, or 0 when it can. */
static int mismatch(const struct mlf_yolo_param *p, const struct mlf_tensor *t, struct mlf_error *err)
{
	char want[160], have[160];
	if (!same_shape(p, t)) {
		shape_str(want, sizeof(want), p->ndim, p->shape);
		shape_str(have, sizeof(have), t->ndim, t->shape);
		return mlf_fail(err, MLF_EX_DATAERR, "checkpoint tensor %s has shape %s, the model's is %s",
				p->name, have, want);
	}
	if (!dtype_fits(p, t))
		return mlf_fail(err, MLF_EX_DATAERR, "checkpoint tensor %s is %s, the model needs %s",
				p->name, mlf_dtype_name(t->dtype), counter_param(p) ? "an integer" : "floating point");
	return 0;
}

static int copy_in(mlf_th *dst, const struct mlf_tensor *t)
{
	size_t mark = mlf_th_scope_open();
	mlf_th *src = mlf_th_from_data(t->data, t->dtype, t->ndim, t->shape, MLF_TH_CPU);
	int rc = src ? mlf_th_copy_(dst, src) : -1;
	mlf_th_scope_close(mark);
	return rc;
}

static int check_strict(const struct mlf_yolo_model *m, const struct mlf_ckpt *c, struct mlf_error *err)
{
	const struct mlf_yolo_arch *a = &m->arch;
	for (size_t i = 0; i < a->nparams; i++) {
		const struct mlf_tensor *t = mlf_ckpt_find(c, a->params[i].name);
		if (!t)
			return mlf_fail(err, MLF_EX_DATAERR, "checkpoint has no tensor %s, which the model needs",
					a->params[i].name);
		if (mismatch(&a->params[i], t, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < c->ntensors; i++)
		if (!mlf_yolo_arch_find(a, c->tensors[i].name))
			return mlf_fail(err, MLF_EX_DATAERR, "checkpoint tensor %s is not part of the model",
					c->tensors[i].name);
	return 0;
}

int mlf_yolo_model_load(struct mlf_yolo_model *m, const struct mlf_ckpt *c, unsigned flags,
			size_t *loaded, struct mlf_error *err)
{
	const struct mlf_yolo_arch *a = &m->arch;
	int partial = !!(flags & MLF_YOLO_LOAD_PARTIAL);
	if (loaded)
		*loaded = 0;
	if (!partial && check_strict(m, c, err) < 0)
		return -1;
	int grad = mlf_th_grad_enabled(0);
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < a->nparams && !rc; i++) {
		const struct mlf_tensor *t = mlf_ckpt_find(c, a->params[i].name);
		if (!t || !same_shape(&a->params[i], t) || !dtype_fits(&a->params[i], t))
			continue;
		if (copy_in(m->tensors[i], t) < 0)
			rc = mlf_th_fail(err, "model: loading %s", a->params[i].name);
		else
			n++;
	}
	mlf_th_grad_enabled(grad);
	if (m->net)
		yolo_unfold(m->net);
	if (loaded)
		*loaded = n;
	return rc;
}

static json_t *export_meta(const struct mlf_yolo_model *m)
{
	json_t *meta = json_object(), *stride = json_array();
	double s[MLF_YOLO_MAX_LEVELS];
	int n = mlf_yolo_model_strides(m, s, MLF_YOLO_MAX_LEVELS);
	for (int i = 0; i < n; i++)
		json_array_append_new(stride, json_real(s[i]));
	json_object_set_new(meta, "yaml", json_deep_copy(m->arch.yaml));
	json_object_set_new(meta, "nc", json_integer(m->arch.nc));
	json_object_set_new(meta, "stride", stride);
	return meta;
}

int mlf_yolo_model_export(const struct mlf_yolo_model *m, struct mlf_ckpt *out, struct mlf_error *err)
{
	const struct mlf_yolo_arch *a = &m->arch;
	for (size_t i = 0; i < a->nparams; i++) {
		const struct mlf_yolo_param *p = &a->params[i];
		enum mlf_dtype dt = counter_param(p) ? MLF_DTYPE_I64 : MLF_DTYPE_F32;
		struct mlf_tensor *t = mlf_ckpt_add(out, p->name, dt, p->ndim, p->shape, err);
		if (!t)
			return -1;
		t->requires_grad = !p->is_buffer && mlf_th_requires_grad(m->tensors[i]) > 0;
		if (mlf_th_copy_out(m->tensors[i], dt, t->data, t->nbytes) < 0)
			return mlf_th_fail(err, "model: exporting %s", p->name);
	}
	if (!out->meta)
		out->meta = export_meta(m);
	return 0;
}
