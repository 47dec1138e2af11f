/*
 * Inside the data pipeline: the image cache the loader's threads share
 * (lib/data/data_cache.c) and the making of one sample (lib/data/data_sample.c).
 *
 * Ownership: the cache owns its images; data_cache_get lends one until the
 * matching data_cache_put.  A struct data_scratch is one thread's working
 * memory, owned by that thread (data_scratch_release).
 */
#ifndef MLF_DATA_INTERNAL_H
#define MLF_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/data.h"
#include "mlf/base.h"

/* 1 when the CPU has AVX2 and FMA (x86-64 with GCC or Clang) and
 * MLF_NO_SIMD is not set, else 0.  The vector kernels give the same bytes
 * as the portable code (the tests run both). */
int data_cpu_avx2_fma(void);

/* ---- resized images shared between threads -------------------------------- */

struct data_cache;

/*
 * keep_all: load every image now (on `threads` threads) and keep them all
 * (cache=ram); otherwise keep up to `capacity` images, dropping the least
 * recently used one that nobody holds.  A failure to preload names the file.
 */
int data_cache_open(struct data_cache **out, const struct mlf_dataset *ds, int imgsz, size_t capacity,
		    int keep_all, int threads, struct mlf_error *err);
void data_cache_close(struct data_cache *c);
/* Image `index`, resized as load_image resizes; loaded by the first thread
 * that asks, the others wait for it. */
int data_cache_get(struct data_cache *c, size_t index, const struct mlf_rgb_image **im, struct mlf_error *err);
void data_cache_put(struct data_cache *c, size_t index);

/* ---- one sample ------------------------------------------------------------ */

struct data_scratch {
	struct mlf_rgb_image canvas;    /* mosaic, 2s x 2s */
	struct mlf_rgb_image out;       /* the sample before it is copied to the batch */
	struct mlf_boxes boxes;
};

void data_scratch_release(struct data_scratch *sc);

/* Where the mosaic partners of a training sample come from. */
struct data_partners {
	int uniform;                /* cache=ram: any image of the dataset (Mosaic without buffer) */
	size_t n;                   /* candidates: the sample's image and those before it */
	size_t (*image)(const void *ctx, size_t j);   /* candidate j: 0 the sample's own image, 1 the one before... */
	const void *ctx;
};

/* What a sample gives back besides its pixels. */
struct data_sample_info {
	int ori[2];                 /* h0, w0 */
	int resized[2];             /* h, w */
	double ratio_pad[4];
};

/*
 * Training sample k of `epoch`, image `index`: the pixels go to `chw`
 * ([3][imgsz][imgsz]), the boxes (class, normalised cx cy w h) to
 * sc->boxes.  `mosaic` is the mosaic probability in force this epoch.
 */
int data_train_sample(const struct mlf_dataset *ds, struct data_cache *cache, const struct mlf_augment_hyp *h,
		      int imgsz, double mosaic, uint64_t seed, int epoch, size_t k, size_t index,
		      const struct data_partners *partners, struct data_scratch *sc, unsigned char *chw,
		      struct data_sample_info *info, struct mlf_error *err);

/* Validation sample: image `index` letterboxed into w x h (its batch's
 * shape), never scaled up. */
int data_val_sample(const struct mlf_dataset *ds, struct data_cache *cache, size_t index, int w, int h,
		    struct data_scratch *sc, unsigned char *chw, struct data_sample_info *info, struct mlf_error *err);

#endif
