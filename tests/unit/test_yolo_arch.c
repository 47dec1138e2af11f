/*
 * Architecture layer: the ten released models must have the published
 * parameter totals and exactly the state_dict (names, order, shapes) that
 * Ultralytics 8.4.190 builds (tests/fixtures/arch, from
 * scripts/make-arch-fixtures); an architecture built from a real checkpoint's
 * meta["yaml"] must name and shape every tensor of that checkpoint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mlf/ckpt.h"
#include "mlf/yolo.h"

#define ARCH SOURCE_DIR "/tests/fixtures/arch/"
#define CKPT SOURCE_DIR "/tests/fixtures/ckpt/"

/* Parameter totals printed in the comments of Ultralytics' yolov8.yaml and
 * yolo11.yaml, nc=80. */
static const struct { const char *family; char scale; int64_t params; } published[] = {
	{ "yolov8", 'n', 3157200 }, { "yolov8", 's', 11166560 }, { "yolov8", 'm', 25902640 },
	{ "yolov8", 'l', 43691520 }, { "yolov8", 'x', 68229648 }, { "yolo11", 'n', 2624080 },
	{ "yolo11", 's', 9458752 }, { "yolo11", 'm', 20114688 }, { "yolo11", 'l', 25372160 },
	{ "yolo11", 'x', 56966176 },
};

static void check_shape(const struct mlf_yolo_param *p, const json_t *shape)
{
	if (json_array_size(shape) != (size_t)p->ndim)
		fail_msg("%s: %d dims, expected %zu", p->name, p->ndim, json_array_size(shape));
	for (int d = 0; d < p->ndim; d++)
		if (json_integer_value(json_array_get(shape, (size_t)d)) != p->shape[d])
			fail_msg("%s: dim %d is %lld, expected %lld", p->name, d, (long long)p->shape[d],
				 (long long)json_integer_value(json_array_get(shape, (size_t)d)));
}

static void test_released_models(void **state)
{
	(void)state;
	for (size_t m = 0; m < sizeof(published) / sizeof(*published); m++) {
		struct mlf_yolo_arch a;
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_yolo_arch_builtin(&a, published[m].family, published[m].scale, 80, &err) < 0)
			fail_msg("%s%c: %s", published[m].family, published[m].scale, err.msg);
		assert_int_equal(mlf_yolo_arch_param_count(&a), published[m].params);

		char path[256];
		snprintf(path, sizeof(path), ARCH "%s%c.json", published[m].family, published[m].scale);
		json_error_t jerr;
		json_t *fix = json_load_file(path, 0, &jerr);
		if (!fix)
			fail_msg("%s: %s", path, jerr.text);
		assert_int_equal(json_integer_value(json_object_get(fix, "params")), published[m].params);
		assert_int_equal(json_integer_value(json_object_get(fix, "buffer_elements")),
				 mlf_yolo_arch_buffer_count(&a));
		json_t *tensors = json_object_get(fix, "tensors");
		assert_int_equal(json_array_size(tensors), a.nparams);
		size_t it = 0, i = 0;
		const struct mlf_yolo_param *p;
		while ((p = mlf_yolo_arch_next(&a, &it))) {
			json_t *t = json_array_get(tensors, i++);
			const char *name = json_string_value(json_array_get(t, 0));
			if (strcmp(p->name, name))
				fail_msg("%s tensor %zu: %s, expected %s", path, i - 1, p->name, name);
			check_shape(p, json_array_get(t, 1));
			assert_int_equal(p->is_buffer, json_is_true(json_array_get(t, 2)));
		}
		json_decref(fix);
		mlf_yolo_arch_release(&a);
	}
}

static void check_checkpoint(const char *file)
{
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_ckpt_init(&c);
	if (mlf_ckpt_read_pt(file, &c, &err) < 0)
		fail_msg("%s", err.msg);
	struct mlf_yolo_arch a;
	if (mlf_yolo_arch_from_yaml(&a, json_object_get(c.meta, "yaml"), &err) < 0)
		fail_msg("%s: %s", file, err.msg);
	assert_int_equal(a.nparams, c.ntensors);
	for (size_t i = 0; i < c.ntensors; i++) {
		const struct mlf_yolo_param *p = &a.params[i];
		const struct mlf_tensor *t = &c.tensors[i];
		if (strcmp(p->name, t->name))
			fail_msg("%s tensor %zu: %s, expected %s", file, i, p->name, t->name);
		assert_int_equal(p->ndim, t->ndim);
		for (int d = 0; d < t->ndim; d++)
			assert_int_equal(p->shape[d], t->shape[d]);
		assert_int_equal(p->numel, mlf_tensor_numel(t));
	}
	/* The stride Ultralytics measured by a forward pass is what the layers give. */
	const struct mlf_yolo_layer *det = &a.layers[a.nlayers - 1];
	json_t *stride = json_object_get(c.meta, "stride");
	assert_int_equal(det->nin, json_array_size(stride));
	for (int i = 0; i < det->nin; i++)
		assert_true(det->strides[i] == json_number_value(json_array_get(stride, (size_t)i)));
	mlf_yolo_arch_release(&a);
	mlf_ckpt_release(&c);
}

static void test_checkpoint_v8(void **state)
{
	(void)state;
	check_checkpoint(CKPT "yolov8-tiny-train.pt");
}

static void test_checkpoint_11(void **state)
{
	(void)state;
	check_checkpoint(CKPT "yolo11-tiny-final.pt");
}

/* Output channels and repeats per layer as parse_model resolves them for
 * yolov8n and yolo11x (the rules of lib/yolo/yolo_arch.c). */
static void test_layers(void **state)
{
	(void)state;
	static const int v8n[] = { 16, 32, 32, 64, 64, 128, 128, 256, 256, 256, 256, 384,
				   128, 128, 192, 64, 64, 192, 128, 128, 384, 256, 64 };
	static const int y11x[] = { 96, 192, 384, 384, 768, 768, 768, 768, 768, 768, 768, 768,
				    1536, 768, 768, 1536, 384, 384, 1152, 768, 768, 1536, 768, 384 };
	struct mlf_yolo_arch a;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_yolo_arch_builtin(&a, "yolov8", 'n', 80, &err), 0);
	assert_int_equal(mlf_yolo_arch_nlayers(&a), 23);
	for (size_t i = 0; i < 22; i++)
		assert_int_equal(mlf_yolo_arch_out_channels(&a, i), v8n[i]);
	assert_int_equal(a.layers[2].repeats, 1);
	assert_int_equal(a.layers[4].repeats, 2);
	assert_int_equal(a.layers[22].type, MLF_YOLO_DETECT);
	assert_true(a.layers[22].legacy);
	assert_int_equal(a.layers[22].ch[2], 256);
	assert_true(a.layers[22].strides[0] == 8 && a.layers[22].strides[2] == 32);
	assert_non_null(mlf_yolo_arch_find(&a, "model.22.dfl.conv.weight"));
	assert_false(mlf_yolo_arch_find(&a, "model.22.dfl.conv.weight")->requires_grad);
	mlf_yolo_arch_release(&a);

	assert_int_equal(mlf_yolo_arch_builtin(&a, "yolo11", 'x', 80, &err), 0);
	assert_int_equal(mlf_yolo_arch_nlayers(&a), 24);
	for (size_t i = 0; i < 23; i++)
		assert_int_equal(mlf_yolo_arch_out_channels(&a, i), y11x[i]);
	assert_int_equal(a.layers[2].repeats, 2);
	assert_true(a.layers[2].c3k); /* forced for m/l/x */
	assert_int_equal(a.layers[10].heads, 6);
	assert_false(a.layers[23].legacy);
	mlf_yolo_arch_release(&a);

	/* c3 follows nc for the n models: nc=2 -> 64-channel cls branch. */
	assert_int_equal(mlf_yolo_arch_builtin(&a, "yolov8", 'n', 2, &err), 0);
	assert_int_equal(mlf_yolo_arch_find(&a, "model.22.cv3.0.0.conv.weight")->shape[0], 64);
	assert_int_equal(mlf_yolo_arch_find(&a, "model.22.cv3.2.2.weight")->shape[0], 2);
	mlf_yolo_arch_release(&a);
}

static void expect_error(const char *yaml_text, const char *needle)
{
	json_error_t jerr;
	json_t *y = json_loads(yaml_text, 0, &jerr);
	assert_non_null(y);
	struct mlf_yolo_arch a;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_yolo_arch_from_yaml(&a, y, &err), -1);
	assert_int_equal(err.status, 65);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' lacks '%s'", err.msg, needle);
	assert_int_equal(a.nparams, 0);
	json_decref(y);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("{\"nc\": 3, \"backbone\": [[-1, 1, \"Conv\", [16, 3, 2]], [-1, 1, \"Foo\", [1]]], \"head\": []}",
		     "layer 1: unknown module 'Foo'");
	expect_error("{\"nc\": 3, \"backbone\": [[-1, 1, \"Conv\"]], \"head\": []}",
		     "layer 0: expected [from, repeats, module, [args]]");
	expect_error("{\"nc\": 3, \"backbone\": [[-1, 1, \"Conv\", [16, 3, 2]]], \"head\": [[[-1, 5], 1, \"Concat\", [1]]]}",
		     "layer 1: 'from' 5 is not an earlier layer");
	expect_error("{\"nc\": 3, \"backbone\": [[-1, 1, \"Conv\", [\"x\", 3]]], \"head\": []}",
		     "layer 0 (Conv)");
	expect_error("{\"nc\": 3, \"backbone\": [[-1, 1, \"Conv\", [16, 3]]], \"head\": [[-1, 1, \"Detect\", [\"nc\"]]]}",
		     "layer 1 (Detect)");
	expect_error("{\"backbone\": [[-1, 1, \"Conv\", [16, 3]]], \"head\": []}", "'nc'");
	struct mlf_yolo_arch a;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_yolo_arch_builtin(&a, "yolov5", 'n', 80, &err), -1);
	assert_int_equal(err.status, 65);
	assert_int_equal(mlf_yolo_arch_builtin(&a, "yolo11", 'q', 80, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_released_models),
		cmocka_unit_test(test_checkpoint_v8),
		cmocka_unit_test(test_checkpoint_11),
		cmocka_unit_test(test_layers),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
