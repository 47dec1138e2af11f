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
 * The rules are those of parse_model in ultralytics 8.4.190 (see
 * reference/yolo.md section 1); modules understood: Conv, C2f, C3k2, SPPF,
 * C2PSA, nn.Upsample (or Upsample), Concat, Detect.
 *
 * Ownership: a `struct mlf_yolo_arch` owns its layers, parameters and their
 * names, and one reference to `yaml` (the description it was built from,
 * with "scale" filled in when it was picked from "scales").
 * Errors: a malformed description, an unknown module or channels that do not
 * fit fail with status 65 and a message naming the layer.
 */
#ifndef MLF_YOLO_ARCH_H
#define MLF_YOLO_ARCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/error.h"

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

#endif
