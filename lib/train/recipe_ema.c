/*
 * ModelEMA of 8.4.190 (utils/torch_utils.py): a float copy of the whole
 * state_dict, lerped toward the model after every optimizer step.
 */
#include <math.h>
#include <stdlib.h>

#include "mlf/torch/train.h"

static int shim_fail(struct mlf_error *err, const char *what)
{
	return mlf_fail(err, 70, "%s: %s", what, mlf_th_error());
}

static int is_float(enum mlf_dtype t)
{
	return t == MLF_DTYPE_F32 || t == MLF_DTYPE_F64 || t == MLF_DTYPE_F16 || t == MLF_DTYPE_BF16;
}

void mlf_ema_init(struct mlf_ema *e)
{
	e->tensors = NULL;
	e->ntensors = 0;
	e->updates = 0;
	e->decay = 0.9999;
	e->tau = 2000;
}

void mlf_ema_release(struct mlf_ema *e)
{
	for (size_t i = 0; i < e->ntensors; i++)
		mlf_th_free(e->tensors[i]);
	free(e->tensors);
	mlf_ema_init(e);
}

int mlf_ema_create(struct mlf_ema *e, const struct mlf_yolo_model *m, struct mlf_error *err)
{
	mlf_ema_release(e);
	e->tensors = mlf_xcalloc(m->ntensors ? m->ntensors : 1, sizeof(*e->tensors));
	int prev = mlf_th_grad_enabled(0);
	for (size_t i = 0; i < m->ntensors; i++) {
		mlf_th *t = mlf_th_unscope(mlf_th_clone(m->tensors[i]));
		if (!t) {
			mlf_th_grad_enabled(prev);
			mlf_ema_release(e);
			return shim_fail(err, "EMA copy");
		}
		e->tensors[e->ntensors++] = t;
		if (mlf_th_requires_grad(t) == 1)
			mlf_th_set_requires_grad(t, 0);
	}
	mlf_th_grad_enabled(prev);
	return 0;
}

int mlf_ema_update(struct mlf_ema *e, const struct mlf_yolo_model *m, struct mlf_error *err)
{
	if (e->ntensors != m->ntensors)
		return mlf_fail(err, 64, "EMA of %zu tensors updated from a model of %zu",
				e->ntensors, m->ntensors);
	e->updates++;
	double d = e->decay * (1 - exp(-(double)e->updates / e->tau));
	double w = 1 - d;
	/* ModelEMA.update: _foreach_lerp_(ema floats, model floats, 1 - d);
	 * num_batches_tracked stays as the copy made it */
	mlf_th **ema = mlf_xcalloc(e->ntensors ? e->ntensors : 1, sizeof(*ema));
	mlf_th **cur = mlf_xcalloc(e->ntensors ? e->ntensors : 1, sizeof(*cur));
	size_t n = 0;
	for (size_t i = 0; i < e->ntensors; i++)
		if (is_float(mlf_th_dtype(e->tensors[i]))) {
			ema[n] = e->tensors[i];
			cur[n++] = m->tensors[i];
		}
	int prev = mlf_th_grad_enabled(0);
	int rc = mlf_th_foreach_lerp_(n, ema, cur, w);
	mlf_th_grad_enabled(prev);
	free(ema);
	free(cur);
	return rc < 0 ? shim_fail(err, "EMA update") : 0;
}

int mlf_ema_apply(const struct mlf_ema *e, struct mlf_yolo_model *m, struct mlf_error *err)
{
	if (e->ntensors != m->ntensors)
		return mlf_fail(err, 64, "EMA of %zu tensors applied to a model of %zu",
				e->ntensors, m->ntensors);
	int prev = mlf_th_grad_enabled(0);
	int rc = 0;
	for (size_t i = 0; i < e->ntensors && rc == 0; i++)
		rc = mlf_th_copy_(m->tensors[i], e->tensors[i]);
	mlf_th_grad_enabled(prev);
	mlf_yolo_model_weights_changed(m);
	return rc < 0 ? shim_fail(err, "EMA apply") : 0;
}
