/*
 * Detection validation metrics computed as Ultralytics 8.4.190 computes them
 * (engine/validator.py match_predictions, models/yolo/detect/val.py,
 * utils/metrics.py box_iou, ap_per_class, compute_ap, smooth, Metric,
 * DetMetrics, ConfusionMatrix; docs/ultralytics-recipe.md).
 *
 * Use: mlf_det_metrics_init, then mlf_det_metrics_add_image once per validation
 * image with its detections after NMS (in NMS order: best score first) and
 * its ground truth, then mlf_det_metrics_compute.  Boxes are xyxy pixels; both
 * must be in the same frame.  Ultralytics 8.4.190 matches in the letterboxed
 * network-input frame (it no longer scales back to the original image before
 * matching); IoU does not depend on the frame, but float32 rounding does, so
 * exact parity at the thresholds needs the same frame and the same float32
 * coordinates as Ultralytics.
 *
 * Precision follows Ultralytics: boxes and IoU in float32 (PyTorch tensors),
 * everything after matching in float64 (NumPy).  Sums, means, interpolation,
 * the trapezoid rule and the confidence sort reproduce NumPy's own algorithms
 * (pairwise summation, np.interp, np.argsort's introsort), so results agree
 * with NumPy to the last bits except the F1 smoothing, which NumPy computes
 * through BLAS (machine-dependent last bits; only its argmax is used).
 * Equal confidences: ap_per_class sorts with np.argsort's default, which is
 * not stable, and on CPUs with AVX2 or AVX-512 NumPy hands it to
 * x86-simd-sort, which leaves ties in yet another order; AP (and P, R) then
 * depend on the machine Ultralytics ran on.  We take the order of NumPy's
 * portable introsort, the one every machine gets with
 * NPY_DISABLE_CPU_FEATURES set (scripts/make-metrics-fixtures).
 *
 * Ownership: `struct mlf_det_metrics` owns its arrays (mlf_det_metrics_release frees
 * them); `struct mlf_det_metrics_result` owns its arrays
 * (mlf_det_metrics_result_release frees them).  Inputs are only read.
 * Errors: bad arguments (null pointers, a detection's class out of range)
 * fail with 64; a label's class out of range or a non-finite box or
 * confidence with 65; allocation failures with 70.
 */
#ifndef MLF_METRICS_H
#define MLF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"
#include "mlf/yolo.h"

/* IoU thresholds: torch.linspace(0.5, 0.95, 10) in float32. */
#define MLF_METRICS_NIOU 10
extern const float mlf_det_iouv[MLF_METRICS_NIOU];

/* Points of the confidence / recall curves: np.linspace(0, 1, 1000). */
#define MLF_METRICS_NCURVE 1000

/*
 * Confusion-matrix thresholds.  ConfusionMatrix.process_batch defaults to
 * conf 0.25, but the 8.4.190 validator passes its own conf (args.conf, 0.001
 * for validation), so that is what its confusion_matrix.png shows; iou 0.45
 * in both.  Detections count when conf > cm_conf, matches when IoU > cm_iou.
 */
#define MLF_METRICS_CM_CONF_VAL 0.001f
#define MLF_METRICS_CM_CONF_DEFAULT 0.25f
#define MLF_METRICS_CM_IOU 0.45f

struct mlf_gt_box {
	float x1, y1, x2, y2;
	int cls;
};

/* Everything the metrics need from the validation images, accumulated. */
struct mlf_det_metrics {
	int nc;                 /* model classes: valid class indices are 0..nc-1 */
	float cm_conf, cm_iou;  /* confusion-matrix thresholds (set after init if needed) */
	size_t nimages;
	/* one entry per detection, in the order fed */
	size_t ndet, cap_det;
	float *conf;
	int *pred_cls;
	uint16_t *tp;           /* bit t set: a true positive at mlf_det_iouv[t] */
	int64_t *nt_per_class;  /* [nc] ground-truth boxes per class */
	int64_t *nt_per_image;  /* [nc] images holding the class */
	int64_t *confusion;     /* [(nc+1) * (nc+1)], [predicted][true], row/column nc = background */
	void *scratch;          /* reused between images */
	size_t cap_scratch;
};

/* cm_conf = MLF_METRICS_CM_CONF_VAL, cm_iou = MLF_METRICS_CM_IOU. */
int mlf_det_metrics_init(struct mlf_det_metrics *m, int nc, struct mlf_error *err);
void mlf_det_metrics_release(struct mlf_det_metrics *m);
/* Forget all images (keeps nc, thresholds and the allocations). */
void mlf_det_metrics_reset(struct mlf_det_metrics *m);

/*
 * One image: its detections (as NMS returned them; only box, score and cls
 * are read) and its ground truth.  Either may be empty.  Appends the image's
 * TP flags to m->tp (rows m->ndet before the call .. m->ndet after) and
 * updates the counts and the confusion matrix.
 */
int mlf_det_metrics_add_image(struct mlf_det_metrics *m, const struct mlf_detection *det, size_t ndet,
			     const struct mlf_gt_box *gt, size_t ngt, struct mlf_error *err);

/* One class that has ground truth (Ultralytics' ap_class_index order: ascending). */
struct mlf_det_class_metrics {
	int cls;
	double p, r, f1;                 /* at the confidence of the best smoothed mean F1 */
	double ap[MLF_METRICS_NIOU];     /* AP at each IoU threshold */
	double ap50, ap50_95;            /* ap[0], mean of ap */
	int64_t instances, images;       /* nt_per_class, nt_per_image */
};

struct mlf_det_metrics_result {
	size_t nimages;
	int64_t ninstances;
	/* the four logged metrics and fitness (Metric.mean_results, Metric.fitness) */
	double mp, mr, map50, map75, map;
	double fitness;                  /* 8.4.190: mAP50-95 alone (weights 0, 0, 0, 1) */
	size_t nclasses;                 /* classes with ground truth */
	struct mlf_det_class_metrics *cls;   /* [nclasses] */
	double *maps;                    /* [nc] per-class mAP50-95, map where a class has no ground truth */
	/*
	 * Curves for the plots, as Metric.curves_results: px = linspace(0, 1,
	 * 1000); rows per class in `cls` order, row-major [nclasses][1000].
	 * prec: precision envelope at IoU 0.5 against recall px (PR curve);
	 * p, r, f1: against confidence px.  best = the index into px that
	 * p, r, f1 were taken at (0 when there are no classes).
	 */
	double *px, *prec, *p_curve, *r_curve, *f1_curve;
	int best;
};

int mlf_det_metrics_compute(const struct mlf_det_metrics *m, struct mlf_det_metrics_result *r,
			    struct mlf_error *err);
void mlf_det_metrics_result_release(struct mlf_det_metrics_result *r);

/*
 * The building blocks, for tests and other callers.
 *
 * box_iou: out[i * ndet + j] = IoU(gt[i], det[j]) in float32 with eps 1e-7,
 * whatever the classes.
 */
void mlf_box_iou(const struct mlf_gt_box *gt, size_t ngt, const struct mlf_detection *det, size_t ndet,
		 float *out);
/*
 * match_predictions (greedy, not scipy): iou is [ngt][ndet] and is zeroed in
 * place where classes differ; detections are walked in index order; flags
 * needs ngt * MLF_METRICS_NIOU bytes of scratch.  tp[j] gets bit t set when
 * detection j is a true positive at threshold t.
 */
void mlf_match_predictions(float *iou, const int *gt_cls, size_t ngt, const int *det_cls, size_t ndet,
			   unsigned char *flags, uint16_t *tp);
/*
 * smooth(y, f) of utils/metrics.py: a box filter of round(n*f*2)//2+1 taps
 * over y with its first and last values repeated nf//2 times.  Writes n
 * values (n + 1 when the tap count comes out even) and returns how many, or
 * -1 when out of memory or f is unusable.
 */
int mlf_det_metrics_smooth(const double *y, size_t n, double f, double *out);

#endif
