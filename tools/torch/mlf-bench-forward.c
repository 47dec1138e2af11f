/*
 * mlf-bench-forward: time the C model's eval forward pass (and the whole
 * predict path) on the CPU, to compare with scripts/bench-forward-ultralytics
 * on the same weights.  A developer tool; not installed.
 *
 *   mlf-bench-forward --model PATH [--imgsz 640] [--threads N] [--iters K]
 *                     [--warmup 3] [--batch 1] [--no-fuse] [--no-channels-last]
 *                     [--no-mallopt] [--no-predict]
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
#include <getopt.h>
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

struct opts {
	const char *model;
	int imgsz, threads, iters, warmup, batch;
	int fuse, channels_last, mallopt, predict;
};

static void usage(FILE *f)
{
	fputs("usage: mlf-bench-forward --model PATH [--imgsz 640] [--threads N] [--iters K]\n"
	      "                         [--warmup 3] [--batch 1] [--no-fuse] [--no-channels-last]\n"
	      "                         [--no-mallopt] [--no-predict]\n"
	      "Times the C model's eval forward pass and predict path on the CPU; prints JSON.\n", f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "model", required_argument, NULL, 'm' }, { "imgsz", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' }, { "iters", required_argument, NULL, 'k' },
		{ "warmup", required_argument, NULL, 'w' }, { "batch", required_argument, NULL, 'b' },
		{ "no-fuse", no_argument, NULL, 'F' }, { "no-channels-last", no_argument, NULL, 'L' },
		{ "no-mallopt", no_argument, NULL, 'M' }, { "no-predict", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case 'm': o->model = optarg; break;
		case 's': rc = bench_parse_int(optarg, 32, 8192, "--imgsz", &o->imgsz); break;
		case 't': rc = bench_parse_int(optarg, 1, 1024, "--threads", &o->threads); break;
		case 'k': rc = bench_parse_int(optarg, 1, 100000, "--iters", &o->iters); break;
		case 'w': rc = bench_parse_int(optarg, 0, 100000, "--warmup", &o->warmup); break;
		case 'b': rc = bench_parse_int(optarg, 1, 1024, "--batch", &o->batch); break;
		case 'F': o->fuse = 0; break;
		case 'L': o->channels_last = 0; break;
		case 'M': o->mallopt = 0; break;
		case 'P': o->predict = 0; break;
		case 'h': usage(stdout); return -2;
		default: return mlf_cli_usage_error("unknown option");
		}
		if (rc)
			return rc;
	}
	if (optind != argc)
		return mlf_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->model)
		return mlf_cli_usage_error("--model PATH is required");
	return 0;
}

/* Timed forward calls; fills t[0..iters-1] with ms per image. */
static int time_forward(struct mlf_yolo_model *m, const struct opts *o, double *t, struct mlf_error *err)
{
	int64_t shape[4] = { o->batch, 3, o->imgsz, o->imgsz };
	mlf_th_manual_seed(0);
	mlf_th *x = mlf_th_rand(4, shape, 0, 1, MLF_DTYPE_F32, MLF_TH_CPU);
	if (!x)
		return mlf_fail(err, 70, "making the input: %s", mlf_th_error());
	int rc = 0;
	for (int i = 0; i < o->warmup + o->iters && !rc; i++) {
		struct mlf_yolo_output out;
		double t0 = bench_now_ms();
		rc = mlf_yolo_forward(m, x, MLF_YOLO_OUT_DECODED, &out, err);
		double t1 = bench_now_ms();
		mlf_yolo_output_release(&out);
		if (i >= o->warmup)
			t[i - o->warmup] = (t1 - t0) / o->batch;
	}
	mlf_th_free(x);
	return rc;
}

static int time_predict(struct mlf_yolo_model *m, const struct opts *o, double *t, struct mlf_error *err)
{
	size_t n = (size_t)o->imgsz * (size_t)o->imgsz * 3;
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
	io.imgsz = o->imgsz;
	struct mlf_detections d;
	mlf_detections_init(&d);
	int rc = 0;
	for (int i = 0; i < o->warmup + o->iters && !rc; i++) {
		double t0 = bench_now_ms();
		rc = mlf_yolo_infer(m, img, o->imgsz, o->imgsz, &io, &d, err);
		if (i >= o->warmup)
			t[i - o->warmup] = bench_now_ms() - t0;
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
	if (o->threads && mlf_th_set_threads(o->threads) < 0)
		return mlf_fail(err, 64, "cannot use %d threads: %s", o->threads, mlf_th_error());
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
	double *tf = calloc((size_t)o->iters, sizeof(*tf)), *tp = calloc((size_t)o->iters, sizeof(*tp));
	if (!tf || !tp)
		rc = mlf_fail(err, 70, "out of memory");
	if (!rc)
		rc = time_forward(&m, o, tf, err);
	if (!rc && o->predict)
		rc = time_predict(&m, o, tp, err);
	mlf_th_grad_enabled(grad);
	if (!rc) {
		struct bench_stats f = bench_summarise(tf, o->iters), p = bench_summarise(tp, o->iters);
		const char *name = strrchr(o->model, '/') ? strrchr(o->model, '/') + 1 : o->model;
		json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f}", "impl", "mlf",
				      "model", name, "imgsz", o->imgsz, "threads", mlf_th_threads(), "iters",
				      o->iters, "batch", o->batch, "ms_per_image_median", f.median,
				      "ms_per_image_mean", f.mean, "ms_per_image_min", f.min, "images_per_s",
				      1e3 / f.mean);
		if (o->predict) {
			json_object_set_new(j, "predict_ms_median", json_real(p.median));
			json_object_set_new(j, "predict_ms_mean", json_real(p.mean));
		}
		json_object_set_new(j, "fused", json_boolean(o->fuse));
		json_object_set_new(j, "channels_last", json_boolean(o->channels_last));
		json_object_set_new(j, "mallopt", json_boolean(o->mallopt));
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
	mlf_cli_init("mlf-bench-forward");
	struct opts o = { NULL, 640, 0, 10, 3, 1, 1, 1, 1, 1 };
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
