/*
 * From the accumulated TP flags to P, R, AP and the curves, as Ultralytics
 * 8.4.190 does it (utils/metrics.py ap_per_class, compute_ap, smooth,
 * Metric; docs/ultralytics-recipe.md).  float64 throughout, NumPy's order of
 * operations (lib/metrics/metrics_numpy.c) wherever it changes the last bits.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"

#define NCURVE MLF_METRICS_NCURVE
#define NIOU MLF_METRICS_NIOU
#define NAP 101 /* compute_ap's interpolation points */

/* np.linspace(0, 1, n): i * (1 / (n - 1)), the last exactly 1. */
static void linspace01(double *x, size_t n)
{
	double step = 1.0 / (double)(n - 1);
	for (size_t i = 0; i + 1 < n; i++)
		x[i] = (double)i * step + 0.0;
	x[n - 1] = 1.0;
}

/* np.argmax: the first maximum, or the first NaN. */
static size_t argmax(const double *y, size_t n)
{
	size_t best = 0;
	double v = y[0];
	for (size_t i = 1; i < n && v == v; i++)
		if (!(y[i] <= v)) {
			v = y[i];
			best = i;
		}
	return best;
}

int mlf_det_metrics_smooth(const double *y, size_t n, double f, double *out)
{
	if (n == 0)
		return 0;
	/* nf = round(n * f * 2) // 2 + 1 (Python's round: half to even); not always odd */
	double r = rint((double)n * f * 2.0);
	if (!(r >= 0.0) || r > 1e9)
		return -1;
	size_t nf = (size_t)r / 2 + 1, pad = nf / 2, nout = n + 2 * pad - nf + 1;
	if (n > INT_MAX / 2 || nf > INT_MAX / 2)
		return -1;
	double *yp = malloc((n + 2 * pad) * sizeof(*yp));
	if (!yp)
		return -1;
	for (size_t i = 0; i < pad; i++) {
		yp[i] = y[0];
		yp[pad + n + i] = y[n - 1];
	}
	memcpy(yp + pad, y, n * sizeof(*y));
	double w = 1.0 / (double)nf;
	for (size_t i = 0; i < nout; i++) {
		double s = 0.0;
		for (size_t k = 0; k < nf; k++)
			s += yp[i + k] * w;
		out[i] = s;
	}
	free(yp);
	return (int)nout;
}

/*
 * compute_ap: recall/precision with sentinels (0, 1) before, (recall[-1], 0)
 * and (1, 0) after; the precision envelope; then the trapezoid rule over
 * np.interp at 101 recall points.  mrec, mpre need n + 3; `pr`, when not
 * NULL, gets the envelope sampled at x (NCURVE points): the PR curve.
 */
static double compute_ap(const double *recall, const double *precision, size_t n, double *mrec, double *mpre,
			 const double *apx, const double *x, double *pr)
{
	mrec[0] = 0.0;
	mpre[0] = 1.0;
	memcpy(mrec + 1, recall, n * sizeof(*mrec));
	memcpy(mpre + 1, precision, n * sizeof(*mpre));
	mrec[n + 1] = n ? recall[n - 1] : 1.0;
	mrec[n + 2] = 1.0;
	mpre[n + 1] = 0.0;
	mpre[n + 2] = 0.0;
	for (size_t k = n + 2; k-- > 0;) {
		double a = mpre[k + 1], b = mpre[k];
		mpre[k] = (a != a || a >= b) ? a : b;  /* np.maximum, NaN propagating */
	}
	double y[NAP], terms[NAP - 1];
	mlf_np_interp(apx, NAP, mrec, mpre, n + 3, mpre[0], mpre[n + 2], y);
	for (size_t k = 0; k + 1 < NAP; k++) {
		double d = apx[k + 1] - apx[k];
		terms[k] = d * (y[k + 1] + y[k]) / 2.0;
	}
	if (pr)
		mlf_np_interp(x, NCURVE, mrec, mpre, n + 3, mpre[0], mpre[n + 2], pr);
	return mlf_np_sum(terms, NAP - 1, 1);
}

/* Working arrays for one class, sized for every detection. */
struct work {
	size_t *order;          /* all detections by confidence, descending */
	size_t *idx;            /* this class's, in that order */
	double *negconf;        /* -conf of all, then of this class */
	double *negx, *recall, *precision, *mrec, *mpre;
	double apx[NAP];
};

static void work_free(struct work *w)
{
	free(w->order);
	free(w->idx);
	free(w->negconf);
	free(w->negx);
	free(w->recall);
	free(w->precision);
	free(w->mrec);
	free(w->mpre);
}

static int work_alloc(struct work *w, size_t ndet)
{
	memset(w, 0, sizeof(*w));
	size_t n = ndet ? ndet : 1;
	if (n > SIZE_MAX / NIOU / sizeof(double) - 3)
		return -1;
	w->order = malloc(n * sizeof(*w->order));
	w->idx = malloc(n * sizeof(*w->idx));
	w->negconf = malloc(n * sizeof(*w->negconf));
	w->negx = mlf_xmalloc(NCURVE * sizeof(*w->negx));
	w->recall = malloc(n * NIOU * sizeof(*w->recall));
	w->precision = malloc(n * NIOU * sizeof(*w->precision));
	w->mrec = malloc((n + 3) * sizeof(*w->mrec));
	w->mpre = malloc((n + 3) * sizeof(*w->mpre));
	if (!w->order || !w->idx || !w->negconf || !w->recall || !w->precision || !w->mrec || !w->mpre) {
		work_free(w);
		return -1;
	}
	linspace01(w->apx, NAP);
	return 0;
}

/* One class with labels: its AP row and its curve rows (zeros without predictions). */
static void one_class(const struct mlf_det_metrics *m, struct work *w, int c, int64_t n_l, const double *x,
		      struct mlf_det_class_metrics *out, double *p_row, double *r_row, double *prec_row)
{
	size_t n_p = 0;
	for (size_t k = 0; k < m->ndet; k++)
		if (m->pred_cls[w->order[k]] == c)
			w->idx[n_p++] = w->order[k];
	if (n_p == 0)
		return;
	for (size_t k = 0; k < n_p; k++)
		w->negconf[k] = -(double)m->conf[w->idx[k]];
	double nl = (double)n_l + 1e-16;
	for (int t = 0; t < NIOU; t++) {
		double *rec = w->recall + (size_t)t * n_p, *pre = w->precision + (size_t)t * n_p;
		int64_t tpc = 0, fpc = 0;
		for (size_t k = 0; k < n_p; k++) {
			int hit = (m->tp[w->idx[k]] >> t) & 1;
			tpc += hit;
			fpc += 1 - hit;
			rec[k] = (double)tpc / nl;
			pre[k] = (double)tpc / (double)(tpc + fpc);
		}
	}
	mlf_np_interp(w->negx, NCURVE, w->negconf, w->recall, n_p, 0.0, w->recall[n_p - 1], r_row);
	mlf_np_interp(w->negx, NCURVE, w->negconf, w->precision, n_p, 1.0, w->precision[n_p - 1], p_row);
	for (int t = 0; t < NIOU; t++)
		out->ap[t] = compute_ap(w->recall + (size_t)t * n_p, w->precision + (size_t)t * n_p, n_p, w->mrec,
					w->mpre, w->apx, x, t == 0 ? prec_row : NULL);
}

void mlf_det_metrics_result_release(struct mlf_det_metrics_result *r)
{
	free(r->cls);
	free(r->maps);
	free(r->px);
	free(r->prec);
	free(r->p_curve);
	free(r->r_curve);
	free(r->f1_curve);
	memset(r, 0, sizeof(*r));
}

/* Per-class P, R, F1 at the best smoothed mean F1, then the means (Metric). */
static int summarize(const struct mlf_det_metrics *m, struct mlf_det_metrics_result *r)
{
	size_t nk = r->nclasses;
	double *tmp = malloc((nk * NIOU + NCURVE) * sizeof(*tmp));
	if (!tmp)
		return -1;
	double *sm = mlf_xmalloc((NCURVE + 1) * sizeof(*sm));
	for (size_t i = 0; i < nk * NCURVE; i++) {
		double p = r->p_curve[i], rc = r->r_curve[i];
		r->f1_curve[i] = 2.0 * p * rc / (p + rc + 1e-16);
	}
	if (nk) {
		/* f1_curve.mean(0): rows added one after another */
		for (size_t i = 0; i < NCURVE; i++) {
			double s = r->f1_curve[i];
			for (size_t k = 1; k < nk; k++)
				s += r->f1_curve[k * NCURVE + i];
			tmp[i] = s / (double)nk;
		}
		if (mlf_det_metrics_smooth(tmp, NCURVE, 0.1, sm) < 0) {
			free(tmp);
			free(sm);
			return -1;
		}
		r->best = (int)argmax(sm, NCURVE);
	}
	for (size_t k = 0; k < nk; k++) {
		struct mlf_det_class_metrics *c = &r->cls[k];
		c->p = r->p_curve[k * NCURVE + (size_t)r->best];
		c->r = r->r_curve[k * NCURVE + (size_t)r->best];
		c->f1 = r->f1_curve[k * NCURVE + (size_t)r->best];
		c->ap50 = c->ap[0];
		c->ap50_95 = mlf_np_sum(c->ap, NIOU, 1) / NIOU;
		memcpy(tmp + k * NIOU, c->ap, sizeof(c->ap));
	}
	if (nk) {
		r->map = mlf_np_sum(tmp, nk * NIOU, 1) / (double)(nk * NIOU);
		r->map50 = mlf_np_sum(tmp, nk, NIOU) / (double)nk;
		r->map75 = mlf_np_sum(tmp + 5, nk, NIOU) / (double)nk;
		for (size_t k = 0; k < nk; k++)
			tmp[k] = r->cls[k].p;
		r->mp = mlf_np_sum(tmp, nk, 1) / (double)nk;
		for (size_t k = 0; k < nk; k++)
			tmp[k] = r->cls[k].r;
		r->mr = mlf_np_sum(tmp, nk, 1) / (double)nk;
	}
	/* Metric.fitness: nan_to_num(mean_results) . (0, 0, 0, 1) */
	r->fitness = isnan(r->map) ? 0.0 : r->map;
	for (int c = 0; c < m->nc; c++)
		r->maps[c] = r->map;
	for (size_t k = 0; k < nk; k++)
		r->maps[r->cls[k].cls] = r->cls[k].ap50_95;
	free(tmp);
	free(sm);
	return 0;
}

int mlf_det_metrics_compute(const struct mlf_det_metrics *m, struct mlf_det_metrics_result *r,
			    struct mlf_error *err)
{
	memset(r, 0, sizeof(*r));
	if (!m || !m->nt_per_class)
		return mlf_fail(err, MLF_EX_USAGE, "metrics: no accumulator");
	r->nimages = m->nimages;
	for (int c = 0; c < m->nc; c++) {
		r->ninstances += m->nt_per_class[c];
		r->nclasses += m->nt_per_class[c] > 0;
	}
	size_t nk = r->nclasses, rows = nk ? nk : 1;
	struct work w;
	r->cls = calloc(rows, sizeof(*r->cls));
	r->maps = calloc((size_t)m->nc, sizeof(*r->maps));
	r->px = mlf_xmalloc(NCURVE * sizeof(*r->px));
	r->prec = calloc(rows * NCURVE, sizeof(*r->prec));
	r->p_curve = calloc(rows * NCURVE, sizeof(*r->p_curve));
	r->r_curve = calloc(rows * NCURVE, sizeof(*r->r_curve));
	r->f1_curve = calloc(rows * NCURVE, sizeof(*r->f1_curve));
	if (!r->cls || !r->maps || !r->prec || !r->p_curve || !r->r_curve || !r->f1_curve) {
		mlf_det_metrics_result_release(r);
		return mlf_fail(err, MLF_EX_SOFTWARE, "metrics: out of memory for %zu classes", nk);
	}
	if (work_alloc(&w, m->ndet) < 0) {
		mlf_det_metrics_result_release(r);
		return mlf_fail(err, MLF_EX_SOFTWARE, "metrics: out of memory for %zu detections", m->ndet);
	}
	linspace01(r->px, NCURVE);
	for (size_t i = 0; i < NCURVE; i++)
		w.negx[i] = -r->px[i];
	/* np.argsort(-conf) over every detection, whatever its class */
	for (size_t k = 0; k < m->ndet; k++)
		w.negconf[k] = -(double)m->conf[k];
	mlf_np_argsort(w.negconf, m->ndet, w.order);

	size_t k = 0;
	for (int c = 0; c < m->nc; c++) {
		if (m->nt_per_class[c] == 0)
			continue;
		struct mlf_det_class_metrics *cm = &r->cls[k];
		cm->cls = c;
		cm->instances = m->nt_per_class[c];
		cm->images = m->nt_per_image[c];
		one_class(m, &w, c, m->nt_per_class[c], r->px, cm, r->p_curve + k * NCURVE, r->r_curve + k * NCURVE,
			  r->prec + k * NCURVE);
		k++;
	}
	work_free(&w);
	if (summarize(m, r) < 0) {
		mlf_det_metrics_result_release(r);
		return mlf_fail(err, MLF_EX_SOFTWARE, "metrics: out of memory");
	}
	return 0;
}
