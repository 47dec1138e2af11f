/*
 * IoU and the greedy detection-to-ground-truth matching of Ultralytics
 * 8.4.190 (utils/metrics.py box_iou, engine/validator.py match_predictions).
 * All in float32, one operation at a time as PyTorch evaluates it, so that
 * an IoU sitting exactly on a threshold goes the same way.
 */
#include <string.h>

#include "mlf/metrics.h"

const float mlf_det_iouv[MLF_METRICS_NIOU] = {
	0x1p-1f, 0x1.19999ap-1f, 0x1.333334p-1f, 0x1.4cccccp-1f, 0x1.666666p-1f,
	0x1.8p-1f, 0x1.99999ap-1f, 0x1.b33334p-1f, 0x1.ccccccp-1f, 0x1.e66666p-1f,
};

static float pos(float v)
{
	return v > 0.0f ? v : 0.0f;
}

void mlf_box_iou(const struct mlf_gt_box *gt, size_t ngt, const struct mlf_detection *det, size_t ndet,
		 float *out)
{
	const float eps = 1e-7f;
	for (size_t i = 0; i < ngt; i++) {
		const struct mlf_gt_box *a = &gt[i];
		float aw = a->x2 - a->x1, ah = a->y2 - a->y1;
		float area_a = aw * ah;
		for (size_t j = 0; j < ndet; j++) {
			const struct mlf_detection *b = &det[j];
			float iw = pos((a->x2 < b->x2 ? a->x2 : b->x2) - (a->x1 > b->x1 ? a->x1 : b->x1));
			float ih = pos((a->y2 < b->y2 ? a->y2 : b->y2) - (a->y1 > b->y1 ? a->y1 : b->y1));
			float inter = iw * ih;
			float bw = b->x2 - b->x1, bh = b->y2 - b->y1;
			float area_b = bw * bh;
			float denom = area_a + area_b;
			denom = denom - inter;
			denom = denom + eps;
			out[i * ndet + j] = inter / denom;
		}
	}
}

/*
 * Each detection, in order, claims at every threshold independently the
 * unclaimed ground truth it overlaps most (the first one on equal IoU, as
 * argmax does) and is a true positive there when that IoU reaches the
 * threshold.  Detections below the lowest threshold everywhere are skipped,
 * which changes nothing but the work.
 */
void mlf_match_predictions(float *iou, const int *gt_cls, size_t ngt, const int *det_cls, size_t ndet,
			   unsigned char *flags, uint16_t *tp)
{
	memset(flags, 0, ngt * MLF_METRICS_NIOU);
	for (size_t i = 0; i < ngt; i++)
		for (size_t j = 0; j < ndet; j++)
			if (gt_cls[i] != det_cls[j])
				iou[i * ndet + j] = 0.0f;
	for (size_t j = 0; j < ndet; j++) {
		tp[j] = 0;
		int any = 0;
		for (size_t i = 0; i < ngt && !any; i++)
			any = iou[i * ndet + j] >= mlf_det_iouv[0];
		if (!any)
			continue;
		for (int t = 0; t < MLF_METRICS_NIOU; t++) {
			/* np.argmax: the first maximum, or the first NaN */
			size_t best = 0;
			float bestv = flags[(size_t)t] ? 0.0f : iou[j];
			for (size_t i = 1; i < ngt && bestv == bestv; i++) {
				float v = flags[i * MLF_METRICS_NIOU + (size_t)t] ? 0.0f : iou[i * ndet + j];
				if (!(v <= bestv)) {
					best = i;
					bestv = v;
				}
			}
			if (bestv >= mlf_det_iouv[t]) {
				tp[j] |= (uint16_t)(1u << t);
				flags[best * MLF_METRICS_NIOU + (size_t)t] = 1;
			}
		}
	}
}
