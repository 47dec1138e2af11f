/*
 * Training augmentation as Ultralytics 8.4.190 applies it to detection
 * samples (ultralytics/data/augment.py v8_transforms): Mosaic, then
 * RandomPerspective, RandomHSV, vertical and horizontal flips.  The pieces
 * here are pure functions over one image and its boxes; struct mlf_loader
 * strings them together per sample (lib/data_sample.c).
 *
 * Pixels are RGB (Ultralytics works on BGR and flips to RGB in Format; every
 * step here is per channel except the HSV conversion, which reads the
 * channels accordingly).  Boxes are pixel xyxy floats, computed in float32
 * as numpy computes them.
 *
 * Randomness: one stream per sample, struct mlf_rng (xoshiro256**), seeded
 * from (seed, epoch, position), so a sample never depends on which thread
 * made it.  Ultralytics' Python `random` draws are not reproduced, only
 * their distributions and order.
 *
 * Ownership: struct mlf_boxes owns its arrays (mlf_boxes_release); images
 * are the caller's.
 */
#ifndef MLF_AUGMENT_H
#define MLF_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/dataset.h"
#include "mlf/error.h"

/* ---- randomness -------------------------------------------------------- */

struct mlf_rng {
	uint64_t s[4];
};

/* The stream for (seed, a, b): a splitmix64 hash of the three. */
void mlf_rng_seed(struct mlf_rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t mlf_rng_next(struct mlf_rng *r);
/* lo + (hi - lo) * u with u uniform in [0, 1) (53 bits), as random.uniform. */
double mlf_rng_uniform(struct mlf_rng *r, double lo, double hi);
/* Uniform in 0 .. n-1 (n >= 1), without modulo bias. */
uint64_t mlf_rng_below(struct mlf_rng *r, uint64_t n);

/* ---- hyperparameters ------------------------------------------------------ */

/* The augmentation keys of ultralytics/cfg/default.yaml. */
struct mlf_augment_hyp {
	double hsv_h, hsv_s, hsv_v;     /* 0.015, 0.7, 0.4 */
	double degrees, translate, scale, shear, perspective;   /* 0, 0.1, 0.5, 0, 0 */
	double flipud, fliplr;          /* 0, 0.5 */
	double mosaic;                  /* 1.0 */
	double mixup, cutmix, copy_paste;   /* 0: other values are refused (not implemented) */
};

void mlf_augment_hyp_defaults(struct mlf_augment_hyp *h);
/* 0, or -1 (status 64) naming the first setting out of range or not supported. */
int mlf_augment_hyp_check(const struct mlf_augment_hyp *h, struct mlf_error *err);

/* ---- boxes ---------------------------------------------------------------- */

struct mlf_boxes {
	float *box;             /* 4 per box, pixels: x1 y1 x2 y2 (cx cy w h after mlf_boxes_to_xywh) */
	int *cls;
	size_t n, cap;
};

void mlf_boxes_release(struct mlf_boxes *b);
void mlf_boxes_clear(struct mlf_boxes *b);
void mlf_boxes_push(struct mlf_boxes *b, int cls, float x1, float y1, float x2, float y2);
/* A dataset image's rows in pixels of a w x h rendering: xywh2xyxy, then
 * denormalised (float32, in that order), then offset by (padw, padh). */
void mlf_boxes_add_objects(struct mlf_boxes *b, const struct mlf_object *o, size_t n, int w, int h,
			   float padw, float padh);
/* xyxy -> xywh in place (xyxy2xywh, float32), as RandomFlip converts before flipping. */
void mlf_boxes_to_xywh(struct mlf_boxes *b);

/* ---- pixels --------------------------------------------------------------- */

/*
 * dst (dst->w x dst->h, allocated by the caller) = src warped by the forward
 * affine map M (2x3, float32 as Ultralytics builds it), bilinear, pixels
 * outside src taking `border` in every channel: cv2.warpAffine(img, M,
 * dsize, borderValue=114) as opencv-python 5.0.0 computes it (the inverse
 * map in double, then float32 coordinates and fused float32 interpolation,
 * rounded half to even), byte for byte on every case tested (see
 * lib/data_warp.c).  Set MLF_NO_SIMD=1 to keep to the portable code.
 */
void mlf_warp_affine(const struct mlf_rgb_image *src, const float M[6], unsigned char border,
		     struct mlf_rgb_image *dst);

/*
 * RandomHSV with gains already drawn, g = U(-1,1)^3 * (hsv_h, hsv_s, hsv_v):
 * OpenCV's 8-bit BGR->HSV (H 0..179), lookup tables hue (x + g0*180) mod 180,
 * saturation and value clip(x * (1 + g), 0, 255) truncated, saturation 0
 * kept 0, then OpenCV's 8-bit HSV->BGR, in place.  All three gains 0 leave
 * the image untouched, as Ultralytics skips the step then.
 */
void mlf_hsv_apply(struct mlf_rgb_image *im, const double g[3]);
/* The two conversions alone, over `n` pixels of one image row (the row
 * length decides which pixels OpenCV's vector code converts; see data_hsv.c). */
void mlf_rgb_to_hsv_row(const unsigned char *rgb, unsigned char *hsv, int n);
void mlf_hsv_to_rgb_row(const unsigned char *hsv, unsigned char *rgb, int n);

/* Mirror the image and its xywh boxes (cx -> w - cx; cy -> h - cy). */
void mlf_flip_lr(struct mlf_rgb_image *im, struct mlf_boxes *xywh);
void mlf_flip_ud(struct mlf_rgb_image *im, struct mlf_boxes *xywh);

/* ---- RandomPerspective (affine only) --------------------------------------- */

struct mlf_affine {
	float M[6];             /* forward map, rows of M[:2] */
	float scale;            /* the isotropic scale drawn */
	int out_w, out_h;
};

/*
 * Draw the transform for an in_w x in_h image into out_w x out_h: the draws
 * of _compute_affine_matrix in its order (perspective x, y; angle; scale;
 * shear x, y; translation x, y), M = T S R P C in float32.
 */
void mlf_affine_draw(struct mlf_rng *r, const struct mlf_augment_hyp *h, int in_w, int in_h, int out_w,
		     int out_h, struct mlf_affine *a);
/* The boxes through it: corners transformed, min/max, clipped to the
 * output, then box_candidates (w, h > 2 px, area ratio to the scaled
 * original > 0.1, aspect < 100) keeps the survivors in order. */
void mlf_affine_boxes(const struct mlf_affine *a, struct mlf_boxes *b);

/* ---- Mosaic (4 images) ------------------------------------------------------ */

/*
 * Place im[0..3] (top-left, top-right, bottom-left, bottom-right of the
 * centre xc, yc) on a 2s x 2s canvas of 114 (`canvas` is that size,
 * allocated by the caller), as Mosaic.get_params lays them out (n = 4), and
 * fill `out` (emptied first) with each image's rows (objs[k], nobj[k])
 * shifted to the canvas, clipped to it, zero-area boxes dropped.
 */
void mlf_mosaic4(const struct mlf_rgb_image *const im[4], const struct mlf_object *const objs[4],
		 const size_t nobj[4], int s, int xc, int yc, struct mlf_rgb_image *canvas,
		 struct mlf_boxes *out);

#endif
