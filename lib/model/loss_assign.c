/*
 * TaskAlignedAssigner (ultralytics 8.4.190 utils/tal.py) for the detection
 * loss: which anchors learn which ground-truth box, and the soft class
 * targets.  Shapes: B images, M box slots per image (padded), A anchors,
 * C classes.  The metrics are computed only for candidate pairs gathered
 * into one vector, as Ultralytics computes them, so the element-wise kernels
 * see the same layout and give the same bits.
 */
#include <math.h>
#include <stdint.h>

#include "model_internal.h"

#define TAL_EPS 1e-9

static mlf_th *bin(enum mlf_th_binary op, const mlf_th *a, const mlf_th *b)
{
	return mlf_th_binary(op, a, b);
}

static mlf_th *col(const mlf_th *x, int64_t i)
{
	return mlf_th_slice(x, -1, i, i + 1, 1);
}

/* select_candidates_in_gts: [B, M, A] bool, anchor centres strictly inside
 * each box, valid boxes' sides under stride_val widened to it first. */
static mlf_th *candidates(const struct yolo_tal *p, const mlf_th *anchors, const mlf_th *gt, const mlf_th *mask_gt)
{
	/* xyxy2xywh, the floor on the sides, xywh2xyxy: the same round trip of
	 * the coordinates as Ultralytics, so the comparisons agree exactly. */
	mlf_th *xy[2] = { mlf_th_binary_s(MLF_TH_DIV, bin(MLF_TH_ADD, col(gt, 0), col(gt, 2)), 2),
			  mlf_th_binary_s(MLF_TH_DIV, bin(MLF_TH_ADD, col(gt, 1), col(gt, 3)), 2) };
	mlf_th *wh[2] = { bin(MLF_TH_SUB, col(gt, 2), col(gt, 0)), bin(MLF_TH_SUB, col(gt, 3), col(gt, 1)) };
	mlf_th *c = mlf_th_cat(2, xy, -1), *s = mlf_th_cat(2, wh, -1);
	mlf_th *small = bin(MLF_TH_AND, mlf_th_binary_s(MLF_TH_LT, s, p->stride_val),
			    mlf_th_binary_s(MLF_TH_NE, mask_gt, 0));
	mlf_th *floor = mlf_th_scalar(p->stride_val, mlf_th_dtype(s), mlf_th_device(s));
	mlf_th *half = mlf_th_binary_s(MLF_TH_DIV, mlf_th_where(small, floor, s), 2);
	mlf_th *lt = bin(MLF_TH_SUB, c, half), *rb = bin(MLF_TH_ADD, c, half);
	mlf_th *ax = mlf_th_select(anchors, 1, 0), *ay = mlf_th_select(anchors, 1, 1);
	mlf_th *in = mlf_th_binary_s(MLF_TH_GT, bin(MLF_TH_SUB, ax, col(lt, 0)), TAL_EPS);
	in = bin(MLF_TH_AND, in, mlf_th_binary_s(MLF_TH_GT, bin(MLF_TH_SUB, ay, col(lt, 1)), TAL_EPS));
	in = bin(MLF_TH_AND, in, mlf_th_binary_s(MLF_TH_GT, bin(MLF_TH_SUB, col(rb, 0), ax), TAL_EPS));
	return bin(MLF_TH_AND, in, mlf_th_binary_s(MLF_TH_GT, bin(MLF_TH_SUB, col(rb, 1), ay), TAL_EPS));
}

/* get_box_metrics: align metric and CIoU overlaps [B, M, A] for the candidate
 * pairs `cand` (bool [B, M, A]), 0 elsewhere. */
static int box_metrics(const struct yolo_tal *p, const mlf_th *pd_scores, const mlf_th *pd_bboxes,
		       const mlf_th *gt_labels, const mlf_th *gt_bboxes, const mlf_th *cand,
		       mlf_th **align, mlf_th **overlaps)
{
	int64_t B = mlf_th_size(cand, 0), M = mlf_th_size(cand, 1), A = mlf_th_size(cand, 2);
	int64_t C = mlf_th_size(pd_scores, 2), flat[1] = { -1 }, rows[2] = { -1, 4 }, shape[3] = { B, M, A };
	mlf_th *idx = mlf_th_nonzero(cand);                          /* [N, 3]: b, m, a */
	mlf_th *ib = mlf_th_select(idx, 1, 0), *im = mlf_th_select(idx, 1, 1), *ia = mlf_th_select(idx, 1, 2);
	mlf_th *bm = bin(MLF_TH_ADD, mlf_th_binary_s(MLF_TH_MUL, ib, (double)M), im);
	mlf_th *ba = bin(MLF_TH_ADD, mlf_th_binary_s(MLF_TH_MUL, ib, (double)A), ia);
	mlf_th *labels = mlf_th_to(mlf_th_reshape(gt_labels, 1, flat), MLF_DTYPE_I64, mlf_th_device(gt_labels));
	mlf_th *ic = bin(MLF_TH_ADD, mlf_th_binary_s(MLF_TH_MUL, ba, (double)C), mlf_th_index_select(labels, 0, bm));
	mlf_th *scores = mlf_th_index_select(mlf_th_reshape(pd_scores, 1, flat), 0, ic);
	mlf_th *gtb = mlf_th_index_select(mlf_th_reshape(gt_bboxes, 2, rows), 0, bm);
	mlf_th *pdb = mlf_th_index_select(mlf_th_reshape(pd_bboxes, 2, rows), 0, ba);
	mlf_th *ov = mlf_th_clamp(mlf_th_squeeze(yolo_ciou(gtb, pdb), -1), 0, NAN);
	mlf_th *al = bin(MLF_TH_MUL, mlf_th_binary_s(MLF_TH_POW, scores, p->alpha),
			 mlf_th_binary_s(MLF_TH_POW, ov, p->beta));
	mlf_th *lin = bin(MLF_TH_ADD, mlf_th_binary_s(MLF_TH_MUL, bm, (double)A), ia);
	int64_t n = B * M * A;
	mlf_th *zo = mlf_th_full(1, &n, 0, mlf_th_dtype(pd_bboxes), mlf_th_device(pd_bboxes));
	mlf_th *za = mlf_th_full(1, &n, 0, mlf_th_dtype(al), mlf_th_device(pd_scores));
	*overlaps = mlf_th_reshape(mlf_th_scatter(zo, 0, lin, ov), 3, shape);
	*align = mlf_th_reshape(mlf_th_scatter(za, 0, lin, al), 3, shape);
	return *overlaps && *align ? 0 : -1;
}

/* get_targets plus the normalisation of _forward.  fg is bool [B, A].  The
 * target scores are made as one scatter of each anchor's normalised metric
 * (0 on background) into zeros at its label: the same values as
 * Ultralytics' one-hot * (fg > 0) * norm, without three passes over
 * [B, A, C]. */
static int targets(const struct yolo_tal *p, const mlf_th *gt_labels, const mlf_th *gt_bboxes, const mlf_th *gt_idx,
		   const mlf_th *fg, const mlf_th *mask_pos, mlf_th *align, mlf_th *overlaps,
		   struct mlf_yolo_assignment *out)
{
	int64_t B = mlf_th_size(gt_idx, 0), A = mlf_th_size(gt_idx, 1), M = mlf_th_size(mask_pos, 1);
	int64_t flat[1] = { -1 }, rows[2] = { -1, 4 }, ba4[3] = { B, A, 4 }, bac[3] = { B, A, p->nc };
	int64_t bcol[2] = { B, 1 };
	int dev = mlf_th_device(gt_idx);
	mlf_th *base = mlf_th_reshape(mlf_th_binary_s(MLF_TH_MUL, mlf_th_arange(0, (double)B, 1, MLF_DTYPE_I64, dev),
						      (double)M), 2, bcol);
	mlf_th *g = mlf_th_reshape(bin(MLF_TH_ADD, gt_idx, base), 1, flat);
	mlf_th *labels = mlf_th_to(mlf_th_reshape(gt_labels, 1, flat), MLF_DTYPE_I64, dev);
	labels = mlf_th_clamp(mlf_th_reshape(mlf_th_index_select(labels, 0, g), 2, (int64_t[2]){ B, A }), 0, NAN);
	out->target_bboxes = mlf_th_reshape(mlf_th_index_select(mlf_th_reshape(gt_bboxes, 2, rows), 0, g), 3, ba4);

	/* Each box's best positive anchor gets that box's best CIoU; the others
	 * proportionally to their metric. */
	align = bin(MLF_TH_MUL, align, mask_pos);
	mlf_th *pos_align = mlf_th_reduce(MLF_TH_AMAX, align, -1, 1);
	overlaps = bin(MLF_TH_MUL, overlaps, mask_pos);
	mlf_th *pos_ov = mlf_th_reduce(MLF_TH_AMAX, overlaps, -1, 1);
	align = bin(MLF_TH_DIV, bin(MLF_TH_MUL, align, pos_ov), mlf_th_binary_s(MLF_TH_ADD, pos_align, TAL_EPS));
	mlf_th *norm = mlf_th_reduce(MLF_TH_AMAX, align, -2, 0);
	mlf_th *val = mlf_th_unsqueeze(mlf_th_to(bin(MLF_TH_MUL, norm, fg), mlf_th_dtype(align), dev), -1);
	mlf_th *scores = mlf_th_full(3, bac, 0, mlf_th_dtype(align), dev);
	if (!val || !scores || mlf_th_scatter_(scores, 2, mlf_th_unsqueeze(labels, -1), val) < 0)
		return -1;
	out->target_scores = scores;
	out->fg_mask = mlf_th_clone(fg);
	out->target_gt_idx = mlf_th_clone(gt_idx);
	return out->target_bboxes && out->target_scores && out->fg_mask && out->target_gt_idx ? 0 : -1;
}

int yolo_tal_assign(const struct yolo_tal *p, const mlf_th *pd_scores, const mlf_th *pd_bboxes,
		    const mlf_th *anchors, const mlf_th *gt_labels, const mlf_th *gt_bboxes,
		    const mlf_th *mask_gt, struct mlf_yolo_assignment *out)
{
	out->target_bboxes = out->target_scores = out->fg_mask = out->target_gt_idx = NULL;
	int64_t B = mlf_th_size(pd_scores, 0), A = mlf_th_size(pd_scores, 1), M = mlf_th_size(gt_bboxes, 1);
	if (B < 0 || A < 0 || M < 0)
		return -1;
	int dev = mlf_th_device(pd_scores);
	if (M == 0) {
		int64_t ba[2] = { B, A };
		out->target_bboxes = mlf_th_zeros_like(pd_bboxes);
		out->target_scores = mlf_th_zeros_like(pd_scores);
		out->fg_mask = mlf_th_full(2, ba, 0, MLF_DTYPE_BOOL, dev);
		out->target_gt_idx = mlf_th_full(2, ba, 0, MLF_DTYPE_I64, dev);
		return out->target_bboxes && out->target_scores && out->fg_mask && out->target_gt_idx ? 0 : -1;
	}

	/* get_pos_mask: candidates, metrics, top-k per box. */
	mlf_th *in_gts = candidates(p, anchors, gt_bboxes, mask_gt);
	mlf_th *valid = mlf_th_binary_s(MLF_TH_NE, mask_gt, 0);
	mlf_th *align = NULL, *overlaps = NULL;
	if (box_metrics(p, pd_scores, pd_bboxes, gt_labels, gt_bboxes, bin(MLF_TH_AND, in_gts, valid), &align,
			&overlaps) < 0)
		return -1;
	mlf_th *top = NULL;
	int64_t k = p->topk < A ? p->topk : A;
	if (mlf_th_topk(align, k, -1, 1, 1, NULL, &top) < 0)
		return -1;
	/* Ultralytics counts selections with scatter_add and drops anchors
	 * counted twice: within a real box's top-k the indices are distinct, and
	 * the padded slots (all index 0) are removed by `valid` below anyway. */
	mlf_th *sel = mlf_th_scatter_s(mlf_th_zeros_like(align), -1, top, 1);
	mlf_th *picked = bin(MLF_TH_AND, bin(MLF_TH_AND, mlf_th_binary_s(MLF_TH_NE, sel, 0), in_gts), valid);
	mlf_th *mask_pos = mlf_th_to(picked, mlf_th_dtype(align), dev);

	/* select_highest_overlaps: an anchor positive for several boxes keeps
	 * the one it overlaps most (over all boxes, as Ultralytics does). */
	mlf_th *claims = mlf_th_reduce(MLF_TH_SUM, mask_pos, -2, 0);
	mlf_th *multi = mlf_th_unsqueeze(mlf_th_binary_s(MLF_TH_GT, claims, 1), 1);
	mlf_th *best = mlf_th_reduce(MLF_TH_ARGMAX, overlaps, 1, 1);                  /* [B, 1, A] */
	int64_t col3[3] = { 1, M, 1 };
	mlf_th *slot = mlf_th_reshape(mlf_th_arange(0, (double)M, 1, MLF_DTYPE_I64, dev), 3, col3);
	mlf_th *is_max = mlf_th_to(bin(MLF_TH_EQ, slot, best), mlf_th_dtype(mask_pos), dev);
	mask_pos = mlf_th_where(multi, is_max, mask_pos);
	/* After the fix every column holds at most one 1: foreground wherever
	 * some box claimed the anchor. */
	mlf_th *fg = mlf_th_binary_s(MLF_TH_GT, claims, 0);
	mlf_th *gt_idx = mlf_th_reduce(MLF_TH_ARGMAX, mask_pos, -2, 0);
	if (!fg || !gt_idx)
		return -1;
	return targets(p, gt_labels, gt_bboxes, gt_idx, fg, mask_pos, align, overlaps, out);
}
