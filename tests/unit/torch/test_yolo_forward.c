/*
 * Parity of the forward pass and of inference with Ultralytics 8.4.190
 * (tests/fixtures/forward, from scripts/make-forward-fixtures): for every
 * case the recorded input tensor gives the recorded raw maps per level, the
 * decoded output of the plain and of the fused model, and (for the traced
 * case) every layer's output; mlf_yolo_infer on the image file gives
 * YOLO.predict's detections.
 *
 * Tolerances: tensors agree within 1e-4 * max(1, |expected|) (absolute for
 * values up to 1, relative above: decoded boxes are input pixels up to 96);
 * channels-last and fused outputs, computed by other kernels, within twice
 * the case's difference between Ultralytics' own fused and plain models when
 * that is larger;
 * detections agree exactly in number, order and class (equal scores
 * included: torchvision's NMS, which predict runs, keeps them in anchor
 * order), boxes within 1e-3 pixels, confidence within 1e-4.  The largest
 * differences seen are printed.
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
#include "mlf/data.h"
#include "mlf/torch/torch.h"
#include "mlf/torch/model.h"
#include "mlf/yolo.h"

#define FWD SOURCE_DIR "/tests/fixtures/forward/"
#define FIXTURE_DIR FWD
#include "../fixture_arrays.h"
#define TOL 1e-4

static json_t *manifest;

struct worst {
	double abs, rel;        /* largest |a - b| and |a - b| / max(1, |b|) */
};
static struct worst w_level, w_decoded, w_decoded_cl, w_fused, w_layer, w_box, w_conf;

static void note(struct worst *w, double got, double want)
{
	double d = fabs(got - want);
	w->abs = fmax(w->abs, d);
	w->rel = fmax(w->rel, d / fmax(1, fabs(want)));
}

static mlf_th *array_tensor(const json_t *arr)
{
	size_t n;
	float *v = fixture_read_array(arr, sizeof(float), &n);
	const json_t *shape = json_object_get(arr, "shape");
	int64_t s[MLF_TH_MAX_DIMS];
	int nd = (int)json_array_size(shape);
	for (int i = 0; i < nd; i++)
		s[i] = json_integer_value(json_array_get(shape, (size_t)i));
	mlf_th *t = mlf_th_from_data(v, MLF_DTYPE_F32, nd, s, MLF_TH_CPU);
	free(v);
	assert_non_null(t);
	return t;
}

/* `got` equals the recorded array `arr` in shape and within TOL. */
static void match(const char *what, const mlf_th *got, const json_t *arr, struct worst *w, double spread)
{
	size_t n;
	float *want = fixture_read_array(arr, sizeof(float), &n);
	const json_t *shape = json_object_get(arr, "shape");
	int64_t s[MLF_TH_MAX_DIMS];
	int nd = mlf_th_shape(got, s, MLF_TH_MAX_DIMS);
	if (nd != (int)json_array_size(shape))
		fail_msg("%s: %s, expected %zu dims", what, mlf_th_describe(got), json_array_size(shape));
	for (int i = 0; i < nd; i++)
		if (s[i] != json_integer_value(json_array_get(shape, (size_t)i)))
			fail_msg("%s: %s has the wrong shape", what, mlf_th_describe(got));
	float *v = malloc(n * sizeof(float));
	assert_non_null(v);
	assert_int_equal(mlf_th_copy_out(got, MLF_DTYPE_F32, v, n * sizeof(float)), 0);
	for (size_t i = 0; i < n; i++) {
		note(w, v[i], want[i]);
		if (!(fabs(v[i] - want[i]) <= fmax(TOL * fmax(1, fabs(want[i])), spread)))
			fail_msg("%s[%zu]: %.8g, expected %.8g", what, i, v[i], want[i]);
	}
	free(v);
	free(want);
}

struct loaded {
	const char *file;
	struct mlf_yolo_model m;
};
static struct loaded models[4];
static size_t nmodels;

static struct mlf_yolo_model *model_for(const char *file)
{
	for (size_t i = 0; i < nmodels; i++)
		if (!strcmp(models[i].file, file))
			return &models[i].m;
	assert_true(nmodels < 4);
	char path[512];
	snprintf(path, sizeof(path), SOURCE_DIR "/%s", file);
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_ckpt_init(&c);
	if (mlf_ckpt_read_pt(path, &c, &err) < 0 ||
	    mlf_yolo_model_from_ckpt(&models[nmodels].m, &c, MLF_TH_CPU, &err) < 0)
		fail_msg("%s: %s", path, err.msg);
	mlf_ckpt_release(&c);
	models[nmodels].file = file;
	return &models[nmodels++].m;
}

static int setup(void **state)
{
	(void)state;
	json_error_t jerr;
	manifest = json_load_file(FWD "cases.json", 0, &jerr);
	if (!manifest) {
		fprintf(stderr, FWD "cases.json: %s\n", jerr.text);
		return -1;
	}
	mlf_th_set_threads(1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nmodels; i++)
		mlf_yolo_model_release(&models[i].m);
	json_decref(manifest);
	return 0;
}

/* Raw maps, decoded outputs (plain and fused), traced layers. */
static void test_forward(void **state)
{
	(void)state;
	json_t *cases = json_object_get(manifest, "cases");
	size_t ncases = 0, index;
	double spread_max = 0;
	json_t *c;
	json_array_foreach(cases, index, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		if (strstr(name, "_iou"))
			continue; /* same input and outputs as the case without the suffix */
		const json_t *arrays = json_object_get(c, "arrays");
		struct mlf_yolo_model *m = model_for(json_string_value(json_object_get(c, "model_file")));
		struct mlf_error err = MLF_ERROR_INIT;
		size_t mark = mlf_th_scope_open();
		mlf_th *x = array_tensor(json_object_get(arrays, "input"));
		const json_t *trace = json_object_get(c, "trace");
		unsigned what = MLF_YOLO_OUT_LEVELS | MLF_YOLO_OUT_DECODED | (trace ? MLF_YOLO_OUT_TRACE : 0);
		struct mlf_yolo_output o;
		/* NCHW, unfused: the same operations as Ultralytics' eval model. */
		mlf_yolo_model_set_fused(m, 0);
		mlf_yolo_model_set_channels_last(m, 0);
		if (mlf_yolo_forward(m, x, what, &o, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		char what_s[96];
		for (int i = 0; i < o.nlevels; i++) {
			char key[24];
			snprintf(key, sizeof(key), "level%d", i);
			snprintf(what_s, sizeof(what_s), "%s %s", name, key);
			match(what_s, o.level[i], json_object_get(arrays, key), &w_level, 0);
		}
		snprintf(what_s, sizeof(what_s), "%s decoded", name);
		match(what_s, o.decoded, json_object_get(arrays, "decoded"), &w_decoded, 0);
		size_t k;
		const json_t *t;
		json_array_foreach(trace, k, t) {
			int li = (int)json_integer_value(json_object_get(t, "index"));
			snprintf(what_s, sizeof(what_s), "%s layer %d", name, li);
			match(what_s, o.layer[li], json_object_get(t, "output"), &w_layer, 0);
		}
		mlf_yolo_output_release(&o);

		/*
		 * The model's CPU default, channels-last, plain and fused (predict's):
		 * other kernels, other rounding.  These random-weight models amplify
		 * rounding (Ultralytics' own fused and plain outputs differ by up to
		 * max_abs_fused_minus_unfused), so the bound here is twice that.
		 */
		double spread = 2 * json_number_value(json_object_get(c, "max_abs_fused_minus_unfused"));
		spread_max = fmax(spread_max, spread);
		mlf_yolo_model_set_channels_last(m, 1);
		if (mlf_yolo_forward(m, x, MLF_YOLO_OUT_DECODED, &o, &err) < 0)
			fail_msg("%s channels-last: %s", name, err.msg);
		snprintf(what_s, sizeof(what_s), "%s decoded (channels-last)", name);
		match(what_s, o.decoded, json_object_get(arrays, "decoded"), &w_decoded_cl, spread);
		mlf_yolo_output_release(&o);
		mlf_yolo_model_set_fused(m, 1);
		if (mlf_yolo_forward(m, x, MLF_YOLO_OUT_DECODED, &o, &err) < 0)
			fail_msg("%s fused: %s", name, err.msg);
		snprintf(what_s, sizeof(what_s), "%s decoded (fused)", name);
		match(what_s, o.decoded, json_object_get(arrays, "decoded_fused"), &w_fused, spread);
		mlf_yolo_output_release(&o);
		mlf_yolo_model_set_fused(m, 0);
		mlf_th_scope_close(mark);
		ncases++;
	}
	assert_true(ncases >= 14);
	print_message("%zu cases; largest differences (abs / rel to max(1,|x|)):\n"
		      "  raw level maps                  %.3g / %.3g\n"
		      "  decoded                         %.3g / %.3g\n"
		      "  traced layers                   %.3g / %.3g\n"
		      "  decoded, channels-last          %.3g / %.3g\n"
		      "  decoded, fused + channels-last  %.3g / %.3g (vs Ultralytics' fused model)\n"
		      "  (Ultralytics' fused vs plain: up to %.3g)\n",
		      ncases, w_level.abs, w_level.rel, w_decoded.abs, w_decoded.rel, w_layer.abs, w_layer.rel,
		      w_decoded_cl.abs, w_decoded_cl.rel, w_fused.abs, w_fused.rel, spread_max / 2);
}

static int det_close(const struct mlf_detection *x, const float *w)
{
	float got[4] = { x->x1, x->y1, x->x2, x->y2 };
	for (int j = 0; j < 4; j++)
		if (!(fabs(got[j] - w[j]) <= 1e-3))
			return 0;
	return x->cls == (int)w[5] && fabs(x->score - w[4]) <= 1e-4;
}

/* Same number, and in the same order each with Ultralytics' class, box and
 * confidence: predict ran torchvision's NMS, whose order mlf_yolo_nms keeps,
 * equal scores included. */
static void match_detections(const char *name, const struct mlf_detections *d, const json_t *arr)
{
	size_t n;
	float *want = fixture_read_array(arr, sizeof(float), &n);
	size_t nd = n / 6;
	if (d->n != nd)
		fail_msg("%s: %zu detections, Ultralytics has %zu", name, d->n, nd);
	for (size_t i = 0; i < nd; i++) {
		const float *w = want + 6 * i;
		const struct mlf_detection *x = &d->det[i];
		if (!det_close(x, w))
			fail_msg("%s detection %zu: class %d [%.4f %.4f %.4f %.4f] conf %.7f, expected "
				 "class %d [%.4f %.4f %.4f %.4f] conf %.7f", name, i, x->cls, x->x1, x->y1,
				 x->x2, x->y2, x->score, (int)w[5], w[0], w[1], w[2], w[3], w[4]);
		float got[4] = { x->x1, x->y1, x->x2, x->y2 };
		for (int j = 0; j < 4; j++)
			note(&w_box, got[j], w[j]);
		note(&w_conf, x->score, w[4]);
	}
	free(want);
}

static void options_of(const json_t *c, struct mlf_infer_options *o)
{
	const json_t *p = json_object_get(c, "predict");
	mlf_infer_options_default(o);
	o->imgsz = (int)json_integer_value(json_object_get(c, "imgsz"));
	o->rect = !strcmp(json_string_value(json_object_get(c, "mode")), "rect");
	o->nms.conf = (float)json_number_value(json_object_get(p, "conf"));
	o->nms.iou = json_number_value(json_object_get(p, "iou"));
	o->nms.max_det = (int)json_integer_value(json_object_get(p, "max_det"));
	o->nms.agnostic = json_is_true(json_object_get(p, "agnostic_nms"));
	o->nms.multi_label = json_is_true(json_object_get(p, "multi_label"));
}

/* The letterbox geometry predict used, and detections from the recorded
 * letterboxed pixels (what the forward and NMS do, without the resize). */
static void test_infer_letterboxed(void **state)
{
	(void)state;
	json_t *cases = json_object_get(manifest, "cases"), *c;
	size_t index;
	json_array_foreach(cases, index, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const json_t *lbj = json_object_get(c, "letterbox"), *arrays = json_object_get(c, "arrays");
		struct mlf_yolo_model *m = model_for(json_string_value(json_object_get(c, "model_file")));
		struct mlf_infer_options o;
		struct mlf_letterbox lb;
		struct mlf_error err = MLF_ERROR_INIT;
		options_of(c, &o);
		int w0 = (int)json_integer_value(json_object_get(c, "image_width"));
		int h0 = (int)json_integer_value(json_object_get(c, "image_height"));
		assert_int_equal(mlf_yolo_infer_geometry(m, w0, h0, &o, &lb, &err), 0);
		assert_int_equal(lb.new_w, json_integer_value(json_object_get(lbj, "new_w")));
		assert_int_equal(lb.new_h, json_integer_value(json_object_get(lbj, "new_h")));
		assert_int_equal(lb.top, json_integer_value(json_object_get(lbj, "top")));
		assert_int_equal(lb.left, json_integer_value(json_object_get(lbj, "left")));
		assert_int_equal(lb.out_w, json_integer_value(json_object_get(lbj, "width")));
		assert_int_equal(lb.out_h, json_integer_value(json_object_get(lbj, "height")));
		size_t n;
		unsigned char *pix = fixture_read_array(json_object_get(arrays, "letterbox_rgb"), 1, &n);
		assert_int_equal(n, (size_t)lb.out_w * lb.out_h * 3);
		/* The input tensor is the pixels / 255, bit for bit. */
		float *chw = malloc(n * sizeof(float)), *want = fixture_read_array(json_object_get(arrays, "input"), 4, &n);
		assert_non_null(chw);
		mlf_yolo_hwc_to_chw(pix, lb.out_w, lb.out_h, chw);
		assert_memory_equal(chw, want, n * sizeof(float));
		free(chw);
		free(want);
		struct mlf_detections d;
		mlf_detections_init(&d);
		mlf_yolo_model_set_fused(m, 1);
		if (mlf_yolo_infer_letterboxed(m, pix, &lb, &o.nms, &d, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		match_detections(name, &d, json_object_get(arrays, "detections"));
		mlf_detections_release(&d);
		free(pix);
	}
	print_message("from the recorded letterboxed pixels: largest differences: boxes %.3g px, conf %.3g\n",
		      w_box.abs, w_conf.abs);
}

/* The whole path from the image file: decode, letterbox, forward, NMS, scale back. */
static void test_infer_image(void **state)
{
	(void)state;
	json_t *cases = json_object_get(manifest, "cases"), *c;
	size_t index, ncases = 0;
	w_box = (struct worst){ 0, 0 };
	w_conf = (struct worst){ 0, 0 };
	json_array_foreach(cases, index, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		struct mlf_yolo_model *m = model_for(json_string_value(json_object_get(c, "model_file")));
		struct mlf_infer_options o;
		struct mlf_error err = MLF_ERROR_INIT;
		options_of(c, &o);
		char path[512];
		snprintf(path, sizeof(path), FWD "%s", json_string_value(json_object_get(c, "image_file")));
		unsigned char *rgb;
		int w, h;
		if (mlf_image_load_rgb(path, &rgb, &w, &h, &err) < 0)
			fail_msg("%s: %s", path, err.msg);
		/* Our decoder gives the pixels cv2 gave (PNG exactly; JPEG with the same IDCT). */
		size_t n;
		unsigned char *orig = fixture_read_array(json_object_get(json_object_get(c, "arrays"), "original_rgb"), 1, &n);
		assert_int_equal(n, (size_t)w * h * 3);
		if (memcmp(orig, rgb, n))
			print_message("%s: decoded pixels differ from OpenCV's\n", path);
		free(orig);
		struct mlf_detections d;
		mlf_detections_init(&d);
		mlf_yolo_model_set_fused(m, 1);
		if (mlf_yolo_infer(m, rgb, w, h, &o, &d, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		match_detections(name, &d, json_object_get(json_object_get(c, "arrays"), "detections"));
		mlf_detections_release(&d);
		free(rgb);
		ncases++;
	}
	print_message("%zu cases from the image files; largest differences: boxes %.3g px, conf %.3g\n", ncases,
		      w_box.abs, w_conf.abs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_infer_letterboxed),
		cmocka_unit_test(test_infer_image),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
