/*
 * A checkpoint against the architecture it describes: the strict rule of
 * which tensors a detector needs (every parameter and buffer, by state_dict
 * name, shape and kind of dtype, and nothing else), without libtorch, so that
 * mlf-validate and retrain-run refuse the same base models before a run.
 */
#include <stdio.h>
#include <string.h>

#include "mlf/ckpt.h"
#include "mlf/yolo.h"

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

int mlf_yolo_param_is_counter(const struct mlf_yolo_param *p)
{
	return p->ndim == 0 && p->is_buffer;
}

int mlf_yolo_param_mismatch(const struct mlf_yolo_param *p, const struct mlf_tensor *t,
			    struct mlf_error *err)
{
	char want[160], have[160];
	if (!same_shape(p, t)) {
		shape_str(want, sizeof(want), p->ndim, p->shape);
		shape_str(have, sizeof(have), t->ndim, t->shape);
		return mlf_fail(err, MLF_EX_DATAERR, "checkpoint tensor %s has shape %s, the model's is %s",
				p->name, have, want);
	}
	if (mlf_yolo_param_is_counter(p) ? !is_int(t->dtype) : !is_float(t->dtype))
		return mlf_fail(err, MLF_EX_DATAERR, "checkpoint tensor %s is %s, the model needs %s",
				p->name, mlf_dtype_name(t->dtype), mlf_yolo_param_is_counter(p) ? "an integer" : "floating point");
	return 0;
}

int mlf_yolo_arch_check_ckpt(const struct mlf_yolo_arch *a, const struct mlf_ckpt *c,
			     struct mlf_error *err)
{
	for (size_t i = 0; i < a->nparams; i++) {
		const struct mlf_tensor *t = mlf_ckpt_find(c, a->params[i].name);
		if (!t)
			return mlf_fail(err, MLF_EX_DATAERR, "checkpoint has no tensor %s, which the model needs",
					a->params[i].name);
		if (mlf_yolo_param_mismatch(&a->params[i], t, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < c->ntensors; i++)
		if (!mlf_yolo_arch_find(a, c->tensors[i].name))
			return mlf_fail(err, MLF_EX_DATAERR, "checkpoint tensor %s is not part of the model",
					c->tensors[i].name);
	return 0;
}

int mlf_yolo_checkpoint_read(const char *path, struct mlf_ckpt *c, struct mlf_error *err)
{
	struct mlf_yolo_arch a;
	mlf_yolo_arch_init(&a);
	mlf_ckpt_init(c);
	if (mlf_ckpt_read_pt(path, c, err))
		goto fail;
	const json_t *yaml = json_object_get(c->meta, "yaml");
	if (!json_is_object(yaml)) {
		mlf_fail(err, MLF_EX_DATAERR, "%s has no model description (meta \"yaml\"): not an "
			 "Ultralytics detection checkpoint", path);
		goto fail;
	}
	if (mlf_yolo_arch_from_yaml(&a, yaml, err) < 0) {
		mlf_error_prefix(err, "%s: its model description", path);
		goto fail;
	}
	if (mlf_yolo_arch_check_ckpt(&a, c, err) < 0) {
		mlf_error_prefix(err, "%s", path);
		goto fail;
	}
	mlf_yolo_arch_release(&a);
	return 0;
fail:
	mlf_yolo_arch_release(&a);
	mlf_ckpt_release(c);
	return -1;
}
