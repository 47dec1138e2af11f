/*
 * The training recipe (mlf/torch/train.h) against Ultralytics 8.4.190
 * (tests/fixtures/recipe/cases.json, from scripts/make-recipe-fixtures):
 * optimizer choice, lr, accumulation, weight decay, warmup length and
 * parameter groups by name; a short data-free training with fixed gradients
 * (per-iteration lr and momentum within 1e-12, the step pattern exact, final
 * weights and EMA within 1e-5 relative); args.yaml byte-equal to the
 * trainer's; override errors.
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
#include "mlf/torch/train.h"
#include "mlf/torch/model.h"

#define FIX SOURCE_DIR "/tests/fixtures/recipe/cases.json"
#define CKPT SOURCE_DIR "/tests/fixtures/ckpt/yolov8-tiny-train.pt"

static json_t *cases;

static int setup(void **state)
{
	(void)state;
	json_error_t je;
	cases = json_load_file(FIX, 0, &je);
	if (!cases)
		fail_msg("%s: %s", FIX, je.text);
	mlf_th_set_threads(1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(cases);
	return 0;
}

static void load_model(struct mlf_yolo_model *m)
{
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_ckpt c;
	mlf_ckpt_init(&c);
	if (mlf_ckpt_read_pt(CKPT, &c, &err) < 0)
		fail_msg("%s", err.msg);
	mlf_yolo_model_init(m);
	if (mlf_yolo_model_from_ckpt(m, &c, MLF_TH_CPU, &err) < 0)
		fail_msg("%s", err.msg);
	mlf_ckpt_release(&c);
}

/* args from a fixture input (n and nc are not settings) */
static void args_of(const json_t *input, struct mlf_train_args *a)
{
	struct mlf_error err = MLF_ERROR_INIT;
	json_t *o = json_deep_copy(input);
	json_object_del(o, "n");
	json_object_del(o, "nc");
	json_object_del(o, "name");
	mlf_train_args_default(a);
	if (mlf_train_args_override(a, o, &err) < 0)
		fail_msg("%s", err.msg);
	json_decref(o);
}

static int group_of_tag(const char *tag)
{
	if (strcmp(tag, "weight") == 0)
		return MLF_GROUP_WEIGHT;
	if (strcmp(tag, "bn") == 0)
		return MLF_GROUP_BN;
	if (strcmp(tag, "bias") == 0)
		return MLF_GROUP_BIAS;
	fail_msg("unknown group tag %s", tag);
	return -1;
}

static void test_plans(void **state)
{
	(void)state;
	struct mlf_yolo_model m;
	load_model(&m);
	json_t *plans = json_object_get(cases, "plans");
	size_t pi;
	json_t *pl;
	json_array_foreach(plans, pi, pl) {
		const json_t *in = json_object_get(pl, "input");
		struct mlf_train_args a;
		args_of(in, &a);
		struct mlf_recipe_plan p;
		struct mlf_error err = MLF_ERROR_INIT;
		int rc = mlf_recipe_plan(&a, json_integer_value(json_object_get(in, "n")),
					 (int)json_integer_value(json_object_get(in, "nc")),
					 json_integer_value(json_object_get(pl, "nb")), &p, &err);
		const char *opt = json_string_value(json_object_get(pl, "optimizer"));
		if (strcmp(opt, "MuSGD") == 0) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(err.msg, "MuSGD"));
			continue;
		}
		if (rc < 0)
			fail_msg("plan %zu: %s", pi, err.msg);
		assert_string_equal(p.optimizer, opt);
		if (strcmp(a.optimizer, "auto") == 0) /* auto rewrites args.optimizer */
			assert_string_equal(p.optimizer, json_string_value(json_object_get(pl, "args_optimizer")));
		assert_true(p.lr == json_number_value(json_object_get(pl, "lr")));
		assert_true(p.momentum == json_number_value(json_object_get(pl, "momentum")));
		assert_true(p.warmup_bias_lr == json_number_value(json_object_get(pl, "warmup_bias_lr")));
		assert_true(p.weight_decay == json_number_value(json_object_get(pl, "weight_decay")));
		assert_int_equal(p.accumulate, json_integer_value(json_object_get(pl, "accumulate")));
		assert_int_equal(p.nw, json_integer_value(json_object_get(pl, "nw")));
		assert_int_equal(p.iterations, json_integer_value(json_object_get(pl, "iterations")));

		/* groups by name, in 8.4.190's order weight, bn, bias */
		size_t gi, total = 0;
		json_t *g;
		json_array_foreach(json_object_get(pl, "groups"), gi, g) {
			int want = group_of_tag(json_string_value(json_object_get(g, "tag")));
			assert_int_equal((int)gi, want);
			double wd = json_number_value(json_object_get(g, "weight_decay"));
			assert_true(wd == (want == MLF_GROUP_WEIGHT ? p.weight_decay : 0.0));
			size_t ni;
			json_t *nm;
			json_array_foreach(json_object_get(g, "names"), ni, nm) {
				const char *name = json_string_value(nm);
				size_t k;
				for (k = 0; k < m.arch.nparams; k++)
					if (strcmp(m.arch.params[k].name, name) == 0)
						break;
				if (k == m.arch.nparams)
					fail_msg("%s is not in the model", name);
				if (mlf_recipe_group_of(&m.arch, k) != want)
					fail_msg("%s: group %d, Ultralytics %d", name,
						 mlf_recipe_group_of(&m.arch, k), want);
				total++;
			}
		}
		size_t mine = 0;
		for (size_t k = 0; k < m.arch.nparams; k++)
			mine += mlf_recipe_group_of(&m.arch, k) >= 0;
		assert_int_equal(mine, total);
	}
	mlf_yolo_model_release(&m);
}

/* the fixture's gradient for state_dict entry k at iteration ni */
static mlf_th *grad_of(size_t k, int64_t ni, const mlf_th *p)
{
	int64_t numel = mlf_th_numel(p), shape[MLF_TH_MAX_DIMS];
	int nd = mlf_th_shape(p, shape, MLF_TH_MAX_DIMS);
	float *g = malloc((size_t)numel * sizeof(float) + 1);
	assert_non_null(g);
	for (int64_t j = 0; j < numel; j++) {
		uint64_t h = ((uint64_t)j * 2654435761u + (uint64_t)(ni * 40503 + (int64_t)k * 97 + 12345)) &
			     0xFFFFFFFFu;
		h ^= h >> 15;
		h = (h * 2246822519u) & 0xFFFFFFFFu;
		h ^= h >> 13;
		g[j] = (float)(((double)(h % 2001) - 1000) / 1000 * 0.05);
	}
	mlf_th *t = mlf_th_from_data(g, MLF_DTYPE_F32, nd, shape, MLF_TH_CPU);
	free(g);
	return t;
}

static void fixed_backward(struct mlf_yolo_model *m, int64_t ni)
{
	size_t mark = mlf_th_scope_open();
	mlf_th *loss = NULL;
	for (size_t k = 0; k < m->ntensors; k++) {
		if (mlf_th_requires_grad(m->tensors[k]) != 1)
			continue;
		mlf_th *s = mlf_th_reduce(MLF_TH_SUM, mlf_th_binary(MLF_TH_MUL, m->tensors[k],
								     grad_of(k, ni, m->tensors[k])),
					  MLF_TH_ALL_DIMS, 0);
		loss = loss ? mlf_th_binary(MLF_TH_ADD, loss, s) : s;
	}
	if (!loss || mlf_th_backward(loss) < 0)
		fail_msg("backward: %s", mlf_th_error());
	mlf_th_scope_close(mark);
}

static double abs_sum(const mlf_th *t)
{
	size_t mark = mlf_th_scope_open();
	double v = mlf_th_item(mlf_th_reduce(MLF_TH_SUM, mlf_th_unary(MLF_TH_ABS,
				mlf_th_to(t, MLF_DTYPE_F64, MLF_TH_CPU)), MLF_TH_ALL_DIMS, 0));
	mlf_th_scope_close(mark);
	return v;
}

static void close_rel(const char *what, const char *name, double got, double want, double *worst)
{
	double d = fabs(got - want) / fmax(fabs(want), 1e-3);
	if (d > *worst)
		*worst = d;
	if (d > 1e-5)
		fail_msg("%s %s: %.9g, Ultralytics %.9g", what, name, got, want);
}

static void test_sims(void **state)
{
	(void)state;
	json_t *sims = json_object_get(cases, "sims");
	size_t si;
	json_t *sim;
	json_array_foreach(sims, si, sim) {
		size_t live = mlf_th_live_handles();
		struct mlf_yolo_model m;
		load_model(&m);
		mlf_yolo_model_train(&m, 1);
		const json_t *in = json_object_get(sim, "input");
		struct mlf_train_args a;
		args_of(in, &a);
		struct mlf_recipe_plan p;
		struct mlf_error err = MLF_ERROR_INIT;
		int64_t nb = json_integer_value(json_object_get(sim, "nb"));
		if (mlf_recipe_plan(&a, json_integer_value(json_object_get(in, "n")),
				    (int)json_integer_value(json_object_get(in, "nc")), nb, &p, &err) < 0)
			fail_msg("%s", err.msg);
		assert_int_equal(p.nw, json_integer_value(json_object_get(sim, "nw")));
		assert_int_equal(p.accumulate, json_integer_value(json_object_get(sim, "accumulate")));
		struct mlf_train_recipe r;
		if (mlf_recipe_init(&r, &m, &p, &err) < 0)
			fail_msg("%s", err.msg);
		const json_t *its = json_object_get(sim, "iterations");
		double worst_lr = 0;
		for (int epoch = 0; epoch < a.epochs; epoch++) {
			assert_int_equal(mlf_recipe_epoch_start(&r, epoch, &err), 0);
			for (int64_t i = 0; i < nb; i++) {
				int64_t ni = i + nb * epoch;
				const json_t *it = json_array_get(its, (size_t)ni);
				assert_non_null(it);
				assert_int_equal(mlf_recipe_batch_start(&r, epoch, i, &err), 0);
				assert_int_equal(r.accumulate, json_integer_value(json_object_get(it, "accumulate")));
				for (int g = 0; g < MLF_NGROUPS; g++) {
					double lr = json_number_value(json_array_get(json_object_get(it, "lr"), (size_t)g));
					double mo = json_number_value(json_array_get(json_object_get(it, "momentum"), (size_t)g));
					double d = fabs(mlf_recipe_lr(&r, g) - lr);
					worst_lr = fmax(worst_lr, d);
					if (d > 1e-12 || fabs(mlf_recipe_momentum(&r, g) - mo) > 1e-12)
						fail_msg("sim %zu ni %lld group %d: lr %.17g momentum %.17g, "
							 "Ultralytics %.17g %.17g", si, (long long)ni, g,
							 mlf_recipe_lr(&r, g), mlf_recipe_momentum(&r, g), lr, mo);
				}
				fixed_backward(&m, ni);
				int stepped;
				if (mlf_recipe_batch_end(&r, epoch, i, &stepped, &err) < 0)
					fail_msg("%s", err.msg);
				assert_int_equal(stepped, json_is_true(json_object_get(it, "stepped")));
			}
		}
		assert_int_equal(r.ema.updates, json_integer_value(json_object_get(sim, "ema_updates")));

		double worst = 0;
		const char *name;
		json_t *v;
		json_object_foreach(json_object_get(sim, "absum"), name, v) {
			mlf_th *t = mlf_yolo_model_tensor(&m, name);
			assert_non_null(t);
			size_t k;
			for (k = 0; k < m.ntensors && m.tensors[k] != t; k++)
				;
			close_rel("model", name, abs_sum(t), json_number_value(json_array_get(v, 0)), &worst);
			close_rel("EMA", name, abs_sum(r.ema.tensors[k]), json_number_value(json_array_get(v, 1)),
				  &worst);
		}
		/* element samples, then the EMA applied to the model */
		struct mlf_yolo_model e;
		load_model(&e);
		if (mlf_ema_apply(&r.ema, &e, &err) < 0)
			fail_msg("%s", err.msg);
		json_object_foreach(json_object_get(sim, "samples"), name, v) {
			const json_t *idx = json_object_get(v, "index");
			for (int which = 0; which < 2; which++) {
				mlf_th *t = mlf_yolo_model_tensor(which ? &e : &m, name);
				int64_t n = mlf_th_numel(t);
				float *buf = malloc((size_t)n * sizeof(float));
				assert_non_null(buf);
				assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_F32, buf, (size_t)n * sizeof(float)), 0);
				const json_t *want = json_object_get(v, which ? "ema" : "model");
				for (size_t j = 0; j < json_array_size(idx); j++)
					close_rel(which ? "EMA" : "model", name,
						  buf[json_integer_value(json_array_get(idx, j))],
						  json_number_value(json_array_get(want, j)), &worst);
				free(buf);
			}
		}
		printf("sim %s: worst lr difference %.3g, worst weight/EMA relative difference %.3g\n",
		       json_string_value(json_object_get(in, "name")), worst_lr, worst);
		mlf_yolo_model_release(&e);
		mlf_recipe_release(&r);
		mlf_yolo_model_release(&m);
		assert_int_equal(mlf_th_live_handles(), live);
	}
}

static void test_args_yaml(void **state)
{
	(void)state;
	struct mlf_train_args a;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_train_args_default(&a);
	assert_int_equal(a.epochs, 100);
	assert_int_equal(a.batch, 16);
	assert_int_equal(a.nbs, 64);
	assert_true(a.lr0 == 0.01 && a.lrf == 0.01 && a.momentum == 0.937 && a.weight_decay == 0.0005);
	assert_true(a.warmup_epochs == 3.0 && a.warmup_momentum == 0.8 && a.warmup_bias_lr == 0.1);
	assert_true(a.box == 7.5 && a.cls == 0.5 && a.dfl == 1.5);
	assert_string_equal(a.optimizer, "auto");
	assert_true(a.amp && !a.cos_lr && a.close_mosaic == 10 && a.mosaic == 1.0 && a.fliplr == 0.5);
	assert_true(isnan(a.time) && isnan(a.conf) && a.freeze == MLF_ARG_NULL_INT);

	if (mlf_train_args_override(&a, json_object_get(cases, "args_overrides"), &err) < 0)
		fail_msg("%s", err.msg);
	snprintf(a.save_dir, sizeof(a.save_dir), "runs/train/retrain_v3");
	struct mlf_buf b;
	mlf_buf_init(&b);
	assert_int_equal(mlf_train_args_yaml(&a, &b, &err), 0);
	mlf_buf_addc(&b, '\0');
	assert_string_equal(b.data, json_string_value(json_object_get(cases, "args_yaml")));
	mlf_buf_release(&b);

	/* defaults only: every key of default.yaml, in order */
	mlf_train_args_default(&a);
	mlf_buf_init(&b);
	assert_int_equal(mlf_train_args_yaml(&a, &b, &err), 0);
	mlf_buf_addc(&b, '\0');
	assert_non_null(strstr(b.data, "task: detect\nmode: train\nmodel: null\ndata: null\nepochs: 100\n"));
	assert_non_null(strstr(b.data, "\nlr0: 0.01\nlrf: 0.01\nmomentum: 0.937\nweight_decay: 0.0005\n"
				       "warmup_epochs: 3.0\n"));
	assert_non_null(strstr(b.data, "\ntracker: tracktrack.yaml\n"));
	assert_null(strstr(b.data, "save_dir"));
	mlf_buf_release(&b);
}

static void expect_override_error(const char *text, const char *needle)
{
	struct mlf_train_args a;
	struct mlf_error err = MLF_ERROR_INIT;
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	mlf_train_args_default(&a);
	assert_int_equal(mlf_train_args_override(&a, o, &err), -1);
	assert_int_equal(err.status, 64);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' does not name %s", err.msg, needle);
	json_decref(o);
}

static void test_override_errors(void **state)
{
	(void)state;
	expect_override_error("{\"epochs\": 3, \"lr_0\": 0.1}", "'lr_0'");
	expect_override_error("{\"tracker\": \"x.yaml\"}", "'tracker'");
	expect_override_error("{\"epochs\": \"3\"}", "'epochs'");
	expect_override_error("{\"amp\": 1}", "'amp'");
	expect_override_error("{\"lr0\": null}", "'lr0'");
	expect_override_error("[1]", "object");

	struct mlf_train_args a;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_recipe_plan p;
	mlf_train_args_default(&a);
	snprintf(a.optimizer, sizeof(a.optimizer), "RMSprop");
	assert_int_equal(mlf_recipe_plan(&a, 100, 3, 7, &p, &err), -1);
	assert_non_null(strstr(err.msg, "RMSprop"));
	snprintf(a.optimizer, sizeof(a.optimizer), "Lion");
	assert_int_equal(mlf_recipe_plan(&a, 100, 3, 7, &p, &err), -1);
	assert_non_null(strstr(err.msg, "Lion"));
}

static void test_rounding(void **state)
{
	(void)state;
	assert_true(mlf_py_round(2.5) == 2 && mlf_py_round(3.5) == 4 && mlf_py_round(0.5) == 0);
	assert_true(mlf_py_round6(0.002 * 5 / (4 + 80)) == 0.000119);
	assert_true(mlf_py_round6(0.002 * 5 / (4 + 3)) == 0.001429);
	assert_true(mlf_py_round6(0.002 * 5 / (4 + 1)) == 0.002);
}

/* The loss scaler: a scaled backward steps as the plain one (the scale is a
 * power of two, so unscaling is exact), an overflow skips the step and
 * halves the scale, 2000 clean steps double it. */
static void scaled_backward(struct mlf_yolo_model *m, int64_t ni, double scale, int poison)
{
	size_t mark = mlf_th_scope_open();
	mlf_th *loss = NULL;
	for (size_t k = 0; k < m->ntensors; k++) {
		if (mlf_th_requires_grad(m->tensors[k]) != 1)
			continue;
		mlf_th *g = grad_of(k, ni, m->tensors[k]);
		if (poison && !loss)
			g = mlf_th_binary_s(MLF_TH_MUL, g, INFINITY);
		mlf_th *s = mlf_th_reduce(MLF_TH_SUM, mlf_th_binary(MLF_TH_MUL, m->tensors[k], g),
					  MLF_TH_ALL_DIMS, 0);
		loss = loss ? mlf_th_binary(MLF_TH_ADD, loss, s) : s;
	}
	if (!loss || mlf_th_backward(mlf_th_binary_s(MLF_TH_MUL, loss, scale)) < 0)
		fail_msg("backward: %s", mlf_th_error());
	mlf_th_scope_close(mark);
}

static void test_scaler(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_yolo_model a, b;
	load_model(&a);
	load_model(&b);
	mlf_yolo_model_train(&a, 1);
	mlf_yolo_model_train(&b, 1);
	struct mlf_train_args args;
	mlf_train_args_default(&args);
	args.optimizer[0] = 0;
	strcpy(args.optimizer, "SGD");
	args.warmup_epochs = 0;
	args.nbs = 16;
	struct mlf_recipe_plan p;
	if (mlf_recipe_plan(&args, 64, 3, 4, &p, &err) < 0)
		fail_msg("%s", err.msg);
	struct mlf_train_recipe ra, rb;
	assert_int_equal(mlf_recipe_init(&ra, &a, &p, &err), 0);
	assert_int_equal(mlf_recipe_init(&rb, &b, &p, &err), 0);
	assert_true(mlf_recipe_loss_scale(&ra) == 1.0);
	mlf_recipe_enable_scaler(&rb);
	assert_true(mlf_recipe_loss_scale(&rb) == 65536.0);
	assert_int_equal(mlf_recipe_epoch_start(&ra, 0, &err), 0);
	assert_int_equal(mlf_recipe_epoch_start(&rb, 0, &err), 0);
	int sa, sb;
	for (int64_t i = 0; i < 3; i++) {
		scaled_backward(&a, i, 1.0, 0);
		scaled_backward(&b, i, mlf_recipe_loss_scale(&rb), 0);
		assert_int_equal(mlf_recipe_batch_end(&ra, 0, i, &sa, &err), 0);
		assert_int_equal(mlf_recipe_batch_end(&rb, 0, i, &sb, &err), 0);
		assert_true(sa && sb);
	}
	for (size_t k = 0; k < a.ntensors; k++)
		assert_true(abs_sum(a.tensors[k]) == abs_sum(b.tensors[k]));
	/* an overflow: no step, the scale halves, the EMA still moves */
	size_t mark = mlf_th_scope_open();
	mlf_th *before = mlf_th_clone(b.tensors[0]);
	int64_t updates = rb.ema.updates;
	scaled_backward(&b, 3, mlf_recipe_loss_scale(&rb), 1);
	assert_int_equal(mlf_recipe_batch_end(&rb, 0, 3, &sb, &err), 0);
	assert_false(sb);
	assert_true(rb.scale == 32768.0);
	assert_int_equal(rb.skipped_steps, 1);
	assert_int_equal(rb.ema.updates, updates + 1);
	assert_true(abs_sum(before) == abs_sum(b.tensors[0]));
	assert_null(mlf_th_grad(b.tensors[0]));   /* the bad gradients are gone */
	mlf_th_scope_close(mark);
	/* growth after 2000 clean steps */
	rb.growth_tracker = 1999;
	scaled_backward(&b, 4, mlf_recipe_loss_scale(&rb), 0);
	assert_int_equal(mlf_recipe_batch_end(&rb, 1, 0, &sb, &err), 0);
	assert_true(sb);
	assert_true(rb.scale == 65536.0);
	assert_int_equal(rb.growth_tracker, 0);
	mlf_recipe_release(&ra);
	mlf_recipe_release(&rb);
	mlf_yolo_model_release(&a);
	mlf_yolo_model_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rounding),
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_sims),
		cmocka_unit_test(test_args_yaml),
		cmocka_unit_test(test_override_errors),
		cmocka_unit_test(test_scaler),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
