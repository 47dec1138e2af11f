/*
 * mlf-bench-data: how fast the data pipeline makes batches.  A developer
 * tool; not installed (scripts/bench-data runs it on generated data).
 *
 *   mlf-bench-data DATA.yaml [--split train|val] [--imgsz N] [--batch N]
 *                  [--workers N] [--epochs N] [--no-mosaic] [--cache]
 *                  [--stages N]
 *
 * Scans the split, then consumes --epochs epochs of batches as fast as the
 * loader makes them (the consumer does nothing else) and prints images per
 * second.  --stages N also times each step of a training sample on one
 * thread over N samples (decode+resize, mosaic, affine warp, HSV, flip and
 * CHW copy).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/data.h"
#include "mlf/base.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: mlf-bench-data DATA.yaml [--split train|val] [--imgsz N] [--batch N] [--workers N]\n"
		     "                      [--epochs N] [--no-mosaic] [--cache] [--stages N]\n");
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
	static const struct option longopts[] = {
		{ "split", required_argument, NULL, 's' }, { "imgsz", required_argument, NULL, 'i' },
		{ "batch", required_argument, NULL, 'b' }, { "workers", required_argument, NULL, 'w' },
		{ "epochs", required_argument, NULL, 'e' }, { "no-mosaic", no_argument, NULL, 'm' },
		{ "cache", no_argument, NULL, 'c' }, { "stages", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *split = "train";
	int imgsz = 640, batch = 16, workers = 2, epochs = 2, mosaic = 1, cache = 0, nstages = 0, opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': split = optarg; break;
		case 'i': imgsz = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'w': workers = atoi(optarg); break;
		case 'e': epochs = atoi(optarg); break;
		case 'm': mosaic = 0; break;
		case 'c': cache = 1; break;
		case 'S': nstages = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind + 1 != argc || (strcmp(split, "train") && strcmp(split, "val")) || epochs < 1) {
		usage(stderr);
		return 64;
	}
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_data_yaml y;
	if (mlf_data_yaml_load(argv[optind], &y, &err)) {
		fprintf(stderr, "mlf-bench-data: %s\n", err.msg);
		return err.status;
	}
	int val = !strcmp(split, "val");
	struct mlf_dataset ds;
	struct mlf_dataset_options dopt = { .nc = (int)y.classes.n };
	double t0 = now();
	if (mlf_dataset_open(&ds, val ? &y.val : &y.train, &dopt, NULL, &err)) {
		fprintf(stderr, "mlf-bench-data: %s\n", err.msg);
		mlf_data_yaml_release(&y);
		return err.status;
	}
	double scan = now() - t0;
	printf("%s: %zu images, %zu boxes, scanned in %.3f s\n", split, ds.n, ds.nobjects, scan);
	if (nstages > 0 && stages(&ds, imgsz, nstages, &err)) {
		fprintf(stderr, "mlf-bench-data: %s\n", err.msg);
		return err.status;
	}

	struct mlf_loader_options o;
	mlf_loader_options_defaults(&o, val ? MLF_LOADER_VAL : MLF_LOADER_TRAIN);
	o.imgsz = imgsz;
	o.batch = batch;
	o.workers = workers;
	o.cache_ram = cache;
	if (!mosaic)
		o.hyp.mosaic = 0;
	struct mlf_loader *l;
	t0 = now();
	if (mlf_loader_open(&l, &ds, &o, &err)) {
		fprintf(stderr, "mlf-bench-data: %s\n", err.msg);
		return err.status;
	}
	if (cache)
		printf("cached %zu images in RAM in %.2f s\n", ds.n, now() - t0);
	for (int e = 0; e < epochs; e++) {
		double te = now();
		size_t images = 0;
		const struct mlf_batch *b;
		int rc;
		if (mlf_loader_start_epoch(l, e, &err))
			break;
		while ((rc = mlf_loader_next(l, &b, &err)) != 0) {
			if (rc < 0) {
				fprintf(stderr, "mlf-bench-data: %s\n", err.msg);
				continue;
			}
			images += (size_t)b->n;
		}
		double dt = now() - te;
		printf("epoch %d: %zu images in %.2f s: %.1f images/s (%s, imgsz %d, batch %d, %d workers%s)\n", e,
		       images, dt, (double)images / dt, val ? "validation" : mosaic ? "train, mosaic" : "train, no mosaic",
		       imgsz, batch, workers, cache ? ", cache=ram" : "");
	}
	mlf_loader_close(l);
	mlf_dataset_release(&ds);
	mlf_data_yaml_release(&y);
	return 0;
}
