/*
 * The model's module graph, shared between the files of lib/model; not part of the
 * library's interface.  Built once from the architecture (net_build.c): every
 * Conv / Conv2d of the model is one `struct yconv` holding the handles of its
 * tensors (owned by mlf_yolo_model.tensors, borrowed here), and the modules
 * refer to convs by index into `yolo_net.convs`.
 */
#ifndef MLF_MODEL_INTERNAL_H
#define MLF_MODEL_INTERNAL_H

#include "mlf/yolo_model.h"

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

/* Fail with the shim's last error. */
int yolo_th_fail(struct mlf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Own a handle made inside a scope: it leaves every scope, the model frees it. */
mlf_th *yolo_own(mlf_th *t);

#endif
