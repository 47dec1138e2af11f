/* Confusion matrix as a heat map, counts or normalised per true class (include/mlf/plot.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlf/base.h"
#include "plot_internal.h"

#define FIG_W (MLF_PLOT_CONFUSION_W / PLOT_SCALE)
#define FIG_H (MLF_PLOT_CONFUSION_H / PLOT_SCALE)
#define MAX_CLASSES 2048       /* (n+1)^2 doubles stay small */
#define ANNOTATE_UP_TO 30      /* rows (classes + background) */
#define BAR_W 14.0
#define BAR_ROOM 75.0          /* colour bar and its labels */

/* The values drawn: counts, or each column divided by its sum; NaN = blank cell. */
static double *cell_values(const struct mlf_plot_confusion *cm, int normalize, double *vmax)
{
	size_t n = (size_t)cm->nc + 1;
	double *v = mlf_xcalloc(n * n, sizeof(*v));
	*vmax = normalize ? 1 : 0;
	for (size_t c = 0; c < n; c++) {
		double sum = 0;
		for (size_t r = 0; r < n; r++)
			if (cm->matrix[r * n + c] > 0)
				sum += (double)cm->matrix[r * n + c];
		for (size_t r = 0; r < n; r++) {
			int64_t m = cm->matrix[r * n + c];
			double x = m > 0 ? (normalize ? (double)m / sum : (double)m) : NAN;
			/* Ultralytics leaves out normalised cells that would print as 0.00 */
			if (normalize && x < 0.005)
				x = NAN;
			v[r * n + c] = x;
			if (!normalize && isfinite(x) && x > *vmax)
				*vmax = x;
		}
	}
	if (*vmax <= 0)
		*vmax = 1;
	return v;
}

static void annotate(struct plot_axes *a, const double *v, size_t n, int normalize, double vmax)
{
	double cell = a->plot.w / (double)n;
	double size = fmin(14, cell * 0.34);
	if (n > ANNOTATE_UP_TO || size < 5.5)
		return;
	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < n; c++) {
			double x = v[r * n + c];
			if (!isfinite(x))
				continue;
			char buf[32];
			if (normalize)
				snprintf(buf, sizeof(buf), "%.2f", x);
			else
				snprintf(buf, sizeof(buf), "%.0f", x);
			struct plot_rgb bg = plot_cmap(x / vmax);
			double lum = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b;
			struct plot_font f = { size, 0, lum < 0.55 ? plot_white : plot_black };
			double w = plot_text_width(a->fig, &f, buf);
			if (w > cell * 0.9)
				f.size *= cell * 0.9 / w;
			plot_text(a->fig, &f, plot_px(a, c + 0.5), plot_py(a, r + 0.5), 0.5, 0.5, 0, buf);
		}
}

/* Thin white lines between cells while they are big, and a grey one before "background". */
static void cell_lines(struct plot_axes *a, size_t n)
{
	cairo_t *cr = a->fig->cr;
	double cell = a->plot.w / (double)n;
	const struct plot_rect *p = &a->plot;
	if (cell >= 10) {
		cairo_set_source_rgb(cr, 1, 1, 1);
		cairo_set_line_width(cr, 0.6);
		for (size_t i = 1; i < n; i++) {
			cairo_move_to(cr, p->x + i * cell, p->y);
			cairo_line_to(cr, p->x + i * cell, p->y + p->h);
			cairo_move_to(cr, p->x, p->y + i * cell);
			cairo_line_to(cr, p->x + p->w, p->y + i * cell);
		}
		cairo_stroke(cr);
	}
	double b = (double)(n - 1) * cell;
	double dash[] = { 3, 2 };
	cairo_save(cr);
	cairo_set_dash(cr, dash, 2, 0);
	cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
	cairo_set_line_width(cr, 0.8);
	cairo_move_to(cr, p->x + b, p->y);
	cairo_line_to(cr, p->x + b, p->y + p->h);
	cairo_move_to(cr, p->x, p->y + b);
	cairo_line_to(cr, p->x + p->w, p->y + b);
	cairo_stroke(cr);
	cairo_restore(cr);
}

int mlf_plot_confusion(const char *path, const struct mlf_plot_confusion *cm, int normalize,
		       struct mlf_error *err)
{
	if (!path || !cm || !cm->matrix || cm->nc < 1 || cm->nc > MAX_CLASSES)
		return mlf_fail(err, MLF_EX_USAGE, "confusion matrix plot: need a path, a matrix and 1 to %d classes",
				MAX_CLASSES);
	size_t n = (size_t)cm->nc + 1;
	struct plot_fig f;
	if (plot_fig_init(&f, FIG_W, FIG_H, err) < 0)
		return -1;
	char **names = mlf_xcalloc(n, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = i + 1 == n ? mlf_xstrdup("background")
			   : cm->names && cm->names[i] ? mlf_xstrdup(cm->names[i]) : mlf_xasprintf("%zu", i);
	double vmax;
	double *v = cell_values(cm, normalize, &vmax);

	struct plot_axes a;
	plot_axes_init(&a, &f, (struct plot_rect){ 14, 12, FIG_W - 28, FIG_H - 24 });
	a.font_size = 11;
	a.title = normalize ? "Confusion Matrix Normalized" : "Confusion Matrix";
	a.xlabel = "True";
	a.ylabel = "Predicted";
	a.square = 1;
	a.grid = 0;
	a.yflip = 1;
	a.right_pad = BAR_ROOM;
	a.cat_maxw = 150;
	a.xcats = a.ycats = (const char *const *)names;
	a.nxcats = a.nycats = n;
	a.cat_offset = 0.5;
	plot_axes_xlim(&a, 0, (double)n, 0);
	plot_axes_ylim(&a, 0, (double)n, 0);
	a.x0 = a.y0 = 0; /* exact cell bounds, whatever the ticks chose */
	a.x1 = a.y1 = (double)n;
	plot_axes_layout(&a);
	plot_axes_draw(&a);
	plot_heatmap(&a, v, n, n, 0, vmax, 0, (double)n, 0, (double)n);
	cell_lines(&a, n);
	annotate(&a, v, n, normalize, vmax);
	plot_axes_frame(&a);
	struct plot_rect bar = { a.plot.x + a.plot.w + 16, a.plot.y, BAR_W, a.plot.h };
	plot_colorbar(&f, bar, 0, vmax, !normalize, 10);

	int rc = plot_fig_save(&f, path, err);
	plot_fig_release(&f);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(v);
	return rc;
}
