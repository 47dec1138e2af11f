/*
 * mlf-bench-data: how fast the data pipeline makes batches.  A developer
 * tool; not installed (scripts/bench-data runs it on generated data).
 * Options: --help.
 *
 * Scans the split, then consumes --epochs epochs of batches as fast as the
 * loader makes them (the consumer does nothing else) and prints images per
 * second.  --stages N also times each step of a training sample on one
 * thread over N samples (decode+resize, mosaic, affine warp, HSV, flip and
 * CHW copy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/base.h"
#include "mlf/cli.h"
#include "mlf/data.h"

#include "bench_stats.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

enum { OPT_SPLIT = MLF_OPT_LONG, OPT_WORKERS, OPT_EPOCHS, OPT_NO_MOSAIC, OPT_CACHE, OPT_STAGES };

static const struct mlf_option options[] = {
	{ OPT_SPLIT, "split", "SPLIT", NULL, "the split to read: train or val (default: train)",
	  NULL, 0 },
	BENCH_OPT_IMGSZ("640"),
	BENCH_OPT_BATCH("16"),
	{ OPT_WORKERS, "workers", "N", NULL, "loader threads, 0 to 1024 (0: on the consumer's "
	  "thread; default: 2)", NULL, 0 },
	{ OPT_EPOCHS, "epochs", "N", NULL, "epochs to consume, 1 to 100000 (default: 2)", NULL, 0 },
	{ OPT_NO_MOSAIC, "no-mosaic", NULL, NULL, "training samples without mosaic", NULL, 0 },
	{ OPT_CACHE, "cache", NULL, NULL, "decode every image into RAM first (cache=ram)", NULL, 0 },
	{ OPT_STAGES, "stages", "N", NULL, "also time each step of a training sample on one "
	  "thread over N samples, 0 to 100000 (default: 0: not at all)", NULL, 0 },
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "done" },
	MLF_EXIT_USAGE,
	{ 65, "bad data: DATA.yaml or a label file" },
	{ 66, "DATA.yaml or the split's images are missing" },
	MLF_EXIT_SOFTWARE,
	{ 74, "a file could not be read, or standard output written" },
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-bench-data",
	.synopsis = "DATA.yaml [options]",
	.about = "How fast the data pipeline makes batches: scans the split, then consumes "
		 "--epochs epochs of batches as fast as the loader makes them and prints images "
		 "per second.",
	.max_operands = 1,
	.options = options,
	.exits = exits,
};

struct opts {
	struct bench_common b;
	const char *split;
	int workers, epochs, mosaic, cache, nstages;
};

static int option(void *ctx, int id, const char *arg)
{
	struct opts *o = ctx;
	int rc = bench_option(&o->b, id, arg);
	if (rc >= 0)
		return rc;
	switch (id) {
	case OPT_SPLIT:
		if (strcmp(arg, "train") && strcmp(arg, "val"))
			return mlf_cli_usage_error("--split is train or val, not '%s'", arg);
		o->split = arg;
		return 0;
	case OPT_WORKERS: return bench_parse_int(arg, 0, 1024, "--workers", &o->workers);
	case OPT_EPOCHS: return bench_parse_int(arg, 1, 100000, "--epochs", &o->epochs);
	case OPT_NO_MOSAIC: o->mosaic = 0; return 0;
	case OPT_CACHE: o->cache = 1; return 0;
	case OPT_STAGES: return bench_parse_int(arg, 0, 100000, "--stages", &o->nstages);
	}
	return MLF_EX_SOFTWARE;
}

/* One thread, step by step, over n training samples with mosaic. */
static int stages(const struct mlf_dataset *ds, int imgsz, int n, struct mlf_error *err)
{
	struct mlf_augment_hyp h;
	mlf_augment_hyp_defaults(&h);
	struct mlf_rng r;
	struct mlf_rgb_image im[4] = { { 0 } };
	struct mlf_rgb_image canvas = { malloc((size_t)4 * imgsz * imgsz * 3), 2 * imgsz, 2 * imgsz };
	struct mlf_rgb_image out = { malloc((size_t)imgsz * imgsz * 3), imgsz, imgsz };
	unsigned char *chw = malloc((size_t)imgsz * imgsz * 3);
	struct mlf_boxes boxes = { 0 };
	double t[6] = { 0 };
	for (int k = 0; k < n; k++) {
		mlf_rng_seed(&r, 1, 0, (uint64_t)k);
		double t0 = now();
		for (int i = 0; i < 4; i++) {
			mlf_rgb_image_release(&im[i]);
			if (mlf_dataset_load_image(ds, (size_t)(k * 4 + i) % ds->n, imgsz, &im[i], err))
				return -1;
		}
		double t1 = now();
		const struct mlf_rgb_image *pim[4] = { &im[0], &im[1], &im[2], &im[3] };
		const struct mlf_object *objs[4];
		size_t nobj[4];
		for (int i = 0; i < 4; i++) {
			size_t j = (size_t)(k * 4 + i) % ds->n;
			objs[i] = ds->objects + ds->images[j].first;
			nobj[i] = ds->images[j].n;
		}
		int xc = (int)mlf_rng_uniform(&r, imgsz / 2, 1.5 * imgsz), yc = (int)mlf_rng_uniform(&r, imgsz / 2, 1.5 * imgsz);
		mlf_mosaic4(pim, objs, nobj, imgsz, xc, yc, &canvas, &boxes);
		double t2 = now();
		struct mlf_affine a;
		mlf_affine_draw(&r, &h, canvas.w, canvas.h, imgsz, imgsz, &a);
		mlf_warp_affine(&canvas, a.M, 114, &out);
		mlf_affine_boxes(&a, &boxes);
		double t3 = now();
		double g[3] = { mlf_rng_uniform(&r, -1, 1) * h.hsv_h, mlf_rng_uniform(&r, -1, 1) * h.hsv_s,
				mlf_rng_uniform(&r, -1, 1) * h.hsv_v };
		mlf_hsv_apply(&out, g);
		double t4 = now();
		mlf_boxes_to_xywh(&boxes);
		mlf_flip_lr(&out, &boxes);
		size_t plane = (size_t)imgsz * imgsz;
		for (size_t p = 0; p < plane; p++) {
			chw[p] = out.px[3 * p];
			chw[plane + p] = out.px[3 * p + 1];
			chw[2 * plane + p] = out.px[3 * p + 2];
		}
		double t5 = now();
		t[0] += (t1 - t0) / 4;
		t[1] += t2 - t1;
		t[2] += t3 - t2;
		t[3] += t4 - t3;
		t[4] += t5 - t4;
	}
	const char *names[5] = { "decode+resize (per image)", "mosaic (4 images)", "affine warp + boxes",
				 "HSV", "flip + CHW copy" };
	printf("one thread, per training sample at %d (mean of %d):\n", imgsz, n);
	for (int i = 0; i < 5; i++)
		printf("  %-26s %7.2f ms\n", names[i], 1e3 * t[i] / n);
	printf("  %-26s %7.2f ms (mosaic partners come from the cache: ~1 decode per sample)\n", "total",
	       1e3 * (t[0] + t[1] + t[2] + t[3] + t[4]) / n);
	for (int i = 0; i < 4; i++)
		mlf_rgb_image_release(&im[i]);
	mlf_rgb_image_release(&canvas);
	mlf_rgb_image_release(&out);
	mlf_boxes_release(&boxes);
	free(chw);
	return 0;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct opts a = { .b = { .imgsz = 640, .batch = 16 }, .split = "train", .workers = 2, .epochs = 2,
			  .mosaic = 1 };
	mlf_cli_init(program.name);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &a);
	if (status >= 0)
		return status;
	if (cli.nargs != 1)
		return mlf_cli_usage_error("missing DATA.yaml");
	status = 0;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_data_yaml y;
	if (mlf_data_yaml_load(cli.args[0], &y, &err))
		return mlf_cli_report(&err);
	int val = !strcmp(a.split, "val");
	struct mlf_dataset ds;
	struct mlf_dataset_options dopt = { .nc = (int)y.classes.n };
	double t0 = now();
	if (mlf_dataset_open(&ds, val ? &y.val : &y.train, &dopt, NULL, &err)) {
		mlf_data_yaml_release(&y);
		return mlf_cli_report(&err);
	}
	double scan = now() - t0;
	printf("%s: %zu images, %zu boxes, scanned in %.3f s\n", a.split, ds.n, ds.nobjects, scan);
	if (a.nstages > 0 && stages(&ds, a.b.imgsz, a.nstages, &err))
		return mlf_cli_report(&err);

	struct mlf_loader_options o;
	mlf_loader_options_defaults(&o, val ? MLF_LOADER_VAL : MLF_LOADER_TRAIN);
	o.imgsz = a.b.imgsz;
	o.batch = a.b.batch;
	o.workers = a.workers;
	o.cache_ram = a.cache;
	if (!a.mosaic)
		o.hyp.mosaic = 0;
	struct mlf_loader *l;
	t0 = now();
	if (mlf_loader_open(&l, &ds, &o, &err))
		return mlf_cli_report(&err);
	if (a.cache)
		printf("cached %zu images in RAM in %.2f s\n", ds.n, now() - t0);
	for (int e = 0; e < a.epochs && !status; e++) {
		double te = now();
		size_t images = 0;
		const struct mlf_batch *b;
		int rc;
		if (mlf_loader_start_epoch(l, e, &err)) {
			status = mlf_cli_report(&err);
			break;
		}
		while ((rc = mlf_loader_next(l, &b, &err)) != 0) {
			if (rc < 0) {
				mlf_cli_report(&err);  /* a bad sample failed its batch: go on with the next */
				continue;
			}
			images += (size_t)b->n;
		}
		double dt = now() - te;
		printf("epoch %d: %zu images in %.2f s: %.1f images/s (%s, imgsz %d, batch %d, %d workers%s)\n", e,
		       images, dt, (double)images / dt, val ? "validation" : a.mosaic ? "train, mosaic" : "train, no mosaic",
		       a.b.imgsz, a.b.batch, a.workers, a.cache ? ", cache=ram" : "");
	}
	mlf_loader_close(l);
	mlf_dataset_release(&ds);
	mlf_data_yaml_release(&y);
	return mlf_cli_exit(status);
}
