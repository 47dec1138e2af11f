/*
 * Training plots as PNG files drawn with cairo: the pictures an Ultralytics
 * detection training leaves in its folder (results.png, BoxPR_curve.png,
 * BoxF1_curve.png, BoxP_curve.png, BoxR_curve.png, confusion_matrix.png,
 * confusion_matrix_normalized.png, labels.jpg), in our own drawing and
 * always PNG (so labels.png, not labels.jpg).
 *
 * Ownership: every input belongs to the caller and is only read.  Each
 * mlf_plot_* function writes one file crash-safely (a temporary file beside
 * it, fsync, rename) and leaves nothing behind when it fails.
 * Values: NaN and +-Inf are skipped wherever they appear (a line breaks
 * there); empty inputs draw a figure that says so rather than failing.
 * Text: names are drawn as UTF-8, invalid bytes and control characters as
 * '?'; too-long names are shortened with "...".  Text needs no installed
 * font: without one cairo draws with its built-in stroke font.
 * Errors: bad arguments fail with 64, a file that cannot be created with 73,
 * a failed write with 74, a drawing failure inside cairo with 70.
 */
#ifndef MLF_PLOT_H
#define MLF_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"

/* The file names retrain-run logs the plots under (Ultralytics' names). */
#define MLF_PLOT_RESULTS_FILE "results.png"
#define MLF_PLOT_PR_FILE "BoxPR_curve.png"
#define MLF_PLOT_F1_FILE "BoxF1_curve.png"
#define MLF_PLOT_P_FILE "BoxP_curve.png"
#define MLF_PLOT_R_FILE "BoxR_curve.png"
#define MLF_PLOT_CONFUSION_FILE "confusion_matrix.png"
#define MLF_PLOT_CONFUSION_NORM_FILE "confusion_matrix_normalized.png"
#define MLF_PLOT_LABELS_FILE "labels.png"

/* Image sizes in pixels; fixed, whatever the data. */
#define MLF_PLOT_RESULTS_W 2400
#define MLF_PLOT_RESULTS_H 1200
#define MLF_PLOT_CURVE_W 1800
#define MLF_PLOT_CURVE_H 1200
#define MLF_PLOT_CONFUSION_W 2000
#define MLF_PLOT_CONFUSION_H 1700
#define MLF_PLOT_LABELS_W 2000
#define MLF_PLOT_LABELS_H 1440

/*
 * results.png: one panel per series against the epoch, the raw values
 * (line, with markers while there are few epochs) and a Gaussian-smoothed
 * line (sigma 3 epochs) as Ultralytics draws them.  Panels fill two rows,
 * left to right, top row first.
 */
#define MLF_PLOT_RESULTS_MAX 16
#define MLF_PLOT_RESULTS_NDET 10
/* The detection columns of results.csv in Ultralytics' panel order. */
extern const char *const mlf_plot_results_det_columns[MLF_PLOT_RESULTS_NDET];

struct mlf_plot_series {
	const char *name;          /* panel title, e.g. "train/box_loss" */
	const double *y;           /* [n] one value per epoch; NULL: an empty panel */
};

struct mlf_plot_results {
	size_t n;                  /* epochs (0 is allowed) */
	const double *epoch;       /* [n] x values; NULL means 1..n */
	size_t nseries;            /* 1..MLF_PLOT_RESULTS_MAX */
	const struct mlf_plot_series *series;
};

int mlf_plot_results(const char *path, const struct mlf_plot_results *r, struct mlf_error *err);

/*
 * Per-class curves against a shared x, laid out as mlf_det_metrics_result
 * holds them: x = px (recall for the PR curve, confidence for the others),
 * y row-major, one row of npoints per class.  Up to 20 classes get a
 * coloured line and a legend entry each; more are drawn thin and grey.
 * The thick line is the mean over classes (NaN skipped).
 */
struct mlf_plot_curves {
	size_t nclasses;
	const char *const *names;  /* [nclasses]; NULL (or a NULL entry): "class <i>" */
	size_t npoints;
	const double *x;           /* [npoints] */
	const double *y;           /* [nclasses * npoints] */
	const double *ap50;        /* [nclasses] AP@0.5 for the PR legend; NULL: not shown */
};

/* Precision against recall; the mean line is labelled "all classes 0.XXX mAP@0.5". */
int mlf_plot_pr_curve(const char *path, const struct mlf_plot_curves *c, struct mlf_error *err);

enum mlf_plot_metric { MLF_PLOT_F1, MLF_PLOT_PRECISION, MLF_PLOT_RECALL };
/*
 * F1, precision or recall against confidence.  The mean line is smoothed as
 * Ultralytics smooths it (box filter over 10% of the points) and its best
 * value is marked and labelled "all classes 0.XX at 0.XXX".
 */
int mlf_plot_conf_curve(const char *path, const struct mlf_plot_curves *c, enum mlf_plot_metric metric,
			struct mlf_error *err);

/*
 * Confusion matrix as mlf_det_metrics keeps it: (nc+1) x (nc+1) counts,
 * [predicted][true], index nc being "background".  `normalize` divides each
 * column by its sum (each true class sums to 1).  Cells are annotated while
 * they are big enough to read (up to about 30 classes); names are drawn for
 * every class while they fit, else every k-th.
 */
struct mlf_plot_confusion {
	int nc;                    /* >= 1 */
	const char *const *names;  /* [nc]; NULL (or a NULL entry): the class number */
	const int64_t *matrix;     /* [(nc + 1) * (nc + 1)] */
};

int mlf_plot_confusion(const char *path, const struct mlf_plot_confusion *cm, int normalize,
		       struct mlf_error *err);

/*
 * labels.png: instances per class (bars), where box centres fall and what
 * sizes boxes have (2-D histograms over the normalised image, 50 x 50 bins),
 * and the shapes of up to 500 boxes (an even sample) drawn about the centre.
 * Boxes whose class is outside 0..nc-1 or that hold a non-finite value are
 * skipped and counted in the figure's title.
 */
struct mlf_plot_labels {
	int nc;                    /* >= 0 */
	const char *const *names;  /* [nc]; NULL (or a NULL entry): the class number */
	size_t n;                  /* boxes */
	const int *cls;            /* [n] */
	const float *xywh;         /* [n * 4]: centre x, centre y, width, height in 0..1 */
};

int mlf_plot_labels(const char *path, const struct mlf_plot_labels *l, struct mlf_error *err);

/*
 * Free the font caches cairo and fontconfig keep for the life of the
 * process.  Only for leak checkers (AddressSanitizer reports them): call it
 * once at exit, after the last plot, when no other thread uses cairo or
 * fontconfig.  Drawing again afterwards works (the caches are rebuilt).
 */
void mlf_plot_cleanup(void);

/*
 * Axis ticks at "nice" values (1, 2, 2.5 or 5 times a power of ten) within
 * [lo, hi], about `target` of them.  lo == hi is widened around the value
 * (by 10% of it, or 0.5 about zero); lo > hi is swapped.  t->lo, t->hi get
 * the range the ticks were chosen for (the axis limits to use).  Returns -1
 * when lo or hi is not finite or target < 2.
 */
#define MLF_PLOT_MAX_TICKS 24
struct mlf_plot_ticks {
	int n;
	double v[MLF_PLOT_MAX_TICKS];
	double lo, hi, step;
	int decimals;              /* digits after the point; -1: scientific notation (tiny steps, huge values) */
};

int mlf_plot_nice_ticks(double lo, double hi, int target, struct mlf_plot_ticks *t);
/* The label of tick value `v`: "0.25", "1500", "2.5e-4", "2e6"; always NUL-terminated. */
void mlf_plot_tick_label(const struct mlf_plot_ticks *t, double v, char *buf, size_t size);

#endif
