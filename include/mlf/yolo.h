/*
 * mlf/yolo.h: YOLO detection without libtorch.  Sections: architectures
 * (the model description resolved to layers and named parameters); and
 * post-processing (NMS, letterbox geometry and pixels).
 */
/*
 * YOLO detection architectures (YOLOv8, YOLO11): from the Ultralytics model
 * description to the resolved layer list and every parameter and buffer the
 * model has, named and shaped as Ultralytics' state_dict() names them
 * ("model.<i>.<submodule path>.<param>"), in state_dict order.
 *
 * The description is the Ultralytics yaml as a JSON object, the same shape
 * as meta["yaml"] in a checkpoint: "nc", "scales" + "scale" (or
 * "depth_multiple"/"width_multiple"), "backbone" and "head" lists of
 * [from, repeats, module, args], optional "reg_max", "end2end", "channels".
 * The rules are those of parse_model in ultralytics 8.4.190 (nn/tasks.py;
 * see docs/ultralytics-recipe.md); modules understood: Conv, C2f, C3k2, SPPF,
 * C2PSA, nn.Upsample (or Upsample), Concat, Detect.
 *
 * Ownership: a `struct mlf_yolo_arch` owns its layers, parameters and their
 * names, and one reference to `yaml` (the description it was built from,
 * with "scale" filled in when it was picked from "scales").
 * Errors: a malformed description, an unknown module or channels that do not
 * fit fail with status 65 and a message naming the layer.
 */
#ifndef MLF_YOLO_H
#define MLF_YOLO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"
#include "mlf/ckpt.h"

enum mlf_yolo_module {
	MLF_YOLO_CONV,
	MLF_YOLO_C2F,
	MLF_YOLO_C3K2,
	MLF_YOLO_SPPF,
	MLF_YOLO_C2PSA,
	MLF_YOLO_UPSAMPLE,
	MLF_YOLO_CONCAT,
	MLF_YOLO_DETECT,
};

/* "Conv", "C2f", ..., "nn.Upsample", "Concat", "Detect". */
const char *mlf_yolo_module_name(enum mlf_yolo_module m);

#define MLF_YOLO_MAX_FROM 8
#define MLF_YOLO_MAX_DIMS 4

struct mlf_yolo_param {
	char *name;             /* state_dict key */
	int ndim;               /* 0 for num_batches_tracked */
	int64_t shape[MLF_YOLO_MAX_DIMS];
	int64_t numel;
	int is_buffer;          /* BatchNorm running stats and counter */
	int requires_grad;      /* 0 for buffers and the fixed DFL weights */
};

struct mlf_yolo_layer {
	int index;
	int nfrom;
	int from_list;          /* `from` was a list (Concat, Detect need one) */
	int from[MLF_YOLO_MAX_FROM];     /* as written: -1 is the previous layer */
	int from_abs[MLF_YOLO_MAX_FROM]; /* resolved layer index, -1 is the image */
	enum mlf_yolo_module type;
	int repeats;            /* resolved: max(round(n * depth), 1) when n > 1 */
	int c1, c2;             /* input (first `from`) and output channels */
	double stride;          /* of the output relative to the image */
	/* Module arguments, those that apply to `type`. */
	int k, s, g;            /* Conv kernel/stride/groups; SPPF kernel in k */
	int sppf_n;             /* SPPF pools */
	int shortcut;           /* C2f, C3k2, SPPF */
	int c3k, attn;          /* C3k2 (c3k forced on for scales m, l, x) */
	double e;               /* C2f, C3k2, C2PSA expansion */
	int hidden;             /* C2f/C3k2/C2PSA `c`, SPPF `c_` */
	int heads;              /* C2PSA attention heads */
	double upsample;        /* nn.Upsample scale factor */
	int nc, reg_max, end2end, legacy; /* Detect; legacy = YOLOv8 cls branch */
	int nin;                /* Detect inputs: channels in `ch`, strides in `strides` */
	int ch[MLF_YOLO_MAX_FROM];
	double strides[MLF_YOLO_MAX_FROM];
	size_t param_first, nparams; /* its slice of mlf_yolo_arch.params */
};

struct mlf_yolo_arch {
	json_t *yaml;
	const char *scale;      /* the scale used (in `yaml`), NULL without scales */
	double depth, width, max_channels; /* max_channels is INFINITY when absent */
	int nc, reg_max, channels;
	struct mlf_yolo_layer *layers;
	size_t nlayers;
	struct mlf_yolo_param *params; /* state_dict order */
	size_t nparams, cap;
};

void mlf_yolo_arch_init(struct mlf_yolo_arch *a);
void mlf_yolo_arch_release(struct mlf_yolo_arch *a);

/* Build from a description (not modified; a copy is kept).  `a` must be freshly
 * initialised; on failure it is left released. */
int mlf_yolo_arch_from_yaml(struct mlf_yolo_arch *a, const json_t *yaml, struct mlf_error *err);

/*
 * The released descriptions: family "yolov8" or "yolo11", scale one of
 * n/s/m/l/x, with `nc` classes.  mlf_yolo_arch_builtin_yaml returns a new
 * reference to the description (with "scale", "nc" and "yaml_file" set the way
 * Ultralytics stores them), or NULL with status 65 for an unknown family/scale.
 */
json_t *mlf_yolo_arch_builtin_yaml(const char *family, char scale, int nc, struct mlf_error *err);
int mlf_yolo_arch_builtin(struct mlf_yolo_arch *a, const char *family, char scale, int nc,
			  struct mlf_error *err);

/*
 * Checkpoints against their architecture (no libtorch): the strict rule a
 * detector's weights follow, every parameter and buffer of the architecture
 * present by state_dict name with its shape and kind of dtype (an integer
 * counter, else floating point), and no tensor the model lacks.
 */
/* BatchNorm's num_batches_tracked, a 0-d integer buffer; every other tensor is floating point. */
int mlf_yolo_param_is_counter(const struct mlf_yolo_param *p);
/* Why `t` cannot be parameter `p` (-1, err 65), or 0 when it can. */
int mlf_yolo_param_mismatch(const struct mlf_yolo_param *p, const struct mlf_tensor *t,
			    struct mlf_error *err);
int mlf_yolo_arch_check_ckpt(const struct mlf_yolo_arch *a, const struct mlf_ckpt *c,
			     struct mlf_error *err);
/*
 * Read the .pt at `path` whole and check it as a detector: the reader of
 * mlf/ckpt.h (which refuses a pickle naming code to run), the architecture in
 * its meta "yaml", and the strict rule above.  What mlf-validate and
 * retrain-run both require of a base model.  On success *c holds it (the
 * caller releases it); on failure it is released and err says why (65, or
 * 66/74 for a file that cannot be read).
 */
int mlf_yolo_checkpoint_read(const char *path, struct mlf_ckpt *c, struct mlf_error *err);

static inline size_t mlf_yolo_arch_nlayers(const struct mlf_yolo_arch *a) { return a->nlayers; }
/* Output channels of layer i (i < nlayers). */
static inline int mlf_yolo_arch_out_channels(const struct mlf_yolo_arch *a, size_t i)
{
	return a->layers[i].c2;
}

/* The hidden widths of a Detect layer's box (cv2) and class (cv3) branches,
 * as Ultralytics' Detect.__init__ derives them from its first input. */
void mlf_yolo_detect_widths(const struct mlf_yolo_layer *l, int *box_c, int *cls_c);

/*
 * Parameter iterator, in state_dict order:
 *   size_t it = 0; const struct mlf_yolo_param *p;
 *   while ((p = mlf_yolo_arch_next(a, &it))) ...
 */
const struct mlf_yolo_param *mlf_yolo_arch_next(const struct mlf_yolo_arch *a, size_t *it);
const struct mlf_yolo_param *mlf_yolo_arch_find(const struct mlf_yolo_arch *a, const char *name);

/* Element counts: nn.Parameters (what Ultralytics reports as "parameters",
 * the frozen DFL weights included) and buffers. */
int64_t mlf_yolo_arch_param_count(const struct mlf_yolo_arch *a);
int64_t mlf_yolo_arch_buffer_count(const struct mlf_yolo_arch *a);

/*
 * Detection post-processing: non-maximum suppression over a Detect head's
 * decoded output, and letterbox geometry (to put an image into the network
 * input and to map boxes back), matching Ultralytics 8.4.190
 * (ultralytics/utils/nms.py non_max_suppression, data/augment.py LetterBox,
 * utils/ops.py scale_boxes and clip_boxes; see docs/ultralytics-recipe.md).
 *
 * Ownership: `struct mlf_detections` owns its `det` array; mlf_yolo_nms
 * reuses and grows it, mlf_detections_release frees it.  The prediction is
 * only read.
 * Errors: invalid arguments fail with status 64 (usage: thresholds, sizes,
 * null pointers); nothing here reads data, so 65 is used only for a
 * prediction too large to index.
 */

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
 * Implemented in lib/yolo/letterbox.c.
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
