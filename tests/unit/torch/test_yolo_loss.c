/*
 * Parity of the detection loss with Ultralytics 8.4.190's v8DetectionLoss
 * (tests/fixtures/loss, from scripts/make-loss-fixtures), and hand cases.
 *
 * Every recorded case is computed from its recorded raw maps (the assigner
 * and the loss alone; for the synthetic cases, whose maps are not a model's,
 * also backward to the maps), and every model case once more from the C
 * model's own training-mode forward of the recorded batch, with backward to
 * the weights.  Tolerances:
 *   - raw maps of the forward: 1e-4 * max(1, |expected|);
 *   - foreground mask and assigned box index: exact; target boxes
 *     1e-5 * max(1, |expected|) (input pixels up to 96); target scores 1e-5;
 *   - loss items, total and the class-weighted cls: 1e-4 relative from the
 *     model, 2e-6 relative from the recorded maps (the same libtorch kernels
 *     on the same inputs agree to the last bits; the tight bound catches a
 *     wrong eps or clamp whose effect is ~1e-5);
 *   - gradients, norm-based: ||got - expected||_2 <= 1e-3 * ||expected||_2
 *     for each sampled parameter, the L2 norm over all parameter gradients
 *     within 1e-3 relative, and 1e-5 for the gradients of the maps.
 * The largest differences are printed.  Hand cases: a batch without targets
 * (box and dfl 0 with the graph kept, cls the BCE against zeros), a
 * perfectly predicted box (box loss ~0), bad targets and predictions; no
 * handle leaks anywhere.
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

#include "mlf/ckpt.h"
#include "mlf/torch/torch.h"
#include "mlf/torch/model.h"

#define FIX SOURCE_DIR "/tests/fixtures/loss/"
#define FIXTURE_DIR FIX
#include "../fixture_arrays.h"
#define TOL_MAP 1e-4
#define TOL_TARGET 1e-5
#define TOL_LOSS 1e-4
#define TOL_GRAD 1e-3
#define TOL_LOSS_MAPS 2e-6
#define TOL_GRAD_MAPS 1e-5

static json_t *manifest;

/* Largest differences seen, printed at the end. */
static double w_map, w_box, w_score, w_loss, w_grad, w_gnorm, w_loss_maps, w_grad_maps;

static double fmax_set(double *w, double d)
{
	if (d > *w)
		*w = d;
	return d;
}

/* A float32 or float16 array as a float32 tensor. */
static mlf_th *float_tensor(const json_t *arr)
{
	int f16 = !strcmp(json_string_value(json_object_get(arr, "dtype")), "float16");
	size_t n;
	void *v = fixture_read_array(arr, f16 ? 2 : 4, &n);
	int64_t s[MLF_TH_MAX_DIMS];
	int nd = fixture_array_shape(arr, s);
	mlf_th *t = mlf_th_to(mlf_th_from_data(v, f16 ? MLF_DTYPE_F16 : MLF_DTYPE_F32, nd, s, MLF_TH_CPU),
			      MLF_DTYPE_F32, MLF_TH_CPU);
	free(v);
	assert_non_null(t);
	return t;
}

/* The batch as the trainer feeds it: uint8 / 255 in float32. */
static mlf_th *input_tensor(const json_t *arr)
{
	size_t n;
	unsigned char *u = fixture_read_array(arr, 1, &n);
	float *v = malloc(n * sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = (float)u[i] / 255.0f;
	int64_t s[4];
	assert_int_equal(fixture_array_shape(arr, s), 4);
	mlf_th *t = mlf_th_from_data(v, MLF_DTYPE_F32, 4, s, MLF_TH_CPU);
	free(u);
	free(v);
	assert_non_null(t);
	return t;
}

static float *values_f32(const mlf_th *t, size_t *n)
{
	*n = (size_t)mlf_th_numel(t);
	float *v = malloc((*n ? *n : 1) * sizeof(*v));
	assert_non_null(v);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_F32, v, *n * sizeof(*v)), 0);
	return v;
}

/* `got` has the recorded array's shape and values within tol * max(1, |want|)
 * (rel 0: tol absolute). */
static void match(const char *what, const mlf_th *got, const json_t *arr, double tol, int rel, double *worst)
{
	int64_t s[MLF_TH_MAX_DIMS], g[MLF_TH_MAX_DIMS];
	int nd = fixture_array_shape(arr, s);
	if (mlf_th_shape(got, g, MLF_TH_MAX_DIMS) != nd)
		fail_msg("%s: %s, expected %d dims", what, mlf_th_describe(got), nd);
	for (int i = 0; i < nd; i++)
		if (s[i] != g[i])
			fail_msg("%s: %s has the wrong shape", what, mlf_th_describe(got));
	size_t n, m;
	float *want = fixture_read_array(arr, sizeof(float), &n);
	float *v = values_f32(got, &m);
	assert_int_equal(n, m);
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)v[i] - want[i]), lim = tol * (rel ? fmax(1, fabs(want[i])) : 1);
		fmax_set(worst, rel ? d / fmax(1, fabs(want[i])) : d);
		if (!(d <= lim))
			fail_msg("%s[%zu]: %.9g, expected %.9g", what, i, v[i], want[i]);
	}
	free(want);
	free(v);
}

/* An integer array (uint8 or int32 on file) equal element by element. */
static void match_exact(const char *what, const mlf_th *got, const json_t *arr)
{
	const char *dt = json_string_value(json_object_get(arr, "dtype"));
	int is_u8 = !strcmp(dt, "uint8");
	size_t n;
	void *want = fixture_read_array(arr, is_u8 ? 1 : 4, &n);
	assert_int_equal((size_t)mlf_th_numel(got), n);
	int64_t *v = malloc((n ? n : 1) * sizeof(*v));
	assert_non_null(v);
	assert_int_equal(mlf_th_copy_out(got, MLF_DTYPE_I64, v, n * sizeof(*v)), 0);
	for (size_t i = 0; i < n; i++) {
		int64_t w = is_u8 ? ((unsigned char *)want)[i] : ((int32_t *)want)[i];
		if (v[i] != w)
			fail_msg("%s[%zu]: %lld, expected %lld", what, i, (long long)v[i], (long long)w);
	}
	free(want);
	free(v);
}

/* Norm-based: ||got - want||_2 <= tol * ||want||_2. */
static void match_l2(const char *what, const mlf_th *got, const json_t *arr, double tol, double *worst)
{
	if (!got)
		fail_msg("%s: no gradient", what);
	size_t n, ng;
	float *want = fixture_read_array(arr, sizeof(float), &n);
	float *v = values_f32(got, &ng);
	assert_int_equal(n, ng);
	double dd = 0, ww = 0;
	for (size_t i = 0; i < n; i++) {
		dd += ((double)v[i] - want[i]) * ((double)v[i] - want[i]);
		ww += (double)want[i] * want[i];
	}
	double rel = sqrt(dd) / fmax(sqrt(ww), 1e-30);
	fmax_set(worst, rel);
	if (!(rel <= tol))
		fail_msg("%s differs by %.3g (relative L2)", what, rel);
	free(want);
	free(v);
}

static void close_rel(const char *what, double got, double want, double tol, double *worst)
{
	double d = fabs(got - want) / fmax(fabs(want), 1e-12);
	if (want == 0)
		d = fabs(got);
	fmax_set(worst, d);
	if (!(d <= tol))
		fail_msg("%s: %.9g, expected %.9g (relative difference %.3g)", what, got, want, d);
}

static struct mlf_yolo_target *case_targets(const json_t *c, size_t *n)
{
	const json_t *rows = json_object_get(c, "targets");
	*n = json_array_size(rows);
	struct mlf_yolo_target *t = calloc(*n ? *n : 1, sizeof(*t));
	assert_non_null(t);
	for (size_t i = 0; i < *n; i++) {
		const json_t *r = json_array_get(rows, i);
		t[i].image = (int)json_integer_value(json_array_get(r, 0));
		t[i].cls = (int)json_integer_value(json_array_get(r, 1));
		/* float32 values written with Python's repr of the double: exact. */
		t[i].cx = (float)json_number_value(json_array_get(r, 2));
		t[i].cy = (float)json_number_value(json_array_get(r, 3));
		t[i].w = (float)json_number_value(json_array_get(r, 4));
		t[i].h = (float)json_number_value(json_array_get(r, 5));
	}
	return t;
}

static const json_t *model_doc(const char *name)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(manifest, "models"), i, m)
		if (!strcmp(json_string_value(json_object_get(m, "name")), name))
			return m;
	fail_msg("model %s not in the manifest", name);
	return NULL;
}

/* The case's head: its model's, or its own for the synthetic maps. */
static void init_loss_for(struct mlf_yolo_loss *l, const json_t *c)
{
	const json_t *model = json_object_get(c, "model");
	const json_t *m = json_is_string(model) ? model_doc(json_string_value(model)) : c;
	const json_t *levels = json_object_get(c, "levels");
	double strides[MLF_YOLO_MAX_LEVELS];
	int nl = (int)json_array_size(levels);
	for (int i = 0; i < nl; i++)
		strides[i] = json_number_value(json_object_get(json_array_get(levels, (size_t)i), "stride"));
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_yolo_loss_init_head(l, (int)json_integer_value(json_object_get(m, "nc")),
				    (int)json_integer_value(json_object_get(m, "reg_max")), nl, strides, &err) < 0)
		fail_msg("%s", err.msg);
}

/* Assignment and loss values against the case. */
static void check_case(const char *what, const json_t *c, const struct mlf_yolo_loss_value *v,
		       const struct mlf_yolo_assignment *a, double tol, double *worst)
{
	const json_t *arrays = json_object_get(c, "arrays"), *loss = json_object_get(c, "loss");
	char s[128];
	snprintf(s, sizeof(s), "%s fg_mask", what);
	match_exact(s, a->fg_mask, json_object_get(arrays, "fg_mask"));
	snprintf(s, sizeof(s), "%s target_gt_idx", what);
	match_exact(s, a->target_gt_idx, json_object_get(arrays, "target_gt_idx"));
	snprintf(s, sizeof(s), "%s target_bboxes", what);
	match(s, a->target_bboxes, json_object_get(arrays, "target_bboxes"), TOL_TARGET, 1, &w_box);
	snprintf(s, sizeof(s), "%s target_scores", what);
	match(s, a->target_scores, json_object_get(arrays, "target_scores"), TOL_TARGET, 0, &w_score);
	assert_int_equal(v->foreground, json_integer_value(json_object_get(c, "foreground")));
	assert_int_equal(v->batch, json_integer_value(json_object_get(c, "batch_size")));
	snprintf(s, sizeof(s), "%s box_loss", what);
	close_rel(s, v->box, json_number_value(json_object_get(loss, "box_loss")), tol, worst);
	snprintf(s, sizeof(s), "%s cls_loss", what);
	close_rel(s, v->cls, json_number_value(json_object_get(loss, "cls_loss")), tol, worst);
	snprintf(s, sizeof(s), "%s dfl_loss", what);
	close_rel(s, v->dfl, json_number_value(json_object_get(loss, "dfl_loss")), tol, worst);
	snprintf(s, sizeof(s), "%s total", what);
	close_rel(s, mlf_th_item(v->total), json_number_value(json_object_get(c, "total")), tol, worst);
	assert_int_equal(mlf_th_ndim(v->total), 0);
}

static int setup(void **state)
{
	(void)state;
	json_error_t jerr;
	manifest = json_load_file(FIX "cases.json", 0, &jerr);
	if (!manifest) {
		fprintf(stderr, FIX "cases.json: %s\n", jerr.text);
		return -1;
	}
	mlf_th_set_threads(1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(manifest);
	printf("largest differences: target boxes %.3g (rel), target scores %.3g; from the recorded maps: "
	       "losses %.3g (rel), map gradients %.3g (rel L2); from the model: raw maps %.3g (rel), losses %.3g "
	       "(rel), parameter gradients %.3g (rel L2), gradient norm %.3g (rel)\n",
	       w_box, w_score, w_loss_maps, w_grad_maps, w_map, w_loss, w_grad, w_gnorm);
	return 0;
}

/* The assigner and the loss alone, on the recorded raw maps. */
static void test_recorded_maps(void **state)
{
	(void)state;
	size_t live = mlf_th_live_handles(), index;
	json_t *c;
	json_array_foreach(json_object_get(manifest, "cases"), index, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const json_t *arrays = json_object_get(c, "arrays"), *levels = json_object_get(c, "levels");
		struct mlf_yolo_loss l;
		init_loss_for(&l, c);
		size_t mark = mlf_th_scope_open();
		struct mlf_yolo_output o;
		memset(&o, 0, sizeof(o));
		o.nlevels = (int)json_array_size(levels);
		for (int i = 0; i < o.nlevels; i++) {
			const json_t *lv = json_array_get(levels, (size_t)i);
			char key[24];
			snprintf(key, sizeof(key), "level%d", i);
			o.level[i] = float_tensor(json_object_get(arrays, key));
			assert_int_equal(mlf_th_set_requires_grad(o.level[i], 1), 0);
			o.h[i] = (int)json_integer_value(json_object_get(lv, "h"));
			o.w[i] = (int)json_integer_value(json_object_get(lv, "w"));
			o.stride[i] = json_number_value(json_object_get(lv, "stride"));
		}
		size_t nt;
		struct mlf_yolo_target *t = case_targets(c, &nt);
		struct mlf_yolo_loss_value v;
		struct mlf_yolo_assignment a;
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_yolo_loss_compute(&l, &o, t, nt, &v, &a, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		char what[64];
		snprintf(what, sizeof(what), "%s (recorded maps)", name);
		check_case(what, c, &v, &a, TOL_LOSS_MAPS, &w_loss_maps);
		if (json_object_get(arrays, "level0_grad")) {
			/* d total / d maps, the loss's own backward. */
			assert_int_equal(mlf_th_backward(v.total), 0);
			for (int i = 0; i < o.nlevels; i++) {
				char key[24];
				snprintf(key, sizeof(key), "level%d_grad", i);
				snprintf(what, sizeof(what), "%s d total / d level %d", name, i);
				match_l2(what, mlf_th_grad(o.level[i]), json_object_get(arrays, key), TOL_GRAD_MAPS,
					 &w_grad_maps);
			}
		}
		if (json_object_get(c, "class_weights")) {
			const json_t *cw = json_object_get(c, "class_weights");
			size_t k, nw = json_array_size(cw);
			float *w = malloc(nw * sizeof(*w) + 1);
			assert_non_null(w);
			json_t *x;
			json_array_foreach(cw, k, x)
				w[k] = (float)json_number_value(x);
			assert_int_equal(mlf_yolo_loss_set_class_weights(&l, w, nw, &err), 0);
			free(w);
			struct mlf_yolo_loss_value vw;
			if (mlf_yolo_loss_compute(&l, &o, t, nt, &vw, NULL, &err) < 0)
				fail_msg("%s: %s", name, err.msg);
			snprintf(what, sizeof(what), "%s cls with class weights", name);
			close_rel(what, vw.cls, json_number_value(json_object_get(c, "cls_weighted")), TOL_LOSS_MAPS,
				  &w_loss_maps);
			assert_true(fabs(vw.box - v.box) <= 1e-7 * fabs(v.box) && vw.dfl == v.dfl);
		}
		free(t);
		mlf_th_scope_close(mark);
		mlf_yolo_loss_release(&l);
	}
	assert_int_equal(mlf_th_live_handles(), live);
}

static double sum_sq(const mlf_th *g)
{
	size_t n;
	float *v = values_f32(g, &n);
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)v[i] * v[i];
	free(v);
	return s;
}

/* The C model's forward of the recorded batch, the loss, backward. */
static void test_model(void **state)
{
	(void)state;
	size_t live = mlf_th_live_handles(), index;
	json_t *c;
	json_array_foreach(json_object_get(manifest, "cases"), index, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const json_t *arrays = json_object_get(c, "arrays");
		char path[512], what[96];
		if (!json_is_string(json_object_get(c, "model_file")))
			continue; /* synthetic maps: no model */
		snprintf(path, sizeof(path), SOURCE_DIR "/%s", json_string_value(json_object_get(c, "model_file")));
		struct mlf_ckpt ck;
		struct mlf_yolo_model m;
		struct mlf_error err = MLF_ERROR_INIT;
		mlf_ckpt_init(&ck);
		/* A fresh model per case: no gradients or statistics carried over. */
		if (mlf_ckpt_read_pt(path, &ck, &err) < 0 || mlf_yolo_model_from_ckpt(&m, &ck, MLF_TH_CPU, &err) < 0)
			fail_msg("%s: %s", path, err.msg);
		mlf_ckpt_release(&ck);
		mlf_yolo_model_train(&m, 1);
		/* Parity with Ultralytics' own (NCHW) arithmetic; the channels-last
		 * training forward is compared with this one in test_yolo_model. */
		mlf_yolo_model_set_channels_last(&m, 0);
		struct mlf_yolo_loss l;
		if (mlf_yolo_loss_init(&l, &m, &err) < 0)
			fail_msg("%s", err.msg);

		size_t mark = mlf_th_scope_open();
		mlf_th *x = input_tensor(json_object_get(arrays, "input"));
		struct mlf_yolo_output o;
		if (mlf_yolo_forward(&m, x, MLF_YOLO_OUT_LEVELS, &o, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		for (int i = 0; i < o.nlevels; i++) {
			char key[24];
			snprintf(key, sizeof(key), "level%d", i);
			snprintf(what, sizeof(what), "%s %s", name, key);
			match(what, o.level[i], json_object_get(arrays, key), TOL_MAP, 1, &w_map);
		}
		size_t nt;
		struct mlf_yolo_target *t = case_targets(c, &nt);
		struct mlf_yolo_loss_value v;
		struct mlf_yolo_assignment a;
		if (mlf_yolo_loss_compute(&l, &o, t, nt, &v, &a, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		snprintf(what, sizeof(what), "%s (model)", name);
		check_case(what, c, &v, &a, TOL_LOSS, &w_loss);
		assert_int_equal(mlf_th_requires_grad(v.total), 1);
		assert_int_equal(mlf_th_backward(v.total), 0);

		size_t k;
		json_t *g;
		json_array_foreach(json_object_get(c, "grads"), k, g) {
			const char *pname = json_string_value(json_object_get(g, "name"));
			snprintf(what, sizeof(what), "%s gradient of %s", name, pname);
			match_l2(what, mlf_th_grad(mlf_yolo_model_tensor(&m, pname)), g, TOL_GRAD, &w_grad);
		}
		double total = 0;
		for (size_t i = 0; i < m.ntensors; i++) {
			mlf_th *gr = mlf_th_grad(m.tensors[i]);
			if (gr)
				total += sum_sq(gr);
		}
		snprintf(what, sizeof(what), "%s gradient norm", name);
		close_rel(what, sqrt(total), json_number_value(json_object_get(c, "grad_norm")), TOL_GRAD, &w_gnorm);
		free(t);
		mlf_th_scope_close(mark);
		mlf_yolo_loss_release(&l);
		mlf_yolo_model_release(&m);
	}
	assert_int_equal(mlf_th_live_handles(), live);
}

/* Synthetic head output: nc classes, reg_max 16, strides 8/16/32, H x W input. */
static void synthetic(struct mlf_yolo_output *o, int batch, int H, int W, int nc, const float *const *maps)
{
	memset(o, 0, sizeof(*o));
	o->nlevels = 3;
	for (int i = 0; i < 3; i++) {
		o->stride[i] = 8 << i;
		o->h[i] = H / (8 << i);
		o->w[i] = W / (8 << i);
		int64_t s[4] = { batch, 64 + nc, o->h[i], o->w[i] };
		if (maps)
			o->level[i] = mlf_th_from_data(maps[i], MLF_DTYPE_F32, 4, s, MLF_TH_CPU);
		else
			o->level[i] = mlf_th_randn(4, s, 0, 2, MLF_DTYPE_F32, MLF_TH_CPU);
		assert_non_null(o->level[i]);
		assert_int_equal(mlf_th_set_requires_grad(o->level[i], 1), 0);
	}
}

static void head_loss(struct mlf_yolo_loss *l, int nc)
{
	double strides[3] = { 8, 16, 32 };
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_yolo_loss_init_head(l, nc, 16, 3, strides, &err), 0);
}

/* No targets at all: box and dfl 0, cls = 0.5 * sum of softplus(logits) / 1;
 * the box channels get zero gradients (the graph is kept), the class
 * channels d/dx = 0.5 * B * sigmoid(x). */
static void test_no_targets(void **state)
{
	(void)state;
	size_t live = mlf_th_live_handles();
	struct mlf_yolo_loss l;
	head_loss(&l, 3);
	size_t mark = mlf_th_scope_open();
	mlf_th_manual_seed(7);
	struct mlf_yolo_output o;
	synthetic(&o, 2, 64, 96, 3, NULL);
	struct mlf_yolo_loss_value v;
	struct mlf_yolo_assignment a;
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_yolo_loss_compute(&l, &o, NULL, 0, &v, &a, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(v.box == 0 && v.dfl == 0);
	assert_int_equal(v.foreground, 0);
	double bce = 0;
	for (int i = 0; i < 3; i++) {
		size_t n;
		float *x = values_f32(o.level[i], &n);
		size_t hw = (size_t)o.h[i] * o.w[i];
		for (size_t j = 0; j < n; j++)
			if ((j / hw) % 67 >= 64) /* class channels */
				bce += fmax(x[j], 0) + log1p(exp(-fabs(x[j])));
		free(x);
	}
	close_rel("cls without targets", v.cls, 0.5 * bce, 1e-5, &w_loss);
	close_rel("total without targets", mlf_th_item(v.total), 2 * 0.5 * bce, 1e-5, &w_loss);
	assert_int_equal(mlf_th_item(mlf_th_reduce(MLF_TH_SUM, a.target_scores, MLF_TH_ALL_DIMS, 0)), 0);
	assert_int_equal(mlf_th_backward(v.total), 0);
	for (int i = 0; i < 3; i++) {
		mlf_th *g = mlf_th_grad(o.level[i]);
		assert_non_null(g);
		size_t n;
		float *gv = values_f32(g, &n), *x = values_f32(o.level[i], &n);
		size_t hw = (size_t)o.h[i] * o.w[i];
		for (size_t j = 0; j < n; j++) {
			if ((j / hw) % 67 < 64)
				assert_true(gv[j] == 0);
			else
				assert_true(fabs(gv[j] - 0.5 * 2 / (1 + exp(-x[j]))) < 1e-6);
		}
		free(gv);
		free(x);
	}
	mlf_th_scope_close(mark);
	mlf_yolo_loss_release(&l);
	assert_int_equal(mlf_th_live_handles(), live);
}

/* One box predicted exactly by every anchor inside it: each side's distance
 * d is put in the two bins around it (log weights), so the DFL expectation
 * is d; the box loss ((1 - CIoU) weighted) is then ~0. */
static void test_perfect_box(void **state)
{
	(void)state;
	size_t live = mlf_th_live_handles();
	const int H = 64, W = 64, nc = 1, no = 64 + nc;
	const double box[4] = { 19.3, 14.6, 41.8, 45.1 }; /* xyxy px, sides >= 16: not widened */
	float *maps[3];
	for (int i = 0; i < 3; i++) {
		int s = 8 << i, h = H / s, w = W / s;
		maps[i] = calloc((size_t)no * h * w, sizeof(float));
		assert_non_null(maps[i]);
		for (int gy = 0; gy < h; gy++)
			for (int gx = 0; gx < w; gx++) {
				double ax = gx + 0.5, ay = gy + 0.5;
				double d[4] = { ax - box[0] / s, ay - box[1] / s, box[2] / s - ax, box[3] / s - ay };
				int inside = d[0] > 0 && d[1] > 0 && d[2] > 0 && d[3] > 0;
				for (int side = 0; side < 4 && inside; side++) {
					assert_true(d[side] < 15);
					int lo = (int)floor(d[side]);
					double f = d[side] - lo;
					for (int b = 0; b < 16; b++) {
						double p = b == lo ? 1 - f : b == lo + 1 ? f : 0;
						maps[i][((size_t)(side * 16 + b) * h + gy) * w + gx] =
							(float)(p > 1e-13 ? log(p) : -30);
					}
				}
				maps[i][((size_t)64 * h + gy) * w + gx] = 2.0f;
			}
	}
	struct mlf_yolo_loss l;
	head_loss(&l, nc);
	size_t mark = mlf_th_scope_open();
	struct mlf_yolo_output o;
	synthetic(&o, 1, H, W, nc, (const float *const *)maps);
	struct mlf_yolo_target t = { 0, 0, (float)((box[0] + box[2]) / 2 / W), (float)((box[1] + box[3]) / 2 / H),
				     (float)((box[2] - box[0]) / W), (float)((box[3] - box[1]) / H) };
	struct mlf_yolo_loss_value v;
	struct mlf_yolo_assignment a;
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_yolo_loss_compute(&l, &o, &t, 1, &v, &a, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(v.foreground > 0);
	/* 7.5 * sum((1 - CIoU) * w) / sum(w): the float32 softmax leaves ~1e-6. */
	if (!(v.box >= 0 && v.box < 1e-4))
		fail_msg("box loss of a perfect prediction: %.3g", v.box);
	printf("perfect prediction: box loss %.3g over %lld foreground anchors\n", v.box, (long long)v.foreground);
	assert_true(v.dfl > 0 && v.cls > 0);
	/* The foreground anchors target that box. */
	size_t n;
	float *tb = values_f32(a.target_bboxes, &n);
	int64_t A = mlf_th_size(a.fg_mask, 1);
	unsigned char *fg = malloc((size_t)A);
	assert_non_null(fg);
	assert_int_equal(mlf_th_copy_out(a.fg_mask, MLF_DTYPE_BOOL, fg, (size_t)A), 0);
	for (int64_t j = 0; j < A; j++)
		for (int k = 0; fg[j] && k < 4; k++)
			assert_true(fabs(tb[j * 4 + k] - box[k]) < 1e-4);
	free(fg);
	free(tb);
	mlf_th_scope_close(mark);
	for (int i = 0; i < 3; i++)
		free(maps[i]);
	mlf_yolo_loss_release(&l);
	assert_int_equal(mlf_th_live_handles(), live);
}

/* Bad targets (65) and predictions that do not fit the head (64), with
 * messages naming the problem; nothing leaks. */
static void test_errors(void **state)
{
	(void)state;
	size_t live = mlf_th_live_handles();
	struct mlf_yolo_loss l;
	head_loss(&l, 3);
	size_t mark = mlf_th_scope_open();
	struct mlf_yolo_output o;
	synthetic(&o, 2, 64, 64, 3, NULL);
	struct mlf_yolo_loss_value v;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_yolo_target t = { 2, 0, 0.5f, 0.5f, 0.2f, 0.2f };
	assert_int_equal(mlf_yolo_loss_compute(&l, &o, &t, 1, &v, NULL, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "image 2"));
	t.image = 1;
	t.cls = 3;
	assert_int_equal(mlf_yolo_loss_compute(&l, &o, &t, 1, &v, NULL, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "class 3"));
	t.cls = 0;
	t.w = NAN;
	assert_int_equal(mlf_yolo_loss_compute(&l, &o, &t, 1, &v, NULL, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	t.w = 0.2f;
	o.nlevels = 2;
	assert_int_equal(mlf_yolo_loss_compute(&l, &o, &t, 1, &v, NULL, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	o.nlevels = 3;
	o.stride[2] = 64;
	assert_int_equal(mlf_yolo_loss_compute(&l, &o, &t, 1, &v, NULL, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	o.stride[2] = 32;
	assert_null(v.total);
	assert_int_equal(mlf_yolo_loss_compute(&l, &o, &t, 1, &v, NULL, &err), 0);
	mlf_yolo_loss_value_release(&v);
	float w2[2] = { 1, 2 };
	assert_int_equal(mlf_yolo_loss_set_class_weights(&l, w2, 2, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	double st[3] = { 8, 16, 32 };
	struct mlf_yolo_loss l1;
	assert_int_equal(mlf_yolo_loss_init_head(&l1, 3, 1, 3, st, &err), -1);
	assert_non_null(strstr(err.msg, "reg_max 1"));
	mlf_th_scope_close(mark);
	mlf_yolo_loss_release(&l);
	assert_int_equal(mlf_th_live_handles(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_maps),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_no_targets),
		cmocka_unit_test(test_perfect_box),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
