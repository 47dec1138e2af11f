/*
 * The Detect head (ultralytics 8.4.190 nn/modules/head.py Detect, utils/tal.py
 * make_anchors and dist2bbox): the box and class branches per level, and the
 * inference decoding: DFL softmax-expectation over the reg_max bins, anchors
 * at cell centres (offset 0.5), ltrb distances to xywh, times the stride.
 * The anchors are shared with the loss (lib/model/loss.c).
 */
#include <stdint.h>

#include "model_internal.h"

static mlf_th *branch(const struct yfwd *f, const int *convs, int n, const mlf_th *x)
{
	mlf_th *y = (mlf_th *)x;
	for (int j = 0; j < n; j++)
		y = yolo_conv_fwd(f, convs[j], y);
	return y;
}

int yolo_make_anchors(const struct mlf_yolo_output *o, enum mlf_dtype dt, int dev, mlf_th **points,
		      mlf_th **strides)
{
	mlf_th *pts[MLF_YOLO_MAX_LEVELS], *st[MLF_YOLO_MAX_LEVELS];
	if (o->nlevels < 1 || o->nlevels > MLF_YOLO_MAX_LEVELS)
		return -1;
	for (int i = 0; i < o->nlevels; i++) {
		int64_t hw[2] = { o->h[i], o->w[i] }, n1[2] = { (int64_t)o->h[i] * o->w[i], 1 };
		int64_t col[2] = { o->h[i], 1 }, row[2] = { 1, o->w[i] }, flat[2] = { -1, 2 };
		mlf_th *sx = mlf_th_binary_s(MLF_TH_ADD, mlf_th_to(mlf_th_arange(0, o->w[i], 1, MLF_DTYPE_I64, dev),
								    dt, dev), 0.5);
		mlf_th *sy = mlf_th_binary_s(MLF_TH_ADD, mlf_th_to(mlf_th_arange(0, o->h[i], 1, MLF_DTYPE_I64, dev),
								    dt, dev), 0.5);
		mlf_th *grid[2] = { mlf_th_expand(mlf_th_reshape(sx, 2, row), 2, hw),
				    mlf_th_expand(mlf_th_reshape(sy, 2, col), 2, hw) };
		if (!grid[0] || !grid[1])
			return -1;
		pts[i] = mlf_th_reshape(mlf_th_stack(2, grid, -1), 2, flat);
		st[i] = mlf_th_full(2, n1, o->stride[i], dt, dev);
		if (!pts[i] || !st[i])
			return -1;
	}
	*points = mlf_th_cat((size_t)o->nlevels, pts, 0);
	*strides = mlf_th_cat((size_t)o->nlevels, st, 0);
	return *points && *strides ? 0 : -1;
}

/* Detect._inference: cat(dist2bbox(dfl(boxes), anchors) * strides, sigmoid(scores)). */
static mlf_th *decode(const struct yfwd *f, const struct ymod *d, mlf_th *const *box, mlf_th *const *cls,
		      const struct mlf_yolo_output *o)
{
	mlf_th *bs[MLF_YOLO_MAX_LEVELS], *cs[MLF_YOLO_MAX_LEVELS];
	int64_t B = mlf_th_size(box[0], 0);
	for (int i = 0; i < d->nl; i++) {
		int64_t bshape[3] = { B, 4 * (int64_t)d->reg_max, -1 }, cshape[3] = { B, d->nc, -1 };
		if (!(bs[i] = mlf_th_reshape(box[i], 3, bshape)) || !(cs[i] = mlf_th_reshape(cls[i], 3, cshape)))
			return NULL;
	}
	mlf_th *boxes = mlf_th_cat((size_t)d->nl, bs, 2), *scores = mlf_th_cat((size_t)d->nl, cs, 2);
	int64_t A = mlf_th_size(boxes, 2);
	mlf_th *dist = boxes;
	if (d->dfl >= 0) {
		/* DFL: view (B, 4, reg_max, A), softmax over the bins, 1x1 conv with 0..reg_max-1. */
		int64_t v[4] = { B, 4, d->reg_max, A }, v3[3] = { B, 4, A };
		mlf_th *p = mlf_th_softmax(mlf_th_transpose(mlf_th_reshape(boxes, 4, v), 2, 1), 1);
		dist = mlf_th_reshape(mlf_th_conv2d(p, f->net->convs[d->dfl].w, NULL, 1, 0, 1, 1), 3, v3);
	}
	/* Anchors transposed as Detect caches them: points [1, 2, A], strides [1, A]. */
	mlf_th *pts = NULL, *st = NULL;
	if (!dist || yolo_make_anchors(o, mlf_th_dtype(dist), mlf_th_device(dist), &pts, &st) < 0)
		return NULL;
	pts = mlf_th_unsqueeze(mlf_th_transpose(pts, 0, 1), 0);
	st = mlf_th_transpose(st, 0, 1);
	mlf_th *lt = mlf_th_slice(dist, 1, 0, 2, 1), *rb = mlf_th_slice(dist, 1, 2, 4, 1);
	mlf_th *x1y1 = mlf_th_binary(MLF_TH_SUB, pts, lt), *x2y2 = mlf_th_binary(MLF_TH_ADD, pts, rb);
	mlf_th *xywh[2] = { mlf_th_binary_s(MLF_TH_DIV, mlf_th_binary(MLF_TH_ADD, x1y1, x2y2), 2),
			    mlf_th_binary(MLF_TH_SUB, x2y2, x1y1) };
	if (!xywh[0] || !xywh[1])
		return NULL;
	mlf_th *out[2] = { mlf_th_binary(MLF_TH_MUL, mlf_th_cat(2, xywh, 1), st),
			   mlf_th_unary(MLF_TH_SIGMOID, scores) };
	if (!out[0] || !out[1])
		return NULL;
	return mlf_th_cat(2, out, 1);
}

int yolo_detect_fwd(const struct yfwd *f, const struct ymod *d, mlf_th *const *feats, unsigned what,
		    struct mlf_yolo_output *out)
{
	mlf_th *box[MLF_YOLO_MAX_LEVELS], *cls[MLF_YOLO_MAX_LEVELS];
	out->nlevels = d->nl;
	for (int i = 0; i < d->nl; i++) {
		out->h[i] = (int)mlf_th_size(feats[i], 2);
		out->w[i] = (int)mlf_th_size(feats[i], 3);
		out->stride[i] = d->strides[i];
		box[i] = branch(f, d->box[i], 3, feats[i]);
		cls[i] = branch(f, d->cls[i], d->ncls, feats[i]);
		if (!box[i] || !cls[i])
			return -1;
	}
	if (what & MLF_YOLO_OUT_LEVELS)
		for (int i = 0; i < d->nl; i++) {
			mlf_th *pair[2] = { box[i], cls[i] };
			if (!(out->level[i] = mlf_th_cat(2, pair, 1)))
				return -1;
		}
	if ((what & MLF_YOLO_OUT_DECODED) && !f->training && !(out->decoded = decode(f, d, box, cls, out)))
		return -1;
	return 0;
}
