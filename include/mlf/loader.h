/*
 * Batches for training and validation, made on worker threads, handed out
 * in order: Ultralytics 8.4.190's YOLODataset + InfiniteDataLoader +
 * collate_fn, in C.
 *
 * Training (MLF_LOADER_TRAIN): per epoch a seeded permutation of the images
 * (shuffle) or the list order; each sample is Mosaic -> RandomPerspective ->
 * RandomHSV -> flips (lib/data_sample.c), imgsz x imgsz.  Mosaic is off for
 * the last `close_mosaic` epochs (epoch >= epochs - close_mosaic), as the
 * trainer closes it; the image then goes straight to RandomPerspective,
 * which centres it on the imgsz x imgsz canvas (8.4.190 no longer runs a
 * LetterBox first).
 *
 * Validation (MLF_LOADER_VAL): images sorted by aspect ratio, batches of the
 * rectangular shapes of mlf_rect_shapes (pad 0.5), each image LetterBoxed
 * into its batch's shape without scaling up; no randomness.
 *
 * Determinism: sample k of epoch e depends only on (seed, e, k), the dataset
 * and the options: its random stream is mlf_rng_seed(seed, e, k), and its
 * mosaic partners are drawn from the images of the samples before it (see
 * lib/data_sample.c for the window rule), never from what a thread happened
 * to load; any number of workers gives the same bytes.
 *
 * Threads: `workers` threads make samples ahead of the consumer, at most
 * `prefetch` batches ahead.  One consumer thread calls mlf_loader_next.
 * Memory: besides the batches, recently loaded images are kept for mosaic
 * partners, about min(n, 8*batch, 1000) + (prefetch+1)*batch resized images
 * (0.9 MB each for 640x480 at imgsz 640), as each Ultralytics worker keeps
 * its own buffer of them; with cache_ram, all of them.
 *
 * Ownership: the loader borrows the dataset (which must outlive it) and owns
 * its batches; a batch returned by mlf_loader_next stays valid until the
 * next call to mlf_loader_next, mlf_loader_start_epoch or mlf_loader_close.
 * Errors: a sample that cannot be made (an image corrupt or changed since the
 * scan) fails its batch: mlf_loader_next returns -1 with the file named in
 * err (status 65); calling it again goes on with the next batch.
 */
#ifndef MLF_LOADER_H
#define MLF_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/augment.h"
#include "mlf/dataset.h"
#include "mlf/error.h"

enum mlf_loader_mode {
	MLF_LOADER_TRAIN = 0,
	MLF_LOADER_VAL,
};

struct mlf_loader_options {
	enum mlf_loader_mode mode;
	int batch;                  /* images per batch (the last one may be short) */
	int imgsz;                  /* 640 */
	int stride;                 /* model stride for rectangular batches: 32 */
	double pad;                 /* rectangular batch padding: 0.5 (validation) */
	int workers;                /* threads; 0: make samples on the consumer's thread */
	int prefetch;               /* batches made ahead: 2 */
	uint64_t seed;
	int shuffle;                /* training: permute per epoch (default 1) */
	int cache_ram;              /* load every resized image once, up front (cache=ram) */
	int epochs, close_mosaic;   /* mosaic off for epoch >= epochs - close_mosaic (close_mosaic > 0) */
	struct mlf_augment_hyp hyp;
};

/* Ultralytics' defaults for `mode`: batch 16 (32 for validation, the
 * trainer's 2x), imgsz 640, stride 32, pad 0 / 0.5, workers 8, prefetch 2,
 * seed 0, shuffle on for training, no cache, close_mosaic 10, default.yaml's
 * augmentation. */
void mlf_loader_options_defaults(struct mlf_loader_options *o, enum mlf_loader_mode mode);

/* One image's target row: the layout of struct mlf_yolo_target. */
struct mlf_target {
	int image;                  /* index in the batch */
	int cls;
	float cx, cy, w, h;         /* normalised to the batch's width and height */
};

struct mlf_batch {
	size_t index;               /* batch number in the epoch */
	int n;                      /* images */
	int h, w;                   /* every image's size */
	unsigned char *images;      /* [n][3][h][w] RGB, contiguous */
	struct mlf_target *targets; /* image by image */
	size_t ntargets;
	size_t *dataset_index;      /* [n]: which dataset image (the first of a mosaic) */
	const char **paths;         /* [n]: its path (the dataset's string) */
	int (*ori_shape)[2];        /* [n]: [h0, w0] as stored */
	int (*resized_shape)[2];    /* [n]: [h, w] after load_image's resize (before letterbox) */
	double (*ratio_pad)[4];     /* [n]: gain_h, gain_w, pad_left, pad_top (validation; training: gains, 0, 0) */
};

struct mlf_loader;

int mlf_loader_open(struct mlf_loader **out, const struct mlf_dataset *ds, const struct mlf_loader_options *o,
		    struct mlf_error *err);
/* Batches per epoch: ceil(n / batch). */
size_t mlf_loader_batches(const struct mlf_loader *l);
/* Begin epoch `epoch` (0-based); ends any epoch in progress.  Workers start
 * on its first batches at once. */
int mlf_loader_start_epoch(struct mlf_loader *l, int epoch, struct mlf_error *err);
/* Whether epoch `epoch` uses mosaic (hyp.mosaic > 0 and not closed). */
int mlf_loader_mosaic_on(const struct mlf_loader *l, int epoch);
/* 1 and *out: the next batch; 0: the epoch is done; -1: this batch failed (err). */
int mlf_loader_next(struct mlf_loader *l, const struct mlf_batch **out, struct mlf_error *err);
/* Stops the workers and frees everything; NULL is a no-op. */
void mlf_loader_close(struct mlf_loader *l);

#endif
