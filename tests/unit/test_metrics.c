/*
 * Validation metrics: for every scenario in tests/fixtures/metrics
 * (scripts/make-metrics-fixtures: Ultralytics 8.4.190's own validator code
 * on synthetic detections with many IoU and confidence ties), the TP matrix
 * and the confusion matrix must be equal and P, R, F1, AP, the means,
 * fitness and the curves within 1e-6; NumPy's argsort must be reproduced
 * index for index.  Small hand-made cases pin what can be reasoned about.
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
#include <jansson.h>

#include "metrics/metrics_internal.h"
#include "mlf/metrics.h"

#define FIX SOURCE_DIR "/tests/fixtures/metrics/"
#define TOL 1e-6

static json_t *load_json(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j)
		fail_msg("%s: %s", path, je.text);
	return j;
}

static float *load_bin(const char *name, size_t *n)
{
	char path[512];
	snprintf(path, sizeof(path), FIX "%s", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	assert_true(size >= 0 && size % 4 == 0);
	*n = (size_t)size / 4;
	float *p = malloc(*n ? *n * sizeof(*p) : 1);
	assert_non_null(p);
	assert_int_equal(fread(p, sizeof(*p), *n, f), *n);
	fclose(f);
	return p;
}

static double num(json_t *j)
{
	if (!json_is_number(j))
		fail_msg("fixture: expected a number");
	return json_number_value(j);
}

static double worst;  /* largest difference seen in the fixtures */

static void near(const char *what, const char *name, double got, double want)
{
	double d = fabs(got - want);
	if (!(d <= TOL))
		fail_msg("%s: %s = %.17g, Ultralytics %.17g", name, what, got, want);
	if (d > worst)
		worst = d;
}

static json_t *find_case(json_t *cases, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "name")), name))
			return c;
	fail_msg("fixture: no case %s", name);
	return NULL;
}

/* Feed one scenario's images; check TP flags image by image. */
static void feed(const char *name, json_t *c, struct mlf_det_metrics *m)
{
	size_t nf, at = 0, row = 0;
	float *v = load_bin(json_string_value(json_object_get(c, "input")), &nf);
	json_t *ndet = json_object_get(c, "ndet"), *ngt = json_object_get(c, "ngt"), *tp = json_object_get(c, "tp");
	assert_int_equal(json_array_size(ndet), json_array_size(ngt));
	struct mlf_detection *d = NULL;
	struct mlf_gt_box *g = NULL;
	for (size_t im = 0; im < json_array_size(ndet); im++) {
		size_t nd = (size_t)json_integer_value(json_array_get(ndet, im));
		size_t ng = (size_t)json_integer_value(json_array_get(ngt, im));
		assert_true(at + 6 * nd + 5 * ng <= nf);
		d = realloc(d, (nd + 1) * sizeof(*d));
		g = realloc(g, (ng + 1) * sizeof(*g));
		assert_true(d && g);
		for (size_t j = 0; j < nd; j++, at += 6)
			d[j] = (struct mlf_detection){ v[at], v[at + 1], v[at + 2], v[at + 3], v[at + 4],
						       (int)v[at + 5], (int)j };
		for (size_t i = 0; i < ng; i++, at += 5)
			g[i] = (struct mlf_gt_box){ v[at], v[at + 1], v[at + 2], v[at + 3], (int)v[at + 4] };
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_det_metrics_add_image(m, d, nd, g, ng, &err) < 0)
			fail_msg("%s image %zu: %s", name, im, err.msg);
		for (size_t j = 0; j < nd; j++, row++) {
			json_int_t want = json_integer_value(json_array_get(tp, row));
			if (m->tp[row] != want)
				fail_msg("%s image %zu detection %zu: TP bits %#x, Ultralytics %#llx", name, im, j,
					 m->tp[row], (unsigned long long)want);
		}
	}
	assert_int_equal(at, nf);
	assert_int_equal(row, json_array_size(tp));
	free(d);
	free(g);
	free(v);
}

static void check_curve(const char *name, const char *what, const double *got, json_t *want, size_t step)
{
	size_t k, i;
	json_t *row;
	json_array_foreach(want, k, row) {
		for (i = 0; i < json_array_size(row); i++) {
			char w[64];
			snprintf(w, sizeof(w), "%s[%zu][%zu]", what, k, i * step);
			near(w, name, got[k * MLF_METRICS_NCURVE + i * step], num(json_array_get(row, i)));
		}
	}
}

static void check_result(const char *name, const struct mlf_det_metrics *m, const struct mlf_det_metrics_result *r,
			 json_t *e)
{
	near("mp", name, r->mp, num(json_object_get(e, "mp")));
	near("mr", name, r->mr, num(json_object_get(e, "mr")));
	near("map50", name, r->map50, num(json_object_get(e, "map50")));
	near("map75", name, r->map75, num(json_object_get(e, "map75")));
	near("map", name, r->map, num(json_object_get(e, "map")));
	near("fitness", name, r->fitness, num(json_object_get(e, "fitness")));
	json_t *cls = json_object_get(e, "classes");
	assert_int_equal(r->nclasses, json_array_size(cls));
	for (size_t k = 0; k < r->nclasses; k++) {
		json_t *c = json_array_get(cls, k);
		const struct mlf_det_class_metrics *got = &r->cls[k];
		char w[64];
		assert_int_equal(got->cls, json_integer_value(json_object_get(c, "cls")));
		snprintf(w, sizeof(w), "class %d P", got->cls);
		near(w, name, got->p, num(json_object_get(c, "p")));
		snprintf(w, sizeof(w), "class %d R", got->cls);
		near(w, name, got->r, num(json_object_get(c, "r")));
		snprintf(w, sizeof(w), "class %d F1", got->cls);
		near(w, name, got->f1, num(json_object_get(c, "f1")));
		for (size_t t = 0; t < MLF_METRICS_NIOU; t++) {
			snprintf(w, sizeof(w), "class %d AP[%zu]", got->cls, t);
			near(w, name, got->ap[t], num(json_array_get(json_object_get(c, "ap"), t)));
		}
	}
	if (r->best != json_integer_value(json_object_get(e, "best")))
		fail_msg("%s: best F1 at index %d, Ultralytics %lld", name, r->best,
			 (long long)json_integer_value(json_object_get(e, "best")));
	json_t *maps = json_object_get(e, "maps"), *ntc = json_object_get(e, "nt_per_class"),
	       *nti = json_object_get(e, "nt_per_image");
	for (int c = 0; c < m->nc; c++) {
		near("maps", name, r->maps[c], num(json_array_get(maps, (size_t)c)));
		assert_int_equal(m->nt_per_class[c], json_integer_value(json_array_get(ntc, (size_t)c)));
		assert_int_equal(m->nt_per_image[c], json_integer_value(json_array_get(nti, (size_t)c)));
	}
	for (size_t k = 0; k < r->nclasses; k++) {
		assert_int_equal(r->cls[k].instances, m->nt_per_class[r->cls[k].cls]);
		assert_int_equal(r->cls[k].images, m->nt_per_image[r->cls[k].cls]);
	}
	size_t step = (size_t)json_integer_value(json_object_get(e, "curve_step"));
	check_curve(name, "prec", r->prec, json_object_get(e, "prec"), step);
	check_curve(name, "p_curve", r->p_curve, json_object_get(e, "p_curve"), step);
	check_curve(name, "r_curve", r->r_curve, json_object_get(e, "r_curve"), step);
	check_curve(name, "f1_curve", r->f1_curve, json_object_get(e, "f1_curve"), step);
	json_t *cm = json_object_get(e, "confusion");
	size_t side = (size_t)m->nc + 1;
	assert_int_equal(json_array_size(cm), side);
	for (size_t p = 0; p < side; p++)
		for (size_t t = 0; t < side; t++) {
			json_int_t want = json_integer_value(json_array_get(json_array_get(cm, p), t));
			if (m->confusion[p * side + t] != want)
				fail_msg("%s: confusion[%zu][%zu] = %lld, Ultralytics %lld", name, p, t,
					 (long long)m->confusion[p * side + t], (long long)want);
		}
}

static void test_fixtures(void **state)
{
	(void)state;
	json_t *root = load_json(FIX "cases.json");
	json_t *cases = json_object_get(root, "cases");
	assert_true(json_array_size(cases) >= 7);
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		json_t *same = json_object_get(c, "same_as");
		json_t *in = same ? find_case(cases, json_string_value(same)) : c;
		struct mlf_det_metrics m;
		struct mlf_det_metrics_result r;
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_det_metrics_init(&m, (int)json_integer_value(json_object_get(in, "nc")), &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		m.cm_conf = (float)num(json_object_get(c, "cm_conf"));
		feed(name, in, &m);
		if (mlf_det_metrics_compute(&m, &r, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		check_result(name, &m, &r, json_object_get(c, "expected"));
		print_message("%-16s %zu images, %zu detections: mAP50 %.6f mAP50-95 %.6f\n", name, m.nimages,
			      m.ndet, r.map50, r.map);
		mlf_det_metrics_result_release(&r);
		mlf_det_metrics_release(&m);
	}
	print_message("largest difference from Ultralytics: %.3g\n", worst);
	json_decref(root);
}

static void test_argsort(void **state)
{
	(void)state;
	json_t *root = load_json(FIX "cases.json");
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(root, "argsort"), i, c) {
		json_t *jv = json_object_get(c, "v"), *ji = json_object_get(c, "idx");
		size_t n = json_array_size(jv);
		double *v = malloc((n + 1) * sizeof(*v));
		size_t *idx = malloc((n + 1) * sizeof(*idx));
		assert_true(v && idx);
		for (size_t k = 0; k < n; k++)
			v[k] = num(json_array_get(jv, k));
		mlf_np_argsort(v, n, idx);
		for (size_t k = 0; k < n; k++)
			if (idx[k] != (size_t)json_integer_value(json_array_get(ji, k)))
				fail_msg("argsort of %zu values: position %zu holds %zu, NumPy %lld", n, k, idx[k],
					 (long long)json_integer_value(json_array_get(ji, k)));
		free(v);
		free(idx);
	}
	json_decref(root);
}

/* Many equal keys, NaN and a descending run: still a sort, NaN last. */
static void test_argsort_heap(void **state)
{
	(void)state;
	enum { N = 4096 };
	double *v = malloc(N * sizeof(*v));
	size_t *idx = malloc(N * sizeof(*idx));
	assert_true(v && idx);
	for (size_t k = 0; k < N; k++)
		v[k] = k % 3 == 0 ? (double)(N - k) : (k % 7 == 0 ? NAN : 1.0);
	mlf_np_argsort(v, N, idx);
	for (size_t k = 1; k < N; k++) {
		double a = v[idx[k - 1]], b = v[idx[k]];
		assert_true(isnan(b) || (!isnan(a) && a <= b));
	}
	free(v);
	free(idx);
}

/* ---- hand-made cases ---- */

static struct mlf_detection det(float x1, float y1, float x2, float y2, float score, int cls)
{
	return (struct mlf_detection){ x1, y1, x2, y2, score, cls, 0 };
}

static void compute(struct mlf_det_metrics *m, struct mlf_det_metrics_result *r)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_det_metrics_compute(m, r, &err) < 0)
		fail_msg("%s", err.msg);
}

static void add(struct mlf_det_metrics *m, const struct mlf_detection *d, size_t nd, const struct mlf_gt_box *g,
		size_t ng)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_det_metrics_add_image(m, d, nd, g, ng, &err) < 0)
		fail_msg("%s", err.msg);
}

static int64_t cmcell(const struct mlf_det_metrics *m, int pred, int truth)
{
	return m->confusion[(size_t)pred * (size_t)(m->nc + 1) + (size_t)truth];
}

/*
 * Perfect detections do not give 1: compute_ap's sentinel (recall 1,
 * precision 0) is the value np.interp returns at exactly recall 1, so the
 * last of the 100 trapezoids is half: AP = 0.99 + 0.005 = 0.995 at every
 * threshold.  P and R are 1.
 */
static void test_perfect(void **state)
{
	(void)state;
	struct mlf_det_metrics m;
	struct mlf_det_metrics_result r;
	assert_int_equal(mlf_det_metrics_init(&m, 2, NULL), 0);
	struct mlf_gt_box g[3] = { { 0, 0, 10, 10, 0 }, { 20, 20, 40, 50, 0 }, { 100, 0, 130, 30, 1 } };
	struct mlf_detection d[3] = { det(0, 0, 10, 10, 0.9f, 0), det(100, 0, 130, 30, 0.8f, 1),
				      det(20, 20, 40, 50, 0.7f, 0) };
	add(&m, d, 3, g, 3);
	for (int j = 0; j < 3; j++)
		assert_int_equal(m.tp[j], 0x3ff);
	compute(&m, &r);
	assert_int_equal(r.nclasses, 2);
	for (size_t k = 0; k < 2; k++) {
		for (int t = 0; t < MLF_METRICS_NIOU; t++)
			assert_true(fabs(r.cls[k].ap[t] - 0.995) < 1e-12);
		assert_true(r.cls[k].p == 1.0 && r.cls[k].r == 1.0);
	}
	assert_true(fabs(r.map50 - 0.995) < 1e-12 && fabs(r.map - 0.995) < 1e-12);
	assert_true(r.mp == 1.0 && r.mr == 1.0);
	assert_true(r.fitness == r.map);
	assert_int_equal(r.best, 0);
	assert_int_equal(cmcell(&m, 0, 0), 2);
	assert_int_equal(cmcell(&m, 1, 1), 1);
	assert_int_equal(cmcell(&m, 2, 2), 0);
	mlf_det_metrics_result_release(&r);
	mlf_det_metrics_release(&m);
}

/* No detections: zero everywhere; every label is a miss (background row). */
static void test_no_detections(void **state)
{
	(void)state;
	struct mlf_det_metrics m;
	struct mlf_det_metrics_result r;
	assert_int_equal(mlf_det_metrics_init(&m, 3, NULL), 0);
	struct mlf_gt_box g[3] = { { 0, 0, 10, 10, 0 }, { 5, 5, 10, 10, 2 }, { 1, 1, 2, 2, 2 } };
	add(&m, NULL, 0, g, 3);
	add(&m, NULL, 0, NULL, 0);
	add(&m, NULL, 0, g, 1);
	compute(&m, &r);
	assert_int_equal(r.nimages, 3);
	assert_int_equal(r.ninstances, 4);
	assert_int_equal(r.nclasses, 2);
	assert_true(r.map == 0.0 && r.map50 == 0.0 && r.mp == 0.0 && r.mr == 0.0 && r.fitness == 0.0);
	assert_int_equal(m.nt_per_class[0], 2);
	assert_int_equal(m.nt_per_image[0], 2);
	assert_int_equal(m.nt_per_class[2], 2);
	assert_int_equal(m.nt_per_image[2], 1);
	assert_int_equal(cmcell(&m, 3, 0), 2);
	assert_int_equal(cmcell(&m, 3, 2), 2);
	mlf_det_metrics_result_release(&r);
	mlf_det_metrics_release(&m);

	/* and nothing at all */
	assert_int_equal(mlf_det_metrics_init(&m, 1, NULL), 0);
	compute(&m, &r);
	assert_true(r.nclasses == 0 && r.map == 0.0 && r.fitness == 0.0 && r.best == 0);
	mlf_det_metrics_result_release(&r);
	mlf_det_metrics_release(&m);
}

/*
 * A single false positive: recall stays 0, so the envelope is 0 from recall
 * 0 on and AP is 0; P at every confidence the detection passes is 0.  Put
 * it before a true positive and the TP's precision 1/2 holds over recall
 * [0, 1): AP = 0.5 * 0.99 + 0.005 / 2 = 0.4975.  After the TP it changes
 * nothing: 0.995.
 */
static void test_false_positive(void **state)
{
	(void)state;
	struct mlf_det_metrics m;
	struct mlf_det_metrics_result r;
	struct mlf_gt_box g = { 0, 0, 10, 10, 0 };
	struct mlf_detection fp = det(50, 50, 60, 60, 0.9f, 0), hit = det(0, 0, 10, 10, 0.5f, 0);

	assert_int_equal(mlf_det_metrics_init(&m, 1, NULL), 0);
	add(&m, &fp, 1, &g, 1);
	assert_int_equal(m.tp[0], 0);
	compute(&m, &r);
	assert_true(r.cls[0].ap[0] == 0.0 && r.map == 0.0 && r.mp == 0.0 && r.mr == 0.0);
	assert_int_equal(cmcell(&m, 0, 1), 1);  /* FP: predicted 0, background */
	assert_int_equal(cmcell(&m, 1, 0), 1);  /* FN: background, true 0 */
	mlf_det_metrics_result_release(&r);

	struct mlf_detection two[2] = { fp, hit };
	mlf_det_metrics_reset(&m);
	add(&m, two, 2, &g, 1);
	assert_int_equal(m.tp[0], 0);
	assert_int_equal(m.tp[1], 0x3ff);
	compute(&m, &r);
	assert_true(fabs(r.cls[0].ap[0] - 0.4975) < 1e-12 && fabs(r.map - 0.4975) < 1e-12);
	mlf_det_metrics_result_release(&r);

	two[0] = det(0, 0, 10, 10, 0.9f, 0);
	two[1] = det(50, 50, 60, 60, 0.5f, 0);
	mlf_det_metrics_reset(&m);
	add(&m, two, 2, &g, 1);
	compute(&m, &r);
	assert_true(fabs(r.map50 - 0.995) < 1e-12);
	mlf_det_metrics_result_release(&r);
	mlf_det_metrics_release(&m);
}

/*
 * Ties in matching: a detection equally good for two labels takes the first
 * (np.argmax); an identical second detection then takes the other.  IoU
 * 0.8182 is a TP up to threshold 0.80 (bits 0-6).  An IoU exactly on a
 * threshold (0.75 = 30/40) counts at that threshold.
 */
static void test_match_ties(void **state)
{
	(void)state;
	struct mlf_gt_box g[2] = { { 0, 0, 10, 10, 0 }, { 2, 0, 12, 10, 0 } };
	struct mlf_detection d[2] = { det(1, 0, 11, 10, 0.9f, 0), det(1, 0, 11, 10, 0.8f, 0) };
	float iou[4];
	mlf_box_iou(g, 2, d, 2, iou);
	assert_true(iou[0] == iou[2] && iou[0] > 0.8f && iou[0] < 0.85f);
	int gc[2] = { 0, 0 }, dc[2] = { 0, 0 };
	unsigned char flags[2 * MLF_METRICS_NIOU];
	uint16_t tp[2];
	mlf_match_predictions(iou, gc, 2, dc, 2, flags, tp);
	assert_int_equal(tp[0], 0x7f);
	assert_int_equal(tp[1], 0x7f);
	assert_int_equal(flags[0], 1);

	/* one label only: the second equal detection is a FP */
	mlf_box_iou(g, 1, d, 2, iou);
	mlf_match_predictions(iou, gc, 1, dc, 2, flags, tp);
	assert_int_equal(tp[0], 0x7f);
	assert_int_equal(tp[1], 0);

	/*
	 * The tie decides: the second detection sits on label 0 (IoU 1) and
	 * overlaps label 1 by 80/120.  Where the first took label 0 (up to
	 * 0.80) the second is a TP only up to 0.65 (bits 0-3); above 0.80 the
	 * first matched nothing and label 0 is the second's (bits 7-9).
	 */
	d[1] = det(0, 0, 10, 10, 0.8f, 0);
	mlf_box_iou(g, 2, d, 2, iou);
	mlf_match_predictions(iou, gc, 2, dc, 2, flags, tp);
	assert_int_equal(tp[0], 0x7f);
	assert_int_equal(tp[1], 0x38f);

	/* exactly 0.75: the top 30 rows of a 40x40 box */
	struct mlf_gt_box sq = { 0, 0, 40, 40, 0 };
	struct mlf_detection part = det(0, 0, 40, 30, 0.5f, 0);
	mlf_box_iou(&sq, 1, &part, 1, iou);
	assert_true(iou[0] == 0.75f && iou[0] == mlf_det_iouv[5]);
	mlf_match_predictions(iou, gc, 1, dc, 1, flags, tp);
	assert_int_equal(tp[0], 0x3f);

	/* the same in the confusion matrix, classes 0 and 1: no confusion */
	struct mlf_det_metrics m;
	assert_int_equal(mlf_det_metrics_init(&m, 2, NULL), 0);
	struct mlf_gt_box g2[2] = { g[0], g[1] };
	g2[1].cls = 1;
	d[1].cls = 1;
	add(&m, d, 2, g2, 2);
	assert_int_equal(cmcell(&m, 0, 0), 1);
	assert_int_equal(cmcell(&m, 1, 1), 1);
	assert_int_equal(cmcell(&m, 0, 1) + cmcell(&m, 1, 0), 0);
	mlf_det_metrics_reset(&m);

	/* wrong class: never a TP, a confusion in the matrix */
	struct mlf_detection wrong = det(0, 0, 10, 10, 0.9f, 1);
	add(&m, &wrong, 1, g, 1);
	assert_int_equal(m.tp[0], 0);
	assert_int_equal(cmcell(&m, 1, 0), 1);
	assert_int_equal(cmcell(&m, 1, 2), 0);
	assert_int_equal(cmcell(&m, 2, 0), 0);
	/* below cm_conf: neither a match nor a background FP */
	m.cm_conf = 0.95f;
	add(&m, &wrong, 1, g, 1);
	assert_int_equal(cmcell(&m, 1, 0), 1);
	assert_int_equal(cmcell(&m, 2, 0), 1);
	assert_int_equal(cmcell(&m, 1, 2), 0);
	mlf_det_metrics_release(&m);
}

static void test_numpy_pieces(void **state)
{
	(void)state;
	/* interp: left/right, repeated xp takes the last, exact hits */
	double xp[4] = { 0, 0.5, 0.5, 1 }, fp[4] = { 1, 0.8, 0.2, 0 }, x[6] = { -1, 0, 0.25, 0.5, 0.75, 2 };
	double y[6];
	mlf_np_interp(x, 6, xp, fp, 4, -7, 7, y);
	assert_true(y[0] == -7 && y[1] == 1 && fabs(y[2] - 0.9) < 1e-15 && y[3] == 0.2);
	assert_true(fabs(y[4] - 0.1) < 1e-15 && y[5] == 7);
	/* pairwise sum is exact on small integers, and matches a plain sum there */
	double a[300];
	for (int k = 0; k < 300; k++)
		a[k] = k;
	assert_true(mlf_np_sum(a, 300, 1) == 299.0 * 300 / 2);
	assert_true(mlf_np_sum(a, 0, 1) == 0.0);
	/* smooth: 1000 points with f 0.1 is 101 taps; a constant stays constant */
	double c[1001], s[1001];
	for (int k = 0; k < 1000; k++)
		c[k] = 0.25;
	assert_int_equal(mlf_det_metrics_smooth(c, 1000, 0.1, s), 1000);
	for (int k = 0; k < 1000; k++)
		assert_true(fabs(s[k] - 0.25) < 1e-15);
	/* a step: index 0 sees 51 ones (padding + itself) of 101 */
	for (int k = 0; k < 1000; k++)
		c[k] = k < 500 ? 1.0 : 0.0;
	mlf_det_metrics_smooth(c, 1000, 0.1, s);
	assert_true(fabs(s[0] - 1.0) < 1e-12 && fabs(s[500] - 50.0 / 101) < 1e-12);
	/* round(25 * 0.05 * 2) = round(2.5) = 2 (half to even): 2 taps, 26 values */
	assert_int_equal(mlf_det_metrics_smooth(c, 25, 0.05, s), 26);
}

static void test_invalid(void **state)
{
	(void)state;
	struct mlf_det_metrics m;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_det_metrics_init(&m, 0, &err), -1);
	assert_int_equal(err.status, 64);
	assert_int_equal(mlf_det_metrics_init(&m, 2, &err), 0);
	struct mlf_detection d = det(0, 0, 1, 1, 0.5f, 2);
	struct mlf_gt_box g = { 0, 0, 1, 1, -1 };
	assert_int_equal(mlf_det_metrics_add_image(&m, &d, 1, NULL, 0, &err), -1);
	assert_int_equal(err.status, 64);
	assert_int_equal(mlf_det_metrics_add_image(&m, NULL, 0, &g, 1, &err), -1);
	assert_int_equal(err.status, 65);
	d.cls = 1;
	d.score = NAN;
	assert_int_equal(mlf_det_metrics_add_image(&m, &d, 1, NULL, 0, &err), -1);
	assert_int_equal(err.status, 65);
	assert_int_equal(mlf_det_metrics_add_image(&m, NULL, 1, NULL, 0, &err), -1);
	assert_int_equal(err.status, 64);
	assert_int_equal(m.nimages, 0);
	assert_int_equal(m.ndet, 0);
	mlf_det_metrics_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),   cmocka_unit_test(test_argsort),
		cmocka_unit_test(test_argsort_heap), cmocka_unit_test(test_perfect),
		cmocka_unit_test(test_no_detections), cmocka_unit_test(test_false_positive),
		cmocka_unit_test(test_match_ties), cmocka_unit_test(test_numpy_pieces),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
