/* Panels: limits, layout, ticks, grid, labels and title (lib/plot/plot_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot_internal.h"

#define TICK_LEN 3.5
#define GAP 4.0
#define COORD_MAX 1e5   /* figure units; far outside any figure, well inside cairo's range */

static const struct plot_rgb frame_color = { 0.55, 0.55, 0.55 };

static struct plot_font tick_font(const struct plot_axes *a)
{
	return (struct plot_font){ a->font_size, 0, plot_black };
}

static struct plot_font label_font(const struct plot_axes *a)
{
	return (struct plot_font){ a->font_size * 1.1, 0, plot_black };
}

static struct plot_font title_font(const struct plot_axes *a)
{
	return (struct plot_font){ a->font_size * 1.25, 0, plot_black };
}

static struct plot_font cat_font(const struct plot_axes *a)
{
	return (struct plot_font){ a->cat_font, 0, plot_black };
}

void plot_axes_init(struct plot_axes *a, struct plot_fig *f, struct plot_rect area)
{
	memset(a, 0, sizeof(*a));
	a->fig = f;
	a->area = area;
	a->plot = area;
	a->grid = 1;
	a->font_size = 9;
	a->cat_maxw = 120;
	a->xcat_every = a->ycat_every = 1;
	plot_axes_xlim(a, 0, 1, 0);
	plot_axes_ylim(a, 0, 1, 0);
}

static void set_lim(double lo, double hi, int integer, struct mlf_plot_ticks *t, double *o0, double *o1)
{
	if (!isfinite(lo) || !isfinite(hi)) {
		lo = 0;
		hi = 1;
	}
	if ((integer ? plot_int_ticks(lo, hi, 6, t) : mlf_plot_nice_ticks(lo, hi, 5, t)) < 0)
		mlf_plot_nice_ticks(0, 1, 5, t);
	*o0 = t->lo;
	*o1 = t->hi;
}

void plot_axes_xlim(struct plot_axes *a, double lo, double hi, int integer)
{
	set_lim(lo, hi, integer, &a->xt, &a->x0, &a->x1);
}

void plot_axes_ylim(struct plot_axes *a, double lo, double hi, int integer)
{
	set_lim(lo, hi, integer, &a->yt, &a->y0, &a->y1);
}

int plot_finite_range(const double *v, size_t n, size_t stride, double *lo, double *hi)
{
	int any = 0;
	for (size_t i = 0; v && i < n; i++) {
		double x = v[i * stride];
		if (!isfinite(x))
			continue;
		if (!any || x < *lo)
			*lo = x;
		if (!any || x > *hi)
			*hi = x;
		any = 1;
	}
	return any;
}

void plot_axes_yauto(struct plot_axes *a, const double *const *ys, const size_t *ns, size_t nys)
{
	double lo = 0, hi = 1, l = 0, h = 0;
	int any = 0;
	for (size_t i = 0; i < nys; i++) {
		if (!plot_finite_range(ys[i], ns[i], 1, &l, &h))
			continue;
		lo = any ? fmin(lo, l) : l;
		hi = any ? fmax(hi, h) : h;
		any = 1;
	}
	double pad = (hi - lo) * 0.05;
	if (!isfinite(pad)) /* a span beyond double range: no padding */
		pad = 0;
	plot_axes_ylim(a, lo - pad, hi + pad, 0);
}

double plot_px(const struct plot_axes *a, double x)
{
	double v = a->plot.x + (x - a->x0) / (a->x1 - a->x0) * a->plot.w;
	return fmax(-COORD_MAX, fmin(COORD_MAX, v));
}

double plot_py(const struct plot_axes *a, double y)
{
	double u = (y - a->y0) / (a->y1 - a->y0) * a->plot.h;
	double v = a->yflip ? a->plot.y + u : a->plot.y + a->plot.h - u;
	return fmax(-COORD_MAX, fmin(COORD_MAX, v));
}

static double tick_label_maxw(struct plot_axes *a, const struct mlf_plot_ticks *t)
{
	struct plot_font tf = tick_font(a);
	double m = 0;
	char buf[64];
	for (int i = 0; i < t->n; i++) {
		mlf_plot_tick_label(t, t->v[i], buf, sizeof(buf));
		m = fmax(m, plot_text_width(a->fig, &tf, buf));
	}
	return m;
}

static double cat_maxw(struct plot_axes *a, const char *const *cats, size_t n, size_t every)
{
	struct plot_font cf = cat_font(a);
	double m = 0;
	for (size_t i = 0; i < n; i += every) {
		char *s = plot_text_fit(a->fig, &cf, cats[i], a->cat_maxw);
		m = fmax(m, plot_text_width(a->fig, &cf, s));
		free(s);
	}
	return m;
}

/* Place the data rectangle for the current fonts and category choices. */
static void layout_once(struct plot_axes *a)
{
	struct plot_font tf = tick_font(a), lf = label_font(a), hf = title_font(a), cf = cat_font(a);
	double top = a->area.y + (a->title ? plot_text_height(&hf) + 2.2 * GAP : GAP);
	double ylab = a->ylabel ? plot_text_height(&lf) + 2 * GAP : 0;
	double xlab = a->xlabel ? plot_text_height(&lf) + 2 * GAP : GAP;
	a->ytick_room = 0;
	if (a->ycats)
		a->ytick_room = cat_maxw(a, a->ycats, a->nycats, a->ycat_every) + TICK_LEN + GAP;
	else if (!a->no_yticks)
		a->ytick_room = tick_label_maxw(a, &a->yt) + TICK_LEN + GAP;
	a->xtick_room = 0;
	if (a->xcats)
		a->xtick_room = (a->xcat_angle > 45 ? cat_maxw(a, a->xcats, a->nxcats, a->xcat_every)
						    : plot_text_height(&cf)) + TICK_LEN + 2 * GAP;
	else if (!a->no_xticks)
		a->xtick_room = plot_text_height(&tf) + TICK_LEN + 2 * GAP;
	double left = a->area.x + ylab + a->ytick_room;
	double bottom = a->area.y + a->area.h - xlab - a->xtick_room;
	double right = a->area.x + a->area.w - a->right_pad - GAP;
	if (!a->xcats && !a->no_xticks) /* the last tick label is centred on the right edge */
		right -= tick_label_maxw(a, &a->xt) / 2;
	a->plot = (struct plot_rect){ left, top, fmax(1, right - left), fmax(1, bottom - top) };
	if (a->square) {
		/* centre across: the labels move with the data rectangle */
		double s = fmin(a->plot.w, a->plot.h);
		a->plot.x += (a->plot.w - s) / 2;
		a->plot.w = a->plot.h = s;
	}
}

/* Font, angle and spacing of category labels for the current cell size. */
static void choose_cats(struct plot_axes *a)
{
	size_t n = a->nxcats > a->nycats ? a->nxcats : a->nycats;
	if (!n)
		return;
	double cell = a->xcats ? a->plot.w / (a->x1 - a->x0) : a->plot.h / (a->y1 - a->y0);
	if (a->ycats && a->xcats)
		cell = fmin(a->plot.w / (a->x1 - a->x0), a->plot.h / (a->y1 - a->y0));
	/* a label needs about 1.2 times its size of room across */
	a->cat_font = fmin(a->font_size, fmax(6, cell / 1.2));
	size_t every = (size_t)ceil(a->cat_font * 1.2 / fmax(cell, 1e-9));
	a->xcat_every = a->ycat_every = every ? every : 1;
	if (a->xcats) {
		struct plot_font cf = cat_font(a);
		a->xcat_angle = 0;
		for (size_t i = 0; i < a->nxcats; i += a->xcat_every) {
			char *s = plot_text_fit(a->fig, &cf, a->xcats[i], a->cat_maxw);
			double w = plot_text_width(a->fig, &cf, s);
			free(s);
			if (w > cell * a->xcat_every * 0.92) {
				a->xcat_angle = 90;
				break;
			}
		}
	}
}

void plot_axes_layout(struct plot_axes *a)
{
	a->cat_font = a->font_size;
	layout_once(a);
	for (int pass = 0; pass < 3 && (a->xcats || a->ycats); pass++) {
		choose_cats(a);
		layout_once(a);
	}
}

static void line(cairo_t *cr, double x0, double y0, double x1, double y1)
{
	cairo_move_to(cr, x0, y0);
	cairo_line_to(cr, x1, y1);
}

static void draw_cats(struct plot_axes *a)
{
	cairo_t *cr = a->fig->cr;
	struct plot_font cf = cat_font(a);
	const struct plot_rect *p = &a->plot;
	cairo_set_line_width(cr, 0.6);
	cairo_set_source_rgb(cr, frame_color.r, frame_color.g, frame_color.b);
	for (size_t i = 0; a->xcats && i < a->nxcats; i += a->xcat_every) {
		double x = plot_px(a, (double)i + a->cat_offset), y = p->y + p->h;
		line(cr, x, y, x, y + TICK_LEN);
	}
	for (size_t i = 0; a->ycats && i < a->nycats; i += a->ycat_every) {
		double y = plot_py(a, (double)i + a->cat_offset);
		line(cr, p->x, y, p->x - TICK_LEN, y);
	}
	cairo_stroke(cr);
	for (size_t i = 0; a->xcats && i < a->nxcats; i += a->xcat_every) {
		char *s = plot_text_fit(a->fig, &cf, a->xcats[i], a->cat_maxw);
		double x = plot_px(a, (double)i + a->cat_offset), y = p->y + p->h + TICK_LEN + GAP;
		if (a->xcat_angle > 45)
			plot_text(a->fig, &cf, x, y, 1, 0.5, 90, s);
		else
			plot_text(a->fig, &cf, x, y, 0.5, 0, 0, s);
		free(s);
	}
	for (size_t i = 0; a->ycats && i < a->nycats; i += a->ycat_every) {
		char *s = plot_text_fit(a->fig, &cf, a->ycats[i], a->cat_maxw);
		plot_text(a->fig, &cf, p->x - TICK_LEN - GAP, plot_py(a, (double)i + a->cat_offset), 1, 0.5, 0, s);
		free(s);
	}
}

static void draw_ticks(struct plot_axes *a)
{
	cairo_t *cr = a->fig->cr;
	struct plot_font tf = tick_font(a);
	const struct plot_rect *p = &a->plot;
	char buf[64];
	if (a->grid) {
		cairo_set_line_width(cr, 0.6);
		cairo_set_source_rgb(cr, plot_light.r, plot_light.g, plot_light.b);
		for (int i = 0; !a->xcats && i < a->xt.n; i++)
			line(cr, plot_px(a, a->xt.v[i]), p->y, plot_px(a, a->xt.v[i]), p->y + p->h);
		for (int i = 0; !a->ycats && i < a->yt.n; i++)
			line(cr, p->x, plot_py(a, a->yt.v[i]), p->x + p->w, plot_py(a, a->yt.v[i]));
		cairo_stroke(cr);
	}
	cairo_set_line_width(cr, 0.6);
	cairo_set_source_rgb(cr, frame_color.r, frame_color.g, frame_color.b);
	/* x labels may not fit between ticks: label every k-th */
	int every = 1;
	if (!a->xcats && a->xt.n > 1) {
		double spacing = fabs(plot_px(a, a->xt.v[1]) - plot_px(a, a->xt.v[0]));
		every = (int)ceil((tick_label_maxw(a, &a->xt) + 2 * GAP) / fmax(spacing, 1e-9));
		if (every < 1)
			every = 1;
	}
	for (int i = 0; !a->xcats && !a->no_xticks && i < a->xt.n; i++) {
		double x = plot_px(a, a->xt.v[i]);
		line(cr, x, p->y + p->h, x, p->y + p->h + TICK_LEN);
	}
	for (int i = 0; !a->ycats && !a->no_yticks && i < a->yt.n; i++) {
		double y = plot_py(a, a->yt.v[i]);
		line(cr, p->x - TICK_LEN, y, p->x, y);
	}
	cairo_stroke(cr);
	for (int i = 0; !a->xcats && !a->no_xticks && i < a->xt.n; i++) {
		if (i % every)
			continue;
		mlf_plot_tick_label(&a->xt, a->xt.v[i], buf, sizeof(buf));
		plot_text(a->fig, &tf, plot_px(a, a->xt.v[i]), p->y + p->h + TICK_LEN + GAP, 0.5, 0, 0, buf);
	}
	for (int i = 0; !a->ycats && !a->no_yticks && i < a->yt.n; i++) {
		mlf_plot_tick_label(&a->yt, a->yt.v[i], buf, sizeof(buf));
		plot_text(a->fig, &tf, p->x - TICK_LEN - GAP, plot_py(a, a->yt.v[i]), 1, 0.5, 0, buf);
	}
}

void plot_axes_draw(struct plot_axes *a)
{
	struct plot_font lf = label_font(a), hf = title_font(a);
	const struct plot_rect *p = &a->plot;
	draw_ticks(a);
	draw_cats(a);
	if (a->title) {
		char *s = plot_text_fit(a->fig, &hf, a->title, a->area.w);
		double cx = fmin(fmax(p->x + p->w / 2, a->area.x + plot_text_width(a->fig, &hf, s) / 2),
				 a->area.x + a->area.w - plot_text_width(a->fig, &hf, s) / 2);
		plot_text(a->fig, &hf, cx, p->y - 1.4 * GAP, 0.5, 1, 0, s);
		free(s);
	}
	if (a->xlabel)
		plot_text(a->fig, &lf, p->x + p->w / 2, p->y + p->h + a->xtick_room + GAP, 0.5, 0, 0, a->xlabel);
	if (a->ylabel)
		plot_text(a->fig, &lf, p->x - a->ytick_room - GAP, p->y + p->h / 2, 0.5, 1, 90, a->ylabel);
}

void plot_axes_frame(struct plot_axes *a)
{
	cairo_t *cr = a->fig->cr;
	cairo_set_line_width(cr, 0.8);
	cairo_set_source_rgb(cr, frame_color.r, frame_color.g, frame_color.b);
	cairo_rectangle(cr, a->plot.x, a->plot.y, a->plot.w, a->plot.h);
	cairo_stroke(cr);
}

void plot_axes_clip(struct plot_axes *a)
{
	cairo_save(a->fig->cr);
	cairo_rectangle(a->fig->cr, a->plot.x, a->plot.y, a->plot.w, a->plot.h);
	cairo_clip(a->fig->cr);
}

void plot_axes_note(struct plot_axes *a, const char *msg)
{
	struct plot_font f = { a->font_size * 1.2, 0, plot_grey };
	plot_text(a->fig, &f, a->plot.x + a->plot.w / 2, a->plot.y + a->plot.h / 2, 0.5, 0.5, 0, msg);
}
