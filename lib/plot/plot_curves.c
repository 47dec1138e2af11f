/* Precision-recall and metric-confidence curves (include/mlf/plot.h). */
#include <math.h>
#include <stdlib.h>

#include "mlf/base.h"
#include "plot_internal.h"

#define FIG_W (MLF_PLOT_CURVE_W / PLOT_SCALE)
#define FIG_H (MLF_PLOT_CURVE_H / PLOT_SCALE)
#define MAX_LEGEND_CLASSES 20
#define LEGEND_FONT 9.5
#define LEGEND_MAXW 190.0

/* Mean over classes at each point, NaN where no class has a finite value. */
static void class_mean(const struct mlf_plot_curves *c, double *mean)
{
	for (size_t j = 0; j < c->npoints; j++) {
		double s = 0;
		size_t k = 0;
		for (size_t i = 0; i < c->nclasses; i++) {
			double v = c->y[i * c->npoints + j];
			if (isfinite(v))
				s += v, k++;
		}
		mean[j] = k ? s / (double)k : NAN;
	}
}

/* Ultralytics' smooth(y, f): a box filter of round(2nf) / 2 + 1 taps (integer division)
 * over y with its ends repeated; here it averages the finite values under it only. */
static void box_smooth(const double *y, size_t n, double frac, double *out)
{
	long taps = (long)round((double)n * frac * 2) / 2 + 1, half = taps / 2;
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		long k = 0;
		for (long d = -half; d < taps - half; d++) {
			long j = (long)i + d;
			j = j < 0 ? 0 : j >= (long)n ? (long)n - 1 : j;
			if (isfinite(y[j]))
				s += y[j], k++;
		}
		out[i] = k ? s / (double)k : NAN;
	}
}

static char *class_name(const struct mlf_plot_curves *c, size_t i)
{
	if (c->names && c->names[i])
		return mlf_xstrdup(c->names[i]);
	return mlf_xasprintf("class %zu", i);
}

static double mean_ap50(const struct mlf_plot_curves *c)
{
	double s = 0;
	size_t k = 0;
	for (size_t i = 0; i < c->nclasses; i++)
		if (isfinite(c->ap50[i]))
			s += c->ap50[i], k++;
	return k ? s / (double)k : NAN;
}

/* Mark the best point of the mean line, with guides down to the axes. */
static void mark_best(struct plot_axes *a, double x, double y, const char *label)
{
	cairo_t *cr = a->fig->cr;
	double px = plot_px(a, x), py = plot_py(a, y);
	double dash[] = { 3, 3 };
	cairo_save(cr);
	cairo_set_dash(cr, dash, 2, 0);
	cairo_set_line_width(cr, 0.9);
	cairo_set_source_rgb(cr, plot_mean_blue.r, plot_mean_blue.g, plot_mean_blue.b);
	cairo_move_to(cr, px, a->plot.y + a->plot.h);
	cairo_line_to(cr, px, py);
	cairo_line_to(cr, a->plot.x, py);
	cairo_stroke(cr);
	cairo_restore(cr);
	cairo_new_sub_path(cr);
	cairo_arc(cr, px, py, 5, 0, 2 * M_PI);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_fill_preserve(cr);
	cairo_set_line_width(cr, 2);
	cairo_set_source_rgb(cr, plot_mean_blue.r, plot_mean_blue.g, plot_mean_blue.b);
	cairo_stroke(cr);
	struct plot_font f = { 10, 1, plot_mean_blue };
	double w = plot_text_width(a->fig, &f, label);
	int left = px + 10 + w > a->plot.x + a->plot.w;
	int below = py - 18 < a->plot.y;
	double tx = left ? px - 9 : px + 9, ty = below ? py + 9 : py - 9;
	struct plot_rect box = { left ? tx - w - 3 : tx - 3, below ? ty - 2 : ty - 14, w + 6, 16 };
	cairo_rectangle(cr, box.x, box.y, box.w, box.h);
	cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
	cairo_fill(cr);
	plot_text(a->fig, &f, tx, ty, left ? 1 : 0, below ? 0 : 1, 0, label);
}

static int draw_curves(const char *path, const struct mlf_plot_curves *c, const char *title,
		       const char *xlabel, const char *ylabel, int is_pr, struct mlf_error *err)
{
	if (!path || !c || (c->nclasses && c->npoints && (!c->x || !c->y)))
		return mlf_fail(err, MLF_EX_USAGE, "curve plot: need a path, x and y");
	struct plot_fig f;
	if (plot_fig_init(&f, FIG_W, FIG_H, err) < 0)
		return -1;
	int have = c->nclasses > 0 && c->npoints > 0;
	size_t np = have ? c->npoints : 1;
	double *mean = mlf_xcalloc(np, sizeof(*mean));
	double *smooth = mlf_xcalloc(np, sizeof(*smooth));
	int per_class = c->nclasses <= MAX_LEGEND_CLASSES;

	/* legend entries: one per class while they are few, then the mean */
	size_t nitems = (per_class ? c->nclasses : 1) + 1;
	struct plot_legend_item *items = mlf_xcalloc(nitems, sizeof(*items));
	char **labels = mlf_xcalloc(nitems, sizeof(*labels));
	size_t k = 0;
	for (size_t i = 0; per_class && i < c->nclasses; i++, k++) {
		char *name = class_name(c, i);
		labels[k] = is_pr && c->ap50 ? mlf_xasprintf("%s %.3f", name, c->ap50[i]) : mlf_xstrdup(name);
		free(name);
		items[k] = (struct plot_legend_item){ labels[k], { plot_color(i), 1.4, 0, 0, 0 } };
	}
	if (!per_class) {
		labels[k] = mlf_xasprintf("%zu classes", c->nclasses);
		items[k] = (struct plot_legend_item){ labels[k], { plot_grey, 1.2, 0, 0, 0 } };
		k++;
	}
	double best_x = NAN, best_y = NAN;
	if (have) {
		class_mean(c, mean);
		if (is_pr) {
			double m = c->ap50 ? mean_ap50(c) : NAN;
			labels[k] = isfinite(m) ? mlf_xasprintf("all classes %.3f mAP@0.5", m)
						: mlf_xstrdup("all classes");
		} else {
			box_smooth(mean, np, 0.1, smooth);
			for (size_t j = 0; j < np; j++)
				if (isfinite(smooth[j]) && isfinite(c->x[j]) && !(smooth[j] <= best_y))
					best_y = smooth[j], best_x = c->x[j];
			labels[k] = isfinite(best_y) ? mlf_xasprintf("all classes %.2f at %.3f", best_y, best_x)
						     : mlf_xstrdup("all classes");
		}
	} else {
		labels[k] = mlf_xstrdup("all classes");
	}
	items[k] = (struct plot_legend_item){ labels[k], { plot_mean_blue, 3.2, 0, 0, 0 } };
	k++;

	struct plot_rect lsz = plot_legend_size(&f, items, k, LEGEND_FONT, LEGEND_MAXW);
	struct plot_axes a;
	plot_axes_init(&a, &f, (struct plot_rect){ 12, 10, FIG_W - lsz.w - 40, FIG_H - 20 });
	a.font_size = 10;
	a.title = title;
	a.xlabel = xlabel;
	a.ylabel = ylabel;
	plot_axes_xlim(&a, 0, 1, 0);
	plot_axes_ylim(&a, 0, 1, 0);
	plot_axes_layout(&a);
	plot_axes_draw(&a);
	if (have) {
		for (size_t i = 0; i < c->nclasses; i++) {
			struct plot_line_style st = per_class ? (struct plot_line_style){ plot_color(i), 1.2, 0.9, 0, 0 }
							      : (struct plot_line_style){ plot_grey, 0.8, 0.5, 0, 0 };
			plot_line(&a, c->x, c->y + i * c->npoints, c->npoints, 1, &st);
		}
		struct plot_line_style ms = { plot_mean_blue, 3.2, 0, 0, 0 };
		plot_line(&a, c->x, is_pr ? mean : smooth, np, 1, &ms);
		if (isfinite(best_y)) {
			char *lab = mlf_xasprintf("%.2f at %.3f", best_y, best_x);
			mark_best(&a, best_x, best_y, lab);
			free(lab);
		}
	} else {
		plot_axes_note(&a, "no classes with labels");
	}
	plot_axes_frame(&a);
	plot_legend(&f, a.plot.x + a.plot.w + 18, a.plot.y, 0, 0, items, k, LEGEND_FONT, LEGEND_MAXW);

	int rc = plot_fig_save(&f, path, err);
	plot_fig_release(&f);
	for (size_t i = 0; i < k; i++)
		free(labels[i]);
	free(labels);
	free(items);
	free(mean);
	free(smooth);
	return rc;
}

int mlf_plot_pr_curve(const char *path, const struct mlf_plot_curves *c, struct mlf_error *err)
{
	return draw_curves(path, c, "Precision-Recall Curve", "Recall", "Precision", 1, err);
}

int mlf_plot_conf_curve(const char *path, const struct mlf_plot_curves *c, enum mlf_plot_metric metric,
			struct mlf_error *err)
{
	switch (metric) {
	case MLF_PLOT_F1:
		return draw_curves(path, c, "F1-Confidence Curve", "Confidence", "F1", 0, err);
	case MLF_PLOT_PRECISION:
		return draw_curves(path, c, "Precision-Confidence Curve", "Confidence", "Precision", 0, err);
	case MLF_PLOT_RECALL:
		return draw_curves(path, c, "Recall-Confidence Curve", "Confidence", "Recall", 0, err);
	}
	return mlf_fail(err, MLF_EX_USAGE, "curve plot: unknown metric %d", (int)metric);
}
