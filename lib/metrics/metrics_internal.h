/*
 * Internals of the validation metrics (lib/metrics*.c): NumPy's algorithms
 * where their exact order of operations decides the result, and the
 * confusion-matrix update.  Shared by those files and their unit test only.
 */
#ifndef MLF_METRICS_INTERNAL_H
#define MLF_METRICS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/metrics.h"

/*
 * np.argsort(v) with the default kind as NumPy runs it without SIMD sorting
 * (introsort: median-of-3 quicksort, insertion sort below 17 elements,
 * heapsort past the depth limit; NaN last).  Not stable: equal values come
 * out in the order this algorithm leaves them.  idx gets n indices.
 */
void mlf_np_argsort(const double *v, size_t n, size_t *idx);

/* np.add.reduce over n doubles `stride` apart: NumPy's pairwise summation. */
double mlf_np_sum(const double *a, size_t n, size_t stride);

/*
 * np.interp(x, xp, fp, left, right) for nondecreasing xp (nxp >= 1): x
 * beyond xp takes left/right, x equal to xp values takes fp at the last
 * equal one, otherwise the line between its neighbours.
 */
void mlf_np_interp(const double *x, size_t nx, const double *xp, const double *fp, size_t nxp, double left,
		   double right, double *out);

/*
 * ConfusionMatrix.process_batch for one image.  iou is the class-agnostic
 * [ngt][ndet] IoU of all detections (modified); `order` needs ndet entries
 * and `gt_match` ngt entries of scratch.
 */
void mlf_det_metrics_confusion_image(struct mlf_det_metrics *m, const struct mlf_detection *det,
				     size_t ndet, const struct mlf_gt_box *gt, size_t ngt, float *iou,
				     size_t *order, ptrdiff_t *gt_match);

#endif
