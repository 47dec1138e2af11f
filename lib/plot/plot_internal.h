/*
 * The drawing layer under include/mlf/plot.h: a figure over a cairo image
 * surface, panels (axes) with ticks, grid, labels and title, line series,
 * markers, bars, heat maps, colour bars and legends.
 *
 * Coordinates are logical units: the surface has PLOT_SCALE pixels per unit,
 * so a figure of 900 x 600 units is a 1800 x 1200 pixel PNG and font sizes
 * read like points.  Cairo keeps the first error it meets and ignores every
 * later call, so drawing functions return nothing; plot_fig_save checks the
 * status once.  Strings are never handed to cairo unchecked (invalid UTF-8
 * would put it into an error state): plot_text sanitises them.
 *
 * Ownership: struct plot_fig owns its surface and context
 * (plot_fig_release); struct plot_axes points at caller-owned strings and
 * arrays, which must outlive it.
 */
#ifndef MLF_PLOT_INTERNAL_H
#define MLF_PLOT_INTERNAL_H

#include <cairo.h>
#include <stddef.h>

#include "mlf/base.h"
#include "mlf/plot.h"

#define PLOT_SCALE 2.0

struct plot_rgb {
	double r, g, b;
};

/* Ten distinct line colours, then their lighter partners: 20 in all. */
#define PLOT_NCOLORS 20
struct plot_rgb plot_color(size_t i);          /* cycles through the 20 */
extern const struct plot_rgb plot_black, plot_grey, plot_light, plot_white, plot_mean_blue,
	plot_raw_blue, plot_smooth_orange;
struct plot_rgb plot_cmap(double t);           /* 0 white .. 1 dark blue; NaN: white */

struct plot_rect {
	double x, y, w, h;
};

/* Cell (row, col) of a rows x cols grid over `area`, `gap` units between cells. */
struct plot_rect plot_grid_cell(struct plot_rect area, int rows, int cols, int row, int col,
				double gap_x, double gap_y);

struct plot_fig {
	cairo_surface_t *surface;
	cairo_t *cr;
	double w, h;  /* logical units */
};

/* A white w x h figure (pixels = units * PLOT_SCALE). */
int plot_fig_init(struct plot_fig *f, double w, double h, struct mlf_error *err);
/* Encode as PNG into `path` crash-safely; fails if cairo met any error while drawing. */
int plot_fig_save(struct plot_fig *f, const char *path, struct mlf_error *err);
void plot_fig_release(struct plot_fig *f);

/* Text.  (x, y) is the anchor point; ax/ay place it on the text's box:
 * ax 0 left, 0.5 centre, 1 right; ay 0 top, 0.5 middle, 1 bottom.  The box is
 * rotated with the text by `angle` degrees (counter-clockwise). */
struct plot_font {
	double size;
	int bold;
	struct plot_rgb color;
};
void plot_text(struct plot_fig *f, const struct plot_font *font, double x, double y, double ax, double ay,
	       double angle, const char *s);
void plot_textf(struct plot_fig *f, const struct plot_font *font, double x, double y, double ax, double ay,
		double angle, const char *fmt, ...) __attribute__((format(printf, 8, 9)));
double plot_text_width(struct plot_fig *f, const struct plot_font *font, const char *s);
double plot_text_height(const struct plot_font *font);  /* of one line, the box plot_text places */
/* `s` made safe for cairo (UTF-8 checked) and shortened with "..." to fit `maxw`; caller frees. */
char *plot_text_fit(struct plot_fig *f, const struct plot_font *font, const char *s, double maxw);
/* Replace invalid UTF-8 and control characters by '?'; caller frees. */
char *plot_utf8_clean(const char *s);

/* Integer ticks (step >= 1), for epochs and counts. */
int plot_int_ticks(double lo, double hi, int target, struct mlf_plot_ticks *t);

/* Finite min and max of `n` values `stride` apart; 0 when there is none. */
int plot_finite_range(const double *v, size_t n, size_t stride, double *lo, double *hi);

/*
 * A panel.  Use: plot_axes_init, set the fields wanted (limits through
 * plot_axes_xlim/ylim, titles, categories), plot_axes_layout (places the data
 * rectangle inside `area` leaving room for the labels), plot_axes_draw
 * (background, grid, ticks, labels, title), then the series, then
 * plot_axes_frame (the border over the data).
 */
struct plot_axes {
	struct plot_fig *fig;
	struct plot_rect area;         /* all of the panel, labels included */
	struct plot_rect plot;         /* the data rectangle (after layout) */
	double x0, x1, y0, y1;         /* data limits; y0 is drawn at the bottom unless yflip */
	struct mlf_plot_ticks xt, yt;
	int yflip;                     /* y0 at the top (images, matrices) */
	int square;                    /* data rectangle square */
	int grid;                      /* grid lines at the ticks */
	int no_xticks, no_yticks;
	const char *title, *xlabel, *ylabel;
	double font_size;              /* tick labels; axis labels 1.1x, title 1.25x */
	double right_pad;              /* room to keep right of the data (colour bar, legend) */
	/* categories instead of numeric ticks: label i sits at i + 0.5 (cells) or i (bars) */
	const char *const *xcats, *const *ycats;
	size_t nxcats, nycats;
	double cat_offset;             /* 0.5 for cells, 0 for bars */
	size_t xcat_every, ycat_every; /* draw every k-th category label (after layout) */
	double xcat_angle;             /* 0 or 90, chosen by layout */
	double cat_font;               /* category label size, chosen by layout */
	double cat_maxw;               /* longest a category label may be */
	double xtick_room, ytick_room; /* room the tick or category labels take (after layout) */
};

void plot_axes_init(struct plot_axes *a, struct plot_fig *f, struct plot_rect area);
/* Limits and the ticks for them; `integer` keeps ticks on whole numbers. */
void plot_axes_xlim(struct plot_axes *a, double lo, double hi, int integer);
void plot_axes_ylim(struct plot_axes *a, double lo, double hi, int integer);
/* Limits around finite data with 5% padding (and [0, 1] when there is none). */
void plot_axes_yauto(struct plot_axes *a, const double *const *ys, const size_t *ns, size_t nys);
void plot_axes_layout(struct plot_axes *a);
void plot_axes_draw(struct plot_axes *a);
void plot_axes_frame(struct plot_axes *a);
/* Data to figure units (clamped to a sane range so huge values cannot upset cairo). */
double plot_px(const struct plot_axes *a, double x);
double plot_py(const struct plot_axes *a, double y);
void plot_axes_clip(struct plot_axes *a);      /* until cairo_restore */
/* A message in the middle of the data rectangle ("no data"). */
void plot_axes_note(struct plot_axes *a, const char *msg);

/* Series.  Lines break at non-finite points; a point with no finite neighbour
 * gets a marker so it stays visible.  x may be NULL (0, 1, 2, ...). */
struct plot_line_style {
	struct plot_rgb color;
	double width;
	double alpha;                  /* 0 means 1 */
	int dash;                      /* 0 solid, 1 dotted, 2 dashed */
	double marker;                 /* radius of a dot at every point; 0 none */
};
void plot_line(struct plot_axes *a, const double *x, const double *y, size_t n, size_t ystride,
	       const struct plot_line_style *st);
void plot_marker(struct plot_axes *a, double x, double y, double r, struct plot_rgb c);
/* Bars centred on 0..n-1, `width` in data units; colors NULL: one colour each from plot_color. */
void plot_bars(struct plot_axes *a, const double *h, size_t n, double width, const struct plot_rgb *color);
/* rows x cols values (row-major) as cells over [x0, x1] x [y0, y1] in data units, coloured
 * by plot_cmap between vmin and vmax; non-finite cells stay background. */
void plot_heatmap(struct plot_axes *a, const double *v, size_t rows, size_t cols, double vmin, double vmax,
		  double x0, double x1, double y0, double y1);
/* A vertical colour bar in `r` with ticks on its right. */
void plot_colorbar(struct plot_fig *f, struct plot_rect r, double vmin, double vmax, int integer,
		   double font_size);

struct plot_legend_item {
	const char *label;
	struct plot_line_style style;
};
/* A boxed legend whose corner (ax, ay as for text) is at (x, y); returns its size. */
struct plot_rect plot_legend(struct plot_fig *f, double x, double y, double ax, double ay,
			     const struct plot_legend_item *items, size_t n, double font_size, double maxw);
struct plot_rect plot_legend_size(struct plot_fig *f, const struct plot_legend_item *items, size_t n,
				  double font_size, double maxw);

/* Smoothing for results.png: Gaussian (sigma in points, truncated at 4 sigma),
 * mirror-reflected at the ends, NaN-aware (weights of finite points only). */
void plot_gaussian_smooth(const double *y, size_t n, double sigma, double *out);

#endif
