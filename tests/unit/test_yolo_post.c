/*
 * Post-processing: NMS must keep exactly the detections Ultralytics 8.4.190
 * keeps with torchvision's NMS (same count, and in the same order the same
 * anchors and classes; boxes and scores within 1e-4 relative) for the
 * synthetic predictions in tests/fixtures/nms (scripts/make-nms-fixtures),
 * which include exact score ties deciding which overlapping box survives,
 * IoUs exactly at a threshold, NaN scores and box coordinates, and max_nms
 * cuts inside groups of ties; letterbox geometry and scale_boxes must match
 * LetterBox and ops.scale_boxes.
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

#include "mlf/yolo.h"

#define NMS SOURCE_DIR "/tests/fixtures/nms/"

static json_t *load_json(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j)
		fail_msg("%s: %s", path, je.text);
	return j;
}

static float *load_bin(const char *name, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), NMS "%s", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	float *p = malloc(n * sizeof(*p));
	assert_non_null(p);
	assert_int_equal(fread(p, sizeof(*p), n, f), n);
	fclose(f);
	return p;
}

static int close_enough(double a, double b)
{
	return fabs(a - b) <= 1e-4 * fmax(1.0, fabs(b));
}

static void test_fixtures(void **state)
{
	(void)state;
	json_t *root = load_json(NMS "cases.json");
	json_t *cases = json_object_get(root, "cases");
	assert_true(json_array_size(cases) >= 16);
	assert_string_equal(json_string_value(json_object_get(root, "nms")), "torchvision.ops.nms");
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		int nc = (int)json_integer_value(json_object_get(c, "nc"));
		int na = (int)json_integer_value(json_object_get(c, "anchors"));
		json_t *jo = json_object_get(c, "options"), *want = json_object_get(c, "detections");
		float *pred = load_bin(json_string_value(json_object_get(c, "input")), (size_t)(4 + nc) * na);
		struct mlf_nms_options o = {
			.conf = (float)json_real_value(json_object_get(jo, "conf")),
			.iou = json_number_value(json_object_get(jo, "iou")),
			.max_det = (int)json_integer_value(json_object_get(jo, "max_det")),
			.max_nms = (int)json_integer_value(json_object_get(jo, "max_nms")),
			.agnostic = json_is_true(json_object_get(jo, "agnostic")),
			.multi_label = json_is_true(json_object_get(jo, "multi_label")),
		};
		struct mlf_detections d;
		struct mlf_error err = MLF_ERROR_INIT;
		mlf_detections_init(&d);
		if (mlf_yolo_nms(pred, nc, na, &o, &d, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		if (d.n != json_array_size(want))
			fail_msg("%s: %zu detections, Ultralytics has %zu", name, d.n, json_array_size(want));
		for (size_t k = 0; k < d.n; k++) {
			json_t *w = json_array_get(want, k);
			const struct mlf_detection *g = &d.det[k];
			double got[5] = { g->x1, g->y1, g->x2, g->y2, g->score };
			if (g->cls != json_integer_value(json_array_get(w, 5)) ||
			    g->anchor != json_integer_value(json_array_get(w, 6)))
				fail_msg("%s #%zu: class %d anchor %d, Ultralytics class %lld anchor %lld", name, k,
					 g->cls, g->anchor, (long long)json_integer_value(json_array_get(w, 5)),
					 (long long)json_integer_value(json_array_get(w, 6)));
			for (int v = 0; v < 5; v++) {
				json_t *wv = json_array_get(w, (size_t)v);
				if (json_is_null(wv) ? !isnan(got[v]) : !close_enough(got[v], json_number_value(wv)))
					fail_msg("%s #%zu value %d: %g, Ultralytics %g", name, k, v, got[v],
						 json_is_null(wv) ? NAN : json_number_value(wv));
			}
		}
		mlf_detections_release(&d);
		free(pred);
	}
	json_decref(root);
}

static void check_boxes(const char *what, float *got, json_t *want, size_t n)
{
	for (size_t k = 0; k < n; k++)
		for (size_t v = 0; v < 4; v++) {
			double w = json_real_value(json_array_get(json_array_get(want, k), v));
			if (!close_enough(got[4 * k + v], w))
				fail_msg("%s box %zu[%zu]: %g, Ultralytics %g", what, k, v, (double)got[4 * k + v], w);
		}
}

static void test_letterbox(void **state)
{
	(void)state;
	json_t *root = load_json(NMS "letterbox.json");
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(root, "cases"), i, c) {
#define GETI(k) ((int)json_integer_value(json_object_get(c, k)))
		int w0 = GETI("w0"), h0 = GETI("h0");
		struct mlf_letterbox lb;
		char what[128];
		snprintf(what, sizeof(what), "%dx%d auto %d scaleup %d", w0, h0,
			 json_is_true(json_object_get(c, "auto")), json_is_true(json_object_get(c, "scaleup")));
		assert_int_equal(mlf_letterbox_params(w0, h0, GETI("target"), GETI("stride"),
						      json_is_true(json_object_get(c, "auto")),
						      json_is_true(json_object_get(c, "scaleup")), &lb), 0);
		if (!close_enough(lb.ratio, json_real_value(json_object_get(c, "ratio"))) ||
		    lb.new_w != GETI("new_w") || lb.new_h != GETI("new_h") || lb.left != GETI("left") ||
		    lb.top != GETI("top") || lb.right != GETI("right") || lb.bottom != GETI("bottom"))
			fail_msg("%s: ratio %g new %dx%d pad l%d t%d r%d b%d, Ultralytics %g %dx%d l%d t%d r%d b%d",
				 what, lb.ratio, lb.new_w, lb.new_h, lb.left, lb.top, lb.right, lb.bottom,
				 json_number_value(json_object_get(c, "ratio")), GETI("new_w"), GETI("new_h"),
				 GETI("left"), GETI("top"), GETI("right"), GETI("bottom"));
		json_t *in = json_object_get(c, "boxes_in");
		size_t n = json_array_size(in);
		float *b = calloc(4 * n, sizeof(*b)), *b2 = calloc(4 * n, sizeof(*b2));
		assert_true(b && b2);
		for (size_t k = 0; k < n; k++)
			for (size_t v = 0; v < 4; v++)
				b[4 * k + v] = (float)json_real_value(json_array_get(json_array_get(in, k), v));
		memcpy(b2, b, 4 * n * sizeof(*b));
		mlf_scale_boxes_back(&lb, b, n);
		check_boxes(what, b, json_object_get(c, "boxes_out_ratio_pad"), n);
		if (json_is_array(json_object_get(c, "boxes_out"))) {
			mlf_scale_boxes_back(&lb, b2, n);
			check_boxes(what, b2, json_object_get(c, "boxes_out"), n);
		}
		free(b);
		free(b2);
#undef GETI
	}
	json_decref(root);
}

/* A tiny prediction: columns are anchors; set one box and its scores. */
enum { TNC = 2, TNA = 6 };

static void put(float *p, int a, float cx, float cy, float w, float h, float s0, float s1)
{
	float v[6] = { cx, cy, w, h, s0, s1 };
	for (int r = 0; r < 6; r++)
		p[r * TNA + a] = v[r];
}

static size_t run(const float *p, const struct mlf_nms_options *o, struct mlf_detections *d)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_yolo_nms(p, TNC, TNA, o, d, &err) < 0)
		fail_msg("%s", err.msg);
	return d->n;
}

static void test_edges(void **state)
{
	(void)state;
	float p[6 * TNA] = { 0 };
	struct mlf_nms_options o;
	struct mlf_detections d;
	mlf_nms_options_predict(&o);
	mlf_detections_init(&d);

	/* nothing at all, then everything below conf (conf itself is not above it) */
	assert_int_equal(run(p, &o, &d), 0);
	for (int a = 0; a < TNA; a++)
		put(p, a, 50, 50, 10, 10, 0.25f, 0.1f);
	assert_int_equal(run(p, &o, &d), 0);

	/* two overlapping boxes of different classes: class-aware keeps both, agnostic one */
	put(p, 0, 50, 50, 20, 20, 0.9f, 0.0f);
	put(p, 1, 51, 50, 20, 20, 0.0f, 0.8f);
	assert_int_equal(run(p, &o, &d), 2);
	assert_true(d.det[0].score == 0.9f && d.det[0].cls == 0 && d.det[1].cls == 1);
	assert_true(d.det[0].x1 == 40 && d.det[0].y1 == 40 && d.det[0].x2 == 60 && d.det[0].y2 == 60);
	o.agnostic = 1;
	assert_int_equal(run(p, &o, &d), 1);
	o.agnostic = 0;

	/* same class overlapping: suppressed; far apart: kept; max_det cuts the lower score */
	put(p, 1, 51, 50, 20, 20, 0.8f, 0.0f);
	put(p, 2, 150, 150, 20, 20, 0.7f, 0.0f);
	assert_int_equal(run(p, &o, &d), 2);
	o.max_det = 1;
	assert_int_equal(run(p, &o, &d), 1);
	assert_int_equal(d.det[0].anchor, 0);
	o.max_det = 300;

	/* a NaN score removes that box, whatever its other score */
	put(p, 0, 50, 50, 20, 20, NAN, 0.95f);
	assert_int_equal(run(p, &o, &d), 2);
	assert_int_equal(d.det[0].anchor, 1);

	/* multi-label: one box, two classes above conf, two detections */
	mlf_nms_options_val(&o);
	for (int a = 0; a < TNA; a++)
		put(p, a, 50, 50, 10, 10, 0, 0);
	put(p, 3, 50, 50, 10, 10, 0.6f, 0.5f);
	assert_int_equal(run(p, &o, &d), 2);
	assert_true(d.det[0].cls == 0 && d.det[1].cls == 1 && d.det[1].score == 0.5f);
	o.multi_label = 0;
	assert_int_equal(run(p, &o, &d), 1);

	/* max_nms keeps only the best boxes for suppression */
	o.max_nms = 1;
	put(p, 4, 300, 300, 10, 10, 0.7f, 0);
	assert_int_equal(run(p, &o, &d), 1);
	assert_int_equal(d.det[0].anchor, 4);
	mlf_detections_release(&d);
}

/*
 * torchvision's stable sort: equal scores keep anchor order, also past the
 * 16 elements below which an introsort would be an insertion sort too, so
 * of identical boxes with one score the first anchor survives; IoU is
 * compared with the threshold in double.
 */
enum { BNA = 40 };

static void test_ties_and_threshold(void **state)
{
	(void)state;
	static float p[5 * BNA];
	struct mlf_nms_options o;
	struct mlf_detections d;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_nms_options_predict(&o);
	mlf_detections_init(&d);
	for (int a = 0; a < BNA; a++) {
		p[a] = 10.0f + 20 * (float)((a * 7) % BNA); /* disjoint, not in anchor order */
		p[BNA + a] = 10;
		p[2 * BNA + a] = p[3 * BNA + a] = 8;
		p[4 * BNA + a] = a % 3 ? 0.5f : 0.75f;
	}
	assert_int_equal(mlf_yolo_nms(p, 1, BNA, &o, &d, &err), 0);
	assert_int_equal(d.n, BNA);
	for (size_t k = 1; k < d.n; k++)
		assert_true(d.det[k - 1].score > d.det[k].score ||
			    (d.det[k - 1].score == d.det[k].score && d.det[k - 1].anchor < d.det[k].anchor));
	for (int a = 0; a < BNA; a++) {
		p[a] = 10;
		p[4 * BNA + a] = 0.5f;
	}
	assert_int_equal(mlf_yolo_nms(p, 1, BNA, &o, &d, &err), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.det[0].anchor, 0);

	/* [0,4] and [1,5], height 8: IoU 24/40, float32(0.6) > 0.6 in double: suppressed */
	for (int a = 0; a < BNA; a++)
		p[4 * BNA + a] = 0;
	p[0] = 2;
	p[1] = 3;
	p[2 * BNA] = p[2 * BNA + 1] = 4;
	p[4 * BNA] = 0.9f;
	p[4 * BNA + 1] = 0.8f;
	o.iou = 0.6;
	assert_int_equal(mlf_yolo_nms(p, 1, BNA, &o, &d, &err), 0);
	assert_int_equal(d.n, 1);
	o.iou = 0.600001;
	assert_int_equal(mlf_yolo_nms(p, 1, BNA, &o, &d, &err), 0);
	assert_int_equal(d.n, 2);
	mlf_detections_release(&d);
}

static void test_invalid(void **state)
{
	(void)state;
	float p[6 * TNA] = { 0 };
	struct mlf_nms_options o;
	struct mlf_detections d;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_detections_init(&d);
	mlf_nms_options_predict(&o);
	o.conf = 1.5f;
	assert_int_equal(mlf_yolo_nms(p, TNC, TNA, &o, &d, &err), -1);
	assert_int_equal(err.status, 64);
	assert_non_null(strstr(err.msg, "confidence"));
	mlf_nms_options_predict(&o);
	o.iou = NAN;
	assert_int_equal(mlf_yolo_nms(p, TNC, TNA, &o, &d, &err), -1);
	assert_int_equal(err.status, 64);
	mlf_nms_options_predict(&o);
	assert_int_equal(mlf_yolo_nms(p, 0, TNA, &o, &d, &err), -1);
	assert_int_equal(err.status, 64);
	assert_int_equal(mlf_yolo_nms(NULL, TNC, TNA, &o, &d, &err), -1);
	assert_int_equal(err.status, 64);
	o.max_det = -1;
	assert_int_equal(mlf_yolo_nms(p, TNC, TNA, &o, &d, &err), -1);
	assert_true(err.msg[0] != 0);

	struct mlf_letterbox lb;
	assert_int_equal(mlf_letterbox_params(0, 10, 640, 32, 1, 1, &lb), -1);
	assert_int_equal(mlf_letterbox_params(10, 10, 640, 0, 1, 1, &lb), -1);
	mlf_detections_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_letterbox),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_ties_and_threshold),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
