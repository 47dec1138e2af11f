/*
 * The detection loss assembled (ultralytics 8.4.190 utils/loss.py
 * v8DetectionLoss): predictions and targets into the assigner's form, the
 * classification BCE, BboxLoss, gains, and the trainer's total.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "mlf/base.h"

void mlf_yolo_loss_release(struct mlf_yolo_loss *l)
{
	free(l->class_weights);
	memset(l, 0, sizeof(*l));
}

int mlf_yolo_loss_init_head(struct mlf_yolo_loss *l, int nc, int reg_max, int nlevels,
			    const double *strides, struct mlf_error *err)
{
	memset(l, 0, sizeof(*l));
	if (nc < 1 || reg_max < 2 || nlevels < 1 || nlevels > MLF_YOLO_MAX_LEVELS)
		return mlf_fail(err, MLF_EX_USAGE,
				"loss: nc %d, reg_max %d, %d levels: need nc >= 1, reg_max >= 2 (the L1 "
				"box loss of reg_max 1 is not implemented) and 1 to %d levels",
				nc, reg_max, nlevels, MLF_YOLO_MAX_LEVELS);
	for (int i = 0; i < nlevels; i++)
		if (!(strides[i] > 0))
			return mlf_fail(err, MLF_EX_USAGE, "loss: stride %g of level %d is not positive",
					strides[i], i);
	l->nc = nc;
	l->reg_max = reg_max;
	l->nlevels = nlevels;
	memcpy(l->strides, strides, (size_t)nlevels * sizeof(*strides));
	l->box = 7.5;
	l->cls = 0.5;
	l->dfl = 1.5;
	l->topk = 10;
	l->alpha = 0.5;
	l->beta = 6.0;
	return 0;
}

int mlf_yolo_loss_init(struct mlf_yolo_loss *l, const struct mlf_yolo_model *m, struct mlf_error *err)
{
	double s[MLF_YOLO_MAX_LEVELS];
	int n = mlf_yolo_model_strides(m, s, MLF_YOLO_MAX_LEVELS);
	if (n < 1) {
		memset(l, 0, sizeof(*l));
		return mlf_fail(err, MLF_EX_USAGE, "loss: the model has no Detect head");
	}
	return mlf_yolo_loss_init_head(l, m->arch.nc, m->arch.reg_max, n, s, err);
}

int mlf_yolo_loss_set_class_weights(struct mlf_yolo_loss *l, const float *w, size_t n,
				    struct mlf_error *err)
{
	if (w && n != (size_t)l->nc)
		return mlf_fail(err, MLF_EX_USAGE, "loss: %zu class weights for %d classes", n, l->nc);
	free(l->class_weights);
	l->class_weights = NULL;
	if (w) {
		l->class_weights = mlf_xmalloc(n * sizeof(*w));
		memcpy(l->class_weights, w, n * sizeof(*w));
	}
	return 0;
}

void mlf_yolo_loss_value_release(struct mlf_yolo_loss_value *v)
{
	mlf_th_free(v->total);
	memset(v, 0, sizeof(*v));
}

void mlf_yolo_assignment_release(struct mlf_yolo_assignment *a)
{
	mlf_th_free(a->target_bboxes);
	mlf_th_free(a->target_scores);
	mlf_th_free(a->fg_mask);
	mlf_th_free(a->target_gt_idx);
	memset(a, 0, sizeof(*a));
}

static int check_pred(const struct mlf_yolo_loss *l, const struct mlf_yolo_output *p, int64_t *batch,
		      struct mlf_error *err)
{
	if (p->nlevels != l->nlevels)
		return mlf_fail(err, MLF_EX_USAGE, "loss: %d prediction levels, the head has %d", p->nlevels,
				l->nlevels);
	int64_t no = 4 * (int64_t)l->reg_max + l->nc;
	for (int i = 0; i < p->nlevels; i++) {
		int64_t s[4];
		if (mlf_th_shape(p->level[i], s, 4) != 4 || s[1] != no || s[2] != p->h[i] || s[3] != p->w[i] ||
		    (i > 0 && s[0] != *batch) || s[0] < 1 || mlf_th_dtype(p->level[i]) == MLF_DTYPE_COUNT)
			return mlf_fail(err, MLF_EX_USAGE,
					"loss: level %d is %s, expected [B, %lld, %d, %d] (B the same for all)",
					i, mlf_th_describe(p->level[i]), (long long)no, p->h[i], p->w[i]);
		if (p->stride[i] != l->strides[i])
			return mlf_fail(err, MLF_EX_USAGE, "loss: level %d has stride %g, the head %g", i,
					p->stride[i], l->strides[i]);
		*batch = s[0];
	}
	return 0;
}

static int check_targets(const struct mlf_yolo_loss *l, const struct mlf_yolo_target *t, size_t n, int64_t batch,
			 struct mlf_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].image < 0 || t[i].image >= batch)
			return mlf_fail(err, MLF_EX_DATAERR, "loss: target %zu is for image %d of a batch of %lld",
					i, t[i].image, (long long)batch);
		if (t[i].cls < 0 || t[i].cls >= l->nc)
			return mlf_fail(err, MLF_EX_DATAERR, "loss: target %zu has class %d, the model has %d",
					i, t[i].cls, l->nc);
		if (!isfinite(t[i].cx) || !isfinite(t[i].cy) || !isfinite(t[i].w) || !isfinite(t[i].h))
			return mlf_fail(err, MLF_EX_DATAERR, "loss: target %zu has a coordinate that is not finite",
					i);
	}
	return 0;
}

/* v8DetectionLoss.preprocess: [B, M, 5] rows (cls, cx, cy, w, h normalised),
 * each image's targets in the order given, zero-padded; M = the largest count. */
static mlf_th *pad_targets(const struct mlf_yolo_target *t, size_t n, int64_t batch, int dev)
{
	size_t *count = mlf_xcalloc((size_t)batch, sizeof(*count)), m = 0;
	for (size_t i = 0; i < n; i++)
		if (++count[t[i].image] > m)
			m = count[t[i].image];
	float *rows = mlf_xcalloc((size_t)batch * (m ? m : 1) * 5, sizeof(*rows));
	memset(count, 0, (size_t)batch * sizeof(*count));
	for (size_t i = 0; i < n; i++) {
		float *r = rows + ((size_t)t[i].image * m + count[t[i].image]++) * 5;
		r[0] = (float)t[i].cls;
		r[1] = t[i].cx;
		r[2] = t[i].cy;
		r[3] = t[i].w;
		r[4] = t[i].h;
	}
	int64_t shape[3] = { batch, (int64_t)m, 5 };
	mlf_th *x = mlf_th_from_data(rows, MLF_DTYPE_F32, 3, shape, dev);
	free(rows);
	free(count);
	return x;
}

/* xywh2xyxy on [..., 4]. */
static mlf_th *xywh2xyxy(const mlf_th *x)
{
	mlf_th *xy = mlf_th_slice(x, -1, 0, 2, 1);
	mlf_th *wh = mlf_th_binary_s(MLF_TH_DIV, mlf_th_slice(x, -1, 2, 4, 1), 2);
	mlf_th *xyxy[2] = { mlf_th_binary(MLF_TH_SUB, xy, wh), mlf_th_binary(MLF_TH_ADD, xy, wh) };
	return mlf_th_cat(2, xyxy, -1);
}

struct preds {
	mlf_th *distri;         /* [B, A, 4*reg_max] */
	mlf_th *scores;         /* [B, A, nc] logits */
	mlf_th *anchors;        /* [A, 2] grid units */
	mlf_th *strides;        /* [A, 1] */
};

/* The training head output as v8DetectionLoss reads it: levels concatenated
 * over the anchors, box and class channels split, then [B, A, channels]. */
static int split_preds(const struct mlf_yolo_loss *l, const struct mlf_yolo_output *p, int64_t batch, struct preds *o)
{
	mlf_th *flat[MLF_YOLO_MAX_LEVELS], *parts[2];
	int64_t no = 4 * (int64_t)l->reg_max + l->nc, shape[3] = { batch, no, -1 };
	int64_t sizes[2] = { 4 * (int64_t)l->reg_max, l->nc };
	static const int perm[3] = { 0, 2, 1 };
	for (int i = 0; i < p->nlevels; i++)
		if (!(flat[i] = mlf_th_reshape(p->level[i], 3, shape)))
			return -1;
	if (mlf_th_split(mlf_th_cat((size_t)p->nlevels, flat, 2), 2, sizes, 1, parts) < 0)
		return -1;
	o->distri = mlf_th_contiguous(mlf_th_permute(parts[0], 3, perm));
	o->scores = mlf_th_contiguous(mlf_th_permute(parts[1], 3, perm));
	if (!o->scores || yolo_make_anchors(p, mlf_th_dtype(o->scores), mlf_th_device(o->scores), &o->anchors,
					    &o->strides) < 0)
		return -1;
	return o->distri ? 0 : -1;
}

/* The loss vector [box, cls, dfl] with the gains, and the assignment. */
static mlf_th *loss_items(const struct mlf_yolo_loss *l, const struct mlf_yolo_output *p, int64_t batch,
			  const struct mlf_yolo_target *t, size_t n, struct mlf_yolo_assignment *asg)
{
	struct preds pr;
	if (split_preds(l, p, batch, &pr) < 0)
		return NULL;
	int dev = mlf_th_device(pr.scores);
	enum mlf_dtype dt = mlf_th_dtype(pr.scores);

	/* Targets to input pixels: imgsz = level 0's size times its stride. */
	float wh[4] = { (float)(p->w[0] * p->stride[0]), (float)(p->h[0] * p->stride[0]) };
	wh[2] = wh[0];
	wh[3] = wh[1];
	int64_t four = 4;
	mlf_th *tg = pad_targets(t, n, batch, dev);
	mlf_th *scale = mlf_th_to(mlf_th_from_data(wh, MLF_DTYPE_F32, 1, &four, dev), dt, dev);
	mlf_th *gt_labels = mlf_th_slice(tg, 2, 0, 1, 1);
	mlf_th *gt_bboxes = xywh2xyxy(mlf_th_binary(MLF_TH_MUL, mlf_th_slice(tg, 2, 1, 5, 1), scale));
	mlf_th *mask_gt = mlf_th_to(mlf_th_binary_s(MLF_TH_GT, mlf_th_reduce(MLF_TH_SUM, gt_bboxes, 2, 1), 0),
				    mlf_th_dtype(gt_bboxes), dev);

	mlf_th *pred_bboxes = yolo_bbox_decode(pr.anchors, pr.distri, l->reg_max); /* xyxy, grid units */

	struct yolo_tal tal = { l->topk, l->nc, l->alpha, l->beta, l->strides[l->nlevels > 1 ? 1 : 0] };
	int grad = mlf_th_grad_enabled(0);
	mlf_th *pd_scores = mlf_th_unary(MLF_TH_SIGMOID, mlf_th_detach(pr.scores));
	mlf_th *pd_bboxes = mlf_th_to(mlf_th_binary(MLF_TH_MUL, mlf_th_detach(pred_bboxes), pr.strides),
				      mlf_th_dtype(gt_bboxes), dev);
	mlf_th *anchors_px = mlf_th_binary(MLF_TH_MUL, pr.anchors, pr.strides);
	int rc = yolo_tal_assign(&tal, pd_scores, pd_bboxes, anchors_px, gt_labels, gt_bboxes, mask_gt, asg);
	mlf_th_grad_enabled(grad);
	if (rc < 0)
		return NULL;

	mlf_th *tss = mlf_th_clamp(mlf_th_reduce(MLF_TH_SUM, asg->target_scores, MLF_TH_ALL_DIMS, 0), 1, NAN);
	mlf_th *bce = mlf_th_bce_with_logits(pr.scores, mlf_th_to(asg->target_scores, dt, dev), NULL,
					     MLF_TH_REDUCE_NONE);
	if (l->class_weights) {
		int64_t cw_shape[3] = { 1, 1, l->nc };
		bce = mlf_th_binary(MLF_TH_MUL, bce,
				    mlf_th_from_data(l->class_weights, MLF_DTYPE_F32, 3, cw_shape, dev));
	}
	mlf_th *cls = mlf_th_binary(MLF_TH_DIV, mlf_th_reduce(MLF_TH_SUM, bce, MLF_TH_ALL_DIMS, 0), tss);

	mlf_th *box = NULL, *dfl = NULL;
	if (yolo_bbox_loss(pr.distri, pred_bboxes, pr.anchors,
			   mlf_th_binary(MLF_TH_DIV, asg->target_bboxes, pr.strides), asg->target_scores, tss,
			   asg->fg_mask, l->reg_max, &box, &dfl) < 0)
		return NULL;
	mlf_th *items[3] = { mlf_th_binary_s(MLF_TH_MUL, box, l->box), mlf_th_binary_s(MLF_TH_MUL, cls, l->cls),
			     mlf_th_binary_s(MLF_TH_MUL, dfl, l->dfl) };
	return mlf_th_stack(3, items, 0);
}

int mlf_yolo_loss_compute(const struct mlf_yolo_loss *l, const struct mlf_yolo_output *pred,
			  const struct mlf_yolo_target *targets, size_t ntargets,
			  struct mlf_yolo_loss_value *v, struct mlf_yolo_assignment *a,
			  struct mlf_error *err)
{
	memset(v, 0, sizeof(*v));
	if (a)
		memset(a, 0, sizeof(*a));
	int64_t batch = 0;
	if (check_pred(l, pred, &batch, err) < 0 || check_targets(l, targets, ntargets, batch, err) < 0)
		return -1;

	size_t mark = mlf_th_scope_open();
	struct mlf_yolo_assignment asg = { 0 };
	mlf_th *items = loss_items(l, pred, batch, targets, ntargets, &asg);
	/* The trainer's loss.sum() of the criterion's loss * batch_size. */
	mlf_th *total = mlf_th_reduce(MLF_TH_SUM, mlf_th_binary_s(MLF_TH_MUL, items, (double)batch),
				      MLF_TH_ALL_DIMS, 0);
	float it[3];
	double nfg = total ? mlf_th_item(mlf_th_reduce(MLF_TH_SUM, asg.fg_mask, MLF_TH_ALL_DIMS, 0)) : NAN;
	if (!total || isnan(nfg) || mlf_th_copy_out(mlf_th_detach(items), MLF_DTYPE_F32, it, sizeof(it)) < 0) {
		mlf_th_scope_close(mark);
		return mlf_th_fail(err, "loss");
	}
	v->total = mlf_th_keep(total);
	v->box = it[0];
	v->cls = it[1];
	v->dfl = it[2];
	v->batch = (int)batch;
	v->foreground = (int64_t)nfg;
	if (a) {
		a->target_bboxes = mlf_th_keep(asg.target_bboxes);
		a->target_scores = mlf_th_keep(asg.target_scores);
		a->fg_mask = mlf_th_keep(asg.fg_mask);
		a->target_gt_idx = mlf_th_keep(asg.target_gt_idx);
	}
	mlf_th_scope_close(mark);
	return 0;
}
