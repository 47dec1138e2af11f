/*
 * The model on the training device against the CPU in float32: the same
 * weights and batch give the same raw maps, the same loss and, after one
 * mixed-precision training step (forward and loss under autocast, the loss
 * scaled, backward, the gradients unscaled: what the trainer does with
 * amp), the same gradients, within the tolerances below.
 *
 * The device is CUDA device 0 when there is one, with float16 autocast (the
 * trainer's AMP).  Without a GPU the checks run on the CPU with bfloat16
 * autocast, so that the comparisons themselves are exercised on every
 * machine; scripts/gpu-check runs this program on a lent GPU.
 *
 * Tolerances (relative L2 distance to the CPU float32 result; each run
 * prints the figures beside them):
 *                                       float32   float16   bfloat16
 *   forward: the raw maps                 2e-3      3e-2      2e-1
 *   the loss items (box, cls, dfl)        2e-3      3e-2      5e-2
 *   the step's gradients                  1e-2      1e-1      5e-1
 * float32 on CUDA may use TF32 in the convolutions.  float16 keeps 11
 * significant bits, bfloat16 8 (measured here on the CPU: maps 0.085, loss
 * 0.003, gradients 0.27), so the bfloat16 run catches gross faults only: a
 * scale not undone, a layout mixed up, a lost gradient.
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
#include "tensor_values.h"

#define CKPT SOURCE_DIR "/tests/fixtures/ckpt/"

/* The device under test and its autocast type. */
static int dev;
static enum mlf_dtype amp_dtype;
static const char *dev_name;

/* GradScaler's initial scale: the trainer's first steps use it. */
#define LOSS_SCALE 65536.0

/* ||a - b|| / ||b|| over n values, b the reference. */
static double rel_l2(const float *a, const float *b, int64_t n)
{
	double d = 0, r = 0;
	for (int64_t i = 0; i < n; i++) {
		double e = (double)a[i] - b[i];
		d += e * e;
		r += (double)b[i] * b[i];
	}
	return r > 0 ? sqrt(d / r) : sqrt(d);
}

static double rel_diff(double a, double b)
{
	return fabs(a - b) / fmax(fabs(b), 1e-12);
}

/* What one step leaves: the raw maps (flattened, level by level), the loss
 * items, and every parameter's gradient (flattened, parameter by parameter). */
struct step {
	float *maps;
	int64_t nmaps;
	double loss[3];
	float *grads;
	int64_t ngrads;
};

static void step_release(struct step *s)
{
	free(s->maps);
	free(s->grads);
	memset(s, 0, sizeof(*s));
}

/* The batch: 4 images of 128x96 with uniform noise and a few boxes. */
static const struct mlf_yolo_target targets[] = {
	{ 0, 0, 0.50f, 0.50f, 0.30f, 0.40f }, { 0, 1, 0.20f, 0.30f, 0.10f, 0.15f },
	{ 1, 2, 0.70f, 0.60f, 0.25f, 0.20f }, { 2, 0, 0.40f, 0.45f, 0.50f, 0.60f },
	{ 3, 1, 0.80f, 0.20f, 0.12f, 0.10f }, { 3, 2, 0.30f, 0.75f, 0.20f, 0.30f },
};

/* Forward (training mode), loss and backward of the fixture model on
 * `device`, under autocast of `amp` unless it is MLF_DTYPE_F32. */
static void run_step(const struct mlf_ckpt *c, const mlf_th *x_cpu, int device, enum mlf_dtype amp,
		     struct step *s)
{
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_yolo_model m;
	struct mlf_yolo_loss l;
	memset(s, 0, sizeof(*s));
	if (mlf_yolo_model_from_ckpt(&m, c, device, &err) < 0)
		fail_msg("model on %s: %s", dev_name, err.msg);
	mlf_yolo_model_train(&m, 1);
	assert_int_equal(mlf_yolo_loss_init(&l, &m, &err), 0);
	size_t mark = mlf_th_scope_open();
	mlf_th *x = mlf_th_to(x_cpu, MLF_DTYPE_F32, device);
	assert_non_null(x);
	if (amp != MLF_DTYPE_F32)
		assert_int_equal(mlf_th_autocast_begin(device, amp), 0);
	struct mlf_yolo_output o;
	struct mlf_yolo_loss_value v;
	if (mlf_yolo_forward(&m, x, MLF_YOLO_OUT_LEVELS, &o, &err) < 0)
		fail_msg("forward: %s", err.msg);
	if (mlf_yolo_loss_compute(&l, &o, targets, sizeof(targets) / sizeof(*targets), &v, NULL, &err) < 0)
		fail_msg("loss: %s", err.msg);
	if (amp != MLF_DTYPE_F32)
		mlf_th_autocast_end(device);
	for (int i = 0; i < o.nlevels; i++)
		s->nmaps += mlf_th_numel(o.level[i]);
	s->maps = malloc((size_t)s->nmaps * sizeof(*s->maps));
	assert_non_null(s->maps);
	int64_t at = 0;
	for (int i = 0; i < o.nlevels; i++) {
		float *p = tensor_values(o.level[i]);
		memcpy(s->maps + at, p, (size_t)mlf_th_numel(o.level[i]) * sizeof(*p));
		at += mlf_th_numel(o.level[i]);
		free(p);
	}
	s->loss[0] = v.box, s->loss[1] = v.cls, s->loss[2] = v.dfl;
	/* scaler.scale(loss).backward(), then scaler.unscale_(optimizer) */
	double scale = amp != MLF_DTYPE_F32 ? LOSS_SCALE : 1.0;
	assert_int_equal(mlf_th_backward(mlf_th_binary_s(MLF_TH_MUL, v.total, scale)), 0);
	for (size_t i = 0; i < m.ntensors; i++) {
		mlf_th *g = mlf_th_grad(m.tensors[i]);
		if (!g)
			continue;
		int64_t n = mlf_th_numel(g);
		float *p = tensor_values(g);
		s->grads = realloc(s->grads, (size_t)(s->ngrads + n) * sizeof(*s->grads));
		assert_non_null(s->grads);
		for (int64_t k = 0; k < n; k++)
			s->grads[s->ngrads + k] = (float)(p[k] / scale);
		s->ngrads += n;
		free(p);
		mlf_th_free(g);
	}
	mlf_yolo_output_release(&o);
	mlf_th_scope_close(mark);
	mlf_yolo_loss_release(&l);
	mlf_yolo_model_release(&m);
}

static void test_step_matches_cpu(void **state)
{
	(void)state;
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_ckpt_init(&c);
	if (mlf_ckpt_read_pt(CKPT "yolov8-tiny-train.pt", &c, &err) < 0)
		fail_msg("%s", err.msg);
	mlf_th_manual_seed(7);
	size_t outer = mlf_th_scope_open();
	int64_t shape[4] = { 4, 3, 96, 128 };
	mlf_th *x = mlf_th_rand(4, shape, 0, 1, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_non_null(x);

	struct step ref, f32, amp;
	run_step(&c, x, MLF_TH_CPU, MLF_DTYPE_F32, &ref);
	run_step(&c, x, dev, MLF_DTYPE_F32, &f32);
	run_step(&c, x, dev, amp_dtype, &amp);
	assert_int_equal(f32.nmaps, ref.nmaps);
	assert_int_equal(amp.nmaps, ref.nmaps);
	assert_int_equal(f32.ngrads, ref.ngrads);
	assert_int_equal(amp.ngrads, ref.ngrads);
	assert_true(ref.ngrads > 0);

	double fwd32 = rel_l2(f32.maps, ref.maps, ref.nmaps);
	double fwdamp = rel_l2(amp.maps, ref.maps, ref.nmaps);
	double loss32 = 0, lossamp = 0;
	for (int k = 0; k < 3; k++) {
		loss32 = fmax(loss32, rel_diff(f32.loss[k], ref.loss[k]));
		lossamp = fmax(lossamp, rel_diff(amp.loss[k], ref.loss[k]));
	}
	double grad32 = rel_l2(f32.grads, ref.grads, ref.ngrads);
	double gradamp = rel_l2(amp.grads, ref.grads, ref.ngrads);
	const char *an = amp_dtype == MLF_DTYPE_F16 ? "float16" : "bfloat16";
	print_message("%s float32 vs CPU: raw maps %.3g, loss %.3g, gradients %.3g (rel L2)\n",
		      dev_name, fwd32, loss32, grad32);
	print_message("%s %s autocast vs CPU float32: raw maps %.3g, loss %.3g, gradients %.3g\n",
		      dev_name, an, fwdamp, lossamp, gradamp);
	print_message("CPU loss box %.6f cls %.6f dfl %.6f; %s autocast box %.6f cls %.6f dfl %.6f\n",
		      ref.loss[0], ref.loss[1], ref.loss[2], dev_name, amp.loss[0], amp.loss[1],
		      amp.loss[2]);
	assert_true(fwd32 < 2e-3);
	assert_true(loss32 < 2e-3);
	assert_true(grad32 < 1e-2);
	int f16 = amp_dtype == MLF_DTYPE_F16;
	assert_true(fwdamp < (f16 ? 3e-2 : 2e-1));
	assert_true(lossamp < (f16 ? 3e-2 : 5e-2));
	assert_true(gradamp < (f16 ? 1e-1 : 5e-1));
	/* and the step did something: not all gradients vanish */
	double gn = 0;
	for (int64_t i = 0; i < ref.ngrads; i++)
		gn += (double)amp.grads[i] * amp.grads[i];
	assert_true(gn > 0 && isfinite(gn));
	step_release(&ref);
	step_release(&f32);
	step_release(&amp);
	mlf_th_scope_close(outer);
	mlf_ckpt_release(&c);
}

int main(void)
{
	if (mlf_th_cuda_device_count() > 0) {
		dev = 0, amp_dtype = MLF_DTYPE_F16, dev_name = "cuda:0";
	} else {
		dev = MLF_TH_CPU, amp_dtype = MLF_DTYPE_BF16, dev_name = "cpu (no GPU here)";
	}
	print_message("device under test: %s\n", dev_name);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_matches_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
