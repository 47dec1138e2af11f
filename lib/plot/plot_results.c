/* results.png: one panel per training series against the epoch (include/mlf/plot.h). */
#include <math.h>
#include <stdlib.h>

#include "mlf/base.h"
#include "plot_internal.h"

const char *const mlf_plot_results_det_columns[MLF_PLOT_RESULTS_NDET] = {
	"train/box_loss", "train/cls_loss", "train/dfl_loss", "metrics/precision(B)", "metrics/recall(B)",
	"val/box_loss", "val/cls_loss", "val/dfl_loss", "metrics/mAP50(B)", "metrics/mAP50-95(B)",
};

#define FIG_W (MLF_PLOT_RESULTS_W / PLOT_SCALE)
#define FIG_H (MLF_PLOT_RESULTS_H / PLOT_SCALE)
#define LEGEND_H 24.0
#define MARKERS_UP_TO 40   /* epochs; beyond, dots would merge into a thick line */

static size_t finite_count(const double *x, const double *y, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += isfinite(x[i]) && isfinite(y[i]);
	return k;
}

static void panel(struct plot_fig *f, struct plot_rect area, const struct mlf_plot_results *r,
		  const double *x, const struct mlf_plot_series *s, double *smooth, int bottom_row)
{
	struct plot_axes a;
	plot_axes_init(&a, f, area);
	a.title = s->name ? s->name : "";
	a.xlabel = bottom_row ? "epoch" : NULL;
	double lo = 0, hi = 1;
	if (!plot_finite_range(x, r->n, 1, &lo, &hi))
		lo = 1, hi = 1;
	double pad = fmax((hi - lo) * 0.03, 0.3);
	plot_axes_xlim(&a, lo - pad, hi + pad, 1);
	size_t n = s->y ? r->n : 0;
	plot_axes_yauto(&a, &s->y, &n, 1);
	plot_axes_layout(&a);
	plot_axes_draw(&a);
	double ylo, yhi;
	if (!plot_finite_range(s->y, n, 1, &ylo, &yhi)) {
		plot_axes_note(&a, "no data");
	} else {
		int few = n <= MARKERS_UP_TO;
		struct plot_line_style raw = { plot_raw_blue, few ? 1.6 : 1.1, 0, 0, few ? 2.2 : 0 };
		plot_line(&a, x, s->y, n, 1, &raw);
		if (n >= 3) {
			struct plot_line_style sm = { plot_smooth_orange, 2.4, 0, 1, 0 };
			plot_gaussian_smooth(s->y, n, 3, smooth);
			plot_line(&a, x, smooth, n, 1, &sm);
		}
		if (finite_count(x, s->y, n) == 1) /* one value: say it, a lone dot tells little */
			for (size_t i = 0; i < n; i++)
				if (isfinite(x[i]) && isfinite(s->y[i])) {
					struct plot_font vf = { 9.5, 0, plot_raw_blue };
					plot_textf(f, &vf, plot_px(&a, x[i]) + 6, plot_py(&a, s->y[i]) - 4, 0, 1, 0,
						   "%.4g", s->y[i]);
				}
	}
	plot_axes_frame(&a);
}

int mlf_plot_results(const char *path, const struct mlf_plot_results *r, struct mlf_error *err)
{
	if (!path || !r || !r->series || r->nseries < 1 || r->nseries > MLF_PLOT_RESULTS_MAX)
		return mlf_fail(err, MLF_EX_USAGE, "results plot: need a path and 1 to %d series",
				MLF_PLOT_RESULTS_MAX);
	struct plot_fig f;
	if (plot_fig_init(&f, FIG_W, FIG_H, err) < 0)
		return -1;
	double *x = mlf_xcalloc(r->n ? r->n : 1, sizeof(*x));
	double *smooth = mlf_xcalloc(r->n ? r->n : 1, sizeof(*smooth));
	for (size_t i = 0; i < r->n; i++)
		x[i] = r->epoch ? r->epoch[i] : (double)(i + 1);

	int rows = r->nseries > 1 ? 2 : 1, cols = (int)((r->nseries + 1) / 2);
	struct plot_rect grid = { 10, LEGEND_H + 4, FIG_W - 20, FIG_H - LEGEND_H - 10 };
	for (size_t i = 0; i < r->nseries; i++) {
		int row = (int)i / cols, col = (int)i % cols;
		struct plot_rect cell = plot_grid_cell(grid, rows, cols, row, col, 14, 10);
		panel(&f, cell, r, x, &r->series[i], smooth, row == rows - 1);
	}

	struct plot_legend_item items[] = {
		{ "results", { plot_raw_blue, 1.6, 0, 0, 2.2 } },
		{ "smooth", { plot_smooth_orange, 2.0, 0, 1, 0 } },
	};
	struct plot_font tf = { 10, 0, plot_black };
	/* the legend in one row, right-aligned above the panels */
	double xr = FIG_W - 14;
	for (int i = 1; i >= 0; i--) {
		struct plot_rect sz = plot_legend_size(&f, &items[i], 1, 10, 200);
		double w = sz.w - 6;
		double x0 = xr - w, cy = LEGEND_H / 2 + 2;
		struct plot_axes a;
		plot_axes_init(&a, &f, (struct plot_rect){ x0, cy - 5, 20, 10 });
		a.plot = a.area;
		double lx[] = { 0, 0.5, 1 }, ly[] = { 0.5, 0.5, 0.5 };
		struct plot_line_style st = items[i].style;
		st.marker = 0;
		plot_line(&a, lx, ly, 3, 1, &st);
		if (items[i].style.marker > 0)
			plot_marker(&a, 0.5, 0.5, items[i].style.marker, st.color);
		plot_text(&f, &tf, x0 + 26, cy, 0, 0.5, 0, items[i].label);
		xr = x0 - 16;
	}
	char *epochs = mlf_xasprintf("%zu epoch%s", r->n, r->n == 1 ? "" : "s");
	struct plot_font hf = { 10, 0, plot_grey };
	plot_text(&f, &hf, 16, LEGEND_H / 2 + 2, 0, 0.5, 0, epochs);
	free(epochs);

	int rc = plot_fig_save(&f, path, err);
	plot_fig_release(&f);
	free(x);
	free(smooth);
	return rc;
}
