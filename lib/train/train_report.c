/*
 * What a training reports: results.csv as 8.4.190's save_metrics writes it,
 * progress on stderr (a live bar per epoch on a terminal, one line per
 * epoch otherwise), and the plots drawn at the end.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/plot.h"
#include "train_internal.h"

/* ---- results.csv ---- */

static const char *const train_cols[] = { "train/box_loss", "train/cls_loss", "train/dfl_loss" };
static const char *const metric_cols[] = { "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)",
					    "metrics/mAP50-95(B)", "val/box_loss", "val/cls_loss",
					    "val/dfl_loss" };

void train_csv_header(struct mlf_buf *out, int ngroups)
{
	mlf_buf_adds(out, "epoch,time");
	for (size_t i = 0; i < 3; i++)
		mlf_buf_addf(out, ",%s", train_cols[i]);
	for (size_t i = 0; i < 7; i++)
		mlf_buf_addf(out, ",%s", metric_cols[i]);
	for (int g = 0; g < ngroups; g++)
		mlf_buf_addf(out, ",lr/pg%d", g);
}

void train_csv_row(struct mlf_buf *out, const struct mlf_train_epoch *e)
{
	/* ("%.6g," * n % (epoch + 1, t, *vals)): C's %g is Python's %g */
	const double v[] = { e->box_loss, e->cls_loss, e->dfl_loss, e->val.precision, e->val.recall,
			     e->val.map50, e->val.map50_95, e->val.box_loss, e->val.cls_loss,
			     e->val.dfl_loss };
	mlf_buf_addf(out, "%.6g,%.6g", (double)e->epoch, e->time);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		mlf_buf_addf(out, ",%.6g", v[i]);
	for (int g = 0; g < e->ngroups; g++)
		mlf_buf_addf(out, ",%.6g", e->lr[g]);
}

/* One results.csv row back into `e`; 0, or -1 when it is not a full row. */
static int parse_row(const char *line, struct mlf_train_epoch *e)
{
	double v[12 + MLF_NGROUPS];
	int n = 0;
	const char *p = line;
	char *end;
	while (n < (int)(sizeof(v) / sizeof(v[0]))) {
		v[n] = strtod(p, &end);
		if (end == p)
			break;
		n++;
		if (*end != ',')
			break;
		p = end + 1;
	}
	if (n < 12)
		return -1;
	*e = (struct mlf_train_epoch){ .epoch = (int)v[0], .time = v[1], .box_loss = v[2],
				       .cls_loss = v[3], .dfl_loss = v[4], .ngroups = n - 12 };
	e->val = (struct mlf_val_summary){ .precision = v[5], .recall = v[6], .map50 = v[7],
					   .map50_95 = v[8], .fitness = v[8], .box_loss = v[9],
					   .cls_loss = v[10], .dfl_loss = v[11] };
	for (int g = 0; g < e->ngroups; g++)
		e->lr[g] = v[12 + g];
	return 0;
}

int train_csv_resume(const char *path, int epochs, struct train_history *h, struct mlf_error *err)
{
	char *data = NULL;
	size_t len = 0;
	if (!mlf_is_file(path))
		return 0;
	if (mlf_read_file(path, &data, &len, err) < 0)
		return -1;
	/* the header, then the rows of the saved epochs */
	char *nl = memchr(data, '\n', len);
	size_t keep = nl ? (size_t)(nl - data) + 1 : len;
	for (int row = 0; row < epochs && keep < len; row++) {
		struct mlf_train_epoch e;
		if (parse_row(data + keep, &e) == 0)
			train_history_add(h, &e);
		nl = memchr(data + keep, '\n', len - keep);
		keep = nl ? (size_t)(nl - data) + 1 : len;
	}
	int rc = keep == len ? 0 : mlf_write_file_atomic(path, data, keep, err);
	free(data);
	return rc;
}

void train_history_add(struct train_history *h, const struct mlf_train_epoch *e)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 16;
		h->rows = mlf_xrealloc(h->rows, h->cap * sizeof(*h->rows));
	}
	h->rows[h->n++] = *e;
}

/* ---- progress ---- */

void train_progress_start(struct train_progress *p, enum mlf_train_progress mode, const char *prog,
			  int epochs, size_t nb)
{
	if (mode == MLF_PROGRESS_AUTO)
		mode = isatty(STDERR_FILENO) ? MLF_PROGRESS_BAR : MLF_PROGRESS_LINES;
	*p = (struct train_progress){ .mode = mode, .prog = prog ? prog : "mlf", .epochs = epochs,
				      .nb = nb, .t0 = train_now() };
}

void train_progress_note(struct train_progress *p, const char *fmt, ...)
{
	if (p->mode == MLF_PROGRESS_NONE)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", p->prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void train_progress_batch(struct train_progress *p, int epoch, size_t i, double box, double cls,
			  double dfl, int ninst, int imgsz)
{
	if (p->mode != MLF_PROGRESS_BAR)
		return;
	const int width = 24;
	size_t done = i + 1;
	int fill = p->nb ? (int)((double)done * width / (double)p->nb) : width;
	char bar[32];
	for (int k = 0; k < width; k++)
		bar[k] = k < fill ? '#' : '.';
	bar[width] = 0;
	double dt = train_now() - p->t0, rate = dt > 0 ? (double)done / dt : 0;
	fprintf(stderr, "\r\033[K%*d/%d  box %.4g  cls %.4g  dfl %.4g  inst %d  %dpx  [%s] %zu/%zu  %.2f it/s",
		3, epoch, p->epochs, box, cls, dfl, ninst, imgsz, bar, done, p->nb, rate);
	fflush(stderr);
	p->bar_open = 1;
}

void train_progress_epoch(struct train_progress *p, const struct mlf_train_epoch *e)
{
	if (p->mode == MLF_PROGRESS_NONE)
		return;
	if (p->mode == MLF_PROGRESS_BAR)
		fputs("\r\033[K", stderr);
	p->bar_open = 0;
	fprintf(stderr,
		"%s: epoch %d/%d  %.1f s (%.1f img/s)  loss box %.4g cls %.4g dfl %.4g  "
		"val P %.3f R %.3f mAP50 %.3f mAP50-95 %.3f%s\n",
		p->prog, e->epoch, e->epochs, e->seconds, e->images_per_s, e->box_loss, e->cls_loss,
		e->dfl_loss, e->val.precision, e->val.recall, e->val.map50, e->val.map50_95,
		e->is_best ? "  (best)" : "");
}

/* ---- plots ---- */

int train_plot_labels(const char *save_dir, const struct mlf_dataset *ds, const char *const *names,
		      int nc, struct mlf_error *err)
{
	size_t n = ds->nobjects;
	int *cls = mlf_xcalloc(n ? n : 1, sizeof(*cls));
	float *xywh = mlf_xcalloc(n ? 4 * n : 1, sizeof(*xywh));
	for (size_t i = 0; i < n; i++) {
		const struct mlf_object *o = &ds->objects[i];
		cls[i] = o->cls;
		xywh[4 * i] = o->cx;
		xywh[4 * i + 1] = o->cy;
		xywh[4 * i + 2] = o->w;
		xywh[4 * i + 3] = o->h;
	}
	struct mlf_plot_labels l = { .nc = nc, .names = names, .n = n, .cls = cls, .xywh = xywh };
	char *path = mlf_path_join(save_dir, MLF_PLOT_LABELS_FILE);
	int rc = mlf_plot_labels(path, &l, err);
	free(path);
	free(cls);
	free(xywh);
	return rc;
}

static int plot_results(const char *save_dir, const struct train_history *h, struct mlf_error *err)
{
	size_t n = h->n;
	double *cols = mlf_xcalloc(n ? 10 * n : 1, sizeof(*cols)), *x = mlf_xcalloc(n ? n : 1, sizeof(*x));
	for (size_t i = 0; i < n; i++) {
		const struct mlf_train_epoch *e = &h->rows[i];
		/* mlf_plot_results_det_columns' order */
		const double v[10] = { e->box_loss, e->cls_loss, e->dfl_loss, e->val.precision, e->val.recall,
				       e->val.box_loss, e->val.cls_loss, e->val.dfl_loss, e->val.map50,
				       e->val.map50_95 };
		for (int c = 0; c < 10; c++)
			cols[(size_t)c * n + i] = v[c];
		x[i] = e->epoch;
	}
	struct mlf_plot_series s[MLF_PLOT_RESULTS_NDET];
	for (int c = 0; c < MLF_PLOT_RESULTS_NDET; c++)
		s[c] = (struct mlf_plot_series){ mlf_plot_results_det_columns[c], n ? cols + (size_t)c * n : NULL };
	struct mlf_plot_results r = { .n = n, .epoch = x, .nseries = MLF_PLOT_RESULTS_NDET, .series = s };
	char *path = mlf_path_join(save_dir, MLF_PLOT_RESULTS_FILE);
	int rc = mlf_plot_results(path, &r, err);
	free(path);
	free(cols);
	free(x);
	return rc;
}

int train_plots_final(const char *save_dir, const struct train_history *h,
		      const struct mlf_det_metrics_result *r, const struct mlf_det_metrics *acc,
		      const char *const *names, int nc, struct mlf_error *err)
{
	if (plot_results(save_dir, h, err) < 0)
		return -1;
	if (!r)
		return 0;
	/* per-class curves carry the names of the classes that have ground truth */
	const char **cn = mlf_xcalloc(r->nclasses ? r->nclasses : 1, sizeof(*cn));
	double *ap50 = mlf_xcalloc(r->nclasses ? r->nclasses : 1, sizeof(*ap50));
	for (size_t i = 0; i < r->nclasses; i++) {
		int c = r->cls[i].cls;
		cn[i] = names && c >= 0 && c < nc ? names[c] : NULL;
		ap50[i] = r->cls[i].ap50;
	}
	struct mlf_plot_curves pr = { .nclasses = r->nclasses, .names = cn, .npoints = MLF_METRICS_NCURVE,
				      .x = r->px, .y = r->prec, .ap50 = ap50 };
	struct mlf_plot_curves f1 = pr, p = pr, rc_ = pr;
	f1.y = r->f1_curve;
	f1.ap50 = NULL;
	p.y = r->p_curve;
	p.ap50 = NULL;
	rc_.y = r->r_curve;
	rc_.ap50 = NULL;
	struct mlf_plot_confusion cm = { .nc = nc, .names = names, .matrix = acc->confusion };
	static const char *const files[] = { MLF_PLOT_PR_FILE, MLF_PLOT_F1_FILE, MLF_PLOT_P_FILE,
					     MLF_PLOT_R_FILE, MLF_PLOT_CONFUSION_FILE,
					     MLF_PLOT_CONFUSION_NORM_FILE };
	int rc = 0;
	for (int k = 0; k < 6 && !rc; k++) {
		char *path = mlf_path_join(save_dir, files[k]);
		switch (k) {
		case 0: rc = mlf_plot_pr_curve(path, &pr, err); break;
		case 1: rc = mlf_plot_conf_curve(path, &f1, MLF_PLOT_F1, err); break;
		case 2: rc = mlf_plot_conf_curve(path, &p, MLF_PLOT_PRECISION, err); break;
		case 3: rc = mlf_plot_conf_curve(path, &rc_, MLF_PLOT_RECALL, err); break;
		case 4: rc = mlf_plot_confusion(path, &cm, 0, err); break;
		default: rc = mlf_plot_confusion(path, &cm, 1, err); break;
		}
		free(path);
	}
	free(cn);
	free(ap50);
	return rc;
}
