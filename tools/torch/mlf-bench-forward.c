/*
 * mlf-bench-forward: time the C model's eval forward pass (and the whole
 * predict path) on the CPU, to compare with scripts/bench-forward-ultralytics
 * on the same weights.  A developer tool; not installed.  Options: --help.
 *
 * Loads PATH (an Ultralytics .pt) with meta["yaml"] as the architecture,
 * eval mode, BatchNorm folded (as predict's fuse()) unless --no-fuse,
 * channels-last (the model's CPU default) unless --no-channels-last, no
 * gradients; glibc's mmap/trim thresholds raised unless --no-mallopt.
 * forward: the model on a fixed [batch, 3, imgsz, imgsz] input of uniform
 * noise, `warmup` untimed then `iters` timed calls.  predict:
 * mlf_yolo_infer on a fixed imgsz x imgsz noise image (letterbox, /255,
 * forward, NMS at conf 0.25, boxes back), the same counts.
 * Prints one JSON object: impl "mlf", model, imgsz, threads, iters, batch,
 * ms_per_image_median/mean/min (forward, per image), images_per_s (1000 /
 * mean), predict_ms_median/mean, fused, channels_last, mallopt, torch,
 * load_s.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/ckpt.h"
#include "mlf/cli.h"
#include "mlf/base.h"
#include "mlf/torch/torch.h"
#include "mlf/torch/model.h"

#include "../bench_stats.h"

enum { OPT_MODEL = MLF_OPT_LONG, OPT_NO_FUSE, OPT_NO_CHANNELS_LAST, OPT_NO_PREDICT };

static const struct mlf_option options[] = {
	{ OPT_MODEL, "model", "PATH", NULL, "the weights: an Ultralytics .pt (required)", NULL, 0 },
	BENCH_OPT_IMGSZ("640"),
	BENCH_OPT_THREADS,
	BENCH_OPT_ITERS("10"),
	BENCH_OPT_WARMUP("3"),
	BENCH_OPT_BATCH("1"),
	{ OPT_NO_FUSE, "no-fuse", NULL, NULL, "keep BatchNorm apart (predict folds it)", NULL, 0 },
	{ OPT_NO_CHANNELS_LAST, "no-channels-last", NULL, NULL,
	  "contiguous NCHW tensors instead of the CPU default, channels-last", NULL, 0 },
	BENCH_OPT_NO_MALLOPT,
	{ OPT_NO_PREDICT, "no-predict", NULL, NULL, "time the forward pass only", NULL, 0 },
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	BENCH_EXIT_DONE,
	MLF_EXIT_USAGE,
	{ 65, "the weights are not a model mlf can build" },
	{ 66, "the weights file is missing" },
	BENCH_EXIT_TORCH,
	{ 74, "the weights or standard output could not be read or written" },
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-bench-forward",
	.synopsis = "--model PATH [options]",
	.about = "Time the C model's eval forward pass and the whole predict path on the CPU "
		 "on noise inputs, to compare with scripts/bench-forward-ultralytics on the same "
		 "weights. Prints one JSON object.",
	.options = options,
	.exits = exits,
};

struct opts {
	struct bench_common b;
	const char *model;
	int fuse, channels_last, predict;
};

static int option(void *ctx, int id, const char *arg)
{
	struct opts *o = ctx;
	int rc = bench_option(&o->b, id, arg);
	if (rc >= 0)
		return rc;
	switch (id) {
	case OPT_MODEL: o->model = arg; return 0;
	case OPT_NO_FUSE: o->fuse = 0; return 0;
	case OPT_NO_CHANNELS_LAST: o->channels_last = 0; return 0;
	case OPT_NO_PREDICT: o->predict = 0; return 0;
	}
	return MLF_EX_SOFTWARE;
}

/* Timed forward calls; fills t[0..iters-1] with ms per image. */
static int time_forward(struct mlf_yolo_model *m, const struct opts *o, double *t, struct mlf_error *err)
{
	int64_t shape[4] = { o->b.batch, 3, o->b.imgsz, o->b.imgsz };
	mlf_th_manual_seed(0);
	mlf_th *x = mlf_th_rand(4, shape, 0, 1, MLF_DTYPE_F32, MLF_TH_CPU);
	if (!x)
		return mlf_fail(err, 70, "making the input: %s", mlf_th_error());
	int rc = 0;
	for (int i = 0; i < o->b.warmup + o->b.iters && !rc; i++) {
		struct mlf_yolo_output out;
		double t0 = bench_now_ms();
		rc = mlf_yolo_forward(m, x, MLF_YOLO_OUT_DECODED, &out, err);
		double t1 = bench_now_ms();
		mlf_yolo_output_release(&out);
		if (i >= o->b.warmup)
			t[i - o->b.warmup] = (t1 - t0) / o->b.batch;
	}
	mlf_th_free(x);
	return rc;
}

static int time_predict(struct mlf_yolo_model *m, const struct opts *o, double *t, struct mlf_error *err)
{
	size_t n = (size_t)o->b.imgsz * (size_t)o->b.imgsz * 3;
	unsigned char *img = malloc(n);
	if (!img)
		return mlf_fail(err, 70, "out of memory for the image");
	uint64_t s = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		img[i] = (unsigned char)(s >> 56);
	}
	struct mlf_infer_options io;
	mlf_infer_options_default(&io);
	io.imgsz = o->b.imgsz;
	struct mlf_detections d;
	mlf_detections_init(&d);
	int rc = 0;
	for (int i = 0; i < o->b.warmup + o->b.iters && !rc; i++) {
		double t0 = bench_now_ms();
		rc = mlf_yolo_infer(m, img, o->b.imgsz, o->b.imgsz, &io, &d, err);
		if (i >= o->b.warmup)
			t[i - o->b.warmup] = bench_now_ms() - t0;
	}
	mlf_detections_release(&d);
	free(img);
	return rc;
}

static int run(const struct opts *o, struct mlf_error *err)
{
	struct mlf_ckpt c;
	struct mlf_yolo_model m;
	mlf_ckpt_init(&c);
	if (o->b.threads && mlf_th_set_threads(o->b.threads) < 0)
		return mlf_fail(err, 64, "cannot use %d threads: %s", o->b.threads, mlf_th_error());
	double t0 = bench_now_ms();
	if (mlf_ckpt_read_pt(o->model, &c, err) < 0)
		return -1;
	int rc = mlf_yolo_model_from_ckpt(&m, &c, MLF_TH_CPU, err);
	double load_s = (bench_now_ms() - t0) / 1e3;
	mlf_ckpt_release(&c);
	if (rc < 0)
		return mlf_error_prefix(err, "%s", o->model);
	mlf_yolo_model_set_fused(&m, o->fuse);
	mlf_yolo_model_set_channels_last(&m, o->channels_last);
	int grad = mlf_th_grad_enabled(0);
	double *tf = calloc((size_t)o->b.iters, sizeof(*tf)), *tp = calloc((size_t)o->b.iters, sizeof(*tp));
	if (!tf || !tp)
		rc = mlf_fail(err, 70, "out of memory");
	if (!rc)
		rc = time_forward(&m, o, tf, err);
	if (!rc && o->predict)
		rc = time_predict(&m, o, tp, err);
	mlf_th_grad_enabled(grad);
	if (!rc) {
		struct bench_stats f = bench_summarise(tf, o->b.iters), p = bench_summarise(tp, o->b.iters);
		const char *name = strrchr(o->model, '/') ? strrchr(o->model, '/') + 1 : o->model;
		json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f}", "impl", "mlf",
				      "model", name, "imgsz", o->b.imgsz, "threads", mlf_th_threads(), "iters",
				      o->b.iters, "batch", o->b.batch, "ms_per_image_median", f.median,
				      "ms_per_image_mean", f.mean, "ms_per_image_min", f.min, "images_per_s",
				      1e3 / f.mean);
		if (o->predict) {
			json_object_set_new(j, "predict_ms_median", json_real(p.median));
			json_object_set_new(j, "predict_ms_mean", json_real(p.mean));
		}
		json_object_set_new(j, "fused", json_boolean(o->fuse));
		json_object_set_new(j, "channels_last", json_boolean(o->channels_last));
		json_object_set_new(j, "mallopt", json_boolean(o->b.mallopt));
		json_object_set_new(j, "torch", json_string(mlf_th_version()));
		json_object_set_new(j, "weights", json_string(o->model));
		json_object_set_new(j, "load_s", json_real(load_s));
		json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(j);
	}
	free(tf);
	free(tp);
	mlf_yolo_model_release(&m);
	return rc;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct opts o = { .b = { .imgsz = 640, .batch = 1, .iters = 10, .warmup = 3, .mallopt = 1 },
			  .fuse = 1, .channels_last = 1, .predict = 1 };
	mlf_cli_init(program.name);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &o);
	if (status >= 0)
		return status;
	if (!o.model)
		return mlf_cli_usage_error("--model PATH is required");
	if (o.b.mallopt)
		mlf_th_tune_malloc();  /* what retrain-run does; --no-mallopt measures without */
	struct mlf_error err = MLF_ERROR_INIT;
	return run(&o, &err) < 0 ? mlf_cli_report(&err) : mlf_cli_exit(0);
}
