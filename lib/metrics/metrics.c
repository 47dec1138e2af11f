/*
 * The validation-metrics accumulator: what DetectionValidator.update_metrics
 * keeps per image (TP flags, confidences, classes, label counts) and the
 * confusion matrix.  The numbers come from lib/metrics/metrics_ap.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"

int mlf_det_metrics_init(struct mlf_det_metrics *m, int nc, struct mlf_error *err)
{
	memset(m, 0, sizeof(*m));
	if (nc < 1 || nc > 1000000)
		return mlf_fail(err, MLF_EX_USAGE, "metrics: %d classes is not a valid class count", nc);
	m->nc = nc;
	m->cm_conf = MLF_METRICS_CM_CONF_VAL;
	m->cm_iou = MLF_METRICS_CM_IOU;
	size_t side = (size_t)nc + 1;
	m->nt_per_class = calloc((size_t)nc, sizeof(*m->nt_per_class));
	m->nt_per_image = calloc((size_t)nc, sizeof(*m->nt_per_image));
	m->confusion = calloc(side * side, sizeof(*m->confusion));
	if (!m->nt_per_class || !m->nt_per_image || !m->confusion) {
		mlf_det_metrics_release(m);
		return mlf_fail(err, MLF_EX_SOFTWARE, "metrics: out of memory for %d classes", nc);
	}
	return 0;
}

void mlf_det_metrics_release(struct mlf_det_metrics *m)
{
	free(m->conf);
	free(m->pred_cls);
	free(m->tp);
	free(m->nt_per_class);
	free(m->nt_per_image);
	free(m->confusion);
	free(m->scratch);
	memset(m, 0, sizeof(*m));
}

void mlf_det_metrics_reset(struct mlf_det_metrics *m)
{
	size_t side = (size_t)m->nc + 1;
	m->nimages = 0;
	m->ndet = 0;
	memset(m->nt_per_class, 0, (size_t)m->nc * sizeof(*m->nt_per_class));
	memset(m->nt_per_image, 0, (size_t)m->nc * sizeof(*m->nt_per_image));
	memset(m->confusion, 0, side * side * sizeof(*m->confusion));
}

static int grow_det(struct mlf_det_metrics *m, size_t more, struct mlf_error *err)
{
	if (more <= m->cap_det - m->ndet)
		return 0;
	size_t cap = m->cap_det ? m->cap_det : 1024;
	while (cap - m->ndet < more) {
		if (cap > SIZE_MAX / 2 / sizeof(double))
			return mlf_fail(err, MLF_EX_SOFTWARE, "metrics: too many detections");
		cap *= 2;
	}
	float *conf = realloc(m->conf, cap * sizeof(*conf));
	if (conf)
		m->conf = conf;
	int *cls = realloc(m->pred_cls, cap * sizeof(*cls));
	if (cls)
		m->pred_cls = cls;
	uint16_t *tp = realloc(m->tp, cap * sizeof(*tp));
	if (tp)
		m->tp = tp;
	if (!conf || !cls || !tp)
		return mlf_fail(err, MLF_EX_SOFTWARE, "metrics: out of memory for %zu detections", cap);
	m->cap_det = cap;
	return 0;
}

/* Scratch for one image, carved from one block: widest types first. */
struct scratch {
	size_t *order;
	ptrdiff_t *gt_match;
	float *iou, *iou_cm;
	int *gt_cls, *det_cls;
	unsigned char *flags, *seen;
};

static int mul_add(size_t *acc, size_t n, size_t size)
{
	if (n && size > (SIZE_MAX - *acc) / n)
		return -1;
	*acc += n * size;
	return 0;
}

static int get_scratch(struct mlf_det_metrics *m, size_t ngt, size_t ndet, struct scratch *s,
		       struct mlf_error *err)
{
	size_t need = 0, pairs = ngt * ndet;
	if ((ngt && pairs / ngt != ndet) || mul_add(&need, ndet, sizeof(size_t)) ||
	    mul_add(&need, ngt, sizeof(ptrdiff_t)) || mul_add(&need, 2 * pairs, sizeof(float)) ||
	    mul_add(&need, ngt + ndet, sizeof(int)) || mul_add(&need, ngt, MLF_METRICS_NIOU) ||
	    mul_add(&need, (size_t)m->nc, 1))
		return mlf_fail(err, MLF_EX_USAGE, "metrics: %zu boxes by %zu detections is too large", ngt, ndet);
	if (need > m->cap_scratch) {
		void *p = realloc(m->scratch, need);
		if (!p)
			return mlf_fail(err, MLF_EX_SOFTWARE, "metrics: out of memory for %zu bytes", need);
		m->scratch = p;
		m->cap_scratch = need;
	}
	char *p = m->scratch;
	s->order = (size_t *)(void *)p;
	p += ndet * sizeof(size_t);
	s->gt_match = (ptrdiff_t *)(void *)p;
	p += ngt * sizeof(ptrdiff_t);
	s->iou = (float *)(void *)p;
	p += pairs * sizeof(float);
	s->iou_cm = (float *)(void *)p;
	p += pairs * sizeof(float);
	s->gt_cls = (int *)(void *)p;
	p += ngt * sizeof(int);
	s->det_cls = (int *)(void *)p;
	p += ndet * sizeof(int);
	s->flags = (unsigned char *)p;
	p += ngt * MLF_METRICS_NIOU;
	s->seen = (unsigned char *)p;
	return 0;
}

static int finite_box(float x1, float y1, float x2, float y2)
{
	return isfinite(x1) && isfinite(y1) && isfinite(x2) && isfinite(y2);
}

static int check_image(const struct mlf_det_metrics *m, const struct mlf_detection *det, size_t ndet,
		       const struct mlf_gt_box *gt, size_t ngt, struct mlf_error *err)
{
	for (size_t j = 0; j < ndet; j++) {
		const struct mlf_detection *d = &det[j];
		if (d->cls < 0 || d->cls >= m->nc)
			return mlf_fail(err, MLF_EX_USAGE,
					"metrics: detection %zu has class %d, the model has %d classes", j, d->cls,
					m->nc);
		if (!finite_box(d->x1, d->y1, d->x2, d->y2) || !isfinite(d->score))
			return mlf_fail(err, MLF_EX_DATAERR, "metrics: detection %zu has a non-finite box or score",
					j);
	}
	for (size_t i = 0; i < ngt; i++) {
		if (gt[i].cls < 0 || gt[i].cls >= m->nc)
			return mlf_fail(err, MLF_EX_DATAERR,
					"metrics: label %zu has class %d, the model has %d classes", i, gt[i].cls,
					m->nc);
		if (!finite_box(gt[i].x1, gt[i].y1, gt[i].x2, gt[i].y2))
			return mlf_fail(err, MLF_EX_DATAERR, "metrics: label %zu has a non-finite box", i);
	}
	return 0;
}

int mlf_det_metrics_add_image(struct mlf_det_metrics *m, const struct mlf_detection *det, size_t ndet,
			     const struct mlf_gt_box *gt, size_t ngt, struct mlf_error *err)
{
	if (!m || !m->confusion || (ndet && !det) || (ngt && !gt))
		return mlf_fail(err, MLF_EX_USAGE, "metrics: missing accumulator, detections or labels");
	if (check_image(m, det, ndet, gt, ngt, err) < 0)
		return -1;
	struct scratch s = { 0 };
	if (grow_det(m, ndet, err) < 0 || get_scratch(m, ngt, ndet, &s, err) < 0)
		return -1;

	uint16_t *tp = m->tp + m->ndet;
	for (size_t j = 0; j < ndet; j++) {
		m->conf[m->ndet + j] = det[j].score;
		m->pred_cls[m->ndet + j] = det[j].cls;
		s.det_cls[j] = det[j].cls;
		tp[j] = 0;
	}
	memset(s.seen, 0, (size_t)m->nc);
	for (size_t i = 0; i < ngt; i++) {
		s.gt_cls[i] = gt[i].cls;
		m->nt_per_class[gt[i].cls]++;
		if (!s.seen[gt[i].cls]) {
			s.seen[gt[i].cls] = 1;
			m->nt_per_image[gt[i].cls]++;
		}
	}
	if (ngt && ndet) {
		mlf_box_iou(gt, ngt, det, ndet, s.iou);
		memcpy(s.iou_cm, s.iou, ngt * ndet * sizeof(*s.iou));
		mlf_match_predictions(s.iou, s.gt_cls, ngt, s.det_cls, ndet, s.flags, tp);
	}
	mlf_det_metrics_confusion_image(m, det, ndet, gt, ngt, s.iou_cm, s.order, s.gt_match);
	m->ndet += ndet;
	m->nimages++;
	return 0;
}
