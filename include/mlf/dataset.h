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
#ifndef MLF_DATASET_H
#define MLF_DATASET_H

#include <stddef.h>

#include "mlf/datayaml.h"
#include "mlf/error.h"
#include "mlf/problems.h"

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

#endif
