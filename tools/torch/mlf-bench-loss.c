/*
 * mlf-bench-loss: time the C detection loss (mlf_yolo_loss_compute) and its
 * backward on the CPU, to compare with scripts/bench-loss-ultralytics on the
 * same shapes.  A developer tool; not installed.  Options: --help.
 *
 * Builds the builtin description (random weights from seed 0), training
 * mode, runs one training forward on a fixed [batch, 3, imgsz, imgsz] input
 * of uniform noise, then detaches the per-level maps into leaves that
 * require grad, so that what is timed is the loss alone: `warmup` untimed
 * then `iters` timed iterations of
 *   loss      mlf_yolo_loss_compute (levels to anchors, assigner, BCE,
 *             CIoU, DFL, the detached items)
 *   backward  mlf_th_backward(total) down to the level maps
 * Targets: `per-image` boxes per image from a fixed xorshift64 stream (the
 * Python script draws the same ones): class = r % nc, centre uniform in
 * [0.1, 0.9], size uniform in [0.02, 0.4] of the image.
 * Prints one JSON object: impl "mlf", batch, imgsz, nc, anchors, targets,
 * threads, iters, loss_ms_median/mean/min, backward_ms_median/mean/min,
 * foreground, box, cls, dfl (of the last iteration), torch.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/cli.h"
#include "mlf/base.h"
#include "mlf/torch/torch.h"
#include "mlf/yolo.h"
#include "mlf/torch/model.h"

#include "../bench_stats.h"

enum { OPT_FAMILY = MLF_OPT_LONG, OPT_SCALE, OPT_NC, OPT_PER_IMAGE };

static const struct mlf_option options[] = {
	{ OPT_FAMILY, "family", "NAME", NULL, "the builtin model family: yolov8 or yolo11 "
	  "(default: yolov8)", NULL, 0 },
	{ OPT_SCALE, "scale", "S", NULL, "its scale: n, s, m, l or x (default: n)", NULL, 0 },
	{ OPT_NC, "nc", "N", NULL, "classes, 1 to 10000 (default: 80)", NULL, 0 },
	BENCH_OPT_IMGSZ("640; a multiple of 32"),
	BENCH_OPT_BATCH("16"),
	{ OPT_PER_IMAGE, "per-image", "N", NULL, "target boxes per image, 0 to 100000 (default: 20)",
	  NULL, 0 },
	BENCH_OPT_THREADS,
	BENCH_OPT_ITERS("10"),
	BENCH_OPT_WARMUP("2"),
	BENCH_OPT_NO_MALLOPT,
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	BENCH_EXIT_DONE,
	MLF_EXIT_USAGE,
	{ 65, "no such model: an unknown --family or --scale" },
	BENCH_EXIT_TORCH,
	{ 74, "standard output could not be written" },
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-bench-loss",
	.synopsis = "[options]",
	.about = "Time the C detection loss (mlf_yolo_loss_compute) and its backward on the CPU, "
		 "on the level maps of one training forward and fixed pseudo-random targets, to "
		 "compare with scripts/bench-loss-ultralytics on the same shapes. Prints one JSON "
		 "object.",
	.options = options,
	.exits = exits,
};

struct opts {
	struct bench_common b;
	const char *family;
	char scale;
	int nc, per_image;
};

static int option(void *ctx, int id, const char *arg)
{
	struct opts *o = ctx;
	int rc = bench_option(&o->b, id, arg);
	if (rc >= 0)
		return rc;
	switch (id) {
	case OPT_FAMILY: o->family = arg; return 0;
	case OPT_SCALE:
		if (strlen(arg) != 1)
			return mlf_cli_usage_error("--scale is one letter, not '%s'", arg);
		o->scale = arg[0];
		return 0;
	case OPT_NC: return bench_parse_int(arg, 1, 10000, "--nc", &o->nc);
	case OPT_PER_IMAGE: return bench_parse_int(arg, 0, 100000, "--per-image", &o->per_image);
	}
	return MLF_EX_SOFTWARE;
}

/* xorshift64, as scripts/bench-loss-ultralytics draws it. */
static uint64_t next_u64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static float uniform(uint64_t *s, float lo, float hi)
{
	return lo + (hi - lo) * (float)((double)(next_u64(s) >> 11) / 9007199254740992.0);
}

static struct mlf_yolo_target *make_targets(const struct opts *o, size_t *n)
{
	*n = (size_t)o->b.batch * (size_t)o->per_image;
	struct mlf_yolo_target *t = calloc(*n ? *n : 1, sizeof(*t));
	uint64_t s = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; t && i < *n; i++) {
		t[i].image = (int)(i / (size_t)o->per_image);
		t[i].cls = (int)(next_u64(&s) % (uint64_t)o->nc);
		t[i].cx = uniform(&s, 0.1f, 0.9f);
		t[i].cy = uniform(&s, 0.1f, 0.9f);
		t[i].w = uniform(&s, 0.02f, 0.4f);
		t[i].h = uniform(&s, 0.02f, 0.4f);
	}
	return t;
}

static int run(const struct opts *o, struct mlf_error *err)
{
	if (o->b.threads && mlf_th_set_threads(o->b.threads) < 0)
		return mlf_fail(err, 64, "cannot use %d threads: %s", o->b.threads, mlf_th_error());
	struct mlf_yolo_arch a;
	struct mlf_yolo_model m;
	struct mlf_yolo_loss l;
	mlf_yolo_arch_init(&a);
	mlf_yolo_model_init(&m);
	if (mlf_yolo_arch_builtin(&a, o->family, o->scale, o->nc, err) < 0)
		return -1;
	mlf_th_manual_seed(0);
	int rc = mlf_yolo_model_create(&m, &a, MLF_TH_CPU, err);
	mlf_yolo_arch_release(&a);
	if (rc < 0)
		return -1;
	mlf_yolo_model_train(&m, 1);
	if (mlf_yolo_loss_init(&l, &m, err) < 0) {
		mlf_yolo_model_release(&m);
		return -1;
	}
	size_t ntargets;
	struct mlf_yolo_target *targets = make_targets(o, &ntargets);
	double *tl = calloc((size_t)o->b.iters, sizeof(*tl)), *tb = calloc((size_t)o->b.iters, sizeof(*tb));
	if (!targets || !tl || !tb)
		rc = mlf_fail(err, 70, "out of memory");

	size_t mark = mlf_th_scope_open();
	struct mlf_yolo_output out, leaves;
	int64_t shape[4] = { o->b.batch, 3, o->b.imgsz, o->b.imgsz };
	mlf_th *x = rc ? NULL : mlf_th_rand(4, shape, 0, 1, MLF_DTYPE_F32, MLF_TH_CPU);
	if (!rc && !x)
		rc = mlf_fail(err, 70, "making the input: %s", mlf_th_error());
	double t0 = bench_now_ms();
	if (!rc)
		rc = mlf_yolo_forward(&m, x, MLF_YOLO_OUT_LEVELS, &out, err);
	double fwd_ms = bench_now_ms() - t0;
	if (!rc) {
		leaves = out;
		leaves.decoded = NULL;
		leaves.layer = NULL;
		for (int i = 0; i < out.nlevels && !rc; i++) {
			leaves.level[i] = mlf_th_contiguous(mlf_th_detach(out.level[i]));
			if (!leaves.level[i] || mlf_th_set_requires_grad(leaves.level[i], 1) < 0)
				rc = mlf_fail(err, 70, "level %d: %s", i, mlf_th_error());
		}
	}
	struct mlf_yolo_loss_value v = { 0 };
	for (int i = 0; !rc && i < o->b.warmup + o->b.iters; i++) {
		size_t it = mlf_th_scope_open();
		double a0 = bench_now_ms();
		rc = mlf_yolo_loss_compute(&l, &leaves, targets, ntargets, &v, NULL, err);
		double a1 = bench_now_ms();
		if (!rc && mlf_th_backward(v.total) < 0)
			rc = mlf_fail(err, 70, "backward: %s", mlf_th_error());
		double a2 = bench_now_ms();
		if (i >= o->b.warmup) {
			tl[i - o->b.warmup] = a1 - a0;
			tb[i - o->b.warmup] = a2 - a1;
		}
		mlf_th_scope_close(it);
	}
	mlf_th_scope_close(mark);

	if (!rc) {
		struct bench_stats sl = bench_summarise(tl, o->b.iters), sb = bench_summarise(tb, o->b.iters);
		int64_t anchors = 0;
		for (int i = 0; i < out.nlevels; i++)
			anchors += (int64_t)out.h[i] * out.w[i];
		json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:i, s:i}", "impl", "mlf", "family",
				      o->family, "scale", (char[2]){ o->scale, 0 }, "batch", o->b.batch, "imgsz",
				      o->b.imgsz, "nc", o->nc, "anchors", (json_int_t)anchors, "targets",
				      (json_int_t)ntargets, "threads", mlf_th_threads(), "iters", o->b.iters);
		json_object_set_new(j, "loss_ms_median", json_real(sl.median));
		json_object_set_new(j, "loss_ms_mean", json_real(sl.mean));
		json_object_set_new(j, "loss_ms_min", json_real(sl.min));
		json_object_set_new(j, "backward_ms_median", json_real(sb.median));
		json_object_set_new(j, "backward_ms_mean", json_real(sb.mean));
		json_object_set_new(j, "backward_ms_min", json_real(sb.min));
		json_object_set_new(j, "forward_ms", json_real(fwd_ms));
		json_object_set_new(j, "foreground", json_integer(v.foreground));
		json_object_set_new(j, "box", json_real(v.box));
		json_object_set_new(j, "cls", json_real(v.cls));
		json_object_set_new(j, "dfl", json_real(v.dfl));
		json_object_set_new(j, "torch", json_string(mlf_th_version()));
		json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(j);
	}
	free(targets);
	free(tl);
	free(tb);
	mlf_yolo_loss_release(&l);
	mlf_yolo_model_release(&m);
	return rc;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct opts o = { .b = { .imgsz = 640, .batch = 16, .iters = 10, .warmup = 2, .mallopt = 1 },
			  .family = "yolov8", .scale = 'n', .nc = 80, .per_image = 20 };
	mlf_cli_init(program.name);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &o);
	if (status >= 0)
		return status;
	if (o.b.imgsz % 32)
		return mlf_cli_usage_error("--imgsz must be a multiple of 32");
	if (o.b.mallopt)
		mlf_th_tune_malloc();  /* what retrain-run does; --no-mallopt measures without */
	struct mlf_error err = MLF_ERROR_INIT;
	return run(&o, &err) < 0 ? mlf_cli_report(&err) : mlf_cli_exit(0);
}
