/*
 * Box geometry of the loss: CIoU (ultralytics 8.4.190 utils/metrics.py
 * bbox_iou), the DFL decoding of predicted boxes (utils/loss.py bbox_decode,
 * utils/tal.py dist2bbox, bbox2dist) and BboxLoss with DFLoss.
 */
#include <math.h>
#include <stdint.h>

#include "model_internal.h"

#define CIOU_EPS 1e-7

static mlf_th *bin(enum mlf_th_binary op, const mlf_th *a, const mlf_th *b)
{
	return mlf_th_binary(op, a, b);
}

mlf_th *yolo_ciou(const mlf_th *box1, const mlf_th *box2)
{
	static const int64_t four[4] = { 1, 1, 1, 1 };
	mlf_th *a[4], *b[4];
	if (mlf_th_split(box1, 4, four, -1, a) < 0 || mlf_th_split(box2, 4, four, -1, b) < 0)
		return NULL;
	/* a/b: x1, y1, x2, y2 */
	mlf_th *w1 = bin(MLF_TH_SUB, a[2], a[0]);
	mlf_th *h1 = mlf_th_binary_s(MLF_TH_ADD, bin(MLF_TH_SUB, a[3], a[1]), CIOU_EPS);
	mlf_th *w2 = bin(MLF_TH_SUB, b[2], b[0]);
	mlf_th *h2 = mlf_th_binary_s(MLF_TH_ADD, bin(MLF_TH_SUB, b[3], b[1]), CIOU_EPS);

	mlf_th *iw = mlf_th_clamp(bin(MLF_TH_SUB, bin(MLF_TH_MINIMUM, a[2], b[2]), bin(MLF_TH_MAXIMUM, a[0], b[0])),
				  0, NAN);
	mlf_th *ih = mlf_th_clamp(bin(MLF_TH_SUB, bin(MLF_TH_MINIMUM, a[3], b[3]), bin(MLF_TH_MAXIMUM, a[1], b[1])),
				  0, NAN);
	mlf_th *inter = bin(MLF_TH_MUL, iw, ih);
	mlf_th *areas = bin(MLF_TH_ADD, bin(MLF_TH_MUL, w1, h1), bin(MLF_TH_MUL, w2, h2));
	mlf_th *uni = mlf_th_binary_s(MLF_TH_ADD, bin(MLF_TH_SUB, areas, inter), CIOU_EPS);
	mlf_th *iou = bin(MLF_TH_DIV, inter, uni);

	/* Smallest enclosing box: its squared diagonal, and the centre distance. */
	mlf_th *cw = bin(MLF_TH_SUB, bin(MLF_TH_MAXIMUM, a[2], b[2]), bin(MLF_TH_MINIMUM, a[0], b[0]));
	mlf_th *ch = bin(MLF_TH_SUB, bin(MLF_TH_MAXIMUM, a[3], b[3]), bin(MLF_TH_MINIMUM, a[1], b[1]));
	mlf_th *c2 = mlf_th_binary_s(MLF_TH_ADD, bin(MLF_TH_ADD, mlf_th_binary_s(MLF_TH_POW, cw, 2),
						      mlf_th_binary_s(MLF_TH_POW, ch, 2)),
				     CIOU_EPS);
	mlf_th *dx = bin(MLF_TH_SUB, bin(MLF_TH_SUB, bin(MLF_TH_ADD, b[0], b[2]), a[0]), a[2]);
	mlf_th *dy = bin(MLF_TH_SUB, bin(MLF_TH_SUB, bin(MLF_TH_ADD, b[1], b[3]), a[1]), a[3]);
	mlf_th *rho2 = mlf_th_binary_s(MLF_TH_DIV, bin(MLF_TH_ADD, mlf_th_binary_s(MLF_TH_POW, dx, 2),
							mlf_th_binary_s(MLF_TH_POW, dy, 2)),
				       4);

	/* Aspect-ratio term; its weight alpha is a constant to autograd. */
	mlf_th *at = bin(MLF_TH_SUB, mlf_th_unary(MLF_TH_ATAN, bin(MLF_TH_DIV, w2, h2)),
			 mlf_th_unary(MLF_TH_ATAN, bin(MLF_TH_DIV, w1, h1)));
	mlf_th *v = mlf_th_binary_s(MLF_TH_MUL, mlf_th_binary_s(MLF_TH_POW, at, 2), 4 / (M_PI * M_PI));
	int grad = mlf_th_grad_enabled(0);
	mlf_th *alpha = bin(MLF_TH_DIV, v,
			    mlf_th_binary_s(MLF_TH_ADD, bin(MLF_TH_ADD, mlf_th_s_binary(MLF_TH_SUB, 1, iou), v),
					    CIOU_EPS));
	mlf_th_grad_enabled(grad);
	return bin(MLF_TH_SUB, iou, bin(MLF_TH_ADD, bin(MLF_TH_DIV, rho2, c2), bin(MLF_TH_MUL, v, alpha)));
}

/* dist2bbox(distance, anchors, xywh=False): [..., 4] ltrb to xyxy. */
static mlf_th *dist2bbox(const mlf_th *dist, const mlf_th *anchors)
{
	static const int64_t halves[2] = { 2, 2 };
	mlf_th *lr[2];
	if (mlf_th_split(dist, 2, halves, -1, lr) < 0)
		return NULL;
	mlf_th *xy[2] = { bin(MLF_TH_SUB, anchors, lr[0]), bin(MLF_TH_ADD, anchors, lr[1]) };
	return mlf_th_cat(2, xy, -1);
}

mlf_th *yolo_bbox_decode(const mlf_th *anchors, const mlf_th *pred_dist, int reg_max)
{
	int64_t s[3];
	if (mlf_th_shape(pred_dist, s, 3) != 3)
		return NULL;
	int64_t v[4] = { s[0], s[1], 4, s[2] / 4 };
	mlf_th *proj = mlf_th_arange(0, reg_max, 1, mlf_th_dtype(pred_dist), mlf_th_device(pred_dist));
	mlf_th *dist = mlf_th_matmul(mlf_th_softmax(mlf_th_reshape(pred_dist, 4, v), 3), proj);
	return dist2bbox(dist, anchors);
}

/* bbox2dist(anchors, bbox, reg_max - 1): xyxy to ltrb clamped to [0, reg_max - 1.01]. */
static mlf_th *bbox2dist(const mlf_th *anchors, const mlf_th *bbox, int reg_max)
{
	static const int64_t halves[2] = { 2, 2 };
	mlf_th *xy[2];
	if (mlf_th_split(bbox, 2, halves, -1, xy) < 0)
		return NULL;
	mlf_th *d[2] = { bin(MLF_TH_SUB, anchors, xy[0]), bin(MLF_TH_SUB, xy[1], anchors) };
	return mlf_th_clamp(mlf_th_cat(2, d, -1), 0, (double)(reg_max - 1) - 0.01);
}

/* DFLoss: pred [n*4, reg_max] logits, target [n, 4] distances; [n, 1]. */
static mlf_th *dfl(const mlf_th *pred, const mlf_th *target, int reg_max)
{
	int64_t col[2] = { -1, 1 }, s[2];
	mlf_th *t = mlf_th_clamp(target, 0, (double)(reg_max - 1) - 0.01);
	if (mlf_th_shape(t, s, 2) != 2)
		return NULL;
	mlf_th *tl = mlf_th_to(t, MLF_DTYPE_I64, mlf_th_device(t)); /* t >= 0: truncation is floor */
	mlf_th *tr = mlf_th_binary_s(MLF_TH_ADD, tl, 1);
	mlf_th *wl = bin(MLF_TH_SUB, tr, t);
	mlf_th *wr = mlf_th_s_binary(MLF_TH_SUB, 1, wl);
	mlf_th *logp = mlf_th_log_softmax(pred, 1);
	mlf_th *gl = mlf_th_reshape(mlf_th_gather(logp, 1, mlf_th_reshape(tl, 2, col)), 2, s);
	mlf_th *gr = mlf_th_reshape(mlf_th_gather(logp, 1, mlf_th_reshape(tr, 2, col)), 2, s);
	mlf_th *sum = bin(MLF_TH_ADD, bin(MLF_TH_MUL, gl, wl), bin(MLF_TH_MUL, gr, wr));
	return mlf_th_unary(MLF_TH_NEG, mlf_th_reduce(MLF_TH_MEAN, sum, -1, 1));
}

int yolo_bbox_loss(const mlf_th *pred_dist, const mlf_th *pred_bboxes, const mlf_th *anchors,
		   const mlf_th *target_bboxes, const mlf_th *target_scores, const mlf_th *tss,
		   const mlf_th *fg, int reg_max, mlf_th **loss_iou, mlf_th **loss_dfl)
{
	int64_t bins[2] = { -1, reg_max };
	mlf_th *weight = mlf_th_reduce(MLF_TH_SUM, mlf_th_mask_select(target_scores, fg), -1, 1);
	mlf_th *tb = mlf_th_mask_select(target_bboxes, fg);
	mlf_th *iou = yolo_ciou(mlf_th_mask_select(pred_bboxes, fg), tb);
	mlf_th *one_minus = mlf_th_s_binary(MLF_TH_SUB, 1, iou);
	*loss_iou = bin(MLF_TH_DIV, mlf_th_reduce(MLF_TH_SUM, bin(MLF_TH_MUL, one_minus, weight), MLF_TH_ALL_DIMS, 0),
			tss);

	mlf_th *ltrb = mlf_th_mask_select(bbox2dist(anchors, target_bboxes, reg_max), fg);
	mlf_th *pd = mlf_th_reshape(mlf_th_mask_select(pred_dist, fg), 2, bins);
	mlf_th *l = bin(MLF_TH_MUL, dfl(pd, ltrb, reg_max), weight);
	*loss_dfl = bin(MLF_TH_DIV, mlf_th_reduce(MLF_TH_SUM, l, MLF_TH_ALL_DIMS, 0), tss);
	return *loss_iou && *loss_dfl ? 0 : -1;
}
