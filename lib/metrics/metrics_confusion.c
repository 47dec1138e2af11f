/*
 * The detection confusion matrix of Ultralytics 8.4.190
 * (utils/metrics.py ConfusionMatrix.process_batch): class-agnostic greedy
 * one-to-one matching, most confident detection first, so that a box of the
 * wrong class counts as a confusion between the two classes.
 */
#include "metrics_internal.h"

static int64_t *cell(struct mlf_det_metrics *m, int pred, int truth)
{
	return &m->confusion[(size_t)pred * (size_t)(m->nc + 1) + (size_t)truth];
}

void mlf_det_metrics_confusion_image(struct mlf_det_metrics *m, const struct mlf_detection *det,
				     size_t ndet, const struct mlf_gt_box *gt, size_t ngt, float *iou,
				     size_t *order, ptrdiff_t *gt_match)
{
	const int bg = m->nc;
	/* detections kept: conf > cm_conf, in their original order */
	size_t nkeep = 0;
	for (size_t j = 0; j < ndet; j++)
		if (det[j].score > m->cm_conf)
			order[nkeep++] = j;
	if (ngt == 0) {
		for (size_t k = 0; k < nkeep; k++)
			(*cell(m, det[order[k]].cls, bg))++;
		return;
	}
	if (ndet == 0) {
		for (size_t i = 0; i < ngt; i++)
			(*cell(m, bg, gt[i].cls))++;
		return;
	}

	/* candidates (some IoU > cm_iou), by confidence descending, stably */
	size_t ncand = 0;
	for (size_t k = 0; k < nkeep; k++) {
		size_t j = order[k];
		int any = 0;
		for (size_t i = 0; i < ngt && !any; i++)
			any = iou[i * ndet + j] > m->cm_iou;
		if (any)
			order[ncand++] = j;
	}
	for (size_t a = 1; a < ncand; a++) {
		size_t j = order[a], b = a;
		while (b > 0 && det[order[b - 1]].score < det[j].score) {
			order[b] = order[b - 1];
			b--;
		}
		order[b] = j;
	}

	for (size_t i = 0; i < ngt; i++)
		gt_match[i] = -1;
	for (size_t c = 0; c < ncand; c++) {
		size_t j = order[c], best = 0;
		float bestv = iou[j];
		for (size_t i = 1; i < ngt && bestv == bestv; i++)
			if (!(iou[i * ndet + j] <= bestv)) {
				best = i;
				bestv = iou[i * ndet + j];
			}
		if (bestv > m->cm_iou) {
			gt_match[best] = (ptrdiff_t)j;
			for (size_t k = 0; k < ndet; k++)
				iou[best * ndet + k] = 0.0f;
		}
	}

	for (size_t i = 0; i < ngt; i++) {
		if (gt_match[i] >= 0)
			(*cell(m, det[gt_match[i]].cls, gt[i].cls))++;
		else
			(*cell(m, bg, gt[i].cls))++;
	}
	/* unmatched kept detections are false positives against background */
	for (size_t j = 0; j < ndet; j++) {
		if (!(det[j].score > m->cm_conf))
			continue;
		int matched = 0;
		for (size_t i = 0; i < ngt && !matched; i++)
			matched = gt_match[i] == (ptrdiff_t)j;
		if (!matched)
			(*cell(m, det[j].cls, bg))++;
	}
}
