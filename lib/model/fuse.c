/*
 * BatchNorm folded into the preceding conv, as Ultralytics' fuse() does
 * before predict (torch.nn.utils.fusion.fuse_conv_bn_weights, same
 * operation order):
 *     rs = rsqrt(running_var + eps)
 *     w' = w * (gamma * rs).reshape(-1, 1, 1, 1)
 *     b' = (0 - running_mean) * rs * gamma + beta
 * Computed once and cached until the weights change.
 */
#include "model_internal.h"

static int fold_one(struct yconv *c, int channels_last)
{
	int64_t col[4] = { -1, 1, 1, 1 };
	mlf_th *rs = mlf_th_unary(MLF_TH_RSQRT, mlf_th_binary_s(MLF_TH_ADD, c->bn_var, MLF_YOLO_BN_EPS));
	mlf_th *w = mlf_th_binary(MLF_TH_MUL, c->w, mlf_th_reshape(mlf_th_binary(MLF_TH_MUL, c->bn_w, rs), 4, col));
	mlf_th *b = mlf_th_binary(MLF_TH_SUB, mlf_th_zeros_like(c->bn_mean), c->bn_mean);
	b = mlf_th_binary(MLF_TH_ADD, mlf_th_binary(MLF_TH_MUL, mlf_th_binary(MLF_TH_MUL, b, rs), c->bn_w), c->bn_b);
	if (channels_last)
		w = mlf_th_channels_last(w);
	else
		w = mlf_th_contiguous(w);
	if (!w || !b)
		return -1;
	c->fw = yolo_own(w);
	c->fb = yolo_own(b);
	return 0;
}

void yolo_unfold(struct yolo_net *n)
{
	for (size_t i = 0; i < n->nconvs; i++) {
		mlf_th_free(n->convs[i].fw);
		mlf_th_free(n->convs[i].fb);
		n->convs[i].fw = n->convs[i].fb = NULL;
	}
	n->folded = 0;
}

int yolo_fold(struct mlf_yolo_model *m, struct mlf_error *err)
{
	struct yolo_net *n = m->net;
	if (n->folded && n->folded_cl == m->channels_last)
		return 0;
	yolo_unfold(n);
	int grad = mlf_th_grad_enabled(0);
	size_t mark = mlf_th_scope_open();
	int rc = 0;
	for (size_t i = 0; i < n->nconvs && !rc; i++)
		if (n->convs[i].bn_w && fold_one(&n->convs[i], m->channels_last) < 0)
			rc = mlf_th_fail(err, "model: folding BatchNorm into conv %zu", i);
	mlf_th_scope_close(mark);
	mlf_th_grad_enabled(grad);
	if (rc) {
		yolo_unfold(n);
		return -1;
	}
	n->folded = 1;
	n->folded_cl = m->channels_last;
	return 0;
}
