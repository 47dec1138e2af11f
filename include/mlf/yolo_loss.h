/*
 * The YOLO detection training loss (YOLOv8, YOLO11) in C over the libtorch
 * shim: Ultralytics 8.4.190's v8DetectionLoss (utils/loss.py) with its
 * TaskAlignedAssigner (utils/tal.py), CIoU (utils/metrics.py bbox_iou), DFL
 * and BCE classification loss; reference/yolo.md section 2, with the 8.4
 * changes listed below.
 *
 * Usage, one training step (the model in training mode, grad mode on):
 *
 *     struct mlf_yolo_loss loss;                  // once: v8DetectionLoss(model)
 *     mlf_yolo_loss_init(&loss, &model, &err);
 *     ...
 *     size_t mark = mlf_th_scope_open();
 *     mlf_yolo_forward(&model, images, MLF_YOLO_OUT_LEVELS, &out, &err);
 *     mlf_yolo_loss_compute(&loss, &out, targets, ntargets, &v, NULL, &err);
 *     mlf_th_backward(v.total);                   // trainer: loss.sum().backward()
 *     mlf_th_scope_close(mark);                   // frees out and v.total
 *     log v.box, v.cls, v.dfl                     // the trainer's loss_items
 *
 * What Ultralytics returns and what its trainer does with it: the criterion
 * returns (loss * batch_size, loss.detach()) where loss = [box * 7.5,
 * cls * 0.5, dfl * 1.5]; the trainer backpropagates (loss * batch_size).sum()
 * (times the world size under DDP, which this toolchain does not run), so the
 * batch size is part of the effective learning rate, and it logs the
 * detached, un-multiplied items (train/box_loss, train/cls_loss,
 * train/dfl_loss, averaged over the epoch's batches as a running mean).
 * `total` is the first, summed; box/cls/dfl are the second.
 *
 * Rules (8.4.190):
 *   - predictions: the per-level maps are concatenated over the anchors
 *     (levels in order, row-major within a level); the image size is
 *     level 0's h, w times its stride; anchors at the cell centres.
 *   - targets: each image's boxes in the order given (padded to the largest
 *     count in the batch), scaled by the image size, xywh to xyxy; a slot
 *     counts when its xyxy sum is > 0.
 *   - assigner (no gradients): candidates are anchors strictly inside a box
 *     (by more than 1e-9) after every valid box side under stride_val
 *     (strides[1], 16 for the released models; strides[0] with one level)
 *     is widened to stride_val about its centre; metric = score(class)^0.5 *
 *     max(CIoU(box, predicted box), 0)^6 over candidates; the top 10 per box
 *     by metric (torch.topk order); an anchor picked by several boxes keeps
 *     the box whose CIoU with it is largest; target score = one-hot class *
 *     max over boxes of metric * (box's best CIoU) / (box's best metric +
 *     1e-9) over its positives.
 *   - cls = BCE-with-logits(scores, target scores) [* class weights] summed
 *     over every anchor and class / max(sum of target scores, 1).
 *   - box = sum over foreground anchors of (1 - CIoU(pred, target)) *
 *     weight / that sum, in grid units; weight = the anchor's target score
 *     summed over classes; CIoU eps 1e-7 (added to heights, union and c^2),
 *     its alpha term without gradient.
 *   - dfl = sum of weight * mean over the 4 sides of the two-bin cross
 *     entropy at floor(t), floor(t) + 1 (t clamped to [0, reg_max - 1.01]),
 *     / the same sum.
 *   - box and dfl are 0 (with the graph kept) when there is no foreground;
 *     a batch without any target gives cls = sum of BCE against zeros / 1.
 *
 * Ownership: `struct mlf_yolo_loss` is plain settings plus a copy of the
 * class weights (freed by mlf_yolo_loss_release).  The tensors of
 * `struct mlf_yolo_loss_value` and `struct mlf_yolo_assignment` belong to
 * the caller's innermost open scope, or to the caller when none is open
 * (free them with mlf_yolo_loss_value_release / mlf_yolo_assignment_release,
 * or let the scope do it).  Everything else made during a call is freed
 * before it returns.
 *
 * Errors: bad settings or predictions that do not fit them 64; a target with
 * an image index outside the batch, a class outside 0..nc-1 or a coordinate
 * that is not finite 65; a failure inside libtorch 70.
 * Runs on the predictions' device; under autocast the operations run as
 * libtorch's policy says (Ultralytics computes the loss inside the
 * trainer's autocast region too).  Not for reg_max 1 (YOLO26's L1 branch).
 */
#ifndef MLF_YOLO_LOSS_H
#define MLF_YOLO_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/error.h"
#include "mlf/torch.h"
#include "mlf/yolo_model.h"

/* One ground-truth box as a YOLO dataset gives it (a row of the batch's
 * batch_idx, cls, bboxes). */
struct mlf_yolo_target {
	int image;              /* index in the batch */
	int cls;                /* 0 .. nc-1 */
	float cx, cy, w, h;     /* centre and size, normalised to the input width/height */
};

/* v8DetectionLoss's settings. */
struct mlf_yolo_loss {
	int nc, reg_max;
	int nlevels;
	double strides[MLF_YOLO_MAX_LEVELS];
	double box, cls, dfl;   /* gains (hyp box, cls, dfl): 7.5, 0.5, 1.5 */
	int topk;               /* assigner candidates per box: 10 (at most the anchor count) */
	double alpha, beta;     /* metric exponents of score and CIoU: 0.5, 6.0 */
	float *class_weights;   /* nc per-class BCE weights (8.4's cls_pw), or NULL */
};

/* The settings v8DetectionLoss(model) takes: nc, reg_max and strides of the
 * model's Detect, the default gains and assigner parameters, no class
 * weights.  On failure `l` is left released. */
int mlf_yolo_loss_init(struct mlf_yolo_loss *l, const struct mlf_yolo_model *m, struct mlf_error *err);
/* The same for a head given directly (reg_max >= 2, 1..MLF_YOLO_MAX_LEVELS levels). */
int mlf_yolo_loss_init_head(struct mlf_yolo_loss *l, int nc, int reg_max, int nlevels,
			    const double *strides, struct mlf_error *err);
void mlf_yolo_loss_release(struct mlf_yolo_loss *l);
/* Per-class weights multiplying the BCE (what the trainer sets as
 * model.class_weights when cls_pw > 0: inverse class frequency ^ cls_pw,
 * normalised to mean 1); n must be nc; NULL removes them. */
int mlf_yolo_loss_set_class_weights(struct mlf_yolo_loss *l, const float *w, size_t n,
				    struct mlf_error *err);

struct mlf_yolo_loss_value {
	mlf_th *total;          /* 0-d float32 (box + cls + dfl) * batch, in the graph */
	double box, cls, dfl;   /* the detached items: gains applied, not times the batch */
	int batch;
	int64_t foreground;     /* anchors assigned a box, over the batch */
};

/* The assigner's outputs, A = number of anchors. */
struct mlf_yolo_assignment {
	mlf_th *target_bboxes;  /* [B, A, 4] float32 xyxy input pixels of the assigned
				 * box (background anchors: the image's first box, or 0) */
	mlf_th *target_scores;  /* [B, A, nc] float32 soft targets (0 on background) */
	mlf_th *fg_mask;        /* [B, A] bool */
	mlf_th *target_gt_idx;  /* [B, A] int64: index among the image's targets, in
				 * the order given (0 on background) */
};

/*
 * The loss of `pred` (a training-mode forward's per-level maps, as
 * mlf_yolo_forward fills them with MLF_YOLO_OUT_LEVELS: nlevels, h, w,
 * stride and level[] [B, 4*reg_max + nc, h, w]) against `targets` (ntargets
 * rows, any order of images; NULL when ntargets is 0).  Fills `v`; and `a`
 * too when it is not NULL.  Gradients flow from v->total to whatever
 * pred->level requires grad from, when grad mode is on.
 */
int mlf_yolo_loss_compute(const struct mlf_yolo_loss *l, const struct mlf_yolo_output *pred,
			  const struct mlf_yolo_target *targets, size_t ntargets,
			  struct mlf_yolo_loss_value *v, struct mlf_yolo_assignment *a,
			  struct mlf_error *err);

void mlf_yolo_loss_value_release(struct mlf_yolo_loss_value *v);
void mlf_yolo_assignment_release(struct mlf_yolo_assignment *a);

#endif
