/*
 * mlf/data.h: the images and labels a training reads.  Sections: JPEG/PNG
 * images; data.yaml; detection datasets (scan, labels, cache); training
 * augmentation; the batch loader that runs it on worker threads.
 */
/*
 * JPEG and PNG images through libjpeg-turbo and libpng.
 *
 * Decoding always reads the whole image, so a truncated or corrupt file is
 * an error, not a half-black picture.  Pixel buffers returned are allocated
 * (8-bit RGB, row-major, no padding) and freed by the caller with free().
 * Saving writes through a temporary file and renames (crash-safe).
 */
#ifndef MLF_DATA_H
#define MLF_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"
#include "mlf/corrections.h"

enum mlf_image_format {
	MLF_IMAGE_UNKNOWN = 0,
	MLF_IMAGE_JPEG,
	MLF_IMAGE_PNG,
};

struct mlf_image_info {
	enum mlf_image_format format;  /* from the file's magic bytes, not its name */
	int width, height;
	int channels;                  /* as stored: 1 grey, 3 RGB, 4 RGBA, ... */
};

/* Largest width or height accepted: bigger files are refused before allocating. */
#define MLF_IMAGE_MAX_SIDE 32768

/* Format from the first bytes of a file; MLF_IMAGE_UNKNOWN when neither. */
enum mlf_image_format mlf_image_sniff(const char *path);
const char *mlf_image_format_name(enum mlf_image_format f);  /* "jpeg", "png", "unknown" */

/* Decode the whole image to check it and report its size (status 65 when corrupt). */
int mlf_image_probe(const char *path, struct mlf_image_info *info, struct mlf_error *err);
/* Decode to RGB (grey and alpha converted; EXIF orientation is not applied). */
int mlf_image_load_rgb(const char *path, unsigned char **rgb, int *width, int *height,
		       struct mlf_error *err);
int mlf_image_save_jpeg(const char *path, const unsigned char *rgb, int width, int height,
			int quality, struct mlf_error *err);
int mlf_image_save_png(const char *path, const unsigned char *rgb, int width, int height,
		       struct mlf_error *err);

/*
 * Ultralytics dataset descriptions (data.yaml): the root, the class names,
 * and the images of each split.
 *
 * train/val may each be a folder (searched recursively for images), a .txt
 * file listing images (relative lines resolved against the .txt's folder),
 * or a list of those.  A relative `path` is resolved against the yaml's own
 * folder (Ultralytics would use its global datasets_dir; naming the folder
 * the file sits in is what an operator means).  Labels follow Ultralytics:
 * the last "/images/" of the image path becomes "/labels/", the extension ".txt".
 *
 * Ownership: the struct owns all its strings; mlf_data_yaml_release().
 */

struct mlf_image_list {
	char **paths;  /* absolute, sorted */
	size_t n;
};

struct mlf_data_yaml {
	char *file;                     /* absolute path of the yaml */
	char *root;                     /* absolute dataset root */
	struct mlf_class_names classes;
	struct mlf_image_list train;
	struct mlf_image_list val;
};

/* On failure *out is left empty (releasing it is harmless). */
int mlf_data_yaml_load(const char *path, struct mlf_data_yaml *out, struct mlf_error *err);
void mlf_data_yaml_release(struct mlf_data_yaml *d);

/* The label file Ultralytics reads for `image` (allocated). */
char *mlf_label_path_for(const char *image);
/* Image by extension: bmp, jpeg, jpg, png, tif, tiff, webp, ... (any case). */
int mlf_is_image_name(const char *name);

/*
 * Detection datasets as Ultralytics 8.4.190 reads them for training and
 * validation (ultralytics/data/dataset.py YOLODataset, data/utils.py
 * verify_image_label, data/base.py load_image and set_rectangle): the image
 * files of a split, their YOLO label files checked row by row, the stored
 * image sizes, loading an image resized so its long side is imgsz, and the
 * rectangular batch shapes of validation.
 *
 * Ownership: struct mlf_dataset owns its image paths and objects;
 * mlf_dataset_release() frees them.  A struct mlf_rgb_image owns its
 * pixels; mlf_rgb_image_release().  Problems found while scanning (images
 * left out, duplicate rows removed) go to the caller's struct mlf_problems.
 * Errors: an unreadable list or a split without a single usable image is
 * status 65 (66 when the files are missing); corrupt images met later, while
 * loading, are 65 and name the file.
 */

/* One label row: class and box, normalised centre x, y and size. */
struct mlf_object {
	int cls;
	float cx, cy, w, h;
};

struct mlf_dataset_image {
	char *path;             /* absolute */
	int w, h;               /* upright: as stored, swapped for Exif orientations 5..8 */
	int orientation;        /* Exif orientation 1..8 (1: as stored) */
	size_t first, n;        /* its rows: objects[first .. first + n) */
};

struct mlf_dataset_options {
	int nc;                 /* number of classes; a label >= nc makes the image corrupt */
	int single_cls;         /* every class becomes 0 (Ultralytics single_cls) */
	int require_labels;     /* fail when no label file exists at all (Ultralytics' training split) */
	int threads;            /* scanning threads; 0: the online CPUs */
};

struct mlf_dataset {
	struct mlf_dataset_image *images;   /* in the list's (sorted) order, usable ones only */
	size_t n;
	struct mlf_object *objects;
	size_t nobjects;
	int nc;
	/* what the scan found, as Ultralytics' "Scanning ..." line counts it */
	size_t labels_found, labels_missing, labels_empty, corrupt, duplicates;
};

/*
 * Scan `list` (e.g. struct mlf_data_yaml's train or val): every image's
 * size from its header and its label file (mlf_label_path_for).  Images
 * whose header is unreadable, that are smaller than 10 pixels, JPEGs cut
 * short (no end marker; Ultralytics rewrites such files in place, we leave
 * them out and say so) and images whose labels break a rule are left out
 * with a problem each; a missing or empty label file is a background image
 * and kept.  0, or -1 when nothing usable is left.
 */
int mlf_dataset_open(struct mlf_dataset *ds, const struct mlf_image_list *list,
		     const struct mlf_dataset_options *o, struct mlf_problems *problems,
		     struct mlf_error *err);
void mlf_dataset_release(struct mlf_dataset *ds);

/*
 * One label file's text, checked as verify_image_label does: rows of
 * "class cx cy w h" split on white space (a UTF-8 byte-order mark and blank
 * lines ignored); rows of more than 6 numbers are polygons "class x1 y1 x2
 * y2 ..." whose box is their extent (no 5-number rows may then appear);
 * every value a number, coordinates <= 1.01, values >= 0 (or >= -0.01 with
 * non-negative w and h), integer classes < nc (all 0 with single_cls);
 * repeated rows are dropped, which leaves the rows sorted as np.unique does.
 * *objs is allocated (free()); *n may be 0.  0, or -1 with the reason in
 * `why` ("labels require 5 columns, 6 columns detected").
 */
int mlf_labels_parse(const char *text, size_t len, int nc, int single_cls, struct mlf_object **objs,
		     size_t *n, size_t *duplicates, char *why, size_t why_len);

/* Width and height as stored, from a JPEG's or PNG's header (nothing
 * decoded), and its Exif orientation (1..8; 1 when none).  A JPEG that does
 * not end with its end-of-image marker fails (status 65). */
int mlf_image_header_size(const char *path, int *w, int *h, int *orientation, struct mlf_error *err);

/* 8-bit RGB pixels, row-major, 3 bytes a pixel, no padding. */
struct mlf_rgb_image {
	unsigned char *px;
	int w, h;
};

void mlf_rgb_image_release(struct mlf_rgb_image *im);

/* load_image's size: long side imgsz, r = imgsz / max(w0, h0), each side
 * min(ceil(side * r), imgsz); unchanged when r is 1. */
void mlf_resized_size(int w0, int h0, int imgsz, int *w, int *h);

/*
 * Image i decoded, turned upright by its Exif orientation (as cv2.imdecode
 * does), and resized as load_image does for training and for validation
 * alike (8.4.190 uses INTER_LINEAR for both, bit for bit as cv2.resize).
 * The size found in the file must be the one the scan read, else the file
 * changed: status 65.
 */
int mlf_dataset_load_image(const struct mlf_dataset *ds, size_t i, int imgsz, struct mlf_rgb_image *out,
			   struct mlf_error *err);

/*
 * Validation's rectangular batches (set_rectangle): `order` (n entries)
 * receives the image indices sorted by aspect ratio h/w (stable: equal ratios
 * keep the list order; numpy's quicksort may order them otherwise, which
 * changes no shape), shapes[b] the [h, w] of batch b, for
 * ceil(n / batch) batches: ceil(shape * imgsz / stride + pad) * stride with
 * shape [max, 1] when every ratio of the batch is below 1, [1, 1 / min] when
 * every one is above 1, else [1, 1].
 */
void mlf_rect_shapes(const int *w, const int *h, size_t n, int batch, int imgsz, int stride, double pad,
		     size_t *order, int (*shapes)[2]);

/*
 * Training augmentation as Ultralytics 8.4.190 applies it to detection
 * samples (ultralytics/data/augment.py v8_transforms): Mosaic, then
 * RandomPerspective, RandomHSV, vertical and horizontal flips.  The pieces
 * here are pure functions over one image and its boxes; struct mlf_loader
 * strings them together per sample (lib/data/data_sample.c).
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
 * lib/data/data_warp.c).  Set MLF_NO_SIMD=1 to keep to the portable code.
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

/*
 * Batches for training and validation, made on worker threads, handed out
 * in order: Ultralytics 8.4.190's YOLODataset + InfiniteDataLoader +
 * collate_fn, in C.
 *
 * Training (MLF_LOADER_TRAIN): per epoch a seeded permutation of the images
 * (shuffle) or the list order; each sample is Mosaic -> RandomPerspective ->
 * RandomHSV -> flips (lib/data/data_sample.c), imgsz x imgsz.  Mosaic is off for
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
 * lib/data/data_sample.c for the window rule), never from what a thread happened
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
