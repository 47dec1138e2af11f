/*
 * mlf-plot-demo: draw every training plot (include/mlf/plot.h) from synthetic
 * data into a folder, for looking at them.  A developer tool; not installed.
 * Usage: mlf-plot-demo DIR (--help).
 *
 * Writes the Ultralytics-named set for a 3-class run of 300 epochs
 * (results.png, BoxPR_curve.png, BoxF1_curve.png, BoxP_curve.png,
 * BoxR_curve.png, confusion_matrix.png, confusion_matrix_normalized.png,
 * labels.png) and the hard cases beside them: coco80_*.png (80 classes),
 * results_1epoch.png, results_12epochs_nan.png (gaps and a constant series),
 * empty_*.png (no data at all).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/cli.h"
#include "mlf/plot.h"

static const char *const coco[80] = {
	"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
	"traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
	"horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
	"handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
	"baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
	"wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
	"broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
	"dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
	"microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
	"teddy bear", "hair drier", "toothbrush",
};
static const char *const three[3] = { "scratch", "dent", "missing_screw" };

static const struct mlf_option options[] = {
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "every plot was written" },
	MLF_EXIT_USAGE,
	{ 73, "DIR cannot be created" },
	{ 74, "a plot could not be drawn or written (the others still are)" },
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-plot-demo",
	.synopsis = "DIR",
	.about = "Draw every training plot from synthetic data into DIR, for looking at them: the "
		 "Ultralytics-named set of a 3-class run of 300 epochs, and the hard cases beside it "
		 "(80 classes, one epoch, gaps and a constant series, no data at all).",
	.max_operands = 1,
	.options = options,
	.exits = exits,
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static double uniform(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static double normal(void)
{
	return sqrt(-2 * log(1 - uniform())) * cos(2 * M_PI * uniform());
}

static int check(int rc, const char *dir, const char *name, struct mlf_error *err)
{
	if (rc < 0) {
		fprintf(stderr, "mlf-plot-demo: %s\n", err->msg);
		return 1;
	}
	fprintf(stderr, "wrote %s/%s\n", dir, name);
	return 0;
}

static char *at(const char *dir, const char *name)
{
	return mlf_path_join(dir, name);
}

/* Loss-like and metric-like curves with noise, as a training would log them. */
static int results(const char *dir, const char *name, size_t n, int holes)
{
	double *y[MLF_PLOT_RESULTS_NDET];
	struct mlf_plot_series s[MLF_PLOT_RESULTS_NDET];
	for (int k = 0; k < MLF_PLOT_RESULTS_NDET; k++) {
		y[k] = mlf_xcalloc(n ? n : 1, sizeof(double));
		int metric = k == 3 || k == 4 || k >= 8;
		double start = metric ? 0.02 : 1.2 + 0.4 * k, end = metric ? 0.55 + 0.04 * k : 0.45 + 0.1 * k;
		for (size_t i = 0; i < n; i++) {
			double t = 1 - exp(-(double)i / (n / 6.0 + 1));
			double v = start + (end - start) * t;
			y[k][i] = v * (1 + 0.04 * normal());
		}
		s[k] = (struct mlf_plot_series){ mlf_plot_results_det_columns[k], y[k] };
	}
	if (holes) {
		y[0][3] = NAN;
		y[0][4] = INFINITY;
		y[5][0] = NAN;
		for (size_t i = 0; i < n; i++)
			y[6][i] = 0.75; /* constant */
		for (size_t i = 0; i < n; i++)
			y[9][i] = i % 2 ? NAN : y[9][i]; /* isolated points */
		s[7].y = NULL;
	}
	struct mlf_plot_results r = { n, NULL, MLF_PLOT_RESULTS_NDET, s };
	struct mlf_error err = MLF_ERROR_INIT;
	char *p = at(dir, name);
	int rc = check(mlf_plot_results(p, &r, &err), dir, name, &err);
	free(p);
	for (int k = 0; k < MLF_PLOT_RESULTS_NDET; k++)
		free(y[k]);
	return rc;
}

#define NPT 1000

/* PR and confidence curves of nc classes of varying quality. */
static int curves(const char *dir, const char *prefix, size_t nc, const char *const *names)
{
	double *px = mlf_xcalloc(NPT, sizeof(double));
	double *pr = mlf_xcalloc(nc * NPT, sizeof(double)), *ap = mlf_xcalloc(nc, sizeof(double));
	double *pc = mlf_xcalloc(nc * NPT, sizeof(double)), *rc_ = mlf_xcalloc(nc * NPT, sizeof(double));
	double *f1 = mlf_xcalloc(nc * NPT, sizeof(double));
	for (size_t j = 0; j < NPT; j++)
		px[j] = (double)j / (NPT - 1);
	for (size_t i = 0; i < nc; i++) {
		double q = 0.3 + 0.65 * uniform(), a = 1 + 6 * q, cmax = 0.75 + 0.24 * uniform();
		double rmax = 0.6 + 0.39 * q;
		double area = 0;
		for (size_t j = 0; j < NPT; j++) {
			double r = px[j];
			double p = r > rmax ? 0 : pow(1 - pow(r / rmax, a), 1 / a) * (0.85 + 0.15 * q);
			pr[i * NPT + j] = p;
			area += p / NPT;
			double c = px[j];
			double rec = c > cmax ? 0 : rmax * pow(1 - pow(c / cmax, 3), 1.2);
			double pre = c > cmax ? 0 : 0.25 + 0.74 * pow(c / cmax, 0.45 / q);
			pc[i * NPT + j] = c > cmax ? 1 : pre;
			rc_[i * NPT + j] = rec;
			f1[i * NPT + j] = pre + rec > 0 ? 2 * pre * rec / (pre + rec) : 0;
		}
		ap[i] = area;
	}
	struct mlf_plot_curves c = { nc, names, NPT, px, pr, ap };
	struct mlf_error err = MLF_ERROR_INIT;
	int bad = 0;
	struct {
		const char *file;
		double *y;
		int metric; /* -1: PR */
	} plots[] = {
		{ MLF_PLOT_PR_FILE, pr, -1 },
		{ MLF_PLOT_F1_FILE, f1, MLF_PLOT_F1 },
		{ MLF_PLOT_P_FILE, pc, MLF_PLOT_PRECISION },
		{ MLF_PLOT_R_FILE, rc_, MLF_PLOT_RECALL },
	};
	for (size_t k = 0; k < sizeof(plots) / sizeof(plots[0]); k++) {
		char *name = mlf_xasprintf("%s%s", prefix, plots[k].file);
		char *p = at(dir, name);
		c.y = plots[k].y;
		int rc = plots[k].metric < 0 ? mlf_plot_pr_curve(p, &c, &err)
					     : mlf_plot_conf_curve(p, &c, plots[k].metric, &err);
		bad |= check(rc, dir, name, &err);
		free(p);
		free(name);
	}
	free(px), free(pr), free(ap), free(pc), free(rc_), free(f1);
	return bad;
}

/* A mostly diagonal matrix with confusions and background errors. */
static int confusion(const char *dir, const char *prefix, int nc, const char *const *names)
{
	size_t n = (size_t)nc + 1;
	int64_t *m = mlf_xcalloc(n * n, sizeof(int64_t));
	for (int t = 0; t < nc; t++) {
		int64_t total = 20 + (int64_t)(uniform() * 400);
		int64_t hit = (int64_t)(total * (0.5 + 0.45 * uniform()));
		m[(size_t)t * n + (size_t)t] = hit;
		int64_t left = total - hit;
		for (int k = 0; k < 2 && left > 0; k++) {
			int p = (int)(uniform() * nc);
			int64_t x = (int64_t)(left * uniform() * 0.5);
			m[(size_t)p * n + (size_t)t] += x;
			left -= x;
		}
		m[(size_t)nc * n + (size_t)t] += left;               /* missed: background predicted */
		m[(size_t)t * n + (size_t)nc] += (int64_t)(uniform() * 60); /* false positives */
	}
	struct mlf_plot_confusion cm = { nc, names, m };
	struct mlf_error err = MLF_ERROR_INIT;
	int bad = 0;
	for (int norm = 0; norm < 2; norm++) {
		char *name = mlf_xasprintf("%s%s", prefix, norm ? MLF_PLOT_CONFUSION_NORM_FILE : MLF_PLOT_CONFUSION_FILE);
		char *p = at(dir, name);
		bad |= check(mlf_plot_confusion(p, &cm, norm, &err), dir, name, &err);
		free(p);
		free(name);
	}
	free(m);
	return bad;
}

/* Boxes with class-dependent sizes and clustered centres. */
static int labels(const char *dir, const char *name, int nc, const char *const *names, size_t n)
{
	int *cls = mlf_xcalloc(n ? n : 1, sizeof(int));
	float *xywh = mlf_xcalloc(n ? n * 4 : 1, sizeof(float));
	for (size_t i = 0; i < n; i++) {
		/* a skewed class distribution, like real data */
		int c = (int)(nc * pow(uniform(), 2.2));
		cls[i] = c;
		double w = fmin(0.9, 0.03 + 0.025 * (c % 7) + fabs(0.07 * normal()));
		double h = fmin(0.9, fabs(w * (0.6 + 0.8 * uniform())));
		double x = fmin(1 - w / 2, fmax(w / 2, 0.5 + 0.18 * normal()));
		double y = fmin(1 - h / 2, fmax(h / 2, 0.55 + 0.15 * normal()));
		xywh[i * 4] = (float)x, xywh[i * 4 + 1] = (float)y;
		xywh[i * 4 + 2] = (float)w, xywh[i * 4 + 3] = (float)h;
	}
	if (n > 10) {
		cls[0] = nc;          /* out of range: skipped */
		xywh[5 * 4] = NAN;    /* skipped */
	}
	struct mlf_plot_labels l = { nc, names, n, cls, xywh };
	struct mlf_error err = MLF_ERROR_INIT;
	char *p = at(dir, name);
	int rc = check(mlf_plot_labels(p, &l, &err), dir, name, &err);
	free(p);
	free(cls);
	free(xywh);
	return rc;
}

static int empties(const char *dir)
{
	struct mlf_error err = MLF_ERROR_INIT;
	int bad = 0;
	struct mlf_plot_series s = { "train/box_loss", NULL };
	struct mlf_plot_results r = { 0, NULL, 1, &s };
	char *p = at(dir, "empty_results.png");
	bad |= check(mlf_plot_results(p, &r, &err), dir, "empty_results.png", &err);
	free(p);
	struct mlf_plot_curves c = { 0, NULL, 0, NULL, NULL, NULL };
	p = at(dir, "empty_PR_curve.png");
	bad |= check(mlf_plot_pr_curve(p, &c, &err), dir, "empty_PR_curve.png", &err);
	free(p);
	int64_t one[4] = { 0 };
	struct mlf_plot_confusion cm = { 1, NULL, one };
	p = at(dir, "empty_confusion_matrix.png");
	bad |= check(mlf_plot_confusion(p, &cm, 1, &err), dir, "empty_confusion_matrix.png", &err);
	free(p);
	struct mlf_plot_labels l = { 0, NULL, 0, NULL, NULL };
	p = at(dir, "empty_labels.png");
	bad |= check(mlf_plot_labels(p, &l, &err), dir, "empty_labels.png", &err);
	free(p);
	return bad;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	mlf_cli_init(program.name);
	int status = mlf_cli_parse(&program, argc, argv, &cli, NULL, NULL);
	if (status >= 0)
		return status;
	if (cli.nargs != 1)
		return mlf_cli_usage_error("missing the folder DIR");
	const char *dir = cli.args[0];
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_mkdir_p(dir, 0755, &err) < 0)
		return mlf_cli_report(&err);
	int bad = 0;
	bad |= results(dir, MLF_PLOT_RESULTS_FILE, 300, 0);
	bad |= results(dir, "results_1epoch.png", 1, 0);
	bad |= results(dir, "results_12epochs_nan.png", 12, 1);
	bad |= curves(dir, "", 3, three);
	bad |= curves(dir, "coco80_", 80, coco);
	bad |= confusion(dir, "", 3, three);
	bad |= confusion(dir, "coco80_", 80, coco);
	bad |= labels(dir, MLF_PLOT_LABELS_FILE, 3, three, 2500);
	bad |= labels(dir, "coco80_labels.png", 80, coco, 40000);
	bad |= empties(dir);
	mlf_plot_cleanup();
	return bad ? 74 : 0;
}
