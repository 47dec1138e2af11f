/*
 * Training plots (lib/plot_*.c): every plot renders to a PNG that decodes,
 * has its documented size, is not blank and shows its series where they
 * belong; nice ticks are sensible; NaN/Inf, empty and constant data are
 * drawn, not refused; unwritable paths fail cleanly and leave nothing; text
 * renders with no font installed (cairo's built-in font).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/data.h"
#include "mlf/plot.h"
#include "plot/plot_internal.h"

static char dir[] = "/tmp/mlf-test-plot.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return mlf_remove_tree(dir, NULL);
}

static char *path_of(const char *name)
{
	return mlf_path_join(dir, name);
}

/* Entries of `d` other than . and .. */
static int entries(const char *d)
{
	DIR *dp = opendir(d);
	assert_non_null(dp);
	int n = 0;
	for (struct dirent *e; (e = readdir(dp));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dp);
	return n;
}

static int tmp_files(const char *d)
{
	DIR *dp = opendir(d);
	assert_non_null(dp);
	int n = 0;
	for (struct dirent *e; (e = readdir(dp));)
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(dp);
	return n;
}

struct img {
	unsigned char *rgb;
	int w, h;
};

static void load(const char *name, int w, int h, struct img *im)
{
	struct mlf_error err = MLF_ERROR_INIT;
	char *p = path_of(name);
	assert_int_equal(mlf_image_sniff(p), MLF_IMAGE_PNG);
	if (mlf_image_load_rgb(p, &im->rgb, &im->w, &im->h, &err) < 0)
		fail_msg("%s", err.msg);
	free(p);
	assert_int_equal(im->w, w);
	assert_int_equal(im->h, h);
}

static double variance(const struct img *im)
{
	size_t n = (size_t)im->w * im->h * 3;
	double s = 0, s2 = 0;
	for (size_t i = 0; i < n; i++)
		s += im->rgb[i], s2 += (double)im->rgb[i] * im->rgb[i];
	return s2 / n - (s / n) * (s / n);
}

static int is_color(const unsigned char *p, struct plot_rgb c, int tol)
{
	return abs(p[0] - (int)lround(c.r * 255)) <= tol && abs(p[1] - (int)lround(c.g * 255)) <= tol &&
	       abs(p[2] - (int)lround(c.b * 255)) <= tol;
}

static const unsigned char *pixel(const struct img *im, int x, int y)
{
	assert_true(x >= 0 && x < im->w && y >= 0 && y < im->h);
	return im->rgb + ((size_t)y * im->w + x) * 3;
}

/* Pixels of colour c in [x0, x1) x [y0, y1), and their centroid. */
static size_t find_color(const struct img *im, struct plot_rgb c, int tol, int x0, int y0, int x1, int y1,
			 double *cx, double *cy)
{
	size_t n = 0;
	double sx = 0, sy = 0;
	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			if (is_color(pixel(im, x, y), c, tol))
				n++, sx += x, sy += y;
	if (cx)
		*cx = n ? sx / n : -1;
	if (cy)
		*cy = n ? sy / n : -1;
	return n;
}

static void check_not_blank(const char *name, int w, int h)
{
	struct img im;
	load(name, w, h, &im);
	assert_true(variance(&im) > 50);
	free(im.rgb);
}

/* ---- ticks ---- */

static void check_ticks_sane(double lo, double hi, const struct mlf_plot_ticks *t)
{
	assert_true(t->n >= 2 && t->n <= 12);
	double m = t->step / pow(10, floor(log10(t->step)));
	assert_true(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 2.5) < 1e-9 || fabs(m - 5) < 1e-9);
	for (int i = 0; i < t->n; i++) {
		assert_true(t->v[i] >= fmin(lo, t->lo) - 1e-9 * t->step);
		assert_true(t->v[i] <= fmax(hi, t->hi) + 1e-9 * t->step);
		if (i)
			assert_true(fabs(t->v[i] - t->v[i - 1] - t->step) < 1e-6 * t->step);
	}
}

static void test_nice_ticks(void **state)
{
	(void)state;
	struct mlf_plot_ticks t;
	char buf[32];

	assert_int_equal(mlf_plot_nice_ticks(0, 1, 5, &t), 0);
	check_ticks_sane(0, 1, &t);
	assert_int_equal(t.n, 6);
	assert_true(t.v[0] == 0 && fabs(t.v[5] - 1) < 1e-12);
	mlf_plot_tick_label(&t, t.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "0.2");

	assert_int_equal(mlf_plot_nice_ticks(0, 0.0003, 5, &t), 0);
	check_ticks_sane(0, 0.0003, &t);
	assert_true(t.v[0] == 0 && fabs(t.v[t.n - 1] - 0.0003) < 1e-12);
	mlf_plot_tick_label(&t, t.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "1e-4");
	mlf_plot_tick_label(&t, 0, buf, sizeof(buf));
	assert_string_equal(buf, "0");

	assert_int_equal(mlf_plot_nice_ticks(1, 1e6, 5, &t), 0);
	check_ticks_sane(1, 1e6, &t);
	assert_true(t.step == 2e5 && t.v[t.n - 1] == 1e6);
	mlf_plot_tick_label(&t, 2e5, buf, sizeof(buf));
	assert_string_equal(buf, "2e5");
	mlf_plot_tick_label(&t, 1e6, buf, sizeof(buf));
	assert_string_equal(buf, "1e6");

	assert_int_equal(mlf_plot_nice_ticks(-3.7, -1.2, 5, &t), 0);
	check_ticks_sane(-3.7, -1.2, &t);
	assert_true(t.step == 0.5 && fabs(t.v[0] + 3.5) < 1e-12);
	mlf_plot_tick_label(&t, t.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "-3.5");

	/* across zero: 0 is a tick and prints without a sign */
	assert_int_equal(mlf_plot_nice_ticks(-0.3, 0.7, 5, &t), 0);
	check_ticks_sane(-0.3, 0.7, &t);
	int zero = 0;
	for (int i = 0; i < t.n; i++)
		if (t.v[i] == 0) {
			zero = 1;
			mlf_plot_tick_label(&t, t.v[i], buf, sizeof(buf));
			assert_string_equal(buf, "0.0");
		}
	assert_true(zero);

	/* constant: widened around the value, which stays a tick */
	assert_int_equal(mlf_plot_nice_ticks(5, 5, 5, &t), 0);
	assert_true(t.lo < 5 && t.hi > 5);
	check_ticks_sane(5, 5, &t);
	int five = 0;
	for (int i = 0; i < t.n; i++)
		five |= fabs(t.v[i] - 5) < 1e-12;
	assert_true(five);
	assert_int_equal(mlf_plot_nice_ticks(0, 0, 5, &t), 0);
	assert_true(t.lo < 0 && t.hi > 0);
	check_ticks_sane(0, 0, &t);

	/* swapped, tiny, huge, integer */
	assert_int_equal(mlf_plot_nice_ticks(10, 0, 5, &t), 0);
	assert_true(t.v[0] == 0 && t.v[t.n - 1] == 10);
	assert_int_equal(mlf_plot_nice_ticks(1e-300, 3e-300, 5, &t), 0);
	check_ticks_sane(1e-300, 3e-300, &t);
	assert_int_equal(mlf_plot_nice_ticks(-1e308, 1.5e308, 5, &t), 0);
	assert_true(t.n >= 2);
	assert_int_equal(plot_int_ticks(1, 3, 6, &t), 0);
	assert_true(t.step == 1 && t.v[0] == 1 && t.v[t.n - 1] == 3);
	mlf_plot_tick_label(&t, 2, buf, sizeof(buf));
	assert_string_equal(buf, "2");

	assert_int_equal(mlf_plot_nice_ticks(NAN, 1, 5, &t), -1);
	assert_int_equal(mlf_plot_nice_ticks(0, INFINITY, 5, &t), -1);
	assert_int_equal(mlf_plot_nice_ticks(0, 1, 1, &t), -1);
}

/* ---- the drawing layer ---- */

static void test_line_breaks_at_nan(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	struct plot_fig f;
	assert_int_equal(plot_fig_init(&f, 300, 150, &err), 0);
	struct plot_axes a;
	plot_axes_init(&a, &f, (struct plot_rect){ 0, 0, 300, 150 });
	plot_axes_xlim(&a, 0, 6, 0);
	plot_axes_ylim(&a, 0, 1, 0);
	plot_axes_layout(&a);
	plot_axes_draw(&a);
	const struct plot_rgb red = { 1, 0, 0 }, green = { 0, 0.8, 0 };
	double y[] = { 0.5, 0.5, NAN, 0.5, INFINITY, 0.5, 0.5 };
	struct plot_line_style st = { red, 2, 0, 0, 0 };
	plot_line(&a, NULL, y, 7, 1, &st);
	double y2[] = { NAN, 0.2, NAN };
	double x2[] = { 0, 1, 2 };
	struct plot_line_style st2 = { green, 1, 0, 0, 0 };
	plot_line(&a, x2, y2, 3, 1, &st2);
	plot_axes_frame(&a);
	int on_x = (int)(plot_px(&a, 0.5) * PLOT_SCALE), on_y = (int)(plot_py(&a, 0.5) * PLOT_SCALE);
	int gap_x = (int)(plot_px(&a, 2.5) * PLOT_SCALE), gap2_x = (int)(plot_px(&a, 3.7) * PLOT_SCALE);
	int lone_x = (int)(plot_px(&a, 1) * PLOT_SCALE), lone_y = (int)(plot_py(&a, 0.2) * PLOT_SCALE);
	char *p = path_of("layer.png");
	assert_int_equal(plot_fig_save(&f, p, &err), 0);
	plot_fig_release(&f);
	free(p);

	struct img im;
	load("layer.png", 600, 300, &im);
	assert_true(is_color(pixel(&im, on_x, on_y), red, 40));
	assert_true(is_color(pixel(&im, (int)(plot_px(&a, 5.5) * PLOT_SCALE), on_y), red, 40));
	assert_false(is_color(pixel(&im, gap_x, on_y), red, 80));   /* NaN: a gap */
	assert_false(is_color(pixel(&im, gap2_x, on_y), red, 80));  /* Inf: a gap */
	assert_true(is_color(pixel(&im, lone_x, lone_y), green, 60)); /* a lone point gets a dot */
	free(im.rgb);
	assert_int_equal(tmp_files(dir), 0);
}

static void test_smooth(void **state)
{
	(void)state;
	double y[] = { 1, 1, 1, 1, 1 }, out[5];
	plot_gaussian_smooth(y, 5, 3, out);
	for (int i = 0; i < 5; i++)
		assert_true(fabs(out[i] - 1) < 1e-12);
	double z[] = { 0, NAN, 2 }, oz[3];
	plot_gaussian_smooth(z, 3, 3, oz);
	for (int i = 0; i < 3; i++)
		assert_true(isfinite(oz[i]) && oz[i] > 0 && oz[i] < 2);
	double one = 7, o1;
	plot_gaussian_smooth(&one, 1, 3, &o1);
	assert_true(fabs(o1 - 7) < 1e-12);
	double none[2] = { NAN, NAN }, on[2];
	plot_gaussian_smooth(none, 2, 3, on);
	assert_true(isnan(on[0]) && isnan(on[1]));
}

static void test_utf8_clean(void **state)
{
	(void)state;
	char *s = plot_utf8_clean("ok \xc3\xa9 \xff\xfe \xe2\x82 \x01 \xed\xa0\x80 end");
	assert_string_equal(s, "ok \xc3\xa9 ?? ?? ? ??? end");
	free(s);
	s = plot_utf8_clean(NULL);
	assert_string_equal(s, "");
	free(s);
}

/* ---- the plots ---- */

static void test_results(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	size_t n = 300;
	double *y[MLF_PLOT_RESULTS_NDET];
	struct mlf_plot_series s[MLF_PLOT_RESULTS_NDET];
	for (int k = 0; k < MLF_PLOT_RESULTS_NDET; k++) {
		y[k] = mlf_xcalloc(n, sizeof(double));
		for (size_t i = 0; i < n; i++)
			y[k][i] = 1.0 / (1 + i * 0.05) + 0.05 * sin(i * 0.7 + k);
		s[k] = (struct mlf_plot_series){ mlf_plot_results_det_columns[k], y[k] };
	}
	y[2][10] = NAN;
	y[3][0] = INFINITY;
	s[4].y = NULL;
	struct mlf_plot_results r = { n, NULL, MLF_PLOT_RESULTS_NDET, s };
	char *p = path_of("results.png");
	assert_int_equal(mlf_plot_results(p, &r, &err), 0);
	free(p);
	check_not_blank("results.png", MLF_PLOT_RESULTS_W, MLF_PLOT_RESULTS_H);
	struct img im;
	load("results.png", MLF_PLOT_RESULTS_W, MLF_PLOT_RESULTS_H, &im);
	assert_true(find_color(&im, plot_raw_blue, 30, 0, 0, im.w, im.h, NULL, NULL) > 1000);
	assert_true(find_color(&im, plot_smooth_orange, 30, 0, 0, im.w, im.h, NULL, NULL) > 1000);
	free(im.rgb);

	/* 1 epoch */
	r.n = 1;
	p = path_of("results1.png");
	assert_int_equal(mlf_plot_results(p, &r, &err), 0);
	free(p);
	check_not_blank("results1.png", MLF_PLOT_RESULTS_W, MLF_PLOT_RESULTS_H);
	for (int k = 0; k < MLF_PLOT_RESULTS_NDET; k++)
		free(y[k]);
	assert_int_equal(tmp_files(dir), 0);
}

/* One rising series fills the figure: its line climbs from left to right. */
static void test_results_line_where_expected(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	double y[20], ep[20];
	for (int i = 0; i < 20; i++)
		y[i] = i, ep[i] = i + 1;
	struct mlf_plot_series s = { "metrics/mAP50(B)", y };
	struct mlf_plot_results r = { 20, ep, 1, &s };
	char *p = path_of("rising.png");
	assert_int_equal(mlf_plot_results(p, &r, &err), 0);
	free(p);
	struct img im;
	load("rising.png", MLF_PLOT_RESULTS_W, MLF_PLOT_RESULTS_H, &im);
	double lx, ly, rx, ry;
	int third = im.w / 3;
	assert_true(find_color(&im, plot_raw_blue, 30, 0, 100, third, im.h, &lx, &ly) > 100);
	assert_true(find_color(&im, plot_raw_blue, 30, 2 * third, 100, im.w, im.h, &rx, &ry) > 100);
	assert_true(ly > im.h * 0.55 && ry < im.h * 0.45); /* low on the left, high on the right */
	free(im.rgb);

	/* empty: zero epochs, all NaN, constant */
	double nan3[3] = { NAN, NAN, NAN }, c3[3] = { 2, 2, 2 };
	struct mlf_plot_series s3[] = { { "a", nan3 }, { "b", c3 }, { NULL, NULL } };
	struct mlf_plot_results r3 = { 3, NULL, 3, s3 };
	p = path_of("odd.png");
	assert_int_equal(mlf_plot_results(p, &r3, &err), 0);
	free(p);
	check_not_blank("odd.png", MLF_PLOT_RESULTS_W, MLF_PLOT_RESULTS_H);
	r3.n = 0;
	p = path_of("none.png");
	assert_int_equal(mlf_plot_results(p, &r3, &err), 0);
	free(p);
	check_not_blank("none.png", MLF_PLOT_RESULTS_W, MLF_PLOT_RESULTS_H);

	r3.nseries = 0;
	p = path_of("bad.png");
	assert_int_equal(mlf_plot_results(p, &r3, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	free(p);
}

#define NPT 1000

static void test_pr_curve(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	double *x = mlf_xcalloc(NPT, sizeof(double)), *y = mlf_xcalloc(2 * NPT, sizeof(double));
	for (int j = 0; j < NPT; j++) {
		x[j] = j / (double)(NPT - 1);
		y[j] = 0.5;                          /* class 0: flat at 0.5 */
		y[NPT + j] = j % 100 == 7 ? NAN : 0.5; /* class 1: the same, with holes */
	}
	double ap[2] = { 0.5, NAN };
	const char *names[2] = { "flat", "bad \xff name" };
	struct mlf_plot_curves c = { 2, names, NPT, x, y, ap };
	char *p = path_of(MLF_PLOT_PR_FILE);
	assert_int_equal(mlf_plot_pr_curve(p, &c, &err), 0);
	free(p);
	struct img im;
	load(MLF_PLOT_PR_FILE, MLF_PLOT_CURVE_W, MLF_PLOT_CURVE_H, &im);
	assert_true(variance(&im) > 50);
	/* the thick mean line: a horizontal band half-way up, left of the legend */
	double cx, cy;
	size_t n = find_color(&im, plot_mean_blue, 20, 0, 0, im.w * 6 / 10, im.h, &cx, &cy);
	assert_true(n > 2000);
	assert_true(cy > im.h * 0.4 && cy < im.h * 0.6);
	free(im.rgb);

	/* more than 20 classes, and none */
	size_t nc = 30;
	double *yy = mlf_xcalloc(nc * NPT, sizeof(double));
	for (size_t i = 0; i < nc * NPT; i++)
		yy[i] = 1 - x[i % NPT] * (0.5 + 0.01 * (double)(i / NPT));
	struct mlf_plot_curves many = { nc, NULL, NPT, x, yy, NULL };
	p = path_of("many.png");
	assert_int_equal(mlf_plot_pr_curve(p, &many, &err), 0);
	free(p);
	check_not_blank("many.png", MLF_PLOT_CURVE_W, MLF_PLOT_CURVE_H);
	struct mlf_plot_curves none = { 0, NULL, 0, NULL, NULL, NULL };
	p = path_of("nopr.png");
	assert_int_equal(mlf_plot_pr_curve(p, &none, &err), 0);
	free(p);
	check_not_blank("nopr.png", MLF_PLOT_CURVE_W, MLF_PLOT_CURVE_H);
	free(yy);
	free(x);
	free(y);
}

static void test_conf_curves(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	double *x = mlf_xcalloc(NPT, sizeof(double)), *y = mlf_xcalloc(3 * NPT, sizeof(double));
	for (int j = 0; j < NPT; j++) {
		x[j] = j / (double)(NPT - 1);
		for (int i = 0; i < 3; i++)
			y[i * NPT + j] = 0.8 * sin(M_PI * x[j]) * (1 - 0.1 * i);
	}
	const char *names[3] = { "a", "b", "c" };
	struct mlf_plot_curves c = { 3, names, NPT, x, y, NULL };
	const char *files[3] = { MLF_PLOT_F1_FILE, MLF_PLOT_P_FILE, MLF_PLOT_R_FILE };
	enum mlf_plot_metric m[3] = { MLF_PLOT_F1, MLF_PLOT_PRECISION, MLF_PLOT_RECALL };
	for (int k = 0; k < 3; k++) {
		char *p = path_of(files[k]);
		assert_int_equal(mlf_plot_conf_curve(p, &c, m[k], &err), 0);
		free(p);
		struct img im;
		load(files[k], MLF_PLOT_CURVE_W, MLF_PLOT_CURVE_H, &im);
		assert_true(variance(&im) > 50);
		/* the curves' peak is at confidence 0.5: the best-point marker's blue is
		 * there, left of the legend */
		double cx, cy;
		assert_true(find_color(&im, plot_mean_blue, 20, 0, 0, im.w * 6 / 10, im.h, &cx, &cy) > 1000);
		free(im.rgb);
	}
	/* out of range metric */
	char *p = path_of("x.png");
	assert_int_equal(mlf_plot_conf_curve(p, &c, (enum mlf_plot_metric)7, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	free(p);
	free(x);
	free(y);
}

static void test_confusion(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	/* 2 classes: all the weight in [0][0] (top left) */
	int64_t m[9] = { 500, 0, 0, 0, 0, 0, 0, 0, 0 };
	const char *names[2] = { "cat", "dog" };
	struct mlf_plot_confusion cm = { 2, names, m };
	for (int norm = 0; norm < 2; norm++) {
		const char *file = norm ? MLF_PLOT_CONFUSION_NORM_FILE : MLF_PLOT_CONFUSION_FILE;
		char *p = path_of(file);
		assert_int_equal(mlf_plot_confusion(p, &cm, norm, &err), 0);
		free(p);
		struct img im;
		load(file, MLF_PLOT_CONFUSION_W, MLF_PLOT_CONFUSION_H, &im);
		assert_true(variance(&im) > 50);
		/* the darkest colour of the scale: the [0][0] cell, top left (the colour
		 * bar's top is far right, outside the search) */
		double cx, cy;
		size_t n = find_color(&im, plot_cmap(1), 6, 0, 0, im.w * 3 / 4, im.h, &cx, &cy);
		assert_true(n > 10000);
		assert_true(cx < im.w * 0.45 && cy < im.h * 0.45);
		free(im.rgb);
	}

	/* 80 classes, and names that are not UTF-8 or very long */
	int nc = 80;
	size_t n = (size_t)nc + 1;
	int64_t *big = mlf_xcalloc(n * n, sizeof(int64_t));
	char **nm = mlf_xcalloc((size_t)nc, sizeof(char *));
	for (int i = 0; i < nc; i++) {
		big[(size_t)i * n + (size_t)i] = 10 + i;
		big[(size_t)nc * n + (size_t)i] = i % 7;
		nm[i] = i == 3 ? mlf_xstrdup("\xff\xfe\x01") : i == 4 ? mlf_xstrdup("a very long class name that goes on and on and on")
								   : mlf_xasprintf("class_%d", i);
	}
	struct mlf_plot_confusion cm80 = { nc, (const char *const *)nm, big };
	char *p = path_of("cm80.png");
	assert_int_equal(mlf_plot_confusion(p, &cm80, 1, &err), 0);
	free(p);
	check_not_blank("cm80.png", MLF_PLOT_CONFUSION_W, MLF_PLOT_CONFUSION_H);
	for (int i = 0; i < nc; i++)
		free(nm[i]);
	free(nm);
	free(big);

	/* all zero */
	int64_t zero[4] = { 0 };
	struct mlf_plot_confusion z = { 1, NULL, zero };
	p = path_of("cm0.png");
	assert_int_equal(mlf_plot_confusion(p, &z, 1, &err), 0);
	free(p);
	check_not_blank("cm0.png", MLF_PLOT_CONFUSION_W, MLF_PLOT_CONFUSION_H);
	z.nc = 0;
	p = path_of("bad.png");
	assert_int_equal(mlf_plot_confusion(p, &z, 0, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	free(p);
}

static void test_labels(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	size_t n = 1000;
	int *cls = mlf_xcalloc(n, sizeof(int));
	float *xywh = mlf_xcalloc(n * 4, sizeof(float));
	for (size_t i = 0; i < n; i++) {
		cls[i] = 1; /* every box is class 1: only its (orange) bar stands */
		xywh[i * 4] = 0.25f, xywh[i * 4 + 1] = 0.75f;
		xywh[i * 4 + 2] = 0.1f, xywh[i * 4 + 3] = 0.2f;
	}
	cls[0] = 9;            /* out of range: skipped */
	xywh[4 * 4 + 2] = NAN; /* skipped */
	const char *names[3] = { "a", "b", "c" };
	struct mlf_plot_labels l = { 3, names, n, cls, xywh };
	char *p = path_of(MLF_PLOT_LABELS_FILE);
	assert_int_equal(mlf_plot_labels(p, &l, &err), 0);
	free(p);
	struct img im;
	load(MLF_PLOT_LABELS_FILE, MLF_PLOT_LABELS_W, MLF_PLOT_LABELS_H, &im);
	assert_true(variance(&im) > 50);
	double cx, cy;
	/* the bar: a big orange block in the top half, in the middle third */
	assert_true(find_color(&im, plot_color(1), 10, 0, 0, im.w, im.h / 2, &cx, &cy) > 50000);
	assert_true(cx > im.w / 3.0 && cx < im.w * 2 / 3.0);
	/* the two histograms have one dark cell each */
	assert_true(find_color(&im, plot_cmap(1), 6, 0, im.h / 2, im.w * 2 / 3, im.h, NULL, NULL) > 20);
	free(im.rgb);

	struct mlf_plot_labels none = { 0, NULL, 0, NULL, NULL };
	p = path_of("nolabels.png");
	assert_int_equal(mlf_plot_labels(p, &none, &err), 0);
	free(p);
	check_not_blank("nolabels.png", MLF_PLOT_LABELS_W, MLF_PLOT_LABELS_H);
	free(cls);
	free(xywh);
}

/* ---- failures ---- */

static void test_unwritable(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	char *sub = path_of("fail");
	assert_int_equal(mlf_mkdir_p(sub, 0755, &err), 0);
	double y[2] = { 1, 2 };
	struct mlf_plot_series s = { "x", y };
	struct mlf_plot_results r = { 2, NULL, 1, &s };

	/* a folder that does not exist */
	char *p = mlf_path_join(sub, "missing/results.png");
	assert_int_equal(mlf_plot_results(p, &r, &err), -1);
	assert_int_equal(err.status, MLF_EX_CANTCREAT);
	assert_non_null(strstr(err.msg, "missing/results.png"));
	assert_non_null(strstr(err.msg, "No such file"));
	free(p);

	/* the target is a folder: the PNG is written, the rename fails, nothing stays */
	char *target = mlf_path_join(sub, "results.png");
	assert_int_equal(mlf_mkdir_p(target, 0755, &err), 0);
	mlf_error_clear(&err);
	assert_int_equal(mlf_plot_results(target, &r, &err), -1);
	assert_int_not_equal(err.status, 0);
	assert_non_null(strstr(err.msg, "results.png"));
	assert_int_equal(entries(sub), 1);
	assert_int_equal(tmp_files(sub), 0);
	free(target);
	free(sub);

	assert_int_equal(mlf_plot_results(NULL, &r, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
}

/* ---- no fonts: a child process with an empty fontconfig ---- */

static int render_all(const char *out)
{
	struct mlf_error err = MLF_ERROR_INIT;
	double y[5] = { 3, 2, 1.5, 1.2, 1.1 };
	struct mlf_plot_series s[2] = { { "train/box_loss", y }, { "val/box_loss", y } };
	struct mlf_plot_results r = { 5, NULL, 2, s };
	double x[4] = { 0, 0.3, 0.6, 1 }, py[4] = { 1, 0.9, 0.6, 0 };
	double ap = 0.6;
	const char *nm[1] = { "thing" };
	struct mlf_plot_curves c = { 1, nm, 4, x, py, &ap };
	int64_t m[4] = { 3, 1, 2, 0 };
	struct mlf_plot_confusion cm = { 1, nm, m };
	int cls[2] = { 0, 0 };
	float b[8] = { 0.5f, 0.5f, 0.2f, 0.2f, 0.3f, 0.3f, 0.1f, 0.1f };
	struct mlf_plot_labels l = { 1, nm, 2, cls, b };
	char *p[5];
	const char *names[5] = { "r.png", "pr.png", "f1.png", "cm.png", "l.png" };
	for (int i = 0; i < 5; i++)
		p[i] = mlf_path_join(out, names[i]);
	int rc = mlf_plot_results(p[0], &r, &err) | mlf_plot_pr_curve(p[1], &c, &err) |
		 mlf_plot_conf_curve(p[2], &c, MLF_PLOT_F1, &err) | mlf_plot_confusion(p[3], &cm, 0, &err) |
		 mlf_plot_labels(p[4], &l, &err);
	for (int i = 0; i < 5; i++)
		free(p[i]);
	if (rc) {
		fprintf(stderr, "%s\n", err.msg);
		mlf_plot_cleanup();
		return 1;
	}
	/* prove the fallback was taken: cairo's built-in font is a user font */
	cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 4, 4);
	cairo_t *cr = cairo_create(sf);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	int type = cairo_scaled_font_get_type(cairo_get_scaled_font(cr));
	cairo_destroy(cr);
	cairo_surface_destroy(sf);
	mlf_plot_cleanup();
	return type == CAIRO_FONT_TYPE_USER ? 0 : 3;
}

static void test_no_fonts(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	char *out = path_of("nofonts"), *fonts = path_of("nofonts/fonts"), *conf = path_of("fonts.conf");
	assert_int_equal(mlf_mkdir_p(fonts, 0755, &err), 0);
	char *xml = mlf_xasprintf("<?xml version=\"1.0\"?>\n<fontconfig><dir>%s</dir>"
				  "<cachedir>%s/cache</cachedir></fontconfig>\n", fonts, fonts);
	assert_int_equal(mlf_write_file_atomic(conf, xml, strlen(xml), &err), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("FONTCONFIG_FILE", conf, 1);
		execl("/proc/self/exe", "test_plot", "--render-all", out, (char *)NULL);
		_exit(127);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	const char *names[4] = { "nofonts/r.png", "nofonts/pr.png", "nofonts/cm.png", "nofonts/l.png" };
	int sizes[4][2] = { { MLF_PLOT_RESULTS_W, MLF_PLOT_RESULTS_H }, { MLF_PLOT_CURVE_W, MLF_PLOT_CURVE_H },
			    { MLF_PLOT_CONFUSION_W, MLF_PLOT_CONFUSION_H }, { MLF_PLOT_LABELS_W, MLF_PLOT_LABELS_H } };
	for (int i = 0; i < 4; i++)
		check_not_blank(names[i], sizes[i][0], sizes[i][1]);
	free(xml);
	free(out);
	free(fonts);
	free(conf);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--render-all"))
		return render_all(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nice_ticks),
		cmocka_unit_test(test_line_breaks_at_nan),
		cmocka_unit_test(test_smooth),
		cmocka_unit_test(test_utf8_clean),
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_results_line_where_expected),
		cmocka_unit_test(test_pr_curve),
		cmocka_unit_test(test_conf_curves),
		cmocka_unit_test(test_confusion),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_unwritable),
		cmocka_unit_test(test_no_fonts),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	mlf_plot_cleanup(); /* so leak checkers see only our own leaks */
	return failed;
}
