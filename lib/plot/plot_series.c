/* Lines, markers, bars, heat maps, colour bars and legends (lib/plot/plot_internal.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "plot_internal.h"

static void set_style(cairo_t *cr, const struct plot_line_style *st)
{
	double alpha = st->alpha > 0 ? st->alpha : 1;
	cairo_set_source_rgba(cr, st->color.r, st->color.g, st->color.b, alpha);
	cairo_set_line_width(cr, st->width);
	if (st->dash == 1) {
		double d[] = { 0.01, st->width * 2.2 };
		cairo_set_dash(cr, d, 2, 0);
	} else if (st->dash == 2) {
		double d[] = { st->width * 3.5, st->width * 2.5 };
		cairo_set_dash(cr, d, 2, 0);
	} else {
		cairo_set_dash(cr, NULL, 0, 0);
	}
}

static int point_ok(const double *x, const double *y, size_t i, size_t stride)
{
	return isfinite(y[i * stride]) && (!x || isfinite(x[i]));
}

void plot_line(struct plot_axes *a, const double *x, const double *y, size_t n, size_t ystride,
	       const struct plot_line_style *st)
{
	cairo_t *cr = a->fig->cr;
	if (!y || !n)
		return;
	plot_axes_clip(a);
	set_style(cr, st);
	int prev = 0;
	for (size_t i = 0; i < n; i++) {
		if (!point_ok(x, y, i, ystride)) {
			prev = 0;
			continue;
		}
		double px = plot_px(a, x ? x[i] : (double)i), py = plot_py(a, y[i * ystride]);
		if (prev)
			cairo_line_to(cr, px, py);
		else
			cairo_move_to(cr, px, py);
		prev = 1;
	}
	cairo_stroke(cr);
	cairo_set_dash(cr, NULL, 0, 0);
	for (size_t i = 0; i < n; i++) {
		if (!point_ok(x, y, i, ystride))
			continue;
		int alone = (i == 0 || !point_ok(x, y, i - 1, ystride)) &&
			    (i + 1 == n || !point_ok(x, y, i + 1, ystride));
		double r = st->marker > 0 ? st->marker : alone ? fmax(1.5, st->width * 1.2) : 0;
		if (r > 0)
			plot_marker(a, x ? x[i] : (double)i, y[i * ystride], r, st->color);
	}
	cairo_restore(cr);
}

void plot_marker(struct plot_axes *a, double x, double y, double r, struct plot_rgb c)
{
	if (!isfinite(x) || !isfinite(y))
		return;
	cairo_t *cr = a->fig->cr;
	cairo_new_sub_path(cr);
	cairo_arc(cr, plot_px(a, x), plot_py(a, y), r, 0, 2 * M_PI);
	cairo_set_source_rgb(cr, c.r, c.g, c.b);
	cairo_fill(cr);
}

void plot_bars(struct plot_axes *a, const double *h, size_t n, double width, const struct plot_rgb *color)
{
	cairo_t *cr = a->fig->cr;
	double base = a->y0 > 0 ? a->y0 : a->y1 < 0 ? a->y1 : 0;
	plot_axes_clip(a);
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(h[i]))
			continue;
		double x0 = plot_px(a, (double)i - width / 2), x1 = plot_px(a, (double)i + width / 2);
		double y0 = plot_py(a, base), y1 = plot_py(a, h[i]);
		struct plot_rgb c = color ? color[i] : plot_color(i);
		cairo_rectangle(cr, x0, fmin(y0, y1), x1 - x0, fabs(y1 - y0));
		cairo_set_source_rgb(cr, c.r, c.g, c.b);
		cairo_fill(cr);
	}
	cairo_restore(cr);
}

void plot_heatmap(struct plot_axes *a, const double *v, size_t rows, size_t cols, double vmin, double vmax,
		  double x0, double x1, double y0, double y1)
{
	cairo_t *cr = a->fig->cr;
	if (!rows || !cols || rows > 32767 || cols > 32767)
		return;
	cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)cols, (int)rows);
	if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(img);
		return;
	}
	cairo_surface_flush(img);
	unsigned char *data = cairo_image_surface_get_data(img);
	int stride = cairo_image_surface_get_stride(img);
	double span = vmax - vmin;
	for (size_t r = 0; r < rows; r++) {
		uint32_t *row = (uint32_t *)(void *)(data + r * (size_t)stride);
		for (size_t c = 0; c < cols; c++) {
			double val = v[r * cols + c];
			if (!isfinite(val)) {
				row[c] = 0; /* transparent: the background shows */
				continue;
			}
			struct plot_rgb k = plot_cmap(span > 0 ? (val - vmin) / span : 0);
			row[c] = 0xff000000u | (uint32_t)lround(k.r * 255) << 16 |
				 (uint32_t)lround(k.g * 255) << 8 | (uint32_t)lround(k.b * 255);
		}
	}
	cairo_surface_mark_dirty(img);
	double X0 = plot_px(a, x0), X1 = plot_px(a, x1), Y0 = plot_py(a, y0), Y1 = plot_py(a, y1);
	plot_axes_clip(a);
	cairo_translate(cr, X0, Y0);
	cairo_scale(cr, (X1 - X0) / (double)cols, (Y1 - Y0) / (double)rows);
	cairo_set_source_surface(cr, img, 0, 0);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
	cairo_rectangle(cr, 0, 0, (double)cols, (double)rows);
	cairo_fill(cr);
	cairo_restore(cr);
	cairo_surface_destroy(img);
}

void plot_colorbar(struct plot_fig *f, struct plot_rect r, double vmin, double vmax, int integer,
		   double font_size)
{
	struct plot_axes a;
	plot_axes_init(&a, f, r);
	a.plot = r;
	plot_axes_xlim(&a, 0, 1, 0);
	if (!(vmax > vmin))
		vmax = vmin + 1;
	if (integer)
		plot_int_ticks(vmin, vmax, 6, &a.yt);
	else
		mlf_plot_nice_ticks(vmin, vmax, 6, &a.yt);
	a.y0 = vmin;
	a.y1 = vmax;
	enum { STEPS = 256 };
	double v[STEPS];
	for (int i = 0; i < STEPS; i++)
		v[i] = vmin + (vmax - vmin) * (i + 0.5) / STEPS;
	plot_heatmap(&a, v, STEPS, 1, vmin, vmax, 0, 1, vmin, vmax);
	plot_axes_frame(&a);
	cairo_t *cr = f->cr;
	struct plot_font tf = { font_size, 0, plot_black };
	char buf[64];
	cairo_set_line_width(cr, 0.6);
	for (int i = 0; i < a.yt.n; i++) {
		double y = plot_py(&a, a.yt.v[i]);
		if (a.yt.v[i] < vmin || a.yt.v[i] > vmax)
			continue;
		cairo_move_to(cr, r.x + r.w, y);
		cairo_line_to(cr, r.x + r.w + 3, y);
		cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
		cairo_stroke(cr);
		mlf_plot_tick_label(&a.yt, a.yt.v[i], buf, sizeof(buf));
		plot_text(f, &tf, r.x + r.w + 5, y, 0, 0.5, 0, buf);
	}
}

#define SAMPLE 20.0
#define PAD 6.0

struct plot_rect plot_legend_size(struct plot_fig *f, const struct plot_legend_item *items, size_t n,
				  double font_size, double maxw)
{
	struct plot_font font = { font_size, 0, plot_black };
	double w = 0;
	for (size_t i = 0; i < n; i++) {
		char *s = plot_text_fit(f, &font, items[i].label, maxw);
		w = fmax(w, plot_text_width(f, &font, s));
		free(s);
	}
	return (struct plot_rect){ 0, 0, PAD * 2 + SAMPLE + PAD + w, PAD * 2 + n * font_size * 1.5 };
}

struct plot_rect plot_legend(struct plot_fig *f, double x, double y, double ax, double ay,
			     const struct plot_legend_item *items, size_t n, double font_size, double maxw)
{
	struct plot_rect r = plot_legend_size(f, items, n, font_size, maxw);
	if (!n)
		return r;
	r.x = x - ax * r.w;
	r.y = y - ay * r.h;
	cairo_t *cr = f->cr;
	cairo_rectangle(cr, r.x, r.y, r.w, r.h);
	cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
	cairo_fill_preserve(cr);
	cairo_set_source_rgb(cr, 0.82, 0.82, 0.82);
	cairo_set_line_width(cr, 0.6);
	cairo_stroke(cr);
	struct plot_font font = { font_size, 0, plot_black };
	for (size_t i = 0; i < n; i++) {
		const struct plot_line_style *st = &items[i].style;
		double cy = r.y + PAD + (i + 0.5) * font_size * 1.5;
		set_style(cr, st);
		cairo_move_to(cr, r.x + PAD, cy);
		cairo_line_to(cr, r.x + PAD + SAMPLE, cy);
		cairo_stroke(cr);
		cairo_set_dash(cr, NULL, 0, 0);
		if (st->marker > 0) {
			cairo_new_sub_path(cr);
			cairo_arc(cr, r.x + PAD + SAMPLE / 2, cy, st->marker, 0, 2 * M_PI);
			cairo_set_source_rgb(cr, st->color.r, st->color.g, st->color.b);
			cairo_fill(cr);
		}
		char *s = plot_text_fit(f, &font, items[i].label, maxw);
		plot_text(f, &font, r.x + PAD * 2 + SAMPLE, cy, 0, 0.5, 0, s);
		free(s);
	}
	return r;
}
