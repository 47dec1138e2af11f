/* Figures over a cairo image surface, saved as PNG crash-safely; colours (lib/plot/plot_internal.h). */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlf/base.h"
#include "plot_internal.h"

#define RGB(hex) { ((hex) >> 16 & 255) / 255.0, ((hex) >> 8 & 255) / 255.0, ((hex) & 255) / 255.0 }

static const struct plot_rgb palette[PLOT_NCOLORS] = {
	RGB(0x1f77b4), RGB(0xff7f0e), RGB(0x2ca02c), RGB(0xd62728), RGB(0x9467bd),
	RGB(0x8c564b), RGB(0xe377c2), RGB(0x7f7f7f), RGB(0xbcbd22), RGB(0x17becf),
	RGB(0xaec7e8), RGB(0xffbb78), RGB(0x98df8a), RGB(0xff9896), RGB(0xc5b0d5),
	RGB(0xc49c94), RGB(0xf7b6d2), RGB(0xc7c7c7), RGB(0xdbdb8d), RGB(0x9edae5),
};

const struct plot_rgb plot_black = RGB(0x222222);
const struct plot_rgb plot_grey = RGB(0x9a9a9a);
const struct plot_rgb plot_light = RGB(0xe6e6e6);
const struct plot_rgb plot_white = RGB(0xffffff);
const struct plot_rgb plot_mean_blue = RGB(0x0b3d91);
const struct plot_rgb plot_raw_blue = RGB(0x1f77b4);
const struct plot_rgb plot_smooth_orange = RGB(0xff7f0e);

struct plot_rgb plot_color(size_t i)
{
	return palette[i % PLOT_NCOLORS];
}

struct plot_rgb plot_cmap(double t)
{
	static const struct plot_rgb stops[] = {
		RGB(0xffffff), RGB(0xdbe9f6), RGB(0x8fc1de), RGB(0x3a87c0), RGB(0x08306b),
	};
	const int n = sizeof(stops) / sizeof(stops[0]);
	if (!isfinite(t) || t <= 0)
		return stops[0];
	if (t >= 1)
		return stops[n - 1];
	double p = t * (n - 1);
	int i = (int)p;
	double u = p - i;
	struct plot_rgb a = stops[i], b = stops[i + 1];
	return (struct plot_rgb){ a.r + (b.r - a.r) * u, a.g + (b.g - a.g) * u, a.b + (b.b - a.b) * u };
}

struct plot_rect plot_grid_cell(struct plot_rect area, int rows, int cols, int row, int col,
				double gap_x, double gap_y)
{
	double w = (area.w - gap_x * (cols - 1)) / cols;
	double h = (area.h - gap_y * (rows - 1)) / rows;
	return (struct plot_rect){ area.x + col * (w + gap_x), area.y + row * (h + gap_y), w, h };
}

int plot_fig_init(struct plot_fig *f, double w, double h, struct mlf_error *err)
{
	memset(f, 0, sizeof(*f));
	f->w = w;
	f->h = h;
	f->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)lround(w * PLOT_SCALE),
						(int)lround(h * PLOT_SCALE));
	if (cairo_surface_status(f->surface) != CAIRO_STATUS_SUCCESS) {
		mlf_fail(err, MLF_EX_SOFTWARE, "cannot create a %.0fx%.0f image for a plot: %s",
			 w * PLOT_SCALE, h * PLOT_SCALE,
			 cairo_status_to_string(cairo_surface_status(f->surface)));
		plot_fig_release(f);
		return -1;
	}
	f->cr = cairo_create(f->surface);
	cairo_scale(f->cr, PLOT_SCALE, PLOT_SCALE);
	cairo_set_source_rgb(f->cr, 1, 1, 1);
	cairo_paint(f->cr);
	cairo_select_font_face(f->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
	cairo_set_line_cap(f->cr, CAIRO_LINE_CAP_ROUND);
	return 0;
}

void plot_fig_release(struct plot_fig *f)
{
	if (f->cr)
		cairo_destroy(f->cr);
	if (f->surface)
		cairo_surface_destroy(f->surface);
	f->cr = NULL;
	f->surface = NULL;
}

struct png_sink {
	FILE *f;
	int err;  /* errno of the first failed write */
};

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int len)
{
	struct png_sink *s = closure;
	if (fwrite(data, 1, len, s->f) != len) {
		if (!s->err)
			s->err = errno ? errno : EIO;
		return CAIRO_STATUS_WRITE_ERROR;
	}
	return CAIRO_STATUS_SUCCESS;
}

int plot_fig_save(struct plot_fig *f, const char *path, struct mlf_error *err)
{
	cairo_status_t st = cairo_status(f->cr);
	if (st != CAIRO_STATUS_SUCCESS)
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot draw the plot '%s': cairo: %s", path,
				cairo_status_to_string(st));
	cairo_surface_flush(f->surface);
	char *tmp = NULL;
	FILE *out = mlf_atomic_fopen(path, &tmp, err);
	if (!out)
		return mlf_error_prefix(err, "cannot save a plot");
	struct png_sink sink = { out, 0 };
	st = cairo_surface_write_to_png_stream(f->surface, png_write, &sink);
	if (st != CAIRO_STATUS_SUCCESS) {
		if (sink.err) {
			errno = sink.err;
			mlf_fail_errno(err, MLF_EX_IOERR, "cannot write the plot '%s'", path);
		} else {
			mlf_fail(err, MLF_EX_SOFTWARE, "cannot encode the plot '%s': cairo: %s", path,
				 cairo_status_to_string(st));
		}
		struct mlf_error ignored = MLF_ERROR_INIT;
		mlf_atomic_fclose(out, tmp, path, 1, &ignored);
		return -1;
	}
	if (mlf_atomic_fclose(out, tmp, path, 0, err) < 0)
		return mlf_error_prefix(err, "cannot save a plot");
	return 0;
}

void mlf_plot_cleanup(void)
{
	cairo_debug_reset_static_data();
	/* fontconfig comes in with cairo but is not linked by name: look it up */
	void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
	if (fc_fini)
		fc_fini();
}
