/*
 * A fresh model's values, as DetectionModel(cfg) leaves them in ultralytics
 * 8.4.190: PyTorch's default Conv2d init (initialize_weights leaves convs
 * alone), BatchNorm at its defaults, Detect.bias_init, the fixed DFL bins.
 */
#include <math.h>

#include "model_internal.h"

/* nn.Conv2d.reset_parameters: kaiming_uniform_(a=sqrt(5)) is U(+-1/sqrt(fan_in)),
 * and the bias U(+-1/sqrt(fan_in)) too. */
static int init_conv(const struct yconv *c)
{
	double fan_in = (double)(c->c1 / c->g) * c->k * c->k;
	double bound = 1.0 / sqrt(fan_in);
	if (mlf_th_uniform_(c->w, -bound, bound) < 0 || (c->b && mlf_th_uniform_(c->b, -bound, bound) < 0))
		return -1;
	if (!c->bn_w)
		return 0;
	return mlf_th_fill_(c->bn_w, 1) < 0 || mlf_th_fill_(c->bn_b, 0) < 0 || mlf_th_fill_(c->bn_mean, 0) < 0 ||
	       mlf_th_fill_(c->bn_var, 1) < 0 || mlf_th_fill_(c->bn_count, 0) < 0 ? -1 : 0;
}

/*
 * Detect.bias_init: box output biases 2.0 (8.4.190; older releases used
 * 1.0), class output biases log(5 / nc / (640 / stride)^2).  Ultralytics
 * evaluates the ratio with the stride as a float32 tensor, then log() in
 * double; done the same way here.
 */
static int init_detect(const struct yolo_net *n, const struct ymod *d)
{
	for (int i = 0; i < d->nl; i++) {
		float cells = 640.0f / (float)d->strides[i];
		float ratio = (float)(5.0 / d->nc) / (cells * cells);
		if (mlf_th_fill_(n->convs[d->box[i][2]].b, 2.0) < 0 ||
		    mlf_th_fill_(n->convs[d->cls[i][d->ncls - 1]].b, log((double)ratio)) < 0)
			return -1;
	}
	if (d->dfl < 0)
		return 0;
	/* DFL(c1): conv.weight = arange(c1).view(1, c1, 1, 1), never trained. */
	int64_t shape[4] = { 1, d->reg_max, 1, 1 };
	size_t mark = mlf_th_scope_open();
	mlf_th *bins = mlf_th_reshape(mlf_th_arange(0, d->reg_max, 1, MLF_DTYPE_F32, MLF_TH_CPU), 4, shape);
	int rc = bins ? mlf_th_copy_(n->convs[d->dfl].w, bins) : -1;
	mlf_th_scope_close(mark);
	return rc;
}

int mlf_yolo_model_reset_parameters(struct mlf_yolo_model *m, struct mlf_error *err)
{
	struct yolo_net *n = m->net;
	int grad = mlf_th_grad_enabled(0);
	int rc = 0;
	for (size_t i = 0; i < n->nconvs && !rc; i++)
		rc = init_conv(&n->convs[i]);
	if (!rc)
		rc = init_detect(n, &n->layers[n->nlayers - 1].mods[0]);
	for (size_t i = 0; i < m->ntensors && !rc; i++)
		if (!m->arch.params[i].is_buffer)
			rc = mlf_th_set_requires_grad(m->tensors[i], m->arch.params[i].requires_grad);
	mlf_th_grad_enabled(grad);
	yolo_unfold(n);
	return rc < 0 ? mlf_th_fail(err, "model: initialising the weights") : 0;
}
