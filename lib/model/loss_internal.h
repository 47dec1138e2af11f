/*
 * The pieces of the detection loss (include/mlf/yolo_loss.h), shared between
 * lib/model/loss*.c; not part of the library's interface.  Every function
 * makes its tensors in the caller's innermost scope and returns NULL (or -1)
 * with the shim's error set when an operation fails; NULL inputs give NULL.
 * Operations follow Ultralytics 8.4.190's order of floating-point operations,
 * so results agree to the last bit where libtorch's kernels allow.
 */
#ifndef MLF_LOSS_INTERNAL_H
#define MLF_LOSS_INTERNAL_H

#include "mlf/yolo_loss.h"

/* loss_box.c */

/* bbox_iou(box1, box2, xywh=False, CIoU=True): [..., 4] xyxy each (same
 * shape), [..., 1] CIoU; eps 1e-7; the alpha term is computed without
 * gradient. */
mlf_th *yolo_ciou(const mlf_th *box1, const mlf_th *box2);

/* bbox_decode: [B, A, 4*reg_max] distribution logits (side-major) to [B, A, 4]
 * xyxy boxes in grid units around `anchors` [A, 2]: softmax over the bins,
 * matmul with 0..reg_max-1, then dist2bbox. */
mlf_th *yolo_bbox_decode(const mlf_th *anchors, const mlf_th *pred_dist, int reg_max);

/* BboxLoss: the CIoU and DFL sums over the foreground, each / tss.
 * pred_dist [B, A, 4*reg_max], pred_bboxes [B, A, 4] (grid units),
 * anchors [A, 2], target_bboxes [B, A, 4] (grid units), target_scores
 * [B, A, nc], tss 0-d, fg [B, A] bool.  Both outputs 0-d. */
int yolo_bbox_loss(const mlf_th *pred_dist, const mlf_th *pred_bboxes, const mlf_th *anchors,
		   const mlf_th *target_bboxes, const mlf_th *target_scores, const mlf_th *tss,
		   const mlf_th *fg, int reg_max, mlf_th **loss_iou, mlf_th **loss_dfl);

/* loss_assign.c */

struct yolo_tal {
	int topk, nc;
	double alpha, beta;
	double stride_val;      /* box sides below it are widened to it for the candidates */
};

/* TaskAlignedAssigner.forward (call with grad mode off): pd_scores [B, A, nc]
 * probabilities, pd_bboxes [B, A, 4] xyxy px, anchors [A, 2] px, gt_labels
 * [B, M, 1] float, gt_bboxes [B, M, 4] xyxy px, mask_gt [B, M, 1] float
 * (0/1).  Fills all of `out`. */
int yolo_tal_assign(const struct yolo_tal *p, const mlf_th *pd_scores, const mlf_th *pd_bboxes,
		    const mlf_th *anchors, const mlf_th *gt_labels, const mlf_th *gt_bboxes,
		    const mlf_th *mask_gt, struct mlf_yolo_assignment *out);

#endif
