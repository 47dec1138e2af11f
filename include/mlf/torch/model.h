/*
 * mlf/torch/model.h: the YOLO detection model over the libtorch shim, and
 * its training loss.  Needs libmlf_torch.a.
 */
/*
 * The YOLO detection model (YOLOv8, YOLO11) in C over the libtorch shim:
 * instantiated from a resolved architecture (mlf/yolo.h), initialised
 * as Ultralytics initialises a fresh model, loaded from and exported to a
 * checkpoint (mlf/ckpt.h) by state_dict name, run forward in training
 * or eval mode, and used for inference on an image.  Behaviour follows
 * ultralytics 8.4.190 (nn/modules/conv.py, block.py, head.py, nn/tasks.py
 * DetectionModel and BaseModel.load; see docs/ultralytics-recipe.md).
 *
 * Ownership: a `struct mlf_yolo_model` owns its architecture (a private copy
 * rebuilt from the description it was given) and one shim tensor per
 * state_dict entry, `tensors[i]` for `arch.params[i]`, in state_dict order.
 * Those handles are the model's: they belong to no scope, live until
 * mlf_yolo_model_release, and never change identity (loading copies into
 * them), so an optimizer may be given them.  The model also owns the cache
 * of BatchNorm-folded weights used by fused eval forwards.
 * Forward outputs (struct mlf_yolo_output) belong to the caller's innermost
 * open scope, or to the caller when none is open; mlf_yolo_output_release
 * frees them (call it before that scope closes, or not at all and let the
 * scope free them; the `layer` array is then the caller's to free()).
 * Detections are owned as mlf/yolo.h says.
 *
 * Errors: a bad description or a checkpoint that does not fit the model
 * fails with status 65 and a message naming the layer or tensor; bad
 * arguments (an input of the wrong shape, a device that does not exist)
 * with 64; a failure inside libtorch with 70 and libtorch's message.
 * Not thread-safe: one model is used by one thread at a time.
 */
#ifndef MLF_TORCH_MODEL_H
#define MLF_TORCH_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"
#include "mlf/ckpt.h"
#include "mlf/torch/torch.h"
#include "mlf/yolo.h"

/* Ultralytics' initialize_weights() values for every BatchNorm2d. */
#define MLF_YOLO_BN_EPS 1e-3
#define MLF_YOLO_BN_MOMENTUM 0.03
#define MLF_YOLO_MAX_LEVELS MLF_YOLO_MAX_FROM

struct yolo_net; /* the resolved module graph (lib/model/model_internal.h) */

struct mlf_yolo_model {
	struct mlf_yolo_arch arch;
	mlf_th **tensors;       /* arch.nparams handles, state_dict order */
	size_t ntensors;
	int device;             /* MLF_TH_CPU or a CUDA index */
	int training;           /* BatchNorm uses and updates batch statistics */
	int fused;              /* eval forwards use BatchNorm folded into the convs */
	int channels_last;      /* forwards run in channels-last memory format */
	struct yolo_net *net;
};

void mlf_yolo_model_init(struct mlf_yolo_model *m);
void mlf_yolo_model_release(struct mlf_yolo_model *m);

/*
 * A fresh model for `a` (only read) on `device`, initialised as Ultralytics'
 * DetectionModel(cfg) is: PyTorch's default Conv2d init (kaiming_uniform with
 * a=sqrt(5), bias U(+-1/sqrt(fan_in))) from the shim's global generator
 * (mlf_th_manual_seed makes it repeatable), BatchNorm weight 1, bias 0,
 * running mean 0, var 1; Detect.bias_init (box output bias 2.0 as in
 * 8.4.190, class output bias log(5 / nc / (640 / stride)^2)); the DFL conv
 * fixed to 0..reg_max-1.  requires_grad is on for every parameter but the
 * DFL weight.  The model starts in training mode, unfused, with
 * channels-last eval forwards on the CPU (measured faster there).
 * `m` must be freshly initialised; on failure it is left released.
 */
int mlf_yolo_model_create(struct mlf_yolo_model *m, const struct mlf_yolo_arch *a, int device,
			  struct mlf_error *err);
/* The same from an Ultralytics description (mlf_yolo_arch_from_yaml). */
int mlf_yolo_model_from_yaml(struct mlf_yolo_model *m, const json_t *yaml, int device,
			     struct mlf_error *err);
/* A model built from meta["yaml"] of a checkpoint and loaded from it (strict),
 * in eval mode: what YOLO("x.pt") gives. */
int mlf_yolo_model_from_ckpt(struct mlf_yolo_model *m, const struct mlf_ckpt *c, int device,
			     struct mlf_error *err);

/* Put the fresh-model values back (as mlf_yolo_model_create sets them). */
int mlf_yolo_model_reset_parameters(struct mlf_yolo_model *m, struct mlf_error *err);

/*
 * Copy a checkpoint's tensors into the model by name.  Any floating dtype is
 * converted to float32; num_batches_tracked takes any integer dtype.
 * Strict (flags 0): every model tensor must be present with the same shape
 * and the checkpoint may hold nothing else; the first problem fails naming
 * the tensor, and the model is left unchanged.
 * MLF_YOLO_LOAD_PARTIAL: Ultralytics' transfer (BaseModel.load with
 * intersect_dicts): only tensors present in both with equal shapes are
 * copied, the rest keep their values (e.g. the class outputs when nc
 * differs).  `loaded` (may be NULL) receives how many were copied.
 */
#define MLF_YOLO_LOAD_PARTIAL 1u
int mlf_yolo_model_load(struct mlf_yolo_model *m, const struct mlf_ckpt *c, unsigned flags,
			size_t *loaded, struct mlf_error *err);

/*
 * Append every tensor, in state_dict order, to `out` (an initialised
 * checkpoint, normally empty): parameters and running statistics as
 * float32, num_batches_tracked as int64, requires_grad set for parameters
 * (nn.Parameter).  When out->meta is NULL it becomes {"yaml": the
 * description, "nc": nc, "stride": [...]}.
 */
int mlf_yolo_model_export(const struct mlf_yolo_model *m, struct mlf_ckpt *out,
			  struct mlf_error *err);

/* The handle of a state_dict entry, or NULL. */
mlf_th *mlf_yolo_model_tensor(const struct mlf_yolo_model *m, const char *name);
/* Detect's strides, one per level; returns the number of levels. */
int mlf_yolo_model_strides(const struct mlf_yolo_model *m, double *strides, int max);
/* Largest stride (32 for the released models). */
int mlf_yolo_model_max_stride(const struct mlf_yolo_model *m);

/* Training mode (on) or eval mode (off), as nn.Module.train()/eval(). */
void mlf_yolo_model_train(struct mlf_yolo_model *m, int on);
/*
 * Fused eval forwards: each Conv's BatchNorm folded into its weights, as
 * Ultralytics' fuse() does before predict.  The folded weights are computed
 * on the first fused forward and cached; loading drops the cache.  Whoever
 * changes the weights through the handles (an optimizer step, an EMA
 * update) calls mlf_yolo_model_weights_changed before the next fused forward.
 */
void mlf_yolo_model_set_fused(struct mlf_yolo_model *m, int on);
void mlf_yolo_model_weights_changed(struct mlf_yolo_model *m);
/* Forwards in channels-last memory format (the input, and the folded weights
 * of eval forwards); on by default, on every device: yolov8n at 640 on the
 * CPU runs 15-20% faster in eval.  A model that trains this way also keeps
 * its 4-d weights channels-last (mlf_yolo_model_weights_channels_last), so
 * that neither direction of a convolution converts them: about 12% off a CPU
 * training epoch of yolov8n at 320 (scripts/bench-train).  Programs running
 * the model on the CPU should also call
 * mlf_th_tune_malloc() (mlf/torch/torch.h) at startup: with glibc's defaults
 * every multi-MB activation tensor is a fresh mmap and munmap, so a CPU
 * training step spends much of its time in the kernel (measured on a small
 * CPU net: 40-50% more steps/s once tuned). */
void mlf_yolo_model_set_channels_last(struct mlf_yolo_model *m, int on);
/* Put the model's 4-d weights in channels-last memory format, in place (the
 * handles stay; values, names and checkpoints are unchanged: they are written
 * contiguous).  Does nothing unless channels_last is on. */
int mlf_yolo_model_weights_channels_last(struct mlf_yolo_model *m, struct mlf_error *err);

/* What a forward returns (bits of `what`). */
#define MLF_YOLO_OUT_LEVELS 1u   /* raw maps per level */
#define MLF_YOLO_OUT_DECODED 2u  /* decoded predictions; eval mode only */
#define MLF_YOLO_OUT_TRACE 4u    /* every layer's output (debugging and tests) */

struct mlf_yolo_output {
	int nlevels;
	int h[MLF_YOLO_MAX_LEVELS], w[MLF_YOLO_MAX_LEVELS];
	double stride[MLF_YOLO_MAX_LEVELS];
	/* [B, 4*reg_max + nc, h, w]: box distribution logits (side-major: left,
	 * top, right, bottom, reg_max bins each), then class logits: what the
	 * loss takes. */
	mlf_th *level[MLF_YOLO_MAX_LEVELS];
	/* [B, 4 + nc, A], A = sum of h*w: cx, cy, w, h in input pixels, then
	 * sigmoid class scores (Detect's inference output). */
	mlf_th *decoded;
	/* layer[i] is layer i's output; NULL for the Detect layer. */
	mlf_th **layer;
	size_t nlayers;
};

/*
 * Run the model on `x` [B, channels, H, W] (float32, on the model's device,
 * H and W multiples of the largest stride) in the model's mode.  Gradients
 * are recorded as the caller's grad mode says (mlf_th_grad_enabled); in
 * training mode the BatchNorm running statistics and counters are updated.
 * Intermediates are freed before returning.  Fills `out` (replacing nothing:
 * it is initialised here).
 */
int mlf_yolo_forward(struct mlf_yolo_model *m, const mlf_th *x, unsigned what,
		     struct mlf_yolo_output *out, struct mlf_error *err);
void mlf_yolo_output_release(struct mlf_yolo_output *o);

/* ---- inference ---------------------------------------------------------- */

struct mlf_infer_options {
	int imgsz;              /* target size, rounded up to a multiple of the stride (640) */
	int rect;               /* 1: pad only up to a multiple of the stride (predict's
				 * default, rect=True); 0: pad to imgsz x imgsz */
	struct mlf_nms_options nms; /* mlf_nms_options_predict() */
};

/* model.predict()'s defaults: imgsz 640, rect, conf 0.25, iou 0.7, max_det 300. */
void mlf_infer_options_default(struct mlf_infer_options *o);

/*
 * The letterbox predict uses for a w x h image: LetterBox(imgsz, auto=rect,
 * stride=max(model stride, 32)) with imgsz checked as check_imgsz does.
 */
int mlf_yolo_infer_geometry(const struct mlf_yolo_model *m, int w, int h,
			    const struct mlf_infer_options *o, struct mlf_letterbox *lb,
			    struct mlf_error *err);

/*
 * model.predict() on one RGB image (w x h x 3, row-major): letterbox
 * (mlf_letterbox_image), /255 into CHW float32, an eval forward without
 * gradients (fused when the model is set so), NMS, boxes mapped back to the
 * image and clipped as scale_boxes does.  The model's mode is restored.
 */
int mlf_yolo_infer(struct mlf_yolo_model *m, const unsigned char *rgb, int w, int h,
		   const struct mlf_infer_options *o, struct mlf_detections *out,
		   struct mlf_error *err);

/* The same from pixels already letterboxed to lb->out_w x lb->out_h. */
int mlf_yolo_infer_letterboxed(struct mlf_yolo_model *m, const unsigned char *lb_rgb,
			       const struct mlf_letterbox *lb, const struct mlf_nms_options *nms,
			       struct mlf_detections *out, struct mlf_error *err);

/* Batch pieces (the validator's): HWC uint8 -> CHW float32 / 255, as
 * Ultralytics' preprocess divides (values bit-identical). */
void mlf_yolo_hwc_to_chw(const unsigned char *hwc, int w, int h, float *chw);
/* `batch` images of w x h (HWC, one after another) as a [batch, 3, h, w]
 * tensor on `device`; NULL with the shim's error set on failure. */
mlf_th *mlf_yolo_batch_tensor(const unsigned char *hwc, int batch, int w, int h, int device);
/* NMS of each image of a decoded output [B, 4+nc, A] (any device): fills
 * out[0..B-1] (initialised detections), boxes in input pixels. */
int mlf_yolo_nms_batch(const mlf_th *decoded, const struct mlf_nms_options *o,
		       struct mlf_detections *out, size_t nout, struct mlf_error *err);
/* Boxes of `d` from input pixels back to the original image of `lb`, as
 * predict's scale_boxes (gains and padding recomputed from the shapes). */
void mlf_yolo_detections_to_image(const struct mlf_letterbox *lb, struct mlf_detections *d);

/*
 * The YOLO detection training loss (YOLOv8, YOLO11) in C over the libtorch
 * shim: Ultralytics 8.4.190's v8DetectionLoss (utils/loss.py) with its
 * TaskAlignedAssigner (utils/tal.py), CIoU (utils/metrics.py bbox_iou), DFL
 * and BCE classification loss, with the 8.4 changes to the assigner, as the
 * rules below state.
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
