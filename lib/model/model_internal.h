/*
 * The model's module graph, shared between the files of lib/model; not part of the
 * library's interface.  Built once from the architecture (net_build.c): every
 * Conv / Conv2d of the model is one `struct yconv` holding the handles of its
 * tensors (owned by mlf_yolo_model.tensors, borrowed here), and the modules
 * refer to convs by index into `yolo_net.convs`.
 */
#ifndef MLF_LIB_MODEL_MODEL_INTERNAL_H
#define MLF_LIB_MODEL_MODEL_INTERNAL_H

#include "mlf/torch/model.h"

/* A Conv (conv + BatchNorm + optional SiLU) or a plain nn.Conv2d (bias, no
 * BatchNorm, no activation: the Detect outputs and the DFL). */
struct yconv {
	mlf_th *w, *b;                  /* b: the Conv2d bias, NULL for a Conv */
	mlf_th *bn_w, *bn_b, *bn_mean, *bn_var, *bn_count; /* NULL for a plain Conv2d */
	int c1, c2, k, s, g, act;
	mlf_th *fw, *fb;                /* folded weights (fuse.c), owned by the net */
};

struct ybneck {
	int cv1, cv2;
	int add;                        /* shortcut and c1 == c2 */
};

struct yattn {
	int qkv, proj, pe;
	int heads, key_dim, head_dim;
	double scale;
};

struct ypsa {
	struct yattn attn;
	int ffn0, ffn1;
};

/* One element of C2f/C3k2 `m`. */
enum yunit_kind { YU_BNECK, YU_C3K, YU_ATTN };
struct yunit {
	enum yunit_kind kind;
	struct ybneck b;                /* YU_BNECK; YU_ATTN's Bottleneck */
	int cv1, cv2, cv3;              /* YU_C3K */
	struct ybneck *m;               /* YU_C3K bottlenecks */
	int n;
	struct ypsa psa;                /* YU_ATTN */
};

#define YOLO_DETECT_CLS_MAX 5
#define YOLO_SPPF_MAX_POOLS 16

/* One module instance: a layer, or one copy of a layer parse_model wrapped
 * in nn.Sequential. */
struct ymod {
	enum mlf_yolo_module type;
	int conv;                       /* MLF_YOLO_CONV */
	int cv1, cv2, c;                /* C2f, C3k2, C2PSA (c: split size), SPPF */
	struct yunit *units;            /* C2f, C3k2 */
	int nunits;
	struct ypsa *psa;               /* C2PSA */
	int npsa;
	int pool_k, pool_n, add;        /* SPPF */
	int scale;                      /* Upsample */
	/* Detect */
	int nl, nc, reg_max, ncls;
	int box[MLF_YOLO_MAX_LEVELS][3];
	int cls[MLF_YOLO_MAX_LEVELS][YOLO_DETECT_CLS_MAX];
	int dfl;                        /* -1 when reg_max is 1 (no DFL) */
	double strides[MLF_YOLO_MAX_LEVELS];
};

struct ylayer {
	const struct mlf_yolo_layer *l;
	struct ymod *mods;
	int nmods;
	int last_use;                   /* last layer reading this output (-1: none) */
};

struct yolo_net {
	struct yconv *convs;
	size_t nconvs, cap;
	struct ylayer *layers;
	size_t nlayers;
	mlf_th *one;                    /* int64 1, adds to num_batches_tracked */
	int folded;                     /* convs[].fw/fb are current */
	int folded_cl;                  /* ... and in channels-last format */
};

/* net_build.c */
int yolo_net_build(struct mlf_yolo_model *m, struct mlf_error *err);
void yolo_net_free(struct yolo_net *n);

/* fuse.c */
int yolo_fold(struct mlf_yolo_model *m, struct mlf_error *err);
void yolo_unfold(struct yolo_net *n);

/* modules.c: one module instance on x; NULL with the shim's error set. */
struct yfwd {
	struct yolo_net *net;
	int training, fused;
};
mlf_th *yolo_conv_fwd(const struct yfwd *f, int conv, const mlf_th *x);
mlf_th *yolo_mod_fwd(const struct yfwd *f, const struct ymod *mod, const mlf_th *x);

/* detect.c: per-level raw maps and/or the decoded output. */
int yolo_detect_fwd(const struct yfwd *f, const struct ymod *d, mlf_th *const *feats,
		    unsigned what, struct mlf_yolo_output *out);

/* make_anchors(feats, strides, 0.5) for the levels of `o` (nlevels, h, w,
 * stride): points [A, 2] (x, y in grid cells at the cell centres, level by
 * level, row-major within a level) and strides [A, 1], in `dt` on `dev`;
 * -1 with the shim's error set (or none for a bad level count). */
int yolo_make_anchors(const struct mlf_yolo_output *o, enum mlf_dtype dt, int dev, mlf_th **points,
		      mlf_th **strides);

/* Own a handle made inside a scope: it leaves every scope, the model frees it. */
mlf_th *yolo_own(mlf_th *t);

/*
 * The pieces of the detection loss (include/mlf/torch/model.h), shared between
 * lib/model/loss*.c; not part of the library's interface.  Every function
 * makes its tensors in the caller's innermost scope and returns NULL (or -1)
 * with the shim's error set when an operation fails; NULL inputs give NULL.
 * Operations follow Ultralytics 8.4.190's order of floating-point operations,
 * so results agree to the last bit where libtorch's kernels allow.
 */

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
