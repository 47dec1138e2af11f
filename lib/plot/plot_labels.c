/* labels.png: what the training labels look like (include/mlf/plot.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlf/base.h"
#include "plot_internal.h"

#define FIG_W (MLF_PLOT_LABELS_W / PLOT_SCALE)
#define FIG_H (MLF_PLOT_LABELS_H / PLOT_SCALE)
#define BINS 50
#define MAX_SHAPES 500
#define MAX_CLASSES 100000
#define BAR_ROOM 48.0
#define TITLE_H 26.0

static int box_ok(const struct mlf_plot_labels *l, size_t i)
{
	if (l->cls[i] < 0 || l->cls[i] >= l->nc)
		return 0;
	for (int k = 0; k < 4; k++)
		if (!isfinite(l->xywh[i * 4 + k]))
			return 0;
	return 1;
}

static size_t bin_of(float v)
{
	long b = (long)floor((double)v * BINS);
	return (size_t)(b < 0 ? 0 : b >= BINS ? BINS - 1 : b);
}

static void bars_panel(struct plot_fig *f, struct plot_rect area, const struct mlf_plot_labels *l,
		       const double *count, char **names, size_t nvalid)
{
	struct plot_axes a;
	plot_axes_init(&a, f, area);
	a.font_size = 10;
	a.title = "instances per class";
	a.ylabel = "instances";
	a.grid = 1;
	double max = 0;
	for (int i = 0; i < l->nc; i++)
		max = fmax(max, count[i]);
	if (l->nc > 0) {
		a.xcats = (const char *const *)names;
		a.nxcats = (size_t)l->nc;
		a.cat_maxw = 110;
		plot_axes_xlim(&a, -0.5, l->nc - 0.5, 0);
		a.x0 = -0.5;
		a.x1 = l->nc - 0.5;
	} else {
		a.no_xticks = 1;
		a.grid = 0;
	}
	plot_axes_ylim(&a, 0, fmax(max * 1.1, 1), 1);
	plot_axes_layout(&a);
	plot_axes_draw(&a);
	if (!nvalid) {
		plot_axes_note(&a, "no labels");
	} else {
		struct plot_rgb *colors = mlf_xcalloc((size_t)l->nc, sizeof(*colors));
		for (int i = 0; i < l->nc; i++)
			colors[i] = plot_color((size_t)i);
		plot_bars(&a, count, (size_t)l->nc, 0.8, colors);
		free(colors);
		/* counts above the bars while they fit */
		struct plot_font cf = { 8, 0, plot_black };
		double spacing = a.plot.w / l->nc;
		char buf[32];
		snprintf(buf, sizeof(buf), "%.0f", max);
		if (plot_text_width(f, &cf, buf) <= spacing * 0.95)
			for (int i = 0; i < l->nc; i++) {
				snprintf(buf, sizeof(buf), "%.0f", count[i]);
				plot_text(f, &cf, plot_px(&a, i), plot_py(&a, count[i]) - 2, 0.5, 1, 0, buf);
			}
	}
	plot_axes_frame(&a);
}

static void hist_panel(struct plot_fig *f, struct plot_rect area, const char *title, const char *xl,
		       const char *yl, const double *hist, int yflip)
{
	struct plot_axes a;
	plot_axes_init(&a, f, area);
	a.font_size = 10;
	a.title = title;
	a.xlabel = xl;
	a.ylabel = yl;
	a.square = 1;
	a.grid = 0;
	a.yflip = yflip;
	a.right_pad = BAR_ROOM;
	plot_axes_layout(&a);
	plot_axes_draw(&a);
	double max = 0;
	for (size_t i = 0; i < BINS * BINS; i++)
		if (isfinite(hist[i]))
			max = fmax(max, hist[i]);
	plot_heatmap(&a, hist, BINS, BINS, 0, fmax(max, 1), 0, 1, 0, 1);
	if (max == 0)
		plot_axes_note(&a, "no labels");
	plot_axes_frame(&a);
	struct plot_rect bar = { a.plot.x + a.plot.w + 8, a.plot.y, 9, a.plot.h };
	plot_colorbar(f, bar, 0, fmax(max, 1), 1, 8.5);
}

static void shapes_panel(struct plot_fig *f, struct plot_rect area, const struct mlf_plot_labels *l,
			 size_t nvalid)
{
	struct plot_axes a;
	plot_axes_init(&a, f, area);
	a.font_size = 10;
	a.title = nvalid > MAX_SHAPES ? "box shapes (500 of them)" : "box shapes";
	a.xlabel = "width";
	a.ylabel = "height";
	a.square = 1;
	a.grid = 1;
	a.yflip = 1;
	a.right_pad = BAR_ROOM;
	plot_axes_xlim(&a, 0, 1, 0);
	plot_axes_ylim(&a, 0, 1, 0);
	plot_axes_layout(&a);
	plot_axes_draw(&a);
	cairo_t *cr = f->cr;
	plot_axes_clip(&a);
	cairo_set_line_width(cr, 0.6);
	/* an even sample over all boxes, not just the first ones */
	double step = nvalid > MAX_SHAPES ? (double)nvalid / MAX_SHAPES : 1;
	double next = 0;
	size_t seen = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!box_ok(l, i))
			continue;
		if ((double)seen++ < next)
			continue;
		next += step;
		double w = fmin(fabs(l->xywh[i * 4 + 2]), 1), h = fmin(fabs(l->xywh[i * 4 + 3]), 1);
		struct plot_rgb c = plot_color((size_t)l->cls[i]);
		double x0 = plot_px(&a, 0.5 - w / 2), x1 = plot_px(&a, 0.5 + w / 2);
		double y0 = plot_py(&a, 0.5 - h / 2), y1 = plot_py(&a, 0.5 + h / 2);
		cairo_rectangle(cr, x0, fmin(y0, y1), x1 - x0, fabs(y1 - y0));
		cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.45);
		cairo_stroke(cr);
	}
	cairo_restore(cr);
	if (!nvalid)
		plot_axes_note(&a, "no labels");
	plot_axes_frame(&a);
}

int mlf_plot_labels(const char *path, const struct mlf_plot_labels *l, struct mlf_error *err)
{
	if (!path || !l || l->nc < 0 || l->nc > MAX_CLASSES || (l->n && (!l->cls || !l->xywh)))
		return mlf_fail(err, MLF_EX_USAGE, "labels plot: need a path, 0 to %d classes and the boxes",
				MAX_CLASSES);
	struct plot_fig f;
	if (plot_fig_init(&f, FIG_W, FIG_H, err) < 0)
		return -1;
	size_t nc = (size_t)l->nc;
	double *count = mlf_xcalloc(nc ? nc : 1, sizeof(*count));
	double *centres = mlf_xcalloc(BINS * BINS, sizeof(*centres));
	double *sizes = mlf_xcalloc(BINS * BINS, sizeof(*sizes));
	char **names = mlf_xcalloc(nc ? nc : 1, sizeof(*names));
	for (size_t i = 0; i < nc; i++)
		names[i] = l->names && l->names[i] ? mlf_xstrdup(l->names[i]) : mlf_xasprintf("%zu", i);
	size_t nvalid = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!box_ok(l, i))
			continue;
		const float *b = l->xywh + i * 4;
		count[l->cls[i]]++;
		/* row = y bin (row 0 at y = 0), column = x bin */
		centres[bin_of(b[1]) * BINS + bin_of(b[0])]++;
		sizes[bin_of(b[3]) * BINS + bin_of(b[2])]++;
		nvalid++;
	}
	for (size_t i = 0; i < BINS * BINS; i++) {
		if (!centres[i])
			centres[i] = NAN;
		if (!sizes[i])
			sizes[i] = NAN;
	}

	struct plot_font tf = { 13, 1, plot_black }, sf = { 10, 0, plot_grey };
	size_t skipped = l->n - nvalid;
	plot_textf(&f, &tf, 16, TITLE_H / 2 + 4, 0, 0.5, 0, "Labels: %zu instance%s, %d class%s", nvalid,
		   nvalid == 1 ? "" : "s", l->nc, l->nc == 1 ? "" : "es");
	if (skipped)
		plot_textf(&f, &sf, FIG_W - 16, TITLE_H / 2 + 4, 1, 0.5, 0,
			   "%zu box%s skipped (class outside 0..%d or not a number)", skipped,
			   skipped == 1 ? "" : "es", l->nc - 1);
	/* the bottom row as tall as its square panels need, the bars above get the rest */
	double cell_w = (FIG_W - 20 - 2 * 14) / 3;
	double bottom_h = fmin((FIG_H - TITLE_H) * 0.55, cell_w - BAR_ROOM - 45 + 56);
	struct plot_rect top = { 10, TITLE_H + 6, FIG_W - 20, FIG_H - TITLE_H - 6 - 12 - bottom_h - 8 };
	bars_panel(&f, top, l, count, names, nvalid);
	struct plot_rect bottom = { 10, top.y + top.h + 12, FIG_W - 20, bottom_h };
	hist_panel(&f, plot_grid_cell(bottom, 1, 3, 0, 0, 14, 0), "box centres", "x", "y", centres, 1);
	hist_panel(&f, plot_grid_cell(bottom, 1, 3, 0, 1, 14, 0), "box sizes", "width", "height", sizes, 0);
	shapes_panel(&f, plot_grid_cell(bottom, 1, 3, 0, 2, 14, 0), l, nvalid);

	int rc = plot_fig_save(&f, path, err);
	plot_fig_release(&f);
	for (size_t i = 0; i < nc; i++)
		free(names[i]);
	free(names);
	free(count);
	free(centres);
	free(sizes);
	return rc;
}
