/*
 * Human corrections, read from a folder holding any mix of:
 *
 *   native   *.json with "format": "mlf.correction" (version 1; retrain-prep(1)):
 *            one file per image, the complete corrected set of boxes in pixels
 *   yolo     images with a .txt label file of the same stem (class cx cy w h,
 *            normalised), beside the image or in a parallel labels/ folder
 *   coco     a COCO detection JSON (images, annotations with bbox [x,y,w,h] in
 *            pixels, categories)
 *   labelstudio  a Label Studio JSON export (tasks with rectanglelabels results
 *            in percent of original_width/original_height)
 *
 * Reading checks structure only: JSON syntax, required fields and their
 * types, class names and ids known to `classes`, image paths that stay
 * inside the folder.  Whether the image decodes, its real size and whether
 * the boxes fit are checked by the dataset builder, which decodes images.
 * Every problem is collected in `problems` (file, field, message); a
 * correction with a problem is left out of the set.
 *
 * Ownership: the set owns everything in it; mlf_correction_set_release().
 * `classes` is borrowed.
 */
#ifndef MLF_CORRECTIONS_H
#define MLF_CORRECTIONS_H

#include <jansson.h>
#include <stddef.h>

#include "mlf/base.h"

struct mlf_class_names {
	char **names;   /* index = class id */
	size_t n;
};

void mlf_class_names_release(struct mlf_class_names *c);
/* Class id of `name`, or -1. */
int mlf_class_names_find(const struct mlf_class_names *c, const char *name);

struct mlf_box {
	int class_id;
	/* Corners: pixels, or fractions of the image size when the correction is
	 * `normalized` (YOLO labels, Label Studio percentages / 100). */
	double x1, y1, x2, y2;
};

struct mlf_correction {
	char *source;          /* the file it came from, relative to the corrections folder */
	char *source_sha256;   /* of that file's bytes (for a COCO/Label Studio export:
				  of the whole export; `source_index` tells which entry) */
	long source_index;     /* entry in a multi-image export; -1 for one-file corrections */
	char *format;          /* "mlf", "yolo", "coco", "labelstudio" */
	char *image;           /* absolute path of the image */
	int declared_width;    /* as the source states it; 0 when it does not */
	int declared_height;
	int normalized;        /* boxes in 0..1 of the image size instead of pixels */
	struct mlf_box *boxes; /* the complete corrected set; none = "no objects" */
	size_t nboxes;
	char *corrected_by;    /* may be NULL */
	char *corrected_at;    /* RFC 3339 text as given, may be NULL */
	json_t *prediction;    /* native format's optional "prediction", as given, or NULL */
};

/*
 * The largest correction file read (a native, COCO or Label Studio JSON file,
 * or a YOLO label file): 16 MiB.  A larger one is a problem ("split the
 * export") and is not parsed, so that memory stays bounded: a JSON document
 * takes some 25 times its size in memory once parsed.
 */
#define MLF_CORRECTION_MAX_BYTES (16L << 20)

struct mlf_correction_set {
	struct mlf_correction *items;
	size_t n;
};

void mlf_correction_set_release(struct mlf_correction_set *s);

/*
 * Read every correction under `root` (recursively; hidden files and folders
 * skipped).  Returns 0 with problems possibly listed, or -1 when the folder
 * itself cannot be read.  Order is deterministic (sorted by source, then index).
 */
int mlf_corrections_load(const char *root, const struct mlf_class_names *classes,
			 struct mlf_correction_set *out, struct mlf_problems *problems,
			 struct mlf_error *err);

#endif
