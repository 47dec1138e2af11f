/*
 * Weights in and out by state_dict name: loading from a checkpoint (strict,
 * or Ultralytics' intersect_dicts transfer) and exporting to one.
 */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

static int copy_in(mlf_th *dst, const struct mlf_tensor *t)
{
	size_t mark = mlf_th_scope_open();
	mlf_th *src = mlf_th_from_data(t->data, t->dtype, t->ndim, t->shape, MLF_TH_CPU);
	int rc = src ? mlf_th_copy_(dst, src) : -1;
	mlf_th_scope_close(mark);
	return rc;
}

int mlf_yolo_model_load(struct mlf_yolo_model *m, const struct mlf_ckpt *c, unsigned flags,
			size_t *loaded, struct mlf_error *err)
{
	const struct mlf_yolo_arch *a = &m->arch;
	int partial = !!(flags & MLF_YOLO_LOAD_PARTIAL);
	if (loaded)
		*loaded = 0;
	if (!partial && mlf_yolo_arch_check_ckpt(a, c, err) < 0)
		return -1;
	int grad = mlf_th_grad_enabled(0);
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < a->nparams && !rc; i++) {
		const struct mlf_tensor *t = mlf_ckpt_find(c, a->params[i].name);
		struct mlf_error skip = MLF_ERROR_INIT;
		if (!t || mlf_yolo_param_mismatch(&a->params[i], t, &skip) < 0)
			continue;  /* a partial load takes what fits */
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
		enum mlf_dtype dt = mlf_yolo_param_is_counter(p) ? MLF_DTYPE_I64 : MLF_DTYPE_F32;
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
