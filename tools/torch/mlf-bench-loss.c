/*
 * mlf-bench-loss: time the C detection loss (mlf_yolo_loss_compute) and its
 * backward on the CPU, to compare with scripts/bench-loss-ultralytics on the
 * same shapes.  A developer tool; not installed.
 *
 *   mlf-bench-loss [--family yolov8] [--scale n] [--nc 80] [--imgsz 640]
 *                  [--batch 16] [--per-image 20] [--threads N] [--iters K]
 *                  [--warmup 2] [--no-mallopt]
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
#include <getopt.h>
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

struct opts {
	const char *family;
	char scale;
	int nc, imgsz, batch, per_image, threads, iters, warmup, mallopt;
};

static void usage(FILE *f)
{
	fputs("usage: mlf-bench-loss [--family yolov8] [--scale n] [--nc 80] [--imgsz 640]\n"
	      "                      [--batch 16] [--per-image 20] [--threads N] [--iters K]\n"
	      "                      [--warmup 2] [--no-mallopt]\n"
	      "Times the C detection loss and its backward on the CPU; prints JSON.\n", f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "family", required_argument, NULL, 'f' }, { "scale", required_argument, NULL, 'S' },
		{ "nc", required_argument, NULL, 'c' }, { "imgsz", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' }, { "per-image", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' }, { "iters", required_argument, NULL, 'k' },
		{ "warmup", required_argument, NULL, 'w' }, { "no-mallopt", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case 'f': o->family = optarg; break;
		case 'S':
			if (strlen(optarg) != 1)
				return mlf_cli_usage_error("--scale is one letter, not '%s'", optarg);
			o->scale = optarg[0];
			break;
		case 'c': rc = bench_parse_int(optarg, 1, 10000, "--nc", &o->nc); break;
		case 's': rc = bench_parse_int(optarg, 32, 8192, "--imgsz", &o->imgsz); break;
		case 'b': rc = bench_parse_int(optarg, 1, 1024, "--batch", &o->batch); break;
		case 'p': rc = bench_parse_int(optarg, 0, 100000, "--per-image", &o->per_image); break;
		case 't': rc = bench_parse_int(optarg, 1, 1024, "--threads", &o->threads); break;
		case 'k': rc = bench_parse_int(optarg, 1, 100000, "--iters", &o->iters); break;
		case 'w': rc = bench_parse_int(optarg, 0, 100000, "--warmup", &o->warmup); break;
		case 'M': o->mallopt = 0; break;
		case 'h': usage(stdout); return -2;
		default: return mlf_cli_usage_error("unknown option");
		}
		if (rc)
			return rc;
	}
	if (optind != argc)
		return mlf_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->imgsz % 32)
		return mlf_cli_usage_error("--imgsz must be a multiple of 32");
	return 0;
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
	*n = (size_t)o->batch * (size_t)o->per_image;
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
	if (o->threads && mlf_th_set_threads(o->threads) < 0)
		return mlf_fail(err, 64, "cannot use %d threads: %s", o->threads, mlf_th_error());
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
	double *tl = calloc((size_t)o->iters, sizeof(*tl)), *tb = calloc((size_t)o->iters, sizeof(*tb));
	if (!targets || !tl || !tb)
		rc = mlf_fail(err, 70, "out of memory");

	size_t mark = mlf_th_scope_open();
	struct mlf_yolo_output out, leaves;
	int64_t shape[4] = { o->batch, 3, o->imgsz, o->imgsz };
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
	for (int i = 0; !rc && i < o->warmup + o->iters; i++) {
		size_t it = mlf_th_scope_open();
		double a0 = bench_now_ms();
		rc = mlf_yolo_loss_compute(&l, &leaves, targets, ntargets, &v, NULL, err);
		double a1 = bench_now_ms();
		if (!rc && mlf_th_backward(v.total) < 0)
			rc = mlf_fail(err, 70, "backward: %s", mlf_th_error());
		double a2 = bench_now_ms();
		if (i >= o->warmup) {
			tl[i - o->warmup] = a1 - a0;
			tb[i - o->warmup] = a2 - a1;
		}
		mlf_th_scope_close(it);
	}
	mlf_th_scope_close(mark);

	if (!rc) {
		struct bench_stats sl = bench_summarise(tl, o->iters), sb = bench_summarise(tb, o->iters);
		int64_t anchors = 0;
		for (int i = 0; i < out.nlevels; i++)
			anchors += (int64_t)out.h[i] * out.w[i];
		json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:i, s:i}", "impl", "mlf", "family",
				      o->family, "scale", (char[2]){ o->scale, 0 }, "batch", o->batch, "imgsz",
				      o->imgsz, "nc", o->nc, "anchors", (json_int_t)anchors, "targets",
				      (json_int_t)ntargets, "threads", mlf_th_threads(), "iters", o->iters);
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
	mlf_cli_init("mlf-bench-loss");
	struct opts o = { "yolov8", 'n', 80, 640, 16, 20, 0, 10, 2, 1 };
	int rc = parse_args(argc, argv, &o);
	if (rc == -2)
		return mlf_cli_exit(0);
	if (rc)
		return rc;
	if (o.mallopt)
		mlf_th_tune_malloc();  /* what retrain-run does; --no-mallopt measures without */
	struct mlf_error err = MLF_ERROR_INIT;
	return run(&o, &err) < 0 ? mlf_cli_report(&err) : mlf_cli_exit(0);
}
