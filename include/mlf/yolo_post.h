/*
 * Detection post-processing: non-maximum suppression over a Detect head's
 * decoded output, and letterbox geometry (to put an image into the network
 * input and to map boxes back), matching Ultralytics 8.4.190
 * (ultralytics/utils/nms.py non_max_suppression, data/augment.py LetterBox,
 * utils/ops.py scale_boxes and clip_boxes; reference/yolo.md 1.4, 4.4, 5.1).
 *
 * Ownership: `struct mlf_detections` owns its `det` array; mlf_yolo_nms
 * reuses and grows it, mlf_detections_release frees it.  The prediction is
 * only read.
 * Errors: invalid arguments fail with status 64 (usage: thresholds, sizes,
 * null pointers); nothing here reads data, so 65 is used only for a
 * prediction too large to index.
 */
#ifndef MLF_YOLO_POST_H
#define MLF_YOLO_POST_H

#include <stddef.h>

#include "mlf/error.h"

/* Ultralytics' per-class coordinate offset for class-aware NMS. */
#define MLF_NMS_MAX_WH 7680

struct mlf_nms_options {
	float conf;             /* keep scores > conf (compared in float, as PyTorch compares) */
	double iou;             /* suppress IoU > iou (float IoU compared in double, as torchvision) */
	int max_det;            /* at most this many detections */
	int max_nms;            /* at most this many boxes enter NMS (best scores) */
	int agnostic;           /* one class for suppression */
	int multi_label;        /* one row per (box, class) with score > conf; ignored when nc == 1 */
};

/* conf 0.25, iou 0.7, max_det 300, max_nms 30000, single label: model.predict(). */
void mlf_nms_options_predict(struct mlf_nms_options *o);
/* conf 0.001, iou 0.7, max_det 300, max_nms 30000, multi-label: the validator. */
void mlf_nms_options_val(struct mlf_nms_options *o);

struct mlf_detection {
	float x1, y1, x2, y2;   /* input pixels */
	float score;
	int cls;
	int anchor;             /* column of the prediction it came from */
};

struct mlf_detections {
	struct mlf_detection *det;   /* best score first */
	size_t n, cap;
};

void mlf_detections_init(struct mlf_detections *d);
void mlf_detections_release(struct mlf_detections *d);

/*
 * pred: one image, row-major [4 + nc][nanchors]: cx, cy, w, h rows, then the
 * class score rows.  Fills `out` (replacing what it held).  A box with a NaN
 * class score is never a candidate (Ultralytics' amax propagates NaN).
 *
 * The suppression is non_max_suppression's as YOLO.predict and the
 * validator run it on the CPU: with torchvision imported (they import it),
 * so torchvision.ops.nms.  Its stable sort keeps equal scores in candidate
 * order (anchor order; with multi_label, (anchor, class) order), which
 * decides which of equally scored overlapping boxes survives.  With more
 * than max_nms candidates, the cut to max_nms is torch.argsort's unstable
 * introsort, reproduced exactly, and its order of ties carries through.
 * (Ultralytics without torchvision, TorchNMS, orders ties otherwise and is
 * not reproduced; neither are the CUDA kernels' sorts or Ultralytics'
 * wall-clock limit.)
 */
int mlf_yolo_nms(const float *pred, int nc, int nanchors, const struct mlf_nms_options *o,
		 struct mlf_detections *out, struct mlf_error *err);

struct mlf_letterbox {
	int w0, h0;             /* original image */
	double ratio;           /* scale applied to the image */
	int new_w, new_h;       /* resized, before padding */
	int left, top, right, bottom;   /* padding */
	int out_w, out_h;       /* network input: new + padding */
	double gain_x, gain_y;  /* new_w / w0, new_h / h0: what boxes are scaled back by */
};

/* LetterBox(new_shape=target, auto=auto_pad, scaleup, stride, centred). */
int mlf_letterbox_params(int w0, int h0, int target, int stride, int auto_pad, int scaleup,
			 struct mlf_letterbox *lb);
/* The same into a target_w x target_h canvas (validation's rectangular batches). */
int mlf_letterbox_params_rect(int w0, int h0, int target_w, int target_h, int stride, int auto_pad,
			      int scaleup, struct mlf_letterbox *lb);

/*
 * The letterboxed pixels: `rgb` (lb->w0 x lb->h0, 3 channels, row-major) resized
 * to new_w x new_h as OpenCV's cv2.resize(INTER_LINEAR) resizes 8-bit images
 * (bit for bit: its fixed-point weights and rounding), placed at (left, top) in
 * `out` (out_w x out_h x 3), the border filled with 114 as LetterBox does.
 * Implemented in lib/letterbox.c.
 */
int mlf_letterbox_image(const unsigned char *rgb, const struct mlf_letterbox *lb, unsigned char *out,
			struct mlf_error *err);

/*
 * Boxes (xyxy, n rows of 4 floats, in place) from the letterboxed input back
 * to the original image, clipped to it: scale_boxes with ratio_pad =
 * ((gain_y, gain_x), (left, top)), then clip_boxes.
 */
void mlf_scale_boxes_back(const struct mlf_letterbox *lb, float *boxes, size_t n);

#endif
